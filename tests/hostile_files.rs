//! Hostile projects and faults around files, through the binary: links out of the project, special files,
//! huge files, a project config that points elsewhere, writes that race with the user, read-only and
//! hard-linked files, `undo`, leftovers of a killed run, and the permissions of dockui's own files.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "dockui-test-secret-3f9a1c";

fn project(home: &Path, dockerfile: &str) -> PathBuf {
    let dir = home.join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// A Dockerfile with a safe fix (DL3042: pip cache) that reads requirements.txt.
const FIXABLE: &str =
    "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n";

/// Run with a deadline: a hang is a failure, not a stuck suite.
use common::output_within;

fn check_all_formats(home: &Path, dir: &Path) -> Vec<(String, Output)> {
    ["human", "json", "sarif"]
        .iter()
        .map(|f| {
            let out = output_within(
                common::dockui(home)
                    .args(["check", "--no-host-gpu", "--format", f])
                    .arg(dir),
                20,
            );
            (f.to_string(), out)
        })
        .collect()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_requirements_link_out_of_the_project_is_named_never_quoted() {
    let home = tempfile::tempdir().unwrap();
    let outside = home.path().join("elsewhere");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("env"), format!("CI_TOKEN={SECRET}\n")).unwrap();
    let dir = project(home.path(), FIXABLE);
    symlink(outside.join("env"), dir.join("requirements.txt")).unwrap();
    for (format, out) in check_all_formats(home.path(), &dir) {
        let all = text(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{format}: {all}");
        assert!(!all.contains(SECRET), "{format} quotes the file: {all}");
        assert!(all.contains("requirements.txt"), "{format}: {all}");
        assert!(all.contains("DU004"), "{format}: {all}");
    }
}

#[test]
fn proc_self_environ_is_not_printed() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    symlink("/proc/self/environ", dir.join("requirements.txt")).unwrap();
    let out = output_within(
        common::dockui(home.path())
            .env("CI_JOB_TOKEN", SECRET)
            .args(["check", "--no-host-gpu", "--format", "json"])
            .arg(&dir),
        20,
    );
    let all = text(&out);
    assert!(!all.contains(SECRET), "{all}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "DU004")
        .unwrap_or_else(|| panic!("{all}"));
    assert_eq!(f["file"], "requirements.txt");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("outside the project")
    );
}

#[test]
fn special_and_huge_files_are_refused_without_hanging() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "FROM python:3.11-slim\nRUN pip install -r a.txt -r b.txt -r c.txt -r d.txt\n",
    );
    symlink("/dev/zero", dir.join("a.txt")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("b.txt").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::create_dir(dir.join("c.txt")).unwrap();
    let big = std::fs::File::create(dir.join("d.txt")).unwrap();
    big.set_len(64 * 1024 * 1024).unwrap();
    let out = output_within(
        common::dockui(home.path())
            .args(["check", "--no-host-gpu", "--format", "json"])
            .arg(&dir),
        20,
    );
    let all = text(&out);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {all}"));
    let msgs: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "DU004")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    for (name, why) in [
        ("a.txt", "outside the project"),
        ("b.txt", "FIFO"),
        ("d.txt", "bytes"),
    ] {
        assert!(
            msgs.iter().any(|m| m.contains(name) && m.contains(why)),
            "{name}: {msgs:?}"
        );
    }
}

#[test]
fn a_dockerfile_link_out_of_the_project_is_an_error_finding() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("passwd"), format!("root:{SECRET}:0:0\n")).unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    symlink(home.path().join("passwd"), dir.join("Dockerfile")).unwrap();
    for (format, out) in check_all_formats(home.path(), &dir) {
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{format}: {all}");
        assert!(!all.contains(SECRET), "{format}: {all}");
        assert!(all.contains("DU003"), "{format}: {all}");
    }
    // `fix` neither reads nor writes it.
    let out = output_within(common::dockui(home.path()).arg("fix").arg(&dir), 20);
    assert!(!text(&out).contains(SECRET));
    assert_eq!(
        std::fs::read_to_string(home.path().join("passwd")).unwrap(),
        format!("root:{SECRET}:0:0\n")
    );
}

