//! The Image pane (issue 15): snapshots of its drawing from an image archive the test writes (a pip cache left
//! in a layer, a file deleted by a later layer, an ENV that made no layer), scrolling a long layer list; and in
//! a real tmux against the real engine: a build of a wasteful image fills the pane by itself, `i` inspects
//! again, and a rebuild after a COPY source changed shows where the cache broke at the top of the Build log.

mod common;

use common::tmux::Tmux;
use crossterm::event::{KeyCode, KeyEvent};
use dockui::engine::EngineEvent;
use dockui::engine::image_job::{self, ImageEvent};
use dockui::tui::app::{App, Msg, Pane};
use dockui::tui::theme::Theme;
use dockui::tui::view;
use ratatui::{Terminal, backend::TestBackend};
use std::path::{Path, PathBuf};

const MONO: Theme = Theme {
    mono: true,
    light: false,
};

/// The Dockerfile the archive's history comes from (a continuation, as people write them).
const DOCKERFILE: &str = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN mkdir -p /data /root/.cache/pip \\\n    && dd if=/dev/zero of=/data/blob.bin bs=1000 count=400 \\\n    && dd if=/dev/zero of=/root/.cache/pip/wheel.whl bs=1000 count=300\nENV MARK=1\nRUN rm -f /data/blob.bin\n";

const RUN_DD: &str = "mkdir -p /data /root/.cache/pip     && dd if=/dev/zero of=/data/blob.bin bs=1000 count=400     && dd if=/dev/zero of=/root/.cache/pip/wheel.whl bs=1000 count=300";

/// A layer tar: (path, size) files, paths ending in `/` are directories, `.wh.` names whiteouts.
fn layer(entries: &[(&str, usize)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, size) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, path, std::io::empty()).unwrap();
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(*size as u64);
            b.append_data(&mut h, path, std::io::repeat(0).take(*size as u64))
                .unwrap();
        }
    }
    b.into_inner().unwrap()
}

use std::io::Read as _;

/// A Docker-layout archive (`manifest.json`, config, `<n>/layer.tar`) with this history and these layers.
fn archive(history: &[(&str, bool)], layers: &[Vec<u8>]) -> Vec<u8> {
    let config = serde_json::json!({
        "history": history.iter().map(|(by, empty)| serde_json::json!({
            "created_by": by, "empty_layer": empty,
        })).collect::<Vec<_>>(),
        "rootfs": {"type": "layers", "diff_ids": layers.iter().enumerate()
            .map(|(i, _)| format!("sha256:{:064x}", i + 1)).collect::<Vec<_>>()},
    });
    let config_name = format!("{:064x}.json", 0xc0ff33);
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["dockui-test/wasteful:1"],
        "Layers": (0..layers.len()).map(|i| format!("{i}/layer.tar")).collect::<Vec<_>>(),
    }]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    for (i, l) in layers.iter().enumerate() {
        add(&format!("{i}/layer.tar"), l);
    }
    add(&config_name, &serde_json::to_vec(&config).unwrap());
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap()
}

/// What `dockui build` of DOCKERFILE leaves (BuildKit's history), read through dockui's archive walker.
fn wasteful_view() -> image_job::ImageView {
    let run_dd = format!("RUN /bin/sh -c {RUN_DD} # buildkit");
    let history = [
        ("COPY busybox /bin/busybox # buildkit", false),
        ("RUN /bin/busybox --install -s /bin # buildkit", false),
        (run_dd.as_str(), false),
        ("ENV MARK=1", true),
        ("RUN /bin/sh -c rm -f /data/blob.bin # buildkit", false),
    ];
    let layers = [
        layer(&[("bin/", 0), ("bin/busybox", 1_131_168)]),
        layer(&[("bin/", 0)]),
        layer(&[
            ("data/", 0),
            ("data/blob.bin", 400_000),
            ("root/.cache/pip/", 0),
            ("root/.cache/pip/wheel.whl", 300_000),
        ]),
        layer(&[("data/", 0), ("data/.wh.blob.bin", 0)]),
    ];
    let bytes = archive(&history, &layers);
    let resolved = dockui::image::archive::read_archive(bytes.as_slice()).unwrap();
    let report = dockui::image::analyze(
        "dockui-test/wasteful:1",
        resolved,
        dockui::image::Options::default(),
    );
    image_job::view(report, DOCKERFILE, "Dockerfile")
}

