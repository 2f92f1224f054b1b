//! The one fix planner behind the TUI's Proposed diff, `dockui fix` (and `--dry-run`) and the build's retry
//! loop.
//!
//! It starts from the files on disk and applies candidate fixes to an in-memory copy of the project, analyses
//! that copy again, and keeps a fix only when the result has no error or warning that was not there before
//! and fewer findings overall. A fix that adds a problem may still be kept together with the follow-up fixes
//! that remove it again (torch moved to the base image's version together with torchvision); on its own it is
//! never offered. Among the fixes that help, the one leaving the fewest errors, then warnings, then other
//! findings wins; the planner repeats until no fix helps (a fixed point). Two alternatives of one finding
//! (move the base image vs move the torch pin) can therefore never both be in a plan.
//!
//! The proposals are the diffs from the disk text to the planned text: accepting every hunk gives exactly the
//! planned project, and a dry run shows exactly what a real run writes. Every edit is parsed again
//! (`validate::breakage`) before the planner takes it.

use super::proposal::{self, Origin, Proposal};
use super::validate;
use crate::analyze::{
    self, Analysis, AnalyzeError, AnalyzeOptions, Finding, Fix, FixLevel, Severity, TextEdit,
};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// A file's text, shared between the states that did not change it: a candidate's state copies only the
/// file it edits, never the whole project (nor, for N candidates, N copies of it).
type Text = Arc<String>;

/// Rounds of "take the best fix" before the planner stops; each round removes at least one finding.
const MAX_ROUNDS: usize = 200;
/// Follow-up fixes that may complete one fix (torch -> torchvision -> torchaudio).
const MAX_FOLLOW_UPS: usize = 3;
/// Analyses one plan may run, and its wall time: a pathological project (huge files, hundreds of fixes) stops
/// planning with what was found so far, and says so, instead of freezing the TUI.
const MAX_ANALYSES: usize = 3000;
const MAX_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// More candidates than this in a round whose safe fixes do not help all together: the safe ones are tried in
/// halves (a batch is still kept only if it helps) before any is tried one by one, so N independent fixes with
/// one bad apple cost O(log N) analyses per round rather than N.
const ONE_BY_ONE: usize = 16;

/// What the plan may use.
pub struct PlanOptions<'a> {
    /// Which fixes may be applied at all (rule and level filters of `fix` and the retry loop).
    pub allow: &'a dyn Fn(&Finding, &Fix) -> bool,
    /// The user's alternative per finding ("RULE file:line", line as on disk); other findings let the planner
    /// pick the alternative that leaves the project with the fewest problems.
    pub choice: &'a HashMap<String, usize>,
    /// Findings from outside the analyzer whose first fix joins the plan first (a push's digest updates).
    pub extra: &'a [Finding],
}

/// A fix the plan applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// "RULE file:line", the line in the file as it is on disk.
    pub label: String,
    pub fix: String,
    /// Index of the fix among its finding's alternatives.
    pub alternative: usize,
    pub level: FixLevel,
    pub file: PathBuf,
    pub description: String,
    /// Steps with the same group only make sense together (a fix and its follow-ups).
    pub group: usize,
    /// Other findings on disk ("RULE file:line") the plan no longer has once this fix is taken: torch moved to
    /// the base's version also ends the torchvision mismatch, which then needs no fix of its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolves: Vec<String>,
}

/// A fix the plan does not offer, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub label: String,
    pub fix: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Disk text -> planned text, per file, in the order the plan first touched them.
    pub proposals: Vec<Proposal>,
    pub steps: Vec<Step>,
    pub held: Vec<Held>,
    /// The analysis of the project on disk, and of the planned project.
    pub before: Analysis,
    pub after: Analysis,
    /// How many times the project was analysed to make this plan.
    pub analyses: usize,
}

impl Plan {
    /// The planned text of every changed file.
    pub fn planned(&self) -> Vec<(PathBuf, String)> {
        self.proposals
            .iter()
            .map(|p| (p.file.clone(), p.accepted_text()))
            .collect()
    }
}

/// "RULE file:line" for a finding at a 1-based line.
pub fn label(f: &Finding, line: usize) -> String {
    format!("{} {}:{}", f.rule, f.file.display(), line)
}

