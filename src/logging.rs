//! dockui's own log: always a file in the state dir, never the screen (the TUI owns the terminal).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

struct FileLogger {
    file: Mutex<File>,
    level: log::LevelFilter,
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
        if let Ok(mut f) = self.file.lock() {
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
        if let Ok(mut f) = self.file.lock() {
            let _ = f.flush();
        }
    }
}

/// Send `log` records to `path` (appending). A failure to open the file leaves logging off rather than
/// failing the app: the log is for diagnosis, not function.
pub fn init(path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = crate::paths::private_dir(dir);
    }
    // The log may hold build output: readable by this user only, also when an older version created it.
    let Ok(file) = crate::paths::private_file_options().append(true).open(path) else {
        return;
    };
    let _ = crate::paths::make_private(path);
    let level = match std::env::var("DOCKUI_LOG").as_deref() {
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        _ => log::LevelFilter::Info,
    };
    if log::set_boxed_logger(Box::new(FileLogger {
        file: Mutex::new(file),
        level,
    }))
    .is_ok()
    {
        log::set_max_level(level);
    }
}
