//! The command line: `--version`, `verify`, and `serve` refusing what it cannot honour.

use portcullis_tests::binary;
use std::process::Command;

/// Run the binary from the repository root (example configurations name files relative to it).
fn run(args: &[&str]) -> (bool, String, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(binary())
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn version() {
    let (ok, out, _) = run(&["--version"]);
    assert!(ok);
    assert_eq!(
        out.trim(),
        format!("portcullis {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_example_config_verifies() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ["json", "yaml", "yml"].contains(&ext) {
            let (ok, out, err) = run(&["verify", path.to_str().unwrap()]);
            assert!(ok, "{}: {out}{err}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 3);
}

#[test]
fn verify_names_the_offending_key() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, needle) in [
        (
            "unknown.json",
            r#"{"storage":{"rootDirectory":"/tmp/x","dedup":true}}"#,
            "storage.dedup",
        ),
        (
            "port.yaml",
            "storage:\n  rootDirectory: /tmp/x\nhttp:\n  port: seventy\n",
            "http.port",
        ),
        (
            "level.json",
            r#"{"storage":{"rootDirectory":"/tmp/x"},"log":{"level":"loud"}}"#,
            "log.level",
        ),
        (
            "delay.json",
            r#"{"storage":{"rootDirectory":"/tmp/x","gcDelay":"1 day"}}"#,
            "storage.gcdelay",
        ),
        (
            "dup.json",
            r#"{"storage":{"rootDirectory":"/tmp/x"},"Storage":{}}"#,
            "storage",
        ),
        (
            "metrics.json",
            r#"{"storage":{"rootDirectory":"/x"},"extensions":{"metrics":{"prometheus":{"path":"/v2/m"}}}}"#,
            "extensions.metrics.prometheus.path",
        ),
        (
            "signed.json",
            r#"{"storage":{"rootDirectory":"/x"},"extensions":{"sync":{"registries":[{"urls":["https://r"],"onlySigned":true}]}}}"#,
            "extensions.sync.registries[0].onlySigned`: not supported yet",
        ),
        (
            "retries.json",
            r#"{"storage":{"rootDirectory":"/x"},"extensions":{"sync":{"registries":[{"urls":["https://r"],"maxRetries":3}]}}}"#,
            "extensions.sync.registries[0].retryDelay`: required with maxRetries",
        ),
        (
            "tagregex.json",
            r#"{"storage":{"rootDirectory":"/x"},"extensions":{"sync":{"registries":[{"urls":["https://r"],"content":[{"prefix":"a","tags":{"regex":"("}}]}]}}}"#,
            "content[0].tags.regex",
        ),
        (
            "syncurl.json",
            r#"{"storage":{"rootDirectory":"/x"},"extensions":{"sync":{"registries":[{"urls":["registry:5000"]}]}}}"#,
            "is not an http(s) URL",
        ),
        ("empty.json", "{}", "empty"),
        ("broken.json", "{", "invalid JSON"),
        (
            "ldap.json",
            r#"{"storage":{"rootDirectory":"/x"},"http":{"auth":{"ldap":{"address":"l"}}}}"#,
            "http.auth.ldap`: not supported yet",
        ),
        (
            "nohtpasswd.json",
            r#"{"storage":{"rootDirectory":"/x"},"http":{"auth":{"htpasswd":{"path":"/nonexistent/h"}}}}"#,
            "/nonexistent/h",
        ),
        (
            "authtypo.json",
            r#"{"storage":{"rootDirectory":"/x"},"http":{"auth":{"htpassword":{}}}}"#,
            "http.auth.htpassword",
        ),
        (
            "aclnoauth.json",
            r#"{"storage":{"rootDirectory":"/x"},"http":{"accessControl":{"repositories":{"**":{"defaultPolicy":["read"]}}}}}"#,
            "requires one of htpasswd",
        ),
        (
            "badglob.json",
            r#"{"storage":{"rootDirectory":"/x"},"http":{"accessControl":{"repositories":{"[":{"anonymousPolicy":["read"]}}}}}"#,
            "plugin access-control: configuration refused",
        ),
        (
            "badaction.json",
            r#"{"storage":{"rootDirectory":"/x"},"http":{"accessControl":{"repositories":{"**":{"anonymousPolicy":["pull"]}}}}}"#,
            "pull",
        ),
        (
            "badplugin.json",
            r#"{"storage":{"rootDirectory":"/x"},"plugins":{"authorizer":{"builtin":"nope"}}}"#,
            "no built-in plugin named",
        ),
        (
            "twosources.json",
            r#"{"storage":{"rootDirectory":"/x"},"plugins":{"authorizer":{"builtin":"htpasswd","path":"/p.wasm"}}}"#,
            "exactly one of",
        ),
    ] {
        let path = write(&dir, name, text);
        let (ok, _, err) = run(&["verify", &path]);
        assert!(!ok, "{name} should fail");
        assert!(err.contains(needle), "{name}: {err}");
        let (ok, _, err) = run(&["serve", &path]);
        assert!(!ok, "serve {name} should refuse");
        assert!(err.contains(needle), "serve {name}: {err}");
    }
}

#[test]
fn keys_are_case_insensitive_in_json_and_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write(&dir, "c.yml", "DistSpecVersion: 1.1.1\nSTORAGE:\n  RootDirectory: /tmp/p\n  GCDelay: 1h30m\nHTTP:\n  Address: 0.0.0.0\n  Port: 5000\n");
    assert!(run(&["verify", &yaml]).0);
    let json = write(
        &dir,
        "c.conf",
        r#"{"storage":{"ROOTDIRECTORY":"/tmp/p","dedupe":false},"http":{"port":"5001"}}"#,
    );
    assert!(
        run(&["verify", &json]).0,
        "a file without a known extension is tried as JSON then YAML"
    );
}
