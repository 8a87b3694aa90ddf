//! Sign-up and login as a client sees them: over gRPC, with the one-time code read from the real
//! NATS stream it is published on.

use std::time::Duration;

use terrace_identity::Identity;
use terrace_platform::service::ServiceDef;
use terrace_proto::identity::v1 as pb;
use terrace_proto::identity::v1::identity_service_client::IdentityServiceClient;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::{request_id, violations};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

const PHONE: &str = "+8613800138000";

/// Identity alone, verifying the tokens it signs itself (in memory, as in `terrace dev`).
async fn identity(configure: impl FnOnce(&mut serde_json::Value)) -> TestApp {
    let mut section =
        serde_json::json!({ "secret": "a test secret of more than thirty-two bytes" });
    configure(&mut section);
    TestApp::spawn_with(&[ServiceDef::of::<Identity>()], |settings| {
        settings.auth.jwks_url = None;
        settings.services.insert("identity".into(), section);
    })
    .await
}

/// Reads `OtpRequested` events from the SECRET stream, as notify will.
pub(crate) type Sms = terrace_testkit::events::Texts<pb::OtpRequested>;

async fn request_code(
    client: &mut IdentityServiceClient<Channel>,
    phone: &str,
    purpose: pb::OtpPurpose,
) {
    client
        .request_otp(pb::RequestOtpRequest {
            request_id: request_id(),
            phone_number: phone.into(),
            purpose: purpose as i32,
            locale: "zh-CN".into(),
        })
        .await
        .unwrap();
}

fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn sign_up_and_log_in_with_codes_end_to_end_over_nats() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);

    // Sign up: the code goes out on identity.otp.requested, in national form typed by the user.
    request_code(&mut client, "138 0013 8000", pb::OtpPurpose::SignUp).await;
    let sent = sms.next().await;
    assert_eq!(sent.phone_number, PHONE);
    assert_eq!(sent.purpose, pb::OtpPurpose::SignUp as i32);
    assert!(sent.user_id.is_empty(), "no account yet");
    let signed_up = client
        .sign_up(pb::SignUpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            otp_code: sent.code.clone(),
            display_name: "王秀英".into(),
            password: "村口老槐树下的井".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let user = signed_up.user.unwrap();
    assert_eq!(
        (user.phone_number.as_str(), user.display_name.as_str()),
        (PHONE, "王秀英")
    );
    assert!(user.has_password);
    let tokens = signed_up.tokens.unwrap();

    // The access token is accepted by the platform's verifier (this process's services).
    let me = client
        .get_current_user(bearer(pb::GetCurrentUserRequest {}, &tokens.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().id, user.id);

    // The code was single use.
    let again = client
        .sign_up(pb::SignUpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            otp_code: sent.code,
            display_name: "王秀英".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(
        again.get_error_details().error_info().unwrap().reason,
        "OTP_ALREADY_USED"
    );

    // Log in with a code: now the event names the user.
    request_code(&mut client, PHONE, pb::OtpPurpose::Login).await;
    let sent = sms.next().await;
    assert_eq!(sent.user_id, user.id);
    let login = client
        .login_with_otp(pb::LoginWithOtpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            otp_code: sent.code,
            client_description: "test phone".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.user.unwrap().id, user.id);

    // And with the password.
    let login = client
        .login_with_password(pb::LoginWithPasswordRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            password: "村口老槐树下的井".into(),
            client_description: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let tokens = login.tokens.unwrap();

    // Refresh rotates; presenting a spent refresh token revokes the whole session.
    let refreshed = client
        .refresh_token(pb::RefreshTokenRequest {
            request_id: request_id(),
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(refreshed.refresh_token, tokens.refresh_token);
    let reused = client
        .refresh_token(pb::RefreshTokenRequest {
            request_id: request_id(),
            refresh_token: tokens.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated);
    let after_reuse = client
        .refresh_token(pb::RefreshTokenRequest {
            request_id: request_id(),
            refresh_token: refreshed.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(
        after_reuse.code(),
        Code::Unauthenticated,
        "the family was revoked"
    );
}

#[tokio::test]
async fn bad_input_and_bad_codes_get_specific_errors_and_change_nothing() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);

    let status = client
        .request_otp(pb::RequestOtpRequest {
            request_id: "x".into(),
            phone_number: "12345".into(),
            purpose: 0,
            locale: "fr".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    assert_eq!(fields, ["request_id", "phone_number", "purpose", "locale"]);

    request_code(&mut client, PHONE, pb::OtpPurpose::SignUp).await;
    let code = sms.next().await.code;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let sign_up = |otp_code: &str, password: &str| pb::SignUpRequest {
        request_id: request_id(),
        phone_number: PHONE.into(),
        otp_code: otp_code.into(),
        display_name: "李建国".into(),
        password: password.into(),
        time_zone: "Asia/Shanghai".into(),
        ..Default::default()
    };

    let weak = client
        .sign_up(sign_up(&code, "12345678"))
        .await
        .unwrap_err();
    assert_eq!(
        violations(&weak),
        [(
            "password".to_owned(),
            "is one of the most common passwords; choose another".to_owned()
        )]
    );

    let status = client.sign_up(sign_up(wrong, "")).await.unwrap_err();
    assert_eq!(
        violations(&status),
        [(
            "otp_code".to_owned(),
            "wrong code; 4 attempts left".to_owned()
        )]
    );

    // The code expires.
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let status = client.sign_up(sign_up(&code, "")).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "OTP_EXPIRED"
    );

    // Nothing was created: logging in with a fresh code finds no account.
    request_code(&mut client, PHONE, pb::OtpPurpose::Login).await;
    let code = sms.next().await.code;
    let status = client
        .login_with_otp(pb::LoginWithOtpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            otp_code: code,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "NOT_REGISTERED"
    );

    // A second code too soon is refused with when to retry.
    request_code(&mut client, "+8613900139000", pb::OtpPurpose::Login).await;
    let status = client
        .request_otp(pb::RequestOtpRequest {
            request_id: request_id(),
            phone_number: "+8613900139000".into(),
            purpose: pb::OtpPurpose::Login as i32,
            locale: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status
            .get_error_details()
            .retry_info()
            .and_then(|r| r.retry_delay)
            .is_some()
    );
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_and_unknown_phones_look_the_same() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    request_code(&mut client, PHONE, pb::OtpPurpose::SignUp).await;
    let code = sms.next().await.code;
    client
        .sign_up(pb::SignUpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            otp_code: code,
            display_name: "张伟".into(),
            password: "correct horse battery".into(),
            ..Default::default()
        })
        .await
        .unwrap();

    let login = |phone: &str, password: &str| pb::LoginWithPasswordRequest {
        request_id: request_id(),
        phone_number: phone.into(),
        password: password.into(),
        client_description: String::new(),
    };
    let unknown = client
        .login_with_password(login("+8613900139000", "correct horse battery"))
        .await
        .unwrap_err();
    let wrong = client
        .login_with_password(login(PHONE, "wrong horse battery"))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.message()),
        (wrong.code(), wrong.message()),
        "indistinguishable"
    );
    assert_eq!(wrong.code(), Code::Unauthenticated);

    for _ in 0..3 {
        client
            .login_with_password(login(PHONE, "wrong horse battery"))
            .await
            .unwrap_err();
    }
    // The fifth wrong password locks the account, but says no more than the others did: a lock
    // would tell a stranger that the phone is registered.
    let fifth = client
        .login_with_password(login(PHONE, "wrong horse battery"))
        .await
        .unwrap_err();
    assert_eq!(
        (fifth.code(), fifth.message()),
        (wrong.code(), wrong.message())
    );
    let still = client
        .login_with_password(login(PHONE, "correct horse battery"))
        .await
        .unwrap_err();
    assert_eq!(
        still.get_error_details().error_info().unwrap().reason,
        "ACCOUNT_LOCKED",
        "the right password waits too"
    );
}

#[tokio::test]
async fn a_retried_code_request_sends_one_sms_and_its_id_in_another_request_is_that_requests() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let request = pb::RequestOtpRequest {
        request_id: request_id(),
        phone_number: PHONE.into(),
        purpose: pb::OtpPurpose::SignUp as i32,
        locale: String::new(),
    };
    let first = client
        .request_otp(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retried = client
        .request_otp(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retried, "the retry gets the first answer");
    sms.next().await;
    // Counted once the outbox has nothing left to publish: no wait on the wall clock.
    assert_eq!(
        terrace_testkit::events::published(
            &app,
            "identity",
            <pb::OtpRequested as terrace_proto::Event>::SUBJECT
        )
        .await,
        1,
        "only one code was sent"
    );

    // Someone without a token has no request ids of their own: the same id in another request
    // (another phone) is that request's, answered and texted on its own; it neither gets the
    // first answer nor blocks it.
    let other = pb::RequestOtpRequest {
        phone_number: "+8613900139000".into(),
        ..request.clone()
    };
    client.request_otp(other).await.unwrap();
    assert_eq!(sms.next().await.phone_number, "+8613900139000");
    assert_eq!(
        client.request_otp(request).await.unwrap().into_inner(),
        first,
        "the first request still gets its own answer"
    );
}

#[tokio::test]
async fn one_phone_gets_at_most_five_texts_at_once() {
    let app = identity(|section| section["otp_resend_interval"] = serde_json::json!("0s")).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    for _ in 0..5 {
        request_code(&mut client, PHONE, pb::OtpPurpose::Login).await;
    }
    let status = client
        .request_otp(pb::RequestOtpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            purpose: pb::OtpPurpose::ResetPassword as i32,
            locale: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.get_error_details().retry_info().is_some());
    // Another phone is not affected.
    request_code(&mut client, "+8613900139000", pb::OtpPurpose::Login).await;
}

#[tokio::test]
async fn a_refused_refresh_leaves_the_refresh_token_usable() {
    use sea_orm::ConnectionTrait as _;

    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    request_code(&mut client, PHONE, pb::OtpPurpose::SignUp).await;
    let code = sms.next().await.code;
    let signed_up = client
        .sign_up(pb::SignUpRequest {
            request_id: request_id(),
            phone_number: PHONE.into(),
            otp_code: code,
            display_name: "郑和".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let refresh_token = signed_up.tokens.unwrap().refresh_token;
    let db = app.ctx.database("identity").await;
    let set_status = |status: &'static str| {
        let db = db.clone();
        async move {
            db.execute_unprepared(&format!("UPDATE users SET status = '{status}'"))
                .await
                .unwrap();
        }
    };
    let refresh = |token: String| pb::RefreshTokenRequest {
        request_id: request_id(),
        refresh_token: token,
    };

    set_status("locked").await;
    let status = client
        .refresh_token(refresh(refresh_token.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        status.get_error_details().error_info().unwrap().reason,
        "ACCOUNT_LOCKED"
    );
    // Once the lock is lifted, the same refresh token works: the refused attempt spent nothing.
    set_status("active").await;
    client.refresh_token(refresh(refresh_token)).await.unwrap();
}

#[tokio::test]
async fn two_first_uses_of_one_request_id_at_once_send_one_code() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let channel = app.channel().await;
    let request = pb::RequestOtpRequest {
        request_id: request_id(),
        phone_number: PHONE.into(),
        purpose: pb::OtpPurpose::Login as i32,
        locale: String::new(),
    };
    let calls = (0..4).map(|_| {
        let mut client = IdentityServiceClient::new(channel.clone());
        let request = request.clone();
        async move { client.request_otp(request).await }
    });
    let results = futures::future::join_all(calls).await;
    // They take turns: every call gets the one answer.
    let answers: Vec<pb::RequestOtpResponse> = results
        .into_iter()
        .map(|result| result.unwrap().into_inner())
        .collect();
    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:?}"
    );
    sms.next().await;
    // Counted once the outbox has nothing left to publish: no wait on the wall clock.
    assert_eq!(
        terrace_testkit::events::published(
            &app,
            "identity",
            <pb::OtpRequested as terrace_proto::Event>::SUBJECT
        )
        .await,
        1,
        "only one code was sent"
    );
}

/// A one-time code exists in clear only in the SECRET stream, which keeps it no longer than the
/// code lives; the IDENTITY stream (kept a week) never sees it, and the outbox deletes the row as
/// soon as it is published.
#[tokio::test]
async fn codes_are_kept_nowhere_longer_than_they_live() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    request_code(&mut client, PHONE, pb::OtpPurpose::SignUp).await;
    let sent = sms.next().await;
    assert_eq!(sent.code.len(), 6);

    let bus = app.ctx.bus(&[]).await;
    let mut secret = terrace_testkit::events::secret_stream(&bus).await;
    let config = secret.info().await.unwrap().config.clone();
    assert_eq!(
        config.max_age,
        Duration::from_secs(300),
        "the code's lifetime"
    );
    assert!(config.max_age <= app.settings.nats.secret_max_age);
    assert_eq!(secret.info().await.unwrap().state.messages, 1);
    let mut identity_stream = bus
        .jetstream
        .get_stream(bus.naming.stream("identity"))
        .await
        .unwrap();
    assert_eq!(
        identity_stream.info().await.unwrap().state.messages,
        0,
        "nothing about the code in the week-long stream"
    );

    // The relay deleted the published row: no copy of the code is left in the database.
    let db = app.ctx.database("identity").await;
    let left: i64 = sea_orm::ConnectionTrait::query_one_raw(
        &db,
        sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT count(*) AS n FROM outbox WHERE subject LIKE 'secret.%'",
        ),
    )
    .await
    .unwrap()
    .unwrap()
    .try_get("", "n")
    .unwrap();
    assert_eq!(left, 0);

    // A dead letter of a code stays under the secret root, in the same short-lived stream.
    assert_eq!(
        bus.naming
            .dead_letter_subject("notify-sms", "secret.identity.otp.requested"),
        bus.naming
            .subject("secret.deadletter.notify-sms.identity.otp.requested")
    );

    // Identity refuses to start where the stream would keep codes longer than they live.
    let mut settings = app.settings.clone();
    settings.nats.secret_max_age = Duration::from_secs(600);
    let refused = terrace_platform::service::run(
        settings,
        vec![ServiceDef::of::<Identity>()],
        terrace_platform::service::Listeners {
            grpc: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            http: None,
        },
        terrace_platform::Clock::system(),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{refused:#}").contains("nats.secret_max_age"),
        "{refused:#}"
    );
}

/// A village meeting behind one carrier-grade NAT address: a hundred villagers log in within a
/// minute from the same address and all get in. Guessing one phone's password is still stopped
/// per phone, and a flood from that address is still cut off. The clock stands still, so no
/// quota refills during the test however slow the machine is.
#[tokio::test]
async fn a_village_behind_one_address_logs_in_while_guessers_and_floods_are_stopped() {
    use terrace_identity::accounts::{GUESSES_PER_PHONE, LOGINS_PER_ADDRESS};
    use terrace_identity::domain::{password, phone::PhoneNumber};
    use terrace_identity::users::{self, NewUser};

    let app = identity(|_| {}).await;
    let db = app.ctx.database("identity").await;
    let secret = "村口老槐树下的井";
    let hash = password::hash(secret).unwrap();
    let phones: Vec<String> = (0..100).map(|i| format!("+86138001{i:05}")).collect();
    for phone in &phones {
        users::insert(
            &db,
            NewUser {
                phone: &PhoneNumber::parse(phone).unwrap(),
                display_name: "村民",
                locale: "zh-CN",
                time_zone: "Asia/Shanghai",
                password_hash: Some(hash.clone()),
                created_by: None,
                email: None,
                created_by_request: None,
                created_at: terrace_platform::Clock::system_now(),
            },
        )
        .await
        .unwrap()
        .unwrap();
    }
    let mut client = IdentityServiceClient::new(app.channel().await);
    let login = |phone: &str, password: &str| pb::LoginWithPasswordRequest {
        request_id: request_id(),
        phone_number: phone.to_owned(),
        password: password.to_owned(),
        ..Default::default()
    };

    // Everyone at the meeting, from one address (this test's 127.0.0.1).
    for phone in &phones {
        client
            .login_with_password(login(phone, secret))
            .await
            .unwrap_or_else(|status| panic!("{phone} was refused: {status:?}"));
    }

    // A guesser at one phone is stopped after the per-phone quota, with a reason and a delay.
    let target = "+8613900139001";
    for _ in 0..GUESSES_PER_PHONE.burst {
        let status = client
            .login_with_password(login(target, "wrong guess"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let stopped = client
        .login_with_password(login(target, "wrong guess"))
        .await
        .unwrap_err();
    assert_eq!(stopped.code(), Code::ResourceExhausted);
    let details = stopped.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "TOO_MANY_ATTEMPTS");
    assert!(details.retry_info().is_some());
    assert!(
        stopped.message().contains("attempts for this phone"),
        "{stopped:?}"
    );

    // A flood from the address: once its burst is spent, it is cut off, whatever the phone.
    let used = phones.len() as u32 + GUESSES_PER_PHONE.burst + 1;
    for i in 0..LOGINS_PER_ADDRESS.burst - used {
        let status = client
            .login_with_password(login(&format!("+86137001{i:05}"), "flood"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "request {i}");
    }
    let cut = client
        .login_with_password(login(&phones[0], secret))
        .await
        .unwrap_err();
    assert_eq!(cut.code(), Code::ResourceExhausted);
    assert_eq!(
        cut.get_error_details().error_info().unwrap().reason,
        "TOO_MANY_REQUESTS"
    );
    assert!(
        cut.message().contains("logins from your network"),
        "{cut:?}"
    );

    // A minute later the village can log in again.
    app.clock.advance(Duration::from_secs(60));
    client
        .login_with_password(login(&phones[0], secret))
        .await
        .unwrap();
}

/// Every account mutation is done once per request id: a retried login is told to log in again
/// (its tokens were shown once) and makes no second session, a retried refresh leaves the first
/// answer's tokens working (no false alarm of a stolen token), and sign-out answers are replayed.
#[tokio::test]
async fn retried_account_requests_do_their_work_once() {
    use terrace_testkit::rpc::{assert_refused, request_id};
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let db = app.ctx.database("identity").await;
    let sessions = || async {
        use sea_orm::ConnectionTrait as _;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let not_kept = tonic::Code::FailedPrecondition;

    request_code(&mut client, PHONE, pb::OtpPurpose::SignUp).await;
    let sign_up = pb::SignUpRequest {
        request_id: request_id(),
        phone_number: PHONE.into(),
        otp_code: sms.next().await.code,
        display_name: "王秀英".into(),
        password: "村口老槐树下的井".into(),
        ..Default::default()
    };
    client.sign_up(sign_up.clone()).await.unwrap();
    assert_refused(client.sign_up(sign_up).await, not_kept, "ANSWER_NOT_KEPT");
    assert_eq!(sessions().await, 1);

    request_code(&mut client, PHONE, pb::OtpPurpose::Login).await;
    let with_code = pb::LoginWithOtpRequest {
        request_id: request_id(),
        phone_number: PHONE.into(),
        otp_code: sms.next().await.code,
        client_description: String::new(),
    };
    client.login_with_otp(with_code.clone()).await.unwrap();
    assert_refused(
        client.login_with_otp(with_code).await,
        not_kept,
        "ANSWER_NOT_KEPT",
    );
    assert_eq!(sessions().await, 2);

    let with_password = pb::LoginWithPasswordRequest {
        request_id: request_id(),
        phone_number: PHONE.into(),
        password: "村口老槐树下的井".into(),
        client_description: String::new(),
    };
    let tokens = client
        .login_with_password(with_password.clone())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_refused(
        client.login_with_password(with_password).await,
        not_kept,
        "ANSWER_NOT_KEPT",
    );
    assert_eq!(sessions().await, 3);

    // The refresh's retry is refused without taking the spent token for a stolen one: the
    // first answer's refresh token still works.
    let refresh = pb::RefreshTokenRequest {
        request_id: request_id(),
        refresh_token: tokens.refresh_token.clone(),
    };
    let refreshed = client
        .refresh_token(refresh.clone())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_refused(
        client.refresh_token(refresh).await,
        not_kept,
        "ANSWER_NOT_KEPT",
    );
    let again = client
        .refresh_token(pb::RefreshTokenRequest {
            request_id: request_id(),
            refresh_token: refreshed.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_eq!(sessions().await, 3, "no session was revoked as stolen");

    // Signing out: the answer is replayed; the id in another request is refused.
    let logout = pb::LogoutRequest {
        request_id: request_id(),
        refresh_token: again.refresh_token.clone(),
    };
    let token = again.access_token.clone();
    client.logout(bearer(logout.clone(), &token)).await.unwrap();
    client.logout(bearer(logout.clone(), &token)).await.unwrap();
    assert_eq!(sessions().await, 2);
    assert_refused(
        client
            .logout(bearer(
                pb::LogoutRequest {
                    refresh_token: "another".into(),
                    ..logout
                },
                &token,
            ))
            .await,
        not_kept,
        "REQUEST_ID_REUSED",
    );

    let revoke_all = pb::RevokeAllSessionsRequest {
        request_id: request_id(),
        reason: "lost my phone".into(),
        ..Default::default()
    };
    let first = client
        .revoke_all_sessions(bearer(revoke_all.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.revoked_count, 2);
    let retried = client
        .revoke_all_sessions(bearer(revoke_all.clone(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried, first, "the first answer, not a second revocation");
    assert_refused(
        client
            .revoke_all_sessions(bearer(
                pb::RevokeAllSessionsRequest {
                    reason: "another reason".into(),
                    ..revoke_all
                },
                &token,
            ))
            .await,
        not_kept,
        "REQUEST_ID_REUSED",
    );
}

/// A request asking for a browser session (`x-terrace-session: cookie`), with `headers`.
fn browser<T>(message: T, headers: &[(&'static str, String)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-terrace-session", "cookie".parse().unwrap());
    for (name, value) in headers {
        request.metadata_mut().insert(*name, value.parse().unwrap());
    }
    request
}

/// The `name=value` of the one `Set-Cookie` of a response, and the whole header.
fn set_cookie(metadata: &tonic::metadata::MetadataMap) -> (String, String) {
    let all: Vec<_> = metadata.get_all("set-cookie").iter().collect();
    assert_eq!(all.len(), 1, "one cookie: {all:?}");
    let header = all[0].to_str().unwrap().to_owned();
    (header.split(';').next().unwrap().to_owned(), header)
}

#[tokio::test]
async fn a_browser_keeps_its_refresh_token_in_an_http_only_cookie_per_account() {
    let app = identity(|_| {}).await;
    let db = app.ctx.database("identity").await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let mut accounts = Vec::new();
    for (phone, name) in [("+8613700137101", "王秀英"), ("+8613700137102", "王小明")] {
        terrace_identity::admin::create_user(
            &db,
            terrace_identity::admin::NewAccount {
                phone,
                display_name: name,
                password: Some("村口老槐树下的井"),
                locale: "zh-CN",
                time_zone: "Asia/Shanghai",
            },
            "test",
        )
        .await
        .unwrap();
        let login = client
            .login_with_password(browser(
                pb::LoginWithPasswordRequest {
                    request_id: request_id(),
                    phone_number: phone.into(),
                    password: "村口老槐树下的井".into(),
                    client_description: "family phone".into(),
                },
                &[],
            ))
            .await
            .unwrap();
        let (cookie, header) = set_cookie(login.metadata());
        let login = login.into_inner();
        let user_id = login.user.unwrap().id;
        let tokens = login.tokens.unwrap();
        assert!(
            tokens.refresh_token.is_empty(),
            "no refresh token in the body"
        );
        assert!(!tokens.access_token.is_empty());
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/terrace.identity.v1.IdentityService/",
        ] {
            assert!(header.contains(attribute), "{header} lacks {attribute}");
        }
        assert!(
            cookie.starts_with(&format!("terrace_refresh_{}=", user_id.replace('-', ""))),
            "named after the account: {cookie}"
        );
        accounts.push((user_id, cookie));
    }

    // The phone sends both cookies (one per person); a refresh names whose session it wants.
    let both = format!("{}; {}", accounts[0].1, accounts[1].1);
    let refresh = |account: &str, cookies: &str| {
        browser(
            pb::RefreshTokenRequest {
                request_id: request_id(),
                refresh_token: String::new(),
            },
            &[
                ("x-terrace-account", account.to_owned()),
                ("cookie", cookies.to_owned()),
            ],
        )
    };
    let refreshed = client
        .refresh_token(refresh(&accounts[1].0, &both))
        .await
        .unwrap();
    let (rotated, _) = set_cookie(refreshed.metadata());
    assert_ne!(rotated, accounts[1].1, "the cookie was rotated");
    let tokens = refreshed.into_inner().tokens.unwrap();
    assert!(tokens.refresh_token.is_empty());
    let verified = identity_claims(&tokens.access_token);
    assert_eq!(verified, accounts[1].0, "the second person's session");

    // The spent cookie is refused (and, as a reused refresh token, ends that session).
    let reused = client
        .refresh_token(refresh(&accounts[1].0, &both))
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::Unauthenticated, "{reused:?}");
    // No cookie for that account, or a malformed account: specific refusals.
    let missing = client
        .refresh_token(refresh(&accounts[0].0, "other=1"))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    let malformed = client
        .refresh_token(refresh("not-an-account", &both))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        terrace_testkit::rpc::violated_fields(&malformed),
        vec!["x-terrace-account"]
    );

    // The first person's session is untouched; logging out clears that cookie.
    let refreshed = client
        .refresh_token(refresh(&accounts[0].0, &both))
        .await
        .unwrap();
    let (current, _) = set_cookie(refreshed.metadata());
    let both = format!("{current}; {rotated}");
    let access = refreshed.into_inner().tokens.unwrap().access_token;
    let mut logout = browser(
        pb::LogoutRequest {
            request_id: request_id(),
            refresh_token: String::new(),
        },
        &[
            ("x-terrace-account", accounts[0].0.clone()),
            ("cookie", both.clone()),
        ],
    );
    logout
        .metadata_mut()
        .insert("authorization", format!("Bearer {access}").parse().unwrap());
    let logged_out = client.logout(logout).await.unwrap();
    let (cleared, header) = set_cookie(logged_out.metadata());
    assert!(cleared.ends_with('='), "emptied: {cleared}");
    assert!(header.contains("Max-Age=0"), "{header}");
    let ended = client
        .refresh_token(refresh(&accounts[0].0, &both))
        .await
        .unwrap_err();
    assert_eq!(
        ended.code(),
        Code::Unauthenticated,
        "the session ended: {ended:?}"
    );
}

/// The subject of an access token (its payload read without verifying; the server verified it).
fn identity_claims(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_person_who_chooses_to_buy_signs_up_with_a_buyers_standing_over_the_whole_country() {
    let app = identity(|_| {}).await;
    let mut sms = Sms::listen(&app).await;
    let mut client = IdentityServiceClient::new(app.channel().await);
    let sign_up = |code: String, phone: &str, as_buyer: bool| pb::SignUpRequest {
        request_id: request_id(),
        phone_number: phone.into(),
        otp_code: code,
        display_name: "杭州李先生".into(),
        as_buyer,
        ..Default::default()
    };
    request_code(&mut client, PHONE, pb::OtpPurpose::SignUp).await;
    let code = sms.next().await.code;
    let buyer = client
        .sign_up(sign_up(code, PHONE, true))
        .await
        .unwrap()
        .into_inner();
    let own_grants = |user: &pb::User, token: &str| {
        bearer(
            pb::ListRoleGrantsRequest {
                user_id: user.id.clone(),
                ..Default::default()
            },
            token,
        )
    };
    let user = buyer.user.unwrap();
    let token = buyer.tokens.unwrap().access_token;
    let grants = client
        .list_role_grants(own_grants(&user, &token))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0].role, pb::Role::Buyer as i32);
    let scope = grants[0].scope.as_ref().unwrap();
    assert_eq!(scope.code, "000000000000", "the whole country");
    // Someone who did not choose to buy holds nothing.
    let other = "+8613800138001";
    request_code(&mut client, other, pb::OtpPurpose::SignUp).await;
    let code = sms.next().await.code;
    let plain = client
        .sign_up(sign_up(code, other, false))
        .await
        .unwrap()
        .into_inner();
    let (user, token) = (plain.user.unwrap(), plain.tokens.unwrap().access_token);
    let grants = client
        .list_role_grants(own_grants(&user, &token))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(grants.is_empty(), "{grants:?}");
}
