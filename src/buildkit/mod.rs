//! The BuildKit daemon backend of the builder port (`BUILDKIT_HOST` or `[engine] buildkit_host`: unix socket,
//! tcp, tcp with mTLS). It speaks BuildKit's Control API itself: a session that serves the context and the
//! Dockerfile through file sync, `Solve` with the Dockerfile frontend, `Status` into the build log, platform
//! lists, the image exporter with push, cache import/export. A daemon runs no containers: smoke tests are
//! skipped on it (`Capabilities::run` is false).

pub mod content;
pub mod filesync;
pub mod session;
pub mod solve;
pub mod transport;

use crate::builder::cache;
use crate::builder::select;
use crate::builder::{
    BackendKind, BuildEvent, BuildSpec, BuilderPort, CacheType, Capabilities, DockerError,
    EngineInfo, ImageInfo, PushProgress, PushResult, RunOutput, RunSpec,
};
use bollard_buildkit_proto::moby::buildkit::v1::ListWorkersRequest;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;
pub use transport::{Target, TlsFiles};

/// Where the BuildKit daemon is, from the config or the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub address: String,
    /// "[engine] buildkit_host" or "BUILDKIT_HOST".
    pub source: &'static str,
    pub tls: TlsFiles,
}

impl Settings {
    /// `[engine] buildkit_host`, else `$BUILDKIT_HOST`; None when neither names a daemon.
    pub fn resolve(config: &crate::config::Config) -> Option<Settings> {
        let env = std::env::var("BUILDKIT_HOST")
            .ok()
            .filter(|v| !v.is_empty());
        Settings::resolve_with(config, env)
    }

    /// Like `resolve`, with `BUILDKIT_HOST` given (backend selection passes the environment it read).
    pub fn resolve_with(
        config: &crate::config::Config,
        env_host: Option<String>,
    ) -> Option<Settings> {
        let e = &config.engine;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (address, source) = if !e.buildkit_host.is_empty() {
            (e.buildkit_host.clone(), "[engine] buildkit_host")
        } else {
            (env_host.filter(|h| !h.is_empty())?, "BUILDKIT_HOST")
        };
        let dir = env("BUILDKIT_TLS_DIR").map(PathBuf::from);
        let pick = |configured: &str, var: &str, file: &str| -> Option<PathBuf> {
            if !configured.is_empty() {
                return Some(PathBuf::from(configured));
            }
            env(var)
                .map(PathBuf::from)
                .or_else(|| dir.as_ref().map(|d| d.join(file)).filter(|p| p.exists()))
        };
        let tls = TlsFiles {
            ca: pick(&e.buildkit_ca, "BUILDKIT_TLS_CA", "ca.pem"),
            cert: pick(&e.buildkit_cert, "BUILDKIT_TLS_CERT", "cert.pem"),
            key: pick(&e.buildkit_key, "BUILDKIT_TLS_KEY", "key.pem"),
            server_name: env("BUILDKIT_TLS_SERVERNAME").unwrap_or_default(),
        };
        Some(Settings {
            // Shown in every message and result: never with credentials (which BuildKit cannot use anyway;
            // `Target::parse` refuses such an address).
            address: transport::redact(&address),
            source,
            tls,
        })
    }
}

/// The backend-selection plugin (`builder::select`): probe and open a BuildKit daemon.
pub fn plugin() -> select::Plugin {
    select::Plugin {
        probe: |config, env, base| {
            Box::pin(async move { probe(&config, env.buildkit_host, base).await })
        },
        open: open_port,
    }
}

