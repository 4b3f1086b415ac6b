//! Request bodies: a minimum transfer rate (a client trickling bytes cannot hold a request open
//! for ever), an optional deadline for the whole body (zot's `http.readTimeout`), and honest
//! early answers: when a handler answers without reading the body (401, 403, 416, 400), what is
//! left is drained, within bounds, so the connection can serve the client's next request; a
//! body too large or too slow to drain gets `Connection: close` instead, so the client knows not
//! to reuse the connection (hyper would otherwise close it silently).

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, Version};
use axum::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Default `http.minBodyRate`, bytes per second.
pub const MIN_BODY_RATE: u64 = 1024;
/// Default `http.bodyRateWindow`: the rate is checked over windows this long.
pub const BODY_RATE_WINDOW: Duration = Duration::from_secs(10);
/// Most bytes drained from a body a handler did not read.
const DRAIN_BYTES: usize = 1 << 20;
/// Longest time spent draining a body a handler did not read.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// Bounds on reading request bodies.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Minimum average rate over each window, bytes per second (0: no minimum).
    pub min_rate: u64,
    /// Length of the windows the rate is measured over.
    pub window: Duration,
    /// Deadline for reading the whole body, from the request's arrival (zot's `readTimeout`).
    pub read_timeout: Option<Duration>,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            min_rate: MIN_BODY_RATE,
            window: BODY_RATE_WINDOW,
            read_timeout: None,
        }
    }
}

/// Why reading a request body stopped.
#[derive(Debug, thiserror::Error)]
pub enum BodyFailure {
    /// The client sent less than the minimum rate.
    #[error("the request body arrived slower than {0} bytes per second")]
    TooSlow(u64),
    /// The whole-body deadline passed.
    #[error("the request body was not complete within {0:?}")]
    Deadline(Duration),
}

/// The body as read by a handler: shared with the middleware, which drains what is left.
struct Shared {
    body: Option<Body>,
    finished: bool,
}

/// The reader handed to the handler.
struct Guarded {
    shared: Arc<Mutex<Shared>>,
    limits: BodyLimits,
    window_end: Pin<Box<Sleep>>,
    window_bytes: u64,
    deadline: Option<(Instant, Duration)>,
}

impl Guarded {
    fn new(shared: Arc<Mutex<Shared>>, limits: BodyLimits, arrived: Instant) -> Guarded {
        Guarded {
            shared,
            limits,
            window_end: Box::pin(tokio::time::sleep_until(arrived + limits.window)),
            window_bytes: 0,
            deadline: limits.read_timeout.map(|t| (arrived + t, t)),
        }
    }

    /// Check the rate and deadline when the body is waiting for bytes.
    fn check_timers(&mut self, cx: &mut Context<'_>) -> Option<BodyFailure> {
        if let Some((at, length)) = self.deadline {
            if Instant::now() >= at {
                return Some(BodyFailure::Deadline(length));
            }
        }
        if self.limits.min_rate == 0 {
            return None;
        }
        while self.window_end.as_mut().poll(cx).is_ready() {
            let wanted = self.limits.min_rate * self.limits.window.as_secs().max(1);
            if self.window_bytes < wanted {
                return Some(BodyFailure::TooSlow(self.limits.min_rate));
            }
            self.window_bytes = 0;
            let next = self.window_end.deadline() + self.limits.window;
            self.window_end.as_mut().reset(next);
        }
        None
    }
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = {
            let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            match shared.body.as_mut() {
                None => Poll::Ready(None),
                Some(body) => {
                    let polled = Pin::new(body).poll_frame(cx);
                    if matches!(polled, Poll::Ready(None)) {
                        shared.finished = true;
                    }
                    polled
                }
            }
        };
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.window_bytes += data.len() as u64;
                }
                // A fast body never waits, so the timers are checked on progress too.
                match self.check_timers(cx) {
                    Some(failure) => Poll::Ready(Some(Err(axum::Error::new(failure)))),
                    None => Poll::Ready(Some(Ok(frame))),
                }
            }
            Poll::Pending => match self.check_timers(cx) {
                Some(failure) => Poll::Ready(Some(Err(axum::Error::new(failure)))),
                None => Poll::Pending,
            },
            other => other,
        }
    }
}

/// Middleware: guard the request body, let `next` answer, then drain what is left or close.
pub async fn guard<F: Future<Output = Response>>(
    limits: BodyLimits,
    request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let arrived = Instant::now();
    let version = request.version();
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        // Nothing to read, to time or to drain (most reads): no guard to set up.
        return next(Request::from_parts(parts, Body::empty())).await;
    }
    let shared = Arc::new(Mutex::new(Shared {
        body: Some(body),
        finished: false,
    }));
    let reader = Guarded::new(shared.clone(), limits, arrived);
    let mut response = next(Request::from_parts(parts, Body::new(reader))).await;
    let leftover = {
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        if shared.finished {
            None
        } else {
            shared.body.take()
        }
    };
    if let Some(body) = leftover {
        // Boxed: a rare path, whose timers would otherwise enlarge every request's future.
        if !Box::pin(drain(body)).await && version <= Version::HTTP_11 {
            response
                .headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
        }
    }
    response
}

/// Read and discard what is left of a body, within bounds; true if it ended.
async fn drain(mut body: Body) -> bool {
    use http_body_util::BodyExt;
    let work = async {
        let mut drained = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            if let Some(data) = frame.data_ref() {
                drained += data.len();
                if drained > DRAIN_BYTES {
                    return false;
                }
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, work)
        .await
        .unwrap_or(false)
}

/// A request body as a stream for storage, its errors classified.
pub fn stream(
    body: Body,
) -> impl futures_util::Stream<Item = Result<Bytes, crate::storage::BodyError>> + Unpin {
    use futures_util::TryStreamExt;
    body.into_data_stream().map_err(|e| match failure_of(&e) {
        Some(f) => crate::storage::BodyError::TooSlow(f.to_string()),
        None => crate::storage::BodyError::Broken(e.to_string()),
    })
}

/// Whether a body error is the length limit of `axum::body::to_bytes`.
pub fn is_length_limit(error: &axum::Error) -> bool {
    use std::error::Error;
    let mut source: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The failure behind a body error, if it was one of ours.
pub fn failure_of(error: &axum::Error) -> Option<&BodyFailure> {
    use std::error::Error;
    let mut source: Option<&(dyn Error + 'static)> = error.source();
    while let Some(e) = source {
        if let Some(f) = e.downcast_ref::<BodyFailure>() {
            return Some(f);
        }
        source = e.source();
    }
    None
}

/// A response whose body must be sent within `limit` (zot's `http.writeTimeout`): past it the
/// body fails and the connection is closed.
pub fn with_deadline(response: Response, limit: Duration) -> Response {
    response.map(|body| {
        Body::new(Deadline {
            body,
            limit,
            at: Box::pin(tokio::time::sleep(limit)),
        })
    })
}

/// A body with a deadline.
struct Deadline {
    body: Body,
    limit: Duration,
    at: Pin<Box<Sleep>>,
}

/// The response body was not sent in time.
#[derive(Debug, thiserror::Error)]
#[error("the response was not sent within {0:?}")]
struct WriteTimeout(Duration);

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if self.at.as_mut().poll(cx).is_ready() {
            let limit = self.limit;
            return Poll::Ready(Some(Err(axum::Error::new(WriteTimeout(limit)))));
        }
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
