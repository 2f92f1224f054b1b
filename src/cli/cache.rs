//! Around a headless build: compare with what dockui recorded for the project's previous build, say where the
//! cache breaks (stderr, with the build log, while the build runs) and put it in the JSON; then record this build.

use crate::docker::DockerPort;
use crate::engine::BuildOutcome;
use crate::engine::cache_break::{self, CacheBreak, Snapshot};
use crate::paths::Paths;
use std::sync::Arc;

pub use crate::engine::cache_break::Inputs;

/// Before a headless build: the previous build's record, and the prediction of where this build's cache
/// breaks, said on stderr as soon as it is known (worked out beside the build, as in the TUI: hashing a large
/// context must not delay the build, and the user reads it while the steps run instead of after them).
pub struct Before {
    old: Option<Snapshot>,
    predicted: Option<tokio::task::JoinHandle<Option<CacheBreak>>>,
    /// `--quiet`: said only in the JSON.
    quiet: bool,
}

pub fn before_build(
    rt: &tokio::runtime::Runtime,
    docker: Arc<dyn DockerPort>,
    paths: &Paths,
    inputs: &Inputs,
    quiet: bool,
) -> Before {
    let old = cache_break::load(&paths.data_dir, &inputs.project);
    let predicted = old.clone().map(|old| {
        let inputs = inputs.clone();
        rt.spawn(async move {
            let found = cache_break::predict(docker.as_ref(), &old, &inputs).await;
            if let Some(b) = found.as_ref().filter(|_| !quiet) {
                eprintln!("{}", b.log_line());
            }
            found
        })
    });
    Before {
        old,
        predicted,
        quiet,
    }
}

/// After the build: where the cache broke (said again only when the build's final inputs tell otherwise than
/// the prediction, e.g. a base pulled during the build, or a fix applied between attempts), then record this
/// build's inputs for the next one.
pub fn after_build(
    rt: &tokio::runtime::Runtime,
    docker: &dyn DockerPort,
    paths: &Paths,
    inputs: &Inputs,
    before: Before,
) -> Option<CacheBreak> {
    let predicted = before
        .predicted
        .and_then(|task| rt.block_on(task).ok())
        .flatten();
    let now = rt.block_on(cache_break::current(docker, inputs))?;
    let found = before
        .old
        .and_then(|old| cache_break::first_break(&old, &now));
    if let Some(b) = &found
        && found != predicted
        && !before.quiet
    {
        eprintln!("{}", b.log_line());
    }
    if let Err(e) = cache_break::store(&paths.data_dir, &inputs.project, &now) {
        eprintln!("dockui: cannot record this build's cache inputs: {e}");
    }
    found
}

/// The build JSON with `cache_break` added (null when nothing broke or there was no previous build).
pub fn with_break(
    outcome: &BuildOutcome,
    b: &Option<CacheBreak>,
) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(outcome)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("cache_break".into(), serde_json::to_value(b)?);
    }
    Ok(v)
}
