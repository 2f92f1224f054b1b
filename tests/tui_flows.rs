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
        platform: None,
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
    assert_eq!(app.log.input.as_deref(), Some(""));
    typed(&mut app, "error|warning");
    app.update(code(KeyCode::Enter));
    assert!(app.log.input.is_none());
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
    // One line that says what is wrong, not just regex's first line ("regex parse error:").
    assert_eq!(
        app.notice.as_deref(),
        Some("invalid regex /(unclosed: unclosed group")
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

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    let theme = dockui::tui::theme::Theme {
        mono: true,
        light: false,
    };
    t.draw(|f| dockui::tui::view::draw(app, &theme, f)).unwrap();
    // One string per row, without the quotes TestBackend's Display adds.
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The focused pane alone (80x24 shows one pane), its rows joined: wrapped text reads as one line.
fn pane_text(app: &mut App, pane: Pane) -> String {
    focus(app, pane);
    let s = screen(app, 80, 24).replace('│', " ");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("line {i:03}")).collect()
}

#[test]
fn g_shows_a_full_page_from_the_first_line_and_j_moves_it() {
    let lines = numbered(300);
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut app = app_with_log(&refs);
    focus(&mut app, Pane::Log);
    let s = screen(&app, 160, 48);
    assert!(s.contains("line 299"), "{s}");
    app.update(key('g'));
    let s = screen(&app, 160, 48);
    // The header line (=== attempt ...) is the log's first line; a whole page follows it.
    assert!(s.contains("=== attempt 1/3"), "{s}");
    assert!(
        s.contains("line 000") && s.contains("line 020"),
        "g shows a full page:\n{s}"
    );
    app.update(key('j'));
    let s = screen(&app, 160, 48);
    assert!(
        !s.contains("=== attempt 1/3"),
        "j moves the page by one line:\n{s}"
    );
    assert!(s.contains("line 000"), "{s}");
    app.update(key('G'));
    assert!(app.log.following());
}

#[test]
fn filter_shows_every_match_at_once_and_g_keeps_them() {
    let mut lines = numbered(200);
    for i in [10, 40, 80, 120, 160, 190] {
        lines[i] = format!("line {i:03} MATCH here");
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut app = app_with_log(&refs);
    focus(&mut app, Pane::Log);
    screen(&app, 160, 48);
    typed(&mut app, "/MATCH");
    app.update(code(KeyCode::Enter));
    // n wraps to the first match; the view sits on it.
    typed(&mut app, "n");
    assert_eq!(app.log.current_line().unwrap(), "line 010 MATCH here");
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("(match 1 of 6)"),
        "search shows match k of n:\n{s}"
    );
    typed(&mut app, "n");
    assert!(screen(&app, 160, 48).contains("(match 2 of 6)"));
    typed(&mut app, "f");
    let s = screen(&app, 160, 48);
    let shown = s.matches("MATCH here").count();
    assert_eq!(shown, 6, "the filter shows all six matches at once:\n{s}");
    typed(&mut app, "g");
    let s = screen(&app, 160, 48);
    assert_eq!(
        s.matches("MATCH here").count(),
        6,
        "g with the filter:\n{s}"
    );
    typed(&mut app, "j");
    assert!(screen(&app, 160, 48).contains("(6 matches)"));
}

fn severity_app() -> App {
    let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
    let f = |rule: &str, sev, line| {
        Finding::new(
            dockui::analyze::RuleId::parse(rule).expect("a known rule"),
            sev,
            "Dockerfile",
            Span {
                line,
                col: 1,
                start: 0,
                end: 0,
            },
            format!("{rule} message"),
        )
    };
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings: vec![
            f("DU101", Severity::Error, 1),
            f("DL3042", Severity::Warning, 2),
            f("DL3008", Severity::Warning, 3),
            f("DL4000", Severity::Info, 4),
            f("DL4001", Severity::Style, 5),
        ],
    }))));
    app
}

