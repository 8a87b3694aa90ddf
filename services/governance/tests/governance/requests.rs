//! Service requests over gRPC: a villager files, two officials take it through its workflow, the
//! villager follows it; an official files for a walk-in; due times from the type's SLA on the
//! service clock; and every refusal specific, changing nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use terrace_governance::Governance;
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::service::ServiceDef;
use terrace_platform::validate::to_timestamp;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::ServiceRequestStatus as S;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_proto::identity::v1::Role as RoleProto;
use terrace_testkit::TestApp;
use terrace_testkit::events::published;
use terrace_testkit::rpc::{assert_refused, reason, request_id, violated_fields};
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

/// 余村, of 天荒坪镇, of 安吉县.
const VILLAGE: &str = "330523108204";
/// Another village of the same township.
const NEIGHBOUR: &str = "330523108201";
const TOWNSHIP: &str = "330523108";
const COUNTY: &str = "330523";

/// Friday 8 January 2027, 10:00 in China: the services' clock at the start.
fn friday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-08T10:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

struct World {
    app: TestApp,
    db: DatabaseConnection,
    client: GovernanceServiceClient<Channel>,
    township: String,
    village_official: String,
    /// A resident of 余村 and their token.
    villager: (Uuid, String),
}

impl World {
    async fn new() -> Self {
        Self::of(&[ServiceDef::of::<Governance>()]).await
    }

    /// With identity beside governance, for what needs real accounts and grants.
    async fn with_identity() -> Self {
        Self::of(&[
            ServiceDef::of::<Governance>(),
            ServiceDef::of::<terrace_identity::Identity>(),
        ])
        .await
    }

    async fn of(services: &[ServiceDef]) -> Self {
        let app = TestApp::spawn_with(services, |settings| {
            settings.services.insert(
                "governance".into(),
                serde_json::json!({ "demo_divisions": true }),
            );
        })
        .await;
        app.clock.set(friday_morning());
        let db = app.ctx.database("governance").await;
        let client = GovernanceServiceClient::new(app.channel().await);
        let token = |role, area| app.token(&Uuid::now_v7().to_string(), &[(role, area)]);
        let township = token(Role::TownshipOfficial, TOWNSHIP);
        let village_official = token(Role::VillageOfficial, VILLAGE);
        let villager_id = Uuid::now_v7();
        let villager = app.token(&villager_id.to_string(), &[(Role::Resident, VILLAGE)]);
        Self {
            app,
            db,
            client,
            township,
            village_official,
            villager: (villager_id, villager),
        }
    }

    fn token(&self, role: Role, area: &str) -> String {
        self.app.token(&Uuid::now_v7().to_string(), &[(role, area)])
    }

    async fn count(&self, sql: &str) -> i64 {
        self.db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap()
    }

    /// A request type of the township: a well, with a required well number.
    async fn well_type(&mut self, sla_hours: i32, sla_working_days: i32) -> pb::RequestType {
        let request = pb::CreateRequestTypeRequest {
            request_id: request_id(),
            request_type: Some(pb::RequestType {
                area: Some(AdminScope::parse(TOWNSHIP).unwrap().to_proto()),
                code: format!("well-{}", Uuid::now_v7().simple()),
                name: zh("水井损坏"),
                group: "water".into(),
                fields: vec![pb::RequestFieldDefinition {
                    key: "well_number".into(),
                    label: zh("水井编号"),
                    r#type: pb::RequestFieldType::Number as i32,
                    required: true,
                    min_value: "1".into(),
                    max_value: "99".into(),
                    ..Default::default()
                }],
                responsible_role: RoleProto::VillageOfficial as i32,
                sla_hours,
                sla_working_days,
                ..Default::default()
            }),
        };
        let township = self.township.clone();
        self.client
            .create_request_type(self.app.request(request, &township))
            .await
            .unwrap()
            .into_inner()
            .request_type
            .unwrap()
    }

    async fn file(
        &mut self,
        token: &str,
        request: pb::CreateServiceRequestRequest,
    ) -> Result<pb::CreateServiceRequestResponse, tonic::Status> {
        Ok(self
            .client
            .create_service_request(self.app.request(request, token))
            .await?
            .into_inner())
    }

    async fn get(&mut self, token: &str, id: &str) -> Result<pb::ServiceRequest, tonic::Status> {
        let request = pb::GetServiceRequestRequest {
            service_request_id: id.into(),
        };
        Ok(self
            .client
            .get_service_request(self.app.request(request, token))
            .await?
            .into_inner()
            .service_request
            .unwrap())
    }

    async fn change(
        &mut self,
        token: &str,
        id: &str,
        to: S,
        note: &str,
        visibility: pb::NoteVisibility,
    ) -> Result<pb::ServiceRequest, tonic::Status> {
        let request = pb::ChangeServiceRequestStatusRequest {
            request_id: request_id(),
            service_request_id: id.into(),
            status: to as i32,
            note: note.into(),
            note_visibility: visibility as i32,
            expected_status: 0,
        };
        Ok(self
            .client
            .change_service_request_status(self.app.request(request, token))
            .await?
            .into_inner()
            .service_request
            .unwrap())
    }

    async fn timeline(&mut self, token: &str, id: &str) -> Vec<pb::ServiceRequestTimelineEntry> {
        let request = pb::ListServiceRequestTimelineRequest {
            service_request_id: id.into(),
            ..Default::default()
        };
        self.client
            .list_service_request_timeline(self.app.request(request, token))
            .await
            .unwrap()
            .into_inner()
            .entries
    }

    async fn list(
        &mut self,
        token: &str,
        request: pb::ListServiceRequestsRequest,
    ) -> Result<Vec<pb::ServiceRequest>, tonic::Status> {
        Ok(self
            .client
            .list_service_requests(self.app.request(request, token))
            .await?
            .into_inner()
            .service_requests)
    }
}

fn zh(text: &str) -> Option<common::LocalizedText> {
    Some(common::LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    })
}

/// A request for `type_id` in `village`, with the well number `number`.
fn broken_well(type_id: &str, village: &str, number: &str) -> pb::CreateServiceRequestRequest {
    pb::CreateServiceRequestRequest {
        request_id: request_id(),
        service_request: Some(pb::ServiceRequest {
            type_id: type_id.into(),
            village_code: village.into(),
            description: "三组村口的水井抽不上水了".into(),
            location: Some(pb::RequestLocation {
                point: Some(common::GeoPoint {
                    latitude: 30.5231,
                    longitude: 119.6102,
                }),
                address: "三组 村口桥边".into(),
            }),
            field_values: [("well_number".to_owned(), number.to_owned())].into(),
            ..Default::default()
        }),
        on_behalf_of_user_id: String::new(),
    }
}

