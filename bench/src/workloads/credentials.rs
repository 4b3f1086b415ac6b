//! Credentials: manifest GET under load with each kind of credential Portcullis accepts, on one
//! server configured with all of them at once (htpasswd, API keys, sessions, workload identity
//! tokens, Docker tokens), beside anonymous requests to the same server; and what the first
//! request with a credential never seen before costs (a bcrypt hash, a key lookup, a session
//! read, a signature check; the very first workload token also fetches the issuer's discovery
//! document and keys).

use crate::bench::Bench;
use crate::client::{basic_auth, Client};
use crate::figure::Figure;
use crate::load::{self, LoadShape};
use crate::oci::MANIFEST_TYPE;
use crate::payload::Payload;
use crate::registry::{Kind, LaunchSpec, Server, Variant, USER};
use crate::signing::{Signer, AUDIENCE};
use crate::workloads::fixture::{self, APP_REPO, TAG};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::{Method, StatusCode};
use serde::Serialize;
use std::time::Instant;

/// zot's UI header, which a session cookie needs to count.
const UI_HEADER: (&str, &str) = ("x-zot-api-client", "zot-ui");
/// The workload identity the tokens name.
const WORKLOAD: &str = "ci-bench";

/// One kind of credential, measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CredentialResult {
    /// `anonymous`, `htpasswd`, `API key`, `session`, `workload token`, `Docker token`.
    pub kind: &'static str,
    /// Manifest GETs per second under load.
    pub rps: Figure,
    /// Their 99th percentile latency, ms.
    pub p99_ms: Figure,
    /// The first request with a credential the server has not seen, ms (none for anonymous).
    pub first_use_ms: Option<Figure>,
}

/// Every kind of credential, and the first workload token of an issuer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Credentials {
    /// One per kind, anonymous first.
    pub kinds: Vec<CredentialResult>,
    /// The first workload token after start-up: discovery and key fetch included, ms.
    pub first_token_ms: Figure,
}

