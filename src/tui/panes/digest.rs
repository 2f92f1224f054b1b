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
    if !app.pushed_despite.is_empty() {
        out.push(Line::styled(
            format!(
                "pushed although its smoke tests failed: {}",
                app.pushed_despite.join(", ")
            ),
            theme.warning(),
        ));
    } else if r.forced || r.smoke_failed {
        out.push(Line::styled(
            "pushed although its smoke tests failed",
            theme.warning(),
        ));
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
