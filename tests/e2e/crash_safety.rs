//! SIGKILL during concurrent uploads and tag pushes: every acknowledged blob survives intact,
//! every acknowledged tag names its manifest after the restart (replayed from the index
//! journal), and nothing half-written is ever visible.

use portcullis_tests::oci::{image_manifest, media, sha256};
use portcullis_tests::{client, Registry};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Deterministic pseudo-random content.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// What the registry acknowledged: blobs and tags, each as (repository, reference, digest).
#[derive(Default)]
struct Acked {
    blobs: Vec<(String, String)>,
    tags: Vec<(String, String, String)>,
}

/// One client: chunked uploads, each followed by a manifest naming the blob.
fn pusher(url: String, worker: u64, stop: Arc<AtomicBool>, acked: Arc<Mutex<Acked>>) {
    let c = client();
    let repo = format!("crash/w{worker}");
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let blob = content(
            worker * 1_000_000 + i,
            64 * 1024 + (i as usize * 37_123) % (3 << 20),
        );
        let Ok(r) = c.post(format!("{url}/v2/{repo}/blobs/uploads/")).send() else {
            return;
        };
        let Some(loc) = r
            .headers()
            .get("Location")
            .map(|l| l.to_str().unwrap().to_owned())
        else {
            return;
        };
        let mut ok = true;
        for (n, chunk) in blob.chunks(512 * 1024).enumerate() {
            let start = n * 512 * 1024;
            let range = format!("{start}-{}", start + chunk.len() - 1);
            match c
                .patch(format!("{url}{loc}"))
                .header("Content-Range", range)
                .body(chunk.to_vec())
                .send()
            {
                Ok(r) if r.status() == 202 => {}
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            return;
        }
        let digest = sha256(&blob);
        match c.put(format!("{url}{loc}?digest={digest}")).send() {
            Ok(r) if r.status() == 201 => acked
                .lock()
                .unwrap()
                .blobs
                .push((repo.clone(), digest.clone())),
            _ => return,
        }
        // A manifest over the blob, so index.json is being rewritten during the kill too.
        let config = format!("{{\"w\":{worker},\"i\":{i}}}");
        let Ok(r) = c
            .post(format!(
                "{url}/v2/{repo}/blobs/uploads/?digest={}",
                sha256(config.as_bytes())
            ))
            .body(config.clone())
            .send()
        else {
            return;
        };
        if r.status() != 201 {
            return;
        }
        let m = image_manifest(config.as_bytes(), &[&blob], serde_json::json!({}));
        let pushed = c
            .put(format!("{url}/v2/{repo}/manifests/t{i}"))
            .header("Content-Type", media::MANIFEST)
            .body(m.clone())
            .send();
        if pushed.is_ok_and(|r| r.status() == 201) {
            let tag = (repo.clone(), format!("t{i}"), sha256(&m));
            acked.lock().unwrap().tags.push(tag);
        }
    }
}

#[test]
fn sigkill_during_concurrent_uploads_loses_nothing_acknowledged() {
    let mut reg = Registry::start();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Acked::default()));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (url, stop, acked) = (reg.url.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || pusher(url, w, stop, acked))
        })
        .collect();
    // Let the pushers get going, then kill mid-flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while acked.lock().unwrap().blobs.len() < 30 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    reg.kill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.blobs.len() >= 30 && !acked.tags.is_empty(),
        "too few uploads completed before the kill: {} blobs, {} tags",
        acked.blobs.len(),
        acked.tags.len()
    );

    // On disk: every blob file's content matches its name; every index.json parses.
    let mut checked = 0;
    for entry in walk(&reg.root) {
        let path = entry.to_string_lossy().into_owned();
        let name = entry.file_name().unwrap().to_str().unwrap();
        // Temporary files (a write the kill interrupted) are never named by a digest, so they
        // can never be served; garbage collection removes them.
        let servable = !name.starts_with(".tmp-");
        if path.contains("/blobs/sha256/") && !path.contains("/.uploads/") && servable {
            let bytes = std::fs::read(&entry).unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                name,
                "half-written blob at {path}"
            );
            checked += 1;
        }
        if path.ends_with("index.json") {
            let bytes = std::fs::read(&entry).unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .unwrap_or_else(|e| panic!("corrupt {path}: {e}"));
        }
    }
    assert!(checked >= acked.blobs.len());

    // After restart: every acknowledged blob reads back with its digest; every tag resolves.
    let reg = reg.restart();
    let c = client();
    for (repo, digest) in &acked.blobs {
        let r = c
            .get(reg.at(&format!("/v2/{repo}/blobs/{digest}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{repo}@{digest}");
        assert_eq!(&sha256(&r.bytes().unwrap()), digest);
    }
    for (repo, tag, digest) in &acked.tags {
        let r = c
            .head(reg.at(&format!("/v2/{repo}/manifests/{tag}")))
            .header("Accept", media::MANIFEST)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{repo}:{tag}");
        assert_eq!(r.headers()["Docker-Content-Digest"], digest.as_str());
    }
    for w in 0..6 {
        let r = c
            .get(reg.at(&format!("/v2/crash/w{w}/tags/list")))
            .send()
            .unwrap();
        if r.status() != 200 {
            continue;
        }
        let tags: serde_json::Value = r.json().unwrap();
        for tag in tags["tags"].as_array().unwrap() {
            let r = c
                .get(reg.at(&format!(
                    "/v2/crash/w{w}/manifests/{}",
                    tag.as_str().unwrap()
                )))
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}
