//! Multi-platform images on an engine that builds one platform at a time. Docker's `/build` rejects a list of
//! platforms (400) and its embedded BuildKit cannot export several images to its store, so each platform is
//! built on its own as `repo:tag-<arch>` (QEMU binfmt runs the foreign ones), and `push` pushes each and puts
//! an image index over them (`registry::index`). A builder that builds lists natively (a BuildKit daemon,
//! `Capabilities::multi_platform`) gets the list in one build instead.

use super::build::{BuildOutcome, BuildRequest, run_build};
use super::{EngineEvent, history};
use crate::docker::DockerPort;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// Where the kernel lists its binfmt_misc handlers (QEMU registers `qemu-aarch64` etc. there).
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";
/// Read binfmt_misc elsewhere (where it is mounted at another path; tests point it at an empty dir).
pub const BINFMT_DIR_ENV: &str = "DOCKUI_BINFMT_DIR";

/// An engine on this machine (a unix socket), whose binfmt_misc is this machine's.
pub fn is_local_endpoint(endpoint: &str) -> bool {
    endpoint.starts_with("unix://") || endpoint.starts_with('/')
}

pub fn binfmt_dir() -> std::path::PathBuf {
    std::env::var_os(BINFMT_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| BINFMT_DIR.into())
}

/// `linux/arm64`, `linux/arm/v7`: what `--platform` names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`; the architecture may be given as the kernel names it (`x86_64`, `aarch64`).
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let bad = || {
            format!(
                "platform {text:?} is not os/arch[/variant] (e.g. linux/amd64, linux/arm64, linux/arm/v7)"
            )
        };
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(bad()),
        };
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if !ok(os) || !ok(arch) || variant.is_some_and(|v| !ok(v)) {
            return Err(bad());
        }
        let architecture = crate::docker::bollard_engine::go_arch(arch).to_string();
        // arm64's only variant is v8, and the registry index leaves it out as often as not: drop it.
        let variant = variant
            .filter(|v| !(architecture == "arm64" && *v == "v8"))
            .map(str::to_string);
        Ok(Platform {
            os: os.to_string(),
            architecture,
            variant,
        })
    }

    /// The tag suffix of this platform's image: `amd64`, `arm64`, `arm-v7`.
    pub fn suffix(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}-{v}", self.architecture),
            None => self.architecture.clone(),
        }
    }

    /// The automatic platform ARGs BuildKit sets and the legacy builder does not (there, and before FROM,
    /// `ARG TARGETARCH` is empty): passed explicitly so a Dockerfile that uses them builds the same everywhere.
    pub fn target_args(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("TARGETPLATFORM".to_string(), self.to_string()),
            ("TARGETOS".to_string(), self.os.clone()),
            ("TARGETARCH".to_string(), self.architecture.clone()),
            (
                "TARGETVARIANT".to_string(),
                self.variant.clone().unwrap_or_default(),
            ),
        ])
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Linux architectures as Go (and so BuildKit, Docker and registries) name them, and the variants they have.
/// A typo (`linux/amd46`) was accepted: built as is, an image labelled with a platform that does not exist.
const LINUX_ARCHES: &[(&str, &[&str])] = &[
    ("amd64", &["v1", "v2", "v3", "v4"]),
    ("arm64", &["v8", "v9"]),
    ("arm", &["v5", "v6", "v7", "v8"]),
    ("386", &[]),
    ("ppc64le", &[]),
    ("ppc64", &[]),
    ("s390x", &[]),
    ("riscv64", &[]),
    ("loong64", &[]),
    ("mips64le", &[]),
    ("mips64", &[]),
    ("mipsle", &[]),
    ("mips", &[]),
];

