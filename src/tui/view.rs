//! Drawing: pure functions of `&App`. Only the visible slice of long content is turned into widgets.

use super::app::{App, BuildState, EngineState, Pane, Popup};
use super::text;
use super::theme::Theme;
use crate::analyze::Severity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// Below this size the six panes would be unreadable: show one pane at a time with a tab bar.
pub const TABS_BELOW: (u16, u16) = (100, 28);

pub fn draw(app: &App, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    let [main, status] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let tabs = app.zoomed || area.width < TABS_BELOW.0 || area.height < TABS_BELOW.1;
    if tabs {
        let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(main);
        let mut spans = Vec::new();
        for p in Pane::ALL {
            let style = if p == app.focus {
                theme.selected()
            } else {
                theme.dim()
            };
            spans.push(Span::styled(format!(" {} ", p.title()), style));
        }
        spans.push(Span::styled(
            if app.zoomed {
                "  z: all panes"
            } else {
                "  Tab: next"
            },
            theme.dim(),
        ));
        frame.render_widget(Paragraph::new(Line::from(spans)), bar);
        draw_one(frame, app, theme, app.focus, body);
    } else {
        // Left: what is wrong and how to fix it. Right: the build, and the machine and image beside it.
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)])
                .areas(main);
        let [conflicts, diff] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(left);
        let [log, bottom] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(right);
        let [gpu, smoke, digest] = Layout::horizontal([
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
            Constraint::Ratio(1, 3),
        ])
        .areas(bottom);
        for (pane, rect) in [
            (Pane::Conflicts, conflicts),
            (Pane::Diff, diff),
            (Pane::Log, log),
            (Pane::Gpu, gpu),
            (Pane::Smoke, smoke),
            (Pane::Digest, digest),
        ] {
            draw_one(frame, app, theme, pane, rect);
        }
    }
    frame.render_widget(
        Paragraph::new(status_line(app)).style(theme.status()),
        status,
    );

    if let Some((_, editor)) = &app.editor {
        let rect = centered(
            area,
            area.width.saturating_sub(10).max(40),
            (area.height / 2).max(8),
        );
        frame.render_widget(Clear, rect);
        frame.render_widget(editor, rect);
    }
    match app.popup {
        Some(Popup::Help) => draw_help(frame, app, theme, area),
        Some(Popup::ConfirmQuit) => draw_confirm(frame, theme, area),
        Some(Popup::History) => draw_history(frame, app, theme, area),
        None => {}
    }
}

/// One pane's content for its rectangle (only the visible slice is turned into widgets).
fn draw_one(frame: &mut Frame, app: &App, theme: &Theme, pane: Pane, rect: Rect) {
    let rows = rect.height.saturating_sub(2) as usize;
    let lines = match pane {
        Pane::Conflicts => conflicts_lines(app, theme, rect),
        Pane::Diff => {
            let (content, cursor_row) = diff_lines(app, theme);
            // Keep the review cursor in view: a third of the way down the pane.
            let skip = if cursor_row >= rows {
                cursor_row - rows / 3
            } else {
                0
            };
            content.into_iter().skip(skip).collect()
        }
        Pane::Log => log_lines(app, theme, rows, rect.width.saturating_sub(2) as usize),
        Pane::Gpu => gpu_lines(app, theme),
        Pane::Smoke => smoke_lines(app, theme),
        Pane::Digest => digest_lines(app, theme),
    };
    draw_pane(frame, app, theme, pane, rect, lines);
}

