//! The hasher of the caches a request consults (decisions, credentials, manifests, blob
//! sizes). moka's default is std's SipHash, which cost a registry read more than its
//! credential check did (bench/RESULTS.md); these caches use aHash instead. Their keys are
//! partly chosen by clients (repository names, references, digests), so the hasher stays keyed:
//! aHash's `RandomState` draws its keys from the operating system for each cache, and a client
//! that cannot know them cannot aim collisions at one bucket.

/// A bounded cache whose keys are hashed by aHash, keyed at random.
pub type Cache<K, V> = moka::sync::Cache<K, V, ahash::RandomState>;

/// A fresh random hasher for a [`Cache`].
pub fn hasher() -> ahash::RandomState {
    ahash::RandomState::new()
}
