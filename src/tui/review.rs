//! The Proposed diff pane's state: the planner's proposals, the user's decisions per hunk (by content id),
//! undo/redo of decisions, line mode, and which alternative fix each finding uses.

use crate::analyze::{AnalyzeOptions, Finding, FixLevel};
use crate::engine::plan_job::{self, PlanRequest, Planned};
use crate::fix::plan::{Held, Step};
use crate::fix::proposal::{self, Decision, Hunk, HunkId, Proposal};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Default)]
pub struct Review {
    pub proposals: Vec<Proposal>,
    pub decisions: HashMap<HunkId, Decision>,
    /// Each entry is one user action (accepting a hunk also accepts the hunks it only makes sense with).
    undo: Vec<Vec<(HunkId, Option<Decision>)>>,
    redo: Vec<Vec<(HunkId, Option<Decision>)>>,
    /// Index into all hunks, in display order.
    pub cursor: usize,
    /// Some(i): line mode, cursor on the hunk's i-th changed line.
    pub line_cursor: Option<usize>,
    /// Finding key ("RULE file:line") -> index of the alternative fix the user chose.
    pub choice: HashMap<String, usize>,
    /// Proposals that come from outside the analyzer (a push's digest updates), as findings with a fix.
    pub extra: Vec<Finding>,
    /// How the planner analyses the project (the same options as the engine's analysis).
    pub opts: AnalyzeOptions,
    /// The planner's steps and the fixes it does not offer (with the reason), for the pane.
    pub steps: Vec<Step>,
    pub held: Vec<Held>,
    /// Why there is no plan (the project could not be analysed).
    pub error: Option<String>,
    /// Hunks that come from one fix and its follow-ups: deciding one decides them all.
    links: HashMap<HunkId, Vec<HunkId>>,
    /// The plan asked for and not folded in yet (its request's number): the pane says "planning fixes...".
    pub pending: Option<u64>,
    /// The number of the last request.
    seq: u64,
    /// Where the cursor goes once the pending plan lands.
    pub after: Option<AfterPlan>,
}

/// A cursor move that waits for the plan: the hunks it needs are not there yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterPlan {
    /// The first hunk of this finding ("RULE file:line"), after choosing another alternative.
    Source(String),
    /// The first hunk that cures a failed build (its rules), when the build waits for the user.
    Rules(Vec<String>),
}

pub fn finding_key(f: &Finding) -> String {
    format!("{} {}:{}", f.rule, f.file.display(), f.span.line)
}

impl Review {
    /// Plan again from the files on disk, here and now (front ends without an engine, tests). Decisions
    /// survive for hunks whose content is unchanged.
    pub fn refresh(&mut self, root: &Path) {
        let req = self.request();
        self.apply(plan_job::run(root, &req));
    }

    /// Ask for a new plan: the answer to any earlier request will be dropped.
    pub fn request(&mut self) -> PlanRequest {
        self.seq += 1;
        self.pending = Some(self.seq);
        PlanRequest {
            seq: self.seq,
            opts: self.opts.clone(),
            choice: self.choice.clone(),
            extra: self.extra.clone(),
        }
    }

    /// Fold a plan in. False, and nothing changes, when it answers another request than the last one (the
    /// project or the user's choices changed since it was asked for).
    pub fn apply(&mut self, planned: Planned) -> bool {
        if self.pending != Some(planned.seq) {
            return false;
        }
        self.pending = None;
        match planned.result {
            Ok(p) => {
                let p = *p;
                self.proposals = p.proposals;
                self.steps = p.steps;
                self.held = p.held;
                self.error = None;
            }
            Err(e) => {
                self.proposals.clear();
                self.steps.clear();
                self.held.clear();
                self.error = Some(e);
            }
        }
        self.links = links(&self.proposals, &self.steps);
        let live: Vec<HunkId> = self.hunks().map(|(_, h)| h.id).collect();
        self.decisions.retain(|id, _| live.contains(id));
        self.cursor = self.cursor.min(live.len().saturating_sub(1));
        self.line_cursor = None;
        true
    }

