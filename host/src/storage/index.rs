//! A repository's `index.json`: the manifests it holds and the tags that name them, and the
//! lookups built from it so that no request scans it.

use crate::oci::manifest::Descriptor;
use crate::oci::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Annotation holding a tag on an `index.json` entry.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the subject of a manifest on its `index.json` entry (Portcullis's own;
/// the referrers API reads it instead of every manifest).
pub const SUBJECT: &str = "io.portcullis.subject";
/// Top-level annotation saying every entry that has a subject carries [`SUBJECT`], so entries
/// without it have none. An index without it (written by another registry) is scanned once,
/// and the next write records what the scan found.
pub const SUBJECTS_COMPLETE: &str = "io.portcullis.subjects";

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
    /// Annotations of the index itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    /// Anything else the file carried is kept as it was.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl IndexFile {
    /// An empty index (complete: it has no entry without its subject recorded).
    pub fn empty() -> IndexFile {
        let mut index = IndexFile {
            schema_version: 2,
            media_type: Some(crate::oci::media::OCI_INDEX.to_owned()),
            ..Default::default()
        };
        index.mark_subjects_complete();
        index
    }

    /// The tag an entry carries, if any.
    pub fn tag_of(entry: &Descriptor) -> Option<&str> {
        entry
            .annotations
            .as_ref()?
            .get(REF_NAME)
            .map(String::as_str)
    }

    /// The subject recorded on an entry, if any.
    pub fn subject_of(entry: &Descriptor) -> Option<Digest> {
        entry.annotations.as_ref()?.get(SUBJECT)?.parse().ok()
    }

    /// Whether entries without [`SUBJECT`] are known to have no subject.
    pub fn subjects_complete(&self) -> bool {
        self.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(SUBJECTS_COMPLETE))
    }

    /// Declare that every entry with a subject records it.
    pub fn mark_subjects_complete(&mut self) {
        self.annotations
            .get_or_insert_with(Default::default)
            .insert(SUBJECTS_COMPLETE.to_owned(), "recorded".to_owned());
    }

    /// Record `subject` on every entry of `digest` (for indexes written by others).
    pub fn record_subject(&mut self, digest: &Digest, subject: &Digest) {
        for entry in self.manifests.iter_mut().filter(|d| &d.digest == digest) {
            entry
                .annotations
                .get_or_insert_with(Default::default)
                .insert(SUBJECT.to_owned(), subject.to_string());
        }
    }

    /// Record `descriptor` under `tag` (or untagged), moving the tag if it pointed elsewhere. A
    /// manifest a tag moves away from stays as an untagged entry, so it is still fetchable.
    pub fn put(&mut self, descriptor: Descriptor, tag: Option<&str>) {
        match tag {
            None => {
                if !self.manifests.iter().any(|d| d.digest == descriptor.digest) {
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
                    if old.digest != descriptor.digest
                        && !self.manifests.iter().any(|d| d.digest == old.digest)
                    {
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
        if !self.manifests.iter().any(|d| d.digest == old.digest) {
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

/// An index with the lookups every request needs: tag and digest to entry, the manifests that
/// only an index manifest names (as skopeo writes multi-arch layouts), and referrers by subject.
#[derive(Debug, Default)]
pub struct IndexView {
    /// The document.
    pub file: IndexFile,
    tags: BTreeMap<String, usize>,
    digests: HashMap<Digest, usize>,
    /// Children of index manifests that the index does not list itself.
    children: HashMap<Digest, Descriptor>,
    /// Subject → referrer digests (complete only when the file says so, or after a scan).
    referrers: HashMap<Digest, Vec<Digest>>,
}

impl IndexView {
    /// Build the lookups of `file`; `children` are the descriptors named by its index
    /// manifests (read by the caller).
    pub fn new(file: IndexFile, children: Vec<Descriptor>) -> IndexView {
        let mut view = IndexView {
            tags: BTreeMap::new(),
            digests: HashMap::with_capacity(file.manifests.len()),
            children: HashMap::new(),
            referrers: HashMap::new(),
            file,
        };
        for (i, entry) in view.file.manifests.iter().enumerate() {
            if let Some(tag) = IndexFile::tag_of(entry) {
                view.tags.insert(tag.to_owned(), i);
            }
            view.digests.entry(entry.digest.clone()).or_insert(i);
            if let Some(subject) = IndexFile::subject_of(entry) {
                let referrers = view.referrers.entry(subject).or_default();
                if !referrers.contains(&entry.digest) {
                    referrers.push(entry.digest.clone());
                }
            }
        }
        for child in children {
            if !view.digests.contains_key(&child.digest) {
                view.children.entry(child.digest.clone()).or_insert(child);
            }
        }
        view
    }

    /// The entry a tag names.
    pub fn find_tag(&self, tag: &str) -> Option<&Descriptor> {
        self.tags.get(tag).map(|&i| &self.file.manifests[i])
    }

    /// The descriptor of a manifest the repository holds: an entry, or a child of an index.
    pub fn find_digest(&self, digest: &Digest) -> Option<&Descriptor> {
        self.digests
            .get(digest)
            .map(|&i| &self.file.manifests[i])
            .or_else(|| self.children.get(digest))
    }

    /// Whether the digest is an entry of the index itself.
    pub fn lists(&self, digest: &Digest) -> bool {
        self.digests.contains_key(digest)
    }

    /// How many entries name a digest (several tags, or a tag and an untagged entry).
    pub fn entries_of(&self, digest: &Digest) -> usize {
        self.file
            .manifests
            .iter()
            .filter(|d| &d.digest == digest)
            .count()
    }

    /// The tags after `last` (all when None), in order.
    pub fn tags_after<'a>(&'a self, last: Option<&str>) -> impl Iterator<Item = &'a str> + 'a {
        use std::ops::Bound;
        let start = match last {
            Some(l) => Bound::Excluded(l.to_owned()),
            None => Bound::Unbounded,
        };
        self.tags
            .range::<String, _>((start, Bound::Unbounded))
            .map(|(t, _)| t.as_str())
    }

    /// The digests of manifests recorded as referring to `subject`.
    pub fn referrers_of(&self, subject: &Digest) -> &[Digest] {
        self.referrers
            .get(subject)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The children of index manifests (kept so that a rebuilt view need not read them again).
    pub fn children(&self) -> impl Iterator<Item = &Descriptor> {
        self.children.values()
    }

    /// Digests of every manifest the index names.
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.digests.keys()
    }
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
        let view = IndexView::new(index.clone(), Vec::new());
        assert_eq!(
            view.tags_after(None).collect::<Vec<_>>(),
            vec!["latest", "v1"]
        );
        assert_eq!(
            view.tags_after(Some("latest")).collect::<Vec<_>>(),
            vec!["v1"]
        );
        assert_eq!(view.find_tag("v1").unwrap().digest, desc(b"b").digest);
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
        let view = IndexView::new(index.clone(), vec![desc(b"child")]);
        assert!(view.find_digest(&desc(b"c").digest).is_some());
        assert!(view.find_digest(&desc(b"child").digest).is_some());
        assert!(!view.lists(&desc(b"child").digest));
        assert!(!index.remove_tag("c"));
        assert_eq!(index.remove_digest(&desc(b"a").digest), 1);
    }

    #[test]
    fn subjects_are_indexed() {
        let mut index = IndexFile::empty();
        assert!(index.subjects_complete());
        let mut referrer = desc(b"sig");
        referrer.annotations = Some(
            [(SUBJECT.to_owned(), desc(b"a").digest.to_string())]
                .into_iter()
                .collect(),
        );
        index.put(desc(b"a"), Some("v1"));
        index.put(referrer, None);
        let view = IndexView::new(index, Vec::new());
        assert_eq!(
            view.referrers_of(&desc(b"a").digest),
            &[desc(b"sig").digest]
        );
        assert!(view.referrers_of(&desc(b"sig").digest).is_empty());
        let legacy: IndexFile =
            serde_json::from_str(r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
        assert!(!legacy.subjects_complete());
    }
}
