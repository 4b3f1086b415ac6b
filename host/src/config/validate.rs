//! Checks that a parsed configuration can be served, each failure naming its key.

use super::load::ConfigError;
use super::model::Config;

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "panic"];

/// Everything `verify` and `serve` check beyond the schema.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    let fail = |key: &str, msg: String| Err(ConfigError(format!("key `{key}`: {msg}")));
    if let Some(v) = &config.distspecversion {
        if !v.starts_with("1.") {
            return fail(
                "distspecversion",
                format!("{v:?} is not supported (this registry implements 1.1)"),
            );
        }
    }
    if config.storage.rootdirectory.as_os_str().is_empty() {
        return fail("storage.rootdirectory", "must not be empty".into());
    }
    if config.storage.gc && config.storage.gcinterval.is_zero() {
        return fail(
            "storage.gcinterval",
            "must be greater than zero when gc is on".into(),
        );
    }
    if !LEVELS.contains(&config.log.level.to_ascii_lowercase().as_str()) {
        return fail(
            "log.level",
            format!("{:?} is not one of {}", config.log.level, LEVELS.join(", ")),
        );
    }
    if let Some(tls) = &config.http.tls {
        for (key, path) in [("http.tls.cert", &tls.cert), ("http.tls.key", &tls.key)] {
            if let Err(e) = std::fs::metadata(path) {
                return fail(key, format!("cannot read {}: {e}", path.display()));
            }
        }
        if tls.cacert.is_some() {
            return fail(
                "http.tls.cacert",
                "client certificates are not supported yet".into(),
            );
        }
    }
    if let Some(path) = config.metrics_path() {
        let clean = path.starts_with('/')
            && !path.ends_with('/')
            && !path
                .split('/')
                .skip(1)
                .any(|c| c.is_empty() || c == "." || c == "..");
        if !clean || path == "/v2" || path.starts_with("/v2/") {
            return fail(
                "extensions.metrics.prometheus.path",
                format!("{path:?} must be a clean absolute path outside / and /v2"),
            );
        }
    }
    if let Some(auth) = &config.http.auth {
        let unsupported = [
            ("http.auth.ldap", auth.ldap.is_some()),
            ("http.auth.openid", auth.openid.is_some()),
            ("http.auth.bearer", auth.bearer.is_some()),
            ("http.auth.apikey", auth.apikey == Some(true)),
            ("http.auth.mtls", auth.mtls.is_some()),
            ("http.auth.sessiondriver", auth.sessiondriver.is_some()),
            ("http.auth.sessionkeysfile", auth.sessionkeysfile.is_some()),
        ];
        if let Some((key, _)) = unsupported.iter().find(|(_, present)| *present) {
            return fail(key, "not supported yet".into());
        }
    }
    if config.http.maxconnections == Some(0) {
        return fail("http.maxconnections", "must be at least 1".into());
    }
    for (key, value) in [
        ("storage.maxuploads", config.storage.maxuploads),
        (
            "storage.maxuploadsperrepository",
            config.storage.maxuploadsperrepository,
        ),
    ] {
        if value == Some(0) {
            return fail(key, "must be at least 1".into());
        }
    }
    Ok(())
}
