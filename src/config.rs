//! Configuration: embedded defaults, then the user's `config.toml`, then the project's `.dockui.toml`.
//! Each file is checked on its own (so an error names its file, line and column), then merged key by key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const DEFAULTS: &str = include_str!("../assets/default-config.toml");
pub const PROJECT_FILE: &str = ".dockui.toml";

// The struct defaults and assets/default-config.toml must agree; a unit test checks that they do.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub engine: EngineConfig,
    pub build: BuildConfig,
    pub analyze: AnalyzeConfig,
    pub gpu: GpuConfig,
    pub smoke: SmokeConfig,
    pub push: crate::registry::config::PushConfig,
    pub ui: UiConfig,
    pub keys: KeysConfig,
    pub notify: crate::notify::NotifyConfig,
    pub codebuild: crate::codebuild::CodeBuildConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmokeConfig {
    /// Shell commands run in the built image, each in a fresh container.
    pub commands: Vec<String>,
    pub timeout_s: u64,
    /// Add inferred checks (container_smoke.sh, imports of requirements, torch CUDA on GPU hosts).
    pub infer: bool,
}

impl Default for SmokeConfig {
    fn default() -> Self {
        SmokeConfig {
            commands: Vec::new(),
            timeout_s: 120,
            infer: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// `unix://`, `tcp://` or `ssh://user@host:port`, like `docker -H`. Empty: what the docker CLI uses
    /// (DOCKER_HOST, DOCKER_CONTEXT, the current context, the local socket): `docker::endpoint`.
    pub docker_host: String,
    pub timeout_s: u64,
    /// Which builder `dockui build` uses: "auto" (the first reachable, in `dockui doctor`'s order), "docker",
    /// "podman", "buildkit" or "codebuild".
    pub backend: String,
    /// A BuildKit daemon (`tcp://host:1234`, `unix:///run/buildkit/buildkitd.sock`). Empty: $BUILDKIT_HOST.
    pub buildkit_host: String,
    /// mTLS files for a tcp BuildKit daemon (buildctl's --tlscacert/--tlscert/--tlskey). Empty:
    /// $BUILDKIT_TLS_CA / $BUILDKIT_TLS_CERT / $BUILDKIT_TLS_KEY, or ca.pem/cert.pem/key.pem in $BUILDKIT_TLS_DIR.
    pub buildkit_ca: String,
    pub buildkit_cert: String,
    pub buildkit_key: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// Repository to tag the image with. Empty: `dockui-local/<project dir name>`.
    pub image: String,
    pub tag: String,
    pub dockerfile: String,
    pub max_attempts: u32,
    /// Which fixes the build may apply by itself between attempts: "off", "safe" or "suggestion".
    pub auto_fix: String,
    pub no_cache: bool,
    pub pull: bool,
    /// "auto" (BuildKit when the engine has it), "buildkit" or "legacy".
    pub builder: String,
    pub target: String,
    pub platform: String,
    /// Several platforms (`["linux/amd64", "linux/arm64"]`): each is built on its own and `push` puts an
    /// image index over them.
    pub platforms: Vec<String>,
    /// Network for RUN steps, as `docker build --network`: "" (the engine's default), "host", "none", a name.
    pub network: String,
    pub args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Cache to import, in buildx syntax (`type=registry,ref=IMAGE`, `type=local,src=DIR`, `type=gha`).
    pub cache_from: Vec<String>,
    /// Cache to export, in buildx syntax (`type=inline`, `type=registry,ref=IMAGE:cache,mode=max`, ...).
    pub cache_to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyzeConfig {
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GpuConfig {
    pub nvml_lib: String,
    pub poll_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    pub theme: String,
    /// Mouse capture at start (off keeps the terminal's own selection); M toggles it.
    pub mouse: bool,
    /// Also pipe copied text to this command (e.g. "xclip -selection clipboard"); OSC 52 is always sent.
    pub copy_command: String,
    /// The Image pane inspects a freshly built image by itself up to this size (MB, 1 MB = 10^6 bytes);
    /// above it, `i` does (exporting a 15 GB CUDA image takes minutes). 0: never by itself.
    pub image_auto_inspect_max_mb: u64,
}

/// Key overrides: `[[keys.bind]] action = "build" keys = ["B"]` (optionally `pane = "log"`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    pub bind: Vec<KeyOverride>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct KeyOverride {
    pub action: String,
    pub keys: Vec<String>,
    #[serde(default)]
    pub pane: Option<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            docker_host: String::new(),
            timeout_s: 600,
            backend: "auto".into(),
            buildkit_host: String::new(),
            buildkit_ca: String::new(),
            buildkit_cert: String::new(),
            buildkit_key: String::new(),
        }
    }
}
impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            image: String::new(),
            tag: "latest".into(),
            dockerfile: "Dockerfile".into(),
            max_attempts: 3,
            auto_fix: "off".into(),
            no_cache: false,
            pull: false,
            builder: "auto".into(),
            target: String::new(),
            platform: String::new(),
            platforms: Vec::new(),
            network: String::new(),
            args: BTreeMap::new(),
            labels: BTreeMap::new(),
            cache_from: Vec::new(),
            cache_to: Vec::new(),
        }
    }
}
impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            nvml_lib: String::new(),
            poll_ms: 1000,
        }
    }
}
impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            theme: "dark".into(),
            mouse: false,
            copy_command: String::new(),
            image_auto_inspect_max_mb: 2000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}:{col}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which files made up the effective config, for the status line and `--verbose` output.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<PathBuf>,
}

