//! AWS CodeBuild as a builder: the cloud fallback when no engine is reachable (`build --backend codebuild`,
//! or `auto`). dockui analyses and fixes locally, packs the context with Docker's `.dockerignore`
//! semantics, uploads it to S3, starts the project's build with source and environment overrides (and its
//! own buildspec when the project has none), then follows phases and the CloudWatch log into the same
//! build log, classification and retry loop as a local build (`BuilderPort`).

pub mod api;
pub mod aws;
pub mod buildspec;
pub mod client;
pub mod config;
pub mod cost;
pub mod pack;

pub use config::CodeBuildConfig;

use crate::builder::{
    BackendKind, BuildEvent, BuildSpec, BuilderPort, Capabilities, DockerError, EngineInfo,
    ImageInfo, RunOutput, RunSpec,
};
use client::{AwsClient, AwsError};
use futures_util::future::BoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Can dockui build on CodeBuild from here? (`dockui doctor` and `--backend auto`.)
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Probe {
    pub reachable: bool,
    pub why_not: String,
    pub what_to_do: String,
}

impl Probe {
    fn no(why_not: impl Into<String>, what_to_do: impl Into<String>) -> Probe {
        Probe {
            reachable: false,
            why_not: why_not.into(),
            what_to_do: what_to_do.into(),
        }
    }
}

/// Credentials and region resolved like AWS tools; the client that signs with them.
pub fn connect(cfg: &CodeBuildConfig) -> Result<AwsClient, aws::AwsSetupError> {
    let env = aws::resolve(&aws::process_env, &cfg.region)?;
    AwsClient::new(env).map_err(|e| aws::AwsSetupError {
        why: e.to_string(),
        what_to_do: "check the TLS setup of this machine".into(),
    })
}

/// Credentials, a configured project, and the CodeBuild endpoint answering for it.
pub async fn probe_async(config: &crate::config::Config) -> Probe {
    let cfg = &config.codebuild;
    if cfg.project.is_empty() {
        return Probe::no(
            "no CodeBuild project configured ([codebuild] project is empty)",
            "set [codebuild] project (and create it once: see docs/codebuild.md), or pass --codebuild-project",
        );
    }
    let client = match connect(cfg) {
        Ok(c) => c,
        Err(e) => return Probe::no(e.why, e.what_to_do),
    };
    match tokio::time::timeout(Duration::from_secs(15), api::project(&client, &cfg.project)).await {
        Err(_) => Probe::no(
            format!(
                "the CodeBuild endpoint {} did not answer within 15 s",
                client.env.endpoint(aws::Service::CodeBuild)
            ),
            "check the network or AWS_ENDPOINT_URL",
        ),
        Ok(Err(e)) => Probe::no(e.to_string(), what_to_do_for(&e)),
        Ok(Ok(None)) => Probe::no(
            format!(
                "CodeBuild project {} does not exist in {}",
                cfg.project, client.env.region
            ),
            "create it (docs/codebuild.md) or fix [codebuild] project / region",
        ),
        Ok(Ok(Some(_))) => Probe {
            reachable: true,
            why_not: String::new(),
            what_to_do: String::new(),
        },
    }
}

/// `probe_async` from anywhere, also inside a runtime: it runs on a thread of its own.
pub fn probe(config: &crate::config::Config) -> Probe {
    let config = config.clone();
    std::thread::spawn(move || {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(probe_async(&config)),
            Err(e) => Probe::no(format!("cannot start a runtime: {e}"), "retry"),
        }
    })
    .join()
    .unwrap_or_else(|_| Probe::no("the CodeBuild probe panicked", "report a bug"))
}

pub fn what_to_do_for(e: &AwsError) -> String {
    match e {
        AwsError::Unreachable { .. } => {
            "check the network, the region, or AWS_ENDPOINT_URL".into()
        }
        AwsError::Api { code, .. }
            if code.contains("Signature") || code.contains("Token") || code.contains("Credential") =>
        {
            "the credentials were refused: check AWS_PROFILE / the keys (`aws sts get-caller-identity`)".into()
        }
        AwsError::Api { code, .. } if code.contains("AccessDenied") => {
            "the credentials lack a permission: see docs/codebuild.md for the IAM actions dockui calls".into()
        }
        _ => "see docs/codebuild.md".into(),
    }
}

