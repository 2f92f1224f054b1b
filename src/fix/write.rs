//! Atomic writes: temp file in the same directory, fsync, rename, mode and owner kept. The original is kept as
//! a backup under the state dir first, and `undo` puts it back.
//!
//! A write never loses anything: it refuses when the file changed since it was read (checked once before
//! staging and again immediately before the rename: compare-and-swap; a change in between keeps the user's
//! file and saves dockui's version beside it), when the file resolves outside the project, when it is
//! read-only, and when it has other hard links (a rename would split them).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} changed on disk since it was analysed; re-analyse (r) and review the fix again")]
    Changed(PathBuf),
    #[error(
        "{path} changed while dockui was writing it; your version is untouched and dockui's is saved as \
         {saved}: compare the two and keep what you want"
    )]
    ChangedDuringWrite { path: PathBuf, saved: PathBuf },
    #[error(
        "{path} resolves to {real}, outside the project {root}; dockui does not write through links out of \
         the project: edit that file there, or replace the link with a copy"
    )]
    Outside {
        path: PathBuf,
        real: PathBuf,
        root: PathBuf,
    },
    #[error(
        "{0} is read-only; make it writable (chmod u+w) and run again if you want dockui to change it"
    )]
    ReadOnly(PathBuf),
    #[error(
        "{path} has {links} hard links; replacing it would split them (the other names would keep the old \
         text): edit it in place yourself, or break the link (cp --remove-destination) and run again"
    )]
    HardLinked { path: PathBuf, links: u64 },
    #[error("{0} is not valid UTF-8; dockui does not rewrite it")]
    NotUtf8(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no backup to restore{0}")]
    NothingToUndo(String),
    #[error(
        "{file} changed since dockui wrote it; undo would lose those changes:\n{diff}run `dockui undo --force` to \
         restore the backup anyway"
    )]
    ChangedSinceWrite { file: PathBuf, diff: String },
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
    /// The project the write happened in (absent in records from older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<PathBuf>,
    /// Hash of the text dockui wrote, to tell whether the file changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
}

fn text_hash(t: &[u8]) -> String {
    format!(
        "{:016x}",
        crate::hash::fnv1a([String::from_utf8_lossy(t).as_ref()])
    )
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

    /// Keep a copy of the original; the index line is added only once the write succeeded ([`Self::record`]).
    fn save(&self, file: &Path, original: &[u8]) -> Result<PathBuf, WriteError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        crate::paths::private_dir(&self.dir).map_err(io(&self.dir))?;
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
        replace_file(&backup, original, None)?;
        Ok(backup)
    }

    fn record(&self, record: &BackupRecord) -> Result<(), WriteError> {
        let mut line = serde_json::to_string(record).map_err(|e| WriteError::Io {
            path: self.index(),
            source: std::io::Error::other(e),
        })?;
        line.push('\n');
        let mut f = crate::paths::private_file_options()
            .append(true)
            .open(self.index())
            .map_err(io(&self.dir))?;
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(io(&self.dir))
    }

    /// Restore the last write of `file` (or the last write of any file) made in the project `cwd` is in (any
    /// project when None), and drop it from the index. The project is the innermost one recorded that holds
    /// `cwd` (the project root or any directory below it); a directory above a project is in none. Refuses
    /// when the file changed since dockui wrote it, unless `force`, and, like a write, a read-only or
    /// hard-linked file. The restored file keeps the current file's mode and owner.
    pub fn undo(
        &self,
        cwd: Option<&Path>,
        file: Option<&Path>,
        force: bool,
    ) -> Result<(BackupRecord, String), WriteError> {
        let mut records = self.records();
        let file = file.map(|f| f.canonicalize().unwrap_or_else(|_| f.to_path_buf()));
        let cwd = cwd.map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
        // The record's project, or for records from older versions the written file's directory.
        let home = |r: &BackupRecord| -> PathBuf {
            r.project
                .clone()
                .unwrap_or_else(|| dir_of(&r.file).to_path_buf())
        };
        let project: Option<PathBuf> = cwd.as_ref().and_then(|c| {
            records
                .iter()
                .map(home)
                .filter(|p| c.starts_with(p))
                .max_by_key(|p| p.components().count())
        });
        if let (Some(c), None, None) = (&cwd, &project, &file) {
            return Err(WriteError::NothingToUndo(format!(
                " in a project holding {} (dockui fixed nothing there)",
                c.display()
            )));
        }
        let pos = records
            .iter()
            .rposition(|r| {
                file.as_ref().is_none_or(|f| &r.file == f)
                    && project.as_ref().is_none_or(|p| &home(r) == p)
            })
            .ok_or_else(|| {
                WriteError::NothingToUndo(match (&file, &project) {
                    (Some(f), _) => format!(" for {}", f.display()),
                    (None, Some(p)) => format!(" in {}", p.display()),
                    (None, None) => String::new(),
                })
            })?;
        let record = records.remove(pos);
        let original = std::fs::read(&record.backup).map_err(io(&record.backup))?;
        let current = match std::fs::read(&record.file) {
            Ok(c) => Some(c),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&record.file)(e)),
        };
        let cur_text = current
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let diff =
            super::proposal::unified(&record.file, &cur_text, &String::from_utf8_lossy(&original));
        let changed = match (&current, &record.written) {
            (Some(c), Some(h)) => &text_hash(c) != h,
            (None, _) => true,
            (Some(_), None) => false,
        };
        if changed && !force {
            return Err(WriteError::ChangedSinceWrite {
                file: record.file.clone(),
                diff,
            });
        }
        if current.is_some() {
            let meta = std::fs::metadata(&record.file).map_err(io(&record.file))?;
            if meta.permissions().readonly() || !writable(&record.file) {
                return Err(WriteError::ReadOnly(record.file.clone()));
            }
            if meta.nlink() > 1 {
                return Err(WriteError::HardLinked {
                    path: record.file.clone(),
                    links: meta.nlink(),
                });
            }
        }
        let keep_from = current.as_ref().map(|_| record.file.as_path());
        replace_file(&record.file, &original, keep_from)?;
        let text: String = records
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect();
        replace_file(&self.index(), text.as_bytes(), None)?;
        Ok((record, diff))
    }
}

