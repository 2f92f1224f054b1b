//! Rollback from the Digest pane (issue 15), in a real tmux against a real docker-registry: two pushes of
//! different images under one tag (headless, an earlier session), then the TUI lists the tag's push history,
//! `R` asks, `n` keeps the tag, `y` points it back to the first push, and the registry's digest for the tag is
//! checked afterwards, as the pane says.

mod common;
#[path = "fixtures/registry/support.rs"]
mod support;

use common::tmux::Tmux;
use dockui::engine::image_job::{ImageEvent, TagHistory};
use dockui::engine::{Command, EngineEvent};
use dockui::registry::rollback::PushRecord;
use dockui::tui::app::{App, Msg, Pane, Popup};
use std::path::{Path, PathBuf};

fn tag_digest(host: &str, repo: &str, tag: &str) -> String {
    let r = support::http(
        host,
        "HEAD",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Accept", &dockui::registry::client::accept_header())],
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    r.header("Docker-Content-Digest").unwrap().to_string()
}

fn push(home: &Path, image: &str) -> String {
    let out = common::dockui(home)
        .args(["push", image, "-t", "v1", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["digest"].as_str().unwrap().to_string()
}

fn short(d: &str) -> &str {
    &d[..19]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
async fn the_digest_pane_rolls_the_tag_back_and_the_registry_serves_the_previous_push() {
    let test = "the_digest_pane_rolls_the_tag_back_and_the_registry_serves_the_previous_push";
    let Some(engine) = common::engine_or_skip(test).await else {
        return;
    };
    let Some(registry) = support::Registry::start(test, None) else {
        return;
    };
    let host = registry.host.clone();
    let pid = std::process::id();
    let one = format!("dockui-test/tui-rb:one-{pid}");
    let two = format!("dockui-test/tui-rb:two-{pid}");
    let (Some(one_id), Some(two_id)) = (
        support::build_busybox(&engine, &one).await,
        support::build_busybox(&engine, &two).await,
    ) else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    // The user's config (read by the headless pushes and the TUI alike) names the push target.
    let config_dir = common::paths(home.path()).config_dir;
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[push]\nregistry = \"{host}\"\nrepository = \"after/tuirb\"\n[push.retry]\nattempts = 2\ninitial_delay_ms = 50\n"
        ),
    )
    .unwrap();
    let dir = home.path().join("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();

    let d1 = push(home.path(), &one);
    let d2 = push(home.path(), &two);
    assert_ne!(d1, d2);
    assert_eq!(tag_digest(&host, "after/tuirb", "v1"), d2);

    let t = tokio::task::spawn_blocking({
        let (home, dir, host) = (home.path().to_path_buf(), dir.clone(), host.clone());
        let (d1, d2) = (d1.clone(), d2.clone());
        move || drive(&home, &dir, &host, &d1, &d2)
    })
    .await;
    let reference = format!("{host}/after/tuirb:v1");
    if let Err(e) = t {
        std::panic::resume_unwind(e.into_panic());
    }
    // The registry's own answer: the tag serves the first push, and the engine can pull it.
    assert_eq!(tag_digest(&host, "after/tuirb", "v1"), d1);
    use futures_util::StreamExt;
    let pulled: Vec<_> = engine
        .client()
        .unwrap()
        .create_image(
            Some(
                bollard::query_parameters::CreateImageOptionsBuilder::new()
                    .from_image(&reference)
                    .build(),
            ),
            None,
            None,
        )
        .collect()
        .await;
    assert!(pulled.iter().all(|r| r.is_ok()), "{pulled:?}");
    // dockui's history records the rollback: the next `previous` walks past it.
    let dir = common::paths(home.path()).data_dir.join("pushes");
    let h = dockui::engine::image_job::histories(&dir, &format!("{host}/after/tuirb:"));
    assert_eq!(h.len(), 1);
    let kinds: Vec<&str> = h[0].records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["push", "push", "rollback"]);

    let docker = engine.client().unwrap();
    for id in [one_id, two_id] {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::new()
            .force(true)
            .build();
        let _ = docker.remove_image(&id, Some(opts), None).await;
    }
}

/// The person at the terminal.
fn drive(home: &Path, dir: &Path, host: &str, d1: &str, d2: &str) {
    let Some(t) = Tmux::dockui("rollback", 160, 48, home, dir) else {
        return;
    };
    let reference = format!("{host}/after/tuirb:v1");
    t.wait_for("TUI", |s| s.contains("Digest"));
    // Digest is two panes back from Conflicts; zoom it so no line wraps.
    t.send(&["BTab", "BTab", "z"]);
    let s = t.wait_for("the tag's history", |s| {
        s.contains("[ Digest")
            && s.contains("z: all panes")
            && s.contains(&format!("push history of {reference}"))
    });
    assert!(
        s.contains(&format!("{} push (serves now)", short(d2))),
        "{s}"
    );
    assert!(
        s.contains(&format!("R: roll the tag back to {}", short(d1))),
        "{s}"
    );
    // n keeps the tag.
    t.send(&["R"]);
    let s = t.wait_for("asks", |s| s.contains("Roll the tag back?"));
    assert!(
        s.contains(d1) && s.contains(d2),
        "the popup names both digests:\n{s}"
    );
    t.send(&["n"]);
    t.wait_for("kept", |s| s.contains("not rolled back"));
    assert_eq!(
        tag_digest(host, "after/tuirb", "v1"),
        d2,
        "n changed nothing"
    );
    // y rolls back; the pane shows what the registry serves now.
    t.send(&["R"]);
    t.wait_for("asks again", |s| s.contains("Roll the tag back?"));
    t.send(&["y"]);
    let s = t.wait_for("rolled back", |s| {
        s.contains("rolled back ") || s.contains("rollback of")
    });
    let s = if s.contains("the registry serves") {
        s
    } else {
        t.wait_for("verdict", |s| s.contains("the registry serves"))
    };
    assert!(
        s.contains(&format!(
            "rolled back {reference}: the registry serves {d1} for the tag [pullable]"
        )),
        "{s}"
    );
    let s = t.wait_for("history with the rollback", |s| {
        s.contains(&format!("{} rollback (serves now)", short(d1)))
    });
    assert!(s.contains("no earlier push to roll back to"), "{s}");
    assert!(
        s.contains(&format!(
            "rolled back {reference} to {} - pullable",
            short(d1)
        )),
        "the status line says it is done:\n{s}"
    );
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
}

// ---- The app's side, without an engine ----

fn rec(digest: &str, time: &str, kind: &str) -> PushRecord {
    PushRecord {
        time: time.into(),
        reference: "reg:5000/a/b:v1".into(),
        digest: digest.into(),
        kind: kind.into(),
    }
}

fn app_with_history(records: Vec<PushRecord>) -> App {
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::TagHistory(
        vec![TagHistory {
            reference: "reg:5000/a/b:v1".into(),
            records,
        }],
    ))));
    app.focus = Pane::Digest;
    app
}

