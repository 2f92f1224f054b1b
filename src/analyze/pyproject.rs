//! `pyproject.toml`: `[project] dependencies` and `[project.optional-dependencies]`, read through the `toml`
//! crate with spans (`toml::Spanned`), so each requirement points at its own string in the file wherever the
//! tables sit (an out-of-order `[project.optional-dependencies]` before `[project]` included), and a fix edits
//! exactly that string.
//!
//! `pip install .` installs the project's `dependencies` only; `pip install ".[a,b]"` adds the groups `a` and
//! `b` (and the groups they pull in through a self-reference such as `all = ["myproj[a,b]"]`). Dependencies that
//! setuptools reads from files (`[tool.setuptools.dynamic] dependencies = {file = ["requirements.txt"]}`) are
//! passed on as includes, read like `-r` lines.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::requirements::{ReqFile, Requirement, normalise, read_requirement};

#[derive(Deserialize)]
struct Doc {
    project: Option<Project>,
    /// Read by hand (`toml::Value`): a `[tool]` table of an unexpected shape must not make the whole file
    /// unreadable.
    tool: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
struct Project {
    name: Option<String>,
    dependencies: Option<Vec<Spanned<toml::Value>>>,
    #[serde(rename = "optional-dependencies")]
    optional: Option<BTreeMap<String, Vec<Spanned<toml::Value>>>>,
}

// Byte offset -> line and column: the analysis's one index (O(log lines) per lookup).
use super::finding::LineIndex;

/// Stands for every optional group in an extras list (`uv sync --all-extras`, `--all-extras` of `uv pip`).
pub const ALL_EXTRAS: &str = "*";

/// A parsed pyproject: main dependencies, optional groups, and what could not be read.
#[derive(Debug, Clone, Default)]
pub struct Pyproject {
    pub name: Option<String>,
    pub dependencies: Vec<Requirement>,
    pub optional: BTreeMap<String, Vec<Requirement>>,
    /// setuptools' dynamic dependencies: `[tool.setuptools.dynamic] dependencies = {file = [...]}` (paths
    /// relative to the pyproject), read as requirements files like `-r` includes.
    pub dynamic_files: Vec<String>,
    /// The same for optional groups (`optional-dependencies.gpu = {file = [...]}`).
    pub dynamic_optional: BTreeMap<String, Vec<String>>,
    /// Where the `[tool]` table starts (line, byte range), for the includes' positions.
    tool_at: (usize, Range<usize>),
    pub problems: Vec<(usize, Range<usize>, String)>,
}

impl Pyproject {
    /// Requirements `pip install .[extras]` asks for: the dependencies plus the named groups (names
    /// normalised), following self-references (`all = ["me[a,b]"]`), each group once.
    pub fn selected(&self, extras: &[String]) -> Vec<Requirement> {
        let me = self.name.as_deref().map(normalise);
        let mut out = self.dependencies.clone();
        let mut done = BTreeSet::new();
        let mut todo: Vec<String> = if extras.iter().any(|e| e == ALL_EXTRAS) {
            self.optional.keys().map(|k| normalise(k)).collect()
        } else {
            extras.iter().map(|e| normalise(e)).collect()
        };
        while let Some(g) = todo.pop() {
            if !done.insert(g.clone()) {
                continue;
            }
            let Some(reqs) = self
                .optional
                .iter()
                .find(|(k, _)| normalise(k) == g)
                .map(|(_, v)| v)
            else {
                continue;
            };
            for r in reqs {
                if me.as_deref() == Some(r.name.as_str()) {
                    todo.extend(r.extras.iter().map(|e| normalise(e)));
                } else {
                    out.push(r.clone());
                }
            }
        }
        out
    }
}

impl Pyproject {
    /// The requirements files setuptools reads for `pip install .[extras]` (dynamic dependencies and the
    /// selected groups' dynamic files).
    pub fn dynamic_includes(&self, extras: &[String]) -> Vec<String> {
        let all = extras.iter().any(|e| e == ALL_EXTRAS);
        let wanted: BTreeSet<String> = extras.iter().map(|e| normalise(e)).collect();
        let mut out = self.dynamic_files.clone();
        for (group, files) in &self.dynamic_optional {
            if all || wanted.contains(&normalise(group)) {
                out.extend(files.iter().cloned());
            }
        }
        out.dedup();
        out
    }
}

/// Parse a pyproject.toml's `[project]` requirements with the span of each string.
pub fn parse(text: &str, file: &Path) -> Pyproject {
    let mut out = Pyproject::default();
    let lines = LineIndex::new(text);
    let doc: Doc = match toml::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let range = e.span().unwrap_or(0..0);
            let first = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string();
            out.problems.push((
                lines.line(range.start),
                range,
                format!("{} is not valid TOML: {first}", file.display()),
            ));
            return out;
        }
    };
    if let Some(tool) = &doc.tool {
        let span = tool.span();
        out.tool_at = (lines.line(span.start), span);
        let dynamic = tool
            .get_ref()
            .get("setuptools")
            .and_then(|t| t.get("dynamic"));
        let files = |v: Option<&toml::Value>| -> Vec<String> {
            match v.and_then(|d| d.get("file")) {
                Some(toml::Value::String(f)) => vec![f.clone()],
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .filter_map(|f| f.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }
        };
        if let Some(d) = dynamic {
            out.dynamic_files = files(d.get("dependencies"));
            if let Some(groups) = d.get("optional-dependencies").and_then(|g| g.as_table()) {
                for (group, spec) in groups {
                    out.dynamic_optional
                        .insert(group.clone(), files(Some(spec)));
                }
            }
        }
    }
    let Some(project) = doc.project else {
        return out;
    };
    out.name = project.name;
    if let Some(deps) = project.dependencies {
        out.dependencies = read_list(&deps, text, file, &lines, &mut out.problems);
    }
    for (group, deps) in project.optional.unwrap_or_default() {
        let reqs = read_list(&deps, text, file, &lines, &mut out.problems);
        out.optional.insert(group, reqs);
    }
    out
}

