//! The push job: tag, push, read the manifest digests, check pullability, propose config updates.
//! Shared by `dockui push` and the TUI's `p`.

use crate::builder::{BackendInfo, BuilderPort};
use crate::config::Config;
use crate::docker::push::PushProgress;
use crate::registry::client::RegistryClient;
use crate::registry::credentials::CredentialLookup;
use crate::registry::pipeline::{PushRequest, push_and_verify};
use crate::registry::reference::ImageName;
use crate::registry::report::PushReport;
use std::path::Path;
use tokio::sync::mpsc::UnboundedSender;

/// What the user asked for beyond the config.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Tags named on the command line (`push IMAGE:TAG`, `-t`): exactly these are pushed, whatever
    /// `push.tags` says. Empty: `push.tags`, else the image's own tag.
    pub tags: Vec<String>,
    /// Push even when the image's last build failed its smoke tests (headless `--force`, a TUI confirmation).
    pub force: bool,
    /// Where the build history is (to find the image's smoke results). None: do not look.
    pub builds_dir: Option<std::path::PathBuf>,
    /// Push these platforms' images (`IMAGE:TAG-<arch>`) and an image index over them. Empty: the
    /// platforms the history's multi-platform build of the image has, if any.
    pub platforms: Vec<super::platforms::Platform>,
}

/// Push `source_image` per `config.push`. Setup errors (no target, a bad client setup) come back as a report
/// with `error` set, so every front end shows them the same way.
pub async fn run(
    engine: &dyn BuilderPort,
    config: &Config,
    project_dir: Option<&Path>,
    source_image: &str,
    progress: UnboundedSender<PushProgress>,
) -> PushReport {
    run_with(
        engine,
        config,
        project_dir,
        source_image,
        &PushOptions::default(),
        progress,
    )
    .await
}

/// `run` with tags named by the user and the smoke-test gate.
pub async fn run_with(
    engine: &dyn BuilderPort,
    config: &Config,
    project_dir: Option<&Path>,
    source_image: &str,
    opts: &PushOptions,
    progress: UnboundedSender<PushProgress>,
) -> PushReport {
    let backend = BackendInfo::of(engine).await;
    let failed = |error: String| PushReport {
        image: source_image.to_string(),
        backend: Some(backend.clone()),
        error: Some(error),
        ..PushReport::default()
    };
    // A multi-platform build that did not complete leaves no set of platform images that belong together.
    let platforms = match super::platforms::images_to_push(source_image, opts) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    // An image that failed its smoke tests is pushed only when the user insists.
    let smoke = match &opts.builds_dir {
        Some(dir) => {
            let id = match engine.inspect_image(source_image).await {
                Ok(Some(info)) => Some(info.id),
                _ => None,
            };
            super::history::smoke_failure(dir, source_image, id.as_deref())
        }
        None => None,
    };
    if let Some(f) = &smoke
        && !opts.force
    {
        let mut r = failed(format!(
            "{source_image} failed its smoke tests in build {} ({}): fix it and build again, or push it anyway \
             with --force (in the TUI: confirm)",
            f.build_id,
            f.checks.join(", ")
        ));
        r.smoke_failed = true;
        return r;
    }
    let target = match config
        .push
        .target_repository(source_image)
        .and_then(|r| ImageName::parse(&r).map_err(|e| e.to_string()))
    {
        Ok(name) => name,
        Err(e) => return failed(e),
    };
    // A CI password in the environment goes to the configured registry only.
    let lookup = CredentialLookup::from_env().scope_env_to(&target.registry);
    let client = match RegistryClient::new(lookup.clone(), config.push.retry.clone()) {
        Ok(c) => c.with_plain_http(config.push.plain_http_hosts()),
        Err(e) => return failed(e.to_string()),
    };
    let mut push_config = config.push.clone();
    if !opts.tags.is_empty() {
        push_config.tags = opts.tags.clone();
    }
    let req = PushRequest {
        source_image: source_image.to_string(),
        config: push_config,
        // The image's own tag: `build.tag` may be "auto", which names no tag by itself.
        default_tag: String::new(),
        project_dir: project_dir.map(Path::to_path_buf),
    };
    let mut report = if platforms.len() > 1 {
        super::platforms::push_multi(engine, &client, &lookup, &req, &platforms, progress).await
    } else {
        push_and_verify(engine, &client, &lookup, &req, progress).await
    };
    // Every report names where it was pushed from (a multi-platform push's too).
    report.backend.get_or_insert(backend);
    // The engine's push error through the failure signatures (a plain-HTTP registry, rootless Podman):
    // what to do for Docker and Podman alike.
    if let Some(d) = report
        .error
        .as_deref()
        .and_then(|e| crate::classify::classify(&[e]))
    {
        if report.what_to_do.is_empty() {
            report.what_to_do = d.explanation.clone();
        }
        report.diagnosis = Some(d);
    }
    if smoke.is_some() {
        report.smoke_failed = true;
        report.forced = true;
    }
    report
}
