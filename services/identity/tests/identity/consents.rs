//! Consented helpers over real gRPC, PostgreSQL and the outbox: a villager consents, the helper
//! gets a delegated token that names both people, every change is audited with both identities,
//! and withdrawal or expiry stops new tokens at once.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use terrace_identity::Identity;
use terrace_identity::domain::phone::PhoneNumber;
use terrace_identity::users::{self, NewUser};
use terrace_identity::{consents, grants};
use terrace_platform::auth::{KeySource, PrincipalKind, Role, RoleGrant, Verifier};
use terrace_platform::clock::ManualClock;
use terrace_platform::config::AuthSettings;
use terrace_platform::service::ServiceDef;
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::{reason, request_id, violated_fields};
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

/// The villager's village, another village of the same township, and a village elsewhere.
const VILLAGE: &str = "110101001001";
const NEIGHBOUR: &str = "110101001002";
const ELSEWHERE: &str = "120101001001";

const SCOPE: &str = "market.listings:write";

fn ts(time: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap(),
    }
}

/// A verifier as another service in another process has one: identity's JWKS over HTTP.
fn identity_verifier(app: &TestApp) -> Verifier {
    let url = format!("http://{}/.well-known/jwks.json", app.http_addr);
    let auth = AuthSettings {
        jwks_url: Some(url.clone()),
        ..app.settings.auth.clone()
    };
    Verifier::new(&auth, KeySource::Url(url))
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

/// Rows that any consent change touches: consents, their events, the audit trail.
async fn footprint(app: &TestApp) -> (i64, i64, i64, i64) {
    let db = &app.ctx.database("identity").await;
    (
        count(db, "SELECT count(*) AS n FROM consents").await,
        count(
            db,
            "SELECT count(*) AS n FROM consents WHERE withdrawn_at IS NOT NULL",
        )
        .await,
        terrace_testkit::events::published(app, "identity", "identity.consent.*").await as i64,
        count(
            db,
            "SELECT count(*) AS n FROM audit_records WHERE action LIKE 'consent.%'",
        )
        .await,
    )
}

/// Consents made: rows, `identity.consent.granted` events, `consent.granted` audit records.
async fn granted(app: &TestApp) -> (i64, i64, i64) {
    let db = &app.ctx.database("identity").await;
    (
        count(db, "SELECT count(*) AS n FROM consents").await,
        terrace_testkit::events::published(app, "identity", "identity.consent.granted").await
            as i64,
        count(
            db,
            "SELECT count(*) AS n FROM audit_records WHERE action = 'consent.granted'",
        )
        .await,
    )
}

/// What a villager proposes: `helper` may list for them for `minutes` from now (the services'
/// clock's now).
fn proposal(clock: &ManualClock, helper: Uuid, minutes: i64) -> pb::Consent {
    pb::Consent {
        helper_user_id: helper.to_string(),
        scopes: vec![SCOPE.to_owned()],
        end_time: Some(ts(clock.now() + chrono::Duration::minutes(minutes))),
        note: "helps list apples during harvest".to_owned(),
        ..Default::default()
    }
}

/// A person: their id and a token with the same grants as stored.
struct Person {
    id: Uuid,
    token: String,
}

struct World {
    app: TestApp,
    db: DatabaseConnection,
    client: IdentityServiceClient<Channel>,
}

impl World {
    async fn new() -> Self {
        let app = TestApp::spawn(&[ServiceDef::of::<Identity>()]).await;
        let db = app.ctx.database("identity").await;
        let client = IdentityServiceClient::new(app.channel().await);
        Self { app, db, client }
    }

    /// A user holding `role` in `area`, stored and with a token saying so.
    async fn person(&self, name: &str, role: Role, area: &str) -> Person {
        let phone = format!("+86137{:08}", rand::random::<u32>() % 100_000_000);
        let user = users::insert(
            &self.db,
            NewUser {
                phone: &PhoneNumber::parse(&phone).unwrap(),
                display_name: name,
                locale: "zh-CN",
                time_zone: "Asia/Shanghai",
                password_hash: None,
                created_by: None,
                email: None,
                created_by_request: None,
                created_at: self.app.clock.now(),
            },
        )
        .await
        .unwrap()
        .unwrap();
        grants::Grants::on(self.db.clone(), "test".to_owned(), self.app.clock.clock())
            .give_now(
                &terrace_platform::auth::Caller::operator("test"),
                grants::Give {
                    user_id: user.id,
                    grant: &RoleGrant::parse(role, area).unwrap(),
                    expires_at: None,
                    reason: "test",
                    api_scope: None,
                    request: None,
                },
            )
            .await
            .unwrap();
        let token = self.app.token(&user.id.to_string(), &[(role, area)]);
        Person { id: user.id, token }
    }

    /// A villager of [`VILLAGE`] and an official of [`NEIGHBOUR`] who may help them.
    async fn villager_and_helper(&self) -> (Person, Person) {
        (
            self.person("王大妈", Role::Resident, VILLAGE).await,
            self.person("李书记", Role::VillageOfficial, NEIGHBOUR)
                .await,
        )
    }

    async fn grant(&mut self, token: &str, consent: pb::Consent) -> Result<pb::Consent, Status> {
        let request = pb::GrantConsentRequest {
            request_id: request_id(),
            consent: Some(consent),
        };
        self.grant_with(token, request).await
    }

    async fn grant_with(
        &mut self,
        token: &str,
        request: pb::GrantConsentRequest,
    ) -> Result<pb::Consent, Status> {
        self.client
            .grant_consent(self.app.request(request, token))
            .await
            .map(|r| r.into_inner().consent.unwrap())
    }

    async fn list(&mut self, token: &str, inactive: bool) -> Result<Vec<pb::Consent>, Status> {
        let request = pb::ListConsentsRequest {
            include_inactive: inactive,
            ..Default::default()
        };
        self.client
            .list_consents(self.app.request(request, token))
            .await
            .map(|r| r.into_inner().consents)
    }

    async fn withdraw(&mut self, token: &str, id: &str) -> Result<pb::Consent, Status> {
        let request = pb::WithdrawConsentRequest {
            request_id: request_id(),
            consent_id: id.to_owned(),
            reason: "harvest is over".to_owned(),
        };
        self.withdraw_with(token, request).await
    }

    async fn withdraw_with(
        &mut self,
        token: &str,
        request: pb::WithdrawConsentRequest,
    ) -> Result<pb::Consent, Status> {
        self.client
            .withdraw_consent(self.app.request(request, token))
            .await
            .map(|r| r.into_inner().consent.unwrap())
    }

    async fn delegate(&mut self, token: &str, id: &str) -> Result<pb::TokenPair, Status> {
        let request = pb::IssueDelegatedTokenRequest {
            request_id: request_id(),
            consent_id: id.to_owned(),
            client_description: "helper app".to_owned(),
        };
        self.delegate_with(token, request).await
    }

    async fn delegate_with(
        &mut self,
        token: &str,
        request: pb::IssueDelegatedTokenRequest,
    ) -> Result<pb::TokenPair, Status> {
        self.client
            .issue_delegated_token(self.app.request(request, token))
            .await
            .map(|r| r.into_inner().tokens.unwrap())
    }

    /// A token of `helper` acting for `villager`, as identity issues them.
    fn helper_token(&self, villager: &Person, helper: &Person) -> String {
        self.app
            .issuer
            .build(&villager.id.to_string())
            .grants(&[(Role::Resident, VILLAGE)])
            .actor(&helper.id.to_string())
            .sign()
    }

    fn agency_token(&self) -> String {
        self.app
            .issuer
            .build(&Uuid::now_v7().to_string())
            .agency(&["identity.consents:write"])
            .grants(&[(Role::CountyAdmin, "110101")])
            .sign()
    }
}

#[tokio::test]
async fn a_helper_acts_for_the_villager_under_a_consent_with_both_identities() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let second = w.person("张干部", Role::VillageOfficial, NEIGHBOUR).await;

    let consent = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 60))
        .await
        .unwrap();
    assert_eq!(consent.grantor_user_id, villager.id.to_string());
    assert_eq!(consent.helper_user_id, helper.id.to_string());
    assert_eq!(consent.status, pb::ConsentStatus::Active as i32);
    assert_eq!(consent.scopes, vec![SCOPE.to_owned()]);
    assert!(!consent.witnessed);
    assert_eq!(
        consent.recorded_by.as_ref().unwrap().user_id,
        villager.id.to_string()
    );
    assert_eq!(footprint(&w.app).await, (1, 0, 1, 1));

    // The helper, as themself, gets a token acting for the villager.
    let tokens = w.delegate(&helper.token, &consent.id).await.unwrap();
    assert!(tokens.refresh_token.is_empty());
    let principal = identity_verifier(&w.app)
        .verify(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(principal.subject, villager.id.to_string());
    assert_eq!(
        principal.actor.as_deref(),
        Some(helper.id.to_string().as_str())
    );
    assert_eq!(principal.kind, PrincipalKind::User);
    assert_eq!(principal.api_scopes, vec![SCOPE.to_owned()]);
    assert_eq!(
        principal.grants,
        vec![RoleGrant::parse(Role::Resident, VILLAGE).unwrap()]
    );
    assert!(principal.expires_at <= w.app.clock.now() + chrono::Duration::minutes(15));
    // Issuing it is audited with both people.
    assert_eq!(
        count(
            &w.db,
            &format!(
                "SELECT count(*) AS n FROM audit_records WHERE action = 'consent.token_issued' \
                 AND actor_id = '{}' AND on_behalf_of = '{}' AND target_user = '{}'",
                helper.id, villager.id, villager.id
            ),
        )
        .await,
        1
    );

    // A delegated token cannot mint more consents nor chain another delegation.
    let as_helper = w.helper_token(&villager, &helper);
    let refused = w
        .grant(&as_helper, proposal(&w.app.clock, second.id, 60))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "DELEGATED_TOKEN");

    // The villager sees the consent; so does the helper.
    let seen = w.list(&villager.token, false).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, consent.id);
    assert_eq!(w.list(&helper.token, false).await.unwrap().len(), 1);

    // An action done by the helper for the villager records both: withdrawing a second consent
    // with the helper's delegated token (the identity RPC that audits what a principal does).
    let other = w
        .grant(&villager.token, proposal(&w.app.clock, second.id, 60))
        .await
        .unwrap();
    let as_second = w.helper_token(&villager, &second);
    let withdrawn = w.withdraw(&as_second, &other.id).await.unwrap();
    assert_eq!(withdrawn.status, pb::ConsentStatus::Withdrawn as i32);
    assert_eq!(
        withdrawn.withdrawn_by.unwrap().user_id,
        second.id.to_string()
    );
    assert_eq!(
        count(
            &w.db,
            &format!(
                "SELECT count(*) AS n FROM audit_records WHERE action = 'consent.withdrawn' \
                 AND actor_id = '{}' AND on_behalf_of = '{}'",
                second.id, villager.id
            ),
        )
        .await,
        1
    );

    // The villager withdraws the first; no more delegated tokens under it.
    let withdrawn = w.withdraw(&villager.token, &consent.id).await.unwrap();
    assert_eq!(withdrawn.status, pb::ConsentStatus::Withdrawn as i32);
    assert!(withdrawn.withdraw_time.is_some());
    let refused = w.delegate(&helper.token, &consent.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CONSENT_NOT_ACTIVE");
    let again = w.withdraw(&villager.token, &consent.id).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "CONSENT_WITHDRAWN");

    assert!(w.list(&villager.token, false).await.unwrap().is_empty());
    assert_eq!(w.list(&villager.token, true).await.unwrap().len(), 2);
    // 2 consents, both withdrawn, 4 events (2 granted, 2 withdrawn), 5 audit records (+ token).
    assert_eq!(footprint(&w.app).await, (2, 2, 4, 5));
    assert_eq!(
        terrace_testkit::events::published(&w.app, "identity", "identity.consent.withdrawn").await,
        2
    );
}

