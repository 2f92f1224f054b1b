//! DOCKUI_NVML_LIB selects the library when no path is configured. Alone in its binary because it sets
//! a process environment variable.

mod nvml_standin;

use dockui::gpu::{Field, GpuState, probe};

#[test]
fn env_var_points_at_another_libnvidia_ml() {
    let standin = nvml_standin::build(&[]);
    // SAFETY: the only test in this binary, run before any other thread reads the environment.
    unsafe { std::env::set_var("DOCKUI_NVML_LIB", &standin.lib) };
    match probe(None) {
        GpuState::Ready(s) => assert_eq!(s.driver_version, Field::Value("550.54.14".to_string())),
        other => panic!("expected the stand-in through DOCKUI_NVML_LIB, got {other:?}"),
    }
    // An explicit path (config gpu.nvml_lib) wins over the environment.
    match probe(Some(std::path::Path::new("/nonexistent/libnvidia-ml.so.1"))) {
        GpuState::Unavailable { .. } => {}
        other => panic!("explicit path should win, got {other:?}"),
    }
}
