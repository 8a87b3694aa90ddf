//! The catalogue of request types, the areas' settings and the working calendar over gRPC: who
//! defines what for whom, what a village is offered, settings inherited field by field, and due
//! times counted in working days against national and local holidays.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use terrace_governance::Governance;
use terrace_governance::request_settings::calendar;
use terrace_governance::request_types::parse::Sla;
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::service::ServiceDef;
use terrace_platform::validate::to_date;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::RequestFieldType as Kind;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_proto::identity::v1::Role as RoleProto;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::{assert_refused, request_id, violated_fields};
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

/// 余村, of 天荒坪镇, of 安吉县.
const VILLAGE: &str = "330523108204";
const TOWNSHIP: &str = "330523108";
/// Another township of 安吉县.
const OTHER_TOWNSHIP: &str = "330523101";
const COUNTY: &str = "330523";

struct World {
    app: TestApp,
    db: DatabaseConnection,
    client: GovernanceServiceClient<Channel>,
}

impl World {
    async fn new() -> Self {
        let app = TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
            settings.services.insert(
                "governance".into(),
                serde_json::json!({ "demo_divisions": true }),
            );
        })
        .await;
        let db = app.ctx.database("governance").await;
        let client = GovernanceServiceClient::new(app.channel().await);
        Self { app, db, client }
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

    async fn create(
        &mut self,
        token: &str,
        request_type: pb::RequestType,
    ) -> Result<pb::RequestType, tonic::Status> {
        self.create_as(token, request_type, &request_id()).await
    }

    async fn create_as(
        &mut self,
        token: &str,
        request_type: pb::RequestType,
        request_id: &str,
    ) -> Result<pb::RequestType, tonic::Status> {
        let request = pb::CreateRequestTypeRequest {
            request_id: request_id.into(),
            request_type: Some(request_type),
        };
        Ok(self
            .client
            .create_request_type(self.app.request(request, token))
            .await?
            .into_inner()
            .request_type
            .unwrap())
    }

    async fn update(
        &mut self,
        token: &str,
        request_type: pb::RequestType,
        paths: &[&str],
    ) -> Result<pb::RequestType, tonic::Status> {
        let request = pb::UpdateRequestTypeRequest {
            request_id: request_id(),
            request_type: Some(request_type),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        Ok(self
            .client
            .update_request_type(self.app.request(request, token))
            .await?
            .into_inner()
            .request_type
            .unwrap())
    }

    async fn offered(&mut self, token: &str, village: &str, inactive: bool) -> Vec<String> {
        let request = pb::ListRequestTypesRequest {
            village_code: village.into(),
            include_inactive: inactive,
            ..Default::default()
        };
        self.client
            .list_request_types(self.app.request(request, token))
            .await
            .unwrap()
            .into_inner()
            .request_types
            .into_iter()
            .map(|t| t.code)
            .collect()
    }

    async fn settings(&mut self, token: &str, area: &str) -> pb::GetRequestAreaSettingsResponse {
        let request = pb::GetRequestAreaSettingsRequest {
            area: Some(scope(area)),
        };
        self.client
            .get_request_area_settings(self.app.request(request, token))
            .await
            .unwrap()
            .into_inner()
    }

    async fn set_settings(
        &mut self,
        token: &str,
        area: &str,
        values: [i32; 3],
        paths: &[&str],
    ) -> Result<pb::RequestAreaSettings, tonic::Status> {
        let request = pb::UpdateRequestAreaSettingsRequest {
            request_id: request_id(),
            settings: Some(pb::RequestAreaSettings {
                area: Some(scope(area)),
                reopen_window_days: values[0],
                duplicate_radius_metres: values[1],
                duplicate_window_days: values[2],
                audit: None,
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        };
        Ok(self
            .client
            .update_request_area_settings(self.app.request(request, token))
            .await?
            .into_inner()
            .settings
            .unwrap())
    }

    async fn set_days(
        &mut self,
        token: &str,
        area: Option<&str>,
        range: (&str, &str),
        days: &[(&str, bool, &str)],
    ) -> Result<Vec<pb::WorkingCalendarDay>, tonic::Status> {
        let request = pb::SetWorkingCalendarDaysRequest {
            request_id: request_id(),
            range: Some(common::DateRange {
                start_date: Some(to_date(day(range.0))),
                end_date: Some(to_date(day(range.1))),
            }),
            area: area.map(scope),
            days: days
                .iter()
                .map(|(date, working, name)| pb::WorkingCalendarDay {
                    date: Some(to_date(day(date))),
                    working: *working,
                    name: zh(name),
                    area: None,
                })
                .collect(),
        };
        Ok(self
            .client
            .set_working_calendar_days(self.app.request(request, token))
            .await?
            .into_inner()
            .days)
    }
}

/// Every field violation of `refused` carries a zh-CN text (the catalog has it).
#[track_caller]
fn all_in_chinese(refused: &tonic::Status) {
    let details = tonic_types::StatusExt::get_error_details(refused);
    for violation in &details.bad_request().unwrap().field_violations {
        let localized = violation.localized_message.as_ref();
        assert!(
            localized.is_some_and(|m| m.locale == "zh-CN" && m.message != violation.description),
            "{violation:?} has no Chinese text"
        );
    }
}

fn scope(area: &str) -> common::AdminCode {
    AdminScope::parse(area).unwrap().to_proto()
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn zh(text: &str) -> Option<common::LocalizedText> {
    Some(common::LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    })
}

/// A type of `area` with a required text field, a multi-choice and a working-day SLA.
fn well_type(area: &str, code: &str, group: &str) -> pb::RequestType {
    pb::RequestType {
        area: Some(scope(area)),
        code: code.into(),
        name: zh("水井损坏"),
        description: zh("村里的水井坏了、水浑或没水"),
        group: group.into(),
        fields: vec![
            pb::RequestFieldDefinition {
                key: "well_number".into(),
                label: zh("水井编号"),
                r#type: Kind::Text as i32,
                required: true,
                pattern: "[0-9]{1,3}".into(),
                ..Default::default()
            },
            pb::RequestFieldDefinition {
                key: "symptoms".into(),
                label: zh("症状"),
                r#type: Kind::MultiChoice as i32,
                options: ["dry", "muddy", "broken_pump"]
                    .into_iter()
                    .map(|value| pb::RequestFieldOption {
                        value: value.into(),
                        label: zh(value),
                    })
                    .collect(),
                max_choices: 2,
                ..Default::default()
            },
        ],
        responsible_role: RoleProto::VillageOfficial as i32,
        sla_working_days: 3,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_township_defines_types_its_villages_are_offered_and_changes_them() {
    let mut w = World::new().await;
    let township = w.token(Role::TownshipOfficial, TOWNSHIP);
    let county = w.token(Role::CountyAdmin, COUNTY);
    let village_official = w.token(Role::VillageOfficial, VILLAGE);
    let villager = w.token(Role::Resident, VILLAGE);

    let first = request_id();
    let well = w
        .create_as(&township, well_type(TOWNSHIP, "well", "water"), &first)
        .await
        .unwrap();
    assert_eq!(
        (
            well.version,
            well.active,
            well.sla_working_days,
            well.sla_hours
        ),
        (1, true, 3, 0)
    );
    assert_eq!(well.fields.len(), 2);
    assert_eq!(well.area.as_ref().unwrap().code, "330523108000");
    // A retry of the same create gets the same type.
    let again = w
        .create_as(&township, well_type(TOWNSHIP, "well", "water"), &first)
        .await
        .unwrap();
    assert_eq!(again.id, well.id);
    let mut road = well_type(COUNTY, "road", "infrastructure");
    road.sla_working_days = 0;
    road.sla_hours = 72;
    road.responsible_role = RoleProto::TownshipOfficial as i32;
    let road = w.create(&county, road).await.unwrap();

    // The code is taken in the township; the same code elsewhere is another type.
    let taken = w
        .create(&township, well_type(TOWNSHIP, "well", "water"))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists, "{taken:?}");
    w.create(&county, well_type(COUNTY, "well", "water"))
        .await
        .unwrap();

    // Who may define: not a village official, not a township for another township or its county.
    assert_refused(
        w.create(&village_official, well_type(VILLAGE, "lamp", "roads"))
            .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    assert_refused(
        w.create(&township, well_type(OTHER_TOWNSHIP, "lamp", "roads"))
            .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    assert_refused(
        w.create(&township, well_type(COUNTY, "lamp", "roads"))
            .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );

    // 余村 is offered the county's and the township's types, by group then code; a village of
    // another township only the county's.
    assert_eq!(
        w.offered(&villager, VILLAGE, false).await,
        ["road", "well", "well"]
    );
    let elsewhere = format!("{OTHER_TOWNSHIP}001");
    assert_eq!(
        w.offered(&villager, &elsewhere, false).await,
        ["road", "well"]
    );
    let defined = w
        .client
        .list_request_types(w.app.request(
            pb::ListRequestTypesRequest {
                defined_in: Some(scope(TOWNSHIP)),
                ..Default::default()
            },
            &township,
        ))
        .await
        .unwrap()
        .into_inner()
        .request_types;
    assert_eq!(
        defined.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [well.id.as_str()]
    );

    // Deactivated and renamed: version 2, gone from the offer, listed for officials who ask.
    let changed = w
        .update(
            &township,
            pb::RequestType {
                id: well.id.clone(),
                name: zh("饮用水井"),
                active: false,
                ..Default::default()
            },
            &["active", "name"],
        )
        .await
        .unwrap();
    assert_eq!(changed.version, 2);
    assert!(!changed.active);
    assert_eq!(changed.name.unwrap().translations["zh-CN"], "饮用水井");
    assert_eq!(changed.fields.len(), 2, "fields not in the mask stay");
    assert_eq!(w.offered(&villager, VILLAGE, false).await, ["road", "well"]);
    assert_eq!(w.offered(&township, VILLAGE, true).await.len(), 3);
    // The county changes the road type; the township may not.
    assert_refused(
        w.update(
            &township,
            pb::RequestType {
                id: road.id.clone(),
                group: "roads".into(),
                ..Default::default()
            },
            &["group"],
        )
        .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    let fetched = w
        .client
        .get_request_type(w.app.request(
            pb::GetRequestTypeRequest {
                request_type_id: road.id.clone(),
            },
            &villager,
        ))
        .await
        .unwrap()
        .into_inner()
        .request_type
        .unwrap();
    assert_eq!(
        (fetched.group.as_str(), fetched.sla_hours),
        ("infrastructure", 72)
    );

    // Events, snapshots, audit entries: three creates and one update.
    use terrace_testkit::events::published;
    assert_eq!(
        published(&w.app, "governance", "governance.request_type.created").await,
        3
    );
    assert_eq!(
        published(&w.app, "governance", "governance.request_type.updated").await,
        1
    );
    assert_eq!(
        published(&w.app, "governance", "state.governance.request_type.>").await,
        3,
        "one snapshot per type: the latest"
    );
    assert_eq!(
        w.count("SELECT count(*) AS n FROM audit_entries WHERE action LIKE 'request_type.%'")
            .await,
        4
    );
}

#[tokio::test]
async fn bad_types_are_refused_field_by_field_and_nothing_is_made() {
    let mut w = World::new().await;
    let township = w.token(Role::TownshipOfficial, TOWNSHIP);
    let mut bad = well_type(TOWNSHIP, "Well Type", "water");
    bad.name = None;
    bad.responsible_role = RoleProto::Resident as i32;
    bad.sla_hours = 10;
    bad.fields[0].r#type = Kind::Choice as i32;
    bad.fields[1].key = "well_number".into();
    // Asked in Chinese, every violation is answered in Chinese too.
    let mut request = w.app.request(
        pb::CreateRequestTypeRequest {
            request_id: request_id(),
            request_type: Some(bad),
        },
        &township,
    );
    request
        .metadata_mut()
        .insert("accept-language", "zh-CN,zh;q=0.9".parse().unwrap());
    let refused = w.client.create_request_type(request).await.unwrap_err();
    all_in_chinese(&refused);
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "request_type.code",
            "request_type.fields[0].options",
            "request_type.fields[0].pattern",
            "request_type.fields[1].key",
            "request_type.name.translations",
            "request_type.responsible_role",
            "request_type.sla_working_days",
        ]
    );
    assert_eq!(w.count("SELECT count(*) AS n FROM request_types").await, 0);

    // An update naming nothing it may change.
    let well = w
        .create(&township, well_type(TOWNSHIP, "well", "water"))
        .await
        .unwrap();
    let refused = w
        .update(
            &township,
            pb::RequestType {
                id: well.id.clone(),
                code: "other".into(),
                ..Default::default()
            },
            &["code"],
        )
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["update_mask"]);
    let unknown = w
        .update(
            &township,
            pb::RequestType {
                id: Uuid::now_v7().to_string(),
                active: false,
                ..Default::default()
            },
            &["active"],
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

/// Whether a type's requests are listed publicly (Open311) is its owner's choice: unlisted
/// unless said, set at creation or through the mask, with a version like any change.
#[tokio::test]
async fn a_type_is_listed_publicly_only_when_its_owner_says_so() {
    let mut w = World::new().await;
    let township = w.token(Role::TownshipOfficial, TOWNSHIP);
    let villager = w.token(Role::Resident, VILLAGE);
    let certificate = w
        .create(
            &township,
            well_type(TOWNSHIP, "certificate", "certificates"),
        )
        .await
        .unwrap();
    assert!(!certificate.public_listing, "not listed unless said");
    let well = w
        .create(
            &township,
            pb::RequestType {
                public_listing: true,
                ..well_type(TOWNSHIP, "well", "water")
            },
        )
        .await
        .unwrap();
    assert!(well.public_listing);
    assert_eq!(
        w.count("SELECT count(*) AS n FROM request_types WHERE public_listing")
            .await,
        1
    );

    // Another change leaves it as it was; the mask's path changes it.
    let renamed = w
        .update(
            &township,
            pb::RequestType {
                id: well.id.clone(),
                name: zh("饮用水井"),
                ..Default::default()
            },
            &["name"],
        )
        .await
        .unwrap();
    assert!(
        renamed.public_listing,
        "a change that does not name it keeps it"
    );
    let unlisted = w
        .update(
            &township,
            pb::RequestType {
                id: well.id.clone(),
                public_listing: false,
                ..Default::default()
            },
            &["public_listing"],
        )
        .await
        .unwrap();
    assert_eq!((unlisted.public_listing, unlisted.version), (false, 3));
    let fetched = w
        .client
        .get_request_type(w.app.request(
            pb::GetRequestTypeRequest {
                request_type_id: well.id.clone(),
            },
            &villager,
        ))
        .await
        .unwrap()
        .into_inner()
        .request_type
        .unwrap();
    assert!(!fetched.public_listing);
    // Only its owner changes it.
    let village_official = w.token(Role::VillageOfficial, VILLAGE);
    assert_refused(
        w.update(
            &village_official,
            pb::RequestType {
                id: certificate.id.clone(),
                public_listing: true,
                ..Default::default()
            },
            &["public_listing"],
        )
        .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    // A path it may not change names what it may, in Chinese too.
    let mut request = w.app.request(
        pb::UpdateRequestTypeRequest {
            request_id: request_id(),
            request_type: Some(pb::RequestType {
                id: well.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["code".into()],
            }),
        },
        &township,
    );
    request
        .metadata_mut()
        .insert("accept-language", "zh-CN".parse().unwrap());
    let refused = w.client.update_request_type(request).await.unwrap_err();
    all_in_chinese(&refused);
    let details = tonic_types::StatusExt::get_error_details(&refused);
    let violation = &details.bad_request().unwrap().field_violations[0];
    assert!(
        violation
            .description
            .contains("active or public_listing can"),
        "{violation:?}"
    );
}

#[tokio::test]
async fn settings_are_inherited_field_by_field_from_the_nearest_area() {
    let mut w = World::new().await;
    let county = w.token(Role::CountyAdmin, COUNTY);
    let township = w.token(Role::TownshipOfficial, TOWNSHIP);
    let village_official = w.token(Role::VillageOfficial, VILLAGE);

    let defaults = w.settings(&village_official, VILLAGE).await;
    let effective = defaults.settings.unwrap();
    assert_eq!(
        (
            effective.reopen_window_days,
            effective.duplicate_radius_metres,
            effective.duplicate_window_days
        ),
        (7, 200, 7)
    );
    assert!(defaults.own.is_none());

    w.set_settings(&county, COUNTY, [10, 0, 0], &["reopen_window_days"])
        .await
        .unwrap();
    w.set_settings(
        &township,
        TOWNSHIP,
        [0, 500, 0],
        &["duplicate_radius_metres"],
    )
    .await
    .unwrap();
    let effective = w
        .settings(&village_official, VILLAGE)
        .await
        .settings
        .unwrap();
    assert_eq!(
        (
            effective.reopen_window_days,
            effective.duplicate_radius_metres,
            effective.duplicate_window_days
        ),
        (10, 500, 7)
    );
    let own = w.settings(&township, TOWNSHIP).await.own.unwrap();
    assert_eq!(
        (own.reopen_window_days, own.duplicate_radius_metres),
        (0, 500),
        "its own settings name only what it set"
    );

    // The township sets the village's; back to inheriting with 0.
    w.set_settings(&township, VILLAGE, [3, 0, 0], &["reopen_window_days"])
        .await
        .unwrap();
    assert_eq!(
        w.settings(&village_official, VILLAGE)
            .await
            .settings
            .unwrap()
            .reopen_window_days,
        3
    );
    let back = w
        .set_settings(&township, VILLAGE, [0, 0, 0], &["reopen_window_days"])
        .await
        .unwrap();
    assert_eq!(back.reopen_window_days, 10);

    // Refusals.
    assert_refused(
        w.set_settings(
            &village_official,
            VILLAGE,
            [3, 0, 0],
            &["reopen_window_days"],
        )
        .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    assert_refused(
        w.set_settings(&township, COUNTY, [3, 0, 0], &["reopen_window_days"])
            .await,
        Code::PermissionDenied,
        "OUTSIDE_YOUR_AREA",
    );
    let refused = w
        .set_settings(
            &township,
            TOWNSHIP,
            [91, 5, 0],
            &["reopen_window_days", "duplicate_radius_metres", "sla"],
        )
        .await
        .unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "settings.duplicate_radius_metres",
            "settings.reopen_window_days",
            "update_mask"
        ]
    );
    assert_eq!(
        w.count(
            "SELECT count(*) AS n FROM audit_entries WHERE action = 'request_settings.updated'"
        )
        .await,
        4
    );
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn due_times_count_working_days_against_national_and_local_holidays() {
    let mut w = World::new().await;
    let operator = w.token(Role::PlatformAdmin, "");
    let county = w.token(Role::CountyAdmin, COUNTY);

    // National Day 2026: Thursday 1 October to Wednesday 7 October off, Saturday 10 October
    // worked in exchange (the weekend days inside are off anyway and are not listed).
    w.set_days(
        &operator,
        None,
        ("2026-01-01", "2026-12-31"),
        &[
            ("2026-10-01", false, "国庆节"),
            ("2026-10-02", false, "国庆节"),
            ("2026-10-05", false, "国庆节"),
            ("2026-10-06", false, "国庆节"),
            ("2026-10-07", false, "国庆节"),
            ("2026-10-10", true, "国庆节调休"),
        ],
    )
    .await
    .unwrap();
    // 安吉县 keeps Friday 9 October off (a local festival).
    w.set_days(
        &operator,
        Some(COUNTY),
        ("2026-10-01", "2026-10-31"),
        &[("2026-10-09", false, "安吉白茶节")],
    )
    .await
    .unwrap();

    let village = AdminScope::parse(VILLAGE).unwrap();
    let filed = at("2026-09-30T10:00:00+08:00");
    // In 余村: Thursday the 8th, then (9th off) Saturday the 10th; due at its midnight.
    let due = calendar::due_time(&w.db, Sla::WorkingDays(2), &village, filed)
        .await
        .unwrap();
    assert_eq!(due, Some(at("2026-10-11T00:00:00+08:00")));
    // In a village of another county: Thursday the 8th and Friday the 9th.
    let elsewhere = AdminScope::parse("330522100001").unwrap();
    let due = calendar::due_time(&w.db, Sla::WorkingDays(2), &elsewhere, filed)
        .await
        .unwrap();
    assert_eq!(due, Some(at("2026-10-10T00:00:00+08:00")));
    // Hours ignore the calendar; no SLA, no due time.
    let due = calendar::due_time(&w.db, Sla::Hours(48), &village, filed)
        .await
        .unwrap();
    assert_eq!(due, Some(at("2026-10-02T10:00:00+08:00")));
    assert_eq!(
        calendar::due_time(&w.db, Sla::None, &village, filed)
            .await
            .unwrap(),
        None
    );

    // The days as they apply in 余村: the country's and the county's.
    let listed = w
        .client
        .list_working_calendar_days(w.app.request(
            pb::ListWorkingCalendarDaysRequest {
                range: Some(common::DateRange {
                    start_date: Some(to_date(day("2026-10-01"))),
                    end_date: Some(to_date(day("2026-10-31"))),
                }),
                area: Some(scope(VILLAGE)),
                ..Default::default()
            },
            &county,
        ))
        .await
        .unwrap()
        .into_inner()
        .days;
    assert_eq!(listed.len(), 7);
    assert_eq!(
        listed[5].area.as_ref().map(|a| a.code.as_str()),
        Some("330523000000"),
        "the county's own day, by date"
    );

    // Setting a range again replaces that area's days in it.
    w.set_days(&operator, Some(COUNTY), ("2026-10-01", "2026-10-31"), &[])
        .await
        .unwrap();
    let due = calendar::due_time(&w.db, Sla::WorkingDays(2), &village, filed)
        .await
        .unwrap();
    assert_eq!(due, Some(at("2026-10-10T00:00:00+08:00")));

    // Only operators keep the calendar; days that change nothing or fall outside are refused.
    assert_refused(
        w.set_days(&county, Some(COUNTY), ("2026-10-01", "2026-10-31"), &[])
            .await,
        Code::PermissionDenied,
        "OPERATORS_ONLY",
    );
    let refused = w
        .set_days(
            &operator,
            None,
            ("2026-11-01", "2026-11-30"),
            &[
                ("2026-11-07", false, "周六"),
                ("2026-11-09", true, "周一"),
                ("2026-12-01", false, "范围外"),
                ("2026-11-10", false, ""),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        [
            "days[0].working",
            "days[1].working",
            "days[2].date",
            "days[3].name.translations"
        ]
    );
    assert_eq!(
        w.count("SELECT count(*) AS n FROM working_calendar_days WHERE day >= '2026-11-01'")
            .await,
        0
    );
}
