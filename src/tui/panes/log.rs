//! The Build log pane's model: a bounded window of recent lines in memory (the attempt's file keeps them all),
//! follow mode, regex search that keeps context, a filter, wrap, and paging older lines in from the file.

use super::{Handled, empty};
use crate::engine::Command;
use crate::tui::app::{App, BuildState, EngineState};
use crate::tui::keymap::Action;
use crate::tui::text;
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use regex::Regex;
use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Lines kept in memory; the full log is always in the attempt's file.
pub const WINDOW: usize = 20_000;

#[derive(Debug, Default)]
pub struct LogView {
    /// The live window: the last lines of the current attempt.
    pub lines: VecDeque<String>,
    /// Lines before the window (still in the file).
    pub dropped: u64,
    /// None: follow the end. Some(n): the view ends before line n of what is shown.
    pub end: Option<usize>,
    pub search: Option<Regex>,
    pub filter: bool,
    pub wrap: bool,
    /// The current attempt's log file, for paging in what the window dropped.
    pub file: Option<PathBuf>,
    /// Older lines paged in from the file: (number of the first line, lines). While set, the view shows it.
    pub page: Option<(u64, Vec<String>)>,
    /// The search being typed (`/`), shown in the status bar.
    pub input: Option<String>,
    /// A past build opened from the history (its id), shown instead of a live attempt.
    pub past: Option<String>,
    /// The pane's rows and columns at the last frame: `g`, the filter and paging fill whole pages with it.
    pub viewport: std::cell::Cell<(usize, usize)>,
    /// Shown lines that match the search, kept up to date as lines arrive (the title says "n matches").
    pub match_count: usize,
    /// Which match (1-based) the view sits on after n/N ("match k of n").
    pub match_index: Option<usize>,
    /// The coming build's first cache miss and why (`dockui: cache broke at line ...`), shown under the first
    /// attempt's header.
    pub cache_break: Option<String>,
}

impl LogView {
    pub fn clear(&mut self) {
        self.lines.clear();
        self.dropped = 0;
        self.end = None;
        self.page = None;
        self.past = None;
        self.match_count = 0;
        self.match_index = None;
    }

    /// Count the shown lines that match the search (after a new search or another page).
    pub fn recount(&mut self) {
        self.match_count = match &self.search {
            Some(re) => self.shown().filter(|l| re.is_match(l)).count(),
            None => 0,
        };
        self.match_index = None;
    }

    /// Rows a line takes in the pane (wrap on: its width over the pane's).
    fn height(&self, i: usize, width: usize) -> usize {
        match (self.wrap, self.get(i)) {
            (true, Some(l)) => crate::tui::text::cap(l, 2000)
                .chars()
                .count()
                .div_ceil(width.max(1))
                .max(1),
            _ => 1,
        }
    }

    /// Where the view really ends: `end`, moved down when what lies above it does not fill the pane (the top
    /// of the log, or a filter with few matches), so a page is full whenever there is enough to show, as in
    /// `less`.
    pub fn effective_end(&self) -> usize {
        let len = self.shown_len();
        let Some(end) = self.end else { return len };
        let end = end.min(len);
        let (rows, width) = self.viewport.get();
        if rows == 0 {
            return end;
        }
        let filtering = self.filtering();
        let keep = |i: usize| !filtering || self.get(i).is_some_and(|l| self.matches(l));
        let mut used = 0;
        for i in (0..end).rev() {
            if keep(i) {
                used += self.height(i, width);
                if used >= rows {
                    return end;
                }
            }
        }
        let mut e = end;
        while e < len && used < rows {
            if keep(e) {
                let h = self.height(e, width);
                if used + h > rows {
                    break;
                }
                used += h;
            }
            e += 1;
        }
        e
    }

    /// Make `end` what the pane shows, so j/k move from there.
    pub fn settle(&mut self) {
        if self.end.is_some() {
            self.end = Some(self.effective_end().max(1));
        }
    }

    pub fn push(&mut self, lines: impl IntoIterator<Item = String>) {
        let before = self.lines.len();
        self.lines
            // Most lines are clean: keep them as they are (no copy); only lines with escapes are rebuilt.
            .extend(lines.into_iter().map(|l| {
                if crate::tui::text::is_clean(&l) {
                    l
                } else {
                    crate::tui::text::clean_line(&l)
                }
            }));
        let excess = self.lines.len().saturating_sub(WINDOW);
        if let (Some(re), None) = (&self.search, &self.page) {
            let added = self
                .lines
                .range(before..)
                .filter(|l| re.is_match(l))
                .count();
            let dropped = self
                .lines
                .range(..excess)
                .filter(|l| re.is_match(l))
                .count();
            self.match_count = (self.match_count + added).saturating_sub(dropped);
        }
        if excess > 0 {
            self.lines.drain(..excess);
            self.dropped += excess as u64;
            if let Some(end) = &mut self.end {
                *end = end.saturating_sub(excess);
            }
        }
    }

