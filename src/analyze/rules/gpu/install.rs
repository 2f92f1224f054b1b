//! Install resolution: what one install command asks for (its requirements, `-r` includes, `-c` constraints and
//! index options) and which CUDA build of torch that selects.

use super::*;

/// One resolution: the packages one install command asks for, with the index options in force.
pub(super) struct Group<'a> {
    pub(super) instr: usize,
    pub(super) install: &'a Install,
    pub(super) reqs: Vec<&'a Requirement>,
    /// Pins from `-c` constraint files: they decide the version of a requested package.
    pub(super) constraints: Vec<&'a Requirement>,
    pub(super) index_url: Option<&'a Located>,
    pub(super) extra_index: Vec<&'a Located>,
    /// uv's torch backend (`--torch-backend`, `UV_TORCH_BACKEND` on the command or in ENV).
    pub(super) backend: Option<String>,
    /// The shell condition this install runs under when dockui cannot decide it (findings then say so).
    pub(super) assumed: Option<String>,
    /// The Python environment it writes to (a fresh venv does not see the base image's torch).
    pub(super) env: super::venv::Env,
}

impl<'a> Group<'a> {
    pub(super) fn get(&self, name: &str) -> Option<&'a Requirement> {
        let r = self.reqs.iter().rev().find(|r| r.name == name).copied()?;
        if r.is_pinned() {
            return Some(r);
        }
        // A constraint only narrows what is requested anyway; its pin is the one that counts.
        let c = self
            .constraints
            .iter()
            .rev()
            .find(|c| c.name == name && (c.is_pinned() || c.series().is_some()))
            .copied();
        Some(c.unwrap_or(r))
    }
    /// The torch this install asks for, unless it is told not to install it (`--no-install-package torch`).
    pub(super) fn torch(&self) -> Option<&'a Requirement> {
        if self
            .install
            .no_install
            .iter()
            .any(|n| n == "torch" || n == "pytorch")
        {
            return None;
        }
        self.get("torch").or_else(|| {
            if self.install.tool == Tool::Conda {
                self.get("pytorch")
            } else {
                None
            }
        })
    }
}

pub(super) fn groups<'a>(ctx: &'a Ctx<'a>) -> Vec<Group<'a>> {
    let mut out = Vec::new();
    let venvs = super::venv::creations(ctx);
    // A `--dry-run` resolves and installs nothing: it neither puts torch in place nor replaces it.
    for (idx, inst) in ctx.installs.iter().filter(|(_, i)| !i.dry_run) {
        let mut reqs: Vec<&Requirement> = inst.reqs.iter().chain(inst.editables.iter()).collect();
        let mut index_url = inst.sources.index_url.as_ref();
        let mut extra: Vec<&Located> = inst.sources.extra_index_urls.iter().collect();
        let mut constraint_files: Vec<&str> = inst
            .sources
            .constraints
            .iter()
            .map(|c| c.value.as_str())
            .collect();
        let mut seen_files: Vec<&Path> = Vec::new();
        for inc in &inst.sources.includes {
            for rf in included(ctx, *idx, &inc.value) {
                // The same file named twice (`pip install .` is also read as a pyproject include) counts once.
                if seen_files.contains(&rf.path.as_path()) {
                    continue;
                }
                seen_files.push(&rf.path);
                // pyproject.toml: the analysis already read only the dependencies and the extras installed.
                reqs.extend(rf.reqs.iter());
                if index_url.is_none() {
                    index_url = rf.sources.index_url.as_ref();
                }
                extra.extend(rf.sources.extra_index_urls.iter());
                constraint_files.extend(rf.sources.constraints.iter().map(|c| c.value.as_str()));
            }
        }
        let constraints = constraint_files
            .iter()
            .flat_map(|c| included(ctx, *idx, c))
            .flat_map(|rf| rf.reqs.iter())
            .collect();
        let assumed = match super::branch::condition(ctx, *idx, inst.range.start) {
            super::branch::Cond::Never(_) => continue,
            super::branch::Cond::Unknown(c) => Some(c),
            super::branch::Cond::Always => None,
        };
        // `UV_TORCH_BACKEND` only steers uv; the command's own setting wins over ENV.
        let backend = if matches!(inst.tool, Tool::UvPip | Tool::UvSync) {
            inst.torch_backend.clone().or_else(|| {
                ctx.m
                    .instrs
                    .get(*idx)
                    .and_then(|i| i.vars.get("UV_TORCH_BACKEND").cloned().flatten())
                    .or_else(|| exported(ctx, *idx, inst.range.start, "UV_TORCH_BACKEND"))
            })
        } else {
            None
        };
        out.push(Group {
            instr: *idx,
            install: inst,
            reqs,
            constraints,
            index_url,
            extra_index: extra,
            backend,
            assumed,
            env: super::venv::target(ctx, &venvs, *idx, inst),
        });
    }
    out
}

