//! Indexes on a filesystem: each repository's `index.json` (zot's layout, which zot and any OCI
//! tool read), plus a journal of the changes since it was written. A commit appends one record
//! and waits for a shared fdatasync of the journal (group commit), so a tag push costs the same
//! with ten tags or a hundred thousand. The journal is folded into `index.json` in the
//! background — a second after the last change, or later when folding is slow (it never takes
//! more than a twentieth of the time) — and at shutdown; at start-up, changes a crash left in
//! the journal are replayed.

use super::group_sync::GroupSync;
use super::journal::{self, Change};
use crate::fsutil;
use crate::oci::RepoName;
use crate::pool::BlockingPool;
use crate::storage::index::IndexFile;
use crate::storage::index_store::{Committed, IndexStore, Ticket};
use crate::storage::layout::{self, Layout};
use crate::storage::view::{IndexOp, IndexView};
use crate::storage::{Result, StorageError};
use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Least wait between the last change and folding it.
const FOLD_DELAY: Duration = Duration::from_secs(1);
/// A fold may take at most this fraction of the time between folds.
const FOLD_SHARE: u32 = 20;

/// `index.json` plus a journal, per repository.
pub struct FsIndex {
    layout: Layout,
    io: BlockingPool,
    journals: Mutex<HashMap<RepoName, Arc<Journal>>>,
}

/// One repository's journal.
struct Journal {
    path: PathBuf,
    index: PathBuf,
    /// The append handle (opened on the first append, closed when a fold empties the journal).
    file: Mutex<Option<std::fs::File>>,
    sync: GroupSync,
    /// A failed append could not be undone: refuse further appends until restart.
    poisoned: AtomicBool,
    fold: Mutex<Fold>,
}

/// What the next fold writes, and when.
#[derive(Default)]
struct Fold {
    /// The newest durable version not yet written whole.
    settled: Option<IndexView>,
    /// A fold task is waiting to run.
    scheduled: bool,
    /// How long the last fold took.
    cost: Duration,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FsIndex {
    /// Indexes under `layout`'s root, doing their I/O on `io`.
    pub fn new(layout: Layout, io: BlockingPool) -> FsIndex {
        FsIndex {
            layout,
            io,
            journals: Mutex::new(HashMap::new()),
        }
    }

    fn journal(&self, name: &RepoName) -> Arc<Journal> {
        lock(&self.journals)
            .entry(name.clone())
            .or_insert_with(|| {
                Arc::new(Journal {
                    path: self.layout.repo(name).join(journal::FILE_NAME),
                    index: self.layout.index(name),
                    file: Mutex::new(None),
                    sync: GroupSync::default(),
                    poisoned: AtomicBool::new(false),
                    fold: Mutex::new(Fold::default()),
                })
            })
            .clone()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T> {
        Ok(self.io.run(f).await??)
    }
}

impl Journal {
    /// Write `bytes` at the end of the journal; on failure, cut it back to where it was.
    fn append(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut slot = lock(&self.file);
        if slot.is_none() {
            let created = !self.path.exists();
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            if created {
                // The journal's name must survive a crash as well as its records.
                fsutil::fsync_dir(self.path.parent().unwrap_or(&self.path))?;
            }
            *slot = Some(file);
        }
        let file = slot.as_mut().expect("opened above");
        let before = file.metadata()?.len();
        if let Err(e) = file.write_all(bytes) {
            if file.set_len(before).is_err() {
                self.poisoned.store(true, Ordering::Release);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Make everything appended so far durable.
    fn sync_data(&self) -> std::io::Result<()> {
        match lock(&self.file).as_ref() {
            Some(file) => file.sync_data(),
            // Folded meanwhile: the fold wrote and synced what remained.
            None => Ok(()),
        }
    }

    /// Write `view` as `index.json`, then keep in the journal only the changes after it.
    fn fold(&self, view: &IndexView) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&view.to_file()).map_err(std::io::Error::other)?;
        fsutil::write_atomic(&self.index, &bytes)?;
        let mut slot = lock(&self.file);
        let (changes, _, _) = journal::read(&self.path)?;
        let later: Vec<Change> = changes.into_iter().filter(|c| c.0 > view.seq()).collect();
        *slot = None;
        if later.is_empty() {
            match std::fs::remove_file(&self.path) {
                Ok(()) => fsutil::fsync_dir(self.path.parent().unwrap_or(&self.path)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            fsutil::write_atomic(&self.path, &journal::encode(&later)?)
        }
    }
}

/// Fold `journal` after a while, then again if more changes settled meanwhile.
async fn fold_later(journal: Arc<Journal>, io: BlockingPool) {
    loop {
        let delay = {
            let fold = lock(&journal.fold);
            FOLD_DELAY.max(fold.cost * FOLD_SHARE)
        };
        tokio::time::sleep(delay).await;
        let Some(view) = lock(&journal.fold).settled.take() else {
            lock(&journal.fold).scheduled = false;
            return;
        };
        let started = Instant::now();
        let target = journal.clone();
        let written = io.run(move || target.fold(&view)).await;
        let mut fold = lock(&journal.fold);
        fold.cost = started.elapsed();
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(index = %journal.index.display(), error = %e, "cannot fold the index journal; it is kept")
            }
            Err(e) => {
                tracing::warn!(index = %journal.index.display(), error = %e, "folding the index journal is postponed")
            }
        }
        if fold.settled.is_none() {
            fold.scheduled = false;
            return;
        }
    }
}

#[async_trait]
impl IndexStore for FsIndex {
    async fn repositories(&self) -> Result<BTreeSet<String>> {
        let root = self.layout.root().to_owned();
        self.blocking(move || {
            std::fs::create_dir_all(&root)?;
            super::catalog::scan(&root)
        })
        .await
    }

    async fn create(&self, name: &RepoName) -> Result<()> {
        let dir = self.layout.repo(name);
        let index_path = self.layout.index(name);
        self.blocking(move || {
            std::fs::create_dir_all(dir.join("blobs"))?;
            let marker = dir.join("oci-layout");
            if !marker.exists() {
                fsutil::write_atomic(&marker, layout::OCI_LAYOUT)?;
            }
            if !index_path.exists() {
                let empty =
                    serde_json::to_vec(&IndexFile::empty()).map_err(std::io::Error::other)?;
                fsutil::write_atomic(&index_path, &empty)?;
            }
            Ok(())
        })
        .await
    }

    async fn load(&self, name: &RepoName) -> Result<Committed> {
        let journal = self.journal(name);
        self.blocking(move || {
            let bytes = std::fs::read(&journal.index)?;
            let file = serde_json::from_slice::<IndexFile>(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", journal.index.display()),
                )
            })?;
            let folded = file.journal_seq();
            let slot = lock(&journal.file);
            let (changes, valid, len) = journal::read(&journal.path)?;
            if valid < len && slot.is_none() {
                // A record torn by a crash was never acknowledged: cut it off.
                tracing::warn!(journal = %journal.path.display(), "dropping a torn record at the end of the index journal");
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&journal.path)?
                    .set_len(valid)?;
            }
            drop(slot);
            let changes = changes.into_iter().filter(|c| c.0 > folded).collect();
            Ok(Committed { file, changes })
        })
        .await
    }

