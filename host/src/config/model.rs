//! The configuration schema, in zot's shape. Keys are lowercased before deserializing, so every
//! field here is named in lowercase and unknown keys are rejected everywhere.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct Config {
    /// Distribution spec version the operator expects (informational, checked by `verify`).
    #[serde(default)]
    pub distspecversion: Option<String>,
    /// Storage settings.
    #[serde(default)]
    pub storage: StorageConfig,
    /// HTTP listener settings.
    #[serde(default)]
    pub http: HttpConfig,
    /// Logging settings.
    #[serde(default)]
    pub log: LogConfig,
    /// Optional extensions.
    #[serde(default)]
    pub extensions: Option<ExtensionsConfig>,
    /// Replacements for the default gate plugins, and added authenticators.
    #[serde(default)]
    pub plugins: Option<super::plugins::PluginsConfig>,
}

/// `storage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct StorageConfig {
    /// Directory holding one OCI image layout per repository.
    pub rootdirectory: PathBuf,
    /// Share identical blobs between repositories with hard links.
    #[serde(default = "yes")]
    pub dedupe: bool,
    /// Collect unreferenced blobs and stale uploads.
    #[serde(default = "yes")]
    pub gc: bool,
    /// How old an unreferenced blob or stale upload must be before it is collected.
    #[serde(default = "default_gc_delay", deserialize_with = "duration")]
    pub gcdelay: Duration,
    /// How often garbage collection runs.
    #[serde(default = "default_gc_interval", deserialize_with = "duration")]
    pub gcinterval: Duration,
    /// Most repositories the registry holds (zot's key; 0 or absent: no limit).
    #[serde(default)]
    pub maxrepos: Option<usize>,
    /// Largest blob accepted, in bytes (absent: no limit).
    #[serde(default)]
    pub maxblobsize: Option<u64>,
    /// Upload sessions open at once, in all repositories together.
    #[serde(default)]
    pub maxuploads: Option<usize>,
    /// Upload sessions open at once in one repository.
    #[serde(default)]
    pub maxuploadsperrepository: Option<usize>,
    /// An upload session idle this long is abandoned.
    #[serde(default, deserialize_with = "optional_duration")]
    pub uploadtimeout: Option<Duration>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            rootdirectory: PathBuf::from("data"),
            dedupe: true,
            gc: true,
            gcdelay: default_gc_delay(),
            gcinterval: default_gc_interval(),
            maxrepos: None,
            maxblobsize: None,
            maxuploads: None,
            maxuploadsperrepository: None,
            uploadtimeout: None,
        }
    }
}

pub(super) fn yes() -> bool {
    true
}
fn default_gc_delay() -> Duration {
    Duration::from_secs(3600)
}
fn default_gc_interval() -> Duration {
    Duration::from_secs(3600)
}

/// `http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct HttpConfig {
    /// Address to bind.
    #[serde(default = "default_address")]
    pub address: String,
    /// Port to bind (zot writes it as a string; numbers are accepted too). 0 picks a free port.
    #[serde(default = "default_port", deserialize_with = "port")]
    pub port: u16,
    /// Basic-auth realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// Public URL of the registry, used in redirects.
    #[serde(default)]
    pub externalurl: Option<String>,
    /// TLS certificate and key.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Authentication (the gate).
    #[serde(default)]
    pub auth: Option<super::auth::AuthConfig>,
    /// Authorization (the gate): zot's `accessControl`, passed to the authorizer plugin, which
    /// validates it (`verify` loads the plugins).
    #[serde(default)]
    pub accesscontrol: Option<serde_json::Value>,
    /// Deadline for reading a whole request, body included (zot's key; absent: none).
    #[serde(default, deserialize_with = "optional_duration")]
    pub readtimeout: Option<Duration>,
    /// Deadline for writing a whole response (zot's key; absent: none).
    #[serde(default, deserialize_with = "optional_duration")]
    pub writetimeout: Option<Duration>,
    /// Once a request's first byte arrives, its head must be complete within this.
    #[serde(default, deserialize_with = "optional_duration")]
    pub readheadertimeout: Option<Duration>,
    /// A connection with no request in flight is closed after this long.
    #[serde(default, deserialize_with = "optional_duration")]
    pub idletimeout: Option<Duration>,
    /// Connections served at once.
    #[serde(default)]
    pub maxconnections: Option<usize>,
    /// Slowest accepted request body, bytes per second (0: no minimum).
    #[serde(default)]
    pub minbodyrate: Option<u64>,
    /// The window over which the body rate is measured.
    #[serde(default, deserialize_with = "optional_duration")]
    pub bodyratewindow: Option<Duration>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            address: default_address(),
            port: default_port(),
            realm: None,
            externalurl: None,
            tls: None,
            auth: None,
            accesscontrol: None,
            readtimeout: None,
            writetimeout: None,
            readheadertimeout: None,
            idletimeout: None,
            maxconnections: None,
            minbodyrate: None,
            bodyratewindow: None,
        }
    }
}

