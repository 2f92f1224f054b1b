//! SARIF 2.1.0 output for code scanning (GitHub, GitLab). Written with serde_json, no extra crate.

use super::rules::catalog;
use super::{Analysis, FixLevel, Severity};
use serde_json::{Value, json};
use std::path::Path;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Style => "note",
    }
}

fn uri(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// SARIF counts `charOffset` and `charLength` in the run's `columnKind` (dockui says `unicodeCodePoints`,
/// as its columns are); findings carry byte offsets. Each file is read once to convert them; a file that
/// cannot be read gives no offsets (line and column still locate the finding).
struct CodePoints<'a> {
    read: &'a dyn Fn(&Path) -> Option<String>,
    texts: std::collections::HashMap<std::path::PathBuf, Option<String>>,
}

impl CodePoints<'_> {
    /// (offset, length) in code points of the byte range `start..end` of `file`.
    fn range(&mut self, file: &Path, start: usize, end: usize) -> Option<(usize, usize)> {
        let text = self
            .texts
            .entry(file.to_path_buf())
            .or_insert_with(|| (self.read)(file))
            .as_deref()?;
        if text.is_ascii() {
            return (end <= text.len()).then_some((start, end.saturating_sub(start)));
        }
        if end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            return None;
        }
        let offset = text[..start].chars().count();
        Some((offset, text[start..end.max(start)].chars().count()))
    }
}

/// The analysis as a SARIF 2.1.0 log; `root` becomes the `%SRCROOT%` base of the relative file URIs.
pub fn to_sarif(analysis: &Analysis, root: &Path) -> Value {
    to_sarif_with(analysis, root, &|file| {
        std::fs::read_to_string(root.join(file)).ok()
    })
}

