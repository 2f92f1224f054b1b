//! DU211-DU213 from realistic Dockerfiles / requirements and hand-made host facts; every fix is applied and
//! re-analysed on the same host, and must clear its finding.

use crate::analyze::{
    Analysis, AnalyzeOptions, Dockerfile, Finding, HostGpu, HostGpuDevice, analyze_files,
    apply_edits,
};
use std::path::{Path, PathBuf};

fn host(driver: &str, cuda: (u32, u32), gpus: &[(u32, &str, (u32, u32))]) -> HostGpu {
    HostGpu {
        driver_version: driver.to_string(),
        cuda_driver: Some(cuda),
        gpus: gpus
            .iter()
            .map(|(i, n, cc)| HostGpuDevice {
                index: *i,
                name: n.to_string(),
                compute_capability: Some(*cc),
            })
            .collect(),
    }
}

const H100: (u32, &str, (u32, u32)) = (0, "NVIDIA H100 80GB HBM3", (9, 0));
const RTX5090: (u32, &str, (u32, u32)) = (1, "NVIDIA GeForce RTX 5090", (12, 0));
const V100: (u32, &str, (u32, u32)) = (0, "Tesla V100-SXM2-32GB", (7, 0));
const A100: (u32, &str, (u32, u32)) = (0, "NVIDIA A100-SXM4-80GB", (8, 0));

fn r535() -> HostGpu {
    host("535.104.05", (12, 2), &[A100])
}
fn r550(gpus: &[(u32, &str, (u32, u32))]) -> HostGpu {
    host("550.54.14", (12, 4), gpus)
}
fn r580(gpus: &[(u32, &str, (u32, u32))]) -> HostGpu {
    host("580.82.07", (13, 0), gpus)
}

fn run(h: &HostGpu, df: &str, files: &[(&str, &str)]) -> Analysis {
    let mut all: Vec<(PathBuf, String)> = vec![(PathBuf::from("Dockerfile"), df.to_string())];
    all.extend(files.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())));
    let opts = AnalyzeOptions {
        host: Some(h.clone()),
        ..Default::default()
    };
    analyze_files(&all, &opts)
}

fn of<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

fn has_fact(f: &Finding, s: &str) -> bool {
    f.facts.iter().any(|x| x.contains(s))
}

/// Every fix of every `rule` finding, applied alone on the same host, must lower that rule's count and keep
/// the Dockerfile parseable. Returns the fix ids seen.
fn fixes_clear(h: &HostGpu, df: &str, files: &[(&str, &str)], rule: &str) -> Vec<String> {
    let a = run(h, df, files);
    let before = of(&a, rule).len();
    let fixes: Vec<_> = of(&a, rule)
        .into_iter()
        .flat_map(|f| f.fixes.clone())
        .collect();
    assert!(
        !fixes.is_empty(),
        "{rule}: expected a fix in {:#?}",
        a.findings
    );
    for fix in &fixes {
        let mut dft = df.to_string();
        let mut others: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        if fix.file == Path::new("Dockerfile") {
            dft = apply_edits(&dft, &fix.edits);
        } else if let Some(o) = others.iter_mut().find(|(p, _)| Path::new(p) == fix.file) {
            o.1 = apply_edits(&o.1, &fix.edits);
        } else {
            panic!("fix for unknown file {:?}", fix.file);
        }
        assert!(Dockerfile::parse(&dft).problems.is_empty(), "{dft}");
        let o: Vec<(&str, &str)> = others
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let after = run(h, &dft, &o);
        assert!(
            of(&after, rule).len() < before,
            "{} did not clear {rule}:\n{dft}\n{o:?}\n{:#?}",
            fix.id,
            of(&after, rule)
        );
    }
    fixes.into_iter().map(|f| f.id).collect()
}

// ---- no host, no findings ----

#[test]
fn host_rules_are_off_without_host_facts() {
    let df = "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.5.1\n";
    let a = crate::analyze::analyze_text(Path::new("Dockerfile"), df, &AnalyzeOptions::default());
    assert!(
        a.findings
            .iter()
            .all(|f| !["DU211", "DU212", "DU213"].contains(&f.rule.as_str()))
    );
}

