//! Transports to remote engines that bollard's own connectors do not cover the way the docker CLI does:
//!
//! - tcp with TLS from the CLI's files: the CA is optional (system roots), the client certificate is
//!   optional, `SkipTLSVerify` / `DOCKER_TLS` skip verification; bollard's `connect_with_ssl` needs all three
//!   files and always loads the native roots.
//! - ssh: the system `ssh` (the user's config, agent and known_hosts) runs `docker system dial-stdio` on the
//!   remote, like the docker CLI; bollard's ssh connector drops the port of `ssh://host:2222`.
//!
//! Each request opens its own connection (as bollard does with `pool_max_idle_per_host(0)`), so an HTTP
//! upgrade (BuildKit's session, `/grpc`) owns its connection. When ssh fails, its stderr (host key, refused,
//! no docker on the remote) becomes the innermost cause of the error, where `diagnose` finds it.

use super::endpoint::{SshTarget, TlsFiles};
use bollard::BollardRequest;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// A byte stream to the engine's API.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// How to open one connection to a remote engine.
#[derive(Clone)]
pub enum Dialer {
    Tls {
        /// `host:port`.
        addr: String,
        server_name: ServerName<'static>,
        connector: tokio_rustls::TlsConnector,
    },
    Ssh(SshTarget),
}

/// A connection, and for ssh the process behind it (kept alive as long as the connection) and its stderr.
pub struct Conn {
    pub io: Box<dyn Io>,
    pub ssh: Option<SshProcess>,
}

pub struct SshProcess {
    pub target: SshTarget,
    pub child: tokio::process::Child,
    /// Resolves to ssh's stderr once ssh has closed it (exited).
    pub stderr: tokio::task::JoinHandle<String>,
}

/// ssh's account of why the connection failed: the innermost error of the chain.
#[derive(Debug, thiserror::Error)]
#[error("ssh {target}: {stderr}")]
pub struct SshFailure {
    pub target: String,
    pub stderr: String,
}

/// The HTTP error, with what ssh said as its source.
#[derive(Debug, thiserror::Error)]
#[error("{http}")]
pub struct WithSsh {
    http: String,
    #[source]
    ssh: SshFailure,
}

impl Dialer {
    pub async fn dial(&self) -> io::Result<Conn> {
        match self {
            Dialer::Tls {
                addr,
                server_name,
                connector,
            } => {
                let tcp = tokio::net::TcpStream::connect(addr.as_str()).await?;
                let tls = connector.connect(server_name.clone(), tcp).await?;
                Ok(Conn {
                    io: Box::new(tls),
                    ssh: None,
                })
            }
            Dialer::Ssh(target) => spawn_ssh(target),
        }
    }

    /// The host header value.
    fn authority(&self) -> String {
        match self {
            Dialer::Tls { addr, .. } => addr.clone(),
            // What the docker CLI sends through dial-stdio.
            Dialer::Ssh(_) => "docker".into(),
        }
    }
}

/// `ssh [-l USER] [-p PORT] -- HOST docker system dial-stdio`, as the docker CLI runs it. BatchMode: never
/// prompt (the TUI owns the terminal); an unknown host key or a missing key is an error with its cause.
pub fn ssh_command(target: &SshTarget) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.args(["-o", "ConnectTimeout=30", "-o", "BatchMode=yes", "-T"]);
    if let Some(u) = &target.user {
        cmd.arg("-l").arg(u);
    }
    if let Some(p) = target.port {
        cmd.arg("-p").arg(p.to_string());
    }
    cmd.arg("--")
        .arg(&target.host)
        .args(["docker", "system", "dial-stdio"]);
    cmd
}

