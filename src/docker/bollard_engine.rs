//! The real engine through bollard.

use super::*;
use bollard::Docker;
use bollard::models::BuildInfoAux;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::BuilderVersion;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::{FutureExt, StreamExt};
use std::collections::HashMap;

pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

#[derive(Clone)]
pub struct BollardEngine {
    docker: Option<Docker>,
    endpoint: String,
    connect_error: Option<String>,
}

impl BollardEngine {
    /// `host` from config; empty means $DOCKER_HOST, else the local socket. Never fails: an engine that cannot
    /// be reached is a state the UI shows, and `ping` reports why.
    pub fn connect(host: &str, timeout_s: u64) -> BollardEngine {
        let endpoint = if !host.is_empty() {
            host.to_string()
        } else {
            std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
        };
        let result = if endpoint.starts_with("unix://") || endpoint.starts_with('/') {
            Docker::connect_with_unix(&endpoint, timeout_s, bollard::API_DEFAULT_VERSION)
        } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
            Docker::connect_with_http(&endpoint, timeout_s, bollard::API_DEFAULT_VERSION)
        } else {
            Err(bollard::errors::Error::UnsupportedURISchemeError {
                uri: endpoint.clone(),
            })
        };
        match result {
            Ok(docker) => BollardEngine {
                docker: Some(docker),
                endpoint,
                connect_error: None,
            },
            Err(e) => BollardEngine {
                docker: None,
                endpoint,
                connect_error: Some(e.to_string()),
            },
        }
    }

    /// The bollard client, for adapters that extend this engine (push, registry checks).
    pub fn client(&self) -> Result<&Docker, DockerError> {
        self.docker
            .as_ref()
            .ok_or_else(|| self.unreachable(self.connect_error.clone().unwrap_or_default()))
    }

    fn unreachable(&self, reason: impl Into<String>) -> DockerError {
        DockerError::Unreachable {
            endpoint: self.endpoint.clone(),
            reason: reason.into(),
        }
    }

    /// Map a bollard error: transport errors mean the engine is not reachable; others are the engine's answer.
    pub fn map_err(&self, e: bollard::errors::Error) -> DockerError {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code,
                message,
            } => DockerError::Other(format!("engine answered {status_code}: {message}")),
            E::DockerStreamError { error } => DockerError::BuildFailed { message: error },
            E::HyperResponseError { .. }
            | E::IOError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_) => self.unreachable(describe_transport(&e)),
            other => DockerError::Other(other.to_string()),
        }
    }
}

fn describe_transport(e: &bollard::errors::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    msg
}

/// Parse the legacy builder's "Step 3/7 : RUN ..." lines.
pub fn parse_step(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("Step ")?;
    let (nums, _) = rest.split_once(' ').unwrap_or((rest, ""));
    let (a, b) = nums.split_once('/')?;
    Some((a.parse().ok()?, b.trim_end_matches(':').parse().ok()?))
}

impl BollardEngine {
    /// BuildKit through the engine's session: Docker with API >= 1.39. Podman's compatible API has none.
    async fn supports_buildkit(&self) -> bool {
        let Ok(docker) = self.client() else {
            return false;
        };
        match docker.version().await {
            Ok(v) => {
                let podman = v
                    .components
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.name.to_lowercase().contains("podman"));
                let api = v.api_version.unwrap_or_default();
                let (major, minor) = api.split_once('.').unwrap_or(("0", "0"));
                let new_enough = (
                    major.parse::<u32>().unwrap_or(0),
                    minor.parse::<u32>().unwrap_or(0),
                ) >= (1, 39);
                !podman && new_enough
            }
            Err(_) => false,
        }
    }
}