#[tokio::test]
async fn an_expired_consent_gives_no_token_and_the_job_announces_it_once() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let consent = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 2))
        .await
        .unwrap();
    // While it lasts, the token lives no longer than the consent.
    let tokens = w.delegate(&helper.token, &consent.id).await.unwrap();
    let expiry = tokens.access_token_expire_time.unwrap();
    assert!(expiry.seconds <= consent.end_time.unwrap().seconds);
    assert_eq!(expired_events(&w.app).await, 0, "not before its end");

    // The job's first run (at the start of the service) has ended: a run in flight while the
    // clock moves would end after the move and so not be due again for a minute.
    terrace_testkit::jobs::settled(&w.db, consents::EXPIRY_JOB.job, 1).await;
    let runs = terrace_testkit::jobs::runs(&w.db, consents::EXPIRY_JOB.job).await;

    // Its end passes on the services' clock.
    w.app.clock.advance(Duration::from_secs(3 * 60));
    let refused = w.delegate(&helper.token, &consent.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CONSENT_NOT_ACTIVE");
    let refused = w.withdraw(&villager.token, &consent.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CONSENT_EXPIRED");
    assert!(w.list(&villager.token, false).await.unwrap().is_empty());
    let all = w.list(&villager.token, true).await.unwrap();
    assert_eq!(all[0].status, pb::ConsentStatus::Expired as i32);

    // The expiry job, due on the moved clock, publishes `identity.consent.expired`, audited.
    // Its run after the move may have met the refusals above holding the consent's row and
    // passed it by (`SKIP LOCKED`); the run a minute later, which starts after them, cannot.
    terrace_testkit::jobs::settled(&w.db, consents::EXPIRY_JOB.job, runs + 1).await;
    w.app.clock.advance(Duration::from_secs(61));
    terrace_testkit::jobs::settled(&w.db, consents::EXPIRY_JOB.job, runs + 2).await;
    assert_eq!(expired_events(&w.app).await, 1);
    let expired = format!(
        "SELECT count(*) AS n FROM audit_records WHERE action = 'consent.expired' \
         AND target_user = '{}' AND actor_id = 'system:{}'",
        villager.id,
        consents::EXPIRY_JOB.job
    );
    assert_eq!(count(&w.db, &expired).await, 1);
    // Once: its next run, a minute later on the clock, announces nothing more.
    w.app.clock.advance(Duration::from_secs(61));
    terrace_testkit::jobs::settled(&w.db, consents::EXPIRY_JOB.job, runs + 3).await;
    assert_eq!(expired_events(&w.app).await, 1);
    assert_eq!(count(&w.db, &expired).await, 1);
}

/// `identity.consent.expired` events written so far.
async fn expired_events(app: &TestApp) -> i64 {
    terrace_testkit::events::published(app, "identity", "identity.consent.expired").await as i64
}

#[tokio::test]
async fn bad_requests_get_specific_errors_and_change_nothing() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let plain = w.person("赵敏", Role::Resident, VILLAGE).await;
    let existing = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 60))
        .await
        .unwrap();
    let before = footprint(&w.app).await;
    let now = w.app.clock.now();

    type Change = fn(&mut pb::Consent, Uuid, Uuid);
    let invalid: [(&str, Change, &str); 10] = [
        (
            "no helper",
            |c, _, _| c.helper_user_id.clear(),
            "consent.helper_user_id",
        ),
        (
            "malformed helper",
            |c, _, _| c.helper_user_id = "x".into(),
            "consent.helper_user_id",
        ),
        (
            "helper is the villager",
            |c, v, _| c.helper_user_id = v.to_string(),
            "consent.helper_user_id",
        ),
        ("no scopes", |c, _, _| c.scopes.clear(), "consent.scopes"),
        (
            "malformed scope",
            |c, _, _| c.scopes = vec!["everything".into()],
            "consent.scopes[0]",
        ),
        ("no end", |c, _, _| c.end_time = None, "consent.end_time"),
        (
            "end in the past",
            |c, _, _| c.end_time.as_mut().unwrap().seconds -= 61 * 60,
            "consent.end_time",
        ),
        (
            "longer than a year",
            |c, _, _| c.end_time.as_mut().unwrap().seconds += 400 * 86_400,
            "consent.end_time",
        ),
        (
            "villager claims witnessed",
            |c, _, _| c.witnessed = true,
            "consent.witnessed",
        ),
        (
            "control characters in the note",
            |c, _, _| c.note = "a\u{0007}b".into(),
            "consent.note",
        ),
    ];
    for (case, change, field) in invalid {
        let mut consent = proposal(&w.app.clock, helper.id, 60);
        change(&mut consent, villager.id, helper.id);
        let refused = w.grant(&villager.token, consent).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{case}");
        assert_eq!(violated_fields(&refused), vec![field.to_owned()], "{case}");
    }
    // End before start.
    let mut consent = proposal(&w.app.clock, helper.id, 60);
    consent.start_time = Some(ts(now + chrono::Duration::hours(3)));
    let refused = w.grant(&villager.token, consent).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        vec!["consent.end_time".to_owned()]
    );
    // No consent at all, no request id.
    let refused = w
        .grant_with(&villager.token, pb::GrantConsentRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        vec!["request_id".to_owned(), "consent".to_owned()]
    );

    // Unknown helper.
    let refused = w
        .grant(&villager.token, proposal(&w.app.clock, Uuid::now_v7(), 60))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    // A helper who is neither an official nor a digital helper.
    let refused = w
        .grant(&villager.token, proposal(&w.app.clock, plain.id, 60))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "HELPER_NOT_ELIGIBLE");
    // A second live consent for the same pair and an overlapping period.
    let refused = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 30))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "CONSENT_OVERLAPS");
    // A disabled helper.
    w.db.execute_raw(Statement::from_string(
        w.db.get_database_backend(),
        format!(
            "UPDATE users SET status = 'disabled' WHERE id = '{}'",
            helper.id
        ),
    ))
    .await
    .unwrap();
    let refused = w
        .grant(
            &villager.token,
            proposal(&w.app.clock, helper.id, 60 * 24 * 2),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "HELPER_NOT_ACTIVE");

    // Malformed ids and request ids elsewhere.
    let refused = w.withdraw(&villager.token, "nope").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), vec!["consent_id".to_owned()]);
    let refused = w.delegate(&helper.token, "nope").await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&refused), vec!["consent_id".to_owned()]);
    let refused = w
        .withdraw(&villager.token, &Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    // The platform's page policy judges the size first: a negative one is refused with the page
    // token unread, so the two are tried one at a time.
    for (page, field) in [((-1, ""), "page.page_size"), ((0, "x"), "page.page_token")] {
        let refused = w
            .client
            .list_consents(w.app.request(
                pb::ListConsentsRequest {
                    grantor_user_id: "x".into(),
                    page: Some(terrace_proto::common::v1::PageRequest {
                        page_size: page.0,
                        page_token: page.1.into(),
                    }),
                    ..Default::default()
                },
                &villager.token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(
            violated_fields(&refused),
            vec!["grantor_user_id".to_owned(), field.to_owned()]
        );
    }
    // A disabled helper's token for an existing consent still finds it, but the villager's
    // account state is what matters for delegation: lock the villager.
    for (status, id) in [("active", helper.id), ("disabled", villager.id)] {
        w.db.execute_raw(Statement::from_string(
            w.db.get_database_backend(),
            format!("UPDATE users SET status = '{status}' WHERE id = '{id}'"),
        ))
        .await
        .unwrap();
    }
    let refused = w.delegate(&helper.token, &existing.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "VILLAGER_UNAVAILABLE");

    assert_eq!(footprint(&w.app).await, before);
}

/// Who may do what, written out by hand.
#[tokio::test]
async fn authorization_matrix_over_the_consent_rpcs() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let other = w.person("赵敏", Role::Resident, VILLAGE).await;
    let official_in = w.person("陈主任", Role::VillageOfficial, VILLAGE).await;
    let official_out = w.person("周主任", Role::VillageOfficial, ELSEWHERE).await;
    let spare: Vec<Person> = {
        let mut spare = Vec::new();
        for name in ["一", "二", "三", "四", "五"] {
            spare.push(w.person(name, Role::VillageOfficial, NEIGHBOUR).await);
        }
        spare
    };
    let as_helper = w.helper_token(&villager, &helper);
    let agency = w.agency_token();
    let base = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 60))
        .await
        .unwrap();

    // --- GrantConsent. The villager for themself; an official of the villager's village for a
    // witnessed in-person consent; nobody else.
    let clock = w.app.clock.clone();
    let witnessed = |helper: Uuid| pb::Consent {
        grantor_user_id: villager.id.to_string(),
        witnessed: true,
        ..proposal(&clock, helper, 60)
    };
    let before = footprint(&w.app).await;
    let grant_refusals: [(&str, &str, pb::Consent, Code, &str); 5] = [
        (
            "helper",
            &helper.token,
            witnessed(spare[0].id),
            Code::PermissionDenied,
            "OUT_OF_SCOPE",
        ),
        (
            "other user",
            &other.token,
            witnessed(spare[0].id),
            Code::PermissionDenied,
            "OUT_OF_SCOPE",
        ),
        (
            "official out of scope",
            &official_out.token,
            witnessed(spare[0].id),
            Code::PermissionDenied,
            "OUT_OF_SCOPE",
        ),
        (
            "agency",
            &agency,
            witnessed(spare[0].id),
            Code::PermissionDenied,
            "NOT_A_USER",
        ),
        (
            "helper token",
            &as_helper,
            proposal(&w.app.clock, spare[0].id, 60),
            Code::PermissionDenied,
            "DELEGATED_TOKEN",
        ),
    ];
    for (caller, token, consent, code, why) in grant_refusals {
        let refused = w.grant(token, consent).await.unwrap_err();
        assert_eq!(refused.code(), code, "GrantConsent by {caller}");
        assert_eq!(reason(&refused), why, "GrantConsent by {caller}");
    }
    // An official naming themself as helper is bad input.
    let refused = w
        .grant(&official_in.token, witnessed(official_in.id))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(footprint(&w.app).await, before);
    let recorded = w
        .grant(&official_in.token, witnessed(spare[0].id))
        .await
        .unwrap();
    assert!(recorded.witnessed);
    assert_eq!(recorded.grantor_user_id, villager.id.to_string());
    assert_eq!(
        recorded.recorded_by.unwrap().user_id,
        official_in.id.to_string()
    );
    let own = w
        .grant(&villager.token, proposal(&w.app.clock, spare[1].id, 60))
        .await
        .unwrap();
    assert_eq!(own.grantor_user_id, villager.id.to_string());

    // --- ListConsents: does the caller see the base consent?
    let list_cases: [(&str, &str, Result<bool, Code>); 7] = [
        ("villager", &villager.token, Ok(true)),
        ("helper", &helper.token, Ok(true)),
        ("other user", &other.token, Ok(false)),
        ("official in scope", &official_in.token, Ok(true)),
        ("official out of scope", &official_out.token, Ok(false)),
        ("agency", &agency, Err(Code::PermissionDenied)),
        ("helper token", &as_helper, Ok(true)),
    ];
    for (caller, token, expected) in list_cases {
        let seen = w
            .list(token, false)
            .await
            .map(|consents| consents.iter().any(|c| c.id == base.id))
            .map_err(|status| status.code());
        assert_eq!(seen, expected, "ListConsents by {caller}");
    }

    // --- IssueDelegatedToken under the base consent: only its helper, as themself.
    let before = footprint(&w.app).await;
    let delegate_cases: [(&str, &str, Result<(), Code>); 7] = [
        ("villager", &villager.token, Err(Code::NotFound)),
        ("helper", &helper.token, Ok(())),
        ("other user", &other.token, Err(Code::NotFound)),
        ("official in scope", &official_in.token, Err(Code::NotFound)),
        (
            "official out of scope",
            &official_out.token,
            Err(Code::NotFound),
        ),
        ("agency", &agency, Err(Code::PermissionDenied)),
        ("helper token", &as_helper, Err(Code::PermissionDenied)),
    ];
    for (caller, token, expected) in delegate_cases {
        let outcome = w
            .delegate(token, &base.id)
            .await
            .map(|_| ())
            .map_err(|status| status.code());
        assert_eq!(outcome, expected, "IssueDelegatedToken by {caller}");
    }
    let after = footprint(&w.app).await;
    // Only the helper's success is audited.
    assert_eq!(after, (before.0, before.1, before.2, before.3 + 1));

    // --- WithdrawConsent: refusals on the base consent first, which must change nothing.
    let before = footprint(&w.app).await;
    let withdraw_refusals: [(&str, &str, Code); 3] = [
        ("other user", &other.token, Code::NotFound),
        ("official out of scope", &official_out.token, Code::NotFound),
        ("agency", &agency, Code::PermissionDenied),
    ];
    for (caller, token, code) in withdraw_refusals {
        let refused = w.withdraw(token, &base.id).await.unwrap_err();
        assert_eq!(refused.code(), code, "WithdrawConsent by {caller}");
    }
    assert_eq!(footprint(&w.app).await, before);
    // Then each permitted caller withdraws a consent of their own.
    let by_official = w
        .grant(&villager.token, proposal(&w.app.clock, spare[2].id, 60))
        .await
        .unwrap();
    let by_helper_token = w
        .grant(&villager.token, proposal(&w.app.clock, spare[3].id, 60))
        .await
        .unwrap();
    // A helper acting for the villager cannot withdraw the villager's consent to someone else.
    let refused = w
        .withdraw(&as_helper, &by_helper_token.id)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    let allowed: [(&str, &str, &str); 4] = [
        ("villager", &villager.token, &own.id),
        ("helper", &helper.token, &base.id),
        ("official in scope", &official_in.token, &by_official.id),
        (
            "villager, the other helper's",
            &villager.token,
            &by_helper_token.id,
        ),
    ];
    for (caller, token, id) in allowed {
        let withdrawn = w.withdraw(token, id).await;
        assert!(
            withdrawn.is_ok(),
            "WithdrawConsent by {caller}: {withdrawn:?}"
        );
    }
}