impl Config {
    /// Load defaults, then `user_file` (if it exists), then `<project>/.dockui.toml` (if it exists).
    pub fn load(
        user_file: Option<&Path>,
        project_dir: &Path,
    ) -> Result<(Config, Sources), ConfigError> {
        // Parsed only when a file is there to merge: with none, the struct defaults are the config (a unit
        // test keeps them equal to assets/default-config.toml), which spares every `check` the TOML parse.
        let mut merged: Option<toml::Table> = None;
        let mut sources = Sources::default();
        // Each file's text, to point a value check's error at the line that set the value.
        let mut texts: Vec<(PathBuf, String)> = Vec::new();
        let project_file = project_dir.join(PROJECT_FILE);
        for path in user_file
            .into_iter()
            .chain(std::iter::once(project_file.as_path()))
        {
            let is_project = path == project_file.as_path();
            let bytes = match read_config_bytes(path, is_project.then_some(project_dir)) {
                Ok(Some(b)) => b,
                Ok(None) => continue,
                Err(e) => return Err(e),
            };
            let text = utf8_or_position(path, bytes)?;
            let table = parse_checked(path, &text)?;
            if is_project {
                check_project_paths(path, &text, project_dir)?;
            }
            let base = merged.get_or_insert_with(|| {
                toml::from_str(DEFAULTS).expect("embedded default config is valid")
            });
            merge(base, table);
            sources.files.push(path.to_path_buf());
            texts.push((path.to_path_buf(), text));
        }
        let config = match merged {
            None => Config::default(),
            Some(merged) => Config::deserialize(toml::Value::Table(merged)).map_err(|e| {
                ConfigError::Invalid {
                    path: PathBuf::from("<merged config>"),
                    line: 0,
                    col: 0,
                    message: e.to_string(),
                }
            })?,
        };
        config.validate(&texts)?;
        Ok((config, sources))
    }

    /// Value checks the types cannot express. Each message starts with the key (`build.max_attempts ...`):
    /// the error names the file and line that set it, the last file that sets it being the one that counts.
    fn validate(&self, texts: &[(PathBuf, String)]) -> Result<(), ConfigError> {
        let fail = |message: String| {
            let key: String = message
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            let found = texts
                .iter()
                .rev()
                .find_map(|(path, text)| Some((path, text, value_position(text, &key)?)));
            let (path, line, col) = match found {
                Some((path, text, at)) => {
                    let span = crate::analyze::Span::from_range(text, at, at);
                    (path.clone(), span.line, span.col)
                }
                None => (
                    texts
                        .last()
                        .map(|(p, _)| p.clone())
                        .unwrap_or_else(|| PathBuf::from("<defaults>")),
                    0,
                    0,
                ),
            };
            ConfigError::Invalid {
                path,
                line,
                col,
                message,
            }
        };
        if self.build.max_attempts == 0 {
            return Err(fail("build.max_attempts must be at least 1".into()));
        }
        if self.engine.timeout_s == 0 {
            return Err(fail(
                "engine.timeout_s must be at least 1 (seconds to wait for the engine's answers)"
                    .into(),
            ));
        }
        if let Some(problem) = image_repository_problem(&self.build.image) {
            return Err(fail(format!("build.image {problem}")));
        }
        if !["auto", "buildkit", "legacy"].contains(&self.build.builder.as_str()) {
            return Err(fail(format!(
                "build.builder must be \"auto\", \"buildkit\" or \"legacy\", not \"{}\"",
                self.build.builder
            )));
        }
        if let Err(e) = crate::builder::select::Choice::parse(&self.engine.backend) {
            return Err(fail(format!("engine.backend: {e}")));
        }
        if !["off", "safe", "suggestion"].contains(&self.build.auto_fix.as_str()) {
            return Err(fail(format!(
                "build.auto_fix must be \"off\", \"safe\" or \"suggestion\", not \"{}\"",
                self.build.auto_fix
            )));
        }
        self.notify.validate().map_err(fail)?;
        self.codebuild.validate().map_err(fail)?;
        if !["dark", "light", "mono"].contains(&self.ui.theme.as_str()) {
            return Err(fail(format!(
                "ui.theme must be \"dark\", \"light\" or \"mono\", not \"{}\"",
                self.ui.theme
            )));
        }
        Ok(())
    }
}

