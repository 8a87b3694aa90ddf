//! The Open311 GeoReport v2 door over real HTTP: discovery, services and a service definition,
//! an agency's POST with its client token (and refusals in the spec's error format), requests
//! read back, each in JSON and XML.

use terrace_governance::Governance;
use terrace_platform::auth::{AdminScope, Role};
use terrace_platform::service::ServiceDef;
use terrace_proto::common::v1 as common;
use terrace_proto::governance::v1 as pb;
use terrace_proto::governance::v1::RequestFieldType as Kind;
use terrace_proto::governance::v1::governance_service_client::GovernanceServiceClient;
use terrace_proto::identity::v1::Role as RoleProto;
use terrace_testkit::TestApp;
use terrace_testkit::rpc::request_id;
use uuid::Uuid;

const VILLAGE: &str = "330523108204";
const TOWNSHIP: &str = "330523108";

fn zh(text: &str) -> Option<common::LocalizedText> {
    Some(common::LocalizedText {
        translations: [("zh-CN".to_owned(), text.to_owned())].into(),
    })
}

fn option(value: &str, label: &str) -> pb::RequestFieldOption {
    pb::RequestFieldOption {
        value: value.into(),
        label: zh(label),
    }
}

struct Door {
    app: TestApp,
    base: String,
    http: reqwest::Client,
    /// A publicly listed type (road damage).
    type_id: String,
    agency: String,
    township: String,
}

impl Door {
    async fn new() -> Self {
        let app = TestApp::spawn_with(&[ServiceDef::of::<Governance>()], |settings| {
            settings.services.insert(
                "governance".into(),
                serde_json::json!({ "demo_divisions": true }),
            );
        })
        .await;
        let mut client = GovernanceServiceClient::new(app.channel().await);
        let township = app.token(
            &Uuid::now_v7().to_string(),
            &[(Role::TownshipOfficial, TOWNSHIP)],
        );
        let request_type = client
            .create_request_type(app.request(
                pb::CreateRequestTypeRequest {
                    request_id: request_id(),
                    request_type: Some(pb::RequestType {
                        area: Some(AdminScope::parse(TOWNSHIP).unwrap().to_proto()),
                        code: "pothole".into(),
                        name: zh("道路坑洼"),
                        description: zh("路面坑洼、塌陷"),
                        group: "roads".into(),
                        fields: vec![
                            pb::RequestFieldDefinition {
                                key: "size".into(),
                                label: zh("大小"),
                                r#type: Kind::Choice as i32,
                                required: true,
                                options: vec![option("small", "小"), option("large", "大")],
                                ..Default::default()
                            },
                            pb::RequestFieldDefinition {
                                key: "hazards".into(),
                                label: zh("危险"),
                                r#type: Kind::MultiChoice as i32,
                                options: vec![
                                    option("water", "积水"),
                                    option("night", "夜间看不见"),
                                ],
                                ..Default::default()
                            },
                        ],
                        responsible_role: RoleProto::VillageOfficial as i32,
                        sla_hours: 72,
                        public_listing: true,
                        ..Default::default()
                    }),
                },
                &township,
            ))
            .await
            .unwrap()
            .into_inner()
            .request_type
            .unwrap();
        let agency = app
            .issuer
            .build(&Uuid::now_v7().to_string())
            .agency(&["governance.requests:write"])
            .grants(&[(Role::VillageOfficial, VILLAGE)])
            .sign();
        let base = format!("http://{}/open311/v2", app.http_addr);
        Self {
            app,
            base,
            http: terrace_testkit::http_client(),
            type_id: request_type.id,
            agency,
            township,
        }
    }

    /// A type of the township without extra fields, listed publicly or not.
    async fn plain_type(&self, code: &str, public_listing: bool) -> String {
        GovernanceServiceClient::new(self.app.channel().await)
            .create_request_type(self.app.request(
                pb::CreateRequestTypeRequest {
                    request_id: request_id(),
                    request_type: Some(pb::RequestType {
                        area: Some(AdminScope::parse(TOWNSHIP).unwrap().to_proto()),
                        code: code.into(),
                        name: zh(code),
                        group: "misc".into(),
                        responsible_role: RoleProto::VillageOfficial as i32,
                        public_listing,
                        ..Default::default()
                    }),
                },
                &self.township,
            ))
            .await
            .unwrap()
            .into_inner()
            .request_type
            .unwrap()
            .id
    }

