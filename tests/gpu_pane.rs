//! Snapshots of the GPU pane drawn into a test terminal, and the `dockui gpu` text, from the stand-in
//! library and from the unavailable state.

mod nvml_standin;

use dockui::gpu::{GpuState, probe, render_human};
use dockui::tui::gpu_pane::gpu_lines;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

fn draw(state: &GpuState, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal
        .draw(|f| {
            // Wrapped, as the pane should be: reasons and hints are long.
            let pane = Paragraph::new(gpu_lines(state))
                .wrap(Wrap { trim: false })
                .block(Block::default().borders(Borders::ALL).title(" GPU "));
            f.render_widget(pane, f.area());
        })
        .expect("draw");
    terminal
}

fn unavailable() -> GpuState {
    probe(Some(std::path::Path::new("/nonexistent/libnvidia-ml.so.1")))
}

#[test]
fn pane_from_standin() {
    let standin = nvml_standin::build(&[]);
    let state = probe(Some(&standin.lib));
    insta::assert_snapshot!(draw(&state, 80, 14).backend());
}

#[test]
fn pane_with_missing_optional_symbols() {
    let standin = nvml_standin::build(&["MISSING_OPTIONAL"]);
    let state = probe(Some(&standin.lib));
    let terminal = draw(&state, 96, 16);
    insta::assert_snapshot!(terminal.backend());
    // n/a values are dimmed, not drawn like real values.
    let buf = terminal.backend().buffer();
    let row = (0..buf.area.height)
        .find(|y| {
            let line: String = (0..buf.area.width).map(|x| buf[(x, *y)].symbol()).collect();
            line.contains("temp n/a")
        })
        .expect("a row with temp n/a");
    let line: String = (0..buf.area.width)
        .map(|x| buf[(x, row)].symbol())
        .collect();
    let col = line.find("temp n/a").expect("col") + "temp ".len();
    // `find` gives a byte offset; the row is ASCII up to there.
    assert_eq!(buf[(col as u16, row)].fg, Color::DarkGray);
}

#[test]
fn pane_unavailable() {
    insta::assert_snapshot!(draw(&unavailable(), 80, 8).backend());
}

#[test]
fn human_text_from_standin() {
    let standin = nvml_standin::build(&[]);
    insta::assert_snapshot!(render_human(&probe(Some(&standin.lib))));
}

#[test]
fn human_text_unavailable() {
    insta::assert_snapshot!(render_human(&unavailable()));
}
