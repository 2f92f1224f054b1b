//! dockui's own log: always a file in the state dir, never the screen (the TUI owns the terminal).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

struct FileLogger {
    path: PathBuf,
    /// Opened at the first record: most `dockui check` runs log nothing, and creating the state dir and
    /// the file is a tenth of such a run. `None` inside: the file could not be opened (logging stays off).
    file: OnceLock<Option<Mutex<File>>>,
    level: log::LevelFilter,
}

impl FileLogger {
    fn file(&self) -> Option<&Mutex<File>> {
        self.file
            .get_or_init(|| open(&self.path).map(Mutex::new))
            .as_ref()
    }
}

/// Open `path` for appending, private to this user, creating its private directory.
fn open(path: &Path) -> Option<File> {
    if let Some(dir) = path.parent() {
        let _ = crate::paths::private_dir(dir);
    }
    // The log may hold build output: readable by this user only, also when an older version created it.
    let file = crate::paths::private_file_options()
        .append(true)
        .open(path)
        .ok()?;
    let _ = crate::paths::make_private(path);
    Some(file)
}

impl log::Log for FileLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.level
    }
    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Some(Ok(mut f)) = self.file().map(Mutex::lock) {
            let _ = writeln!(
                f,
                "{secs} {:<5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }
    fn flush(&self) {
        // Nothing to flush when nothing was logged: do not create the file for it.
        if let Some(Some(Ok(mut f))) = self.file.get().map(|f| f.as_ref().map(Mutex::lock)) {
            let _ = f.flush();
        }
    }
}

/// Send `log` records to `path` (appending), opened at the first record. A failure to open the file leaves
/// logging off rather than failing the app: the log is for diagnosis, not function.
pub fn init(path: &Path) {
    let level = match std::env::var("DOCKUI_LOG").as_deref() {
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Info,
    };
    if log::set_boxed_logger(Box::new(FileLogger {
        path: path.to_path_buf(),
        file: OnceLock::new(),
        level,
    }))
    .is_ok()
    {
        log::set_max_level(level);
    }
}
