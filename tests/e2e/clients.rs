//! Real OCI clients against the registry: skopeo, podman and oras-py push and pull through it,
//! and the tests check what a user would see, with the clients and with plain HTTP.
//!
//! Each test starts its own registry and works in its own [`Sandbox`] (see
//! `tests/src/clients.rs`); the clients are installed by `scripts/install-test-deps`, and a test
//! is skipped outside CI when one is missing.

use portcullis_tests::clients::{fixture, require_python_module, Layout, Sandbox};
use portcullis_tests::oci::{media, sha256};
use portcullis_tests::{client, require, Registry};
use reqwest::blocking::Client;
use serde_json::Value;

/// Docker image manifest v2 schema 2.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Every manifest type containers/image accepts, as it sends them.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// A GET of a manifest.
struct Fetched {
    status: u16,
    content_type: String,
    digest: String,
    body: Vec<u8>,
}

impl Fetched {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("manifest is JSON")
    }
}

fn header(r: &reqwest::blocking::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// GET `/v2/<repo>/manifests/<reference>` accepting every manifest type.
fn get_manifest(http: &Client, registry: &Registry, repo: &str, reference: &str) -> Fetched {
    let r = http
        .get(registry.at(&format!("/v2/{repo}/manifests/{reference}")))
        .header("Accept", ACCEPT)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let content_type = header(&r, "Content-Type");
    let digest = header(&r, "Docker-Content-Digest");
    let body = r.bytes().unwrap().to_vec();
    Fetched {
        status,
        content_type,
        digest,
        body,
    }
}

/// GET a manifest and insist on 200.
fn manifest_ok(http: &Client, registry: &Registry, repo: &str, reference: &str) -> Fetched {
    let m = get_manifest(http, registry, repo, reference);
    assert_eq!(
        m.status,
        200,
        "GET {repo}:{reference}: {}",
        String::from_utf8_lossy(&m.body)
    );
    m
}

/// GET a blob's bytes; panics unless 200.
fn get_blob(http: &Client, registry: &Registry, repo: &str, digest: &str) -> Vec<u8> {
    let r = http
        .get(registry.at(&format!("/v2/{repo}/blobs/{digest}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "GET blob {repo}@{digest}");
    r.bytes().unwrap().to_vec()
}

/// The digests of a manifest's config and layers.
fn blob_digests(manifest: &Value) -> Vec<String> {
    let mut digests = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
    for layer in manifest["layers"].as_array().expect("layers") {
        digests.push(layer["digest"].as_str().unwrap().to_owned());
    }
    digests
}

fn tags(sandbox: &Sandbox, registry: &Registry, repo: &str) -> Vec<String> {
    let out = sandbox.skopeo(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/{repo}", registry.host),
    ]);
    let v: Value = serde_json::from_str(&out).expect("list-tags prints JSON");
    assert_eq!(v["Repository"], format!("{}/{repo}", registry.host));
    let mut tags: Vec<String> = v["Tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

/// skopeo copies an OCI layout into the registry and back without changing a byte.
#[test]
fn skopeo_copies_an_oci_layout_in_and_out_unchanged() {
    if !require("skopeo") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let src = sandbox.build_images("layout");
    let dest = format!("docker://{}/test/img:v1", registry.host);

    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &src.reference("v1"),
        &dest,
    ]);

    // The manifest comes back byte for byte: same digest as in the layout.
    let local = src.manifest("v1");
    let raw = sandbox.skopeo(&["inspect", "--tls-verify=false", "--raw", &dest]);
    assert_eq!(raw.as_bytes(), &local[..], "skopeo inspect --raw");
    assert_eq!(sha256(raw.as_bytes()), src.digest("v1"));

    // umoci writes no mediaType in the manifest: the type comes from the push's Content-Type.
    let m = manifest_ok(&http, &registry, "test/img", "v1");
    assert_eq!(m.content_type, media::MANIFEST);
    assert_eq!(m.digest, src.digest("v1"));
    assert_eq!(m.body, local);

    // `skopeo inspect` (not raw) reads the config through the registry.
    let info: Value =
        serde_json::from_str(&sandbox.skopeo(&["inspect", "--tls-verify=false", &dest])).unwrap();
    assert_eq!(info["Digest"], src.digest("v1"));
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Os"], "linux");
    assert_eq!(info["Env"], serde_json::json!(["FOO=bar"]));

    // Back into a new layout: same manifest, same config and layer bytes.
    let back = sandbox.layout("back");
    sandbox.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest,
        &back.reference("v1"),
    ]);
    assert_eq!(back.digest("v1"), src.digest("v1"));
    let manifest = src.json(&src.digest("v1"));
    let digests = blob_digests(&manifest);
    assert_eq!(digests.len(), 2, "config and one layer: {manifest}");
    for digest in &digests {
        assert_eq!(back.blob(digest), src.blob(digest), "blob {digest}");
        assert_eq!(
            get_blob(&http, &registry, "test/img", digest),
            src.blob(digest),
            "GET blob {digest}"
        );
    }
}

/// `skopeo copy --all` pushes a multi-arch index and both images it lists, unchanged.
#[test]
fn skopeo_copies_a_multi_arch_index_with_all() {
    if !require("skopeo") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let src = sandbox.build_images("layout");
    let dest = format!("docker://{}/test/multi:latest", registry.host);

    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--all",
        &src.reference("multi"),
        &dest,
    ]);

    let raw = sandbox.skopeo(&["inspect", "--tls-verify=false", "--raw", &dest]);
    assert_eq!(raw.as_bytes(), &src.manifest("multi")[..], "index bytes");

    let index = manifest_ok(&http, &registry, "test/multi", "latest");
    assert_eq!(index.content_type, media::INDEX);
    assert_eq!(index.digest, src.digest("multi"));
    let children = index.json()["manifests"].as_array().unwrap().clone();
    let mut architectures = Vec::new();
    for child in &children {
        let digest = child["digest"].as_str().unwrap();
        let m = manifest_ok(&http, &registry, "test/multi", digest);
        assert_eq!(m.content_type, media::MANIFEST, "child {digest}");
        assert_eq!(m.digest, digest);
        assert_eq!(m.body, src.blob(digest), "child {digest} bytes");
        for blob in blob_digests(&m.json()) {
            assert_eq!(
                get_blob(&http, &registry, "test/multi", &blob),
                src.blob(&blob)
            );
        }
        architectures.push(
            child["platform"]["architecture"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(architectures, ["amd64", "arm64"]);
    assert_eq!(
        [
            children[0]["digest"].as_str(),
            children[1]["digest"].as_str()
        ],
        [
            Some(src.digest("v1").as_str()),
            Some(src.digest("v1-arm64").as_str())
        ]
    );

    // skopeo picks the image for the platform asked for (reading its config through the index).
    for arch in ["amd64", "arm64"] {
        let info: Value = serde_json::from_str(&sandbox.skopeo(&[
            "--override-arch",
            arch,
            "--override-os",
            "linux",
            "inspect",
            "--tls-verify=false",
            &dest,
        ]))
        .unwrap();
        assert_eq!(info["Architecture"], arch);
    }

    // And back out with --all: the index keeps its digest.
    let back = sandbox.layout("back");
    sandbox.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--all",
        &dest,
        &back.reference("multi"),
    ]);
    assert_eq!(back.digest("multi"), src.digest("multi"));
    assert_eq!(back.blob(&src.digest("v1-arm64")), src.manifest("v1-arm64"));
}

