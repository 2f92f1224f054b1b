//! Install commands in RUN lines: what `pip install` / `python -m pip install` / `uv pip install` /
//! `conda|mamba|micromamba install|create` / `pipx install` ask for, with their options, as pip, uv and conda
//! read them. Requirement text itself is parsed by `requirements`.

use std::ops::Range;
use std::path::Path;

use super::dockerfile::shell::{Command, SWord};
use super::requirements::{Located, OPS, Requirement, Sources, normalise, parse_requirement};

/// What one install command in a RUN line installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub tool: Tool,
    /// Range of the whole command in the Dockerfile.
    pub range: Range<usize>,
    /// Range of the `install` word (fixes insert options after it).
    pub install_word: Range<usize>,
    pub reqs: Vec<Requirement>,
    /// `-e <path or url>` requirements (local projects: not "packages" for pinning rules).
    pub editables: Vec<Requirement>,
    pub sources: Sources,
    /// `--no-cache-dir` (pip) / `--no-cache` (uv) given.
    pub no_cache: bool,
    pub upgrade: bool,
    pub force_reinstall: bool,
    /// `python3.11 -m pip`: the interpreter named.
    pub python: Option<String>,
    /// Conda's `python=3.x` request.
    pub conda_python: Option<String>,
    /// `--no-deps`: dependencies of the named packages are not installed or changed.
    pub no_deps: bool,
    /// `--dry-run`: resolved (and downloaded), nothing installed.
    pub dry_run: bool,
    /// `uv pip install --no-install-package torch`, `uv sync --no-install-package torch`: resolved, not installed.
    pub no_install: Vec<String>,
    /// uv's `--torch-backend cu126` or `UV_TORCH_BACKEND=cu126` on the command (ENV is read by the rules).
    pub torch_backend: Option<String>,
    /// The local project is installed (`pip install .`, `".[a,b]"`, `-e .`, `uv sync`): the optional groups
    /// installed with its `dependencies` (`--extra` for uv sync). `None`: the project is not installed.
    pub project_extras: Option<Vec<String>>,
    /// `uv sync --all-extras` / `pip install ".[all]"`-like requests for every optional group.
    pub all_extras: bool,
    /// The program as written (`pip`, `/opt/venv/bin/pip`, `/opt/venv/bin/python`, `uv`): with a path it
    /// names the environment the packages go to.
    pub program: String,
    /// uv's `--python X` / `-p X`: the interpreter (and so the environment) uv installs into.
    pub target_python: Option<String>,
    /// uv's `--system`: the system interpreter, not a virtual environment.
    pub system: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Pip,
    UvPip,
    /// `uv sync`: installs the project's pyproject.toml dependencies (uv.lock when present).
    UvSync,
    Conda,
    Pipx,
}

/// pip options that take a value (so the value is not a package).
const PIP_VALUE_OPTS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "-b",
    "--build",
    "--trusted-host",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--root-user-action",
    "--log",
    "--proxy",
    "--retries",
    "--timeout",
    "--exists-action",
    "--cert",
    "--client-cert",
    "--cache-dir",
    "--no-binary",
    "--only-binary",
    "--global-option",
    "--install-option",
    "--config-settings",
    "-C",
    "--python",
    "-p",
    "--index",
    "--default-index",
    "--index-strategy",
    "--keyring-provider",
    "--resolution",
    "--prerelease",
    "--extra",
    "--group",
    "--report",
    "--hash",
    "--override",
    "--exclude-newer",
    "--no-install-package",
    "--torch-backend",
    "--extra-index",
    "--package",
    "--only-group",
    "--no-group",
    "--directory",
    "--project",
];

const CONDA_VALUE_OPTS: &[&str] = &[
    "-c",
    "--channel",
    "-n",
    "--name",
    "-p",
    "--prefix",
    "--file",
    "--override-channels-x",
];

/// Recognise an install command: `pip install`, `pip3.11 install`, `python -m pip install`, `uv pip install`,
/// `conda|mamba|micromamba install|create`, `pipx install`. `file` is the Dockerfile path.
pub fn install_of(cmd: &Command, file: &Path, text: &str) -> Option<Install> {
    install_of_indexed(cmd, file, text, &super::LineIndex::new(text))
}

