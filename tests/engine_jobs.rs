//! Jobs the engine owns beyond builds: GPU polling (through the NVML stand-in) reported as engine events,
//! host-aware re-analysis when the GPUs change, and the job stopping with the engine. The engine runs on a
//! builder port that is not Docker: it needs nothing but the port.

mod common;
mod nvml_standin;

use dockui::builder::{
    BackendKind, BuildEvent, BuildSpec, BuilderPort, Capabilities, DockerError, EngineInfo,
    ImageInfo, RunOutput, RunSpec,
};
use dockui::engine::{EngineContext, EngineEvent};
use dockui::gpu::{Field, GpuState};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A builder that builds nothing and cannot run containers (like a BuildKit daemon).
struct NoContainers;

impl BuilderPort for NoContainers {
    fn endpoint(&self) -> String {
        "fake://buildkit".into()
    }
    fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
        async {
            Ok(EngineInfo {
                endpoint: "fake://buildkit".into(),
                version: "fake".into(),
                api_version: String::new(),
                context: None,
            })
        }
        .boxed()
    }
    fn build(
        &self,
        _: BuildSpec,
        _: UnboundedSender<BuildEvent>,
    ) -> BoxFuture<'_, Result<String, DockerError>> {
        async { Err(DockerError::Other("not in this test".into())) }.boxed()
    }
    fn inspect_image<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>> {
        async { Ok(None) }.boxed()
    }
    fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>> {
        async { Ok(BTreeMap::new()) }.boxed()
    }
    fn run_once(&self, _: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>> {
        async { Err(DockerError::Other("cannot run containers".into())) }.boxed()
    }
    fn capabilities(&self) -> BoxFuture<'_, Result<Capabilities, DockerError>> {
        async {
            Ok(Capabilities {
                kind: BackendKind::Buildkit,
                run: false,
                ..Capabilities::default()
            })
        }
        .boxed()
    }
}

fn util0(state: &GpuState) -> Field<u32> {
    state.snapshot().expect("ready").gpus[0]
        .utilization_pct
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_polling_is_an_engine_job_that_reports_changes_and_stops_with_the_engine() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
    let util_file = home.path().join("util");
    std::fs::write(&util_file, "10").unwrap();
    let standin = nvml_standin::build(&[&format!("UTIL_FILE=\"{}\"", util_file.display())]);
    let mut config = dockui::config::Config::default();
    config.gpu.nvml_lib = standin.lib.display().to_string();
    config.gpu.poll_ms = 100;
    let mut handle = dockui::engine::spawn(EngineContext {
        docker: std::sync::Arc::new(NoContainers),
        project_dir: dir.clone(),
        config,
        paths: common::paths(home.path()),
        host: None,
        config_file: None,
    });
    let mut backend = None;
    let mut gpu = Vec::new();
    let mut host_options = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while gpu.is_empty() || backend.is_none() || !host_options {
        let ev = tokio::time::timeout_at(deadline, handle.events.recv())
            .await
            .expect("the engine reports the GPUs, the backend and the host-aware options")
            .expect("engine alive");
        match ev {
            EngineEvent::Gpu(state) => gpu.push(*state),
            EngineEvent::Backend(b) => backend = Some(b),
            // The GPUs became known: the analysis options now carry the host.
            EngineEvent::Options(o) => host_options |= o.host.is_some(),
            _ => {}
        }
    }
    assert_eq!(util0(&gpu[0]), Field::Value(10));
    let b = backend.unwrap();
    assert_eq!(
        (b.kind, b.endpoint.as_str()),
        (BackendKind::Buildkit, "fake://buildkit")
    );
    // A change arrives as a new snapshot.
    let tmp = home.path().join("util.tmp");
    std::fs::write(&tmp, "55").unwrap();
    std::fs::rename(&tmp, &util_file).unwrap();
    loop {
        let ev = tokio::time::timeout_at(deadline, handle.events.recv())
            .await
            .expect("the change is reported")
            .expect("engine alive");
        if let EngineEvent::Gpu(state) = ev {
            assert_eq!(util0(&state), Field::Value(55));
            break;
        }
    }
    // Shutdown cancels the job: the event channel closes (every sender is gone), no snapshot afterwards.
    let mut events =
        std::mem::replace(&mut handle.events, tokio::sync::mpsc::unbounded_channel().1);
    handle.shutdown().await;
    std::fs::write(&tmp, "77").unwrap();
    std::fs::rename(&tmp, &util_file).unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.recv().await {
            if let EngineEvent::Gpu(state) = ev {
                assert_ne!(util0(&state), Field::Value(77), "polled after shutdown");
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the GPU job kept the engine's event channel open after shutdown"
    );
}
