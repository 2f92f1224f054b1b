//! The TUI ends with a non-zero exit code on a fatal signal (128 + its number, as a shell reports it), after
//! giving the terminal back (main screen, cursor, cooked mode): every catchable signal whose default action
//! ends the process, not only SIGINT/SIGTERM/SIGHUP; a user's quit is still exit 0.

mod common;

use common::tmux::Tmux;

/// The pid of the dockui process started by the pane's shell.
fn dockui_pid(t: &Tmux) -> i32 {
    let shell: i32 = t
        .tmux(&["display", "-p", "-t", "t", "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let comm = &stat[stat.find('(').unwrap_or(0) + 1..close];
            let ppid: i32 = stat[close + 2..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if ppid == shell && comm == "dockui" {
                return e.file_name().to_string_lossy().parse().unwrap();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dockui under the pane's shell"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn ends_with_code(name: &str, signal: i32) {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let Some(t) = Tmux::start(name, 120, 40, home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    t.send(&[
        &format!(
            "{} {}; echo EXIT=$?",
            env!("CARGO_BIN_EXE_dockui"),
            dir.display()
        ),
        "Enter",
    ]);
    let pid = dockui_pid(&t);
    // The TUI is up once the alternate screen replaced the prompt.
    t.wait_for("the TUI", |s| !s.contains("READY$"));
    // SAFETY: a signal to the dockui process this test started.
    unsafe { libc::kill(pid, signal) };
    // The typed line holds "EXIT=$?"; the shell's answer is a line of its own.
    let screen = t.wait_for("dockui to exit", |s| {
        s.lines().any(|l| l.trim_start().starts_with("EXIT="))
    });
    assert!(
        screen.contains(&format!("EXIT={}", 128 + signal)),
        "{screen}"
    );
    // The terminal is given back: main screen, cursor shown, cooked mode with echo. (The exit is dockui's
    // own, not a death by signal: the shell restores nothing for it.)
    let show = |format: &str| {
        t.tmux(&["display", "-p", "-t", "t", format])
            .trim()
            .to_string()
    };
    assert_eq!(
        show("#{alternate_on}"),
        "0",
        "alternate screen left:\n{screen}"
    );
    assert_eq!(show("#{cursor_flag}"), "1", "cursor shown:\n{screen}");
    let out = home.path().join("stty.txt");
    t.send(&[&format!("stty -a > {}", out.display()), "Enter"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&out).map_or(true, |s| s.is_empty()) {
        assert!(std::time::Instant::now() < deadline, "stty did not run");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let stty = std::fs::read_to_string(&out).unwrap();
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(flags.contains(&flag), "{flag} not restored:\n{stty}");
    }
}

#[test]
fn sigterm_ends_the_tui_with_143() {
    ends_with_code("sigterm-tui", libc::SIGTERM);
}

#[test]
fn sighup_ends_the_tui_with_129() {
    ends_with_code("sighup-tui", libc::SIGHUP);
}

#[test]
fn sigquit_ends_the_tui_with_131_and_gives_the_terminal_back() {
    ends_with_code("sigquit-tui", libc::SIGQUIT);
}

#[test]
fn sigusr1_ends_the_tui_with_138_and_gives_the_terminal_back() {
    ends_with_code("sigusr1-tui", libc::SIGUSR1);
}

#[test]
fn sigusr2_ends_the_tui_with_140_and_gives_the_terminal_back() {
    ends_with_code("sigusr2-tui", libc::SIGUSR2);
}

#[test]
fn sigalrm_ends_the_tui_with_142_and_gives_the_terminal_back() {
    ends_with_code("sigalrm-tui", libc::SIGALRM);
}
