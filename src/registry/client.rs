//! Pullability over the registry HTTP API (distribution spec), without pulling layers: HEAD the manifest by
//! digest (GET when HEAD is refused, or when the body is needed to list an index's platforms), answer the
//! WWW-Authenticate challenge (Bearer token from the realm, or Basic), retry with backoff for registry lag, and
//! end in one of four verdicts, each with what to do.

use super::credentials::{CredentialLookup, Credentials, SecretKind};
use super::reference::{ImageName, is_loopback_host};
use super::secret::Secret;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::time::Duration;

pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Every manifest kind we understand: without the index types a registry answers a multi-platform digest
/// with 404 (or converts it), which looks like "not found" although the image is there.
pub fn accept_header() -> String {
    [
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST_V2,
    ]
    .join(", ")
}

pub fn is_index_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pullable,
    NotFound,
    Unauthorized,
    /// The registry answered, with an error (5xx, 429, anything odd): its status and body say why.
    ServerError,
    Unreachable,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pullable => "pullable",
            Verdict::NotFound => "not found",
            Verdict::Unauthorized => "unauthorized",
            Verdict::ServerError => "registry error",
            Verdict::Unreachable => "unreachable",
        }
    }

    /// One sentence a person can act on.
    pub fn what_to_do(self, reference: &str, registry: &str) -> String {
        match self {
            Verdict::Pullable => {
                format!("Nothing: {reference} can be pulled by digest; pin it in your configs.")
            }
            Verdict::NotFound => format!(
                "The registry {registry} does not serve this digest: push again (dockui push), check that the \
                 repository name is the one you pushed to, and if the registry replicates slowly raise \
                 push.retry.attempts."
            ),
            Verdict::Unauthorized => format!(
                "The registry {registry} refused the credentials: run `docker login {registry}` (or set \
                 DOCKUI_REGISTRY_USER / DOCKUI_REGISTRY_PASSWORD) with an account that may pull this repository."
            ),
            Verdict::ServerError => format!(
                "The registry {registry} answered with an error (its status and answer are above): look at \
                 the registry's log or status page, then run the check again; it is retried with \
                 push.retry.attempts."
            ),
            Verdict::Unreachable => format!(
                "The registry {registry} did not answer: check that it is running and reachable from here \
                 (network, proxy, TLS), then run the check again."
            ),
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Registry lag: a manifest just pushed may not be served yet by every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Tries in all (1: no retry).
    pub attempts: u32,
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Per HTTP request.
    pub timeout_s: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_delay_ms: 500,
            max_delay_ms: 8000,
            timeout_s: 30,
        }
    }
}

impl RetryPolicy {
    /// Delay before try `n + 1` (n counts from 1): doubles each time, capped.
    pub fn delay_after(&self, n: u32) -> Duration {
        let factor = 1u64 << n.saturating_sub(1).min(16);
        Duration::from_millis(
            self.initial_delay_ms
                .saturating_mul(factor)
                .min(self.max_delay_ms.max(self.initial_delay_ms)),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformCheck {
    /// `linux/amd64`, `linux/arm/v7`, `unknown/unknown` for attestations.
    pub platform: String,
    pub digest: String,
    pub media_type: String,
    pub verdict: Verdict,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullCheck {
    /// `repo@sha256:...` as checked.
    pub reference: String,
    pub verdict: Verdict,
    pub what_to_do: String,
    /// What the registry said last (status, error), for the curious.
    pub detail: String,
    /// The registry's Docker-Content-Digest header (or the hash of the body when it sent none).
    pub registry_digest: Option<String>,
    /// The registry's digest equals the one asked for.
    pub digest_matches: Option<bool>,
    pub media_type: Option<String>,
    /// HEAD, or GET when HEAD was refused or the index body was needed.
    pub method: String,
    pub attempts: u32,
    /// For an index: each child manifest with its own verdict.
    pub platforms: Vec<PlatformCheck>,
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic,
}

/// `Bearer realm="https://auth/token",service="registry",scope="repository:a/b:pull"` or `Basic realm="x"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(pk, _)| pk.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

/// `k="v, with comma",k2=v2` (RFC 7235 auth-params; quoted strings may hold commas and `\"`).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.trim().is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
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
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
    }
    out
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = sha2::Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// What the push job needs from registries: implemented over HTTP by `RegistryClient`, by fakes in tests.
pub trait RegistryPort: Send + Sync {
    /// Is `digest` pullable from `name`'s repository? Never fails: the verdict says what went wrong.
    fn check<'a>(&'a self, name: &'a ImageName, digest: &'a str) -> BoxFuture<'a, PullCheck>;
    /// The manifest digest the registry serves for `tag` now (None: not there or not reachable).
    fn tag_digest<'a>(
        &'a self,
        name: &'a ImageName,
        tag: &'a str,
    ) -> BoxFuture<'a, Option<String>> {
        let _ = (name, tag);
        async { None }.boxed()
    }
}

