//! Host-aware GPU rules: the image and its torch wheel against THIS host's driver and GPUs (`Ctx::host`).
//!
//! - DU211: the base image's CUDA is newer than the host driver supports (error; warning when it runs only
//!   through minor-version compatibility).
//! - DU212: the torch wheel's CUDA variant needs a newer driver than the host has (same severities).
//! - DU213: a host GPU's compute capability is missing from the torch wheel variant's arch list (error), one
//!   finding per distinct GPU model.
//!
//! Every finding names the host facts it used. Driver facts come from the data file's full-toolkit and
//! minor-version-compatibility tables; the CUDA version NVML reports is the fallback when the data has no row.

use super::*;
use crate::analyze::HostGpu;
use crate::analyze::compat::DriverFit;

/// Metadata of the host-aware rules.
pub const RULES: &[RuleInfo] = &[
    RuleInfo::new(
        RuleId::DU211,
        Severity::Error,
        "Base image CUDA newer than the host driver runs (warning: only through minor-version compatibility)",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU212,
        Severity::Error,
        "torch wheel's CUDA build needs a newer driver than the host has (warning: minor-version compatibility)",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU213,
        Severity::Error,
        "A host GPU's compute capability is missing from the torch wheel's arch list",
        &[FixLevel::Suggestion],
    ),
];

pub(super) fn run(ctx: &Ctx, host: &HostGpu, gs: &[Group], out: &mut Vec<Finding>) {
    let mut found = Vec::new();
    image_cuda(ctx, host, &mut found);
    for w in wheels(ctx, gs) {
        wheel_driver(ctx, host, &w, &mut found);
        wheel_arch(ctx, host, &w, &mut found);
    }
    // The same requirements file included by two installs would report the same line twice.
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert((f.rule, f.file.clone(), f.span.start, f.message.clone())));
    out.extend(found);
}

/// How the host driver runs CUDA `cuda` ("12.8"): the data file's tables first; the CUDA version NVML reports
/// when the data has no facts for that version or the driver version is unknown.
fn host_fit(ctx: &Ctx, host: &HostGpu, cuda: &str) -> DriverFit {
    if !host.driver_version.is_empty() {
        let fit = ctx.compat.driver_fit(&host.driver_version, cuda);
        if fit != DriverFit::Unknown {
            return fit;
        }
    }
    let parse = |s: &str| -> Option<(u32, u32)> {
        let mut it = s.split('.');
        Some((
            it.next()?.parse().ok()?,
            it.next().unwrap_or("0").parse().ok()?,
        ))
    };
    match (parse(cuda), host.cuda_driver) {
        (Some(want), Some(have)) if want <= have => DriverFit::Full,
        (Some(want), Some(have)) if want.0 == have.0 => DriverFit::MinorCompat,
        (Some(_), Some(_)) => DriverFit::TooOld,
        _ => DriverFit::Unknown,
    }
}

/// "CUDA 12.8 needs driver >= 570.26 (full toolkit); CUDA 12.x runs from 525.60.13 through minor-version
/// compatibility".
fn cuda_needs(ctx: &Ctx, cuda: &str) -> String {
    let major: Option<u32> = cuda.split('.').next().and_then(|m| m.parse().ok());
    let minor = major.and_then(|m| {
        ctx.compat
            .data
            .cuda_minor_compat
            .iter()
            .rev()
            .find(|r| r.major == m)
    });
    let full = ctx.compat.min_driver(cuda);
    match (full, minor) {
        (Some(f), Some(m)) => format!(
            "CUDA {cuda} needs driver >= {} (full toolkit); CUDA {}.x runs from {} through minor-version compatibility",
            f.min_driver, m.major, m.min_driver
        ),
        (Some(f), None) => format!(
            "CUDA {cuda} needs driver >= {} (full toolkit)",
            f.min_driver
        ),
        (None, Some(m)) => format!(
            "CUDA {}.x runs from driver {} through minor-version compatibility",
            m.major, m.min_driver
        ),
        (None, None) => format!("no driver facts for CUDA {cuda}"),
    }
}

fn driver_name(host: &HostGpu) -> String {
    if host.driver_version.is_empty() {
        "the host driver".to_string()
    } else {
        format!("the host driver {}", host.driver_version)
    }
}

