//! The conflict analyzer: pure functions from project files to findings. No tokio, no ratatui, no network.
//!
//! Entry points: [`analyze_project`] (reads a project directory), [`analyze_files`] (in-memory files, for
//! tests and the TUI's unsaved buffers) and [`analyze_text`] (one Dockerfile).
//!
//! # JSON form (`dockui check --format json`)
//! `serde_json::to_value(&analysis)` gives this schema (stable; fields are only ever added):
//! ```text
//! {
//!   "files": ["Dockerfile", "requirements.txt", ...],       // paths relative to the project root
//!   "findings": [{
//!     "rule": "DU201",                                      // id, see `dockui rules`
//!     "severity": "error" | "warning" | "info" | "style",
//!     "file": "requirements.txt",                           // relative to the project root
//!     "span": {"line": 3, "col": 1, "start": 25, "end": 37},// 1-based line/col (chars); byte range [start, end)
//!     "message": "...", "why": "...",
//!     "facts": ["torch 2.7 ships cu118/cu126/cu128 (PyPI default cu126)", ...],
//!     "fixes": [{
//!       "id": "DU201.move-base", "level": "safe" | "suggestion" | "unsafe",
//!       "description": "...", "file": "Dockerfile",
//!       "edits": [{"start": 10, "end": 52, "replacement": "..."}]   // byte ranges into that file's text
//!     }]
//!   }]
//! }
//! ```
//! Several fixes on one finding are alternatives: apply at most one of them.

pub mod compat;
pub mod dockerfile;
pub mod finding;
pub mod host;
pub mod ignore;
pub mod project_files;
pub mod report;
pub mod requirements;
pub mod rules;
pub mod sarif;

pub use finding::*;
pub use host::{HostGpu, HostGpuDevice};

use dockerfile::Dockerfile;
use dockerfile::model::Model;
use project_files::ProjectFiles;
use requirements::ReqFile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What the caller tells the analyzer beyond the files themselves.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Dockerfile path relative to the project root (default "Dockerfile").
    pub dockerfile: Option<PathBuf>,
    /// Rule ids to drop (from config); `# hadolint ignore=` comments are handled per line.
    pub ignore: Vec<String>,
    /// Extra compatibility rows (TOML, same shape as `assets/compat.toml`), e.g. `<config dir>/compat.toml`.
    /// A missing file is skipped silently; an unreadable or invalid one is an error.
    pub extra_compat: Option<PathBuf>,
    /// Do not read `.hadolint.yaml` from the project root.
    pub no_hadolint_config: bool,
    /// The host's driver and GPUs for the host-aware rules (DU211-DU213); None = no host checks.
    pub host: Option<HostGpu>,
    /// The build's arguments (`[build.args]`, `--build-arg`): the files are judged on what will be built.
    pub build_args: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Analysis {
    /// Files that were read, relative to the root.
    pub files: Vec<PathBuf>,
    pub findings: Vec<Finding>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    #[error("{path}: {source}")]
    Compat {
        path: PathBuf,
        #[source]
        source: compat::CompatError,
    },
}

/// Analyse the project at `root`: its Dockerfile, the requirements files it installs, `pyproject.toml` when it
/// installs the project itself, `.hadolint.yaml`, and `.github/workflows/*.yml`.
pub fn analyze_project(root: &Path, opts: &AnalyzeOptions) -> Result<Analysis, AnalyzeError> {
    analyze_project_with(root, opts, &HashMap::new())
}

