//! Attacks on the registry, each at the level where its bug lives: races on tags (held bodies,
//! concurrent pushes), early answers on reused connections, names that would collide with the
//! storage layout, garbage collection racing a push, password guessing, revocation, floods of
//! connections and uploads, slow clients, a full disk, and zot's client conventions.

use base64::Engine as _;
use portcullis_tests::oci::{error_code, image_manifest, manifest_digest, media, sha256};
use portcullis_tests::raw::Raw;
use portcullis_tests::{client, htpasswd, merge, Registry, Setup};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USERS: [(&str, &str); 3] = [
    ("admin", "admin-pw"),
    ("ci", "ci-pw"),
    ("alice", "alice-pw"),
];

/// zot's three-tier policy: anyone reads, `ci` only creates, `admin` does everything.
fn three_tier() -> Value {
    json!({
        "groups": {"ci-group": {"users": ["ci"]}},
        "repositories": {"**": {"anonymousPolicy": ["read"], "policies": [
            {"groups": ["ci-group"], "actions": ["read", "create"]},
            {"users": ["alice"], "actions": ["read", "create", "update", "delete"]}]}},
        "adminPolicy": {"users": ["admin"], "actions": ["read", "create", "update", "delete"]},
    })
}

/// A registry with the three users, `access` as accessControl and `extra` merged in.
fn start(access: Value, extra: Value) -> Registry {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let mut config = setup.config(json!({
        "http": {"realm": "hardening", "auth": {"htpasswd": {"path": file}}, "accessControl": access}
    }));
    merge(&mut config, extra);
    setup.start(config)
}

fn password(user: &str) -> &'static str {
    USERS.iter().find(|(u, _)| *u == user).unwrap().1
}

fn basic(user: &str) -> String {
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password(user)));
    format!("Basic {token}")
}

