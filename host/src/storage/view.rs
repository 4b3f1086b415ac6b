//! A repository's index in memory, built from persistent maps: a clone costs nothing and a
//! change costs O(log n), so a write derives the next version from the current one without
//! copying the repository, readers keep the version they started with, and the lookups every
//! request needs (tag, digest, the children of multi-arch indexes, referrers) never scan.

use super::index::{IndexFile, JOURNAL_SEQ, REF_NAME, SUBJECT};
use crate::oci::manifest::Descriptor;
use crate::oci::Digest;
use imbl::{HashMap, OrdMap, OrdSet};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One change to a repository's index: what the journal records and replays.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum IndexOp {
    /// Record a manifest under `tags` (none: untagged), moving tags that named another one;
    /// `children` are the manifests it names, when it is an index.
    Put {
        /// The manifest's entry (without a tag).
        descriptor: Box<Descriptor>,
        /// The tags to point at it.
        tags: Vec<String>,
        /// The manifests an index names.
        children: Vec<Descriptor>,
    },
    /// Remove a tag; its manifest stays, untagged, if nothing else names it.
    RemoveTag {
        /// The tag.
        tag: String,
    },
    /// Remove every entry of a manifest.
    RemoveDigest {
        /// The manifest's digest.
        digest: Digest,
    },
    /// Record the subjects a scan of an index written by another registry found, and declare
    /// the index complete (see [`super::index::SUBJECTS_COMPLETE`]).
    RecordSubjects {
        /// `(manifest, subject)` pairs.
        subjects: Vec<(Digest, Digest)>,
    },
}

/// A version of a repository's index with its lookups.
#[derive(Clone, Debug, Default)]
pub struct IndexView {
    /// The document's fields besides its entries.
    head: Arc<IndexFile>,
    /// Entries in document order, by insertion number.
    entries: OrdMap<u64, Descriptor>,
    next_entry: u64,
    tags: OrdMap<String, u64>,
    digests: HashMap<Digest, OrdSet<u64>>,
    /// The untagged entries among `digests`: a tag push replaces them without visiting every
    /// tagged entry of its digest (one image under 100,000 tags stays cheap to tag again).
    untagged: HashMap<Digest, OrdSet<u64>>,
    /// Manifests that only an index manifest names (as skopeo writes multi-arch layouts).
    children: HashMap<Digest, Descriptor>,
    referrers: HashMap<Digest, OrdSet<Digest>>,
    /// The journal sequence number of the last change this version includes.
    seq: u64,
}

impl IndexView {
    /// The lookups of `file`; `children` are the descriptors its index manifests name.
    pub fn from_file(mut file: IndexFile, children: Vec<Descriptor>) -> IndexView {
        let entries = std::mem::take(&mut file.manifests);
        let seq = file.journal_seq();
        let mut view = IndexView {
            head: Arc::new(file),
            seq,
            ..IndexView::default()
        };
        for entry in entries {
            view.insert(entry);
        }
        view.add_children(children);
        view
    }

    /// The document, entries in order, recording the sequence number it includes.
    pub fn to_file(&self) -> IndexFile {
        let mut file = (*self.head).clone();
        file.manifests = self.entries.values().cloned().collect();
        file.annotations
            .get_or_insert_with(Default::default)
            .insert(JOURNAL_SEQ.to_owned(), self.seq.to_string());
        file
    }

    /// The journal sequence number of the last change included.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// This version with `op` (journal number `seq`) applied.
    pub fn apply(&self, op: &IndexOp, seq: u64) -> IndexView {
        let mut next = self.clone();
        next.seq = seq;
        match op {
            IndexOp::Put {
                descriptor,
                tags,
                children,
            } => {
                if tags.is_empty() {
                    next.put(descriptor, None);
                }
                for tag in tags {
                    next.put(descriptor, Some(tag));
                }
                next.add_children(children.iter().cloned());
            }
            IndexOp::RemoveTag { tag } => {
                next.remove_tag(tag);
            }
            IndexOp::RemoveDigest { digest } => {
                for entry in next.entries_with(digest) {
                    next.remove(entry);
                }
            }
            IndexOp::RecordSubjects { subjects } => {
                for (digest, subject) in subjects {
                    next.record_subject(digest, subject);
                }
                let mut head = (*next.head).clone();
                head.mark_subjects_complete();
                next.head = Arc::new(head);
            }
        }
        next
    }

    /// Whether `op` would change anything (a tag removal or a digest removal that finds
    /// nothing is refused before it is journaled).
    pub fn affects(&self, op: &IndexOp) -> bool {
        match op {
            IndexOp::RemoveTag { tag } => self.tags.contains_key(tag),
            IndexOp::RemoveDigest { digest } => self.digests.contains_key(digest),
            IndexOp::Put { .. } | IndexOp::RecordSubjects { .. } => true,
        }
    }

    /// The entry a tag names.
    pub fn find_tag(&self, tag: &str) -> Option<&Descriptor> {
        self.tags.get(tag).and_then(|n| self.entries.get(n))
    }

