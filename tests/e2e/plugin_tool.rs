//! `portcullis plugin`, the plugin author's offline tool, run as a user runs it: `inspect`,
//! `check`, `run` and `test` against the default plugins, the example immutable-tags
//! authorizer and a hostile fixture.

use portcullis_tests::{binary, example_plugin, fixture_plugin};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What a command printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Run `portcullis plugin ARGS` from the repository root, sharing the tests' compile cache.
fn plugin(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = root.join("target/test-plugin-cache");
    let out = Command::new(binary())
        .arg("plugin")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .current_dir(root)
        .output()
        .unwrap();
    Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A default plugin, built by the host's build script beside the binary's target directory.
fn default_plugin(file: &str) -> PathBuf {
    let target = binary().parent().unwrap().parent().unwrap().to_path_buf();
    let path = target.join("wasm-plugins/wasm32-wasip2/release").join(file);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", out.stdout, out.stderr))
}

const IMMUTABLE_CONFIG: &str = r#"{"immutableTagPrefix": "v", "deleteGroup": "maintainers"}"#;

#[test]
fn inspect_shows_world_contract_and_digest() {
    let path = default_plugin("access_control.wasm");
    let bytes = std::fs::read(&path).unwrap();
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );

    let out = plugin(&["inspect", path.to_str().unwrap()]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("world:     authorizer-plugin"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(&digest), "{}", out.stdout);

    let out = plugin(&["inspect", "--json", path.to_str().unwrap()]);
    let report = json(&out);
    assert_eq!(report["world"], "authorizer-plugin");
    assert_eq!(report["contract"], "portcullis:plugin@0.2.1");
    assert_eq!(report["loadable"], true);
    assert_eq!(report["digest"], digest);
    assert_eq!(report["size"], bytes.len());
    for export in [
        "portcullis:plugin/authorizer@0.2.1",
        "portcullis:plugin/decision-reuse@0.2.1",
    ] {
        assert!(
            report["exports"]
                .as_array()
                .unwrap()
                .contains(&Value::from(export)),
            "{report}"
        );
    }
    assert!(report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().starts_with("portcullis:plugin/log@")));

    let keys = plugin(&[
        "inspect",
        "--json",
        default_plugin("api_keys.wasm").to_str().unwrap(),
    ]);
    assert_eq!(json(&keys)["world"], "api-keys-plugin");
}

#[test]
fn check_accepts_a_good_config_and_refuses_a_bad_one_with_the_registrys_message() {
    let Some(path) = example_plugin("immutable-tags") else {
        return;
    };
    let path = path.to_str().unwrap();
    let good = plugin(&["check", path, "--config", IMMUTABLE_CONFIG]);
    assert!(good.ok, "{}{}", good.stdout, good.stderr);
    assert!(
        good.stdout.contains("world authorizer-plugin"),
        "{}",
        good.stdout
    );
    assert!(
        good.stdout.contains("authenticated-only true"),
        "{}",
        good.stdout
    );
    assert!(
        good.stdout
            .contains("decision-reuse: each decision is reused for 60000 ms"),
        "{}",
        good.stdout
    );

    let bad = plugin(&["check", path, "--config", r#"{"immutableTagPrefix": ""}"#]);
    assert!(!bad.ok, "{}", bad.stdout);
    // The message `portcullis verify` and the registry print for this plugin.
    assert!(
        bad.stderr.contains(
            "plugin immutable-tags: configuration refused: immutable-tags: invalid configuration"
        ),
        "{}",
        bad.stderr
    );
}

#[test]
fn check_says_whether_the_registry_reuses_an_authorizers_decisions() {
    let path = default_plugin("access_control.wasm");
    let path = path.to_str().unwrap();
    let check = |config: &str| {
        let out = plugin(&["check", path, "--config", config]);
        assert!(out.ok, "{}{}", out.stdout, out.stderr);
        out.stdout
    };
    let plain =
        check(r#"{"accessControl": {"repositories": {"**": {"anonymousPolicy": ["read"]}}}}"#);
    assert!(
        plain.contains("decision-reuse: each decision is reused for 60000 ms"),
        "{plain}"
    );
    // A condition reads the request, so no decision may answer another request.
    let conditional = check(
        r#"{"accessControl": {"repositories": {"**": {"policies": [{"users": ["a"],
            "actions": ["read"], "conditions": [{"expression": "req.method == 'GET'",
            "message": "reads"}]}]}}}}"#,
    );
    assert!(
        conditional.contains("decision-reuse: none"),
        "{conditional}"
    );

    // A component built for 0.2.0, before decision-reuse existed, loads as it always did.
    let older = fixture_plugin("hostile-authorizer");
    let out = plugin(&["check", older.to_str().unwrap()]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("contract portcullis:plugin@0.2.0: loaded and configured"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("decision-reuse: none"),
        "{}",
        out.stdout
    );
}

