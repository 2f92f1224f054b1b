//! The Proposed diff pane: per file, each hunk with its decision, sources and level, then its lines in
//! context; the keys that decide hunks, edit them and write them. The review's state is `review::Review`.

use super::{Handled, empty};
use crate::engine::Command;
use crate::fix::proposal::Decision;
use crate::tui::app::{App, Pane};
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::text::{Line, Span};
use std::ops::Range;

pub fn on_action(app: &mut App, action: Action) -> Handled {
    match action {
        Action::Down => app.review.move_by(1),
        Action::Up => app.review.move_by(-1),
        Action::PageDown => app.review.move_by(10),
        Action::PageUp => app.review.move_by(-10),
        Action::Top | Action::Bottom => {
            let last = app.review.len().saturating_sub(1);
            app.review.cursor = if action == Action::Top { 0 } else { last };
            app.review.line_cursor = None;
        }
        Action::Accept => {
            if app.review.line_cursor.is_some() {
                app.review.toggle_line();
            } else {
                app.review.decide(Decision::Accept);
            }
        }
        Action::Reject => app.review.decide(Decision::Reject),
        Action::AcceptLevel => accept_level(app),
        Action::LineMode => app.review.toggle_line_mode(),
        Action::UndoDecision => {
            if !app.review.undo() {
                app.notice = Some("nothing to undo".into());
            }
        }
        Action::RedoDecision => {
            if !app.review.redo() {
                app.notice = Some("nothing to redo".into());
            }
        }
        Action::Edit => open_editor(app),
        Action::Alternative => next_alternative(app),
        Action::Write => {
            if app.readonly {
                app.notice = Some("read-only mode: nothing is written".into());
                return Handled::Yes;
            }
            if app.review.pending.is_some() {
                // The hunks shown are about to be replaced: write what the user sees once it is there.
                app.notice = Some("planning fixes... - w writes once the plan is shown".into());
                return Handled::Yes;
            }
            let writes = app.review.writes();
            if writes.is_empty() {
                app.notice = Some("no accepted hunks to write - y accepts, n rejects".into());
            } else {
                app.notice = Some(format!("writing {} file(s)...", writes.len()));
                return Handled::Send(vec![Command::WriteFixes(writes)]);
            }
        }
        _ => return Handled::No,
    }
    Handled::Yes
}

/// Accept every undecided hunk of the cursor hunk's level at once (a real project can have 20 safe hunks).
/// Each is one decision: `u` takes them back one by one.
fn accept_level(app: &mut App) {
    let Some(level) = app.review.level_of_current() else {
        app.notice = Some("no hunk to accept".into());
        return;
    };
    let (cursor, line) = (app.review.cursor, app.review.line_cursor);
    app.review.line_cursor = None;
    let targets: Vec<usize> = app
        .review
        .hunks()
        .enumerate()
        .filter(|(_, (_, h))| h.level == level && app.review.decision(h.id).is_none())
        .map(|(i, _)| i)
        .collect();
    for &i in &targets {
        app.review.cursor = i;
        app.review.decide(Decision::Accept);
    }
    app.review.cursor = cursor;
    app.review.line_cursor = line;
    let level = format!("{level:?}").to_lowercase();
    app.notice = Some(format!(
        "accepted {} {level} hunk(s) - u undoes one, w writes",
        targets.len()
    ));
}

