//! Manifests, tags and referrers. A manifest is a blob of its repository plus an entry in its
//! `index.json`; every change to the index happens under the repository's writer lock.

use super::{blocking, Index, ManifestFacts, Repo, Result, Storage, StorageError};
use crate::fsutil;
use crate::oci::manifest::{self, Descriptor};
use crate::oci::media::ManifestKind;
use crate::oci::{Algorithm, Digest, Reference, RepoName};
use bytes::Bytes;
use std::collections::HashMap;

/// Memory for recently served manifests, all repositories together.
const MANIFEST_CACHE_BYTES: usize = 64 << 20;

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
}

/// What a successful push stored.
pub struct PutOutcome {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest's subject, if it has one.
    pub subject: Option<Digest>,
}

/// A stored manifest, ready to serve.
pub struct ManifestBody {
    /// The document.
    pub bytes: Bytes,
    /// Its media type.
    pub media_type: String,
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
        let path = self.layout.blob(put.name, &digest);
        let body = put.body.clone();
        blocking(move || {
            if path.exists() {
                Ok(())
            } else {
                fsutil::write_atomic(&path, &body)
            }
        })
        .await?;
        let repo = self.repo(put.name);
        let _writer = repo.writer.lock().await;
        for blob in &parsed.required_blobs {
            if !tokio::fs::try_exists(self.layout.blob(put.name, blob)).await? {
                return Err(StorageError::ManifestBlobUnknown(blob.clone()));
            }
        }
        let index = self.index(put.name).await?;
        for child in &parsed.required_manifests {
            let known = index.find_digest(child).is_some()
                || tokio::fs::try_exists(self.layout.blob(put.name, child)).await?;
            if !known {
                return Err(StorageError::ManifestBlobUnknown(child.clone()));
            }
        }
        let descriptor = Descriptor {
            media_type: parsed.media_type.clone(),
            digest: digest.clone(),
            size: put.body.len() as u64,
            artifact_type: parsed.artifact_type.clone(),
            annotations: None,
            platform: None,
            urls: None,
        };
        let mut next = (*index).clone();
        let mut tags: Vec<&str> = put.extra_tags.iter().map(String::as_str).collect();
        if let Reference::Tag(t) = put.reference {
            tags.push(t);
        }
        if tags.is_empty() {
            next.put(descriptor.clone(), None);
        }
        for tag in tags {
            next.put(descriptor.clone(), Some(tag));
        }
        self.save_index(put.name, &repo, next).await?;
        let facts = ManifestFacts {
            descriptor: Descriptor {
                annotations: parsed.annotations,
                ..descriptor
            },
            subject: parsed.subject.clone(),
        };
        if let Some(map) = repo
            .facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            map.insert(digest.clone(), facts);
        }
        Ok(PutOutcome {
            digest,
            subject: parsed.subject,
        })
    }

    /// The descriptor a reference resolves to.
    pub async fn resolve(&self, name: &RepoName, reference: &Reference) -> Result<Descriptor> {
        let index = self.index(name).await.map_err(|e| match e {
            StorageError::NameUnknown => StorageError::ManifestUnknown,
            other => other,
        })?;
        let found = match reference {
            Reference::Tag(t) => index.find_tag(t),
            Reference::Digest(d) => index.find_digest(d),
        };
        if let Some(d) = found {
            return Ok(d.clone());
        }
        match reference {
            Reference::Digest(d) => self.reachable_child(name, &index, d).await,
            Reference::Tag(_) => Err(StorageError::ManifestUnknown),
        }
    }

    /// A manifest that `index.json` does not list but an index it lists points at (as skopeo
    /// writes multi-arch layouts): found by walking the indexes, media type from the child.
    async fn reachable_child(
        &self,
        name: &RepoName,
        index: &Index,
        wanted: &Digest,
    ) -> Result<Descriptor> {
        let is_index = |m: &str| crate::oci::media::manifest_kind(m) == Some(ManifestKind::Index);
        let mut queue: Vec<Descriptor> = index
            .manifests
            .iter()
            .filter(|d| is_index(&d.media_type))
            .cloned()
            .collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(parent) = queue.pop() {
            if !seen.insert(parent.digest.clone()) {
                continue;
            }
            let Ok(bytes) = tokio::fs::read(self.layout.blob(name, &parent.digest)).await else {
                continue;
            };
            let Ok(children) = serde_json::from_slice::<ChildList>(&bytes) else {
                continue;
            };
            for child in children.manifests {
                if &child.digest == wanted {
                    return Ok(child);
                }
                if is_index(&child.media_type) {
                    queue.push(child);
                }
            }
        }
        Err(StorageError::ManifestUnknown)
    }

    /// Read a manifest (from memory when it was served recently).
    pub async fn get_manifest(
        &self,
        name: &RepoName,
        reference: &Reference,
    ) -> Result<ManifestBody> {
        let descriptor = self.resolve(name, reference).await?;
        let repo = self.repo(name);
        let cached = repo
            .manifest_bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&descriptor.digest)
            .cloned();
        let bytes = match cached {
            Some(b) => b,
            None => {
                let path = self.layout.blob(name, &descriptor.digest);
                let bytes = match tokio::fs::read(path).await {
                    Ok(b) => Bytes::from(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(StorageError::ManifestUnknown)
                    }
                    Err(e) => return Err(e.into()),
                };
                self.remember_manifest(&repo, &descriptor.digest, &bytes);
                bytes
            }
        };
        Ok(ManifestBody {
            bytes,
            media_type: descriptor.media_type,
            digest: descriptor.digest,
        })
    }

    /// Keep a manifest's bytes in memory, within [`MANIFEST_CACHE_BYTES`] for all repositories
    /// together (a repository's cache is emptied when it would overflow the budget).
    fn remember_manifest(&self, repo: &Repo, digest: &Digest, bytes: &Bytes) {
        use std::sync::atomic::Ordering::Relaxed;
        if bytes.len() > MANIFEST_CACHE_BYTES / 64 {
            return;
        }
        let mut cache = repo
            .manifest_bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.cached_manifest_bytes.load(Relaxed) + bytes.len() > MANIFEST_CACHE_BYTES {
            let freed: usize = cache.drain().map(|(_, b)| b.len()).sum();
            self.cached_manifest_bytes.fetch_sub(freed, Relaxed);
        }
        if cache.insert(digest.clone(), bytes.clone()).is_none() {
            self.cached_manifest_bytes.fetch_add(bytes.len(), Relaxed);
        }
    }

    /// Whether a tag exists in the repository.
    pub async fn tag_exists(&self, name: &RepoName, tag: &str) -> Result<bool> {
        match self.index(name).await {
            Ok(index) => Ok(index.find_tag(tag).is_some()),
            Err(StorageError::NameUnknown) => Ok(false),
            Err(e) => Err(e),
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
        let _writer = repo.writer.lock().await;
        let mut next = (*self.index(name).await?).clone();
        match reference {
            Reference::Tag(t) => {
                if !next.remove_tag(t) {
                    return Err(StorageError::ManifestUnknown);
                }
            }
            Reference::Digest(d) => {
                let entries = next.manifests.iter().filter(|m| &m.digest == d).count();
                if entries == 0 {
                    return Err(StorageError::ManifestUnknown);
                }
                if detect_collision && entries > 1 {
                    return Err(StorageError::ManifestCollision);
                }
                next.remove_digest(d);
                if let Some(map) = repo
                    .facts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_mut()
                {
                    map.remove(d);
                }
            }
        }
        self.save_index(name, &repo, next).await
    }

    /// Tags of a repository, sorted, paged.
    pub async fn tags(
        &self,
        name: &RepoName,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool)> {
        let index = self.index(name).await?;
        let tags = index
            .tags()
            .into_iter()
            .filter(|t| last.is_none_or(|l| t.as_str() > l));
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
        let repo = self.repo(name);
        self.load_facts(name, &repo).await?;
        let facts = repo.facts.lock().unwrap_or_else(|e| e.into_inner());
        let mut found: Vec<Descriptor> = facts
            .iter()
            .flatten()
            .filter(|(_, f)| f.subject.as_ref() == Some(subject))
            .filter(|(_, f)| {
                artifact_type.is_none_or(|t| f.descriptor.artifact_type.as_deref() == Some(t))
            })
            .map(|(_, f)| f.descriptor.clone())
            .collect();
        found.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(found)
    }

    /// Read every manifest of the repository once, to learn subjects and artifact types.
    async fn load_facts(&self, name: &RepoName, repo: &Repo) -> Result<()> {
        if repo
            .facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let _writer = repo.writer.lock().await;
        let index = self.index(name).await?;
        let mut map = HashMap::new();
        for entry in &index.manifests {
            if map.contains_key(&entry.digest) {
                continue;
            }
            let bytes = match tokio::fs::read(self.layout.blob(name, &entry.digest)).await {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if let Ok(parsed) = manifest::parse(&bytes, Some(&entry.media_type)) {
                let descriptor = Descriptor {
                    media_type: entry.media_type.clone(),
                    digest: entry.digest.clone(),
                    size: bytes.len() as u64,
                    artifact_type: parsed.artifact_type,
                    annotations: parsed.annotations,
                    platform: None,
                    urls: None,
                };
                let subject = parsed.subject;
                map.insert(
                    entry.digest.clone(),
                    ManifestFacts {
                        descriptor,
                        subject,
                    },
                );
            }
        }
        *repo.facts.lock().unwrap_or_else(|e| e.into_inner()) = Some(map);
        Ok(())
    }
}

/// The children of an index, as far as finding a child needs.
#[derive(serde::Deserialize)]
struct ChildList {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

impl Index {
    /// Digests of every manifest the index names.
    pub fn digests(&self) -> impl Iterator<Item = &Digest> {
        self.manifests.iter().map(|d| &d.digest)
    }
}
