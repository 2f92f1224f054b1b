//! `build --backend codebuild|auto` on AWS CodeBuild, `dockui status BUILD_ID`, and `dockui logs BUILD_ID`
//! for a CodeBuild id. Progress and the cost warning go to stderr, the result to stdout.

use super::{Format, runtime, write_stream};
use crate::codebuild::{self, CodeBuildPort, Target, api, buildspec, cost};
use crate::config::Config;
use crate::engine::{self, BuildRequest};
use crate::paths::Paths;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn err_line(s: &str) {
    write_stream(true, &format!("{s}\n"));
}
fn out_line(s: &str) {
    write_stream(false, &format!("{s}\n"));
}

// `build` flags of the cloud fallback (they override `[codebuild]`).
// (A plain comment: a doc comment on a flattened group would replace the help line of the commands
// that use it, their arguments being built when invoked: `#[command(defer = true)]` on `Cmd`.)
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CodeBuildFlags {
    /// Accept the CodeBuild cost warning (and a generated buildspec.yml) without asking.
    #[arg(long)]
    pub yes: bool,
    /// CodeBuild: print the build id once it started and exit 0 (`dockui status ID`, `dockui logs ID`).
    #[arg(long)]
    pub no_wait: bool,
    /// CodeBuild project (overrides `[codebuild] project`).
    #[arg(long, value_name = "NAME")]
    pub codebuild_project: Option<String>,
    /// AWS region (overrides `[codebuild] region`, AWS_REGION and the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// S3 bucket for the build context (overrides `[codebuild] s3_bucket`).
    #[arg(long, value_name = "BUCKET")]
    pub s3_bucket: Option<String>,
    /// CodeBuild compute type, e.g. BUILD_GENERAL1_MEDIUM (overrides `[codebuild] compute_type`).
    #[arg(long, value_name = "TYPE")]
    pub compute_type: Option<String>,
    /// CodeBuild timeout in seconds (overrides `[codebuild] timeout_s`).
    #[arg(long, value_name = "SECONDS")]
    pub codebuild_timeout: Option<u64>,
}

impl CodeBuildFlags {
    pub fn apply(&self, config: &mut Config) {
        let c = &mut config.codebuild;
        if let Some(p) = &self.codebuild_project {
            c.project = p.clone();
        }
        if let Some(r) = &self.region {
            c.region = r.clone();
        }
        if let Some(b) = &self.s3_bucket {
            c.s3_bucket = b.clone();
        }
        if let Some(t) = &self.compute_type {
            c.compute_type = t.clone();
        }
        if let Some(t) = self.codebuild_timeout {
            c.timeout_s = t.max(1);
        }
        if self.no_wait {
            c.wait = false;
        }
    }
}

/// `auto` found no usable backend: every candidate with why not and what to do (as `dockui doctor` lists
/// them), so the user knows what to start, install or configure, CodeBuild included.
pub fn nothing_usable(rt: &tokio::runtime::Runtime, config: &Config) -> Vec<String> {
    use crate::builder::select;
    let d = rt.block_on(select::doctor(config, &select::Env::from_process()));
    std::iter::once(
        "dockui: no backend answers here; to build, make one of these usable (`dockui doctor`):"
            .to_string(),
    )
    .chain(d.candidates.iter().map(|p| {
        format!(
            "  {} ({}): {}; {}",
            p.backend.as_str(),
            p.source,
            p.why_not.as_deref().unwrap_or("not usable"),
            p.what_to_do.as_deref().unwrap_or("see dockui doctor")
        )
    }))
    .collect()
}

pub fn records_file(paths: &Paths) -> PathBuf {
    paths.state_dir.join("codebuild.jsonl")
}

