//! Python requirements: `requirements*.txt` (with `-r`/`-c` includes, index options, hashes, continuations),
//! `pyproject.toml` `[project] dependencies`, and what `pip install` / `python -m pip install` / `uv pip install`
//! / `conda install` inside RUN lines install. Every requirement keeps the byte range it came from so fixes can
//! rewrite exactly that text (we never re-render a whole line).

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::dockerfile::shell::{Command, SWord};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Normalised name: lower case, `_` and `.` as `-`.
    pub name: String,
    /// The requirement as written (name, extras, specifiers; no marker, hash or comment).
    pub text: String,
    pub extras: Vec<String>,
    /// (operator, version) pairs, e.g. ("==", "2.7.1+cu126").
    pub specs: Vec<(String, String)>,
    pub marker: Option<String>,
    /// `name @ url` or a bare URL / path.
    pub url: Option<String>,
    /// File the requirement is in, relative to the project root.
    pub file: PathBuf,
    /// Byte range of `text` in that file (for a quoted shell word: inside the quotes).
    pub range: Range<usize>,
    pub line: usize,
}

impl Requirement {
    /// The exact version when pinned with `==` / `===` (local part included).
    pub fn exact(&self) -> Option<&str> {
        self.specs
            .iter()
            .find(|(op, v)| (op == "==" || op == "===") && !v.contains('*'))
            .map(|(_, v)| v.as_str())
    }
    /// The version without a local part, when pinned exactly.
    pub fn exact_public(&self) -> Option<&str> {
        self.exact().map(|v| v.split('+').next().unwrap_or(v))
    }
    /// `+cu121` -> "cu121" (also from a `==2.5.1+cu121` pin).
    pub fn local(&self) -> Option<&str> {
        self.specs
            .iter()
            .find_map(|(_, v)| v.split_once('+').map(|(_, l)| l))
    }
    pub fn is_pinned(&self) -> bool {
        self.exact().is_some()
    }
    /// A wildcard pin `==2.7.*` names a series.
    pub fn series(&self) -> Option<String> {
        if let Some(v) = self.exact() {
            return super::compat::series_of(v);
        }
        self.specs
            .iter()
            .find(|(op, v)| op == "==" && v.ends_with(".*"))
            .and_then(|(_, v)| super::compat::series_of(v.trim_end_matches(".*")))
    }
}

/// Where packages come from, with the place each option was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub index_url: Option<Located>,
    pub extra_index_urls: Vec<Located>,
    pub find_links: Vec<Located>,
    /// `-r file` includes (as written).
    pub includes: Vec<Located>,
    /// `-c file` constraints (as written).
    pub constraints: Vec<Located>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub file: PathBuf,
    /// Range of the whole option (`--extra-index-url URL`).
    pub range: Range<usize>,
    /// Range of the option name only (`--extra-index-url`), for rewriting it.
    pub name_range: Range<usize>,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ReqFile {
    pub path: PathBuf,
    pub reqs: Vec<Requirement>,
    pub sources: Sources,
    /// Lines we could not read as a requirement: (line, message).
    pub problems: Vec<(usize, Range<usize>, String)>,
}

/// Normalise a distribution name per PEP 503.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_dash = false;
        }
    }
    out
}

const OPS: &[&str] = &["===", "==", "~=", "!=", "<=", ">=", "<", ">"];

/// Parse one PEP 508 requirement (our own subset: names, extras, specifiers, `@ url`, markers).
/// `offset` is where `s` starts in its file. Returns `None` for things that are not requirements.
pub fn parse_requirement(s: &str, offset: usize, file: &Path, line: usize) -> Option<Requirement> {
    let (body, marker) = match s.split_once(';') {
        Some((b, m)) => (b, Some(m.trim().to_string())),
        None => (s, None),
    };
    let lead = body.len() - body.trim_start().len();
    let body_t = body.trim();
    if body_t.is_empty() {
        return None;
    }
    let range = offset + lead..offset + lead + body_t.len();
    // Bare URLs and paths: keep them, they are "pinned" by content.
    if body_t.contains("://")
        || body_t.starts_with('.')
        || body_t.starts_with('/')
        || body_t.ends_with(".whl")
        || body_t.ends_with(".tar.gz")
        || body_t.ends_with(".zip")
    {
        let name = egg_name(body_t).unwrap_or_default();
        return Some(Requirement {
            name: normalise(&name),
            text: body_t.to_string(),
            extras: vec![],
            specs: vec![],
            marker,
            url: Some(body_t.to_string()),
            file: file.to_path_buf(),
            range,
            line,
        });
    }
    let name_len = body_t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(body_t.len());
    if name_len == 0 || !body_t.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return None;
    }
    let name = &body_t[..name_len];
    let mut rest = body_t[name_len..].trim_start();
    let mut extras = Vec::new();
    if let Some(r) = rest.strip_prefix('[') {
        let close = r.find(']')?;
        extras = r[..close]
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect();
        rest = r[close + 1..].trim_start();
    }
    let mut url = None;
    let mut specs = Vec::new();
    if let Some(u) = rest.strip_prefix('@') {
        url = Some(u.trim().to_string());
    } else {
        let rest = rest.trim_start_matches('(').trim_end_matches(')');
        for part in rest.split(',') {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let op = OPS.iter().find(|op| p.starts_with(**op))?;
            let v = p[op.len()..].trim();
            if v.is_empty() || v.contains(char::is_whitespace) {
                return None;
            }
            specs.push((op.to_string(), v.to_string()));
        }
    }
    Some(Requirement {
        name: normalise(name),
        text: body_t.to_string(),
        extras,
        specs,
        marker,
        url,
        file: file.to_path_buf(),
        range,
        line,
    })
}

