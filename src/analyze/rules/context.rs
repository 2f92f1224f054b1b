//! COPY/ADD sources that are not in the build context (`DU112`): missing from the project, or kept out of the
//! context by `.dockerignore`. Both builders stop at that step ("failed to compute cache key: ... not found",
//! "COPY failed: file not found in build context"). Only literal paths are judged: a wildcard may match
//! nothing on purpose (BuildKit allows an empty match), a variable without a value is not known, and
//! `COPY --from`, heredocs and URLs do not come from the context.

use super::*;
use crate::analyze::context_files::Entry;
use crate::analyze::dockerfile::Form;

pub const RULES: &[RuleInfo] = &[RuleInfo::new(
    RuleId::DU112,
    Severity::Error,
    "COPY/ADD source not in the build context (missing, or excluded by .dockerignore)",
    &[],
)
.note("literal paths only (no wildcards, no unset variables); the context is the project directory, as dockui builds it")];

/// `src` cleaned as the builder resolves it against the context root: a leading `/` or `./` dropped, `.`
/// parts dropped; None for what is not judged (wildcards, `..`, the root itself).
fn context_path(src: &str) -> Option<String> {
    if src.contains(['*', '?', '[', '\\']) {
        return None;
    }
    let mut parts = Vec::new();
    for part in src.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// One COPY/ADD source judged against the context.
struct Judged {
    keyword: String,
    text: String,
    rel: String,
    range: Range<usize>,
    entry: Entry,
}

/// The stages a build of the last stage runs: it, its bases and every stage it copies or mounts from, and
/// theirs. BuildKit builds only those: a `test` stage copying `tests/` that a `--target prod` build never
/// reaches does not fail the build, so its sources are not judged.
fn reached_stages(ctx: &Ctx) -> Vec<bool> {
    let n = ctx.m.stages.len();
    let mut reached = vec![false; n];
    let Some(last) = n.checked_sub(1) else {
        return reached;
    };
    let edges = super::stage_cycle::edges(ctx);
    let mut todo = vec![last];
    while let Some(s) = todo.pop() {
        if std::mem::replace(&mut reached[s], true) {
            continue;
        }
        todo.extend(edges.iter().filter(|e| e.from == s).map(|e| e.to));
    }
    reached
}

pub(super) fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(context) = ctx.context else { return };
    let reached = reached_stages(ctx);
    let mut judged = Vec::new();
    for (i, info) in ctx.m.instrs.iter().enumerate() {
        if info
            .stage
            .is_some_and(|s| !reached.get(s).copied().unwrap_or(true))
        {
            continue;
        }
        let ins = info.ins;
        if !(ins.is("COPY") || ins.is("ADD"))
            || ins.flag("from").is_some()
            || !ins.heredocs.is_empty()
        {
            continue;
        }
        let words = match &ins.form {
            Form::Json(ws) => ws,
            Form::Shell => &ins.words,
        };
        let Some((_, sources)) = words.split_last() else {
            continue;
        };
        for w in sources {
            let raw = w.text.as_str();
            if raw.starts_with("<<") || raw.contains("://") || raw.starts_with("git@") {
                continue;
            }
            let text = if raw.contains('$') {
                let e = ctx.m.expand_at(i, raw);
                if !e.unresolved.is_empty() {
                    continue;
                }
                e.text
            } else {
                raw.to_string()
            };
            // A name read with replacement characters (a Dockerfile that is not UTF-8) is not the name on disk.
            let Some(rel) = context_path(&text).filter(|r| !r.contains('\u{FFFD}')) else {
                continue;
            };
            let entry = context.lookup(&rel);
            if entry != Entry::Unknown {
                judged.push(Judged {
                    keyword: ins.keyword.clone(),
                    text,
                    rel,
                    range: w.range.clone(),
                    entry,
                });
            }
        }
    }
    let missing = judged.iter().filter(|j| j.entry == Entry::Missing).count();
    let present = judged.iter().filter(|j| j.entry == Entry::Present).count();
    if missing >= 1 && present == 0 {
        // Not one source is there: the context is more likely another directory (`docker build -f
        // docker/Dockerfile .` from the repository root) than every file missing. One warning, not N errors.
        let first = judged
            .iter()
            .find(|j| j.entry == Entry::Missing)
            .expect("counted above");
        let mut f = ctx
            .at(
                RuleId::DU112,
                first.range.clone(),
                if missing == 1 {
                    format!(
                        "{} source `{}` is not in the project directory: is it missing, or is the build context another directory?",
                        first.keyword, first.text
                    )
                } else {
                    format!(
                        "none of the {missing} COPY/ADD sources is in the project directory (the first: `{}`): is the build context another directory?",
                        first.text
                    )
                },
            )
            .why("If this is the context, the build stops at the first of these steps ('failed to compute cache key: ... not found'). A Dockerfile kept in a subdirectory is usually built with the repository root as its context: open dockui there and name the Dockerfile (`[build] dockerfile = \"docker/Dockerfile\"`, or -f).")
            .fact(format!("build context: {}", context.describe()))
            .fact("a warning, not an error: with no source found, the context is more likely elsewhere than every file missing");
        f.severity = Severity::Warning;
        out.push(f);
        report_excluded(ctx, context, &judged, out);
        return;
    }
    for j in &judged {
        if j.entry != Entry::Missing {
            continue;
        }
        out.push(
            ctx.at(
                RuleId::DU112,
                j.range.clone(),
                format!("{} source `{}` is not in the build context", j.keyword, j.text),
            )
            .why("The build stops at this step: BuildKit says 'failed to compute cache key: ... not found', the legacy builder 'COPY failed: file not found in build context or excluded by .dockerignore'.")
            .fact(format!("build context: {}", context.describe()))
            .fact(format!("{present} other source(s) of this Dockerfile are there, so this is taken to be its context")),
        );
    }
    report_excluded(ctx, context, &judged, out);
}

