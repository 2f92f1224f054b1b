//! Secrets through the binary: DU130 fires on a token passed through ARG and used by RUN (not on look-alikes),
//! and a secret build-arg value never reaches the build log, the build record, the JSON result or dockui's
//! own log.

mod common;

use std::path::Path;

fn project(home: &Path, dockerfile: &str) -> std::path::PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"dockui-test/secrets\"\ntag = \"t{}\"\nno_cache = true\nmax_attempts = 1\n[smoke]\ninfer = false\n",
            std::process::id()
        ),
    )
    .unwrap();
    dir
}

fn du130(home: &Path, dockerfile: &str) -> Vec<serde_json::Value> {
    let dir = project(home, dockerfile);
    let out = common::dockui(home)
        .args(["check", "--no-host-gpu", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "DU130")
        .cloned()
        .collect()
}

#[test]
fn check_flags_a_token_build_arg_used_by_run_and_proposes_a_secret_mount() {
    let home = tempfile::tempdir().unwrap();
    let found = du130(
        home.path(),
        "FROM python:3.11-slim\nARG HF_TOKEN\nRUN huggingface-cli login --token $HF_TOKEN\n",
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let fix = &found[0]["fixes"][0];
    assert_eq!(fix["level"], "suggestion");
    assert!(
        fix["edits"]
            .to_string()
            .contains("--mount=type=secret,id=HF_TOKEN"),
        "{fix:#}"
    );
}

#[test]
fn check_leaves_look_alikes_alone() {
    for df in [
        "FROM python:3.11-slim\nARG TOKENIZER_NAME=bert-base\nRUN echo $TOKENIZER_NAME\n",
        "FROM python:3.11-slim\nENV PASSWORD_FILE=/run/secrets/x\n",
    ] {
        let home = tempfile::tempdir().unwrap();
        assert!(du130(home.path(), df).is_empty(), "{df}");
    }
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_secret_build_arg_is_masked_in_logs_history_and_json() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let e = common::engine_or_skip("a_secret_build_arg_is_masked_in_logs_history_and_json")
            .await
            .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        dockui::docker::standin::ensure(&e, dockui::docker::standin::DEMO_BASE, tx)
            .await
            .unwrap();
    });
    let secret = "hf_Sup3rS3cretValue42";
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        &format!(
            "FROM {}\nARG HF_TOKEN\nRUN echo \"token=$HF_TOKEN\" && false\n",
            dockui::docker::standin::DEMO_BASE
        ),
    );
    let out = common::dockui(home.path())
        .args(["build", "--format", "json", "--build-arg"])
        .arg(format!("HF_TOKEN={secret}"))
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the RUN fails on purpose: {stderr}"
    );
    assert!(!stdout.contains(secret), "JSON result: {stdout}");
    assert!(!stderr.contains(secret), "stderr: {stderr}");
    // Every file dockui wrote: attempt logs, build.json, dockui.log.
    let mut seen_masked = false;
    let mut files = 0;
    let mut stack = vec![home.path().join("data"), home.path().join("state")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            files += 1;
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(!text.contains(secret), "{} holds the secret", p.display());
            seen_masked |= text.contains("token=***");
        }
    }
    assert!(files >= 2, "the build wrote its record");
    assert!(seen_masked, "the log shows the masked line");
    let _ = std::process::Command::new("docker")
        .args([
            "rmi",
            "-f",
            &format!("dockui-test/secrets:t{}", std::process::id()),
        ])
        .output();
}
