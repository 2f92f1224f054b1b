//! Smoke tests in the built image: configured commands plus inferred checks, each in a fresh container with
//! a timeout; the container is always removed (also on timeout and cancel).

use crate::classify::{self, Diagnosis};
use crate::docker::{DockerPort, RunSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const IMPORT_NAMES: &str = include_str!("../../assets/import-names.toml");
/// Output kept per check (the tail): enough to classify and show, bounded for the UI and JSON.
const OUTPUT_TAIL: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmokeCheck {
    pub name: String,
    pub cmd: Vec<String>,
    pub gpus: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmokeStatus {
    Passed,
    Failed,
    TimedOut,
    Cancelled,
    /// The engine could not run the container at all.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeResult {
    pub name: String,
    pub command: String,
    pub status: SmokeStatus,
    pub exit_code: Option<i64>,
    pub duration_s: f64,
    pub output: String,
    pub diagnosis: Option<Diagnosis>,
    /// The check could not run because the engine went away (headless exits 2, as for an unreachable engine).
    #[serde(skip)]
    pub engine_lost: bool,
}

#[derive(Deserialize)]
struct ImportNames {
    skip: Vec<String>,
    names: BTreeMap<String, String>,
}

fn shell(cmd: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), cmd.into()]
}

/// A command written as a JSON array (`["/bin/busybox", "uname", "-m"]`) runs as it is, without a shell,
/// like a Dockerfile's exec form: for images without /bin/sh (FROM scratch, distroless).
fn exec_form(cmd: &str) -> Option<Vec<String>> {
    let cmd = cmd.trim();
    if !cmd.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(cmd)
        .ok()
        .filter(|argv| argv.first().is_some_and(|p| !p.is_empty()))
}

