//! Templates: the platform's texts are there to read and edit from the start; a platform admin's
//! new version is what the next notification says, and an older one can be made active again;
//! officials read and preview, nobody else; a template that would not render, or a built-in
//! one that asks its rule for what it does not supply, is refused field by field and nothing is
//! saved; a preview renders typed values in the reader's language and counts SMS segments.

use terrace_platform::auth::Role;
use terrace_proto::common::v1 as common;
use terrace_proto::notify::v1 as pb;
use terrace_testkit::rpc::{reason, request_id, violated_fields, violations};
use tonic::Code;

use crate::world::{Person, VILLAGE, World};

fn admin(w: &World) -> Person {
    w.person(&[(Role::PlatformAdmin, "")])
}

async fn list(w: &World, who: &Person, prefix: &str) -> Result<Vec<pb::Template>, tonic::Status> {
    let request = pb::ListTemplatesRequest {
        key_prefix: prefix.to_owned(),
        page: Some(common::PageRequest {
            page_size: 100,
            ..Default::default()
        }),
        ..Default::default()
    };
    w.notify
        .clone()
        .list_templates(w.app.request(request, &who.token))
        .await
        .map(|r| r.into_inner().templates)
}

async fn get(w: &World, who: &Person, key: &str) -> pb::Template {
    let request = pb::GetTemplateRequest {
        template_key: key.to_owned(),
        version: 0,
    };
    w.notify
        .clone()
        .get_template(w.app.request(request, &who.token))
        .await
        .unwrap()
        .into_inner()
        .template
        .unwrap()
}

async fn update(
    w: &World,
    who: &Person,
    template: pb::Template,
    paths: &[&str],
    expected_version: i32,
) -> Result<pb::Template, tonic::Status> {
    let request = pb::UpdateTemplateRequest {
        request_id: request_id(),
        template: Some(template),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        activate: None,
        expected_version,
    };
    w.notify
        .clone()
        .update_template(w.app.request(request, &who.token))
        .await
        .map(|r| r.into_inner().template.unwrap())
}

async fn create(
    w: &World,
    who: &Person,
    template: pb::Template,
) -> Result<pb::Template, tonic::Status> {
    let request = pb::CreateTemplateRequest {
        request_id: request_id(),
        template: Some(template),
    };
    w.notify
        .clone()
        .create_template(w.app.request(request, &who.token))
        .await
        .map(|r| r.into_inner().template.unwrap())
}

fn text(locale: &str, channel: pb::Channel, subject: &str, body: &str) -> pb::TemplateContent {
    pb::TemplateContent {
        locale: locale.to_owned(),
        channel: channel as i32,
        subject: subject.to_owned(),
        body: body.to_owned(),
        provider_template_id: if channel == pb::Channel::Sms {
            "SMS_WATER_CUT".to_owned()
        } else {
            String::new()
        },
        signature: String::new(),
    }
}

fn variable(name: &str, kind: pb::VariableType, required: bool) -> pb::TemplateVariable {
    pb::TemplateVariable {
        name: name.to_owned(),
        r#type: kind as i32,
        required,
        description: String::new(),
    }
}

/// A notice of a water cut: a day, the villages' name, and an optional refund.
fn water_cut() -> pb::Template {
    pb::Template {
        key: "notices.water_cut".to_owned(),
        description: "停水通知".to_owned(),
        category: pb::NotificationCategory::Notices as i32,
        critical: false,
        variables: vec![
            variable("area", pb::VariableType::String, true),
            variable("day", pb::VariableType::Date, true),
            variable("refund", pb::VariableType::Money, false),
        ],
        contents: vec![
            text(
                "zh-CN",
                pb::Channel::InApp,
                "{{ area }}停水",
                "{{ day }}全天停水。{% if refund %}每户补贴 {{ refund }}。{% endif %}",
            ),
            text(
                "en",
                pb::Channel::InApp,
                "Water cut in {{ area }}",
                "No water all day on {{ day }}.{% if refund %} Each household gets {{ refund }}.{% endif %}",
            ),
            text(
                "zh-CN",
                pb::Channel::Sms,
                "",
                "{{ area }}{{ day }}全天停水，请提前储水。",
            ),
        ],
        ..Default::default()
    }
}