impl<'a> Planner<'a> {
    /// A planner that has analysed nothing yet.
    fn new(root: &'a Path, opts: &'a AnalyzeOptions, po: &'a PlanOptions<'a>) -> Planner<'a> {
        Planner {
            root,
            opts,
            po,
            originals: HashMap::new(),
            order: Vec::new(),
            analyses: 0,
            on_disk: HashSet::new(),
            on_disk_labels: HashSet::new(),
            started: std::time::Instant::now(),
            origins: HashMap::new(),
            steps: Vec::new(),
            held: Vec::new(),
            groups: 0,
        }
    }
}

/// Plan the fixes for the project at `root`.
pub fn plan(root: &Path, opts: &AnalyzeOptions, po: &PlanOptions) -> Result<Plan, AnalyzeError> {
    let mut p = Planner::new(root, opts, po);
    let before = p.analyse(&HashMap::new())?;
    p.on_disk = before
        .findings
        .iter()
        .map(|f| (label(f, f.span.line), f.message.clone()))
        .collect();
    p.on_disk_labels = p.on_disk.iter().map(|(l, _)| l.clone()).collect();
    let mut st = State {
        texts: HashMap::new(),
        analysis: before.clone(),
    };
    // Fixes from outside the analyzer first, on the pristine files their offsets refer to.
    for f in po.extra {
        let Some(fix) = f.fixes.first() else { continue };
        let cand = Cand {
            label: label(f, f.span.line),
            fix: fix.clone(),
            alternative: 0,
        };
        if !(po.allow)(f, fix) {
            continue;
        }
        match p.evaluate(&st, &cand, false)? {
            Ok(good) => st = p.take(st, good),
            Err(reason) => p.hold(&cand, reason),
        }
    }
    // The user's chosen alternatives next, so no other fix makes their finding disappear first.
    let mut done: Vec<String> = Vec::new();
    loop {
        let forced = p.candidates(&st, true)?;
        let Some(cand) = forced.into_iter().find(|c| !done.contains(&c.label)) else {
            break;
        };
        done.push(cand.label.clone());
        match p.evaluate(&st, &cand, false)? {
            Ok(good) => st = p.take(st, good),
            Err(reason) => p.hold(&cand, reason),
        }
    }
    // Then the best fix, again and again, until none helps.
    let mut last_reasons: Vec<(Cand, String)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        if p.out_of_budget() {
            break;
        }
        let cands = p.candidates(&st, false)?;
        if cands.is_empty() {
            last_reasons.clear();
            break;
        }
        // All safe fixes at once when together they only help (the common case: hygiene fixes).
        if let Some(good) = p.safe_batch(&st, &cands)? {
            st = p.take(st, good);
            continue;
        }
        if cands.len() > ONE_BY_ONE
            && let Some(good) = p.bisect_safe(&st, &cands)?
        {
            st = p.take(st, good);
            continue;
        }
        last_reasons.clear();
        let mut best: Option<(Rank, Good)> = None;
        let mut good_safe: Vec<Cand> = Vec::new();
        for (i, c) in cands.iter().enumerate() {
            match p.evaluate(&st, c, true)? {
                Ok(good) => {
                    if good.cands.len() == 1 && c.fix.level == FixLevel::Safe {
                        good_safe.push(c.clone());
                    }
                    let rank = Rank::of(&good, i);
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        best = Some((rank, good));
                    }
                }
                Err(reason) => last_reasons.push((c.clone(), reason)),
            }
            if p.out_of_budget() {
                break;
            }
        }
        // The safe fixes that help one by one, together, when they still help together.
        if good_safe.len() > 1
            && let Some(good) = p.batch(&st, &good_safe)?
        {
            st = p.take(st, good);
            continue;
        }
        match best {
            Some((_, good)) => st = p.take(st, good),
            None => break,
        }
    }
    for (c, reason) in last_reasons {
        p.hold(&c, reason);
    }
    if p.out_of_budget() {
        p.held.push(Held {
            label: String::new(),
            fix: String::new(),
            reason: format!(
                "planning stopped after {} analyses in {:.1}s; the fixes shown are consistent, run fix again for the rest",
                p.analyses,
                p.started.elapsed().as_secs_f64()
            ),
        });
    }
    p.settle_resolves(&st);
    let proposals = p
        .order
        .iter()
        .filter_map(|file| {
            let old = p.originals.get(file)?;
            let new = st.texts.get(file)?;
            (old != new).then(|| {
                let origins = p.origins.get(file).map(Vec::as_slice).unwrap_or(&[]);
                proposal::from_texts(file.clone(), old, new, origins)
            })
        })
        .collect();
    Ok(Plan {
        proposals,
        steps: p.steps,
        held: p.held,
        before,
        after: st.analysis,
        analyses: p.analyses,
    })
}

