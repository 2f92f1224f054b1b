//! Torch rules: the torch build against the base image's CUDA (DU201), torchvision/torchaudio against torch
//! (DU202), torch reinstalled over a pytorch image (DU203), extra-index resolution (DU204), builds that do not
//! exist (DU205) and unpinned torch following PyPI's newest default build (DU209).

use super::*;

/// Metadata of the torch rules (DU206 lives in `python`).
pub const RULES: &[RuleInfo] = &[
    RuleInfo::new(
        RuleId::DU201,
        Severity::Error,
        "torch's CUDA build does not match the base image's CUDA",
        &[FixLevel::Suggestion],
    )
    .note("error: a pinned wheel newer across a CUDA major; warning: the same picked by a range, or an older wheel across a major on a devel image; info: within the same major. Never on ROCm/CPU images or for a torch an earlier install already satisfies"),
    RuleInfo::new(
        RuleId::DU202,
        Severity::Error,
        "torchvision/torchaudio version does not match torch",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU203,
        Severity::Warning,
        "torch installed again over a pytorch/pytorch base image (gigabytes re-downloaded)",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU204,
        Severity::Warning,
        "--extra-index-url for a CUDA torch index lets PyPI's default CUDA build win",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU205,
        Severity::Error,
        "torch +cuXYZ wheel or cuXYZ index does not exist for that torch version",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU206,
        Severity::Error,
        "Python version outside the range the torch version supports",
        &[],
    ),
    RuleInfo::new(
        RuleId::DU215,
        Severity::Warning,
        "uv's --torch-backend=auto during docker build picks the CPU build (RUN steps see no NVIDIA driver)",
        &[],
    ),
    RuleInfo::new(
        RuleId::DU209,
        Severity::Warning,
        "Unpinned torch on a base without CUDA facts follows PyPI's newest default CUDA build and its driver floor",
        &[FixLevel::Suggestion],
    )
    .note("not on ROCm images or images with torch preinstalled, and not when an index, uv backend or conda picks the build"),
];

/// Official OS images: no accelerator stack and no torch.
const OS_IMAGES: &[&str] = &[
    "ubuntu",
    "debian",
    "rockylinux",
    "almalinux",
    "fedora",
    "centos",
    "amazonlinux",
    "alpine",
];