fn default_address() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    8080
}

/// `http.tls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// CA for client certificates (mTLS); reserved for the gate.
    #[serde(default)]
    pub cacert: Option<PathBuf>,
}

/// `log`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct LogConfig {
    /// One of trace, debug, info, warn, error.
    #[serde(default = "default_level")]
    pub level: String,
    /// A file to write JSON lines to instead of standard output.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// A file to write an audit line for every mutating request to.
    #[serde(default)]
    pub audit: Option<PathBuf>,
    /// The decision log (a Portcullis addition): one JSON line per access decision.
    #[serde(default)]
    pub decisions: Option<DecisionLogConfig>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: default_level(),
            output: None,
            audit: None,
            decisions: None,
        }
    }
}

/// `log.decisions`: where access decisions are logged, rotated by size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct DecisionLogConfig {
    /// The file; rotated files take the suffixes `.1` (newest) to `.<keep>`.
    pub path: PathBuf,
    /// Size at which the file is rotated, in MB (default 100).
    #[serde(default = "default_decision_log_mb")]
    pub maxsizemb: f64,
    /// Rotated files kept (default 5).
    #[serde(default = "default_decision_log_keep")]
    pub keep: u32,
}

fn default_decision_log_mb() -> f64 {
    100.0
}

fn default_decision_log_keep() -> u32 {
    5
}

fn default_level() -> String {
    "info".into()
}

/// `extensions`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct ExtensionsConfig {
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// API keys, the pre-2023 place of `http.auth.apikey`.
    #[serde(default)]
    pub apikey: Option<ApiKeyExtension>,
    /// Pull-through cache and mirroring.
    #[serde(default)]
    pub sync: Option<super::sync::SyncConfig>,
}

/// `extensions.apikey` (the older switch for API keys).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct ApiKeyExtension {
    /// Turn API keys on.
    #[serde(default)]
    pub enable: bool,
}

/// `extensions.metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct MetricsConfig {
    /// Serve metrics at all (zot's default is on when the section exists).
    #[serde(default = "yes")]
    pub enable: bool,
    /// Exporter settings.
    #[serde(default)]
    pub prometheus: Option<PrometheusConfig>,
}

/// `extensions.metrics.prometheus`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub struct PrometheusConfig {
    /// Path of the metrics endpoint.
    #[serde(default = "default_metrics_path")]
    pub path: String,
}

fn default_metrics_path() -> String {
    "/metrics".into()
}

impl MetricsConfig {
    /// The endpoint path, default `/metrics`.
    pub fn path(&self) -> String {
        self.prometheus
            .as_ref()
            .map(|p| p.path.clone())
            .unwrap_or_else(default_metrics_path)
    }
}

impl Config {
    /// Whether API keys are on: `http.auth.apikey`, the older `extensions.apikey.enable`, or
    /// implied by `http.auth.openid` (zot's rule: browser users need keys for the CLI).
    pub fn api_keys_enabled(&self) -> bool {
        let auth = self.http.auth.as_ref();
        auth.is_some_and(|a| a.apikey == Some(true) || a.openid.is_some())
            || self
                .extensions
                .as_ref()
                .and_then(|e| e.apikey.as_ref())
                .is_some_and(|k| k.enable)
    }

    /// The sync extension, when enabled with at least one registry.
    pub fn sync(&self) -> Option<&super::sync::SyncConfig> {
        let sync = self.extensions.as_ref()?.sync.as_ref()?;
        (sync.enable && !sync.registries.is_empty()).then_some(sync)
    }

    /// The metrics endpoint path, when metrics are enabled.
    pub fn metrics_path(&self) -> Option<String> {
        let metrics = self.extensions.as_ref()?.metrics.as_ref()?;
        metrics.enable.then(|| metrics.path())
    }
}

/// Map of glob or group name to settings, as zot's config nests them.
pub type NamedMap<T> = BTreeMap<String, T>;

/// A port written as a string (`"8080"`) or a number.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Num(u64),
        Str(String),
    }
    let value = match Port::deserialize(d)? {
        Port::Num(n) => n,
        Port::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid port {s:?}")))?,
    };
    u16::try_from(value).map_err(|_| serde::de::Error::custom(format!("port {value} out of range")))
}

/// An optional [`duration`].
pub(super) fn optional_duration<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// A duration in Go's notation (`1h`, `90m`, `1h30m`, `2.5s`, `500ms`) or a number of
/// nanoseconds, as zot's decoder accepts.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Dur {
        Nanos(u64),
        Text(String),
    }
    match Dur::deserialize(d)? {
        Dur::Nanos(n) => Ok(Duration::from_nanos(n)),
        Dur::Text(s) => super::duration::parse_go_duration(&s).map_err(serde::de::Error::custom),
    }
}