fn key(app: &mut App, c: char) -> Vec<Command> {
    app.update(Msg::Key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char(c),
    )))
}

#[test]
fn r_asks_then_sends_the_rollback_to_the_previous_push() {
    let mut app = app_with_history(vec![
        rec("sha256:aaa", "2026-01-01T00:00:01Z", "push"),
        rec("sha256:bbb", "2026-01-01T00:00:02Z", "push"),
    ]);
    assert!(key(&mut app, 'R').is_empty());
    assert_eq!(app.popup, Some(Popup::ConfirmRollback));
    assert_eq!(
        key(&mut app, 'y'),
        vec![Command::Image(
            dockui::engine::image_job::ImageCommand::Rollback {
                reference: "reg:5000/a/b:v1".into(),
                to: "sha256:aaa".into()
            }
        )]
    );
    assert_eq!(app.popup, None);
    // Another R while it runs does not send a second one.
    assert!(key(&mut app, 'R').is_empty());
    assert_eq!(app.popup, None);
}

#[test]
fn nothing_to_roll_back_to_readonly_and_a_running_push_say_so() {
    let mut app = app_with_history(vec![rec("sha256:aaa", "2026-01-01T00:00:01Z", "push")]);
    assert!(key(&mut app, 'R').is_empty());
    assert_eq!(app.popup, None);
    assert!(
        app.notice.as_deref().unwrap().contains("no earlier push"),
        "{:?}",
        app.notice
    );
    let mut app = app_with_history(vec![
        rec("sha256:aaa", "2026-01-01T00:00:01Z", "push"),
        rec("sha256:bbb", "2026-01-01T00:00:02Z", "push"),
    ]);
    app.readonly = true;
    assert!(key(&mut app, 'R').is_empty());
    assert_eq!(app.popup, None);
    assert!(app.notice.as_deref().unwrap().contains("read-only"));
    // While a push runs (it moves the tag too).
    let mut app = app_with_history(vec![
        rec("sha256:aaa", "2026-01-01T00:00:01Z", "push"),
        rec("sha256:bbb", "2026-01-01T00:00:02Z", "push"),
    ]);
    app.push = Some(Default::default());
    assert!(key(&mut app, 'R').is_empty());
    assert_eq!(app.popup, None);
    assert!(app.notice.as_deref().unwrap().contains("a push is running"));
    // No history at all: push first.
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    app.focus = Pane::Digest;
    key(&mut app, 'R');
    assert!(app.notice.as_deref().unwrap().contains("push first"));
}

