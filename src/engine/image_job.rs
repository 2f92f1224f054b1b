//! The jobs around a built image that front ends ask for: inspect its layers and waste (the Image pane), read
//! a tag's push history and roll the tag back (the Digest pane), and the cache-break check around a build
//! (the Build log). Each runs off the UI thread and answers with an owned `ImageEvent`.

use super::{EngineContext, EngineEvent};
use crate::image::{self, ImageReport};
use crate::registry::reference::ImageName;
use crate::registry::rollback::{self, PushRecord, RollbackReport};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq)]
pub enum ImageCommand {
    /// Inspect this image; None: this project's last successful build from the history.
    Inspect(Option<String>),
    /// After a build: inspect `image` if its store says it is at most `max_bytes` (exporting a 15 GB CUDA
    /// image takes minutes); else answer `TooLarge` and leave it to the user.
    InspectUpTo { image: String, max_bytes: u64 },
    /// The push history of every tag of this `registry/repository`; None: the project's push target.
    TagHistory(Option<String>),
    /// Point `reference` (`registry/repository:tag`) at the manifest `to` (a digest), then verify it.
    Rollback { reference: String, to: String },
}

#[derive(Debug, Clone)]
pub enum ImageEvent {
    Inspecting(String),
    /// Not inspected by itself: the image is larger than the cap (its size in bytes).
    TooLarge {
        image: String,
        bytes: u64,
    },
    Inspected {
        image: String,
        result: Result<Box<ImageView>, String>,
    },
    TagHistory(Vec<TagHistory>),
    RolledBack {
        reference: String,
        result: Result<Box<RollbackReport>, String>,
    },
}

/// The inspection with each cache found in a layer tied to the Dockerfile line that made the layer.
#[derive(Debug, Clone)]
pub struct ImageView {
    pub report: ImageReport,
    pub links: Vec<WasteLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasteLink {
    /// e.g. "pip cache".
    pub what: String,
    pub rule: String,
    pub layer: usize,
    pub bytes: u64,
    pub still_visible: bool,
    /// `Dockerfile:12`, when the layer's instruction was found in the project's Dockerfile.
    pub location: Option<String>,
}

/// One tag and its records, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagHistory {
    /// `registry/repository:tag`.
    pub reference: String,
    pub records: Vec<PushRecord>,
}

impl TagHistory {
    /// What the tag serves now as far as dockui knows (its last push or rollback).
    pub fn current(&self) -> Option<&str> {
        self.records.last().map(|r| r.digest.as_str())
    }
    /// The push before the current one: what `R` rolls back to.
    pub fn previous(&self) -> Option<String> {
        rollback::previous(&self.records, self.current())
    }
}

/// The inspection running now: a new request cancels it (latest wins).
#[derive(Default)]
pub struct Jobs {
    inspect: Option<CancellationToken>,
}

pub fn handle(
    ctx: &EngineContext,
    cmd: ImageCommand,
    events: &UnboundedSender<EngineEvent>,
    jobs: &mut Jobs,
    shutdown: &CancellationToken,
) {
    let send = {
        let events = events.clone();
        move |e: ImageEvent| {
            let _ = events.send(EngineEvent::Image(e));
        }
    };
    match cmd {
        ImageCommand::Inspect(image) => {
            let token = latest(jobs, shutdown);
            tokio::spawn(inspect(ctx.clone(), image, None, token, send));
        }
        ImageCommand::InspectUpTo { image, max_bytes } => {
            let token = latest(jobs, shutdown);
            tokio::spawn(inspect(
                ctx.clone(),
                Some(image),
                Some(max_bytes),
                token,
                send,
            ));
        }
        ImageCommand::TagHistory(repository) => {
            let ctx = ctx.clone();
            tokio::task::spawn_blocking(move || {
                send(ImageEvent::TagHistory(tags(&ctx, repository)))
            });
        }
        ImageCommand::Rollback { reference, to } => {
            let (ctx, token) = (ctx.clone(), shutdown.child_token());
            tokio::spawn(async move {
                let result = tokio::select! {
                    r = roll_back(&ctx, &reference, &to) => r,
                    _ = token.cancelled() => return,
                };
                let repository = reference
                    .rsplit_once(':')
                    .map(|(r, _)| r.to_string())
                    .unwrap_or_else(|| reference.clone());
                send(ImageEvent::RolledBack { reference, result });
                let history = tokio::task::spawn_blocking(move || tags(&ctx, Some(repository)))
                    .await
                    .unwrap_or_default();
                send(ImageEvent::TagHistory(history));
            });
        }
    }
}

