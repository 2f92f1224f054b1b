//! One build: attempts against the Docker port, every line kept in a per-attempt log file, batched to the UI.

use super::retry::{Decision, Stop};
use super::smoke::{self, SmokeCheck, SmokeResult, SmokeStatus};
use super::{EngineEvent, clock};
use crate::analyze::{self, AnalyzeOptions, FixLevel};
use crate::classify::{self, Diagnosis};
use crate::config::Config;
use crate::docker::{BuildEvent, BuildSpec, DockerError, DockerPort, standin};
use crate::fix::Backups;
use crate::paths::Paths;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

const BATCH_INTERVAL: Duration = Duration::from_millis(50);
const BATCH_MAX: usize = 2000;

#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub spec: BuildSpec,
    pub max_attempts: u32,
    pub builds_dir: PathBuf,
    /// The project, re-analysed after a failure to find the fixes that cure it.
    pub project_dir: PathBuf,
    pub analyze: AnalyzeOptions,
    /// None: apply nothing between attempts.
    pub auto_fix: Option<FixLevel>,
    pub backups: Backups,
    pub smoke: Vec<SmokeCheck>,
    pub smoke_timeout: Duration,
    /// One platform of a multi-platform build (`run_multi`): recorded in the history so that `push DIR` never
    /// takes this platform's image (`repo:tag-<arch>`) for the project's image.
    pub platform_of: Option<String>,
}

impl BuildRequest {
    pub fn from_config(project_dir: &Path, config: &Config, paths: &Paths) -> BuildRequest {
        Self::for_host(project_dir, config, paths, None)
    }

    /// With the host's GPUs: the re-analysis between attempts uses them (host-aware checks), and the smoke
    /// tests request GPUs and add the torch CUDA check.
    pub fn for_host(
        project_dir: &Path,
        config: &Config,
        paths: &Paths,
        host: Option<crate::analyze::HostGpu>,
    ) -> BuildRequest {
        let b = &config.build;
        let host_has_gpus = host.is_some();
        let mut analyze = config.analyze_options(paths);
        analyze.host = host;
        BuildRequest {
            spec: BuildSpec {
                context_dir: project_dir.to_path_buf(),
                dockerfile: PathBuf::from(&b.dockerfile),
                tag: format!(
                    "{}:{}",
                    b.repository(project_dir),
                    super::tags::resolve(&b.tag, project_dir)
                ),
                args: b.args.clone(),
                labels: b.labels.clone(),
                target: b.target.clone(),
                platform: b.platform.clone(),
                no_cache: b.no_cache,
                pull: b.pull,
                builder: b.builder_kind(),
                network: b.network.clone(),
                extra_tags: Vec::new(),
                cache_from: b.cache_from.clone(),
                cache_to: b.cache_to.clone(),
                push: false,
            },
            max_attempts: b.max_attempts.max(1),
            builds_dir: paths.builds_dir(),
            project_dir: project_dir.to_path_buf(),
            analyze,
            auto_fix: b.auto_fix_level(),
            backups: Backups::new(paths.backups_dir()),
            smoke: smoke::plan(
                project_dir,
                &config.smoke.commands,
                config.smoke.infer,
                host_has_gpus,
            ),
            smoke_timeout: Duration::from_secs(config.smoke.timeout_s.max(1)),
            platform_of: None,
        }
    }

