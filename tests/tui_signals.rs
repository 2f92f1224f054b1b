//! The TUI ends with a non-zero exit code on a fatal signal (128 + its number, as a shell reports it), after
//! giving the terminal back; a user's quit is still exit 0.

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
}

#[test]
fn sigterm_ends_the_tui_with_143() {
    ends_with_code("sigterm-tui", libc::SIGTERM);
}

#[test]
fn sighup_ends_the_tui_with_129() {
    ends_with_code("sighup-tui", libc::SIGHUP);
}
