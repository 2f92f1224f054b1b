//! Which builder to build on: `--backend auto|docker|podman|buildkit|codebuild` (or `[engine] backend`).
//!
//! `auto` tries the candidates in this order and takes the first one that answers:
//! 1. the Docker endpoint you set: `[engine] docker_host`, else `DOCKER_HOST`, else a docker context
//!    (`DOCKER_CONTEXT`, else the CLI's current context);
//! 2. the local Docker socket;
//! 3. Podman's socket (rootless `$XDG_RUNTIME_DIR/podman/podman.sock`, then `/run/podman/podman.sock`);
//! 4. a BuildKit daemon (`[engine] buildkit_host`, else `BUILDKIT_HOST`);
//! 5. AWS CodeBuild (`[codebuild] project` with AWS credentials).
//!
//! An endpoint you set yourself is never skipped for another: when it does not answer, `auto` stops there
//! and the build fails saying why (building on the laptop when the GPU box named in DOCKER_HOST is down
//! would surprise). A backend this build of dockui does not implement is listed, marked "not available in
//! this build", and never picked. `dockui doctor` prints exactly this walk.

use super::{BackendInfo, BackendKind, BuilderPort};
use crate::config::Config;
use crate::docker::BollardEngine;
use crate::docker::endpoint::{Endpoint, EndpointError, EnvView, Source};
use futures_util::future::BoxFuture;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a probe may wait for an answer: a doctor run or a build start must not hang on a dead host.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// An ssh endpoint starts `ssh` and the remote's docker CLI before the engine can answer: a handshake over a
/// slow link or a jump host takes seconds, and such an endpoint is one you set, which auto does not replace
/// (a 3 s limit would refuse a working remote).
pub const SSH_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the probe of this candidate may wait.
fn probe_timeout(c: &Candidate) -> Duration {
    let ssh = match &c.resolved {
        Some(Ok(ep)) => matches!(ep.address(), Ok(crate::docker::endpoint::Address::Ssh(_))),
        _ => c.endpoint.starts_with("ssh://"),
    };
    if ssh {
        SSH_PROBE_TIMEOUT
    } else {
        PROBE_TIMEOUT
    }
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    #[default]
    Auto,
    Docker,
    Podman,
    Buildkit,
    Codebuild,
}

impl Choice {
    pub const NAMES: &'static str = "auto, docker, podman, buildkit, codebuild";

    pub fn parse(s: &str) -> Result<Choice, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Choice::Auto,
            "docker" | "engine" => Choice::Docker,
            "podman" => Choice::Podman,
            "buildkit" => Choice::Buildkit,
            "codebuild" => Choice::Codebuild,
            other => {
                return Err(format!(
                    "unknown backend {other:?}: use one of {}",
                    Self::NAMES
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Auto => "auto",
            Choice::Docker => "docker",
            Choice::Podman => "podman",
            Choice::Buildkit => "buildkit",
            Choice::Codebuild => "codebuild",
        }
    }

    fn kind(self) -> Option<BackendKind> {
        match self {
            Choice::Auto => None,
            Choice::Docker => Some(BackendKind::Docker),
            Choice::Podman => Some(BackendKind::Podman),
            Choice::Buildkit => Some(BackendKind::Buildkit),
            Choice::Codebuild => Some(BackendKind::Codebuild),
        }
    }
}

/// One candidate and what probing it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    /// What answers there (a Docker endpoint that turns out to be Podman says `podman`).
    pub backend: BackendKind,
    /// Where the endpoint came from: `[engine] docker_host`, `DOCKER_HOST`, `docker context NAME`,
    /// `local socket`, `Podman socket (rootless)`, `BUILDKIT_HOST`, ...
    pub source: String,
    pub endpoint: String,
    pub context: Option<String>,
    /// Set by the user (config or environment): `auto` never skips it for another.
    pub explicit: bool,
    /// This build of dockui has the backend's implementation.
    pub available: bool,
    pub reachable: bool,
    /// The builder's version when it answered.
    pub version: Option<String>,
    /// What it can do (cache types, platforms, running containers), when it answered.
    pub capabilities: Option<super::Capabilities>,
    pub why_not: Option<String>,
    pub what_to_do: Option<String>,
    /// Where the endpoint came from, in the words of every result's `backend.source` (`config`, `env`,
    /// `env_context`, `current_context`, `default`, `probed`); null for BuildKit and CodeBuild, whose
    /// `source` says it.
    pub origin: Option<Source>,
    /// The endpoint is dialled over TLS (a tcp Docker endpoint with TLS files, a BuildKit daemon with mTLS,
    /// CodeBuild's https); None: not known. For results' `backend.tls`; doctor's output does not list it.
    #[serde(skip)]
    pub tls: Option<bool>,
}

impl Probe {
    pub fn usable(&self) -> bool {
        self.available && self.reachable
    }

    pub fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: self.backend,
            endpoint: self.endpoint.clone(),
            context: self.context.clone(),
        }
    }

    /// What the probe found of where it would build, in a port's `endpoint_json` words (for a result that
    /// stops before a port is opened).
    pub fn endpoint_json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint,
            "context": self.context,
            "source": match self.origin {
                Some(o) => serde_json::json!(o),
                None => serde_json::json!(self.source),
            },
            "tls": self.tls,
            "version": self.version,
            "rootless": serde_json::Value::Null,
        })
    }

    /// The result's `backend` object (`super::backend_json`) for this probe.
    pub fn backend_json(&self) -> serde_json::Value {
        super::backend_json(self.backend, &self.endpoint_json())
    }

    fn unavailable(kind: BackendKind, source: &str, endpoint: &str, explicit: bool) -> Probe {
        Probe {
            backend: kind,
            source: source.into(),
            endpoint: endpoint.into(),
            context: None,
            explicit,
            available: false,
            reachable: false,
            version: None,
            capabilities: None,
            why_not: Some(format!(
                "the {} backend is not available in this build of dockui",
                kind.as_str()
            )),
            what_to_do: Some(
                "build on a Docker engine or Podman (--backend docker / podman), or use a dockui release \
                 that includes this backend"
                    .into(),
            ),
            origin: None,
            tls: None,
        }
    }
}

/// Opens a port on a probed candidate (a plugin's `open`).
pub type OpenFn = fn(&Config, &Probe) -> Result<Arc<dyn BuilderPort>, String>;

