//! Conda `environment.yml` files: the files `conda env create -f X`, `mamba env create -f X`,
//! `micromamba create -f X` (and `conda env create` alone: `environment.yml`) install.
//!
//! The file is read with [`super::yaml`] (spans on every scalar). Its `dependencies` are conda match specs
//! (`pytorch=2.1`, `pytorch-cuda=12.1`, `conda-forge::numpy>=1.26`, `cudatoolkit 11.8.*`); its `pip:`
//! sub-list holds ordinary pip requirement lines (`torch==2.1.0`, `--extra-index-url ...`, `-r x.txt`). Both
//! become [`Requirement`]s with the span of their own text, so the torch / CUDA rules judge them and their fixes
//! edit exactly that entry. The conda part is a [`Tool::Conda`] install (single `=` is conda's fuzzy pin and a
//! fix writes conda syntax); the `pip:` part a [`Tool::Pip`] install.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::dockerfile::shell::Command;
use super::requirements::{
    Install, Located, ReqFile, Requirement, Sources, Tool, normalise, parse_requirements,
};
use super::yaml::{self, Yaml};

/// What an `environment.yml` holds.
#[derive(Debug, Clone, Default)]
pub struct CondaEnv {
    pub path: PathBuf,
    pub name: Option<String>,
    /// `channels:` in order (the first is searched first).
    pub channels: Vec<Located>,
    /// Conda match specs.
    pub deps: Vec<Requirement>,
    /// The `pip:` sub-list, read as a requirements file (index options and `-r` includes kept).
    pub pip: ReqFile,
    pub problems: Vec<(usize, Range<usize>, String)>,
    /// Lines of `problems` judged by dockui's reading of conda's match-spec grammar (see `ReqFile::guessed`).
    pub guessed: Vec<usize>,
    /// Valid YAML that dockui did not read, past one of its limits (aliases that repeat too much text): line,
    /// byte range, message. conda may read it; nothing of the file was analysed.
    pub not_read: Option<(usize, Range<usize>, String)>,
}

impl CondaEnv {
    /// `python=3.10` -> "3.10.*" (what the environment asks conda for).
    pub fn python(&self) -> Option<String> {
        let r = self.deps.iter().find(|r| r.name == "python")?;
        r.exact()
            .map(str::to_string)
            .or_else(|| r.specs.first().map(|s| s.1.clone()))
    }

    /// Everything the file names, for the list of files read and for DU002 messages.
    pub fn reqfile(&self) -> ReqFile {
        let mut problems = self.problems.clone();
        problems.extend(self.pip.problems.iter().cloned());
        let mut guessed = self.guessed.clone();
        guessed.extend(self.pip.guessed.iter().copied());
        ReqFile {
            path: self.path.clone(),
            reqs: self
                .deps
                .iter()
                .chain(self.pip.reqs.iter())
                .cloned()
                .collect(),
            sources: self.pip.sources.clone(),
            problems,
            guessed,
        }
    }

    /// The installs this file stands for when a RUN line creates the environment (`range` is that
    /// command in the Dockerfile, `word` its sub-command word): the conda specs, then the `pip:` list.
    pub fn installs(&self, range: Range<usize>, word: Range<usize>) -> Vec<Install> {
        let mut out = Vec::new();
        let base = |tool| Install {
            tool,
            range: range.clone(),
            install_word: word.clone(),
            reqs: vec![],
            editables: vec![],
            sources: Sources::default(),
            no_cache: false,
            upgrade: false,
            force_reinstall: false,
            python: None,
            conda_python: None,
            no_deps: false,
            dry_run: false,
            no_install: vec![],
            torch_backend: None,
            project_extras: None,
            all_extras: false,
            program: String::new(),
            target_python: None,
            system: false,
        };
        if !self.deps.is_empty() {
            let mut c = base(Tool::Conda);
            c.reqs = self.deps.clone();
            c.conda_python = self.python();
            out.push(c);
        }
        if !self.pip.reqs.is_empty() || !self.pip.sources.includes.is_empty() {
            let mut p = base(Tool::Pip);
            for r in &self.pip.reqs {
                if r.url.is_some() && r.text.starts_with(['.', '/']) {
                    p.editables.push(r.clone());
                } else {
                    p.reqs.push(r.clone());
                }
            }
            p.sources = self.pip.sources.clone();
            // conda runs pip from the environment file's directory: includes are relative to it.
            let dir = self.path.parent().unwrap_or(Path::new(""));
            for inc in p.sources.includes.iter_mut() {
                if !dir.as_os_str().is_empty() && !inc.value.starts_with('/') {
                    inc.value = dir.join(&inc.value).to_string_lossy().into_owned();
                }
            }
            out.push(p);
        }
        out
    }
}

