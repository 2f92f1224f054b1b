//! Loading NVML (once per library path) and reading a snapshot from it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::{Device, Nvml};

use super::{Field, GpuInfo, GpuProcess, GpuSnapshot, GpuState};

/// Environment variable naming another libnvidia-ml (tests, unusual driver installs).
pub const ENV_NVML_LIB: &str = "DOCKUI_NVML_LIB";
/// What the driver installs; the same name nvml-wrapper opens by default.
pub const SYSTEM_NVML_LIB: &str = "libnvidia-ml.so.1";

const HINT_INSTALL: &str = "install the NVIDIA driver, or set DOCKUI_NVML_LIB (config: gpu.nvml_lib) to \
                            the path of libnvidia-ml.so.1";

/// Why NVML could not be used: the state's reason and hint.
#[derive(Debug, Clone)]
struct LoadError {
    reason: String,
    hint: String,
}

type Loaded = Arc<Result<Nvml, LoadError>>;

/// Loaded libraries by path. Entries are never removed: dlopen + nvmlInit happen once per path for
/// the life of the process (like bottom's OnceLock), and a failed load is not retried every second
/// by the poller.
static LOADED: Mutex<Vec<(PathBuf, Loaded)>> = Mutex::new(Vec::new());

fn resolve(lib: Option<&Path>) -> PathBuf {
    if let Some(p) = lib {
        return p.to_path_buf();
    }
    match std::env::var_os(ENV_NVML_LIB) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(SYSTEM_NVML_LIB),
    }
}

fn load(path: &Path) -> Loaded {
    // A poisoned lock only means another thread panicked while loading; the list itself is fine.
    let mut cache = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, loaded)) = cache.iter().find(|(p, _)| p == path) {
        return Arc::clone(loaded);
    }
    let loaded = Arc::new(
        Nvml::builder()
            .lib_path(path.as_os_str())
            .init()
            .map_err(|e| init_error(path, e)),
    );
    cache.push((path.to_path_buf(), Arc::clone(&loaded)));
    loaded
}

fn init_error(path: &Path, e: NvmlError) -> LoadError {
    let (reason, hint) = match e {
        // libloading's text is dlerror(): "libnvidia-ml.so.1: cannot open shared object file: ..."
        NvmlError::LibloadingError(e) => {
            (format!("NVML not available: {e}"), HINT_INSTALL.to_string())
        }
        NvmlError::FailedToLoadSymbol(e) => (
            format!(
                "NVML not usable: {} lacks nvmlInit_v2 ({e})",
                path.display()
            ),
            format!("point {ENV_NVML_LIB} at the driver's libnvidia-ml.so.1"),
        ),
        NvmlError::DriverNotLoaded => (
            "NVML found but the NVIDIA kernel driver is not loaded".to_string(),
            "check `nvidia-smi`; load the nvidia kernel module (or reboot after a driver install)"
                .to_string(),
        ),
        NvmlError::NoPermission => (
            "NVML refused access (no permission)".to_string(),
            "run as a user that can open /dev/nvidia*".to_string(),
        ),
        other => (
            format!("NVML initialisation failed: {other}"),
            "check `nvidia-smi`; a driver/library version mismatch needs a reboot or module reload"
                .to_string(),
        ),
    };
    LoadError { reason, hint }
}

/// What the NVIDIA kernel driver creates: its control device, its /proc entry, and WSL2's GPU device (where
/// NVML works without the other two). Containers given GPUs get the device nodes too.
const DRIVER_PATHS: &[&str] = &["/dev/nvidiactl", "/proc/driver/nvidia", "/dev/dxg"];

/// Whether any of `paths` exists: without the driver, nvmlInit cannot succeed.
fn driver_present(paths: &[&str]) -> bool {
    paths.iter().any(|p| Path::new(p).exists())
}

pub(super) fn probe(lib: Option<&Path>, container_of: &dyn Fn(u32) -> Option<String>) -> GpuState {
    let path = resolve(lib);
    // The system library on a host without the driver: NVML cannot start, so the loader's search of every
    // library directory (a few dozen failed opens, ~5 % of a `dockui check` process) is skipped. A library
    // named by the user (config or DOCKUI_NVML_LIB) is always tried.
    if path == Path::new(SYSTEM_NVML_LIB) && !driver_present(DRIVER_PATHS) {
        return GpuState::Unavailable {
            reason: "NVML not available: no NVIDIA driver on this host (no /dev/nvidiactl)".into(),
            hint: HINT_INSTALL.to_string(),
        };
    }
    let loaded = load(&path);
    let nvml = match loaded.as_ref() {
        Ok(nvml) => nvml,
        Err(e) => {
            return GpuState::Unavailable {
                reason: e.reason.clone(),
                hint: e.hint.clone(),
            };
        }
    };
    let count = match nvml.device_count() {
        Ok(0) => {
            return GpuState::Unavailable {
                reason: "NVML reports no GPUs".into(),
                hint: "check `nvidia-smi`; inside a container, run it with --gpus all".into(),
            };
        }
        Ok(n) => n,
        Err(e) => {
            return GpuState::Unavailable {
                reason: format!(
                    "NVML cannot count the GPUs: {}",
                    na_reason(&e, "nvmlDeviceGetCount_v2")
                ),
                hint: "check `nvidia-smi`".into(),
            };
        }
    };
    let cuda_driver_version = field(
        nvml.sys_cuda_driver_version(),
        "nvmlSystemGetCudaDriverVersion_v2",
    )
    .and_then_value(|v| match u32::try_from(v) {
        // 12040 -> (12, 4), as nvml_wrapper::cuda_driver_version_major/minor
        Ok(v) => Field::Value((v / 1000, (v % 1000) / 10)),
        Err(_) => Field::Na(format!("driver reported CUDA version {v}")),
    });
    let gpus = (0..count)
        .map(|index| match nvml.device_by_index(index) {
            Ok(device) => gpu_info(index, &device, container_of),
            Err(e) => GpuInfo::unreadable(index, na_reason(&e, "nvmlDeviceGetHandleByIndex_v2")),
        })
        .collect();
    GpuState::Ready(GpuSnapshot {
        driver_version: field(nvml.sys_driver_version(), "nvmlSystemGetDriverVersion"),
        cuda_driver_version,
        gpus,
    })
}

