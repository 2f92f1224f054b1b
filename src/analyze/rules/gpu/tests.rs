//! Precision cases for the GPU rules: each behaviour has an input where the rule fires and one where it must
//! not, written for these tests (shaped like real projects, not copied from any).

use crate::analyze::rules::testutil::{check, check_with};
use crate::analyze::{Analysis, Finding, Severity};

fn find<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

/// Apply text edits (non-overlapping) to a text.
fn apply_edits(text: &str, edits: &[crate::analyze::TextEdit]) -> String {
    let mut es: Vec<_> = edits.iter().collect();
    es.sort_by_key(|e| std::cmp::Reverse(e.start));
    let mut out = text.to_string();
    for e in es {
        out.replace_range(e.start..e.end, &e.replacement);
    }
    out
}

fn gpu_warnings(a: &Analysis) -> Vec<String> {
    a.findings
        .iter()
        .filter(|f| f.rule.starts_with("DU2") && f.severity <= Severity::Warning)
        .map(|f| {
            format!(
                "{} {}:{} {}",
                f.rule,
                f.file.display(),
                f.span.line,
                f.message
            )
        })
        .collect()
}

// ---- install semantics ----

#[test]
fn an_earlier_torch_that_satisfies_a_later_requirement_is_kept() {
    let reqs = "transformers==4.46.2\ntorch>=2.4\naccelerate\n";
    let kept = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n\
        RUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124\n\
        COPY requirements.txt .\n\
        RUN pip install --no-cache-dir -r requirements.txt\n";
    let a = check_with(kept, &[("requirements.txt", reqs)]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    assert!(
        a.findings
            .iter()
            .all(|f| f.file.to_str() != Some("requirements.txt") || !f.rule.starts_with("DU2")),
        "no finding and no fix on the kept requirement"
    );
    // The earlier torch is too old for the range: pip upgrades it to PyPI's build, which does not match.
    let upgraded = kept
        .replace("torch==2.5.1", "torch==2.3.1")
        .replace("cu124", "cu121");
    let a = check_with(&upgraded, &[("requirements.txt", reqs)]);
    assert!(
        find(&a, "DU201")
            .iter()
            .any(|f| f.file.to_str() == Some("requirements.txt")),
        "{:?}",
        gpu_warnings(&a)
    );
    // `-U` asks pip to move to the newest release.
    let forced = kept.replace("-r requirements.txt", "-U -r requirements.txt");
    let a = check_with(&forced, &[("requirements.txt", reqs)]);
    assert!(!find(&a, "DU201").is_empty());
}

#[test]
fn an_earlier_install_from_the_torch_index_with_unreadable_requirements_is_assumed_to_install_torch()
 {
    let reqs = "torch>=2.0,<=2.12.1\nfastapi\n";
    let df = "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\n\
        ARG TORCH_CUDA=cu128\n\
        COPY requirements.txt /tmp/\n\
        RUN grep '^torch' /tmp/requirements.txt > /tmp/torch.txt && \\\n    pip install -r /tmp/torch.txt --index-url https://download.pytorch.org/whl/${CUDA_TAG} && \\\n    pip install -r /tmp/requirements.txt\n";
    let a = check_with(df, &[("requirements.txt", reqs)]);
    assert!(find(&a, "DU201").is_empty(), "{:?}", gpu_warnings(&a));
    // Without the earlier install the range picks today's default build (cu130) over a CUDA 12.8 base.
    let alone = "FROM nvidia/cuda:12.8.1-devel-ubuntu24.04\nCOPY requirements.txt /tmp/\nRUN pip install -r /tmp/requirements.txt\n";
    let a = check_with(alone, &[("requirements.txt", reqs)]);
    assert!(!find(&a, "DU201").is_empty());
}

#[test]
fn uv_no_install_package_and_uv_sync() {
    let pyproject = "[project]\nname = \"trainer\"\nversion = \"0.1\"\ndependencies = [\n  \"torch>=2.4\",\n  \"datasets\",\n]\n";
    let base = "FROM python:3.11-slim\nWORKDIR /app\nCOPY pyproject.toml .\n";
    let a = check_with(
        &format!("{base}RUN uv sync --no-install-package torch\n"),
        &[("pyproject.toml", pyproject)],
    );
    assert!(find(&a, "DU209").is_empty(), "{:?}", gpu_warnings(&a));
    let a = check_with(
        &format!(
            "{base}RUN uv pip install --system --no-install-package torch -r pyproject.toml\n"
        ),
        &[("pyproject.toml", pyproject)],
    );
    assert!(find(&a, "DU209").is_empty(), "{:?}", gpu_warnings(&a));
    // Plain pip installs torch from PyPI: DU209 (unpinned torch follows PyPI's newest default build).
    let a = check_with(
        &format!("{base}RUN pip install --no-cache-dir .\n"),
        &[("pyproject.toml", pyproject)],
    );
    assert!(!find(&a, "DU209").is_empty(), "{:?}", a.findings);
}

#[test]
fn uv_torch_backend_selects_the_build() {
    let base = "FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04\n";
    for run in [
        "ENV UV_TORCH_BACKEND=cu126\nRUN uv pip install --system torch\n",
        "RUN UV_TORCH_BACKEND=cu126 uv pip install --system torch\n",
        "RUN uv pip install --system --torch-backend=cu126 torch\n",
        "RUN export UV_TORCH_BACKEND=cu126 && uv pip install --system torch\n",
        // `auto` depends on the build host's driver: unknown, no verdict.
        "RUN uv pip install --system --torch-backend auto torch\n",
    ] {
        let a = check(&format!("{base}{run}"));
        assert!(
            find(&a, "DU201").is_empty(),
            "{run}: {:?}",
            gpu_warnings(&a)
        );
    }
    // A backend for another CUDA than the base's is reported.
    let a = check(&format!(
        "{base}RUN uv pip install --system --torch-backend cu118 torch==2.6.0\n"
    ));
    let f = find(&a, "DU201");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("uv torch backend cu118"))
    );
}

#[test]
fn index_url_replaces_pypi_and_extra_index_url_competes_with_it() {
    let base = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n";
    // --index-url: the pinned version's +cu124 local build is installed.
    let a = check(&format!(
        "{base}RUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124\n"
    ));
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    // --extra-index-url with a range the index covers: `2.5.1+cu124` sorts above PyPI's `2.5.1`.
    let a = check(&format!(
        "{base}RUN pip install --no-cache-dir 'torch<2.6' --extra-index-url https://download.pytorch.org/whl/cu124\n"
    ));
    assert!(find(&a, "DU204").is_empty(), "{:?}", gpu_warnings(&a));
    assert!(find(&a, "DU201").is_empty(), "{:?}", gpu_warnings(&a));
    // An open range past what the index has: PyPI's newer default build wins.
    let a = check(&format!(
        "{base}RUN pip install --no-cache-dir torch --extra-index-url https://download.pytorch.org/whl/cu124\n"
    ));
    assert!(!find(&a, "DU204").is_empty(), "{:?}", gpu_warnings(&a));
}

