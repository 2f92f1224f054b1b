//! What every rule produces: a finding with a span into one file, and optional fixes as text edits.

use serde::Serialize;
use std::path::PathBuf;

/// A place in a file: 1-based line and column (in chars), plus the byte range it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// Build a span from a byte range of `text`, computing line and column.
    pub fn from_range(text: &str, start: usize, end: usize) -> Span {
        let start = start.min(text.len());
        let before = &text[..floor_char_boundary(text, start)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        Span {
            line,
            col,
            start,
            end: end.max(start).min(text.len()),
        }
    }
}

/// Where each line of a text starts, so a byte offset maps to line and column in O(log lines) instead of a
/// scan from the top of the file for every finding.
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// 1-based line of byte offset `at`.
    pub fn line(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s <= at)
    }

    /// Same result as [`Span::from_range`] on the text this index was built from.
    pub fn span(&self, text: &str, start: usize, end: usize) -> Span {
        let start = start.min(text.len());
        let at = floor_char_boundary(text, start);
        let line = self.starts.partition_point(|&s| s <= at);
        let line_start = self.starts[line - 1];
        let col = text[line_start..at].chars().count() + 1;
        Span {
            line,
            col,
            start,
            end: end.max(start).min(text.len()),
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod line_index_tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_the_scan() {
        let text = "a\n\u{e9}b\r\n\ncd\u{1F600}e\nlast";
        let idx = LineIndex::new(text);
        for start in 0..=text.len() + 2 {
            assert_eq!(
                idx.span(text, start, start + 1),
                Span::from_range(text, start, start + 1),
                "at {start}"
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Style,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Style => "style",
        }
    }
}

/// How much a fix changes: `Safe` keeps meaning, `Suggestion` changes what gets installed, `Unsafe` may break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FixLevel {
    Safe,
    Suggestion,
    Unsafe,
}

/// Replace bytes `start..end` of the file with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextEdit {
    pub start: usize,
    pub end: usize,
    pub replacement: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub id: String,
    pub level: FixLevel,
    pub description: String,
    /// File the edits apply to, relative to the project root (usually the finding's file).
    pub file: PathBuf,
    pub edits: Vec<TextEdit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// Path relative to the project root.
    pub file: PathBuf,
    pub span: Span,
    pub message: String,
    /// One or two sentences on why this matters.
    pub why: String,
    /// The facts the rule used, e.g. "base image has CUDA 12.4".
    pub facts: Vec<String>,
    pub fixes: Vec<Fix>,
}

impl Finding {
    pub fn new(
        rule: &str,
        severity: Severity,
        file: impl Into<PathBuf>,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule: rule.to_string(),
            severity,
            file: file.into(),
            span,
            message: message.into(),
            why: String::new(),
            facts: Vec::new(),
            fixes: Vec::new(),
        }
    }
    pub fn why(mut self, why: impl Into<String>) -> Self {
        self.why = why.into();
        self
    }
    pub fn fact(mut self, fact: impl Into<String>) -> Self {
        self.facts.push(fact.into());
        self
    }
    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fixes.push(fix);
        self
    }
}