fn gpu_info(index: u32, d: &Device, container_of: &dyn Fn(u32) -> Option<String>) -> GpuInfo {
    let (memory_used_bytes, memory_total_bytes) = match d.memory_info() {
        Ok(m) => (Field::Value(m.used), Field::Value(m.total)),
        Err(e) => {
            let r = na_reason(&e, "nvmlDeviceGetMemoryInfo_v2");
            (Field::Na(r.clone()), Field::Na(r))
        }
    };
    GpuInfo {
        index,
        name: field(d.name(), "nvmlDeviceGetName"),
        uuid: field(d.uuid(), "nvmlDeviceGetUUID"),
        utilization_pct: field(d.utilization_rates(), "nvmlDeviceGetUtilizationRates")
            .map(|u| u.gpu),
        memory_used_bytes,
        memory_total_bytes,
        temperature_c: field(
            d.temperature(TemperatureSensor::Gpu),
            "nvmlDeviceGetTemperature",
        ),
        power_w: field(d.power_usage(), "nvmlDeviceGetPowerUsage").map(milliwatts),
        power_limit_w: field(d.enforced_power_limit(), "nvmlDeviceGetEnforcedPowerLimit")
            .map(milliwatts),
        compute_capability: field(
            d.cuda_compute_capability(),
            "nvmlDeviceGetCudaComputeCapability",
        )
        .and_then_value(
            |cc| match (u32::try_from(cc.major), u32::try_from(cc.minor)) {
                (Ok(major), Ok(minor)) => Field::Value((major, minor)),
                _ => Field::Na(format!(
                    "driver reported compute capability {}.{}",
                    cc.major, cc.minor
                )),
            },
        ),
        processes: processes(d).map(|procs| {
            procs
                .into_iter()
                .map(|p| GpuProcess {
                    pid: p.pid,
                    used_memory_bytes: match p.used_gpu_memory {
                        UsedGpuMemory::Used(b) => Field::Value(b),
                        UsedGpuMemory::Unavailable => {
                            Field::Na("not reported by the driver".into())
                        }
                    },
                    container: container_of(p.pid),
                    container_name: None,
                })
                .collect()
        }),
    }
}

/// The v3 call needs driver R510+; R470 only has v2 (same struct layout), so fall back to it.
fn processes(d: &Device) -> Field<Vec<ProcessInfo>> {
    match d.running_compute_processes() {
        Ok(p) => Field::Value(p),
        Err(NvmlError::FailedToLoadSymbol(_)) => match d.running_compute_processes_v2() {
            Ok(p) => Field::Value(p),
            Err(NvmlError::FailedToLoadSymbol(_)) => Field::Na(
                "not provided by this driver (nvmlDeviceGetComputeRunningProcesses_v3/_v2 missing)"
                    .into(),
            ),
            Err(e) => Field::Na(na_reason(&e, "nvmlDeviceGetComputeRunningProcesses_v2")),
        },
        Err(e) => Field::Na(na_reason(&e, "nvmlDeviceGetComputeRunningProcesses_v3")),
    }
}

fn milliwatts(mw: u32) -> f64 {
    f64::from(mw) / 1000.0
}

fn field<T>(r: Result<T, NvmlError>, call: &str) -> Field<T> {
    match r {
        Ok(v) => Field::Value(v),
        Err(e) => Field::Na(na_reason(&e, call)),
    }
}

/// Short, user-facing reason for an n/a value, naming the NVML entry point so a user can tell an old
/// driver from an unsupported GPU feature.
fn na_reason(e: &NvmlError, call: &str) -> String {
    match e {
        NvmlError::FailedToLoadSymbol(_) => format!("not provided by this driver ({call} missing)"),
        NvmlError::NotSupported => format!("not supported on this GPU ({call})"),
        NvmlError::NoPermission => format!("no permission ({call})"),
        other => format!("{call} failed: {other}"),
    }
}

impl<T> Field<T> {
    fn and_then_value<U>(self, f: impl FnOnce(T) -> Field<U>) -> Field<U> {
        match self {
            Field::Value(v) => f(v),
            Field::Na(r) => Field::Na(r),
        }
    }
}

impl GpuInfo {
    fn unreadable(index: u32, reason: String) -> Self {
        fn na<T>(r: &str) -> Field<T> {
            Field::Na(r.to_string())
        }
        let r = reason.as_str();
        GpuInfo {
            index,
            name: na(r),
            uuid: na(r),
            utilization_pct: na(r),
            memory_used_bytes: na(r),
            memory_total_bytes: na(r),
            temperature_c: na(r),
            power_w: na(r),
            power_limit_w: na(r),
            compute_capability: na(r),
            processes: na(r),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_driver_is_present_when_any_of_its_paths_exists() {
        let dir = tempfile::tempdir().unwrap();
        let ctl = dir.path().join("nvidiactl");
        let ctl_s = ctl.to_str().unwrap().to_string();
        assert!(!super::driver_present(&[&ctl_s, "/nonexistent/dxg"]));
        std::fs::write(&ctl, "").unwrap();
        assert!(super::driver_present(&["/nonexistent/dxg", &ctl_s]));
    }
}
