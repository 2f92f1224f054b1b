//! The registry adapter: credentials, manifest digests and pullability over the registry HTTP API, config
//! updates that pin `repo@sha256:...`, and the push report. Pushing itself goes through the Docker engine
//! (`docker::push`); `pipeline` strings the steps together for the CLI and the TUI.

pub mod client;
pub mod config;
pub mod credentials;
pub mod digest;
pub mod index;
pub mod pin;
pub mod pipeline;
pub mod reference;
pub mod report;
pub mod rollback;
pub mod secret;
pub mod update;

pub use client::{PlatformCheck, PullCheck, RegistryClient, RetryPolicy, Verdict};
pub use config::PushConfig;
pub use credentials::{CredentialLookup, CredentialSource, Credentials};
pub use digest::{DigestCheck, DigestReport};
pub use reference::ImageName;
pub use report::{PushReport, render_human};
pub use secret::Secret;
pub use update::{ProposedUpdate, UpdateTarget, propose_updates};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    #[error("bad image reference {reference:?}: {why}")]
    BadReference { reference: String, why: String },
}
