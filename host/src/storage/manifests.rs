//! Manifests, tags and referrers. A manifest is a blob of its repository plus an entry in its
//! index; every change to the index happens under the repository's writer lock, and the facts
//! a push was decided on (which tags exist) are checked again there.

use super::index::{IndexFile, SUBJECT};
use super::{IndexOp, IndexView, Repo, Result, Storage, StorageError};
use crate::oci::manifest::{self, Descriptor};
use crate::oci::media::{self, ManifestKind};
use crate::oci::{Algorithm, Digest, Reference, RepoName};
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// What a push was decided on: whether a tag existed when its permission was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagExpectation {
    /// The tag.
    pub tag: String,
    /// Whether it existed (an update) or not (a create).
    pub existed: bool,
}

/// A manifest push.
pub struct PutManifest<'a> {
    /// Target repository.
    pub name: &'a RepoName,
    /// The reference in the URL.
    pub reference: &'a Reference,
    /// More tags from `?tag=` query parameters.
    pub extra_tags: &'a [String],
    /// The document.
    pub body: Bytes,
    /// The request's Content-Type.
    pub content_type: Option<&'a str>,
    /// The tag states the push was authorized for; checked under the writer lock, where a
    /// mismatch fails with [`StorageError::TagChanged`] and changes nothing. Empty: no check.
    pub expected: &'a [TagExpectation],
}

/// What a successful push stored.
pub struct PutOutcome {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's subject, if it has one.
    pub subject: Option<Digest>,
}

/// A stored manifest, ready to serve.
#[derive(Clone, Debug)]
pub struct ManifestBody {
    /// The document.
    pub bytes: Bytes,
    /// Its media type (one of the known manifest types' constants, or the stored text).
    pub media_type: Cow<'static, str>,
    /// Its digest.
    pub digest: Digest,
}

impl Storage {
    /// Validate and store a manifest, then point its tags at it.
    pub async fn put_manifest(&self, put: PutManifest<'_>) -> Result<PutOutcome> {
        let parsed = manifest::parse(&put.body, put.content_type)
            .map_err(|e| StorageError::ManifestInvalid(e.0))?;
        let digest = match put.reference {
            Reference::Digest(d) => {
                let actual = Digest::of(d.algorithm(), &put.body);
                if &actual != d {
                    return Err(StorageError::DigestMismatch);
                }
                actual
            }
            Reference::Tag(_) => Digest::of(Algorithm::Sha256, &put.body),
        };
        self.ensure_repo(put.name).await?;
        // The document is content-addressed and written atomically, so it is made durable
        // before the writer lock: concurrent pushes only queue for the index update.
        self.blobs
            .write(put.name, &digest, put.body.clone())
            .await?;
        let repo = self.repo(put.name);
        let mut writer = repo.writer.lock().await;
        let view = self.latest(put.name, &mut writer).await?;
        for expected in put.expected {
            if view.find_tag(&expected.tag).is_some() != expected.existed {
                return Err(StorageError::TagChanged(expected.tag.clone()));
            }
        }
        if let Some(blob) = self
            .blobs
            .first_missing(put.name, parsed.required_blobs.clone())
            .await?
        {
            return Err(StorageError::ManifestBlobUnknown(blob));
        }
        for child in &parsed.children {
            let known = view.find_digest(&child.digest).is_some()
                || self.blobs.stat(put.name, &child.digest).await?.is_some();
            if !known {
                return Err(StorageError::ManifestBlobUnknown(child.digest.clone()));
            }
        }
        let mut annotations = None;
        if let Some(subject) = &parsed.subject {
            annotations = Some([(SUBJECT.to_owned(), subject.to_string())].into());
        }
        let descriptor = Descriptor {
            media_type: parsed.media_type.clone(),
            digest: digest.clone(),
            size: put.body.len() as u64,
            artifact_type: parsed.artifact_type.clone(),
            annotations,
            platform: None,
            urls: None,
        };
        let mut tags: Vec<String> = put.extra_tags.to_vec();
        if let Reference::Tag(t) = put.reference {
            tags.push(t.to_string());
        }
        let op = IndexOp::Put {
            descriptor: Box::new(descriptor),
            tags,
            children: parsed.children,
        };
        self.commit(put.name, &repo, writer, op).await?;
        self.remember(&digest, &put.body);
        Ok(PutOutcome {
            digest,
            subject: parsed.subject,
        })
    }

    /// The descriptor a reference resolves to.
    pub async fn resolve(&self, name: &RepoName, reference: &Reference) -> Result<Descriptor> {
        self.resolve_with(name, reference, Descriptor::clone).await
    }

    /// What `pick` takes of the descriptor `reference` resolves to (without copying the rest
    /// of it: its annotations, platform and URLs).
    async fn resolve_with<T>(
        &self,
        name: &RepoName,
        reference: &Reference,
        pick: impl FnOnce(&Descriptor) -> T,
    ) -> Result<T> {
        let view = self.index(name).await.map_err(|e| match e {
            StorageError::NameUnknown => StorageError::ManifestUnknown,
            other => other,
        })?;
        let found = match reference {
            Reference::Tag(t) => view.find_tag(t),
            Reference::Digest(d) => view.find_digest(d),
        };
        found.map(pick).ok_or(StorageError::ManifestUnknown)
    }

    /// Read a manifest (from memory when it was served recently).
    pub async fn get_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<ManifestBody> {
        let (media_type, digest) = self
            .resolve_with(name, reference, |d| {
                let media_type = media::known_manifest(&d.media_type)
                    .map_or_else(|| Cow::Owned(d.media_type.clone()), Cow::Borrowed);
                (media_type, d.digest.clone())
            })
            .await?;
        let bytes = self.manifest_bytes(name, &digest).await?;
        Ok(ManifestBody {
            bytes,
            media_type,
            digest,
        })
    }

