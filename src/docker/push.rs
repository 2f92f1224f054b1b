//! Pushing through the Docker engine, with per-layer progress and the manifest digest.
//!
//! bollard's `push_image` decodes the engine's messages into `PushImageInfo`, which has no `id` (so layers
//! cannot be told apart) and no `aux` (so the digest is lost). The push request is therefore made here over
//! the same endpoint with hyper (already under bollard): one POST, a stream of JSON messages. Tagging and
//! inspecting still go through bollard. Dropping the future closes the connection, which cancels the push.

use super::{BollardEngine, DockerError, DockerPort};
use crate::registry::credentials::{Credentials, SecretKind};
use crate::registry::reference::ImageName;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;

/// What a push reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushProgress {
    /// One layer: "Preparing", "Waiting", "Pushing", "Pushed", "Layer already exists", "Mounted from ...".
    Layer {
        id: String,
        status: String,
        current: Option<u64>,
        total: Option<u64>,
    },
    /// A line not about one layer ("The push refers to repository [...]").
    Status { line: String },
    /// The tag's manifest digest, from the engine's "<tag>: digest: sha256:... size: N" line.
    Digest {
        tag: String,
        digest: String,
        size: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushResult {
    /// `registry/repository` pushed to (no tag).
    pub repository: String,
    pub tag: String,
    /// The manifest digest the engine reported for this tag.
    pub digest: Option<String>,
    pub size: Option<u64>,
    /// Local image id (config digest): never the thing to pin.
    pub image_id: String,
    /// RepoDigests after the push (all repositories).
    pub repo_digests: Vec<String>,
    /// The pushed digest is listed in RepoDigests for this repository.
    pub digest_confirmed: bool,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "progressDetail")]
    progress_detail: Option<ProgressDetail>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    #[serde(default)]
    aux: Option<Aux>,
}

