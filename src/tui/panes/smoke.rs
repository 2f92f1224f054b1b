//! The Smoke pane: this attempt's checks, each with its verdict and, when it failed, the diagnosis and the
//! output's last line. j/k select a check; Enter shows its whole output (and again hides it).

use super::{Handled, empty};
use crate::engine::smoke::{SmokeResult, SmokeStatus};
use crate::tui::app::{App, BuildState, Pane};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use ratatui::text::Line;

#[derive(Debug, Default)]
pub struct SmokePane {
    /// This attempt's checks: name, and the result once it ran.
    pub checks: Vec<(String, Option<SmokeResult>)>,
    pub selected: usize,
    /// Enter: the selected check's whole output.
    pub expanded: bool,
    /// Rows scrolled in the expanded output.
    pub scroll: usize,
    /// The image was built on dockui's offline stand-in base: passing checks prove the Dockerfile's steps
    /// ran, not that the real base works.
    pub standin: bool,
}

impl SmokePane {
    pub fn start(&mut self, names: Vec<String>) {
        self.checks = names.into_iter().map(|n| (n, None)).collect();
        self.selected = 0;
        self.expanded = false;
        self.scroll = 0;
        self.standin = false;
    }

    pub fn clear(&mut self) {
        self.start(Vec::new());
    }

    pub fn record(&mut self, result: SmokeResult) {
        if let Some(row) = self
            .checks
            .iter_mut()
            .find(|(n, r)| *n == result.name && r.is_none())
        {
            row.1 = Some(result);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    pub fn failed(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.status != SmokeStatus::Passed))
            .map(|(n, _)| n.clone())
            .collect()
    }
}

pub fn on_action(app: &mut App, action: Action) -> Handled {
    let s = &mut app.smoke;
    let last = s.checks.len().saturating_sub(1);
    match (action, s.expanded) {
        (Action::Open, _) => {
            s.expanded = !s.expanded && !s.checks.is_empty();
            s.scroll = 0;
        }
        (Action::Back, true) => s.expanded = false,
        (Action::Down, true) => s.scroll += 1,
        (Action::Up, true) => s.scroll = s.scroll.saturating_sub(1),
        (Action::PageDown, true) => s.scroll += 10,
        (Action::PageUp, true) => s.scroll = s.scroll.saturating_sub(10),
        (Action::Top, true) => s.scroll = 0,
        (Action::Down, false) => s.selected = (s.selected + 1).min(last),
        (Action::Up, false) => s.selected = s.selected.saturating_sub(1),
        (Action::PageDown | Action::Bottom, false) => s.selected = last,
        (Action::PageUp | Action::Top, false) => s.selected = 0,
        _ => return Handled::No,
    }
    Handled::Yes
}

/// What `y` copies here: the selected check's output, else the first failed check's.
pub fn copy_text(app: &App) -> Option<String> {
    let s = &app.smoke;
    if let Some((_, Some(r))) = s.checks.get(s.selected)
        && (s.expanded || r.status != SmokeStatus::Passed)
    {
        return Some(r.output.clone());
    }
    s.checks.iter().find_map(|(_, r)| {
        r.as_ref()
            .filter(|r| r.status != SmokeStatus::Passed)
            .map(|r| r.output.clone())
    })
}

fn verdict(r: &SmokeResult) -> (&'static str, &'static str, String) {
    match r.status {
        SmokeStatus::Passed => ("✓", "ok", "passed".to_string()),
        SmokeStatus::Failed => ("✗", "error", format!("exit {}", r.exit_code.unwrap_or(-1))),
        SmokeStatus::TimedOut => ("✗", "error", "timed out".to_string()),
        SmokeStatus::Cancelled => ("-", "dim", "cancelled".to_string()),
        SmokeStatus::Error => ("!", "error", "could not run".to_string()),
    }
}

pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let s = &app.smoke;
    if s.is_empty() {
        return match &app.build {
            BuildState::Done(o) if o.success => empty(
                theme,
                "no smoke checks - add [smoke] commands to .dockui.toml",
            ),
            BuildState::Running { .. } => empty(theme, "smoke tests run when the build succeeds"),
            _ => empty(
                theme,
                "no smoke tests yet - they run after a successful build (press b)",
            ),
        };
    }
    let focused = app.focus == Pane::Smoke;
    let style_of = |name: &str| match name {
        "ok" => theme.ok(),
        "error" => theme.error(),
        _ => theme.dim(),
    };
    let mut out = Vec::new();
    if s.standin {
        out.push(Line::styled(
            "stand-in base: these results come from dockui's offline shim, not the real image",
            theme.warning(),
        ));
    }
    if s.expanded
        && let Some((name, result)) = s.checks.get(s.selected)
    {
        match result {
            None => out.push(Line::styled(
                format!("… {name} has not run yet"),
                theme.dim(),
            )),
            Some(r) => {
                let (mark, style, what) = verdict(r);
                out.push(Line::styled(
                    format!("{mark} {name} ({what}, {:.1}s)", r.duration_s),
                    style_of(style),
                ));
                out.push(Line::styled(format!("$ {}", r.command), theme.dim()));
                if r.output.trim().is_empty() {
                    out.push(Line::styled("(no output)", theme.dim()));
                }
                out.extend(
                    r.output
                        .lines()
                        .skip(s.scroll)
                        .map(|l| Line::from(crate::tui::text::clean_line(l))),
                );
            }
        }
        out.push(Line::styled("Enter/Esc: back to the checks", theme.dim()));
        return out;
    }
    for (i, (name, result)) in s.checks.iter().enumerate() {
        let mut line = match result {
            None => Line::styled(format!("… {name}"), theme.dim()),
            Some(r) => {
                let (mark, style, what) = verdict(r);
                let standin = if s.standin { ", stand-in" } else { "" };
                Line::styled(
                    format!("{mark} {name} ({what}{standin}, {:.1}s)", r.duration_s),
                    style_of(style),
                )
            }
        };
        if focused && i == s.selected {
            line = line.style(theme.selected());
        }
        out.push(line);
        if let Some(r) = result
            && r.status != SmokeStatus::Passed
        {
            if let Some(d) = &r.diagnosis {
                out.push(Line::styled(format!("  {}", d.class), theme.warning()));
            }
            if let Some(last) = r.output.lines().rev().find(|l| !l.trim().is_empty()) {
                out.push(Line::styled(format!("  {}", last.trim()), theme.dim()));
            }
        }
    }
    if focused {
        out.push(Line::styled(
            "Enter: the selected check's output",
            theme.dim(),
        ));
    }
    out
}
