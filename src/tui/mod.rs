//! The terminal front end: a thin loop that feeds keys and engine events to `App::update` and draws on change.

pub mod app;
pub mod keymap;
pub mod panes;
pub mod popups;
pub mod review;
pub mod status;
pub mod text;
pub mod theme;
pub mod view;

// The older paths, kept for the tests and benchmarks that name them.
pub use panes::gpu as gpu_pane;
pub use panes::log as logview;

use crate::engine::{self, Command, EngineContext};
use app::{App, Msg};
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// At most ~30 frames a second, however fast events arrive.
const FRAME: Duration = Duration::from_millis(33);

/// Carry out a side effect the app asked for. Failures are logged: a clipboard that cannot be reached must
/// not disturb the UI.
fn perform(out: app::Output) {
    use std::io::Write;
    match out {
        app::Output::Osc52(b64) => {
            let mut stdout = std::io::stdout();
            let _ = write!(stdout, "\x1b]52;c;{b64}\x07");
            let _ = stdout.flush();
        }
        app::Output::CopyCommand(cmd, text) => {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let child = tokio::process::Command::new("sh")
                    .args(["-c", &cmd])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
                match child {
                    Ok(mut c) => {
                        if let Some(mut stdin) = c.stdin.take() {
                            let _ = stdin.write_all(text.as_bytes()).await;
                        }
                        let _ = c.wait().await;
                    }
                    Err(e) => log::warn!("copy command {cmd:?} failed: {e}"),
                }
            });
        }
        app::Output::Mouse(on) => {
            let mut stdout = std::io::stdout();
            let _ = if on {
                crossterm::execute!(stdout, crossterm::event::EnableMouseCapture)
            } else {
                crossterm::execute!(stdout, crossterm::event::DisableMouseCapture)
            };
        }
    }
}

/// Restores the terminal on every way out of `run`, including early returns and unwinding.
struct RestoreGuard;
impl Drop for RestoreGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

use crate::fatal_signals::fatal_signals;

/// Runs until the user quits (exit code 0) or a fatal signal arrives (any of `crate::fatal_signals::FATAL_SIGNALS`: 128 + its
/// number, like a shell, with the terminal given back).
pub async fn run(
    ctx: EngineContext,
    keymap: keymap::Keymap,
    readonly: bool,
) -> anyhow::Result<i32> {
    let theme = theme::Theme::from_config(&ctx.config.ui.theme);
    let mut app = App::new(ctx.project_dir.clone(), ctx.docker.endpoint());
    app.keymap = keymap;
    app.readonly = readonly;
    app.review.opts = ctx.analyze_options();
    // Plans are made in the engine: a big project's fixed point must not freeze the terminal.
    app.planner = app::Planner::Engine;
    app.image_auto_inspect_max_mb = ctx.config.ui.image_auto_inspect_max_mb;
    app.copy_command = Some(ctx.config.ui.copy_command.clone()).filter(|c| !c.is_empty());
    app.builds_dir = Some(ctx.paths.builds_dir());
    let mut signals = fatal_signals()?;

    // ratatui::init enters raw mode + alternate screen and chains a panic hook that restores the terminal.
    let mut terminal = ratatui::init();
    let _guard = RestoreGuard;
    if ctx.config.ui.mouse {
        app.mouse = true;
        app.outbox.push(app::Output::Mouse(true));
    }
    let mut handle = engine::spawn(ctx);
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    let mut exit_code = 0;

    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| view::draw(&app, &theme, f))?;
            last_draw = Instant::now();
            dirty = false;
            // For the test that a panic gives the terminal back (ratatui's hook + RestoreGuard).
            if std::env::var_os("DOCKUI_TEST_PANIC").is_some() {
                panic!("DOCKUI_TEST_PANIC is set: panicking on purpose after the first frame");
            }
        }
        if app.should_quit {
            break;
        }
        let frame_due = last_draw + FRAME;
        let commands = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) => { dirty = true; app.update(Msg::Key(k)) }
                Some(Ok(Event::Resize(..))) => { dirty = true; app.update(Msg::Resize) }
                Some(Ok(Event::Mouse(m))) => { dirty = true; app.update(Msg::Mouse(m)) }
                Some(Ok(_)) => Vec::new(),
                // The terminal went away (SSH dropped): leave cleanly.
                Some(Err(_)) | None => { app.should_quit = true; vec![Command::Cancel] }
            },
            Some(ev) = handle.events.recv() => {
                dirty = true;
                let mut cmds = app.update(Msg::Engine(ev));
                // Coalesce bursts: fold everything already queued before the next draw.
                while let Ok(ev) = handle.events.try_recv() {
                    cmds.extend(app.update(Msg::Engine(ev)));
                }
                cmds
            }
            _ = tick.tick(), if app.build_running() => { dirty = true; app.update(Msg::Tick(Instant::now())) }
            _ = tokio::time::sleep_until(frame_due.into()), if dirty => Vec::new(),
            Some(signo) = signals.next() => { app.should_quit = true; exit_code = 128 + signo; vec![Command::Cancel] }
        };
        for c in commands {
            let _ = handle.commands.send(c);
        }
        for out in std::mem::take(&mut app.outbox) {
            perform(out);
        }
    }
    if app.mouse {
        perform(app::Output::Mouse(false));
    }
    // Stop builds (and the GPU job) before giving the terminal back, so nothing keeps running behind the
    // user's back.
    handle.shutdown().await;
    Ok(exit_code)
}
