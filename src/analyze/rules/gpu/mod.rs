//! GPU rules (`DU2xx`): torch / torchvision / torchaudio / CUDA / python against the base image, using the facts
//! in `assets/compat.toml`. Findings say which facts they used.
//!
//! Layout: `install` resolves what each install command asks for (requirements, constraints, indexes) and which
//! CUDA build it selects; `version` reads torch versions and specifiers; `torch` holds the torch rules
//! (DU201-DU205, DU209, DU202); `python` the interpreter range (DU206); `stages` the stage and build rules
//! (DU207, DU208, DU210); `host` the host-aware rules (DU211-DU213).

use super::from_rewrite::locate_reference;
use super::*;
use crate::analyze::compat::{
    ImageFacts, TorchRow, cmp_versions, cuda_to_variant, series_of, variant_to_cuda,
};
use crate::analyze::dockerfile::model::Stage;
use crate::analyze::requirements::{Install, Located, Requirement, Tool, torch_index_variant};

pub(super) mod arch;
pub(crate) mod branch;
pub(super) mod host;
mod install;
mod python;
pub(super) mod stages;
pub(super) mod torch;
mod venv;
mod version;

use install::{Group, groups, selected_variant};
pub use version::satisfies;
use version::{shown, torch_version};

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let gs = groups(ctx);
    // The earlier installs that matter to a later one, kept as they come (scanning every earlier install
    // for every install was quadratic in install-heavy files): those that ask for torch, and those from the
    // PyTorch index whose torch dockui cannot read.
    let mut earlier = Earlier::default();
    for g in gs.iter() {
        let base = base_of(ctx, g.instr);
        let mut found = Vec::new();
        // pip and uv keep an installed torch that satisfies a later requirement: that install changes nothing,
        // and the torch in effect afterwards is still the earlier one.
        let kept = g
            .torch()
            .is_some_and(|t| kept_by_earlier(ctx, &earlier, g, t).is_some());
        let torch = g.torch().filter(|_| !kept);
        if let Some(t) = torch {
            torch::torch_rules(ctx, g, t, base.as_ref(), &mut found);
            python::python_range(ctx, g, t, base.as_ref(), &mut found);
        }
        torch::companions(ctx, g, torch, &earlier, base.as_ref(), &mut found);
        if !kept {
            earlier.push(g);
        }
        if g.get("torchvision").is_some() || g.get("torchaudio").is_some() {
            earlier.companions.push(g);
        }
        if let Some(c) = &g.assumed {
            for f in &mut found {
                branch::assume_branch(f, c);
            }
        }
        out.extend(found);
    }
    stages::stubs(ctx, out);
    stages::copy_paths(ctx, out);
    stages::cross_stage_cuda(ctx, out);
    arch::arch_list(ctx, out);
    if let Some(h) = ctx.host {
        host::run(ctx, h, &gs, out);
    }
}

/// The stages a stage is built on, itself first.
fn stage_chain(ctx: &Ctx, stage: usize) -> Vec<usize> {
    let mut chain = vec![stage];
    let mut s = stage;
    while let Some(p) = ctx.m.stages.get(s).and_then(|x| x.parent) {
        if p >= s || chain.len() > 64 {
            break;
        }
        chain.push(p);
        s = p;
    }
    chain
}

/// Earlier installs, in file order: those that ask for torch, and those from the PyTorch index that do not
/// (their torch comes from a file or variable dockui cannot read).
#[derive(Default)]
struct Earlier<'g, 'a> {
    torch: Vec<&'g Group<'a>>,
    torch_index: Vec<&'g Group<'a>>,
    /// Those that ask for torchvision or torchaudio.
    companions: Vec<&'g Group<'a>>,
}

impl<'g, 'a> Earlier<'g, 'a> {
    fn push(&mut self, g: &'g Group<'a>) {
        if g.torch().is_some() {
            self.torch.push(g);
        } else if g
            .index_url
            .into_iter()
            .chain(g.extra_index.iter().copied())
            .any(|i| i.value.contains("download.pytorch.org/whl"))
        {
            self.torch_index.push(g);
        }
    }
}

/// Which earlier installs an install sees: those in its stage or a stage it is built on, and those in a stage
/// whose environment directory is copied in before it (`COPY --from=builder /opt/venv /opt/venv`, then
/// `/opt/venv/bin/pip` or `PATH=/opt/venv/bin:$PATH`).
struct Reach {
    chain: Vec<usize>,
    copies: Vec<EnvCopy>,
}