#[derive(Deserialize)]
struct ProgressDetail {
    #[serde(default)]
    current: Option<u64>,
    #[serde(default)]
    total: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct Aux {
    #[serde(rename = "Tag", default)]
    tag: Option<String>,
    #[serde(rename = "Digest", default)]
    digest: Option<String>,
    #[serde(rename = "Size", default)]
    size: Option<u64>,
}

/// Push progress folded into what the Digest pane shows: one row per layer (in first-seen order), the
/// other status lines, and the digest per tag. Feed it every `PushProgress` in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushProgressState {
    pub layers: Vec<LayerRow>,
    pub lines: Vec<String>,
    /// (tag, digest, manifest size)
    pub digests: Vec<(String, String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerRow {
    pub id: String,
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

impl LayerRow {
    /// Done ("Pushed", "Layer already exists", "Mounted from ...").
    pub fn is_done(&self) -> bool {
        self.status == "Pushed"
            || self.status.starts_with("Layer already exists")
            || self.status.starts_with("Mounted from")
    }
}

impl PushProgressState {
    pub fn apply(&mut self, event: &PushProgress) {
        match event {
            PushProgress::Layer {
                id,
                status,
                current,
                total,
            } => {
                let row = match self.layers.iter_mut().find(|l| &l.id == id) {
                    Some(r) => r,
                    None => {
                        self.layers.push(LayerRow {
                            id: id.clone(),
                            status: String::new(),
                            current: None,
                            total: None,
                        });
                        let last = self.layers.len() - 1;
                        &mut self.layers[last]
                    }
                };
                row.status = status.clone();
                // "Pushed" carries no numbers: keep the last ones so the bar stays full.
                if current.is_some() || total.is_some() {
                    row.current = *current;
                    row.total = *total;
                }
            }
            PushProgress::Status { line } => self.lines.push(line.clone()),
            PushProgress::Digest { tag, digest, size } => {
                self.digests.retain(|(t, _, _)| t != tag);
                self.digests.push((tag.clone(), digest.clone(), *size));
            }
        }
    }

    pub fn layers_done(&self) -> usize {
        self.layers.iter().filter(|l| l.is_done()).count()
    }
}

/// `v1: digest: sha256:<64 hex> size: 528`
pub fn parse_digest_line(line: &str) -> Option<(String, String, u64)> {
    let (tag, rest) = line.split_once(": digest: ")?;
    let (digest, size) = rest.split_once(" size: ")?;
    if !crate::registry::reference::is_digest(digest) || tag.contains(' ') {
        return None;
    }
    Some((
        tag.to_string(),
        digest.to_string(),
        size.trim().parse().ok()?,
    ))
}

/// Turn the engine's error text into something to act on. `sent`: where the credentials dockui sent came
/// from (None: it had none for this registry).
pub fn explain_push_error(
    message: &str,
    registry: &str,
    sent: Option<&crate::registry::credentials::CredentialSource>,
) -> String {
    let m = message.to_ascii_lowercase();
    let refused = m.contains("unauthorized")
        || m.contains("authentication required")
        || m.contains("denied")
        || m.contains("no basic auth credentials");
    if refused && let Some(source) = sent {
        format!(
            "push refused by {registry}: {message}. The credentials from {source} were refused: check the user \
             and password (or token) there, and that the account may push to this repository"
        )
    } else if refused {
        format!(
            "push refused by {registry}: {message}. dockui found no credentials for {registry}: log in \
             (`docker login {registry}`, or set DOCKUI_REGISTRY_USER / DOCKUI_REGISTRY_PASSWORD) with an account \
             that may push to this repository"
        )
    } else if m.contains("connection refused")
        || m.contains("no such host")
        || m.contains("i/o timeout")
    {
        format!(
            "registry {registry} is not reachable from the Docker engine: {message}. Start it or fix the address"
        )
    } else if m.contains("server gave http response to https client") {
        format!(
            "{registry} speaks plain HTTP but the engine expects HTTPS: {message}. Add it to \"insecure-registries\" \
             in /etc/docker/daemon.json (loopback registries are allowed by default)"
        )
    } else {
        format!("push to {registry} failed: {message}")
    }
}

/// A push the engine reported nothing about for `after`: the registry (or the way to it) stopped answering.
pub fn stalled_push(registry: &str, after: std::time::Duration) -> String {
    format!(
        "push to {registry} stalled: the registry stopped answering (the engine reported no progress for {} s). \
         Check that {registry} is up and reachable from the Docker engine, then push again ([push.retry] \
         timeout_s sets how long a push may go without progress). The engine may keep the stalled upload open \
         for a while after dockui gave up; restarting the registry or the engine ends it",
        after.as_secs()
    )
}

/// X-Registry-Auth: base64url of the JSON the engine expects (as the docker CLI sends it).
fn registry_auth_header(credentials: Option<&Credentials>, server: &str) -> String {
    let json = match credentials {
        Some(c) if c.kind == SecretKind::IdentityToken => serde_json::json!({
            "identitytoken": c.secret.expose(),
            "serveraddress": server,
        }),
        Some(c) => serde_json::json!({
            "username": c.username,
            "password": c.secret.expose(),
            "serveraddress": server,
        }),
        None => serde_json::json!({}),
    };
    base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
}

impl BollardEngine {
    /// `docker tag source repository:tag`.
    pub async fn tag(&self, source: &str, repository: &str, tag: &str) -> Result<(), DockerError> {
        let docker = self.client()?;
        let opts = bollard::query_parameters::TagImageOptionsBuilder::new()
            .repo(repository)
            .tag(tag)
            .build();
        docker
            .tag_image(source, Some(opts))
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => DockerError::Other(format!(
                    "image {source} does not exist in the engine: build it first (dockui build)"
                )),
                e => self.map_err(e),
            })
    }

    /// Push `image_ref:tag` (image_ref = `registry/repository`, already tagged locally), reporting per-layer
    /// progress; resolves to the manifest digest, cross-checked with the image's RepoDigests. The push fails
    /// when the engine sends nothing for `stall_after` (the engine waits on a registry that stopped answering
    /// for as long as the registry lets it).
    pub async fn push(
        &self,
        image_ref: &str,
        tag: &str,
        credentials: Option<&Credentials>,
        progress: UnboundedSender<PushProgress>,
        stall_after: std::time::Duration,
    ) -> Result<PushResult, DockerError> {
        let name = ImageName::parse(image_ref).map_err(|e| DockerError::Other(e.to_string()))?;
        let server = if name.is_docker_hub() {
            crate::registry::reference::DOCKER_HUB_AUTH_KEY.to_string()
        } else {
            name.registry.clone()
        };
        let path = format!("/images/{image_ref}/push?tag={tag}");
        let auth = registry_auth_header(credentials, &server);
        let mut body = self.raw_post(&path, &auth).await?;

        let mut pushed: Option<(String, u64)> = None;
        let mut failure: Option<String> = None;
        let mut pending: Vec<u8> = Vec::new();
        let handle_line = |line: &[u8],
                           pushed: &mut Option<(String, u64)>,
                           failure: &mut Option<String>| {
            let line = line.trim_ascii();
            if line.is_empty() {
                return;
            }
            let Ok(msg) = serde_json::from_slice::<Message>(line) else {
                let _ = progress.send(PushProgress::Status {
                    line: String::from_utf8_lossy(line).into_owned(),
                });
                return;
            };
            if let Some(err) = msg.error_detail.and_then(|d| d.message).or(msg.error) {
                *failure = Some(err);
                return;
            }
            if let Some(aux) = msg.aux
                && let (Some(d), true) = (aux.digest, aux.tag.as_deref().is_none_or(|t| t == tag))
            {
                *pushed = Some((d, aux.size.unwrap_or(0)));
                return;
            }
            let status = msg.status.unwrap_or_default();
            match msg.id.filter(|id| !id.is_empty()) {
                // The "The push refers to ..." line has no id; layer lines have the short layer id.
                Some(id) if id != tag => {
                    let d = msg.progress_detail;
                    let _ = progress.send(PushProgress::Layer {
                        id,
                        status,
                        current: d.as_ref().and_then(|d| d.current),
                        total: d.as_ref().and_then(|d| d.total),
                    });
                }
                _ => {
                    if let Some((t, digest, size)) = parse_digest_line(&status) {
                        if t == tag {
                            *pushed = Some((digest.clone(), size));
                        }
                        let _ = progress.send(PushProgress::Digest {
                            tag: t,
                            digest,
                            size,
                        });
                    } else if !status.is_empty() {
                        let _ = progress.send(PushProgress::Status { line: status });
                    }
                }
            }
        };
        loop {
            let frame = match tokio::time::timeout(stall_after, body.frame()).await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                // Returning drops the body, which closes the connection: the engine cancels its push.
                Err(_) => {
                    return Err(DockerError::Other(stalled_push(
                        &name.registry,
                        stall_after,
                    )));
                }
            };
            let frame =
                frame.map_err(|e| self.unreachable_push(format!("the push stream broke: {e}")))?;
            if let Ok(data) = frame.into_data() {
                pending.extend_from_slice(&data);
                // The engine ends every message with "\r\n"; JSON strings never hold a raw newline.
                while let Some(pos) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=pos).collect();
                    handle_line(&line, &mut pushed, &mut failure);
                }
            }
        }
        let rest = std::mem::take(&mut pending);
        handle_line(&rest, &mut pushed, &mut failure);
        if let Some(f) = failure {
            return Err(DockerError::Other(explain_push_error(
                &f,
                &name.registry,
                credentials.map(|c| &c.source),
            )));
        }

        let tagged = format!("{image_ref}:{tag}");
        let info = self.inspect_image(&tagged).await?.ok_or_else(|| {
            DockerError::Other(format!(
                "{tagged} vanished from the engine during the push; push again"
            ))
        })?;
        let digest_confirmed = pushed.as_ref().is_some_and(|(d, _)| {
            info.repo_digests.iter().any(|rd| {
                ImageName::parse(rd)
                    .is_ok_and(|n| n.same_repository(&name) && n.digest.as_deref() == Some(d))
            })
        });
        // Older engines print no digest line: RepoDigests for this repository is the next best source.
        let (digest, size) = match pushed {
            Some((d, s)) => (Some(d), Some(s)),
            None => (
                info.repo_digests
                    .iter()
                    .filter_map(|rd| ImageName::parse(rd).ok())
                    .find(|n| n.same_repository(&name))
                    .and_then(|n| n.digest),
                None,
            ),
        };
        Ok(PushResult {
            repository: image_ref.to_string(),
            tag: tag.to_string(),
            digest,
            size,
            image_id: info.id,
            repo_digests: info.repo_digests,
            digest_confirmed,
        })
    }

    fn unreachable_push(&self, reason: String) -> DockerError {
        DockerError::Unreachable {
            endpoint: self.endpoint(),
            reason,
        }
    }

    /// A POST on the engine's API by hand (bollard shows neither when the answer's headers arrive nor
    /// lets a body stream be read as it comes), over whichever transport the endpoint uses; the response
    /// once its headers are in.
    pub(super) async fn raw_post_response(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<hyper::Response<hyper::body::Incoming>, DockerError> {
        use hyper_util::rt::TokioIo;
        let endpoint = self.endpoint();
        let connect_timeout = std::time::Duration::from_secs(10);
        let unreachable = |reason: String| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            reason,
        };
        let mut req = hyper::Request::post(path)
            .header("Host", "docker")
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| DockerError::Other(format!("bad request {path}: {e}")))?;
        // Over whichever transport the endpoint uses (unix, tcp, TLS, ssh); the connection (and an ssh
        // process behind it) lives in the task that drives it.
        let conn = tokio::time::timeout(connect_timeout, self.raw_connection())
            .await
            .map_err(|_| unreachable("connecting timed out".into()))?
            .map_err(|e| unreachable(super::diagnose::explain_error(&endpoint, &e)))?;
        let super::remote::Conn { io, ssh } = conn;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        tokio::spawn(async move {
            let _ = connection.await;
            drop(ssh);
        });
        sender
            .send_request(req)
            .await
            .map_err(|e| unreachable(super::diagnose::explain_error(&endpoint, &e)))
    }

    /// POST to the engine's API with X-Registry-Auth; the streamed body on 200.
    async fn raw_post(&self, path: &str, auth: &str) -> Result<hyper::body::Incoming, DockerError> {
        let resp = self
            .raw_post_response(path, &[("X-Registry-Auth", auth)])
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.into_body());
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        Err(DockerError::Other(if status.as_u16() == 404 {
            format!("the engine has no image to push ({message}): build and tag it first")
        } else {
            format!("engine answered {status}: {message}")
        }))
    }
}

