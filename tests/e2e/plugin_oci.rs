//! Plugins as OCI artifacts: `portcullis plugin push` and `pull` against a running Portcullis,
//! and a second Portcullis loading the plugin by `oci://…@sha256:…`, swapping it on a
//! configuration change, refusing tags and wrong digests.

use portcullis_tests::oci::{image_manifest, push_blob, sha256};
use portcullis_tests::{binary, client, fixture_plugin, start_gated, Registry, Setup};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What a command printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Run `portcullis ARGS`.
fn portcullis(args: &[&str]) -> Output {
    let out = Command::new(binary()).args(args).output().unwrap();
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `portcullis plugin push FILE REF --tls-verify=false`: the printed reference by digest.
fn push(file: &Path, reference: &str) -> String {
    let out = portcullis(&[
        "plugin",
        "push",
        file.to_str().unwrap(),
        reference,
        "--tls-verify=false",
    ]);
    assert!(out.ok, "push failed: {}{}", out.stdout, out.stderr);
    out.stdout.trim().to_owned()
}

/// The immutable-tags fixture, an authorizer denying moves of tags with a prefix.
fn authorizer() -> std::path::PathBuf {
    fixture_plugin("immutable-tags-authorizer")
}

/// `reference` with the last hex digit of its digest changed.
fn wrong_digest(reference: &str) -> String {
    let last = reference.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    format!("{}{other}", &reference[..reference.len() - 1])
}

#[test]
fn push_then_pull_gives_the_same_component() {
    let store = Registry::start();
    let file = authorizer();
    let pinned = push(&file, &format!("oci://{}/plugins/immutable:v1", store.host));
    let prefix = format!("oci://{}/plugins/immutable@sha256:", store.host);
    assert!(pinned.starts_with(&prefix), "{pinned}");

    // The manifest is a plugin artifact: artifact type, empty config, one layer, contract.
    let c = client();
    let manifest: Value = c
        .get(store.at("/v2/plugins/immutable/manifests/v1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.portcullis.plugin.v1"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.portcullis.plugin.component.v1+wasm"
    );
    assert_eq!(
        manifest["annotations"]["org.portcullis.plugin.contract"],
        "portcullis:plugin@0.1.0"
    );
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.title"],
        "immutable_tags_authorizer.wasm"
    );

    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read(&file).unwrap();
    for reference in [
        pinned.clone(),
        format!("{}/plugins/immutable:v1", store.host),
    ] {
        let output = dir.path().join("pulled.wasm");
        let _ = std::fs::remove_file(&output);
        let out = portcullis(&[
            "plugin",
            "pull",
            &reference,
            "-o",
            output.to_str().unwrap(),
            "--tls-verify=false",
        ]);
        assert!(out.ok, "pull {reference}: {}", out.stderr);
        assert_eq!(out.stdout.trim(), pinned);
        assert!(
            std::fs::read(&output).unwrap() == original,
            "{reference}: other bytes"
        );
    }

    // A digest the registry does not have is an error, and nothing is written.
    let output = dir.path().join("wrong.wasm");
    let out = portcullis(&[
        "plugin",
        "pull",
        &wrong_digest(&pinned),
        "-o",
        output.to_str().unwrap(),
        "--tls-verify=false",
    ]);
    assert!(!out.ok);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
    assert!(!output.exists());

    // Without --tls-verify=false a plain-HTTP registry is not spoken to.
    let out = portcullis(&["plugin", "pull", &pinned, "-o", output.to_str().unwrap()]);
    assert!(!out.ok, "{}", out.stdout);

    // The offline tool takes the reference too (a loopback registry may be plain HTTP).
    let out = portcullis(&["plugin", "inspect", "--json", &pinned]);
    assert!(out.ok, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["world"], "authorizer-plugin");
    assert_eq!(report["digest"], sha256(&original));
}

#[test]
fn pushing_something_that_is_not_a_plugin_is_refused() {
    let store = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-plugin.wasm");
    std::fs::write(&file, b"hello").unwrap();
    let out = portcullis(&[
        "plugin",
        "push",
        file.to_str().unwrap(),
        &format!("{}/plugins/x:v1", store.host),
        "--tls-verify=false",
    ]);
    assert!(!out.ok);
    assert!(
        out.stderr.contains("not a valid WebAssembly component"),
        "{}",
        out.stderr
    );
    let r = client()
        .get(store.at("/v2/plugins/x/manifests/v1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Push image `tag` to `repo` on `reg` with a manifest made from `seed`; the status.
fn put_image(reg: &Registry, repo: &str, tag: &str, seed: &str) -> u16 {
    let c = client();
    let config = format!(r#"{{"seed":"{seed}"}}"#);
    push_blob(&c, &reg.url, repo, config.as_bytes());
    push_blob(&c, &reg.url, repo, seed.as_bytes());
    let m = image_manifest(config.as_bytes(), &[seed.as_bytes()], json!({}));
    c.put(reg.at(&format!("/v2/{repo}/manifests/{tag}")))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(m)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Whether moving tag `tag` of `app` is refused by the authorizer (an anonymous request is
/// answered 401, inviting to authenticate).
fn tag_is_immutable(reg: &Registry, tag: &str) -> bool {
    assert_eq!(put_image(reg, "app", tag, &format!("{tag} one")), 201);
    match put_image(reg, "app", tag, &format!("{tag} two")) {
        401 | 403 => true,
        201 => false,
        s => panic!("moving {tag}: {s}"),
    }
}

#[test]
fn a_registry_loads_a_plugin_by_digest_and_swaps_it() {
    let store = Registry::start();
    let first = push(
        &authorizer(),
        &format!("{}/plugins/immutable:v1", store.host),
    );
    // The same component under another title: another manifest, another digest.
    let dir = tempfile::tempdir().unwrap();
    let renamed = dir.path().join("renamed.wasm");
    std::fs::copy(authorizer(), &renamed).unwrap();
    let second = push(&renamed, &format!("{}/plugins/immutable:v2", store.host));
    assert_ne!(first, second);

    let setup = Setup::new();
    let cache = setup.path().join("plugin-cache");
    let plugins = |reference: &str, pattern: &str| {
        json!({
            "cacheDirectory": cache,
            "authorizer": {"path": reference, "tlsVerify": false, "config": {"pattern": pattern}},
        })
    };
    let config = setup.config(json!({ "plugins": plugins(&first, "v") }));
    let reg = setup.start(config);
    assert!(tag_is_immutable(&reg, "v1.0"));
    assert!(!tag_is_immutable(&reg, "x1.0"));
    let digest = first.rsplit_once('@').unwrap().1.replace(':', "-");
    assert!(
        cache.join("oci").join(format!("{digest}.wasm")).exists(),
        "the pulled component is cached by manifest digest"
    );

    // A new digest in the configuration: the registry pulls and loads it without a restart.
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&reg.config_path).unwrap()).unwrap();
    config["plugins"] = plugins(&second, "x");
    std::fs::write(
        &reg.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while !tag_is_immutable(&reg, &format!("x2.{n}")) {
        assert!(Instant::now() < deadline, "the new plugin never took over");
        std::thread::sleep(Duration::from_millis(200));
        n += 1;
    }
    assert!(!tag_is_immutable(&reg, "v2.0"));
    let logs = reg.logs().join("\n");
    assert!(logs.contains(&second), "{logs}");

    // A restart loads from the cache: the plugin store can be gone.
    drop(store);
    let reg = reg.restart();
    assert!(tag_is_immutable(&reg, "x3.0"));
    assert!(!tag_is_immutable(&reg, "v3.0"));

    // The cache is checked against the digest when read: a tampered component is not loaded
    // (it would be pulled again, and the plugin store is gone).
    let config_file = reg.config_path.to_str().unwrap().to_owned();
    let out = portcullis(&["verify", &config_file]);
    assert!(out.ok, "{}", out.stderr);
    let digest = second.rsplit_once('@').unwrap().1.replace(':', "-");
    let cached = cache.join("oci").join(format!("{digest}.wasm"));
    let mut bytes = std::fs::read(&cached).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&cached, bytes).unwrap();
    let out = portcullis(&["verify", &config_file]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stderr.contains("cannot pull"), "{}", out.stderr);
}

/// `portcullis verify` on a configuration whose authorizer is `path`, with `extra` merged into
/// its `plugins` section.
fn verify_with(path: &str, extra: Value) -> Output {
    let setup = Setup::new();
    let mut config = setup.config(json!({
        "plugins": {"authorizer": {"path": path, "tlsVerify": false, "config": {"pattern": "v"}}}
    }));
    portcullis_tests::merge(&mut config["plugins"], extra);
    let file = setup.path().join("config.json");
    std::fs::write(&file, serde_json::to_vec(&config).unwrap()).unwrap();
    portcullis(&["verify", file.to_str().unwrap()])
}

/// `portcullis verify` on a configuration whose authorizer is `path`.
fn verify(path: &str) -> Output {
    verify_with(path, json!({}))
}

#[test]
fn a_tag_without_digest_or_a_wrong_digest_is_refused() {
    let store = Registry::start();
    let pinned = push(
        &authorizer(),
        &format!("{}/plugins/immutable:v1", store.host),
    );
    let good = verify(&pinned);
    assert!(good.ok, "{}{}", good.stdout, good.stderr);

    let tagged = format!("oci://{}/plugins/immutable:v1", store.host);
    let out = verify(&tagged);
    assert!(!out.ok);
    assert!(out.stderr.contains("a tag can be moved"), "{}", out.stderr);
    assert!(out.stderr.contains("pinned by digest"), "{}", out.stderr);

    let out = verify(&wrong_digest(&pinned));
    assert!(!out.ok);
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

#[test]
fn credentials_reach_a_registry_that_requires_them() {
    let store = start_gated(
        &[("alice", "alice-pw")],
        json!({"repositories": {"**": {"policies": [{"users": ["alice"], "actions": ["read", "create", "update"]}]}}}),
        json!({}),
    );
    let reference = format!("{}/plugins/immutable:v1", store.host);
    let file = authorizer();
    let anonymous = portcullis(&[
        "plugin",
        "push",
        file.to_str().unwrap(),
        &reference,
        "--tls-verify=false",
    ]);
    assert!(!anonymous.ok, "{}", anonymous.stdout);
    assert!(anonymous.stderr.contains("refused"), "{}", anonymous.stderr);
    let out = portcullis(&[
        "plugin",
        "push",
        file.to_str().unwrap(),
        &reference,
        "--tls-verify=false",
        "--creds",
        "alice:alice-pw",
    ]);
    assert!(out.ok, "{}", out.stderr);
    let pinned = out.stdout.trim().to_owned();

    // The offline tool takes the same flags for a reference it pulls.
    let out = portcullis(&["plugin", "inspect", "--json", &pinned]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
    let out = portcullis(&[
        "plugin",
        "inspect",
        "--json",
        &pinned,
        "--creds",
        "alice:alice-pw",
    ]);
    assert!(out.ok, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["world"], "authorizer-plugin");

    // The registry pulls with `plugins.credentialsFile`, and is refused without it.
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials.json");
    std::fs::write(
        &creds,
        json!({ &store.host: {"username": "alice", "password": "alice-pw"} }).to_string(),
    )
    .unwrap();
    let out = verify_with(&pinned, json!({"credentialsFile": creds}));
    assert!(out.ok, "{}", out.stderr);
    // (Another cache directory: the pulled component is in the shared one now, and a digest
    // in the cache is not pulled again.)
    let out = verify_with(
        &pinned,
        json!({"cacheDirectory": dir.path().join("empty-cache")}),
    );
    assert!(!out.ok);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn a_registry_loads_a_plugin_from_its_own_storage_at_start() {
    let setup = Setup::new();
    let port = portcullis_tests::free_port().to_string();
    let config = setup.config(json!({"http": {"port": port}}));
    let mut reg = setup.start(config);
    let pinned = push(&authorizer(), &format!("{}/plugins/immutable:v1", reg.host));
    // The registry stops, and starts again with that plugin as its authorizer: its gate is
    // loaded before it listens, so nothing can be pulled from it over HTTP.
    reg.kill();
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&reg.config_path).unwrap()).unwrap();
    config["plugins"] = json!({
        "authorizer": {"path": pinned, "tlsVerify": false, "config": {"pattern": "v"}},
    });
    std::fs::write(
        &reg.config_path,
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let reg = reg.restart();
    assert!(tag_is_immutable(&reg, "v1.0"));
    assert!(!tag_is_immutable(&reg, "x1.0"));
    let logs = reg.logs().join("\n");
    assert!(
        logs.contains("plugin read from this registry's storage"),
        "{logs}"
    );
}
