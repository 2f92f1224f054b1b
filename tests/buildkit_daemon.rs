//! The BuildKit daemon backend (issue 13, points 4 and 8). No standalone buildkitd exists on these machines;
//! the Docker engine serves BuildKit's Control API on `POST /grpc` (an h2c upgrade). A small proxy exposes it
//! on 127.0.0.1:PORT, so the daemon code path (tcp address, session with file sync, Solve, Status) builds for
//! real. What only a standalone daemon adds (the image exporter with push, registry/gha cache export,
//! multi-platform) is checked on request shape against a fake Control server that records the SolveRequest.

mod common;

use dockui::builder::{BuildEvent, BuildSpec, BuilderPort, CacheType, DockerError};
use dockui::buildkit::{BuildkitBuilder, Settings, TlsFiles};
use std::path::Path;
use std::process::Command;

/// Expose the engine's `/grpc` on a loopback port (tests/common/h2c.rs).
async fn h2c_proxy() -> u16 {
    common::h2c::proxy().await
}

/// The same proxy on a unix socket (tests/common/h2c.rs).
async fn h2c_proxy_unix(path: &Path) {
    common::h2c::proxy_unix(path).await
}

fn settings(address: &str) -> Settings {
    Settings {
        address: address.to_string(),
        source: "BUILDKIT_HOST",
        tls: TlsFiles::default(),
    }
}

fn busybox() -> &'static Path {
    Path::new("/bin/busybox")
}

/// A FROM scratch context with busybox, a RUN step and a .dockerignore.
fn context(root: &Path, marker: &str) {
    std::fs::copy(busybox(), root.join("busybox")).unwrap();
    std::fs::write(
        root.join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nCOPY . /ctx/\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo {marker} > /ran.txt\"]\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join(".dockerignore"), "secret.txt\n").unwrap();
    std::fs::write(root.join("app.py"), "print(1)\n").unwrap();
    std::fs::write(root.join("secret.txt"), "not for the image\n").unwrap();
}

fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<BuildEvent>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let BuildEvent::Line(l) = e {
            lines.push(l);
        }
    }
    lines
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_build_through_the_daemon_code_path_lands_in_the_engine_with_progress() {
    common::engine_or_skip("daemon_build").await.unwrap();
    let port = h2c_proxy().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let caps = builder.capabilities().await.unwrap();
    assert!(!caps.run, "a daemon runs no smoke tests");
    assert!(
        caps.platforms.contains(&"linux/amd64".to_string()),
        "{caps:?}"
    );
    // The engine behind the proxy is recognised: only inline cache export, no multi-platform store.
    assert_eq!(caps.cache_export, [CacheType::Inline]);

    let dir = tempfile::tempdir().unwrap();
    let marker = format!("ran-{}", std::process::id());
    context(dir.path(), &marker);
    let tag = format!("dockui-test/bk-daemon:{}", std::process::id());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: tag.clone(),
        no_cache: true,
        network: "none".into(),
        ..Default::default()
    };
    let t0 = std::time::Instant::now();
    let id = builder.build(spec, tx).await;
    let lines = drain(&mut rx);
    let id = id.unwrap_or_else(|e| panic!("build failed: {e}\n{}", lines.join("\n")));
    eprintln!(
        "daemon-path build: {:.1}s, {} log lines",
        t0.elapsed().as_secs_f64(),
        lines.len()
    );
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("[3/3] RUN") || l.contains("RUN [\"/bin/busybox\"")),
        "progress lines from Control.Status: {lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("DONE")), "{lines:#?}");
    // The image is in the engine, the RUN step ran, .dockerignore was honoured through the session.
    let inspect = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    assert!(inspect.status.success(), "{inspect:?}");
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), id);
    let out = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tag,
        "/bin/busybox",
        "sh",
        "-c",
        "cat /ran.txt; ls -a /ctx",
    ]);
    let _ = docker(&["rmi", "-f", &tag]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&marker), "{out:?}");
    assert!(text.contains("app.py"), "{text}");
    assert!(!text.contains("secret.txt"), "{text}");
}

