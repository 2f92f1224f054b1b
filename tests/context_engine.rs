//! Our .dockerignore handling against the real engine: build `COPY . /ctx` + `RUN find /ctx` from the
//! tar we stream and compare what the engine saw with what `context_file_list` says is sent. When the
//! docker CLI is installed, also compare with what the CLI itself sends for the same directory.
//!
//! Needs a Docker engine; skips with a reason when there is none, unless DOCKUI_REQUIRE_DOCKER=1.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, RemoveImageOptionsBuilder};
use dockui::docker::context::{context_file_list, context_tar_stream, effective_ignore};
use dockui::docker::dockerignore::DockerIgnore;
use futures_util::StreamExt;

const BASE: &str = "dockui-test/busybox:latest";

fn require_docker() -> bool {
    std::env::var("DOCKUI_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

/// Either the engine, or None after printing why the test is skipped (panics when it is required).
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
    // Tests of this binary run in parallel: build the base once, not once per test.
    static BASE_READY: tokio::sync::OnceCell<Result<(), String>> =
        tokio::sync::OnceCell::const_new();
    let ready = BASE_READY
        .get_or_init(|| async {
            if docker.inspect_image(BASE).await.is_ok() {
                return Ok(());
            }
            if !Path::new("/bin/busybox").exists() {
                return Err(format!(
                    "{BASE} is missing and /bin/busybox is not there to build it"
                ));
            }
            build_base(&docker)
                .await
                .map_err(|e| format!("could not build {BASE}: {e}"))
        })
        .await;
    match ready {
        Ok(()) => Some(docker),
        Err(e) => skip(e.clone()),
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
    build(docker, dir.path(), BASE, false).await.map(|_| ())
}

/// Build `root` with the legacy builder from our own tar, streamed as the request body; returns the
/// joined `stream` output.
async fn build(docker: &Docker, root: &Path, tag: &str, nocache: bool) -> Result<String, String> {
    let (body, tar_done) = context_tar_stream(root.to_path_buf(), PathBuf::from("Dockerfile"));
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .nocache(nocache)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_try_stream(body)));
    let mut out = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = info.stream {
                    out.push_str(&s);
                }
            }
            Err(e) => return Err(format!("{e}\n--- output so far ---\n{out}")),
        }
    }
    let stats = tar_done
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if stats.files == 0 {
        return Err("the context tar had no files".into());
    }
    Ok(out)
}

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(p, content).expect("write");
}

const TRICKY_IGNORE: &str = "\
# comments and blank lines are skipped

*.log
!keep.log
**/__pycache__
data
!data/labels.csv
models/*
!models/config.json
docs/**/*.md
!docs/README.md
/build/
./tmp
**/.git
secret?.txt
[ab]c.bin
cache
!cache-keep.txt
!**/keep.txt
q
!q/b
q
 # a pattern, not a comment
Dockerfile
.dockerignore
";

/// A context a GPU project might have, with every corner of the rules above exercised.
fn tricky_context(root: &Path) {
    write(
        root,
        "Dockerfile",
        &format!("FROM {BASE}\nCOPY . /ctx\nRUN find /ctx | sort\n"),
    );
    write(root, ".dockerignore", TRICKY_IGNORE);
    for f in [
        "app.py",
        "x.log",
        "keep.log",
        "sub/x.log",
        "sub/__pycache__/m.pyc",
        "__pycache__/a.pyc",
        "data/labels.csv",
        "data/raw/1.bin",
        "models/config.json",
        "models/w.bin",
        "models/sub/deep.json",
        "docs/README.md",
        "docs/a.md",
        "docs/api/b.md",
        "docs/api/c.txt",
        "build/out.o",
        "src/build/keep.c",
        "tmp/t",
        ".git/HEAD",
        "vendor/lib/.git/config",
        "secret1.txt",
        "secret12.txt",
        "ac.bin",
        "cc.bin",
        "cache/x",
        "cache-keep.txt",
        "cache/keep.txt",
        "keep.txt",
        "q/b",
        "q/c",
        "# a pattern, not a comment",
    ] {
        write(root, f, f);
    }
    std::fs::create_dir_all(root.join("emptydir")).expect("mkdir");
    // Sent once, then as a hard link.
    std::fs::hard_link(root.join("app.py"), root.join("app-hardlink.py")).expect("hard link");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("app.py", root.join("link-to-app")).expect("symlink");
        std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling")).expect("symlink");
        std::os::unix::fs::symlink("models", root.join("models-link")).expect("symlink");
    }
}

