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

/// Declares [`RuleId`]: one variant per rule, written exactly as its id ("DU201"), plus `PUSH` for the TUI's
/// digest-pinning proposals (not a rule of the analysis, never in the catalog).
macro_rules! rule_ids {
    ($($id:ident),* $(,)?) => {
        /// A rule's id. Serialised as its text ("DU201", "DL3008") so JSON and SARIF output keep their shape.
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RuleId {
            $($id,)*
            PUSH,
        }

        impl RuleId {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$id => stringify!($id),)*
                    RuleId::PUSH => "PUSH",
                }
            }
            /// Parse an id as written in ignore pragmas, `--ignore` and config files (case-insensitive).
            pub fn parse(s: &str) -> Option<RuleId> {
                let s = s.trim();
                $(if s.eq_ignore_ascii_case(stringify!($id)) { return Some(RuleId::$id); })*
                if s.eq_ignore_ascii_case("PUSH") { return Some(RuleId::PUSH); }
                None
            }
        }
    };
}

rule_ids!(
    DU001, DU002, DU003, DU004, DU005, DU006, DL3000, DL3001, DL3002, DL3003, DL3004, DL3006,
    DL3007, DL3008, DL3009, DL3011, DL3012, DL3013, DL3014, DL3015, DL3016, DL3018, DL3019, DL3020,
    DL3021, DL3022, DL3023, DL3024, DL3025, DL3027, DL3030, DL3032, DL3033, DL3038, DL3040, DL3042,
    DL3043, DL3044, DL3047, DL3059, DL3060, DL4000, DL4001, DL4003, DL4004, DL4005, DL4006, DU101,
    DU102, DU103, DU110, DU111, DU112, DU113, DU120, DU130, DU140, DU141, DU201, DU202, DU203,
    DU204, DU205, DU206, DU207, DU208, DU209, DU210, DU211, DU212, DU213, DU214, DU215,
);

impl RuleId {
    pub fn starts_with(self, prefix: &str) -> bool {
        self.as_str().starts_with(prefix)
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

// Ordered by the id text, as the string ids were: sorted output stays the same.
impl PartialOrd for RuleId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for RuleId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
impl PartialEq<String> for RuleId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}
impl PartialEq<RuleId> for &str {
    fn eq(&self, other: &RuleId) -> bool {
        *self == other.as_str()
    }
}
impl PartialEq<RuleId> for String {
    fn eq(&self, other: &RuleId) -> bool {
        self == other.as_str()
    }
}

impl std::str::FromStr for RuleId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RuleId::parse(s).ok_or_else(|| format!("unknown rule id `{s}` (see `dockui rules`)"))
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

impl FixLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            FixLevel::Safe => "safe",
            FixLevel::Suggestion => "suggestion",
            FixLevel::Unsafe => "unsafe",
        }
    }
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
    pub rule: RuleId,
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
        rule: RuleId,
        severity: Severity,
        file: impl Into<PathBuf>,
        span: Span,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule,
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
