//! `Authorization` values: never a panic; Basic credentials always have a user name.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::authorization::{parse, Presented};

fuzz_target!(|text: &str| {
    if let Presented::Basic { username, .. } = parse(text) {
        assert!(!username.is_empty());
        assert!(!username.contains(':'));
    }
});
