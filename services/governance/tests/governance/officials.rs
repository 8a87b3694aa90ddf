//! Who holds which role where (`people::grants`): identity's grants projected into governance,
//! asked whether someone governs an area and who its officials are; a revoked or expired grant
//! stops counting, a projection started late learns every grant from the state stream, and an
//! erased user leaves no grant behind.
//!
//! Grants are made through identity's own RPCs (CreateUser's first roles, GrantRole, RevokeRole).
//! There is no erase RPC yet: an erasure is the tombstone written through identity's outbox, as
//! identity's own state tests write it and its erase path will.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement, TransactionTrait as _};
use terrace_governance::Governance;
use terrace_governance::people::grants::{self, Official, holds_official_role, officials_of};
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::bus::consumer::{Consumer, ConsumerSpec};
use terrace_platform::bus::outbox;
use terrace_platform::service::ServiceDef;
use terrace_platform::validate::to_timestamp;
use terrace_proto::identity::v1 as identity;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::request_id;
use uuid::Uuid;

/// 余村, of 天荒坪镇, of 安吉县.
const VILLAGE: &str = "330523108204";
/// Another village of the same township.
const NEIGHBOUR: &str = "330523108201";
const TOWNSHIP: &str = "330523108";
const COUNTY: &str = "330523";

fn area(code: &str) -> AdminScope {
    AdminScope::parse(code).unwrap()
}

struct World {
    app: TestApp,
    /// Governance's database.
    db: DatabaseConnection,
    /// A platform admin's token (an account identity does not know: only its roles count).
    admin: String,
    channel: tonic::transport::Channel,
}

impl World {
    async fn new() -> Self {
        let services = [
            ServiceDef::of::<Governance>(),
            ServiceDef::of::<terrace_identity::Identity>(),
        ];
        let app = TestApp::spawn(&services).await;
        let db = app.ctx.database("governance").await;
        let admin = app.token(&Uuid::now_v7().to_string(), &[(Role::PlatformAdmin, "")]);
        let channel = app.channel().await;
        Self {
            app,
            db,
            admin,
            channel,
        }
    }

    /// A user created in identity with `roles`, once governance knows them and their grants.
    async fn user(&self, phone: &str, name: &str, roles: &[(Role, &str)]) -> Uuid {
        let user = self.app.seed_user(phone, name, roles).await;
        self.known(user.id, roles.len()).await;
        user.id
    }

    /// Waits until governance holds `user` and `grants` grants of theirs.
    async fn known(&self, user: Uuid, grants: usize) {
        eventually(
            "the user and their grants projected into governance",
            || async {
                let users = self
                    .count(&format!(
                        "SELECT count(*) AS n FROM known_users WHERE id = '{user}'"
                    ))
                    .await;
                let held = self
                    .count(&format!(
                        "SELECT count(*) AS n FROM known_grants WHERE user_id = '{user}'"
                    ))
                    .await;
                (users == 1 && held == i64::try_from(grants).unwrap()).then_some(())
            },
        )
        .await;
    }

    async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    fn identity(&self) -> IdentityServiceClient<tonic::transport::Channel> {
        IdentityServiceClient::new(self.channel.clone())
    }

