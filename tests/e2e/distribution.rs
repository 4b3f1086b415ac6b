//! The distribution API, black-box over HTTP: the behaviours the OCI conformance suites check
//! (both the v1.1 suite and the rewritten one on main), plus restarts, concurrency, garbage
//! collection, metrics, logs and TLS.

use portcullis_tests::oci::{
    descriptor, error_code, image_manifest, media, push_blob, push_image, put_manifest, sha256,
    sha512,
};
use portcullis_tests::{client, Registry, Setup};
use reqwest::blocking::{Body, Client, Response};
use serde_json::{json, Value};
use std::io::Read;

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A body of unknown length, so it goes out with chunked transfer encoding.
fn streamed(bytes: &[u8]) -> Body {
    Body::new(std::io::Cursor::new(bytes.to_vec()).chain(std::io::empty()))
}

fn start_upload(c: &Client, reg: &Registry, repo: &str) -> String {
    let r = c
        .post(reg.at(&format!("/v2/{repo}/blobs/uploads/")))
        .header("Content-Length", "0")
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let location = header(&r, "Location");
    assert!(
        location.starts_with(&format!("/v2/{repo}/blobs/uploads/")),
        "{location}"
    );
    assert_eq!(header(&r, "Range"), "0-0");
    location
}

fn get_blob(c: &Client, reg: &Registry, repo: &str, digest: &str) -> (u16, Vec<u8>) {
    let r = c
        .get(reg.at(&format!("/v2/{repo}/blobs/{digest}")))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().unwrap().to_vec())
}

#[test]
fn base_endpoint_answers_with_api_version() {
    let reg = Registry::start();
    let r = client().get(reg.at("/v2/")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "Docker-Distribution-API-Version"),
        "registry/2.0"
    );
    assert_eq!(r.text().unwrap(), "{}");
    assert_eq!(client().get(reg.at("/v2")).send().unwrap().status(), 200);
    let r = client().get(reg.at("/nope")).send().unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn blob_push_methods_and_reads() {
    let reg = Registry::start();
    let c = client();
    // Monolithic POST ?digest=.
    let a = b"monolithic blob".to_vec();
    let da = push_blob(&c, &reg.url, "r/one", &a);
    assert_eq!(get_blob(&c, &reg, "r/one", &da), (200, a.clone()));
    // POST, then PUT ?digest= with the body.
    let b = vec![7u8; 3000];
    let loc = start_upload(&c, &reg, "r/one");
    let r = c
        .put(reg.at(&format!("{loc}?digest={}", sha256(&b))))
        .header("Content-Type", "application/octet-stream")
        .body(b.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "Location"),
        format!("/v2/r/one/blobs/{}", sha256(&b))
    );
    assert_eq!(header(&r, "Docker-Content-Digest"), sha256(&b));
    // Streamed PATCH with chunked transfer encoding, then an empty PUT.
    let s: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let loc = start_upload(&c, &reg, "r/one");
    let r = c.patch(reg.at(&loc)).body(streamed(&s)).send().unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "Range"), format!("0-{}", s.len() - 1));
    assert_eq!(header(&r, "Location"), loc);
    let r = c
        .put(reg.at(&format!("{loc}?digest={}", sha256(&s))))
        .header("Content-Length", "0")
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // HEAD: length and digest, no body.
    let r = c
        .head(reg.at(&format!("/v2/r/one/blobs/{}", sha256(&s))))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "Content-Length"), s.len().to_string());
    assert_eq!(header(&r, "Docker-Content-Digest"), sha256(&s));
    assert_eq!(get_blob(&c, &reg, "r/one", &sha256(&s)).1, s);
    // Missing blob.
    let (status, body) = get_blob(&c, &reg, "r/one", &sha256(b"hello world"));
    assert_eq!(status, 404);
    assert_eq!(
        error_code(&String::from_utf8(body).unwrap()),
        "BLOB_UNKNOWN"
    );
    let r = c
        .head(reg.at(&format!("/v2/r/one/blobs/{}", sha256(b"nope"))))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn empty_and_sha512_blobs() {
    let reg = Registry::start();
    let c = client();
    let d = push_blob(&c, &reg.url, "e", b"");
    let r = c.head(reg.at(&format!("/v2/e/blobs/{d}"))).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "Content-Length"), "0");
    for content in [b"".as_slice(), b"{}", b"sha512 content"] {
        let d512 = sha512(content);
        let loc = start_upload(&c, &reg, "e");
        let r = c
            .put(reg.at(&format!("{loc}?digest={d512}")))
            .body(content.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{:?}", r.text());
        let r = c
            .get(reg.at(&format!("/v2/e/blobs/{d512}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "Docker-Content-Digest"), d512);
        assert_eq!(r.bytes().unwrap().as_ref(), content);
    }
    assert!(reg.root.join("e/blobs/sha512").is_dir());
}

#[test]
fn chunked_upload_order_status_and_recovery() {
    let reg = Registry::start();
    let c = client();
    let blob: Vec<u8> = (0..42u8).collect();
    let (first, second) = blob.split_at(22);
    // Out of order on a fresh session.
    let loc = start_upload(&c, &reg, "chunks");
    let r = c
        .patch(reg.at(&loc))
        .header("Content-Range", "22-41")
        .header("Content-Type", "application/octet-stream")
        .body(second.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(error_code(&r.text().unwrap()), "RANGE_INVALID");
    // In order.
    let loc = start_upload(&c, &reg, "chunks");
    let r = c
        .patch(reg.at(&loc))
        .header("Content-Range", "0-21")
        .body(first.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(header(&r, "Range"), "0-21");
    // Resending the first chunk to the original URL is refused; the session survives.
    let r = c
        .patch(reg.at(&loc))
        .header("Content-Range", "0-21")
        .body(first.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "Range"), "0-21");
    let r = c.get(reg.at(&loc)).send().unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "Range"), "0-21");
    assert_eq!(header(&r, "Location"), loc);
    // A chunk whose length does not match its range is rolled back.
    let r = c
        .patch(reg.at(&loc))
        .header("Content-Range", "22-50")
        .body(second.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "Range"), "0-21");
    // An out-of-order final PUT is refused and keeps the session.
    let r = c
        .put(reg.at(&format!("{loc}?digest={}", sha256(&blob))))
        .header("Content-Range", "30-41")
        .body(second[8..].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 416);
    // The real last chunk with the PUT.
    let r = c
        .put(reg.at(&format!("{loc}?digest={}", sha256(&blob))))
        .header("Content-Range", "22-41")
        .body(second.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(get_blob(&c, &reg, "chunks", &sha256(&blob)).1, blob);
    // The finished session is gone.
    assert_eq!(c.get(reg.at(&loc)).send().unwrap().status(), 404);
}

#[test]
fn upload_cancel_and_bad_digest() {
    let reg = Registry::start();
    let c = client();
    let loc = start_upload(&c, &reg, "cancel");
    assert_eq!(
        c.patch(reg.at(&loc)).body("abc").send().unwrap().status(),
        202
    );
    let r = c.delete(reg.at(&loc)).send().unwrap();
    assert_eq!(r.status(), 204);
    let r = c.get(reg.at(&loc)).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.text().unwrap()), "BLOB_UPLOAD_UNKNOWN");
    // Content that does not match the digest: 400, and nothing stored.
    let wrong = sha256(b"something else");
    let r = c
        .post(reg.at(&format!("/v2/cancel/blobs/uploads/?digest={wrong}")))
        .body("actual")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.text().unwrap()), "DIGEST_INVALID");
    assert_eq!(get_blob(&c, &reg, "cancel", &wrong).0, 404);
    assert_eq!(get_blob(&c, &reg, "cancel", &sha256(b"actual")).0, 404);
    let loc = start_upload(&c, &reg, "cancel");
    let r = c
        .put(reg.at(&format!("{loc}?digest={wrong}")))
        .body("actual")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.text().unwrap()), "DIGEST_INVALID");
    // PUT without a digest.
    let loc = start_upload(&c, &reg, "cancel");
    let r = c.put(reg.at(&loc)).body("x").send().unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.text().unwrap()), "DIGEST_INVALID");
}