/// "a driver >= 570.26 runs CUDA 12.8 fully": the advice when no build or base fits the current driver.
fn driver_to_reach(ctx: &Ctx, cuda: &str) -> Option<String> {
    ctx.compat
        .min_driver(cuda)
        .map(|r| format!("a driver >= {} runs CUDA {cuda} fully", r.min_driver))
}

/// DU211: the CUDA of the image that runs (the final stage's base) against the host driver.
fn image_cuda(ctx: &Ctx, host: &HostGpu, out: &mut Vec<Finding>) {
    let Some(last) = ctx.m.final_stage() else {
        return;
    };
    let root = ctx.m.root_stage(last.index);
    let Some(facts) = ctx.compat.image(&root.image.text) else {
        return;
    };
    let Some(cuda) = facts.cuda.clone() else {
        return;
    };
    let fit = host_fit(ctx, host, &cuda);
    if !matches!(fit, DriverFit::TooOld | DriverFit::MinorCompat) {
        return;
    }
    let image = &root.image.text;
    let drv = driver_name(host);
    let (msg, why) = if fit == DriverFit::TooOld {
        (
            format!("base image {image} has CUDA {cuda}, which {drv} cannot run"),
            "The driver is the one part of CUDA an image does not bring: on this host CUDA calls in the container fail at start-up with 'CUDA driver version is insufficient for CUDA runtime version'.",
        )
    } else {
        (
            format!(
                "base image {image} has CUDA {cuda}; {drv} runs it only through minor-version compatibility"
            ),
            "Minor-version compatibility runs a newer CUDA 12/13 on an older driver of the same major version with a limited feature set: PTX JIT of newer code fails and some APIs return 'requires a newer driver'. nvidia/cuda images also declare NVIDIA_REQUIRE_CUDA, which the NVIDIA container toolkit checks at start-up.",
        )
    };
    let mut f = ctx
        .at(RuleId::DU211, root.image_range.clone(), msg)
        .why(why)
        .fact(host.driver_fact())
        .fact(format!("base {image} has CUDA {cuda}"))
        .fact(cuda_needs(ctx, &cuda));
    if fit == DriverFit::MinorCompat {
        f.severity = Severity::Warning;
    }
    if let Some(fix) = older_base_fix(ctx, host, root, &facts, &cuda) {
        f = f.with_fix(fix);
    } else if let Some(d) = driver_to_reach(ctx, &cuda) {
        f = f.fact(d);
    }
    out.push(f);
}

/// Move the base to the newest older CUDA the host driver runs fully (same image family and flavour).
fn older_base_fix(
    ctx: &Ctx,
    host: &HostGpu,
    stage: &Stage,
    facts: &ImageFacts,
    cuda: &str,
) -> Option<Fix> {
    let fits = |c: &str| {
        cmp_versions(c, cuda) == std::cmp::Ordering::Less
            && host_fit(ctx, host, c) == DriverFit::Full
    };
    let (repo, tag) = crate::analyze::compat::split_reference(&stage.image.text);
    let new_tag = match facts.kind.as_str() {
        "nvidia-cuda" => {
            let row = ctx
                .compat
                .data
                .cuda_tag
                .iter()
                .filter(|r| fits(&r.cuda))
                .max_by(|a, b| cmp_versions(&a.cuda, &b.cuda))?;
            let rest = tag?.split_once('-').map(|(_, r)| r.to_string())?;
            format!("{}-{rest}", row.version)
        }
        "pytorch" => {
            // Same torch release, another of its CUDA builds: pytorch/pytorch tags one image per variant.
            let tv = facts.torch.as_deref()?;
            let row = ctx.compat.torch(tv)?;
            let c = row
                .cuda
                .iter()
                .filter_map(|v| variant_to_cuda(v))
                .filter(|c| fits(c))
                .max_by(|a, b| cmp_versions(a, b))?;
            let gpus_ok = host.gpus.iter().all(|g| {
                cc_text(g).is_none_or(|cc| {
                    cuda_to_variant(&c)
                        .and_then(|v| ctx.compat.torch_supports_cc(&row.series, &v, &cc))
                        != Some(false)
                })
            });
            if !gpus_ok {
                return None;
            }
            format!(
                "{tv}-cuda{c}-cudnn{}-{}",
                row.cudnn,
                facts.flavor.as_deref().unwrap_or("runtime")
            )
        }
        _ => return None,
    };
    let new_ref = format!("{repo}:{new_tag}");
    let edits = locate_reference(ctx, stage, &new_ref).filter(|e| !e.is_empty())?;
    Some(Fix {
        id: "DU211.older-base".into(),
        level: FixLevel::Suggestion,
        description: format!("Move the base image to {new_ref}, which the host driver runs fully"),
        file: ctx.file.to_path_buf(),
        edits,
    })
}

