//! The conflict analyzer: pure functions from project files to findings. No tokio, no ratatui, no network.

pub mod finding;
mod skeleton_rules;

pub use finding::*;

use std::path::{Path, PathBuf};

/// What the caller tells the analyzer beyond the files themselves.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Dockerfile path relative to the project root (default "Dockerfile").
    pub dockerfile: Option<PathBuf>,
    /// Rule ids to drop (from config); `# hadolint ignore=` comments are handled per line.
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Analysis {
    /// Files that were read, relative to the root.
    pub files: Vec<PathBuf>,
    pub findings: Vec<Finding>,
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
}

/// Analyse the project at `root`: its Dockerfile and the requirements files next to it.
pub fn analyze_project(root: &Path, opts: &AnalyzeOptions) -> Result<Analysis, AnalyzeError> {
    if !root.is_dir() {
        return Err(AnalyzeError::NotADirectory(root.to_path_buf()));
    }
    let dockerfile = opts
        .dockerfile
        .clone()
        .unwrap_or_else(|| PathBuf::from("Dockerfile"));
    let mut analysis = Analysis::default();
    let read = |rel: &Path| -> Result<Option<String>, AnalyzeError> {
        let path = root.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AnalyzeError::Read { path, source }),
        }
    };
    let Some(df_text) = read(&dockerfile)? else {
        return Err(AnalyzeError::Read {
            path: root.join(&dockerfile),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no Dockerfile"),
        });
    };
    analysis.files.push(dockerfile.clone());
    let req_rel = PathBuf::from("requirements.txt");
    let req_text = read(&req_rel)?;
    if req_text.is_some() {
        analysis.files.push(req_rel.clone());
    }
    analysis.findings = skeleton_rules::run(
        &dockerfile,
        &df_text,
        req_text.as_deref().map(|t| (req_rel.as_path(), t)),
    );
    analysis
        .findings
        .retain(|f| !opts.ignore.iter().any(|i| i == &f.rule));
    analysis.findings.sort_by(|a, b| {
        (&a.file, a.span.line, a.span.col).cmp(&(&b.file, b.span.line, b.span.col))
    });
    Ok(analysis)
}
