//! Human sign-in end to end (issue 8): a real OpenID provider (panva's `oidc-provider`, started
//! from `tests/oidc/provider.mjs`), a real browser (Debian's Chromium driven by
//! `playwright-core` from `tests/oidc/browser.mjs`) and the real registry.
//!
//! - The homelab's test plan, in a browser: sign in at the provider, read identity and groups
//!   on the page, mint a key there, push with skopeo and that key, the key cannot move or
//!   delete a tag, an admin's key can, anonymous pull, metrics without auth, revoke on the
//!   page, sign out.
//! - Attacks, driven over HTTP by [`Agent`] (a cookie jar that follows redirects by hand and
//!   fills in the provider's login form): state mismatch, a replayed callback and code, ID
//!   tokens with a bad signature, nonce, audience, issuer or expiry (the provider's test hook
//!   breaks them), expired sessions, a cookie without the UI header, `callback_ui` elsewhere,
//!   one user's key presented as another's, revoked and expired keys, scope escalation, reuse
//!   of a cookie after sign-out; the public (PKCE-only) and `private_key_jwt` clients.
//! - A provider that is down when the registry starts, and during a sign-in.
//!
//! The tests skip outside CI when node, the node modules (`npm ci` in `tests/oidc`, done by
//! `scripts/install-test-deps`), Chromium or skopeo are missing.

use portcullis_tests::clients::Sandbox;
use portcullis_tests::oci::manifest_digest;
use portcullis_tests::{client, merge, require, Registry, Setup};
use reqwest::blocking::{Client, Response};
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const UI: (&str, &str) = ("X-ZOT-API-CLIENT", "zot-ui");
const CI: (&str, &str) = ("ci@example.test", "ci-password");
const BOSS: (&str, &str) = ("boss@example.test", "boss-password");
const NOGROUPS: (&str, &str) = ("nogroups@example.test", "nogroups-password");
const SOLO: (&str, &str) = ("solo@example.test", "solo-password");
const MALLORY: (&str, &str) = ("mallory@example.test", "mallory-password");

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// Whether node and the node modules are there (skip outside CI when not).
fn require_node() -> bool {
    if !require("node") {
        return false;
    }
    if oidc_dir().join("node_modules/oidc-provider").is_dir()
        && oidc_dir().join("node_modules/playwright-core").is_dir()
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tests/oidc/node_modules is required in CI (npm ci, by scripts/install-test-deps)"
    );
    eprintln!("skipping: run `npm ci` in tests/oidc (scripts/install-test-deps)");
    false
}