#[test]
fn conda_pytorch_cuda_is_condas_build_not_pypis() {
    let base = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\n";
    for run in [
        "RUN conda install -y -c pytorch -c nvidia pytorch=2.3.1 pytorch-cuda=12.4\n",
        "RUN conda install -y -c pytorch -c nvidia pytorch=2.3.1 pytorch-cuda=$(echo $CUDA_VERSION | cut -d. -f1-2)\n",
        // No pytorch-cuda: the channel decides the build (pytorch's is CPU-only), never PyPI's default.
        "RUN conda install -y -c conda-forge pytorch=2.3.1\n",
    ] {
        let a = check(&format!("{base}{run}"));
        assert!(
            find(&a, "DU201").is_empty(),
            "{run}: {:?}",
            gpu_warnings(&a)
        );
        assert!(
            find(&a, "DU205").is_empty(),
            "{run}: {:?}",
            gpu_warnings(&a)
        );
    }
    // conda's CUDA build against another base CUDA is still reported.
    let a = check(&format!(
        "{base}RUN conda install -y -c pytorch -c nvidia pytorch=2.3.1 pytorch-cuda=11.8\n"
    ));
    assert!(!find(&a, "DU201").is_empty());
}

#[test]
fn shell_branches_are_judged_on_the_arg_defaults() {
    let not_taken = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n\
        ARG TORCH_INDEX_URL=\n\
        RUN if [ -n \"$TORCH_INDEX_URL\" ]; then \\\n        pip install --no-cache-dir torch==2.7.1 --index-url \"$TORCH_INDEX_URL\"; \\\n    else \\\n        pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124; \\\n    fi\n";
    let a = check(not_taken);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    // The default takes the branch whose build does not match: reported (at info: cu128 is a newer minor of the same major).
    let taken = not_taken
        .replace(
            "ARG TORCH_INDEX_URL=",
            "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128",
        )
        .replace(
            "\"$TORCH_INDEX_URL\"",
            "https://download.pytorch.org/whl/cu128",
        );
    let a = check(&taken);
    let f = find(&a, "DU201");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert!(
        f[0].facts
            .iter()
            .all(|x| !x.contains("assumption: this install runs only"))
    );
    // `[ ... ] && pip install` guards work like `if`.
    let guard = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nARG NIGHTLY=\n\
        RUN [ -n \"$NIGHTLY\" ] && pip install --pre torch==2.7.1 --index-url https://download.pytorch.org/whl/cu128 || true\n";
    assert!(gpu_warnings(&check(guard)).is_empty());
}

#[test]
fn an_undecidable_branch_lowers_the_finding_and_says_so() {
    let df = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n\
        RUN if [ -f /opt/use-cu130 ]; then \\\n        pip install --no-cache-dir torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130; \\\n    fi\n";
    let a = check(df);
    let f = find(&a, "DU201");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    // cu130 on a CUDA 12 image is an error when unconditional; here it is a warning with the assumption.
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("assumption") && x.contains("-f /opt/use-cu130")),
        "{:?}",
        f[0].facts
    );
    let plain = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n";
    assert_eq!(find(&check(plain), "DU201")[0].severity, Severity::Error);
}

#[test]
fn venv_pips_and_python_m_pip_are_installs() {
    let base = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN python3 -m venv /opt/venv\n";
    for run in [
        "RUN /opt/venv/bin/pip install --no-cache-dir torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n",
        "RUN /opt/venv/bin/python -m pip install --no-cache-dir torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n",
        "RUN python3 -m pip install --no-cache-dir torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n",
    ] {
        let a = check(&format!("{base}{run}"));
        assert_eq!(find(&a, "DU201").len(), 1, "{run}");
    }
    let ok = format!(
        "{base}RUN /opt/venv/bin/pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124\n"
    );
    assert!(gpu_warnings(&check(&ok)).is_empty());
}

