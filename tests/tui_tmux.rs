//! The TUI in a real tmux, driven like a person over SSH: send keys, read the screen.

mod common;
mod nvml_standin;
#[path = "fixtures/registry/support.rs"]
mod support;

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
    // The analysis runs off the UI thread: the panes show "analysing..." until it is done (seconds under load).
    let s = t.wait_for("six pane titles and the analysis", |s| {
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
            && !s.contains("analysing...")
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
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
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
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
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
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
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
    // The cured failure and the answered retry are gone (they stayed after the retry built).
    let s = t.screen();
    assert!(
        !s.contains("build failed: interactive package prompt"),
        "stale diagnosis in Conflicts:\n{s}"
    );
    assert!(!s.contains("retrying..."), "stale notice:\n{s}");
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

/// The log pane's top, filter and search as in `less`: g shows a whole page from the first line, the filter
/// shows every match at once (also after g), the title counts the matches (issue 12, point 3).
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn log_top_filter_and_match_count_like_less() {
    if !engine_available("log_top_filter_and_match_count_like_less") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let dir = project_with(
        home.path(),
        "FROM dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN for i in $(seq 1 120); do if [ $((i % 20)) = 0 ]; then echo \"MATCH-$i\"; else echo \"plain-$i\"; fi; done\n",
    );
    let Some(t) = Tmux::dockui("less", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Build log"));
    t.send(&["b"]);
    t.wait_for("build done", |s| {
        s.contains("built after 1 attempt") && s.contains("MATCH-120")
    });
    t.send(&["Tab"]);
    t.send(&["Tab"]);
    t.wait_for("log focused", |s| s.contains("[ Build log"));
    t.send(&["g"]);
    let s = t.wait_for("top", |s| s.contains("=== attempt 1/"));
    // A whole page from the first line, not one line.
    let log_rows = s
        .lines()
        .filter(|l| l.contains("plain-") || l.contains("#") || l.contains("==="))
        .count();
    assert!(
        log_rows >= 20,
        "g shows a full page ({log_rows} rows):\n{s}"
    );
    t.send(&["j"]);
    t.wait_for("j moves the page", |s| !s.contains("=== attempt 1/"));
    t.send(&["/"]);
    t.send(&["-l", "MATCH-[0-9]"]);
    t.send(&["Enter"]);
    t.send(&["n"]);
    // Where n lands depends on where the view was; the title counts it, and the next n counts one more.
    let s = t.wait_for("match k of n", |s| {
        s.contains(" of 6)") && s.contains("(match ")
    });
    let k: usize = s
        .split("(match ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    t.send(&["n"]);
    let next = format!("(match {} of 6)", k % 6 + 1);
    t.wait_for(&next, |s| s.contains(&next));
    t.send(&["f"]);
    let s = t.wait_for("filter", |s| s.contains("[filter]"));
    for i in [20, 40, 60, 80, 100, 120] {
        assert!(
            s.contains(&format!("MATCH-{i}")),
            "every match at once: MATCH-{i}\n{s}"
        );
    }
    t.send(&["g"]);
    let s = t.wait_for("g with the filter", |s| s.contains("MATCH-20"));
    for i in [20, 40, 60, 80, 100, 120] {
        assert!(
            s.contains(&format!("MATCH-{i}")),
            "g keeps the matches: MATCH-{i}\n{s}"
        );
    }
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

/// `r` re-reads an edited .dockui.toml: a rule the user now ignores leaves Conflicts (issue 12, point 5).
#[test]
fn r_rereads_an_edited_config() {
    let home = tempfile::tempdir().unwrap();
    let dir = project_with(
        home.path(),
        "FROM python:3.11-slim\nRUN pip install flask==3.0.0\n",
    );
    let Some(t) = Tmux::dockui("reload", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("DL3042 listed", |s| s.contains("DL3042"));
    let cfg = std::fs::read_to_string(dir.join(".dockui.toml")).unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!("{cfg}[analyze]\nignore = [\"DL3042\"]\n"),
    )
    .unwrap();
    t.send(&["r"]);
    let s = t.wait_for("config re-read", |s| {
        s.contains("configuration re-read from") && !s.contains("DL3042")
    });
    assert!(s.contains(".dockui.toml"), "{s}");
    // A broken edit keeps the previous configuration and says where.
    std::fs::write(dir.join(".dockui.toml"), "[build\n").unwrap();
    t.send(&["r"]);
    t.wait_for("bad config named", |s| {
        s.contains("configuration NOT re-read")
    });
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

/// An 8-GPU box (the NVML stand-in) in the default layout at 160x48: one line per GPU, Enter shows one GPU's
/// details; at 80x24 the status bar keeps the build state and `? help`, and help wraps instead of cutting.
#[test]
fn eight_gpus_fit_at_160x48_and_80x24_keeps_the_status() {
    let lib = nvml_standin::build(&["EIGHT_GPUS"]);
    let home = tempfile::tempdir().unwrap();
    let dir = project_with(
        home.path(),
        "FROM python:3.11-slim\nRUN pip install flask==3.0.0\n",
    );
    // nvml_lib loads a library: only the user's own config may set it, never a project's .dockui.toml.
    let user_cfg = home.path().join("config/dockui");
    std::fs::create_dir_all(&user_cfg).unwrap();
    std::fs::write(
        user_cfg.join("config.toml"),
        format!("[gpu]\nnvml_lib = \"{}\"\n", lib.lib.display()),
    )
    .unwrap();
    let Some(t) = Tmux::dockui("gpus", 160, 48, home.path(), &dir) else {
        return;
    };
    let s = t.wait_for("8 GPUs", |s| s.contains("7 H100 80GB HBM3"));
    for i in 0..8 {
        assert!(
            s.lines().any(|l| l.contains(&format!("│{i} H100")) || l.contains(&format!("│{i} RTX 5090"))),
            "GPU {i}:\n{s}"
        );
    }
    for _ in 0..3 {
        t.send(&["Tab"]);
    }
    t.wait_for("GPU focused", |s| s.contains("[ GPU ]"));
    t.send(&["j", "j", "Enter"]);
    let s = t.wait_for("detail", |s| s.contains("GPU 2 NVIDIA H100"));
    assert!(
        s.contains("uuid GPU-") && !s.contains("GPU 3 NVIDIA"),
        "{s}"
    );
    t.send(&["Enter"]);
    t.wait_for("list again", |s| s.contains("7 H100 80GB HBM3"));
    // 80x24: the status bar keeps the build state and the help hint.
    t.tmux(&["resize-window", "-t", "t", "-x", "80", "-y", "24"]);
    let s = t.wait_for("80x24", |s| {
        s.lines().count() <= 24 && s.contains("Tab: next")
    });
    let status = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(
        status.contains("no build") && status.contains("? help"),
        "{status}"
    );
    t.send(&["?"]);
    let s = t.wait_for("help", |s| s.contains("Help"));
    assert!(s.contains("details of the selected GPU"), "{s}");
    t.send(&["Escape"]);
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

/// Failed smoke tests on the stand-in base: the Smoke pane says stand-in, Enter shows the check's whole
/// output, and `p` asks (naming the failed check) instead of "build first" (issue 12, points 5, 7, 9).
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn failed_smoke_shows_its_output_marks_standin_and_push_asks() {
    if !engine_available("failed_smoke_shows_its_output_marks_standin_and_push_asks") {
        return;
    }
    let Some(registry) = support::Registry::start("tui_smoke_push", None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = project_with(
        home.path(),
        "FROM dockui-standin/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN echo ok\n",
    );
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"dockui-test/tmux-smoke\"\nmax_attempts = 1\n[smoke]\ninfer = false\ncommands = [\"echo out-first; echo err-second >&2; exit 3\"]\n[push]\nregistry = \"{}\"\nrepository = \"flow/smoke\"\n[push.retry]\nattempts = 2\ninitial_delay_ms = 100\n",
            registry.host
        ),
    )
    .unwrap();
    let Some(t) = Tmux::dockui("smoke", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Smoke"));
    t.send(&["b"]);
    let s = t.wait_for("smoke failed", |s| s.contains("failed after 1 attempt"));
    assert!(s.contains("Smoke (stand-in base)"), "{s}");
    t.send(&["BTab", "BTab", "BTab"]);
    t.wait_for("Smoke focused", |s| s.contains("[ Smoke (stand-in base) ]"));
    t.send(&["Enter"]);
    // The expanded check starts with its command (the Build log also shows the output: wait for the pane).
    let s = t.wait_for("output", |s| {
        s.contains("$ echo out-first") && s.contains("err-second")
    });
    let s = &s[s.find("$ echo out-first").unwrap()..];
    // Both streams are in the expanded check. (Their order is the engine's: it keeps what the container wrote.)
    assert!(
        s.contains("out-first\n") || s.contains("out-first "),
        "stdout line in the expanded check:\n{s}"
    );
    t.send(&["p"]);
    let s = t.wait_for("push asks", |s| s.contains("Push anyway?"));
    assert!(
        s.contains("failed: echo out-first") && !s.contains("build first"),
        "{s}"
    );
    t.send(&["n"]);
    t.wait_for("not pushed", |s| s.contains("not pushed"));
    // y pushes it, and the Digest pane marks the push.
    t.send(&["p"]);
    t.wait_for("push asks again", |s| s.contains("Push anyway?"));
    t.send(&["y"]);
    let s = t.wait_for("pushed", |s| {
        s.contains("verdict: pullable") || s.contains("push failed")
    });
    assert!(
        s.contains("verdict: pullable") && s.contains("pushed although its smoke tests"),
        "{s}"
    );
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", "dockui-test/tmux-smoke:latest"])
        .output();
}

/// After a restart: `h` opens a past build's log, `p` pushes the project's last successful build from the
/// history (no "build first"); severity filter and A (accept a level) on the demo (issue 12, points 5, 9).
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn after_a_restart_history_opens_the_build_and_p_pushes_it() {
    if !engine_available("after_a_restart_history_opens_the_build_and_p_pushes_it") {
        return;
    }
    let Some(registry) = support::Registry::start("tui_restart_push", None) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let dir = common::demo_copy(home.path());
    let tag = format!("restart-{}", std::process::id());
    let mut cfg = std::fs::read_to_string(dir.join(".dockui.toml")).unwrap();
    cfg = cfg.replace(
        "image = \"dockui-local/demo\"",
        &format!("image = \"dockui-test/restart\"\ntag = \"{tag}\""),
    );
    cfg.push_str(&format!(
        "\n[push]\nregistry = \"{}\"\nrepository = \"flow/restart\"\n[push.retry]\nattempts = 2\ninitial_delay_ms = 100\n",
        registry.host
    ));
    std::fs::write(dir.join(".dockui.toml"), cfg).unwrap();
    // The build happens in an earlier session (headless here).
    let out = common::dockui(home.path())
        .args(["build", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Some(t) = Tmux::dockui("restart", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Digest") && s.contains("Conflicts E"));
    // Severity filter: errors only, then all again.
    t.send(&["f"]);
    t.wait_for("filter", |s| {
        s.contains("[errors only]") || s.contains("[warnings and errors]")
    });
    t.send(&["f", "f"]);
    t.wait_for("all", |s| {
        !s.contains("[errors only]") && !s.contains("[warnings and errors]")
    });
    // A accepts every hunk of the cursor's level at once.
    t.send(&["Tab", "A"]);
    t.wait_for("accepted a level", |s| {
        s.contains("accepted ") && s.contains("hunk(s)")
    });
    t.send(&["h"]);
    t.wait_for("history", |s| {
        s.contains("Build history") && s.contains("succeeded")
    });
    t.send(&["Enter"]);
    t.wait_for("past build in the log", |s| {
        s.contains("[build ") && s.contains("past build")
    });
    t.send(&["p"]);
    let s = t.wait_for("pushed", |s| {
        s.contains("verdict: pullable") || s.contains("push failed")
    });
    assert!(s.contains("verdict: pullable"), "{s}");
    assert!(s.contains(&format!("dockui-test/restart:{tag}")), "{s}");
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &format!("dockui-test/restart:{tag}")])
        .output();
}