/// `to_sarif` with the files' texts from `read` (relative paths, as findings name them).
fn to_sarif_with(
    analysis: &Analysis,
    root: &Path,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Value {
    let mut points = CodePoints {
        read,
        texts: Default::default(),
    };
    let rules: Vec<Value> = catalog()
        .iter()
        .map(|r| {
            let mut v = json!({
                "id": r.id,
                "shortDescription": {"text": r.summary},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {"has_fix": r.has_fix()},
            });
            if r.id.starts_with("DL") {
                v["helpUri"] = json!(format!(
                    "https://github.com/hadolint/hadolint/wiki/{}",
                    r.id
                ));
            }
            v
        })
        .collect();
    let results: Vec<Value> = analysis
        .findings
        .iter()
        .map(|f| {
            let idx = catalog().iter().position(|r| r.id == f.rule);
            let end_col = if f.span.end > f.span.start { None } else { Some(f.span.col) };
            let mut region = json!({"startLine": f.span.line, "startColumn": f.span.col});
            if let Some((offset, length)) = points.range(&f.file, f.span.start, f.span.end) {
                region["charOffset"] = json!(offset);
                region["charLength"] = json!(length);
            }
            if let Some(c) = end_col {
                region["endColumn"] = json!(c);
            }
            let mut text = f.message.clone();
            if !f.why.is_empty() {
                text.push_str(if text.ends_with(['.', '!', '?']) { " " } else { ". " });
                text.push_str(&f.why);
            }
            let mut r = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&f.file), "uriBaseId": "%SRCROOT%"}, "region": region}}],
                "properties": {"facts": f.facts},
            });
            if let Some(i) = idx {
                r["ruleIndex"] = json!(i);
            }
            let fixes: Vec<Value> = f
                .fixes
                .iter()
                .map(|fx| {
                    let replacements: Vec<Value> = fx
                        .edits
                        .iter()
                        .filter_map(|e| {
                            let (offset, length) = points.range(&fx.file, e.start, e.end)?;
                            Some(json!({"deletedRegion": {"charOffset": offset, "charLength": length}, "insertedContent": {"text": e.replacement}}))
                        })
                        .collect();
                    json!({
                        "description": {"text": format!("{} ({})", fx.description, match fx.level { FixLevel::Safe => "safe", FixLevel::Suggestion => "suggestion", FixLevel::Unsafe => "unsafe" })},
                        "artifactChanges": [{
                            "artifactLocation": {"uri": uri(&fx.file), "uriBaseId": "%SRCROOT%"},
                            "replacements": replacements,
                        }],
                    })
                })
                .collect();
            // A fix is whole or not given: one whose file could not be read again is left out.
            let fixes: Vec<Value> = fixes
                .into_iter()
                .zip(&f.fixes)
                .filter(|(_, fx)| points.range(&fx.file, 0, 0).is_some())
                .map(|(v, _)| v)
                .collect();
            if !fixes.is_empty() {
                r["fixes"] = json!(fixes);
            }
            r
        })
        .collect();
    let root_uri = format!("file://{}/", root.to_string_lossy().trim_end_matches('/'));
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "dockui", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
            "artifacts": analysis.files.iter().map(|p| json!({"location": {"uri": uri(p), "uriBaseId": "%SRCROOT%"}})).collect::<Vec<_>>(),
            "results": results,
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testutil::check;

    #[test]
    fn sarif_has_rules_results_and_fixes() {
        let text = "FROM ubuntu:22.04\nRUN pip install flask==3.0.0\n";
        let a = check(text);
        let v = to_sarif_with(&a, Path::new("/proj"), &|_| Some(text.to_string()));
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert!(run["tool"]["driver"]["rules"].as_array().unwrap().len() >= 30);
        let res = run["results"].as_array().unwrap();
        let r = res.iter().find(|r| r["ruleId"] == "DL3042").unwrap();
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            2
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "Dockerfile"
        );
        assert!(
            r["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
                .as_str()
                .unwrap()
                .contains("--no-cache-dir")
        );
        assert_eq!(
            run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
            "file:///proj/"
        );
    }

    #[test]
    fn offsets_and_columns_count_code_points_as_the_run_says() {
        // 日本語😀 is 13 bytes and 4 code points before `&&`.
        let text = "FROM ubuntu:22.04\nRUN echo 日本語😀 && pip install flask==3.0.0\n";
        let a = check(text);
        let v = to_sarif_with(&a, Path::new("/proj"), &|_| Some(text.to_string()));
        assert_eq!(v["runs"][0]["columnKind"], "unicodeCodePoints");
        let r = v["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ruleId"] == "DL3042")
            .unwrap()
            .clone();
        let f = a.findings.iter().find(|f| f.rule == "DL3042").unwrap();
        let chars: Vec<char> = text.chars().collect();
        let region = &r["locations"][0]["physicalLocation"]["region"];
        let offset = region["charOffset"].as_u64().unwrap() as usize;
        let length = region["charLength"].as_u64().unwrap() as usize;
        assert_eq!(
            chars[offset..offset + length].iter().collect::<String>(),
            text[f.span.start..f.span.end]
        );
        // The fix's insertion point, in code points too.
        let rep = &r["fixes"][0]["artifactChanges"][0]["replacements"][0];
        let at = rep["deletedRegion"]["charOffset"].as_u64().unwrap() as usize;
        let fix_at = f.fixes[0].edits[0].start;
        assert_eq!(at, text[..fix_at].chars().count());
        // One full stop between the message and why, whatever the message ends with.
        for r in v["runs"][0]["results"].as_array().unwrap() {
            let m = r["message"]["text"].as_str().unwrap();
            assert!(!m.contains(".."), "{m}");
        }
        // A file that cannot be read again: located by line and column, no offsets, no fixes.
        let v = to_sarif_with(&a, Path::new("/proj"), &|_| None);
        let r = &v["runs"][0]["results"][0];
        assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64());
        assert!(r["locations"][0]["physicalLocation"]["region"]["charOffset"].is_null());
        assert!(r["fixes"].is_null());
    }
}
