//! The GPU polling job: the NVML adapter (`crate::gpu`) probes in the background; this job names the
//! containers that own GPU processes through the builder port and hands each changed snapshot to the engine
//! loop, which reports it (`EngineEvent::Gpu`) and re-analyses when the host's GPUs change. Cancelled with
//! the engine.

use crate::builder::BuilderPort;
use crate::gpu::GpuState;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

/// Start polling; snapshots (only changes) go to `out` until `cancel` fires or `out` is dropped.
pub fn spawn(
    lib: Option<PathBuf>,
    interval: Duration,
    docker: Arc<dyn BuilderPort>,
    out: UnboundedSender<GpuState>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (raw_tx, mut raw_rx) = unbounded_channel();
    let poller = crate::gpu::spawn_poller(lib, interval, raw_tx, cancel.clone());
    tokio::spawn(async move {
        loop {
            let mut state = tokio::select! {
                _ = cancel.cancelled() => break,
                s = raw_rx.recv() => match s { Some(s) => s, None => break },
            };
            // The engine lookup happens here, off the front end's loop: a slow engine never holds up keys.
            if !state.container_ids().is_empty()
                && let Ok(names) = docker.container_names().await
            {
                state.set_container_names(|id| names.get(id).cloned());
            }
            if out.send(state).is_err() {
                break;
            }
        }
        poller.abort();
    })
}
