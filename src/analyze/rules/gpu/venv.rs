//! Virtual environments: which Python environment an install writes to. A venv made in the Dockerfile without
//! `--system-site-packages` (`python -m venv`, `virtualenv`, `uv venv`, and the `.venv` of `uv sync`) starts
//! empty: it does not see the torch the base image ships, so pip installs a torch of its own there (and an
//! earlier install into another environment does not satisfy it either).
//!
//! An install writes to a venv when it runs that venv's program (`/opt/venv/bin/pip`, `/opt/venv/bin/python
//! -m pip`), when the venv's `bin` comes first on the `PATH` in force (`ENV PATH=/opt/venv/bin:$PATH`), after
//! `. /opt/venv/bin/activate` in the same RUN, or for uv through `--python`, `VIRTUAL_ENV` or the project's
//! `.venv` (`uv sync`). A venv dockui does not see being made (it comes with the base image) is taken for the
//! system environment, as before.

use super::*;
use crate::analyze::dockerfile::shell::Command;
use crate::analyze::requirements::{is_pip, is_python};
use std::ops::Range;

/// A venv created by a RUN line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Venv {
    /// The directory as written (expanded), without a trailing `/`.
    pub(super) path: String,
    pub(super) system_site: bool,
    /// Instruction that creates it.
    pub(super) instr: usize,
    /// The word after which `--system-site-packages` can be inserted (`venv` of `-m venv`, `virtualenv`, the
    /// `venv` of `uv venv`); `None` when the creation is not in the Dockerfile's text (uv sync's `.venv`).
    pub(super) word: Option<Range<usize>>,
}

/// The environment an install writes to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) enum Env {
    /// The image's own Python (or a venv dockui does not see being made).
    #[default]
    System,
    Venv(Venv),
}

impl Env {
    /// The base image's packages are visible (pip keeps what they satisfy).
    pub(super) fn sees_base(&self) -> bool {
        match self {
            Env::System => true,
            Env::Venv(v) => v.system_site,
        }
    }
    /// Packages installed into `other` are visible here.
    pub(super) fn sees(&self, other: &Env) -> bool {
        match (self, other) {
            (Env::System, Env::System) => true,
            (Env::Venv(a), Env::Venv(b)) => a.path == b.path,
            (Env::Venv(a), Env::System) => a.system_site,
            (Env::System, Env::Venv(_)) => false,
        }
    }
    pub(super) fn venv(&self) -> Option<&Venv> {
        match self {
            Env::Venv(v) => Some(v),
            Env::System => None,
        }
    }
}

/// Every venv the Dockerfile creates, in file order (one pass over the RUN lines).
pub(super) fn creations(ctx: &Ctx) -> Vec<Venv> {
    let mut out = Vec::new();
    for (i, info) in ctx.m.instrs.iter().enumerate() {
        if !info.ins.is("RUN") {
            continue;
        }
        for c in &info.script.commands {
            if let Some(v) = creation(ctx, i, &c.unwrapped()) {
                out.push(v);
            }
        }
    }
    out
}

fn expanded(ctx: &Ctx, instr: usize, s: &str) -> String {
    if s.contains('$') {
        let e = ctx.m.expand_at(instr, s);
        if e.unresolved.is_empty() {
            return e.text;
        }
    }
    s.to_string()
}

fn clean(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        p.to_string()
    } else {
        t.to_string()
    }
}

/// `python3 -m venv [opts] DIR`, `virtualenv [opts] DIR`, `python -m virtualenv DIR`, `uv venv [opts] [DIR]`.
fn creation(ctx: &Ctx, instr: usize, c: &Command) -> Option<Venv> {
    let w = &c.words;
    let base = c.base_name();
    let (args_at, word) = if is_python(base)
        && w.get(1).is_some_and(|x| x.text == "-m")
        && w.get(2)
            .is_some_and(|x| x.text == "venv" || x.text == "virtualenv")
    {
        (3, w[2].range.clone())
    } else if base == "virtualenv" {
        (1, w[0].range.clone())
    } else if base == "uv" && w.get(1).is_some_and(|x| x.text == "venv") {
        (2, w[1].range.clone())
    } else {
        return None;
    };
    // Options that take a value (so the value is not the directory).
    const VALUE: &[&str] = &[
        "--prompt",
        "-p",
        "--python",
        "--seed-x",
        "--index-url",
        "--cache-dir",
    ];
    let mut system_site = false;
    let mut dir = None;
    let mut j = args_at;
    while j < w.len() {
        let t = w[j].text.as_str();
        if t == "--system-site-packages" {
            system_site = true;
        } else if VALUE.contains(&t) {
            j += 1;
        } else if !t.starts_with('-') && dir.is_none() {
            dir = Some(clean(&expanded(ctx, instr, t)));
        }
        j += 1;
    }
    let path = match dir {
        Some(d) => d,
        // `uv venv` alone makes `.venv` in the working directory.
        None if base == "uv" => ".venv".to_string(),
        None => return None,
    };
    Some(Venv {
        path,
        system_site,
        instr,
        word: Some(word),
    })
}

