//! Fixes: applying text edits (pure), and writing files atomically with a backup for undo.

pub mod headless;
pub mod plan;
pub mod proposal;
pub mod validate;
pub mod write;

pub use crate::analyze::apply_edits;
pub use write::{Backups, WriteError, write_atomic};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::TextEdit;

    fn edit(start: usize, end: usize, r: &str) -> TextEdit {
        TextEdit {
            start,
            end,
            replacement: r.into(),
        }
    }

    #[test]
    fn applies_in_order_and_skips_overlaps() {
        let t = "RUN pip install x\n";
        assert_eq!(
            apply_edits(t, &[edit(15, 15, " --no-cache-dir")]),
            "RUN pip install --no-cache-dir x\n"
        );
        assert_eq!(
            apply_edits(t, &[edit(4, 7, "pip3"), edit(0, 3, "run")]),
            "run pip3 install x\n"
        );
        assert_eq!(
            apply_edits(t, &[edit(0, 5, "A"), edit(3, 6, "B")]),
            "Aip install x\n"
        );
        assert_eq!(apply_edits(t, &[edit(50, 60, "x")]), t);
    }
}
