//! Configuration files, JSON and YAML: never a panic, whatever the text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::config;

fuzz_target!(|input: (&str, u8)| {
    let (text, format) = input;
    let extension = match format % 3 {
        0 => Some("json"),
        1 => Some("yaml"),
        _ => None,
    };
    if let Ok(parsed) = config::from_text(text, extension) {
        let _ = config::validate(&parsed);
    }
});
