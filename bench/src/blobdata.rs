//! Blob contents and their digests. Every push sends a blob no registry has seen (so nothing
//! is short-circuited), without re-hashing 512 MiB each time: a big blob is a shared random
//! body plus a unique 32-byte tail, hashed from a saved SHA-256 state of the body.

use crate::payload::{slice_segments, Payload};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `data`.
pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Pseudo-random bytes (xorshift64*), incompressible enough for storage and cheap to make.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Bytes of the unique tail of each big blob.
const TAIL: usize = 32;

/// The source of distinct big blobs of one size.
pub struct BigBlobs {
    body: Bytes,
    hashed_body: Sha256,
    run: u64,
}

/// One big blob: its bytes as segments, and its digest.
#[derive(Clone)]
pub struct Blob {
    /// The content, as shared segments.
    pub segments: Vec<Bytes>,
    /// `sha256:<hex>`.
    pub digest: String,
}

impl Blob {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Bytes::len).sum()
    }

    /// The whole blob as a request body.
    pub fn payload(&self) -> Payload {
        Payload::from_segments(self.segments.iter().cloned())
    }

    /// Bytes `start..end` as a request body.
    pub fn range(&self, start: usize, end: usize) -> Payload {
        Payload::from_segments(slice_segments(&self.segments, start, end))
    }
}

impl BigBlobs {
    /// Blobs of `size` bytes (at least the tail's 32).
    pub fn new(size: usize) -> BigBlobs {
        let body = Bytes::from(random_bytes(size.saturating_sub(TAIL), 0x5eed));
        let mut hashed_body = Sha256::new();
        hashed_body.update(&body);
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        BigBlobs {
            body,
            hashed_body,
            run,
        }
    }

    /// The shared body (all but the tail), for measurements that need the bytes only.
    pub fn body(&self) -> Bytes {
        self.body.clone()
    }

    /// The `n`-th distinct blob of this run.
    pub fn blob(&self, n: u64) -> Blob {
        let mut tail = [0u8; TAIL];
        tail[..8].copy_from_slice(&self.run.to_le_bytes());
        tail[8..16].copy_from_slice(&n.to_le_bytes());
        tail[16..].copy_from_slice(b"portcullis-bench");
        let mut hasher = self.hashed_body.clone();
        hasher.update(tail);
        Blob {
            segments: vec![self.body.clone(), Bytes::copy_from_slice(&tail)],
            digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        }
    }
}

/// `count` distinct small blobs of `size` bytes, labelled by `label` (unique per run).
pub fn small_blobs(count: usize, size: usize, label: &str) -> Vec<(Bytes, String)> {
    (0..count)
        .map(|n| {
            let mut data = random_bytes(size, n as u64 + 1);
            let stamp = format!("{label}/{n}");
            let len = stamp.len().min(data.len());
            data[..len].copy_from_slice(&stamp.as_bytes()[..len]);
            let digest = digest(&data);
            (Bytes::from(data), digest)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_blob_digest_matches_content() {
        let blobs = BigBlobs::new(1000);
        let blob = blobs.blob(3);
        assert_eq!(blob.len(), 1000);
        assert_eq!(digest(&blob.segments.concat()), blob.digest);
        assert_ne!(blobs.blob(4).digest, blob.digest);
    }

    #[test]
    fn small_blobs_are_distinct() {
        let blobs = small_blobs(3, 64, "t");
        assert_eq!(blobs[0].0.len(), 64);
        assert_ne!(blobs[0].1, blobs[1].1);
        assert_eq!(digest(&blobs[2].0), blobs[2].1);
    }
}
