//! Popups over the panes: help (generated from the keymap), build history, and confirmations.

use super::app::App;
use super::panes::wrap_text;
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Key column and description, the description wrapped under itself when the row is too narrow, so no
/// text is ever cut.
fn key_rows(
    keys: &str,
    desc: &str,
    key_w: usize,
    width: usize,
    style: Style,
) -> Vec<Line<'static>> {
    let desc_w = width.saturating_sub(key_w + 1).max(12);
    wrap_text(desc, desc_w)
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let k = if i == 0 { keys } else { "" };
            Line::styled(format!("{k:<key_w$} {d}"), style)
        })
        .collect()
}

pub fn draw_help(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let pane = app.focus.key();
    let bindings: Vec<(&super::keymap::Binding, bool)> = app
        .keymap
        .bindings
        .iter()
        .filter(|b| b.pane.as_deref() == Some(pane))
        .map(|b| (b, true))
        .chain(
            app.keymap
                .bindings
                .iter()
                .filter(|b| b.pane.is_none())
                .map(|b| (b, false)),
        )
        .collect();
    let key_w = bindings
        .iter()
        .map(|(b, _)| b.keys.join(" ").chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 16);
    // As wide as the longest row needs, at most the terminal's width.
    let want = bindings
        .iter()
        .map(|(b, _)| key_w + 1 + b.desc.chars().count())
        .max()
        .unwrap_or(40)
        + 2;
    let width = (want as u16).min(area.width).max(20);
    let inner = width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    lines.extend(
        wrap_text(
            &format!("Keys (focused pane: {})", app.focus.title()),
            inner,
        )
        .into_iter()
        .map(|l| Line::styled(l, theme.heading())),
    );
    // Pane bindings first (what the focused pane adds), then the global ones.
    for (b, own) in &bindings {
        let style = if *own { theme.ok() } else { Style::default() };
        lines.extend(key_rows(&b.keys.join(" "), &b.desc, key_w, inner, style));
    }
    let total = lines.len();
    let rect = centered(area, width, total as u16 + 2);
    let rows = rect.height.saturating_sub(2) as usize;
    // Scrollable when the terminal is short; the title says so.
    let scroll = app.help_scroll.min(total.saturating_sub(rows));
    let title = if total > rows {
        format!(
            " Help {}-{} of {} - j/k scroll, ? or Esc closes ",
            scroll + 1,
            (scroll + rows).min(total),
            total
        )
    } else {
        " Help - ? or Esc closes ".to_string()
    };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(theme.border(true));
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(scroll).collect::<Vec<_>>()).block(block),
        rect,
    );
}

pub fn draw_history(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let width = area.width.saturating_sub(4).min(120);
    let inner = width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = if app.history.is_empty() {
        vec![Line::styled("no builds yet - press b", theme.dim())]
    } else {
        app.history
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut style = match b.status.as_str() {
                    "succeeded" => theme.ok(),
                    "failed" => theme.error(),
                    _ => theme.dim(),
                };
                if i == app.history_selected {
                    style = style.patch(theme.selected());
                }
                Line::styled(
                    format!(
                        "{}  {:<10} {} attempt(s) {:>6.1}s  {}",
                        b.build_id, b.status, b.attempts, b.build_time_s, b.image
                    ),
                    style,
                )
            })
            .collect()
    };
    lines.extend(
        wrap_text(
            "j/k select, Enter opens the build's log in Build log, any other key closes; `dockui logs ID` prints every attempt",
            inner,
        )
        .into_iter()
        .map(|l| Line::styled(l, theme.dim())),
    );
    let rect = centered(area, width, lines.len() as u16 + 2);
    // Keep the selection in view when the list is longer than the popup.
    let rows = rect.height.saturating_sub(2) as usize;
    let skip = app.history_selected.saturating_sub(rows.saturating_sub(3));
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Build history ")
        .border_style(theme.border(true));
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(skip).collect::<Vec<_>>()).block(block),
        rect,
    );
}

fn draw_question(frame: &mut Frame, theme: &Theme, area: Rect, title: &str, text: &[String]) {
    let width = text
        .iter()
        .map(|t| t.chars().count() + 2)
        .max()
        .unwrap_or(40)
        .min(area.width as usize) as u16;
    let inner = width.saturating_sub(2) as usize;
    let lines: Vec<Line> = text
        .iter()
        .flat_map(|t| wrap_text(t, inner))
        .map(Line::from)
        .collect();
    let rect = centered(area, width, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title.to_string())
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

pub fn draw_confirm(frame: &mut Frame, theme: &Theme, area: Rect) {
    draw_question(
        frame,
        theme,
        area,
        " Quit? ",
        &[
            "A build is running. Cancel it and quit?".into(),
            "y: cancel and quit   any other key: stay".into(),
        ],
    );
}

pub fn draw_confirm_push(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let Some((image, failed)) = &app.push_pending else {
        return;
    };
    draw_question(
        frame,
        theme,
        area,
        " Push anyway? ",
        &[
            format!("The smoke tests of {image} failed: {}.", failed.join(", ")),
            "Pushing sends an image that did not pass its own checks.".into(),
            "y: push it anyway (the Digest pane marks it)   any other key: don't".into(),
        ],
    );
}

/// The builder's question before a build (CodeBuild's cost warning).
pub fn draw_confirm_build(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    // The answer keys first: a long question (a generated buildspec) runs past the bottom of the screen.
    let mut text = vec![
        "y starts the build, any other key does not".to_string(),
        String::new(),
    ];
    text.extend(app.build_question.iter().cloned());
    draw_question(frame, theme, area, " Start the build? ", &text);
}

pub fn draw_confirm_rollback(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let Some(p) = &app.rollback.pending else {
        return;
    };
    draw_question(
        frame,
        theme,
        area,
        " Roll the tag back? ",
        &super::panes::digest::confirm_text(p),
    );
}