/// `--push` through an engine's embedded BuildKit (BUILDKIT_HOST at the engine's `/grpc`): that BuildKit has
/// no image exporter, so nothing can be pushed while building. dockui said "pushed IMAGE (sha256:<config>)"
/// and reported the config digest as the pushed one although the registry never saw the image; now the
/// build is refused before anything is solved, and a later `push` through this port says where the image is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn push_through_an_engines_buildkit_is_refused_not_claimed() {
    common::engine_or_skip("daemon_push_refused").await.unwrap();
    let port = h2c_proxy().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "push-refused");
    let tag = format!("127.0.0.1:5999/dockui-test/bk-push:{}", std::process::id());
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: tag.clone(),
        network: "none".into(),
        push: true,
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let err = builder
        .build(spec.clone(), tx)
        .await
        .unwrap_err()
        .to_string();
    let lines = drain(&mut rx);
    assert!(err.contains("cannot push while it builds"), "{err}");
    assert!(err.contains("dockui push"), "{err}");
    assert!(!lines.iter().any(|l| l.contains("pushed")), "{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.starts_with("#1 ")),
        "nothing built: {lines:#?}"
    );
    // Built without --push: the image is in the engine, and the port does not claim a pushed digest.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let built = builder
        .build(
            BuildSpec {
                push: false,
                ..spec
            },
            tx,
        )
        .await;
    let _ = docker(&["rmi", "-f", &tag]);
    built.unwrap();
    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    let (repo, t) = tag.rsplit_once(':').unwrap();
    let err = builder
        .push(repo, t, None, ptx, std::time::Duration::from_secs(30))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("push it from the engine"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_failing_step_is_a_build_failure_with_the_engines_message() {
    common::engine_or_skip("daemon_fail").await.unwrap();
    let port = h2c_proxy().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(busybox(), dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"exit 7\"]\n",
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: format!("dockui-test/bk-fail:{}", std::process::id()),
        network: "none".into(),
        ..Default::default()
    };
    let err = builder.build(spec, tx).await.unwrap_err();
    let lines = drain(&mut rx);
    match &err {
        DockerError::BuildFailed { message } => {
            assert!(
                message.contains("exit code: 7") || message.contains("exit 7"),
                "{message}"
            )
        }
        other => panic!("expected a build failure, got {other:?}\n{lines:#?}"),
    }
    assert!(lines.iter().any(|l| l.starts_with("ERROR:")), "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_unreachable_naming_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let address = format!("tcp://127.0.0.1:{port}");
    let builder = BuildkitBuilder::connect(&settings(&address)).unwrap();
    match builder.ping().await.unwrap_err() {
        DockerError::Unreachable { endpoint, reason } => {
            assert_eq!(endpoint, address);
            assert!(reason.contains("buildkitd"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// A fake standalone daemon: reports a non-moby worker (amd64 + arm64), holds sessions open, records every
/// SolveRequest and the session metadata, and answers Solve with an image digest as the image exporter does.
mod fake {
    use bollard_buildkit_proto::moby::buildkit::v1::control_server::{Control, ControlServer};
    use bollard_buildkit_proto::moby::buildkit::v1::*;
    use std::sync::{Arc, Mutex};
    use tokio_stream::wrappers::ReceiverStream;
    use tonic::{Request, Response, Status, Streaming};

    #[derive(Default, Clone)]
    pub struct Recorded {
        pub solves: Arc<Mutex<Vec<SolveRequest>>>,
        pub session_ids: Arc<Mutex<Vec<String>>>,
        pub session_methods: Arc<Mutex<Vec<String>>>,
        /// A gRPC client channel back into each session (BuildKit's side of the session), by session id.
        pub session_channels:
            Arc<Mutex<std::collections::HashMap<String, tonic::transport::Channel>>>,
        /// What the fake's cache exporter/importer saw when it called the session's content store.
        pub content: Arc<Mutex<Vec<String>>>,
    }

    pub struct Fake {
        pub rec: Recorded,
        /// Held open so sessions stay up until the test ends.
        held: Mutex<Vec<tokio::sync::mpsc::Sender<Result<BytesMessage, Status>>>>,
    }

    pub fn server(rec: Recorded) -> ControlServer<Fake> {
        ControlServer::new(Fake {
            rec,
            held: Mutex::new(Vec::new()),
        })
    }

    type Empty<T> = ReceiverStream<Result<T, Status>>;

    #[tonic::async_trait]
    impl Control for Fake {
        async fn disk_usage(
            &self,
            _r: Request<DiskUsageRequest>,
        ) -> Result<Response<DiskUsageResponse>, Status> {
            Err(Status::unimplemented("fake"))
        }
        type PruneStream = Empty<UsageRecord>;
        async fn prune(
            &self,
            _r: Request<PruneRequest>,
        ) -> Result<Response<Self::PruneStream>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn solve(&self, r: Request<SolveRequest>) -> Result<Response<SolveResponse>, Status> {
            let req = r.into_inner();
            self.rec.solves.lock().unwrap().push(req.clone());
            let mut extra = Vec::new();
            let channel = self
                .rec
                .session_channels
                .lock()
                .unwrap()
                .get(&req.session)
                .cloned();
            if let (Some(cache), Some(channel)) = (&req.cache, channel) {
                let mut log = Vec::new();
                for im in cache.imports.iter().filter(|e| e.r#type == "local") {
                    super::local_cache::import(channel.clone(), &im.attrs, &mut log).await;
                }
                for ex in cache.exports.iter().filter(|e| e.r#type == "local") {
                    let desc =
                        super::local_cache::export(channel.clone(), &ex.attrs, &mut log).await;
                    extra.push(("cache.manifest".to_string(), desc));
                }
                self.rec.content.lock().unwrap().extend(log);
            }
            // A build that is cancelled or fails after the cache blobs were written.
            match req
                .frontend_attrs
                .get("build-arg:FAKE_SOLVE")
                .map(String::as_str)
            {
                Some("hang") => std::future::pending::<()>().await,
                Some("fail") => {
                    return Err(Status::unknown(
                        "process \"/bin/sh -c make\" did not complete successfully: exit code: 2",
                    ));
                }
                _ => {}
            }
            Ok(Response::new(SolveResponse {
                exporter_response: extra.into_iter().chain([
                    (
                        "containerimage.digest".to_string(),
                        "sha256:1111111111111111111111111111111111111111111111111111111111111111"
                            .to_string(),
                    ),
                    (
                        "containerimage.config.digest".to_string(),
                        "sha256:2222222222222222222222222222222222222222222222222222222222222222"
                            .to_string(),
                    ),
                ])
                .collect(),
            }))
        }
        type StatusStream = Empty<StatusResponse>;
        async fn status(
            &self,
            _r: Request<StatusRequest>,
        ) -> Result<Response<Self::StatusStream>, Status> {
            let (_tx, rx) = tokio::sync::mpsc::channel(1);
            Ok(Response::new(ReceiverStream::new(rx)))
        }
        type SessionStream = Empty<BytesMessage>;
        async fn session(
            &self,
            r: Request<Streaming<BytesMessage>>,
        ) -> Result<Response<Self::SessionStream>, Status> {
            let md = r.metadata().clone();
            if let Some(id) = md.get("x-docker-expose-session-uuid") {
                self.rec
                    .session_ids
                    .lock()
                    .unwrap()
                    .push(id.to_str().unwrap().to_string());
            }
            for m in md.get_all("x-docker-expose-session-grpc-method") {
                self.rec
                    .session_methods
                    .lock()
                    .unwrap()
                    .push(m.to_str().unwrap().to_string());
            }
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            self.held.lock().unwrap().push(tx.clone());
            if let Some(id) = md.get("x-docker-expose-session-uuid") {
                let channel = super::local_cache::session_channel(r.into_inner(), tx);
                self.rec
                    .session_channels
                    .lock()
                    .unwrap()
                    .insert(id.to_str().unwrap().to_string(), channel);
            }
            Ok(Response::new(ReceiverStream::new(rx)))
        }
        async fn list_workers(
            &self,
            _r: Request<ListWorkersRequest>,
        ) -> Result<Response<ListWorkersResponse>, Status> {
            let platform = |arch: &str| bollard_buildkit_proto::pb::Platform {
                architecture: arch.into(),
                os: "linux".into(),
                ..Default::default()
            };
            Ok(Response::new(ListWorkersResponse {
                record: vec![
                    bollard_buildkit_proto::moby::buildkit::v1::types::WorkerRecord {
                        id: "fakeworker".into(),
                        platforms: vec![platform("amd64"), platform("arm64")],
                        ..Default::default()
                    },
                ],
            }))
        }
        async fn info(&self, _r: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
            Err(Status::unimplemented("fake"))
        }
        type ListenBuildHistoryStream = Empty<BuildHistoryEvent>;
        async fn listen_build_history(
            &self,
            _r: Request<BuildHistoryRequest>,
        ) -> Result<Response<Self::ListenBuildHistoryStream>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn update_build_history(
            &self,
            _r: Request<UpdateBuildHistoryRequest>,
        ) -> Result<Response<UpdateBuildHistoryResponse>, Status> {
            Err(Status::unimplemented("fake"))
        }
    }
}

/// BuildKit's side of `type=local` cache, played by the fake daemon: it calls the content store dockui
/// serves in the session exactly as BuildKit's local exporter/importer do (containerd's Content API, store id
/// `local:DIR` in the `buildkit-attachable-store-id` header).
mod local_cache {
    use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
    use dockui::buildkit::content::{STORE_ID_HEADER, proto};
    use futures_util::StreamExt;
    use sha2::Digest as _;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};
    use tonic::transport::{Channel, Endpoint, Uri};
    use tonic::{Request, Status, Streaming};

    /// The session stream as a connection (dockui's own type, from the daemon's side).
    use dockui::buildkit::session::SessionIo as Io;

    /// Hands the one session connection to tonic.
    #[derive(Clone)]
    struct Once(Arc<Mutex<Option<Io>>>);
    impl tower_service::Service<Uri> for Once {
        type Response = hyper_util::rt::TokioIo<Io>;
        type Error = std::io::Error;
        type Future = futures_util::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Uri) -> Self::Future {
            futures_util::future::ready(
                self.0
                    .lock()
                    .unwrap()
                    .take()
                    .map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("the session connection is used")),
            )
        }
    }

    pub fn session_channel(
        incoming: Streaming<BytesMessage>,
        outgoing: tokio::sync::mpsc::Sender<Result<BytesMessage, Status>>,
    ) -> Channel {
        let read = tokio_util::io::StreamReader::new(incoming.map(|m| {
            m.map(|m| bytes::Bytes::from(m.data))
                .map_err(|e| std::io::Error::other(e.to_string()))
        }));
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let mut chunks = tokio_util::io::ReaderStream::new(theirs);
            while let Some(Ok(b)) = chunks.next().await {
                if outgoing
                    .send(Ok(BytesMessage { data: b.to_vec() }))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let io = Io {
            read: Box::pin(read),
            write: ours,
        };
        Endpoint::from_static("http://session")
            .connect_with_connector_lazy(Once(Arc::new(Mutex::new(Some(io)))))
    }

    const SVC: &str = "/containerd.services.content.v1.Content/";

    fn req<T>(store: &str, m: T) -> Request<T> {
        let mut r = Request::new(m);
        r.metadata_mut()
            .insert(STORE_ID_HEADER, store.parse().unwrap());
        r
    }

    async fn grpc(channel: Channel) -> tonic::client::Grpc<Channel> {
        let mut g = tonic::client::Grpc::new(channel);
        g.ready().await.unwrap();
        g
    }

    pub async fn info(channel: Channel, store: &str, digest: &str) -> Result<proto::Info, Status> {
        let path = format!("{SVC}Info").parse().unwrap();
        let r = grpc(channel)
            .await
            .unary(
                req(
                    store,
                    proto::InfoRequest {
                        digest: digest.into(),
                    },
                ),
                path,
                tonic_prost::ProstCodec::<proto::InfoRequest, proto::InfoResponse>::default(),
            )
            .await?;
        Ok(r.into_inner().info.unwrap_or_default())
    }

    pub async fn read(channel: Channel, store: &str, digest: &str) -> Result<Vec<u8>, Status> {
        let path = format!("{SVC}Read").parse().unwrap();
        let mut stream = grpc(channel)
            .await
            .server_streaming(
                req(
                    store,
                    proto::ReadContentRequest {
                        digest: digest.into(),
                        ..Default::default()
                    },
                ),
                path,
                tonic_prost::ProstCodec::<proto::ReadContentRequest, proto::ReadContentResponse>::default(),
            )
            .await?
            .into_inner();
        let mut out = Vec::new();
        while let Some(m) = stream.message().await? {
            assert_eq!(m.offset as usize, out.len());
            out.extend(m.data);
        }
        Ok(out)
    }

    /// Write `bytes` in two chunks and commit, announcing `expected`, as containerd's `content.WriteBlob` over
    /// its proxy writer does: STAT with the ref (opening the writer), STAT (Copy asks the status), WRITE...,
    /// COMMIT, each answered.
    pub async fn write(
        channel: Channel,
        store: &str,
        bytes: &[u8],
        expected: &str,
    ) -> Result<proto::WriteContentResponse, Status> {
        let path = format!("{SVC}Write").parse().unwrap();
        let half = bytes.len() / 2;
        let total = bytes.len() as i64;
        let msgs = vec![
            proto::WriteContentRequest {
                action: proto::STAT,
                r#ref: format!("fake-{expected}"),
                total,
                expected: expected.into(),
                ..Default::default()
            },
            proto::WriteContentRequest {
                action: proto::STAT,
                ..Default::default()
            },
            proto::WriteContentRequest {
                action: proto::WRITE,
                offset: 0,
                data: bytes[..half].to_vec(),
                ..Default::default()
            },
            proto::WriteContentRequest {
                action: proto::WRITE,
                offset: half as i64,
                data: bytes[half..].to_vec(),
                ..Default::default()
            },
            proto::WriteContentRequest {
                action: proto::COMMIT,
                offset: total,
                total,
                expected: expected.into(),
                ..Default::default()
            },
        ];
        let mut stream =
            grpc(channel)
                .await
                .streaming(
                    req(store, tokio_stream::iter(msgs)),
                    path,
                    tonic_prost::ProstCodec::<
                        proto::WriteContentRequest,
                        proto::WriteContentResponse,
                    >::default(),
                )
                .await?
                .into_inner();
        let mut last = None;
        while let Some(m) = stream.message().await? {
            last = Some(m);
        }
        last.ok_or_else(|| Status::unknown("no answer"))
    }

    fn sha(b: &[u8]) -> String {
        format!("sha256:{:x}", sha2::Sha256::digest(b))
    }

    pub const LAYER: &[u8] = b"a layer blob the fake exporter writes";

    /// The local cache importer: Info and Read of the digest the client resolved from index.json, and a write
    /// attempt (the source must be read-only).
    pub async fn import(channel: Channel, attrs: &HashMap<String, String>, log: &mut Vec<String>) {
        let store = format!("local:{}", attrs["src"]);
        let digest = &attrs["digest"];
        match info(channel.clone(), &store, digest).await {
            Ok(i) => log.push(format!("import info {} {}", i.digest, i.size)),
            Err(e) => log.push(format!("import info error {:?}", e.code())),
        }
        match read(channel.clone(), &store, digest).await {
            Ok(b) => log.push(format!("import read {}", String::from_utf8_lossy(&b))),
            Err(e) => log.push(format!("import read error {:?}", e.code())),
        }
        match write(channel, &store, b"x", &sha(b"x")).await {
            Ok(_) => log.push("import write ok".into()),
            Err(e) => log.push(format!("import write error {:?}", e.code())),
        }
    }

    /// The local cache exporter: a layer, the cache config and the index naming both, then the descriptor of
    /// that index as `cache.manifest`. Also a write whose bytes do not match the announced digest, and a write
    /// of a blob that is already there.
    pub async fn export(
        channel: Channel,
        attrs: &HashMap<String, String>,
        log: &mut Vec<String>,
    ) -> String {
        let store = format!("local:{}", attrs["dest"]);
        let wrong = write(
            channel.clone(),
            &store,
            b"not what was announced",
            &sha(b"other"),
        )
        .await;
        log.push(format!(
            "export wrong digest {:?}",
            wrong.map_err(|e| e.code())
        ));
        let layer = sha(LAYER);
        let r = write(channel.clone(), &store, LAYER, &layer).await.unwrap();
        assert_eq!(r.digest, layer);
        assert_eq!(r.offset, LAYER.len() as i64);
        let again = write(channel.clone(), &store, LAYER, &layer).await;
        log.push(format!("export again {:?}", again.map_err(|e| e.code())));
        let config = serde_json::json!({"layers": [{"blob": layer, "parent": -1}], "records": []})
            .to_string();
        let config_digest = sha(config.as_bytes());
        // BuildKit skips content the store already has (an earlier export to the same directory).
        let exists_ok = |r: Result<proto::WriteContentResponse, Status>| match r {
            Err(e) if e.code() == tonic::Code::AlreadyExists => {}
            r => {
                r.unwrap();
            }
        };
        exists_ok(write(channel.clone(), &store, config.as_bytes(), &config_digest).await);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": LAYER.len()},
                {"mediaType": "application/vnd.buildkit.cacheconfig.v0", "digest": config_digest, "size": config.len()},
            ],
        })
        .to_string();
        let index_digest = sha(index.as_bytes());
        exists_ok(write(channel, &store, index.as_bytes(), &index_digest).await);
        log.push(format!("export index {index_digest}"));
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest,
            "size": index.len(),
        })
        .to_string()
    }
}