#[tokio::test]
async fn an_admins_new_version_is_what_the_seller_reads_and_an_older_one_can_come_back() {
    let mut w = World::new().await;
    let admin = admin(&w);
    let official = w.person(&[(Role::VillageOfficial, VILLAGE)]);
    let farmer_reader = w.person(&[(Role::Farmer, VILLAGE)]);

    // The platform's texts are there from the start, one version each, marked built in.
    let orders = list(&w, &official, "market.order.").await.unwrap();
    assert_eq!(
        orders.len(),
        8,
        "{:?}",
        orders.iter().map(|t| &t.key).collect::<Vec<_>>()
    );
    let placed = orders
        .iter()
        .find(|t| t.key == "market.order.placed")
        .unwrap();
    assert!(placed.built_in && placed.version == 1 && placed.active_version == 1);
    assert!(
        placed
            .contents
            .iter()
            .any(|c| c.channel == pb::Channel::Sms as i32
                && c.provider_template_id == "SMS_TERRACE_ORDER_PLACED")
    );
    let denied = list(&w, &farmer_reader, "").await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // An official reads but does not edit.
    let mut edited = placed.clone();
    for content in &mut edited.contents {
        if content.channel == pb::Channel::InApp as i32 && content.locale == "zh-CN" {
            content.subject = "有人下单：{{ title }}".to_owned();
            content.body =
                "{{ buyer }} 订了 {{ quantity }}（{{ reference }}），快去接单。".to_owned();
        }
    }
    let refused = update(&w, &official, edited.clone(), &["contents"], 1)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(get(&w, &official, "market.order.placed").await.version, 1);

    let saved = update(&w, &admin, edited.clone(), &["contents"], 1)
        .await
        .unwrap();
    assert_eq!((saved.version, saved.active_version), (2, 2));
    assert_eq!(
        saved.audit.unwrap().creator.unwrap().user_id,
        admin.id.to_string(),
        "the version names who saved it"
    );
    // An editor who saw version 1 is told another saved since.
    let stale = update(&w, &admin, edited, &["description"], 1)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    assert_eq!(reason(&stale), "STALE_VERSION");

    // The next order reads as version 2 says.
    let (seller, listing) = w.farmer_selling().await;
    let buyer = w.person(&[(Role::Buyer, "")]);
    w.order(&buyer, &listing, 10).await;
    let inbox = w.inbox_when(&seller, 1).await;
    assert_eq!(inbox.items[0].title, "有人下单：红富士苹果");
    assert!(
        inbox.items[0].body.ends_with("快去接单。"),
        "{}",
        inbox.items[0].body
    );

    // Back to version 1: the next order reads as the platform wrote it.
    let request = pb::ActivateTemplateVersionRequest {
        request_id: request_id(),
        template_key: "market.order.placed".to_owned(),
        version: 1,
    };
    w.notify
        .activate_template_version(w.app.request(request, &admin.token))
        .await
        .unwrap();
    let versions = w
        .notify
        .list_template_versions(w.app.request(
            pb::ListTemplateVersionsRequest {
                template_key: "market.order.placed".to_owned(),
                ..Default::default()
            },
            &official.token,
        ))
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.active_version))
            .collect::<Vec<_>>(),
        [(2, 1), (1, 1)]
    );
    w.order(&buyer, &listing, 5).await;
    let inbox = w.inbox_when(&seller, 2).await;
    assert_eq!(inbox.items[0].title, "新订单：红富士苹果", "newest first");
}

#[tokio::test]
async fn a_template_that_would_fail_is_refused_field_by_field_and_nothing_is_saved() {
    let w = World::new().await;
    let admin = admin(&w);

    let mut bad = water_cut();
    bad.key = "Notices".to_owned();
    bad.variables
        .push(variable("area", pb::VariableType::String, false));
    bad.variables
        .push(variable("unused", pb::VariableType::String, true));
    bad.contents[0].body = "{{ day }} {{ phone }}".to_owned();
    bad.contents[1].body = "{% if day %}no end".to_owned();
    bad.contents[2].provider_template_id = String::new();
    bad.contents
        .push(text("en", pb::Channel::Email, "Water", "{{ area }}"));
    let refused = create(&w, &admin, bad).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            "template.contents[2].provider_template_id",
            "template.key",
            "template.variables[3].name",
        ],
        "field checks first: {:?}",
        violations(&refused)
    );

    // Fields well formed, the whole judged: each problem named where it is.
    let mut bad = water_cut();
    bad.variables
        .push(variable("unused", pb::VariableType::String, true));
    bad.contents[0].body = "{{ day }} {{ phone }}".to_owned();
    bad.contents[1].body = "{% if day %}no end".to_owned();
    bad.contents[2].body = "{{ area | shout }}".to_owned();
    bad.contents
        .push(text("en", pb::Channel::Email, "Water", "{{ area }}"));
    let refused = create(&w, &admin, bad).await.unwrap_err();
    let found = violations(&refused);
    let described = |field: &str| {
        found
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, d)| d.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        described("template.contents[0].body").contains("phone"),
        "{found:?}"
    );
    assert!(
        described("template.contents[1].body").contains("does not parse"),
        "{found:?}"
    );
    assert!(
        described("template.contents[2].body").contains("does not render"),
        "{found:?}"
    );
    assert!(
        described("template.contents").contains("CHANNEL_EMAIL needs a zh-CN text"),
        "{found:?}"
    );
    assert!(
        described("template.variables[3]").contains("no text uses it"),
        "{found:?}"
    );
    let none = list(&w, &admin, "notices.").await.unwrap();
    assert!(none.is_empty(), "nothing saved: {none:?}");

    // A built-in key keeps what its rule supplies, its category and its channels.
    let placed = get(&w, &admin, "market.order.placed").await;
    let mut asks_more = placed.clone();
    asks_more
        .variables
        .push(variable("phone", pb::VariableType::String, false));
    asks_more.category = pb::NotificationCategory::Notices as i32;
    asks_more
        .contents
        .retain(|c| c.channel == pb::Channel::InApp as i32);
    let refused = update(
        &w,
        &admin,
        asks_more,
        &["variables", "category", "contents"],
        0,
    )
    .await
    .unwrap_err();
    let found = violations(&refused);
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"template.category"), "{found:?}");
    assert!(
        found
            .iter()
            .any(|(f, d)| f.ends_with(".name") && d.contains("supplies no phone")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(f, d)| f == "template.contents" && d.contains("CHANNEL_SMS")),
        "{found:?}"
    );
    assert_eq!(get(&w, &admin, "market.order.placed").await.version, 1);

    // A good one saves; the same key again is a conflict.
    create(&w, &admin, water_cut()).await.unwrap();
    let again = create(&w, &admin, water_cut()).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
}

