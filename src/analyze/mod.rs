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

pub mod base_digest;
pub mod compat;
pub mod conda;
pub mod context_files;
pub mod dockerfile;
pub mod finding;
pub mod host;
pub mod ignore;
pub mod install;
pub mod project_files;
pub mod pyproject;
pub mod report;
pub mod requirements;
pub mod rules;
pub mod sarif;
pub mod version;
pub mod workflow;
pub mod yaml;

pub use finding::*;
pub use host::{HostGpu, HostGpuDevice};

use dockerfile::Dockerfile;
use dockerfile::model::Model;
use project_files::ProjectFiles;
use requirements::ReqFile;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A command that reads a project file: (instruction index, offset of the command in the Dockerfile).
type FileReader = (usize, usize);

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
    /// Registry digests of the base images (DU140, DU141); None = no pin checks (no lookups were asked for).
    pub base_digests: Option<base_digest::BaseDigests>,
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

/// Analyse the project at `root`: its Dockerfile, the requirements files it installs (also through COPY globs
/// and directories), `pyproject.toml` when it installs the project itself (`.` takes `dependencies`, `.[a,b]`
/// adds those extras), conda environment files named by `conda env create -f` and friends, `.hadolint.yaml`,
/// and `.github/workflows/*.yml`.
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
    // Each file is read from disk once per analysis: the Dockerfile is asked for twice, pyproject.toml by
    // every install that might read it.
    let seen: std::cell::RefCell<std::collections::HashMap<PathBuf, Option<String>>> =
        Default::default();
    let read = |rel: &Path| -> Result<Option<String>, AnalyzeError> {
        if let Some(text) = overlay.get(rel) {
            return Ok(Some(text.clone()));
        }
        if let Some(known) = seen.borrow().get(rel) {
            return Ok(known.clone());
        }
        let got = if df_trusted && rel == dockerfile {
            files.read_trusted(rel)
        } else {
            files.read(rel)
        };
        let text = match got {
            project_files::Read::Text { text, lossy } => {
                if lossy {
                    refused.borrow_mut().push(not_utf8_finding(rel, &text));
                }
                Some(text)
            }
            project_files::Read::Missing => None,
            project_files::Read::Refused(why) => {
                refused
                    .borrow_mut()
                    .push(refused_finding(rel, rel == dockerfile, &why));
                None
            }
        };
        seen.borrow_mut().insert(rel.to_path_buf(), text.clone());
        Ok(text)
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
                                RuleId::DU004,
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
            owned = compat::Compat::with_user_rows(t).map_err(|source| AnalyzeError::Compat {
                path: p.clone(),
                source,
            })?;
            &owned
        }
        None => compat::Compat::shared(),
    };
    let context = context_files::DirContext::new(root, &dockerfile);
    let mut analysis = analyze_with(&dockerfile, &read, &workflows, opts, compat, Some(&context))?;
    let mut refused = refused.into_inner();
    // One finding per file and rule.
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
        (RuleId::DU003, Severity::Error)
    } else {
        (RuleId::DU004, Severity::Warning)
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
        RuleId::DU004,
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
        None,
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
    context: Option<&dyn context_files::ContextFiles>,
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
    // `conda env create -f X` and friends: (instruction, command); their files are read below.
    let mut env_cmds = Vec::new();
    // Extras asked for by `pip install ".[a,b]"` / `pip install /app[a]`, per pyproject.toml (context path).
    let mut project_extras: HashMap<PathBuf, Vec<String>> = HashMap::new();
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
            if let Some(ec) = conda::env_command(&c) {
                env_cmds.push((i, ec));
                continue;
            }
            if let Some(mut inst) = requirements::install_of_indexed(&c, df_path, &df_text, &lines)
            {
                // `pip install .` / `-e .` / `".[gpu]"` installs the project: its pyproject.toml dependencies
                // (and the extras named) count.
                let local: Vec<Vec<String>> = inst
                    .reqs
                    .iter()
                    .chain(inst.editables.iter())
                    .filter(|r| r.name.is_empty())
                    .filter_map(|r| pyproject::local_project_extras(&r.text))
                    .collect();
                if !local.is_empty() {
                    let all = project_extras
                        .entry(PathBuf::from("pyproject.toml"))
                        .or_default();
                    all.extend(local.into_iter().flatten());
                    inst.sources.includes.push(requirements::Located {
                        value: "pyproject.toml".into(),
                        file: df_path.to_path_buf(),
                        range: 0..0,
                        name_range: 0..0,
                        line: 0,
                    });
                }
                // `uv sync --extra gpu`, `uv pip install -r pyproject.toml --extra gpu`, `--all-extras`: the
                // project in the working directory with those optional groups (`*` stands for every group).
                if inst.project_extras.is_some() || inst.all_extras {
                    let all = project_extras
                        .entry(PathBuf::from("pyproject.toml"))
                        .or_default();
                    all.extend(inst.project_extras.iter().flatten().cloned());
                    if inst.all_extras {
                        all.push(pyproject::ALL_EXTRAS.to_string());
                    }
                }
                // `pip install /app` or `-e /workspace/proj[gpu]`: a project directory copied into the image.
                let dirs: Vec<(String, Vec<String>)> = inst
                    .reqs
                    .iter()
                    .chain(inst.editables.iter())
                    .filter(|r| r.name.is_empty())
                    .filter(|r| pyproject::local_project_extras(&r.text).is_none())
                    .filter_map(|r| pyproject::project_dir_extras(&r.text))
                    .collect();
                for (dir, extras) in dirs {
                    let want = format!("{}/pyproject.toml", dir.trim_end_matches('/'));
                    for cand in resolve_context_path(&model, i, &want) {
                        let cand = normalise_rel(Path::new(&cand));
                        if cand.file_name().and_then(|n| n.to_str()) != Some("pyproject.toml")
                            || read(&cand)?.is_none()
                        {
                            continue;
                        }
                        project_extras
                            .entry(cand.clone())
                            .or_default()
                            .extend(extras);
                        // Already a context path: `file` says so (it is not the Dockerfile).
                        inst.sources.includes.push(requirements::Located {
                            value: cand.to_string_lossy().into_owned(),
                            file: cand.clone(),
                            range: 0..0,
                            name_range: 0..0,
                            line: 0,
                        });
                        break;
                    }
                }
                installs.push((i, inst));
            }
        }
    }
    let mut reqfiles: Vec<ReqFile> = Vec::new();
    // Project files valid in their own grammar that dockui did not read (past one of its limits).
    let mut not_read: Vec<Finding> = Vec::new();
    // Which commands read each file: (instruction, offset of the command). A file read only inside a shell
    // branch the defaults do not decide gets its findings lowered, like the install's own (DU002 below).
    let mut readers: HashMap<PathBuf, Vec<FileReader>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (i, ec) in &env_cmds {
        let by_name = Path::new(&ec.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        for cand in resolve_context_path(&model, *i, &ec.file)
            .into_iter()
            .chain(by_name)
        {
            let cand = normalise_rel(Path::new(&cand));
            if cand.as_os_str().is_empty() || seen.contains(&cand) {
                continue;
            }
            if let Some(text) = read(&cand)? {
                seen.insert(cand.clone());
                let env = conda::parse(&text, &cand);
                if let Some((_, range, msg)) = &env.not_read {
                    not_read.push(
                        Finding::new(
                            RuleId::DU004,
                            Severity::Warning,
                            &cand,
                            Span::from_range(&text, range.start, range.end),
                            msg.clone(),
                        )
                        .why("The checks that need this file were skipped; conda itself may read it."),
                    );
                }
                installs.extend(
                    env.installs(ec.range.clone(), ec.word.clone())
                        .into_iter()
                        .map(|inst| (*i, inst)),
                );
                analysis.files.push(cand.clone());
                texts.insert(cand.clone(), text);
                readers
                    .entry(cand.clone())
                    .or_default()
                    .push((*i, ec.range.start));
                reqfiles.push(env.reqfile());
                break;
            }
        }
    }
    installs.sort_by_key(|(i, _)| *i);
    // (directory of the including file, candidate paths, a conda spec list (`conda install --file`)?, the
    // command that reads it: (instruction, offset))
    let mut todo: Vec<(PathBuf, Vec<String>, bool, FileReader)> = Vec::new();
    for (i, inst) in &installs {
        for inc in inst
            .sources
            .includes
            .iter()
            .chain(inst.sources.constraints.iter())
        {
            // Includes of an environment file are already relative to the project.
            let cands = if inc.file == df_path {
                resolve_context_path(&model, *i, &inc.value)
            } else {
                vec![inc.value.clone()]
            };
            todo.push((
                PathBuf::new(),
                cands,
                inst.tool == requirements::Tool::Conda,
                (*i, inst.range.start),
            ));
        }
    }
    let mut reads = 0;
    // What each file read here includes (`-r`, `-c`): a reader that reaches the file later reaches them too.
    let mut includes_of: HashMap<PathBuf, Vec<(PathBuf, String)>> = HashMap::new();
    while let Some((base, values, conda_specs, reader)) = todo.pop() {
        if reads > 64 {
            break;
        }
        let mut candidates = Vec::new();
        for value in &values {
            candidates.push(base.join(value));
            candidates.push(PathBuf::from(value));
        }
        if let Some(v) = values.first() {
            candidates.push(PathBuf::from(Path::new(v).file_name().unwrap_or_default()));
        }
        for cand in candidates {
            let cand = normalise_rel(&cand);
            if cand.as_os_str().is_empty() {
                continue;
            }
            if seen.contains(&cand) {
                // Read already (by another command): note this reader, for the file and what it includes.
                if let Some(r) = readers.get_mut(&cand) {
                    if !r.contains(&reader) {
                        r.push(reader);
                        for (dir, value) in includes_of.get(&cand).into_iter().flatten() {
                            todo.push((dir.clone(), vec![value.clone()], false, reader));
                        }
                    }
                }
                break;
            }
            if let Some(text) = read(&cand)? {
                seen.insert(cand.clone());
                readers.entry(cand.clone()).or_default().push(reader);
                reads += 1;
                let rf = if conda_specs {
                    conda::parse_spec_file(&text, &cand)
                } else if cand.file_name().and_then(|n| n.to_str()) == Some("pyproject.toml") {
                    let extras = project_extras
                        .get(&cand)
                        .or_else(|| project_extras.get(Path::new("pyproject.toml")))
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    pyproject::reqfile(&text, &cand, extras)
                } else {
                    requirements::parse_requirements(&text, &cand)
                };
                let dir = cand.parent().map(Path::to_path_buf).unwrap_or_default();
                let includes: Vec<(PathBuf, String)> = rf
                    .sources
                    .includes
                    .iter()
                    .chain(rf.sources.constraints.iter())
                    .map(|inc| (dir.clone(), inc.value.clone()))
                    .collect();
                for (dir, value) in &includes {
                    todo.push((dir.clone(), vec![value.clone()], false, reader));
                }
                includes_of.insert(cand.clone(), includes);
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
        bases: opts.base_digests.as_ref(),
        lines: &lines,
        context,
    };
    let mut findings = rules::run(&ctx);
    findings.append(&mut not_read);
    for rf in &reqfiles {
        if rf.problems.is_empty() {
            continue;
        }
        // The commands that read it: with the defaults, does any of them surely run?
        use rules::gpu::branch::Cond;
        let conds: Vec<Cond> = readers
            .get(&rf.path)
            .map(|r| {
                r.iter()
                    .map(|(i, at)| rules::gpu::branch::condition(&ctx, *i, *at))
                    .collect()
            })
            .unwrap_or_default();
        // Any sure reader decides; else an undecidable one; else all are skipped with the defaults.
        let branch = if conds.is_empty() || conds.contains(&Cond::Always) {
            Cond::Always
        } else {
            conds
                .iter()
                .find(|c| matches!(c, Cond::Unknown(_)))
                .unwrap_or(&conds[0])
                .clone()
        };
        // One line index per file: a file of many bad lines stays linear.
        let text = texts.get(&rf.path).map(String::as_str).unwrap_or("");
        let lines = finding::LineIndex::new(text);
        for (line, range, msg) in &rf.problems {
            // The tool's own grammar (PEP 508, TOML, YAML) rejects the line: the install stops, an error.
            // A grammar dockui implements itself (conda match specs) may be wrong: a warning that says so.
            let guessed = rf.guessed.contains(line);
            let mut f = Finding::new(
                RuleId::DU002,
                if guessed {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                &rf.path,
                lines.span(text, range.start, range.end),
                msg.clone(),
            );
            f = if guessed {
                f.why("conda may stop at this line; dockui skipped it.")
                    .fact("assumption: dockui's own reading of conda's match-spec grammar rejects it; conda may accept it")
            } else {
                f.why("The installer stops at this line and the build fails; dockui skipped it.")
                    .fact("the file is read by an install in the Dockerfile; its grammar (PEP 508, TOML or YAML) rejects this line")
            };
            match &branch {
                // Read only in a branch the defaults do not decide: the build fails only if it runs.
                Cond::Unknown(cond) => rules::gpu::branch::assume_branch(&mut f, cond),
                // Read only in a branch the defaults skip: a build argument may still take it.
                Cond::Never(cond) => {
                    f.severity = f.severity.max(Severity::Info);
                    f = f.fact(format!(
                        "the install that reads this file does not run with the default build arguments (`{cond}`)"
                    ));
                }
                Cond::Always => {}
            }
            findings.push(f);
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
        let pragma = f.file == df_path && pragmas.ignores(f.rule.as_str(), f.span.start);
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
    // Two installs of one file (`uv sync --no-install-project` then `uv sync`) find the same thing once.
    findings.dedup_by(|a, b| {
        a.rule == b.rule && a.file == b.file && a.span == b.span && a.message == b.message
    });
    analysis.findings = findings;
    Ok(analysis)
}

/// Map a path used inside the image (`-r /app/requirements.txt`) back to the build context through the COPY
/// instructions before it: a source with that file name, or a directory / glob source
/// (`COPY requirements/ ...`, `COPY requirements/*.txt ...`) that holds it. Candidates come best first; the path
/// as written is the last one.
pub(crate) fn resolve_context_path(model: &Model, instr: usize, value: &str) -> Vec<String> {
    let name = Path::new(value)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(value);
    let mut out = Vec::new();
    for info in model.instrs[..instr.min(model.instrs.len())].iter().rev() {
        let ins = info.ins;
        if !(ins.is("COPY") || ins.is("ADD")) || ins.flag("from").is_some() || ins.words.len() < 2 {
            continue;
        }
        let dest = ins.words[ins.words.len() - 1].text.trim_end_matches('/');
        let srcs = &ins.words[..ins.words.len() - 1];
        // `COPY environment.yml /tmp/env.yml` renames the file: the destination names it.
        let plain = |p: &str| p.trim_start_matches("./").to_string();
        if srcs.len() == 1 && plain(dest) == plain(value) && !srcs[0].text.contains(['*', '?']) {
            out.push(plain(&srcs[0].text));
            continue;
        }
        for s in srcs {
            let src = s.text.trim_start_matches("./");
            let sname = Path::new(src)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("");
            if sname == name {
                out.push(src.to_string());
                continue;
            }
            if src.contains(['*', '?', '[']) {
                // A glob: the file named in the context directory of the pattern, when the pattern matches it.
                let (dir, pat) = match src.rsplit_once('/') {
                    Some((d, p)) => (d, p),
                    None => ("", src),
                };
                if !dir.contains(['*', '?', '[']) && glob_match(pat, name) {
                    out.push(if dir.is_empty() {
                        name.to_string()
                    } else {
                        format!("{dir}/{name}")
                    });
                }
            } else if !dest.is_empty()
                && (src.ends_with('/') || Path::new(src).extension().is_none())
                && (value.starts_with(&format!("{dest}/")) || !value.starts_with('/'))
            {
                // A directory copied to `dest`: `dest/sub/x.txt` is `src/sub/x.txt` in the context; a relative
                // path (from WORKDIR) keeps the part below the source directory's name.
                let src_dir = src.trim_end_matches('/');
                let rest = value.strip_prefix(&format!("{dest}/")).or_else(|| {
                    let base = Path::new(src_dir).file_name()?.to_str()?;
                    value
                        .trim_start_matches("./")
                        .strip_prefix(&format!("{base}/"))
                });
                if let Some(rest) = rest {
                    out.push(if src_dir.is_empty() || src_dir == "." {
                        rest.to_string()
                    } else {
                        format!("{src_dir}/{rest}")
                    });
                }
            }
        }
    }
    out.push(
        value
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string(),
    );
    out
}

/// Docker's COPY glob for one path component: `*` (any run), `?` (one char), `[...]` classes treated as `?`.
fn glob_match(pat: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char], budget: &mut u32) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|k| go(&p[1..], &n[k..], budget)),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..], budget),
            Some('[') => match p.iter().position(|c| *c == ']') {
                Some(close) => !n.is_empty() && go(&p[close + 1..], &n[1..], budget),
                None => n.first() == Some(&'[') && go(&p[1..], &n[1..], budget),
            },
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..], budget),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n, &mut 100_000)
}