/// The import name for a requirement line, or None when it is not a plain top-level requirement.
fn import_name(line: &str, table: &ImportNames) -> Option<String> {
    let line = line.split('#').next()?.trim();
    if line.is_empty() || line.starts_with('-') || line.contains("://") {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let dist = line[..end].to_ascii_lowercase().replace('_', "-");
    if dist.is_empty() || table.skip.contains(&dist) {
        return None;
    }
    Some(
        table
            .names
            .get(&dist)
            .cloned()
            .unwrap_or_else(|| dist.replace(['-', '.'], "_")),
    )
}

/// The checks for a project: `[smoke] commands`, then (when `infer`) its container_smoke.sh, imports of the
/// top-level requirements, and torch's CUDA check when the host has GPUs.
pub fn plan(
    project_dir: &Path,
    commands: &[String],
    infer: bool,
    host_has_gpus: bool,
) -> Vec<SmokeCheck> {
    let mut checks: Vec<SmokeCheck> = commands
        .iter()
        .map(|c| SmokeCheck {
            name: c.clone(),
            cmd: exec_form(c).unwrap_or_else(|| shell(c)),
            gpus: host_has_gpus,
        })
        .collect();
    if !infer {
        return checks;
    }
    if project_dir.join("scripts/container_smoke.sh").is_file() {
        // The image's own copy runs: look where the Dockerfile usually puts the project.
        let find = "for d in \"$PWD\" /app /workspace /src; do if [ -f \"$d/scripts/container_smoke.sh\" ]; then exec sh \"$d/scripts/container_smoke.sh\"; fi; done; echo 'scripts/container_smoke.sh is not in the image (looked in WORKDIR, /app, /workspace, /src)' >&2; exit 127";
        checks.push(SmokeCheck {
            name: "scripts/container_smoke.sh".into(),
            cmd: shell(find),
            gpus: host_has_gpus,
        });
    }
    let table: ImportNames = toml::from_str(IMPORT_NAMES).expect("embedded import names are valid");
    let reqs = crate::analyze::project_files::read_text(project_dir, Path::new("requirements.txt"))
        .unwrap_or_default();
    let mut modules: Vec<String> = reqs
        .lines()
        .filter_map(|l| import_name(l, &table))
        .collect();
    modules.dedup();
    if !modules.is_empty() {
        let list = modules.join(", ");
        let py = format!(
            "if command -v python3 >/dev/null; then PY=python3; elif command -v python >/dev/null; then PY=python; else echo 'no python in the image: import check skipped'; exit 0; fi; exec $PY -c 'import {list}'"
        );
        checks.push(SmokeCheck {
            name: format!("python imports: {list}"),
            cmd: shell(&py),
            gpus: false,
        });
    }
    if host_has_gpus && modules.iter().any(|m| m == "torch") {
        let py = "python3 -c 'import torch, sys; ok = torch.cuda.is_available(); print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"available\", ok, \"devices\", torch.cuda.device_count()); sys.exit(0 if ok else 1)'";
        checks.push(SmokeCheck {
            name: "torch.cuda.is_available() on the GPUs".into(),
            cmd: shell(py),
            gpus: true,
        });
    }
    checks
}

/// Run one check with a timeout. Dropping this future (cancel) also removes the container.
pub async fn run_check(
    docker: &dyn DockerPort,
    image: &str,
    check: &SmokeCheck,
    timeout: Duration,
) -> SmokeResult {
    let started = Instant::now();
    let spec = RunSpec {
        image: image.to_string(),
        cmd: Some(check.cmd.clone()),
        gpus: check.gpus,
    };
    let mut engine_lost = false;
    let (status, exit_code, output) =
        match tokio::time::timeout(timeout, docker.run_once(spec)).await {
            Ok(Ok(out)) => {
                let status = if out.exit_code == 0 {
                    SmokeStatus::Passed
                } else {
                    SmokeStatus::Failed
                };
                (status, Some(out.exit_code), out.output)
            }
            Ok(Err(e)) => {
                engine_lost = matches!(e, crate::builder::DockerError::Unreachable { .. });
                (SmokeStatus::Error, None, e.to_string())
            }
            Err(_) => (
                SmokeStatus::TimedOut,
                None,
                format!("timed out after {}s", timeout.as_secs()),
            ),
        };
    let output = tail(&output, OUTPUT_TAIL);
    let diagnosis = if status == SmokeStatus::Passed {
        None
    } else {
        classify::classify(&output.lines().collect::<Vec<_>>())
    };
    SmokeResult {
        name: check.name.clone(),
        command: check.cmd.last().cloned().unwrap_or_default(),
        status,
        exit_code,
        duration_s: started.elapsed().as_secs_f64(),
        output,
        diagnosis,
        engine_lost,
    }
}

fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[... {} bytes cut ...]\n{}", start, &s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_names_follow_the_table() {
        let t: ImportNames = toml::from_str(IMPORT_NAMES).unwrap();
        assert_eq!(import_name("torch==2.5.1", &t).as_deref(), Some("torch"));
        assert_eq!(
            import_name("Pillow>=10.0  # images", &t).as_deref(),
            Some("PIL")
        );
        assert_eq!(
            import_name("opencv-python-headless", &t).as_deref(),
            Some("cv2")
        );
        assert_eq!(
            import_name("huggingface_hub[cli]>=0.20", &t).as_deref(),
            Some("huggingface_hub")
        );
        assert_eq!(
            import_name("numpy<2; python_version >= '3.9'", &t).as_deref(),
            Some("numpy")
        );
        assert_eq!(import_name("-r base.txt", &t), None);
        assert_eq!(
            import_name(
                "--extra-index-url https://download.pytorch.org/whl/cu124",
                &t
            ),
            None
        );
        assert_eq!(import_name("setuptools>=70", &t), None);
        assert_eq!(import_name("# comment", &t), None);
    }

    #[test]
    fn a_json_array_command_runs_without_a_shell() {
        let checks = plan(
            Path::new("/nonexistent"),
            &[
                r#"["/bin/busybox", "uname", "-m"]"#.to_string(),
                "echo [not json".to_string(),
                "[ -x /app/run ]".to_string(),
                "[]".to_string(),
            ],
            false,
            false,
        );
        assert_eq!(checks[0].cmd, ["/bin/busybox", "uname", "-m"]);
        // Shell commands that start with a bracket stay shell commands (`[` is test(1)).
        assert_eq!(checks[1].cmd, ["/bin/sh", "-c", "echo [not json"]);
        assert_eq!(checks[2].cmd, ["/bin/sh", "-c", "[ -x /app/run ]"]);
        assert_eq!(checks[3].cmd, ["/bin/sh", "-c", "[]"]);
    }

    #[test]
    fn plan_for_the_demo() {
        let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let checks = plan(&demo, &["echo hi".to_string()], true, false);
        let names: Vec<_> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "echo hi",
                "scripts/container_smoke.sh",
                "python imports: torch, torchvision, numpy, PIL"
            ]
        );
        assert!(checks.iter().all(|c| !c.gpus));
        let with_gpu = plan(&demo, &[], true, true);
        assert!(
            with_gpu
                .iter()
                .any(|c| c.gpus && c.name.contains("torch.cuda"))
        );
        assert!(plan(&demo, &[], false, true).is_empty());
    }

    #[test]
    fn tail_keeps_the_end_on_char_boundaries() {
        let s = "é".repeat(100);
        let t = tail(&s, 11);
        assert!(t.ends_with("ééééé"));
        assert_eq!(tail("short", 100), "short");
    }
}
