//! The Smoke pane: this attempt's checks, each with its verdict and, when it failed, the diagnosis and the
//! output's last line.

use super::empty;
use crate::tui::app::{App, BuildState};
use crate::tui::theme::Theme;
use ratatui::text::Line;

/// What `y` copies here: the first failed check's output.
pub fn copy_text(app: &App) -> Option<String> {
    app.smoke.iter().find_map(|(_, r)| {
        r.as_ref()
            .filter(|r| r.status != crate::engine::smoke::SmokeStatus::Passed)
            .map(|r| r.output.clone())
    })
}

pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    use crate::engine::smoke::SmokeStatus;
    if app.smoke.is_empty() {
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
    let mut out = Vec::new();
    for (name, result) in &app.smoke {
        out.push(match result {
            None => Line::styled(format!("… {name}"), theme.dim()),
            Some(r) => {
                let (mark, style, what) = match r.status {
                    SmokeStatus::Passed => ("✓", theme.ok(), "passed".to_string()),
                    SmokeStatus::Failed => (
                        "✗",
                        theme.error(),
                        format!("exit {}", r.exit_code.unwrap_or(-1)),
                    ),
                    SmokeStatus::TimedOut => ("✗", theme.error(), "timed out".to_string()),
                    SmokeStatus::Cancelled => ("-", theme.dim(), "cancelled".to_string()),
                    SmokeStatus::Error => ("!", theme.error(), "could not run".to_string()),
                };
                Line::styled(
                    format!("{mark} {name} ({what}, {:.1}s)", r.duration_s),
                    style,
                )
            }
        });
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
    out
}
