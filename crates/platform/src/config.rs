//! Typed, layered settings.
//!
//! Settings are read in three layers, each overriding the one before: the defaults written here, an
//! optional TOML file (`--config` or `TERRACE_CONFIG`), and environment variables of the form
//! `TERRACE__SECTION__KEY` (for example `TERRACE__DATABASE__URL`). This is the only module that reads
//! the environment, so every knob the platform has is listed, typed and documented in one place.
//! Secrets are held in [`SecretString`] so that they never reach a log line by accident.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Everything a Terrace process can be told.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub grpc: GrpcSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub nats: NatsSettings,
    pub telemetry: TelemetrySettings,
    pub auth: AuthSettings,
    pub outbox: OutboxSettings,
    pub consumer: ConsumerSettings,
    pub jobs: JobsSettings,
    pub photos: PhotosSettings,
    /// Settings of individual services, one table each (`[services.identity]`, or
    /// `TERRACE__SERVICES__IDENTITY__KEY`), read by the service with [`Settings::service`].
    pub services: std::collections::BTreeMap<String, serde_json::Value>,
}

/// The public gRPC port (native gRPC and gRPC-Web on the same listener).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GrpcSettings {
    pub addr: SocketAddr,
    /// Largest encoded message accepted or sent. Set explicitly so that a client cannot make the
    /// server buffer arbitrary amounts of memory. A service that takes photo uploads raises its
    /// own decoding limit to fit one (`terrace_photos::Photos::max_request_bytes`).
    pub max_message_bytes: usize,
    /// A request still running after this long is cancelled and answered `DEADLINE_EXCEEDED`.
    #[serde(with = "humantime_secs")]
    pub request_timeout: Duration,
    /// Requests in flight at once; beyond it new requests are shed with `RESOURCE_EXHAUSTED` at
    /// once instead of queueing, so that an overloaded service stays responsive for the rest.
    pub concurrency_limit: usize,
    /// How long a stopping server keeps answering after its health turned `NOT_SERVING`, so that
    /// load balancers and Kubernetes endpoints stop sending it new calls before it stops accepting.
    #[serde(with = "humantime_millis")]
    pub drain_delay: Duration,
    /// How long a draining server waits for in-flight requests after it stopped accepting new ones.
    #[serde(with = "humantime_secs")]
    pub drain_timeout: Duration,
    /// Origins allowed to call gRPC-Web from a browser; empty allows any origin (development).
    pub cors_allowed_origins: Vec<String>,
    /// TLS on the gRPC listener. Off by default: in a cluster TLS usually ends at the ingress.
    /// Terminating it here is what lets agencies authenticate with a client certificate (mTLS),
    /// since only the process that ends the TLS session can see the certificate it was proven
    /// with.
    pub tls: Option<TlsSettings>,
    /// A directory holding the built web apps (`console/dist`, `farmer/dist`: the repository's
    /// `web/`), served under `/console/` and `/farmer/` on this port, the same origin as
    /// gRPC-Web. `terrace dev` sets it; in Kubernetes the apps have a container of their own.
    pub web_apps_dir: Option<PathBuf>,
}

/// The gRPC listener's certificate and, optionally, the CA of the client certificates it accepts.
#[derive(Debug, Clone, Deserialize)]
pub struct TlsSettings {
    /// PEM certificate chain of the server, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of that certificate.
    pub key_file: PathBuf,
    /// PEM CA certificate(s) that sign client certificates. When set, the server asks every client
    /// for a certificate and verifies one signed by these; a client without one still connects
    /// (browsers, secret-authenticated agencies), so a certificate is a way to authenticate, never
    /// a condition of connecting.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 50051)),
            max_message_bytes: 4 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            concurrency_limit: 1024,
            drain_delay: Duration::from_millis(2000),
            drain_timeout: Duration::from_secs(20),
            cors_allowed_origins: Vec::new(),
            tls: None,
            web_apps_dir: None,
        }
    }
}

/// The side HTTP port: Prometheus metrics, the JWKS document, liveness.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    pub addr: SocketAddr,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

