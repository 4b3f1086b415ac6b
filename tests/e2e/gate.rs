//! The gate, black-box: zot-format configurations (htpasswd + accessControl) decided by the
//! default wasm plugins, hostile plugins failing closed, and a custom authorizer swapped in
//! while clients keep pulling.

use portcullis_tests::oci::{error_code, media, sha256};
use portcullis_tests::{client, fixture_plugin, htpasswd, start_gated, Registry, Setup, Stop};
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USERS: [(&str, &str); 5] = [
    ("alice", "alice-pw"),
    ("bob", "bob-pw"),
    ("carol", "carol-pw"),
    ("admin", "admin-pw"),
    ("dave", "dave-pw"),
];

/// A registry with the five users and `access` as `http.accessControl`.
fn gated(access: Value, extra: Value) -> Registry {
    start_gated(&USERS, access, extra)
}

fn password(user: &str) -> &'static str {
    USERS
        .iter()
        .find(|(u, _)| *u == user)
        .map(|(_, p)| *p)
        .unwrap()
}

/// Requests as a user (None: anonymous).
struct As<'a> {
    c: &'a Client,
    reg: &'a Registry,
    user: Option<&'a str>,
}

impl<'a> As<'a> {
    fn new(c: &'a Client, reg: &'a Registry, user: Option<&'a str>) -> As<'a> {
        As { c, reg, user }
    }

    fn auth(&self, r: RequestBuilder) -> RequestBuilder {
        match self.user {
            Some(u) => r.basic_auth(u, Some(password(u))),
            None => r,
        }
    }
    fn get(&self, path: &str) -> u16 {
        self.auth(self.c.get(self.reg.at(path)))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }
    fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        body: &[u8],
    ) -> reqwest::blocking::Response {
        self.auth(
            self.c
                .put(self.reg.at(&format!("/v2/{repo}/manifests/{reference}"))),
        )
        .header("Content-Type", media::MANIFEST)
        .body(body.to_vec())
        .send()
        .unwrap()
    }
    fn push_blob(&self, repo: &str, bytes: &[u8]) -> u16 {
        self.auth(self.c.post(self.reg.at(&format!(
            "/v2/{repo}/blobs/uploads/?digest={}",
            sha256(bytes)
        ))))
        .body(bytes.to_vec())
        .send()
        .unwrap()
        .status()
        .as_u16()
    }
    fn delete(&self, path: &str) -> reqwest::blocking::Response {
        self.auth(self.c.delete(self.reg.at(path))).send().unwrap()
    }
}

