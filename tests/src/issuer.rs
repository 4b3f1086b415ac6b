//! A real workload token issuer for the tests (`tests/oidc/issuer.mjs`, node with `jose`):
//! OpenID discovery and a JWKS over HTTP or HTTPS, and a control port to mint tokens and
//! rotate keys. Also the certificates the tests need, made with the `openssl` command.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running issuer; killed on drop.
pub struct Issuer {
    child: Option<Child>,
    /// Its issuer URL (`http://127.0.0.1:PORT` or `https://localhost:PORT`).
    pub url: String,
    control: String,
}

/// How an issuer serves its documents.
#[derive(Default)]
pub struct IssuerOptions<'a> {
    /// Serve HTTPS with this certificate (for `localhost`).
    pub tls: Option<&'a Authority>,
    /// A PKCS#8 RSA key to sign Docker tokens with.
    pub docker_key: Option<&'a Path>,
    /// Also serve `/token` as a Docker token service, with this certificate of `docker_key`
    /// in the tokens' `x5c`, and (optionally) only to this `user:password`.
    pub token_service: Option<(&'a Path, Option<&'a str>)>,
}

impl Issuer {
    /// An issuer over plain HTTP.
    pub fn start() -> Issuer {
        Issuer::start_with(IssuerOptions::default())
    }

    /// An issuer with `options`.
    pub fn start_with(options: IssuerOptions) -> Issuer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc/issuer.mjs");
        let mut cmd = Command::new("node");
        cmd.arg(script);
        if let Some(tls) = options.tls {
            cmd.arg("--cert")
                .arg(&tls.server_cert)
                .arg("--key")
                .arg(&tls.server_key)
                .args(["--host", "localhost"]);
        }
        if let Some(key) = options.docker_key {
            cmd.arg("--docker-key").arg(key);
        }
        if let Some((cert, user)) = options.token_service {
            cmd.arg("--docker-cert").arg(cert);
            if let Some(user) = user {
                cmd.args(["--token-user", user]);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node (run scripts/install-test-deps)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the issuer's address");
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the issuer did not start ({e}): {line:?}"));
        Issuer {
            child: Some(child),
            url: started["issuer"].as_str().unwrap().to_owned(),
            control: started["control"].as_str().unwrap().to_owned(),
        }
    }

    fn post(&self, path: &str, body: Value) -> String {
        let response = crate::client()
            .post(format!("{}{path}", self.control))
            .json(&body)
            .send()
            .expect("the issuer's control port");
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "issuer {path}: {status} {text}");
        text
    }

    /// A token with `claims` (plus `iss`, `iat` and a ten-minute `exp` unless given; a claim
    /// given as null is left out), signed with the current key.
    pub fn mint(&self, claims: Value) -> String {
        self.post("/mint", json!({ "claims": claims }))
    }

    /// A token from a raw `/mint` request (see `tests/oidc/issuer.mjs`).
    pub fn mint_raw(&self, request: Value) -> String {
        self.post("/mint", request)
    }

    /// Replace the signing key with a new one (a new kid) of `alg`; returns the kid.
    pub fn rotate(&self, alg: &str) -> String {
        let answer: Value =
            serde_json::from_str(&self.post("/rotate", json!({"alg": alg}))).unwrap();
        answer["kid"].as_str().unwrap().to_owned()
    }

    /// How many tokens its Docker token service issued.
    pub fn tokens_issued(&self) -> u64 {
        self.stats()["token"].as_u64().unwrap()
    }

    /// How often discovery and the JWKS were fetched.
    pub fn fetches(&self) -> (u64, u64) {
        let stats = self.stats();
        (
            stats["discovery"].as_u64().unwrap(),
            stats["jwks"].as_u64().unwrap(),
        )
    }

    fn stats(&self) -> Value {
        crate::client()
            .get(format!("{}/stats", self.control))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// The current public key, SPKI PEM.
    pub fn public_pem(&self) -> String {
        crate::client()
            .get(format!("{}/public.pem", self.control))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// Stop serving (the issuer goes down).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private certificate authority and a server certificate it signed for `localhost` and
/// 127.0.0.1.
pub struct Authority {
    /// The CA certificate (PEM).
    pub ca_cert: PathBuf,
    /// The server certificate (PEM).
    pub server_cert: PathBuf,
    /// The server's key (PEM).
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const EC_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Authority {
    /// Make a CA and a server certificate in `dir`.
    pub fn create(dir: &Path) -> Authority {
        let mut ca = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Portcullis test CA",
        ];
        ca.extend(EC_KEY);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        openssl(dir, &ca);
        let mut csr = vec!["req", "-nodes", "-subj", "/CN=localhost"];
        csr.extend(EC_KEY);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        openssl(dir, &csr);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        Authority {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }
}

/// A Docker token service's signing key (PKCS#8 RSA) and its self-signed certificate, made in
/// `dir`: `(key, certificate)`.
pub fn token_service_key(dir: &Path) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "token.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            "token.key",
            "-subj",
            "/CN=token service",
            "-days",
            "2",
            "-out",
            "token.crt",
        ],
    );
    (dir.join("token.key"), dir.join("token.crt"))
}
