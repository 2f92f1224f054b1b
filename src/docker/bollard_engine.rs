//! The real engine through bollard.

use super::diagnose;
use super::*;
use bollard::Docker;
use bollard::models::BuildInfoAux;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::BuilderVersion;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, CreateContainerOptionsBuilder,
    EventsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use std::collections::BTreeMap;
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;

use super::endpoint::{Address, Endpoint};

/// bollard over a connection dockui opens itself (TLS from the CLI's files, ssh with its port).
fn custom_transport(
    dialer: super::remote::Dialer,
    addr: &str,
    timeout_s: u64,
) -> Result<Docker, bollard::errors::Error> {
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let dialer = dialer.clone();
            Box::pin(async move { super::remote::send(&dialer, req).await })
                as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
        },
        Some(addr),
        timeout_s,
        bollard::API_DEFAULT_VERSION,
    )
}

pub const DEFAULT_ENDPOINT: &str = super::endpoint::DEFAULT_HOST;

#[derive(Clone)]
pub struct BollardEngine {
    docker: Option<Docker>,
    /// What messages and the status bar show: the host, and the docker context when there is one.
    endpoint: String,
    /// The resolved endpoint (None when resolution failed).
    resolved: Option<Endpoint>,
    /// tcp+TLS and ssh: how to open a raw connection (push streams its own request).
    dialer: Option<super::remote::Dialer>,
    connect_error: Option<String>,
}

impl BollardEngine {
    /// `host` from config (`[engine] docker_host`); empty means what the docker CLI would use: DOCKER_HOST,
    /// DOCKER_CONTEXT, the CLI's current context, the local socket (see `endpoint`). Never fails: an engine
    /// that cannot be reached is a state the UI shows, and `ping` reports why.
    pub fn connect(host: &str, timeout_s: u64) -> BollardEngine {
        match super::endpoint::resolve(host, &super::endpoint::EnvView::from_process()) {
            Ok(ep) => BollardEngine::connect_to(ep, timeout_s),
            Err(e) => BollardEngine::unresolved(&e),
        }
    }

    /// An engine whose endpoint could not be resolved: every request says why.
    pub fn unresolved(e: &super::endpoint::EndpointError) -> BollardEngine {
        // A context that does not exist has no address: the status bar names the context instead.
        let endpoint = match (e.subject(), e.context()) {
            (s, Some(c)) if s.is_empty() => format!("(context {})", super::endpoint::redact(c)),
            (s, _) => s,
        };
        BollardEngine {
            docker: None,
            endpoint,
            resolved: None,
            dialer: None,
            connect_error: Some(e.to_string()),
        }
    }

    /// Connect to a socket dockui found (local, Podman's), labelled with `source`.
    pub fn connect_found(
        host: &str,
        source: super::endpoint::Source,
        timeout_s: u64,
    ) -> BollardEngine {
        match super::endpoint::found(host, source) {
            Ok(ep) => BollardEngine::connect_to(ep, timeout_s),
            Err(e) => BollardEngine::unresolved(&e),
        }
    }

    /// Connect to an endpoint resolved already.
    pub fn connect_to(ep: Endpoint, timeout_s: u64) -> BollardEngine {
        let endpoint = ep.display();
        let failed = |reason: String, ep: Endpoint| BollardEngine {
            docker: None,
            endpoint: endpoint.clone(),
            resolved: Some(ep),
            dialer: None,
            connect_error: Some(reason),
        };
        let address = match ep.address() {
            Ok(a) => a,
            Err(why) => {
                let reason = diagnose::explain(&ep.host, diagnose::Cause::BadUrl, &[why]);
                return failed(reason, ep);
            }
        };
        let version = bollard::API_DEFAULT_VERSION;
        let (result, dialer) = match (&address, &ep.tls) {
            (Address::Unix(path), _) => (
                Docker::connect_with_unix(&path.to_string_lossy(), timeout_s, version),
                None,
            ),
            (Address::Tcp(addr), None) => (
                Docker::connect_with_http(&format!("tcp://{addr}"), timeout_s, version),
                None,
            ),
            (Address::Tcp(addr), Some(tls)) => {
                let config = match super::remote::tls_config(tls) {
                    Ok(c) => c,
                    Err(e) => {
                        let reason = format!("TLS setup for {endpoint} failed: {e}");
                        return failed(reason, ep);
                    }
                };
                let server_name = match super::remote::server_name(addr) {
                    Ok(n) => n,
                    Err(why) => {
                        let reason = diagnose::explain(&ep.host, diagnose::Cause::BadUrl, &[why]);
                        return failed(reason, ep);
                    }
                };
                let dialer = super::remote::Dialer::Tls {
                    addr: addr.clone(),
                    server_name,
                    connector: tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)),
                };
                (
                    custom_transport(dialer.clone(), &format!("https://{addr}"), timeout_s),
                    Some(dialer),
                )
            }
            (Address::Ssh(target), _) => {
                let dialer = super::remote::Dialer::Ssh(target.clone());
                (
                    custom_transport(dialer.clone(), "http://docker", timeout_s),
                    Some(dialer),
                )
            }
        };
        match result {
            Ok(docker) => BollardEngine {
                docker: Some(docker),
                endpoint,
                resolved: Some(ep),
                dialer,
                connect_error: None,
            },
            Err(e) => failed(diagnose::explain_error(&endpoint, &e), ep),
        }
    }

    /// The resolved endpoint: host, TLS, context and where it came from (JSON results, `doctor`).
    pub fn resolved(&self) -> Option<&Endpoint> {
        self.resolved.as_ref()
    }

    /// A raw connection to the engine's API for requests made by hand (push), over whichever transport the
    /// endpoint uses. The ssh process (if any) lives as long as the returned value.
    pub async fn raw_connection(&self) -> std::io::Result<super::remote::Conn> {
        if let Some(d) = &self.dialer {
            return d.dial().await;
        }
        match self.resolved.as_ref().map(Endpoint::address) {
            Some(Ok(Address::Unix(p))) => Ok(super::remote::Conn {
                io: Box::new(tokio::net::UnixStream::connect(p).await?),
                ssh: None,
            }),
            Some(Ok(Address::Tcp(a))) => Ok(super::remote::Conn {
                io: Box::new(tokio::net::TcpStream::connect(a).await?),
                ssh: None,
            }),
            _ => Err(std::io::Error::other(
                self.connect_error
                    .clone()
                    .unwrap_or_else(|| "no engine endpoint".into()),
            )),
        }
    }

    /// The bollard client, for adapters that extend this engine (push, registry checks).
    pub fn client(&self) -> Result<&Docker, DockerError> {
        self.docker
            .as_ref()
            .ok_or_else(|| self.unreachable(self.connect_error.clone().unwrap_or_default()))
    }

    fn unreachable(&self, reason: impl Into<String>) -> DockerError {
        let reason = reason.into();
        // "what to do" names the setting the endpoint came from (a docker context, not DOCKER_HOST).
        let reason = match &self.resolved {
            Some(ep) if ep.context.is_some() => match reason.split_once("; what to do: ") {
                Some((why, todo)) => format!("{why}; what to do: {}", ep.fix_where(todo.into())),
                None => reason,
            },
            _ => reason,
        };
        DockerError::Unreachable {
            endpoint: self.endpoint.clone(),
            reason,
        }
    }

    /// Map a bollard error: transport errors mean the engine is not reachable (or dropped us); others are
    /// the engine's answer.
    pub fn map_err(&self, e: bollard::errors::Error) -> DockerError {
        use bollard::errors::Error as E;
        match e {
            // Plain HTTP sent to a TLS port: the engine's answer names the real problem.
            E::DockerResponseServerError {
                status_code: 400,
                ref message,
            } if message.contains("HTTP request to an HTTPS server") => {
                self.unreachable(diagnose::explain_error(&self.endpoint, &e))
            }
            E::DockerResponseServerError {
                status_code,
                message,
            } => DockerError::Other(format!("engine answered {status_code}: {}", message.trim())),
            E::DockerStreamError { error } => DockerError::BuildFailed { message: error },
            E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::HttpClientError { .. }
            | E::IOError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
            | E::UnsupportedURISchemeError { .. }
            | E::InvalidURIError { .. }
            | E::InvalidURIPartsError { .. }
            | E::URLParseError { .. } => {
                self.unreachable(diagnose::explain_error(&self.endpoint, &e))
            }
            other => DockerError::Other(other.to_string()),
        }
    }
}

