//! Reading credentials from a request, and remembering verified (and refused) ones.

use super::authorization::{self, Presented};
use crate::caches::Cache;
use crate::plugins::model::Identity;
use crate::tokens::DockerToken;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Classify the request's `Authorization` header(s): more than one is unusable.
pub fn presented(headers: &HeaderMap) -> Presented {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Presented::Nothing;
    };
    if values.next().is_some() {
        return Presented::Unusable("more than one Authorization header");
    }
    match value.to_str() {
        Ok(value) => authorization::parse(value),
        Err(_) => Presented::Unusable("Authorization header is not text"),
    }
}

/// What a verified credential proved: an identity, and for tokens, their verified claims (for
/// policy conditions) or their Docker grants (their own authorization).
#[derive(Clone, Debug)]
pub struct Admission {
    /// Who (shared with the decision memory's keys).
    pub identity: Arc<Identity>,
    /// A workload token's verified claims (JSON).
    pub claims: Option<Arc<str>>,
    /// A Docker token's grants.
    pub docker: Option<Arc<DockerToken>>,
}

impl Admission {
    /// An identity with nothing else.
    pub fn of(identity: Identity) -> Admission {
        Admission {
            identity: Arc::new(identity),
            claims: None,
            docker: None,
        }
    }
}

/// A salted hash of credentials: what the caches key by, so that no secret is kept in memory.
pub type CredentialKey = [u8; 32];

/// Identities of recently verified credentials, and recently refused credentials, keyed by
/// [`CredentialKey`]. Bounded in size; a verified entry lives [`CredentialCache`]'s time to
/// live or until its credential expires, whichever is sooner. Dropped with its generation on every reload.
pub struct CredentialCache {
    salt: [u8; 16],
    ttl: Duration,
    /// Shared with the callers it admits: a remembered credential's request copies no identity.
    verified: Cache<CredentialKey, (Arc<Admission>, Instant)>,
    refused: Cache<CredentialKey, ()>,
}

/// Entries kept at most, per cache.
const MAX_ENTRIES: u64 = 10_000;
/// How long refused credentials are remembered (a client retrying the same wrong password
/// costs nothing for this long).
const REFUSED_TTL: Duration = Duration::from_secs(10);

impl CredentialCache {
    /// An empty cache whose verified entries live at most `ttl`.
    pub fn new(ttl: Duration) -> CredentialCache {
        CredentialCache {
            salt: *uuid::Uuid::new_v4().as_bytes(),
            ttl,
            verified: moka::sync::Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build_with_hasher(crate::caches::hasher()),
            refused: moka::sync::Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(REFUSED_TTL)
                .build_with_hasher(crate::caches::hasher()),
        }
    }

    /// The key of a username and secret.
    pub fn key(&self, username: &str, secret: &str) -> CredentialKey {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update((username.len() as u64).to_le_bytes());
        h.update(username.as_bytes());
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    /// What a credential was verified as, if recently and still valid.
    pub fn get(&self, key: &CredentialKey) -> Option<Arc<Admission>> {
        match self.verified.get(key) {
            Some((admission, until)) if Instant::now() < until => Some(admission),
            Some(_) => {
                self.verified.invalidate(key);
                None
            }
            None => None,
        }
    }

    /// Whether a credential was refused recently.
    pub fn was_refused(&self, key: &CredentialKey) -> bool {
        self.refused.contains_key(key)
    }

    /// Remember a verified credential (until it expires, at most the cache's ttl).
    pub fn put(&self, key: CredentialKey, admission: Arc<Admission>) {
        let mut ttl = self.ttl;
        if let Some(expiry) = admission.identity.expires_at_ms {
            ttl = ttl.min(Duration::from_millis(
                expiry.saturating_sub(crate::clock::now_ms()),
            ));
        }
        if !ttl.is_zero() {
            self.verified.insert(key, (admission, Instant::now() + ttl));
        }
    }

    /// Remember refused credentials.
    pub fn refuse(&self, key: CredentialKey) {
        self.refused.insert(key, ());
    }

    /// Forget every verified credential of `username` from `source` at once (after a
    /// revocation), so that no cached entry outlives it.
    pub fn forget(&self, source: &str, username: &str) {
        let (source, username) = (source.to_owned(), username.to_owned());
        let _ = self
            .verified
            .invalidate_entries_if(move |_, (admission, _)| {
                admission.identity.source == source && admission.identity.username == username
            });
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
    fn several_headers_are_unusable() {
        assert!(matches!(presented(&headers(&[])), Presented::Nothing));
        assert!(matches!(
            presented(&headers(&["Basic Og==", "Basic Og=="])),
            Presented::Unusable(_)
        ));
    }

    #[test]
    fn cache_expires_and_distinguishes() {
        let cache = CredentialCache::new(Duration::from_millis(50));
        let id = Identity::new("u", vec![], "t");
        cache.put(cache.key("u", "right"), Arc::new(Admission::of(id.clone())));
        assert!(cache.get(&cache.key("u", "right")).is_some());
        assert!(cache.get(&cache.key("u", "wrong")).is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&cache.key("u", "right")).is_none());

        let cache = CredentialCache::new(Duration::from_secs(60));
        cache.put(cache.key("u", "k"), Arc::new(Admission::of(id.clone())));
        cache.forget("t", "u");
        assert!(cache.get(&cache.key("u", "k")).is_none(), "revoked at once");

        let mut expired = id;
        expired.expires_at_ms = Some(1);
        cache.put(cache.key("u", "old"), Arc::new(Admission::of(expired)));
        assert!(
            cache.get(&cache.key("u", "old")).is_none(),
            "an expired credential is never cached"
        );
    }
}