/// PostgreSQL. Each service uses its own database on this server, named `<prefix><service>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// A server URL without a database name, e.g. `postgres://postgres@127.0.0.1:5432`; a password
    /// in it is a secret.
    pub url: SecretString,
    /// Prepended to the service name to make its database name (`terrace_identity`, ...).
    pub database_prefix: String,
    /// Create the service's database when it does not exist (development and tests; in production
    /// the databases are provisioned by the operator).
    pub create_if_missing: bool,
    pub max_connections: u32,
    pub min_connections: u32,
    #[serde(with = "humantime_secs")]
    pub connect_timeout: Duration,
    /// Run the service's migrations when it starts.
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432"),
            database_prefix: "terrace_".to_owned(),
            create_if_missing: true,
            max_connections: 16,
            min_connections: 1,
            connect_timeout: Duration::from_secs(5),
            migrate_on_start: true,
        }
    }
}

impl DatabaseSettings {
    /// The name of one service's database.
    pub fn database_name(&self, service: &str) -> String {
        format!("{}{}", self.database_prefix, service)
    }

    /// The URL of one database on the configured server (connection options after `?` are kept).
    pub fn url_for(&self, database: &str) -> SecretString {
        let url = self.url.expose_secret();
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(base, query)| (base, Some(query)));
        let base = base.trim_end_matches('/');
        SecretString::from(match query {
            Some(query) => format!("{base}/{database}?{query}"),
            None => format!("{base}/{database}"),
        })
    }
}

/// NATS with JetStream.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NatsSettings {
    pub url: String,
    /// Prepended to every stream name and subject. Empty in production; tests give each test its
    /// own prefix so that they share one server without seeing each other's events.
    pub prefix: String,
    /// Replicas of each stream (1 for a single server, 3 in the Kubernetes cluster).
    pub stream_replicas: usize,
    /// How long a message ID is remembered for deduplication of republished events.
    #[serde(with = "humantime_secs")]
    pub duplicate_window: Duration,
    /// How long the SECRET stream keeps a message (one-time codes, `secret.>`): no longer than
    /// the shortest lifetime of what it carries (identity refuses an `otp_ttl` below it).
    #[serde(with = "humantime_secs")]
    pub secret_max_age: Duration,
    /// The Nats credentials file, when the server requires one.
    pub credentials_file: Option<PathBuf>,
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            prefix: String::new(),
            stream_replicas: 1,
            duplicate_window: Duration::from_secs(120),
            secret_max_age: Duration::from_secs(300),
            credentials_file: None,
        }
    }
}

/// Log format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Logs, traces and metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// An `EnvFilter` directive such as `info,terrace=debug`; `RUST_LOG` is not consulted.
    pub log_filter: String,
    /// An OTLP/gRPC collector endpoint (`http://otel-collector:4317`); traces and metrics are
    /// exported there when set.
    pub otlp_endpoint: Option<String>,
    /// Fraction of new traces that are sampled, 0.0 to 1.0; a parent's decision is always followed.
    pub sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_format: LogFormat::Pretty,
            // sqlx reports every "already exists, skipping" notice at info; OpenTelemetry announces its globals.
            log_filter: "info,sqlx=warn,opentelemetry=warn".to_owned(),
            otlp_endpoint: None,
            sample_ratio: 1.0,
        }
    }
}

/// Verification of access tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// Where the signing keys are published (identity's `/.well-known/jwks.json`). When unset, the
    /// process verifies against the keys the identity service in the same process publishes.
    pub jwks_url: Option<String>,
    /// The `iss` every access token must carry.
    pub issuer: String,
    /// The `aud` every access token must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(with = "humantime_secs")]
    pub leeway: Duration,
    /// How often the key set is refreshed even when no unknown `kid` forces it.
    #[serde(with = "humantime_secs")]
    pub jwks_refresh_interval: Duration,
    /// Unknown `kid`s trigger a refresh at most this often, so that forged tokens cannot make the
    /// service hammer the key endpoint.
    #[serde(with = "humantime_secs")]
    pub jwks_min_refresh_interval: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwks_url: None,
            issuer: "terrace".to_owned(),
            audience: "terrace".to_owned(),
            leeway: Duration::from_secs(30),
            jwks_refresh_interval: Duration::from_secs(300),
            jwks_min_refresh_interval: Duration::from_secs(5),
        }
    }
}

