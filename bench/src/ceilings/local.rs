//! In-process ceilings: how fast this machine hashes, writes durably, and does both, with no
//! HTTP in the way. Blocking; run them off the async runtime.

use crate::params::MIB;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Bytes per write, as a registry would receive them.
const WRITE_CHUNK: usize = MIB;

fn mib_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / MIB as f64 / seconds
}

/// SHA-256 (the sha2 crate, as Portcullis uses) over `data` in memory, MiB/s.
pub fn sha256(data: &[u8]) -> f64 {
    let started = Instant::now();
    let mut hasher = Sha256::new();
    for chunk in data.chunks(WRITE_CHUNK) {
        hasher.update(chunk);
    }
    std::hint::black_box(hasher.finalize());
    mib_per_s(data.len(), started.elapsed().as_secs_f64())
}

/// Write `data` to the new file `path` in 1 MiB writes, then fsync, MiB/s. With `hash`, each
/// chunk is also hashed before it is written (one thread, as one upload stream is). The file
/// is left in place, as a registry keeps a blob (see [`super::Scratch`]).
pub fn write_fsync(path: &Path, data: &[u8], hash: bool) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut file = std::fs::File::create(path)?;
    let mut hasher = Sha256::new();
    for chunk in data.chunks(WRITE_CHUNK) {
        if hash {
            hasher.update(chunk);
        }
        file.write_all(chunk)?;
    }
    file.sync_all()?;
    std::hint::black_box(hasher.finalize());
    Ok(mib_per_s(data.len(), started.elapsed().as_secs_f64()))
}

/// Durable small-file commits per second: each writes `data` to a temporary file, fsyncs it,
/// renames it into place and fsyncs the directory, so that the new name survives a crash (the
/// least a registry does per blob), from `threads` threads, in the new directory `dir` (left
/// in place).
pub fn small_files(dir: &Path, data: &[u8], count: usize, threads: usize) -> anyhow::Result<f64> {
    std::fs::create_dir(dir)?;
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= count {
                            return Ok(());
                        }
                        let temporary = dir.join(format!("{n}.tmp"));
                        let mut file = std::fs::File::create(&temporary)?;
                        file.write_all(data)?;
                        file.sync_all()?;
                        std::fs::rename(&temporary, dir.join(n.to_string()))?;
                        std::fs::File::open(dir)?.sync_all()?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("small-file worker panicked"))
    })?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}
