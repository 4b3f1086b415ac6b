//! Claims of a verified sign-in: the ID token's payload merged with userinfo, and zot's
//! `claimMapping` (username from `email` by default, groups from `groups`; a claim may be a
//! string, an array of strings, or missing).

use base64::Engine as _;
use serde_json::{Map, Value};

/// zot's default username claim.
pub const DEFAULT_USERNAME: &str = "email";
/// zot's default groups claim.
pub const DEFAULT_GROUPS: &str = "groups";
/// Largest userinfo document read.
const MAX_USERINFO: usize = 256 << 10;

/// The payload of a compact JWT (already verified by the caller).
pub fn payload(jwt: &str) -> Result<Map<String, Value>, String> {
    let part = jwt.split('.').nth(1).ok_or("not a compact JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| e.to_string())?;
    match serde_json::from_slice(&bytes).map_err(|e| e.to_string())? {
        Value::Object(map) => Ok(map),
        _ => Err("the payload is not a JSON object".into()),
    }
}

/// Fetch userinfo (JSON) with the access token.
pub async fn userinfo(
    http: &openidconnect::reqwest::Client,
    endpoint: &str,
    access_token: &str,
) -> Result<Map<String, Value>, String> {
    let response = http
        .get(endpoint)
        .bearer_auth(access_token)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("userinfo: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("userinfo answered {}", response.status()));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("userinfo: {e}"))?;
    if bytes.len() > MAX_USERINFO {
        return Err("userinfo document too large".into());
    }
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("userinfo is not a JSON object".into()),
    }
}

/// Merge userinfo into the ID token's claims (the ID token wins where both have a claim,
/// except groups, which are united); userinfo must be about the same subject.
pub fn merge_userinfo(
    claims: &mut Map<String, Value>,
    info: Map<String, Value>,
    subject: &str,
) -> Result<(), String> {
    if info.get("sub").and_then(Value::as_str) != Some(subject) {
        return Err("userinfo is about another subject".into());
    }
    for (name, value) in info {
        match claims.get_mut(&name) {
            None => {
                claims.insert(name, value);
            }
            Some(existing) => {
                let mut united = strings(existing);
                united.extend(strings(&value));
                if united.len() > 1 && (existing.is_array() || value.is_array()) {
                    *existing = Value::Array(united.into_iter().map(Value::String).collect());
                }
            }
        }
    }
    Ok(())
}

/// A claim as strings: a string, the strings of an array, or nothing.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The username: the configured claim, falling back to `email` (as zot does) when a
/// non-default claim is empty; none when both are.
pub fn username(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    text(claim).or_else(|| {
        if claim != DEFAULT_USERNAME {
            tracing::warn!(claim, "username claim empty; falling back to email");
        }
        text(DEFAULT_USERNAME)
    })
}

/// The groups: the configured claim as strings, sorted and without duplicates.
pub fn groups(claims: &Map<String, Value>, claim: &str) -> Vec<String> {
    let mut groups = claims.get(claim).map(strings).unwrap_or_default();
    groups.retain(|g| !g.is_empty());
    groups.sort();
    groups.dedup();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn mapping_like_zot() {
        let mut claims =
            map(json!({"sub": "u1", "email": "a@x.test", "groups": "devs", "name": ""}));
        merge_userinfo(
            &mut claims,
            map(json!({"sub": "u1", "groups": ["ops", "devs"], "nick": "al"})),
            "u1",
        )
        .unwrap();
        assert_eq!(groups(&claims, "groups"), vec!["devs", "ops"]);
        assert_eq!(username(&claims, "email").as_deref(), Some("a@x.test"));
        assert_eq!(
            username(&claims, "name").as_deref(),
            Some("a@x.test"),
            "falls back to email"
        );
        assert_eq!(username(&claims, "nick").as_deref(), Some("al"));
        assert!(merge_userinfo(&mut claims, map(json!({"sub": "other"})), "u1").is_err());
        assert_eq!(username(&map(json!({"sub": "u"})), "email"), None);
        assert!(groups(&claims, "missing").is_empty());
    }

    #[test]
    fn payload_of_a_jwt() {
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"s"}"#);
        assert_eq!(payload(&format!("h.{body}.sig")).unwrap()["sub"], "s");
        assert!(payload("nope").is_err());
    }
}