#[tokio::test]
async fn a_retried_grant_gets_its_first_answer_and_makes_one_consent() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let id = request_id();
    let request = |consent: pb::Consent| pb::GrantConsentRequest {
        request_id: id.clone(),
        consent: Some(consent),
    };
    let asked = proposal(&w.app.clock, helper.id, 5);
    let first = w
        .grant_with(&villager.token, request(asked.clone()))
        .await
        .unwrap();
    assert_eq!(first.status, pb::ConsentStatus::Active as i32);
    // The consent remembers the request that made it, keyed by its caller.
    let made_by = format!(
        "SELECT count(*) AS n FROM consents WHERE request_id = '{id}' AND caller_key = 'user:{}'",
        villager.id
    );
    assert_eq!(count(&w.db, &made_by).await, 1);
    // Retried after the consent ended: the first answer, as it was, and nothing done twice.
    w.app.clock.advance(Duration::from_secs(10 * 60));
    let again = w.grant_with(&villager.token, request(asked)).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(granted(&w.app).await, (1, 1, 1));
    // The same request id for something else is refused.
    let other = request(proposal(&w.app.clock, helper.id, 90));
    let refused = w
        .grant_with(&villager.token, other.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    // Another caller's request with the same id is theirs: a consent of their own.
    let neighbour = w.person("赵敏", Role::Resident, VILLAGE).await;
    let theirs = w.grant_with(&neighbour.token, other).await.unwrap();
    assert_ne!(theirs.id, first.id);
    assert_eq!(theirs.grantor_user_id, neighbour.id.to_string());
    assert_eq!(granted(&w.app).await, (2, 2, 2));
}