/// Build on CodeBuild: the cost warning, the buildspec proposal, then the same attempt/classify/retry loop
/// as a local build, through the CodeBuild port.
pub fn run(
    config: &Config,
    dir: &Path,
    paths: &Paths,
    mut req: BuildRequest,
    flags: &CodeBuildFlags,
    format: Format,
    quiet: bool,
) -> anyhow::Result<i32> {
    let cfg = &config.codebuild;
    anyhow::ensure!(
        !cfg.project.is_empty(),
        "--backend codebuild: no CodeBuild project configured; set [codebuild] project or pass \
         --codebuild-project (docs/codebuild.md says how to create one)"
    );
    let client = codebuild::connect(cfg).map_err(|e| anyhow::anyhow!("AWS CodeBuild: {e}"))?;
    let rt = runtime()?;
    let project = rt
        .block_on(api::project(&client, &cfg.project))
        .map_err(|e| {
            anyhow::anyhow!(
                "AWS CodeBuild: {e}; {}",
                codebuild::what_to_do_for(&e)
            )
        })?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "AWS CodeBuild: no project {} in {}: create it (docs/codebuild.md) or fix [codebuild] project/region",
                cfg.project,
                client.env.region
            )
        })?;
    // Check what would be sent before asking anything.
    codebuild::build_env(&req.spec).map_err(|e| anyhow::anyhow!("--backend codebuild: {e}"))?;
    let compute_type = Some(cfg.compute_type.clone())
        .filter(|c| !c.is_empty())
        .or_else(|| Some(project.compute_type.clone()).filter(|c| !c.is_empty()))
        .unwrap_or_else(|| cost::prices().default_compute_type);
    let records = records_file(paths);
    let accepted = flags.yes || !cfg.confirm;

    // No buildspec in the project nor in the context: dockui proposes one, as a new file.
    let in_context = req.spec.context_dir.join(buildspec::FILE);
    let proposed = (project.buildspec.trim().is_empty() && !in_context.exists()).then(|| {
        let smoke = engine::smoke::plan(dir, &config.smoke.commands, config.smoke.infer, false);
        buildspec::generate(&smoke)
    });
    if let Some(text) = &proposed {
        err_line(&format!(
            "dockui: CodeBuild project {} has no buildspec and the context has no {}; proposed new file:",
            project.name,
            buildspec::FILE
        ));
        write_stream(
            true,
            &crate::fix::proposal::unified(Path::new(buildspec::FILE), "", text),
        );
    }
    let estimate = cost::estimate(
        &compute_type,
        &cost::past_durations(&records, &project.name),
    );
    err_line(&estimate.warning(&project.name, &client.env.region));
    if !accepted {
        let why = format!(
            "not started: a CodeBuild build costs money{}; pass --yes to go ahead (or set [codebuild] \
             confirm = false in your user config)",
            if proposed.is_some() {
                format!(" and {} is a proposed new file", buildspec::FILE)
            } else {
                String::new()
            }
        );
        err_line(&format!("dockui: {why}"));
        if format == Format::Json {
            out_line(&serde_json::to_string_pretty(&serde_json::json!({
                "mode": "codebuild",
                "started": false,
                "success": false,
                "error": why,
                "project": project.name,
                "region": client.env.region,
                "estimate": {
                    "compute_type": estimate.compute_type,
                    "expected_s": estimate.expected_s,
                    "expected_from": estimate.expected_from,
                    "cost": estimate.cost,
                    "currency": estimate.currency,
                    "prices": estimate.price_note,
                },
                "proposed_buildspec": proposed,
            }))?);
        }
        return Ok(2);
    }
    if let Some(text) = &proposed {
        write_new_file(&in_context, text)?;
        err_line(&format!("dockui: wrote {}", in_context.display()));
    }

    let target = Target {
        project: project.name.clone(),
        bucket: cfg.bucket(&client.env.region),
        compute_type: Some(compute_type.clone()).filter(|c| *c != project.compute_type),
        timeout_minutes: cfg.timeout_minutes(),
        buildspec: proposed.clone(),
        poll: Duration::from_millis(cfg.poll_ms),
        records: records.clone(),
    };
    let port = CodeBuildPort::new(client.clone(), target);
    // The smoke tests run inside the build (the buildspec); CodeBuild runs no containers for dockui.
    req.smoke.clear();

    if !cfg.wait {
        let started = rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let started = port.start(&req.spec, &tx).await;
            drop(tx);
            while let Some(crate::builder::BuildEvent::Line(l)) = rx.recv().await {
                if !quiet {
                    err_line(&l);
                }
            }
            started
        });
        let build = match started {
            Ok(b) => b,
            Err(e) => {
                err_line(&format!("dockui: {e}"));
                return Ok(2);
            }
        };
        match format {
            Format::Human => out_line(&build.id),
            Format::Json => out_line(&serde_json::to_string_pretty(&serde_json::json!({
                "mode": "codebuild",
                "build_id": build.id,
                "status": build.status,
                "project": project.name,
                "region": client.env.region,
                "image": req.spec.tag,
                "follow": format!("dockui status {} / dockui logs {}", build.id, build.id),
            }))?),
        }
        return Ok(0);
    }

    let (outcome, signalled) = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let printer = tokio::spawn(async move {
            let mut rx = rx;
            while let Some(ev) = rx.recv().await {
                if let engine::EngineEvent::BuildLog(lines) = ev
                    && !quiet
                {
                    for l in lines {
                        err_line(&l);
                    }
                }
            }
        });
        let (cancel, signalled) = super::cancel_on_fatal_signal();
        let outcome = engine::build::run_build(&port, req, &tx, cancel).await;
        // A cancelled build keeps running in the cloud (and costs) until it is stopped.
        if let Some(stopped) = port.stop_active().await {
            match stopped {
                Ok(id) => err_line(&format!("codebuild: stopped build {id}")),
                Err(e) => err_line(&format!(
                    "dockui: could not stop the CodeBuild build: {e}; stop it in the console"
                )),
            }
        }
        drop(tx);
        let _ = printer.await;
        (outcome, signalled.load(std::sync::atomic::Ordering::SeqCst))
    });
    let last = port.last_build();
    let codebuild_id = last
        .as_ref()
        .map(|b| b.id.clone())
        .or_else(|| port.last_build_id());
    match format {
        Format::Human if quiet && outcome.success => out_line(&outcome.image),
        Format::Human => {
            write_stream(false, &crate::report::build_human(&outcome));
            if let Some(id) = &codebuild_id {
                out_line(&format!("CodeBuild build: {id}"));
            }
        }
        Format::Json => {
            let mut v = serde_json::to_value(&outcome)?;
            super::with_backend(
                &mut v,
                super::port_backend(
                    outcome.backend.as_ref(),
                    crate::builder::BackendKind::Codebuild,
                    &port,
                ),
            );
            v["mode"] = "codebuild".into();
            v["local_build_id"] = outcome.build_id.clone().into();
            v["build_id"] = codebuild_id.clone().into();
            v["codebuild"] = serde_json::json!({
                "project": project.name,
                "region": client.env.region,
                "compute_type": compute_type,
                "status": last.as_ref().map(|b| b.status.clone()),
                "duration_s": last.as_ref().and_then(|b| b.duration_s()),
                "log_group": last.as_ref().map(|b| b.log_group.clone()),
                "log_stream": last.as_ref().map(|b| b.log_stream.clone()),
            });
            out_line(&serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(super::build_exit_code(
        &outcome,
        signalled,
        quiet,
        "CodeBuild unreachable",
    ))
}

/// A proposed new file, written only if it does not exist yet (atomic: a temp file renamed without
/// replacing).
fn write_new_file(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// After the local history in `dockui logs`: the CodeBuild builds dockui started (newest first, last known
/// state), so a `--no-wait` build can be found again.
pub fn list_recent(paths: &Paths) {
    let records = cost::records(&records_file(paths));
    if records.is_empty() {
        return;
    }
    let mut latest: Vec<cost::Record> = Vec::new();
    for r in records.into_iter().rev() {
        if !latest.iter().any(|l| l.build_id == r.build_id) {
            latest.push(r);
        }
    }
    out_line("CodeBuild builds (dockui status ID, dockui logs ID):");
    for r in latest.iter().take(20) {
        let took = r
            .duration_s
            .map(|d| format!(" in {}", cost::human_duration(d)))
            .unwrap_or_default();
        out_line(&format!(
            "  {}  {}{took}  ({})",
            r.build_id, r.status, r.region
        ));
    }
}

/// Looks like a CodeBuild build id (`project:uuid`); dockui's own ids have no colon.
pub fn is_codebuild_id(id: &str) -> bool {
    id.contains(':') && !id.starts_with(':') && !id.ends_with(':')
}

/// The client for a build id: the region recorded when dockui started it, else the configured one.
fn client_for(
    config: &Config,
    paths: &Paths,
    id: &str,
) -> anyhow::Result<crate::codebuild::client::AwsClient> {
    let mut cfg = config.codebuild.clone();
    if cfg.region.is_empty()
        && let Some(r) = cost::records(&records_file(paths))
            .into_iter()
            .rev()
            .find(|r| r.build_id == id)
    {
        cfg.region = r.region;
    }
    codebuild::connect(&cfg).map_err(|e| anyhow::anyhow!("AWS CodeBuild: {e}"))
}

/// `dockui status BUILD_ID`: the build's status and phases. Exit 0 succeeded or still running, 1 failed,
/// stopped or timed out, 2 unknown id or error.
pub fn status(config: &Config, paths: &Paths, id: &str, format: Format) -> anyhow::Result<i32> {
    anyhow::ensure!(
        is_codebuild_id(id),
        "{id} is not a CodeBuild build id (PROJECT:UUID); `dockui logs` lists local builds"
    );
    let client = client_for(config, paths, id)?;
    let rt = runtime()?;
    let build = rt
        .block_on(api::get_build(&client, id))
        .map_err(|e| anyhow::anyhow!("AWS CodeBuild: {e}; {}", codebuild::what_to_do_for(&e)))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no CodeBuild build {id} in {} (is the region right?)",
                client.env.region
            )
        })?;
    if build.complete {
        let known = cost::records(&records_file(paths))
            .iter()
            .any(|r| r.build_id == id && r.duration_s.is_some());
        if !known {
            cost::append_record(
                &records_file(paths),
                &cost::Record {
                    build_id: build.id.clone(),
                    project: build.project.clone(),
                    region: client.env.region.clone(),
                    compute_type: build.compute_type.clone(),
                    status: build.status.clone(),
                    duration_s: build.duration_s(),
                },
            );
        }
    }
    // moto repeats phases on every read; show each (phase, status) once.
    let mut seen = std::collections::BTreeSet::new();
    let phases: Vec<&api::Phase> = build
        .phases
        .iter()
        .filter(|p| seen.insert((p.kind.clone(), p.status.clone())))
        .collect();
    match format {
        Format::Human => {
            out_line(&format!(
                "{}: {} (phase {})",
                build.id, build.status, build.current_phase
            ));
            for p in &phases {
                let took = p.duration_s.map(cost::human_duration).unwrap_or_default();
                out_line(&format!("  {:<18} {:<12} {took}", p.kind, p.status));
                for m in &p.messages {
                    out_line(&format!("    {m}"));
                }
            }
            if let Some(d) = build.duration_s() {
                out_line(&format!("  took {}", cost::human_duration(d)));
            }
            out_line(&format!("  log: {} {}", build.log_group, build.log_stream));
        }
        Format::Json => out_line(&serde_json::to_string_pretty(&serde_json::json!({
            "mode": "codebuild",
            "build_id": build.id,
            "project": build.project,
            "status": build.status,
            "complete": build.complete,
            "success": build.succeeded(),
            "current_phase": build.current_phase,
            "phases": phases.iter().map(|p| serde_json::json!({
                "phase": p.kind, "status": p.status, "duration_s": p.duration_s, "messages": p.messages
            })).collect::<Vec<_>>(),
            "duration_s": build.duration_s(),
            "log_group": build.log_group,
            "log_stream": build.log_stream,
        }))?),
    }
    Ok(if !build.complete || build.succeeded() {
        0
    } else {
        1
    })
}

