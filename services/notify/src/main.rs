//! `terrace-notify`: the notify service on its own, as its container runs it.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    terrace_platform::service::main_for(terrace_platform::service::ServiceDef::of::<
        terrace_notify::Notify,
    >())
    .await
}