    pub fn with_args(mut self, args: BTreeMap<String, String>) -> Self {
        self.spec.args.extend(args);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptStatus {
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub status: AttemptStatus,
    pub duration_s: f64,
    pub log_path: PathBuf,
    pub error: Option<String>,
    /// What the failure was, when a signature matched.
    pub diagnosis: Option<Diagnosis>,
    /// Smoke tests run after this attempt's build.
    pub smoke: Vec<SmokeResult>,
    /// Fixes applied after this attempt, before the next one ("RULE file:line", or a failure fix's id).
    pub fixes_applied: Vec<String>,
    /// Fixes aimed at this attempt's failing step (no static finding covered the failure): what each does,
    /// why, and whether it was applied (per `auto_fix`) before the next attempt.
    pub fixes: Vec<super::failure_fix::FailureFix>,
    /// The platform this attempt built (a multi-platform build's attempts, one platform after another).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// The result object of `dockui build --format json`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct BuildOutcome {
    pub build_id: String,
    pub success: bool,
    pub cancelled: bool,
    pub image: String,
    /// Tags the image got (`tag = "auto"` resolves to the git tag, commit or a timestamp).
    pub tags: Vec<String>,
    pub image_id: Option<String>,
    pub build_time_s: f64,
    pub attempts: Vec<AttemptRecord>,
    pub fixes_applied: Vec<String>,
    /// The last attempt's smoke tests.
    pub smoke: Vec<SmokeResult>,
    /// The last attempt's log.
    pub log_path: PathBuf,
    pub error: Option<String>,
    /// True when the engine could not be reached at all (exit code 2 headless).
    #[serde(skip)]
    pub engine_unreachable: bool,
    /// Built on dockui's offline stand-in base (busybox + shims): the smoke results show the Dockerfile's steps
    /// ran, not that the real base image works.
    pub standin: bool,
    /// Every reference the image got (`-t` may give several).
    pub references: Vec<String>,
    /// Where it was built: the builder's kind, endpoint and docker context.
    pub backend: Option<crate::builder::BackendInfo>,
    /// Why the smoke tests did not run although some were planned (the builder cannot run containers).
    pub smoke_skipped: Option<String>,
    /// A multi-platform build: each platform's own image (`repo:tag-<arch>`) and result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<super::platforms::PlatformBuild>,
    /// This build is one platform (`linux/arm64`) of a multi-platform build, whose own entry lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_of: Option<String>,
}

impl BuildOutcome {
    /// One word for status lines: built, cancelled or failed.
    pub fn verdict(&self) -> &'static str {
        if self.success {
            "built"
        } else if self.cancelled {
            "cancelled"
        } else {
            "failed"
        }
    }
}

pub(crate) fn new_build_id() -> String {
    // Timestamp plus a per-process counter and pid: unique across concurrent dockui processes.
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}-{}",
        clock::utc_stamp(SystemTime::now()),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Run the build with up to `max_attempts` attempts. Never panics on engine errors: they end up in the outcome.
pub async fn run_build(
    docker: &dyn DockerPort,
    req: BuildRequest,
    events: &UnboundedSender<EngineEvent>,
    cancel: CancellationToken,
) -> BuildOutcome {
    run_build_asking(docker, req, events, cancel, None).await
}

/// Like `run_build`; with `answers` (the TUI) and `auto_fix = "off"`, a failure whose fixes are known asks
/// the user (`EngineEvent::AskRetry`) and waits: `true` retries (after the user wrote the fixes they chose),
/// `false` or a cancel stops.
pub async fn run_build_asking(
    docker: &dyn DockerPort,
    req: BuildRequest,
    events: &UnboundedSender<EngineEvent>,
    cancel: CancellationToken,
    mut answers: Option<tokio::sync::mpsc::UnboundedReceiver<bool>>,
) -> BuildOutcome {
    let build_id = new_build_id();
    let started = Instant::now();
    let dir = req.builds_dir.join(&build_id);
    // The request does not change across attempts: its secrets are worked out once.
    let dockerfile =
        crate::analyze::project_files::read_text(&req.spec.context_dir, &req.spec.dockerfile)
            .unwrap_or_default();
    let masker = super::mask::Masker::for_spec(&req.spec).with_text(&dockerfile);
    drop(dockerfile);
    let mut outcome = BuildOutcome {
        build_id: build_id.clone(),
        success: false,
        cancelled: false,
        image: req.spec.tag.clone(),
        tags: req
            .spec
            .tag
            .rsplit_once(':')
            .map(|(_, t)| vec![t.to_string()])
            .unwrap_or_default(),
        image_id: None,
        build_time_s: 0.0,
        attempts: Vec::new(),
        fixes_applied: Vec::new(),
        smoke: Vec::new(),
        log_path: dir.join("attempt-1.log"),
        error: None,
        engine_unreachable: false,
        standin: !standins_named(&req.spec).is_empty(),
        references: std::iter::once(req.spec.tag.clone())
            .chain(req.spec.extra_tags.iter().cloned())
            .collect(),
        backend: None,
        platforms: Vec::new(),
        smoke_skipped: None,
        platform_of: req.platform_of.clone(),
    };
    // What the builder can do decides whether smoke tests can run on it. A builder that cannot answer
    // (unreachable) is asked nothing more: its first build request reports why. A cancel (q, Ctrl-C) while
    // a slow endpoint is asked (an ssh host that does not answer) stops here at once.
    let caps = tokio::select! {
        c = docker.capabilities() => c.ok(),
        _ = cancel.cancelled() => None,
    };
    outcome.backend = Some(crate::builder::BackendInfo {
        kind: caps
            .as_ref()
            .map(|c| c.kind)
            .unwrap_or(crate::builder::BackendKind::Docker),
        endpoint: docker.endpoint(),
        context: docker.context(),
    });
    if caps.as_ref().is_some_and(|c| !c.run) && !req.smoke.is_empty() {
        let kind = caps.as_ref().map(|c| c.kind.as_str()).unwrap_or("docker");
        outcome.smoke_skipped = Some(format!(
            "the {kind} backend at {} cannot run containers, so the {} planned smoke test(s) did not run; \
             what to do: run them on a Docker engine or Podman (dockui build --backend docker), or pull the \
             image there and run them",
            docker.endpoint(),
            req.smoke.len()
        ));
    }
    for extra in &req.spec.extra_tags {
        if let Some((_, t)) = extra.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            outcome.tags.push(t.to_string());
        }
    }
    outcome.tags.dedup();
    let mut network_retries = 0;
    let policy = super::retry::Policy {
        auto_fix: req.auto_fix,
        can_ask: answers.is_some(),
    };
    if let Err(e) = crate::paths::private_dir(&dir) {
        outcome.error = Some(format!(
            "cannot create build log directory {}: {e}",
            dir.display()
        ));
        return outcome;
    }
    if cancel.is_cancelled() {
        outcome.cancelled = true;
        outcome.error = Some("cancelled before the build started".into());
        super::history::write_summary(&dir, &outcome);
        return outcome;
    }
    // One foreign platform (`--platform linux/arm64` on an amd64 engine of this machine) without QEMU would
    // fail only at its first RUN with `exec format error`: say so before building, as a multi-platform build
    // does (`platforms::run_multi` checks each of its platforms the same way).
    if let Some(why) = caps.as_ref().and_then(|c| {
        super::platforms::single_platform_missing(&req.spec.platform, c, &docker.endpoint())
    }) {
        let _ = events.send(EngineEvent::BuildLog(vec![format!("ERROR: {why}")]));
        outcome.error = Some(why);
        // A set-up problem, not the Dockerfile's: headless exits 2 like for an unreachable engine.
        outcome.engine_unreachable = true;
        super::history::write_summary(&dir, &outcome);
        return outcome;
    }
    // Smoke containers of an earlier dockui run that was killed: the engine still has them. Only asked of a
    // builder that answered: a silent one would hold the build for the engine's whole timeout here.
    let orphans = async {
        match caps {
            Some(_) => docker.remove_orphans().await,
            None => Ok(Vec::new()),
        }
    };
    let orphans = tokio::select! {
        r = orphans => r,
        _ = cancel.cancelled() => Ok(Vec::new()),
    };
    if let Ok(removed) = orphans
        && !removed.is_empty()
    {
        let _ = events.send(EngineEvent::BuildLog(vec![format!(
            "dockui: removed {} container(s) left by a killed dockui run",
            removed.len()
        )]));
    }
    let mut attempt = 0;
    while attempt < req.max_attempts {
        attempt += 1;
        let log_path = dir.join(format!("attempt-{attempt}.log"));
        outcome.log_path = log_path.clone();
        let _ = events.send(EngineEvent::BuildStarted {
            build_id: build_id.clone(),
            attempt,
            max_attempts: req.max_attempts,
            log_path: log_path.clone(),
            platform: req.platform_of.clone(),
        });
        let t0 = Instant::now();
        let mut result = run_attempt(docker, &req.spec, &masker, &log_path, events, &cancel).await;
        let mut smoke_results = Vec::new();
        if let AttemptResult::Built(id) = &result
            && let Some(why) = &outcome.smoke_skipped
        {
            outcome.image_id = Some(id.clone());
            let line = format!("dockui: smoke tests skipped: {why}");
            if let Ok(mut f) = crate::paths::private_file_options()
                .append(true)
                .open(&log_path)
            {
                let _ = writeln!(f, "{line}");
            }
            let _ = events.send(EngineEvent::BuildLog(vec![line]));
        } else if let AttemptResult::Built(id) = &result {
            outcome.image_id = Some(id.clone());
            // Smoke tests prove the image works; a failed one goes through the same classify-and-fix loop.
            match run_smoke(docker, &req, &masker, &log_path, events, &cancel).await {
                SmokeOutcome::Passed(r) => smoke_results = r,
                SmokeOutcome::Cancelled(r) => {
                    smoke_results = r;
                    result = AttemptResult::Cancelled;
                }
                SmokeOutcome::Failed(r, diagnosis) => {
                    let failed = r
                        .iter()
                        .filter(|s| s.status != SmokeStatus::Passed)
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>();
                    outcome.engine_unreachable |= r.iter().any(|s| s.engine_lost);
                    smoke_results = r;
                    result = AttemptResult::SmokeFailed(
                        format!("smoke test failed: {}", failed.join(", ")),
                        diagnosis,
                    );
                }
            }
        }
        let mut record = AttemptRecord {
            attempt,
            status: AttemptStatus::Failed,
            duration_s: t0.elapsed().as_secs_f64(),
            log_path,
            error: None,
            diagnosis: None,
            smoke: smoke_results.clone(),
            fixes_applied: Vec::new(),
            fixes: Vec::new(),
            platform: req.platform_of.clone(),
        };
        outcome.smoke = smoke_results;
        let mut engine_failed = false;
        let diagnosis = match result {
            AttemptResult::Built(_) => {
                record.status = AttemptStatus::Succeeded;
                outcome.success = true;
                outcome.error = None;
                outcome.attempts.push(record);
                break;
            }
            AttemptResult::Cancelled => {
                record.status = AttemptStatus::Cancelled;
                record.error = Some("cancelled by the user".into());
                outcome.cancelled = true;
                outcome.error = record.error.clone();
                outcome.attempts.push(record);
                break;
            }
            AttemptResult::Failed(err) => {
                outcome.engine_unreachable = err.is_setup();
                engine_failed = matches!(err, crate::builder::DockerError::Unreachable { .. });
                record.error = Some(err.to_string());
                let lines: Vec<String> = std::fs::read_to_string(&record.log_path)
                    .unwrap_or_default()
                    .lines()
                    .map(str::to_string)
                    .collect();
                classify::classify(&lines)
            }
            AttemptResult::SmokeFailed(message, diagnosis) => {
                record.error = Some(message);
                diagnosis
            }
        };
        outcome.error = record.error.clone();
        record.diagnosis = diagnosis;
        if let Some(d) = &record.diagnosis {
            let _ = events.send(EngineEvent::Diagnosis(Box::new(d.clone())));
        }
        // Retrying the same input gives the same failure: only retry when a fix changed the input.
        let may_fix = super::retry::fix_level(attempt, req.max_attempts, &policy);
        let fixes = match (&record.diagnosis, may_fix) {
            (Some(d), Some(level)) if !d.fix_rules.is_empty() => {
                apply_fixes(&req, &d.fix_rules, level, events)
            }
            _ => Vec::new(),
        };
        // No static finding cured it: a fix aimed at the failing step, if dockui knows one for the signature.
        if fixes.is_empty()
            && let Some(d) = &record.diagnosis
            && !covered_by_static(&req, &d.fix_rules)
        {
            let dockerfile = req
                .analyze
                .dockerfile
                .clone()
                .unwrap_or_else(|| PathBuf::from("Dockerfile"));
            let project = super::failure_fix::Project {
                dir: &req.project_dir,
                dockerfile: &dockerfile,
                network_retries,
            };
            if let Some(mut f) = super::failure_fix::propose(d, &project) {
                if may_fix.is_some_and(|level| f.level <= level) {
                    f.applied = apply_failure_fix(&req, &f, events, &cancel).await;
                    if f.applied && f.backoff_s.is_some() {
                        network_retries += 1;
                    }
                } else {
                    let allowed = req.auto_fix.is_some_and(|level| f.level <= level);
                    let why_not = if allowed {
                        "no attempts left".to_string()
                    } else {
                        format!("{} level, auto_fix does not allow it", f.level.as_str())
                    };
                    let _ = events.send(EngineEvent::BuildLog(vec![format!(
                        "dockui: proposed fix ({why_not}): {}",
                        f.description
                    )]));
                }
                if f.applied {
                    record.fixes_applied.push(f.id.clone());
                    outcome.fixes_applied.push(f.id.clone());
                }
                record.fixes.push(f);
            }
        }
        let facts = super::retry::Facts {
            attempt,
            max_attempts: req.max_attempts,
            diagnosed: record.diagnosis.is_some(),
            fixes_known: record
                .diagnosis
                .as_ref()
                .is_some_and(|d| !d.fix_rules.is_empty()),
            failure_fix_known: !record.fixes.is_empty(),
            engine_error: engine_failed,
            applied: fixes.len() + record.fixes.iter().filter(|f| f.applied).count(),
        };
        let mut decision = super::retry::decide(&facts, &policy);
        if decision == Decision::Ask
            && let (Some(rx), Some(d)) = (answers.as_mut(), &record.diagnosis)
        {
            let _ = events.send(EngineEvent::AskRetry {
                rules: d.fix_rules.clone(),
            });
            let answer = tokio::select! {
                _ = cancel.cancelled() => None,
                a = rx.recv() => a,
            };
            decision = super::retry::after_answer(answer, cancel.is_cancelled());
            match decision {
                Decision::Retry => record.fixes_applied.push("reviewed in the TUI".into()),
                Decision::Stop(Stop::Cancelled) => {
                    record.status = AttemptStatus::Cancelled;
                    outcome.cancelled = true;
                }
                _ => {}
            }
        }
        record.fixes_applied.extend(fixes.clone());
        outcome.fixes_applied.extend(fixes);
        outcome.attempts.push(record);
        match decision {
            Decision::Retry => {}
            Decision::Stop(why) => {
                let _ = events.send(EngineEvent::BuildLog(vec![format!(
                    "dockui: not retrying: {}",
                    why.explain()
                )]));
                break;
            }
            // Nobody to ask (no answer channel): the same as a review nobody did.
            Decision::Ask => {
                let _ = events.send(EngineEvent::BuildLog(vec![format!(
                    "dockui: not retrying: {}",
                    Stop::NeedsReview.explain()
                )]));
                break;
            }
        }
    }
    outcome.build_time_s = started.elapsed().as_secs_f64();
    // Secret build-arg values never reach the record or the JSON result.
    masker.outcome(&mut outcome);
    super::history::write_summary(&dir, &outcome);
    outcome
}

