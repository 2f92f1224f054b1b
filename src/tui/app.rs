//! UI state and the one place it changes: `App::update(msg) -> Vec<Command>`.

use super::keymap::{Action, Keymap};
use crate::analyze::{Analysis, Finding};
use crate::docker::{DockerError, EngineInfo};
use crate::engine::{BuildOutcome, Command, EngineEvent};
use crate::fix::proposal::Decision;
use crossterm::event::{KeyEvent, KeyEventKind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Lines kept in memory for the log pane; the full log is always in the attempt's file.
pub const LOG_WINDOW: usize = crate::tui::logview::WINDOW;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Conflicts,
    Diff,
    Log,
    Gpu,
    Smoke,
    Digest,
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Conflicts,
        Pane::Diff,
        Pane::Log,
        Pane::Gpu,
        Pane::Smoke,
        Pane::Digest,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Pane::Conflicts => "Conflicts",
            Pane::Diff => "Proposed diff",
            Pane::Log => "Build log",
            Pane::Gpu => "GPU",
            Pane::Smoke => "Smoke",
            Pane::Digest => "Digest",
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
        }
    }
    fn index(self) -> usize {
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

pub struct App {
    pub project: PathBuf,
    pub endpoint: String,
    pub keymap: Keymap,
    pub focus: Pane,
    pub popup: Option<Popup>,
    pub engine: EngineState,
    pub analysis: Option<Result<Analysis, String>>,
    pub selected: usize,
    pub log: crate::tui::logview::LogView,
    pub build: BuildState,
    pub gpu: crate::gpu::GpuState,
    pub notice: Option<String>,
    /// The last failed attempt's diagnosis, shown in Conflicts.
    pub diagnosis: Option<Box<crate::classify::Diagnosis>>,
    /// This attempt's smoke checks: name, and the result once it ran.
    pub smoke: Vec<(String, Option<crate::engine::smoke::SmokeResult>)>,
    pub review: crate::tui::review::Review,
    /// The running or last push.
    pub push: Option<PushState>,
    /// Editing a hunk's new text.
    pub editor: Option<(
        crate::fix::proposal::HunkId,
        ratatui_textarea::TextArea<'static>,
    )>,
    /// --readonly: never write, build or push.
    pub readonly: bool,
    /// The search being typed in the log pane.
    pub input: Option<String>,
    pub zoomed: bool,
    pub help_scroll: usize,
    /// The build waits for the user after a failure (auto_fix = "off"): the rules whose fixes cure it.
    pub awaiting_retry: Option<Vec<String>>,
    pub history: Vec<crate::engine::history::BuildSummary>,
    pub mouse: bool,
    /// `ui.copy_command`: also pipe copied text to this command.
    pub copy_command: Option<String>,
    /// Side effects for the terminal loop (escape sequences, commands): the app itself never writes.
    pub outbox: Vec<Output>,
    pub scroll: [usize; 6],
    pub now: Instant,
    pub should_quit: bool,
}

impl App {
    pub fn new(project: PathBuf, endpoint: String) -> App {
        App {
            project,
            endpoint,
            keymap: Keymap::default(),
            focus: Pane::Conflicts,
            popup: None,
            engine: EngineState::Connecting,
            analysis: None,
            selected: 0,
            log: Default::default(),
            build: BuildState::Idle,
            gpu: crate::gpu::GpuState::Unavailable {
                reason: "probing NVML...".into(),
                hint: String::new(),
            },
            notice: None,
            diagnosis: None,
            smoke: Vec::new(),
            review: Default::default(),
            push: None,
            editor: None,
            readonly: false,
            input: None,
            zoomed: false,
            help_scroll: 0,
            awaiting_retry: None,
            history: Vec::new(),
            mouse: false,
            copy_command: None,
            outbox: Vec::new(),
            scroll: [0; 6],
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
        self.findings().get(self.selected)
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
                self.gpu = state;
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now = now;
                Vec::new()
            }
            Msg::Engine(ev) => {
                self.on_engine(ev);
                Vec::new()
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if self.editor.is_some() {
            self.editor_key(key);
            return Vec::new();
        }
        if self.input.is_some() {
            self.input_key(key);
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
        let Some(action) = action else {
            return Vec::new();
        };
        if self.popup == Some(Popup::History) && action != Action::Quit {
            self.popup = None;
            return Vec::new();
        }
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
            Action::Down => self.scroll_by(1),
            Action::Up => self.scroll_by(-1),
            Action::PageDown => self.scroll_by(10),
            Action::PageUp => self.scroll_by(-10),
            Action::Top => self.scroll_to(0),
            Action::Bottom => self.scroll_to(usize::MAX),
            Action::Build if self.awaiting_retry.is_some() => {
                self.awaiting_retry = None;
                self.notice = Some("retrying...".into());
                return vec![Command::Retry(true)];
            }
            Action::Build => {
                if self.readonly {
                    self.notice = Some("read-only mode: no builds".into());
                } else if self.build_running() {
                    self.notice = Some("a build is already running - press c to cancel it".into());
                } else {
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
            Action::Reanalyze => return vec![Command::Analyze],
            Action::Search => self.input = Some(String::new()),
            Action::NextMatch | Action::PrevMatch => {
                if self.log.search.is_none() {
                    self.notice = Some("no search - press / in the log".into());
                } else if !self.log.next_match(action == Action::NextMatch) {
                    self.notice = Some("no match".into());
                }
            }
            Action::Filter => {
                if self.log.search.is_none() {
                    self.notice =
                        Some("the filter shows lines matching the search: press / first".into());
                } else {
                    self.log.filter = !self.log.filter;
                }
            }
            Action::JumpError => {
                let d = self.diagnosis.clone();
                let found = self.log.jump_to(|l| {
                    d.as_ref().is_some_and(|d| {
                        d.failing_step.as_deref() == Some(l)
                            || d.matched.iter().any(|(_, t)| t == l)
                    }) || crate::tui::view::is_error_line(l)
                });
                if !found {
                    self.notice = Some("no error in the log".into());
                }
            }
            Action::Wrap => self.log.wrap = !self.log.wrap,
            Action::SaveLog => {
                if self.readonly {
                    self.notice = Some("read-only mode: nothing is written".into());
                } else if let Some(file) = self.log.file.clone() {
                    return vec![Command::SaveLog(file)];
                } else {
                    self.notice = Some("no build log yet".into());
                }
            }
            Action::Copy => self.copy(),
            Action::History => return vec![Command::History],
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
            Action::Push => {
                if self.readonly {
                    self.notice = Some("read-only mode: nothing is pushed".into());
                } else if self.push.as_ref().is_some_and(|p| p.report.is_none()) {
                    self.notice = Some("a push is already running".into());
                } else if let BuildState::Done(o) = &self.build
                    && o.success
                {
                    let image = o.image.clone();
                    self.push = Some(PushState::default());
                    return vec![Command::Push(image)];
                } else {
                    self.notice =
                        Some("build first (b): push sends the image this session built".into());
                }
            }
            Action::JumpToFix => {
                let key = self.selected_finding().map(crate::tui::review::finding_key);
                match key {
                    Some(k) if self.review.focus_source(&k) => self.focus = Pane::Diff,
                    Some(k) => self.notice = Some(format!("{k} has no fix to review")),
                    None => {}
                }
            }
            Action::Accept => {
                if self.review.line_cursor.is_some() {
                    self.review.toggle_line();
                } else {
                    self.review.decide(Decision::Accept);
                }
            }
            Action::Reject => self.review.decide(Decision::Reject),
            Action::LineMode => self.review.toggle_line_mode(),
            Action::UndoDecision => {
                if !self.review.undo() {
                    self.notice = Some("nothing to undo".into());
                }
            }
            Action::RedoDecision => {
                if !self.review.redo() {
                    self.notice = Some("nothing to redo".into());
                }
            }
            Action::Edit => self.open_editor(),
            Action::Alternative => self.next_alternative(),
            Action::Write => {
                if self.readonly {
                    self.notice = Some("read-only mode: nothing is written".into());
                    return Vec::new();
                }
                let writes = self.review.writes();
                if writes.is_empty() {
                    self.notice = Some("no accepted hunks to write - y accepts, n rejects".into());
                } else {
                    self.notice = Some(format!("writing {} file(s)...", writes.len()));
                    return vec![Command::WriteFixes(writes)];
                }
            }
        }
        Vec::new()
    }

    /// What `y` copies in the focused pane.
    fn copy_text(&self) -> Option<String> {
        match self.focus {
            Pane::Conflicts => self.selected_finding().map(|f| {
                format!(
                    "{}:{}:{} {} {}",
                    f.file.display(),
                    f.span.line,
                    f.span.col,
                    f.rule,
                    f.message
                )
            }),
            Pane::Log => self.log.current_line().cloned(),
            Pane::Digest => match &self.push {
                Some(PushState {
                    report: Some(r), ..
                }) => r.reference.clone(),
                _ => match &self.build {
                    BuildState::Done(o) => o.image_id.clone(),
                    _ => None,
                },
            },
            Pane::Smoke => self.smoke.iter().find_map(|(_, r)| {
                r.as_ref()
                    .filter(|r| r.status != crate::engine::smoke::SmokeStatus::Passed)
                    .map(|r| r.output.clone())
            }),
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

    fn input_key(&mut self, key: KeyEvent) {
        use crossterm::event::KeyCode;
        let Some(buf) = &mut self.input else { return };
        match key.code {
            KeyCode::Esc => {
                self.input = None;
                self.log.search = None;
                self.log.filter = false;
            }
            KeyCode::Enter => {
                let pattern = std::mem::take(buf);
                self.input = None;
                // Smart case: all lower case searches ignore case.
                let re = if pattern.chars().any(char::is_uppercase) {
                    pattern.clone()
                } else {
                    format!("(?i){pattern}")
                };
                match regex::Regex::new(&re) {
                    Ok(re) => {
                        self.log.search = Some(re);
                        if !self.log.next_match(false) {
                            self.notice = Some(format!("no match for /{pattern}"));
                        }
                    }
                    Err(e) => self.notice = Some(format!("invalid regex /{pattern}: {e}")),
                }
            }
            KeyCode::Backspace => {
                buf.pop();
            }
            KeyCode::Char(c) => buf.push(c),
            _ => {}
        }
    }

    fn open_editor(&mut self) {
        let Some((_, h)) = self.review.current() else {
            self.notice = Some("no hunk to edit".into());
            return;
        };
        let text = match self.review.decision(h.id) {
            Some(Decision::Edited(t)) => t.clone(),
            _ => h.new_lines.concat(),
        };
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut ta = ratatui_textarea::TextArea::new(if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        });
        ta.set_block(
            ratatui::widgets::Block::default()
                .borders(ratatui::widgets::Borders::ALL)
                .title(" Edit hunk - Ctrl-s keeps, Esc drops "),
        );
        self.editor = Some((h.id, ta));
    }

    fn editor_key(&mut self, key: KeyEvent) {
        use crossterm::event::{KeyCode, KeyModifiers};
        let Some((id, ta)) = &mut self.editor else {
            return;
        };
        match (key.code, key.modifiers) {
            (KeyCode::Esc, _) => self.editor = None,
            (KeyCode::Char('s'), m) if m.contains(KeyModifiers::CONTROL) => {
                // What the user leaves in the editor is what gets written, line endings normalised to \n.
                let text: String = ta.lines().iter().map(|l| format!("{l}\n")).collect();
                let id = *id;
                self.editor = None;
                if self.review.current().is_some_and(|(_, h)| h.id == id) {
                    self.review.decide(Decision::Edited(text));
                }
            }
            _ => {
                ta.input(key);
            }
        }
    }

    fn next_alternative(&mut self) {
        let Some(source) = self
            .review
            .current()
            .and_then(|(_, h)| h.sources.first().cloned())
        else {
            return;
        };
        let Some(n) = self
            .findings()
            .iter()
            .find(|f| crate::tui::review::finding_key(f) == source)
            .map(|f| f.fixes.len())
        else {
            return;
        };
        if n < 2 {
            self.notice = Some(format!("{source} has one fix only"));
            return;
        }
        let next = (self.review.alternative_of(&source) + 1) % n;
        self.review.choice.insert(source.clone(), next);
        self.refresh_review();
        self.review.focus_source(&source);
        let desc = self
            .findings()
            .iter()
            .find(|f| crate::tui::review::finding_key(f) == source)
            .and_then(|f| f.fixes.get(next))
            .map(|f| f.description.clone())
            .unwrap_or_default();
        self.notice = Some(format!("alternative {}/{n}: {desc}", next + 1));
    }

    fn refresh_review(&mut self) {
        // The planner analyses the files on disk itself (with the push's digest updates as extra fixes).
        self.review.refresh(&self.project);
    }

    fn scroll_by(&mut self, delta: isize) {
        match self.focus {
            Pane::Diff => self.review.move_by(delta),
            Pane::Conflicts => {
                let n = self.findings().len();
                if n > 0 {
                    self.selected = self.selected.saturating_add_signed(delta).min(n - 1);
                }
            }
            Pane::Log => self.log.scroll(delta),
            p => {
                let s = &mut self.scroll[p.index()];
                *s = s.saturating_add_signed(delta);
            }
        }
    }

    fn scroll_to(&mut self, pos: usize) {
        match self.focus {
            Pane::Diff => {
                let last = self.review.len().saturating_sub(1);
                self.review.cursor = pos.min(last);
                self.review.line_cursor = None;
            }
            Pane::Conflicts => self.selected = pos.min(self.findings().len().saturating_sub(1)),
            Pane::Log => {
                if pos == usize::MAX {
                    self.log.follow()
                } else {
                    self.log.to_top()
                }
            }
            p => self.scroll[p.index()] = if pos == usize::MAX { 0 } else { pos },
        }
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
            EngineEvent::Analysis(result) => {
                self.analysis = Some(result);
                self.refresh_review();
                self.selected = self.selected.min(self.findings().len().saturating_sub(1));
            }
            EngineEvent::BuildStarted {
                build_id,
                attempt,
                max_attempts,
                log_path,
            } => {
                self.smoke.clear();
                if attempt == 1 {
                    self.diagnosis = None;
                }
                // One attempt per window, so paging older lines reads the right file; earlier attempts stay in
                // their own files (`dockui logs`).
                self.log.clear();
                self.log.file = Some(log_path.clone());
                self.push_log(vec![format!(
                    "=== attempt {attempt}/{max_attempts} ({build_id}) - {} ===",
                    log_path.display()
                )]);
                let started = match &self.build {
                    BuildState::Running { started, .. } => *started,
                    _ => Instant::now(),
                };
                self.now = Instant::now();
                self.build = BuildState::Running {
                    build_id,
                    attempt,
                    max_attempts,
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
                if outcome.engine_unreachable {
                    self.engine =
                        EngineState::Unreachable(outcome.error.clone().unwrap_or_default());
                }
                self.build = BuildState::Done(outcome);
            }
            EngineEvent::Notice(n) => self.notice = Some(n),
            EngineEvent::AskRetry { rules } => {
                // Show the fixes that cure this failure and wait for the user: w writes, b retries, c stops.
                let first = self.review.hunks().position(|(_, h)| {
                    h.sources
                        .iter()
                        .any(|s| rules.iter().any(|r| s.starts_with(&format!("{r} "))))
                });
                if let Some(i) = first {
                    self.review.cursor = i;
                    self.focus = Pane::Diff;
                }
                self.notice = Some(format!(
                    "build failed - review the fixes ({}) in Proposed diff: w writes, b retries, c stops",
                    rules.join(", ")
                ));
                self.awaiting_retry = Some(rules);
            }
            EngineEvent::History(builds) => {
                self.history = builds;
                self.popup = Some(Popup::History);
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
                            "PUSH",
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
            EngineEvent::SmokeStarted(names) => {
                self.smoke = names.into_iter().map(|name| (name, None)).collect();
            }
            EngineEvent::Smoke(result) => {
                if let Some(row) = self
                    .smoke
                    .iter_mut()
                    .find(|(n, r)| *n == result.name && r.is_none())
                {
                    row.1 = Some(*result);
                }
            }
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
