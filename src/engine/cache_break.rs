//! Why the cache broke: after each build dockui records, per Dockerfile step, what the builder's cache key
//! depends on (the instruction text, COPY/ADD source file hashes, ARG values, the base image id). The next
//! build of the same project compares and names the first step that could not come from the cache, and why:
//! a Dockerfile line edited, a COPY source file changed (named), a build arg value changed, the base moved.
//! It is a prediction from what was recorded, not the builder's own cache log.

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub line: usize,
    pub keyword: String,
    /// The instruction as written (continuations joined).
    pub text: String,
    /// FROM: the image id the engine had for the base after the build.
    #[serde(default)]
    pub base_id: Option<String>,
    /// COPY/ADD from the context: file (relative to the context) -> sha256.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// ARG: its value for this build (the build arg, else the default).
    #[serde(default)]
    pub arg: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    DockerfileEdited,
    CopySourceChanged,
    BuildArgChanged,
    BaseMoved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheBreak {
    /// 1-based Dockerfile step (instruction) number.
    pub step: usize,
    pub line: usize,
    pub instruction: String,
    pub reason: Reason,
    /// What changed, e.g. "app/main.py" or "TORCH_VERSION: 2.4.0 -> 2.5.1".
    pub detail: String,
}

impl CacheBreak {
    pub fn log_line(&self) -> String {
        let why = match self.reason {
            Reason::DockerfileEdited => "the Dockerfile line was edited",
            Reason::CopySourceChanged => "a COPY source file changed",
            Reason::BuildArgChanged => "a build arg value changed",
            Reason::BaseMoved => "the base image moved",
        };
        format!(
            "dockui: cache broke at step {} (line {}: {}): {why}: {}",
            self.step,
            self.line,
            clip(&self.instruction),
            self.detail
        )
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s.to_string()
    }
}

fn hash_file(p: &Path) -> Option<String> {
    let bytes = std::fs::read(p).ok()?;
    Some(format!("{:x}", sha2::Sha256::digest(&bytes)))
}

/// Files under `path` (a file, or a directory walked recursively), relative to `context`.
fn collect(context: &Path, path: &Path, out: &mut BTreeMap<String, String>, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(rd) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            collect(context, &e, out, budget);
        }
    } else if meta.is_file() {
        *budget -= 1;
        if let (Ok(rel), Some(h)) = (path.strip_prefix(context), hash_file(path)) {
            out.insert(rel.to_string_lossy().into_owned(), h);
        }
    }
}

/// What the next build is compared with. `base_ids`: FROM reference -> engine image id.
pub fn snapshot(
    context: &Path,
    dockerfile_text: &str,
    build_args: &BTreeMap<String, String>,
    base_ids: &BTreeMap<String, String>,
) -> Snapshot {
    let df = crate::analyze::dockerfile::Dockerfile::parse(dockerfile_text);
    let mut steps = Vec::new();
    // Hash at most this many files: a huge context should not make every build slow.
    let mut budget = 20_000usize;
    for ins in df.instructions() {
        let text = ins.logical.text.trim().to_string();
        let mut step = Step {
            line: ins.line,
            keyword: ins.keyword.to_uppercase(),
            text,
            ..Step::default()
        };
        match step.keyword.as_str() {
            "FROM" => {
                if let Some(w) = ins.words.first() {
                    step.base_id = base_ids.get(&w.text).cloned();
                }
            }
            "COPY" | "ADD" if ins.flag("from").is_none() => {
                let words = &ins.words;
                if words.len() >= 2 {
                    for w in &words[..words.len() - 1] {
                        if w.text.contains(['*', '?', '[']) || w.text.contains("://") {
                            continue;
                        }
                        let p = context.join(w.text.trim_start_matches('/'));
                        collect(context, &p, &mut step.sources, &mut budget);
                    }
                }
            }
            "ARG" => {
                if let Some(w) = ins.words.first() {
                    let (name, default) = w.text.split_once('=').unwrap_or((&w.text, ""));
                    let value = build_args
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| default.to_string());
                    // A secret-looking arg is recorded by its hash only: a change is still seen, the
                    // value never lands in dockui's data dir.
                    let value = if crate::analyze::rules::secrets::looks_secret(name)
                        && !value.is_empty()
                    {
                        format!(
                            "*** (sha256 {:.12})",
                            format!("{:x}", sha2::Sha256::digest(value.as_bytes()))
                        )
                    } else {
                        value
                    };
                    step.arg = Some((name.to_string(), value));
                }
            }
            _ => {}
        }
        steps.push(step);
    }
    Snapshot { steps }
}

