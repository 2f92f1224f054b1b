//! Atomic writes: temp file in the same directory, fsync, rename, permissions kept. The original is kept as
//! a backup under the state dir first, and `undo` puts it back. A file that changed on disk since it was
//! read is never overwritten.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} changed on disk since it was analysed; re-analyse (r) and review the fix again")]
    Changed(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no backup to restore{0}")]
    NothingToUndo(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BackupRecord {
    pub file: PathBuf,
    pub backup: PathBuf,
    pub time: String,
}

/// Where originals are kept: `<state dir>/backups/`, with an index of writes (JSON lines, newest last).
#[derive(Debug, Clone)]
pub struct Backups {
    pub dir: PathBuf,
}

impl Backups {
    pub fn new(dir: impl Into<PathBuf>) -> Backups {
        Backups { dir: dir.into() }
    }

    fn index(&self) -> PathBuf {
        self.dir.join("index.jsonl")
    }

    pub fn records(&self) -> Vec<BackupRecord> {
        std::fs::read_to_string(self.index())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn save(&self, file: &Path, original: &str) -> Result<BackupRecord, WriteError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let time = crate::engine::clock::utc_stamp(std::time::SystemTime::now());
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let backup = self.dir.join(format!(
            "{time}-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        replace_file(&backup, original.as_bytes(), None)?;
        let record = BackupRecord {
            file: file.to_path_buf(),
            backup,
            time,
        };
        let mut line = serde_json::to_string(&record).map_err(|e| WriteError::Io {
            path: self.index(),
            source: std::io::Error::other(e),
        })?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.index())
            .map_err(io(&self.dir))?;
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(&self.dir))?;
        Ok(record)
    }

    /// Restore the last write of `file` (or the last write of any file) and drop it from the index.
    pub fn undo(&self, file: Option<&Path>) -> Result<BackupRecord, WriteError> {
        let mut records = self.records();
        let file = file.map(|f| f.canonicalize().unwrap_or_else(|_| f.to_path_buf()));
        let pos = records
            .iter()
            .rposition(|r| file.as_ref().is_none_or(|f| &r.file == f))
            .ok_or_else(|| {
                WriteError::NothingToUndo(
                    file.as_ref()
                        .map(|f| format!(" for {}", f.display()))
                        .unwrap_or_default(),
                )
            })?;
        let record = records.remove(pos);
        let original = std::fs::read(&record.backup).map_err(io(&record.backup))?;
        replace_file(&record.file, &original, None)?;
        let text: String = records
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect();
        replace_file(&self.index(), text.as_bytes(), None)?;
        Ok(record)
    }
}

/// Replace `path` with `new_text` if it still holds `expected_old`. Returns the backup record.
pub fn write_atomic(
    path: &Path,
    new_text: &str,
    expected_old: &str,
    backups: &Backups,
) -> Result<BackupRecord, WriteError> {
    let path = path.canonicalize().map_err(io(path))?;
    let current = std::fs::read_to_string(&path).map_err(io(&path))?;
    if current != expected_old {
        return Err(WriteError::Changed(path));
    }
    let record = backups.save(&path, &current)?;
    replace_file(&path, new_text.as_bytes(), Some(&path))?;
    Ok(record)
}

/// Write to a temp file beside `path`, fsync, keep `perms_from`'s permissions, rename over `path`, fsync the dir.
/// A failure at any point leaves either the old file or the new one, never a mix.
pub(crate) fn replace_file(
    path: &Path,
    bytes: &[u8],
    perms_from: Option<&Path>,
) -> Result<(), WriteError> {
    Staged::write(path, bytes, perms_from)?.commit()
}

/// The new content, complete and fsynced in a temp file beside the target, not yet renamed over it.
/// Dropping it (a failure, a crash of this step) leaves the old file untouched and removes the temp file.
pub(crate) struct Staged<'a> {
    path: &'a Path,
    tmp: tempfile::NamedTempFile,
}

impl<'a> Staged<'a> {
    pub(crate) fn write(
        path: &'a Path,
        bytes: &[u8],
        perms_from: Option<&Path>,
    ) -> Result<Staged<'a>, WriteError> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".dockui-")
            .suffix(".tmp")
            .tempfile_in(dir_of(path))
            .map_err(io(path))?;
        tmp.write_all(bytes).map_err(io(path))?;
        tmp.as_file().sync_all().map_err(io(path))?;
        if let Some(src) = perms_from
            && let Ok(meta) = std::fs::metadata(src)
        {
            tmp.as_file()
                .set_permissions(meta.permissions())
                .map_err(io(path))?;
        }
        Ok(Staged { path, tmp })
    }

    /// rename(2) is atomic on one filesystem: readers see the old file or the new one, never a mix.
    pub(crate) fn commit(self) -> Result<(), WriteError> {
        let path = self.path;
        self.tmp.persist(path).map_err(|e| WriteError::Io {
            path: path.to_path_buf(),
            source: e.error,
        })?;
        if let Ok(d) = std::fs::File::open(dir_of(path)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_keeps_permissions_backs_up_and_undoes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.sh");
        std::fs::write(&file, "old\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o750)).unwrap();
        let backups = Backups::new(dir.path().join("backups"));
        let rec = write_atomic(&file, "new\n", "old\n", &backups).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o750
        );
        assert_eq!(std::fs::read_to_string(&rec.backup).unwrap(), "old\n");
        // No temp files left beside the target.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        let undone = backups.undo(Some(&file)).unwrap();
        assert_eq!(undone.file, file.canonicalize().unwrap());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");
        assert!(matches!(
            backups.undo(Some(&file)),
            Err(WriteError::NothingToUndo(_))
        ));
    }

    #[test]
    fn refuses_when_the_file_changed_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Dockerfile");
        std::fs::write(&file, "FROM a\n").unwrap();
        let backups = Backups::new(dir.path().join("b"));
        let err = write_atomic(&file, "FROM c\n", "FROM b\n", &backups).unwrap_err();
        assert!(matches!(err, WriteError::Changed(_)));
        assert!(err.to_string().contains("changed on disk"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "FROM a\n");
        assert!(backups.records().is_empty());
    }

    #[test]
    fn a_failure_between_write_and_rename_leaves_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Dockerfile");
        let old = "FROM a\n".repeat(1000);
        let new = "FROM b\n".repeat(2000);
        std::fs::write(&file, &old).unwrap();
        // The new text is fully written and synced, then the step fails before the rename.
        let staged = Staged::write(&file, new.as_bytes(), Some(&file)).unwrap();
        drop(staged);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            old,
            "old file untouched"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["Dockerfile"], "no temp file left behind");
        // A rename that fails (the target is now a directory) also leaves what was there.
        let target = dir.path().join("sub");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "x").unwrap();
        let staged = Staged::write(&target, new.as_bytes(), None).unwrap();
        assert!(staged.commit().is_err());
        assert_eq!(std::fs::read_to_string(target.join("keep")).unwrap(), "x");
        // And the normal path gives the whole new file.
        Staged::write(&file, new.as_bytes(), None)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), new);
    }
}