    /// The coming (or running) build's cache-break line. It is worked out beside the build, so it may arrive
    /// after the first attempt started: then it goes under that attempt's header.
    pub fn set_cache_break(&mut self, line: Option<String>, first_attempt_running: bool) {
        self.cache_break = line.clone();
        let Some(line) = line else { return };
        let header_shown = self.dropped == 0
            && self.page.is_none()
            && self
                .lines
                .front()
                .is_some_and(|l| l.starts_with("=== attempt 1/"));
        let already = self
            .lines
            .get(1)
            .is_some_and(|l| l.starts_with(CACHE_BROKE));
        if first_attempt_running && header_shown && !already {
            if self.search.as_ref().is_some_and(|re| re.is_match(&line)) {
                self.match_count += 1;
            }
            self.lines.insert(1, line);
            if let Some(end) = &mut self.end {
                *end += 1;
            }
        }
    }

    pub fn following(&self) -> bool {
        self.end.is_none() && self.page.is_none()
    }

    /// What the view shows: the page from the file, or the live window.
    pub fn shown(&self) -> Box<dyn Iterator<Item = &String> + '_> {
        match &self.page {
            Some((_, p)) => Box::new(p.iter()),
            None => Box::new(self.lines.iter()),
        }
    }

    pub fn shown_len(&self) -> usize {
        self.page
            .as_ref()
            .map_or(self.lines.len(), |(_, p)| p.len())
    }

    pub fn get(&self, i: usize) -> Option<&String> {
        match &self.page {
            Some((_, p)) => p.get(i),
            None => self.lines.get(i),
        }
    }

    /// Whether the filter hides lines (a search and the filter toggle).
    pub fn filtering(&self) -> bool {
        self.filter && self.search.is_some()
    }

    fn matches(&self, line: &str) -> bool {
        self.search.as_ref().is_none_or(|re| re.is_match(line))
    }

    /// Indexes of the lines that pass the filter (all when the filter is off).
    pub fn visible_indexes(&self) -> Vec<usize> {
        let filtering = self.filter && self.search.is_some();
        self.shown()
            .enumerate()
            .filter(|(_, l)| !filtering || self.matches(l))
            .map(|(i, _)| i)
            .collect()
    }

    pub fn scroll(&mut self, delta: isize) {
        self.match_index = None;
        let len = self.shown_len();
        let end = if self.end.is_some() {
            self.effective_end()
        } else {
            len
        };
        if delta < 0 && end <= 1 {
            self.page_older();
            return;
        }
        let new = end.saturating_add_signed(delta).max(1);
        if new >= len {
            // Past the end of a page: back to the live window; past the live end: follow again.
            if self.page.is_some() && delta > 0 {
                self.page = None;
                self.end = Some(1);
                self.recount();
            } else {
                self.end = None;
            }
        } else {
            self.end = Some(new);
        }
    }

    /// `g`: a full page from the first line (of what passes the filter).
    pub fn to_top(&mut self) {
        self.match_index = None;
        self.end = Some(1);
        self.settle();
    }

    pub fn follow(&mut self) {
        self.match_index = None;
        if self.page.take().is_some() {
            self.recount();
        }
        self.end = None;
    }

    /// Load the lines before what is shown from the log file.
    pub fn page_older(&mut self) {
        let first_shown = match &self.page {
            Some((first, _)) => *first,
            None => self.dropped,
        };
        if first_shown == 0 {
            return;
        }
        let Some(file) = &self.file else { return };
        let start = first_shown.saturating_sub(WINDOW as u64 / 2);
        if let Ok(lines) = read_lines(file, start, (first_shown - start) as usize) {
            let n = lines.len();
            self.page = Some((start, lines));
            self.end = Some(n.max(1));
            self.recount();
        }
    }

    /// Jump to the next (or previous) line matching the search, keeping lines of context below it.
    pub fn next_match(&mut self, forward: bool) -> bool {
        let Some(re) = &self.search else { return false };
        let len = self.shown_len();
        let current = self.end.unwrap_or(len).saturating_sub(1);
        let lines: Vec<&String> = self.shown().collect();
        let hit: Option<usize> = if forward {
            (current + 1..len)
                .find(|&i| re.is_match(lines[i]))
                .or_else(|| {
                    (0..=current.min(len.saturating_sub(1))).find(|&i| re.is_match(lines[i]))
                })
        } else {
            (0..current)
                .rev()
                .find(|&i| re.is_match(lines[i]))
                .or_else(|| (current..len).rev().find(|&i| re.is_match(lines[i])))
        };
        match hit {
            Some(i) => {
                let k = lines[..=i].iter().filter(|l| re.is_match(l)).count();
                self.end = Some((i + 1).min(len));
                self.match_index = Some(k);
                true
            }
            None => false,
        }
    }

    /// Jump to the first line that `is_error` says is an error (e.g. the failing step).
    pub fn jump_to(&mut self, is_error: impl Fn(&str) -> bool) -> bool {
        let found = self.shown().position(|l| is_error(l));
        match found {
            Some(i) => {
                self.end = Some(i + 1);
                self.match_index = None;
                true
            }
            None => false,
        }
    }

    /// The line the view ends on (what `y` copies).
    pub fn current_line(&self) -> Option<&String> {
        let len = self.shown_len();
        self.shown().nth(self.end.unwrap_or(len).checked_sub(1)?)
    }
}

