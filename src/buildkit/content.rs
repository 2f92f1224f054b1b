//! The content store a BuildKit session serves for `type=local` cache (`--cache-to type=local,dest=DIR`,
//! `--cache-from type=local,src=DIR`). BuildKit's local cache exporter and importer do not touch the client's
//! disk themselves: they call containerd's Content API (`containerd.services.content.v1.Content`) back through
//! the session, choosing a store by the `buildkit-attachable-store-id` header (`local:` + the directory, as
//! buildctl names it). Each store is an OCI image layout: `blobs/sha256/<hex>`, `index.json`, `oci-layout`.
//!
//! Writes never leave a half-written blob or index behind: a blob is written to a temp file under `ingest/`,
//! checked against the digest (and size) the writer announced, then renamed into `blobs/`; `index.json` is
//! replaced by rename after the build reported its cache manifest, and only when that manifest is on disk.
//! Import directories are read-only for BuildKit. Digests are checked to be `sha256:<64 hex>` before any path
//! is built from them.

use bollard_buildkit_proto::google::protobuf::Timestamp;
use sha2::Digest as _;
use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::{Request, Response, Status, Streaming};

/// The gRPC header BuildKit's caller store sets on every call.
pub const STORE_ID_HEADER: &str = "buildkit-attachable-store-id";
/// Store ids are `local:` + the directory given in `dest=` / `src=`.
pub const STORE_ID_PREFIX: &str = "local:";
pub const SERVICE: &str = "containerd.services.content.v1.Content";
/// The exporter response key holding the cache manifest's descriptor (JSON).
pub const CACHE_MANIFEST_KEY: &str = "cache.manifest";
/// The annotation `index.json` entries are found by (`latest` unless `tag=` says otherwise).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
use crate::registry::client::OCI_INDEX as INDEX_MEDIA_TYPE;
/// Larger than any message BuildKit sends (its copies use 1 MiB buffers).
const MAX_MESSAGE: usize = 32 << 20;
const READ_CHUNK: usize = 1 << 20;

/// The method paths the session announces for this service.
pub fn methods() -> Vec<String> {
    [
        "Info",
        "Update",
        "List",
        "Delete",
        "Read",
        "Status",
        "ListStatuses",
        "Write",
        "Abort",
    ]
    .iter()
    .map(|m| format!("/{SERVICE}/{m}"))
    .collect()
}