fn draw_pane(
    frame: &mut Frame,
    app: &App,
    theme: &Theme,
    pane: Pane,
    area: Rect,
    lines: Vec<Line<'static>>,
) {
    let focused = app.focus == pane;
    let mut name = pane.title().to_string();
    if pane == Pane::Log {
        let l = &app.log;
        if !l.following() && l.shown_len() > 0 {
            name.push_str(" (paused - G follows)");
        }
        if l.page.is_some() {
            name.push_str(" [from file]");
        }
        if let Some(re) = &l.search {
            name.push_str(&format!(" /{}", re.as_str().trim_start_matches("(?i)")));
        }
        if l.filter {
            name.push_str(" [filter]");
        }
        if l.wrap {
            name.push_str(" [wrap]");
        }
    }
    let title = if focused {
        format!("[ {name} ]")
    } else {
        format!(" {name} ")
    };

    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(focused))
        .title(title);
    let scroll = match pane {
        Pane::Conflicts | Pane::Log => 0,
        p => app.scroll[Pane::ALL.iter().position(|x| *x == p).unwrap_or(0)],
    };
    let visible: Vec<Line> = lines.into_iter().skip(scroll).collect();
    let wrap = !matches!(pane, Pane::Log | Pane::Diff | Pane::Conflicts)
        || (pane == Pane::Log && app.log.wrap);
    let mut para = Paragraph::new(visible).block(block);
    if wrap {
        para = para.wrap(Wrap { trim: false });
    }
    frame.render_widget(para, area);
}

fn empty(theme: &Theme, text: impl Into<String>) -> Vec<Line<'static>> {
    vec![Line::styled(text.into(), theme.dim())]
}

fn severity_style(theme: &Theme, s: Severity) -> Style {
    match s {
        Severity::Error => theme.error(),
        Severity::Warning => theme.warning(),
        Severity::Info => theme.info(),
        Severity::Style => theme.dim(),
    }
}

fn conflicts_lines(app: &App, theme: &Theme, area: Rect) -> Vec<Line<'static>> {
    let mut head: Vec<Line<'static>> = Vec::new();
    if let Some(d) = &app.diagnosis {
        let width = area.width.saturating_sub(2) as usize;
        head.push(Line::styled(
            format!("build failed: {}", d.class),
            theme.error(),
        ));
        if let Some(step) = &d.failing_step {
            head.extend(
                wrap_text(&format!("at {step}"), width)
                    .into_iter()
                    .map(|l| Line::styled(l, theme.heading())),
            );
        }
        head.extend(wrap_text(&d.explanation, width).into_iter().map(Line::from));
        head.push(Line::styled("─".repeat(width.min(40)), theme.dim()));
    }
    let mut out = conflicts_list(app, theme, area, head.len());
    head.append(&mut out);
    head
}

