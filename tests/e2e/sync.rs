//! The pull-through cache (zot's `extensions.sync`) against a real upstream: Debian's
//! `docker-registry` (CNCF distribution 2.8) started here — anonymous, with htpasswd, behind
//! token authentication (`tests/oidc/issuer.mjs` as its token service), and over TLS with a
//! test CA. skopeo and podman pull through Portcullis; the upstream's access log counts what
//! was fetched from it.

use portcullis_tests::clients::{Layout, Sandbox};
use portcullis_tests::issuer::{token_service_key, Authority, Issuer, IssuerOptions};
use portcullis_tests::oci::{manifest_digest, media};
use portcullis_tests::scripted::{sha256, Answer, Scripted};
use portcullis_tests::upstream::{Upstream, UpstreamAuth};
use portcullis_tests::{client, htpasswd, require, Registry, Setup};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn tools() -> bool {
    require("docker-registry") && require("skopeo") && require("umoci") && require("jq")
}

/// Portcullis with `sync` (merged into an on-demand registry entry for `upstream`) and `extra`.
fn portcullis(upstream: &Upstream, registry: Value, extra: Value) -> Registry {
    let setup = Setup::new();
    let mut entry = json!({"urls": [upstream.url], "onDemand": true, "tlsVerify": false});
    portcullis_tests::merge(&mut entry, registry);
    let mut config = setup.config(json!({"extensions": {"sync": {"registries": [entry]}}}));
    portcullis_tests::merge(&mut config, extra);
    setup.start(config)
}

/// Copy `tag` of `images` to `repo:dest_tag` on the upstream.
fn seed(
    sandbox: &Sandbox,
    images: &Layout,
    tag: &str,
    upstream: &Upstream,
    dest: &str,
    creds: Option<&str>,
) {
    let target = format!("docker://{}/{dest}", upstream.host);
    let mut args = vec!["copy", "--all", "--dest-tls-verify=false"];
    if let Some(creds) = creds {
        args.extend(["--dest-creds", creds]);
    }
    let source = images.reference(tag);
    args.extend([source.as_str(), target.as_str()]);
    sandbox.skopeo(&args);
}

fn status(reg: &Registry, path: &str) -> u16 {
    client().get(reg.at(path)).send().unwrap().status().as_u16()
}