/// Does a static finding of `rules` (with a fix) cover the failure? Then the rule's fix is the cure, not a
/// failure-driven one.
fn covered_by_static(req: &BuildRequest, rules: &[String]) -> bool {
    if rules.is_empty() {
        return false;
    }
    analyze::analyze_project(&req.project_dir, &req.analyze).is_ok_and(|a| {
        a.findings
            .iter()
            .any(|f| rules.iter().any(|r| r == f.rule.as_str()) && !f.fixes.is_empty())
    })
}

/// Write a failure fix (atomic, with a backup), or wait out its backoff. True when the retry may go ahead.
async fn apply_failure_fix(
    req: &BuildRequest,
    f: &super::failure_fix::FailureFix,
    events: &UnboundedSender<EngineEvent>,
    cancel: &CancellationToken,
) -> bool {
    let log = |l: String| {
        let _ = events.send(EngineEvent::BuildLog(vec![l]));
    };
    if let (Some(file), Some(new), Some(old)) = (&f.file, &f.new_text, &f.old_text) {
        return match crate::fix::validate::checked_write(
            &req.project_dir,
            file,
            new,
            old,
            &req.backups,
        ) {
            Ok(_) => {
                log(format!("dockui: applied fix {}: {}", f.id, f.description));
                if let Ok(a) = analyze::analyze_project(&req.project_dir, &req.analyze) {
                    let _ = events.send(EngineEvent::Analysis(Ok(a)));
                }
                true
            }
            Err(e) => {
                log(format!("dockui: fix {} not written: {e}", f.id));
                false
            }
        };
    }
    if let Some(s) = f.backoff_s {
        log(format!("dockui: {}: waiting {s}s before the retry", f.id));
        return tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(Duration::from_secs(s)) => true,
        };
    }
    false
}