#[test]
fn conflicts_count_per_severity_and_f_filters_by_severity() {
    let mut app = severity_app();
    let s = screen(&app, 160, 48);
    assert!(s.contains("Conflicts E1 W2 I1 S1"), "{s}");
    assert!(s.contains("DL4001 message"));
    app.update(key('f'));
    let s = screen(&app, 160, 48);
    assert!(s.contains("[warnings and errors]"), "{s}");
    assert!(
        s.contains("DL3008 message")
            && !s.contains("DL4001 message")
            && !s.contains("DL4000 message")
    );
    app.update(key('f'));
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("[errors only]") && s.contains("DU101 message"),
        "{s}"
    );
    assert!(!s.contains("DL3042 message"), "{s}");
    // j stays on what is shown.
    app.update(key('j'));
    assert_eq!(app.selected_finding().unwrap().rule.to_string(), "DU101");
    app.update(key('f'));
    app.update(key('j'));
    assert_eq!(app.selected_finding().unwrap().rule.to_string(), "DL3042");
}

#[test]
fn capital_a_accepts_every_hunk_of_the_cursor_level() {
    let dir = tempfile::tempdir().unwrap();
    // Safe fixes (pip --no-cache-dir) and suggestions (pipefail, JSON CMD), apart so hunks stay separate.
    let gap = "ENV A=1\n".repeat(6);
    let text = format!(
        "FROM python:3.11-slim\nRUN pip install flask==3.0.0\n{gap}RUN pip install requests==2.32.0\n{gap}RUN curl -sSL https://example.com/x | sh\n{gap}CMD python app.py\n"
    );
    std::fs::write(dir.path().join("Dockerfile"), &text).unwrap();
    let mut app = App::new(dir.path().to_path_buf(), "e".into());
    // The planner plans from the files on disk; the event only triggers it.
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings: vec![],
    }))));
    let levels: Vec<FixLevel> = app.review.hunks().map(|(_, h)| h.level).collect();
    let level = levels[0];
    let same = levels.iter().filter(|l| **l == level).count();
    assert!(
        same >= 2 && same < levels.len(),
        "need two levels, several of one: {levels:?}"
    );
    focus(&mut app, Pane::Diff);
    app.update(key('A'));
    let name = format!("{level:?}").to_lowercase();
    assert!(
        app.notice
            .as_deref()
            .unwrap()
            .contains(&format!("accepted {same} {name}")),
        "{:?}",
        app.notice
    );
    for (_, h) in app.review.hunks() {
        let accepted = app.review.decision(h.id).is_some();
        assert_eq!(accepted, h.level == level, "{:?} {:?}", h.level, h.sources);
    }
    // u takes them back one by one.
    app.update(key('u'));
    let decided = app
        .review
        .hunks()
        .filter(|(_, h)| app.review.decision(h.id).is_some())
        .count();
    assert!(decided < same);
}

fn smoke_result(
    name: &str,
    status: dockui::engine::smoke::SmokeStatus,
    output: &str,
) -> dockui::engine::smoke::SmokeResult {
    dockui::engine::smoke::SmokeResult {
        name: name.into(),
        command: format!("run {name}"),
        status,
        exit_code: Some(if status == dockui::engine::smoke::SmokeStatus::Passed {
            0
        } else {
            1
        }),
        duration_s: 0.2,
        output: output.into(),
        diagnosis: None,
        engine_lost: false,
    }
}

#[test]
fn enter_on_a_smoke_check_shows_its_whole_output() {
    use dockui::engine::smoke::SmokeStatus;
    let mut app = app_with_log(&["x"]);
    app.update(Msg::Engine(EngineEvent::SmokeStarted(vec![
        "imports".into(),
        "script".into(),
    ])));
    app.update(Msg::Engine(EngineEvent::Smoke(Box::new(smoke_result(
        "imports",
        SmokeStatus::Passed,
        "ok",
    )))));
    let out: String = (1..=12).map(|i| format!("out line {i}\n")).collect();
    app.update(Msg::Engine(EngineEvent::Smoke(Box::new(smoke_result(
        "script",
        SmokeStatus::Failed,
        &out,
    )))));
    focus(&mut app, Pane::Smoke);
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("out line 12") && !s.contains("out line 1\n") && !s.contains("out line 5"),
        "{s}"
    );
    app.update(key('j'));
    app.update(code(KeyCode::Enter));
    let s = screen(&app, 160, 48);
    for i in 1..=12 {
        assert!(
            s.contains(&format!("out line {i} ")) || s.contains(&format!("out line {i}│")),
            "line {i} missing:\n{s}"
        );
    }
    assert!(s.contains("$ run script"), "{s}");
    app.update(code(KeyCode::Enter));
    assert!(!screen(&app, 160, 48).contains("out line 5"));
}

