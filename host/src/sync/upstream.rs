//! One upstream registry as a client: its URLs tried in order, each call anonymous first and
//! then with what its `401` asks for — HTTP Basic, or the Docker token flow (a token fetched
//! from the challenge's realm, with the configured credentials when there are some), as Docker
//! Hub, ghcr.io and quay.io speak it. Every call is bounded in time; credentials never leave
//! this module except towards the upstream and its token realm. Besides the GETs a mirror
//! needs, a [`Session`] makes any request (uploads: `portcullis plugin push`) the same way.

use crate::config::sync::RegistryConfig;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Deadline of connecting to an upstream.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest an upstream may send nothing while a body is arriving.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default deadline of one whole call (manifests, tag lists, tokens).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a token from a realm is used (shorter than any registry's token lifetime).
const TOKEN_TTL: Duration = Duration::from_secs(50);
/// The largest manifest, list page or token answer read from an upstream (the manifest limit).
pub const MAX_SMALL_ANSWER: usize = crate::oci::manifest::MAX_MANIFEST_BYTES;
/// Retry pause while a client waits (on-demand): at most this, whatever `retryDelay` says.
const ON_DEMAND_RETRY_DELAY: Duration = Duration::from_millis(500);

/// `credentialsFile`: upstream host (`host` or `host:port`) → credentials.
pub type CredentialsFile = BTreeMap<String, Credentials>;

/// Read a credentials file (`host[:port]` → `{username, password}`); `what` names it in errors.
pub fn read_credentials_file(path: &str, what: &str) -> anyhow::Result<CredentialsFile> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{what} {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{what} {path}: {e}"))
}

/// A user name and password for one upstream host.
#[derive(Clone, Deserialize)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

/// Why an upstream call gave no content.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered that it has no such thing.
    #[error("not found upstream")]
    NotFound,
    /// The upstream refused the configured credentials (or wanted some).
    #[error("the upstream refused access: {0}")]
    Refused(String),
    /// No answer, a timeout, or a server error.
    #[error("the upstream cannot be reached: {0}")]
    Unreachable(String),
    /// An answer that makes no sense.
    #[error("the upstream answered badly: {0}")]
    Invalid(String),
}

/// One base URL of the registry.
struct Endpoint {
    /// Scheme, host and port.
    base: Url,
    /// A repository prefix from the URL's path (`https://docker.io/library` → `library`).
    prefix: String,
    /// Docker Hub: single-component names live under `library/`.
    docker_hub: bool,
    credentials: Option<Credentials>,
}

/// An upstream registry.
pub struct Upstream {
    /// What logs and metrics call it: the first URL's host and port.
    pub name: String,
    endpoints: Vec<Endpoint>,
    http: Client,
    call_timeout: Duration,
    retries: u32,
    retry_delay: Duration,
    /// Tokens from realms, by endpoint and scope.
    tokens: moka::sync::Cache<(usize, String), Arc<str>>,
}

/// Whether a client waits for the call (on demand) or not (periodic mirroring).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    /// A client is waiting: retries pause briefly.
    Waiting,
    /// In the background: retries pause `retryDelay`, doubling up to four times it.
    Background,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:***", self.username)
    }
}

impl Patience {
    /// The mode metrics and logs name: `on-demand` or `periodic`.
    pub fn mode(self) -> &'static str {
        match self {
            Patience::Waiting => "on-demand",
            Patience::Background => "periodic",
        }
    }
}

