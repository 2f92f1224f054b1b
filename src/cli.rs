//! Command line: the TUI by default, headless subcommands for CI. Exit codes: 0 ok, 1 findings/build failed,
//! 2 usage, configuration or I/O error (and every failure to reach or use the engine, an unreadable build
//! context included), 128+N when signal N (INT, TERM, HUP) stopped a build or the TUI.

mod cache;
mod codebuild;
mod doctor;
mod inspect;
mod notify;
mod pins;
mod rollback;

use crate::analyze;
use crate::builder::select::{self, Choice};
use crate::config::Config;
use crate::docker::{BollardEngine, standin};
use crate::engine::{self, BuildRequest, EngineContext};
use crate::paths::Paths;
use crate::report;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;

// Output goes through these instead of std's macros: SIGPIPE stays ignored (so a dropped engine connection
// is an error dockui reports, not a silent death), and a closed stdout or stderr (`dockui logs | head`)
// then must not panic either. Text that cannot be delivered is dropped quietly.
macro_rules! print {
    ($($t:tt)*) => { $crate::cli::write_stream(false, &format!($($t)*)) };
}
macro_rules! println {
    () => { $crate::cli::write_stream(false, "\n") };
    ($($t:tt)*) => { $crate::cli::write_stream(false, &format!("{}\n", format_args!($($t)*))) };
}
macro_rules! eprintln {
    ($($t:tt)*) => { $crate::cli::write_stream(true, &format!("{}\n", format_args!($($t)*))) };
}

/// Write to stdout (or stderr) without panicking; a reader that went away is not an error of dockui's.
/// Control characters from foreign text (build output, Dockerfile lines) are shown, never executed.
pub fn write_stream(stderr: bool, text: &str) {
    use std::io::Write;
    let text = crate::terminal_text::terminal_safe(text);
    let _ = if stderr {
        let mut e = std::io::stderr().lock();
        e.write_all(text.as_bytes()).and_then(|_| e.flush())
    } else {
        let mut o = std::io::stdout().lock();
        o.write_all(text.as_bytes()).and_then(|_| o.flush())
    };
}

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
    /// TUI: build argument KEY=VALUE (repeatable) for the analysis and the builds; overrides `[build.args]`.
    #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub build_args: Vec<(String, String)>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

