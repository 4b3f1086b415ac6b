//! Periodic mirroring: every `pollInterval`, the upstream repositories a registry's rules cover,
//! and the tags they keep, are copied; a tag whose upstream digest differs from the local one
//! is copied again (the tag moves). Progress and failures go to the log and the metrics.

use super::copy::Copy;
use super::upstream::Patience;
use super::{record, Sync};
use crate::oci::{Reference, RepoName};
use std::sync::Arc;
use std::time::Duration;

/// Mirror registry `index` of `sync` every `every`, starting now.
pub async fn run(sync: Arc<Sync>, index: usize, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let registry = &sync.registries[index];
        let name = registry.upstream.name.clone();
        tracing::info!(upstream = %name, "sync: mirroring");
        match once(&sync, index).await {
            Ok((copied, failed)) => tracing::info!(
                upstream = %name, copied, failed, "sync: mirroring done"
            ),
            Err(e) => tracing::warn!(upstream = %name, error = %e, "sync: mirroring failed"),
        }
    }
}

/// One pass; returns how many tags were copied and how many failed.
async fn once(sync: &Sync, index: usize) -> anyhow::Result<(usize, usize)> {
    let registry = &sync.registries[index];
    let upstream = &registry.upstream;
    let (mut copied, mut failed) = (0, 0);
    for remote in upstream.catalog(Patience::Background).await? {
        if !registry.rules.covers_upstream(&remote) {
            continue;
        }
        let Some(local) = registry.rules.local_of(&remote) else {
            continue;
        };
        let Ok(local) = RepoName::parse(&local) else {
            tracing::warn!(upstream = %upstream.name, %remote, local, "sync: not a valid local name");
            continue;
        };
        let tags = match upstream.tags(&remote, Patience::Background).await {
            Ok(tags) => registry.rules.keep_tags(&remote, tags),
            Err(e) => {
                tracing::warn!(upstream = %upstream.name, %remote, error = %e, "sync: no tag list");
                failed += 1;
                continue;
            }
        };
        let copy = Copy {
            upstream: upstream.clone(),
            storage: sync.storage.clone(),
            arrivals: sync.arrivals.clone(),
            local,
            remote,
            patience: Patience::Background,
        };
        for tag in tags {
            match mirror_tag(&copy, &tag).await {
                Ok(true) => copied += 1,
                Ok(false) => {}
                Err(()) => failed += 1,
            }
        }
    }
    Ok((copied, failed))
}

/// Copy `tag` unless the local tag already names the upstream's manifest; `Ok(true)` when
/// copied.
async fn mirror_tag(copy: &Copy, tag: &str) -> Result<bool, ()> {
    let reference = Reference::Tag(tag.into());
    let local = copy.storage.get_manifest(&copy.local, &reference).await;
    if let Ok(local) = local {
        match copy.upstream_digest(tag).await {
            Ok(upstream) if upstream == local.digest => return Ok(false),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(repository = %copy.local, tag, error = %e, "sync: tag not checked");
                return Err(());
            }
        }
    }
    let result = copy.image(&reference, &mut None).await.map(|_| ());
    record(&copy.upstream.name, "periodic", &result);
    match result {
        Ok(()) => {
            tracing::info!(repository = %copy.local, tag, "sync: tag mirrored");
            Ok(true)
        }
        Err(_) => Err(()),
    }
}
