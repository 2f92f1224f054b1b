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
        platforms_from: String::new(),
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

/// The platform list: the engine's own first, then what its BuildKit workers list (amd64 hosts also list
/// 386; foreign architectures appear once QEMU binfmt is on).
pub fn merge_platforms(native: &str, workers: &[String]) -> Vec<String> {
    let mut out = vec![native.to_string()];
    for p in workers {
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// Why a `--platform` value (one platform or a list) cannot build on a builder that lists `platforms`: an
/// operating system none of them has. `windows/amd64` on a Linux engine is accepted, then every shell-form
/// RUN fails late with `exec: "cmd": executable file not found`. None when the list is unknown (empty).
pub fn foreign_os(requested: &str, platforms: &[String], builder: &str) -> Option<String> {
    let oses: Vec<&str> = platforms
        .iter()
        .filter_map(|p| p.split('/').next())
        .filter(|os| !os.is_empty())
        .collect();
    if oses.is_empty() {
        return None;
    }
    let wanted = requested
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .find(|p| !oses.contains(&p.split('/').next().unwrap_or_default()))?;
    let os = wanted.split('/').next().unwrap_or_default();
    let mut have = oses.clone();
    have.dedup();
    Some(format!(
        "{builder} builds {} images only (its platforms: {}), so `{wanted}` cannot be built there: a {os} image needs a builder running {os} (e.g. a {os} Docker engine as DOCKER_HOST). Build {} instead, or drop that platform",
        have.join("/"),
        platforms.join(", "),
        platforms
            .first()
            .map(String::as_str)
            .unwrap_or("linux/amd64"),
    ))
}

/// What the fallback says when ListWorkers did not answer.
pub fn binfmt_fallback(local: bool, why: &str) -> String {
    if local {
        format!("binfmt_misc of this machine (fallback: {why})")
    } else {
        format!(
            "the engine's own platform only (fallback: {why}; binfmt_misc is read only for an engine on this machine)"
        )
    }
}

/// ListWorkers answers (or why there was none), per endpoint, for a minute: capabilities are asked several
/// times per build, and over ssh each /grpc connection is a new ssh session; an engine that did not answer
/// is not waited for again.
type WorkersByEndpoint =
    std::collections::HashMap<String, (std::time::Instant, Result<Vec<String>, String>)>;
static WORKERS: std::sync::Mutex<Option<WorkersByEndpoint>> = std::sync::Mutex::new(None);
const WORKERS_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// Under the selection's own limit for the whole capabilities question, so a slow `/grpc` costs only the
/// platform list (binfmt fallback), not every capability of the engine.
const WORKERS_TIMEOUT: std::time::Duration =
    crate::builder::select::PROBE_TIMEOUT.saturating_sub(std::time::Duration::from_secs(1));

impl BollardEngine {
    pub async fn docker_capabilities(&self) -> Result<Capabilities, DockerError> {
        // The probe also recognises Podman by its libpod headers.
        let probe = self.probe().await?;
        let components = if probe.podman {
            vec!["Podman Engine".to_string()]
        } else {
            Vec::new()
        };
        let mut caps = from_version(&components, &probe.api_version, &probe.os, &probe.arch);
        if !caps.platforms.is_empty() {
            let endpoint = super::DockerPort::endpoint(self);
            let local = crate::engine::platforms::is_local_endpoint(&endpoint);
            // The platforms BuildKit itself reports (what the builds can target), else QEMU's binfmt
            // handlers (the platforms a local engine can run beyond its own).
            let override_dir = std::env::var_os(crate::engine::platforms::BINFMT_DIR_ENV)
                .filter(|d| !d.is_empty());
            let workers = if let Some(dir) = override_dir.filter(|_| local) {
                // binfmt_misc named explicitly (mounted elsewhere, or a test simulating a host without
                // QEMU): that is what the user asked to be read.
                Err(format!(
                    "{} names binfmt_misc at {}",
                    crate::engine::platforms::BINFMT_DIR_ENV,
                    std::path::Path::new(&dir).display()
                ))
            } else if caps.buildkit {
                self.buildkit_platforms().await.map_err(|e| {
                    format!("BuildKit's ListWorkers over the engine's /grpc did not answer: {e}")
                })
            } else {
                Err("the engine builds without BuildKit".to_string())
            };
            match workers {
                Ok(list) => {
                    caps.platforms = merge_platforms(&probe.native_platform(), &list);
                    caps.platforms_from = "BuildKit ListWorkers (the engine's /grpc)".into();
                }
                Err(why) => {
                    caps.platforms = self.platforms_of(&probe);
                    caps.platforms_from = binfmt_fallback(local, &why);
                }
            }
        }
        Ok(caps)
    }

    /// ListWorkers through the engine's `/grpc`, cached per endpoint for a minute.
    async fn buildkit_platforms(&self) -> Result<Vec<String>, String> {
        let endpoint = super::DockerPort::endpoint(self);
        if let Ok(cache) = WORKERS.lock()
            && let Some((at, known)) = cache.as_ref().and_then(|c| c.get(&endpoint))
            && at.elapsed() < WORKERS_TTL
        {
            return known.clone();
        }
        let target = self
            .grpc_target()
            .ok_or_else(|| "the endpoint could not be resolved".to_string())?;
        let ask = async {
            let channel = target.channel().await?;
            crate::buildkit::list_workers(channel).await
        };
        let answer = match tokio::time::timeout(WORKERS_TIMEOUT, ask).await {
            Err(_) => Err(format!("no answer within {} s", WORKERS_TIMEOUT.as_secs())),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(w)) if w.platforms.is_empty() => Err("ListWorkers listed no platform".into()),
            Ok(Ok(w)) => Ok(w.platforms),
        };
        if let Ok(mut cache) = WORKERS.lock() {
            cache
                .get_or_insert_with(Default::default)
                .insert(endpoint, (std::time::Instant::now(), answer.clone()));
        }
        answer
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
    fn the_native_platform_leads_and_the_fallback_says_why() {
        let workers = vec![
            "linux/386".to_string(),
            "linux/amd64".to_string(),
            "linux/arm64".to_string(),
        ];
        assert_eq!(
            merge_platforms("linux/amd64", &workers),
            ["linux/amd64", "linux/386", "linux/arm64"]
        );
        let local = binfmt_fallback(true, "ListWorkers did not answer: 404 on POST /grpc");
        assert!(
            local.contains("binfmt_misc of this machine") && local.contains("404"),
            "{local}"
        );
        let remote = binfmt_fallback(false, "timeout");
        assert!(
            remote.contains("own platform only") && remote.contains("timeout"),
            "{remote}"
        );
    }

    #[test]
    fn a_platform_of_another_os_is_refused_naming_what_the_builder_builds() {
        let engine = vec!["linux/amd64".to_string(), "linux/386".to_string()];
        let m = foreign_os(
            "windows/amd64",
            &engine,
            "the engine at unix:///var/run/docker.sock",
        )
        .expect("refused");
        assert!(m.contains("builds linux images only"), "{m}");
        assert!(
            m.contains("`windows/amd64`") && m.contains("linux/amd64, linux/386"),
            "{m}"
        );
        let m = foreign_os("linux/amd64, windows/arm64", &engine, "x").expect("one of a list");
        assert!(m.contains("`windows/arm64`"), "{m}");
        // The same OS is for the architecture checks (QEMU), not this one; an unknown list says nothing.
        assert_eq!(foreign_os("linux/arm64,linux/s390x", &engine, "x"), None);
        assert_eq!(foreign_os("windows/amd64", &[], "x"), None);
        assert_eq!(foreign_os("", &engine, "x"), None);
    }

    #[test]
    fn an_old_api_has_no_buildkit_and_unknown_platform_is_empty() {
        let c = from_version(&[], "1.38", "", "");
        assert!(!c.buildkit);
        assert!(c.platforms.is_empty());
    }
}