/// `export NAME=value` (or a bare `NAME=value;`) earlier in the same RUN, before byte `at`.
pub(super) fn exported(ctx: &Ctx, instr: usize, at: usize, name: &str) -> Option<String> {
    let info = ctx.m.instrs.get(instr)?;
    let mut found = None;
    for c in &info.script.commands {
        if c.range().start >= at {
            break;
        }
        let words: Vec<&str> = if c.name() == "export" {
            c.args().iter().map(|w| w.text.as_str()).collect()
        } else if c.words.is_empty() {
            c.assigns.iter().map(|w| w.text.as_str()).collect()
        } else {
            vec![]
        };
        for w in words {
            if let Some(v) = w.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            }
        }
    }
    found.filter(|v| !v.contains('$'))
}

/// Requirement files for `-r value` of the install at instruction `instr`, following nested `-r` includes. The
/// value is a path in the image: the COPY that put it there names the file in the context (`COPY
/// requirements.txt /r.txt` + `-r /r.txt` reads `requirements.txt`).
pub(super) fn included<'a>(
    ctx: &'a Ctx<'a>,
    instr: usize,
    value: &str,
) -> Vec<&'a crate::analyze::requirements::ReqFile> {
    let mut out: Vec<&crate::analyze::requirements::ReqFile> = Vec::new();
    let copied: Vec<PathBuf> = crate::analyze::resolve_context_path(ctx.m, instr, value)
        .iter()
        .map(|c| crate::analyze::normalise_rel(Path::new(c)))
        .collect();
    let mut todo = vec![value.to_string()];
    while let Some(v) = todo.pop() {
        let name = Path::new(&v).file_name().map(|s| s.to_os_string());
        let top = v == value;
        for rf in ctx.reqfiles {
            let same = rf.path == Path::new(&v)
                || (top && copied.contains(&rf.path))
                || (name.is_some() && rf.path.file_name().map(|s| s.to_os_string()) == name);
            if same && !out.iter().any(|o| o.path == rf.path) {
                out.push(rf);
                todo.extend(rf.sources.includes.iter().map(|l| l.value.clone()));
            }
        }
        if out.len() > 32 {
            break;
        }
    }
    out
}

/// The torch build an install selects: (variant like "cu124", how it was chosen, which kind of choice:
/// "local", "conda", "index", "extra", "uv-backend", or `None` for PyPI's default). `None` overall when the
/// build cannot be known (a conda install without `pytorch-cuda`, an index dockui cannot read, uv's `auto`).
pub(super) fn selected_variant(
    g: &Group,
    t: &Requirement,
    row: &TorchRow,
) -> Option<(String, String, Option<&'static str>)> {
    if let Some(l) = t.local() {
        return Some((l.to_string(), format!("+{l} local version"), Some("local")));
    }
    // conda: `pytorch-cuda=12.1` picks conda's CUDA build; without it the channel decides (pytorch's CPU
    // build, conda-forge's `cuda-version`), never PyPI's default.
    // The same reading as for environment files: `pytorch-cuda`, `cuda-version`, `cudatoolkit`, `cpuonly` or
    // a build string (`pytorch=2.1.0=py3.10_cuda12.1_cudnn8.9.2_0`).
    if g.install.tool == Tool::Conda {
        use crate::analyze::conda::{TorchBuild, torch_build};
        return match torch_build(g.reqs.iter().copied()) {
            TorchBuild::Cuda { variant, from } => {
                Some((variant, format!("conda {from}"), Some("conda")))
            }
            TorchBuild::Cpu { from } => {
                Some(("cpu".into(), format!("conda {from}"), Some("conda")))
            }
            TorchBuild::Unknown => None,
        };
    }
    // uv's torch backend replaces the index for torch packages (`auto` depends on the build host's driver).
    if let Some(b) = g.backend.as_deref() {
        let b = b.trim();
        if b == "cpu" || b.starts_with("cu") || b.starts_with("rocm") {
            return Some((
                b.to_string(),
                format!("uv torch backend {b}"),
                Some("uv-backend"),
            ));
        }
        return None;
    }
    if let Some(i) = g.index_url {
        if let Some(v) = torch_index_variant(&i.value) {
            return Some((v.clone(), format!("--index-url {v}"), Some("index")));
        }
        // Another index (a mirror, `$TORCH_INDEX`): its build is unknown unless it is PyPI itself.
        if !(i.value.contains("pypi.org/simple") || i.value.contains("pypi.python.org/simple")) {
            return None;
        }
    }
    if let Some(v) = g
        .extra_index
        .iter()
        .find_map(|i| torch_index_variant(&i.value))
    {
        // pip takes the highest version across indexes (an exact pin then prefers the +cu build); uv's default
        // first-index strategy always prefers the extra index when it has the package.
        // For an open range, pip takes the highest version from either index, and a local version
        // (`2.5.1+cu124`) sorts above the same public version: the extra index wins whenever it has the newest
        // release the range allows (the CPU index has every release).
        let index_has_newest = v == "cpu" || row.cuda.contains(&v);
        if t.is_pinned() || index_has_newest || matches!(g.install.tool, Tool::UvPip | Tool::UvSync)
        {
            return Some((v.clone(), format!("--extra-index-url {v}"), Some("extra")));
        }
    }
    // uv sync resolves from the project's own `[tool.uv]` indexes and sources, which dockui does not read.
    if g.install.tool == Tool::UvSync {
        return None;
    }
    Some((
        row.default_cuda.clone(),
        format!("PyPI default {}", row.default_cuda),
        None,
    ))
}