/// Parse an environment file. Never fails: what cannot be read becomes a problem with its line.
pub fn parse(text: &str, file: &Path) -> CondaEnv {
    let mut env = CondaEnv {
        path: file.to_path_buf(),
        pip: ReqFile {
            path: file.to_path_buf(),
            ..Default::default()
        },
        ..Default::default()
    };
    let y = match Yaml::parse(text) {
        Ok(y) => y,
        Err(p) if p.limit => {
            env.not_read = Some((
                p.line,
                p.range,
                format!("{} was not read: {}", file.display(), p.message),
            ));
            return env;
        }
        Err(p) => {
            env.problems.push((
                p.line,
                p.range,
                format!("{}: {}", file.display(), p.message),
            ));
            return env;
        }
    };
    env.name = yaml::get(&y.root, "name")
        .and_then(yaml::scalar)
        .map(|s| s.into_owned());
    if let Some(ch) = yaml::get(&y.root, "channels") {
        for c in yaml::items(ch) {
            if let Some(v) = yaml::scalar(c) {
                let r = y.value_range(c);
                env.channels.push(Located {
                    value: v.into_owned(),
                    file: file.to_path_buf(),
                    range: r.clone(),
                    name_range: r.clone(),
                    line: y.line(r.start),
                });
            }
        }
    }
    let Some(deps) = yaml::get(&y.root, "dependencies") else {
        return env;
    };
    for d in yaml::items(deps) {
        if let Some(pip) = yaml::get(d, "pip") {
            for p in yaml::items(pip) {
                pip_entry(&y, p, file, &mut env.pip);
            }
            continue;
        }
        let Some(v) = yaml::scalar_as_written(&y, d) else {
            let r = y.range(d);
            env.guessed.push(y.line(r.start));
            env.problems.push((
                y.line(r.start),
                r,
                "a conda dependency must be a match spec such as `numpy=1.26` or a `pip:` list"
                    .into(),
            ));
            continue;
        };
        let r = y.value_range(d);
        match match_spec(&v, r.clone(), file, y.line(r.start)) {
            Ok(Some(req)) => env.deps.push(req),
            Ok(None) => {}
            Err(msg) => {
                env.guessed.push(y.line(r.start));
                env.problems.push((y.line(r.start), r, msg))
            }
        }
    }
    env
}

/// A conda spec list (`conda install --file specs.txt`, `conda create --file ...`): one match spec per line,
/// `#` comments. An `@EXPLICIT` list (URLs of packages) names exact builds; its lines are kept as URLs.
pub fn parse_spec_file(text: &str, file: &Path) -> ReqFile {
    let mut rf = ReqFile {
        path: file.to_path_buf(),
        ..Default::default()
    };
    let mut off = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line = raw.trim_end_matches(['\n', '\r']);
        let code = line.split('#').next().unwrap_or("");
        let lead = code.len() - code.trim_start().len();
        let t = code.trim();
        let start = off + lead;
        off += raw.len();
        if t.is_empty() || t.starts_with('@') {
            continue;
        }
        if t.contains("://") {
            rf.reqs.push(Requirement {
                name: String::new(),
                text: t.to_string(),
                extras: vec![],
                specs: vec![],
                marker: None,
                url: Some(t.to_string()),
                file: file.to_path_buf(),
                range: start..start + t.len(),
                line: i + 1,
            });
            continue;
        }
        match match_spec(t, start..start + t.len(), file, i + 1) {
            Ok(Some(r)) => rf.reqs.push(r),
            Ok(None) => {}
            Err(msg) => {
                rf.guessed.push(i + 1);
                rf.problems.push((i + 1, start..start + t.len(), msg))
            }
        }
    }
    rf
}

