//! A repository's `index.json`: the manifests it holds and the tags that name them.

use crate::oci::manifest::Descriptor;
use crate::oci::Digest;
use serde::{Deserialize, Serialize};

/// Annotation holding a tag on an `index.json` entry.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The document stored as `index.json`.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IndexFile {
    /// Always 2.
    pub schema_version: u32,
    /// Media type of the index itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// One entry per (manifest, tag) pair, plus one for each untagged manifest.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Anything else the file carried is kept as it was.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl IndexFile {
    /// An empty index.
    pub fn empty() -> IndexFile {
        IndexFile {
            schema_version: 2,
            media_type: Some(crate::oci::media::OCI_INDEX.to_owned()),
            ..Default::default()
        }
    }

    /// The tag an entry carries, if any.
    pub fn tag_of(entry: &Descriptor) -> Option<&str> {
        entry
            .annotations
            .as_ref()?
            .get(REF_NAME)
            .map(String::as_str)
    }

    /// The entry a tag names.
    pub fn find_tag(&self, tag: &str) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| Self::tag_of(d) == Some(tag))
    }

    /// Any entry for a digest.
    pub fn find_digest(&self, digest: &Digest) -> Option<&Descriptor> {
        self.manifests.iter().find(|d| &d.digest == digest)
    }

    /// All tags, sorted.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .manifests
            .iter()
            .filter_map(|d| Self::tag_of(d).map(str::to_owned))
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// Record `descriptor` under `tag` (or untagged), moving the tag if it pointed elsewhere. A
    /// manifest a tag moves away from stays as an untagged entry, so it is still fetchable.
    pub fn put(&mut self, descriptor: Descriptor, tag: Option<&str>) {
        match tag {
            None => {
                if self.find_digest(&descriptor.digest).is_none() {
                    self.manifests.push(without_tag(descriptor));
                }
            }
            Some(tag) => {
                let previous = self
                    .manifests
                    .iter()
                    .position(|d| Self::tag_of(d) == Some(tag));
                if let Some(i) = previous {
                    let old = self.manifests.remove(i);
                    if old.digest != descriptor.digest && self.find_digest(&old.digest).is_none() {
                        self.manifests.push(without_tag(old));
                    }
                }
                // The tagged entry replaces an untagged one for the same digest.
                self.manifests
                    .retain(|d| !(d.digest == descriptor.digest && Self::tag_of(d).is_none()));
                let mut entry = without_tag(descriptor);
                entry
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(REF_NAME.to_owned(), tag.to_owned());
                self.manifests.push(entry);
            }
        }
    }

    /// Remove a tag; true if it existed. The manifest stays, untagged, if nothing else names it.
    pub fn remove_tag(&mut self, tag: &str) -> bool {
        let Some(i) = self
            .manifests
            .iter()
            .position(|d| Self::tag_of(d) == Some(tag))
        else {
            return false;
        };
        let old = self.manifests.remove(i);
        if self.find_digest(&old.digest).is_none() {
            self.manifests.push(without_tag(old));
        }
        true
    }

    /// Remove every entry for a digest; returns how many there were.
    pub fn remove_digest(&mut self, digest: &Digest) -> usize {
        let before = self.manifests.len();
        self.manifests.retain(|d| &d.digest != digest);
        before - self.manifests.len()
    }
}

/// A copy of a descriptor with the tag annotation removed (and empty annotations dropped).
fn without_tag(mut d: Descriptor) -> Descriptor {
    if let Some(a) = d.annotations.as_mut() {
        a.remove(REF_NAME);
        if a.is_empty() {
            d.annotations = None;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Algorithm;

    fn desc(content: &[u8]) -> Descriptor {
        Descriptor {
            media_type: crate::oci::media::OCI_MANIFEST.into(),
            digest: Digest::of(Algorithm::Sha256, content),
            size: content.len() as u64,
            artifact_type: None,
            annotations: None,
            platform: None,
            urls: None,
        }
    }

    #[test]
    fn tags_move_and_untagged_manifests_survive() {
        let mut index = IndexFile::empty();
        index.put(desc(b"a"), Some("v1"));
        index.put(desc(b"a"), Some("latest"));
        index.put(desc(b"b"), Some("v1"));
        assert_eq!(index.tags(), vec!["latest", "v1"]);
        assert_eq!(index.find_tag("v1").unwrap().digest, desc(b"b").digest);
        index.put(desc(b"c"), None);
        index.put(desc(b"c"), Some("c"));
        assert_eq!(
            index
                .manifests
                .iter()
                .filter(|d| d.digest == desc(b"c").digest)
                .count(),
            1
        );
        assert!(index.remove_tag("c"));
        assert!(index.find_digest(&desc(b"c").digest).is_some());
        assert!(!index.remove_tag("c"));
        assert_eq!(index.remove_digest(&desc(b"a").digest), 1);
    }
}