    /// Identity's GrantRole, as the platform admin.
    async fn grant(
        &self,
        user: Uuid,
        role: Role,
        code: &str,
        expire_time: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Uuid {
        let request = identity::GrantRoleRequest {
            request_id: request_id(),
            grant: Some(identity::RoleGrant {
                user_id: user.to_string(),
                role: role.to_proto() as i32,
                scope: Some(area(code).to_proto()),
                expire_time: expire_time.map(to_timestamp),
                reason: "elected".into(),
                ..Default::default()
            }),
        };
        let grant = self
            .identity()
            .grant_role(self.app.request(request, &self.admin))
            .await
            .unwrap()
            .into_inner()
            .grant
            .unwrap();
        grant.id.parse().unwrap()
    }

    async fn holds(&self, user: Uuid, code: &str, min_rank: u8) -> bool {
        holds_official_role(&self.db, user, &area(code), min_rank, self.app.clock.now())
            .await
            .unwrap()
    }

    /// Who governs `code` now, as (name, role, scope).
    async fn officials(&self, code: &str) -> Vec<(String, Role, String)> {
        officials_of(&self.db, &area(code), self.app.clock.now())
            .await
            .unwrap()
            .into_iter()
            .map(|o: Official| (o.display_name, o.role, o.scope.as_str().to_owned()))
            .collect()
    }

    /// The projected grants, as (id, revoked), by id.
    async fn projected(&self) -> Vec<(Uuid, bool)> {
        self.db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT id, revoked FROM known_grants ORDER BY id".to_owned(),
            ))
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                (
                    row.try_get("", "id").unwrap(),
                    row.try_get("", "revoked").unwrap(),
                )
            })
            .collect()
    }

    /// Erases `id` of kind `S` as identity will: its tombstone, through identity's outbox.
    async fn tombstone<S: terrace_platform::bus::Snapshot>(&self, id: Uuid) {
        let identity_db = self.app.ctx.database("identity").await;
        let txn = identity_db.begin().await.unwrap();
        outbox::publish_tombstone::<_, S>(&txn, terrace_identity::admin::SOURCE, &id.to_string())
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
}

/// A deadline for the relay and the projection (a loaded machine delays them), not a timing.
async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    terrace_testkit::eventually(what, Duration::from_secs(30), check).await
}

#[tokio::test]
async fn officials_govern_their_area_and_what_lies_inside_it() {
    let w = World::new().await;
    let village = w
        .user(
            "+8613800139001",
            "李建国",
            &[(Role::VillageOfficial, VILLAGE)],
        )
        .await;
    let township = w
        .user(
            "+8613800139002",
            "赵强",
            &[(Role::TownshipOfficial, TOWNSHIP)],
        )
        .await;
    let resident = w
        .user("+8613800139003", "王秀英", &[(Role::Resident, VILLAGE)])
        .await;

    // A village official: their village, not the neighbouring one, not the township above.
    assert!(w.holds(village, VILLAGE, 1).await);
    assert!(!w.holds(village, NEIGHBOUR, 1).await);
    assert!(!w.holds(village, TOWNSHIP, 1).await);
    assert!(
        !w.holds(village, VILLAGE, Role::TownshipOfficial.rank())
            .await,
        "not of a township official's rank"
    );
    // A township official: the township and each of its villages, not the county.
    for code in [TOWNSHIP, VILLAGE, NEIGHBOUR] {
        assert!(w.holds(township, code, 1).await, "{code}");
        assert!(
            w.holds(township, code, Role::TownshipOfficial.rank()).await,
            "{code}"
        );
    }
    assert!(!w.holds(township, COUNTY, 1).await);
    assert!(
        !w.holds(township, VILLAGE, Role::CountyAdmin.rank()).await,
        "not of a county admin's rank"
    );
    // A resident's grant is kept, and is no official's.
    assert!(!w.holds(resident, VILLAGE, 0).await);
    assert!(
        !w.holds(Uuid::now_v7(), VILLAGE, 0).await,
        "an unknown user"
    );
}