/// A new inspection cancels the running one (latest wins).
fn latest(jobs: &mut Jobs, shutdown: &CancellationToken) -> CancellationToken {
    if let Some(old) = jobs.inspect.take() {
        old.cancel();
    }
    let token = shutdown.child_token();
    jobs.inspect = Some(token.clone());
    token
}

/// The size above which an automatic inspection waits for the user, if `bytes` (the store's size) is known and
/// above `max_bytes`. An unknown size inspects as before.
pub fn too_large(bytes: Option<u64>, max_bytes: u64) -> Option<u64> {
    bytes.filter(|b| *b > max_bytes)
}

async fn inspect(
    ctx: EngineContext,
    image: Option<String>,
    max_bytes: Option<u64>,
    token: CancellationToken,
    send: impl Fn(ImageEvent),
) {
    let image = match image {
        Some(i) => i,
        None => {
            let repository = ctx.config.build.repository(&ctx.project_dir);
            match super::history::latest_image(&ctx.paths.builds_dir(), &repository) {
                Ok(Some(i)) => i,
                found => {
                    let why = found.err().unwrap_or_else(|| {
                        format!(
                            "no successful build of {repository} in the history - build first (b)"
                        )
                    });
                    send(ImageEvent::Inspected {
                        image: repository.clone(),
                        result: Err(why),
                    });
                    return;
                }
            }
        }
    };
    if let Some(max) = max_bytes {
        // Asking the store is cheap; when it cannot say, the inspection itself reports what is wrong.
        let size = tokio::select! {
            s = ctx.docker.image_size(&image) => s.ok().flatten(),
            _ = token.cancelled() => return,
        };
        if let Some(bytes) = too_large(size, max) {
            send(ImageEvent::TooLarge { image, bytes });
            return;
        }
    }
    send(ImageEvent::Inspecting(image.clone()));
    let job =
        image::export::inspect_engine_image(ctx.docker.as_ref(), &image, image::Options::default());
    // Dropping the export stops it; the archive reader then ends on the closed channel.
    let result = tokio::select! {
        r = job => r,
        _ = token.cancelled() => return,
    };
    let result = result.map_err(|e| e.to_string()).map(|report| {
        let dockerfile = ctx.project_dir.join(&ctx.config.build.dockerfile);
        let text = std::fs::read_to_string(&dockerfile).unwrap_or_default();
        let name = ctx.config.build.dockerfile.clone();
        Box::new(view(report, &text, &name))
    });
    send(ImageEvent::Inspected { image, result });
}

async fn roll_back(
    ctx: &EngineContext,
    reference: &str,
    to: &str,
) -> Result<Box<RollbackReport>, String> {
    use crate::registry::client::RegistryClient;
    use crate::registry::credentials::CredentialLookup;
    let name = ImageName::parse(reference).map_err(|e| e.to_string())?;
    let tag = name
        .tag
        .clone()
        .ok_or_else(|| format!("{reference} names no tag"))?;
    let lookup = CredentialLookup::from_env().scope_env_to(&name.registry);
    let client = RegistryClient::new(lookup, ctx.config.push.retry.clone())
        .map_err(|e| e.to_string())?
        .with_plain_http(ctx.config.push.plain_http_hosts());
    let dir = rollback::history_dir(&ctx.paths.data_dir);
    rollback::rollback(
        &client,
        &dir,
        &name,
        &tag,
        rollback::Target::Digest(to.to_string()),
    )
    .await
    .map(Box::new)
    .map_err(|e| e.to_string())
}