fn app_with(view: image_job::ImageView) -> App {
    let mut app = App::new(PathBuf::from("/nonexistent/wasteful"), "unix:///x".into());
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::Inspecting(
        view.report.image.clone(),
    ))));
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::Inspected {
        image: view.report.image.clone(),
        result: Ok(Box::new(view)),
    })));
    app
}

fn render(app: &App, theme: Theme, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::draw(app, &theme, f)).unwrap();
    terminal.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Msg::Key(KeyEvent::from(code)));
}

#[test]
fn the_waste_is_linked_to_the_rule_and_the_dockerfile_line() {
    let v = wasteful_view();
    assert_eq!(v.report.wasted_bytes, 400_000);
    assert_eq!(v.links.len(), 1, "{:?}", v.links);
    let l = &v.links[0];
    assert_eq!(
        (l.what.as_str(), l.rule.as_str(), l.layer, l.bytes),
        ("pip cache", "DL3042", 3, 300_000)
    );
    assert_eq!(l.location.as_deref(), Some("Dockerfile:4"));
    // An image whose history is not in this Dockerfile: the link names the layer, never a wrong line.
    let other = image_job::view(v.report.clone(), "FROM scratch\nRUN true\n", "Dockerfile");
    assert_eq!(other.links[0].location, None);
}

#[test]
fn image_pane_zoomed_100x30() {
    let mut app = app_with(wasteful_view());
    app.focus = Pane::Image;
    key(&mut app, KeyCode::Char('z'));
    let screen = render(&app, MONO, 100, 30);
    assert!(
        screen.contains("pip cache 300.0 kB in layer 3 -> DL3042 on Dockerfile:4"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
    // y copies the summary and the links (OSC 52).
    key(&mut app, KeyCode::Char('y'));
    assert!(
        app.notice
            .as_deref()
            .unwrap_or("")
            .starts_with("copied: dockui-test/wasteful:1"),
        "{:?}",
        app.notice
    );
}

#[test]
fn image_pane_in_the_full_layout_160x48() {
    let app = app_with(wasteful_view());
    insta::assert_snapshot!(render(&app, MONO, 160, 48));
}

#[test]
fn image_pane_before_and_while_inspecting_80x24() {
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    app.focus = Pane::Image;
    let empty = render(&app, MONO, 80, 24);
    assert!(
        empty
            .contains("no image inspected - it runs after a successful build; i inspects the last"),
        "{empty}"
    );
    // i without a build in this session asks the engine for the project's last successful build.
    let cmds = app.update(Msg::Key(KeyEvent::from(KeyCode::Char('i'))));
    assert_eq!(
        cmds,
        vec![dockui::engine::Command::Image(
            image_job::ImageCommand::Inspect(None)
        )]
    );
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::Inspecting(
        "dockui-local/x:latest".into(),
    ))));
    insta::assert_snapshot!(render(&app, MONO, 80, 24));
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::Inspected {
        image: "dockui-local/x:latest".into(),
        result: Err("image dockui-local/x:latest is not in the engine: build it (dockui build) or pull it first".into()),
    })));
    let failed = render(&app, MONO, 80, 24);
    assert!(
        failed.contains("cannot inspect dockui-local/x:latest"),
        "{failed}"
    );
}

