//! Checks on the contracts that buf lint cannot express: the five services exist under their
//! full names, the RPC conventions of `proto/README.md` hold for every method, and every event
//! names its NATS subject.

use std::collections::{BTreeSet, HashMap};

use prost::Message;
use prost_types::{
    DescriptorProto, FileDescriptorProto, FileDescriptorSet, field_descriptor_proto,
};

use super::FILE_DESCRIPTOR_SET;

const DOMAINS: [&str; 5] = ["identity", "governance", "agri", "market", "notify"];

/// Method name prefixes of RPCs that change nothing (and so take no `request_id`).
const READ_ONLY_PREFIXES: [&str; 7] = [
    "Get", "List", "Search", "Lookup", "Watch", "Preview", "Export",
];

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

fn terrace_files(set: &FileDescriptorSet) -> impl Iterator<Item = &FileDescriptorProto> {
    set.file
        .iter()
        .filter(|f| f.package().starts_with("terrace."))
}

/// Every message of the set by its fully qualified name with a leading dot, as field and
/// method types refer to them.
fn messages_by_name(set: &FileDescriptorSet) -> HashMap<String, &DescriptorProto> {
    set.file
        .iter()
        .flat_map(|file| {
            file.message_type
                .iter()
                .map(move |msg| (format!(".{}.{}", file.package(), msg.name()), msg))
        })
        .collect()
}