fn read_list(
    items: &[Spanned<toml::Value>],
    text: &str,
    file: &Path,
    lines: &LineIndex,
    problems: &mut Vec<(usize, Range<usize>, String)>,
) -> Vec<Requirement> {
    let mut out = Vec::new();
    for item in items {
        let span = item.span();
        let line = lines.line(span.start);
        let Some(value) = item.get_ref().as_str() else {
            problems.push((line, span, "a dependency must be a string".into()));
            continue;
        };
        let inner = inner_range(text, span.clone(), value);
        match read_requirement(value, 0, file, line) {
            Ok(Some(mut r)) => {
                // The requirement's range inside the string value -> inside the file (the literal's text
                // equals the value unless it has escapes; then the whole inside of the quotes is edited).
                let raw = text.get(inner.clone()).unwrap_or("");
                r.range = if raw == value {
                    inner.start + r.range.start..inner.start + r.range.end
                } else {
                    inner
                };
                r.line = lines.line(r.range.start);
                out.push(r);
            }
            Ok(None) => {}
            Err(msg) => problems.push((line, inner, msg)),
        }
    }
    out
}

/// The text between a TOML string literal's quotes (`"x"`, `'x'`, `"""x"""`, `'''x'''`).
fn inner_range(text: &str, span: Range<usize>, value: &str) -> Range<usize> {
    let raw = text.get(span.clone()).unwrap_or("");
    let q = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        3
    } else if raw.starts_with('"') || raw.starts_with('\'') {
        1
    } else {
        0
    };
    if raw.len() < 2 * q {
        return span;
    }
    let inner = span.start + q..span.end - q;
    // A multi-line literal drops the newline right after its opening quotes.
    match text.get(inner.clone()).and_then(|t| t.find(value)) {
        Some(i) if !value.is_empty() => inner.start + i..inner.start + i + value.len(),
        _ => inner,
    }
}

