//! How big and how long each workload is: the full benchmark, or the smoke run that only
//! proves the code still works.

use serde::Serialize;
use std::time::Duration;

/// One mebibyte.
pub const MIB: usize = 1 << 20;
/// One GiB, for rates and CPU per GiB.
pub const GIB: f64 = (1u64 << 30) as f64;

/// Sizes, counts, durations and repetitions of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    /// `full` or `smoke`.
    pub mode: &'static str,
    /// Repetitions of every measurement (the median is reported).
    pub repetitions: usize,
    /// Size of the blob pushed and pulled, in bytes.
    pub big_blob: usize,
    /// Size of each PATCH of a chunked push, in bytes.
    pub chunk: usize,
    /// Size of each small blob, in bytes.
    pub small_blob: usize,
    /// Small blobs pushed per measurement.
    pub small_count: usize,
    /// Connections for the concurrent small-blob pushes and the manifest pushes.
    pub small_concurrency: usize,
    /// Manifests pushed per measurement (on `small_concurrency` connections).
    pub manifest_count: usize,
    /// Connections of the request-rate load (manifest GET, blob HEAD).
    pub connections: usize,
    /// Measured time of the request-rate load, in milliseconds.
    pub duration_ms: u64,
    /// Unmeasured warm-up before it, in milliseconds.
    pub warmup_ms: u64,
    /// Wait after a registry starts before its idle memory is read, in milliseconds.
    pub idle_settle_ms: u64,
}

impl Params {
    /// The full benchmark: the sizes.
    pub fn full(repetitions: usize) -> Params {
        Params {
            mode: "full",
            repetitions,
            big_blob: 512 * MIB,
            chunk: 16 * MIB,
            small_blob: 4096,
            small_count: 1000,
            small_concurrency: 16,
            manifest_count: 500,
            connections: 32,
            duration_ms: 5000,
            warmup_ms: 500,
            idle_settle_ms: 1000,
        }
    }

    /// Tiny sizes, one repetition, short durations: seconds in all.
    pub fn smoke() -> Params {
        Params {
            mode: "smoke",
            repetitions: 1,
            big_blob: 4 * MIB,
            chunk: MIB,
            small_blob: 4096,
            small_count: 20,
            small_concurrency: 4,
            manifest_count: 20,
            connections: 4,
            duration_ms: 300,
            warmup_ms: 50,
            idle_settle_ms: 100,
        }
    }

    /// Measured duration of the request-rate load.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    /// Warm-up before it.
    pub fn warmup(&self) -> Duration {
        Duration::from_millis(self.warmup_ms)
    }
}