/// `analyze_project` with some files replaced by in-memory texts (paths relative to the root): the fix planner
/// judges a candidate edit by analysing the project as it would be after the edit, without writing anything.
pub fn analyze_project_with(
    root: &Path,
    opts: &AnalyzeOptions,
    overlay: &HashMap<PathBuf, String>,
) -> Result<Analysis, AnalyzeError> {
    if !root.is_dir() {
        return Err(AnalyzeError::NotADirectory(root.to_path_buf()));
    }
    let files = ProjectFiles::new(root).map_err(|source| AnalyzeError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let dockerfile = opts
        .dockerfile
        .clone()
        .unwrap_or_else(|| PathBuf::from("Dockerfile"));
    // A Dockerfile path that leaves the project can only come from the command line or the user's own config
    // (a project's `.dockui.toml` is held inside the project when it is loaded): read it where it points.
    let df_trusted = !project_files::stays_inside(&dockerfile);
    let refused: std::cell::RefCell<Vec<Finding>> = Default::default();
    let read = |rel: &Path| -> Result<Option<String>, AnalyzeError> {
        if let Some(text) = overlay.get(rel) {
            return Ok(Some(text.clone()));
        }
        let got = if df_trusted && rel == dockerfile {
            files.read_trusted(rel)
        } else {
            files.read(rel)
        };
        match got {
            project_files::Read::Text { text, lossy } => {
                if lossy {
                    refused.borrow_mut().push(not_utf8_finding(rel, &text));
                }
                Ok(Some(text))
            }
            project_files::Read::Missing => Ok(None),
            project_files::Read::Refused(why) => {
                refused
                    .borrow_mut()
                    .push(refused_finding(rel, rel == dockerfile, &why));
                Ok(None)
            }
        }
    };
    if read(&dockerfile)?.is_none() {
        let mut refused = refused.into_inner();
        if refused.is_empty() {
            return Err(AnalyzeError::Read {
                path: root.join(&dockerfile),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no Dockerfile"),
            });
        }
        refused.truncate(1);
        return Ok(Analysis {
            files: Vec::new(),
            findings: refused,
        });
    }
    let mut workflows = Vec::new();
    let wf_dir = root.join(".github").join("workflows");
    if let Ok(rd) = std::fs::read_dir(&wf_dir) {
        for e in rd.flatten() {
            let p = e.path();
            if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
                if let Ok(rel) = p.strip_prefix(root) {
                    if rel.to_str().is_none() {
                        // JSON and SARIF carry paths as text: name the file lossily and skip it.
                        refused.borrow_mut().push(
                            Finding::new(
                                "DU004",
                                Severity::Warning,
                                rel.to_string_lossy().into_owned(),
                                Span::default(),
                                format!(
                                    "{} was not read: its name is not valid UTF-8; rename it",
                                    rel.to_string_lossy()
                                ),
                            )
                            .why("dockui reports file names as text and cannot name this one exactly."),
                        );
                        continue;
                    }
                    workflows.push(rel.to_path_buf());
                }
            }
        }
    }
    workflows.sort();
    let extra = match &opts.extra_compat {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some((p.clone(), t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(AnalyzeError::Read {
                    path: p.clone(),
                    source,
                });
            }
        },
        None => None,
    };
    let owned;
    let compat: &compat::Compat = match &extra {
        Some((p, t)) => {
            owned = compat::Compat::from_toml(compat::EMBEDDED, Some(t)).map_err(|source| {
                AnalyzeError::Compat {
                    path: p.clone(),
                    source,
                }
            })?;
            &owned
        }
        None => compat::Compat::shared(),
    };
    let mut analysis = analyze_with(&dockerfile, &read, &workflows, opts, compat)?;
    let mut refused = refused.into_inner();
    // The Dockerfile is read twice (to check it is there, then to analyse it): one finding per file and rule.
    refused.sort_by(|a, b| (&a.file, &a.rule).cmp(&(&b.file, &b.rule)));
    refused.dedup_by(|a, b| a.file == b.file && a.rule == b.rule);
    if !refused.is_empty() {
        let ignored = |f: &Finding| opts.ignore.iter().any(|i| i == &f.rule);
        analysis
            .findings
            .extend(refused.into_iter().filter(|f| !ignored(f)));
        analysis.findings.sort_by(|a, b| {
            (&a.file, a.span.line, a.span.col, &a.rule).cmp(&(
                &b.file,
                b.span.line,
                b.span.col,
                &b.rule,
            ))
        });
    }
    Ok(analysis)
}

/// A project file that was not read: the finding names it and the reason, never its content.
fn refused_finding(rel: &Path, is_dockerfile: bool, why: &project_files::Refusal) -> Finding {
    let (rule, severity) = if is_dockerfile {
        ("DU003", Severity::Error)
    } else {
        ("DU004", Severity::Warning)
    };
    Finding::new(
        rule,
        severity,
        rel,
        Span {
            line: 1,
            col: 1,
            start: 0,
            end: 0,
        },
        format!("{} was not read: {why}", rel.display()),
    )
    .why(if is_dockerfile {
        "Without the Dockerfile nothing else can be checked."
    } else {
        "The checks that need this file were skipped."
    })
}