/// Build args as CodeBuild environment variables. `ssm:NAME` / `secretsmanager:ARN` values become
/// Parameter Store / Secrets Manager references (CodeBuild resolves and masks them); a secret-looking name
/// with a literal value is refused, since CodeBuild would show it in the build's environment.
pub fn build_arg_env(args: &BTreeMap<String, String>) -> Result<Vec<api::EnvVar>, String> {
    let mut out = Vec::new();
    for (name, value) in args {
        let ident = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(format!(
                "build arg {name:?}: CodeBuild passes build args as environment variables, so the name must be \
                 letters, digits and underscores"
            ));
        }
        let (kind, value) = if let Some(p) = value.strip_prefix("ssm:") {
            (api::EnvKind::ParameterStore, p.to_string())
        } else if let Some(s) = value.strip_prefix("secretsmanager:") {
            (api::EnvKind::SecretsManager, s.to_string())
        } else if crate::analyze::rules::secrets::looks_secret(name) && !value.is_empty() {
            return Err(format!(
                "build arg {name} looks secret: CodeBuild would show its value in the build's environment. \
                 Store it in SSM Parameter Store (`aws ssm put-parameter --type SecureString --name /dockui/{name} ...`) \
                 and pass --build-arg {name}=ssm:/dockui/{name} (or secretsmanager:ARN)"
            ));
        } else {
            (api::EnvKind::Plaintext, value.clone())
        };
        out.push(api::EnvVar {
            name: format!("DOCKUI_ARG_{name}"),
            value,
            kind,
        });
    }
    Ok(out)
}

/// The DOCKUI_* variables of one build (see `buildspec`).
pub fn build_env(spec: &BuildSpec) -> Result<Vec<api::EnvVar>, String> {
    let (repo, tag) = spec
        .tag
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .unwrap_or((spec.tag.as_str(), "latest"));
    if repo.starts_with("dockui-local/") || !repo.contains('/') && !repo.contains('.') {
        return Err(format!(
            "{repo} is a local name: a CodeBuild build must push its image to a registry. Set [build] image to \
             a registry repository (e.g. <account>.dkr.ecr.<region>.amazonaws.com/app) or pass -t REGISTRY/REPO:TAG"
        ));
    }
    let plain = |name: &str, value: String| api::EnvVar {
        name: name.into(),
        value,
        kind: api::EnvKind::Plaintext,
    };
    let mut env = vec![
        plain("DOCKUI_IMAGE_REPO", repo.to_string()),
        plain("DOCKUI_IMAGE_TAG", tag.to_string()),
        plain("DOCKUI_EXTRA_TAGS", spec.extra_tags.join(" ")),
        plain("DOCKUI_DOCKERFILE", spec.dockerfile.display().to_string()),
        plain("DOCKUI_TARGET", spec.target.clone()),
        plain(
            "DOCKUI_BUILD_ARGS",
            spec.args.keys().cloned().collect::<Vec<_>>().join(" "),
        ),
    ];
    env.extend(build_arg_env(&spec.args)?);
    // CodeBuild wants a value for every variable; the buildspec reads unset ones as empty.
    env.retain(|e| !e.value.is_empty());
    Ok(env)
}

/// What the port needs beyond the client: the project, bucket and overrides decided before the build.
#[derive(Debug, Clone)]
pub struct Target {
    pub project: String,
    pub bucket: String,
    pub compute_type: Option<String>,
    pub timeout_minutes: u64,
    /// The generated buildspec, when the project has none.
    pub buildspec: Option<String>,
    pub poll: Duration,
    /// `<state dir>/codebuild.jsonl`.
    pub records: PathBuf,
}

/// CodeBuild behind the builder port: `build` packs, uploads, starts and follows; it runs no containers
/// (the smoke tests are in the buildspec) and pushes from the build itself.
#[derive(Clone)]
pub struct CodeBuildPort {
    pub client: AwsClient,
    pub target: Target,
    /// The TUI's question: the cost warning shown by the first `build`, which then does not start; the
    /// next `build` (the user pressed `b` again) goes ahead. None: no question (headless asked already).
    confirm_text: Option<Vec<String>>,
    confirmed: Arc<std::sync::atomic::AtomicBool>,
    /// A dropped build (the TUI's `c`) is stopped in the cloud from a background task; the headless front
    /// end calls `stop_active` itself and waits for it.
    stop_on_drop: bool,
    /// The build running now: stopped (StopBuild) when dockui is cancelled.
    active: Arc<Mutex<Option<String>>>,
    /// The last build that ran (for the result: its CodeBuild id and duration).
    last: Arc<Mutex<Option<api::Build>>>,
    /// The last build's id, also when following it failed.
    last_id: Arc<Mutex<Option<String>>>,
}

