//! `tag = "auto"`: the git tag on HEAD, else the short commit (with `-dirty` when the tree has changes),
//! else a UTC timestamp. Always a valid Docker tag.

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Docker tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn sanitize(tag: &str) -> String {
    let mut t: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while t.starts_with(['.', '-']) {
        t.remove(0);
    }
    t.truncate(128);
    if t.is_empty() { "latest".into() } else { t }
}

pub fn auto_tag(project_dir: &Path, now: std::time::SystemTime) -> String {
    if let Some(tag) = git(
        project_dir,
        &["describe", "--tags", "--exact-match", "HEAD"],
    ) {
        return sanitize(&tag);
    }
    if let Some(commit) = git(project_dir, &["rev-parse", "--short=12", "HEAD"]) {
        let dirty = git(
            project_dir,
            &["status", "--porcelain", "--untracked-files=no"],
        )
        .is_some();
        return sanitize(&if dirty {
            format!("{commit}-dirty")
        } else {
            commit
        });
    }
    super::clock::utc_stamp(now)
}

/// The tag the config asks for.
pub fn resolve(configured: &str, project_dir: &Path) -> String {
    if configured == "auto" {
        auto_tag(project_dir, std::time::SystemTime::now())
    } else {
        configured.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn tag_then_commit_then_dirty_then_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_435_199);
        assert_eq!(
            auto_tag(dir.path(), t),
            "20261123-115959",
            "no repository: a timestamp"
        );
        git_in(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        git_in(dir.path(), &["add", "."]);
        git_in(dir.path(), &["commit", "-qm", "x"]);
        let commit = auto_tag(dir.path(), t);
        assert_eq!(commit.len(), 12, "{commit}");
        std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
        assert_eq!(auto_tag(dir.path(), t), format!("{commit}-dirty"));
        git_in(dir.path(), &["commit", "-qam", "y"]);
        git_in(dir.path(), &["tag", "v1.2.0+build/7"]);
        assert_eq!(auto_tag(dir.path(), t), "v1.2.0-build-7");
    }

    #[test]
    fn sanitize_gives_valid_tags() {
        assert_eq!(sanitize("feature/x"), "feature-x");
        assert_eq!(sanitize("-.x"), "x");
        assert_eq!(sanitize(""), "latest");
        assert_eq!(sanitize(&"a".repeat(200)).len(), 128);
    }
}