// ---- DU211: base image CUDA vs host driver ----

#[test]
fn du211_cuda_12_8_base_on_a_550_driver_is_minor_compat_warning() {
    let h = r550(&[H100]);
    let df = "FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04\nCMD [\"python3\", \"-c\", \"print(1)\"]\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU211");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!(f[0].severity, crate::analyze::Severity::Warning);
    assert_eq!(f[0].span.line, 1);
    assert!(
        has_fact(
            f[0],
            "host driver 550.54.14 supports CUDA up to 12.4 (NVML)"
        ),
        "{:?}",
        f[0].facts
    );
    assert!(
        has_fact(f[0], "CUDA 12.8 needs driver >= 570.26 (full toolkit)"),
        "{:?}",
        f[0].facts
    );
    assert!(
        has_fact(f[0], "12.x runs from 525.60.13"),
        "{:?}",
        f[0].facts
    );
    let ids = fixes_clear(&h, df, &[], "DU211");
    assert_eq!(ids, ["DU211.older-base"]);
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(
        fixed.starts_with("FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04\n"),
        "{fixed}"
    );
}

#[test]
fn du211_cuda_13_base_on_a_550_driver_is_an_error() {
    let h = r550(&[H100]);
    let df = "FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04\n";
    let f = run(&h, df, &[]);
    let f = of(&f, "DU211");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, crate::analyze::Severity::Error);
    assert!(f[0].message.contains("cannot run"), "{}", f[0].message);
    assert!(
        has_fact(f[0], "CUDA 13.0 needs driver >= 580.65.06"),
        "{:?}",
        f[0].facts
    );
}

#[test]
fn du211_below_the_minor_compat_floor_is_an_error() {
    let h = host("470.82.01", (11, 4), &[A100]);
    let df = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU211");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, crate::analyze::Severity::Error);
    assert!(has_fact(
        f[0],
        "host driver 470.82.01 supports CUDA up to 11.4 (NVML)"
    ));
    // 11.8 is newer than what 470 runs fully: no older tag in the data fits, so no fix but the driver advice.
    assert!(f[0].fixes.is_empty(), "{:#?}", f[0].fixes);
    assert!(
        has_fact(f[0], "a driver >= 530.30.02 runs CUDA 12.1 fully"),
        "{:?}",
        f[0].facts
    );
}

#[test]
fn du211_arg_built_tag_and_final_stage_only() {
    let h = r550(&[H100]);
    // The builder stage is a 12.8 devel image but only the final stage runs on the host.
    let df = "ARG CUDA=12.8.1\nFROM nvidia/cuda:${CUDA}-devel-ubuntu22.04 AS build\nRUN make\nFROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nCOPY --from=build /src/app /app\n";
    assert!(of(&run(&h, df, &[]), "DU211").is_empty());
    let df = "ARG CUDA=12.8.1\nFROM nvidia/cuda:${CUDA}-runtime-ubuntu22.04\n";
    let a = run(&h, df, &[]);
    assert_eq!(of(&a, "DU211").len(), 1, "{:#?}", a.findings);
    fixes_clear(&h, df, &[], "DU211");
    let fixed = apply_edits(df, &of(&a, "DU211")[0].fixes[0].edits);
    assert!(fixed.starts_with("ARG CUDA=12.4.1\n"), "{fixed}");
}

#[test]
fn du211_matching_driver_does_not_fire() {
    let df = "FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04\n";
    assert!(of(&run(&r550(&[H100]), df, &[]), "DU211").is_empty());
    let df = "FROM pytorch/pytorch:2.9.1-cuda13.0-cudnn9-runtime\n";
    assert!(of(&run(&r580(&[H100]), df, &[]), "DU211").is_empty());
    let df = "FROM python:3.11-slim\n";
    assert!(of(&run(&r535(), df, &[]), "DU211").is_empty());
}

