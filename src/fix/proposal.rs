//! Proposals: the fixes for one file merged into one new text, split into hunks the user decides on.
//! Pure: `apply(proposal, decisions)` gives exactly the text the decisions describe.

use crate::analyze::{Fix, FixLevel};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

/// A hunk's identity: a hash of its file and content, never its position in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct HunkId(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hunk {
    pub id: HunkId,
    /// 0-based line range in the old text that the hunk replaces.
    pub old_start: usize,
    pub old_lines: Vec<String>,
    pub new_lines: Vec<String>,
    /// The findings the hunk comes from, e.g. "DL3042 Dockerfile:12".
    pub sources: Vec<String>,
    pub level: FixLevel,
}

impl Hunk {
    /// `@@ -a,b +c,d @@` in the old file's numbering (1-based), as in unified diffs.
    pub fn header(&self) -> String {
        format!(
            "@@ -{},{} @@ {}",
            self.old_start + 1,
            self.old_lines.len(),
            self.sources.join(", ")
        )
    }
    /// Changed lines in line mode: the old lines (removals) first, then the new ones (additions).
    pub fn changed_lines(&self) -> usize {
        self.old_lines.len() + self.new_lines.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    pub file: PathBuf,
    pub old: String,
    pub hunks: Vec<Hunk>,
    /// Fixes left out because their edits overlap an earlier one; they come back after that one is written.
    pub deferred: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accept,
    Reject,
    /// The user's replacement for the hunk's new lines (full text, line endings included).
    Edited(String),
    /// Line mode: one flag per changed line (removals first, then additions); true takes the change.
    Lines(Vec<bool>),
}

/// The text's lines, each with its `\n` (the last may lack one). The one line split used by hunks, `apply` and
/// the diff pane: a bare `\r` (old Mac line end) stays inside its line, as Docker's own parser reads it, so
/// line indices always agree (the diff library's own splitter also breaks at a bare `\r`).
pub fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// 0-based line of a byte offset in `lines` numbering.
pub fn line_of(text: &str, byte: usize) -> usize {
    let mut b = byte.min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    text.as_bytes()[..b].iter().filter(|&&c| c == b'\n').count()
}

/// Merge `fixes` (label, fix) for one file into a proposal. A fix whose edits overlap an earlier fix's is
/// deferred rather than mixed in: its offsets would no longer mean what the rule meant.
pub fn propose(file: PathBuf, old: &str, fixes: &[(String, &Fix)]) -> Proposal {
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut edits = Vec::new();
    let mut deferred = Vec::new();
    // Which fix each accepted edit came from: (old line range, label, level).
    let mut origins: Vec<Origin> = Vec::new();
    for (label, fix) in fixes {
        let overlaps = fix.edits.iter().any(|e| {
            e.end > old.len()
                || taken.iter().any(|&(s, t)| {
                    (e.start < t && s < e.end)
                        || (e.start == e.end && e.start == s)
                        || (s == t && s == e.start)
                })
        });
        if overlaps {
            deferred.push(label.clone());
            continue;
        }
        for e in &fix.edits {
            taken.push((e.start, e.end));
            origins.push((
                line_of(old, e.start),
                line_of(old, e.end),
                label.clone(),
                fix.level,
            ));
            edits.push(e.clone());
        }
    }
    let new = super::apply_edits(old, &edits);
    let mut p = from_texts(file, old, &new, &origins);
    p.deferred = deferred;
    p
}

/// Where a change came from, for a hunk's sources: 0-based old line range (first, last), label, level.
pub type Origin = (usize, usize, String, FixLevel);

/// The proposal that turns `old` into `new`: hunks from a line diff, each with the origins it overlaps.
pub fn from_texts(file: PathBuf, old: &str, new: &str, origins: &[Origin]) -> Proposal {
    let hunks = diff_hunks(&file, old, new, origins);
    Proposal {
        file,
        old: old.to_string(),
        hunks,
        deferred: Vec::new(),
    }
}

/// Line-level diff ops of old -> new in `lines` numbering.
pub fn line_ops(old: &str, new: &str) -> Vec<similar::DiffOp> {
    let (o, n) = (lines(old), lines(new));
    similar::capture_diff_slices(similar::Algorithm::Myers, &o, &n)
}

fn diff_hunks(file: &std::path::Path, old: &str, new: &str, origins: &[Origin]) -> Vec<Hunk> {
    let old_lines = lines(old);
    let new_lines = lines(new);
    let ops = line_ops(old, new);
    let mut hunks = Vec::new();
    let mut cur: Option<(usize, usize, usize, usize)> = None; // old_start, old_end, new_start, new_end
    let flush = |c: (usize, usize, usize, usize), hunks: &mut Vec<Hunk>| {
        let (os, oe, ns, ne) = c;
        let o: Vec<String> = old_lines[os..oe].iter().map(|s| s.to_string()).collect();
        let n: Vec<String> = new_lines[ns..ne].iter().map(|s| s.to_string()).collect();
        let last_old = oe.max(os + 1) - 1;
        let mut sources = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut level = FixLevel::Safe;
        for (a, b, label, lvl) in origins {
            if *a <= last_old && *b >= os && seen.insert(label.as_str()) {
                sources.push(label.clone());
                level = level.max(*lvl);
            }
        }
        let file_s = file.to_string_lossy();
        let id = HunkId(crate::hash::fnv1a([
            file_s.as_ref(),
            o.concat().as_str(),
            n.concat().as_str(),
        ]));
        hunks.push(Hunk {
            id,
            old_start: os,
            old_lines: o,
            new_lines: n,
            sources,
            level,
        });
    };
    for op in &ops {
        let (tag, or, nr) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            if let Some(c) = cur.take() {
                flush(c, &mut hunks);
            }
            continue;
        }
        cur = Some(match cur {
            None => (or.start, or.end, nr.start, nr.end),
            Some((os, _, ns, _)) => (os, or.end, ns, nr.end),
        });
    }
    if let Some(c) = cur {
        flush(c, &mut hunks);
    }
    hunks
}