impl CodeBuildPort {
    pub fn new(client: AwsClient, target: Target) -> Self {
        CodeBuildPort {
            client,
            target,
            confirm_text: None,
            confirmed: Default::default(),
            stop_on_drop: false,
            active: Default::default(),
            last: Default::default(),
            last_id: Default::default(),
        }
    }

    /// For an interactive front end: ask (show `warning`, start nothing) on the first build, and stop a
    /// cancelled build by itself.
    pub fn interactive(mut self, warning: Option<Vec<String>>) -> Self {
        self.confirm_text = warning;
        self.stop_on_drop = true;
        self
    }

    pub fn last_build(&self) -> Option<api::Build> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    pub fn last_build_id(&self) -> Option<String> {
        self.last_id.lock().ok().and_then(|l| l.clone())
    }

    /// Stop the build that is still running (after a cancel); its id.
    pub async fn stop_active(&self) -> Option<Result<String, AwsError>> {
        let id = self.active.lock().ok()?.take()?;
        Some(api::stop_build(&self.client, &id).await.map(|_| id))
    }

    fn record(&self, b: &api::Build) {
        cost::append_record(
            &self.target.records,
            &cost::Record {
                build_id: b.id.clone(),
                project: self.target.project.clone(),
                region: self.client.env.region.clone(),
                compute_type: b.compute_type.clone(),
                status: b.status.clone(),
                duration_s: b.complete.then(|| b.duration_s()).flatten(),
            },
        );
    }

    /// Pack, upload and start; the build as StartBuild answered.
    pub async fn start(
        &self,
        spec: &BuildSpec,
        events: &UnboundedSender<BuildEvent>,
    ) -> Result<api::Build, DockerError> {
        let say = |l: String| {
            let _ = events.send(BuildEvent::Line(l));
        };
        let env = build_env(spec).map_err(DockerError::Context)?;
        let dir = tempfile::tempdir().map_err(|e| DockerError::Other(e.to_string()))?;
        let zip = dir.path().join("context.zip");
        let (root, dockerfile, out) = (
            spec.context_dir.clone(),
            spec.dockerfile.clone(),
            zip.clone(),
        );
        let packed =
            tokio::task::spawn_blocking(move || pack::pack_context(&root, &dockerfile, &out))
                .await
                .map_err(|e| DockerError::Other(e.to_string()))?
                .map_err(|e| {
                    DockerError::Context(format!(
                        "cannot pack the build context {}: {e}",
                        spec.context_dir.display()
                    ))
                })?;
        say(format!(
            "codebuild: packed {} files ({} kB zipped, {} excluded by .dockerignore)",
            packed.stats.files,
            packed.bytes.div_ceil(1000),
            packed.stats.excluded
        ));
        let key = format!(
            "dockui/{}/{}.zip",
            self.target.project,
            &packed.sha256[..16]
        );
        self.client
            .s3_put_file(&self.target.bucket, &key, &zip)
            .await
            .map_err(|e| aws_to_docker(e, "upload the build context"))?;
        say(format!(
            "codebuild: uploaded s3://{}/{key}",
            self.target.bucket
        ));
        let req = api::StartBuild {
            project: self.target.project.clone(),
            source_location: format!("{}/{key}", self.target.bucket),
            env,
            buildspec: self.target.buildspec.clone(),
            compute_type: self.target.compute_type.clone(),
            timeout_minutes: self.target.timeout_minutes,
        };
        let build = api::start_build(&self.client, &req)
            .await
            .map_err(|e| aws_to_docker(e, "start the build"))?;
        if let Ok(mut a) = self.last_id.lock() {
            *a = Some(build.id.clone());
        }
        self.record(&build);
        say(format!("codebuild: started build {}", build.id));
        Ok(build)
    }
}