#[test]
fn du211_pytorch_base_moves_to_an_older_cuda_of_the_same_release() {
    let h = r535();
    let df = "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nWORKDIR /app\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU211");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, crate::analyze::Severity::Warning);
    fixes_clear(&h, df, &[], "DU211");
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(
        fixed.starts_with("FROM pytorch/pytorch:2.5.1-cuda12.1-cudnn9-runtime\n"),
        "{fixed}"
    );
}

#[test]
fn du211_nvml_cuda_version_is_the_fallback_without_driver_facts() {
    // Unknown driver version (n/a), but NVML says CUDA 12.4: 12.8 is a minor-compat warning, 13.0 an error.
    let h = HostGpu {
        driver_version: String::new(),
        cuda_driver: Some((12, 4)),
        gpus: vec![],
    };
    let a = run(&h, "FROM nvidia/cuda:12.8.1-runtime-ubuntu22.04\n", &[]);
    let f = of(&a, "DU211");
    assert_eq!(f[0].severity, crate::analyze::Severity::Warning);
    assert!(has_fact(
        f[0],
        "host driver supports CUDA up to 12.4 (NVML)"
    ));
    let a = run(&h, "FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04\n", &[]);
    assert_eq!(of(&a, "DU211")[0].severity, crate::analyze::Severity::Error);
}

// ---- DU212: torch wheel CUDA vs host driver ----

#[test]
fn du212_cu126_wheel_on_a_535_driver() {
    let h = r535();
    let df = "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n";
    let req = "--index-url https://download.pytorch.org/whl/cu126\ntorch==2.6.0\nnumpy==2.1.3\n";
    let a = run(&h, df, &[("requirements.txt", req)]);
    let f = of(&a, "DU212");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!(f[0].severity, crate::analyze::Severity::Warning);
    assert_eq!(f[0].file, Path::new("requirements.txt"));
    assert!(has_fact(
        f[0],
        "host driver 535.104.05 supports CUDA up to 12.2 (NVML)"
    ));
    assert!(
        has_fact(f[0], "selected build: cu126 (--index-url cu126)"),
        "{:?}",
        f[0].facts
    );
    assert!(
        has_fact(f[0], "CUDA 12.6 needs driver >= 560.28.03"),
        "{:?}",
        f[0].facts
    );
    let ids = fixes_clear(&h, df, &[("requirements.txt", req)], "DU212");
    assert_eq!(ids, ["DU212.variant"]);
    let fixed = apply_edits(req, &f[0].fixes[0].edits);
    // cu118 is the newest 2.6 build a 535 driver runs fully.
    assert!(
        fixed.starts_with("--index-url https://download.pytorch.org/whl/cu118\ntorch==2.6.0\n"),
        "{fixed}"
    );
}

#[test]
fn du212_local_version_and_pypi_default_pins() {
    let h = r535();
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cu126 torch==2.7.1+cu126\n";
    let a = run(&h, df, &[]);
    assert_eq!(of(&a, "DU212").len(), 1, "{:#?}", a.findings);
    fixes_clear(&h, df, &[], "DU212");
    // PyPI default of torch 2.7.1 is cu126: the fix adds the cu118 index and the +cu118 pin.
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.7.1\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU212");
    assert!(
        has_fact(f[0], "selected build: cu126 (PyPI default cu126)"),
        "{:?}",
        f[0].facts
    );
    fixes_clear(&h, df, &[], "DU212");
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(
        fixed.contains(
            "--extra-index-url https://download.pytorch.org/whl/cu118 torch==2.7.1+cu118"
        ),
        "{fixed}"
    );
    // Unpinned torch (PyPI default cu130 today) on 535: an error (CUDA 13 across a major), fixed by a series pin.
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU212");
    assert_eq!(f[0].severity, crate::analyze::Severity::Error);
    assert_eq!(fixes_clear(&h, df, &[], "DU212"), ["DU212.pin"]);
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(fixed.contains("torch==2.4.*"), "{fixed}");
}

#[test]
fn du212_quoted_requirement_gets_a_pin_not_an_option_inside_the_quotes() {
    let h = r535();
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir \"torch==2.7.1\"\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU212");
    assert_eq!(f.len(), 1);
    // No `--extra-index-url` inside the quotes: the fix falls back to a series pin whose default build fits.
    assert_eq!(fixes_clear(&h, df, &[], "DU212"), ["DU212.pin"]);
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(fixed.contains("\"torch==2.4.*\""), "{fixed}");
}