    /// A villager's report of a small pothole over gRPC, with `photos`.
    async fn file_pothole(
        &self,
        villager: &str,
        photos: Vec<common::MediaRef>,
    ) -> pb::ServiceRequest {
        GovernanceServiceClient::new(self.app.channel().await)
            .create_service_request(self.app.request(
                pb::CreateServiceRequestRequest {
                    request_id: request_id(),
                    service_request: Some(pb::ServiceRequest {
                        type_id: self.type_id.clone(),
                        village_code: VILLAGE.into(),
                        description: "坑".into(),
                        field_values: [("size".to_owned(), "small".to_owned())].into(),
                        photos,
                        ..Default::default()
                    }),
                    on_behalf_of_user_id: String::new(),
                },
                villager,
            ))
            .await
            .unwrap()
            .into_inner()
            .service_request
            .unwrap()
    }

    async fn get(&self, path: &str) -> (u16, String, String) {
        let answer = self
            .http
            .get(format!("{}/{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        let kind = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (status, kind, answer.text().await.unwrap())
    }

    async fn post(&self, file: &str, token: Option<&str>, form: &[(&str, &str)]) -> (u16, String) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter())
            .finish();
        let mut request = self
            .http
            .post(format!("{}/{file}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    fn pothole<'a>(&'a self, size: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("jurisdiction_id", VILLAGE),
            ("service_code", self.type_id.as_str()),
            ("lat", "30.5231"),
            ("long", "119.6102"),
            ("address_string", "村口大桥南"),
            ("description", "桥南路面有个大坑"),
            ("attribute[size]", size),
            ("attribute[hazards][]", "water"),
            ("attribute[hazards][]", "night"),
            ("first_name", "秀英"),
            ("last_name", "王"),
            ("phone", "13800003333"),
        ]
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

#[tokio::test]
async fn discovery_services_and_a_definition_in_json_and_xml() {
    let door = Door::new().await;
    let (status, kind, body) = door.get("discovery.json").await;
    assert_eq!(
        (status, kind.as_str()),
        (200, "application/json; charset=utf-8")
    );
    let discovery = json(&body);
    assert_eq!(
        discovery["endpoints"][0]["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert!(
        discovery["endpoints"][0]["formats"]
            .as_array()
            .unwrap()
            .contains(&"text/xml".into())
    );
    let (status, kind, body) = door.get("discovery.xml").await;
    assert_eq!((status, kind.as_str()), (200, "text/xml; charset=utf-8"));
    assert!(
        body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery>"),
        "{body}"
    );
    assert!(
        body.contains(
            "<endpoint><specification>http://wiki.open311.org/GeoReport_v2</specification>"
        ),
        "{body}"
    );
    assert!(
        body.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        ),
        "{body}"
    );

    // 余村 is offered the township's type; a village of another township is not.
    let (_, _, body) = door
        .get(&format!("services.json?jurisdiction_id={VILLAGE}"))
        .await;
    let services = json(&body);
    assert_eq!(services.as_array().unwrap().len(), 1);
    let service = &services[0];
    assert_eq!(service["service_code"], door.type_id.as_str());
    assert_eq!(service["service_name"], "道路坑洼");
    assert_eq!(
        (service["metadata"].as_bool(), service["type"].as_str()),
        (Some(true), Some("realtime"))
    );
    assert_eq!(
        (service["group"].as_str(), service["keywords"].as_str()),
        (Some("roads"), Some("pothole"))
    );
    let (_, _, body) = door.get("services.json?jurisdiction_id=330523101001").await;
    assert_eq!(json(&body), serde_json::json!([]));
    let (_, _, body) = door
        .get(&format!("services.xml?jurisdiction_id={VILLAGE}"))
        .await;
    assert!(body.contains(&format!("<services><service><service_code>{}</service_code><service_name>道路坑洼</service_name>", door.type_id)), "{body}");

    // The definition: a single-value list and a multi-value list with their values.
    let (status, _, body) = door.get(&format!("services/{}.json", door.type_id)).await;
    assert_eq!(status, 200);
    let definition = json(&body);
    assert_eq!(definition["service_code"], door.type_id.as_str());
    let size = &definition["attributes"][0];
    assert_eq!(
        (
            size["code"].as_str(),
            size["datatype"].as_str(),
            size["required"].as_bool(),
            size["order"].as_u64()
        ),
        (Some("size"), Some("singlevaluelist"), Some(true), Some(1))
    );
    assert_eq!(
        size["values"],
        serde_json::json!([{"key": "small", "name": "小"}, {"key": "large", "name": "大"}])
    );
    assert_eq!(definition["attributes"][1]["datatype"], "multivaluelist");
    let (_, _, body) = door.get(&format!("services/{}.xml", door.type_id)).await;
    assert!(
        body.contains("<service_definition><service_code>"),
        "{body}"
    );
    assert!(body.contains("<attributes><attribute><variable>true</variable><code>size</code><datatype>singlevaluelist</datatype><required>true</required>"), "{body}");
    assert!(
        body.contains("<values><value><key>small</key><name>小</name></value>"),
        "{body}"
    );
    // An unknown service code, a format the door does not speak.
    let (status, _, body) = door.get(&format!("services/{}.xml", Uuid::now_v7())).await;
    assert_eq!(status, 404);
    assert!(body.contains("<errors><error><code>404</code>"), "{body}");
    assert_eq!(door.get("services.csv").await.0, 404);
}

#[tokio::test]
async fn an_agency_posts_a_request_and_anyone_reads_it_back_without_personal_data() {
    let door = Door::new().await;
    // Without a token, with a villager's token: the spec's 403 in the spec's shape.
    let (status, body) = door
        .post("requests.json", None, &door.pothole("large"))
        .await;
    assert_eq!(status, 403);
    assert_eq!(json(&body)[0]["code"], 403);
    let villager = door
        .app
        .token(&Uuid::now_v7().to_string(), &[(Role::Resident, VILLAGE)]);
    let (status, body) = door
        .post("requests.xml", Some(&villager), &door.pothole("large"))
        .await;
    assert_eq!(status, 403);
    assert!(body.contains("<errors><error><code>403</code>"), "{body}");
    // A value the type refuses is named by its Open311 name.
    let (status, body) = door
        .post("requests.json", Some(&door.agency), &door.pothole("huge"))
        .await;
    assert_eq!(status, 400);
    let description = json(&body)[0]["description"].as_str().unwrap().to_owned();
    assert!(description.contains("attribute[size]"), "{description}");

    // Filed, through api_key this time (as many clients send it).
    let mut form = door.pothole("large");
    form.push(("api_key", &door.agency));
    let (status, body) = door.post("requests.json", None, &form).await;
    assert_eq!(status, 201, "{body}");
    let id = json(&body)[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _, body) = door.get(&format!("requests/{id}.json")).await;
    assert_eq!(status, 200);
    let request = &json(&body)[0];
    assert_eq!(request["status"], "open");
    assert_eq!(request["service_code"], door.type_id.as_str());
    assert_eq!(request["service_name"], "道路坑洼");
    assert_eq!(request["description"], "桥南路面有个大坑");
    assert_eq!(request["address"], "村口大桥南");
    assert_eq!(request["agency_responsible"], "余村村委会");
    assert_eq!(
        (request["lat"].as_f64(), request["long"].as_f64()),
        (Some(30.523), Some(119.61)),
        "to about 100 m"
    );
    assert!(
        request["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    assert!(
        !body.contains("13800003333") && !body.contains("王秀英"),
        "no personal data: {body}"
    );
    let (_, _, body) = door.get(&format!("requests/{id}.xml")).await;
    assert!(body.contains(&format!("<service_requests><request><service_request_id>{id}</service_request_id><status>open</status>")), "{body}");

    // The list, with its filters.
    let (_, _, body) = door.get("requests.json?status=open").await;
    assert_eq!(json(&body).as_array().unwrap().len(), 1);
    let (_, _, body) = door.get("requests.json?status=closed").await;
    assert_eq!(json(&body), serde_json::json!([]));
    let (_, _, body) = door
        .get(&format!(
            "requests.json?service_code={}&jurisdiction_id={TOWNSHIP}",
            door.type_id
        ))
        .await;
    assert_eq!(json(&body).as_array().unwrap().len(), 1);
    let (status, _, body) = door.get("requests.json?start_date=yesterday").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        door.get(&format!("requests/{}.json", Uuid::now_v7()))
            .await
            .0,
        404
    );

    // The request the agency filed is a walk-in of the agency's channel, with the person's phone.
    let mut client = GovernanceServiceClient::new(door.app.channel().await);
    let official = door.app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let seen = client
        .get_service_request(door.app.request(
            pb::GetServiceRequestRequest {
                service_request_id: id.clone(),
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(seen.channel, pb::RequestChannel::Agency as i32);
    assert_eq!(
        (seen.contact_name.as_str(), seen.contact_phone.as_str()),
        ("王秀英", "+8613800003333")
    );
    assert_eq!(seen.field_values["hazards"], "[\"water\",\"night\"]");
}

#[tokio::test]
async fn only_public_photos_are_given_as_media_urls() {
    let door = Door::new().await;
    let mut client = GovernanceServiceClient::new(door.app.channel().await);
    let villager = door
        .app
        .token(&Uuid::now_v7().to_string(), &[(Role::Resident, VILLAGE)]);
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(32, 24, image::Rgb([90, 120, 30]))
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let mut ids = Vec::new();
    for public in [true, false] {
        let photo = client
            .upload_photo(door.app.request(
                pb::UploadPhotoRequest {
                    request_id: request_id(),
                    content: jpeg.get_ref().clone(),
                    content_type: "image/jpeg".into(),
                    public,
                },
                &villager,
            ))
            .await
            .unwrap()
            .into_inner()
            .photo
            .unwrap();
        let filed = door
            .file_pothole(
                &villager,
                vec![common::MediaRef {
                    id: photo.id,
                    ..Default::default()
                }],
            )
            .await;
        ids.push(filed.id);
    }
    let (_, _, body) = door
        .get(&format!(
            "requests.json?service_request_id={},{}",
            ids[0], ids[1]
        ))
        .await;
    let listed = json(&body);
    let media = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|request| request["service_request_id"] == id)
            .unwrap()["media_url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let public = media(&ids[0]);
    assert!(
        public.starts_with("/media/governance/") && !public.contains("sig="),
        "{public}"
    );
    assert_eq!(media(&ids[1]), "", "a private photo stays private");
}

/// A request of a type not listed publicly (a certificate says something about a person) is not
/// there for anonymous readers at all; `services` still lists its type, for agencies to file to.
#[tokio::test]
async fn requests_of_a_type_not_listed_publicly_are_not_published() {
    let door = Door::new().await;
    let certificate = door.plain_type("certificate", false).await;
    let (_, _, body) = door
        .get(&format!("services.json?jurisdiction_id={VILLAGE}"))
        .await;
    let codes: Vec<String> = json(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|service| service["service_code"].as_str().unwrap().to_owned())
        .collect();
    assert!(codes.contains(&certificate), "{codes:?}");

    let mut ids = Vec::new();
    for (code, description) in [
        (certificate.as_str(), "需要居住证明，办低保用"),
        (door.type_id.as_str(), "桥南路面有个大坑"),
    ] {
        let mut form = vec![
            ("jurisdiction_id", VILLAGE),
            ("service_code", code),
            ("lat", "30.5231"),
            ("long", "119.6102"),
            ("address_string", "余村 3 组 12 号"),
            ("description", description),
        ];
        if code == door.type_id {
            form.push(("attribute[size]", "small"));
        }
        let (status, body) = door.post("requests.json", Some(&door.agency), &form).await;
        assert_eq!(status, 201, "{body}");
        ids.push(
            json(&body)[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (hidden, shown) = (&ids[0], &ids[1]);

    // The list has the road's request only, and nothing of the certificate's.
    let (_, _, body) = door.get("requests.json").await;
    let listed = json(&body);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(listed[0]["service_request_id"], shown.as_str());
    assert!(!body.contains("居住证明"), "{body}");
    let (_, _, body) = door
        .get(&format!("requests.xml?service_code={certificate}"))
        .await;
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests></service_requests>"
    );
    // By its id, as if it did not exist: the spec's error, in JSON and XML.
    let (status, _, body) = door.get(&format!("requests/{hidden}.json")).await;
    assert_eq!(status, 404);
    assert_eq!(json(&body)[0]["code"], 404);
    let (status, _, body) = door
        .get(&format!("requests.xml?service_request_id={hidden}"))
        .await;
    assert_eq!(status, 404);
    assert!(body.contains("<errors><error><code>404</code>"), "{body}");
    let (status, _, body) = door
        .get(&format!(
            "requests.json?service_request_id={hidden},{shown}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(json(&body).as_array().unwrap().len(), 1, "{body}");

    // Listed again by its owner: there, with its point to about 100 m.
    let mut client = GovernanceServiceClient::new(door.app.channel().await);
    client
        .update_request_type(door.app.request(
            pb::UpdateRequestTypeRequest {
                request_id: request_id(),
                request_type: Some(pb::RequestType {
                    id: certificate.clone(),
                    public_listing: true,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["public_listing".into()],
                }),
            },
            &door.township,
        ))
        .await
        .unwrap();
    let (status, _, body) = door.get(&format!("requests/{hidden}.xml")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<lat>30.523</lat><long>119.61</long>"),
        "{body}"
    );
}

/// `status_notes` is what an official said publicly, with a status change or as a note: never
/// the requester's note, rating comment or reopening reason, an internal note, an edit or an
/// escalation's reason.
#[tokio::test]
async fn status_notes_are_an_officials_public_words() {
    use terrace_proto::governance::v1::ServiceRequestStatus as S;
    let door = Door::new().await;
    let mut client = GovernanceServiceClient::new(door.app.channel().await);
    let villager = door
        .app
        .token(&Uuid::now_v7().to_string(), &[(Role::Resident, VILLAGE)]);
    let official = door.app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let id = door.file_pothole(&villager, Vec::new()).await.id;
    let notes = async || {
        let (status, _, body) = door.get(&format!("requests/{id}.json")).await;
        assert_eq!(status, 200, "{body}");
        json(&body)[0]["status_notes"].as_str().unwrap().to_owned()
    };
    assert_eq!(notes().await, "");
    let change =
        |to: S, note: &str, visibility: pb::NoteVisibility| pb::ChangeServiceRequestStatusRequest {
            request_id: request_id(),
            service_request_id: id.clone(),
            status: to as i32,
            note: note.into(),
            note_visibility: visibility as i32,
            expected_status: 0,
        };
    let note = |text: &str, visibility: pb::NoteVisibility| pb::AddServiceRequestNoteRequest {
        request_id: request_id(),
        service_request_id: id.clone(),
        note: text.into(),
        visibility: visibility as i32,
        photos: Vec::new(),
    };
    use pb::NoteVisibility::{Internal, Public};
    client
        .change_service_request_status(door.app.request(
            change(S::Acknowledged, "已收到，明天去看", Public),
            &official,
        ))
        .await
        .unwrap();
    assert_eq!(notes().await, "已收到，明天去看");

    // The requester's note, an internal note, an edit: not the status notes.
    client
        .add_service_request_note(door.app.request(note("坑越来越大了", Public), &villager))
        .await
        .unwrap();
    client
        .add_service_request_note(door.app.request(note("今年预算不够", Internal), &official))
        .await
        .unwrap();
    client
        .update_service_request(door.app.request(
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
            &official,
        ))
        .await
        .unwrap();
    assert_eq!(notes().await, "已收到，明天去看");

    // Resolved; the requester rates it with a comment and reopens it with a reason.
    for (to, text) in [(S::InProgress, ""), (S::Resolved, "已用沥青补好")] {
        client
            .change_service_request_status(door.app.request(change(to, text, Public), &official))
            .await
            .unwrap();
    }
    assert_eq!(notes().await, "已用沥青补好");
    client
        .rate_service_request(door.app.request(
            pb::RateServiceRequestRequest {
                request_id: request_id(),
                service_request_id: id.clone(),
                rating: 2,
                comment: "修得太慢".into(),
            },
            &villager,
        ))
        .await
        .unwrap();
    client
        .reopen_service_request(door.app.request(
            pb::ReopenServiceRequestRequest {
                request_id: request_id(),
                service_request_id: id.clone(),
                reason: "下了一场雨又塌了".into(),
            },
            &villager,
        ))
        .await
        .unwrap();
    assert_eq!(notes().await, "已用沥青补好");
    // Escalated with a reason: the reason is not a status note either.
    client
        .escalate_service_request(door.app.request(
            pb::EscalateServiceRequestRequest {
                request_id: request_id(),
                service_request_id: id.clone(),
                reason: "村里修不了，要镇里派工程队".into(),
            },
            &official,
        ))
        .await
        .unwrap();
    assert_eq!(notes().await, "已用沥青补好");
    // The township, now answerable, writes publicly: that is the latest.
    client
        .add_service_request_note(
            door.app
                .request(note("工程队周五到", Public), &door.township),
        )
        .await
        .unwrap();
    assert_eq!(notes().await, "工程队周五到");
}

/// GeoReport v2 makes the person optional: an agency naming nobody files its own request; a
/// person named needs their phone, asked for by its Open311 name.
#[tokio::test]
async fn an_agency_files_its_own_request_or_a_persons_with_their_phone() {
    let door = Door::new().await;
    let base = [
        ("jurisdiction_id", VILLAGE),
        ("service_code", door.type_id.as_str()),
        ("description", "桥南路面有个大坑"),
        ("attribute[size]", "small"),
    ];
    for person in [
        vec![("email", "wang@example.com")],
        vec![("first_name", "秀英"), ("last_name", "王")],
        vec![("first_name", "秀英"), ("email", "wang@example.com")],
    ] {
        let form: Vec<(&str, &str)> = base.iter().copied().chain(person.clone()).collect();
        let (status, body) = door.post("requests.json", Some(&door.agency), &form).await;
        assert_eq!(status, 400, "{person:?}: {body}");
        let description = json(&body)[0]["description"].as_str().unwrap().to_owned();
        assert!(
            description.starts_with("phone: "),
            "{person:?}: {description}"
        );
        assert!(!description.contains("consent"), "{description}");
    }
    let (status, body) = door.post("requests.xml", Some(&door.agency), &base).await;
    assert_eq!(status, 201, "{body}");
    let id = body
        .split("<service_request_id>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    let official = door.app.token(
        &Uuid::now_v7().to_string(),
        &[(Role::VillageOfficial, VILLAGE)],
    );
    let seen = GovernanceServiceClient::new(door.app.channel().await)
        .get_service_request(door.app.request(
            pb::GetServiceRequestRequest {
                service_request_id: id,
            },
            &official,
        ))
        .await
        .unwrap()
        .into_inner()
        .service_request
        .unwrap();
    assert_eq!(seen.channel, pb::RequestChannel::Agency as i32);
    assert_eq!(
        (
            seen.requester_user_id.as_str(),
            seen.contact_name.as_str(),
            seen.contact_phone.as_str(),
            seen.on_behalf_consent.as_str()
        ),
        ("", "", "", ""),
        "the agency's own: nobody else to answer"
    );
    assert_eq!(
        seen.filed_by.unwrap().kind,
        common::ActorKind::Agency as i32
    );
}

/// "service_request_id ... overrides all other arguments" (GeoReport v2, GET service requests).
#[tokio::test]
async fn a_service_request_id_overrides_every_other_filter() {
    use terrace_proto::governance::v1::ServiceRequestStatus as S;
    let door = Door::new().await;
    let (status, body) = door
        .post("requests.json", Some(&door.agency), &door.pothole("small"))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = json(&body)[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    GovernanceServiceClient::new(door.app.channel().await)
        .change_service_request_status(door.app.request(
            pb::ChangeServiceRequestStatusRequest {
                request_id: request_id(),
                service_request_id: id.clone(),
                status: S::Rejected as i32,
                note: "重复上报".into(),
                note_visibility: pb::NoteVisibility::Public as i32,
                expected_status: 0,
            },
            &door.agency,
        ))
        .await
        .unwrap();
    let other_type = Uuid::now_v7();
    for others in [
        "status=open".to_owned(),
        format!("service_code={other_type}"),
        "start_date=2030-01-01T00:00:00Z".to_owned(),
        "end_date=2020-01-01T00:00:00Z".to_owned(),
        "jurisdiction_id=330523101".to_owned(),
        "status=somewhere&start_date=yesterday&jurisdiction_id=x".to_owned(),
    ] {
        let (status, _, body) = door
            .get(&format!("requests.json?service_request_id={id}&{others}"))
            .await;
        assert_eq!(status, 200, "{others}: {body}");
        let found = json(&body);
        assert_eq!(found[0]["service_request_id"], id.as_str(), "{others}");
        assert_eq!(
            (
                found[0]["status"].as_str(),
                found[0]["status_notes"].as_str()
            ),
            (Some("closed"), Some("重复上报"))
        );
    }
    // Without it, the filters apply.
    let (_, _, body) = door.get("requests.json?status=open").await;
    assert_eq!(json(&body), serde_json::json!([]));
}
