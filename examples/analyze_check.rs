//! Run the analyzer over one or more project directories (or Dockerfiles) and print the human report.
//! Also the benchmark driver: `analyze_check --quiet DIR...` analyses every DIR in one process.
//!
//! Usage: cargo run --release --example analyze_check -- [--quiet] [--json] PATH...

use dockui::analyze::{AnalyzeOptions, analyze_project, analyze_text, report};
use std::path::Path;

fn main() {
    let mut quiet = false;
    let mut json = false;
    let mut total = 0usize;
    let start = std::time::Instant::now();
    let mut n = 0;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--quiet" => quiet = true,
            "--json" => json = true,
            p => {
                n += 1;
                let path = Path::new(p);
                let analysis = if path.is_dir() {
                    match analyze_project(path, &AnalyzeOptions::default()) {
                        Ok(a) => a,
                        Err(e) => {
                            eprintln!("{p}: {e}");
                            continue;
                        }
                    }
                } else {
                    let text = std::fs::read(path)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    analyze_text(
                        Path::new(path.file_name().unwrap_or_default()),
                        &text,
                        &AnalyzeOptions::default(),
                    )
                };
                total += analysis.findings.len();
                if json {
                    println!("{}", serde_json::to_string(&analysis).unwrap_or_default());
                } else if !quiet {
                    println!("== {p}");
                    print!("{}", report::human(&analysis));
                }
            }
        }
    }
    if quiet {
        eprintln!(
            "{n} inputs, {total} findings in {:.1} ms",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}
