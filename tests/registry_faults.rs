//! A real docker-registry behind a fault-injecting proxy: forwarding (pullable), answering 500 (reported
//! as the registry's error with status and body, not as "did not answer"), stalling (unreachable, bounded).

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use dockui::registry::client::OCI_MANIFEST;
use dockui::registry::{CredentialLookup, ImageName, RegistryClient, RetryPolicy, Verdict};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const FORWARD: u8 = 0;
const FAIL_500: u8 = 1;
const STALL: u8 = 2;

const BODY_500: &str =
    r#"{"errors":[{"code":"UNKNOWN","message":"storage backend unavailable: s3 timeout"}]}"#;

/// Listen on a free port; per connection, do what `mode` says at that moment.
fn fault_proxy(upstream: String, mode: Arc<AtomicU8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let (upstream, mode) = (upstream.clone(), mode.load(Ordering::SeqCst));
            std::thread::spawn(move || serve(client, &upstream, mode));
        }
    });
    port
}

fn serve(mut client: TcpStream, upstream: &str, mode: u8) {
    match mode {
        FAIL_500 => {
            let mut buf = [0u8; 8192];
            let _ = client.read(&mut buf);
            let _ = write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY_500}",
                BODY_500.len()
            );
        }
        STALL => {
            // Accept, read, never answer: hold the connection until the client gives up.
            let mut buf = [0u8; 8192];
            let _ = client.read(&mut buf);
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        _ => {
            let Ok(up) = TcpStream::connect(upstream) else {
                return;
            };
            let (mut c2, mut u2) = (client.try_clone().unwrap(), up.try_clone().unwrap());
            let mut up = up;
            let t = std::thread::spawn(move || {
                let _ = std::io::copy(&mut u2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Both);
            });
            let _ = std::io::copy(&mut client, &mut up);
            let _ = up.shutdown(std::net::Shutdown::Write);
            let _ = t.join();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_answering_500_is_reported_with_status_and_body_and_a_stall_is_bounded() {
    const T: &str =
        "a_registry_answering_500_is_reported_with_status_and_body_and_a_stall_is_bounded";
    let Some(registry) = support::Registry::start(T, None) else {
        return;
    };
    let repo = "dockui-test/faults";
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = support::upload_blob(&registry.host, repo, config, &[]);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": layer, "size": config.len()},
        "layers": [],
    }))
    .unwrap();
    let digest = support::put_manifest(&registry.host, repo, "v1", OCI_MANIFEST, &manifest, &[]);

    let mode = Arc::new(AtomicU8::new(FORWARD));
    let port = fault_proxy(registry.host.clone(), mode.clone());
    let name = ImageName::parse(&format!("127.0.0.1:{port}/{repo}")).unwrap();
    // A fresh client (and connection pool) per phase: the proxy picks its behaviour per connection.
    let client = || {
        RegistryClient::new(
            CredentialLookup::none(),
            RetryPolicy {
                attempts: 2,
                initial_delay_ms: 50,
                max_delay_ms: 100,
                timeout_s: 3,
            },
        )
        .unwrap()
    };

    // Through the proxy, the real registry serves the digest.
    let ok = client().check(&name, &digest).await;
    assert_eq!(ok.verdict, Verdict::Pullable, "{ok:#?}");

    mode.store(FAIL_500, Ordering::SeqCst);
    let failed = client().check(&name, &digest).await;
    assert_eq!(failed.verdict, Verdict::ServerError, "{failed:#?}");
    assert!(failed.detail.contains("500"), "{failed:#?}");
    assert!(
        failed.detail.contains("storage backend unavailable"),
        "the body excerpt: {failed:#?}"
    );
    assert!(!failed.what_to_do.contains("did not answer"), "{failed:#?}");
    assert_eq!(failed.attempts, 2, "a 500 is retried");

    mode.store(STALL, Ordering::SeqCst);
    let t0 = std::time::Instant::now();
    let stalled = client().check(&name, &digest).await;
    assert_eq!(stalled.verdict, Verdict::Unreachable, "{stalled:#?}");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(20),
        "bounded by the timeout: {:?}",
        t0.elapsed()
    );
    eprintln!(
        "registry faults: 500 -> {} after {} tries; stall -> {} after {:.1}s",
        failed.verdict,
        failed.attempts,
        stalled.verdict,
        t0.elapsed().as_secs_f64()
    );
}

/// Checks through the 500 proxy instead of the registry the push went to.
struct ThroughProxy {
    port: u16,
    client: RegistryClient,
}