fn conflicts_list(app: &App, theme: &Theme, area: Rect, used: usize) -> Vec<Line<'static>> {
    let (height, width) = (
        area.height.saturating_sub(used as u16),
        area.width.saturating_sub(2) as usize,
    );
    let analysis = match &app.analysis {
        None => return empty(theme, "analysing..."),
        Some(Err(e)) => return vec![Line::styled(format!("cannot analyse: {e}"), theme.error())],
        Some(Ok(a)) => a,
    };
    if analysis.findings.is_empty() {
        return vec![Line::styled("no conflicts found", theme.ok())];
    }
    // List, with the selected finding's details underneath.
    // The list never wraps (one finding per row); the selected finding's details wrap underneath.
    let detail_rows = (height as usize / 3).max(3);
    let list_rows = (height as usize).saturating_sub(2 + detail_rows + 1).max(3);
    let mut rows: Vec<(Option<usize>, Line<'static>)> = Vec::new();
    let mut last_file = None;
    for (i, f) in analysis.findings.iter().enumerate() {
        if last_file != Some(&f.file) {
            rows.push((
                None,
                Line::styled(f.file.display().to_string(), theme.heading()),
            ));
            last_file = Some(&f.file);
        }
        let mark = match f.severity {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Info => "I",
            Severity::Style => "S",
        };
        let fix = if f.fixes.is_empty() { "" } else { " [fix]" };
        let mut line = Line::from(vec![
            Span::styled(format!(" {mark} "), severity_style(theme, f.severity)),
            Span::raw(format!("{:>3} {} ", f.span.line, f.rule)),
            Span::raw(format!("{}{fix}", f.message)),
        ]);
        if i == app.selected && app.focus == Pane::Conflicts {
            line = line.style(theme.selected());
        }
        rows.push((Some(i), line));
    }
    let sel_row = rows
        .iter()
        .position(|(i, _)| *i == Some(app.selected))
        .unwrap_or(0);
    let start = sel_row.saturating_sub(list_rows.saturating_sub(1));
    let mut out: Vec<Line<'static>> = rows
        .into_iter()
        .skip(start)
        .take(list_rows)
        .map(|(_, l)| l)
        .collect();
    if let Some(f) = app.selected_finding() {
        out.push(Line::styled("─".repeat(width.min(40)), theme.dim()));
        let mut detail: Vec<(String, Style)> =
            vec![(format!("{} {}", f.rule, f.message), theme.heading())];
        if !f.why.is_empty() {
            detail.push((format!("why: {}", f.why), Style::default()));
        }
        for fact in &f.facts {
            detail.push((format!("fact: {fact}"), theme.dim()));
        }
        detail.push(match f.fixes.first() {
            Some(fix) => (
                format!("fix ({:?}): {}", fix.level, fix.description),
                theme.ok(),
            ),
            None => ("no automatic fix".into(), theme.dim()),
        });
        for (text, style) in detail {
            out.extend(
                wrap_text(&text, width)
                    .into_iter()
                    .map(|l| Line::styled(l, style)),
            );
        }
    }
    out
}