/// Serve the fake on a plain loopback port.
async fn fake_daemon() -> (u16, fake::Recorded) {
    let rec = fake::Recorded::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let svc = fake::server(rec.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (port, rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_daemon_gets_the_image_exporter_with_push_platforms_and_registry_cache() {
    let (port, rec) = fake_daemon().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let caps = builder.capabilities().await.unwrap();
    assert!(
        caps.multi_platform && caps.push_in_build && !caps.run,
        "{caps:?}"
    );
    assert_eq!(caps.platforms, ["linux/amd64", "linux/arm64"]);
    assert!(caps.cache_export.contains(&CacheType::Registry));
    assert!(caps.cache_export.contains(&CacheType::Gha));

    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "x");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: "registry.example:5000/team/app:1.0".into(),
        extra_tags: vec!["registry.example:5000/team/app:latest".into()],
        platform: "linux/amd64,linux/arm64".into(),
        args: [("TORCH".to_string(), "2.3.1".to_string())].into(),
        cache_from: vec!["type=registry,ref=registry.example:5000/team/app:cache".into()],
        cache_to: vec![
            "type=registry,ref=registry.example:5000/team/app:cache,mode=max".into(),
            // The runner's cache service, as a GitHub Actions job passes it.
            "type=gha,scope=main,url=http://cache.example/,token=ghs_faketoken".into(),
            "type=inline".into(),
        ],
        push: true,
        ..Default::default()
    };
    let id = builder.build(spec, tx).await.unwrap();
    let lines = drain(&mut rx);
    assert_eq!(
        id,
        "sha256:2222222222222222222222222222222222222222222222222222222222222222"
    );
    assert!(
        lines.iter().any(|l| l.contains("type=image,push=true")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains(
            "cache export type=gha,scope=main,token=***,url=http://cache.example/: supported"
        )),
        "{lines:#?}"
    );
    let solves = rec.solves.lock().unwrap().clone();
    assert_eq!(solves.len(), 1);
    let req = &solves[0];
    assert_eq!(req.frontend, "dockerfile.v0");
    assert_eq!(req.exporter_deprecated, "image");
    assert_eq!(req.exporter_attrs_deprecated["push"], "true");
    assert_eq!(
        req.exporter_attrs_deprecated["name"],
        "registry.example:5000/team/app:1.0,registry.example:5000/team/app:latest"
    );
    assert_eq!(req.frontend_attrs["platform"], "linux/amd64,linux/arm64");
    assert_eq!(req.frontend_attrs["build-arg:TORCH"], "2.3.1");
    assert_eq!(req.frontend_attrs["filename"], "Dockerfile");
    let cache = req.cache.as_ref().unwrap();
    let exports: Vec<(String, Vec<(String, String)>)> = cache
        .exports
        .iter()
        .map(|e| {
            let mut a: Vec<_> = e.attrs.clone().into_iter().collect();
            a.sort();
            (e.r#type.clone(), a)
        })
        .collect();
    assert_eq!(exports[0].0, "registry");
    assert!(exports[0].1.contains(&("mode".into(), "max".into())));
    assert!(
        exports[0]
            .1
            .contains(&("ref".into(), "registry.example:5000/team/app:cache".into()))
    );
    assert_eq!(exports[1].0, "gha");
    assert!(exports[1].1.contains(&("scope".into(), "main".into())));
    // The token goes to BuildKit, and nowhere else.
    assert!(
        exports[1]
            .1
            .contains(&("token".into(), "ghs_faketoken".into()))
    );
    assert!(
        !lines.iter().any(|l| l.contains("ghs_faketoken")),
        "{lines:#?}"
    );
    assert_eq!(exports[2].0, "inline");
    assert_eq!(cache.imports[0].r#type, "registry");
    // The solve names the session dockui opened, which announced file sync for the context.
    let sessions = rec.session_ids.lock().unwrap().clone();
    assert_eq!(sessions, std::slice::from_ref(&req.session));
    assert!(
        rec.session_methods
            .lock()
            .unwrap()
            .contains(&"/moby.filesync.v1.FileSync/DiffCopy".to_string())
    );
    assert!(!req.r#ref.is_empty());
    // The push happened in the build: `push` reports the digest the exporter gave, no second upload.
    let (ptx, _prx) = tokio::sync::mpsc::unbounded_channel();
    let pushed = builder
        .push(
            "registry.example:5000/team/app",
            "1.0",
            None,
            ptx,
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(
        pushed.digest.as_deref(),
        Some("sha256:1111111111111111111111111111111111111111111111111111111111111111")
    );
}

/// `type=local` on a standalone daemon: dockui sends the entries as buildctl does (absolute directories, the
/// import's `digest` read from its index.json), announces the content service in the session, and serves
/// BuildKit's calls: the fake daemon writes a layer, a cache config and an index into `dest`, reads the
/// source's manifest, and dockui points `dest/index.json` at the manifest the daemon reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_cache_is_exported_and_imported_through_the_session_content_store() {
    let (port, rec) = fake_daemon().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let caps = builder.capabilities().await.unwrap();
    assert!(caps.cache_export.contains(&CacheType::Local), "{caps:?}");
    assert!(caps.cache_import.contains(&CacheType::Local), "{caps:?}");
    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "x");
    // A source directory as an earlier export left it: a manifest blob tagged latest.
    let src = tempfile::tempdir().unwrap();
    let manifest = b"{\"manifests\":[]}";
    let manifest_digest = {
        use sha2::Digest as _;
        format!("sha256:{:x}", sha2::Sha256::digest(manifest))
    };
    std::fs::create_dir_all(src.path().join("blobs/sha256")).unwrap();
    std::fs::write(
        src.path()
            .join("blobs/sha256")
            .join(manifest_digest.strip_prefix("sha256:").unwrap()),
        manifest,
    )
    .unwrap();
    std::fs::write(
        src.path().join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": [{"digest": manifest_digest, "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]})
        .to_string(),
    )
    .unwrap();
    let src_before = std::fs::read_dir(src.path().join("blobs/sha256"))
        .unwrap()
        .count();
    // The destination does not exist yet: dockui creates it.
    let dest_root = tempfile::tempdir().unwrap();
    let dest = dest_root.path().join("cache");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: "r/app:1".into(),
        cache_from: vec![format!("type=local,src={}", src.path().display())],
        cache_to: vec![format!("type=local,dest={},mode=max", dest.display())],
        ..Default::default()
    };
    builder.build(spec, tx).await.unwrap();
    let lines = drain(&mut rx);

    // Request shape: as buildctl sends it.
    let req = rec.solves.lock().unwrap()[0].clone();
    let cache = req.cache.as_ref().unwrap();
    assert_eq!(cache.exports[0].r#type, "local");
    assert_eq!(cache.exports[0].attrs["dest"], dest.display().to_string());
    assert_eq!(cache.exports[0].attrs["mode"], "max");
    assert_eq!(cache.imports[0].r#type, "local");
    assert_eq!(
        cache.imports[0].attrs["src"],
        src.path().display().to_string()
    );
    assert_eq!(cache.imports[0].attrs["digest"], manifest_digest);
    let frontend_imports: serde_json::Value =
        serde_json::from_str(&req.frontend_attrs["cache-imports"]).unwrap();
    assert_eq!(frontend_imports[0]["Type"], "local");
    assert_eq!(
        frontend_imports[0]["Attrs"]["digest"],
        manifest_digest.as_str()
    );
    assert!(
        rec.session_methods
            .lock()
            .unwrap()
            .contains(&"/containerd.services.content.v1.Content/Write".to_string())
    );

    // What BuildKit's side saw.
    let log = rec.content.lock().unwrap().clone();
    assert!(
        log.contains(&format!("import info {manifest_digest} {}", manifest.len())),
        "{log:#?}"
    );
    assert!(
        log.contains(&format!(
            "import read {}",
            String::from_utf8_lossy(manifest)
        )),
        "{log:#?}"
    );
    assert!(
        log.contains(&"import write error PermissionDenied".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"export wrong digest Err(FailedPrecondition)".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"export again Err(AlreadyExists)".to_string()),
        "{log:#?}"
    );
    let index_digest = log
        .iter()
        .find_map(|l| l.strip_prefix("export index "))
        .unwrap()
        .to_string();

    // The OCI layout on disk: three verified blobs, index.json tagged latest, no temp files.
    let blobs: Vec<String> = std::fs::read_dir(dest.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(blobs.len(), 3, "{blobs:?}");
    for name in &blobs {
        use sha2::Digest as _;
        let bytes = std::fs::read(dest.join("blobs/sha256").join(name)).unwrap();
        assert_eq!(&format!("{:x}", sha2::Sha256::digest(&bytes)), name);
    }
    assert!(!dest.join("ingest").exists(), "no ingest leftovers");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], index_digest.as_str());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    assert!(dest.join("oci-layout").is_file());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cache exported to") && l.contains(&index_digest)),
        "{lines:#?}"
    );
    // The source was only read.
    assert_eq!(
        std::fs::read_dir(src.path().join("blobs/sha256"))
            .unwrap()
            .count(),
        src_before
    );
    assert!(!src.path().join("ingest").exists());

    // And the next build imports what was exported: its index.json gives the digest.
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: "r/app:2".into(),
        cache_from: vec![format!("type=local,src={}", dest.display())],
        ..Default::default()
    };
    builder.build(spec, tx).await.unwrap();
    let req = rec.solves.lock().unwrap()[1].clone();
    assert_eq!(req.cache.unwrap().imports[0].attrs["digest"], index_digest);
}