/// A port nobody listens on now (for a registry whose redirect URI must be known before it
/// starts, and for a provider that starts later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test OpenID provider, stopped on drop (and by itself when this process ends: it exits
/// when its standard input closes).
struct Op {
    child: Child,
    _stdin: ChildStdin,
    _stdout: BufReader<ChildStdout>,
    issuer: String,
    secret: String,
    key_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Op {
    /// Start the provider on `port` (0: any).
    fn start(port: u16) -> Op {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("client-key.pem");
        let mut child = Command::new("node")
            .arg(oidc_dir().join("provider.mjs"))
            .args(["--port", &port.to_string()])
            .arg("--client-key")
            .arg(&key_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node provider.mjs");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("provider.mjs did not start ({e}): {line:?}"));
        Op {
            child,
            _stdin: stdin,
            _stdout: stdout,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            secret: ready["clients"]["confidential"]["clientsecret"]
                .as_str()
                .unwrap()
                .to_owned(),
            key_file,
            _dir: dir,
        }
    }

    /// Make the token endpoint's next answer for `account` carry a broken ID token.
    fn tamper(&self, account: &str, mode: &str) {
        let r = client()
            .post(format!("{}/__test/tamper", self.issuer))
            .json(&json!({"account": account, "mode": mode}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 204, "tamper {mode}");
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider the tests of this process share (the attacks change only the one account's
/// next token they ask for).
fn shared_op() -> &'static Op {
    static OP: OnceLock<Op> = OnceLock::new();
    OP.get_or_init(|| Op::start(0))
}

/// How the registry authenticates to the provider.
#[derive(Clone, Copy)]
enum Kind {
    /// `client_secret_basic`, from a `credentialsFile` (the homelab's way).
    Confidential,
    /// No secret: PKCE alone.
    Public,
    /// `private_key_jwt` with `keypath`.
    PrivateKeyJwt,
}

/// The homelab's configuration (issue 8), against `op`, on a port chosen here (the redirect
/// URI must name it), with `extra` merged in.
fn homelab(op: &Op, kind: Kind, extra: Value) -> Registry {
    homelab_on(&op.issuer, &op.secret, &op.key_file, kind, extra)
}

fn homelab_on(issuer: &str, secret: &str, key_file: &Path, kind: Kind, extra: Value) -> Registry {
    let setup = Setup::new();
    let port = free_port();
    let mut provider = json!({
        "issuer": issuer,
        "keypath": "",
        "scopes": ["openid", "profile", "email", "groups"],
    });
    match kind {
        Kind::Confidential => {
            let file = setup.path().join("oidc-credentials.json");
            std::fs::write(
                &file,
                json!({"clientid": "portcullis", "clientsecret": secret}).to_string(),
            )
            .unwrap();
            provider["credentialsFile"] = json!(file);
        }
        Kind::Public => provider["clientid"] = json!("portcullis-public"),
        Kind::PrivateKeyJwt => {
            provider["clientid"] = json!("portcullis-pkjwt");
            provider["keypath"] = json!(key_file);
        }
    }
    let mut config = setup.config(json!({
        "http": {
            "port": port.to_string(),
            "externalUrl": format!("http://127.0.0.1:{port}"),
            "auth": {
                "openid": {"providers": {"oidc": provider}},
                "apikey": true,
            },
            "accessControl": {
                "repositories": {"**": {"anonymousPolicy": ["read"], "policies": [
                    {"groups": ["artifact-workloads"], "actions": ["read", "create"]},
                    {"groups": ["admins"], "actions": ["read", "create", "update", "delete"]}]}},
                "metrics": {"users": [""]},
            },
        },
        "extensions": {"metrics": {"enable": true}},
    }));
    merge(&mut config, extra);
    setup.start(config)
}

/// A cookie jar that follows redirects by hand (a browser without a browser). Cookies ignore
/// ports, as in a browser: the provider and the registry both live on 127.0.0.1.
struct Agent {
    http: Client,
    jar: BTreeMap<String, String>,
}

/// Where a sign-in stands when the provider sends the browser back.
struct Callback {
    url: String,
    code: String,
    state: String,
}

impl Agent {
    fn new() -> Agent {
        Agent {
            http: client(),
            jar: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &Response) {
        for value in r.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let gone = value.is_empty()
                || text.to_ascii_lowercase().contains("max-age=0")
                || text
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970");
            if gone {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    fn get(&mut self, url: &str) -> Response {
        let r = self
            .http
            .get(url)
            .header("Cookie", self.cookie_header())
            .send()
            .unwrap();
        self.keep(&r);
        r
    }

    fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Response {
        let r = self
            .http
            .post(url)
            .header("Cookie", self.cookie_header())
            .form(form)
            .send()
            .unwrap();
        self.keep(&r);
        r
    }

    /// `GET /zot/auth/login`: the provider's authorization URL (the login cookie is kept).
    fn begin(&mut self, reg: &Registry, callback_ui: Option<&str>) -> String {
        let mut url = Url::parse(&reg.at("/zot/auth/login")).unwrap();
        url.query_pairs_mut().append_pair("provider", "oidc");
        if let Some(c) = callback_ui {
            url.query_pairs_mut().append_pair("callback_ui", c);
        }
        let r = self.get(url.as_str());
        assert_eq!(r.status(), 302, "login: {:?}", r.text());
        location(&r, url.as_str())
    }

    /// At the provider: follow its redirects and sign in as `user`; returns where the provider
    /// sends the browser back (not followed).
    fn authorize(&mut self, authorization: &str, user: (&str, &str)) -> Callback {
        let mut url = authorization.to_owned();
        for _ in 0..12 {
            let r = self.get(&url);
            let status = r.status().as_u16();
            if (300..400).contains(&status) {
                url = location(&r, &url);
            } else if status == 200 {
                let page = r.text().unwrap();
                let action = between(&page, "action=\"", "\"")
                    .unwrap_or_else(|| panic!("no login form at {url}: {page}"));
                let target = Url::parse(&url).unwrap().join(action).unwrap().to_string();
                let r = self.post_form(&target, &[("login", user.0), ("password", user.1)]);
                assert_eq!(r.status(), 303, "login at the provider");
                url = location(&r, &target);
            } else {
                panic!(
                    "the provider answered {status} at {url}: {}",
                    r.text().unwrap()
                );
            }
            if url.contains("/zot/auth/callback/") {
                let parsed = Url::parse(&url).unwrap();
                let q: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
                return Callback {
                    code: q.get("code").cloned().unwrap_or_default(),
                    state: q.get("state").cloned().unwrap_or_default(),
                    url,
                };
            }
        }
        panic!("too many redirects from {authorization}");
    }

    /// The whole sign-in: begin, authorize, deliver the callback; returns the callback's answer.
    fn sign_in(
        &mut self,
        reg: &Registry,
        user: (&str, &str),
        callback_ui: Option<&str>,
    ) -> Response {
        let authorization = self.begin(reg, callback_ui);
        let callback = self.authorize(&authorization, user);
        self.get(&callback.url)
    }

    /// The session cookie, as a `Cookie` header value.
    fn session(&self) -> Option<String> {
        self.jar.get("session").map(|v| format!("session={v}"))
    }
}

fn location(r: &Response, base: &str) -> String {
    let loc = r.headers()["location"].to_str().unwrap();
    Url::parse(base).unwrap().join(loc).unwrap().to_string()
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// Whether a response starts a session.
fn sets_session(r: &Response) -> bool {
    r.headers().get_all("set-cookie").iter().any(|v| {
        v.to_str().unwrap().starts_with("session=") && !v.to_str().unwrap().starts_with("session=;")
    })
}

/// `GET /portcullis/identity` with a session cookie and the UI header.
fn identity(reg: &Registry, cookie: &str) -> Response {
    client()
        .get(reg.at("/portcullis/identity"))
        .header(UI.0, UI.1)
        .header("Cookie", cookie)
        .send()
        .unwrap()
}

/// Mint a key through the API with a session; returns (key, uuid).
fn mint(reg: &Registry, cookie: &str, body: Value) -> (String, String) {
    let r = client()
        .post(reg.at("/zot/auth/apikey"))
        .header(UI.0, UI.1)
        .header("Cookie", cookie)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    (
        v["apiKey"].as_str().unwrap().to_owned(),
        v["uuid"].as_str().unwrap().to_owned(),
    )
}

/// A sign-in that must succeed: the session cookie.
fn signed_in(reg: &Registry, user: (&str, &str)) -> String {
    let mut agent = Agent::new();
    let r = agent.sign_in(reg, user, None);
    assert_eq!(
        r.status(),
        201,
        "sign-in of {}: {:?}; registry: {:?}",
        user.0,
        r.text(),
        sign_in_logs(reg)
    );
    agent.session().expect("a session cookie")
}

/// What the registry logged about sign-ins.
fn sign_in_logs(reg: &Registry) -> Vec<String> {
    std::thread::sleep(Duration::from_millis(300)); // the log readers are threads
    reg.logs()
        .into_iter()
        .filter(|l| l.contains("sign-in") || l.contains("OpenID"))
        .collect()
}

/// What a registry logged that contains `needle`.
fn logged(reg: &Registry, needle: &str) -> bool {
    std::thread::sleep(Duration::from_millis(300)); // the log readers are threads
    reg.logs().iter().any(|l| l.contains(needle))
}

/// Push a one-layer image with Basic `user:secret`; the manifest push's status.
fn push(reg: &Registry, user: &str, secret: &str, repo: &str, tag: &str, seed: &str) -> u16 {
    let authorize = |r: reqwest::blocking::RequestBuilder| r.basic_auth(user, Some(secret));
    portcullis_tests::oci::try_push_image(&client(), &reg.url, (repo, tag), seed, authorize)
}

fn catalog(reg: &Registry, user: &str, secret: &str) -> u16 {
    client()
        .get(reg.at("/v2/_catalog"))
        .basic_auth(user, Some(secret))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

// ---------------------------------------------------------------------------------------------
// The browser.

/// Chromium behind `tests/oidc/browser.mjs`; closed on drop.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Browser {
    fn start(shots: &Path) -> Browser {
        let _ = std::fs::remove_dir_all(shots);
        std::fs::create_dir_all(shots).unwrap();
        let mut child = Command::new("node")
            .arg(oidc_dir().join("browser.mjs"))
            .arg(shots)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node browser.mjs");
        Browser {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    /// Run one command; panics unless the browser did it.
    fn run(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("browser.mjs answered {line:?} to {command} ({e})"));
        assert_eq!(
            answer["ok"],
            true,
            "browser: {command} failed: {}",
            answer["error"].as_str().unwrap_or_default()
        );
        answer
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", json!({"op": "close"}));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-output/signin")
}

fn skopeo_fails_with(err: &str, codes: &[&str]) -> bool {
    let lower = err.to_lowercase();
    codes.iter().any(|c| err.contains(c))
        || (codes.contains(&"401") && lower.contains("unauthorized"))
        || (codes.contains(&"403") && lower.contains("denied"))
}

/// The homelab's test plan, in words of issue 8, with a real browser and skopeo.
#[test]
fn homelab_test_plan_in_a_browser() {
    if !require_node()
        || !require("chromium")
        || !require("skopeo")
        || !require("umoci")
        || !require("jq")
    {
        return;
    }
    let op = shared_op();
    let reg = homelab(op, Kind::Confidential, json!({}));
    let sandbox = Sandbox::new(&reg);
    let images = sandbox.build_images("layout");
    let dest = |tag: &str| format!("docker://{}/team/app:{tag}", reg.host);

    // Anonymous pull works (reading is open); unauthenticated push fails with 401.
    assert_eq!(
        client()
            .get(reg.at("/v2/_catalog"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let err = sandbox.skopeo_fails(&[
        "copy",
        "--dest-tls-verify=false",
        &images.reference("v1"),
        &dest("v1"),
    ]);
    assert!(skopeo_fails_with(&err, &["401"]), "{err}");
    let r = client()
        .post(reg.at("/v2/team/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // OIDC browser login redirects to the provider and back.
    let mut browser = Browser::start(&shots_dir());
    let ci = browser.run(json!({"op": "signin", "as": "ci", "registry": reg.url,
        "provider": "oidc", "user": CI.0, "password": CI.1}));
    assert!(
        ci["atProvider"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/interaction/", op.issuer)),
        "{ci}"
    );
    let trail: Vec<&str> = ci["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        trail
            .iter()
            .any(|u| u.starts_with(&format!("{}/zot/auth/login?provider=oidc", reg.url))),
        "{trail:?}"
    );
    assert!(
        trail
            .iter()
            .any(|u| u.starts_with(&format!("{}/auth?", op.issuer))),
        "{trail:?}"
    );
    assert!(
        trail
            .iter()
            .any(|u| u.starts_with(&format!("{}/zot/auth/callback/oidc?code=", reg.url))),
        "{trail:?}"
    );
    assert_eq!(
        ci["url"],
        format!("{}/", reg.url),
        "callback_ui=/ brings the browser home"
    );
    // The page shows who, how, and the groups from the provider's groups claim.
    assert_eq!(ci["signedIn"], true, "{ci}");
    assert_eq!(ci["user"], CI.0);
    assert_eq!(ci["source"], "openid:oidc");
    assert_eq!(ci["groups"], "artifact-workloads");

    // A key is minted on the page and read from it.
    let minted = browser.run(json!({"op": "mint", "as": "ci", "label": "forgejo"}));
    let key = minted["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with("zak_")
            && key.len() == 36
            && key[4..].chars().all(|c| c.is_ascii_hexdigit()),
        "{key}"
    );
    let ci_creds = format!("{}:{key}", CI.0);

    // skopeo pushes with it: a new tag.
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &ci_creds,
        &images.reference("v1"),
        &dest("v1"),
    ]);
    assert_eq!(
        manifest_digest(&reg, "team/app", "v1"),
        Some(images.digest("v1"))
    );
    // (Another image than the one v1 will move to: deleting ci-new by digest must not take
    // v1 with it.)
    sandbox.skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        &ci_creds,
        &images.reference("multi"),
        &dest("ci-new"),
    ]);
    // The same key can never overwrite or delete a tag (403).
    let err = sandbox.skopeo_fails(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &ci_creds,
        &images.reference("v1-arm64"),
        &dest("v1"),
    ]);
    assert!(skopeo_fails_with(&err, &["403"]), "{err}");
    assert_eq!(
        manifest_digest(&reg, "team/app", "v1"),
        Some(images.digest("v1")),
        "the tag kept its manifest"
    );
    let err = sandbox.skopeo_fails(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        &ci_creds,
        &dest("ci-new"),
    ]);
    assert!(skopeo_fails_with(&err, &["403"]), "{err}");
    let r = client()
        .delete(reg.at(&format!("/v2/team/app/manifests/{}", images.digest("v1"))))
        .basic_auth(CI.0, Some(&key))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    // The key carries its owner's groups (from the provider, at the owner's sign-in).
    let me: Value = client()
        .get(reg.at("/portcullis/identity"))
        .basic_auth(CI.0, Some(&key))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["groups"], json!(["artifact-workloads"]), "{me}");

    // A user in admins signs in (another browser profile), mints a key, and can.
    let boss = browser.run(json!({"op": "signin", "as": "boss", "registry": reg.url,
        "provider": "oidc", "user": BOSS.0, "password": BOSS.1}));
    assert_eq!(boss["user"], BOSS.0);
    assert_eq!(boss["groups"], "admins");
    let boss_key = browser.run(json!({"op": "mint", "as": "boss", "label": "break-glass"}))["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let boss_creds = format!("{}:{boss_key}", BOSS.0);
    sandbox.skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &boss_creds,
        &images.reference("v1-arm64"),
        &dest("v1"),
    ]);
    assert_eq!(
        manifest_digest(&reg, "team/app", "v1"),
        Some(images.digest("v1-arm64")),
        "an admin moves the tag"
    );
    sandbox.skopeo(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        &boss_creds,
        &dest("ci-new"),
    ]);
    assert_eq!(manifest_digest(&reg, "team/app", "ci-new"), None);

    // Anonymous pull.
    let pulled = sandbox.join("pulled");
    sandbox.skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &dest("v1"),
        &format!("oci:{}:v1", pulled.display()),
    ]);
    // Metrics are readable without auth.
    let r = client().get(reg.at("/metrics")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("# TYPE"), "Prometheus text");

    // The page lists the key with its last use; revoking it there stops it at once.
    let rows = browser.run(json!({"op": "keys", "as": "ci"}))["rows"].clone();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "forgejo");
    assert_ne!(rows[0][4], "never", "last use is shown: {rows:?}");
    assert_eq!(catalog(&reg, CI.0, &key), 200);
    browser.run(json!({"op": "revoke", "as": "ci", "label": "forgejo"}));
    assert_eq!(
        catalog(&reg, CI.0, &key),
        401,
        "a revoked key stops at once"
    );
    let err = sandbox.skopeo_fails(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &ci_creds,
        &images.reference("v1"),
        &dest("after-revoke"),
    ]);
    assert!(skopeo_fails_with(&err, &["401"]), "{err}");
    assert_eq!(catalog(&reg, BOSS.0, &boss_key), 200, "other keys live on");

    // Sign out: at the registry, then at the provider; the old cookie is dead.
    let cookies = browser.run(json!({"op": "cookies", "as": "ci"}))["cookies"].clone();
    let session = cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "session")
        .expect("the browser holds a session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    let old = format!("session={}", session["value"].as_str().unwrap());
    assert_eq!(identity(&reg, &old).status(), 200);
    let out = browser.run(json!({"op": "signout", "as": "ci", "registry": reg.url}));
    let trail: Vec<&str> = out["trail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert!(
        trail
            .iter()
            .any(|u| u.starts_with(&format!("{}/session/end", op.issuer))),
        "{trail:?}"
    );
    assert_eq!(out["signedIn"], false, "{out}");
    assert!(
        out["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/login", reg.url)),
        "{out}"
    );
    assert_eq!(
        identity(&reg, &old).status(),
        401,
        "the old cookie is dead after sign-out"
    );
    let cookies = browser.run(json!({"op": "cookies", "as": "ci"}))["cookies"].clone();
    assert!(
        !cookies
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "session"),
        "{cookies}"
    );
    // The page ran without a script error or a Content-Security-Policy violation.
    for who in ["ci", "boss"] {
        let errors = browser.run(json!({"op": "errors", "as": who}))["errors"].clone();
        // A 401 from /portcullis/identity before sign-in is logged as a failed load: expected.
        let errors: Vec<&str> = errors
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .filter(|e| !e.starts_with("Failed to load resource"))
            .collect();
        assert!(errors.is_empty(), "{who}'s page: {errors:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Attacks on the sign-in.

/// The `state` of a sign-in must come back to the browser that started it, once.
#[test]
fn state_mismatch_and_replayed_callbacks_are_refused() {
    if !require_node() {
        return;
    }
    let reg = homelab(shared_op(), Kind::Confidential, json!({}));
    // Alice's browser goes to the provider; the provider sends it back with a code.
    let mut alice = Agent::new();
    let authorization = alice.begin(&reg, None);
    let back = alice.authorize(&authorization, CI);
    assert!(
        !back.code.is_empty() && !back.state.is_empty(),
        "{}",
        back.url
    );

    // An attacker's browser (its own sign-in begun) is handed alice's callback: refused.
    let mut eve = Agent::new();
    eve.begin(&reg, None);
    let r = eve.get(&back.url);
    assert_eq!(r.status(), 401);
    assert!(!sets_session(&r));
    // A browser that began no sign-in (login CSRF: a link to the callback) is refused too.
    let r = Agent::new().get(&back.url);
    assert_eq!(r.status(), 401);
    assert!(!sets_session(&r));
    // Alice's cookie with another state in the query: refused.
    let forged = back.url.replace(&back.state, "forged-state");
    let r = alice
        .http
        .get(&forged)
        .header("Cookie", alice.cookie_header())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // None of that spent alice's sign-in: her own callback works, once.
    let r = alice.get(&back.url);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let cookie = alice.session().unwrap();
    assert_eq!(identity(&reg, &cookie).status(), 200);
    // Replaying the callback (same state and code, same login cookie): refused.
    let r = alice
        .http
        .get(&back.url)
        .header("Cookie", format!("portcullis-login={}", back.state))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!sets_session(&r));
    // The used code inside a fresh sign-in of the attacker's (its state, its cookie): the
    // provider refuses the code (used, and bound to alice's PKCE verifier).
    let mut eve = Agent::new();
    let authorization = eve.begin(&reg, None);
    let state = Url::parse(&authorization)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = eve.get(&reg.at(&format!(
        "/zot/auth/callback/oidc?code={}&state={state}",
        back.code
    )));
    assert_eq!(r.status(), 401);
    assert!(!sets_session(&r));
    assert!(
        logged(&reg, "code exchange failed"),
        "the provider refused the code"
    );
    // An error from the provider, and a callback without a code, are refusals too.
    let r = eve.get(&reg.at("/zot/auth/callback/oidc?error=access_denied&state=x"));
    assert_eq!(r.status(), 401);
    let r = eve.get(&reg.at("/zot/auth/callback/nope?code=a&state=b"));
    assert_eq!(r.status(), 400, "unknown provider");
}

/// ID tokens broken at the provider's token endpoint (a real provider, its own key for the
/// re-signed ones) never start a session; the next honest sign-in does.
#[test]
fn broken_id_tokens_are_refused() {
    if !require_node() {
        return;
    }
    let op = shared_op();
    let reg = homelab(op, Kind::Confidential, json!({}));
    for mode in ["signature", "nonce", "audience", "issuer", "expired"] {
        op.tamper(MALLORY.0, mode);
        let mut agent = Agent::new();
        let r = agent.sign_in(&reg, MALLORY, None);
        assert_eq!(r.status(), 401, "{mode}");
        assert!(!sets_session(&r), "{mode}");
        assert!(agent.session().is_none(), "{mode}");
    }
    // The log arrives through a pipe: its last line may trail the last response a little.
    let refusals = || {
        reg.logs()
            .iter()
            .filter(|l| l.contains("ID token refused"))
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while refusals() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        refusals(),
        5,
        "every broken token was refused by its check: {:?}",
        reg.logs()
    );
    // The hook is one-shot: now mallory signs in.
    let cookie = signed_in(&reg, MALLORY);
    let me: Value = identity(&reg, &cookie).json().unwrap();
    assert_eq!(me["username"], MALLORY.0);
}

/// `callback_ui` sends the browser only to this registry or an allowed origin.
#[test]
fn callback_ui_is_never_an_open_redirect() {
    if !require_node() {
        return;
    }
    let reg = homelab(
        shared_op(),
        Kind::Confidential,
        json!({"http": {"auth": {"openid": {"callbackAllowOrigins": ["http://ui.example.test"]}}}}),
    );
    let other_port = format!("http://127.0.0.1:{}/", free_port());
    let cases: [(&str, &str); 8] = [
        ("https://evil.example/steal", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        (&other_port, "/"),
        ("http://ui.example.test.evil.example/", "/"),
        ("/v2/_catalog?n=1", "/v2/_catalog?n=1"),
        (
            "http://ui.example.test/after",
            "http://ui.example.test/after",
        ),
    ];
    for (callback_ui, lands) in cases {
        let mut agent = Agent::new();
        let r = agent.sign_in(&reg, NOGROUPS, Some(callback_ui));
        assert_eq!(r.status(), 302, "{callback_ui}");
        assert_eq!(r.headers()["location"], lands, "{callback_ui}");
        assert!(sets_session(&r));
    }
    // Its own external URL is allowed.
    let own = reg.at("/somewhere");
    let r = Agent::new().sign_in(&reg, NOGROUPS, Some(&own));
    assert_eq!(r.headers()["location"].to_str().unwrap(), own);
}

/// A session is only good with zot's UI header, until sign-out, and not past its lifetime;
/// it carries what the provider said.
#[test]
fn sessions_need_the_ui_header_end_at_sign_out_and_expire() {
    if !require_node() {
        return;
    }
    let reg = homelab(shared_op(), Kind::Confidential, json!({}));
    let mut agent = Agent::new();
    let r = agent.sign_in(&reg, CI, None);
    assert_eq!(r.status(), 201);
    // The cookies: zot's, HttpOnly session, SameSite=Lax, not Secure on plain HTTP without
    // secureSession; the login cookie is cleared.
    let set: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = set.iter().find(|c| c.starts_with("session=")).unwrap();
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && !session.contains("Secure"),
        "{session}"
    );
    assert!(
        set.iter().any(|c| c.starts_with("user=ci%40example.test")),
        "{set:?}"
    );
    assert!(
        set.iter().any(|c| c.starts_with("portcullis-login=;")),
        "{set:?}"
    );
    let cookie = agent.session().unwrap();
    let me: Value = identity(&reg, &cookie).json().unwrap();
    assert_eq!(me["username"], CI.0);
    assert_eq!(me["source"], "openid:oidc");
    assert_eq!(me["groups"], json!(["artifact-workloads"]));

    // Without the UI header the cookie is nothing: no identity, no push, no key (a cross-site
    // form cannot set the header).
    let c = client();
    let r = c
        .get(reg.at("/portcullis/identity"))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(reg.at("/v2/team/app/blobs/uploads/"))
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(reg.at("/zot/auth/apikey"))
        .header("Cookie", &cookie)
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // With it, the session acts as the user.
    let r = c
        .post(reg.at("/v2/team/app/blobs/uploads/"))
        .header(UI.0, UI.1)
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);

    // Sign-out ends it here and points at the provider's end-session endpoint.
    let r = c
        .post(reg.at("/zot/auth/logout"))
        .header(UI.0, UI.1)
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().unwrap();
    let end = Url::parse(body["endSessionUrl"].as_str().expect("endSessionUrl")).unwrap();
    assert_eq!(
        end.as_str().split('?').next().unwrap(),
        format!("{}/session/end", shared_op().issuer)
    );
    let q: BTreeMap<String, String> = end.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "portcullis");
    assert_eq!(q["post_logout_redirect_uri"], reg.at("/login"));
    assert_eq!(
        identity(&reg, &cookie).status(),
        401,
        "the old cookie is dead"
    );
    let r = c
        .post(reg.at("/v2/team/app/blobs/uploads/"))
        .header(UI.0, UI.1)
        .header("Cookie", &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    // Expiry. The host has no setting for the session lifetimes (idle 2 h, absolute 12 h), so
    // time is made to pass in the stored sessions while the registry is stopped.
    let idle = signed_in(&reg, CI);
    let old = signed_in(&reg, BOSS);
    let fresh = signed_in(&reg, SOLO);
    let mut reg = reg;
    reg.kill();
    age_sessions(&reg.root, |s| {
        let hour = 3_600_000;
        match s["username"].as_str().unwrap() {
            // Unused for just over two hours.
            "ci@example.test" => {
                s["seen_ms"] = json!(s["seen_ms"].as_u64().unwrap() - 2 * hour - 1000)
            }
            // Used a minute ago, but signed in thirteen hours ago.
            "boss@example.test" => {
                s["created_ms"] = json!(s["created_ms"].as_u64().unwrap() - 13 * hour);
                s["seen_ms"] = json!(s["seen_ms"].as_u64().unwrap() - 60_000);
            }
            _ => {}
        }
    });
    let reg = reg.restart();
    assert_eq!(identity(&reg, &idle).status(), 401, "idle session expired");
    assert_eq!(identity(&reg, &old).status(), 401, "absolute lifetime over");
    assert_eq!(
        identity(&reg, &fresh).status(),
        200,
        "a live session survives the restart"
    );
}

/// Rewrite every stored session (the registry must be stopped).
fn age_sessions(root: &Path, mut change: impl FnMut(&mut Value)) {
    const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("sessions");
    let db = redb::Database::create(root.join("_portcullis/sessions.redb")).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut table = tx.open_table(TABLE).unwrap();
        let mut all = Vec::new();
        {
            use redb::ReadableTable;
            for entry in table.iter().unwrap() {
                let (k, v) = entry.unwrap();
                all.push((
                    k.value().to_vec(),
                    serde_json::from_slice::<Value>(v.value()).unwrap(),
                ));
            }
        }
        assert!(!all.is_empty(), "stored sessions");
        for (k, mut v) in all {
            change(&mut v);
            table
                .insert(k.as_slice(), serde_json::to_vec(&v).unwrap().as_slice())
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// API keys of OIDC users: they carry the groups of the owner's sign-in, belong to their
/// owner alone, stop when revoked or expired, and can never do more than owner and scopes.
#[test]
fn api_keys_of_oidc_users_and_their_abuse() {
    if !require_node() {
        return;
    }
    let reg = homelab(shared_op(), Kind::Confidential, json!({}));
    let ci = signed_in(&reg, CI);
    let (key, id) = mint(&reg, &ci, json!({"label": "ci"}));
    assert_eq!(push(&reg, CI.0, &key, "team/app", "v1", "one"), 201);
    // One user's key presented as another user: refused, whoever the other is.
    for user in [BOSS.0, MALLORY.0, "ci", "CI@example.test", ""] {
        assert_eq!(catalog(&reg, user, &key), 401, "{user:?}");
    }
    // A key is not a sign-in: with the UI header it starts no session.
    let r = client()
        .get(reg.at("/v2/"))
        .basic_auth(CI.0, Some(&key))
        .header(UI.0, UI.1)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!sets_session(&r));

    // Scope escalation: scopes beyond the owner's rights add nothing; scopes narrow.
    let (wide, _) = mint(
        &reg,
        &ci,
        json!({"label": "wide", "scopes": ["**:read,create,update,delete"]}),
    );
    assert_eq!(
        push(&reg, CI.0, &wide, "team/app", "v1", "two"),
        403,
        "ci may not update"
    );
    let r = client()
        .delete(reg.at("/v2/team/app/manifests/v1"))
        .basic_auth(CI.0, Some(&wide))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403, "nor delete");
    let (narrow, _) = mint(
        &reg,
        &ci,
        json!({"label": "narrow", "scopes": ["ci/**:read,create"]}),
    );
    assert_eq!(push(&reg, CI.0, &narrow, "ci/app", "v1", "a"), 201);
    assert_eq!(
        push(&reg, CI.0, &narrow, "team/app", "v2", "b"),
        403,
        "out of scope"
    );
    // A key cannot mint keys (let alone wider ones), nor revoke them.
    for secret in [&narrow, &wide] {
        let r = client()
            .post(reg.at("/zot/auth/apikey"))
            .basic_auth(CI.0, Some(secret))
            .json(&json!({"label": "escalate", "scopes": ["**:delete"]}))
            .send()
            .unwrap();
        assert!(r.status() == 403 || r.status() == 401, "{}", r.status());
    }
    // boss's admin key scoped to read cannot write.
    let boss = signed_in(&reg, BOSS);
    let (boss_read, _) = mint(&reg, &boss, json!({"label": "read", "scopes": ["**:read"]}));
    assert_eq!(
        push(&reg, BOSS.0, &boss_read, "team/app", "v1", "three"),
        403
    );
    assert_eq!(catalog(&reg, BOSS.0, &boss_read), 200);

    // Revoked: at once. Someone else cannot revoke ci's key.
    let r = client()
        .delete(reg.at(&format!("/zot/auth/apikey?id={id}")))
        .header(UI.0, UI.1)
        .header("Cookie", &boss)
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "zot answers 200 for a key that is not the caller's"
    );
    assert_eq!(
        catalog(&reg, CI.0, &key),
        200,
        "boss cannot revoke ci's key"
    );
    let r = client()
        .delete(reg.at(&format!("/zot/auth/apikey?id={id}")))
        .header(UI.0, UI.1)
        .header("Cookie", &ci)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(catalog(&reg, CI.0, &key), 401);
    // Expired: when its date passes, even just after a successful (cached) use.
    let soon = time_in(3);
    let (short, _) = mint(&reg, &ci, json!({"label": "short", "expirationDate": soon}));
    assert_eq!(catalog(&reg, CI.0, &short), 200);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(catalog(&reg, CI.0, &short), 401);
    let list: Value = client()
        .get(reg.at("/zot/auth/apikey"))
        .header(UI.0, UI.1)
        .header("Cookie", &ci)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let short = list["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "short")
        .unwrap();
    assert_eq!(short["isExpired"], true);

    // Groups from the claim: none, or a single string.
    let none = signed_in(&reg, NOGROUPS);
    assert_eq!(
        identity(&reg, &none).json::<Value>().unwrap()["groups"],
        json!([])
    );
    let (none_key, _) = mint(&reg, &none, json!({"label": "none"}));
    assert_eq!(
        push(&reg, NOGROUPS.0, &none_key, "team/app", "nogroups", "n"),
        403
    );
    let solo = signed_in(&reg, SOLO);
    assert_eq!(
        identity(&reg, &solo).json::<Value>().unwrap()["groups"],
        json!(["admins"])
    );
    let (solo_key, _) = mint(&reg, &solo, json!({"label": "solo"}));
    assert_eq!(
        push(&reg, SOLO.0, &solo_key, "team/app", "v1", "four"),
        201,
        "admins may update"
    );
}

/// RFC 3339, `seconds` from now.
fn time_in(seconds: u64) -> String {
    let out = Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("+{seconds} seconds"),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A public client (no secret: PKCE alone) and a `private_key_jwt` client sign in; a wrong
/// secret or key does not. `claimMapping` picks another username claim.
#[test]
fn public_and_private_key_jwt_clients() {
    if !require_node() {
        return;
    }
    let op = shared_op();
    let public = homelab(
        op,
        Kind::Public,
        json!({"http": {"auth": {"openid": {"providers": {"oidc": {
            "claimMapping": {"username": "preferred_username"}}}}}}}),
    );
    let mut agent = Agent::new();
    let authorization = agent.begin(&public, None);
    let q: BTreeMap<String, String> = Url::parse(&authorization)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["client_id"], "portcullis-public");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q.contains_key("nonce") && q.contains_key("state"));
    let back = agent.authorize(&authorization, CI);
    let r = agent.get(&back.url);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let me: Value = identity(&public, &agent.session().unwrap()).json().unwrap();
    assert_eq!(me["username"], "ci", "claimMapping.username");
    assert_eq!(me["groups"], json!(["artifact-workloads"]));

    let pkjwt = homelab(op, Kind::PrivateKeyJwt, json!({}));
    let cookie = signed_in(&pkjwt, BOSS);
    let me: Value = identity(&pkjwt, &cookie).json().unwrap();
    assert_eq!(me["username"], BOSS.0);
    assert_eq!(me["groups"], json!(["admins"]));

    // Another key than the one registered: the provider refuses the client.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.pem");
    let status = Command::new("node")
        .arg("-e")
        .arg(
            "const {generateKeyPairSync}=require('crypto');\
             const {privateKey}=generateKeyPairSync('rsa',{modulusLength:2048});\
             require('fs').writeFileSync(process.argv[1],privateKey.export({type:'pkcs8',format:'pem'}))",
        )
        .arg(&wrong)
        .status()
        .unwrap();
    assert!(status.success());
    let impostor = homelab_on(&op.issuer, "", &wrong, Kind::PrivateKeyJwt, json!({}));
    let r = Agent::new().sign_in(&impostor, BOSS, None);
    assert_eq!(r.status(), 401);
    assert!(!sets_session(&r));
    // A wrong client secret likewise.
    let wrong_secret = homelab_on(
        &op.issuer,
        "not-the-secret",
        &op.key_file,
        Kind::Confidential,
        json!({}),
    );
    let r = Agent::new().sign_in(&wrong_secret, BOSS, None);
    assert_eq!(r.status(), 401);
    assert!(logged(&wrong_secret, "code exchange failed"));
}

// ---------------------------------------------------------------------------------------------
// The provider down.

/// The registry starts and serves without its provider; sign-in says clearly that the
/// provider is unavailable (503), and works once the provider is there.
#[test]
fn provider_down_at_start_and_during_a_sign_in() {
    if !require_node() {
        return;
    }
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("unused.pem");
    // The confidential client's secret is made by the provider when it starts: the registry
    // uses the public client here, which needs none.
    let reg = homelab_on(&issuer, "", &key_file, Kind::Public, json!({}));
    let c = client();
    assert_eq!(c.get(reg.at("/v2/")).send().unwrap().status(), 200);
    assert_eq!(
        c.get(reg.at("/")).send().unwrap().status(),
        200,
        "the sign-in page"
    );
    let r = c
        .get(reg.at("/zot/auth/login?provider=oidc&callback_ui=/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAVAILABLE", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("identity provider"),
        "{body}"
    );
    assert!(
        logged(&reg, "OpenID provider unreachable"),
        "a clear log line"
    );
    assert_eq!(
        c.get(reg.at("/v2/_catalog")).send().unwrap().status(),
        200,
        "still serving"
    );

    // The provider comes up: sign-in works, without restarting the registry.
    let op = Op::start(port);
    let cookie = signed_in(&reg, CI);
    assert_eq!(identity(&reg, &cookie).status(), 200);

    // The provider goes down between the redirect and the callback: a clear 503 as well.
    let mut agent = Agent::new();
    let authorization = agent.begin(&reg, None);
    let back = agent.authorize(&authorization, BOSS);
    drop(op);
    let r = agent.get(&back.url);
    assert_eq!(
        r.status(),
        503,
        "the code cannot be exchanged: the provider is unavailable"
    );
    assert!(!sets_session(&r));
    assert_eq!(
        c.get(reg.at("/v2/_catalog")).send().unwrap().status(),
        200,
        "still serving"
    );
    assert_eq!(
        identity(&reg, &cookie).status(),
        200,
        "sessions outlive the provider"
    );

    // It comes back (with new keys, as after a key rotation): sign-in works again.
    let _op = Op::start(port);
    let cookie = signed_in(&reg, BOSS);
    assert_eq!(identity(&reg, &cookie).status(), 200);
    assert!(
        logged(&reg, "fetching the provider's keys again"),
        "the new signing key was fetched, not refused"
    );
}