impl RegistryPort for RegistryClient {
    fn check<'a>(&'a self, name: &'a ImageName, digest: &'a str) -> BoxFuture<'a, PullCheck> {
        RegistryClient::check(self, name, digest).boxed()
    }
    fn tag_digest<'a>(
        &'a self,
        name: &'a ImageName,
        tag: &'a str,
    ) -> BoxFuture<'a, Option<String>> {
        RegistryClient::tag_digest(self, name, tag).boxed()
    }
}

/// Talks to registries with credentials resolved per registry host.
#[derive(Clone)]
pub struct RegistryClient {
    http: reqwest::Client,
    /// For loopback registries: never through a proxy from the environment.
    http_direct: reqwest::Client,
    lookup: CredentialLookup,
    retry: RetryPolicy,
    /// Non-loopback registries that speak plain HTTP (the engine's insecure-registries).
    plain_http: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct ClientSetupError(String);

/// Authorization for one repository, reused for its child manifests.
#[derive(Default)]
struct AuthState {
    creds: Option<Credentials>,
    creds_error: Option<String>,
    header: Option<Secret>,
}

/// One request's outcome, before retries.
struct Answer {
    verdict: Verdict,
    detail: String,
    registry_digest: Option<String>,
    digest_matches: Option<bool>,
    media_type: Option<String>,
    method: &'static str,
    body: Option<bytes::Bytes>,
}

impl Answer {
    fn fail(verdict: Verdict, detail: impl Into<String>, method: &'static str) -> Answer {
        Answer {
            verdict,
            detail: detail.into(),
            registry_digest: None,
            digest_matches: None,
            media_type: None,
            method,
            body: None,
        }
    }
}

impl RegistryClient {
    pub fn new(
        lookup: CredentialLookup,
        retry: RetryPolicy,
    ) -> Result<RegistryClient, ClientSetupError> {
        let build = |direct: bool| {
            let mut b = reqwest::Client::builder()
                .use_rustls_tls()
                .user_agent(concat!("dockui/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(retry.timeout_s.max(1)));
            if direct {
                b = b.no_proxy();
            }
            b.build().map_err(|e| ClientSetupError(e.to_string()))
        };
        Ok(RegistryClient {
            http: build(false)?,
            http_direct: build(true)?,
            lookup,
            retry,
            plain_http: Vec::new(),
        })
    }

    /// Registries (`host:port`) to reach over plain HTTP although they are not on loopback.
    pub fn with_plain_http(mut self, hosts: Vec<String>) -> RegistryClient {
        self.plain_http = hosts;
        self
    }

    /// `http://` for loopback and configured plain-HTTP registries, `https://` otherwise.
    pub fn base_url(&self, name: &ImageName) -> String {
        if self.plain_http.iter().any(|h| h == name.api_host()) {
            format!("http://{}", name.api_host())
        } else {
            name.base_url()
        }
    }

    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Check a `repo@sha256:...` reference as a user would paste it.
    pub async fn check_reference(
        &self,
        reference: &str,
    ) -> Result<PullCheck, super::RegistryError> {
        let name = ImageName::parse(reference)?;
        let digest = name
            .digest
            .clone()
            .ok_or_else(|| super::RegistryError::BadReference {
                reference: reference.to_string(),
                why: "it has no @sha256:<digest>: pullability is checked by digest".into(),
            })?;
        Ok(self.check(&name, &digest).await)
    }

    fn http_for(&self, url: &str) -> &reqwest::Client {
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .split('/')
            .next()
            .unwrap_or_default();
        if is_loopback_host(host) {
            &self.http_direct
        } else {
            &self.http
        }
    }

    async fn auth_for(&self, name: &ImageName) -> AuthState {
        match self.lookup.resolve(&name.registry).await {
            Ok(creds) => AuthState {
                creds,
                ..AuthState::default()
            },
            Err(e) => AuthState {
                creds_error: Some(e.to_string()),
                ..AuthState::default()
            },
        }
    }

    /// What the registry serves for `name:tag`: the Docker-Content-Digest header, else the body's sha256.
    pub async fn tag_digest(&self, name: &ImageName, tag: &str) -> Option<String> {
        let url = format!(
            "{}/v2/{}/manifests/{tag}",
            self.base_url(name),
            name.repository
        );
        let mut auth = self.auth_for(name).await;
        let head = self
            .send(name, &url, reqwest::Method::HEAD, &mut auth)
            .await
            .ok()?;
        if head.status().is_success()
            && let Some(d) = header(&head, "docker-content-digest")
        {
            return Some(d);
        }
        let get = self
            .send(name, &url, reqwest::Method::GET, &mut auth)
            .await
            .ok()?;
        if !get.status().is_success() {
            return None;
        }
        let from_header = header(&get, "docker-content-digest");
        let body = get.bytes().await.ok()?;
        Some(from_header.unwrap_or_else(|| sha256_digest(&body)))
    }

    /// Is `digest` in `name`'s repository pullable? For an index, each child manifest is checked too.
    pub async fn check(&self, name: &ImageName, digest: &str) -> PullCheck {
        let reference = name.with_digest(digest);
        let mut auth = self.auth_for(name).await;
        let (answer, attempts) = self.with_retries(name, digest, &mut auth, true).await;
        let mut platforms = Vec::new();
        let mut verdict = answer.verdict;
        let mut detail = answer.detail.clone();
        if let (Some(body), Some(mt)) = (&answer.body, &answer.media_type)
            && is_index_type(mt)
        {
            match serde_json::from_slice::<IndexBody>(body) {
                Ok(index) => {
                    for m in index.manifests {
                        let (child, _) = self.with_retries(name, &m.digest, &mut auth, false).await;
                        let platform = m
                            .platform
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "unknown".into());
                        platforms.push(PlatformCheck {
                            platform,
                            media_type: m.media_type,
                            digest: m.digest,
                            verdict: child.verdict,
                            detail: child.detail,
                        });
                    }
                    if let Some(bad) = platforms.iter().find(|p| p.verdict != Verdict::Pullable) {
                        verdict = bad.verdict;
                        detail = format!(
                            "the index is there but its {} manifest {} is {}: {}",
                            bad.platform, bad.digest, bad.verdict, bad.detail
                        );
                    }
                }
                Err(e) => {
                    verdict = Verdict::NotFound;
                    detail = format!("the registry sent an index that is not valid JSON: {e}");
                }
            }
        }
        if answer.digest_matches == Some(false) && verdict == Verdict::Pullable {
            // A client pulling by digest verifies the content and would reject it.
            verdict = Verdict::NotFound;
            detail = format!(
                "asked for {digest} but the registry served {}",
                answer.registry_digest.as_deref().unwrap_or("?")
            );
        }
        let what_to_do = verdict.what_to_do(&reference, &name.registry);
        PullCheck {
            reference,
            verdict,
            what_to_do,
            detail,
            registry_digest: answer.registry_digest,
            digest_matches: answer.digest_matches,
            media_type: answer.media_type,
            method: answer.method.to_string(),
            attempts,
            platforms,
        }
    }

    async fn with_retries(
        &self,
        name: &ImageName,
        digest: &str,
        auth: &mut AuthState,
        want_index_body: bool,
    ) -> (Answer, u32) {
        let attempts = self.retry.attempts.max(1);
        let mut n = 1;
        loop {
            let answer = self.check_once(name, digest, auth, want_index_body).await;
            let retryable = matches!(
                answer.verdict,
                Verdict::NotFound | Verdict::Unreachable | Verdict::ServerError
            );
            if !retryable || n >= attempts {
                return (answer, n);
            }
            log::debug!(
                "{}: {} ({}), retrying",
                name.with_digest(digest),
                answer.verdict,
                answer.detail
            );
            tokio::time::sleep(self.retry.delay_after(n)).await;
            n += 1;
        }
    }

    async fn check_once(
        &self,
        name: &ImageName,
        digest: &str,
        auth: &mut AuthState,
        want_index_body: bool,
    ) -> Answer {
        let url = format!(
            "{}/v2/{}/manifests/{digest}",
            self.base_url(name),
            name.repository
        );
        let head = match self.send(name, &url, reqwest::Method::HEAD, auth).await {
            Ok(r) => r,
            Err(a) => return *a,
        };
        let status = head.status();
        let media_type = header(&head, "content-type")
            .map(|m| m.split(';').next().unwrap_or(&m).trim().to_string());
        let header_digest = header(&head, "docker-content-digest");
        let head_refused = status == reqwest::StatusCode::METHOD_NOT_ALLOWED
            || status == reqwest::StatusCode::BAD_REQUEST
            || status == reqwest::StatusCode::NOT_IMPLEMENTED;
        let need_body = status.is_success()
            && ((want_index_body && media_type.as_deref().is_some_and(is_index_type))
                || header_digest.is_none());
        // A HEAD answer has no body: on a server error, GET says what the registry's problem is.
        let head_failed =
            status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        if !(head_refused || need_body || head_failed) {
            return self.classify(
                status,
                None,
                header_digest,
                media_type,
                digest,
                "HEAD",
                None,
            );
        }
        let get = match self.send(name, &url, reqwest::Method::GET, auth).await {
            Ok(r) => r,
            Err(a) => return *a,
        };
        let status = get.status();
        let media_type = header(&get, "content-type")
            .map(|m| m.split(';').next().unwrap_or(&m).trim().to_string());
        let header_digest = header(&get, "docker-content-digest");
        let body = match get.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Answer::fail(
                    Verdict::Unreachable,
                    format!("reading the manifest failed: {e}"),
                    "GET",
                );
            }
        };
        let body_text = (!status.is_success()).then(|| {
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        });
        let mut a = self.classify(
            status,
            body_text,
            header_digest,
            media_type,
            digest,
            "GET",
            Some(&body),
        );
        if status.is_success() {
            a.body = Some(body);
        }
        a
    }

