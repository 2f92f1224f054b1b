//! Applying a fix's text edits to a file's text (pure). The full per-hunk review lives in the fix module.

use crate::analyze::TextEdit;

/// Apply non-overlapping edits (any order) to `text`. Overlapping or out-of-range edits are skipped, never panic.
pub fn apply_edits(text: &str, edits: &[TextEdit]) -> String {
    let mut sorted: Vec<&TextEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for e in sorted {
        if e.start < pos
            || e.end < e.start
            || e.end > text.len()
            || !text.is_char_boundary(e.start)
            || !text.is_char_boundary(e.end)
        {
            continue;
        }
        out.push_str(&text[pos..e.start]);
        out.push_str(&e.replacement);
        pos = e.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