/// `COPY --from=<stage> src dst` of an absolute directory: what is under `src` in that stage (and the stages it
/// is built on) is under `dst` here.
struct EnvCopy {
    stages: Vec<usize>,
    src: String,
    dst: String,
}

impl EnvCopy {
    fn maps(&self, p: &str) -> Option<String> {
        if p == self.src {
            return Some(self.dst.clone());
        }
        let rest = p.strip_prefix(self.src.as_str())?;
        rest.starts_with('/')
            .then(|| format!("{}{rest}", self.dst.trim_end_matches('/')))
    }
}

/// A system Python's packages copied whole: its prefix or its site-packages.
fn system_site_dir(p: &str) -> bool {
    matches!(p, "/opt/conda" | "/usr/local" | "/usr/local/lib")
        || p.starts_with("/usr/local/lib/python")
}

impl Reach {
    fn of(ctx: &Ctx, g: &Group) -> Reach {
        let Some(stage) = ctx.m.instrs.get(g.instr).and_then(|i| i.stage) else {
            return Reach {
                chain: vec![],
                copies: vec![],
            };
        };
        let chain = stage_chain(ctx, stage);
        let mut copies = Vec::new();
        for &st in &chain {
            for &i in &ctx.m.stages[st].copies_from {
                let ins = ctx.m.instrs[i].ins;
                if i >= g.instr {
                    break;
                }
                if ins.words.len() < 2 {
                    continue;
                }
                let Some(from) = ins.flag("from").and_then(|f| f.value.as_deref()) else {
                    continue;
                };
                let Some(src_stage) = ctx.m.stage_ref(from, st) else {
                    continue;
                };
                let path = |w: &str| {
                    let e = ctx.m.expand_at(i, w);
                    let t = e.text.trim_end_matches('/');
                    (e.unresolved.is_empty()
                        && e.text.starts_with('/')
                        && !t.is_empty()
                        && !t.contains(['*', '?', '[']))
                    .then(|| t.to_string())
                };
                let (srcs, dst) = ins.words.split_at(ins.words.len() - 1);
                let Some(dst) = path(&dst[0].text) else {
                    continue;
                };
                for w in srcs {
                    if let Some(src) = path(&w.text) {
                        copies.push(EnvCopy {
                            stages: stage_chain(ctx, src_stage),
                            src,
                            dst: dst.clone(),
                        });
                    }
                }
            }
        }
        Reach { chain, copies }
    }

    /// Earlier install `o` wrote into the environment `g` installs into.
    fn sees(&self, ctx: &Ctx, g: &Group, o: &Group) -> bool {
        let Some(os) = ctx.m.instrs.get(o.instr).and_then(|i| i.stage) else {
            return false;
        };
        if self.chain.contains(&os) {
            return g.env.sees(&o.env);
        }
        self.copies.iter().any(|c| {
            c.stages.contains(&os)
                && match (&o.env, &g.env) {
                    (venv::Env::Venv(a), venv::Env::Venv(b)) => {
                        a.path.starts_with('/')
                            && c.maps(&a.path).as_deref() == Some(b.path.as_str())
                    }
                    (venv::Env::System, venv::Env::System) => {
                        c.src == c.dst && system_site_dir(&c.src)
                    }
                    _ => false,
                }
        })
    }
}

/// An earlier install in this stage (or a stage it is built on, or an environment copied in from another stage)
/// whose torch satisfies `t`: pip and uv keep it (unless told to upgrade or reinstall), so `t` installs nothing.
/// Returns where that torch came from.
fn kept_by_earlier(ctx: &Ctx, earlier: &Earlier, g: &Group, t: &Requirement) -> Option<String> {
    if g.install.upgrade || g.install.force_reinstall {
        return None;
    }
    let reach = Reach::of(ctx, g);
    // Only installs into an environment this one sees (a fresh venv sees none of the system's).
    let in_chain = |o: &&&Group| reach.sees(ctx, g, o);
    let Some(prior) = earlier
        .torch
        .iter()
        .rev()
        .filter(in_chain)
        .find_map(|o| o.torch())
    else {
        // An earlier install from the PyTorch index whose requirements dockui cannot read (a file generated
        // during the build, `$TORCH_PACKAGES`): it is there to install torch, so assume it did and stay silent.
        return earlier
            .torch_index
            .iter()
            .rev()
            .filter(in_chain)
            .find_map(|o| {
                o.index_url
                    .into_iter()
                    .chain(o.extra_index.iter().copied())
                    .find(|i| i.value.contains("download.pytorch.org/whl"))
                    .map(|i| {
                        format!(
                            "{}:{} (assumed: installs torch from {})",
                            i.file.display(),
                            i.line,
                            i.value
                        )
                    })
            });
    };
    let at = format!("{}:{}", prior.file.display(), prior.line);
    // A torch whose version dockui cannot read (`torch==${TORCH_VERSION}` without a default): pip keeps it
    // unless it violates `t`, which cannot be shown; stay silent.
    let installed = match prior.exact() {
        Some(v) => v.to_string(),
        None => match torch_version(ctx, prior) {
            Some((v, _, true)) => v,
            Some((series, _, false)) => format!("{series}.0"),
            None => return Some(at),
        },
    };
    if t.specs.is_empty() {
        return Some(at);
    }
    // A local part in the requirement (`+cu121`) must match the installed build's.
    if let Some(want) = t.local() {
        if installed.split_once('+').map(|(_, l)| l) != Some(want) {
            return None;
        }
    }
    satisfies(&installed, &t.specs).then_some(at)
}

