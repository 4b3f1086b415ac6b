//! Sessions and API keys without a browser: zot's UI login with Basic credentials, the cookie
//! that never authorizes alone, `/zot/auth/apikey` with zot's shapes and statuses, keys that
//! carry their owner's groups, enforced scopes, immediate revocation and expiry, and the
//! attacks on them.

use portcullis_tests::oci::try_push_image;
use portcullis_tests::{client, htpasswd, merge, Registry, Setup};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use std::time::Duration;

const UI: (&str, &str) = ("X-ZOT-API-CLIENT", "zot-ui");

/// The homelab's configuration (issue 8): anonymous pull, `artifact-workloads` create-only,
/// `admins` everything; htpasswd users and API keys.
fn start(extra: Value) -> Registry {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(
        &file,
        htpasswd(&[("ci", "ci-pw"), ("root", "root-pw"), ("eve", "eve-pw")]),
    )
    .unwrap();
    let mut config = setup.config(json!({
        "http": {
            "auth": {"htpasswd": {"path": file}, "apikey": true},
            "accessControl": {
                "groups": {"artifact-workloads": {"users": ["ci"]}, "admins": {"users": ["root"]}},
                "repositories": {"**": {"anonymousPolicy": ["read"], "policies": [
                    {"groups": ["artifact-workloads"], "actions": ["read", "create"]},
                    {"groups": ["admins"], "actions": ["read", "create", "update", "delete"]}]}},
                "metrics": {"users": [""]},
            },
        },
    }));
    merge(&mut config, extra);
    setup.start(config)
}

/// The `session` cookie a response sets.
fn session_cookie(r: &Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("session=") && !c.starts_with("session=;"))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

/// Sign in like zot's UI: Basic credentials with the UI header; returns the session cookie.
fn sign_in(c: &Client, reg: &Registry, user: &str, password: &str) -> String {
    let r = c
        .get(reg.at("/v2/"))
        .basic_auth(user, Some(password))
        .header(UI.0, UI.1)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    session_cookie(&r).expect("a UI login starts a session")
}

fn ui(r: RequestBuilder, cookie: &str) -> RequestBuilder {
    r.header(UI.0, UI.1).header("Cookie", cookie)
}

fn create_key(c: &Client, reg: &Registry, cookie: &str, body: Value) -> Response {
    ui(c.post(reg.at("/zot/auth/apikey")), cookie)
        .json(&body)
        .send()
        .unwrap()
}

fn new_key(c: &Client, reg: &Registry, cookie: &str, body: Value) -> (String, String) {
    let r = create_key(c, reg, cookie, body);
    assert_eq!(r.status(), 201);
    let v: Value = r.json().unwrap();
    (
        v["apiKey"].as_str().unwrap().to_owned(),
        v["uuid"].as_str().unwrap().to_owned(),
    )
}

/// Push an image with Basic `user:secret`; returns the manifest push's status.
fn push(
    c: &Client,
    reg: &Registry,
    user: &str,
    secret: &str,
    repo: &str,
    tag: &str,
    seed: &str,
) -> u16 {
    try_push_image(c, &reg.url, (repo, tag), seed, |r| {
        r.basic_auth(user, Some(secret))
    })
}

#[test]
fn a_ui_login_starts_a_session_that_a_cookie_alone_never_uses() {
    let reg = start(json!({}));
    let c = client();
    let cookie = sign_in(&c, &reg, "ci", "ci-pw");
    let me: Value = ui(c.get(reg.at("/portcullis/identity")), &cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["username"], "ci");
    assert_eq!(me["source"], "htpasswd");
    assert_eq!(
        me["groups"],
        json!(["artifact-workloads"]),
        "groups as Portcullis counts them"
    );
    // Without the UI header, the cookie is nothing (a cross-site form cannot set the header).
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
    // A forged cookie is anonymous.
    let r = ui(c.get(reg.at("/portcullis/identity")), "session=forged")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // The session survives a restart, and ends at sign-out, for good.
    let reg = reg.restart();
    let r = ui(c.get(reg.at("/portcullis/identity")), &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "sessions survive a restart");
    let r = ui(c.post(reg.at("/zot/auth/logout")), &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("session=;")));
    let r = ui(c.get(reg.at("/portcullis/identity")), &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "the old cookie is dead after sign-out");
}

