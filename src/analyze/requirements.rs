//! Python requirements: `requirements*.txt` (with `-r`/`-c` includes, index options, hashes, continuations),
//! `pyproject.toml` `[project] dependencies`, and what `pip install` / `python -m pip install` / `uv pip install`
//! / `conda install` inside RUN lines install. Every requirement keeps the byte range it came from so fixes can
//! rewrite exactly that text (we never re-render a whole line).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// The one `X.Y` series the specifiers allow: an exact pin, a wildcard `==2.7.*`, a compatible release
    /// `~=2.2.1` (>=2.2.1,<2.3) or a closed range `>=2.2,<2.3` (PEP 440, see [`super::version::single_series`]).
    pub fn series(&self) -> Option<String> {
        if let Some(v) = self.exact() {
            return super::compat::series_of(v);
        }
        super::version::single_series(&self.specs)
    }
    /// Does an installed `version` satisfy this requirement's specifiers (PEP 440; no specifiers = any)?
    pub fn allows(&self, version: &str) -> bool {
        self.specs.is_empty() || super::version::satisfies(version, &self.specs)
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
    /// Lines of `problems` judged by a grammar dockui implements itself (conda match specs, a length cap)
    /// rather than the tool's own (PEP 508, TOML, YAML): the tool may accept them, so they are warnings.
    pub guessed: Vec<usize>,
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

pub(crate) const OPS: &[&str] = &["===", "==", "~=", "!=", "<=", ">=", "<", ">"];

/// Longest requirement text we hand to the PEP 508 parser (a line longer than this is not a requirement).
const MAX_REQUIREMENT: usize = 8 * 1024;

/// Parse one PEP 508 requirement (names, extras, specifiers, `@ url`, markers) with `pep508_rs`; bare URLs and
/// paths (`.`, `./pkg`, `https://.../x.whl`) are kept as URL requirements. `offset` is where `s` starts in its
/// file. Returns `None` for things that are not requirements (see [`read_requirement`] for the reason).
pub fn parse_requirement(s: &str, offset: usize, file: &Path, line: usize) -> Option<Requirement> {
    read_requirement(s, offset, file, line).ok().flatten()
}

/// Like [`parse_requirement`], but says why a non-empty text is not a valid requirement (`<>` is not an
/// operator, `~=2` needs two release numbers, ...). `Ok(None)` for blank text.
pub fn read_requirement(
    s: &str,
    offset: usize,
    file: &Path,
    line: usize,
) -> Result<Option<Requirement>, String> {
    if s.len() > MAX_REQUIREMENT {
        return Err(format!(
            "a requirement of {} bytes is too long to be one",
            s.len()
        ));
    }
    let (body, marker) = split_marker(s);
    let lead = body.len() - body.trim_start().len();
    let body_t = body.trim();
    if body_t.is_empty() {
        return Ok(None);
    }
    let range = offset + lead..offset + lead + body_t.len();
    let req = |name: String, extras, specs, url| Requirement {
        name,
        text: body_t.to_string(),
        extras,
        specs,
        marker: marker.clone(),
        url,
        file: file.to_path_buf(),
        range: range.clone(),
        line,
    };
    // `name[extras] @ url`: the name through the PEP 508 grammar, the URL as written (pep508_rs would resolve
    // relative paths and environment variables in it).
    if let Some((head, url)) = name_at_url(body_t) {
        let (name, extras) = name_and_extras(head)?;
        return Ok(Some(req(name, extras, vec![], Some(url.to_string()))));
    }
    // Bare URLs and paths: keep them, they are "pinned" by content.
    if body_t.contains("://")
        || body_t.starts_with('.')
        || body_t.starts_with('/')
        || body_t.ends_with(".whl")
        || body_t.ends_with(".tar.gz")
        || body_t.ends_with(".zip")
    {
        let name = egg_name(body_t).unwrap_or_default();
        return Ok(Some(req(
            normalise(&name),
            vec![],
            vec![],
            Some(body_t.to_string()),
        )));
    }
    // `torch==${TORCH_VERSION}` (pip expands environment variables in requirement files): the name is known,
    // the version is not; keep the text as written so no rule mistakes it for "unpinned".
    if body_t.contains('$') {
        let name_len = body_t
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(body_t.len());
        let rest = body_t[name_len..].trim_start();
        let op = OPS.iter().find(|op| rest.starts_with(**op));
        return match (name_len, op) {
            // `${TORCH_SPEC}` alone: pip reads whatever the variable holds.
            (0, _) if body_t.starts_with('$') => Ok(None),
            (0, _) => Err(format!("cannot read requirement {body_t:?}")),
            (_, Some(op)) => Ok(Some(req(
                normalise(&body_t[..name_len]),
                vec![],
                vec![(op.to_string(), rest[op.len()..].trim().to_string())],
                None,
            ))),
            (_, None) => Ok(Some(req(
                normalise(&body_t[..name_len]),
                vec![],
                vec![],
                None,
            ))),
        };
    }
    // Our own check of the name and extras first: pep508_rs 0.9 panics on some invalid names (`a.=1`).
    let (_, _, rest) = name_and_extras_prefix(body_t)?;
    if let Some(found) = unexpected_after_name(body_t, rest) {
        return Err(pep508_message(
            &format!("Expected one of `@`, `(`, `<`, `=`, `>`, `~`, `!`, `;`, found `{found}`"),
            body_t,
        ));
    }
    // The marker stays text: it is not handed to pep508_rs (which would re-render it, and whose marker
    // algebra we do not need).
    match pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(body_t) {
        Ok(r) => {
            let extras = r.extras.iter().map(|e| e.to_string()).collect();
            let specs = match &r.version_or_url {
                Some(pep508_rs::VersionOrUrl::VersionSpecifier(vs)) => vs
                    .iter()
                    .map(|v| {
                        let text = v.to_string();
                        let op = v.operator().to_string();
                        let ver = text[op.len()..].to_string();
                        (op, ver)
                    })
                    .collect(),
                _ => vec![],
            };
            Ok(Some(req(r.name.to_string(), extras, specs, None)))
        }
        Err(e) => Err(pep508_message(&e.to_string(), body_t)),
    }
}

/// `name [extras] @ url` -> (`name [extras]`, `url`); `None` when the text before `@` is not a name (a bare
/// `git+https://user@host/...` URL).
fn name_at_url(body: &str) -> Option<(&str, &str)> {
    let (head, url) = body.split_once('@')?;
    let h = head.trim();
    let name_part = h.split('[').next().unwrap_or(h).trim_end();
    let ok = !name_part.is_empty()
        && name_part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (ok && !url.trim().is_empty()).then(|| (h, url.trim()))
}

fn is_pep508_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Check the leading `name` and optional `[extras]` of a requirement by the PEP 508 rules; returns them and
/// the text after them (leading whitespace trimmed).
fn name_and_extras_prefix(t: &str) -> Result<(String, Vec<String>, &str), String> {
    let shown: String = t.chars().take(120).collect();
    let name_len = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(t.len());
    let name = &t[..name_len];
    if !is_pep508_name(name) {
        return Err(format!(
            "cannot read requirement {shown:?}: a package name starts and ends with a letter or digit"
        ));
    }
    let mut rest = t[name_len..].trim_start();
    let mut extras = Vec::new();
    if let Some(r) = rest.strip_prefix('[') {
        let Some(close) = r.find(']') else {
            return Err(format!(
                "cannot read requirement {shown:?}: `[` without `]`"
            ));
        };
        for e in r[..close]
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            if !is_pep508_name(e) {
                return Err(format!(
                    "cannot read requirement {shown:?}: extra `{e}` is not a valid name"
                ));
            }
            extras.push(normalise(e));
        }
        rest = r[close + 1..].trim_start();
    }
    Ok((normalise(name), extras, rest))
}

