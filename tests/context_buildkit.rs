//! The context `COPY .` sees is byte for byte the same through BuildKit as through the legacy builder (and
//! docker) for the same `.dockerignore` (issue 11, point 8): each shape is built both ways on the real engine
//! (BuildKit really: the session's file sync, no fallback to the legacy builder), and the entries under /ctx in
//! the two images (path, type, mode, size, content hash) are compared.

mod common;

use dockui::docker::{BuildEvent, BuildSpec, Builder, DockerPort};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// path -> "kind mode size hash" for every entry under /ctx in `image`, read from an exported (never started)
/// container. Directories list kind only: a parent the engine creates for a re-included file has no mode of
/// its own to compare.
fn entries_in(image: &str) -> BTreeMap<String, String> {
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
    let export = Command::new("docker")
        .args(["export", &id])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rm", "-f", &id]).output();
    assert!(export.status.success());
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(&export.stdout[..]);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        if !path.starts_with("ctx/") {
            continue;
        }
        let kind = entry.header().entry_type();
        let desc = if kind.is_dir() {
            "dir".to_string()
        } else {
            let mode = entry.header().mode().unwrap() & 0o7777;
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            let link = entry
                .link_name()
                .ok()
                .flatten()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!(
                "{kind:?} {mode:o} {} {:016x} {link}",
                data.len(),
                dockui::hash::fnv1a([String::from_utf8_lossy(&data).as_ref()])
            )
        };
        out.insert(path, desc);
    }
    out
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

/// Build the same project both ways; assert the /ctx entries agree and are `expected` (paths).
async fn compare(name: &str, ignore: &str, expected: &[&str]) {
    let engine = common::engine_or_skip(name).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Dockerfile", "FROM scratch\nCOPY . /ctx/\n");
    write(root, ".dockerignore", ignore);
    write(root, "app.py", "print('hi')\n");
    write(root, "app.pyc", "compiled\n");
    write(root, "other.txt", "not for the image\n");
    write(root, "data/x.log", "log\n");
    write(root, "data/keep.txt", "keep me\n");
    write(root, "pkg/mod.py", "x = 1\n");
    write(root, "pkg/sub/mod.pyc", "compiled\n");
    std::fs::set_permissions(
        root.join("pkg/mod.py"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("app.py", root.join("link.py")).unwrap();
    let pid = std::process::id();
    let bk = format!("dockui-test/ctx-buildkit:{name}-{pid}");
    let legacy = format!("dockui-test/ctx-legacy:{name}-{pid}");
    let bk_lines = build(&engine, root, Builder::BuildKit, &bk).await;
    build(&engine, root, Builder::Legacy, &legacy).await;
    let (through_bk, through_legacy) = (entries_in(&bk), entries_in(&legacy));
    remove(&bk);
    remove(&legacy);
    assert!(
        bk_lines.iter().any(|l| l.contains("with BuildKit")),
        "really built by BuildKit, no switch to the legacy builder: {bk_lines:?}"
    );
    assert!(
        !bk_lines
            .iter()
            .any(|l| l.contains("using the legacy builder")),
        "{bk_lines:?}"
    );
    assert_eq!(
        through_bk, through_legacy,
        "BuildKit (left) vs legacy (right) for .dockerignore {ignore:?}"
    );
    let paths: Vec<&str> = through_legacy.keys().map(String::as_str).collect();
    assert_eq!(paths, expected, ".dockerignore {ignore:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn star_and_one_reinclude_leaves_out_the_build_files_both_ways() {
    compare("star", "*\n!app.py\n", &["ctx/app.py"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn double_star_suffix_pattern_gives_the_same_files_both_ways() {
    compare(
        "pyc",
        "**/*.pyc\n",
        &[
            "ctx/.dockerignore",
            "ctx/Dockerfile",
            "ctx/app.py",
            "ctx/data",
            "ctx/data/keep.txt",
            "ctx/data/x.log",
            "ctx/link.py",
            "ctx/other.txt",
            "ctx/pkg",
            "ctx/pkg/mod.py",
            "ctx/pkg/sub",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn an_excluded_dir_with_an_exception_gives_the_same_files_both_ways() {
    compare(
        "direx",
        "data\n!data/keep.txt\npkg\n*.txt\n!data/*.txt\nDockerfile\n",
        &[
            "ctx/.dockerignore",
            "ctx/app.py",
            "ctx/app.pyc",
            "ctx/data",
            "ctx/data/keep.txt",
            "ctx/link.py",
        ],
    )
    .await;
}
