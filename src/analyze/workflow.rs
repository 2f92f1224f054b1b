//! GitHub Actions workflows, read with [`super::yaml`] (spans on every value) and walked per job and per step:
//! what matters to the Docker rules is which buildx builder each step runs on, and that is a property of the
//! job (a `docker/setup-buildx-action` step in one job does nothing for another job, which runs on another
//! machine).

use std::ops::Range;

use super::yaml::{self, Node, Yaml, YamlProblem};

/// One step of a job, with what the Docker rules need to know about it.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// Byte offset of the start of the line of the step's `- ` item (where a new step can be inserted), when the
    /// step is a block sequence item.
    pub item_line_start: Option<usize>,
    /// Indentation of the `- ` of that item.
    pub indent: usize,
    /// `uses:` value (`docker/setup-buildx-action@v3`).
    pub uses: Option<String>,
    /// `with: driver:` value and its byte range.
    pub driver: Option<(String, Range<usize>)>,
    /// Ranges of the lines that ask for the GitHub Actions cache backend (`type=gha` in a `cache-from` /
    /// `cache-to` input, or in a `docker buildx build --cache-*` command).
    pub gha: Vec<Range<usize>>,
    /// A `run:` that creates and selects its own buildx builder (`docker buildx create --use`).
    pub creates_builder: bool,
}

impl Step {
    pub fn is_setup_buildx(&self) -> bool {
        self.uses
            .as_deref()
            .is_some_and(|u| u.starts_with("docker/setup-buildx-action"))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Job {
    pub id: String,
    pub steps: Vec<Step>,
}

/// The jobs of a workflow, in file order.
pub fn jobs(text: &str) -> Result<Vec<Job>, YamlProblem> {
    let y = Yaml::parse(text)?;
    let mut out = Vec::new();
    let Some(jobs) = yaml::get(&y.root, "jobs") else {
        return Ok(out);
    };
    for (id, _, job) in yaml::entries(jobs) {
        let mut j = Job {
            id: id.into_owned(),
            steps: vec![],
        };
        if let Some(steps) = yaml::get(job, "steps") {
            for s in yaml::items(steps) {
                j.steps.push(step(&y, s));
            }
        }
        out.push(j);
    }
    Ok(out)
}

fn step(y: &Yaml, s: &Node) -> Step {
    let mut st = Step::default();
    let start = y.range(s).start;
    let line_start = y.text[..start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let before = &y.text[line_start..start];
    let dash = before.trim_start_matches(' ');
    if dash.trim_end() == "-" {
        st.item_line_start = Some(line_start);
        st.indent = before.len() - dash.len();
    }
    st.uses = yaml::get(s, "uses")
        .and_then(yaml::scalar)
        .map(|u| u.trim().to_string());
    if let Some(with) = yaml::get(s, "with") {
        if let Some(d) = yaml::get(with, "driver") {
            if let Some(v) = yaml::scalar(d) {
                st.driver = Some((v.trim().to_string(), y.value_range(d)));
            }
        }
        for (key, _, v) in yaml::entries(with) {
            // build-push-action: cache-from / cache-to; bake-action: `set: *.cache-to=type=gha`.
            if key.contains("cache") || key == "set" {
                st.gha.extend(gha_lines(y, v, |_| true));
            }
        }
    }
    if let Some(run) = yaml::get(s, "run") {
        let cmd = yaml::scalar(run).unwrap_or_default();
        st.creates_builder = cmd.contains("buildx create") && cmd.contains("--use");
        st.gha
            .extend(gha_lines(y, run, |line| line.contains("--cache")));
    }
    st
}

/// Lines inside a value's text that hold `type=gha`, as trimmed byte ranges (the value is located in the
/// file, so these point at what the user wrote, block scalars included).
fn gha_lines(y: &Yaml, v: &Node, keep: impl Fn(&str) -> bool) -> Vec<Range<usize>> {
    let r = y.range(v);
    let raw = y.text.get(r.clone()).unwrap_or("");
    let mut out = Vec::new();
    let mut off = r.start;
    for line in raw.split_inclusive('\n') {
        let t = line.trim();
        let code = t.split(" #").next().unwrap_or(t);
        if code.contains("type=gha") && !t.starts_with('#') && keep(code) {
            let lead = line.len() - line.trim_start().len();
            out.push(off + lead..off + lead + t.len());
        }
        off += line.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_read_per_job_with_spans() {
        let text = "on: [push]\njobs:\n  setup:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/setup-buildx-action@v3\n        with:\n          driver: docker-container\n  image:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - name: Build\n        uses: docker/build-push-action@v6\n        with:\n          cache-to: |\n            type=gha,mode=max\n";
        let jobs = jobs(text).unwrap();
        assert_eq!(jobs.len(), 2);
        assert!(jobs[0].steps[0].is_setup_buildx());
        let (d, r) = jobs[0].steps[0].driver.clone().unwrap();
        assert_eq!(d, "docker-container");
        assert_eq!(&text[r], "docker-container");
        let build = &jobs[1].steps[1];
        assert_eq!(build.gha.len(), 1);
        assert_eq!(&text[build.gha[0].clone()], "type=gha,mode=max");
        assert_eq!(build.indent, 6);
        assert_eq!(
            &text[build.item_line_start.unwrap()..][..14],
            "      - name: "
        );
    }

    #[test]
    fn run_steps_count_only_buildx_cache_flags() {
        let text = "jobs:\n  b:\n    steps:\n      - run: |\n          echo type=gha\n          docker buildx build --cache-to type=gha -t x .\n";
        let jobs = jobs(text).unwrap();
        let s = &jobs[0].steps[0];
        assert_eq!(s.gha.len(), 1);
        assert!(text[s.gha[0].clone()].starts_with("docker buildx build"));
    }

    #[test]
    fn broken_workflows_are_problems() {
        let e = jobs("jobs:\n  b:\n    steps: [\n").unwrap_err();
        assert!(e.line >= 1);
        assert!(e.message.contains("not valid YAML"));
        assert!(jobs("").unwrap().is_empty());
        assert!(jobs("\u{feff}jobs: {}\n").unwrap().is_empty());
    }
}
