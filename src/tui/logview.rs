//! The Build log pane's model: a bounded window of recent lines in memory (the attempt's file keeps them all),
//! follow mode, regex search that keeps context, a filter, wrap, and paging older lines in from the file.

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
}

impl LogView {
    pub fn clear(&mut self) {
        self.lines.clear();
        self.dropped = 0;
        self.end = None;
        self.page = None;
    }

    pub fn push(&mut self, lines: impl IntoIterator<Item = String>) {
        self.lines
            // Most lines are clean: keep them as they are (no copy); only lines with escapes are rebuilt.
            .extend(lines.into_iter().map(|l| {
                if super::text::is_clean(&l) {
                    l
                } else {
                    super::text::clean_line(&l)
                }
            }));
        let excess = self.lines.len().saturating_sub(WINDOW);
        if excess > 0 {
            self.lines.drain(..excess);
            self.dropped += excess as u64;
            if let Some(end) = &mut self.end {
                *end = end.saturating_sub(excess);
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
        let len = self.shown_len();
        let end = self.end.unwrap_or(len);
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
            } else {
                self.end = None;
            }
        } else {
            self.end = Some(new);
        }
    }

    pub fn to_top(&mut self) {
        self.end = Some(1);
    }

    pub fn follow(&mut self) {
        self.page = None;
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
                self.end = Some((i + 1).min(len));
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

fn read_lines(path: &Path, start: u64, count: usize) -> std::io::Result<Vec<String>> {
    let f = std::io::BufReader::new(std::fs::File::open(path)?);
    f.lines()
        .skip(start as usize)
        .take(count)
        .map(|l| l.map(|l| super::text::clean_line(&l)))
        .collect()
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
    fn jump_to_the_first_error() {
        let mut v = LogView::default();
        v.push(["Step 1/2 : FROM x", "ok", "ERROR: boom", "more"].map(String::from));
        assert!(v.jump_to(|l| l.starts_with("ERROR")));
        assert_eq!(v.current_line().unwrap(), "ERROR: boom");
    }
}
