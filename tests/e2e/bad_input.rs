//! Hostile and malformed requests get the spec's errors, and never crash the server.

use portcullis_tests::oci::{error_code, media, push_blob, push_image};
use portcullis_tests::{client, Registry};
use std::io::{Read, Write};

/// Send raw bytes (paths that HTTP libraries would normalise) and return the status line.
fn raw(reg: &Registry, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(&reg.host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_and_code(response: &str) -> (u16, String) {
    let status = response
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (status, code)
}

#[test]
fn malformed_digests_are_400_digest_invalid() {
    let reg = Registry::start();
    let c = client();
    push_blob(&c, &reg.url, "d", b"x");
    for digest in [
        "sha256:abc",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85z",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:",
        "sha256:%2e%2e%2f%2e%2e%2fetc",
        ":abc",
    ] {
        for url in [
            format!("/v2/d/blobs/{digest}"),
            format!("/v2/d/referrers/{digest}"),
            format!("/v2/d/blobs/uploads/?digest={digest}"),
            format!("/v2/d/blobs/uploads/?mount={digest}&from=d"),
        ] {
            let r = if url.contains("uploads") {
                c.post(reg.at(&url)).body("x").send().unwrap()
            } else {
                c.get(reg.at(&url)).send().unwrap()
            };
            assert_eq!(r.status(), 400, "{url}");
            assert_eq!(error_code(&r.text().unwrap()), "DIGEST_INVALID", "{url}");
        }
    }
}

#[test]
fn malformed_names_are_400_name_invalid() {
    let reg = Registry::start();
    let c = client();
    let long = "a".repeat(256);
    for name in [
        "UPPER",
        "a//b",
        "-a",
        "a_",
        "a/.hidden",
        "a%2F..%2Fb",
        long.as_str(),
        "a..b",
    ] {
        let r = c
            .get(reg.at(&format!("/v2/{name}/tags/list")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{name}");
        assert_eq!(error_code(&r.text().unwrap()), "NAME_INVALID", "{name}");
    }
    let r = c.post(reg.at("/v2/ok/blobs/uploads/?mount=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855&from=..")).send().unwrap();
    assert_eq!(r.status(), 400);
    // Traversal attempts that an HTTP library would normalise away, sent raw.
    for path in [
        "/v2/../../etc/tags/list",
        "/v2/a/../../../etc/passwd/manifests/latest",
        "/v2/a/blobs/uploads/../../../../x",
        "/v2//etc/tags/list",
    ] {
        let response = raw(
            &reg,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        let (status, code) = status_and_code(&response);
        assert!(status == 400 || status == 404, "{path}: {response}");
        assert!(
            ["NAME_INVALID", "BLOB_UPLOAD_UNKNOWN", "NOT_FOUND"].contains(&code.as_str()),
            "{path}: {response}"
        );
    }
    assert!(!reg.root.join("etc").exists());
}

#[test]
fn upload_session_ids_are_not_paths() {
    let reg = Registry::start();
    let c = client();
    push_blob(&c, &reg.url, "u", b"x");
    for id in [
        "not-a-uuid",
        "0%2f..",
        "00000000-0000-0000-0000-000000000000",
    ] {
        let r = c
            .get(reg.at(&format!("/v2/u/blobs/uploads/{id}")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{id}");
        assert_eq!(error_code(&r.text().unwrap()), "BLOB_UPLOAD_UNKNOWN");
    }
    // A session belongs to its repository.
    let r = c.post(reg.at("/v2/u/blobs/uploads/")).send().unwrap();
    let loc = r.headers()["Location"].to_str().unwrap().to_owned();
    let id = loc.rsplit('/').next().unwrap();
    let r = c
        .get(reg.at(&format!("/v2/other/blobs/uploads/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[test]
fn malformed_ranges_and_content_ranges() {
    let reg = Registry::start();
    let c = client();
    let r = c.post(reg.at("/v2/r/blobs/uploads/")).send().unwrap();
    let loc = r.headers()["Location"].to_str().unwrap().to_owned();
    for range in ["abc", "5-2", "-", "0-", "x-y"] {
        let r = c
            .patch(reg.at(&loc))
            .header("Content-Range", range)
            .body("hello")
            .send()
            .unwrap();
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(error_code(&r.text().unwrap()), "RANGE_INVALID");
    }
    let r = c.get(reg.at(&loc)).send().unwrap();
    assert_eq!(
        r.headers()["Range"],
        "0-0",
        "rejected chunks left nothing behind"
    );
    let d = push_blob(&c, &reg.url, "r", b"0123456789");
    // An unparseable Range header is ignored (RFC 9110); an unsatisfiable one is 416.
    let r = c
        .get(reg.at(&format!("/v2/r/blobs/{d}")))
        .header("Range", "bytes=x-y")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(reg.at(&format!("/v2/r/blobs/{d}")))
        .header("Range", "bytes=10-")
        .send()
        .unwrap();
    assert_eq!(r.status(), 416);
}

#[test]
fn malformed_manifests_and_pagination() {
    let reg = Registry::start();
    let c = client();
    push_image(&c, &reg.url, "m", "ok", "s");
    for (ct, body) in [
        (media::MANIFEST, "null"),
        (media::MANIFEST, "[]"),
        (
            media::MANIFEST,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
        ),
        (
            media::MANIFEST,
            r#"{"schemaVersion":2,"config":{"mediaType":"x/y","digest":"sha256:zz","size":1}}"#,
        ),
        (
            media::MANIFEST,
            r#"{"schemaVersion":2,"config":{"mediaType":"x/y","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":-1}}"#,
        ),
        ("not a media type", r#"{"schemaVersion":2}"#),
        (media::INDEX, r#"{"schemaVersion":2,"manifests":"nope"}"#),
    ] {
        let r = c
            .put(reg.at("/v2/m/manifests/bad"))
            .header("Content-Type", ct)
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(error_code(&r.text().unwrap()), "MANIFEST_INVALID", "{body}");
    }
    let r = c
        .put(reg.at("/v2/m/manifests/-bad-tag"))
        .header("Content-Type", media::MANIFEST)
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    for q in ["n=abc", "n=-5", "n=99999999999999999999999"] {
        let r = c.get(reg.at(&format!("/v2/_catalog?{q}"))).send().unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(error_code(&r.text().unwrap()), "PAGINATION_NUMBER_INVALID");
    }
    // Nothing of the bad pushes is visible.
    let tags: serde_json::Value = c
        .get(reg.at("/v2/m/tags/list"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["ok"]));
}

#[test]
fn a_storm_of_odd_requests_never_crashes_the_server() {
    let mut reg = Registry::start();
    let c = client();
    push_image(&c, &reg.url, "storm", "latest", "s");
    push_image(&c, &reg.url, "calm", "latest", "c");
    let methods = [
        "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "TRACE",
    ];
    let paths = [
        "/v2/storm/manifests/latest",
        "/v2/storm/blobs/uploads/",
        "/v2/storm/blobs/uploads/x",
        "/v2/storm/referrers/sha256:",
        "/v2/_catalog?n=&last=",
        "/v2/storm/tags/list?n=1&last=%ff",
        "/v2/storm/manifests/sha512:00",
        "/v2/storm/blobs/sha256:",
        "/v2/%00/tags/list",
        "/v2/storm/manifests/latest?tag=%00",
        "/metrics",
        "/v2/storm/blobs/uploads/?mount=&from=",
    ];
    let bodies: [&[u8]; 4] = [
        b"",
        b"{",
        b"\xff\xfe\x00garbage",
        b"{\"schemaVersion\":2,\"mediaType\":\"a/b\"}",
    ];
    let mut n = 0;
    for (i, m) in methods.iter().enumerate() {
        for (j, p) in paths.iter().enumerate() {
            let body = bodies[(i + j) % bodies.len()];
            let request = format!(
                "{m} {p} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Range: {}\r\nRange: bytes={}\r\nConnection: close\r\n\r\n",
                body.len(), ["0-0", "zz", "9-1", ""][j % 4], ["-", "1-0", "0-", ""][i % 4]
            );
            let mut bytes = request.into_bytes();
            bytes.extend_from_slice(body);
            let response = raw(&reg, &String::from_utf8_lossy(&bytes));
            let (status, _) = status_and_code(&response);
            assert!(status > 0 && status < 500, "{m} {p}: {response}");
            n += 1;
        }
    }
    assert_eq!(n, methods.len() * paths.len());
    assert!(reg.is_running());
    assert!(
        !reg.logs().iter().any(|l| l.contains("panicked")),
        "{:?}",
        reg.logs()
    );
    assert_eq!(
        c.get(reg.at("/v2/calm/manifests/latest"))
            .send()
            .unwrap()
            .status(),
        200
    );
}
