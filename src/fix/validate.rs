//! Every file dockui edits is parsed again after the edit and before it is written: a Dockerfile through
//! dockui's parser, TOML through `toml`, YAML through `saphyr`, requirements through the requirements parser.
//! An edit that adds a parse problem the file did not have before is refused with the reason; a file that was
//! already broken is judged only on problems the edit adds.

use super::write::{BackupRecord, Backups, WriteError, write_atomic};
use crate::analyze::dockerfile::Dockerfile;
use crate::analyze::requirements;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dockerfile,
    Toml,
    Yaml,
    Requirements,
    /// A file kind dockui has no parser for (e.g. `.env`): nothing to check.
    Other,
}

/// The parser for `path`, by its name: Dockerfile/Containerfile (any prefix or suffix), `.toml`,
/// `.yml`/`.yaml`, and requirement files (`.txt`, `.in`).
pub fn kind_of(path: &Path) -> Kind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.contains("dockerfile") || name.contains("containerfile") {
        Kind::Dockerfile
    } else if ext == "toml" {
        Kind::Toml
    } else if ext == "yml" || ext == "yaml" {
        Kind::Yaml
    } else if ext == "txt" || ext == "in" {
        Kind::Requirements
    } else {
        Kind::Other
    }
}

/// Instruction keywords as a line of their own would start them; upper case only, as Dockerfiles write them
/// (a shell command continued onto a line is lower case).
const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// Continuation lines of `df`'s instructions that read like an instruction of their own: (line, text).
fn absorbed(df: &Dockerfile) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for ins in df.instructions() {
        let Some(text) = df.text.get(ins.range.clone()) else {
            continue;
        };
        for (k, line) in text.lines().enumerate().skip(1) {
            let t = line.trim_start();
            let word = t.split_whitespace().next().unwrap_or("");
            if KEYWORDS.contains(&word) && t.len() > word.len() {
                out.push((ins.line + k, t.trim_end().to_string()));
            }
        }
    }
    out
}

