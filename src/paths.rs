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
