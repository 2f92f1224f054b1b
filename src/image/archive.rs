//! Walk an image archive (`docker save` / `podman save`) once, as a stream: small JSON documents are kept,
//! every layer is scanned as it passes (its file list only), and the layout is resolved at the end, because
//! Docker writes `manifest.json` after the layers.
//!
//! Layouts: Docker's (`manifest.json` + `<id>/layer.tar` + `<config>.json`, layers deduplicated by symlink),
//! Podman's docker-archive (`manifest.json` + `<digest>.tar`), and OCI (`index.json` + `blobs/sha256/<hex>`,
//! written by Podman's oci-archive and Docker 25+, which also adds a `manifest.json`). OCI layers may be
//! gzip-compressed.

use super::layers::{LayerEntry, normalize, scan_layer};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;

/// JSON documents larger than this are not manifests or configs.
const MAX_JSON: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `manifest.json` with layer paths (Docker, Podman docker-archive).
    DockerArchive,
    /// `index.json` + `blobs/` (OCI image layout).
    Oci,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read the image archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("not an image archive: {0}")]
    Layout(String),
}

/// What one pass over the archive leaves behind.
#[derive(Debug, Default)]
struct Walk {
    json: HashMap<String, Vec<u8>>,
    layers: HashMap<String, Result<Vec<LayerEntry>, String>>,
    /// Symlinks and hard links between entries (Docker links identical layers).
    links: HashMap<String, String>,
}

/// The image found in an archive: its config and its filesystem layers, bottom first.
#[derive(Debug)]
pub struct Resolved {
    pub layout: Layout,
    pub config: ImageConfig,
    /// Config digest (`sha256:...`) when the layout names it.
    pub config_digest: Option<String>,
    pub repo_tags: Vec<String>,
    pub layers: Vec<ResolvedLayer>,
}

#[derive(Debug)]
pub struct ResolvedLayer {
    /// The entry in the archive (`<id>/layer.tar`, `blobs/sha256/<hex>`).
    pub key: String,
    pub entries: Vec<LayerEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default)]
    pub created: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HistoryEntry {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize, Clone)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<OciPlatform>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

#[derive(Deserialize, Clone)]
struct OciPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

/// Walk `reader` (the whole archive) and resolve the image in it.
pub fn read_archive<R: Read>(reader: R) -> Result<Resolved, ArchiveError> {
    let walk = walk(reader)?;
    resolve(walk)
}

fn walk<R: Read>(reader: R) -> Result<Walk, ArchiveError> {
    let mut archive = tar::Archive::new(reader);
    let mut walk = Walk::default();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = normalize(&entry.path()?.to_string_lossy());
        let t = entry.header().entry_type();
        if t.is_symlink() || t.is_hard_link() {
            if let Some(target) = entry.link_name()? {
                let target = target.to_string_lossy().to_string();
                let resolved = if t.is_symlink() {
                    join_relative(&name, &target)
                } else {
                    normalize(&target)
                };
                walk.links.insert(name, resolved);
            }
            continue;
        }
        if !t.is_file() {
            continue;
        }
        let size = entry.header().size()?;
        let mut head = Vec::with_capacity(512);
        (&mut entry).take(512).read_to_end(&mut head)?;
        let first = head.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if matches!(first, Some(b'{') | Some(b'[')) && size <= MAX_JSON {
            let mut all = head;
            entry.read_to_end(&mut all)?;
            walk.json.insert(name, all);
            continue;
        }
        let body = std::io::Cursor::new(head.clone()).chain(&mut entry);
        let scanned = if head.starts_with(&[0x1f, 0x8b]) {
            scan_layer(flate2::read::GzDecoder::new(body)).map_err(|e| e.to_string())
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Err("zstd-compressed layer: not supported; save the image uncompressed (docker save / podman save without --compress)".to_string())
        } else if looks_like_tar(&head) {
            scan_layer(body).map_err(|e| e.to_string())
        } else {
            continue;
        };
        walk.layers.insert(name, scanned);
    }
    Ok(walk)
}

/// A tar header (ustar magic), or the end-of-archive zero block of an empty layer.
fn looks_like_tar(head: &[u8]) -> bool {
    (head.len() >= 262 && &head[257..262] == b"ustar")
        || (head.len() == 512 && head.iter().all(|b| *b == 0))
}

