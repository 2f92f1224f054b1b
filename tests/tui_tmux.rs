//! The TUI in a real tmux, driven like a person over SSH: send keys, read the screen.

mod common;

use common::tmux::Tmux;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn demo_opens_shows_panes_and_help_then_quits_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start("demo", 120, 40, home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    let cmd = format!(
        "{} {}",
        env!("CARGO_BIN_EXE_dockui"),
        common::demo_dir().display()
    );
    t.send(&[&cmd, "Enter"]);
    let s = t.wait_for("six pane titles", |s| {
        [
            "Conflicts",
            "Proposed diff",
            "Build log",
            "GPU",
            "Smoke",
            "Digest",
        ]
        .iter()
        .all(|p| s.contains(p))
    });
    assert!(
        s.contains("DL3042"),
        "the demo's conflicts are listed:\n{s}"
    );
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim(),
        "1",
        "TUI uses the alternate screen"
    );

    t.send(&["?"]);
    t.wait_for("help popup", |s| {
        s.contains("Help") && s.contains("build the image in the background")
    });
    t.send(&["Escape"]);
    t.wait_for("help closed", |s| {
        !s.contains("build the image in the background")
    });

    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim(),
        "0",
        "alternate screen left"
    );
    // The terminal is back in cooked mode with echo: what we type is echoed and lines are buffered.
    let out = home.path().join("stty.txt");
    t.send(&[&format!("stty -a > {}", out.display()), "Enter"]);
    assert_stty_flags(&out, &["icanon", "echo", "isig", "icrnl", "opost"]);
}

/// Wait for `stty -a` output in `out` and check the terminal flags it reports are set (not `-flag`).
fn assert_stty_flags(out: &Path, wanted: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(out)
        .map(|s| s.is_empty())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "stty did not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let stty = std::fs::read_to_string(out).unwrap();
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in wanted {
        assert!(flags.contains(flag), "{flag} not restored:\n{stty}");
    }
}

#[test]
fn sigterm_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start("sigterm", 100, 30, home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    let cmd = format!(
        "{} {}",
        env!("CARGO_BIN_EXE_dockui"),
        common::demo_dir().display()
    );
    t.send(&[&cmd, "Enter"]);
    t.wait_for("TUI up", |s| s.contains("Build log"));
    let pid = t.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"]);
    // The TUI is the shell's child: signal it, not the shell.
    let child = Command::new("pgrep")
        .args(["-P", pid.trim()])
        .output()
        .unwrap();
    let child = String::from_utf8_lossy(&child.stdout).trim().to_string();
    assert!(!child.is_empty(), "no dockui process under the shell");
    assert!(
        Command::new("kill")
            .args(["-TERM", &child])
            .status()
            .unwrap()
            .success()
    );
    t.wait_for("shell back after SIGTERM", |s| {
        s.matches("READY$").count() >= 2
    });
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim(),
        "0"
    );
}

#[test]
fn review_accept_one_hunk_reject_another_write_then_undo() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let original = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let Some(t) = Tmux::dockui("review", 160, 45, home.path(), &dir) else {
        return;
    };
    // The planner keeps the base image and pins torch to the base's version (requirements.txt), so the
    // Dockerfile has two hunks: the apt line and the pip line.
    t.wait_for("the review", |s| s.contains("Dockerfile (2 hunk(s))"));
    t.send(&["Tab"]);
    t.wait_for("diff pane focused", |s| s.contains("[ Proposed diff ]"));
    // Hunk 1: the apt line (accept). Hunk 2: the pip line (reject). The requirements hunk stays undecided.
    t.send(&["y"]);
    t.wait_for("first hunk accepted", |s| s.contains("[y] @@ -9,1 @@"));
    t.send(&["n"]);
    t.wait_for("second hunk rejected", |s| s.contains("[n] @@ -12,1 @@"));
    t.send(&["w"]);
    t.wait_for("written", |s| s.contains("wrote Dockerfile"));

    let now = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        now.contains("DEBIAN_FRONTEND=noninteractive apt-get install"),
        "{now}"
    );
    assert!(
        now.contains("\nRUN pip install -r requirements.txt\n"),
        "the rejected hunk is not written:\n{now}"
    );
    assert_eq!(
        now.lines().count(),
        original.lines().count() + 1,
        "exactly the accepted hunk (one line becomes two) was written"
    );

    // The rejected hunk stays rejected after the re-analysis (same content, same id), one line further down.
    t.wait_for("re-analysed review", |s| {
        s.contains("Dockerfile (1 hunk(s))") && s.contains("[n] @@ -13,1 @@")
    });
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);

    let out = common::dockui(home.path())
        .arg("undo")
        .arg(dir.join("Dockerfile"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        original
    );
}

