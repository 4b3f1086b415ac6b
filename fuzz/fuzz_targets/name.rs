//! Repository names, tags and references: parsing never panics, and a name that parses can
//! never reach outside its own directory or onto another repository's layout.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::oci::name::{is_valid_tag, RESERVED_COMPONENTS};
use portcullis_fuzz::oci::{Reference, RepoName};

fuzz_target!(|text: &str| {
    if let Ok(name) = RepoName::parse(text) {
        let components: Vec<&str> = name.as_str().split('/').collect();
        for (i, c) in components.iter().enumerate() {
            assert!(!c.is_empty() && *c != "." && *c != "..", "{text:?}");
            assert!(!c.starts_with('.') && !c.starts_with('_'), "{text:?}");
            assert!(i == 0 || !RESERVED_COMPONENTS.contains(c), "{text:?}");
        }
    }
    match Reference::parse(text) {
        Ok(Reference::Tag(tag)) => assert!(is_valid_tag(&tag) && !tag.contains('/')),
        Ok(Reference::Digest(d)) => assert_eq!(d.to_string(), text),
        Err(_) => {}
    }
});