/// `.`, `./`, `.[a,b]`, `./[a]`, `".[a, b]"` -> the extras asked for (empty for a bare `.`); `None` when the
/// text does not name the project in the current directory.
pub fn local_project_extras(text: &str) -> Option<Vec<String>> {
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'');
    let (path, extras) = match t.find('[') {
        Some(i) => (&t[..i], Some(&t[i..])),
        None => (t, None),
    };
    if path != "." && path != "./" {
        return None;
    }
    match extras {
        None => Some(vec![]),
        Some(e) => {
            let inner = e.strip_prefix('[')?.strip_suffix(']')?;
            Some(
                inner
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
            )
        }
    }
}

/// `/app`, `/workspace/proj[gpu]`, `./pkg/` -> (directory, extras): a project directory installed by path.
/// `None` for URLs, archives and wheels, and for text that still holds a variable.
pub fn project_dir_extras(text: &str) -> Option<(String, Vec<String>)> {
    let t = text.trim().trim_matches(|c| c == '"' || c == '\'');
    let (path, extras) = match t.find('[') {
        Some(i) => (&t[..i], Some(&t[i..])),
        None => (t, None),
    };
    let archive = [".whl", ".tar.gz", ".zip", ".tgz", ".tar.bz2"]
        .iter()
        .any(|s| path.ends_with(s));
    if path.is_empty() || path.contains("://") || path.contains('$') || archive {
        return None;
    }
    if !(path.starts_with('/') || path.starts_with("./") || path.starts_with("../")) {
        return None;
    }
    let extras = match extras {
        None => vec![],
        Some(e) => e
            .strip_prefix('[')?
            .strip_suffix(']')?
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect(),
    };
    Some((path.to_string(), extras))
}