#[test]
fn edit_a_hunk_and_write_what_was_left_in_the_editor() {
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let Some(t) = Tmux::dockui("edit", 160, 45, home.path(), &dir) else {
        return;
    };
    t.wait_for("the review", |s| s.contains("Dockerfile (2 hunk(s))"));
    t.send(&["Tab"]);
    t.wait_for("diff pane focused", |s| s.contains("[ Proposed diff ]"));
    // Go to the pip hunk (second) and edit it: replace the whole line.
    t.send(&["j"]);
    t.send(&["e"]);
    t.wait_for("editor open", |s| s.contains("Edit hunk"));
    // Emacs-style keys of the editor: Ctrl-a to line start, Ctrl-k kills to the end.
    t.send(&["C-a"]);
    t.send(&["C-k"]);
    t.send(&[
        "-l",
        "RUN pip install --no-cache-dir --quiet -r requirements.txt",
    ]);
    t.send(&["C-s"]);
    t.wait_for("edited", |s| {
        s.contains("--quiet -r requirements.txt  (edited)")
    });
    t.send(&["w"]);
    t.wait_for("written", |s| s.contains("wrote Dockerfile"));
    let now = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    assert!(
        now.contains("\nRUN pip install --no-cache-dir --quiet -r requirements.txt\n"),
        "{now}"
    );
    assert!(
        now.contains("ARG BASE_IMAGE=pytorch/pytorch:2.5.1"),
        "other hunks untouched:\n{now}"
    );
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

fn engine_available(test: &str) -> bool {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::engine_or_skip(test))
        .is_some()
}

fn project_with(home: &Path, dockerfile: &str) -> std::path::PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        "[build]\nimage = \"dockui-test/tmux\"\nno_cache = true\n[smoke]\ninfer = false\n",
    )
    .unwrap();
    dir
}

