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

/// The analysis as a SARIF 2.1.0 log; `root` becomes the `%SRCROOT%` base of the relative file URIs.
pub fn to_sarif(analysis: &Analysis, root: &Path) -> Value {
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
            let mut region = json!({"startLine": f.span.line, "startColumn": f.span.col, "charOffset": f.span.start, "charLength": f.span.end - f.span.start});
            if let Some(c) = end_col {
                region["endColumn"] = json!(c);
            }
            let mut text = f.message.clone();
            if !f.why.is_empty() {
                text.push_str(". ");
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
                    json!({
                        "description": {"text": format!("{} ({})", fx.description, match fx.level { FixLevel::Safe => "safe", FixLevel::Suggestion => "suggestion", FixLevel::Unsafe => "unsafe" })},
                        "artifactChanges": [{
                            "artifactLocation": {"uri": uri(&fx.file), "uriBaseId": "%SRCROOT%"},
                            "replacements": fx.edits.iter().map(|e| json!({"deletedRegion": {"charOffset": e.start, "charLength": e.end - e.start}, "insertedContent": {"text": e.replacement}})).collect::<Vec<_>>(),
                        }],
                    })
                })
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
        let a = check("FROM ubuntu:22.04\nRUN pip install flask==3.0.0\n");
        let v = to_sarif(&a, Path::new("/proj"));
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
}