/// One `pip:` entry: a requirements-file line, with ranges moved to where the entry sits in the file.
fn pip_entry(y: &Yaml, n: &yaml::Node, file: &Path, out: &mut ReqFile) {
    let Some(v) = yaml::scalar_as_written(y, n) else {
        return;
    };
    let r = y.value_range(n);
    let line = y.line(r.start);
    let literal = y.text.get(r.clone()) == Some(v.as_ref());
    let shift = |x: Range<usize>| {
        if literal {
            r.start + x.start..r.start + x.end
        } else {
            r.clone()
        }
    };
    let rf = parse_requirements(&v, file);
    for mut q in rf.reqs {
        q.range = shift(q.range);
        q.line = line;
        out.reqs.push(q);
    }
    let fix = |mut l: Located| {
        l.range = shift(l.range);
        l.name_range = shift(l.name_range);
        l.line = line;
        l
    };
    let s = rf.sources;
    if let Some(i) = s.index_url {
        out.sources.index_url = Some(fix(i));
    }
    out.sources
        .extra_index_urls
        .extend(s.extra_index_urls.into_iter().map(fix));
    out.sources
        .find_links
        .extend(s.find_links.into_iter().map(fix));
    out.sources.includes.extend(s.includes.into_iter().map(fix));
    out.sources
        .constraints
        .extend(s.constraints.into_iter().map(fix));
    if !rf.guessed.is_empty() {
        out.guessed.push(line);
    }
    for (_, pr, msg) in rf.problems {
        out.problems.push((line, shift(pr), msg));
    }
}

/// Read a conda match spec: `name`, `name=1.2` (the 1.2 series), `name=1.2.3`, `name==1.2.3`,
/// `name>=1.2,<2`, `name 1.2.*`, `name=1.2.3=build`, `channel::name=1.2`. The requirement's range is the whole
/// spec (a fix replaces it in conda syntax).
pub fn match_spec(
    text: &str,
    range: Range<usize>,
    file: &Path,
    line: usize,
) -> Result<Option<Requirement>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.len() > 1024 {
        return Err(format!("a conda spec of {} bytes is too long", t.len()));
    }
    // `conda-forge::numpy`, `nvidia/label/cuda-12.1.0::cuda-toolkit`
    let body = t.rsplit_once("::").map(|(_, b)| b).unwrap_or(t);
    // `pytorch[version='>=2.1']`: keep the name, the bracket options are beyond what the rules need.
    let (body, bracket) = match body.find('[') {
        Some(i) => (&body[..i], true),
        None => (body, false),
    };
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(body.len());
    if name_len == 0 {
        return Err(format!("cannot read conda spec {t:?}"));
    }
    let name = normalise(&body[..name_len]);
    let rest = body[name_len..].trim();
    let mut specs = Vec::new();
    if !bracket && !rest.is_empty() && !rest.contains('|') {
        // Space form: `numpy 1.26.*` / `pytorch 2.1.0 py3.10_cuda12.1_0`.
        let (version, spaced) = match rest.split_once(char::is_whitespace) {
            Some((v, _)) => (v, true),
            None => (rest, false),
        };
        let version = if spaced || !rest.starts_with(['=', '<', '>', '!', '~']) {
            format!("={version}")
        } else {
            version.to_string()
        };
        for part in version.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("==") {
                specs.push(("==".to_string(), glob(v.split('=').next().unwrap_or(v))));
            } else if let Some(v) = part.strip_prefix('=') {
                // Single `=` is fuzzy: `=1.2` is the 1.2 series, `=1.2.3` that release (and its builds); a
                // second `=` starts the build string.
                let v = v.split('=').next().unwrap_or(v);
                let dots = v.matches('.').count();
                let v = if v.contains('*') || dots >= 2 {
                    glob(v)
                } else {
                    format!("{v}.*")
                };
                specs.push(("==".to_string(), v));
            } else if let Some(op) = ["!=", ">=", "<=", "~=", ">", "<"]
                .iter()
                .find(|op| part.starts_with(**op))
            {
                specs.push((op.to_string(), glob(part[op.len()..].trim())));
            } else if !part.is_empty() {
                return Err(format!(
                    "cannot read conda spec {t:?}: `{part}` is not a version constraint"
                ));
            }
        }
    }
    Ok(Some(Requirement {
        name,
        text: t.to_string(),
        extras: vec![],
        specs,
        marker: None,
        url: None,
        file: file.to_path_buf(),
        range,
        line,
    }))
}

/// conda's `1.2*` is PEP 440's `1.2.*`.
fn glob(v: &str) -> String {
    match v.strip_suffix('*') {
        Some(p) if !p.ends_with('.') && !p.is_empty() => format!("{p}.*"),
        _ => v.to_string(),
    }
}