/// A port for an interactive front end (and for the builder selection's `open`): the project looked up,
/// the buildspec dockui would send when the project has none (not written), and the cost question asked by
/// the first `build` (unless `[codebuild] confirm = false`). Safe to call inside a runtime.
pub fn interactive_port(
    config: &crate::config::Config,
    project_dir: &std::path::Path,
    records: PathBuf,
) -> Result<CodeBuildPort, String> {
    let cfg = config.codebuild.clone();
    if cfg.project.is_empty() {
        return Err("no CodeBuild project configured ([codebuild] project is empty)".into());
    }
    let client = connect(&cfg).map_err(|e| e.to_string())?;
    let lookup = {
        let (client, name) = (client.clone(), cfg.project.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    rt.block_on(api::project(&client, &name))
                        .map_err(|e| format!("{e}; {}", what_to_do_for(&e)))
                })
        })
        .join()
        .map_err(|_| "the CodeBuild project lookup panicked".to_string())?
    };
    let project = lookup?.ok_or_else(|| {
        format!(
            "no CodeBuild project {} in {}",
            cfg.project, client.env.region
        )
    })?;
    let compute_type = Some(cfg.compute_type.clone())
        .filter(|c| !c.is_empty())
        .or_else(|| Some(project.compute_type.clone()).filter(|c| !c.is_empty()))
        .unwrap_or_else(|| cost::prices().default_compute_type);
    let proposed = (project.buildspec.trim().is_empty()
        && !project_dir.join(buildspec::FILE).exists())
    .then(|| {
        let smoke = crate::engine::smoke::plan(
            project_dir,
            &config.smoke.commands,
            config.smoke.infer,
            false,
        );
        buildspec::generate(&smoke)
    });
    let estimate = cost::estimate(
        &compute_type,
        &cost::past_durations(&records, &project.name),
    );
    let mut warning: Vec<String> = estimate
        .warning(&project.name, &client.env.region)
        .lines()
        .map(str::to_string)
        .collect();
    if let Some(text) = &proposed {
        warning.push(format!(
            "The project has no buildspec: dockui sends this one (not written to {}):",
            buildspec::FILE
        ));
        warning.extend(
            crate::fix::proposal::unified(std::path::Path::new(buildspec::FILE), "", text)
                .lines()
                .map(str::to_string),
        );
    }
    let target = Target {
        project: project.name.clone(),
        bucket: cfg.bucket(&client.env.region),
        compute_type: Some(compute_type).filter(|c| *c != project.compute_type),
        timeout_minutes: cfg.timeout_minutes(),
        buildspec: proposed,
        poll: Duration::from_millis(cfg.poll_ms),
        records,
    };
    Ok(CodeBuildPort::new(client, target).interactive(cfg.confirm.then_some(warning)))
}

/// CodeBuild as a candidate of the builder selection (`--backend auto|codebuild`, `dockui doctor`).
pub fn plugin() -> crate::builder::select::Plugin {
    crate::builder::select::Plugin {
        probe: |config, _env, base| {
            Box::pin(async move {
                let p = probe_async(&config).await;
                let client = connect(&config.codebuild).ok();
                let endpoint = client
                    .as_ref()
                    .map(|c| format!("codebuild://{}@{}", config.codebuild.project, c.env.region))
                    .unwrap_or_default();
                // As the port's `endpoint_json` says it.
                let tls = client.map(|c| {
                    c.env
                        .endpoint(aws::Service::CodeBuild)
                        .starts_with("https:")
                });
                crate::builder::select::Probe {
                    backend: BackendKind::Codebuild,
                    endpoint,
                    // The last resort of `auto`: never stops the walk.
                    explicit: false,
                    available: true,
                    reachable: p.reachable,
                    version: p.reachable.then(|| "AWS CodeBuild".to_string()),
                    why_not: (!p.reachable).then_some(p.why_not),
                    what_to_do: (!p.reachable).then_some(p.what_to_do),
                    tls,
                    ..base
                }
            })
        },
        open: |config, _probe| {
            let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            let records = crate::paths::Paths::discover()
                .state_dir
                .join("codebuild.jsonl");
            interactive_port(config, &dir, records).map(|p| Arc::new(p) as Arc<dyn BuilderPort>)
        },
    }
}

fn aws_to_docker(e: AwsError, doing: &str) -> DockerError {
    match &e {
        AwsError::Unreachable { endpoint, .. } => DockerError::Unreachable {
            endpoint: endpoint.clone(),
            reason: format!("cannot {doing}: {e}; {}", what_to_do_for(&e)),
        },
        AwsError::Api { .. } => {
            DockerError::Context(format!("cannot {doing}: {e}; {}", what_to_do_for(&e)))
        }
        AwsError::Other(m) => DockerError::Other(format!("cannot {doing}: {m}")),
    }
}

