//! The push job: tag, push, read the manifest digests, check pullability, propose config updates.
//! Shared by `dockui push` and the TUI's `p`.

use crate::config::Config;
use crate::docker::BollardEngine;
use crate::docker::push::PushProgress;
use crate::registry::client::RegistryClient;
use crate::registry::credentials::CredentialLookup;
use crate::registry::pipeline::{PushRequest, push_and_verify};
use crate::registry::reference::ImageName;
use crate::registry::report::PushReport;
use std::path::Path;
use tokio::sync::mpsc::UnboundedSender;

/// Push `source_image` per `config.push`. Setup errors (no target, a bad client setup) come back as a report
/// with `error` set, so every front end shows them the same way.
pub async fn run(
    engine: &BollardEngine,
    config: &Config,
    project_dir: Option<&Path>,
    source_image: &str,
    progress: UnboundedSender<PushProgress>,
) -> PushReport {
    let failed = |error: String| PushReport {
        image: source_image.to_string(),
        error: Some(error),
        ..PushReport::default()
    };
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
    let req = PushRequest {
        source_image: source_image.to_string(),
        config: config.push.clone(),
        default_tag: config.build.tag.clone(),
        project_dir: project_dir.map(Path::to_path_buf),
    };
    push_and_verify(engine, &client, &lookup, &req, progress).await
}
