//! `dockui doctor [DIR] [--format json]`: what this machine can build on, in the order `--backend auto`
//! tries them, each with reachable / why not / what to do, and the one `auto` picks.

use super::{Format, load_config, runtime, write_stream};
use crate::builder::select::{self, Doctor};
use crate::paths::Paths;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// The project whose `.dockui.toml` to read (default: the current directory).
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// Exit 0 when `auto` has a usable backend, 1 when it has none (or only one that does not answer).
pub fn run(args: DoctorArgs, config_flag: Option<&Path>, paths: &Paths) -> anyhow::Result<i32> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let config = load_config(config_flag, paths, &dir)?;
    let rt = runtime()?;
    let report = rt.block_on(select::doctor(&config, &select::Env::from_process()));
    let usable = report.auto.is_some_and(|i| report.candidates[i].usable());
    match args.format {
        Format::Human => write_stream(false, &human(&report)),
        Format::Json => write_stream(false, &format!("{}\n", json(&report))),
    }
    Ok(if usable { 0 } else { 1 })
}

fn json(d: &Doctor) -> String {
    let auto = d.auto.map(|i| {
        let p = &d.candidates[i];
        serde_json::json!({
            "index": i,
            "backend": p.backend,
            "source": p.source,
            "origin": p.origin,
            "endpoint": p.endpoint,
            "context": p.context,
            "usable": p.usable(),
        })
    });
    let v = serde_json::json!({
        "candidates": d.candidates,
        "auto": auto,
        "auto_reason": d.auto_reason,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// One line: builder, cache types, platforms, containers.
fn can(c: &crate::builder::Capabilities) -> String {
    let list = |v: &[crate::builder::CacheType]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|t| {
                    serde_json::to_value(t)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    format!(
        "{}; cache export {}; cache import {}; platforms {}{}; {}",
        if c.buildkit {
            "BuildKit"
        } else {
            "legacy builder"
        },
        list(&c.cache_export),
        list(&c.cache_import),
        if c.platforms.is_empty() {
            "unknown".to_string()
        } else {
            c.platforms.join(", ")
        },
        if c.multi_platform {
            " (several in one build)"
        } else {
            ""
        },
        if c.run {
            "runs containers (smoke tests)"
        } else {
            "no containers (smoke tests are skipped)"
        }
    )
}

/// Text from elsewhere (an address, an engine's answer) as it may go to a terminal: control characters
/// escaped, so an escape sequence in DOCKER_HOST or in an HTTP answer cannot redraw the screen.
fn clean(text: &str) -> String {
    crate::terminal_text::escape_controls(text, usize::MAX).0
}

pub fn human(d: &Doctor) -> String {
    let mut d = d.clone();
    for p in &mut d.candidates {
        for field in [&mut p.source, &mut p.endpoint] {
            *field = clean(field);
        }
        for field in [
            &mut p.context,
            &mut p.version,
            &mut p.why_not,
            &mut p.what_to_do,
        ]
        .into_iter()
        .flatten()
        {
            *field = clean(field);
        }
    }
    d.auto_reason = clean(&d.auto_reason);
    human_raw(&d)
}

fn human_raw(d: &Doctor) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Backends, in the order `dockui build --backend auto` tries them:"
    );
    for (i, p) in d.candidates.iter().enumerate() {
        let endpoint = match (p.endpoint.is_empty(), &p.context) {
            // A context that does not exist has no address, but it is set.
            (true, Some(_)) => "(no address)",
            (true, None) => "(not set)",
            (false, _) => p.endpoint.as_str(),
        };
        let _ = writeln!(
            out,
            "\n{}. {} - {} - {endpoint}{}",
            i + 1,
            p.backend.as_str(),
            p.source,
            p.context
                .as_ref()
                .map(|c| format!(" (context {c})"))
                .unwrap_or_default()
        );
        let state = if !p.available {
            "not available in this build".to_string()
        } else if p.reachable {
            match &p.version {
                Some(v) => format!("yes ({v})"),
                None => "yes".into(),
            }
        } else {
            "no".into()
        };
        let _ = writeln!(out, "   reachable: {state}");
        if let Some(c) = &p.capabilities {
            let _ = writeln!(out, "   can: {}", can(c));
            if !c.platforms_from.is_empty() {
                let _ = writeln!(out, "   platforms from: {}", c.platforms_from);
            }
        }
        if let Some(w) = &p.why_not {
            let _ = writeln!(out, "   why not: {w}");
        }
        if let Some(t) = &p.what_to_do {
            let _ = writeln!(out, "   what to do: {t}");
        }
        if let Some(a) = d.auto.filter(|&a| a < i)
            && p.usable()
        {
            let _ = writeln!(
                out,
                "   not used by auto: it takes {} ({}) first",
                a + 1,
                d.candidates[a].source
            );
        }
    }
    let _ = writeln!(out);
    match d.auto {
        Some(i) => {
            let p = &d.candidates[i];
            let _ = writeln!(
                out,
                "auto picks {}: {} {} ({}){}",
                i + 1,
                p.backend.as_str(),
                p.endpoint,
                d.auto_reason,
                if p.usable() {
                    ""
                } else {
                    " - builds fail until it answers"
                }
            );
        }
        None => {
            let _ = writeln!(out, "auto picks nothing: {}", d.auto_reason);
        }
    }
    out
}