#[test]
fn check_refuses_a_component_of_an_unsupported_contract() {
    let out = plugin(&[
        "check",
        fixture_plugin("old-contract-authenticator")
            .to_str()
            .unwrap(),
    ]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr.contains("but this registry implements"),
        "{}",
        out.stderr
    );
}

#[test]
fn run_an_authorizer_allows_and_denies() {
    let Some(path) = example_plugin("immutable-tags") else {
        return;
    };
    let path = path.to_str().unwrap();
    let run = |request: &str| {
        plugin(&[
            "run",
            path,
            "--config",
            IMMUTABLE_CONFIG,
            "--request",
            request,
        ])
    };
    let allowed = run(r#"{"resource": {"repository": "team/app"}, "action": "read"}"#);
    assert!(allowed.ok, "{}", allowed.stderr);
    let answer = json(&allowed);
    assert_eq!(answer["decision"], "allow");
    assert_eq!(answer["world"], "authorizer-plugin");
    assert_eq!(answer["function"], "authorize");
    assert!(answer["micros"].as_u64().is_some(), "{answer}");
    // What the plugin logged from `configure`.
    assert!(
        answer["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"]
                .as_str()
                .unwrap()
                .contains("tags starting with \"v\" are immutable")),
        "{answer}"
    );

    let denied = run(
        r#"{"identity": {"username": "alice", "groups": ["maintainers"]},
            "resource": {"repository": "team/app"}, "action": "update", "reference": "v1.0"}"#,
    );
    assert!(denied.ok, "{}", denied.stderr);
    let answer = json(&denied);
    assert_eq!(answer["decision"], "deny");
    assert_eq!(
        answer["reason"],
        "tag v1.0 is immutable (tags starting with \"v\" cannot be moved or deleted)"
    );

    let typo =
        run(r#"{"resource": {"repository": "a"}, "action": "read", "identity": {"user": "x"}}"#);
    assert!(!typo.ok);
    assert!(
        typo.stderr
            .contains("request of authorize: identity.user: unknown field `user`"),
        "{}",
        typo.stderr
    );
}

#[test]
fn run_stops_a_looping_plugin_at_its_deadline() {
    let path = fixture_plugin("hostile-authorizer");
    let started = Instant::now();
    let out = plugin(&[
        "run",
        path.to_str().unwrap(),
        "--request",
        r#"{"resource": {"repository": "hostile/loop"}, "action": "read"}"#,
    ]);
    assert!(!out.ok, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("plugin hostile_authorizer: deadline exceeded"),
        "{}",
        out.stderr
    );
    let answer = json(&out);
    assert_eq!(answer["decision"], "failed");
    assert_eq!(answer["failure"], "deadline");
    // Stopped at the registry's 250 ms authorizer deadline, not before.
    assert!(answer["micros"].as_u64().unwrap() >= 250_000, "{answer}");
    // Not a hang (compiling is cached).
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn run_reports_what_a_plugin_prints() {
    let path = fixture_plugin("hostile-authorizer");
    let out = plugin(&[
        "run",
        path.to_str().unwrap(),
        "--request",
        r#"{"resource": {"repository": "hostile/print"}, "action": "read"}"#,
    ]);
    assert!(out.ok, "{}", out.stderr);
    let answer = json(&out);
    assert_eq!(answer["decision"], "allow");
    let logs = answer["logs"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l["message"] == "stdout: hostile authorizer printing line 0 to stdout"),
        "{answer}"
    );
}

