//! Zero-copy blob pulls on plain HTTP/1: the kernel sends file pages straight to the socket
//! (`sendfile`), and no byte of the blob passes through user space.
//!
//! hyper writes response bodies itself, so the body cannot hand it a file. Instead, a blob's
//! body is made of windows of the file mapped into memory (real data: if anything ever copied
//! them, the right bytes would still go out), and each window is registered with its
//! connection's [`SendfileRegions`]. When hyper asks the connection's socket
//! ([`ZeroCopyStream`]) to write memory that starts inside a registered window, the socket
//! sends the same range of the file with `sendfile` instead of copying the mapping. A window is
//! unregistered when hyper drops it, after it was written. TLS and HTTP/2 connections never
//! register windows, so they copy (correctly) as any other body.

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Bytes sent with sendfile since start (the `portcullis_blob_sendfile_bytes` metric).
pub static SENDFILE_BYTES: std::sync::LazyLock<Counter> =
    std::sync::LazyLock::new(Counter::default);

/// One registered window: where its mapping is, and the file range it shows.
struct Region {
    start: usize,
    len: usize,
    file: Arc<std::fs::File>,
    offset: u64,
}

/// The windows of one connection's responses that its socket may send from their files.
#[derive(Clone, Default)]
pub struct SendfileRegions(Arc<Mutex<Vec<Region>>>);

/// A mapped window that stays registered while hyper holds it.
struct Registered {
    map: memmap2::Mmap,
    regions: SendfileRegions,
}

impl AsRef<[u8]> for Registered {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let start = self.map.as_ptr() as usize;
        self.regions.lock().retain(|r| r.start != start);
    }
}

impl SendfileRegions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Region>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A body chunk of `map` (bytes `offset..` of `file`) that the socket sends from the file.
    pub fn bytes(&self, map: memmap2::Mmap, file: Arc<std::fs::File>, offset: u64) -> Bytes {
        if map.is_empty() {
            return Bytes::new();
        }
        self.lock().push(Region {
            start: map.as_ptr() as usize,
            len: map.len(),
            file,
            offset,
        });
        Bytes::from_owner(Registered {
            map,
            regions: self.clone(),
        })
    }

    /// The file range behind `buf`, when `buf` starts inside a registered window: the file,
    /// the offset, and how many bytes of `buf` it covers.
    fn find(&self, buf: &[u8]) -> Option<(Arc<std::fs::File>, u64, usize)> {
        let at = buf.as_ptr() as usize;
        self.lock().iter().find_map(|r| {
            (at >= r.start && at < r.start + r.len).then(|| {
                let skip = at - r.start;
                (
                    r.file.clone(),
                    r.offset + skip as u64,
                    buf.len().min(r.len - skip),
                )
            })
        })
    }
}

/// A plain TCP socket that sends registered windows with `sendfile`.
pub struct ZeroCopyStream {
    stream: TcpStream,
    regions: SendfileRegions,
}

impl ZeroCopyStream {
    /// Wrap `stream`; windows registered with `regions` are sent from their files.
    pub fn new(stream: TcpStream, regions: SendfileRegions) -> ZeroCopyStream {
        ZeroCopyStream { stream, regions }
    }

    /// Send `len` bytes of `file` from `offset` (once the socket is writable).
    fn poll_sendfile(
        &self,
        cx: &mut Context<'_>,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.stream.poll_write_ready(cx))?;
            let sent = self.stream.try_io(Interest::WRITABLE, || {
                let mut off = libc::off_t::try_from(offset).map_err(io::Error::other)?;
                // SAFETY: both descriptors are open for the duration of the call, and `off`
                // is a valid, exclusively borrowed offset.
                let n = unsafe {
                    libc::sendfile(self.stream.as_raw_fd(), file.as_raw_fd(), &mut off, len)
                };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                SENDFILE_BYTES.inc_by(n as u64);
                Ok(n as usize)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(0) if len > 0 => {
                    // The file is shorter than its window: never pretend it was sent.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "a blob file ended before its size",
                    )));
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some((file, offset, len)) = self.regions.find(buf) {
            return self.poll_sendfile(cx, &file, offset, len);
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first_window = bufs.iter().position(|b| self.regions.find(b).is_some());
        match first_window {
            Some(0) => {
                let (file, offset, len) = self.regions.find(&bufs[0]).expect("found above");
                self.poll_sendfile(cx, &file, offset, len)
            }
            // Copy what comes before the first window (the response head), then send it.
            Some(n) => Pin::new(&mut self.stream).poll_write_vectored(cx, &bufs[..n]),
            None => Pin::new(&mut self.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn registered_windows_are_sent_from_the_file_and_others_copied() {
        let mut file = tempfile::tempfile().unwrap();
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        file.write_all(&content).unwrap();
        let file = Arc::new(file);
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(4096)
                .len(200_000)
                .map(&*file)
        }
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let regions = SendfileRegions::default();
        let window = regions.bytes(map, file.clone(), 4096);
        let sent_before = SENDFILE_BYTES.get();
        let mut stream =
            ZeroCopyStream::new(TcpStream::connect(addr).await.unwrap(), regions.clone());
        let head = Bytes::from_static(b"HEAD");
        let mut pending = [head.clone(), window.slice(..), Bytes::from_static(b"TAIL")];
        let mut done = 0;
        while done < pending.len() {
            let slices: Vec<IoSlice> = pending[done..].iter().map(|b| IoSlice::new(b)).collect();
            let mut n = stream.write_vectored(&slices).await.unwrap();
            while n > 0 {
                let take = n.min(pending[done].len());
                bytes::Buf::advance(&mut pending[done], take);
                n -= take;
                if pending[done].is_empty() {
                    done += 1;
                }
            }
        }
        stream.shutdown().await.unwrap();
        drop(stream);
        let got = reader.await.unwrap();
        let mut want = b"HEAD".to_vec();
        want.extend_from_slice(&content[4096..204_096]);
        want.extend_from_slice(b"TAIL");
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the bytes sent differ from the file");
        assert!(
            SENDFILE_BYTES.get() - sent_before >= 200_000,
            "the window went out by sendfile"
        );
        drop(pending);
        drop(window);
        assert!(regions.lock().is_empty(), "windows unregister when dropped");
    }
}