#[test]
fn range_requests() {
    let reg = Registry::start();
    let c = client();
    let blob: Vec<u8> = (0..2048u32).map(|i| (i * 7 % 256) as u8).collect();
    let d = push_blob(&c, &reg.url, "range", &blob);
    let url = reg.at(&format!("/v2/range/blobs/{d}"));
    for (range, start, end) in [
        ("bytes=500-1499", 500, 1499),
        ("bytes=500-", 500, 2047),
        ("bytes=-500", 1548, 2047),
        ("bytes=2000-5000", 2000, 2047),
    ] {
        let r = c.get(&url).header("Range", range).send().unwrap();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            header(&r, "Content-Range"),
            format!("bytes {start}-{end}/2048")
        );
        assert_eq!(header(&r, "Content-Length"), (end - start + 1).to_string());
        assert_eq!(r.bytes().unwrap().as_ref(), &blob[start..=end], "{range}");
    }
    for range in ["bytes=500-0", "bytes=5000-10000"] {
        let r = c.get(&url).header("Range", range).send().unwrap();
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(header(&r, "Content-Range"), "bytes */2048");
    }
}

#[test]
fn cross_repository_mounts() {
    let reg = Registry::start();
    let c = client();
    let blob = b"mount me".to_vec();
    let d = push_blob(&c, &reg.url, "src", &blob);
    let r = c
        .post(reg.at(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "Location"), format!("/v2/dst/blobs/{d}"));
    assert_eq!(get_blob(&c, &reg, "dst", &d), (200, blob.clone()));
    // Without `from`: found through the content index.
    let r = c
        .post(reg.at(&format!("/v2/auto/blobs/uploads/?mount={d}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(get_blob(&c, &reg, "auto", &d), (200, blob));
    // A blob the source does not hold: a usable upload session instead.
    let missing = sha256(b"not anywhere");
    for query in [
        format!("mount={missing}&from=src"),
        format!("mount={missing}"),
    ] {
        let r = c
            .post(reg.at(&format!("/v2/dst/blobs/uploads/?{query}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 202, "{query}");
        let loc = header(&r, "Location");
        assert!(loc.starts_with("/v2/dst/blobs/uploads/"), "{loc}");
        let r = c
            .put(reg.at(&format!("{loc}?digest={}", sha256(b"late"))))
            .body("late")
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // Deleting a blob everywhere makes it unmountable without `from`.
    let lonely = push_blob(&c, &reg.url, "solo", b"lonely");
    let r = c
        .delete(reg.at(&format!("/v2/solo/blobs/{lonely}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .post(reg.at(&format!("/v2/other/blobs/uploads/?mount={lonely}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
}

#[test]
fn manifests_by_tag_and_digest() {
    let reg = Registry::start();
    let c = client();
    let (digest, manifest) = push_image(&c, &reg.url, "img", "v1", "a");
    for reference in ["v1", digest.as_str()] {
        let r = c
            .get(reg.at(&format!("/v2/img/manifests/{reference}")))
            .header("Accept", media::MANIFEST)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "Content-Type"), media::MANIFEST);
        assert_eq!(header(&r, "Docker-Content-Digest"), digest);
        assert_eq!(r.bytes().unwrap().as_ref(), manifest.as_slice());
        let r = c
            .head(reg.at(&format!("/v2/img/manifests/{reference}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "Content-Length"), manifest.len().to_string());
    }
    // Missing manifests, including an invalid tag on a read.
    for reference in [".INVALID_MANIFEST_NAME", "missing", &sha256(b"nope")] {
        let r = c
            .get(reg.at(&format!("/v2/img/manifests/{reference}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{reference}");
        assert_eq!(error_code(&r.text().unwrap()), "MANIFEST_UNKNOWN");
    }
    let r = c
        .head(reg.at("/v2/img/manifests/.INVALID_MANIFEST_NAME"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    // PUT by digest: the URL digest must match; a malformed one is 400.
    let r = c
        .put(reg.at("/v2/img/manifests/sha256:baddigeststring"))
        .header("Content-Type", media::MANIFEST)
        .body(manifest.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.text().unwrap()), "DIGEST_INVALID");
    let mut spaced = manifest.clone();
    spaced.extend_from_slice(b"  ");
    let r = c
        .put(reg.at(&format!("/v2/img/manifests/{digest}")))
        .header("Content-Type", media::MANIFEST)
        .body(spaced)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.text().unwrap()), "DIGEST_INVALID");
    // Chunked transfer, pushed by digest.
    let r = c
        .put(reg.at(&format!("/v2/img/manifests/{digest}")))
        .header("Content-Type", media::MANIFEST)
        .body(streamed(&manifest))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "Location"),
        format!("/v2/img/manifests/{digest}")
    );
}

#[test]
fn manifest_validation() {
    let reg = Registry::start();
    let c = client();
    let config = br#"{"architecture":"amd64"}"#;
    push_blob(&c, &reg.url, "val", config);
    // A layer that was never pushed.
    let m = image_manifest(config, &[b"never pushed"], json!({}));
    let r = c
        .put(reg.at("/v2/val/manifests/broken"))
        .header("Content-Type", media::MANIFEST)
        .body(m)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(
        body["errors"][0]["detail"]["digest"],
        sha256(b"never pushed")
    );
    // Non-distributable layers need not be pushed; unknown fields and `data` are kept as sent.
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": media::MANIFEST,
        "config": {"mediaType": media::CONFIG, "digest": sha256(config), "size": config.len(),
                   "data": "eyJhcmNoaXRlY3R1cmUiOiJhbWQ2NCJ9", "newUnspecifiedField": null},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                    "digest": sha256(b"foreign"), "size": 123456, "urls": ["https://example.com/l"]}],
        "org.example.custom": "kept",
    }))
    .unwrap();
    put_manifest(&c, &reg.url, "val", "foreign", media::MANIFEST, &m);
    let r = c.get(reg.at("/v2/val/manifests/foreign")).send().unwrap();
    assert_eq!(r.bytes().unwrap().as_ref(), m.as_slice());
    // No mediaType in the document: the Content-Type decides.
    let bare = serde_json::to_vec(&json!({"schemaVersion": 2,
        "config": descriptor(media::CONFIG, config), "layers": []}))
    .unwrap();
    put_manifest(&c, &reg.url, "val", "bare", media::MANIFEST, &bare);
    let r = c.get(reg.at("/v2/val/manifests/bare")).send().unwrap();
    assert_eq!(header(&r, "Content-Type"), media::MANIFEST);
    // mediaType contradicting Content-Type, bad JSON, wrong schemaVersion.
    for (ct, body) in [
        (media::INDEX, bare.clone()),
        (media::MANIFEST, b"{not json".to_vec()),
        (
            media::MANIFEST,
            br#"{"schemaVersion":1,"config":{}}"#.to_vec(),
        ),
    ] {
        let r = c
            .put(reg.at("/v2/val/manifests/bad"))
            .header("Content-Type", ct)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(&r.text().unwrap()), "MANIFEST_INVALID");
    }
    // An index whose child is missing, then present.
    let (child, child_bytes) = push_image(&c, &reg.url, "val", "child", "c");
    let index = |d: &str, size: usize| {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": media::INDEX,
            "manifests": [{"mediaType": media::MANIFEST, "digest": d, "size": size,
                           "platform": {"architecture": "amd64", "os": "linux"}}]}))
        .unwrap()
    };
    let r = c
        .put(reg.at("/v2/val/manifests/idx"))
        .header("Content-Type", media::INDEX)
        .body(index(&sha256(b"no child"), 5))
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.text().unwrap()), "MANIFEST_BLOB_UNKNOWN");
    put_manifest(
        &c,
        &reg.url,
        "val",
        "idx",
        media::INDEX,
        &index(&child, child_bytes.len()),
    );
    // An empty index and a Docker manifest list.
    let empty = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    put_manifest(&c, &reg.url, "val", "empty-index", media::INDEX, empty);
    let docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
    let list = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": docker_list,
        "manifests": [{"mediaType": media::MANIFEST, "digest": child, "size": child_bytes.len()}]}))
    .unwrap();
    put_manifest(&c, &reg.url, "val", "docker-list", docker_list, &list);
    let r = c
        .get(reg.at("/v2/val/manifests/docker-list"))
        .send()
        .unwrap();
    assert_eq!(header(&r, "Content-Type"), docker_list);
}

