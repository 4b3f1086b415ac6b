//! Reading credentials from a request, and remembering verified ones.

use crate::plugins::types::{BasicCredentials, Identity};
use axum::http::HeaderMap;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the request presented.
pub enum Presented {
    /// No credentials (or zot's "empty" `Basic Og==`).
    Nothing,
    /// HTTP Basic.
    Basic(BasicCredentials),
    /// Something that cannot be accepted (several headers, malformed Basic, another scheme).
    Unusable(&'static str),
}

/// Classify the request's `Authorization` header(s).
pub fn presented(headers: &HeaderMap) -> Presented {
    let mut values = headers.get_all("authorization").iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Unusable("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return Presented::Unusable("Authorization header is not text");
    };
    let value = value.trim();
    if value.is_empty() {
        return Presented::Nothing;
    }
    let Some((scheme, token)) = value.split_once(' ') else {
        return Presented::Unusable("malformed Authorization header");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Presented::Unusable("unsupported authorization scheme");
    }
    let token = token.trim();
    if token == "Og==" {
        return Presented::Nothing;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token) else {
        return Presented::Unusable("malformed Basic credentials");
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Presented::Unusable("malformed Basic credentials");
    };
    match decoded.split_once(':') {
        Some((username, password)) if !username.is_empty() => Presented::Basic(BasicCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }),
        _ => Presented::Unusable("malformed Basic credentials"),
    }
}

/// Identities of recently verified credentials, keyed by a salted hash of the credentials so
/// that no secret is kept in memory. Dropped with its generation on every reload.
pub struct CredentialCache {
    salt: [u8; 16],
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
}

/// Entries kept at most; the cache is cleared when it would grow past this.
const MAX_ENTRIES: usize = 10_000;

impl CredentialCache {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> CredentialCache {
        CredentialCache {
            salt: *uuid::Uuid::new_v4().as_bytes(),
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, c: &BasicCredentials) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update((c.username.len() as u64).to_le_bytes());
        h.update(c.username.as_bytes());
        h.update(c.password.as_bytes());
        h.finalize().into()
    }

    /// The identity these credentials were verified as, if recently.
    pub fn get(&self, c: &BasicCredentials) -> Option<Identity> {
        let key = self.key(c);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&key) {
            Some((identity, at)) if at.elapsed() < self.ttl => Some(identity.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remember a verified identity.
    pub fn put(&self, c: &BasicCredentials, identity: Identity) {
        let key = self.key(c);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (identity, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("authorization", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parsing() {
        assert!(matches!(presented(&headers(&[])), Presented::Nothing));
        assert!(matches!(
            presented(&headers(&["Basic Og=="])),
            Presented::Nothing
        ));
        match presented(&headers(&["basic YWxpY2U6cDpx"])) {
            Presented::Basic(c) => {
                assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "p:q"))
            }
            _ => panic!(),
        }
        assert!(matches!(
            presented(&headers(&["Basic !!"])),
            Presented::Unusable(_)
        ));
        assert!(matches!(
            presented(&headers(&["Bearer x"])),
            Presented::Unusable(_)
        ));
        assert!(matches!(
            presented(&headers(&["Basic Og==", "Basic Og=="])),
            Presented::Unusable(_)
        ));
        assert!(matches!(
            presented(&headers(&["Basic OnB3"])),
            Presented::Unusable(_)
        ));
    }

    #[test]
    fn cache_expires_and_distinguishes_passwords() {
        let cache = CredentialCache::new(Duration::from_millis(50));
        let c = |p: &str| BasicCredentials {
            username: "u".into(),
            password: p.into(),
        };
        let id = Identity {
            username: "u".into(),
            groups: vec![],
            source: "t".into(),
        };
        cache.put(&c("right"), id);
        assert!(cache.get(&c("right")).is_some());
        assert!(cache.get(&c("wrong")).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&c("right")).is_none());
    }
}