#[test]
fn compatible_release_pins_are_read_as_ranges() {
    // ~=2.2.1 means >=2.2.1,<2.3: the image's torch 2.2.1 satisfies it, nothing is reinstalled.
    let df = "FROM pytorch/pytorch:2.2.1-cuda12.1-cudnn8-runtime\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n";
    let a = check_with(df, &[("requirements.txt", "torch~=2.2.1\nnumpy<2\n")]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    // ~=2.3.0 means >=2.3.0,<2.4: the image's 2.2.1 does not satisfy it -> reinstalled.
    let a = check_with(df, &[("requirements.txt", "torch~=2.3.0\n")]);
    assert!(!find(&a, "DU203").is_empty(), "{:?}", gpu_warnings(&a));
}

// ---- non-CUDA bases ----

#[test]
fn rocm_images_are_understood_and_never_get_cuda_fixes() {
    let pyproject = "[project]\nname = \"tuner\"\nversion = \"1\"\ndependencies = [\"torch>=2.4.0\", \"peft\"]\n";
    let df = "FROM rocm/pytorch:rocm6.3_ubuntu22.04_py3.10_pytorch_release_2.4.0\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -e .\n";
    let a = check_with(df, &[("pyproject.toml", pyproject)]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    // A ROCm base without torch and an unpinned torch: no DU209 pin to a CUDA release.
    let df = "FROM rocm/dev-ubuntu-22.04:6.2.4-complete\nRUN pip install --no-cache-dir torch\n";
    let a = check(df);
    assert!(find(&a, "DU209").is_empty(), "{:?}", gpu_warnings(&a));
    // ROCm wheels from the ROCm index, and a +rocm pin, on an nvidia base are not CUDA mismatches.
    for run in [
        "RUN pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/rocm6.2\n",
        "RUN pip install torch==2.5.1+rocm6.2 -f https://download.pytorch.org/whl/torch\n",
    ] {
        let a = check(&format!("FROM ubuntu:22.04\n{run}"));
        assert!(find(&a, "DU201").is_empty() && find(&a, "DU205").is_empty());
    }
    // The same pyproject on a plain python base does get DU209 (a CUDA build from PyPI is the intent there).
    let a = check_with(
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -e .\n",
        &[("pyproject.toml", pyproject)],
    );
    assert!(!find(&a, "DU209").is_empty());
}

#[test]
fn no_fix_moves_a_project_to_another_accelerator_stack() {
    let cases = [
        "FROM rocm/pytorch:rocm6.3_ubuntu22.04_py3.10_pytorch_release_2.4.0\nRUN pip install --no-cache-dir torch==2.5.1\n",
        "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu\n",
        "FROM rocm/dev-ubuntu-22.04:6.2.4\nRUN pip install --no-cache-dir torch\n",
    ];
    for df in cases {
        let a = check(df);
        for f in &a.findings {
            for fix in &f.fixes {
                for e in &fix.edits {
                    assert!(
                        !e.replacement.contains("+cu") && !e.replacement.contains("nvidia/cuda"),
                        "{df}: {} proposes {}",
                        f.rule,
                        e.replacement
                    );
                }
            }
        }
        assert!(find(&a, "DU201").is_empty(), "{df}");
    }
}

// ---- severities ----

#[test]
fn du201_severity_follows_the_cuda_major() {
    let on = |base: &str, torch: &str, idx: &str| {
        let a = check(&format!(
            "FROM nvidia/cuda:{base}\nRUN pip install --no-cache-dir torch=={torch} --index-url https://download.pytorch.org/whl/{idx}\n"
        ));
        find(&a, "DU201").first().map(|f| f.severity)
    };
    // Across a major, pinned: an error where nvcc compiles against torch (devel); on a runtime image it fails
    // only on hosts whose driver is too old for the wheel's CUDA, which is an assumption: a warning that says it.
    assert_eq!(
        on("12.4.1-devel-ubuntu22.04", "2.9.0", "cu130"),
        Some(Severity::Error)
    );
    assert_eq!(
        on("12.4.1-runtime-ubuntu22.04", "2.9.0", "cu130"),
        Some(Severity::Warning)
    );
    let a = check(
        "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.6.0 torchvision==0.21.0\n",
    );
    let f = &find(&a, "DU201")[0];
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.facts
            .iter()
            .any(|x| x.starts_with("assumption: the hosts that run this image")),
        "{:?}",
        f.facts
    );
    // Within the major: minor-version compatibility; torch only warns on an nvcc minor mismatch.
    assert_eq!(
        on("12.4.1-runtime-ubuntu22.04", "2.7.1", "cu128"),
        Some(Severity::Info)
    );
    assert_eq!(
        on("12.4.1-devel-ubuntu22.04", "2.3.1", "cu121"),
        Some(Severity::Info)
    );
    assert_eq!(
        on("12.4.1-runtime-ubuntu22.04", "2.3.1", "cu121"),
        Some(Severity::Info)
    );
    assert_eq!(
        on("12.4.1-devel-ubuntu22.04", "2.3.1", "cu118"),
        Some(Severity::Warning)
    );
    assert_eq!(
        on("12.4.1-runtime-ubuntu22.04", "2.3.1", "cu118"),
        Some(Severity::Info)
    );
    assert_eq!(on("12.4.1-runtime-ubuntu22.04", "2.5.1", "cu124"), None);
}

#[test]
fn moving_a_cudnn_base_uses_the_target_releases_cudnn_spelling() {
    let fix_ref = |df: &str| {
        let a = check(df);
        let f = find(&a, "DU201");
        assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
        f[0].fixes
            .iter()
            .find(|x| x.id == "DU201.move-base")
            .map(|x| x.description.clone())
    };
    // 12.4.1 tags its cuDNN images `cudnn` (cuDNN 9): no `12.4.1-cudnn8-...`, which does not exist.
    let cudnn8 = "FROM nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.6.0 --index-url https://download.pytorch.org/whl/cu124\n";
    assert_eq!(
        fix_ref(cudnn8).as_deref(),
        Some("Move the base image to nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04")
    );
    // Must not change: an image without cuDNN keeps its shape.
    let plain = cudnn8.replace("12.1.1-cudnn8-runtime", "12.1.1-runtime");
    assert_eq!(
        fix_ref(&plain).as_deref(),
        Some("Move the base image to nvidia/cuda:12.4.1-runtime-ubuntu22.04")
    );
}

#[test]
fn an_info_level_du201_never_moves_the_projects_torch() {
    // Same CUDA major (info): torch 2.1.0 (cu121) on a CUDA 12.4 base runs; no fix moves it to torch 2.6.
    let minor = check(
        "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.1.0\n",
    );
    let f = find(&minor, "DU201");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&minor));
    assert_eq!(f[0].severity, Severity::Info);
    assert!(
        f[0].fixes.iter().all(|x| x.id != "DU201.move-torch"),
        "{:?}",
        f[0].fixes
    );
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("no torch move offered"))
    );
    // Across a major (warning: an open range picks cu130 on a CUDA 12 image): moving torch is offered.
    let major = check(
        "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir 'torch>=2.9'\n",
    );
    let f = find(&major, "DU201");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&major));
    assert!(f[0].severity <= Severity::Warning);
    assert!(
        f[0].fixes.iter().any(|x| x.id == "DU201.move-torch"),
        "{:?}",
        f[0].fixes
    );
}

// ---- missed detections ----

#[test]
fn du205_builds_that_never_existed_also_through_args() {
    let a = check(
        "FROM nvidia/cuda:11.3.1-devel-ubuntu20.04\nARG TORCH=1.13.1\nARG CUDA_TAG=cu113\nRUN pip install --no-cache-dir torch==${TORCH}+${CUDA_TAG} -f https://download.pytorch.org/whl/torch\n",
    );
    let f = find(&a, "DU205");
    assert_eq!(f.len(), 1, "{:?}", a.findings);
    assert!(f[0].message.contains("cu113"));
    // A tag newer than the release shipped.
    let a = check(
        "FROM python:3.10\nRUN pip install torch==2.1.2+cu124 -f https://download.pytorch.org/whl/torch\n",
    );
    assert_eq!(find(&a, "DU205").len(), 1);
    // A build that exists.
    let a = check(
        "FROM nvidia/cuda:11.7.1-devel-ubuntu20.04\nARG TORCH=1.13.1\nARG CUDA_TAG=cu117\nRUN pip install --no-cache-dir torch==${TORCH}+${CUDA_TAG} -f https://download.pytorch.org/whl/torch\n",
    );
    assert!(find(&a, "DU205").is_empty()); // --index-url with no such build: pip finds nothing, the build fails.
    let on = |flag: &str, tool: &str| {
        let a = check(&format!(
            "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04\nRUN {tool} install --no-cache-dir torch==2.6.0 {flag} https://download.pytorch.org/whl/cu121\n"
        ));
        find(&a, "DU205")
            .first()
            .map(|f| (f.severity, f.facts.clone()))
    };
    assert_eq!(on("--index-url", "pip").unwrap().0, Severity::Error);
    // --extra-index-url: pip takes PyPI's default build and the install succeeds: a warning that says so.
    let (severity, facts) = on("--extra-index-url", "pip").unwrap();
    assert_eq!(severity, Severity::Warning);
    assert!(
        facts.iter().any(|x| x.contains("pip falls back to PyPI")),
        "{facts:?}"
    );
    // uv stops at the first index that has torch: still an error.
    assert_eq!(
        on("--extra-index-url", "uv pip").unwrap().0,
        Severity::Error
    );
}

#[test]
fn du214_arch_list_without_datacenter_gpus() {
    let bad = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nENV TORCH_CUDA_ARCH_LIST=\"7.5 8.6\"\nRUN pip install --no-build-isolation flash-attn==2.6.3\n";
    let a = check(bad);
    let f = find(&a, "DU214");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].facts.iter().any(|x| x.starts_with("assumption")));
    let fix = &f[0].fixes[0];
    assert_eq!(fix.level, crate::analyze::FixLevel::Suggestion);
    let fixed = apply_edits(bad, &fix.edits);
    assert!(
        fixed.contains("TORCH_CUDA_ARCH_LIST=\"7.5 8.6 8.0 9.0+PTX\""),
        "{fixed}"
    );
    assert!(find(&check(&fixed), "DU214").is_empty());
    for ok in [
        "ARG TORCH_CUDA_ARCH_LIST=\"8.0;8.6;9.0\"",
        "ENV TORCH_CUDA_ARCH_LIST=\"7.5;8.6+PTX\"",
        "ENV TORCH_CUDA_ARCH_LIST=\"Ampere Hopper\"",
        "ENV TORCH_CUDA_ARCH_LIST=${ARCHS}",
        "ENV TORCH_CUDA_ARCH_LIST=all",
    ] {
        let a = check(&format!(
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\n{ok}\n"
        ));
        assert!(find(&a, "DU214").is_empty(), "{ok}");
    }
    // In a RUN assignment.
    let a = check(
        "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nRUN TORCH_CUDA_ARCH_LIST=\"8.6\" pip install -v .\n",
    );
    assert_eq!(find(&a, "DU214").len(), 1);
}