#[test]
fn descriptor_set_contains_the_five_services() {
    let set = descriptor_set();
    let services: BTreeSet<String> = terrace_files(&set)
        .flat_map(|file| {
            file.service
                .iter()
                .map(move |svc| format!("{}.{}", file.package(), svc.name()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        crate::identity::v1::identity_service_server::SERVICE_NAME,
        crate::governance::v1::governance_service_server::SERVICE_NAME,
        crate::agri::v1::agri_service_server::SERVICE_NAME,
        crate::market::v1::market_service_server::SERVICE_NAME,
        crate::notify::v1::notify_service_server::SERVICE_NAME,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(services, expected);
    assert!(services.contains("terrace.identity.v1.IdentityService"));
    assert!(services.contains("terrace.governance.v1.GovernanceService"));
    assert!(services.contains("terrace.agri.v1.AgriService"));
    assert!(services.contains("terrace.market.v1.MarketService"));
    assert!(services.contains("terrace.notify.v1.NotifyService"));
}

#[test]
fn descriptor_set_carries_imports_for_reflection() {
    let set = descriptor_set();
    let names: BTreeSet<&str> = set.file.iter().map(|f| f.name()).collect();
    for wkt in [
        "google/protobuf/timestamp.proto",
        "google/protobuf/duration.proto",
        "google/protobuf/field_mask.proto",
    ] {
        assert!(names.contains(wkt), "{wkt} missing from the descriptor set");
    }
}

#[test]
fn every_rpc_follows_the_conventions() {
    let set = descriptor_set();
    let messages = messages_by_name(&set);
    let field = |msg: &str, name: &str| {
        messages[msg]
            .field
            .iter()
            .find(|f| f.name() == name)
            .cloned()
    };
    let mut problems = Vec::new();
    for file in terrace_files(&set) {
        for service in &file.service {
            for method in &service.method {
                let name = format!("{}.{}", service.name(), method.name());
                let input = method.input_type();
                let output = method.output_type();
                let read_only = READ_ONLY_PREFIXES
                    .iter()
                    .any(|p| method.name().starts_with(p));

                let request_id = field(input, "request_id");
                if read_only && request_id.is_some() {
                    problems.push(format!("{name}: read-only RPC takes a request_id"));
                }
                if !read_only {
                    let well_formed = request_id.is_some_and(|f| {
                        f.number() == 1 && f.r#type() == field_descriptor_proto::Type::String
                    });
                    if !well_formed {
                        problems.push(format!(
                            "{name}: mutating RPC lacks `string request_id = 1`"
                        ));
                    }
                }

                if method.name().starts_with("Update") {
                    let mask = field(input, "update_mask");
                    if mask.as_ref().map(|f| f.type_name()) != Some(".google.protobuf.FieldMask") {
                        problems.push(format!("{name}: Update RPC lacks a FieldMask update_mask"));
                    }
                }

                if method.name().starts_with("List") || method.name().starts_with("Search") {
                    let page_in = field(input, "page").map(|f| f.type_name().to_owned());
                    let page_out = field(output, "page").map(|f| f.type_name().to_owned());
                    if page_in.as_deref() != Some(".terrace.common.v1.PageRequest")
                        || page_out.as_deref() != Some(".terrace.common.v1.PageResponse")
                    {
                        problems.push(format!(
                            "{name}: List/Search RPC must page with PageRequest/PageResponse"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "convention violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_event_names_its_subject() {
    let set = descriptor_set();
    let mut subjects = BTreeSet::new();
    let mut problems = Vec::new();
    for domain in DOMAINS {
        let path = format!("terrace/{domain}/v1/events.proto");
        let file = set
            .file
            .iter()
            .find(|f| f.name() == path)
            .unwrap_or_else(|| panic!("{path} missing"));
        // Messages used as field types inside the file are parts of events, not events.
        let parts: BTreeSet<String> = file
            .message_type
            .iter()
            .flat_map(|m| m.field.iter().map(|f| f.type_name().to_owned()))
            .collect();
        let comments = file.source_code_info.as_ref().expect("source info kept");
        for (index, message) in file.message_type.iter().enumerate() {
            let full = format!(".{}.{}", file.package(), message.name());
            if parts.contains(&full) {
                continue;
            }
            // Path [4, i] is the i-th top-level message of the file.
            let comment = comments
                .location
                .iter()
                .find(|l| l.path == [4, index as i32])
                .map(|l| {
                    l.leading_comments()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let subject = comment
                .split("Subject: `")
                .nth(1)
                .and_then(|rest| rest.split('`').next());
            match subject {
                Some(subject) => {
                    // Short-lived secrets (one-time codes) travel under `secret.`, in a stream
                    // that keeps them only minutes; the rest of the subject is as usual.
                    let tokens: Vec<&str> = subject
                        .strip_prefix("secret.")
                        .unwrap_or(subject)
                        .split('.')
                        .collect();
                    let well_formed = tokens.len() == 3
                        && tokens[0] == domain
                        && tokens[1..].iter().all(|t| {
                            (t.starts_with('<') && t.ends_with('>'))
                                || t.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        });
                    if !well_formed {
                        problems.push(format!(
                            "{full}: subject `{subject}` is not {domain}.<entity>.<event>"
                        ));
                    }
                    if !subjects.insert(subject.to_owned()) {
                        problems.push(format!("{full}: subject `{subject}` used twice"));
                    }
                }
                None => problems.push(format!("{full}: no `Subject: ` in its comment")),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "event problems:\n{}",
        problems.join("\n")
    );
    assert!(subjects.contains("identity.user.created"));
    assert!(subjects.contains("secret.identity.otp.requested"));
    assert!(subjects.contains("market.listing.created"));
    assert!(subjects.contains("market.order.placed"));
    assert!(subjects.contains("agri.alert.raised"));
}

#[test]
fn generated_types_round_trip() {
    use crate::common::v1::{Money, Quantity, Unit};
    use crate::market::v1::{Listing, ListingStatus};

    let listing = Listing {
        id: "0190f1d2-0000-7000-8000-000000000001".into(),
        stocked: Some(Quantity {
            value_milli: 200_000,
            unit: Unit::Jin.into(),
        }),
        unit_price: Some(Money {
            amount_minor: 350,
            currency_code: "CNY".into(),
        }),
        status: ListingStatus::Active.into(),
        ..Default::default()
    };
    let decoded = Listing::decode(listing.encode_to_vec().as_slice()).expect("decodes");
    assert_eq!(decoded, listing);
    assert_eq!(decoded.status(), ListingStatus::Active);
    assert_eq!(Unit::Jin.as_str_name(), "UNIT_JIN");
}

#[test]
fn events_know_their_subjects_from_the_contract() {
    use crate::Event;
    assert_eq!(
        <crate::identity::v1::OtpRequested as Event>::SUBJECT,
        "secret.identity.otp.requested"
    );
    assert_eq!(
        <crate::identity::v1::OtpRequested as Event>::TYPE,
        "terrace.identity.v1.OtpRequested"
    );
    assert_eq!(
        <crate::market::v1::ListingCreated as Event>::SUBJECT,
        "market.listing.created"
    );
    assert_eq!(
        <crate::agri::v1::AlertRaised as Event>::SUBJECT,
        "agri.alert.raised"
    );
    let generated = include_str!(concat!(env!("OUT_DIR"), "/events.rs"));
    // Every message whose comment names a subject, but the telemetry readings (whose subject
    // carries the device id).
    let declared: usize = [
        include_str!("../../../proto/terrace/identity/v1/events.proto"),
        include_str!("../../../proto/terrace/governance/v1/events.proto"),
        include_str!("../../../proto/terrace/agri/v1/events.proto"),
        include_str!("../../../proto/terrace/market/v1/events.proto"),
        include_str!("../../../proto/terrace/notify/v1/events.proto"),
    ]
    .iter()
    .map(|text| text.matches("Subject:").count())
    .sum();
    assert!(
        generated.contains("ServiceRequestEscalated"),
        "a subject on the next comment line counts"
    );
    assert_eq!(generated.matches("impl crate::Event").count(), declared - 1);
}