fn outcome(
    success: bool,
    smoke: Vec<dockui::engine::smoke::SmokeResult>,
) -> dockui::engine::BuildOutcome {
    dockui::engine::BuildOutcome {
        build_id: "b1".into(),
        success,
        image: "demo:latest".into(),
        image_id: Some("sha256:abc".into()),
        smoke,
        ..Default::default()
    }
}

#[test]
fn push_after_failed_smoke_tests_asks_and_the_result_is_marked() {
    use dockui::engine::smoke::SmokeStatus;
    let mut app = app_with_log(&["x"]);
    let failed = smoke_result(
        "python imports: torch",
        SmokeStatus::Failed,
        "ModuleNotFoundError",
    );
    app.update(Msg::Engine(EngineEvent::BuildFinished(Box::new(outcome(
        false,
        vec![failed],
    )))));
    // The image exists: the Digest pane names it and what p will do.
    let s = pane_text(&mut app, Pane::Digest);
    assert!(
        s.contains("demo:latest") && s.contains("its smoke tests failed: p asks"),
        "{s}"
    );
    assert!(!s.contains("no image built"), "{s}");
    assert!(app.update(key('p')).is_empty(), "no push without a yes");
    assert_eq!(app.popup, Some(Popup::ConfirmPush));
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("smoke tests of demo:latest failed: python imports: torch"),
        "{s}"
    );
    assert!(!s.contains("build first"), "{s}");
    // Anything but y keeps the image.
    assert!(app.update(key('n')).is_empty());
    assert_eq!(app.popup, None);
    app.update(key('p'));
    assert_eq!(app.update(key('y')), [Command::Push("demo:latest".into())]);
    let report = dockui::registry::report::PushReport {
        image: "demo:latest".into(),
        repository: "127.0.0.1:5001/demo".into(),
        ..Default::default()
    };
    app.update(Msg::Engine(EngineEvent::PushFinished(Box::new(report))));
    let s = pane_text(&mut app, Pane::Digest);
    assert!(
        s.contains("pushed although its smoke tests failed: python imports: torch"),
        "{s}"
    );
    // The Smoke pane shows the outcome's checks.
    assert!(pane_text(&mut app, Pane::Smoke).contains("✗ python imports: torch"));
    // A forced push the registry refused: nothing was pushed, and the pane does not say it was.
    app.update(key('p'));
    app.update(key('y'));
    let refused = dockui::registry::report::PushReport {
        image: "demo:latest".into(),
        repository: "127.0.0.1:5001/demo".into(),
        error: Some("unauthorized: authentication required".into()),
        ..Default::default()
    };
    app.update(Msg::Engine(EngineEvent::PushFinished(Box::new(refused))));
    let s = pane_text(&mut app, Pane::Digest);
    assert!(s.contains("push failed: unauthorized"), "{s}");
    assert!(!s.contains("pushed although"), "{s}");
}

#[test]
fn push_without_a_build_in_this_session_pushes_the_last_successful_one() {
    let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
    assert_eq!(app.update(key('p')), [Command::PushLatest]);
    assert!(
        !app.notice
            .as_deref()
            .unwrap_or_default()
            .contains("build first")
    );
    // The engine answers with an error report when the history has none: the Digest pane says so.
    let report = dockui::registry::report::PushReport {
        image: "demo".into(),
        error: Some("no successful build of demo in the history - build first (b)".into()),
        ..Default::default()
    };
    app.update(Msg::Engine(EngineEvent::PushFinished(Box::new(report))));
    let s = pane_text(&mut app, Pane::Digest);
    assert!(
        s.contains("no successful build of demo in the history"),
        "{s}"
    );
}

#[test]
fn r_rereads_the_configuration() {
    let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
    assert_eq!(app.update(key('r')), [Command::Reload]);
}

