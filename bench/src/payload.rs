//! Request bodies that stream shared bytes without copying them: a 512 MiB blob is one buffer,
//! and every push (or every chunk of a chunked push) sends slices of it.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest frame handed to hyper at once.
const FRAME: usize = 1 << 20;

/// A body made of byte segments, sent in frames of at most 1 MiB, with an exact length.
#[derive(Debug, Default, Clone)]
pub struct Payload {
    segments: VecDeque<Bytes>,
    remaining: u64,
}

impl Payload {
    /// No body.
    pub fn empty() -> Payload {
        Payload::default()
    }

    /// The concatenation of `segments`.
    pub fn from_segments(segments: impl IntoIterator<Item = Bytes>) -> Payload {
        let segments: VecDeque<Bytes> = segments.into_iter().filter(|s| !s.is_empty()).collect();
        let remaining = segments.iter().map(|s| s.len() as u64).sum();
        Payload {
            segments,
            remaining,
        }
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Payload {
        Payload::from_segments([bytes])
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let Some(front) = self.segments.front_mut() else {
            return Poll::Ready(None);
        };
        let frame = if front.len() > FRAME {
            front.split_to(FRAME)
        } else {
            self.segments.pop_front().expect("front exists")
        };
        self.remaining -= frame.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// The segments covering bytes `start..end` of the concatenation of `segments`.
pub fn slice_segments(segments: &[Bytes], start: usize, end: usize) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut offset = 0;
    for segment in segments {
        let (from, to) = (offset, offset + segment.len());
        offset = to;
        let lo = start.max(from);
        let hi = end.min(to);
        if lo < hi {
            out.push(segment.slice(lo - from..hi - from));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_across_segments() {
        let segments = [Bytes::from_static(b"abcd"), Bytes::from_static(b"efg")];
        let joined: Vec<u8> = slice_segments(&segments, 2, 6).concat();
        assert_eq!(joined, b"cdef");
        assert!(slice_segments(&segments, 7, 7).is_empty());
    }

    #[test]
    fn frames_are_bounded_and_exact() {
        let payload = Payload::from(Bytes::from(vec![7u8; FRAME * 2 + 3]));
        assert_eq!(payload.size_hint().exact(), Some((FRAME * 2 + 3) as u64));
    }
}
