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
    /// The instruction as written (continuations joined), with the credentials of URLs in it masked
    /// (`https://user:***@host`).
    pub text: String,
    /// An instruction whose text was masked: a keyed sha256 of the real text, so an edit of the masked part
    /// is still seen. Compared, never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_digest: Option<String>,
    /// FROM: the image id the engine had for the base after the build.
    #[serde(default)]
    pub base_id: Option<String>,
    /// COPY/ADD from the context: file (relative to the context) -> sha256.
    #[serde(default)]
    pub sources: BTreeMap<String, String>,
    /// ARG: its value for this build (the build arg, else the default), as it may be shown: `***` for a
    /// secret-looking name, URL credentials masked (`https://user:***@host`).
    #[serde(default)]
    pub arg: Option<(String, String)>,
    /// ARG whose value was masked: a keyed sha256 of the real value (the key is this install's, in the data
    /// dir), so a change is still seen. Compared, never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg_digest: Option<String>,
}

/// This install's key for `Step::arg_digest`: 32 random bytes in `<data dir>/cache/arg-key` (0600), made on
/// first use. Without it a plain hash of a short secret could be checked offline against guesses.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestKey(Vec<u8>);

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey(..)")
    }
}

impl DigestKey {
    /// Read the install's key, making it the first time; None when the data dir cannot hold it (secret args'
    /// changes are then not predicted).
    pub fn load_or_make(data_dir: &Path) -> Option<DigestKey> {
        use std::io::{Read as _, Write as _};
        let dir = data_dir.join("cache");
        let path = dir.join("arg-key");
        let read = |p: &Path| {
            std::fs::read(p)
                .ok()
                .filter(|k| k.len() == 32)
                .map(DigestKey)
        };
        if let Some(k) = read(&path) {
            return Some(k);
        }
        crate::paths::private_dir(&dir).ok()?;
        let mut key = vec![0u8; 32];
        std::fs::File::open("/dev/urandom")
            .ok()?
            .read_exact(&mut key)
            .ok()?;
        // create_new: of two dockui making it at once, the second reads the first's.
        match crate::paths::private_file_options()
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(&key).ok()?;
                Some(DigestKey(key))
            }
            Err(_) => read(&path),
        }
    }

    fn digest(&self, name: &str, value: &str) -> String {
        let mut h = sha2::Sha256::new();
        h.update(&self.0);
        h.update(name.as_bytes());
        h.update([0u8]);
        h.update(value.as_bytes());
        format!("{:x}", h.finalize())
    }
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
            // By line, not step: the builder numbers its steps its own way (BuildKit's [6/6] counts per stage
            // and skips an ARG before FROM), so a step number here would not match the log below.
            "dockui: cache broke at line {} ({}): {why}: {}",
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
    key: Option<&DigestKey>,
) -> Snapshot {
    let df = crate::analyze::dockerfile::Dockerfile::parse(dockerfile_text);
    let mut steps = Vec::new();
    // Hash at most this many files: a huge context should not make every build slow.
    let mut budget = 20_000usize;
    for ins in df.instructions() {
        let written = ins.logical.text.trim();
        let text = crate::engine::mask::Masker::default()
            .with_text(written)
            .apply(written);
        let text_digest = (text != written)
            .then(|| key.map(|k| k.digest("", written)))
            .flatten();
        let mut step = Step {
            line: ins.line,
            keyword: ins.keyword.to_uppercase(),
            text,
            text_digest,
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
                    // A secret-looking arg, or the credentials of a URL in any arg, is recorded masked, with a
                    // keyed digest of the real value: a change is still seen, the value never lands in dockui's
                    // data dir and no hash of it is ever shown.
                    let shown = crate::engine::mask::shown(name, &value);
                    if shown != value {
                        step.arg_digest = key.map(|k| k.digest(name, &value));
                    }
                    let value = shown;
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
        if o.text_digest != n.text_digest {
            return Some(brk(
                Reason::DockerfileEdited,
                "a credential written in it changed (not shown)".into(),
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
                    && (a != b || o.arg_digest != n.arg_digest)
                    && changed_arg.is_none()
                {
                    // A record of an older dockui kept a short hash beside the mask: never shown.
                    let legacy = |v: &String| {
                        if v.starts_with("*** (sha256") {
                            "***".to_string()
                        } else {
                            v.clone()
                        }
                    };
                    let (a, b) = (legacy(a), legacy(b));
                    changed_arg = Some(if a != b {
                        format!("{name}: {a} -> {b}")
                    } else {
                        format!("{name}: its value changed (a secret: not shown)")
                    });
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
    /// The install's key for the digests of masked arg values.
    pub key: Option<DigestKey>,
}

impl Inputs {
    pub fn of(req: &super::BuildRequest, project: &Path, data_dir: &Path) -> Inputs {
        Inputs {
            project: project.to_path_buf(),
            context: req.spec.context_dir.clone(),
            dockerfile: req.spec.context_dir.join(&req.spec.dockerfile),
            args: req.spec.args.clone(),
            key: DigestKey::load_or_make(data_dir),
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
    let (context, args, key) = (
        inputs.context.clone(),
        inputs.args.clone(),
        inputs.key.clone(),
    );
    tokio::task::spawn_blocking(move || snapshot(&context, &text, &args, &base_ids, key.as_ref()))
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
        snapshot(dir, df, &args, &ids, Some(&DigestKey(vec![7; 32])))
    }

    const DF: &str = "FROM base:1\nARG V=1\nCOPY app/ /app/\nRUN echo $V\nRUN true\n";

    #[test]
    fn a_password_written_in_a_step_is_recorded_masked_and_its_change_still_seen() {
        let d = tempfile::tempdir().unwrap();
        let df = |pw: &str| {
            format!(
                "FROM base:1\nRUN pip install --index-url https://ci:{pw}@pypi.example/simple x\n"
            )
        };
        let old = snap(d.path(), &df("Fir5tPass"), &[], "sha256:b");
        let new = snap(d.path(), &df("S3condPass"), &[], "sha256:b");
        let json = serde_json::to_string(&old).unwrap();
        assert!(!json.contains("Fir5tPass"), "{json}");
        assert!(json.contains("https://ci:***@pypi.example"), "{json}");
        let brk = first_break(&old, &new).expect("the written password changed");
        assert_eq!(
            (brk.step, brk.reason.clone()),
            (2, Reason::DockerfileEdited)
        );
        let shown = format!("{} {}", brk.instruction, brk.detail);
        assert!(!shown.contains("Pass"), "{shown}");
        // Must not: the same text twice is no break, and a step without credentials keeps no digest.
        assert_eq!(
            first_break(&old, &snap(d.path(), &df("Fir5tPass"), &[], "sha256:b")),
            None
        );
        assert!(old.steps[0].text_digest.is_none());
    }

    #[test]
    fn a_secret_arg_change_is_seen_but_no_value_or_hash_of_it_shown_or_recorded() {
        let d = tempfile::tempdir().unwrap();
        let df = "FROM base:1\nARG HF_TOKEN\nARG AUTHTOKEN\nRUN true\n";
        let old = snap(
            d.path(),
            df,
            &[("HF_TOKEN", "hf_old_value"), ("AUTHTOKEN", "tok_abcdef99")],
            "id1",
        );
        let new = snap(
            d.path(),
            df,
            &[("HF_TOKEN", "hf_new_value"), ("AUTHTOKEN", "tok_abcdef99")],
            "id1",
        );
        let saved = serde_json::to_string(&new).unwrap();
        for leak in ["hf_new_value", "tok_abcdef99"] {
            assert!(!saved.contains(leak), "{saved}");
        }
        // Nor the plain sha256 of a value (a short password could be confirmed offline from it).
        let plain = format!("{:x}", sha2::Sha256::digest(b"tok_abcdef99"));
        assert!(!saved.contains(&plain[..12]), "{saved}");
        let b = first_break(&old, &new).unwrap();
        assert_eq!(b.reason, Reason::BuildArgChanged);
        assert_eq!(
            b.detail,
            "HF_TOKEN: its value changed (a secret: not shown)"
        );
        assert!(!b.log_line().contains("sha256"), "{}", b.log_line());
        // Unchanged secrets break nothing.
        assert_eq!(first_break(&new, &new.clone()), None);
        // A record of an older dockui showed a hash prefix: it is not shown again.
        let mut legacy = old.clone();
        legacy.steps[1].arg = Some(("HF_TOKEN".into(), "*** (sha256 03e02e1d45de)".into()));
        legacy.steps[1].arg_digest = None;
        let b = first_break(&legacy, &new).unwrap();
        assert!(!b.detail.contains("03e02e"), "{}", b.detail);
    }

    #[test]
    fn url_credentials_of_a_plain_named_arg_are_masked_in_the_record_and_the_break() {
        let d = tempfile::tempdir().unwrap();
        let df = "FROM base:1\nARG PIP_INDEX_URL\nRUN pip install x\n";
        let url = |pw: &str| format!("https://user:{pw}@pypi.example/simple");
        let old = snap(d.path(), df, &[("PIP_INDEX_URL", &url("hunter2pw"))], "id1");
        let new = snap(d.path(), df, &[("PIP_INDEX_URL", &url("hunter3pw"))], "id1");
        let saved = serde_json::to_string(&old).unwrap();
        assert!(!saved.contains("hunter2pw"), "{saved}");
        assert!(
            saved.contains("https://user:***@pypi.example/simple"),
            "{saved}"
        );
        let b = first_break(&old, &new).unwrap();
        assert_eq!(
            b.detail,
            "PIP_INDEX_URL: its value changed (a secret: not shown)"
        );
        // Without credentials a URL is shown as it is.
        let moved = snap(
            d.path(),
            df,
            &[("PIP_INDEX_URL", "https://mirror.example/simple")],
            "id1",
        );
        let b = first_break(&old, &moved).unwrap();
        assert_eq!(
            b.detail,
            "PIP_INDEX_URL: https://user:***@pypi.example/simple -> https://mirror.example/simple"
        );
    }

    #[test]
    fn the_digest_key_is_private_random_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        let k = DigestKey::load_or_make(data.path()).unwrap();
        assert_eq!(DigestKey::load_or_make(data.path()), Some(k.clone()));
        let other = tempfile::tempdir().unwrap();
        assert_ne!(DigestKey::load_or_make(other.path()), Some(k.clone()));
        let path = data.path().join("cache/arg-key");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(format!("{k:?}"), "DigestKey(..)");
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
