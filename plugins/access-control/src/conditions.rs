//! zot's policy `conditions` (reference §2.3): CEL expressions over the request, evaluated when
//! a policy entry would grant; every condition of the entry must hold. An evaluation error means
//! the entry does not grant (and reveals nothing); a condition that is false gives its
//! `message` as the denial's reason.
//!
//! The inputs, under `req`: `time` (RFC 3339 text), `method`, `userAgent`, `action`,
//! `repository`, `reference`, `referenceType` (`tag`, `digest` or empty), `tag`, `digest`,
//! `user.{username, groups}`, `auth.{anonymous, admin}`, `client.{ip, forwardedFor}`,
//! `tls.{enabled, version}`, and `claims` (a token's verified claims, or an empty map).

use cel_env::Expression;
use serde_json::{json, Value};

/// One compiled condition.
#[derive(Debug)]
pub struct Condition {
    expression: Expression,
    message: String,
}

/// The outcome of an entry's conditions.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every condition holds.
    Holds,
    /// A condition is false: its message.
    Fails(String),
    /// A condition could not be evaluated.
    Error,
}

/// The request, as conditions see it.
#[derive(Clone, Debug, Default)]
pub struct RequestView {
    /// Arrival, ms since the Unix epoch.
    pub time_ms: u64,
    /// HTTP method.
    pub method: String,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// Client address.
    pub client_ip: String,
    /// `X-Forwarded-For`.
    pub forwarded_for: Vec<String>,
    /// TLS version, none for plain HTTP.
    pub tls_version: Option<String>,
    /// Verified token claims (JSON), if any.
    pub claims: Option<String>,
}

/// What a decision is about, for building `req`.
pub struct Facts<'a> {
    /// The user (none: anonymous) and its groups.
    pub user: Option<(&'a str, &'a [String])>,
    /// Whether the user is an admin.
    pub admin: bool,
    /// The action's zot name.
    pub action: &'a str,
    /// The repository.
    pub repository: &'a str,
    /// The tag or digest.
    pub reference: Option<&'a str>,
}

/// Compile `conditions` (`[{expression, message}]`) at `path`.
pub fn compile(
    conditions: &[crate::config::ConditionConfig],
    path: &str,
) -> Result<Vec<Condition>, String> {
    conditions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.message.trim().is_empty() {
                return Err(format!("{path}[{i}]: the message is empty"));
            }
            Expression::compile_boolean(&c.expression, &["req"])
                .map(|expression| Condition {
                    expression,
                    message: c.message.clone(),
                })
                .map_err(|e| format!("{path}[{i}]: {e}"))
        })
        .collect()
}

/// The `req` input of a decision.
pub fn request_json(view: &RequestView, facts: &Facts) -> Value {
    let reference = facts.reference.unwrap_or("");
    let is_digest = reference.contains(':');
    let (reference_type, tag, digest) = match (reference.is_empty(), is_digest) {
        (true, _) => ("", "", ""),
        (false, true) => ("digest", "", reference),
        (false, false) => ("tag", reference, ""),
    };
    let (username, groups) = facts.user.unwrap_or(("", &[]));
    let claims: Value = view
        .claims
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_else(|| json!({}));
    json!({
        "time": rfc3339(view.time_ms),
        "method": view.method,
        "userAgent": view.user_agent.clone().unwrap_or_default(),
        "action": facts.action,
        "repository": facts.repository,
        "reference": reference,
        "referenceType": reference_type,
        "tag": tag,
        "digest": digest,
        "user": {"username": username, "groups": groups},
        "auth": {"anonymous": facts.user.is_none(), "admin": facts.admin},
        "client": {"ip": view.client_ip, "forwardedFor": view.forwarded_for},
        "tls": {"enabled": view.tls_version.is_some(), "version": view.tls_version.clone().unwrap_or_default()},
        "claims": claims,
    })
}

/// Evaluate every condition against `req`.
pub fn evaluate(conditions: &[Condition], req: &Value) -> Outcome {
    for c in conditions {
        match c.expression.evaluate_boolean(&[("req", req)]) {
            Ok(true) => {}
            Ok(false) => return Outcome::Fails(c.message.clone()),
            Err(_) => return Outcome::Error,
        }
    }
    Outcome::Holds
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of a time in ms (civil-from-days, no dependency).
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_and_request() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        let view = RequestView {
            claims: Some(r#"{"repository_owner":"org"}"#.into()),
            ..Default::default()
        };
        let facts = Facts {
            user: Some(("alice", &[])),
            admin: false,
            action: "create",
            repository: "team/app",
            reference: Some("v1.2"),
        };
        let req = request_json(&view, &facts);
        assert_eq!(req["referenceType"], "tag");
        assert_eq!(req["tag"], "v1.2");
        assert_eq!(req["claims"]["repository_owner"], "org");
    }
}
