pub mod analyze;
pub mod cli;
pub mod docker;