/// Dockerfile features the legacy builder does not have: `# syntax=`, RUN --mount/--network/--security,
/// COPY --chmod/--link, heredocs.
pub fn needs_buildkit(dockerfile: &str) -> bool {
    dockerfile.lines().any(|l| {
        let t = l.trim_start();
        let lower = t.to_ascii_lowercase();
        lower.starts_with("# syntax=")
            || lower.starts_with("#syntax=")
            || (!t.starts_with('#')
                && (lower.contains("--mount=")
                    || lower.contains("--network=")
                    || lower.contains("--security=")
                    || lower.contains("--chmod=")
                    || lower.contains("--link")
                    || lower.contains("<<")))
    })
}

/// Why Podman `version` cannot build `dockerfile`, or None. Podman before 4.8 (buildah before 1.33) reads a
/// heredoc's lines as instructions of their own: `COPY <<EOT /f` fails with `copier: stat: "/<<EOT": no such
/// file or directory`, a `RUN <<EOT` runs its body line by line as instructions (seen with Podman 4.3.1).
pub fn podman_cannot_build(
    version: &str,
    dockerfile_name: &str,
    dockerfile: &str,
) -> Option<String> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if version.is_empty() || (major, minor) >= (4, 8) {
        return None;
    }
    let parsed = crate::analyze::dockerfile::Dockerfile::parse(dockerfile);
    let ins = parsed.instructions().find(|i| !i.heredocs.is_empty())?;
    Some(format!(
        "{dockerfile_name}:{}: {} uses a heredoc (<<{}), which Podman {version} cannot build: its builder (buildah, before Podman 4.8) reads the heredoc's lines as instructions of their own. Build on a Docker engine (--backend docker) or a BuildKit daemon (--backend buildkit), upgrade Podman to 4.8 or later, or write the file without a heredoc (a file in the build context and COPY, or RUN printf)",
        ins.line, ins.keyword, ins.heredocs[0].delimiter
    ))
}

/// Parse the legacy builder's step lines: Docker's "Step 3/7 : RUN ..." and Podman's (buildah's)
/// "STEP 3/7: RUN ...".
pub fn parse_step(line: &str) -> Option<(u32, u32)> {
    // Podman (buildah) prefixes each step of a multi-stage build with its stage: "[2/3] STEP 1/4: FROM x".
    let line = crate::classify::strip_buildah_stage(line);
    let rest = line
        .strip_prefix("Step ")
        .or_else(|| line.strip_prefix("STEP "))?;
    let nums = rest.split([' ', ':']).next()?;
    let (a, b) = nums.split_once('/')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// What answers behind a Docker-API socket, as far as its answers tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineProbe {
    /// Podman's compatible service (version component "Podman Engine", or the `Libpod-Api-Version` header).
    pub podman: bool,
    /// Podman's version (the libpod API version) when it is Podman.
    pub podman_version: String,
    /// Podman runs rootless (`/libpod/info`: host.security.rootless); None when it could not be asked.
    pub rootless: Option<bool>,
    pub version: String,
    pub api_version: String,
    /// The engine's architecture as Go names it (`amd64`, `arm64`); Docker may say `x86_64`.
    pub arch: String,
    /// `linux`
    pub os: String,
}

impl EngineProbe {
    /// BuildKit through the engine's session: Docker with API >= 1.39. Podman answers 404 on `/grpc` and
    /// builds a BuildKit request the legacy way, so it never counts.
    pub fn buildkit(&self) -> bool {
        let (major, minor) = self.api_version.split_once('.').unwrap_or(("0", "0"));
        let new_enough = (
            major.parse::<u32>().unwrap_or(0),
            minor.parse::<u32>().unwrap_or(0),
        ) >= (1, 39);
        !self.podman && new_enough
    }

    pub fn kind(&self) -> BackendKind {
        if self.podman {
            BackendKind::Podman
        } else {
            BackendKind::Docker
        }
    }

    /// `linux/amd64` for the engine's own architecture.
    pub fn native_platform(&self) -> String {
        format!("linux/{}", go_arch(&self.arch))
    }
}

/// Go's architecture names (what platforms use) for the kernel's (`uname -m`) and Rust's names.
pub fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" | "x86" => "386",
        "armv7l" | "arm" => "arm",
        "ppc64le" | "powerpc64le" => "ppc64le",
        other => other,
    }
}

/// Is a version answer Podman's? Its compat `/version` lists a "Podman Engine" component.
pub fn is_podman_version(v: &bollard::models::SystemVersion) -> bool {
    v.components
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|c| c.name.to_ascii_lowercase().contains("podman"))
}

/// `rootless` from Podman's `/libpod/info` answer.
pub fn rootless_of_libpod_info(body: &[u8]) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.pointer("/host/security/rootless")?.as_bool()
}

/// The exit code in a wait's answer (`{"StatusCode": 3, "Error": null}`).
fn exit_code_of_wait(body: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("StatusCode")?.as_i64()
}

/// How long a request made by hand may take (a dead host is not waited for longer).
const RAW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The probe this process last made of each endpoint, with the ping signature of who answered then.
static PROBES: std::sync::Mutex<BTreeMap<String, (String, EngineProbe)>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The answer this process last kept for `endpoint`, for results that name the engine.
fn last_probe(endpoint: &str) -> Option<EngineProbe> {
    PROBES.lock().ok()?.get(endpoint).map(|(_, p)| p.clone())
}

