//! A GPU process that runs in a real container is attributed to that container (through
//! /proc/PID/cgroup): the stand-in reports the container's host PID as a compute process.
//!
//! Needs a Docker engine; skips with a reason when there is none, unless DOCKUI_REQUIRE_DOCKER=1.
//! The container is always removed.

mod nvml_standin;

use std::collections::HashMap;
use std::path::Path;

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptions,
    RemoveContainerOptionsBuilder,
};
use dockui::docker::context::write_context_tar;
use dockui::gpu::{Field, GpuState, probe, render_human};
use futures_util::StreamExt;

const BASE: &str = "dockui-test/busybox:latest";

fn require_docker() -> bool {
    std::env::var("DOCKUI_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

async fn engine_or_skip() -> Option<Docker> {
    // Not ignored means the engine answered when the tests were built (or is required): a missing one now
    // is a failure, never a silent pass.
    let skip = |why: String| -> Option<Docker> {
        panic!(
            "the Docker engine is needed (DOCKUI_REQUIRE_DOCKER={}): {why}",
            require_docker()
        )
    };
    let docker = match Docker::connect_with_local_defaults() {
        Ok(d) => d,
        Err(e) => return skip(format!("no Docker engine: {e}")),
    };
    if let Err(e) = docker.ping().await {
        return skip(format!("Docker engine not answering: {e}"));
    }
    if docker.inspect_image(BASE).await.is_ok() {
        return Some(docker);
    }
    if !Path::new("/bin/busybox").exists() {
        return skip(format!(
            "{BASE} is missing and /bin/busybox is not there to build it"
        ));
    }
    match build_base(&docker).await {
        Ok(()) => Some(docker),
        Err(e) => skip(format!("could not build {BASE}: {e}")),
    }
}

async fn build_base(docker: &Docker) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\",\"--install\",\"-s\",\"/bin\"]\n",
    )
    .map_err(|e| e.to_string())?;
    let mut tar = Vec::new();
    write_context_tar(dir.path(), Path::new("Dockerfile"), &mut tar).map_err(|e| e.to_string())?;
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(BASE)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(tar.into())));
    while let Some(item) = stream.next().await {
        item.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Start a sleeping container; returns (id, host pid).
async fn start_sleeper(docker: &Docker, name: &str) -> Result<(String, u32), String> {
    let body = ContainerCreateBody {
        image: Some(BASE.to_string()),
        cmd: Some(vec!["sleep".into(), "60".into()]),
        ..Default::default()
    };
    let opts = CreateContainerOptionsBuilder::default().name(name).build();
    let created = docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| e.to_string())?;
    docker
        .start_container(&created.id, None)
        .await
        .map_err(|e| e.to_string())?;
    let inspect = docker
        .inspect_container(&created.id, None)
        .await
        .map_err(|e| e.to_string())?;
    let pid = inspect
        .state
        .and_then(|s| s.pid)
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or("container has no host pid")?;
    Ok((created.id, pid))
}

/// Short id -> name of the running containers, the lookup the engine side does.
async fn container_names(docker: &Docker) -> HashMap<String, String> {
    let list = docker
        .list_containers(None::<ListContainersOptions>)
        .await
        .unwrap_or_default();
    list.into_iter()
        .filter_map(|c| {
            let id = c.id?.get(..12)?.to_string();
            let name = c.names?.first()?.trim_start_matches('/').to_string();
            Some((id, name))
        })
        .collect()
}

#[tokio::test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn gpu_process_in_a_container_names_the_container() {
    let Some(docker) = engine_or_skip().await else {
        return;
    };
    let name = format!("dockui-test-gpu-{}", std::process::id());
    let started = start_sleeper(&docker, &name).await;
    // Probe while the container runs (and map ids to names as the engine would), then remove it
    // before asserting anything.
    let outcome = match &started {
        Ok((_, pid)) => {
            let standin = nvml_standin::build(&[&format!("EXTRA_PID={pid}")]);
            let mut state = probe(Some(&standin.lib));
            let names = container_names(&docker).await;
            state.set_container_names(|id| names.get(id).cloned());
            Ok(state)
        }
        Err(e) => Err(e.clone()),
    };
    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    let removed = docker.remove_container(&name, Some(rm)).await;
    let (id, pid) = started.expect("container started");
    removed.expect("container removed");
    assert!(
        docker.inspect_container(&name, None).await.is_err(),
        "container {name} is gone"
    );

    let state = outcome.expect("probe ran");
    let GpuState::Ready(snap) = state else {
        panic!("stand-in should be ready: {state:?}");
    };
    let Field::Value(procs) = &snap.gpus[0].processes else {
        panic!("processes listed");
    };
    let p = procs
        .iter()
        .find(|p| p.pid == pid)
        .expect("the container's pid is listed");
    assert_eq!(p.container.as_deref(), Some(&id[..12]));
    assert_eq!(p.container_name.as_deref(), Some(name.as_str()));
    assert!(render_human(&GpuState::Ready(snap.clone())).contains(&format!("container {name}")));
    // The fake PIDs are not in any container.
    assert!(
        procs
            .iter()
            .filter(|p| p.pid != pid)
            .all(|p| p.container.is_none())
    );
}
