//! The context `COPY .` sees is the same through BuildKit as through the legacy builder (and docker) for the
//! same `.dockerignore`: built both ways on the real engine, the file lists inside the images are compared.

mod common;

use dockui::docker::{BuildEvent, BuildSpec, Builder, DockerPort};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// The files under /ctx in `image`, read from an exported (never started) container.
fn files_in(image: &str) -> BTreeSet<String> {
    let label = format!(
        "{}={}",
        dockui::docker::bollard_engine::GROUP_LABEL,
        common::run_group()
    );
    let created = Command::new("docker")
        .args(["create", "--label", &label, image, "x"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let export = Command::new("sh")
        .args(["-c", &format!("docker export {id} | tar t")])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rm", "-f", &id]).output();
    String::from_utf8_lossy(&export.stdout)
        .lines()
        .filter(|l| l.starts_with("ctx/") && *l != "ctx/")
        .map(|l| l.trim_end_matches('/').to_string())
        .collect()
}

async fn build(
    engine: &dockui::docker::BollardEngine,
    root: &Path,
    builder: Builder,
    tag: &str,
) -> Vec<String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: root.to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: tag.to_string(),
        no_cache: true,
        builder,
        ..Default::default()
    };
    let result = engine.build(spec, tx).await;
    let mut lines = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let BuildEvent::Line(l) = e {
            lines.push(l);
        }
    }
    result.unwrap_or_else(|e| panic!("build {tag} failed: {e}\n{}", lines.join("\n")));
    lines
}

fn remove(tag: &str) {
    let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
}

async fn compare(name: &str, ignore: &str, expected: &[&str]) -> Vec<String> {
    let engine = common::engine_or_skip(name).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
    write(root, ".dockerignore", ignore);
    write(root, "app.py", "print('hi')\n");
    write(root, "other.txt", "not for the image\n");
    write(root, "data/x.log", "log\n");
    let pid = std::process::id();
    let bk = format!("dockui-test/ctx-buildkit:{name}-{pid}");
    let legacy = format!("dockui-test/ctx-legacy:{name}-{pid}");
    let bk_lines = build(&engine, root, Builder::BuildKit, &bk).await;
    build(&engine, root, Builder::Legacy, &legacy).await;
    let (through_bk, through_legacy) = (files_in(&bk), files_in(&legacy));
    remove(&bk);
    remove(&legacy);
    assert_eq!(
        through_bk, through_legacy,
        "BuildKit (left) vs legacy (right)"
    );
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(through_legacy, expected);
    bk_lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn star_and_one_reinclude_gives_the_same_files_both_ways() {
    let lines = compare("star", "*\n!app.py\n", &["ctx/app.py"]).await;
    assert!(
        lines.iter().any(|l| l.contains("using the legacy builder")),
        "the switch is said in the log: {lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_dockerignore_that_keeps_the_build_files_goes_through_buildkit_with_the_same_files() {
    let lines = compare(
        "keep",
        "*.txt\ndata\n",
        &["ctx/.dockerignore", "ctx/Dockerfile", "ctx/app.py"],
    )
    .await;
    assert!(
        lines.iter().any(|l| l.contains("with BuildKit")),
        "really built by BuildKit: {lines:?}"
    );
}