#[test]
fn a_project_config_may_not_point_outside_the_project() {
    for (value, line) in [("/etc/passwd", 2), ("../outside/Dockerfile", 2)] {
        let home = tempfile::tempdir().unwrap();
        let dir = project(home.path(), FIXABLE);
        std::fs::write(
            dir.join(".dockui.toml"),
            format!("[build]\ndockerfile = \"{value}\"\n"),
        )
        .unwrap();
        for cmd in ["check", "fix"] {
            let out = output_within(common::dockui(home.path()).arg(cmd).arg(&dir), 20);
            let all = text(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {value}: {all}");
            assert!(
                all.contains(&format!(".dockui.toml:{line}:14")),
                "{cmd} {value}: {all}"
            );
            assert!(all.contains("outside the project"), "{all}");
            assert!(!all.contains("root:x:0:0"), "{all}");
        }
    }
}

#[test]
fn a_dockerfile_given_by_the_user_may_be_anywhere() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), "FROM python:3.11-slim\n");
    let other = home.path().join("other.Dockerfile");
    std::fs::write(&other, "FROM ubuntu:latest\n").unwrap();
    let user_cfg = home.path().join("user.toml");
    std::fs::write(
        &user_cfg,
        format!("[build]\ndockerfile = \"{}\"\n", other.display()),
    )
    .unwrap();
    let out = output_within(
        common::dockui(home.path())
            .arg("--config")
            .arg(&user_cfg)
            .args(["check", "--no-host-gpu", "--format", "json"])
            .arg(&dir),
        20,
    );
    let all = text(&out);
    assert!(
        all.contains("DL3007"),
        "the user's Dockerfile was read: {all}"
    );
}

#[test]
fn project_config_cannot_load_a_library_or_run_a_command() {
    for (section, key) in [("gpu", "nvml_lib"), ("ui", "copy_command")] {
        let home = tempfile::tempdir().unwrap();
        let dir = project(home.path(), FIXABLE);
        std::fs::write(
            dir.join(".dockui.toml"),
            format!("[{section}]\n{key} = \"./x\"\n"),
        )
        .unwrap();
        let out = output_within(common::dockui(home.path()).arg("check").arg(&dir), 20);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(all.contains(".dockui.toml:2:"), "{all}");
        assert!(all.contains(&format!("{section}.{key}")), "{all}");
    }
}

#[test]
fn invalid_utf8_config_error_has_a_position() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join(".dockui.toml"), b"[build]\ntag = \"v\xff1\"\n").unwrap();
    let out = output_within(common::dockui(home.path()).arg("check").arg(&dir), 20);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(".dockui.toml:2:9"), "{all}");
    assert!(all.contains("UTF-8"), "{all}");
}

#[test]
fn a_non_utf8_workflow_name_still_gives_json() {
    use std::os::unix::ffi::OsStrExt;
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let wf = dir.join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"ci-\xff.yml");
    std::fs::write(wf.join(name), "on: push\n").unwrap();
    for (format, out) in check_all_formats(home.path(), &dir) {
        let all = text(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{format}: {all}");
        if format != "human" {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{format}: {e}: {all}"));
            assert!(v.to_string().contains("not valid UTF-8"), "{format}: {v}");
        }
    }
}

#[test]
fn a_bare_carriage_return_dockerfile_is_checked_and_fixed() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "# comment\rFROM python:3.11-slim\nRUN pip install flask\r\nRUN apt-get update && apt-get install curl\n",
    );
    for cmd in ["check", "fix"] {
        let out = output_within(common::dockui(home.path()).arg(cmd).arg(&dir), 20);
        let all = text(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{cmd}: {all}");
        assert!(!all.contains("panicked"), "{cmd}: {all}");
    }
}

