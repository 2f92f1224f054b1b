//! GPU rules (`DU2xx`): torch / torchvision / torchaudio / CUDA / python against the base image, using the facts
//! in `assets/compat.toml`. Findings say which facts they used.

use super::*;
use crate::analyze::compat::{
    ImageFacts, TorchRow, cmp_versions, cuda_to_variant, series_of, variant_to_cuda,
};
use crate::analyze::dockerfile::model::Stage;
use crate::analyze::requirements::{Install, Located, Requirement, Tool, torch_index_variant};

// Host-aware rules (DU211-DU213) live in a child module so they reuse this family's resolution of torch
// installs (groups, selected variant, base image) without widening its visibility.
mod host;

/// One resolution: the packages one install command asks for, with the index options in force.
struct Group<'a> {
    instr: usize,
    install: &'a Install,
    reqs: Vec<&'a Requirement>,
    /// Pins from `-c` constraint files: they decide the version of a requested package.
    constraints: Vec<&'a Requirement>,
    index_url: Option<&'a Located>,
    extra_index: Vec<&'a Located>,
}

impl<'a> Group<'a> {
    fn get(&self, name: &str) -> Option<&'a Requirement> {
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
    fn torch(&self) -> Option<&'a Requirement> {
        self.get("torch").or_else(|| {
            if self.install.tool == Tool::Conda {
                self.get("pytorch")
            } else {
                None
            }
        })
    }
}