/// A torch build that ends up in the image: from an install command, or preinstalled in the final base.
struct Wheel<'a> {
    /// None for the base image's own torch.
    install: Option<(&'a Group<'a>, &'a Requirement)>,
    row: &'a TorchRow,
    /// Exact version or series as resolved.
    version: String,
    exact: bool,
    shown: String,
    variant: String,
    /// How the variant was chosen, e.g. "--index-url cu124", "PyPI default cu124".
    how: String,
    explicit: Option<&'static str>,
    /// The base stage, for a preinstalled torch.
    base: Option<&'a Stage>,
    /// The install pins the version the pytorch base already has: pip keeps the base's build, so `variant`
    /// is the base's and only fixes that change the version take effect (pip does not switch builds).
    noop_base: bool,
}

fn wheels<'a>(ctx: &'a Ctx<'a>, gs: &'a [Group<'a>]) -> Vec<Wheel<'a>> {
    let mut out = Vec::new();
    for g in gs {
        let Some(t) = g.torch() else { continue };
        let Some((version, row, exact)) = torch_version(ctx, t) else {
            continue;
        };
        // Over a pytorch image an open or satisfied requirement keeps the image's build (see DU201).
        if let Some((_, facts)) = base_of(ctx, g.instr).filter(|_| g.env.sees_base()) {
            if facts.torch_preinstalled
                && !exact
                && !g.install.upgrade
                && facts
                    .torch
                    .as_deref()
                    .is_some_and(|bt| t.specs.is_empty() || satisfies(bt, &t.specs))
            {
                continue;
            }
        }
        let Some((mut variant, mut how, explicit)) = selected_variant(g, t, row) else {
            continue;
        };
        // A variant the release does not have is DU205's finding: pip installs nothing, or another build.
        if explicit.is_some() && !row.cuda.contains(&variant) {
            continue;
        }
        let mut noop_base = false;
        if let Some((st, facts)) = base_of(ctx, g.instr).filter(|_| g.env.sees_base()) {
            if let (true, Some(bt), Some(bc)) = (
                facts.torch_preinstalled,
                facts.torch.as_deref(),
                facts.cuda.as_deref().and_then(cuda_to_variant),
            ) {
                if exact && version == bt && t.local().is_none() {
                    how = format!(
                        "torch {bt} is already in {}; pip keeps that build",
                        st.image.text
                    );
                    variant = bc;
                    noop_base = true;
                }
            }
        }
        out.push(Wheel {
            install: Some((g, t)),
            shown: shown(t, &version, row, exact),
            row,
            version,
            exact,
            variant,
            how,
            explicit,
            base: None,
            noop_base,
        });
    }
    if out.is_empty() {
        // No install replaces it: the final image's torch is the one its base ships.
        if let Some(last) = ctx.m.final_stage() {
            let root = ctx.m.root_stage(last.index);
            if let Some(f) = ctx.compat.image(&root.image.text) {
                if let (true, Some(tv), Some(c)) = (f.torch_preinstalled, f.torch, f.cuda) {
                    if let (Some(row), Some(v)) = (ctx.compat.torch(&tv), cuda_to_variant(&c)) {
                        out.push(Wheel {
                            install: None,
                            row,
                            shown: tv.clone(),
                            version: tv,
                            exact: true,
                            variant: v,
                            how: format!("preinstalled in {}", root.image.text),
                            explicit: Some("base"),
                            base: Some(root),
                            noop_base: false,
                        });
                    }
                }
            }
        }
    }
    out
}

fn wheel_finding(ctx: &Ctx, w: &Wheel, rule: RuleId, msg: String) -> Finding {
    match (w.install, w.base) {
        (Some((_, t)), _) => req_finding(ctx, rule, t, msg),
        (None, Some(st)) => ctx.at(rule, st.image_range.clone(), msg),
        (None, None) => ctx.at(rule, 0..0, msg),
    }
}

/// DU212: the wheel's CUDA against the host driver. The base image's own torch is DU211's finding.
fn wheel_driver(ctx: &Ctx, host: &HostGpu, w: &Wheel, out: &mut Vec<Finding>) {
    // The base image's own torch (preinstalled, or kept by a no-op pin) is DU211's finding.
    if w.install.is_none() || w.noop_base || !w.variant.starts_with("cu") {
        return;
    }
    let Some(cuda) = variant_to_cuda(&w.variant) else {
        return;
    };
    let fit = host_fit(ctx, host, &cuda);
    if !matches!(fit, DriverFit::TooOld | DriverFit::MinorCompat) {
        return;
    }
    let drv = driver_name(host);
    let (msg, why) = if fit == DriverFit::TooOld {
        (
            format!(
                "torch {} installs the {} build, which needs a newer driver than {drv}",
                w.shown, w.variant
            ),
            "torch wheels bring their own CUDA runtime, so the host driver must support the wheel's CUDA: on this host torch.cuda.is_available() is False ('The NVIDIA driver on your system is too old').",
        )
    } else {
        (
            format!(
                "torch {} installs the {} build; {drv} runs it only through minor-version compatibility",
                w.shown, w.variant
            ),
            "torch runs on an older driver of the same CUDA major version with a limited feature set: kernels JIT-compiled from PTX (torch.compile / Triton, GPUs without native code in the wheel) can fail with 'the provided PTX was compiled with an unsupported toolchain'.",
        )
    };
    let mut f = wheel_finding(ctx, w, RuleId::DU212, msg)
        .why(why)
        .fact(host.driver_fact())
        .fact(format!("selected build: {} ({})", w.variant, w.how))
        .fact(format!(
            "torch {} ships {} (PyPI default {})",
            w.row.series,
            variants_text(w.row),
            w.row.default_cuda
        ))
        .fact(cuda_needs(ctx, &cuda));
    if fit == DriverFit::MinorCompat {
        f.severity = Severity::Warning;
    }
    match retarget(ctx, host, w, RuleId::DU212, false) {
        (Some(fix), _) => f = f.with_fix(fix),
        (None, Some(best)) => f = f.fact(format!("{best} fits this host's driver and GPUs")),
        (None, None) => {
            if let Some(d) = driver_to_reach(ctx, &cuda) {
                f = f.fact(format!(
                    "no torch build fits this host's driver and GPUs; {d}"
                ));
            }
        }
    }
    out.push(f);
}

fn cc_text(g: &crate::analyze::HostGpuDevice) -> Option<String> {
    g.compute_capability.map(|(a, b)| format!("{a}.{b}"))
}

/// DU213: each distinct host GPU model whose compute capability the wheel has no code for.
fn wheel_arch(ctx: &Ctx, host: &HostGpu, w: &Wheel, out: &mut Vec<Finding>) {
    if !w.variant.starts_with("cu") {
        return;
    }
    // Group GPUs by model (name and CC), keeping NVML order.
    let mut models: Vec<(String, String, Vec<u32>)> = Vec::new();
    for g in &host.gpus {
        let Some(cc) = cc_text(g) else { continue };
        match models.iter_mut().find(|(n, c, _)| n == &g.name && c == &cc) {
            Some(m) => m.2.push(g.index),
            None => models.push((g.name.clone(), cc, vec![g.index])),
        }
    }
    for (name, cc, idx) in models {
        if ctx.compat.torch_supports_cc(&w.row.series, &w.variant, &cc) != Some(false) {
            continue;
        }
        let sm = format!("sm_{}", cc.replace('.', ""));
        let list = idx
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let (which, gpu_fact) = if idx.len() == 1 {
            (
                format!("GPU {list}"),
                format!("GPU {list} {name} has compute capability {cc} (NVML)"),
            )
        } else {
            (
                format!("GPUs {list}"),
                format!("GPUs {list} {name} have compute capability {cc} (NVML)"),
            )
        };
        let mut f = wheel_finding(
            ctx,
            w,
            RuleId::DU213,
            format!(
                "torch {} {} build has no code for {which} ({name}, {sm})",
                w.shown, w.variant
            ),
        )
        .why(format!("The wheel carries kernels only for the architectures it was built for: torch warns '... with CUDA capability {sm} is not compatible with the current PyTorch installation' and CUDA ops fail with 'no kernel image is available for execution on the device'."))
        .fact(gpu_fact)
        .fact(format!("selected build: {} ({})", w.variant, w.how));
        if let Some(a) = ctx.compat.arch(&cc) {
            let mut s = format!(
                "{} ({cc}) code is in the {} builds",
                a.family,
                a.variants.join("/")
            );
            if let Some(m) = &a.min_torch {
                s.push_str(&format!(" of torch >= {m}"));
            }
            if let Some(n) = &a.note {
                s.push_str(&format!(" ({n})"));
            }
            f = f.fact(s);
        }
        match retarget(ctx, host, w, RuleId::DU213, true) {
            (Some(fix), _) => f = f.with_fix(fix),
            (None, Some(best)) => f = f.fact(format!("{best} has code for every GPU of this host")),
            (None, None) => {
                f = f.fact("no torch build in the data has code for every GPU of this host")
            }
        }
        out.push(f);
    }
}

/// Does `(row, variant)` carry code for every host GPU whose CC is known and listed in the data?
fn gpus_ok(ctx: &Ctx, host: &HostGpu, row: &TorchRow, variant: &str) -> bool {
    host.gpus.iter().all(|g| {
        cc_text(g)
            .is_none_or(|cc| ctx.compat.torch_supports_cc(&row.series, variant, &cc) != Some(false))
    })
}

/// A fix that moves the wheel to a build that carries code for every host GPU and that the driver runs fully
/// (for DU213 with `allow_minor`: through minor-version compatibility when nothing runs fully). The same
/// release's other builds first, then other releases, newest first; the first one the install's syntax can
/// express wins. Also returns the best fitting build, named in a fact when no edit can express it.
fn retarget(
    ctx: &Ctx,
    host: &HostGpu,
    w: &Wheel,
    rule: RuleId,
    allow_minor: bool,
) -> (Option<Fix>, Option<String>) {
    let mut best: Option<String> = None;
    let host_known = !host.driver_version.is_empty() || host.cuda_driver.is_some();
    let mut rows: Vec<&TorchRow> = ctx.compat.data.torch.iter().collect();
    rows.sort_by(|a, b| cmp_versions(&b.series, &a.series));
    rows.retain(|r| r.series != w.row.series);
    rows.insert(0, w.row);
    let passes: &[&[DriverFit]] = if allow_minor {
        &[&[DriverFit::Full], &[DriverFit::MinorCompat]]
    } else {
        &[&[DriverFit::Full]]
    };
    for accept in passes {
        for row in &rows {
            let mut vs: Vec<&String> = row.cuda.iter().filter(|v| v.starts_with("cu")).collect();
            vs.sort_by(|a, b| {
                cmp_versions(
                    &variant_to_cuda(b).unwrap_or_default(),
                    &variant_to_cuda(a).unwrap_or_default(),
                )
            });
            for v in vs {
                if std::ptr::eq(*row, w.row) && *v == w.variant {
                    continue;
                }
                let Some(c) = variant_to_cuda(v) else {
                    continue;
                };
                let fit = host_fit(ctx, host, &c);
                let fit_ok = accept.contains(&fit) || (!host_known && fit == DriverFit::Unknown);
                if !fit_ok || !gpus_ok(ctx, host, row, v) {
                    continue;
                }
                let note = if fit == DriverFit::MinorCompat {
                    " (through minor-version compatibility until the driver is updated)"
                } else {
                    ""
                };
                best.get_or_insert_with(|| format!("torch {} {v}{note}", row.series));
                if let Some(fix) = express(ctx, w, row, v, rule, note) {
                    return (Some(fix), best);
                }
            }
        }
    }
    (None, best)
}

/// The edits that make the install select `variant` of `row`, in the syntax it already uses.
fn express(
    ctx: &Ctx,
    w: &Wheel,
    row: &TorchRow,
    variant: &str,
    rule: RuleId,
    note: &str,
) -> Option<Fix> {
    let same = std::ptr::eq(row, w.row);
    let Some((g, t)) = w.install else {
        // The base image's torch: another pytorch/pytorch tag of the same release.
        let st = w.base?;
        if !same {
            return None;
        }
        let c = variant_to_cuda(variant)?;
        let facts = ctx.compat.image(&st.image.text)?;
        let (repo, _) = crate::analyze::compat::split_reference(&st.image.text);
        let new_ref = format!(
            "{repo}:{}-cuda{c}-cudnn{}-{}",
            w.version,
            row.cudnn,
            facts.flavor.as_deref().unwrap_or("runtime")
        );
        let edits = locate_reference(ctx, st, &new_ref).filter(|e| !e.is_empty())?;
        return Some(Fix {
            id: format!("{rule}.base-variant"),
            level: FixLevel::Suggestion,
            description: format!("Move the base image to {new_ref}{note}"),
            file: ctx.file.to_path_buf(),
            edits,
        });
    };
    // pip keeps an installed version whatever build the index offers: only a version change takes effect.
    if g.install.tool == Tool::Conda || (w.noop_base && same) {
        return None;
    }
    let series_pin = format!("{}.*", row.series);
    match w.explicit {
        Some("local") if same && w.exact => Some(req_fix(
            &format!("{rule}.variant"),
            FixLevel::Suggestion,
            format!("Install the {variant} build of torch {}{note}", w.version),
            t,
            pin(ctx, g, t, &format!("{}+{variant}", w.version)),
        )),
        Some("index") | Some("extra") => {
            let loc = if w.explicit == Some("index") {
                g.index_url?
            } else {
                *g.extra_index
                    .iter()
                    .find(|i| torch_index_variant(&i.value).is_some())?
            };
            let mut edits = vec![index_edit(ctx, loc, variant)?];
            let mut desc = format!("Use the {variant} index");
            if !same {
                // An --extra-index-url only wins for pip with an exact pin: a series pin would let PyPI's build in.
                if w.explicit == Some("extra") && g.install.tool != Tool::UvPip {
                    return None;
                }
                if loc.file != t.file {
                    return None;
                }
                edits.push(edit(
                    t.range.start,
                    t.range.end,
                    pin(ctx, g, t, &series_pin),
                ));
                desc = format!("Pin torch=={series_pin} from the {variant} index");
            }
            Some(Fix {
                id: format!("{rule}.variant"),
                level: FixLevel::Suggestion,
                description: format!("{desc}{note}"),
                file: loc.file.clone(),
                edits,
            })
        }
        None if same && w.exact => {
            // PyPI serves only the default build: name the CUDA index for the +cuXYZ pin.
            let url = format!("https://download.pytorch.org/whl/{variant}");
            let new_pin = pin(ctx, g, t, &format!("{}+{variant}", w.version));
            let replacement = if t.file == ctx.file {
                let before = ctx.text.get(..t.range.start)?;
                if before.ends_with(['"', '\'']) {
                    return None;
                }
                format!("--extra-index-url {url} {new_pin}")
            } else if t.file.extension().and_then(|e| e.to_str()) == Some("txt") {
                format!("--extra-index-url {url}\n{new_pin}")
            } else {
                return None;
            };
            Some(req_fix(
                &format!("{rule}.variant"),
                FixLevel::Suggestion,
                format!(
                    "Install torch {}+{variant} from the {variant} index{note}",
                    w.version
                ),
                t,
                replacement,
            ))
        }
        None if !same && row.default_cuda == variant => Some(req_fix(
            &format!("{rule}.pin"),
            FixLevel::Suggestion,
            format!("Pin torch=={series_pin}, whose PyPI default build is {variant}{note}"),
            t,
            pin(ctx, g, t, &series_pin),
        )),
        _ => None,
    }
}

/// Rewrite the `cuXYZ` of a download.pytorch.org index option in place.
fn index_edit(ctx: &Ctx, loc: &Located, variant: &str) -> Option<TextEdit> {
    let old = torch_index_variant(&loc.value)?;
    let text = ctx.texts.get(&loc.file)?;
    let seg = text.get(loc.range.clone())?;
    let i = seg.rfind(&format!("/{old}"))?;
    let start = loc.range.start + i + 1;
    Some(edit(start, start + old.len(), variant))
}

#[cfg(test)]
mod tests;
