//! Drawing: pure functions of `&App`. Only the visible slice of long content is turned into widgets.

use super::app::{App, Pane, Popup};
use super::panes;
use super::popups::{self, centered};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub use super::panes::log::is_error_line;
pub use super::panes::wrap_text;

/// Below this size the seven panes would be unreadable: show one pane at a time with a tab bar.
pub const TABS_BELOW: (u16, u16) = (100, 28);

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    let [main, status] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let tabs = app.zoomed || area.width < TABS_BELOW.0 || area.height < TABS_BELOW.1;
    if tabs {
        let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(main);
        let mut spans = Vec::new();
        for p in Pane::ALL {
            let style = if p == app.focus {
                theme.selected()
            } else {
                theme.dim()
            };
            spans.push(Span::styled(format!(" {} ", p.title()), style));
        }
        spans.push(Span::styled(
            if app.zoomed {
                "  z: all panes"
            } else {
                "  Tab: next"
            },
            theme.dim(),
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)), bar);
        draw_one(frame, app, theme, app.focus, body);
    } else {
        for (pane, rect) in layout(app, theme, main) {
            draw_one(frame, app, theme, pane, rect);
        }
    }
    frame.render_widget(
        Paragraph::new(super::status::line(app, status.width as usize)).style(theme.status()),
        status,
    );

    if let Some((_, editor)) = &app.editor {
        let rect = centered(
            area,
            area.width.saturating_sub(10).max(40),
            (area.height / 2).max(8),
        );
        frame.render_widget(Clear, rect);
        frame.render_widget(editor, rect);
    }
    match app.popup {
        Some(Popup::Help) => popups::draw_help(frame, app, theme, area),
        Some(Popup::ConfirmQuit) => popups::draw_confirm(frame, theme, area),
        Some(Popup::History) => popups::draw_history(frame, app, theme, area),
        Some(Popup::ConfirmPush) => popups::draw_confirm_push(frame, app, theme, area),
        Some(Popup::ConfirmRollback) => popups::draw_confirm_rollback(frame, app, theme, area),
        Some(Popup::ConfirmBuild) => popups::draw_confirm_build(frame, app, theme, area),
        None => {}
    }
}

/// Where each pane goes when all seven are shown. Widths follow content and state: the findings get the
/// columns their rows need (more while the build log is empty), the bottom strip is as tall as its tallest
/// pane needs (one row per GPU), and the GPU pane as wide as its rows.
pub fn layout(app: &App, theme: &Theme, main: Rect) -> Vec<(Pane, Rect)> {
    let w = main.width as usize;
    // Bottom: the machine, the smoke checks and the image side by side; the GPU pane as wide as its rows.
    let gpu_w = match panes::gpu::width_needed(app) {
        Some(n) => (n as u16 + 2).clamp(24, main.width * 2 / 5),
        None => main.width / 3,
    };
    let other_w = main.width.saturating_sub(gpu_w) / 2;
    // Rows a pane's text takes once wrapped to its width.
    let rows = |lines: Vec<Line>, width: u16| -> u16 {
        let inner = width.saturating_sub(2).max(1) as usize;
        lines
            .iter()
            .map(|l| l.width().div_ceil(inner).max(1))
            .sum::<usize>() as u16
    };
    let tallest = rows(panes::gpu::lines(app, theme), gpu_w)
        .max(rows(panes::smoke::lines(app, theme), other_w))
        .max(rows(panes::digest::all_lines(app, theme), other_w))
        .max(4);
    let bottom_h = (tallest + 2).clamp(6, (main.height * 2 / 5).max(6));
    let [top, bottom] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(bottom_h)]).areas(main);
    // Left: what is wrong and how to fix it. Right: the build log.
    let need = panes::conflicts::width_needed(app) + 2;
    let (lo, hi) = if app.log.shown_len() == 0 {
        (w * 40 / 100, w * 70 / 100)
    } else {
        (w * 35 / 100, w / 2)
    };
    let left_w = need.clamp(lo, hi) as u16;
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(top);
    // The Image pane under the log: a line until an image is inspected, then up to half the column; while the
    // log has the focus it keeps only its summary, so reading the log gets the whole column.
    let image_cap = if app.focus == Pane::Log {
        5
    } else {
        (right.height / 2).max(3)
    };
    let image_h = panes::image::height_wanted(&app.image).min(image_cap);
    let [log, image] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(image_h)]).areas(right);
    let conflicts_pct = if app.review.is_empty() { 70 } else { 45 };
    let [conflicts, diff] = Layout::vertical([
        Constraint::Percentage(conflicts_pct),
        Constraint::Percentage(100 - conflicts_pct),
    ])
    .areas(left);
    let [gpu, rest] =
        Layout::horizontal([Constraint::Length(gpu_w), Constraint::Min(10)]).areas(bottom);
    let [smoke, digest] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(rest);
    vec![
        (Pane::Conflicts, conflicts),
        (Pane::Diff, diff),
        (Pane::Log, log),
        (Pane::Gpu, gpu),
        (Pane::Smoke, smoke),
        (Pane::Digest, digest),
        (Pane::Image, image),
    ]
}

/// One pane's content for its rectangle (only the visible slice is turned into widgets).
fn draw_one(frame: &mut Frame, app: &App, theme: &Theme, pane: Pane, rect: Rect) {
    let rows = rect.height.saturating_sub(2) as usize;
    let lines = match pane {
        Pane::Conflicts => panes::conflicts::lines(app, theme, rect),
        Pane::Diff => panes::diff::visible(panes::diff::lines(app, theme), rows),
        Pane::Log => panes::log::lines(app, theme, rows, rect.width.saturating_sub(2) as usize),
        Pane::Gpu => panes::gpu::lines(app, theme),
        Pane::Smoke => panes::smoke::lines(app, theme),
        Pane::Digest => panes::digest::all_lines(app, theme),
        Pane::Image => panes::image::lines(app, theme, rows, rect.width.saturating_sub(2) as usize),
    };
    draw_pane(frame, app, theme, pane, rect, lines);
}

fn draw_pane(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    pane: Pane,
    area: Rect,
    lines: Vec<Line<'static>>,
) {
    let focused = app.focus == pane;
    let mut name = pane.title().to_string();
    match pane {
        Pane::Log => name.push_str(&panes::log::title_suffix(&app.log)),
        Pane::Conflicts => name.push_str(&panes::conflicts::title_suffix(app)),
        Pane::Smoke if app.smoke.standin => name.push_str(" (stand-in base)"),
        Pane::Image => name.push_str(&panes::image::title_suffix(&app.image)),
        _ => {}
    }
    let title = if focused {
        format!("[ {name} ]")
    } else {
        format!(" {name} ")
    };

    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(title);
    let scroll = match pane {
        Pane::Conflicts | Pane::Log | Pane::Image => 0,
        p => app.scroll[Pane::ALL.iter().position(|x| *x == p).unwrap_or(0)],
    };
    let visible: Vec<Line> = lines.into_iter().skip(scroll).collect();
    let wrap = !matches!(pane, Pane::Log | Pane::Diff | Pane::Conflicts | Pane::Image)
        || (pane == Pane::Log && app.log.wrap);
    let mut para = Paragraph::new(visible).block(block);
    if wrap {
        para = para.wrap(Wrap { trim: false });
    }
    frame.render_widget(para, area);
}