#[tokio::test]
async fn a_grant_retried_after_the_log_was_pruned_finds_its_consent_as_it_now_is() {
    use terrace_platform::idempotency::{RETENTION, prune};

    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let request = pb::GrantConsentRequest {
        request_id: request_id(),
        consent: Some(proposal(&w.app.clock, helper.id, 24 * 60)),
    };
    let first = w
        .grant_with(&villager.token, request.clone())
        .await
        .unwrap();
    assert_eq!(first.status, pb::ConsentStatus::Active as i32);

    // The phone was offline past the log's retention, and the log was pruned.
    w.app.clock.advance(RETENTION + Duration::from_secs(86_400));
    prune(&w.db, w.app.clock.now(), RETENTION).await.unwrap();
    let logged = format!(
        "SELECT count(*) AS n FROM idempotency WHERE request_id = '{}'",
        request.request_id
    );
    assert_eq!(count(&w.db, &logged).await, 0, "the log forgot the request");

    // Its retry (with a token of today) finds the consent it made, ended since, and makes none.
    let token = w
        .app
        .token(&villager.id.to_string(), &[(Role::Resident, VILLAGE)]);
    let again = w.grant_with(&token, request).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.status, pb::ConsentStatus::Expired as i32);
    assert_eq!(granted(&w.app).await, (1, 1, 1));
    assert_eq!(count(&w.db, &logged).await, 1, "answered again, and logged");
}

