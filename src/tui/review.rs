//! The Proposed diff pane's state: proposals, the user's decisions per hunk (by content id), undo/redo of
//! decisions, line mode, and which alternative fix each finding uses.

use crate::analyze::{Finding, FixLevel};
use crate::fix::proposal::{self, Decision, Hunk, HunkId, Proposal};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default)]
pub struct Review {
    pub proposals: Vec<Proposal>,
    pub decisions: HashMap<HunkId, Decision>,
    undo: Vec<(HunkId, Option<Decision>)>,
    redo: Vec<(HunkId, Option<Decision>)>,
    /// Index into all hunks, in display order.
    pub cursor: usize,
    /// Some(i): line mode, cursor on the hunk's i-th changed line.
    pub line_cursor: Option<usize>,
    /// Finding key ("RULE file:line") -> index of the chosen alternative fix.
    pub choice: HashMap<String, usize>,
    /// Proposals that come from outside the analyzer (a push's digest updates), as findings with a fix.
    pub extra: Vec<Finding>,
}

pub fn finding_key(f: &Finding) -> String {
    format!("{} {}:{}", f.rule, f.file.display(), f.span.line)
}

impl Review {
    /// Recompute proposals from findings. Decisions survive for hunks whose content is unchanged.
    pub fn refresh(&mut self, root: &Path, findings: &[Finding]) {
        let choice = |f: &Finding| self.choice.get(&finding_key(f)).copied().unwrap_or(0);
        self.proposals = proposal::proposals_for(root, findings, &choice, &|_, _| true);
        let live: Vec<HunkId> = self.hunks().map(|(_, h)| h.id).collect();
        self.decisions.retain(|id, _| live.contains(id));
        self.cursor = self.cursor.min(live.len().saturating_sub(1));
        self.line_cursor = None;
    }

    pub fn hunks(&self) -> impl Iterator<Item = (&Proposal, &Hunk)> {
        self.proposals
            .iter()
            .flat_map(|p| p.hunks.iter().map(move |h| (p, h)))
    }

    pub fn len(&self) -> usize {
        self.hunks().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn current(&self) -> Option<(&Proposal, &Hunk)> {
        self.hunks().nth(self.cursor)
    }

    pub fn move_by(&mut self, delta: isize) {
        match (
            self.line_cursor,
            self.current().map(|(_, h)| h.changed_lines()),
        ) {
            (Some(i), Some(n)) => {
                self.line_cursor = Some(i.saturating_add_signed(delta).min(n.saturating_sub(1)))
            }
            _ => {
                self.cursor = self
                    .cursor
                    .saturating_add_signed(delta)
                    .min(self.len().saturating_sub(1))
            }
        }
    }

    /// Jump to the first hunk that comes from `key`'s finding.
    pub fn focus_source(&mut self, key: &str) -> bool {
        let found = self
            .hunks()
            .position(|(_, h)| h.sources.iter().any(|s| s == key));
        match found {
            Some(i) => {
                self.cursor = i;
                self.line_cursor = None;
                true
            }
            None => false,
        }
    }

    fn set(&mut self, id: HunkId, d: Option<Decision>) {
        let prev = match d {
            Some(d) => self.decisions.insert(id, d),
            None => self.decisions.remove(&id),
        };
        self.undo.push((id, prev));
        self.redo.clear();
    }

    pub fn decide(&mut self, d: Decision) {
        if let Some((_, h)) = self.current() {
            let id = h.id;
            self.set(id, Some(d));
            // Move on to the next undecided hunk, as `git add -p` does.
            if self.line_cursor.is_none() && self.cursor + 1 < self.len() {
                self.cursor += 1;
            }
        }
    }

    /// Line mode: toggle the change on the cursor line (starting from "take nothing").
    pub fn toggle_line(&mut self) {
        let (Some(i), Some((_, h))) = (self.line_cursor, self.current()) else {
            return;
        };
        let (id, n) = (h.id, h.changed_lines());
        let mut flags = match self.decisions.get(&id) {
            Some(Decision::Lines(f)) => f.clone(),
            Some(Decision::Accept) => vec![true; n],
            _ => vec![false; n],
        };
        flags.resize(n, false);
        flags[i] = !flags[i];
        self.set(id, Some(Decision::Lines(flags)));
    }

    pub fn toggle_line_mode(&mut self) {
        self.line_cursor = match self.line_cursor {
            Some(_) => None,
            None => self.current().map(|_| 0),
        };
    }

    pub fn undo(&mut self) -> bool {
        let Some((id, prev)) = self.undo.pop() else {
            return false;
        };
        let now = match prev {
            Some(d) => self.decisions.insert(id, d),
            None => self.decisions.remove(&id),
        };
        self.redo.push((id, now));
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some((id, next)) = self.redo.pop() else {
            return false;
        };
        let now = match next {
            Some(d) => self.decisions.insert(id, d),
            None => self.decisions.remove(&id),
        };
        self.undo.push((id, now));
        true
    }

    /// Files to write: (file, new text, the text the proposal was made from). Only files with a decided hunk
    /// that changes something.
    pub fn writes(&self) -> Vec<(std::path::PathBuf, String, String)> {
        self.proposals
            .iter()
            .filter(|p| {
                p.hunks
                    .iter()
                    .any(|h| matches!(self.decisions.get(&h.id), Some(d) if *d != Decision::Reject))
            })
            .filter_map(|p| {
                let new = proposal::apply(p, &self.decisions);
                (new != p.old).then(|| (p.file.clone(), new, p.old.clone()))
            })
            .collect()
    }

    pub fn decision(&self, id: HunkId) -> Option<&Decision> {
        self.decisions.get(&id)
    }

    pub fn level_of_current(&self) -> Option<FixLevel> {
        self.current().map(|(_, h)| h.level)
    }
}