fn egg_name(url: &str) -> Option<String> {
    url.split("#egg=")
        .nth(1)
        .map(|s| s.split('&').next().unwrap_or(s).to_string())
}

/// Parse a requirements file's text. Includes are listed, not followed (the caller reads them).
pub fn parse_requirements(text: &str, file: &Path) -> ReqFile {
    let mut out = ReqFile {
        path: file.to_path_buf(),
        ..Default::default()
    };
    // Join continuation lines, remembering segments for offsets.
    // (joined text, segments (logical offset, file offset), first line)
    type Joined = (String, Vec<(usize, usize)>, usize);
    let mut lines: Vec<Joined> = Vec::new();
    let mut cur = String::new();
    let mut segs = Vec::new();
    let mut start_line = 0;
    let mut off = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let content = raw.trim_end_matches(['\n', '\r']);
        if cur.is_empty() && segs.is_empty() {
            start_line = i + 1;
        }
        if let Some(c) = content.strip_suffix('\\') {
            segs.push((cur.len(), off));
            cur.push_str(c);
            cur.push(' ');
        } else {
            segs.push((cur.len(), off));
            cur.push_str(content);
            lines.push((
                std::mem::take(&mut cur),
                std::mem::take(&mut segs),
                start_line,
            ));
        }
        off += raw.len();
    }
    if !cur.is_empty() || !segs.is_empty() {
        lines.push((cur, segs, start_line));
    }
    for (l, segs, line) in lines {
        let map = |p: usize| -> usize {
            let idx = match segs.binary_search_by(|(ls, _)| ls.cmp(&p)) {
                Ok(i) => i,
                Err(i) => i.saturating_sub(1),
            };
            segs.get(idx).map(|(ls, fs)| fs + (p - ls)).unwrap_or(p)
        };
        // A comment starts at `#` at line start or after whitespace.
        let mut content_end = l.len();
        let b = l.as_bytes();
        for i in 0..b.len() {
            if b[i] == b'#' && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') {
                content_end = i;
                break;
            }
        }
        let content = &l[..content_end];
        if content.trim().is_empty() {
            continue;
        }
        let words = split_ws(content);
        let Some(&(w0s, w0e)) = words.first() else {
            continue;
        };
        let w0 = &content[w0s..w0e];
        if w0.starts_with('-') {
            let (name, inline) = match w0.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (w0, None),
            };
            let (value, vend) = match inline {
                Some(v) => (v.to_string(), w0e),
                None => match words.get(1) {
                    Some(&(s, e)) => (content[s..e].to_string(), e),
                    None => (String::new(), w0e),
                },
            };
            let loc = Located {
                value,
                file: file.to_path_buf(),
                range: map(w0s)..map(vend.saturating_sub(1)) + 1,
                name_range: map(w0s)..map(w0s + name.len() - 1) + 1,
                line,
            };
            match name {
                "-r" | "--requirement" => out.sources.includes.push(loc),
                "-c" | "--constraint" => out.sources.constraints.push(loc),
                "-i" | "--index-url" => out.sources.index_url = Some(loc),
                "--extra-index-url" => out.sources.extra_index_urls.push(loc),
                "-f" | "--find-links" => out.sources.find_links.push(loc),
                "-e" | "--editable" => {
                    if let Some(r) = parse_requirement(&loc.value, 0, file, line) {
                        out.reqs.push(Requirement {
                            range: loc.range.clone(),
                            ..r
                        });
                    }
                }
                _ => {}
            }
            continue;
        }
        // Per-requirement options (`--hash=...`, `--global-option`) follow the requirement.
        let req_end = content
            .find(" --")
            .or_else(|| content.find("\t--"))
            .unwrap_or(content.len());
        let req_text = &content[..req_end];
        let lead = req_text.len() - req_text.trim_start().len();
        match parse_requirement(req_text, 0, file, line) {
            Some(mut r) => {
                // Logical offsets -> file offsets (continuations may have moved text).
                r.range = map(r.range.start)..map(r.range.end.saturating_sub(1)) + 1;
                out.reqs.push(r);
            }
            None => out.problems.push((
                line,
                map(lead)..map(content.trim_end().len().saturating_sub(1)) + 1,
                format!("cannot read requirement {:?}", req_text.trim()),
            )),
        }
    }
    out
}

