//! An image index over per-platform manifests. An engine that builds one platform at a time pushes each as
//! `repo:tag-<arch>`; dockui then PUTs an index (OCI image index, or a Docker manifest list when every child is
//! a Docker manifest) that references each manifest by digest, under the tag itself. A client pulling
//! `repo:tag` or `repo@<index digest>` gets its own platform's image: the index digest is the one to pin.

use super::client::{RegistryClient, Verdict, sha256_digest};
use super::reference::ImageName;
use crate::engine::platforms::Platform;
use serde::Serialize;
use std::fmt::Write;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

pub const PIN_NOTE: &str = "Pin the index digest (repo@<index digest>): every client pulls its own platform \
     from it. A platform's own manifest digest pins that platform only.";

/// One platform's manifest as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    pub platform: Platform,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    platform: &'a Platform,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexBody<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: Vec<Descriptor<'a>>,
}

/// The index document and its media type. A Docker manifest list when every child is a Docker manifest
/// (what `docker manifest` and older registries expect), else an OCI image index.
pub fn index_body(children: &[Child]) -> (String, Vec<u8>) {
    let media_type = if children.iter().all(|c| c.media_type == DOCKER_MANIFEST) {
        DOCKER_LIST
    } else {
        OCI_INDEX
    };
    let body = IndexBody {
        schema_version: 2,
        media_type,
        manifests: children
            .iter()
            .map(|c| Descriptor {
                media_type: &c.media_type,
                digest: &c.digest,
                size: c.size,
                platform: &c.platform,
            })
            .collect(),
    };
    let bytes = serde_json::to_vec_pretty(&body).expect("an index serialises");
    (media_type.to_string(), bytes)
}

/// One platform of a multi-platform push, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformPush {
    /// `linux/arm64`
    pub platform: String,
    /// The local image pushed for it (`repo:tag-arm64`).
    pub image: String,
    /// The tag it was pushed under (`tag-arm64`).
    pub tag: String,
    /// Its manifest digest (what the index references).
    pub digest: Option<String>,
    pub media_type: String,
    /// Pullable by that digest, checked on its own right after its push.
    pub verdict: Option<Verdict>,
    pub what_to_do: String,
}

/// The index dockui put over the platforms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexReport {
    pub media_type: String,
    /// The index's digest: the one to pin.
    pub digest: Option<String>,
    /// `repo@<index digest>`
    pub reference: Option<String>,
    /// Tags the index was put under.
    pub tags: Vec<String>,
    pub platforms: Vec<PlatformPush>,
    pub pin: String,
}

impl IndexReport {
    pub fn new(platforms: Vec<PlatformPush>) -> IndexReport {
        IndexReport {
            media_type: String::new(),
            digest: None,
            reference: None,
            tags: Vec::new(),
            platforms,
            pin: PIN_NOTE.to_string(),
        }
    }
}

/// What the index references for the manifest `digest` of `name`: its media type and size, read back from
/// the registry (the exact bytes the registry serves, so the size matches). The image's config must say it is
/// `platform`: an index entry for linux/arm64 over an amd64 image would install and then fail with `exec
/// format error` on every arm64 host.
pub async fn describe(
    client: &RegistryClient,
    name: &ImageName,
    digest: &str,
    platform: &Platform,
) -> Result<(String, u64), String> {
    let (body, media_type) = client.get_manifest(name, digest).await?;
    let media_type = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
        return Err(format!(
            "{}@{digest} is a {media_type:?}, not a single-platform image manifest: an index can only list those",
            name.familiar_repository()
        ));
    }
    let served = sha256_digest(&body);
    if served != digest {
        return Err(format!(
            "the registry served {served} when asked for {}@{digest}",
            name.familiar_repository()
        ));
    }
    let config = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|m| m["config"]["digest"].as_str().map(str::to_string))
        .ok_or_else(|| {
            format!(
                "{}@{digest} names no image config",
                name.familiar_repository()
            )
        })?;
    let config = client.get_blob(name, &config, MAX_CONFIG_BYTES).await?;
    if let Some(got) = config_platform(&config)
        && !crate::engine::platforms::same_platform(&got, platform)
    {
        return Err(format!(
            "{}@{digest} is a {got} image, not {platform} (its config says so): the builder made the wrong \
             image for {platform}; build it again without the layer cache (`dockui build --no-cache --platform ...`)",
            name.familiar_repository()
        ));
    }
    Ok((media_type, body.len() as u64))
}

/// An image config is a few KB; more is not one.
const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// The platform an image config says it is for (`os`, `architecture`, `variant`); None when it names none.
fn config_platform(config: &[u8]) -> Option<Platform> {
    let v: serde_json::Value = serde_json::from_slice(config).ok()?;
    let os = v["os"].as_str().filter(|s| !s.is_empty())?;
    let arch = v["architecture"].as_str().filter(|s| !s.is_empty())?;
    let text = match v["variant"].as_str().filter(|s| !s.is_empty()) {
        Some(var) => format!("{os}/{arch}/{var}"),
        None => format!("{os}/{arch}"),
    };
    Platform::parse(&text).ok()
}