/// Is a BuildKit daemon configured and does it answer? Fills in `base` (what selection knows: kind, source,
/// endpoint); never fails: the probe says why not and what to do.
pub async fn probe(
    config: &crate::config::Config,
    env_host: Option<String>,
    base: select::Probe,
) -> select::Probe {
    let settings = Settings::resolve_with(config, env_host);
    let mut p = base;
    p.backend = BackendKind::Buildkit;
    p.available = true;
    if let Some(s) = &settings {
        p.source = s.source.to_string();
        p.endpoint = s.address.clone();
        p.explicit = true;
    }
    let Some(settings) = settings else {
        p.why_not = Some("no BuildKit daemon configured".into());
        p.what_to_do = Some(
            "set BUILDKIT_HOST=tcp://HOST:1234 (or unix:///run/buildkit/buildkitd.sock) or [engine] buildkit_host"
                .into(),
        );
        return p;
    };
    let builder = match BuildkitBuilder::connect(&settings) {
        Ok(b) => b,
        Err(e) => {
            p.why_not = Some(e);
            p.what_to_do = Some(format!("fix {}", settings.source));
            return p;
        }
    };
    p.tls = Some(matches!(builder.target, Target::Tcp { tls: Some(_), .. }));
    match tokio::time::timeout(std::time::Duration::from_secs(15), builder.workers()).await {
        Ok(Ok(w)) => {
            p.reachable = true;
            p.capabilities = Some(capabilities_for(&w));
            p.version = Some(format!(
                "{} ({})",
                if w.embedded_engine {
                    "BuildKit of a Docker engine"
                } else {
                    "BuildKit"
                },
                w.platforms.join(", ")
            ));
        }
        Ok(Err(e)) => {
            let reason = match e {
                DockerError::Unreachable { reason, .. } => reason,
                other => other.to_string(),
            };
            // The explanation's "what to do" goes in its own field (doctor prints it on its own line).
            let (why, todo) = match reason.split_once("; what to do: ") {
                Some((why, todo)) => (why.to_string(), todo.to_string()),
                None => (reason, generic_todo(settings.source)),
            };
            p.why_not = Some(why);
            p.what_to_do = Some(todo);
        }
        Err(_) => {
            p.why_not = Some(format!("{} did not answer within 15 s", settings.address));
            p.what_to_do = Some("check that buildkitd runs and listens there".into());
        }
    }
    p
}

fn open_port(
    config: &crate::config::Config,
    probe: &select::Probe,
) -> Result<std::sync::Arc<dyn BuilderPort>, String> {
    let settings = Settings::resolve_with(config, Some(probe.endpoint.clone()))
        .ok_or_else(|| "no BuildKit daemon configured".to_string())?;
    Ok(std::sync::Arc::new(BuildkitBuilder::connect(&settings)?))
}

fn generic_todo(source: &str) -> String {
    format!("check that buildkitd runs and listens at that address ({source})")
}

/// The workers a daemon reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workers {
    pub platforms: Vec<String>,
    pub embedded_engine: bool,
}

/// Platforms and kind from a ListWorkers answer (platforms in the workers' order, the native one first).
fn workers_of(resp: &bollard_buildkit_proto::moby::buildkit::v1::ListWorkersResponse) -> Workers {
    let mut w = Workers::default();
    for r in &resp.record {
        // The engine's worker carries moby's labels (org.mobyproject.buildkit.worker.moby.*).
        if r.id == "moby" || r.labels.keys().any(|k| k.contains(".worker.moby.")) {
            w.embedded_engine = true;
        }
        for p in &r.platforms {
            let mut s = format!("{}/{}", p.os, p.architecture);
            if !p.variant.is_empty() {
                s.push('/');
                s.push_str(&p.variant);
            }
            if !w.platforms.contains(&s) {
                w.platforms.push(s);
            }
        }
    }
    w
}

/// ListWorkers on an open channel (a daemon, or the engine's `/grpc`).
pub async fn list_workers(channel: tonic::transport::Channel) -> Result<Workers, String> {
    let resp = ControlClient::new(channel)
        .list_workers(ListWorkersRequest::default())
        .await
        .map_err(|s| status_text(&s))?
        .into_inner();
    Ok(workers_of(&resp))
}