    /// Put the cursor on the first hunk whose source is a finding of one of `rules`; false if none.
    pub fn focus_rules(&mut self, rules: &[String]) -> bool {
        let first = self.hunks().position(|(_, h)| {
            h.sources
                .iter()
                .any(|s| rules.iter().any(|r| s.starts_with(&format!("{r} "))))
        });
        match first {
            Some(i) => {
                self.cursor = i;
                self.line_cursor = None;
                true
            }
            None => false,
        }
    }

    /// The alternative in use for a finding: the user's choice, else the one the planner took, else the first.
    pub fn alternative_of(&self, key: &str) -> usize {
        self.choice
            .get(key)
            .copied()
            .or_else(|| {
                self.steps
                    .iter()
                    .find(|s| s.label == key)
                    .map(|s| s.alternative)
            })
            .unwrap_or(0)
    }

    /// The step whose fix also makes `key`'s finding go ("RULE file:line"), when the finding needs no fix of
    /// its own in this plan (a torchvision mismatch ended by moving torch).
    pub fn resolved_by(&self, key: &str) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.resolves.iter().any(|r| r == key))
    }

    /// The other findings a hunk's fixes resolve, for its header.
    pub fn also_resolves(&self, h: &Hunk) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.steps.iter().filter(|s| h.sources.contains(&s.label)) {
            for r in &s.resolves {
                if !out.contains(&r.as_str()) && !h.sources.contains(r) {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Why the planner does not offer `key`'s fix ("RULE file:line"), for the pane to show with the finding.
    pub fn held_for(&self, key: &str) -> Option<&Held> {
        self.held.iter().find(|h| h.label == key)
    }

    /// Hunks linked with `id` (same fix group), `id` excluded.
    pub fn linked(&self, id: HunkId) -> &[HunkId] {
        self.links.get(&id).map(Vec::as_slice).unwrap_or(&[])
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

    fn set(&mut self, changes: Vec<(HunkId, Decision)>) {
        let mut entry = Vec::new();
        for (id, d) in changes {
            let prev = self.decisions.insert(id, d);
            entry.push((id, prev));
        }
        self.undo.push(entry);
        self.redo.clear();
    }

    /// Decide the hunk under the cursor. Accepting or rejecting also decides its linked hunks the same way
    /// (a torch pin and the base image it needs are one change); an edit or line mode stays on the one hunk.
    pub fn decide(&mut self, d: Decision) {
        if let Some((_, h)) = self.current() {
            let id = h.id;
            let mut changes = vec![(id, d.clone())];
            if matches!(d, Decision::Accept | Decision::Reject) {
                changes.extend(self.linked(id).iter().map(|l| (*l, d.clone())));
            }
            self.set(changes);
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
        self.set(vec![(id, Decision::Lines(flags))]);
    }

    pub fn toggle_line_mode(&mut self) {
        self.line_cursor = match self.line_cursor {
            Some(_) => None,
            None => self.current().map(|_| 0),
        };
    }

    pub fn undo(&mut self) -> bool {
        let Some(entry) = self.undo.pop() else {
            return false;
        };
        let back = self.swap(entry);
        self.redo.push(back);
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(entry) = self.redo.pop() else {
            return false;
        };
        let back = self.swap(entry);
        self.undo.push(back);
        true
    }

    /// Put back the decisions of `entry` (in reverse), returning what they replaced.
    fn swap(&mut self, entry: Vec<(HunkId, Option<Decision>)>) -> Vec<(HunkId, Option<Decision>)> {
        let mut back = Vec::new();
        for (id, d) in entry.into_iter().rev() {
            let now = match d {
                Some(d) => self.decisions.insert(id, d),
                None => self.decisions.remove(&id),
            };
            back.push((id, now));
        }
        back
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

/// Hunks that share a fix group (a fix and its follow-ups) or a source with such hunks, linked both ways.
fn links(proposals: &[Proposal], steps: &[Step]) -> HashMap<HunkId, Vec<HunkId>> {
    let group_of = |label: &str| steps.iter().find(|s| s.label == label).map(|s| s.group);
    let mut by_group: HashMap<usize, Vec<HunkId>> = HashMap::new();
    for h in proposals.iter().flat_map(|p| &p.hunks) {
        for g in h.sources.iter().filter_map(|s| group_of(s)) {
            let v = by_group.entry(g).or_default();
            if !v.contains(&h.id) {
                v.push(h.id);
            }
        }
    }
    let mut out: HashMap<HunkId, Vec<HunkId>> = HashMap::new();
    for ids in by_group.values().filter(|v| v.len() > 1) {
        for a in ids {
            let e = out.entry(*a).or_default();
            for b in ids {
                if b != a && !e.contains(b) {
                    e.push(*b);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::proposal::Origin;
    use std::path::PathBuf;

    fn step(label: &str, group: usize) -> Step {
        Step {
            label: label.into(),
            fix: "x".into(),
            alternative: 0,
            level: FixLevel::Suggestion,
            file: PathBuf::from("f"),
            description: String::new(),
            group,
            resolves: Vec::new(),
        }
    }

    /// Two files: torch pin (group 1) in requirements, its follow-up (group 1) in the Dockerfile, and an
    /// independent hygiene fix (group 2).
    fn review() -> Review {
        let o = |a, label: &str| -> Origin { (a, a, label.to_string(), FixLevel::Suggestion) };
        let req = proposal::from_texts(
            "requirements.txt".into(),
            "torch==2.3.1\n",
            "torch==2.4.0\n",
            &[o(0, "DU203 requirements.txt:1")],
        );
        let df = proposal::from_texts(
            "Dockerfile".into(),
            "FROM a\nRUN x\n\n\n\nRUN pip install y\n",
            "FROM b\nRUN x\n\n\n\nRUN pip install --no-cache-dir y\n",
            &[o(0, "DU201 Dockerfile:1"), o(5, "DL3042 Dockerfile:6")],
        );
        let steps = vec![
            step("DU203 requirements.txt:1", 1),
            step("DU201 Dockerfile:1", 1),
            step("DL3042 Dockerfile:6", 2),
        ];
        let proposals = vec![req, df];
        Review {
            links: links(&proposals, &steps),
            proposals,
            steps,
            ..Default::default()
        }
    }

    #[test]
    fn accepting_a_hunk_accepts_the_hunks_of_its_fix_group_and_undo_takes_them_back_together() {
        let mut r = review();
        assert_eq!(r.len(), 3);
        let ids: Vec<HunkId> = r.hunks().map(|(_, h)| h.id).collect();
        assert_eq!(r.linked(ids[0]), &[ids[1]]);
        assert!(r.linked(ids[2]).is_empty());
        r.decide(Decision::Accept);
        assert_eq!(r.decision(ids[0]), Some(&Decision::Accept));
        assert_eq!(r.decision(ids[1]), Some(&Decision::Accept));
        assert_eq!(
            r.decision(ids[2]),
            None,
            "an independent fix stays undecided"
        );
        assert!(r.undo());
        assert!(r.decisions.is_empty());
        assert!(r.redo());
        assert_eq!(r.decisions.len(), 2);
        // Rejecting the follow-up rejects the pin too; an edit stays on its own hunk.
        r.cursor = 1;
        r.decide(Decision::Reject);
        assert_eq!(r.decision(ids[0]), Some(&Decision::Reject));
        r.cursor = 1;
        r.decide(Decision::Edited("FROM c\n".into()));
        assert_eq!(r.decision(ids[0]), Some(&Decision::Reject));
        let writes = r.writes();
        assert_eq!(writes.len(), 1);
        assert!(writes[0].1.starts_with("FROM c\n"));
    }

    #[test]
    fn the_alternative_in_use_is_the_users_then_the_planners() {
        let mut r = review();
        let mut s = step("DU201 requirements.txt:1", 3);
        s.alternative = 1;
        r.steps.push(s);
        assert_eq!(r.alternative_of("DU201 requirements.txt:1"), 1);
        assert_eq!(r.alternative_of("DU999 x:1"), 0);
        r.choice.insert("DU201 requirements.txt:1".into(), 0);
        assert_eq!(r.alternative_of("DU201 requirements.txt:1"), 0);
    }
}