/// One line for headless progress on stderr; byte-count updates of a layer are left out (they are many).
pub fn progress_line(p: &PushProgress) -> Option<String> {
    match p {
        PushProgress::Layer {
            id,
            status,
            current: None,
            ..
        } => Some(format!("{id}: {status}")),
        PushProgress::Layer { .. } => None,
        PushProgress::Status { line } => Some(line.clone()),
        PushProgress::Digest { tag, digest, size } => {
            Some(format!("{tag}: digest: {digest} size: {size}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::credentials::CredentialSource;
    use crate::registry::secret::Secret;

    #[test]
    fn progress_folds_into_one_row_per_layer() {
        let mut st = PushProgressState::default();
        let layer = |id: &str, status: &str, c: Option<u64>, t: Option<u64>| PushProgress::Layer {
            id: id.into(),
            status: status.into(),
            current: c,
            total: t,
        };
        for e in [
            PushProgress::Status {
                line: "The push refers to repository [r/app]".into(),
            },
            layer("aaa", "Preparing", None, None),
            layer("bbb", "Preparing", None, None),
            layer("aaa", "Pushing", Some(512), Some(2048)),
            layer("bbb", "Layer already exists", None, None),
            layer("aaa", "Pushing", Some(2048), Some(2048)),
            layer("aaa", "Pushed", None, None),
            PushProgress::Digest {
                tag: "v1".into(),
                digest: "sha256:x".into(),
                size: 528,
            },
        ] {
            st.apply(&e);
        }
        assert_eq!(st.layers.len(), 2);
        assert_eq!(st.layers[0].id, "aaa");
        assert_eq!(
            (st.layers[0].current, st.layers[0].total),
            (Some(2048), Some(2048))
        );
        assert_eq!(st.layers_done(), 2);
        assert_eq!(st.lines.len(), 1);
        assert_eq!(
            st.digests,
            vec![("v1".to_string(), "sha256:x".to_string(), 528)]
        );
    }

    #[test]
    fn digest_lines_parse() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_digest_line(&format!("v1: digest: {d} size: 528")),
            Some(("v1".into(), d.into(), 528))
        );
        assert_eq!(parse_digest_line("Pushed"), None);
        assert_eq!(parse_digest_line("v1: digest: sha256:abc size: 1"), None);
    }

    #[test]
    fn auth_header_is_base64url_json_and_redacted_elsewhere() {
        let c = Credentials {
            username: "u".into(),
            secret: Secret::new("p?>>"),
            kind: SecretKind::Password,
            source: CredentialSource::Env,
        };
        let h = registry_auth_header(Some(&c), "127.0.0.1:5000");
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(&h)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(v["password"], "p?>>");
        assert_eq!(v["serveraddress"], "127.0.0.1:5000");
        assert!(!format!("{c:?}").contains("p?>>"));
        assert_eq!(registry_auth_header(None, "x"), "e30=");
    }

    #[test]
    fn push_errors_say_what_to_do() {
        let e = explain_push_error("unauthorized: authentication required", "r:5000", None);
        assert!(e.contains("docker login r:5000"), "{e}");
        // The engine's words when it got no credentials at all.
        let e = explain_push_error("no basic auth credentials", "r:5000", None);
        assert!(
            e.contains("found no credentials for r:5000") && e.contains("docker login r:5000"),
            "{e}"
        );
        // Credentials were sent and refused: say where they came from, not "set them".
        let env = crate::registry::credentials::CredentialSource::Env;
        let e = explain_push_error(
            "unauthorized: authentication required",
            "r:5000",
            Some(&env),
        );
        assert!(
            e.contains("were refused") && e.contains("DOCKUI_REGISTRY_USER"),
            "{e}"
        );
        assert!(!e.contains("docker login"), "{e}");
        let e = explain_push_error(
            "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
            "r",
            None,
        );
        assert!(e.contains("not reachable"), "{e}");
    }
}