fn groups<'a>(ctx: &'a Ctx<'a>) -> Vec<Group<'a>> {
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
fn included<'a>(ctx: &'a Ctx<'a>, value: &str) -> Vec<&'a crate::analyze::requirements::ReqFile> {
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

fn req_finding(ctx: &Ctx, rule: &str, r: &Requirement, msg: impl Into<String>) -> Finding {
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

/// The torch version a requirement selects: exact pin, wildcard series, or (unpinned) the newest series.
fn torch_version<'a>(ctx: &'a Ctx, r: &Requirement) -> Option<(String, &'a TorchRow, bool)> {
    // Nightlies and pre-releases (`2.8.0.dev20250318`, `2.6.0rc1`) follow other pairings: no facts for them.
    if r.specs.iter().any(|(_, v)| {
        v.split('+')
            .next()
            .unwrap_or(v)
            .chars()
            .any(|c| c.is_ascii_alphabetic())
    }) {
        return None;
    }
    if let Some(v) = r.exact_public() {
        return ctx.compat.torch(v).map(|row| (v.to_string(), row, true));
    }
    if let Some(s) = r.series() {
        return ctx.compat.torch(&s).map(|row| (s.clone(), row, false));
    }
    if r.url.is_some() {
        return None;
    }
    // Unpinned or a range: the newest series the specifiers allow (what pip would pick today).
    let allowed = |series: &str| {
        let v = format!("{series}.0");
        r.specs.iter().all(|(op, want)| {
            let o = cmp_versions(&v, want);
            let same = series_of(want).as_deref() == Some(series);
            match op.as_str() {
                ">=" | "~=" => o != std::cmp::Ordering::Less || same,
                ">" => o == std::cmp::Ordering::Greater || same,
                "<" => o == std::cmp::Ordering::Less,
                "<=" => o != std::cmp::Ordering::Greater,
                _ => true,
            }
        })
    };
    ctx.compat
        .data
        .torch
        .iter()
        .filter(|row| allowed(&row.series))
        .max_by(|a, b| cmp_versions(&a.series, &b.series))
        .map(|row| (row.series.clone(), row, false))
}

/// How a torch requirement reads in messages: "2.5.1", "2.7.*", "(unpinned, currently 2.13)".
fn shown(t: &Requirement, version: &str, row: &TorchRow, exact: bool) -> String {
    if exact {
        version.to_string()
    } else if t.specs.is_empty() {
        format!("(unpinned, currently {})", row.series)
    } else if t.series().is_none() {
        format!(
            "{} (currently {})",
            t.text
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            row.series
        )
    } else {
        format!("{}.*", row.series)
    }
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let gs = groups(ctx);
    for g in &gs {
        let base = base_of(ctx, g.instr);
        let torch = g.torch();
        if let Some(t) = torch {
            torch_rules(ctx, g, t, base.as_ref(), out);
        }
        companions(ctx, g, &gs, base.as_ref(), out);
        python_range(ctx, g, base.as_ref(), out);
    }
    stubs(ctx, out);
    copy_paths(ctx, out);
    cross_stage_cuda(ctx, out);
    if let Some(h) = ctx.host {
        host::run(ctx, h, &gs, out);
    }
}

/// DU210: artifacts built in a stage on one CUDA version copied into a stage on another.
fn cross_stage_cuda(ctx: &Ctx, out: &mut Vec<Finding>) {
    for info in &ctx.m.instrs {
        let ins = info.ins;
        let Some(to) = info.stage else { continue };
        if !ins.is("COPY") {
            continue;
        }
        let Some(from) = ins.flag("from").and_then(|f| f.value.as_deref()) else {
            continue;
        };
        let lower = from.to_ascii_lowercase();
        let Some(src) = ctx.m.stages[..to].iter().position(|s| {
            s.name.as_deref() == Some(lower.as_str()) || s.index.to_string() == lower
        }) else {
            continue;
        };
        let (src_root, dst_root) = (ctx.m.root_stage(src), ctx.m.root_stage(to));
        if src_root.index == dst_root.index {
            continue;
        }
        let (Some(a), Some(b)) = (
            ctx.compat.image(&src_root.image.text),
            ctx.compat.image(&dst_root.image.text),
        ) else {
            continue;
        };
        let (Some(ca), Some(cb)) = (a.cuda.clone(), b.cuda.clone()) else {
            continue;
        };
        if ca == cb {
            continue;
        }
        let newer = cmp_versions(&ca, &cb) == std::cmp::Ordering::Greater;
        let mut f = ctx
            .at("DU210", ins.range.clone(), format!("copies from stage `{from}` (CUDA {ca}) into an image with CUDA {cb}"))
            .why(if newer {
                "Binaries and wheels built against a newer CUDA can call runtime APIs the older image lacks: they fail at load time with undefined cuda* symbols or 'CUDA driver version is insufficient'."
            } else {
                "The build stage targets an older CUDA than the image that runs it: kernels compiled for it may miss the newer image's GPUs' architectures and the extra toolkit buys nothing."
            })
            .fact(format!("stage `{from}` is built FROM {} (CUDA {ca})", src_root.image.text))
            .fact(format!("this stage is built FROM {} (CUDA {cb})", dst_root.image.text));
        if !newer {
            f.severity = Severity::Info;
        }
        // Move the receiving image to the builder's exact CUDA version when both are nvidia/cuda images.
        if a.kind == "nvidia-cuda" && b.kind == "nvidia-cuda" {
            let full = a.tag.split('-').next().unwrap_or("");
            if let Some(rest) = b.tag.split_once('-').map(|(_, r)| r) {
                let new_ref = format!(
                    "{}:{full}-{rest}",
                    crate::analyze::compat::split_reference(&dst_root.image.text).0
                );
                if let Some(edits) =
                    locate_reference(ctx, dst_root, &new_ref).filter(|e| !e.is_empty())
                {
                    f = f.with_fix(Fix {
                        id: "DU210.align-base".into(),
                        level: FixLevel::Suggestion,
                        description: format!("Run on {new_ref}, the builder's CUDA"),
                        file: ctx.file.to_path_buf(),
                        edits,
                    });
                }
            }
        }
        out.push(f);
    }
}

fn selected_variant(
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

fn torch_rules(
    ctx: &Ctx,
    g: &Group,
    t: &Requirement,
    base: Option<&(&Stage, ImageFacts)>,
    out: &mut Vec<Finding>,
) {
    let Some((version, row, exact)) = torch_version(ctx, t) else {
        return;
    };
    let shown = shown(t, &version, row, exact);
    let (variant, how, explicit) = selected_variant(g, t, row);
    let ships = format!(
        "torch {} ships {} (PyPI default {})",
        row.series,
        variants_text(row),
        row.default_cuda
    );
    // DU205: an explicit variant the pinned release does not have (an open range lets the resolver pick an
    // older release that has it).
    let pinned = exact || t.series().is_some();
    if pinned && explicit.is_some() && variant.starts_with("cu") && !row.cuda.contains(&variant) {
        let mut f = req_finding(ctx, "DU205", t, format!("torch {shown} has no {variant} build"))
            .why("pip cannot find that wheel (with --index-url the install fails; with --extra-index-url it silently takes PyPI's default CUDA build).")
            .fact(ships.clone())
            .fact(format!("requested: {how}"));
        if explicit == Some("local") && exact {
            let pick = row.cuda.last().cloned().unwrap_or_default();
            f = f.with_fix(req_fix(
                "DU205.variant",
                FixLevel::Suggestion,
                format!("Use the {pick} build"),
                t,
                format!("torch=={version}+{pick}"),
            ));
        }
        out.push(f);
    }
    // DU204: extra index for CUDA torch, torch not pinned exactly: PyPI's newer default build can win.
    if g.install.tool == Tool::Pip && !t.is_pinned() && g.index_url.is_none() {
        if let Some(loc) = g
            .extra_index
            .iter()
            .find(|i| torch_index_variant(&i.value).is_some_and(|v| v.starts_with("cu")))
        {
            let v = torch_index_variant(&loc.value).unwrap_or_default();
            let newest = ctx.compat.newest_torch();
            let mut f = req_finding(ctx, "DU204", t, format!("`--extra-index-url .../{v}` with torch {shown}: pip may install PyPI's build instead of {v}"))
                .why("--extra-index-url adds an index but keeps PyPI: pip takes the highest version from either, so a newer torch from PyPI with its default CUDA build wins over the cu index.")
                .fact(format!("index offers {v}"));
            if let Some(n) = newest {
                f = f.fact(format!(
                    "newest torch {} on PyPI defaults to {}",
                    n.series, n.default_cuda
                ));
            }
            let file_text = ctx
                .texts
                .get(&loc.file)
                .map(|s| s.as_str())
                .unwrap_or(ctx.text);
            let name = file_text.get(loc.name_range.clone()).unwrap_or("");
            if name == "--extra-index-url" {
                f = f.with_fix(Fix {
                    id: "DU204.index-url".into(),
                    level: FixLevel::Suggestion,
                    description: "Use --index-url so only the CUDA index is consulted (other packages must then exist there too)".into(),
                    file: loc.file.clone(),
                    edits: vec![edit(loc.name_range.start, loc.name_range.end, "--index-url")],
                });
            }
            out.push(f);
        }
    }
    // DU209: an open torch requirement on a base without CUDA facts follows PyPI's newest default build.
    let base_cuda_known = base.is_some_and(|(_, f)| f.cuda.is_some() || f.torch_preinstalled);
    if !base_cuda_known && explicit.is_none() && !exact && t.series().is_none() && t.url.is_none() {
        let mut f = req_finding(ctx, "DU209", t, format!("torch {shown} installs whatever PyPI serves today: torch {} with its {} build", row.series, row.default_cuda))
            .why("The newest default build needs the newest driver: when PyPI moves to a new CUDA, the same Dockerfile builds an image that fails on older hosts with 'The NVIDIA driver on your system is too old'.")
            .fact(ships.clone());
        if let Some(c) = variant_to_cuda(&row.default_cuda).and_then(|c| ctx.compat.min_driver(&c))
        {
            f = f.fact(format!(
                "{} needs driver >= {} (CUDA {})",
                row.default_cuda, c.min_driver, c.cuda
            ));
        }
        // Pin the newest series whose default build is still CUDA 12 (runs on R525+ through minor-version compatibility).
        let pick = ctx
            .compat
            .data
            .torch
            .iter()
            .filter(|r| r.default_cuda.starts_with("cu12"))
            .max_by(|a, b| cmp_versions(&a.series, &b.series));
        if let Some(p) = pick {
            f = f.fact(format!(
                "torch {} is the newest release whose default build is {}",
                p.series, p.default_cuda
            ));
            f = f.with_fix(req_fix(
                "DU209.pin",
                FixLevel::Suggestion,
                format!("Pin torch=={}.* (default {})", p.series, p.default_cuda),
                t,
                pin(g, &t.name, &format!("{}.*", p.series)),
            ));
        }
        out.push(f);
    }
    let Some((stage, facts)) = base else { return };
    let base_ref = stage.image.text.clone();
    // DU203: torch again over a pytorch image.
    if let (true, Some(bt)) = (facts.torch_preinstalled, facts.torch.as_deref()) {
        let same = exact
            && version == bt
            && t.local().is_none_or(|l| {
                Some(l.to_string()) == facts.cuda.as_deref().and_then(cuda_to_variant)
            });
        // A range the base's torch already satisfies is a no-op for pip unless it is told to upgrade.
        let kept = !exact
            && !t.specs.is_empty()
            && satisfies(bt, &t.specs)
            && !g.install.upgrade
            && !g.install.force_reinstall;
        if !same && !kept {
            let msg = if exact {
                format!("torch=={version} installed over {base_ref}, which already has torch {bt}")
            } else {
                format!("torch {shown} installed over {base_ref}, which already has torch {bt}")
            };
            let mut f = req_finding(ctx, "DU203", t, msg)
                .why("pip replaces the image's torch: ~0.8 GB plus gigabytes of nvidia-* wheels downloaded again, and the result no longer matches the image's CUDA build.")
                .fact(format!("base image ships torch {bt} built for CUDA {}", facts.cuda.as_deref().unwrap_or("?")));
            if !exact {
                f = f.fact("an unpinned torch is replaced as soon as -U or another requirement asks for a newer one");
            }
            f = f.with_fix(req_fix(
                "DU203.pin-base",
                FixLevel::Suggestion,
                format!("Pin torch to the base image's {bt} (a no-op install)"),
                t,
                pin(g, &t.name, bt),
            ));
            out.push(f);
        }
    }
    // DU201: the torch build's CUDA vs the base image's CUDA.
    let Some(base_cuda) = facts.cuda.clone() else {
        return;
    };
    // Over a pytorch image, an unpinned or satisfied requirement keeps the image's own build.
    if facts.torch_preinstalled
        && !exact
        && !g.install.upgrade
        && facts
            .torch
            .as_deref()
            .is_some_and(|bt| t.specs.is_empty() || satisfies(bt, &t.specs))
    {
        return;
    }
    if !variant.starts_with("cu") || explicit.is_some() && !row.cuda.contains(&variant) {
        return;
    }
    let Some(wheel_cuda) = variant_to_cuda(&variant) else {
        return;
    };
    if wheel_cuda == base_cuda {
        return;
    }
    let newer = cmp_versions(&wheel_cuda, &base_cuda) == std::cmp::Ordering::Greater;
    let mut f = req_finding(ctx, "DU201", t, format!("torch {shown} installs the {variant} build; the base image has CUDA {base_cuda}"))
        .why(if newer {
            "The wheel brings its own newer CUDA runtime: the host driver must now satisfy the wheel's CUDA, not the base's, and extensions compiled with the image's nvcc mismatch torch."
        } else {
            "Two CUDA versions in one image: extensions compiled with the image's nvcc do not match torch's CUDA, and the larger base buys nothing."
        })
        .fact(ships.clone())
        .fact(format!("selected build: {variant} ({how})"))
        .fact(format!("base {base_ref} has CUDA {base_cuda}"));
    // An older wheel on a newer base works; an unpinned torch may resolve differently tomorrow.
    if !newer || (!exact && t.series().is_none()) {
        f.severity = Severity::Warning;
    }
    if let (Some(a), Some(b)) = (
        ctx.compat.min_driver(&wheel_cuda),
        ctx.compat.min_driver(&base_cuda),
    ) {
        f = f.fact(format!(
            "CUDA {wheel_cuda} needs driver >= {}; CUDA {base_cuda} needs >= {}",
            a.min_driver, b.min_driver
        ));
    }
    // Fix A: move the base image to the wheel's CUDA.
    if let Some(fix) = move_base_fix(
        ctx,
        stage,
        facts,
        exact.then_some(version.as_str()),
        &wheel_cuda,
        row,
    ) {
        f = f.with_fix(fix);
    }
    // Fix B: move the torch pin to a version whose default build matches the base's CUDA.
    if let Some(bv) = cuda_to_variant(&base_cuda) {
        let target = if facts.torch_preinstalled {
            facts.torch.clone()
        } else {
            ctx.compat
                .data
                .torch
                .iter()
                .filter(|r| r.default_cuda == bv)
                .max_by(|a, b| cmp_versions(&a.series, &b.series))
                .map(|r| format!("{}.*", r.series))
        };
        if let Some(p) = target {
            if t.local().is_none() && explicit.is_none() {
                f = f.with_fix(req_fix(
                    "DU201.move-torch",
                    FixLevel::Suggestion,
                    format!("Pin torch=={p}, whose default build matches CUDA {base_cuda}"),
                    t,
                    pin(g, &t.name, &p),
                ));
            }
        }
    }
    out.push(f);
}

/// Where the base reference is written and a replacement for it that uses CUDA `cuda`.
fn move_base_fix(
    ctx: &Ctx,
    stage: &Stage,
    facts: &ImageFacts,
    torch: Option<&str>,
    cuda: &str,
    row: &TorchRow,
) -> Option<Fix> {
    let new_tag = match facts.kind.as_str() {
        "pytorch" => {
            let tv = torch?;
            format!(
                "{tv}-cuda{cuda}-cudnn{}-{}",
                row.cudnn,
                facts.flavor.as_deref().unwrap_or("runtime")
            )
        }
        "nvidia-cuda" => {
            let full = ctx.compat.cuda_tag(cuda)?.version.clone();
            let (_, tag) = crate::analyze::compat::split_reference(&stage.image.text);
            let tag = tag?;
            let rest = tag.split_once('-').map(|(_, r)| r)?;
            format!("{full}-{rest}")
        }
        _ => return None,
    };
    let (repo, _) = crate::analyze::compat::split_reference(&stage.image.text);
    let new_ref = format!("{repo}:{new_tag}");
    let edits = locate_reference(ctx, stage, &new_ref)?;
    if edits.is_empty() {
        return None;
    }
    Some(Fix {
        id: "DU201.move-base".into(),
        level: FixLevel::Suggestion,
        description: format!("Move the base image to {new_ref}"),
        file: ctx.file.to_path_buf(),
        edits,
    })
}

/// Edits that make the FROM reference of `stage` read `new_ref`: on the FROM line when it is literal, else in
/// the default values of the global ARGs it is built from (`${PYTORCH}-cuda${CUDA}-...`, nested defaults too).
pub(super) fn locate_reference(ctx: &Ctx, stage: &Stage, new_ref: &str) -> Option<Vec<TextEdit>> {
    let raw = &stage.image_raw;
    let range = (ctx.text.get(stage.image_range.clone()) == Some(raw.as_str()))
        .then(|| stage.image_range.clone());
    rewrite_template(ctx, raw, range, new_ref, 0)
}

enum Part {
    Lit(String),
    Var(String),
}

fn template_parts(t: &str) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = t;
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = if let Some(b) = after.strip_prefix('{') {
            let close = b.find('}')?;
            let inner = &b[..close];
            let n = inner.split([':', '-', '+']).next().unwrap_or(inner);
            (n.to_string(), close + 2)
        } else {
            let n: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let len = n.len();
            (n, len)
        };
        if name.is_empty() {
            return None;
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(Part::Var(name));
        rest = &after[used..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Some(parts)
}

fn rewrite_template(
    ctx: &Ctx,
    template: &str,
    range: Option<Range<usize>>,
    target: &str,
    depth: usize,
) -> Option<Vec<TextEdit>> {
    if depth > 4 {
        return None;
    }
    if !template.contains('$') {
        if template == target {
            return Some(vec![]);
        }
        return range.map(|r| vec![edit(r.start, r.end, target)]);
    }
    let parts = template_parts(template)?;
    let mut pattern = String::from("^");
    for (k, p) in parts.iter().enumerate() {
        match p {
            Part::Lit(l) => pattern.push_str(&regex::escape(l)),
            Part::Var(_) => pattern.push_str(&format!("(?P<v{k}>.+?)")),
        }
    }
    pattern.push('$');
    let re = regex::Regex::new(&pattern).ok()?;
    let caps = re.captures(target)?;
    let mut edits = Vec::new();
    for (k, p) in parts.iter().enumerate() {
        let Part::Var(name) = p else { continue };
        let want = caps.name(&format!("v{k}"))?.as_str();
        let current = ctx.m.global_args.get(name).cloned().flatten();
        if current.as_deref() == Some(want) {
            continue;
        }
        let (raw, r) = global_arg_default(ctx, name)?;
        edits.extend(rewrite_template(ctx, &raw, Some(r), want, depth + 1)?);
    }
    Some(edits)
}

/// The default of a global ARG as written and the byte range of that text.
fn global_arg_default(ctx: &Ctx, name: &str) -> Option<(String, Range<usize>)> {
    let mut found = None;
    for info in &ctx.m.instrs {
        if info.stage.is_some() {
            break;
        }
        if !info.ins.is("ARG") {
            continue;
        }
        for w in &info.ins.words {
            if let Some(v) = w.text.strip_prefix(&format!("{name}=")) {
                let start = w.range.start + name.len() + 1;
                let slice = ctx.text.get(start..w.range.end)?;
                if slice == v {
                    found = Some((v.to_string(), start..w.range.end));
                } else if slice.len() == v.len() + 2
                    && (slice.starts_with('"') || slice.starts_with('\''))
                {
                    found = Some((v.to_string(), start + 1..w.range.end - 1));
                }
            }
        }
    }
    found
}

fn companions(
    ctx: &Ctx,
    g: &Group,
    all: &[Group],
    base: Option<&(&Stage, ImageFacts)>,
    out: &mut Vec<Finding>,
) {
    // Which torch will be there: this install's, an earlier install's in the same stage, or the base image's.
    let stage = ctx.m.instrs.get(g.instr).and_then(|i| i.stage);
    let mut torch: Option<(String, String)> = None; // (version or series, where)
    if let Some(t) = g.torch() {
        if let Some((v, _, _)) = torch_version(ctx, t) {
            torch = Some((v, format!("{}:{}", t.file.display(), t.line)));
        }
    }
    if torch.is_none() {
        for o in all.iter().filter(|o| {
            o.instr < g.instr && ctx.m.instrs.get(o.instr).and_then(|i| i.stage) == stage
        }) {
            if let Some(t) = o.torch() {
                if let Some((v, _, _)) = torch_version(ctx, t) {
                    torch = Some((v, format!("{}:{}", t.file.display(), t.line)));
                }
            }
        }
    }
    if torch.is_none() {
        if let Some((st, f)) = base {
            if let (true, Some(v)) = (f.torch_preinstalled, &f.torch) {
                torch = Some((v.clone(), format!("base image {}", st.image.text)));
            }
        }
    }
    let Some((tv, where_)) = torch else { return };
    let Some(row) = ctx.compat.torch(&tv) else {
        return;
    };
    for (name, want) in [
        ("torchvision", &row.torchvision),
        ("torchaudio", &row.torchaudio),
    ] {
        let Some(r) = g.get(name) else { continue };
        if want.is_empty() {
            continue;
        }
        let Some(have) = r.series() else { continue };
        if &have == want {
            continue;
        }
        let f = req_finding(ctx, "DU202", r, format!("{name} {} does not match torch {tv}: torch {} pairs with {name} {want}", r.exact().map(str::to_string).unwrap_or(format!("{have}.*")), row.series))
            .why("torchvision and torchaudio wheels pin the exact torch they were built with: pip either downgrades/upgrades torch behind your back or the import fails with a CUDA/operator mismatch.")
            .fact(format!("torch {tv} from {where_}"))
            .fact(format!("torch {} <-> torchvision {} <-> torchaudio {}", row.series, row.torchvision, if row.torchaudio.is_empty() { "none" } else { &row.torchaudio }))
            .with_fix(req_fix("DU202.align", FixLevel::Suggestion, format!("Pin {name}=={want}.* to match torch {tv}"), r, pin(g, name, &format!("{want}.*"))));
        out.push(f);
    }
}

fn python_range(ctx: &Ctx, g: &Group, base: Option<&(&Stage, ImageFacts)>, out: &mut Vec<Finding>) {
    let Some(t) = g.torch() else { return };
    // Only a pinned torch: for an open range pip itself picks a release that supports the interpreter.
    let Some((tv, row, _)) =
        torch_version(ctx, t).filter(|(_, _, exact)| *exact || t.series().is_some())
    else {
        return;
    };
    if row.python.len() != 2 {
        return;
    }
    // The interpreter: `python3.X -m pip`, conda's python=, or the base image's python.
    let (py, why_py) = if let Some(p) = g
        .install
        .python
        .as_deref()
        .and_then(|p| p.strip_prefix("python"))
        .filter(|v| v.contains('.'))
    {
        (p.to_string(), format!("pip runs under python{p}"))
    } else if let Some(p) = g.install.conda_python.as_deref() {
        (
            p.trim_end_matches(".*").to_string(),
            format!("conda installs python={p}"),
        )
    } else if let Some((st, f)) = base {
        match &f.python {
            Some(p) => (
                p.clone(),
                format!("base image {} has python {p}", st.image.text),
            ),
            None => return,
        }
    } else {
        return;
    };
    let Some(py_series) = series_of(&py) else {
        return;
    };
    let (lo, hi) = (&row.python[0], &row.python[1]);
    if cmp_versions(&py_series, lo) == std::cmp::Ordering::Less
        || cmp_versions(&py_series, hi) == std::cmp::Ordering::Greater
    {
        out.push(
            req_finding(ctx, "DU206", t, format!("torch {tv} supports python {lo}-{hi}; this install uses python {py_series}"))
                .why("There is no torch wheel for that interpreter: pip fails with 'No matching distribution found for torch' or picks an old release.")
                .fact(format!("torch {} supports python {lo}-{hi}", row.series))
                .fact(why_py),
        );
    }
}

const STUB_DIR: &str = "/usr/local/cuda/lib64/stubs";

/// DU207: CUDA builds of llama.cpp / ggml that link against libcuda need the driver stubs in a devel image.
fn stubs(ctx: &Ctx, out: &mut Vec<Finding>) {
    for (idx, info) in ctx.m.instrs.iter().enumerate() {
        let ins = info.ins.effective();
        if !ins.is("RUN") {
            continue;
        }
        // Only builds that link executables need libcuda.so.1 at link time (shared libraries link against the
        // toolkit's libcuda.so stub that CMake finds by itself), so require cmake/make/ninja in this RUN.
        let links = info.script.commands.iter().any(|c| {
            matches!(
                c.unwrapped().base_name(),
                "cmake" | "make" | "ninja" | "gmake"
            )
        });
        if !links {
            continue;
        }
        // Only now the scope as text: doing it for every RUN is quadratic in ARG/ENV-heavy files.
        let text = run_text(ins);
        let vars_text: String = info
            .vars
            .iter()
            .map(|(k, v)| format!("{k}={} ", v.as_deref().unwrap_or("")))
            .collect();
        let hay = format!("{text} {vars_text}");
        let cuda_build = [
            "GGML_CUDA=ON",
            "GGML_CUDA=on",
            "GGML_CUDA=1",
            "LLAMA_CUBLAS=on",
            "LLAMA_CUBLAS=ON",
            "LLAMA_CUBLAS=1",
            "LLAMA_CUDA=ON",
            "LLAMA_CUDA=on",
            "LLAMA_CUDA=1",
            "GGML_CUDA=On",
        ]
        .iter()
        .any(|p| hay.contains(p));
        if !cuda_build {
            continue;
        }
        let Some((root, facts)) = base_of(ctx, idx) else {
            continue;
        };
        if facts.kind != "nvidia-cuda" || facts.flavor.as_deref() != Some("devel") {
            continue;
        }
        // Stubs or an allow-undefined link anywhere in this stage's chain before this RUN count as handled.
        let stage = info.stage.unwrap_or(0);
        let mut chain = vec![stage];
        let mut s = stage;
        while let Some(p) = ctx.m.stages.get(s).and_then(|x| x.parent) {
            if p >= s {
                break;
            }
            chain.push(p);
            s = p;
        }
        let handled = ctx.m.instrs[..=idx]
            .iter()
            .filter(|i| i.stage.is_some_and(|x| chain.contains(&x)))
            .any(|i| {
                let t = i.ins.logical.text.as_str();
                t.contains("lib64/stubs")
                    || t.contains("allow-shlib-undefined")
                    || t.contains("targets/x86_64-linux/lib/stubs")
                    || t.contains("GGML_BACKEND_DL")
                    || t.contains("unresolved-symbols")
            });
        if handled {
            continue;
        }
        let mut f = ctx
            .at("DU207", info.ins.range.clone(), "CUDA build linking libcuda without the driver stubs on the link path")
            .why("Build machines have no NVIDIA driver, so libcuda.so.1 is missing at link time: the link fails with `libcuda.so.1, needed by ... not found` / undefined cuMem* references.")
            .fact(format!("base {} is a CUDA {} devel image; its stubs are in {STUB_DIR}", root.image.text, facts.cuda.as_deref().unwrap_or("?")));
        if !info.ins.is("ONBUILD") && super::appendable(ins) {
            let at = ins.logical.to_file(ins.args_start);
            f = f.with_fix(ctx.fix(
                "DU207.stubs",
                FixLevel::Safe,
                "Link against the driver stubs for this RUN (symlink libcuda.so.1 and put the stubs on LIBRARY_PATH / LD_LIBRARY_PATH)",
                vec![insert(
                    at,
                    format!("ln -sf {STUB_DIR}/libcuda.so {STUB_DIR}/libcuda.so.1 \\\n    && export LIBRARY_PATH={STUB_DIR}:${{LIBRARY_PATH:-}} LD_LIBRARY_PATH={STUB_DIR}:${{LD_LIBRARY_PATH:-}} \\\n    && "),
                )],
            ));
        }
        out.push(f);
    }
}

fn run_text(ins: &crate::analyze::dockerfile::Instruction) -> String {
    let mut s = ins.args_text().to_string();
    for h in &ins.heredocs {
        s.push('\n');
        s.push_str(&h.body);
    }
    s
}

/// DU208: `COPY --from=<stage> /abs/path` where that stage never mentions the path's directory.
fn copy_paths(ctx: &Ctx, out: &mut Vec<Finding>) {
    const SYSTEM: &[&str] = &[
        "/usr", "/opt", "/lib", "/lib64", "/etc", "/bin", "/sbin", "/root", "/home", "/var",
        "/tmp", "/run", "/srv", "/",
    ];
    for info in &ctx.m.instrs {
        let ins = info.ins;
        if !ins.is("COPY") {
            continue;
        }
        let Some(from) = ins.flag("from").and_then(|f| f.value.clone()) else {
            continue;
        };
        let from_l = from.to_ascii_lowercase();
        let Some(src_stage) = ctx.m.stages.iter().position(|s| {
            s.name.as_deref() == Some(from_l.as_str()) || s.index.to_string() == from_l
        }) else {
            continue;
        };
        if info.stage.is_some_and(|s| src_stage >= s) {
            continue;
        }
        // Stage chain: the source stage and the stages it is built from.
        let mut chain = vec![src_stage];
        let mut s = src_stage;
        while let Some(p) = ctx.m.stages[s].parent {
            if p >= s {
                break;
            }
            chain.push(p);
            s = p;
        }
        let root_external = ctx.m.stages[*chain.last().unwrap_or(&src_stage)]
            .parent
            .is_none();
        let mut roots: Vec<String> = Vec::new();
        for &st in &chain {
            let mut workdir = String::from("/");
            for &i in &ctx.m.stages[st].instrs {
                let inf = &ctx.m.instrs[i];
                let e = inf.ins.effective();
                let abs = |p: &str, wd: &str| {
                    if p.starts_with('/') {
                        p.to_string()
                    } else {
                        format!(
                            "{}/{}",
                            wd.trim_end_matches('/'),
                            p.trim_start_matches("./")
                        )
                    }
                };
                match e.keyword.as_str() {
                    "WORKDIR" => {
                        if let Some(w) = e.words.first() {
                            workdir = abs(&ctx.m.expand_at(i, &w.text).text, &workdir);
                            roots.push(workdir.clone());
                        }
                    }
                    "COPY" | "ADD" => {
                        if let Some(w) = e.words.last() {
                            roots.push(abs(&ctx.m.expand_at(i, &w.text).text, &workdir));
                        }
                    }
                    "RUN" => {
                        for c in &inf.script.commands {
                            for w in c.args() {
                                let t = ctx.m.expand_at(i, &w.text).text;
                                let t = t.split('=').next_back().unwrap_or(&t).to_string();
                                if t.starts_with('-') || t.contains("://") {
                                    continue;
                                }
                                roots.push(abs(&t, &workdir));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let words = &ins.words;
        if words.len() < 2 {
            continue;
        }
        for w in &words[..words.len() - 1] {
            let src = ctx
                .m
                .expand_at(
                    ctx.m
                        .instrs
                        .iter()
                        .position(|x| std::ptr::eq(x.ins, ins))
                        .unwrap_or(0),
                    &w.text,
                )
                .text;
            if !src.starts_with('/') || src.contains('$') {
                continue;
            }
            let clean: String = src
                .split(['*', '?', '['])
                .next()
                .unwrap_or(&src)
                .trim_end_matches('/')
                .to_string();
            let top = format!(
                "/{}",
                clean
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("")
            );
            if root_external && SYSTEM.contains(&top.as_str()) {
                continue;
            }
            let covered = roots.iter().any(|r| {
                let r = r.trim_end_matches('/');
                !r.is_empty()
                    && r != "/"
                    && (clean == r
                        || clean.starts_with(&format!("{r}/"))
                        || r.starts_with(&format!("{clean}/")))
            });
            if !covered {
                out.push(
                    ctx.at("DU208", w.range.clone(), format!("COPY --from={from} {src}: stage `{from}` never creates anything under {}", parent_dir(&clean)))
                        .why("A hard-coded build path that the builder does not produce fails the build at this COPY ('not found'), usually after a long compile.")
                        .fact(format!("paths stage `{from}` mentions: {}", summarize(&roots))),
                );
            }
        }
    }
}

fn parent_dir(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => p,
        Some(i) => &p[..i],
    }
}

fn summarize(roots: &[String]) -> String {
    let mut v: Vec<&str> = roots
        .iter()
        .map(|s| s.as_str())
        .filter(|s| s.len() > 1)
        .collect();
    v.sort();
    v.dedup();
    let n = v.len();
    let mut s = v.into_iter().take(6).collect::<Vec<_>>().join(", ");
    if n > 6 {
        s.push_str(", ...");
    }
    s
}

/// Does `version` satisfy every `(op, spec)` pair? PEP 440 enough for release numbers and `.*` wildcards.
pub fn satisfies(version: &str, specs: &[(String, String)]) -> bool {
    use std::cmp::Ordering::*;
    let v = version.split('+').next().unwrap_or(version);
    specs.iter().all(|(op, want)| {
        let w = want.split('+').next().unwrap_or(want);
        if let Some(prefix) = w.strip_suffix(".*") {
            let hit = v == prefix || v.starts_with(&format!("{prefix}."));
            return if op == "!=" { !hit } else { hit };
        }
        let o = cmp_versions(v, w);
        match op.as_str() {
            "==" | "===" => o == Equal,
            "!=" => o != Equal,
            ">=" => o != Less,
            "<=" => o != Greater,
            ">" => o == Greater,
            "<" => o == Less,
            "~=" => {
                // ~=2.4.1 means >=2.4.1, ==2.4.*
                let parts: Vec<&str> = w.split('.').collect();
                let prefix = parts[..parts.len().saturating_sub(1).max(1)].join(".");
                o != Less && (v == prefix || v.starts_with(&format!("{prefix}.")))
            }
            _ => true,
        }
    })
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

#[cfg(test)]
mod satisfies_tests {
    use super::satisfies;

    fn s(v: &str, op: &str, w: &str) -> bool {
        satisfies(v, &[(op.to_string(), w.to_string())])
    }

    #[test]
    fn specifiers() {
        assert!(s("2.5.1", ">=", "2.4"));
        assert!(!s("2.5.1", ">=", "2.6"));
        assert!(s("2.5.1", "==", "2.5.*"));
        assert!(!s("2.5.1", "==", "2.4.*"));
        assert!(s("2.5.1", "~=", "2.5.0"));
        assert!(!s("2.6.0", "~=", "2.5.0"));
        assert!(s("2.5.1+cu124", "==", "2.5.1"));
        assert!(s("2.10.0", ">", "2.9"));
    }
}