/// Plan the fixes of `rules` up to `level` (the same planner as `dockui fix` and the TUI) and write each
/// planned file (re-parsed, atomic, with a backup). Returns what was applied, as "RULE file:line".
fn apply_fixes(
    req: &BuildRequest,
    rules: &[String],
    level: FixLevel,
    events: &UnboundedSender<EngineEvent>,
) -> Vec<String> {
    let log = |line: String| {
        let _ = events.send(EngineEvent::BuildLog(vec![line]));
    };
    let allow = |f: &analyze::Finding, fix: &analyze::Fix| {
        let rule = f.rule.to_string();
        fix.level <= level && rules.contains(&rule)
    };
    let po = crate::fix::plan::PlanOptions {
        allow: &allow,
        choice: &Default::default(),
        extra: &[],
    };
    let plan = match crate::fix::plan::plan(&req.project_dir, &req.analyze, &po) {
        Ok(p) => p,
        Err(e) => {
            log(format!("dockui: cannot re-analyse to fix: {e}"));
            return Vec::new();
        }
    };
    for h in &plan.held {
        log(format!(
            "dockui: fix not applied: {} {}: {}",
            h.label, h.fix, h.reason
        ));
    }
    let mut applied = Vec::new();
    for p in &plan.proposals {
        let new = p.accepted_text();
        match crate::fix::validate::checked_write(
            &req.project_dir,
            &p.file,
            &new,
            &p.old,
            &req.backups,
        ) {
            Ok(_) => applied.extend(
                plan.steps
                    .iter()
                    .filter(|s| s.file == p.file)
                    .map(|s| s.label.clone()),
            ),
            Err(e) => log(format!("dockui: fix not written: {e}")),
        }
    }
    if !applied.is_empty() {
        log(format!("dockui: applied fixes: {}", applied.join(", ")));
        if let Ok(a) = analyze::analyze_project(&req.project_dir, &req.analyze) {
            let _ = events.send(EngineEvent::Analysis(Ok(a)));
        }
    }
    applied
}

/// Does this build run on dockui's offline stand-in base? (Front ends mark its results as stand-in results.)
pub fn uses_standin(spec: &BuildSpec) -> bool {
    !standins_named(spec).is_empty()
}

/// Stand-in references in build args and in the Dockerfile's FROM lines.
fn standins_named(spec: &BuildSpec) -> Vec<String> {
    let mut refs: Vec<String> = spec
        .args
        .values()
        .filter(|v| standin::is_standin(v))
        .cloned()
        .collect();
    let dockerfile =
        std::fs::read_to_string(spec.context_dir.join(&spec.dockerfile)).unwrap_or_default();
    // dockui's own parser: continuations, `--platform` flags and `AS name` are handled there, and each FROM
    // is expanded with the build's args over the ARG defaults (`ARG BASE=dockui-standin/...` + `FROM ${BASE}`).
    let parsed = crate::analyze::dockerfile::Dockerfile::parse(&dockerfile);
    let model = crate::analyze::dockerfile::model::Model::build_with_args(&parsed, &spec.args);
    refs.extend(
        model
            .stages
            .iter()
            .filter(|s| s.image.unresolved.is_empty() && standin::is_standin(&s.image.text))
            .map(|s| s.image.text.clone()),
    );
    refs.sort();
    refs.dedup();
    refs
}