#[test]
fn manifest_size_limit() {
    let reg = Registry::start();
    let c = client();
    let config = b"{}";
    push_blob(&c, &reg.url, "big", config);
    let annotations: serde_json::Map<String, Value> = (0..390)
        .map(|i| {
            (
                format!("org.example.a{i}"),
                Value::String("A".repeat(10_000)),
            )
        })
        .collect();
    let m = image_manifest(config, &[], json!({ "annotations": annotations }));
    assert!(m.len() > 3_900_000 && m.len() < 4 << 20);
    put_manifest(&c, &reg.url, "big", "large", media::MANIFEST, &m);
    let too_big = image_manifest(
        config,
        &[],
        json!({ "annotations": {"x": "A".repeat(5 << 20)} }),
    );
    let r = c
        .put(reg.at("/v2/big/manifests/huge"))
        .header("Content-Type", media::MANIFEST)
        .body(too_big)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(&r.text().unwrap()), "MANIFEST_INVALID");
}

#[test]
fn digest_push_with_tag_parameters_and_sha512_manifests() {
    let reg = Registry::start();
    let c = client();
    let (_, manifest) = push_image(&c, &reg.url, "tp", "base", "t");
    let d = sha256(&manifest);
    let r = c
        .put(reg.at(&format!("/v2/tp/manifests/{d}?tag=a&tag=b&tag=a")))
        .header("Content-Type", media::MANIFEST)
        .body(manifest.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let tags: Vec<&str> = r
        .headers()
        .get_all("OCI-Tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(tags, ["a", "b"]);
    let list: Value = c
        .get(reg.at("/v2/tp/tags/list"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list["tags"], json!(["a", "b", "base"]));
    let r = c
        .put(reg.at(&format!("/v2/tp/manifests/{d}?tag=-bad")))
        .header("Content-Type", media::MANIFEST)
        .body(manifest.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // The same manifest addressed by its sha512 digest.
    let d512 = sha512(&manifest);
    put_manifest(&c, &reg.url, "tp", &d512, media::MANIFEST, &manifest);
    let r = c
        .get(reg.at(&format!("/v2/tp/manifests/{d512}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "Docker-Content-Digest"), d512);
    assert_eq!(r.bytes().unwrap().as_ref(), manifest.as_slice());
}

#[test]
fn referrers_api() {
    let reg = Registry::start();
    let c = client();
    let repo = "refs";
    let (subject, subject_bytes) = push_image(&c, &reg.url, repo, "tagtest0", "subject");
    let empty = push_blob(&c, &reg.url, repo, b"{}");
    assert_eq!(
        empty,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let (type_a, type_b) = (
        "application/vnd.nhl.peanut.butter.bagel",
        "application/vnd.nba.strawberry.jam.croissant",
    );
    push_blob(&c, &reg.url, repo, b"blob a");
    push_blob(&c, &reg.url, repo, b"blob b");
    let subject_desc =
        json!({"mediaType": media::MANIFEST, "digest": subject, "size": subject_bytes.len()});
    let annotated = |note: &str| json!({"org.opencontainers.conformance.test": note});
    let referrer =
        |config: Value, layers: Value, artifact: Option<&str>, note: &str, subject: &Value| {
            let mut m = json!({"schemaVersion": 2, "mediaType": media::MANIFEST, "config": config,
            "layers": layers, "subject": subject, "annotations": annotated(note)});
            if let Some(t) = artifact {
                m["artifactType"] = json!(t);
            }
            serde_json::to_vec(&m).unwrap()
        };
    let empty_desc = descriptor(media::EMPTY, b"{}");
    let push_by_digest = |body: &[u8], ct: &str| {
        let d = sha256(body);
        let r = c
            .put(reg.at(&format!("/v2/{repo}/manifests/{d}")))
            .header("Content-Type", ct)
            .body(body.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        d
    };
    let ref_a_config = referrer(
        descriptor(type_a, b"blob a"),
        json!([empty_desc]),
        None,
        "config a",
        &subject_desc,
    );
    let ref_a_layer = referrer(
        empty_desc.clone(),
        json!([descriptor(type_a, b"blob a")]),
        Some(type_a),
        "layer a",
        &subject_desc,
    );
    let ref_b_config = referrer(
        descriptor(type_b, b"blob b"),
        json!([empty_desc]),
        None,
        "config b",
        &subject_desc,
    );
    let ref_b_layer = referrer(
        empty_desc.clone(),
        json!([descriptor(type_b, b"blob b")]),
        Some(type_b),
        "layer b",
        &subject_desc,
    );
    let absent =
        json!({"mediaType": media::MANIFEST, "digest": sha256(b"missing content"), "size": 123});
    let ref_c = referrer(
        empty_desc.clone(),
        json!([descriptor(type_b, b"blob b")]),
        Some(type_b),
        "c",
        &absent,
    );
    let mut digests = Vec::new();
    for m in [&ref_a_config, &ref_a_layer, &ref_b_config, &ref_b_layer] {
        digests.push(push_by_digest(m, media::MANIFEST));
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": media::INDEX,
        "artifactType": "application/vnd.food.stand",
        "manifests": [descriptor(media::MANIFEST, &ref_a_config), descriptor(media::MANIFEST, &ref_a_layer)],
        "subject": subject_desc, "annotations": annotated("index")}))
    .unwrap();
    let r = c
        .put(reg.at(&format!("/v2/{repo}/manifests/{}", sha256(&index))))
        .header("Content-Type", media::INDEX)
        .body(index.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "OCI-Subject"), subject);
    // The subject need not exist; OCI-Subject is answered anyway, also on a tag push.
    let r = c
        .put(reg.at(&format!("/v2/{repo}/manifests/tagged-c")))
        .header("Content-Type", media::MANIFEST)
        .body(ref_c.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "OCI-Subject"), sha256(b"missing content"));

    let get = |digest: &str, query: &str| {
        let r = c
            .get(reg.at(&format!("/v2/{repo}/referrers/{digest}{query}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "Content-Type"), media::INDEX);
        let filtered = header(&r, "OCI-Filters-Applied");
        let body: Value = r.json().unwrap();
        assert_eq!(body["schemaVersion"], 2);
        assert_eq!(body["mediaType"], media::INDEX);
        (body["manifests"].as_array().unwrap().clone(), filtered)
    };
    let (all, filtered) = get(&subject, "");
    assert_eq!(all.len(), 5);
    assert_eq!(filtered, "");
    for entry in &all {
        assert_eq!(
            entry["annotations"].as_object().unwrap().len(),
            1,
            "{entry}"
        );
    }
    let by_digest = |d: &str| all.iter().find(|e| e["digest"] == d).unwrap().clone();
    assert_eq!(
        by_digest(&digests[0])["artifactType"],
        type_a,
        "config media type stands in"
    );
    assert_eq!(by_digest(&digests[1])["artifactType"], type_a);
    assert_eq!(
        by_digest(&sha256(&index))["artifactType"],
        "application/vnd.food.stand"
    );
    assert_eq!(by_digest(&sha256(&index))["size"], index.len());
    let (only_a, filtered) = get(&subject, &format!("?artifactType={type_a}"));
    assert_eq!(filtered, "artifactType");
    let mut found: Vec<&str> = only_a
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    found.sort();
    let mut want = vec![digests[0].as_str(), digests[1].as_str()];
    want.sort();
    assert_eq!(found, want);
    let (missing_subject, _) = get(&sha256(b"missing content"), "");
    assert_eq!(missing_subject.len(), 1);
    assert_eq!(missing_subject[0]["digest"], sha256(&ref_c));
    let (none, _) = get(&sha256(b"hello world"), "");
    assert!(none.is_empty());
    // Deleting a referrer removes it from the list, also after a restart.
    let r = c
        .delete(reg.at(&format!("/v2/{repo}/manifests/{}", digests[0])))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(get(&subject, "").0.len(), 4);
    let reg = reg.restart();
    let r = c
        .get(reg.at(&format!("/v2/{repo}/referrers/{subject}")))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["manifests"].as_array().unwrap().len(), 4);
}

#[test]
fn tags_and_catalog_paging() {
    let reg = Registry::start();
    let c = client();
    let (_, manifest) = push_image(&c, &reg.url, "pages/a", "t0", "p");
    for tag in ["t3", "t1", "t2", "latest"] {
        put_manifest(&c, &reg.url, "pages/a", tag, media::MANIFEST, &manifest);
    }
    let list = |q: &str| {
        let r = c
            .get(reg.at(&format!("/v2/pages/a/tags/list{q}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let link = header(&r, "Link");
        let v: Value = r.json().unwrap();
        assert_eq!(v["name"], "pages/a");
        (v["tags"].clone(), link)
    };
    assert_eq!(list("").0, json!(["latest", "t0", "t1", "t2", "t3"]));
    let (page, link) = list("?n=2");
    assert_eq!(page, json!(["latest", "t0"]));
    assert_eq!(link, "</v2/pages/a/tags/list?n=2&last=t0>; rel=\"next\"");
    let (page, link) = list("?n=2&last=t0");
    assert_eq!(page, json!(["t1", "t2"]));
    assert!(!link.is_empty());
    let (page, link) = list("?n=2&last=t2");
    assert_eq!(page, json!(["t3"]));
    assert_eq!(link, "");
    assert_eq!(list("?last=t1").0, json!(["t2", "t3"]));
    assert_eq!(list("?n=0").0, json!([]));
    let r = c.get(reg.at("/v2/pages/a/tags/list?n=-1")).send().unwrap();
    assert_eq!(r.status(), 400);
    let r = c.get(reg.at("/v2/nothing/here/tags/list")).send().unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.text().unwrap()), "NAME_UNKNOWN");
    for repo in ["pages/b", "pages/c", "zeta"] {
        push_blob(&c, &reg.url, repo, b"x");
    }
    let catalog = |q: &str| {
        let r = c.get(reg.at(&format!("/v2/_catalog{q}"))).send().unwrap();
        assert_eq!(r.status(), 200);
        let link = header(&r, "Link");
        (r.json::<Value>().unwrap()["repositories"].clone(), link)
    };
    assert_eq!(
        catalog("").0,
        json!(["pages/a", "pages/b", "pages/c", "zeta"])
    );
    let (page, link) = catalog("?n=3");
    assert_eq!(page, json!(["pages/a", "pages/b", "pages/c"]));
    assert_eq!(link, "</v2/_catalog?n=3&last=pages%2Fc>; rel=\"next\"");
    assert_eq!(catalog("?n=3&last=pages%2Fc").0, json!(["zeta"]));
    // The catalog is rebuilt from disk at start.
    let reg = reg.restart();
    let r = c.get(reg.at("/v2/_catalog")).send().unwrap();
    assert_eq!(
        r.json::<Value>().unwrap()["repositories"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn deletes() {
    use reqwest::Method;
    let reg = Registry::start();
    let c = client();
    let send = |method: Method, path: &str| c.request(method, reg.at(path)).send().unwrap();
    let status = |method: Method, path: &str| send(method, path).status().as_u16();
    let (digest, manifest) = push_image(&c, &reg.url, "del", "tagtest0", "d");
    put_manifest(&c, &reg.url, "del", "other", media::MANIFEST, &manifest);
    let by_digest = format!("/v2/del/manifests/{digest}");
    // Deleting a tag leaves the manifest.
    assert_eq!(status(Method::DELETE, "/v2/del/manifests/tagtest0"), 202);
    assert_eq!(status(Method::HEAD, "/v2/del/manifests/tagtest0"), 404);
    assert_eq!(status(Method::HEAD, &by_digest), 200);
    assert_eq!(status(Method::DELETE, "/v2/del/manifests/tagtest0"), 404);
    // Deleting by digest removes every tag on it.
    assert_eq!(status(Method::DELETE, &by_digest), 202);
    assert_eq!(status(Method::GET, &by_digest), 404);
    let list: Value = send(Method::GET, "/v2/del/tags/list").json().unwrap();
    assert_eq!(list["tags"], json!([]));
    assert_eq!(status(Method::DELETE, &by_digest), 404);
    // Blobs: found once (and remembered), then deleted: no longer found.
    let b = push_blob(&c, &reg.url, "del", b"blob to delete");
    let blob = format!("/v2/del/blobs/{b}");
    assert_eq!(status(Method::HEAD, &blob), 200);
    assert_eq!(status(Method::DELETE, &blob), 202);
    assert_eq!(status(Method::HEAD, &blob), 404);
    let r = send(Method::DELETE, &blob);
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.text().unwrap()), "BLOB_UNKNOWN");
    // Methods a route does not have.
    let r = send(Method::POST, "/v2/del/tags/list");
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(&r.text().unwrap()), "UNSUPPORTED");
}

#[test]
fn upload_sessions_survive_a_restart() {
    let reg = Registry::start();
    let c = client();
    let blob: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let loc = start_upload(&c, &reg, "restart");
    let r = c
        .patch(reg.at(&loc))
        .header("Content-Range", "0-99999")
        .body(blob[..100_000].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let mut reg = reg.restart();
    let r = c.get(reg.at(&loc)).send().unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "Range"), "0-99999");
    let r = c
        .patch(reg.at(&loc))
        .header("Content-Range", "100000-199999")
        .body(blob[100_000..200_000].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    reg = reg.restart();
    let r = c
        .put(reg.at(&format!("{loc}?digest={}", sha256(&blob))))
        .body(blob[200_000..].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(get_blob(&c, &reg, "restart", &sha256(&blob)).1, blob);
}

/// `index.json` once it lists `entries` manifests (it is folded from the journal within
/// seconds of the last change).
fn settled_index(path: &std::path::Path, entries: usize) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let index: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        if index["manifests"].as_array().map(Vec::len) == Some(entries)
            || std::time::Instant::now() > deadline
        {
            return index;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn concurrent_pushes_of_one_blob_and_one_tag() {
    let reg = Registry::start();
    let blob = vec![42u8; 1 << 20];
    let url = reg.url.clone();
    std::thread::scope(|s| {
        for i in 0..8 {
            let (url, blob) = (url.clone(), blob.clone());
            s.spawn(move || {
                let c = client();
                push_blob(&c, &url, if i % 2 == 0 { "same" } else { "same2" }, &blob);
                push_image(&c, &url, "same", "latest", &format!("seed{i}"));
            });
        }
    });
    let c = client();
    assert_eq!(get_blob(&c, &reg, "same", &sha256(&blob)).1, blob);
    let r = c.get(reg.at("/v2/same/manifests/latest")).send().unwrap();
    assert_eq!(r.status(), 200);
    // index.json is written whole shortly after the last change (the journal has it before).
    let index = settled_index(&reg.root.join("same/index.json"), 8);
    let tagged = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "latest")
        .count();
    assert_eq!(tagged, 1);
    assert_eq!(
        index["manifests"].as_array().unwrap().len(),
        8,
        "moved-from manifests stay"
    );
    // Dedupe: both repositories share one inode for the blob.
    use std::os::unix::fs::MetadataExt;
    let hex = &sha256(&blob)[7..];
    let a = std::fs::metadata(reg.root.join(format!("same/blobs/sha256/{hex}"))).unwrap();
    let b = std::fs::metadata(reg.root.join(format!("same2/blobs/sha256/{hex}"))).unwrap();
    assert_eq!(a.ino(), b.ino());
}

/// The `portcullis_blob_sendfile_bytes` metric.
fn sendfile_bytes(reg: &Registry) -> u64 {
    let text = reg.metrics();
    text.lines()
        .find_map(|l| l.strip_prefix("portcullis_blob_sendfile_bytes_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sendfile metric in {text}"))
}

#[test]
fn plain_http1_pulls_are_sent_from_the_file_and_http2_pulls_copied() {
    let setup = Setup::new();
    let config = setup.config(json!({
        "extensions": {"metrics": {"enable": true, "prometheus": {"path": "/metrics"}}},
    }));
    let reg = setup.start(config);
    let c = client();
    // Larger than one window, not a multiple of the page size.
    let blob: Vec<u8> = (0..(9u32 << 20) + 4321).map(|i| (i % 253) as u8).collect();
    let digest = push_blob(&c, &reg.url, "zero/copy", &blob);
    let before = sendfile_bytes(&reg);
    assert!(
        get_blob(&c, &reg, "zero/copy", &digest).1 == blob,
        "full pull"
    );
    let r = c
        .get(reg.at(&format!("/v2/zero/copy/blobs/{digest}")))
        .header("Range", "bytes=5000-8399999")
        .send()
        .unwrap();
    assert_eq!(r.status(), 206);
    assert!(
        r.bytes().unwrap()[..] == blob[5000..8_400_000],
        "ranged pull"
    );
    assert_eq!(
        sendfile_bytes(&reg) - before,
        blob.len() as u64 + 8_395_000,
        "both bodies went out by sendfile"
    );
    if portcullis_tests::require("curl") {
        let out = std::process::Command::new("curl")
            .args(["-sf", "--http2-prior-knowledge"])
            .arg(reg.at(&format!("/v2/zero/copy/blobs/{digest}")))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(out.stdout == blob, "HTTP/2 pull");
    }
}

#[test]
fn a_graceful_stop_leaves_complete_index_files() {
    let mut reg = Registry::start();
    let c = client();
    let (digest, _) = push_image(&c, &reg.url, "stop/app", "v1", "stop");
    reg.stop();
    let repo = reg.root.join("stop/app");
    let index: Value =
        serde_json::from_slice(&std::fs::read(repo.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    assert!(
        !repo.join(".index-journal").exists(),
        "the journal was folded into index.json"
    );
}

#[test]
fn serves_an_existing_oci_layout_in_place() {
    let setup = Setup::new();
    let root = setup.path().join("root");
    let repo = root.join("existing/app");
    let write = |digest: &str, bytes: &[u8]| {
        let (alg, hex) = digest.split_once(':').unwrap();
        std::fs::create_dir_all(repo.join("blobs").join(alg)).unwrap();
        std::fs::write(repo.join("blobs").join(alg).join(hex), bytes).unwrap();
    };
    let config = br#"{"os":"linux"}"#;
    let layer = b"layer";
    write(&sha256(config), config);
    write(&sha256(layer), layer);
    let manifest = image_manifest(config, &[layer], json!({}));
    write(&sha256(&manifest), &manifest);
    std::fs::write(
        repo.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        repo.join("index.json"),
        serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [{
            "mediaType": media::MANIFEST, "digest": sha256(&manifest), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]}))
        .unwrap(),
    )
    .unwrap();
    let config_json = setup.config(json!({}));
    let reg = setup.start(config_json);
    let c = client();
    let r = c
        .get(reg.at("/v2/existing/app/manifests/1.0"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().as_ref(), manifest.as_slice());
    assert_eq!(get_blob(&c, &reg, "existing/app", &sha256(layer)).1, layer);
    let catalog: Value = c
        .get(reg.at("/v2/_catalog"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(catalog["repositories"], json!(["existing/app"]));
}

#[test]
fn garbage_collection_after_delay() {
    let setup = Setup::new();
    let config =
        setup.config(json!({"storage": {"gc": true, "gcDelay": "1s", "gcInterval": "1s"}}));
    let reg = setup.start(config);
    let c = client();
    let (digest, _) = push_image(&c, &reg.url, "gc", "keep", "k");
    let orphan = push_blob(&c, &reg.url, "gc", b"orphan blob");
    let loc = start_upload(&c, &reg, "gc");
    assert_eq!(
        c.patch(reg.at(&loc)).body("stale").send().unwrap().status(),
        202
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // HEAD too: its answer, remembered while the blob was there, must not outlive it.
        let head = c.head(reg.at(&format!("/v2/gc/blobs/{orphan}")));
        let orphan_gone =
            head.send().unwrap().status() == 404 && get_blob(&c, &reg, "gc", &orphan).0 == 404;
        let upload_gone = c.get(reg.at(&loc)).send().unwrap().status() == 404;
        let index_entry = reg
            .root
            .join(format!("_portcullis/blobs/sha256/{}", &orphan[7..]));
        if orphan_gone && upload_gone && !index_entry.exists() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "gc did not collect");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let r = c.get(reg.at("/v2/gc/manifests/keep")).send().unwrap();
    assert_eq!(r.status(), 200);
    let m: Value = r.json().unwrap();
    for d in std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap()) {
        assert_eq!(
            get_blob(&c, &reg, "gc", d["digest"].as_str().unwrap()).0,
            200
        );
    }
    assert_eq!(
        c.head(reg.at(&format!("/v2/gc/manifests/{digest}")))
            .send()
            .unwrap()
            .status(),
        200
    );
}

#[test]
fn metrics_and_json_logs() {
    let setup = Setup::new();
    let logs = setup.path().join("logs");
    let config = setup.config(json!({
        "extensions": {"metrics": {"enable": true, "prometheus": {"path": "/metrics"}}},
        "log": {"output": logs.join("portcullis.log"), "audit": logs.join("audit.log")},
    }));
    // JSON output goes to the file, so wait for readiness by polling instead of the log line.
    let config_path = setup.path().join("config.json");
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let port = free_port();
    let mut config = config;
    config["http"]["port"] = json!(port.to_string());
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let mut child = std::process::Command::new(portcullis_tests::binary())
        .args(["serve", config_path.to_str().unwrap()])
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = client();
    let ready = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        c.get(format!("{base}/v2/")).send().is_ok()
    });
    assert!(ready);
    push_blob(&c, &base, "logged", b"x");
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        text.contains("portcullis_http_requests_total{method=\"POST\",status=\"201\"} 1"),
        "{text}"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    let main = std::fs::read_to_string(logs.join("portcullis.log")).unwrap();
    let handled: Vec<Value> = main
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["fields"]["message"] == "handled")
        .collect();
    let post = handled
        .iter()
        .find(|v| v["span"]["method"] == "POST")
        .expect("POST logged");
    assert_eq!(post["fields"]["status"], 201);
    assert!(post["span"]["path"]
        .as_str()
        .unwrap()
        .starts_with("/v2/logged/blobs/uploads"));
    assert!(post["fields"]["latency_us"].is_u64());
    let audit = std::fs::read_to_string(logs.join("audit.log")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "only the POST is audited: {audit}");
    assert_eq!(lines[0]["fields"]["method"], "POST");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tls_listener() {
    if !portcullis_tests::require("openssl") || !portcullis_tests::require("curl") {
        return;
    }
    let setup = Setup::new();
    let (cert, key) = (setup.path().join("cert.pem"), setup.path().join("key.pem"));
    let make_cert = |cn: &str| {
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "1",
                "-subj",
                &format!("/CN={cn}"),
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    };
    make_cert("localhost");
    let config = setup.config(json!({"http": {"tls": {"cert": cert, "key": key}}}));
    let reg = setup.start(config);
    let out = std::process::Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code} %{scheme}"])
        .arg(format!("https://{}/v2/", reg.host))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200 HTTPS");
    // A renewed certificate is served to new connections without a restart.
    let served_subject = || {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect {} </dev/null 2>/dev/null | openssl x509 -noout -subject",
                reg.host
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(served_subject().contains("localhost"));
    make_cert("renewed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !served_subject().contains("renewed") {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
fn garbage_collection_removes_crash_leftovers() {
    let setup = Setup::new();
    let config =
        setup.config(json!({"storage": {"gc": true, "gcDelay": "1s", "gcInterval": "1s"}}));
    let reg = setup.start(config);
    let c = client();
    push_image(&c, &reg.url, "left", "v1", "l");
    let leftovers = [
        reg.root
            .join("left/.tmp-00000000-0000-0000-0000-000000000001"),
        reg.root
            .join("left/blobs/sha256/.tmp-00000000-0000-0000-0000-000000000002"),
    ];
    for f in &leftovers {
        std::fs::write(f, b"half written").unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while leftovers.iter().any(|f| f.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "leftovers were not collected"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        c.get(reg.at("/v2/left/manifests/v1"))
            .send()
            .unwrap()
            .status(),
        200
    );
}