/// Sources that are in the project but kept out of the context by `.dockerignore`: an error whatever the
/// other sources do (the file being there says this is the context).
fn report_excluded(
    ctx: &Ctx,
    context: &dyn crate::analyze::context_files::ContextFiles,
    judged: &[Judged],
    out: &mut Vec<Finding>,
) {
    for j in judged {
        let Entry::Excluded(pattern) = &j.entry else {
            continue;
        };
        out.push(
            ctx.at(
                RuleId::DU112,
                j.range.clone(),
                format!(
                    "{} source `{}` is excluded from the build context by .dockerignore (`{pattern}`)",
                    j.keyword, j.text
                ),
            )
            .why(format!("The file is in the project, but .dockerignore keeps it out of what the builder is sent, so the build stops at this step as if it were missing ('file not found in build context or excluded by .dockerignore'). Re-include it with `!{}` after `{pattern}`, or copy something else.", j.rel))
            .fact(format!("build context: {}", context.describe())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{AnalyzeOptions, analyze_project};

    /// DU112's findings on a project of `files` (path, text).
    fn du112_findings(files: &[(&str, &str)]) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let a = analyze_project(dir.path(), &AnalyzeOptions::default()).unwrap();
        a.findings
            .into_iter()
            .filter(|f| f.rule == RuleId::DU112)
            .collect()
    }

    /// (line, message) of DU112's findings on a project of `files`.
    fn du112(files: &[(&str, &str)]) -> Vec<(usize, String)> {
        du112_findings(files)
            .into_iter()
            .map(|f| (f.span.line, f.message))
            .collect()
    }

    #[test]
    fn a_missing_or_ignored_source_is_an_error_on_its_line() {
        let found = du112(&[
            (
                "Dockerfile",
                "FROM python:3.11\nCOPY requirements.txt /app/\nCOPY config.yaml /app/\n\
                 COPY secrets.env /app/\nARG CFG=conf/prod.toml\nCOPY ${CFG} /etc/\nCOPY [\"data.json\", \"/x/\"]\n",
            ),
            ("requirements.txt", "torch\n"),
            ("secrets.env", "A=1\n"),
            (".dockerignore", "*.env\n"),
        ]);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        // (requirements.txt is there: the context is taken to be the project.)
        assert_eq!(lines, [3, 4, 6, 7], "{found:#?}");
        assert!(
            found[1]
                .1
                .contains("excluded from the build context by .dockerignore (`*.env`)")
        );
        assert!(found[2].1.contains("`conf/prod.toml`"));
    }

    #[test]
    fn a_stage_the_build_never_reaches_is_not_judged_and_a_lone_missing_source_is_a_warning() {
        // Fires: the last stage's own COPY.
        let found = du112(&[
            (
                "Dockerfile",
                "FROM python:3.11 AS base\nCOPY requirements.txt /\nFROM base AS test\nCOPY tests/ /tests/\n\
                 FROM base AS prod\nCOPY app.py /\nCOPY --from=assets /x /x\n",
            ),
            ("requirements.txt", ""),
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].0, 6, "app.py, in the last stage: {found:#?}");
        // Must not: `test` is not built for the last stage (BuildKit skips it), and a stage it copies from is.
        let found = du112(&[
            (
                "Dockerfile",
                "FROM python:3.11 AS base\nCOPY requirements.txt /\nFROM base AS test\nCOPY tests/ /tests/\n\
                 FROM base AS prod\nCOPY app.py /\n",
            ),
            ("requirements.txt", ""),
            ("app.py", ""),
        ]);
        assert!(found.is_empty(), "{found:#?}");
        // One source, missing: the same doubt about the context as with several, so a warning.
        let f = du112_findings(&[(
            "Dockerfile",
            "FROM python:3.11\nCOPY . /app\nCOPY requirements.txt /app/\n",
        )]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn an_allowlist_dockerignore_with_a_wildcard_reinclude_leaves_directories_alone() {
        // `*` then `!**/*.py`: BuildKit walks into src/ and sends a.py (auditor); a file it excludes is still one.
        let found = du112(&[
            (
                "Dockerfile",
                "FROM python:3.11\nCOPY src/ /src/\nCOPY requirements.txt /\nCOPY notes.md /\n",
            ),
            ("src/a.py", ""),
            ("requirements.txt", ""),
            ("notes.md", ""),
            (".dockerignore", "*\n!**/*.py\n!requirements.txt\n"),
        ]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].1.contains("`notes.md` is excluded"), "{found:#?}");
    }

    #[test]
    fn no_source_found_at_all_is_one_warning_about_the_context() {
        // A Dockerfile kept in docker/ and analysed there, while it is built from the repository root.
        let f = du112_findings(&[(
            "Dockerfile",
            "FROM python:3.11\nCOPY requirements.txt /app/\nCOPY src/ /app/src/\nCOPY setup.py /app/\n",
        )]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].span.line, 2);
        assert!(
            f[0].message.contains("none of the 3 COPY/ADD sources"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn what_the_builder_finds_or_does_not_take_from_the_context_is_left_alone() {
        let found = du112(&[
            (
                "Dockerfile",
                "FROM python:3.11 AS builder\nCOPY ./src/ /app/src/\nCOPY /requirements.txt /app/\n\
                 COPY *.md /docs/\nCOPY --from=builder /out /out\nADD https://example.com/x.tgz /tmp/\n\
                 COPY <<EOF /etc/x\nhello\nEOF\nCOPY ${UNSET}/x /y\nCOPY keep.env /app/\nCOPY data/ /data/\n",
            ),
            ("src/main.py", ""),
            ("requirements.txt", ""),
            ("keep.env", ""),
            ("data/keep.csv", ""),
            ("data/drop.tmp", ""),
            (".dockerignore", "*.env\n!keep.env\ndata\n!data/keep.csv\n"),
        ]);
        assert!(found.is_empty(), "{found:#?}");
        // The Dockerfile's own ignore file wins in BuildKit and is not read here: exclusion is not judged.
        let found = du112(&[
            ("Dockerfile", "FROM python:3.11\nCOPY secrets.env /app/\n"),
            ("secrets.env", ""),
            (".dockerignore", "*.env\n"),
            ("Dockerfile.dockerignore", "\n"),
        ]);
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn sources_are_cleaned_like_the_builder_and_patterns_left_alone() {
        assert_eq!(context_path("/app/x.py").as_deref(), Some("app/x.py"));
        assert_eq!(context_path("./src/").as_deref(), Some("src"));
        assert_eq!(context_path("a/./b").as_deref(), Some("a/b"));
        assert_eq!(context_path("."), None);
        assert_eq!(context_path("*.txt"), None);
        assert_eq!(context_path("requirements?.txt"), None);
        assert_eq!(context_path("../outside"), None);
    }
}