pub fn open_editor(app: &mut App) {
    let Some((_, h)) = app.review.current() else {
        app.notice = Some("no hunk to edit".into());
        return;
    };
    let text = match app.review.decision(h.id) {
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
    app.editor = Some((h.id, ta));
}

pub fn editor_key(app: &mut App, key: KeyEvent) {
    use crossterm::event::{KeyCode, KeyModifiers};
    let Some((id, ta)) = &mut app.editor else {
        return;
    };
    match (key.code, key.modifiers) {
        (KeyCode::Esc, _) => app.editor = None,
        (KeyCode::Char('s'), m) if m.contains(KeyModifiers::CONTROL) => {
            // What the user leaves in the editor is what gets written, line endings normalised to \n.
            let text: String = ta.lines().iter().map(|l| format!("{l}\n")).collect();
            let id = *id;
            app.editor = None;
            if app.review.current().is_some_and(|(_, h)| h.id == id) {
                app.review.decide(Decision::Edited(text));
            }
        }
        _ => {
            ta.input(key);
        }
    }
}

fn next_alternative(app: &mut App) {
    let Some(source) = app
        .review
        .current()
        .and_then(|(_, h)| h.sources.first().cloned())
    else {
        return;
    };
    let Some(n) = app
        .findings()
        .iter()
        .find(|f| crate::tui::review::finding_key(f) == source)
        .map(|f| f.fixes.len())
    else {
        return;
    };
    if n < 2 {
        app.notice = Some(format!("{source} has one fix only"));
        return;
    }
    let next = (app.review.alternative_of(&source) + 1) % n;
    app.review.choice.insert(source.clone(), next);
    app.review.after = Some(crate::tui::review::AfterPlan::Source(source.clone()));
    app.refresh_review();
    let desc = app
        .findings()
        .iter()
        .find(|f| crate::tui::review::finding_key(f) == source)
        .and_then(|f| f.fixes.get(next))
        .map(|f| f.description.clone())
        .unwrap_or_default();
    app.notice = Some(format!("alternative {}/{n}: {desc}", next + 1));
}

/// The pane's text and where the selection is in it, so the pane can keep it in view.
pub struct Shown {
    pub lines: Vec<Line<'static>>,
    /// The selected hunk's rows: its header to its last line of context.
    pub hunk: Range<usize>,
    /// The row that must be seen: the hunk's header, or in line mode the cursor's line.
    pub cursor: usize,
    /// The keys, shown under the text while the pane has the focus.
    pub hint: Option<Line<'static>>,
}

/// The first row to show in `rows` rows so that the whole selected hunk is in view (a third of the way down
/// where there is room, as `less` does with a match); a hunk taller than the pane shows from its header, or
/// from a third above line mode's cursor once the cursor goes below. A user must see the lines `y` accepts.
pub fn first_row(hunk: Range<usize>, cursor: usize, rows: usize) -> usize {
    if rows == 0 {
        return cursor;
    }
    if hunk.end <= rows && cursor < rows {
        return 0;
    }
    if hunk.len() <= rows {
        return hunk.start.saturating_sub(rows / 3).max(hunk.end - rows);
    }
    if cursor < hunk.start + rows {
        hunk.start
    } else {
        cursor - rows / 3
    }
}

/// The visible slice of the pane for `rows` rows: the selected hunk in view and the key hint on the last row
/// (it stays while the text scrolls under it; in a pane of three rows or fewer the text has them all).
pub fn visible(shown: Shown, rows: usize) -> Vec<Line<'static>> {
    let text_rows = match shown.hint {
        Some(_) if rows > 3 => rows - 1,
        _ => rows,
    };
    // No blank rows under the text while there is text above to show instead.
    let skip = first_row(shown.hunk, shown.cursor, text_rows)
        .min(shown.lines.len().saturating_sub(text_rows));
    let mut out: Vec<Line<'static>> = shown.lines.into_iter().skip(skip).take(text_rows).collect();
    if out.len() < rows {
        out.extend(shown.hint);
    }
    out
}

