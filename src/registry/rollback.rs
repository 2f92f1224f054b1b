//! Rollback: point a tag back to an earlier manifest. dockui records every push's digest per tag in its data
//! dir (`pushes/<tag key>.jsonl`, files 0600); `rollback REPO:TAG` reads the manifest the target digest names
//! (exact bytes), PUTs it under the tag, and checks the registry now serves that digest and it is pullable.

use super::client::{RegistryClient, Verdict};
use super::reference::ImageName;
use super::report::PushReport;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecord {
    /// UTC, `2026-11-30T15:04:05Z`.
    pub time: String,
    /// `registry/repository:tag`.
    pub reference: String,
    pub digest: String,
    /// "push", or "rollback" for a tag dockui pointed back (skipped when looking for the previous push).
    pub kind: String,
}

/// Where the push history lives.
pub fn history_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pushes")
}

/// `registry/repository:tag` as dockui keys its history (Docker Hub spelled `docker.io/library/x`).
pub fn key(name: &ImageName, tag: &str) -> String {
    format!("{}/{}:{tag}", name.registry, name.repository)
}

fn file_for(dir: &Path, key: &str) -> PathBuf {
    let safe: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Distinct keys can sanitise alike (`a/b` vs `a_b`): the hash keeps their files apart.
    dir.join(format!(
        "{safe}-{:08x}.jsonl",
        crate::hash::fnv1a([key]) as u32
    ))
}

/// Append one record (creating the dir 0700 and the file 0600).
pub fn append(dir: &Path, record: &PushRecord) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = file_for(dir, &record.reference);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)?;
    // A file made by an older version or by hand: tighten it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
    line.push('\n');
    f.write_all(line.as_bytes())?;
    f.sync_all()
}

/// The tag's records, oldest first; unreadable lines are skipped (a torn last write loses only itself).
pub fn history(dir: &Path, key: &str) -> Vec<PushRecord> {
    std::fs::read_to_string(file_for(dir, key))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Record every tag a push put in the registry (nothing for a failed push).
pub fn record_push(dir: &Path, report: &PushReport) -> std::io::Result<usize> {
    if report.error.is_some() {
        return Ok(0);
    }
    let Ok(repo) = ImageName::parse(&report.repository) else {
        return Ok(0);
    };
    let time = crate::engine::clock::utc_stamp(std::time::SystemTime::now());
    let mut n = 0;
    for t in &report.tags {
        let Some(digest) = t
            .registry_digest
            .clone()
            .or_else(|| t.digest.clone())
            .or_else(|| report.digest.clone())
        else {
            continue;
        };
        append(
            dir,
            &PushRecord {
                time: time.clone(),
                reference: key(&repo, &t.tag),
                digest,
                kind: "push".into(),
            },
        )?;
        n += 1;
    }
    Ok(n)
}

/// The digest `previous` means: the push before the one the tag serves now (walking back past rollbacks and
/// repeats). When the current digest is not in the history (someone else pushed), the newest other push.
pub fn previous(history: &[PushRecord], current: Option<&str>) -> Option<String> {
    let pushes: Vec<&PushRecord> = history.iter().filter(|r| r.kind == "push").collect();
    let upto = current
        .and_then(|c| pushes.iter().rposition(|r| r.digest == c))
        .unwrap_or(pushes.len());
    pushes[..upto]
        .iter()
        .rev()
        .find(|r| Some(r.digest.as_str()) != current)
        .map(|r| r.digest.clone())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    pub reference: String,
    /// What the tag served before.
    pub from: Option<String>,
    pub to: String,
    /// The registry serves `to` for the tag afterwards.
    pub tag_points_to_target: bool,
    pub verdict: Verdict,
    pub detail: String,
    /// Where in dockui's history the target came from ("push at ..."), or that it was not in it.
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Registry(String),
}

pub enum Target {
    Previous,
    Digest(String),
}

/// Point `name:tag` at the target manifest and verify it.
pub async fn rollback(
    client: &RegistryClient,
    history_dir: &Path,
    name: &ImageName,
    tag: &str,
    target: Target,
) -> Result<RollbackReport, RollbackError> {
    let key = key(name, tag);
    let records = history(history_dir, &key);
    let current = client.tag_digest(name, tag).await;
    let to = match target {
        Target::Digest(d) => d,
        Target::Previous => previous(&records, current.as_deref()).ok_or_else(|| {
            RollbackError::Usage(format!(
                "no earlier push of {key} in dockui's history ({}): name the digest with --to sha256:...",
                if records.is_empty() {
                    "dockui has not pushed this tag".to_string()
                } else {
                    format!("{} record(s), none before the current one", records.len())
                }
            ))
        })?,
    };
    if !super::reference::is_digest(&to) {
        return Err(RollbackError::Usage(format!(
            "--to {to}: expected previous or sha256:<64 hex>"
        )));
    }
    let source = records
        .iter()
        .rev()
        .find(|r| r.digest == to && r.kind == "push")
        .map(|r| format!("pushed at {}", r.time))
        .unwrap_or_else(|| "not in dockui's push history".into());
    if current.as_deref() == Some(to.as_str()) {
        return Err(RollbackError::Usage(format!(
            "{key} already points to {to}: nothing to roll back"
        )));
    }
    let (body, media_type) = client
        .get_manifest(name, &to)
        .await
        .map_err(|e| RollbackError::Registry(format!("cannot read manifest {to}: {e}")))?;
    let put = client
        .put_manifest(name, tag, &media_type, body)
        .await
        .map_err(RollbackError::Registry)?;
    let now = client.tag_digest(name, tag).await;
    let check = client.check(name, &to).await;
    let report = RollbackReport {
        reference: key.clone(),
        from: current,
        tag_points_to_target: now.as_deref() == Some(to.as_str()) && put == to,
        to: to.clone(),
        verdict: check.verdict,
        detail: check.detail,
        source,
    };
    if report.tag_points_to_target {
        let _ = append(
            history_dir,
            &PushRecord {
                time: crate::engine::clock::utc_stamp(std::time::SystemTime::now()),
                reference: key,
                digest: to,
                kind: "rollback".into(),
            },
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(d: &str, kind: &str) -> PushRecord {
        PushRecord {
            time: "t".into(),
            reference: "r/x:1".into(),
            digest: d.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn previous_walks_back_past_rollbacks_and_repeats() {
        let h = vec![
            rec("a", "push"),
            rec("b", "push"),
            rec("b", "push"),
            rec("c", "push"),
        ];
        assert_eq!(previous(&h, Some("c")).as_deref(), Some("b"));
        let mut h2 = h.clone();
        h2.push(rec("b", "rollback"));
        // After rolling back to b, previous is a (not c again).
        assert_eq!(previous(&h2, Some("b")).as_deref(), Some("a"));
        assert_eq!(previous(&h2, Some("a")), None);
        // Someone else pushed: the newest of ours.
        assert_eq!(previous(&h, Some("zzz")).as_deref(), Some("c"));
        assert_eq!(previous(&[], Some("c")), None);
    }

    #[test]
    fn history_files_are_private_and_keyed_per_tag() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("pushes");
        let mut r = rec("sha256:1", "push");
        r.reference = "reg:5000/a/b:1".into();
        append(&d, &r).unwrap();
        let mut other = r.clone();
        other.reference = "reg:5000/a_b:1".into();
        append(&d, &other).unwrap();
        assert_eq!(history(&d, "reg:5000/a/b:1"), vec![r]);
        let files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2);
        for f in files {
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