/// Edit distance, for "did you mean" on short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A requested Linux platform must name an architecture (and variant) that exists.
fn check_known(p: &Platform, text: &str) -> Result<(), String> {
    if p.os != "linux" {
        return Ok(());
    }
    let Some((_, variants)) = LINUX_ARCHES.iter().find(|(a, _)| *a == p.architecture) else {
        let near = LINUX_ARCHES
            .iter()
            .map(|(a, _)| *a)
            // Two edits (a swapped pair) on longer names, one on short ones (`wasm` is not `arm`).
            .filter(|a| {
                distance(a, &p.architecture) <= if p.architecture.len() >= 5 { 2 } else { 1 }
            })
            .min_by_key(|a| distance(a, &p.architecture));
        let names: Vec<&str> = LINUX_ARCHES.iter().map(|(a, _)| *a).collect();
        return Err(format!(
            "platform {text:?}: `{}` is not a Linux architecture{} (they are: {})",
            p.architecture,
            near.map(|n| format!("; did you mean linux/{n}?"))
                .unwrap_or_default(),
            names.join(", ")
        ));
    };
    if let Some(v) = &p.variant
        && !variants.contains(&v.as_str())
    {
        return Err(format!(
            "platform {text:?}: {} has {}",
            p.architecture,
            if variants.is_empty() {
                "no variants".to_string()
            } else {
                format!("the variants {}", variants.join(", "))
            }
        ));
    }
    Ok(())
}

/// `linux/amd64,linux/arm64` (duplicates dropped, order kept).
pub fn parse_list(text: &str) -> Result<Vec<Platform>, String> {
    let mut out: Vec<Platform> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let p = Platform::parse(part)?;
        check_known(&p, part)?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// The platforms a build asks for: `[build] platforms` (or `--platform a,b`), else `[build] platform` when it
/// holds a list. Fewer than two: an ordinary build.
pub fn requested(build: &crate::config::BuildConfig) -> Result<Vec<Platform>, String> {
    let list = if build.platforms.is_empty() {
        parse_list(&build.platform)
    } else {
        parse_list(&build.platforms.join(","))
    };
    list.map_err(|e| format!("{e}; fix --platform or [build] platforms in .dockui.toml"))
}

/// QEMU's name for an architecture (its binfmt handler is `qemu-<name>`).
pub fn qemu_name(arch: &str) -> &str {
    match arch {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        "386" => "i386",
        "ppc64le" => "ppc64le",
        other => other,
    }
}

fn go_arch_of_qemu(name: &str) -> Option<&'static str> {
    Some(match name {
        "aarch64" => "arm64",
        "x86_64" => "amd64",
        "i386" => "386",
        "arm" => "arm",
        "ppc64le" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "mips64el" => "mips64le",
        _ => return None,
    })
}

/// An enabled handler's file begins with "enabled".
fn handler_enabled(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|t| t.lines().next() == Some("enabled"))
}

/// Platforms QEMU can run here: one per enabled `qemu-*` binfmt handler in `dir`.
pub fn binfmt_platforms(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let arch = go_arch_of_qemu(name.strip_prefix("qemu-")?)?;
            handler_enabled(&e.path()).then(|| format!("linux/{arch}"))
        })
        .collect();
    out.sort();
    out
}

/// Why `platform` cannot be built on an engine of architecture `native` on this machine, with the steps
/// that fix it; None when it can (same architecture, or QEMU's binfmt handler is registered and enabled).
pub fn emulation_missing(platform: &Platform, native: &str, binfmt_dir: &Path) -> Option<String> {
    let native = crate::docker::bollard_engine::go_arch(native);
    if platform.architecture == native {
        return None;
    }
    let qemu = qemu_name(&platform.architecture);
    let handler = binfmt_dir.join(format!("qemu-{qemu}"));
    if handler_enabled(&handler) {
        return None;
    }
    let state = if handler.exists() {
        "is disabled"
    } else {
        "is missing"
    };
    Some(format!(
        "building {platform} on this {native} engine needs QEMU user emulation registered with binfmt_misc, \
         and {} {state}. On the engine's host (Debian/Ubuntu): `sudo apt-get install qemu-user-static \
         binfmt-support`; if {} is empty, `sudo mount -t binfmt_misc binfmt_misc {}`; then `sudo update-binfmts \
         --enable qemu-{qemu}` and build again (binfmt is kernel-wide: containers and the engine see it at once)",
        handler.display(),
        binfmt_dir.display(),
        binfmt_dir.display(),
    ))
}

/// One platform of a multi-platform build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformBuild {
    /// `linux/arm64`
    pub platform: String,
    /// The local image of this platform: `repo:tag-arm64`.
    pub image: String,
    pub image_id: Option<String>,
    pub success: bool,
    /// This platform's own build (attempt logs) in the history.
    pub build_id: String,
    pub build_time_s: f64,
    pub error: Option<String>,
    /// This platform's smoke tests (the top-level `smoke` is the engine's own platform's).
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    pub smoke: Vec<crate::engine::smoke::SmokeResult>,
}