#[test]
fn test_runs_a_table_and_fails_with_a_diff() {
    let Some(path) = example_plugin("immutable-tags") else {
        return;
    };
    let path = path.to_str().unwrap();
    // The example's own table passes.
    let passing = plugin(&["test", path, "examples/plugins/immutable-tags/cases.yaml"]);
    assert!(passing.ok, "{}{}", passing.stdout, passing.stderr);
    assert!(
        passing
            .stdout
            .contains("ok    a release tag cannot be moved"),
        "{}",
        passing.stdout
    );
    assert!(
        passing
            .stdout
            .contains("test result: ok. 8 passed; 0 failed"),
        "{}",
        passing.stdout
    );

    // A JSON table with one wrong expectation fails, naming the case and the field.
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.json");
    std::fs::write(
        &cases,
        serde_json::json!({
            "config": {"immutableTagPrefix": "v", "deleteGroup": "maintainers"},
            "cases": [
                {"name": "reads are allowed",
                 "request": {"resource": {"repository": "a"}, "action": "read"},
                 "expect": "allow"},
                {"name": "moving v2 is allowed (wrong)",
                 "request": {"resource": {"repository": "a"}, "action": "update", "reference": "v2"},
                 "expect": {"decision": "allow"}},
            ]
        })
        .to_string(),
    )
    .unwrap();
    let failing = plugin(&["test", path, cases.to_str().unwrap()]);
    assert!(!failing.ok, "{}", failing.stdout);
    let out = &failing.stdout;
    assert!(out.contains("ok    reads are allowed"), "{out}");
    assert!(out.contains("FAIL  moving v2 is allowed (wrong)"), "{out}");
    assert!(out.contains("- decision: \"allow\""), "{out}");
    assert!(out.contains("+ decision: \"deny\""), "{out}");
    assert!(
        out.contains("test result: FAILED. 1 passed; 1 failed"),
        "{out}"
    );
}

#[test]
fn test_names_a_bad_field_of_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.yaml");
    std::fs::write(
        &cases,
        "cases:\n  - name: x\n    request: {resource: metrics, action: read}\n    expected: allow\n",
    )
    .unwrap();
    let path = default_plugin("access_control.wasm");
    let out = plugin(&["test", path.to_str().unwrap(), cases.to_str().unwrap()]);
    assert!(!out.ok);
    assert!(out.stderr.contains("cases[0]"), "{}", out.stderr);
    assert!(out.stderr.contains("expected"), "{}", out.stderr);
}

#[test]
fn run_an_api_keys_plugin_names_its_function_and_keeps_its_store_with_kv() {
    let path = default_plugin("api_keys.wasm");
    let path = path.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kv = dir.path().join("plugins.redb");
    let kv = kv.to_str().unwrap();
    // Four functions: which one is not guessed.
    let ambiguous = plugin(&["run", path, "--request", "{}"]);
    assert!(!ambiguous.ok);
    assert!(
        ambiguous.stderr.contains("several functions"),
        "{}",
        ambiguous.stderr
    );

    let created = plugin(&[
        "run",
        path,
        "--kv",
        kv,
        "--function",
        "create-key",
        "--request",
        r#"{"owner": {"username": "alice", "source": "htpasswd"}, "request": {"label": "ci", "scopes": ["ci/**:read"]}}"#,
    ]);
    assert!(created.ok, "{}", created.stderr);
    let created = json(&created);
    assert_eq!(created["decision"], "created");
    let secret = created["secret"].as_str().unwrap();

    let request = serde_json::json!({"username": "alice", "password": secret}).to_string();
    let authenticated = plugin(&[
        "run",
        path,
        "--kv",
        kv,
        "--function",
        "authenticate",
        "--request",
        &request,
    ]);
    let authenticated = json(&authenticated);
    assert_eq!(authenticated["decision"], "authenticated");
    assert_eq!(authenticated["identity"]["username"], "alice");
    assert_eq!(
        authenticated["identity"]["scopes"][0]["repositories"],
        "ci/**"
    );

    // Without --kv, every command starts with an empty store.
    let fresh = plugin(&[
        "run",
        path,
        "--function",
        "list-keys",
        "--request",
        r#"{"owner": "alice"}"#,
    ]);
    assert_eq!(json(&fresh)["keys"], serde_json::json!([]));
}
