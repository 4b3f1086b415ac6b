//! Sizes of blobs recently found in a repository, so that a `HEAD` answers from memory instead
//! of a trip to the storage pool for a `stat`.
//!
//! A blob's size never changes (its name is its digest), so only a removal can make an entry
//! wrong. Every removal forgets what it removed before it returns, and bumps a generation: a
//! size found by a lookup that overlapped a removal is not kept, since the removal may have
//! come after the lookup saw the file and before the lookup stored what it saw. Entries also
//! expire, which bounds how long a removal made behind the registry's back (another process on
//! the same root) stays unnoticed.

use crate::oci::{Digest, RepoName};
use moka::Equivalent;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

/// Blob sizes kept, all repositories together (about 200 bytes each).
const CAPACITY: u64 = 16_384;
/// How long a size is trusted without looking at the file again.
const LIFETIME: Duration = Duration::from_secs(30);

/// A blob in a repository, as the cache keeps it.
struct Located {
    name: RepoName,
    digest: Digest,
}

/// A blob in a repository, borrowed: the cache is looked up with it, so a `HEAD` copies
/// neither the name nor the digest.
struct Lookup<'a>(&'a RepoName, &'a Digest);

impl Hash for Located {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Lookup(&self.name, &self.digest).hash(state);
    }
}

impl PartialEq for Located {
    fn eq(&self, other: &Self) -> bool {
        Lookup(&self.name, &self.digest).equivalent(other)
    }
}

impl Eq for Located {}

// A lookup hashes and compares as the key it finds.
impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.0.as_str(), self.1.as_str()).hash(state);
    }
}

impl Equivalent<Located> for Lookup<'_> {
    fn equivalent(&self, key: &Located) -> bool {
        *self.0 == key.name && *self.1 == key.digest
    }
}

/// Recently found blob sizes, per repository and digest.
pub(super) struct BlobSizes {
    sizes: crate::caches::Cache<Located, u64>,
    /// Bumped by every removal; held while a size is stored or forgotten.
    removals: Mutex<u64>,
}

impl Default for BlobSizes {
    fn default() -> BlobSizes {
        BlobSizes {
            sizes: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(LIFETIME)
                .build_with_hasher(crate::caches::hasher()),
            removals: Mutex::new(0),
        }
    }
}

impl BlobSizes {
    /// The size of a blob found recently, if any.
    pub fn get(&self, name: &RepoName, digest: &Digest) -> Option<u64> {
        self.sizes.get(&Lookup(name, digest))
    }

    /// A mark to take before looking a blob up, for [`BlobSizes::keep`].
    pub fn mark(&self) -> u64 {
        *self.lock()
    }

    /// Keep a size found by a lookup that started at `mark`, unless something was removed
    /// since.
    pub fn keep(&self, mark: u64, name: &RepoName, digest: &Digest, size: u64) {
        let removals = self.lock();
        if *removals == mark {
            let key = Located {
                name: name.clone(),
                digest: digest.clone(),
            };
            self.sizes.insert(key, size);
        }
    }

    /// Forget a blob that was removed.
    pub fn forget(&self, name: &RepoName, digest: &Digest) {
        let mut removals = self.lock();
        *removals += 1;
        self.sizes.invalidate(&Lookup(name, digest));
    }

    /// Forget every blob (after a sweep removed some).
    pub fn forget_all(&self) {
        let mut removals = self.lock();
        *removals += 1;
        self.sizes.invalidate_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.removals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob() -> (RepoName, Digest) {
        let digest = format!("sha256:{}", "a".repeat(64));
        (RepoName::parse("a/b").unwrap(), digest.parse().unwrap())
    }

    #[test]
    fn a_size_found_is_kept_until_the_blob_is_removed() {
        let sizes = BlobSizes::default();
        let (name, digest) = blob();
        sizes.keep(sizes.mark(), &name, &digest, 7);
        assert_eq!(sizes.get(&name, &digest), Some(7));
        let other = RepoName::parse("a/c").unwrap();
        assert_eq!(sizes.get(&other, &digest), None, "sizes are per repository");
        sizes.forget(&name, &digest);
        assert_eq!(sizes.get(&name, &digest), None);
    }

    #[test]
    fn a_size_found_while_something_was_removed_is_not_kept() {
        let sizes = BlobSizes::default();
        let (name, digest) = blob();
        let mark = sizes.mark();
        // The removal lands between the lookup's stat and its keep.
        sizes.forget(&name, &digest);
        sizes.keep(mark, &name, &digest, 7);
        assert_eq!(sizes.get(&name, &digest), None);
        sizes.keep(sizes.mark(), &name, &digest, 7);
        sizes.forget_all();
        assert_eq!(sizes.get(&name, &digest), None);
    }
}
