//! Layout snapshots at 80x24 and 160x48, from fixed app states (no engine, no clock).

use dockui::analyze::{Analysis, Finding, Severity, Span};
use dockui::docker::EngineInfo;
use dockui::engine::EngineEvent;
use dockui::gpu::GpuState;
use dockui::tui::app::{App, Msg};
use dockui::tui::theme::Theme;
use dockui::tui::view;
use ratatui::{Terminal, backend::TestBackend};
use std::path::PathBuf;

fn sample_app() -> App {
    let mut app = App::new(
        PathBuf::from("/nonexistent/demo"),
        "unix:///var/run/docker.sock".into(),
    );
    app.update(Msg::Engine(EngineEvent::Engine(Ok(EngineInfo {
        endpoint: "unix:///var/run/docker.sock".into(),
        version: "20.10.24".into(),
        api_version: "1.41".into(),
        ..Default::default()
    }))));
    let span = |line| Span {
        line,
        col: 1,
        start: 0,
        end: 0,
    };
    let analysis = Analysis {
        files: vec!["Dockerfile".into(), "requirements.txt".into()],
        findings: vec![
            Finding::new(
                dockui::analyze::RuleId::DU101,
                Severity::Error,
                "Dockerfile",
                span(9),
                "apt-get install without DEBIAN_FRONTEND=noninteractive",
            )
            .why("tzdata prompts on stdin; the build hangs."),
            Finding::new(
                dockui::analyze::RuleId::DL3042,
                Severity::Warning,
                "Dockerfile",
                span(12),
                "pip install without --no-cache-dir",
            ),
            Finding::new(
                dockui::analyze::RuleId::DU201,
                Severity::Error,
                "requirements.txt",
                span(2),
                "torch==2.7.1 over a pytorch 2.5.1 base",
            )
            .fact("base image ships torch 2.5.1"),
        ],
    };
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(analysis))));
    // The real probe's answer when the library is missing (a fixed path, so the text is the same everywhere).
    app.gpu.state =
        dockui::gpu::probe(Some(std::path::Path::new("/nonexistent/libnvidia-ml.so.1")));
    assert!(matches!(app.gpu.state, GpuState::Unavailable { .. }));
    app
}

fn render(app: &App, theme: Theme, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::draw(app, &theme, f)).unwrap();
    terminal.backend().to_string()
}

const MONO: Theme = Theme {
    mono: true,
    light: false,
};

#[test]
fn layout_80x24() {
    insta::assert_snapshot!(render(&sample_app(), MONO, 80, 24));
}

#[test]
fn layout_160x48() {
    insta::assert_snapshot!(render(&sample_app(), MONO, 160, 48));
}

#[test]
fn help_popup_160x48() {
    let mut app = sample_app();
    app.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('?'),
    )));
    insta::assert_snapshot!(render(&app, MONO, 160, 48));
}

#[test]
fn engine_unreachable_says_where_and_why() {
    let mut app = App::new(PathBuf::from("/x"), "unix:///var/run/docker.sock".into());
    app.update(Msg::Engine(EngineEvent::Engine(Err(
        dockui::docker::DockerError::Unreachable {
            endpoint: "unix:///var/run/docker.sock".into(),
            reason: "No such file or directory".into(),
        },
    ))));
    let screen = render(&app, MONO, 160, 48);
    assert!(
        screen.contains(
            "Docker engine not reachable at unix:///var/run/docker.sock: No such file or directory"
        ),
        "{screen}"
    );
}

#[test]
fn all_six_pane_titles_at_both_sizes() {
    for (w, h) in [(80, 24), (160, 48)] {
        let screen = render(&sample_app(), MONO, w, h);
        for title in [
            "Conflicts",
            "Proposed diff",
            "Build log",
            "GPU",
            "Smoke",
            "Digest",
        ] {
            assert!(screen.contains(title), "{w}x{h} lacks {title}:\n{screen}");
        }
    }
}
