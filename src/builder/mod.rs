//! The builder port: what the engine needs from whatever builds images (the Docker-API engine, local or
//! remote, or Podman; a BuildKit daemon; a cloud builder). The engine holds only `Arc<dyn BuilderPort>`;
//! the retry loop and smoke tests run unchanged on each implementation. Fakes implement it for unit tests.

pub mod cache;

use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

pub mod select;

pub use crate::docker::push::{PushProgress, PushResult};
pub use crate::registry::credentials::Credentials;

/// One image build, as the engine asks for it.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    pub context_dir: PathBuf,
    /// Relative to the context.
    pub dockerfile: PathBuf,
    /// Full reference to tag, e.g. `dockui-local/demo:latest`.
    pub tag: String,
    pub args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub target: String,
    pub platform: String,
    pub no_cache: bool,
    pub pull: bool,
    pub builder: Builder,
    /// Network for RUN steps (`docker build --network`): "default", "host", "none" or a network name.
    pub network: String,
    /// More full references the built image also gets (`-t` given more than once).
    pub extra_tags: Vec<String>,
    /// Cache to import / export in buildx syntax (`type=registry,ref=...`); checked against the builder's
    /// capabilities before the build (see `cache::check`).
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    /// Push from the build itself when the builder does that (`Capabilities::push_in_build`: a BuildKit
    /// daemon's image exporter with `push=true`).
    pub push: bool,
}

/// Which builder the engine uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Builder {
    /// BuildKit when the engine offers it (Docker), the legacy builder otherwise (Podman).
    #[default]
    Auto,
    BuildKit,
    Legacy,
}

/// What a build reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// One line of build output, without its trailing newline.
    Line(String),
    /// The legacy builder's "Step n/N".
    Step { current: u32, total: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineInfo {
    pub endpoint: String,
    /// The docker context the endpoint came from (`DOCKER_CONTEXT`, the CLI's current context).
    pub context: Option<String>,
    pub version: String,
    pub api_version: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// `os/architecture[/variant]` from the image's config; None when the builder does not say.
    pub platform: Option<String>,
}

/// A one-off container (smoke tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSpec {
    pub image: String,
    /// None: the image's CMD.
    pub cmd: Option<Vec<String>>,
    /// Ask the engine for all GPUs (needs the NVIDIA container runtime).
    pub gpus: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub exit_code: i64,
    pub output: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DockerError {
    #[error("Docker engine not reachable at {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// The build ran and failed; `message` is the engine's error line.
    #[error("build failed: {message}")]
    BuildFailed { message: String },
    /// The build context could not be read or filtered (names the file or the `.dockerignore` line).
    #[error("{0}")]
    Context(String),
    #[error("{0}")]
    Other(String),
}

impl DockerError {
    /// Problems of the set-up rather than of the Dockerfile (engine unreachable, unreadable context):
    /// headless commands exit 2 for these, like for usage errors.
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            DockerError::Unreachable { .. } | DockerError::Context(_)
        )
    }
}

/// Which kind of builder answers behind a port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// A Docker engine through its API (local socket, tcp with TLS, ssh, a docker context).
    #[default]
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
    /// A standalone BuildKit daemon (`BUILDKIT_HOST`).
    Buildkit,
    /// A cloud builder (AWS CodeBuild).
    Codebuild,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Docker => "docker",
            BackendKind::Podman => "podman",
            BackendKind::Buildkit => "buildkit",
            BackendKind::Codebuild => "codebuild",
        }
    }
}

/// Where a build or push ran: named in every JSON result and in the TUI's status bar.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    pub kind: BackendKind,
    /// e.g. `unix:///var/run/docker.sock`, `tcp://builder:2376`, `tcp://buildkitd:1234`.
    pub endpoint: String,
    /// The docker context the endpoint came from, when it came from one.
    pub context: Option<String>,
}