fn spawn_ssh(target: &SshTarget) -> io::Result<Conn> {
    let mut cmd = ssh_command(target);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot run the ssh client for ssh://{target}: {e} (install openssh-client)"),
        )
    })?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let stderr = tokio::spawn(async move {
        // The last 64 KiB is plenty for any ssh diagnostic; the rest is read and dropped, so a chatty
        // remote neither grows memory nor blocks ssh on a full pipe.
        const KEEP: usize = 64 * 1024;
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > KEEP {
                buf.drain(..buf.len() - KEEP);
            }
        }
        last_lines(&String::from_utf8_lossy(&buf), 3)
    });
    Ok(Conn {
        io: Box::new(tokio::io::join(stdout, stdin)),
        ssh: Some(SshProcess {
            target: target.clone(),
            child,
            stderr,
        }),
    })
}

/// ssh's stderr in one line: its last few non-empty lines (a changed host key comes with a banner of
/// `@` lines before the sentence that matters).
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("@@@"))
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// Send one request over a fresh connection; upgrades (BuildKit session, /grpc) keep the connection.
pub async fn send(
    dialer: &Dialer,
    mut req: BollardRequest,
) -> Result<hyper::Response<Incoming>, bollard::errors::Error> {
    // bollard builds absolute URIs (scheme://addr/path); a connection of our own speaks origin-form.
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    *req.uri_mut() = path.parse().map_err(bollard::errors::Error::from)?;
    if !req.headers().contains_key(hyper::header::HOST) {
        let host = dialer
            .authority()
            .parse()
            .map_err(|_| io::Error::other("invalid host header"))?;
        req.headers_mut().insert(hyper::header::HOST, host);
    }
    let Conn { io, ssh } = dialer.dial().await?;
    let (child, stderr, target) = match ssh {
        Some(p) => (Some(p.child), Some(p.stderr), Some(p.target)),
        None => (None, None, None),
    };
    let result = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        let driver = tokio::spawn(async move {
            let r = connection.with_upgrades().await;
            // ssh ends with the connection (kill_on_drop).
            drop(child);
            r
        });
        match sender.send_request(req).await {
            Ok(resp) => Ok(resp),
            // The connection failed before the request went out (a TLS alert right after a TLS 1.3
            // handshake: the engine refused our client certificate): its error is the one that says why.
            Err(e) if e.is_canceled() => {
                match tokio::time::timeout(std::time::Duration::from_secs(5), driver).await {
                    Ok(Ok(Err(conn_err))) => Err(conn_err),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
    .await;
    match (result, stderr) {
        (Ok(resp), _) => Ok(resp),
        (Err(e), Some(stderr)) => {
            // ssh has exited (the connection closed): its stderr is complete or about to be.
            let said = tokio::time::timeout(std::time::Duration::from_secs(5), stderr)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            if said.is_empty() {
                return Err(e.into());
            }
            let failure = SshFailure {
                target: target.map(|t| t.to_string()).unwrap_or_default(),
                stderr: said,
            };
            Err(io::Error::other(WithSsh {
                http: e.to_string(),
                ssh: failure,
            })
            .into())
        }
        (Err(e), None) => match tls_probe(dialer).await {
            // A failed request over TLS: ask a fresh connection why (the alert the engine sends).
            Some(cause) => Err(io::Error::new(
                cause.kind(),
                TlsRefused {
                    http: e.to_string(),
                    cause,
                },
            )
            .into()),
            None => Err(e.into()),
        },
    }
}

/// The HTTP error, with the TLS error a fresh connection got as its source.
#[derive(Debug, thiserror::Error)]
#[error("{http}")]
pub struct TlsRefused {
    http: String,
    #[source]
    cause: io::Error,
}

/// After a TLS 1.3 handshake the client is done before the engine has checked its certificate: a refusal
/// (an alert) arrives while the request is being written, and the write error ("connection reset") hides
/// it. On failure only, open a connection and wait briefly for anything the engine sends unasked: an
/// alert comes back as the error that names the cause; silence (up to a second) or EOF means no TLS cause.
async fn tls_probe(dialer: &Dialer) -> Option<io::Error> {
    if !matches!(dialer, Dialer::Tls { .. }) {
        return None;
    }
    let mut conn = match dialer.dial().await {
        Ok(c) => c,
        Err(e) => return Some(e),
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(std::time::Duration::from_secs(1), conn.io.read(&mut byte)).await {
        Ok(Err(e)) => Some(e),
        _ => None,
    }
}

/// Why TLS could not be set up from the files: names the file and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {file}: {why}; what to do: {todo}")]
pub struct TlsSetupError {
    pub what: &'static str,
    pub file: String,
    pub why: String,
    pub todo: &'static str,
}

fn certs(
    path: &Path,
    what: &'static str,
    todo: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let err = |why: String| TlsSetupError {
        what,
        file: path.display().to_string(),
        why,
        todo,
    };
    // Capped and regular files only: a symlink to /dev/zero or a FIFO must not hang the connection set-up.
    let bytes = super::endpoint::read_capped(path).map_err(|e| err(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(pem_error(&e)))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// What is wrong with a PEM file, in words that never quote its content (a key file's bytes must not reach
/// a message or a log).
fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::NoItemsFound => "no PEM block of the expected kind in it".into(),
        E::MissingSectionEnd { .. } => "a PEM block in it has no END line".into(),
        E::IllegalSectionStart { .. } => "a PEM BEGIN line in it is malformed".into(),
        E::Base64Decode(_) => "a PEM block in it is not valid base64".into(),
        _ => "it is not a valid PEM file".into(),
    }
}

/// A rustls client configuration from the docker CLI's TLS files.
pub fn tls_config(tls: &TlsFiles) -> Result<rustls::ClientConfig, TlsSetupError> {
    const CA_TODO: &str = "put the CA certificate that signed the engine's certificate there \
                           (DOCKER_CERT_PATH/ca.pem, or the context's ca=...)";
    const CERT_TODO: &str = "put the client certificate and key signed by the engine's CA there \
                             (cert.pem and key.pem in DOCKER_CERT_PATH, or the context's cert=/key=)";
    // The process-wide provider when main installed one, ring otherwise: never rustls' panic when two
    // providers are compiled in.
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError {
            what: "TLS setup",
            file: String::new(),
            why: e.to_string(),
            todo: "report this as a dockui bug",
        })?;
    let builder = if tls.verify {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca {
            Some(ca) => {
                for c in certs(ca, "cannot read the CA certificate", CA_TODO)? {
                    roots.add(c).map_err(|e| TlsSetupError {
                        what: "invalid CA certificate",
                        file: ca.display().to_string(),
                        why: e.to_string(),
                        todo: CA_TODO,
                    })?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
        }
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    };
    match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert, "cannot read the client certificate", CERT_TODO)?;
            let key_err = |why: String| TlsSetupError {
                what: "cannot read the client key",
                file: key.display().to_string(),
                why,
                todo: CERT_TODO,
            };
            let bytes = super::endpoint::read_capped(key).map_err(|e| key_err(e.to_string()))?;
            let k = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| key_err(pem_error(&e)))?;
            builder
                .with_client_auth_cert(chain, k)
                .map_err(|e| TlsSetupError {
                    what: "the client certificate and key do not fit together",
                    file: cert.display().to_string(),
                    why: e.to_string(),
                    todo: CERT_TODO,
                })
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), None) => Err(TlsSetupError {
            what: "a client certificate without its key",
            file: cert.display().to_string(),
            why: "key.pem is missing beside it".into(),
            todo: CERT_TODO,
        }),
        (None, Some(key)) => Err(TlsSetupError {
            what: "a client key without its certificate",
            file: key.display().to_string(),
            why: "cert.pem is missing beside it".into(),
            todo: CERT_TODO,
        }),
    }
}