#[test]
fn du208_silent_for_script_made_paths_and_unknown_images() {
    let sourced = "FROM alpine/git:2.45.2 AS fetch\nCOPY fetch.sh /fetch.sh\nRUN . /fetch.sh models https://example.org/models.git\n\
        FROM python:3.11-slim\nCOPY --from=fetch /repos/ /app/repos/\n";
    assert!(find(&check(sourced), "DU208").is_empty());
    let known_base_script = "FROM ubuntu:22.04 AS fetch\nCOPY fetch.sh /fetch.sh\nRUN bash /fetch.sh\n\
        FROM python:3.11-slim\nCOPY --from=fetch /repos/ /app/repos/\n";
    assert!(find(&check(known_base_script), "DU208").is_empty());
    let external = "FROM ghcr.io/astral-sh/uv:0.5.11 AS uv\nFROM python:3.11-slim\nCOPY --from=uv /uv /uvx /bin/\n";
    assert!(find(&check(external), "DU208").is_empty());
    // A builder on a known image that builds under /app but the COPY names /workspace.
    let wrong = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build\nWORKDIR /app\nCOPY . .\nRUN cmake -B build && cmake --build build -j\n\
        FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nCOPY --from=build /workspace/build/bin/server /usr/local/bin/server\n";
    assert_eq!(find(&check(wrong), "DU208").len(), 1);
}

#[test]
fn du207_silent_when_the_build_links_the_stubs() {
    let cmake = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nWORKDIR /src\nCOPY . .\nRUN cmake -B build -DGGML_CUDA=ON && cmake --build build -j\n";
    let a = check(cmake);
    let f = find(&a, "DU207");
    assert_eq!(f.len(), 1);
    // Changing how a build links is never "safe".
    assert!(
        f[0].fixes
            .iter()
            .all(|x| x.level != crate::analyze::FixLevel::Safe)
    );
    for handled in [
        // llama.cpp's Makefile adds -L$(CUDA_PATH)/lib64/stubs itself.
        "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nWORKDIR /src\nCOPY . .\nENV LLAMA_CUDA=1\nRUN make -j4\n",
        "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nWORKDIR /src\nCOPY . .\nRUN cmake -B build -DGGML_CUDA=ON -DCMAKE_EXE_LINKER_FLAGS=-L/usr/local/cuda/lib64/stubs && cmake --build build -j\n",
        "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nWORKDIR /src\nCOPY . .\nENV LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib/stubs\nRUN cmake -B build -DGGML_CUDA=ON && cmake --build build -j\n",
    ] {
        assert!(find(&check(handled), "DU207").is_empty(), "{handled}");
    }
}

// ---- build gates severities ----

#[test]
fn du101_is_an_error_only_with_a_known_prompter() {
    let prompts = check(
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends tzdata python3\n",
    );
    let f = find(&prompts, "DU101");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].facts.iter().any(|x| x.contains("tzdata")));
    let quiet = check(
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends git curl\n",
    );
    let f = find(&quiet, "DU101");
    assert!(f[0].severity > Severity::Warning, "{:?}", f[0].severity);
    // tzdata with the zone preset does not ask.
    let preset = check(
        "FROM ubuntu:22.04\nENV TZ=Etc/UTC\nRUN ln -snf /usr/share/zoneinfo/$TZ /etc/localtime && echo $TZ > /etc/timezone\nRUN apt-get update && apt-get install -y tzdata\n",
    );
    assert!(find(&preset, "DU101")[0].severity > Severity::Warning);
}

#[test]
fn missing_yes_is_an_error_and_dpkg_i_is_not_a_likely_failure() {
    let a = check(
        "FROM ubuntu:22.04\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get update && apt-get install --no-install-recommends git\n",
    );
    assert_eq!(find(&a, "DL3014")[0].severity, Severity::Error);
    let a = check("FROM ubuntu:22.04\nCOPY tool.deb /tmp/\nRUN dpkg -i /tmp/tool.deb\n");
    assert!(
        find(&a, "DU102")
            .iter()
            .all(|f| f.severity > Severity::Warning)
    );
    // An upgrade after a conffile was edited earlier can stop at dpkg's prompt.
    let a = check(
        "FROM ubuntu:22.04\nENV DEBIAN_FRONTEND=noninteractive\nRUN echo 'ALL ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers\nRUN apt-get update && apt-get upgrade -y\n",
    );
    assert_eq!(find(&a, "DU102")[0].severity, Severity::Warning);
    let a = check(
        "FROM ubuntu:22.04\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get update && apt-get upgrade -y\n",
    );
    assert!(find(&a, "DU102")[0].severity > Severity::Warning);
}

#[test]
fn safe_fixes_never_change_what_is_built() {
    // Every rule's declared fix levels; the fixes that change images, pins or links are never safe.
    for r in crate::analyze::rules::catalog() {
        let id = r.id.as_str();
        if matches!(
            id,
            "DU110"
                | "DU201"
                | "DU202"
                | "DU203"
                | "DU204"
                | "DU205"
                | "DU207"
                | "DU209"
                | "DU210"
                | "DU211"
                | "DU212"
                | "DU213"
                | "DU214"
                | "DL3025"
                | "DL4006"
        ) {
            assert!(
                !r.fixes.contains(&crate::analyze::FixLevel::Safe),
                "{id} declares a safe fix"
            );
        }
    }
    let a = check(
        "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04:\nRUN cmake -B b -DGGML_CUDA=ON && cmake --build b\n",
    );
    for f in &a.findings {
        if let Some(info) = crate::analyze::rules::info(f.rule) {
            for fix in &f.fixes {
                assert!(
                    info.fixes.contains(&fix.level),
                    "{} offers an undeclared {:?} fix",
                    f.rule,
                    fix.level
                );
            }
        }
    }
}

#[test]
fn no_deps_keeps_torch_and_says_so() {
    let df = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nRUN pip install --no-cache-dir --no-deps torchvision==0.18.1\n";
    let a = check(df);
    let f = find(&a, "DU202");
    assert_eq!(f.len(), 1);
    assert!(f[0].facts.iter().any(|x| x.contains("--no-deps")));
    let ok = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nRUN pip install --no-cache-dir --no-deps torchvision==0.19.0\n";
    assert!(find(&check(ok), "DU202").is_empty());
}