#[test]
fn the_history_popup_opens_a_past_build_log() {
    let builds = tempfile::tempdir().unwrap();
    for (id, text) in [
        ("20261130-100000-1-1", "old build line\n"),
        ("20261130-110000-1-1", "newer line A\nnewer line B\n"),
    ] {
        let d = builds.path().join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("attempt-1.log"), text).unwrap();
    }
    let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
    app.builds_dir = Some(builds.path().to_path_buf());
    assert_eq!(app.update(key('h')), [Command::History]);
    app.update(Msg::Engine(EngineEvent::History(
        dockui::engine::history::list(builds.path()),
    )));
    assert_eq!(app.popup, Some(Popup::History));
    app.update(key('j'));
    app.update(code(KeyCode::Enter));
    assert_eq!(app.popup, None);
    assert_eq!(app.focus, Pane::Log);
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("old build line") && s.contains("[build 20261130-100000-1-1]"),
        "{s}"
    );
    // A History event nobody asked for (e.g. at start) does not open the popup.
    app.update(Msg::Engine(EngineEvent::History(vec![])));
    assert_eq!(app.popup, None);
}

#[test]
fn the_80x24_status_bar_keeps_the_build_state_and_help() {
    let mut app = app_with_log(&["x"]);
    app.update(Msg::Engine(EngineEvent::Engine(Ok(
        dockui::docker::EngineInfo {
            endpoint: "unix:///var/run/docker.sock".into(),
            version: "20.10.24".into(),
            api_version: "1.41".into(),
            ..Default::default()
        },
    ))));
    app.notice =
        Some("a rather long notice that would push everything else off the status bar".into());
    let s = screen(&app, 80, 24);
    let status = s.lines().last().unwrap();
    assert!(status.contains("building: attempt 1/3"), "{status}");
    assert!(status.trim_end().ends_with("? help"), "{status}");
}

#[test]
fn help_adapts_to_the_width_and_never_cuts_text() {
    let mut app = severity_app();
    focus(&mut app, Pane::Diff);
    app.update(key('?'));
    let s = screen(&app, 100, 60);
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('│', " ");
    let flat: String = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    for b in &app.keymap.bindings {
        if b.pane.as_deref().is_some_and(|p| p != "diff") {
            continue;
        }
        // Every word of every description is on screen (wrapped, never cut).
        for w in b.desc.split_whitespace() {
            assert!(flat.contains(w), "{w:?} of {:?} missing:\n{s}", b.desc);
        }
    }
}

#[test]
fn findings_get_their_width_while_the_log_is_idle_and_details_wrap_fully() {
    let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
    let long = "pip install without --no-cache-dir keeps every downloaded wheel in the image layer for ever and ever";
    let fix = Fix {
        id: "f".into(),
        level: FixLevel::Safe,
        description: "Add --no-cache-dir to every pip install in this RUN so no wheel cache stays in the layer (saves hundreds of MB)".into(),
        file: "Dockerfile".into(),
        edits: vec![],
    };
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings: vec![
            Finding::new(
                dockui::analyze::RuleId::DL3042,
                Severity::Warning,
                "Dockerfile",
                Span {
                    line: 2,
                    col: 1,
                    start: 0,
                    end: 0,
                },
                long,
            )
            .with_fix(fix),
        ],
    }))));
    let s = screen(&app, 160, 48);
    assert!(
        s.contains(long),
        "the whole finding on its row at 160x48 with an idle log:\n{s}"
    );
    let flat = s.replace('│', " ");
    let flat: String = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("(saves hundreds of MB)"),
        "the fix line is not cut:\n{s}"
    );
}

#[test]
fn results_on_the_standin_base_are_marked_in_the_smoke_pane() {
    use dockui::engine::smoke::SmokeStatus;
    let mut app = app_with_log(&["x"]);
    app.update(Msg::Engine(EngineEvent::SmokeStarted(vec![
        "python imports: torch".into(),
    ])));
    let passed = smoke_result("python imports: torch", SmokeStatus::Passed, "ok");
    app.update(Msg::Engine(EngineEvent::Smoke(Box::new(passed.clone()))));
    let mut o = outcome(true, vec![passed]);
    o.standin = true;
    app.update(Msg::Engine(EngineEvent::BuildFinished(Box::new(o))));
    let s = pane_text(&mut app, Pane::Smoke);
    assert!(s.contains("Smoke (stand-in base)"), "{s}");
    assert!(
        s.contains("✓ python imports: torch (passed, stand-in"),
        "{s}"
    );
    assert!(s.contains("not the real image"), "{s}");
    // A real base: no mark.
    let mut app = app_with_log(&["x"]);
    let passed = smoke_result("python imports: torch", SmokeStatus::Passed, "ok");
    app.update(Msg::Engine(EngineEvent::BuildFinished(Box::new(outcome(
        true,
        vec![passed],
    )))));
    assert!(!pane_text(&mut app, Pane::Smoke).contains("stand-in"));
}