/// `host:port` -> the name the engine's certificate must carry (an IP address or a DNS name).
pub fn server_name(addr: &str) -> Result<ServerName<'static>, String> {
    let host = match addr.rsplit_once(':') {
        Some((h, _)) => h,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| format!("invalid host name {host:?}: {e}"))
}

/// Verification off (`SkipTLSVerify`, `DOCKER_TLS` without `DOCKER_TLS_VERIFY`): the handshake's
/// signatures are still checked, the certificate chain is not.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Install the process-wide rustls provider once (ring, which bollard and reqwest use). When another crate
/// (the AWS SDK's aws-lc-rs) is compiled in, rustls cannot pick one by itself and panics on first use.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one first: that one is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ssh_keeps_user_and_port() {
        let cmd = ssh_command(&SshTarget {
            user: Some("root".into()),
            host: "127.0.0.1".into(),
            port: Some(2222),
        });
        let args: Vec<String> = cmd
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.contains("-l root -p 2222 -- 127.0.0.1 docker system dial-stdio"),
            "{joined}"
        );
        assert!(joined.contains("BatchMode=yes"), "{joined}");
        let cmd = ssh_command(&SshTarget {
            user: None,
            host: "box".into(),
            port: None,
        });
        let joined: Vec<_> = cmd.as_std().get_args().collect();
        assert!(!joined.iter().any(|a| *a == "-p" || *a == "-l"));
    }

    #[test]
    fn ssh_stderr_keeps_the_last_sentences() {
        let banner = "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@\n\
                      IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
                      Host key for [127.0.0.1]:22299 has changed and you have requested strict checking.\n\
                      Host key verification failed.\n";
        assert_eq!(
            last_lines(banner, 2),
            "Host key for [127.0.0.1]:22299 has changed and you have requested strict checking. / \
             Host key verification failed."
        );
        assert_eq!(last_lines("", 3), "");
    }

    #[test]
    fn tls_files_errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let ca = d.path().join("ca.pem");
        let files = TlsFiles {
            verify: true,
            ca: Some(ca.clone()),
            cert: None,
            key: None,
        };
        let e = tls_config(&files).unwrap_err();
        assert_eq!(e.what, "cannot read the CA certificate");
        assert_eq!(e.file, ca.display().to_string());
        std::fs::write(&ca, "not a pem").unwrap();
        let e = tls_config(&files).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        let only_cert = TlsFiles {
            verify: false,
            ca: None,
            cert: Some(PathBuf::from("/x/cert.pem")),
            key: None,
        };
        assert!(
            tls_config(&only_cert)
                .unwrap_err()
                .to_string()
                .contains("key.pem is missing")
        );
        // Verification off and no client certificate: a valid configuration.
        assert!(tls_config(&TlsFiles::default()).is_ok());
    }

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("build.example:2376").unwrap(),
            ServerName::DnsName(_)
        ));
    }
    #[cfg(unix)]
    #[test]
    fn tls_files_that_never_end_or_block_are_refused_and_keys_are_never_quoted() {
        let d = tempfile::tempdir().unwrap();
        let ca = d.path().join("ca.pem");
        std::os::unix::fs::symlink("/dev/zero", &ca).unwrap();
        let files = TlsFiles {
            verify: true,
            ca: Some(ca.clone()),
            cert: None,
            key: None,
        };
        let e = tls_config(&files).unwrap_err();
        assert_eq!(e.file, ca.display().to_string());
        assert!(e.why.contains("not a regular file"), "{e}");
        // A client key that is no key: the message names the file, never its bytes.
        let key = d.path().join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL!!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let cert = d.path().join("cert.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUTOPSECRET\n",
        )
        .unwrap();
        let files = TlsFiles {
            verify: false,
            ca: None,
            cert: Some(cert.clone()),
            key: Some(key.clone()),
        };
        let e = tls_config(&files).unwrap_err().to_string();
        assert!(e.contains(&cert.display().to_string()), "{e}");
        assert!(!e.contains("TOPSECRET") && !e.contains("MIIB"), "{e}");
        std::fs::write(&cert, "").unwrap();
        let e = tls_config(&files).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
        // A key alone is refused before it is read.
        let only_key = TlsFiles {
            verify: false,
            ca: None,
            cert: None,
            key: Some(key.clone()),
        };
        assert!(
            tls_config(&only_key)
                .unwrap_err()
                .to_string()
                .contains("cert.pem is missing")
        );
    }
}