/// Push an image as admin (who may do everything in these configs).
fn seed(reg: &Registry, repo: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
    let c = client();
    let config = format!(r#"{{"seed":"{seed}"}}"#);
    for blob in [config.as_bytes(), seed.as_bytes()] {
        let r = c
            .post(reg.at(&format!(
                "/v2/{repo}/blobs/uploads/?digest={}",
                sha256(blob)
            )))
            .basic_auth("admin", Some("admin-pw"))
            .body(blob.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "seed blob");
    }
    let m = portcullis_tests::oci::image_manifest(config.as_bytes(), &[seed.as_bytes()], json!({}));
    let admin = As {
        c: &c,
        reg,
        user: Some("admin"),
    };
    assert_eq!(
        admin.put_manifest(repo, tag, &m).status(),
        201,
        "seed manifest"
    );
    (sha256(&m), m)
}

fn admin_policy() -> Value {
    json!({"users": ["admin"], "actions": ["read", "create", "update", "delete"]})
}

#[test]
fn anonymous_read_authenticated_push_and_challenges() {
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"], "policies": [{"users": ["alice"], "actions": ["read", "create"]}]}},
               "adminPolicy": admin_policy()}),
        json!({}),
    );
    let c = client();
    seed(&reg, "lib/app", "v1", "a");
    let anon = As::new(&c, &reg, None);
    assert_eq!(anon.get("/v2/lib/app/manifests/v1"), 200);
    // Anonymous push: 401 with the Basic challenge and the spec's error shape.
    let r = c.post(reg.at("/v2/lib/app/blobs/uploads/")).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["WWW-Authenticate"],
        "Basic realm=\"portcullis-test\""
    );
    assert_eq!(error_code(&r.text().unwrap()), "UNAUTHORIZED");
    // Wrong password, unknown user, malformed header: 401.
    for r in [
        c.get(reg.at("/v2/lib/app/manifests/v1"))
            .basic_auth("alice", Some("wrong"))
            .send()
            .unwrap(),
        c.get(reg.at("/v2/lib/app/manifests/v1"))
            .basic_auth("mallory", Some("x"))
            .send()
            .unwrap(),
        c.get(reg.at("/v2/lib/app/manifests/v1"))
            .header("Authorization", "Basic !!!")
            .send()
            .unwrap(),
        c.get(reg.at("/v2/lib/app/manifests/v1"))
            .header("Authorization", "Bearer abc")
            .send()
            .unwrap(),
    ] {
        assert_eq!(r.status(), 401);
        assert!(r.headers().contains_key("WWW-Authenticate"));
    }
    // Alice pushes; bob (authenticated, no policy) is denied with 403 and a reason.
    let alice = As::new(&c, &reg, Some("alice"));
    assert_eq!(alice.push_blob("lib/app", b"alice blob"), 201);
    let bob = As::new(&c, &reg, Some("bob"));
    let r = bob
        .auth(c.post(reg.at("/v2/lib/app/blobs/uploads/")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    assert!(body["errors"][0]["detail"]["reason"]
        .as_str()
        .unwrap()
        .contains("bob"));
    // Anonymous rights are not inherited: bob may not even read.
    assert_eq!(bob.get("/v2/lib/app/manifests/v1"), 403);
}

#[test]
fn longest_pattern_wins_without_fallback_and_ties_are_deterministic() {
    let reg = gated(
        json!({"repositories": {
            "**": {"defaultPolicy": ["read"]},
            "team/**": {"policies": [{"users": ["alice"], "actions": ["read", "create"]}]},
            "a/*": {"policies": [{"users": ["alice"], "actions": ["read"]}]},
            "*/b": {"policies": [{"users": ["bob"], "actions": ["read"]}]},
        }, "adminPolicy": admin_policy()}),
        json!({}),
    );
    let c = client();
    seed(&reg, "team/x", "v1", "t");
    seed(&reg, "other/x", "v1", "o");
    seed(&reg, "team", "v1", "root");
    seed(&reg, "a/b", "v1", "ab");
    let (alice, bob) = (
        As::new(&c, &reg, Some("alice")),
        As::new(&c, &reg, Some("bob")),
    );
    assert_eq!(alice.push_blob("team/x", b"ok"), 201);
    assert_eq!(alice.push_blob("other/x", b"no"), 403);
    assert_eq!(bob.get("/v2/other/x/manifests/v1"), 200, "** default read");
    assert_eq!(
        bob.get("/v2/team/x/manifests/v1"),
        403,
        "team/** has no default: no fallback to **"
    );
    assert_eq!(
        bob.get("/v2/team/manifests/v1"),
        403,
        "team/** also matches team itself"
    );
    assert_eq!(alice.get("/v2/team/manifests/v1"), 200);
    // a/* and */b are equally long; the lexicographically smaller pattern (*/b) decides.
    assert_eq!(bob.get("/v2/a/b/manifests/v1"), 200);
    assert_eq!(alice.get("/v2/a/b/manifests/v1"), 403);
}

#[test]
fn groups_create_only_users_cannot_overwrite_or_delete() {
    let reg = gated(
        json!({"groups": {"ci": {"users": ["carol"]}},
               "repositories": {"**": {"anonymousPolicy": ["read"], "policies": [{"groups": ["ci"], "actions": ["read", "create"]}]}},
               "adminPolicy": admin_policy()}),
        json!({}),
    );
    let c = client();
    let (old_digest, _) = seed(&reg, "app", "v1", "old");
    let carol = As::new(&c, &reg, Some("carol"));
    // A new tag: create.
    let config = br#"{"seed":"new"}"#;
    assert_eq!(carol.push_blob("app", config), 201);
    assert_eq!(carol.push_blob("app", b"new layer"), 201);
    let m = portcullis_tests::oci::image_manifest(config, &[b"new layer"], json!({}));
    assert_eq!(carol.put_manifest("app", "v2", &m).status(), 201);
    // Overwriting an existing tag is update: refused, and the tag keeps its manifest.
    let r = carol.put_manifest("app", "v1", &m);
    assert_eq!(r.status(), 403);
    let r = c.get(reg.at("/v2/app/manifests/v1")).send().unwrap();
    assert_eq!(r.headers()["Docker-Content-Digest"], old_digest.as_str());
    // The same through a digest push with ?tag=: existing tag refused, new tag allowed.
    let d = sha256(&m);
    assert_eq!(
        carol
            .put_manifest("app", &format!("{d}?tag=v1"), &m)
            .status(),
        403
    );
    assert_eq!(
        carol
            .put_manifest("app", &format!("{d}?tag=v3"), &m)
            .status(),
        201
    );
    // Delete is not granted.
    assert_eq!(carol.delete("/v2/app/manifests/v2").status(), 403);
    assert_eq!(
        carol
            .delete(&format!("/v2/app/blobs/{}", sha256(config)))
            .status(),
        403
    );
}

#[test]
fn admin_policy_applies_everywhere_and_collision_detection_is_not_for_admins() {
    let reg = gated(
        json!({"repositories": {"shared/**": {"policies": [{"users": ["dave"], "actions": ["read", "create", "delete", "detectManifestCollision"]}]}},
               "adminPolicy": admin_policy()}),
        json!({}),
    );
    let c = client();
    let (digest, m) = seed(&reg, "shared/img", "one", "s");
    put_manifest_as(&reg, "admin", "shared/img", "two", &m);
    let dave = As::new(&c, &reg, Some("dave"));
    // Two tags name the manifest: dave's delete by digest is refused with 409.
    let r = dave.delete(&format!("/v2/shared/img/manifests/{digest}"));
    assert_eq!(r.status(), 409);
    assert_eq!(error_code(&r.text().unwrap()), "MANIFEST_INVALID");
    // The admin is never given collision detection: the delete goes through.
    let admin = As::new(&c, &reg, Some("admin"));
    assert_eq!(
        admin
            .delete(&format!("/v2/shared/img/manifests/{digest}"))
            .status(),
        202
    );
    // The admin acts on repositories no pattern matches.
    seed(&reg, "unmatched/repo", "v1", "u");
    assert_eq!(admin.get("/v2/unmatched/repo/manifests/v1"), 200);
    assert_eq!(dave.get("/v2/unmatched/repo/manifests/v1"), 403);
}

fn put_manifest_as(reg: &Registry, user: &str, repo: &str, tag: &str, m: &[u8]) {
    let c = client();
    let who = As::new(&c, reg, Some(user));
    assert_eq!(who.put_manifest(repo, tag, m).status(), 201);
}

#[test]
fn catalog_is_filtered_by_read() {
    let reg = gated(
        json!({"repositories": {
            "public/**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read"]},
            "alice/**": {"policies": [{"users": ["alice"], "actions": ["read"]}]},
        }, "adminPolicy": admin_policy()}),
        json!({}),
    );
    for repo in ["public/a", "alice/b", "secret/c", "public/d"] {
        seed(&reg, repo, "v1", repo);
    }
    let c = client();
    let catalog = |user: Option<&str>, q: &str| -> Value {
        let who = As {
            c: &c,
            reg: &reg,
            user,
        };
        let r = who
            .auth(c.get(reg.at(&format!("/v2/_catalog{q}"))))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().unwrap()["repositories"].clone()
    };
    assert_eq!(catalog(None, ""), json!(["public/a", "public/d"]));
    assert_eq!(
        catalog(Some("alice"), ""),
        json!(["alice/b", "public/a", "public/d"])
    );
    assert_eq!(catalog(Some("bob"), ""), json!(["public/a", "public/d"]));
    assert_eq!(
        catalog(Some("admin"), ""),
        json!(["alice/b", "public/a", "public/d", "secret/c"])
    );
    assert_eq!(
        catalog(Some("alice"), "?n=2"),
        json!(["alice/b", "public/a"])
    );
}

