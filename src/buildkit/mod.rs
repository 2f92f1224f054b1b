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
            p.what_to_do = Some(explain_todo(&reason));
            p.why_not = Some(reason);
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

fn explain_todo(reason: &str) -> String {
    if reason.contains("certificate") || reason.contains("mTLS") || reason.contains("CA") {
        "check the CA, client certificate and key given for the daemon (buildkit_ca/cert/key or BUILDKIT_TLS_*)".into()
    } else {
        "check that buildkitd runs and listens at that address (BUILDKIT_HOST / [engine] buildkit_host)".into()
    }
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
            .map_err(|e| self.unreachable(explain_transport(&e, &self.target)))
    }

    /// ListWorkers: platforms, and whether this is a Docker engine's embedded BuildKit.
    pub async fn workers(&self) -> Result<Workers, DockerError> {
        self.workers
            .get_or_try_init(|| async {
                let channel = self.channel().await?;
                list_workers(channel)
                    .await
                    .map_err(|t| self.unreachable(explain_transport(&t, &self.target)))
            })
            .await
            .cloned()
    }
}

/// A tonic/transport error in words, with what it likely means.
fn explain_transport(text: &str, target: &Target) -> String {
    let tls = matches!(target, Target::Tcp { tls: Some(_), .. });
    if tls
        && (text.contains("transport error")
            || text.contains("tls")
            || text.contains("certificate"))
    {
        format!(
            "{text} (over mTLS this usually means the daemon rejected the client certificate or the CA does not match the daemon's certificate: check buildkit_ca/cert/key)"
        )
    } else if text.contains("transport error") || text.contains("Connection refused") {
        format!(
            "{text} (nothing answers gRPC there: is buildkitd running and listening on that address?)"
        )
    } else {
        text.to_string()
    }
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
            let unreachable = |r: String| self.unreachable(explain_transport(&r, &self.target));
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
