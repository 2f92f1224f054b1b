//! What the host's GPUs and driver are, as the analyzer sees them: plain values, so the analyzer stays pure
//! (the NVML adapter converts its snapshot in `crate::gpu::host`; tests build these by hand).

use serde::Serialize;

/// The host facts the host-aware rules (DU211-DU213) use. `AnalyzeOptions::host = None` turns them off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostGpu {
    /// The driver's version as NVML reports it, e.g. "550.54.14"; empty when unknown.
    pub driver_version: String,
    /// The newest CUDA (major, minor) the driver supports, e.g. (12, 4); None when unknown.
    pub cuda_driver: Option<(u32, u32)>,
    pub gpus: Vec<HostGpuDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostGpuDevice {
    /// NVML index (what `CUDA_VISIBLE_DEVICES` and `--gpus device=` use).
    pub index: u32,
    pub name: String,
    /// (major, minor), e.g. (9, 0) for sm_90; None when the driver did not say.
    pub compute_capability: Option<(u32, u32)>,
}

impl HostGpu {
    /// The fact every driver finding names, e.g. "host driver 550.54.14 supports CUDA up to 12.4 (NVML)".
    pub fn driver_fact(&self) -> String {
        match (self.driver_version.is_empty(), self.cuda_driver) {
            (false, Some((a, b))) => format!(
                "host driver {} supports CUDA up to {a}.{b} (NVML)",
                self.driver_version
            ),
            (false, None) => format!("host driver {} (NVML)", self.driver_version),
            (true, Some((a, b))) => format!("host driver supports CUDA up to {a}.{b} (NVML)"),
            (true, None) => "host driver version unknown (NVML)".to_string(),
        }
    }
}
