//! The headless push report (`dockui push --format json` serialises `PushReport`; humans get `render_human`).
//! Holds where credentials came from, never the credentials.

use super::client::{PlatformCheck, Verdict};
use super::credentials::CredentialSource;
use super::digest::DigestReport;
use super::update::ProposedUpdate;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagPush {
    pub tag: String,
    /// Manifest digest the engine reported for this tag.
    pub digest: Option<String>,
    pub size: Option<u64>,
    /// The engine lists this digest in RepoDigests for the pushed repository (false: they disagree, and the
    /// digest report decides which one is pinned).
    pub confirmed: bool,
    /// The manifest digest the registry serves for this tag after the push (asked of the registry itself).
    pub registry_digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PushReport {
    /// The local image that was pushed, as built.
    pub image: String,
    /// The builder that pushed it (kind, endpoint, docker context).
    pub backend: Option<crate::builder::BackendInfo>,
    /// `registry/repository` pushed to.
    pub repository: String,
    pub registry: String,
    pub tags: Vec<TagPush>,
    /// Local image id (config digest): shown for comparison, not pullable.
    pub image_id: String,
    /// The manifest digest (`sha256:...`) of `reference`.
    pub digest: Option<String>,
    /// `repo@sha256:...` to pin: a pullable manifest digest of the pushed repository.
    pub reference: Option<String>,
    pub verdict: Option<Verdict>,
    pub what_to_do: String,
    /// For a multi-platform index: every platform with its own verdict.
    pub platforms: Vec<PlatformCheck>,
    pub digests: Option<DigestReport>,
    pub credentials: Option<CredentialSource>,
    pub proposed_updates: Vec<ProposedUpdate>,
    /// Why the push or the check could not be done, with what to do.
    pub error: Option<String>,
    /// The image failed its smoke tests in its last build (pushed only with --force / a confirmation).
    pub smoke_failed: bool,
    /// Pushed although its smoke tests failed, because the user insisted.
    pub forced: bool,
    /// A multi-platform push: each platform's manifest and the index dockui put over them (pin its digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<super::index::IndexReport>,
    /// The failure signature the error matched (assets/signatures.toml), with what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<crate::classify::Diagnosis>,
}

impl PushReport {
    /// 0: pushed and pullable; 1: pushed but not pullable; 2: could not push (config, engine, credentials).
    pub fn exit_code(&self) -> i32 {
        match (&self.error, self.verdict) {
            (Some(_), _) => 2,
            (None, Some(Verdict::Pullable)) => 0,
            _ => 1,
        }
    }
}

pub fn render_human(r: &PushReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "push {} -> {}", r.image, r.repository);
    if r.smoke_failed {
        let _ = writeln!(
            out,
            "WARNING: this image failed its smoke tests{}",
            if r.forced {
                " (pushed with --force)"
            } else {
                ""
            }
        );
    }
    if let Some(c) = &r.credentials {
        let _ = writeln!(out, "credentials: {c}");
    }
    for t in &r.tags {
        let _ = writeln!(
            out,
            "  tag {}: {}{}",
            t.tag,
            t.digest.as_deref().unwrap_or("(no digest reported)"),
            t.size
                .map(|s| format!(" ({s} bytes manifest)"))
                .unwrap_or_default()
        );
        match &t.registry_digest {
            Some(d) if t.digest.as_ref() != Some(d) => {
                let _ = writeln!(out, "    the registry serves {d} for this tag");
            }
            None if t.digest.is_some() => {
                let _ = writeln!(out, "    (the registry did not answer for this tag)");
            }
            _ => {}
        }
        let podman = r
            .backend
            .as_ref()
            .is_some_and(|b| b.kind == crate::builder::BackendKind::Podman);
        if t.digest.is_some() && !t.confirmed && podman && t.registry_digest == t.digest {
            // Podman records the digest of its local manifest, which differs from the one it pushed.
            let _ = writeln!(
                out,
                "    (Podman's RepoDigests name its local copy's manifest, which the registry does not serve: pin this digest, not the one `podman inspect` shows)"
            );
        } else if t.digest.is_some() && !t.confirmed {
            let _ = writeln!(
                out,
                "    (the engine's RepoDigests do not list this digest)"
            );
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "error: {e}");
    }
    if !r.image_id.is_empty() {
        let _ = writeln!(
            out,
            "image id (local config digest, not pullable): {}",
            r.image_id
        );
    }
    if let Some(d) = &r.digests {
        for rd in &d.repo_digests {
            let verdict = rd
                .check
                .as_ref()
                .map(|c| c.verdict.label())
                .unwrap_or("not checked");
            let mark = if Some(&rd.reference) == r.reference.as_ref() {
                "*"
            } else {
                " "
            };
            let _ = writeln!(out, "{mark} repo digest: {} [{verdict}]", rd.reference);
            if let Some(c) = rd.check.as_ref().filter(|c| c.verdict != Verdict::Pullable) {
                let _ = writeln!(out, "      {}", c.detail);
            }
        }
        let _ = writeln!(out, "why they differ: {}", d.why_they_differ);
    }
    if let Some(i) = &r.index {
        out.push_str(&super::index::render_human(i));
    }
    for p in &r.platforms {
        let _ = writeln!(
            out,
            "  platform {}: {} [{}]",
            p.platform, p.digest, p.verdict
        );
    }
    match (&r.reference, r.verdict) {
        (Some(d), Some(v)) => {
            let _ = writeln!(out, "pin: {d}");
            let _ = writeln!(out, "verdict: {v}");
        }
        (None, Some(v)) => {
            let _ = writeln!(out, "verdict: {v} (no pullable digest)");
        }
        _ => {}
    }
    if !r.what_to_do.is_empty() {
        let _ = writeln!(out, "what to do: {}", r.what_to_do);
    }
    for u in &r.proposed_updates {
        if let Some(e) = &u.error {
            let _ = writeln!(out, "update {}: {e}", u.file.display());
            continue;
        }
        for c in &u.changes {
            match &c.error {
                Some(e) => {
                    let _ = writeln!(out, "update {} {}: {e}", u.file.display(), c.key);
                }
                None => {
                    let _ = writeln!(
                        out,
                        "update {}:{} {}: {} -> {}",
                        u.file.display(),
                        c.line.unwrap_or(0),
                        c.key,
                        c.old_value.as_deref().unwrap_or("(none)"),
                        c.new_value
                    );
                }
            }
        }
        if !u.diff.is_empty() {
            out.push_str(&u.diff);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::client::PullCheck;
    use crate::registry::digest::{DigestCheck, WHY_THEY_DIFFER};
    use crate::registry::update::KeyChange;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn report() -> PushReport {
        let reference = format!("reg:5000/team/app@{D}");
        PushReport {
            image: "dockui-local/app:latest".into(),
            backend: None,
            repository: "reg:5000/team/app".into(),
            registry: "reg:5000".into(),
            tags: vec![TagPush {
                tag: "v1".into(),
                digest: Some(D.into()),
                size: Some(528),
                confirmed: true,
                registry_digest: Some(D.into()),
            }],
            image_id: "sha256:1111".into(),
            digest: Some(D.into()),
            reference: Some(reference.clone()),
            verdict: Some(Verdict::Pullable),
            what_to_do: Verdict::Pullable.what_to_do(&reference, "reg:5000"),
            platforms: Vec::new(),
            digests: Some(DigestReport {
                image_id: "sha256:1111".into(),
                repo_digests: vec![DigestCheck {
                    reference: reference.clone(),
                    repository: "reg:5000/team/app".into(),
                    digest: D.into(),
                    pushed_repository: true,
                    check: Some(PullCheck {
                        reference: reference.clone(),
                        verdict: Verdict::Pullable,
                        what_to_do: String::new(),
                        detail: "HEAD answered 200 OK".into(),
                        registry_digest: Some(D.into()),
                        digest_matches: Some(true),
                        media_type: None,
                        method: "HEAD".into(),
                        attempts: 1,
                        platforms: Vec::new(),
                    }),
                    note: String::new(),
                }],
                chosen: Some(reference.clone()),
                why_they_differ: WHY_THEY_DIFFER.into(),
            }),
            credentials: Some(CredentialSource::Env),
            proposed_updates: vec![ProposedUpdate {
                file: ".env".into(),
                path: "/p/.env".into(),
                changes: vec![KeyChange {
                    key: "IMAGE".into(),
                    old_value: Some("old".into()),
                    new_value: reference.clone(),
                    line: Some(1),
                    error: None,
                }],
                old_text: "IMAGE=old\n".into(),
                edits: Vec::new(),
                new_text: format!("IMAGE={reference}\n"),
                diff: format!(
                    "--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-IMAGE=old\n+IMAGE={reference}\n"
                ),
                error: None,
            }],
            error: None,
            smoke_failed: false,
            forced: false,
            index: None,
            diagnosis: None,
        }
    }

    #[test]
    fn human_output_shows_both_digests_the_verdict_and_the_updates() {
        let text = render_human(&report());
        for line in [
            "push dockui-local/app:latest -> reg:5000/team/app",
            "credentials: $DOCKUI_REGISTRY_USER / $DOCKUI_REGISTRY_PASSWORD",
            "image id (local config digest, not pullable): sha256:1111",
            &format!("* repo digest: reg:5000/team/app@{D} [pullable]"),
            "why they differ: ",
            &format!("pin: reg:5000/team/app@{D}"),
            "verdict: pullable",
            &format!("update .env:1 IMAGE: old -> reg:5000/team/app@{D}"),
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn podmans_own_repo_digest_is_explained_not_flagged() {
        // Podman 4.3 lists the digest of its local manifest in RepoDigests, not the pushed one (seen on a
        // real push: RepoDigests sha256:d445..., pushed and served sha256:3519...).
        let mut r = report();
        r.tags[0].confirmed = false;
        let docker = render_human(&r);
        assert!(
            docker.contains("the engine's RepoDigests do not list this digest"),
            "{docker}"
        );
        r.backend = Some(crate::builder::BackendInfo {
            kind: crate::builder::BackendKind::Podman,
            endpoint: "unix:///run/podman/podman.sock".into(),
            context: None,
        });
        let podman = render_human(&r);
        assert!(
            podman.contains("pin this digest, not the one `podman inspect` shows"),
            "{podman}"
        );
        assert!(!podman.contains("do not list this digest"), "{podman}");
        // When the registry serves something else, the plain flag stays.
        r.tags[0].registry_digest = Some("sha256:bbbb".into());
        assert!(render_human(&r).contains("do not list this digest"));
    }

    #[test]
    fn json_has_the_documented_top_level_fields() {
        let v = serde_json::to_value(report()).unwrap();
        for k in [
            "image",
            "repository",
            "registry",
            "tags",
            "image_id",
            "digest",
            "reference",
            "verdict",
            "what_to_do",
            "platforms",
            "digests",
            "credentials",
            "proposed_updates",
            "error",
        ] {
            assert!(v.get(k).is_some(), "{k} missing");
        }
        assert_eq!(v["verdict"], "pullable");
        assert_eq!(v["credentials"]["kind"], "env");
        assert_eq!(report().exit_code(), 0);
    }
}
