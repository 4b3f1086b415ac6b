//! The index journal's file format: records of (sequence number, change), each framed by its
//! length and a CRC-32, so that a record a crash tore is recognised. Reading stops at the first
//! bad record: nothing after it was ever acknowledged.

use crate::storage::view::IndexOp;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

/// The journal's file name inside a repository's layout (a dot file: OCI tools ignore it).
pub const FILE_NAME: &str = ".index-journal";
/// Largest record accepted (a larger length field is taken for damage).
const MAX_RECORD: usize = 16 << 20;
/// Length and checksum.
const FRAME: usize = 8;

/// A change and its sequence number.
pub type Change = (u64, IndexOp);

#[derive(Serialize, Deserialize)]
struct Record {
    seq: u64,
    change: IndexOp,
}

/// The framed records of `changes`.
pub fn encode(changes: &[Change]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for (seq, op) in changes {
        let payload = serde_json::to_vec(&Record {
            seq: *seq,
            change: op.clone(),
        })
        .map_err(io::Error::other)?;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l as usize <= MAX_RECORD)
            .ok_or_else(|| io::Error::other("journal record too large"))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    Ok(out)
}

/// The records at the start of `bytes` that are whole and intact, and how many bytes they span.
pub fn decode(bytes: &[u8]) -> (Vec<Change>, usize) {
    let mut changes = Vec::new();
    let mut at = 0;
    while let Some(frame) = bytes.get(at..at + FRAME) {
        let len = u32::from_le_bytes(frame[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(frame[4..].try_into().unwrap_or_default());
        let Some(payload) = bytes
            .get(at + FRAME..at + FRAME + len)
            .filter(|_| len <= MAX_RECORD)
        else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(record) = serde_json::from_slice::<Record>(payload) else {
            break;
        };
        changes.push((record.seq, record.change));
        at += FRAME + len;
    }
    (changes, at)
}

/// Read a journal: its intact records and the length they span (nothing when it is missing).
pub fn read(path: &Path) -> io::Result<(Vec<Change>, u64, u64)> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let (changes, valid) = decode(&bytes);
            Ok((changes, valid as u64, bytes.len() as u64))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((Vec::new(), 0, 0)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(seq: u64, tag: &str) -> Change {
        (seq, IndexOp::RemoveTag { tag: tag.into() })
    }

    #[test]
    fn torn_and_damaged_records_end_the_journal() {
        let bytes = encode(&[change(1, "a"), change(2, "b"), change(3, "c")]).unwrap();
        let (all, len) = decode(&bytes);
        assert_eq!(all.iter().map(|c| c.0).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(len, bytes.len());
        // A crash tore the last record: the first two stand.
        let (torn, len) = decode(&bytes[..bytes.len() - 3]);
        assert_eq!(torn.len(), 2);
        assert_eq!(
            len,
            encode(&[change(1, "a"), change(2, "b")]).unwrap().len()
        );
        // A flipped byte in the second record: only the first stands.
        let mut damaged = bytes.clone();
        damaged[len - 2] ^= 0x20;
        assert_eq!(decode(&damaged).0.len(), 1);
        // A length field of garbage does not make the reader allocate or read past the end.
        assert!(decode(&[0xff; 12]).0.is_empty());
    }
}
