//! UI state and the one place it changes: `App::update(msg) -> Vec<Command>`.

use super::keymap::{Action, Keymap};
use super::panes::{self, Handled};
use super::review;
use crate::analyze::{Analysis, Finding};
use crate::docker::{DockerError, EngineInfo};
use crate::engine::image_job::ImageEvent;
use crate::engine::{BuildOutcome, Command, EngineEvent};
use crossterm::event::{KeyEvent, KeyEventKind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Lines kept in memory for the log pane; the full log is always in the attempt's file.
pub const LOG_WINDOW: usize = crate::tui::panes::log::WINDOW;

/// The notice after `b` on a build that waits for the user; the next attempt (or the result) answers it.
const RETRYING: &str = "retrying...";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Conflicts,
    Diff,
    Log,
    Gpu,
    Smoke,
    Digest,
    Image,
}

impl Pane {
    pub const ALL: [Pane; 7] = [
        Pane::Conflicts,
        Pane::Diff,
        Pane::Log,
        Pane::Gpu,
        Pane::Smoke,
        Pane::Digest,
        Pane::Image,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Pane::Conflicts => "Conflicts",
            Pane::Diff => "Proposed diff",
            Pane::Log => "Build log",
            Pane::Gpu => "GPU",
            Pane::Smoke => "Smoke",
            Pane::Digest => "Digest",
            Pane::Image => "Image",
        }
    }
    /// The name used for pane-scoped keys in the keymap.
    pub fn key(self) -> &'static str {
        match self {
            Pane::Conflicts => "conflicts",
            Pane::Diff => "diff",
            Pane::Log => "log",
            Pane::Gpu => "gpu",
            Pane::Smoke => "smoke",
            Pane::Digest => "digest",
            Pane::Image => "image",
        }
    }
    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub enum EngineState {
    Connecting,
    Ready(EngineInfo),
    Unreachable(String),
}

#[derive(Debug, Clone)]
pub enum BuildState {
    Idle,
    Running {
        build_id: String,
        attempt: u32,
        max_attempts: u32,
        /// The platform being built (a multi-platform build on an engine that builds one at a time).
        platform: Option<String>,
        started: Instant,
        step: Option<(u32, u32)>,
        /// When the running step started, for its elapsed time in the status bar.
        step_started: Instant,
        /// Steps the builder took from its cache (BuildKit "CACHED", legacy "Using cache").
        cached: u32,
    },
    Done(Box<BuildOutcome>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popup {
    Help,
    ConfirmQuit,
    History,
    /// Push an image whose smoke tests failed? (y pushes, anything else keeps it)
    ConfirmPush,
    /// Roll a tag back to its previous push? (y rolls back, anything else keeps it)
    ConfirmRollback,
    /// The builder's question before a build (a CodeBuild build costs money): y builds, anything else not.
    ConfirmBuild,
}

/// What the terminal loop must do for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Base64 payload of an OSC 52 clipboard write.
    Osc52(String),
    /// Run this shell command with the text on stdin.
    CopyCommand(String, String),
    Mouse(bool),
}

#[derive(Debug, Default)]
pub struct PushState {
    pub progress: crate::docker::push::PushProgressState,
    pub report: Option<Box<crate::registry::report::PushReport>>,
}

pub enum Msg {
    Key(KeyEvent),
    Engine(EngineEvent),
    /// A new GPU snapshot (the poller sends only changes).
    Gpu(crate::gpu::GpuState),
    /// Once a second while a build runs, for the elapsed time.
    Tick(Instant),
    Resize,
    Mouse(crossterm::event::MouseEvent),
}

/// Where the review's fix plans are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Planner {
    /// Here, inside `update` (an app driven without an engine: tests, tools).
    #[default]
    Inline,
    /// In the engine (`Command::Plan` -> `EngineEvent::Planned`): the terminal loop never waits for a plan.
    Engine,
}

