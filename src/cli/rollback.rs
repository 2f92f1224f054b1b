//! `dockui rollback REPO:TAG [--to DIGEST|previous]`, and recording pushes for it.

use super::{Format, load_config, runtime};
use crate::paths::Paths;
use crate::registry::client::{RegistryClient, Verdict};
use crate::registry::credentials::CredentialLookup;
use crate::registry::reference::ImageName;
use crate::registry::report::PushReport;
use crate::registry::rollback::{self, Target};
use std::path::Path;

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The tag to point back, with its registry: `registry:5000/team/app:v2`.
    pub reference: String,
    /// `previous` (the push before the one the tag serves now) or a digest `sha256:...`.
    #[arg(long, default_value = "previous", value_name = "DIGEST|previous")]
    pub to: String,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// After a push: remember each tag's digest (a failure to write is said, never fatal).
pub fn record(paths: &Paths, report: &PushReport) {
    let dir = rollback::history_dir(&paths.data_dir);
    if let Err(e) = rollback::record_push(&dir, report) {
        eprintln!(
            "dockui: cannot record the push in {} (rollback will not know it): {e}",
            dir.display()
        );
    }
}

pub fn run(args: RollbackArgs, config_flag: Option<&Path>, paths: &Paths) -> anyhow::Result<i32> {
    let config = load_config(config_flag, paths, Path::new("."))?;
    let name = ImageName::parse(&args.reference).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(tag) = name.tag.clone() else {
        anyhow::bail!(
            "{}: name the tag to roll back, e.g. {}:v2",
            args.reference,
            args.reference
        );
    };
    anyhow::ensure!(
        name.digest.is_none(),
        "{}: name the tag, not a digest (the digest goes in --to)",
        args.reference
    );
    let target = if args.to == "previous" {
        Target::Previous
    } else {
        Target::Digest(args.to.clone())
    };
    let lookup = CredentialLookup::from_env().scope_env_to(&name.registry);
    let client = RegistryClient::new(lookup, config.push.retry.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_plain_http(config.push.plain_http_hosts());
    let dir = rollback::history_dir(&paths.data_dir);
    let report = runtime()?
        .block_on(rollback::rollback(&client, &dir, &name, &tag, target))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    match args.format {
        Format::Human => {
            println!(
                "rolled back {}: {} -> {} ({})",
                report.reference,
                report.from.as_deref().unwrap_or("(no digest)"),
                report.to,
                report.source
            );
            println!(
                "tag serves the target: {}; {}@{}: {}{}",
                if report.tag_points_to_target {
                    "yes"
                } else {
                    "NO"
                },
                name.repository,
                report.to,
                report.verdict,
                if report.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", report.detail)
                }
            );
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(
        if report.tag_points_to_target && report.verdict == Verdict::Pullable {
            0
        } else {
            1
        },
    )
}