/// A build with `--cache-to type=local` that does not finish (cancelled while BuildKit writes the cache, or
/// failed after it wrote blobs) leaves the destination as it was: a directory dockui created is gone, one that
/// held an earlier cache keeps exactly its blobs and `index.json` (still importable), no `ingest/` leftovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_local_cache_export_leaves_the_destination_as_it_was() {
    let (port, _rec) = fake_daemon().await;
    let builder = std::sync::Arc::new(
        BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    context(dir.path(), "x");
    let spec = |dest: &Path, mode: &str| BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: "r/app:1".into(),
        args: [("FAKE_SOLVE".to_string(), mode.to_string())].into(),
        cache_to: vec![format!("type=local,dest={}", dest.display())],
        ..Default::default()
    };
    let files = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = walkdir(d)
            .into_iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    };
    let root = tempfile::tempdir().unwrap();

    // An earlier, finished export: the cache a later build must not spoil.
    let kept = root.path().join("kept");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    builder.build(spec(&kept, "ok"), tx).await.unwrap();
    let kept_before = files(&kept);
    assert!(
        kept_before.contains(&"index.json".to_string()),
        "{kept_before:?}"
    );
    let index_before = std::fs::read(kept.join("index.json")).unwrap();
    // Drop the layer blob so the next export writes something new there.
    let layer = format!("{:x}", {
        use sha2::Digest as _;
        sha2::Sha256::digest(local_cache::LAYER)
    });
    std::fs::remove_file(kept.join("blobs/sha256").join(&layer)).unwrap();
    let kept_before = files(&kept);

    for mode in ["hang", "fail"] {
        let fresh = root.path().join(format!("fresh-{mode}"));
        for dest in [&fresh, &kept] {
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let b = builder.clone();
            let s = spec(dest, mode);
            let build = tokio::spawn(async move { b.build(s, tx).await });
            if mode == "hang" {
                // Cancel once BuildKit wrote the cache blobs (the solve then never ends).
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while !dest.join("blobs/sha256").join(&layer).exists() {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "the fake wrote no blob"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                build.abort();
                assert!(build.await.unwrap_err().is_cancelled());
            } else {
                let err = build.await.unwrap().unwrap_err();
                assert!(err.to_string().contains("exit code: 2"), "{err}");
            }
            if dest == &fresh {
                assert!(!fresh.exists(), "{mode}: {:?}", files(&fresh));
            } else {
                assert_eq!(files(&kept), kept_before, "{mode}");
                assert_eq!(
                    std::fs::read(kept.join("index.json")).unwrap(),
                    index_before
                );
            }
        }
    }
}

