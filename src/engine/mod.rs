//! The background engine: owns the jobs (analysis, builds), talks to the ports, and reports owned events.
//! Front ends (TUI, headless) send `Command`s and fold `EngineEvent`s into their own state.

pub mod build;
pub mod cache_break;
pub mod clock;
pub mod failure_fix;
pub mod gpu;
pub mod history;
pub mod image_job;
pub mod mask;
pub mod plan_job;
pub mod platforms;
pub mod push;
pub mod retry;
pub mod smoke;
pub mod tags;

use crate::analyze::{self, Analysis, AnalyzeOptions};
use crate::config::Config;
use crate::docker::{DockerError, DockerPort, EngineInfo};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

pub use build::{AttemptRecord, AttemptStatus, BuildOutcome, BuildRequest};

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Analyze,
    Build,
    /// The user said yes to the builder's question (`EngineEvent::BuildQuestion`): build now.
    ConfirmBuild,
    Cancel,
    /// List past builds.
    History,
    /// Answer to `AskRetry`: true retries the waiting build, false ends it.
    Retry(bool),
    /// The host's GPUs changed (from the GPU poller): re-analyse with them.
    SetHost(Option<crate::analyze::HostGpu>),
    /// Copy an attempt's log file into the project directory.
    SaveLog(PathBuf),
    /// Push this image (the last build's) and check its digests.
    Push(String),
    /// Push the image of this project's last successful build from the history (e.g. after a restart).
    PushLatest,
    /// Re-read the configuration (the user file and `.dockui.toml`), then analyse again.
    Reload,
    /// Write reviewed fixes: (file relative to the project, new text, the text the review was made from).
    WriteFixes(Vec<(PathBuf, String, String)>),
    /// Inspect an image, read a tag's push history, roll a tag back (`image_job`).
    Image(image_job::ImageCommand),
    /// Plan the fixes for a front end's review (`plan_job`); answered with `EngineEvent::Planned`.
    Plan(Box<plan_job::PlanRequest>),
}

#[derive(Debug, Clone)]
pub enum EngineEvent {
    Engine(Result<EngineInfo, DockerError>),
    /// What the builder is (kind, endpoint, docker context), once it answered or failed to.
    Backend(crate::builder::BackendInfo),
    /// A changed GPU snapshot from the GPU polling job.
    Gpu(Box<crate::gpu::GpuState>),
    Analysis(Result<Analysis, String>),
    BuildStarted {
        build_id: String,
        attempt: u32,
        max_attempts: u32,
        /// This attempt's log file (every line, raw).
        log_path: PathBuf,
        /// The platform this attempt builds, in a multi-platform build on an engine that builds one at a time.
        platform: Option<String>,
    },
    BuildStep {
        current: u32,
        total: u32,
    },
    /// Log lines arrive in batches so a chatty build costs one UI update per batch, not per line.
    BuildLog(Vec<String>),
    BuildFinished(Box<BuildOutcome>),
    /// Smoke tests about to run, by name.
    SmokeStarted(Vec<String>),
    Smoke(Box<smoke::SmokeResult>),
    /// A failed attempt matched a failure signature.
    Diagnosis(Box<crate::classify::Diagnosis>),
    History(Vec<history::BuildSummary>),
    PushProgress(crate::docker::push::PushProgress),
    PushFinished(Box<crate::registry::report::PushReport>),
    /// A failed attempt has fixes to review (auto_fix = "off"): the build waits for `Command::Retry`.
    AskRetry {
        rules: Vec<String>,
    },
    /// Reviewed fixes were written (files), or why not.
    FixesWritten(Result<Vec<PathBuf>, String>),
    /// Something the user should read (e.g. "a build is already running").
    Notice(String),
    /// The builder asks before it builds (a cloud build's cost): the front end answers with
    /// `Command::ConfirmBuild`, or does nothing.
    BuildQuestion(Vec<String>),
    /// The analysis options changed (the configuration was re-read, or the host's GPUs changed): front ends
    /// that plan fixes themselves (the TUI's review) use these from now on.
    Options(Box<AnalyzeOptions>),
    /// Answers to `Command::Image`.
    Image(image_job::ImageEvent),
    /// Before a build: the first step that will miss the previous build's cache, and why (None: none known).
    CacheBreak(Option<Box<cache_break::CacheBreak>>),
    /// The answer to `Command::Plan`.
    Planned(Box<plan_job::Planned>),
}

