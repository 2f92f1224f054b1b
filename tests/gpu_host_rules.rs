//! Host-aware rules end to end: the C stand-in NVML library (driver 550.54.14, CUDA 12.4, GPU 0 an H100
//! CC 9.0, GPU 1 an RTX 5090 CC 12.0) -> `gpu::probe` -> `HostGpu` -> `analyze_project` on fixture projects.

mod nvml_standin;

use std::path::{Path, PathBuf};

use dockui::analyze::{Analysis, AnalyzeOptions, Finding, HostGpu, Severity, analyze_project};
use dockui::gpu::{GpuState, probe};

fn host_from_standin(defines: &[&str]) -> HostGpu {
    let standin = nvml_standin::build(defines);
    match probe(Some(&standin.lib)) {
        GpuState::Ready(s) => HostGpu::from(&s),
        GpuState::Unavailable { reason, hint } => {
            panic!("expected Ready, got Unavailable: {reason} / {hint}")
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/host")
        .join(name)
}

fn analyze(name: &str, host: &HostGpu) -> Analysis {
    let opts = AnalyzeOptions {
        host: Some(host.clone()),
        ..Default::default()
    };
    analyze_project(&fixture(name), &opts).expect("analyze")
}

fn host_findings(a: &Analysis) -> Vec<&Finding> {
    a.findings
        .iter()
        .filter(|f| ["DU211", "DU212", "DU213"].contains(&f.rule.as_str()))
        .collect()
}

/// Text form of the host findings for the snapshots: rule, severity, place, message, facts, fixes.
fn render(a: &Analysis) -> String {
    let mut s = String::new();
    for f in host_findings(a) {
        s.push_str(&format!(
            "{} {} {}:{}: {}\n",
            f.rule,
            f.severity.as_str(),
            f.file.display(),
            f.span.line,
            f.message
        ));
        for fact in &f.facts {
            s.push_str(&format!("  fact: {fact}\n"));
        }
        for fix in &f.fixes {
            s.push_str(&format!("  fix {}: {}\n", fix.id, fix.description));
        }
    }
    s
}

#[test]
fn standin_converts_to_host_facts() {
    let h = host_from_standin(&[]);
    assert_eq!(h.driver_version, "550.54.14");
    assert_eq!(h.cuda_driver, Some((12, 4)));
    let gpus: Vec<String> = h
        .gpus
        .iter()
        .map(|g| format!("{} {} {:?}", g.index, g.name, g.compute_capability))
        .collect();
    assert_eq!(
        gpus,
        [
            "0 NVIDIA H100 80GB HBM3 Some((9, 0))",
            "1 NVIDIA GeForce RTX 5090 Some((12, 0))"
        ]
    );
}

#[test]
fn rtx_5090_missing_from_the_cu124_wheel() {
    let h = host_from_standin(&[]);
    let a = analyze("rtx5090-cu124", &h);
    let fs = host_findings(&a);
    let ids: Vec<&str> = fs.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(ids, ["DU213"], "{:#?}", a.findings);
    let f = fs[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.file, Path::new("requirements.txt"));
    assert_eq!(f.span.line, 2);
    assert!(
        f.facts
            .iter()
            .any(|x| x == "GPU 1 NVIDIA GeForce RTX 5090 has compute capability 12.0 (NVML)"),
        "{:?}",
        f.facts
    );
    assert!(
        f.facts
            .iter()
            .any(|x| x == "selected build: cu124 (torch 2.5.1 is already in pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime; pip keeps that build)"),
        "{:?}",
        f.facts
    );
    // Only a version change takes effect over the base's torch: the fix pins a release with sm_120 code.
    assert!(
        f.fixes.iter().any(|x| x.id == "DU213.variant"),
        "{:#?}",
        f.fixes
    );
    // The H100 (CC 9.0) is covered by cu124: no finding names GPU 0.
    assert!(!f.message.contains("GPU 0"));
    insta::assert_snapshot!("rtx5090_cu124", render(&a));
}

#[test]
fn cuda_12_8_base_and_wheel_on_a_12_4_driver() {
    let h = host_from_standin(&[]);
    let a = analyze("cuda128-base", &h);
    let fs = host_findings(&a);
    let ids: Vec<&str> = fs.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(ids, ["DU211", "DU212"], "{:#?}", a.findings);
    let driver_fact = "host driver 550.54.14 supports CUDA up to 12.4 (NVML)";
    for f in &fs {
        // 550 is above CUDA 12's minor-version-compatibility floor (525.60.13) but below 12.8's 570.26.
        assert_eq!(f.severity, Severity::Warning, "{f:#?}");
        assert!(f.facts.iter().any(|x| x == driver_fact), "{:?}", f.facts);
        assert!(
            f.facts
                .iter()
                .any(|x| x.starts_with("CUDA 12.8 needs driver >= 570.26")),
            "{:?}",
            f.facts
        );
    }
    assert_eq!(fs[0].file, Path::new("Dockerfile"));
    assert_eq!(fs[0].fixes[0].id, "DU211.older-base");
    assert_eq!(fs[1].file, Path::new("requirements.txt"));
    insta::assert_snapshot!("cuda128_base", render(&a));
}

#[test]
fn a_project_that_fits_the_host_has_no_host_findings() {
    let h = host_from_standin(&[]);
    let a = analyze("matching", &h);
    assert!(host_findings(&a).is_empty(), "{:#?}", a.findings);
    // Without host facts the rules are off, whatever the project.
    let plain =
        analyze_project(&fixture("rtx5090-cu124"), &AnalyzeOptions::default()).expect("analyze");
    assert!(host_findings(&plain).is_empty());
}

#[test]
fn driver_without_the_cuda_version_symbol_still_decides_from_the_data() {
    // nvmlSystemGetCudaDriverVersion_v2 missing: the driver version alone and the data file's tables decide.
    let h = host_from_standin(&["MISSING_OPTIONAL"]);
    assert_eq!(h.cuda_driver, None);
    let a = analyze("cuda128-base", &h);
    let fs = host_findings(&a);
    assert_eq!(fs.len(), 2, "{:#?}", a.findings);
    assert!(
        fs[0]
            .facts
            .iter()
            .any(|x| x == "host driver 550.54.14 (NVML)")
    );
}