/// skopeo converts to Docker v2 schema 2 on push; the registry serves it with the Docker type.
#[test]
fn skopeo_pushes_docker_v2s2() {
    if !require("skopeo") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let src = sandbox.build_images("layout");
    let dest = format!("docker://{}/test/docker:v2s2", registry.host);

    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &src.reference("v1"),
        &dest,
    ]);

    let r = http
        .get(registry.at("/v2/test/docker/manifests/v2s2"))
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "Content-Type"), DOCKER_MANIFEST);
    let digest = header(&r, "Docker-Content-Digest");
    let body = r.bytes().unwrap();
    assert_eq!(sha256(&body), digest);
    assert_ne!(digest, src.digest("v1"), "conversion gives a new manifest");
    let manifest: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST);
    assert_eq!(manifest["config"]["mediaType"], DOCKER_CONFIG);

    // HEAD agrees, and skopeo reads the converted image.
    let r = http
        .head(registry.at(&format!("/v2/test/docker/manifests/{digest}")))
        .header("Accept", DOCKER_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "Content-Type"), DOCKER_MANIFEST);
    assert_eq!(header(&r, "Content-Length"), body.len().to_string());
    let info: Value =
        serde_json::from_str(&sandbox.skopeo(&["inspect", "--tls-verify=false", &dest])).unwrap();
    assert_eq!(info["Digest"], digest);
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Env"], serde_json::json!(["FOO=bar"]));
}

