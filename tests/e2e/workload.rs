//! Workload identity (`http.auth.bearer`) against a real token issuer (`tests/oidc/issuer.mjs`:
//! discovery and a JWKS over HTTP, or over HTTPS with its own CA). zot's example configurations
//! (`examples/workload-identity`, from zot's workload identity guide) are loaded verbatim, but
//! for what only the test machine knows: the issuers' URLs, file paths, the storage root and
//! the port. Tokens are shaped like Kubernetes service-account and GitHub Actions tokens.

use portcullis_tests::clients::Sandbox;
use portcullis_tests::issuer::{token_service_key, Authority, Issuer, IssuerOptions};
use portcullis_tests::oci::{media, try_push_image};
use portcullis_tests::{client, client_from, free_port, htpasswd, merge, require, Registry, Setup};
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The issuers zot's examples name.
const K8S: &str = "https://kubernetes.default.svc.cluster.local";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// The programs every test here needs.
fn tools() -> bool {
    require("node") && require("openssl")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One of zot's example configurations with `substitutions` applied to its text.
fn example(name: &str, substitutions: &[(&str, &str)]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/workload-identity")
        .join(name);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in substitutions {
        assert!(text.contains(from), "{name} has no {from:?}");
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

/// Start a registry on `config` (merged over the test defaults) with `extra` merged in.
fn start(setup: Setup, config: Value, extra: Value) -> Registry {
    let mut config = setup.config(config);
    merge(&mut config, extra);
    setup.start(config)
}

/// A Kubernetes service-account token (the claims zot's guide shows).
fn service_account(issuer: &Issuer, namespace: &str, name: &str) -> String {
    issuer.mint(json!({
        "aud": ["zot"],
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
        "nbf": now(),
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
    }))
}

/// A GitHub Actions ID token for a workflow of `repository` (`owner/name`) run on `git_ref`.
fn actions_token(issuer: &Issuer, repository: &str, git_ref: &str) -> String {
    let (owner, _) = repository.split_once('/').unwrap();
    issuer.mint(json!({
        "aud": "zot",
        "sub": format!("repo:{repository}:ref:{git_ref}"),
        "nbf": now(),
        "repository": repository,
        "repository_owner": owner,
        "ref": git_ref,
        "ref_type": if git_ref.starts_with("refs/tags/") { "tag" } else { "branch" },
        "actor": "octocat",
        "event_name": "push",
        "workflow": "release",
        "job_workflow_ref": format!("{repository}/.github/workflows/release.yml@{git_ref}"),
        "runner_environment": "github-hosted",
    }))
}

/// A request with a bearer token (none: anonymous).
fn request(
    method: reqwest::Method,
    registry: &Registry,
    path: &str,
    token: Option<&str>,
) -> reqwest::blocking::RequestBuilder {
    let r = client().request(method, registry.at(path));
    match token {
        Some(token) => r.bearer_auth(token),
        None => r,
    }
}

/// GET `path`: status and body.
fn get(registry: &Registry, path: &str, token: Option<&str>) -> (u16, String) {
    let r = request(reqwest::Method::GET, registry, path, token)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// Push a small image as `repo:tag`: 201, or the first status that refused it.
fn push(registry: &Registry, token: &str, repo: &str, tag: &str) -> u16 {
    let seed = format!("{repo}:{tag}");
    try_push_image(&client(), &registry.url, (repo, tag), &seed, |r| {
        r.bearer_auth(token)
    })
}

/// DELETE a tag: the status.
fn delete(registry: &Registry, token: &str, repo: &str, tag: &str) -> u16 {
    let path = format!("/v2/{repo}/manifests/{tag}");
    request(reqwest::Method::DELETE, registry, &path, Some(token))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// The `WWW-Authenticate` header of an anonymous GET of `path`.
fn challenge(registry: &Registry, path: &str) -> String {
    let r = client().get(registry.at(path)).send().unwrap();
    assert_eq!(r.status(), 401, "{path}");
    r.headers()["WWW-Authenticate"].to_str().unwrap().to_owned()
}

/// Wait (briefly) for a log line containing every one of `needles`; panic with the log's
/// tail if none comes.
fn assert_logged(registry: &Registry, needles: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let logs = registry.logs();
        if logs
            .iter()
            .any(|line| needles.iter().all(|n| line.contains(n)))
        {
            return;
        }
        if Instant::now() > deadline {
            let tail = logs[logs.len().saturating_sub(15)..].join("\n");
            panic!("no log line with all of {needles:?}; the log ends with:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The denial's `detail.reason`.
fn reason(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["errors"][0]["detail"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_basic_example_accepts_service_account_tokens_fetching_keys_lazily() {
    if !tools() {
        return;
    }
    let issuer = Issuer::start();
    let registry = start(
        Setup::new(),
        example("basic.json", &[(K8S, &issuer.url)]),
        json!({}),
    );
    assert_eq!(issuer.fetches(), (0, 0), "nothing is fetched at start-up");
    assert_eq!(
        challenge(&registry, "/v2/"),
        r#"Bearer realm="zot",service="zot-service",scope="""#
    );
    assert_eq!(
        challenge(&registry, "/v2/team/app/tags/list"),
        r#"Bearer realm="zot",service="zot-service",scope="repository:team/app:pull""#
    );
    let token = service_account(&issuer, "flux-system", "source-controller");
    assert_eq!(get(&registry, "/v2/", Some(&token)).0, 200);
    assert_eq!(issuer.fetches(), (1, 1));
    // Without accessControl, an authenticated workload may do everything.
    assert_eq!(push(&registry, &token, "team/app", "v1"), 201);
    assert_eq!(delete(&registry, &token, "team/app", "v1"), 202);
    // Beyond zot: the token as a Basic password (pip, uv, kubelet credential providers).
    let r = client()
        .get(registry.at("/v2/team/app/tags/list"))
        .basic_auth("oauth", Some(&token))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "authenticated");
    // Verified tokens are remembered: no further fetches.
    for _ in 0..3 {
        assert_eq!(get(&registry, "/v2/", Some(&token)).0, 200);
    }
    assert_eq!(issuer.fetches(), (1, 1));
    // An audience the configuration does not list is refused.
    let other = issuer
        .mint(json!({"aud": ["https://zot.example.com"], "sub": "system:serviceaccount:a:b"}));
    assert_eq!(get(&registry, "/v2/", Some(&other)).0, 401);
}

#[test]
fn the_complete_example_grants_the_flux_controller_only() {
    if !tools() {
        return;
    }
    let issuer = Issuer::start();
    let setup = Setup::new();
    let root = setup.path().join("zot").display().to_string();
    let registry = start(
        setup,
        example(
            "complete.json",
            &[
                (K8S, &issuer.url),
                ("/tmp/zot", &root),
                ("\"8080\"", "\"0\""),
            ],
        ),
        json!({}),
    );
    assert!(registry.root.starts_with(&root));
    let flux = service_account(&issuer, "flux-system", "source-controller");
    assert_eq!(push(&registry, &flux, "flux/app", "v1"), 201);
    assert_eq!(
        get(&registry, "/v2/flux/app/manifests/v1", Some(&flux)).0,
        200
    );
    // The same service account name in another cluster (issuer) or namespace is someone else.
    let other = service_account(&issuer, "default", "source-controller");
    assert_eq!(
        get(&registry, "/v2/flux/app/manifests/v1", Some(&other)).0,
        403
    );
    assert_eq!(push(&registry, &other, "flux/app", "v2"), 403);
    // The second audience works as well.
    let second = issuer.mint(json!({
        "aud": "https://zot.example.com",
        "sub": "system:serviceaccount:flux-system:source-controller",
    }));
    assert_eq!(delete(&registry, &second, "flux/app", "v1"), 202);
    assert_eq!(get(&registry, "/v2/flux/app/manifests/v1", None).0, 401);
}

#[test]
fn the_custom_ca_examples_trust_the_issuers_own_ca() {
    if !tools() {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    let authority = Authority::create(pki.path());
    let issuer = Issuer::start_with(IssuerOptions {
        tls: Some(&authority),
        ..IssuerOptions::default()
    });
    assert!(issuer.url.starts_with("https://localhost:"));
    let ca_path = authority.ca_cert.display().to_string();
    let ca_pem = std::fs::read_to_string(&authority.ca_cert).unwrap();
    let ca_json = serde_json::to_string(&ca_pem).unwrap();
    let from_file = start(
        Setup::new(),
        example(
            "custom-ca-file.json",
            &[(K8S, &issuer.url), ("/etc/zot/k8s-ca.pem", &ca_path)],
        ),
        json!({}),
    );
    let inline = start(
        Setup::new(),
        example(
            "custom-ca-inline.json",
            &[
                (K8S, &issuer.url),
                (
                    r#""-----BEGIN CERTIFICATE-----\nMIIC...\n-----END CERTIFICATE-----""#,
                    &ca_json,
                ),
            ],
        ),
        json!({}),
    );
    let token = service_account(&issuer, "prod", "deployer");
    for registry in [&from_file, &inline] {
        assert_eq!(push(registry, &token, "prod/app", "v1"), 201);
    }
    // Without the CA the issuer cannot be trusted: 401, and the log says why.
    let untrusting = start(
        Setup::new(),
        example("basic.json", &[(K8S, &issuer.url)]),
        json!({}),
    );
    assert_eq!(get(&untrusting, "/v2/", Some(&token)).0, 401);
    assert_logged(
        &untrusting,
        &["cannot fetch the issuer's keys", "certificate"],
    );
    // A CA file that is not PEM stops the start, naming the key.
    let setup = Setup::new();
    let bogus = setup.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate").unwrap();
    let config = setup.config(example(
        "custom-ca-file.json",
        &[
            (K8S, &issuer.url),
            ("/etc/zot/k8s-ca.pem", &bogus.display().to_string()),
        ],
    ));
    let path = setup.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = std::process::Command::new(portcullis_tests::binary())
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificateauthority"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_cel_validations_example_maps_github_actions_tokens() {
    if !tools() {
        return;
    }
    let issuer = Issuer::start();
    let registry = start(
        Setup::new(),
        example("cel-validations.json", &[(GITHUB, &issuer.url)]),
        // The mapped groups meet accessControl, and so do the configuration's groups.
        json!({"http": {"accessControl": {
            "groups": {"releasers": {"users": ["my-org/app"]}},
            "repositories": {"my-org/**": {"policies": [
                {"groups": ["ci"], "actions": ["read", "create"]},
                {"groups": ["releasers"], "actions": ["update"]},
                {"users": ["my-org/app"], "actions": ["delete"]},
            ]}},
        }}}),
    );
    let app = actions_token(&issuer, "my-org/app", "refs/heads/main");
    let lib = actions_token(&issuer, "my-org/lib", "refs/heads/main");
    assert_eq!(push(&registry, &app, "my-org/app", "v1"), 201);
    assert_eq!(push(&registry, &lib, "my-org/lib", "v1"), 201);
    assert_eq!(push(&registry, &lib, "other/lib", "v1"), 403);
    // Only the releasers group may move a tag, only the user my-org/app may delete.
    assert_eq!(push(&registry, &app, "my-org/lib", "v1"), 201);
    assert_eq!(push(&registry, &lib, "my-org/app", "v1"), 403);
    assert_eq!(delete(&registry, &lib, "my-org/lib", "v1"), 403);
    assert_eq!(delete(&registry, &app, "my-org/lib", "v1"), 202);
    // The validations refuse, each with its message in the log.
    let outsider = actions_token(&issuer, "evil-org/app", "refs/heads/main");
    assert_eq!(get(&registry, "/v2/", Some(&outsider)).0, 401);
    assert_logged(
        &registry,
        &["OIDC claim validation failed: only my-org repositories are allowed"],
    );
    let tag_build = actions_token(&issuer, "my-org/app", "refs/tags/v1");
    let (status, body) = get(&registry, "/v2/", Some(&tag_build));
    assert_eq!(status, 401);
    assert!(!body.contains("branch"), "reasons stay in the log: {body}");
    assert_logged(
        &registry,
        &["OIDC claim validation failed: must be a branch reference"],
    );
}

#[test]
fn the_multiple_providers_example_tries_each_issuer_in_turn() {
    if !tools() {
        return;
    }
    let cluster = Issuer::start();
    let actions = Issuer::start();
    let registry = start(
        Setup::new(),
        example(
            "multiple-providers.json",
            &[(K8S, &cluster.url), (GITHUB, &actions.url)],
        ),
        json!({"http": {"accessControl": {"repositories": {
            "apps/**": {"policies": [
                {"groups": ["k8s-workloads"], "actions": ["read", "create"]},
                {"users": ["prod:app-controller"], "actions": ["delete"]},
            ]},
            "ci/**": {"policies": [{"groups": ["github-actions"], "actions": ["read", "create"]}]},
        }}}}),
    );
    let controller = service_account(&cluster, "prod", "app-controller");
    let workflow = actions_token(&actions, "my-org/app", "refs/heads/main");
    assert_eq!(push(&registry, &controller, "apps/web", "v1"), 201);
    assert_eq!(push(&registry, &controller, "ci/web", "v1"), 403);
    assert_eq!(push(&registry, &workflow, "ci/web", "v1"), 201);
    assert_eq!(push(&registry, &workflow, "apps/web", "v2"), 403);
    assert_eq!(delete(&registry, &workflow, "apps/web", "v1"), 403);
    assert_eq!(delete(&registry, &controller, "apps/web", "v1"), 202);
    // A token signed by issuer A that claims to be issuer B's: neither accepts it.
    let forged = actions.mint(json!({
        "iss": cluster.url,
        "aud": ["zot"],
        "sub": "system:serviceaccount:prod:app-controller",
        "kubernetes.io/serviceaccount/namespace": "prod",
        "kubernetes.io/serviceaccount/service-account.name": "app-controller",
    }));
    assert_eq!(get(&registry, "/v2/", Some(&forged)).0, 401);
    assert_logged(&registry, &[&cluster.url, "in the issuer's key set"]);
}

#[test]
fn the_access_control_example_applies_to_service_accounts() {
    if !tools() {
        return;
    }
    let issuer = Issuer::start();
    let mut config = example("basic.json", &[(K8S, &issuer.url)]);
    // The username expression of zot's expression table, and its access control example.
    config["http"]["auth"]["bearer"]["oidc"][0]["claimMapping"] = json!({"username": "claims.sub"});
    let mut access = example("access-control.json", &[]);
    config["http"]["accessControl"] = access["accessControl"].take();
    let registry = start(Setup::new(), config, json!({}));
    let controller = service_account(&issuer, "prod", "app-controller");
    let admin = service_account(&issuer, "default", "admin");
    let someone = service_account(&issuer, "default", "someone");
    assert_eq!(push(&registry, &controller, "app/web", "v1"), 201);
    assert_eq!(push(&registry, &controller, "app/web", "v1"), 201, "update");
    assert_eq!(push(&registry, &controller, "other/web", "v1"), 403);
    assert_eq!(delete(&registry, &controller, "app/web", "v1"), 403);
    assert_eq!(
        get(&registry, "/v2/app/web/manifests/v1", Some(&someone)).0,
        403,
        "app/** has no defaultPolicy"
    );
    assert_eq!(push(&registry, &admin, "other/web", "v1"), 201);
    assert_eq!(
        get(&registry, "/v2/other/web/manifests/v1", Some(&someone)).0,
        200
    );
    assert_eq!(push(&registry, &someone, "other/web", "v2"), 403);
    assert_eq!(get(&registry, "/v2/other/web/manifests/v1", None).0, 401);
    assert_eq!(delete(&registry, &admin, "other/web", "v1"), 202);
}

#[test]
fn docker_tokens_oidc_tokens_and_passwords_work_on_one_server() {
    if !tools() {
        return;
    }
    let pki = tempfile::tempdir().unwrap();
    let (signing_key, certificate) = token_service_key(pki.path());
    let issuer = Issuer::start_with(IssuerOptions {
        docker_key: Some(&signing_key),
        ..IssuerOptions::default()
    });
    let setup = Setup::new();
    let passwords = setup.path().join("htpasswd");
    std::fs::write(&passwords, htpasswd(&[("admin", "admin-pw")])).unwrap();
    let registry = start(
        setup,
        example(
            "docker-token-and-oidc.json",
            &[
                (K8S, &issuer.url),
                ("/etc/zot/auth.crt", &certificate.display().to_string()),
            ],
        ),
        json!({"http": {"auth": {"htpasswd": {"path": passwords}}}}),
    );
    let docker = |access: Value| {
        issuer.mint_raw(json!({"key": "docker", "claims": {
            "iss": "https://auth.myreg.io", "sub": "jenkins", "aud": "myauth", "access": access,
        }}))
    };
    let team =
        docker(json!([{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]));
    assert_eq!(push(&registry, &team, "team/app", "v1"), 201);
    assert_eq!(
        get(&registry, "/v2/team/app/manifests/v1", Some(&team)).0,
        200
    );
    // Beyond the token's access: 401 with the challenge for what is missing.
    let r = request(
        reqwest::Method::DELETE,
        &registry,
        "/v2/team/app/manifests/v1",
        Some(&team),
    )
    .send()
    .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["WWW-Authenticate"],
        r#"Bearer realm="https://auth.myreg.io/auth/token",service="myauth",scope="repository:team/app:delete""#
    );
    assert_eq!(push(&registry, &team, "other/app", "v1"), 401);
    // The catalog needs an entry with an empty name; an entry past its own `exp` grants nothing.
    assert_eq!(get(&registry, "/v2/_catalog", Some(&team)).0, 401);
    let catalog = docker(json!([{"type": "repository", "name": "", "actions": ["pull"]}]));
    assert_eq!(get(&registry, "/v2/_catalog", Some(&catalog)).0, 200);
    let lapsed = docker(
        json!([{"type": "repository", "name": "team/app", "actions": ["pull"], "exp": now() - 10}]),
    );
    assert_eq!(
        get(&registry, "/v2/team/app/manifests/v1", Some(&lapsed)).0,
        401
    );
    // A token the token service did not sign is refused.
    let forged = issuer
        .mint(json!({"access": [{"type": "repository", "name": "team/app", "actions": ["pull"]}]}));
    assert_eq!(
        get(&registry, "/v2/team/app/manifests/v1", Some(&forged)).0,
        401
    );
    // Workload tokens and passwords work beside Docker tokens.
    let workload = service_account(&issuer, "prod", "deployer");
    assert_eq!(push(&registry, &workload, "prod/app", "v1"), 201);
    let r = client()
        .get(registry.at("/v2/prod/app/manifests/v1"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn skopeo_and_podman_log_in_through_the_token_endpoint() {
    if !tools() || !require("skopeo") || !require("podman") || !require("umoci") {
        return;
    }
    let issuer = Issuer::start();
    let port = free_port();
    let realm = format!("http://127.0.0.1:{port}/zot/auth/token");
    let registry = start(
        Setup::new(),
        // zot's guide: bearer.realm advertises the token endpoint for login flows.
        example(
            "basic.json",
            &[(K8S, &issuer.url), ("\"zot\",", &format!("{realm:?},"))],
        ),
        json!({"http": {"port": port.to_string(), "accessControl": {"repositories": {"**": {
            "policies": [{"users": [format!("{}/system:serviceaccount:ci:builder", issuer.url)],
                          "actions": ["read", "create"]}],
        }}}}}),
    );
    let token = service_account(&issuer, "ci", "builder");
    let sandbox = Sandbox::new(&registry);
    let src = sandbox.build_images("layout");
    let dest = format!("docker://{}/team/app:v1", registry.host);
    sandbox.skopeo(&[
        "login",
        "--tls-verify=false",
        "-u",
        "oauth",
        "-p",
        &token,
        &registry.host,
    ]);
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &src.reference("v1"),
        &dest,
    ]);
    sandbox.skopeo(&["logout", &registry.host]);
    let err = sandbox.skopeo_fails(&["inspect", "--tls-verify=false", &dest]);
    assert!(
        err.contains("401") || err.to_lowercase().contains("unauthorized"),
        "{err}"
    );
    // podman, as a GitHub workflow would (`docker login -u oauth --password-stdin`).
    sandbox.podman(&[
        "login",
        "--tls-verify=false",
        "-u",
        "oauth",
        "-p",
        &token,
        &registry.host,
    ]);
    sandbox.podman(&[
        "pull",
        "--tls-verify=false",
        &format!("{}/team/app:v1", registry.host),
    ]);
    // The token endpoint echoed the issuer's token: it never minted one.
    let r = client()
        .get(format!(
            "{realm}?service=zot-service&scope=repository:team/app:pull"
        ))
        .basic_auth("oauth", Some(&token))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["Cache-Control"], "no-store");
    let answer: Value = r.json().unwrap();
    assert_eq!(answer["token"], token);
    assert_eq!(answer["access_token"], token);
    assert!(answer["expires_in"].as_u64().unwrap() <= 600);
    // A token the issuer did not sign gets the Basic challenge of the realm.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let r = client()
        .post(&realm)
        .form(&[("id_token", forged.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// The attacks on token verification, each from its own address (each address has its own
/// failed-login budget).
#[test]
fn forged_and_broken_tokens_are_refused_with_their_reason_logged() {
    if !tools() {
        return;
    }
    let issuer = Issuer::start();
    let registry = start(
        Setup::new(),
        json!({"http": {"auth": {"bearer": {"realm": "zot", "service": "zot-service", "oidc": [{
            "issuer": issuer.url,
            "audiences": ["zot"],
            "claimMapping": {
                "validations": [{"expression": "claims.sub.startsWith('system:serviceaccount:')",
                                 "message": "not a service account"}],
                "username": "claims['kubernetes.io/serviceaccount/service-account.name']",
            },
        }]}}}}),
        json!({}),
    );
    let good = service_account(&issuer, "prod", "app");
    assert_eq!(get(&registry, "/v2/", Some(&good)).0, 200);
    let claims = |extra: Value| {
        let mut c = json!({
            "aud": ["zot"], "sub": "system:serviceaccount:prod:app",
            "kubernetes.io/serviceaccount/service-account.name": "app",
        });
        merge(&mut c, extra);
        c
    };
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let body = b64(&claims(json!({"iss": issuer.url, "exp": now() + 600})));
    let parts: Vec<&str> = good.split('.').collect();
    let hmac_with_public_key = {
        use hmac::Mac as _;
        let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(issuer.public_pem().as_bytes()).unwrap();
        mac.update(format!("{header}.{body}").as_bytes());
        use base64::Engine as _;
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{body}.{sig}")
    };
    let attacks: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!("{}.{body}.", b64(&json!({"alg": "none", "typ": "JWT"}))),
            r#"algorithm \"none\" is not accepted"#,
        ),
        (
            "HS256 with the public key",
            hmac_with_public_key,
            r#"algorithm \"HS256\" is not accepted"#,
        ),
        (
            "wrong signature",
            format!("{}.{body}.{}", parts[0], parts[2]),
            "InvalidSignature",
        ),
        (
            "unknown kid",
            issuer.mint_raw(json!({"kid": "no-such-key", "claims": claims(json!({}))})),
            r#"no key \"no-such-key\""#,
        ),
        (
            "wrong iss",
            issuer.mint(claims(json!({"iss": "https://evil.example"}))),
            "InvalidIssuer",
        ),
        (
            "wrong aud",
            issuer.mint(claims(json!({"aud": "not-zot"}))),
            "InvalidAudience",
        ),
        (
            "expired",
            issuer.mint(claims(json!({"iat": now() - 7200, "exp": now() - 3600}))),
            "ExpiredSignature",
        ),
        (
            "nbf in the future",
            issuer.mint(claims(json!({"nbf": now() + 3600}))),
            "ImmatureSignature",
        ),
        (
            "iat in the future",
            issuer.mint(claims(json!({"iat": now() + 3600}))),
            "issued in the future",
        ),
        (
            "failed validation",
            issuer.mint(claims(json!({"sub": "user:mallory"}))),
            "OIDC claim validation failed: not a service account",
        ),
        (
            "empty username",
            issuer.mint(claims(
                json!({"kubernetes.io/serviceaccount/service-account.name": ""}),
            )),
            "the username expression gave an empty string",
        ),
        (
            "missing claim",
            issuer.mint(claims(
                json!({"kubernetes.io/serviceaccount/service-account.name": null}),
            )),
            "claimMapping.username",
        ),
        (
            "non-JSON payload",
            issuer.mint_raw(json!({"payload": "this is not JSON"})),
            "JSON",
        ),
        (
            "64 KiB token",
            issuer.mint(claims(json!({"padding": "x".repeat(64 << 10)}))),
            "token longer than",
        ),
    ];
    for (i, (attack, token, reason)) in attacks.iter().enumerate() {
        eprintln!("attack: {attack}");
        let from = client_from(Ipv4Addr::new(127, 0, 1, i as u8 + 1));
        let r = from
            .get(registry.at("/v2/"))
            .bearer_auth(token)
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{attack}");
        let body = r.text().unwrap();
        assert!(body.contains("UNAUTHORIZED"), "{attack}: {body}");
        assert_logged(&registry, &["authentication failed", reason]);
    }
    // A 1 MiB token is turned away by the header limit before anything reads it.
    let huge = "a".repeat(1 << 20);
    let r = client_from(Ipv4Addr::new(127, 0, 2, 1))
        .get(registry.at("/v2/"))
        .bearer_auth(&huge)
        .send();
    assert!(
        r.as_ref().map_or(true, |r| r.status() == 431),
        "{:?}",
        r.map(|r| r.status())
    );
    assert_eq!(
        get(&registry, "/v2/", Some(&good)).0,
        200,
        "the registry serves on"
    );
}

#[test]
fn key_rotation_is_picked_up_and_a_dead_issuer_means_401() {
    if !tools() {
        return;
    }
    let mut issuer = Issuer::start();
    let registry = start(
        Setup::new(),
        example("basic.json", &[(K8S, &issuer.url)]),
        json!({}),
    );
    let before = service_account(&issuer, "prod", "app");
    assert_eq!(get(&registry, "/v2/", Some(&before)).0, 200);
    // The issuer rotates to a key of another kind; the registry fetches the new key set when
    // a token names the new key (at most once every two seconds).
    issuer.rotate("ES256");
    std::thread::sleep(Duration::from_millis(2100));
    let after = service_account(&issuer, "prod", "app");
    assert_eq!(get(&registry, "/v2/", Some(&after)).0, 200);
    assert_eq!(issuer.fetches().1, 2);
    // The issuer goes down: keys fetched earlier still verify; a registry that never reached
    // the issuer answers 401, never 500, and keeps serving.
    let pending = service_account(&issuer, "prod", "late");
    let cold = start(
        Setup::new(),
        example("basic.json", &[(K8S, &issuer.url)]),
        json!({"http": {"accessControl": {"repositories": {"**": {"anonymousPolicy": ["read"]}}}}}),
    );
    issuer.stop();
    assert_eq!(get(&registry, "/v2/", Some(&pending)).0, 200);
    for _ in 0..3 {
        assert_eq!(get(&cold, "/v2/", Some(&pending)).0, 401);
    }
    assert_logged(&cold, &["invalid or unreachable oidc issuer"]);
    assert_eq!(get(&cold, "/v2/", None).0, 200);
}

#[test]
fn conditions_see_the_reference_and_the_token_claims() {
    if !tools() {
        return;
    }
    let issuer = Issuer::start();
    let registry = start(
        Setup::new(),
        json!({"http": {
            "auth": {"bearer": {"oidc": [{
                "issuer": issuer.url,
                "audiences": ["zot"],
                "claimMapping": {"username": "claims.repository", "groups": "['ci']"},
            }]}},
            "accessControl": {"repositories": {"**": {"policies": [
                {"groups": ["ci"], "actions": ["read", "create"], "conditions": [{
                    "expression": "req.referenceType != 'tag' || req.tag.startsWith('v')",
                    "message": "release builds push v* tags only",
                }]},
                {"groups": ["ci"], "actions": ["delete"], "conditions": [{
                    "expression": "req.claims.ref == 'refs/heads/main'",
                    "message": "only builds of main delete",
                }]},
            ]}}},
        }}),
        json!({}),
    );
    let main = actions_token(&issuer, "my-org/app", "refs/heads/main");
    let branch = actions_token(&issuer, "my-org/app", "refs/heads/feature");
    assert_eq!(push(&registry, &main, "my-org/app", "v1"), 201);
    assert_eq!(push(&registry, &branch, "my-org/app", "v2"), 201);
    let path = "/v2/my-org/app/manifests/latest";
    let manifest = client()
        .get(registry.at("/v2/my-org/app/manifests/v1"))
        .bearer_auth(&main)
        .header("Accept", media::MANIFEST)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let r = request(reqwest::Method::PUT, &registry, path, Some(&main))
        .header("Content-Type", media::MANIFEST)
        .body(manifest.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        reason(&r.text().unwrap()),
        "release builds push v* tags only"
    );
    let r = request(
        reqwest::Method::DELETE,
        &registry,
        "/v2/my-org/app/manifests/v2",
        Some(&branch),
    )
    .send()
    .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(reason(&r.text().unwrap()), "only builds of main delete");
    assert_eq!(delete(&registry, &main, "my-org/app", "v2"), 202);
}