/// PUT the index over `children` under every tag in `tags`; its digest (the same for every tag).
pub async fn put_index(
    client: &RegistryClient,
    name: &ImageName,
    tags: &[String],
    children: &[Child],
) -> Result<(String, String), String> {
    let (media_type, body) = index_body(children);
    let ours = sha256_digest(&body);
    for tag in tags {
        let digest = client
            .put_manifest(name, tag, &media_type, body.clone())
            .await?;
        if digest != ours {
            return Err(format!(
                "the registry stored the index for {}:{tag} as {digest}, but its bytes hash to {ours}",
                name.familiar_repository()
            ));
        }
    }
    Ok((media_type, ours))
}

/// The index block of the human push report.
pub fn render_human(index: &IndexReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "image index ({}): {}",
        if index.media_type == DOCKER_LIST {
            "Docker manifest list"
        } else {
            "OCI image index"
        },
        index.digest.as_deref().unwrap_or("(not pushed)")
    );
    for p in &index.platforms {
        let _ = writeln!(
            out,
            "  {:<14} {} <- {} [{}]",
            p.platform,
            p.digest.as_deref().unwrap_or("(no digest)"),
            p.image,
            p.verdict.map(Verdict::label).unwrap_or("not checked")
        );
    }
    let _ = writeln!(out, "{}", index.pin);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child(p: &str, media_type: &str, d: char) -> Child {
        Child {
            platform: Platform::parse(p).unwrap(),
            digest: format!("sha256:{}", d.to_string().repeat(64)),
            media_type: media_type.into(),
            size: 428,
        }
    }

    #[test]
    fn docker_children_make_a_manifest_list_and_oci_ones_an_oci_index() {
        let (mt, body) = index_body(&[
            child("linux/amd64", DOCKER_MANIFEST, 'a'),
            child("linux/arm/v7", DOCKER_MANIFEST, 'b'),
        ]);
        assert_eq!(mt, DOCKER_LIST);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], DOCKER_LIST);
        assert_eq!(v["manifests"][0]["platform"]["architecture"], "amd64");
        assert_eq!(v["manifests"][0]["platform"]["os"], "linux");
        assert!(v["manifests"][0]["platform"].get("variant").is_none());
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v7");
        assert_eq!(v["manifests"][1]["size"], 428);
        assert_eq!(v["manifests"][1]["mediaType"], DOCKER_MANIFEST);

        let (mt, body) = index_body(&[
            child("linux/amd64", OCI_MANIFEST, 'a'),
            child("linux/arm64", DOCKER_MANIFEST, 'b'),
        ]);
        assert_eq!(mt, OCI_INDEX);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["mediaType"], OCI_INDEX);
        // Each child keeps its own media type.
        assert_eq!(v["manifests"][0]["mediaType"], OCI_MANIFEST);
        assert_eq!(v["manifests"][1]["mediaType"], DOCKER_MANIFEST);
    }

    #[test]
    fn an_image_config_says_its_platform_and_a_missing_variant_matches() {
        use crate::engine::platforms::same_platform;
        let arm64 = Platform::parse("linux/arm64").unwrap();
        let got = config_platform(br#"{"os":"linux","architecture":"amd64","rootfs":{}}"#).unwrap();
        assert!(!same_platform(&got, &arm64), "fires: amd64 for arm64");
        let got =
            config_platform(br#"{"os":"linux","architecture":"arm64","variant":"v8"}"#).unwrap();
        assert!(same_platform(&got, &arm64), "must not: arm64/v8 is arm64");
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        let bare = config_platform(br#"{"os":"linux","architecture":"arm"}"#).unwrap();
        assert!(
            same_platform(&bare, &v7),
            "must not: a config without a variant"
        );
        let v6 = config_platform(br#"{"os":"linux","architecture":"arm","variant":"v6"}"#).unwrap();
        assert!(!same_platform(&v6, &v7), "fires: another variant");
        assert_eq!(config_platform(b"{}"), None);
        assert_eq!(config_platform(b"not json"), None);
    }

    #[test]
    fn the_human_block_says_which_digest_to_pin() {
        let mut r = IndexReport::new(vec![PlatformPush {
            platform: "linux/arm64".into(),
            image: "app:v1-arm64".into(),
            tag: "v1-arm64".into(),
            digest: Some("sha256:bb".into()),
            media_type: DOCKER_MANIFEST.into(),
            verdict: Some(Verdict::Pullable),
            what_to_do: String::new(),
        }]);
        r.digest = Some("sha256:ii".into());
        r.media_type = OCI_INDEX.into();
        let text = render_human(&r);
        assert!(text.contains("OCI image index): sha256:ii"), "{text}");
        assert!(text.contains("linux/arm64"), "{text}");
        assert!(text.contains("Pin the index digest"), "{text}");
    }
}
