//! `dockui check` and `dockui gpu` with the host's GPUs from NVML (the C stand-in library via DOCKUI_NVML_LIB).

mod common;
mod nvml_standin;

fn rtx5090_project(home: &std::path::Path) -> std::path::PathBuf {
    let dir = home.join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu124\n",
    )
    .unwrap();
    dir
}

fn rules(out: &std::process::Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn host_checks_are_on_when_gpus_are_present_and_off_on_request() {
    let standin = nvml_standin::build(&[]);
    let home = tempfile::tempdir().unwrap();
    let dir = rtx5090_project(home.path());
    let run = |extra: &[&str]| {
        common::dockui(home.path())
            .env("DOCKUI_NVML_LIB", &standin.lib)
            .args(["check", "--format", "json"])
            .args(extra)
            .arg(&dir)
            .output()
            .unwrap()
    };
    let on = run(&[]);
    assert_eq!(on.status.code(), Some(1));
    assert!(
        rules(&on).contains(&"DU213".to_string()),
        "{:?}",
        rules(&on)
    );
    let v: serde_json::Value = serde_json::from_slice(&on.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "DU213")
        .unwrap();
    assert!(
        f["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str().unwrap().contains("RTX 5090")),
        "{f}"
    );
    let off = run(&["--no-host-gpu"]);
    assert!(!rules(&off).contains(&"DU213".to_string()));
    let gpu = common::dockui(home.path())
        .env("DOCKUI_NVML_LIB", &standin.lib)
        .args(["gpu", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&gpu.stdout).unwrap();
    assert_eq!(v["state"], "ready");
}

#[test]
fn host_gpu_required_without_nvml_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let dir = rtx5090_project(home.path());
    let out = common::dockui(home.path())
        .env("DOCKUI_NVML_LIB", "/nonexistent/libnvidia-ml.so.1")
        .args(["check", "--host-gpu"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--host-gpu: no GPUs on this host") && err.contains("NVML not available"),
        "{err}"
    );
}
