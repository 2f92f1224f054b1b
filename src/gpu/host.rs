//! The NVML snapshot as the analyzer's host facts (`crate::analyze::HostGpu`). The adapter depends on the
//! analyzer here, never the other way round, so the analyzer stays pure.

use super::{GpuSnapshot, GpuState};
use crate::analyze::{HostGpu, HostGpuDevice};

impl From<&GpuSnapshot> for HostGpu {
    fn from(s: &GpuSnapshot) -> Self {
        HostGpu {
            // An n/a driver version is "unknown" to the rules, which then fall back to the CUDA version.
            driver_version: s.driver_version.value().cloned().unwrap_or_default(),
            cuda_driver: s.cuda_driver_version.value().copied(),
            gpus: s
                .gpus
                .iter()
                .map(|g| HostGpuDevice {
                    index: g.index,
                    name: g
                        .name
                        .value()
                        .cloned()
                        .unwrap_or_else(|| "(name n/a)".to_string()),
                    compute_capability: g.compute_capability.value().copied(),
                })
                .collect(),
        }
    }
}

/// Host facts when NVML is ready and shows at least one GPU; None otherwise (host checks off).
pub fn host_gpu(state: &GpuState) -> Option<HostGpu> {
    state
        .snapshot()
        .filter(|s| !s.gpus.is_empty())
        .map(HostGpu::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::{Field, GpuInfo};

    fn gpu(index: u32, name: Field<String>, cc: Field<(u32, u32)>) -> GpuInfo {
        let na = || Field::Na("test".to_string());
        GpuInfo {
            index,
            name,
            uuid: na(),
            utilization_pct: Field::Na("test".into()),
            memory_used_bytes: Field::Na("test".into()),
            memory_total_bytes: Field::Na("test".into()),
            temperature_c: Field::Na("test".into()),
            power_w: Field::Na("test".into()),
            power_limit_w: Field::Na("test".into()),
            compute_capability: cc,
            processes: Field::Na("test".into()),
        }
    }

    #[test]
    fn converts_values_and_na_fields() {
        let snap = GpuSnapshot {
            driver_version: Field::Value("550.54.14".into()),
            cuda_driver_version: Field::Na("missing".into()),
            gpus: vec![
                gpu(0, Field::Value("NVIDIA H100".into()), Field::Value((9, 0))),
                gpu(1, Field::Na("x".into()), Field::Na("x".into())),
            ],
        };
        let h = HostGpu::from(&snap);
        assert_eq!(h.driver_version, "550.54.14");
        assert_eq!(h.cuda_driver, None);
        assert_eq!(h.gpus[0].compute_capability, Some((9, 0)));
        assert_eq!(h.gpus[1].name, "(name n/a)");
        assert_eq!(h.gpus[1].compute_capability, None);
        assert!(host_gpu(&GpuState::Ready(snap)).is_some());
        let none = GpuState::Unavailable {
            reason: "r".into(),
            hint: "h".into(),
        };
        assert!(host_gpu(&none).is_none());
    }
}