enum AttemptResult {
    Built(String),
    Cancelled,
    Failed(DockerError),
    SmokeFailed(String, Option<Diagnosis>),
}

enum SmokeOutcome {
    Passed(Vec<SmokeResult>),
    Failed(Vec<SmokeResult>, Option<Diagnosis>),
    Cancelled(Vec<SmokeResult>),
}

/// Smoke checks running at once: a container each (engine CPU and memory), enough for the usual
/// configured command + container_smoke.sh + import check.
const SMOKE_PARALLEL: usize = 3;

async fn run_smoke(
    docker: &dyn DockerPort,
    req: &BuildRequest,
    masker: &super::mask::Masker,
    log_path: &Path,
    events: &UnboundedSender<EngineEvent>,
    cancel: &CancellationToken,
) -> SmokeOutcome {
    // Smoke output belongs to the attempt's record: append it to the same log file the UI pages from.
    let log = |lines: Vec<String>| {
        let lines: Vec<String> = lines.iter().map(|l| masker.apply(l)).collect();
        if let Ok(mut f) = crate::paths::private_file_options()
            .append(true)
            .open(log_path)
        {
            for l in &lines {
                let _ = writeln!(f, "{l}");
            }
        }
        let _ = events.send(EngineEvent::BuildLog(lines));
    };
    let names = req.smoke.iter().map(|c| c.name.clone()).collect();
    let _ = events.send(EngineEvent::SmokeStarted(names));
    // The checks are independent containers of the same image: they run side by side (up to
    // SMOKE_PARALLEL at once), and their results come out in the plan's order. Checks on the GPUs take
    // turns, so two of them never compete for GPU memory; a check's timeout starts when it runs.
    let gpu_turn = tokio::sync::Mutex::new(());
    let (gpu_turn, log) = (&gpu_turn, &log);
    let mut checks: Vec<futures_util::future::BoxFuture<'_, SmokeResult>> = Vec::new();
    for check in &req.smoke {
        checks.push(Box::pin(async move {
            let _turn = if check.gpus {
                Some(gpu_turn.lock().await)
            } else {
                None
            };
            log(vec![format!("dockui: smoke: {}", check.name)]);
            smoke::run_check(docker, &req.spec.tag, check, req.smoke_timeout).await
        }));
    }
    let mut running = futures_util::stream::iter(checks).buffered(SMOKE_PARALLEL);
    let mut results = Vec::new();
    loop {
        let result = tokio::select! {
            biased;
            // Dropping the running checks removes their containers.
            _ = cancel.cancelled() => return SmokeOutcome::Cancelled(results),
            r = running.next() => match r {
                Some(r) => r,
                None => break,
            },
        };
        let mut result = result;
        masker.smoke(&mut result);
        let mut lines: Vec<String> = result.output.lines().map(|l| format!("  | {l}")).collect();
        lines.push(format!(
            "dockui: smoke: {} -> {:?} in {:.1}s",
            result.name, result.status, result.duration_s
        ));
        log(lines);
        let _ = events.send(EngineEvent::Smoke(Box::new(result.clone())));
        results.push(result);
    }
    drop(running);
    match results.iter().find(|r| r.status != SmokeStatus::Passed) {
        None => SmokeOutcome::Passed(results),
        Some(failed) => {
            let mut d = failed.diagnosis.clone();
            // The project's own package is never "add it to requirements": the image must carry it.
            if let Some(d) = d.as_mut()
                && d.signature == "module-not-found"
                && let Some(module) = d.detail.clone()
                && super::failure_fix::is_own_package(&req.project_dir, &module)
            {
                d.class = "project package not importable in the image".into();
                d.explanation = format!(
                    "`{module}` is this project's own package, not a requirement: the image must contain it \
                     (COPY it) where the image's CMD imports it from, i.e. in the WORKDIR or on PYTHONPATH \
                     (ENV PYTHONPATH=/app), or install the project itself (pip install .)."
                );
                d.fix_rules.clear();
            }
            SmokeOutcome::Failed(results, d)
        }
    }
}

async fn run_attempt(
    docker: &dyn DockerPort,
    spec: &BuildSpec,
    masker: &super::mask::Masker,
    log_path: &Path,
    events: &UnboundedSender<EngineEvent>,
    cancel: &CancellationToken,
) -> AttemptResult {
    let mut log = match crate::paths::private_file_options()
        .truncate(true)
        .open(log_path)
    {
        Ok(f) => std::io::BufWriter::new(f),
        Err(e) => {
            return AttemptResult::Failed(DockerError::Other(format!(
                "cannot write {}: {e}",
                log_path.display()
            )));
        }
    };
    let (tx, mut rx) = unbounded_channel();
    let work = async {
        // Stand-in bases named in build args are made locally first, so offline builds work.
        for reference in standins_named(spec) {
            standin::ensure(docker, &reference, tx.clone()).await?;
        }
        docker.build(spec.clone(), tx.clone()).await
    };
    let mut work = Box::pin(work);
    let mut batch: Vec<String> = Vec::new();
    let mut ticker = tokio::time::interval(BATCH_INTERVAL);
    let result = loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break AttemptResult::Cancelled,
            Some(ev) = rx.recv() => {
                handle_event(masker.event(ev), &mut log, &mut batch, events);
                if batch.len() >= BATCH_MAX {
                    flush(&mut batch, events);
                }
            }
            // Every tick flushes what gathered since: batches at most every 50 ms, one UI update each.
            _ = ticker.tick() => {
                flush(&mut batch, events);
                // The log file is the record: on disk within a tick, so a killed dockui loses nothing
                // older than that (and `tail -f` follows the build).
                let _ = log.flush();
            }
            r = &mut work => {
                while let Ok(ev) = rx.try_recv() {
                    handle_event(masker.event(ev), &mut log, &mut batch, events);
                }
                break match r {
                    Ok(id) => AttemptResult::Built(id),
                    Err(e) => AttemptResult::Failed(e),
                };
            }
        }
    };
    // On cancel, `work` is dropped here: the HTTP stream closes and the engine stops the build. What the
    // builder says as it stops (e.g. that Podman finishes the running step) goes into the log first.
    drop(work);
    while let Ok(ev) = rx.try_recv() {
        handle_event(masker.event(ev), &mut log, &mut batch, events);
    }
    let closing = match &result {
        AttemptResult::Built(id) => format!("dockui: built {id}"),
        AttemptResult::Cancelled => "dockui: build cancelled".to_string(),
        AttemptResult::Failed(e) => format!("dockui: {e}"),
        AttemptResult::SmokeFailed(m, _) => format!("dockui: {m}"),
    };
    handle_event(
        masker.event(BuildEvent::Line(closing)),
        &mut log,
        &mut batch,
        events,
    );
    flush(&mut batch, events);
    let _ = log.flush();
    result
}