/// The new text of a hunk under a decision (None: keep the old lines).
fn hunk_output(h: &Hunk, d: Option<&Decision>) -> String {
    match d {
        Some(Decision::Accept) => h.new_lines.concat(),
        Some(Decision::Edited(text)) => text.clone(),
        Some(Decision::Lines(flags)) => {
            let (del, add) = flags.split_at(h.old_lines.len().min(flags.len()));
            let mut out = String::new();
            for (i, l) in h.old_lines.iter().enumerate() {
                if !del.get(i).copied().unwrap_or(false) {
                    out.push_str(l);
                }
            }
            for (i, l) in h.new_lines.iter().enumerate() {
                if add.get(i).copied().unwrap_or(false) {
                    out.push_str(l);
                }
            }
            out
        }
        Some(Decision::Reject) | None => h.old_lines.concat(),
    }
}

/// The file's text with `decisions` applied; undecided hunks keep the old text.
pub fn apply(p: &Proposal, decisions: &HashMap<HunkId, Decision>) -> String {
    let old_lines = lines(&p.old);
    let mut out = String::with_capacity(p.old.len());
    let mut pos = 0;
    for h in &p.hunks {
        // Clamped: a proposal is only ever built from `old`, but no input may make this panic.
        let start = h.old_start.clamp(pos, old_lines.len());
        out.push_str(&old_lines[pos..start].concat());
        out.push_str(&hunk_output(h, decisions.get(&h.id)));
        pos = (h.old_start + h.old_lines.len()).clamp(start, old_lines.len());
    }
    out.push_str(&old_lines[pos..].concat());
    out
}

impl Proposal {
    /// The text with every hunk accepted.
    pub fn accepted_text(&self) -> String {
        let all: HashMap<_, _> = self
            .hunks
            .iter()
            .map(|h| (h.id, Decision::Accept))
            .collect();
        apply(self, &all)
    }
}