/// The name and extras of a `name[extras]` head, which must be nothing else.
fn name_and_extras(head: &str) -> Result<(String, Vec<String>), String> {
    let (name, extras, after) = name_and_extras_prefix(head)?;
    if !after.trim().is_empty() {
        return Err(format!(
            "cannot read requirement {head:?}: unexpected `{}`",
            after.trim()
        ));
    }
    Ok((name, extras))
}

/// The character that begins `rest` (what follows `name [extras]` in `t`) when it cannot start a version,
/// URL or marker, and the first word of `t` cannot be a URL, path or archive either: pep508_rs's own answer
/// (`Expected one of ...`), given without it. For such input pep508_rs first checks for an unnamed URL,
/// which compiles a regex once per process: a tenth of a `dockui check` of a small project whose RUN lines
/// hold a word that is no requirement.
fn unexpected_after_name(t: &str, rest: &str) -> Option<char> {
    let found = rest.chars().next()?;
    if matches!(found, '@' | '(' | '<' | '=' | '>' | '~' | '!' | ';') {
        return None;
    }
    let first_word = t.split_whitespace().next().unwrap_or(t);
    let maybe_url = first_word.contains([':', '/', '\\', '.']);
    (!maybe_url).then_some(found)
}

/// pep508_rs errors end with the input and a caret line; a finding wants the first line only.
fn pep508_message(err: &str, text: &str) -> String {
    let first = err.lines().next().unwrap_or(err).trim();
    let shown: String = text.chars().take(120).collect();
    format!("cannot read requirement {shown:?}: {first}")
}