/// Why the one platform a build asks for (`spec.platform`, no list) cannot be built on this machine's engine:
/// another architecture without QEMU's binfmt handler. None when it can, when no platform or several are asked
/// (`run_multi` checks those), when the engine lists the platform, or when the engine is not on this machine
/// (its binfmt is not ours to read).
pub fn single_platform_missing(
    platform: &str,
    caps: &crate::builder::Capabilities,
    endpoint: &str,
) -> Option<String> {
    let text = platform.trim();
    if text.is_empty() || text.contains(',') || !is_local_endpoint(endpoint) {
        return None;
    }
    let p = Platform::parse(text).ok()?;
    if caps.platforms.iter().any(|q| q == &p.to_string()) {
        return None;
    }
    emulation_missing(&p, &native_arch(Some(caps)), &binfmt_dir())
}

/// The builder's own architecture: the first platform it lists, else this machine's.
fn native_arch(caps: Option<&crate::builder::Capabilities>) -> String {
    caps.and_then(|c| c.platforms.first())
        .and_then(|p| Platform::parse(p).ok())
        .map(|p| p.architecture)
        .unwrap_or_else(|| {
            crate::docker::bollard_engine::go_arch(std::env::consts::ARCH).to_string()
        })
}

/// `repo:tag` -> (`repo`, `tag`); a reference without a tag gets `latest`.
fn split_tag(reference: &str) -> (String, String) {
    match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((r, t)) => (r.to_string(), t.to_string()),
        None => (reference.to_string(), "latest".to_string()),
    }
}

/// `repo:tag` of one platform's image.
pub fn platform_image(reference: &str, platform: &Platform) -> String {
    let (repo, tag) = split_tag(reference);
    format!("{repo}:{tag}-{}", platform.suffix())
}

