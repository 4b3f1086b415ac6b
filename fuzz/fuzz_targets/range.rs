//! `Range` (blob reads) and `Content-Range` (upload chunks): never a panic, and a range that
//! parses always lies inside the blob.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::headers::{blob_range, content_range, BlobRange};

fuzz_target!(|input: (&str, u64)| {
    let (header, size) = input;
    if let BlobRange::Part(start, end) = blob_range(Some(header), size) {
        assert!(start <= end && end < size, "{header:?} {size}");
    }
    if let Some((first, last)) = content_range(header) {
        assert!(first <= last, "{header:?}");
    }
});
