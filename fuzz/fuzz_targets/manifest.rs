//! Pushed manifests, with any Content-Type: never a panic; what parses has a valid media type.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::oci::{manifest, media};

fuzz_target!(|input: (&[u8], Option<&str>)| {
    let (body, content_type) = input;
    if let Ok(parsed) = manifest::parse(body, content_type) {
        assert!(media::is_valid_media_type(&parsed.media_type));
    }
});
