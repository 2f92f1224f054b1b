//! The engine's BuildKit Control API (`POST /grpc`, an h2c upgrade) exposed on a loopback port, so tests can
//! drive the BuildKit-daemon code path (`BUILDKIT_HOST=tcp://127.0.0.1:PORT`) against the real engine.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Each connection is upgraded to h2c on the engine's socket, then bytes are copied both ways. Stops with the
/// runtime.
pub async fn proxy() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut engine = tokio::net::UnixStream::connect(super::proxy::ENGINE_SOCKET)
                    .await
                    .unwrap();
                engine
                    .write_all(b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n")
                    .await
                    .unwrap();
                // Read the 101 answer up to its blank line, byte by byte (h2 frames follow right after it).
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut b = [0u8; 1];
                    if engine.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                assert!(
                    head.starts_with(b"HTTP/1.1 101"),
                    "{}",
                    String::from_utf8_lossy(&head)
                );
                let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
            });
        }
    });
    port
}
