//! Failure-driven fixes: when an attempt failed on a known signature and no static finding covers it (the
//! cause sits in a script the Dockerfile runs, on the engine's disk, on the network, in a missing module), the
//! fix is aimed at the step that failed instead of at a rule. Pure: the failure and the files' text in,
//! proposed edits out; the retry loop decides (per `auto_fix`) whether to write them.

use crate::analyze::FixLevel;
use crate::analyze::dockerfile::{Dockerfile, Instruction};
use crate::classify::Diagnosis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const IMPORT_NAMES: &str = include_str!("../../assets/import-names.toml");

/// Marks the lines a failure fix adds, so the same fix is never proposed twice for the same step.
pub const MARKER: &str = "# dockui:";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureFix {
    /// What kind of fix: `noninteractive-apt`, `disk-space`, `network-backoff`, `add-requirement`.
    pub id: String,
    /// The failure signature it answers.
    pub signature: String,
    pub level: FixLevel,
    /// One line: what the fix does.
    pub description: String,
    /// Why this fix, from the failure.
    pub why: String,
    /// The file it edits, relative to the project (None: a retry without edits).
    pub file: Option<PathBuf>,
    /// 1-based line the edit lands on.
    pub line: Option<usize>,
    /// The file's whole new text (None: nothing to write).
    #[serde(skip)]
    pub new_text: Option<String>,
    /// The text the edit was made from (written only if the file still holds it).
    #[serde(skip)]
    pub old_text: Option<String>,
    /// Wait this long before the retry (a network flake).
    pub backoff_s: Option<u64>,
    /// Written (or, for a backoff, retried) by the retry loop.
    pub applied: bool,
}

/// What the failure fixes may read: the project and its Dockerfile.
pub struct Project<'a> {
    pub dir: &'a Path,
    /// Relative to `dir`.
    pub dockerfile: &'a Path,
    /// How many attempts already failed on the network (a backoff retry is offered once per build).
    pub network_retries: u32,
}

/// The failure fix for `d`, if dockui knows one for its signature and the files allow it.
pub fn propose(d: &Diagnosis, project: &Project) -> Option<FailureFix> {
    match d.signature.as_str() {
        "dpkg-prompt-eof" | "apt-confirm-abort" => noninteractive_apt(d, project),
        "no-space" => disk_space(d, project),
        "network" => (project.network_retries == 0).then(|| FailureFix {
            id: "network-backoff".into(),
            signature: d.signature.clone(),
            level: FixLevel::Safe,
            description: "retry the build once after 5 s, without edits".into(),
            why: format!(
                "{}: a DNS or connection failure is often transient; a second failure means it is not, and \
                 then the engine's DNS/proxy (or `--network host`) is the thing to fix",
                evidence(d)
            ),
            file: None,
            line: None,
            new_text: None,
            old_text: None,
            backoff_s: Some(5),
            applied: false,
        }),
        "module-not-found" => add_requirement(d, project),
        _ => None,
    }
}

fn evidence(d: &Diagnosis) -> String {
    d.matched
        .first()
        .map(|(_, l)| format!("the log says `{}`", l.trim()))
        .unwrap_or_else(|| format!("signature {}", d.signature))
}

/// The shell text of a failing step header: "Step 3/5 : RUN sh x.sh" or "#7 [3/5] RUN sh x.sh" -> "sh x.sh".
fn step_run_text(step: &str) -> Option<(Option<u32>, String)> {
    let (index, rest) = if let Some(s) = step.strip_prefix("Step ") {
        let (num, rest) = s.split_once(" : ")?;
        (num.split('/').next()?.parse().ok(), rest.to_string())
    } else {
        let rest = step.strip_prefix('#')?.split_once(' ')?.1;
        let close = rest.find(']')?;
        (None, rest[close + 1..].trim().to_string())
    };
    let run = rest.trim();
    let body = run
        .strip_prefix("RUN ")
        .or_else(|| run.strip_prefix("run "))?;
    Some((index, body.trim().to_string()))
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The RUN instruction that failed, found by its text (BuildKit and legacy), else by the legacy step number.
fn failing_run<'a>(df: &'a Dockerfile, step: &str) -> Option<&'a Instruction> {
    let (index, body) = step_run_text(step)?;
    let want = normalize(&body);
    let runs: Vec<&Instruction> = df.instructions().filter(|i| i.is("RUN")).collect();
    let by_text = runs.iter().copied().find(|i| {
        let have = normalize(i.args_text());
        // BuildKit may shorten long step names; the start is enough when it is unique.
        !want.is_empty() && (have == want || (want.len() >= 12 && have.starts_with(&want)))
    });
    by_text.or_else(|| {
        let n = index? as usize;
        df.instructions()
            .nth(n.checked_sub(1)?)
            .filter(|i| i.is("RUN"))
    })
}

