//! After a headless build: compare with what dockui recorded for the project's previous build, say where the
//! cache broke (stderr, with the build log) and put it in the JSON; then record this build.

use crate::docker::DockerPort;
use crate::engine::cache_break::{self, CacheBreak};
use crate::engine::{BuildOutcome, BuildRequest};
use crate::paths::Paths;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Inputs {
    project: PathBuf,
    context: PathBuf,
    dockerfile: PathBuf,
    args: BTreeMap<String, String>,
}

impl Inputs {
    pub fn of(req: &BuildRequest, project: &Path) -> Inputs {
        Inputs {
            project: project.to_path_buf(),
            context: req.spec.context_dir.clone(),
            dockerfile: req.spec.context_dir.join(&req.spec.dockerfile),
            args: req.spec.args.clone(),
        }
    }
}

pub fn after_build(
    rt: &tokio::runtime::Runtime,
    docker: &dyn DockerPort,
    paths: &Paths,
    inputs: &Inputs,
) -> Option<CacheBreak> {
    let text = std::fs::read_to_string(&inputs.dockerfile).ok()?;
    let df = crate::analyze::dockerfile::Dockerfile::parse(&text);
    let froms: Vec<String> = df
        .instructions()
        .filter(|i| i.is("FROM"))
        .filter_map(|i| i.words.first().map(|w| w.text.clone()))
        .filter(|w| !w.contains('$') && w != "scratch")
        .collect();
    let base_ids: BTreeMap<String, String> = rt.block_on(async {
        let mut ids = BTreeMap::new();
        for f in froms {
            if let Ok(Some(info)) = docker.inspect_image(&f).await {
                ids.insert(f, info.id);
            }
        }
        ids
    });
    let now = cache_break::snapshot(&inputs.context, &text, &inputs.args, &base_ids);
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