/// Who answers, as the `/_ping` headers say: another engine (or version) on the same address differs.
fn ping_signature(ping: &hyper::HeaderMap) -> String {
    ["server", "api-version", "libpod-api-version", "ostype"]
        .iter()
        .map(|name| ping.get(*name).and_then(|v| v.to_str().ok()).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Podman serves its own API only under a version prefix (`/libpod/info` alone is a 404 on 4.3); any
/// version is accepted, so ask with the server's own.
fn libpod_info_path(libpod_version: &str) -> String {
    let v = if libpod_version.starts_with(|c: char| c.is_ascii_digit()) {
        libpod_version
    } else {
        "4.0.0"
    };
    format!("/v{v}/libpod/info")
}

/// The whole probe from Podman's `/libpod/info` (version, host arch and os, rootless) and the compat API
/// version of its ping; None when the answer lacks the version or the architecture.
pub fn probe_of_libpod_info(
    body: &[u8],
    libpod_version: &str,
    api_version: &str,
) -> Option<EngineProbe> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |p: &str| {
        v.pointer(p)
            .and_then(|x| x.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let version = text("/version/Version")?;
    let arch = text("/host/arch")?;
    Some(EngineProbe {
        podman: true,
        podman_version: if libpod_version.is_empty() {
            version.clone()
        } else {
            libpod_version.to_string()
        },
        rootless: v
            .pointer("/host/security/rootless")
            .and_then(|r| r.as_bool()),
        version,
        api_version: api_version.to_string(),
        arch,
        os: text("/host/os").unwrap_or_else(|| "linux".into()),
    })
}

impl BollardEngine {
    /// Ask the engine what it is: version, architecture, Podman or Docker (and rootless for Podman).
    ///
    /// A build or push asks this several times (selection, capabilities, the build itself), and Podman
    /// takes ~0.3 s per `/version` (it gathers host info for it). So the answer is kept for the process,
    /// keyed by the endpoint and what its `/_ping` headers say (server, API versions): every call still
    /// pings, so a dead engine is seen at once, and another engine on the same address is asked afresh.
    pub async fn probe(&self) -> Result<EngineProbe, DockerError> {
        let docker = self.client()?;
        let headers = match self.raw_get_result("/_ping").await {
            Ok((200, headers, _)) => Some(headers),
            // A dead host must not be waited for twice.
            Err(true) => {
                return Err(self.unreachable(format!(
                    "no answer to /_ping within {}s",
                    RAW_TIMEOUT.as_secs()
                )));
            }
            // Could not ask by hand: bollard's answer says why (and if it does answer, ask uncached).
            Ok(_) | Err(false) => {
                docker.ping().await.map_err(|e| self.map_err(e))?;
                None
            }
        };
        let signature = headers.as_ref().map(ping_signature);
        if let Some(sig) = &signature
            && let Some((_, p)) = PROBES
                .lock()
                .ok()
                .and_then(|c| c.get(&self.endpoint).cloned())
                .filter(|(known, _)| known == sig)
        {
            return Ok(p);
        }
        let probe = self.probe_uncached(docker, headers.as_ref()).await?;
        if let (Some(sig), Ok(mut cache)) = (signature, PROBES.lock()) {
            cache.insert(self.endpoint.clone(), (sig, probe.clone()));
        }
        Ok(probe)
    }

    async fn probe_uncached(
        &self,
        docker: &Docker,
        ping: Option<&hyper::HeaderMap>,
    ) -> Result<EngineProbe, DockerError> {
        let header = |name: &str| {
            ping.and_then(|h| h.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .filter(|v| !v.is_empty())
        };
        // Podman says so in its ping headers; its own `/libpod/info` then answers everything `/version`
        // would (and whether it runs rootless) at about half the cost.
        let mut libpod_info = None;
        if let Some(libpod) = header("libpod-api-version") {
            if let Some((200, _, body)) = self.raw_get(&libpod_info_path(&libpod)).await {
                let api = header("api-version").unwrap_or_default();
                if let Some(p) = probe_of_libpod_info(&body, &libpod, &api) {
                    return Ok(p);
                }
                libpod_info = Some(body);
            }
        }
        let v = docker.version().await.map_err(|e| self.map_err(e))?;
        let mut probe = EngineProbe {
            podman: is_podman_version(&v),
            podman_version: String::new(),
            rootless: None,
            version: v.version.clone().unwrap_or_default(),
            api_version: v.api_version.clone().unwrap_or_default(),
            arch: v.arch.clone().unwrap_or_default(),
            os: v.os.clone().unwrap_or_default(),
        };
        if let Some(c) = v
            .components
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|c| c.name.to_ascii_lowercase().contains("podman"))
        {
            probe.podman_version = c.version.clone();
        }
        // A Podman whose version answer hides the component still sends its libpod headers on /_ping.
        if !probe.podman
            && let Some(libpod) = header("libpod-api-version")
        {
            probe.podman = true;
            probe.podman_version = libpod;
        }
        if probe.podman {
            let body = match libpod_info {
                Some(b) => Some(b),
                None => match self.raw_get(&libpod_info_path(&probe.podman_version)).await {
                    Some((200, _, b)) => Some(b),
                    _ => None,
                },
            };
            probe.rootless = body.and_then(|b| rootless_of_libpod_info(&b));
        }
        Ok(probe)
    }

    /// A GET on the engine's API by hand, over whichever transport the endpoint uses (bollard has no call
    /// for Podman's own endpoints, nor for response headers). None on any failure: callers treat it as
    /// "could not ask".
    async fn raw_get(&self, path: &str) -> Option<(u16, hyper::HeaderMap, bytes::Bytes)> {
        self.raw_get_result(path).await.ok()
    }

    /// `raw_get`, telling a timeout (`Err(true)`) from any other failure (`Err(false)`).
    async fn raw_get_result(
        &self,
        path: &str,
    ) -> Result<(u16, hyper::HeaderMap, bytes::Bytes), bool> {
        use http_body_util::BodyExt;
        use hyper_util::rt::TokioIo;
        let timeout = RAW_TIMEOUT;
        let req = hyper::Request::get(path)
            .header("Host", "docker")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|_| false)?;
        let super::remote::Conn { io, ssh } = tokio::time::timeout(timeout, self.raw_connection())
            .await
            .map_err(|_| true)?
            .map_err(|_| false)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|_| false)?;
        tokio::spawn(async move {
            let _ = connection.await;
            drop(ssh);
        });
        let resp = tokio::time::timeout(timeout, sender.send_request(req))
            .await
            .map_err(|_| true)?
            .map_err(|_| false)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(timeout, resp.into_body().collect())
            .await
            .map_err(|_| true)?
            .map_err(|_| false)?
            .to_bytes();
        Ok((status, headers, body))
    }

    /// `POST /containers/ID/wait?condition=removed`, once the engine has answered its headers (it waits from
    /// then on); the body ends with the exit code when the container is gone.
    async fn wait_removed(&self, id: &str) -> Result<hyper::body::Incoming, DockerError> {
        let resp = self
            .raw_post_response(&format!("/containers/{id}/wait?condition=removed"), &[])
            .await?;
        if resp.status().is_success() {
            return Ok(resp.into_body());
        }
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Err(DockerError::Other(format!(
            "engine answered {status} to the wait for container {id}: {}",
            String::from_utf8_lossy(&body).trim()
        )))
    }

    /// Platforms this engine can build: its own, plus those a QEMU binfmt handler is registered for (only
    /// visible for an engine on this machine).
    pub(super) fn platforms_of(&self, probe: &EngineProbe) -> Vec<String> {
        use crate::engine::platforms::{binfmt_dir, binfmt_platforms, is_local_endpoint};
        let extra = if is_local_endpoint(&self.endpoint) {
            binfmt_platforms(&binfmt_dir())
        } else {
            Vec::new()
        };
        super::capabilities::merge_platforms(&probe.native_platform(), &extra)
    }
}

impl BollardEngine {
    /// The engine's BuildKit Control API (`POST /grpc`), over the same transport as the API calls (unix,
    /// tcp, tcp with TLS, ssh). None only when the endpoint could not be resolved.
    pub(super) fn grpc_target(&self) -> Option<crate::buildkit::Target> {
        use crate::buildkit::transport::{Dial, Io, Target};
        // TLS and ssh engines: the same connection the API calls use (the CLI's TLS files; ssh with
        // `docker system dial-stdio`, which carries the upgrade like any other request).
        if let Some(dialer) = &self.dialer {
            let dialer = dialer.clone();
            return Some(Target::EngineGrpcVia(Dial {
                dial: std::sync::Arc::new(move || {
                    let dialer = dialer.clone();
                    Box::pin(async move {
                        let conn = dialer.dial().await?;
                        Ok(Box::new(KeepAlive(conn)) as Box<dyn Io>)
                    })
                }),
                describe: self.endpoint.clone(),
            }));
        }
        Target::engine(&self.resolved.as_ref()?.host)
    }

    /// A transport failure in the words the /build path uses: cause (dropped, refused, permission) and what
    /// to do.
    fn explained_unreachable(&self, reason: String) -> DockerError {
        let messages = [reason];
        self.unreachable(diagnose::explain(
            &self.endpoint,
            diagnose::cause_of(None, &messages),
            &messages,
        ))
    }

    /// For a build with `--platform` that failed: one line per base image this engine holds only for another
    /// platform. The engine then asks the base's registry for the platform asked for, and for an image that
    /// exists only here (or offline) that fails like a network or not-found error; the
    /// `base-not-for-platform` signature reads these lines.
    async fn bases_for_another_platform(&self, spec: &BuildSpec) -> Vec<String> {
        let Ok(wanted) = crate::engine::platforms::Platform::parse(&spec.platform) else {
            return Vec::new();
        };
        let Ok(docker) = self.client() else {
            return Vec::new();
        };
        let text =
            std::fs::read_to_string(spec.context_dir.join(&spec.dockerfile)).unwrap_or_default();
        let mut lines = Vec::new();
        for base in crate::analyze::base_digest::base_references(&text, &spec.args) {
            let Ok(image) = docker.inspect_image(&base.tagged).await else {
                continue;
            };
            let os = image.os.unwrap_or_default();
            let arch = go_arch(&image.architecture.unwrap_or_default()).to_string();
            if os.is_empty() || arch.is_empty() || (os == wanted.os && arch == wanted.architecture)
            {
                continue;
            }
            lines.push(format!(
                "dockui: the base image {} is in this engine for {os}/{arch} only, not for {wanted}: for --platform {wanted} the engine asks its registry for that platform's image",
                base.tagged
            ));
        }
        lines
    }

    /// A BuildKit build through the engine's `/grpc`: session with file sync, Solve with the `moby`
    /// exporter (the image lands in the engine under every tag), Status into the log.
    async fn build_session(
        &self,
        channel: tonic::transport::Channel,
        spec: BuildSpec,
        cache_from: Vec<crate::builder::cache::CacheSpec>,
        cache_to: Vec<crate::builder::cache::CacheSpec>,
        events: UnboundedSender<BuildEvent>,
    ) -> Result<String, DockerError> {
        use crate::buildkit::solve;
        let _ = events.send(BuildEvent::Line(format!(
            "dockui: building {} with BuildKit (context through the session)",
            spec.tag
        )));
        // Every name with its tag, as the /build path tags them (`-t name` means `name:latest`).
        let full = |r: &str| match r.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some(_) => r.to_string(),
            None => format!("{r}:latest"),
        };
        let names: Vec<String> = std::iter::once(&spec.tag)
            .chain(&spec.extra_tags)
            .map(|r| full(r))
            .collect();
        let req = solve::request(
            &spec,
            &solve::Output::Moby {
                names: names.clone(),
            },
            &cache_from,
            &cache_to,
        )?;
        let unreachable = |r: String| self.explained_unreachable(r);
        let solved = solve::run(channel, &spec, req, &events, &unreachable).await?;
        let id = match solved.config_digest {
            Some(id) => id,
            None => match self.inspect_image(&spec.tag).await? {
                Some(info) => info.id,
                None => {
                    return Err(DockerError::BuildFailed {
                        message: "the engine reported no image".into(),
                    });
                }
            },
        };
        // The engine's /build ends with these lines for BuildKit builds too: the log reads the same.
        for name in &names {
            let _ = events.send(BuildEvent::Line(format!("Successfully tagged {name}")));
        }
        Ok(id)
    }
}

