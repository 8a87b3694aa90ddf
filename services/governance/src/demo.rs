//! The demonstration county for `terrace dev --demo`: 安吉县 (Anji, Huzhou, Zhejiang), the slice of
//! the national list committed in `fixtures/admin-divisions/anji/`, built into the binary so that
//! the demo needs no files beside it.
//!
//! Imported at start when `services.governance.demo_divisions` is set and the county is not there
//! yet; a restart finds it and does nothing. With `demo_register`, three households of 余村 and their residents
//! (invented people) are registered, unless the village has households already.

use terrace_platform::auth::{AdminScope, Caller};
use terrace_platform::validate::Page;
use terrace_proto::governance::v1 as pb;
use uuid::Uuid;

use crate::divisions::{self, source};
use crate::entity::divisions::Level;
use crate::entity::households::HouseholdStatus;
use crate::register::Register;
use crate::register::national_id::with_check_digit;
use crate::register::parse::{CreateHousehold, CreateResident, ListHouseholds};

/// The county's code.
pub const COUNTY: &str = "330523";

/// The slice's files, as [`source::FILES`] names them.
const ANJI: [(&str, Level); 5] = [
    (
        include_str!("../../../fixtures/admin-divisions/anji/provinces.csv"),
        Level::Province,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/cities.csv"),
        Level::City,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/areas.csv"),
        Level::County,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/streets.csv"),
        Level::Township,
    ),
    (
        include_str!("../../../fixtures/admin-divisions/anji/villages.csv"),
        Level::Village,
    ),
];