/// The last `count` lines of a log file (a past build's, opened from the history).
pub fn read_tail(path: &Path, count: usize) -> std::io::Result<Vec<String>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut tail = VecDeque::with_capacity(count.min(4096));
    for l in f.lines() {
        if tail.len() == count {
            tail.pop_front();
        }
        tail.push_back(l?);
    }
    Ok(tail.into())
}

fn read_lines(path: &Path, start: u64, count: usize) -> std::io::Result<Vec<String>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    f.lines()
        .skip(start as usize)
        .take(count)
        .map(|l| l.map(|l| crate::tui::text::clean_line(&l)))
        .collect()
}

pub fn on_action(app: &mut App, action: Action) -> Handled {
    match action {
        Action::Down => app.log.scroll(1),
        Action::Up => app.log.scroll(-1),
        Action::PageDown => app.log.scroll(10),
        Action::PageUp => app.log.scroll(-10),
        Action::Top => app.log.to_top(),
        Action::Bottom => app.log.follow(),
        Action::Search => app.log.input = Some(String::new()),
        Action::NextMatch | Action::PrevMatch => {
            if app.log.search.is_none() {
                app.notice = Some("no search - press / in the log".into());
            } else if !app.log.next_match(action == Action::NextMatch) {
                app.notice = Some("no match".into());
            }
        }
        Action::Filter => {
            if app.log.search.is_none() {
                app.notice =
                    Some("the filter shows lines matching the search: press / first".into());
            } else {
                app.log.filter = !app.log.filter;
                // Every match at once: the page fills from where the view is.
                app.log.settle();
            }
        }
        Action::JumpError => {
            let d = app.diagnosis.clone();
            let found = app.log.jump_to(|l| {
                d.as_ref().is_some_and(|d| {
                    d.failing_step.as_deref() == Some(l) || d.matched.iter().any(|(_, t)| t == l)
                }) || is_error_line(l)
            });
            if !found {
                app.notice = Some("no error in the log".into());
            }
        }
        Action::Wrap => app.log.wrap = !app.log.wrap,
        Action::SaveLog => {
            if app.readonly {
                app.notice = Some("read-only mode: nothing is written".into());
            } else if let Some(file) = app.log.file.clone() {
                return Handled::Send(vec![Command::SaveLog(file)]);
            } else {
                app.notice = Some("no build log yet".into());
            }
        }
        _ => return Handled::No,
    }
    Handled::Yes
}

/// What the title adds to "Build log": paused, paged from the file, the search, filter and wrap.
pub fn title_suffix(l: &LogView) -> String {
    let mut name = String::new();
    if !l.following() && l.shown_len() > 0 {
        name.push_str(" (paused - G follows)");
    }
    if l.page.is_some() {
        name.push_str(" [from file]");
    }
    if let Some(id) = &l.past {
        name.push_str(&format!(" [build {id}]"));
    }
    if let Some(re) = &l.search {
        name.push_str(&format!(" /{}", re.as_str().trim_start_matches("(?i)")));
        match l.match_index {
            Some(k) => name.push_str(&format!(" (match {k} of {})", l.match_count)),
            None => name.push_str(&format!(" ({} matches)", l.match_count)),
        }
    }
    if l.filter {
        name.push_str(" [filter]");
    }
    if l.wrap {
        name.push_str(" [wrap]");
    }
    name
}

