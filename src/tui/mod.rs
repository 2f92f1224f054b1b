//! The terminal front end: a thin loop that feeds keys and engine events to `App::update` and draws on change.

pub mod app;
pub mod gpu_pane;
pub mod keymap;
pub mod review;
pub mod theme;
pub mod view;

use crate::engine::{self, Command, EngineContext};
use app::{App, Msg};
use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

/// At most ~30 frames a second, however fast events arrive.
const FRAME: Duration = Duration::from_millis(33);

/// Restores the terminal on every way out of `run`, including early returns and unwinding.
struct RestoreGuard;
impl Drop for RestoreGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

pub async fn run(ctx: EngineContext) -> anyhow::Result<()> {
    let theme = theme::Theme::from_config(&ctx.config.ui.theme);
    let mut app = App::new(ctx.project_dir.clone(), ctx.docker.endpoint());
    let nvml_lib = Some(&ctx.config.gpu.nvml_lib)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from);
    let poll = Duration::from_millis(ctx.config.gpu.poll_ms.max(100));
    let docker = ctx.docker.clone();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;

    // ratatui::init enters raw mode + alternate screen and chains a panic hook that restores the terminal.
    let mut terminal = ratatui::init();
    let _guard = RestoreGuard;
    let mut handle = engine::spawn(ctx);
    let (gpu_tx, mut gpu_rx) = tokio::sync::mpsc::unbounded_channel();
    let gpu_cancel = tokio_util::sync::CancellationToken::new();
    crate::gpu::spawn_poller(nvml_lib, poll, gpu_tx, gpu_cancel.clone());
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;

    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| view::draw(&app, &theme, f))?;
            last_draw = Instant::now();
            dirty = false;
        }
        if app.should_quit {
            break;
        }
        let frame_due = last_draw + FRAME;
        let commands = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) => { dirty = true; app.update(Msg::Key(k)) }
                Some(Ok(Event::Resize(..))) => { dirty = true; app.update(Msg::Resize) }
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
            Some(mut state) = gpu_rx.recv() => {
                // GPU processes inside containers are shown by container name.
                let ids = state.container_ids();
                if !ids.is_empty()
                    && let Ok(names) = docker.container_names().await
                {
                    state.set_container_names(|id| names.get(id).cloned());
                }
                dirty = true;
                app.update(Msg::Gpu(state))
            }
            _ = tick.tick(), if app.build_running() => { dirty = true; app.update(Msg::Tick(Instant::now())) }
            _ = tokio::time::sleep_until(frame_due.into()), if dirty => Vec::new(),
            _ = sigterm.recv() => { app.should_quit = true; vec![Command::Cancel] }
            _ = sighup.recv() => { app.should_quit = true; vec![Command::Cancel] }
            _ = sigint.recv() => { app.should_quit = true; vec![Command::Cancel] }
        };
        for c in commands {
            let _ = handle.commands.send(c);
        }
    }
    // Stop builds before giving the terminal back, so nothing keeps building behind the user's back.
    gpu_cancel.cancel();
    handle.shutdown().await;
    Ok(())
}
