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
    let cpu0 = cpu_ms();
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
        let cpu = cpu_ms()
            .map(|c| format!(" (cpu {:.1} ms)", c - cpu0.unwrap_or(0.0)))
            .unwrap_or_default();
        eprintln!(
            "{n} inputs, {total} findings in {:.1} ms{cpu}",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// CPU time of this process in ms (`CLOCK_PROCESS_CPUTIME_ID`): on a shared machine the wall time mostly
/// measures the neighbours, the CPU time measures dockui.
fn cpu_ms() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusively borrowed `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 * 1000.0 + ts.tv_nsec as f64 / 1e6)
}
