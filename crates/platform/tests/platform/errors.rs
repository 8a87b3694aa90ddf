//! Bad input gets a specific error at a real client, and changes nothing.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use terrace_platform::auth::Role;
use terrace_platform::service::ServiceDef;
use terrace_testkit::TestApp;
use terrace_testkit::pb::probe_service_client::ProbeServiceClient;
use terrace_testkit::pb::{EchoRequest, RecordRequest};
use terrace_testkit::probe::Probe;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT count(*) AS n FROM {table}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap()
}

/// A field violation's field, English description and (locale, text) in the caller's language.
type Localized = (String, String, Option<(String, String)>);

/// The caller's language (`Accept-Language`) beside each field, and for the whole error; English
/// stays in `description` and `message`; a text the catalog lacks gets no localized message.
#[tokio::test]
async fn errors_speak_the_callers_language() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let mut client = ProbeServiceClient::new(app.channel().await);
    let echo = |language: &str, token: Option<&str>| {
        let mut request = match token {
            Some(token) => app.request(
                EchoRequest {
                    text: String::new(),
                    repeat: 99,
                },
                token,
            ),
            None => tonic::Request::new(EchoRequest {
                text: "hi".into(),
                repeat: 1,
            }),
        };
        request
            .metadata_mut()
            .insert("accept-language", language.parse().unwrap());
        request
    };
    let localized = |status: &tonic::Status| -> Vec<Localized> {
        status
            .get_error_details()
            .bad_request()
            .expect("BadRequest details")
            .field_violations
            .iter()
            .map(|v| {
                let localized = v
                    .localized_message
                    .as_ref()
                    .map(|m| (m.locale.clone(), m.message.clone()));
                (v.field.clone(), v.description.clone(), localized)
            })
            .collect()
    };

    let status = client
        .echo(echo("zh-CN,zh;q=0.9,en;q=0.8", Some(&token)))
        .await
        .unwrap_err();
    assert_eq!(
        localized(&status),
        vec![
            (
                "text".into(),
                "required".into(),
                Some(("zh-CN".into(), "必填".into()))
            ),
            // The probe's own text is in no catalog: English only.
            ("repeat".into(), "must be between 0 and 10".into(), None),
        ]
    );

    let status = client.echo(echo("en-GB", Some(&token))).await.unwrap_err();
    assert_eq!(
        localized(&status)[0].2,
        Some(("en".into(), "required".into()))
    );

    // Refused before any handler runs (authentication), still in the caller's language.
    let status = client.echo(echo("zh", None)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "missing token");
    let message = status
        .get_error_details()
        .localized_message()
        .cloned()
        .expect("a localized message");
    assert_eq!(
        (message.locale.as_str(), message.message.as_str()),
        ("zh-CN", "没有登录令牌，请先登录")
    );
}

#[tokio::test]
async fn validation_errors_arrive_with_every_field_violation() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let mut client = ProbeServiceClient::new(app.channel().await);

    let status = client
        .echo(app.request(
            EchoRequest {
                text: String::new(),
                repeat: 99,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let violations: Vec<(String, String)> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect();
    assert_eq!(
        violations,
        vec![
            ("text".into(), "required".into()),
            ("repeat".into(), "must be between 0 and 10".into())
        ]
    );

    let ok = client
        .echo(app.request(
            EchoRequest {
                text: "村".into(),
                repeat: 2,
            },
            &token,
        ))
        .await
        .unwrap();
    assert_eq!(ok.into_inner().text, "村村");
}

#[tokio::test]
async fn rejected_and_failed_writes_change_nothing_and_creates_are_idempotent() {
    let app = TestApp::spawn(&[ServiceDef::of::<Probe>()]).await;
    let db = app.ctx.database("probe").await;
    let token = app.token("user-1", &[(Role::Resident, "110101001001")]);
    let mut client = ProbeServiceClient::new(app.channel().await);

    let bad_id = RecordRequest {
        request_id: "not-a-uuid".into(),
        text: "x".into(),
        fail_after_write: false,
    };
    let status = client
        .record(app.request(bad_id, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "request_id"
    );

    let rolled_back = RecordRequest {
        request_id: Uuid::now_v7().to_string(),
        text: "x".into(),
        fail_after_write: true,
    };
    let status = client
        .record(app.request(rolled_back, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "ASKED_TO_FAIL"
    );
    assert_eq!(count(&db, "probe_notes").await, 0);
    assert_eq!(
        terrace_testkit::events::published(&app, "probe", "probe.>").await,
        0,
        "no event without its change"
    );

    let request_id = Uuid::now_v7().to_string();
    let first = RecordRequest {
        request_id: request_id.clone(),
        text: "same".into(),
        fail_after_write: false,
    };
    let a = client
        .record(app.request(first.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    let b = client
        .record(app.request(first, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        a.event_id, b.event_id,
        "a replayed create answers the first result"
    );
    assert_eq!(count(&db, "probe_notes").await, 1);
    assert_eq!(
        terrace_testkit::events::published(&app, "probe", "probe.>").await,
        1
    );

    let reused = RecordRequest {
        request_id,
        text: "different".into(),
        fail_after_write: false,
    };
    let status = client
        .record(app.request(reused, &token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(count(&db, "probe_notes").await, 1);
}