/// Follow a build until it completes: each phase once as it ends, every log line as CloudWatch has it.
pub async fn follow(
    client: &AwsClient,
    id: &str,
    poll: Duration,
    mut on_line: impl FnMut(String),
) -> Result<api::Build, AwsError> {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let build = api::get_build(client, id).await?.ok_or_else(|| {
            AwsError::Other(format!(
                "no CodeBuild build {id} in {} (is the region right?)",
                client.env.region
            ))
        })?;
        for p in &build.phases {
            if p.status.is_empty() && p.kind != build.current_phase {
                continue;
            }
            if seen.insert((p.kind.clone(), p.status.clone())) {
                let took = p
                    .duration_s
                    .map(|d| format!(" ({})", cost::human_duration(d)))
                    .unwrap_or_default();
                let status = if p.status.is_empty() {
                    "IN_PROGRESS"
                } else {
                    &p.status
                };
                on_line(format!("codebuild: phase {} {status}{took}", p.kind));
                for m in &p.messages {
                    on_line(format!("codebuild: {}: {m}", p.kind));
                }
            }
        }
        // Drain what the log has now: pages until the token stops moving.
        for _ in 0..100 {
            let (lines, next) = api::log_page(
                client,
                &build.log_group,
                &build.log_stream,
                token.as_deref(),
            )
            .await?;
            let moved = next != token;
            token = next;
            let empty = lines.is_empty();
            lines.into_iter().for_each(&mut on_line);
            if empty || !moved {
                break;
            }
        }
        if build.complete {
            return Ok(build);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Clears the active build when the build future ends normally; when it is dropped (cancel) the id stays
/// for `stop_active`, or (interactive) a background task stops it.
struct Active<'a> {
    active: &'a Mutex<Option<String>>,
    finished: bool,
    stop_with: Option<&'a AwsClient>,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if self.finished {
            if let Ok(mut a) = self.active.lock() {
                *a = None;
            }
            return;
        }
        if let (Some(client), Ok(handle)) = (self.stop_with, tokio::runtime::Handle::try_current())
            && let Some(id) = self.active.lock().ok().and_then(|mut a| a.take())
        {
            let client = client.clone();
            handle.spawn(async move {
                match api::stop_build(&client, &id).await {
                    Ok(()) => log::info!("stopped CodeBuild build {id} after a cancel"),
                    Err(e) => log::warn!("could not stop CodeBuild build {id}: {e}"),
                }
            });
        }
    }
}

impl BuilderPort for CodeBuildPort {
    fn build_question(&self) -> Option<Vec<String>> {
        let asked = self.confirmed.load(std::sync::atomic::Ordering::SeqCst);
        self.confirm_text.clone().filter(|_| !asked)
    }

    fn confirm_build(&self) {
        self.confirmed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn endpoint(&self) -> String {
        format!(
            "codebuild://{}@{}",
            self.target.project, self.client.env.region
        )
    }

    fn endpoint_json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint(),
            "context": null,
            "source": "[codebuild] project",
            "tls": self.client.env.endpoint(aws::Service::CodeBuild).starts_with("https:"),
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
        Box::pin(async move {
            match api::project(&self.client, &self.target.project).await {
                Ok(Some(_)) => Ok(EngineInfo {
                    endpoint: self.endpoint(),
                    context: None,
                    version: "AWS CodeBuild".into(),
                    api_version: "2016-10-06".into(),
                }),
                Ok(None) => Err(DockerError::Unreachable {
                    endpoint: self.endpoint(),
                    reason: format!("no CodeBuild project {}", self.target.project),
                }),
                Err(e) => Err(aws_to_docker(e, "reach CodeBuild")),
            }
        })
    }

