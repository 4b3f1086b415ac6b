//! Digests: parsing never panics, and what parses prints back as it was given.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::oci::Digest;

fuzz_target!(|text: &str| {
    if let Ok(digest) = text.parse::<Digest>() {
        assert_eq!(digest.to_string(), text);
        assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest);
    }
});
