//! Timeouts on a connection's socket, whatever the protocol above it: an idle connection (no
//! request in flight, no byte arriving) is closed after the idle timeout; once the first byte of
//! a request (or of a TLS handshake) has arrived, its head must be complete within the header
//! timeout; a write that makes no progress for the idle timeout fails. The request service marks
//! requests in flight with [`Activity::begin`], so a request that is being answered (or whose
//! body is being read, which has its own rate limit) is never cut by these timers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests in flight on one connection.
#[derive(Debug, Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// Requests started so far (a head whose request started is no longer being timed).
    started: AtomicUsize,
}

/// Marks one request in flight until dropped (attached to the response body, so it ends when
/// the response has been sent).
pub struct InFlight(Arc<Activity>);

impl Activity {
    /// A request started.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The socket-level timeouts.
#[derive(Debug, Clone, Copy)]
pub struct SocketTimeouts {
    /// Close a connection with nothing in flight after this long without a byte.
    pub idle: Duration,
    /// Once a request's first byte arrived, its head must be complete within this.
    pub header: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing in flight, waiting for a request.
    Idle,
    /// Bytes of a new request (or handshake) arrived; its head is not complete yet.
    Heading,
    /// A request is in flight.
    Busy,
}

/// A socket with the timeouts of [`SocketTimeouts`].
pub struct GuardedIo<T> {
    inner: T,
    activity: Arc<Activity>,
    timeouts: SocketTimeouts,
    phase: Phase,
    /// `Activity::started` when the phase was last updated.
    seen_started: usize,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<T> GuardedIo<T> {
    /// Guard `inner`, whose requests are tracked by `activity`.
    pub fn new(inner: T, activity: Arc<Activity>, timeouts: SocketTimeouts) -> GuardedIo<T> {
        GuardedIo {
            inner,
            activity,
            timeouts,
            phase: Phase::Idle,
            seen_started: 0,
            read_timer: Box::pin(tokio::time::sleep(timeouts.idle)),
            write_timer: None,
        }
    }

    fn enter(&mut self, phase: Phase, timeout: Duration) {
        self.phase = phase;
        self.read_timer.as_mut().reset(Instant::now() + timeout);
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let started = this.activity.started.load(Ordering::Acquire);
        let dispatched = std::mem::replace(&mut this.seen_started, started) != started;
        if this.activity.busy() {
            this.phase = Phase::Busy;
        } else if this.phase == Phase::Busy || (this.phase == Phase::Heading && dispatched) {
            // The request whose head was being timed has been answered: wait for the next.
            let idle = this.timeouts.idle;
            this.enter(Phase::Idle, idle);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase == Phase::Idle && buf.filled().len() > before {
                    let header = this.timeouts.header;
                    this.enter(Phase::Heading, header);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.phase == Phase::Busy => Poll::Pending,
            Poll::Pending => match this.read_timer.as_mut().poll(cx) {
                Poll::Ready(()) if this.phase == Phase::Idle => {
                    Poll::Ready(Err(timed_out("idle connection timed out")))
                }
                Poll::Ready(()) => Poll::Ready(Err(timed_out("request head timed out"))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// Track a write attempt: progress clears the stall timer, a pending write arms it.
    fn write_progress<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        match result {
            Poll::Pending => {
                let idle = self.timeouts.idle;
                let timer = self
                    .write_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(timed_out("client stopped reading"))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.write_timer = None;
                ready
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.write_progress(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.write_progress(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.write_progress(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TIMEOUTS: SocketTimeouts = SocketTimeouts {
        idle: Duration::from_millis(200),
        header: Duration::from_millis(80),
    };

    #[tokio::test(start_paused = true)]
    async fn idle_then_header_then_busy() {
        let (client, server) = tokio::io::duplex(64);
        let activity = Arc::new(Activity::default());
        let mut io = GuardedIo::new(server, activity.clone(), TIMEOUTS);
        let mut client = client;
        // A first byte inside the idle window starts the (shorter) header timer.
        client.write_all(b"G").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        let started = Instant::now();
        let e = io.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < TIMEOUTS.idle, "{:?}", started.elapsed());

        // While a request is in flight, no timer applies.
        let (_open, server) = tokio::io::duplex(64);
        let mut io = GuardedIo::new(server, activity.clone(), TIMEOUTS);
        let flight = activity.begin();
        let read = tokio::time::timeout(Duration::from_secs(5), io.read(&mut buf)).await;
        assert!(read.is_err(), "a busy connection must not time out");
        drop(flight);
        let e = io.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_request_leaves_the_idle_timer_not_the_header_timer() {
        let (mut client, server) = tokio::io::duplex(64);
        let activity = Arc::new(Activity::default());
        let mut io = GuardedIo::new(server, activity.clone(), TIMEOUTS);
        let mut buf = [0u8; 8];
        client.write_all(b"GET").await.unwrap();
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        // The head completes and its request is answered without another read.
        drop(activity.begin());
        let started = Instant::now();
        let e = io.read(&mut buf).await.unwrap_err();
        assert!(
            started.elapsed() >= TIMEOUTS.idle,
            "closed after {:?}",
            started.elapsed()
        );
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }
}