/// The first step of `new` that cannot come from `old`'s cache, and why; None when everything matches.
pub fn first_break(old: &Snapshot, new: &Snapshot) -> Option<CacheBreak> {
    let mut changed_arg: Option<String> = None;
    for (i, n) in new.steps.iter().enumerate() {
        let brk = |reason, detail: String| CacheBreak {
            step: i + 1,
            line: n.line,
            instruction: n.text.clone(),
            reason,
            detail,
        };
        let Some(o) = old.steps.get(i) else {
            return Some(brk(Reason::DockerfileEdited, "a step was added".into()));
        };
        if o.text != n.text {
            return Some(brk(
                Reason::DockerfileEdited,
                format!("was `{}`", clip(&o.text)),
            ));
        }
        match n.keyword.as_str() {
            "FROM" => {
                if let (Some(a), Some(b)) = (&o.base_id, &n.base_id)
                    && a != b
                {
                    return Some(brk(
                        Reason::BaseMoved,
                        format!(
                            "{} now has id {b} (was {a})",
                            n.text.trim_start_matches("FROM ")
                        ),
                    ));
                }
                changed_arg = None;
            }
            "COPY" | "ADD" => {
                let changed = n
                    .sources
                    .iter()
                    .find(|(f, h)| o.sources.get(*f) != Some(h))
                    .map(|(f, _)| f.clone())
                    .or_else(|| {
                        o.sources
                            .keys()
                            .find(|f| !n.sources.contains_key(*f))
                            .map(|f| format!("{f} (removed)"))
                    });
                if let Some(f) = changed {
                    return Some(brk(Reason::CopySourceChanged, f));
                }
            }
            "ARG" => {
                if let (Some((name, a)), Some((_, b))) = (&o.arg, &n.arg)
                    && a != b
                    && changed_arg.is_none()
                {
                    changed_arg = Some(format!("{name}: {a} -> {b}"));
                }
            }
            // The builder checks arg values where a RUN uses the environment.
            "RUN" => {
                if let Some(detail) = changed_arg.take() {
                    return Some(brk(Reason::BuildArgChanged, detail));
                }
            }
            _ => {}
        }
    }
    None
}

/// `<data dir>/cache/<project hash>.json`
fn record_path(data_dir: &Path, project: &Path) -> PathBuf {
    let key = project.to_string_lossy();
    data_dir
        .join("cache")
        .join(format!("{:016x}.json", crate::hash::fnv1a([key.as_ref()])))
}

pub fn load(data_dir: &Path, project: &Path) -> Option<Snapshot> {
    serde_json::from_slice(&std::fs::read(record_path(data_dir, project)).ok()?).ok()
}

/// Private like the rest of dockui's data (0700 dir, 0600 file): the record holds Dockerfile instruction
/// text, which may carry a literal `ENV TOKEN=...`. Written atomically under a unique temp name, so two dockui
/// processes storing at once cannot mix their records.
pub fn store(data_dir: &Path, project: &Path, s: &Snapshot) -> std::io::Result<()> {
    let path = record_path(data_dir, project);
    if let Some(dir) = path.parent() {
        crate::paths::private_dir(dir)?;
    }
    let bytes = serde_json::to_vec(s).map_err(std::io::Error::other)?;
    crate::fix::write::replace_file(&path, &bytes, None).map_err(std::io::Error::other)
}

/// What a build's cache depends on, taken from its request: the project (the record's key), the context,
/// the Dockerfile and the build args.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub project: PathBuf,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub args: BTreeMap<String, String>,
}

impl Inputs {
    pub fn of(req: &super::BuildRequest, project: &Path) -> Inputs {
        Inputs {
            project: project.to_path_buf(),
            context: req.spec.context_dir.clone(),
            dockerfile: req.spec.context_dir.join(&req.spec.dockerfile),
            args: req.spec.args.clone(),
        }
    }
}

/// The inputs as they are now, with the base ids the engine has; None when the Dockerfile cannot be read.
/// Hashing the context's files runs on a blocking thread.
pub async fn current(docker: &dyn crate::docker::DockerPort, inputs: &Inputs) -> Option<Snapshot> {
    let text = std::fs::read_to_string(&inputs.dockerfile).ok()?;
    let froms: Vec<String> = crate::analyze::dockerfile::Dockerfile::parse(&text)
        .instructions()
        .filter(|i| i.is("FROM"))
        .filter_map(|i| i.words.first().map(|w| w.text.clone()))
        .filter(|w| !w.contains('$') && w != "scratch")
        .collect();
    let mut base_ids = BTreeMap::new();
    for f in froms {
        if let Ok(Some(info)) = docker.inspect_image(&f).await {
            base_ids.insert(f, info.id);
        }
    }
    let (context, args) = (inputs.context.clone(), inputs.args.clone());
    tokio::task::spawn_blocking(move || snapshot(&context, &text, &args, &base_ids))
        .await
        .ok()
}