#[test]
fn api_keys_have_zots_shape_and_carry_their_owners_rights() {
    let reg = start(json!({}));
    let c = client();
    let cookie = sign_in(&c, &reg, "ci", "ci-pw");
    let r = create_key(&c, &reg, &cookie, json!({"label": "forgejo"}));
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let key = created["apiKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("zak_") && key.len() == 36, "{key}");
    for field in [
        "createdAt",
        "expirationDate",
        "isExpired",
        "creatorUa",
        "generatedBy",
        "lastUsed",
        "label",
        "scopes",
        "uuid",
    ] {
        assert!(created.get(field).is_some(), "{field} in {created}");
    }
    assert_eq!(created["expirationDate"], "0001-01-01T00:00:00Z");
    assert_eq!(created["generatedBy"], "manual");
    // The key pushes new tags (ci's group may create) but can never move or delete one.
    assert_eq!(push(&c, &reg, "ci", &key, "team/app", "v1", "one"), 201);
    assert_eq!(push(&c, &reg, "ci", &key, "team/app", "v1", "two"), 403);
    let r = c
        .delete(reg.at("/v2/team/app/manifests/v1"))
        .basic_auth("ci", Some(&key))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    // An admin's key can.
    let admin = sign_in(&c, &reg, "root", "root-pw");
    let (admin_key, _) = new_key(&c, &reg, &admin, json!({"label": "break-glass"}));
    assert_eq!(
        push(&c, &reg, "root", &admin_key, "team/app", "v1", "two"),
        201
    );
    // The key of one user presented as another is refused.
    let r = c
        .get(reg.at("/v2/_catalog"))
        .basic_auth("eve", Some(&key))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    // The list shows it, with its last use; no secret is ever listed again.
    let list: Value = ui(c.get(reg.at("/zot/auth/apikey")), &cookie)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let keys = list["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_ne!(keys[0]["lastUsed"], "0001-01-01T00:00:00Z");
    assert!(keys[0].get("apiKey").is_none());
    assert!(!list.to_string().contains(&key[4..]));
}

#[test]
fn revoked_and_expired_keys_stop_at_once() {
    let reg = start(json!({}));
    let c = client();
    let cookie = sign_in(&c, &reg, "ci", "ci-pw");
    let (key, id) = new_key(&c, &reg, &cookie, json!({"label": "short"}));
    let catalog = |secret: &str| {
        c.get(reg.at("/v2/_catalog"))
            .basic_auth("ci", Some(secret))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(catalog(&key), 200);
    let r = ui(
        c.delete(reg.at(&format!("/zot/auth/apikey?id={id}"))),
        &cookie,
    )
    .send()
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        catalog(&key),
        401,
        "revocation is honoured at once, whatever was cached"
    );
    // Revoking what does not exist is fine too (zot); no id, or two, is a 400.
    let r = ui(
        c.delete(reg.at(&format!("/zot/auth/apikey?id={id}"))),
        &cookie,
    )
    .send()
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = ui(c.delete(reg.at("/zot/auth/apikey")), &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = ui(c.delete(reg.at("/zot/auth/apikey?id=a&id=b")), &cookie)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    // A key that expires stops then, even though it was just verified (and cached).
    let soon = time_in(3);
    let (key, _) = new_key(
        &c,
        &reg,
        &cookie,
        json!({"label": "soon", "expirationDate": soon}),
    );
    assert_eq!(catalog(&key), 200);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(catalog(&key), 401);
}

/// RFC 3339, `seconds` from now.
fn time_in(seconds: u64) -> String {
    let out = std::process::Command::new("date")
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

#[test]
fn scopes_narrow_a_key_and_bad_requests_are_refused() {
    let reg = start(json!({}));
    let c = client();
    let root = sign_in(&c, &reg, "root", "root-pw");
    // root may do everything; its key scoped to ci/** with read and create may do only that.
    let (key, _) = new_key(
        &c,
        &reg,
        &root,
        json!({"label": "ci", "scopes": ["ci/**:read,create"]}),
    );
    assert_eq!(push(&c, &reg, "root", &key, "ci/app", "v1", "a"), 201);
    assert_eq!(
        push(&c, &reg, "root", &key, "ci/app", "v1", "b"),
        403,
        "no update in scope"
    );
    assert_eq!(
        push(&c, &reg, "root", &key, "prod/app", "v1", "c"),
        403,
        "out of scope"
    );
    let r = c
        .get(reg.at("/metrics"))
        .basic_auth("root", Some(&key))
        .send()
        .unwrap();
    assert_ne!(r.status(), 200);
    // A scoped key cannot mint itself an unscoped one.
    let r = c
        .post(reg.at("/zot/auth/apikey"))
        .basic_auth("root", Some(&key))
        .json(&json!({"label": "escalate"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    for bad in [
        json!({"scopes": ["ci/**"]}),
        json!({"scopes": ["ci/**:fly"]}),
        json!({"scopes": ["[:read"]}),
        json!({"expirationDate": "Mon, 02 Jan 2006 15:04:05 -0700"}),
        json!({"expirationDate": "2001-01-01T00:00:00Z"}),
    ] {
        let r = create_key(&c, &reg, &root, bad.clone());
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = ui(c.post(reg.at("/zot/auth/apikey")), &root)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = ui(c.post(reg.at("/zot/auth/apikey")), &root)
        .body(vec![b' '; 9 << 10])
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    // Anonymous callers have no keys.
    assert_eq!(
        c.get(reg.at("/zot/auth/apikey")).send().unwrap().status(),
        401
    );
    // The sign-in page is served with a strict policy and offers the password form.
    let page = c.get(reg.at("/")).send().unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(page.text().unwrap().contains("id=\"password\""));
}