#[test]
fn a_fallback_after_or_is_not_the_install() {
    // `[ test ] && a || b`: with the default the test holds, a runs, b (a cu130 nightly) does not.
    let df = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nARG CHANNEL=stable\n\
        RUN [ \"$CHANNEL\" != \"nightly\" ] && pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124 || pip install torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n";
    assert!(
        gpu_warnings(&check(df)).is_empty(),
        "{:?}",
        gpu_warnings(&check(df))
    );
    let nightly = df.replace("ARG CHANNEL=stable", "ARG CHANNEL=nightly");
    assert_eq!(find(&check(&nightly), "DU201").len(), 1);
}

#[test]
fn pip_install_dot_takes_dependencies_and_only_the_named_extras() {
    let pyproject = "[project]\nname = \"imgtools\"\nversion = \"0.3\"\ndependencies = [\n  \"numpy<2\",\n]\n\n[project.optional-dependencies]\nlegacy = [\n  \"torchvision==0.16.0\",\n]\nvision = [\n  \"torchvision==0.18.1\",\n]\n";
    let base = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nWORKDIR /pkg\nCOPY . .\n";
    let files = [("pyproject.toml", pyproject)];
    // `.` installs `dependencies` only: no optional group is judged.
    let a = check_with(&format!("{base}RUN pip install --no-cache-dir .\n"), &files);
    assert!(find(&a, "DU202").is_empty(), "{:?}", gpu_warnings(&a));
    // `".[vision]"` adds exactly that group: its torchvision does not match the image's torch 2.4.
    let a = check_with(
        &format!("{base}RUN pip install --no-cache-dir \".[vision]\"\n"),
        &files,
    );
    let f = find(&a, "DU202");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert_eq!(f[0].span.line, 13);
    // uv sync installs the dependencies only by default.
    let a = check_with(&format!("{base}RUN uv sync\n"), &files);
    assert!(find(&a, "DU202").is_empty());
}

#[test]
fn du209_needs_a_base_known_to_have_no_torch() {
    let run = "RUN pip install --no-cache-dir 'torch>=2.4' transformers==4.46.2\n";
    // An organisation's own base image may already hold torch: no verdict.
    assert!(find(&check(&format!("FROM acme/ml-base:main\n{run}")), "DU209").is_empty());
    // Plain OS and python images have none.
    assert_eq!(
        find(&check(&format!("FROM ubuntu:22.04\n{run}")), "DU209").len(),
        1
    );
    assert_eq!(
        find(&check(&format!("FROM python:3.11-slim\n{run}")), "DU209").len(),
        1
    );
}

// ---- virtual environments ----

const TORCH24: &str = "FROM pytorch/pytorch:2.4.0-cuda12.4-cudnn9-runtime\n";

#[test]
fn a_fresh_venv_does_not_see_the_base_images_torch() {
    // A fine-tuning image: the requirements ask for a torch the base already has, but pip runs in a venv
    // created without --system-site-packages, so it downloads a second torch.
    let reqs = "torch>=2.4\ntransformers==4.44.2\npeft==0.12.0\n";
    let df = format!(
        "{TORCH24}RUN python -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\nWORKDIR /srv\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    );
    let a = check_with(&df, &[("requirements.txt", reqs)]);
    let f = find(&a, "DU203");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].file.to_str(), Some("requirements.txt"));
    assert!(f[0].message.contains("/opt/venv"), "{}", f[0].message);
    // The fix makes the venv see the image's torch; then pip keeps it and nothing is left to say.
    let fix = f[0]
        .fixes
        .iter()
        .find(|x| x.id == "DU203.system-site")
        .expect("system-site fix");
    let fixed = apply_edits(&df, &fix.edits);
    assert!(
        fixed.contains("python -m venv --system-site-packages /opt/venv"),
        "{fixed}"
    );
    let a = check_with(&fixed, &[("requirements.txt", reqs)]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    // Must not: the same requirements installed into the image's own python keep its torch.
    let system = format!(
        "{TORCH24}WORKDIR /srv\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"
    );
    let a = check_with(&system, &[("requirements.txt", reqs)]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
}

#[test]
fn venv_programs_activation_and_uv_find_their_environment() {
    let fresh = [
        // The venv's own pip, and its python -m pip, and an activated venv.
        "RUN virtualenv /opt/env && /opt/env/bin/pip install --no-cache-dir torch==2.4.0\n",
        "RUN python3 -m venv /opt/env\nRUN /opt/env/bin/python -m pip install --no-cache-dir torch==2.4.0\n",
        "RUN python3 -m venv /opt/env && . /opt/env/bin/activate && pip install --no-cache-dir torch==2.4.0\n",
        // uv: `uv venv` then `uv pip install` finds `.venv`; `--python` names it.
        "RUN uv venv /opt/env && uv pip install --no-cache --python /opt/env/bin/python torch==2.4.0\n",
        "ENV VIRTUAL_ENV=/opt/env\nRUN uv venv $VIRTUAL_ENV && uv pip install --no-cache torch==2.4.0\n",
    ];
    for run in fresh {
        let a = check(&format!("{TORCH24}{run}"));
        assert_eq!(find(&a, "DU203").len(), 1, "{run}: {:?}", gpu_warnings(&a));
    }
    // Must not: the same pin as the base's torch into the image's python (a no-op), a venv that sees the
    // system site-packages, and uv told to use the system.
    let kept = [
        "RUN pip install --no-cache-dir torch==2.4.0\n",
        "RUN python3 -m venv --system-site-packages /opt/env && /opt/env/bin/pip install --no-cache-dir torch==2.4.0\n",
        "RUN uv venv /opt/env && uv pip install --no-cache --system torch==2.4.0\n",
        // A venv the Dockerfile does not make (it may come with the base): the system reading stays.
        "RUN /opt/other/bin/pip install --no-cache-dir torch==2.4.0\n",
    ];
    for run in kept {
        let a = check(&format!("{TORCH24}{run}"));
        assert!(
            find(&a, "DU203").is_empty(),
            "{run}: {:?}",
            gpu_warnings(&a)
        );
    }
}

#[test]
fn torchvision_in_a_fresh_venv_brings_its_own_torch() {
    // In the image's python, torchvision 0.18 does not match the base's torch 2.4 (DU202); in a fresh venv
    // pip installs the torch 0.18 needs next to it, so there is no mismatch.
    let system = format!("{TORCH24}RUN pip install --no-cache-dir torchvision==0.18.1\n");
    assert_eq!(find(&check(&system), "DU202").len(), 1);
    let venv = format!(
        "{TORCH24}RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir torchvision==0.18.1\n"
    );
    let a = check(&venv);
    assert!(find(&a, "DU202").is_empty(), "{:?}", gpu_warnings(&a));
}

#[test]
fn an_earlier_torch_in_another_environment_does_not_satisfy_a_venv() {
    // torch 2.5.1 (cu124) goes into the system python; the app's venv asks for torch>=2.4 and gets PyPI's
    // newest default build (CUDA 13) instead, on a CUDA 12.4 image.
    let reqs = "torch>=2.4\n";
    let df = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n\
        RUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124\n\
        COPY requirements.txt .\n\
        RUN python3 -m venv /app/venv && /app/venv/bin/pip install --no-cache-dir -r requirements.txt\n";
    let a = check_with(df, &[("requirements.txt", reqs)]);
    assert!(
        find(&a, "DU201")
            .iter()
            .any(|f| f.file.to_str() == Some("requirements.txt")),
        "{:?}",
        gpu_warnings(&a)
    );
    // Must not: the same install into the system python keeps the torch already there.
    let same = df.replace("python3 -m venv /app/venv && /app/venv/bin/pip", "pip");
    let a = check_with(&same, &[("requirements.txt", reqs)]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
}

// ---- uv sync extras, conda builds ----

#[test]
fn uv_sync_extra_selects_that_optional_group() {
    let pyproject = "[project]\nname = \"captioner\"\nversion = \"0.3.0\"\nrequires-python = \">=3.10\"\ndependencies = [\"pillow>=10\", \"fastapi==0.115.0\"]\n\n[project.optional-dependencies]\ngpu = [\"torch==2.3.1\", \"torchvision==0.19.0\"]\ndev = [\"pytest\"]\n";
    let df = |sync: &str| {
        format!(
            "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY --from=ghcr.io/astral-sh/uv:0.5.4 /uv /bin/\nWORKDIR /app\nCOPY pyproject.toml uv.lock ./\nRUN {sync}\n"
        )
    };
    for sync in [
        "uv sync --frozen --extra gpu",
        "uv sync --frozen --all-extras",
    ] {
        let a = check_with(&df(sync), &[("pyproject.toml", pyproject)]);
        let f = find(&a, "DU202");
        assert_eq!(f.len(), 1, "{sync}: {:?}", gpu_warnings(&a));
        assert_eq!(f[0].file.to_str(), Some("pyproject.toml"));
    }
    // Must not: without the extra, the gpu group is not installed.
    for sync in ["uv sync --frozen", "uv sync --frozen --extra dev"] {
        let a = check_with(&df(sync), &[("pyproject.toml", pyproject)]);
        assert!(
            find(&a, "DU202").is_empty(),
            "{sync}: {:?}",
            gpu_warnings(&a)
        );
    }
}

#[test]
fn conda_builds_named_by_cuda_version_cudatoolkit_or_build_string_are_read() {
    // A CUDA 11.8 image; conda asked for a CUDA 12.1 build of pytorch 2.1 in three ways.
    let base = "FROM nvidia/cuda:11.8.0-runtime-ubuntu22.04\n";
    for spec in [
        "pytorch=2.1.2 pytorch-cuda=12.1 -c pytorch -c nvidia",
        "pytorch=2.1.2 cuda-version=12.1 -c conda-forge",
        "\"pytorch=2.1.2=py3.10_cuda12.1_cudnn8.9.2_0\" -c pytorch -c nvidia",
    ] {
        let a = check(&format!(
            "{base}RUN conda install -y {spec} && conda clean -afy\n"
        ));
        let f = find(&a, "DU201");
        assert_eq!(f.len(), 1, "{spec}: {:?}", gpu_warnings(&a));
        // A runtime image: fails only where the host driver is too old for CUDA 12.1 (an assumption).
        assert_eq!(f[0].severity, Severity::Warning, "{spec}");
        assert!(
            f[0].facts.iter().any(|x| x.contains("conda")),
            "{:?}",
            f[0].facts
        );
        // The conda fix asks for the base's CUDA build; after it nothing GPU-related is left.
        if let Some(fix) = f[0].fixes.iter().find(|x| x.id == "DU201.conda-cuda") {
            let df = format!("{base}RUN conda install -y {spec} && conda clean -afy\n");
            let fixed = apply_edits(&df, &fix.edits);
            assert!(fixed.contains("=11.8"), "{fixed}");
            let a = check(&fixed);
            assert!(
                gpu_warnings(&a).is_empty(),
                "{fixed}: {:?}",
                gpu_warnings(&a)
            );
        } else {
            assert!(
                spec.contains("py3.10_cuda"),
                "{spec}: no conda fix: {:?}",
                f[0].fixes
            );
        }
    }
    // Must not: the matching CUDA build, the CPU build (`cpuonly`), and a build nothing names.
    for spec in [
        "pytorch=2.1.2 cudatoolkit=11.8 -c pytorch -c nvidia",
        "pytorch=2.1.2 cpuonly -c pytorch",
        "pytorch=2.1.2 -c conda-forge",
    ] {
        let a = check(&format!(
            "{base}RUN conda install -y {spec} && conda clean -afy\n"
        ));
        assert!(
            find(&a, "DU201").is_empty(),
            "{spec}: {:?}",
            gpu_warnings(&a)
        );
    }
}

#[test]
fn companions_are_judged_against_the_torch_a_kept_install_leaves_in_place() {
    // torch 2.5.1 is installed first; `torch>=2.4` in the requirements is then a no-op, so the later
    // torchvision/torchaudio pins match the torch that is really there.
    let reqs = "torch>=2.4\ntransformers==4.46.0\n";
    let df = "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04\n\
        RUN pip install --no-cache-dir torch==2.5.1\n\
        COPY requirements.txt .\n\
        RUN pip install --no-cache-dir -r requirements.txt\n\
        RUN pip install --no-cache-dir torchvision==0.20.1 torchaudio==2.5.1\n";
    let a = check_with(df, &[("requirements.txt", reqs)]);
    assert!(find(&a, "DU202").is_empty(), "{:?}", gpu_warnings(&a));
    // The requirement the earlier torch does not satisfy replaces it: the pins no longer match.
    let a = check_with(df, &[("requirements.txt", "torch>=2.6,<2.7\n")]);
    let f = find(&a, "DU202");
    assert_eq!(f.len(), 2, "{:?}", gpu_warnings(&a));
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("from requirements.txt:1")),
        "{:?}",
        f[0].facts
    );
}

#[test]
fn an_environment_copied_from_a_builder_stage_keeps_its_torch() {
    let reqs = "torch>=2.4\ntransformers==4.44.0\n";
    let builder = "FROM nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04 AS builder\n\
        RUN python3 -m venv /opt/venv\n\
        RUN /opt/venv/bin/pip install --no-cache-dir torch==2.5.1 torchvision==0.20.1 --index-url https://download.pytorch.org/whl/cu124\n\n\
        FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04\n";
    let tail = "ENV PATH=/opt/venv/bin:$PATH\n\
        COPY requirements.txt .\n\
        RUN pip install --no-cache-dir -r requirements.txt\n\
        RUN pip install --no-cache-dir torchaudio==2.5.1\n";
    let copied = format!("{builder}COPY --from=builder /opt/venv /opt/venv\n{tail}");
    let a = check_with(&copied, &[("requirements.txt", reqs)]);
    assert!(gpu_warnings(&a).is_empty(), "{:?}", gpu_warnings(&a));
    assert!(find(&a, "DU201").is_empty() && find(&a, "DU202").is_empty());
    // The parent directory copied whole carries the venv too.
    let parent = format!("{builder}COPY --from=builder /opt /opt\n{tail}");
    let a = check_with(&parent, &[("requirements.txt", reqs)]);
    assert!(find(&a, "DU201").is_empty(), "{:?}", gpu_warnings(&a));
    // Not copied, or copied somewhere the later pip does not use: the range installs today's torch.
    for df in [
        format!("{builder}{tail}"),
        format!("{builder}COPY --from=builder /opt/venv /srv/venv\n{tail}"),
    ] {
        let a = check_with(&df, &[("requirements.txt", reqs)]);
        assert!(!find(&a, "DU201").is_empty(), "{df}");
    }
    // A system site-packages copied between stages of the same python image.
    let site = "FROM python:3.11-slim AS builder\n\
        RUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124\n\
        FROM python:3.11-slim\n\
        COPY --from=builder /usr/local/lib/python3.11/site-packages /usr/local/lib/python3.11/site-packages\n\
        COPY requirements.txt .\n\
        RUN pip install --no-cache-dir -r requirements.txt\n";
    let a = check_with(site, &[("requirements.txt", reqs)]);
    assert!(find(&a, "DU209").is_empty(), "{:?}", gpu_warnings(&a));
    let not_copied = site.replace(
        "COPY --from=builder /usr/local/lib/python3.11/site-packages /usr/local/lib/python3.11/site-packages\n",
        "",
    );
    let a = check_with(&not_copied, &[("requirements.txt", reqs)]);
    assert!(!find(&a, "DU209").is_empty(), "{:?}", gpu_warnings(&a));
}

#[test]
fn an_unpinned_torch_over_an_image_that_has_torch_is_kept_unless_something_moves_it() {
    let df = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\n\
        COPY requirements.txt .\n\
        RUN pip install --no-cache-dir -r requirements.txt\n";
    let a = check_with(df, &[("requirements.txt", "torch\naccelerate\n")]);
    assert!(find(&a, "DU203").is_empty(), "{:?}", gpu_warnings(&a));
    // -U, --force-reinstall, another pinned version, or a torchvision range the image's own torchvision does
    // not satisfy (its newest release pins a newer torch) replace it.
    for (run, reqs) in [
        ("-U -r requirements.txt", "torch\naccelerate\n"),
        (
            "--force-reinstall -r requirements.txt",
            "torch\naccelerate\n",
        ),
        ("-r requirements.txt", "torch==2.5.1\naccelerate\n"),
        ("-r requirements.txt", "torch\ntorchvision>=0.20\n"),
    ] {
        let a = check_with(
            &df.replace("-r requirements.txt", run),
            &[("requirements.txt", reqs)],
        );
        assert_eq!(
            find(&a, "DU203").len(),
            1,
            "{run} {reqs}: {:?}",
            gpu_warnings(&a)
        );
    }
    // The image ships torchvision and torchaudio with its torch: open ones it satisfies are kept too; next to a
    // torch pinned to the image's, pip picks the torchvision that fits.
    for reqs in [
        "torch\ntorchvision\ntorchaudio\n",
        "torch>=2.1\ntorchvision>=0.16\n",
        "torch==2.4.0\ntorchvision>=0.20\n",
    ] {
        let a = check_with(df, &[("requirements.txt", reqs)]);
        assert!(
            gpu_warnings(&a).is_empty(),
            "{reqs}: {:?}",
            gpu_warnings(&a)
        );
    }
}

#[test]
fn du203_on_a_rocm_image_speaks_of_rocm() {
    let df = "FROM rocm/pytorch:rocm6.2_ubuntu22.04_py3.10_pytorch_release_2.3.0\n\
        COPY requirements.txt .\n\
        RUN pip install --no-cache-dir -r requirements.txt\n";
    let a = check_with(df, &[("requirements.txt", "torch\naccelerate\n")]);
    assert!(find(&a, "DU203").is_empty(), "{:?}", gpu_warnings(&a));
    let a = check_with(df, &[("requirements.txt", "torch==2.5.1\n")]);
    let f = find(&a, "DU203");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    let text = format!("{} {} {:?}", f[0].message, f[0].why, f[0].facts);
    assert!(!text.contains("CUDA") && !text.contains("nvidia"), "{text}");
    assert!(text.contains("ROCm"), "{text}");
}

#[test]
fn an_open_companion_in_a_later_run_replaces_the_installed_torch() {
    let df = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\n\
        RUN pip install --no-cache-dir torch==2.3.1\n\
        RUN pip install --no-cache-dir torchvision\n";
    let a = check(df);
    let f = find(&a, "DU202");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("torch 2.3.1 from Dockerfile:2")),
        "{:?}",
        f[0].facts
    );
    assert!(
        f[0].facts.iter().any(|x| x.contains("driver >=")),
        "{:?}",
        f[0].facts
    );
    // The fix pins the companion to torch 2.3's series; the result is clean.
    let fix = &f[0].fixes[0];
    let fixed = apply_edits(df, &fix.edits);
    assert!(fixed.contains("torchvision==0.18.*"), "{fixed}");
    let a = check(&fixed);
    assert!(find(&a, "DU202").is_empty(), "{:?}", gpu_warnings(&a));
    // Asked together with torch, pip picks the torchvision that fits: nothing to say. Same for a fresh install
    // of both.
    for ok in [
        "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.3.1 torchvision\n",
        "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.3.1\nRUN pip install --no-cache-dir torch==2.3.1 torchvision\n",
        "FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04\nRUN pip install --no-cache-dir torch torchvision\n",
    ] {
        let a = check(ok);
        assert!(find(&a, "DU202").is_empty(), "{ok}: {:?}", gpu_warnings(&a));
    }
    // An earlier install that named torchvision keeps it (whatever it brought).
    let a = check(&df.replace("torch==2.3.1\n", "torch==2.3.1 torchvision==0.18.1\n"));
    assert!(find(&a, "DU202").is_empty(), "{:?}", gpu_warnings(&a));
    // Over a pytorch image the image's own torchaudio satisfies an open one; a range above it pulls the newest.
    let pt = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nRUN pip install --no-cache-dir torchaudio\n";
    assert!(find(&check(pt), "DU202").is_empty());
    let pt = pt.replace("torchaudio\n", "'torchaudio>=2.5'\n");
    let a = check(&pt);
    let f = find(&a, "DU202");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("assumption: the image ships torchaudio 2.4")),
        "{:?}",
        f[0].facts
    );
    let fixed = apply_edits(&pt, &f[0].fixes[0].edits);
    assert!(fixed.contains("torchaudio==2.4.*"), "{fixed}");
    assert!(find(&check(&fixed), "DU202").is_empty());
}

