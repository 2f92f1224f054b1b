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