/// A backend implemented elsewhere in dockui (the BuildKit daemon, CodeBuild) plugs in here with a probe
/// and a way to open a port on what the probe found.
#[derive(Debug, Clone, Copy)]
pub struct Plugin {
    /// Fill in `base` (kind, source, endpoint from `[engine] buildkit_host` / `BUILDKIT_HOST`, explicit,
    /// available = true, reachable = false) with reachable / version / why not / what to do. Never fails:
    /// trouble goes into the probe.
    pub probe: fn(config: Config, env: Env, base: Probe) -> BoxFuture<'static, Probe>,
    /// A port to build on, for a candidate `probe` found usable.
    pub open: OpenFn,
}

/// HOOK for the BuildKit daemon backend (`src/buildkit/`): return `Some(crate::buildkit::plugin())` here.
pub fn buildkit_plugin() -> Option<Plugin> {
    Some(crate::buildkit::plugin())
}

/// HOOK for the AWS CodeBuild backend (`src/codebuild/`): return `Some(crate::codebuild::plugin())` here.
pub fn codebuild_plugin() -> Option<Plugin> {
    Some(crate::codebuild::plugin())
}

/// The environment the walk reads (a struct, so tests give their own).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    /// `$DOCKER_CONFIG`, else `~/.docker`: where the CLI keeps `config.json` (`currentContext`).
    pub docker_config_dir: Option<PathBuf>,
    pub buildkit_host: Option<String>,
    pub xdg_runtime_dir: Option<PathBuf>,
    /// The BuildKit daemon and CodeBuild backends compiled in (`buildkit_plugin()`, `codebuild_plugin()`).
    pub buildkit: Option<Plugin>,
    pub codebuild: Option<Plugin>,
    /// `DOCKER_TLS_VERIFY`, `DOCKER_TLS`, `DOCKER_CERT_PATH` (TLS for a tcp DOCKER_HOST).
    pub docker_tls: Vec<(String, String)>,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config_dir: var("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".docker"))),
            // A user part in a tcp address is no login for buildctl either: dropped before it is dialled or shown.
            buildkit_host: var("BUILDKIT_HOST")
                .map(|h| crate::docker::endpoint::without_userinfo(&h)),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            buildkit: buildkit_plugin(),
            codebuild: codebuild_plugin(),
            docker_tls: ["DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH"]
                .iter()
                .filter_map(|k| var(k).map(|v| (k.to_string(), v)))
                .collect(),
        }
    }

    /// What `docker::endpoint::resolve` reads, from this walk's variables.
    fn endpoint_view(&self) -> EnvView {
        let config_dir = self
            .docker_config_dir
            .as_ref()
            .map(|d| d.to_string_lossy().to_string());
        let mut pairs: Vec<(&str, &str)> = vec![];
        if let Some(h) = &self.docker_host {
            pairs.push(("DOCKER_HOST", h));
        }
        if let Some(c) = &self.docker_context {
            pairs.push(("DOCKER_CONTEXT", c));
        }
        if let Some(d) = &config_dir {
            pairs.push(("DOCKER_CONFIG", d));
        }
        for (k, v) in &self.docker_tls {
            pairs.push((k, v));
        }
        EnvView::from_pairs(pairs)
    }
}

/// How a candidate is probed and opened.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    /// Docker's API (Docker or Podman): bollard.
    DockerApi,
    BuildKit,
    CodeBuild,
    /// Known but not resolvable here; the probe is this.
    Unavailable(Box<Probe>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    kind: BackendKind,
    source: String,
    endpoint: String,
    context: Option<String>,
    explicit: bool,
    via: Via,
    /// The Docker endpoint as the docker CLI resolves it (TLS files, context), for the one you set.
    resolved: Option<Result<Endpoint, EndpointError>>,
}

pub const LOCAL_SOCKET: &str = crate::docker::bollard_engine::DEFAULT_ENDPOINT;

/// The candidates in `auto`'s order (nothing probed yet).
fn candidates(config: &Config, env: &Env) -> Vec<Candidate> {
    let mut out = Vec::new();
    let docker =
        |source: &str, endpoint: &str, context: Option<String>, explicit: bool| Candidate {
            kind: BackendKind::Docker,
            source: source.into(),
            endpoint: endpoint.into(),
            context,
            explicit,
            via: Via::DockerApi,
            resolved: None,
        };
    // The docker CLI's precedence (docker::endpoint): only the first of these names the Docker endpoint.
    // `DOCKER_CONTEXT=default` (or `docker context use default`): the local socket, named as the CLI names it.
    let mut default_context = None;
    match crate::docker::endpoint::resolve(&config.engine.docker_host, &env.endpoint_view()) {
        Ok(ep) if ep.source == Source::Default => {}
        Ok(ep) if ep.context.as_deref() == Some("default") => default_context = Some(ep),
        Ok(ep) => {
            let source = match (&ep.context, ep.source) {
                (Some(name), _) => {
                    format!("docker context {}", crate::docker::endpoint::redact(name))
                }
                (None, Source::Config) => "[engine] docker_host".into(),
                (None, _) => "DOCKER_HOST".into(),
            };
            let mut c = docker(&source, &ep.host, ep.context.clone(), true);
            c.resolved = Some(Ok(ep));
            out.push(c);
        }
        Err(e) => {
            // A context that does not exist, a bad address: the build stops here with this, as docker would.
            let source = match (e.context(), &e) {
                (Some(name), _) => {
                    format!("docker context {}", crate::docker::endpoint::redact(name))
                }
                (None, EndpointError::BadFile { .. }) => "docker CLI config".into(),
                (None, EndpointError::BadConfigDir { .. }) => "DOCKER_CONFIG".into(),
                (None, _) => source_label(&e.from()),
            };
            let text = e.to_string();
            let (why, todo) = text
                .split_once("; what to do: ")
                .map(|(w, t)| (w.to_string(), t.to_string()))
                .unwrap_or((text.clone(), "check DOCKER_HOST / DOCKER_CONTEXT".into()));
            let mut p = Probe::unavailable(BackendKind::Docker, &source, &e.subject(), true);
            p.available = true;
            p.context = e.context().map(String::from);
            p.why_not = Some(why);
            p.what_to_do = Some(todo);
            out.push(Candidate {
                kind: BackendKind::Docker,
                source,
                endpoint: e.subject(),
                context: e.context().map(String::from),
                explicit: true,
                via: Via::Unavailable(Box::new(p)),
                resolved: Some(Err(e)),
            });
        }
    }
    if !out.iter().any(|c| same_endpoint(&c.endpoint, LOCAL_SOCKET)) {
        let mut local = docker(
            "local socket",
            LOCAL_SOCKET,
            default_context.as_ref().and_then(|e| e.context.clone()),
            false,
        );
        local.resolved = default_context.map(Ok);
        out.push(local);
    }
    let mut podman = Vec::new();
    if let Some(dir) = &env.xdg_runtime_dir {
        podman.push(("Podman socket (rootless)", dir.join("podman/podman.sock")));
    }
    podman.push((
        "Podman socket (root)",
        PathBuf::from("/run/podman/podman.sock"),
    ));
    for (source, path) in podman {
        let endpoint = format!("unix://{}", path.display());
        if out.iter().any(|c| same_endpoint(&c.endpoint, &endpoint)) {
            continue;
        }
        out.push(Candidate {
            kind: BackendKind::Podman,
            source: source.into(),
            endpoint,
            context: None,
            explicit: false,
            via: Via::DockerApi,
            resolved: None,
        });
    }
    let (bk_source, bk_endpoint) = if !config.engine.buildkit_host.is_empty() {
        (
            "[engine] buildkit_host",
            crate::docker::endpoint::without_userinfo(&config.engine.buildkit_host),
        )
    } else if let Some(h) = &env.buildkit_host {
        ("BUILDKIT_HOST", h.clone())
    } else {
        ("BUILDKIT_HOST", String::new())
    };
    out.push(Candidate {
        kind: BackendKind::Buildkit,
        source: bk_source.into(),
        explicit: !bk_endpoint.is_empty(),
        endpoint: bk_endpoint,
        context: None,
        via: Via::BuildKit,
        resolved: None,
    });
    out.push(Candidate {
        kind: BackendKind::Codebuild,
        source: "[codebuild] project".into(),
        endpoint: String::new(),
        context: None,
        explicit: false,
        via: Via::CodeBuild,
        resolved: None,
    });
    out
}

