//! What the builder finds in the build context, for the rule on COPY/ADD sources (`rules::context`).
//!
//! The analysis itself only reads texts; whether `COPY app/config.yaml` names a file the builder will be sent
//! needs the file system and `.dockerignore`. This is that question behind a small trait, so the rule stays a
//! pure function of the texts and tests (and in-memory analyses, which have no context) can answer it
//! themselves.

use crate::docker::dockerignore::DockerIgnore;
use std::path::{Path, PathBuf};

/// What the builder would find at a path of its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Present,
    Missing,
    /// Present on disk, but `.dockerignore` keeps it out of the context (the pattern that does).
    Excluded(String),
    /// Not known (a path dockui does not judge).
    Unknown,
}

pub trait ContextFiles {
    /// `rel`: slash-separated, relative to the context root, cleaned (no `.`/`..`, no leading `/`).
    fn lookup(&self, rel: &str) -> Entry;
    /// The context as the finding names it.
    fn describe(&self) -> String;
}

/// The project directory as the context (what dockui builds with), and its `.dockerignore`.
pub struct DirContext {
    root: PathBuf,
    /// None when the ignore file could not be read or parsed (then exclusion is not judged), or when the
    /// Dockerfile has its own `<Dockerfile>.dockerignore`, which BuildKit prefers and this does not read.
    ignore: Option<DockerIgnore>,
}

impl DirContext {
    pub fn new(root: &Path, dockerfile: &Path) -> DirContext {
        let own = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
        let ignore = if root.join(&own).exists() {
            None
        } else {
            DockerIgnore::load(root).ok()
        };
        DirContext {
            root: root.to_path_buf(),
            ignore,
        }
    }
}

impl ContextFiles for DirContext {
    fn lookup(&self, rel: &str) -> Entry {
        if rel.is_empty()
            || rel
                .split('/')
                .any(|c| c == ".." || c == "." || c.is_empty())
        {
            return Entry::Unknown;
        }
        let path = self.root.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => {
                let Some(ignore) = &self.ignore else {
                    return Entry::Present;
                };
                if !ignore.is_excluded(rel) || (meta.is_dir() && ignore.must_descend(rel)) {
                    return Entry::Present;
                }
                // BuildKit's file sync walks into an excluded directory when any `!` pattern has a wildcard
                // (`*` then `!**/*.py`) and sends the files it re-includes: what that leaves is not judged.
                if meta.is_dir() && ignore.has_wildcard_reinclude() {
                    return Entry::Unknown;
                }
                match ignore.excluding_pattern(rel) {
                    Some(p) => Entry::Excluded(p.to_string()),
                    None => Entry::Present,
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A parent that is a symlink or not a directory: the builder may resolve it otherwise.
                let mut parent = path.parent();
                while let Some(p) = parent {
                    if p == self.root {
                        break;
                    }
                    match std::fs::symlink_metadata(p) {
                        Ok(m) if m.is_dir() => {}
                        Ok(_) => return Entry::Unknown,
                        Err(_) => {}
                    }
                    parent = p.parent();
                }
                Entry::Missing
            }
            Err(_) => Entry::Unknown,
        }
    }

    fn describe(&self) -> String {
        "the project directory (the context dockui builds with)".to_string()
    }
}
