//! After a headless build: compare with what dockui recorded for the project's previous build, say where the
//! cache broke (stderr, with the build log) and put it in the JSON; then record this build.

use crate::docker::DockerPort;
use crate::engine::BuildOutcome;
use crate::engine::cache_break::{self, CacheBreak};
use crate::paths::Paths;

pub use crate::engine::cache_break::Inputs;

pub fn after_build(
    rt: &tokio::runtime::Runtime,
    docker: &dyn DockerPort,
    paths: &Paths,
    inputs: &Inputs,
) -> Option<CacheBreak> {
    let now = rt.block_on(cache_break::current(docker, inputs))?;
    let found = cache_break::load(&paths.data_dir, &inputs.project)
        .and_then(|old| cache_break::first_break(&old, &now));
    if let Some(b) = &found {
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
