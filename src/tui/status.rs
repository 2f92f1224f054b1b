//! The status bar: where the engine is, what the build does, the last notice, and the way to help.

use super::app::{App, BuildState, EngineState};

pub fn line(app: &App, width: usize) -> String {
    // "(docker, context prod, 20.10.24)": the builder's kind and docker context once the engine said.
    let about = |state: &str| {
        let mut parts: Vec<&str> = Vec::new();
        if let Some(b) = &app.backend {
            parts.push(b.kind.as_str());
        }
        // The Docker adapter's endpoint already names its context ("tcp://h:2376 (context prod)").
        let context = app
            .backend
            .as_ref()
            .and_then(|b| b.context.as_ref())
            .map(|c| format!("context {c}"))
            .filter(|c| !app.endpoint.contains(c.as_str()));
        if let Some(c) = &context {
            parts.push(c);
        }
        parts.push(state);
        parts.join(", ")
    };
    let engine = match &app.engine {
        EngineState::Connecting => format!("engine {} ({})", app.endpoint, about("connecting")),
        EngineState::Ready(i) => format!("engine {} ({})", app.endpoint, about(&i.version)),
        EngineState::Unreachable(_) => {
            format!("engine {} ({})", app.endpoint, about("unreachable"))
        }
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
    if let Some(input) = &app.log.input {
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
    let full = format!(" dockui{readonly} | {engine} | {build}{notice} | ? help  q quit");
    if full.chars().count() <= width {
        return full;
    }
    // Narrow terminal: the build state and "? help" stay; the engine shrinks to its state, then goes; the
    // notice is shortened last.
    let engine_short = match &app.engine {
        EngineState::Connecting => "engine connecting",
        EngineState::Ready(_) => "engine ok",
        EngineState::Unreachable(_) => "engine unreachable",
    };
    let tail = " | ? help";
    for engine in [Some(engine_short), None] {
        let engine = engine.map(|e| format!(" | {e}")).unwrap_or_default();
        let line = format!(" dockui{readonly}{engine} | {build}{notice}{tail}");
        if line.chars().count() <= width {
            return line;
        }
    }
    let head = format!(" {build}");
    let room = width.saturating_sub(head.chars().count() + tail.chars().count());
    let notice: String = if notice.chars().count() > room {
        let cut: String = notice.chars().take(room.saturating_sub(1)).collect();
        if cut.is_empty() {
            cut
        } else {
            format!("{cut}…")
        }
    } else {
        notice
    };
    let line = format!("{head}{notice}{tail}");
    if line.chars().count() <= width {
        return line;
    }
    // Even the build state is too long: cut it, keep the help hint.
    let room = width.saturating_sub(tail.chars().count() + 1);
    let head: String = head.chars().take(room).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{BackendInfo, BackendKind, EngineInfo};

    #[test]
    fn the_engine_part_names_the_backend_kind_and_context_once_known() {
        let mut app = App::new("/p".into(), "tcp://gpu-box:2376".into());
        app.engine = EngineState::Ready(EngineInfo {
            endpoint: "tcp://gpu-box:2376".into(),
            context: None,
            version: "4.3.1".into(),
            api_version: "1.41".into(),
        });
        assert!(line(&app, 200).contains("engine tcp://gpu-box:2376 (4.3.1)"));
        app.backend = Some(BackendInfo {
            kind: BackendKind::Podman,
            endpoint: "tcp://gpu-box:2376".into(),
            context: Some("gpu-box".into()),
        });
        let l = line(&app, 200);
        assert!(
            l.contains("engine tcp://gpu-box:2376 (podman, context gpu-box, 4.3.1)"),
            "{l}"
        );
        app.backend.as_mut().unwrap().context = None;
        assert!(line(&app, 200).contains("(podman, 4.3.1)"));
        // Named once when the endpoint shows it already.
        app.endpoint = "tcp://gpu-box:2376 (context gpu-box)".into();
        app.backend.as_mut().unwrap().context = Some("gpu-box".into());
        let l = line(&app, 200);
        assert!(
            l.contains("engine tcp://gpu-box:2376 (context gpu-box) (podman, 4.3.1)"),
            "{l}"
        );
    }
}