/// Split `req ; marker`. After a URL (`name @ url ; marker`) the `;` must follow whitespace, as PEP 508 says.
fn split_marker(s: &str) -> (&str, Option<String>) {
    let has_url = s.contains('@');
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b';' && (!has_url || (i > 0 && (b[i - 1] == b' ' || b[i - 1] == b'\t'))) {
            return (&s[..i], Some(s[i + 1..].trim().to_string()));
        }
    }
    (s, None)
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
    // pip reads past a UTF-8 byte order mark (files saved by Windows editors); offsets still count it.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut off = bom;
    for (i, raw) in text[bom..].split_inclusive('\n').enumerate() {
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
        match read_requirement(req_text, 0, file, line) {
            Ok(Some(mut r)) => {
                // Logical offsets -> file offsets (continuations may have moved text).
                r.range = map(r.range.start)..map(r.range.end.saturating_sub(1)) + 1;
                out.reqs.push(r);
            }
            Ok(None) => {}
            Err(msg) => {
                if req_text.len() > MAX_REQUIREMENT {
                    out.guessed.push(line);
                }
                out.problems.push((
                    line,
                    map(lead)..map(content.trim_end().len().saturating_sub(1)) + 1,
                    msg,
                ))
            }
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

/// `[project] dependencies` of a pyproject.toml (what `pip install .` installs), with the span of each string;
/// see [`super::pyproject`] for extras (`pip install ".[gpu]"`).
pub fn parse_pyproject(text: &str, file: &Path) -> ReqFile {
    super::pyproject::reqfile(text, file, &[])
}

pub use super::install::{
    Install, Tool, install_of, install_of_indexed, is_pip, is_python, torch_index_variant,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_after_the_name_gets_pep508s_own_message_without_asking_it() {
        let unexpected = |t| unexpected_after_name(t, name_and_extras_prefix(t).unwrap().2);
        let f = Path::new("r.txt");
        for text in ["torch 2.0", "torch[cuda] 2.0", "numpy,scipy", "flask*"] {
            assert!(unexpected(text).is_some(), "{text}");
            let ours = read_requirement(text, 0, f, 1).unwrap_err();
            let theirs =
                pep508_rs::Requirement::<pep508_rs::VerbatimUrl>::from_str(text).unwrap_err();
            assert_eq!(ours, pep508_message(&theirs.to_string(), text), "{text}");
        }
        // Left to pep508_rs: a valid requirement, and a first word that may be an unnamed URL or archive.
        for text in [
            "torch>=2.0",
            "torch [cuda] ==2.0",
            "torch ; python_version>'3'",
            "torch",
            "pkg/sub x",
        ] {
            assert_eq!(unexpected(text), None, "{text}");
        }
        assert!(
            read_requirement("pkg/sub x", 0, f, 1)
                .unwrap_err()
                .contains("URL requirement")
        );
    }

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
    fn a_byte_order_mark_is_read_past_as_pip_does_and_offsets_still_count_it() {
        let text = "\u{feff}numpy==1.26.4\ntorch==2.5.1\n";
        let rf = parse_requirements(text, Path::new("requirements.txt"));
        assert!(rf.problems.is_empty(), "{:?}", rf.problems);
        assert_eq!(rf.reqs.len(), 2);
        assert_eq!(rf.reqs[0].name, "numpy");
        assert_eq!(&text[rf.reqs[0].range.clone()], "numpy==1.26.4");
        assert_eq!((rf.reqs[0].line, rf.reqs[1].line), (1, 2));
        assert_eq!(&text[rf.reqs[1].range.clone()], "torch==2.5.1");
        // Only at the start: elsewhere it is no whitespace pip skips.
        let rf = parse_requirements("numpy==1.26.4\n\u{feff}torch\n", Path::new("r.txt"));
        assert_eq!(rf.problems.len(), 1);
    }

    #[test]
    fn pyproject_dependencies() {
        let text = "[project]\nname = \"x\"\ndependencies = [\n  \"torch==2.6.0\",\n  \"transformers>=4.40\",\n]\n";
        let rf = parse_pyproject(text, Path::new("pyproject.toml"));
        assert_eq!(rf.reqs.len(), 2);
        assert_eq!(&text[rf.reqs[0].range.clone()], "torch==2.6.0");
        assert_eq!(rf.reqs[0].line, 4);
    }

    #[test]
    fn invalid_operators_are_problems_with_their_line() {
        let text = "numpy>=1.26\ntorch<>2.0\nscipy~=1\n";
        let rf = parse_requirements(text, Path::new("requirements.txt"));
        assert_eq!(rf.reqs.len(), 1);
        assert_eq!(rf.problems.len(), 2);
        assert_eq!(rf.problems[0].0, 2);
        assert_eq!(&text[rf.problems[0].1.clone()], "torch<>2.0");
        assert!(
            rf.problems[0].2.contains("torch<>2.0"),
            "{}",
            rf.problems[0].2
        );
        assert_eq!(rf.problems[1].0, 3);
        // A valid file has no problems.
        let ok = parse_requirements("torch>=2.0,<3\n", Path::new("r.txt"));
        assert!(ok.problems.is_empty());
    }

    #[test]
    fn compatible_release_names_one_series() {
        let f = Path::new("r.txt");
        let r = parse_requirement("torch~=2.2.1", 0, f, 1).unwrap();
        assert_eq!(r.series().as_deref(), Some("2.2"));
        assert!(!r.is_pinned());
        assert!(r.allows("2.2.7"));
        assert!(!r.allows("2.3.0"));
        let wide = parse_requirement("torch~=2.2", 0, f, 1).unwrap();
        assert_eq!(wide.series(), None);
        let bounded = parse_requirement("torch>=2.2.1,<2.3", 0, f, 1).unwrap();
        assert_eq!(bounded.series().as_deref(), Some("2.2"));
        let open = parse_requirement("torch>=2.2", 0, f, 1).unwrap();
        assert_eq!(open.series(), None);
    }

    #[test]
    fn nightly_pins_keep_their_dev_part() {
        let f = Path::new("r.txt");
        let r = parse_requirement("torch==2.6.0.dev20240901+cu124", 0, f, 1).unwrap();
        assert_eq!(r.exact(), Some("2.6.0.dev20240901+cu124"));
        assert_eq!(r.local(), Some("cu124"));
        assert!(!r.allows("2.6.0"));
        let pre = parse_requirement("torch>=2.6.0.dev0", 0, f, 1).unwrap();
        assert!(pre.allows("2.6.0.dev20240901"));
        let stable = parse_requirement("torch<2.6", 0, f, 1).unwrap();
        assert!(!stable.allows("2.6.0.dev20240901"));
    }

    #[test]
    fn markers_urls_and_variables_stay_as_written() {
        let f = Path::new("r.txt");
        let text = "triton==3.1.0 ; platform_system == \"Linux\" and python_version >= '3.9'";
        let r = parse_requirement(text, 10, f, 1).unwrap();
        assert_eq!(r.text, "triton==3.1.0");
        assert_eq!(r.range, 10..23);
        assert_eq!(
            r.marker.as_deref(),
            Some("platform_system == \"Linux\" and python_version >= '3.9'")
        );
        let u = parse_requirement("pkg @ ./vendor/pkg", 0, f, 1).unwrap();
        assert_eq!(u.name, "pkg");
        assert_eq!(u.url.as_deref(), Some("./vendor/pkg"));
        let u = parse_requirement(
            "pkg @ https://h.example/p.whl ; python_version>'3'",
            0,
            f,
            1,
        )
        .unwrap();
        assert_eq!(u.url.as_deref(), Some("https://h.example/p.whl"));
        let v = parse_requirement("torch==${TORCH_VERSION}", 0, f, 1).unwrap();
        assert_eq!(v.name, "torch");
        assert_eq!(v.exact(), Some("${TORCH_VERSION}"));
        assert!(parse_requirement("torch @", 0, f, 1).is_none());
    }

    #[test]
    fn hostile_requirement_files_never_panic() {
        let long = format!("torch=={}\n", "9".repeat(100_000));
        let cases: Vec<String> = vec![
            "\0\0torch\0==1\n".into(),
            "torch==2.0\r\nnumpy\rscipy\n".into(),
            "\\\n\\\n\\".into(),
            "-r\n--index-url\n-e\n".into(),
            "é==1\n\u{202e}torch\n".into(),
            long,
            "x".repeat(1_000_000),
            format!("torch=={}\na.=1\nb[c.]==1\nd[e\nf (>=1)\n", "9".repeat(300)),
            String::from_utf8_lossy(&[0xff, 0xfe, b'\n', 0xc3, b't', b'=', b'=', b'1'])
                .into_owned(),
        ];
        for text in &cases {
            let rf = parse_requirements(text, Path::new("requirements.txt"));
            for (line, range, msg) in &rf.problems {
                assert!(*line >= 1 && range.end <= text.len(), "{msg}");
            }
            for r in &rf.reqs {
                assert!(text.get(r.range.clone()).is_some());
            }
        }
        let rf = parse_requirements(&"x".repeat(1_000_000), Path::new("r.txt"));
        assert_eq!(rf.problems.len(), 1);
        assert!(rf.problems[0].2.contains("too long"));
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_without_panic(s in "\\PC{0,200}", bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let lossy = String::from_utf8_lossy(&bytes).into_owned();
            for text in [s.as_str(), lossy.as_str()] {
                let rf = parse_requirements(text, Path::new("requirements.txt"));
                for r in &rf.reqs {
                    proptest::prop_assert!(text.get(r.range.clone()).is_some());
                }
                let _ = crate::analyze::pyproject::parse(text, Path::new("pyproject.toml"));
                let _ = crate::analyze::conda::parse(text, Path::new("environment.yml"));
                let _ = crate::analyze::workflow::jobs(text);
            }
        }
    }

    mod analysis {
        use crate::analyze::rules::testutil::check_with;

        fn df(base: &str) -> String {
            format!(
                "FROM {base}\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
            )
        }

        #[test]
        fn compatible_release_is_judged_on_its_series_not_the_newest_torch() {
            let reqs = [("requirements.txt", "torch~=2.2.1\ntorchvision==0.17.*\n")];
            // The base has torch 2.2.1: `~=2.2.1` is satisfied by the 2.2 series; nothing to say.
            let a = check_with(&df("pytorch/pytorch:2.2.1-cuda12.1-cudnn8-runtime"), &reqs);
            let gpu: Vec<_> = a
                .findings
                .iter()
                .filter(|f| f.rule.starts_with("DU2"))
                .collect();
            assert!(gpu.is_empty(), "{gpu:#?}");
            // On a 2.4 base the pin really asks for another torch, and the message names 2.2, not the newest.
            let a = check_with(&df("pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime"), &reqs);
            let f = a
                .findings
                .iter()
                .find(|f| {
                    f.rule.starts_with("DU2")
                        && f.span.line == 1
                        && f.file.ends_with("requirements.txt")
                })
                .unwrap_or_else(|| panic!("a torch finding expected: {:#?}", a.findings));
            assert!(f.message.contains("2.2"), "{}", f.message);
            let newest = crate::analyze::compat::Compat::shared()
                .newest_torch()
                .map(|r| r.series.clone())
                .unwrap_or_default();
            assert!(
                !f.message.contains(&format!("currently {newest}")),
                "{}",
                f.message
            );
        }
    }
}
