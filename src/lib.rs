//! dockui: a terminal cockpit for building Docker images on GPU servers.
//! Layers (lowest first): analyze (pure) → docker (adapter) → engine (jobs) → tui / cli (front ends).

pub mod analyze;
pub mod builder;
pub mod buildkit;
pub mod classify;
pub mod cli;
pub mod codebuild;
pub mod config;
pub mod demo;
pub mod docker;
pub mod engine;
pub mod fatal_signals;
pub mod fix;
pub mod gpu;
pub mod hash;
pub mod image;
pub mod logging;
pub mod notify;
pub mod paths;
pub mod registry;
pub mod report;
pub mod terminal_text;
pub mod tui;