/// A BuildKit daemon as a builder port.
pub struct BuildkitBuilder {
    address: String,
    source: &'static str,
    target: Target,
    /// Images built in this process: tag -> what the exporter reported, and whether it pushed them.
    built: Mutex<BTreeMap<String, (solve::Solved, bool)>>,
    workers: tokio::sync::OnceCell<Workers>,
}

impl BuildkitBuilder {
    /// Parse the address and TLS settings; nothing is contacted yet.
    pub fn connect(settings: &Settings) -> Result<BuildkitBuilder, String> {
        let target = Target::parse(&settings.address, settings.tls.clone())?;
        Ok(BuildkitBuilder {
            address: settings.address.clone(),
            source: settings.source,
            target,
            built: Mutex::new(BTreeMap::new()),
            workers: tokio::sync::OnceCell::new(),
        })
    }

    /// A transport error of this daemon in words (`explain_transport`).
    fn explain(&self, text: &str) -> String {
        explain_transport(
            text,
            &self.target,
            &self.address,
            self.source,
            self.workers.get().is_some(),
        )
    }

    fn unreachable(&self, reason: String) -> DockerError {
        DockerError::Unreachable {
            endpoint: self.address.clone(),
            reason,
        }
    }

    async fn channel(&self) -> Result<tonic::transport::Channel, DockerError> {
        self.target
            .channel()
            .await
            .map_err(|e| self.unreachable(self.explain(&e)))
    }

    /// ListWorkers: platforms, and whether this is a Docker engine's embedded BuildKit.
    pub async fn workers(&self) -> Result<Workers, DockerError> {
        self.workers
            .get_or_try_init(|| async {
                let channel = self.channel().await?;
                list_workers(channel)
                    .await
                    .map_err(|t| self.unreachable(self.explain(&t)))
            })
            .await
            .cloned()
    }
}

/// What went wrong between dockui and a BuildKit daemon, told apart like the Docker engine's causes
/// (`docker::diagnose`): each has its own "what to do".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    /// The message already says what to do (a TLS file dockui could not read or use: `transport::tls_config`).
    Explained,
    /// Nothing listens there: refused, no socket, no route, a name that does not resolve.
    NotListening,
    /// The daemon's certificate is not signed by the CA dockui was given.
    UnknownCa,
    /// The daemon's certificate does not name the host dialled.
    WrongName,
    /// The daemon sent a TLS alert about our client certificate (bad, missing, of another CA).
    ClientCert,
    /// Over mTLS, the daemon closed the connection as the handshake ended: with TLS 1.3 that is how a
    /// rejected client certificate shows up on the client (the alert comes after the client's Finished).
    ClosedAtHandshake,
    /// The other side answered in plain text to our TLS hello (a daemon without TLS, an HTTP server).
    NotTls,
    /// Without TLS, what answered is no plain HTTP/2 server (a daemon with TLS sends an alert, an HTTP/1
    /// service a status line: both read as a bad HTTP/2 frame).
    NotH2,
    /// The connection was closed or reset (no TLS, or after the connection worked).
    Closed,
    Timeout,
    Other,
}

