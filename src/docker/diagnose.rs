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
    } else if all.contains("tls")
        || all.contains("certificate")
        || all.contains("handshake")
        || all.contains("http request to an https server")
    {
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

/// The socket path of a unix endpoint.
fn socket_path(endpoint: &str) -> Option<&str> {
    endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.starts_with('/').then_some(endpoint))
}

/// One sentence: what happened (with the innermost cause) and what to do. Permission wording follows the
/// docker CLI's, so the `docker-socket-permission` signature recognises it.
pub fn explain(endpoint: &str, cause: Cause, messages: &[String]) -> String {
    let detail = messages.join(": ");
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
            "no Docker socket at {} ({detail}); what to do: start the Docker engine (e.g. sudo systemctl \
             start docker) or set engine.docker_host / DOCKER_HOST",
            socket_path(endpoint).unwrap_or(endpoint)
        ),
        Cause::Dropped => format!(
            "the engine closed the connection ({detail}); what to do: check that the engine is still \
             running (docker info) and look at its log, then build again"
        ),
        Cause::Timeout => format!(
            "no answer in time ({detail}); what to do: check the engine is responsive (docker info) or \
             raise engine.timeout_s"
        ),
        Cause::Tls => format!(
            "TLS problem talking to {endpoint} ({detail}); what to do: dockui speaks plain HTTP to tcp:// \
             endpoints and unix sockets; reach a TLS engine through an ssh tunnel or its unix socket, or \
             check DOCKER_HOST"
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
        let msgs = vec!["Client sent an HTTP request to an HTTPS server.".to_string()];
        assert_eq!(cause_of(None, &msgs), Cause::Tls);
        let msgs = vec!["Socket not found: /nope.sock".to_string()];
        assert_eq!(cause_of(None, &msgs), Cause::NoSocket);
        let msgs = vec!["URI scheme is not supported: ftp://x".to_string()];
        assert_eq!(cause_of(None, &msgs), Cause::BadUrl);
        // A message that names nothing known is not guessed at.
        assert_eq!(cause_of(None, &["boom".to_string()]), Cause::Other);
    }
}
