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
    /// One platform (`linux/arm64`) of a multi-platform build: its image is `repo:tag-<arch>`, never the
    /// project's image on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_of: Option<String>,
    /// A multi-platform build: its platforms' own builds (ids), each with a `platform_of` entry of its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
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
            platform_of: v["platform_of"].as_str().map(str::to_string),
            platforms: v["platforms"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["build_id"].as_str().map(str::to_string))
                .collect(),
        },
        None => BuildSummary {
            build_id: id,
            status: "unfinished".into(),
            image: String::new(),
            attempts: attempt_files(dir).len(),
            build_time_s: 0.0,
            platform_of: None,
            platforms: Vec::new(),
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
/// Err: the newest multi-platform build under it did not complete, so its per-platform tags
/// (`repo:tag-<arch>`) are partly that build's and partly older: no set of them is one build's.
pub fn latest_image(builds_dir: &Path, repository: &str) -> Result<Option<String>, String> {
    latest_in(&list(builds_dir), repository)
}

fn latest_in(builds: &[BuildSummary], repository: &str) -> Result<Option<String>, String> {
    let prefix = format!("{repository}:");
    // Builds come newest first; a multi-platform build's entry is written after its platforms' own.
    let mut parts_of_seen_sets: Vec<&str> = Vec::new();
    for b in builds {
        if !b.image.starts_with(&prefix) {
            continue;
        }
        if let Some(platform) = &b.platform_of {
            if parts_of_seen_sets.contains(&b.build_id.as_str()) {
                continue;
            }
            // A platform built after the last multi-platform entry: dockui stopped in the middle of one.
            return Err(incomplete(
                repository,
                &format!("{platform} was the last platform built"),
            ));
        }
        if !b.platforms.is_empty() {
            if b.status != "succeeded" {
                return Err(incomplete(repository, &format!("it {}", b.status)));
            }
            parts_of_seen_sets.extend(b.platforms.iter().map(String::as_str));
        }
        if b.status == "succeeded" {
            return Ok(Some(b.image.clone()));
        }
    }
    Ok(None)
}

fn incomplete(what: &str, how: &str) -> String {
    format!(
        "the newest multi-platform build of {what} did not complete ({how}): its per-platform tags are partly \
         from it and partly older, so no complete set can be pushed; build again (b / dockui build), or push \
         one platform's image by name (dockui push IMAGE:TAG-ARCH)"
    )
}

/// The newest build of `image` (`repo:tag`) when it was a multi-platform one: its entry's summary (which lists
/// each platform's image). Ok(None): the newest build of `image` was an ordinary one, or there is none. Err:
/// that multi-platform build did not complete (as in `latest_image`).
pub fn multi_platform_summary(
    builds_dir: &Path,
    image: &str,
) -> Result<Option<serde_json::Value>, String> {
    for b in list(builds_dir) {
        if let Some(platform) = &b.platform_of {
            // Met before any entry of `image` itself: a platform of a build of `image` that never finished.
            let of_image = super::platforms::Platform::parse(platform)
                .is_ok_and(|p| b.image == super::platforms::platform_image(image, &p));
            if of_image {
                return Err(incomplete(
                    image,
                    &format!("{platform} was the last platform built"),
                ));
            }
            continue;
        }
        if b.image != image {
            continue;
        }
        if !b.platforms.is_empty() {
            if b.status != "succeeded" {
                return Err(incomplete(image, &format!("it {}", b.status)));
            }
            let bytes = std::fs::read(builds_dir.join(&b.build_id).join(SUMMARY))
                .map_err(|e| format!("cannot read the build record {}: {e}", b.build_id))?;
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("cannot read the build record {}: {e}", b.build_id));
        }
        if b.status == "succeeded" {
            return Ok(None);
        }
    }
    Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, status: &str, image: &str) -> BuildSummary {
        BuildSummary {
            build_id: id.into(),
            status: status.into(),
            image: image.into(),
            attempts: 1,
            build_time_s: 1.0,
            platform_of: None,
            platforms: Vec::new(),
        }
    }

    fn part(id: &str, status: &str, image: &str, platform: &str) -> BuildSummary {
        BuildSummary {
            platform_of: Some(platform.into()),
            ..entry(id, status, image)
        }
    }

    fn set(id: &str, status: &str, image: &str, parts: &[&str]) -> BuildSummary {
        BuildSummary {
            platforms: parts.iter().map(|p| p.to_string()).collect(),
            ..entry(id, status, image)
        }
    }

    #[test]
    fn push_dir_takes_the_newest_good_build_and_never_one_platform_of_a_set() {
        // Newest first, as `list` gives them.
        let complete = [
            set("6", "succeeded", "r/app:v2", &["4", "5"]),
            part("5", "succeeded", "r/app:v2-arm64", "linux/arm64"),
            part("4", "succeeded", "r/app:v2-amd64", "linux/amd64"),
            entry("3", "succeeded", "r/app:v1"),
        ];
        assert_eq!(latest_in(&complete, "r/app"), Ok(Some("r/app:v2".into())));
        // An ordinary build that failed leaves the image before it intact: that one is pushed, as before.
        let failed_single = [entry("7", "failed", "r/app:v3"), complete[0].clone()];
        assert_eq!(
            latest_in(&failed_single, "r/app"),
            Ok(Some("r/app:v2".into()))
        );
        assert_eq!(latest_in(&complete, "other/app"), Ok(None));
    }

    #[test]
    fn an_incomplete_multi_platform_build_refuses_push_dir() {
        // arm64 failed after amd64 was built and tagged.
        let failed = [
            set("9", "failed", "r/app:v2", &["7", "8"]),
            part("8", "failed", "r/app:v2-arm64", "linux/arm64"),
            part("7", "succeeded", "r/app:v2-amd64", "linux/amd64"),
            set("6", "succeeded", "r/app:v2", &["4", "5"]),
        ];
        let why = latest_in(&failed, "r/app").unwrap_err();
        assert!(
            why.contains("did not complete (it failed)") && why.contains("build again"),
            "{why}"
        );
        let cancelled = [set("9", "cancelled", "r/app:v2", &["7"]), failed[2].clone()];
        assert!(
            latest_in(&cancelled, "r/app")
                .unwrap_err()
                .contains("it cancelled")
        );
        // dockui stopped in the middle: a platform's build with no set entry after it.
        let stopped = [
            part("7", "succeeded", "r/app:v2-amd64", "linux/amd64"),
            set("6", "succeeded", "r/app:v2", &["4", "5"]),
        ];
        let why = latest_in(&stopped, "r/app").unwrap_err();
        assert!(
            why.contains("linux/amd64 was the last platform built"),
            "{why}"
        );
    }

    #[test]
    fn the_history_marks_platform_builds_and_sets() {
        let dir = tempfile::tempdir().unwrap();
        let write = |id: &str, v: serde_json::Value| {
            std::fs::create_dir_all(dir.path().join(id)).unwrap();
            std::fs::write(dir.path().join(id).join(SUMMARY), v.to_string()).unwrap();
        };
        write(
            "20260101T000000Z-1-0",
            serde_json::json!({"success": true, "image": "r/app:v1-amd64", "platform_of": "linux/amd64"}),
        );
        write(
            "20260101T000001Z-1-1",
            serde_json::json!({"success": false, "image": "r/app:v1",
                "platforms": [{"platform": "linux/amd64", "build_id": "20260101T000000Z-1-0"}]}),
        );
        let builds = list(dir.path());
        assert_eq!(builds[0].platforms, ["20260101T000000Z-1-0"]);
        assert_eq!(builds[1].platform_of.as_deref(), Some("linux/amd64"));
        assert!(latest_image(dir.path(), "r/app").is_err());
        let why = multi_platform_summary(dir.path(), "r/app:v1").unwrap_err();
        assert!(why.contains("it failed"), "{why}");
    }
}