/// Both sides of `[ui] image_auto_inspect_max_mb` after a successful build: the build's image goes to the
/// engine with the cap; an image above it waits in the pane for `i`, which inspects it as before.
#[test]
fn a_large_image_waits_for_i_and_a_small_one_is_inspected_80x24() {
    let built = |image: &str| {
        Msg::Engine(EngineEvent::BuildFinished(Box::new(
            dockui::engine::BuildOutcome {
                success: true,
                image: image.into(),
                image_id: Some("sha256:1".into()),
                ..Default::default()
            },
        )))
    };
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    assert_eq!(
        app.image_auto_inspect_max_mb, 2000,
        "the documented default"
    );
    app.image_auto_inspect_max_mb = 2048;
    assert_eq!(
        app.update(built("gpu/cuda:1")),
        vec![dockui::engine::Command::Image(
            image_job::ImageCommand::InspectUpTo {
                image: "gpu/cuda:1".into(),
                max_bytes: 2_048_000_000
            }
        )]
    );
    // Above the cap (the engine measured 15 GB): the pane says so and how to inspect it.
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::TooLarge {
        image: "gpu/cuda:1".into(),
        bytes: 15_000_000_000,
    })));
    app.focus = Pane::Image;
    let screen = render(&app, MONO, 80, 24);
    assert!(
        screen.contains("image is 15.0 GB: press i to inspect (takes a while)"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
    // i inspects that image on demand, without the cap.
    assert_eq!(
        app.update(Msg::Key(KeyEvent::from(KeyCode::Char('i')))),
        vec![dockui::engine::Command::Image(
            image_job::ImageCommand::Inspect(Some("gpu/cuda:1".into()))
        )]
    );
    // Below the cap the engine goes straight on to inspect: the pane shows it inspecting, then the result.
    app.update(built("small:1"));
    app.update(Msg::Engine(EngineEvent::Image(ImageEvent::Inspecting(
        "small:1".into(),
    ))));
    let screen = render(&app, MONO, 80, 24);
    assert!(
        screen.contains("inspecting small:1") && !screen.contains("press i to inspect"),
        "{screen}"
    );
}

/// 60 layers: only a pane's worth is drawn; G shows the last page and the title says which rows.
#[test]
fn a_long_layer_list_scrolls_80x24() {
    let history: Vec<(String, bool)> = (1..=60)
        .map(|i| (format!("RUN /bin/sh -c echo step {i} # buildkit"), false))
        .collect();
    let history: Vec<(&str, bool)> = history.iter().map(|(s, e)| (s.as_str(), *e)).collect();
    let layers: Vec<Vec<u8>> = (1..=60)
        .map(|i| layer(&[(&format!("f{i}"), i * 1000)]))
        .collect();
    let resolved =
        dockui::image::archive::read_archive(archive(&history, &layers).as_slice()).unwrap();
    let report = dockui::image::analyze("long:1", resolved, dockui::image::Options { top: 3 });
    let mut app = app_with(image_job::view(report, "", "Dockerfile"));
    app.focus = Pane::Image;
    key(&mut app, KeyCode::Char('z'));
    let top = render(&app, MONO, 80, 24);
    assert!(
        top.contains("echo step 1\n") || top.contains("echo step 1 "),
        "{top}"
    );
    assert!(!top.contains("echo step 60"), "{top}");
    key(&mut app, KeyCode::Char('G'));
    let bottom = render(&app, MONO, 80, 24);
    assert!(
        bottom.contains("/f60"),
        "the largest files end the list:\n{bottom}"
    );
    insta::assert_snapshot!(bottom);
    key(&mut app, KeyCode::Char('k'));
    let up = render(&app, MONO, 80, 24);
    assert_ne!(up, bottom, "k moves up from the bottom");
}

/// The waste link and the efficiency are coloured as warnings on a colour terminal.
#[test]
fn waste_rows_are_warnings_in_colour() {
    let app = app_with(wasteful_view());
    let theme = Theme {
        mono: false,
        light: false,
    };
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal.draw(|f| view::draw(&app, &theme, f)).unwrap();
    let buf = terminal.backend().buffer().clone();
    let find = |needle: &str| {
        (0..buf.area.height).find_map(|y| {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            row.find(needle).map(|byte| {
                let x = row[..byte].chars().count() as u16;
                (x, y)
            })
        })
    };
    let (x, y) = find("pip cache 300.0 kB").expect("link row drawn");
    assert_eq!(buf[(x, y)].style().fg, theme.warning().fg);
    let (x, y) = find("efficiency").expect("summary drawn");
    assert_eq!(buf[(x, y)].style().fg, theme.warning().fg);
    assert_ne!(theme.warning().fg, None);
}

// ---- In tmux, against the real engine ----

fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn engine_up(test: &str) -> bool {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(common::engine_or_skip(test)).is_some()
}

/// A project building DOCKERFILE (plus a COPY of `app/`) under a unique image name. RUN steps use the host's
/// network: they need none, and a shared engine's bridge may be gone.
fn project(home: &Path, name: &str) -> Option<(PathBuf, String)> {
    let Some(bb) = busybox() else {
        assert!(
            std::env::var(common::REQUIRE_ENV).as_deref() != Ok("1"),
            "no static busybox on the host (apt-get install busybox-static)"
        );
        eprintln!("SKIPPED {name}: no static busybox on the host");
        return None;
    };
    let dir = home.join(name);
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::copy(bb, dir.join("busybox")).unwrap();
    std::fs::write(dir.join("app/settings.txt"), "one\n").unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        DOCKERFILE.replace("ENV MARK=1\n", "ENV MARK=1\nCOPY app/ /app/\n"),
    )
    .unwrap();
    let image = format!("dockui-test/tui-{name}");
    let tag = std::process::id().to_string();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"{image}\"\ntag = \"{tag}\"\nmax_attempts = 1\nnetwork = \"host\"\n[build.labels]\n\"dev.dockui.test\" = \"{name}-{tag}\"\n[smoke]\ninfer = false\n"
        ),
    )
    .unwrap();
    Some((dir, format!("{image}:{tag}")))
}