fn same_endpoint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim_end_matches('/');
        if s.starts_with('/') {
            format!("unix://{s}")
        } else {
            s.to_string()
        }
    };
    !a.is_empty() && norm(a) == norm(b)
}

/// The config a plugin sees: `[engine] buildkit_host` without a user part (see `without_userinfo`).
fn plugin_config(config: &Config) -> Config {
    let mut c = config.clone();
    c.engine.buildkit_host = crate::docker::endpoint::without_userinfo(&c.engine.buildkit_host);
    c
}

/// `Source::describe()` in the words the candidate list uses.
fn source_label(describe: &str) -> String {
    if describe == Source::Config.describe() {
        "[engine] docker_host".into()
    } else if describe == Source::Env.describe() {
        "DOCKER_HOST".into()
    } else {
        describe.into()
    }
}

/// Where to fix the endpoint a candidate came from: the engine's "what to do" speaks of DOCKER_HOST, which
/// is wrong advice for a docker context (changing DOCKER_HOST would switch away from it, not fix it).
fn fix_where(c: &Candidate, todo: String) -> String {
    match &c.resolved {
        Some(Ok(ep)) => ep.fix_where(todo),
        _ => todo,
    }
}

/// Podman's service, started the way this machine can: systemd when it runs (PID 1), else by hand; `sudo`
/// only when not root.
fn podman_start_hint(rootless: bool, socket: &str) -> String {
    let systemd = std::path::Path::new("/run/systemd/system").is_dir();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    podman_start_hint_on(rootless, socket, systemd, root)
}

fn podman_start_hint_on(rootless: bool, socket: &str, systemd: bool, root: bool) -> String {
    let by_hand = format!("podman system service --time=0 unix://{socket} &");
    match (systemd, rootless, root) {
        (true, true, _) => {
            format!("start Podman's service: systemctl --user start podman.socket (or {by_hand})")
        }
        (true, false, true) => {
            format!("start Podman's service: systemctl start podman.socket (or {by_hand})")
        }
        (true, false, false) => format!(
            "start Podman's service: sudo systemctl start podman.socket (or sudo {by_hand})"
        ),
        (false, false, false) => {
            format!("start Podman's service (no systemd here): sudo {by_hand}")
        }
        (false, _, _) => format!("start Podman's service (no systemd here): {by_hand}"),
    }
}

/// Probe one candidate. Never fails: what went wrong is in the probe.
async fn probe(c: &Candidate, config: &Config, env: &Env) -> Probe {
    let base = Probe {
        backend: c.kind,
        source: c.source.clone(),
        endpoint: c.endpoint.clone(),
        context: c.context.clone(),
        explicit: c.explicit,
        available: true,
        reachable: false,
        version: None,
        capabilities: None,
        why_not: None,
        what_to_do: None,
        origin: None,
        tls: None,
    };
    let origin = origin_of(c);
    let mut p = probe_via(c, config, env, base).await;
    p.origin = origin;
    if p.tls.is_none() {
        p.tls = tls_of(c);
    }
    p
}

/// `Probe::tls` of a Docker API candidate (plugins set their own).
fn tls_of(c: &Candidate) -> Option<bool> {
    match &c.resolved {
        Some(Ok(ep)) => Some(ep.tls.is_some()),
        // Only TLS reads DOCKER_CERT_PATH.
        Some(Err(EndpointError::BadCertPath { .. })) => Some(true),
        Some(Err(_)) => None,
        // The local socket and Podman's.
        None if c.via == Via::DockerApi => Some(false),
        None => None,
    }
}

/// `Probe::origin` of a candidate.
fn origin_of(c: &Candidate) -> Option<Source> {
    match (&c.via, &c.resolved) {
        (_, Some(Ok(ep))) => Some(ep.source),
        (_, Some(Err(e))) => {
            let from = e.from();
            [
                Source::Config,
                Source::Env,
                Source::EnvContext,
                Source::CurrentContext,
            ]
            .into_iter()
            // A broken config.json or meta.json: which setting led there is not known.
            .find(|s| s.describe() == from)
        }
        (Via::DockerApi, None) if same_endpoint(&c.endpoint, LOCAL_SOCKET) => Some(Source::Default),
        (Via::DockerApi, None) => Some(Source::Probed),
        _ => None,
    }
}

