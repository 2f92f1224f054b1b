//! The GPU adapter: what the host's GPUs and driver are, read through NVML.
//!
//! NVML is optional hardware support: it is loaded lazily, once per library path, and its absence is a
//! [`GpuState::Unavailable`] with a reason and a hint, never an error. Each value the driver reports is
//! a [`Field`], so one missing entry point (old drivers lack some `_v2`/`_v3` symbols) or an
//! unsupported query shows as "n/a" for that value only.

mod cgroup;
pub mod host;
mod nvml;
mod poller;
pub mod render;

use std::path::Path;

use serde::Serialize;

pub use cgroup::{container_id_from_cgroup, container_of_pid};
pub use nvml::{ENV_NVML_LIB, SYSTEM_NVML_LIB};
pub use poller::spawn_poller;
pub use render::render_human;

/// How often the GPU pane is refreshed ("about once a second"): NVML's utilization sample period is
/// of that order, polling faster shows nothing new.
pub const DEFAULT_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A value from the driver, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field<T> {
    Value(T),
    /// The reason, e.g. "not provided by this driver (nvmlDeviceGetPowerUsage)".
    Na(String),
}

impl<T> Field<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            Field::Na(_) => None,
        }
    }

    pub fn na_reason(&self) -> Option<&str> {
        match self {
            Field::Value(_) => None,
            Field::Na(r) => Some(r),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Value(v) => Field::Value(f(v)),
            Field::Na(r) => Field::Na(r),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GpuState {
    Unavailable { reason: String, hint: String },
    Ready(GpuSnapshot),
}

impl GpuState {
    pub fn snapshot(&self) -> Option<&GpuSnapshot> {
        match self {
            GpuState::Ready(s) => Some(s),
            GpuState::Unavailable { .. } => None,
        }
    }

    /// Distinct short container ids of all GPU processes, for one lookup at the engine.
    pub fn container_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .processes()
            .filter_map(|p| p.container.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Fill `container_name` from a short-id -> name lookup (the engine's container list). The adapter
    /// reads only /proc and knows no names; this keeps it free of any engine dependency.
    pub fn set_container_names(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        if let GpuState::Ready(snap) = self {
            for gpu in &mut snap.gpus {
                if let Field::Value(procs) = &mut gpu.processes {
                    for p in procs {
                        p.container_name = p.container.as_deref().and_then(&lookup);
                    }
                }
            }
        }
    }

    fn processes(&self) -> impl Iterator<Item = &GpuProcess> {
        self.snapshot()
            .into_iter()
            .flat_map(|s| &s.gpus)
            .filter_map(|g| g.processes.value())
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSnapshot {
    /// e.g. "550.54.14".
    pub driver_version: Field<String>,
    /// The newest CUDA version the driver supports, (major, minor), e.g. (12, 4) for 12040.
    pub cuda_driver_version: Field<(u32, u32)>,
    pub gpus: Vec<GpuInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuInfo {
    pub index: u32,
    pub name: Field<String>,
    pub uuid: Field<String>,
    pub utilization_pct: Field<u32>,
    pub memory_used_bytes: Field<u64>,
    pub memory_total_bytes: Field<u64>,
    pub temperature_c: Field<u32>,
    pub power_w: Field<f64>,
    pub power_limit_w: Field<f64>,
    /// CUDA compute capability (major, minor), e.g. (9, 0) for sm_90.
    pub compute_capability: Field<(u32, u32)>,
    /// Running compute processes; n/a (not empty) when the driver cannot list them.
    pub processes: Field<Vec<GpuProcess>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuProcess {
    pub pid: u32,
    pub used_memory_bytes: Field<u64>,
    /// Short (12 hex) id of the container the process runs in, from /proc/PID/cgroup.
    pub container: Option<String>,
    /// The container's name, filled in by whoever can ask the engine
    /// ([`GpuState::set_container_names`]); None until then.
    pub container_name: Option<String>,
}

/// Read the GPUs now. `lib`: an explicit libnvidia-ml path (config `gpu.nvml_lib`); when None,
/// `DOCKUI_NVML_LIB`, else the system's `libnvidia-ml.so.1`. Blocking (NVML calls can take a while on
/// busy drivers): call it off the UI thread.
pub fn probe(lib: Option<&Path>) -> GpuState {
    nvml::probe(lib, &container_of_pid)
}

/// Like [`probe`] with a custom PID -> container lookup (tests, or a host with another /proc).
pub fn probe_with(lib: Option<&Path>, container_of: &dyn Fn(u32) -> Option<String>) -> GpuState {
    nvml::probe(lib, container_of)
}