    #[allow(clippy::too_many_arguments)]
    fn classify(
        &self,
        status: reqwest::StatusCode,
        body_text: Option<String>,
        header_digest: Option<String>,
        media_type: Option<String>,
        digest: &str,
        method: &'static str,
        body: Option<&bytes::Bytes>,
    ) -> Answer {
        let said = match body_text.filter(|b| !b.trim().is_empty()) {
            Some(b) => format!("{method} answered {status}: {}", excerpt(b.trim())),
            None => format!("{method} answered {status}"),
        };
        let verdict = match status.as_u16() {
            200..=299 => Verdict::Pullable,
            401 | 403 => Verdict::Unauthorized,
            404 => Verdict::NotFound,
            // 5xx, 429 and anything odd: the registry answered, but is not in a state to serve the pull.
            _ => Verdict::ServerError,
        };
        if verdict != Verdict::Pullable {
            return Answer::fail(verdict, said, method);
        }
        let body_digest = body.map(|b| sha256_digest(b));
        let registry_digest = header_digest.or(body_digest.clone());
        let matches = registry_digest
            .as_deref()
            .map(|d| d == digest)
            .map(|m| m && body_digest.as_deref().is_none_or(|b| b == digest));
        Answer {
            verdict,
            detail: said,
            registry_digest,
            digest_matches: matches,
            media_type,
            method,
            body: None,
        }
    }

