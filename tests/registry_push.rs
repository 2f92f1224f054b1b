//! Push to real registries (Debian's docker-registry on loopback ports) through the real engine, then check
//! digests and pullability over the registry API: without auth, with htpasswd auth, and a hand-made
//! multi-platform OCI index.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use dockui::docker::push::{PushProgress, PushProgressState};
use dockui::registry::client::{OCI_INDEX, OCI_MANIFEST};
use dockui::registry::pipeline::{PushRequest, push_and_verify};
use dockui::registry::update::UpdateTarget;
use dockui::registry::{
    CredentialLookup, ImageName, PushConfig, RegistryClient, RetryPolicy, Secret, Verdict,
    render_human,
};
use support::{Registry, http};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        initial_delay_ms: 50,
        max_delay_ms: 100,
        timeout_s: 10,
    }
}

fn env_creds(user: &str, pass: &str) -> CredentialLookup {
    CredentialLookup {
        env_user: Some(user.into()),
        env_password: Some(Secret::new(pass)),
        ..CredentialLookup::none()
    }
}

const WRONG_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn project_with_targets() -> (tempfile::TempDir, Vec<UpdateTarget>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# pinned by dockui\nIMAGE=old/app:1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("k8s/values.yaml"),
        "image:\n  # set by dockui push\n  ref: \"old/app:1\"\n",
    )
    .unwrap();
    let targets = vec![
        UpdateTarget {
            file: ".env".into(),
            key: "IMAGE".into(),
            format: None,
        },
        UpdateTarget {
            file: "k8s/values.yaml".into(),
            key: "image.ref".into(),
            format: None,
        },
    ];
    (dir, targets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn push_without_auth_digest_is_the_registrys_and_pullable() {
    const T: &str = "push_without_auth_digest_is_the_registrys_and_pullable";
    let Some(engine) = common::engine_or_skip(T).await else {
        return;
    };
    let Some(mut registry) = Registry::start(T, None) else {
        return;
    };
    let source = format!("dockui-test/registry-noauth:{}", std::process::id());
    let Some(image_id) = support::build_busybox(&engine, &source).await else {
        return;
    };
    let repo = format!("{}/dockui-test/app", registry.host);
    let (project, targets) = project_with_targets();
    let req = PushRequest {
        source_image: source.clone(),
        config: PushConfig {
            registry: registry.host.clone(),
            repository: "dockui-test/app".into(),
            tags: vec!["v1".into(), "latest".into()],
            retry: fast_retry(),
            update: targets,
            ..PushConfig::default()
        },
        default_tag: String::new(),
        project_dir: Some(project.path().to_path_buf()),
    };
    let client = RegistryClient::new(CredentialLookup::none(), fast_retry()).unwrap();
    // The same image in a second repository first, so the engine lists two RepoDigests.
    let mut other = req.clone();
    other.config.repository = "dockui-test/other".into();
    other.config.tags = vec!["v1".into()];
    other.project_dir = None;
    let (tx, mut other_rx) = tokio::sync::mpsc::unbounded_channel();
    let other_report =
        push_and_verify(&engine, &client, &CredentialLookup::none(), &other, tx).await;
    assert_eq!(
        other_report.verdict,
        Some(Verdict::Pullable),
        "{}",
        render_human(&other_report)
    );
    let mut first_events = Vec::new();
    while let Ok(e) = other_rx.try_recv() {
        first_events.push(e);
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let report = push_and_verify(&engine, &client, &CredentialLookup::none(), &req, tx).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    support::remove_images(
        &engine,
        &[
            source.clone(),
            format!("{repo}:v1"),
            format!("{repo}:latest"),
            format!("{}/dockui-test/other:v1", registry.host),
        ],
    )
    .await;
    eprintln!("{}", render_human(&report));
    eprintln!(
        "{} progress events, first: {:?}",
        events.len(),
        events.first()
    );

    assert_eq!(
        report.error,
        None,
        "{}\n{}",
        render_human(&report),
        registry.log()
    );
    assert_eq!(report.exit_code(), 0);
    let chosen = report.reference.clone().expect("a chosen digest");
    let digest = chosen.split_once('@').unwrap().1.to_string();
    assert!(chosen.starts_with(&repo), "{chosen}");

    // The registry's own answer, fetched with a plain HTTP request.
    let r = http(
        &registry.host,
        "HEAD",
        "/v2/dockui-test/app/manifests/v1",
        &[(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )],
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_ne!(digest, image_id, "the manifest digest is not the image id");
    assert_eq!(report.image_id, image_id);
    assert_eq!(report.tags.len(), 2);
    assert!(report.tags.iter().all(|t| t.confirmed), "{:?}", report.tags);
    assert_eq!(report.tags[0].digest.as_deref(), Some(digest.as_str()));
    assert_eq!(report.verdict, Some(Verdict::Pullable));
    let d = report.digests.as_ref().unwrap();
    // Both RepoDigests are listed and checked; the pinned one is the pushed repository's.
    assert_eq!(d.repo_digests.len(), 2, "{d:#?}");
    assert_eq!(
        d.repo_digests
            .iter()
            .filter(|c| c.pushed_repository)
            .count(),
        1
    );
    assert!(
        d.repo_digests
            .iter()
            .all(|c| c.check.as_ref().unwrap().verdict == Verdict::Pullable)
    );
    assert!(d.why_they_differ.contains("config"));

    // Per-layer progress with layer ids, and the digest line.
    // The first push uploads the layer (bytes known); the second mounts it from the first repository.
    assert!(
        first_events.iter().any(|e| matches!(e, PushProgress::Layer { id, status, total: Some(t), .. } if !id.is_empty() && status == "Pushing" && *t > 0)),
        "{first_events:#?}"
    );
    assert!(
        first_events
            .iter()
            .any(|e| matches!(e, PushProgress::Layer { status, .. } if status == "Pushed")),
        "{first_events:#?}"
    );
    let mut state = PushProgressState::default();
    for e in &events {
        state.apply(e);
    }
    assert_eq!(state.layers.len(), 1, "{events:#?}");
    assert_eq!(state.layers_done(), 1, "{events:#?}");
    assert_eq!(
        state.digests.len(),
        2,
        "one digest line per tag: {events:#?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, PushProgress::Digest { tag, digest: d, .. } if tag == "v1" && *d == digest)
    ));

    // Proposed updates: the literal repo@digest, nothing written.
    assert_eq!(report.proposed_updates.len(), 2);
    assert!(
        report.proposed_updates[0]
            .new_text
            .contains(&format!("IMAGE={chosen}\n"))
    );
    assert!(
        report.proposed_updates[1]
            .new_text
            .contains(&format!("  ref: \"{chosen}\"\n"))
    );
    assert!(
        report.proposed_updates[1]
            .diff
            .contains("# set by dockui push")
            || report.proposed_updates[1]
                .new_text
                .contains("# set by dockui push")
    );
    assert_eq!(
        std::fs::read_to_string(project.path().join(".env")).unwrap(),
        "# pinned by dockui\nIMAGE=old/app:1\n"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "pullable");
    assert_eq!(json["reference"], chosen.as_str());
    assert_eq!(json["digest"], digest.as_str());
    assert!(render_human(&report).contains("verdict: pullable"));

    // A digest the registry does not have: not found (after the configured retries).
    let name = ImageName::parse(&repo).unwrap();
    let check = client.check(&name, WRONG_DIGEST).await;
    assert_eq!(check.verdict, Verdict::NotFound, "{check:#?}");
    assert_eq!(check.attempts, 2);
    assert!(check.what_to_do.contains("push again"));

    // The registry stopped: unreachable.
    registry.stop();
    let check = client.check(&name, &digest).await;
    assert_eq!(check.verdict, Verdict::Unreachable, "{check:#?}");
    assert!(check.what_to_do.contains("did not answer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn push_with_htpasswd_auth_and_a_wrong_password_leaks_nothing() {
    const T: &str = "push_with_htpasswd_auth_and_a_wrong_password_leaks_nothing";
    const PASS: &str = "s3cret-Pass-42";
    const WRONG: &str = "wr0ng-Pass-99";
    let Some(engine) = common::engine_or_skip(T).await else {
        return;
    };
    let Some(registry) = Registry::start(T, Some(("dockui", PASS))) else {
        return;
    };
    let source = format!("dockui-test/registry-auth:{}", std::process::id());
    let Some(image_id) = support::build_busybox(&engine, &source).await else {
        return;
    };
    let repo = format!("{}/dockui-test/private", registry.host);
    let config = PushConfig {
        registry: registry.host.clone(),
        repository: "dockui-test/private".into(),
        tags: vec!["v1".into()],
        retry: fast_retry(),
        ..PushConfig::default()
    };
    let req = PushRequest {
        source_image: source.clone(),
        config,
        default_tag: String::new(),
        project_dir: None,
    };
    let good = env_creds("dockui", PASS);
    let client = RegistryClient::new(good.clone(), fast_retry()).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = push_and_verify(&engine, &client, &good, &req, tx).await;

    // A wrong password, both for the push and for the check.
    let bad = env_creds("dockui", WRONG);
    let bad_client = RegistryClient::new(bad.clone(), fast_retry()).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let bad_report = push_and_verify(&engine, &bad_client, &bad, &req, tx).await;
    support::remove_images(&engine, &[source.clone(), format!("{repo}:v1")]).await;
    eprintln!("{}\n{}", render_human(&report), render_human(&bad_report));

    assert_eq!(
        report.error,
        None,
        "{}\n{}",
        render_human(&report),
        registry.log()
    );
    assert_eq!(
        report.verdict,
        Some(Verdict::Pullable),
        "{}",
        render_human(&report)
    );
    let chosen = report.reference.clone().unwrap();
    let digest = chosen.split_once('@').unwrap().1.to_string();
    let auth = support::basic("dockui", PASS);
    let r = http(
        &registry.host,
        "GET",
        "/v2/dockui-test/private/manifests/v1",
        &[
            (
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
            ("Authorization", &auth),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_eq!(support::sha256(&r.body), digest);
    assert_ne!(digest, image_id);

    let name = ImageName::parse(&repo).unwrap();
    let check = bad_client.check(&name, &digest).await;
    assert_eq!(check.verdict, Verdict::Unauthorized, "{check:#?}");
    assert_eq!(check.attempts, 1, "a refused login is not retried");
    assert!(check.what_to_do.contains("docker login"));
    let anonymous = RegistryClient::new(CredentialLookup::none(), fast_retry()).unwrap();
    let check_anon = anonymous.check(&name, &digest).await;
    assert_eq!(check_anon.verdict, Verdict::Unauthorized);
    assert!(
        check_anon.detail.contains("no credentials"),
        "{}",
        check_anon.detail
    );

    assert!(bad_report.error.is_some(), "{}", render_human(&bad_report));
    assert_eq!(bad_report.exit_code(), 2);
    // The wrong password was sent: the error says those credentials were refused (not "log in").
    assert!(
        bad_report
            .error
            .as_deref()
            .unwrap()
            .contains("were refused: check the user"),
        "{:?}",
        bad_report.error
    );
    for secret in [PASS, WRONG] {
        for (what, text) in [
            ("Debug check", format!("{check:?} {check_anon:?}")),
            ("JSON check", serde_json::to_string(&check).unwrap()),
            ("Debug report", format!("{report:?} {bad_report:?}")),
            (
                "JSON report",
                serde_json::to_string(&bad_report).unwrap()
                    + &serde_json::to_string(&report).unwrap(),
            ),
            (
                "human report",
                render_human(&bad_report) + &render_human(&report),
            ),
            ("Debug lookup", format!("{bad:?} {good:?}")),
        ] {
            assert!(!text.contains(secret), "{what} leaks the password: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_platform_index_lists_and_checks_every_platform() {
    const T: &str = "multi_platform_index_lists_and_checks_every_platform";
    let Some(registry) = Registry::start(T, None) else {
        return;
    };
    let host = registry.host.clone();
    let repo = "dockui-test/multi";
    let layer = support::upload_blob(
        &host,
        repo,
        b"not really a tar, the registry does not look",
        &[],
    );
    let mut children = Vec::new();
    for (arch, variant) in [("amd64", None), ("arm64", Some("v8"))] {
        let config = serde_json::json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = support::upload_blob(&host, repo, &config, &[]);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 44}],
        });
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = support::put_manifest(
            &host,
            repo,
            &support::sha256(&body),
            OCI_MANIFEST,
            &body,
            &[],
        );
        assert_eq!(digest, support::sha256(&body));
        let mut platform = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = v.into();
        }
        children.push(serde_json::json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": body.len(), "platform": platform}));
    }
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children});
    let index_body = serde_json::to_vec(&index).unwrap();
    let index_digest = support::put_manifest(&host, repo, "multi", OCI_INDEX, &index_body, &[]);

    let client = RegistryClient::new(CredentialLookup::none(), fast_retry()).unwrap();
    let name = ImageName::parse(&format!("{host}/{repo}")).unwrap();

    // Registry lag: the manifest appears while the check is retrying.
    let late = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": layer, "size": 44},
        "layers": [],
    }))
    .unwrap();
    let late_digest = support::sha256(&late);
    let patient = RegistryClient::new(
        CredentialLookup::none(),
        RetryPolicy {
            attempts: 8,
            initial_delay_ms: 100,
            max_delay_ms: 200,
            timeout_s: 5,
        },
    )
    .unwrap();
    let (h, r, d) = (host.clone(), repo.to_string(), late_digest.clone());
    let writer = tokio::task::spawn_blocking(move || {
        std::thread::sleep(std::time::Duration::from_millis(250));
        support::put_manifest(&h, &r, &d, OCI_MANIFEST, &late, &[])
    });
    let lagged = patient.check(&name, &late_digest).await;
    writer.await.unwrap();
    assert_eq!(lagged.verdict, Verdict::Pullable, "{lagged:#?}");
    assert!(lagged.attempts > 1, "{lagged:#?}");

    let check = client.check(&name, &index_digest).await;
    assert_eq!(check.verdict, Verdict::Pullable, "{check:#?}");
    assert_eq!(check.media_type.as_deref(), Some(OCI_INDEX));
    assert_eq!(
        check.registry_digest.as_deref(),
        Some(index_digest.as_str())
    );
    assert_eq!(check.digest_matches, Some(true));
    let platforms: Vec<(&str, Verdict)> = check
        .platforms
        .iter()
        .map(|p| (p.platform.as_str(), p.verdict))
        .collect();
    assert_eq!(
        platforms,
        vec![
            ("linux/amd64", Verdict::Pullable),
            ("linux/arm64/v8", Verdict::Pullable)
        ]
    );

    // Delete one child: the index still answers, the check names the broken platform.
    let arm = check.platforms[1].digest.clone();
    let r = http(
        &host,
        "DELETE",
        &format!("/v2/{repo}/manifests/{arm}"),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let check = client.check(&name, &index_digest).await;
    assert_eq!(check.platforms[0].verdict, Verdict::Pullable);
    assert_eq!(check.platforms[1].verdict, Verdict::NotFound);
    assert_eq!(check.verdict, Verdict::NotFound, "{check:#?}");
    assert!(check.detail.contains("linux/arm64/v8"), "{}", check.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_push_is_cancelled_by_dropping_its_future_and_the_next_one_works() {
    const T: &str = "a_push_is_cancelled_by_dropping_its_future_and_the_next_one_works";
    let Some(engine) = common::engine_or_skip(T).await else {
        return;
    };
    let Some(registry) = Registry::start(T, None) else {
        return;
    };
    let source = format!("dockui-test/registry-cancel:{}", std::process::id());
    if support::build_busybox(&engine, &source).await.is_none() {
        return;
    }
    let repo = format!("{}/dockui-test/cancel", registry.host);
    engine.tag(&source, &repo, "v1").await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancelled = tokio::select! {
        _ = engine.push(&repo, "v1", None, tx, std::time::Duration::from_secs(60)) => false,
        // The first progress message: the push is under way; dropping the future closes the connection.
        _ = rx.recv() => true,
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let again = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        engine.push(&repo, "v1", None, tx, std::time::Duration::from_secs(60)),
    )
    .await;
    support::remove_images(&engine, &[source.clone(), format!("{repo}:v1")]).await;
    assert!(cancelled, "the push ended before any progress arrived");
    let again = again
        .expect("the next push does not hang")
        .expect("the next push works");
    assert!(
        again.digest.is_some() && again.digest_confirmed,
        "{again:?}"
    );
}