pub(crate) fn normalise_rel(p: &Path) -> PathBuf {
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

#[cfg(test)]
mod include_tests {
    use super::rules::testutil::check_with;
    use std::path::Path;

    const REQ: &str = "torch==2.3.1\n";

    fn reads(df: &str, files: &[(&str, &str)], want: &str) -> bool {
        check_with(df, files)
            .files
            .iter()
            .any(|f| f == Path::new(want))
    }

    #[test]
    fn files_copied_by_glob_or_directory_are_found() {
        let files = [("requirements/gpu.txt", REQ), ("gpu.txt", "numpy\n")];
        let glob = "FROM python:3.11\nCOPY requirements/*.txt /opt/reqs/\nRUN pip install --no-cache-dir -r /opt/reqs/gpu.txt\n";
        assert!(reads(glob, &files, "requirements/gpu.txt"));
        let dir = "FROM python:3.11\nCOPY requirements/ /opt/reqs/\nRUN pip install --no-cache-dir -r /opt/reqs/gpu.txt\n";
        assert!(reads(dir, &files, "requirements/gpu.txt"));
        let workdir = "FROM python:3.11\nWORKDIR /app\nCOPY requirements ./requirements\nRUN pip install --no-cache-dir -r requirements/gpu.txt\n";
        assert!(reads(workdir, &files, "requirements/gpu.txt"));
        // A glob that does not match the file does not send us into that directory.
        let other = "FROM python:3.11\nCOPY requirements/*.in /opt/reqs/\nCOPY gpu.txt /opt/reqs/\nRUN pip install --no-cache-dir -r /opt/reqs/gpu.txt\n";
        assert!(!reads(other, &files, "requirements/gpu.txt"));
        assert!(reads(other, &files, "gpu.txt"));
    }

    #[test]
    fn setuptools_dynamic_dependencies_are_read_from_their_files() {
        let pyproject = "[project]\nname = \"svc\"\nversion = \"1.0\"\ndynamic = [\"dependencies\", \"optional-dependencies\"]\n\n[tool.setuptools.dynamic]\ndependencies = {file = [\"requirements.txt\"]}\noptional-dependencies.gpu = {file = \"requirements-gpu.txt\"}\n";
        let files = [
            ("pyproject.toml", pyproject),
            ("requirements.txt", "fastapi==0.115.0\n"),
            ("requirements-gpu.txt", REQ),
        ];
        let plain = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir .\n";
        assert!(reads(plain, &files, "requirements.txt"));
        assert!(!reads(plain, &files, "requirements-gpu.txt"));
        let gpu =
            "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir \".[gpu]\"\n";
        assert!(reads(gpu, &files, "requirements-gpu.txt"));
        // Its torch is judged like any requirement: torch 2.3.1's default cu121 build on a CUDA 11.8 image.
        let cuda = "FROM nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04\nRUN apt-get update && apt-get install -y --no-install-recommends python3-pip=22.0.2+dfsg-1ubuntu0.4 && rm -rf /var/lib/apt/lists/*\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir \".[gpu]\"\n";
        let a = check_with(cuda, &files);
        assert!(
            a.findings
                .iter()
                .any(|f| f.rule == "DU201" && f.file == Path::new("requirements-gpu.txt")),
            "{:#?}",
            a.findings
        );
        // No [tool.setuptools.dynamic]: nothing else is read.
        let files = [
            ("pyproject.toml", "[project]\nname = \"svc\"\n"),
            ("requirements.txt", REQ),
        ];
        assert!(!reads(plain, &files, "requirements.txt"));
    }

    #[test]
    fn glob_components() {
        assert!(super::glob_match("*.txt", "gpu.txt"));
        assert!(super::glob_match("req?.txt", "req1.txt"));
        assert!(super::glob_match("req[0-9].txt", "req1.txt"));
        assert!(!super::glob_match("*.in", "gpu.txt"));
        // Pathological patterns end (bounded backtracking) instead of hanging.
        assert!(!super::glob_match(
            &"*a".repeat(40),
            &format!("{}b", "a".repeat(30))
        ));
    }
}

#[cfg(test)]
mod project_read_tests {
    use super::{AnalyzeOptions, analyze_project};
    use std::path::Path;

    #[test]
    fn a_file_copied_into_a_directory_is_not_taken_for_a_directory() {
        // `COPY a.txt b.txt /app/` then `-r /app/a.txt -r /app/b.txt`: `a.txt` is a file, never the directory
        // `b.txt` sits in (reading `a.txt/b.txt` stopped the analysis with ENOTDIR).
        let dir = tempfile::tempdir().expect("tempdir");
        let w = |p: &str, t: &str| std::fs::write(dir.path().join(p), t).expect("write");
        w(
            "Dockerfile",
            "FROM python:3.11\nCOPY reqs_docker.txt reqs_versions.txt /app/\nRUN pip install --no-cache-dir -r /app/reqs_docker.txt -r /app/reqs_versions.txt\n",
        );
        w("reqs_docker.txt", "-r reqs_versions.txt\ntorch==2.5.1\n");
        w("reqs_versions.txt", "numpy==1.26.4\n");
        let a = analyze_project(dir.path(), &AnalyzeOptions::default()).expect("analysis");
        assert!(
            a.files.iter().any(|f| f == Path::new("reqs_versions.txt")),
            "{:?}",
            a.files
        );
        assert!(a.files.iter().any(|f| f == Path::new("reqs_docker.txt")));
    }
}