impl Upstream {
    /// A client for `config`, with the credentials `credentials` has for its hosts.
    pub fn new(config: &RegistryConfig, credentials: &CredentialsFile) -> anyhow::Result<Upstream> {
        let mut builder = Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION"), " (sync)"))
            .danger_accept_invalid_certs(!config.tlsverify);
        if let Some(dir) = &config.certdir {
            for entry in std::fs::read_dir(dir)
                .map_err(|e| anyhow::anyhow!("sync certDir {dir}: {e}"))?
                .flatten()
            {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "crt") {
                    let pem = std::fs::read(&path)?;
                    builder = builder.add_root_certificate(
                        reqwest::Certificate::from_pem(&pem)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                    );
                }
            }
        }
        let mut endpoints = Vec::new();
        for url in &config.urls {
            let parsed = Url::parse(url)?;
            let host = parsed.host_str().unwrap_or_default().to_owned();
            let docker_hub = matches!(
                host.as_str(),
                "docker.io" | "index.docker.io" | "registry-1.docker.io"
            );
            let mut base = parsed.clone();
            base.set_path("");
            if docker_hub {
                base = Url::parse("https://registry-1.docker.io")?;
            }
            let with_port = parsed
                .port()
                .map_or_else(|| host.clone(), |p| format!("{host}:{p}"));
            let credentials = credentials
                .get(&with_port)
                .or_else(|| credentials.get(&host))
                .or_else(|| docker_hub.then(|| credentials.get("docker.io")).flatten())
                .cloned();
            endpoints.push(Endpoint {
                base,
                prefix: parsed.path().trim_matches('/').to_owned(),
                docker_hub,
                credentials,
            });
        }
        let name = Url::parse(&config.urls[0])
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_owned(), |p| format!("{h}:{p}")))
            })
            .unwrap_or_default();
        Ok(Upstream {
            name,
            endpoints,
            http: builder.build()?,
            call_timeout: config.synctimeout.unwrap_or(CALL_TIMEOUT),
            retries: config.maxretries.unwrap_or(0),
            retry_delay: config.retrydelay.unwrap_or(Duration::ZERO),
            tokens: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TOKEN_TTL)
                .build(),
        })
    }

    /// GET `/v2/<repo>/<tail>` (`manifests/latest`, `blobs/sha256:…`, `tags/list`, …) from the
    /// first URL that answers, with retries. `whole`: the body is small and the call's
    /// deadline covers it; otherwise only idle time is bounded (a blob may take long).
    pub async fn get(
        &self,
        repo: &str,
        tail: &str,
        accept: Option<&str>,
        whole: bool,
        patience: Patience,
    ) -> Result<Response, UpstreamError> {
        let scope = format!("repository:{repo}:pull");
        self.with_retries(patience, |i| {
            let e = &self.endpoints[i];
            let url = format!("{}v2/{}/{tail}", e.base, e.repository(repo));
            let scope = scope.clone();
            async move { self.call(i, &url, &scope, accept, whole).await }
        })
        .await
    }

    /// The upstream's repositories (`/v2/_catalog`, every page).
    pub async fn catalog(&self, patience: Patience) -> Result<Vec<String>, UpstreamError> {
        self.with_retries(patience, |i| async move {
            let e = &self.endpoints[i];
            let mut next = Some(format!("{}v2/_catalog?n=1000", e.base));
            let mut names = Vec::new();
            while let Some(url) = next.take() {
                let response = self.call(i, &url, "registry:catalog:*", None, true).await?;
                next = next_page(&response, &e.base);
                #[derive(Deserialize)]
                struct Catalog {
                    #[serde(default)]
                    repositories: Vec<String>,
                }
                let page: Catalog = read_json(response, "catalog").await?;
                names.extend(
                    page.repositories
                        .into_iter()
                        .filter_map(|n| e.local_part(&n)),
                );
            }
            Ok(names)
        })
        .await
    }

    /// The tags of upstream repository `repo` (every page).
    pub async fn tags(&self, repo: &str, patience: Patience) -> Result<Vec<String>, UpstreamError> {
        let scope = format!("repository:{repo}:pull");
        self.with_retries(patience, |i| {
            let scope = scope.clone();
            async move {
                let e = &self.endpoints[i];
                let mut next = Some(format!(
                    "{}v2/{}/tags/list?n=1000",
                    e.base,
                    e.repository(repo)
                ));
                let mut tags = Vec::new();
                while let Some(url) = next.take() {
                    let response = self.call(i, &url, &scope, None, true).await?;
                    next = next_page(&response, &e.base);
                    #[derive(Deserialize)]
                    struct Tags {
                        #[serde(default)]
                        tags: Option<Vec<String>>,
                    }
                    let page: Tags = read_json(response, "tag list").await?;
                    tags.extend(page.tags.unwrap_or_default());
                }
                Ok(tags)
            }
        })
        .await
    }

    /// `attempt` on each URL in turn (by index, for [`Upstream::session`]) until one answers;
    /// a failure to reach any is retried `maxRetries` times. "Not found" from one URL lets the
    /// next one try, and is the answer if none has it.
    pub async fn with_retries<'a, T, F, Fut>(
        &'a self,
        patience: Patience,
        attempt: F,
    ) -> Result<T, UpstreamError>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Result<T, UpstreamError>> + 'a,
    {
        let mut delay = match patience {
            Patience::Waiting => self.retry_delay.min(ON_DEMAND_RETRY_DELAY),
            Patience::Background => self.retry_delay,
        };
        let mut last = UpstreamError::Unreachable("no URL".into());
        for round in 0..=self.retries {
            if round > 0 {
                tokio::time::sleep(delay).await;
                if patience == Patience::Background {
                    delay = (delay * 2).min(self.retry_delay * 4);
                }
            }
            let mut not_found = false;
            for i in 0..self.endpoints.len() {
                match attempt(i).await {
                    Ok(v) => return Ok(v),
                    Err(UpstreamError::NotFound) => not_found = true,
                    Err(e) => {
                        tracing::warn!(upstream = %self.endpoints[i].base, error = %e, "sync: upstream call failed");
                        last = e;
                    }
                }
            }
            if not_found {
                return Err(UpstreamError::NotFound);
            }
            if !matches!(last, UpstreamError::Unreachable(_)) {
                break;
            }
        }
        Err(last)
    }

    /// One GET to endpoint `i`, answering one authentication challenge.
    async fn call(
        &self,
        i: usize,
        url: &str,
        scope: &str,
        accept: Option<&str>,
        whole: bool,
    ) -> Result<Response, UpstreamError> {
        self.send(i, scope, whole, || {
            let request = self.http.get(url);
            match accept {
                Some(accept) => request.header(ACCEPT, accept),
                None => request,
            }
        })
        .await
    }

    /// One request to endpoint `i`, built by `make` (called again to answer one
    /// authentication challenge for `scope`). The call's deadline covers the answer, and with
    /// `whole` the body too (a streamed body is bounded by the read timeout instead).
    async fn send(
        &self,
        i: usize,
        scope: &str,
        whole: bool,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, UpstreamError> {
        let key = (i, scope.to_owned());
        let mut auth = self.tokens.get(&key).map(|t| format!("Bearer {t}"));
        for answered in [false, true] {
            let mut request = make();
            if whole {
                request = request.timeout(self.call_timeout);
            }
            if let Some(auth) = &auth {
                request = request.header(AUTHORIZATION, auth);
            }
            let response = tokio::time::timeout(self.call_timeout, request.send())
                .await
                .map_err(|_| UpstreamError::Unreachable("no answer in time".into()))?
                .map_err(unreachable)?;
            if response.status() == StatusCode::UNAUTHORIZED && !answered {
                let challenge = response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                auth = Some(self.answer(i, &challenge, scope).await?);
                continue;
            }
            return classify(response);
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The `Authorization` value answering `challenge` at endpoint `i`.
    async fn answer(
        &self,
        i: usize,
        challenge: &str,
        scope: &str,
    ) -> Result<String, UpstreamError> {
        let e = &self.endpoints[i];
        let (scheme, params) = parse_challenge(challenge);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let c = e.credentials.as_ref().ok_or_else(|| {
                    UpstreamError::Refused("credentials required and none configured".into())
                })?;
                Ok(basic(c))
            }
            "bearer" => {
                let realm = params.get("realm").ok_or_else(|| {
                    UpstreamError::Invalid("a Bearer challenge without realm".into())
                })?;
                let mut url = Url::parse(realm).map_err(|err| {
                    UpstreamError::Invalid(format!("token realm {realm:?}: {err}"))
                })?;
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = params.get("service") {
                        query.append_pair("service", service);
                    }
                    query.append_pair("scope", params.get("scope").map_or(scope, String::as_str));
                }
                let mut request = self.http.get(url).timeout(self.call_timeout);
                if let Some(c) = &e.credentials {
                    request = request.header(AUTHORIZATION, basic(c));
                }
                let response = classify(request.send().await.map_err(unreachable)?)?;
                #[derive(Deserialize)]
                struct TokenAnswer {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let answer: TokenAnswer = read_json(response, "token answer").await?;
                let token: Arc<str> = answer
                    .token
                    .or(answer.access_token)
                    .ok_or_else(|| UpstreamError::Invalid("the token realm sent no token".into()))?
                    .into();
                self.tokens.insert((i, scope.to_owned()), token.clone());
                Ok(format!("Bearer {token}"))
            }
            _ => Err(UpstreamError::Refused(format!(
                "unsupported authentication challenge {scheme:?}"
            ))),
        }
    }
}