#[test]
fn metrics_are_gated_by_metrics_users() {
    let extra = json!({"extensions": {"metrics": {"enable": true}}});
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"]}}, "metrics": {"users": ["alice"]}, "adminPolicy": admin_policy()}),
        extra.clone(),
    );
    let c = client();
    let (anon, alice, admin) = (
        As::new(&c, &reg, None),
        As::new(&c, &reg, Some("alice")),
        As::new(&c, &reg, Some("admin")),
    );
    assert_eq!(anon.get("/metrics"), 401);
    assert_eq!(alice.get("/metrics"), 200);
    assert_eq!(admin.get("/metrics"), 403, "admins are not metrics users");
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"]}}, "metrics": {"anonymousPolicy": ["read"]}}),
        extra,
    );
    assert_eq!(As::new(&c, &reg, None).get("/metrics"), 200);
}

#[test]
fn base_endpoint_challenges_like_zot() {
    let c = client();
    // No anonymous policy anywhere: anonymous requests are challenged, even on /v2/.
    let reg = gated(
        json!({"repositories": {"**": {"defaultPolicy": ["read"]}}}),
        json!({}),
    );
    assert_eq!(c.get(reg.at("/v2/")).send().unwrap().status(), 401);
    assert_eq!(c.get(reg.at("/v2/_catalog")).send().unwrap().status(), 401);
    assert_eq!(As::new(&c, &reg, Some("bob")).get("/v2/"), 200);
    // Mixed anonymous and authenticated policies: only Docker is challenged on /v2/.
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read", "create"]}}}),
        json!({}),
    );
    assert_eq!(c.get(reg.at("/v2/")).send().unwrap().status(), 200);
    let r = c
        .get(reg.at("/v2/"))
        .header("User-Agent", "docker/27.0.1 go/go1.22")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("WWW-Authenticate"));
}

