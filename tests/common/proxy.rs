//! A unix-socket proxy in front of the real engine, for faults the engine itself does not make: it forwards
//! every connection and, with a limit, closes a connection once the client has sent that many bytes (a
//! dropped connection in the middle of a context upload).

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const ENGINE_SOCKET: &str = "/var/run/docker.sock";

pub struct Proxy {
    pub path: PathBuf,
    /// Connections closed on purpose so far.
    pub dropped: Arc<AtomicU64>,
}

impl Proxy {
    /// Listen at `path` (mode 0777, so a test may use it as another user); `drop_after`: close a connection
    /// once its client sent more than this many bytes.
    pub fn start(path: &Path, drop_after: Option<u64>) -> Proxy {
        Proxy::start_faults(path, drop_after, None)
    }

    /// Like `start`; `cut_response_after`: close a connection once the engine sent this many bytes on it (the
    /// engine going away in the middle of a build's output).
    pub fn start_faults(
        path: &Path,
        drop_after: Option<u64>,
        cut_response_after: Option<u64>,
    ) -> Proxy {
        Proxy::start_all(path, drop_after, cut_response_after, None)
    }

    /// Like `start`, but once a client sent more than `stall_after` bytes on a connection, nothing more of
    /// it reaches the engine and the connection stays open (a link that stalls rather than breaks).
    pub fn start_stalling(path: &Path, stall_after: u64) -> Proxy {
        Proxy::start_all(path, None, None, Some(stall_after))
    }

    fn start_all(
        path: &Path,
        drop_after: Option<u64>,
        cut_response_after: Option<u64>,
        stall_after: Option<u64>,
    ) -> Proxy {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind proxy socket");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(upstream) = UnixStream::connect(ENGINE_SOCKET) else {
                    continue;
                };
                let d = d.clone();
                std::thread::spawn(move || {
                    pump(
                        client,
                        upstream,
                        (drop_after, cut_response_after, stall_after),
                        d,
                    )
                });
            }
        });
        Proxy {
            path: path.to_path_buf(),
            dropped,
        }
    }

    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

fn pump(
    client: UnixStream,
    upstream: UnixStream,
    (drop_after, cut_response_after, stall_after): (Option<u64>, Option<u64>, Option<u64>),
    dropped: Arc<AtomicU64>,
) {
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut u_read, mut c_write) = (upstream, client);
    let d = dropped.clone();
    let back = std::thread::spawn(move || {
        let mut got = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match u_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            got += n as u64;
            if cut_response_after.is_some_and(|limit| got > limit) {
                d.fetch_add(1, Ordering::SeqCst);
                let _ = u_read.shutdown(std::net::Shutdown::Both);
                break;
            }
            if c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match c_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        sent += n as u64;
        if drop_after.is_some_and(|limit| sent > limit) {
            // Close both sides at once: the client's next write fails (EPIPE), the engine sees a cut body.
            dropped.fetch_add(1, Ordering::SeqCst);
            let _ = c_read.shutdown(std::net::Shutdown::Both);
            let _ = u_write.shutdown(std::net::Shutdown::Both);
            break;
        }
        if stall_after.is_some_and(|limit| sent > limit) {
            // Read on (so the client is not blocked) and forward nothing.
            if sent - n as u64 <= stall_after.unwrap_or(0) {
                dropped.fetch_add(1, Ordering::SeqCst);
            }
            continue;
        }
        if u_write.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = u_write.shutdown(std::net::Shutdown::Write);
    let _ = back.join();
}
