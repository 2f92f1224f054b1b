//! The GPU pane's content. The text comes from `gpu::render` (the same report `dockui gpu` prints);
//! this only maps its tones to colours.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::gpu::GpuState;
use crate::gpu::render::{Detail, Tone, report_lines};

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