#[test]
fn log_search_highlights_jumps_and_filters() {
    if !engine_available("log_search_highlights_jumps_and_filters") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = project_with(
        home.path(),
        "FROM dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN for w in ALPHA BETA GAMMA; do echo \"word-$w\"; done\n",
    );
    let Some(t) = Tmux::dockui("search", 160, 45, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Build log"));
    t.send(&["b"]);
    t.wait_for("build done", |s| {
        s.contains("built after 1 attempt") && s.contains("word-GAMMA")
    });
    t.send(&["Tab"]);
    t.send(&["Tab"]);
    t.wait_for("log focused", |s| s.contains("[ Build log"));
    t.send(&["/"]);
    t.wait_for("prompt", |s| s.contains("(Enter: search  Esc: cancel)"));
    t.send(&["-l", "word-b"]);
    t.send(&["Enter"]);
    t.wait_for("search in the title", |s| s.contains("/word-b"));
    // Highlight: the match is drawn with its own style (reverse/underline in mono).
    let styled = t.tmux(&["capture-pane", "-p", "-e", "-t", "t"]);
    // The match "word-B" is its own styled span: an escape sequence sits between it and the rest, "ETA".
    assert!(
        styled
            .lines()
            .any(|l| l.contains("word-B\x1b[") && l.contains("ETA")),
        "no highlighted match:\n{styled}"
    );
    t.send(&["f"]);
    let s = t.wait_for("filter", |s| s.contains("[filter]"));
    assert!(
        s.contains("word-BETA") && !s.contains("word-ALPHA") && !s.contains("word-GAMMA"),
        "{s}"
    );
    t.send(&["f"]);
    t.wait_for("filter off", |s| {
        !s.contains("[filter]") && s.contains("word-ALPHA")
    });
    t.send(&["h"]);
    t.wait_for("history", |s| {
        s.contains("Build history") && s.contains("succeeded")
    });
    t.send(&["Escape"]);
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

#[test]
fn y_copies_through_osc52_into_tmux() {
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start("copy", 160, 45, home.path()) else {
        return;
    };
    t.tmux(&["set", "-g", "set-clipboard", "on"]);
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    t.send(&[
        &format!(
            "{} {}",
            env!("CARGO_BIN_EXE_dockui"),
            common::demo_dir().display()
        ),
        "Enter",
    ]);
    t.wait_for("findings", |s| s.contains("DL3009"));
    t.send(&["y"]);
    t.wait_for("copied notice", |s| s.contains("copied:"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let buffer = t.tmux(&["show-buffer"]);
        if buffer.starts_with("Dockerfile:9:1 DL3009") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "OSC 52 did not reach tmux's buffer: {buffer:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

#[test]
fn resize_collapses_into_tabs_and_back() {
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start("resize", 160, 48, home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    t.send(&[
        &format!(
            "{} {}",
            env!("CARGO_BIN_EXE_dockui"),
            common::demo_dir().display()
        ),
        "Enter",
    ]);
    t.wait_for("six panes side by side", |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("Conflicts") && l.contains("Build log"))
    });
    t.tmux(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    t.wait_for("tab bar at 80x24", |s| {
        s.lines().next().is_some_and(|l| {
            l.contains("Conflicts") && l.contains("Proposed diff") && l.contains("Digest")
        }) && !s.contains("┌ Build log")
    });
    t.send(&["z"]);
    t.tmux(&["resize-window", "-t", "t", "-x", "160", "-y", "48"]);
    t.wait_for("zoomed at 160x48", |s| s.contains("z: all panes"));
    t.send(&["z"]);
    t.wait_for("six panes again", |s| {
        s.lines()
            .next()
            .is_some_and(|l| l.contains("Conflicts") && l.contains("Build log"))
    });
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

#[test]
fn quitting_during_a_build_asks_then_cancels_it() {
    if !engine_available("quitting_during_a_build_asks_then_cancels_it") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let marker = format!("marker-quit-{}", std::process::id());
    let dir = project_with(
        home.path(),
        &format!(
            "FROM dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN echo {marker} && sleep 60\n"
        ),
    );
    let Some(t) = Tmux::dockui("quitbuild", 160, 45, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Build log"));
    t.send(&["b"]);
    t.wait_for("build running", |s| {
        s.contains("building: attempt 1/3") && s.lines().any(|l| l.contains(&format!(" {marker}")))
    });
    t.send(&["q"]);
    t.wait_for("confirmation", |s| s.contains("Cancel it and quit?"));
    t.send(&["y"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim(),
        "0"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the build kept running after quit"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn with_auto_fix_off_the_build_asks_and_retries_after_the_reviewed_fix() {
    if !engine_available("with_auto_fix_off_the_build_asks_and_retries_after_the_reviewed_fix") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = project_with(
        home.path(),
        "FROM dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN apt-get update && apt-get install -y tzdata\n",
    );
    let Some(t) = Tmux::dockui("ask", 180, 50, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Build log"));
    t.send(&["b"]);
    t.wait_for("the build asks", |s| {
        s.contains("waiting for you: w writes the fixes, b retries, c stops")
    });
    let s = t.screen();
    assert!(
        s.contains("build failed: interactive package prompt"),
        "diagnosis in Conflicts:\n{s}"
    );
    assert!(
        s.contains("[ Proposed diff ]"),
        "the review is focused:\n{s}"
    );
    t.send(&["y"]);
    t.send(&["w"]);
    t.wait_for("fix written", |s| s.contains("wrote Dockerfile"));
    assert!(
        std::fs::read_to_string(dir.join("Dockerfile"))
            .unwrap()
            .contains("DEBIAN_FRONTEND=noninteractive")
    );
    t.send(&["b"]);
    t.wait_for("attempt 2 succeeds", |s| {
        s.contains("built after 2 attempt(s)")
    });
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

#[test]
fn a_panic_gives_the_terminal_back() {
    let home = tempfile::tempdir().unwrap();
    let Some(t) = Tmux::start("panic", 120, 40, home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    let out = home.path().join("stty.txt");
    t.send(&[
        &format!(
            "DOCKUI_TEST_PANIC=1 {} {} 2> {}; stty -a > {}",
            env!("CARGO_BIN_EXE_dockui"),
            common::demo_dir().display(),
            home.path().join("stderr.txt").display(),
            out.display()
        ),
        "Enter",
    ]);
    t.wait_for("shell back after the panic", |s| {
        s.matches("READY$").count() >= 2
    });
    assert_eq!(
        t.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_stty_flags(&out, &["icanon", "echo", "isig"]);
    let stderr = std::fs::read_to_string(home.path().join("stderr.txt")).unwrap();
    assert!(
        stderr.contains("panicking on purpose"),
        "the panic message reaches the user: {stderr}"
    );
}