/// Build every platform in `platforms` (two or more) and fold the results into one outcome: the main tag
/// goes to the engine's own platform (so `docker run repo:tag` works here), each platform keeps its
/// `repo:tag-<arch>`, and `outcome.platforms` lists them for the JSON, the history and `push`.
pub async fn run_multi(
    docker: &dyn DockerPort,
    req: BuildRequest,
    platforms: &[crate::engine::platforms::Platform],
    events: &UnboundedSender<EngineEvent>,
    cancel: CancellationToken,
) -> BuildOutcome {
    let caps = tokio::select! {
        c = docker.capabilities() => c.ok(),
        // run_build below sees the cancel too and records the build as cancelled.
        _ = cancel.cancelled() => None,
    };
    let list = platforms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if caps.as_ref().is_some_and(|c| c.multi_platform) {
        // The builder takes the list itself (a BuildKit daemon): one build, one index.
        let mut req = req;
        req.spec.platform = list;
        return run_build(docker, req, events, cancel).await;
    }
    let native = native_arch(caps.as_ref());
    let log = |line: String| {
        let _ = events.send(EngineEvent::BuildLog(vec![line]));
    };
    let mut outcome = BuildOutcome {
        image: req.spec.tag.clone(),
        tags: vec![split_tag(&req.spec.tag).1],
        references: std::iter::once(req.spec.tag.clone())
            .chain(req.spec.extra_tags.iter().cloned())
            .collect(),
        ..BuildOutcome::default()
    };
    // Foreign architectures need QEMU: on an engine of this machine, check before building anything.
    let endpoint = docker.endpoint();
    let local = is_local_endpoint(&endpoint);
    for p in platforms {
        // Another OS (windows/amd64 on a Linux engine) would fail at its first RUN, after the others built.
        if let Some(why) = caps.as_ref().and_then(|c| {
            crate::docker::capabilities::foreign_os(
                &p.to_string(),
                &c.platforms,
                &format!("the builder at {endpoint}"),
            )
        }) {
            log(format!("ERROR: {why}"));
            outcome.error = Some(why);
            outcome.engine_unreachable = true;
            return finish(&req, outcome);
        }
        let known = caps
            .as_ref()
            .is_some_and(|c| c.platforms.iter().any(|q| q == &p.to_string()));
        if local
            && !known
            && let Some(why) = emulation_missing(p, &native, &binfmt_dir())
        {
            log(format!("ERROR: {why}"));
            outcome.error = Some(why);
            // A set-up problem, not the Dockerfile's: headless exits 2 like for an unreachable engine.
            outcome.engine_unreachable = true;
            return finish(&req, outcome);
        }
        if !local && !known {
            log(format!(
                "dockui: note: the engine at {endpoint} does not list {p} among its platforms; if the build fails \
                 with `exec format error`, its host needs QEMU binfmt for {p}"
            ));
        }
    }
    // The engine's own platform first: its image also gets the main tag(s).
    let mut order: Vec<&Platform> = platforms.iter().collect();
    order.sort_by_key(|p| p.architecture != native);
    let started = std::time::Instant::now();
    for (i, p) in order.iter().enumerate() {
        let mut sub = req.clone();
        sub.spec.platform = p.to_string();
        sub.spec.tag = platform_image(&req.spec.tag, p);
        sub.platform_of = Some(p.to_string());
        sub.spec.extra_tags = if i == 0 && p.architecture == native {
            std::iter::once(req.spec.tag.clone())
                .chain(req.spec.extra_tags.iter().cloned())
                .collect()
        } else {
            Vec::new()
        };
        for (k, v) in p.target_args() {
            sub.spec.args.entry(k).or_insert(v);
        }
        log(format!(
            "dockui: platform {p} ({}/{}): building {}",
            i + 1,
            order.len(),
            sub.spec.tag
        ));
        let no_cache = sub.spec.no_cache;
        let mut o = run_build(docker, sub.clone(), events, cancel.clone()).await;
        // A builder can hand back another platform's image: buildah (Podman 4) takes the layers it just made
        // for the first platform from its cache for the next, so `repo:tag-arm64` is an amd64 image. Check
        // what was built; once without the cache, then refuse.
        let mut wrong = built_for_other(docker, &o, p).await;
        if let Some(got) = wrong.as_ref().filter(|_| !no_cache) {
            log(format!(
                "dockui: {} is a {got} image, not {p}: the builder reused the cached layers of another platform; \
                 building {p} again without the layer cache",
                sub.spec.tag
            ));
            let mut again = sub;
            again.spec.no_cache = true;
            o = run_build(docker, again, events, cancel.clone()).await;
            wrong = built_for_other(docker, &o, p).await;
        }
        if let Some(got) = wrong {
            let why = format!(
                "the builder made a {got} image for {p} ({}); it cannot be pushed as {p}",
                o.image
            );
            log(format!("ERROR: {why}"));
            o.success = false;
            o.error = Some(why);
        }
        outcome.platforms.push(PlatformBuild {
            platform: p.to_string(),
            image: o.image.clone(),
            image_id: o.image_id.clone(),
            success: o.success,
            build_id: o.build_id.clone(),
            build_time_s: o.build_time_s,
            error: o.error.clone(),
            smoke: o.smoke.clone(),
        });
        if i == 0 {
            outcome.image_id = o.image_id.clone();
            outcome.smoke = o.smoke.clone();
        }
        outcome.attempts.extend(o.attempts.iter().cloned());
        outcome
            .fixes_applied
            .extend(o.fixes_applied.iter().cloned());
        outcome.log_path = o.log_path.clone();
        outcome.standin |= o.standin;
        outcome.backend = outcome.backend.or(o.backend);
        if !o.success {
            outcome.cancelled = o.cancelled;
            outcome.engine_unreachable = o.engine_unreachable;
            outcome.error = Some(format!(
                "{p}: {}",
                o.error.as_deref().unwrap_or("the build failed")
            ));
            break;
        }
    }
    outcome.success =
        outcome.platforms.len() == platforms.len() && outcome.platforms.iter().all(|p| p.success);
    if outcome.success && order.first().is_none_or(|p| p.architecture != native) {
        // No image of the engine's own platform: the main tag names none locally; push uses the platforms.
        outcome.image_id = None;
    }
    outcome.build_time_s = started.elapsed().as_secs_f64();
    finish(&req, outcome)
}

/// The platform `o`'s image was really built for, when it is not `want` (None when it is, when the build
/// failed, or when the builder does not say).
async fn built_for_other(
    docker: &dyn DockerPort,
    o: &BuildOutcome,
    want: &Platform,
) -> Option<String> {
    if !o.success {
        return None;
    }
    let info = docker.inspect_image(&o.image).await.ok().flatten()?;
    let got = Platform::parse(info.platform.as_deref()?).ok()?;
    (!same_platform(&got, want)).then(|| got.to_string())
}