    /// The descriptor of a manifest the repository holds: an entry, or a child of an index.
    pub fn find_digest(&self, digest: &Digest) -> Option<&Descriptor> {
        self.digests
            .get(digest)
            .and_then(|entries| entries.get_min())
            .and_then(|n| self.entries.get(n))
            .or_else(|| self.children.get(digest))
    }

    /// Whether the digest is an entry of the index itself.
    pub fn lists(&self, digest: &Digest) -> bool {
        self.digests.contains_key(digest)
    }

    /// How many entries name a digest (several tags, or a tag and an untagged entry).
    pub fn entries_of(&self, digest: &Digest) -> usize {
        self.digests.get(digest).map_or(0, OrdSet::len)
    }

    /// The tags after `last` (all when None), in order.
    pub fn tags_after<'a>(&'a self, last: Option<&str>) -> impl Iterator<Item = &'a str> + 'a {
        use std::ops::Bound;
        let start = match last {
            Some(l) => Bound::Excluded(l.to_owned()),
            None => Bound::Unbounded,
        };
        self.tags
            .range((start, Bound::Unbounded))
            .map(|(t, _)| t.as_str())
    }

    /// The digests of manifests recorded as referring to `subject`, in digest order.
    pub fn referrers_of(&self, subject: &Digest) -> Vec<Digest> {
        self.referrers
            .get(subject)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Digests of every manifest the index lists.
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.digests.keys()
    }

    /// Every entry, in document order.
    pub fn entries(&self) -> impl Iterator<Item = &Descriptor> {
        self.entries.values()
    }

    /// Whether entries without [`SUBJECT`] are known to have no subject.
    pub fn subjects_complete(&self) -> bool {
        self.head.subjects_complete()
    }

    fn entries_with(&self, digest: &Digest) -> Vec<u64> {
        self.digests
            .get(digest)
            .map(|e| e.iter().copied().collect())
            .unwrap_or_default()
    }

    fn insert(&mut self, entry: Descriptor) {
        let n = self.next_entry;
        self.next_entry += 1;
        match IndexFile::tag_of(&entry) {
            Some(tag) => {
                self.tags.insert(tag.to_owned(), n);
            }
            None => {
                self.untagged
                    .entry(entry.digest.clone())
                    .or_default()
                    .insert(n);
            }
        }
        self.digests
            .entry(entry.digest.clone())
            .or_default()
            .insert(n);
        if let Some(subject) = IndexFile::subject_of(&entry) {
            self.referrers
                .entry(subject)
                .or_default()
                .insert(entry.digest.clone());
        }
        self.entries.insert(n, entry);
    }

    fn remove(&mut self, n: u64) -> Option<Descriptor> {
        let entry = self.entries.remove(&n)?;
        match IndexFile::tag_of(&entry) {
            Some(tag) => {
                if self.tags.get(tag) == Some(&n) {
                    self.tags.remove(tag);
                }
            }
            None => {
                let none_left = self.untagged.get_mut(&entry.digest).is_some_and(|u| {
                    u.remove(&n);
                    u.is_empty()
                });
                if none_left {
                    self.untagged.remove(&entry.digest);
                }
            }
        }
        let last = match self.digests.get_mut(&entry.digest) {
            Some(entries) => {
                entries.remove(&n);
                entries.is_empty()
            }
            None => false,
        };
        if last {
            self.digests.remove(&entry.digest);
            if let Some(subject) = IndexFile::subject_of(&entry) {
                if let Some(referrers) = self.referrers.get_mut(&subject) {
                    referrers.remove(&entry.digest);
                    if referrers.is_empty() {
                        self.referrers.remove(&subject);
                    }
                }
            }
        }
        Some(entry)
    }

    /// Record `descriptor` under `tag` (or untagged), moving the tag if it named another
    /// manifest; a manifest a tag moves away from stays as an untagged entry, so it is still
    /// fetchable.
    fn put(&mut self, descriptor: &Descriptor, tag: Option<&str>) {
        let Some(tag) = tag else {
            if !self.digests.contains_key(&descriptor.digest) {
                self.insert(without_tag(descriptor.clone()));
            }
            return;
        };
        if let Some(&n) = self.tags.get(tag) {
            if let Some(old) = self.remove(n) {
                if old.digest != descriptor.digest && !self.digests.contains_key(&old.digest) {
                    self.insert(without_tag(old));
                }
            }
        }
        // The tagged entry replaces an untagged one for the same digest.
        let untagged: Vec<u64> = self
            .untagged
            .get(&descriptor.digest)
            .map(|u| u.iter().copied().collect())
            .unwrap_or_default();
        for n in untagged {
            self.remove(n);
        }
        let mut entry = without_tag(descriptor.clone());
        entry
            .annotations
            .get_or_insert_with(Default::default)
            .insert(REF_NAME.to_owned(), tag.to_owned());
        self.insert(entry);
    }

    /// Remove a tag; true if it existed. The manifest stays, untagged, if nothing else names it.
    fn remove_tag(&mut self, tag: &str) -> bool {
        let Some(&n) = self.tags.get(tag) else {
            return false;
        };
        let Some(old) = self.remove(n) else {
            return false;
        };
        if !self.digests.contains_key(&old.digest) {
            self.insert(without_tag(old));
        }
        true
    }

    fn record_subject(&mut self, digest: &Digest, subject: &Digest) {
        for n in self.entries_with(digest) {
            if let Some(entry) = self.entries.get_mut(&n) {
                entry
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(SUBJECT.to_owned(), subject.to_string());
            }
        }
        if self.digests.contains_key(digest) {
            self.referrers
                .entry(subject.clone())
                .or_default()
                .insert(digest.clone());
        }
    }

    fn add_children(&mut self, children: impl IntoIterator<Item = Descriptor>) {
        for child in children {
            if !self.children.contains_key(&child.digest) {
                self.children.insert(child.digest.clone(), child);
            }
        }
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

    fn put(view: &IndexView, content: &[u8], tags: &[&str]) -> IndexView {
        let op = IndexOp::Put {
            descriptor: Box::new(desc(content)),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            children: Vec::new(),
        };
        view.apply(&op, view.seq() + 1)
    }

    #[test]
    fn tags_move_and_untagged_manifests_survive() {
        let empty = IndexView::from_file(IndexFile::empty(), Vec::new());
        let view = put(&empty, b"a", &["v1"]);
        let view = put(&view, b"a", &["latest"]);
        let view = put(&view, b"b", &["v1"]);
        assert_eq!(
            view.tags_after(None).collect::<Vec<_>>(),
            vec!["latest", "v1"]
        );
        assert_eq!(
            view.tags_after(Some("latest")).collect::<Vec<_>>(),
            vec!["v1"]
        );
        assert_eq!(view.find_tag("v1").unwrap().digest, desc(b"b").digest);
        assert_eq!(view.seq(), 3);
        assert!(
            empty.find_tag("v1").is_none(),
            "older versions are untouched"
        );
        let view = put(&view, b"c", &[]);
        let view = put(&view, b"c", &["c"]);
        assert_eq!(view.entries_of(&desc(b"c").digest), 1);
        let untag = IndexOp::RemoveTag { tag: "c".into() };
        assert!(view.affects(&untag));
        let view = view.apply(&untag, 9);
        assert!(view.find_digest(&desc(b"c").digest).is_some());
        assert!(!view.affects(&untag));
        let drop_a = IndexOp::RemoveDigest {
            digest: desc(b"a").digest,
        };
        assert_eq!(view.entries_of(&desc(b"a").digest), 1);
        let view = view.apply(&drop_a, 10);
        assert!(!view.lists(&desc(b"a").digest));
        // The document keeps the order entries were made in, and the sequence number.
        let file = view.to_file();
        let digests: Vec<_> = file.manifests.iter().map(|d| d.digest.clone()).collect();
        assert_eq!(digests, vec![desc(b"b").digest, desc(b"c").digest]);
        let again = IndexView::from_file(file, vec![desc(b"child")]);
        assert_eq!(again.seq(), 10);
        assert!(again.find_digest(&desc(b"child").digest).is_some());
        assert!(!again.lists(&desc(b"child").digest));
    }

    #[test]
    fn subjects_are_indexed_and_recorded() {
        let mut referrer = desc(b"sig");
        referrer.annotations = Some(
            [(SUBJECT.to_owned(), desc(b"a").digest.to_string())]
                .into_iter()
                .collect(),
        );
        let view = IndexView::from_file(IndexFile::empty(), Vec::new());
        assert!(view.subjects_complete());
        let view = put(&view, b"a", &["v1"]);
        let view = view.apply(
            &IndexOp::Put {
                descriptor: Box::new(referrer),
                tags: Vec::new(),
                children: Vec::new(),
            },
            2,
        );
        assert_eq!(
            view.referrers_of(&desc(b"a").digest),
            vec![desc(b"sig").digest]
        );
        let view = view.apply(
            &IndexOp::RemoveDigest {
                digest: desc(b"sig").digest,
            },
            3,
        );
        assert!(view.referrers_of(&desc(b"a").digest).is_empty());

        let legacy: IndexFile =
            serde_json::from_str(r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
        assert!(!legacy.subjects_complete());
        let view = put(&IndexView::from_file(legacy, Vec::new()), b"x", &["t"]);
        assert!(!view.subjects_complete());
        let view = view.apply(
            &IndexOp::RecordSubjects {
                subjects: vec![(desc(b"x").digest, desc(b"a").digest)],
            },
            2,
        );
        assert!(view.subjects_complete());
        assert_eq!(
            view.referrers_of(&desc(b"a").digest),
            vec![desc(b"x").digest]
        );
        assert!(IndexFile::subject_of(view.find_tag("t").unwrap()).is_some());
    }
}