/// Dropped while a Podman build streams (a cancel): say what Podman still does, since it cannot be stopped.
struct PodmanCancelNote {
    events: Option<UnboundedSender<BuildEvent>>,
}

impl Drop for PodmanCancelNote {
    fn drop(&mut self) {
        if let Some(events) = self.events.take() {
            let _ = events.send(BuildEvent::Line(PODMAN_CANCEL_NOTE.into()));
        }
    }
}

pub const PODMAN_CANCEL_NOTE: &str = "dockui: note: Podman cannot stop a build through its API: the step that is running goes on until its command ends, then Podman stops the build without running further steps or tagging the image (to end it now, stop that step's process on the Podman host)";

impl DockerPort for BollardEngine {
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    fn context(&self) -> Option<String> {
        self.resolved.as_ref().and_then(|e| e.context.clone())
    }

    fn export_image<'a>(
        &'a self,
        image: &'a str,
    ) -> futures_util::stream::BoxStream<'a, Result<bytes::Bytes, DockerError>> {
        match self.client() {
            Ok(docker) => Box::pin(
                docker
                    .export_image(image)
                    .map(move |r| r.map_err(|e| self.map_err(e))),
            ),
            Err(e) => Box::pin(futures_util::stream::once(async move { Err(e) })),
        }
    }

    fn image_size<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Result<Option<u64>, DockerError>> {
        async move {
            let docker = self.client()?;
            match docker.inspect_image(image).await {
                Ok(i) => Ok(i.size.and_then(|s| u64::try_from(s).ok())),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(None),
                Err(e) => Err(self.map_err(e)),
            }
        }
        .boxed()
    }

    fn endpoint_json(&self) -> serde_json::Value {
        let ep = self.resolved();
        // What this process learnt of the engine when it asked (nothing yet: nulls, no extra request).
        let probe = last_probe(&self.endpoint);
        serde_json::json!({
            "endpoint": ep.map(|e| e.host.clone()).unwrap_or_else(|| self.endpoint.clone()),
            "context": ep.and_then(|e| e.context.clone()),
            "source": ep.map(|e| e.source),
            "tls": ep.is_some_and(|e| e.tls.is_some()),
            "version": probe.as_ref().map(|p| if p.podman { format!("Podman {}", p.podman_version) } else { p.version.clone() }),
            "rootless": probe.as_ref().and_then(|p| p.rootless),
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
        async move {
            // The probe pings (every time; only what answers is remembered).
            let probe = self.probe().await?;
            Ok(EngineInfo {
                endpoint: self.endpoint.clone(),
                context: self.resolved.as_ref().and_then(|e| e.context.clone()),
                // The status bar shows this: say when the socket is Podman's (builds go the legacy way).
                version: if probe.podman {
                    let rootless = if probe.rootless == Some(true) {
                        ", rootless"
                    } else {
                        ""
                    };
                    format!("Podman {}{rootless}", probe.podman_version)
                } else {
                    probe.version
                },
                api_version: probe.api_version,
            })
        }
        .boxed()
    }

    fn build(
        &self,
        spec: BuildSpec,
        events: UnboundedSender<BuildEvent>,
    ) -> BoxFuture<'_, Result<String, DockerError>> {
        // After a failure: bases this engine has only for another platform than the one asked for.
        let (after_spec, after_events) = (spec.clone(), events.clone());
        async move {
            let built: Result<String, DockerError> = async move {
            let docker = self.client()?;
            let probe = self.probe().await.ok();
            let podman = probe.as_ref().is_some_and(|p| p.podman);
            if let Some(p) = probe.as_ref().filter(|p| p.podman) {
                let text = std::fs::read_to_string(spec.context_dir.join(&spec.dockerfile))
                    .unwrap_or_default();
                if let Some(why) = podman_cannot_build(
                    &p.podman_version,
                    &spec.dockerfile.display().to_string(),
                    &text,
                ) {
                    return Err(DockerError::Context(why));
                }
            }
            let mut use_buildkit = match spec.builder {
                Builder::Legacy => false,
                // Podman takes a BuildKit request and builds it the legacy way anyway: say so, ask legacy.
                Builder::BuildKit if podman => {
                    let _ = events.send(BuildEvent::Line(
                        "dockui: note: this socket is Podman's, which has no BuildKit: building with its legacy-API builder (buildah)".into(),
                    ));
                    false
                }
                Builder::BuildKit => true,
                Builder::Auto => probe.as_ref().is_some_and(EngineProbe::buildkit),
            };
            // Read .dockerignore first: a bad pattern is reported with its line whichever builder runs.
            let leaks = super::context::build_files_excluded(&spec.context_dir, &spec.dockerfile)
                .map_err(|e| {
                    let todo = if e.kind() == std::io::ErrorKind::InvalidData {
                        "; what to do: fix that line (docker's pattern syntax: *, ?, [...], **, ! to re-include)"
                    } else {
                        ""
                    };
                    DockerError::Context(format!("cannot read the build context: {e}{todo}"))
                })?;
            let (cache_from, cache_to) = crate::buildkit::solve::cache_specs(&spec)?;
            // A platform of another OS fails only at its first RUN: say so before building.
            if !spec.platform.trim().is_empty()
                && let Ok(caps) = self.capabilities().await
                && let Some(why) = super::capabilities::foreign_os(
                    &spec.platform,
                    &caps.platforms,
                    &format!("the engine at {}", self.endpoint),
                )
            {
                return Err(DockerError::Context(why));
            }
            if !cache_from.is_empty() || !cache_to.is_empty() {
                let mut caps = self.capabilities().await?;
                if !use_buildkit {
                    caps.buildkit = false;
                    caps.cache_export.clear();
                    // A local cache directory is read through BuildKit's session only.
                    caps.cache_import.retain(|c| *c != crate::builder::CacheType::Local);
                }
                for line in crate::builder::cache::summary(&cache_from, &cache_to, &caps) {
                    let _ = events.send(BuildEvent::Line(line));
                }
                if let Some(p) = crate::builder::cache::check(&cache_from, &cache_to, &caps)
                    .into_iter()
                    .next()
                {
                    return Err(DockerError::Context(p.message));
                }
            }
            // BuildKit through the engine's /grpc with a session, like the docker CLI: the context goes
            // through file sync filtered by the frontend's .dockerignore patterns, the Dockerfile through
            // its own local source, so `COPY .` sees exactly what the legacy builder sees.
            if use_buildkit && let Some(target) = self.grpc_target() {
                match target.channel().await {
                    Ok(channel) => {
                        return self
                            .build_session(channel, spec, cache_from, cache_to, events)
                            .await;
                    }
                    // No BuildKit endpoint (Podman, an old engine): /build below decides what it can do.
                    Err(e) if e.contains("POST /grpc") => {
                        if cache_from.iter().any(|c| c.kind == crate::builder::CacheType::Local) {
                            return Err(DockerError::Context(format!(
                                "--cache-from type=local is read through BuildKit's session on the engine's /grpc, which {} does not serve ({e}); use --cache-from type=registry,ref=IMAGE",
                                self.endpoint
                            )));
                        }
                        log::info!("{}: {e}; building through /build", self.endpoint);
                    }
                    Err(e) => return Err(self.explained_unreachable(e)),
                }
            }
            // Otherwise (an engine without /grpc) a tar context through /build: BuildKit then keeps the
            // Dockerfile and .dockerignore in `COPY .` even when .dockerignore excludes them; the legacy
            // builder sends the same context as docker, unless the Dockerfile needs BuildKit.
            if use_buildkit && leaks {
                let dockerfile = std::fs::read_to_string(spec.context_dir.join(&spec.dockerfile))
                    .unwrap_or_default();
                if needs_buildkit(&dockerfile) {
                    let _ = events.send(BuildEvent::Line(
                        "dockui: note: .dockerignore excludes the Dockerfile or itself, but through BuildKit both stay visible to `COPY .` (this Dockerfile needs BuildKit)".into(),
                    ));
                } else {
                    use_buildkit = false;
                    let _ = events.send(BuildEvent::Line(
                        "dockui: .dockerignore excludes the Dockerfile or itself: using the legacy builder so `COPY .` sees exactly what docker sends".into(),
                    ));
                }
            }
            let _ = events.send(BuildEvent::Line(format!(
                "dockui: building {} with {}",
                spec.tag,
                if use_buildkit {
                    "BuildKit"
                } else if podman {
                    "Podman (the legacy builder)"
                } else {
                    "the legacy builder"
                }
            )));
            // The context is tarred on a blocking thread and streamed in chunks: never whole in memory.
            let (body, mut packer) = super::context::context_tar_stream(
                spec.context_dir.clone(),
                spec.dockerfile.clone(),
            );

            let mut args: HashMap<String, String> = spec.args.clone().into_iter().collect();
            if cache_to.iter().any(|c| c.kind == crate::builder::CacheType::Inline) {
                args.insert("BUILDKIT_INLINE_CACHE".into(), "1".into());
            }
            let cache_refs: Vec<String> = cache_from
                .iter()
                .filter_map(|c| c.reference().map(str::to_string))
                .collect();
            // The legacy builder takes --cache-from images from the engine's store only: it never pulls them.
            if !use_buildkit {
                for r in &cache_refs {
                    if matches!(self.inspect_image(r).await, Ok(None)) {
                        let _ = events.send(BuildEvent::Line(format!(
                            "dockui: note: the legacy builder does not pull cache images, and {r} is not in this engine: it gives no cache (pull it first, or build with BuildKit: [build] builder = \"auto\")"
                        )));
                    }
                }
            }
            let labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
            let session = format!(
                "dockui-{}-{}",
                std::process::id(),
                spec.tag.replace(['/', ':'], "-")
            );
            let mut opts = BuildImageOptionsBuilder::new()
                .dockerfile(&spec.dockerfile.to_string_lossy())
                .t(&spec.tag)
                .rm(true)
                .forcerm(true)
                .nocache(spec.no_cache)
                .buildargs(&args)
                .labels(&labels);
            if use_buildkit {
                opts = opts
                    .version(BuilderVersion::BuilderBuildKit)
                    .session(&session);
            }
            if spec.pull {
                opts = opts.pull("1");
            }
            if !cache_refs.is_empty() {
                opts = opts.cachefrom(&cache_refs);
            }
            if !spec.target.is_empty() {
                opts = opts.target(&spec.target);
            }
            if !spec.platform.is_empty() {
                opts = opts.platform(&spec.platform);
            }
            if !spec.network.is_empty() {
                opts = opts.networkmode(&spec.network);
            }
            // Podman (4.x) cannot stop a build through its API: when the client goes, the step that is
            // running goes on until its command ends, then Podman stops without tagging. Said on cancel.
            let mut podman_cancel = PodmanCancelNote {
                events: podman.then(|| events.clone()),
            };
            let mut stream =
                docker.build_image(opts.build(), None, Some(bollard::body_try_stream(body)));
            let mut image_id = None;
            let mut buildkit = super::buildkit_progress::Renderer::default();
            let mut buildkit_error: Option<String> = None;
            // Legacy output arrives in fragments ("Step 1/4 : X" and its "\n" separately): join before splitting.
            let mut pending = String::new();
            let emit = |pending: &mut String, flush_all: bool| {
                while let Some(pos) = pending.find('\n') {
                    let line: String = pending.drain(..=pos).collect();
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if let Some((current, total)) = parse_step(&line) {
                        let _ = events.send(BuildEvent::Step { current, total });
                    }
                    let _ = events.send(BuildEvent::Line(line));
                }
                if flush_all && !pending.is_empty() {
                    let _ = events.send(BuildEvent::Line(std::mem::take(pending)));
                }
            };
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(s) = info.stream {
                            pending.push_str(&s);
                            emit(&mut pending, false);
                        }
                        if let Some(s) = info.status {
                            pending.push_str(&s);
                            pending.push('\n');
                            emit(&mut pending, false);
                        }
                        match info.aux {
                            Some(BuildInfoAux::Default(id)) => image_id = id.id.or(image_id),
                            Some(BuildInfoAux::BuildKit(status)) => {
                                // A failed cache import is not the build's failure: BuildKit goes on
                                // without the cache (the renderer says so).
                                for v in status.vertexes.iter().filter(|v| {
                                    !v.error.is_empty()
                                        && !v.name.starts_with("importing cache manifest from ")
                                }) {
                                    buildkit_error.get_or_insert_with(|| v.error.clone());
                                }
                                for out in buildkit.render(&status) {
                                    let _ = events.send(match out {
                                        super::buildkit_progress::Out::Line(l) => {
                                            BuildEvent::Line(l)
                                        }
                                        super::buildkit_progress::Out::Step(current, total) => {
                                            BuildEvent::Step { current, total }
                                        }
                                    });
                                }
                            }
                            None => {}
                        }
                    }
                    Err(e) => {
                        emit(&mut pending, true);
                        podman_cancel.events = None;
                        for out in buildkit.finish() {
                            if let super::buildkit_progress::Out::Line(l) = out {
                                let _ = events.send(BuildEvent::Line(l));
                            }
                        }
                        // A context that cannot be packed (bad .dockerignore, unreadable file) ends the
                        // upload: that is the cause to report, not the transport error it produced.
                        drop(stream);
                        if let Some(err) = context_failure(&mut packer, &spec).await {
                            let _ = events.send(BuildEvent::Line(format!("ERROR: {err}")));
                            return Err(err);
                        }
                        let err = match self.map_err(e) {
                            // BuildKit's stream error can be terse; the failing vertex's error says more.
                            DockerError::BuildFailed { message } => match &buildkit_error {
                                Some(b) if !message.contains(b.as_str()) => {
                                    DockerError::BuildFailed {
                                        message: format!("{message}: {b}"),
                                    }
                                }
                                _ => DockerError::BuildFailed { message },
                            },
                            other => other,
                        };
                        if let DockerError::BuildFailed { message } = &err {
                            let _ = events.send(BuildEvent::Line(format!("ERROR: {message}")));
                        }
                        return Err(err);
                    }
                }
            }
            emit(&mut pending, true);
            for out in buildkit.finish() {
                if let super::buildkit_progress::Out::Line(l) = out {
                    let _ = events.send(BuildEvent::Line(l));
                }
            }
            drop(stream);
            podman_cancel.events = None;
            if let Some(err) = context_failure(&mut packer, &spec).await {
                return Err(err);
            }
            if let Some(message) = buildkit_error {
                let _ = events.send(BuildEvent::Line(format!("ERROR: {message}")));
                return Err(DockerError::BuildFailed { message });
            }
            let id = match image_id {
                Some(id) => id,
                // Some engines only print "Successfully built <id>": ask the engine for the tag instead.
                None => match self.inspect_image(&spec.tag).await? {
                    Some(info) => info.id,
                    None => {
                        return Err(DockerError::BuildFailed {
                            message: "the engine reported no image".into(),
                        });
                    }
                },
            };
            for extra in &spec.extra_tags {
                let (repo, tag) = match extra.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
                    Some((r, t)) => (r, t),
                    None => (extra.as_str(), "latest"),
                };
                self.tag(&spec.tag, repo, tag).await?;
                let _ = events.send(BuildEvent::Line(format!("dockui: tagged {repo}:{tag}")));
            }
            Ok(id)
        }
        .await;
            if matches!(built, Err(DockerError::BuildFailed { .. })) {
                for line in self.bases_for_another_platform(&after_spec).await {
                    let _ = after_events.send(BuildEvent::Line(line));
                }
            }
            built
        }
        .boxed()
    }

    fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>> {
        async move {
            let docker = self.client()?;
            let opts = bollard::query_parameters::ListContainersOptionsBuilder::new()
                .all(true)
                .build();
            let list = docker
                .list_containers(Some(opts))
                .await
                .map_err(|e| self.map_err(e))?;
            Ok(list
                .into_iter()
                .filter_map(|c| {
                    let id: String = c.id?.chars().take(12).collect();
                    let name = c
                        .names?
                        .into_iter()
                        .next()?
                        .trim_start_matches('/')
                        .to_string();
                    Some((id, name))
                })
                .collect())
        }
        .boxed()
    }

    fn inspect_image<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>> {
        async move {
            let docker = self.client()?;
            match docker.inspect_image(reference).await {
                Ok(i) => Ok(Some(ImageInfo {
                    platform: match (i.os.as_deref(), i.architecture.as_deref()) {
                        (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => {
                            Some(match i.variant.as_deref().filter(|v| !v.is_empty()) {
                                Some(v) => format!("{os}/{arch}/{v}"),
                                None => format!("{os}/{arch}"),
                            })
                        }
                        _ => None,
                    },
                    id: i.id.unwrap_or_default(),
                    repo_tags: i.repo_tags.unwrap_or_default(),
                    repo_digests: i.repo_digests.unwrap_or_default(),
                    labels: i
                        .config
                        .and_then(|c| c.labels)
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                })),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(None),
                Err(e) => Err(self.map_err(e)),
            }
        }
        .boxed()
    }

    fn run_once(&self, spec: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>> {
        async move {
            let docker = self.client()?;
            // The build's probe of this endpoint, else one probe (a ping per smoke container adds up, and
            // over ssh each ping is a new session).
            let podman = match last_probe(&self.endpoint) {
                Some(p) => p.podman,
                None => self.probe().await.is_ok_and(|p| p.podman),
            };
            let mut host_config = bollard::models::HostConfig {
                // The engine removes the container when it stops, even if dockui is gone by then.
                auto_remove: Some(true),
                ..Default::default()
            };
            if spec.gpus {
                host_config.device_requests = Some(vec![bollard::models::DeviceRequest {
                    driver: Some(String::new()),
                    count: Some(-1),
                    capabilities: Some(vec![vec!["gpu".to_string()]]),
                    ..Default::default()
                }]);
            }
            let body = ContainerCreateBody {
                image: Some(spec.image.clone()),
                cmd: spec.cmd.clone(),
                host_config: Some(host_config),
                labels: Some(run_labels().into_iter().collect()),
                ..Default::default()
            };
            let created = docker
                .create_container(Some(CreateContainerOptionsBuilder::new().build()), body)
                .await
                .map_err(|e| self.map_err(e))?;
            let id = created.id;
            // Whatever happens from here, the container is removed (also when this future is dropped mid-way).
            let guard = RemoveOnDrop {
                docker: docker.clone(),
                id: Some(id.clone()),
            };
            let result = async {
                // Output and exit code are taken while the container runs: with AutoRemove it is gone as
                // soon as it stops, logs and all. The attach stream carries the output to the end; the
                // engine's "die" event carries the exit code (replayed from the engine's recent events, so
                // it cannot be missed by subscribing late).
                let attach = docker
                    .attach_container(
                        &id,
                        Some(
                            AttachContainerOptionsBuilder::new()
                                .stdout(true)
                                .stderr(true)
                                .stream(true)
                                .logs(true)
                                .build(),
                        ),
                    )
                    .await
                    .map_err(|e| self.map_err(e))?;
                // Docker: the exit code from a wait for the container's removal, registered before the
                // start (the engine answers the headers once it waits), as `docker run --rm` does; it ends
                // when the container is gone, so no removal has to be polled for afterwards. Podman's
                // compat wait answers 0 for a removed container whatever its exit code: there, the "die"
                // event (replayed from the engine's recent events, so it cannot be missed by subscribing
                // late).
                let waited = if podman {
                    None
                } else {
                    Some(self.wait_removed(&id).await?)
                };
                // No `event=die` filter: Podman's compat API (4.x) matches it against its own name ("died")
                // and sends nothing; the action is checked here instead.
                let filters = HashMap::from([
                    ("container", vec![id.as_str()]),
                    ("type", vec!["container"]),
                ]);
                let mut die_events = Box::pin(
                    docker.events(Some(
                        EventsOptionsBuilder::new()
                            .since("1")
                            .filters(&filters)
                            .build(),
                    )),
                );
                docker
                    .start_container(&id, None)
                    .await
                    .map_err(|e| self.map_err(e))?;
                let mut output = String::new();
                let mut out = attach.output;
                while let Some(chunk) = out.next().await {
                    match chunk {
                        Ok(c) => output.push_str(&c.to_string()),
                        // The container's streams closed with it.
                        Err(_) => break,
                    }
                }
                let exit_code = tokio::time::timeout(std::time::Duration::from_secs(30), async {
                    if let Some(body) = waited {
                        let body = http_body_util::BodyExt::collect(body)
                            .await
                            .map_err(|e| {
                                self.unreachable(format!("the wait for container {id} broke: {e}"))
                            })?
                            .to_bytes();
                        return exit_code_of_wait(&body).ok_or_else(|| {
                            DockerError::Other(format!(
                                "the engine's wait for container {id} gave no exit code: {}",
                                String::from_utf8_lossy(&body).trim()
                            ))
                        });
                    }
                    while let Some(ev) = die_events.next().await {
                        let ev = ev.map_err(|e| self.map_err(e))?;
                        if ev.action.as_deref() != Some("die") {
                            continue;
                        }
                        let code = ev
                            .actor
                            .and_then(|a| a.attributes)
                            .and_then(|a| a.get("exitCode").cloned())
                            .and_then(|c| c.parse::<i64>().ok());
                        if let Some(code) = code {
                            return Ok(code);
                        }
                    }
                    Err(DockerError::Other(format!(
                        "the engine's event stream ended before container {id} stopped"
                    )))
                })
                .await
                .map_err(|_| {
                    DockerError::Other(format!(
                        "container {id} ended its output but the engine reported no exit code"
                    ))
                })??;
                Ok(RunOutput { exit_code, output })
            }
            .await;
            guard.remove_now().await;
            result
        }
        .boxed()
    }

    fn remove_orphans(&self) -> BoxFuture<'_, Result<Vec<String>, DockerError>> {
        async move {
            let docker = self.client()?;
            let filters = HashMap::from([("label", vec![RUN_LABEL])]);
            let opts = bollard::query_parameters::ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build();
            let list = docker
                .list_containers(Some(opts))
                .await
                .map_err(|e| self.map_err(e))?;
            let mut removed = Vec::new();
            for c in list {
                let owner = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(RUN_LABEL))
                    .cloned()
                    .unwrap_or_default();
                let (Some(id), true) = (c.id, run_is_dead(&owner)) else {
                    continue;
                };
                let opts = RemoveContainerOptionsBuilder::new().force(true).build();
                match docker.remove_container(&id, Some(opts)).await {
                    Ok(()) => {
                        log::info!("removed container {id} left by the dead dockui run {owner}");
                        removed.push(id);
                    }
                    Err(e) => log::warn!("could not remove orphan container {id}: {e}"),
                }
            }
            Ok(removed)
        }
        .boxed()
    }

    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, DockerError>> {
        self.docker_capabilities().boxed()
    }

    fn tag<'a>(
        &'a self,
        source: &'a str,
        repository: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        BollardEngine::tag(self, source, repository, tag).boxed()
    }

    fn push<'a>(
        &'a self,
        image_ref: &'a str,
        tag: &'a str,
        credentials: Option<&'a Credentials>,
        progress: UnboundedSender<PushProgress>,
        stall_after: std::time::Duration,
    ) -> BoxFuture<'a, Result<PushResult, DockerError>> {
        BollardEngine::push(self, image_ref, tag, credentials, progress, stall_after).boxed()
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        BollardEngine::settle(self).boxed()
    }
}

