//! Snapshots of every pane and popup at 80x24 (one pane at a time, tabs) and 160x48 (all panes), in mono
//! (text) and dark (a colour map: one letter per cell's foreground colour).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dockui::analyze::{Analysis, Finding, Fix, FixLevel, Severity, Span, TextEdit};
use dockui::classify;
use dockui::engine::EngineEvent;
use dockui::engine::smoke::{SmokeResult, SmokeStatus};
use dockui::tui::app::{App, Msg, Pane};
use dockui::tui::theme::Theme;
use dockui::tui::view;
use ratatui::style::Color;
use ratatui::{Terminal, backend::TestBackend};
use std::path::PathBuf;

const MONO: Theme = Theme {
    mono: true,
    light: false,
};
const DARK: Theme = Theme {
    mono: false,
    light: false,
};

/// A project dir that lives as long as the test (the diff pane reads the file it proposes to change).
fn project() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("panes").tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN pip install -r requirements.txt\nCMD [\"python\", \"serve.py\"]\n").unwrap();
    dir
}

fn busy_app(dir: &std::path::Path) -> App {
    let mut app = App::new(dir.to_path_buf(), "unix:///var/run/docker.sock".into());
    app.gpu.state =
        dockui::gpu::probe(Some(std::path::Path::new("/nonexistent/libnvidia-ml.so.1")));
    app.update(Msg::Engine(EngineEvent::Engine(Ok(
        dockui::docker::EngineInfo {
            endpoint: "unix:///var/run/docker.sock".into(),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            ..Default::default()
        },
    ))));
    let fix = Fix {
        id: "DL3042".into(),
        level: FixLevel::Safe,
        description: "Add --no-cache-dir".into(),
        file: "Dockerfile".into(),
        edits: vec![TextEdit {
            start: 66,
            end: 66,
            replacement: " --no-cache-dir".into(),
        }],
    };
    let findings = vec![
        Finding::new(
            dockui::analyze::RuleId::DL3042,
            Severity::Warning,
            "Dockerfile",
            Span {
                line: 2,
                col: 5,
                start: 0,
                end: 0,
            },
            "pip install without --no-cache-dir",
        )
        .why("pip keeps wheels in the layer.")
        .with_fix(fix),
        Finding::new(
            dockui::analyze::RuleId::DU201,
            Severity::Error,
            "requirements.txt",
            Span {
                line: 2,
                col: 1,
                start: 0,
                end: 0,
            },
            "torch 2.7.1 installs cu126; base has CUDA 12.4",
        )
        .fact("torch 2.7 ships cu118/cu126/cu128"),
    ];
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings,
    }))));
    app.update(Msg::Engine(EngineEvent::BuildStarted {
        build_id: "20261123-120000-1-0".into(),
        attempt: 1,
        max_attempts: 3,
        log_path: PathBuf::from("/var/lib/dockui/attempt-1.log"),
        platform: None,
    }));
    let log = [
        "#1 [1/3] FROM pytorch/pytorch:2.5.1",
        "#1 CACHED",
        "#2 [2/3] RUN pip install -r requirements.txt",
        "#2 Collecting torch==2.7.1",
        "#2 ERROR: No space left on device",
    ];
    app.update(Msg::Engine(EngineEvent::BuildLog(
        log.iter().map(|s| s.to_string()).collect(),
    )));
    let lines: Vec<&str> = log.to_vec();
    if let Some(d) = classify::classify(&lines) {
        app.update(Msg::Engine(EngineEvent::Diagnosis(Box::new(d))));
    }
    app.update(Msg::Engine(EngineEvent::SmokeStarted(vec![
        "python imports: torch".into(),
        "scripts/container_smoke.sh".into(),
    ])));
    app.update(Msg::Engine(EngineEvent::Smoke(Box::new(SmokeResult {
        name: "python imports: torch".into(),
        command: "python -c 'import torch'".into(),
        status: SmokeStatus::Failed,
        exit_code: Some(1),
        duration_s: 0.4,
        output: "ModuleNotFoundError: No module named 'torch'".into(),
        diagnosis: None,
    }))));
    app
}

fn render(app: &App, theme: Theme, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, &theme, f)).unwrap();
    t
}

fn colour_map(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            out.push(match c.fg {
                Color::Red => 'r',
                Color::Green => 'g',
                Color::Yellow => 'y',
                Color::Cyan => 'c',
                Color::Blue => 'b',
                Color::DarkGray => 'd',
                Color::White => 'w',
                Color::Black => 'k',
                _ if c.symbol() == " " => ' ',
                _ => '.',
            });
        }
        out.push('\n');
    }
    out
}