/// Replace `root/rel` with `new_text` if it still holds `expected_old`. Returns the backup record.
pub fn write_atomic(
    root: &Path,
    rel: &Path,
    new_text: &str,
    expected_old: &str,
    backups: &Backups,
) -> Result<BackupRecord, WriteError> {
    let given = root.join(rel);
    let root = root.canonicalize().map_err(io(root))?;
    let path = given.canonicalize().map_err(io(&given))?;
    if !path.starts_with(&root) {
        return Err(WriteError::Outside {
            path: given,
            real: path,
            root,
        });
    }
    let meta = std::fs::metadata(&path).map_err(io(&path))?;
    if !meta.is_file() {
        return Err(io(&path)(std::io::Error::other("not a regular file")));
    }
    if meta.permissions().readonly() || !writable(&path) {
        return Err(WriteError::ReadOnly(path));
    }
    if meta.nlink() > 1 {
        return Err(WriteError::HardLinked {
            path,
            links: meta.nlink(),
        });
    }
    let current = std::fs::read(&path).map_err(io(&path))?;
    if std::str::from_utf8(&current).is_err() {
        return Err(WriteError::NotUtf8(path));
    }
    if current != expected_old.as_bytes() {
        return Err(WriteError::Changed(path));
    }
    let backup = backups.save(&path, &current)?;
    let staged = Staged::write(&path, new_text.as_bytes(), Some(&path))?;
    #[cfg(debug_assertions)]
    pause_before_rename_for_tests();
    // Compare-and-swap: the file must still hold what was analysed right before the rename.
    let now = std::fs::read(&path).map_err(io(&path))?;
    if now != current {
        let saved = staged.keep_beside()?;
        let _ = std::fs::remove_file(&backup);
        return Err(WriteError::ChangedDuringWrite { path, saved });
    }
    staged.commit()?;
    let record = BackupRecord {
        file: path.clone(),
        backup,
        time: crate::engine::clock::utc_stamp(std::time::SystemTime::now()),
        project: Some(root),
        written: Some(text_hash(new_text.as_bytes())),
    };
    backups.record(&record)?;
    Ok(record)
}

