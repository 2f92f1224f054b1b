pub mod analyze;
pub mod cli;
pub mod docker;
pub mod gpu;
pub mod tui;