/// A ReqFile for `pip install .[extras]`: the dependencies and the selected groups.
pub fn reqfile(text: &str, file: &Path, extras: &[String]) -> ReqFile {
    let p = parse(text, file);
    let mut rf = ReqFile {
        path: file.to_path_buf(),
        reqs: p.selected(extras),
        ..Default::default()
    };
    rf.sources.includes = p
        .dynamic_includes(extras)
        .into_iter()
        .map(|value| super::requirements::Located {
            value,
            file: file.to_path_buf(),
            range: p.tool_at.1.clone(),
            name_range: p.tool_at.1.clone(),
            line: p.tool_at.0,
        })
        .collect();
    rf.problems = p.problems;
    rf
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at<'a>(text: &'a str, r: &Requirement) -> &'a str {
        &text[r.range.clone()]
    }

    #[test]
    fn optional_table_before_project_points_at_the_right_lines() {
        // The shape that once made a fix replace line 1: the extras table comes first.
        let text = "[project.optional-dependencies]\ncuda = [\n    \"torch==2.3.1\",\n]\n\n[build-system]\nrequires = [\"hatchling\"]\n\n[project]\nname = \"svc\"\nversion = \"0.1\"\ndependencies = [\"fastapi>=0.110\", \"torchvision==0.18.1\"]\n";
        let p = parse(text, Path::new("pyproject.toml"));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.dependencies.len(), 2);
        let tv = &p.dependencies[1];
        assert_eq!(at(text, tv), "torchvision==0.18.1");
        assert_eq!(tv.line, 12);
        let torch = &p.optional["cuda"][0];
        assert_eq!(at(text, torch), "torch==2.3.1");
        assert_eq!(torch.line, 3);
        // Editing by span keeps every other line.
        let fixed = format!(
            "{}torch==2.4.0{}",
            &text[..torch.range.start],
            &text[torch.range.end..]
        );
        assert!(fixed.starts_with("[project.optional-dependencies]\n"));
        assert!(fixed.contains("\n[project]\n"));
        assert!(
            parse(&fixed, Path::new("pyproject.toml"))
                .problems
                .is_empty()
        );
    }

    #[test]
    fn bare_dot_takes_dependencies_only_and_extras_add_their_groups() {
        let text = "[project]\nname = \"My_App\"\ndependencies = ['numpy<2']\n[project.optional-dependencies]\ngpu = [\"torch==2.5.1\"]\ndocs = [\"sphinx\"]\nall = [\"my-app[gpu,docs]\"]\n";
        let p = parse(text, Path::new("pyproject.toml"));
        let names = |v: Vec<Requirement>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(names(p.selected(&[])), ["numpy"]);
        assert_eq!(names(p.selected(&["gpu".into()])), ["numpy", "torch"]);
        let mut all = names(p.selected(&["all".into()]));
        all.sort();
        assert_eq!(all, ["numpy", "sphinx", "torch"]);
        assert_eq!(at(text, &p.dependencies[0]), "numpy<2");
    }

    #[test]
    fn local_project_forms() {
        assert_eq!(local_project_extras("."), Some(vec![]));
        assert_eq!(local_project_extras("./"), Some(vec![]));
        assert_eq!(
            local_project_extras("\".[a, b]\""),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            local_project_extras("./[gpu]"),
            Some(vec!["gpu".to_string()])
        );
        assert_eq!(local_project_extras("./pkg"), None);
        assert_eq!(local_project_extras("torch"), None);
    }

    #[test]
    fn line_index_spans_match_the_scanning_ones() {
        let text = "a\néé: x\r\n\n  type=gha\n";
        let idx = LineIndex::new(text);
        for start in [0, 2, 4, 7, 10, 12, text.len()] {
            if text.is_char_boundary(start) {
                assert_eq!(
                    idx.span(text, start, start + 1),
                    super::super::Span::from_range(text, start, start + 1),
                    "{start}"
                );
            }
        }
    }

    #[test]
    fn project_directories_by_path() {
        assert_eq!(
            project_dir_extras("/workspace/proj[gpu, eval]"),
            Some((
                "/workspace/proj".to_string(),
                vec!["gpu".to_string(), "eval".to_string()]
            ))
        );
        assert_eq!(
            project_dir_extras("./pkg/"),
            Some(("./pkg/".to_string(), vec![]))
        );
        assert_eq!(
            project_dir_extras("/wheels/torch-2.5.1-cp311-none-any.whl"),
            None
        );
        assert_eq!(project_dir_extras("/workspace/${WHEEL}"), None);
        assert_eq!(project_dir_extras("git+https://h.example/x.git"), None);
        assert_eq!(project_dir_extras("torch"), None);
    }

    #[test]
    fn bad_entries_and_bad_toml_are_problems_with_lines() {
        let text =
            "[project]\nname = \"x\"\ndependencies = [\n  \"torch<>2.0\",\n  3,\n  \"numpy\",\n]\n";
        let p = parse(text, Path::new("pyproject.toml"));
        assert_eq!(p.dependencies.len(), 1);
        assert_eq!(p.problems.len(), 2);
        assert_eq!(p.problems[0].0, 4);
        assert_eq!(p.problems[1].0, 5);
        let broken = parse("[project\nname = 1\n", Path::new("pyproject.toml"));
        assert_eq!(broken.problems.len(), 1);
        assert_eq!(broken.problems[0].0, 1);
        assert!(broken.problems[0].2.contains("not valid TOML"));
    }

    #[test]
    fn hostile_pyprojects_are_problems_never_panics() {
        let deep = format!("[project]\ndependencies = {}\n", "[".repeat(100_000));
        let inline = format!("[project]\nname = {}\n", "{a=".repeat(50_000));
        let cases = [
            deep.as_str(),
            inline.as_str(),
            "[project]\0\ndependencies = [\"torch\"]\n",
            "[project]\rdependencies = [\"torch\"]\r",
            "[project]\ndependencies = \"torch\"\n",
            "\u{feff}[project]\ndependencies = [\"a.=1\", \"b[c.]\"]\n",
        ];
        for text in cases {
            let p = parse(text, Path::new("pyproject.toml"));
            for (line, range, msg) in &p.problems {
                assert!(*line >= 1 && range.end <= text.len(), "{msg}");
            }
        }
        let p = parse(cases[5], Path::new("pyproject.toml"));
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
    }

    #[test]
    fn escaped_and_multiline_strings_keep_their_own_spans() {
        let text =
            "[project]\nname = \"x\"\ndependencies = [\"\"\"\ntorch==2.2.1\"\"\", 'numpy>=1.26']\n";
        let p = parse(text, Path::new("pyproject.toml"));
        assert_eq!(at(text, &p.dependencies[0]), "torch==2.2.1");
        assert_eq!(p.dependencies[0].line, 4);
        assert_eq!(at(text, &p.dependencies[1]), "numpy>=1.26");
    }

    mod analysis {
        use crate::analyze::rules::testutil::check_with;
        use std::path::Path;

        const PY: &str = "[project.optional-dependencies]\ngpu = [\"torch==2.3.1\"]\n\n[project]\nname = \"svc\"\nversion = \"1.0\"\ndependencies = [\"torchvision==0.19.0\"]\n";

        fn df(install: &str) -> String {
            format!(
                "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nWORKDIR /app\nCOPY . .\nRUN {install}\n"
            )
        }

        fn torch_findings(a: &crate::analyze::Analysis) -> Vec<String> {
            a.findings
                .iter()
                .filter(|f| f.file == Path::new("pyproject.toml"))
                .filter(|f| f.message.contains("torch 2.3") || f.message.contains("2.3.1"))
                .map(|f| f.rule.to_string())
                .collect()
        }

        #[test]
        fn a_project_installed_by_its_path_in_the_image_is_read() {
            let d = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nCOPY . /opt/svc\nRUN pip install --no-cache-dir '/opt/svc[gpu]'\n";
            let a = check_with(d, &[("pyproject.toml", PY)]);
            assert!(
                a.files.iter().any(|f| f == Path::new("pyproject.toml")),
                "{:?}",
                a.files
            );
            assert!(
                a.findings
                    .iter()
                    .any(|f| f.file == Path::new("pyproject.toml") && f.span.line == 2),
                "{:#?}",
                a.findings
            );
            // A path that is not the copied project (a clone made in the image) reads nothing.
            let d = "FROM pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime\nRUN git clone https://h.example/x /opt/x && pip install --no-cache-dir /opt/x\n";
            let a = check_with(d, &[("pyproject.toml", PY)]);
            assert!(
                !a.files.iter().any(|f| f == Path::new("pyproject.toml")),
                "{:?}",
                a.files
            );
        }

        #[test]
        fn bare_dot_ignores_optional_groups() {
            let a = check_with(
                &df("pip install --no-cache-dir ."),
                &[("pyproject.toml", PY)],
            );
            assert!(a.files.iter().any(|f| f == Path::new("pyproject.toml")));
            assert!(torch_findings(&a).is_empty(), "{:#?}", a.findings);
        }

        #[test]
        fn quoted_extras_are_read_and_point_at_their_line() {
            for cmd in [
                "pip install --no-cache-dir \".[gpu]\"",
                "pip install --no-cache-dir -e '.[gpu]'",
                "pip install --no-cache-dir .[gpu,docs]",
            ] {
                let a = check_with(&df(cmd), &[("pyproject.toml", PY)]);
                let lines: Vec<usize> = a
                    .findings
                    .iter()
                    .filter(|f| f.file == Path::new("pyproject.toml"))
                    .map(|f| f.span.line)
                    .collect();
                assert!(lines.contains(&2), "{cmd}: {:#?}", a.findings);
                for f in a
                    .findings
                    .iter()
                    .filter(|f| f.file == Path::new("pyproject.toml"))
                {
                    for fix in &f.fixes {
                        for e in &fix.edits {
                            assert!(
                                e.start > 0,
                                "{cmd}: an edit at the top of pyproject.toml: {fix:?}"
                            );
                        }
                        let fixed = crate::analyze::apply_edits(PY, &fix.edits);
                        assert!(
                            fixed.starts_with("[project.optional-dependencies]\n"),
                            "{fixed}"
                        );
                        assert!(fixed.contains("\n[project]\n"), "{fixed}");
                    }
                }
            }
        }
    }
}