/// Tests widen the window between the compare and the rename to prove an edit in it is not lost.
#[cfg(debug_assertions)]
fn pause_before_rename_for_tests() {
    if let Some(ms) = std::env::var("DOCKUI_TEST_PAUSE_BEFORE_RENAME_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        if let Some(flag) = std::env::var_os("DOCKUI_TEST_PAUSE_FLAG") {
            let _ = std::fs::write(flag, "staged");
        }
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Write to a temp file beside `path`, fsync, keep `perms_from`'s mode and owner, rename over `path`, fsync
/// the dir. A failure at any point leaves either the old file or the new one, never a mix.
pub(crate) fn replace_file(
    path: &Path,
    bytes: &[u8],
    perms_from: Option<&Path>,
) -> Result<(), WriteError> {
    Staged::write(path, bytes, perms_from)?.commit()
}

/// Prefix of dockui's temp files: `.dockui-<pid>-<random>.tmp`, so a later run can tell a dead run's leftovers.
const TMP_PREFIX: &str = ".dockui-";
const TMP_SUFFIX: &str = ".tmp";

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
            .prefix(&format!("{TMP_PREFIX}{}-", std::process::id()))
            .suffix(TMP_SUFFIX)
            .tempfile_in(dir_of(path))
            .map_err(io(path))?;
        tmp.write_all(bytes).map_err(io(path))?;
        if let Some(src) = perms_from
            && let Ok(meta) = std::fs::metadata(src)
        {
            let f = tmp.as_file();
            let mine = f.metadata().map_err(io(path))?;
            if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
                // Keep the owner; only root can give a file away, so elsewhere the group is the most we keep.
                if std::os::unix::fs::fchown(f, Some(meta.uid()), Some(meta.gid())).is_err() {
                    let _ = std::os::unix::fs::fchown(f, None, Some(meta.gid()));
                }
            }
            f.set_permissions(meta.permissions()).map_err(io(path))?;
        }
        tmp.as_file().sync_all().map_err(io(path))?;
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

    /// Keep the staged text beside the target under a name that says what it is (`Dockerfile.dockui-new`,
    /// then `.dockui-new.1`, ...), never replacing anything.
    fn keep_beside(self) -> Result<PathBuf, WriteError> {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let mut tmp = self.tmp;
        for n in 0..100 {
            let cand = dir_of(self.path).join(if n == 0 {
                format!("{name}.dockui-new")
            } else {
                format!("{name}.dockui-new.{n}")
            });
            match tmp.persist_noclobber(&cand) {
                Ok(_) => return Ok(cand),
                Err(e) => tmp = e.file,
            }
        }
        Err(io(self.path)(std::io::Error::other(
            "no free name to keep dockui's version",
        )))
    }
}

/// Remove `.dockui-<pid>-*.tmp` files in `dir` left by a dockui run that was killed mid-write (its process is
/// gone). Returns what was removed. Temp files of a run still alive are left alone.
pub fn sweep_stale_temps(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return removed;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name
            .strip_prefix(TMP_PREFIX)
            .and_then(|r| r.strip_suffix(TMP_SUFFIX))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<i32>().ok());
        let dead = match pid {
            Some(pid) => !process_alive(pid),
            // An older name without a pid: remove it once it is clearly abandoned.
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 600),
        };
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if dead && regular && std::fs::remove_file(e.path()).is_ok() {
            removed.push(e.path());
        }
    }
    removed
}

/// Sweep the places dockui writes in a project: the root and the Dockerfile's directory. Logged, never fatal.
pub fn sweep_project_temps(root: &Path, dockerfile: &str) {
    sweep_temps_beside(root, [Path::new(dockerfile)]);
}

