//! Repository names, tags and references, validated against the distribution spec's grammar
//! before any of them is used to build a path.

use super::digest::{Digest, DigestError};
use smol_str::SmolStr;
use std::fmt;

/// Longest repository name accepted (the limit distribution and zot use).
pub const MAX_NAME_LEN: usize = 255;
/// Longest tag the spec allows.
pub const MAX_TAG_LEN: usize = 128;

/// A repository name such as `library/alpine`. Held inline up to 23 bytes (most names), so
/// parsing and cloning one for a request allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(SmolStr);

/// Path components that would land on an entry of the enclosing repository's OCI layout:
/// `a/blobs` would be repository `a`'s blob directory. They are refused after the first
/// component (at the top of the root directory there is no layout to collide with).
pub const RESERVED_COMPONENTS: [&str; 3] = ["blobs", "index.json", "oci-layout"];

/// Why a repository name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Empty, too long, or outside the distribution spec's grammar.
    #[error("invalid repository name: it must match the distribution spec's grammar and be at most {MAX_NAME_LEN} characters")]
    Grammar,
    /// A component collides with the storage layout.
    #[error("invalid repository name: a component after the first may not be {0:?} (it is an entry of the enclosing repository's storage layout)")]
    Reserved(&'static str),
}

impl RepoName {
    /// Validate `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`,
    /// and refuse [`RESERVED_COMPONENTS`] after the first component.
    pub fn parse(s: &str) -> Result<RepoName, NameError> {
        if s.is_empty() || s.len() > MAX_NAME_LEN || !s.split('/').all(valid_component) {
            return Err(NameError::Grammar);
        }
        if let Some(reserved) = s
            .split('/')
            .skip(1)
            .find_map(|c| RESERVED_COMPONENTS.into_iter().find(|r| *r == c))
        {
            return Err(NameError::Reserved(reserved));
        }
        Ok(RepoName(SmolStr::new(s)))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a shared string (a copy of at most 23 bytes, or a reference count).
    pub fn to_smol(&self) -> SmolStr {
        self.0.clone()
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One path component: alphanumeric runs separated by `.`, `_`, `__` or one or more `-`.
fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Validate a tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn is_valid_tag(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A manifest reference: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reference {
    /// A tag such as `latest` (inline up to 23 bytes).
    Tag(SmolStr),
    /// A content digest.
    Digest(Digest),
}

/// Why a reference was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// Looks like a digest but is not a valid one.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// Not a valid tag.
    #[error("invalid tag")]
    Tag,
}

impl Reference {
    /// The tag, or the digest's text.
    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) => t,
            Reference::Digest(d) => d.as_str(),
        }
    }

    /// A string with a `:` is a digest; anything else must be a valid tag.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.contains(':') {
            Ok(Reference::Digest(s.parse()?))
        } else if is_valid_tag(s) {
            Ok(Reference::Tag(SmolStr::new(s)))
        } else {
            Err(ReferenceError::Tag)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "library/alpine", "a.b_c__d---e/f0", "x/y/z"] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in [
            "",
            "A",
            "a/",
            "/a",
            "a//b",
            "..",
            "a/../b",
            "a/.b",
            "a___b",
            "a-",
            "_a",
            long.as_str(),
            "a b",
            "a\\b",
            "a/./b",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
        for colliding in [
            "a/blobs",
            "a/blobs/sha256/x",
            "a/index.json",
            "x/y/oci-layout",
        ] {
            assert!(
                matches!(RepoName::parse(colliding), Err(NameError::Reserved(_))),
                "{colliding}"
            );
        }
        for fine in ["blobs", "blobs/x", "index.json", "a/blobsx", "a/my-blobs"] {
            assert!(RepoName::parse(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn tags_and_references() {
        assert!(is_valid_tag("v1.0_rc-1"));
        assert!(is_valid_tag("_x"));
        assert!(!is_valid_tag(".x"));
        assert!(!is_valid_tag("-x"));
        assert!(!is_valid_tag(&"a".repeat(129)));
        assert!(is_valid_tag(&"a".repeat(128)));
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        assert!(matches!(
            Reference::parse("sha256:zz"),
            Err(ReferenceError::Digest(_))
        ));
        assert!(matches!(Reference::parse("../x"), Err(ReferenceError::Tag)));
    }
}
