//! A response body that keeps something alive (a request's in-flight mark, a deadline) until the
//! body has been sent or dropped.

use axum::body::{Body, Bytes, HttpBody};
use std::pin::Pin;
use std::task::{Context, Poll};

/// `body`, holding `attachment` until it is dropped.
pub struct Attached<T> {
    body: Body,
    _attachment: T,
}

impl<T> Attached<T> {
    /// Attach `attachment` to `body`.
    pub fn new(body: Body, attachment: T) -> Attached<T> {
        Attached {
            body,
            _attachment: attachment,
        }
    }
}

impl<T: Unpin + Send + 'static> HttpBody for Attached<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
