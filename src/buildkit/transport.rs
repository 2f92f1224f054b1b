//! How a gRPC channel reaches BuildKit's Control API: a daemon on a unix socket, on tcp (plain or mTLS), or the
//! Docker engine's embedded BuildKit behind its `POST /grpc` endpoint (an HTTP/1.1 upgrade to h2c).

use hyper_util::rt::TokioIo;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::{Channel, Endpoint, Uri};

/// TLS material for a BuildKit daemon on tcp (buildctl's `--tlscacert/--tlscert/--tlskey/--tlsservername`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Name to check the daemon's certificate against; empty: the host of the address.
    pub server_name: String,
}

impl TlsFiles {
    pub fn is_set(&self) -> bool {
        self.ca.is_some() || self.cert.is_some() || self.key.is_some()
    }
}

/// Where the Control API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
    /// The Docker engine's `/grpc` over its unix socket or plain tcp.
    EngineGrpc(Box<Target>),
    /// The Docker engine's `/grpc` over a connection someone else opens (TLS from the CLI's files, ssh).
    EngineGrpcVia(Dial),
}

/// Opens one raw connection to an engine (the remote-engine adapter's dialer).
pub type DialFn = Arc<
    dyn Fn() -> futures_util::future::BoxFuture<'static, std::io::Result<Box<dyn Io>>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub struct Dial {
    pub dial: DialFn,
    /// What messages show, e.g. `tcp://host:2376`.
    pub describe: String,
}

impl std::fmt::Debug for Dial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dial({})", self.describe)
    }
}

impl PartialEq for Dial {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.dial, &other.dial)
    }
}

impl Eq for Dial {}

/// An address as it may be shown: the one redaction every endpoint uses.
pub use crate::docker::endpoint::redact;

impl Target {
    /// Parse a `BUILDKIT_HOST` address: `unix:///run/buildkit/buildkitd.sock`, `tcp://host:1234`.
    pub fn parse(address: &str, tls: TlsFiles) -> Result<Target, String> {
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(format!("{address}: no socket path after unix://"));
            }
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = address.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            if rest.contains('@') {
                return Err(format!(
                    "{}: a BuildKit daemon has no user/password login (the part before `@` is not shown); it authenticates clients by mTLS: BUILDKIT_TLS_CA / BUILDKIT_TLS_CERT / BUILDKIT_TLS_KEY or [engine] buildkit_ca / buildkit_cert / buildkit_key, with tcp://HOST:PORT",
                    redact(address)
                ));
            }
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| format!("{address}: the port is missing (tcp://HOST:PORT)"))?;
            let port: u16 = port
                .parse()
                .map_err(|_| format!("{address}: `{port}` is not a port number"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(format!("{address}: the host is missing (tcp://HOST:PORT)"));
            }
            return Ok(Target::Tcp {
                host: host.to_string(),
                port,
                tls: tls.is_set().then_some(tls),
            });
        }
        if !address.contains("://") {
            return Err(format!(
                "{address}: no scheme: write tcp://{address} for a daemon listening on tcp, or unix:///PATH for its socket"
            ));
        }
        let scheme = address.split("://").next().unwrap_or(address);
        Err(format!(
            "{address}: dockui reaches a BuildKit daemon over unix:// or tcp:// (with mTLS); `{scheme}://` is not supported (expose the daemon on a socket or a tcp port)"
        ))
    }

    /// The engine's `/grpc` endpoint for a Docker host address (`unix:///var/run/docker.sock`, `tcp://h:2375`).
    /// TLS and ssh engines are not handled here.
    pub fn engine(docker_host: &str) -> Option<Target> {
        let inner = if let Some(path) = docker_host.strip_prefix("unix://") {
            Target::Unix(PathBuf::from(path))
        } else if docker_host.starts_with('/') {
            Target::Unix(PathBuf::from(docker_host))
        } else if docker_host.starts_with("tcp://") {
            match Target::parse(docker_host, TlsFiles::default()).ok()? {
                t @ Target::Tcp { tls: None, .. } => t,
                _ => return None,
            }
        } else {
            return None;
        };
        Some(Target::EngineGrpc(Box::new(inner)))
    }

    /// Open a gRPC channel (HTTP/2). Connection errors show up at the first call, not here.
    pub async fn channel(&self) -> Result<Channel, String> {
        // Wide HTTP/2 windows: the session (and with it the build context) shares this connection.
        let endpoint = Endpoint::from_static("http://buildkitd")
            .connect_timeout(std::time::Duration::from_secs(10))
            .initial_stream_window_size(Some(8 << 20))
            .initial_connection_window_size(Some(16 << 20));
        let tls = match self {
            Target::Tcp {
                tls: Some(t), host, ..
            } => Some(Arc::new(tls_config(t, host)?)),
            _ => None,
        };
        endpoint
            .connect_with_connector(Connector {
                target: self.clone(),
                tls,
            })
            .await
            .map_err(|e| crate::buildkit::error_chain(&e))
    }
}