#[test]
fn pulls_through_an_anonymous_upstream() {
    if !tools() {
        return;
    }
    let mut upstream = Upstream::start(UpstreamAuth::Anonymous, None);
    let reg = portcullis(
        &upstream,
        json!({"content": [
            {"prefix": "library/**"},
            {"prefix": "/team/tool", "destination": "/tools/tool", "stripPrefix": true,
             "tags": {"regex": "^4\\."}},
        ]}),
        json!({"extensions": {"metrics": {"enable": true}}}),
    );
    let sandbox = Sandbox::new(&reg);
    let images = sandbox.build_images("images");
    for (tag, dest) in [
        ("v1", "library/app:v1"),
        ("v1-arm64", "library/app:v2"),
        ("multi", "library/app:multi"),
        ("v1", "team/tool:4.1.0"),
        ("v1", "team/tool:latest"),
        ("v1", "other/app:v1"),
    ] {
        seed(&sandbox, &images, tag, &upstream, dest, None);
    }

    // skopeo pulls an image and a multi-arch index it has never seen; the digests are the
    // upstream's.
    let pulled = sandbox.join("pulled");
    sandbox.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/library/app:v1", reg.host),
        &format!("oci:{}:v1", pulled.display()),
    ]);
    assert_eq!(
        manifest_digest(&reg, "library/app", "v1"),
        Some(images.digest("v1"))
    );
    sandbox.skopeo(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &format!("docker://{}/library/app:multi", reg.host),
        &format!("oci:{}:multi", pulled.display()),
    ]);
    assert_eq!(
        manifest_digest(&reg, "library/app", "multi"),
        Some(images.digest("multi"))
    );
    // podman too.
    if require("podman") {
        sandbox.podman(&[
            "pull",
            "--tls-verify=false",
            &format!("{}/library/app:v2", reg.host),
        ]);
        assert_eq!(
            manifest_digest(&reg, "library/app", "v2"),
            Some(images.digest("v1-arm64"))
        );
    }

    // destination + stripPrefix; a tag the regex filters out is not found; a name no rule
    // maps never reaches the upstream.
    assert_eq!(
        manifest_digest(&reg, "tools/tool", "4.1.0"),
        Some(images.digest("v1"))
    );
    assert_eq!(manifest_digest(&reg, "tools/tool", "latest"), None);
    assert_eq!(upstream.served("/v2/team/tool/manifests/latest"), 0);
    assert_eq!(status(&reg, "/v2/other/app/manifests/v1"), 404);
    assert_eq!(upstream.served("/v2/other/app/manifests/v1"), 0);

    // Concurrent pulls of one new image share one upstream fetch.
    seed(&sandbox, &images, "v1", &upstream, "library/busy:v1", None);
    let found: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| manifest_digest(&reg, "library/busy", "v1")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        found
            .iter()
            .all(|d| d.as_deref() == Some(images.digest("v1").as_str())),
        "{found:?}"
    );
    assert_eq!(upstream.served("/v2/library/busy/manifests/v1"), 1);

    // The upstream goes away: what is cached is still served, the rest is a prompt 404.
    upstream.stop();
    let started = Instant::now();
    assert_eq!(
        manifest_digest(&reg, "library/app", "v1"),
        Some(images.digest("v1"))
    );
    sandbox.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/library/app:v1", reg.host),
        &format!("oci:{}:again", pulled.display()),
    ]);
    assert_eq!(status(&reg, "/v2/library/app/manifests/never-pushed"), 404);
    assert!(started.elapsed() < Duration::from_secs(60), "no hang");
    let metrics = reg.metrics();
    assert!(
        metrics.contains("portcullis_sync_copies_total{") && metrics.contains("outcome=\"copied\""),
        "{metrics}"
    );
}