/// Sweep the root and the directory of each project file given (relative to the root): everywhere a fix
/// may have been writing when its run was killed (requirements, pyproject, workflows). Logged, never fatal.
pub fn sweep_temps_beside<'a>(root: &Path, files: impl IntoIterator<Item = &'a Path>) {
    let mut dirs = vec![root.to_path_buf()];
    for f in files {
        if let Some(d) = root.join(f).parent()
            && d.starts_with(root)
            && !dirs.iter().any(|x| x == d)
        {
            dirs.push(d.to_path_buf());
        }
    }
    for d in dirs {
        for p in sweep_stale_temps(&d) {
            log::info!(
                "removed {} left by a dockui run that was killed",
                p.display()
            );
        }
    }
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    if pid as u32 == std::process::id() {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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
        let rec =
            write_atomic(dir.path(), Path::new("run.sh"), "new\n", "old\n", &backups).unwrap();
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
        let (undone, _) = backups.undo(None, Some(&file), false).unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o750,
            "undo keeps the mode"
        );
        assert_eq!(undone.file, file.canonicalize().unwrap());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "old\n");
        assert!(matches!(
            backups.undo(None, Some(&file), false),
            Err(WriteError::NothingToUndo(_))
        ));
    }

    #[test]
    fn refuses_when_the_file_changed_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Dockerfile");
        std::fs::write(&file, "FROM a\n").unwrap();
        let backups = Backups::new(dir.path().join("b"));
        let err = write_atomic(
            dir.path(),
            Path::new("Dockerfile"),
            "FROM c\n",
            "FROM b\n",
            &backups,
        )
        .unwrap_err();
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

    #[test]
    fn never_writes_through_a_link_out_of_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "FROM a\n").unwrap();
        let root = dir.path().join("proj");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("Dockerfile")).unwrap();
        let backups = Backups::new(dir.path().join("b"));
        let err = write_atomic(
            &root,
            Path::new("Dockerfile"),
            "FROM b\n",
            "FROM a\n",
            &backups,
        )
        .unwrap_err();
        assert!(matches!(err, WriteError::Outside { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "FROM a\n");
        assert!(backups.records().is_empty());
    }

    #[test]
    fn sweeps_temp_files_of_dead_runs_only() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0x7ffffffe is never a live process here; our own pid is.
        let dead = dir.path().join(".dockui-2147483646-abc.tmp");
        let mine = dir
            .path()
            .join(format!(".dockui-{}-abc.tmp", std::process::id()));
        let other = dir.path().join(".dockui-notes.txt");
        for p in [&dead, &mine, &other] {
            std::fs::write(p, "x").unwrap();
        }
        assert_eq!(sweep_stale_temps(dir.path()), vec![dead.clone()]);
        assert!(!dead.exists() && mine.exists() && other.exists());
    }

    #[test]
    fn undo_finds_the_project_of_a_subdirectory_and_not_of_a_parent() {
        let dir = tempfile::tempdir().unwrap();
        let backups = Backups::new(dir.path().join("b"));
        let mut roots = Vec::new();
        for name in ["proj", "other"] {
            let root = dir.path().join(name);
            std::fs::create_dir_all(root.join("app")).unwrap();
            std::fs::write(root.join("Dockerfile"), "FROM a\n").unwrap();
            write_atomic(
                &root,
                Path::new("Dockerfile"),
                "FROM b\n",
                "FROM a\n",
                &backups,
            )
            .unwrap();
            roots.push(root);
        }
        // From proj/app: proj's write, although `other` was written last.
        let (rec, _) = backups
            .undo(Some(&roots[0].join("app")), None, false)
            .unwrap();
        assert_eq!(
            rec.file,
            roots[0].join("Dockerfile").canonicalize().unwrap()
        );
        assert_eq!(
            std::fs::read_to_string(roots[0].join("Dockerfile")).unwrap(),
            "FROM a\n"
        );
        // Must not: from the directory above both projects nothing is restored.
        let err = backups.undo(Some(dir.path()), None, false).unwrap_err();
        assert!(matches!(err, WriteError::NothingToUndo(_)), "{err}");
        assert_eq!(
            std::fs::read_to_string(roots[1].join("Dockerfile")).unwrap(),
            "FROM b\n"
        );
    }

    #[test]
    fn undo_refuses_read_only_and_hard_linked_files_like_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let backups = Backups::new(dir.path().join("b"));
        let root = dir.path().join("proj");
        std::fs::create_dir(&root).unwrap();
        let file = root.join("Dockerfile");
        std::fs::write(&file, "FROM a\n").unwrap();
        write_atomic(
            &root,
            Path::new("Dockerfile"),
            "FROM b\n",
            "FROM a\n",
            &backups,
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
        let err = backups.undo(Some(&root), None, false).unwrap_err();
        assert!(matches!(err, WriteError::ReadOnly(_)), "{err}");
        assert!(err.to_string().contains("is read-only; make it writable"));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "FROM b\n");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::fs::hard_link(&file, &link).unwrap();
        let err = backups.undo(Some(&root), None, false).unwrap_err();
        assert!(matches!(err, WriteError::HardLinked { .. }), "{err}");
        std::fs::remove_file(&link).unwrap();
        // Must not refuse a writable file: the undo goes through, once.
        backups.undo(Some(&root), None, false).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "FROM a\n");
    }
}
