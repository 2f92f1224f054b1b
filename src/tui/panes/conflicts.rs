//! The Conflicts pane: the last failure's diagnosis, the findings (one per row) and the selected finding's
//! details underneath.

use super::{Handled, empty, severity_style, wrap_text};
use crate::analyze::{Finding, Severity};
use crate::tui::app::{App, Pane};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

#[derive(Debug, Default)]
pub struct ConflictsPane {
    /// Index of the selected finding.
    pub selected: usize,
}

impl ConflictsPane {
    pub fn clamp(&mut self, n: usize) {
        self.selected = self.selected.min(n.saturating_sub(1));
    }
}

pub fn on_action(app: &mut App, action: Action) -> Handled {
    let n = app.findings().len();
    match action {
        Action::Down => scroll(app, 1),
        Action::Up => scroll(app, -1),
        Action::PageDown => scroll(app, 10),
        Action::PageUp => scroll(app, -10),
        Action::Top => app.conflicts.selected = 0,
        Action::Bottom => app.conflicts.selected = n.saturating_sub(1),
        Action::JumpToFix => {
            let key = app.selected_finding().map(crate::tui::review::finding_key);
            match key {
                Some(k) if app.review.focus_source(&k) => app.focus = Pane::Diff,
                Some(k) => app.notice = Some(format!("{k} has no fix to review")),
                None => {}
            }
        }
        _ => return Handled::No,
    }
    Handled::Yes
}

pub fn scroll(app: &mut App, delta: isize) {
    let n = app.findings().len();
    if n > 0 {
        let sel = &mut app.conflicts.selected;
        *sel = sel.saturating_add_signed(delta).min(n - 1);
    }
}

/// What `y` copies here: the selected finding as `file:line:col RULE message`.
pub fn copy_text(app: &App) -> Option<String> {
    app.selected_finding().map(|f| {
        format!(
            "{}:{}:{} {} {}",
            f.file.display(),
            f.span.line,
            f.span.col,
            f.rule,
            f.message
        )
    })
}

pub fn lines(app: &App, theme: &Theme, area: Rect) -> Vec<Line<'static>> {
    let mut head: Vec<Line<'static>> = Vec::new();
    if let Some(d) = &app.diagnosis {
        let width = area.width.saturating_sub(2) as usize;
        head.push(Line::styled(
            format!("build failed: {}", d.class),
            theme.error(),
        ));
        if let Some(step) = &d.failing_step {
            head.extend(
                wrap_text(&format!("at {step}"), width)
                    .into_iter()
                    .map(|l| Line::styled(l, theme.heading())),
            );
        }
        head.extend(wrap_text(&d.explanation, width).into_iter().map(Line::from));
        head.push(Line::styled("─".repeat(width.min(40)), theme.dim()));
    }
    let mut out = list(app, theme, area, head.len());
    head.append(&mut out);
    head
}

fn mark(s: Severity) -> &'static str {
    match s {
        Severity::Error => "E",
        Severity::Warning => "W",
        Severity::Info => "I",
        Severity::Style => "S",
    }
}

fn list(app: &App, theme: &Theme, area: Rect, used: usize) -> Vec<Line<'static>> {
    let (height, width) = (
        area.height.saturating_sub(used as u16),
        area.width.saturating_sub(2) as usize,
    );
    let analysis = match &app.analysis {
        None => return empty(theme, "analysing..."),
        Some(Err(e)) => return vec![Line::styled(format!("cannot analyse: {e}"), theme.error())],
        Some(Ok(a)) => a,
    };
    if analysis.findings.is_empty() {
        return vec![Line::styled("no conflicts found", theme.ok())];
    }
    // The list never wraps (one finding per row); the selected finding's details wrap underneath.
    let detail_rows = (height as usize / 3).max(3);
    let list_rows = (height as usize).saturating_sub(2 + detail_rows + 1).max(3);
    let selected = app.conflicts.selected;
    let mut rows: Vec<(Option<usize>, Line<'static>)> = Vec::new();
    let mut last_file = None;
    for (i, f) in analysis.findings.iter().enumerate() {
        if last_file != Some(&f.file) {
            rows.push((
                None,
                Line::styled(f.file.display().to_string(), theme.heading()),
            ));
            last_file = Some(&f.file);
        }
        let fix = if f.fixes.is_empty() { "" } else { " [fix]" };
        let mut line = Line::from(vec![
            Span::styled(
                format!(" {} ", mark(f.severity)),
                severity_style(theme, f.severity),
            ),
            Span::raw(format!("{:>3} {} ", f.span.line, f.rule)),
            Span::raw(format!("{}{fix}", f.message)),
        ]);
        if i == selected && app.focus == Pane::Conflicts {
            line = line.style(theme.selected());
        }
        rows.push((Some(i), line));
    }
    let sel_row = rows
        .iter()
        .position(|(i, _)| *i == Some(selected))
        .unwrap_or(0);
    let start = sel_row.saturating_sub(list_rows.saturating_sub(1));
    let mut out: Vec<Line<'static>> = rows
        .into_iter()
        .skip(start)
        .take(list_rows)
        .map(|(_, l)| l)
        .collect();
    if let Some(f) = app.selected_finding() {
        out.push(Line::styled("─".repeat(width.min(40)), theme.dim()));
        out.extend(detail(f, theme, width));
    }
    out
}

/// The selected finding in full, wrapped to the pane: rule and message, why, facts, the fix.
fn detail(f: &Finding, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut detail: Vec<(String, Style)> =
        vec![(format!("{} {}", f.rule, f.message), theme.heading())];
    if !f.why.is_empty() {
        detail.push((format!("why: {}", f.why), Style::default()));
    }
    for fact in &f.facts {
        detail.push((format!("fact: {fact}"), theme.dim()));
    }
    detail.push(match f.fixes.first() {
        Some(fix) => (
            format!("fix ({:?}): {}", fix.level, fix.description),
            theme.ok(),
        ),
        None => ("no automatic fix".into(), theme.dim()),
    });
    detail
        .into_iter()
        .flat_map(|(text, style)| {
            wrap_text(&text, width)
                .into_iter()
                .map(move |l| Line::styled(l, style))
        })
        .collect()
}