#[tokio::test]
async fn officials_of_an_area_are_listed_village_first_then_by_name() {
    let w = World::new().await;
    // Latin names, so that the order by name is the same under any collation.
    w.user(
        "+8613800139011",
        "Wang Fang",
        &[(Role::VillageOfficial, VILLAGE)],
    )
    .await;
    w.user(
        "+8613800139012",
        "Chen Ming",
        &[(Role::VillageOfficial, VILLAGE)],
    )
    .await;
    w.user(
        "+8613800139013",
        "Liu Yang",
        &[(Role::VillageOfficial, NEIGHBOUR)],
    )
    .await;
    w.user(
        "+8613800139014",
        "Zhao Qiang",
        &[(Role::TownshipOfficial, TOWNSHIP)],
    )
    .await;
    w.user("+8613800139015", "Sun Li", &[(Role::CountyAdmin, COUNTY)])
        .await;
    w.user(
        "+8613800139016",
        "An Resident",
        &[(Role::Resident, VILLAGE)],
    )
    .await;
    let entry = |name: &str, role, scope: &str| (name.to_owned(), role, scope.to_owned());

    assert_eq!(
        w.officials(VILLAGE).await,
        [
            entry("Chen Ming", Role::VillageOfficial, VILLAGE),
            entry("Wang Fang", Role::VillageOfficial, VILLAGE),
            entry("Zhao Qiang", Role::TownshipOfficial, TOWNSHIP),
            entry("Sun Li", Role::CountyAdmin, COUNTY),
        ]
    );
    assert_eq!(
        w.officials(NEIGHBOUR).await,
        [
            entry("Liu Yang", Role::VillageOfficial, NEIGHBOUR),
            entry("Zhao Qiang", Role::TownshipOfficial, TOWNSHIP),
            entry("Sun Li", Role::CountyAdmin, COUNTY),
        ]
    );
    // The township's officials are those who govern it, not the officials of its villages.
    assert_eq!(
        w.officials(TOWNSHIP).await,
        [
            entry("Zhao Qiang", Role::TownshipOfficial, TOWNSHIP),
            entry("Sun Li", Role::CountyAdmin, COUNTY),
        ]
    );
    assert!(w.officials("330524").await.is_empty(), "another county");
}

#[tokio::test]
async fn revoked_and_expired_grants_stop_counting() {
    let w = World::new().await;
    let li = w
        .user("+8613800139021", "李建国", &[(Role::Resident, VILLAGE)])
        .await;
    let wang = w
        .user("+8613800139022", "王芳", &[(Role::Resident, VILLAGE)])
        .await;

    // Revoked through identity's RevokeRole.
    let office = w.grant(li, Role::VillageOfficial, VILLAGE, None).await;
    w.known(li, 2).await;
    assert!(w.holds(li, VILLAGE, 1).await);
    let request = identity::RevokeRoleRequest {
        request_id: request_id(),
        grant_id: office.to_string(),
        reason: "term ended".into(),
    };
    w.identity()
        .revoke_role(w.app.request(request, &w.admin))
        .await
        .unwrap();
    eventually("the revocation projected", || async {
        w.projected().await.contains(&(office, true)).then_some(())
    })
    .await;
    assert!(!w.holds(li, VILLAGE, 1).await);
    assert!(w.officials(VILLAGE).await.is_empty());

    // A term of office of one hour: it counts until then, and not after, on the service clock.
    let term = w.app.clock.now() + chrono::Duration::hours(1);
    w.grant(wang, Role::VillageOfficial, VILLAGE, Some(term))
        .await;
    w.known(wang, 2).await;
    assert!(w.holds(wang, VILLAGE, 1).await);
    let later = term + chrono::Duration::minutes(1);
    assert!(
        !holds_official_role(&w.db, wang, &area(VILLAGE), 1, later)
            .await
            .unwrap(),
        "past its expiry, before identity's job retired it"
    );
    assert!(
        officials_of(&w.db, &area(VILLAGE), later)
            .await
            .unwrap()
            .is_empty()
    );
    w.app.clock.advance(Duration::from_secs(2 * 3600));
    assert!(!w.holds(wang, VILLAGE, 1).await);
}