#[derive(Clone)]
struct State {
    /// Current text of every file the plan touched (the in-memory copy); other files are read from disk.
    texts: HashMap<PathBuf, Text>,
    analysis: Analysis,
}

#[derive(Debug, Clone)]
struct Cand {
    label: String,
    fix: Fix,
    alternative: usize,
}

/// A fix (with follow-ups) that helps, and the state after it.
struct Good {
    cands: Vec<Cand>,
    state: State,
    /// Texts each candidate was applied to, for the hunks' sources (shared: one per file in a batch).
    applied_to: Vec<Text>,
    /// A fix with its follow-ups (one group), not independent fixes taken together.
    bundle: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    score: (usize, usize, usize),
    level: FixLevel,
    size: usize,
    order: usize,
}

impl Rank {
    fn of(g: &Good, order: usize) -> Rank {
        Rank {
            score: score(&g.state.analysis),
            level: g
                .cands
                .iter()
                .map(|c| c.fix.level)
                .max()
                .unwrap_or(FixLevel::Safe),
            size: g
                .cands
                .iter()
                .flat_map(|c| &c.fix.edits)
                .map(|e| e.end - e.start + e.replacement.len())
                .sum(),
            order,
        }
    }
}

/// (errors, warnings, the rest): lower is better, compared in that order.
fn score(a: &Analysis) -> (usize, usize, usize) {
    let e = a.count(Severity::Error);
    let w = a.count(Severity::Warning);
    (e, w, a.findings.len() - e - w)
}

fn is_ew(f: &Finding) -> bool {
    matches!(f.severity, Severity::Error | Severity::Warning)
}

/// Errors and warnings of `after` that `before` does not have (same rule, file and severity; lines move).
fn new_problems<'a>(before: &Analysis, after: &'a Analysis) -> Vec<&'a Finding> {
    let mut known: HashMap<(String, &Path, Severity), usize> = HashMap::new();
    for f in before.findings.iter().filter(|f| is_ew(f)) {
        *known
            .entry((f.rule.to_string(), f.file.as_path(), f.severity))
            .or_default() += 1;
    }
    after
        .findings
        .iter()
        .filter(|f| is_ew(f))
        .filter(
            |f| match known.get_mut(&(f.rule.to_string(), f.file.as_path(), f.severity)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            },
        )
        .collect()
}

fn helps(base: &Analysis, after: &Analysis) -> bool {
    new_problems(base, after).is_empty() && score(after) < score(base)
}

fn describe(fs: &[&Finding]) -> String {
    let parts: Vec<String> = fs
        .iter()
        .take(3)
        .map(|f| {
            format!(
                "{} {} at {}:{} ({})",
                f.rule,
                f.severity.as_str(),
                f.file.display(),
                f.span.line,
                f.message
            )
        })
        .collect();
    format!("it would add {}", parts.join("; "))
}

struct Planner<'a> {
    root: &'a Path,
    opts: &'a AnalyzeOptions,
    po: &'a PlanOptions<'a>,
    /// Disk text of every file the plan touched.
    originals: HashMap<PathBuf, Text>,
    order: Vec<PathBuf>,
    analyses: usize,
    /// (label, message) of the findings on disk: a finding that only appears after earlier fixes is a
    /// follow-on, labelled as such, and the user's choices (made on the disk findings) do not apply to it.
    on_disk: HashSet<(String, String)>,
    /// The labels of `on_disk`.
    on_disk_labels: HashSet<String>,
    started: std::time::Instant,
    origins: HashMap<PathBuf, Vec<Origin>>,
    steps: Vec<Step>,
    held: Vec<Held>,
    groups: usize,
}

