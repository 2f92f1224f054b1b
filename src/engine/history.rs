//! Build history: one directory per build under the data dir, with every attempt's raw log and a summary.

use super::BuildOutcome;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SUMMARY: &str = "build.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BuildSummary {
    pub build_id: String,
    /// succeeded, failed, cancelled, or unfinished (no summary: dockui stopped mid-build).
    pub status: String,
    pub image: String,
    pub attempts: usize,
    pub build_time_s: f64,
}

pub fn write_summary(dir: &Path, outcome: &BuildOutcome) {
    // The summary is a convenience; the logs are the record. A failed write is logged, not fatal.
    match serde_json::to_vec_pretty(outcome) {
        Ok(bytes) => {
            if let Err(e) = crate::fix::write::replace_file(&dir.join(SUMMARY), &bytes, None) {
                log::warn!("cannot write build summary: {e}");
            }
        }
        Err(e) => log::warn!("cannot serialise build summary: {e}"),
    }
}

/// Past builds, newest first.
pub fn list(builds_dir: &Path) -> Vec<BuildSummary> {
    let Ok(entries) = std::fs::read_dir(builds_dir) else {
        return Vec::new();
    };
    let mut out: Vec<BuildSummary> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| summary_of(&e.path()))
        .collect();
    out.sort_by(|a, b| b.build_id.cmp(&a.build_id));
    out
}

fn summary_of(dir: &Path) -> BuildSummary {
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let outcome: Option<serde_json::Value> = std::fs::read(dir.join(SUMMARY))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match outcome {
        Some(v) => BuildSummary {
            build_id: id,
            status: if v["success"] == true {
                "succeeded"
            } else if v["cancelled"] == true {
                "cancelled"
            } else {
                "failed"
            }
            .into(),
            image: v["image"].as_str().unwrap_or_default().into(),
            attempts: v["attempts"].as_array().map(Vec::len).unwrap_or(0),
            build_time_s: v["build_time_s"].as_f64().unwrap_or(0.0),
        },
        None => BuildSummary {
            build_id: id,
            status: "unfinished".into(),
            image: String::new(),
            attempts: attempt_files(dir).len(),
            build_time_s: 0.0,
        },
    }
}

fn attempt_files(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut v: Vec<(PathBuf, u32)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name
                .strip_prefix("attempt-")?
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            Some((e.path(), n))
        })
        .collect();
    v.sort_by_key(|(_, n)| *n);
    v
}

/// The image of the newest successful build tagged under `repository` (what `dockui push DIR` pushes).
pub fn latest_image(builds_dir: &Path, repository: &str) -> Option<String> {
    let prefix = format!("{repository}:");
    list(builds_dir)
        .into_iter()
        .find(|b| b.status == "succeeded" && b.image.starts_with(&prefix))
        .map(|b| b.image)
}

/// A past build whose image failed its smoke tests: (build id, the failed checks' names).
#[derive(Debug, Clone, PartialEq)]
pub struct SmokeFailure {
    pub build_id: String,
    pub checks: Vec<String>,
}

/// Did the newest build of `image` (by name, or by image id) fail its smoke tests? None: it passed, ran
/// none, or dockui never built it.
pub fn smoke_failure(
    builds_dir: &Path,
    image: &str,
    image_id: Option<&str>,
) -> Option<SmokeFailure> {
    for b in list(builds_dir) {
        let Ok(bytes) = std::fs::read(builds_dir.join(&b.build_id).join(SUMMARY)) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let same_name = v["image"].as_str() == Some(image);
        let same_id = image_id.is_some() && v["image_id"].as_str() == image_id;
        if !(same_name || same_id) {
            continue;
        }
        let failed: Vec<String> = v["smoke"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"].as_str().is_some_and(|st| st != "passed"))
            .filter_map(|s| s["name"].as_str().map(str::to_string))
            .collect();
        return (!failed.is_empty()).then_some(SmokeFailure {
            build_id: b.build_id,
            checks: failed,
        });
    }
    None
}

/// The attempt logs of one build (a unique prefix of the id is enough), in attempt order.
pub fn attempt_logs(builds_dir: &Path, id: &str) -> std::io::Result<Vec<(PathBuf, u32)>> {
    let matches: Vec<PathBuf> = std::fs::read_dir(builds_dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(id))
        .map(|e| e.path())
        .collect();
    match matches.as_slice() {
        [one] => Ok(attempt_files(one)),
        [] => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no build {id} (see `dockui logs`)"),
        )),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{id} matches several builds: give more of the id"),
        )),
    }
}