#[test]
fn du212_does_not_fire_when_the_driver_runs_the_wheel() {
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu124 torch==2.5.1\n";
    assert!(of(&run(&r550(&[H100]), df, &[]), "DU212").is_empty());
    let df = "FROM python:3.12-slim\nRUN pip install --no-cache-dir torch==2.9.1\n";
    assert!(of(&run(&r580(&[H100]), df, &[]), "DU212").is_empty());
    // Over a pytorch image an unpinned torch is a no-op: the image's own build counts (DU211's business).
    let df = "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN pip install --no-cache-dir torch transformers==4.46.3\n";
    assert!(of(&run(&r535(), df, &[]), "DU212").is_empty());
}

// ---- DU213: GPU compute capability vs the wheel's arch list ----

#[test]
fn du213_rtx_5090_with_torch_2_5_1_cu124() {
    let h = r550(&[H100, RTX5090]);
    let df = "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n";
    let req = "--index-url https://download.pytorch.org/whl/cu124\ntorch==2.5.1\n";
    let a = run(&h, df, &[("requirements.txt", req)]);
    let f = of(&a, "DU213");
    assert_eq!(f.len(), 1, "only the 5090, not the H100: {:#?}", a.findings);
    assert!(
        f[0].message
            .contains("GPU 1 (NVIDIA GeForce RTX 5090, sm_120)"),
        "{}",
        f[0].message
    );
    assert!(has_fact(
        f[0],
        "GPU 1 NVIDIA GeForce RTX 5090 has compute capability 12.0 (NVML)"
    ));
    assert!(
        has_fact(
            f[0],
            "Blackwell (12.0) code is in the cu128/cu129/cu130/cu132 builds of torch >= 2.7"
        ),
        "{:?}",
        f[0].facts
    );
    // cu128 runs on 550 only through minor-version compatibility: the fix says so (and DU212 would warn).
    let ids = fixes_clear(&h, df, &[("requirements.txt", req)], "DU213");
    assert_eq!(ids, ["DU213.variant"]);
    assert!(
        f[0].fixes[0]
            .description
            .contains("minor-version compatibility"),
        "{}",
        f[0].fixes[0].description
    );
    let fixed = apply_edits(req, &f[0].fixes[0].edits);
    assert!(
        fixed.contains("/whl/cu128\n") || fixed.contains("/whl/cu129\n"),
        "{fixed}"
    );
    assert!(!fixed.contains("torch==2.5.1"), "{fixed}");
}

#[test]
fn du213_v100_with_torch_2_9_cu130() {
    let h = r580(&[V100, (1, "Tesla V100-SXM2-32GB", (7, 0))]);
    let df = "FROM python:3.12-slim\nRUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu130 torch==2.9.1\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU213");
    assert_eq!(f.len(), 1, "one finding per model: {:#?}", a.findings);
    assert!(f[0].message.contains("GPUs 0, 1"), "{}", f[0].message);
    assert!(has_fact(
        f[0],
        "GPUs 0, 1 Tesla V100-SXM2-32GB have compute capability 7.0 (NVML)"
    ));
    fixes_clear(&h, df, &[], "DU213");
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(fixed.contains("/whl/cu128 torch==2.9.1"), "{fixed}");
}

#[test]
fn du213_h100_with_torch_2_0_cu117() {
    let h = r550(&[H100]);
    let df = "FROM python:3.10-slim\nRUN pip install --no-cache-dir torch==2.0.1\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU213");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert!(f[0].message.contains("sm_90"), "{}", f[0].message);
    assert!(has_fact(f[0], "selected build: cu117 (PyPI default cu117)"));
    fixes_clear(&h, df, &[], "DU213");
    let fixed = apply_edits(df, &f[0].fixes[0].edits);
    assert!(fixed.contains("torch==2.0.1+cu118"), "{fixed}");
}

