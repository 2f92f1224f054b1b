//! Why the engine could not be reached or used, from the whole error chain, and what to do about it.
//!
//! hyper and bollard wrap the useful part (an `io::Error` with its kind, a TLS alert) several layers deep
//! and print only the outermost ("client error (Connect)"). Users need the innermost cause, the endpoint
//! and one thing to try.

use std::error::Error as StdError;
use std::io;

/// The kinds of transport trouble a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    PermissionDenied,
    Refused,
    NoSocket,
    /// The connection was closed or reset under us (engine stopped, proxy dropped, mid-upload).
    Dropped,
    Timeout,
    Tls,
    /// The engine's certificate is not signed by the CA dockui was given (or the system's roots).
    TlsUnknownCa,
    /// The engine refused our client certificate (missing, or not signed by its CA).
    TlsClientCert,
    /// The engine's certificate does not name the host we dialled.
    TlsWrongHost,
    /// Plain HTTP sent to a TLS port.
    TlsExpected,
    /// ssh: the remote's host key is unknown or changed.
    SshHostKey,
    /// ssh: the remote refused our key / password.
    SshAuth,
    /// ssh: nothing listens on the remote's ssh port, or the name does not resolve.
    SshUnreachable,
    /// ssh worked, but the remote has no docker CLI for `docker system dial-stdio`.
    SshNoDocker,
    /// ssh worked, the docker CLI ran, but cannot reach the remote's engine.
    SshRemoteEngine,
    /// ssh worked, the docker CLI ran, but the ssh user may not use the remote engine's socket.
    SshRemotePermission,
    BadUrl,
    Other,
}

/// Every message in the chain, outermost first, without consecutive repeats.
pub fn chain(e: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let msg = err.to_string();
        // Wrappers often print their source too ("client error (Connect)" twice): keep what is new.
        if !msg.is_empty() && !out.last().is_some_and(|prev| prev.contains(msg.as_str())) {
            out.push(msg);
        }
        cur = err.source();
    }
    out
}