/// `/opt/venv/bin/pip3` or `/opt/venv/bin/python3.11` -> `/opt/venv`.
fn env_dir_of_program(p: &str) -> Option<String> {
    let (dir, exe) = p.rsplit_once('/')?;
    if !(is_pip(exe) || is_python(exe) || exe == "uv") {
        return None;
    }
    let root = dir.strip_suffix("/bin")?;
    Some(clean(root))
}

/// The environment install `inst` (in instruction `instr`) writes to.
pub(super) fn target(ctx: &Ctx, venvs: &[Venv], instr: usize, inst: &Install) -> Env {
    if inst.tool == Tool::Conda || inst.tool == Tool::Pipx || inst.program.is_empty() {
        return Env::System;
    }
    // Only venvs made before this instruction exist when it runs.
    let made = |dir: &str| -> Option<&Venv> {
        venvs
            .iter()
            .filter(|v| {
                v.instr < instr
                    || (v.instr == instr
                        && v.word.as_ref().is_some_and(|w| w.start < inst.range.start))
            })
            .rfind(|v| v.path == dir)
    };
    let found = |dir: &str| made(dir).cloned().map(Env::Venv).unwrap_or_default();
    let var = |name: &str| -> Option<String> {
        ctx.m
            .instrs
            .get(instr)
            .and_then(|i| i.vars.get(name).cloned().flatten())
            .or_else(|| super::install::exported(ctx, instr, inst.range.start, name))
    };
    let program = expanded(ctx, instr, &inst.program);
    if let Some(dir) = env_dir_of_program(&program) {
        if program.rsplit('/').next() != Some("uv") {
            return found(&dir);
        }
    }
    match inst.tool {
        Tool::UvPip => {
            if inst.system {
                return Env::System;
            }
            if let Some(p) = &inst.target_python {
                return env_dir_of_program(&expanded(ctx, instr, p))
                    .map(|d| found(&d))
                    .unwrap_or_default();
            }
            if let Some(v) = var("VIRTUAL_ENV") {
                return found(&clean(&v));
            }
            // Without a venv uv looks for `.venv` in the working directory (or refuses).
            return found(".venv");
        }
        Tool::UvSync => {
            // uv sync installs into the project's environment: `UV_PROJECT_ENVIRONMENT` or `.venv`, which uv
            // creates itself (empty) when missing. A project environment pointed at a system prefix
            // (`/usr/local`, `/opt/conda`) is the system's.
            return match var("UV_PROJECT_ENVIRONMENT") {
                Some(p) => {
                    let p = clean(&p);
                    match made(&p) {
                        Some(v) => Env::Venv(v.clone()),
                        None => Env::System,
                    }
                }
                None => match made(".venv") {
                    Some(v) => Env::Venv(v.clone()),
                    None => Env::Venv(Venv {
                        path: ".venv".into(),
                        system_site: false,
                        instr,
                        word: None,
                    }),
                },
            };
        }
        _ => {}
    }
    // `pip` / `python -m pip` found through the shell: an activated venv, else the first PATH entry that
    // is a venv's `bin` or a system directory.
    if let Some(dir) = activated(ctx, instr, inst.range.start) {
        return found(&dir);
    }
    let path = var("PATH").unwrap_or_default();
    for entry in path.split(':') {
        let e = clean(entry);
        if let Some(root) = e.strip_suffix("/bin") {
            if let Some(v) = made(&clean(root)) {
                return Env::Venv(v.clone());
            }
        }
        if matches!(
            e.as_str(),
            "/usr/local/bin" | "/usr/bin" | "/bin" | "/usr/local/sbin" | "/usr/sbin" | "/sbin"
        ) || e.ends_with("/conda/bin")
        {
            return Env::System;
        }
    }
    Env::System
}

/// `. /opt/venv/bin/activate` or `source /opt/venv/bin/activate` earlier in the same RUN, before byte `at`.
fn activated(ctx: &Ctx, instr: usize, at: usize) -> Option<String> {
    let info = ctx.m.instrs.get(instr)?;
    let mut found = None;
    for c in &info.script.commands {
        if c.range().start >= at {
            break;
        }
        if matches!(c.name(), "." | "source") {
            if let Some(a) = c.args().first() {
                let a = expanded(ctx, instr, &a.text);
                if let Some(root) = a.strip_suffix("/bin/activate") {
                    found = Some(clean(root));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_name_their_environment() {
        assert_eq!(
            env_dir_of_program("/opt/venv/bin/pip").as_deref(),
            Some("/opt/venv")
        );
        assert_eq!(
            env_dir_of_program("/opt/venv/bin/python3.11").as_deref(),
            Some("/opt/venv")
        );
        assert_eq!(
            env_dir_of_program(".venv/bin/python").as_deref(),
            Some(".venv")
        );
        assert_eq!(env_dir_of_program("pip"), None);
        assert_eq!(env_dir_of_program("/usr/local/lib/pip"), None);
    }
}
