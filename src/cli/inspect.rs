//! `dockui inspect IMAGE`: exit 0 ok (or the gate passed), 1 the gate failed, 2 usage or engine errors.

use super::{Format, load_config, runtime};
use crate::builder::select;
use crate::image::{self, Gate, Options, export};
use crate::paths::Paths;
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// An image in the engine (`repo:tag`, id), or a saved archive file (`docker save -o`, `podman save`).
    pub image: String,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// CI gate: fail (exit 1) when efficiency is below this fraction, e.g. 0.9.
    #[arg(long, value_name = "FRACTION", value_parser = image::gate::parse_fraction)]
    pub lowest_efficiency: Option<f64>,
    /// CI gate: fail (exit 1) when more than this is wasted, e.g. 50MB (10^6) or 50MiB.
    #[arg(long, value_name = "SIZE", value_parser = image::parse_size)]
    pub highest_wasted_bytes: Option<u64>,
    /// How many largest files and wasted paths to list.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
}

pub fn run(args: InspectArgs, config_flag: Option<&Path>, paths: &Paths) -> anyhow::Result<i32> {
    let config = load_config(config_flag, paths, Path::new("."))?;
    let opts = Options { top: args.top };
    let as_file = Path::new(&args.image);
    // The engine's `backend` object for JSON results, once one is chosen.
    let mut backend = None;
    let report = if as_file.is_file() {
        export::inspect_archive_file(as_file, opts).map_err(|e| e.to_string())
    } else {
        let rt = runtime()?;
        // The Docker endpoint as build and push choose it (`--backend docker`: the endpoint you set, else
        // the local socket), so an engine that cannot be used is told the same way: its cause and what to do.
        let chosen = rt.block_on(select::select(
            &config,
            &select::Env::from_process(),
            select::Choice::Docker,
        ));
        match chosen {
            Ok(s) => {
                let report = rt.block_on(export::inspect_engine_image(
                    s.port.as_ref(),
                    &args.image,
                    opts,
                ));
                // Asked after the image: what answered (Docker or Podman) is known by then.
                backend = Some(super::port_backend(None, s.probe.backend, s.port.as_ref()));
                report.map_err(|e| e.to_string())
            }
            Err(e) => {
                backend = e.probe.as_ref().map(|p| p.backend_json());
                // Without build's "backend docker:" (inspect has no --backend): why, and what to do.
                Err(format!("{}; what to do: {}", e.why, e.what_to_do))
            }
        }
    };
    let mut report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dockui: {e}");
            if args.format == Format::Json {
                let mut v = serde_json::json!({ "image": args.image, "error": e, "exit_code": 2 });
                if let Some(b) = backend {
                    super::with_backend(&mut v, b);
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            return Ok(2);
        }
    };
    let gate = Gate {
        lowest_efficiency: args.lowest_efficiency,
        highest_wasted_bytes: args.highest_wasted_bytes,
    };
    if gate.is_set() {
        report.gate = Some(gate.evaluate(&report));
    }
    match args.format {
        Format::Human => print!("{}", image::render::render_human(&report)),
        Format::Json => {
            let mut v = serde_json::to_value(&report)?;
            if let Some(b) = backend {
                super::with_backend(&mut v, b);
            }
            println!("{}", serde_json::to_string_pretty(&v)?)
        }
    }
    Ok(match &report.gate {
        Some(g) if !g.passed => 1,
        _ => 0,
    })
}