#[test]
fn du213_volta_lost_in_torch_2_7_cu128_only() {
    let h = r580(&[V100]);
    let df = "FROM python:3.12-slim\nRUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu128 torch==2.7.1\n";
    assert_eq!(of(&run(&h, df, &[]), "DU213").len(), 1);
    let df = "FROM python:3.12-slim\nRUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu128 torch==2.8.0\n";
    assert!(of(&run(&h, df, &[]), "DU213").is_empty());
}

#[test]
fn du213_preinstalled_torch_of_the_base_image() {
    let h = r550(&[RTX5090]);
    let df = "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nCOPY . /app\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU213");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!(f[0].span.line, 1);
    assert!(has_fact(
        f[0],
        "preinstalled in pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
    ));
    assert!(f[0].fixes.is_empty(), "no 2.5.1 image carries sm_120");
}

#[test]
fn du213_matching_gpus_do_not_fire() {
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cu128 torch==2.7.1\n";
    assert!(
        of(
            &run(&host("570.133.20", (12, 8), &[RTX5090]), df, &[]),
            "DU213"
        )
        .is_empty()
    );
    let df = "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.5.1\n";
    assert!(of(&run(&r550(&[H100, A100]), df, &[]), "DU213").is_empty());
    // A CC the data does not know (Jetson Orin 8.7) gives no verdict rather than a guess.
    let h = r550(&[(0, "Orin", (8, 7))]);
    assert!(of(&run(&h, df, &[]), "DU213").is_empty());
    // A GPU without a reported CC is skipped.
    let mut h = r550(&[RTX5090]);
    h.gpus[0].compute_capability = None;
    assert!(of(&run(&h, df, &[]), "DU213").is_empty());
}

#[test]
fn findings_are_not_repeated_for_a_requirements_file_installed_twice() {
    let h = r550(&[RTX5090]);
    let df = "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nRUN pip install --no-cache-dir -r requirements.txt\n";
    let req = "--index-url https://download.pytorch.org/whl/cu124\ntorch==2.5.1\n";
    assert_eq!(
        of(&run(&h, df, &[("requirements.txt", req)]), "DU213").len(),
        1
    );
}

#[test]
fn a_pin_equal_to_the_pytorch_base_keeps_the_base_build() {
    // pip sees torch 2.5.1 installed and does nothing: the image keeps the base's cu121 build, which a 535
    // driver runs fully, so PyPI's cu124 default of 2.5.1 is not what runs.
    let df = "FROM pytorch/pytorch:2.5.1-cuda12.1-cudnn9-runtime\nRUN pip install --no-cache-dir torch==2.5.1 transformers==4.46.3\n";
    let a = run(&r535(), df, &[]);
    assert!(of(&a, "DU212").is_empty(), "{:#?}", a.findings);
    assert!(of(&a, "DU211").is_empty(), "{:#?}", a.findings);
    // H100 on a 2.0.1 cu117 base: the finding sits on the pin, and the fix changes the version (a build
    // switch of the same version would be a no-op for pip).
    let h = r550(&[H100]);
    let df = "FROM pytorch/pytorch:2.0.1-cuda11.7-cudnn8-runtime\nRUN pip install --no-cache-dir torch==2.0.1\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU213");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!(f[0].span.line, 2);
    assert!(has_fact(f[0], "pip keeps that build"), "{:?}", f[0].facts);
    assert_eq!(fixes_clear(&h, df, &[], "DU213"), ["DU213.pin"]);
}

#[test]
fn no_expressible_edit_still_names_the_build_that_fits() {
    // conda installs get no edit, but the finding says which build would fit.
    let h = r550(&[H100]);
    let df = "FROM continuumio/miniconda3:24.9.2-0\nRUN conda install -y pytorch=2.0.1 pytorch-cuda=11.7 -c pytorch -c nvidia\n";
    let a = run(&h, df, &[]);
    let f = of(&a, "DU213");
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert!(f[0].fixes.is_empty());
    assert!(
        has_fact(f[0], "torch 2.0 cu118 has code for every GPU of this host"),
        "{:?}",
        f[0].facts
    );
}