/// Byte offset of the start of the line holding `offset`, and that line's indentation.
fn line_start(text: &str, offset: usize) -> (usize, String) {
    let start = text[..offset].rfind('\n').map_or(0, |p| p + 1);
    let indent: String = text[start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    (start, indent)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Lines already inserted by dockui right before `start` (so a fix is not inserted twice).
fn already_there(text: &str, start: usize, needle: &str) -> bool {
    let before = &text[..start];
    before
        .lines()
        .rev()
        .take(6)
        .any(|l| l.contains(MARKER) && l.contains(needle))
}

fn read_dockerfile(project: &Project) -> Option<String> {
    crate::analyze::project_files::read_text(project.dir, Path::new(project.dockerfile)).ok()
}

fn noninteractive_apt(d: &Diagnosis, project: &Project) -> Option<FailureFix> {
    let step = d.failing_step.as_deref()?;
    let text = read_dockerfile(project)?;
    let df = Dockerfile::parse(&text);
    let run = failing_run(&df, step)?;
    let (start, indent) = line_start(&text, run.range.start);
    if already_there(&text, start, "noninteractive") {
        return None;
    }
    // Continuation lines in the file's own escape character (a backtick where the escape directive says so).
    let br = df.line_break(&indent);
    let block = format!(
        "{indent}{MARKER} noninteractive apt/dpkg for the step below ({}): no prompts, keep changed conffiles\n\
         {indent}ENV DEBIAN_FRONTEND=noninteractive\n\
         {indent}RUN mkdir -p /etc/dpkg/dpkg.cfg.d /etc/apt/apt.conf.d{br}\
         && printf 'force-confdef\\nforce-confold\\n' > /etc/dpkg/dpkg.cfg.d/90-dockui-noninteractive{br}\
         && printf 'APT::Get::Assume-Yes \"true\";\\n' > /etc/apt/apt.conf.d/90-dockui-assume-yes\n",
        d.signature
    );
    let mut new = text.clone();
    new.insert_str(start, &block);
    let line = line_of(&text, start);
    Some(FailureFix {
        id: "noninteractive-apt".into(),
        signature: d.signature.clone(),
        level: FixLevel::Safe,
        description: format!(
            "{} line {line}: before the failing RUN, set DEBIAN_FRONTEND=noninteractive and the dpkg conffile \
             options (--force-confdef, --force-confold) and apt's assume-yes",
            project.dockerfile.display()
        ),
        why: format!(
            "{}; the prompt comes from a command the step runs (`{}`), which no rule on the Dockerfile sees, so \
             the settings go before the step and reach every apt/dpkg it calls",
            evidence(d),
            normalize(run.args_text())
        ),
        file: Some(project.dockerfile.to_path_buf()),
        line: Some(line),
        new_text: Some(new),
        old_text: Some(text),
        backoff_s: None,
        applied: false,
    })
}

fn disk_space(d: &Diagnosis, project: &Project) -> Option<FailureFix> {
    let step = d.failing_step.as_deref()?;
    let text = read_dockerfile(project)?;
    let df = Dockerfile::parse(&text);
    let run = failing_run(&df, step)?;
    let (start, indent) = line_start(&text, run.range.start);
    if already_there(&text, start, "PIP_NO_CACHE_DIR") {
        return None;
    }
    let body = run.args_text();
    let mut new = text.clone();
    // The cleanup goes at the end of the same RUN (a later RUN cannot shrink this layer); exec form has no shell.
    let shell_form = !body.trim_start().starts_with('[');
    if shell_form && !body.contains("/root/.cache") {
        new.insert_str(
            run.end(),
            &df.and_then("rm -rf /var/lib/apt/lists/* /root/.cache/pip /tmp/*"),
        );
    }
    new.insert_str(
        start,
        &format!(
            "{indent}{MARKER} the step below ran out of disk ({}): no pip cache (PIP_NO_CACHE_DIR)\n{indent}ENV PIP_NO_CACHE_DIR=1\n",
            d.signature
        ),
    );
    let line = line_of(&text, start);
    Some(FailureFix {
        id: "disk-space".into(),
        signature: d.signature.clone(),
        level: FixLevel::Safe,
        description: format!(
            "{} line {line}: PIP_NO_CACHE_DIR=1 (pip's --no-cache-dir, also for scripts) before the failing RUN{}",
            project.dockerfile.display(),
            if shell_form {
                ", and apt lists, pip and /tmp caches removed at its end"
            } else {
                ""
            }
        ),
        why: format!(
            "{}; caches the image never uses fill the layer. If the engine's own disk is full, free it too \
             (docker builder prune)",
            evidence(d)
        ),
        file: Some(project.dockerfile.to_path_buf()),
        line: Some(line),
        new_text: Some(new),
        old_text: Some(text),
        backoff_s: None,
        applied: false,
    })
}

#[derive(Deserialize, Default)]
struct ImportTable {
    #[serde(default)]
    names: BTreeMap<String, String>,
    /// import name -> the distribution to install, where a reverse look-up of `names` is ambiguous or absent.
    #[serde(default)]
    imports: BTreeMap<String, String>,
}

/// The distribution that provides `import` (top-level module): `PIL` -> `pillow`, `cv2` -> the headless
/// OpenCV, `yaml` -> `pyyaml`; otherwise the import name with `_` as `-`.
pub fn distribution_for(import: &str) -> String {
    let table: ImportTable = toml::from_str(IMPORT_NAMES).unwrap_or_default();
    let top = import.split('.').next().unwrap_or(import);
    if let Some(d) = table.imports.get(top) {
        return d.clone();
    }
    if let Some((dist, _)) = table
        .names
        .iter()
        .find(|(_, imp)| imp.split('.').next() == Some(top))
    {
        return dist.clone();
    }
    top.replace('_', "-").to_ascii_lowercase()
}

/// Is `module` the project's own package (a directory or module file in the project, or under src/)?
pub fn is_own_package(dir: &Path, module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    if top.is_empty() {
        return false;
    }
    let candidates = [
        dir.join(top).join("__init__.py"),
        dir.join(format!("{top}.py")),
        dir.join("src").join(top).join("__init__.py"),
        dir.join("src").join(format!("{top}.py")),
    ];
    if candidates.iter().any(|p| p.is_file()) || dir.join(top).is_dir() {
        return true;
    }
    // The project's distribution name from pyproject.toml (`name = "my-app"` imports as my_app).
    crate::analyze::project_files::read_text(dir, Path::new("pyproject.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("project")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .map(|n| n.replace('-', "_").to_ascii_lowercase())
        })
        .is_some_and(|n| n == top.to_ascii_lowercase())
}

fn add_requirement(d: &Diagnosis, project: &Project) -> Option<FailureFix> {
    let module = d.detail.as_deref()?;
    if is_own_package(project.dir, module) {
        // Never advise installing the project itself from an index: the image must carry it.
        return None;
    }
    let dist = distribution_for(module);
    let path = PathBuf::from("requirements.txt");
    let text = crate::analyze::project_files::read_text(project.dir, &path).ok()?;
    let present = text.lines().any(|l| {
        let l = l
            .split('#')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let name_end = l
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(l.len());
        l[..name_end].replace('_', "-") == dist.to_ascii_lowercase()
    });
    if present {
        // Listed but not importable: installing it again will not help; the explanation says what to check.
        return None;
    }
    let mut new = text.clone();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(&format!("{dist}\n"));
    let line = new.lines().count();
    Some(FailureFix {
        id: "add-requirement".into(),
        signature: d.signature.clone(),
        level: FixLevel::Suggestion,
        description: format!(
            "requirements.txt line {line}: add `{dist}` (provides `import {module}`)"
        ),
        why: format!(
            "{}; `{module}` is not the project's own package and no requirement provides it",
            evidence(d)
        ),
        file: Some(path),
        line: Some(line),
        new_text: Some(new),
        old_text: Some(text),
        backoff_s: None,
        applied: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(signature: &str, step: Option<&str>, line: &str, detail: Option<&str>) -> Diagnosis {
        Diagnosis {
            signature: signature.into(),
            class: String::new(),
            explanation: String::new(),
            fix_rules: Vec::new(),
            matched: vec![(3, line.into())],
            failing_step: step.map(str::to_string),
            detail: detail.map(str::to_string),
        }
    }

    fn project_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, t).unwrap();
        }
        dir
    }

    fn proj(dir: &Path) -> Project<'_> {
        Project {
            dir,
            dockerfile: Path::new("Dockerfile"),
            network_retries: 0,
        }
    }

    const DF: &str = "FROM base:1\nWORKDIR /app\nCOPY setup.sh .\nRUN sh setup.sh \\\n    --quiet\nCMD [\"app\"]\n";

    #[test]
    fn a_dpkg_prompt_in_a_script_gets_noninteractive_settings_before_the_failing_run() {
        let dir = project_with(&[("Dockerfile", DF)]);
        for step in [
            "Step 4/5 : RUN sh setup.sh     --quiet",
            "#8 [4/4] RUN sh setup.sh     --quiet",
        ] {
            let d = diag(
                "dpkg-prompt-eof",
                Some(step),
                "dpkg: error processing package tzdata (--configure):",
                None,
            );
            let f = propose(&d, &proj(dir.path())).expect("a fix");
            assert_eq!(f.id, "noninteractive-apt");
            assert_eq!(f.level, FixLevel::Safe);
            assert_eq!(f.line, Some(4));
            let new = f.new_text.unwrap();
            let env = new.find("ENV DEBIAN_FRONTEND=noninteractive").unwrap();
            assert!(env < new.find("RUN sh setup.sh").unwrap());
            assert!(new.contains("force-confdef") && new.contains("force-confold"));
            // The result still parses, and the original RUN is untouched.
            let parsed = Dockerfile::parse(&new);
            assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
            assert!(new.contains("RUN sh setup.sh \\\n    --quiet\n"));
            // Proposed once: with the block in place, nothing more.
            std::fs::write(dir.path().join("Dockerfile"), &new).unwrap();
            assert_eq!(propose(&d, &proj(dir.path())), None);
            std::fs::write(dir.path().join("Dockerfile"), DF).unwrap();
        }
    }

    #[test]
    fn no_fix_without_a_known_failing_step() {
        let dir = project_with(&[("Dockerfile", DF)]);
        let d = diag(
            "dpkg-prompt-eof",
            None,
            "end of file on stdin at conffile prompt",
            None,
        );
        assert_eq!(propose(&d, &proj(dir.path())), None);
        // A step that is not in this Dockerfile.
        let d = diag(
            "dpkg-prompt-eof",
            Some("#8 [4/4] RUN ./other.sh"),
            "end of file on stdin at conffile prompt",
            None,
        );
        assert_eq!(propose(&d, &proj(dir.path())), None);
        // Unknown signatures get nothing.
        let d = diag(
            "oom-killed",
            Some("Step 4/5 : RUN sh setup.sh --quiet"),
            "Killed",
            None,
        );
        assert_eq!(propose(&d, &proj(dir.path())), None);
    }

    #[test]
    fn a_full_disk_gets_no_pip_cache_and_cleanup_in_the_same_run() {
        let df = "FROM base:1\nRUN pip install -r requirements.txt\n";
        let dir = project_with(&[("Dockerfile", df)]);
        let d = diag(
            "no-space",
            Some("#6 [2/2] RUN pip install -r requirements.txt"),
            "OSError: [Errno 28] No space left on device",
            None,
        );
        let f = propose(&d, &proj(dir.path())).unwrap();
        let new = f.new_text.unwrap();
        assert_eq!(
            new,
            "FROM base:1\n# dockui: the step below ran out of disk (no-space): no pip cache (PIP_NO_CACHE_DIR)\nENV PIP_NO_CACHE_DIR=1\nRUN pip install -r requirements.txt \\\n    && rm -rf /var/lib/apt/lists/* /root/.cache/pip /tmp/*\n"
        );
        assert!(Dockerfile::parse(&new).problems.is_empty());
    }

    #[test]
    fn a_backtick_escape_file_gets_its_continuations_in_backticks() {
        // A file whose escape directive names the backtick (Windows-style files): a backslash at a line end is
        // no continuation there, so the lines the fixes add must end in a backtick, or the next line is read as
        // an instruction of its own.
        let df = "# escape=`\nFROM base:1\nRUN pip install -r requirements.txt `\n    --quiet\n";
        let dir = project_with(&[("Dockerfile", df)]);
        let step = "#6 [2/2] RUN pip install -r requirements.txt     --quiet";
        let d = diag(
            "no-space",
            Some(step),
            "OSError: [Errno 28] No space left on device",
            None,
        );
        let new = propose(&d, &proj(dir.path())).unwrap().new_text.unwrap();
        assert!(
            new.ends_with(
                "--quiet `\n    && rm -rf /var/lib/apt/lists/* /root/.cache/pip /tmp/*\n"
            ),
            "{new}"
        );
        assert!(!new.contains("\\\n"), "{new}");
        let parsed = Dockerfile::parse(&new);
        assert!(parsed.problems.is_empty(), "{:?}\n{new}", parsed.problems);
        let run = parsed.instructions().last().unwrap();
        assert!(
            run.args_text()
                .ends_with("&& rm -rf /var/lib/apt/lists/* /root/.cache/pip /tmp/*")
        );

        let d = diag(
            "dpkg-prompt-eof",
            Some(step),
            "dpkg: error processing package tzdata (--configure):",
            None,
        );
        let new = propose(&d, &proj(dir.path())).unwrap().new_text.unwrap();
        assert!(!new.contains("\\\n"), "{new}");
        assert!(
            new.contains("apt.conf.d `\n    && printf 'force-confdef"),
            "{new}"
        );
        let parsed = Dockerfile::parse(&new);
        assert!(parsed.problems.is_empty(), "{:?}\n{new}", parsed.problems);
        let runs: Vec<_> = parsed.instructions().filter(|i| i.is("RUN")).collect();
        assert_eq!(runs.len(), 2, "{new}");
        assert!(
            runs[0]
                .args_text()
                .contains("&& printf 'APT::Get::Assume-Yes")
        );
    }

    #[test]
    fn a_network_flake_gets_one_backoff_retry_without_edits() {
        let dir = project_with(&[("Dockerfile", DF)]);
        let d = diag(
            "network",
            None,
            "Temporary failure in name resolution",
            None,
        );
        let f = propose(&d, &proj(dir.path())).unwrap();
        assert_eq!(f.backoff_s, Some(5));
        assert_eq!(f.new_text, None);
        let mut p = proj(dir.path());
        p.network_retries = 1;
        assert_eq!(propose(&d, &p), None, "only once per build");
    }

    #[test]
    fn a_missing_import_adds_the_distribution_never_the_projects_own_package() {
        let dir = project_with(&[
            ("requirements.txt", "torch==2.5.1\n"),
            ("myapp/__init__.py", ""),
            ("pyproject.toml", "[project]\nname = \"serve-kit\"\n"),
        ]);
        let d = diag(
            "module-not-found",
            None,
            "ModuleNotFoundError: No module named 'PIL'",
            Some("PIL"),
        );
        let f = propose(&d, &proj(dir.path())).unwrap();
        assert_eq!(f.level, FixLevel::Suggestion);
        assert_eq!(f.new_text.as_deref(), Some("torch==2.5.1\npillow\n"));
        let d = diag("module-not-found", None, "x", Some("yaml"));
        assert_eq!(
            propose(&d, &proj(dir.path())).unwrap().new_text.as_deref(),
            Some("torch==2.5.1\npyyaml\n")
        );
        for own in ["myapp", "myapp.server", "serve_kit"] {
            let d = diag("module-not-found", None, "x", Some(own));
            assert_eq!(
                propose(&d, &proj(dir.path())),
                None,
                "{own} is the project's own"
            );
        }
        // Already listed: installing it again would not help.
        let d = diag("module-not-found", None, "x", Some("torch"));
        assert_eq!(propose(&d, &proj(dir.path())), None);
    }

    #[test]
    fn distributions_for_imports_come_from_the_table() {
        assert_eq!(distribution_for("PIL"), "pillow");
        assert_eq!(distribution_for("cv2"), "opencv-python-headless");
        assert_eq!(distribution_for("sklearn.linear_model"), "scikit-learn");
        assert_eq!(distribution_for("huggingface_hub"), "huggingface-hub");
        assert_eq!(distribution_for("requests"), "requests");
    }
}
