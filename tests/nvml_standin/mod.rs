//! Builds the C stand-in for libnvidia-ml with the system C compiler (`cc`, or `$CC`).
//! Each call compiles into its own directory, so every test gets its own library file (NVML state and
//! dockui's per-path cache then never leak between tests).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct StandIn {
    // Kept so the library file lives as long as the test.
    _dir: tempfile::TempDir,
    pub lib: PathBuf,
}

/// Compile with the given `-D` definitions (e.g. `MISSING_OPTIONAL`, `EXTRA_PID=123`).
pub fn build(defines: &[&str]) -> StandIn {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = dir.path().join("libnvidia-ml.so.1");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nvml_standin/nvml_standin.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
        .arg(&lib)
        .arg(&src);
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cc} to build the NVML stand-in: {e}"));
    assert!(
        out.status.success(),
        "building the NVML stand-in failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    StandIn { _dir: dir, lib }
}
