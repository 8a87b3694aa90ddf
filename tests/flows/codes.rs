//! A one-time code arrives through the SMS gateway: identity makes it, notify texts it, the
//! person types it back. A buyer signs up so; a registered villager logs in so.

use terrace_platform::auth::Role;
use terrace_proto::identity::v1 as identity;
use terrace_testkit::rpc::request_id;

use crate::world::{VILLAGE, World};

#[tokio::test]
async fn a_one_time_code_arrives_through_the_sms_gateway_and_signs_a_buyer_up_then_logs_a_villager_in()
 {
    let w = World::new().await;
    let phone = "+8613800000021";
    w.request_code(phone, identity::OtpPurpose::SignUp).await;
    let code = w.gateway.code_for(phone, 0).await;
    let text = w.gateway.received()[0].text().to_owned();
    assert!(
        text.starts_with(&format!("【Terrace】验证码 {code}，用于注册")),
        "{text}"
    );
    let signed_up = w
        .identity
        .clone()
        .sign_up(identity::SignUpRequest {
            request_id: request_id(),
            phone_number: phone.to_owned(),
            otp_code: code,
            display_name: "李娜".to_owned(),
            as_buyer: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let buyer = signed_up.user.unwrap();
    assert_eq!(buyer.phone_number, phone);
    assert!(!signed_up.tokens.unwrap().access_token.is_empty());

    // A villager the village registered logs in with a code texted to her phone.
    let villager = w
        .person("+8613800000022", "赵大山", &[(Role::Resident, VILLAGE)])
        .await;
    let before = w.gateway.received().len();
    w.request_code(&villager.phone, identity::OtpPurpose::Login)
        .await;
    let code = w.gateway.code_for(&villager.phone, before).await;
    let login = w
        .identity
        .clone()
        .login_with_otp(identity::LoginWithOtpRequest {
            request_id: request_id(),
            phone_number: villager.phone.clone(),
            otp_code: code,
            client_description: "flows".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.user.unwrap().id, villager.id.to_string());
    // Her record of it: sent, under the security category, the code no longer in it.
    let records = w.deliveries(&villager).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].template_key, "identity.otp");
    assert_eq!(w.gateway.received().len(), before + 1, "one text per code");
}
