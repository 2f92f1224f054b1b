//! Tag, push every tag, read RepoDigests, check every digest, choose one, propose config updates: the whole
//! `p` / `dockui push` job as one function over the two ports (the builder port, `RegistryPort` for
//! registries), so it runs against the real adapters in integration tests and against fakes below. The
//! engine's push job (`engine::push`) calls it.

use super::client::{RegistryPort, Verdict};
use super::config::PushConfig;
use super::credentials::CredentialLookup;
use super::digest::digest_report;
use super::reference::ImageName;
use super::report::{PushReport, TagPush};
use super::update::propose_updates;
use crate::builder::{BackendInfo, BuilderPort};
use crate::docker::push::PushProgress;
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// The local image as built, e.g. `dockui-local/demo:latest`.
    pub source_image: String,
    pub config: PushConfig,
    /// Tag to push when `config.tags` is empty (the build's tag). Empty: the source image's own tag.
    pub default_tag: String,
    /// Where `[[push.update]]` files live; None: propose nothing.
    pub project_dir: Option<PathBuf>,
}

/// Never fails: whatever went wrong is in `PushReport::error` (with what to do) or in the verdict.
pub async fn push_and_verify(
    engine: &dyn BuilderPort,
    registry: &(impl RegistryPort + ?Sized),
    lookup: &CredentialLookup,
    req: &PushRequest,
    progress: UnboundedSender<PushProgress>,
) -> PushReport {
    let mut report = PushReport {
        image: req.source_image.clone(),
        backend: Some(BackendInfo::of(engine).await),
        ..PushReport::default()
    };
    let repository = match req.config.target_repository(&req.source_image) {
        Ok(r) => r,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    report.repository = repository.clone();
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
        // The tag the image was built (or named) with; `latest` only when it has none at all.
        let own = ImageName::parse(&req.source_image)
            .ok()
            .and_then(|n| n.tag)
            .unwrap_or_else(|| "latest".into());
        let t = if req.default_tag.is_empty() {
            own
        } else {
            req.default_tag.clone()
        };
        vec![t]
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
    // RepoDigests as the engine listed them right after the last push (the same image under every tag).
    let mut pushed_repo_digests = Vec::new();
    for tag in &tags {
        if let Err(e) = engine.tag(&req.source_image, &repository, tag).await {
            report.error = Some(e.to_string());
            return report;
        }
        match engine
            .push(
                &repository,
                tag,
                creds.as_ref(),
                progress.clone(),
                // `[push.retry] timeout_s` (seconds per registry request) bounds a silence of the engine's push.
                std::time::Duration::from_secs(req.config.retry.timeout_s.max(1)),
            )
            .await
        {
            Ok(r) => {
                preferred = preferred.or(r.digest.clone());
                pushed_repo_digests = r.repo_digests.clone();
                let registry_digest = registry.tag_digest(&target, tag).await;
                report.tags.push(TagPush {
                    tag: tag.clone(),
                    digest: r.digest,
                    size: r.size,
                    confirmed: r.digest_confirmed,
                    registry_digest,
                });
            }
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
    }

    // The engine's push already inspected the image after pushing (over ssh every request is a new
    // connection): ask again only when it listed nothing.
    let first = format!("{repository}:{}", tags[0]);
    let mut repo_digests = if !pushed_repo_digests.is_empty() {
        pushed_repo_digests
    } else {
        match engine.inspect_image(&first).await {
            Ok(Some(i)) => i.repo_digests,
            Ok(None) => Vec::new(),
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
    };
    // Podman lists its local manifest's digest in RepoDigests, not the one it pushed (it converts the
    // manifest on push): check the pushed digest instead. The local one was never on the registry, and
    // checking it would only wait out the not-found retries meant for a registry that is catching up.
    if let Some(d) = &preferred {
        let listed = repo_digests.iter().any(|rd| {
            ImageName::parse(rd)
                .is_ok_and(|n| n.same_repository(&target) && n.digest.as_deref() == Some(d))
        });
        if !listed {
            repo_digests
                .retain(|rd| !ImageName::parse(rd).is_ok_and(|n| n.same_repository(&target)));
            repo_digests.push(format!("{repository}@{d}"));
        }
    }
    let digests = digest_report(
        registry,
        &report.image_id,
        &repo_digests,
        &target,
        preferred.as_deref(),
    )
    .await;
    report.reference = digests.chosen.clone();
    report.digest = digests
        .chosen
        .as_deref()
        .and_then(|r| r.split_once('@'))
        .map(|(_, d)| d.to_string())
        // Nothing pullable: still report the digest the engine printed for the push (what was checked).
        .or_else(|| preferred.clone());
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
    if let (Some(dir), Some(chosen)) = (&req.project_dir, &report.reference) {
        report.proposed_updates = propose_updates(dir, &req.config.update, chosen);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::push::PushResult;
    use crate::docker::{
        BuildEvent, BuildSpec, DockerError, DockerPort, EngineInfo, ImageInfo, RunOutput, RunSpec,
    };
    use crate::registry::client::PullCheck;
    use crate::registry::credentials::Credentials;
    use futures_util::FutureExt;
    use futures_util::future::BoxFuture;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    const ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D1: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const D2: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const D3: &str = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

    struct FakeEngine {
        has_source: bool,
        repo_digests: Vec<String>,
        pushed_digest: &'static str,
        push_error: Option<String>,
        pushes: Mutex<Vec<String>>,
        /// The push result lists the RepoDigests (Docker's push inspects after pushing); else empty.
        push_lists: bool,
        inspects: Mutex<Vec<String>>,
    }

    impl DockerPort for FakeEngine {
        fn endpoint(&self) -> String {
            "fake://".into()
        }
        fn ping(&self) -> BoxFuture<'_, Result<EngineInfo, DockerError>> {
            async { Err(DockerError::Other("fake".into())) }.boxed()
        }
        fn build(
            &self,
            _: BuildSpec,
            _: UnboundedSender<BuildEvent>,
        ) -> BoxFuture<'_, Result<String, DockerError>> {
            async { Err(DockerError::Other("fake".into())) }.boxed()
        }
        fn inspect_image<'a>(
            &'a self,
            reference: &'a str,
        ) -> BoxFuture<'a, Result<Option<ImageInfo>, DockerError>> {
            async move {
                self.inspects.lock().unwrap().push(reference.to_string());
                let pushed = reference.contains("reg:5000/");
                Ok((self.has_source || pushed).then(|| ImageInfo {
                    id: ID.into(),
                    repo_tags: vec![reference.into()],
                    repo_digests: if pushed {
                        self.repo_digests.clone()
                    } else {
                        Vec::new()
                    },
                    labels: BTreeMap::new(),
                    platform: None,
                }))
            }
            .boxed()
        }
        fn container_names(&self) -> BoxFuture<'_, Result<BTreeMap<String, String>, DockerError>> {
            async { Ok(BTreeMap::new()) }.boxed()
        }
        fn run_once(&self, _: RunSpec) -> BoxFuture<'_, Result<RunOutput, DockerError>> {
            async { Err(DockerError::Other("fake".into())) }.boxed()
        }
        fn tag<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<(), DockerError>> {
            async { Ok(()) }.boxed()
        }
        fn push<'a>(
            &'a self,
            image_ref: &'a str,
            tag: &'a str,
            _: Option<&'a Credentials>,
            progress: UnboundedSender<PushProgress>,
            _: std::time::Duration,
        ) -> BoxFuture<'a, Result<PushResult, DockerError>> {
            async move {
                if let Some(e) = &self.push_error {
                    return Err(DockerError::Other(e.clone()));
                }
                self.pushes
                    .lock()
                    .unwrap()
                    .push(format!("{image_ref}:{tag}"));
                let _ = progress.send(PushProgress::Digest {
                    tag: tag.into(),
                    digest: self.pushed_digest.into(),
                    size: 1,
                });
                Ok(PushResult {
                    repository: image_ref.into(),
                    tag: tag.into(),
                    digest: Some(self.pushed_digest.into()),
                    size: Some(1),
                    image_id: ID.into(),
                    repo_digests: if self.push_lists {
                        self.repo_digests.clone()
                    } else {
                        Vec::new()
                    },
                    digest_confirmed: true,
                })
            }
            .boxed()
        }
    }

    /// Pullable digests; everything else is not found.
    struct FakeRegistry(Vec<&'static str>);

    impl RegistryPort for FakeRegistry {
        fn check<'a>(&'a self, name: &'a ImageName, digest: &'a str) -> BoxFuture<'a, PullCheck> {
            async move {
                let verdict = if self.0.contains(&digest) {
                    Verdict::Pullable
                } else {
                    Verdict::NotFound
                };
                PullCheck {
                    reference: name.with_digest(digest),
                    verdict,
                    what_to_do: verdict.what_to_do("r", &name.registry),
                    detail: String::new(),
                    registry_digest: Some(digest.into()),
                    digest_matches: Some(true),
                    media_type: None,
                    method: "HEAD".into(),
                    attempts: 1,
                    platforms: Vec::new(),
                }
            }
            .boxed()
        }
    }

    fn engine(repo_digests: &[&str], pushed: &'static str) -> FakeEngine {
        FakeEngine {
            has_source: true,
            repo_digests: repo_digests.iter().map(|s| s.to_string()).collect(),
            pushed_digest: pushed,
            push_error: None,
            pushes: Mutex::new(Vec::new()),
            push_lists: true,
            inspects: Mutex::new(Vec::new()),
        }
    }

    fn request() -> PushRequest {
        PushRequest {
            source_image: "dockui-local/demo:latest".into(),
            config: PushConfig {
                registry: "reg:5000".into(),
                repository: "team/demo".into(),
                ..PushConfig::default()
            },
            default_tag: "b7".into(),
            project_dir: None,
        }
    }

    async fn run(e: &FakeEngine, r: &FakeRegistry, req: &PushRequest) -> PushReport {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        push_and_verify(e, r, &CredentialLookup::none(), req, tx).await
    }

    #[tokio::test]
    async fn several_repo_digests_are_all_checked_and_a_pullable_one_of_the_pushed_repo_is_pinned()
    {
        let e = engine(
            &[
                &format!("other.io/team/demo@{D1}"),
                &format!("reg:5000/team/demo@{D2}"),
                &format!("reg:5000/team/demo@{D3}"),
            ],
            D2,
        );
        // The push's own digest (D2) is not served; D3 of the same repository is; D1 is another repository's.
        let report = run(&e, &FakeRegistry(vec![D1, D3]), &request()).await;
        assert_eq!(report.error, None);
        assert_eq!(
            *e.pushes.lock().unwrap(),
            vec!["reg:5000/team/demo:b7".to_string()]
        );
        let d = report.digests.as_ref().unwrap();
        assert_eq!(d.repo_digests.len(), 3);
        assert!(d.repo_digests.iter().all(|c| c.check.is_some()));
        assert_eq!(
            report.reference.as_deref(),
            Some(format!("reg:5000/team/demo@{D3}").as_str())
        );
        assert_eq!(report.digest.as_deref(), Some(D3));
        assert_ne!(report.digest.as_deref(), Some(ID));
        assert_eq!(report.verdict, Some(Verdict::Pullable));
        assert_eq!(report.exit_code(), 0);
        // The result names the builder that pushed (through the port, whatever it is).
        let backend = report.backend.as_ref().expect("backend");
        assert_eq!(
            (backend.kind, backend.endpoint.as_str()),
            (crate::builder::BackendKind::Docker, "fake://")
        );
    }

    #[tokio::test]
    async fn the_pushs_own_digest_is_checked_when_the_engine_does_not_list_it() {
        // Podman: RepoDigests name the manifest it keeps locally (D1), not the one it pushed (D2).
        let e = engine(&[&format!("reg:5000/team/demo@{D1}")], D2);
        let report = run(&e, &FakeRegistry(vec![D2]), &request()).await;
        let d = report.digests.as_ref().unwrap();
        // Only the pushed one is checked: the local manifest was never on the registry (checking it would
        // wait out the not-found retries).
        assert_eq!(d.repo_digests.len(), 1, "{d:#?}");
        assert!(d.repo_digests[0].reference.ends_with(D2), "{d:#?}");
        assert_eq!(report.digest.as_deref(), Some(D2));
        assert_eq!(report.verdict, Some(Verdict::Pullable));
        // Listed already (Docker): not added twice.
        let e = engine(&[&format!("reg:5000/team/demo@{D2}")], D2);
        let report = run(&e, &FakeRegistry(vec![D2]), &request()).await;
        assert_eq!(report.digests.as_ref().unwrap().repo_digests.len(), 1);
    }

    #[tokio::test]
    async fn nothing_pullable_gives_the_pushed_repositorys_verdict_and_no_pin() {
        let e = engine(&[&format!("reg:5000/team/demo@{D2}")], D2);
        let mut req = request();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "IMAGE=x\n").unwrap();
        req.project_dir = Some(dir.path().to_path_buf());
        req.config.update = vec![crate::registry::UpdateTarget {
            file: ".env".into(),
            key: "IMAGE".into(),
            format: None,
        }];
        let report = run(&e, &FakeRegistry(vec![]), &req).await;
        assert_eq!(report.verdict, Some(Verdict::NotFound));
        assert_eq!(report.reference, None);
        assert_eq!(
            report.digest.as_deref(),
            Some(D2),
            "a failed check still reports the digest the engine printed"
        );
        assert!(
            report.proposed_updates.is_empty(),
            "nothing is proposed without a pullable digest"
        );
        assert_eq!(report.exit_code(), 1);
        let with_pin = run(&e, &FakeRegistry(vec![D2]), &req).await;
        assert_eq!(with_pin.proposed_updates.len(), 1);
        assert!(
            with_pin.proposed_updates[0]
                .new_text
                .contains(&format!("IMAGE=reg:5000/team/demo@{D2}"))
        );
    }

    #[tokio::test]
    async fn the_image_is_inspected_after_the_push_only_when_the_push_listed_no_digests() {
        let pushed_ref = "reg:5000/team/demo:b7".to_string();
        for push_lists in [true, false] {
            let mut e = engine(&[&format!("reg:5000/team/demo@{D1}")], D1);
            e.push_lists = push_lists;
            let report = run(&e, &FakeRegistry(vec![D1]), &request()).await;
            assert_eq!(report.verdict, Some(Verdict::Pullable), "{report:?}");
            let d = report.digests.as_ref().unwrap();
            assert_eq!(d.repo_digests.len(), 1, "{d:#?}");
            let again = e.inspects.lock().unwrap().contains(&pushed_ref);
            assert_eq!(again, !push_lists, "{:?}", e.inspects.lock().unwrap());
        }
    }

    #[tokio::test]
    async fn configured_tags_are_all_pushed() {
        let e = engine(&[&format!("reg:5000/team/demo@{D1}")], D1);
        let mut req = request();
        req.config.tags = vec!["v1".into(), "latest".into()];
        let report = run(&e, &FakeRegistry(vec![D1]), &req).await;
        assert_eq!(report.tags.len(), 2);
        assert_eq!(e.pushes.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn errors_say_what_to_do_and_exit_2() {
        let mut e = engine(&[], D1);
        e.has_source = false;
        let report = run(&e, &FakeRegistry(vec![]), &request()).await;
        assert!(
            report.error.as_deref().unwrap().contains("build it first"),
            "{report:?}"
        );
        assert_eq!(report.exit_code(), 2);

        let mut e = engine(&[], D1);
        e.push_error = Some("push refused by reg:5000: unauthorized".into());
        let report = run(&e, &FakeRegistry(vec![]), &request()).await;
        assert!(report.error.as_deref().unwrap().contains("unauthorized"));

        let mut req = request();
        req.config.repository = "Team/Bad".into();
        let report = run(&engine(&[], D1), &FakeRegistry(vec![]), &req).await;
        assert!(
            report.error.as_deref().unwrap().contains("push.repository"),
            "{:?}",
            report.error
        );

        // No [push] target and a local-only name: refuse rather than push to Docker Hub.
        let mut req = request();
        req.config = PushConfig::default();
        let report = run(&engine(&[], D1), &FakeRegistry(vec![]), &req).await;
        assert!(
            report.error.as_deref().unwrap().contains("no push target"),
            "{:?}",
            report.error
        );
        assert_eq!(report.exit_code(), 2);
    }
}