/// The trouble a transport error's text names. `mtls`: dockui dialled with TLS; `connected`: a call on this
/// daemon already worked (so the handshake and certificates are fine).
fn trouble(text: &str, mtls: bool, connected: bool) -> Trouble {
    let lower = text.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if text.contains("; what to do: ") {
        Trouble::Explained
    } else if any(&[
        "connection refused",
        "no such file or directory",
        "no route to host",
        "network is unreachable",
        "failed to lookup address",
        "name or service not known",
        "temporary failure in name resolution",
    ]) {
        Trouble::NotListening
    } else if any(&["unknownissuer", "unknown issuer"]) {
        Trouble::UnknownCa
    } else if any(&["notvalidforname", "not valid for name"]) {
        Trouble::WrongName
    } else if any(&[
        "received fatal alert: badcertificate",
        "received fatal alert: certificaterequired",
        "received fatal alert: unknownca",
        "received fatal alert: certificateunknown",
        "received fatal alert: unsupportedcertificate",
        "received fatal alert: certificateexpired",
        "received fatal alert: certificaterevoked",
        "received fatal alert: decrypterror",
        "received fatal alert: accessdenied",
    ]) {
        Trouble::ClientCert
    } else if any(&[
        "invalidcontenttype",
        "corrupt message",
        "wrong version number",
    ]) {
        Trouble::NotTls
    } else if !mtls
        && any(&[
            "frame with invalid size",
            "invalid preface",
            "h2 protocol error",
        ])
    {
        Trouble::NotH2
    } else if any(&[
        "connection closed",
        "connection reset",
        "broken pipe",
        "unexpected eof",
        "tls handshake eof",
    ]) {
        if mtls && !connected {
            Trouble::ClosedAtHandshake
        } else {
            Trouble::Closed
        }
    } else if any(&["timed out", "timeout", "deadline has elapsed"]) {
        Trouble::Timeout
    } else {
        Trouble::Other
    }
}

/// Where the client's TLS files are set, as messages name them.
pub(crate) const TLS_CA_FROM: &str =
    "BUILDKIT_TLS_CA, [engine] buildkit_ca or ca.pem in BUILDKIT_TLS_DIR";
pub(crate) const TLS_CERT_FROM: &str = "BUILDKIT_TLS_CERT / BUILDKIT_TLS_KEY, [engine] buildkit_cert / buildkit_key or cert.pem / key.pem in BUILDKIT_TLS_DIR";

/// Every TLS setting of the client, for "remove them" / "give them".
const TLS_SETTINGS: &str =
    "BUILDKIT_TLS_CA / _CERT / _KEY / _DIR, [engine] buildkit_ca / buildkit_cert / buildkit_key";

/// A transport error in words: the text, what it means, and what to do (`...; what to do: ...`, as the
/// Docker engine's messages). `address` and `source` name the daemon and where it was set.
fn explain_transport(
    text: &str,
    target: &Target,
    address: &str,
    source: &str,
    connected: bool,
) -> String {
    let mtls = matches!(target, Target::Tcp { tls: Some(_), .. });
    let todo = match trouble(text, mtls, connected) {
        Trouble::Explained => return text.to_string(),
        Trouble::NotListening => format!(
            "nothing listens at {address}; what to do: start buildkitd listening there (buildkitd --addr \
             {address}), or fix the address in {source}"
        ),
        Trouble::UnknownCa => format!(
            "the daemon's certificate is not signed by the CA dockui was given; what to do: give the CA that \
             signed the daemon's certificate (buildkitd's --tlscert) in {TLS_CA_FROM}, or check that {source} \
             names the daemon you mean"
        ),
        Trouble::WrongName => "the daemon's certificate does not name the host dialled; what to do: dial a \
                               name the certificate was made for, or set BUILDKIT_TLS_SERVERNAME to one of them"
            .to_string(),
        Trouble::ClientCert => format!(
            "the daemon rejected the client certificate (missing, or not signed by the CA it trusts); what to \
             do: give a client certificate and key signed by the CA buildkitd trusts (its --tlscacert) in \
             {TLS_CERT_FROM}"
        ),
        Trouble::ClosedAtHandshake => format!(
            "the daemon closed the connection as the TLS handshake ended, which over mTLS is how it rejects a \
             client certificate it does not trust; what to do: give a client certificate and key signed by the \
             CA buildkitd trusts (its --tlscacert) in {TLS_CERT_FROM}"
        ),
        Trouble::NotTls => format!(
            "what answers at {address} does not speak TLS (a buildkitd listening without TLS, or another \
             service); what to do: for a buildkitd without TLS, remove the TLS settings ({TLS_SETTINGS}); \
             otherwise check the port in {source}"
        ),
        Trouble::NotH2 => format!(
            "what answers at {address} does not speak gRPC over plain HTTP/2 (a buildkitd that serves TLS, or \
             another service); what to do: if buildkitd serves TLS (buildkitd --tlscert), give dockui its CA \
             and a client certificate and key ({TLS_SETTINGS}); otherwise check the port in {source}"
        ),
        Trouble::Closed if connected => {
            "the daemon closed the connection; what to do: check that buildkitd still runs and look at its log"
                .to_string()
        }
        Trouble::Closed => format!(
            "the daemon closed the connection; what to do: check that buildkitd runs at {address}; if it \
             serves TLS (buildkitd --tlscert), give dockui its CA and a client certificate and key \
             ({TLS_SETTINGS})"
        ),
        Trouble::Timeout => format!(
            "no answer in time; what to do: check that buildkitd runs at {address} and that nothing in \
             between drops the connection"
        ),
        Trouble::Other => return format!("{text}; what to do: {}", generic_todo(source)),
    };
    format!("{text}: {todo}")
}