impl BackendInfo {
    /// One line for status bars and logs: `docker unix:///var/run/docker.sock (context prod)`.
    pub fn label(&self) -> String {
        match &self.context {
            // A port's endpoint may already name its context (what the status bar shows): once is enough.
            Some(c) if !self.endpoint.ends_with(&format!("(context {c})")) => {
                format!("{} {} (context {c})", self.kind.as_str(), self.endpoint)
            }
            _ => format!("{} {}", self.kind.as_str(), self.endpoint),
        }
    }

    /// What a port says about itself: its kind from `capabilities` (a Docker endpoint may turn out to be
    /// Podman), else Docker when the builder cannot be asked.
    pub async fn of(port: &dyn BuilderPort) -> BackendInfo {
        let kind = port
            .capabilities()
            .await
            .map(|c| c.kind)
            .unwrap_or(BackendKind::Docker);
        BackendInfo {
            kind,
            endpoint: port.endpoint(),
            context: port.context(),
        }
    }
}

/// The `backend` object of every JSON result (build, push, inspect, and the errors that stop them before they
/// start), made here only so that no result lacks a field another has: `kind` (docker, podman, buildkit,
/// codebuild), `endpoint`, `context`, `source` (where the endpoint came from: config, env, env_context,
/// current_context, default, probed; the setting's name for BuildKit and CodeBuild), `tls`, and what the
/// builder said of itself when asked: `version`, `rootless` (null when not known). `view` is a port's
/// `BuilderPort::endpoint_json` or a probe's `select::Probe::endpoint_json`.
pub fn backend_json(kind: BackendKind, view: &serde_json::Value) -> serde_json::Value {
    let field = |k: &str| view.get(k).cloned().unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "kind": kind,
        "endpoint": field("endpoint"),
        "context": field("context"),
        "source": field("source"),
        "tls": field("tls"),
        "version": field("version"),
        "rootless": field("rootless"),
    })
}

/// A BuildKit cache backend in buildx syntax (`type=inline`, `type=registry,ref=...`, `type=local,dest=...`,
/// `type=gha`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CacheType {
    Inline,
    Registry,
    Local,
    Gha,
}

/// What a builder can do, asked before a build so dockui can say what will not work and propose what will.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    pub kind: BackendKind,
    /// Builds through BuildKit (session, `RUN --mount`, cache mounts).
    pub buildkit: bool,
    /// Cache types it can export (`cache_to`). The Docker engine's embedded BuildKit exports only `inline`.
    pub cache_export: Vec<CacheType>,
    /// Cache types it can import (`cache_from`).
    pub cache_import: Vec<CacheType>,
    /// Platforms its workers build (`linux/amd64`, `linux/arm64` once QEMU binfmt is on).
    pub platforms: Vec<String>,
    /// Where `platforms` comes from (BuildKit's ListWorkers, or the fallback and why); empty when not asked.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub platforms_from: String,
    /// Builds several platforms in one build (BuildKit daemon); otherwise dockui builds one per platform
    /// and pushes the index itself.
    pub multi_platform: bool,
    /// Runs containers (smoke tests); a BuildKit daemon or a cloud builder does not.
    pub run: bool,
    /// Pushes from the build itself (an image exporter with `push=true`) rather than with a separate push.
    pub push_in_build: bool,
}