impl dockui::registry::client::RegistryPort for ThroughProxy {
    fn check<'a>(
        &'a self,
        name: &'a ImageName,
        digest: &'a str,
    ) -> futures_util::future::BoxFuture<'a, dockui::registry::PullCheck> {
        Box::pin(async move {
            let proxied =
                ImageName::parse(&format!("127.0.0.1:{}/{}", self.port, name.repository)).unwrap();
            self.client.check(&proxied, digest).await
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_failed_verification_reports_the_digest_the_engine_printed() {
    const T: &str = "a_failed_verification_reports_the_digest_the_engine_printed";
    let engine = common::engine_or_skip(T).await.unwrap();
    let Some(registry) = support::Registry::start(T, None) else {
        return;
    };
    let source = format!("dockui-test/registry-faults:{}", std::process::id());
    let Some(_) = support::build_busybox(&engine, &source).await else {
        return;
    };
    let req = dockui::registry::pipeline::PushRequest {
        source_image: source.clone(),
        config: dockui::registry::PushConfig {
            registry: registry.host.clone(),
            repository: "dockui-test/verify".into(),
            tags: vec!["v1".into()],
            retry: RetryPolicy {
                attempts: 1,
                initial_delay_ms: 50,
                max_delay_ms: 100,
                timeout_s: 3,
            },
            ..Default::default()
        },
        default_tag: String::new(),
        project_dir: None,
    };
    let mode = Arc::new(AtomicU8::new(FAIL_500));
    let port = fault_proxy(registry.host.clone(), mode);
    let checker = ThroughProxy {
        port,
        client: RegistryClient::new(CredentialLookup::none(), req.config.retry.clone()).unwrap(),
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let report = dockui::registry::pipeline::push_and_verify(
        &engine,
        &checker,
        &CredentialLookup::none(),
        &req,
        tx,
    )
    .await;
    let pushed = format!("{}/dockui-test/verify:v1", registry.host);
    support::remove_images(&engine, &[source.clone(), pushed]).await;
    assert_eq!(report.error, None, "{report:#?}");
    assert_eq!(report.verdict, Some(Verdict::ServerError), "{report:#?}");
    let printed = report.tags[0]
        .digest
        .clone()
        .expect("the engine printed a digest");
    assert_eq!(
        report.digest.as_deref(),
        Some(printed.as_str()),
        "{report:#?}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["digest"], printed.as_str(), "not null in the JSON");
    assert_eq!(report.exit_code(), 1);
}

/// A registry that answers `GET /v2/` and then stalls: every other request is read and never answered (each
/// is announced on the channel). A TLS hello (the engine tries HTTPS first) is closed at once.
fn stalling_registry() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let n = client.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                if n == 0 || buf[0] == 0x16 {
                    return;
                }
                if head.starts_with("GET /v2/ ") {
                    let _ = write!(
                        client,
                        "HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                    );
                    return;
                }
                let _ = tx.send(head.lines().next().unwrap_or_default().to_string());
                std::thread::sleep(std::time::Duration::from_secs(600));
            });
        }
    });
    (port, rx)
}

use common::exit_within;

/// A registry that stops answering mid-push: `dockui push` fails (exit 2) once the engine has reported no
/// progress for `[push.retry] timeout_s`, naming the registry; and a SIGINT during such a push exits 130
/// with one JSON report on stdout that says the push was interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_push_to_a_registry_that_stalls_fails_as_stalled_and_a_signal_ends_it() {
    const T: &str = "a_push_to_a_registry_that_stalls_fails_as_stalled_and_a_signal_ends_it";
    let Some(engine) = common::engine_or_skip(T).await else {
        return;
    };
    let source = format!("dockui-test/registry-stall:{}", std::process::id());
    if support::build_busybox(&engine, &source).await.is_none() {
        return;
    }
    let (port, requests) = stalling_registry();
    let target = format!("127.0.0.1:{port}/audit/hang:1");
    let repo = format!("127.0.0.1:{port}/audit/hang");
    engine.tag(&source, &repo, "1").await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[push.retry]\nattempts = 1\ntimeout_s = 3\n").unwrap();
    let spawn = |config: Option<&std::path::Path>, target: &str| {
        let mut cmd = common::dockui(home.path());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["push", target, "--format", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    // Stalled: no progress for 3 s -> exit 2, the registry named.
    let t0 = std::time::Instant::now();
    let mut child = spawn(Some(&config), &target);
    let out = exit_within(
        &mut child,
        std::time::Duration::from_secs(90),
        "stalled push",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one JSON report ({e}): {stderr}"));
    let error = report["error"].as_str().unwrap_or_default();
    assert_eq!(out.status.code(), Some(2), "{report:#}\n{stderr}");
    assert!(
        error.contains(&format!(
            "push to 127.0.0.1:{port} stalled: the registry stopped answering"
        )) && error.contains("no progress for 3 s"),
        "{error}"
    );
    assert!(requests.try_recv().is_ok(), "the engine reached the stall");
    eprintln!(
        "stalled push failed after {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    // Interrupted (the stall bound is 30 s by default): 130 at once, the report says so. Another registry:
    // the engine may still hold the first push's stalled upload, and a second push of the same layers to the
    // same place waits for it without a request of its own.
    let (port2, requests) = stalling_registry();
    let target2 = format!("127.0.0.1:{port2}/audit/hang:1");
    let repo2 = format!("127.0.0.1:{port2}/audit/hang");
    engine.tag(&source, &repo2, "1").await.unwrap();
    let mut child = spawn(None, &target2);
    requests
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the engine's push reaches the stalling registry");
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = exit_within(&mut child, std::time::Duration::from_secs(5), "SIGINT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one JSON report ({e}): {stderr}"));
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("push of {target2} interrupted (SIGINT)")),
        "{report:#}"
    );
    support::remove_images(
        &engine,
        &[source, format!("{repo}:1"), format!("{repo2}:1")],
    )
    .await;
}