pub struct App {
    pub project: PathBuf,
    pub planner: Planner,
    /// Commands the app asked for outside a key's own answer (a plan request), sent with `update`'s result.
    queued: Vec<Command>,
    pub endpoint: String,
    /// The builder's kind and docker context, once the engine said (the status bar names them).
    pub backend: Option<crate::builder::BackendInfo>,
    pub keymap: Keymap,
    pub focus: Pane,
    pub popup: Option<Popup>,
    pub engine: EngineState,
    pub analysis: Option<Result<Analysis, String>>,
    pub conflicts: super::panes::conflicts::ConflictsPane,
    pub log: crate::tui::panes::log::LogView,
    pub build: BuildState,
    pub gpu: panes::gpu::GpuPane,
    pub notice: Option<String>,
    /// The last failed attempt's diagnosis, shown in Conflicts.
    pub diagnosis: Option<Box<crate::classify::Diagnosis>>,
    pub smoke: panes::smoke::SmokePane,
    /// The Image pane: the last built image's layers and waste.
    pub image: panes::image::ImagePane,
    /// `[ui] image_auto_inspect_max_mb`: larger images are inspected on `i` only.
    pub image_auto_inspect_max_mb: u64,
    /// The Digest pane's push history and rollback.
    pub rollback: panes::digest::RollbackState,
    pub review: crate::tui::review::Review,
    /// The running or last push.
    pub push: Option<PushState>,
    /// The image waiting for the user's yes in `Popup::ConfirmPush`, and its failed smoke checks.
    pub push_pending: Option<(String, Vec<String>)>,
    /// The builder's question shown in `Popup::ConfirmBuild` (e.g. CodeBuild's cost warning).
    pub build_question: Vec<String>,
    /// The last push went out although these smoke checks failed (the Digest pane says so).
    pub pushed_despite: Vec<String>,
    /// Editing a hunk's new text.
    pub editor: Option<(
        crate::fix::proposal::HunkId,
        ratatui_textarea::TextArea<'static>,
    )>,
    /// --readonly: never write, build or push.
    pub readonly: bool,
    pub zoomed: bool,
    pub help_scroll: usize,
    /// The build waits for the user after a failure (auto_fix = "off"): the rules whose fixes cure it.
    pub awaiting_retry: Option<Vec<String>>,
    pub history: Vec<crate::engine::history::BuildSummary>,
    pub history_selected: usize,
    /// Where past builds live (`Paths::builds_dir`), to open one from the history popup.
    pub builds_dir: Option<PathBuf>,
    /// The user asked for the history (h): open the popup when it arrives.
    pub history_wanted: bool,
    pub mouse: bool,
    /// `ui.copy_command`: also pipe copied text to this command.
    pub copy_command: Option<String>,
    /// Side effects for the terminal loop (escape sequences, commands): the app itself never writes.
    pub outbox: Vec<Output>,
    pub scroll: [usize; 7],
    pub now: Instant,
    pub should_quit: bool,
}

impl App {
    pub fn new(project: PathBuf, endpoint: String) -> App {
        App {
            project,
            planner: Planner::default(),
            queued: Vec::new(),
            endpoint,
            backend: None,
            keymap: Keymap::default(),
            focus: Pane::Conflicts,
            popup: None,
            engine: EngineState::Connecting,
            analysis: None,
            conflicts: Default::default(),
            log: Default::default(),
            build: BuildState::Idle,
            gpu: Default::default(),
            notice: None,
            diagnosis: None,
            smoke: Default::default(),
            image: Default::default(),
            image_auto_inspect_max_mb: crate::config::UiConfig::default().image_auto_inspect_max_mb,
            rollback: Default::default(),
            review: Default::default(),
            push: None,
            push_pending: None,
            build_question: Vec::new(),
            pushed_despite: Vec::new(),
            editor: None,
            readonly: false,
            zoomed: false,
            help_scroll: 0,
            awaiting_retry: None,
            history: Vec::new(),
            history_selected: 0,
            builds_dir: None,
            history_wanted: false,
            mouse: false,
            copy_command: None,
            outbox: Vec::new(),
            scroll: [0; 7],
            now: Instant::now(),
            should_quit: false,
        }
    }

    pub fn build_running(&self) -> bool {
        matches!(self.build, BuildState::Running { .. })
    }

    pub fn findings(&self) -> &[Finding] {
        match &self.analysis {
            Some(Ok(a)) => &a.findings,
            _ => &[],
        }
    }

    pub fn selected_finding(&self) -> Option<&Finding> {
        self.findings().get(self.conflicts.selected)
    }

