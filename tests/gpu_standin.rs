//! The NVML path end to end through the C stand-in library (no GPU needed).

mod nvml_standin;

use std::path::Path;

use dockui::gpu::{Field, GpuState, probe, render_human};

fn ready(state: GpuState) -> dockui::gpu::GpuSnapshot {
    match state {
        GpuState::Ready(s) => s,
        GpuState::Unavailable { reason, hint } => {
            panic!("expected Ready, got Unavailable: {reason} / {hint}")
        }
    }
}

#[test]
fn standin_drives_the_snapshot() {
    let standin = nvml_standin::build(&[]);
    let snap = ready(probe(Some(&standin.lib)));
    assert_eq!(snap.driver_version, Field::Value("550.54.14".to_string()));
    assert_eq!(snap.cuda_driver_version, Field::Value((12, 4)));
    assert_eq!(snap.gpus.len(), 2);

    let h100 = &snap.gpus[0];
    assert_eq!(h100.index, 0);
    assert_eq!(h100.name, Field::Value("NVIDIA H100 80GB HBM3".to_string()));
    assert_eq!(
        h100.uuid,
        Field::Value("GPU-9d3c2b1a-0f4e-4c1d-8e2a-5b6c7d8e9f01".to_string())
    );
    assert_eq!(h100.compute_capability, Field::Value((9, 0)));
    assert_eq!(h100.utilization_pct, Field::Value(87));
    assert_eq!(h100.memory_total_bytes, Field::Value(85_899_345_920));
    assert_eq!(h100.memory_used_bytes, Field::Value(62_277_025_792));
    assert_eq!(h100.temperature_c, Field::Value(64));
    assert_eq!(h100.power_w, Field::Value(412.345));
    assert_eq!(h100.power_limit_w, Field::Value(700.0));
    let procs = h100.processes.value().expect("processes listed");
    let pids: Vec<u32> = procs.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [5_000_001, 5_000_002]);
    assert_eq!(procs[0].used_memory_bytes, Field::Value(41_943_040_000));
    // Those PIDs cannot exist on Linux, so no container.
    assert!(procs.iter().all(|p| p.container.is_none()));

    let rtx = &snap.gpus[1];
    assert_eq!(
        rtx.name,
        Field::Value("NVIDIA GeForce RTX 5090".to_string())
    );
    assert_eq!(rtx.compute_capability, Field::Value((12, 0)));
    assert_eq!(rtx.processes.value().map(Vec::len), Some(1));
}

#[test]
fn probing_twice_reuses_the_loaded_library_and_is_stable() {
    let standin = nvml_standin::build(&[]);
    assert_eq!(probe(Some(&standin.lib)), probe(Some(&standin.lib)));
}

#[test]
fn missing_optional_symbols_give_na_fields_not_an_error() {
    let standin = nvml_standin::build(&["MISSING_OPTIONAL"]);
    let snap = ready(probe(Some(&standin.lib)));
    assert_eq!(snap.driver_version, Field::Value("550.54.14".to_string()));
    let cuda = snap.cuda_driver_version.na_reason().expect("cuda n/a");
    assert!(
        cuda.contains("nvmlSystemGetCudaDriverVersion_v2 missing"),
        "{cuda}"
    );
    assert_eq!(snap.gpus.len(), 2);
    for gpu in &snap.gpus {
        assert!(gpu.name.value().is_some());
        assert!(gpu.compute_capability.value().is_some());
        let temp = gpu.temperature_c.na_reason().expect("temp n/a");
        assert_eq!(
            temp,
            "not provided by this driver (nvmlDeviceGetTemperature missing)"
        );
        assert!(
            gpu.power_w
                .na_reason()
                .expect("power n/a")
                .contains("nvmlDeviceGetPowerUsage")
        );
        assert!(
            gpu.power_limit_w
                .na_reason()
                .expect("limit n/a")
                .contains("nvmlDeviceGetEnforcedPowerLimit")
        );
        let procs = gpu.processes.na_reason().expect("processes n/a");
        assert!(procs.contains("ComputeRunningProcesses"), "{procs}");
    }
    // An unsupported query (not a missing symbol) is n/a for that GPU only.
    assert_eq!(
        snap.gpus[0].memory_total_bytes,
        Field::Value(85_899_345_920)
    );
    assert_eq!(
        snap.gpus[1].memory_used_bytes.na_reason(),
        Some("not supported on this GPU (nvmlDeviceGetMemoryInfo_v2)")
    );
    let text = render_human(&GpuState::Ready(snap));
    assert!(text.contains("temp n/a"), "{text}");
    assert!(text.contains("nvmlDeviceGetTemperature missing"), "{text}");
}