/// The review: per file, each hunk with its decision, sources and level, then its lines in context.
pub fn lines(app: &App, theme: &Theme) -> Shown {
    let review = &app.review;
    if review.is_empty() && review.pending.is_none() && !review.held.is_empty() {
        // Fixes exist but none can be proposed: say why for each (the file cannot be rewritten, the fix
        // would add a problem), as `dockui fix` does, rather than "all fixes are written".
        let mut out = empty(theme, "no fix can be proposed:");
        for h in &review.held {
            out.push(Line::styled(
                format!("  {} {}: {}", h.label, h.fix, h.reason),
                theme.dim(),
            ));
        }
        return Shown::text(out);
    }
    if review.is_empty() {
        let text = match &app.analysis {
            _ if review.pending.is_some() => "planning fixes...",
            None => "analysing...",
            Some(Ok(a)) if a.findings.iter().any(|f| !f.fixes.is_empty()) => {
                "all fixes are written"
            }
            _ => "no proposed fixes - findings with [fix] in Conflicts get one",
        };
        return Shown::text(empty(theme, text));
    }
    let focused = app.focus == Pane::Diff;
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut cursor_row = 0;
    let mut hunk_rows = 0..0;
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
            let also = review.also_resolves(h);
            if !also.is_empty() {
                header.spans.push(Span::styled(
                    format!(" - also resolves {}", also.join(", ")),
                    theme.dim(),
                ));
            }
            if is_cursor {
                cursor_row = out.len();
                hunk_rows.start = out.len();
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
            if is_cursor {
                hunk_rows.end = out.len();
            }
            index += 1;
        }
    }
    if review.pending.is_some() {
        // The hunks below are the last plan's until the new one lands.
        out.insert(0, Line::styled("planning fixes...", theme.dim()));
        cursor_row += 1;
        hunk_rows = hunk_rows.start + 1..hunk_rows.end + 1;
    }
    let hint = focused.then(|| {
        Line::styled(
            "y accept  A all of this level  n reject  e edit  l lines  a alternative  u undo  w write",
            theme.dim(),
        )
    });
    Shown {
        lines: out,
        hunk: hunk_rows,
        cursor: cursor_row,
        hint,
    }
}

impl Shown {
    /// A message instead of hunks.
    fn text(lines: Vec<Line<'static>>) -> Shown {
        Shown {
            lines,
            hunk: 0..0,
            cursor: 0,
            hint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Shown, first_row, visible};
    use ratatui::text::Line;

    fn shown(n: usize, hunk: std::ops::Range<usize>) -> Shown {
        Shown {
            lines: (0..n).map(|i| Line::from(format!("row {i}"))).collect(),
            cursor: hunk.start,
            hunk,
            hint: Some(Line::from("keys")),
        }
    }

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    /// The keys take the pane's last row while the text is longer than the pane, and follow the text
    /// otherwise; the text never ends above the hint with blank rows while there is more of it above.
    #[test]
    fn the_keys_stay_on_the_last_row_and_no_rows_are_wasted() {
        let v = text(&visible(shown(40, 20..24), 10));
        assert_eq!(v.len(), 10);
        assert_eq!(v[9], "keys");
        assert!(v.contains(&"row 20".to_string()) && v.contains(&"row 23".to_string()));
        // The last hunk: the text's end right above the keys.
        let v = text(&visible(shown(12, 9..12), 10));
        assert_eq!(v.first().unwrap(), "row 3");
        assert_eq!(&v[8..], ["row 11", "keys"]);
        // Short text: the keys right under it.
        assert_eq!(
            text(&visible(shown(2, 0..2), 10)),
            ["row 0", "row 1", "keys"]
        );
        // Three rows or fewer: the text has them all.
        assert_eq!(text(&visible(shown(5, 3..5), 2)), ["row 3", "row 4"]);
    }

    /// Over every hunk position, size, line-mode cursor and pane height: the cursor row is in view; a hunk
    /// that fits is in view whole; a taller one shows its header until line mode's cursor goes below it.
    #[test]
    fn the_first_row_keeps_the_selected_hunk_in_view() {
        for rows in 1..12 {
            for start in 0..30 {
                for len in 1..20 {
                    let hunk = start..start + len;
                    for cursor in hunk.clone() {
                        let skip = first_row(hunk.clone(), cursor, rows);
                        let seen = skip..skip + rows;
                        let case =
                            format!("rows {rows} hunk {hunk:?} cursor {cursor}: from {skip}");
                        assert!(seen.contains(&cursor), "{case}");
                        if len <= rows {
                            assert!(seen.start <= hunk.start && hunk.end <= seen.end, "{case}");
                        } else if cursor < start + rows {
                            assert_eq!(skip, start, "{case}");
                        }
                        if hunk.end <= rows {
                            assert_eq!(skip, 0, "{case}");
                        }
                    }
                }
            }
        }
    }
}