impl DockerPort for BollardEngine {
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
        async move {
            let docker = self.client()?;
            docker
                .ping()
                .await
                .map_err(|e| self.unreachable(describe_transport(&e)))?;
            let v = docker.version().await.map_err(|e| self.map_err(e))?;
            Ok(EngineInfo {
                endpoint: self.endpoint.clone(),
                version: v.version.unwrap_or_default(),
                api_version: v.api_version.unwrap_or_default(),
            })
        }
        .boxed()
    }

    fn build(
        &self,
        spec: BuildSpec,
        events: UnboundedSender<BuildEvent>,
    ) -> BoxFuture<'_, Result<String, DockerError>> {
        async move {
            let docker = self.client()?;
            let use_buildkit = match spec.builder {
                Builder::Legacy => false,
                Builder::BuildKit => true,
                Builder::Auto => self.supports_buildkit().await,
            };
            let _ = events.send(BuildEvent::Line(format!(
                "dockui: building {} with {}",
                spec.tag,
                if use_buildkit {
                    "BuildKit"
                } else {
                    "the legacy builder"
                }
            )));
            // The context is tarred on a blocking thread and streamed in chunks: never whole in memory.
            let (body, packer) = super::context::context_tar_stream(
                spec.context_dir.clone(),
                spec.dockerfile.clone(),
            );

            let args: HashMap<String, String> = spec.args.clone().into_iter().collect();
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
            if !spec.target.is_empty() {
                opts = opts.target(&spec.target);
            }
            if !spec.platform.is_empty() {
                opts = opts.platform(&spec.platform);
            }
            if !spec.network.is_empty() {
                opts = opts.networkmode(&spec.network);
            }
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
                                for v in status.vertexes.iter().filter(|v| !v.error.is_empty()) {
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
            if let Ok(Err(e)) = packer.await {
                return Err(DockerError::Other(format!(
                    "cannot pack build context {}: {e}",
                    spec.context_dir.display()
                )));
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
            let body = ContainerCreateBody {
                image: Some(spec.image.clone()),
                cmd: spec.cmd.clone(),
                host_config: spec.gpus.then(|| bollard::models::HostConfig {
                    device_requests: Some(vec![bollard::models::DeviceRequest {
                        driver: Some(String::new()),
                        count: Some(-1),
                        capabilities: Some(vec![vec!["gpu".to_string()]]),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                labels: Some(HashMap::from([(
                    "dev.dockui.managed".to_string(),
                    "true".to_string(),
                )])),
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
                docker
                    .start_container(&id, None)
                    .await
                    .map_err(|e| self.map_err(e))?;
                let mut wait =
                    docker.wait_container(&id, Some(WaitContainerOptionsBuilder::new().build()));
                let mut exit_code = 0;
                while let Some(w) = wait.next().await {
                    match w {
                        Ok(r) => exit_code = r.status_code,
                        Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => {
                            exit_code = code
                        }
                        Err(e) => return Err(self.map_err(e)),
                    }
                }
                let mut logs = docker.logs(
                    &id,
                    Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
                );
                let mut output = String::new();
                while let Some(chunk) = logs.next().await {
                    output.push_str(&chunk.map_err(|e| self.map_err(e))?.to_string());
                }
                Ok(RunOutput { exit_code, output })
            }
            .await;
            guard.remove_now().await;
            result
        }
        .boxed()
    }
}

/// Removes a container when dropped; `remove_now` does it in place and awaits it.
struct RemoveOnDrop {
    docker: Docker,
    id: Option<String>,
}

impl RemoveOnDrop {
    async fn remove_now(mut self) {
        if let Some(id) = self.id.take() {
            let opts = RemoveContainerOptionsBuilder::new().force(true).build();
            if let Err(e) = self.docker.remove_container(&id, Some(opts)).await {
                log::warn!("could not remove container {id}: {e}");
            }
        }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let docker = self.docker.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let opts = RemoveContainerOptionsBuilder::new().force(true).build();
                    let _ = docker.remove_container(&id, Some(opts)).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_lines_parse() {
        assert_eq!(parse_step("Step 3/7 : RUN echo hi"), Some((3, 7)));
        assert_eq!(parse_step("Step 10/12 : COPY . ."), Some((10, 12)));
        assert_eq!(parse_step("Steps are fun"), None);
        assert_eq!(parse_step(" ---> Running in abc"), None);
    }

    #[test]
    fn unknown_scheme_is_a_state_not_a_panic() {
        let e = BollardEngine::connect("ftp://nowhere", 5);
        assert_eq!(e.endpoint(), "ftp://nowhere");
        assert!(e.client().is_err());
    }
}
