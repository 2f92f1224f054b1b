//! tmux as a person over SSH would use it: a detached session at a given size running bash, keys sent with
//! send-keys, the screen read with capture-pane. Each test gets its own tmux server (socket).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str, w: u16, h: u16, home: &Path) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var(super::REQUIRE_ENV).as_deref() != Ok("1"),
                "tmux is required but missing"
            );
            eprintln!("SKIPPED {name}: tmux is not installed");
            return None;
        }
        let socket = format!("dockui-test-{name}-{}", std::process::id());
        let mut cmd = Command::new("tmux");
        cmd.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ]);
        for (k, v) in super::isolated_env(home) {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        cmd.args(["-e", "PS1=READY$ ", "bash", "--norc", "--noprofile"]);
        assert!(cmd.status().unwrap().success());
        Some(Tmux { socket })
    }
    /// A session at w x h with a shell prompt, then `dockui DIR` typed into it, as a user would.
    pub fn dockui(name: &str, w: u16, h: u16, home: &Path, dir: &Path) -> Option<Tmux> {
        let t = Tmux::start(name, w, h, home)?;
        t.wait_for("shell prompt", |s| s.contains("READY$"));
        t.send(&[
            &format!("{} {}", env!("CARGO_BIN_EXE_dockui"), dir.display()),
            "Enter",
        ]);
        Some(t)
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        // Generous: CI machines are small and shared; a passing test returns as soon as the screen is right.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