#[test]
fn the_history_is_asked_for_at_start_and_after_a_push() {
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    let cmds = app.update(Msg::Engine(EngineEvent::Engine(Ok(
        dockui::docker::EngineInfo {
            endpoint: "unix:///x".into(),
            version: "20.10".into(),
            api_version: "1.41".into(),
            context: None,
        },
    ))));
    assert_eq!(
        cmds,
        vec![Command::Image(
            dockui::engine::image_job::ImageCommand::TagHistory(None)
        )]
    );
    let report = dockui::registry::report::PushReport {
        repository: "reg:5000/a/b".into(),
        ..Default::default()
    };
    let cmds = app.update(Msg::Engine(EngineEvent::PushFinished(Box::new(report))));
    assert_eq!(
        cmds,
        vec![Command::Image(
            dockui::engine::image_job::ImageCommand::TagHistory(Some("reg:5000/a/b".into()))
        )]
    );
    // A failed push changed nothing in the registry: no history to re-read.
    let failed = dockui::registry::report::PushReport {
        repository: "reg:5000/a/b".into(),
        error: Some("denied".into()),
        ..Default::default()
    };
    assert!(
        app.update(Msg::Engine(EngineEvent::PushFinished(Box::new(failed))))
            .is_empty()
    );
}

#[test]
fn t_shows_the_next_tag_and_r_rolls_that_one_back() {
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    app.focus = Pane::Digest;
    let mut latest = rec("sha256:ccc", "2026-01-01T00:00:03Z", "push");
    latest.reference = "reg:5000/a/b:latest".into();
    let mut older = latest.clone();
    older.digest = "sha256:ddd".into();
    older.time = "2026-01-01T00:00:01Z".into();
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::TagHistory(
        vec![
            TagHistory {
                reference: "reg:5000/a/b:latest".into(),
                records: vec![older, latest],
            },
            TagHistory {
                reference: "reg:5000/a/b:v1".into(),
                records: vec![rec("sha256:aaa", "2026-01-01T00:00:02Z", "push")],
            },
        ],
    ))));
    // Zoomed: the pane's lines are not wrapped.
    key(&mut app, 'z');
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("push history of reg:5000/a/b:latest (1 of 2 tags, t: next)"),
        "{screen}"
    );
    key(&mut app, 't');
    let screen = render(&app, 160, 48);
    assert!(
        screen.contains("push history of reg:5000/a/b:v1 (2 of 2 tags"),
        "{screen}"
    );
    key(&mut app, 't');
    key(&mut app, 'R');
    assert_eq!(
        app.rollback.pending.as_ref().map(|p| p.to.as_str()),
        Some("sha256:ddd")
    );
    // A new history keeps the tag the user looks at.
    let tags = app.rollback.tags.clone();
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::TagHistory(
        tags.into_iter().rev().collect(),
    ))));
    assert_eq!(
        app.rollback.shown().unwrap().reference,
        "reg:5000/a/b:latest"
    );
}

fn render(app: &App, w: u16, h: u16) -> String {
    let theme = dockui::tui::theme::Theme {
        mono: true,
        light: false,
    };
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| dockui::tui::view::draw(app, &theme, f))
        .unwrap();
    terminal.backend().to_string()
}

/// The Digest pane with a tag's history and the confirmation over it.
#[test]
fn rollback_confirmation_80x24() {
    let mut app = app_with_history(vec![
        rec(
            "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "2026-01-01T00:00:01Z",
            "push",
        ),
        rec(
            "sha256:2222222222222222222222222222222222222222222222222222222222222222",
            "2026-01-01T00:00:02Z",
            "push",
        ),
    ]);
    insta::assert_snapshot!("digest_history_80x24", render(&app, 80, 24));
    key(&mut app, 'R');
    insta::assert_snapshot!("rollback_confirmation_80x24", render(&app, 80, 24));
}