/// containerd's content messages (`api/services/content/v1/content.proto`), field numbers as there.
pub mod proto {
    use bollard_buildkit_proto::google::protobuf::Timestamp;
    use std::collections::HashMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub digest: String,
        #[prost(int64, tag = "2")]
        pub size: i64,
        #[prost(message, optional, tag = "3")]
        pub created_at: Option<Timestamp>,
        #[prost(message, optional, tag = "4")]
        pub updated_at: Option<Timestamp>,
        #[prost(map = "string, string", tag = "5")]
        pub labels: HashMap<String, String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InfoRequest {
        #[prost(string, tag = "1")]
        pub digest: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct InfoResponse {
        #[prost(message, optional, tag = "1")]
        pub info: Option<Info>,
    }
    /// Field 2 (a FieldMask) is not read: labels are not kept.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UpdateRequest {
        #[prost(message, optional, tag = "1")]
        pub info: Option<Info>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct UpdateResponse {
        #[prost(message, optional, tag = "1")]
        pub info: Option<Info>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContentRequest {
        #[prost(string, repeated, tag = "1")]
        pub filters: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContentResponse {
        #[prost(message, repeated, tag = "1")]
        pub info: Vec<Info>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DeleteContentRequest {
        #[prost(string, tag = "1")]
        pub digest: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadContentRequest {
        #[prost(string, tag = "1")]
        pub digest: String,
        #[prost(int64, tag = "2")]
        pub offset: i64,
        #[prost(int64, tag = "3")]
        pub size: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ReadContentResponse {
        #[prost(int64, tag = "1")]
        pub offset: i64,
        #[prost(bytes = "vec", tag = "2")]
        pub data: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(message, optional, tag = "1")]
        pub started_at: Option<Timestamp>,
        #[prost(message, optional, tag = "2")]
        pub updated_at: Option<Timestamp>,
        #[prost(string, tag = "3")]
        pub r#ref: String,
        #[prost(int64, tag = "4")]
        pub offset: i64,
        #[prost(int64, tag = "5")]
        pub total: i64,
        #[prost(string, tag = "6")]
        pub expected: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusRequest {
        #[prost(string, tag = "1")]
        pub r#ref: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<Status>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListStatusesRequest {
        #[prost(string, repeated, tag = "1")]
        pub filters: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListStatusesResponse {
        #[prost(message, repeated, tag = "1")]
        pub statuses: Vec<Status>,
    }
    /// WriteAction: STAT = 0, WRITE = 1, COMMIT = 2.
    pub const STAT: i32 = 0;
    pub const WRITE: i32 = 1;
    pub const COMMIT: i32 = 2;
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteContentRequest {
        #[prost(int32, tag = "1")]
        pub action: i32,
        #[prost(string, tag = "2")]
        pub r#ref: String,
        #[prost(int64, tag = "3")]
        pub total: i64,
        #[prost(string, tag = "4")]
        pub expected: String,
        #[prost(int64, tag = "5")]
        pub offset: i64,
        #[prost(bytes = "vec", tag = "6")]
        pub data: Vec<u8>,
        #[prost(map = "string, string", tag = "7")]
        pub labels: HashMap<String, String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteContentResponse {
        #[prost(int32, tag = "1")]
        pub action: i32,
        #[prost(message, optional, tag = "2")]
        pub started_at: Option<Timestamp>,
        #[prost(message, optional, tag = "3")]
        pub updated_at: Option<Timestamp>,
        #[prost(int64, tag = "4")]
        pub offset: i64,
        #[prost(int64, tag = "5")]
        pub total: i64,
        #[prost(string, tag = "6")]
        pub digest: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AbortRequest {
        #[prost(string, tag = "1")]
        pub r#ref: String,
    }
}

/// The directories one build offers, by store id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stores {
    dirs: HashMap<String, (PathBuf, bool)>,
}

impl Stores {
    /// Offer `dir`; `writable` for an export destination (the same directory may be both).
    pub fn add(&mut self, dir: &Path, writable: bool) -> String {
        let id = store_id(dir);
        let entry = self
            .dirs
            .entry(id.clone())
            .or_insert_with(|| (dir.to_path_buf(), false));
        entry.1 |= writable;
        id
    }

    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// The export destinations.
    pub fn writable(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .dirs
            .values()
            .filter(|(_, w)| *w)
            .map(|(d, _)| d.clone())
            .collect();
        v.sort();
        v
    }
}

/// `local:` + the directory, as buildctl names the store for `dest=DIR` / `src=DIR`.
pub fn store_id(dir: &Path) -> String {
    format!("{STORE_ID_PREFIX}{}", dir.display())
}

/// The hex part of a `sha256:<64 lowercase hex>` digest; None for anything else (never a path).
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

pub fn blob_path(root: &Path, digest: &str) -> Option<PathBuf> {
    Some(root.join("blobs/sha256").join(sha256_hex(digest)?))
}

fn timestamp(t: SystemTime) -> Timestamp {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn bad_digest(digest: &str) -> Status {
    Status::invalid_argument(format!(
        "`{digest}` is not a sha256 digest (sha256:<64 hex digits>)"
    ))
}

/// One blob write in progress (`Write` stream), under `ingest/` until it is committed.
struct Ingest {
    file: tempfile::NamedTempFile,
    hasher: sha2::Sha256,
    status: proto::Status,
}

struct Inner {
    stores: Stores,
    /// Writes in progress, by ref, for `Status` / `ListStatuses`.
    active: Mutex<HashMap<String, proto::Status>>,
}

impl Inner {
    fn store(&self, md: &tonic::metadata::MetadataMap) -> Result<(PathBuf, bool), Status> {
        let id = md
            .get(STORE_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Status::invalid_argument(format!("request lacks metadata {STORE_ID_HEADER:?}"))
            })?;
        self.stores
            .dirs
            .get(id)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("unknown store {id}")))
    }

    fn info_of(root: &Path, digest: &str) -> Result<proto::Info, Status> {
        let path = blob_path(root, digest).ok_or_else(|| bad_digest(digest))?;
        let meta = std::fs::metadata(&path)
            .map_err(|_| Status::not_found(format!("content digest {digest}: not found")))?;
        let modified = meta.modified().map(timestamp).ok();
        Ok(proto::Info {
            digest: digest.to_string(),
            size: meta.len() as i64,
            created_at: modified,
            updated_at: modified,
            labels: HashMap::new(),
        })
    }

    fn info(&self, r: Request<proto::InfoRequest>) -> Result<proto::InfoResponse, Status> {
        let (root, _) = self.store(r.metadata())?;
        Ok(proto::InfoResponse {
            info: Some(Self::info_of(&root, &r.get_ref().digest)?),
        })
    }

    fn update(&self, r: Request<proto::UpdateRequest>) -> Result<proto::UpdateResponse, Status> {
        let (root, _) = self.store(r.metadata())?;
        let digest = r
            .get_ref()
            .info
            .as_ref()
            .map(|i| i.digest.clone())
            .unwrap_or_default();
        Ok(proto::UpdateResponse {
            info: Some(Self::info_of(&root, &digest)?),
        })
    }

    fn list(&self, r: Request<proto::ListContentRequest>) -> Result<Vec<proto::Info>, Status> {
        let (root, _) = self.store(r.metadata())?;
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(root.join("blobs/sha256")) {
            for e in entries.flatten() {
                let digest = format!("sha256:{}", e.file_name().to_string_lossy());
                if sha256_hex(&digest).is_some()
                    && let Ok(info) = Self::info_of(&root, &digest)
                {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }

    fn status(&self, r: Request<proto::StatusRequest>) -> Result<proto::StatusResponse, Status> {
        self.store(r.metadata())?;
        let active = self.active.lock().map_err(|_| Status::internal("lock"))?;
        match active.get(&r.get_ref().r#ref) {
            Some(s) => Ok(proto::StatusResponse {
                status: Some(s.clone()),
            }),
            None => Err(Status::not_found(format!(
                "no write in progress for ref {}",
                r.get_ref().r#ref
            ))),
        }
    }

    fn list_statuses(
        &self,
        r: Request<proto::ListStatusesRequest>,
    ) -> Result<proto::ListStatusesResponse, Status> {
        self.store(r.metadata())?;
        let active = self.active.lock().map_err(|_| Status::internal("lock"))?;
        Ok(proto::ListStatusesResponse {
            statuses: active.values().cloned().collect(),
        })
    }

    /// Chunks of `[offset, offset+size)` (size 0: to the end) of a blob.
    fn read(
        &self,
        r: Request<proto::ReadContentRequest>,
    ) -> Result<ReceiverStream<Result<proto::ReadContentResponse, Status>>, Status> {
        let (root, _) = self.store(r.metadata())?;
        let req = r.into_inner();
        let path = blob_path(&root, &req.digest).ok_or_else(|| bad_digest(&req.digest))?;
        let mut file = std::fs::File::open(&path)
            .map_err(|_| Status::not_found(format!("content digest {}: not found", req.digest)))?;
        let len = file.metadata().map(|m| m.len() as i64).unwrap_or(0);
        let offset = req.offset.max(0);
        if offset > len {
            return Err(Status::out_of_range(format!(
                "offset {offset} is past the end of {} ({len} bytes)",
                req.digest
            )));
        }
        let end = if req.size > 0 {
            (offset + req.size).min(len)
        } else {
            len
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut pos = offset;
            if file.seek(std::io::SeekFrom::Start(pos as u64)).is_err() {
                let _ = tx.blocking_send(Err(Status::internal("seek failed")));
                return;
            }
            while pos < end {
                let n = ((end - pos) as usize).min(READ_CHUNK);
                let mut buf = vec![0u8; n];
                if let Err(e) = file.read_exact(&mut buf) {
                    let _ = tx.blocking_send(Err(Status::internal(format!("read: {e}"))));
                    return;
                }
                let msg = proto::ReadContentResponse {
                    offset: pos,
                    data: buf,
                };
                if tx.blocking_send(Ok(msg)).is_err() {
                    return;
                }
                pos += n as i64;
            }
        });
        Ok(ReceiverStream::new(rx))
    }

    /// The `Write` stream: STAT / WRITE / COMMIT messages, each answered; COMMIT verifies size and digest and
    /// renames the blob into place.
    fn write(
        self: &Arc<Self>,
        r: Request<Streaming<proto::WriteContentRequest>>,
    ) -> Result<ReceiverStream<Result<proto::WriteContentResponse, Status>>, Status> {
        let (root, writable) = self.store(r.metadata())?;
        if !writable {
            return Err(Status::permission_denied(format!(
                "{} is a cache source (type=local,src=...): dockui lets BuildKit read it, not write to it",
                root.display()
            )));
        }
        let mut incoming = r.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let inner = self.clone();
        tokio::spawn(async move {
            let mut ingest: Option<Ingest> = None;
            let mut ref_name = String::new();
            loop {
                let msg = match incoming.message().await {
                    Ok(Some(m)) => m,
                    // The writer went away without a commit: the temp file is removed with `ingest`.
                    _ => break,
                };
                // File writes, hashing, fsync and rename block: on the blocking pool, never on a runtime
                // thread (the session's other streams, file sync of the context, run on those).
                let (worker, dir) = (inner.clone(), root.clone());
                let (mut ing, mut name) = (ingest.take(), std::mem::take(&mut ref_name));
                let answer = match tokio::task::spawn_blocking(move || {
                    let answer = worker.write_one(&dir, &mut ing, &mut name, msg);
                    (answer, ing, name)
                })
                .await
                {
                    Ok((answer, ing, name)) => {
                        (ingest, ref_name) = (ing, name);
                        answer
                    }
                    Err(e) => Err(Status::internal(format!("content write failed: {e}"))),
                };
                let done = !matches!(&answer, Ok(a) if a.action != proto::COMMIT);
                if tx.send(answer).await.is_err() || done {
                    break;
                }
            }
            if let Ok(mut a) = inner.active.lock() {
                a.remove(&ref_name);
            }
            // The temp file goes with `ingest` (an unlink: blocking too); the shared ingest/ directory is
            // removed after the solve (solve::tidy_local_exports), not here, where the next write may be
            // creating its file in it.
            if ingest.is_some() {
                let _ = tokio::task::spawn_blocking(move || drop(ingest)).await;
            }
        });
        Ok(ReceiverStream::new(rx))
    }

    fn write_one(
        &self,
        root: &Path,
        ingest: &mut Option<Ingest>,
        ref_name: &mut String,
        msg: proto::WriteContentRequest,
    ) -> Result<proto::WriteContentResponse, Status> {
        let now = SystemTime::now();
        if ingest.is_none() {
            if msg.r#ref.is_empty() {
                return Err(Status::invalid_argument(
                    "first message of a write must name a ref",
                ));
            }
            if !msg.expected.is_empty() {
                let path =
                    blob_path(root, &msg.expected).ok_or_else(|| bad_digest(&msg.expected))?;
                if path.exists() {
                    return Err(Status::already_exists(format!(
                        "content {}: already exists",
                        msg.expected
                    )));
                }
            }
            let dir = root.join("ingest");
            std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::create_dir_all(root.join("blobs/sha256")))
                .map_err(|e| Status::internal(format!("cannot create {}: {e}", dir.display())))?;
            let file = tempfile::NamedTempFile::new_in(&dir).map_err(|e| {
                Status::internal(format!("cannot create a file in {}: {e}", dir.display()))
            })?;
            *ref_name = msg.r#ref.clone();
            *ingest = Some(Ingest {
                file,
                hasher: sha2::Sha256::new(),
                status: proto::Status {
                    started_at: Some(timestamp(now)),
                    updated_at: Some(timestamp(now)),
                    r#ref: msg.r#ref.clone(),
                    offset: 0,
                    total: msg.total,
                    expected: msg.expected.clone(),
                },
            });
        }
        let ing = ingest
            .as_mut()
            .ok_or_else(|| Status::internal("no ingest"))?;
        if msg.total > 0 {
            ing.status.total = msg.total;
        }
        if !msg.expected.is_empty() {
            ing.status.expected = msg.expected.clone();
        }
        if msg.action != proto::STAT && !msg.data.is_empty() {
            if msg.offset == 0 && ing.status.offset != 0 {
                // A restart from zero (allowed by the API): drop what was written.
                let f = ing.file.as_file_mut();
                f.set_len(0)
                    .and_then(|_| f.seek(std::io::SeekFrom::Start(0)).map(|_| ()))
                    .map_err(|e| Status::internal(format!("reset: {e}")))?;
                ing.hasher = sha2::Sha256::new();
                ing.status.offset = 0;
            } else if msg.offset != ing.status.offset {
                return Err(Status::out_of_range(format!(
                    "write at offset {} but {} bytes are written (writes are sequential)",
                    msg.offset, ing.status.offset
                )));
            }
            ing.file
                .write_all(&msg.data)
                .map_err(|e| Status::internal(format!("write: {e}")))?;
            ing.hasher.update(&msg.data);
            ing.status.offset += msg.data.len() as i64;
            ing.status.updated_at = Some(timestamp(now));
        }
        if ing.status.total > 0 && ing.status.offset > ing.status.total {
            return Err(Status::out_of_range(format!(
                "{} bytes written, more than the announced {}",
                ing.status.offset, ing.status.total
            )));
        }
        if let Ok(mut a) = self.active.lock() {
            a.insert(ref_name.clone(), ing.status.clone());
        }
        let digest = format!("sha256:{:x}", ing.hasher.clone().finalize());
        let mut resp = proto::WriteContentResponse {
            action: msg.action,
            started_at: ing.status.started_at,
            updated_at: ing.status.updated_at,
            offset: ing.status.offset,
            total: ing.status.total,
            digest: digest.clone(),
        };
        if msg.action != proto::COMMIT {
            return Ok(resp);
        }
        if ing.status.total > 0 && ing.status.offset != ing.status.total {
            return Err(Status::failed_precondition(format!(
                "unexpected commit size {}, expected {}",
                ing.status.offset, ing.status.total
            )));
        }
        if !ing.status.expected.is_empty() && ing.status.expected != digest {
            return Err(Status::failed_precondition(format!(
                "unexpected commit digest {digest}, expected {}",
                ing.status.expected
            )));
        }
        let target = blob_path(root, &digest).ok_or_else(|| bad_digest(&digest))?;
        let Some(done) = ingest.take() else {
            return Err(Status::internal("no ingest"));
        };
        if !target.exists() {
            done.file
                .as_file()
                .sync_all()
                .map_err(|e| Status::internal(format!("fsync: {e}")))?;
            done.file.persist(&target).map_err(|e| {
                Status::internal(format!("cannot store {}: {}", target.display(), e.error))
            })?;
        }
        resp.digest = digest;
        Ok(resp)
    }

    fn abort(&self, r: Request<proto::AbortRequest>) -> Result<(), Status> {
        self.store(r.metadata())?;
        // The write's own stream owns its temp file; forgetting the status is all there is to do here.
        if let Ok(mut a) = self.active.lock() {
            a.remove(&r.get_ref().r#ref);
        }
        Ok(())
    }
}

/// The `Content` service over `stores`, to add to the session's gRPC server.
#[derive(Clone)]
pub struct ContentServer {
    inner: Arc<Inner>,
}

impl ContentServer {
    pub fn new(stores: Stores) -> ContentServer {
        ContentServer {
            inner: Arc::new(Inner {
                stores,
                active: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl tonic::server::NamedService for ContentServer {
    const NAME: &'static str = SERVICE;
}

type Handler<Req, Resp> = Box<dyn FnMut(Request<Req>) -> BoxFuture<Response<Resp>, Status> + Send>;

/// A unary method as tonic's server wants it.
struct Unary<Req, Resp>(Handler<Req, Resp>, PhantomData<fn(Req) -> Resp>);

impl<Req, Resp> tonic::server::UnaryService<Req> for Unary<Req, Resp> {
    type Response = Resp;
    type Future = BoxFuture<Response<Resp>, Status>;
    fn call(&mut self, request: Request<Req>) -> Self::Future {
        (self.0)(request)
    }
}

type Chunks<T> = ReceiverStream<Result<T, Status>>;

struct ServerStreaming<Req, Resp>(Handler<Req, Chunks<Resp>>, PhantomData<fn(Req) -> Resp>);

impl<Req, Resp: Send + 'static> tonic::server::ServerStreamingService<Req>
    for ServerStreaming<Req, Resp>
{
    type Response = Resp;
    type ResponseStream = Chunks<Resp>;
    type Future = BoxFuture<Response<Chunks<Resp>>, Status>;
    fn call(&mut self, request: Request<Req>) -> Self::Future {
        (self.0)(request)
    }
}

struct Bidi<Req, Resp>(
    Handler<Streaming<Req>, Chunks<Resp>>,
    PhantomData<fn(Req) -> Resp>,
);

impl<Req, Resp: Send + 'static> tonic::server::StreamingService<Req> for Bidi<Req, Resp> {
    type Response = Resp;
    type ResponseStream = Chunks<Resp>;
    type Future = BoxFuture<Response<Chunks<Resp>>, Status>;
    fn call(&mut self, request: Request<Streaming<Req>>) -> Self::Future {
        (self.0)(request)
    }
}

fn grpc<Enc, Dec>() -> tonic::server::Grpc<tonic_prost::ProstCodec<Enc, Dec>>
where
    Enc: prost::Message + Send + 'static,
    Dec: prost::Message + Default + Send + 'static,
{
    tonic::server::Grpc::new(tonic_prost::ProstCodec::default())
        .apply_max_message_size_config(Some(MAX_MESSAGE), Some(MAX_MESSAGE))
}

fn unary<B, Req, Resp>(
    req: http::Request<B>,
    f: impl Fn(Request<Req>) -> Result<Resp, Status> + Send + Sync + 'static,
) -> BoxFuture<http::Response<tonic::body::Body>, std::convert::Infallible>
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    let f = Arc::new(f);
    Box::pin(async move {
        let svc = Unary::<Req, Resp>(
            Box::new(move |r| {
                let f = f.clone();
                Box::pin(async move { f(r).map(Response::new) })
            }),
            PhantomData,
        );
        Ok(grpc::<Resp, Req>().unary(svc, req).await)
    })
}

fn server_streaming<B, Req, Resp>(
    req: http::Request<B>,
    f: impl Fn(Request<Req>) -> Result<Chunks<Resp>, Status> + Send + Sync + 'static,
) -> BoxFuture<http::Response<tonic::body::Body>, std::convert::Infallible>
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    let f = Arc::new(f);
    Box::pin(async move {
        let svc = ServerStreaming::<Req, Resp>(
            Box::new(move |r| {
                let f = f.clone();
                Box::pin(async move { f(r).map(Response::new) })
            }),
            PhantomData,
        );
        Ok(grpc::<Resp, Req>().server_streaming(svc, req).await)
    })
}

impl<B> tower_service::Service<http::Request<B>> for ContentServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let method = req
            .uri()
            .path()
            .strip_prefix(&format!("/{SERVICE}/"))
            .unwrap_or_default()
            .to_string();
        match method.as_str() {
            "Info" => unary(req, move |r| inner.info(r)),
            "Update" => unary(req, move |r| inner.update(r)),
            "Status" => unary(req, move |r| inner.status(r)),
            "ListStatuses" => unary(req, move |r| inner.list_statuses(r)),
            "Abort" => unary(req, move |r| inner.abort(r)),
            "Delete" => unary(req, move |r: Request<proto::DeleteContentRequest>| {
                inner.store(r.metadata())?;
                Err::<(), _>(Status::permission_denied(
                    "dockui's cache directories are never pruned through the session",
                ))
            }),
            "Read" => server_streaming(req, move |r| inner.read(r)),
            "List" => server_streaming(req, move |r| {
                let infos = inner.list(r)?;
                let (tx, rx) = tokio::sync::mpsc::channel(1);
                let _ = tx.try_send(Ok(proto::ListContentResponse { info: infos }));
                Ok(ReceiverStream::new(rx))
            }),
            "Write" => Box::pin(async move {
                let svc = Bidi::<proto::WriteContentRequest, proto::WriteContentResponse>(
                    Box::new(move |r| {
                        let inner = inner.clone();
                        Box::pin(async move { inner.write(r).map(Response::new) })
                    }),
                    PhantomData,
                );
                Ok(
                    grpc::<proto::WriteContentResponse, proto::WriteContentRequest>()
                        .streaming(svc, req)
                        .await,
                )
            }),
            _ => Box::pin(async move {
                Ok(Status::unimplemented(format!("{SERVICE}/{method}")).into_http())
            }),
        }
    }
}

/// The digest `index.json` in `dir` names for `tag` (buildctl's rule for `type=local,src=DIR` without
/// `digest=`). Errors name the file and what to do.
pub fn index_digest(dir: &Path, tag: &str) -> Result<String, String> {
    let path = dir.join("index.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e}; `type=local,src=DIR` needs a directory written by `--cache-to type=local,dest=DIR`",
            path.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    let manifests = v["manifests"].as_array().cloned().unwrap_or_default();
    let found = manifests
        .iter()
        .find(|m| m["annotations"][REF_NAME].as_str() == Some(tag))
        .ok_or_else(|| {
            format!(
                "{} has no entry tagged `{tag}` ({REF_NAME}); export the cache there again, or name the tag with `tag=`",
                path.display()
            )
        })?;
    let digest = found["digest"].as_str().unwrap_or_default();
    if sha256_hex(digest).is_none() {
        return Err(format!(
            "{}: the `{tag}` entry has no valid sha256 digest",
            path.display()
        ));
    }
    match blob_path(dir, digest) {
        Some(p) if p.is_file() => Ok(digest.to_string()),
        _ => Err(format!(
            "{}: the `{tag}` entry names {digest}, which is not in {}/blobs/sha256: the directory is incomplete; export the cache again",
            path.display(),
            dir.display()
        )),
    }
}

/// Replace `path` atomically (dockui's one way: temp file beside it, fsync, rename, fsync of the directory).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    crate::fix::write::replace_file(path, bytes, None).map_err(|e| e.to_string())
}

/// Point `index.json` in `dir` at the cache manifest `desc` (the exporter's `cache.manifest`) under `tag`,
/// keeping the other entries. Refuses when the manifest is not in `blobs/` with the announced size, or when
/// the existing `index.json` cannot be read (it is left as it was).
pub fn put_index(dir: &Path, desc: &serde_json::Value, tag: &str) -> Result<String, String> {
    let digest = desc["digest"].as_str().unwrap_or_default().to_string();
    let size = desc["size"].as_i64().unwrap_or(-1);
    let blob = blob_path(dir, &digest).ok_or_else(|| {
        format!("BuildKit reported a cache manifest without a sha256 digest: {desc}")
    })?;
    let on_disk = std::fs::metadata(&blob).map(|m| m.len() as i64).map_err(|_| {
        format!(
            "BuildKit reported cache manifest {digest}, but {} is missing: index.json was not changed",
            blob.display()
        )
    })?;
    if on_disk != size {
        return Err(format!(
            "cache manifest {digest} is {on_disk} bytes in {}, BuildKit reported {size}: index.json was not changed",
            dir.display()
        ));
    }
    let path = dir.join("index.json");
    let mut index = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
            format!(
                "{} is not valid JSON ({e}); it was left as it is: move it away and build again",
                path.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    // Valid JSON of another shape (`[]`, a string): not an OCI index, and indexing into it would panic.
    if !index.is_object() || !(index["manifests"].is_array() || index["manifests"].is_null()) {
        return Err(format!(
            "{} is not an OCI image index (a JSON object with a `manifests` list); it was left as it is: move it away and build again",
            path.display()
        ));
    }
    let mut entry = desc.clone();
    if !entry["annotations"].is_object() {
        entry["annotations"] = serde_json::json!({});
    }
    entry["annotations"][REF_NAME] = serde_json::Value::String(tag.to_string());
    let mut manifests: Vec<serde_json::Value> = index["manifests"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["annotations"][REF_NAME].as_str() != Some(tag))
        .collect();
    manifests.push(entry);
    index["schemaVersion"] = 2.into();
    index["mediaType"] = INDEX_MEDIA_TYPE.into();
    index["manifests"] = manifests.into();
    let layout = dir.join("oci-layout");
    if !layout.exists() {
        write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    let text = serde_json::to_vec(&index).map_err(|e| e.to_string())?;
    write_atomic(&path, &text)?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{:x}", sha2::Sha256::digest(bytes))
    }

    fn put_blob(dir: &Path, bytes: &[u8]) -> String {
        let d = sha(bytes);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(blob_path(dir, &d).unwrap(), bytes).unwrap();
        d
    }

    #[test]
    fn only_sha256_digests_become_paths() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(sha256_hex(&good).is_some());
        for bad in [
            "sha256:../../etc/passwd",
            "sha512:abc",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "a".repeat(63)),
            "",
        ] {
            assert!(sha256_hex(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn index_json_is_replaced_atomically_and_keeps_other_tags() {
        let dir = tempfile::tempdir().unwrap();
        let m1 = put_blob(dir.path(), b"{\"manifests\":[]}");
        let desc = serde_json::json!({"mediaType": INDEX_MEDIA_TYPE, "digest": m1, "size": 16});
        put_index(dir.path(), &desc, "latest").unwrap();
        put_index(dir.path(), &desc, "main").unwrap();
        assert_eq!(index_digest(dir.path(), "latest").unwrap(), m1);
        let m2 = put_blob(dir.path(), b"{\"manifests\":[1]}");
        let desc2 = serde_json::json!({"mediaType": INDEX_MEDIA_TYPE, "digest": m2, "size": 17});
        put_index(dir.path(), &desc2, "latest").unwrap();
        assert_eq!(index_digest(dir.path(), "latest").unwrap(), m2);
        assert_eq!(index_digest(dir.path(), "main").unwrap(), m1);
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
        assert!(dir.path().join("oci-layout").is_file());
        // No temp files left beside it.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn index_json_never_points_at_a_missing_or_short_blob() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("sha256:{}", "b".repeat(64));
        let err = put_index(
            dir.path(),
            &serde_json::json!({"digest": missing, "size": 3}),
            "latest",
        )
        .unwrap_err();
        assert!(err.contains("missing"), "{err}");
        let d = put_blob(dir.path(), b"abc");
        let err = put_index(
            dir.path(),
            &serde_json::json!({"digest": d, "size": 4}),
            "latest",
        )
        .unwrap_err();
        assert!(err.contains("BuildKit reported 4"), "{err}");
        assert!(!dir.path().join("index.json").exists());
        // A corrupt index.json is left alone.
        std::fs::write(dir.path().join("index.json"), "{not json").unwrap();
        let err = put_index(
            dir.path(),
            &serde_json::json!({"digest": d, "size": 3}),
            "latest",
        )
        .unwrap_err();
        assert!(err.contains("left as it is"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("index.json")).unwrap(),
            "{not json"
        );
        // Valid JSON that is no index (it panicked: indexing into an array or a string).
        for other in ["[]", "\"x\"", "{\"manifests\": 3}"] {
            std::fs::write(dir.path().join("index.json"), other).unwrap();
            let err = put_index(
                dir.path(),
                &serde_json::json!({"digest": d, "size": 3}),
                "latest",
            )
            .unwrap_err();
            assert!(err.contains("not an OCI image index"), "{other}: {err}");
            assert_eq!(
                std::fs::read_to_string(dir.path().join("index.json")).unwrap(),
                other
            );
        }
        // An index without manifests yet, and a descriptor with odd annotations, are fine.
        std::fs::write(dir.path().join("index.json"), "{}").unwrap();
        put_index(
            dir.path(),
            &serde_json::json!({"digest": d, "size": 3, "annotations": "odd"}),
            "latest",
        )
        .unwrap();
        assert_eq!(index_digest(dir.path(), "latest").unwrap(), d);
    }

    #[test]
    fn a_source_without_index_or_tag_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let err = index_digest(dir.path(), "latest").unwrap_err();
        assert!(
            err.contains("index.json") && err.contains("--cache-to type=local"),
            "{err}"
        );
        let d = put_blob(dir.path(), b"x");
        std::fs::write(
            dir.path().join("index.json"),
            serde_json::json!({"manifests": [{"digest": d, "size": 1, "annotations": {REF_NAME: "main"}}]})
                .to_string(),
        )
        .unwrap();
        let err = index_digest(dir.path(), "latest").unwrap_err();
        assert!(err.contains("no entry tagged `latest`"), "{err}");
        assert_eq!(index_digest(dir.path(), "main").unwrap(), d);
    }

    fn inner() -> Inner {
        Inner {
            stores: Stores::default(),
            active: Mutex::new(HashMap::new()),
        }
    }

    fn msg(action: i32, offset: i64, data: &[u8]) -> proto::WriteContentRequest {
        proto::WriteContentRequest {
            action,
            r#ref: "r1".into(),
            offset,
            data: data.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn writes_are_sequential_may_restart_at_zero_and_commit_only_what_was_announced() {
        let dir = tempfile::tempdir().unwrap();
        let s = inner();
        let (mut ing, mut r) = (None, String::new());
        let mut first = msg(proto::STAT, 0, b"");
        first.total = 6;
        first.expected = sha(b"abcdef");
        assert_eq!(
            s.write_one(dir.path(), &mut ing, &mut r, first)
                .unwrap()
                .offset,
            0
        );
        assert_eq!(
            s.write_one(dir.path(), &mut ing, &mut r, msg(proto::WRITE, 0, b"xyz"))
                .unwrap()
                .offset,
            3
        );
        // A gap is refused; a restart from zero drops what was written.
        let gap = s.write_one(dir.path(), &mut ing, &mut r, msg(proto::WRITE, 5, b"z"));
        assert_eq!(gap.unwrap_err().code(), tonic::Code::OutOfRange);
        s.write_one(dir.path(), &mut ing, &mut r, msg(proto::WRITE, 0, b"abc"))
            .unwrap();
        // Committing short of the announced size is refused, nothing is stored.
        let short = s.write_one(dir.path(), &mut ing, &mut r, msg(proto::COMMIT, 3, b""));
        assert_eq!(short.unwrap_err().code(), tonic::Code::FailedPrecondition);
        assert!(!blob_path(dir.path(), &sha(b"abcdef")).unwrap().exists());
        let done = s
            .write_one(dir.path(), &mut ing, &mut r, msg(proto::COMMIT, 3, b"def"))
            .unwrap();
        assert_eq!(done.digest, sha(b"abcdef"));
        assert_eq!(done.offset, 6);
        assert_eq!(
            std::fs::read(blob_path(dir.path(), &sha(b"abcdef")).unwrap()).unwrap(),
            b"abcdef"
        );
        assert!(ing.is_none());
        assert_eq!(
            std::fs::read_dir(dir.path().join("ingest"))
                .unwrap()
                .count(),
            0
        );
        // The same digest announced again: already there.
        let (mut ing2, mut r2) = (None, String::new());
        let mut again = msg(proto::STAT, 0, b"");
        again.expected = sha(b"abcdef");
        let err = s
            .write_one(dir.path(), &mut ing2, &mut r2, again)
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::AlreadyExists);
        // Bytes that do not match the announced digest are never stored under either digest.
        let (mut ing3, mut r3) = (None, String::new());
        let mut lie = msg(proto::COMMIT, 0, b"other");
        lie.expected = sha(b"claimed");
        let err = s
            .write_one(dir.path(), &mut ing3, &mut r3, lie)
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert!(!blob_path(dir.path(), &sha(b"other")).unwrap().exists());
        assert!(!blob_path(dir.path(), &sha(b"claimed")).unwrap().exists());
    }

    #[test]
    fn stores_are_named_like_buildctl_and_merge_read_and_write() {
        let mut s = Stores::default();
        let id = s.add(Path::new("/tmp/c"), false);
        assert_eq!(id, "local:/tmp/c");
        assert!(s.writable().is_empty());
        s.add(Path::new("/tmp/c"), true);
        assert_eq!(s.writable(), [PathBuf::from("/tmp/c")]);
    }
}