fn walkdir(d: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        out.push(p.clone());
        if p.is_dir() {
            out.extend(walkdir(&p));
        }
    }
    out
}

/// CA, server and client certificates made with openssl, plus a client certificate from another CA.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn make() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let script = r#"
set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=dockui-test-ca 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca-key.pem -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server-key.pem -out server.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout key.pem -out client.csr -subj /CN=client 2>/dev/null
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout bad-key.pem -out bad.csr -subj /CN=intruder 2>/dev/null
openssl x509 -req -in bad.csr -CA other-ca.pem -CAkey other-ca-key.pem -CAcreateserial -out bad-cert.pem -days 2 -extfile client.ext 2>/dev/null
"#;
        let out = Command::new("sh")
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        Certs { dir }
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// A TLS stream tonic's server accepts (it needs `Connected`).
struct TlsConn(tokio_rustls::server::TlsStream<tokio::net::TcpStream>);

impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl tokio::io::AsyncRead for TlsConn {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsConn {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The fake daemon behind mTLS: the server requires a client certificate signed by the test CA.
async fn fake_daemon_mtls(certs: &Certs) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(certs.path("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let chain: Vec<_> = CertificateDer::pem_file_iter(certs.path("server.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(certs.path("server-key.pem")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<TlsConn>>(4);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                // A rejected client certificate ends the handshake here; the client only sees the alert.
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = tx.send(Ok(TlsConn(tls))).await;
                }
            });
        }
    });
    let svc = fake::server(fake::Recorded::default());
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await;
    });
    port
}