#[tokio::test]
async fn a_projection_started_late_learns_every_grant_from_the_state_stream() {
    let w = World::new().await;
    let li = w
        .user(
            "+8613800139031",
            "李建国",
            &[(Role::VillageOfficial, VILLAGE)],
        )
        .await;
    let zhao = w
        .user(
            "+8613800139032",
            "赵强",
            &[
                (Role::TownshipOfficial, TOWNSHIP),
                (Role::Resident, VILLAGE),
            ],
        )
        .await;
    let wang = w
        .user("+8613800139033", "王芳", &[(Role::Resident, VILLAGE)])
        .await;
    let former = w.grant(wang, Role::VillageOfficial, VILLAGE, None).await;
    w.known(wang, 2).await;
    let request = identity::RevokeRoleRequest {
        request_id: request_id(),
        grant_id: former.to_string(),
        reason: "term ended".into(),
    };
    w.identity()
        .revoke_role(w.app.request(request, &w.admin))
        .await
        .unwrap();
    eventually("the revocation projected", || async {
        w.projected().await.contains(&(former, true)).then_some(())
    })
    .await;
    let present = w.projected().await;
    assert_eq!(present.len(), 5);

    // Governance deployed now, or its projection rebuilt: an empty table and a consumer whose
    // durable does not exist. What it reads first is the state stream alone (the events after it
    // come from its durable); the grants come back from there, the revoked one revoked.
    w.db.execute_unprepared("DELETE FROM known_grants")
        .await
        .unwrap();
    let bus = w.app.ctx.bus(&[]).await;
    let late = Consumer::new(
        ConsumerSpec {
            name: "governance-officials-late".to_owned(),
            domain: "identity".to_owned(),
            subject: Some("identity.role.>".to_owned()),
        },
        &w.db,
        &bus,
        &w.app.settings.consumer,
        grants::Officials,
    );
    let read = late.load_state("state.identity.grant.>").await.unwrap();
    assert_eq!(read, 5, "one snapshot per grant, the latest");
    assert_eq!(w.projected().await, present);
    assert!(w.holds(li, VILLAGE, 1).await);
    assert!(w.holds(zhao, NEIGHBOUR, 1).await);
    assert!(!w.holds(wang, VILLAGE, 1).await);

    // A grant erased on the state stream is not learnt by a projection started after.
    w.tombstone::<identity::RoleGrant>(former).await;
    terrace_testkit::events::published(&w.app, "identity", "state.identity.grant.>").await;
    w.db.execute_unprepared("DELETE FROM known_grants")
        .await
        .unwrap();
    assert_eq!(
        late.load_state("state.identity.grant.>").await.unwrap(),
        5,
        "four snapshots and a tombstone"
    );
    let without: Vec<_> = present
        .into_iter()
        .filter(|(id, _)| *id != former)
        .collect();
    assert_eq!(w.projected().await, without);
}

#[tokio::test]
async fn an_erased_user_leaves_no_grant_behind() {
    let w = World::new().await;
    let li = w
        .user(
            "+8613800139041",
            "李建国",
            &[(Role::VillageOfficial, VILLAGE), (Role::Resident, VILLAGE)],
        )
        .await;
    let wang = w
        .user(
            "+8613800139042",
            "王芳",
            &[(Role::VillageOfficial, VILLAGE)],
        )
        .await;
    assert!(w.holds(li, VILLAGE, 1).await);

    w.tombstone::<identity::User>(li).await;
    eventually("the erased user and their grants gone", || async {
        let users = w
            .count(&format!(
                "SELECT count(*) AS n FROM known_users WHERE id = '{li}'"
            ))
            .await;
        let held = w
            .count(&format!(
                "SELECT count(*) AS n FROM known_grants WHERE user_id = '{li}'"
            ))
            .await;
        (users == 0 && held == 0).then_some(())
    })
    .await;
    assert!(!w.holds(li, VILLAGE, 1).await);
    assert_eq!(
        w.officials(VILLAGE).await,
        [("王芳".to_owned(), Role::VillageOfficial, VILLAGE.to_owned())]
    );
    assert!(w.holds(wang, VILLAGE, 1).await, "the others keep theirs");
}