/// Requests to one URL of an upstream, for one repository and one token scope: what a
/// caller needs beyond GET (an upload is a POST, then a PUT to where the POST's answer says).
pub struct Session<'a> {
    upstream: &'a Upstream,
    i: usize,
    scope: String,
    /// `<base>/v2/<repo>/`: the repository's API root on this URL.
    root: Url,
}

impl Upstream {
    /// Requests to URL `i` (from [`Upstream::with_retries`]) about `repo`; `actions` is the
    /// token scope's action list (`pull`, or `pull,push`).
    pub fn session(
        &self,
        i: usize,
        repo: &str,
        actions: &str,
    ) -> Result<Session<'_>, UpstreamError> {
        let e = &self.endpoints[i];
        let root = e
            .base
            .join(&format!("v2/{}/", e.repository(repo)))
            .map_err(|err| UpstreamError::Invalid(format!("repository URL: {err}")))?;
        Ok(Session {
            upstream: self,
            i,
            scope: format!("repository:{repo}:{actions}"),
            root,
        })
    }
}

impl Session<'_> {
    /// `tail` (`blobs/uploads/`, `manifests/v1`, or a `Location` an answer gave, relative or
    /// absolute) resolved against the repository's root; another host is refused, so the
    /// credentials only go to the upstream.
    pub fn url(&self, tail: &str) -> Result<Url, UpstreamError> {
        let url = self
            .root
            .join(tail)
            .map_err(|e| UpstreamError::Invalid(format!("location {tail:?}: {e}")))?;
        if url.origin() != self.root.origin() {
            return Err(UpstreamError::Invalid(format!(
                "location {tail:?} is on another host"
            )));
        }
        Ok(url)
    }

    /// One request, authenticated as [`Upstream::get`] is; `body` and `content_type` for
    /// uploads; the call's deadline covers the whole exchange.
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        accept: Option<&str>,
        body: Option<(&str, bytes::Bytes)>,
    ) -> Result<Response, UpstreamError> {
        let http = &self.upstream.http;
        self.upstream
            .send(self.i, &self.scope, true, || {
                let mut request = http.request(method.clone(), url.clone());
                if let Some(accept) = accept {
                    request = request.header(ACCEPT, accept);
                }
                match &body {
                    Some((content_type, bytes)) => request
                        .header(reqwest::header::CONTENT_TYPE, *content_type)
                        .body(bytes.clone()),
                    None => request,
                }
            })
            .await
    }
}