/// `got` (what an image's config says) is `want` (what was asked): os and architecture equal, and the variant
/// too when both name one (images often leave it out).
pub fn same_platform(got: &Platform, want: &Platform) -> bool {
    got.os == want.os
        && got.architecture == want.architecture
        && (got.variant.is_none() || want.variant.is_none() || got.variant == want.variant)
}

/// Record the whole multi-platform build in the history as its own entry, made after the platforms' own so it
/// is the newest: `push DIR` (the history's latest image) then finds the set, not one platform.
fn finish(req: &BuildRequest, mut outcome: BuildOutcome) -> BuildOutcome {
    outcome.build_id = super::build::new_build_id();
    let dir = req.builds_dir.join(&outcome.build_id);
    if crate::paths::private_dir(&dir).is_ok() {
        history::write_summary(&dir, &outcome);
    }
    outcome
}

/// The per-platform images of the newest build of `image` (`repo:tag`) when it was a multi-platform one, from
/// the history: (platform, local image). Ok(None): `image` was not built for several platforms. Err: its
/// newest multi-platform build did not complete (no set of its platforms' tags is one build's).
pub fn platform_images(
    builds_dir: &Path,
    image: &str,
) -> Result<Option<Vec<(Platform, String)>>, String> {
    let Some(v) = history::multi_platform_summary(builds_dir, image)? else {
        return Ok(None);
    };
    let list: Vec<PlatformBuild> = serde_json::from_value(v["platforms"].clone())
        .map_err(|e| format!("cannot read the platforms of the last build of {image}: {e}"))?;
    if list.len() < 2 {
        return Ok(None);
    }
    list.into_iter()
        .map(|p| {
            Platform::parse(&p.platform)
                .map(|pl| (pl, p.image))
                .map_err(|e| {
                    format!("the last build of {image} names a platform dockui cannot read: {e}")
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The per-platform images a push should put an index over: the platforms named (`push --platform`), else
/// those of the history's multi-platform build of `source_image`. Fewer than two: an ordinary push. Err: the
/// history's newest multi-platform build of `source_image` did not complete.
pub fn images_to_push(
    source_image: &str,
    opts: &super::push::PushOptions,
) -> Result<Vec<(Platform, String)>, String> {
    if !opts.platforms.is_empty() {
        return Ok(opts
            .platforms
            .iter()
            .map(|p| (p.clone(), platform_image(source_image, p)))
            .collect());
    }
    match opts.builds_dir.as_deref() {
        Some(dir) => Ok(platform_images(dir, source_image)?.unwrap_or_default()),
        None => Ok(Vec::new()),
    }
}

/// Push a multi-platform image: each platform's image under `<tag>-<arch>` (checked pullable by its own
/// digest, as any push), then an image index over their manifests under every tag, then the index's
/// pullability (which checks each platform's manifest through it again). Never fails: errors are in the
/// report, with what to do.
pub async fn push_multi(
    engine: &dyn crate::docker::BuilderPort,
    client: &crate::registry::RegistryClient,
    lookup: &crate::registry::CredentialLookup,
    req: &crate::registry::pipeline::PushRequest,
    platforms: &[(Platform, String)],
    progress: UnboundedSender<crate::docker::push::PushProgress>,
) -> crate::registry::PushReport {
    use crate::registry::index::{self, Child, IndexReport, PlatformPush};
    use crate::registry::report::TagPush;
    use crate::registry::{ImageName, PushReport, Verdict};
    let mut report = PushReport {
        image: req.source_image.clone(),
        ..PushReport::default()
    };
    let target = match req
        .config
        .target_repository(&req.source_image)
        .and_then(|r| ImageName::parse(&r).map_err(|e| e.to_string()))
    {
        Ok(n) => n,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.repository = target.familiar_repository();
    report.registry = target.registry.clone();
    let tags: Vec<String> = if req.config.tags.is_empty() {
        vec![split_tag(&req.source_image).1]
    } else {
        req.config.tags.clone()
    };
    let mut index = IndexReport::new(Vec::new());
    let mut children = Vec::new();
    for (platform, image) in platforms {
        let tag = format!("{}-{}", tags[0], platform.suffix());
        let mut sub = req.clone();
        sub.source_image = image.clone();
        sub.config.tags = vec![tag.clone()];
        // Config files pin the index, never one platform.
        sub.project_dir = None;
        sub.config.update.clear();
        let r = crate::registry::pipeline::push_and_verify(
            engine,
            client,
            lookup,
            &sub,
            progress.clone(),
        )
        .await;
        report.credentials = report.credentials.clone().or(r.credentials.clone());
        let mut row = PlatformPush {
            platform: platform.to_string(),
            image: image.clone(),
            tag: tag.clone(),
            digest: r.digest.clone(),
            media_type: String::new(),
            verdict: r.verdict,
            what_to_do: r.what_to_do.clone(),
        };
        let failure = match (&r.error, r.verdict, &r.digest) {
            (Some(e), _, _) => Some(e.clone()),
            (None, Some(Verdict::Pullable), Some(_)) => None,
            _ => Some(format!(
                "its manifest is not pullable by digest: {}",
                r.what_to_do
            )),
        };
        if let Some(why) = failure {
            index.platforms.push(row);
            report.index = Some(index);
            report.error = Some(format!(
                "{platform} ({image}): {why}; the index was not pushed (fix this platform and push again)"
            ));
            return report;
        }
        let digest = r.digest.clone().unwrap_or_default();
        // Two platforms cannot share one manifest: their configs name different architectures.
        if let Some(twin) = children.iter().find(|c: &&Child| c.digest == digest) {
            index.platforms.push(row);
            report.index = Some(index);
            report.error = Some(format!(
                "{platform} ({image}) pushed as {digest}, the same manifest as {}: one of them is the other \
                 platform's image; build again with --no-cache; the index was not pushed",
                twin.platform
            ));
            return report;
        }
        match index::describe(client, &target, &digest, platform).await {
            Ok((media_type, size)) => {
                row.media_type = media_type.clone();
                children.push(Child {
                    platform: platform.clone(),
                    digest,
                    media_type,
                    size,
                });
                index.platforms.push(row);
            }
            Err(e) => {
                index.platforms.push(row);
                report.index = Some(index);
                report.error = Some(format!("{platform}: {e}"));
                return report;
            }
        }
    }
    let (media_type, digest) = match index::put_index(client, &target, &tags, &children).await {
        Ok(x) => x,
        Err(e) => {
            report.index = Some(index);
            report.error = Some(format!("pushing the image index: {e}"));
            return report;
        }
    };
    index.media_type = media_type;
    index.digest = Some(digest.clone());
    index.tags = tags.clone();
    let check = client.check(&target, &digest).await;
    for tag in &tags {
        report.tags.push(TagPush {
            tag: tag.clone(),
            digest: Some(digest.clone()),
            size: None,
            confirmed: true,
            registry_digest: client.tag_digest(&target, tag).await,
        });
    }
    // Every platform the index lists must be one we pushed, and each pushed one must be listed.
    let listed: Vec<&str> = check.platforms.iter().map(|p| p.digest.as_str()).collect();
    let missing: Vec<String> = children
        .iter()
        .filter(|c| !listed.contains(&c.digest.as_str()))
        .map(|c| c.platform.to_string())
        .collect();
    report.verdict = Some(if missing.is_empty() {
        check.verdict
    } else {
        Verdict::NotFound
    });
    report.what_to_do = if missing.is_empty() {
        check.what_to_do.clone()
    } else {
        format!(
            "the registry's index does not list {}: push again",
            missing.join(", ")
        )
    };
    if report.verdict == Some(Verdict::Pullable) {
        index.reference = Some(check.reference.clone());
        report.reference = Some(check.reference.clone());
    }
    report.digest = Some(digest);
    report.platforms = check.platforms.clone();
    report.image_id =
        match crate::docker::DockerPort::inspect_image(engine, &req.source_image).await {
            Ok(Some(i)) => i.id,
            _ => String::new(),
        };
    if let (Some(dir), Some(chosen)) = (&req.project_dir, &report.reference) {
        report.proposed_updates =
            crate::registry::update::propose_updates(dir, &req.config.update, chosen);
    }
    report.index = Some(index);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_with_kernel_names_and_variants() {
        let p = parse_list("linux/amd64, linux/aarch64,linux/arm/v7,linux/amd64").unwrap();
        let names: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
        assert_eq!(p[2].suffix(), "arm-v7");
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().suffix(), "arm64");
        let err = parse_list("linux/amd64,arm64").unwrap_err();
        assert!(
            err.contains("\"arm64\"") && err.contains("os/arch"),
            "{err}"
        );
        assert!(Platform::parse("Linux/AMD64").is_err());
        assert!(parse_list("").unwrap().is_empty());
    }

    #[test]
    fn a_platform_that_does_not_exist_is_refused_with_the_near_one() {
        let err = parse_list("linux/arm64,linux/amd46").unwrap_err();
        assert!(
            err.contains("`amd46` is not a Linux architecture; did you mean linux/amd64?"),
            "{err}"
        );
        let err = parse_list("linux/wasm").unwrap_err();
        assert!(
            err.contains("is not a Linux architecture (they are: amd64, arm64"),
            "{err}"
        );
        let err = parse_list("linux/386/x").unwrap_err();
        assert!(err.contains("386 has no variants"), "{err}");
        let err = parse_list("linux/amd64/v5").unwrap_err();
        assert!(err.contains("the variants v1, v2, v3, v4"), "{err}");
        // What exists passes, kernel names included; other OSes are the builder's to judge.
        for ok in [
            "linux/amd64/v3",
            "linux/arm/v6",
            "linux/arm64/v8",
            "linux/x86_64",
            "linux/s390x",
            "linux/riscv64",
            "windows/amd64",
        ] {
            assert!(parse_list(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn target_args_fill_what_the_legacy_builder_leaves_empty() {
        let a = Platform::parse("linux/arm/v7").unwrap().target_args();
        assert_eq!(a["TARGETPLATFORM"], "linux/arm/v7");
        assert_eq!(a["TARGETARCH"], "arm");
        assert_eq!(a["TARGETVARIANT"], "v7");
        assert_eq!(a["TARGETOS"], "linux");
    }

    #[test]
    fn platform_images_take_the_tag_suffix() {
        let arm = Platform::parse("linux/arm64").unwrap();
        assert_eq!(
            platform_image("reg:5000/team/app:v1", &arm),
            "reg:5000/team/app:v1-arm64"
        );
        assert_eq!(
            platform_image("reg:5000/team/app", &arm),
            "reg:5000/team/app:latest-arm64"
        );
    }

    #[test]
    fn binfmt_handlers_decide_whether_a_foreign_platform_can_build() {
        let dir = tempfile::tempdir().unwrap();
        let arm = Platform::parse("linux/arm64").unwrap();
        let amd = Platform::parse("linux/amd64").unwrap();
        // Same architecture: nothing needed, whatever binfmt says.
        assert_eq!(emulation_missing(&amd, "x86_64", dir.path()), None);
        let why = emulation_missing(&arm, "amd64", dir.path()).expect("no handler");
        assert!(why.contains("qemu-aarch64 is missing"), "{why}");
        assert!(
            why.contains("apt-get install qemu-user-static binfmt-support"),
            "{why}"
        );
        assert!(
            why.contains("update-binfmts --enable qemu-aarch64"),
            "{why}"
        );
        std::fs::write(
            dir.path().join("qemu-aarch64"),
            "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n",
        )
        .unwrap();
        let why = emulation_missing(&arm, "amd64", dir.path()).unwrap();
        assert!(why.contains("is disabled"), "{why}");
        assert!(binfmt_platforms(dir.path()).is_empty());
        std::fs::write(
            dir.path().join("qemu-aarch64"),
            "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("status"), "enabled\n").unwrap();
        assert_eq!(emulation_missing(&arm, "amd64", dir.path()), None);
        assert_eq!(binfmt_platforms(dir.path()), ["linux/arm64"]);
    }

    #[test]
    fn requested_platforms_come_from_the_list_or_a_comma_separated_platform() {
        let mut b = crate::config::BuildConfig::default();
        assert!(requested(&b).unwrap().is_empty());
        b.platform = "linux/amd64".into();
        assert_eq!(requested(&b).unwrap().len(), 1);
        b.platform = "linux/amd64,linux/arm64".into();
        assert_eq!(requested(&b).unwrap().len(), 2);
        b.platforms = vec!["linux/arm64".into()];
        assert_eq!(requested(&b).unwrap().len(), 1);
        b.platforms = vec!["linux".into()];
        assert!(requested(&b).unwrap_err().contains("[build] platforms"));
    }
}