fn fix(home: &Path, dir: &Path) -> Output {
    output_within(common::dockui(home).arg("fix").arg(dir), 30)
}

#[test]
fn a_read_only_file_is_not_replaced_and_nothing_is_recorded() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let df = dir.join("Dockerfile");
    std::fs::set_permissions(&df, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = fix(home.path(), &dir);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("read-only"), "{all}");
    assert!(all.contains("chmod u+w"), "{all}");
    // Not "no fixes at level Safe" after showing the diffs: it says they were not applied.
    assert!(
        all.contains("nothing written") && !all.contains("no fixes at level"),
        "{all}"
    );
    assert_eq!(std::fs::read_to_string(&df).unwrap(), FIXABLE);
    // A failed write leaves no backup record: undo has nothing to do and says so.
    let out = output_within(
        common::dockui(home.path()).arg("undo").current_dir(&dir),
        20,
    );
    let all = text(&out);
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("no backup to restore"), "{all}");
}

#[test]
fn a_hard_linked_file_is_not_split() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let df = dir.join("Dockerfile");
    std::fs::hard_link(&df, home.path().join("Dockerfile.shared")).unwrap();
    let out = fix(home.path(), &dir);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("hard links"), "{all}");
    assert_eq!(std::fs::read_to_string(&df).unwrap(), FIXABLE);
}

#[test]
fn an_edit_between_check_and_rename_is_kept_and_so_is_dockuis_version() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let flag = home.path().join("staged");
    let child = common::dockui(home.path())
        .env("DOCKUI_TEST_PAUSE_BEFORE_RENAME_MS", "2000")
        .env("DOCKUI_TEST_PAUSE_FLAG", &flag)
        .arg("fix")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !flag.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "never staged");
        std::thread::sleep(Duration::from_millis(10));
    }
    let users = format!("{FIXABLE}# the user's edit\n");
    std::fs::write(dir.join("Dockerfile"), &users).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        users
    );
    let saved = dir.join("Dockerfile.dockui-new");
    assert!(all.contains(&saved.display().to_string()), "{all}");
    assert!(
        std::fs::read_to_string(&saved)
            .unwrap()
            .contains("--no-cache-dir"),
        "dockui's version is kept"
    );
}

#[test]
fn undo_keeps_mode_shows_a_diff_and_is_scoped_to_the_project() {
    let home = tempfile::tempdir().unwrap();
    let a = home.path().join("a");
    let b = home.path().join("b");
    for d in [&a, &b] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("Dockerfile"), FIXABLE).unwrap();
        std::fs::write(d.join("requirements.txt"), "flask==3.0.0\n").unwrap();
        std::fs::set_permissions(d.join("Dockerfile"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
    }
    assert_eq!(fix(home.path(), &a).status.code(), Some(0));
    assert_eq!(fix(home.path(), &b).status.code(), Some(0));
    // Plain `undo` in project a restores a's file, although b was written last.
    let out = output_within(common::dockui(home.path()).arg("undo").current_dir(&a), 20);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("-RUN pip install --no-cache-dir"),
        "diff shown: {all}"
    );
    assert_eq!(
        std::fs::read_to_string(a.join("Dockerfile")).unwrap(),
        FIXABLE
    );
    assert_ne!(
        std::fs::read_to_string(b.join("Dockerfile")).unwrap(),
        FIXABLE
    );
    let mode = std::fs::metadata(a.join("Dockerfile"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "undo keeps the mode");
    // Project b: the user edited the file after dockui wrote it: undo refuses, --force restores.
    let edited = format!(
        "{}# mine\n",
        std::fs::read_to_string(b.join("Dockerfile")).unwrap()
    );
    std::fs::write(b.join("Dockerfile"), &edited).unwrap();
    let out = output_within(common::dockui(home.path()).arg("undo").current_dir(&b), 20);
    let all = text(&out);
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("changed since dockui wrote it"), "{all}");
    assert!(all.contains("--force"), "{all}");
    assert!(
        all.contains("-# mine"),
        "the diff names what would be lost: {all}"
    );
    assert_eq!(
        std::fs::read_to_string(b.join("Dockerfile")).unwrap(),
        edited
    );
    let out = output_within(
        common::dockui(home.path())
            .args(["undo", "--force"])
            .current_dir(&b),
        20,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(b.join("Dockerfile")).unwrap(),
        FIXABLE
    );
}