pub fn input_key(app: &mut App, key: KeyEvent) {
    use crossterm::event::KeyCode;
    let Some(buf) = &mut app.log.input else {
        return;
    };
    match key.code {
        KeyCode::Esc => {
            app.log.input = None;
            app.log.search = None;
            app.log.filter = false;
        }
        KeyCode::Enter => {
            let pattern = std::mem::take(buf);
            app.log.input = None;
            // Smart case: all lower case searches ignore case.
            let re = if pattern.chars().any(char::is_uppercase) {
                pattern.clone()
            } else {
                format!("(?i){pattern}")
            };
            match regex::Regex::new(&re) {
                Ok(re) => {
                    app.log.search = Some(re);
                    app.log.recount();
                    if !app.log.next_match(false) {
                        app.notice = Some(format!("no match for /{pattern}"));
                    }
                }
                Err(e) => {
                    // regex's message spans lines (the pattern, a caret, the error): one line here.
                    let why = e.to_string();
                    let why = why
                        .lines()
                        .map(str::trim)
                        .rfind(|l| !l.is_empty() && !l.starts_with('^'))
                        .unwrap_or("regex parse error")
                        .trim_start_matches("error: ");
                    app.notice = Some(format!("invalid regex /{pattern}: {why}"))
                }
            }
        }
        KeyCode::Backspace => {
            buf.pop();
        }
        KeyCode::Char(c) => buf.push(c),
        _ => {}
    }
}

pub fn lines(app: &App, theme: &Theme, rows: usize, width: usize) -> Vec<Line<'static>> {
    let log = &app.log;
    log.viewport.set((rows, width));
    if log.shown_len() == 0 {
        return match (&app.engine, &app.build) {
            (EngineState::Unreachable(msg), _) => vec![
                Line::styled(msg.clone(), theme.error()),
                Line::styled(
                    "start the engine (dockerd) or set engine.docker_host / DOCKER_HOST",
                    theme.dim(),
                ),
            ],
            (_, BuildState::Idle) => empty(theme, "no build yet - press b"),
            _ => empty(theme, "waiting for build output..."),
        };
    }
    // The view ends at `end` (exclusive, in shown-line numbers); take lines backwards until the rows are full.
    // Without the filter only the visible slice is touched, whatever the window holds.
    let end = log.effective_end();
    let candidates: Box<dyn Iterator<Item = usize>> = if log.filtering() {
        let indexes = log.visible_indexes();
        let last = indexes.partition_point(|&i| i < end);
        Box::new(indexes.into_iter().take(last).rev())
    } else {
        Box::new((0..end).rev())
    };
    let mut picked = Vec::new();
    let mut used = 0;
    for i in candidates {
        let Some(line) = log.get(i) else { continue };
        let height = if log.wrap {
            text::cap(line, 2000)
                .chars()
                .count()
                .div_ceil(width.max(1))
                .max(1)
        } else {
            1
        };
        if used + height > rows && !picked.is_empty() {
            break;
        }
        used += height;
        picked.push(i);
    }
    picked.reverse();
    picked
        .into_iter()
        .filter_map(|i| log.get(i))
        .map(|l| {
            let highlighted = app.diagnosis.as_ref().is_some_and(|d| {
                d.matched.iter().any(|(_, t)| t == l)
                    || d.failing_step.as_deref() == Some(l.as_str())
            });
            let style = if highlighted {
                theme
                    .error()
                    .add_modifier(ratatui::style::Modifier::REVERSED)
            } else if is_error_line(l) {
                theme.error()
            } else if l.starts_with("===") || crate::classify::is_step_header(l) {
                theme.heading()
            } else if l.starts_with(CACHE_BROKE) {
                theme.warning()
            } else {
                Style::default()
            };
            // Cap very long lines: a 100k-char line must not stall a frame.
            let text = text::cap(l, if log.wrap { 2000 } else { 1000 }).into_owned();
            match &log.search {
                Some(re) if re.is_match(&text) => highlight_matches(&text, re, style, theme),
                _ => Line::styled(text, style),
            }
        })
        .collect()
}

/// How the cache-break line starts (`CacheBreak::log_line`).
const CACHE_BROKE: &str = "dockui: cache broke at line ";

pub fn is_error_line(l: &str) -> bool {
    l.starts_with("ERROR")
        || l.starts_with("dockui: build failed")
        || l.contains("returned a non-zero code")
        || l.contains(" ERROR: ")
}

