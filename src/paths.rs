//! Where dockui keeps its files: config in the config dir, its own log in the state dir, build logs in the data dir.
//! `directories` honours XDG_CONFIG_HOME / XDG_STATE_HOME / XDG_DATA_HOME, which the tests use for isolation.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn discover() -> Paths {
        match directories::ProjectDirs::from("dev", "dockui", "dockui") {
            Some(p) => Paths {
                config_dir: p.config_dir().to_path_buf(),
                state_dir: p
                    .state_dir()
                    .map(|d| d.to_path_buf())
                    .unwrap_or_else(|| p.data_local_dir().join("state")),
                data_dir: p.data_dir().to_path_buf(),
            },
            // No home directory (a bare container): keep everything under the temp dir rather than fail.
            None => {
                let base = std::env::temp_dir().join("dockui");
                Paths {
                    config_dir: base.join("config"),
                    state_dir: base.join("state"),
                    data_dir: base.join("data"),
                }
            }
        }
    }

    pub fn user_config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("dockui.log")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.state_dir.join("backups")
    }

    pub fn builds_dir(&self) -> PathBuf {
        self.data_dir.join("builds")
    }
}

/// Create `dir` (and its parents) and make it private to this user (0700): dockui's state, data and logs hold
/// build output, backups of project files and build-arg values.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Options that create a file readable by this user only (0600); callers add `append`/`write`/`truncate`.
pub fn private_file_options() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).write(true).mode(0o600);
    o
}

/// Make an existing file private (0600); a file written by an older version may be world-readable.
pub fn make_private(file: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

impl Paths {
    /// Create the state and data directories private (0700), tightening them (and the log) if they already exist.
    pub fn ensure_private(&self) {
        for d in [
            &self.state_dir,
            &self.data_dir,
            &self.builds_dir(),
            &self.backups_dir(),
        ] {
            if let Err(e) = private_dir(d) {
                log::warn!("cannot make {} private: {e}", d.display());
            }
        }
        // The log is opened only when something is logged: tighten one an older version left readable now.
        // (A missing log is no error here.)
        let _ = make_private(&self.log_file());
    }
}