#[test]
fn a_version_move_keeps_extras_markers_and_the_rest_of_the_line() {
    // (file, its text, the fixed text expected)
    let base = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY . /app\nWORKDIR /app\n";
    let cases = [
        (
            "requirements.txt",
            "torch==2.2.0\ntorchvision[scipy]==0.18.0 ; python_version >= \"3.9\"  # vision\n",
            "torchvision[scipy]==0.17.* ; python_version >= \"3.9\"  # vision",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"seg\"\nversion = \"0.1\"\ndependencies = [\"torch==2.2.0\", \"torchvision [extra] == 0.18.0; sys_platform == 'linux'\"]\n",
            "\"torchvision [extra]==0.17.*; sys_platform == 'linux'\"",
        ),
        (
            "pyproject.toml",
            "[project]\nname = \"seg\"\nversion = \"0.1\"\ndependencies = [\n  \"torch==2.2.0\",\n  \"\"\"torchvision==0.18.0 ; \\\n     python_version >= \"3.9\"\"\"\",\n]\n",
            "\"\"\"torchvision==0.17.* ; \\\n     python_version >= \"3.9\"\"\"\"",
        ),
    ];
    for (file, text, want) in cases {
        let run = if file == "requirements.txt" {
            "RUN pip install --no-cache-dir -r requirements.txt\n"
        } else {
            "RUN pip install --no-cache-dir .\n"
        };
        let a = check_with(&format!("{base}{run}"), &[(file, text)]);
        let f = find(&a, "DU202");
        assert_eq!(f.len(), 1, "{text}: {:?}", gpu_warnings(&a));
        let fixed = apply_edits(text, &f[0].fixes[0].edits);
        assert!(fixed.contains(want), "{fixed}");
        // The fixed file parses and is clean.
        let a = check_with(&format!("{base}{run}"), &[(file, &fixed)]);
        assert!(
            find(&a, "DU202").is_empty(),
            "{fixed}: {:?}",
            gpu_warnings(&a)
        );
    }
    // Extras in a pinned torch over a pytorch image (DU203) and in a quoted shell word (DU202).
    let a = check_with(
        "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n",
        &[("requirements.txt", "torch[opt-einsum]==2.3.1\n")],
    );
    let f = find(&a, "DU203");
    assert_eq!(f.len(), 1, "{:?}", gpu_warnings(&a));
    assert_eq!(
        apply_edits("torch[opt-einsum]==2.3.1\n", &f[0].fixes[0].edits),
        "torch[opt-einsum]==2.4.0\n"
    );
    let df = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install torch==2.3.1 'torchvision[scipy]>=0.19,<0.20'\n";
    let f = find(&check(df), "DU202")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(f.len(), 1);
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(fixed.contains("'torchvision[scipy]==0.18.*'"), "{fixed}");
}

