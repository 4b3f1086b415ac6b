//! Parsing and formatting the HTTP headers the distribution API uses.

/// `Range` header value for an upload holding `size` bytes (`0-0` when empty, as distribution
/// answers).
pub fn range_value(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

/// A byte range requested of a blob.
#[derive(Debug, PartialEq, Eq)]
pub enum BlobRange {
    /// Serve the whole blob.
    Full,
    /// Serve `start..=end`.
    Part(u64, u64),
    /// Nothing of the request fits the blob.
    Unsatisfiable,
}

/// Interpret a `Range: bytes=…` header against a blob of `size` bytes. Unparseable or multi-range
/// headers are ignored (whole blob), as RFC 9110 allows; a reversed range is unsatisfiable.
pub fn blob_range(header: Option<&str>, size: u64) -> BlobRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return BlobRange::Full;
    };
    if spec.contains(',') {
        return BlobRange::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return BlobRange::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (false, _) => a.parse::<u64>().ok().map(|start| {
            let end = if b.is_empty() {
                Some(u64::MAX)
            } else {
                b.parse().ok()
            };
            (Some(start), end)
        }),
        (true, false) => b.parse::<u64>().ok().map(|suffix| (None, Some(suffix))),
        (true, true) => None,
    };
    match parsed {
        Some((Some(start), Some(end))) => {
            if start > end || start >= size {
                BlobRange::Unsatisfiable
            } else {
                BlobRange::Part(start, end.min(size - 1))
            }
        }
        Some((None, Some(suffix))) => {
            if suffix == 0 || size == 0 {
                BlobRange::Unsatisfiable
            } else {
                BlobRange::Part(size - suffix.min(size), size - 1)
            }
        }
        _ => BlobRange::Full,
    }
}

/// Parse an upload chunk's `Content-Range` (`start-end`, also with a `bytes ` prefix or a
/// `/total` suffix). None when malformed.
pub fn content_range(header: &str) -> Option<(u64, u64)> {
    let s = header.trim();
    let s = s
        .strip_prefix("bytes=")
        .or_else(|| s.strip_prefix("bytes "))
        .unwrap_or(s);
    let s = s.split('/').next()?;
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(blob_range(None, 10), BlobRange::Full);
        assert_eq!(blob_range(Some("bytes=0-4"), 10), BlobRange::Part(0, 4));
        assert_eq!(blob_range(Some("bytes=5-"), 10), BlobRange::Part(5, 9));
        assert_eq!(blob_range(Some("bytes=-3"), 10), BlobRange::Part(7, 9));
        assert_eq!(blob_range(Some("bytes=-30"), 10), BlobRange::Part(0, 9));
        assert_eq!(blob_range(Some("bytes=8-100"), 10), BlobRange::Part(8, 9));
        assert_eq!(blob_range(Some("bytes=10-"), 10), BlobRange::Unsatisfiable);
        assert_eq!(blob_range(Some("bytes=5-2"), 10), BlobRange::Unsatisfiable);
        assert_eq!(blob_range(Some("bytes=x-"), 10), BlobRange::Full);
        assert_eq!(content_range("0-99"), Some((0, 99)));
        assert_eq!(content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(content_range("9-1"), None);
        assert_eq!(range_value(0), "0-0");
        assert_eq!(range_value(10), "0-9");
    }
}
