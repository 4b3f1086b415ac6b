//! Checks that a parsed configuration can be served, each failure naming its key.

use super::auth::{AuthConfig, BearerConfig, OpenIdConfig};
use super::load::ConfigError;
use super::model::Config;
use super::secrets;

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
    if let Some(sync) = config.extensions.as_ref().and_then(|e| e.sync.as_ref()) {
        super::sync::validate(sync)?;
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
    if let Some(external) = &config.http.externalurl {
        if !is_http_url(external) {
            return fail(
                "http.externalurl",
                format!("{external:?} is not an absolute http(s) URL"),
            );
        }
    }
    if let Some(auth) = &config.http.auth {
        let unsupported = [
            ("http.auth.ldap", auth.ldap.is_some()),
            ("http.auth.mtls", auth.mtls.is_some()),
            (
                "http.auth.bearer.awssecretsmanager",
                auth.bearer
                    .as_ref()
                    .is_some_and(|b| b.awssecretsmanager.is_some()),
            ),
            (
                "http.auth.bearer.upstreamtokenendpoint",
                auth.bearer
                    .as_ref()
                    .is_some_and(|b| b.upstreamtokenendpoint.is_some()),
            ),
        ];
        if let Some((key, _)) = unsupported.iter().find(|(_, present)| *present) {
            return fail(key, "not supported yet".into());
        }
        validate_sessions(auth)?;
        if let Some(openid) = &auth.openid {
            validate_openid(openid)?;
        }
        if let Some(bearer) = &auth.bearer {
            validate_bearer(bearer)?;
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

/// Whether `s` is an absolute `http` or `https` URL with a host.
fn is_http_url(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !host.contains(['@', ' ', '\\'])
}

/// zot's rules for `sessionDriver` and `sessionKeysFile` (reference §1.7, 2 and 7).
fn validate_sessions(auth: &AuthConfig) -> Result<(), ConfigError> {
    let fail = |key: &str, msg: String| Err(ConfigError(format!("key `{key}`: {msg}")));
    if let Some(path) = &auth.sessionkeysfile {
        secrets::session_keys(path)
            .map_err(|e| ConfigError(format!("key `http.auth.sessionkeysfile`: {e}")))?;
    }
    if let Some(driver) = &auth.sessiondriver {
        let name = driver
            .get("name")
            .and_then(|n| n.as_str())
            .map(str::to_ascii_lowercase);
        match name.as_deref() {
            None => return fail("http.auth.sessiondriver.name", "is required".into()),
            Some("local") => {}
            Some("redis") if auth.sessionkeysfile.is_some() => {
                return fail(
                    "http.auth.sessiondriver",
                    "redis sessions cannot be combined with sessionKeysFile".into(),
                )
            }
            Some("redis") => {
                return fail("http.auth.sessiondriver", "redis: not supported yet".into())
            }
            Some(other) => {
                return fail(
                    "http.auth.sessiondriver.name",
                    format!("{other:?} is not one of local, redis"),
                )
            }
        }
    }
    Ok(())
}

/// zot's rules for `openid` (reference §1.7, 2 and 5).
fn validate_openid(openid: &OpenIdConfig) -> Result<(), ConfigError> {
    let fail = |key: String, msg: String| Err(ConfigError(format!("key `{key}`: {msg}")));
    for origin in &openid.callbackalloworigins {
        if !is_http_url(origin) {
            return fail(
                "http.auth.openid.callbackalloworigins".into(),
                format!("{origin:?} is not an absolute http(s) origin"),
            );
        }
    }
    for (kind, provider) in &openid.providers {
        let key = |field: &str| format!("http.auth.openid.providers.{kind}{field}");
        match kind.as_str() {
            "oidc" | "google" | "gitlab" => {}
            "github" => {
                return fail(
                    key(""),
                    "the github OAuth2 provider is not supported yet".into(),
                )
            }
            other => {
                return fail(
                    key(""),
                    format!("unsupported openid/oauth2 provider {other:?} (oidc, google, gitlab)"),
                )
            }
        }
        let file = match &provider.credentialsfile {
            Some(path) => Some(
                secrets::client_credentials(path)
                    .map_err(|e| ConfigError(format!("key `{}`: {e}", key(".credentialsfile"))))?,
            ),
            None => None,
        };
        let has_client_id =
            provider.clientid.as_deref().is_some_and(|c| !c.is_empty()) || file.is_some();
        if !has_client_id {
            return fail(key(".clientid"), "is required".into());
        }
        match provider.issuer.as_deref() {
            Some(issuer) if is_http_url(issuer) => {}
            Some(issuer) => {
                return fail(
                    key(".issuer"),
                    format!("{issuer:?} is not an absolute http(s) URL"),
                )
            }
            None => return fail(key(".issuer"), "is required".into()),
        }
        if provider.scopes.is_empty() {
            return fail(key(".scopes"), "is required".into());
        }
        if provider.authurl.is_some() || provider.tokenurl.is_some() {
            return fail(
                key(".authurl"),
                "custom endpoints apply to the github provider only; OpenID Connect providers use discovery".into(),
            );
        }
    }
    Ok(())
}

/// zot's rules for `bearer` (reference §1.4, §1.7 6). The key and CA files are read where the
/// verifiers are built (`verify` builds them too).
fn validate_bearer(bearer: &BearerConfig) -> Result<(), ConfigError> {
    let fail = |key: String, msg: String| Err(ConfigError(format!("key `{key}`: {msg}")));
    // The realm is any text, as in zot: its examples use "zot"; only a client that follows the
    // challenge needs a URL (the token endpoint, for login flows).
    for (i, o) in bearer.oidc.iter().enumerate() {
        let key = |field: &str| format!("http.auth.bearer.oidc[{i}].{field}");
        if !is_http_url(&o.issuer) {
            return fail(
                key("issuer"),
                format!("{:?} is not an absolute http(s) URL", o.issuer),
            );
        }
        if o.audiences.is_empty() {
            return fail(
                key("audiences"),
                "at least one audience must be specified".into(),
            );
        }
        if o.audiences.iter().any(|a| a.trim().is_empty()) {
            return fail(key("audiences"), "audience is empty".into());
        }
        if o.certificateauthority.is_some() && o.certificateauthorityfile.is_some() {
            return fail(
                key("certificateauthority"),
                "certificateAuthority and certificateAuthorityFile are mutually exclusive".into(),
            );
        }
    }
    Ok(())
}
