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
    pub(super) fn torch(&self) -> Option<&'a Requirement> {
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
    for (idx, inst) in ctx.installs {
        let mut reqs: Vec<&Requirement> = inst.reqs.iter().chain(inst.editables.iter()).collect();
        let mut index_url = inst.sources.index_url.as_ref();
        let mut extra: Vec<&Located> = inst.sources.extra_index_urls.iter().collect();
        let mut constraint_files: Vec<&str> = inst
            .sources
            .constraints
            .iter()
            .map(|c| c.value.as_str())
            .collect();
        for inc in &inst.sources.includes {
            for rf in included(ctx, &inc.value) {
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
            .flat_map(|c| included(ctx, c))
            .flat_map(|rf| rf.reqs.iter())
            .collect();
        out.push(Group {
            instr: *idx,
            install: inst,
            reqs,
            constraints,
            index_url,
            extra_index: extra,
        });
    }
    out
}

/// Requirement files for `-r value`, following nested `-r` includes.
pub(super) fn included<'a>(
    ctx: &'a Ctx<'a>,
    value: &str,
) -> Vec<&'a crate::analyze::requirements::ReqFile> {
    let mut out: Vec<&crate::analyze::requirements::ReqFile> = Vec::new();
    let mut todo = vec![value.to_string()];
    while let Some(v) = todo.pop() {
        let name = Path::new(&v).file_name().map(|s| s.to_os_string());
        for rf in ctx.reqfiles {
            let same = rf.path == Path::new(&v)
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

pub(super) fn selected_variant(
    g: &Group,
    t: &Requirement,
    row: &TorchRow,
) -> (String, String, Option<&'static str>) {
    if let Some(l) = t.local() {
        return (l.to_string(), format!("+{l} local version"), Some("local"));
    }
    // conda: `pytorch-cuda=12.1` picks the CUDA build.
    if g.install.tool == Tool::Conda {
        if let Some(v) = g
            .get("pytorch-cuda")
            .and_then(|r| r.series())
            .and_then(|c| cuda_to_variant(&c))
        {
            return (v.clone(), format!("pytorch-cuda={v}"), Some("conda"));
        }
    }
    if let Some(v) = g.index_url.and_then(|i| torch_index_variant(&i.value)) {
        return (v.clone(), format!("--index-url {v}"), Some("index"));
    }
    if let Some(v) = g
        .extra_index
        .iter()
        .find_map(|i| torch_index_variant(&i.value))
    {
        // pip takes the highest version across indexes (an exact pin then prefers the +cu build); uv's default
        // first-index strategy always prefers the extra index when it has the package.
        if t.is_pinned() || g.install.tool == Tool::UvPip {
            return (v.clone(), format!("--extra-index-url {v}"), Some("extra"));
        }
    }
    (
        row.default_cuda.clone(),
        format!("PyPI default {}", row.default_cuda),
        None,
    )
}
