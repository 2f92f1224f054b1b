//! Command line: the TUI by default, headless subcommands for CI. Exit codes: 0 ok, 1 findings/build failed,
//! 2 usage, configuration or I/O error (and an unreachable engine).

use crate::analyze;
use crate::config::Config;
use crate::docker::{BollardEngine, DockerPort, standin};
use crate::engine::{self, BuildRequest, EngineContext};
use crate::paths::Paths;
use crate::report;
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "dockui",
    version,
    about = "A terminal cockpit for building Docker images on GPU servers"
)]
pub struct Cli {
    /// Project directory to open in the TUI (default: the current directory).
    pub dir: Option<PathBuf>,
    /// Use this user config file instead of <config dir>/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Look around only: never write files, build or push (for a shared box).
    #[arg(long, global = true)]
    pub readonly: bool,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Analyse the Dockerfile, requirements and workflows for conflicts (exit 1 when any is at error level).
    Check {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        #[command(flatten)]
        host: HostFlags,
    },
    /// Print the fixes as unified diffs and apply those the level allows (each write keeps a backup).
    Fix {
        dir: PathBuf,
        /// Only fixes of these rules (repeatable).
        #[arg(long = "rule", value_name = "ID")]
        rules: Vec<String>,
        /// The most invasive fixes to apply: safe keeps meaning; suggestion changes what gets installed.
        #[arg(long, value_enum, default_value_t = LevelArg::Safe)]
        level: LevelArg,
        /// Print the diffs, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// List every rule: id, severity, summary, whether it has a fix.
    Rules {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Restore the last file dockui wrote in this project (the current directory), or the last write of FILE,
    /// from its backup; shows the diff, and refuses when the file changed since dockui wrote it.
    Undo {
        file: Option<PathBuf>,
        /// Restore even when the file changed since dockui wrote it (those changes are lost).
        #[arg(long)]
        force: bool,
    },
    /// Without BUILD_ID: the build history. With it: every attempt's full log.
    Logs {
        build_id: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Build the image through the Docker engine.
    Build {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Extra build argument, KEY=VALUE (repeatable); overrides the config's [build.args].
        #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        build_args: Vec<(String, String)>,
        #[command(flatten)]
        host: HostFlags,
    },
    /// Print the GPUs, driver and CUDA version as NVML reports them.
    Gpu {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Push the built image (DIR: the project's image; or an IMAGE reference), report the manifest digest and
    /// check it is pullable from the registry by digest. Exit 0 pullable, 1 pushed but not pullable, 2 error.
    Push {
        target: String,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write the bundled demo project into DIR (default: <data dir>/demo) and open it in the TUI.
    Demo { dir: Option<PathBuf> },
    /// Build dockui's offline stand-in base image (busybox + shims) under dockui-standin/.
    StandIn {
        #[arg(long, default_value = standin::DEMO_BASE)]
        tag: String,
    },
}

/// Host-aware checks use this machine's GPUs and driver (NVML): on by default when GPUs are present.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct HostFlags {
    /// Require the host's GPUs for the checks (error when NVML has none).
    #[arg(long, conflicts_with = "no_host_gpu")]
    pub host_gpu: bool,
    /// Never use the host's GPUs (analyse the files alone, e.g. on a CI runner).
    #[arg(long)]
    pub no_host_gpu: bool,
}

impl HostFlags {
    fn resolve(self, config: &Config) -> anyhow::Result<Option<crate::analyze::HostGpu>> {
        if self.no_host_gpu {
            return Ok(None);
        }
        let state = crate::gpu::probe(nvml_lib(config).as_deref());
        let host = crate::gpu::host::host_gpu(&state);
        if self.host_gpu && host.is_none() {
            let why = match state {
                crate::gpu::GpuState::Unavailable { reason, hint } => format!("{reason} ({hint})"),
                crate::gpu::GpuState::Ready(_) => "NVML reports no GPU".into(),
            };
            anyhow::bail!("--host-gpu: no GPUs on this host: {why}");
        }
        Ok(host)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    Safe,
    Suggestion,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got '{s}'"))
}

pub fn main() -> i32 {
    // Like other Unix tools, end quietly when the reader goes away (`dockui logs | head`) instead of panicking.
    // SAFETY: resetting a signal disposition to its default at startup, before any threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let paths = Paths::discover();
    crate::logging::init(&paths.log_file());
    paths.ensure_private();
    match run(cli, &paths) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dockui: {e:#}");
            2
        }
    }
}

fn load_config(cli_config: Option<&Path>, paths: &Paths, project: &Path) -> anyhow::Result<Config> {
    let user = cli_config
        .map(Path::to_path_buf)
        .unwrap_or_else(|| paths.user_config_file());
    if let Some(named) = cli_config {
        // A file the user named must exist; the default location is optional.
        anyhow::ensure!(
            named.is_file(),
            "config file {} does not exist",
            named.display()
        );
    }
    let (config, _) = Config::load(Some(&user), project)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(config)
}

/// `gpu.nvml_lib` from config; empty means $DOCKUI_NVML_LIB or the system library.
pub fn nvml_lib(config: &Config) -> Option<PathBuf> {
    Some(&config.gpu.nvml_lib)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// Headless progress: print what `lines` makes of each event on stderr (stdout stays for the result) until
/// the sender is dropped; await the handle to flush it.
fn progress_to_stderr<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
    lines: impl Fn(T) -> Vec<String> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            for l in lines(ev) {
                eprintln!("{l}");
            }
        }
    })
}

fn project_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    Ok(dir.canonicalize()?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn engine_context(config: &Config, project: &Path, paths: &Paths) -> EngineContext {
    let bollard = BollardEngine::connect(&config.engine.docker_host, config.engine.timeout_s);
    let docker: Arc<dyn DockerPort> = Arc::new(bollard.clone());
    EngineContext {
        host: None,
        docker,
        bollard,
        project_dir: project.to_path_buf(),
        config: config.clone(),
        paths: paths.clone(),
    }
}

fn run(cli: Cli, paths: &Paths) -> anyhow::Result<i32> {
    let config_flag = cli.config.as_deref();
    match cli.command {
        None => {
            let dir = project_dir(cli.dir.as_deref().unwrap_or(Path::new(".")))?;
            open_tui(config_flag, paths, &dir, cli.readonly)
        }
        Some(Cmd::Build { .. } | Cmd::Push { .. } | Cmd::Undo { .. } | Cmd::StandIn { .. })
            if cli.readonly =>
        {
            anyhow::bail!(
                "read-only mode (--readonly): building, pushing and writing files are off"
            )
        }
        Some(Cmd::Demo { dir }) => {
            let dir = dir.unwrap_or_else(|| paths.data_dir.join("demo"));
            if cli.readonly {
                // Read-only: open an existing demo copy, never write one.
                anyhow::ensure!(
                    dir.join("Dockerfile").is_file(),
                    "read-only mode: no demo at {} to open (run `dockui demo` once without --readonly)",
                    dir.display()
                );
            } else {
                crate::demo::materialize(&dir)?;
            }
            open_tui(config_flag, paths, &project_dir(&dir)?, cli.readonly)
        }
        Some(Cmd::Check { dir, format, host }) => {
            let dir = project_dir(&dir)?;
            let config = load_config(config_flag, paths, &dir)?;
            let mut opts = config.analyze_options(paths);
            opts.host = host.resolve(&config)?;
            let analysis = analyze::analyze_project(&dir, &opts)?;
            match format {
                CheckFormat::Human => print!("{}", analyze::report::human(&analysis)),
                CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&analysis)?),
                CheckFormat::Sarif => println!(
                    "{}",
                    serde_json::to_string_pretty(&analyze::sarif::to_sarif(&analysis, &dir))?
                ),
            }
            Ok(if analysis.has_errors() { 1 } else { 0 })
        }
        Some(Cmd::Build {
            dir,
            format,
            build_args,
            host,
        }) => {
            let dir = project_dir(&dir)?;
            let config = load_config(config_flag, paths, &dir)?;
            let ctx = engine_context(&config, &dir, paths);
            let args: BTreeMap<String, String> = build_args.into_iter().collect();
            let host = host.resolve(&config)?;
            let req = BuildRequest::for_host(&dir, &config, paths, host).with_args(args);
            let rt = runtime()?;
            let outcome = rt.block_on(async {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                // Headless human output streams the log to stderr; JSON keeps stdout to one object.
                let printer = progress_to_stderr(rx, move |ev| match ev {
                    engine::EngineEvent::BuildLog(lines) if format == Format::Human => lines,
                    _ => Vec::new(),
                });
                let cancel = tokio_util::sync::CancellationToken::new();
                let c = cancel.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        c.cancel();
                    }
                });
                let outcome = engine::build::run_build(ctx.docker.as_ref(), req, &tx, cancel).await;
                drop(tx);
                let _ = printer.await;
                outcome
            });
            match format {
                Format::Human => print!("{}", report::build_human(&outcome)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
            }
            Ok(if outcome.engine_unreachable {
                eprintln!(
                    "dockui: {}",
                    outcome.error.as_deref().unwrap_or("engine unreachable")
                );
                eprintln!(
                    "dockui: start the Docker engine or set engine.docker_host / DOCKER_HOST"
                );
                2
            } else if outcome.success {
                0
            } else {
                1
            })
        }
        Some(Cmd::Fix {
            dir,
            rules,
            level,
            dry_run,
            format,
        }) => {
            // Read-only: show the diffs, write nothing.
            let dry_run = dry_run || cli.readonly;
            let dir = project_dir(&dir)?;
            let config = load_config(config_flag, paths, &dir)?;
            let level = match level {
                LevelArg::Safe => crate::analyze::FixLevel::Safe,
                LevelArg::Suggestion => crate::analyze::FixLevel::Suggestion,
            };
            let run = crate::fix::headless::run(
                &dir,
                &config.analyze_options(paths),
                &crate::fix::Backups::new(paths.backups_dir()),
                &rules,
                level,
                dry_run,
            )?;
            match format {
                Format::Human => print!("{}", crate::fix::headless::render_human(&run)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&run)?),
            }
            Ok(if run.errors.is_empty() { 0 } else { 1 })
        }
        Some(Cmd::Rules { format }) => {
            let rules = analyze::rules::catalog();
            match format {
                Format::Human => print!("{}", report::rules_human(&rules)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&rules)?),
            }
            Ok(0)
        }
        Some(Cmd::Undo { file, force }) => {
            let backups = crate::fix::Backups::new(paths.backups_dir());
            // Scoped to the project it runs in: without FILE, only writes under the current directory.
            let cwd = std::env::current_dir()?;
            let project = if file.is_some() {
                None
            } else {
                Some(cwd.as_path())
            };
            let (record, diff) = backups.undo(project, file.as_deref(), force)?;
            print!("{diff}");
            println!(
                "restored {} from {}",
                record.file.display(),
                record.backup.display()
            );
            Ok(0)
        }
        Some(Cmd::Logs { build_id, format }) => {
            let builds = paths.builds_dir();
            match build_id {
                None => {
                    let history = engine::history::list(&builds);
                    match format {
                        Format::Human => print!("{}", report::history_human(&history)),
                        Format::Json => println!("{}", serde_json::to_string_pretty(&history)?),
                    }
                }
                Some(id) => {
                    let logs = engine::history::attempt_logs(&builds, &id)?;
                    match format {
                        Format::Human => {
                            for (path, _) in &logs {
                                println!("==> {} <==", path.display());
                                let mut f = std::fs::File::open(path)?;
                                std::io::copy(&mut f, &mut std::io::stdout())?;
                            }
                        }
                        Format::Json => {
                            let v: Vec<_> = logs
                                .iter()
                                .map(|(p, n)| serde_json::json!({"attempt": n, "log_path": p}))
                                .collect();
                            println!("{}", serde_json::to_string_pretty(&v)?);
                        }
                    }
                }
            }
            Ok(0)
        }
        Some(Cmd::Push { target, format }) => {
            let as_dir = Path::new(&target);
            let (config, project, source) = if as_dir.is_dir() {
                let dir = project_dir(as_dir)?;
                let config = load_config(config_flag, paths, &dir)?;
                let repository = config.build.repository(&dir);
                // The image of the last successful build (its tag may come from `tag = "auto"`).
                let source = engine::history::latest_image(&paths.builds_dir(), &repository)
                    .unwrap_or_else(|| {
                        format!(
                            "{repository}:{}",
                            engine::tags::resolve(&config.build.tag, &dir)
                        )
                    });
                (config, Some(dir), source)
            } else {
                (
                    load_config(config_flag, paths, Path::new("."))?,
                    None,
                    target.clone(),
                )
            };
            let engine =
                BollardEngine::connect(&config.engine.docker_host, config.engine.timeout_s);
            let rt = runtime()?;
            let report = rt.block_on(async {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let printer = progress_to_stderr(rx, |p| {
                    crate::docker::push::progress_line(&p).into_iter().collect()
                });
                let report =
                    engine::push::run(&engine, &config, project.as_deref(), &source, tx).await;
                let _ = printer.await;
                report
            });
            match format {
                Format::Human => print!("{}", crate::registry::report::render_human(&report)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(report.exit_code())
        }
        Some(Cmd::Gpu { format }) => {
            let config = load_config(config_flag, paths, Path::new("."))?;
            let state = crate::gpu::probe(nvml_lib(&config).as_deref());
            match format {
                Format::Human => print!("{}", crate::gpu::render_human(&state)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&state)?),
            }
            Ok(0)
        }
        Some(Cmd::StandIn { tag }) => {
            let config = load_config(config_flag, paths, Path::new("."))?;
            let docker =
                BollardEngine::connect(&config.engine.docker_host, config.engine.timeout_s);
            let rt = runtime()?;
            rt.block_on(async {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let printer = progress_to_stderr(rx, |ev| match ev {
                    crate::docker::BuildEvent::Line(l) => vec![l],
                    _ => Vec::new(),
                });
                let built = standin::ensure(&docker, &tag, tx).await;
                let _ = printer.await;
                match built {
                    Ok(true) => println!("built {tag}"),
                    Ok(false) => println!("{tag} already present"),
                    Err(e) => anyhow::bail!("{e}"),
                }
                Ok(0)
            })
        }
    }
}

fn open_tui(
    config_flag: Option<&Path>,
    paths: &Paths,
    dir: &Path,
    readonly: bool,
) -> anyhow::Result<i32> {
    // Everything that can fail on bad input happens before the terminal is touched.
    let mut config = load_config(config_flag, paths, dir)?;
    let keymap = crate::tui::keymap::Keymap::default()
        .with_overrides(&config.keys.bind)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    if readonly {
        config.build.auto_fix = "off".into();
    } else {
        crate::fix::write::sweep_project_temps(dir, &config.build.dockerfile);
    }
    let ctx = engine_context(&config, dir, paths);
    let rt = runtime()?;
    rt.block_on(crate::tui::run(ctx, keymap, readonly))?;
    Ok(0)
}
