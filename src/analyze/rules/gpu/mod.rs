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

pub(super) mod host;
mod install;
mod python;
pub(super) mod stages;
pub(super) mod torch;
mod version;

use install::{Group, groups, selected_variant};
pub use version::satisfies;
use version::{shown, torch_version};

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let gs = groups(ctx);
    for g in &gs {
        let base = base_of(ctx, g.instr);
        let torch = g.torch();
        if let Some(t) = torch {
            torch::torch_rules(ctx, g, t, base.as_ref(), out);
        }
        torch::companions(ctx, g, &gs, base.as_ref(), out);
        python::python_range(ctx, g, base.as_ref(), out);
    }
    stages::stubs(ctx, out);
    stages::copy_paths(ctx, out);
    stages::cross_stage_cuda(ctx, out);
    if let Some(h) = ctx.host {
        host::run(ctx, h, &gs, out);
    }
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

/// A pin in the syntax of the tool that installs it: `torch==2.5.1` for pip, `pytorch=2.5.1` for conda
/// (conda's single `=` already means "this version or series").
fn pin(g: &Group, name: &str, version: &str) -> String {
    if g.install.tool == Tool::Conda {
        format!("{name}={}", version.trim_end_matches(".*"))
    } else {
        format!("{name}=={version}")
    }
}