/// A dialed connection that keeps what it needs alive (for ssh, the ssh process) as long as it is in use.
struct KeepAlive(super::remote::Conn);

impl tokio::io::AsyncRead for KeepAlive {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0.io).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for KeepAlive {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0.io).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0.io).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0.io).poll_shutdown(cx)
    }
}

/// The label every container dockui runs carries: the run that made it ("host:pid:start").
pub const RUN_LABEL: &str = "dockui";
/// Optional grouping label from $DOCKUI_RUN_GROUP (a test suite or CI job scopes its checks with it).
pub const GROUP_LABEL: &str = "dockui.group";
pub const GROUP_ENV: &str = "DOCKUI_RUN_GROUP";

/// This process's run id: host, pid and the process's start time (so a reused pid is not mistaken for us).
pub fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let pid = std::process::id();
        format!("{}:{pid}:{}", hostname(), process_start(pid).unwrap_or(0))
    })
}

static GROUP: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Set the group label in-process (tests that drive the engine without the binary); first call wins.
pub fn set_run_group(group: &str) {
    let _ = GROUP.set(group.to_string());
}

fn run_labels() -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (RUN_LABEL.to_string(), run_id().to_string()),
        ("dev.dockui.managed".to_string(), "true".to_string()),
    ]);
    let group = GROUP
        .get()
        .cloned()
        .or_else(|| std::env::var(GROUP_ENV).ok())
        .filter(|g| !g.is_empty());
    if let Some(group) = group {
        labels.insert(GROUP_LABEL.to_string(), group);
    }
    labels
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    }
}