fn mtls_settings(port: u16, certs: &Certs, cert: &str, key: &str) -> Settings {
    Settings {
        address: format!("tcp://127.0.0.1:{port}"),
        source: "[engine] buildkit_host",
        tls: TlsFiles {
            ca: Some(certs.path("ca.pem")),
            cert: Some(certs.path(cert)),
            key: Some(certs.path(key)),
            server_name: String::new(),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_the_right_client_certificate_reaches_the_daemon() {
    let certs = Certs::make();
    let port = fake_daemon_mtls(&certs).await;
    let builder =
        BuildkitBuilder::connect(&mtls_settings(port, &certs, "cert.pem", "key.pem")).unwrap();
    let caps = builder.capabilities().await.unwrap();
    assert_eq!(caps.platforms, ["linux/amd64", "linux/arm64"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_with_a_client_certificate_of_another_ca_says_what_it_likely_means() {
    let certs = Certs::make();
    let port = fake_daemon_mtls(&certs).await;
    let builder =
        BuildkitBuilder::connect(&mtls_settings(port, &certs, "bad-cert.pem", "bad-key.pem"))
            .unwrap();
    match builder.ping().await.unwrap_err() {
        DockerError::Unreachable { endpoint, reason } => {
            assert_eq!(endpoint, format!("tcp://127.0.0.1:{port}"));
            // The daemon's UnknownCA alert, or (as it races the close) the connection ending at the
            // handshake: either way it is the client certificate that is named.
            assert!(
                (reason.contains("rejected the client certificate")
                    || reason.contains("rejects a client certificate"))
                    && reason.contains("BUILDKIT_TLS_CERT"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A CA file that is missing is named.
    let mut no_ca = mtls_settings(port, &certs, "cert.pem", "key.pem");
    no_ca.tls.ca = Some(certs.path("missing-ca.pem"));
    let err = BuildkitBuilder::connect(&no_ca)
        .unwrap()
        .ping()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing-ca.pem"), "{err}");
}

/// Whether a process whose command line contains `marker` runs on this machine (BuildKit's RUN steps are
/// host processes under runc).
fn process_running(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(marker))
            .unwrap_or(false)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn dropping_the_build_cancels_the_solve_and_its_running_step() {
    common::engine_or_skip("daemon_cancel").await.unwrap();
    let port = h2c_proxy().await;
    let builder = BuildkitBuilder::connect(&settings(&format!("tcp://127.0.0.1:{port}"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(busybox(), dir.path().join("busybox")).unwrap();
    let marker = format!("dockui-cancel-{}", std::process::id());
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo started; /bin/busybox sleep 300; echo {marker}\"]\n"
        ),
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        tag: format!("dockui-test/bk-cancel:{}", std::process::id()),
        no_cache: true,
        network: "none".into(),
        ..Default::default()
    };
    let build = builder.build(spec, tx);
    let mut seen = Vec::new();
    let started = async {
        while let Some(e) = rx.recv().await {
            if let BuildEvent::Line(l) = e {
                let hit = l.ends_with(" started");
                seen.push(l);
                if hit {
                    return true;
                }
            }
        }
        false
    };
    let mut build = build;
    let started = tokio::select! {
        r = &mut build => panic!("the build ended before it was cancelled: {r:?}"),
        s = tokio::time::timeout(std::time::Duration::from_secs(60), started) => s,
    };
    assert_eq!(started, Ok(true), "{seen:#?}");
    // The build is still alive here (polled or not, its solve runs in BuildKit): the step's process is
    // visible on the host (runc).
    assert!(
        process_running(&marker),
        "the RUN step was running: {seen:#?}"
    );
    // Dropping the build future resets the solve call; BuildKit stops the step.
    drop(build);
    let t0 = std::time::Instant::now();
    while process_running(&marker) {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "the step still runs 20 s after the build was dropped"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    eprintln!(
        "step stopped {:.1}s after the drop",
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn a_unix_socket_address_reaches_the_daemon_and_builds() {
    common::engine_or_skip("daemon_unix").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("buildkitd.sock");
    h2c_proxy_unix(&sock).await;
    let builder =
        BuildkitBuilder::connect(&settings(&format!("unix://{}", sock.display()))).unwrap();
    let info = builder.ping().await.unwrap();
    assert_eq!(info.endpoint, format!("unix://{}", sock.display()));
    let ctx = dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY a.txt /\n").unwrap();
    std::fs::write(ctx.join("a.txt"), "a\n").unwrap();
    let tag = format!("dockui-test/bk-unix:{}", std::process::id());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let spec = BuildSpec {
        context_dir: ctx.clone(),
        dockerfile: "Dockerfile".into(),
        tag: tag.clone(),
        ..Default::default()
    };
    let id = builder.build(spec, tx).await.unwrap();
    let inspect = docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    let _ = docker(&["rmi", "-f", &tag]);
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn the_engines_grpc_answers_over_a_connection_opened_by_someone_else() {
    use dockui::buildkit::transport::{Dial, Io, Target};
    common::engine_or_skip("grpc_via_dial").await.unwrap();
    // What the remote-engine adapter does for TLS and ssh engines: it opens the raw connection.
    let dial = Dial {
        dial: std::sync::Arc::new(|| {
            Box::pin(async {
                let s = tokio::net::UnixStream::connect(common::proxy::ENGINE_SOCKET).await?;
                Ok(Box::new(s) as Box<dyn Io>)
            })
        }),
        describe: "unix:///var/run/docker.sock".into(),
    };
    let channel = Target::EngineGrpcVia(dial).channel().await.unwrap();
    let workers =
        bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient::new(channel)
            .list_workers(bollard_buildkit_proto::moby::buildkit::v1::ListWorkersRequest::default())
            .await
            .unwrap()
            .into_inner();
    assert!(!workers.record.is_empty());
}

/// `dockui build --backend buildkit` from the outside, with BUILDKIT_HOST pointing at the proxy: the build runs
/// on the daemon code path, the progress is on stderr, the JSON names the backend, the smoke tests are skipped
/// with the reason (a daemon runs no containers), and the image is in the engine behind the proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn dockui_build_backend_buildkit_builds_on_the_daemon() {
    common::engine_or_skip("cli_backend_buildkit")
        .await
        .unwrap();
    let port = h2c_proxy().await;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("cli-{}", std::process::id());
    context(&dir, &marker);
    let tag = format!("cli-{}", std::process::id());
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"dockui-test/bk-cli\"\ntag = \"{tag}\"\nmax_attempts = 1\nnetwork = \"none\"\n[smoke]\ncommands = [\"/bin/busybox true\"]\n"
        ),
    )
    .unwrap();
    let mut cmd = common::dockui(home.path());
    cmd.env("BUILDKIT_HOST", format!("tcp://127.0.0.1:{port}"))
        .args(["build", "--backend", "buildkit", "--format", "json"])
        .arg(&dir);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let image = format!("dockui-test/bk-cli:{tag}");
    let inspect = docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
    let _ = docker(&["rmi", "-f", &image]);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("on the BuildKit daemon at tcp://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("DONE"), "progress on stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON result");
    assert_eq!(v["success"], true, "{v:#}");
    assert_eq!(v["backend"]["kind"], "buildkit", "{v:#}");
    assert_eq!(
        v["backend"]["endpoint"],
        format!("tcp://127.0.0.1:{port}"),
        "{v:#}"
    );
    let skipped = v["smoke_skipped"].as_str().unwrap_or_default();
    assert!(skipped.contains("cannot run containers"), "{v:#}");
    assert!(
        inspect.status.success(),
        "the image is in the engine: {inspect:?}"
    );
    assert_eq!(
        v["image_id"].as_str(),
        Some(String::from_utf8_lossy(&inspect.stdout).trim()),
        "{v:#}"
    );
}

/// `--cache-to type=gha` on a standalone daemon from the CLI: without the runner's cache URL and token (not
/// given, not in the environment) refused before anything is solved, saying where they come from; with
/// ACTIONS_CACHE_URL / ACTIONS_RUNTIME_TOKEN set (as in a GitHub Actions job) the daemon gets them, and the
/// token is on no output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gha_cache_needs_the_runners_url_and_token_and_never_prints_the_token() {
    let (port, rec) = fake_daemon().await;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    context(&dir, "gha");
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/gha\"\nmax_attempts = 1\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    // None: no runner; Some(false): the v1 cache service; Some(true): v2, as GitHub's runners set it now.
    let run = |runner_env: Option<bool>| {
        let mut cmd = common::dockui(home.path());
        cmd.env("BUILDKIT_HOST", format!("tcp://127.0.0.1:{port}"))
            .env_remove("ACTIONS_CACHE_URL")
            .env_remove("ACTIONS_RESULTS_URL")
            .env_remove("ACTIONS_CACHE_SERVICE_V2")
            .env_remove("ACTIONS_RUNTIME_TOKEN")
            .args([
                "build",
                "--backend",
                "buildkit",
                "--format",
                "json",
                "--no-smoke",
            ])
            .args(["--cache-to", "type=gha,scope=main,mode=max"])
            .args(["--cache-from", "type=gha,scope=main"])
            .arg(&dir);
        match runner_env {
            Some(false) => {
                cmd.env("ACTIONS_CACHE_URL", "http://cache.example/")
                    .env("ACTIONS_RUNTIME_TOKEN", "ghs_runnertoken42");
            }
            Some(true) => {
                cmd.env("ACTIONS_CACHE_SERVICE_V2", "true")
                    .env("ACTIONS_RESULTS_URL", "http://results.example/")
                    .env("ACTIONS_RUNTIME_TOKEN", "ghs_runnertoken42");
            }
            None => {}
        }
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let out = run(None).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL) and ACTIONS_RUNTIME_TOKEN are not set"
        ),
        "{stderr}"
    );
    assert!(rec.solves.lock().unwrap().is_empty(), "nothing solved");

    for (v2, n) in [(false, 1), (true, 2)] {
        let out = run(Some(v2)).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let solves = rec.solves.lock().unwrap().clone();
        assert_eq!(solves.len(), n, "{stderr}");
        let cache = solves[n - 1].cache.as_ref().unwrap();
        for e in cache.exports.iter().chain(&cache.imports) {
            assert_eq!(e.r#type, "gha");
            assert_eq!(e.attrs["token"], "ghs_runnertoken42");
            if v2 {
                assert_eq!(e.attrs["version"], "2");
                assert_eq!(e.attrs["url_v2"], "http://results.example/");
            } else {
                assert_eq!(e.attrs["url"], "http://cache.example/");
                assert!(!e.attrs.contains_key("url_v2"));
            }
        }
        assert!(!stdout.contains("ghs_runnertoken42"), "{stdout}");
        assert!(!stderr.contains("ghs_runnertoken42"), "{stderr}");
    }
    // Nor in anything dockui wrote (build logs, the build record, its log file).
    let mut files = 0;
    for f in walkdir(home.path()).into_iter().filter(|p| p.is_file()) {
        files += 1;
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).to_string();
        assert!(
            !text.contains("ghs_runnertoken42"),
            "{}: {text}",
            f.display()
        );
    }
    assert!(files > 3, "{files} files");
}

/// With mTLS configured, each transport failure is told by its cause (refused, unknown CA, client certificate,
/// an unreadable file, no TLS on the other side): only a rejected client certificate is blamed on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_transport_errors_are_told_apart_by_cause() {
    let certs = Certs::make();
    let reason = |s: Settings| async move {
        match BuildkitBuilder::connect(&s)
            .unwrap()
            .ping()
            .await
            .unwrap_err()
        {
            DockerError::Unreachable { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    };
    let blames_client_cert = |r: &str| r.contains("rejected") || r.contains("rejects");
    // Nothing listening, with valid TLS files: the daemon is not there, the certificates are not the matter.
    let r = reason(mtls_settings(
        common::closed_port(),
        &certs,
        "cert.pem",
        "key.pem",
    ))
    .await;
    assert!(
        r.contains("Connection refused")
            && r.contains("nothing listens at tcp://127.0.0.1:")
            && r.contains("start buildkitd"),
        "{r}"
    );
    assert!(
        !blames_client_cert(&r) && !r.contains("BUILDKIT_TLS"),
        "{r}"
    );
    let port = fake_daemon_mtls(&certs).await;
    // A client certificate file that is not there: named, with the setting it comes from.
    let r = reason(mtls_settings(port, &certs, "missing-cert.pem", "key.pem")).await;
    assert!(
        r.contains("cannot read the client certificate")
            && r.contains("missing-cert.pem")
            && r.contains("BUILDKIT_TLS_CERT"),
        "{r}"
    );
    assert!(!blames_client_cert(&r), "{r}");
    // The daemon's certificate from a CA other than the one given: the CA setting is named.
    let mut other_ca = mtls_settings(port, &certs, "cert.pem", "key.pem");
    other_ca.tls.ca = Some(certs.path("other-ca.pem"));
    let r = reason(other_ca).await;
    assert!(
        r.contains("UnknownIssuer")
            && r.contains("not signed by the CA")
            && r.contains("BUILDKIT_TLS_CA"),
        "{r}"
    );
    assert!(!blames_client_cert(&r), "{r}");
    // No client certificate at all: the daemon's alert says it wants one (or, as the alert races the
    // close, the connection ends at the handshake): either way the client certificate is named.
    let mut none = mtls_settings(port, &certs, "cert.pem", "key.pem");
    none.tls.cert = None;
    none.tls.key = None;
    let r = reason(none).await;
    assert!(
        blames_client_cert(&r)
            && r.contains("client certificate")
            && r.contains("BUILDKIT_TLS_CERT"),
        "{r}"
    );
    // A daemon listening without TLS (plain h2c) answers the TLS hello in plain text.
    let (plain, _) = fake_daemon().await;
    let r = reason(mtls_settings(plain, &certs, "cert.pem", "key.pem")).await;
    assert!(
        r.contains("InvalidContentType") && r.contains("does not speak TLS"),
        "{r}"
    );
    assert!(!blames_client_cert(&r), "{r}");
    // And the right files still work on the same daemon.
    let ok = BuildkitBuilder::connect(&mtls_settings(port, &certs, "cert.pem", "key.pem")).unwrap();
    assert!(ok.ping().await.is_ok());
}