/// Everything a job needs, cloned into each job.
#[derive(Clone)]
pub struct EngineContext {
    /// The builder port: every build, smoke test, tag and push goes through it.
    pub docker: Arc<dyn DockerPort>,
    pub project_dir: PathBuf,
    pub config: Config,
    pub paths: crate::paths::Paths,
    /// The host's GPUs (from NVML) for host-aware checks and GPU smoke tests; None without GPUs.
    pub host: Option<crate::analyze::HostGpu>,
    /// The user config file named with `--config`, re-read by `Command::Reload` (None: the default one).
    pub config_file: Option<PathBuf>,
}

impl EngineContext {
    pub fn analyze_options(&self) -> AnalyzeOptions {
        let mut opts = self.config.analyze_options(&self.paths);
        opts.host = self.host.clone();
        opts
    }

    pub fn build_request(&self) -> BuildRequest {
        BuildRequest::for_host(
            &self.project_dir,
            &self.config,
            &self.paths,
            self.host.clone(),
        )
    }
}

pub struct EngineHandle {
    pub commands: UnboundedSender<Command>,
    pub events: UnboundedReceiver<EngineEvent>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl EngineHandle {
    /// Cancel whatever runs and wait (bounded) until builds have stopped, so nothing keeps building after exit.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), self.task).await;
    }
}

/// Start the engine on the current tokio runtime.
pub fn spawn(ctx: EngineContext) -> EngineHandle {
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let (ev_tx, ev_rx) = unbounded_channel();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run(ctx, cmd_rx, ev_tx, shutdown.clone()));
    EngineHandle {
        commands: cmd_tx,
        events: ev_rx,
        shutdown,
        task,
    }
}

