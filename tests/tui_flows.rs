//! Flow tests: key sequences fed to `App::update`, asserting state and the commands it emits (no terminal).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dockui::analyze::{Analysis, Finding, Fix, FixLevel, Severity, Span, TextEdit};
use dockui::engine::{Command, EngineEvent};
use dockui::tui::app::{App, Msg, Output, Pane, Popup};
use std::path::PathBuf;

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}
fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}
fn typed(app: &mut App, s: &str) -> Vec<Command> {
    s.chars().flat_map(|c| app.update(key(c))).collect()
}
fn focus(app: &mut App, pane: Pane) {
    while app.focus != pane {
        app.update(code(KeyCode::Tab));
    }
}

fn app_with_log(lines: &[&str]) -> App {
    let mut app = App::new(
        PathBuf::from("/nonexistent"),
        "unix:///var/run/docker.sock".into(),
    );
    app.update(Msg::Engine(EngineEvent::BuildStarted {
        build_id: "b1".into(),
        attempt: 1,
        max_attempts: 3,
        log_path: PathBuf::from("/nonexistent/attempt-1.log"),
    }));
    app.update(Msg::Engine(EngineEvent::BuildLog(
        lines.iter().map(|s| s.to_string()).collect(),
    )));
    app
}

#[test]
fn search_jumps_with_n_and_filter_shows_only_matches() {
    let mut app = app_with_log(&[
        "Step 1/3 : FROM base",
        "compiling kernels",
        "warning: slow",
        "ERROR: link failed",
        "done",
    ]);
    focus(&mut app, Pane::Log);
    typed(&mut app, "/");
    assert_eq!(app.input.as_deref(), Some(""));
    typed(&mut app, "error|warning");
    app.update(code(KeyCode::Enter));
    assert!(app.input.is_none());
    assert!(app.log.search.is_some());
    typed(&mut app, "n");
    let first = app.log.current_line().cloned().unwrap();
    typed(&mut app, "n");
    let second = app.log.current_line().cloned().unwrap();
    assert_ne!(first, second);
    assert!(
        [&first, &second]
            .iter()
            .all(|l| l.contains("ERROR") || l.contains("warning"))
    );
    typed(&mut app, "f");
    assert_eq!(app.log.visible_indexes().len(), 2);
    // Esc in a new prompt drops the search and the filter.
    typed(&mut app, "/");
    app.update(code(KeyCode::Esc));
    assert!(app.log.search.is_none() && !app.log.filter);
}

#[test]
fn an_invalid_regex_says_so() {
    let mut app = app_with_log(&["x"]);
    focus(&mut app, Pane::Log);
    typed(&mut app, "/(unclosed");
    app.update(code(KeyCode::Enter));
    assert!(
        app.notice
            .as_deref()
            .unwrap_or("")
            .contains("invalid regex"),
        "{:?}",
        app.notice
    );
}

#[test]
fn jump_to_error_and_follow_again() {
    let mut app = app_with_log(&["a", "b", "ERROR: boom", "c", "d"]);
    focus(&mut app, Pane::Log);
    typed(&mut app, "e");
    assert_eq!(app.log.current_line().unwrap(), "ERROR: boom");
    assert!(!app.log.following());
    typed(&mut app, "G");
    assert!(app.log.following());
}

#[test]
fn y_copies_the_selected_finding_through_osc52() {
    let mut app = App::new(PathBuf::from("/x"), "e".into());
    let f = Finding::new(
        dockui::analyze::RuleId::DL3042,
        Severity::Warning,
        "Dockerfile",
        Span {
            line: 12,
            col: 5,
            start: 0,
            end: 0,
        },
        "pip cache",
    );
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings: vec![f],
    }))));
    app.update(key('y'));
    use base64::Engine as _;
    let expected =
        base64::engine::general_purpose::STANDARD.encode("Dockerfile:12:5 DL3042 pip cache");
    assert_eq!(app.outbox, [Output::Osc52(expected)]);
}

#[test]
fn quitting_during_a_build_asks_and_cancels() {
    let mut app = app_with_log(&["Step 1/2 : RUN sleep 100"]);
    assert!(app.build_running());
    assert!(app.update(key('q')).is_empty());
    assert_eq!(app.popup, Some(Popup::ConfirmQuit));
    app.update(key('n'));
    assert_eq!(app.popup, None);
    assert!(!app.should_quit);
    app.update(key('q'));
    let cmds = app.update(key('y'));
    assert!(app.should_quit);
    assert_eq!(cmds, [Command::Cancel]);
}