#[test]
fn the_selected_findings_fix_line_is_not_cut_in_a_full_list() {
    let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
    let mut findings: Vec<Finding> = (1..=15)
        .map(|i| {
            Finding::new(
                dockui::analyze::RuleId::DL3042,
                Severity::Warning,
                "Dockerfile",
                Span {
                    line: i,
                    col: 1,
                    start: 0,
                    end: 0,
                },
                format!("finding number {i}"),
            )
        })
        .collect();
    findings[0] = findings[0]
        .clone()
        .why("a why that is long enough to wrap over several rows of an 80-column pane, and then some more words")
        .fact("a fact that also wraps over more than one row in an 80 column terminal, to take rows")
        .with_fix(Fix {
            id: "f".into(),
            level: FixLevel::Safe,
            description: "a fix description long enough to wrap as well, ending in THE-LAST-WORD".into(),
            file: "Dockerfile".into(),
            edits: vec![],
        });
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
        files: vec![],
        findings,
    }))));
    let s = screen(&app, 80, 24);
    assert!(s.contains("THE-LAST-WORD"), "{s}");
}

#[test]
fn a_fix_the_planner_holds_says_why_instead_of_all_fixes_are_written() {
    use ratatui::{Terminal, backend::TestBackend};
    let dir = tempfile::tempdir().unwrap();
    // Latin-1 in a comment: dockui reads the file, finds DL3042 with a fix, and never rewrites the file.
    std::fs::write(
        dir.path().join("Dockerfile"),
        b"FROM python:3.11-slim\n# caf\xe9\nRUN pip install flask\n",
    )
    .unwrap();
    let analysis = dockui::analyze::analyze_project(dir.path(), &Default::default()).unwrap();
    assert!(
        analysis
            .findings
            .iter()
            .any(|f| f.rule == "DL3042" && !f.fixes.is_empty())
    );
    let mut app = App::new(dir.path().to_path_buf(), "e".into());
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(analysis))));
    assert_eq!(app.review.len(), 0, "nothing can be proposed");
    focus(&mut app, Pane::Diff);
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    let theme = dockui::tui::theme::Theme::from_config("mono");
    terminal
        .draw(|f| dockui::tui::view::draw(&app, &theme, f))
        .unwrap();
    let screen = terminal.backend().to_string();
    assert!(!screen.contains("all fixes are written"), "{screen}");
    assert!(screen.contains("no fix can be proposed"), "{screen}");
    assert!(screen.contains("not valid UTF-8"), "{screen}");
    // Enter on the finding says the same instead of "has no fix to review".
    focus(&mut app, Pane::Conflicts);
    while app.selected_finding().is_some_and(|f| f.rule != "DL3042") {
        app.update(key('j'));
    }
    app.update(code(KeyCode::Enter));
    let notice = app.notice.clone().unwrap_or_default();
    assert!(
        notice.contains("its fix is not proposed") && notice.contains("UTF-8"),
        "{notice}"
    );
}

/// The auditor's project: a torchvision pin that does not match torch 2.5.1 (DU202), among apt and pip fixes.
fn auditor_project(dir: &std::path::Path) {
    std::fs::write(
        dir.join("Dockerfile"),
        "ARG BASE_IMAGE=dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nFROM ${BASE_IMAGE}\nRUN apt-get update && apt-get install curl\nWORKDIR /app\nCOPY requirements.txt /app/requirements.txt\nRUN pip install -r requirements.txt\nCOPY train.py /app/train.py\nCMD [\"python\", \"train.py\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("requirements.txt"),
        "torch==2.5.1\ntorchvision==0.21.0\nnumpy\n",
    )
    .unwrap();
    std::fs::write(dir.join("train.py"), "print('train')\n").unwrap();
}

/// An app on a real project, analysed and planned as the TUI does (the planner inline).
fn analysed_app(dir: &std::path::Path) -> App {
    let analysis = dockui::analyze::analyze_project(dir, &Default::default()).unwrap();
    let mut app = App::new(dir.to_path_buf(), "unix:///var/run/docker.sock".into());
    app.update(Msg::Engine(EngineEvent::Analysis(Ok(analysis))));
    app
}

