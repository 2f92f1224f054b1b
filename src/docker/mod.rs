//! The Docker engine port (what the engine needs) and its bollard adapter.

pub mod bollard_engine;
pub mod buildkit_progress;
pub mod context;
pub mod diagnose;
pub mod dockerignore;
pub mod push;
pub mod standin;

use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

pub use bollard_engine::BollardEngine;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub endpoint: String,
    pub version: String,
    pub api_version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub labels: BTreeMap<String, String>,
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

/// What the engine needs from a container engine. Implemented by bollard for real, by fakes in unit tests.
pub trait DockerPort: Send + Sync {
    /// e.g. `unix:///var/run/docker.sock`
    fn endpoint(&self) -> String;
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
}
