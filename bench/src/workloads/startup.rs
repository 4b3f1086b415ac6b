//! Start-up time: from spawning the process to its first answer on `/v2/`. Portcullis with
//! the default plugins (htpasswd and accessControl) from a fresh compiled-plugin cache, then
//! again with that cache filled; distribution with the same htpasswd file, for reference.
//! Each one's idle memory is read too: compiling the plugins leaves the allocator holding
//! memory that a start from the cache never takes.

use crate::bench::Bench;
use crate::figure::Figure;
use crate::procfs;
use crate::registry::{Binaries, Kind, LaunchSpec, Server, Variant};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Start-up times, seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Startup {
    /// Portcullis, empty plugin cache (the components are compiled).
    pub portcullis_no_cache_s: Figure,
    /// Portcullis, plugin cache filled by the previous start.
    pub portcullis_cached_s: Figure,
    /// Distribution, htpasswd configuration.
    pub distribution_s: Figure,
    /// Portcullis's idle `VmRSS` after a start without the cache, KiB.
    pub portcullis_no_cache_rss_kib: Figure,
    /// Portcullis's idle `VmRSS` after a start with the cache, KiB.
    pub portcullis_cached_rss_kib: Figure,
    /// Distribution's idle `VmRSS`, KiB.
    pub distribution_rss_kib: Figure,
}

/// Measure every start-up time, `repetitions` times each.
pub async fn measure(bench: &Bench) -> anyhow::Result<Startup> {
    let mut startup = Startup::default();
    let reps = bench.params.repetitions;
    for rep in 1..=reps {
        let dir = bench.dir.join("startup").join(rep.to_string());
        let cache = dir.join("plugin-cache");
        let spec = |kind| LaunchSpec {
            kind,
            variant: Variant::Htpasswd,
            dir: &dir,
            htpasswd: &bench.htpasswd,
            plugin_cache: Some(&cache),
            extra: None,
        };
        let mut seconds = [0.0; 3];
        let mut rss_kib = [0.0; 3];
        for (i, kind) in [Kind::Portcullis, Kind::Portcullis, Kind::Distribution]
            .into_iter()
            .enumerate()
        {
            let (server, elapsed) = Server::launch(&spec(kind), &bench.bins).await?;
            tokio::time::sleep(Duration::from_millis(bench.params.idle_settle_ms)).await;
            rss_kib[i] = procfs::memory(server.pid())?.rss_kib as f64;
            server.stop();
            seconds[i] = elapsed.as_secs_f64();
        }
        bench.progress(format!(
            "start-up {rep}/{reps}: portcullis {:.3} s without plugin cache, {:.3} s with it; \
             distribution {:.3} s; idle RSS {:.1} / {:.1} / {:.1} MiB",
            seconds[0],
            seconds[1],
            seconds[2],
            rss_kib[0] / 1024.0,
            rss_kib[1] / 1024.0,
            rss_kib[2] / 1024.0
        ));
        startup.portcullis_no_cache_s.push(seconds[0]);
        startup.portcullis_cached_s.push(seconds[1]);
        startup.distribution_s.push(seconds[2]);
        startup.portcullis_no_cache_rss_kib.push(rss_kib[0]);
        startup.portcullis_cached_rss_kib.push(rss_kib[1]);
        startup.distribution_rss_kib.push(rss_kib[2]);
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(startup)
}

/// Start Portcullis once with the default plugins and `cache`, so that later starts with it
/// find the plugins compiled, as a registry does on every start but its first.
pub async fn warm_plugin_cache(
    dir: &Path,
    cache: &Path,
    htpasswd: &Path,
    bins: &Binaries,
) -> anyhow::Result<()> {
    let spec = LaunchSpec {
        kind: Kind::Portcullis,
        variant: Variant::Htpasswd,
        dir,
        htpasswd,
        plugin_cache: Some(cache),
        extra: None,
    };
    Server::launch(&spec, bins).await?.0.stop();
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