/// Every message in an error's source chain (tonic's own message is often just "transport error").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
}

pub(crate) fn status_text(s: &tonic::Status) -> String {
    use std::error::Error;
    let mut text = s.message().to_string();
    if text.is_empty() {
        text = format!("{:?}", s.code());
    }
    if let Some(src) = s.source() {
        let chain = error_chain(src);
        if !text.contains(&chain) {
            text = format!("{text}: {chain}");
        }
    }
    text
}

pub(crate) fn is_transport(s: &tonic::Status) -> bool {
    matches!(s.code(), tonic::Code::Unavailable) || s.message().contains("transport error")
}

/// What a standalone daemon supports, or the engine's embedded BuildKit when that answers at the address.
pub fn capabilities_for(workers: &Workers) -> Capabilities {
    if workers.embedded_engine {
        return Capabilities {
            kind: BackendKind::Buildkit,
            buildkit: true,
            cache_export: vec![CacheType::Inline],
            // `local` through the session's content store (tests/cache_local.rs imports one on the engine).
            cache_import: vec![CacheType::Registry, CacheType::Local],
            platforms: workers.platforms.clone(),
            platforms_from: "BuildKit ListWorkers".into(),
            // "exporting multiple references to image store is currently unsupported"
            multi_platform: false,
            run: false,
            push_in_build: false,
        };
    }
    Capabilities {
        kind: BackendKind::Buildkit,
        buildkit: true,
        // type=local: the daemon reads and writes the directory through the session's content store.
        cache_export: vec![
            CacheType::Inline,
            CacheType::Registry,
            CacheType::Local,
            CacheType::Gha,
        ],
        cache_import: vec![CacheType::Registry, CacheType::Local, CacheType::Gha],
        platforms: workers.platforms.clone(),
        platforms_from: "BuildKit ListWorkers".into(),
        multi_platform: true,
        run: false,
        push_in_build: true,
    }
}

impl BuilderPort for BuildkitBuilder {
    fn endpoint(&self) -> String {
        self.address.clone()
    }

