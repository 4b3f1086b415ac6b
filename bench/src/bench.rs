//! What every part of a run shares: parameters, directories, programs, the test user and
//! the blob source.

use crate::blobdata::{BigBlobs, Blob};
use crate::params::Params;
use crate::registry::Binaries;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The shared state of one benchmark run.
pub struct Bench {
    /// Sizes, counts and durations.
    pub params: Params,
    /// Scratch directory on the filesystem under test: registry roots and ceiling files.
    pub dir: PathBuf,
    /// The registry programs.
    pub bins: Binaries,
    /// This program, for the ceiling servers it starts as separate processes.
    pub exe: PathBuf,
    /// htpasswd file with [`crate::registry::USER`].
    pub htpasswd: PathBuf,
    /// Compiled-plugin cache shared by the workloads' Portcullis (filled before they start).
    pub plugin_cache: PathBuf,
    /// Where the ceilings write.
    pub scratch: crate::ceilings::Scratch,
    /// A label unique to this run, so that no blob repeats across runs.
    pub run_label: String,
    big: BigBlobs,
    next_blob: AtomicU64,
}

impl Bench {
    /// Shared state; makes the big blob body (random bytes, hashed once).
    pub fn new(
        params: Params,
        dir: PathBuf,
        bins: Binaries,
        exe: PathBuf,
        htpasswd: PathBuf,
    ) -> Bench {
        let big = BigBlobs::new(params.big_blob);
        let run_label = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        Bench {
            params,
            plugin_cache: dir.join("plugin-cache"),
            scratch: crate::ceilings::Scratch::new(dir.join("ceiling-files")),
            dir,
            bins,
            exe,
            htpasswd,
            run_label,
            big,
            next_blob: AtomicU64::new(0),
        }
    }

    /// A big blob never handed out before in this run.
    pub fn fresh_big_blob(&self) -> Blob {
        self.big
            .blob(self.next_blob.fetch_add(1, Ordering::Relaxed))
    }

    /// The big blobs' shared body: `big_blob` bytes, less 32.
    pub fn big_body(&self) -> bytes::Bytes {
        self.big.body()
    }

    /// Print a progress line to stderr.
    pub fn progress(&self, line: impl AsRef<str>) {
        eprintln!("[bench] {}", line.as_ref());
    }
}