pub(super) fn torch_rules(
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
    // The build this install selects; unknown (conda without pytorch-cuda, an unreadable index, uv's `auto`)
    // leaves only the rules that do not depend on it.
    let selected = selected_variant(g, t, row);
    let known = selected.is_some();
    let (variant, how, explicit) = selected.unwrap_or_default();
    let ships = format!(
        "torch {} ships {} (PyPI default {})",
        row.series,
        variants_text(row),
        row.default_cuda
    );
    // DU205: an explicit variant the pinned release does not have (an open range lets the resolver pick an
    // older release that has it).
    let pinned = exact || t.series().is_some();
    // conda's pytorch-cuda builds are not pip's wheel list: no DU205 from pip's facts for them.
    if pinned
        && known
        && explicit.is_some()
        && explicit != Some("conda")
        && variant.starts_with("cu")
        && !row.cuda.contains(&variant)
    {
        let mut f = req_finding(ctx, RuleId::DU205, t, format!("torch {shown} has no {variant} build"))
            .why("pip cannot find that wheel (with --index-url the install fails; with --extra-index-url it silently takes PyPI's default CUDA build).")
            .fact(ships.clone())
            .fact(format!("requested: {how}"));
        // pip looks at every index: PyPI's wheel installs and the build goes on with another CUDA build
        // than asked (uv's first-index strategy stops at the extra index and fails).
        if explicit == Some("extra") && g.install.tool == Tool::Pip {
            f.severity = Severity::Warning;
            f = f.fact(format!(
                "pip falls back to PyPI's torch {shown}, the {} build: the install succeeds, with another CUDA build than the extra index names",
                row.default_cuda
            ));
        }
        if explicit == Some("local") && exact {
            let pick = row.cuda.last().cloned().unwrap_or_default();
            f = f.with_fix(req_fix(
                "DU205.variant",
                FixLevel::Suggestion,
                format!("Use the {pick} build"),
                t,
                pin(ctx, g, t, &format!("{version}+{pick}")),
            ));
        }
        out.push(f);
    }
    // DU204: extra index for CUDA torch, torch not pinned exactly: PyPI's newer default build can win.
    if g.install.tool == Tool::Pip && !t.is_pinned() && g.index_url.is_none() {
        if let Some(loc) = g
            .extra_index
            .iter()
            // Only when the newest release the range allows has no build on that index: otherwise the
            // index's `+cuXYZ` local version sorts above PyPI's and wins.
            .find(|i| {
                torch_index_variant(&i.value)
                    .is_some_and(|v| v.starts_with("cu") && !row.cuda.contains(&v))
            })
        {
            let v = torch_index_variant(&loc.value).unwrap_or_default();
            let newest = ctx.compat.newest_torch();
            let mut f = req_finding(ctx, RuleId::DU204, t, format!("`--extra-index-url .../{v}` with torch {shown}: pip may install PyPI's build instead of {v}"))
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
    // A ROCm image is not "a base without CUDA facts": a CUDA pin there would move the project to another
    // accelerator stack, which no fix does.
    let base_cuda_known = base.is_some_and(|(_, f)| {
        f.cuda.is_some()
            || (f.torch_preinstalled && g.env.sees_base())
            || accelerator(f) == Accelerator::Rocm
    });
    // An image dockui does not recognise (an organisation's own base) may well have torch installed already;
    // official OS images have none.
    let base_without_torch = base.is_some() || {
        let stage = ctx.m.instrs.get(g.instr).and_then(|i| i.stage);
        stage.is_some_and(|s| {
            let root = ctx.m.root_stage(s);
            let (repo, _) = crate::analyze::compat::split_reference(&root.image.text);
            let repo = crate::analyze::compat::normalise_repo(&repo);
            OS_IMAGES.contains(&repo.as_str())
        })
    };
    if known
        && base_without_torch
        && !base_cuda_known
        && explicit.is_none()
        && !exact
        && t.series().is_none()
        && t.url.is_none()
    {
        let mut f = req_finding(ctx, RuleId::DU209, t, format!("torch {shown} installs whatever PyPI serves today: torch {} with its {} build", row.series, row.default_cuda))
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
                pin(ctx, g, t, &format!("{}.*", p.series)),
            ));
        }
        out.push(f);
    }
    let Some((stage, facts)) = base else { return };
    let base_ref = stage.image.text.clone();
    // DU203: torch again over a pytorch image.
    if let (true, Some(bt), Some(v)) = (
        facts.torch_preinstalled,
        facts.torch.as_deref(),
        g.env.venv().filter(|v| !v.system_site),
    ) {
        // A fresh venv cannot use the image's torch: a second torch is downloaded next to it.
        let satisfied = if exact {
            version == bt
        } else {
            t.specs.is_empty() || satisfies(bt, &t.specs)
        };
        let mut f = req_finding(ctx, RuleId::DU203, t, format!("torch {shown} installed into the virtual environment {}, which does not see the torch {bt} that {base_ref} already has", v.path))
            .why(if accelerator(facts) == Accelerator::Rocm {
                "A venv created without --system-site-packages starts empty: pip downloads a second torch next to the image's ROCm build (several GB), which then sits unused; from PyPI it is not even a ROCm build."
            } else {
                "A venv created without --system-site-packages starts empty: pip downloads a second torch (~0.8 GB plus gigabytes of nvidia-* wheels) next to the image's, which then sits unused."
            })
            .fact(format!("base image ships torch {bt} {}", built_for(facts)))
            .fact(format!("{} is created without --system-site-packages", v.path));
        if satisfied && !g.install.upgrade && !g.install.force_reinstall {
            f = f.fact(format!("the image's torch {bt} satisfies `{}`: with the system site-packages visible pip keeps it", t.text));
            let exact_words = ctx
                .m
                .instrs
                .get(v.instr)
                .is_some_and(|i| edits_are_exact(i.ins));
            if let Some(w) = v.word.as_ref().filter(|_| exact_words) {
                f = f.with_fix(Fix {
                    id: "DU203.system-site".into(),
                    level: FixLevel::Suggestion,
                    description: format!(
                        "Create {} with --system-site-packages so pip keeps the image's torch {bt}",
                        v.path
                    ),
                    file: ctx.file.to_path_buf(),
                    edits: vec![insert(w.end, " --system-site-packages")],
                });
            }
        }
        out.push(f);
    } else if let (true, Some(bt)) = (facts.torch_preinstalled, facts.torch.as_deref()) {
        let same = exact
            && version == bt
            && t.local().is_none_or(|l| {
                Some(l.to_string()) == facts.cuda.as_deref().and_then(cuda_to_variant)
            });
        // A range the base's torch already satisfies (or no range at all) is a no-op for pip unless it is told
        // to upgrade, or a companion in the same install pins a newer torch.
        // The image ships torchvision/torchaudio with its torch: a companion that one satisfies is kept too.
        let pulled = pulled_by_companion(ctx, g).filter(|(r, p)| {
            series_of(bt).as_deref() != Some(p.series.as_str())
                && ctx.compat.torch(bt).is_some_and(|b| {
                    let want = if r.name == "torchvision" {
                        &b.torchvision
                    } else {
                        &b.torchaudio
                    };
                    !want.is_empty() && !image_companion_satisfies(want, r)
                })
        });
        let kept = !exact
            && (t.specs.is_empty() || satisfies(bt, &t.specs))
            && !g.install.upgrade
            && !g.install.force_reinstall
            && pulled.is_none();
        if !same && !kept {
            let msg = if exact {
                format!("torch=={version} installed over {base_ref}, which already has torch {bt}")
            } else {
                format!("torch {shown} installed over {base_ref}, which already has torch {bt}")
            };
            let mut f = req_finding(ctx, RuleId::DU203, t, msg)
                .why(if accelerator(facts) == Accelerator::Rocm {
                    "pip replaces the image's ROCm build of torch: several GB downloaded again, and from PyPI (or any index but the image's ROCm one) the result is not a ROCm build at all."
                } else {
                    "pip replaces the image's torch: ~0.8 GB plus gigabytes of nvidia-* wheels downloaded again, and the result no longer matches the image's CUDA build."
                })
                .fact(format!("base image ships torch {bt} {}", built_for(facts)));
            if let Some((r, p)) = pulled {
                f = f.fact(format!(
                    "`{}` in the same install takes the newest {}, which pins torch {}: pip replaces torch {bt} to satisfy it",
                    r.text, r.name, p.series
                ));
            } else if g.install.upgrade || g.install.force_reinstall {
                f = f.fact(if g.install.upgrade {
                    "-U/--upgrade: pip moves torch to the newest release the requirement allows"
                } else {
                    "--force-reinstall: pip downloads and reinstalls torch even when the installed one satisfies it"
                });
            }
            f = f.with_fix(req_fix(
                "DU203.pin-base",
                FixLevel::Suggestion,
                format!("Pin torch to the base image's {bt} (a no-op install)"),
                t,
                pin(ctx, g, t, bt),
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
        && g.env.sees_base()
        && !exact
        && !g.install.upgrade
        && facts
            .torch
            .as_deref()
            .is_some_and(|bt| t.specs.is_empty() || satisfies(bt, &t.specs))
    {
        return;
    }
    // DU215 (uv docs, guides/integration/pytorch.md: "If no such CUDA driver is found, uv will fall back to the
    // CPU-only index"): uv's `auto` backend asks the build machine's NVIDIA driver, which a `docker build` step does not
    // see: uv then takes the CPU index, and the CUDA image gets a torch that cannot use the GPU.
    if g.backend.as_deref().map(str::trim) == Some("auto")
        && accelerator(facts) == Accelerator::Cuda
    {
        let want = cuda_to_variant(&base_cuda)
            .filter(|v| row.cuda.contains(v))
            .map(|v| format!("--torch-backend={v} (the base's CUDA {base_cuda})"))
            .unwrap_or_else(|| {
                format!(
                    "an explicit backend, one of torch {}'s: {}",
                    row.series,
                    variants_text(row)
                )
            });
        out.push(
            req_finding(
                ctx,
                RuleId::DU215,
                t,
                format!("uv's torch backend `auto` installs the CPU build of torch {shown} during docker build"),
            )
            .why("uv picks the PyTorch index from the NVIDIA driver it finds, and falls back to the CPU-only index when it finds none; RUN steps of an image build see no GPU or driver, so the image gets a torch that never sees the GPU.")
            .fact(format!("base {base_ref} has CUDA {base_cuda}"))
            .fact("assumption: the build runs without the host's GPUs (BuildKit never passes them to RUN steps; the legacy builder only with the nvidia runtime as the engine's default)")
            .fact(format!("name the backend instead: {want}")),
        );
        return;
    }
    if !known
        || !variant.starts_with("cu")
        || accelerator(facts) != Accelerator::Cuda
        || explicit.is_some() && !row.cuda.contains(&variant)
    {
        return;
    }
    let Some(wheel_cuda) = variant_to_cuda(&variant) else {
        return;
    };
    if wheel_cuda == base_cuda {
        return;
    }
    let newer = cmp_versions(&wheel_cuda, &base_cuda) == std::cmp::Ordering::Greater;
    let mut f = req_finding(ctx, RuleId::DU201, t, format!("torch {shown} installs the {variant} build; the base image has CUDA {base_cuda}"))
        .why(if newer {
            "The wheel brings its own newer CUDA runtime: the host driver must now satisfy the wheel's CUDA, not the base's, and extensions compiled with the image's nvcc mismatch torch."
        } else {
            "Two CUDA versions in one image: extensions compiled with the image's nvcc do not match torch's CUDA, and the larger base buys nothing."
        })
        .fact(ships.clone())
        .fact(format!("selected build: {variant} ({how})"))
        .fact(format!("base {base_ref} has CUDA {base_cuda}"));
    // Severity: a newer wheel across a CUDA major (cu130 on a CUDA 12 image) needs a newer driver family and
    // breaks extension builds with the image's nvcc: error when pinned, warning when a range picks it. Within
    // a major the wheel runs on the major's drivers through minor-version compatibility and torch's extension
    // builder only warns about a minor mismatch: info. An older wheel across a major breaks extension builds
    // (torch refuses a CUDA major mismatch) where nvcc is, i.e. on devel images: warning; elsewhere info.
    let major = |c: &str| c.split('.').next().unwrap_or("").to_string();
    let same_major = major(&wheel_cuda) == major(&base_cuda);
    let devel = facts.flavor.as_deref() == Some("devel");
    f.severity = match (newer, same_major) {
        (true, false) if devel && (exact || t.series().is_some()) => Severity::Error,
        (true, false) => Severity::Warning,
        (_, true) => Severity::Info,
        (false, false) if devel => Severity::Warning,
        (false, false) => Severity::Info,
    };
    if newer && !same_major {
        f = f.fact(if devel {
            "assumption: the devel image is there to compile CUDA extensions against torch, which refuses a CUDA major mismatch with the image's nvcc".to_string()
        } else {
            format!(
                "assumption: the hosts that run this image have a driver for the base's CUDA {base_cuda}, not necessarily for the wheel's {wheel_cuda}: there torch sees no GPU (no nvcc here, so nothing else breaks)"
            )
        });
    }
    if same_major {
        f = f.fact(format!(
            "same CUDA major: the wheel runs on CUDA {} drivers through minor-version compatibility; extensions built with the image's nvcc get only a version warning from torch",
            major(&base_cuda)
        ));
    }
    if !exact && t.series().is_none() {
        f = f.fact(format!(
            "assumption: the open requirement resolves to torch {} today; another day may pick another release",
            row.series
        ));
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
        // conda: ask for the base's CUDA build instead, when this release has one.
        if explicit == Some("conda") && row.cuda.contains(&bv) {
            let mm: Vec<&str> = base_cuda.split('.').take(2).collect();
            if let Some(r) = ["pytorch-cuda", "cuda-version", "cudatoolkit"]
                .iter()
                .find_map(|n| {
                    g.reqs
                        .iter()
                        .rev()
                        .find(|r| r.name == *n && r.series().is_some())
                })
            {
                let name = r
                    .text
                    .split(['=', '<', '>', '!', '~', ' '])
                    .next()
                    .unwrap_or(&r.name);
                f = f.with_fix(req_fix(
                    "DU201.conda-cuda",
                    FixLevel::Suggestion,
                    format!(
                        "Ask conda for the CUDA {} build ({name}={}) that matches the base image",
                        mm.join("."),
                        mm.join(".")
                    ),
                    r,
                    pin(ctx, g, r, &mm.join(".")),
                ));
            }
        }
        // An info-level mismatch (same CUDA major: it runs) never moves the project's torch to another
        // release (torch 2.1 -> 2.6 to match a CUDA minor breaks more than it fixes); pinning the torch the base
        // already has is a no-op install and stays offered.
        let info_only = f.severity > Severity::Warning && !facts.torch_preinstalled;
        if info_only && target.is_some() && t.local().is_none() && explicit.is_none() {
            f = f.fact(if same_major {
                "no torch move offered: within a CUDA major this mix runs, and another torch release changes what the project runs on"
            } else {
                "no torch move offered: the older wheel brings its own CUDA runtime, which any driver new enough for this image's CUDA also runs, a runtime image has no nvcc to mismatch, and another torch release changes what the project runs on"
            });
        }
        if let Some(p) = target.filter(|_| !info_only) {
            if t.local().is_none() && explicit.is_none() {
                f = f.with_fix(req_fix(
                    "DU201.move-torch",
                    FixLevel::Suggestion,
                    format!("Pin torch=={p}, whose default build matches CUDA {base_cuda}"),
                    t,
                    pin(ctx, g, t, &p),
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
            let row = ctx.compat.cuda_tag(cuda)?;
            let (_, tag) = crate::analyze::compat::split_reference(&stage.image.text);
            let tag = tag?;
            let rest = tag.split_once('-').map(|(_, r)| r)?;
            // The cuDNN segment is spelt per release (12.1.1-cudnn8, 12.3.2-cudnn9, 12.4.1-cudnn): a cuDNN
            // image moves only to a release whose spelling is known.
            match rest.split_once('-') {
                Some((seg, after)) if seg.starts_with("cudnn") => {
                    format!("{}-{}-{after}", row.version, row.cudnn.as_deref()?)
                }
                _ => format!("{}-{rest}", row.version),
            }
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

pub(super) fn companions(
    ctx: &Ctx,
    g: &Group,
    own: Option<&Requirement>,
    earlier: &Earlier,
    base: Option<&(&Stage, ImageFacts)>,
    out: &mut Vec<Finding>,
) {
    // Which torch will be there: this install's (unless an earlier one is kept), an earlier install's in this
    // stage chain, or the base image's.
    let reach = Reach::of(ctx, g);
    let base_torch = base.filter(|_| g.env.sees_base()).and_then(|(st, f)| {
        match (f.torch_preinstalled, &f.torch) {
            (true, Some(v)) => Some((v.clone(), format!("base image {}", st.image.text))),
            _ => None,
        }
    });
    let mut torch: Option<(String, String)> = None; // (version or series, where)
    // This install's own torch is resolved together with its companions (pip picks a pair that fits): only a
    // torch already installed can be replaced behind the user's back by an open companion.
    let mut own_resolved = false;
    let mut from_base = false;
    if let Some(t) = own {
        // An open range the base's torch satisfies keeps the base's torch.
        let kept_base = !t.is_pinned()
            && t.series().is_none()
            && !g.install.upgrade
            && base_torch
                .as_ref()
                .is_some_and(|(v, _)| t.specs.is_empty() || satisfies(v, &t.specs));
        if kept_base {
            torch = base_torch.clone();
            from_base = true;
        } else if let Some((v, _, _)) = torch_version(ctx, t) {
            torch = Some((v, format!("{}:{}", t.file.display(), t.line)));
            own_resolved = true;
        }
    }
    if torch.is_none() {
        // The latest earlier torch whose version dockui can read.
        torch = earlier
            .torch
            .iter()
            .rev()
            .filter(|o| reach.sees(ctx, g, o))
            .find_map(|o| {
                let t = o.torch()?;
                let (v, _, _) = torch_version(ctx, t)?;
                Some((v, format!("{}:{}", t.file.display(), t.line)))
            });
    }
    if torch.is_none() {
        from_base = base_torch.is_some();
        torch = base_torch;
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
        if r.series().is_none() {
            // Conservative: only a torch dockui knows a companion for, and only when nothing earlier asked for
            // this companion (an install that did keeps it, and an image with torch ships one).
            let named_earlier = earlier
                .companions
                .iter()
                .any(|o| o.get(name).is_some() && reach.sees(ctx, g, o));
            let image_has_it = from_base && image_companion_satisfies(want, r);
            let candidate = !own_resolved && !want.is_empty() && !named_earlier && !image_has_it;
            if let Some((_, p)) =
                pulls(ctx, g, name).filter(|(_, p)| candidate && p.series != row.series)
            {
                let mut f = pulled_torch(ctx, g, r, name, &tv, &where_, row, p);
                f = f.fact(if from_base {
                    format!("assumption: the image ships {name} {want} with its torch, which does not satisfy `{}`", r.text)
                } else {
                    format!("assumption: no earlier install brought {name} (a package depending on it would have)")
                });
                out.push(f);
            }
            continue;
        }
        if want.is_empty() {
            continue;
        }
        let Some(have) = r.series() else { continue };
        if &have == want {
            continue;
        }
        let mut f = req_finding(ctx, RuleId::DU202, r, format!("{name} {} does not match torch {tv}: torch {} pairs with {name} {want}", r.exact().map(str::to_string).unwrap_or(format!("{have}.*")), row.series))
            .why("torchvision and torchaudio wheels pin the exact torch they were built with: pip either downgrades/upgrades torch behind your back or the import fails with a CUDA/operator mismatch.")
            .fact(format!("torch {tv} from {where_}"))
            .fact(format!("torch {} <-> torchvision {} <-> torchaudio {}", row.series, row.torchvision, if row.torchaudio.is_empty() { "none" } else { &row.torchaudio }))
            .with_fix(req_fix("DU202.align", FixLevel::Suggestion, format!("Pin {name}=={want}.* to match torch {tv}"), r, pin(ctx, g, r, &format!("{want}.*"))));
        if g.install.no_deps {
            f = f.fact("--no-deps: pip leaves torch as it is, so the mismatch surfaces at import");
        }
        out.push(f);
    }
}

/// "built for CUDA 12.1", "built for ROCm": the build of the torch an image ships.
fn built_for(facts: &ImageFacts) -> String {
    match (accelerator(facts), facts.cuda.as_deref()) {
        (Accelerator::Rocm, _) => "built for ROCm".into(),
        (_, Some(c)) => format!("built for CUDA {c}"),
        _ => "(build not known to dockui)".into(),
    }
}

/// The torch a companion without a version series in this install makes pip take: the newest torchvision or
/// torchaudio the requirements allow pins its torch exactly, and pip replaces an installed torch to satisfy it.
/// Only pip (its resolver tries the newest companion first) and only when it resolves dependencies.
/// The torchvision/torchaudio an image with torch ships (assumed: the release paired with its torch, `.0`)
/// satisfies `r`.
fn image_companion_satisfies(want: &str, r: &Requirement) -> bool {
    satisfies(&format!("{want}.0"), &r.specs)
}

pub(super) fn pulled_by_companion<'r, 'c>(
    ctx: &'c Ctx,
    g: &Group<'r>,
) -> Option<(&'r Requirement, &'c TorchRow)> {
    ["torchvision", "torchaudio"]
        .iter()
        .find_map(|name| pulls(ctx, g, name))
}

/// The torch release the newest `name` this install allows is built for (with the install's own torch
/// requirement, when it has one, narrowing the choice as pip's resolver would).
pub(super) fn pulls<'r, 'c>(
    ctx: &'c Ctx,
    g: &Group<'r>,
    name: &str,
) -> Option<(&'r Requirement, &'c TorchRow)> {
    if g.install.tool != Tool::Pip || g.install.no_deps {
        return None;
    }
    let r = g.get(name)?;
    if r.series().is_some()
        || r.url.is_some()
        || r.specs
            .iter()
            .any(|(_, v)| v.chars().any(|c| c.is_ascii_alphabetic()))
    {
        return None;
    }
    let torch = g.torch();
    let row = ctx
        .compat
        .data
        .torch
        .iter()
        .filter(|row| {
            let want = if name == "torchvision" {
                &row.torchvision
            } else {
                &row.torchaudio
            };
            !want.is_empty()
                && satisfies(&format!("{want}.0"), &r.specs)
                && torch.is_none_or(|t| satisfies(&format!("{}.0", row.series), &t.specs))
        })
        .max_by(|a, b| cmp_versions(&a.series, &b.series))?;
    Some((r, row))
}

/// An open torchvision/torchaudio over an installed torch: pip takes the newest one and replaces torch with the
/// release it pins.
#[allow(clippy::too_many_arguments)]
fn pulled_torch(
    ctx: &Ctx,
    g: &Group,
    r: &Requirement,
    name: &str,
    tv: &str,
    where_: &str,
    row: &TorchRow,
    p: &TorchRow,
) -> Finding {
    let newest = if name == "torchvision" {
        &p.torchvision
    } else {
        &p.torchaudio
    };
    let want = if name == "torchvision" {
        &row.torchvision
    } else {
        &row.torchaudio
    };
    let what = if r.specs.is_empty() {
        format!("{name} (unpinned)")
    } else {
        format!("`{}`", r.text)
    };
    let mut f = req_finding(
        ctx,
        RuleId::DU202,
        r,
        format!("{what} makes pip replace torch {tv} with torch {}: the newest {name} {newest} pins it", p.series),
    )
    .why(format!("pip takes the newest {name} the requirement allows; its wheel pins the exact torch it was built with, so pip silently uninstalls the torch already there and downloads that one (~0.8 GB plus its CUDA wheels)."));
    f.severity = Severity::Warning;
    f = f.fact(format!("torch {tv} from {where_}")).fact(format!(
        "assumption: the newest {name} is {newest} (dockui's compat data), built for torch {}",
        p.series
    ));
    if let Some(c) = variant_to_cuda(&p.default_cuda) {
        let driver = ctx
            .compat
            .min_driver(&c)
            .map(|d| format!(", which needs driver >= {}", d.min_driver))
            .unwrap_or_default();
        f = f.fact(format!(
            "torch {} from PyPI is the {} build{driver}",
            p.series, p.default_cuda
        ));
    }
    f.with_fix(req_fix(
        "DU202.align",
        FixLevel::Suggestion,
        format!("Pin {name}=={want}.* to match torch {tv}"),
        r,
        pin(ctx, g, r, &format!("{want}.*")),
    ))
}
