//! Polling NVML in the background and reporting only changes.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::GpuState;

/// Probe every `interval` off the async threads (NVML calls block) and send the state on `tx` only when
/// it differs from the last one sent, so an idle GPU pane costs no redraws. The first probe is always
/// sent. Stops when `cancel` fires or the receiver is dropped. Must be called inside a tokio runtime.
pub fn spawn_poller(
    lib: Option<PathBuf>,
    interval: Duration,
    tx: UnboundedSender<GpuState>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Option<GpuState> = None;
        loop {
            let lib_for_probe = lib.clone();
            let probe = tokio::task::spawn_blocking(move || super::probe(lib_for_probe.as_deref()));
            let state = tokio::select! {
                _ = cancel.cancelled() => return,
                joined = probe => match joined {
                    Ok(state) => state,
                    // The probe panicked (a broken driver library): report it as a state, keep polling.
                    Err(e) => GpuState::Unavailable {
                        reason: format!("NVML probe crashed: {e}"),
                        hint: "check `nvidia-smi`; set DOCKUI_NVML_LIB to another libnvidia-ml".into(),
                    },
                },
            };
            if last.as_ref() != Some(&state) {
                if tx.send(state.clone()).is_err() {
                    return;
                }
                last = Some(state);
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = tx.closed() => return,
            }
        }
    })
}