/// Greedy word wrap to `width` columns (chars); words longer than a row are split.
pub fn wrap_text(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        while word.chars().count() > width {
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            lines.push(head);
        }
        let need = if cur.is_empty() {
            word.chars().count()
        } else {
            cur.chars().count() + 1 + word.chars().count()
        };
        if need > width && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// The review: per file, each hunk with its decision, sources and level, then its lines in context.
/// Returns the lines and the row of the cursor, so the pane can keep it in view.
fn diff_lines(app: &App, theme: &Theme) -> (Vec<Line<'static>>, usize) {
    use crate::fix::proposal::Decision;
    let review = &app.review;
    if review.is_empty() {
        let text = match &app.analysis {
            None => "analysing...",
            Some(Ok(a)) if a.findings.iter().any(|f| !f.fixes.is_empty()) => {
                "all fixes are written"
            }
            _ => "no proposed fixes - findings with [fix] in Conflicts get one",
        };
        return (empty(theme, text), 0);
    }
    let focused = app.focus == Pane::Diff;
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut cursor_row = 0;
    let mut index = 0;
    for p in &review.proposals {
        let old_lines: Vec<&str> = p.old.split_inclusive('\n').collect();
        out.push(Line::styled(
            format!("{} ({} hunk(s))", p.file.display(), p.hunks.len()),
            theme.heading(),
        ));
        for d in &p.deferred {
            out.push(Line::styled(
                format!("  later: {d} (overlaps; re-proposed after the first lands)"),
                theme.dim(),
            ));
        }
        for h in &p.hunks {
            let is_cursor = index == review.cursor;
            let decision = review.decision(h.id);
            let mark = match decision {
                None => "[ ]",
                Some(Decision::Accept) => "[y]",
                Some(Decision::Reject) => "[n]",
                Some(Decision::Edited(_)) => "[e]",
                Some(Decision::Lines(_)) => "[l]",
            };
            let level = format!("{:?}", h.level).to_lowercase();
            let mut header = Line::from(vec![
                Span::styled(format!("{mark} "), theme.heading()),
                Span::styled(
                    format!("@@ -{},{} @@ ", h.old_start + 1, h.old_lines.len()),
                    theme.info(),
                ),
                Span::raw(format!("{} ({level})", h.sources.join(", "))),
            ]);
            if is_cursor {
                cursor_row = out.len();
                if focused && review.line_cursor.is_none() {
                    header = header.style(theme.selected());
                }
            }
            out.push(header);
            let ctx_start = h.old_start.saturating_sub(2);
            for l in &old_lines[ctx_start..h.old_start] {
                out.push(Line::styled(
                    format!("  {}", l.trim_end_matches('\n')),
                    theme.dim(),
                ));
            }
            let flags = match decision {
                Some(Decision::Lines(f)) => Some(f.clone()),
                _ => None,
            };
            let in_line_mode = is_cursor && review.line_cursor.is_some();
            let changed: Vec<(char, &String)> = h
                .old_lines
                .iter()
                .map(|l| ('-', l))
                .chain(h.new_lines.iter().map(|l| ('+', l)))
                .collect();
            if let Some(Decision::Edited(text)) = decision {
                for l in &h.old_lines {
                    out.push(Line::styled(
                        format!("-{}", l.trim_end_matches('\n')),
                        theme.removed(),
                    ));
                }
                for l in text.lines() {
                    out.push(Line::styled(format!("+{l}  (edited)"), theme.added()));
                }
            } else {
                for (k, (sign, l)) in changed.iter().enumerate() {
                    let style = if *sign == '-' {
                        theme.removed()
                    } else {
                        theme.added()
                    };
                    let pick = match (&flags, in_line_mode) {
                        (Some(f), _) => {
                            if f.get(k).copied().unwrap_or(false) {
                                "[x]"
                            } else {
                                "[ ]"
                            }
                        }
                        (None, true) => "[ ]",
                        (None, false) => "",
                    };
                    let mut line =
                        Line::styled(format!("{pick}{sign}{}", l.trim_end_matches('\n')), style);
                    if in_line_mode && review.line_cursor == Some(k) && focused {
                        cursor_row = out.len();
                        line = line.style(theme.selected());
                    }
                    out.push(line);
                }
            }
            let after = h.old_start + h.old_lines.len();
            for l in old_lines.iter().skip(after).take(2) {
                out.push(Line::styled(
                    format!("  {}", l.trim_end_matches('\n')),
                    theme.dim(),
                ));
            }
            index += 1;
        }
    }
    if focused {
        out.push(Line::styled(
            "y accept  n reject  e edit  l lines  a alternative  u undo  w write",
            theme.dim(),
        ));
    }
    (out, cursor_row)
}

fn log_lines(app: &App, theme: &Theme, rows: usize, width: usize) -> Vec<Line<'static>> {
    let log = &app.log;
    if log.shown_len() == 0 {
        return match (&app.engine, &app.build) {
            (EngineState::Unreachable(msg), _) => vec![
                Line::styled(msg.clone(), theme.error()),
                Line::styled(
                    "start the engine (dockerd) or set engine.docker_host / DOCKER_HOST",
                    theme.dim(),
                ),
            ],
            (_, BuildState::Idle) => empty(theme, "no build yet - press b"),
            _ => empty(theme, "waiting for build output..."),
        };
    }
    // The view ends at `end` (exclusive, in shown-line numbers); take lines backwards until the rows are full.
    // Without the filter only the visible slice is touched, whatever the window holds.
    let end = log.end.unwrap_or(log.shown_len()).min(log.shown_len());
    let candidates: Box<dyn Iterator<Item = usize>> = if log.filtering() {
        let indexes = log.visible_indexes();
        let last = indexes.partition_point(|&i| i < end);
        Box::new(indexes.into_iter().take(last).rev())
    } else {
        Box::new((0..end).rev())
    };
    let mut picked = Vec::new();
    let mut used = 0;
    for i in candidates {
        let Some(line) = log.get(i) else { continue };
        let height = if log.wrap {
            text::cap(line, 2000)
                .chars()
                .count()
                .div_ceil(width.max(1))
                .max(1)
        } else {
            1
        };
        if used + height > rows && !picked.is_empty() {
            break;
        }
        used += height;
        picked.push(i);
    }
    picked.reverse();
    picked
        .into_iter()
        .filter_map(|i| log.get(i))
        .map(|l| {
            let highlighted = app.diagnosis.as_ref().is_some_and(|d| {
                d.matched.iter().any(|(_, t)| t == l)
                    || d.failing_step.as_deref() == Some(l.as_str())
            });
            let style = if highlighted {
                theme
                    .error()
                    .add_modifier(ratatui::style::Modifier::REVERSED)
            } else if is_error_line(l) {
                theme.error()
            } else if l.starts_with("===") || crate::classify::is_step_header(l) {
                theme.heading()
            } else {
                Style::default()
            };
            // Cap very long lines: a 100k-char line must not stall a frame.
            let text = text::cap(l, if log.wrap { 2000 } else { 1000 }).into_owned();
            match &log.search {
                Some(re) if re.is_match(&text) => highlight_matches(&text, re, style, theme),
                _ => Line::styled(text, style),
            }
        })
        .collect()
}