#[test]
fn all_panes_160x48() {
    let dir = project();
    let app = busy_app(dir.path());
    let t = render(&app, MONO, 160, 48);
    insta::assert_snapshot!(
        "all_panes_160x48_mono",
        t.backend()
            .to_string()
            .replace(dir.path().to_str().unwrap(), "<project>")
    );
    insta::assert_snapshot!(
        "all_panes_160x48_dark_colours",
        colour_map(&render(&app, DARK, 160, 48))
    );
}

#[test]
fn each_pane_80x24() {
    let dir = project();
    let mut app = busy_app(dir.path());
    for pane in Pane::ALL {
        while app.focus != pane {
            app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
        }
        let name = pane.title().to_lowercase().replace(' ', "_");
        insta::assert_snapshot!(
            format!("pane_{name}_80x24_mono"),
            render(&app, MONO, 80, 24).backend().to_string()
        );
        insta::assert_snapshot!(
            format!("pane_{name}_80x24_dark_colours"),
            colour_map(&render(&app, DARK, 80, 24))
        );
    }
}

#[test]
fn popups_at_both_sizes() {
    let dir = project();
    let mut app = busy_app(dir.path());
    // Help for the log pane (its own keys first).
    while app.focus != Pane::Log {
        app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    }
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('?'),
        KeyModifiers::NONE,
    )));
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(
            format!("help_log_{w}x{h}"),
            render(&app, MONO, w, h).backend().to_string()
        );
    }
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    // Quit while building asks first.
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('q'),
        KeyModifiers::NONE,
    )));
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(
            format!("confirm_quit_{w}x{h}"),
            render(&app, MONO, w, h).backend().to_string()
        );
    }
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('n'),
        KeyModifiers::NONE,
    )));
    // The hunk editor.
    while app.focus != Pane::Diff {
        app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    }
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('e'),
        KeyModifiers::NONE,
    )));
    assert!(app.editor.is_some());
    for (w, h) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(
            format!("editor_{w}x{h}"),
            render(&app, MONO, w, h).backend().to_string()
        );
    }
}

#[test]
fn dark_theme_colours_where_they_matter() {
    let dir = project();
    let app = busy_app(dir.path());
    let t = render(&app, DARK, 160, 48);
    let buf = t.backend().buffer();
    // The focused pane's border is cyan; the error finding's mark is red.
    assert_eq!(buf[(0, 0)].fg, Color::Cyan);
    let row = (0..48)
        .find(|&y| {
            (0..70)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .contains("DU201")
        })
        .unwrap();
    assert!((0..70).any(|x| buf[(x, row)].fg == Color::Red));
}

mod nvml_standin;

/// An 8-GPU box (the NVML stand-in built with EIGHT_GPUS) in the default layout at 160x48: one line per GPU,
/// all eight visible; Enter shows the selected GPU's full report.
#[test]
fn eight_gpus_fit_at_160x48_with_a_detail_view() {
    let lib = nvml_standin::build(&["EIGHT_GPUS"]);
    let dir = project();
    let mut app = busy_app(dir.path());
    app.gpu.state = dockui::gpu::probe(Some(&lib.lib));
    let t = render(&app, MONO, 160, 48);
    let screen = t.backend().to_string();
    for i in 0..8 {
        let row = format!("│{i} H100 80GB HBM3");
        let row_5090 = format!("│{i} RTX 5090");
        assert!(
            screen.contains(&row) || screen.contains(&row_5090),
            "GPU {i} missing:\n{screen}"
        );
    }
    insta::assert_snapshot!(
        "eight_gpus_160x48_mono",
        screen.replace(dir.path().to_str().unwrap(), "<project>")
    );
    while app.focus != Pane::Gpu {
        app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    }
    for _ in 0..3 {
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('j'),
            KeyModifiers::NONE,
        )));
    }
    app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    let screen = render(&app, MONO, 160, 48).backend().to_string();
    assert!(screen.contains("GPU 3 "), "{screen}");
    assert!(
        !screen.contains("GPU 2 ") && !screen.contains("GPU 4 "),
        "{screen}"
    );
    insta::assert_snapshot!(
        "gpu_detail_80x24_mono",
        render(&app, MONO, 80, 24).backend().to_string()
    );
}

/// The Smoke pane with a check expanded (Enter): its whole output.
#[test]
fn smoke_check_expanded_80x24() {
    let dir = project();
    let mut app = busy_app(dir.path());
    while app.focus != Pane::Smoke {
        app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    }
    app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    insta::assert_snapshot!(
        "smoke_expanded_80x24_mono",
        render(&app, MONO, 80, 24).backend().to_string()
    );
}
