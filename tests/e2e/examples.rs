//! The example plugins of `examples/plugins` (Rust, Python, JavaScript, C), built by
//! `examples/plugins/build` with the toolchains of `scripts/install-plugin-toolchains`, loaded
//! by the real registry from their files, and judged over HTTP. A test whose toolchain is not
//! installed is skipped locally and fails in CI.

use portcullis_tests::oci::{image_manifest, media, sha256};
use portcullis_tests::{client, example_plugin, htpasswd, Registry, Setup};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const USERS: [(&str, &str); 3] = [
    ("alice", "alice-pw"),
    ("bob", "bob-pw"),
    ("release-bot", "htpasswd-pw"),
];

/// One test at a time: a cold start compiles the Python and JavaScript components (tens of
/// seconds each on two cores), which two tests at once would only slow down.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registry with the htpasswd `USERS` (the default authenticator) and `plugins` as the
/// configuration's `plugins` section, plus `extra` merged into the configuration.
fn start(plugins: Value, extra: Value) -> Registry {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(&USERS)).unwrap();
    let mut config = setup.config(json!({
        "http": {"realm": "portcullis-test", "auth": {"htpasswd": {"path": file}}},
        "plugins": plugins,
    }));
    portcullis_tests::merge(&mut config, extra);
    verify(&setup, &config);
    setup.start(config)
}

/// `portcullis verify` the configuration: it loads and configures every plugin, and compiles
/// the components into the shared compile cache without the harness's start deadline (a
/// Python or JavaScript component takes tens of seconds on two busy cores).
fn verify(setup: &Setup, config: &Value) {
    let cache = config["plugins"]["cacheDirectory"].as_str().unwrap();
    std::fs::create_dir_all(cache).unwrap(); // verify uses the cache only if it exists
    let path = setup.path().join("verify.json");
    std::fs::write(&path, serde_json::to_vec(config).unwrap()).unwrap();
    let started = Instant::now();
    let out = std::process::Command::new(portcullis_tests::binary())
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("verify took {:?}", started.elapsed());
}

/// Requests with some credentials (None: anonymous).
struct As<'a> {
    c: Client,
    reg: &'a Registry,
    creds: Option<(&'a str, &'a str)>,
}

fn as_user<'a>(reg: &'a Registry, user: &'a str, password: &'a str) -> As<'a> {
    As {
        c: client(),
        reg,
        creds: Some((user, password)),
    }
}

fn anonymous(reg: &Registry) -> As<'_> {
    As {
        c: client(),
        reg,
        creds: None,
    }
}