/// The outbox relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Rows claimed per transaction.
    pub batch_size: u64,
    /// Publishes awaiting their JetStream acknowledgement at once.
    pub max_in_flight: usize,
    /// Poll interval when no `NOTIFY` arrives (a safety net: the wake-up is the notification).
    #[serde(with = "humantime_millis")]
    pub poll_interval: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            max_in_flight: 1024,
            poll_interval: Duration::from_millis(1000),
        }
    }
}

/// Periodic jobs (`jobs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct JobsSettings {
    /// How often each replica looks whether a job is due by the service clock. Small against the
    /// jobs' own periods (minutes to days); tests make it smaller still.
    #[serde(with = "humantime_millis")]
    pub poll_interval: Duration,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(5000),
        }
    }
}

/// The platform's photos (`terrace-photos`): where their bytes live, how large an upload may
/// be, and the key and lifetime of the signed URLs that let a browser load one.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PhotosSettings {
    /// `local` (a directory, the default) or `s3` (S3-compatible storage: MinIO, a cloud's).
    pub store: PhotoStore,
    /// The directory of the `local` store; created when missing.
    pub dir: PathBuf,
    /// The `s3` store's bucket and how to reach it.
    pub s3: S3Settings,
    /// What signed photo URLs are keyed by (HKDF-SHA256 per service). Every replica of a service
    /// needs the same; changing it makes the URLs handed out so far stop working.
    pub url_secret: SecretString,
    /// The largest upload accepted, in bytes (the contract says 8 MiB).
    pub max_upload_bytes: usize,
    /// The most pixels a photo may decode to, in millions (decompression bombs are refused
    /// from their header, before decoding).
    pub max_megapixels: u32,
    /// How long a signed URL of a photo that is not public stays valid (service clock).
    #[serde(with = "humantime_secs")]
    pub signed_url_ttl: Duration,
    /// Photos decoded at once per process: decoding is CPU work, bounded so that uploads cannot
    /// take every core from the other calls.
    pub max_concurrent_decodes: usize,
    /// The address photo URLs are reached at from outside (the gRPC port's origin as the public
    /// sees it, e.g. `https://terrace.anji.gov.cn`): photo URLs are absolute under it, which other
    /// sites need (Open311's `media_url`). Empty: URLs are paths on the origin the caller used,
    /// enough for the platform's own web apps.
    pub public_base_url: String,
}

/// The secret signed photo URLs use when none is configured: fine on a laptop, never in
/// production (the service warns at start).
pub const DEVELOPMENT_PHOTO_URL_SECRET: &str = "terrace-development-photo-url-secret";

impl Default for PhotosSettings {
    fn default() -> Self {
        Self {
            store: PhotoStore::Local,
            dir: PathBuf::from("data/photos"),
            s3: S3Settings::default(),
            url_secret: SecretString::from(DEVELOPMENT_PHOTO_URL_SECRET),
            max_upload_bytes: 8 * 1024 * 1024,
            max_megapixels: 40,
            signed_url_ttl: Duration::from_secs(3600),
            max_concurrent_decodes: 2,
            public_base_url: String::new(),
        }
    }
}

/// Where photo bytes are kept.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PhotoStore {
    /// A directory of the process's file system (`photos.dir`).
    #[default]
    Local,
    /// An S3-compatible bucket (`photos.s3`).
    S3,
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct S3Settings {
    /// The endpoint URL (`http://minio:9000`); empty for AWS itself.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    /// Allow a plain `http://` endpoint (MinIO inside the cluster).
    pub allow_http: bool,
}

/// Event consumers.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConsumerSettings {
    /// Deliveries of one message before it is moved to the dead-letter stream.
    pub max_deliver: i64,
    /// Redelivery delays, one per attempt; the last repeats.
    #[serde(with = "humantime_millis_vec")]
    pub backoff: Vec<Duration>,
    /// How long a handler may take before the server redelivers.
    #[serde(with = "humantime_secs")]
    pub ack_wait: Duration,
    /// Messages fetched per pull.
    pub batch: usize,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            max_deliver: 5,
            backoff: vec![
                Duration::from_millis(500),
                Duration::from_secs(2),
                Duration::from_secs(10),
                Duration::from_secs(30),
            ],
            ack_wait: Duration::from_secs(30),
            batch: 64,
        }
    }
}