/// Why `[build] image` cannot be the repository each build is tagged in, or None (empty: dockui names it).
/// dockui adds the tag itself, so a tag or digest here would make `name:1:<tag>`, which the engine refuses
/// only after the whole build.
fn image_repository_problem(image: &str) -> Option<String> {
    if image.is_empty() {
        return None;
    }
    if let Some(problem) = crate::analyze::rules::gates::reference_problem(image) {
        return Some(format!("is not an image repository: {problem}"));
    }
    if image.contains('@') {
        return Some(format!(
            "is a repository without a digest (dockui tags each build itself): write \"{}\"",
            image.split('@').next().unwrap_or_default()
        ));
    }
    let (repo, tag) = crate::analyze::compat::split_reference(image);
    tag.map(|tag| {
        format!(
            "is a repository without a tag (dockui tags each build itself): write \"{repo}\", not \"{repo}:{tag}\""
        )
    })
}

/// Byte offset of the value of `key` (`section.name`, or a bare `section`) in one config file's text, when
/// that file sets it (TOML's own spans, so dotted keys and inline tables count too).
fn value_position(text: &str, key: &str) -> Option<usize> {
    use std::collections::BTreeMap;
    use toml::Spanned;
    let (section, name) = key.split_once('.').unwrap_or((key, ""));
    let sections: BTreeMap<String, Spanned<toml::Value>> = toml::from_str(text).ok()?;
    let table = sections.get(section)?;
    if name.is_empty() {
        return Some(table.span().start);
    }
    let keys: BTreeMap<String, BTreeMap<String, Spanned<toml::Value>>> =
        toml::from_str(text).ok()?;
    keys.get(section)?
        .get(name.split('.').next().unwrap_or(name))
        .map(|v| v.span().start)
}

/// Read a config file. The project's own file is read like any project file (a regular file inside the
/// project, size-capped), since the project may come from anyone; the user's file may be anywhere.
fn read_config_bytes(path: &Path, project: Option<&Path>) -> Result<Option<Vec<u8>>, ConfigError> {
    use crate::analyze::project_files::{ProjectFiles, Read};
    let read_err = |source: std::io::Error| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let Some(project) = project else {
        return match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(read_err(e)),
        };
    };
    if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Ok(None);
    }
    let files = ProjectFiles::new(project).map_err(read_err)?;
    match files.read(Path::new(PROJECT_FILE)) {
        Read::Missing => Ok(None),
        // Read again as bytes: the reader already decided it is safe, and the UTF-8 check wants a position.
        Read::Text { .. } => std::fs::read(path).map(Some).map_err(read_err),
        Read::Refused(why) => Err(read_err(std::io::Error::other(format!("not read: {why}")))),
    }
}

/// Config files are UTF-8 (TOML requires it): an invalid byte is an error at its line and column.
fn utf8_or_position(path: &Path, bytes: Vec<u8>) -> Result<String, ConfigError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let span = crate::analyze::Span::from_range(prefix, valid, valid);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line: span.line,
            col: span.col,
            message: format!(
                "byte 0x{:02x} is not valid UTF-8; save the file as UTF-8",
                bytes.get(valid).copied().unwrap_or(0)
            ),
        }
    })
}