fn split_ws(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() {
            if let Some(st) = start.take() {
                out.push((st, i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push((st, s.len()));
    }
    out
}

/// `[project] dependencies` (and optional-dependencies) of a pyproject.toml, with spans found in the text.
pub fn parse_pyproject(text: &str, file: &Path) -> ReqFile {
    let mut out = ReqFile {
        path: file.to_path_buf(),
        ..Default::default()
    };
    let Ok(v) = toml::from_str::<toml::Value>(text) else {
        out.problems
            .push((1, 0..0, "pyproject.toml is not valid TOML".into()));
        return out;
    };
    let Some(project) = v.get("project") else {
        return out;
    };
    let mut deps: Vec<String> = Vec::new();
    if let Some(a) = project.get("dependencies").and_then(|d| d.as_array()) {
        deps.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)));
    }
    if let Some(t) = project
        .get("optional-dependencies")
        .and_then(|d| d.as_table())
    {
        for a in t.values().filter_map(|x| x.as_array()) {
            deps.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)));
        }
    }
    let mut search_from = text.find("dependencies").unwrap_or(0);
    for d in deps {
        let (start, line) = match text[search_from..].find(&d) {
            Some(i) => {
                let s = search_from + i;
                search_from = s + d.len();
                (s, text[..s].matches('\n').count() + 1)
            }
            None => (0, 1),
        };
        if let Some(r) = parse_requirement(&d, start, file, line) {
            out.reqs.push(r);
        }
    }
    out
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Pip,
    UvPip,
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

/// [`install_of`] with the line index of `text` built once by the caller (one scan per file, not per install).
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

    #[test]
    fn requirement_forms() {
        let f = Path::new("r.txt");
        let r = parse_requirement("torch==2.3.1+cu121", 0, f, 1).unwrap();
        assert_eq!(r.exact(), Some("2.3.1+cu121"));
        assert_eq!(r.local(), Some("cu121"));
        assert_eq!(r.exact_public(), Some("2.3.1"));
        let r = parse_requirement(
            "Flash_Attn[extra1, x] >=2.5, <3 ; platform_machine == 'x86_64'",
            0,
            f,
            1,
        )
        .unwrap();
        assert_eq!(r.name, "flash-attn");
        assert_eq!(r.extras, ["extra1", "x"]);
        assert_eq!(r.specs.len(), 2);
        assert!(r.marker.is_some());
        let r = parse_requirement("mylib @ https://example.org/mylib-1.0.whl", 0, f, 1).unwrap();
        assert!(r.url.is_some());
        let r = parse_requirement("torchvision==0.22.*", 0, f, 1).unwrap();
        assert_eq!(r.series().as_deref(), Some("0.22"));
        assert!(parse_requirement("!!", 0, f, 1).is_none());
    }

    #[test]
    fn requirements_file_options_hashes_continuations() {
        let text = "# comment\n-r base.txt\n-c constraints.txt\n--index-url https://download.pytorch.org/whl/cu121\n--extra-index-url=https://pypi.org/simple\n-f ./wheels\ntorch==2.3.1+cu121 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\nnumpy>=1.26 # trailing comment\nbroken line here ***\n";
        let rf = parse_requirements(text, Path::new("requirements.txt"));
        assert_eq!(rf.sources.includes[0].value, "base.txt");
        assert_eq!(rf.sources.constraints[0].value, "constraints.txt");
        assert_eq!(
            rf.sources.index_url.as_ref().unwrap().value,
            "https://download.pytorch.org/whl/cu121"
        );
        assert_eq!(
            rf.sources.extra_index_urls[0].value,
            "https://pypi.org/simple"
        );
        assert_eq!(rf.sources.find_links[0].value, "./wheels");
        assert_eq!(rf.reqs.len(), 2);
        assert_eq!(&text[rf.reqs[0].range.clone()], "torch==2.3.1+cu121");
        assert_eq!(rf.reqs[0].line, 7);
        assert_eq!(&text[rf.reqs[1].range.clone()], "numpy>=1.26");
        assert_eq!(rf.problems.len(), 1);
        assert_eq!(rf.problems[0].0, 11);
        assert_eq!(
            &text[rf.sources.extra_index_urls[0].name_range.clone()],
            "--extra-index-url"
        );
    }

    #[test]
    fn pyproject_dependencies() {
        let text = "[project]\nname = \"x\"\ndependencies = [\n  \"torch==2.6.0\",\n  \"transformers>=4.40\",\n]\n";
        let rf = parse_pyproject(text, Path::new("pyproject.toml"));
        assert_eq!(rf.reqs.len(), 2);
        assert_eq!(&text[rf.reqs[0].range.clone()], "torch==2.6.0");
        assert_eq!(rf.reqs[0].line, 4);
    }

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