/// `skopeo copy --all --format v2s2` turns the OCI index into a Docker manifest list.
#[test]
fn skopeo_pushes_docker_manifest_list() {
    if !require("skopeo") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let src = sandbox.build_images("layout");
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--all",
        "--format",
        "v2s2",
        &src.reference("multi"),
        &format!("docker://{}/test/docker:list", registry.host),
    ]);

    let list = manifest_ok(&http, &registry, "test/docker", "list");
    assert_eq!(list.content_type, DOCKER_LIST);
    assert_eq!(sha256(&list.body), list.digest);
    let list = list.json();
    assert_eq!(list["mediaType"], DOCKER_LIST);
    let mut architectures = Vec::new();
    for child in list["manifests"].as_array().unwrap() {
        assert_eq!(child["mediaType"], DOCKER_MANIFEST);
        let digest = child["digest"].as_str().unwrap();
        let m = manifest_ok(&http, &registry, "test/docker", digest);
        assert_eq!(m.content_type, DOCKER_MANIFEST);
        assert_eq!(m.json()["config"]["mediaType"], DOCKER_CONFIG);
        architectures.push(
            child["platform"]["architecture"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(architectures, ["amd64", "arm64"]);
}

/// `skopeo list-tags` shows what was pushed, and `skopeo delete` removes a tagged image.
#[test]
fn skopeo_lists_tags_and_deletes() {
    if !require("skopeo") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let src = sandbox.build_images("layout");
    let repo = format!("docker://{}/test/tags", registry.host);

    for (tag, dest_tag) in [("v1", "v1"), ("v1", "latest"), ("v1-arm64", "arm64")] {
        sandbox.skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            &src.reference(tag),
            &format!("{repo}:{dest_tag}"),
        ]);
    }
    assert_eq!(
        tags(&sandbox, &registry, "test/tags"),
        ["arm64", "latest", "v1"]
    );

    // Deleting through a tag deletes the manifest it points at (by digest, as skopeo does).
    sandbox.skopeo(&["delete", "--tls-verify=false", &format!("{repo}:arm64")]);
    let gone = get_manifest(&http, &registry, "test/tags", "arm64");
    assert_eq!(gone.status, 404, "deleted tag");
    let by_digest = get_manifest(&http, &registry, "test/tags", &src.digest("v1-arm64"));
    assert_eq!(by_digest.status, 404, "deleted manifest by digest");
    assert_eq!(tags(&sandbox, &registry, "test/tags"), ["latest", "v1"]);

    // The other image is untouched.
    let kept = manifest_ok(&http, &registry, "test/tags", "v1");
    assert_eq!(kept.digest, src.digest("v1"));

    // Deleting the image both remaining tags point at removes both.
    sandbox.skopeo(&["delete", "--tls-verify=false", &format!("{repo}:latest")]);
    for tag in ["v1", "latest"] {
        assert_eq!(
            get_manifest(&http, &registry, "test/tags", tag).status,
            404,
            "{tag}"
        );
    }
    assert!(tags(&sandbox, &registry, "test/tags").is_empty());
}