/// The first `io::ErrorKind` found along the chain.
pub fn io_kind(e: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

/// Classify by the io kind first (reliable), then by words in the messages (TLS, URLs, hyper's own).
pub fn cause_of(kind: Option<io::ErrorKind>, messages: &[String]) -> Cause {
    use io::ErrorKind as K;
    if let Some(c) = remote_cause(messages) {
        return c;
    }
    match kind {
        Some(K::PermissionDenied) => return Cause::PermissionDenied,
        Some(K::ConnectionRefused) => return Cause::Refused,
        Some(K::NotFound) => return Cause::NoSocket,
        Some(
            K::BrokenPipe
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::UnexpectedEof
            | K::NotConnected,
        ) => return Cause::Dropped,
        Some(K::TimedOut) => return Cause::Timeout,
        _ => {}
    }
    let all = messages.join(": ").to_lowercase();
    if all.contains("socket not found") {
        // bollard checks the path itself before connecting.
        Cause::NoSocket
    } else if all.contains("permission denied") {
        Cause::PermissionDenied
    } else if all.contains("connection refused") {
        Cause::Refused
    } else if all.contains("tls") || all.contains("certificate") || all.contains("handshake") {
        Cause::Tls
    } else if all.contains("uri") || all.contains("url") || all.contains("scheme") {
        Cause::BadUrl
    } else if all.contains("connection closed")
        || all.contains("broken pipe")
        || all.contains("connection reset")
        || all.contains("incomplete message")
        || all.contains("error reading a body")
        || all.contains("unexpected eof")
        || all.contains("sendrequest")
        || all.contains("upload was aborted")
    {
        Cause::Dropped
    } else if all.contains("timeout") || all.contains("timed out") {
        Cause::Timeout
    } else {
        Cause::Other
    }
}

/// Causes only remote engines have: what ssh said on stderr (it is the innermost message, prefixed with
/// `ssh TARGET:` by `remote::send`), and rustls' certificate errors and alerts.
fn remote_cause(messages: &[String]) -> Option<Cause> {
    let all = messages.join(": ");
    let lower = all.to_lowercase();
    let ssh = messages.iter().any(|m| m.starts_with("ssh ")) || lower.contains("ssh:");
    if ssh {
        if lower.contains("host key verification failed")
            || lower.contains("remote host identification has changed")
            || lower.contains("no matching host key")
        {
            return Some(Cause::SshHostKey);
        }
        if lower.contains("permission denied (")
            || lower.contains("too many authentication failures")
        {
            return Some(Cause::SshAuth);
        }
        // Before ssh's own "connection refused": the remote's docker CLI on its engine (a tcp DOCKER_HOST
        // there is refused too). On the engine's socket `docker system dial-stdio` says "failed to open
        // the raw stream connection: dial unix /var/run/docker.sock: connect: <why>", other commands
        // "Cannot connect to the Docker daemon" / "permission denied while trying to connect".
        let remote_cli = lower.contains("failed to open the raw stream connection")
            || lower.contains("cannot connect to the docker daemon")
            || lower.contains("permission denied while trying to connect")
            || (lower.contains("dial unix ") && lower.contains(": connect: "));
        if remote_cli {
            return Some(
                if lower.contains("connect: permission denied")
                    || lower.contains("permission denied while trying to connect")
                {
                    Cause::SshRemotePermission
                } else {
                    Cause::SshRemoteEngine
                },
            );
        }
        if lower.contains("connection refused")
            || lower.contains("could not resolve hostname")
            || lower.contains("no route to host")
            || lower.contains("connection timed out")
        {
            return Some(Cause::SshUnreachable);
        }
        if lower.contains("docker: command not found")
            || lower.contains("docker: not found")
            || lower.contains("\"docker\": executable file not found")
            || (lower.contains("dial-stdio") && lower.contains("unknown command"))
        {
            return Some(Cause::SshNoDocker);
        }
    }
    if lower.contains("unknownissuer")
        || lower.contains("unknown issuer")
        || lower.contains("unknownca")
    {
        return Some(Cause::TlsUnknownCa);
    }
    if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        return Some(Cause::TlsWrongHost);
    }
    if lower.contains("alert received")
        || lower.contains("received fatal alert: badcertificate")
        || lower.contains("received fatal alert: certificaterequired")
        || lower.contains("received fatal alert: unknownca")
        || lower.contains("received fatal alert: decrypterror")
    {
        // The engine sent the alert: it is our (client) certificate it does not accept.
        return Some(Cause::TlsClientCert);
    }
    if lower.contains("http request to an https server") {
        return Some(Cause::TlsExpected);
    }
    None
}

/// The socket path of a unix endpoint.
fn socket_path(endpoint: &str) -> Option<&str> {
    endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.starts_with('/').then_some(endpoint))
}

