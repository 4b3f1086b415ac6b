//! A repository's `index.json`: the manifests it holds and the tags that name them (zot's
//! layout, readable by zot and any OCI tool).

use crate::oci::manifest::Descriptor;
use crate::oci::Digest;
use serde::{Deserialize, Serialize};

/// Annotation holding a tag on an `index.json` entry.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation holding the subject of a manifest on its `index.json` entry (Portcullis's own;
/// the referrers API reads it instead of every manifest).
pub const SUBJECT: &str = "io.portcullis.subject";
/// Top-level annotation saying every entry that has a subject carries [`SUBJECT`], so entries
/// without it have none. An index without it (written by another registry) is scanned once,
/// and the next write records what the scan found.
pub const SUBJECTS_COMPLETE: &str = "io.portcullis.subjects";
/// Top-level annotation holding the journal sequence number of the last change the document
/// includes (changes after it are in the repository's journal until it is written again).
pub const JOURNAL_SEQ: &str = "io.portcullis.journal";

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

    /// The journal sequence number of the last change the document includes (0: none).
    pub fn journal_seq(&self) -> u64 {
        self.annotations
            .as_ref()
            .and_then(|a| a.get(JOURNAL_SEQ))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Declare that every entry with a subject records it.
    pub fn mark_subjects_complete(&mut self) {
        self.annotations
            .get_or_insert_with(Default::default)
            .insert(SUBJECTS_COMPLETE.to_owned(), "recorded".to_owned());
    }
}