/// podman pulls what skopeo pushed, pushes it under another name, and pulls that by digest.
#[test]
fn podman_pulls_tags_pushes_and_pulls_by_digest() {
    if !require("skopeo") || !require("podman") || !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let src = sandbox.build_images("layout");
    let host = &registry.host;
    let original = format!("{host}/test/img:v1");
    let pushed = format!("{host}/pod/pushed:v1");
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &src.reference("v1"),
        &format!("docker://{original}"),
    ]);
    let config_digest = src.json(&src.digest("v1"))["config"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    sandbox.podman(&["pull", "--tls-verify=false", &original]);
    sandbox.podman(&["tag", &original, &pushed]);
    let digest_file = sandbox.join("pushed.digest");
    sandbox.podman(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        digest_file.to_str().unwrap(),
        &pushed,
    ]);
    let digest = std::fs::read_to_string(&digest_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(digest.starts_with("sha256:"), "digest file: {digest}");

    // The pushed manifest is there, by tag and by digest, with all its blobs.
    let m = manifest_ok(&http, &registry, "pod/pushed", "v1");
    assert_eq!(m.digest, digest);
    assert_eq!(sha256(&m.body), digest);
    assert_eq!(
        m.content_type,
        media::MANIFEST,
        "podman keeps an OCI image OCI"
    );
    let manifest = m.json();
    assert_eq!(manifest["config"]["digest"], config_digest.as_str());
    for blob in blob_digests(&manifest) {
        get_blob(&http, &registry, "pod/pushed", &blob);
    }
    assert_eq!(
        manifest_ok(&http, &registry, "pod/pushed", &digest).body,
        m.body
    );

    // Also as Docker v2s2 under another tag.
    sandbox.podman(&[
        "push",
        "--tls-verify=false",
        "--format",
        "v2s2",
        &pushed,
        &format!("{host}/pod/pushed:v2s2"),
    ]);
    let docker = manifest_ok(&http, &registry, "pod/pushed", "v2s2");
    assert_eq!(docker.content_type, DOCKER_MANIFEST);
    assert_eq!(docker.json()["config"]["mediaType"], DOCKER_CONFIG);

    // To a second registry, which has none of the blobs: podman recompresses the layer it
    // stores uncompressed and uploads it (a chunked PATCH without Content-Length, then
    // PUT ?digest=) instead of mounting it from another repository.
    let other = Registry::start();
    let other_host = &other.host;
    let copied_file = sandbox.join("copied.digest");
    sandbox.podman(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        copied_file.to_str().unwrap(),
        &pushed,
        &format!("{other_host}/pod/copied:v1"),
    ]);
    let copied_digest = std::fs::read_to_string(&copied_file)
        .unwrap()
        .trim()
        .to_owned();
    let c = manifest_ok(&http, &other, "pod/copied", "v1");
    assert_eq!(c.digest, copied_digest);
    let copied = c.json();
    assert_eq!(copied["config"]["digest"], config_digest.as_str());
    for layer in copied["layers"].as_array().unwrap() {
        let layer_digest = layer["digest"].as_str().unwrap();
        let bytes = get_blob(&http, &other, "pod/copied", layer_digest);
        assert_eq!(sha256(&bytes), layer_digest);
        assert_eq!(layer["size"], bytes.len());
    }

    // Forget every local image, then pull the pushed ones back by digest.
    sandbox.podman(&["rmi", "--all", "--force"]);
    for by_digest in [
        format!("{host}/pod/pushed@{digest}"),
        format!("{other_host}/pod/copied@{copied_digest}"),
    ] {
        sandbox.podman(&["pull", "--tls-verify=false", &by_digest]);
        let inspect: Value =
            serde_json::from_str(&sandbox.podman(&["image", "inspect", &by_digest])).unwrap();
        let image = &inspect[0];
        assert_eq!(
            format!("sha256:{}", image["Id"].as_str().unwrap()),
            config_digest,
            "image ID is the config digest: {image}"
        );
        let repo_digests: Vec<&str> = image["RepoDigests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert!(
            repo_digests.contains(&by_digest.as_str()),
            "{repo_digests:?}"
        );
        assert_eq!(image["Architecture"], "amd64");
    }
}

/// The referrers listing of a subject, optionally filtered by artifactType: the index and the
/// `OCI-Filters-Applied` header.
fn referrers(
    http: &Client,
    registry: &Registry,
    repo: &str,
    subject: &str,
    artifact_type: Option<&str>,
) -> (Value, String) {
    let mut url = registry.at(&format!("/v2/{repo}/referrers/{subject}"));
    if let Some(t) = artifact_type {
        url = format!("{url}?artifactType={t}");
    }
    let r = http.get(url).send().unwrap();
    assert_eq!(r.status(), 200, "referrers of {subject}");
    assert_eq!(header(&r, "Content-Type"), media::INDEX);
    let filters = header(&r, "OCI-Filters-Applied");
    let index: Value = r.json().unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], media::INDEX);
    (index, filters)
}