    /// One request, answering an auth challenge once. Err holds the verdict when no answer can be had.
    async fn send(
        &self,
        name: &ImageName,
        url: &str,
        method: reqwest::Method,
        auth: &mut AuthState,
    ) -> Result<reqwest::Response, Box<Answer>> {
        let m: &'static str = if method == reqwest::Method::HEAD {
            "HEAD"
        } else {
            "GET"
        };
        let mut answered_challenge = false;
        loop {
            let mut req = self
                .http_for(url)
                .request(method.clone(), url)
                .header("Accept", accept_header());
            if let Some(h) = &auth.header {
                req = req.header("Authorization", h.expose());
            }
            let resp = req
                .send()
                .await
                .map_err(|e| Box::new(Answer::fail(Verdict::Unreachable, describe(&e), m)))?;
            if resp.status() != reqwest::StatusCode::UNAUTHORIZED || answered_challenge {
                return Ok(resp);
            }
            let challenge = header(&resp, "www-authenticate").and_then(|h| parse_challenge(&h));
            let Some(challenge) = challenge else {
                return Ok(resp);
            };
            answered_challenge = true;
            match self.answer_challenge(name, &challenge, auth).await {
                Ok(h) => auth.header = Some(h),
                Err(a) => return Err(Box::new(Answer::fail(a.0, a.1, m))),
            }
        }
    }

    async fn answer_challenge(
        &self,
        name: &ImageName,
        challenge: &Challenge,
        auth: &AuthState,
    ) -> Result<Secret, (Verdict, String)> {
        let no_creds = || {
            let why = auth
                .creds_error
                .clone()
                .unwrap_or_else(|| format!("no credentials found for {}", name.registry));
            (
                Verdict::Unauthorized,
                format!("the registry asks for a login and {why}"),
            )
        };
        match challenge {
            Challenge::Basic => {
                let creds = auth.creds.as_ref().ok_or_else(no_creds)?;
                Ok(Secret::new(creds.basic_header()))
            }
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let scope = scope
                    .clone()
                    .unwrap_or_else(|| format!("repository:{}:pull", name.repository));
                let mut params: Vec<(&str, String)> = vec![("scope", scope)];
                if let Some(s) = service {
                    params.push(("service", s.clone()));
                }
                let client = self.http_for(realm);
                let req = match &auth.creds {
                    Some(c) if c.kind == SecretKind::IdentityToken => {
                        params.push(("grant_type", "refresh_token".into()));
                        params.push(("refresh_token", c.secret.expose().to_string()));
                        params.push(("client_id", "dockui".into()));
                        client.post(realm).form(&params)
                    }
                    Some(c) => client
                        .get(realm)
                        .query(&params)
                        .header("Authorization", c.basic_header()),
                    None => client.get(realm).query(&params),
                };
                let resp = req.send().await.map_err(|e| {
                    (
                        Verdict::Unreachable,
                        format!("token endpoint {realm}: {}", describe(&e)),
                    )
                })?;
                let status = resp.status();
                if status == reqwest::StatusCode::UNAUTHORIZED
                    || status == reqwest::StatusCode::FORBIDDEN
                {
                    return Err(if auth.creds.is_some() {
                        (
                            Verdict::Unauthorized,
                            format!("token endpoint {realm} refused the credentials ({status})"),
                        )
                    } else {
                        no_creds()
                    });
                }
                if !status.is_success() {
                    let body = resp.text().await.unwrap_or_default();
                    return Err((
                        Verdict::ServerError,
                        format!(
                            "token endpoint {realm} answered {status}: {}",
                            excerpt(body.trim())
                        ),
                    ));
                }
                #[derive(Deserialize)]
                struct TokenAnswer {
                    #[serde(default)]
                    token: Option<Secret>,
                    #[serde(default)]
                    access_token: Option<Secret>,
                }
                let body = resp.bytes().await.map_err(|e| {
                    (
                        Verdict::Unreachable,
                        format!("token endpoint {realm}: {}", describe(&e)),
                    )
                })?;
                let t: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
                    (
                        Verdict::Unreachable,
                        format!("token endpoint {realm} sent no usable token: {e}"),
                    )
                })?;
                let token = t
                    .token
                    .filter(|t| !t.is_empty())
                    .or(t.access_token)
                    .ok_or((
                        Verdict::Unreachable,
                        format!("token endpoint {realm} sent no token"),
                    ))?;
                Ok(Secret::new(format!("Bearer {}", token.expose())))
            }
        }
    }
}

