//! Popups over the panes: help (generated from the keymap), build history, and confirmations.

use super::app::App;
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
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

pub fn draw_help(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let mut lines = vec![Line::styled(
        format!("Keys (focused pane: {})", app.focus.title()),
        theme.heading(),
    )];
    // Pane bindings first (what the focused pane adds), then the global ones.
    let pane = app.focus.key();
    for b in app
        .keymap
        .bindings
        .iter()
        .filter(|b| b.pane.as_deref() == Some(pane))
    {
        lines.push(Line::styled(
            format!("{:<16} {}", b.keys.join(" "), b.desc),
            theme.ok(),
        ));
    }
    for b in app.keymap.bindings.iter().filter(|b| b.pane.is_none()) {
        lines.push(Line::from(format!("{:<16} {}", b.keys.join(" "), b.desc)));
    }
    let total = lines.len();
    let rect = centered(area, 78, total as u16 + 2);
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
    let mut lines: Vec<Line> = if app.history.is_empty() {
        vec![Line::styled("no builds yet - press b", theme.dim())]
    } else {
        app.history
            .iter()
            .map(|b| {
                let style = match b.status.as_str() {
                    "succeeded" => theme.ok(),
                    "failed" => theme.error(),
                    _ => theme.dim(),
                };
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
    lines.push(Line::styled(
        "`dockui logs ID` prints a build's full logs; any key closes",
        theme.dim(),
    ));
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(120),
        lines.len() as u16 + 2,
    );
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Build history ")
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

pub fn draw_confirm(frame: &mut Frame, theme: &Theme, area: Rect) {
    let rect = centered(area, 50, 4);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Quit? ")
        .border_style(theme.border(true));
    let text = vec![
        Line::from("A build is running. Cancel it and quit?"),
        Line::from("y: cancel and quit   any other key: stay"),
    ];
    frame.render_widget(Paragraph::new(text).block(block), rect);
}
