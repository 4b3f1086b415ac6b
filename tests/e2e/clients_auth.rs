//! Real clients against a registry with htpasswd credentials and zot-style accessControl:
//! skopeo and podman push and pull with credentials; anonymous and wrong-password pushes are
//! refused; a create-only user cannot overwrite a tag, which keeps its old manifest.

use portcullis_tests::clients::Sandbox;
use portcullis_tests::{client, require, start_gated};
use serde_json::json;

const USERS: [(&str, &str); 2] = [("writer", "writer-pw"), ("ci", "ci-pw")];

fn registry() -> portcullis_tests::Registry {
    start_gated(
        &USERS,
        json!({"repositories": {"**": {
        "anonymousPolicy": ["read"],
        "policies": [
            {"users": ["writer"], "actions": ["read", "create", "update", "delete"]},
            {"users": ["ci"], "actions": ["read", "create"]},
        ]}}}),
        json!({}),
    )
}

fn digest_of(registry: &portcullis_tests::Registry, reference: &str) -> String {
    let r = client()
        .head(registry.at(&format!("/v2/{reference}")))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{reference}");
    r.headers()["Docker-Content-Digest"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn skopeo_with_credentials_and_refusals() {
    if !require("skopeo") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = registry();
    let sandbox = Sandbox::new(&registry);
    let src = sandbox.build_images("layout");
    let dest = |tag: &str| format!("docker://{}/team/app:{tag}", registry.host);
    // Anonymous and wrong-password pushes are refused.
    let err = sandbox.skopeo_fails(&[
        "copy",
        "--dest-tls-verify=false",
        &src.reference("v1"),
        &dest("v1"),
    ]);
    assert!(
        err.contains("401") || err.to_lowercase().contains("unauthorized"),
        "{err}"
    );
    let err = sandbox.skopeo_fails(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "writer:wrong",
        &src.reference("v1"),
        &dest("v1"),
    ]);
    assert!(
        err.contains("401") || err.to_lowercase().contains("unauthorized"),
        "{err}"
    );
    // The writer pushes; anyone pulls.
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "writer:writer-pw",
        &src.reference("v1"),
        &dest("v1"),
    ]);
    assert_eq!(
        digest_of(&registry, "team/app/manifests/v1"),
        src.digest("v1")
    );
    let out = sandbox.join("pulled");
    sandbox.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest("v1"),
        &format!("oci:{}:v1", out.display()),
    ]);
    // The create-only CI user may add a tag but not move one.
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "ci:ci-pw",
        &src.reference("v1-arm64"),
        &dest("ci-new"),
    ]);
    let err = sandbox.skopeo_fails(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "ci:ci-pw",
        &src.reference("v1-arm64"),
        &dest("v1"),
    ]);
    assert!(
        err.contains("403") || err.to_lowercase().contains("denied"),
        "{err}"
    );
    assert_eq!(
        digest_of(&registry, "team/app/manifests/v1"),
        src.digest("v1"),
        "the tag kept its manifest"
    );
    // Deleting needs the delete action.
    sandbox.skopeo_fails(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        "ci:ci-pw",
        &dest("ci-new"),
    ]);
    sandbox.skopeo(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        "writer:writer-pw",
        &dest("ci-new"),
    ]);
}

#[test]
fn podman_pushes_and_pulls_with_credentials() {
    if !require("skopeo") || !require("podman") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = registry();
    let sandbox = Sandbox::new(&registry);
    let src = sandbox.build_images("layout");
    let host = &registry.host;
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "writer:writer-pw",
        &src.reference("v1"),
        &format!("docker://{host}/base/img:v1"),
    ]);
    sandbox.podman(&["pull", "--tls-verify=false", &format!("{host}/base/img:v1")]);
    let target = format!("{host}/podman/img:v1");
    sandbox.podman(&["tag", &format!("{host}/base/img:v1"), &target]);
    let digest_file = sandbox.join("pushed.digest");
    sandbox.podman(&[
        "push",
        "--tls-verify=false",
        "--creds",
        "ci:ci-pw",
        "--digestfile",
        digest_file.to_str().unwrap(),
        &target,
    ]);
    let pushed = std::fs::read_to_string(&digest_file).unwrap();
    assert_eq!(
        digest_of(&registry, "podman/img/manifests/v1"),
        pushed.trim()
    );
    sandbox.podman(&["rmi", "--all", "--force"]);
    sandbox.podman(&["pull", "--tls-verify=false", "--creds", "ci:ci-pw", &target]);
}
