//! Registry facts for the pin rules (DU140, DU141): the digest each base's tag resolves to now (HEAD of the
//! manifest with every manifest type accepted, so a multi-platform image gives its index digest), checked
//! pullable by digest. Looked up only when the user asks (`check --resolve-digests`, `fix --pin-bases`).

use super::client::{RegistryClient, is_index_type};
use super::reference::ImageName;
use crate::analyze::base_digest::{BaseDigest, BaseDigests, BaseRef};

/// Look up every base; one that cannot be resolved gets an `error` (the analysis says so), never a failure.
pub async fn resolve(client: &RegistryClient, bases: &[BaseRef]) -> BaseDigests {
    let mut out = BaseDigests::default();
    for b in bases {
        if out.images.contains_key(&b.tagged) {
            continue;
        }
        out.images
            .insert(b.tagged.clone(), resolve_one(client, &b.tagged).await);
    }
    out
}

async fn resolve_one(client: &RegistryClient, tagged: &str) -> BaseDigest {
    let failed = |error: String| BaseDigest {
        error: Some(error),
        ..BaseDigest::default()
    };
    let name = match ImageName::parse(tagged) {
        Ok(n) => n,
        Err(e) => return failed(e.to_string()),
    };
    let Some(tag) = name.tag.clone() else {
        return failed(format!("{tagged} has no tag"));
    };
    let Some(digest) = client.tag_digest(&name, &tag).await else {
        return failed(format!(
            "the registry {} did not serve {tagged} (not found, unauthorized or unreachable)",
            name.registry
        ));
    };
    let check = client.check(&name, &digest).await;
    let pullable = check.verdict == super::Verdict::Pullable;
    BaseDigest {
        index: check.media_type.as_deref().is_some_and(is_index_type),
        error: (!pullable).then(|| format!("{}: {}", check.verdict, check.detail)),
        digest: Some(digest),
        pullable,
    }
}
