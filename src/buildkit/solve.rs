//! One build through BuildKit's Control API: a session offering the context and the Dockerfile's directory,
//! a `Solve` with the Dockerfile frontend, and `Status` rendered into build log lines while it runs.
//! Used by the BuildKit daemon backend and by the Docker engine's BuildKit path (its `/grpc` endpoint).

use super::content::Stores;
use super::filesync::SyncedDirs;
use crate::builder::cache::{CacheSpec, Direction};
use crate::builder::{BuildEvent, BuildSpec, CacheType, DockerError};
use crate::docker::buildkit_progress::{Out, Renderer};
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::{
    CacheOptions, CacheOptionsEntry, SolveRequest, StatusRequest,
};
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;
use tonic::transport::Channel;

/// Where the result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The Docker engine's image store (the embedded BuildKit's `moby` exporter), under these names.
    Moby { names: Vec<String> },
    /// A standalone daemon's `image` exporter, pushed to the registry when `push`.
    Image { names: Vec<String>, push: bool },
}

/// What a finished solve reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Solved {
    /// Image id (config digest) when the exporter reports it.
    pub config_digest: Option<String>,
    /// Manifest digest (the image exporter).
    pub digest: Option<String>,
    pub cached_steps: u32,
}

/// The SolveRequest for `spec` (without session and ref), so request shape can be tested on its own.
pub fn request(
    spec: &BuildSpec,
    output: &Output,
    cache_from: &[CacheSpec],
    cache_to: &[CacheSpec],
) -> Result<SolveRequest, DockerError> {
    let cache_from = &local_dirs(cache_from, Direction::Import)
        .map_err(|e| DockerError::Context(format!("--cache-from / [build] cache_from: {e}")))?;
    let cache_to = &local_dirs(cache_to, Direction::Export)
        .map_err(|e| DockerError::Context(format!("--cache-to / [build] cache_to: {e}")))?;
    let dockerfile_rel =
        crate::docker::context::dockerfile_rel(&spec.context_dir, &spec.dockerfile)
            .map_err(|e| DockerError::Context(e.to_string()))?;
    let filename = dockerfile_rel
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into());
    let mut attrs: HashMap<String, String> = HashMap::new();
    attrs.insert("filename".into(), filename);
    for (k, v) in &spec.args {
        attrs.insert(format!("build-arg:{k}"), v.clone());
    }
    for (k, v) in &spec.labels {
        attrs.insert(format!("label:{k}"), v.clone());
    }
    if !spec.target.is_empty() {
        attrs.insert("target".into(), spec.target.clone());
    }
    if !spec.platform.is_empty() {
        // A comma-separated list: BuildKit builds each platform and exports an image index.
        let list: Vec<&str> = spec
            .platform
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        attrs.insert("platform".into(), list.join(","));
    }
    if spec.no_cache {
        attrs.insert("no-cache".into(), String::new());
    }
    if spec.pull {
        attrs.insert("image-resolve-mode".into(), "pull".into());
    }
    let mut entitlements = Vec::new();
    match spec.network.as_str() {
        "" | "default" => {}
        "host" => {
            attrs.insert("force-network-mode".into(), "host".into());
            entitlements.push("network.host".to_string());
        }
        "none" => {
            attrs.insert("force-network-mode".into(), "none".into());
        }
        other => {
            return Err(DockerError::Context(format!(
                "BuildKit runs RUN steps on the default network, `host` or `none`, not on the network `{other}`; use the legacy builder ([build] builder = \"legacy\") for a named network"
            )));
        }
    }
    let (exporter, exporter_attrs) = match output {
        Output::Moby { names } => (
            "moby",
            HashMap::from([("name".to_string(), names.join(","))]),
        ),
        Output::Image { names, push } => (
            "image",
            HashMap::from([
                ("name".to_string(), names.join(",")),
                ("push".to_string(), push.to_string()),
            ]),
        ),
    };
    // Imports also travel as frontend attributes, as buildctl/buildx send them: the Dockerfile frontend
    // reads `cache-imports` (JSON; `cache-from` with registry refs for older frontends) and passes them to
    // its own solves; the request's `cache.imports` alone are not seen by it.
    if !cache_from.is_empty() {
        let json: Vec<serde_json::Value> = cache_from
            .iter()
            .map(|c| serde_json::json!({"Type": c.kind.as_str(), "Attrs": c.solve_attrs()}))
            .collect();
        attrs.insert(
            "cache-imports".into(),
            serde_json::Value::Array(json).to_string(),
        );
        let refs: Vec<&str> = cache_from.iter().filter_map(|c| c.reference()).collect();
        if !refs.is_empty() {
            attrs.insert("cache-from".into(), refs.join(","));
        }
    }
    let entry = |c: &CacheSpec| CacheOptionsEntry {
        r#type: c.kind.as_str().to_string(),
        attrs: c.solve_attrs(),
    };
    Ok(SolveRequest {
        exporter_deprecated: exporter.to_string(),
        exporter_attrs_deprecated: exporter_attrs,
        frontend: "dockerfile.v0".into(),
        frontend_attrs: attrs,
        entitlements,
        cache: Some(CacheOptions {
            exports: cache_to.iter().map(entry).collect(),
            imports: cache_from.iter().map(entry).collect(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// `type=local` entries as buildctl sends them: the directory made absolute (it also names the session's
/// content store, `local:DIR`), and for an import the `digest` of the cache manifest `index.json` tags
/// `latest` (or `tag=`). A missing or incomplete source directory is refused here, before anything is built.
fn local_dirs(specs: &[CacheSpec], dir: Direction) -> Result<Vec<CacheSpec>, String> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let mut spec = spec.clone();
        if spec.kind == CacheType::Local {
            let key = if dir == Direction::Import {
                "src"
            } else {
                "dest"
            };
            let given = spec.attrs.get(key).cloned().unwrap_or_default();
            let abs = std::path::absolute(&given)
                .map_err(|e| format!("`{spec}`: cannot resolve {key}={given}: {e}"))?;
            if dir == Direction::Import {
                if !abs.is_dir() {
                    return Err(format!(
                        "`{spec}`: {} is not a directory; write one first with `--cache-to type=local,dest={}`",
                        abs.display(),
                        abs.display()
                    ));
                }
                if !spec.attrs.contains_key("digest") {
                    let tag = spec.attrs.get("tag").map_or("latest", String::as_str);
                    let digest = super::content::index_digest(&abs, tag)
                        .map_err(|e| format!("`{spec}`: {e}"))?;
                    spec.attrs.insert("digest".into(), digest);
                }
            }
            spec.attrs
                .insert(key.into(), abs.to_string_lossy().into_owned());
        }
        out.push(spec);
    }
    Ok(out)
}

/// The session content stores for the request's `type=local` entries: sources read-only, destinations
/// writable (created when missing).
pub fn local_stores(req: &SolveRequest) -> Result<Stores, String> {
    let mut stores = Stores::default();
    let Some(cache) = &req.cache else {
        return Ok(stores);
    };
    for e in cache.imports.iter().filter(|e| e.r#type == "local") {
        if let Some(src) = e.attrs.get("src") {
            stores.add(std::path::Path::new(src), false);
        }
    }
    for e in cache.exports.iter().filter(|e| e.r#type == "local") {
        if let Some(dest) = e.attrs.get("dest") {
            std::fs::create_dir_all(dest).map_err(|err| {
                format!("--cache-to / [build] cache_to: cannot create {dest}: {err}")
            })?;
            stores.add(std::path::Path::new(dest), true);
        }
    }
    Ok(stores)
}

/// What a `type=local` destination held before the build, so a build that does not finish (cancelled, failed,
/// its process interrupted) leaves it as it was: a directory dockui created goes again; in one that held a
/// cache, the blobs this build added (nothing points at them: `index.json` is only replaced on success) and
/// its `ingest/` go. Restored on drop unless `keep` was called.
pub struct LocalExports {
    dests: Vec<LocalDest>,
    keep: bool,
}

struct LocalDest {
    dir: std::path::PathBuf,
    existed: bool,
    blobs: std::collections::HashSet<std::ffi::OsString>,
    ingest_existed: bool,
}

fn blob_names(dir: &std::path::Path) -> std::collections::HashSet<std::ffi::OsString> {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

impl LocalExports {
    /// Note the request's `type=local` destinations as they are now (before `local_stores` creates them).
    pub fn before(req: &SolveRequest) -> LocalExports {
        let mut dests: Vec<LocalDest> = Vec::new();
        if let Some(cache) = &req.cache {
            for e in cache.exports.iter().filter(|e| e.r#type == "local") {
                let Some(dest) = e.attrs.get("dest") else {
                    continue;
                };
                let dir = std::path::PathBuf::from(dest);
                if dests.iter().any(|d| d.dir == dir) {
                    continue;
                }
                dests.push(LocalDest {
                    existed: dir.exists(),
                    blobs: blob_names(&dir),
                    ingest_existed: dir.join("ingest").exists(),
                    dir,
                });
            }
        }
        LocalExports { dests, keep: false }
    }

    /// The export finished: what was written stays.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for LocalExports {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for d in &self.dests {
            if !d.existed {
                let _ = std::fs::remove_dir_all(&d.dir);
                continue;
            }
            for name in blob_names(&d.dir).difference(&d.blobs) {
                let _ = std::fs::remove_file(d.dir.join("blobs/sha256").join(name));
            }
            if !d.ingest_existed {
                let _ = std::fs::remove_dir_all(d.dir.join("ingest"));
            }
        }
    }
}

/// After a solve with `type=local` exports, whatever its outcome: remove each destination's `ingest/`
/// directory, empty by then. Concurrent blob writes share it while the solve runs (one write removing it
/// could pull it from under the next), so it goes once, here.
pub fn tidy_local_exports(req: &SolveRequest) {
    let Some(cache) = &req.cache else {
        return;
    };
    for e in cache.exports.iter().filter(|e| e.r#type == "local") {
        if let Some(dest) = e.attrs.get("dest") {
            let _ = std::fs::remove_dir(std::path::Path::new(dest).join("ingest"));
        }
    }
}

/// After a solve with `type=local` exports: point each destination's `index.json` at the cache manifest
/// BuildKit wrote there (tag `latest`, or the entry's `tag=`). One line per destination for the build log.
pub fn finish_local_exports(
    req: &SolveRequest,
    response: &HashMap<String, String>,
) -> Result<Vec<String>, String> {
    let Some(cache) = &req.cache else {
        return Ok(Vec::new());
    };
    let mut lines = Vec::new();
    for e in cache.exports.iter().filter(|e| e.r#type == "local") {
        let Some(dest) = e.attrs.get("dest") else {
            continue;
        };
        let tag = e.attrs.get("tag").map_or("latest", String::as_str);
        let Some(desc) = response.get(super::content::CACHE_MANIFEST_KEY) else {
            // BuildKit skips the cache export of a result without layers (as buildctl does, not an error).
            lines.push(format!(
                "dockui: no cache to export to {dest} (BuildKit exported none: the result has no layers)"
            ));
            continue;
        };
        let desc: serde_json::Value = serde_json::from_str(desc)
            .map_err(|err| format!("BuildKit's cache manifest descriptor is not JSON: {err}"))?;
        let digest = super::content::put_index(std::path::Path::new(dest), &desc, tag)?;
        lines.push(format!(
            "dockui: cache exported to {dest} (index.json {tag} -> {digest})"
        ));
    }
    Ok(lines)
}

/// The two directories BuildKit reads: the context (filtered by the patterns of its `.dockerignore`) and the
/// Dockerfile's own directory.
pub fn synced_dirs(spec: &BuildSpec) -> Result<SyncedDirs, DockerError> {
    let rel = crate::docker::context::dockerfile_rel(&spec.context_dir, &spec.dockerfile)
        .map_err(|e| DockerError::Context(e.to_string()))?;
    let df_dir = spec
        .context_dir
        .join(&rel)
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| spec.context_dir.clone());
    Ok(SyncedDirs {
        dirs: HashMap::from([
            ("context".to_string(), spec.context_dir.clone()),
            ("dockerfile".to_string(), df_dir),
        ]),
        ..Default::default()
    })
}

/// Parse the spec's cache entries (buildx syntax), naming the bad one.
pub fn cache_specs(spec: &BuildSpec) -> Result<(Vec<CacheSpec>, Vec<CacheSpec>), DockerError> {
    let from = CacheSpec::parse_all(&spec.cache_from, Direction::Import)
        .map_err(|e| DockerError::Context(format!("--cache-from / [build] cache_from: {e}")))?;
    let to = CacheSpec::parse_all(&spec.cache_to, Direction::Export)
        .map_err(|e| DockerError::Context(format!("--cache-to / [build] cache_to: {e}")))?;
    Ok((from, to))
}

/// Aborts the status task when the build future is dropped (cancel).
struct AbortOnDrop(tokio::task::JoinHandle<u32>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Run `req` with a fresh session; progress goes to `events`. Dropping the future cancels the solve (the
/// gRPC call is reset, BuildKit cancels the job) and ends the session.
pub async fn run(
    channel: Channel,
    spec: &BuildSpec,
    mut req: SolveRequest,
    events: &UnboundedSender<BuildEvent>,
    unreachable: &(dyn Fn(String) -> DockerError + Sync),
) -> Result<Solved, DockerError> {
    let session_id = super::session::new_id();
    let build_ref = super::session::new_id();
    let dirs = synced_dirs(spec)?;
    let sender = dirs.clone();
    let shared_key = format!(
        "{:016x}",
        crate::hash::fnv1a([spec.context_dir.to_string_lossy().as_ref()])
    );
    let push_to: Vec<String> = match req.exporter_attrs_deprecated.get("push") {
        Some(p) if p == "true" => req
            .exporter_attrs_deprecated
            .get("name")
            .map(|n| n.split(',').map(super::session::registry_of).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    // Before the destinations are created: a build that does not finish leaves them as they were.
    let mut exports = LocalExports::before(&req);
    let stores = local_stores(&req).map_err(DockerError::Context)?;
    let _session = super::session::start(
        channel.clone(),
        &session_id,
        &shared_key,
        dirs,
        push_to,
        stores,
    )
    .await
    .map_err(|s| unreachable(super::status_text(&s)))?;
    req.r#ref = build_ref.clone();
    req.session = session_id;

    let mut status_client = ControlClient::new(channel.clone()).max_decoding_message_size(16 << 20);
    let status_events = events.clone();
    let status_ref = build_ref.clone();
    let status = AbortOnDrop(tokio::spawn(async move {
        let mut renderer = Renderer::default();
        let Ok(resp) = status_client
            .status(StatusRequest { r#ref: status_ref })
            .await
        else {
            return 0;
        };
        let mut stream = resp.into_inner();
        let send = |outs: Vec<Out>| {
            for out in outs {
                let _ = status_events.send(match out {
                    Out::Line(l) => BuildEvent::Line(l),
                    Out::Step(current, total) => BuildEvent::Step { current, total },
                });
            }
        };
        while let Ok(Some(msg)) = stream.message().await {
            send(renderer.render(&msg));
        }
        send(renderer.finish());
        renderer.cached_steps
    }));

    let mut client = ControlClient::new(channel)
        .max_decoding_message_size(16 << 20)
        .max_encoding_message_size(16 << 20);
    let result = client.solve(req.clone()).await;
    tidy_local_exports(&req);
    // The status stream ends with the job; let its last lines (errors, DONE) through.
    let mut status = status;
    let cached_steps = tokio::time::timeout(std::time::Duration::from_secs(5), &mut status.0)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or(0);
    match result {
        Ok(resp) => {
            let resp = resp.into_inner().exporter_response;
            match finish_local_exports(&req, &resp) {
                Ok(lines) => {
                    exports.keep();
                    for l in lines {
                        let _ = events.send(BuildEvent::Line(l));
                    }
                }
                Err(e) => {
                    let _ = events.send(BuildEvent::Line(format!("ERROR: {e}")));
                    return Err(DockerError::BuildFailed { message: e });
                }
            }
            Ok(Solved {
                config_digest: resp.get("containerimage.config.digest").cloned(),
                digest: resp.get("containerimage.digest").cloned(),
                cached_steps,
            })
        }
        Err(s) => {
            let text = super::status_text(&s);
            if let Some(cause) = sender.first_error() {
                let _ = events.send(BuildEvent::Line(format!("ERROR: {cause}")));
                return Err(DockerError::Context(format!(
                    "cannot send the build context {}: {cause}",
                    spec.context_dir.display()
                )));
            }
            // BuildKit cancels the job when the context stops arriving: that is the connection, not the build.
            if super::is_transport(&s) || (sender.transfer_cut() && text.contains("canceled")) {
                Err(unreachable(if super::is_transport(&s) {
                    text
                } else {
                    format!(
                        "the build context stopped arriving mid-transfer and the engine cancelled the build ({text})"
                    )
                }))
            } else {
                let _ = events.send(BuildEvent::Line(format!("ERROR: {text}")));
                Err(DockerError::BuildFailed { message: text })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_local_export_without_a_cache_manifest_is_a_line_not_a_failure() {
        let dest = tempfile::tempdir().unwrap();
        std::fs::create_dir(dest.path().join("ingest")).unwrap();
        let req = SolveRequest {
            cache: Some(CacheOptions {
                exports: vec![CacheOptionsEntry {
                    r#type: "local".into(),
                    attrs: HashMap::from([("dest".to_string(), dest.path().display().to_string())]),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let lines = super::finish_local_exports(&req, &HashMap::new()).expect("not a failure");
        assert!(lines[0].contains("no cache to export"), "{lines:?}");
        assert!(!dest.path().join("index.json").exists());
        super::tidy_local_exports(&req);
        assert!(!dest.path().join("ingest").exists());
    }

    use super::*;

    #[test]
    fn the_request_carries_args_platforms_exporter_and_cache() {
        let spec = BuildSpec {
            context_dir: "/ctx".into(),
            dockerfile: "docker/Dockerfile.gpu".into(),
            args: [("A".to_string(), "1".to_string())].into(),
            platform: "linux/amd64, linux/arm64".into(),
            network: "host".into(),
            ..Default::default()
        };
        let to = vec![
            CacheSpec::parse("type=registry,ref=r/a:cache,mode=max", Direction::Export).unwrap(),
        ];
        let out = Output::Image {
            names: vec!["r/a:1".into(), "r/a:latest".into()],
            push: true,
        };
        let req = request(&spec, &out, &[], &to).unwrap();
        assert_eq!(req.frontend, "dockerfile.v0");
        assert_eq!(req.frontend_attrs["filename"], "Dockerfile.gpu");
        assert_eq!(req.frontend_attrs["build-arg:A"], "1");
        assert_eq!(req.frontend_attrs["platform"], "linux/amd64,linux/arm64");
        assert_eq!(req.frontend_attrs["force-network-mode"], "host");
        assert_eq!(req.entitlements, ["network.host"]);
        assert_eq!(req.exporter_deprecated, "image");
        assert_eq!(req.exporter_attrs_deprecated["push"], "true");
        assert_eq!(req.exporter_attrs_deprecated["name"], "r/a:1,r/a:latest");
        let cache = req.cache.unwrap();
        assert_eq!(cache.exports[0].r#type, "registry");
        assert_eq!(cache.exports[0].attrs["mode"], "max");
        let dirs = synced_dirs(&spec).unwrap();
        assert_eq!(dirs.dirs["dockerfile"], std::path::Path::new("/ctx/docker"));
        assert_eq!(dirs.dirs["context"], std::path::Path::new("/ctx"));
    }

    #[test]
    fn local_cache_entries_get_absolute_dirs_and_the_imports_digest() {
        let src = tempfile::tempdir().unwrap();
        let manifest = b"{}";
        let digest = format!(
            "sha256:{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(manifest)
        );
        std::fs::create_dir_all(src.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            crate::buildkit::content::blob_path(src.path(), &digest).unwrap(),
            manifest,
        )
        .unwrap();
        std::fs::write(
            src.path().join("index.json"),
            serde_json::json!({"manifests": [{"digest": digest, "size": 2,
                "annotations": {(crate::buildkit::content::REF_NAME): "latest"}}]})
            .to_string(),
        )
        .unwrap();
        let spec = BuildSpec {
            context_dir: "/ctx".into(),
            dockerfile: "Dockerfile".into(),
            ..Default::default()
        };
        let from = vec![
            CacheSpec::parse(
                &format!("type=local,src={}", src.path().display()),
                Direction::Import,
            )
            .unwrap(),
        ];
        let to = vec![CacheSpec::parse("type=local,dest=rel/cache", Direction::Export).unwrap()];
        let out = Output::Moby { names: vec![] };
        let req = request(&spec, &out, &from, &to).unwrap();
        let cache = req.cache.as_ref().unwrap();
        assert_eq!(cache.imports[0].attrs["digest"], digest);
        let dest = std::path::Path::new(&cache.exports[0].attrs["dest"]);
        assert!(
            dest.is_absolute() && dest.ends_with("rel/cache"),
            "{dest:?}"
        );
        // The frontend sees the same entries (it runs the import itself).
        assert!(req.frontend_attrs["cache-imports"].contains(&digest));
        // A source that is not a directory is refused before anything is sent.
        let missing = vec![
            CacheSpec::parse(
                "type=local,src=/nonexistent/dockui-cache",
                Direction::Import,
            )
            .unwrap(),
        ];
        let err = request(&spec, &out, &missing, &[]).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
        assert!(err.contains("--cache-to type=local,dest="), "{err}");
    }

    #[test]
    fn a_named_network_is_refused_with_what_to_do() {
        let spec = BuildSpec {
            context_dir: "/ctx".into(),
            dockerfile: "Dockerfile".into(),
            network: "mynet".into(),
            ..Default::default()
        };
        let out = Output::Moby { names: vec![] };
        let err = request(&spec, &out, &[], &[]).unwrap_err().to_string();
        assert!(err.contains("legacy builder"), "{err}");
    }
}
