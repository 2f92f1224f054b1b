//! Rule families: hadolint-compatible common rules (`DLxxxx`), build gates (`DU1xx`), GPU compatibility rules
//! (`DU2xx`) and parse problems (`DU001`). The catalog below is the single list of ids, severities and summaries.

pub mod gates;
pub mod gpu;
pub mod hadolint;
pub mod hadolint_more;

use super::compat::Compat;
use super::dockerfile::Dockerfile;
use super::dockerfile::model::Model;
use super::finding::*;
use super::requirements::{Install, ReqFile};
use serde::Serialize;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub has_fix: bool,
}

const fn r(id: &'static str, severity: Severity, summary: &'static str, has_fix: bool) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        summary,
        has_fix,
    }
}

use Severity::{Error, Info, Style, Warning};

/// Every rule dockui knows, in id order.
pub const RULES: &[RuleInfo] = &[
    r(
        "DU001",
        Error,
        "Dockerfile line that cannot be parsed (the rest of the file is still analysed)",
        false,
    ),
    r(
        "DU002",
        Warning,
        "Requirements line that cannot be read as a requirement",
        false,
    ),
    r(
        "DU003",
        Error,
        "Dockerfile not read: not a regular file inside the project, or too large",
        false,
    ),
    r(
        "DU004",
        Warning,
        "Project file not read (link out of the project, not a regular file, too large) or not UTF-8",
        false,
    ),
    r("DL3000", Error, "Use absolute WORKDIR", false),
    r(
        "DL3001",
        Info,
        "Commands that make no sense in a container (ssh, vim, shutdown, service, ps, free, top, kill, mount, ifconfig)",
        false,
    ),
    r("DL3002", Warning, "Last USER should not be root", false),
    r(
        "DL3003",
        Warning,
        "Use WORKDIR to switch to a directory",
        false,
    ),
    r(
        "DL3004",
        Error,
        "Do not use sudo as it leads to unpredictable behavior",
        false,
    ),
    r(
        "DL3006",
        Warning,
        "Always tag the version of an image explicitly",
        false,
    ),
    r(
        "DL3007",
        Warning,
        "Using latest is prone to errors if the image will ever update; pin a release tag",
        false,
    ),
    r("DL3008", Warning, "Pin versions in apt-get install", false),
    r(
        "DL3009",
        Info,
        "Delete the apt-get lists after installing something",
        true,
    ),
    r(
        "DL3011",
        Error,
        "Valid UNIX ports range from 0 to 65535",
        false,
    ),
    r("DL3012", Error, "Multiple HEALTHCHECK instructions", false),
    r("DL3013", Warning, "Pin versions in pip", false),
    r(
        "DL3014",
        Warning,
        "Use the -y switch with apt-get install",
        true,
    ),
    r(
        "DL3015",
        Info,
        "Avoid additional packages by specifying --no-install-recommends",
        true,
    ),
    r("DL3016", Warning, "Pin versions in npm", false),
    r("DL3018", Warning, "Pin versions in apk add", false),
    r(
        "DL3019",
        Info,
        "Use the --no-cache switch with apk add",
        true,
    ),
    r(
        "DL3020",
        Error,
        "Use COPY instead of ADD for files and folders",
        true,
    ),
    r(
        "DL3021",
        Error,
        "COPY with more than 2 arguments requires the last argument to end with /",
        true,
    ),
    r(
        "DL3022",
        Warning,
        "COPY --from should reference a previously defined FROM alias",
        false,
    ),
    r(
        "DL3023",
        Error,
        "COPY --from cannot reference its own FROM alias",
        false,
    ),
    r(
        "DL3024",
        Error,
        "FROM aliases (stage names) must be unique",
        false,
    ),
    r(
        "DL3025",
        Warning,
        "Use JSON notation for CMD and ENTRYPOINT arguments",
        true,
    ),
    r(
        "DL3027",
        Warning,
        "Do not use apt, use apt-get or apt-cache instead",
        true,
    ),
    r(
        "DL3030",
        Warning,
        "Use the -y switch with yum install",
        true,
    ),
    r(
        "DL3032",
        Warning,
        "yum clean all missing after yum command",
        true,
    ),
    r(
        "DL3033",
        Warning,
        "Specify version with yum install -y <package>-<version>",
        false,
    ),
    r(
        "DL3038",
        Warning,
        "Use the -y switch with dnf install",
        true,
    ),
    r(
        "DL3040",
        Warning,
        "dnf clean all missing after dnf command",
        true,
    ),
    r(
        "DL3042",
        Warning,
        "Avoid the pip cache directory with pip install --no-cache-dir",
        true,
    ),
    r(
        "DL3043",
        Error,
        "ONBUILD, FROM or MAINTAINER triggered from within ONBUILD",
        false,
    ),
    r(
        "DL3044",
        Error,
        "Do not refer to an environment variable within the same ENV statement where it is defined",
        false,
    ),
    r(
        "DL3047",
        Info,
        "wget without --progress bloats build logs",
        true,
    ),
    r(
        "DL3059",
        Info,
        "Multiple consecutive RUN instructions; consider consolidation",
        false,
    ),
    r(
        "DL3060",
        Info,
        "yarn cache clean missing after yarn install",
        true,
    ),
    r("DL4000", Error, "MAINTAINER is deprecated", true),
    r(
        "DL4001",
        Warning,
        "Either use Wget or Curl but not both",
        false,
    ),
    r("DL4003", Warning, "Multiple CMD instructions found", false),
    r(
        "DL4004",
        Error,
        "Multiple ENTRYPOINT instructions found",
        false,
    ),
    r(
        "DL4005",
        Warning,
        "Use SHELL to change the default shell",
        false,
    ),
    r(
        "DL4006",
        Warning,
        "Set the SHELL option -o pipefail before RUN with a pipe in it",
        true,
    ),
    r(
        "DU101",
        Error,
        "apt/apt-get install without DEBIAN_FRONTEND=noninteractive",
        true,
    ),
    r(
        "DU102",
        Warning,
        "apt upgrade or dpkg -i without dpkg conffile options (--force-confdef/--force-confold)",
        true,
    ),
    r(
        "DU103",
        Warning,
        "Package manager cache left in the layer (conda) or removed in a later layer",
        true,
    ),
    r(
        "DU110",
        Error,
        "Invalid FROM reference (empty tag, bad digest, upper case, undefined variable)",
        true,
    ),
    r(
        "DU111",
        Warning,
        "FROM uses an ARG without a default: the build fails unless --build-arg sets it",
        false,
    ),
    r(
        "DU120",
        Error,
        "GitHub workflow uses type=gha build cache with the default docker buildx driver",
        true,
    ),
    r(
        "DU201",
        Error,
        "torch's CUDA build does not match the base image's CUDA",
        true,
    ),
    r(
        "DU202",
        Error,
        "torchvision/torchaudio version does not match torch",
        true,
    ),
    r(
        "DU203",
        Warning,
        "torch installed again over a pytorch/pytorch base image (gigabytes re-downloaded)",
        true,
    ),
    r(
        "DU204",
        Warning,
        "--extra-index-url for a CUDA torch index lets PyPI's default CUDA build win",
        true,
    ),
    r(
        "DU205",
        Error,
        "torch +cuXYZ wheel or cuXYZ index does not exist for that torch version",
        true,
    ),
    r(
        "DU206",
        Error,
        "Python version outside the range the torch version supports",
        false,
    ),
    r(
        "DU207",
        Warning,
        "CUDA build (llama.cpp / GGML_CUDA) without the driver stubs on the link path",
        true,
    ),
    r(
        "DU208",
        Warning,
        "COPY --from copies a build path the source stage never creates",
        false,
    ),
    r(
        "DU209",
        Warning,
        "Unpinned torch on a base without CUDA facts follows PyPI's newest default CUDA build and its driver floor",
        true,
    ),
    r(
        "DU210",
        Warning,
        "COPY --from between stages built on different CUDA versions",
        true,
    ),
    r(
        "DU211",
        Error,
        "Base image CUDA newer than the host driver runs (warning: only through minor-version compatibility)",
        true,
    ),
    r(
        "DU212",
        Error,
        "torch wheel's CUDA build needs a newer driver than the host has (warning: minor-version compatibility)",
        true,
    ),
    r(
        "DU213",
        Error,
        "A host GPU's compute capability is missing from the torch wheel's arch list",
        true,
    ),
];

/// The rule list for `dockui rules`.
pub fn catalog() -> Vec<RuleInfo> {
    RULES.to_vec()
}

pub fn info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

pub fn severity(id: &str) -> Severity {
    info(id).map(|r| r.severity).unwrap_or(Style)
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
    /// Line starts of `text`, for spans.
    pub lines: &'a LineIndex,
}

impl<'a> Ctx<'a> {
    /// A finding in the Dockerfile at byte range `r`.
    pub fn at(&self, rule: &str, r: Range<usize>, message: impl Into<String>) -> Finding {
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
        rule: &str,
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
pub fn run(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &ctx.df.problems {
        out.push(ctx.at("DU001", p.range.clone(), format!("cannot parse line {}: {}", p.line, p.message)).why("Docker would reject this line; dockui skipped it and analysed the rest of the file."));
    }
    hadolint::run(ctx, &mut out);
    hadolint_more::run(ctx, &mut out);
    gates::run(ctx, &mut out);
    gpu::run(ctx, &mut out);
    out
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
