//! The GPU poller sends the first state, then only changes: an idle GPU pane gets nothing to redraw.

mod nvml_standin;

use std::time::Duration;

use dockui::gpu::{Field, GpuState, spawn_poller};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TICK: Duration = Duration::from_millis(10);

fn util0(state: &GpuState) -> Field<u32> {
    state.snapshot().expect("ready").gpus[0]
        .utilization_pct
        .clone()
}

#[tokio::test]
async fn unchanged_gpus_send_nothing_after_the_first_state() {
    let standin = nvml_standin::build(&[]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let task = spawn_poller(Some(standin.lib.clone()), TICK, tx, cancel.clone());
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("first state in time")
        .expect("a state");
    assert!(matches!(first, GpuState::Ready(_)));
    // ~30 polls with nothing changing.
    tokio::time::sleep(TICK * 30).await;
    assert!(rx.try_recv().is_err(), "no message while nothing changes");
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("poller stops on cancel")
        .expect("no panic");
}

#[tokio::test]
async fn a_changed_value_is_sent_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let util_file = dir.path().join("util");
    std::fs::write(&util_file, "10").expect("write");
    let standin = nvml_standin::build(&[&format!("UTIL_FILE=\"{}\"", util_file.display())]);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let _task = spawn_poller(Some(standin.lib.clone()), TICK, tx, cancel.clone());
    let recv = async |rx: &mut mpsc::UnboundedReceiver<GpuState>| {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("state in time")
            .expect("a state")
    };
    assert_eq!(util0(&recv(&mut rx).await), Field::Value(10));
    // Atomically (write + rename): the stand-in must never read a half-written file.
    let tmp = dir.path().join("util.tmp");
    std::fs::write(&tmp, "55").expect("write");
    std::fs::rename(&tmp, &util_file).expect("rename");
    assert_eq!(util0(&recv(&mut rx).await), Field::Value(55));
    tokio::time::sleep(TICK * 20).await;
    assert!(rx.try_recv().is_err(), "the new value is sent once");
    cancel.cancel();
}

#[tokio::test]
async fn absent_library_is_sent_once_as_unavailable() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let lib = std::path::PathBuf::from("/nonexistent/libnvidia-ml.so.1");
    let _task = spawn_poller(Some(lib), TICK, tx, cancel.clone());
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("in time")
        .expect("a state");
    assert!(matches!(first, GpuState::Unavailable { .. }));
    tokio::time::sleep(TICK * 20).await;
    assert!(rx.try_recv().is_err());
    cancel.cancel();
}

#[tokio::test]
async fn poller_ends_when_the_receiver_is_dropped() {
    let standin = nvml_standin::build(&[]);
    let (tx, rx) = mpsc::unbounded_channel();
    let task = spawn_poller(
        Some(standin.lib.clone()),
        TICK,
        tx,
        CancellationToken::new(),
    );
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("poller notices the closed channel")
        .expect("no panic");
}
