//! Failure-driven fixes and the stand-in base (issue 12, points 2 and 7) through `dockui build` on the real
//! engine. Each test builds its own stand-in under a unique `dockui-standin/` tag, so shims from another
//! checkout never mix in.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

struct Project {
    home: tempfile::TempDir,
    dir: PathBuf,
    standin: String,
    image: String,
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.image, &self.standin])
            .output();
    }
}

fn project(name: &str, dockerfile: &str, files: &[(&str, &str)], config: &str) -> Project {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let pid = std::process::id();
    let standin = format!("dockui-standin/{name}-{pid}:1");
    let image = format!("dockui-test/{name}:{pid}");
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    for (p, t) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    }
    let (repo, tag) = image.split_once(':').unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!("[build]\nimage = \"{repo}\"\ntag = \"{tag}\"\n[build.args]\nBASE_IMAGE = \"{standin}\"\n{config}"),
    )
    .unwrap();
    Project {
        home,
        dir,
        standin,
        image,
    }
}

fn build(p: &Project, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = common::dockui(p.home.path())
        .arg("build")
        .args(args)
        .args(["--format", "json"])
        .arg(&p.dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON object ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

const SCRIPTED_DOCKERFILE: &str = "ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nFROM ${BASE_IMAGE}\nWORKDIR /app\nCOPY scripts/ scripts/\nRUN sh scripts/setup.sh\nCMD [\"python\", \"-c\", \"import sys\"]\n";
// The prompts come from a script: no rule on the Dockerfile sees them.
const SETUP: &str = "#!/bin/sh\nset -e\napt-get update\napt-get install curl tzdata\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apt_prompt_in_a_script_is_fixed_before_the_failing_run_and_retried() {
    let test = "an_apt_prompt_in_a_script_is_fixed_before_the_failing_run_and_retried";
    if common::engine_or_skip(test).await.is_none() {
        return;
    }
    let p = project(
        "ffapt",
        SCRIPTED_DOCKERFILE,
        &[("scripts/setup.sh", SETUP)],
        "[smoke]\ninfer = false\n",
    );
    // The static analysis has nothing to say about the script's apt-get.
    let check = common::dockui(p.home.path())
        .args(["check", "--no-host-gpu", "--format", "json"])
        .arg(&p.dir)
        .output()
        .unwrap();
    let findings: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert!(
        !findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| ["DL3014", "DU101", "DU102"].contains(&f["rule"].as_str().unwrap())),
        "{findings:#}"
    );

    let (code, v, stderr) = build(&p, &["--auto-fix", "safe", "--max-attempts", "3"]);
    assert_eq!(code, 0, "{stderr}\n{v:#}");
    assert_eq!(v["standin"], true, "built on the stand-in: marked");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{v:#}");
    let first = &attempts[0];
    assert_eq!(
        first["diagnosis"]["signature"], "apt-confirm-abort",
        "{first:#}"
    );
    let fix = &first["fixes"][0];
    assert_eq!(fix["id"], "noninteractive-apt");
    assert_eq!(fix["level"], "safe");
    assert_eq!(fix["applied"], true);
    assert_eq!(fix["file"], "Dockerfile");
    assert!(
        fix["why"].as_str().unwrap().contains("sh scripts/setup.sh"),
        "{fix:#}"
    );
    assert!(
        first["fixes_applied"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("noninteractive-apt"))
    );
    assert_eq!(attempts[1]["status"], "succeeded");
    let df = read(&p.dir.join("Dockerfile"));
    let env = df.find("ENV DEBIAN_FRONTEND=noninteractive").expect(&df);
    assert!(
        df.contains("force-confdef") && df.contains("force-confold"),
        "{df}"
    );
    assert!(env < df.find("RUN sh scripts/setup.sh").unwrap(), "{df}");
    assert_eq!(
        read(&p.dir.join("scripts/setup.sh")),
        SETUP,
        "the script is untouched"
    );
    // `dockui undo` brings the original back: the write kept a backup.
    // (undo is scoped to the project it runs in.)
    let undo = common::dockui(p.home.path())
        .arg("undo")
        .current_dir(&p.dir)
        .output()
        .unwrap();
    assert_eq!(
        undo.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&undo.stderr)
    );
    assert_eq!(read(&p.dir.join("Dockerfile")), SCRIPTED_DOCKERFILE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_fix_off_the_step_fix_is_proposed_with_the_diagnosis_and_nothing_written() {
    let test = "with_auto_fix_off_the_step_fix_is_proposed_with_the_diagnosis_and_nothing_written";
    if common::engine_or_skip(test).await.is_none() {
        return;
    }
    let p = project(
        "ffoff",
        SCRIPTED_DOCKERFILE,
        &[("scripts/setup.sh", SETUP)],
        "[smoke]\ninfer = false\n",
    );
    let (code, v, _) = build(&p, &["--auto-fix", "off"]);
    assert_eq!(code, 1);
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "no retry without a fix written");
    assert_eq!(attempts[0]["fixes"][0]["id"], "noninteractive-apt");
    assert_eq!(attempts[0]["fixes"][0]["applied"], false);
    assert_eq!(read(&p.dir.join("Dockerfile")), SCRIPTED_DOCKERFILE);

    // The human summary carries the diagnosis and the proposed fix.
    let out = common::dockui(p.home.path())
        .args(["build", "--auto-fix", "off"])
        .arg(&p.dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let human = String::from_utf8_lossy(&out.stdout);
    for want in [
        "diagnosis: apt asked for confirmation (apt-confirm-abort)",
        "failing step: ",
        "RUN sh scripts/setup.sh",
        "what to do: ",
        "fix proposed (safe): Dockerfile line 5",
        "stand-in: built on dockui's offline stand-in base",
    ] {
        assert!(human.contains(want), "{want:?} not in:\n{human}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_import_gets_its_distribution_and_the_projects_own_package_imports_from_workdir()
{
    let test =
        "a_missing_import_gets_its_distribution_and_the_projects_own_package_imports_from_workdir";
    if common::engine_or_skip(test).await.is_none() {
        return;
    }
    let p = project(
        "ffimport",
        "ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nFROM ${BASE_IMAGE}\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY myapp/ myapp/\nCMD [\"python\", \"-c\", \"import myapp\"]\n",
        &[
            ("requirements.txt", "numpy<2\n"),
            ("myapp/__init__.py", "import yaml\n"),
        ],
        "[smoke]\ninfer = false\ncommands = [\"python -c 'import myapp, yaml'\"]\n",
    );
    let (code, v, stderr) = build(&p, &["--auto-fix", "suggestion", "--max-attempts", "2"]);
    assert_eq!(code, 0, "{stderr}\n{v:#}");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{v:#}");
    assert_eq!(attempts[0]["diagnosis"]["signature"], "module-not-found");
    assert_eq!(
        attempts[0]["diagnosis"]["detail"], "yaml",
        "myapp imported from the WORKDIR"
    );
    let fix = &attempts[0]["fixes"][0];
    assert_eq!(fix["id"], "add-requirement");
    assert_eq!(fix["level"], "suggestion");
    assert_eq!(fix["applied"], true);
    assert_eq!(read(&p.dir.join("requirements.txt")), "numpy<2\npyyaml\n");
    assert_eq!(v["smoke"][0]["status"], "passed");
    assert_eq!(v["standin"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_projects_own_package_is_never_advised_as_a_requirement_and_pythonpath_counts() {
    let test = "the_projects_own_package_is_never_advised_as_a_requirement_and_pythonpath_counts";
    if common::engine_or_skip(test).await.is_none() {
        return;
    }
    let dockerfile = "ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nFROM ${BASE_IMAGE}\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY myapp/ /srv/lib/myapp/\nCMD [\"python\", \"-c\", \"import myapp\"]\n";
    let p = project(
        "ffown",
        dockerfile,
        &[("requirements.txt", "numpy<2\n"), ("myapp/__init__.py", "")],
        "[smoke]\ninfer = false\ncommands = [\"python -c 'import myapp'\"]\n",
    );
    // The package is in the image but neither in the WORKDIR nor on PYTHONPATH: the import fails as it would.
    let (code, v, _) = build(&p, &["--auto-fix", "suggestion", "--max-attempts", "2"]);
    assert_eq!(code, 1, "{v:#}");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "nothing to retry with: {v:#}");
    let d = &attempts[0]["diagnosis"];
    assert_eq!(d["detail"], "myapp");
    assert!(
        d["explanation"].as_str().unwrap().contains("own package")
            && !d["explanation"]
                .as_str()
                .unwrap()
                .contains("add it to requirements"),
        "{d:#}"
    );
    assert_eq!(attempts[0]["fixes"], serde_json::json!([]));
    assert_eq!(read(&p.dir.join("requirements.txt")), "numpy<2\n");

    // With PYTHONPATH as the CMD would have it, the same import passes.
    std::fs::write(
        p.dir.join("Dockerfile"),
        dockerfile.replace("CMD [", "ENV PYTHONPATH=/srv/lib\nCMD ["),
    )
    .unwrap();
    let (code, v, stderr) = build(&p, &[]);
    assert_eq!(code, 0, "{stderr}\n{v:#}");
    assert_eq!(v["smoke"][0]["status"], "passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standin_apt_get_fails_without_yes_and_passes_with_it() {
    let test = "the_standin_apt_get_fails_without_yes_and_passes_with_it";
    if common::engine_or_skip(test).await.is_none() {
        return;
    }
    let p = project(
        "ffshim",
        "ARG BASE_IMAGE=x\nFROM ${BASE_IMAGE}\nRUN apt-get install curl\n",
        &[],
        "[smoke]\ninfer = false\n",
    );
    let (code, v, _) = build(&p, &["--max-attempts", "1"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(
        v["attempts"][0]["diagnosis"]["signature"],
        "apt-confirm-abort"
    );
    std::fs::write(
        p.dir.join("Dockerfile"),
        "ARG BASE_IMAGE=x\nFROM ${BASE_IMAGE}\nRUN apt-get install -y curl && apt-get -qq install wget\n",
    )
    .unwrap();
    let (code, v, stderr) = build(&p, &[]);
    assert_eq!(code, 0, "{stderr}\n{v:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_flake_is_retried_once_after_a_backoff_without_edits() {
    use std::io::{BufRead, Read, Write};
    let test = "a_network_flake_is_retried_once_after_a_backoff_without_edits";
    if common::engine_or_skip(test).await.is_none() {
        return;
    }
    // Nothing listens on the port during the first attempt; a server comes up during the backoff.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dockerfile = format!(
        "ARG BASE_IMAGE=x\nFROM ${{BASE_IMAGE}}\nRUN wget -q -O /fetched http://127.0.0.1:{port}/model.bin && cat /fetched\n"
    );
    let p = project("ffnet", &dockerfile, &[], "[smoke]\ninfer = false\n");
    let mut child = common::dockui(p.home.path())
        .args([
            "build",
            "--network",
            "host",
            "--auto-fix",
            "safe",
            "--no-cache",
        ])
        .args(["--max-attempts", "3", "--format", "json"])
        .arg(&p.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut lines = std::io::BufReader::new(stderr).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let backoff = line.contains("waiting 5s before the retry");
            seen.push(line);
            if backoff {
                let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
                let (mut conn, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\nweights")
                    .unwrap();
                break;
            }
        }
        seen.extend(lines.map_while(Result::ok));
        seen
    });
    let out = child.wait_with_output().unwrap();
    let stderr = server.join().unwrap().join("\n");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{v:#}");
    assert_eq!(attempts[0]["diagnosis"]["signature"], "network");
    let fix = &attempts[0]["fixes"][0];
    assert_eq!(fix["id"], "network-backoff");
    assert_eq!(fix["backoff_s"], 5);
    assert_eq!(fix["file"], serde_json::Value::Null, "no edits");
    assert_eq!(fix["applied"], true);
    assert_eq!(read(&p.dir.join("Dockerfile")), dockerfile);
}