/// A file with bytes that are not UTF-8: analysed with U+FFFD in their place; fixes to it are not written.
fn not_utf8_finding(rel: &Path, text: &str) -> Finding {
    let at = text.find('\u{FFFD}').unwrap_or(0);
    Finding::new(
        "DU004",
        Severity::Warning,
        rel,
        Span::from_range(text, at, at),
        format!(
            "{} is not valid UTF-8; it was read with replacement characters",
            rel.display()
        ),
    )
    .why("Docker and pip read text files as UTF-8; dockui will not rewrite this file.")
}

/// Analyse in-memory files: the first is the Dockerfile; others (requirements, pyproject.toml, .hadolint.yaml,
/// .github/workflows/*.yml) are looked up by their relative path.
pub fn analyze_files(files: &[(PathBuf, String)], opts: &AnalyzeOptions) -> Analysis {
    let Some((df_path, _)) = files.first() else {
        return Analysis::default();
    };
    let read = |rel: &Path| -> Result<Option<String>, AnalyzeError> {
        Ok(files.iter().find(|(p, _)| p == rel).map(|(_, t)| t.clone()))
    };
    let workflows: Vec<PathBuf> = files
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| p.starts_with(".github/workflows"))
        .collect();
    analyze_with(
        df_path,
        &read,
        &workflows,
        opts,
        &compat::Compat::embedded(),
    )
    .unwrap_or_default()
}

/// Analyse one Dockerfile's text on its own.
pub fn analyze_text(path: &Path, text: &str, opts: &AnalyzeOptions) -> Analysis {
    analyze_files(&[(path.to_path_buf(), text.to_string())], opts)
}

type Reader<'a> = dyn Fn(&Path) -> Result<Option<String>, AnalyzeError> + 'a;

