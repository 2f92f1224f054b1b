//! The GPU pane. The text comes from `gpu::render` (the same report `dockui gpu` prints); this maps its
//! tones to colours (and drops the colours in mono).

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::gpu::GpuState;
use crate::gpu::render::{Detail, Tone, report_lines};
use crate::tui::app::App;
use crate::tui::theme::Theme;

/// One line per row: driver + CUDA, then per GPU a title line, a values line and its processes, then
/// the reasons for n/a values. Container ids can be replaced by names in `state` before calling.
pub fn gpu_lines(state: &GpuState) -> Vec<Line<'static>> {
    report_lines(state, Detail { uuid: false })
        .into_iter()
        .map(|segs| {
            Line::from(
                segs.into_iter()
                    .map(|s| Span::styled(s.text, style(s.tone)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn style(tone: Tone) -> Style {
    match tone {
        Tone::Plain => Style::default(),
        Tone::Heading => Style::default().add_modifier(Modifier::BOLD),
        Tone::Dim => Style::default().fg(Color::DarkGray),
        Tone::Warn => Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
    }
}

pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let lines = gpu_lines(&app.gpu);
    if !theme.mono {
        return lines;
    }
    // Mono: keep emphasis, drop colours.
    lines
        .into_iter()
        .map(|l| {
            Line::from(
                l.spans
                    .into_iter()
                    .map(|s| {
                        Span::styled(
                            s.content,
                            Style::default().add_modifier(s.style.add_modifier),
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}