#[test]
fn the_no_move_fact_says_why_for_an_older_major_too() {
    let a = check(
        "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN python3.11 -m pip install --no-cache-dir torch==2.0.1\n",
    );
    let f = find(&a, "DU201");
    assert_eq!(f.len(), 1, "{:?}", a.findings);
    assert_eq!(f[0].severity, Severity::Info);
    let no_move = f[0]
        .facts
        .iter()
        .find(|x| x.starts_with("no torch move"))
        .unwrap();
    assert!(!no_move.contains("within a CUDA major"), "{no_move}");
    // Within a major the fact says so.
    let a = check(
        "FROM nvidia/cuda:12.6.3-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.5.1\n",
    );
    let f = find(&a, "DU201");
    assert_eq!(f.len(), 1, "{:?}", a.findings);
    assert!(
        f[0].facts.iter().any(|x| x.contains("within a CUDA major")),
        "{:?}",
        f[0].facts
    );
}

#[test]
fn a_dry_run_install_puts_no_torch_in_place() {
    // The dry run "installs" torch 2.9 (cu128): nothing is installed, so the later torchvision meets only
    // the image's own torch, and the dry run's build is no DU201 either.
    let base = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.5.1 torchvision==0.20.1\n";
    let dry = format!(
        "{base}RUN pip install --no-cache-dir --dry-run torch==2.9.0 --index-url https://download.pytorch.org/whl/cu130\n"
    );
    let a = check(&dry);
    assert!(
        find(&a, "DU201").is_empty() && find(&a, "DU202").is_empty(),
        "{:?}",
        gpu_warnings(&a)
    );
    // The same without --dry-run is judged.
    let real = dry.replace("--dry-run ", "");
    assert!(!find(&check(&real), "DU201").is_empty());
}

