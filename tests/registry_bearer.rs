//! The Bearer token flow, HEAD refused, identity tokens and a lying registry, against a small fake registry on a
//! loopback port (Debian's docker-registry only does htpasswd Basic auth; Docker Hub, GHCR and most hosted
//! registries answer with a Bearer challenge).

use dockui::registry::client::OCI_MANIFEST;
use dockui::registry::credentials::{CredentialLookup, CredentialSource, Credentials, SecretKind};
use dockui::registry::{ImageName, RegistryClient, RetryPolicy, Secret, Verdict};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const USER: &str = "robot";
const PASS: &str = "s3cret-bearer-pass";
const REFRESH: &str = "s3cret-refresh-token";
const TOKEN: &str = "s3cret-access-token";
const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    HeadRefused,
    WrongDigest,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    auth: Option<String>,
    body: String,
}

struct FakeRegistry {
    host: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn start(mode: Mode) -> FakeRegistry {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (seen2, stop2, host2) = (seen.clone(), stop.clone(), host.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let _ = serve(conn, mode, &host2, &seen2);
        }
    });
    FakeRegistry { host, seen, stop }
}

fn serve(conn: TcpStream, mode: Mode, host: &str, seen: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut auth = None;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" => auth = Some(v.trim().to_string()),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).to_string();
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        auth: auth.clone(),
        body: body.clone(),
    });

    let digest = dockui::registry::client::sha256_digest(MANIFEST);
    let bearer_ok = auth.as_deref() == Some(&format!("Bearer {TOKEN}"));
    let challenge = format!(
        "WWW-Authenticate: Bearer realm=\"http://{host}/token\",service=\"fake-registry\",scope=\"repository:dockui-test/app:pull\"\r\n"
    );
    let (status, headers, payload): (&str, String, Vec<u8>) = if target.starts_with("/token") {
        let granted = if method == "POST" {
            body.contains(&format!("refresh_token={REFRESH}"))
                && body.contains("grant_type=refresh_token")
        } else {
            auth.as_deref() == Some(basic(USER, PASS).as_str())
        };
        if granted {
            let key = if method == "POST" {
                "access_token"
            } else {
                "token"
            };
            (
                "200 OK",
                "Content-Type: application/json\r\n".into(),
                format!("{{\"{key}\":\"{TOKEN}\"}}").into_bytes(),
            )
        } else if auth.is_none() && method == "GET" {
            // Anonymous pull tokens exist, but this repository is private: the token is refused below.
            (
                "200 OK",
                "Content-Type: application/json\r\n".into(),
                b"{\"token\":\"anonymous\"}".to_vec(),
            )
        } else {
            (
                "401 Unauthorized",
                String::new(),
                b"{\"details\":\"incorrect username or password\"}".to_vec(),
            )
        }
    } else if target.starts_with("/v2/dockui-test/app/manifests/") {
        if !bearer_ok {
            (
                "401 Unauthorized",
                challenge,
                b"{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".to_vec(),
            )
        } else if method == "HEAD" && mode == Mode::HeadRefused {
            ("405 Method Not Allowed", String::new(), Vec::new())
        } else if target.ends_with(&digest) {
            let served = if mode == Mode::WrongDigest {
                "sha256:9999999999999999999999999999999999999999999999999999999999999999"
                    .to_string()
            } else {
                digest.clone()
            };
            (
                "200 OK",
                format!("Content-Type: {OCI_MANIFEST}\r\nDocker-Content-Digest: {served}\r\n"),
                if method == "HEAD" {
                    Vec::new()
                } else {
                    MANIFEST.to_vec()
                },
            )
        } else {
            (
                "404 Not Found",
                String::new(),
                b"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".to_vec(),
            )
        }
    } else {
        ("404 Not Found", String::new(), Vec::new())
    };
    let content_length = if method == "HEAD" && status.starts_with("200") {
        MANIFEST.len()
    } else {
        payload.len()
    };
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    )?;
    out.write_all(&payload)?;
    out.flush()
}

fn lookup(user: &str, pass: &str) -> CredentialLookup {
    CredentialLookup {
        env_user: Some(user.into()),
        env_password: Some(Secret::new(pass)),
        ..CredentialLookup::none()
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        initial_delay_ms: 20,
        max_delay_ms: 40,
        timeout_s: 5,
    }
}

fn name(reg: &FakeRegistry) -> ImageName {
    ImageName::parse(&format!("{}/dockui-test/app", reg.host)).unwrap()
}

fn digest() -> String {
    dockui::registry::client::sha256_digest(MANIFEST)
}