fn handle_event(
    ev: BuildEvent,
    log: &mut impl Write,
    batch: &mut Vec<String>,
    events: &UnboundedSender<EngineEvent>,
) {
    match ev {
        BuildEvent::Line(line) => {
            // The log file is the record: write every line, raw. A failed write must not stop the build.
            let _ = writeln!(log, "{line}");
            batch.push(line);
        }
        BuildEvent::Step { current, total } => {
            flush(batch, events);
            let _ = events.send(EngineEvent::BuildStep { current, total });
        }
    }
}

fn flush(batch: &mut Vec<String>, events: &UnboundedSender<EngineEvent>) {
    if !batch.is_empty() {
        let _ = events.send(EngineEvent::BuildLog(std::mem::take(batch)));
    }
}

/// The build loop on fake builders: the same code that drives the Docker engine drives any `BuilderPort`.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{
        BackendKind, BuilderPort, Capabilities, EngineInfo, ImageInfo, RunOutput, RunSpec,
    };
    use futures_util::FutureExt;
    use futures_util::future::BoxFuture;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    #[test]
    fn a_standin_base_is_found_through_an_arg_default_and_a_build_arg() {
        let dir = tempfile::tempdir().unwrap();
        let spec = |df: &str, args: &[(&str, &str)]| {
            std::fs::write(dir.path().join("Dockerfile"), df).unwrap();
            BuildSpec {
                context_dir: dir.path().to_path_buf(),
                dockerfile: "Dockerfile".into(),
                args: args
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            }
        };
        // Fires: the ARG's default, and a literal FROM.
        let arg = "ARG BASE_IMAGE=dockui-standin/pytorch:x\nFROM ${BASE_IMAGE}\nRUN true\n";
        assert_eq!(
            standins_named(&spec(arg, &[])),
            ["dockui-standin/pytorch:x"]
        );
        let literal = "FROM dockui-standin/pytorch:y AS base\n";
        assert_eq!(
            standins_named(&spec(literal, &[])),
            ["dockui-standin/pytorch:y"]
        );
        // Must not: a build arg naming a real image overrides the stand-in default; an unset ARG.
        assert!(standins_named(&spec(arg, &[("BASE_IMAGE", "ubuntu:22.04")])).is_empty());
        assert!(standins_named(&spec("ARG B\nFROM ${B}\n", &[])).is_empty());
    }

    /// One attempt's script: the lines the build prints, and whether it succeeds.
    struct Script {
        lines: Vec<&'static str>,
        ok: bool,
    }

    struct FakeBuilder {
        kind: BackendKind,
        /// Runs containers (smoke tests); a BuildKit daemon or a cloud builder does not.
        run: bool,
        scripts: Mutex<VecDeque<Script>>,
        builds: Mutex<u32>,
        runs: Mutex<Vec<RunSpec>>,
        run_output: (i64, &'static str),
        /// How long each container "runs"; and how many ran at once at most: (all, on the GPUs).
        run_for: Duration,
        running: Mutex<(usize, usize)>,
        most_at_once: Mutex<(usize, usize)>,
        /// The endpoint never answers what it can do (an ssh host that does not answer).
        silent: bool,
        /// The engine goes away once the image is built: containers cannot be run.
        lost_after_build: bool,
        /// It refuses what it can do at once, and would never finish sweeping orphans (a half-dead engine).
        unreachable: bool,
    }

    impl FakeBuilder {
        fn new(kind: BackendKind, run: bool, scripts: Vec<Script>) -> FakeBuilder {
            FakeBuilder {
                kind,
                run,
                scripts: Mutex::new(scripts.into()),
                builds: Mutex::new(0),
                runs: Mutex::new(Vec::new()),
                run_output: (0, "ok"),
                run_for: Duration::ZERO,
                running: Mutex::new((0, 0)),
                most_at_once: Mutex::new((0, 0)),
                silent: false,
                lost_after_build: false,
                unreachable: false,
            }
        }
    }

    impl BuilderPort for FakeBuilder {
        fn endpoint(&self) -> String {
            format!("fake://{}", self.kind.as_str())
        }
        fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
            async move {
                Ok(EngineInfo {
                    endpoint: self.endpoint(),
                    version: "fake".into(),
                    api_version: String::new(),
                    context: None,
                })
            }
            .boxed()
        }
        fn build(
            &self,
            _spec: BuildSpec,
            events: UnboundedSender<BuildEvent>,
        ) -> BoxFuture<'_, Result<String, DockerError>> {
            async move {
                *self.builds.lock().unwrap() += 1;
                let script = self.scripts.lock().unwrap().pop_front().expect("a script");
                for l in &script.lines {
                    let _ = events.send(BuildEvent::Line(l.to_string()));
                }
                if script.ok {
                    Ok("sha256:f00d".into())
                } else {
                    Err(DockerError::BuildFailed {
                        message: script.lines.last().unwrap_or(&"").to_string(),
                    })
                }
            }
            .boxed()
        }
        fn inspect_image<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>> {
            async { Ok(None) }.boxed()
        }
        fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>> {
            async { Ok(BTreeMap::new()) }.boxed()
        }
        fn run_once(&self, spec: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>> {
            async move {
                if self.lost_after_build {
                    return Err(DockerError::Unreachable {
                        endpoint: self.endpoint(),
                        reason: "connection refused".into(),
                    });
                }
                assert!(
                    self.run,
                    "run_once called on a builder that cannot run containers"
                );
                let gpu = usize::from(spec.gpus);
                let command = spec.cmd.as_ref().and_then(|c| c.last().cloned());
                self.runs.lock().unwrap().push(spec);
                {
                    let mut now = self.running.lock().unwrap();
                    *now = (now.0 + 1, now.1 + gpu);
                    let mut most = self.most_at_once.lock().unwrap();
                    *most = (most.0.max(now.0), most.1.max(now.1));
                }
                tokio::time::sleep(self.run_for).await;
                {
                    let mut now = self.running.lock().unwrap();
                    *now = (now.0 - 1, now.1 - gpu);
                }
                Ok(RunOutput {
                    exit_code: self.run_output.0,
                    output: if self.run_for.is_zero() {
                        self.run_output.1.into()
                    } else {
                        command.unwrap_or_default()
                    },
                })
            }
            .boxed()
        }
        fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, DockerError>> {
            async move {
                if self.silent {
                    futures_util::future::pending::<()>().await;
                }
                if self.unreachable {
                    return Err(DockerError::Unreachable {
                        endpoint: self.endpoint(),
                        reason: "no answer".into(),
                    });
                }
                Ok(Capabilities {
                    kind: self.kind,
                    buildkit: true,
                    run: self.run,
                    ..Capabilities::default()
                })
            }
            .boxed()
        }
        fn remove_orphans(&self) -> BoxFuture<'_, Result<Vec<String>, DockerError>> {
            async move {
                if self.unreachable {
                    futures_util::future::pending::<()>().await;
                }
                Ok(Vec::new())
            }
            .boxed()
        }
    }

    const APT: &str = "FROM scratch\nRUN apt-get update && apt-get install -y tzdata\n";

    /// A prompt that killed the build: a known signature with a safe fix for the Dockerfile.
    fn prompt_failure() -> Script {
        Script {
            lines: vec![
                "Step 2/2 : RUN apt-get update && apt-get install -y tzdata",
                "debconf: unable to initialize frontend: Dialog",
                "Geographic area: ",
                "end of file on stdin at conffile prompt",
            ],
            ok: false,
        }
    }

    fn ok() -> Script {
        Script {
            lines: vec!["Step 1/2 : FROM scratch", "Successfully built f00d"],
            ok: true,
        }
    }

    fn request(dir: &Path, auto_fix: Option<FixLevel>, max: u32) -> BuildRequest {
        std::fs::create_dir_all(dir.join("project")).unwrap();
        std::fs::write(dir.join("project/Dockerfile"), APT).unwrap();
        BuildRequest {
            spec: BuildSpec {
                context_dir: dir.join("project"),
                dockerfile: "Dockerfile".into(),
                tag: "dockui-test/fake:latest".into(),
                ..BuildSpec::default()
            },
            max_attempts: max,
            builds_dir: dir.join("builds"),
            project_dir: dir.join("project"),
            analyze: AnalyzeOptions::default(),
            auto_fix,
            backups: Backups::new(dir.join("backups")),
            smoke: vec![SmokeCheck {
                name: "echo hi".into(),
                cmd: vec!["/bin/sh".into(), "-c".into(), "echo hi".into()],
                gpus: false,
            }],
            smoke_timeout: Duration::from_secs(5),
            platform_of: None,
        }
    }

    async fn run(port: &FakeBuilder, req: BuildRequest) -> (BuildOutcome, Vec<String>) {
        let (tx, mut rx) = unbounded_channel();
        let outcome = run_build(port, req, &tx, CancellationToken::new()).await;
        drop(tx);
        let mut lines = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let EngineEvent::BuildLog(l) = ev {
                lines.extend(l);
            }
        }
        (outcome, lines)
    }

    #[tokio::test]
    async fn the_retry_loop_runs_unchanged_on_a_builder_that_cannot_run_containers() {
        let dir = tempfile::tempdir().unwrap();
        let port = FakeBuilder::new(BackendKind::Buildkit, false, vec![prompt_failure(), ok()]);
        let (o, lines) = run(&port, request(dir.path(), Some(FixLevel::Safe), 3)).await;
        assert!(o.success, "{o:#?}");
        assert_eq!(o.attempts.len(), 2, "failed, fixed, retried, built");
        assert_eq!(*port.builds.lock().unwrap(), 2);
        assert!(!o.fixes_applied.is_empty(), "{o:#?}");
        let dockerfile = std::fs::read_to_string(dir.path().join("project/Dockerfile")).unwrap();
        assert_ne!(dockerfile, APT, "the fix changed the input");
        assert_eq!(
            o.attempts[0].diagnosis.as_ref().unwrap().signature,
            "dpkg-prompt-eof"
        );
        // Smoke tests: skipped with the reason, never reported as passed, no container asked for.
        assert!(port.runs.lock().unwrap().is_empty());
        assert!(o.smoke.is_empty());
        let why = o.smoke_skipped.as_deref().expect("a reason");
        assert!(why.contains("cannot run containers"), "{why}");
        assert!(why.contains("fake://buildkit"), "{why}");
        assert!(
            lines.iter().any(|l| l.contains("smoke tests skipped")),
            "{lines:?}"
        );
        let log = std::fs::read_to_string(&o.log_path).unwrap();
        assert!(log.contains("smoke tests skipped"), "{log}");
        let b = o.backend.as_ref().unwrap();
        assert_eq!(
            (b.kind, b.endpoint.as_str()),
            (BackendKind::Buildkit, "fake://buildkit")
        );
    }

    #[tokio::test]
    async fn on_a_builder_that_runs_containers_the_smoke_tests_run() {
        let dir = tempfile::tempdir().unwrap();
        let port = FakeBuilder::new(BackendKind::Podman, true, vec![prompt_failure(), ok()]);
        let (o, _) = run(&port, request(dir.path(), Some(FixLevel::Safe), 3)).await;
        assert!(o.success, "{o:#?}");
        assert_eq!(o.attempts.len(), 2);
        assert_eq!(o.smoke_skipped, None);
        assert_eq!(o.smoke.len(), 1);
        assert_eq!(o.smoke[0].status, SmokeStatus::Passed);
        let runs = port.runs.lock().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].image, "dockui-test/fake:latest");
        assert_eq!(o.backend.as_ref().unwrap().kind, BackendKind::Podman);
    }

    #[tokio::test]
    async fn a_failing_smoke_test_on_a_fake_goes_through_classify_and_stops_without_a_fix() {
        let dir = tempfile::tempdir().unwrap();
        let mut port = FakeBuilder::new(BackendKind::Docker, true, vec![ok()]);
        port.run_output = (1, "ModuleNotFoundError: No module named 'zzz_not_here'");
        let (o, lines) = run(&port, request(dir.path(), None, 3)).await;
        assert!(!o.success);
        assert_eq!(
            o.attempts.len(),
            1,
            "auto_fix off and nobody to ask: no retry"
        );
        assert_eq!(
            o.attempts[0].diagnosis.as_ref().unwrap().signature,
            "module-not-found"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("dockui: not retrying:")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn auto_fix_off_leaves_the_input_alone_and_does_not_retry() {
        let dir = tempfile::tempdir().unwrap();
        let port = FakeBuilder::new(BackendKind::Buildkit, false, vec![prompt_failure(), ok()]);
        let (o, lines) = run(&port, request(dir.path(), None, 3)).await;
        assert!(!o.success);
        assert_eq!(o.attempts.len(), 1);
        assert_eq!(*port.builds.lock().unwrap(), 1);
        let dockerfile = std::fs::read_to_string(dir.path().join("project/Dockerfile")).unwrap();
        assert_eq!(dockerfile, APT);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("not retrying") && l.contains("auto_fix")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn smoke_checks_run_side_by_side_in_plan_order_and_gpu_checks_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let mut port = FakeBuilder::new(BackendKind::Docker, true, vec![ok()]);
        port.run_for = Duration::from_millis(50);
        let mut req = request(dir.path(), None, 1);
        let check = |cmd: &str, gpus: bool| SmokeCheck {
            name: cmd.into(),
            cmd: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
            gpus,
        };
        req.smoke = vec![
            check("one", false),
            check("gpu-a", true),
            check("two", false),
            check("gpu-b", true),
            check("three", false),
        ];
        let (o, lines) = run(&port, req).await;
        assert!(o.success, "{o:#?}");
        let got: Vec<(&str, &str)> = o
            .smoke
            .iter()
            .map(|r| (r.name.as_str(), r.output.as_str()))
            .collect();
        let names = ["one", "gpu-a", "two", "gpu-b", "three"];
        assert_eq!(got, names.map(|n| (n, n)), "results in the plan's order");
        let (all, gpu) = *port.most_at_once.lock().unwrap();
        assert!(all > 1, "the checks ran one after another");
        assert!(all <= SMOKE_PARALLEL, "{all} containers at once");
        assert_eq!(gpu, 1, "two checks on the GPUs at once");
        // Each result line in the log, in the plan's order.
        let done: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains(" -> Passed in "))
            .collect();
        assert_eq!(done.len(), 5, "{lines:?}");
        for (line, name) in done.iter().zip(names) {
            assert!(
                line.starts_with(&format!("dockui: smoke: {name} -> ")),
                "{line}"
            );
        }
    }

    #[tokio::test]
    async fn a_cancel_while_a_silent_endpoint_is_asked_ends_the_build_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut fake = FakeBuilder::new(BackendKind::Docker, true, vec![ok()]);
        fake.silent = true;
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let later = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            later.cancel();
        });
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            run_build(&fake, request(dir.path(), None, 1), &tx, cancel),
        )
        .await
        .expect("the cancel ended the build, not the endpoint");
        assert!(outcome.cancelled && !outcome.success);
        assert_eq!(*fake.builds.lock().unwrap(), 0, "nothing was built");
        // Recorded like any cancelled build.
        let builds = crate::engine::history::list(&dir.path().join("builds"));
        assert_eq!(builds[0].status, "cancelled");
    }

    /// One build of a single attempt on `fake`, in a fresh builds directory.
    async fn build_once(fake: &FakeBuilder) -> BuildOutcome {
        let dir = tempfile::tempdir().unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        run_build(
            fake,
            request(dir.path(), None, 1),
            &tx,
            CancellationToken::new(),
        )
        .await
    }

    #[tokio::test]
    async fn an_engine_lost_during_the_smoke_tests_is_a_setup_failure_not_a_smoke_failure() {
        let mut fake = FakeBuilder::new(BackendKind::Docker, true, vec![ok()]);
        fake.lost_after_build = true;
        let outcome = build_once(&fake).await;
        assert!(!outcome.success);
        assert_eq!(outcome.smoke[0].status, SmokeStatus::Error);
        assert!(outcome.engine_unreachable, "headless exits 2 for this");
        // A check that fails on its own is the image's problem, as before.
        let mut fake = FakeBuilder::new(BackendKind::Docker, true, vec![ok()]);
        fake.run_output = (1, "ModuleNotFoundError");
        let outcome = build_once(&fake).await;
        assert!(!outcome.success && !outcome.engine_unreachable);
    }

    #[tokio::test]
    async fn a_builder_that_cannot_say_what_it_can_do_is_not_swept_for_orphans() {
        let mut fake = FakeBuilder::new(BackendKind::Docker, true, vec![ok()]);
        fake.unreachable = true;
        let outcome = tokio::time::timeout(Duration::from_secs(5), build_once(&fake))
            .await
            .expect("the orphan sweep of a builder that did not answer is not waited for");
        // Its first build request is the one that says why (here the fake builds).
        assert_eq!(*fake.builds.lock().unwrap(), 1, "{outcome:?}");
    }
}