#[tokio::test]
async fn a_retried_withdrawal_gets_its_first_answer_and_withdraws_once() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let consent = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 60))
        .await
        .unwrap();
    let withdraw = pb::WithdrawConsentRequest {
        request_id: request_id(),
        consent_id: consent.id.clone(),
        reason: String::new(),
    };
    let first = w
        .withdraw_with(&villager.token, withdraw.clone())
        .await
        .unwrap();
    assert_eq!(first.status, pb::ConsentStatus::Withdrawn as i32);
    // A retry is answered as the first time, where a second withdrawal would be refused.
    w.app.clock.advance(Duration::from_secs(60));
    let again = w
        .withdraw_with(&villager.token, withdraw.clone())
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(footprint(&w.app).await, (1, 1, 2, 2));
    // The same request id for something else is refused.
    let other = pb::WithdrawConsentRequest {
        reason: "changed my mind".to_owned(),
        ..withdraw
    };
    let refused = w.withdraw_with(&villager.token, other).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    // A new request is a second withdrawal, and refused as one.
    let refused = w.withdraw(&villager.token, &consent.id).await.unwrap_err();
    assert_eq!(reason(&refused), "CONSENT_WITHDRAWN");
    assert_eq!(footprint(&w.app).await, (1, 1, 2, 2));
}

