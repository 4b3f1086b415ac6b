//! Removing files garbage collection selected: blobs, temporary files a crash left behind,
//! idle upload sessions — only regular files, each only once old enough.

use crate::fsutil;
use crate::oci::Digest;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Remove blob files (under `blobs/<alg>/`) that `unwanted` selects and are older than `delay`.
pub fn sweep_blobs(
    blobs: &Path,
    delay: Duration,
    unwanted: impl Fn(&Digest) -> bool,
) -> std::io::Result<usize> {
    let mut removed = 0;
    for alg_dir in read_dir_or_empty(blobs)? {
        let Some(alg) = alg_dir
            .file_name()
            .and_then(|a| a.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        for file in read_dir_or_empty(&alg_dir)? {
            let Some(hex) = file.file_name().and_then(|h| h.to_str()) else {
                continue;
            };
            let Ok(digest) = format!("{alg}:{hex}").parse::<Digest>() else {
                continue;
            };
            if unwanted(&digest) {
                removed += remove_if(&file, |m| fsutil::age(m) >= delay)? as usize;
            }
        }
    }
    Ok(removed)
}

/// Remove temporary files a crash left behind (in the layout and its blob directories).
pub fn sweep_leftovers(repo_dir: &Path, delay: Duration) -> std::io::Result<()> {
    let dirs =
        std::iter::once(repo_dir.to_owned()).chain(read_dir_or_empty(&repo_dir.join("blobs"))?);
    for dir in dirs {
        for file in read_dir_or_empty(&dir)? {
            let temporary = file
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(fsutil::TEMP_PREFIX));
            if temporary {
                remove_if(&file, |m| fsutil::age(m) >= delay)?;
            }
        }
    }
    Ok(())
}

/// Remove the files directly in `dir` that `select` picks.
pub fn sweep_dir(
    dir: &Path,
    select: impl Fn(&std::fs::Metadata) -> bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for file in read_dir_or_empty(dir)? {
        if remove_if(&file, &select)? {
            removed.push(file);
        }
    }
    Ok(removed)
}

/// Remove a regular file if `select` picks it; true if it was removed.
fn remove_if(file: &Path, select: impl Fn(&std::fs::Metadata) -> bool) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !meta.is_file() || !select(&meta) {
        return Ok(false);
    }
    match std::fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn read_dir_or_empty(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