/// Every image the test's builds made (a rebuild leaves the previous one untagged), by the label they carry.
fn remove_image(image: &str) {
    let (name, tag) = image.rsplit_once(':').unwrap();
    let name = name.trim_start_matches("dockui-test/tui-");
    let out = std::process::Command::new("docker")
        .args(["images", "-q", "--filter"])
        .arg(format!("label=dev.dockui.test={name}-{tag}"))
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ids.dedup();
    for id in ids {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &id])
            .output();
    }
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_built_image_shows_its_layers_waste_and_efficiency_in_the_image_pane() {
    let test = "a_built_image_shows_its_layers_waste_and_efficiency_in_the_image_pane";
    if !engine_up(test) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let Some((dir, image)) = project(home.path(), "imagepane") else {
        return;
    };
    let Some(t) = Tmux::dockui("imagepane", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Image") && s.contains("i inspects"));
    t.send(&["b"]);
    // After the build the engine inspects the image by itself.
    let s = t.wait_for("the image inspected", |s| {
        s.contains("efficiency ") || s.contains("cannot inspect") || s.contains("failed after")
    });
    assert!(s.contains("efficiency "), "{s}");
    // Focus the Image pane (Shift-Tab from Conflicts) and zoom it: nothing is cut.
    t.send(&["BTab"]);
    t.wait_for("Image focused", |s| s.contains("[ Image"));
    t.send(&["z"]);
    let bb = std::fs::metadata(dir.join("busybox")).unwrap().len();
    let total = bb + 700_000 + "one\n".len() as u64;
    let eff = (total - 400_000) as f64 / total as f64 * 100.0;
    let s = t.wait_for("the Image pane zoomed", |s| {
        s.contains("z: all panes") && s.contains("instruction") && s.contains("Layers")
    });
    assert!(
        s.contains(&format!("efficiency {eff:.1}%")),
        "expected {eff:.1}%:\n{s}"
    );
    assert!(s.contains("wasted 400.0 kB of"), "{s}");
    assert!(
        s.contains("pip cache 300.0 kB in layer 3 -> DL3042 on Dockerfile:4"),
        "{s}"
    );
    // Layer 3 stores the file layer 5 deletes: its size and waste, and the instruction that made it.
    let row = s
        .lines()
        .find(|l| l.contains("dd if=/dev/zero of=/data/blob.bin"))
        .unwrap_or_else(|| panic!("layer 3 row:\n{s}"));
    assert!(
        row.contains("    3 ") && row.contains("700.0 kB") && row.contains("400.0 kB"),
        "{row}"
    );
    assert!(
        s.contains("ENV MARK=1"),
        "the ENV that made no layer is listed:\n{s}"
    );
    assert!(s.contains("COPY busybox /bin/busybox"), "{s}");
    // The end of the lists: the deleted file with the layers that wrote and deleted it.
    t.send(&["G"]);
    let s = t.wait_for("wasted paths", |s| s.contains("Wasted space"));
    assert!(
        s.contains("400.0 kB  /data/blob.bin  (layer 3 deleted in layer 5)"),
        "{s}"
    );
    // i inspects again (the same image: the same numbers).
    t.send(&["i"]);
    t.wait_for("inspected again", |s| {
        s.contains(&format!("inspecting {image}"))
    });
    t.wait_for("numbers again", |s| {
        s.contains(&format!("efficiency {eff:.1}%"))
    });
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    remove_image(&image);
}

/// The real engine reports the image's size without an export: above a 1 MB cap the busybox image (about
/// 2 MB) waits for `i`, and `i` inspects it.
#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn an_image_above_the_cap_is_inspected_on_i_only() {
    let test = "an_image_above_the_cap_is_inspected_on_i_only";
    if !engine_up(test) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let Some((dir, image)) = project(home.path(), "imagecap") else {
        return;
    };
    let cfg = dir.join(".dockui.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("[ui]\nimage_auto_inspect_max_mb = 1\n");
    std::fs::write(&cfg, text).unwrap();
    let Some(t) = Tmux::dockui("imagecap", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Image") && s.contains("i inspects"));
    t.send(&["b"]);
    let s = t.wait_for("the build done", |s| {
        s.contains("press i to inspect") || s.contains("efficiency ") || s.contains("failed after")
    });
    assert!(
        s.contains("image is 2.") && s.contains(" MB: press i to inspect (takes a while)"),
        "{s}"
    );
    assert!(!s.contains("efficiency "), "not inspected by itself:\n{s}");
    t.send(&["i"]);
    let s = t.wait_for("inspected on i", |s| {
        s.contains("efficiency ") || s.contains("cannot inspect")
    });
    assert!(s.contains("efficiency "), "{s}");
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    remove_image(&image);
}

#[test]
#[cfg_attr(
    not(dockui_engine),
    ignore = "needs a Docker engine (DOCKUI_REQUIRE_DOCKER=1 to require it)"
)]
fn a_rebuild_after_a_copy_source_changed_says_where_the_cache_broke() {
    let test = "a_rebuild_after_a_copy_source_changed_says_where_the_cache_broke";
    if !engine_up(test) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let Some((dir, image)) = project(home.path(), "cachebreak") else {
        return;
    };
    let Some(t) = Tmux::dockui("cachebreak", 160, 48, home.path(), &dir) else {
        return;
    };
    t.wait_for("TUI", |s| s.contains("Build log"));
    // The Build log zoomed: its lines are not cut.
    t.send(&["Tab", "Tab", "z"]);
    t.wait_for("log zoomed", |s| s.contains("[ Build log"));
    let mut last = None;
    let mut build = |t: &Tmux| -> String {
        t.send(&["b"]);
        let s = t.wait_for("a new build done", |s| {
            header(s).is_some()
                && header(s) != last
                && (s.contains("built after") || s.contains("failed after"))
        });
        assert!(s.contains("built after"), "{s}");
        last = header(&s);
        // From the top of the attempt, whatever the builder printed.
        t.send(&["g"]);
        t.wait_for("top of the log", |s| s.contains("=== attempt 1/1"))
    };
    let s = build(&t);
    assert!(
        !s.contains("cache broke"),
        "no previous build, nothing to compare:\n{s}"
    );
    // The same inputs: nothing broke.
    let s = build(&t);
    assert!(!s.contains("cache broke"), "{s}");
    std::fs::write(dir.join("app/settings.txt"), "two\n").unwrap();
    let s = build(&t);
    // Under the attempt's header, before the builder's own output.
    let lines: Vec<&str> = s.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("=== attempt 1/1"))
        .expect("attempt header");
    assert!(
        lines[at + 1].contains(
            "dockui: cache broke at line 8 (COPY app/ /app/): a COPY source file changed: app/settings.txt"
        ),
        "{s}"
    );
    t.send(&["q"]);
    t.wait_for("shell back", |s| s.matches("READY$").count() >= 2);
    remove_image(&image);
}