/// The base image facts of the stage an instruction runs in (following `FROM <earlier stage>`).
fn base_of<'a>(ctx: &'a Ctx, instr: usize) -> Option<(&'a Stage, ImageFacts)> {
    let s = ctx.m.instrs.get(instr)?.stage?;
    let root = ctx.m.root_stage(s);
    let facts = ctx.compat.image(&root.image.text)?;
    Some((root, facts))
}

fn variants_text(row: &TorchRow) -> String {
    row.cuda.join("/")
}

fn req_finding(ctx: &Ctx, rule: RuleId, r: &Requirement, msg: impl Into<String>) -> Finding {
    if r.file == ctx.file {
        ctx.at(rule, r.range.clone(), msg)
    } else {
        ctx.at_file(rule, &r.file, r.range.clone(), msg)
    }
}

fn req_fix(
    id: &str,
    level: FixLevel,
    desc: impl Into<String>,
    r: &Requirement,
    replacement: String,
) -> Fix {
    Fix {
        id: id.into(),
        level,
        description: desc.into(),
        file: r.file.clone(),
        edits: vec![edit(r.range.start, r.range.end, replacement)],
    }
}

/// Requirement `r` as written with only its version specifier moved to `version`, in the syntax of the tool
/// that installs it (`==2.5.1` for pip, `=2.5.1` for conda, whose single `=` already means "this version or
/// series"): the name as spelt, extras, marker and anything after stay. The result replaces `r.range`.
fn pin(ctx: &Ctx, g: &Group, r: &Requirement, version: &str) -> String {
    let spec = if g.install.tool == Tool::Conda {
        format!("={}", version.trim_end_matches(".*"))
    } else {
        format!("=={version}")
    };
    let text = if r.file == ctx.file {
        Some(ctx.text)
    } else {
        ctx.texts.get(&r.file).map(|s| s.as_str())
    };
    let src = text.and_then(|t| t.get(r.range.clone())).unwrap_or(&r.text);
    let (head, rest) = src.split_at(name_and_extras_len(src));
    // The specifier runs to the marker (`;`), a TOML escape or line continuation (`\`), or the end.
    let end = rest.find([';', '\\']).unwrap_or(rest.len());
    let old = rest[..end].trim_end();
    format!("{}{spec}{}", head.trim_end(), &rest[old.len()..])
}

/// Bytes of `name` (after a conda channel, `pytorch::`), optional whitespace and `[extras]` at the start of a
/// requirement.
fn name_and_extras_len(s: &str) -> usize {
    let channel = s
        .find("::")
        .filter(|&p| {
            !s[..p].contains(|c: char| {
                c.is_whitespace() || matches!(c, '=' | '<' | '>' | '!' | '~' | ';' | '[')
            })
        })
        .map_or(0, |p| p + 2);
    let name = channel
        + s[channel..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(s.len() - channel);
    let after = &s[name..];
    match after.find(']') {
        Some(close) if after.trim_start().starts_with('[') => name + close + 1,
        _ => name,
    }
}

/// Which accelerator stack an image is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accelerator {
    Cuda,
    Rocm,
    /// Plain OS / python images: no accelerator stack of their own.
    None,
}

/// The accelerator of a recognised image, from its `[[image]]` row name in assets/compat.toml.
fn accelerator(f: &ImageFacts) -> Accelerator {
    if f.kind.starts_with("rocm") {
        Accelerator::Rocm
    } else if f.cuda.is_some()
        || matches!(f.kind.as_str(), "pytorch" | "nvidia-cuda" | "ngc-pytorch")
    {
        Accelerator::Cuda
    } else {
        Accelerator::None
    }
}

#[cfg(test)]
mod tests;
