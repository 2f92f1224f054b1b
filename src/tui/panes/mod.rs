//! One module per pane: each owns its state, its keys and its drawing. `App` routes a key to the focused
//! pane first (`on_action`), then handles what no pane took (focus, build, quit, ...).

pub mod conflicts;
pub mod diff;
pub mod digest;
pub mod gpu;
pub mod image;
pub mod log;
pub mod smoke;

use super::theme::Theme;
use crate::analyze::Severity;
use ratatui::style::Style;
use ratatui::text::Line;

/// What a pane did with an action: not its business, done, or done with commands for the engine.
pub enum Handled {
    No,
    Yes,
    Send(Vec<crate::engine::Command>),
}

pub fn empty(theme: &Theme, text: impl Into<String>) -> Vec<Line<'static>> {
    vec![Line::styled(text.into(), theme.dim())]
}

pub fn severity_style(theme: &Theme, s: Severity) -> Style {
    match s {
        Severity::Error => theme.error(),
        Severity::Warning => theme.warning(),
        Severity::Info => theme.info(),
        Severity::Style => theme.dim(),
    }
}

/// Greedy word wrap to `width` columns (chars); words longer than a row are split.
pub fn wrap_text(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        while word.chars().count() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        let need = if cur.is_empty() {
            word.chars().count()
        } else {
            cur.chars().count() + 1 + word.chars().count()
        };
        if need > width && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}