/// A boxed byte stream that tonic can drive.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

#[derive(Clone)]
struct Connector {
    target: Target,
    tls: Option<Arc<(rustls::ClientConfig, rustls::pki_types::ServerName<'static>)>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Box<dyn Io>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(TokioIo::new(this.open().await?)) })
    }
}

impl Connector {
    async fn open(&self) -> Result<Box<dyn Io>, BoxError> {
        match &self.target {
            Target::EngineGrpc(inner) => {
                let raw = raw_connect(inner).await?;
                Ok(upgrade_grpc(raw).await?)
            }
            Target::EngineGrpcVia(d) => {
                let raw = (d.dial)().await?;
                Ok(upgrade_grpc(raw).await?)
            }
            Target::Tcp { .. } if self.tls.is_some() => {
                let raw = raw_connect(&self.target).await?;
                let (config, name) = self.tls.as_deref().expect("checked above");
                let tls = tokio_rustls::TlsConnector::from(Arc::new(config.clone()))
                    .connect(name.clone(), raw)
                    .await?;
                Ok(Box::new(tls))
            }
            other => Ok(raw_connect(other).await?),
        }
    }
}

async fn raw_connect(target: &Target) -> std::io::Result<Box<dyn Io>> {
    match target {
        Target::Unix(path) => {
            let s = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            Ok(Box::new(s))
        }
        Target::Tcp { host, port, .. } => {
            let s = tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(|e| std::io::Error::new(e.kind(), format!("{host}:{port}: {e}")))?;
            s.set_nodelay(true)?;
            Ok(Box::new(s))
        }
        Target::EngineGrpc(_) | Target::EngineGrpcVia(_) => {
            Err(std::io::Error::other("nested /grpc upgrade"))
        }
    }
}

/// `POST /grpc` with `Upgrade: h2c` on the engine's API: after `101 Switching Protocols` the connection
/// speaks HTTP/2 to the engine's BuildKit controller.
async fn upgrade_grpc(raw: Box<dyn Io>) -> Result<Box<dyn Io>, BoxError> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(raw)).await?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let req = hyper::Request::post("/grpc")
        .header(hyper::header::HOST, "docker")
        .header(hyper::header::CONNECTION, "Upgrade")
        .header(hyper::header::UPGRADE, "h2c")
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let res = sender.send_request(req).await?;
    if res.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
        return Err(format!(
            "the engine answered {} to POST /grpc (it has no BuildKit endpoint: Podman, or an engine older than API 1.39)",
            res.status()
        )
        .into());
    }
    let upgraded = hyper::upgrade::on(res).await?;
    Ok(Box::new(TokioIo::new(upgraded)))
}

