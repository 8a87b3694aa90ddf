//! Per-test names, settings and clean-up.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use terrace_platform::bus::Bus;
use terrace_platform::config::{Settings, Sources};

/// The names and settings of one test. Dropping it drops the test's databases and streams.
#[derive(Debug)]
pub struct TestContext {
    /// Short random id that makes this test's names unique.
    pub id: String,
    pub settings: Settings,
    /// Extra stream domains made by this test (besides the five domains), for clean-up.
    services: std::sync::Mutex<Vec<String>>,
}

impl TestContext {
    /// Fresh names, and settings tuned for tests: short delays, small batches. `TERRACE__*`
    /// environment variables still apply (to point tests at another PostgreSQL or NATS).
    pub fn new() -> Self {
        terrace_platform::telemetry::init_for_tests("terrace-test");
        let id = format!("{:08x}", rand::random::<u32>());
        let mut settings = Settings::load(&Sources {
            file: None,
            environment: true,
        })
        .unwrap_or_default();
        settings.database.database_prefix = format!("t_{id}_");
        settings.database.create_if_missing = true;
        settings.database.migrate_on_start = true;
        settings.database.max_connections = 8;
        settings.database.min_connections = 0;
        // A deadline for a connection at all, not a timing: on a loaded machine (two cores,
        // four tests and a build) making a test's database took longer than the services' 5 s.
        settings.database.connect_timeout = Duration::from_secs(30);
        settings.nats.prefix = format!("t{id}");
        settings.nats.duplicate_window = Duration::from_secs(120);
        settings.grpc.addr = ([127, 0, 0, 1], 0).into();
        settings.grpc.drain_delay = Duration::from_millis(300);
        settings.grpc.drain_timeout = Duration::from_secs(5);
        settings.http.addr = ([127, 0, 0, 1], 0).into();
        settings.outbox.poll_interval = Duration::from_millis(200);
        settings.consumer.backoff = vec![Duration::from_millis(50)];
        settings.consumer.max_deliver = 3;
        settings.consumer.ack_wait = Duration::from_secs(5);
        settings.jobs.poll_interval = Duration::from_millis(50);
        // Photos go to a directory of the test's own, removed with it (not `data/photos` beside
        // the crate).
        settings.photos.dir = std::env::temp_dir().join(format!("terrace-test-{id}-photos"));
        Self {
            id,
            settings,
            services: Default::default(),
        }
    }

    /// Remembers a stream domain made by this test, so that it is deleted with the rest.
    pub fn track_service(&self, service: &str) {
        if let Ok(mut services) = self.services.lock()
            && !services.iter().any(|s| s == service)
        {
            services.push(service.to_owned());
        }
    }

    /// A new, migrated-by-the-caller database named `t_<id>_<name>`.
    pub async fn database(&self, name: &str) -> DatabaseConnection {
        terrace_platform::db::connect(&self.settings.database, name)
            .await
            .expect("test database")
    }

    /// A NATS connection with this test's prefix, and its streams (plus one for each of `services`).
    pub async fn bus(&self, services: &[&str]) -> Bus {
        for service in services {
            self.track_service(service);
        }
        let bus = Bus::connect(
            &self.settings.nats,
            "terrace-test",
            self.settings.outbox.max_in_flight,
        )
        .await
        .expect("nats connection");
        terrace_platform::bus::streams::ensure_streams(
            &bus.jetstream,
            &bus.naming,
            &self.settings.nats,
            services,
        )
        .await
        .expect("test streams");
        bus
    }
}

impl Default for TestContext {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestContext {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.settings.photos.dir);
        let settings = self.settings.clone();
        let prefix = settings.database.database_prefix.clone();
        let services = self.services.lock().map(|s| s.clone()).unwrap_or_default();
        // Drop runs outside of any runtime guarantee (maybe inside one): clean up on a thread of
        // our own with a runtime of its own, and wait for it.
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Err(error) = drop_databases(&settings, &prefix).await {
                    eprintln!("test clean-up: {error:#}");
                }
                let names: Vec<&str> = services.iter().map(String::as_str).collect();
                if let Ok(client) = async_nats::connect(settings.nats.url.as_str()).await {
                    let jetstream = async_nats::jetstream::new(client);
                    let naming = terrace_platform::bus::Naming::new(&settings.nats.prefix);
                    let _ =
                        terrace_platform::bus::streams::delete_streams(&jetstream, &naming, &names)
                            .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn drop_databases(settings: &Settings, prefix: &str) -> anyhow::Result<()> {
    use sea_orm::{ConnectionTrait, Statement};
    let admin = terrace_platform::db::admin_connection(&settings.database).await?;
    let rows = admin
        .query_all_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
            [prefix.into()],
        ))
        .await?;
    admin.close().await?;
    for row in rows {
        let name: String = row.try_get("", "datname")?;
        terrace_platform::db::drop_database(&settings.database, &name).await?;
    }
    Ok(())
}