async fn run(
    mut ctx: EngineContext,
    mut commands: UnboundedReceiver<Command>,
    events: UnboundedSender<EngineEvent>,
    shutdown: CancellationToken,
) {
    {
        let docker = ctx.docker.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let _ = events.send(EngineEvent::Engine(docker.ping().await));
            let backend = crate::builder::BackendInfo::of(docker.as_ref()).await;
            let _ = events.send(EngineEvent::Backend(backend));
        });
    }
    spawn_analysis(&ctx, &events);
    // GPU polling is a job of the engine's: it stops with the engine.
    let (gpu_tx, mut gpu_rx) = unbounded_channel();
    let _gpu = gpu::spawn(
        Some(&ctx.config.gpu.nvml_lib)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        std::time::Duration::from_millis(ctx.config.gpu.poll_ms.max(100)),
        ctx.docker.clone(),
        gpu_tx,
        shutdown.child_token(),
    );
    let mut build: Option<(CancellationToken, tokio::task::JoinHandle<()>)> = None;
    let mut push: Option<tokio::task::JoinHandle<()>> = None;
    let mut image_jobs = image_job::Jobs::default();
    let mut plan_jobs = plan_job::Jobs::default();
    // Where the user's answer to an AskRetry goes (the running build's).
    let mut answers: Option<tokio::sync::mpsc::UnboundedSender<bool>> = None;
    loop {
        let cmd = tokio::select! {
            _ = shutdown.cancelled() => break,
            cmd = commands.recv() => match cmd { Some(c) => c, None => break },
            Some(state) = gpu_rx.recv() => {
                // Host-aware checks follow the GPUs NVML reports.
                let host = crate::gpu::host::host_gpu(&state);
                let _ = events.send(EngineEvent::Gpu(Box::new(state)));
                Command::SetHost(host)
            }
        };
        let cmd = match cmd {
            Command::PushLatest => {
                let repository = ctx.config.build.repository(&ctx.project_dir);
                match history::latest_image(&ctx.paths.builds_dir(), &repository) {
                    Ok(Some(image)) => Command::Push(image),
                    found => {
                        let why = found.err().unwrap_or_else(|| {
                            format!(
                                "no successful build of {repository} in the history - build first (b)"
                            )
                        });
                        let _ = events.send(EngineEvent::PushFinished(Box::new(
                            crate::registry::report::PushReport {
                                image: repository.clone(),
                                error: Some(why.clone()),
                                ..Default::default()
                            },
                        )));
                        let _ = events.send(EngineEvent::Notice(why));
                        continue;
                    }
                }
            }
            Command::Reload => {
                let user = ctx
                    .config_file
                    .clone()
                    .unwrap_or_else(|| ctx.paths.user_config_file());
                let notice = match Config::load(Some(&user), &ctx.project_dir) {
                    Ok((config, sources)) => {
                        ctx.config = config;
                        let files: Vec<String> = sources
                            .files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect();
                        if files.is_empty() {
                            "configuration re-read (defaults: no config file)".to_string()
                        } else {
                            format!("configuration re-read from {}", files.join(", "))
                        }
                    }
                    Err(e) => format!("configuration NOT re-read, the previous one stays: {e}"),
                };
                let _ = events.send(EngineEvent::Notice(notice));
                let _ = events.send(EngineEvent::Options(Box::new(ctx.analyze_options())));
                Command::Analyze
            }
            // A builder with a question (CodeBuild's cost) asks it first; the yes comes back as ConfirmBuild.
            Command::Build => match ctx.docker.build_question() {
                Some(lines) => {
                    let _ = events.send(EngineEvent::BuildQuestion(lines));
                    continue;
                }
                None => Command::Build,
            },
            Command::ConfirmBuild => {
                ctx.docker.confirm_build();
                Command::Build
            }
            other => other,
        };
        match cmd {
            Command::Analyze => spawn_analysis(&ctx, &events),
            Command::Build => {
                if build.as_ref().is_some_and(|(_, h)| !h.is_finished()) {
                    let _ = events.send(EngineEvent::Notice(
                        "a build is already running - press c to cancel it".into(),
                    ));
                    continue;
                }
                let token = shutdown.child_token();
                let (ctx, events, t) = (ctx.clone(), events.clone(), token.clone());
                let (answer_tx, answer_rx) = unbounded_channel();
                answers = Some(answer_tx);
                let handle = tokio::spawn(async move {
                    let req = ctx.build_request();
                    let cache = image_job::cache_break_before(&ctx, &req, &events, &t);
                    // Several platforms: each built on its own (a bad list goes to the engine, which says why).
                    let platforms = platforms::requested(&ctx.config.build).unwrap_or_default();
                    let outcome = if platforms.len() > 1 {
                        platforms::run_multi(ctx.docker.as_ref(), req, &platforms, &events, t).await
                    } else {
                        build::run_build_asking(
                            ctx.docker.as_ref(),
                            req,
                            &events,
                            t,
                            Some(answer_rx),
                        )
                        .await
                    };
                    image_job::record_cache_inputs(&ctx, &cache, &outcome, &events).await;
                    let n = crate::notify::Notification::from_build(&ctx.project_dir, &outcome);
                    let _ = events.send(EngineEvent::BuildFinished(Box::new(outcome)));
                    crate::notify::spawn(&ctx.config.notify, n, notice_sender(&events));
                });
                build = Some((token, handle));
            }
            Command::WriteFixes(writes) => {
                let backups = crate::fix::Backups::new(ctx.paths.backups_dir());
                let mut written = Vec::new();
                let mut errors = Vec::new();
                for (file, new, old) in writes {
                    match crate::fix::validate::checked_write(
                        &ctx.project_dir,
                        &file,
                        &new,
                        &old,
                        &backups,
                    ) {
                        Ok(_) => written.push(file),
                        Err(e) => errors.push(e.to_string()),
                    }
                }
                let result = if errors.is_empty() {
                    Ok(written)
                } else {
                    Err(errors.join("; "))
                };
                let _ = events.send(EngineEvent::FixesWritten(result));
                // Always re-analyse: after a write the findings change; after a refusal the file did.
                spawn_analysis(&ctx, &events);
            }
            Command::Retry(yes) => {
                if let Some(tx) = &answers {
                    let _ = tx.send(yes);
                }
            }
            Command::History => {
                let _ = events.send(EngineEvent::History(history::list(&ctx.paths.builds_dir())));
            }
            Command::SetHost(host) => {
                if ctx.host != host {
                    ctx.host = host;
                    let _ = events.send(EngineEvent::Options(Box::new(ctx.analyze_options())));
                    spawn_analysis(&ctx, &events);
                }
            }
            Command::SaveLog(from) => {
                let name = from
                    .parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let attempt = from
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let to = ctx.project_dir.join(format!("dockui-{name}-{attempt}.log"));
                let notice = match std::fs::read(&from)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        crate::fix::write::replace_file(&to, &b, None).map_err(|e| e.to_string())
                    }) {
                    Ok(()) => format!("saved the log to {}", to.display()),
                    Err(e) => format!("cannot save the log: {e}"),
                };
                let _ = events.send(EngineEvent::Notice(notice));
            }
            Command::Push(source) => {
                if push.as_ref().is_some_and(|h| !h.is_finished()) {
                    let _ = events.send(EngineEvent::Notice("a push is already running".into()));
                    continue;
                }
                let (ctx, events, token) = (ctx.clone(), events.clone(), shutdown.child_token());
                push = Some(tokio::spawn(async move {
                    let (tx, mut rx) = unbounded_channel();
                    let forward = {
                        let events = events.clone();
                        tokio::spawn(async move {
                            while let Some(p) = rx.recv().await {
                                let _ = events.send(EngineEvent::PushProgress(p));
                            }
                        })
                    };
                    // The TUI asked the user before sending a smoke-failed image (its confirmation is the
                    // force); the history lets the report mark such a push.
                    let opts = push::PushOptions {
                        force: true,
                        builds_dir: Some(ctx.paths.builds_dir()),
                        tags: Vec::new(),
                        platforms: Vec::new(),
                    };
                    let job = push::run_with(
                        ctx.docker.as_ref(),
                        &ctx.config,
                        Some(&ctx.project_dir),
                        &source,
                        &opts,
                        tx,
                    );
                    // Dropping the job cancels the push (the engine's HTTP request goes away).
                    tokio::select! {
                        report = job => {
                            let _ = forward.await;
                            let n = crate::notify::Notification::from_push(Some(&ctx.project_dir), &report);
                            let history = crate::registry::rollback::history_dir(&ctx.paths.data_dir);
                            if let Err(e) = crate::registry::rollback::record_push(&history, &report) {
                                let _ = events.send(EngineEvent::Notice(format!("cannot record the push for rollback: {e}")));
                            }
                            let _ = events.send(EngineEvent::PushFinished(Box::new(report)));
                            crate::notify::spawn(&ctx.config.notify, n, notice_sender(&events));
                        }
                        _ = token.cancelled() => {}
                    }
                }));
            }
            Command::Cancel => {
                if let Some((token, _)) = &build {
                    token.cancel();
                }
            }
            Command::Image(c) => image_job::handle(&ctx, c, &events, &mut image_jobs, &shutdown),
            Command::Plan(req) => {
                plan_job::handle(&ctx.project_dir, *req, &events, &mut plan_jobs, &shutdown)
            }
            // Turned into Push / Analyze / Build above.
            Command::PushLatest | Command::Reload | Command::ConfirmBuild => {}
        }
    }
    if let Some((token, handle)) = build {
        token.cancel();
        let _ = handle.await;
    }
}

/// Where a background job's failure to notify goes: a notice for the status line.
fn notice_sender(events: &UnboundedSender<EngineEvent>) -> impl FnOnce(String) + Send + 'static {
    let events = events.clone();
    move |msg| {
        let _ = events.send(EngineEvent::Notice(msg));
    }
}

fn spawn_analysis(ctx: &EngineContext, events: &UnboundedSender<EngineEvent>) {
    let (dir, opts, events) = (
        ctx.project_dir.clone(),
        ctx.analyze_options(),
        events.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let result = analyze::analyze_project(&dir, &opts).map_err(|e| e.to_string());
        let _ = events.send(EngineEvent::Analysis(result));
    });
}