/// [`install_of`] with the line index of `text` built once by the caller (one scan per file, not per install:
/// counting newlines from the top for every option word made big files quadratic).
pub fn install_of_indexed(
    cmd: &Command,
    file: &Path,
    text: &str,
    lines: &super::LineIndex,
) -> Option<Install> {
    let cmd = cmd.unwrapped();
    let w = &cmd.words;
    let base = cmd.base_name();
    let (tool, sub_at, python) = if is_pip(base) {
        (Tool::Pip, 1, None)
    } else if is_python(base)
        && w.get(1).map(|x| x.text.as_str()) == Some("-m")
        && w.get(2).is_some_and(|x| is_pip(&x.text))
    {
        (Tool::Pip, 3, Some(base.to_string()))
    } else if base == "uv" && w.get(1).map(|x| x.text.as_str()) == Some("pip") {
        (Tool::UvPip, 2, None)
    } else if base == "uv" && w.get(1).map(|x| x.text.as_str()) == Some("sync") {
        (Tool::UvSync, 1, None)
    } else if matches!(base, "conda" | "mamba" | "micromamba") {
        (Tool::Conda, 1, None)
    } else if base == "pipx" {
        (Tool::Pipx, 1, None)
    } else {
        return None;
    };
    // Global options may come before the subcommand (`pip --no-cache-dir install`).
    let mut i = sub_at;
    let mut no_cache = false;
    while i < w.len() && w[i].text.starts_with('-') {
        if w[i].text == "--no-cache-dir" || w[i].text == "--no-cache" {
            no_cache = true;
        }
        i += 1;
    }
    let sub = w.get(i)?;
    let ok = match tool {
        Tool::Conda => matches!(sub.text.as_str(), "install" | "create"),
        Tool::UvSync => sub.text == "sync",
        _ => sub.text == "install",
    };
    if !ok {
        return None;
    }
    let mut inst = Install {
        tool,
        range: cmd.range(),
        install_word: sub.range.clone(),
        reqs: vec![],
        editables: vec![],
        sources: Sources::default(),
        no_cache,
        upgrade: false,
        force_reinstall: false,
        python,
        conda_python: None,
        no_deps: false,
        dry_run: false,
        no_install: vec![],
        project_extras: None,
        all_extras: false,
        program: w.first().map(|x| x.text.clone()).unwrap_or_default(),
        target_python: None,
        system: false,
        torch_backend: cmd
            .assigns
            .iter()
            .find_map(|a| a.text.strip_prefix("UV_TORCH_BACKEND="))
            .map(str::to_string),
    };
    let value_opts = if tool == Tool::Conda {
        CONDA_VALUE_OPTS
    } else {
        PIP_VALUE_OPTS
    };
    let line_of = |r: &Range<usize>| lines.line(r.start.min(text.len()));
    let mut j = i + 1;
    while j < w.len() {
        let a = &w[j];
        let t = a.text.as_str();
        if t.starts_with('-') && t.len() > 1 {
            let (name, inline) = match t.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (t, None),
            };
            let takes_value = value_opts.contains(&name);
            let (value, end_range) = if takes_value && inline.is_none() {
                j += 1;
                match w.get(j) {
                    Some(v) => (v.text.clone(), v.range.clone()),
                    None => (String::new(), a.range.clone()),
                }
            } else {
                (inline.unwrap_or_default(), a.range.clone())
            };
            let loc = Located {
                value,
                file: file.to_path_buf(),
                range: a.range.start..end_range.end,
                name_range: a.range.start..a.range.start + name.len(),
                line: line_of(&a.range),
            };
            match name {
                "--no-cache-dir" | "--no-cache" => inst.no_cache = true,
                "-U" | "--upgrade" => inst.upgrade = true,
                "--force-reinstall" => inst.force_reinstall = true,
                "--no-deps" => inst.no_deps = true,
                "--dry-run" => inst.dry_run = true,
                "--no-install-package" => inst.no_install.push(normalise(&loc.value)),
                "--torch-backend" => inst.torch_backend = Some(loc.value.clone()),
                "--extra" if matches!(tool, Tool::UvSync | Tool::UvPip) => {
                    inst.project_extras
                        .get_or_insert_with(Vec::new)
                        .push(normalise(&loc.value));
                }
                "--all-extras" => inst.all_extras = true,
                "--python" | "-p" if matches!(tool, Tool::UvPip | Tool::UvSync) => {
                    inst.target_python = Some(loc.value.clone())
                }
                "--system" if matches!(tool, Tool::UvPip | Tool::UvSync) => inst.system = true,
                "-r" | "--requirement" => inst.sources.includes.push(loc),
                "-c" | "--constraint" if tool != Tool::Conda => inst.sources.constraints.push(loc),
                "-i" | "--index-url" | "--default-index" => inst.sources.index_url = Some(loc),
                "--extra-index-url" | "--index" => inst.sources.extra_index_urls.push(loc),
                "-f" | "--find-links" => inst.sources.find_links.push(loc),
                "--file" if tool == Tool::Conda => inst.sources.includes.push(loc),
                "-e" | "--editable" if tool != Tool::Conda => {
                    if let Some(r) = parse_requirement(&loc.value, end_range.start, file, loc.line)
                    {
                        inst.editables.push(r);
                    }
                }
                _ => {}
            }
            j += 1;
            continue;
        }
        if tool == Tool::UvSync {
            j += 1;
            continue;
        }
        if tool == Tool::Conda {
            // conda specs: name, name=1.2, name==1.2, name>=1.2, "python=3.11"
            if let Some(r) = conda_spec(a, file, line_of(&a.range), text) {
                if r.name == "python" {
                    inst.conda_python = r
                        .exact()
                        .map(str::to_string)
                        .or_else(|| r.specs.first().map(|s| s.1.clone()));
                }
                inst.reqs.push(r);
            }
        } else {
            let (inner, off) = word_inner(a, text);
            if let Some(r) = parse_requirement(inner, off, file, line_of(&a.range)) {
                inst.reqs.push(r);
            } else if !t.is_empty() {
                // Something like `$PKGS` or `"${TORCH_SPEC}"`: keep it visible as an unparsed requirement.
                inst.reqs.push(Requirement {
                    name: String::new(),
                    text: t.to_string(),
                    extras: vec![],
                    specs: vec![],
                    marker: None,
                    url: None,
                    file: file.to_path_buf(),
                    range: a.range.clone(),
                    line: line_of(&a.range),
                });
            }
        }
        j += 1;
    }
    if tool == Tool::UvSync {
        inst.project_extras.get_or_insert_with(Vec::new);
    }
    // `pip install .` / `".[a,b]"` / `-e ./[a]`: the project's dependencies plus exactly those extras.
    for r in inst.reqs.iter().chain(inst.editables.iter()) {
        let t = r.text.trim();
        let (path, extras) = match t.split_once('[') {
            Some((p, e)) => (p, e.trim_end_matches(']')),
            None => (t, ""),
        };
        if matches!(path, "." | "./") {
            let list = inst.project_extras.get_or_insert_with(Vec::new);
            list.extend(
                extras
                    .split(',')
                    .map(|e| normalise(e.trim()))
                    .filter(|e| !e.is_empty()),
            );
        }
    }
    if inst.project_extras.is_some()
        && !inst
            .sources
            .includes
            .iter()
            .any(|l| l.value == "pyproject.toml")
    {
        inst.sources.includes.push(Located {
            value: "pyproject.toml".into(),
            file: file.to_path_buf(),
            range: 0..0,
            name_range: 0..0,
            line: 0,
        });
    }
    Some(inst)
}