async fn probe_via(c: &Candidate, config: &Config, env: &Env, base: Probe) -> Probe {
    match &c.via {
        Via::Unavailable(p) => (**p).clone(),
        Via::DockerApi => probe_docker_api(base, c, config).await,
        Via::BuildKit => match env.buildkit {
            Some(plugin) => (plugin.probe)(plugin_config(config), env.clone(), base).await,
            None => Probe::unavailable(c.kind, &c.source, &c.endpoint, c.explicit),
        },
        Via::CodeBuild => match env.codebuild {
            Some(plugin) => (plugin.probe)(config.clone(), env.clone(), base).await,
            None => Probe::unavailable(c.kind, &c.source, &c.endpoint, c.explicit),
        },
    }
}

async fn probe_docker_api(mut p: Probe, c: &Candidate, config: &Config) -> Probe {
    if c.kind == BackendKind::Podman
        && let Some(path) = c.endpoint.strip_prefix("unix://")
        && !std::path::Path::new(path).exists()
    {
        let rootless = c.source.contains("rootless");
        p.why_not = Some(format!("no Podman socket at {path}"));
        p.what_to_do = Some(podman_start_hint(rootless, path));
        return p;
    }
    // A path that is there but is no socket (a regular file left by a script, a directory): connecting
    // would say "connection refused", which sends people looking for a daemon that is not the problem.
    let unix_path = match &c.resolved {
        Some(Ok(ep)) => match ep.address() {
            Ok(crate::docker::endpoint::Address::Unix(p)) => Some(p),
            _ => None,
        },
        Some(Err(_)) => None,
        None => c.endpoint.strip_prefix("unix://").map(PathBuf::from),
    };
    if let Some(path) = unix_path {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(m) = std::fs::metadata(&path)
            && !m.file_type().is_socket()
        {
            let what = if m.is_dir() {
                "a directory"
            } else if m.is_file() {
                "a regular file"
            } else {
                "not a socket"
            };
            p.why_not = Some(format!(
                "{} is {what}, not a socket: no engine listens there",
                path.display()
            ));
            p.what_to_do = Some(fix_where(
                c,
                "point engine.docker_host / DOCKER_HOST at the engine's socket (unix:///var/run/docker.sock \
                 for the local one); remove that file if a script left it there"
                    .into(),
            ));
            return p;
        }
    }
    let engine = open_engine(c, config);
    let port: &dyn BuilderPort = &engine;
    let limit = probe_timeout(c);
    let pinged = tokio::time::timeout(limit, port.ping()).await;
    match pinged {
        Ok(Ok(info)) => {
            p.reachable = true;
            p.version = Some(info.version);
            if let Ok(Ok(caps)) = tokio::time::timeout(limit, port.capabilities()).await {
                p.backend = caps.kind;
                p.capabilities = Some(caps);
            }
        }
        Ok(Err(e)) => {
            let (text, answered) = match e {
                crate::docker::DockerError::Unreachable { reason, .. } => (reason, false),
                other => (other.to_string(), true),
            };
            let (why, todo) = match text.split_once("; what to do: ") {
                Some((w, t)) => (w.to_string(), t.to_string()),
                // Something answered HTTP, but not as a Docker engine does (a 404 from a web server, a
                // registry, a BuildKit port): say so rather than quote its page.
                None if answered => (
                    format!(
                        "{} answers HTTP but is not a Docker engine API ({})",
                        c.endpoint,
                        one_line(&text)
                    ),
                    "point engine.docker_host / DOCKER_HOST at the engine's API (tcp://HOST:2375, 2376 with \
                     TLS, or its unix socket), not another service"
                        .into(),
                ),
                None => (
                    one_line(&text),
                    "check the engine there (docker info) and the endpoint".into(),
                ),
            };
            // No `ssh` on this machine: nothing about the engine or the address to check.
            let todo = if why.contains("cannot run the ssh client") {
                "install the ssh client (apt-get install openssh-client) or put `ssh` on PATH; dockui runs \
                 it as the docker CLI does"
                    .to_string()
            } else {
                fix_where(c, todo)
            };
            p.why_not = Some(why);
            p.what_to_do = Some(todo);
        }
        Err(_) => {
            p.why_not = Some(format!(
                "no answer from {} within {}s",
                c.endpoint,
                limit.as_secs()
            ));
            p.what_to_do = Some(fix_where(
                c,
                "check the host is up and the engine listens there (something accepts connections but \
                 does not answer), or fix engine.docker_host / DOCKER_HOST"
                    .into(),
            ));
        }
    }
    p
}

/// A message on one line, at most 300 characters (an HTML error page must not fill the screen).
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &joined[..i]),
        None => joined,
    }
}

/// Every candidate, probed, and the one `auto` picks (an index into `candidates`).
#[derive(Debug, Clone, Serialize)]
pub struct Doctor {
    pub candidates: Vec<Probe>,
    pub auto: Option<usize>,
    /// Why auto picks that one (or nothing).
    pub auto_reason: String,
}