/// Manifests read and written as bytes (rollback: the exact bytes, so the digest stays the same).
impl RegistryClient {
    /// GET a manifest by tag or digest: (body, media type).
    pub async fn get_manifest(
        &self,
        name: &ImageName,
        reference: &str,
    ) -> Result<(Vec<u8>, String), String> {
        let resp = self
            .get_ok(
                name,
                "manifests",
                reference,
                // `repo@sha256:...` for a digest, `repo:tag` for a tag.
                &format!(
                    "{}{}{reference}",
                    name.repository,
                    if reference.contains(':') { '@' } else { ':' }
                ),
            )
            .await?;
        let media_type = header(&resp, "content-type").unwrap_or_default();
        let body = resp.bytes().await.map_err(|e| describe(&e))?.to_vec();
        Ok((body, media_type))
    }

    /// GET `/v2/<repository>/<kind>/<reference>` with this registry's auth; an answer other than 2xx is an
    /// error naming `what`.
    async fn get_ok(
        &self,
        name: &ImageName,
        kind: &str,
        reference: &str,
        what: &str,
    ) -> Result<reqwest::Response, String> {
        let url = format!(
            "{}/v2/{}/{kind}/{reference}",
            self.base_url(name),
            name.repository
        );
        let mut auth = self.auth_for(name).await;
        let resp = self
            .send(name, &url, reqwest::Method::GET, &mut auth)
            .await
            .map_err(|a| a.detail.clone())?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!(
                "the registry {} answered {status} for {what}",
                name.registry
            ));
        }
        Ok(resp)
    }

    /// GET a small blob (an image config) by digest, at most `max` bytes, checked against its digest.
    pub async fn get_blob(
        &self,
        name: &ImageName,
        digest: &str,
        max: usize,
    ) -> Result<Vec<u8>, String> {
        let mut resp = self
            .get_ok(
                name,
                "blobs",
                digest,
                &format!("the blob {}@{digest}", name.repository),
            )
            .await?;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > max {
                return Err(format!(
                    "the blob {}@{digest} is larger than {max} bytes: not an image config",
                    name.repository
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let served = sha256_digest(&body);
        if served != digest {
            return Err(format!(
                "the registry served {served} when asked for the blob {}@{digest}",
                name.repository
            ));
        }
        Ok(body)
    }

    /// PUT manifest bytes under `reference` (a tag); returns the registry's digest for them.
    pub async fn put_manifest(
        &self,
        name: &ImageName,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<String, String> {
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.base_url(name),
            name.repository
        );
        let mut auth = self.auth_for(name).await;
        let mut answered = false;
        loop {
            let mut req = self
                .http_for(&url)
                .put(&url)
                .header("Content-Type", media_type)
                .body(body.clone());
            if let Some(h) = &auth.header {
                req = req.header("Authorization", h.expose());
            }
            let resp = req.send().await.map_err(|e| describe(&e))?;
            let status = resp.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !answered {
                // A pull-only token is not enough: ask for push on this repository.
                let challenge = header(&resp, "www-authenticate")
                    .and_then(|h| parse_challenge(&h))
                    .map(|c| match c {
                        Challenge::Bearer { realm, service, .. } => Challenge::Bearer {
                            realm,
                            service,
                            scope: Some(format!("repository:{}:pull,push", name.repository)),
                        },
                        other => other,
                    });
                if let Some(c) = challenge {
                    answered = true;
                    auth.header = Some(
                        self.answer_challenge(name, &c, &auth)
                            .await
                            .map_err(|(_, why)| why)?,
                    );
                    continue;
                }
            }
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                return Err(format!(
                    "the registry {} refused the manifest for {}:{reference}: {status} {}",
                    name.registry,
                    name.repository,
                    text.trim()
                ));
            }
            return Ok(
                header(&resp, "docker-content-digest").unwrap_or_else(|| sha256_digest(&body))
            );
        }
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string())
}

/// reqwest's top-level message is "error sending request"; the cause (connection refused, timeout) matters.
fn describe(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

#[derive(Deserialize)]
struct IndexBody {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The start of an error body: enough to say what the registry said, bounded for the report.
fn excerpt(body: &str) -> String {
    const MAX: usize = 300;
    if body.len() <= MAX {
        return body.to_string();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &body[..end], body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_names_all_four_manifest_kinds() {
        let a = accept_header();
        for t in [
            DOCKER_MANIFEST_V2,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            OCI_INDEX,
        ] {
            assert!(a.contains(t), "{t} missing from {a}");
        }
        assert!(is_index_type(OCI_INDEX) && is_index_type(DOCKER_MANIFEST_LIST));
        assert!(!is_index_type(OCI_MANIFEST));
    }

    #[test]
    fn bearer_challenge_with_commas_in_quotes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/ubuntu:pull,push".into()),
            }
        );
        let c = parse_challenge("bearer realm=http://127.0.0.1:1/t").unwrap();
        assert!(
            matches!(c, Challenge::Bearer { ref realm, service: None, scope: None } if realm == "http://127.0.0.1:1/t")
        );
    }

    #[test]
    fn basic_and_unknown_challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(
            parse_challenge("Bearer service=\"x\""),
            None,
            "a Bearer challenge without realm is unusable"
        );
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = RetryPolicy {
            attempts: 5,
            initial_delay_ms: 100,
            max_delay_ms: 350,
            timeout_s: 1,
        };
        let d: Vec<u128> = (1..=4).map(|n| r.delay_after(n).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 350, 350]);
    }

    #[test]
    fn every_verdict_says_what_to_do() {
        for v in [
            Verdict::Pullable,
            Verdict::NotFound,
            Verdict::Unauthorized,
            Verdict::Unreachable,
        ] {
            let t = v.what_to_do("r@sha256:x", "reg:5000");
            assert!(t.len() > 20, "{v}: {t}");
        }
        assert!(
            Verdict::Unauthorized
                .what_to_do("r", "reg:5000")
                .contains("docker login reg:5000")
        );
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_and_configured_hosts() {
        let c = RegistryClient::new(CredentialLookup::none(), RetryPolicy::default())
            .unwrap()
            .with_plain_http(vec!["10.0.0.5:5000".into()]);
        let url = |r: &str| c.base_url(&ImageName::parse(r).unwrap());
        assert_eq!(url("10.0.0.5:5000/app"), "http://10.0.0.5:5000");
        assert_eq!(url("10.0.0.6:5000/app"), "https://10.0.0.6:5000");
        assert_eq!(url("127.0.0.1:5000/app"), "http://127.0.0.1:5000");
        assert_eq!(url("ubuntu"), "https://registry-1.docker.io");
    }

    #[test]
    fn the_https_client_builds_without_a_process_crypto_provider() {
        // rustls panics at build time when no CryptoProvider can be chosen: this is where it would.
        RegistryClient::new(CredentialLookup::none(), RetryPolicy::default()).unwrap();
    }
}