#[test]
fn no_library_gives_a_state_with_reason_and_hint() {
    let missing = Path::new("/nonexistent/dir/libnvidia-ml.so.1");
    match probe(Some(missing)) {
        GpuState::Unavailable { reason, hint } => {
            assert_eq!(
                reason,
                "NVML not available: /nonexistent/dir/libnvidia-ml.so.1: cannot open shared object file: No such file or directory"
            );
            assert!(hint.contains("install the NVIDIA driver"), "{hint}");
            assert!(hint.contains("DOCKUI_NVML_LIB"), "{hint}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn system_library_absent_on_gpu_less_machines() {
    if std::env::var_os("DOCKUI_NVML_LIB").is_some() {
        eprintln!("SKIP: DOCKUI_NVML_LIB is set, the system library is not what probe(None) opens");
        return;
    }
    let driver = ["/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg"]
        .iter()
        .any(|p| Path::new(p).exists());
    match probe(None) {
        // No driver: the library is not even looked for (NVML could not start), and the reason says why.
        GpuState::Unavailable { reason, hint } if !driver => {
            assert_eq!(
                reason,
                "NVML not available: no NVIDIA driver on this host (no /dev/nvidiactl)"
            );
            assert!(hint.contains("install the NVIDIA driver"), "{hint}");
        }
        GpuState::Unavailable { reason, .. } => assert_eq!(
            reason,
            "NVML not available: libnvidia-ml.so.1: cannot open shared object file: No such file or directory"
        ),
        GpuState::Ready(s) => eprintln!("this machine has NVML: {} GPU(s)", s.gpus.len()),
    }
}

#[test]
fn a_library_that_is_not_nvml() {
    // A shared object without nvmlInit_v2, as if DOCKUI_NVML_LIB named the wrong file.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("empty.c");
    std::fs::write(&src, "int not_nvml(void) { return 0; }\n").expect("write");
    let lib = dir.path().join("libempty.so");
    let status = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("cc");
    assert!(status.success());
    match probe(Some(&lib)) {
        GpuState::Unavailable { reason, hint } => {
            assert!(reason.contains("lacks nvmlInit_v2"), "{reason}");
            assert!(hint.contains("DOCKUI_NVML_LIB"), "{hint}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn no_gpus_is_a_state() {
    let standin = nvml_standin::build(&["NO_GPUS"]);
    match probe(Some(&standin.lib)) {
        GpuState::Unavailable { reason, hint } => {
            assert_eq!(reason, "NVML reports no GPUs");
            assert!(hint.contains("--gpus"), "{hint}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn json_shape_for_dockui_gpu_format_json() {
    let standin = nvml_standin::build(&["MISSING_OPTIONAL"]);
    let v = serde_json::to_value(probe(Some(&standin.lib))).expect("json");
    assert_eq!(v["state"], "ready");
    assert_eq!(v["driver_version"]["value"], "550.54.14");
    assert_eq!(
        v["gpus"][0]["compute_capability"]["value"],
        serde_json::json!([9, 0])
    );
    assert_eq!(
        v["gpus"][0]["temperature_c"]["na"],
        "not provided by this driver (nvmlDeviceGetTemperature missing)"
    );
    let v = serde_json::to_value(probe(Some(Path::new("/nonexistent/libnvidia-ml.so.1"))))
        .expect("json");
    assert_eq!(v["state"], "unavailable");
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("NVML not available"))
    );
    assert!(v["hint"].as_str().is_some());
}
