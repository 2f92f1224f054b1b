//! Push through the front ends: `dockui push DIR --format json`, and `b` then `p` in the TUI in real tmux,
//! with the digest update of a deploy file reviewed and written from the Proposed diff pane.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use std::path::Path;
use std::process::Command;

fn project(home: &Path, registry: &str, repo: &str) -> std::path::PathBuf {
    let dir = home.join("demo");
    common::copy_dir(&common::demo_dir(), &dir);
    let tag = format!("push-{}", std::process::id());
    let mut cfg = std::fs::read_to_string(dir.join(".dockui.toml")).unwrap();
    cfg = cfg.replace(
        "image = \"dockui-local/demo\"",
        &format!("image = \"dockui-test/pushflow\"\ntag = \"{tag}\""),
    );
    cfg.push_str(&format!(
        "\n[push]\nregistry = \"{registry}\"\nrepository = \"{repo}\"\nupdate = [{{ file = \"deploy/.env\", key = \"IMAGE\" }}]\n[push.retry]\nattempts = 2\ninitial_delay_ms = 100\n"
    ));
    std::fs::write(dir.join(".dockui.toml"), cfg).unwrap();
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    std::fs::write(
        dir.join("deploy/.env"),
        "# deploy settings\nIMAGE=placeholder\nREPLICAS=2\n",
    )
    .unwrap();
    dir
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn headless_push_reports_the_manifest_digest_and_proposes_updates() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if rt
        .block_on(common::engine_or_skip(
            "headless_push_reports_the_manifest_digest_and_proposes_updates",
        ))
        .is_none()
    {
        return;
    }
    let Some(registry) = support::Registry::start("headless_push", None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), &registry.host, "flow/headless");
    let build = common::json_ok(
        common::dockui(home.path())
            .args(["build", "--format", "json"])
            .arg(&dir),
    );

    let out = common::dockui(home.path())
        .args(["push", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("Pushed") || stderr.contains("Layer already exists"),
        "layer progress on stderr: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = report["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"));
    assert_ne!(
        Some(digest),
        build["image_id"].as_str(),
        "the manifest digest, never the image id"
    );
    assert_eq!(report["verdict"], "pullable");
    // The registry serves exactly that digest.
    let resp = support::http(
        &registry.host,
        "HEAD",
        &format!("/v2/flow/headless/manifests/{digest}"),
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        b"",
    )
    .unwrap();
    assert_eq!(resp.header("Docker-Content-Digest"), Some(digest));
    // The deploy file is proposed, not written.
    let update = &report["proposed_updates"][0];
    assert!(
        update["diff"]
            .as_str()
            .unwrap()
            .contains(&format!("+IMAGE={}/flow/headless@{digest}", registry.host))
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("deploy/.env")).unwrap(),
        "# deploy settings\nIMAGE=placeholder\nREPLICAS=2\n"
    );
    let _ = Command::new("docker")
        .args(["rmi", "-f", build["image"].as_str().unwrap()])
        .output();
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn tui_build_push_then_accept_the_digest_update() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    if rt
        .block_on(common::engine_or_skip(
            "tui_build_push_then_accept_the_digest_update",
        ))
        .is_none()
    {
        return;
    }
    let Some(registry) = support::Registry::start("tui_push", None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), &registry.host, "flow/tui");
    let Some(t) = common::tmux::Tmux::dockui("push", 200, 55, home.path(), &dir) else {
        return;
    };
    let wait = |what: &str, pred: &dyn Fn(&str) -> bool| t.wait_for(what, pred);
    let tmux = |args: &[&str]| t.tmux(args);
    wait("TUI", &|s| s.contains("Digest"));
    tmux(&["send-keys", "-t", "t", "p"]);
    wait("push refused before a build", &|s| {
        s.contains("build first (b)")
    });
    tmux(&["send-keys", "-t", "t", "b"]);
    wait("build done", &|s| s.contains("built after 1 attempt"));
    tmux(&["send-keys", "-t", "t", "p"]);
    wait("pullable verdict", &|s| s.contains("verdict: pullable"));
    // Review: focus the diff pane, go to the first hunk (the push's deploy file is listed first), accept it,
    // write.
    tmux(&["send-keys", "-t", "t", "Tab"]);
    tmux(&["send-keys", "-t", "t", "g"]);
    wait("the .env hunk", &|s| s.contains("deploy/.env (1 hunk(s))"));
    tmux(&["send-keys", "-t", "t", "y"]);
    tmux(&["send-keys", "-t", "t", "w"]);
    wait("written", &|s| s.contains("wrote deploy/.env"));
    let env = std::fs::read_to_string(dir.join("deploy/.env")).unwrap();
    let line = env
        .lines()
        .find(|l| l.starts_with("IMAGE="))
        .unwrap()
        .to_string();
    assert!(
        line.starts_with(&format!("IMAGE={}/flow/tui@sha256:", registry.host)),
        "{env}"
    );
    assert!(
        env.starts_with("# deploy settings\n") && env.ends_with("REPLICAS=2\n"),
        "only the key changed:\n{env}"
    );
    // The Dockerfile was not touched: its hunks were never accepted.
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        std::fs::read_to_string(common::demo_dir().join("Dockerfile")).unwrap()
    );
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    let _ = Command::new("docker")
        .args([
            "rmi",
            "-f",
            &format!("dockui-test/pushflow:push-{}", std::process::id()),
        ])
        .output();
}
