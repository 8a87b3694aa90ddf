//! Generates Rust code for every `.proto` file under the repository's `proto/` directory.
//!
//! protoc comes from `protoc-bin-vendored` (with its bundled well-known types), so a machine
//! without protoc builds this crate. The encoded descriptor set (with imports and source
//! comments) is written to `$OUT_DIR/terrace_descriptor.bin` for tonic-reflection and tests.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?,
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let proto_root = manifest_dir.join("../../proto").canonicalize()?;

    // Any added, removed or edited file under proto/ reruns this script (a directory is
    // watched recursively by cargo).
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut protos = Vec::new();
    collect_protos(&proto_root, &mut protos)?;
    // Sorted, so that the generated code and descriptor set do not depend on directory order.
    protos.sort();
    if protos.is_empty() {
        return Err(format!("no .proto files under {}", proto_root.display()).into());
    }

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // Maps as BTreeMap: a message then encodes to the same bytes every time, which the
    // fingerprint of an idempotent request (`platform::idempotency`) relies on.
    config.btree_map(["."]);

    let includes = [proto_root, protoc_bin_vendored::include_path()?];
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Every RPC gets a default body answering UNIMPLEMENTED, so a service implements its RPCs
        // one by one as its issues land, and a new RPC in a contract never breaks the build.
        .generate_default_stubs(true)
        // `connect()` on clients needs tonic's transport channel; see the `transport` feature.
        .build_transport(std::env::var_os("CARGO_FEATURE_TRANSPORT").is_some())
        .file_descriptor_set_path(out_dir.join("terrace_descriptor.bin"))
        .compile_with_config(config, &protos, &includes)?;
    write_event_impls(&protos, &out_dir.join("events.rs"))?;
    Ok(())
}

/// Generates `impl Event` for every message of a domain's `events.proto` whose comment names its
/// subject (`Subject: \`market.listing.created\``), so that the subject is written once, in the
/// contract. Messages whose subject has a placeholder (`agri.telemetry.<device_id>`) are not
/// outbox events and get no impl.
fn write_event_impls(protos: &[PathBuf], out: &Path) -> Result<(), Box<dyn Error>> {
    let mut code = String::new();
    for proto in protos
        .iter()
        .filter(|p| p.file_name().is_some_and(|name| name == "events.proto"))
    {
        let text = fs::read_to_string(proto)?;
        let package = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("package ")?.strip_suffix(';'))
            .ok_or_else(|| format!("{} has no package", proto.display()))?;
        // terrace.market.v1 -> crate::market::v1
        let module = format!(
            "crate::{}",
            package.trim_start_matches("terrace.").replace('.', "::")
        );
        let mut comment = String::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(text) = line.strip_prefix("//") {
                comment.push_str(text);
                comment.push(' ');
                continue;
            }
            if let Some(rest) = line.strip_prefix("message ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                let subject = comment
                    .split("Subject:")
                    .nth(1)
                    .and_then(|rest| rest.trim_start().strip_prefix('`'))
                    .and_then(|rest| rest.split('`').next())
                    .filter(|subject| {
                        subject.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'
                        })
                    });
                if let Some(subject) = subject {
                    code.push_str(&format!(
                        "impl crate::Event for {module}::{name} {{\n    const SUBJECT: &'static str = \"{subject}\";\n    const TYPE: &'static str = \"{package}.{name}\";\n}}\n"
                    ));
                }
            }
            comment.clear();
        }
    }
    fs::write(out, code)?;
    Ok(())
}

/// Appends every `*.proto` file below `dir` to `out`.
fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
