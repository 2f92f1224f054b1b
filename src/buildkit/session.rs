//! A BuildKit session: `Control.Session` turns one gRPC stream into a connection on which dockui is the gRPC
//! *server*; BuildKit calls back on it for the local directories (FileSync), registry credentials (Auth), a
//! health check, and the content store of `type=local` cache directories (`content.rs`). The session lives
//! until the returned guard is dropped.

use super::content::{ContentServer, Stores};
use super::filesync::SyncedDirs;
use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::filesync::v1::auth_server::{Auth, AuthServer};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use futures_util::StreamExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

/// The methods the session serves; BuildKit only calls what the session announced.
const METHODS: &[&str] = &[
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.filesync.v1.FileSync/TarStream",
    "/moby.filesync.v1.Auth/Credentials",
    "/grpc.health.v1.Health/Check",
];

/// Ends the session when dropped.
pub struct SessionGuard {
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A random id in BuildKit's style (25 base-36 characters).
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < 25 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let mut v = h.finish();
        while v > 0 && out.len() < 25 {
            let d = (v % 36) as u32;
            out.push(char::from_digit(d, 36).unwrap_or('0'));
            v /= 36;
        }
    }
    out
}

/// The registry host of an image reference, as docker reads it (`docker.io` without one).
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".to_string(),
    }
}

/// Open the session `id` offering `dirs`; BuildKit can use it as soon as this returns. `push_to` are the
/// registries the build pushes to: only they are offered dockui's own env credentials
/// (DOCKUI_REGISTRY_USER/PASSWORD); other hosts (base images) get the docker config's entries only. `stores`
/// are the `type=local` cache directories (none: the content service is not announced).
pub async fn start(
    channel: Channel,
    id: &str,
    shared_key: &str,
    dirs: SyncedDirs,
    push_to: Vec<String>,
    stores: Stores,
) -> Result<SessionGuard, Status> {
    let mut client = ControlClient::new(channel)
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(16 << 20);
    // Bytes the local server writes go out as BytesMessages; bytes BuildKit sends come in through `incoming`.
    // Large buffers: the context travels through here (ReaderStream's default 4 KiB messages cap file sync
    // at a few tens of MB/s).
    let (server_side, client_side) = tokio::io::duplex(1 << 20);
    let outgoing = tokio_util::io::ReaderStream::with_capacity(client_side, 256 * 1024)
        .take_while(|r| futures_util::future::ready(r.is_ok()))
        .map(|r| BytesMessage {
            data: r.map(|b| b.to_vec()).unwrap_or_default(),
        });
    let mut req = Request::new(outgoing);
    let md = req.metadata_mut();
    let value = |s: &str| {
        s.parse::<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>()
            .map_err(|_| Status::invalid_argument(format!("not a header value: {s:?}")))
    };
    md.insert("x-docker-expose-session-uuid", value(id)?);
    md.insert("x-docker-expose-session-name", value("dockui")?);
    md.insert("x-docker-expose-session-sharedkey", value(shared_key)?);
    for m in METHODS {
        md.append("x-docker-expose-session-grpc-method", value(m)?);
    }
    let content = (!stores.is_empty()).then(|| ContentServer::new(stores));
    if content.is_some() {
        for m in super::content::methods() {
            md.append("x-docker-expose-session-grpc-method", value(&m)?);
        }
    }
    let incoming = client.session(req).await?.into_inner();
    let reader = tokio_util::io::StreamReader::new(incoming.map(|m| {
        m.map(|m| bytes::Bytes::from(m.data))
            .map_err(|e| std::io::Error::other(e.to_string()))
    }));
    let io = SessionIo {
        read: Box::pin(reader),
        write: server_side,
    };
    let router = tonic::transport::Server::builder()
        .add_service(HealthServer::new(Healthy))
        .add_service(FileSyncServer::new(dirs))
        .add_service(AuthServer::new(Credentials { push_to }))
        .add_optional_service(content);
    let server = tokio::spawn(async move {
        let conn = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(io)]);
        if let Err(e) = router.serve_with_incoming(conn).await {
            log::debug!("BuildKit session ended: {e}");
        }
    });
    Ok(SessionGuard { server })
}

/// A session stream as one connection: bytes from the other side come in through `read`, bytes to it go
/// out through `write` (forwarded as BytesMessages). Public for the tests' fake daemon, which dials the same
/// stream from the daemon's side.
pub struct SessionIo {
    pub read: Pin<Box<dyn AsyncRead + Send>>,
    pub write: tokio::io::DuplexStream,
}

impl AsyncRead for SessionIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.read.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for SessionIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.write).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.write).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.write).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for SessionIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream = tokio_stream::wrappers::ReceiverStream<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

/// Registry credentials for BuildKit's pulls and pushes, from the same lookup `dockui push` uses (env, docker
/// config, credential helpers). Unknown hosts get empty credentials (anonymous).
struct Credentials {
    push_to: Vec<String>,
}

#[tonic::async_trait]
impl Auth for Credentials {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let mut lookup = crate::registry::credentials::CredentialLookup::from_env();
        let normal = |h: &str| {
            if h == "registry-1.docker.io" || h == "index.docker.io" {
                "docker.io".to_string()
            } else {
                h.to_string()
            }
        };
        if self.push_to.iter().any(|r| normal(r) == normal(&host)) {
            lookup = lookup.scope_env_to(&host);
        } else {
            lookup.env_user = None;
            lookup.env_password = None;
        }
        let found = lookup.resolve(&host).await.ok().flatten();
        Ok(Response::new(match found {
            Some(c) => CredentialsResponse {
                username: c.username,
                secret: c.secret.expose().to_string(),
            },
            None => CredentialsResponse::default(),
        }))
    }

    async fn fetch_token(
        &self,
        _request: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("fetch_token"))
    }

    async fn get_token_authority(
        &self,
        _request: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("get_token_authority"))
    }

    async fn verify_token_authority(
        &self,
        _request: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("verify_token_authority"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_hosts_are_read_like_docker() {
        assert_eq!(
            super::registry_of("127.0.0.1:5000/team/app:1"),
            "127.0.0.1:5000"
        );
        assert_eq!(super::registry_of("ghcr.io/o/app"), "ghcr.io");
        assert_eq!(super::registry_of("localhost/app"), "localhost");
        assert_eq!(super::registry_of("team/app:1"), "docker.io");
        assert_eq!(super::registry_of("app"), "docker.io");
    }

    #[test]
    fn session_ids_look_like_buildkits() {
        let a = super::new_id();
        assert_eq!(a.len(), 25);
        assert_ne!(a, super::new_id());
    }
}