impl Planner<'_> {
    fn out_of_budget(&self) -> bool {
        self.analyses >= MAX_ANALYSES || self.started.elapsed() >= MAX_TIME
    }

    fn analyse(&mut self, texts: &HashMap<PathBuf, Text>) -> Result<Analysis, AnalyzeError> {
        self.analyses += 1;
        // The analyzer's overlay owns its texts; this copy lives only as long as the analysis.
        let overlay: HashMap<PathBuf, String> = texts
            .iter()
            .map(|(f, t)| (f.clone(), String::clone(t)))
            .collect();
        analyze::analyze_project_with(self.root, self.opts, &overlay)
    }

    fn original(&mut self, file: &Path) -> Result<Text, String> {
        if let Some(t) = self.originals.get(file) {
            return Ok(t.clone());
        }
        if file.is_absolute()
            || file
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
        {
            return Err(format!("{} is outside the project", file.display()));
        }
        let text: Text = crate::analyze::project_files::read_text(self.root, file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .into();
        self.originals.insert(file.to_path_buf(), text.clone());
        Ok(text)
    }

    fn current(&mut self, st: &State, file: &Path) -> Result<Text, String> {
        match st.texts.get(file) {
            Some(t) => Ok(t.clone()),
            None => self.original(file),
        }
    }

    /// A finding's label at its disk line, marked " (follow-on)" when the disk version does not have it.
    fn label_of(&self, f: &Finding, disk_line: usize) -> (String, bool) {
        let l = label(f, disk_line);
        if self.on_disk.contains(&(l.clone(), f.message.clone())) {
            (l, false)
        } else {
            (format!("{l} (follow-on)"), true)
        }
    }

    /// The 1-based line on disk of a 1-based line of `file` as it is in `st`.
    fn disk_line(&self, st: &State, file: &Path, line: usize) -> usize {
        match (self.originals.get(file), st.texts.get(file)) {
            (Some(old), Some(cur)) if old != cur => map_line(old, cur, line.saturating_sub(1)) + 1,
            _ => line,
        }
    }

    /// `disk_line` for many lines of one state: one diff per changed file.
    fn disk_lines(&self, st: &State) -> HashMap<PathBuf, Vec<usize>> {
        st.texts
            .iter()
            .filter_map(|(file, cur)| {
                let old = self.originals.get(file)?;
                (old != cur).then(|| (file.clone(), map_lines(old, cur)))
            })
            .collect()
    }

    /// Fixes offered by the findings of `st`. `forced_only`: only the user's chosen alternatives.
    fn candidates(&mut self, st: &State, forced_only: bool) -> Result<Vec<Cand>, AnalyzeError> {
        let mut out = Vec::new();
        let maps = self.disk_lines(st);
        for f in &st.analysis.findings {
            if f.fixes.is_empty() {
                continue;
            }
            let line = match maps.get(&f.file) {
                Some(m) => m
                    .get(f.span.line.saturating_sub(1))
                    .map_or(f.span.line, |l| l + 1),
                None => f.span.line,
            };
            let (label, follow_on) = self.label_of(f, line);
            let chosen = self
                .po
                .choice
                .get(&label)
                .copied()
                .filter(|&i| i < f.fixes.len() && !follow_on);
            let alternatives: Vec<usize> = match chosen {
                Some(i) => vec![i],
                None if forced_only => continue,
                None => (0..f.fixes.len()).collect(),
            };
            for i in alternatives {
                let fix = &f.fixes[i];
                if (self.po.allow)(f, fix) {
                    out.push(Cand {
                        label: label.clone(),
                        fix: fix.clone(),
                        alternative: i,
                    });
                }
            }
        }
        Ok(out)
    }

    /// The texts after applying `fix` to `st`, or why it cannot be applied.
    fn apply(&mut self, st: &State, fix: &Fix) -> Result<(HashMap<PathBuf, Text>, Text), String> {
        let cur = self.current(st, &fix.file)?;
        let mut edits: Vec<&TextEdit> = fix.edits.iter().collect();
        edits.sort_by_key(|e| (e.start, e.end));
        let mut pos = 0;
        for e in &edits {
            if e.start < pos
                || e.end < e.start
                || e.end > cur.len()
                || !cur.is_char_boundary(e.start)
                || !cur.is_char_boundary(e.end)
            {
                return Err(format!(
                    "its edits do not fit {} as it is now",
                    fix.file.display()
                ));
            }
            pos = e.end;
        }
        let adapted: Vec<TextEdit> = fix
            .edits
            .iter()
            .map(|e| TextEdit {
                start: e.start,
                end: e.end,
                replacement: match_line_ends(&cur, &e.replacement).into_owned(),
            })
            .collect();
        let new = analyze::apply_edits(&cur, &adapted);
        if new == *cur {
            return Err("it changes nothing".into());
        }
        if let Some(why) = validate::breakage(&fix.file, &cur, &new) {
            return Err(format!(
                "{} would no longer parse after it ({why})",
                fix.file.display()
            ));
        }
        let mut texts = st.texts.clone();
        texts.insert(fix.file.clone(), Arc::new(new));
        Ok((texts, cur))
    }

    /// Whether `cand` (with follow-ups if needed) helps from `st`: Ok(the result) or Err(why not). Without
    /// `must_improve` (the user's own choice, a push's digest pin) adding no error or warning is enough.
    fn evaluate(
        &mut self,
        st: &State,
        cand: &Cand,
        must_improve: bool,
    ) -> Result<Result<Good, String>, AnalyzeError> {
        let (texts, applied_to) = match self.apply(st, &cand.fix) {
            Ok(t) => t,
            Err(why) => return Ok(Err(why)),
        };
        let analysis = self.analyse(&texts)?;
        let next = State { texts, analysis };
        let good = Good {
            cands: vec![cand.clone()],
            state: next,
            applied_to: vec![applied_to],
            bundle: true,
        };
        if helps(&st.analysis, &good.state.analysis)
            || (!must_improve && new_problems(&st.analysis, &good.state.analysis).is_empty())
        {
            return Ok(Ok(good));
        }
        let added = new_problems(&st.analysis, &good.state.analysis);
        // Nothing added but nothing gone either: the fix may have cured one of several commands its finding
        // covers (two `pip install` in one RUN), and the same finding, still at its place, has the next fix.
        let reason = if added.is_empty() {
            "the analysis finds no fewer problems after it".to_string()
        } else {
            describe(&added)
        };
        let focus = cand.label.split(' ').next().unwrap_or_default().to_string();
        match self.complete(st, good, MAX_FOLLOW_UPS, &(focus, cand.fix.file.clone()))? {
            Some(g) => Ok(Ok(g)),
            None => Ok(Err(reason)),
        }
    }

    /// Follow-up fixes for the problems `g` adds over `base`, until none is left; the best completion.
    /// Also tries the fixes of findings of rule `focus.0` in file `focus.1` that changed (moved or reworded)
    /// since `base`: what is left of a finding the first fix cured only in part.
    fn complete(
        &mut self,
        base: &State,
        g: Good,
        depth: usize,
        focus: &(String, PathBuf),
    ) -> Result<Option<Good>, AnalyzeError> {
        if depth == 0 || self.out_of_budget() {
            return Ok(None);
        }
        let added: Vec<Finding> = new_problems(&base.analysis, &g.state.analysis)
            .into_iter()
            .cloned()
            .collect();
        let key = |st: &State, f: &Finding| {
            (
                label(f, self.disk_line(st, &f.file, f.span.line)),
                f.message.clone(),
            )
        };
        let before: HashSet<(String, String)> = base
            .analysis
            .findings
            .iter()
            .map(|f| key(base, f))
            .collect();
        let again: Vec<Finding> = g
            .state
            .analysis
            .findings
            .iter()
            .filter(|f| {
                !f.fixes.is_empty()
                    && f.rule == focus.0
                    && f.file == focus.1
                    && !before.contains(&key(&g.state, f))
            })
            .cloned()
            .collect();
        let mut best: Option<(Rank, Good)> = None;
        let mut order = 0;
        for f in added.iter().chain(&again) {
            for (i, fix) in f.fixes.iter().enumerate() {
                if !(self.po.allow)(f, fix) {
                    continue;
                }
                let cand = Cand {
                    label: self
                        .label_of(f, self.disk_line(&g.state, &f.file, f.span.line))
                        .0,
                    fix: fix.clone(),
                    alternative: i,
                };
                let Ok((texts, applied_to)) = self.apply(&g.state, fix) else {
                    continue;
                };
                let analysis = self.analyse(&texts)?;
                let mut next = Good {
                    cands: g.cands.clone(),
                    state: State { texts, analysis },
                    applied_to: g.applied_to.clone(),
                    bundle: true,
                };
                next.cands.push(cand);
                next.applied_to.push(applied_to);
                let done = if helps(&base.analysis, &next.state.analysis) {
                    Some(next)
                } else if new_problems(&base.analysis, &next.state.analysis).len() <= added.len() {
                    self.complete(base, next, depth - 1, focus)?
                } else {
                    None
                };
                if let Some(done) = done {
                    order += 1;
                    let rank = Rank::of(&done, order);
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        best = Some((rank, done));
                    }
                }
            }
        }
        Ok(best.map(|(_, g)| g))
    }

    /// The safe fixes of `cands`, the first of each finding.
    fn safe_of(cands: &[Cand]) -> Vec<Cand> {
        let mut seen = HashSet::new();
        cands
            .iter()
            .filter(|c| c.fix.level == FixLevel::Safe)
            .filter(|c| seen.insert(c.label.as_str()))
            .cloned()
            .collect()
    }

    /// The safe fixes of `cands` (one per finding, edits not overlapping) applied together, if that helps.
    fn safe_batch(&mut self, st: &State, cands: &[Cand]) -> Result<Option<Good>, AnalyzeError> {
        let safe = Self::safe_of(cands);
        if safe.is_empty() {
            return Ok(None);
        }
        self.batch(st, &safe)
    }

    /// The safe fixes of `cands` in halves, then quarters...: the first part that helps applied together.
    fn bisect_safe(&mut self, st: &State, cands: &[Cand]) -> Result<Option<Good>, AnalyzeError> {
        let safe = Self::safe_of(cands);
        self.bisect(st, &safe)
    }

    fn bisect(&mut self, st: &State, cands: &[Cand]) -> Result<Option<Good>, AnalyzeError> {
        if cands.len() < 2 || self.out_of_budget() {
            return Ok(None);
        }
        let (a, b) = cands.split_at(cands.len() / 2);
        for half in [a, b] {
            if let Some(g) = self.batch(st, half)? {
                return Ok(Some(g));
            }
        }
        for half in [a, b] {
            if let Some(g) = self.bisect(st, half)? {
                return Ok(Some(g));
            }
        }
        Ok(None)
    }

    /// `cands` applied together (skipping any whose edits overlap an earlier one's), if the result helps.
    fn batch(&mut self, st: &State, cands: &[Cand]) -> Result<Option<Good>, AnalyzeError> {
        let mut taken: Vec<(&Path, usize, usize)> = Vec::new();
        let mut chosen: Vec<Cand> = Vec::new();
        for c in cands {
            let overlaps = c.fix.edits.iter().any(|e| {
                taken.iter().any(|&(f, s, t)| {
                    f == c.fix.file && ((e.start < t && s < e.end) || e.start == s || e.end == t)
                })
            });
            if !overlaps {
                taken.extend(
                    c.fix
                        .edits
                        .iter()
                        .map(|e| (c.fix.file.as_path(), e.start, e.end)),
                );
                chosen.push(c.clone());
            }
        }
        // Edits of all chosen fixes per file, applied at once on the current texts (offsets refer to them).
        let mut texts = st.texts.clone();
        let mut applied_to = Vec::new();
        let mut per_file: HashMap<PathBuf, Text> = HashMap::new();
        for c in &chosen {
            let cur = match per_file.get(&c.fix.file) {
                Some(t) => t.clone(),
                None => match self.current(st, &c.fix.file) {
                    Ok(t) => t,
                    Err(_) => return Ok(None),
                },
            };
            per_file.entry(c.fix.file.clone()).or_insert(cur.clone());
            applied_to.push(cur);
        }
        for (file, cur) in &per_file {
            let edits: Vec<TextEdit> = chosen
                .iter()
                .filter(|c| &c.fix.file == file)
                .flat_map(|c| c.fix.edits.iter())
                .map(|e| TextEdit {
                    start: e.start,
                    end: e.end,
                    replacement: match_line_ends(cur, &e.replacement).into_owned(),
                })
                .collect();
            if edits.iter().any(|e| {
                e.end > cur.len() || !cur.is_char_boundary(e.start) || !cur.is_char_boundary(e.end)
            }) {
                return Ok(None);
            }
            let new = analyze::apply_edits(cur, &edits);
            if validate::breakage(file, cur, &new).is_some() {
                return Ok(None);
            }
            texts.insert(file.clone(), Arc::new(new));
        }
        let analysis = self.analyse(&texts)?;
        if !helps(&st.analysis, &analysis) {
            return Ok(None);
        }
        Ok(Some(Good {
            cands: chosen,
            state: State { texts, analysis },
            applied_to,
            bundle: false,
        }))
    }

    /// The findings of `st` that are on disk, by label ("RULE file:line", the line on disk), with their file.
    fn disk_labels(&self, st: &State) -> HashMap<String, PathBuf> {
        let maps = self.disk_lines(st);
        st.analysis
            .findings
            .iter()
            .map(|f| {
                let line = match maps.get(&f.file) {
                    Some(m) => m
                        .get(f.span.line.saturating_sub(1))
                        .map_or(f.span.line, |l| l + 1),
                    None => f.span.line,
                };
                (label(f, line), f.file.clone())
            })
            .filter(|(l, _)| self.on_disk_labels.contains(l))
            .collect()
    }

    /// The findings on disk that `g` makes disappear from `st` (its own excepted), each with the indexes of
    /// the steps of `g` it goes with: a fix and its follow-ups are one change, named by its first step (the
    /// fix the user sees); in a batch of independent fixes, the ones in the finding's file (all when none is).
    fn resolved_by(&self, st: &State, g: &Good) -> Vec<(String, Vec<usize>)> {
        let own: HashSet<&str> = g.cands.iter().map(|c| c.label.as_str()).collect();
        let after = self.disk_labels(&g.state);
        let mut gone: Vec<(String, PathBuf)> = self
            .disk_labels(st)
            .into_iter()
            .filter(|(l, _)| !after.contains_key(l) && !own.contains(l.as_str()))
            .collect();
        gone.sort();
        gone.into_iter()
            .map(|(l, file)| {
                let all: Vec<usize> = (0..g.cands.len()).collect();
                let by = if g.bundle {
                    vec![0]
                } else {
                    let same: Vec<usize> = all
                        .iter()
                        .copied()
                        .filter(|&i| g.cands[i].fix.file == file)
                        .collect();
                    if same.is_empty() { all } else { same }
                };
                (l, by)
            })
            .collect()
    }

    /// A finding still in the planned project is resolved by no step (a later fix brought it back); one that
    /// went, came back and went again goes with the group that removed it last.
    fn settle_resolves(&mut self, end: &State) {
        let left = self.disk_labels(end);
        let mut last_group: HashMap<String, usize> = HashMap::new();
        for step in &self.steps {
            for l in &step.resolves {
                last_group.insert(l.clone(), step.group);
            }
        }
        for step in &mut self.steps {
            step.resolves
                .retain(|l| !left.contains_key(l) && last_group.get(l) == Some(&step.group));
        }
    }

    /// Record `g`'s fixes as steps (with their disk-line origins for the hunks) and move to its state.
    fn take(&mut self, st: State, g: Good) -> State {
        let resolved = self.resolved_by(&st, &g);
        self.groups += 1;
        // One line index (and one diff to the disk text) per text the fixes were applied to, not per edit: a
        // batch of N fixes on one file shares one text.
        let mut index: Option<(Text, LineIndex)> = None;
        let first = self.steps.len();
        for (c, cur) in g.cands.iter().zip(&g.applied_to) {
            if !g.bundle {
                self.groups += 1;
            }
            let file = &c.fix.file;
            if !self.order.contains(file) {
                self.order.push(file.clone());
            }
            if !index.as_ref().is_some_and(|(t, _)| Arc::ptr_eq(t, cur)) {
                let old = self.originals.get(file).map_or("", |t| t.as_str());
                index = Some((cur.clone(), LineIndex::new(old, cur)));
            }
            let ix = &index.as_ref().expect("set above").1;
            for e in &c.fix.edits {
                self.origins.entry(file.clone()).or_default().push((
                    ix.disk_line_at(cur, e.start),
                    ix.disk_line_at(cur, e.end),
                    c.label.clone(),
                    c.fix.level,
                ));
            }
            let i = self.steps.len() - first;
            self.steps.push(Step {
                label: c.label.clone(),
                fix: c.fix.id.clone(),
                alternative: c.alternative,
                level: c.fix.level,
                file: file.clone(),
                description: c.fix.description.clone(),
                group: self.groups,
                resolves: resolved
                    .iter()
                    .filter(|(_, by)| by.contains(&i))
                    .map(|(l, _)| l.clone())
                    .collect(),
            });
        }
        drop(st);
        g.state
    }

    fn hold(&mut self, c: &Cand, reason: String) {
        let h = Held {
            label: c.label.clone(),
            fix: c.fix.id.clone(),
            reason,
        };
        if !self.held.contains(&h) {
            self.held.push(h);
        }
    }
}