/// What `COPY . /ctx` should leave in the image according to our walk: every sent entry, the parent
/// directories the engine creates for them, minus the Dockerfile and .dockerignore when the original
/// patterns excluded them (the engine deletes those two after reading them).
fn expected_in_image(root: &Path) -> BTreeSet<String> {
    let original = DockerIgnore::load(root).expect("load");
    let mut set = BTreeSet::from(["/ctx".to_string()]);
    for p in context_file_list(root, Path::new("Dockerfile")).expect("list") {
        let rel = p.to_string_lossy().into_owned();
        if (rel == "Dockerfile" || rel == ".dockerignore") && original.is_excluded(&rel) {
            continue;
        }
        let mut parent = PathBuf::new();
        for part in p.iter() {
            parent.push(part);
            set.insert(format!("/ctx/{}", parent.to_string_lossy()));
        }
    }
    set
}

fn ctx_lines(output: &str) -> BTreeSet<String> {
    output
        .lines()
        .filter(|l| *l == "/ctx" || l.starts_with("/ctx/"))
        .map(str::to_string)
        .collect()
}

async fn remove_image(docker: &Docker, tag: &str) {
    let opts = RemoveImageOptionsBuilder::default().force(true).build();
    if let Err(e) = docker.remove_image(tag, Some(opts), None).await {
        eprintln!("note: could not remove {tag}: {e}");
    }
}

#[tokio::test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn engine_sees_exactly_what_the_matcher_sends() {
    let Some(docker) = engine_or_skip().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    tricky_context(dir.path());
    let tag = format!("dockui-test/context-check:{}", std::process::id());
    let result = build(&docker, dir.path(), &tag, true).await;
    remove_image(&docker, &tag).await;
    let output = result.expect("build succeeds");
    let seen = ctx_lines(&output);
    let expected = expected_in_image(dir.path());
    assert_eq!(
        seen, expected,
        "engine (left) vs matcher (right); build output:\n{output}"
    );
    // Spot checks, so a matcher that sends everything cannot pass by agreeing with itself.
    for sent in [
        "/ctx/keep.log",
        "/ctx/sub/x.log",
        "/ctx/data/labels.csv",
        "/ctx/models/config.json",
        "/ctx/docs/README.md",
        "/ctx/docs/api/c.txt",
        "/ctx/src/build/keep.c",
        "/ctx/secret12.txt",
        "/ctx/cc.bin",
        "/ctx/cache-keep.txt",
        "/ctx/keep.txt",
        "/ctx/q/b",
        "/ctx/dangling",
        "/ctx/emptydir",
        "/ctx/app-hardlink.py",
    ] {
        assert!(seen.contains(sent), "{sent} should reach the engine");
    }
    for dropped in [
        "/ctx/x.log",
        "/ctx/sub/__pycache__",
        "/ctx/data/raw",
        "/ctx/models/w.bin",
        "/ctx/models/sub",
        "/ctx/docs/a.md",
        "/ctx/build",
        "/ctx/tmp",
        "/ctx/vendor/lib/.git",
        "/ctx/secret1.txt",
        "/ctx/ac.bin",
        "/ctx/cache",
        // Docker does not walk into "cache" for "!**/keep.txt" (the pattern does not start with it).
        "/ctx/cache/keep.txt",
        "/ctx/q/c",
        "/ctx/# a pattern, not a comment",
        "/ctx/Dockerfile",
        "/ctx/.dockerignore",
    ] {
        assert!(
            !seen.contains(dropped),
            "{dropped} should not reach the engine"
        );
    }
    // The tar did carry the build files, the engine removed them.
    let list = context_file_list(dir.path(), Path::new("Dockerfile")).expect("list");
    assert!(list.contains(&PathBuf::from("Dockerfile")));
    assert!(list.contains(&PathBuf::from(".dockerignore")));
    assert!(effective_ignore(dir.path(), Path::new("Dockerfile")).is_ok());
}

/// The docker CLI's own context upload (legacy builder) must send the same files as ours.
#[tokio::test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn docker_cli_sends_the_same_files() {
    let Some(docker) = engine_or_skip().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    tricky_context(dir.path());
    let tag = format!("dockui-test/context-cli:{}", std::process::id());
    let cli = tokio::process::Command::new("docker")
        .args(["build", "--no-cache", "--rm", "--force-rm", "-t", &tag, "."])
        .current_dir(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .await;
    let out = match cli {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIP: docker CLI not runnable: {e}");
            return;
        }
    };
    remove_image(&docker, &tag).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker build failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_seen = ctx_lines(&stdout);
    assert_eq!(
        cli_seen,
        expected_in_image(dir.path()),
        "docker CLI (left) vs our matcher (right)"
    );
}
