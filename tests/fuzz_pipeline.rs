//! Property test over the whole pipeline: arbitrary bytes (with `\r`, NUL, invalid UTF-8, and fragments of
//! real syntax so the parsers get past the first line) as a project's Dockerfile, requirements.txt,
//! pyproject.toml and workflow, then read -> parse -> analyse -> propose fixes -> apply -> write -> re-analyse.
//! No input may panic, and a write never leaves a file that is not what the fix produced.
//!
//! Bounded: a fixed number of cases (a few seconds in a debug build); `PROPTEST_CASES` runs more.

use dockui::analyze::{self, AnalyzeOptions, FixLevel};
use dockui::fix::{Backups, plan, proposal};
use proptest::prelude::*;
use std::collections::HashMap;

const DOCKERFILE_BITS: &[&str] = &[
    "FROM ",
    "ubuntu:22.04",
    "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    "nvidia/cuda:12.1.0-runtime-ubuntu22.04",
    " AS build",
    "RUN ",
    "apt-get update && apt-get install ",
    "pip install ",
    "torch==2.5.1",
    "-r requirements.txt",
    "--index-url https://download.pytorch.org/whl/cu121 ",
    "ARG ",
    "ENV ",
    "A=1 ",
    "${A:-x}",
    "$A",
    "${",
    "COPY requirements.txt /app/",
    "COPY . .",
    "WORKDIR /app",
    "CMD [\"python\", \"x.py\"]",
    "[\"",
    "<<EOF",
    "EOF",
    "# escape=`",
    "# hadolint ignore=DL3008",
    "\\\n",
    "`\n",
    "\n",
    "\r\n",
    "\r",
    "\0",
    "\t",
    " ",
    "é",
    "😀",
];

const REQ_BITS: &[&str] = &[
    "torch==2.5.1",
    "torch",
    "+cu121",
    "torchvision>=0.20",
    "numpy<2",
    "-r other.txt",
    "-c constraints.txt",
    "--extra-index-url https://download.pytorch.org/whl/cu118",
    "-e .",
    " ; python_version<'3.9'",
    "[extra]",
    "# comment",
    "\n",
    "\r\n",
    "\r",
    "\0",
    "\\\n",
];

const PYPROJECT_BITS: &[&str] = &[
    "[project]\n",
    "dependencies = [",
    "\"torch==2.4.0\",",
    "\"jax[cuda12]\"",
    "]\n",
    "[tool.poetry.dependencies]\n",
    "torch = \"^2.1\"\n",
    "name = \"x\"\n",
    "\"",
    "\n",
    "\r",
    "\0",
];

const WORKFLOW_BITS: &[&str] = &[
    "on: [push]\n",
    "jobs:\n",
    "  build:\n",
    "    runs-on: ubuntu-latest\n",
    "    steps:\n",
    "      - uses: docker/build-push-action@v5\n",
    "        with:\n",
    "          cache-from: type=gha\n",
    "          push: true\n",
    "      - run: docker build .\n",
    ": ",
    "- ",
    "{",
    "\n",
    "\r",
    "\0",
];

/// Bytes built from syntax fragments and raw bytes (invalid UTF-8 included).
fn bytes_from(bits: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        6 => prop::sample::select(bits).prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..6),
        1 => Just(vec![0xff]),
        1 => Just(vec![0xc3]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn run_pipeline(df: &[u8], req: &[u8], pyproject: &[u8], workflow: &[u8]) {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("p");
    std::fs::create_dir_all(root.join(".github/workflows")).unwrap();
    // Make sure the requirements and the project are looked at.
    let mut df = df.to_vec();
    df.extend_from_slice(b"\nRUN pip install -r requirements.txt .\n");
    std::fs::write(root.join("Dockerfile"), &df).unwrap();
    std::fs::write(root.join("requirements.txt"), req).unwrap();
    std::fs::write(root.join("pyproject.toml"), pyproject).unwrap();
    std::fs::write(root.join(".github/workflows/ci.yml"), workflow).unwrap();
    let opts = AnalyzeOptions::default();

    // Read -> parse -> analyse, as `check` does; the JSON form must serialise.
    let analysis = analyze::analyze_project(&root, &opts).unwrap();
    serde_json::to_string(&analysis).unwrap();
    let _ = analyze::report::human(&analysis);
    let _ = analyze::sarif::to_sarif(&analysis, &root);

    // The planner's path: propose -> apply every hunk in memory -> re-analyse the result.
    let allow = |_: &dockui::analyze::Finding, _: &dockui::analyze::Fix| true;
    let plan = plan::plan(
        &root,
        &opts,
        &plan::PlanOptions {
            allow: &allow,
            choice: &HashMap::new(),
            extra: &[],
        },
    )
    .unwrap();
    for p in &plan.proposals {
        let new = p.accepted_text();
        let _ = proposal::unified(&p.file, &p.old, &new);
        let _ = analyze::analyze_text(&p.file, &new, &opts);
    }
    for f in &analysis.findings {
        for fix in &f.fixes {
            let text = std::fs::read(root.join(&fix.file)).unwrap_or_default();
            let text = String::from_utf8_lossy(&text);
            let _ = analyze::apply_edits(&text, &fix.edits);
        }
    }

    // And the real `fix`: writes through the atomic writer; whatever it wrote parses and analyses again.
    let backups = Backups::new(home.path().join("backups"));
    let run = dockui::fix::headless::run(&root, &opts, &backups, &[], FixLevel::Suggestion, false)
        .unwrap();
    for c in run.changes.iter().filter(|c| c.written) {
        let bytes = std::fs::read(root.join(&c.file)).unwrap();
        assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "{} written as invalid UTF-8",
            c.file.display()
        );
    }
    // No temp file is left beside what was written.
    for d in [root.clone(), root.join(".github/workflows")] {
        for e in std::fs::read_dir(&d).unwrap() {
            let name = e.unwrap().file_name();
            assert!(
                !name.to_string_lossy().ends_with(".tmp"),
                "temp file left: {name:?}"
            );
        }
    }
    analyze::analyze_project(&root, &opts).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_input_file_makes_the_pipeline_panic(
        df in bytes_from(DOCKERFILE_BITS),
        req in bytes_from(REQ_BITS),
        pyproject in bytes_from(PYPROJECT_BITS),
        workflow in bytes_from(WORKFLOW_BITS),
    ) {
        run_pipeline(&df, &req, &pyproject, &workflow);
    }
}

/// Cases found by hand or by the property test, kept so they stay fixed.
#[test]
fn known_hostile_inputs_do_not_panic() {
    let cases: &[&[u8]] = &[
        b"# comment\rFROM ubuntu:22.04\rRUN apt-get install curl\r",
        b"FROM ubuntu:22.04\r\nRUN pip install torch\r",
        b"FROM ubuntu:22.04\nRUN pip install \0torch\n",
        b"FROM ubuntu:22.04\nRUN pip install torch\xff\n",
        b"\xef\xbb\xbfFROM ubuntu:22.04\nRUN apt-get update\n",
        b"FROM a\nRUN <<EOF\r\napt-get install x\rEOF\n",
        b"\r\r\r",
        b"",
    ];
    for df in cases {
        run_pipeline(
            df,
            b"torch==2.5.1\r+cu121\n",
            b"[project]\rdependencies=[\"torch\"]",
            b"on: push\r",
        );
    }
}