fn tls_config(
    files: &TlsFiles,
    host: &str,
) -> Result<(rustls::ClientConfig, rustls::pki_types::ServerName<'static>), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    use crate::buildkit::{TLS_CA_FROM, TLS_CERT_FROM};
    // Each message names the file, where it is set, and what to do: the transport explanation leaves such
    // messages as they are (`buildkit::explain_transport`).
    let unreadable = |what: &str, path: &std::path::Path, from: &str, e: &dyn std::fmt::Display| {
        format!(
            "cannot read the {what} {} (set by {from}): {e}; what to do: check that the file exists and \
             is readable, or point the setting at the right file",
            path.display()
        )
    };
    let Some(ca) = &files.ca else {
        return Err(format!(
            "mTLS to the BuildKit daemon needs its CA certificate; what to do: set {TLS_CA_FROM} to the CA \
             that signed the daemon's certificate"
        ));
    };
    for cert in CertificateDer::pem_file_iter(ca)
        .map_err(|e| unreadable("CA certificate", ca, TLS_CA_FROM, &e))?
    {
        let cert = cert.map_err(|e| {
            unreadable(
                "CA certificate",
                ca,
                TLS_CA_FROM,
                &format!("not a PEM certificate: {e}"),
            )
        })?;
        roots.add(cert).map_err(|e| {
            unreadable(
                "CA certificate",
                ca,
                TLS_CA_FROM,
                &format!("unusable CA certificate: {e}"),
            )
        })?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let mut config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                .map_err(|e| unreadable("client certificate", cert, TLS_CERT_FROM, &e))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| unreadable("client key", key, TLS_CERT_FROM, &e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!(
                    "the client certificate and key do not fit together: {e}; what to do: give the key made \
                     with that certificate ({TLS_CERT_FROM})"
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(format!(
                "mTLS needs both the client certificate and its key; what to do: set both ({TLS_CERT_FROM})"
            ));
        }
    };
    // gRPC servers (buildkitd is grpc-go) insist on ALPN h2.
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = if files.server_name.is_empty() {
        host.to_string()
    } else {
        files.server_name.clone()
    };
    let name = ServerName::try_from(name.clone())
        .map_err(|_| {
            format!(
                "`{name}` is not a valid TLS server name; what to do: set BUILDKIT_TLS_SERVERNAME (or the host \
                 in the address) to a host name or IP address"
            )
        })?;
    Ok((config, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_like_buildctl() {
        assert_eq!(
            Target::parse("unix:///run/buildkit/buildkitd.sock", TlsFiles::default()),
            Ok(Target::Unix("/run/buildkit/buildkitd.sock".into()))
        );
        assert_eq!(
            Target::parse("tcp://builder:1234", TlsFiles::default()),
            Ok(Target::Tcp {
                host: "builder".into(),
                port: 1234,
                tls: None
            })
        );
        let tls = TlsFiles {
            ca: Some("/c/ca.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            Target::parse("tcp://[::1]:1234", tls),
            Ok(Target::Tcp { ref host, tls: Some(_), .. }) if host == "::1"
        ));
        let err = Target::parse("tcp://builder", TlsFiles::default()).unwrap_err();
        assert!(err.contains("port is missing"), "{err}");
        let err =
            Target::parse("docker-container://buildx_buildkit", TlsFiles::default()).unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn credentials_in_an_address_are_refused_and_never_shown() {
        let err = Target::parse("tcp://ci:hunter2@builder:1234", TlsFiles::default()).unwrap_err();
        assert!(!err.contains("hunter2") && !err.contains("ci:"), "{err}");
        assert!(
            err.contains("tcp://***@builder:1234") && err.contains("mTLS"),
            "{err}"
        );
        assert_eq!(
            redact("tcp://ci:hunter2@builder:1234"),
            "tcp://***@builder:1234"
        );
        assert_eq!(redact("tcp://builder:1234"), "tcp://builder:1234");
        assert_eq!(
            redact("unix:///run/a@b/buildkitd.sock"),
            "unix:///run/a@b/buildkitd.sock"
        );
        // Through the settings every message and result uses.
        let config = crate::config::Config::default();
        let s = super::super::Settings::resolve_with(
            &config,
            Some("tcp://ci:hunter2@builder:1234".into()),
        )
        .unwrap();
        assert_eq!(s.address, "tcp://***@builder:1234");
        let err = super::super::BuildkitBuilder::connect(&s).err().unwrap();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn an_address_without_a_scheme_says_which_to_write() {
        let err = Target::parse("127.0.0.1:1234", TlsFiles::default()).unwrap_err();
        assert!(err.contains("write tcp://127.0.0.1:1234"), "{err}");
        assert!(!err.contains("`127.0.0.1:1234://`"), "{err}");
    }

    #[test]
    fn only_plain_engine_endpoints_get_a_grpc_target() {
        assert!(matches!(
            Target::engine("unix:///var/run/docker.sock"),
            Some(Target::EngineGrpc(_))
        ));
        assert!(Target::engine("ssh://me@host").is_none());
    }
}
