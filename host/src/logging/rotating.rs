//! A log file rotated by size: when a write would take it past its limit, `path.<keep-1>` moves
//! to `path.<keep>` (the oldest is dropped), …, `path` to `path.1`, and a new `path` begins.
//! Lines are never split: a rotation happens between writes, and the log layer writes one
//! line per call.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An append-only file that rotates itself.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: File,
    written: u64,
}

impl RotatingFile {
    /// Open (or continue) `path`, rotating past `max_bytes` and keeping `keep` old files.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> anyhow::Result<RotatingFile> {
        let file = super::open_append(path)?;
        let written = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_owned(),
            max_bytes,
            keep,
            file,
            written,
        })
    }

    fn numbered(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        name.into()
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            self.file.set_len(0)?;
        } else {
            for n in (1..self.keep).rev() {
                let from = self.numbered(n);
                if from.exists() {
                    std::fs::rename(&from, self.numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, self.numbered(1))?;
            self.file = append(&self.path)?;
        }
        self.written = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.log");
        let mut log = RotatingFile::open(&path, 20, 2).unwrap();
        for i in 0..5 {
            log.write_all(format!("line {i} of ten\n").as_bytes())
                .unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), "line 4 of ten\n");
        assert_eq!(read(log.numbered(1)), "line 3 of ten\n");
        assert_eq!(read(log.numbered(2)), "line 2 of ten\n");
        assert!(!log.numbered(3).exists());
    }
}