#[tokio::test]
async fn a_villagers_request_goes_through_its_workflow_with_two_officials() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let (villager_id, villager) = w.villager.clone();
    let village_official = w.village_official.clone();
    let township = w.township.clone();

    // Filed from the app: submitted, due in 48 hours, the village answerable.
    let filing = broken_well(&well.id, VILLAGE, "7");
    let filed = w.file(&villager, filing.clone()).await.unwrap();
    let request = filed.service_request.unwrap();
    assert_eq!(request.status, S::Submitted as i32);
    assert!(
        request.reference.starts_with("R-2027-"),
        "{}",
        request.reference
    );
    assert_eq!(request.requester_user_id, villager_id.to_string());
    assert_eq!(request.channel, pb::RequestChannel::App as i32);
    assert_eq!(
        request.due_time,
        Some(to_timestamp(friday_morning() + chrono::Duration::hours(48)))
    );
    assert_eq!(request.responsible_area.as_ref().unwrap().code, VILLAGE);
    assert_eq!(request.field_values["well_number"], "7");
    assert_eq!(request.version, 1);
    // The phone retries the same filing: the same request, nothing more.
    let again = w.file(&villager, filing).await.unwrap();
    assert_eq!(again.service_request.unwrap().id, request.id);
    assert_eq!(
        w.count("SELECT count(*) AS n FROM service_requests").await,
        1
    );

    // The village official acknowledges it publicly and starts it with an internal note; the
    // township official resolves it; the village official closes it.
    let id = request.id.clone();
    w.change(
        &village_official,
        &id,
        S::Acknowledged,
        "已收到，明天去看",
        pb::NoteVisibility::Public,
    )
    .await
    .unwrap();
    w.change(
        &village_official,
        &id,
        S::InProgress,
        "找了水泵师傅老周",
        pb::NoteVisibility::Internal,
    )
    .await
    .unwrap();
    // (Tokens live 15 minutes on the same clock.)
    w.app.clock.advance(Duration::from_secs(600));
    let resolved = w
        .change(
            &township,
            &id,
            S::Resolved,
            "水泵已更换",
            pb::NoteVisibility::Public,
        )
        .await
        .unwrap();
    let resolved_at = friday_morning() + chrono::Duration::minutes(10);
    assert_eq!(resolved.resolve_time, Some(to_timestamp(resolved_at)));
    assert_eq!(
        resolved.reopen_deadline,
        Some(to_timestamp(resolved_at + chrono::Duration::days(7))),
        "the area's default reopen window"
    );
    // Two officials at once: one expected it still in progress.
    let mut guarded = pb::ChangeServiceRequestStatusRequest {
        request_id: request_id(),
        service_request_id: id.clone(),
        status: S::Closed as i32,
        note: String::new(),
        note_visibility: 0,
        expected_status: S::InProgress as i32,
    };
    let raced = w
        .client
        .change_service_request_status(w.app.request(guarded.clone(), &village_official))
        .await
        .unwrap_err();
    assert_eq!(
        (raced.code(), reason(&raced).as_str()),
        (Code::Aborted, "STATUS_CHANGED")
    );
    guarded.request_id = request_id();
    guarded.expected_status = S::Resolved as i32;
    let closed = w
        .client
        .change_service_request_status(w.app.request(guarded, &village_official))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!((closed.status, closed.version), (S::Closed as i32, 5));

    // Nothing moves a closed request; the answer says where it stands.
    let refused = w
        .change(
            &village_official,
            &id,
            S::Acknowledged,
            "",
            pb::NoteVisibility::Public,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::FailedPrecondition, "INVALID_TRANSITION")
    );
    let info = tonic_types::StatusExt::get_error_details(&refused)
        .error_info()
        .cloned()
        .unwrap();
    assert_eq!(
        info.metadata["current_status"],
        "SERVICE_REQUEST_STATUS_CLOSED"
    );

    // The villager follows it: the public timeline only, and a public note of their own.
    let seen = w.get(&villager, &id).await.unwrap();
    assert_eq!(seen.status, S::Closed as i32);
    let note = pb::AddServiceRequestNoteRequest {
        request_id: request_id(),
        service_request_id: id.clone(),
        note: "谢谢，已经有水了".into(),
        visibility: pb::NoteVisibility::Public as i32,
        photos: Vec::new(),
    };
    w.client
        .add_service_request_note(w.app.request(note.clone(), &villager))
        .await
        .unwrap();
    let internal = pb::AddServiceRequestNoteRequest {
        request_id: request_id(),
        visibility: pb::NoteVisibility::Internal as i32,
        ..note
    };
    assert_refused(
        w.client
            .add_service_request_note(w.app.request(internal, &villager))
            .await,
        Code::PermissionDenied,
        "INTERNAL_NOTES_ARE_OFFICIALS",
    );
    let public = w.timeline(&villager, &id).await;
    let everything = w.timeline(&village_official, &id).await;
    assert_eq!(
        everything.len(),
        6,
        "filed, four changes, the villager's note"
    );
    // Every move of their request, but the internal note's text is the officials'.
    assert_eq!(public.len(), 6);
    assert!(public.iter().all(|e| e.note != "找了水泵师傅老周"));
    assert!(
        everything.iter().any(|e| e.note == "找了水泵师傅老周"),
        "officials read it"
    );
    assert_eq!(
        public.iter().map(|e| e.to_status).collect::<Vec<_>>(),
        [
            S::Submitted as i32,
            S::Acknowledged as i32,
            S::InProgress as i32,
            S::Resolved as i32,
            S::Closed as i32,
            0
        ]
    );

    // Another villager of the township, and an official of the neighbouring village, do not see it.
    let stranger = w.token(Role::Resident, NEIGHBOUR);
    assert_eq!(
        w.get(&stranger, &id).await.unwrap_err().code(),
        Code::NotFound
    );
    let neighbour_official = w.token(Role::VillageOfficial, NEIGHBOUR);
    assert_eq!(
        w.get(&neighbour_official, &id).await.unwrap_err().code(),
        Code::NotFound
    );

    // Lists: the township's officials by area, the villager their own, not an area.
    let area = |code: &str| Some(AdminScope::parse(code).unwrap().to_proto());
    let listed = w
        .list(
            &township,
            pb::ListServiceRequestsRequest {
                area: area(TOWNSHIP),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let open = w
        .list(
            &township,
            pb::ListServiceRequestsRequest {
                area: area(TOWNSHIP),
                statuses: vec![S::Submitted as i32, S::InProgress as i32],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(open.is_empty());
    let own = w
        .list(&villager, pb::ListServiceRequestsRequest::default())
        .await
        .unwrap();
    assert_eq!(own.len(), 1);
    assert_refused(
        w.list(
            &villager,
            pb::ListServiceRequestsRequest {
                area: area(VILLAGE),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );

    // What was told and recorded: one filing, four changes, two public notes... of which the
    // villager's; the officials' four changes in the county's audit chain, the villager's own
    // filing and note not.
    assert_eq!(
        published(&w.app, "governance", "governance.request.created").await,
        1
    );
    assert_eq!(
        published(&w.app, "governance", "governance.request.status_changed").await,
        4
    );
    assert_eq!(
        published(&w.app, "governance", "governance.request.note_added").await,
        1
    );
    assert_eq!(
        w.count("SELECT count(*) AS n FROM audit_entries WHERE target_type = 'service_request'")
            .await,
        4
    );
}

/// What a filing writes, counted: requests, their timeline entries, claimed request ids and
/// events published.
async fn written(w: &World) -> [i64; 4] {
    let events = published(&w.app, "governance", "governance.request.created").await;
    [
        w.count("SELECT count(*) AS n FROM service_requests").await,
        w.count("SELECT count(*) AS n FROM service_request_timeline")
            .await,
        w.count("SELECT count(*) AS n FROM idempotency").await,
        i64::try_from(events).unwrap(),
    ]
}

#[tokio::test]
async fn a_villagers_filing_in_one_statement_is_checked_against_the_type_as_it_is_now() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let (_, villager) = w.villager.clone();
    let township = w.township.clone();
    let update = |request_type: pb::RequestType, path: &str| {
        w.app.request(
            pb::UpdateRequestTypeRequest {
                request_id: request_id(),
                request_type: Some(pb::RequestType {
                    id: well.id.clone(),
                    ..request_type
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![path.into()],
                }),
            },
            &township,
        )
    };
    let with_depth = update(
        pb::RequestType {
            fields: [
                well.fields.clone(),
                vec![pb::RequestFieldDefinition {
                    key: "depth".into(),
                    label: zh("井深（米）"),
                    r#type: pb::RequestFieldType::Number as i32,
                    required: true,
                    ..Default::default()
                }],
            ]
            .concat(),
            ..Default::default()
        },
        "fields",
    );
    let switched_off = update(
        pb::RequestType {
            active: false,
            ..Default::default()
        },
        "active",
    );

    // The first filing reads the type, the second goes by what the service remembers of it;
    // each writes its request, its first timeline entry, its claim and its event.
    let first_filing = broken_well(&well.id, VILLAGE, "1");
    let first = w.file(&villager, first_filing.clone()).await.unwrap();
    let second = w
        .file(&villager, broken_well(&well.id, VILLAGE, "2"))
        .await
        .unwrap();
    let (first, second) = (
        first.service_request.unwrap(),
        second.service_request.unwrap(),
    );
    assert_ne!(first.reference, second.reference);
    assert_eq!(
        written(&w).await,
        [2, 2, 3, 2],
        "the type's own claim is the third"
    );
    let timeline = w.timeline(&villager, &second.id).await;
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].kind, pb::TimelineEntryKind::Submitted as i32);

    // The township then requires the well's depth: a filing without it is refused against the
    // type as it is now, not as it was remembered, and writes nothing.
    w.client.update_request_type(with_depth).await.unwrap();
    let before = written(&w).await;
    let refused = w
        .file(&villager, broken_well(&well.id, VILLAGE, "3"))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["service_request.field_values[\"depth\"]"]
    );
    let mut deep = broken_well(&well.id, VILLAGE, "3");
    let given = deep.service_request.as_mut().unwrap();
    given.field_values.insert("depth".into(), "12".into());
    w.file(&villager, deep).await.unwrap();
    assert_eq!(written(&w).await[0], before[0] + 1);

    // A buyer's county-wide standing is no home in the village.
    let buyer = w.token(Role::Buyer, COUNTY);
    assert_refused(
        w.file(&buyer, broken_well(&well.id, VILLAGE, "4")).await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_VILLAGE",
    );

    // Switched off: refused, nothing written.
    w.client.update_request_type(switched_off).await.unwrap();
    let before = written(&w).await;
    assert_refused(
        w.file(&villager, broken_well(&well.id, VILLAGE, "4")).await,
        Code::FailedPrecondition,
        "REQUEST_TYPE_INACTIVE",
    );
    assert_eq!(written(&w).await, before);

    // The phone resends its first filing after the idempotency log forgot it: the request it
    // made, not a refusal nor a second one.
    w.count("WITH gone AS (DELETE FROM idempotency RETURNING 1) SELECT count(*) AS n FROM gone")
        .await;
    let resent = w.file(&villager, first_filing).await.unwrap();
    assert_eq!(resent.service_request.unwrap().id, first.id);
    assert_eq!(written(&w).await[0], before[0]);
}

#[tokio::test]
async fn an_official_files_for_a_walk_in_and_bad_filings_change_nothing() {
    let mut w = World::new().await;
    let well = w.well_type(0, 2).await;
    let village_official = w.village_official.clone();
    let (_, villager) = w.villager.clone();

    // A walk-in without an account: name, phone and how they agreed.
    let mut walk_in = broken_well(&well.id, VILLAGE, "12");
    {
        let request = walk_in.service_request.as_mut().unwrap();
        request.contact_name = "周大爷".into();
        request.contact_phone = "13800001111".into();
        request.on_behalf_consent = "口头同意，村委会窗口".into();
    }
    let filed = w
        .file(&village_official, walk_in.clone())
        .await
        .unwrap()
        .service_request
        .unwrap();
    assert_eq!(filed.channel, pb::RequestChannel::WalkIn as i32);
    assert_eq!(filed.requester_user_id, "");
    assert_eq!(filed.contact_phone, "+8613800001111");
    // Filed on a Friday with 2 working days: due at the end of Tuesday.
    assert_eq!(
        filed.due_time,
        Some(to_timestamp(
            DateTime::parse_from_rfc3339("2027-01-13T00:00:00+08:00")
                .unwrap()
                .with_timezone(&Utc)
        ))
    );
    assert_eq!(
        w.count("SELECT count(*) AS n FROM audit_entries WHERE action = 'service_request.filed'")
            .await,
        1
    );
    let before = w.count("SELECT count(*) AS n FROM service_requests").await;

    // Without consent, without a phone to answer on.
    let mut careless = walk_in.clone();
    careless.request_id = request_id();
    {
        let request = careless.service_request.as_mut().unwrap();
        request.on_behalf_consent.clear();
        request.contact_phone.clear();
    }
    let refused = w.file(&village_official, careless).await.unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "service_request.contact_phone",
            "service_request.on_behalf_consent"
        ]
    );
    // A well number out of bounds, an unknown field, no description.
    let mut sloppy = broken_well(&well.id, VILLAGE, "100");
    {
        let request = sloppy.service_request.as_mut().unwrap();
        request.field_values.insert("colour".into(), "blue".into());
    }
    let refused = w.file(&villager, sloppy).await.unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        [
            "service_request.field_values[\"colour\"]",
            "service_request.field_values[\"well_number\"]"
        ]
    );
    // In a village where the villager has no role; for a type another township defines.
    assert_refused(
        w.file(&villager, broken_well(&well.id, NEIGHBOUR, "3"))
            .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_VILLAGE",
    );
    let other_county = "330522100001";
    let resident_elsewhere = w.token(Role::Resident, other_county);
    assert_refused(
        w.file(
            &resident_elsewhere,
            broken_well(&well.id, other_county, "3"),
        )
        .await,
        Code::FailedPrecondition,
        "REQUEST_TYPE_NOT_OFFERED",
    );
    // A type switched off takes no more.
    let township = w.township.clone();
    w.client
        .update_request_type(w.app.request(
            pb::UpdateRequestTypeRequest {
                request_id: request_id(),
                request_type: Some(pb::RequestType {
                    id: well.id.clone(),
                    active: false,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["active".into()],
                }),
            },
            &township,
        ))
        .await
        .unwrap();
    assert_refused(
        w.file(&villager, broken_well(&well.id, VILLAGE, "3")).await,
        Code::FailedPrecondition,
        "REQUEST_TYPE_INACTIVE",
    );
    // An official of the county may file for the village; an agency without the scope may not.
    let county = w.token(Role::CountyAdmin, COUNTY);
    assert_refused(
        w.file(&county, walk_in.clone()).await,
        Code::FailedPrecondition,
        "REQUEST_TYPE_INACTIVE",
    );
    assert_eq!(
        w.count("SELECT count(*) AS n FROM service_requests").await,
        before
    );
}

