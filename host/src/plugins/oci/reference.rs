//! `oci://host[:port]/repository[:tag][@digest]`: where a plugin is published, every part
//! validated before it is used to build a URL or a cache path.

use crate::oci::digest::Digest;
use crate::oci::name::{is_valid_tag, RepoName};
use std::fmt;

/// The scheme a plugin reference may start with (it is optional on the command line).
pub const SCHEME: &str = "oci://";

/// Longest registry host (with port) accepted.
const MAX_HOST_LEN: usize = 253 + 6;

/// A plugin's place in an OCI registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginReference {
    /// `host` or `host:port`.
    pub host: String,
    /// The repository.
    pub repository: RepoName,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The manifest digest, if one was given.
    pub digest: Option<Digest>,
}

impl PluginReference {
    /// Parse `[oci://]host[:port]/repository[:tag][@sha256:…]`; a reference needs a tag or a
    /// digest (or both: the digest is what is fetched, the tag only what it is called).
    pub fn parse(s: &str) -> Result<PluginReference, String> {
        let bad = |why: &str| format!("invalid plugin reference {s:?}: {why}");
        let rest = s.strip_prefix(SCHEME).unwrap_or(s);
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("expected host[:port]/repository[:tag][@digest]"))?;
        if !valid_host(host) {
            return Err(bad(
                "the registry host must be a host name or IPv4 address with an optional :port",
            ));
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => (
                p,
                Some(
                    d.parse::<Digest>()
                        .map_err(|e| bad(&format!("{e} {d:?}")))?,
                ),
            ),
            None => (path, None),
        };
        let (name, tag) = match path.rsplit_once(':') {
            Some((n, t)) => {
                if !is_valid_tag(t) {
                    return Err(bad(&format!("invalid tag {t:?}")));
                }
                (n, Some(t.to_owned()))
            }
            None => (path, None),
        };
        let repository = RepoName::parse(name).map_err(|e| bad(&e.to_string()))?;
        if tag.is_none() && digest.is_none() {
            return Err(bad("a tag (:v1) or a digest (@sha256:…) is required"));
        }
        Ok(PluginReference {
            host: host.to_owned(),
            repository,
            tag,
            digest,
        })
    }

    /// The reference with a digest, as a configuration must name a plugin: a tag can be moved
    /// to other content by whoever can push, so a registry loading by tag would run code
    /// nobody reviewed.
    pub fn require_digest(&self) -> Result<&Digest, String> {
        self.digest.as_ref().ok_or_else(|| {
            format!(
                "plugin reference {self} names a tag without a digest: a tag can be moved to \
                 other content, so the registry only loads a plugin pinned by digest; use \
                 {SCHEME}{}/{}@sha256:… (`portcullis plugin push` prints it)",
                self.host, self.repository
            )
        })
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => unreachable!("parse requires a tag or a digest"),
        }
    }

    /// The plugin's default name (in logs, as its key-value namespace, as its file name): the
    /// repository's last path component, as a file's stem names a plugin given by path.
    pub fn plugin_name(&self) -> &str {
        let name = self.repository.as_str();
        name.rsplit('/').next().unwrap_or(name)
    }

    /// The same place, pinned to `digest` (without the tag).
    pub fn pinned(&self, digest: Digest) -> PluginReference {
        PluginReference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }
}

impl fmt::Display for PluginReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.host, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `name[:port]`: dot-separated labels of letters, digits and inner hyphens, and a port of
/// 1 to 65535.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    host.len() <= MAX_HOST_LEN
        && name.split('.').all(label_ok)
        && port.is_none_or(|p| {
            !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n > 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references() {
        let r = PluginReference::parse(&format!("oci://127.0.0.1:5000/team/authz@{D}")).unwrap();
        assert_eq!(r.host, "127.0.0.1:5000");
        assert_eq!(r.repository.as_str(), "team/authz");
        assert_eq!(r.plugin_name(), "authz");
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), D);
        assert!(r.require_digest().is_ok());
        let t = PluginReference::parse("registry.example.com/p:v1").unwrap();
        assert_eq!(t.tag.as_deref(), Some("v1"));
        assert_eq!(t.to_string(), "oci://registry.example.com/p:v1");
        let e = t.require_digest().unwrap_err();
        assert!(e.contains("tag can be moved"), "{e}");
        let both = PluginReference::parse(&format!("h/p:v1@{D}")).unwrap();
        assert_eq!(both.manifest_reference(), D);
    }

    #[test]
    fn bad_references() {
        for bad in [
            "oci://",
            "oci://host",
            "oci://host/p",
            "oci://ho st/p:v1",
            "oci://host:0/p:v1",
            "oci://host:99999/p:v1",
            "oci://user@host/p:v1",
            "oci://host/P:v1",
            "oci://host/a/../b:v1",
            "oci://host/p:-v1",
            "oci://host/p@sha256:00",
            "oci://-host/p:v1",
        ] {
            assert!(PluginReference::parse(bad).is_err(), "{bad}");
        }
    }
}