#[tokio::test]
async fn bearer_challenge_gets_a_token_with_scope_and_service_then_head_passes() {
    let reg = start(Mode::Normal);
    let client = RegistryClient::new(lookup(USER, PASS), retry()).unwrap();
    let check = client.check(&name(&reg), &digest()).await;
    assert_eq!(check.verdict, Verdict::Pullable, "{check:#?}");
    assert_eq!(check.method, "HEAD");
    assert_eq!(check.registry_digest.as_deref(), Some(digest().as_str()));
    assert_eq!(check.digest_matches, Some(true));
    let seen = reg.seen.lock().unwrap().clone();
    let token_req = seen
        .iter()
        .find(|s| s.target.starts_with("/token"))
        .expect("a token request");
    assert!(
        token_req.target.contains("service=fake-registry"),
        "{token_req:?}"
    );
    assert!(
        token_req
            .target
            .contains("scope=repository%3Adockui-test%2Fapp%3Apull"),
        "{token_req:?}"
    );
    assert_eq!(token_req.auth.as_deref(), Some(basic(USER, PASS).as_str()));
    assert!(
        seen.iter()
            .all(|s| s.method != "GET" || s.target.starts_with("/token")),
        "no layer or manifest GET: {seen:?}"
    );
    let text = format!("{check:?}{}", serde_json::to_string(&check).unwrap());
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn wrong_password_and_anonymous_are_unauthorized_without_leaking() {
    let reg = start(Mode::Normal);
    let wrong = RegistryClient::new(lookup(USER, "s3cret-wrong"), retry()).unwrap();
    let check = wrong.check(&name(&reg), &digest()).await;
    assert_eq!(check.verdict, Verdict::Unauthorized, "{check:#?}");
    assert!(
        check.detail.contains("refused the credentials"),
        "{}",
        check.detail
    );
    let text = format!(
        "{check:?}{}{}",
        serde_json::to_string(&check).unwrap(),
        check.what_to_do
    );
    assert!(!text.contains("s3cret"), "{text}");

    let anon = RegistryClient::new(CredentialLookup::none(), retry()).unwrap();
    let check = anon.check(&name(&reg), &digest()).await;
    assert_eq!(check.verdict, Verdict::Unauthorized, "{check:#?}");
}

#[tokio::test]
async fn identity_tokens_use_the_oauth_refresh_grant() {
    let reg = start(Mode::Normal);
    let mut l = CredentialLookup::none();
    // A helper answering "<token>" or an `identitytoken` entry: here through a fake config file.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        format!(
            "{{\"auths\":{{\"{}\":{{\"identitytoken\":\"{REFRESH}\"}}}}}}",
            reg.host
        ),
    )
    .unwrap();
    l.docker_config = Some(cfg);
    let resolved: Credentials = l.resolve(&reg.host).await.unwrap().unwrap();
    assert_eq!(resolved.kind, SecretKind::IdentityToken);
    assert!(matches!(
        resolved.source,
        CredentialSource::DockerConfig { .. }
    ));
    let client = RegistryClient::new(l, retry()).unwrap();
    let check = client.check(&name(&reg), &digest()).await;
    assert_eq!(check.verdict, Verdict::Pullable, "{check:#?}");
    let seen = reg.seen.lock().unwrap().clone();
    let post = seen
        .iter()
        .find(|s| s.method == "POST")
        .expect("a POST to the realm");
    assert!(
        post.body.contains("grant_type=refresh_token")
            && post.body.contains("service=fake-registry"),
        "{post:?}"
    );
}

#[tokio::test]
async fn head_refused_falls_back_to_get_and_hashes_the_body() {
    let reg = start(Mode::HeadRefused);
    let client = RegistryClient::new(lookup(USER, PASS), retry()).unwrap();
    let check = client.check(&name(&reg), &digest()).await;
    assert_eq!(check.verdict, Verdict::Pullable, "{check:#?}");
    assert_eq!(check.method, "GET");
    assert_eq!(check.digest_matches, Some(true));
}

#[tokio::test]
async fn a_registry_serving_another_digest_is_not_pullable_by_digest() {
    let reg = start(Mode::WrongDigest);
    let client = RegistryClient::new(lookup(USER, PASS), retry()).unwrap();
    let check = client.check(&name(&reg), &digest()).await;
    assert_eq!(check.digest_matches, Some(false));
    assert_eq!(check.verdict, Verdict::NotFound, "{check:#?}");
    assert!(
        check.detail.contains("served sha256:9999"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn check_reference_takes_what_a_user_pastes() {
    let reg = start(Mode::Normal);
    let client = RegistryClient::new(lookup(USER, PASS), retry()).unwrap();
    let check = client
        .check_reference(&format!("{}/dockui-test/app@{}", reg.host, digest()))
        .await
        .unwrap();
    assert_eq!(check.verdict, Verdict::Pullable);
    let e = client
        .check_reference(&format!("{}/dockui-test/app:v1", reg.host))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no @sha256"), "{e}");
}