/// Where settings come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// An optional TOML file.
    pub file: Option<PathBuf>,
    /// Read `TERRACE__*` environment variables (off in tests, which set values directly).
    pub environment: bool,
}

impl Settings {
    /// The settings section of one service, with its defaults for whatever is not set.
    pub fn service<T: serde::de::DeserializeOwned + Default>(
        &self,
        service: &str,
    ) -> Result<T, serde_json::Error> {
        match self.services.get(service) {
            Some(section) => serde_json::from_value(section.clone()),
            None => Ok(T::default()),
        }
    }

    /// Loads settings from defaults, then the file, then the environment.
    pub fn load(sources: &Sources) -> Result<Self, config::ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(file) = sources.file.as_deref() {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        if sources.environment {
            builder = builder.add_source(
                config::Environment::with_prefix("TERRACE")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("grpc.cors_allowed_origins")
                    .with_list_parse_key("consumer.backoff")
                    .try_parsing(true),
            );
        }
        builder.build()?.try_deserialize()
    }

    /// The file named by `TERRACE_CONFIG`, if any (the one setting that cannot live in a file).
    pub fn file_from_environment() -> Option<PathBuf> {
        #[allow(clippy::disallowed_methods)] // This module is where the environment is read.
        std::env::var_os("TERRACE_CONFIG").map(PathBuf::from)
    }

    /// Whether a file exists at `path` (used to give a clear error before parsing).
    pub fn file_exists(path: &Path) -> bool {
        path.is_file()
    }
}

/// Durations in settings are whole seconds (`30`) or a number with a unit (`30s`, `500ms`, `5m`);
/// services use it for their own sections with `#[serde(with = "humantime_secs")]`.
pub mod humantime_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Reads a duration whose bare numbers are seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::parse_duration(DurationRepr::deserialize(d)?, Duration::from_secs)
            .map_err(serde::de::Error::custom)
    }

    /// A duration as written in settings: a bare number or text with a unit.
    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub enum DurationRepr {
        Number(u64),
        Text(String),
    }
}

/// As [`humantime_secs`], but a bare number means milliseconds.
mod humantime_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    use super::humantime_secs::DurationRepr;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::parse_duration(DurationRepr::deserialize(d)?, Duration::from_millis)
            .map_err(serde::de::Error::custom)
    }
}

/// A list of [`humantime_millis`] durations.
mod humantime_millis_vec {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    use super::humantime_secs::DurationRepr;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<DurationRepr>::deserialize(d)?
            .into_iter()
            .map(|repr| super::parse_duration(repr, Duration::from_millis))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)
    }
}