/// Which build of torch a conda request selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TorchBuild {
    /// A CUDA build: the wheel-style variant ("cu121") and what named it (`pytorch-cuda=12.1`, ...).
    Cuda { variant: String, from: String },
    /// `cpuonly`, or a `*cpu*` build string.
    Cpu { from: String },
    /// Nothing names the build: conda picks it from the `__cuda` virtual package of the machine that runs the
    /// solver, and a `docker build` has no GPU, so this is usually the CPU build (an assumption; say so).
    Unknown,
}

/// The torch build a set of conda specs selects (`pytorch-cuda=12.1`, `cudatoolkit=11.8` for the older
/// pytorch channel, conda-forge's `cuda-version=12.4`, `cpuonly`, or a build string such as
/// `pytorch=2.1.0=py3.10_cuda12.1_cudnn8.9.2_0`). For the rules that must not assume PyPI's default build.
pub fn torch_build<'a>(reqs: impl IntoIterator<Item = &'a Requirement>) -> TorchBuild {
    let reqs: Vec<&Requirement> = reqs.into_iter().collect();
    let variant = |r: &Requirement| {
        r.series()
            .and_then(|c| super::compat::cuda_to_variant(&c))
            .map(|variant| TorchBuild::Cuda {
                variant,
                from: r.text.clone(),
            })
    };
    for name in ["pytorch-cuda", "cuda-version", "cudatoolkit"] {
        if let Some(b) = reqs
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| variant(r))
        {
            return b;
        }
    }
    if let Some(r) = reqs.iter().find(|r| r.name == "cpuonly") {
        return TorchBuild::Cpu {
            from: r.text.clone(),
        };
    }
    if let Some(r) = reqs
        .iter()
        .find(|r| r.name == "pytorch" || r.name == "torch")
    {
        // The build string is the third `=` field (or the third space-separated one).
        let build = r
            .text
            .splitn(3, ['=', ' '])
            .nth(2)
            .unwrap_or("")
            .trim_start_matches('=');
        if let Some(i) = build.find("cuda") {
            let digits: String = build[i + 4..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if let Some(variant) = super::compat::cuda_to_variant(digits.trim_end_matches('.')) {
                return TorchBuild::Cuda {
                    variant,
                    from: r.text.clone(),
                };
            }
        }
        if build.contains("cpu") {
            return TorchBuild::Cpu {
                from: r.text.clone(),
            };
        }
    }
    TorchBuild::Unknown
}

/// A RUN command that creates or updates an environment from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCommand {
    /// The file as written (`environment.yml` when `conda env create` names none).
    pub file: String,
    /// Range of the whole command and of its sub-command word (`create` / `update`).
    pub range: Range<usize>,
    pub word: Range<usize>,
}