#[tokio::test]
async fn a_retried_delegated_token_request_gets_no_second_token() {
    let mut w = World::new().await;
    let (villager, helper) = w.villager_and_helper().await;
    let consent = w
        .grant(&villager.token, proposal(&w.app.clock, helper.id, 60))
        .await
        .unwrap();
    let issued = "SELECT count(*) AS n FROM audit_records WHERE action = 'consent.token_issued'";
    let ask = pb::IssueDelegatedTokenRequest {
        request_id: request_id(),
        consent_id: consent.id.clone(),
        client_description: "helper app".to_owned(),
    };
    let tokens = w.delegate_with(&helper.token, ask.clone()).await.unwrap();
    assert!(!tokens.access_token.is_empty());
    assert_eq!(count(&w.db, issued).await, 1);
    // The answer carried a token, shown once: a retry is told so, and gets no second one.
    let refused = w
        .delegate_with(&helper.token, ask.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "ANSWER_NOT_KEPT");
    assert!(
        refused.message().contains("new request_id"),
        "{}",
        refused.message()
    );
    assert_eq!(count(&w.db, issued).await, 1);
    // The same request id for something else is refused.
    let other = pb::IssueDelegatedTokenRequest {
        client_description: "another app".to_owned(),
        ..ask
    };
    let refused = w.delegate_with(&helper.token, other).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "REQUEST_ID_REUSED");
    // A new request id is a new request.
    w.delegate(&helper.token, &consent.id).await.unwrap();
    assert_eq!(count(&w.db, issued).await, 2);
}