/// Why `new` is broken where `old` was not, or None when the edit keeps the file as parseable as it was.
pub fn breakage(path: &Path, old: &str, new: &str) -> Option<String> {
    match kind_of(path) {
        Kind::Dockerfile => {
            let (old_df, new_df) = (Dockerfile::parse(old), Dockerfile::parse(new));
            let (before, after) = (&old_df.problems, &new_df.problems);
            // More problems than before is a break; the one to name is one the old text did not have.
            if after.len() > before.len() {
                let p = after
                    .iter()
                    .find(|p| !before.iter().any(|b| b.message == p.message))
                    .unwrap_or(&after[after.len() - 1]);
                return Some(format!("line {}: {}", p.line, p.message));
            }
            // A trailing escape left on a line (a hunk half taken in line mode) still parses: the next
            // instruction becomes words of this one, and the build runs `... curl COPY requirements.txt .`.
            let absorbed_before = absorbed(&old_df).len();
            let absorbed_after = absorbed(&new_df);
            (absorbed_after.len() > absorbed_before).then(|| {
                let (line, text) = &absorbed_after[absorbed_after.len() - 1];
                format!(
                    "line {line}: `{text}` would become part of the instruction above it (a line ending in the escape character continues it)"
                )
            })
        }
        Kind::Toml => {
            let before = old.parse::<toml::Table>();
            match (before, new.parse::<toml::Table>()) {
                (Ok(_), Err(e)) => Some(one_line(&e.to_string())),
                (Ok(b), Ok(a)) => {
                    // A fix edits values, never removes a key: `project.name` moving to the top level (a
                    // lost `[project]` line) still parses but pip no longer finds the project.
                    let (b, a) = (table_paths(&b), table_paths(&a));
                    b.difference(&a)
                        .next()
                        .map(|lost| format!("the edit would remove the key `{lost}`"))
                }
                (Err(_), _) => None,
            }
        }
        Kind::Yaml => {
            use saphyr::{LoadableYamlNode, Yaml};
            match (Yaml::load_from_str(old), Yaml::load_from_str(new)) {
                (Ok(_), Err(e)) => Some(e.to_string()),
                _ => None,
            }
        }
        Kind::Requirements => {
            // Counted, not compared by text: a `.txt` that is not a requirements file (a digest list, say) has a
            // "problem" on every line, and an edit of such a line must not count as a new one.
            let before = requirements::parse_requirements(old, path).problems;
            let after = requirements::parse_requirements(new, path).problems;
            (after.len() > before.len()).then(|| {
                let (line, _, m) = after
                    .iter()
                    .find(|(_, _, m)| !before.iter().any(|(_, _, b)| b == m))
                    .unwrap_or(&after[after.len() - 1]);
                format!("line {line}: {m}")
            })
        }
        Kind::Other => None,
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Dotted paths of every key and table in a TOML document (array items not included).
fn table_paths(t: &toml::Table) -> BTreeSet<String> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(path.clone());
            if let toml::Value::Table(inner) = v {
                walk(&path, inner, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", t, &mut out);
    out
}

#[derive(Debug, thiserror::Error)]
pub enum CheckedWriteError {
    #[error(
        "{file} not written: after the edit it would no longer parse ({why}); the file is unchanged"
    )]
    Broken { file: PathBuf, why: String },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Parse `new` again, then write it atomically over `root/file` if the file still holds `old`.
pub fn checked_write(
    root: &Path,
    file: &Path,
    new: &str,
    old: &str,
    backups: &Backups,
) -> Result<BackupRecord, CheckedWriteError> {
    if let Some(why) = breakage(file, old, new) {
        return Err(CheckedWriteError::Broken {
            file: file.to_path_buf(),
            why,
        });
    }
    Ok(write_atomic(root, file, new, old, backups)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dockerfile_edit_that_adds_a_parse_problem_is_refused() {
        let old = "FROM ubuntu:22.04\nRUN echo hi\n";
        assert_eq!(breakage(Path::new("Dockerfile"), old, old), None);
        let ok = "FROM ubuntu:22.04\nRUN echo hi && echo there\n";
        assert_eq!(breakage(Path::new("Dockerfile"), old, ok), None);
        let bad = "FROM ubuntu:22.04\nRUNN echo hi\n";
        let why = breakage(Path::new("docker/app.Dockerfile"), old, bad).unwrap();
        assert!(why.starts_with("line 2"), "{why}");
        // A problem the file already had is not the edit's fault.
        assert_eq!(
            breakage(Path::new("Dockerfile"), bad, &bad.replace("hi", "ho")),
            None
        );
    }

    #[test]
    fn an_edit_that_lets_a_line_swallow_the_next_instruction_is_refused() {
        // A hunk taken half in line mode: the `\` line kept, its `&& rm ...` continuation dropped.
        let old = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y curl\n\nCOPY requirements.txt .\n";
        let bad = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y curl \\\n\nCOPY requirements.txt .\n";
        let why = breakage(Path::new("Dockerfile"), old, bad).expect("refused");
        assert!(
            why.contains("line 4: `COPY requirements.txt .` would become part"),
            "{why}"
        );
        // Must not: the whole hunk (a real continuation), shell words in upper case inside a RUN that were
        // already there, and a backtick escape file's own continuation.
        let whole = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y curl \\\n    && rm -rf /var/lib/apt/lists/*\n\nCOPY requirements.txt .\n";
        assert_eq!(breakage(Path::new("Dockerfile"), old, whole), None);
        let odd = "FROM a\nRUN echo \\\n  COPY this is an argument\n";
        assert_eq!(
            breakage(Path::new("Dockerfile"), odd, &odd.replace("echo", "printf")),
            None
        );
        let tick = "# escape=`\nFROM a\nRUN echo a `\n    && echo b\n";
        assert_eq!(
            breakage(
                Path::new("Dockerfile"),
                "# escape=`\nFROM a\nRUN echo a\n",
                tick
            ),
            None
        );
    }

    #[test]
    fn toml_that_stops_parsing_or_loses_a_table_is_refused() {
        let old = "[project]\nname = \"x\"\ndependencies = [\"torch==2.3.1\"]\n\n[project.optional-dependencies]\ncu = [\"torchvision==0.18.1\"]\n";
        let ok = old.replace("0.18.1", "0.19.0");
        assert_eq!(breakage(Path::new("pyproject.toml"), old, &ok), None);
        let unparsable = old.replace("\"x\"", "\"x");
        assert!(breakage(Path::new("pyproject.toml"), old, &unparsable).is_some());
        // The reported bug: a fix replaced the first line, the file lost `[project]` (and still parses).
        let lost = old.replacen("[project]\n", "torch = \"2.4.0\"\n", 1);
        let why = breakage(Path::new("pyproject.toml"), old, &lost).unwrap();
        assert!(why.contains("would remove the key `project."), "{why}");
        // Already broken before: judged on what the edit adds, so nothing here.
        assert_eq!(
            breakage(Path::new("pyproject.toml"), &unparsable, &unparsable),
            None
        );
    }

    #[test]
    fn yaml_that_stops_parsing_is_refused() {
        let old =
            "name: env\ndependencies:\n  - pytorch=2.3\n  - pip:\n    - torchvision==0.18.1\n";
        let ok = old.replace("0.18.1", "0.18.*");
        assert_eq!(breakage(Path::new("environment.yml"), old, &ok), None);
        let bad = old.replace("  - pytorch=2.3\n", "  - pytorch: [2.3\n");
        assert!(breakage(Path::new("environment.yml"), old, &bad).is_some());
        assert!(breakage(Path::new(".github/workflows/ci.yaml"), old, &bad).is_some());
    }

    #[test]
    fn requirements_that_gain_an_unreadable_line_are_refused() {
        let old = "torch==2.3.1\nnumpy<2\n";
        assert_eq!(
            breakage(
                Path::new("requirements.txt"),
                old,
                "torch==2.4.0\nnumpy<2\n"
            ),
            None
        );
        let bad = "torch==2.4.0 ==\nnumpy<2\n";
        let problems = requirements::parse_requirements(bad, Path::new("r.txt")).problems;
        assert_eq!(
            breakage(Path::new("requirements.txt"), old, bad).is_some(),
            !problems.is_empty()
        );
        assert!(
            !problems.is_empty(),
            "the requirements parser accepts {bad:?}"
        );
    }

    #[test]
    fn a_text_file_that_is_not_a_requirements_file_can_still_be_edited() {
        let old = "registry.local/app:1.0\n";
        let new = "registry.local/app:1.0@sha256:0123\n";
        assert_eq!(breakage(Path::new("deploy/image.txt"), old, new), None);
    }

    #[test]
    fn checked_write_refuses_a_broken_edit_and_leaves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = "[project]\nname = \"x\"\n";
        std::fs::write(dir.path().join("pyproject.toml"), old).unwrap();
        let backups = Backups::new(dir.path().join("b"));
        let err = checked_write(
            dir.path(),
            Path::new("pyproject.toml"),
            "[project\nname = \"x\"\n",
            old,
            &backups,
        )
        .unwrap_err();
        assert!(matches!(err, CheckedWriteError::Broken { .. }));
        assert!(err.to_string().contains("no longer parse"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap(),
            old
        );
        assert!(backups.records().is_empty());
        checked_write(
            dir.path(),
            Path::new("pyproject.toml"),
            "[project]\nname = \"y\"\n",
            old,
            &backups,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("pyproject.toml")).unwrap(),
            "[project]\nname = \"y\"\n"
        );
    }
}