/// The text inside a word's quotes and where it starts in the file.
fn word_inner<'a>(w: &'a SWord, text: &str) -> (&'a str, usize) {
    let raw = text.get(w.range.clone()).unwrap_or("");
    let off = if raw.starts_with('"') || raw.starts_with('\'') {
        w.range.start + 1
    } else {
        w.range.start
    };
    (w.text.as_str(), off)
}

fn conda_spec(w: &SWord, file: &Path, line: usize, text: &str) -> Option<Requirement> {
    let (t, off) = word_inner(w, text);
    let name_len = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(t.len());
    if name_len == 0 {
        return None;
    }
    let rest = &t[name_len..];
    let mut specs = Vec::new();
    if let Some(v) = rest.strip_prefix("==") {
        specs.push(("==".to_string(), v.to_string()));
    } else if let Some(v) = rest.strip_prefix('=') {
        // conda `=1.2` means the 1.2 series (fuzzy), `=1.2.3` an exact-ish pin.
        let v = v.split('=').next().unwrap_or(v);
        let dots = v.matches('.').count();
        specs.push((
            "==".to_string(),
            if dots >= 2 || v.contains('*') {
                v.to_string()
            } else {
                format!("{v}.*")
            },
        ));
    } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
        specs.push((op.to_string(), rest[op.len()..].to_string()));
    }
    Some(Requirement {
        name: normalise(&t[..name_len]),
        text: t.to_string(),
        extras: vec![],
        specs,
        marker: None,
        url: None,
        file: file.to_path_buf(),
        range: off..off + t.len(),
        line,
    })
}