/// The 0-based disk line of 0-based line `line` of `cur`, through a line diff of `old` -> `cur`: a line that
/// is in both texts keeps its disk line; a line the plan inserted maps to the disk line it was inserted at; the
/// line just after lines the plan deleted is the disk line it was on (not the deleted ones), and only one past
/// the end maps to where a trailing deletion started.
fn map_line(old: &str, cur: &str, line: usize) -> usize {
    let mut at_deletion = None;
    for op in proposal::line_ops(old, cur) {
        let (tag, o, n) = op.as_tag_tuple();
        if n.contains(&line) {
            return within(tag, &o, line - n.start);
        }
        if n.is_empty() && n.start == line && at_deletion.is_none() {
            at_deletion = Some(within(tag, &o, 0));
        }
    }
    at_deletion.unwrap_or_else(|| proposal::lines(old).len())
}

/// `proposal::line_of` and `map_line` for one text, computed once: the offsets of its newlines, and the disk
/// line of each of its lines (None when it is the disk text).
struct LineIndex {
    newlines: Vec<usize>,
    to_disk: Option<Vec<usize>>,
}

impl LineIndex {
    fn new(old: &str, cur: &str) -> LineIndex {
        let newlines = cur
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i)
            .collect();
        let to_disk = (old != cur).then(|| map_lines(old, cur));
        LineIndex { newlines, to_disk }
    }

    /// The 0-based disk line of byte `byte` of `cur` (the text this index was made for).
    fn disk_line_at(&self, cur: &str, byte: usize) -> usize {
        // A newline is never inside a multi-byte character, so the count before `byte` is `line_of`'s.
        let line = self.newlines.partition_point(|&p| p < byte.min(cur.len()));
        match &self.to_disk {
            None => line,
            Some(m) => m
                .get(line)
                .copied()
                .unwrap_or_else(|| *m.last().unwrap_or(&0)),
        }
    }
}