/// One sentence: what happened (with the innermost cause) and what to do. Permission wording follows the
/// docker CLI's, so the `docker-socket-permission` signature recognises it.
pub fn explain(endpoint: &str, cause: Cause, messages: &[String]) -> String {
    // An engine's answer often ends with a newline ("Client sent an HTTP request to an HTTPS server.\n"):
    // trimmed, so the sentence does not show an escaped `\n` in its middle.
    let detail = messages
        .iter()
        .map(|m| m.trim())
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    match cause {
        Cause::PermissionDenied => format!(
            "permission denied while trying to connect to the Docker daemon socket at {endpoint} ({detail}); \
             what to do: add your user to the docker group (sudo usermod -aG docker $USER, then log in again) \
             or point engine.docker_host / DOCKER_HOST at a socket you may use"
        ),
        Cause::Refused => format!(
            "connection refused: nothing listens at {endpoint} ({detail}); what to do: start the Docker \
             engine there, or fix engine.docker_host / DOCKER_HOST"
        ),
        Cause::NoSocket => format!(
            "no Docker socket at {} ({detail}); what to do: start the Docker engine ({}) or set \
             engine.docker_host / DOCKER_HOST",
            socket_path(endpoint).unwrap_or(endpoint),
            docker_start_hint()
        ),
        Cause::Dropped => format!(
            "the engine closed the connection ({detail}); what to do: check that the engine is still \
             running (docker info) and look at its log, then build again{}",
            if endpoint.starts_with("tcp://") {
                "; if the engine at this tcp:// address expects TLS, set DOCKER_TLS_VERIFY=1 and \
                 DOCKER_CERT_PATH (or use a docker context with its TLS files)"
            } else {
                ""
            }
        ),
        Cause::Timeout => format!(
            "no answer in time ({detail}); what to do: check the engine is responsive (docker info) or \
             raise engine.timeout_s"
        ),
        Cause::Tls => format!(
            "TLS problem talking to {endpoint} ({detail}); what to do: check the engine's TLS files \
             (DOCKER_CERT_PATH with ca.pem, cert.pem, key.pem, or the docker context's) and DOCKER_TLS_VERIFY"
        ),
        Cause::TlsUnknownCa => format!(
            "TLS: the engine at {endpoint} has a certificate signed by an unknown CA ({detail}); what to \
             do: use the CA that signed the engine's certificate as ca.pem (DOCKER_CERT_PATH, or the \
             context's ca=), or check that DOCKER_HOST points at the engine you mean"
        ),
        Cause::TlsClientCert => format!(
            "TLS: the engine at {endpoint} rejected the client certificate (bad or missing) ({detail}); \
             what to do: put a client certificate and key signed by the engine's CA in cert.pem and \
             key.pem (DOCKER_CERT_PATH, or the context's cert=/key=)"
        ),
        Cause::TlsWrongHost => format!(
            "TLS: the engine's certificate does not name the host in {endpoint} ({detail}); what to do: \
             dial the name or IP address the certificate was made for, or reissue it with that name"
        ),
        Cause::TlsExpected => format!(
            "TLS problem: the engine at {endpoint} speaks TLS but dockui sent plain HTTP ({detail}); what \
             to do: set \
             DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem, \
             or use a docker context that has them"
        ),
        Cause::SshHostKey => format!(
            "ssh: host key verification failed for {endpoint} ({detail}); what to do: connect once with \
             `ssh` and check the fingerprint, or add the host's key to ~/.ssh/known_hosts (ssh-keyscan); \
             if the key changed, find out why before removing the old one (ssh-keygen -R HOST)"
        ),
        Cause::SshAuth => format!(
            "ssh: the remote refused the login for {endpoint} ({detail}); what to do: make `ssh` to that \
             user work without a prompt (a key in ssh-agent or ~/.ssh/config IdentityFile, the key in the \
             remote's authorized_keys); dockui never asks for a password"
        ),
        Cause::SshUnreachable => format!(
            "ssh: cannot reach {endpoint} ({detail}); what to do: check the host name and port in \
             ssh://USER@HOST:PORT and that sshd runs there"
        ),
        Cause::SshNoDocker => format!(
            "ssh: the remote at {endpoint} has no docker CLI for `docker system dial-stdio` ({detail}); \
             what to do: install the docker CLI on the remote and make sure a non-interactive ssh session \
             finds it in PATH (`ssh HOST docker version`)"
        ),
        Cause::SshRemoteEngine => format!(
            "ssh worked, but the docker CLI on the remote cannot reach its engine ({detail}); what to do: \
             start the engine there or give the ssh user access to its socket (`ssh HOST docker info`)"
        ),
        Cause::SshRemotePermission => format!(
            "ssh worked, but the ssh user may not use the engine's socket on the remote ({detail}); what to \
             do: add that user to the docker group there (sudo usermod -aG docker USER on the remote, then \
             connect again) or log in as a user who may (`ssh HOST docker info` must work)"
        ),
        Cause::BadUrl => format!(
            "invalid engine address {endpoint:?} ({detail}); what to do: use unix:///var/run/docker.sock \
             or tcp://HOST:PORT in engine.docker_host / DOCKER_HOST"
        ),
        Cause::Other => format!(
            "{detail}; what to do: check the engine (docker info) and engine.docker_host / DOCKER_HOST"
        ),
    }
}

/// How this machine starts the engine: systemd when it runs, else dockerd by hand; `sudo` only when not root
/// (a container or a CI VM has neither systemd nor sudo, and "sudo systemctl" fails twice there).
fn docker_start_hint() -> String {
    let systemd = std::path::Path::new("/run/systemd/system").is_dir();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    docker_start_hint_on(systemd, root)
}

