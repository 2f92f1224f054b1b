//! The Digest pane: the built image, the push's progress, then the registry's digests and pullability.

use super::empty;
use crate::tui::app::{App, BuildState, PushState};
use crate::tui::theme::Theme;
use ratatui::text::Line;

/// What `y` copies here: the pushed reference, else the local image id.
pub fn copy_text(app: &App) -> Option<String> {
    match &app.push {
        Some(PushState {
            report: Some(r), ..
        }) => r.reference.clone(),
        _ => match &app.build {
            BuildState::Done(o) => o.image_id.clone(),
            _ => None,
        },
    }
}

pub fn lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    // An image that built but failed its smoke tests is still an image (p asks before pushing it).
    let built = match &app.build {
        BuildState::Done(o) if o.success || (o.image_id.is_some() && o.platforms.is_empty()) => {
            Some(o)
        }
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
                if o.success {
                    Line::styled("manifest digest: not pushed yet - press p", theme.dim())
                } else {
                    Line::styled(
                        "its smoke tests failed: p asks before pushing it anyway",
                        theme.warning(),
                    )
                },
                Line::styled(
                    "the image id is the local config digest; the registry's manifest digest exists only after a push",
                    theme.dim(),
                ),
            ],
            None => empty(
                theme,
                "no image built in this session - b builds; p pushes this project's last successful build",
            ),
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
    // Said of a push that happened; a failed push says only why it failed (nothing reached the registry).
    let said = if r.error.is_some() {
        "its smoke tests failed"
    } else {
        "pushed although its smoke tests failed"
    };
    if !app.pushed_despite.is_empty() {
        out.push(Line::styled(
            format!("{said}: {}", app.pushed_despite.join(", ")),
            theme.warning(),
        ));
    } else if r.forced || r.smoke_failed {
        out.push(Line::styled(said, theme.warning()));
    }
    if let Some(e) = &r.error {
        out.push(Line::styled(format!("push failed: {e}"), theme.error()));
        if let Some(d) = &r.diagnosis {
            out.push(Line::from(format!("{}: {}", d.class, d.explanation)));
        }
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
    if let Some(i) = &r.index {
        out.push(Line::styled(
            format!(
                "image index {} over {} platforms (pin this)",
                i.digest.as_deref().map(short).unwrap_or_default(),
                i.platforms.len()
            ),
            theme.heading(),
        ));
        out.push(Line::styled(i.pin.clone(), theme.dim()));
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

// ---- Rollback (issue 15): the pushed tag's history, and R to point the tag back to the push before. ----

use crate::engine::Command;
use crate::engine::image_job::{ImageCommand, ImageEvent, TagHistory};
use crate::registry::rollback::RollbackReport;
use crate::tui::keymap::Action;
use ratatui::style::Style;

/// How many of a tag's newest records the pane lists.
const HISTORY_SHOWN: usize = 5;

#[derive(Debug, Default)]
pub struct RollbackState {
    /// The pushed tags of the project's repository, newest activity first.
    pub tags: Vec<TagHistory>,
    /// Which tag's history is shown (t cycles).
    pub selected: usize,
    /// Waiting for the user's yes in `Popup::ConfirmRollback`.
    pub pending: Option<PendingRollback>,
    /// The reference being rolled back now.
    pub running: Option<String>,
    /// The last rollback: the reference, and the registry's answer or why it failed.
    pub result: Option<(String, Result<Box<RollbackReport>, String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRollback {
    pub reference: String,
    /// What the tag serves as far as dockui knows.
    pub from: Option<String>,
    pub to: String,
    /// When `to` was pushed.
    pub pushed: String,
}

impl RollbackState {
    pub fn shown(&self) -> Option<&TagHistory> {
        self.tags.get(self.selected)
    }

    /// What the status line says when an answer arrives (the "rolling back..." notice is over).
    pub fn notice(ev: &ImageEvent) -> Option<String> {
        match ev {
            ImageEvent::RolledBack {
                reference,
                result: Ok(r),
            } if r.tag_points_to_target => Some(format!(
                "rolled back {reference} to {} - {} (Digest pane)",
                short(&r.to),
                r.verdict.label()
            )),
            ImageEvent::RolledBack { reference, .. } => Some(format!(
                "rollback of {reference} did not take - see the Digest pane"
            )),
            _ => None,
        }
    }

    pub fn on_event(&mut self, ev: ImageEvent) {
        match ev {
            ImageEvent::TagHistory(tags) => {
                // Keep the tag the user looks at when it is still there.
                let keep = self.shown().map(|t| t.reference.clone());
                self.selected = keep
                    .and_then(|r| tags.iter().position(|t| t.reference == r))
                    .unwrap_or(0);
                self.tags = tags;
            }
            ImageEvent::RolledBack { reference, result } => {
                self.running = None;
                self.result = Some((reference, result));
            }
            ImageEvent::Inspecting(_)
            | ImageEvent::Inspected { .. }
            | ImageEvent::TooLarge { .. } => {}
        }
    }
}

/// After a push, the history of the repository it went to; at start, the project's push target's.
pub fn history_after(ev: &crate::engine::EngineEvent) -> Vec<Command> {
    use crate::engine::EngineEvent;
    match ev {
        EngineEvent::Engine(Ok(_)) => vec![Command::Image(ImageCommand::TagHistory(None))],
        EngineEvent::PushFinished(r) if r.error.is_none() && !r.repository.is_empty() => {
            vec![Command::Image(ImageCommand::TagHistory(Some(
                r.repository.clone(),
            )))]
        }
        _ => Vec::new(),
    }
}

/// Digest keys: R asks to roll the shown tag back, t shows the next tag. Others scroll the pane.
pub fn on_action(app: &mut App, action: Action) -> Option<Vec<Command>> {
    let rb = &mut app.rollback;
    match action {
        Action::NextTag => {
            if rb.tags.len() > 1 {
                rb.selected = (rb.selected + 1) % rb.tags.len();
            } else {
                app.notice = Some("one pushed tag only".into());
            }
        }
        Action::Rollback => {
            if app.readonly {
                app.notice = Some("read-only mode: the registry is not changed".into());
            } else if let Some(r) = &rb.running {
                app.notice = Some(format!("rolling back {r} already"));
            } else if app.push.as_ref().is_some_and(|p| p.report.is_none()) {
                // The push moves the tag too: the registry would end with whichever finished last.
                app.notice = Some("a push is running - roll back when it is done".into());
            } else if let Some(t) = rb.shown() {
                match t.previous() {
                    Some(to) => {
                        let pushed = t
                            .records
                            .iter()
                            .rev()
                            .find(|r| r.digest == to && r.kind == "push")
                            .map(|r| r.time.clone())
                            .unwrap_or_default();
                        rb.pending = Some(PendingRollback {
                            reference: t.reference.clone(),
                            from: t.current().map(str::to_string),
                            to,
                            pushed,
                        });
                        app.popup = Some(crate::tui::app::Popup::ConfirmRollback);
                    }
                    None => {
                        app.notice = Some(format!(
                            "no earlier push of {} in dockui's history: nothing to roll back to",
                            t.reference
                        ))
                    }
                }
            } else {
                app.notice = Some(
                    "no pushed tag in dockui's history for this project - push first (p)".into(),
                );
            }
        }
        _ => return None,
    }
    Some(Vec::new())
}

/// The popup's answer: y rolls back, anything else keeps the tag.
pub fn confirm(app: &mut App, yes: bool) -> Vec<Command> {
    app.popup = None;
    let Some(p) = app.rollback.pending.take() else {
        return Vec::new();
    };
    if !yes {
        app.notice = Some(format!("{} not rolled back", p.reference));
        return Vec::new();
    }
    app.notice = Some(format!(
        "rolling {} back to {}...",
        p.reference,
        short(&p.to)
    ));
    app.rollback.running = Some(p.reference.clone());
    app.rollback.result = None;
    vec![Command::Image(ImageCommand::Rollback {
        reference: p.reference,
        to: p.to,
    })]
}

/// The confirmation's text.
pub fn confirm_text(p: &PendingRollback) -> Vec<String> {
    vec![
        format!(
            "Roll {} back to {} (pushed at {})?",
            p.reference, p.to, p.pushed
        ),
        format!(
            "It serves {} now (dockui's last push or rollback of it).",
            p.from.as_deref().unwrap_or("an unknown digest")
        ),
        "Everyone who pulls the tag gets the older image; the newer one stays in the registry by digest.".into(),
        "y: roll back and verify   any other key: keep the tag".into(),
    ]
}

pub fn rollback_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let rb = &app.rollback;
    let mut out = Vec::new();
    if let Some(r) = &rb.running {
        out.push(Line::styled(
            format!("rolling {r} back..."),
            theme.heading(),
        ));
    }
    if let Some((reference, result)) = &rb.result {
        match result {
            Ok(r) => {
                let ok = r.tag_points_to_target && r.verdict.label() == "pullable";
                out.push(Line::styled(
                    format!(
                        "rolled back {reference}: the registry serves {} for the tag [{}]{}",
                        r.to,
                        r.verdict.label(),
                        if r.tag_points_to_target {
                            ""
                        } else {
                            " - but the tag does NOT point to it"
                        }
                    ),
                    if ok { theme.ok() } else { theme.error() },
                ));
            }
            Err(e) => out.push(Line::styled(
                format!("rollback of {reference} failed: {e}"),
                theme.error(),
            )),
        }
    }
    let Some(t) = rb.shown() else {
        return out;
    };
    let more = if rb.tags.len() > 1 {
        format!(" ({} of {} tags, t: next)", rb.selected + 1, rb.tags.len())
    } else {
        String::new()
    };
    out.push(Line::styled(
        format!("push history of {}{more}", t.reference),
        theme.heading(),
    ));
    let current = t.current();
    for (i, r) in t.records.iter().rev().take(HISTORY_SHOWN).enumerate() {
        let now = i == 0 && Some(r.digest.as_str()) == current;
        out.push(Line::styled(
            format!(
                "{} {} {} {}{}",
                if now { "*" } else { " " },
                r.time,
                short(&r.digest),
                r.kind,
                if now { " (serves now)" } else { "" }
            ),
            if now { theme.ok() } else { Style::default() },
        ));
    }
    if t.records.len() > HISTORY_SHOWN {
        out.push(Line::styled(
            format!(
                "  {} older - `dockui rollback {} --to sha256:...`",
                t.records.len() - HISTORY_SHOWN,
                t.reference
            ),
            theme.dim(),
        ));
    }
    match t.previous() {
        Some(p) => out.push(Line::styled(
            format!("R: roll the tag back to {}", short(&p)),
            theme.dim(),
        )),
        None => out.push(Line::styled("no earlier push to roll back to", theme.dim())),
    }
    out
}

/// The pane: the image and push, then the tag's history.
pub fn all_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = lines(app, theme);
    let rb = rollback_lines(app, theme);
    if !rb.is_empty() {
        out.push(Line::from(""));
        out.extend(rb);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineEvent;
    use crate::registry::index::{IndexReport, PlatformPush};
    use crate::registry::{PlatformCheck, PushReport, Verdict};
    use crate::tui::app::Msg;

    fn pushed(report: PushReport) -> App {
        let mut app = App::new("/nonexistent".into(), "unix:///var/run/docker.sock".into());
        app.push = Some(PushState {
            progress: Default::default(),
            report: None,
        });
        app.update(Msg::Engine(EngineEvent::PushFinished(Box::new(report))));
        app
    }

    fn text(app: &App) -> String {
        lines(app, &Theme::from_config("dark"))
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_multi_platform_push_lists_each_platform_and_says_to_pin_the_index() {
        let check = |platform: &str, d: char| PlatformCheck {
            platform: platform.into(),
            digest: format!("sha256:{}", d.to_string().repeat(64)),
            media_type: crate::registry::index::DOCKER_MANIFEST.into(),
            verdict: Verdict::Pullable,
            detail: String::new(),
        };
        let mut index = IndexReport::new(vec![PlatformPush {
            platform: "linux/arm64".into(),
            image: "reg/app:v1-arm64".into(),
            tag: "v1-arm64".into(),
            digest: Some(format!("sha256:{}", "b".repeat(64))),
            media_type: crate::registry::index::DOCKER_MANIFEST.into(),
            verdict: Some(Verdict::Pullable),
            what_to_do: String::new(),
        }]);
        index.digest = Some(format!("sha256:{}", "9".repeat(64)));
        let report = PushReport {
            image: "reg/app:v1".into(),
            repository: "reg/app".into(),
            verdict: Some(Verdict::Pullable),
            platforms: vec![check("linux/amd64", 'a'), check("linux/arm64", 'b')],
            index: Some(index),
            ..Default::default()
        };
        let shown = text(&pushed(report));
        assert!(
            shown.contains("image index sha256:999999999999 over 1 platforms (pin this)"),
            "{shown}"
        );
        assert!(
            shown.contains("linux/amd64 sha256:aaaaaaaaaaaa [pullable]"),
            "{shown}"
        );
        assert!(
            shown.contains("linux/arm64 sha256:bbbbbbbbbbbb [pullable]"),
            "{shown}"
        );
        assert!(shown.contains("Pin the index digest"), "{shown}");

        // A single-platform push shows no index block.
        let single = pushed(PushReport {
            image: "reg/app:v1".into(),
            verdict: Some(Verdict::Pullable),
            ..Default::default()
        });
        assert!(text(&single).contains("verdict: pullable"));
        assert!(!text(&single).contains("image index"));
    }
}
