pub mod analyze;
pub mod cli;
