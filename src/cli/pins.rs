//! `check --resolve-digests` / `fix --pin-bases`: read the Dockerfile's bases and ask their registries.

use super::runtime;
use crate::analyze::AnalyzeOptions;
use crate::analyze::base_digest::{BaseDigests, base_references};
use crate::config::Config;
use crate::registry::client::RegistryClient;
use crate::registry::credentials::CredentialLookup;
use std::path::Path;

pub fn base_digests(
    config: &Config,
    dir: &Path,
    opts: &AnalyzeOptions,
) -> anyhow::Result<BaseDigests> {
    let dockerfile = dir.join(
        opts.dockerfile
            .as_deref()
            .unwrap_or(Path::new("Dockerfile")),
    );
    let text = std::fs::read_to_string(&dockerfile)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dockerfile.display()))?;
    // The offline stand-in lives in the engine only: there is no registry to pin it from.
    let bases: Vec<_> = base_references(&text, &opts.build_args)
        .into_iter()
        .filter(|b| !crate::docker::standin::is_standin(&b.tagged))
        .collect();
    if bases.is_empty() {
        return Ok(BaseDigests::default());
    }
    let lookup = CredentialLookup::from_env().scope_env_to(&config.push.registry);
    // One try per base: a lookup is a question, not a push waiting for replication.
    let retry = crate::registry::RetryPolicy {
        attempts: 1,
        ..config.push.retry.clone()
    };
    let client = RegistryClient::new(lookup, retry)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_plain_http(config.push.plain_http_hosts());
    Ok(runtime()?.block_on(crate::registry::pin::resolve(&client, &bases)))
}
