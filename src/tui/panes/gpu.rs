//! The GPU pane: one line per GPU (so an 8-GPU box fits), and with Enter the selected GPU's full report.
//! The full text comes from `gpu::render` (the same report `dockui gpu` prints); this maps its tones to
//! colours (and drops the colours in mono).

use super::Handled;
use crate::gpu::render::{Detail, Tone, bytes, report_lines};
use crate::gpu::{Field, GpuInfo, GpuState};
use crate::tui::app::App;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

#[derive(Debug)]
pub struct GpuPane {
    pub state: GpuState,
    /// Index (in the snapshot's list) of the selected GPU.
    pub selected: usize,
    /// Enter: the selected GPU's full report instead of the one-line list.
    pub detail: bool,
}

impl Default for GpuPane {
    fn default() -> Self {
        GpuPane {
            state: GpuState::Unavailable {
                reason: "probing NVML...".into(),
                hint: String::new(),
            },
            selected: 0,
            detail: false,
        }
    }
}

impl GpuPane {
    fn count(&self) -> usize {
        self.state.snapshot().map_or(0, |s| s.gpus.len())
    }

    pub fn set(&mut self, state: GpuState) {
        self.state = state;
        self.selected = self.selected.min(self.count().saturating_sub(1));
    }
}

pub fn on_action(app: &mut App, action: Action) -> Handled {
    let g = &mut app.gpu;
    let last = g.count().saturating_sub(1);
    match action {
        Action::Down => g.selected = (g.selected + 1).min(last),
        Action::Up => g.selected = g.selected.saturating_sub(1),
        Action::PageDown | Action::Bottom => g.selected = last,
        Action::PageUp | Action::Top => g.selected = 0,
        Action::Open => g.detail = !g.detail,
        Action::Back if g.detail => g.detail = false,
        _ => return Handled::No,
    }
    Handled::Yes
}

/// The full report (all GPUs, as `dockui gpu` prints it), coloured by tone. Container ids can be replaced
/// by names in `state` before calling.
pub fn gpu_lines(state: &GpuState) -> Vec<Line<'static>> {
    styled(report_lines(state, Detail { uuid: false }))
}

fn styled(lines: Vec<crate::gpu::render::ReportLine>) -> Vec<Line<'static>> {
    lines
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

fn value<T>(f: &Field<T>, show: impl Fn(&T) -> String) -> String {
    match f {
        Field::Value(v) => show(v),
        Field::Na(_) => "n/a".into(),
    }
}

/// One GPU on one line: index, name, utilisation, memory, temperature, power, processes.
pub fn one_line(gpu: &GpuInfo) -> String {
    let name = value(&gpu.name, |n| {
        n.trim_start_matches("NVIDIA ")
            .trim_start_matches("GeForce ")
            .to_string()
    });
    let mem = match (&gpu.memory_used_bytes, &gpu.memory_total_bytes) {
        (Field::Value(u), Field::Value(t)) => format!(
            "{}/{}",
            bytes(*u).replace(" GiB", "").replace(" MiB", "M"),
            bytes(*t).replace(" GiB", "G").replace(" MiB", "M")
        ),
        _ => "n/a".into(),
    };
    let procs = match &gpu.processes {
        Field::Value(p) => format!("{}p", p.len()),
        Field::Na(_) => "?p".into(),
    };
    format!(
        "{} {name:<14} {:>4} {mem:>10} {:>5} {:>5} {procs}",
        gpu.index,
        value(&gpu.utilization_pct, |u| format!("{u}%")),
        value(&gpu.temperature_c, |t| format!("{t}°C")),
        value(&gpu.power_w, |w| format!("{w:.0}W")),
    )
}

/// Columns the one-line-per-GPU list needs; None when there is no list (no GPUs or NVML missing).
pub fn width_needed(app: &App) -> Option<usize> {
    let snap = app.gpu.state.snapshot()?;
    snap.gpus
        .iter()
        .map(|g| one_line(g).chars().count())
        .max()
        .map(|w| w.max(34))
}

pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let g = &app.gpu;
    let focused = app.focus == crate::tui::app::Pane::Gpu;
    let lines = match &g.state {
        GpuState::Ready(snap) if g.detail && !snap.gpus.is_empty() => {
            let mut one = snap.clone();
            one.gpus = snap.gpus.iter().skip(g.selected).take(1).cloned().collect();
            let mut out = styled(report_lines(&GpuState::Ready(one), Detail { uuid: true }));
            out.push(Line::styled("Enter/Esc: back to the list", theme.dim()));
            out
        }
        GpuState::Ready(snap) => {
            let mut out = styled(report_lines(
                &GpuState::Ready(crate::gpu::GpuSnapshot {
                    gpus: Vec::new(),
                    ..snap.clone()
                }),
                Detail { uuid: false },
            ));
            out.truncate(1);
            for (i, gpu) in snap.gpus.iter().enumerate() {
                let mut line = Line::from(one_line(gpu));
                if i == g.selected && focused {
                    line = line.style(theme.selected());
                }
                out.push(line);
            }
            if snap.gpus.is_empty() {
                out.push(Line::styled("no GPUs", theme.dim()));
            } else if focused {
                out.push(Line::styled(
                    "Enter: details of the selected GPU",
                    theme.dim(),
                ));
            }
            out
        }
        GpuState::Unavailable { .. } => gpu_lines(&g.state),
    };
    if !theme.mono {
        return lines;
    }
    // Mono: keep emphasis, drop colours.
    lines
        .into_iter()
        .map(|l| {
            let base = Style::default().add_modifier(l.style.add_modifier);
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
            .style(base)
        })
        .collect()
}
