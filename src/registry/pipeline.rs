//! Tag, push every tag, read RepoDigests, check every digest, choose one, propose config updates: the whole
//! `p` / `dockui push` job as one function over the real adapters. (Orchestration; it may move into
//! `engine/` when the engine grows a registry port.)

use super::client::{RegistryClient, Verdict};
use super::config::PushConfig;
use super::credentials::CredentialLookup;
use super::digest::digest_report;
use super::reference::ImageName;
use super::report::{PushReport, TagPush};
use super::update::propose_updates;
use crate::docker::push::PushProgress;
use crate::docker::{BollardEngine, DockerPort};
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// The local image as built, e.g. `dockui-local/demo:latest`.
    pub source_image: String,
    pub config: PushConfig,
    /// Tag to push when `config.tags` is empty (the build's tag).
    pub default_tag: String,
    /// Where `[[push.update]]` files live; None: propose nothing.
    pub project_dir: Option<PathBuf>,
}

pub async fn push_and_verify(
    engine: &BollardEngine,
    client: &RegistryClient,
    lookup: &CredentialLookup,
    req: &PushRequest,
    progress: UnboundedSender<PushProgress>,
) -> PushReport {
    let repository = req.config.target_repository(&req.source_image);
    let mut report = PushReport {
        image: req.source_image.clone(),
        repository: repository.clone(),
        ..PushReport::default()
    };
    let target = match ImageName::parse(&repository) {
        Ok(n) if n.tag.is_none() && n.digest.is_none() => n,
        Ok(_) => {
            report.error = Some(format!(
                "push.repository {repository:?} must not hold a tag or digest: put tags in push.tags"
            ));
            return report;
        }
        Err(e) => {
            report.error = Some(format!(
                "{e}; fix push.registry / push.repository in .dockui.toml"
            ));
            return report;
        }
    };
    report.registry = target.registry.clone();
    let tags: Vec<String> = if req.config.tags.is_empty() {
        let t = if req.default_tag.is_empty() {
            "latest"
        } else {
            &req.default_tag
        };
        vec![t.to_string()]
    } else {
        req.config.tags.clone()
    };

    match engine.inspect_image(&req.source_image).await {
        Ok(Some(info)) => report.image_id = info.id,
        Ok(None) => {
            report.error = Some(format!(
                "image {} does not exist: build it first (dockui build)",
                req.source_image
            ));
            return report;
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    }
    let creds = match lookup.resolve(&target.registry).await {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.credentials = creds.as_ref().map(|c| c.source.clone());

    let mut preferred = None;
    for tag in &tags {
        if let Err(e) = engine.tag(&req.source_image, &repository, tag).await {
            report.error = Some(e.to_string());
            return report;
        }
        match engine
            .push(&repository, tag, creds.as_ref(), progress.clone())
            .await
        {
            Ok(r) => {
                preferred = preferred.or(r.digest.clone());
                report.tags.push(TagPush {
                    tag: tag.clone(),
                    digest: r.digest,
                    size: r.size,
                });
            }
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
    }

    let first = format!("{repository}:{}", tags[0]);
    let repo_digests = match engine.inspect_image(&first).await {
        Ok(Some(i)) => i.repo_digests,
        Ok(None) => Vec::new(),
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let digests = digest_report(
        client,
        &report.image_id,
        &repo_digests,
        &target,
        preferred.as_deref(),
    )
    .await;
    report.digest = digests.chosen.clone();
    let deciding = digests
        .repo_digests
        .iter()
        .find(|c| Some(&c.reference) == digests.chosen.as_ref())
        .or_else(|| digests.repo_digests.iter().find(|c| c.pushed_repository))
        .and_then(|c| c.check.clone());
    match deciding {
        Some(check) => {
            report.verdict = Some(check.verdict);
            report.what_to_do = check.what_to_do;
            report.platforms = check.platforms;
        }
        None => {
            report.verdict = Some(Verdict::NotFound);
            report.what_to_do = format!(
                "The engine lists no digest for {repository} after the push: push again and check the engine's log."
            );
        }
    }
    report.digests = Some(digests);
    if let (Some(dir), Some(chosen)) = (&req.project_dir, &report.digest) {
        report.proposed_updates = propose_updates(dir, &req.config.update, chosen);
    }
    report
}