/// Imports the county unless it is there; how many divisions were added.
pub async fn create_demo_divisions(
    db: &sea_orm::DatabaseConnection,
    event_source: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<u64> {
    if divisions::store::find(db, COUNTY).await?.is_some() {
        return Ok(0);
    }
    let levels = ANJI
        .into_iter()
        .map(|(text, level)| source::parse(text.as_bytes(), level))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = divisions::import_levels(db, event_source, levels, now, |_, _| {}).await?;
    Ok(report.added)
}

/// 余村, the demonstration village (identity's demonstration officials and farmer live there).
pub const VILLAGE: &str = "330523108204";

/// A demonstration resident: name, relationship, the first 17 digits of the national id, phone,
/// status.
type DemoResident = (
    &'static str,
    pb::HouseholdRelationship,
    &'static str,
    &'static str,
    pb::ResidentStatus,
);

/// The demonstration households of 余村: number, address, residents (invented people, with
/// numbers that pass GB 11643 but belong to nobody).
const DEMO_HOUSEHOLDS: [(&str, &str, &[DemoResident]); 3] = [
    (
        "001",
        "一组 3 号",
        &[
            (
                "李德明",
                pb::HouseholdRelationship::Head,
                "33052319580402031",
                "13900000101",
                pb::ResidentStatus::Active,
            ),
            (
                "张桂兰",
                pb::HouseholdRelationship::Spouse,
                "33052319600915042",
                "13900000102",
                pb::ResidentStatus::Active,
            ),
            (
                "李小军",
                pb::HouseholdRelationship::Child,
                "33052319860620053",
                "13900000103",
                pb::ResidentStatus::Away,
            ),
        ],
    ),
    (
        "002",
        "二组 11 号",
        &[
            (
                "陈国华",
                pb::HouseholdRelationship::Head,
                "33052319721108071",
                "13900000201",
                pb::ResidentStatus::Active,
            ),
            (
                "吴丽",
                pb::HouseholdRelationship::Spouse,
                "33052319750227082",
                "13900000202",
                pb::ResidentStatus::Active,
            ),
        ],
    ),
    (
        "003",
        "三组 5 号",
        &[(
            "周秀珍",
            pb::HouseholdRelationship::Head,
            "33052319490130024",
            "",
            pb::ResidentStatus::Active,
        )],
    ),
];

/// Registers the demonstration households of 余村 unless the village has households already;
/// how many residents were registered. Through the register's own paths (validation, sealing,
/// events, the audit log), as the job `governance.demo`.
pub async fn create_demo_register(register: &Register) -> anyhow::Result<usize> {
    let village = AdminScope::parse(VILLAGE)?;
    let caller = Caller::System {
        job: "governance.demo",
    };
    let existing = register
        .list_households(
            &caller,
            ListHouseholds {
                area: village.clone(),
                status: HouseholdStatus::Active,
                query: String::new(),
                page: Page {
                    size: 1,
                    after: None,
                },
            },
        )
        .await?;
    if !existing.0.is_empty() {
        return Ok(0);
    }
    let mut registered = 0;
    for (number, address, residents) in DEMO_HOUSEHOLDS {
        let household = register
            .create_household(
                &caller,
                CreateHousehold::parse(pb::CreateHouseholdRequest {
                    request_id: Uuid::now_v7().to_string(),
                    household: Some(pb::Household {
                        village_code: VILLAGE.to_owned(),
                        household_number: number.to_owned(),
                        address: address.to_owned(),
                        ..Default::default()
                    }),
                })?,
            )
            .await?;
        for (name, relationship, first17, phone, status) in residents.iter().copied() {
            let national_id = with_check_digit(first17)
                .ok_or_else(|| anyhow::anyhow!("a demonstration id of 17 digits"))?;
            register
                .create_resident(
                    &caller,
                    CreateResident::parse(
                        pb::CreateResidentRequest {
                            request_id: Uuid::now_v7().to_string(),
                            resident: Some(pb::Resident {
                                household_id: household.id.clone(),
                                name: name.to_owned(),
                                relationship: relationship as i32,
                                phone_number: phone.to_owned(),
                                national_id,
                                status: status as i32,
                                ..Default::default()
                            }),
                        },
                        register.today(),
                    )?,
                )
                .await?;
            registered += 1;
        }
    }
    Ok(registered)
}

/// The demonstration catalogue of request types: what 安吉县 offers all its villages and what
/// 天荒坪镇 adds for its own, created once (nothing if the county has types already). Public
/// works (roads, street lights, wells) are listed publicly through Open311; certificates, which
/// say something about a person, are not.
pub async fn create_demo_request_types(
    types: &crate::request_types::RequestTypes,
) -> anyhow::Result<usize> {
    use crate::request_types::parse::{CreateRequestType, ListRequestTypes};
    use pb::RequestFieldType as Kind;
    use terrace_proto::identity::v1::Role as RoleProto;
    let caller = Caller::System {
        job: "governance.demo",
    };
    let county = AdminScope::parse(&VILLAGE[..6])?;
    let existing = types
        .list(ListRequestTypes::parse(pb::ListRequestTypesRequest {
            defined_in: Some(county.to_proto()),
            include_inactive: true,
            ..Default::default()
        })?)
        .await?;
    if !existing.request_types.is_empty() {
        return Ok(0);
    }
    let text = |zh: &str, en: &str| {
        Some(terrace_proto::common::v1::LocalizedText {
            translations: [
                ("zh-CN".to_owned(), zh.to_owned()),
                ("en".to_owned(), en.to_owned()),
            ]
            .into(),
        })
    };
    let option = |value: &str, zh: &str, en: &str| pb::RequestFieldOption {
        value: value.to_owned(),
        label: text(zh, en),
    };
    let field = |key: &str, zh: &str, en: &str, kind: Kind| pb::RequestFieldDefinition {
        key: key.to_owned(),
        label: text(zh, en),
        r#type: kind as i32,
        ..Default::default()
    };
    let catalogue = [
        (
            &VILLAGE[..6],
            pb::RequestType {
                code: "road".into(),
                name: text("道路损坏", "Damaged road"),
                description: text(
                    "路面坑洼、塌陷、积水",
                    "Potholes, subsidence, standing water",
                ),
                group: "infrastructure".into(),
                fields: vec![pb::RequestFieldDefinition {
                    required: true,
                    options: vec![
                        option("small", "小坑", "Small"),
                        option("large", "大坑或塌陷", "Large or collapsed"),
                    ],
                    ..field("size", "损坏程度", "How bad", Kind::Choice)
                }],
                responsible_role: RoleProto::VillageOfficial as i32,
                sla_working_days: 3,
                public_listing: true,
                ..Default::default()
            },
        ),
        (
            &VILLAGE[..6],
            pb::RequestType {
                code: "streetlight".into(),
                name: text("路灯不亮", "Street light out"),
                description: text(
                    "路灯不亮或常亮",
                    "A street light that is off, or on all day",
                ),
                group: "infrastructure".into(),
                fields: vec![field("pole_number", "灯杆编号", "Pole number", Kind::Text)],
                responsible_role: RoleProto::VillageOfficial as i32,
                sla_hours: 48,
                public_listing: true,
                ..Default::default()
            },
        ),
        (
            &VILLAGE[..9],
            pb::RequestType {
                code: "well".into(),
                name: text("饮用水井", "Drinking-water well"),
                description: text(
                    "水井没水、水浑或水泵坏了",
                    "A well that is dry, muddy, or whose pump is broken",
                ),
                group: "water".into(),
                fields: vec![
                    pb::RequestFieldDefinition {
                        required: true,
                        min_value: "1".into(),
                        max_value: "99".into(),
                        ..field("well_number", "水井编号", "Well number", Kind::Number)
                    },
                    pb::RequestFieldDefinition {
                        options: vec![
                            option("dry", "没水", "Dry"),
                            option("muddy", "水浑", "Muddy"),
                            option("pump", "水泵坏了", "Broken pump"),
                        ],
                        ..field("symptoms", "情况", "What is wrong", Kind::MultiChoice)
                    },
                ],
                responsible_role: RoleProto::VillageOfficial as i32,
                sla_working_days: 1,
                public_listing: true,
                ..Default::default()
            },
        ),
        (
            &VILLAGE[..9],
            pb::RequestType {
                code: "certificate".into(),
                name: text("证明开具", "Certificate"),
                description: text(
                    "居住证明、收入证明等",
                    "Proof of residence, of income and the like",
                ),
                group: "certificates".into(),
                fields: vec![pb::RequestFieldDefinition {
                    required: true,
                    max_length: 200,
                    ..field("purpose", "用途", "What it is for", Kind::Text)
                }],
                responsible_role: RoleProto::TownshipOfficial as i32,
                sla_working_days: 5,
                ..Default::default()
            },
        ),
    ];
    let mut created = 0;
    for (area, request_type) in catalogue {
        types
            .create(
                &caller,
                CreateRequestType::parse(pb::CreateRequestTypeRequest {
                    request_id: Uuid::now_v7().to_string(),
                    request_type: Some(pb::RequestType {
                        area: Some(AdminScope::parse(area)?.to_proto()),
                        ..request_type
                    }),
                })?,
            )
            .await?;
        created += 1;
    }
    Ok(created)
}