// Parsed once per run: the size of the largest variant (build's flags) does not matter.
// `defer`: a subcommand's arguments are built only when it is the one invoked (or its help is shown); building
// all of them was a tenth of a `dockui check` process.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Cmd {
    /// Analyse the Dockerfile, requirements and workflows for conflicts (exit 1 when any is at error level).
    Check {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = CheckFormat::Human)]
        format: CheckFormat,
        #[command(flatten)]
        source: SourceFlags,
        #[command(flatten)]
        host: HostFlags,
        /// Ask the registry for the base images' digests (pin rules DU140/DU141).
        #[arg(long)]
        resolve_digests: bool,
    },
    /// Print the fixes as unified diffs and apply those the level allows (each write keeps a backup).
    Fix {
        dir: PathBuf,
        /// Only fixes of these rules (repeatable).
        #[arg(long = "rule", value_name = "ID")]
        rules: Vec<String>,
        /// The most invasive fixes to apply: safe keeps meaning; suggestion changes what gets installed.
        #[arg(long, visible_alias = "auto-fix", value_enum, default_value_t = LevelArg::Safe)]
        level: LevelArg,
        /// Print the diffs, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[command(flatten)]
        source: SourceFlags,
        /// Ask the registry for the base images' digests and propose pinning them (DU140, a suggestion).
        #[arg(long)]
        pin_bases: bool,
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
    /// Without BUILD_ID: the build history. With it (or `last`, the newest build): every attempt's full log.
    Logs {
        /// A build id (a unique prefix is enough), or `last`.
        build_id: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Build the image through the Docker engine: attempt, classify a failure, fix per --auto-fix, retry; then
    /// smoke-test the image. Progress goes to stderr, the result to stdout (exit 0 built, 1 failed, 2 error).
    Build {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        #[command(flatten)]
        source: SourceFlags,
        #[command(flatten)]
        build: BuildFlags,
        #[command(flatten)]
        host: HostFlags,
        /// The AWS CodeBuild backend's flags.
        #[command(flatten)]
        cloud: codebuild::CodeBuildFlags,
    },
    /// Status and phases of an AWS CodeBuild build dockui started (`build --backend codebuild --no-wait`).
    /// Exit 0 succeeded or still running, 1 failed or stopped, 2 unknown id or error.
    Status {
        /// The CodeBuild build id, PROJECT:UUID.
        build_id: String,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// What this machine can build on: every backend in the order `--backend auto` tries them, each with
    /// reachable / why not / what to do, and the one `auto` picks. Exit 0 when auto has a usable one, 1 not.
    Doctor(doctor::DoctorArgs),
    /// Print the GPUs, driver and CUDA version as NVML reports them.
    Gpu {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Push the built image (DIR: the project's image; or an IMAGE reference), report the manifest digest and
    /// check it is pullable from the registry by digest. Exit 0 pullable, 1 pushed but not pullable, 2 error.
    ///
    /// Tags: `push IMAGE:TAG` pushes exactly TAG; `push DIR` pushes `[push] tags`, else the tag the image was
    /// built with. An image whose last build failed its smoke tests needs --force.
    Push {
        /// A project directory, or an image reference `[registry/]repository[:tag]`.
        target: String,
        /// Push under this tag instead (repeatable); replaces the reference's tag and `[push] tags`.
        #[arg(short = 't', long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Push although the image failed its smoke tests (the result is marked `forced`).
        #[arg(long)]
        force: bool,
        /// Push a multi-platform image: IMAGE:TAG-<arch> for each platform, then an image index over them
        /// under TAG (default: the platforms of the image's last multi-platform build).
        #[arg(long, value_name = "OS/ARCH,...")]
        platform: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write the bundled demo project into DIR (default: <data dir>/demo) and open it in the TUI.
    Demo { dir: Option<PathBuf> },
    /// Layers, largest files and wasted space of an image (streamed from the engine's export, or a saved
    /// archive file). With a limit: exit 1 when the image misses it (CI gate), 0 otherwise, 2 on errors.
    Inspect(inspect::InspectArgs),
    /// Point REPO:TAG back to an earlier manifest from dockui's push history (default: the previous push),
    /// then check the registry serves it and it is pullable. Exit 0 done, 1 done but not verified, 2 error.
    Rollback(rollback::RollbackArgs),
    /// Build dockui's offline stand-in base image (busybox + shims) under dockui-standin/.
    StandIn {
        #[arg(long, default_value = standin::DEMO_BASE)]
        tag: String,
    },
}

// What the image is built from. These also change what the analysis sees, so `check`, `fix` and `build` take
// them alike (names and meanings as `docker build`'s).
// (A plain comment: a doc comment on a flattened group would replace the help line of the commands
// that use it, their arguments being built when invoked: `#[command(defer = true)]` on `Cmd`.)
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SourceFlags {
    /// Dockerfile to use, as `docker build -f` (relative to the current directory, inside the project).
    /// Default: `[build] dockerfile` in the project.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Build argument KEY=VALUE (repeatable); overrides `[build.args]`. The analysis uses it too.
    #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub build_args: Vec<(String, String)>,
    /// Build on this base image instead: sets the ARG that the Dockerfile's FROM names (e.g. BASE_IMAGE).
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
}

// How the build runs (`build` only).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BuildFlags {
    /// Build context directory, as docker build's PATH (default: the project directory).
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// Name and tag NAME[:TAG] (repeatable; the first is the main one). `auto`: the configured image with the
    /// git tag, else the short commit (-dirty), else a UTC timestamp; `NAME:auto` likewise.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Attempts, counting the first (a retry happens only after a fix changed the input).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: Option<u32>,
    /// Which fixes the build may apply by itself between attempts (default: `[build] auto_fix`).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub auto_fix: Option<AutoFixArg>,
    /// Skip the smoke tests after the build.
    #[arg(long)]
    pub no_smoke: bool,
    /// Do not use the layer cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Always try to pull a newer version of the base image.
    #[arg(long)]
    pub pull: bool,
    /// Build up to this stage.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Network for RUN steps: default, host, none, or a network name (e.g. `host` when the engine's bridge
    /// is missing).
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// No progress on stderr; the human result is the image reference alone on success.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Target platform(s), e.g. linux/arm64 or linux/amd64,linux/arm64 (each built on its own as
    /// TAG-<arch>; `push` then puts an image index over them). Overrides `[build] platform(s)`.
    #[arg(long, value_name = "OS/ARCH[,...]")]
    pub platform: Option<String>,
    /// Where to build (default: `[engine] backend`, else auto: the first usable one in `dockui doctor`'s
    /// order). A backend named here that is not usable ends dockui with exit 2 and what to do.
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub backend: Option<BackendArg>,
    /// Cache to import, buildx syntax (repeatable): `type=registry,ref=IMAGE`, `type=local,src=DIR`,
    /// `type=gha`; replaces `[build] cache_from`.
    #[arg(long = "cache-from", value_name = "SPEC")]
    pub cache_from: Vec<String>,
    /// Cache to export, buildx syntax (repeatable): `type=inline`, `type=registry,ref=IMAGE:cache,mode=max`,
    /// `type=local,dest=DIR`; replaces `[build] cache_to`. The Docker engine exports only `type=inline`.
    #[arg(long = "cache-to", value_name = "SPEC")]
    pub cache_to: Vec<String>,
    /// Push while building, under every `-t` (a BuildKit daemon: `--output type=image,push=true`). Other
    /// backends keep the image in their store: push it with `dockui push` after the build.
    #[arg(long)]
    pub push: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Auto,
    /// A Docker engine: [engine] docker_host, DOCKER_HOST, docker context, else the local socket.
    #[value(alias = "engine")]
    Docker,
    Podman,
    Buildkit,
    Codebuild,
}

impl BackendArg {
    fn choice(self) -> Choice {
        match self {
            BackendArg::Auto => Choice::Auto,
            BackendArg::Docker => Choice::Docker,
            BackendArg::Podman => Choice::Podman,
            BackendArg::Buildkit => Choice::Buildkit,
            BackendArg::Codebuild => Choice::Codebuild,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum AutoFixArg {
    Off,
    Safe,
    Suggestion,
}

impl AutoFixArg {
    fn as_config(self) -> &'static str {
        match self {
            AutoFixArg::Off => "off",
            AutoFixArg::Safe => "safe",
            AutoFixArg::Suggestion => "suggestion",
        }
    }
}

// Host-aware checks use this machine's GPUs and driver (NVML): on by default when GPUs are present.
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

impl Cli {
    /// `check` (without registry lookups) and `rules` only read files: nothing is written to dockui's state
    /// or data dirs, so those are not set up (made private) for them. `check` runs once per file
    /// in CI and pre-commit hooks, where that set-up was a tenth of its time.
    /// The command promised one JSON object on stdout (`--format json`): an error before its result is then
    /// that object (`{"error": ...}`), not a bare line on stderr only.
    fn wants_json(&self) -> bool {
        match &self.command {
            Some(Cmd::Check {
                format: CheckFormat::Json,
                ..
            }) => true,
            Some(
                Cmd::Fix { format, .. }
                | Cmd::Rules { format }
                | Cmd::Logs { format, .. }
                | Cmd::Build { format, .. }
                | Cmd::Status { format, .. }
                | Cmd::Gpu { format }
                | Cmd::Push { format, .. },
            ) => *format == Format::Json,
            Some(Cmd::Doctor(a)) => a.format == Format::Json,
            Some(Cmd::Inspect(a)) => a.format == Format::Json,
            Some(Cmd::Rollback(a)) => a.format == Format::Json,
            _ => false,
        }
    }

    fn only_reads_files(&self) -> bool {
        matches!(
            self.command,
            Some(
                Cmd::Check {
                    resolve_digests: false,
                    ..
                } | Cmd::Rules { .. }
            )
        )
    }
}

/// `--format json` or `--format=json` among the arguments (read when clap could not parse them).
fn asks_for_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    let mut prev_format = false;
    for a in args {
        let a = a.to_string_lossy();
        if (prev_format && a == "json") || a == "--format=json" {
            return true;
        }
        prev_format = a == "--format";
    }
    false
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got '{s}'"))
}

pub fn main() -> i32 {
    // SIGPIPE must never end dockui: a write to an engine socket that was closed under us (mid-upload) is
    // an engine error with a message, a JSON result and a build record. Closed stdout/stderr are handled by
    // the output macros above. (Rust ignores SIGPIPE already; say so explicitly, whoever starts us.)
    // SAFETY: setting a signal disposition at startup, before any threads exist.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return 0;
            }
            // `--format json` was asked for: a bad flag value is an error object on stdout, like any other.
            if asks_for_json(std::env::args_os().skip(1)) {
                let what = e
                    .render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim_start_matches("error: ")
                    .to_string();
                println!("{}", serde_json::json!({ "error": what, "exit_code": 2 }));
            }
            return 2;
        }
    };
    // One rustls provider for the whole process (TLS to engines, registries), chosen before any TLS use.
    crate::docker::remote::install_crypto_provider();
    let paths = Paths::discover();
    crate::logging::init(&paths.log_file());
    if !cli.only_reads_files() {
        paths.ensure_private();
    }
    let json = cli.wants_json();
    if matches!(cli.command, Some(Cmd::Check { .. } | Cmd::Fix { .. })) {
        crate::fatal_signals::exit_on_signal(json);
    }
    match run(cli, &paths) {
        Ok(code) => code,
        Err(e) => {
            crate::fatal_signals::finishing();
            eprintln!("dockui: {e:#}");
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": format!("{e:#}"), "exit_code": 2 })
                );
            }
            2
        }
    }
}

pub(crate) fn load_config(
    cli_config: Option<&Path>,
    paths: &Paths,
    project: &Path,
) -> anyhow::Result<Config> {
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

/// A push's result on stdout: the human report, or its JSON with the endpoint it went through.
fn print_push_report(
    format: Format,
    report: &crate::registry::report::PushReport,
    backend: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    match format {
        Format::Human => print!("{}", crate::registry::report::render_human(report)),
        Format::Json => {
            let mut v = serde_json::to_value(report)?;
            if let Some(b) = backend {
                with_backend(&mut v, b);
            }
            println!("{}", serde_json::to_string_pretty(&v)?)
        }
    }
    Ok(())
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

/// An attempt's raw log to stdout, line by line through `terminal_safe` (the file keeps the engine's bytes).
fn replay_log(path: &Path) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        let text = String::from_utf8_lossy(&line);
        out.write_all(crate::terminal_text::terminal_safe(&text).as_bytes())?;
        line.clear();
    }
    out.flush()
}

fn project_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    // Said as what it is, before the config loader reports the project's .dockui.toml as unreadable.
    if let Err(e) = std::fs::read_dir(dir) {
        anyhow::bail!(
            "cannot read the project directory {}: {e} (check its permissions, or run as its owner)",
            dir.display()
        );
    }
    Ok(dir.canonicalize()?)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The backend `[engine] backend` names (or `flag`, which wins).
fn backend_choice(config: &Config, flag: Option<BackendArg>) -> anyhow::Result<Choice> {
    match flag {
        Some(f) => Ok(f.choice()),
        None => Choice::parse(&config.engine.backend)
            .map_err(|e| anyhow::anyhow!("invalid configuration: [engine] backend: {e}")),
    }
}

/// Pick the builder (`select`) and the engine context around it. An explicitly named backend that is not
/// usable is an error with what to do; `auto` always gives a port.
fn engine_context(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    project: &Path,
    paths: &Paths,
    choice: Choice,
) -> Result<(EngineContext, select::Selected), select::SelectError> {
    let selected = rt.block_on(select::select(config, &select::Env::from_process(), choice))?;
    let docker: Arc<dyn crate::builder::BuilderPort> = selected.port.clone();
    Ok((
        EngineContext {
            host: None,
            docker,
            project_dir: project.to_path_buf(),
            config: config.clone(),
            paths: paths.clone(),
            config_file: None,
        },
        selected,
    ))
}

/// Put the result's `backend` object (`builder::backend_json`) in a JSON result, in place of the result's own
/// `BackendInfo` (kind, endpoint, context), which it completes.
pub(crate) fn with_backend(v: &mut serde_json::Value, backend: serde_json::Value) {
    if let Some(o) = v.as_object_mut() {
        o.insert("backend".into(), backend);
    }
}

/// The `backend` object of a result that ran on `port`: the kind the result names (what the builder said
/// it is), else `kind`.
pub(crate) fn port_backend(
    result: Option<&crate::builder::BackendInfo>,
    kind: crate::builder::BackendKind,
    port: &dyn crate::builder::BuilderPort,
) -> serde_json::Value {
    crate::builder::backend_json(result.map_or(kind, |b| b.kind), &port.endpoint_json())
}

/// Candidates `auto` passed over before the one it picked, one stderr line each.
fn passed_over(selected: &select::Selected) -> Vec<String> {
    selected
        .skipped
        .iter()
        .map(|p| {
            format!(
                "dockui: backend {} ({}) passed over: {}",
                p.backend.as_str(),
                p.source,
                p.why_not.as_deref().unwrap_or("not usable")
            )
        })
        .chain(std::iter::once(format!(
            "dockui: building on {} ({})",
            selected.probe.info().label(),
            selected.probe.source
        )))
        .collect()
}

fn run(cli: Cli, paths: &Paths) -> anyhow::Result<i32> {
    let config_flag = cli.config.as_deref();
    let tui_args = cli.build_args.clone();
    match cli.command {
        None => {
            let dir = project_dir(cli.dir.as_deref().unwrap_or(Path::new(".")))?;
            open_tui(config_flag, paths, &dir, cli.readonly, &tui_args)
        }
        Some(
            Cmd::Build { .. }
            | Cmd::Push { .. }
            | Cmd::Undo { .. }
            | Cmd::StandIn { .. }
            | Cmd::Rollback(_),
        ) if cli.readonly => {
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
            open_tui(
                config_flag,
                paths,
                &project_dir(&dir)?,
                cli.readonly,
                &tui_args,
            )
        }
        Some(Cmd::Check {
            dir,
            format,
            source,
            host,
            resolve_digests,
        }) => {
            let dir = project_dir(&dir)?;
            let mut config = load_config(config_flag, paths, &dir)?;
            apply_source(&mut config, &dir, &source)?;
            let mut opts = config.analyze_options(paths);
            opts.host = host.resolve(&config)?;
            if resolve_digests {
                opts.base_digests = Some(pins::base_digests(&config, &dir, &opts)?);
            }
            let analysis = analyze::analyze_project(&dir, &opts)?;
            crate::fatal_signals::finishing();
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
            source,
            build,
            host,
            cloud,
        }) => {
            let dir = project_dir(&dir)?;
            let mut config = load_config(config_flag, paths, &dir)?;
            apply_source(&mut config, &dir, &source)?;
            apply_build_flags(&mut config, &build);
            cloud.apply(&mut config);
            // Before any builder is asked: the engine would only say "failed to read dockerfile" from its tmp dir.
            let dockerfile = dir.join(&config.build.dockerfile);
            anyhow::ensure!(
                dockerfile.is_file(),
                "no Dockerfile at {}: write one, or name yours with -f FILE or [build] dockerfile",
                dockerfile.display()
            );
            let choice = backend_choice(&config, build.backend)?;
            let host = host.resolve(&config)?;
            let rt = runtime()?;
            // `auto` stopped at an endpoint the user set that does not answer: no attempt, no record.
            let chosen =
                engine_context(&rt, &config, &dir, paths, choice).and_then(|(c, s)| {
                    match s.refusal() {
                        Some(e) => Err(e),
                        None => Ok((c, s)),
                    }
                });
            let (ctx, selected) = match chosen {
                Ok(c) => c,
                Err(e) => {
                    // Named explicitly and not usable: nothing is built; the result says why.
                    eprintln!("dockui: {e}");
                    if format == Format::Json {
                        let outcome = engine::BuildOutcome {
                            error: Some(e.to_string()),
                            backend: e.probe.as_ref().map(|p| p.info()),
                            ..Default::default()
                        };
                        let mut v = serde_json::to_value(&outcome)?;
                        if let Some(p) = &e.probe {
                            with_backend(&mut v, p.backend_json());
                        }
                        println!("{}", serde_json::to_string_pretty(&v)?);
                    }
                    return Ok(2);
                }
            };
            if !build.quiet && !selected.skipped.is_empty() {
                for line in passed_over(&selected) {
                    eprintln!("{line}");
                }
            }
            // `auto` found nothing usable: what each backend would need, in doctor's order (codebuild slice).
            if choice == select::Choice::Auto && !selected.probe.usable() {
                for line in codebuild::nothing_usable(&rt, &config) {
                    eprintln!("{line}");
                }
            }
            let mut req = BuildRequest::for_host(&dir, &config, paths, host);
            if !build.tags.is_empty() {
                let refs = resolve_tags(&build.tags, &config, &dir)?;
                req.spec.tag = refs[0].clone();
                req.spec.extra_tags = refs[1..].to_vec();
            }
            if let Some(context) = &build.context {
                let context = project_dir(context)?;
                let dockerfile = dir.join(&config.build.dockerfile);
                req.spec.dockerfile = dockerfile
                    .strip_prefix(&context)
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "--context {}: the Dockerfile {} is outside the build context; use a context \
                             that contains it",
                            context.display(),
                            dockerfile.display()
                        )
                    })?
                    .to_path_buf();
                req.spec.context_dir = context;
            }
            let quiet = build.quiet;
            // AWS CodeBuild (named, or `auto` with no engine): the cost question, the buildspec, --no-wait.
            if selected.probe.backend == crate::builder::BackendKind::Codebuild {
                return codebuild::run(&config, &dir, paths, req, &cloud, format, quiet);
            }
            if build.push {
                if selected.probe.backend != crate::builder::BackendKind::Buildkit {
                    anyhow::bail!(
                        "usage: build --push pushes from inside the build, which only a BuildKit daemon does \
                         (this build runs on {}); build, then push with `dockui push IMAGE:TAG`",
                        selected.probe.backend.as_str()
                    );
                }
                req.spec.push = true;
            }
            let platforms =
                engine::platforms::requested(&config.build).map_err(anyhow::Error::msg)?;
            if platforms.len() == 1 {
                req.spec.platform = platforms[0].to_string();
            }
            let cache_inputs = cache::Inputs::of(&req, &dir, &paths.data_dir);
            let cache_before =
                cache::before_build(&rt, ctx.docker.clone(), paths, &cache_inputs, quiet);
            // One listener for the whole command: a signal after the build (during the notification) counts too.
            let (cancel, signalled) = {
                let _in_runtime = rt.enter();
                cancel_on_fatal_signal()
            };
            let outcome = rt.block_on(async {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                // Progress streams to stderr for both formats (stdout stays for the one result) unless --quiet.
                let printer = progress_to_stderr(rx, move |ev| match ev {
                    engine::EngineEvent::BuildLog(lines) if !quiet => lines,
                    _ => Vec::new(),
                });
                let cancel = cancel.clone();
                let outcome = if platforms.len() > 1 {
                    engine::platforms::run_multi(ctx.docker.as_ref(), req, &platforms, &tx, cancel)
                        .await
                } else {
                    engine::build::run_build(ctx.docker.as_ref(), req, &tx, cancel).await
                };
                drop(tx);
                let _ = printer.await;
                // Containers removed in the background (a cancelled smoke test) are gone before we exit.
                ctx.docker.settle().await;
                outcome
            });
            let cache_break = (!outcome.engine_unreachable)
                .then(|| {
                    cache::after_build(&rt, ctx.docker.as_ref(), paths, &cache_inputs, cache_before)
                })
                .flatten();
            notify::send(
                &rt,
                &config.notify,
                &crate::notify::Notification::from_build(&dir, &outcome),
                &cancel,
                quiet,
            );
            let signalled = signalled.load(std::sync::atomic::Ordering::SeqCst);
            match format {
                Format::Human if quiet && outcome.success => {
                    println!("{}", outcome.image_id.as_deref().unwrap_or(&outcome.image))
                }
                Format::Human => print!("{}", report::build_human(&outcome)),
                Format::Json => {
                    let mut v = cache::with_break(&outcome, &cache_break)?;
                    with_backend(
                        &mut v,
                        port_backend(
                            outcome.backend.as_ref(),
                            selected.probe.backend,
                            ctx.docker.as_ref(),
                        ),
                    );
                    println!("{}", serde_json::to_string_pretty(&v)?)
                }
            }
            Ok(build_exit_code(
                &outcome,
                signalled,
                quiet,
                "engine unreachable",
            ))
        }
        Some(Cmd::Fix {
            dir,
            rules,
            level,
            dry_run,
            format,
            source,
            pin_bases,
        }) => {
            // Read-only: show the diffs, write nothing.
            let dry_run = dry_run || cli.readonly;
            let dir = project_dir(&dir)?;
            let mut config = load_config(config_flag, paths, &dir)?;
            apply_source(&mut config, &dir, &source)?;
            let level = match level {
                LevelArg::Safe => crate::analyze::FixLevel::Safe,
                LevelArg::Suggestion => crate::analyze::FixLevel::Suggestion,
            };
            let mut opts = config.analyze_options(paths);
            if pin_bases {
                opts.base_digests = Some(pins::base_digests(&config, &dir, &opts)?);
            }
            let run = crate::fix::headless::run(
                &dir,
                &opts,
                &crate::fix::Backups::new(paths.backups_dir()),
                &rules,
                level,
                dry_run,
            )?;
            crate::fatal_signals::finishing();
            match format {
                Format::Human => print!("{}", crate::fix::headless::render_human(&run)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&run)?),
            }
            Ok(if run.errors.is_empty() { 0 } else { 1 })
        }
        Some(Cmd::Rules { format }) => {
            let rules = analyze::rules::catalog();
            match format {
                Format::Human => print!("{}", report::rules_human(rules)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&rules)?),
            }
            Ok(0)
        }
        Some(Cmd::Undo { file, force }) => {
            let backups = crate::fix::Backups::new(paths.backups_dir());
            // Scoped to the project it runs in: without FILE, the last write in the project (as recorded) that
            // holds the current directory.
            let cwd = std::env::current_dir()?;
            let within = if file.is_some() {
                None
            } else {
                Some(cwd.as_path())
            };
            let (record, diff) = backups.undo(within, file.as_deref(), force)?;
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
                        Format::Human => {
                            print!("{}", report::history_human(&history));
                            codebuild::list_recent(paths);
                        }
                        Format::Json => println!("{}", serde_json::to_string_pretty(&history)?),
                    }
                }
                Some(id) if codebuild::is_codebuild_id(&id) => {
                    let config = load_config(config_flag, paths, Path::new("."))?;
                    return codebuild::logs(&config, paths, &id, format);
                }
                Some(id) => {
                    let id = if id == "last" {
                        engine::history::list(&builds)
                            .into_iter()
                            .next()
                            .map(|b| b.build_id)
                            .ok_or_else(|| {
                                anyhow::anyhow!(
                                    "no builds yet: run `dockui build DIR` first (history in {})",
                                    builds.display()
                                )
                            })?
                    } else {
                        id
                    };
                    let logs = engine::history::attempt_logs(&builds, &id)?;
                    match format {
                        Format::Human => {
                            for (path, _) in &logs {
                                println!("==> {} <==", path.display());
                                match replay_log(path) {
                                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                                        return Ok(0);
                                    }
                                    r => r?,
                                }
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
        Some(Cmd::Push {
            target,
            tags,
            force,
            format,
            platform,
        }) => {
            let as_dir = Path::new(&target);
            let mut opts = engine::push::PushOptions {
                tags,
                force,
                builds_dir: Some(paths.builds_dir()),
                platforms: engine::platforms::parse_list(platform.as_deref().unwrap_or_default())
                    .map_err(|e| anyhow::anyhow!("--platform: {e}"))?,
            };
            if opts.tags.is_empty() && !as_dir.is_dir() {
                // `push IMAGE:TAG` names the tag to push: that one, never the config's or `latest`.
                if let Some(tag) = crate::registry::reference::ImageName::parse(&target)
                    .ok()
                    .and_then(|n| n.tag)
                {
                    opts.tags = vec![tag];
                }
            }
            // Why nothing may be pushed before anything is asked (an incomplete multi-platform build).
            let mut refused = None;
            let (config, project, source) = if as_dir.is_dir() {
                let dir = project_dir(as_dir)?;
                let config = load_config(config_flag, paths, &dir)?;
                let repository = config.build.repository(&dir);
                // The image of the last successful build (its tag may come from `tag = "auto"`).
                let latest = engine::history::latest_image(&paths.builds_dir(), &repository)
                    .unwrap_or_else(|e| {
                        refused = Some(e);
                        None
                    });
                let source = latest.unwrap_or_else(|| {
                    format!(
                        "{repository}:{}",
                        engine::tags::resolve(&config.build.tag, &dir)
                    )
                });
                (config, Some(dir), source)
            } else {
                let mut config = load_config(config_flag, paths, Path::new("."))?;
                // A reference that names its registry is the destination: the working directory's
                // `[push] registry/repository` must not send it somewhere else.
                if crate::registry::reference::ImageName::parse(&target)
                    .is_ok_and(|n| !n.is_docker_hub())
                {
                    config.push.registry.clear();
                    config.push.repository.clear();
                }
                (config, None, target.clone())
            };
            let rt = runtime()?;
            let choice = backend_choice(&config, None)?;
            let chosen = rt
                .block_on(select::select(
                    &config,
                    &select::Env::from_process(),
                    choice,
                ))
                .and_then(|s| match s.refusal() {
                    Some(e) => Err(e),
                    None => Ok(s),
                });
            let (engine, kind) = match chosen {
                Ok(s) => (s.port, s.probe.backend),
                Err(e) => {
                    let report = crate::registry::report::PushReport {
                        image: source.clone(),
                        backend: e.probe.as_ref().map(|p| p.info()),
                        error: Some(e.to_string()),
                        ..Default::default()
                    };
                    print_push_report(format, &report, e.probe.map(|p| p.backend_json()))?;
                    return Ok(2);
                }
            };
            if let Some(why) = refused {
                let report = crate::registry::report::PushReport {
                    image: source.clone(),
                    error: Some(why),
                    ..Default::default()
                };
                let backend = port_backend(None, kind, engine.as_ref());
                print_push_report(format, &report, Some(backend))?;
                return Ok(report.exit_code());
            }
            // As `build`: SIGINT/SIGTERM/SIGHUP stop the push (and the notification after it), the report
            // is still printed, and the exit code is 128 + N.
            let (cancel, signalled) = {
                let _in_runtime = rt.enter();
                cancel_on_fatal_signal()
            };
            let report = rt.block_on(async {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let printer = progress_to_stderr(rx, |p| {
                    crate::docker::push::progress_line(&p).into_iter().collect()
                });
                // Dropping the push closes its connection to the engine, which cancels the engine's push.
                let report = tokio::select! {
                    r = engine::push::run_with(
                        engine.as_ref(),
                        &config,
                        project.as_deref(),
                        &source,
                        &opts,
                        tx,
                    ) => r,
                    _ = cancel.cancelled() => interrupted_push(
                        &source,
                        signalled.load(std::sync::atomic::Ordering::SeqCst),
                    ),
                };
                let _ = printer.await;
                report
            });
            let signalled_during_push = signalled.load(std::sync::atomic::Ordering::SeqCst);
            if signalled_during_push == 0 {
                rollback::record(paths, &report);
            }
            notify::send(
                &rt,
                &config.notify,
                &crate::notify::Notification::from_push(project.as_deref(), &report),
                &cancel,
                false,
            );
            let backend = port_backend(report.backend.as_ref(), kind, engine.as_ref());
            print_push_report(format, &report, Some(backend))?;
            Ok(match signalled.load(std::sync::atomic::Ordering::SeqCst) {
                0 => report.exit_code(),
                signo => 128 + signo,
            })
        }
        Some(Cmd::Status { build_id, format }) => {
            let config = load_config(config_flag, paths, Path::new("."))?;
            codebuild::status(&config, paths, &build_id, format)
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
        Some(Cmd::Doctor(args)) => doctor::run(args, config_flag, paths),
        Some(Cmd::Inspect(args)) => inspect::run(args, config_flag, paths),
        Some(Cmd::Rollback(args)) => rollback::run(args, config_flag, paths),
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

/// `-f`, `--build-arg` and `--base-image` go into the config: the one place the analysis and the build read.
fn apply_source(config: &mut Config, dir: &Path, source: &SourceFlags) -> anyhow::Result<()> {
    if let Some(f) = &source.file {
        config.build.dockerfile = dockerfile_in_project(f, dir)?;
    }
    config.build.args.extend(source.build_args.iter().cloned());
    if let Some(base) = &source.base_image {
        let path = dir.join(&config.build.dockerfile);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("--base-image: cannot read {}: {e}", path.display()))?;
        let arg = base_image_arg(&text).ok_or_else(|| {
            anyhow::anyhow!(
                "--base-image: {} names its base directly in FROM; declare it as a build argument \
                 (`ARG BASE_IMAGE=<image>` before the first FROM, then `FROM ${{BASE_IMAGE}}`) or use --build-arg",
                path.display()
            )
        })?;
        config.build.args.insert(arg, base.clone());
    }
    Ok(())
}

/// `-f FILE` as docker reads it (relative to the current directory), else relative to the project; it must
/// be inside the project, which the analysis and the config are about.
fn dockerfile_in_project(f: &Path, dir: &Path) -> anyhow::Result<String> {
    let from_cwd = std::env::current_dir()?.join(f);
    let found = if from_cwd.is_file() {
        from_cwd
    } else if dir.join(f).is_file() {
        dir.join(f)
    } else {
        anyhow::bail!(
            "-f {}: no such file (looked in the current directory and in {})",
            f.display(),
            dir.display()
        );
    };
    let abs = found.canonicalize()?;
    let rel = abs.strip_prefix(dir).map_err(|_| {
        anyhow::anyhow!(
            "-f {}: the Dockerfile must be inside the project {}",
            f.display(),
            dir.display()
        )
    })?;
    Ok(rel.to_string_lossy().into_owned())
}

/// The ARG that names the final stage's base (`FROM ${BASE_IMAGE}`, `FROM $BASE`), else any stage's.
fn base_image_arg(dockerfile: &str) -> Option<String> {
    let df = crate::analyze::dockerfile::Dockerfile::parse(dockerfile);
    let model = crate::analyze::dockerfile::model::Model::build(&df);
    let var_of = |raw: &str| -> Option<String> {
        let inner = raw
            .strip_prefix("${")
            .and_then(|r| r.strip_suffix('}'))
            .map(|r| r.split(":-").next().unwrap_or(r))
            .or_else(|| raw.strip_prefix('$'))?;
        (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then(|| inner.to_string())
    };
    let mut stage = model.stages.last()?;
    while let Some(p) = stage.parent {
        stage = &model.stages[p];
    }
    var_of(&stage.image_raw).or_else(|| model.stages.iter().find_map(|s| var_of(&s.image_raw)))
}

/// The build flags override the config's `[build]` (and `[smoke]` for --no-smoke).
fn apply_build_flags(config: &mut Config, build: &BuildFlags) {
    if let Some(n) = build.max_attempts {
        config.build.max_attempts = n;
    }
    if let Some(level) = build.auto_fix {
        config.build.auto_fix = level.as_config().into();
    }
    config.build.no_cache |= build.no_cache;
    config.build.pull |= build.pull;
    if let Some(t) = &build.target {
        config.build.target = t.clone();
    }
    if let Some(n) = &build.network {
        config.build.network = n.clone();
    }
    if let Some(p) = &build.platform {
        config.build.platform = p.clone();
        config.build.platforms.clear();
    }
    if !build.cache_from.is_empty() {
        config.build.cache_from = build.cache_from.clone();
    }
    if !build.cache_to.is_empty() {
        config.build.cache_to = build.cache_to.clone();
    }
    if build.no_smoke {
        config.smoke.commands.clear();
        config.smoke.infer = false;
    }
}

/// A headless build's exit code: 2 when the builder could not be reached (its message names the endpoint, the
/// cause and what to do; the streamed log ends with it already, unless --quiet kept the log off stderr),
/// 128 + N when signal N stopped it (as a shell reports a job ended by a signal; also when it came after the
/// build, during the notification, which it abandoned), else 0 or 1.
pub(crate) fn build_exit_code(
    outcome: &engine::BuildOutcome,
    signalled: i32,
    quiet: bool,
    unreachable: &str,
) -> i32 {
    if outcome.engine_unreachable {
        if quiet {
            eprintln!(
                "dockui: {}",
                outcome.error.as_deref().unwrap_or(unreachable)
            );
        }
        2
    } else if signalled != 0 {
        128 + signalled
    } else if outcome.success {
        0
    } else {
        1
    }
}

/// The report of a push a fatal signal stopped: nothing is known to be pullable; what may be left behind.
fn interrupted_push(source: &str, signo: i32) -> crate::registry::report::PushReport {
    let name = crate::fatal_signals::signal_name(signo);
    crate::registry::report::PushReport {
        image: source.to_string(),
        error: Some(format!(
            "push of {source} interrupted ({name}): nothing was verified as pushed. Layers uploaded so far may \
             be in the registry (push again to complete it); the engine may keep a stalled upload open for a \
             while after dockui has gone (restarting the engine ends it)"
        )),
        ..Default::default()
    }
}

/// `-t` values as docker reads them (NAME[:TAG], `latest` when no tag), plus `auto` and `NAME:auto`.
fn resolve_tags(tags: &[String], config: &Config, dir: &Path) -> anyhow::Result<Vec<String>> {
    tags.iter()
        .map(|t| {
            let (name, tag) = if t == "auto" {
                (config.build.repository(dir), "auto".to_string())
            } else {
                match t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
                    Some((n, tag)) => (n.to_string(), tag.to_string()),
                    None => (t.clone(), "latest".to_string()),
                }
            };
            let reference = format!("{name}:{}", engine::tags::resolve(&tag, dir));
            crate::registry::reference::ImageName::parse(&reference)
                .map_err(|e| anyhow::anyhow!("-t {t}: {e}"))?;
            Ok(reference)
        })
        .collect()
}

fn open_tui(
    config_flag: Option<&Path>,
    paths: &Paths,
    dir: &Path,
    readonly: bool,
    build_args: &[(String, String)],
) -> anyhow::Result<i32> {
    // Everything that can fail on bad input happens before the terminal is touched.
    let mut config = load_config(config_flag, paths, dir)?;
    config.build.args.extend(build_args.iter().cloned());
    let keymap = crate::tui::keymap::Keymap::default()
        .with_overrides(&config.keys.bind)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    {
        // Cron, CI and `ssh host dockui` without -t: no terminal to draw on (and none to restore).
        use std::io::IsTerminal;
        let missing: Vec<&str> = [
            ("stdin", std::io::stdin().is_terminal()),
            ("stdout", std::io::stdout().is_terminal()),
        ]
        .into_iter()
        .filter_map(|(name, tty)| (!tty).then_some(name))
        .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "the TUI needs a terminal, and {} (over ssh: ssh -t); without a terminal use the headless \
             commands: dockui check|fix|build|push DIR --format json",
            match missing[..] {
                [one] => format!("{one} is not one"),
                _ => "stdin and stdout are not terminals".to_string(),
            }
        );
    }
    if readonly {
        config.build.auto_fix = "off".into();
    } else {
        crate::fix::write::sweep_project_temps(dir, &config.build.dockerfile);
    }
    let choice = backend_choice(&config, None)?;
    let rt = runtime()?;
    let (mut ctx, selected) = engine_context(&rt, &config, dir, paths, choice)?;
    // AWS CodeBuild picked (no engine here): the TUI's port asks before a paid build (read-only: no builds).
    if selected.probe.backend == crate::builder::BackendKind::Codebuild && !readonly {
        codebuild::tui_port(&mut ctx, paths)?;
    }
    // `r` in the TUI re-reads the same files.
    ctx.config_file = config_flag.map(Path::to_path_buf);
    let docker = ctx.docker.clone();
    let code = rt.block_on(async move {
        let code = crate::tui::run(ctx, keymap, readonly).await;
        docker.settle().await;
        code
    })?;
    Ok(code)
}

/// A token cancelled by the first fatal signal (`crate::fatal_signals::FATAL_SIGNALS`: INT, TERM, HUP, QUIT,
/// USR1, ...), and that signal's number (0 until then). All
/// cancel the same way: the build stops, smoke containers are removed, the record and the result are still
/// written. The handlers are in place when this returns, and stay for as long as the runtime runs: once
/// installed, tokio's handlers replace the default action, so a signal nobody listens for would be ignored.
/// Create it once per command, before its first step, and hand the same token to every later step (the
/// notification too). Call inside the runtime (in `block_on`, or under `rt.enter()`).
pub(crate) fn cancel_on_fatal_signal() -> (
    tokio_util::sync::CancellationToken,
    Arc<std::sync::atomic::AtomicI32>,
) {
    let cancel = tokio_util::sync::CancellationToken::new();
    let signalled = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let (c, s) = (cancel.clone(), signalled.clone());
    // Installed now, before this returns: a signal that comes before the first await is not lost.
    let signals = crate::fatal_signals::fatal_signals().ok();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        if let Some(signo) = match signals {
            Some(mut s) => s.next().await,
            None => None,
        } {
            s.store(signo, std::sync::atomic::Ordering::SeqCst);
            c.cancel();
        }
    });
    (cancel, signalled)
}