impl As<'_> {
    fn auth(&self, r: RequestBuilder) -> RequestBuilder {
        match self.creds {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    fn get(&self, path: &str) -> Response {
        self.auth(self.c.get(self.reg.at(path))).send().unwrap()
    }

    fn delete(&self, path: &str) -> Response {
        self.auth(self.c.delete(self.reg.at(path))).send().unwrap()
    }

    fn push_blob(&self, repo: &str, bytes: &[u8]) -> Response {
        let url = format!("/v2/{repo}/blobs/uploads/?digest={}", sha256(bytes));
        self.auth(self.c.post(self.reg.at(&url)))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .unwrap()
    }

    fn put_manifest(&self, repo: &str, reference: &str, manifest: &[u8]) -> Response {
        let url = format!("/v2/{repo}/manifests/{reference}");
        self.auth(self.c.put(self.reg.at(&url)))
            .header("Content-Type", media::MANIFEST)
            .body(manifest.to_vec())
            .send()
            .unwrap()
    }

    /// Push a small image (config, layer, manifest) as `repo:tag`: the manifest's response,
    /// after asserting that the blobs were accepted.
    fn push_image(&self, repo: &str, tag: &str, seed: &str) -> (Response, Vec<u8>) {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","seed":"{seed}"}}"#);
        let layer = format!("layer of {seed}");
        for blob in [config.as_bytes(), layer.as_bytes()] {
            let r = self.push_blob(repo, blob);
            assert_eq!(r.status(), 201, "blob of {repo}:{tag}: {:?}", r.text());
        }
        let manifest = image_manifest(config.as_bytes(), &[layer.as_bytes()], json!({}));
        (self.put_manifest(repo, tag, &manifest), manifest)
    }
}

/// Assert a 403 `DENIED` whose reason contains `reason`.
#[track_caller]
fn assert_denied(r: Response, reason: &str) {
    assert_eq!(r.status(), 403);
    let body: Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED", "{body}");
    let got = body["errors"][0]["detail"]["reason"].as_str().unwrap_or("");
    assert!(got.contains(reason), "reason {got:?} lacks {reason:?}");
}

fn catalog(who: &As) -> Value {
    let r = who.get("/v2/_catalog");
    assert_eq!(r.status(), 200);
    r.json::<Value>().unwrap()["repositories"].clone()
}

/// The configuration's `config` for the static-passwords authenticator: SHA-256 digests.
fn static_passwords_config(users: &[(&str, &str, &[&str])]) -> Value {
    let mut map = serde_json::Map::new();
    for (user, password, groups) in users {
        let digest = sha256(password.as_bytes());
        let hex = digest.strip_prefix("sha256:").unwrap();
        map.insert(user.to_string(), json!({"sha256": hex, "groups": groups}));
    }
    json!({ "users": map })
}

#[test]
fn rust_immutable_tags_authorizer() {
    let Some(plugin) = example_plugin("immutable-tags") else {
        return;
    };
    let _serial = serial();
    let reg = start(
        json!({"authorizer": {"path": plugin, "config": {"immutableTagPrefix": "v", "deleteGroup": "maintainers"}}}),
        json!({}),
    );
    let alice = as_user(&reg, "alice", "alice-pw");
    let (r, release) = alice.push_image("app", "v1.0", "one");
    assert_eq!(r.status(), 201);
    let (r, _) = alice.push_image("app", "latest", "two");
    assert_eq!(r.status(), 201);

    // A release tag cannot move, nor be deleted, whoever asks.
    let (r, _) = alice.push_image("app", "v1.0", "three");
    assert_denied(
        r,
        "tag v1.0 is immutable (tags starting with \"v\" cannot be moved or deleted)",
    );
    assert_denied(
        alice.delete("/v2/app/manifests/v1.0"),
        "tag v1.0 is immutable",
    );
    // Writing a tag that exists is an update, even with the manifest it already names.
    assert_denied(
        alice.put_manifest("app", "v1.0", &release),
        "tag v1.0 is immutable",
    );
    // Other tags move freely.
    let (r, _) = alice.push_image("app", "latest", "four");
    assert_eq!(r.status(), 201);
    // Deletes need the group: htpasswd asserts none.
    assert_denied(
        alice.delete("/v2/app/manifests/latest"),
        "only members of group maintainers may delete",
    );
    assert_denied(
        alice.delete(&format!("/v2/app/manifests/{}", sha256(&release))),
        "only members of group maintainers may delete",
    );
    // Everything else is allowed, also anonymously; the catalog is complete.
    let anon = anonymous(&reg);
    assert_eq!(anon.get("/v2/app/manifests/v1.0").status(), 200);
    assert_eq!(catalog(&anon), json!(["app"]));
}

#[test]
fn rust_immutable_tags_with_javascript_static_passwords_groups() {
    // The authenticator asserts groups (htpasswd has none), so a maintainer can delete.
    let (Some(authorizer), Some(authenticator)) = (
        example_plugin("immutable-tags"),
        example_plugin("static-passwords"),
    ) else {
        return;
    };
    let _serial = serial();
    let reg = start(
        json!({
            "authenticators": [
                {"path": authenticator, "config": static_passwords_config(&[("maint", "a long secret", &["maintainers"])])},
                {"builtin": "htpasswd"},
            ],
            "authorizer": {"path": authorizer, "config": {"immutableTagPrefix": "v", "deleteGroup": "maintainers"}},
        }),
        json!({}),
    );
    let maint = as_user(&reg, "maint", "a long secret");
    let (r, _) = maint.push_image("app", "v2", "five");
    assert_eq!(r.status(), 201);
    let (r, _) = maint.push_image("app", "nightly", "six");
    assert_eq!(r.status(), 201);
    assert_eq!(maint.delete("/v2/app/manifests/nightly").status(), 202);
    assert_denied(maint.delete("/v2/app/manifests/v2"), "tag v2 is immutable");
    // alice (htpasswd, after the authenticator said not-mine) is no maintainer.
    let (r, _) = as_user(&reg, "alice", "alice-pw").push_image("app", "tmp", "seven");
    assert_eq!(r.status(), 201);
    assert_denied(
        as_user(&reg, "alice", "alice-pw").delete("/v2/app/manifests/tmp"),
        "only members of group maintainers may delete",
    );
}

#[test]
fn python_user_namespaces_authorizer() {
    let Some(plugin) = example_plugin("user-namespaces") else {
        return;
    };
    let _serial = serial();
    let reg = start(
        json!({"authorizer": {"path": plugin, "config": {}, "timeoutMs": 2000}}),
        json!({}),
    );
    let (alice, bob) = (
        as_user(&reg, "alice", "alice-pw"),
        as_user(&reg, "bob", "bob-pw"),
    );
    // Each user owns users/<name>/**: push, move a tag, read, delete.
    let (r, _) = alice.push_image("users/alice/app", "v1", "a1");
    assert_eq!(r.status(), 201);
    let (r, _) = alice.push_image("users/alice/app", "v1", "a2");
    assert_eq!(r.status(), 201);
    let (r, _) = alice.push_image("users/alice/tmp", "x", "a3");
    assert_eq!(r.status(), 201);
    assert_eq!(
        alice.delete("/v2/users/alice/tmp/manifests/x").status(),
        202
    );
    let (r, _) = bob.push_image("users/bob", "v1", "b1");
    assert_eq!(r.status(), 201);
    assert_eq!(alice.get("/v2/users/alice/app/manifests/v1").status(), 200);

    // Nobody else's namespace: not even reading it.
    assert_denied(
        bob.get("/v2/users/alice/app/manifests/v1"),
        "users/alice/app belongs to alice",
    );
    assert_denied(
        bob.push_blob("users/alice/app", b"intruder"),
        "users/alice/app belongs to alice",
    );
    // Everything else: read by the authenticated (nothing there yet: 404, not 403), written
    // by nobody.
    assert_eq!(bob.get("/v2/library/alpine/manifests/latest").status(), 404);
    assert_denied(
        bob.push_blob("library/alpine", b"shared"),
        "library/alpine is read-only: push to users/bob/ instead",
    );
    // The catalog shows what each may read.
    let seen = catalog(&alice);
    assert!(
        seen.as_array().unwrap().contains(&json!("users/alice/app")),
        "{seen}"
    );
    assert!(
        !seen.as_array().unwrap().contains(&json!("users/bob")),
        "{seen}"
    );
    assert_eq!(catalog(&bob), json!(["users/bob"]));
    // Anonymous: nothing, challenged at once.
    let anon = anonymous(&reg);
    for path in [
        "/v2/",
        "/v2/library/alpine/manifests/latest",
        "/v2/users/alice/app/manifests/v1",
        "/v2/_catalog",
    ] {
        let r = anon.get(path);
        assert_eq!(r.status(), 401, "{path}");
        assert!(r.headers().contains_key("WWW-Authenticate"));
    }
}

#[test]
fn javascript_static_passwords_authenticator() {
    let Some(plugin) = example_plugin("static-passwords") else {
        return;
    };
    let _serial = serial();
    // The plugin first, htpasswd second: users it does not know pass on to htpasswd.
    let reg = start(
        json!({"authenticators": [
            {"path": plugin, "config": static_passwords_config(&[
                ("ci", "ci-secret-0123456789", &["ci"]),
                ("release-bot", "plugin-pw", &[]),
            ])},
            {"builtin": "htpasswd"},
        ]}),
        json!({"http": {"accessControl": {"repositories": {"**": {"policies": [
            {"groups": ["ci"], "actions": ["read", "create"]},
            {"users": ["alice", "release-bot"], "actions": ["read"]},
        ]}}}}}),
    );
    let status =
        |user: &str, password: &str| as_user(&reg, user, password).get("/v2/").status().as_u16();
    // The right password: authenticated, with the configured groups (which accessControl
    // grants create to).
    assert_eq!(status("ci", "ci-secret-0123456789"), 200);
    let (r, _) = as_user(&reg, "ci", "ci-secret-0123456789").push_image("builds/app", "1", "c");
    assert_eq!(r.status(), 201);
    // A wrong password: rejected, the chain stops (401), and the reason is logged only.
    let r = as_user(&reg, "ci", "nope").get("/v2/");
    assert_eq!(r.status(), 401);
    assert!(!r.text().unwrap().contains("wrong password"));
    assert!(reg.logged("wrong password for ci"));
    // release-bot is in both: the plugin's answer stands, htpasswd's password is not asked.
    assert_eq!(status("release-bot", "plugin-pw"), 200);
    assert_eq!(status("release-bot", "htpasswd-pw"), 401);
    // Users it does not know are not-mine: htpasswd decides.
    assert_eq!(status("alice", "alice-pw"), 200);
    assert_eq!(status("alice", "wrong"), 401);
    assert_eq!(status("mallory", "x"), 401);
    // alice (htpasswd, no groups) reads but does not push.
    let alice = as_user(&reg, "alice", "alice-pw");
    assert_eq!(alice.get("/v2/builds/app/manifests/1").status(), 200);
    assert_eq!(alice.push_blob("builds/app", b"no").status(), 403);
}

#[test]
fn javascript_static_passwords_refuses_plaintext_passwords() {
    let Some(plugin) = example_plugin("static-passwords") else {
        return;
    };
    let _serial = serial();
    let setup = Setup::new();
    let config = setup.config(json!({
        "plugins": {"authenticators": [{"path": plugin, "name": "passwords",
                                         "config": {"users": {"ci": {"password": "plain"}}}}]},
    }));
    let path = setup.path().join("config.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let out = std::process::Command::new(portcullis_tests::binary())
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plugin passwords") && err.contains("user ci: `sha256` must be 64 hex digits"),
        "{err}"
    );
}

#[test]
fn c_read_only_prefixes_authorizer_swapped_in() {
    let Some(plugin) = example_plugin("read-only-prefixes") else {
        return;
    };
    let _serial = serial();
    // First an open registry, where the mirror is filled…
    let reg = start(
        json!({}),
        json!({"http": {"accessControl": {"repositories": {"**": {
            "anonymousPolicy": ["read"],
            "defaultPolicy": ["read", "create", "update", "delete"]}}}}}),
    );
    let alice = as_user(&reg, "alice", "alice-pw");
    let (r, mirrored) = alice.push_image("mirror/alpine", "3.20", "m");
    assert_eq!(r.status(), 201);
    // …then the C authorizer, by editing the configuration (hot reload).
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&reg.config_path).unwrap()).unwrap();
    config["plugins"]["authorizer"] =
        json!({"path": plugin, "config": {"readOnly": ["mirror/", "base/"]}});
    std::fs::write(
        &reg.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let first_denial = loop {
        let r = alice.push_blob("mirror/alpine", b"after the swap");
        if r.status() == 403 {
            break r;
        }
        assert_eq!(r.status(), 201);
        assert!(
            Instant::now() < deadline,
            "the authorizer was not swapped in"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_denied(
        first_denial,
        "repository mirror/alpine is read-only (prefix \"mirror/\")",
    );
    let digest = sha256(&mirrored);
    assert_denied(
        alice.put_manifest("mirror/alpine", "latest", &mirrored),
        "repository mirror/alpine is read-only",
    );
    assert_denied(
        alice.delete(&format!("/v2/mirror/alpine/manifests/{digest}")),
        "repository mirror/alpine is read-only",
    );
    assert_denied(alice.push_blob("base/debian", b"x"), "prefix \"base/\"");
    // Reads of read-only repositories, and everything elsewhere, are allowed to anyone.
    let anon = anonymous(&reg);
    assert_eq!(anon.get("/v2/mirror/alpine/manifests/3.20").status(), 200);
    let (r, _) = alice.push_image("apps/web", "1", "w");
    assert_eq!(r.status(), 201);
    let (r, _) = alice.push_image("mirrors-are-not-mirror/x", "1", "x");
    assert_eq!(r.status(), 201);
    assert_eq!(alice.delete("/v2/apps/web/manifests/1").status(), 202);
    let (r, _) = anon.push_image("apps/anon", "1", "a");
    assert_eq!(r.status(), 201);
    let seen = catalog(&anon);
    for repo in ["apps/anon", "mirror/alpine", "mirrors-are-not-mirror/x"] {
        assert!(seen.as_array().unwrap().contains(&json!(repo)), "{seen}");
    }
}

#[test]
fn every_example_builds_into_its_documented_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in [
        "immutable-tags",
        "user-namespaces",
        "static-passwords",
        "read-only-prefixes",
    ] {
        let Some(path) = example_plugin(name) else {
            continue;
        };
        assert_eq!(
            path,
            root.join(format!("target/example-plugins/{name}.wasm"))
        );
        let bytes = std::fs::read(&path).unwrap();
        // A component, not a core module: the layer field of the preamble is 1.
        assert_eq!(&bytes[..4], b"\0asm", "{name}");
        assert_eq!(&bytes[6..8], &[1, 0], "{name} is not a component");
        assert!(
            root.join(format!("examples/plugins/{name}/README.md"))
                .exists(),
            "{name} has no README"
        );
    }
}