/// Settings a project's own `.dockui.toml` may not point outside the project with, or not set at all: a
/// cloned repository or a pull request must not make dockui read or write elsewhere, load a library or run a
/// command on the host.
fn check_project_paths(path: &Path, text: &str, project_dir: &Path) -> Result<(), ConfigError> {
    use toml::Spanned;
    #[derive(Deserialize, Default)]
    struct File {
        #[serde(default)]
        build: Build,
        #[serde(default)]
        gpu: Gpu,
        #[serde(default)]
        ui: Ui,
        #[serde(default)]
        codebuild: CodeBuild,
    }
    #[derive(Deserialize, Default)]
    struct CodeBuild {
        confirm: Option<Spanned<bool>>,
    }
    #[derive(Deserialize, Default)]
    struct Build {
        dockerfile: Option<Spanned<String>>,
    }
    #[derive(Deserialize, Default)]
    struct Gpu {
        nvml_lib: Option<Spanned<String>>,
    }
    #[derive(Deserialize, Default)]
    struct Ui {
        copy_command: Option<Spanned<String>>,
    }
    let f: File = toml::from_str(text).unwrap_or_default();
    let at = |span: std::ops::Range<usize>, message: String| {
        let s = crate::analyze::Span::from_range(text, span.start, span.start);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line: s.line,
            col: s.col,
            message,
        }
    };
    if let Some(df) = &f.build.dockerfile {
        let p = Path::new(df.get_ref());
        let inside = crate::analyze::project_files::stays_inside(p)
            && match (
                project_dir.join(p).canonicalize(),
                project_dir.canonicalize(),
            ) {
                (Ok(real), Ok(root)) => real.starts_with(root),
                // Not there (yet): the words of the path already stay inside.
                _ => true,
            };
        if !inside {
            return Err(at(
                df.span(),
                format!(
                    "build.dockerfile = \"{}\" points outside the project; a project's .dockui.toml may only \
                     name files inside the project (give another path with your own config or on the command line)",
                    df.get_ref()
                ),
            ));
        }
    }
    // A cloned project must not start paid cloud builds without the user's yes.
    if let Some(c) = &f.codebuild.confirm
        && !*c.get_ref()
    {
        return Err(at(
            c.span(),
            "codebuild.confirm = false spends your AWS money without asking and cannot be set by a \
             project's .dockui.toml; set it in your user config (or pass --yes)"
                .to_string(),
        ));
    }
    for (key, v) in [
        ("gpu.nvml_lib", &f.gpu.nvml_lib),
        ("ui.copy_command", &f.ui.copy_command),
    ] {
        if let Some(v) = v
            && !v.get_ref().is_empty()
        {
            return Err(at(
                v.span(),
                format!(
                    "{key} loads or runs a program on this machine and cannot be set by a project's \
                     .dockui.toml; set it in your user config instead"
                ),
            ));
        }
    }
    Ok(())
}

/// Parse one file and check it against the schema on its own, so errors carry this file's line and column.
fn parse_checked(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    let invalid = |span: Option<std::ops::Range<usize>>, message: String| {
        let (line, col) = span
            .map(|s| crate::analyze::Span::from_range(text, s.start, s.start))
            .map_or((1, 1), |s| (s.line, s.col));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            col,
            message: message.trim().to_string(),
        }
    };
    let table: toml::Table =
        toml::from_str(text).map_err(|e| invalid(e.span(), e.message().to_string()))?;
    // Deserializing from the text (not the Value) keeps spans for type errors and unknown keys.
    toml::from_str::<Config>(text).map_err(|e| invalid(e.span(), e.message().to_string()))?;
    Ok(table)
}

fn merge(base: &mut toml::Table, patch: toml::Table) {
    for (key, value) in patch {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) => merge(b, p),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

impl Config {
    /// What the analyzer needs from the config: the Dockerfile, ignored rules, the user's extra compat rows, and
    /// the build args (so the files are judged on what will be built; a stand-in base as the image it imitates).
    pub fn analyze_options(&self, paths: &crate::paths::Paths) -> crate::analyze::AnalyzeOptions {
        crate::analyze::AnalyzeOptions {
            dockerfile: Some(PathBuf::from(&self.build.dockerfile)),
            ignore: self.analyze.ignore.clone(),
            extra_compat: Some(paths.config_dir.join("compat.toml")),
            no_hadolint_config: false,
            host: None,
            base_digests: None,
            build_args: self
                .build
                .args
                .iter()
                .map(|(k, v)| {
                    let judged =
                        crate::docker::standin::stands_in_for(v).unwrap_or_else(|| v.clone());
                    (k.clone(), judged)
                })
                .collect(),
        }
    }
}

impl BuildConfig {
    pub fn builder_kind(&self) -> crate::docker::Builder {
        match self.builder.as_str() {
            "buildkit" => crate::docker::Builder::BuildKit,
            "legacy" => crate::docker::Builder::Legacy,
            _ => crate::docker::Builder::Auto,
        }
    }

    /// The most invasive fix level the build may apply by itself; None for "off".
    pub fn auto_fix_level(&self) -> Option<crate::analyze::FixLevel> {
        match self.auto_fix.as_str() {
            "safe" => Some(crate::analyze::FixLevel::Safe),
            "suggestion" => Some(crate::analyze::FixLevel::Suggestion),
            _ => None,
        }
    }

    /// The repository the image is tagged with: never the name of a real public image.
    pub fn repository(&self, project_dir: &Path) -> String {
        if !self.image.is_empty() {
            return self.image.clone();
        }
        let name = project_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "project".into());
        format!("dockui-local/{}", sanitize_repo_component(&name))
    }
}