pub fn is_pip(name: &str) -> bool {
    let n = name.rsplit('/').next().unwrap_or(name);
    n == "pip"
        || n == "pip2"
        || n == "pip3"
        || (n.starts_with("pip3.") && n[5..].chars().all(|c| c.is_ascii_digit()))
}

pub fn is_python(name: &str) -> bool {
    let n = name.rsplit('/').next().unwrap_or(name);
    n == "python"
        || n == "python2"
        || n == "python3"
        || (n.starts_with("python3.") && n[8..].chars().all(|c| c.is_ascii_digit()))
}

/// "https://download.pytorch.org/whl/cu121" -> Some("cu121"); also `/whl/nightly/cu128`, `/whl/cpu`.
pub fn torch_index_variant(url: &str) -> Option<String> {
    let u = url.trim_end_matches('/');
    if !u.contains("download.pytorch.org/whl") {
        return None;
    }
    let last = u.rsplit('/').next()?;
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    let ok = last == "cpu"
        || last.strip_prefix("cu").is_some_and(digits)
        || last.strip_prefix("rocm").is_some_and(digits);
    ok.then(|| last.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::dockerfile::shell;

    fn installs(s: &str) -> Vec<Install> {
        let sc = shell::parse(s, &|r| r);
        sc.commands
            .iter()
            .filter_map(|c| install_of(c, Path::new("Dockerfile"), s))
            .collect()
    }

    #[test]
    fn install_commands_in_run_lines() {
        let s = "pip install --no-cache-dir 'torch==2.5.1' torchvision --extra-index-url https://download.pytorch.org/whl/cu124 && python3.11 -m pip install -r requirements.txt && uv pip install --system -U vllm && conda install -y -c pytorch python=3.10 pytorch=2.1 && apt-get install -y x";
        let v = installs(s);
        assert_eq!(v.len(), 4);
        assert!(v[0].no_cache);
        assert_eq!(v[0].reqs[0].name, "torch");
        assert_eq!(&s[v[0].reqs[0].range.clone()], "torch==2.5.1");
        assert_eq!(
            torch_index_variant(&v[0].sources.extra_index_urls[0].value).as_deref(),
            Some("cu124")
        );
        assert_eq!(v[1].python.as_deref(), Some("python3.11"));
        assert_eq!(v[1].sources.includes[0].value, "requirements.txt");
        assert_eq!(v[2].tool, Tool::UvPip);
        assert!(v[2].upgrade);
        assert_eq!(v[3].tool, Tool::Conda);
        assert_eq!(v[3].conda_python.as_deref(), Some("3.10.*"));
        assert_eq!(
            v[3].reqs
                .iter()
                .find(|r| r.name == "pytorch")
                .and_then(|r| r.series())
                .as_deref(),
            Some("2.1")
        );
    }
}