    fn build(
        &self,
        spec: BuildSpec,
        events: UnboundedSender<BuildEvent>,
    ) -> BoxFuture<'_, Result<String, DockerError>> {
        Box::pin(async move {
            if let Some(text) = &self.confirm_text
                && !self
                    .confirmed
                    .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                for l in text {
                    let _ = events.send(BuildEvent::Line(l.clone()));
                }
                return Err(DockerError::Context(
                    "not started: a CodeBuild build costs money (above); press b again to start it"
                        .into(),
                ));
            }
            let started = self.start(&spec, &events).await?;
            if let Ok(mut a) = self.active.lock() {
                *a = Some(started.id.clone());
            }
            let mut guard = Active {
                active: &self.active,
                finished: false,
                stop_with: self.stop_on_drop.then_some(&self.client),
            };
            let mut digest = None;
            let followed = follow(&self.client, &started.id, self.target.poll, |l| {
                if let Some(d) = buildspec::pushed_digest(&l) {
                    digest = Some(d);
                }
                let _ = events.send(BuildEvent::Line(l));
            })
            .await;
            guard.finished = true;
            drop(guard);
            let build = followed.map_err(|e| aws_to_docker(e, "follow the build"))?;
            self.record(&build);
            if let Ok(mut l) = self.last.lock() {
                *l = Some(build.clone());
            }
            if build.succeeded() {
                return Ok(digest.unwrap_or_else(|| spec.tag.clone()));
            }
            let failed = build
                .phases
                .iter()
                .rev()
                .find(|p| !p.status.is_empty() && p.status != "SUCCEEDED");
            let message = match failed {
                Some(p) => format!(
                    "CodeBuild build {} {} in phase {}{}",
                    build.id,
                    build.status,
                    p.kind,
                    p.messages
                        .first()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                ),
                None => format!("CodeBuild build {} {}", build.id, build.status),
            };
            Err(DockerError::BuildFailed { message })
        })
    }

    fn inspect_image<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>> {
        Box::pin(async move {
            Err(DockerError::Other(format!(
                "{reference}: CodeBuild builds in the cloud and has no local images (dockui's offline stand-in \
                 bases work only with a local engine)"
            )))
        })
    }

    fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>> {
        Box::pin(async { Ok(BTreeMap::new()) })
    }

    fn run_once(&self, _spec: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>> {
        Box::pin(async {
            Err(DockerError::Other(
                "CodeBuild runs no containers for dockui: the smoke tests run in the buildspec"
                    .into(),
            ))
        })
    }

    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, DockerError>> {
        Box::pin(async {
            Ok(Capabilities {
                kind: BackendKind::Codebuild,
                buildkit: true,
                cache_export: Vec::new(),
                cache_import: Vec::new(),
                platforms: vec!["linux/amd64".into()],
                platforms_from: String::new(),
                multi_platform: false,
                run: false,
                push_in_build: true,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_become_env_and_literal_secrets_are_refused() {
        let args = BTreeMap::from([
            ("PY".to_string(), "3.11".to_string()),
            ("HF_TOKEN".to_string(), "ssm:/team/hf".to_string()),
            ("DB".to_string(), "secretsmanager:arn:aws:x".to_string()),
        ]);
        let env = build_arg_env(&args).unwrap();
        let find = |n: &str| env.iter().find(|e| e.name == n).unwrap();
        assert_eq!(find("DOCKUI_ARG_PY").kind, api::EnvKind::Plaintext);
        assert_eq!(
            find("DOCKUI_ARG_HF_TOKEN").kind,
            api::EnvKind::ParameterStore
        );
        assert_eq!(find("DOCKUI_ARG_HF_TOKEN").value, "/team/hf");
        assert_eq!(find("DOCKUI_ARG_DB").kind, api::EnvKind::SecretsManager);
        let literal = BTreeMap::from([("HF_TOKEN".to_string(), "hf_abcdefgh".to_string())]);
        let e = build_arg_env(&literal).unwrap_err();
        assert!(e.contains("ssm:") && !e.contains("hf_abcdefgh"), "{e}");
        let bad = BTreeMap::from([("A-B".to_string(), "1".to_string())]);
        assert!(build_arg_env(&bad).is_err());
    }

    #[test]
    fn build_env_needs_a_registry_repository() {
        let mut spec = BuildSpec {
            tag: "dockui-local/app:latest".into(),
            dockerfile: "Dockerfile".into(),
            ..Default::default()
        };
        assert!(build_env(&spec).unwrap_err().contains("registry"));
        spec.tag = "123.dkr.ecr.eu-west-1.amazonaws.com/app:v1".into();
        spec.extra_tags = vec!["123.dkr.ecr.eu-west-1.amazonaws.com/app:latest".into()];
        let env = build_env(&spec).unwrap();
        let get = |n: &str| env.iter().find(|e| e.name == n).unwrap().value.clone();
        assert_eq!(
            get("DOCKUI_IMAGE_REPO"),
            "123.dkr.ecr.eu-west-1.amazonaws.com/app"
        );
        assert_eq!(get("DOCKUI_IMAGE_TAG"), "v1");
        assert_eq!(
            get("DOCKUI_EXTRA_TAGS"),
            "123.dkr.ecr.eu-west-1.amazonaws.com/app:latest"
        );
        spec.tag = "127.0.0.1:5000/app".into();
        assert_eq!(build_env(&spec).unwrap()[1].value, "latest");
    }
}