impl Endpoint {
    /// The upstream's name for `repo`: under the URL's path prefix, `library/` on Docker Hub.
    fn repository(&self, repo: &str) -> String {
        let name = if self.prefix.is_empty() {
            repo.to_owned()
        } else {
            format!("{}/{repo}", self.prefix)
        };
        if self.docker_hub && !name.contains('/') {
            format!("library/{name}")
        } else {
            name
        }
    }

    /// A catalog name as the rules see it: without the URL's path prefix (names outside it
    /// are not this endpoint's).
    fn local_part(&self, name: &str) -> Option<String> {
        if self.prefix.is_empty() {
            return Some(name.to_owned());
        }
        name.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(str::to_owned)
    }
}

fn basic(c: &Credentials) -> String {
    use base64::Engine as _;
    let pair = format!("{}:{}", c.username, c.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn unreachable(e: reqwest::Error) -> UpstreamError {
    UpstreamError::Unreachable(crate::errors::describe(&e))
}

fn classify(response: Response) -> Result<Response, UpstreamError> {
    let status = response.status();
    match status {
        s if s.is_success() => Ok(response),
        StatusCode::NOT_FOUND => Err(UpstreamError::NotFound),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Err(UpstreamError::Refused(format!("{status}")))
        }
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            Err(UpstreamError::Unreachable(format!("{status}")))
        }
        _ => Err(UpstreamError::Invalid(format!("{status}"))),
    }
}

