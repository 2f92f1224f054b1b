//! Reproducible bases: a FROM `image:tag` can change under the same tag; `image:tag@sha256:...` cannot.
//! Both rules run only on registry facts the caller looked up (`AnalyzeOptions::base_digests`):
//! DU140 pins a tag-only base to the digest the registry serves now (checked pullable); DU141 reports a pinned
//! base whose tag has moved since (an update is available) and offers the new digest.

use super::from_rewrite::locate_reference;
use super::*;
use crate::analyze::base_digest::split_reference;

pub const RULES: &[RuleInfo] = &[
    RuleInfo::new(
        RuleId::DU140,
        Severity::Info,
        "Base image not pinned by digest: the tag can move (fix: pin to the digest the registry serves now)",
        &[FixLevel::Suggestion],
    )
    .note("Runs only with registry facts (`check --resolve-digests`, `fix --pin-bases`)."),
    RuleInfo::new(
        RuleId::DU141,
        Severity::Info,
        "Pinned base image whose tag has moved since: an update is available",
        &[FixLevel::Suggestion],
    )
    .note("Runs only with registry facts (`check --resolve-digests`, `fix --pin-bases`)."),
];

fn short(d: &str) -> &str {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    &hex[..hex.len().min(12)]
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(facts) = ctx.bases else {
        return;
    };
    for stage in ctx
        .m
        .stages
        .iter()
        .filter(|s| s.parent.is_none() && s.image.unresolved.is_empty())
    {
        let Some(base) = split_reference(&stage.image.text) else {
            continue;
        };
        let Some(fact) = facts.images.get(&base.tagged) else {
            continue;
        };
        let range = stage.image_range.clone();
        let kind = if fact.index {
            "index digest (multi-platform)"
        } else {
            "manifest digest"
        };
        match (&base.pinned, &fact.digest) {
            (None, Some(d)) => {
                let mut f = ctx
                    .at(
                        RuleId::DU140,
                        range,
                        format!("FROM {} is not pinned by digest", base.tagged),
                    )
                    .why("A tag can be pushed again: the same Dockerfile then builds on another base. Pinning the digest makes the build reproducible; DU141 tells you when the tag moves.")
                    .fact(format!("the registry serves {} as {kind} {d}", base.tagged));
                let target = format!("{}@{d}", base.tagged);
                if fact.pullable {
                    f = f.fact(format!("{target} is pullable"));
                    if let Some(edits) =
                        locate_reference(ctx, stage, &target).filter(|e| !e.is_empty())
                    {
                        f = f.with_fix(ctx.fix(
                            "DU140.pin",
                            FixLevel::Suggestion,
                            format!("Pin the base to {}@sha256:{}...", base.tagged, short(d)),
                            edits,
                        ));
                    }
                } else {
                    f = f.fact(format!(
                        "{target} is not pullable: no pin proposed ({})",
                        fact.error.as_deref().unwrap_or("the registry check failed")
                    ));
                }
                out.push(f);
            }
            (None, None) => {
                out.push(
                    ctx.at(
                        RuleId::DU140,
                        range,
                        format!("FROM {} is not pinned by digest (its digest could not be read)", base.tagged),
                    )
                    .why("A tag can be pushed again: pinning the digest makes the build reproducible.")
                    .fact(format!(
                        "digest lookup failed: {}",
                        fact.error.as_deref().unwrap_or("no answer")
                    )),
                );
            }
            (Some(pinned), Some(d)) if pinned != d => {
                let mut f = ctx
                    .at(
                        RuleId::DU141,
                        range,
                        format!(
                            "{} has moved: pinned sha256:{}..., the tag now points to sha256:{}... (an update is available)",
                            base.tagged,
                            short(pinned),
                            short(d)
                        ),
                    )
                    .why("The pin keeps the build on the old base; the tag's new image may carry security or bug fixes. Update the pin when you want them.")
                    .fact(format!("pinned: {pinned}"))
                    .fact(format!("the registry serves {} as {kind} {d}", base.tagged));
                let target = format!("{}@{d}", base.tagged);
                if fact.pullable
                    && let Some(edits) =
                        locate_reference(ctx, stage, &target).filter(|e| !e.is_empty())
                {
                    f = f.with_fix(ctx.fix(
                        "DU141.update",
                        FixLevel::Suggestion,
                        format!("Update the pin to sha256:{}...", short(d)),
                        edits,
                    ));
                }
                out.push(f);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyze::base_digest::{BaseDigest, BaseDigests};
    use crate::analyze::{AnalyzeOptions, analyze_text};
    use std::path::Path;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn facts(reference: &str, digest: Option<&str>, pullable: bool) -> AnalyzeOptions {
        let mut images = std::collections::BTreeMap::new();
        images.insert(
            reference.to_string(),
            BaseDigest {
                digest: digest.map(str::to_string),
                pullable,
                index: false,
                error: digest.is_none().then(|| "registry unreachable".to_string()),
            },
        );
        AnalyzeOptions {
            base_digests: Some(BaseDigests { images }),
            ..Default::default()
        }
    }

    fn pin_findings(df: &str, opts: &AnalyzeOptions) -> Vec<crate::analyze::Finding> {
        analyze_text(Path::new("Dockerfile"), df, opts)
            .findings
            .into_iter()
            .filter(|f| f.rule == "DU140" || f.rule == "DU141")
            .collect()
    }

    #[test]
    fn tag_only_base_gets_a_pin_fix_with_facts() {
        let df = "FROM reg.local/py:3.12\nRUN true\n";
        let fs = pin_findings(df, &facts("reg.local/py:3.12", Some(D1), true));
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].rule, "DU140");
        let fix = &fs[0].fixes[0];
        assert_eq!(fix.level, crate::analyze::FixLevel::Suggestion);
        let out = crate::fix::apply_edits(df, &fix.edits);
        assert_eq!(out, format!("FROM reg.local/py:3.12@{D1}\nRUN true\n"));
    }

    #[test]
    fn pin_lands_in_the_arg_default_when_from_uses_an_arg() {
        let df = "ARG BASE=reg.local/py:3.12\nFROM ${BASE}\n";
        let fs = pin_findings(df, &facts("reg.local/py:3.12", Some(D1), true));
        let out = crate::fix::apply_edits(df, &fs[0].fixes[0].edits);
        assert_eq!(
            out,
            format!("ARG BASE=reg.local/py:3.12@{D1}\nFROM ${{BASE}}\n")
        );
    }

    #[test]
    fn no_facts_no_finding_and_unpullable_gets_no_fix() {
        let df = "FROM reg.local/py:3.12\n";
        assert!(pin_findings(df, &AnalyzeOptions::default()).is_empty());
        let fs = pin_findings(df, &facts("reg.local/py:3.12", Some(D1), false));
        assert_eq!(fs.len(), 1);
        assert!(fs[0].fixes.is_empty());
        let fs = pin_findings(df, &facts("reg.local/py:3.12", None, false));
        assert!(
            fs[0].facts[0].contains("registry unreachable"),
            "{:?}",
            fs[0].facts
        );
    }

    #[test]
    fn moved_tag_is_reported_once_and_a_current_pin_is_quiet() {
        let df = format!("FROM reg.local/py:3.12@{D1}\n");
        assert!(pin_findings(&df, &facts("reg.local/py:3.12", Some(D1), true)).is_empty());
        let fs = pin_findings(&df, &facts("reg.local/py:3.12", Some(D2), true));
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].rule, "DU141");
        let out = crate::fix::apply_edits(&df, &fs[0].fixes[0].edits);
        assert_eq!(out, format!("FROM reg.local/py:3.12@{D2}\n"));
    }
}