/// A small JPEG, as a phone would send.
fn jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}

impl World {
    async fn upload(
        &mut self,
        token: &str,
        content: Vec<u8>,
    ) -> Result<common::MediaRef, tonic::Status> {
        let request = pb::UploadPhotoRequest {
            request_id: request_id(),
            content,
            content_type: "image/jpeg".into(),
            public: false,
        };
        Ok(self
            .client
            .upload_photo(self.app.request(request, token))
            .await?
            .into_inner()
            .photo
            .unwrap())
    }
}

#[tokio::test]
async fn photos_go_with_the_request_and_are_served_to_those_who_may_see_it() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let (_, villager) = w.villager.clone();
    let village_official = w.village_official.clone();

    // Not an image: refused at the door.
    let refused = w
        .upload(&villager, b"hello, not a photo".to_vec())
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["content"]);

    let photo = w.upload(&villager, jpeg()).await.unwrap();
    assert_eq!((photo.width, photo.height), (64, 48));
    // Someone else cannot attach the villager's photo.
    let mut borrowed = broken_well(&well.id, VILLAGE, "4");
    borrowed.service_request.as_mut().unwrap().photos = vec![common::MediaRef {
        id: photo.id.clone(),
        ..Default::default()
    }];
    let neighbour = w.token(Role::Resident, VILLAGE);
    let refused = w.file(&neighbour, borrowed.clone()).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["service_request.photos[0].id"]);
    // The villager can.
    borrowed.request_id = request_id();
    let filed = w
        .file(&villager, borrowed)
        .await
        .unwrap()
        .service_request
        .unwrap();
    assert_eq!(filed.photos.len(), 1);
    // Its event names the photo, but carries no signed address to keep in the stream.
    let created: Vec<pb::ServiceRequestCreated> =
        terrace_testkit::events::decoded(&w.app, "governance", "governance.request.created").await;
    let photo = &created[0].service_request.as_ref().unwrap().photos[0];
    assert_eq!(photo.id, filed.photos[0].id);
    assert!(photo.uri.is_empty() && photo.thumbnail_uri.is_empty());
    assert!(!filed.photos[0].uri.is_empty(), "the filer's answer has it");

    // The official reads the request with a signed address of the photo, which serves it.
    let seen = w.get(&village_official, &filed.id).await.unwrap();
    let uri = &seen.photos[0].uri;
    assert!(
        uri.starts_with("/media/governance/") && uri.contains("sig="),
        "{uri}"
    );
    let http = terrace_testkit::http_client();
    let base = format!("http://{}", w.app.grpc_addr);
    let served = http.get(format!("{base}{uri}")).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    let thumbnail = http
        .get(format!("{base}{}", seen.photos[0].thumbnail_uri))
        .send()
        .await
        .unwrap();
    assert_eq!(thumbnail.status(), 200);
    // Without its signature the address serves nothing.
    let bare = uri.split('?').next().unwrap();
    assert_eq!(
        http.get(format!("{base}{bare}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // An official's public note with a photo: the requester sees both.
    let official_photo = w.upload(&village_official, jpeg()).await.unwrap();
    w.client
        .add_service_request_note(w.app.request(
            pb::AddServiceRequestNoteRequest {
                request_id: request_id(),
                service_request_id: filed.id.clone(),
                note: "现场照片".into(),
                visibility: pb::NoteVisibility::Public as i32,
                photos: vec![common::MediaRef {
                    id: official_photo.id.clone(),
                    ..Default::default()
                }],
            },
            &village_official,
        ))
        .await
        .unwrap();
    let timeline = w.timeline(&villager, &filed.id).await;
    let note = timeline.iter().find(|e| e.note == "现场照片").unwrap();
    assert_eq!(note.photos.len(), 1);
    assert_eq!(note.photos[0].id, official_photo.id);
}

fn china(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

impl World {
    /// Moves the services' clock to `at` and waits for a run of `job` that starts after the move.
    async fn move_clock_and_run(&mut self, at: DateTime<Utc>, job: &str) {
        use terrace_testkit::jobs::{runs, settled};
        let before = runs(&self.db, job).await;
        settled(&self.db, job, before).await;
        self.app.clock.set(at);
        settled(&self.db, job, before + 1).await;
    }
}

#[tokio::test]
async fn an_erased_villagers_requests_stay_without_anything_of_them() {
    use sea_orm::TransactionTrait as _;
    let mut w = World::with_identity().await;
    let well = w.well_type(48, 0).await;
    let villager = w
        .app
        .seed_user("+8613800139051", "赵大山", &[(Role::Resident, VILLAGE)])
        .await;
    let token = w
        .app
        .token(&villager.id.to_string(), &[(Role::Resident, VILLAGE)]);
    let mut filing = broken_well(&well.id, VILLAGE, "5");
    filing.service_request.as_mut().unwrap().description = "赵大山家门口的井坏了".into();
    let filed = w
        .file(&token, filing)
        .await
        .unwrap()
        .service_request
        .unwrap();
    let others = w
        .file(&w.villager.1.clone(), broken_well(&well.id, VILLAGE, "6"))
        .await
        .unwrap()
        .service_request
        .unwrap();

    // Identity erases them: their tombstone, through identity's outbox.
    let identity_db = w.app.ctx.database("identity").await;
    let txn = identity_db.begin().await.unwrap();
    terrace_platform::bus::outbox::publish_tombstone::<_, terrace_proto::identity::v1::User>(
        &txn,
        terrace_identity::admin::SOURCE,
        &villager.id.to_string(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let theirs = format!(
        "SELECT count(*) AS n FROM service_requests WHERE requester_user_id = '{}'",
        villager.id
    );
    terrace_testkit::eventually("the erasure applied", Duration::from_secs(30), || async {
        (w.count(&theirs).await == 0).then_some(())
    })
    .await;
    // The request stays, the matter with it, but nothing of the person filled in about them.
    let official = w.village_official.clone();
    let kept = w.get(&official, &filed.id).await.unwrap();
    assert_eq!(kept.requester_user_id, "");
    assert!(kept.field_values.is_empty());
    assert_eq!(kept.reference, filed.reference);
    // Another villager's request keeps its requester.
    let untouched = w.get(&official, &others.id).await.unwrap();
    assert_eq!(untouched.requester_user_id, w.villager.0.to_string());
}

#[tokio::test]
async fn a_request_the_escalation_job_cannot_move_does_not_hold_up_the_others() {
    use terrace_governance::requests::sla::ESCALATION_JOB;
    let mut w = World::new().await;
    let well = w.well_type(1, 0).await;
    let (_, villager) = w.villager.clone();
    let mut filed = Vec::new();
    for number in ["1", "2"] {
        let request = w
            .file(&villager, broken_well(&well.id, VILLAGE, number))
            .await
            .unwrap();
        filed.push(request.service_request.unwrap().id);
    }
    // The longest overdue one cannot be moved: its village is no place (a row spoiled by hand).
    w.db.execute_unprepared(&format!(
        "UPDATE service_requests SET village_code = 'nowhere' WHERE id = '{}'",
        filed[0]
    ))
    .await
    .unwrap();
    w.move_clock_and_run(
        friday_morning() + chrono::Duration::hours(2),
        ESCALATION_JOB.job,
    )
    .await;
    let levels = |id: &str| {
        format!("SELECT escalation_level::bigint AS n FROM service_requests WHERE id = '{id}'")
    };
    assert_eq!(w.count(&levels(&filed[0])).await, 0);
    assert_eq!(
        w.count(&levels(&filed[1])).await,
        1,
        "the other one moved up"
    );
}

#[tokio::test]
async fn an_overdue_request_climbs_to_the_township_then_the_county_by_working_days() {
    use terrace_governance::requests::sla::ESCALATION_JOB;
    let mut w = World::new().await;
    let operator = w.token(Role::PlatformAdmin, "");
    // Monday 11 January 2027 is a holiday here.
    w.client
        .set_working_calendar_days(w.app.request(
            pb::SetWorkingCalendarDaysRequest {
                request_id: request_id(),
                range: Some(common::DateRange {
                    start_date: Some(common::Date {
                        year: 2027,
                        month: 1,
                        day: 1,
                    }),
                    end_date: Some(common::Date {
                        year: 2027,
                        month: 1,
                        day: 31,
                    }),
                }),
                area: None,
                days: vec![pb::WorkingCalendarDay {
                    date: Some(common::Date {
                        year: 2027,
                        month: 1,
                        day: 11,
                    }),
                    working: false,
                    name: zh("地方节日"),
                    area: None,
                }],
            },
            &operator,
        ))
        .await
        .unwrap();
    let well = w.well_type(0, 1).await;
    let (_, villager) = w.villager.clone();
    let filed = w
        .file(&villager, broken_well(&well.id, VILLAGE, "5"))
        .await
        .unwrap()
        .service_request
        .unwrap();
    // Filed on Friday with one working day; Monday is off: due at the end of Tuesday.
    assert_eq!(
        filed.due_time,
        Some(to_timestamp(china("2027-01-13T00:00:00+08:00")))
    );

    // Wednesday just after midnight: overdue, so with the township, due a working day later.
    w.move_clock_and_run(china("2027-01-13T00:30:00+08:00"), ESCALATION_JOB.job)
        .await;
    let township = w.token(Role::TownshipOfficial, TOWNSHIP);
    let up = w.get(&township, &filed.id).await.unwrap();
    assert_eq!(up.responsible_area.as_ref().unwrap().code, "330523108000");
    assert_eq!(up.escalation_level, 1);
    assert_eq!(
        up.due_time,
        Some(to_timestamp(china("2027-01-15T00:00:00+08:00")))
    );
    // The village's officials read it still, but no longer handle it.
    let village_official = w.token(Role::VillageOfficial, VILLAGE);
    assert_refused(
        w.change(
            &village_official,
            &filed.id,
            S::Acknowledged,
            "",
            pb::NoteVisibility::Public,
        )
        .await,
        Code::PermissionDenied,
        "NOT_RESPONSIBLE",
    );

    // Friday just after midnight: overdue again, so with the county, due after the weekend.
    w.move_clock_and_run(china("2027-01-15T00:30:00+08:00"), ESCALATION_JOB.job)
        .await;
    let county = w.token(Role::CountyAdmin, COUNTY);
    let up = w.get(&county, &filed.id).await.unwrap();
    assert_eq!(up.responsible_area.as_ref().unwrap().code, "330523000000");
    assert_eq!(up.escalation_level, 2);
    assert_eq!(
        up.due_time,
        Some(to_timestamp(china("2027-01-19T00:00:00+08:00")))
    );

    // Past that too: a county is as high as it goes.
    w.move_clock_and_run(china("2027-01-20T09:00:00+08:00"), ESCALATION_JOB.job)
        .await;
    let county = w.token(Role::CountyAdmin, COUNTY);
    assert_eq!(w.get(&county, &filed.id).await.unwrap().escalation_level, 2);
    let by_hand = w
        .client
        .escalate_service_request(w.app.request(
            pb::EscalateServiceRequestRequest {
                request_id: request_id(),
                service_request_id: filed.id.clone(),
                reason: "需要市里协调".into(),
            },
            &county,
        ))
        .await;
    assert_refused(by_hand, Code::FailedPrecondition, "ALREADY_AT_COUNTY");

    // The villager sees both escalations; notify hears of both; the audit chain has both.
    let (_, _) = w.villager.clone();
    let villager = w
        .app
        .token(&w.villager.0.to_string(), &[(Role::Resident, VILLAGE)]);
    let escalations = w
        .timeline(&villager, &filed.id)
        .await
        .into_iter()
        .filter(|e| e.kind == pb::TimelineEntryKind::Escalated as i32)
        .count();
    assert_eq!(escalations, 2);
    assert_eq!(
        published(&w.app, "governance", "governance.request.escalated").await,
        2
    );
    assert_eq!(
        w.count(
            "SELECT count(*) AS n FROM audit_entries WHERE action = 'service_request.escalated'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_requester_rates_once_and_reopens_within_the_window_and_the_job_closes_it_after() {
    use terrace_governance::requests::sla::CLOSING_JOB;
    let mut w = World::new().await;
    let well = w.well_type(72, 0).await;
    let (_, villager) = w.villager.clone();
    let official = w.village_official.clone();
    let filed = w
        .file(&villager, broken_well(&well.id, VILLAGE, "9"))
        .await
        .unwrap()
        .service_request
        .unwrap();
    let id = filed.id.clone();
    let resolve = async |w: &mut World, official: &str| {
        for to in [S::Acknowledged, S::InProgress] {
            // Reopened requests start again from IN_PROGRESS.
            let _ = w
                .change(official, &id, to, "", pb::NoteVisibility::Public)
                .await;
        }
        w.change(
            official,
            &id,
            S::Resolved,
            "已修好",
            pb::NoteVisibility::Public,
        )
        .await
        .unwrap()
    };
    let rate = |rating: i32| pb::RateServiceRequestRequest {
        request_id: request_id(),
        service_request_id: id.clone(),
        rating,
        comment: "师傅很快".into(),
    };
    // Not before it is resolved.
    assert_refused(
        w.client
            .rate_service_request(w.app.request(rate(5), &villager))
            .await,
        Code::FailedPrecondition,
        "NOT_RESOLVED",
    );
    resolve(&mut w, &official).await;
    let refused = w
        .client
        .rate_service_request(w.app.request(rate(6), &villager))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["rating"]);
    assert_refused(
        w.client
            .rate_service_request(w.app.request(rate(5), &official))
            .await,
        Code::PermissionDenied,
        "REQUESTER_ONLY",
    );
    let rated = w
        .client
        .rate_service_request(w.app.request(rate(4), &villager))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(
        (rated.rating, rated.rating_comment.as_str()),
        (4, "师傅很快")
    );
    assert_refused(
        w.client
            .rate_service_request(w.app.request(rate(1), &villager))
            .await,
        Code::FailedPrecondition,
        "ALREADY_RATED",
    );

    // Reopened within the window: back with the village, a new SLA period from now.
    let reopen = || pb::ReopenServiceRequestRequest {
        request_id: request_id(),
        service_request_id: id.clone(),
        reason: "又坏了".into(),
    };
    let reopened = w
        .client
        .reopen_service_request(w.app.request(reopen(), &villager))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(
        (reopened.status, reopened.reopen_count),
        (S::Reopened as i32, 1)
    );
    assert_eq!(
        reopened.due_time,
        Some(to_timestamp(friday_morning() + chrono::Duration::hours(72)))
    );
    let resolved = resolve(&mut w, &official).await;
    assert_eq!(resolved.status, S::Resolved as i32);

    // Eight days on, the closing job has closed it; there is nothing left to reopen.
    w.move_clock_and_run(
        friday_morning() + chrono::Duration::days(8),
        CLOSING_JOB.job,
    )
    .await;
    let villager = w
        .app
        .token(&w.villager.0.to_string(), &[(Role::Resident, VILLAGE)]);
    let closed = w.get(&villager, &id).await.unwrap();
    assert_eq!(closed.status, S::Closed as i32);
    assert_refused(
        w.client
            .reopen_service_request(w.app.request(reopen(), &villager))
            .await,
        Code::FailedPrecondition,
        "NOT_RESOLVED",
    );
    assert_eq!(
        published(&w.app, "governance", "governance.request.rated").await,
        1
    );
}

#[tokio::test]
async fn nearby_requests_of_a_kind_are_candidates_and_a_merged_requester_follows_the_survivor() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let other_type = w.well_type(48, 0).await;
    let official = w.village_official.clone();
    let at = |w: &World, latitude: Option<f64>| {
        let mut filing = broken_well(&well.id, VILLAGE, "2");
        let location = filing
            .service_request
            .as_mut()
            .unwrap()
            .location
            .as_mut()
            .unwrap();
        location.point = latitude.map(|latitude| common::GeoPoint {
            latitude,
            longitude: 119.6102,
        });
        let _ = w;
        filing
    };
    let mut filed = Vec::new();
    // A at the well, B 50 m north, C 1 km north: three villagers.
    for latitude in [30.5231, 30.52355, 30.5321] {
        let villager = w
            .app
            .token(&Uuid::now_v7().to_string(), &[(Role::Resident, VILLAGE)]);
        let request = w.file(&villager, at(&w, Some(latitude))).await.unwrap();
        assert!(
            request.possible_duplicates.is_empty(),
            "villagers are not shown others' requests"
        );
        filed.push((request.service_request.unwrap(), villager));
    }
    let (a, b, c) = (
        filed[0].0.id.clone(),
        filed[1].0.id.clone(),
        filed[2].0.id.clone(),
    );
    // D, a caller without a place, filed by the official, who is shown A, B and C.
    let mut walk_in = at(&w, None);
    {
        let request = walk_in.service_request.as_mut().unwrap();
        request.contact_name = "吴阿姨".into();
        request.contact_phone = "13800002222".into();
        request.on_behalf_consent = "电话中口头同意".into();
        request.channel = pb::RequestChannel::Phone as i32;
    }
    let d = w.file(&official, walk_in).await.unwrap();
    let mut shown: Vec<String> = d
        .possible_duplicates
        .iter()
        .map(|candidate| candidate.request.as_ref().unwrap().id.clone())
        .collect();
    shown.sort();
    let mut abc = vec![a.clone(), b.clone(), c.clone()];
    abc.sort();
    assert_eq!(shown, abc);
    let d = d.service_request.unwrap().id;
    // E, of another type.
    let villager = w
        .app
        .token(&Uuid::now_v7().to_string(), &[(Role::Resident, VILLAGE)]);
    let e = w
        .file(&villager, broken_well(&other_type.id, VILLAGE, "2"))
        .await
        .unwrap()
        .service_request
        .unwrap()
        .id;

    // A's candidates with the area's 200 m: B (about 50 m), then D (no place to measure).
    let candidates = |max: i32| pb::ListDuplicateCandidatesRequest {
        service_request_id: a.clone(),
        max_distance_metres: max,
        ..Default::default()
    };
    let found = w
        .client
        .list_duplicate_candidates(w.app.request(candidates(0), &official))
        .await
        .unwrap()
        .into_inner()
        .candidates;
    let ids: Vec<&str> = found
        .iter()
        .map(|c| c.request.as_ref().unwrap().id.as_str())
        .collect();
    assert_eq!(ids, [b.as_str(), d.as_str()]);
    let metres = found[0].distance_metres.unwrap();
    assert!((metres - 50.0).abs() < 1.0, "{metres}");
    assert_eq!(found[1].distance_metres, None);
    let wider = w
        .client
        .list_duplicate_candidates(w.app.request(candidates(2000), &official))
        .await
        .unwrap()
        .into_inner()
        .candidates;
    assert_eq!(wider.len(), 3, "C joins within 2 km");
    // A requester does not look for duplicates.
    assert_refused(
        w.client
            .list_duplicate_candidates(w.app.request(candidates(0), &filed[0].1))
            .await,
        Code::PermissionDenied,
        "OFFICIALS_ONLY",
    );

    // B merged into A: B's requester follows A; both timelines say so.
    let merge = |primary: &str, duplicate: &str| pb::MergeServiceRequestsRequest {
        request_id: request_id(),
        primary_service_request_id: primary.into(),
        duplicate_service_request_id: duplicate.into(),
        note: "同一口井，合并办理".into(),
    };
    let merged = w
        .client
        .merge_service_requests(w.app.request(merge(&a, &b), &official))
        .await
        .unwrap()
        .into_inner();
    let (primary, duplicate) = (merged.primary.unwrap(), merged.duplicate.unwrap());
    assert_eq!(duplicate.status, S::Merged as i32);
    assert_eq!(duplicate.merged_into_request_id, a);
    assert_eq!(primary.followers.len(), 1);
    assert_eq!(primary.followers[0].user_id, filed[1].0.requester_user_id);
    assert_eq!(primary.followers[0].merged_request_id, b);
    // D merged into A too: its caller's phone follows A.
    let merged = w
        .client
        .merge_service_requests(w.app.request(merge(&a, &d), &official))
        .await
        .unwrap()
        .into_inner();
    let phones: Vec<&str> = merged
        .primary
        .as_ref()
        .unwrap()
        .followers
        .iter()
        .map(|f| f.contact_phone.as_str())
        .collect();
    assert!(phones.contains(&"+8613800002222"), "{phones:?}");
    // B's requester sees B merged, in its public timeline.
    let b_timeline = w.timeline(&filed[1].1, &b).await;
    let last = b_timeline.last().unwrap();
    assert_eq!(
        (last.kind, last.related_request_id.as_str()),
        (pb::TimelineEntryKind::Merged as i32, a.as_str())
    );
    // A's requester is not told who else follows.
    assert!(w.get(&filed[0].1, &a).await.unwrap().followers.is_empty());
    // B's requester follows A: they read it (not who filed it, what they filled in, nor who
    // else follows), find it in their own list beside B, and read its public timeline; C's
    // requester is told it does not exist, and a follower does not rate it.
    let followed = w.get(&filed[1].1, &a).await.unwrap();
    assert_eq!(followed.id, a);
    assert_eq!(followed.status, S::Submitted as i32);
    assert_eq!(followed.requester_user_id, "");
    assert!(followed.followers.is_empty() && followed.field_values.is_empty());
    let theirs: Vec<String> = w
        .list(&filed[1].1, pb::ListServiceRequestsRequest::default())
        .await
        .unwrap()
        .into_iter()
        .map(|request| request.id)
        .collect();
    assert!(theirs.contains(&a) && theirs.contains(&b), "{theirs:?}");
    assert_eq!(theirs.len(), 2);
    assert_eq!(
        w.timeline(&filed[1].1, &a).await[0].kind,
        pb::TimelineEntryKind::Submitted as i32
    );
    assert_refused(w.get(&filed[2].1, &a).await, Code::NotFound, "");

    // Refusals: merged again, into itself, another type.
    assert_refused(
        w.client
            .merge_service_requests(w.app.request(merge(&a, &b), &official))
            .await,
        Code::FailedPrecondition,
        "REQUEST_FINAL",
    );
    let refused = w
        .client
        .merge_service_requests(w.app.request(merge(&a, &a), &official))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["duplicate_service_request_id"]);
    assert_refused(
        w.client
            .merge_service_requests(w.app.request(merge(&a, &e), &official))
            .await,
        Code::FailedPrecondition,
        "NOT_ALIKE",
    );
    assert_eq!(
        published(&w.app, "governance", "governance.request.merged").await,
        2
    );
}

#[tokio::test]
async fn the_requester_edits_until_taken_up_and_officials_set_the_priority() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let (_, villager) = w.villager.clone();
    let official = w.village_official.clone();
    let first = w.upload(&villager, jpeg()).await.unwrap();
    let mut filing = broken_well(&well.id, VILLAGE, "3");
    filing.service_request.as_mut().unwrap().photos = vec![common::MediaRef {
        id: first.id.clone(),
        ..Default::default()
    }];
    let id = w
        .file(&villager, filing)
        .await
        .unwrap()
        .service_request
        .unwrap()
        .id;
    let edit = |request: pb::ServiceRequest, paths: &[&str]| pb::UpdateServiceRequestRequest {
        request_id: request_id(),
        service_request: Some(pb::ServiceRequest {
            id: id.clone(),
            ..request
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    // The villager corrects the well's number, the description and swaps the photo.
    let second = w.upload(&villager, jpeg()).await.unwrap();
    let edited = w
        .client
        .update_service_request(w.app.request(
            edit(
                pb::ServiceRequest {
                    description: "三组村口的水井，水是浑的".into(),
                    field_values: [("well_number".to_owned(), "4".to_owned())].into(),
                    photos: vec![common::MediaRef {
                        id: second.id.clone(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                &["description", "field_values", "photos"],
            ),
            &villager,
        ))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(edited.description, "三组村口的水井，水是浑的");
    assert_eq!(edited.field_values["well_number"], "4");
    assert_eq!(
        edited
            .photos
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        [second.id.as_str()]
    );
    assert_eq!(edited.version, 2);
    // A value the type refuses, a path that cannot change.
    let refused = w
        .client
        .update_service_request(w.app.request(
            edit(
                pb::ServiceRequest {
                    field_values: [("well_number".to_owned(), "0".to_owned())].into(),
                    ..Default::default()
                },
                &["field_values", "status"],
            ),
            &villager,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["update_mask"]);
    let refused = w
        .client
        .update_service_request(w.app.request(
            edit(
                pb::ServiceRequest {
                    field_values: [("well_number".to_owned(), "0".to_owned())].into(),
                    ..Default::default()
                },
                &["field_values"],
            ),
            &villager,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["service_request.field_values[\"well_number\"]"]
    );
    // The official sets the priority, but does not rewrite what the villager said.
    let urgent = pb::ServiceRequest {
        priority: pb::RequestPriority::Urgent as i32,
        ..Default::default()
    };
    let prioritised = w
        .client
        .update_service_request(
            w.app
                .request(edit(urgent.clone(), &["priority"]), &official),
        )
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(prioritised.priority, pb::RequestPriority::Urgent as i32);
    assert_refused(
        w.client
            .update_service_request(w.app.request(
                edit(
                    pb::ServiceRequest {
                        description: "改写".into(),
                        ..Default::default()
                    },
                    &["description"],
                ),
                &official,
            ))
            .await,
        Code::PermissionDenied,
        "REQUESTER_ONLY",
    );
    assert_refused(
        w.client
            .update_service_request(w.app.request(edit(urgent, &["priority"]), &villager))
            .await,
        Code::PermissionDenied,
        "OFFICIALS_ONLY",
    );
    // Taken up: the villager's edits stop.
    w.change(
        &official,
        &id,
        S::Acknowledged,
        "",
        pb::NoteVisibility::Public,
    )
    .await
    .unwrap();
    assert_refused(
        w.client
            .update_service_request(w.app.request(
                edit(
                    pb::ServiceRequest {
                        description: "再改".into(),
                        ..Default::default()
                    },
                    &["description"],
                ),
                &villager,
            ))
            .await,
        Code::FailedPrecondition,
        "REQUEST_NOT_EDITABLE",
    );
    assert_eq!(
        published(&w.app, "governance", "governance.request.updated").await,
        2
    );
    let edits = w
        .timeline(&villager, &id)
        .await
        .iter()
        .filter(|e| e.kind == pb::TimelineEntryKind::Edited as i32)
        .count();
    assert_eq!(edits, 2);
}

#[tokio::test]
async fn a_request_is_assigned_only_to_an_official_of_the_area_responsible() {
    let mut w = World::with_identity().await;
    let well = w.well_type(48, 0).await;
    let (_, villager) = w.villager.clone();
    let official = w.village_official.clone();
    let id = w
        .file(&villager, broken_well(&well.id, VILLAGE, "6"))
        .await
        .unwrap()
        .service_request
        .unwrap()
        .id;
    // Two accounts with grants in identity: an official of 余村 and one of the neighbour.
    let ours = w
        .app
        .seed_user(
            "+8613800138101",
            "余村干部",
            &[(Role::VillageOfficial, VILLAGE)],
        )
        .await;
    let theirs = w
        .app
        .seed_user(
            "+8613800138102",
            "邻村干部",
            &[(Role::VillageOfficial, NEIGHBOUR)],
        )
        .await;
    let db = w.db.clone();
    terrace_testkit::eventually("both grants projected", Duration::from_secs(20), || async {
        let sql = format!(
            "SELECT count(*) AS n FROM known_grants WHERE user_id IN ('{}', '{}')",
            ours.id, theirs.id
        );
        let n: i64 = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        (n == 2).then_some(())
    })
    .await;
    let assign = |assignee: &str| pb::AssignServiceRequestRequest {
        request_id: request_id(),
        service_request_id: id.clone(),
        assignee_user_id: assignee.into(),
        note: "请你跟进".into(),
    };
    let assigned = w
        .client
        .assign_service_request(w.app.request(assign(&ours.id.to_string()), &official))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(assigned.assignee_user_id, ours.id.to_string());
    assert_refused(
        w.client
            .assign_service_request(w.app.request(assign(&theirs.id.to_string()), &official))
            .await,
        Code::FailedPrecondition,
        "ASSIGNEE_NOT_AN_OFFICIAL",
    );
    assert_refused(
        w.client
            .assign_service_request(
                w.app
                    .request(assign(&Uuid::now_v7().to_string()), &official),
            )
            .await,
        Code::FailedPrecondition,
        "ASSIGNEE_NOT_AN_OFFICIAL",
    );
    // The villager does not assign; unassigning leaves it with nobody.
    assert_refused(
        w.client
            .assign_service_request(w.app.request(assign(""), &villager))
            .await,
        Code::PermissionDenied,
        "OFFICIALS_ONLY",
    );
    let unassigned = w
        .client
        .assign_service_request(w.app.request(assign(""), &official))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(unassigned.assignee_user_id, "");
    // The inbox of the one assigned, then of nobody.
    let mine = w
        .list(
            &official,
            pb::ListServiceRequestsRequest {
                area: Some(AdminScope::parse(VILLAGE).unwrap().to_proto()),
                assignee_user_id: "-".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        published(&w.app, "governance", "governance.request.assigned").await,
        2
    );
    // Assignments are the officials' business: not in the requester's timeline.
    assert!(
        w.timeline(&villager, &id)
            .await
            .iter()
            .all(|e| e.kind != pb::TimelineEntryKind::Assigned as i32)
    );
}

#[tokio::test]
async fn the_dashboard_counts_open_requests_ages_compliance_and_new_ones_per_day() {
    use terrace_governance::requests::sla::ESCALATION_JOB;
    let mut w = World::new().await;
    // Four days to resolve.
    let well = w.well_type(96, 0).await;
    let monday = china("2027-01-11T09:00:00+08:00");
    let day = chrono::Duration::days(1);
    let mut ids = Vec::new();
    // Monday: two requests; Tuesday: one; Thursday: one.
    for (at, count) in [(monday, 2), (monday + day, 1), (monday + day * 3, 1)] {
        w.app.clock.set(at);
        let villager = w
            .app
            .token(&w.villager.0.to_string(), &[(Role::Resident, VILLAGE)]);
        for _ in 0..count {
            let filed = w
                .file(&villager, broken_well(&well.id, VILLAGE, "1"))
                .await
                .unwrap()
                .service_request
                .unwrap();
            ids.push(filed.id);
        }
    }
    let resolve = async |w: &mut World, token: &str, id: &str| {
        for to in [S::Acknowledged, S::InProgress] {
            w.change(token, id, to, "", pb::NoteVisibility::Public)
                .await
                .unwrap();
        }
        w.change(token, id, S::Resolved, "好了", pb::NoteVisibility::Public)
            .await
            .unwrap();
    };
    // Thursday 10:00: the first is resolved in time (due Friday 09:00).
    w.app
        .clock
        .set(monday + day * 3 + chrono::Duration::hours(1));
    let official = w.token(Role::VillageOfficial, VILLAGE);
    resolve(&mut w, &official, &ids[0]).await;
    // Saturday 10:00: the second and third were escalated to the township on the way; the
    // township resolves the second, a day late.
    w.move_clock_and_run(
        monday + day * 5 + chrono::Duration::hours(1),
        ESCALATION_JOB.job,
    )
    .await;
    let township = w.token(Role::TownshipOfficial, TOWNSHIP);
    resolve(&mut w, &township, &ids[1]).await;

    let stats_of = async |w: &mut World, township: &str| {
        w.client
            .get_service_request_stats(w.app.request(
                pb::GetServiceRequestStatsRequest {
                    area: Some(AdminScope::parse(TOWNSHIP).unwrap().to_proto()),
                    range: Some(common::DateRange {
                        start_date: Some(common::Date {
                            year: 2027,
                            month: 1,
                            day: 10,
                        }),
                        end_date: Some(common::Date {
                            year: 2027,
                            month: 1,
                            day: 16,
                        }),
                    }),
                },
                township,
            ))
            .await
            .unwrap()
            .into_inner()
    };
    let compliance = async |w: &mut World, township: &str| {
        let stats = stats_of(w, township).await;
        assert_eq!(stats.sla_by_village.len(), 1);
        (stats.sla_by_village[0].due, stats.sla_by_village[0].met)
    };
    let stats = stats_of(&mut w, &township).await;
    // Open: the third (Tuesday's, escalated) and the fourth, both submitted; neither overdue
    // (the escalation gave the third a new period).
    assert_eq!(
        stats
            .open_by_status
            .iter()
            .map(|s| (s.status, s.count))
            .collect::<Vec<_>>(),
        [(S::Submitted as i32, 2)]
    );
    assert_eq!(stats.overdue, 0);
    let ages: Vec<i32> = stats.open_by_age.iter().map(|a| a.count).collect();
    assert_eq!(ages, [0, 1, 1, 0, 0], "49 and 97 hours old");
    // Due (as filed) in the range: the first three; met: only the first, though the second was
    // resolved before its escalated due time.
    assert_eq!(stats.sla_by_village.len(), 1);
    let village = &stats.sla_by_village[0];
    assert_eq!((village.due, village.met), (3, 1));
    // New per day, every day of the range listed.
    let per_day: Vec<i32> = stats.new_by_day.iter().map(|d| d.count).collect();
    assert_eq!(per_day, [0, 2, 1, 0, 1, 0, 0]);
    // The fourth, due on Monday after the range, resolved today: settled in time in the range.
    let official = w.token(Role::VillageOfficial, VILLAGE);
    resolve(&mut w, &official, &ids[3]).await;
    assert_eq!(compliance(&mut w, &township).await, (4, 2));
    // The third rejected: no matter of the SLA.
    w.change(
        &township,
        &ids[2],
        S::Rejected,
        "不属于村里的事务",
        pb::NoteVisibility::Public,
    )
    .await
    .unwrap();
    assert_eq!(compliance(&mut w, &township).await, (3, 2));
    // The first reopened by its requester: no longer settled in time.
    let villager = w
        .app
        .token(&w.villager.0.to_string(), &[(Role::Resident, VILLAGE)]);
    w.client
        .reopen_service_request(w.app.request(
            pb::ReopenServiceRequestRequest {
                request_id: request_id(),
                service_request_id: ids[0].clone(),
                reason: "又坏了".into(),
            },
            &villager,
        ))
        .await
        .unwrap();
    assert_eq!(compliance(&mut w, &township).await, (3, 1));
    // A village official does not read the township's figures.
    let official = w.token(Role::VillageOfficial, VILLAGE);
    assert_refused(
        w.client
            .get_service_request_stats(w.app.request(
                pb::GetServiceRequestStatsRequest {
                    area: Some(AdminScope::parse(TOWNSHIP).unwrap().to_proto()),
                    range: None,
                },
                &official,
            ))
            .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
}

/// What a caller is answered: `Ok`, or the refusal's code and reason.
fn outcome<T>(result: Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), reason(&status)),
    }
}

#[tokio::test]
async fn who_may_do_what_with_a_request() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let (villager_id, villager) = w.villager.clone();
    let id = w
        .file(&villager, broken_well(&well.id, VILLAGE, "8"))
        .await
        .unwrap()
        .service_request
        .unwrap()
        .id;
    let agency = |scope: &str| {
        w.app
            .issuer
            .build(&Uuid::now_v7().to_string())
            .agency(&[scope])
            .grants(&[(Role::VillageOfficial, VILLAGE)])
            .sign()
    };
    let helper = w
        .app
        .issuer
        .build(&villager_id.to_string())
        .actor(&Uuid::now_v7().to_string())
        .api_scopes(&["governance.requests:write"])
        .grants(&[(Role::Resident, VILLAGE)])
        .sign();
    let callers = [
        ("requester", villager.clone()),
        ("helper of the requester", helper),
        ("another villager", w.token(Role::Resident, VILLAGE)),
        ("village official", w.village_official.clone()),
        (
            "other village's official",
            w.token(Role::VillageOfficial, NEIGHBOUR),
        ),
        ("township official", w.township.clone()),
        ("county admin", w.token(Role::CountyAdmin, COUNTY)),
        ("agency reading", agency("governance.requests:read")),
        ("agency writing", agency("governance.requests:write")),
        (
            "agency of the register",
            agency("governance.register:write"),
        ),
    ];
    let ok = (Code::Ok, String::new());
    let nf = (Code::NotFound, String::new());
    let pd = |reason: &str| (Code::PermissionDenied, reason.to_owned());
    let aborted = (Code::Aborted, "STATUS_CHANGED".to_owned());
    let area = Some(AdminScope::parse(VILLAGE).unwrap().to_proto());
    for (who, token) in &callers {
        let get = outcome(w.get(token, &id).await);
        let timeline = outcome(
            w.client
                .list_service_request_timeline(w.app.request(
                    pb::ListServiceRequestTimelineRequest {
                        service_request_id: id.clone(),
                        ..Default::default()
                    },
                    token,
                ))
                .await,
        );
        let note = outcome(
            w.client
                .add_service_request_note(w.app.request(
                    pb::AddServiceRequestNoteRequest {
                        request_id: request_id(),
                        service_request_id: id.clone(),
                        note: "补充说明".into(),
                        visibility: pb::NoteVisibility::Public as i32,
                        photos: Vec::new(),
                    },
                    token,
                ))
                .await,
        );
        // A guard that cannot hold: whoever may move it is told the status changed, and
        // nothing moves.
        let change = outcome(
            w.client
                .change_service_request_status(w.app.request(
                    pb::ChangeServiceRequestStatusRequest {
                        request_id: request_id(),
                        service_request_id: id.clone(),
                        status: S::Acknowledged as i32,
                        note: String::new(),
                        note_visibility: 0,
                        expected_status: S::Resolved as i32,
                    },
                    token,
                ))
                .await,
        );
        let priority = outcome(
            w.client
                .update_service_request(w.app.request(
                    pb::UpdateServiceRequestRequest {
                        request_id: request_id(),
                        service_request: Some(pb::ServiceRequest {
                            id: id.clone(),
                            priority: pb::RequestPriority::High as i32,
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["priority".into()],
                        }),
                    },
                    token,
                ))
                .await,
        );
        let list = outcome(
            w.list(
                token,
                pb::ListServiceRequestsRequest {
                    area: area.clone(),
                    ..Default::default()
                },
            )
            .await,
        );
        let stats = outcome(
            w.client
                .get_service_request_stats(w.app.request(
                    pb::GetServiceRequestStatsRequest {
                        area: area.clone(),
                        range: None,
                    },
                    token,
                ))
                .await,
        );
        let expected = match *who {
            "requester" | "helper of the requester" => [
                ok.clone(),
                ok.clone(),
                ok.clone(),
                pd("OFFICIALS_ONLY"),
                pd("OFFICIALS_ONLY"),
                pd("OUTSIDE_YOUR_AREA"),
                pd("OUTSIDE_YOUR_AREA"),
            ],
            "another villager" | "other village's official" | "agency of the register" => [
                nf.clone(),
                nf.clone(),
                nf.clone(),
                nf.clone(),
                nf.clone(),
                pd("OUTSIDE_YOUR_AREA"),
                pd("OUTSIDE_YOUR_AREA"),
            ],
            "agency reading" => [
                ok.clone(),
                ok.clone(),
                pd("NOT_RESPONSIBLE"),
                pd("NOT_RESPONSIBLE"),
                pd("NOT_RESPONSIBLE"),
                ok.clone(),
                ok.clone(),
            ],
            _ => [
                ok.clone(),
                ok.clone(),
                ok.clone(),
                aborted.clone(),
                ok.clone(),
                ok.clone(),
                ok.clone(),
            ],
        };
        assert_eq!(
            [get, timeline, note, change, priority, list, stats],
            expected,
            "{who}: get, timeline, note, change, priority, list, stats"
        );
    }
    // Nothing moved: still submitted.
    let seen = w.get(&w.village_official.clone(), &id).await.unwrap();
    assert_eq!(seen.status, S::Submitted as i32);
}

/// An agency that names nobody files its own request (what an Open311 report is): nobody to
/// answer but the agency, under the same area rule as filing for someone.
#[tokio::test]
async fn an_agency_naming_nobody_files_its_own_request() {
    let mut w = World::new().await;
    let well = w.well_type(48, 0).await;
    let agency = |scope: &str, village: &str| {
        w.app
            .issuer
            .build(&Uuid::now_v7().to_string())
            .agency(&[scope])
            .grants(&[(Role::VillageOfficial, village)])
            .sign()
    };
    let (writer, reader, elsewhere) = (
        agency("governance.requests:write", VILLAGE),
        agency("governance.requests:read", VILLAGE),
        agency("governance.requests:write", NEIGHBOUR),
    );
    let filed = w
        .file(&writer, broken_well(&well.id, VILLAGE, "4"))
        .await
        .unwrap()
        .service_request
        .unwrap();
    assert_eq!(filed.channel, pb::RequestChannel::Agency as i32);
    assert_eq!(
        (
            filed.requester_user_id.as_str(),
            filed.contact_name.as_str(),
            filed.contact_phone.as_str(),
            filed.on_behalf_consent.as_str()
        ),
        ("", "", "", "")
    );
    assert_eq!(
        w.count("SELECT count(*) AS n FROM audit_entries WHERE action = 'service_request.filed'")
            .await,
        1,
        "an agency's filing is audited"
    );
    let before = w.count("SELECT count(*) AS n FROM service_requests").await;
    let mut walk_in = broken_well(&well.id, VILLAGE, "4");
    walk_in.service_request.as_mut().unwrap().channel = pb::RequestChannel::WalkIn as i32;
    let refused = w.file(&writer, walk_in).await.unwrap_err();
    assert_eq!(violated_fields(&refused), ["service_request.channel"]);
    for token in [&reader, &elsewhere] {
        assert_refused(
            w.file(token, broken_well(&well.id, VILLAGE, "4")).await,
            Code::PermissionDenied,
            "OUTSIDE_YOUR_AREA",
        );
    }
    assert_eq!(
        w.count("SELECT count(*) AS n FROM service_requests").await,
        before
    );
    // Merged into a villager's report of the same well, it leaves nobody to keep informed.
    let (_, villager) = w.villager.clone();
    let reported = w
        .file(&villager, broken_well(&well.id, VILLAGE, "4"))
        .await
        .unwrap()
        .service_request
        .unwrap();
    let official = w.village_official.clone();
    let merged = w
        .client
        .merge_service_requests(w.app.request(
            pb::MergeServiceRequestsRequest {
                request_id: request_id(),
                primary_service_request_id: reported.id.clone(),
                duplicate_service_request_id: filed.id.clone(),
                note: "同一口井".into(),
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.duplicate.unwrap().status, S::Merged as i32);
    assert!(merged.primary.unwrap().followers.is_empty());
}
