//! The Docker-API adapter of the builder port (local or remote Docker, Podman's compatible socket): bollard.
//! The port itself (the trait and its types) lives in `crate::builder`; it is re-exported here so adapter code
//! reads naturally.

pub mod bollard_engine;
pub mod buildkit_progress;
pub mod capabilities;
pub mod context;
pub mod diagnose;
pub mod dockerignore;
pub mod endpoint;
pub mod push;
pub mod remote;
pub mod standin;

/// The old name of the builder port, kept while call sites move to `BuilderPort`.
pub use crate::builder::BuilderPort as DockerPort;
pub use crate::builder::*;
pub use bollard_engine::BollardEngine;