#[test]
fn the_gate_decides_before_the_upstream_is_asked() {
    if !tools() {
        return;
    }
    let upstream = Upstream::start(UpstreamAuth::Anonymous, None);
    let setup_users = tempfile::tempdir().unwrap();
    let users = setup_users.path().join("htpasswd");
    std::fs::write(&users, htpasswd(&[("reader", "reader-pw")])).unwrap();
    let reg = portcullis(
        &upstream,
        json!({}),
        json!({"http": {
            "auth": {"htpasswd": {"path": users}},
            "accessControl": {"repositories": {
                "public/**": {"anonymousPolicy": ["read"]},
                "private/**": {"policies": [{"users": ["reader"], "actions": ["read"]}]},
            }},
        }}),
    );
    let sandbox = Sandbox::new(&reg);
    let images = sandbox.build_images("images");
    seed(&sandbox, &images, "v1", &upstream, "public/app:v1", None);
    seed(&sandbox, &images, "v1", &upstream, "private/app:v1", None);
    assert_eq!(
        manifest_digest(&reg, "public/app", "v1"),
        Some(images.digest("v1"))
    );
    // Anonymous: refused before any upstream call.
    assert_eq!(status(&reg, "/v2/private/app/manifests/v1"), 401);
    assert_eq!(upstream.served("/v2/private/app/manifests/v1"), 0);
    let r = client()
        .get(reg.at("/v2/private/app/manifests/v1"))
        .header("Accept", media::MANIFEST)
        .basic_auth("reader", Some("reader-pw"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(upstream.served("/v2/private/app/manifests/v1"), 1);
}

#[test]
fn upstream_credentials_basic_and_token() {
    if !tools() || !require("node") || !require("openssl") {
        return;
    }
    let users = tempfile::tempdir().unwrap();
    let passwords = users.path().join("htpasswd");
    std::fs::write(&passwords, htpasswd(&[("up", "up-pw")])).unwrap();
    let (signing_key, certificate) = token_service_key(users.path());
    let tokens = Issuer::start_with(IssuerOptions {
        docker_key: Some(&signing_key),
        token_service: Some((&certificate, Some("up:up-pw"))),
        ..IssuerOptions::default()
    });
    let realm = format!("{}/token", tokens.url);
    let basic = Upstream::start(UpstreamAuth::Htpasswd(&passwords), None);
    let token = Upstream::start(
        UpstreamAuth::Token {
            realm: &realm,
            cert: &certificate,
        },
        None,
    );
    for upstream in [&basic, &token] {
        let credentials = users
            .path()
            .join(format!("credentials-{}.json", upstream.host));
        let write = |password: &str| {
            std::fs::write(
                &credentials,
                json!({ upstream.host.clone(): {"username": "up", "password": password} })
                    .to_string(),
            )
            .unwrap();
        };
        write("wrong");
        let refused = portcullis(
            upstream,
            json!({}),
            json!({"extensions": {"sync": {"credentialsFile": credentials}}}),
        );
        let sandbox = Sandbox::new(&refused);
        let images = sandbox.build_images("images");
        seed(
            &sandbox,
            &images,
            "v1",
            upstream,
            "app:v1",
            Some("up:up-pw"),
        );
        // Wrong credentials: the spec's error, and the log says why.
        assert_eq!(status(&refused, "/v2/app/manifests/v1"), 404);
        assert!(refused.logged("refused"), "{:?}", refused.logs());
        write("up-pw");
        let reg = portcullis(
            upstream,
            json!({}),
            json!({"extensions": {"sync": {"credentialsFile": credentials}}}),
        );
        let pulled = sandbox.join("pulled");
        let issued = tokens.tokens_issued();
        sandbox.skopeo(&[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{}/app:v1", reg.host),
            &format!("oci:{}:v1", pulled.display()),
        ]);
        assert_eq!(
            manifest_digest(&reg, "app", "v1"),
            Some(images.digest("v1"))
        );
        if std::ptr::eq(upstream, &token) {
            assert!(tokens.tokens_issued() > issued, "tokens from the realm");
        }
        // The upstream's password never reaches the log.
        assert!(!reg.logs().iter().any(|l| l.contains("up-pw")));
    }
}

#[test]
fn a_tls_upstream_is_trusted_through_cert_dir() {
    if !tools() || !require("openssl") {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    let authority = Authority::create(pki.path());
    let upstream = Upstream::start(UpstreamAuth::Anonymous, Some(&authority));
    let certs = pki.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(&authority.ca_cert, certs.join("ca.crt")).unwrap();
    let untrusting = portcullis(&upstream, json!({"tlsVerify": true}), json!({}));
    let reg = portcullis(
        &upstream,
        json!({"tlsVerify": true, "certDir": certs}),
        json!({}),
    );
    let sandbox = Sandbox::new(&reg);
    let images = sandbox.build_images("images");
    seed(&sandbox, &images, "v1", &upstream, "app:v1", None);
    assert_eq!(status(&untrusting, "/v2/app/manifests/v1"), 404);
    assert_eq!(
        manifest_digest(&reg, "app", "v1"),
        Some(images.digest("v1"))
    );
}

#[test]
fn periodic_sync_mirrors_new_and_moved_tags() {
    if !tools() {
        return;
    }
    let upstream = Upstream::start(UpstreamAuth::Anonymous, None);
    let reg = portcullis(
        &upstream,
        json!({"onDemand": false, "pollInterval": "1s",
               "content": [{"prefix": "mirror/**", "destination": "/copy"}]}),
        json!({}),
    );
    let sandbox = Sandbox::new(&reg);
    let images = sandbox.build_images("images");
    let wait_for = |reference: &str, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if manifest_digest(&reg, "copy/mirror/app", reference).as_deref() == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "copy/mirror/app:{reference} never became {want}: {:?}",
                reg.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    seed(&sandbox, &images, "v1", &upstream, "mirror/app:v1", None);
    seed(&sandbox, &images, "v1", &upstream, "elsewhere/app:v1", None);
    wait_for("v1", &images.digest("v1"));
    // A new tag appears, and a moved tag follows.
    seed(&sandbox, &images, "multi", &upstream, "mirror/app:v2", None);
    wait_for("v2", &images.digest("multi"));
    seed(
        &sandbox,
        &images,
        "v1-arm64",
        &upstream,
        "mirror/app:v1",
        None,
    );
    wait_for("v1", &images.digest("v1-arm64"));
    // Only what the rules cover; nothing on demand.
    assert_eq!(status(&reg, "/v2/copy/elsewhere/app/manifests/v1"), 404);
    assert_eq!(status(&reg, "/v2/elsewhere/app/manifests/v1"), 404);
}

/// Fire GETs of `paths` at once at a registry whose upstream accepts connections and never
/// answers, so that every fetch holds its place until its deadline (syncTimeout, long enough
/// for all of them to be sent on a loaded machine): at most
/// `bound` are fetched at once, the rest are refused with 503 and `Retry-After` (and the
/// registry serves everyone else meanwhile); once they are over, `later` is fetched again.
fn flood_a_tarpit(paths: Vec<String>, bound: usize, later: &str) {
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", tarpit.local_addr().unwrap());
    let setup = Setup::new();
    let config = setup.config(json!({"extensions": {"sync": {"registries": [
        {"urls": [url], "onDemand": true, "syncTimeout": "8s"},
    ]}}}));
    let reg = setup.start(config);
    let fired = paths.len();
    let statuses: Vec<(u16, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = paths
            .into_iter()
            .map(|path| {
                let reg = &reg;
                s.spawn(move || {
                    let r = client().get(reg.at(&path)).send().unwrap();
                    (r.status().as_u16(), r.headers().contains_key("retry-after"))
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(status(&reg, "/v2/"), 200);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let busy = statuses.iter().filter(|(s, _)| *s == 503).count();
    assert!(
        busy >= fired - bound,
        "at most {bound} fetches at once, {busy} of {fired} refused"
    );
    assert!(
        statuses
            .iter()
            .all(|&(s, retry)| s == 404 || (s == 503 && retry)),
        "{statuses:?}"
    );
    // Finished fetches leave no trace: the next miss is fetched again, not refused.
    assert_eq!(status(&reg, later), 404);
    drop(tarpit);
}

#[test]
fn a_flood_of_misses_holds_a_bounded_number_of_upstream_fetches() {
    let manifests = (0..40).map(|i| format!("/v2/flood/app/manifests/t{i}"));
    flood_a_tarpit(manifests.collect(), 32, "/v2/flood/app/manifests/later");
}

#[test]
fn a_flood_of_blob_misses_holds_a_bounded_number_of_upstream_fetches() {
    let blob = |i: usize| format!("/v2/flood/app/blobs/sha256:{i:064x}");
    flood_a_tarpit((0..300).map(blob).collect(), 256, &blob(1000));
}

#[test]
fn an_endless_manifest_from_upstream_is_cut_at_the_manifest_limit() {
    use std::io::{Read, Write};
    // An upstream that answers every request with a manifest body that never ends.
    let endless = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", endless.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in endless.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n";
                let chunk = format!("{:x}\r\n{}\r\n", 65536, " ".repeat(65536));
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    let setup = Setup::new();
    let config = setup.config(json!({"extensions": {"sync": {"registries": [
        {"urls": [url], "onDemand": true, "syncTimeout": "60s"},
    ]}}}));
    let reg = setup.start(config);
    let started = Instant::now();
    assert_eq!(status(&reg, "/v2/endless/app/manifests/v1"), 404);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "cut at the limit, not at the deadline: {:?}",
        started.elapsed()
    );
    assert!(reg.logged("an answer larger than"), "{:?}", reg.logs());
}

#[test]
fn a_first_pull_streams_while_the_upstream_is_still_sending() {
    use std::io::Read;
    // An upstream that sends the first MiB of a 4 MiB layer and then holds the rest.
    let upstream = Scripted::start();
    let layer: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let config_digest = upstream.blob("slow/app", config, None);
    let layer_digest = upstream.blob("slow/app", &layer, Some(1 << 20));
    let manifest = upstream.image(
        "slow/app",
        "v1",
        (&config_digest, config.len()),
        &[(&layer_digest, layer.len())],
    );
    // A layer whose bytes do not match its digest.
    let claimed = sha256(b"what the manifest promised");
    let mut forged = layer.clone();
    forged[0] ^= 1;
    upstream.answer(
        &format!("/v2/slow/app/blobs/{claimed}"),
        Answer {
            content_type: "application/octet-stream".into(),
            body: forged,
            hold_after: None,
        },
    );
    let setup = Setup::new();
    let config = setup.config(json!({"extensions": {"sync": {"registries": [
        {"urls": [upstream.url], "onDemand": true},
    ]}}}));
    let reg = setup.start(config);

    // The manifest and the first bytes of the layer arrive while the upstream still holds the
    // rest of the layer.
    assert_eq!(
        manifest_digest(&reg, "slow/app", "v1"),
        Some(manifest.clone())
    );
    let mut response = client()
        .get(reg.at(&format!("/v2/slow/app/blobs/{layer_digest}")))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{:#?}", reg.logs());
    assert_eq!(
        response.headers()["content-length"],
        layer.len().to_string().as_str()
    );
    let mut first = vec![0u8; 512 << 10];
    response.read_exact(&mut first).unwrap();
    assert_eq!(first, layer[..first.len()]);
    // A second reader joins the same arrival; a third reads one byte and then stalls, which
    // must hold up neither the others nor the store.
    let mut second = client()
        .get(reg.at(&format!("/v2/slow/app/blobs/{layer_digest}")))
        .send()
        .unwrap();
    let mut stalled = client()
        .get(reg.at(&format!("/v2/slow/app/blobs/{layer_digest}")))
        .send()
        .unwrap();
    stalled.read_exact(&mut [0u8; 1]).unwrap();
    upstream.release();
    let mut rest = Vec::new();
    response.read_to_end(&mut rest).unwrap();
    assert_eq!([first, rest].concat(), layer);
    let mut again = Vec::new();
    second.read_to_end(&mut again).unwrap();
    assert_eq!(again, layer);
    let layer_path = format!("/v2/slow/app/blobs/{layer_digest}");
    assert_eq!(upstream.served(&layer_path), 1, "one upstream fetch");

    // The image is stored, so everything is served locally from now on.
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&reg, "/v2/slow/app/tags/list") != 200 {
        assert!(Instant::now() < deadline, "the image was never stored");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(manifest_digest(&reg, "slow/app", "v1"), Some(manifest));
    let local = client()
        .get(reg.at(&layer_path))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(local.as_ref(), layer.as_slice());
    assert_eq!(upstream.served(&layer_path), 1);
    assert_eq!(upstream.served("/v2/slow/app/manifests/v1"), 1);
    drop(stalled);

    // A forged layer never reaches a reader whole, and is not kept.
    for attempt in 1..=2 {
        let forged = client()
            .get(reg.at(&format!("/v2/slow/app/blobs/{claimed}")))
            .send()
            .unwrap();
        let body = forged.bytes();
        assert!(
            body.as_ref().map_or(true, |b| b.len() < layer.len()),
            "attempt {attempt}: the whole forged blob was served"
        );
        assert_eq!(
            upstream.served(&format!("/v2/slow/app/blobs/{claimed}")),
            attempt
        );
    }
}