fn parse_duration(
    repr: humantime_secs::DurationRepr,
    bare: fn(u64) -> Duration,
) -> Result<Duration, String> {
    let text = match repr {
        humantime_secs::DurationRepr::Number(n) => return Ok(bare(n)),
        humantime_secs::DurationRepr::Text(text) => text,
    };
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Ok(bare(n));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        // Retention periods are written in days.
        "d" => Ok(Duration::from_secs(n * 86_400)),
        _ => Err(format!("invalid duration {text:?}: use ms, s, m, h or d")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_durations_take_units() {
        let dir = std::env::temp_dir().join(format!("terrace-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("terrace.toml");
        std::fs::write(
            &file,
            "[grpc]\naddr = \"0.0.0.0:7000\"\nrequest_timeout = \"5m\"\n\
             [grpc.tls]\ncert_file = \"/tls/server.pem\"\nkey_file = \"/tls/server.key\"\n\
             [consumer]\nbackoff = [\"1s\", 250]\n[outbox]\npoll_interval = 20\n\
             [services.market]\nreindex_on_start = true\n",
        )
        .unwrap();
        let settings = Settings::load(&Sources {
            file: Some(file),
            environment: false,
        })
        .unwrap();
        assert_eq!(settings.grpc.addr.port(), 7000);
        assert_eq!(settings.grpc.request_timeout, Duration::from_secs(300));
        let tls = settings.grpc.tls.as_ref().unwrap();
        assert_eq!(tls.cert_file, Path::new("/tls/server.pem"));
        assert_eq!(tls.key_file, Path::new("/tls/server.key"));
        assert_eq!(tls.client_ca_file, None, "client certificates are opt-in");
        assert!(
            GrpcSettings::default().tls.is_none(),
            "plaintext by default"
        );
        assert_eq!(
            settings.consumer.backoff,
            vec![Duration::from_secs(1), Duration::from_millis(250)]
        );
        assert_eq!(settings.outbox.poll_interval, Duration::from_millis(20));
        // Untouched sections keep their defaults.
        assert_eq!(settings.database.database_name("agri"), "terrace_agri");
        // A service's own section.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default)]
        struct Market {
            reindex_on_start: bool,
            page_limit: u32,
        }
        let market: Market = settings.service("market").unwrap();
        assert!(market.reindex_on_start);
        assert_eq!(
            market.page_limit, 0,
            "unset keys keep the service's defaults"
        );
        let absent: Market = settings.service("agri").unwrap();
        assert!(!absent.reindex_on_start);
    }

    #[test]
    fn photo_settings_default_to_a_local_directory_and_read_s3_from_a_file() {
        let defaults = PhotosSettings::default();
        assert_eq!(defaults.store, PhotoStore::Local);
        assert_eq!(defaults.max_upload_bytes, 8 * 1024 * 1024);
        assert_eq!(defaults.max_megapixels, 40);
        assert_eq!(defaults.signed_url_ttl, Duration::from_secs(3600));
        let dir =
            std::env::temp_dir().join(format!("terrace-photos-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("terrace.toml");
        std::fs::write(
            &file,
            "[photos]\nstore = \"s3\"\nsigned_url_ttl = \"30m\"\nurl_secret = \"s\"\n\
             [photos.s3]\nendpoint = \"http://minio:9000\"\nbucket = \"photos\"\n\
             access_key_id = \"key\"\nsecret_access_key = \"secret\"\nallow_http = true\n",
        )
        .unwrap();
        let settings = Settings::load(&Sources {
            file: Some(file),
            environment: false,
        })
        .unwrap();
        let photos = settings.photos;
        assert_eq!(photos.store, PhotoStore::S3);
        assert_eq!(photos.signed_url_ttl, Duration::from_secs(1800));
        assert_eq!(photos.s3.bucket, "photos");
        assert_eq!(photos.s3.secret_access_key.expose_secret(), "secret");
        assert!(photos.s3.allow_http);
        assert_eq!(photos.max_megapixels, 40, "unset keys keep their defaults");
        assert!(
            !format!("{photos:?}").contains("secret\""),
            "secrets stay out of logs"
        );
    }

    #[test]
    fn bad_duration_is_a_clear_error() {
        let err = parse_duration(
            humantime_secs::DurationRepr::Text("5 weeks".into()),
            Duration::from_secs,
        )
        .unwrap_err();
        assert!(err.contains("5 weeks"), "{err}");
    }

    #[test]
    fn durations_take_every_unit_up_to_days() {
        let read = |text: &str| {
            parse_duration(
                humantime_secs::DurationRepr::Text(text.into()),
                Duration::from_secs,
            )
        };
        assert_eq!(read("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(read("90"), Ok(Duration::from_secs(90)));
        assert_eq!(read("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(read("5475d"), Ok(Duration::from_secs(5475 * 86_400)));
        assert!(read("3y").is_err());
    }

    #[test]
    fn database_url_is_built_per_service() {
        let settings = DatabaseSettings {
            url: SecretString::from("postgres://u:p@db:5432/"),
            ..DatabaseSettings::default()
        };
        assert_eq!(
            settings.url_for("terrace_market").expose_secret(),
            "postgres://u:p@db:5432/terrace_market"
        );
        let with_options = DatabaseSettings {
            url: SecretString::from("postgres://u@db:5432?sslmode=require"),
            ..DatabaseSettings::default()
        };
        assert_eq!(
            with_options.url_for("terrace_agri").expose_secret(),
            "postgres://u@db:5432/terrace_agri?sslmode=require"
        );
    }
}