/// `map_line` for every line of `cur` (plus one past the end), from one diff.
fn map_lines(old: &str, cur: &str) -> Vec<usize> {
    let n_cur = proposal::lines(cur).len();
    let mut out: Vec<Option<usize>> = vec![None; n_cur + 1];
    let ops = proposal::line_ops(old, cur);
    // Lines present in `cur` first, then the deletion points for slots no line covers (one past the end).
    for op in &ops {
        let (tag, o, n) = op.as_tag_tuple();
        for line in n.clone() {
            if let Some(slot) = out.get_mut(line) {
                *slot = Some(within(tag, &o, line - n.start));
            }
        }
    }
    for op in &ops {
        let (tag, o, n) = op.as_tag_tuple();
        if let Some(slot) = out.get_mut(n.start)
            && n.is_empty()
            && slot.is_none()
        {
            *slot = Some(within(tag, &o, 0));
        }
    }
    let end = proposal::lines(old).len();
    out.into_iter().map(|l| l.unwrap_or(end)).collect()
}

/// The old line for the k-th new line of a diff op: the same line where the text is equal; in a replaced
/// block the old line at the same offset (clamped), so a line edited in place keeps its number.
fn within(tag: similar::DiffTag, o: &std::ops::Range<usize>, k: usize) -> usize {
    match tag {
        similar::DiffTag::Equal => o.start + k,
        _ if o.is_empty() => o.start,
        _ => o.start + k.min(o.len() - 1),
    }
}

/// A replacement written with `\n` gets the file's `\r\n` when the file uses `\r\n` throughout.
fn match_line_ends<'a>(text: &str, replacement: &'a str) -> Cow<'a, str> {
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count();
    if crlf == 0 || crlf != lf || !replacement.contains('\n') {
        return Cow::Borrowed(replacement);
    }
    let mut out = String::with_capacity(replacement.len() + 8);
    let mut prev = '\0';
    for ch in replacement.chars() {
        if ch == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(ch);
        prev = ch;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