/// `abc/layer.tar` -> `../def/layer.tar` = `def/layer.tar`
fn join_relative(from: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for p in target.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn blob_key(digest: &str) -> String {
    let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("blobs/{algo}/{hex}")
}

fn resolve(mut walk: Walk) -> Result<Resolved, ArchiveError> {
    let follow = |walk: &Walk, key: &str| -> String {
        let mut k = normalize(key);
        for _ in 0..8 {
            match walk.links.get(&k) {
                Some(t) => k = t.clone(),
                None => break,
            }
        }
        k
    };
    let parse_err = |what: &str, e: serde_json::Error| {
        ArchiveError::Layout(format!("{what} is not valid: {e}"))
    };
    let (layout, config_key, repo_tags, layer_keys) =
        if let Some(bytes) = walk.json.get("manifest.json") {
            let entries: Vec<DockerManifestEntry> =
                serde_json::from_slice(bytes).map_err(|e| parse_err("manifest.json", e))?;
            let first = entries
                .into_iter()
                .next()
                .ok_or_else(|| ArchiveError::Layout("manifest.json lists no image".into()))?;
            (
                Layout::DockerArchive,
                first.config,
                first.repo_tags.unwrap_or_default(),
                first.layers,
            )
        } else if let Some(bytes) = walk.json.get("index.json") {
            let index: OciIndex =
                serde_json::from_slice(bytes).map_err(|e| parse_err("index.json", e))?;
            let manifest = oci_image_manifest(&walk, index, 0)?;
            let tags = manifest.1;
            let m = manifest.0;
            (
                Layout::Oci,
                blob_key(&m.config.digest),
                tags,
                m.layers.iter().map(|l| blob_key(&l.digest)).collect(),
            )
        } else {
            return Err(ArchiveError::Layout(
                "neither manifest.json (Docker archive) nor index.json (OCI layout) found".into(),
            ));
        };
    let config_key = follow(&walk, &config_key);
    let config_bytes = walk
        .json
        .get(&config_key)
        .ok_or_else(|| ArchiveError::Layout(format!("the image config {config_key} is missing")))?;
    let config: ImageConfig =
        serde_json::from_slice(config_bytes).map_err(|e| parse_err(&config_key, e))?;
    let config_digest = config_key
        .strip_prefix("blobs/sha256/")
        .or_else(|| config_key.strip_suffix(".json"))
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| format!("sha256:{h}"));
    let mut layers = Vec::with_capacity(layer_keys.len());
    for key in layer_keys {
        let real = follow(&walk, &key);
        // Identical layers share one entry: clone the list for the second use, move it for the last.
        let uses = walk.layers.contains_key(&real);
        let entries = if uses {
            walk.layers.get(&real).cloned().expect("checked")
        } else {
            Err(format!("layer {key} is not in the archive"))
        };
        let entries = entries.map_err(|e| ArchiveError::Layout(format!("layer {key}: {e}")))?;
        layers.push(ResolvedLayer { key, entries });
    }
    walk.layers.clear();
    Ok(Resolved {
        layout,
        config,
        config_digest,
        repo_tags,
        layers,
    })
}

/// The image manifest an OCI index points at (following nested indexes, preferring linux/amd64 when there are
/// several platforms), with the tags from `org.opencontainers.image.ref.name` / `io.containerd.image.name`.
fn oci_image_manifest(
    walk: &Walk,
    index: OciIndex,
    depth: u32,
) -> Result<(OciManifest, Vec<String>), ArchiveError> {
    if depth > 4 {
        return Err(ArchiveError::Layout("OCI indexes nest too deep".into()));
    }
    let mut candidates = index.manifests;
    candidates.retain(|d| {
        d.platform
            .as_ref()
            .is_none_or(|p| p.os != "unknown" && p.architecture != "unknown")
    });
    candidates.sort_by_key(|d| {
        !d.platform
            .as_ref()
            .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
    });
    let d = candidates
        .into_iter()
        .next()
        .ok_or_else(|| ArchiveError::Layout("index.json lists no manifest".into()))?;
    let key = blob_key(&d.digest);
    let bytes = walk
        .json
        .get(&key)
        .ok_or_else(|| ArchiveError::Layout(format!("manifest {key} is missing")))?;
    let tags: Vec<String> = d
        .annotations
        .as_ref()
        .map(|a| {
            [
                "io.containerd.image.name",
                "org.opencontainers.image.ref.name",
            ]
            .iter()
            .filter_map(|k| a.get(*k).cloned())
            .take(1)
            .collect()
        })
        .unwrap_or_default();
    if crate::registry::client::is_index_type(&d.media_type)
        || serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .is_some_and(|v| v.get("manifests").is_some())
    {
        let nested: OciIndex = serde_json::from_slice(bytes)
            .map_err(|e| ArchiveError::Layout(format!("{key} is not valid: {e}")))?;
        let (m, inner) = oci_image_manifest(walk, nested, depth + 1)?;
        return Ok((m, if tags.is_empty() { inner } else { tags }));
    }
    let m: OciManifest = serde_json::from_slice(bytes)
        .map_err(|e| ArchiveError::Layout(format!("{key} is not valid: {e}")))?;
    Ok((m, tags))
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_resolve_against_the_entry_dir() {
        assert_eq!(
            join_relative("abc/layer.tar", "../def/layer.tar"),
            "def/layer.tar"
        );
        assert_eq!(join_relative("x", "/y/z"), "y/z");
    }

    #[test]
    fn an_archive_without_manifest_or_index_is_named_as_such() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_cksum();
        b.append_data(&mut h, "VERSION", &b"1.0"[..]).unwrap();
        let bytes = b.into_inner().unwrap();
        let err = read_archive(&bytes[..]).unwrap_err().to_string();
        assert!(err.contains("neither manifest.json"), "{err}");
    }
}