    fn endpoint_json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.address,
            "context": serde_json::Value::Null,
            "source": self.source,
            "tls": matches!(self.target, Target::Tcp { tls: Some(_), .. }),
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
        async move {
            let w = self.workers().await?;
            Ok(EngineInfo {
                endpoint: self.address.clone(),
                context: None,
                version: if w.embedded_engine {
                    "BuildKit (Docker engine, embedded)".into()
                } else {
                    "BuildKit".into()
                },
                api_version: String::new(),
            })
        }
        .boxed()
    }

    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, DockerError>> {
        async move { Ok(capabilities_for(&self.workers().await?)) }.boxed()
    }

    fn build(
        &self,
        spec: BuildSpec,
        events: UnboundedSender<BuildEvent>,
    ) -> BoxFuture<'_, Result<String, DockerError>> {
        async move {
            let workers = self.workers().await?;
            let caps = capabilities_for(&workers);
            let (from, to) = solve::cache_specs(&spec)?;
            for line in cache::summary(&from, &to, &caps) {
                let _ = events.send(BuildEvent::Line(line));
            }
            if let Some(p) = cache::check(&from, &to, &caps).into_iter().next() {
                return Err(DockerError::Context(p.message));
            }
            if let Some(why) = crate::docker::capabilities::foreign_os(
                &spec.platform,
                &caps.platforms,
                &format!("the BuildKit daemon at {}", self.address),
            ) {
                return Err(DockerError::Context(why));
            }
            let platforms = spec.platform.split(',').filter(|p| !p.trim().is_empty()).count();
            if platforms > 1 && !caps.multi_platform {
                return Err(DockerError::Context(format!(
                    "{} is a Docker engine's embedded BuildKit, which cannot store a multi-platform image; build each platform on the engine (--backend engine) or use a standalone BuildKit daemon",
                    self.address
                )));
            }
            // An engine's embedded BuildKit has no image exporter ("exporter image could not be found"): its
            // builds land in that engine, and nothing would be pushed.
            if spec.push && workers.embedded_engine {
                return Err(DockerError::Context(format!(
                    "--push: {} is a Docker engine's embedded BuildKit, which cannot push while it builds (it has no image exporter; the image lands in that engine). Build without --push and push from that engine (`dockui push IMAGE` with DOCKER_HOST / [engine] docker_host naming it), or build with --backend docker, or point BUILDKIT_HOST at a standalone BuildKit daemon",
                    self.address
                )));
            }
            let mut names = vec![spec.tag.clone()];
            names.extend(spec.extra_tags.iter().cloned());
            let output = if workers.embedded_engine {
                solve::Output::Moby { names }
            } else {
                solve::Output::Image {
                    names,
                    push: spec.push,
                }
            };
            let _ = events.send(BuildEvent::Line(format!(
                "dockui: building {} on the BuildKit daemon at {} ({})",
                spec.tag,
                self.address,
                match &output {
                    solve::Output::Moby { .. } => "image goes to the Docker engine behind it".to_string(),
                    solve::Output::Image { push: true, .. } => "type=image,push=true".to_string(),
                    solve::Output::Image { .. } => "type=image, kept in the daemon".to_string(),
                }
            )));
            let req = solve::request(&spec, &output, &from, &to)?;
            let channel = self.channel().await?;
            let unreachable = |r: String| self.unreachable(self.explain(&r));
            let solved = solve::run(channel, &spec, req, &events, &unreachable).await?;
            let id = solved
                .config_digest
                .clone()
                .or_else(|| solved.digest.clone())
                .unwrap_or_default();
            let pushed = matches!(output, solve::Output::Image { push: true, .. });
            if let (true, Some(d)) = (pushed, &solved.digest) {
                let _ = events.send(BuildEvent::Line(format!(
                    "dockui: pushed {} ({d})",
                    spec.tag
                )));
            }
            if let Ok(mut built) = self.built.lock() {
                built.insert(spec.tag.clone(), (solved, pushed));
            }
            Ok(id)
        }
        .boxed()
    }

    fn inspect_image<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>> {
        async move {
            let built = self
                .built
                .lock()
                .ok()
                .and_then(|b| b.get(reference).cloned());
            Ok(built.map(|(s, _)| ImageInfo {
                id: s.config_digest.clone().unwrap_or_default(),
                repo_tags: vec![reference.to_string()],
                repo_digests: s
                    .digest
                    .map(|d| {
                        let repo = reference
                            .rsplit_once(':')
                            .filter(|(_, t)| !t.contains('/'))
                            .map_or(reference, |(r, _)| r);
                        vec![format!("{repo}@{d}")]
                    })
                    .unwrap_or_default(),
                labels: BTreeMap::new(),
                platform: None,
            }))
        }
        .boxed()
    }

    fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>> {
        async { Ok(BTreeMap::new()) }.boxed()
    }

    fn run_once(&self, _spec: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>> {
        let endpoint = self.address.clone();
        async move {
            Err(DockerError::Other(format!(
                "the BuildKit daemon at {endpoint} builds images but runs no containers: smoke tests need a Docker engine"
            )))
        }
        .boxed()
    }

    fn push<'a>(
        &'a self,
        image_ref: &'a str,
        tag: &'a str,
        _credentials: Option<&'a crate::builder::Credentials>,
        _progress: UnboundedSender<PushProgress>,
        _stall_after: std::time::Duration,
    ) -> BoxFuture<'a, Result<PushResult, DockerError>> {
        async move {
            let full = format!("{image_ref}:{tag}");
            let built = self.built.lock().ok().and_then(|b| b.get(&full).cloned());
            // Only what the daemon pushed while building has a registry digest to report.
            let built = built.filter(|(_, pushed)| *pushed).map(|(s, _)| s);
            match built.and_then(|s| s.digest.map(|d| (d, s.config_digest))) {
                Some((digest, config)) => Ok(PushResult {
                    repository: image_ref.to_string(),
                    tag: tag.to_string(),
                    repo_digests: vec![format!("{image_ref}@{digest}")],
                    digest: Some(digest),
                    size: None,
                    image_id: config.unwrap_or_default(),
                    digest_confirmed: true,
                }),
                None if self.workers.get().is_some_and(|w| w.embedded_engine) => {
                    Err(DockerError::Other(format!(
                        "{full} was built by the embedded BuildKit of the Docker engine at {} and is in that engine's image store: push it from the engine (`dockui push {full}` with DOCKER_HOST / [engine] docker_host naming it)",
                        self.address
                    )))
                }
                None => Err(DockerError::Other(format!(
                    "the BuildKit daemon at {} pushes while it builds (type=image,push=true): build {full} with push on; it keeps no image to push afterwards",
                    self.address
                ))),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(mtls: bool) -> Target {
        Target::Tcp {
            host: "127.0.0.1".into(),
            port: 47997,
            tls: mtls.then(|| TlsFiles {
                ca: Some("/certs/ca.pem".into()),
                cert: Some("/certs/cert.pem".into()),
                key: Some("/certs/key.pem".into()),
                server_name: String::new(),
            }),
        }
    }

    fn explain(text: &str, mtls: bool, connected: bool) -> String {
        explain_transport(
            text,
            &target(mtls),
            "tcp://127.0.0.1:47997",
            "BUILDKIT_HOST",
            connected,
        )
    }

    /// The hint that used to follow every error over mTLS.
    fn blames_the_client_cert(text: &str) -> bool {
        text.contains("rejected") || text.contains("rejects") || text.contains("--tlscacert")
    }

    // The texts below are what `BuildkitBuilder::ping` reported against tests/buildkit_daemon.rs's set-ups:
    // a closed port, the fake daemon with and without mTLS, an HTTP/1 listener.
    const REFUSED: &str = "transport error: 127.0.0.1:47997: Connection refused (os error 111)";
    const UNKNOWN_CA: &str = "transport error: invalid peer certificate: UnknownIssuer";
    const CERT_REQUIRED: &str = "transport error: transport error: connection error: received fatal alert: CertificateRequired";
    const CLOSED: &str =
        "operation was canceled: transport error: operation was canceled: connection closed";
    const PLAIN_ANSWER: &str =
        "transport error: received corrupt message of type InvalidContentType";
    const BAD_FRAME: &str = "h2 protocol error: http2 error: transport error: http2 error: connection error detected: frame with invalid size";

    #[test]
    fn refused_is_a_daemon_not_listening_even_over_mtls() {
        for mtls in [true, false] {
            assert_eq!(trouble(REFUSED, mtls, false), Trouble::NotListening);
            let text = explain(REFUSED, mtls, false);
            assert!(
                text.contains("nothing listens at tcp://127.0.0.1:47997")
                    && text.contains("what to do: start buildkitd")
                    && text.contains("BUILDKIT_HOST"),
                "{text}"
            );
            assert!(!blames_the_client_cert(&text), "{text}");
            assert!(!text.contains("BUILDKIT_TLS"), "{text}");
        }
        let unix =
            "transport error: /run/buildkit/buildkitd.sock: No such file or directory (os error 2)";
        assert_eq!(trouble(unix, false, false), Trouble::NotListening);
    }

    #[test]
    fn an_unknown_ca_names_the_ca_setting_not_the_client_certificate() {
        assert_eq!(trouble(UNKNOWN_CA, true, false), Trouble::UnknownCa);
        let text = explain(UNKNOWN_CA, true, false);
        assert!(
            text.contains("not signed by the CA") && text.contains("BUILDKIT_TLS_CA"),
            "{text}"
        );
        assert!(!blames_the_client_cert(&text), "{text}");
        // A refusal is no CA problem.
        assert_ne!(trouble(REFUSED, true, false), Trouble::UnknownCa);
    }

    #[test]
    fn a_rejected_client_certificate_is_named_as_such() {
        assert_eq!(trouble(CERT_REQUIRED, true, false), Trouble::ClientCert);
        let text = explain(CERT_REQUIRED, true, false);
        assert!(
            text.contains("rejected the client certificate") && text.contains("BUILDKIT_TLS_CERT"),
            "{text}"
        );
        // TLS 1.3: a client certificate of another CA shows up as the connection closing at the handshake.
        assert_eq!(trouble(CLOSED, true, false), Trouble::ClosedAtHandshake);
        assert!(blames_the_client_cert(&explain(CLOSED, true, false)));
        // Not once a call went through (the certificate was accepted), and not without mTLS.
        assert_eq!(trouble(CLOSED, true, true), Trouble::Closed);
        assert!(!blames_the_client_cert(&explain(CLOSED, true, true)));
        assert_eq!(trouble(CLOSED, false, false), Trouble::Closed);
        assert!(!blames_the_client_cert(&explain(CLOSED, false, false)));
    }

    #[test]
    fn a_plain_text_answer_to_tls_says_the_other_side_does_not_speak_tls() {
        assert_eq!(trouble(PLAIN_ANSWER, true, false), Trouble::NotTls);
        let text = explain(PLAIN_ANSWER, true, false);
        assert!(text.contains("does not speak TLS") && text.contains("remove the TLS settings"));
        assert!(!blames_the_client_cert(&text), "{text}");
        // Without TLS the reverse: a TLS daemon's alert read as an HTTP/2 frame.
        assert_eq!(trouble(BAD_FRAME, false, false), Trouble::NotH2);
        assert!(explain(BAD_FRAME, false, false).contains("if buildkitd serves TLS"));
        assert_ne!(trouble(BAD_FRAME, true, false), Trouble::NotH2);
    }

    #[test]
    fn an_unreadable_tls_file_is_named_with_its_setting_and_left_as_it_is() {
        let files = TlsFiles {
            ca: Some("/certs/ca.pem".into()),
            cert: Some("/nonexistent/cert.pem".into()),
            key: Some("/certs/key.pem".into()),
            server_name: String::new(),
        };
        let t = Target::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
            tls: Some(files),
        };
        let err = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(t.channel())
            .unwrap_err();
        // The CA is read first: the test's CA does not exist either.
        assert!(
            err.contains("cannot read the CA certificate /certs/ca.pem")
                && err.contains("BUILDKIT_TLS_CA"),
            "{err}"
        );
        let text = explain(&err, true, false);
        assert_eq!(trouble(&err, true, false), Trouble::Explained);
        assert_eq!(text, err);
        assert!(!blames_the_client_cert(&text), "{text}");
    }
}
