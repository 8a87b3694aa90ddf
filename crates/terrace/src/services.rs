//! The services this binary can run.

use terrace_platform::service::ServiceDef;

/// Every service, in start order (identity first: the others verify its tokens).
pub(crate) fn all() -> Vec<ServiceDef> {
    vec![
        ServiceDef::of::<terrace_identity::Identity>(),
        ServiceDef::of::<terrace_governance::Governance>(),
        ServiceDef::of::<terrace_agri::Agri>(),
        ServiceDef::of::<terrace_market::Market>(),
        ServiceDef::of::<terrace_notify::Notify>(),
    ]
}

/// One service by name.
pub(crate) fn by_name(name: &str) -> anyhow::Result<ServiceDef> {
    all()
        .into_iter()
        .find(|def| def.name == name)
        .ok_or_else(|| anyhow::anyhow!("unknown service {name:?}"))
}

/// Parses a `--service` argument, listing the valid names when it is not one.
pub(crate) fn parse_name(name: &str) -> Result<&'static str, String> {
    all()
        .into_iter()
        .map(|def| def.name)
        .find(|known| *known == name)
        .ok_or_else(|| {
            let names: Vec<_> = all().into_iter().map(|def| def.name).collect();
            format!("unknown service {name:?}; one of: {}", names.join(", "))
        })
}