/// Field 22 of /proc/PID/stat: start time in clock ticks since boot (Linux).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the run that labelled a container is over: same host, and its process is gone (or the pid now
/// belongs to another process). Runs on other hosts sharing the engine are never judged.
pub fn run_is_dead(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(start), Ok(pid)) = (start.parse::<u64>(), pid.parse::<u32>()) else {
        return false;
    };
    if host != hostname() || pid == std::process::id() {
        return false;
    }
    match process_start(pid) {
        Some(now) => start != 0 && now != start,
        None => true,
    }
}

/// Background removals (containers whose future was dropped): awaited by `settle` before exit.
static PENDING: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

impl BollardEngine {
    /// Wait (bounded) for removals started in the background, so nothing is left when the process ends.
    pub async fn settle(&self) {
        let pending: Vec<_> = PENDING
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let all = futures_util::future::join_all(pending);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(20), all).await;
    }
}

/// The packer's own failure, if it failed for a reason of its own (not because the upload went away).
async fn context_failure(
    packer: &mut tokio::task::JoinHandle<std::io::Result<super::context::ContextStats>>,
    spec: &BuildSpec,
) -> Option<DockerError> {
    // The body is gone, so the packer finishes promptly (its next send fails).
    match tokio::time::timeout(std::time::Duration::from_secs(10), packer).await {
        Ok(Ok(Err(e))) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Some(DockerError::Context(format!(
                "cannot send the build context {}: {e}",
                spec.context_dir.display()
            )))
        }
        _ => None,
    }
}