/// Unified diff of old -> new for display and `dockui fix` (3 lines of context).
pub fn unified(file: &std::path::Path, old: &str, new: &str) -> String {
    let name = crate::terminal_text::escape_controls(&file.display().to_string(), usize::MAX).0;
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::TextEdit;
    use proptest::prelude::*;

    fn fix(edits: Vec<(usize, usize, &str)>) -> Fix {
        Fix {
            id: "t".into(),
            level: FixLevel::Safe,
            description: "t".into(),
            file: "Dockerfile".into(),
            edits: edits
                .into_iter()
                .map(|(s, e, r)| TextEdit {
                    start: s,
                    end: e,
                    replacement: r.into(),
                })
                .collect(),
        }
    }

    const DF: &str =
        "FROM a\nRUN pip install x\nWORKDIR /w\nRUN apt-get install -y y\nCMD [\"x\"]\n";

    #[test]
    fn two_fixes_one_file_give_two_hunks_with_their_sources() {
        let a = fix(vec![(22, 22, " --no-cache-dir")]);
        let b = fix(vec![(40, 40, "DEBIAN_FRONTEND=noninteractive ")]);
        let p = propose(
            "Dockerfile".into(),
            DF,
            &[
                ("DL3042 Dockerfile:2".into(), &a),
                ("DU101 Dockerfile:3".into(), &b),
            ],
        );
        assert_eq!(p.hunks.len(), 2);
        assert_eq!(p.hunks[0].sources, ["DL3042 Dockerfile:2"]);
        assert_eq!(p.hunks[1].sources, ["DU101 Dockerfile:3"]);
        let mut d = HashMap::new();
        d.insert(p.hunks[1].id, Decision::Accept);
        d.insert(p.hunks[0].id, Decision::Reject);
        assert_eq!(
            apply(&p, &d),
            DF.replace("RUN apt-get", "RUN DEBIAN_FRONTEND=noninteractive apt-get")
        );
        assert_eq!(apply(&p, &HashMap::new()), DF);
    }

    #[test]
    fn overlapping_fix_is_deferred() {
        let a = fix(vec![(7, 24, "RUN pip install --no-cache-dir x")]);
        let b = fix(vec![(22, 22, " --no-cache-dir")]);
        let p = propose(
            "Dockerfile".into(),
            DF,
            &[("A".into(), &a), ("B".into(), &b)],
        );
        assert_eq!(p.deferred, ["B"]);
        assert_eq!(p.hunks.len(), 1);
    }

    #[test]
    fn hunk_ids_are_content_hashes() {
        let a = fix(vec![(22, 22, " --no-cache-dir")]);
        let p1 = propose("Dockerfile".into(), DF, &[("x".into(), &a)]);
        let p2 = propose("Dockerfile".into(), DF, &[("other label".into(), &a)]);
        assert_eq!(p1.hunks[0].id, p2.hunks[0].id);
        let p3 = propose("other/Dockerfile".into(), DF, &[("x".into(), &a)]);
        assert_ne!(p1.hunks[0].id, p3.hunks[0].id);
    }

    #[test]
    fn edit_and_line_mode() {
        let a = fix(vec![(
            7,
            24,
            "RUN pip install --no-cache-dir x\nRUN echo extra",
        )]);
        let p = propose("Dockerfile".into(), DF, &[("A".into(), &a)]);
        let h = &p.hunks[0];
        assert_eq!(h.old_lines, ["RUN pip install x\n"]);
        assert_eq!(
            h.new_lines,
            ["RUN pip install --no-cache-dir x\n", "RUN echo extra\n"]
        );
        let mut d = HashMap::new();
        d.insert(
            h.id,
            Decision::Edited("RUN pip install --no-cache-dir -q x\n".into()),
        );
        assert_eq!(
            apply(&p, &d),
            DF.replace("RUN pip install x", "RUN pip install --no-cache-dir -q x")
        );
        // Line mode: keep the old line, take only the added "echo" line.
        d.insert(h.id, Decision::Lines(vec![false, false, true]));
        assert_eq!(
            apply(&p, &d),
            DF.replace("RUN pip install x\n", "RUN pip install x\nRUN echo extra\n")
        );
    }

    #[test]
    fn a_file_without_final_newline() {
        let text = "FROM a\nRUN pip install x";
        let a = fix(vec![(22, 22, " --no-cache-dir")]);
        let p = propose("Dockerfile".into(), text, &[("A".into(), &a)]);
        let d: HashMap<_, _> = p.hunks.iter().map(|h| (h.id, Decision::Accept)).collect();
        assert_eq!(apply(&p, &d), "FROM a\nRUN pip install --no-cache-dir x");
    }

    proptest! {
        // Any subset of accepted hunks gives exactly: old text with those hunks' lines replaced.
        #[test]
        fn any_subset_of_hunks_applies_exactly(
            lines in proptest::collection::vec("[a-c]{0,3}", 1..12),
            edits in proptest::collection::vec((0usize..12, "[x-z]{0,2}"), 1..6),
            mask in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let old: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let starts: Vec<usize> = old.match_indices('\n').map(|(i, _)| i).collect();
            let mut fixes = Vec::new();
            for (line, rep) in &edits {
                let at = starts[line % starts.len()];
                fixes.push(fix(vec![(at, at, rep)]));
            }
            let labelled: Vec<(String, &Fix)> = fixes.iter().enumerate().map(|(i, f)| (i.to_string(), f)).collect();
            let p = propose("f".into(), &old, &labelled);
            let decisions: HashMap<_, _> = p.hunks.iter().zip(&mask).filter(|(_, m)| **m).map(|(h, _)| (h.id, Decision::Accept)).collect();
            let got = apply(&p, &decisions);
            // Expected: rebuild line by line from the hunks.
            let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
            let mut want = String::new();
            let mut pos = 0;
            for h in &p.hunks {
                want.push_str(&old_lines[pos..h.old_start].concat());
                if decisions.contains_key(&h.id) { want.push_str(&h.new_lines.concat()) } else { want.push_str(&h.old_lines.concat()) }
                pos = h.old_start + h.old_lines.len();
            }
            want.push_str(&old_lines[pos..].concat());
            prop_assert_eq!(&got, &want);
            // All accepted gives the full proposal; none gives the old text.
            let all: HashMap<_, _> = p.hunks.iter().map(|h| (h.id, Decision::Accept)).collect();
            let edits_all: Vec<_> = labelled.iter().filter(|(l, _)| !p.deferred.contains(l)).flat_map(|(_, f)| f.edits.clone()).collect();
            prop_assert_eq!(apply(&p, &all), super::super::apply_edits(&old, &edits_all));
            prop_assert_eq!(apply(&p, &HashMap::new()), old.clone());
        }
    }
}
