//! What a Docker-API engine can build, asked from its `/version`: Docker or Podman, BuildKit or not, its
//! platform. The facts behind the cache lists are in `shared/reference/backends.md`: the engine's embedded
//! BuildKit (20.10) exports only `inline` cache (`registry`, `local`, `gha` give "unknown cache exporter")
//! and imports inline cache through `cachefrom`, which may name a registry image, and a `type=local`
//! directory through the session's content store.

use super::{BackendKind, BollardEngine, CacheType, Capabilities, DockerError};

/// The capabilities of an engine answering `/version` with these facts (pure, so each case is tested).
pub fn from_version(
    components: &[String],
    api_version: &str,
    os: &str,
    arch: &str,
) -> Capabilities {
    let podman = components
        .iter()
        .any(|c| c.to_lowercase().contains("podman"));
    let (major, minor) = api_version.split_once('.').unwrap_or(("0", "0"));
    let api = (
        major.parse::<u32>().unwrap_or(0),
        minor.parse::<u32>().unwrap_or(0),
    );
    // BuildKit through the engine's session needs API 1.39; Podman answers 404 on /grpc and builds with
    // buildah the legacy way whatever the request says.
    let buildkit = !podman && api >= (1, 39);
    let platform = match (os, arch) {
        ("", _) | (_, "") => Vec::new(),
        (os, arch) => vec![format!("{os}/{}", normalize_arch(arch))],
    };
    Capabilities {
        kind: if podman {
            BackendKind::Podman
        } else {
            BackendKind::Docker
        },
        buildkit,
        cache_export: if buildkit {
            vec![CacheType::Inline]
        } else {
            Vec::new()
        },
        // `local` is read through the session's content store (BuildKit over the engine's /grpc).
        cache_import: if buildkit {
            vec![CacheType::Inline, CacheType::Registry, CacheType::Local]
        } else {
            Vec::new()
        },
        platforms: platform,
        multi_platform: false,
        run: true,
        push_in_build: false,
    }
}

/// Go's GOARCH names, as platforms are written (`x86_64` is `amd64`).
fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

impl BollardEngine {
    pub async fn docker_capabilities(&self) -> Result<Capabilities, DockerError> {
        // The probe also recognises Podman by its libpod headers, and sees QEMU's binfmt handlers (the
        // platforms a local engine can build beyond its own).
        let probe = self.probe().await?;
        let components = if probe.podman {
            vec!["Podman Engine".to_string()]
        } else {
            Vec::new()
        };
        let mut caps = from_version(&components, &probe.api_version, &probe.os, &probe.arch);
        if !caps.platforms.is_empty() {
            caps.platforms = self.platforms_of(&probe);
        }
        Ok(caps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_20_10_exports_inline_only_and_runs_containers() {
        let c = from_version(&["Engine".into()], "1.41", "linux", "amd64");
        assert_eq!(c.kind, BackendKind::Docker);
        assert!(c.buildkit && c.run && !c.multi_platform && !c.push_in_build);
        assert_eq!(c.cache_export, vec![CacheType::Inline]);
        assert_eq!(
            c.cache_import,
            vec![CacheType::Inline, CacheType::Registry, CacheType::Local]
        );
        assert_eq!(c.platforms, vec!["linux/amd64".to_string()]);
    }

    #[test]
    fn podman_builds_legacy_without_cache_exporters() {
        let c = from_version(
            &["Podman Engine".into(), "Conmon".into()],
            "1.41",
            "linux",
            "x86_64",
        );
        assert_eq!(c.kind, BackendKind::Podman);
        assert!(!c.buildkit && c.run);
        assert!(c.cache_export.is_empty() && c.cache_import.is_empty());
        assert_eq!(c.platforms, vec!["linux/amd64".to_string()]);
    }

    #[test]
    fn an_old_api_has_no_buildkit_and_unknown_platform_is_empty() {
        let c = from_version(&[], "1.38", "", "");
        assert!(!c.buildkit);
        assert!(c.platforms.is_empty());
    }
}
