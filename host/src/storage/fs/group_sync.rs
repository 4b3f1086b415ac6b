//! Group commit: concurrent commits share one fsync. Each commit takes a ticket once its write
//! is done; waiting on the ticket returns when a sync that started after that write has
//! finished. The first waiter syncs for everyone who wrote before it started; the others find
//! themselves covered when they get their turn.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shares the syncs of one file or directory among its concurrent committers.
#[derive(Debug, Default)]
pub struct GroupSync {
    /// Tickets handed out (each after its write completed).
    written: AtomicU64,
    /// Every ticket up to this one is durable.
    durable: AtomicU64,
    /// Held by the one waiter that syncs.
    leader: tokio::sync::Mutex<()>,
}

impl GroupSync {
    /// A ticket for a write that has just completed.
    pub fn ticket(&self) -> u64 {
        self.written.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Wait until `ticket` is durable, running `sync` when no earlier sync covered it. A sync
    /// that fails is reported to its runner; the next waiter tries again.
    pub async fn wait<F, Fut>(&self, ticket: u64, sync: F) -> std::io::Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::io::Result<()>>,
    {
        if self.durable.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let _leader = self.leader.lock().await;
        if self.durable.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        // Every ticket handed out so far belongs to a write that is complete.
        let covered = self.written.load(Ordering::Acquire);
        sync().await?;
        self.durable.fetch_max(covered, Ordering::AcqRel);
        Ok(())
    }

    /// For a committer already on a blocking thread: make `ticket` durable by running `sync`
    /// here when no other sync is running (or find it covered already). Returns false, having
    /// done nothing, when another committer holds the sync; then [`GroupSync::wait`].
    pub fn sync_if_idle(
        &self,
        ticket: u64,
        sync: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<bool> {
        if self.durable.load(Ordering::Acquire) >= ticket {
            return Ok(true);
        }
        let Ok(_leader) = self.leader.try_lock() else {
            return Ok(false);
        };
        if self.durable.load(Ordering::Acquire) < ticket {
            let covered = self.written.load(Ordering::Acquire);
            sync()?;
            self.durable.fetch_max(covered, Ordering::AcqRel);
        }
        Ok(true)
    }
}

/// Most directories whose syncs are shared at once (an idle one is forgotten).
const MAX_DIRECTORIES: u64 = 10_000;

/// Directory fsyncs after renames and links, shared among concurrent commits per directory.
pub struct DirSyncs {
    dirs: moka::sync::Cache<PathBuf, Arc<GroupSync>>,
}

impl Default for DirSyncs {
    fn default() -> Self {
        DirSyncs {
            dirs: moka::sync::Cache::builder()
                .max_capacity(MAX_DIRECTORIES)
                .time_to_idle(Duration::from_secs(60))
                .build(),
        }
    }
}

impl DirSyncs {
    /// The shared syncs of `dir`.
    pub fn of(&self, dir: &Path) -> Arc<GroupSync> {
        self.dirs.get_with_by_ref(dir, Default::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn concurrent_waiters_share_syncs() {
        let group = Arc::new(GroupSync::default());
        let syncs = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (group, syncs, gate) = (group.clone(), syncs.clone(), gate.clone());
                tokio::spawn(async move {
                    let ticket = group.ticket();
                    gate.wait().await;
                    group
                        .wait(ticket, || async {
                            syncs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            syncs.load(Ordering::SeqCst),
            1,
            "one sync covered all sixteen"
        );
        // A write after that sync needs a sync of its own; a failed sync is retried.
        let ticket = group.ticket();
        let failed = group
            .wait(ticket, || async { Err(std::io::Error::other("disk")) })
            .await;
        assert!(failed.is_err());
        group.wait(ticket, || async { Ok(()) }).await.unwrap();
    }

    #[tokio::test]
    async fn an_idle_group_syncs_in_place_and_a_busy_one_declines() {
        let group = GroupSync::default();
        let first = group.ticket();
        let mut ran = 0;
        assert!(group
            .sync_if_idle(first, || {
                ran += 1;
                Ok(())
            })
            .unwrap());
        assert_eq!(ran, 1);
        // Covered already: nothing runs.
        assert!(group.sync_if_idle(first, || unreachable!()).unwrap());
        // Another committer is syncing: decline, and the ticket is still owed a sync.
        let second = group.ticket();
        let held = group.leader.lock().await;
        assert!(!group.sync_if_idle(second, || unreachable!()).unwrap());
        drop(held);
        // A failed sync is reported and leaves the ticket owed.
        assert!(group
            .sync_if_idle(second, || Err(std::io::Error::other("disk")))
            .is_err());
        let mut synced = false;
        group
            .wait(second, || async {
                synced = true;
                Ok(())
            })
            .await
            .unwrap();
        assert!(synced);
    }
}