    async fn append(&self, name: &RepoName, changes: &[(u64, IndexOp)]) -> Result<Ticket> {
        let journal = self.journal(name);
        if journal.poisoned.load(Ordering::Acquire) {
            return Err(StorageError::Io(std::io::Error::other(
                "the index journal could not be repaired after a failed write; restart the registry",
            )));
        }
        let bytes = journal::encode(changes)?;
        let target = journal.clone();
        self.blocking(move || target.append(&bytes)).await?;
        Ok(Ticket(journal.sync.ticket()))
    }

    async fn sync(&self, name: &RepoName, ticket: Ticket) -> Result<()> {
        let journal = self.journal(name);
        let io = self.io.clone();
        let target = journal.clone();
        journal
            .sync
            .wait(ticket.0, || async move {
                io.run(move || target.sync_data())
                    .await
                    .map_err(std::io::Error::other)?
            })
            .await?;
        Ok(())
    }

    fn settled(&self, name: &RepoName, view: &IndexView) {
        let journal = self.journal(name);
        let mut fold = lock(&journal.fold);
        if fold.settled.as_ref().is_some_and(|s| s.seq() >= view.seq()) {
            return;
        }
        fold.settled = Some(view.clone());
        if !fold.scheduled {
            fold.scheduled = true;
            tokio::spawn(fold_later(journal.clone(), self.io.clone()));
        }
    }

    async fn flush(&self) -> Result<()> {
        let journals: Vec<Arc<Journal>> = lock(&self.journals).values().cloned().collect();
        for journal in journals {
            let Some(view) = lock(&journal.fold).settled.take() else {
                continue;
            };
            let target = journal.clone();
            self.blocking(move || target.fold(&view)).await?;
        }
        Ok(())
    }
}