/// `dockui logs BUILD_ID` for a CodeBuild id: the phases and log, followed until the build ends.
pub fn logs(config: &Config, paths: &Paths, id: &str, format: Format) -> anyhow::Result<i32> {
    let client = client_for(config, paths, id)?;
    let rt = runtime()?;
    let poll = Duration::from_millis(config.codebuild.poll_ms);
    let mut lines = Vec::new();
    let build = rt
        .block_on(codebuild::follow(&client, id, poll, |l| match format {
            Format::Human => out_line(&l),
            Format::Json => lines.push(l),
        }))
        .map_err(|e| anyhow::anyhow!("AWS CodeBuild: {e}"))?;
    if format == Format::Json {
        out_line(&serde_json::to_string_pretty(&serde_json::json!({
            "mode": "codebuild",
            "build_id": build.id,
            "status": build.status,
            "success": build.succeeded(),
            "lines": lines,
        }))?);
    }
    Ok(if build.succeeded() { 0 } else { 1 })
}

/// The TUI on CodeBuild (`auto` found no engine): the port asks before a paid build (the first `b` shows
/// the cost warning and the buildspec it would send in the Build log; `b` again starts), `c` stops the
/// build in the cloud, and the engine plans no smoke tests (they run inside the build, in the buildspec).
pub fn tui_port(ctx: &mut engine::EngineContext, paths: &Paths) -> anyhow::Result<()> {
    let port = codebuild::interactive_port(&ctx.config, &ctx.project_dir, records_file(paths))
        .map_err(|e| anyhow::anyhow!("AWS CodeBuild: {e}"))?;
    ctx.docker = std::sync::Arc::new(port);
    ctx.config.smoke.commands.clear();
    ctx.config.smoke.infer = false;
    Ok(())
}