/// Before a build (the TUI): the first step the coming build cannot take from `old` (the previous build's
/// record, loaded before the build starts so the build's own record cannot replace it first). A base that was
/// never pulled has no id yet, so a moved base is seen only once it is local.
pub async fn predict(
    docker: &dyn crate::docker::DockerPort,
    old: &Snapshot,
    inputs: &Inputs,
) -> Option<CacheBreak> {
    first_break(old, &current(docker, inputs).await?)
}

/// After a build: remember its inputs for the next one.
pub async fn record(
    docker: &dyn crate::docker::DockerPort,
    data_dir: &Path,
    inputs: &Inputs,
) -> std::io::Result<()> {
    match current(docker, inputs).await {
        Some(now) => store(data_dir, &inputs.project, &now),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        let s = Snapshot {
            steps: vec![Step {
                line: 2,
                keyword: "ENV".into(),
                text: "ENV TOKEN=literal".into(),
                ..Step::default()
            }],
        };
        store(data.path(), Path::new("/p"), &s).unwrap();
        store(data.path(), Path::new("/p"), &s).unwrap();
        assert_eq!(load(data.path(), Path::new("/p")), Some(s));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = data.path().join("cache");
        assert_eq!(mode(&dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "no temp file left");
        assert_eq!(mode(&files[0].path()), 0o600);
    }

    fn snap(dir: &Path, df: &str, args: &[(&str, &str)], base: &str) -> Snapshot {
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ids = BTreeMap::from([("base:1".to_string(), base.to_string())]);
        snapshot(dir, df, &args, &ids)
    }

    const DF: &str = "FROM base:1\nARG V=1\nCOPY app/ /app/\nRUN echo $V\nRUN true\n";

    #[test]
    fn a_secret_arg_change_is_seen_but_its_value_never_recorded() {
        let d = tempfile::tempdir().unwrap();
        let df = "FROM base:1\nARG HF_TOKEN\nRUN true\n";
        let old = snap(d.path(), df, &[("HF_TOKEN", "hf_old_value")], "id1");
        let new = snap(d.path(), df, &[("HF_TOKEN", "hf_new_value")], "id1");
        let saved = serde_json::to_string(&new).unwrap();
        assert!(!saved.contains("hf_new_value"), "{saved}");
        let b = first_break(&old, &new).unwrap();
        assert_eq!(b.reason, Reason::BuildArgChanged);
        assert!(!b.detail.contains("hf_"), "{}", b.detail);
        assert!(b.detail.starts_with("HF_TOKEN: ***"), "{}", b.detail);
    }

    #[test]
    fn names_the_changed_copy_source() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("app/sub")).unwrap();
        std::fs::write(d.path().join("app/a.py"), "a").unwrap();
        std::fs::write(d.path().join("app/sub/b.py"), "b").unwrap();
        let old = snap(d.path(), DF, &[], "id1");
        assert_eq!(first_break(&old, &snap(d.path(), DF, &[], "id1")), None);
        std::fs::write(d.path().join("app/sub/b.py"), "b2").unwrap();
        let b = first_break(&old, &snap(d.path(), DF, &[], "id1")).unwrap();
        assert_eq!(
            (b.step, b.line, b.reason.clone()),
            (3, 3, Reason::CopySourceChanged)
        );
        assert_eq!(b.detail, "app/sub/b.py");
    }

    #[test]
    fn arg_change_breaks_at_the_first_run_and_edits_and_base_are_named() {
        let d = tempfile::tempdir().unwrap();
        let old = snap(d.path(), DF, &[], "id1");
        let b = first_break(&old, &snap(d.path(), DF, &[("V", "2")], "id1")).unwrap();
        assert_eq!((b.step, b.reason.clone()), (4, Reason::BuildArgChanged));
        assert_eq!(b.detail, "V: 1 -> 2");
        let b = first_break(&old, &snap(d.path(), DF, &[], "id2")).unwrap();
        assert_eq!((b.step, b.reason.clone()), (1, Reason::BaseMoved));
        let edited = DF.replace("RUN true", "RUN false");
        let b = first_break(&old, &snap(d.path(), &edited, &[], "id1")).unwrap();
        assert_eq!((b.step, b.line, b.reason), (5, 5, Reason::DockerfileEdited));
        assert!(b.detail.contains("RUN true"));
    }
}