/// Every changed line of the selected hunk is on the screen (as much of it as the pane's width shows).
fn assert_hunk_shown(app: &App, s: &str, w: u16) {
    let (_, h) = app.review.current().expect("a selected hunk");
    let shown = |sign: char, l: &String| {
        let text: String = format!("{sign}{}", l.trim_end_matches('\n'))
            .chars()
            .take(w as usize / 2 - 4)
            .collect();
        assert!(s.contains(&text), "{text:?} is not shown:\n{s}");
    };
    h.old_lines.iter().for_each(|l| shown('-', l));
    h.new_lines.iter().for_each(|l| shown('+', l));
}

/// The selected hunk's changed lines were left below the pane's bottom when its header was on the last rows
/// (Enter on DU202, or G on the last hunk), and no key showed them but `z`: `y` accepted a change the user
/// could not see (auditor). Now the whole hunk is in view, and the keys stay on the pane's last row.
#[test]
fn the_selected_hunk_is_shown_whole_and_the_keys_stay_under_it() {
    let dir = tempfile::tempdir().unwrap();
    auditor_project(dir.path());
    for (w, h) in [(160, 48), (80, 24), (100, 28)] {
        let mut app = analysed_app(dir.path());
        while app.selected_finding().is_some_and(|f| f.rule != "DU202") {
            app.update(key('j'));
        }
        app.update(code(KeyCode::Enter));
        assert_eq!(app.focus, Pane::Diff, "{:?}", app.notice);
        let s = screen(&app, w, h);
        assert!(
            s.contains("-torchvision==0.21.0") && s.contains("+torchvision==0.20.*"),
            "{w}x{h}:\n{s}"
        );
        assert!(s.contains("y accept"), "{w}x{h}:\n{s}");
        // Every hunk, from the first to the last, with j and with G.
        app.update(key('g'));
        for i in 0..app.review.len() {
            assert_eq!(app.review.cursor, i);
            let s = screen(&app, w, h);
            assert_hunk_shown(&app, &s, w);
            assert!(s.contains("y accept"), "{w}x{h} hunk {i}:\n{s}");
            app.update(key('j'));
        }
        app.update(key('g'));
        app.update(key('G'));
        assert_hunk_shown(&app, &screen(&app, w, h), w);
    }

    // The demo: G on the torch 2.7.1 -> 2.5.1 hunk.
    let demo = tempfile::tempdir().unwrap();
    dockui::demo::materialize(demo.path()).unwrap();
    let mut app = analysed_app(demo.path());
    focus(&mut app, Pane::Diff);
    app.update(key('G'));
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("-torch==2.7.1") && s.contains("+torch==2.5.1"),
        "{s}"
    );
}

/// Enter on a finding marked [fix] whose own fix the plan does not need, because another finding's fix
/// resolves it (the demo's torchvision mismatch, ended by moving torch to the base's 2.5.1), said "has no fix
/// to review" (auditor). It shows the hunk that resolves it and says so; the details and the hunk say it too.
#[test]
fn enter_on_a_finding_another_fix_resolves_shows_that_hunk() {
    let demo = tempfile::tempdir().unwrap();
    dockui::demo::materialize(demo.path()).unwrap();
    let mut app = analysed_app(demo.path());
    while app
        .selected_finding()
        .is_some_and(|f| f.rule != "DU202" || f.fixes.is_empty())
    {
        app.update(key('j'));
    }
    let s = screen(&app, 160, 48);
    assert!(
        s.contains("planned: the fix of DU201 requirements.txt:2 resolves it too"),
        "{s}"
    );
    app.update(code(KeyCode::Enter));
    assert_eq!(app.focus, Pane::Diff, "{:?}", app.notice);
    let (_, h) = app.review.current().unwrap();
    assert!(
        h.sources.contains(&"DU201 requirements.txt:2".to_string()),
        "{:?}",
        h.sources
    );
    assert_eq!(
        app.notice.as_deref(),
        Some("DU202 requirements.txt:3 is resolved by this hunk (DU201 requirements.txt:2)")
    );
    let s = screen(&app, 160, 48);
    assert!(
        s.contains(
            "DU201 requirements.txt:2 (suggestion) - also resolves DU202 requirements.txt:3"
        ),
        "{s}"
    );
    assert!(
        s.contains("-torch==2.7.1") && s.contains("+torch==2.5.1"),
        "{s}"
    );
}