#[tokio::test]
async fn a_preview_reads_typed_values_in_the_readers_language_and_counts_the_segments() {
    let w = World::new().await;
    let admin = admin(&w);
    let official = w.person(&[(Role::TownshipOfficial, "330523108")]);
    create(&w, &admin, water_cut()).await.unwrap();
    let value = |v: pb::template_value::Value| pb::TemplateValue { value: Some(v) };
    let day = value(pb::template_value::Value::DateValue(common::Date {
        year: 2026,
        month: 12,
        day: 8,
    }));
    let preview = |locale: &str, channel: pb::Channel, values: Vec<(&str, pb::TemplateValue)>| {
        pb::PreviewTemplateRequest {
            template_key: "notices.water_cut".to_owned(),
            locale: locale.to_owned(),
            channel: channel as i32,
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ..Default::default()
        }
    };
    let area = value(pb::template_value::Value::StringValue("余村".to_owned()));
    let refund = value(pb::template_value::Value::MoneyValue(common::Money {
        amount_minor: 2000,
        currency_code: "CNY".to_owned(),
    }));

    let english = w
        .notify
        .clone()
        .preview_template(w.app.request(
            preview(
                "en-GB",
                pb::Channel::InApp,
                vec![
                    ("area", area.clone()),
                    ("day", day.clone()),
                    ("refund", refund),
                ],
            ),
            &official.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(english.locale, "en");
    assert_eq!(english.subject, "Water cut in 余村");
    assert_eq!(
        english.body,
        "No water all day on 8 December 2026. Each household gets ¥20.00."
    );

    // The optional refund left out reads as nothing; SMS falls back to Chinese and is counted.
    let text = w
        .notify
        .clone()
        .preview_template(w.app.request(
            preview(
                "en",
                pb::Channel::Sms,
                vec![("area", area.clone()), ("day", day.clone())],
            ),
            &official.token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(text.locale, "zh-CN");
    assert_eq!(text.body, "余村2026年12月8日全天停水，请提前储水。");
    assert!(text.sms_ucs2);
    assert_eq!(text.sms_segments, 1);

    // A value of the wrong type, an undeclared one, a required one missing: each named.
    let refused = w
        .notify
        .clone()
        .preview_template(w.app.request(
            preview(
                "zh-CN",
                pb::Channel::InApp,
                vec![("day", area.clone()), ("who", area.clone())],
            ),
            &official.token,
        ))
        .await
        .unwrap_err();
    let mut fields = violated_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [r#"values["area"]"#, r#"values["day"]"#, r#"values["who"]"#]
    );

    // A draft previews without being saved; a channel it has no text for is refused.
    let mut draft = water_cut();
    draft.key = "notices.water_cut_draft".to_owned();
    draft.contents[0].subject = "【草稿】{{ area }}停水".to_owned();
    let request = pb::PreviewTemplateRequest {
        draft: Some(draft),
        locale: "zh-CN".to_owned(),
        channel: pb::Channel::InApp as i32,
        values: [
            ("area".to_owned(), area.clone()),
            ("day".to_owned(), day.clone()),
        ]
        .into(),
        ..Default::default()
    };
    let drafted = w
        .notify
        .clone()
        .preview_template(w.app.request(request.clone(), &official.token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(drafted.subject, "【草稿】余村停水");
    assert!(
        list(&w, &admin, "notices.water_cut_")
            .await
            .unwrap()
            .is_empty()
    );
    let no_email = w
        .notify
        .clone()
        .preview_template(w.app.request(
            pb::PreviewTemplateRequest {
                channel: pb::Channel::Email as i32,
                ..request
            },
            &official.token,
        ))
        .await
        .unwrap_err();
    assert_eq!(no_email.code(), Code::FailedPrecondition, "{no_email:?}");
}
