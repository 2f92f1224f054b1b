//! Which digest to pin. The local image id is the digest of the image's config JSON: the engine knows it, no
//! registry serves it. What a registry serves (and what `repo@sha256:...` must name) is the digest of the
//! manifest, which the engine records in RepoDigests once the image is pushed or pulled.

use super::client::{PullCheck, RegistryPort, Verdict};
use super::reference::ImageName;
use serde::Serialize;

pub const WHY_THEY_DIFFER: &str = "The image ID is the digest of the local image's config; a registry serves \
     the image by the digest of its manifest (which lists that config and the compressed layers), so pin \
     repo@<manifest digest>: pulling by the image ID fails with \"manifest unknown\".";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestCheck {
    /// `repo@sha256:...` as the engine lists it.
    pub reference: String,
    pub repository: String,
    pub digest: String,
    /// This RepoDigest belongs to the repository we pushed to.
    pub pushed_repository: bool,
    /// None when the entry could not be parsed (the reason is in `note`).
    pub check: Option<PullCheck>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestReport {
    /// Local image id (config digest): shown, never pinned.
    pub image_id: String,
    pub repo_digests: Vec<DigestCheck>,
    /// The `repo@sha256:...` to pin: a pullable digest of the pushed repository.
    pub chosen: Option<String>,
    pub why_they_differ: String,
}

/// Check every RepoDigest (each against its own registry) and choose a pullable one of the pushed
/// repository, preferring `preferred` (the digest the push itself reported).
pub async fn digest_report(
    client: &(impl RegistryPort + ?Sized),
    image_id: &str,
    repo_digests: &[String],
    pushed: &ImageName,
    preferred: Option<&str>,
) -> DigestReport {
    let mut checks = Vec::new();
    for rd in repo_digests {
        let parsed = ImageName::parse(rd).ok().and_then(|n| {
            let d = n.digest.clone()?;
            Some((n, d))
        });
        match parsed {
            Some((name, digest)) => {
                let check = client.check(&name, &digest).await;
                checks.push(DigestCheck {
                    reference: rd.clone(),
                    repository: name.familiar_repository(),
                    pushed_repository: name.same_repository(pushed),
                    digest,
                    note: String::new(),
                    check: Some(check),
                });
            }
            None => checks.push(DigestCheck {
                reference: rd.clone(),
                repository: String::new(),
                digest: String::new(),
                pushed_repository: false,
                check: None,
                note: "not a repo@sha256:<digest> reference; ignored".into(),
            }),
        }
    }
    let chosen = choose(&checks, preferred);
    DigestReport {
        image_id: image_id.to_string(),
        repo_digests: checks,
        chosen,
        why_they_differ: WHY_THEY_DIFFER.to_string(),
    }
}

/// A pullable digest of the pushed repository; the push's own digest first when it is among them.
pub fn choose(checks: &[DigestCheck], preferred: Option<&str>) -> Option<String> {
    let pullable: Vec<&DigestCheck> = checks
        .iter()
        .filter(|c| c.pushed_repository)
        .filter(|c| {
            c.check
                .as_ref()
                .is_some_and(|k| k.verdict == Verdict::Pullable)
        })
        .collect();
    pullable
        .iter()
        .find(|c| Some(c.digest.as_str()) == preferred)
        .or_else(|| pullable.first())
        .map(|c| c.reference.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reference: &str, pushed: bool, verdict: Verdict) -> DigestCheck {
        let (repo, digest) = reference.split_once('@').unwrap();
        DigestCheck {
            reference: reference.into(),
            repository: repo.into(),
            digest: digest.into(),
            pushed_repository: pushed,
            check: Some(PullCheck {
                reference: reference.into(),
                verdict,
                what_to_do: String::new(),
                detail: String::new(),
                registry_digest: None,
                digest_matches: None,
                media_type: None,
                method: "HEAD".into(),
                attempts: 1,
                platforms: Vec::new(),
            }),
            note: String::new(),
        }
    }

    #[test]
    fn chooses_a_pullable_digest_of_the_pushed_repository_preferring_the_push() {
        let checks = vec![
            check("other/app@sha256:a", false, Verdict::Pullable),
            check("reg/app@sha256:b", true, Verdict::NotFound),
            check("reg/app@sha256:c", true, Verdict::Pullable),
            check("reg/app@sha256:d", true, Verdict::Pullable),
        ];
        assert_eq!(choose(&checks, None).as_deref(), Some("reg/app@sha256:c"));
        assert_eq!(
            choose(&checks, Some("sha256:d")).as_deref(),
            Some("reg/app@sha256:d")
        );
        // The push's own digest is not pullable: another pullable one of the same repository is used.
        assert_eq!(
            choose(&checks, Some("sha256:b")).as_deref(),
            Some("reg/app@sha256:c")
        );
        // Another repository's digest is never pinned for this one.
        assert_eq!(choose(&checks[..2], None), None);
    }
}