/// Probe every candidate (for `dockui doctor`).
pub async fn doctor(config: &Config, env: &Env) -> Doctor {
    let mut probes = Vec::new();
    for c in candidates(config, env) {
        probes.push(probe(&c, config, env).await);
    }
    let (auto, auto_reason) = match auto_pick(&probes) {
        Pick::Use(i) => (
            Some(i),
            format!("the first usable one: {}", probes[i].source),
        ),
        Pick::Stop(i) => (
            Some(i),
            format!(
                "{} is set by you and is not skipped for another: it is used, and fails until it answers",
                probes[i].source
            ),
        ),
        Pick::Nothing => (None, "nothing usable: see what to do above".into()),
    };
    Doctor {
        candidates: probes,
        auto,
        auto_reason,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    /// A usable candidate.
    Use(usize),
    /// An explicit candidate that does not answer: the search ends there.
    Stop(usize),
    Nothing,
}

/// `auto`'s rule over probes in order (pure): the first usable one; an explicit available one that does
/// not answer ends the search; unavailable ones are never picked.
fn auto_pick(probes: &[Probe]) -> Pick {
    for (i, p) in probes.iter().enumerate() {
        if p.usable() {
            return Pick::Use(i);
        }
        if binding(p) {
            return Pick::Stop(i);
        }
    }
    Pick::Nothing
}

/// A candidate that ends the search when it is not usable: one the user set, of a backend this build has;
/// and the Docker endpoint the user selected (a docker context) even when this build cannot resolve it,
/// since the local socket is not what they chose.
fn binding(p: &Probe) -> bool {
    p.explicit && (p.available || p.backend == BackendKind::Docker)
}

/// The backend to build on.
pub struct Selected {
    pub port: Arc<dyn BuilderPort>,
    pub probe: Probe,
    /// Candidates `auto` passed over, for a line on stderr ("podman socket: no socket at ...").
    pub skipped: Vec<Probe>,
}

impl Selected {
    /// `auto` stopped at an endpoint you set that does not answer. The TUI opens it anyway (the status bar
    /// shows why, and it may come up); a headless build or push must not start an attempt that can only
    /// fail (or wait for the engine's timeout on a host that accepts and never answers): this error says
    /// why, what to do, and that auto does not build elsewhere while the setting is there.
    pub fn refusal(&self) -> Option<SelectError> {
        let p = &self.probe;
        if !p.explicit || p.usable() {
            return None;
        }
        let at = if p.endpoint.is_empty() {
            String::new()
        } else {
            format!(" at {}", p.endpoint)
        };
        let setting = match &p.context {
            Some(c) => format!("the docker context {c} is selected"),
            None => format!("{} is set", p.source),
        };
        Some(SelectError {
            backend: Choice::Auto.as_str().into(),
            why: format!(
                "{} not reachable{at} ({}): {} (auto builds nowhere else while {setting})",
                if p.backend == BackendKind::Docker {
                    "Docker engine".to_string()
                } else {
                    p.backend.as_str().to_string()
                },
                p.source,
                p.why_not.as_deref().unwrap_or("it does not answer"),
            ),
            what_to_do: p
                .what_to_do
                .clone()
                .unwrap_or_else(|| "run `dockui doctor`".into()),
            probe: Some(Box::new(p.clone())),
        })
    }
}

/// Why the asked-for backend cannot be used (headless: exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("backend {backend}: {why}; what to do: {what_to_do}")]
pub struct SelectError {
    pub backend: String,
    pub why: String,
    pub what_to_do: String,
    pub probe: Option<Box<Probe>>,
}

/// Pick and open the backend for a build. With nothing usable, `auto` opens the Docker endpoint (the first
/// candidate), whose first request then says what is wrong, as before backends existed; it fails only on a
/// docker context this build cannot resolve. An explicit choice that is not usable is an error that says
/// what to do.
pub async fn select(config: &Config, env: &Env, choice: Choice) -> Result<Selected, SelectError> {
    let all = candidates(config, env);
    let mut probes: Vec<Probe> = Vec::new();
    match choice.kind() {
        None => {
            for c in &all {
                probes.push(probe(c, config, env).await);
                match auto_pick(&probes) {
                    Pick::Use(i) | Pick::Stop(i) => {
                        let chosen = probes[i].clone();
                        probes.truncate(i);
                        return open(config, env, &all[i], chosen, probes);
                    }
                    Pick::Nothing => {}
                }
            }
            // Nothing usable: the Docker endpoint, which reports its own trouble on first use.
            let i = all
                .iter()
                .position(|c| c.via == Via::DockerApi)
                .unwrap_or(0);
            let chosen = probes[i].clone();
            let skipped = probes.iter().take(i).cloned().collect();
            open_docker(config, &all[i], chosen, skipped)
        }
        Some(kind) => {
            // Podman behind DOCKER_HOST counts as podman; a Docker endpoint that does not answer is docker.
            let mut first: Option<Probe> = None;
            for c in &all {
                let presumed = c.kind == kind
                    || (c.via == Via::DockerApi
                        && matches!(kind, BackendKind::Docker | BackendKind::Podman));
                if !presumed {
                    continue;
                }
                let p = probe(c, config, env).await;
                // An endpoint the user set (`[engine] docker_host`, DOCKER_HOST, a context) that answers the
                // Docker API is the machine they named, for `docker` and `podman` alike: use it (the result
                // says which engine it is) rather than pass it over for another endpoint.
                if c.via == Via::DockerApi
                    && p.explicit
                    && p.usable()
                    && matches!(kind, BackendKind::Docker | BackendKind::Podman)
                {
                    // Podman asked for, Docker answering: building there anyway would be a silent
                    // substitution (no rootless user namespace, another image store).
                    if kind == BackendKind::Podman && p.backend == BackendKind::Docker {
                        return Err(SelectError {
                            backend: choice.as_str().into(),
                            why: format!(
                                "podman was asked for, but {} ({}) answers as Docker{}",
                                p.endpoint,
                                p.source,
                                p.version
                                    .as_deref()
                                    .map(|v| format!(" {v}"))
                                    .unwrap_or_default()
                            ),
                            what_to_do: format!(
                                "point {} at Podman's socket (unix://$XDG_RUNTIME_DIR/podman/podman.sock or \
                                 unix:///run/podman/podman.sock), or build there with --backend docker",
                                if p.context.is_some() {
                                    "the docker context (or DOCKER_HOST)"
                                } else {
                                    "DOCKER_HOST / [engine] docker_host"
                                }
                            ),
                            probe: Some(Box::new(p)),
                        });
                    }
                    return open(config, env, c, p, probes);
                }
                let matches = p.backend == kind;
                if matches && p.usable() {
                    return open(config, env, c, p, probes);
                }
                if matches && binding(&p) {
                    // Set by the user and not answering: never replaced by another of the same kind.
                    return Err(not_usable(choice, p));
                }
                if matches && first.is_none() {
                    first = Some(p.clone());
                }
                probes.push(p);
            }
            Err(match first {
                Some(p) => not_usable(choice, p),
                None => SelectError {
                    backend: choice.as_str().into(),
                    why: format!("no {} endpoint is configured or found", choice.as_str()),
                    what_to_do: "run `dockui doctor` to see what this machine can build on".into(),
                    probe: None,
                },
            })
        }
    }
}

fn not_usable(choice: Choice, p: Probe) -> SelectError {
    let at = if p.endpoint.is_empty() {
        String::new()
    } else {
        format!(" at {}", p.endpoint)
    };
    SelectError {
        backend: choice.as_str().into(),
        why: format!(
            "{}{at} ({}) is not usable: {}",
            p.backend.as_str(),
            p.source,
            p.why_not.as_deref().unwrap_or("it does not answer")
        ),
        what_to_do: p
            .what_to_do
            .clone()
            .unwrap_or_else(|| "run `dockui doctor`".into()),
        probe: Some(Box::new(p)),
    }
}

fn open(
    config: &Config,
    env: &Env,
    c: &Candidate,
    probe: Probe,
    skipped: Vec<Probe>,
) -> Result<Selected, SelectError> {
    let plugin = match c.via {
        Via::DockerApi => return open_docker(config, c, probe, skipped),
        Via::Unavailable(_) => return Err(not_usable(Choice::Auto, probe)),
        Via::BuildKit => env.buildkit,
        Via::CodeBuild => env.codebuild,
    };
    let Some(plugin) = plugin else {
        return Err(not_usable(Choice::Auto, probe));
    };
    match (plugin.open)(&plugin_config(config), &probe) {
        Ok(port) => Ok(Selected {
            port,
            probe,
            skipped,
        }),
        Err(why) => Err(SelectError {
            backend: probe.backend.as_str().into(),
            why,
            what_to_do: "run `dockui doctor`".into(),
            probe: Some(Box::new(probe)),
        }),
    }
}

/// The endpoint you set, with its TLS files and context; a socket dockui found, as it is.
fn open_engine(c: &Candidate, config: &Config) -> BollardEngine {
    let timeout = config.engine.timeout_s;
    match &c.resolved {
        Some(Ok(ep)) => BollardEngine::connect_to(ep.clone(), timeout),
        // Opened anyway by `auto`: every request then says why (no such context, a bad address).
        Some(Err(e)) => BollardEngine::unresolved(e),
        None => {
            let source = if same_endpoint(&c.endpoint, LOCAL_SOCKET) {
                Source::Default
            } else {
                Source::Probed
            };
            BollardEngine::connect_found(&c.endpoint, source, timeout)
        }
    }
}

fn open_docker(
    config: &Config,
    c: &Candidate,
    probe: Probe,
    skipped: Vec<Probe>,
) -> Result<Selected, SelectError> {
    let engine = open_engine(c, config);
    Ok(Selected {
        port: Arc::new(engine),
        probe,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_of(kind: BackendKind, explicit: bool, available: bool, reachable: bool) -> Probe {
        Probe {
            backend: kind,
            source: String::new(),
            endpoint: String::new(),
            context: None,
            explicit,
            available,
            reachable,
            version: None,
            capabilities: None,
            why_not: None,
            what_to_do: None,
            origin: None,
            tls: None,
        }
    }

    #[test]
    fn choices_parse_and_unknown_ones_name_the_valid_ones() {
        assert_eq!(Choice::parse("auto"), Ok(Choice::Auto));
        assert_eq!(Choice::parse(""), Ok(Choice::Auto));
        assert_eq!(Choice::parse("Engine"), Ok(Choice::Docker));
        assert_eq!(Choice::parse("codebuild"), Ok(Choice::Codebuild));
        let e = Choice::parse("kaniko").unwrap_err();
        assert!(e.contains("kaniko") && e.contains("buildkit"), "{e}");
    }

    #[test]
    fn the_order_is_docker_host_local_podman_buildkit_codebuild() {
        let env = Env {
            docker_host: Some("tcp://gpu-box:2375".into()),
            xdg_runtime_dir: Some("/run/user/1000".into()),
            buildkit_host: Some("tcp://bk:1234".into()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        let got: Vec<(&str, &str, bool)> = c
            .iter()
            .map(|c| (c.source.as_str(), c.endpoint.as_str(), c.explicit))
            .collect();
        assert_eq!(
            got,
            vec![
                ("DOCKER_HOST", "tcp://gpu-box:2375", true),
                ("local socket", "unix:///var/run/docker.sock", false),
                (
                    "Podman socket (rootless)",
                    "unix:///run/user/1000/podman/podman.sock",
                    false
                ),
                (
                    "Podman socket (root)",
                    "unix:///run/podman/podman.sock",
                    false
                ),
                ("BUILDKIT_HOST", "tcp://bk:1234", true),
                ("[codebuild] project", "", false),
            ]
        );
    }

    #[test]
    fn config_beats_docker_host_and_the_local_socket_is_not_listed_twice() {
        let mut config = Config::default();
        config.engine.docker_host = "unix:///var/run/docker.sock".into();
        config.engine.buildkit_host = "unix:///run/buildkit/buildkitd.sock".into();
        let env = Env {
            docker_host: Some("tcp://ignored:2375".into()),
            buildkit_host: Some("tcp://ignored:1234".into()),
            ..Env::default()
        };
        let c = candidates(&config, &env);
        assert_eq!(c[0].source, "[engine] docker_host");
        assert!(c.iter().all(|c| !c.endpoint.contains("ignored")), "{c:?}");
        assert_eq!(
            c.iter()
                .filter(|c| same_endpoint(&c.endpoint, LOCAL_SOCKET))
                .count(),
            1
        );
        assert_eq!(c[c.len() - 2].source, "[engine] buildkit_host");
    }

    #[test]
    fn a_docker_context_is_resolved_and_a_missing_one_stops_auto_with_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{},"currentContext":"gpu-box"}"#,
        )
        .unwrap();
        let env = Env {
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..Env::default()
        };
        // Not in the context store: listed, explicit, not reachable, saying so.
        let c = candidates(&Config::default(), &env);
        assert_eq!(c[0].source, "docker context gpu-box");
        assert!(c[0].explicit);
        assert!(
            matches!(&c[0].via, Via::Unavailable(p) if p.why_not.as_deref().is_some_and(|w| w.contains("does not exist"))),
            "{:?}",
            c[0].via
        );
        // In the store (as `docker context create` writes it): its endpoint, with the context.
        let meta = dir
            .path()
            .join("contexts/meta")
            .join(crate::docker::endpoint::context_id("gpu-box"));
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"gpu-box","Endpoints":{"docker":{"Host":"ssh://me@gpu-box:2222","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let c = candidates(&Config::default(), &env);
        assert_eq!(c[0].endpoint, "ssh://me@gpu-box:2222");
        assert_eq!(c[0].context.as_deref(), Some("gpu-box"));
        assert_eq!(c[0].via, Via::DockerApi);
        // `default` is the local engine: no extra candidate.
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"default"}"#,
        )
        .unwrap();
        let c = candidates(&Config::default(), &env);
        assert_eq!(c[0].source, "local socket");
    }

    #[test]
    fn auto_takes_the_first_usable_stops_at_an_explicit_dead_one_and_never_picks_unavailable() {
        use BackendKind::*;
        // Local socket dead (not explicit), Podman answers.
        let p = [
            probe_of(Docker, false, true, false),
            probe_of(Podman, false, true, true),
        ];
        assert_eq!(auto_pick(&p), Pick::Use(1));
        // DOCKER_HOST set and dead: the search ends there, the local socket is not used.
        let p = [
            probe_of(Docker, true, true, false),
            probe_of(Docker, false, true, true),
        ];
        assert_eq!(auto_pick(&p), Pick::Stop(0));
        // BUILDKIT_HOST set, but the backend is not in this build: skipped, never picked.
        let p = [
            probe_of(Docker, false, true, false),
            probe_of(Buildkit, true, false, false),
        ];
        assert_eq!(auto_pick(&p), Pick::Nothing);
    }

    #[tokio::test]
    async fn without_their_implementation_buildkit_and_codebuild_say_so() {
        let env = Env {
            buildkit_host: Some("tcp://127.0.0.1:1".into()),
            ..Env::default()
        };
        {
            let c = candidates(&Config::default(), &env);
            let bk = c.iter().find(|c| c.kind == BackendKind::Buildkit).unwrap();
            let p = probe(bk, &Config::default(), &env).await;
            assert!(!p.available && !p.reachable);
            assert!(p.why_not.unwrap().contains("not available in this build"));
            let e = select(&Config::default(), &env, Choice::Buildkit)
                .await
                .err()
                .expect("not usable");
            assert!(e.to_string().contains("not available in this build"), "{e}");
        }
    }

    #[tokio::test]
    async fn an_explicit_docker_backend_that_does_not_answer_is_an_error_with_what_to_do() {
        let env = Env {
            docker_host: Some("unix:///nonexistent/dockui-select.sock".into()),
            ..Env::default()
        };
        let e = select(&Config::default(), &env, Choice::Docker)
            .await
            .err()
            .expect("DOCKER_HOST is dead");
        assert!(e.why.contains("DOCKER_HOST"), "{e}");
        assert!(e.why.contains("/nonexistent/dockui-select.sock"), "{e}");
        assert!(!e.what_to_do.is_empty());
        // auto opens it anyway (the build then fails with the engine's own message).
        let s = select(&Config::default(), &env, Choice::Auto)
            .await
            .unwrap();
        assert_eq!(s.port.endpoint(), "unix:///nonexistent/dockui-select.sock");
        assert!(!s.probe.reachable);
    }

    /// What a BuildKit plugin gets and gives: its probe fills the candidate in, `open` gives the port.
    fn fake_probe(_: Config, _: Env, mut base: Probe) -> BoxFuture<'static, Probe> {
        Box::pin(async move {
            assert_eq!(
                base.endpoint, "tcp://bk:1234",
                "the plugin gets the endpoint"
            );
            assert!(base.explicit && base.available && !base.reachable);
            base.reachable = true;
            base.version = Some("v0.fake".into());
            base
        })
    }

    fn fake_open(_: &Config, p: &Probe) -> Result<Arc<dyn BuilderPort>, String> {
        Ok(Arc::new(BollardEngine::connect(
            &format!("unix:///nonexistent/{}", p.version.as_deref().unwrap_or("")),
            1,
        )))
    }

    #[tokio::test]
    async fn a_plugged_in_backend_is_probed_listed_and_opened_through_its_hook() {
        let plugin = Plugin {
            probe: fake_probe,
            open: fake_open,
        };
        let env = Env {
            buildkit_host: Some("tcp://bk:1234".into()),
            buildkit: Some(plugin),
            ..Env::default()
        };
        let s = select(&Config::default(), &env, Choice::Buildkit)
            .await
            .unwrap();
        assert_eq!(s.probe.backend, BackendKind::Buildkit);
        assert_eq!(s.probe.version.as_deref(), Some("v0.fake"));
        assert_eq!(s.port.endpoint(), "unix:///nonexistent/v0.fake");
        // CodeBuild, not plugged in, is not available.
        let c = candidates(&Config::default(), &env);
        let cb = c.iter().find(|c| c.kind == BackendKind::Codebuild).unwrap();
        assert!(!probe(cb, &Config::default(), &env).await.available);
    }
    #[test]
    fn a_failed_resolution_is_listed_under_its_own_name() {
        let env = Env {
            docker_host: Some("ssh://me:s3cret@gpu-box".into()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(c[0].source, "DOCKER_HOST");
        assert_eq!(c[0].endpoint, "ssh://me:***@gpu-box");
        let Via::Unavailable(p) = &c[0].via else {
            panic!("{:?}", c[0].via)
        };
        assert!(
            !format!("{p:?}").contains("s3cret"),
            "the password is nowhere: {p:?}"
        );
        // A context that does not exist: no endpoint to show, but its name, as the context.
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            docker_context: Some("nope".into()),
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(
            (
                c[0].source.as_str(),
                c[0].endpoint.as_str(),
                c[0].context.as_deref()
            ),
            ("docker context nope", "", Some("nope"))
        );
        // A name with an escape sequence is shown escaped.
        let env = Env {
            docker_context: Some("bad\u{1b}[2Jname".into()),
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(c[0].source, "docker context bad\\u{1b}[2Jname");
        // A DOCKER_CERT_PATH that is not there: the endpoint is still DOCKER_HOST's address, set by
        // DOCKER_HOST; the path is only the why.
        let env = Env {
            docker_host: Some("tcp://127.0.0.1:42376".into()),
            docker_tls: vec![
                ("DOCKER_TLS_VERIFY".into(), "1".into()),
                ("DOCKER_CERT_PATH".into(), "/nonexistent".into()),
            ],
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(
            (c[0].source.as_str(), c[0].endpoint.as_str()),
            ("DOCKER_HOST", "tcp://127.0.0.1:42376")
        );
        assert_eq!(origin_of(&c[0]), Some(Source::Env));
        let Via::Unavailable(p) = &c[0].via else {
            panic!("{:?}", c[0].via)
        };
        assert_eq!(p.endpoint, "tcp://127.0.0.1:42376");
        let why = p.why_not.as_deref().unwrap();
        assert!(
            why.contains("DOCKER_CERT_PATH=/nonexistent cannot be read"),
            "{why}"
        );
        // DOCKER_CONTEXT=default is the local socket, and says so.
        let env = Env {
            docker_context: Some("default".into()),
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(c[0].source, "local socket");
        assert_eq!(c[0].context.as_deref(), Some("default"));
    }

    /// A docker context store with one context `name` at `host`.
    fn context_env(dir: &std::path::Path, name: &str, host: &str) -> Env {
        let meta = dir
            .join("contexts/meta")
            .join(crate::docker::endpoint::context_id(name));
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            serde_json::json!({"Name": name, "Endpoints": {"docker": {"Host": host}}}).to_string(),
        )
        .unwrap();
        std::fs::write(
            dir.join("config.json"),
            serde_json::json!({ "currentContext": name }).to_string(),
        )
        .unwrap();
        Env {
            docker_config_dir: Some(dir.to_path_buf()),
            ..Env::default()
        }
    }

    #[tokio::test]
    async fn a_dead_context_is_fixed_in_the_context_not_in_docker_host() {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let env = context_env(dir.path(), "remote", &format!("tcp://127.0.0.1:{port}"));
        let c = candidates(&Config::default(), &env);
        let p = probe(&c[0], &Config::default(), &env).await;
        assert!(!p.reachable);
        let todo = p.what_to_do.unwrap();
        assert!(todo.contains("docker context inspect remote"), "{todo}");
        assert!(todo.contains("docker context use default"), "{todo}");
        assert!(!todo.contains("DOCKER_HOST"), "{todo}");
    }

    #[tokio::test]
    async fn a_regular_file_where_the_socket_should_be_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker.sock");
        std::fs::write(&file, "").unwrap();
        let env = Env {
            docker_host: Some(format!("unix://{}", file.display())),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        let p = probe(&c[0], &Config::default(), &env).await;
        let why = p.why_not.unwrap();
        assert!(why.contains("is a regular file, not a socket"), "{why}");
        assert!(!why.contains("refused"), "{why}");
        assert!(p.what_to_do.unwrap().contains("DOCKER_HOST"));
    }

    #[tokio::test]
    async fn a_socket_that_accepts_and_never_answers_times_out_and_headless_auto_refuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("silent.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        // Accept, hold, never answer.
        let held = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                conns.push(s);
            }
        });
        let env = Env {
            docker_host: Some(format!("unix://{}", path.display())),
            ..Env::default()
        };
        let started = std::time::Instant::now();
        let s = select(&Config::default(), &env, Choice::Auto)
            .await
            .unwrap();
        assert!(
            started.elapsed() < PROBE_TIMEOUT + Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(s.probe.why_not.as_deref().unwrap().contains("no answer"));
        // The TUI gets the port (its status bar says why); a headless build or push gets this instead.
        let e = s.refusal().expect("auto stopped at DOCKER_HOST");
        assert!(
            e.why.contains("Docker engine not reachable at unix://"),
            "{e}"
        );
        assert!(e.why.contains("DOCKER_HOST"), "{e}");
        assert!(!e.what_to_do.is_empty());
        held.abort();
        // A usable pick, or one auto found by itself, is no refusal.
        let mut usable = s.probe.clone();
        usable.reachable = true;
        let ok = Selected {
            port: s.port.clone(),
            probe: usable,
            skipped: vec![],
        };
        assert!(ok.refusal().is_none());
        let mut found = s.probe.clone();
        found.explicit = false;
        let ok = Selected {
            port: s.port,
            probe: found,
            skipped: vec![],
        };
        assert!(ok.refusal().is_none());
    }

    #[tokio::test]
    async fn each_candidate_names_its_origin_in_the_results_words() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = context_env(dir.path(), "remote", "tcp://127.0.0.1:1");
        env.xdg_runtime_dir = Some(dir.path().join("run"));
        let c = candidates(&Config::default(), &env);
        let mut origins = Vec::new();
        for cand in &c {
            origins.push(probe(cand, &Config::default(), &env).await.origin);
        }
        assert_eq!(
            origins,
            vec![
                Some(Source::CurrentContext),
                Some(Source::Default),
                Some(Source::Probed),
                Some(Source::Probed),
                None,
                None
            ]
        );
        let v = serde_json::to_value(probe(&c[0], &Config::default(), &env).await).unwrap();
        assert_eq!(v["origin"], "current_context");
        let env = Env {
            docker_host: Some("bogus".into()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(
            probe(&c[0], &Config::default(), &env).await.origin,
            Some(Source::Env)
        );
    }

    #[test]
    fn an_ssh_endpoint_gets_time_for_its_handshake() {
        let env = Env {
            docker_host: Some("ssh://me@gpu-box:2222".into()),
            ..Env::default()
        };
        let c = candidates(&Config::default(), &env);
        assert_eq!(probe_timeout(&c[0]), SSH_PROBE_TIMEOUT);
        assert_eq!(probe_timeout(&c[1]), PROBE_TIMEOUT, "{:?}", c[1].endpoint);
    }

    #[test]
    fn podman_start_hints_fit_the_machine() {
        let sock = "/run/podman/podman.sock";
        // No systemd (a container, this CI machine): never systemctl; root: never sudo.
        let h = podman_start_hint_on(false, sock, false, true);
        assert!(!h.contains("systemctl") && !h.contains("sudo"), "{h}");
        assert!(
            h.contains("podman system service --time=0 unix:///run/podman/podman.sock"),
            "{h}"
        );
        assert!(podman_start_hint_on(false, sock, false, false).contains("sudo podman"));
        let h = podman_start_hint_on(false, sock, true, true);
        assert!(
            h.contains("systemctl start podman.socket") && !h.contains("sudo"),
            "{h}"
        );
        assert!(podman_start_hint_on(false, sock, true, false).contains("sudo systemctl"));
        assert!(podman_start_hint_on(true, sock, true, false).contains("systemctl --user"));
        assert!(!podman_start_hint_on(true, sock, false, false).contains("sudo"));
    }

    #[test]
    fn a_label_names_the_context_once() {
        let info = BackendInfo {
            kind: BackendKind::Docker,
            endpoint: "unix:///var/run/docker.sock (context loc)".into(),
            context: Some("loc".into()),
        };
        assert_eq!(
            info.label(),
            "docker unix:///var/run/docker.sock (context loc)"
        );
        let info = BackendInfo {
            endpoint: "unix:///var/run/docker.sock".into(),
            ..info
        };
        assert_eq!(
            info.label(),
            "docker unix:///var/run/docker.sock (context loc)"
        );
    }
}