#[cfg(test)]
mod tests {

    #[test]
    fn deferred_subcommands_keep_their_own_about_and_parse_as_before() {
        use clap::CommandFactory;
        let mut cli = super::Cli::command();
        let before: Vec<(String, Option<String>)> = cli
            .get_subcommands()
            .map(|s| {
                (
                    s.get_name().to_string(),
                    s.get_about().map(|a| a.to_string()),
                )
            })
            .collect();
        assert!(before.len() > 10 && before.iter().all(|(_, a)| a.is_some()));
        // Building runs the deferred parts (the arguments, flattened groups included): a flattened group's
        // doc comment must not replace the command's own line in `dockui <command> --help`.
        cli.build();
        for (name, about) in &before {
            let sub = cli.find_subcommand(name).expect("subcommand");
            assert!(sub.get_arguments().count() > 0, "{name} has its arguments");
            assert_eq!(&sub.get_about().map(|a| a.to_string()), about, "{name}");
        }
        super::Cli::command().debug_assert();
        let parsed = super::Cli::try_parse_from([
            "dockui",
            "check",
            ".",
            "--format",
            "json",
            "-f",
            "gpu.Dockerfile",
            "--build-arg",
            "A=1",
            "--config",
            "c.toml",
        ])
        .expect("parses");
        assert!(parsed.only_reads_files());
        assert_eq!(
            parsed.config.as_deref(),
            Some(std::path::Path::new("c.toml"))
        );
        let Some(super::Cmd::Check { format, source, .. }) = parsed.command else {
            panic!("check");
        };
        assert_eq!(format, super::CheckFormat::Json);
        assert_eq!(source.build_args, [("A".to_string(), "1".to_string())]);
        assert_eq!(
            source.file.as_deref(),
            Some(std::path::Path::new("gpu.Dockerfile"))
        );
        let build = super::Cli::try_parse_from(["dockui", "build", "."]).expect("parses");
        assert!(!build.only_reads_files());
    }