/// `conda env create -f X`, `conda env update --file=X`, `mamba env create -f X`, `micromamba create -f X`,
/// `micromamba env create -f X`, `micromamba install -f X` (X a `.yml`/`.yaml` file), and `conda env create`
/// without `-f` (conda then reads `environment.yml`).
pub fn env_command(cmd: &Command) -> Option<EnvCommand> {
    let cmd = cmd.unwrapped();
    let base = cmd.base_name();
    if !matches!(base, "conda" | "mamba" | "micromamba") {
        return None;
    }
    let w = &cmd.words;
    let pos: Vec<usize> = (1..w.len())
        .filter(|&i| !w[i].text.starts_with('-'))
        .collect();
    let first = pos.first().map(|&i| w[i].text.as_str());
    let (word_at, env_sub) = match first {
        Some("env") => {
            let i = *pos.get(1)?;
            if !matches!(w[i].text.as_str(), "create" | "update") {
                return None;
            }
            (i, true)
        }
        Some("create" | "install" | "update") => (pos[0], false),
        _ => return None,
    };
    let mut file = None;
    let mut j = word_at + 1;
    while j < w.len() {
        let t = w[j].text.as_str();
        if t == "-f" || t == "--file" {
            file = w.get(j + 1).map(|x| x.text.clone());
            j += 1;
        } else if let Some(v) = t.strip_prefix("--file=") {
            file = Some(v.to_string());
        } else if let Some(v) = t
            .strip_prefix("-f")
            .filter(|v| !v.is_empty() && !v.starts_with('-'))
        {
            file = Some(v.to_string());
        }
        j += 1;
    }
    let file = match file {
        Some(f) if env_sub || f.ends_with(".yml") || f.ends_with(".yaml") => f,
        // `conda create --file specs.txt` is a spec list, not an environment file.
        Some(_) => return None,
        None if env_sub && base == "conda" && w[word_at].text == "create" => {
            "environment.yml".into()
        }
        None if env_sub && w[word_at].text == "create" && base == "mamba" => {
            "environment.yml".into()
        }
        None => return None,
    };
    Some(EnvCommand {
        file,
        range: cmd.range(),
        word: w[word_at].range.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::dockerfile::shell;

    const ENV: &str = "name: research\nchannels:\n  - pytorch\n  - nvidia\n  - conda-forge\ndependencies:\n  - python=3.10\n  - pytorch=2.1.0\n  - torchvision=0.16\n  - pytorch-cuda=12.1\n  - conda-forge::numpy>=1.26,<2\n  - pip\n  - pip:\n      - --extra-index-url https://download.pytorch.org/whl/cu121\n      - \"transformers==4.40.0\"\n      - -r requirements-extra.txt\n";

    fn at<'a>(text: &'a str, r: &Requirement) -> &'a str {
        &text[r.range.clone()]
    }

    #[test]
    fn environment_file_reads_conda_specs_and_the_pip_list_with_spans() {
        let env = parse(ENV, Path::new("env/environment.yml"));
        assert!(env.problems.is_empty(), "{:?}", env.problems);
        assert_eq!(env.name.as_deref(), Some("research"));
        assert_eq!(
            env.channels
                .iter()
                .map(|c| c.value.as_str())
                .collect::<Vec<_>>(),
            ["pytorch", "nvidia", "conda-forge"]
        );
        let get = |n: &str| env.deps.iter().find(|r| r.name == n).unwrap();
        assert_eq!(get("pytorch").series().as_deref(), Some("2.1"));
        assert_eq!(get("pytorch").exact(), Some("2.1.0"));
        assert_eq!(at(ENV, get("pytorch")), "pytorch=2.1.0");
        assert_eq!(get("pytorch").line, 8);
        assert_eq!(get("torchvision").series().as_deref(), Some("0.16"));
        assert_eq!(get("pytorch-cuda").series().as_deref(), Some("12.1"));
        assert_eq!(get("numpy").specs.len(), 2);
        assert_eq!(env.python().as_deref(), Some("3.10.*"));
        assert_eq!(env.pip.reqs.len(), 1);
        assert_eq!(at(ENV, &env.pip.reqs[0]), "transformers==4.40.0");
        assert_eq!(env.pip.reqs[0].line, 15);
        let extra = &env.pip.sources.extra_index_urls[0];
        assert_eq!(extra.value, "https://download.pytorch.org/whl/cu121");
        assert_eq!(&ENV[extra.name_range.clone()], "--extra-index-url");
        let inst = env.installs(0..1, 0..1);
        assert_eq!(inst.len(), 2);
        assert_eq!(inst[0].tool, Tool::Conda);
        assert_eq!(inst[1].tool, Tool::Pip);
        // pip runs from the file's directory.
        assert_eq!(
            inst[1].sources.includes[0].value,
            "env/requirements-extra.txt"
        );
    }

    #[test]
    fn match_spec_forms() {
        let f = Path::new("environment.yml");
        let s = |t: &str| match_spec(t, 0..t.len(), f, 1).unwrap().unwrap();
        assert_eq!(s("pytorch").specs, vec![]);
        assert_eq!(s("pytorch=2.1").series().as_deref(), Some("2.1"));
        assert_eq!(s("pytorch==2.1.2").exact(), Some("2.1.2"));
        assert_eq!(
            s("pytorch=2.1.0=py3.10_cuda12.1_cudnn8.9.2_0").exact(),
            Some("2.1.0")
        );
        assert_eq!(s("cudatoolkit 11.8.*").series().as_deref(), Some("11.8"));
        assert_eq!(s("numpy 1.26*").specs[0].1, "1.26.*");
        assert_eq!(s("pytorch::pytorch>=2.0").name, "pytorch");
        assert_eq!(s("Flash_Attn").name, "flash-attn");
        assert!(match_spec("=1.0", 0..4, f, 1).is_err());
    }

    #[test]
    fn hostile_environment_files_are_problems_never_panics() {
        let f = Path::new("environment.yml");
        for text in [
            "dependencies: [\n",
            "dependencies:\n  - {a: b}\n  - pytorch=2.1\n",
            "\0\0\0",
            "dependencies:\n\t- x\n",
            &"- ".repeat(5000),
            &"[".repeat(300),
            "a: &x [*x]\n",
            "dependencies:\r  - numpy\r",
            "dependencies: 3\n",
            "",
        ] {
            let env = parse(text, f);
            for (line, range, msg) in &env.problems {
                assert!(*line >= 1, "{text:?}: {msg}");
                assert!(range.end <= text.len().max(range.end), "{msg}");
            }
        }
        let env = parse("dependencies:\n  - {a: b}\n  - pytorch=2.1\n", f);
        assert_eq!(env.problems.len(), 1);
        assert_eq!(env.problems[0].0, 2);
        assert_eq!(env.deps.len(), 1);
        let env = parse("name: x\ndependencies: [\n", f);
        assert_eq!(env.problems.len(), 1);
        assert!(
            env.problems[0].2.contains("not valid YAML"),
            "{:?}",
            env.problems
        );
    }

    #[test]
    fn torch_build_comes_from_what_the_specs_name() {
        let f = Path::new("environment.yml");
        let specs = |list: &[&str]| -> Vec<Requirement> {
            list.iter()
                .map(|t| match_spec(t, 0..t.len(), f, 1).unwrap().unwrap())
                .collect()
        };
        let build = |list: &[&str]| torch_build(specs(list).iter());
        assert!(
            matches!(build(&["pytorch=2.1", "pytorch-cuda=12.1"]), TorchBuild::Cuda { variant, .. } if variant == "cu121")
        );
        assert!(
            matches!(build(&["pytorch=1.13", "cudatoolkit=11.7"]), TorchBuild::Cuda { variant, .. } if variant == "cu117")
        );
        assert!(
            matches!(build(&["pytorch", "cuda-version=12.4"]), TorchBuild::Cuda { variant, .. } if variant == "cu124")
        );
        assert!(
            matches!(build(&["pytorch=2.1.0=py3.10_cuda11.8_cudnn8.7.0_0"]), TorchBuild::Cuda { variant, .. } if variant == "cu118")
        );
        assert!(matches!(
            build(&["pytorch=2.1", "cpuonly"]),
            TorchBuild::Cpu { .. }
        ));
        assert!(matches!(
            build(&["pytorch=2.1.0=py3.10_cpu_0"]),
            TorchBuild::Cpu { .. }
        ));
        assert_eq!(build(&["pytorch=2.1", "numpy"]), TorchBuild::Unknown);
    }

    #[test]
    fn conda_spec_lists_are_read_as_conda_specs() {
        let text = "# pinned\npytorch=2.1.0  # gpu\npytorch-cuda=12.1\n\n=bad\n";
        let rf = parse_spec_file(text, Path::new("conda-specs.txt"));
        assert_eq!(rf.reqs.len(), 2);
        assert_eq!(&text[rf.reqs[0].range.clone()], "pytorch=2.1.0");
        assert_eq!(rf.reqs[0].exact(), Some("2.1.0"));
        assert_eq!(rf.reqs[1].line, 3);
        assert_eq!(rf.problems.len(), 1);
        assert_eq!(rf.problems[0].0, 5);
    }

    fn cmds(s: &str) -> Vec<EnvCommand> {
        shell::parse(s, &|r| r)
            .commands
            .iter()
            .filter_map(env_command)
            .collect()
    }

    #[test]
    fn env_commands_name_their_file() {
        let v = cmds(
            "conda env create -f /tmp/env.yaml && mamba env update --file=environment-gpu.yml && micromamba create -y -n base -f env.yml && conda env create",
        );
        let files: Vec<&str> = v.iter().map(|c| c.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "/tmp/env.yaml",
                "environment-gpu.yml",
                "env.yml",
                "environment.yml"
            ]
        );
        // Not environment files: package installs and spec lists.
        assert!(cmds("conda install -y pytorch=2.1 && conda create -n x --file specs.txt && micromamba create -n x python=3.11").is_empty());
    }

    mod analysis {
        use crate::analyze::apply_edits;
        use crate::analyze::rules::testutil::check_with;
        use std::path::Path;

        const DF: &str = "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\nCOPY environment.yml /tmp/env.yml\nRUN conda env create -f /tmp/env.yml && conda clean -afy\n";
        const ENV_121: &str = "name: app\nchannels:\n  - pytorch\n  - nvidia\ndependencies:\n  - python=3.10\n  - pytorch=2.1.0\n  - torchvision=0.16.0\n  - pytorch-cuda=12.1\n";

        #[test]
        fn pytorch_cuda_newer_than_the_base_fires_in_the_environment_file() {
            let a = check_with(DF, &[("environment.yml", ENV_121)]);
            assert!(a.files.iter().any(|f| f == Path::new("environment.yml")));
            let f = a
                .findings
                .iter()
                .find(|f| f.rule == "DU201")
                .unwrap_or_else(|| panic!("DU201 expected: {:#?}", a.findings));
            assert_eq!(f.file, Path::new("environment.yml"));
            assert!(f.message.contains("cu121"), "{}", f.message);
            // The same environment on the CUDA 11.8 build is fine.
            let ok = ENV_121.replace("pytorch-cuda=12.1", "pytorch-cuda=11.8");
            let a = check_with(DF, &[("environment.yml", &ok)]);
            assert!(
                !a.findings.iter().any(|f| f.rule == "DU201"),
                "{:#?}",
                a.findings
            );
        }

        #[test]
        fn torchvision_mismatch_in_an_environment_file_is_fixed_by_span() {
            let env = ENV_121
                .replace("pytorch-cuda=12.1", "pytorch-cuda=11.8")
                .replace("torchvision=0.16.0", "torchvision=0.15.2");
            let a = check_with(DF, &[("environment.yml", &env)]);
            let f = a
                .findings
                .iter()
                .find(|f| f.rule == "DU202")
                .unwrap_or_else(|| panic!("DU202 expected: {:#?}", a.findings));
            assert_eq!(f.file, Path::new("environment.yml"));
            assert_eq!(f.span.line, 8);
            let fix = &f.fixes[0];
            assert_eq!(fix.file, Path::new("environment.yml"));
            let fixed = apply_edits(&env, &fix.edits);
            assert!(fixed.contains("  - torchvision=0.16"), "{fixed}");
            // Every other line is kept and the file still reads.
            assert_eq!(fixed.lines().count(), env.lines().count());
            let again = check_with(DF, &[("environment.yml", &fixed)]);
            assert!(
                !again.findings.iter().any(|f| f.rule == "DU202"),
                "{:#?}",
                again.findings
            );
            let env = super::super::parse(&fixed, Path::new("environment.yml"));
            assert!(env.problems.is_empty());
        }

        #[test]
        fn the_pip_list_is_judged_as_pip_requirements() {
            let env = "dependencies:\n  - python=3.10\n  - pip\n  - pip:\n    - torch==2.1.0+cu121\n    - --extra-index-url https://download.pytorch.org/whl/cu121\n";
            let a = check_with(DF, &[("environment.yml", env)]);
            let f = a
                .findings
                .iter()
                .find(|f| f.rule == "DU201")
                .unwrap_or_else(|| panic!("DU201 expected: {:#?}", a.findings));
            assert_eq!(f.file, Path::new("environment.yml"));
            assert_eq!(f.span.line, 5);
            let ok = env.replace("cu121", "cu118");
            let a = check_with(DF, &[("environment.yml", &ok)]);
            assert!(
                !a.findings.iter().any(|f| f.rule == "DU201"),
                "{:#?}",
                a.findings
            );
        }

        #[test]
        fn pytorch_cuda_is_checked_against_the_host_driver() {
            use crate::analyze::{AnalyzeOptions, HostGpu, analyze_files};
            use std::path::PathBuf;
            let df = "FROM continuumio/miniconda3:24.1.2-0\nCOPY environment.yml .\nRUN conda env create -f environment.yml && conda clean -afy\n";
            let env = "dependencies:\n  - pytorch=2.4.0\n  - pytorch-cuda=12.4\n";
            let opts = AnalyzeOptions {
                host: Some(HostGpu {
                    driver_version: "525.60.13".into(),
                    cuda_driver: Some((12, 0)),
                    gpus: vec![],
                }),
                ..Default::default()
            };
            let run = |env: &str| {
                analyze_files(
                    &[
                        (PathBuf::from("Dockerfile"), df.to_string()),
                        (PathBuf::from("environment.yml"), env.to_string()),
                    ],
                    &opts,
                )
            };
            let a = run(env);
            let f = a
                .findings
                .iter()
                .find(|f| f.rule == "DU212")
                .unwrap_or_else(|| panic!("DU212 expected: {:#?}", a.findings));
            assert_eq!(f.file, Path::new("environment.yml"));
            assert!(
                f.message.contains("cu124") || f.message.contains("12.4"),
                "{}",
                f.message
            );
            let old = env
                .replace("pytorch=2.4.0", "pytorch=2.1.0")
                .replace("12.4", "11.8");
            let a = run(&old);
            assert!(
                !a.findings.iter().any(|f| f.rule == "DU212"),
                "{:#?}",
                a.findings
            );
        }

        #[test]
        fn conda_install_file_lists_feed_the_conda_rules() {
            let df = "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\nCOPY conda-specs.txt .\nRUN conda install -y -c pytorch -c nvidia --file conda-specs.txt && conda clean -afy\n";
            let specs = "pytorch=2.1.0\npytorch-cuda=12.1\n";
            let a = check_with(df, &[("conda-specs.txt", specs)]);
            assert!(
                !a.findings.iter().any(|f| f.rule == "DU002"),
                "{:#?}",
                a.findings
            );
            let f = a
                .findings
                .iter()
                .find(|f| f.rule == "DU201")
                .unwrap_or_else(|| panic!("DU201 expected: {:#?}", a.findings));
            assert_eq!(f.file, Path::new("conda-specs.txt"));
            let ok = specs.replace("12.1", "11.8");
            let a = check_with(df, &[("conda-specs.txt", &ok)]);
            assert!(
                !a.findings.iter().any(|f| f.rule == "DU201"),
                "{:#?}",
                a.findings
            );
        }

        #[test]
        fn default_file_and_unreadable_files() {
            let df = "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\nWORKDIR /app\nCOPY . .\nRUN conda env create && conda clean -afy\n";
            let a = check_with(df, &[("environment.yml", ENV_121)]);
            assert!(
                a.findings.iter().any(|f| f.rule == "DU201"),
                "{:#?}",
                a.findings
            );
            let broken = "dependencies:\n  - pytorch=2.1\n  - [unclosed\n";
            let a = check_with(df, &[("environment.yml", broken)]);
            let f = a
                .findings
                .iter()
                .find(|f| f.rule == "DU002")
                .unwrap_or_else(|| panic!("DU002 expected: {:#?}", a.findings));
            assert_eq!(f.file, Path::new("environment.yml"));
            // No environment command: the file is not read.
            let a = check_with(
                "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\n",
                &[("environment.yml", ENV_121)],
            );
            assert!(!a.files.iter().any(|f| f == Path::new("environment.yml")));
        }

        #[test]
        fn an_environment_whose_aliases_repeat_megabytes_is_not_read() {
            // The audit's file, scaled down: 100 kB repeated by 200 aliases (20 MB; it was 2 MB x 100,000,
            // 2.3 MB on disk, and dockui aborted).
            let df = "FROM continuumio/miniconda3:24.7.1-0\nCOPY environment.yml .\nRUN conda env create -f environment.yml && conda clean -afy\n";
            let env = format!(
                "name: x\nbig: &a \"{}\"\nrefs: [{}]\ndependencies:\n  - python=3.10\n",
                "x".repeat(100_000),
                vec!["*a"; 200].join(",")
            );
            let a = check_with(df, &[("environment.yml", &env)]);
            let f = a
                .findings
                .iter()
                .find(|f| f.file == Path::new("environment.yml"))
                .unwrap_or_else(|| panic!("a finding on environment.yml: {:#?}", a.findings));
            assert_eq!((f.rule.as_str(), f.span.line), ("DU004", 3));
            assert_eq!(f.severity, crate::analyze::Severity::Warning);
            assert!(
                f.message.starts_with("environment.yml was not read"),
                "{}",
                f.message
            );
            // Valid YAML: no DU002 claims conda would stop.
            assert!(
                !a.findings.iter().any(|f| f.rule == "DU002"),
                "{:#?}",
                a.findings
            );
            // An environment that shares its channel list through an anchor is read as usual.
            let anchored = "name: x\nchannels: &ch\n  - pytorch\n  - nvidia\nextra: *ch\ndependencies:\n  - pytorch=2.1.0\n  - pytorch-cuda=12.1\n";
            let a = check_with(df, &[("environment.yml", anchored)]);
            assert!(
                !a.findings
                    .iter()
                    .any(|f| matches!(f.rule.as_str(), "DU004" | "DU002")),
                "{:#?}",
                a.findings
            );
            assert!(a.files.iter().any(|f| f == Path::new("environment.yml")));
        }
    }
}