/// The tags of `repository` (or the project's push target) that dockui pushed, newest activity first.
fn tags(ctx: &EngineContext, repository: Option<String>) -> Vec<TagHistory> {
    let repository = match repository {
        Some(r) => r,
        None => match ctx
            .config
            .push
            .target_repository(&ctx.config.build.repository(&ctx.project_dir))
        {
            Ok(r) => r,
            // No push target configured: nothing was pushed from here.
            Err(_) => return Vec::new(),
        },
    };
    let Ok(name) = ImageName::parse(&repository) else {
        return Vec::new();
    };
    histories(
        &rollback::history_dir(&ctx.paths.data_dir),
        &format!("{}/{}:", name.registry, name.repository),
    )
}

/// Every record under `dir` whose reference starts with `prefix` (`registry/repository:`), per tag.
pub fn histories(dir: &Path, prefix: &str) -> Vec<TagHistory> {
    let mut by_ref: BTreeMap<String, Vec<PushRecord>> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    for entry in rd.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path).unwrap_or_default().lines() {
            if let Ok(r) = serde_json::from_str::<PushRecord>(line)
                && r.reference.starts_with(prefix)
            {
                by_ref.entry(r.reference.clone()).or_default().push(r);
            }
        }
    }
    let mut out: Vec<TagHistory> = by_ref
        .into_iter()
        .map(|(reference, records)| TagHistory { reference, records })
        .collect();
    // Timestamps are UTC `YYYY-MM-DDTHH:MM:SSZ`: they sort as text.
    out.sort_by(|a, b| {
        let newest = |t: &TagHistory| t.records.last().map(|r| r.time.clone());
        newest(b)
            .cmp(&newest(a))
            .then(a.reference.cmp(&b.reference))
    });
    out
}

