//! What the registry says about the Dockerfile's base images, as plain values: the CLI looks the digests up
//! (only when the user asks: `check --resolve-digests`, `fix --pin-bases`) and passes them in, so the analyzer
//! stays pure. `AnalyzeOptions::base_digests = None` turns the pin rules (DU140, DU141) off.

use super::dockerfile::Dockerfile;
use super::dockerfile::model::Model;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaseDigests {
    /// Keyed by the base reference without its digest, as the FROM line expands: `registry/repo:tag`.
    pub images: BTreeMap<String, BaseDigest>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BaseDigest {
    /// The digest the registry serves for the tag now (an index digest for a multi-platform image).
    pub digest: Option<String>,
    /// `image:tag@digest` was checked pullable.
    pub pullable: bool,
    /// The manifest behind the tag is a multi-platform index.
    pub index: bool,
    /// Why there is no usable digest (registry unreachable, unauthorized, tag not found).
    pub error: Option<String>,
}

/// A FROM reference split for pinning: `name:tag` and the digest already pinned, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseRef {
    /// `name:tag`, the lookup key.
    pub tagged: String,
    pub pinned: Option<String>,
}

/// `img:1@sha256:x` -> (`img:1`, `sha256:x`); None for a reference without a tag (`img`, `img@sha256:x`:
/// nothing to pin or to watch) and for `scratch`.
pub fn split_reference(reference: &str) -> Option<BaseRef> {
    let (name, pinned) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (reference, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    if !last.contains(':') || name == "scratch" || name.is_empty() {
        return None;
    }
    Some(BaseRef {
        tagged: name.to_string(),
        pinned,
    })
}

/// The base references a Dockerfile builds from (expanded with its ARG defaults and `build_args`), without
/// stages built from earlier stages, `scratch`, references that still hold variables, and untagged ones.
pub fn base_references(text: &str, build_args: &BTreeMap<String, String>) -> Vec<BaseRef> {
    let df = Dockerfile::parse(text);
    let model = Model::build_with_args(&df, build_args);
    let mut seen = BTreeSet::new();
    model
        .stages
        .iter()
        .filter(|s| s.parent.is_none() && s.image.unresolved.is_empty())
        .filter_map(|s| split_reference(&s.image.text))
        .filter(|r| seen.insert(r.clone().tagged + r.pinned.as_deref().unwrap_or("")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_tag_and_pin() {
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b:1@sha256:abc"),
            Some(BaseRef {
                tagged: "127.0.0.1:5000/a/b:1".into(),
                pinned: Some("sha256:abc".into())
            })
        );
        assert_eq!(split_reference("127.0.0.1:5000/a/b"), None);
        assert_eq!(split_reference("ubuntu@sha256:abc"), None);
        assert_eq!(split_reference("scratch"), None);
    }

    #[test]
    fn bases_skip_stages_scratch_and_unresolved_args() {
        let df = "ARG BASE=reg.local/py:3.12\nARG OTHER\nFROM ${BASE} AS build\nFROM build AS again\nFROM scratch\nFROM ${OTHER}\nFROM reg.local/rt:1@sha256:00\n";
        let refs = base_references(df, &BTreeMap::new());
        let tagged: Vec<&str> = refs.iter().map(|r| r.tagged.as_str()).collect();
        assert_eq!(tagged, vec!["reg.local/py:3.12", "reg.local/rt:1"]);
        // A build arg changes what is built, so what is pinned.
        let args = BTreeMap::from([("BASE".to_string(), "reg.local/py:3.13".to_string())]);
        assert_eq!(base_references(df, &args)[0].tagged, "reg.local/py:3.13");
    }
}