    #[test]
    fn json_results_carry_one_backend_object_with_the_endpoints_origin() {
        use crate::builder::{BackendInfo, BackendKind};
        // A port's view: a Docker context's tcp endpoint with TLS, and what the engine said of itself.
        struct Port;
        impl crate::builder::BuilderPort for Port {
            fn endpoint(&self) -> String {
                "tcp://b:2376 (context gpu)".into()
            }
            fn endpoint_json(&self) -> serde_json::Value {
                serde_json::json!({"endpoint": "tcp://b:2376", "context": "gpu", "source": "env_context", "tls": true, "version": "Podman 4.3.1", "rootless": true})
            }
            fn ping(
                &self,
            ) -> futures_util::future::BoxFuture<'_, Result<crate::builder::EngineInfo, DockerError>>
            {
                unimplemented!()
            }
            fn build(
                &self,
                _: crate::builder::BuildSpec,
                _: tokio::sync::mpsc::UnboundedSender<crate::builder::BuildEvent>,
            ) -> futures_util::future::BoxFuture<'_, Result<String, DockerError>> {
                unimplemented!()
            }
            fn inspect_image<'a>(
                &'a self,
                _: &'a str,
            ) -> futures_util::future::BoxFuture<
                'a,
                Result<Option<crate::builder::ImageInfo>, DockerError>,
            > {
                unimplemented!()
            }
            fn container_names(
                &self,
            ) -> futures_util::future::BoxFuture<
                '_,
                Result<std::collections::BTreeMap<String, String>, DockerError>,
            > {
                unimplemented!()
            }
            fn run_once(
                &self,
                _: crate::builder::RunSpec,
            ) -> futures_util::future::BoxFuture<'_, Result<crate::builder::RunOutput, DockerError>>
            {
                unimplemented!()
            }
        }
        use crate::docker::DockerError;
        let fields = |v: &serde_json::Value| {
            let mut k: Vec<String> = v["backend"].as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let all = [
            "context", "endpoint", "kind", "rootless", "source", "tls", "version",
        ];
        // A build result names its backend's kind; the port's endpoint, context, origin and TLS complete it.
        let info = BackendInfo {
            kind: BackendKind::Podman,
            endpoint: "tcp://b:2376 (context gpu)".into(),
            context: None,
        };
        let mut build = serde_json::json!({"success": true, "backend": info});
        with_backend(
            &mut build,
            port_backend(Some(&info), BackendKind::Docker, &Port),
        );
        assert_eq!(build["backend"]["kind"], "podman");
        assert_eq!(build["backend"]["endpoint"], "tcp://b:2376");
        assert_eq!(build["backend"]["context"], "gpu");
        assert_eq!(build["backend"]["tls"], true);
        assert_eq!(build["backend"]["rootless"], true);
        assert!(build.get("engine").is_none());
        // A result without one (a multi-platform push, inspect) gets the same object, kind included.
        let mut push = serde_json::json!({"success": true, "backend": null});
        with_backend(&mut push, port_backend(None, BackendKind::Podman, &Port));
        assert_eq!(push["backend"], build["backend"]);
        assert_eq!(fields(&push), all);
        // An error before any port was opened: the probe's view, in the same fields.
        let probe = crate::builder::select::Probe {
            backend: BackendKind::Docker,
            source: "DOCKER_HOST".into(),
            endpoint: "tcp://127.0.0.1:42376".into(),
            context: None,
            explicit: true,
            available: true,
            reachable: false,
            version: None,
            capabilities: None,
            why_not: Some("DOCKER_CERT_PATH=/nonexistent cannot be read".into()),
            what_to_do: None,
            origin: Some(crate::docker::endpoint::Source::Env),
            tls: Some(true),
        };
        let mut failed = serde_json::json!({"success": false, "backend": probe.info()});
        with_backend(&mut failed, probe.backend_json());
        assert_eq!(fields(&failed), all);
        assert_eq!(failed["backend"]["kind"], "docker");
        assert_eq!(failed["backend"]["endpoint"], "tcp://127.0.0.1:42376");
        assert_eq!(failed["backend"]["source"], "env");
        assert_eq!(failed["backend"]["tls"], true);
    }
    use super::*;

    #[test]
    fn base_image_arg_is_the_arg_the_final_stage_is_built_from() {
        assert_eq!(
            base_image_arg("ARG BASE_IMAGE=python:3.11\nFROM ${BASE_IMAGE}\n").as_deref(),
            Some("BASE_IMAGE")
        );
        assert_eq!(
            base_image_arg(
                "ARG B=x\nARG R=y\nFROM $B AS build\nRUN make\nFROM ${R:-alpine:3} AS run\n"
            )
            .as_deref(),
            Some("R")
        );
        // The final stage comes from an earlier stage: its root's ARG.
        assert_eq!(
            base_image_arg("ARG B=x\nFROM ${B} AS base\nFROM base\n").as_deref(),
            Some("B")
        );
        assert_eq!(base_image_arg("FROM python:3.11\n"), None);
        assert_eq!(base_image_arg("ARG T=3\nFROM python:${T}\n"), None);
    }

    #[test]
    fn tags_follow_docker_and_auto() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        let refs = resolve_tags(
            &[
                "team/app:v7".into(),
                "team/app".into(),
                "reg:5000/x:y".into(),
            ],
            &config,
            dir.path(),
        )
        .unwrap();
        assert_eq!(refs, vec!["team/app:v7", "team/app:latest", "reg:5000/x:y"]);
        let auto = resolve_tags(&["auto".into()], &config, dir.path()).unwrap();
        assert!(auto[0].starts_with("dockui-local/"), "{auto:?}");
        assert!(!auto[0].ends_with(":auto"), "{auto:?}");
        assert!(resolve_tags(&["Bad Name".into()], &config, dir.path()).is_err());
    }

    #[test]
    fn the_analysis_is_judged_on_the_build_args() {
        let df = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCMD [\"true\"]\n";
        let mut opts = crate::analyze::AnalyzeOptions::default();
        let rules = |opts: &crate::analyze::AnalyzeOptions| -> Vec<String> {
            crate::analyze::analyze_text(Path::new("Dockerfile"), df, opts)
                .findings
                .into_iter()
                .map(|f| f.rule.as_str().to_string())
                .collect()
        };
        assert!(rules(&opts).contains(&"DU111".to_string()));
        opts.build_args
            .insert("BASE_IMAGE".into(), "python:3.11-slim".into());
        assert!(!rules(&opts).contains(&"DU111".to_string()));
        opts.build_args
            .insert("BASE_IMAGE".into(), "Team/Base:1".into());
        assert!(
            rules(&opts).iter().any(|r| r.starts_with("DU110")),
            "{:?}",
            rules(&opts)
        );
    }
}