/// What the engine needs from a builder. Implemented by the adapters for real, by fakes in unit tests.
pub trait BuilderPort: Send + Sync {
    /// e.g. `unix:///var/run/docker.sock`
    fn endpoint(&self) -> String;
    /// The docker context the endpoint was resolved from (`DOCKER_CONTEXT`, the CLI's current context);
    /// None for endpoints named directly.
    fn context(&self) -> Option<String> {
        None
    }
    /// Stream the image as a `docker save` archive (the Image pane, `dockui inspect`). Builders without an
    /// image store (a BuildKit daemon, a cloud builder) cannot.
    fn export_image<'a>(
        &'a self,
        image: &'a str,
    ) -> futures_util::stream::BoxStream<'a, Result<bytes::Bytes, DockerError>> {
        let why = format!(
            "the builder at {} keeps no image store to export {image} from",
            self.endpoint()
        );
        Box::pin(futures_util::stream::once(async move {
            Err(DockerError::Other(why))
        }))
    }
    /// The image's size in bytes as its store reports it, without exporting it (the Image pane's cap on
    /// automatic inspection). None: not known here (then front ends treat it as small).
    fn image_size<'a>(
        &'a self,
        _image: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, DockerError>> {
        Box::pin(async { Ok(None) })
    }
    /// Where this port builds, for JSON results (`backend_json` makes the `backend` object from it):
    /// `endpoint`, `context`, `source` (config, env, env_context, current_context), `tls`, and when known
    /// `version` and `rootless`.
    fn endpoint_json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint(),
            "context": self.context(),
            "source": serde_json::Value::Null,
            "tls": false,
        })
    }
    fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>>;
    /// Build, streaming output into `events`; resolves to the image id. Dropping the future aborts the build.
    fn build(
        &self,
        spec: BuildSpec,
        events: UnboundedSender<BuildEvent>,
    ) -> BoxFuture<'_, Result<String, DockerError>>;
    fn inspect_image<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>>;
    /// Short (12-hex) container id -> name, for every container the engine knows.
    fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>>;
    /// Run a fresh container, capture its output, and always remove it (also when the future is dropped).
    fn run_once(&self, spec: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>>;
    /// Remove containers left by dockui runs that were killed (their process is gone); their ids.
    fn remove_orphans(&self) -> BoxFuture<'_, Result<Vec<String>, DockerError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Wait (bounded) for clean-up this builder started in the background (containers removed after a
    /// cancelled smoke test), so nothing is left when the process ends.
    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    /// A question to ask before a build starts (a cloud builder's cost warning), as lines; None: just build.
    /// Front ends show it and say yes with `confirm_build` (the TUI's popup; headless asks with `--yes`).
    fn build_question(&self) -> Option<Vec<String>> {
        None
    }
    /// The user said yes to `build_question`.
    fn confirm_build(&self) {}
    /// What this builder can do (cache types, platforms, running containers). The default is a plain
    /// Docker engine with its embedded BuildKit.
    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, DockerError>> {
        Box::pin(async {
            Ok(Capabilities {
                kind: BackendKind::Docker,
                buildkit: true,
                cache_export: vec![CacheType::Inline],
                cache_import: vec![CacheType::Inline, CacheType::Registry],
                platforms: vec!["linux/amd64".to_string()],
                platforms_from: String::new(),
                multi_platform: false,
                run: true,
                push_in_build: false,
            })
        })
    }
    /// `docker tag source repository:tag`.
    fn tag<'a>(
        &'a self,
        source: &'a str,
        repository: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<(), DockerError>> {
        let _ = (source, repository, tag);
        let endpoint = self.endpoint();
        Box::pin(async move {
            Err(DockerError::Other(format!(
                "the builder at {endpoint} cannot tag images"
            )))
        })
    }
    /// Push `image_ref:tag` (already tagged), reporting per-layer progress; resolves to the manifest digest.
    /// `stall_after`: the push fails when the builder reports no progress for this long (a registry that
    /// stopped answering would otherwise hold it forever).
    fn push<'a>(
        &'a self,
        image_ref: &'a str,
        tag: &'a str,
        credentials: Option<&'a Credentials>,
        progress: UnboundedSender<PushProgress>,
        stall_after: std::time::Duration,
    ) -> BoxFuture<'a, Result<PushResult, DockerError>> {
        let _ = (image_ref, tag, credentials, progress, stall_after);
        let endpoint = self.endpoint();
        Box::pin(async move {
            Err(DockerError::Other(format!(
                "the builder at {endpoint} cannot push images"
            )))
        })
    }
}