fn analyze_with(
    df_path: &Path,
    read: &Reader,
    workflows: &[PathBuf],
    opts: &AnalyzeOptions,
    compat: &compat::Compat,
) -> Result<Analysis, AnalyzeError> {
    let mut analysis = Analysis::default();
    let Some(df_text) = read(df_path)? else {
        return Ok(analysis);
    };
    analysis.files.push(df_path.to_path_buf());
    let df = Dockerfile::parse(&df_text);
    let lines = LineIndex::new(&df_text);
    let model = Model::build_with_args(&df, &opts.build_args);
    let mut texts: HashMap<PathBuf, String> = HashMap::new();

    // Install commands in RUN lines, and the requirement files they pull in.
    let mut installs = Vec::new();
    for (i, info) in model.instrs.iter().enumerate() {
        for c in &info.script.commands {
            // Resolve `torch==${TORCH_VERSION}` with the ARG/ENV scope of this RUN (spans stay on the raw word).
            let mut c = c.clone();
            for w in c.words.iter_mut() {
                if w.text.contains('$') {
                    let e = model.expand_at(i, &w.text);
                    if e.unresolved.is_empty() {
                        w.text = e.text;
                    }
                }
            }
            if let Some(mut inst) = requirements::install_of_indexed(&c, df_path, &df_text, &lines)
            {
                // `pip install .` / `-e .` installs the project: its pyproject.toml dependencies count.
                if inst
                    .reqs
                    .iter()
                    .chain(inst.editables.iter())
                    .any(|r| r.text == "." || r.text == "./")
                {
                    inst.sources.includes.push(requirements::Located {
                        value: "pyproject.toml".into(),
                        file: df_path.to_path_buf(),
                        range: 0..0,
                        name_range: 0..0,
                        line: 0,
                    });
                }
                installs.push((i, inst));
            }
        }
    }
    let mut reqfiles: Vec<ReqFile> = Vec::new();
    let mut todo: Vec<(PathBuf, String)> = Vec::new();
    for (i, inst) in &installs {
        for inc in inst
            .sources
            .includes
            .iter()
            .chain(inst.sources.constraints.iter())
        {
            todo.push((PathBuf::new(), resolve_context_path(&model, *i, &inc.value)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    while let Some((base, value)) = todo.pop() {
        if seen.len() > 64 {
            break;
        }
        let candidates = [
            base.join(&value),
            PathBuf::from(&value),
            PathBuf::from(Path::new(&value).file_name().unwrap_or_default()),
        ];
        for cand in candidates {
            let cand = normalise_rel(&cand);
            if cand.as_os_str().is_empty() || !seen.insert(cand.clone()) {
                continue;
            }
            if let Some(text) = read(&cand)? {
                let rf = if cand.file_name().and_then(|n| n.to_str()) == Some("pyproject.toml") {
                    requirements::parse_pyproject(&text, &cand)
                } else {
                    requirements::parse_requirements(&text, &cand)
                };
                let dir = cand.parent().map(Path::to_path_buf).unwrap_or_default();
                for inc in rf
                    .sources
                    .includes
                    .iter()
                    .chain(rf.sources.constraints.iter())
                {
                    todo.push((dir.clone(), inc.value.clone()));
                }
                analysis.files.push(cand.clone());
                texts.insert(cand.clone(), text);
                reqfiles.push(rf);
                break;
            }
        }
    }
    texts.insert(df_path.to_path_buf(), df_text.clone());

    let ctx = rules::Ctx {
        file: df_path,
        text: &df_text,
        df: &df,
        m: &model,
        compat,
        reqfiles: &reqfiles,
        texts: &texts,
        installs: &installs,
        host: opts.host.as_ref(),
        lines: &lines,
    };
    let mut findings = rules::run(&ctx);
    for rf in &reqfiles {
        for (_, range, msg) in &rf.problems {
            findings.push(
                ctx.at_file("DU002", &rf.path, range.clone(), msg.clone())
                    .why("pip would stop at this line; dockui skipped it."),
            );
        }
    }
    for wf in workflows {
        if let Some(t) = read(wf)? {
            let fs = rules::gates::workflow(wf, &t);
            if !fs.is_empty() || t.contains("type=gha") {
                analysis.files.push(wf.clone());
            }
            findings.extend(fs);
        }
    }

    // Ignores: config list, .hadolint.yaml, inline pragmas.
    let mut ignored: Vec<String> = opts.ignore.clone();
    if !opts.no_hadolint_config {
        for name in [".hadolint.yaml", ".hadolint.yml"] {
            if let Some(t) = read(Path::new(name))? {
                ignored.extend(ignore::hadolint_yaml_ignored(&t));
                analysis.files.push(PathBuf::from(name));
                break;
            }
        }
    }
    let pragmas = ignore::Pragmas::from_dockerfile(&df);
    findings.retain(|f| {
        let pragma = f.file == df_path && pragmas.ignores(&f.rule, f.span.start);
        !ignored.iter().any(|i| i == &f.rule) && !pragma
    });
    findings.sort_by(|a, b| {
        (&a.file, a.span.line, a.span.col, &a.rule).cmp(&(
            &b.file,
            b.span.line,
            b.span.col,
            &b.rule,
        ))
    });
    analysis.findings = findings;
    Ok(analysis)
}

/// Map a path used inside the image (`-r /app/requirements.txt`) back to the build context through the COPY
/// instructions before it; falls back to the path as written.
fn resolve_context_path(model: &Model, instr: usize, value: &str) -> String {
    let name = Path::new(value)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(value);
    for info in model.instrs[..instr.min(model.instrs.len())].iter().rev() {
        let ins = info.ins;
        if !(ins.is("COPY") || ins.is("ADD")) || ins.flag("from").is_some() || ins.words.len() < 2 {
            continue;
        }
        let srcs = &ins.words[..ins.words.len() - 1];
        for s in srcs {
            let sname = Path::new(&s.text)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            if sname == name {
                return s.text.trim_start_matches("./").to_string();
            }
        }
    }
    value
        .trim_start_matches("./")
        .trim_start_matches('/')
        .to_string()
}

fn normalise_rel(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir
            | std::path::Component::RootDir
            | std::path::Component::Prefix(_) => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
        }
    }
    out
}

/// Apply a fix's edits to `text` (edits must not overlap; applied from the end so offsets stay valid).
pub fn apply_edits(text: &str, edits: &[TextEdit]) -> String {
    // In order of position; an edit overlapping an earlier one, or out of range, is skipped (never a panic).
    let mut sorted: Vec<&TextEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for e in sorted {
        if e.start < pos
            || e.end < e.start
            || e.end > text.len()
            || !text.is_char_boundary(e.start)
            || !text.is_char_boundary(e.end)
        {
            continue;
        }
        out.push_str(&text[pos..e.start]);
        out.push_str(&e.replacement);
        pos = e.end;
    }
    out.push_str(&text[pos..]);
    out
}
