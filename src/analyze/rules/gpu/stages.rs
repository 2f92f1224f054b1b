//! Stage and build rules: CUDA builds linking libcuda without the driver stubs (DU207), `COPY --from` of paths
//! the source stage never creates (DU208), artifacts copied between stages on different CUDA versions (DU210).

use super::*;

/// Metadata of the stage and build rules.
pub const RULES: &[RuleInfo] = &[
    RuleInfo::new(
        RuleId::DU207,
        Severity::Warning,
        "CUDA build (llama.cpp / GGML_CUDA) without the driver stubs on the link path",
        &[FixLevel::Suggestion],
    )
    .note("only cmake builds in an nvidia/cuda devel image; llama.cpp's Makefile and builds that already link the stubs are left alone"),
    RuleInfo::new(
        RuleId::DU208,
        Severity::Warning,
        "COPY --from copies a build path the source stage never creates",
        &[],
    )
    .note("silent when the source stage runs a script or is built on an image dockui does not know (any path may exist there)"),
    RuleInfo::new(
        RuleId::DU210,
        Severity::Warning,
        "COPY --from between stages built on different CUDA versions",
        &[FixLevel::Suggestion],
    ),
];

/// DU210: artifacts built in a stage on one CUDA version copied into a stage on another.
pub(super) fn cross_stage_cuda(ctx: &Ctx, out: &mut Vec<Finding>) {
    for info in &ctx.m.instrs {
        let ins = info.ins;
        let Some(to) = info.stage else { continue };
        if !ins.is("COPY") {
            continue;
        }
        let Some(from) = ins.flag("from").and_then(|f| f.value.as_deref()) else {
            continue;
        };
        let Some(src) = ctx.m.stage_ref(from, to) else {
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
            .at(RuleId::DU210, ins.range.clone(), format!("copies from stage `{from}` (CUDA {ca}) into an image with CUDA {cb}"))
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

const STUB_DIR: &str = "/usr/local/cuda/lib64/stubs";

/// DU207: CUDA builds of llama.cpp / ggml that link against libcuda need the driver stubs in a devel image.
pub(super) fn stubs(ctx: &Ctx, out: &mut Vec<Finding>) {
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
        // Without cmake in this RUN or before it in the stage chain, this is llama.cpp's own Makefile build,
        // which adds `-L$(CUDA_PATH)/lib64/stubs` itself.
        let chain = stage_chain(ctx, info.stage.unwrap_or(0));
        let cmake = ctx.m.instrs[..=idx]
            .iter()
            .filter(|i| i.stage.is_some_and(|x| chain.contains(&x)))
            .any(|i| {
                i.script
                    .commands
                    .iter()
                    .any(|c| c.unwrapped().base_name() == "cmake")
            });
        if !cmake {
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
                    || t.contains("/lib/stubs")
                    || t.contains("cuda/stubs")
                    || t.contains("allow-shlib-undefined")
                    || t.contains("targets/x86_64-linux/lib/stubs")
                    || t.contains("GGML_BACKEND_DL")
                    || t.contains("unresolved-symbols")
            });
        if handled {
            continue;
        }
        let mut f = ctx
            .at(RuleId::DU207, info.ins.range.clone(), "CUDA build linking libcuda without the driver stubs on the link path")
            .why("Build machines have no NVIDIA driver, so libcuda.so.1 is missing at link time: the link fails with `libcuda.so.1, needed by ... not found` / undefined cuMem* references.")
            .fact(format!("base {} is a CUDA {} devel image; its stubs are in {STUB_DIR}", root.image.text, facts.cuda.as_deref().unwrap_or("?")));
        if !info.ins.is("ONBUILD") && super::appendable(ins) {
            let at = ins.logical.to_file(ins.args_start);
            // Changes how the build links: a suggestion, never applied as "safe".
            f = f.with_fix(ctx.fix(
                "DU207.stubs",
                FixLevel::Suggestion,
                "Link against the driver stubs for this RUN (symlink libcuda.so.1 and put the stubs on LIBRARY_PATH / LD_LIBRARY_PATH)",
                vec![insert(
                    at,
                    format!("ln -sf {STUB_DIR}/libcuda.so {STUB_DIR}/libcuda.so.1{br}&& export LIBRARY_PATH={STUB_DIR}:${{LIBRARY_PATH:-}} LD_LIBRARY_PATH={STUB_DIR}:${{LD_LIBRARY_PATH:-}}{br}&& ", br = ctx.df.line_break("")),
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

/// What DU208 knows of a source stage: `None` when any path may exist there (a script runs, or the chain
/// starts from an image dockui does not know).
struct SrcPaths {
    root_external: bool,
    image_dirs: &'static [&'static str],
    roots: Vec<String>,
    set: PathSet,
    summary: std::cell::OnceCell<String>,
}

/// DU208: `COPY --from=<stage> /abs/path` where that stage never mentions the path's directory. A source
/// stage is read once however many COPYs name it.
pub(super) fn copy_paths(ctx: &Ctx, out: &mut Vec<Finding>) {
    const SYSTEM: &[&str] = &[
        "/usr", "/opt", "/lib", "/lib64", "/etc", "/bin", "/sbin", "/root", "/home", "/var",
        "/tmp", "/run", "/srv", "/",
    ];
    let mut known: HashMap<usize, Option<SrcPaths>> = HashMap::new();
    for (idx, info) in ctx.m.instrs.iter().enumerate() {
        let ins = info.ins;
        if !ins.is("COPY") {
            continue;
        }
        let Some(from) = ins.flag("from").and_then(|f| f.value.clone()) else {
            continue;
        };
        let before = info.stage.unwrap_or(ctx.m.stages.len());
        let Some(src_stage) = ctx.m.stage_ref(&from, before) else {
            continue;
        };
        if info.stage.is_some_and(|s| src_stage >= s) {
            continue;
        }
        let Some(src) = known
            .entry(src_stage)
            .or_insert_with(|| src_paths(ctx, src_stage))
        else {
            continue;
        };
        let words = &ins.words;
        if words.len() < 2 {
            continue;
        }
        for w in &words[..words.len() - 1] {
            let src_path = ctx.m.expand_at(idx, &w.text).text;
            if !src_path.starts_with('/') || src_path.contains('$') {
                continue;
            }
            let clean: String = src_path
                .split(['*', '?', '['])
                .next()
                .unwrap_or(&src_path)
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
            if src.root_external
                && (SYSTEM.contains(&top.as_str()) || src.image_dirs.contains(&top.as_str()))
            {
                continue;
            }
            if !src.set.covers(&clean) {
                let summary = src.summary.get_or_init(|| summarize(&src.roots));
                out.push(
                    ctx.at(RuleId::DU208, w.range.clone(), format!("COPY --from={from} {src_path}: stage `{from}` never creates anything under {}", parent_dir(&clean)))
                        .why("A hard-coded build path that the builder does not produce fails the build at this COPY ('not found'), usually after a long compile.")
                        .fact(format!("paths stage `{from}` mentions: {summary}")),
                );
            }
        }
    }
}

/// The paths stage `src_stage` and the stages it is built from mention (WORKDIRs, COPY/ADD targets, RUN
/// arguments), or `None` when any path may exist there.
fn src_paths(ctx: &Ctx, src_stage: usize) -> Option<SrcPaths> {
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
    let root = &ctx.m.stages[*chain.last().unwrap_or(&src_stage)];
    let root_external = root.parent.is_none();
    // An image dockui knows nothing about (`ghcr.io/astral-sh/uv`, `alpine/git`) may hold any path: only
    // known images (and `scratch`) say what is not there.
    let root_facts = ctx.compat.image(&root.image.text);
    if root_external && root_facts.is_none() && root.image.text != "scratch" {
        return None;
    }
    // Paths a sourced or executed script creates cannot be known.
    let runs_script = chain.iter().any(|&st| {
        ctx.m.stages[st].instrs.iter().any(|&i| {
            ctx.m.instrs[i].script.commands.iter().any(|c| {
                let c = c.unwrapped();
                let n = c.name();
                let script_arg = c
                    .args()
                    .iter()
                    .find(|w| !w.text.starts_with('-'))
                    .is_some_and(|w| !w.text.contains(' '));
                n.ends_with(".sh")
                    || n.starts_with("./")
                    || matches!(n, "." | "source")
                    || (matches!(c.base_name(), "bash" | "sh" | "zsh")
                        && script_arg
                        && !c.has_arg("-c"))
            })
        })
    });
    if runs_script {
        return None;
    }
    let image_dirs: &[&str] = match root_facts.as_ref().map(|f| f.kind.as_str()) {
        Some("pytorch" | "ngc-pytorch") => &["/workspace"],
        _ => &[],
    };
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
    Some(SrcPaths {
        root_external,
        image_dirs,
        set: PathSet::new(&roots),
        roots,
        summary: std::cell::OnceCell::new(),
    })
}

/// Paths (without trailing `/`), answering "is `p` one of them, under one of them, or above one of them" in
/// time linear in `p` (not in the number of paths): each prefix of `p` that ends before a `/` is looked up by
/// an incremental hash, and the paths below `p` by a range of the sorted list.
struct PathSet {
    sorted: Vec<String>,
    hashes: std::collections::HashSet<u64>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
}

impl PathSet {
    fn new(paths: &[String]) -> PathSet {
        let mut sorted: Vec<String> = paths
            .iter()
            .map(|r| r.trim_end_matches('/'))
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        sorted.sort();
        sorted.dedup();
        let hashes = sorted
            .iter()
            .map(|r| r.bytes().fold(FNV_OFFSET, fnv_step))
            .collect();
        PathSet { sorted, hashes }
    }

    fn contains(&self, h: u64, p: &str) -> bool {
        self.hashes.contains(&h) && self.sorted.binary_search_by(|r| r.as_str().cmp(p)).is_ok()
    }

    /// `p` is one of the paths, lies under one (`/a/b` under `/a`), or has one under it (`/a` above `/a/b`).
    fn covers(&self, p: &str) -> bool {
        let mut h = FNV_OFFSET;
        for (k, b) in p.bytes().enumerate() {
            if b == b'/' && k > 0 && self.contains(h, &p[..k]) {
                return true;
            }
            h = fnv_step(h, b);
        }
        if self.contains(h, p) {
            return true;
        }
        let below = format!("{p}/");
        let i = self.sorted.partition_point(|r| r.as_str() < below.as_str());
        self.sorted.get(i).is_some_and(|r| r.starts_with(&below))
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

#[cfg(test)]
mod tests {
    use super::PathSet;
    use proptest::prelude::*;

    /// The reading PathSet replaces: a scan of every path for every COPY source.
    fn naive(roots: &[String], clean: &str) -> bool {
        roots.iter().any(|r| {
            let r = r.trim_end_matches('/');
            !r.is_empty()
                && r != "/"
                && (clean == r
                    || clean.starts_with(&format!("{r}/"))
                    || r.starts_with(&format!("{clean}/")))
        })
    }

    #[test]
    fn path_set_covers_paths_above_below_and_equal() {
        let roots: Vec<String> = ["/app/build/", "/", "/opt/x/lib", "//", "rel/dir"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let set = PathSet::new(&roots);
        for (p, want) in [
            ("/app/build", true),
            ("/app/build/bin/tool", true),
            ("/app", true),
            ("", true),
            ("/opt/x/lib64", false),
            ("/opt/y", false),
            ("/app/buil", false),
            ("rel", true),
            ("rel/dir/x", true),
            ("/srv", false),
        ] {
            assert_eq!(set.covers(p), want, "{p}");
            assert_eq!(naive(&roots, p), want, "{p}");
        }
    }

    proptest! {
        #[test]
        fn path_set_agrees_with_the_scan(
            roots in prop::collection::vec("[/ab]{0,6}", 0..8),
            probe in "[/ab]{0,7}",
        ) {
            let clean = probe.trim_end_matches('/');
            prop_assert_eq!(PathSet::new(&roots).covers(clean), naive(&roots, clean));
        }
    }
}
