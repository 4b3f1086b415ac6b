//! Durable file operations: nothing half-written becomes visible, also across a crash.
//! Used for content (storage) and for compiled plugins (the compile cache).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Name prefix of temporary files (never a digest, so never mistaken for content).
pub const TEMP_PREFIX: &str = ".tmp-";

/// A fresh temporary path in `dir`.
pub fn temp_path(dir: &Path) -> std::path::PathBuf {
    dir.join(format!("{TEMP_PREFIX}{}", uuid::Uuid::new_v4()))
}

/// The directory `path` is in.
pub fn parent(path: &Path) -> io::Result<&Path> {
    path.parent()
        .ok_or_else(|| io::Error::other("no parent directory"))
}

/// Flush a directory's entries (new names, renames) to disk.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsynced, then
/// renamed over `path`, then the directory fsynced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = write_and_rename(path, bytes)?;
    fsync_dir(&dir)
}

/// Write `bytes` to a temporary file next to `path`, fsync it and rename it over `path`;
/// returns the directory, which the caller must fsync for the new name to be durable (a
/// caller that commits many files syncs it once for all of them).
pub fn write_and_rename(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let dir = parent(path)?;
    std::fs::create_dir_all(dir)?;
    let tmp = temp_path(dir);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| dir.to_owned())
}

/// Make `dst` name the same content as `src` without ever exposing a partial file: a hard link
/// when `share` is set and the filesystem allows it, else a copy to a temporary name, fsynced
/// and renamed. An existing `dst` is left as it is (content-addressed names never change).
pub fn link_or_copy(src: &Path, dst: &Path, share: bool) -> io::Result<()> {
    let dir = parent(dst)?;
    std::fs::create_dir_all(dir)?;
    if dst.exists() {
        return Ok(());
    }
    if share {
        match std::fs::hard_link(src, dst) {
            Ok(()) => return fsync_dir(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
            Err(_) => {} // cross-device or unsupported: fall back to a copy
        }
    }
    let tmp = temp_path(dir);
    let result = (|| {
        std::fs::copy(src, &tmp)?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dst)?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Seconds since the content at `meta` last changed or was linked (the newer of mtime and ctime).
pub fn age(meta: &std::fs::Metadata) -> std::time::Duration {
    use std::os::unix::fs::MetadataExt;
    let newest = meta.mtime().max(meta.ctime());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    std::time::Duration::from_secs(now.saturating_sub(newest).max(0) as u64)
}

/// What identifies the versions of a set of files: each one's modification time, size and inode
/// (so an atomic replace, as Kubernetes does with its `..data` links, is seen too), or nothing
/// for a missing file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(Vec<Option<(SystemTime, u64, u64)>>);

impl Fingerprint {
    /// The current fingerprint of `paths`.
    pub fn of(paths: &[PathBuf]) -> Fingerprint {
        use std::os::unix::fs::MetadataExt;
        Fingerprint(
            paths
                .iter()
                .map(|p| {
                    std::fs::metadata(p)
                        .ok()
                        .and_then(|m| Some((m.modified().ok()?, m.len(), m.ino())))
                })
                .collect(),
        )
    }
}

/// Read a file that another program may be writing: the content is returned only once the
/// file's fingerprint was the same before and after reading it (and a short pause later), so a
/// half-written file is never taken for the whole. A missing file reads as `None`.
pub fn read_stable(path: &Path) -> io::Result<Option<Vec<u8>>> {
    const ATTEMPTS: usize = 20;
    const SETTLE: std::time::Duration = std::time::Duration::from_millis(50);
    let files = [path.to_owned()];
    for _ in 0..ATTEMPTS {
        let before = Fingerprint::of(&files);
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        std::thread::sleep(SETTLE);
        if Fingerprint::of(&files) == before {
            return Ok(Some(bytes));
        }
    }
    Err(io::Error::other(format!(
        "{} kept changing while it was read",
        path.display()
    )))
}

/// Mark a file as just stored: its modification time becomes now, so age-based collection
/// counts from this moment.
pub fn touch(path: &Path) -> io::Result<()> {
    std::fs::File::open(path)?.set_modified(SystemTime::now())
}
