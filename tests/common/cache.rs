//! Shared by the cache tests (cache_import, cache_local): builds on the real engine, the BuildKit cache
//! records a test made (and only those) removed, and a project whose RUN step shows whether it ran or was
//! taken from the cache.

use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{DiskUsageRequest, PruneRequest, UsageRecord};
use dockui::docker::{BuildEvent, BuildSpec, DockerError, DockerPort};
use std::path::Path;
use std::process::Command;

/// Removes the image when the test ends, also when it fails half-way.
pub struct RemoveImage(pub String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// Build (on the engine, or a BuildKit daemon) and collect the log lines.
pub async fn build(
    engine: &dyn DockerPort,
    spec: BuildSpec,
) -> (Result<String, DockerError>, Vec<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let result = engine.build(spec, tx).await;
    let mut lines = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let BuildEvent::Line(l) = e {
            lines.push(l);
        }
    }
    (result, lines)
}

/// Build what must build (the test fails with the log otherwise); the log lines.
pub async fn build_ok(engine: &dyn DockerPort, spec: BuildSpec) -> Vec<String> {
    let (r, lines) = build(engine, spec).await;
    r.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    lines
}

/// The cold build: `base` with the inline cache exported (it must build); the log lines and how long it took.
pub async fn inline_cache_build(
    engine: &dyn DockerPort,
    base: &BuildSpec,
) -> (Vec<String>, std::time::Duration) {
    let t0 = std::time::Instant::now();
    let lines = build_ok(
        engine,
        BuildSpec {
            cache_to: vec!["type=inline".into()],
            ..base.clone()
        },
    )
    .await;
    (lines, t0.elapsed())
}

/// The spec a test's builds start from: the project in `dir`, tagged `tag`, without a network.
pub fn base_spec(dir: &Path, tag: &str) -> BuildSpec {
    BuildSpec {
        context_dir: dir.to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: tag.into(),
        network: "none".into(),
        ..Default::default()
    }
}

/// Forget a build on the engine: its image, and the cache records naming one of `needles` (see
/// `prune_records_of`); how many records were removed.
pub async fn forget(tag: &str, needles: &[String]) -> usize {
    let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
    prune_records_of(needles).await
}

/// The engine's BuildKit control API.
async fn control() -> ControlClient<tonic::transport::Channel> {
    let target = dockui::buildkit::Target::engine("unix:///var/run/docker.sock").unwrap();
    ControlClient::new(target.channel().await.unwrap())
}

/// The engine's build cache records whose description names one of `needles`.
async fn records_matching(
    client: &mut ControlClient<tonic::transport::Channel>,
    needles: &[String],
) -> Vec<UsageRecord> {
    let du = client
        .disk_usage(DiskUsageRequest::default())
        .await
        .unwrap()
        .into_inner();
    du.record
        .into_iter()
        .filter(|r| needles.iter().any(|n| r.description.contains(n.as_str())))
        .collect()
}

/// The descriptions of the engine's build cache records that name one of `needles`.
pub async fn records_naming(needles: &[String]) -> Vec<String> {
    let records = records_matching(&mut control().await, needles).await;
    records.into_iter().map(|r| r.description).collect()
}

/// Remove from the engine's BuildKit cache only the records whose description names one of `needles` (the
/// test's unique marker, or a layer digest only that test wrote: `imported sha256:...`), never anyone else's.
pub async fn prune_records_of(needles: &[String]) -> usize {
    let mut client = control().await;
    let ids: Vec<String> = records_matching(&mut client, needles)
        .await
        .into_iter()
        .map(|r| r.id)
        .collect();
    for id in &ids {
        let mut stream = client
            .prune(PruneRequest {
                filter: vec![format!("id=={id}")],
                all: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        while let Ok(Some(_)) = stream.message().await {}
    }
    ids.len()
}

/// A busybox project whose RUN step prints `MARKER-ran`, sleeps 2 s and writes a layer.
pub fn project(root: &Path, marker: &str) {
    std::fs::copy("/bin/busybox", root.join("busybox")).unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {marker}-ran && /bin/busybox sleep 2 && echo {marker} > /layer.txt\"]\n"
        ),
    )
    .unwrap();
}

/// The step's own output line ("#5 MARKER-ran"), not its command line that also names it.
pub fn step_ran(lines: &[String], marker: &str) -> bool {
    let out = format!("{marker}-ran");
    lines.iter().any(|l| {
        l.split_once(' ')
            .is_some_and(|(n, rest)| n.starts_with('#') && rest == out)
    })
}

/// The RUN vertex is numbered; its CACHED line carries the same number.
pub fn step_was_cached(lines: &[String], marker: &str) -> bool {
    let Some(num) = lines
        .iter()
        .find(|l| l.contains(marker) && l.contains("RUN"))
        .and_then(|l| l.split_whitespace().next())
    else {
        return false;
    };
    lines.iter().any(|l| l == &format!("{num} CACHED"))
}