    /// The bytes of a manifest the repository's index resolved.
    async fn manifest_bytes(&self, name: &RepoName, digest: &Digest) -> Result<Bytes> {
        if let Some(bytes) = self.manifests.get(digest) {
            return Ok(bytes);
        }
        let bytes = self
            .blobs
            .read(name, digest)
            .await?
            .ok_or(StorageError::ManifestUnknown)?;
        self.remember(digest, &bytes);
        Ok(bytes)
    }

    /// Keep a manifest's bytes in memory (within the global budget).
    fn remember(&self, digest: &Digest, bytes: &Bytes) {
        if bytes.len() <= super::MANIFEST_CACHE_ITEM {
            self.manifests.insert(digest.clone(), bytes.clone());
        }
    }

    /// Delete a tag, or a manifest and every tag on it. With `detect_collision`, refuse to
    /// delete by digest a manifest that more than one entry names.
    pub async fn delete_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
        detect_collision: bool,
    ) -> Result<()> {
        if !self.repo_exists(name) {
            return Err(StorageError::ManifestUnknown);
        }
        let repo = self.repo(name);
        let mut writer = repo.writer.lock().await;
        let view = self.latest(name, &mut writer).await?;
        let op = match reference {
            Reference::Tag(t) => IndexOp::RemoveTag { tag: t.to_string() },
            Reference::Digest(d) => {
                if detect_collision && view.entries_of(d) > 1 {
                    return Err(StorageError::ManifestCollision);
                }
                IndexOp::RemoveDigest { digest: d.clone() }
            }
        };
        if !view.affects(&op) {
            return Err(StorageError::ManifestUnknown);
        }
        self.commit(name, &repo, writer, op).await
    }

    /// Tags of a repository after `last`, sorted, up to `n`; the flag says whether more remain.
    pub async fn tags(
        &self,
        name: &RepoName,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        let view = self.index(name).await?;
        let tags = view.tags_after(last).map(str::to_owned);
        Ok(super::catalog::page(tags, n))
    }

    /// Manifests whose subject is `subject`, optionally only those of one artifact type.
    pub async fn referrers(
        &self,
        name: &RepoName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>> {
        if !self.repo_exists(name) {
            return Ok(Vec::new());
        }
        let view = self.index(name).await?;
        let mut digests: Vec<Digest> = view.referrers_of(subject);
        if !view.subjects_complete() {
            let scanned = self.scanned_subjects(name, &view).await?;
            for (digest, _) in scanned
                .iter()
                .filter(|(d, s)| *s == subject && view.lists(d))
            {
                if !digests.contains(digest) {
                    digests.push(digest.clone());
                }
            }
        }
        let mut found = Vec::with_capacity(digests.len());
        for digest in digests {
            let Some(entry) = view.find_digest(&digest) else {
                continue;
            };
            let bytes = match self.manifest_bytes(name, &digest).await {
                Ok(b) => b,
                Err(StorageError::ManifestUnknown) => continue,
                Err(e) => return Err(e),
            };
            let Ok(parsed) = manifest::parse(&bytes, Some(&entry.media_type)) else {
                continue;
            };
            if artifact_type.is_some_and(|t| parsed.artifact_type.as_deref() != Some(t)) {
                continue;
            }
            found.push(Descriptor {
                media_type: entry.media_type.clone(),
                digest,
                size: bytes.len() as u64,
                artifact_type: parsed.artifact_type,
                annotations: parsed.annotations,
                platform: None,
                urls: None,
            });
        }
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(found)
    }

    /// For an index written by another registry: the subjects of its manifests, read once
    /// (outside the writer lock) and recorded in `index.json` at its next write.
    async fn scanned_subjects(
        &self,
        name: &RepoName,
        view: &IndexView,
    ) -> Result<Arc<HashMap<Digest, Digest>>> {
        let repo: Arc<Repo> = self.repo(name);
        if let Some(done) = repo
            .scanned_subjects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(done);
        }
        let mut found = HashMap::new();
        for entry in view.entries() {
            let Some(bytes) = self.blobs.read(name, &entry.digest).await? else {
                continue;
            };
            if let Ok(parsed) = manifest::parse(&bytes, Some(&entry.media_type)) {
                if let Some(subject) = parsed.subject {
                    found.insert(entry.digest.clone(), subject);
                }
            }
        }
        let found = Arc::new(found);
        *repo
            .scanned_subjects
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
        Ok(found)
    }
}

impl Storage {
    /// The children of the index manifests `file` lists (recursively): the manifests a
    /// multi-arch push made reachable without listing them.
    pub(super) async fn children_of(
        &self,
        name: &RepoName,
        file: &IndexFile,
    ) -> Result<Vec<Descriptor>> {
        let is_index = |m: &str| crate::oci::media::manifest_kind(m) == Some(ManifestKind::Index);
        let mut queue: Vec<Digest> = file
            .manifests
            .iter()
            .filter(|d| is_index(&d.media_type))
            .map(|d| d.digest.clone())
            .collect();
        let mut seen = HashSet::new();
        let mut children = Vec::new();
        while let Some(parent) = queue.pop() {
            if !seen.insert(parent.clone()) {
                continue;
            }
            let Some(bytes) = self.blobs.read(name, &parent).await? else {
                continue;
            };
            let Ok(list) = serde_json::from_slice::<ChildList>(&bytes) else {
                continue;
            };
            for child in list.manifests {
                if is_index(&child.media_type) {
                    queue.push(child.digest.clone());
                }
                children.push(child);
            }
        }
        Ok(children)
    }
}

/// The children of an index, as far as finding a child needs.
#[derive(serde::Deserialize)]
struct ChildList {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}