/// The build id in the log's attempt header.
fn header(screen: &str) -> Option<String> {
    let at = screen.find("=== attempt 1/1 (")? + "=== attempt 1/1 (".len();
    let rest = &screen[at..];
    Some(rest[..rest.find(')')?].to_string())
}

/// The cache-break line heads the first attempt only (a retry follows dockui's own fix), and a build that
/// breaks nothing shows none.
#[test]
fn the_cache_break_line_heads_the_first_attempt_only() {
    let mut app = App::new(PathBuf::from("/x"), "unix:///x".into());
    let brk = dockui::engine::cache_break::CacheBreak {
        step: 4,
        line: 4,
        instruction: "COPY requirements.txt .".into(),
        reason: dockui::engine::cache_break::Reason::CopySourceChanged,
        detail: "requirements.txt".into(),
    };
    let started = |attempt| {
        Msg::Engine(EngineEvent::BuildStarted {
            build_id: "b1".into(),
            attempt,
            max_attempts: 2,
            log_path: PathBuf::from("/tmp/none.log"),
            platform: None,
        })
    };
    app.update(Msg::Engine(EngineEvent::CacheBreak(Some(Box::new(brk)))));
    app.update(started(1));
    let lines: Vec<&String> = app.log.lines.iter().collect();
    assert!(lines[0].starts_with("=== attempt 1/2"), "{lines:?}");
    assert_eq!(
        lines[1],
        "dockui: cache broke at line 4 (COPY requirements.txt .): a COPY source file changed: requirements.txt"
    );
    app.update(started(2));
    assert!(
        !app.log.lines.iter().any(|l| l.contains("cache broke")),
        "{:?}",
        app.log.lines
    );
    app.update(Msg::Engine(EngineEvent::CacheBreak(None)));
    app.update(started(1));
    assert_eq!(app.log.lines.len(), 1, "{:?}", app.log.lines);
    // Worked out beside the build, the line may come after the attempt started and printed: it still goes
    // under the header, and only once.
    app.update(Msg::Engine(EngineEvent::BuildLog(vec![
        "#1 [internal] load build definition".into(),
    ])));
    let late = Some(Box::new(dockui::engine::cache_break::CacheBreak {
        step: 2,
        line: 2,
        instruction: "RUN true".into(),
        reason: dockui::engine::cache_break::Reason::DockerfileEdited,
        detail: "was `RUN false`".into(),
    }));
    app.update(Msg::Engine(EngineEvent::CacheBreak(late.clone())));
    app.update(Msg::Engine(EngineEvent::CacheBreak(late)));
    let lines: Vec<&String> = app.log.lines.iter().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[1].starts_with("dockui: cache broke at line 2"),
        "{lines:?}"
    );
    assert_eq!(lines[2], "#1 [internal] load build definition");
}