/// Docker repository components are lower case `[a-z0-9._-]`, starting with an alphanumeric.
pub fn sanitize_repo_component(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.starts_with(['.', '_', '-']) {
        out.remove(0);
    }
    if out.is_empty() {
        "project".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_with(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PROJECT_FILE), config).unwrap();
        dir
    }

    #[test]
    fn a_value_check_names_the_line_of_the_file_that_set_the_value() {
        let user = tempfile::tempdir().unwrap();
        let user_file = user.path().join("config.toml");
        std::fs::write(&user_file, "[build]\nmax_attempts = 0\n").unwrap();
        let dir = project_with("# team settings\n[ui]\ntheme = \"solarized\"\n");
        let err = Config::load(Some(&user_file), dir.path())
            .unwrap_err()
            .to_string();
        // The user's file sets max_attempts = 0 on its line 2, column 16; the project's theme is not reached.
        assert!(
            err.contains("config.toml:2:16: build.max_attempts must be at least 1"),
            "{err}"
        );
        std::fs::write(&user_file, "").unwrap();
        let err = Config::load(Some(&user_file), dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains(".dockui.toml:3:9: ui.theme must be"), "{err}");
        // A later file wins: the project's valid value over the user's invalid one is no error.
        std::fs::write(&user_file, "[build]\nmax_attempts = 0\n").unwrap();
        let dir = project_with("build.max_attempts = 2\n");
        assert_eq!(
            Config::load(Some(&user_file), dir.path())
                .unwrap()
                .0
                .build
                .max_attempts,
            2
        );
        // Dotted keys and inline tables are found too.
        let dir = project_with("engine = { timeout_s = 0 }\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(".dockui.toml:1:24: engine.timeout_s must be at least 1"),
            "{err}"
        );
        let dir = project_with("\n\nnotify.style = \"slack\"\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains(".dockui.toml:3:16: notify.style"), "{err}");
        let dir = project_with(
            "[notify]\nwebhook = \"http://127.0.0.1:9/hook\"\ntimeout_s = 999999999999\n",
        );
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(".dockui.toml:3:13: notify.timeout_s = 999999999999: use 1 to 300"),
            "{err}"
        );
    }

    #[test]
    fn the_image_setting_is_a_repository_without_tag_or_digest() {
        let dir = project_with("[build]\nimage = \"team/app:1\"\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(".dockui.toml:2:9: build.image is a repository without a tag")
                && err.contains("write \"team/app\", not \"team/app:1\""),
            "{err}"
        );
        let dir = project_with("[build]\nimage = \"Team/App\"\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("build.image is not an image repository"),
            "{err}"
        );
        let digest = format!("reg:5000/app@sha256:{}", "a".repeat(64));
        let dir = project_with(&format!("[build]\nimage = \"{digest}\"\n"));
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("write \"reg:5000/app\""), "{err}");
        // A registry with a port is not a tag.
        for ok in ["reg:5000/team/app", "localhost:5000/app", "app"] {
            let dir = project_with(&format!("[build]\nimage = \"{ok}\"\n"));
            let (c, _) = Config::load(None, dir.path()).unwrap();
            assert_eq!(c.build.image, ok);
        }
    }

    #[test]
    fn defaults_parse_and_match_struct_defaults() {
        // With no file, load() skips parsing the defaults file: this is what makes that equal.
        let parsed: Config = toml::from_str(DEFAULTS).expect("embedded default config is valid");
        assert_eq!(parsed, Config::default());
        let (c, s) = Config::load(None, Path::new("/nonexistent")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.build.max_attempts, 3);
        assert!(s.files.is_empty());
    }

    fn keys(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = format!("{prefix}{k}");
            if let toml::Value::Table(sub) = v {
                keys(&format!("{key}."), sub, out);
            }
            out.push(key);
        }
    }

    #[test]
    fn example_documents_every_key_with_its_default() {
        let example = include_str!("../config.example.toml");
        let parsed: Config = toml::from_str(example).expect("config.example.toml is valid");
        assert_eq!(parsed, Config::default());
        let mut documented = Vec::new();
        keys("", &toml::from_str(example).unwrap(), &mut documented);
        let mut all = Vec::new();
        keys(
            "",
            &toml::Table::try_from(Config::default()).unwrap(),
            &mut all,
        );
        for k in all {
            assert!(
                documented.contains(&k),
                "config.example.toml does not document {k}"
            );
        }
    }

    #[test]
    fn project_file_overrides_keys_and_keeps_the_rest() {
        let dir = project_with("[build]\nmax_attempts = 5\n[build.args]\nBASE_IMAGE = \"x:1\"\n");
        let (c, s) = Config::load(None, dir.path()).unwrap();
        assert_eq!(c.build.max_attempts, 5);
        assert_eq!(c.build.tag, "latest");
        assert_eq!(
            c.build.args.get("BASE_IMAGE").map(String::as_str),
            Some("x:1")
        );
        assert_eq!(s.files.len(), 1);
    }

    #[test]
    fn project_overrides_user() {
        let dir = project_with("[build]\ntag = \"proj\"\n");
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[build]\ntag = \"user\"\nmax_attempts = 7\n").unwrap();
        let (c, _) = Config::load(Some(&user), dir.path()).unwrap();
        assert_eq!(c.build.tag, "proj");
        assert_eq!(c.build.max_attempts, 7);
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let dir = project_with("[build]\nmax_attempts = = 3\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains(".dockui.toml:2:"), "{err}");
    }

    #[test]
    fn wrong_type_names_line() {
        let dir = project_with("[build]\ntag = \"x\"\nmax_attempts = \"three\"\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains(".dockui.toml:3:16"), "{err}");
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let dir = project_with("[ui]\ntheme = \"dark\"\ncolour = \"red\"\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(".dockui.toml:3:1") && err.contains("colour"),
            "{err}"
        );
    }

    #[test]
    fn codebuild_section_loads_and_a_project_cannot_skip_the_cost_question() {
        let dir = project_with("[codebuild]\nproject = \"imgs\"\ntimeout_s = 600\n");
        let (c, _) = Config::load(None, dir.path()).unwrap();
        assert_eq!(c.codebuild.project, "imgs");
        assert_eq!(c.codebuild.timeout_s, 600);
        assert!(c.codebuild.confirm);
        let dir = project_with("[codebuild]\nconfirm = false\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(".dockui.toml:2:") && err.contains("confirm"),
            "{err}"
        );
        // The user's own file may.
        let user = dir.path().join("user.toml");
        std::fs::write(&user, "[codebuild]\nconfirm = false\n").unwrap();
        let empty = tempfile::tempdir().unwrap();
        let (c, _) = Config::load(Some(&user), empty.path()).unwrap();
        assert!(!c.codebuild.confirm);
    }

    #[test]
    fn bad_theme_is_rejected() {
        let dir = project_with("[ui]\ntheme = \"neon\"\n");
        let err = Config::load(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("neon"), "{err}");
    }

    #[test]
    fn analysis_gets_the_build_args_and_a_standin_is_judged_as_the_image_it_imitates() {
        let dir = project_with(
            "[build.args]\nBASE_IMAGE = \"dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\"\nPY = \"3.11\"\n",
        );
        let (c, _) = Config::load(None, dir.path()).unwrap();
        let paths = crate::paths::Paths {
            config_dir: dir.path().join("c"),
            state_dir: dir.path().join("s"),
            data_dir: dir.path().join("d"),
        };
        let opts = c.analyze_options(&paths);
        assert_eq!(
            opts.build_args.get("BASE_IMAGE").map(String::as_str),
            Some("pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime")
        );
        assert_eq!(opts.build_args.get("PY").map(String::as_str), Some("3.11"));
        // The build itself still uses the stand-in.
        assert!(c.build.args["BASE_IMAGE"].starts_with("dockui-standin/"));
    }

    #[test]
    fn repository_is_never_a_public_name() {
        let b = BuildConfig::default();
        let dir = tempfile::Builder::new()
            .prefix("My Project")
            .tempdir()
            .unwrap();
        let repo = b.repository(dir.path());
        assert!(repo.starts_with("dockui-local/my-project"), "{repo}");
    }
}