/// How a request presents one credential.
struct Presented {
    kind: &'static str,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Measure every kind, `repetitions` times.
pub async fn measure(bench: &Bench) -> anyhow::Result<Credentials> {
    let signer = Signer::start(&bench.run_label).await?;
    let mut result = Credentials::default();
    let reps = bench.params.repetitions;
    for rep in 1..=reps {
        let dir = bench.dir.join("credentials").join(rep.to_string());
        std::fs::create_dir_all(&dir)?;
        let server = launch(bench, &signer, &dir).await?;
        let (first_token_ms, first_uses, presented) = prepare(&server, &signer).await?;
        result.first_token_ms.push(first_token_ms);
        for (i, p) in presented.iter().enumerate() {
            let shape = LoadShape {
                connections: bench.params.connections,
                warmup: bench.params.warmup(),
                duration: bench.params.duration(),
            };
            let request = load::RequestSpec {
                headers: [manifest_accept()]
                    .into_iter()
                    .chain(p.headers.iter().cloned())
                    .collect(),
                ..load::request(Method::GET, format!("/v2/{APP_REPO}/manifests/{TAG}"), &[])
            };
            let measured = load::run(server.addr(), None, request, shape).await?;
            anyhow::ensure!(
                measured.requests > 0,
                "credentials: no {} manifest GET succeeded",
                p.kind
            );
            if result.kinds.len() <= i {
                result.kinds.push(CredentialResult {
                    kind: p.kind,
                    first_use_ms: first_uses[i].map(|_| Figure::default()),
                    ..CredentialResult::default()
                });
            }
            let kind = &mut result.kinds[i];
            kind.rps.push(measured.rps);
            kind.p99_ms.push(measured.p99_ms);
            if let (Some(figure), Some(ms)) = (kind.first_use_ms.as_mut(), first_uses[i]) {
                figure.push(ms);
            }
        }
        bench.progress(format!(
            "credentials {rep}/{reps}: {}; first workload token {first_token_ms:.2} ms",
            result
                .kinds
                .iter()
                .map(|k| format!(
                    "{} {:.0}/s",
                    k.kind,
                    k.rps.samples.last().copied().unwrap_or(0.0)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        server.stop();
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(result)
}

/// Start Portcullis with every credential kind configured.
async fn launch(bench: &Bench, signer: &Signer, dir: &std::path::Path) -> anyhow::Result<Server> {
    let cert = dir.join("token-signer.pem");
    std::fs::write(&cert, &signer.public_pem)?;
    let extra = serde_json::json!({"http": {"auth": {
        "apikey": true,
        "bearer": {
            "realm": format!("{}/token", signer.issuer),
            "service": AUDIENCE,
            "cert": cert,
            "oidc": [{
                "issuer": signer.issuer,
                "audiences": [AUDIENCE],
                "claimMapping": {"username": "claims.sub"},
            }],
        },
    }}});
    let spec = LaunchSpec {
        kind: Kind::Portcullis,
        variant: Variant::Htpasswd,
        dir,
        htpasswd: &bench.htpasswd,
        plugin_cache: Some(&bench.plugin_cache),
        extra: Some(&extra),
    };
    Ok(Server::launch(&spec, &bench.bins).await?.0)
}

/// Push the image, make one credential of each kind, timing each one's first use; returns the
/// first workload token's time, the first-use times (in the order of the credentials) and the
/// credentials.
async fn prepare(
    server: &Server,
    signer: &Signer,
) -> anyhow::Result<(f64, Vec<Option<f64>>, Vec<Presented>)> {
    let mut client = Client::new(server.addr(), None);
    let password = basic_auth(USER.0, USER.1);
    let bearer = |token: String| HeaderValue::from_str(&format!("Bearer {token}"));
    // Connected first, so that no first use pays for the connection.
    first_use(&mut client, &[]).await?;
    let htpasswd_ms = first_use(&mut client, &[(AUTHORIZATION, password.clone())]).await?;
    let mut writer = Client::new(server.addr(), Some(password.clone()));
    fixture::push_image(&mut writer, &[]).await?;

    let reply = writer
        .send(
            Method::POST,
            "/zot/auth/apikey",
            &[header("content-type", "application/json")],
            bytes::Bytes::from_static(br#"{"label":"bench"}"#).into(),
        )
        .await?
        .expect(StatusCode::CREATED, "mint an API key")?;
    let minted: serde_json::Value = serde_json::from_slice(&reply.body)?;
    let key = minted["apiKey"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no apiKey in {minted}"))?;
    let api_key = basic_auth(USER.0, key);
    let key_ms = first_use(&mut client, &[(AUTHORIZATION, api_key.clone())]).await?;

    let reply = writer
        .send(Method::GET, "/v2/", &[ui_header()], Payload::empty())
        .await?
        .expect(StatusCode::OK, "a UI sign-in")?;
    let cookie = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("session="))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("a UI sign-in set no session cookie"))?;
    let session = vec![ui_header(), header("cookie", cookie)];
    let session_ms = first_use(&mut client, &session).await?;

    let first_token_ms = first_use(
        &mut client,
        &[(AUTHORIZATION, bearer(signer.workload_token(WORKLOAD)?)?)],
    )
    .await?;
    let workload = bearer(signer.workload_token(WORKLOAD)?)?;
    let workload_ms = first_use(&mut client, &[(AUTHORIZATION, workload.clone())]).await?;
    let docker = bearer(signer.docker_token(WORKLOAD, APP_REPO)?)?;
    let docker_ms = first_use(&mut client, &[(AUTHORIZATION, docker.clone())]).await?;

    let authorized = |kind, value: HeaderValue| Presented {
        kind,
        headers: vec![(AUTHORIZATION, value)],
    };
    let presented = vec![
        Presented {
            kind: "anonymous",
            headers: Vec::new(),
        },
        authorized("htpasswd", password),
        authorized("API key", api_key),
        Presented {
            kind: "session",
            headers: session,
        },
        authorized("workload token", workload),
        authorized("Docker token", docker),
    ];
    let first_uses = vec![
        None,
        Some(htpasswd_ms),
        Some(key_ms),
        Some(session_ms),
        Some(workload_ms),
        Some(docker_ms),
    ];
    Ok((first_token_ms, first_uses, presented))
}

/// One manifest GET with `headers` on the client's open connection, which must succeed: ms.
async fn first_use(
    client: &mut Client,
    headers: &[(HeaderName, HeaderValue)],
) -> anyhow::Result<f64> {
    let mut headers = headers.to_vec();
    headers.push(manifest_accept());
    let path = format!("/v2/{APP_REPO}/manifests/{TAG}");
    let started = Instant::now();
    let reply = client
        .send(Method::GET, &path, &headers, Payload::empty())
        .await?;
    let ms = started.elapsed().as_secs_f64() * 1e3;
    // The very first request comes before the image is pushed.
    if reply.status != StatusCode::NOT_FOUND {
        reply.expect(StatusCode::OK, "a manifest GET with a new credential")?;
    }
    Ok(ms)
}

fn header(name: &'static str, value: &str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("a valid header value"),
    )
}

fn ui_header() -> (HeaderName, HeaderValue) {
    header(UI_HEADER.0, UI_HEADER.1)
}

fn manifest_accept() -> (HeaderName, HeaderValue) {
    header("accept", MANIFEST_TYPE)
}