    pub fn elapsed(&self) -> Option<Duration> {
        match &self.build {
            BuildState::Running { started, .. } => {
                Some(self.now.saturating_duration_since(*started))
            }
            _ => None,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        let mut out = self.handle(msg);
        out.append(&mut self.queued);
        out
    }

    fn handle(&mut self, msg: Msg) -> Vec<Command> {
        match msg {
            Msg::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Msg::Key(_) | Msg::Resize => Vec::new(),
            Msg::Mouse(m) => {
                use crossterm::event::MouseEventKind;
                match m.kind {
                    MouseEventKind::ScrollUp => self.scroll_by(-3),
                    MouseEventKind::ScrollDown => self.scroll_by(3),
                    _ => {}
                }
                Vec::new()
            }
            Msg::Gpu(state) => {
                self.gpu.set(state);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Engine(ev) => {
                let follow = self.follow_up(&ev);
                self.on_engine(ev);
                follow
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if self.editor.is_some() {
            panes::diff::editor_key(self, key);
            return Vec::new();
        }
        if self.log.input.is_some() {
            panes::log::input_key(self, key);
            return Vec::new();
        }
        let action = self.keymap.action_in(&key, self.focus.key());
        if self.popup == Some(Popup::ConfirmQuit) {
            match key.code {
                crossterm::event::KeyCode::Char('y') | crossterm::event::KeyCode::Char('q') => {
                    self.should_quit = true;
                    return vec![Command::Cancel];
                }
                _ => {
                    self.popup = None;
                    return Vec::new();
                }
            }
        }
        if self.popup == Some(Popup::ConfirmPush) {
            self.popup = None;
            let pending = self.push_pending.take();
            if let (crossterm::event::KeyCode::Char('y'), Some((image, failed))) =
                (key.code, pending)
            {
                self.pushed_despite = failed;
                self.push = Some(PushState::default());
                return vec![Command::Push(image)];
            }
            self.notice = Some("not pushed".into());
            return Vec::new();
        }
        if self.popup == Some(Popup::ConfirmBuild) {
            self.popup = None;
            if key.code == crossterm::event::KeyCode::Char('y') {
                return vec![Command::ConfirmBuild];
            }
            self.notice = Some("not started: no build was sent".into());
            return Vec::new();
        }
        if self.popup == Some(Popup::ConfirmRollback) {
            let yes = key.code == crossterm::event::KeyCode::Char('y');
            return panes::digest::confirm(self, yes);
        }
        if self.popup == Some(Popup::History) && action != Some(Action::Quit) {
            let last = self.history.len().saturating_sub(1);
            match (key.code, action) {
                (_, Some(Action::Down)) => {
                    self.history_selected = (self.history_selected + 1).min(last)
                }
                (_, Some(Action::Up)) => {
                    self.history_selected = self.history_selected.saturating_sub(1)
                }
                (crossterm::event::KeyCode::Enter, _) => self.open_past_build(),
                _ => self.popup = None,
            }
            return Vec::new();
        }
        let Some(action) = action else {
            return Vec::new();
        };
        if self.popup == Some(Popup::Help) {
            match action {
                Action::Down | Action::PageDown => {
                    self.help_scroll += if action == Action::Down { 1 } else { 10 }
                }
                Action::Up | Action::PageUp => {
                    self.help_scroll =
                        self.help_scroll
                            .saturating_sub(if action == Action::Up { 1 } else { 10 })
                }
                Action::Help | Action::Back | Action::Quit => {}
                _ => return Vec::new(),
            }
            if !matches!(action, Action::Help | Action::Back | Action::Quit) {
                return Vec::new();
            }
        }
        self.notice = None;
        // The focused pane first: its own keys and how it moves.
        let handled = match self.focus {
            Pane::Conflicts => panes::conflicts::on_action(self, action),
            Pane::Diff => panes::diff::on_action(self, action),
            Pane::Log => panes::log::on_action(self, action),
            Pane::Gpu => panes::gpu::on_action(self, action),
            Pane::Smoke => panes::smoke::on_action(self, action),
            Pane::Digest => match panes::digest::on_action(self, action) {
                Some(commands) => Handled::Send(commands),
                None => self.scroll_plain(action),
            },
            Pane::Image => panes::image::on_action(self, action),
        };
        match handled {
            Handled::Yes => return Vec::new(),
            Handled::Send(commands) => return commands,
            Handled::No => {}
        }
        match action {
            Action::Quit => {
                let ctrl_c = key
                    .modifiers
                    .contains(crossterm::event::KeyModifiers::CONTROL);
                if self.build_running() && !ctrl_c {
                    self.popup = Some(Popup::ConfirmQuit);
                } else {
                    self.should_quit = true;
                    if self.build_running() {
                        return vec![Command::Cancel];
                    }
                }
            }
            Action::Help => {
                self.popup = if self.popup == Some(Popup::Help) {
                    None
                } else {
                    Some(Popup::Help)
                }
            }
            Action::Back => self.popup = None,
            Action::FocusNext => self.focus = Pane::ALL[(self.focus.index() + 1) % Pane::ALL.len()],
            Action::FocusPrev => {
                self.focus = Pane::ALL[(self.focus.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
            }
            Action::Build if self.awaiting_retry.is_some() => {
                self.awaiting_retry = None;
                self.notice = Some(RETRYING.into());
                return vec![Command::Retry(true)];
            }
            Action::Build => {
                if self.readonly {
                    self.notice = Some("read-only mode: no builds".into());
                } else if self.build_running() {
                    self.notice = Some("a build is already running - press c to cancel it".into());
                } else {
                    // The new build's cache-break line comes with it.
                    self.log.cache_break = None;
                    // Until its first attempt starts (a remote builder may take seconds to answer).
                    self.notice = Some(format!("starting a build on {}...", self.endpoint));
                    return vec![Command::Build];
                }
            }
            Action::Cancel => {
                if self.build_running() {
                    self.notice = Some("cancelling the build...".into());
                    return vec![Command::Cancel];
                }
                self.notice = Some("no build is running".into());
            }
            Action::Reanalyze => {
                self.notice = Some("re-reading the configuration...".into());
                return vec![Command::Reload];
            }
            Action::Copy => self.copy(),
            Action::History => {
                self.history_wanted = true;
                return vec![Command::History];
            }
            Action::Zoom => self.zoomed = !self.zoomed,
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.outbox.push(Output::Mouse(self.mouse));
                self.notice = Some(
                    if self.mouse {
                        "mouse on"
                    } else {
                        "mouse off: terminal selection works"
                    }
                    .into(),
                );
            }
            Action::Push => return self.push_key(),
            Action::Inspect => return panes::image::inspect_key(self),
            // Pane keys outside their pane do nothing.
            _ => {}
        }
        Vec::new()
    }

    /// `p`: this session's image; after failed smoke tests only with a yes; without a build of this
    /// session, the last successful build of this project from the history (the engine looks it up).
    fn push_key(&mut self) -> Vec<Command> {
        if self.readonly {
            self.notice = Some("read-only mode: nothing is pushed".into());
            return Vec::new();
        }
        if self.push.as_ref().is_some_and(|p| p.report.is_none()) {
            self.notice = Some("a push is already running".into());
            return Vec::new();
        }
        if self.build_running() {
            self.notice = Some("a build is running - push when it is done".into());
            return Vec::new();
        }
        self.pushed_despite.clear();
        match &self.build {
            BuildState::Done(o) if o.success => {
                let image = o.image.clone();
                self.push = Some(PushState::default());
                vec![Command::Push(image)]
            }
            // (Not after a multi-platform build that stopped part way: the history refuses that push.)
            BuildState::Done(o)
                if o.image_id.is_some()
                    && o.platforms.is_empty()
                    && o.smoke
                        .iter()
                        .any(|r| r.status != crate::engine::smoke::SmokeStatus::Passed) =>
            {
                let failed = o
                    .smoke
                    .iter()
                    .filter(|r| r.status != crate::engine::smoke::SmokeStatus::Passed)
                    .map(|r| r.name.clone())
                    .collect();
                self.push_pending = Some((o.image.clone(), failed));
                self.popup = Some(Popup::ConfirmPush);
                Vec::new()
            }
            _ => {
                self.notice = Some("pushing the last successful build of this project...".into());
                self.push = Some(PushState::default());
                vec![Command::PushLatest]
            }
        }
    }

    /// The history popup's Enter: the selected build's last attempt log in the Build log pane.
    fn open_past_build(&mut self) {
        self.popup = None;
        let Some(b) = self.history.get(self.history_selected).cloned() else {
            return;
        };
        if self.build_running() {
            self.notice = Some("a build is running - its log stays in the pane; h after it".into());
            return;
        }
        let Some(dir) = &self.builds_dir else {
            self.notice = Some(format!("`dockui logs {}` prints its log", b.build_id));
            return;
        };
        let logs = match crate::engine::history::attempt_logs(dir, &b.build_id) {
            Ok(l) => l,
            Err(e) => {
                self.notice = Some(e.to_string());
                return;
            }
        };
        let Some((path, attempt)) = logs.last().cloned() else {
            self.notice = Some(format!("build {} has no log", b.build_id));
            return;
        };
        match panes::log::read_tail(&path, panes::log::WINDOW) {
            Ok(lines) => {
                self.log.clear();
                self.log.file = Some(path.clone());
                self.log.push(vec![format!(
                    "=== past build {} ({}, attempt {attempt}) - {} ===",
                    b.build_id,
                    b.status,
                    path.display()
                )]);
                self.log.push(lines);
                self.log.past = Some(b.build_id.clone());
                self.log.to_top();
                self.focus = Pane::Log;
                self.notice = Some(format!(
                    "build {} - b builds again, G goes to its end",
                    b.build_id
                ));
            }
            Err(e) => self.notice = Some(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// What `y` copies in the focused pane.
    fn copy_text(&self) -> Option<String> {
        match self.focus {
            Pane::Conflicts => panes::conflicts::copy_text(self),
            Pane::Log => self.log.current_line().cloned(),
            Pane::Digest => panes::digest::copy_text(self),
            Pane::Smoke => panes::smoke::copy_text(self),
            Pane::Image => panes::image::copy_text(self),
            Pane::Gpu | Pane::Diff => None,
        }
    }

    fn copy(&mut self) {
        let Some(text) = self.copy_text() else {
            self.notice = Some("nothing to copy here".into());
            return;
        };
        // OSC 52 travels through SSH and tmux (with set-clipboard on) to the user's own terminal.
        use base64::Engine as _;
        self.outbox.push(Output::Osc52(
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
        ));
        if let Some(cmd) = &self.copy_command {
            self.outbox
                .push(Output::CopyCommand(cmd.clone(), text.clone()));
        }
        let shown: String = text.chars().take(40).collect();
        self.notice = Some(format!("copied: {shown}"));
    }

    /// Plan the review again. The planner analyses the files on disk itself (with the push's digest updates
    /// as extra fixes) to a fixed point, which takes seconds on a big project: with an engine it runs there and
    /// the answer comes back as `EngineEvent::Planned`.
    pub(crate) fn refresh_review(&mut self) {
        match self.planner {
            Planner::Inline => {
                self.review.refresh(&self.project);
                self.after_plan();
            }
            Planner::Engine => {
                let req = self.review.request();
                self.queued.push(Command::Plan(Box::new(req)));
            }
        }
    }

    /// The cursor move that waited for the plan.
    fn after_plan(&mut self) {
        match self.review.after.take() {
            Some(review::AfterPlan::Source(key)) => {
                self.review.focus_source(&key);
            }
            Some(review::AfterPlan::Rules(rules)) if self.review.focus_rules(&rules) => {
                self.focus = Pane::Diff;
            }
            Some(review::AfterPlan::Rules(_)) | None => {}
        }
    }

    /// Mouse wheel: the focused pane moves as with j/k.
    fn scroll_by(&mut self, delta: isize) {
        match self.focus {
            Pane::Gpu | Pane::Smoke => {
                let action = if delta < 0 { Action::Up } else { Action::Down };
                for _ in 0..delta.unsigned_abs() {
                    match self.focus {
                        Pane::Gpu => panes::gpu::on_action(self, action),
                        _ => panes::smoke::on_action(self, action),
                    };
                }
            }
            Pane::Diff => self.review.move_by(delta),
            Pane::Conflicts => panes::conflicts::scroll(self, delta),
            Pane::Log => self.log.scroll(delta),
            Pane::Image => panes::image::scroll(self, delta),
            p => {
                let s = &mut self.scroll[p.index()];
                *s = s.saturating_add_signed(delta);
            }
        }
    }

    /// Panes that only scroll their text (GPU, Smoke, Digest).
    fn scroll_plain(&mut self, action: Action) -> Handled {
        let s = &mut self.scroll[self.focus.index()];
        match action {
            Action::Down => *s += 1,
            Action::Up => *s = s.saturating_sub(1),
            Action::PageDown => *s += 10,
            Action::PageUp => *s = s.saturating_sub(10),
            Action::Top | Action::Bottom => *s = 0,
            _ => return Handled::No,
        }
        Handled::Yes
    }

    /// What an engine event asks of the engine next: the image's inspection after a successful build, the
    /// tag history at start and after a push.
    fn follow_up(&self, ev: &EngineEvent) -> Vec<Command> {
        let mut out = panes::digest::history_after(ev);
        if let EngineEvent::BuildFinished(o) = ev {
            out.extend(panes::image::after_build(o, self.image_auto_inspect_max_mb));
        }
        out
    }

    fn on_engine(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Engine(Ok(info)) => self.engine = EngineState::Ready(info),
            EngineEvent::Engine(Err(e)) => {
                self.engine = EngineState::Unreachable(match e {
                    DockerError::Unreachable { .. } => e.to_string(),
                    other => format!("Docker engine not reachable at {}: {other}", self.endpoint),
                })
            }
            EngineEvent::Backend(b) => self.backend = Some(b),
            EngineEvent::Gpu(state) => self.gpu.set(*state),
            EngineEvent::Analysis(result) => {
                self.analysis = Some(result);
                self.refresh_review();
                let findings = self.findings().to_vec();
                self.conflicts.clamp(&findings);
            }
            EngineEvent::BuildStarted {
                build_id,
                attempt,
                max_attempts,
                log_path,
                platform,
            } => {
                self.smoke.clear();
                self.log.past = None;
                if attempt == 1 {
                    self.diagnosis = None;
                }
                // The attempt the user asked for has started: the status bar shows it now.
                if self
                    .notice
                    .as_deref()
                    .is_some_and(|n| n.starts_with("starting a build on ") || n == RETRYING)
                {
                    self.notice = None;
                }
                // One attempt per window, so paging older lines reads the right file; earlier attempts stay in
                // their own files (`dockui logs`).
                self.log.clear();
                self.log.file = Some(log_path.clone());
                let on = platform
                    .as_deref()
                    .map(|p| format!("{p}: "))
                    .unwrap_or_default();
                self.push_log(vec![format!(
                    "=== {on}attempt {attempt}/{max_attempts} ({build_id}) - {} ===",
                    log_path.display()
                )]);
                // Where the previous build's cache stops serving this one, at the top of the first attempt.
                if attempt == 1
                    && let Some(line) = self.log.cache_break.clone()
                {
                    self.push_log(vec![line]);
                }
                let started = match &self.build {
                    BuildState::Running { started, .. } => *started,
                    _ => Instant::now(),
                };
                self.now = Instant::now();
                self.build = BuildState::Running {
                    build_id,
                    attempt,
                    max_attempts,
                    platform,
                    started,
                    step: None,
                    step_started: Instant::now(),
                    cached: 0,
                };
            }
            EngineEvent::BuildStep { current, total } => {
                if let BuildState::Running {
                    step, step_started, ..
                } = &mut self.build
                {
                    *step = Some((current, total));
                    *step_started = Instant::now();
                }
            }
            EngineEvent::BuildLog(lines) => {
                if let BuildState::Running { cached, .. } = &mut self.build {
                    let hits = lines
                        .iter()
                        .filter(|l| l.ends_with(" CACHED") || l.trim() == "---> Using cache")
                        .count();
                    *cached += hits as u32;
                }
                self.push_log(lines)
            }
            EngineEvent::BuildFinished(outcome) => {
                self.awaiting_retry = None;
                // Notices about the build's start, retry or cancel are answered by the result itself.
                if self.notice.as_deref().is_some_and(|n| {
                    n.starts_with("starting a build on ")
                        || n == RETRYING
                        || n == "cancelling the build..."
                }) {
                    self.notice = None;
                }
                // An earlier attempt's failure is cured: Conflicts must not say "build failed" any more.
                if outcome.success {
                    self.diagnosis = None;
                }
                if outcome.engine_unreachable {
                    self.engine =
                        EngineState::Unreachable(outcome.error.clone().unwrap_or_default());
                }
                self.smoke.standin = outcome.standin;
                // A finished build's checks (e.g. when the events of the run were missed).
                if self.smoke.is_empty() && !outcome.smoke.is_empty() {
                    self.smoke
                        .start(outcome.smoke.iter().map(|r| r.name.clone()).collect());
                    for r in &outcome.smoke {
                        self.smoke.record(r.clone());
                    }
                }
                self.build = BuildState::Done(outcome);
            }
            EngineEvent::Notice(n) => self.notice = Some(n),
            EngineEvent::BuildQuestion(lines) => {
                self.build_question = lines;
                self.popup = Some(Popup::ConfirmBuild);
            }
            EngineEvent::Image(ev) => match ev {
                ImageEvent::TagHistory(_) | ImageEvent::RolledBack { .. } => {
                    if let Some(n) = panes::digest::RollbackState::notice(&ev) {
                        self.notice = Some(n);
                    }
                    self.rollback.on_event(ev)
                }
                ImageEvent::Inspecting(_)
                | ImageEvent::Inspected { .. }
                | ImageEvent::TooLarge { .. } => self.image.on_event(ev),
            },
            EngineEvent::Planned(p) => {
                // A plan for another project, or overtaken by a newer request, is dropped.
                if p.project == self.project && self.review.apply(*p) {
                    self.after_plan();
                }
            }
            EngineEvent::CacheBreak(b) => {
                let first = matches!(self.build, BuildState::Running { attempt: 1, .. });
                self.log.set_cache_break(b.map(|b| b.log_line()), first);
            }
            // The next Analysis event re-plans the review with them.
            EngineEvent::Options(opts) => self.review.opts = *opts,
            EngineEvent::AskRetry { rules } => {
                // Show the fixes that cure this failure and wait for the user: w writes, b retries, c stops. The
                // failed attempt's analysis came just before: its plan may still be on its way.
                self.review.after = Some(review::AfterPlan::Rules(rules.clone()));
                if self.review.pending.is_none() {
                    self.after_plan();
                }
                self.notice = Some(format!(
                    "build failed - review the fixes ({}) in Proposed diff: w writes, b retries, c stops",
                    rules.join(", ")
                ));
                self.awaiting_retry = Some(rules);
            }
            EngineEvent::History(builds) => {
                self.history = builds;
                self.history_selected = 0;
                if std::mem::take(&mut self.history_wanted) {
                    self.popup = Some(Popup::History);
                }
            }
            EngineEvent::PushProgress(p) => {
                if let Some(push) = &mut self.push {
                    push.progress.apply(&p);
                }
            }
            EngineEvent::PushFinished(report) => {
                // Config files that should receive the pushed digest join the review as proposals.
                self.review.extra = report
                    .proposed_updates
                    .iter()
                    .filter_map(|u| {
                        let fix = u.as_fix()?;
                        let mut f = Finding::new(
                            crate::analyze::RuleId::PUSH,
                            crate::analyze::Severity::Info,
                            fix.file.clone(),
                            crate::analyze::Span {
                                line: u.changes.first().and_then(|c| c.line).unwrap_or(1),
                                col: 1,
                                start: 0,
                                end: 0,
                            },
                            format!("pin the pushed digest in {}", fix.file.display()),
                        );
                        f.fixes.push(fix);
                        Some(f)
                    })
                    .collect();
                if !self.review.extra.is_empty() {
                    self.notice =
                        Some("pushed - review the digest updates in Proposed diff".into());
                }
                self.refresh_review();
                if let Some(push) = &mut self.push {
                    push.report = Some(report);
                }
            }
            EngineEvent::FixesWritten(Ok(files)) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                self.notice = Some(format!(
                    "wrote {} - backup kept, `dockui undo` restores",
                    names.join(", ")
                ));
            }
            EngineEvent::FixesWritten(Err(e)) => self.notice = Some(e),
            EngineEvent::SmokeStarted(names) => self.smoke.start(names),
            EngineEvent::Smoke(result) => self.smoke.record(*result),
            EngineEvent::Diagnosis(d) => {
                // Highlight the failing step and the matching lines: they are the last attempt's lines.
                self.push_log(vec![format!(
                    "dockui: diagnosis: {} - {}",
                    d.class, d.explanation
                )]);
                self.diagnosis = Some(d);
            }
        }
    }

    fn push_log(&mut self, lines: Vec<String>) {
        self.log.push(lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan_job::{self, PlanRequest, Planned};
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn analysed(app: &mut App) -> PlanRequest {
        let cmds = app.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
            files: vec![],
            findings: vec![],
        }))));
        match cmds.as_slice() {
            [Command::Plan(req)] => (**req).clone(),
            other => panic!("expected one plan request, got {other:?}"),
        }
    }

    fn pane_text(app: &App) -> String {
        let theme = crate::tui::theme::Theme {
            mono: true,
            light: false,
        };
        panes::diff::lines(app, &theme)
            .lines
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The planner runs elsewhere (here a slow stand-in on a thread, as the engine's worker): while it plans,
    /// keys work and the pane says so; the answer to an overtaken request is dropped; the fresh one lands and
    /// accept + write behave as with an inline plan.
    #[test]
    fn planning_in_the_engine_never_blocks_the_app_and_stale_plans_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let text = "FROM python:3.11\nRUN pip install x\n";
        std::fs::write(dir.path().join("Dockerfile"), text).unwrap();
        let mut app = App::new(dir.path().to_path_buf(), "e".into());
        app.planner = Planner::Engine;

        let first = analysed(&mut app);
        let root = dir.path().to_path_buf();
        let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
        let slow = {
            let (root, req, gate) = (root.clone(), first.clone(), gate.clone());
            std::thread::spawn(move || {
                // Held until the test has used the app: a plan that takes as long as it likes.
                gate.wait();
                plan_job::run(&root, &req)
            })
        };
        assert_eq!(app.review.pending, Some(first.seq));
        assert!(app.review.is_empty());
        app.focus = Pane::Diff;
        assert!(pane_text(&app).contains("planning fixes..."));
        // Keys work while it plans: pane switch, and `w` says why it waits instead of writing.
        app.update(key(KeyCode::Tab));
        assert_eq!(app.focus, Pane::Log);
        app.update(key(KeyCode::BackTab));
        assert_eq!(app.focus, Pane::Diff);
        assert!(app.update(key(KeyCode::Char('w'))).is_empty());
        assert!(app.notice.as_deref().unwrap().contains("planning fixes"));
        assert!(!slow.is_finished(), "the app did not wait for the planner");

        // The project changed meanwhile (a new analysis): a newer request overtakes the first.
        let second = analysed(&mut app);
        assert!(second.seq > first.seq);
        gate.wait();
        let stale: Planned = slow.join().unwrap();
        assert!(stale.result.as_ref().is_ok_and(|p| !p.proposals.is_empty()));
        app.update(Msg::Engine(EngineEvent::Planned(Box::new(stale))));
        assert!(app.review.is_empty(), "the overtaken plan was dropped");
        assert_eq!(app.review.pending, Some(second.seq));
        // A plan for another project is dropped too.
        let mut elsewhere = plan_job::run(&root, &second);
        elsewhere.project = PathBuf::from("/elsewhere");
        app.update(Msg::Engine(EngineEvent::Planned(Box::new(elsewhere))));
        assert_eq!(app.review.pending, Some(second.seq));

        app.update(Msg::Engine(EngineEvent::Planned(Box::new(plan_job::run(
            &root, &second,
        )))));
        assert_eq!(app.review.pending, None);
        assert!(!pane_text(&app).contains("planning fixes..."));
        let n = app.review.len();
        assert!(n > 0);
        // Accept everything, then write: the same command an inline plan gives.
        for _ in 0..n {
            app.update(key(KeyCode::Char('y')));
        }
        let cmds = app.update(key(KeyCode::Char('w')));
        let mut inline = App::new(dir.path().to_path_buf(), "e".into());
        inline.update(Msg::Engine(EngineEvent::Analysis(Ok(Analysis {
            files: vec![],
            findings: vec![],
        }))));
        inline.focus = Pane::Diff;
        for _ in 0..n {
            inline.update(key(KeyCode::Char('y')));
        }
        let expected = inline.update(key(KeyCode::Char('w')));
        assert!(matches!(expected.as_slice(), [Command::WriteFixes(w)] if !w.is_empty()));
        assert_eq!(cmds, expected);
        app.update(key(KeyCode::Char('q')));
        assert!(app.should_quit);
    }

    fn screen(app: &App, w: u16, h: u16) -> String {
        let theme = crate::tui::theme::Theme {
            mono: true,
            light: false,
        };
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
        t.draw(|f| crate::tui::view::draw(app, &theme, f)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..h)
            .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn attempt(n: u32, success: bool, secs: f64) -> crate::engine::AttemptRecord {
        crate::engine::AttemptRecord {
            attempt: n,
            status: if success {
                crate::engine::AttemptStatus::Succeeded
            } else {
                crate::engine::AttemptStatus::Failed
            },
            duration_s: secs,
            log_path: PathBuf::from(format!("/nonexistent/attempt-{n}.log")),
            error: None,
            diagnosis: None,
            smoke: Vec::new(),
            fixes_applied: Vec::new(),
            fixes: Vec::new(),
            platform: None,
        }
    }

    /// The auditor's flow: attempt 1 fails (apt asked for confirmation), the user reviews, writes and presses
    /// b; attempt 2 builds. Conflicts no longer says "build failed", the bar no longer says "retrying...", and
    /// the time the user spent reviewing is not presented as build time.
    #[test]
    fn a_successful_retry_clears_the_failure_and_the_retrying_notice() {
        let mut app = App::new(PathBuf::from("/nonexistent"), "e".into());
        let started = |attempt| {
            Msg::Engine(EngineEvent::BuildStarted {
                build_id: "b1".into(),
                attempt,
                max_attempts: 3,
                log_path: PathBuf::from(format!("/nonexistent/attempt-{attempt}.log")),
                platform: None,
            })
        };
        app.update(started(1));
        app.update(Msg::Engine(EngineEvent::Diagnosis(Box::new(
            crate::classify::Diagnosis {
                signature: "apt-confirm".into(),
                class: "apt asked for confirmation".into(),
                explanation: "apt-get install without -y".into(),
                fix_rules: vec!["DL3014".into()],
                matched: Vec::new(),
                failing_step: Some("#5 [2/6] RUN apt-get update && apt-get install curl".into()),
                detail: None,
            },
        ))));
        app.update(Msg::Engine(EngineEvent::AskRetry {
            rules: vec!["DL3014".into()],
        }));
        assert!(screen(&app, 160, 48).contains("build failed: apt asked for confirmation"));
        assert_eq!(
            app.update(key(KeyCode::Char('b'))),
            vec![Command::Retry(true)]
        );
        assert_eq!(app.notice.as_deref(), Some("retrying..."));

        app.update(started(2));
        assert_eq!(app.notice, None, "attempt 2 answers the retry");
        app.notice = Some("retrying...".into());
        app.update(Msg::Engine(EngineEvent::BuildFinished(Box::new(
            crate::engine::BuildOutcome {
                success: true,
                build_time_s: 24.6,
                attempts: vec![attempt(1, false, 1.5), attempt(2, true, 1.6)],
                ..Default::default()
            },
        ))));
        assert!(app.diagnosis.is_none());
        assert_eq!(app.notice, None);
        let s = screen(&app, 160, 48);
        assert!(!s.contains("build failed"), "{s}");
        assert!(!s.contains("retrying"), "{s}");
        assert!(
            s.contains("built after 2 attempt(s): 3.1s building, 24.6s in all"),
            "{s}"
        );

        // A build that fails again keeps its diagnosis.
        app.update(Msg::Engine(EngineEvent::Diagnosis(Box::new(
            crate::classify::Diagnosis {
                signature: "x".into(),
                class: "out of disk".into(),
                explanation: String::new(),
                fix_rules: Vec::new(),
                matched: Vec::new(),
                failing_step: None,
                detail: None,
            },
        ))));
        app.update(Msg::Engine(EngineEvent::BuildFinished(Box::new(
            crate::engine::BuildOutcome {
                attempts: vec![attempt(1, false, 1.0)],
                ..Default::default()
            },
        ))));
        assert!(screen(&app, 160, 48).contains("build failed: out of disk"));
    }

    /// A failed build asks for review before its plan landed: the cursor goes to the curing hunk when it does.
    #[test]
    fn ask_retry_before_the_plan_lands_focuses_the_fix_when_it_lands() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM python:3.11\nRUN pip install x\n",
        )
        .unwrap();
        let mut app = App::new(dir.path().to_path_buf(), "e".into());
        app.planner = Planner::Engine;
        let req = analysed(&mut app);
        let planned = plan_job::run(dir.path(), &req);
        let rule = planned.result.as_ref().unwrap().steps[0]
            .label
            .split(' ')
            .next()
            .unwrap()
            .to_string();
        app.update(Msg::Engine(EngineEvent::AskRetry {
            rules: vec![rule.clone()],
        }));
        assert_eq!(app.focus, Pane::Conflicts, "nothing to show yet");
        assert!(app.awaiting_retry.is_some());
        app.update(Msg::Engine(EngineEvent::Planned(Box::new(planned))));
        assert_eq!(app.focus, Pane::Diff);
        let (_, h) = app.review.current().unwrap();
        assert!(h.sources.iter().any(|s| s.starts_with(&format!("{rule} "))));
    }
}