fn highlight_matches(text: &str, re: &regex::Regex, base: Style, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let mut pos = 0;
    for m in re.find_iter(text) {
        if m.start() > pos {
            spans.push(Span::styled(text[pos..m.start()].to_string(), base));
        }
        if m.end() > m.start() {
            spans.push(Span::styled(m.as_str().to_string(), theme.search_hit()));
        }
        pos = m.end();
    }
    spans.push(Span::styled(text[pos..].to_string(), base));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: usize) -> LogView {
        let mut v = LogView::default();
        v.push((0..n).map(|i| format!("line {i}")));
        v
    }

    #[test]
    fn scrolling_up_pauses_follow_and_g_resumes() {
        let mut v = view(100);
        assert!(v.following());
        v.scroll(-10);
        assert_eq!(v.end, Some(90));
        v.push(["new".to_string()]);
        assert_eq!(v.end, Some(90), "new lines do not move a paused view");
        v.follow();
        assert!(v.following());
    }

    #[test]
    fn search_keeps_context_and_wraps_around() {
        let mut v = view(100);
        v.search = Some(Regex::new("line (7|42)$").unwrap());
        v.to_top();
        assert!(v.next_match(true));
        assert_eq!(v.current_line().unwrap(), "line 7");
        assert!(v.next_match(true));
        assert_eq!(v.current_line().unwrap(), "line 42");
        assert!(v.next_match(true));
        assert_eq!(
            v.current_line().unwrap(),
            "line 7",
            "wraps to the first match"
        );
        assert!(v.next_match(false));
        assert_eq!(v.current_line().unwrap(), "line 42");
        // Context: the whole log is still shown; the filter shows only matches.
        assert_eq!(v.visible_indexes().len(), 100);
        v.filter = true;
        assert_eq!(v.visible_indexes(), [7, 42]);
    }

    #[test]
    fn window_is_bounded_and_older_lines_page_in_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("attempt-1.log");
        let total = WINDOW + 5000;
        let text: String = (0..total).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&file, text).unwrap();
        let mut v = LogView {
            file: Some(file),
            ..Default::default()
        };
        v.push((0..total).map(|i| format!("line {i}")));
        assert_eq!(v.lines.len(), WINDOW);
        assert_eq!(v.dropped, 5000);
        v.to_top();
        v.scroll(-1);
        let (first, page) = v.page.as_ref().unwrap();
        assert_eq!(*first, 0);
        assert_eq!(page.len(), 5000);
        assert_eq!(v.current_line().unwrap(), "line 4999");
        v.follow();
        assert_eq!(v.current_line().unwrap(), &format!("line {}", total - 1));
    }

    #[test]
    fn g_fills_a_page_and_the_filter_fills_it_with_matches() {
        let mut v = view(100);
        v.viewport.set((10, 80));
        v.to_top();
        assert_eq!(v.effective_end(), 10, "a page of 10 rows from the top");
        v.scroll(1);
        assert_eq!(v.end, Some(11), "j moves the page by one line");
        v.search = Some(Regex::new("line [1-9]0$").unwrap());
        v.recount();
        assert_eq!(v.match_count, 9);
        assert!(v.next_match(true));
        assert_eq!(v.match_index, Some(2), "line 20 is the second match");
        v.filter = true;
        v.settle();
        // Every match fits in 10 rows: all nine are shown, whatever match the view sat on.
        let end = v.effective_end();
        let shown = v.visible_indexes().into_iter().filter(|&i| i < end).count();
        assert_eq!(shown, 9);
        v.to_top();
        let end = v.effective_end();
        assert_eq!(
            v.visible_indexes().into_iter().filter(|&i| i < end).count(),
            9
        );
    }

    #[test]
    fn match_count_follows_new_and_dropped_lines() {
        let mut v = view(10);
        v.search = Some(Regex::new("hit").unwrap());
        v.recount();
        assert_eq!(v.match_count, 0);
        v.push([
            "a hit".to_string(),
            "miss".to_string(),
            "hit again".to_string(),
        ]);
        assert_eq!(v.match_count, 2);
        v.push((0..WINDOW).map(|i| format!("filler {i}")));
        assert_eq!(v.match_count, 0, "the hits left the window");
    }

    #[test]
    fn jump_to_the_first_error() {
        let mut v = LogView::default();
        v.push(["Step 1/2 : FROM x", "ok", "ERROR: boom", "more"].map(String::from));
        assert!(v.jump_to(|l| l.starts_with("ERROR")));
        assert_eq!(v.current_line().unwrap(), "ERROR: boom");
    }
}