/// `(digest, artifactType)` of each descriptor in a referrers index, sorted.
fn listed(index: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = index["manifests"]
        .as_array()
        .expect("manifests array")
        .iter()
        .map(|d| {
            (
                d["digest"].as_str().unwrap().to_owned(),
                d["artifactType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// oras-py pushes and pulls an artifact and attaches referrers; the referrers API lists them.
#[test]
fn oras_pushes_artifacts_and_referrers() {
    if !require_python_module("oras") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let http = client();
    let script = fixture("oras_flow.py");
    let repo = "art/thing";
    let out = sandbox.python(
        &script,
        &[
            "push-and-attach",
            &registry.host,
            repo,
            sandbox.join("work").to_str().unwrap(),
        ],
    );
    let last = out.lines().last().unwrap_or_default();
    let pushed: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("script output {out:?}: {e}"));
    let s = |key: &str| pushed[key].as_str().unwrap_or_default().to_owned();
    let artifact = s("artifact_digest");
    let sig = s("sig_digest");
    let sbom = s("sbom_digest");
    const ARTIFACT_TYPE: &str = "application/vnd.portcullis.test.artifact.v1";
    const SBOM_TYPE: &str = "application/vnd.portcullis.test.sbom.v1";
    /// What oras-py's push() writes as the config type; the referrers API reports it as the
    /// artifactType of a manifest without one.
    const ORAS_CONFIG: &str = "application/vnd.unknown.config.v1+json";

    // The artifact as pushed and as read back.
    assert_eq!(s("artifact_push_digest"), artifact);
    assert_eq!(s("artifact_type_read"), ARTIFACT_TYPE);
    assert_eq!(s("pulled_name"), "artifact.txt");
    let m = manifest_ok(&http, &registry, repo, "v1");
    assert_eq!(m.digest, artifact);
    assert_eq!(m.content_type, media::MANIFEST);
    assert_eq!(m.json()["artifactType"], ARTIFACT_TYPE);
    assert_eq!(pushed["artifact_size"], m.body.len());

    // Pushing a manifest with a subject answers OCI-Subject.
    assert_eq!(
        s("sig_subject_header"),
        artifact,
        "OCI-Subject for the signature"
    );
    assert_eq!(
        s("sbom_subject_header"),
        artifact,
        "OCI-Subject for the SBOM"
    );
    assert_eq!(s("sbom_push_digest"), sbom);
    assert_eq!(pushed["tags"], serde_json::json!(["sig", "v1"]));

    // Both referrers are listed, each with its artifactType.
    let (index, filters) = referrers(&http, &registry, repo, &artifact, None);
    assert_eq!(filters, "", "no filter asked for");
    let mut expected = vec![
        (sig.clone(), ORAS_CONFIG.to_owned()),
        (sbom.clone(), SBOM_TYPE.to_owned()),
    ];
    expected.sort();
    assert_eq!(listed(&index), expected, "{index}");
    for d in index["manifests"].as_array().unwrap() {
        let digest = d["digest"].as_str().unwrap();
        let m = manifest_ok(&http, &registry, repo, digest);
        assert_eq!(d["size"], m.body.len(), "size of {digest}");
        assert_eq!(d["mediaType"], media::MANIFEST);
    }
    let sbom_entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["digest"] == sbom.as_str())
        .unwrap();
    assert_eq!(
        sbom_entry["annotations"]["org.opencontainers.image.created"],
        "1970-01-01T00:00:00Z"
    );

    // Filtering by artifactType.
    let (index, filters) = referrers(&http, &registry, repo, &artifact, Some(SBOM_TYPE));
    assert_eq!(filters, "artifactType");
    assert_eq!(listed(&index), [(sbom.clone(), SBOM_TYPE.to_owned())]);
    let (index, filters) = referrers(
        &http,
        &registry,
        repo,
        &artifact,
        Some("application/vnd.portcullis.test.none"),
    );
    assert_eq!(filters, "artifactType");
    assert_eq!(index["manifests"], serde_json::json!([]));

    // The referrers are not themselves referred to.
    let (index, _) = referrers(&http, &registry, repo, &sbom, None);
    assert_eq!(index["manifests"], serde_json::json!([]));

    // oras-py's delete_tag removes the signature manifest; it drops out of the listing.
    let out = sandbox.python(&script, &["delete-tag", &registry.host, repo, "sig"]);
    let after: Value = serde_json::from_str(out.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(after["tags"], serde_json::json!(["v1"]));
    assert_eq!(get_manifest(&http, &registry, repo, &sig).status, 404);
    let (index, _) = referrers(&http, &registry, repo, &artifact, None);
    assert_eq!(listed(&index), [(sbom, SBOM_TYPE.to_owned())]);
}

/// The fixture script builds the same images every time.
#[test]
fn fixture_images_are_reproducible() {
    if !require("umoci") || !require("jq") {
        return;
    }
    let registry = Registry::start();
    let sandbox = Sandbox::new(&registry);
    let a: Layout = sandbox.build_images("a");
    let b = sandbox.build_images("b");
    for tag in ["v1", "v1-arm64", "multi"] {
        assert_eq!(a.digest(tag), b.digest(tag), "{tag}");
    }
    let index = a.json(&a.digest("multi"));
    assert_eq!(index["mediaType"], media::INDEX);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}
