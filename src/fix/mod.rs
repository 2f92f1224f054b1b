//! Fixes: applying text edits (pure), and writing files atomically with a backup for undo.

pub mod headless;
pub mod proposal;
pub mod write;

pub use crate::fix_preview::apply_edits;
pub use write::{Backups, WriteError, write_atomic};
