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
    /// Index of the selected finding (in the analysis' list).
    pub selected: usize,
    /// Lowest severity shown: 0 all, 1 warnings and errors, 2 errors only (`f` cycles).
    pub filter: u8,
}

impl ConflictsPane {
    pub fn shows(&self, s: Severity) -> bool {
        match self.filter {
            0 => true,
            1 => matches!(s, Severity::Error | Severity::Warning),
            _ => s == Severity::Error,
        }
    }

    pub fn filter_label(&self) -> &'static str {
        match self.filter {
            0 => "all",
            1 => "warnings and errors",
            _ => "errors only",
        }
    }

    /// Keep the selection on a finding the filter shows.
    pub fn clamp(&mut self, findings: &[Finding]) {
        let visible = self.visible(findings);
        if !visible.contains(&self.selected) {
            self.selected = visible
                .iter()
                .copied()
                .find(|&i| i > self.selected)
                .or(visible.last().copied())
                .unwrap_or(0);
        }
    }

    pub fn visible(&self, findings: &[Finding]) -> Vec<usize> {
        findings
            .iter()
            .enumerate()
            .filter(|(_, f)| self.shows(f.severity))
            .map(|(i, _)| i)
            .collect()
    }
}

/// Columns the widest finding row needs (mark, line, rule, message, [fix]), the file headings included.
pub fn width_needed(app: &App) -> usize {
    app.findings()
        .iter()
        .filter(|f| app.conflicts.shows(f.severity))
        .map(|f| {
            let row = 3 + 4 + f.rule.as_str().chars().count() + 1 + f.message.chars().count();
            let fix = if f.fixes.is_empty() { 0 } else { 6 };
            (row + fix).max(f.file.display().to_string().chars().count())
        })
        .max()
        .unwrap_or(0)
}

/// Per-severity counts for the title, e.g. " E2 W1 I0 S3", and the filter when one is on.
pub fn title_suffix(app: &App) -> String {
    let f = app.findings();
    if app.analysis.is_none() {
        return String::new();
    }
    let n = |s: Severity| f.iter().filter(|x| x.severity == s).count();
    let mut t = format!(
        " E{} W{} I{} S{}",
        n(Severity::Error),
        n(Severity::Warning),
        n(Severity::Info),
        n(Severity::Style)
    );
    if app.conflicts.filter > 0 {
        t.push_str(&format!(" [{}]", app.conflicts.filter_label()));
    }
    t
}

pub fn on_action(app: &mut App, action: Action) -> Handled {
    let n = app.findings().len();
    match action {
        Action::Down => scroll(app, 1),
        Action::Up => scroll(app, -1),
        Action::PageDown => scroll(app, 10),
        Action::PageUp => scroll(app, -10),
        Action::Top | Action::Bottom => {
            let visible = app.conflicts.visible(app.findings());
            let pick = if action == Action::Top {
                visible.first()
            } else {
                visible.last()
            };
            app.conflicts.selected = pick.copied().unwrap_or(0);
        }
        Action::SeverityFilter => {
            app.conflicts.filter = (app.conflicts.filter + 1) % 3;
            let findings = app.findings().to_vec();
            app.conflicts.clamp(&findings);
            let shown = app.conflicts.visible(&findings).len();
            app.notice = Some(format!(
                "showing {}: {shown} of {n} finding(s) - f cycles",
                app.conflicts.filter_label()
            ));
        }
        Action::JumpToFix => {
            let Some(k) = app.selected_finding().map(crate::tui::review::finding_key) else {
                return Handled::Yes;
            };
            if app.review.focus_source(&k) {
                app.focus = Pane::Diff;
                return Handled::Yes;
            }
            // The plan resolves it through another finding's fix: that hunk is the one to review.
            if let Some(by) = app.review.resolved_by(&k).map(|s| s.label.clone()) {
                if app.review.focus_source(&by) {
                    app.focus = Pane::Diff;
                    app.notice = Some(format!("{k} is resolved by this hunk ({by})"));
                } else {
                    app.notice = Some(format!("{k} is resolved by the fix of {by}"));
                }
                return Handled::Yes;
            }
            app.notice = Some(match app.review.held_for(&k) {
                Some(h) => format!("{k}: its fix is not proposed: {}", h.reason),
                None => format!("{k} has no fix to review"),
            })
        }
        _ => return Handled::No,
    }
    Handled::Yes
}

/// Move the selection over the findings the filter shows.
pub fn scroll(app: &mut App, delta: isize) {
    let visible = app.conflicts.visible(app.findings());
    if visible.is_empty() {
        return;
    }
    let at = visible
        .iter()
        .position(|&i| i >= app.conflicts.selected)
        .unwrap_or(visible.len() - 1);
    let to = at.saturating_add_signed(delta).min(visible.len() - 1);
    app.conflicts.selected = visible[to];
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
    if !analysis
        .findings
        .iter()
        .any(|f| app.conflicts.shows(f.severity))
    {
        return empty(
            theme,
            format!(
                "no findings at this filter ({}) - f shows more",
                app.conflicts.filter_label()
            ),
        );
    }
    // The list never wraps (one finding per row); the selected finding's details wrap underneath.
    // The selected finding's details in full first; the list gets the rows left (at least 3), so the fix
    // line at the end of the details is not cut off.
    let details = app
        .selected_finding()
        .filter(|f| app.conflicts.shows(f.severity))
        .map(|f| {
            let by = app
                .review
                .resolved_by(&crate::tui::review::finding_key(f))
                .map(|s| s.label.as_str());
            detail(f, by, theme, width)
        })
        .unwrap_or_default();
    let detail_rows = details.len();
    let list_rows = (height as usize).saturating_sub(2 + detail_rows + 1).max(3);
    let selected = app.conflicts.selected;
    let mut rows: Vec<(Option<usize>, Line<'static>)> = Vec::new();
    let mut last_file = None;
    for (i, f) in analysis.findings.iter().enumerate() {
        if !app.conflicts.shows(f.severity) {
            continue;
        }
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
    if !details.is_empty() {
        out.push(Line::styled("─".repeat(width.min(40)), theme.dim()));
        out.extend(details);
    }
    out
}

/// The selected finding in full, wrapped to the pane: rule and message, why, facts, the fix, and the finding
/// whose planned fix resolves this one too (`by`).
fn detail(f: &Finding, by: Option<&str>, theme: &Theme, width: usize) -> Vec<Line<'static>> {
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
            format!("fix ({}): {}", fix.level.as_str(), fix.description),
            theme.ok(),
        ),
        None => ("no automatic fix".into(), theme.dim()),
    });
    if let Some(by) = by {
        detail.push((
            format!("planned: the fix of {by} resolves it too (Enter shows it)"),
            theme.ok(),
        ));
    }
    detail
        .into_iter()
        .flat_map(|(text, style)| {
            wrap_text(&text, width)
                .into_iter()
                .map(move |l| Line::styled(l, style))
        })
        .collect()
}