/// Removes a container when dropped; `remove_now` does it in place and awaits it.
struct RemoveOnDrop {
    docker: Docker,
    id: Option<String>,
}

async fn force_remove(docker: &Docker, id: &str) {
    let opts = RemoveContainerOptionsBuilder::new().force(true).build();
    match docker.remove_container(id, Some(opts)).await {
        Ok(()) => {}
        // AutoRemove got there first: gone already.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        // AutoRemove is removing it right now: wait (bounded) until it is gone, so "removed" holds when
        // the caller goes on.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
            while std::time::Instant::now() < deadline {
                match docker.inspect_container(id, None).await {
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => return,
                    Err(e) => {
                        log::warn!("could not follow the removal of container {id}: {e}");
                        return;
                    }
                    Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                }
            }
            log::warn!("container {id} is still being removed after 15 s");
        }
        Err(e) => log::warn!("could not remove container {id}: {e}"),
    }
}

impl RemoveOnDrop {
    async fn remove_now(mut self) {
        if let Some(id) = self.id.take() {
            force_remove(&self.docker, &id).await;
        }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let docker = self.docker.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let task = handle.spawn(async move { force_remove(&docker, &id).await });
                if let Ok(mut p) = PENDING.lock() {
                    p.retain(|t| !t.is_finished());
                    p.push(task);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_before_4_8_cannot_build_heredocs() {
        let df = "FROM scratch\nCOPY busybox /bin/busybox\nCOPY <<EOT /greeting\nhello\nEOT\n";
        let m = podman_cannot_build("4.3.1", "Dockerfile", df).expect("refused");
        assert!(
            m.starts_with("Dockerfile:3: COPY uses a heredoc (<<EOT)"),
            "{m}"
        );
        assert!(
            m.contains("Podman 4.3.1") && m.contains("--backend docker"),
            "{m}"
        );
        assert_eq!(podman_cannot_build("4.8.0", "Dockerfile", df), None);
        assert_eq!(podman_cannot_build("5.2.2", "Dockerfile", df), None);
        // No heredoc: nothing to say; `<<` in a shell line that is no heredoc marker is not one either.
        let plain = "FROM scratch\nRUN [\"/bin/busybox\", \"true\"]\n";
        assert_eq!(podman_cannot_build("4.3.1", "Dockerfile", plain), None);
        let shift = "FROM scratch\nRUN echo $((1 << 2)) > /x\n";
        assert_eq!(podman_cannot_build("4.3.1", "Dockerfile", shift), None);
        assert_eq!(podman_cannot_build("", "Dockerfile", df), None);
    }

    #[test]
    fn step_lines_parse() {
        assert_eq!(parse_step("Step 3/7 : RUN echo hi"), Some((3, 7)));
        assert_eq!(parse_step("Step 10/12 : COPY . ."), Some((10, 12)));
        assert_eq!(parse_step("Steps are fun"), None);
        assert_eq!(parse_step(" ---> Running in abc"), None);
        // Podman (buildah) through its Docker-compatible socket.
        assert_eq!(parse_step("STEP 1/4: FROM scratch"), Some((1, 4)));
        assert_eq!(parse_step("STEP 12/12: RUN make"), Some((12, 12)));
        assert_eq!(parse_step("STEPS 1/2: x"), None);
        assert_eq!(parse_step("--> 6ad002b1796"), None);
        // Multi-stage builds on Podman: the stage comes first, the step counts within it (as BuildKit's
        // "[builder 2/3]" does).
        assert_eq!(parse_step("[1/2] STEP 3/4: RUN make"), Some((3, 4)));
        assert_eq!(parse_step("[2/2] STEP 1/4: FROM scratch"), Some((1, 4)));
        assert_eq!(parse_step("[1/2] building"), None);
        assert_eq!(parse_step("[x/2] STEP 1/4: FROM scratch"), None);
    }

    #[test]
    fn podman_is_recognised_by_its_version_component_and_rootless_by_libpod_info() {
        // Podman 4.3.1's compat /version (trimmed).
        let podman: bollard::models::SystemVersion = serde_json::from_str(
            r#"{"Platform":{"Name":"linux/amd64/debian-12"},"Components":[{"Name":"Podman Engine","Version":"4.3.1","Details":{"APIVersion":"4.3.1"}},{"Name":"Conmon","Version":"conmon version 2.1.6"}],"Version":"4.3.1","ApiVersion":"1.41","Arch":"amd64"}"#,
        )
        .unwrap();
        assert!(is_podman_version(&podman));
        let docker: bollard::models::SystemVersion = serde_json::from_str(
            r#"{"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1"},{"Name":"containerd","Version":"1.6.20"}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","Arch":"amd64"}"#,
        )
        .unwrap();
        assert!(!is_podman_version(&docker));
        assert_eq!(
            rootless_of_libpod_info(
                br#"{"host":{"security":{"rootless":true,"seccompEnabled":true}}}"#
            ),
            Some(true)
        );
        assert_eq!(
            rootless_of_libpod_info(br#"{"host":{"security":{"rootless":false}}}"#),
            Some(false)
        );
        assert_eq!(rootless_of_libpod_info(b"page not found"), None);
        let probe = EngineProbe {
            podman: true,
            api_version: "1.41".into(),
            arch: "amd64".into(),
            ..Default::default()
        };
        assert!(
            !probe.buildkit(),
            "Podman builds BuildKit requests the legacy way"
        );
        assert_eq!(probe.kind(), BackendKind::Podman);
        let probe = EngineProbe {
            api_version: "1.41".into(),
            arch: "x86_64".into(),
            ..Default::default()
        };
        assert!(probe.buildkit());
        assert_eq!(probe.native_platform(), "linux/amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }

    #[test]
    fn a_run_id_is_dead_only_when_its_process_is_gone_on_this_host() {
        assert!(!run_is_dead(run_id()), "this process is alive");
        let host = hostname();
        // pid 1 is alive (with another start time than 1 tick after boot... or the same: both not dead
        // when it matches); an absurd pid is dead.
        assert!(run_is_dead(&format!("{host}:4194303999:5")));
        assert!(
            !run_is_dead("another-host:4194303999:5"),
            "other hosts are never judged"
        );
        assert!(!run_is_dead("garbage"));
        let parent = std::os::unix::process::parent_id();
        let start = process_start(parent).expect("parent start");
        assert!(!run_is_dead(&format!("{host}:{parent}:{start}")));
        assert!(
            run_is_dead(&format!("{host}:{parent}:{}", start + 1)),
            "a reused pid is not the run"
        );
    }

    #[test]
    fn buildkit_only_features_are_recognised() {
        assert!(needs_buildkit(
            "FROM x\nRUN --mount=type=cache,target=/root/.cache pip install x\n"
        ));
        assert!(needs_buildkit("# syntax=docker/dockerfile:1\nFROM x\n"));
        assert!(needs_buildkit("FROM x\nCOPY <<EOF /a\nhi\nEOF\n"));
        assert!(!needs_buildkit("FROM x\nCOPY . /app\nRUN make\n"));
        assert!(!needs_buildkit(
            "FROM x\n# RUN --mount=type=cache is a comment\n"
        ));
    }

    #[test]
    fn a_context_that_does_not_exist_is_shown_by_its_name() {
        let e = BollardEngine::unresolved(&super::super::endpoint::EndpointError::NoContext {
            name: "nope".into(),
            from: "DOCKER_CONTEXT",
            meta: "/x/meta.json".into(),
        });
        assert_eq!(e.endpoint(), "(context nope)");
    }

    #[test]
    fn unknown_scheme_is_a_state_not_a_panic() {
        let e = BollardEngine::connect("ftp://nowhere", 5);
        assert_eq!(e.endpoint(), "ftp://nowhere");
        assert!(e.client().is_err());
    }

    fn endpoint(host: &str, context: Option<&str>, tls: Option<TlsFiles>) -> Endpoint {
        Endpoint {
            host: host.into(),
            tls,
            context: context.map(String::from),
            source: super::super::endpoint::Source::EnvContext,
        }
    }

    use super::super::endpoint::TlsFiles;

    #[test]
    fn the_endpoint_shown_names_the_context_and_each_transport_connects() {
        // bollard only checks that the socket path exists before the first request.
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("x.sock");
        std::fs::write(&sock, "").unwrap();
        let host = format!("unix://{}", sock.display());
        let e = BollardEngine::connect_to(endpoint(&host, Some("ci"), None), 5);
        assert_eq!(e.endpoint(), format!("{host} (context ci)"));
        assert!(e.client().is_ok());
        let e = BollardEngine::connect_to(endpoint("ssh://me@box:2222", None, None), 5);
        assert_eq!(e.endpoint(), "ssh://me@box:2222");
        assert!(e.client().is_ok(), "ssh connects lazily, per request");
        // TLS with verification off and no client certificate is a valid setup.
        let tls = TlsFiles::default();
        let e = BollardEngine::connect_to(endpoint("tcp://127.0.0.1:2376", None, Some(tls)), 5);
        assert!(e.client().is_ok());
        // A missing CA file is named before any connection is tried.
        let tls = TlsFiles {
            verify: true,
            ca: Some("/nonexistent/ca.pem".into()),
            cert: None,
            key: None,
        };
        let e = BollardEngine::connect_to(endpoint("tcp://127.0.0.1:2376", None, Some(tls)), 5);
        let err = e.client().unwrap_err().to_string();
        assert!(
            err.contains("cannot read the CA certificate /nonexistent/ca.pem"),
            "{err}"
        );
    }

    /// A socket that answers like a Podman whose `/version` lists no components (only its headers and
    /// `/libpod/info` tell), one request per connection.
    async fn fake_podman(socket: std::path::PathBuf) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                // Like Podman 4.3: its own API only under a version prefix.
                let libpod_info = path.ends_with("/libpod/info") && path.starts_with("/v");
                let body = if path.ends_with("/version") {
                    r#"{"Version":"4.3.1","ApiVersion":"1.41","Arch":"amd64","Os":"linux"}"#
                } else if libpod_info {
                    r#"{"host":{"security":{"rootless":true}}}"#
                } else {
                    "OK"
                };
                let status = if path.contains("/libpod/") && !libpod_info {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nLibpod-Api-Version: 4.3.1\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    }

    #[tokio::test]
    async fn podman_is_recognised_by_its_libpod_header_and_rootless_asked_of_libpod_info() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let server = tokio::spawn(fake_podman(socket.clone()));
        while !socket.exists() {
            tokio::task::yield_now().await;
        }
        let engine = BollardEngine::connect(&format!("unix://{}", socket.display()), 10);
        let probe = engine.probe().await.unwrap();
        assert!(probe.podman, "{probe:?}");
        assert_eq!(probe.podman_version, "4.3.1");
        assert_eq!(probe.rootless, Some(true));
        let caps = engine.capabilities().await.unwrap();
        assert_eq!(caps.kind, BackendKind::Podman);
        assert!(!caps.buildkit);
        assert_eq!(
            caps.platforms.first().map(String::as_str),
            Some("linux/amd64")
        );
        let info = engine.ping().await.unwrap();
        assert_eq!(info.version, "Podman 4.3.1, rootless");
        server.abort();
    }

    /// A Podman-like socket that records each request's path; its ping headers name `version`.
    async fn recording_podman(
        socket: std::path::PathBuf,
        version: std::sync::Arc<std::sync::Mutex<String>>,
        seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let (version, seen) = (version.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                seen.lock().unwrap().push(path.clone());
                let v = version.lock().unwrap().clone();
                let (status, body) = if path == "/_ping" {
                    ("200 OK", "OK".to_string())
                } else if path == format!("/v{v}/libpod/info") {
                    (
                        "200 OK",
                        format!(
                            r#"{{"host":{{"arch":"arm64","os":"linux","security":{{"rootless":false}}}},"version":{{"Version":"{v}","APIVersion":"{v}"}}}}"#
                        ),
                    )
                } else if path.ends_with("/version") {
                    (
                        "200 OK",
                        format!(
                            r#"{{"Version":"{v}","ApiVersion":"1.41","Arch":"amd64","Os":"linux","Components":[{{"Name":"Podman Engine","Version":"{v}"}}]}}"#
                        ),
                    )
                } else {
                    ("404 Not Found", "{}".to_string())
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nLibpod-Api-Version: {v}\r\nApi-Version: 1.41\r\nServer: Libpod/{v} (linux)\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    }

    #[tokio::test]
    async fn podman_is_probed_once_from_libpod_info_and_again_when_another_answers() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let version = std::sync::Arc::new(std::sync::Mutex::new("4.3.1".to_string()));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let server = tokio::spawn(recording_podman(
            socket.clone(),
            version.clone(),
            seen.clone(),
        ));
        while !socket.exists() {
            tokio::task::yield_now().await;
        }
        let host = format!("unix://{}", socket.display());
        let engine = BollardEngine::connect(&host, 10);
        let probe = engine.probe().await.unwrap();
        assert!(probe.podman && probe.rootless == Some(false), "{probe:?}");
        // Everything from /libpod/info (arm64 there, amd64 in /version) and the ping's compat API version.
        assert_eq!(
            (probe.arch.as_str(), probe.api_version.as_str()),
            ("arm64", "1.41")
        );
        assert_eq!(probe.version, "4.3.1");
        // What a build asks: selection (ping, capabilities) on another instance, then the build's own.
        let info = BollardEngine::connect(&host, 10).ping().await.unwrap();
        assert_eq!(info.version, "Podman 4.3.1");
        engine.capabilities().await.unwrap();
        engine.probe().await.unwrap();
        let asked = |what: &str| {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|p| p.contains(what))
                .count()
        };
        assert_eq!(asked("/libpod/info"), 1, "{:?}", seen.lock().unwrap());
        assert_eq!(asked("/version"), 0, "{:?}", seen.lock().unwrap());
        assert_eq!(
            asked("/_ping"),
            4,
            "every call still pings: {:?}",
            seen.lock().unwrap()
        );
        // Another Podman on the same socket: asked afresh.
        *version.lock().unwrap() = "5.0.0".into();
        let probe = engine.probe().await.unwrap();
        assert_eq!(probe.version, "5.0.0");
        assert_eq!(asked("/libpod/info"), 2);
        // Results name the engine that answers now, not the first one seen there.
        assert_eq!(last_probe(&host).map(|p| p.version), Some("5.0.0".into()));
        // Gone: an error at once, not the remembered answer.
        server.abort();
        drop(server);
        std::fs::remove_file(&socket).unwrap();
        assert!(engine.probe().await.is_err());
    }

    #[test]
    fn a_libpod_info_without_version_or_arch_is_not_a_probe() {
        let full = br#"{"host":{"arch":"amd64","os":"linux","security":{"rootless":true}},"version":{"Version":"4.3.1"}}"#;
        let p = probe_of_libpod_info(full, "4.3.1", "1.41").unwrap();
        assert!(p.podman && p.rootless == Some(true) && !p.buildkit());
        assert_eq!(p.native_platform(), "linux/amd64");
        assert!(
            probe_of_libpod_info(
                br#"{"host":{"security":{"rootless":true}}}"#,
                "4.3.1",
                "1.41"
            )
            .is_none()
        );
        assert!(
            probe_of_libpod_info(br#"{"host":{"arch":""},"version":{"Version":"4"}}"#, "", "")
                .is_none()
        );
        assert!(probe_of_libpod_info(b"not json", "", "").is_none());
        assert_eq!(libpod_info_path("4.3.1"), "/v4.3.1/libpod/info");
        assert_eq!(libpod_info_path("dev"), "/v4.0.0/libpod/info");
    }

    #[test]
    fn the_exit_code_is_read_from_a_wait_answer() {
        assert_eq!(
            exit_code_of_wait(br#"{"StatusCode":7,"Error":null}"#),
            Some(7)
        );
        assert_eq!(
            exit_code_of_wait(br#"{"Error":null,"StatusCode":0}"#),
            Some(0)
        );
        assert_eq!(
            exit_code_of_wait(br#"{"Error":{"Message":"no such container"}}"#),
            None
        );
        assert_eq!(exit_code_of_wait(b""), None);
    }
}