/// Push an image's blobs as `user`; returns a manifest for them, distinct per `seed`.
fn blobs_and_manifest(c: &Client, reg: &Registry, user: &str, repo: &str, seed: &str) -> Vec<u8> {
    let config = format!(r#"{{"seed":"{seed}"}}"#);
    for blob in [config.as_bytes(), seed.as_bytes()] {
        let r = c
            .post(reg.at(&format!(
                "/v2/{repo}/blobs/uploads/?digest={}",
                sha256(blob)
            )))
            .basic_auth(user, Some(password(user)))
            .body(blob.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "blob as {user}");
    }
    image_manifest(config.as_bytes(), &[seed.as_bytes()], json!({}))
}

fn put_as(c: &Client, reg: &Registry, user: &str, repo: &str, reference: &str, m: &[u8]) -> u16 {
    c.put(reg.at(&format!("/v2/{repo}/manifests/{reference}")))
        .basic_auth(user, Some(password(user)))
        .header("Content-Type", media::MANIFEST)
        .body(m.to_vec())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Start a PUT whose body is held back; returns the connection to finish it on.
fn held_put(reg: &Registry, user: &str, path: &str, body: &[u8]) -> Raw {
    let mut raw = Raw::connect(&reg.host);
    raw.head(
        "PUT",
        path,
        &[
            ("Authorization", &basic(user)),
            ("Content-Type", media::MANIFEST),
            ("Content-Length", &body.len().to_string()),
        ],
    )
    .unwrap();
    raw.send(&body[..10]).unwrap();
    raw
}

#[test]
fn a_create_only_push_cannot_move_a_tag_while_its_body_is_held() {
    let reg = start(three_tier(), json!({}));
    let c = client();
    let mine = blobs_and_manifest(&c, &reg, "ci", "team/app", "ci");
    let admins = blobs_and_manifest(&c, &reg, "admin", "team/app", "admin");
    for (path, tag) in [
        ("/v2/team/app/manifests/prod".to_owned(), "prod"),
        (
            format!("/v2/team/app/manifests/{}?tag=stable", sha256(&mine)),
            "stable",
        ),
    ] {
        // ci starts a push while the tag does not exist (a create), and holds the body…
        let mut held = held_put(&reg, "ci", &path, &mine);
        std::thread::sleep(Duration::from_millis(200));
        // …an admin creates the tag meanwhile…
        assert_eq!(put_as(&c, &reg, "admin", "team/app", tag, &admins), 201);
        // …and ci finishing its push would now move the tag: refused, nothing changes.
        held.send(&mine[10..]).unwrap();
        let r = held.response().expect("an answer");
        assert_eq!(r.status, 403, "{tag}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(error_code(&String::from_utf8_lossy(&r.body)), "DENIED");
        assert_eq!(
            manifest_digest(&reg, "team/app", tag),
            Some(sha256(&admins)),
            "{tag}"
        );
    }
}

#[test]
fn of_many_concurrent_create_only_pushes_to_a_new_tag_exactly_one_wins() {
    let reg = start(three_tier(), json!({}));
    let c = client();
    for (round, query) in [("tag", ""), ("digest", "?tag=fresh-by-digest")] {
        let manifests: Vec<Vec<u8>> = (0..10)
            .map(|i| blobs_and_manifest(&c, &reg, "ci", "race/app", &format!("{round}-{i}")))
            .collect();
        let barrier = std::sync::Barrier::new(manifests.len());
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = manifests
                .iter()
                .map(|m| {
                    let (reg, barrier) = (&reg, &barrier);
                    s.spawn(move || {
                        let c = client();
                        let reference = if query.is_empty() {
                            "fresh".to_owned()
                        } else {
                            format!("{}{query}", sha256(m))
                        };
                        barrier.wait();
                        put_as(&c, reg, "ci", "race/app", &reference, m)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created = statuses.iter().filter(|s| **s == 201).count();
        assert_eq!(created, 1, "{round}: {statuses:?}");
        assert!(
            statuses.iter().all(|s| *s == 201 || *s == 403),
            "{round}: {statuses:?}"
        );
    }
}

#[test]
fn early_answers_leave_the_connection_usable_or_say_it_closes() {
    let reg = start(three_tier(), json!({}));
    // An anonymous push with a small body: 401, then the same connection serves the next
    // request (Go clients do not retry a PATCH on a dead connection).
    let mut raw = Raw::connect(&reg.host);
    let body = vec![b'x'; 5000];
    raw.head(
        "POST",
        "/v2/team/app/blobs/uploads/",
        &[("Content-Length", "5000")],
    )
    .unwrap();
    raw.send(&body).unwrap();
    let r = raw.response().unwrap();
    assert_eq!(r.status, 401);
    raw.head("GET", "/v2/team/app/tags/list", &[]).unwrap();
    let r = raw.response().expect("the connection still serves");
    assert_eq!(r.status, 404);

    // An out-of-order chunk (416) with a body, then the next request on the same connection.
    let c = client();
    let start = c
        .post(reg.at("/v2/team/app/blobs/uploads/"))
        .basic_auth("ci", Some("ci-pw"))
        .send()
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.headers()["Location"].to_str().unwrap().to_owned();
    let mut raw = Raw::connect(&reg.host);
    raw.head(
        "PATCH",
        &location,
        &[
            ("Authorization", &basic("ci")),
            ("Content-Range", "100-199"),
            ("Content-Length", "100"),
        ],
    )
    .unwrap();
    raw.send(&[b'y'; 100]).unwrap();
    assert_eq!(raw.response().unwrap().status, 416);
    raw.head("GET", &location, &[("Authorization", &basic("ci"))])
        .unwrap();
    assert_eq!(
        raw.response().expect("the connection still serves").status,
        204
    );

    // A body too large to drain: the answer says the connection closes.
    let mut raw = Raw::connect(&reg.host);
    raw.head(
        "POST",
        "/v2/team/app/blobs/uploads/",
        &[("Content-Length", "50000000")],
    )
    .unwrap();
    raw.send(&[b'z'; 1 << 16]).unwrap();
    let r = raw.response().unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn names_that_would_land_on_the_storage_layout_are_refused() {
    let reg = start(three_tier(), json!({}));
    let c = client();
    blobs_and_manifest(&c, &reg, "ci", "team/secret", "a");
    for name in [
        "team/secret/blobs",
        "team/secret/blobs/sha256",
        "x/index.json",
        "x/oci-layout",
    ] {
        let r = c
            .post(reg.at(&format!("/v2/{name}/blobs/uploads/")))
            .basic_auth("ci", Some("ci-pw"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{name}");
        let body = r.text().unwrap();
        assert_eq!(error_code(&body), "NAME_INVALID", "{body}");
        assert!(body.contains("storage layout"), "{body}");
    }
    // The planted path never became a repository, and a later push is stored for real.
    let blob = b"the admin's layer";
    let r = c
        .post(reg.at(&format!(
            "/v2/team/secret/blobs/uploads/?digest={}",
            sha256(blob)
        )))
        .basic_auth("admin", Some("admin-pw"))
        .body(blob.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let got = c
        .get(reg.at(&format!("/v2/team/secret/blobs/{}", sha256(blob))))
        .send()
        .unwrap();
    assert_eq!(got.bytes().unwrap().as_ref(), blob);
}

#[test]
fn garbage_collection_skips_a_broken_repository_and_never_takes_what_it_just_acknowledged() {
    let setup = Setup::new();
    let root = setup.path().join("root");
    // A repository another tool left broken: garbage collection must log it and go on.
    std::fs::create_dir_all(root.join("broken/blobs")).unwrap();
    std::fs::write(root.join("broken/index.json"), b"{not json").unwrap();
    std::fs::write(
        root.join("broken/oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let config = setup.config(json!({
        "storage": {"gc": true, "gcDelay": "2s", "gcInterval": "1s"},
    }));
    let reg = setup.start(config);
    let c = client();
    let blob = b"unreferenced, then pushed again";
    let push = || {
        c.post(reg.at(&format!(
            "/v2/gc/app/blobs/uploads/?digest={}",
            sha256(blob)
        )))
        .body(blob.to_vec())
        .send()
        .unwrap()
        .status()
    };
    let head = || {
        c.head(reg.at(&format!("/v2/gc/app/blobs/{}", sha256(blob))))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(push(), 201);
    std::thread::sleep(Duration::from_millis(2500));
    // The blob is older than gcDelay now; pushing it again acknowledges it as new…
    assert_eq!(push(), 201);
    // …so the collections of the next second leave it alone.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(head(), 200, "collected a blob just acknowledged");
    // Unreferenced and old, it goes eventually — despite the broken repository.
    let deadline = Instant::now() + Duration::from_secs(15);
    while head() == 200 {
        assert!(Instant::now() < deadline, "never collected");
        std::thread::sleep(Duration::from_millis(300));
    }
    let logs = reg.logs().join("\n");
    assert!(
        logs.contains("garbage collection skipped a repository"),
        "{logs}"
    );
    assert!(logs.contains("repository=broken"), "{logs}");
}

#[test]
fn failed_logins_are_throttled_and_unknown_users_cost_as_much_as_known_ones() {
    // Cost-10 bcrypt, as htpasswd -B writes by default, so that timing differences show.
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    let hash = bcrypt_hash("right", 10);
    std::fs::write(&file, format!("known:{hash}\nother:{hash}\n")).unwrap();
    let config = setup.config(json!({"http": {"auth": {"htpasswd": {"path": file}},
        "accessControl": {"repositories": {"**": {"defaultPolicy": ["read"]}}}}}));
    let reg = setup.start(config);
    let c = client();
    let attempt = |user: &str, pw: &str| {
        let started = Instant::now();
        let r = c
            .get(reg.at("/v2/"))
            .basic_auth(user, Some(pw))
            .send()
            .unwrap();
        (
            r.status().as_u16(),
            started.elapsed(),
            r.headers().get("Retry-After").cloned(),
        )
    };
    let mut known = Duration::ZERO;
    let mut unknown = Duration::ZERO;
    for i in 0..4 {
        let (s, t, _) = attempt("known", &format!("wrong-{i}"));
        assert_eq!(s, 401);
        known += t;
        let (s, t, _) = attempt(&format!("nobody-{i}"), &format!("wrong-{i}"));
        assert_eq!(s, 401);
        unknown += t;
    }
    assert!(
        unknown * 2 > known,
        "an unknown user answers much faster than a wrong password: {unknown:?} vs {known:?}"
    );
    // Keep guessing from this address: the budget runs out, and the registry stops hashing.
    let mut throttled = None;
    for i in 0..30 {
        let (s, t, retry) = attempt("known", &format!("guess-{i}"));
        if s == 429 {
            throttled = Some((t, retry));
            break;
        }
    }
    let (took, retry) = throttled.expect("failures were never throttled");
    assert!(retry.is_some(), "429 says when to retry");
    assert!(
        took < Duration::from_millis(50),
        "a throttled attempt costs no hash: {took:?}"
    );
}

fn bcrypt_hash(password: &str, cost: u32) -> String {
    bcrypt::hash(password, cost).unwrap()
}

#[test]
fn a_bad_htpasswd_line_is_skipped_and_removing_users_revokes_them() {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    let alice = htpasswd(&[("alice", "alice-pw")]);
    let bob = htpasswd(&[("bob", "bob-pw")]);
    std::fs::write(&file, format!("{alice}this line is broken\n{bob}")).unwrap();
    let config = setup.config(json!({"http": {"auth": {"htpasswd": {"path": file}},
        "accessControl": {"repositories": {"**": {"defaultPolicy": ["read"]}}}}}));
    let reg = setup.start(config);
    let c = client();
    let status = |user: &str, pw: &str| {
        c.get(reg.at("/v2/_catalog"))
            .basic_auth(user, Some(pw))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status("alice", "alice-pw"), 200);
    assert_eq!(status("bob", "bob-pw"), 200);
    assert!(
        reg.logs().join("\n").contains("htpasswd line 2"),
        "the bad line is named"
    );
    let wait_for = |user: &str, pw: &str, want: u16| {
        let deadline = Instant::now() + Duration::from_secs(90);
        while status(user, pw) != want {
            assert!(Instant::now() < deadline, "{user} never got {want}");
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    // Remove bob (a malformed line still in the file): bob stops working.
    std::fs::write(&file, format!("{alice}still broken\n")).unwrap();
    wait_for("bob", "bob-pw", 401);
    // Delete the file: nobody logs in any more.
    std::fs::remove_file(&file).unwrap();
    wait_for("alice", "alice-pw", 401);
}

#[test]
fn connections_are_capped_and_idle_or_slow_ones_are_closed() {
    let reg = start(
        three_tier(),
        json!({"http": {"maxConnections": 20, "idleTimeout": "1s", "readHeaderTimeout": "1s"}}),
    );
    // Twenty idle connections fill the cap; the next is told 503 and closed.
    let idle: Vec<Raw> = (0..20).map(|_| Raw::connect(&reg.host)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = Raw::connect(&reg.host);
    over.head("GET", "/v2/", &[]).unwrap();
    let r = over.response().expect("an answer, not a hang");
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    // The idle ones are closed after the idle timeout, and the registry serves again.
    std::thread::sleep(Duration::from_millis(1800));
    for mut conn in idle {
        conn.read_timeout(Duration::from_secs(2));
        assert!(conn.closed(), "an idle connection stayed open");
    }
    let ok = client().get(reg.at("/v2/")).send().unwrap();
    assert_eq!(ok.status(), 200);
    // A head trickled slower than the header timeout is cut.
    let mut slow = Raw::connect(&reg.host);
    slow.send(b"GET /v2/ HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = slow.send(b"Host: x\r\n");
    slow.read_timeout(Duration::from_secs(3));
    assert!(slow.closed(), "a slow head kept its connection");
}

#[test]
fn a_thousand_idle_connections_do_not_starve_anyone() {
    raise_own_fd_limit();
    let reg = start(three_tier(), json!({}));
    let idle: Vec<Raw> = (0..1100).map(|_| Raw::connect(&reg.host)).collect();
    let started = Instant::now();
    let r = client().get(reg.at("/v2/")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
}

fn raise_own_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

#[test]
fn slow_bodies_are_cut_and_a_thousand_slow_uploads_hold_no_thread() {
    raise_own_fd_limit();
    let reg = start(
        three_tier(),
        json!({"http": {"minBodyRate": 1000, "bodyRateWindow": "1s"},
               "storage": {"maxUploads": 2000, "maxUploadsPerRepository": 2000}}),
    );
    let c = client();
    blobs_and_manifest(&c, &reg, "admin", "pull/app", "p");
    // A thousand uploads trickling their bodies.
    let slow: Vec<Raw> = (0..1000)
        .map(|i| {
            let mut raw = Raw::connect(&reg.host);
            raw.head(
                "POST",
                &format!(
                    "/v2/slow/a{i}/blobs/uploads/?digest=sha256:{}",
                    "0".repeat(64)
                ),
                &[
                    ("Authorization", &basic("ci")),
                    ("Content-Length", "1000000"),
                ],
            )
            .unwrap();
            raw.send(b"first bytes").unwrap();
            raw
        })
        .collect();
    // Pulls and logins still go through, promptly.
    for i in 0..20 {
        let started = Instant::now();
        let r = c
            .get(reg.at(&format!("/v2/pull/app/blobs/{}", sha256(b"p"))))
            .basic_auth("alice", Some("alice-pw"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "pull {i}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "pull {i}: {:?}",
            started.elapsed()
        );
    }
    // The trickling bodies are cut for being too slow.
    let mut first = slow.into_iter().next().unwrap();
    first.read_timeout(Duration::from_secs(10));
    let r = first.response().expect("a slow body is answered");
    assert_eq!(r.status, 408, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn blob_size_and_upload_sessions_are_bounded() {
    let reg = start(
        three_tier(),
        json!({"storage": {"maxBlobSize": 1000, "maxUploadsPerRepository": 3, "maxUploads": 5}}),
    );
    let c = client();
    let big = vec![7u8; 2000];
    let r = c
        .post(reg.at(&format!(
            "/v2/size/app/blobs/uploads/?digest={}",
            sha256(&big)
        )))
        .basic_auth("ci", Some("ci-pw"))
        .body(big.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(&r.text().unwrap()), "SIZE_INVALID");
    // Chunked, the limit is checked as bytes arrive.
    let open = |repo: &str| {
        c.post(reg.at(&format!("/v2/{repo}/blobs/uploads/")))
            .basic_auth("ci", Some("ci-pw"))
            .send()
            .unwrap()
    };
    let session = open("size/app");
    let location = session.headers()["Location"].to_str().unwrap().to_owned();
    let r = c
        .patch(reg.at(&location))
        .basic_auth("ci", Some("ci-pw"))
        .body(big)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    // Sessions: three per repository, five in all.
    for _ in 0..2 {
        assert_eq!(open("size/app").status(), 202);
    }
    let r = open("size/app");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("Retry-After"));
    assert_eq!(open("size/other").status(), 202);
    assert_eq!(open("size/third").status(), 202);
    assert_eq!(open("size/fourth").status(), 429);
}

#[test]
fn a_full_disk_answers_507_keeps_serving_reads_and_recovers() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipping: mounting a small tmpfs needs root");
        return;
    }
    let setup = Setup::new();
    let root = setup.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&root)
        .status()
        .unwrap();
    if !mounted.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs"
        );
        eprintln!("skipping: cannot mount a tmpfs here");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _unmount = Unmount(root.clone());
    let config = setup.config(json!({"storage": {"dedupe": false}}));
    let reg = setup.start(config);
    let c = client();
    let small = b"already stored".to_vec();
    portcullis_tests::oci::push_blob(&c, &reg.url, "full/app", &small);
    let huge = vec![1u8; 12 << 20];
    let r = c
        .post(reg.at(&format!(
            "/v2/full/app/blobs/uploads/?digest={}",
            sha256(&huge)
        )))
        .body(huge)
        .send()
        .unwrap();
    assert_eq!(r.status(), 507);
    let body = r.text().unwrap();
    assert!(body.contains("storage is full"), "{body}");
    // Reads keep working; nothing half-written remains in the upload area.
    let got = c
        .get(reg.at(&format!("/v2/full/app/blobs/{}", sha256(&small))))
        .send()
        .unwrap();
    assert_eq!(got.bytes().unwrap().as_ref(), &small[..]);
    let leftovers: u64 = walk_sizes(&root.join("full/app/.uploads"));
    assert_eq!(leftovers, 0, "a failed upload left {leftovers} bytes");
    // The space is usable again at once.
    let fits = vec![2u8; 4 << 20];
    let r = c
        .post(reg.at(&format!(
            "/v2/full/app/blobs/uploads/?digest={}",
            sha256(&fits)
        )))
        .body(fits)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
}

fn walk_sizes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn zot_client_conventions() {
    let reg = start(
        json!({"repositories": {"team/**": {"policies": [{"users": ["alice"], "actions": ["read"]}]}},
               "metrics": {"users": ["admin"], "anonymousPolicy": ["read"]}}),
        json!({"extensions": {"metrics": {"enable": true}}}),
    );
    let c = client();
    // OPTIONS needs no credentials.
    let r = c
        .request(reqwest::Method::OPTIONS, reg.at("/v2/team/x/tags/list"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    // Only metrics are anonymous here: the registry challenges, the metrics answer.
    let r = c.get(reg.at("/v2/team/x/tags/list")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(reg.at("/v2/"))
        .header("Authorization", "Basic Og==")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "empty Basic credentials are anonymous");
    assert!(r.headers().contains_key("WWW-Authenticate"));
    assert_eq!(c.get(reg.at("/metrics")).send().unwrap().status(), 200);
    // The UI header suppresses the challenge.
    let r = c
        .get(reg.at("/v2/"))
        .header("X-ZOT-API-CLIENT", "zot-ui")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!r.headers().contains_key("WWW-Authenticate"));
    // A client-chosen method creates no metric series.
    let _ = c
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            reg.at("/v2/"),
        )
        .send();
    let metrics = reg.metrics();
    assert!(!metrics.contains("BREW"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

#[test]
fn the_audit_log_says_who_did_what_from_where() {
    let setup = Setup::new();
    let audit = setup.path().join("audit.log");
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let config = setup.config(json!({
        "http": {"auth": {"htpasswd": {"path": file}}, "accessControl": three_tier()},
        "log": {"audit": audit},
    }));
    let reg = setup.start(config);
    let c = client();
    let m = blobs_and_manifest(&c, &reg, "ci", "audit/app", "a");
    assert_eq!(put_as(&c, &reg, "ci", "audit/app", "v1", &m), 201);
    assert_eq!(put_as(&c, &reg, "ci", "audit/app", "v1", &m), 403);
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines
            .iter()
            .filter(|l| l["fields"]["method"] == "PUT")
            .count()
            >= 2
        {
            break lines;
        }
        assert!(Instant::now() < deadline, "audit lines missing: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let puts: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["method"] == "PUT")
        .collect();
    let ok = &puts[0]["fields"];
    assert_eq!(ok["identity"], "ci");
    assert_eq!(ok["source"], "htpasswd");
    assert_eq!(ok["client"], "127.0.0.1");
    assert_eq!(ok["repository"], "audit/app");
    assert_eq!(ok["reference"], "v1");
    assert_eq!(ok["digest"], sha256(&m));
    assert_eq!(ok["decision"], "allowed");
    assert_eq!(ok["status"], 201);
    let refused = &puts[1]["fields"];
    assert_eq!(refused["decision"], "denied");
    assert_eq!(refused["status"], 403);
    assert!(
        reg.logs().iter().all(|l| !l.contains("decision=")),
        "audit records stay out of the main log"
    );
}