#[test]
fn fail_delay_slows_failures_only() {
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read"]}}}),
        json!({"http": {"auth": {"failDelay": 1}}}),
    );
    let c = client();
    let started = Instant::now();
    let r = c
        .get(reg.at("/v2/"))
        .basic_auth("alice", Some("nope"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert_eq!(As::new(&c, &reg, Some("alice")).get("/v2/"), 200);
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[test]
fn no_access_control_means_authenticated_users_may_do_everything() {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let config = setup.config(json!({"http": {"auth": {"htpasswd": {"path": file}}}}));
    let reg = setup.start(config);
    let c = client();
    assert_eq!(c.get(reg.at("/v2/")).send().unwrap().status(), 401);
    let bob = As::new(&c, &reg, Some("bob"));
    assert_eq!(bob.push_blob("any/repo", b"x"), 201);
    assert_eq!(
        bob.delete(&format!("/v2/any/repo/blobs/{}", sha256(b"x")))
            .status(),
        202
    );
}

/// A registry whose authenticator chain starts with the hostile fixture, named `name`.
fn hostile(name: &str) -> Registry {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let config = setup.config(json!({
        "http": {"auth": {"htpasswd": {"path": file}},
                 "accessControl": {"repositories": {"**": {"defaultPolicy": ["read", "create"]}}}},
        "plugins": {"authenticators": [
            {"path": fixture_plugin("hostile-authenticator"), "name": name, "timeoutMs": 300, "memoryLimitMb": 32},
            {"builtin": "htpasswd"},
        ]},
    }));
    setup.start(config)
}

#[test]
fn hostile_plugins_fail_closed_and_everyone_else_is_served() {
    for (fixture, trigger) in [
        ("loop-authenticator", "loop"),
        ("membomb-authenticator", "bomb"),
        ("panic-authenticator", "panic"),
    ] {
        let reg = hostile(fixture);
        let url = reg.url.clone();
        seed(&reg, "ok/repo", "v1", "x");
        let stop = Stop::new();
        std::thread::scope(|s| {
            let pullers: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        let c = client();
                        let mut n = 0;
                        while stop.running() || n < 20 {
                            let r = c
                                .get(format!("{url}/v2/ok/repo/manifests/v1"))
                                .basic_auth("alice", Some("alice-pw"))
                                .send()
                                .unwrap();
                            assert_eq!(r.status(), 200, "{fixture}: a well-behaved request failed");
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            for _ in 0..3 {
                let started = Instant::now();
                let r = client()
                    .get(format!("{url}/v2/ok/repo/manifests/v1"))
                    .basic_auth(trigger, Some("x"))
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 401, "{fixture}");
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "{fixture} took {:?}",
                    started.elapsed()
                );
            }
            stop.stop();
            for p in pullers {
                assert!(p.join().unwrap() >= 20);
            }
        });
        let name = fixture;
        let logs = reg.logs().join("\n");
        assert!(
            logs.contains(&format!("plugin={name}")) || logs.contains(&format!("plugin {name}")),
            "{fixture}: {logs}"
        );
        assert!(logs.contains("request denied"), "{fixture}: {logs}");
        if fixture == "loop-authenticator" {
            assert!(logs.contains("deadline exceeded"), "{logs}");
        }
    }
}

/// A registry whose authorizer is the hostile fixture (contract 0.2), with a small kv quota.
fn hostile_authorizer() -> Registry {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let config = setup.config(json!({
        "http": {"auth": {"htpasswd": {"path": file}}},
        "plugins": {
            "authorizer": {"path": fixture_plugin("hostile-authorizer"), "name": "hostile",
                           "timeoutMs": 250, "memoryLimitMb": 32},
            "kvQuotaMb": 1,
            "logLinesPerSecond": 5,
        },
    }));
    setup.start(config)
}

#[test]
fn a_hostile_authorizer_costs_its_own_callers_only() {
    let reg = hostile_authorizer();
    seed(&reg, "ok/repo", "v1", "x");
    let url = reg.url.clone();
    let stop = Stop::new();
    let latencies = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..50)
            .map(|i| {
                let (url, stop, latencies) = (&url, &stop, &latencies);
                s.spawn(move || {
                    let c = client();
                    let mut served = 0;
                    while stop.running() || served < 5 {
                        let path = if i % 5 == 0 {
                            "/v2/"
                        } else {
                            "/v2/ok/repo/manifests/v1"
                        };
                        let started = Instant::now();
                        let r = c
                            .get(format!("{url}{path}"))
                            .basic_auth("alice", Some("alice-pw"))
                            .send()
                            .expect("a well-behaved request lost its connection");
                        assert_eq!(r.status(), 200, "a well-behaved request failed: {path}");
                        latencies.lock().unwrap().push(started.elapsed());
                        served += 1;
                    }
                    served
                })
            })
            .collect();
        let alice = |path: &str| {
            let started = Instant::now();
            let r = client()
                .get(format!("{url}{path}"))
                .basic_auth("alice", Some("alice-pw"))
                .send()
                .expect("the hostile request must be answered, not dropped");
            (r.status().as_u16(), started.elapsed(), r.text().unwrap())
        };
        for round in 0..2 {
            // Printing is allowed (the manifest is just not there): the connection survives.
            let (status, took, _) = alice("/v2/hostile/print/manifests/x");
            assert_eq!(status, 404, "print (round {round})");
            assert!(took < Duration::from_secs(10), "print took {took:?}");
            // 100,000 log lines are cut by the log budget; on a loaded machine the call may
            // also pass its deadline (then it is a denial): either way it is answered promptly
            // and the connection survives.
            let (status, took, body) = alice("/v2/hostile/log-flood/manifests/x");
            assert!(
                status == 404 || (status == 403 && body.contains("the access decision failed")),
                "log-flood (round {round}): {status} {body}"
            );
            assert!(took < Duration::from_secs(10), "log-flood took {took:?}");
            // Flooding the key-value store stops at the quota; the durable writes may take the
            // call past its deadline (then it is a denial): either way it is answered promptly.
            let (status, took, _) = alice("/v2/hostile/kv-flood/manifests/x");
            assert!(
                status == 404 || status == 403,
                "kv-flood (round {round}): {status}"
            );
            assert!(took < Duration::from_secs(10), "kv-flood took {took:?}");
            // Traps, overruns and host-call sleeps are denials, answered promptly.
            for failing in ["panic", "loop", "bomb", "sleep"] {
                let (status, took, body) = alice(&format!("/v2/hostile/{failing}/manifests/x"));
                assert_eq!(status, 403, "{failing} (round {round}): {body}");
                assert!(body.contains("the access decision failed"), "{body}");
                assert!(took < Duration::from_secs(5), "{failing} took {took:?}");
            }
        }
        stop.stop();
        for c in clients {
            assert!(c.join().unwrap() >= 5);
        }
    });
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(
        p99 < Duration::from_secs(2),
        "well-behaved requests saw a latency cliff: p99 {p99:?} over {} requests",
        latencies.len()
    );
    let logs = reg.logs();
    let joined = logs.join("\n");
    assert!(
        joined.contains("hostile authorizer printing line 0 to stdout"),
        "stdout reaches the log"
    );
    assert!(
        joined.contains("suppressed"),
        "floods are cut: {}",
        logs.len()
    );
    let flood_lines = logs
        .iter()
        .filter(|l| l.contains("hostile authorizer"))
        .count();
    assert!(
        flood_lines < 2_000,
        "{flood_lines} plugin lines reached the log"
    );
    let kv = std::fs::metadata(reg.root.join("_portcullis/plugins.redb"))
        .unwrap()
        .len();
    assert!(kv < 16 << 20, "the kv quota bounds the store: {kv} bytes");
}