/// Read a whole small answer (a manifest, a page of a list, a token): refused as soon as it
/// grows past [`MAX_SMALL_ANSWER`], so an upstream cannot fill memory with an endless body.
pub async fn read_small(response: Response) -> Result<bytes::Bytes, UpstreamError> {
    read_bounded(response, MAX_SMALL_ANSWER).await
}

/// Read a whole answer of at most `limit` bytes, refused as soon as it grows past it.
pub async fn read_bounded(
    mut response: Response,
    limit: usize,
) -> Result<bytes::Bytes, UpstreamError> {
    let too_large = || UpstreamError::Invalid(format!("an answer larger than {limit} bytes"));
    if response.content_length().is_some_and(|l| l > limit as u64) {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A small JSON answer, parsed; `what` names it in the error.
async fn read_json<T: serde::de::DeserializeOwned>(
    response: Response,
    what: &str,
) -> Result<T, UpstreamError> {
    let body = read_small(response).await?;
    serde_json::from_slice(&body).map_err(|e| UpstreamError::Invalid(format!("{what}: {e}")))
}

/// The next page of a paginated list, from its `Link` header (same host only).
fn next_page(response: &Response, base: &Url) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    let target = link
        .split(';')
        .next()?
        .trim()
        .strip_prefix('<')?
        .strip_suffix('>')?;
    let url = base.join(target).ok()?;
    (url.host() == base.host() && url.port() == base.port()).then(|| url.to_string())
}

/// `Bearer realm="…",service="…",scope="…"` → (`Bearer`, parameters). Quoted values may hold
/// commas.
fn parse_challenge(challenge: &str) -> (String, BTreeMap<String, String>) {
    let challenge = challenge.trim();
    let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    (scheme.to_owned(), params)
}

/// The `Accept` of a manifest fetch: every manifest type the registry stores.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_with_quoted_commas() {
        let (scheme, p) = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/alpine:pull,push");
        let (scheme, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(scheme, "Basic");
        assert_eq!(p["realm"], "Registry Realm");
    }

    #[test]
    fn docker_hub_names_and_url_prefixes() {
        let hub = Endpoint {
            base: Url::parse("https://registry-1.docker.io").unwrap(),
            prefix: String::new(),
            docker_hub: true,
            credentials: None,
        };
        assert_eq!(hub.repository("alpine"), "library/alpine");
        assert_eq!(hub.repository("grafana/grafana"), "grafana/grafana");
        let prefixed = Endpoint {
            prefix: "library".into(),
            ..hub
        };
        assert_eq!(prefixed.repository("alpine"), "library/alpine");
        assert_eq!(
            prefixed.local_part("library/alpine").as_deref(),
            Some("alpine")
        );
        assert_eq!(prefixed.local_part("other/alpine"), None);
    }

    #[test]
    fn a_session_stays_on_its_host() {
        let config = RegistryConfig::client(
            vec!["https://registry.example.com:5000".into()],
            true,
            Duration::from_secs(1),
            0,
            Duration::ZERO,
        );
        let upstream = Upstream::new(&config, &CredentialsFile::new()).unwrap();
        let session = upstream.session(0, "team/p", "pull,push").unwrap();
        assert_eq!(
            session.url("blobs/uploads/").unwrap().as_str(),
            "https://registry.example.com:5000/v2/team/p/blobs/uploads/"
        );
        assert_eq!(
            session
                .url("/v2/team/p/blobs/uploads/u1?state=x")
                .unwrap()
                .as_str(),
            "https://registry.example.com:5000/v2/team/p/blobs/uploads/u1?state=x"
        );
        for elsewhere in [
            "https://attacker.example/upload",
            "http://registry.example.com:5000/x",
            "//attacker.example/x",
        ] {
            assert!(session.url(elsewhere).is_err(), "{elsewhere}");
        }
    }
}
