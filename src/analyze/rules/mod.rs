//! Rule families: hadolint-compatible common rules (`DLxxxx`), build gates (`DU1xx`), GPU compatibility rules
//! (`DU2xx`) and parse and input problems (`DU001`-`DU006`). The catalog below is the single list of ids, severities and summaries.

pub mod context;
pub mod expansion;
pub mod from_rewrite;
pub mod gates;
pub mod gpu;
pub mod hadolint;
pub mod hadolint_more;
pub mod nul;
pub mod pin;
pub mod secrets;
pub mod stage_cycle;

use super::compat::Compat;
use super::dockerfile::Dockerfile;
use super::dockerfile::model::Model;
use super::finding::*;
use super::requirements::{Install, ReqFile};
use serde::Serialize;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How severities are decided, shown by `dockui rules`; each rule's `note` says when its findings differ from
/// its default severity.
pub const SEVERITY_POLICY: &str = "Severity: error = the build or its first run will fail, or the image certainly is not what the file says; \
warning = a likely failure or a large waste; info/style = hygiene. A finding that rests on an assumption says so in its facts. \
Fix levels: safe = keeps the build's behaviour (cache cleanup, --no-cache-dir, --no-install-recommends, -y, DEBIAN_FRONTEND); \
suggestion/unsafe = changes what is built, installed or linked.";

/// A rule's metadata: its id, default severity (some findings lower or raise it; `note` says when), one-line
/// summary and the levels of the fixes it can offer. Each family declares its rules beside its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: RuleId,
    pub severity: Severity,
    pub summary: &'static str,
    /// Levels of the fixes this rule can propose (empty: no fix).
    pub fixes: &'static [FixLevel],
    /// When a finding's severity differs from the default, and why.
    pub note: &'static str,
}

impl RuleInfo {
    pub const fn new(
        id: RuleId,
        severity: Severity,
        summary: &'static str,
        fixes: &'static [FixLevel],
    ) -> RuleInfo {
        RuleInfo {
            id,
            severity,
            summary,
            fixes,
            note: "",
        }
    }
    pub const fn note(mut self, note: &'static str) -> RuleInfo {
        self.note = note;
        self
    }
    pub fn has_fix(&self) -> bool {
        !self.fixes.is_empty()
    }
}

impl Serialize for RuleInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RuleInfo", 6)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("summary", self.summary)?;
        st.serialize_field("has_fix", &self.has_fix())?;
        st.serialize_field("fix_levels", self.fixes)?;
        st.serialize_field("note", self.note)?;
        st.end()
    }
}

/// Parse problems (this module).
const PARSE_RULES: &[RuleInfo] = &[
    RuleInfo::new(
        RuleId::DU001,
        Severity::Error,
        "Dockerfile line that cannot be parsed (the rest of the file is still analysed)",
        &[],
    ),
    RuleInfo::new(
        RuleId::DU002,
        Severity::Error,
        "Requirements line that cannot be read as a requirement",
        &[],
    )
    .note("error when the installer's own grammar (PEP 508, TOML, YAML) rejects the line of a file an install reads; warning for conda match specs (dockui's reading) and for workflows"),
    RuleInfo::new(
        RuleId::DU003,
        Severity::Error,
        "Dockerfile not read: not a regular file inside the project, or too large",
        &[],
    ),
    RuleInfo::new(
        RuleId::DU004,
        Severity::Warning,
        "Project file not read (link out of the project, not a regular file, too large) or not UTF-8",
        &[],
    ),
    nul::RULE,
];

/// Every rule dockui knows, in catalog order (parse problems, hadolint ids, build gates, GPU rules).
pub fn catalog() -> &'static [RuleInfo] {
    static ALL: std::sync::OnceLock<Vec<RuleInfo>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = [
            PARSE_RULES,
            expansion::RULES,
            hadolint::RULES,
            gates::RULES,
            context::RULES,
            stage_cycle::RULES,
            secrets::RULES,
            gpu::torch::RULES,
            gpu::stages::RULES,
            gpu::arch::RULES,
            gpu::host::RULES,
            pin::RULES,
        ]
        .concat();
        // Parse problems first, then by id (the order SARIF rule indexes have always had).
        all.sort_by_key(|r| (!PARSE_RULES.contains(r), r.id.as_str()));
        all
    })
}

pub fn info(id: RuleId) -> Option<&'static RuleInfo> {
    catalog().iter().find(|r| r.id == id)
}

pub fn severity(id: RuleId) -> Severity {
    info(id).map(|r| r.severity).unwrap_or(Severity::Style)
}