#[test]
fn a_plugin_built_for_another_contract_version_is_refused_by_name() {
    let setup = Setup::new();
    let config = setup.config(json!({
        "plugins": {"authenticators": [{"path": fixture_plugin("old-contract-authenticator"), "name": "old-one"}]},
        "http": {"accessControl": {"repositories": {"**": {"anonymousPolicy": ["read"]}}}},
    }));
    let path = setup.path().join("config.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let out = std::process::Command::new(portcullis_tests::binary())
        .arg("serve")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin old-one"), "{err}");
    assert!(
        err.contains("portcullis:plugin/authenticator@9.0.0"),
        "{err}"
    );
    assert!(
        err.contains("portcullis:plugin/authenticator@0.1.0"),
        "{err}"
    );
}

#[test]
fn custom_authorizer_swapped_in_while_clients_pull() {
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read", "create", "update", "delete"]}}}),
        json!({}),
    );
    let c = client();
    let (_, m1) = seed_as(&reg, "alice", "app", "v1.0", "one");
    let (_, m2) = seed_as(&reg, "alice", "app", "latest", "two");
    let url = reg.url.clone();
    let stop = Stop::new();
    std::thread::scope(|s| {
        let puller = s.spawn(|| {
            let c = client();
            let mut n = 0u32;
            while stop.running() {
                let r = c
                    .get(format!("{url}/v2/app/manifests/v1.0"))
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 200, "a pull failed during the swap");
                n += 1;
            }
            n
        });
        // Before: alice may move any tag.
        let alice = As::new(&c, &reg, Some("alice"));
        assert_eq!(alice.put_manifest("app", "v1.0", &m2).status(), 201);
        assert_eq!(alice.put_manifest("app", "v1.0", &m1).status(), 201);
        // Swap the authorizer by editing the configuration.
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(&reg.config_path).unwrap()).unwrap();
        config["plugins"] = json!({"authorizer": {"path": fixture_plugin("immutable-tags-authorizer"), "config": {"pattern": "v"}}});
        std::fs::write(
            &reg.config_path,
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = alice.put_manifest("app", "v1.0", &m2);
            if r.status() == 403 {
                let body: Value = r.json().unwrap();
                assert!(body["errors"][0]["detail"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("immutable"));
                break;
            }
            assert_eq!(r.status(), 201);
            alice.put_manifest("app", "v1.0", &m1);
            assert!(
                Instant::now() < deadline,
                "the new authorizer never took over"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Other tags still move; anonymous pulls still work.
        assert_eq!(alice.put_manifest("app", "latest", &m1).status(), 201);
        // A broken configuration leaves the running set serving.
        config["plugins"]["authorizer"]["path"] = json!("/nonexistent/plugin.wasm");
        std::fs::write(
            &reg.config_path,
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(alice.put_manifest("app", "v1.0", &m2).status(), 403);
        stop.stop();
        assert!(puller.join().unwrap() > 10);
    });
    let logs = reg.logs().join("\n");
    assert!(logs.contains("reloaded the plugin set"), "{logs}");
    assert!(logs.contains("reload failed"), "{logs}");
    assert!(logs.contains("/nonexistent/plugin.wasm"), "{logs}");
}

fn seed_as(reg: &Registry, user: &str, repo: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
    let c = client();
    let who = As::new(&c, reg, Some(user));
    let config = format!(r#"{{"seed":"{seed}"}}"#);
    assert_eq!(who.push_blob(repo, config.as_bytes()), 201);
    assert_eq!(who.push_blob(repo, seed.as_bytes()), 201);
    let m = portcullis_tests::oci::image_manifest(config.as_bytes(), &[seed.as_bytes()], json!({}));
    assert_eq!(who.put_manifest(repo, tag, &m).status(), 201);
    (sha256(&m), m)
}

#[test]
fn htpasswd_changes_apply_without_restart() {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&[("alice", "one")])).unwrap();
    let config = setup.config(json!({"http": {"auth": {"htpasswd": {"path": file.clone()}}}}));
    let reg = setup.start(config);
    let c = client();
    let status = |p: &str| {
        c.get(reg.at("/v2/"))
            .basic_auth("alice", Some(p))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status("one"), 200);
    std::fs::write(&file, htpasswd(&[("alice", "two")])).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while status("two") != 200 {
        assert!(
            Instant::now() < deadline,
            "the new htpasswd file was not picked up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        status("one"),
        401,
        "cached credentials are dropped on reload"
    );
}

#[test]
fn compiled_plugins_are_cached_across_restarts() {
    let cache = tempfile::tempdir().unwrap();
    let reg = gated(
        json!({"repositories": {"**": {"anonymousPolicy": ["read"]}}}),
        json!({"plugins": {"cacheDirectory": cache.path()}}),
    );
    let compiled = |reg: &Registry| {
        reg.logs()
            .iter()
            .filter(|l| l.contains("compiled plugin"))
            .count()
    };
    assert_eq!(
        compiled(&reg),
        2,
        "htpasswd and access-control compiled on first start"
    );
    let cached = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(cached, 2);
    let reg = reg.restart();
    assert_eq!(
        compiled(&reg),
        0,
        "a restart loads both from the cache: {:?}",
        reg.logs()
    );
    assert_eq!(client().get(reg.at("/v2/")).send().unwrap().status(), 200);
}

#[test]
fn empty_access_control_denies_everything_but_the_base_and_an_empty_catalog() {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    // Nothing can be pushed under `accessControl: {}`: put a repository on disk first.
    let repo = setup.path().join("root/any");
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::write(
        repo.join("index.json"),
        br#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    let config =
        setup.config(json!({"http": {"auth": {"htpasswd": {"path": file}}, "accessControl": {}}}));
    let reg = setup.start(config);
    let c = client();
    let admin_view = c
        .get(reg.at("/v2/_catalog"))
        .basic_auth("bob", Some("bob-pw"))
        .send()
        .unwrap();
    assert_eq!(admin_view.status(), 200);
    assert_eq!(
        admin_view.json::<Value>().unwrap()["repositories"],
        json!([]),
        "filtered, not absent"
    );
    let bob = As::new(&c, &reg, Some("bob"));
    assert_eq!(bob.get("/v2/"), 200);
    assert_eq!(bob.get("/v2/any/tags/list"), 403);
    assert_eq!(bob.push_blob("any", b"x"), 403);
    assert_eq!(As::new(&c, &reg, None).get("/v2/any/tags/list"), 401);
    // The repository is there: without access control it is listed.
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&reg.config_path).unwrap()).unwrap();
    config["http"]["accessControl"] = Value::Null;
    std::fs::write(&reg.config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = bob.auth(c.get(reg.at("/v2/_catalog"))).send().unwrap();
        if r.json::<Value>().unwrap()["repositories"] == json!(["any"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the catalog never listed the repository"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn anonymous_only_policies_without_authentication() {
    let setup = Setup::new();
    let config = setup.config(json!({"http": {"accessControl": {"repositories": {
        "public/**": {"anonymousPolicy": ["read", "create"]},
        "**": {"anonymousPolicy": ["read"]},
    }}}}));
    let reg = setup.start(config);
    let c = client();
    let anon = As::new(&c, &reg, None);
    assert_eq!(anon.push_blob("public/app", b"x"), 201);
    let r = c
        .post(reg.at(&format!(
            "/v2/private/app/blobs/uploads/?digest={}",
            sha256(b"x")
        )))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "denied with a Basic challenge even though no login exists"
    );
    assert!(r.headers().contains_key("WWW-Authenticate"));
    assert_eq!(anon.get("/v2/public/app/tags/list"), 200);
}

/// The value of the first sample of `metric` whose labels include every one of `labels`.
fn sample(metrics: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn plugin_metrics_count_calls_by_plugin_function_and_outcome() {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let config = setup.config(json!({
        "http": {"auth": {"htpasswd": {"path": file}},
                 "accessControl": {"repositories": {"**": {"defaultPolicy": ["read", "create"]}},
                                   "metrics": {"anonymousPolicy": ["read"]}}},
        "plugins": {"authenticators": [
            {"path": fixture_plugin("hostile-authenticator"), "name": "looper", "timeoutMs": 200},
            {"builtin": "htpasswd"},
        ]},
        "extensions": {"metrics": {"enable": true}},
    }));
    let reg = setup.start(config);
    let (digest, _) = seed(&reg, "ok/repo", "v1", "x");
    let c = client();
    let status = |method: reqwest::Method, path: &str, user: &str| {
        c.request(method, reg.at(path))
            .basic_auth(user, Some(password(user)))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        status(reqwest::Method::GET, "/v2/ok/repo/manifests/v1", "alice"),
        200
    );
    let delete = format!("/v2/ok/repo/manifests/{digest}");
    assert_eq!(status(reqwest::Method::DELETE, &delete, "alice"), 403);
    let looped = c
        .get(reg.at("/v2/ok/repo/manifests/v1"))
        .basic_auth("loop", Some("x"))
        .send()
        .unwrap();
    assert_eq!(looped.status(), 401);

    let metrics = reg.metrics();
    let calls = "portcullis_plugin_calls_total";
    for labels in [
        [
            ("plugin", "looper"),
            ("function", "authenticate"),
            ("outcome", "deadline"),
        ],
        [
            ("plugin", "looper"),
            ("function", "authenticate"),
            ("outcome", "not-mine"),
        ],
        [
            ("plugin", "htpasswd"),
            ("function", "authenticate"),
            ("outcome", "authenticated"),
        ],
        [
            ("plugin", "access-control"),
            ("function", "authorize"),
            ("outcome", "allow"),
        ],
        [
            ("plugin", "access-control"),
            ("function", "authorize"),
            ("outcome", "deny"),
        ],
    ] {
        assert!(
            sample(&metrics, calls, &labels).is_some_and(|n| n >= 1.0),
            "{labels:?} in {metrics}"
        );
    }
    let latency = "portcullis_plugin_call_duration_seconds_count";
    assert!(
        sample(
            &metrics,
            latency,
            &[("plugin", "looper"), ("function", "authenticate")]
        )
        .is_some_and(|n| n >= 2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "portcullis_plugin_instances_in_use",
            &[("plugin", "looper")]
        ),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        sample(
            &metrics,
            "portcullis_plugin_loads_total",
            &[("plugin", "looper")]
        )
        .is_some_and(|n| n >= 1.0),
        "{metrics}"
    );
}

/// The access-control plugin's `authorize` calls (every outcome) and reused decisions so far.
fn authorizer_counts(reg: &Registry) -> (f64, f64) {
    let metrics = reg.metrics();
    let calls = metrics
        .lines()
        .filter(|l| l.starts_with("portcullis_plugin_calls_total{"))
        .filter(|l| {
            l.contains(r#"plugin="access-control""#) && l.contains(r#"function="authorize""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let reused = sample(
        &metrics,
        "portcullis_plugin_decisions_reused_total",
        &[("plugin", "access-control")],
    )
    .unwrap_or(0.0);
    (calls, reused)
}

#[test]
fn decisions_are_reused_per_identity_until_the_policy_changes() {
    let reg = gated(
        json!({"repositories": {
            "**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read", "create", "update", "delete"]},
            "private/**": {"policies": [{"users": ["alice"], "actions": ["read"]}]}},
            "adminPolicy": admin_policy(),
            "metrics": {"anonymousPolicy": ["read"]}}),
        json!({"extensions": {"metrics": {"enable": true}}}),
    );
    seed(&reg, "app", "v1", "one");
    seed(&reg, "private/app", "v1", "two");
    let c = client();
    let anon = As::new(&c, &reg, None);
    let alice = As::new(&c, &reg, Some("alice"));
    let bob = As::new(&c, &reg, Some("bob"));

    // Repeated accesses with the same identity, resource, action and reference are answered
    // from the first decision: allowed and denied alike, each identity its own.
    let (calls, reused) = authorizer_counts(&reg);
    for _ in 0..5 {
        assert_eq!(anon.get("/v2/app/manifests/v1"), 200);
        assert_eq!(alice.get("/v2/private/app/manifests/v1"), 200);
        assert_eq!(bob.get("/v2/private/app/manifests/v1"), 403);
        assert_eq!(anon.get("/v2/private/app/manifests/v1"), 401);
    }
    let (calls_after, reused_after) = authorizer_counts(&reg);
    assert!(
        calls_after - calls <= 5.0,
        "{} calls for 4 distinct accesses (and a metrics read)",
        calls_after - calls
    );
    assert!(reused_after - reused >= 16.0, "{reused} → {reused_after}");

    // A changed policy is a new plugin set: no decision of the old one answers for it.
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&reg.config_path).unwrap()).unwrap();
    config["http"]["accessControl"]["repositories"]["**"]["anonymousPolicy"] = json!([]);
    config["http"]["accessControl"]["repositories"]["private/**"]["policies"] = json!([
        {"users": ["alice"], "actions": ["read"],
         "conditions": [{"expression": "req.method == 'GET'", "message": "reads by GET only"}]},
        {"users": ["bob"], "actions": ["read"]}]);
    std::fs::write(
        &reg.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while anon.get("/v2/app/manifests/v1") != 401 {
        assert!(
            Instant::now() < deadline,
            "the changed policy was not applied"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(bob.get("/v2/private/app/manifests/v1"), 200);

    // A policy with conditions reads the request: every access is decided afresh.
    let (_, reused) = authorizer_counts(&reg);
    for _ in 0..5 {
        assert_eq!(alice.get("/v2/private/app/manifests/v1"), 200);
    }
    let (_, reused_after) = authorizer_counts(&reg);
    assert_eq!(
        reused_after, reused,
        "decisions of a conditional policy were reused"
    );
}

#[test]
fn policy_conditions_see_the_requests_agent_address_and_forwarding() {
    let conditions = json!([
        {"expression": "req.userAgent.startsWith('ci-bot/')", "message": "only the CI bot"},
        {"expression": "req.client.ip == '127.0.0.1'", "message": "only from this host"},
        {"expression": "'10.1.2.3' in req.client.forwardedFor", "message": "only through the proxy"},
        {"expression": "req.method == 'GET' && req.tls.enabled == false", "message": "plain GETs"},
    ]);
    let reg = gated(
        json!({"repositories": {"**": {"policies": [
            {"users": ["alice"], "actions": ["read"], "conditions": conditions}]}},
            "adminPolicy": admin_policy()}),
        json!({}),
    );
    seed(&reg, "app", "v1", "one");
    let c = client();
    let get = |agent: &str, forwarded: &str| {
        c.get(reg.at("/v2/app/manifests/v1"))
            .basic_auth("alice", Some(password("alice")))
            .header("User-Agent", agent)
            .header("X-Forwarded-For", forwarded)
            .send()
            .unwrap()
    };
    assert_eq!(get("ci-bot/2.1", "192.0.2.1, 10.1.2.3").status(), 200);
    for (agent, forwarded, reason) in [
        ("curl/8", "10.1.2.3", "only the CI bot"),
        ("ci-bot/2.1", "192.0.2.1", "only through the proxy"),
    ] {
        let r = get(agent, forwarded);
        assert_eq!(r.status(), 403);
        let body: Value = r.json().unwrap();
        assert_eq!(body["errors"][0]["detail"]["reason"], reason, "{body}");
    }
}

#[test]
fn decisions_are_logged_as_json_lines_rotated_by_size() {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let log = setup.path().join("logs").join("decisions.log");
    let config = setup.config(json!({
        "http": {"auth": {"htpasswd": {"path": file}},
                 "accessControl": {"repositories": {"**": {"defaultPolicy": ["read", "create"]}}}},
        "log": {"decisions": {"path": log, "maxSizeMb": 0.004, "keep": 2}},
    }));
    let reg = setup.start(config);
    let (digest, _) = seed(&reg, "ok/repo", "v1", "x");
    let c = client();
    let delete = c
        .delete(reg.at(&format!("/v2/ok/repo/manifests/{digest}")))
        .basic_auth("alice", Some(password("alice")))
        .send()
        .unwrap();
    assert_eq!(delete.status(), 403);
    let read = |p: &std::path::Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let denied = loop {
        let found = read(&log).into_iter().find(|l| l["decision"] == "deny");
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no denial logged");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(denied["identity"], "alice");
    assert_eq!(denied["action"], "delete");
    assert_eq!(denied["reference"], digest.as_str());
    assert!(
        denied["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{denied}"
    );
    let rotated = |n: u32| log.with_file_name(format!("decisions.log.{n}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    // Each read is one more line; 4 KB holds a dozen or so.
    while !rotated(2).exists() {
        assert!(
            Instant::now() < deadline,
            "the decision log never rotated twice"
        );
        let r = c
            .get(reg.at("/v2/ok/repo/manifests/v1"))
            .basic_auth("alice", Some(password("alice")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(!rotated(3).exists(), "only two rotated files are kept");
    let lines: Vec<Value> = [rotated(2), rotated(1), log.clone()]
        .iter()
        .flat_map(|p| read(p))
        .collect();
    let allowed = lines
        .iter()
        .find(|l| l["decision"] == "allow" && l["action"] == "read")
        .unwrap_or_else(|| panic!("no allowed read in {lines:?}"));
    assert_eq!(allowed["identity"], "alice");
    assert_eq!(allowed["repository"], "ok/repo");
    assert_eq!(allowed["reference"], "v1");
    assert_eq!(allowed["plugin"], "access-control");
    assert!(
        allowed["timestamp"].is_string() && allowed["latency_us"].is_u64(),
        "{allowed}"
    );
    for line in &lines {
        assert!(!line.to_string().contains(password("alice")), "{line}");
    }
}