#[test]
fn temp_files_of_a_killed_run_are_removed_at_the_next_start() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    let flag = home.path().join("staged");
    let mut child = common::dockui(home.path())
        .env("DOCKUI_TEST_PAUSE_BEFORE_RENAME_MS", "20000")
        .env("DOCKUI_TEST_PAUSE_FLAG", &flag)
        .arg("fix")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !flag.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "never staged");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let temps = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".dockui-") && n.ends_with(".tmp"))
            .collect()
    };
    assert_eq!(temps(&dir).len(), 1, "the killed run left its temp file");
    assert_eq!(
        std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        FIXABLE
    );
    let out = fix(home.path(), &dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(temps(&dir).is_empty(), "{:?}", temps(&dir));
}

#[test]
fn state_data_and_log_files_are_private() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(home.path(), FIXABLE);
    std::fs::write(dir.join("requirements.txt"), "flask==3.0.0\n").unwrap();
    // A log left world-readable by an older version is tightened too.
    let state = home.path().join("state/dockui");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(state.join("dockui.log"), "").unwrap();
    std::fs::set_permissions(
        state.join("dockui.log"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert_eq!(fix(home.path(), &dir).status.code(), Some(0));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for d in [
        state.clone(),
        state.join("backups"),
        home.path().join("data/dockui"),
        home.path().join("data/dockui/builds"),
    ] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    let mut files = 0;
    for e in walk(&state) {
        if e.is_file() {
            files += 1;
            assert_eq!(mode(&e), 0o600, "{}", e.display());
        }
    }
    assert!(files >= 3, "log, index and a backup: {files}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// No byte of these reaches a terminal from dockui: ESC, BEL, and the C1 CSI (U+009B as UTF-8).
fn assert_no_controls(what: &str, text: &[u8]) {
    let s = String::from_utf8_lossy(text);
    assert!(
        !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what} holds a raw control character: {s:?}"
    );
}

#[test]
fn escape_sequences_in_a_dockerfile_are_shown_not_sent_to_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    // A title change, a clipboard write (OSC 52), a screen clear and a C1 CSI in a comment and a RUN line.
    let dir = project(
        home.path(),
        "FROM python:3.11-slim\n# \x1b]0;PWNED\x07 \x1b]52;c;ZXZpbA==\x07\x1b[2J\nRUN pip install torch \u{9b}8m\n",
    );
    std::fs::write(dir.join("requirements.txt"), "torch==\x1b[31m2.0\n").unwrap();
    for (args, shows) in [
        (&["check"][..], "DL3042"),
        (&["fix", "--dry-run"][..], "--no-cache-dir torch"),
    ] {
        let out = output_within(common::dockui(home.path()).args(args).arg(&dir), 60);
        assert_no_controls(&format!("{args:?} stdout"), &out.stdout);
        assert_no_controls(&format!("{args:?} stderr"), &out.stderr);
        // The findings are still there, their text escaped.
        assert!(text(&out).contains(shows), "{}", text(&out));
    }
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn escape_sequences_in_build_output_are_shown_not_sent_and_the_log_keeps_them() {
    let test = "escape_sequences_in_build_output_are_shown_not_sent_and_the_log_keeps_them";
    let rt = tokio::runtime::Runtime::new().unwrap();
    if rt.block_on(common::engine_or_skip(test)).is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let image = format!("dockui-test/escapes-{}", std::process::id());
    let dir = common::busybox_project(home.path(), &image, "unused");
    // busybox printf writes the raw bytes: OSC 52 (clipboard), a screen clear, then a marker line.
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"ln\", \"-s\", \"busybox\", \"/bin/sh\"]\n\
         RUN [\"/bin/busybox\", \"printf\", \"\\\\033]52;c;ZXZpbA==\\\\007\\\\033[2Jescaped-marker\\\\n\"]\n",
    )
    .unwrap();
    let mut config = std::fs::read_to_string(dir.join(".dockui.toml")).unwrap();
    config.push_str("commands = [\"/bin/busybox printf '\\\\033]0;SMOKE\\\\007smoke-marker'\"]\n");
    std::fs::write(dir.join(".dockui.toml"), config).unwrap();
    let out = output_within(
        common::dockui(home.path())
            .args(["build", "--no-cache"])
            .arg(&dir),
        240,
    );
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
    let all = text(&out);
    assert!(
        all.contains("escaped-marker") && all.contains("smoke-marker"),
        "{all}"
    );
    assert!(all.contains("\\u{1b}]52;c;"), "shown escaped: {all}");
    assert_no_controls("build stdout", &out.stdout);
    assert_no_controls("build stderr", &out.stderr);
    let logs = output_within(common::dockui(home.path()).args(["logs", "last"]), 60);
    assert!(text(&logs).contains("escaped-marker"), "{}", text(&logs));
    assert_no_controls("logs stdout", &logs.stdout);
    // The attempt log itself keeps the engine's bytes.
    let raw: Vec<u8> = walk(&home.path().join("data"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(
        raw.windows(5).any(|w| w == b"\x1b]52;"),
        "the log keeps the raw output"
    );
}

/// A write killed mid-way leaves `.dockui-<pid>-<rand>.tmp` beside the file it was to replace: the next
/// `fix` removes those of dead runs beside every file the analysis read, not only beside the Dockerfile.
#[test]
fn temps_of_a_killed_write_are_swept_beside_every_file_read() {
    let home = tempfile::tempdir().unwrap();
    let dir = project(
        home.path(),
        "FROM python:3.11-slim\nCOPY app/requirements.txt .\nRUN pip install -r requirements.txt\n",
    );
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(dir.join("app/requirements.txt"), "flask==3.0.0\n").unwrap();
    std::fs::create_dir_all(dir.join(".github/workflows")).unwrap();
    std::fs::write(
        dir.join(".github/workflows/ci.yml"),
        "on: push\njobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: docker build .\n",
    )
    .unwrap();
    let dead = [
        dir.join(".dockui-2147483646-abc.tmp"),
        dir.join("app/.dockui-2147483646-def.tmp"),
        dir.join(".github/workflows/.dockui-2147483646-ghi.tmp"),
    ];
    for d in &dead {
        std::fs::write(d, "half").unwrap();
    }
    // PID 1 is alive: its temp may be a write in progress.
    let live = dir.join("app/.dockui-1-jkl.tmp");
    std::fs::write(&live, "busy").unwrap();
    let out = output_within(common::dockui(home.path()).arg("fix").arg(&dir), 30);
    let all = text(&out);
    for d in &dead {
        assert!(!d.exists(), "{} left: {all}", d.display());
    }
    assert!(live.exists(), "a live run's temp was removed");
}

/// A Dockerfile that is a link out of the project is not read: `fix` says so and exits 1 like `check`,
/// instead of "no fixes at level Safe".
#[test]
fn fix_says_the_dockerfile_was_not_read() {
    let home = tempfile::tempdir().unwrap();
    let outside = home.path().join("elsewhere.Dockerfile");
    std::fs::write(&outside, FIXABLE).unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("Dockerfile")).unwrap();
    let out = output_within(common::dockui(home.path()).arg("fix").arg(&dir), 30);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("Dockerfile was not read"), "{all}");
    assert!(!all.contains("no fixes at level"), "{all}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), FIXABLE);
}