fn docker_start_hint_on(systemd: bool, root: bool) -> String {
    let sudo = if root { "" } else { "sudo " };
    if systemd {
        format!("e.g. {sudo}systemctl start docker")
    } else {
        format!("no systemd here: e.g. {sudo}dockerd > /var/log/dockerd.log 2>&1 &")
    }
}

/// Explain an error chain in one go.
pub fn explain_error(endpoint: &str, e: &(dyn StdError + 'static)) -> String {
    let messages = chain(e);
    explain(endpoint, cause_of(io_kind(e), &messages), &messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Outer(#[source] io::Error);

    #[test]
    fn the_innermost_io_kind_decides() {
        let e = Outer(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "Permission denied (os error 13)",
        ));
        let text = explain_error("unix:///var/run/docker.sock", &e);
        assert!(text.starts_with(
            "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"
        ));
        assert!(text.contains("client error (Connect): Permission denied (os error 13)"));
        assert!(text.contains("docker group"));
        let d = crate::classify::classify(&[text.as_str()]).expect("signature");
        assert_eq!(d.signature, "docker-socket-permission");
    }

    #[test]
    fn the_start_hint_fits_the_machine() {
        assert_eq!(
            docker_start_hint_on(true, false),
            "e.g. sudo systemctl start docker"
        );
        assert_eq!(
            docker_start_hint_on(true, true),
            "e.g. systemctl start docker"
        );
        let h = docker_start_hint_on(false, true);
        assert!(
            !h.contains("systemctl") && !h.contains("sudo") && h.contains("dockerd"),
            "{h}"
        );
        assert!(docker_start_hint_on(false, false).contains("sudo dockerd"));
    }

    #[test]
    fn refused_missing_dropped_tls_and_bad_urls_are_told_apart() {
        let refused = Outer(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(explain_error("tcp://127.0.0.1:1", &refused).starts_with("connection refused"));
        let missing = Outer(io::Error::from(io::ErrorKind::NotFound));
        assert!(
            explain_error("unix:///nope.sock", &missing)
                .starts_with("no Docker socket at /nope.sock")
        );
        let dropped = Outer(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(
            explain_error("unix:///x", &dropped).starts_with("the engine closed the connection")
        );
        let msgs = vec!["Client sent an HTTP request to an HTTPS server.\n".to_string()];
        assert_eq!(cause_of(None, &msgs), Cause::TlsExpected);
        let said = explain("tcp://h:2376", Cause::TlsExpected, &msgs);
        assert!(said.contains("HTTPS server.); what to do"), "{said}");
        let msgs = vec!["Socket not found: /nope.sock".to_string()];
        assert_eq!(cause_of(None, &msgs), Cause::NoSocket);
        let msgs = vec!["URI scheme is not supported: ftp://x".to_string()];
        assert_eq!(cause_of(None, &msgs), Cause::BadUrl);
        // A message that names nothing known is not guessed at.
        assert_eq!(cause_of(None, &["boom".to_string()]), Cause::Other);
    }

    fn msgs(m: &[&str]) -> Vec<String> {
        m.iter().map(|s| s.to_string()).collect()
    }

    // Excerpts of the chains seen against a second dockerd with --tlsverify and an sshd on loopback.
    #[test]
    fn tls_causes_from_rustls_errors() {
        let unknown_ca = msgs(&[
            "Error in the hyper legacy client: client error (Connect)",
            "invalid peer certificate: UnknownIssuer",
        ]);
        assert_eq!(
            cause_of(Some(io::ErrorKind::InvalidData), &unknown_ca),
            Cause::TlsUnknownCa
        );
        let text = explain("tcp://127.0.0.1:2376", Cause::TlsUnknownCa, &unknown_ca);
        assert!(
            text.contains("unknown CA") && text.contains("ca.pem"),
            "{text}"
        );
        let client = msgs(&["connection error: received fatal alert: BadCertificate"]);
        assert_eq!(cause_of(None, &client), Cause::TlsClientCert);
        let text = explain("tcp://127.0.0.1:2376", Cause::TlsClientCert, &client);
        assert!(
            text.contains("rejected the client certificate") && text.contains("cert.pem"),
            "{text}"
        );
        let name = msgs(&[
            "invalid peer certificate: certificate not valid for name \"localhost\"; certificate is only valid for IpAddress(127.0.0.1)",
        ]);
        assert_eq!(cause_of(None, &name), Cause::TlsWrongHost);
        // A refused tcp connection is not a TLS or ssh problem.
        let refused = msgs(&[
            "client error (Connect)",
            "tcp connect error: Connection refused",
        ]);
        assert_eq!(cause_of(None, &refused), Cause::Refused);
    }

    #[test]
    fn ssh_causes_from_its_stderr() {
        let chain = |stderr: &str| {
            msgs(&[
                "connection closed before message completed",
                &format!("ssh root@127.0.0.1:2222: {stderr}"),
            ])
        };
        let key = chain(
            "Host key for [127.0.0.1]:2222 has changed and you have requested strict checking. / Host key verification failed.",
        );
        assert_eq!(
            cause_of(Some(io::ErrorKind::Other), &key),
            Cause::SshHostKey
        );
        assert!(
            explain("ssh://root@127.0.0.1:2222", Cause::SshHostKey, &key).contains("known_hosts")
        );
        let refused = chain("ssh: connect to host 127.0.0.1 port 1: Connection refused");
        // ssh's refusal is about sshd, not the engine.
        assert_eq!(
            cause_of(Some(io::ErrorKind::ConnectionRefused), &refused),
            Cause::SshUnreachable
        );
        let nodocker = chain("bash: line 1: exec: docker: not found");
        assert_eq!(cause_of(None, &nodocker), Cause::SshNoDocker);
        let text = explain("ssh://root@h", Cause::SshNoDocker, &nodocker);
        assert!(
            text.contains("dial-stdio") && text.contains("PATH"),
            "{text}"
        );
        let auth = chain("root@127.0.0.1: Permission denied (publickey).");
        assert_eq!(cause_of(None, &auth), Cause::SshAuth);
        let engine = chain(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
        );
        assert_eq!(cause_of(None, &engine), Cause::SshRemoteEngine);
        // `docker system dial-stdio` (what dockui runs there) says it its own way; the texts are the docker
        // CLI's with DOCKER_HOST on a missing socket, and as a user outside the docker group.
        let dial = chain(
            "failed to open the raw stream connection: dial unix /nonexistent.sock: connect: no such file or directory",
        );
        assert_eq!(
            cause_of(Some(io::ErrorKind::Other), &dial),
            Cause::SshRemoteEngine
        );
        let text = explain("ssh://root@127.0.0.1:42222", Cause::SshRemoteEngine, &dial);
        assert!(
            text.starts_with(
                "ssh worked, but the docker CLI on the remote cannot reach its engine"
            ) && text.contains("/nonexistent.sock")
                && text.contains("`ssh HOST docker info`"),
            "{text}"
        );
        let denied = chain(
            "failed to open the raw stream connection: dial unix /var/run/docker.sock: connect: permission denied",
        );
        assert_eq!(cause_of(None, &denied), Cause::SshRemotePermission);
        let text = explain("ssh://u@h", Cause::SshRemotePermission, &denied);
        assert!(
            text.contains("may not use the engine's socket") && text.contains("docker group"),
            "{text}"
        );
        let denied_cli = chain(
            "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/_ping\": dial unix /var/run/docker.sock: connect: permission denied",
        );
        assert_eq!(cause_of(None, &denied_cli), Cause::SshRemotePermission);
        // A remote engine on tcp that refuses is the remote engine's trouble, not an unreachable sshd.
        let tcp = chain(
            "failed to open the raw stream connection: dial tcp 127.0.0.1:2375: connect: connection refused",
        );
        assert_eq!(cause_of(None, &tcp), Cause::SshRemoteEngine);
        // ssh's own refusal of the login stays an ssh login problem.
        assert_eq!(cause_of(None, &auth), Cause::SshAuth);
        // Without ssh in the chain, the local socket's trouble is not the remote's.
        let local = msgs(&[
            "error trying to connect: dial unix /var/run/docker.sock: connect: permission denied",
        ]);
        assert_eq!(cause_of(None, &local), Cause::PermissionDenied);
        // Without ssh in the chain, "not found" is not about a remote docker CLI.
        assert_eq!(cause_of(None, &msgs(&["docker: not found"])), Cause::Other);
    }
}