#[tokio::test]
async fn lists_page_newest_first_and_filter() {
    let mut w = World::new().await;
    let villager = w.person("王大妈", Role::Resident, VILLAGE).await;
    let mut helpers = Vec::new();
    for name in ["一", "二", "三"] {
        helpers.push(w.person(name, Role::VillageOfficial, NEIGHBOUR).await);
    }
    let mut ids = Vec::new();
    for helper in &helpers {
        ids.push(
            w.grant(&villager.token, proposal(&w.app.clock, helper.id, 60))
                .await
                .unwrap()
                .id,
        );
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .client
            .list_consents(w.app.request(
                pb::ListConsentsRequest {
                    page: Some(terrace_proto::common::v1::PageRequest {
                        page_size: 2,
                        page_token: token.clone(),
                    }),
                    ..Default::default()
                },
                &villager.token,
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(page.consents.len() <= 2);
        seen.extend(page.consents.into_iter().map(|c| c.id));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let only = w
        .client
        .list_consents(w.app.request(
            pb::ListConsentsRequest {
                helper_user_id: helpers[1].id.to_string(),
                ..Default::default()
            },
            &villager.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .consents;
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].helper_user_id, helpers[1].id.to_string());
}

#[tokio::test]
async fn a_digital_helper_may_receive_a_consent_and_act_under_it() {
    let mut w = World::new().await;
    let villager = w.person("孙大娘", Role::Resident, VILLAGE).await;
    let volunteer = w.person("小孙", Role::DigitalHelper, VILLAGE).await;
    let consent = w
        .grant(&villager.token, proposal(&w.app.clock, volunteer.id, 30))
        .await
        .unwrap();
    let tokens = w.delegate(&volunteer.token, &consent.id).await.unwrap();
    let principal = identity_verifier(&w.app)
        .verify(&tokens.access_token)
        .await
        .unwrap();
    assert_eq!(principal.subject, villager.id.to_string());
    assert_eq!(
        principal.actor.as_deref(),
        Some(volunteer.id.to_string().as_str())
    );
    // The role gives the volunteer no powers of its own: no grants, no other villager.
    let farmer = w.person("周老汉", Role::Farmer, VILLAGE).await;
    let grant = pb::GrantRoleRequest {
        request_id: request_id(),
        grant: Some(pb::RoleGrant {
            user_id: farmer.id.to_string(),
            role: pb::Role::Resident as i32,
            scope: Some(terrace_proto::common::v1::AdminCode {
                code: VILLAGE.into(),
                level: terrace_proto::common::v1::AdminLevel::Village as i32,
            }),
            ..Default::default()
        }),
    };
    let status = w
        .client
        .grant_role(w.app.request(grant, &volunteer.token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}