#[test]
fn du215_uv_auto_backend_during_a_build_on_a_cuda_image() {
    let on = |from: &str, run: &str| {
        check(&format!("FROM {from}\n{run}\n"))
            .findings
            .into_iter()
            .filter(|f| f.rule == "DU215")
            .collect::<Vec<_>>()
    };
    let cuda = "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04";
    let f = on(
        cuda,
        "RUN uv pip install --system --torch-backend=auto torch==2.6.0",
    );
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].facts.iter().any(|x| x.starts_with("assumption:")),
        "{f:#?}"
    );
    assert!(
        f[0].facts
            .iter()
            .any(|x| x.contains("--torch-backend=cu124")),
        "{f:#?}"
    );
    // The environment variable too.
    assert_eq!(
        on(
            cuda,
            "RUN UV_TORCH_BACKEND=auto uv pip install --system torch==2.6.0"
        )
        .len(),
        1
    );
    // Must not: a named backend, plain pip, or an image without CUDA (the CPU build is what it wants).
    assert!(
        on(
            cuda,
            "RUN uv pip install --system --torch-backend=cu124 torch==2.6.0"
        )
        .is_empty()
    );
    assert!(on(cuda, "RUN pip install --no-cache-dir torch==2.6.0").is_empty());
    assert!(
        on(
            "python:3.11-slim",
            "RUN uv pip install --system --torch-backend=auto torch==2.6.0"
        )
        .is_empty()
    );
}

#[test]
fn a_conda_cuda_move_keeps_the_channel_and_the_package_name() {
    // environment.yml with channel-qualified specs, as conda writes them: the fix moves only the version.
    let env = "name: fold\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.10\n  - pytorch::pytorch=2.5\n  - pytorch::pytorch-cuda=12.4\n";
    let df = "FROM nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04\nCOPY environment.yml /tmp/\nRUN conda env create -f /tmp/environment.yml && conda clean -afy\n";
    let a = check_with(df, &[("environment.yml", env)]);
    let f = find(&a, "DU201");
    let fix = f
        .iter()
        .flat_map(|f| f.fixes.iter())
        .find(|x| x.id == "DU201.conda-cuda")
        .unwrap_or_else(|| panic!("{:?}", gpu_warnings(&a)));
    let fixed = apply_edits(env, &fix.edits);
    assert!(
        fixed.contains("  - pytorch::pytorch-cuda=12.1\n")
            && fixed.contains("pytorch::pytorch=2.5\n"),
        "{fixed}"
    );
}

#[test]
fn a_requirements_file_copied_under_another_name_is_the_one_pip_reads() {
    let reqs = [("requirements.txt", "torch==2.5.1\ntorchvision==0.21.0\n")];
    // Fires: `COPY requirements.txt /r.txt` then `-r /r.txt` reads requirements.txt (the auditor's miss).
    for df in [
        "FROM python:3.11\nCOPY requirements.txt /r.txt\nRUN pip install --no-cache-dir -r /r.txt\n",
        "FROM python:3.11\nWORKDIR /srv\nCOPY requirements.txt deps-gpu.txt\nRUN pip install --no-cache-dir -r deps-gpu.txt\n",
    ] {
        let a = check_with(df, &reqs);
        assert_eq!(
            crate::analyze::rules::testutil::count(&a, "DU202"),
            1,
            "{df}\n{:#?}",
            a.findings
        );
    }
    // Must not: the renamed file is another one, which is not in the project.
    let other =
        "FROM python:3.11\nCOPY other.txt /r.txt\nRUN pip install --no-cache-dir -r /r.txt\n";
    assert_eq!(
        crate::analyze::rules::testutil::count(&check_with(other, &reqs), "DU202"),
        0
    );
}