/// Everything a Dockerfile rule may look at.
pub struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub df: &'a Dockerfile,
    pub m: &'a Model<'a>,
    pub compat: &'a Compat,
    /// Requirements files installed by this Dockerfile (already read), in install order.
    pub reqfiles: &'a [ReqFile],
    /// Text of every file read, by relative path (for spans in other files).
    pub texts: &'a HashMap<PathBuf, String>,
    /// Install commands found in RUN lines: (instruction index, install).
    pub installs: &'a [(usize, Install)],
    /// The host's driver and GPUs, when host-aware checks are on.
    pub host: Option<&'a super::HostGpu>,
    /// Registry digests of the base images, when the caller looked them up.
    pub bases: Option<&'a super::base_digest::BaseDigests>,
    /// Line starts of `text`, for spans.
    pub lines: &'a LineIndex,
    /// The build context on disk, when the analysis has one (not for in-memory files).
    pub context: Option<&'a dyn crate::analyze::context_files::ContextFiles>,
}

impl<'a> Ctx<'a> {
    /// A finding in the Dockerfile at byte range `r`.
    pub fn at(&self, rule: RuleId, r: Range<usize>, message: impl Into<String>) -> Finding {
        Finding::new(
            rule,
            severity(rule),
            self.file,
            self.lines.span(self.text, r.start, r.end),
            message,
        )
    }
    /// A finding in another file read by the analysis.
    pub fn at_file(
        &self,
        rule: RuleId,
        file: &Path,
        r: Range<usize>,
        message: impl Into<String>,
    ) -> Finding {
        let text = self.texts.get(file).map(|s| s.as_str()).unwrap_or("");
        Finding::new(
            rule,
            severity(rule),
            file,
            Span::from_range(text, r.start, r.end),
            message,
        )
    }
    pub fn fix(
        &self,
        id: &str,
        level: FixLevel,
        description: impl Into<String>,
        edits: Vec<TextEdit>,
    ) -> Fix {
        Fix {
            id: id.to_string(),
            level,
            description: description.into(),
            file: self.file.to_path_buf(),
            edits,
        }
    }
}

pub fn edit(start: usize, end: usize, replacement: impl Into<String>) -> TextEdit {
    TextEdit {
        start,
        end,
        replacement: replacement.into(),
    }
}

pub fn insert(at: usize, s: impl Into<String>) -> TextEdit {
    edit(at, at, s)
}

/// Word spans of this RUN map 1:1 onto the file, so inserting at them is safe: not the exec (JSON) form
/// (words are JSON strings) and no `<<-` heredoc (its tabs were stripped from the text we parsed).
pub fn edits_are_exact(ins: &crate::analyze::dockerfile::Instruction) -> bool {
    matches!(ins.form, crate::analyze::dockerfile::Form::Shell)
        && ins.heredocs.iter().all(|h| !h.strip_tabs)
}

/// Text can be appended after the RUN's last line (`&& cleanup`): shell form, no heredoc, no trailing comment.
pub fn appendable(ins: &crate::analyze::dockerfile::Instruction) -> bool {
    let args = ins.args_text();
    matches!(ins.form, crate::analyze::dockerfile::Form::Shell)
        && ins.heredocs.is_empty()
        && !args.contains(" #")
        && !args.contains("\t#")
        && !args.trim_end().ends_with(['&', '|', ';', '\\'])
}

/// Run every Dockerfile rule family.
/// Parse problems listed one by one in a file; the rest are one finding with their count.
const MAX_PARSE_FINDINGS: usize = 200;

pub fn run(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    // A file that is not a Dockerfile (a requirements file, a binary) has a problem on every line: the first
    // ones say what is wrong, the rest are counted. Two million findings of a 4 MB file of junk took 1.7 GB.
    for p in ctx.df.problems.iter().take(MAX_PARSE_FINDINGS) {
        out.push(ctx.at(RuleId::DU001, p.range.clone(), format!("cannot parse line {}: {}", p.line, p.message)).why("Docker would reject this line; dockui skipped it and analysed the rest of the file."));
    }
    if let Some(first) = ctx.df.problems.get(MAX_PARSE_FINDINGS) {
        let more = ctx.df.problems.len() - MAX_PARSE_FINDINGS;
        out.push(
            ctx.at(
                RuleId::DU001,
                first.range.clone(),
                format!("{more} more lines from line {} on cannot be parsed either (not listed one by one)", first.line),
            )
            .why("Docker would reject them too: is this file a Dockerfile?"),
        );
    }
    nul::run(ctx, &mut out);
    hadolint::run(ctx, &mut out);
    hadolint_more::run(ctx, &mut out);
    gates::run(ctx, &mut out);
    context::run(ctx, &mut out);
    stage_cycle::run(ctx, &mut out);
    secrets::run(ctx, &mut out);
    gpu::run(ctx, &mut out);
    pin::run(ctx, &mut out);
    // Last: a rule's own expansion may be the one that ran the file's budget out.
    expansion::run(ctx, &mut out);
    out
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