pub fn is_error_line(l: &str) -> bool {
    l.starts_with("ERROR")
        || l.starts_with("dockui: build failed")
        || l.contains("returned a non-zero code")
        || l.contains(" ERROR: ")
}

fn highlight_matches(text: &str, re: &regex::Regex, base: Style, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    let mut pos = 0;
    for m in re.find_iter(text) {
        if m.start() > pos {
            spans.push(Span::styled(text[pos..m.start()].to_string(), base));
        }
        if m.end() > m.start() {
            spans.push(Span::styled(m.as_str().to_string(), theme.search_hit()));
        }
        pos = m.end();
    }
    spans.push(Span::styled(text[pos..].to_string(), base));
    Line::from(spans)
}

fn gpu_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let lines = super::gpu_pane::gpu_lines(&app.gpu);
    if !theme.mono {
        return lines;
    }
    // Mono: keep emphasis, drop colours.
    lines
        .into_iter()
        .map(|l| {
            Line::from(
                l.spans
                    .into_iter()
                    .map(|s| {
                        Span::styled(
                            s.content,
                            Style::default().add_modifier(s.style.add_modifier),
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

fn smoke_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    use crate::engine::smoke::SmokeStatus;
    if app.smoke.is_empty() {
        return match &app.build {
            BuildState::Done(o) if o.success => empty(
                theme,
                "no smoke checks - add [smoke] commands to .dockui.toml",
            ),
            BuildState::Running { .. } => empty(theme, "smoke tests run when the build succeeds"),
            _ => empty(
                theme,
                "no smoke tests yet - they run after a successful build (press b)",
            ),
        };
    }
    let mut out = Vec::new();
    for (name, result) in &app.smoke {
        out.push(match result {
            None => Line::styled(format!("… {name}"), theme.dim()),
            Some(r) => {
                let (mark, style, what) = match r.status {
                    SmokeStatus::Passed => ("✓", theme.ok(), "passed".to_string()),
                    SmokeStatus::Failed => (
                        "✗",
                        theme.error(),
                        format!("exit {}", r.exit_code.unwrap_or(-1)),
                    ),
                    SmokeStatus::TimedOut => ("✗", theme.error(), "timed out".to_string()),
                    SmokeStatus::Cancelled => ("-", theme.dim(), "cancelled".to_string()),
                    SmokeStatus::Error => ("!", theme.error(), "could not run".to_string()),
                };
                Line::styled(
                    format!("{mark} {name} ({what}, {:.1}s)", r.duration_s),
                    style,
                )
            }
        });
        if let Some(r) = result
            && r.status != SmokeStatus::Passed
        {
            if let Some(d) = &r.diagnosis {
                out.push(Line::styled(format!("  {}", d.class), theme.warning()));
            }
            if let Some(last) = r.output.lines().rev().find(|l| !l.trim().is_empty()) {
                out.push(Line::styled(format!("  {}", last.trim()), theme.dim()));
            }
        }
    }
    out
}

fn digest_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let built = match &app.build {
        BuildState::Done(o) if o.success => Some(o),
        _ => None,
    };
    let Some(push) = &app.push else {
        return match built {
            Some(o) => vec![
                Line::from(o.image.clone()),
                Line::from(format!(
                    "image id: {}",
                    short(o.image_id.as_deref().unwrap_or_default())
                )),
                Line::styled("manifest digest: not pushed yet - press p", theme.dim()),
                Line::styled(
                    "the image id is the local config digest; the registry's manifest digest exists only after a push",
                    theme.dim(),
                ),
            ],
            None => empty(theme, "no image yet - build first (press b)"),
        };
    };
    let Some(r) = &push.report else {
        let p = &push.progress;
        let mut out = vec![Line::styled(
            format!("pushing: {}/{} layers", p.layers_done(), p.layers.len()),
            theme.heading(),
        )];
        for l in p.layers.iter().rev().take(6) {
            let bytes = match (l.current, l.total) {
                (Some(c), Some(t)) if t > 0 => format!(" {}%", c * 100 / t),
                _ => String::new(),
            };
            out.push(Line::from(format!(
                "{} {}{bytes}",
                short_id(&l.id),
                l.status
            )));
        }
        return out;
    };
    let mut out = vec![Line::styled(
        format!("{} -> {}", r.image, r.repository),
        theme.heading(),
    )];
    if let Some(e) = &r.error {
        out.push(Line::styled(format!("push failed: {e}"), theme.error()));
        return out;
    }
    // The verdict first: with many RepoDigests the list can be long.
    if let Some(v) = r.verdict {
        let style = if v.label() == "pullable" {
            theme.ok()
        } else {
            theme.error()
        };
        out.push(Line::styled(format!("verdict: {}", v.label()), style));
    }
    if !r.what_to_do.is_empty() {
        out.push(Line::from(r.what_to_do.clone()));
    }
    if !r.image_id.is_empty() {
        out.push(Line::styled(
            format!("image id (local, not pullable): {}", short(&r.image_id)),
            theme.dim(),
        ));
    }
    if let Some(d) = &r.digests {
        for c in &d.repo_digests {
            let chosen = d.chosen.as_deref() == Some(c.reference.as_str());
            let verdict = c
                .check
                .as_ref()
                .map(|k| k.verdict.label())
                .unwrap_or("not checked");
            let style = if verdict == "pullable" {
                theme.ok()
            } else {
                theme.warning()
            };
            out.push(Line::styled(
                format!(
                    "{} {} [{verdict}]",
                    if chosen { "*" } else { " " },
                    c.reference
                ),
                style,
            ));
        }
        out.push(Line::styled(d.why_they_differ.clone(), theme.dim()));
    }
    for p in &r.platforms {
        out.push(Line::from(format!(
            "  {} {} [{}]",
            p.platform,
            short(&p.digest),
            p.verdict.label()
        )));
    }
    out
}

fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

fn short(id: &str) -> String {
    id.chars().take(19).collect()
}

fn status_line(app: &App) -> String {
    let engine = match &app.engine {
        EngineState::Connecting => format!("engine {} (connecting)", app.endpoint),
        EngineState::Ready(i) => format!("engine {} ({})", app.endpoint, i.version),
        EngineState::Unreachable(_) => format!("engine {} (unreachable)", app.endpoint),
    };
    let build = match &app.build {
        BuildState::Idle => "no build".to_string(),
        BuildState::Running {
            attempt,
            max_attempts,
            step,
            step_started,
            cached,
            ..
        } => {
            let secs = app.elapsed().map(|d| d.as_secs()).unwrap_or(0);
            let step_secs = app.now.saturating_duration_since(*step_started).as_secs();
            let cached = if *cached > 0 {
                format!(", {cached} cached")
            } else {
                String::new()
            };
            let step = step
                .map(|(c, t)| format!(" step {c}/{t} ({step_secs}s{cached})"))
                .unwrap_or_default();
            format!(
                "building: attempt {attempt}/{max_attempts}{step} {:02}:{:02}",
                secs / 60,
                secs % 60
            )
        }
        BuildState::Done(o) => {
            let verdict = o.verdict();
            format!(
                "{verdict} after {} attempt(s) in {:.1}s",
                o.attempts.len(),
                o.build_time_s
            )
        }
    };
    if let Some(input) = &app.input {
        return format!(" /{input}_   (Enter: search  Esc: cancel)");
    }
    let notice = app
        .notice
        .as_deref()
        .map(|n| format!(" | {n}"))
        .unwrap_or_default();
    let build = match &app.awaiting_retry {
        Some(_) => {
            "build failed, waiting for you: w writes the fixes, b retries, c stops".to_string()
        }
        None => build,
    };
    let readonly = if app.readonly { " | READ-ONLY" } else { "" };
    format!(" dockui{readonly} | {engine} | {build}{notice} | ? help  q quit")
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let mut lines = vec![Line::styled(
        format!("Keys (focused pane: {})", app.focus.title()),
        theme.heading(),
    )];
    // Pane bindings first (what the focused pane adds), then the global ones.
    let pane = app.focus.key();
    for b in app
        .keymap
        .bindings
        .iter()
        .filter(|b| b.pane.as_deref() == Some(pane))
    {
        lines.push(Line::styled(
            format!("{:<16} {}", b.keys.join(" "), b.desc),
            theme.ok(),
        ));
    }
    for b in app.keymap.bindings.iter().filter(|b| b.pane.is_none()) {
        lines.push(Line::from(format!("{:<16} {}", b.keys.join(" "), b.desc)));
    }
    let total = lines.len();
    let rect = centered(area, 78, total as u16 + 2);
    let rows = rect.height.saturating_sub(2) as usize;
    // Scrollable when the terminal is short; the title says so.
    let scroll = app.help_scroll.min(total.saturating_sub(rows));
    let title = if total > rows {
        format!(
            " Help {}-{} of {} - j/k scroll, ? or Esc closes ",
            scroll + 1,
            (scroll + rows).min(total),
            total
        )
    } else {
        " Help - ? or Esc closes ".to_string()
    };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(theme.border(true));
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(scroll).collect::<Vec<_>>()).block(block),
        rect,
    );
}

fn draw_history(frame: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let mut lines: Vec<Line> = if app.history.is_empty() {
        vec![Line::styled("no builds yet - press b", theme.dim())]
    } else {
        app.history
            .iter()
            .map(|b| {
                let style = match b.status.as_str() {
                    "succeeded" => theme.ok(),
                    "failed" => theme.error(),
                    _ => theme.dim(),
                };
                Line::styled(
                    format!(
                        "{}  {:<10} {} attempt(s) {:>6.1}s  {}",
                        b.build_id, b.status, b.attempts, b.build_time_s, b.image
                    ),
                    style,
                )
            })
            .collect()
    };
    lines.push(Line::styled(
        "`dockui logs ID` prints a build's full logs; any key closes",
        theme.dim(),
    ));
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(120),
        lines.len() as u16 + 2,
    );
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Build history ")
        .border_style(theme.border(true));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn draw_confirm(frame: &mut Frame, theme: &Theme, area: Rect) {
    let rect = centered(area, 50, 4);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Quit? ")
        .border_style(theme.border(true));
    let text = vec![
        Line::from("A build is running. Cancel it and quit?"),
        Line::from("y: cancel and quit   any other key: stay"),
    ];
    frame.render_widget(Paragraph::new(text).block(block), rect);
}