/// Tie each cache to the Dockerfile line whose instruction made its layer.
pub fn view(report: ImageReport, dockerfile_text: &str, dockerfile_name: &str) -> ImageView {
    let links = report
        .caches
        .iter()
        .map(|c| WasteLink {
            what: c.what.clone(),
            rule: c.rule.clone(),
            layer: c.layer,
            bytes: c.bytes,
            still_visible: c.still_visible,
            location: locate(dockerfile_text, &c.instruction)
                .map(|line| format!("{dockerfile_name}:{line}")),
        })
        .collect();
    ImageView { report, links }
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The line of the Dockerfile instruction that `instruction` (as the image history shows it) came from. The
/// history keeps RUN commands as written, continuations joined; the last match wins, as the final stage is
/// built last.
pub fn locate(dockerfile_text: &str, instruction: &str) -> Option<usize> {
    let want = norm(instruction);
    let (keyword, body) = want.split_once(' ').unwrap_or((&want, ""));
    if body.is_empty() {
        return None;
    }
    let df = crate::analyze::dockerfile::Dockerfile::parse(dockerfile_text);
    let candidates: Vec<_> = df
        .instructions()
        .filter(|i| i.keyword.eq_ignore_ascii_case(keyword))
        .collect();
    let exact = candidates
        .iter()
        .rev()
        .find(|i| norm(i.args_text()) == body);
    // Build args the history prepends, or flags it drops: a long enough RUN body found inside the other.
    let near = || {
        candidates.iter().rev().find(|i| {
            let b = norm(i.args_text());
            b.len() >= 12 && body.len() >= 12 && (body.contains(&b) || b.contains(body))
        })
    };
    exact.or_else(near).map(|i| i.line)
}

/// Around a TUI build: where the cache will break, worked out beside the build (hashing a large context must
/// not delay it) and sent as an event the Build log shows at the top of the first attempt; the returned inputs
/// are recorded after the build with `record_cache_inputs`.
pub fn cache_break_before(
    ctx: &EngineContext,
    req: &super::BuildRequest,
    events: &UnboundedSender<EngineEvent>,
    cancel: &CancellationToken,
) -> super::cache_break::Inputs {
    let inputs = super::cache_break::Inputs::of(req, &ctx.project_dir, &ctx.paths.data_dir);
    let old = super::cache_break::load(&ctx.paths.data_dir, &inputs.project);
    let (docker, events, cancel, job_inputs) = (
        ctx.docker.clone(),
        events.clone(),
        cancel.clone(),
        inputs.clone(),
    );
    tokio::spawn(async move {
        let found = match old {
            Some(old) => tokio::select! {
                f = super::cache_break::predict(docker.as_ref(), &old, &job_inputs) => f,
                _ = cancel.cancelled() => return,
            },
            None => None,
        };
        let _ = events.send(EngineEvent::CacheBreak(found.map(Box::new)));
    });
    inputs
}

pub async fn record_cache_inputs(
    ctx: &EngineContext,
    inputs: &super::cache_break::Inputs,
    outcome: &super::BuildOutcome,
    events: &UnboundedSender<EngineEvent>,
) {
    if outcome.engine_unreachable {
        return;
    }
    if let Err(e) =
        super::cache_break::record(ctx.docker.as_ref(), &ctx.paths.data_dir, inputs).await
    {
        let _ = events.send(EngineEvent::Notice(format!(
            "cannot record this build's cache inputs: {e}"
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DF: &str = "FROM python:3.11\nRUN apt-get update\nRUN pip install \\\n    torch  numpy\nFROM python:3.11\nRUN pip install \\\n    torch  numpy\nCOPY . /app\n";

    #[test]
    fn only_a_known_size_above_the_cap_waits_for_the_user() {
        let cap = 2_000 * 1_000_000;
        assert_eq!(too_large(Some(15_000_000_000), cap), Some(15_000_000_000));
        assert_eq!(too_large(Some(cap + 1), cap), Some(cap + 1));
        assert_eq!(too_large(Some(cap), cap), None, "at the cap: inspected");
        assert_eq!(too_large(Some(1_800_000), cap), None);
        assert_eq!(too_large(None, cap), None, "unknown size: inspected");
    }

    #[test]
    fn locates_the_instruction_that_made_a_layer() {
        // Continuations joined, whitespace collapsed; the final stage's copy wins.
        assert_eq!(locate(DF, "RUN pip install torch numpy"), Some(6));
        assert_eq!(locate(DF, "RUN apt-get update"), Some(2));
        assert_eq!(locate(DF, "COPY . /app"), Some(8));
        // A build-arg prefix the history kept, around the same command.
        assert_eq!(
            locate(DF, "RUN V=1 pip install torch numpy && true"),
            Some(6)
        );
        // Not in this Dockerfile (another project's image, an edited line).
        assert_eq!(locate(DF, "RUN conda install -y cudatoolkit"), None);
        assert_eq!(
            locate(DF, "RUN pip"),
            None,
            "too short to match inside others"
        );
        assert_eq!(locate("", "RUN pip install torch numpy"), None);
    }

    fn rec(reference: &str, digest: &str, time: &str, kind: &str) -> PushRecord {
        PushRecord {
            time: time.into(),
            reference: reference.into(),
            digest: digest.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn histories_group_a_repository_per_tag_newest_first() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("pushes");
        for r in [
            rec(
                "reg:5000/a/b:v1",
                "sha256:1",
                "2026-01-01T00:00:01Z",
                "push",
            ),
            rec(
                "reg:5000/a/b:latest",
                "sha256:1",
                "2026-01-01T00:00:02Z",
                "push",
            ),
            rec(
                "reg:5000/a/b:v1",
                "sha256:2",
                "2026-01-01T00:00:03Z",
                "push",
            ),
            rec(
                "reg:5000/a/bc:v1",
                "sha256:9",
                "2026-01-01T00:00:04Z",
                "push",
            ),
        ] {
            rollback::append(&dir, &r).unwrap();
        }
        let h = histories(&dir, "reg:5000/a/b:");
        assert_eq!(h.len(), 2, "{h:?}");
        assert_eq!(h[0].reference, "reg:5000/a/b:v1");
        assert_eq!(h[0].current(), Some("sha256:2"));
        assert_eq!(h[0].previous().as_deref(), Some("sha256:1"));
        assert_eq!(h[1].reference, "reg:5000/a/b:latest");
        assert_eq!(h[1].previous(), None, "one push: nothing to go back to");
        assert!(histories(&d.path().join("none"), "reg:5000/a/b:").is_empty());
    }
}