#[test]
fn readonly_blocks_build_write_and_push() {
    let mut app = App::new(PathBuf::from("/x"), "e".into());
    app.readonly = true;
    assert!(app.update(key('b')).is_empty());
    assert!(app.notice.as_deref().unwrap().contains("read-only"));
    assert!(app.update(key('p')).is_empty());
    focus(&mut app, Pane::Diff);
    assert!(app.update(key('w')).is_empty());
}

#[test]
fn review_decisions_undo_redo_and_write_command() {
    let dir = tempfile::tempdir().unwrap();
    let text = "FROM a\nRUN pip install x\nWORKDIR /w\nRUN pip install y\n";
    std::fs::write(dir.path().join("Dockerfile"), text).unwrap();
    let fix = |at: usize| Fix {
        id: "f".into(),
        level: FixLevel::Safe,
        description: "add --no-cache-dir".into(),
        file: "Dockerfile".into(),
        edits: vec![TextEdit {
            start: at,
            end: at,
            replacement: " --no-cache-dir".into(),
        }],
    };
    let finding = |line, at| {
        Finding::new(
            dockui::analyze::RuleId::DL3042,
            Severity::Warning,
            "Dockerfile",
            Span {
                line,
                col: 1,
                start: 0,
                end: 0,
            },
            "pip",
        )
        .with_fix(fix(at))
    };
    let mut app = App::new(dir.path().to_path_buf(), "e".into());
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings: vec![finding(2, 22), finding(4, 46)],
    }))));
    assert_eq!(app.review.len(), 2);
    focus(&mut app, Pane::Diff);
    app.update(key('y')); // accept hunk 1, cursor to hunk 2
    app.update(key('n')); // reject hunk 2
    app.update(key('u')); // undo the reject
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::CONTROL,
    ))); // redo it
    app.update(key('u')); // and undo again: hunk 2 undecided
    let cmds = app.update(key('w'));
    let expected = text.replacen("pip install x", "pip install --no-cache-dir x", 1);
    assert_eq!(
        cmds,
        [Command::WriteFixes(vec![(
            PathBuf::from("Dockerfile"),
            expected,
            text.to_string()
        )])]
    );
}

#[test]
fn enter_on_a_finding_jumps_to_its_hunk() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM a\nRUN pip install x\n").unwrap();
    let mut f = Finding::new(
        dockui::analyze::RuleId::DL3042,
        Severity::Warning,
        "Dockerfile",
        Span {
            line: 2,
            col: 1,
            start: 0,
            end: 0,
        },
        "pip",
    );
    f.fixes.push(Fix {
        id: "f".into(),
        level: FixLevel::Safe,
        description: "d".into(),
        file: "Dockerfile".into(),
        edits: vec![TextEdit {
            start: 22,
            end: 22,
            replacement: " --no-cache-dir".into(),
        }],
    });
    let mut app = App::new(dir.path().to_path_buf(), "e".into());
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings: vec![f],
    }))));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.focus, Pane::Diff);
}

#[test]
fn zoom_and_mouse_toggles() {
    let mut app = App::new(PathBuf::from("/x"), "e".into());
    app.update(key('z'));
    assert!(app.zoomed);
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('M'),
        KeyModifiers::SHIFT,
    )));
    assert!(app.mouse);
    assert_eq!(app.outbox.last(), Some(&Output::Mouse(true)));
}

#[test]
fn ansi_and_100k_char_lines_are_ingested_cleanly() {
    let long = "x".repeat(100_000);
    let app = app_with_log(&["\x1b[1;31mERROR\x1b[0m red", &long]);
    let lines: Vec<&String> = app.log.shown().collect();
    assert!(lines.iter().any(|l| l.as_str() == "ERROR red"));
    assert!(lines.iter().any(|l| l.len() == 100_000));
    // Drawing it is bounded: the view caps the line.
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    let theme = dockui::tui::theme::Theme {
        mono: true,
        light: false,
    };
    t.draw(|f| dockui::tui::view::draw(&app, &theme, f))
        .unwrap();
}

#[test]
fn status_bar_shows_step_cached_steps_and_attempt() {
    let mut app = app_with_log(&["#1 [1/3] FROM base", "#1 CACHED"]);
    app.update(Msg::Engine(EngineEvent::BuildStep {
        current: 2,
        total: 3,
    }));
    app.update(Msg::Engine(EngineEvent::BuildLog(vec![
        "#2 [2/3] RUN make".into(),
        "#2 CACHED".into(),
    ])));
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 48)).unwrap();
    let theme = dockui::tui::theme::Theme {
        mono: true,
        light: false,
    };
    t.draw(|f| dockui::tui::view::draw(&app, &theme, f))
        .unwrap();
    let screen = t.backend().to_string();
    assert!(
        screen.contains("building: attempt 1/3 step 2/3 (0s, 2 cached)"),
        "{screen}"
    );
    assert!(screen.contains("engine unix:///var/run/docker.sock"));
}
