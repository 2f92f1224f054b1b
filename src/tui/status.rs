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
    // A shorter build state that says the same, tried before the build state is cut.
    let mut short: Option<String> = None;
    let build = match &app.build {
        BuildState::Idle => "no build".to_string(),
        BuildState::Running {
            attempt,
            max_attempts,
            platform,
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
            let on = platform
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            format!(
                "building{on}: attempt {attempt}/{max_attempts}{step} {:02}:{:02}",
                secs / 60,
                secs % 60
            )
        }
        // A multi-platform build: its attempts are the platforms' (not retries), so count platforms.
        BuildState::Done(o) if !o.platforms.is_empty() => {
            let built = o.platforms.iter().filter(|p| p.success).count();
            match o.platforms.iter().find(|p| !p.success) {
                None => format!("built {built} platforms in {:.1}s", o.build_time_s),
                Some(p) => format!(
                    "{} at {} ({built} platform(s) built) in {:.1}s",
                    o.verdict(),
                    p.platform,
                    o.build_time_s
                ),
            }
        }
        BuildState::Done(o) => {
            let verdict = o.verdict();
            let n = o.attempts.len();
            // The build's clock runs from the first attempt to the result, so it also counts the time between
            // attempts (the user reviewing fixes before `b`, the planner): name the attempts' own time apart.
            let building: f64 = o.attempts.iter().map(|a| a.duration_s).sum();
            if n > 1 && o.build_time_s - building >= 1.0 {
                short = Some(format!(
                    "{verdict} after {n} attempt(s): {building:.1}s building"
                ));
                format!(
                    "{verdict} after {n} attempt(s): {building:.1}s building, {:.1}s in all",
                    o.build_time_s
                )
            } else {
                format!("{verdict} after {n} attempt(s) in {:.1}s", o.build_time_s)
            }
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
            short = None;
            "build failed, waiting for you: w writes the fixes, b retries, c stops".to_string()
        }
        None => build,
    };
    let readonly = if app.readonly { " | READ-ONLY" } else { "" };
    let full = format!(" dockui{readonly} | {engine} | {build}{notice} | ? help  q quit");
    if full.chars().count() <= width {
        return full;
    }
    // Narrower: the build state and "? help" stay. Where the build runs (endpoint and context) is kept as long
    // as it fits: first the kind and version go, then the endpoint's scheme, then only the engine's state is
    // left, then nothing; the notice is shortened last.
    let state = match &app.engine {
        EngineState::Connecting => "connecting",
        EngineState::Ready(_) => "ok",
        EngineState::Unreachable(_) => "unreachable",
    };
    let context = app
        .backend
        .as_ref()
        .and_then(|b| b.context.as_ref())
        .filter(|c| !app.endpoint.contains(&format!("context {c}")))
        .map(|c| format!(" (context {c})"))
        .unwrap_or_default();
    let bare = app
        .endpoint
        .split_once("://")
        .map_or(app.endpoint.as_str(), |(_, rest)| rest);
    let tail = " | ? help";
    for engine in [
        engine.clone(),
        format!("engine {}{context} ({state})", app.endpoint),
        match state {
            "ok" => format!("engine {bare}{context}"),
            _ => format!("engine {bare}{context} ({state})"),
        },
    ] {
        let line = format!(" dockui{readonly} | {engine} | {build}{notice}{tail}");
        if line.chars().count() <= width {
            return line;
        }
    }
    // A long notice is cut before the endpoint goes, but never below 40 columns: a notice is what just
    // happened, the endpoint is still in the Build log's header.
    let head = match state {
        "ok" => format!(" dockui{readonly} | engine {bare}{context} | {build}"),
        _ => format!(" dockui{readonly} | engine {bare}{context} ({state}) | {build}"),
    };
    let room = width.saturating_sub(head.chars().count() + tail.chars().count());
    if room >= notice.chars().count().min(40) {
        // (With no notice the room may be 0 because the head alone is too wide: it must fit too.)
        let line = format!("{head}{}{tail}", cut_to(&notice, room));
        if line.chars().count() <= width {
            return line;
        }
    }
    for engine in [Some(format!("engine {state}")), None] {
        let engine = engine.map(|e| format!(" | {e}")).unwrap_or_default();
        let line = format!(" dockui{readonly}{engine} | {build}{notice}{tail}");
        if line.chars().count() <= width {
            return line;
        }
    }
    let mut head = String::new();
    for build in std::iter::once(build).chain(short) {
        head = format!(" {build}");
        let room = width.saturating_sub(head.chars().count() + tail.chars().count());
        let line = format!("{head}{}{tail}", cut_to(&notice, room));
        if line.chars().count() <= width {
            return line;
        }
    }
    // Even the build state is too long: cut it, keep the help hint.
    if width > tail.chars().count() + 1 {
        let room = width - tail.chars().count() - 1;
        let head: String = head.chars().take(room).collect();
        return format!("{head}…{tail}");
    }
    // Narrower than any build state: the help hint alone, as much of it as there is room for ("?" first).
    let help = "? help";
    let pad = width.saturating_sub(help.len()).min(1);
    format!("{}{}", " ".repeat(pad), &help[..width.min(help.len())])
}

/// `text` in at most `room` columns, with `…` where it was cut.
fn cut_to(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let cut: String = text.chars().take(room.saturating_sub(1)).collect();
    if cut.is_empty() {
        cut
    } else {
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An App whose engine (Docker 20.10 on the local socket) answered, with its backend and `context`.
    fn ready_app(context: Option<&str>) -> App {
        let mut app = App::new("/p".into(), "unix:///var/run/docker.sock".into());
        app.engine = EngineState::Ready(EngineInfo {
            endpoint: app.endpoint.clone(),
            context: None,
            version: "20.10.24+dfsg1".into(),
            api_version: "1.41".into(),
        });
        app.backend = Some(BackendInfo {
            kind: BackendKind::Docker,
            endpoint: app.endpoint.clone(),
            context: context.map(str::to_string),
        });
        app
    }
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

    #[test]
    fn a_running_build_keeps_where_it_runs_in_the_bar_as_long_as_it_fits() {
        let mut app = ready_app(Some("gpu-box"));
        app.build = BuildState::Running {
            attempt: 1,
            max_attempts: 3,
            step: Some((5, 6)),
            step_started: app.now,
            started: app.now,
            platform: None,
            cached: 1,
            build_id: String::new(),
        };
        app.notice = Some("a build is already running".into());
        let mut kept = Vec::new();
        for width in (60..=200).rev().step_by(10) {
            let l = line(&app, width);
            assert!(l.chars().count() <= width, "{width}: {l}");
            assert!(
                l.contains("step 5/6") && l.contains("? help"),
                "{width}: {l}"
            );
            kept.push((
                width,
                l.contains("gpu-box"),
                l.contains("/var/run/docker.sock"),
            ));
        }
        // From 150 columns on the context and the socket are still named.
        for (width, context, socket) in kept {
            if width >= 150 {
                assert!(context && socket, "{width}: {}", line(&app, width));
            }
        }
        // A longer notice is cut to keep them, down to 40 columns of it.
        app.notice = Some(format!("push refused: {}", "x".repeat(60)));
        let l = line(&app, 165);
        assert!(
            l.contains("gpu-box") && l.contains("| push refused: xxx"),
            "{l}"
        );
        assert!(l.contains("…"), "{l}");
        assert!(!line(&app, 150).contains("gpu-box"), "{}", line(&app, 150));
        app.notice = None;
        assert!(
            line(&app, 120).contains("engine /var/run/docker.sock (context gpu-box)"),
            "{}",
            line(&app, 120)
        );
    }

    /// At every width, from wide to one column, in every state the bar never overflows and keeps `? help`
    /// (as much of it as fits below six columns). At 80 columns after a build with no notice the head alone
    /// was too wide and the bar ran one column over, cutting "? help" (auditor).
    #[test]
    fn the_bar_fits_every_width_and_keeps_help() {
        let mut app = ready_app(None);
        let built = crate::engine::BuildOutcome {
            success: true,
            build_time_s: 0.4,
            attempts: vec![crate::engine::build::AttemptRecord {
                attempt: 1,
                status: crate::engine::build::AttemptStatus::Succeeded,
                duration_s: 0.4,
                log_path: "/l".into(),
                error: None,
                diagnosis: None,
                smoke: Vec::new(),
                fixes_applied: Vec::new(),
                fixes: Vec::new(),
                platform: None,
            }],
            ..Default::default()
        };
        app.build = BuildState::Done(Box::new(built.clone()));
        // The auditor's case.
        let l = line(&app, 80);
        assert!(l.chars().count() <= 80, "{l}");
        assert!(l.ends_with(" | ? help"), "{l}");
        assert!(l.contains("built after 1 attempt(s) in 0.4s"), "{l}");

        let running = BuildState::Running {
            attempt: 2,
            max_attempts: 3,
            step: Some((5, 6)),
            step_started: app.now,
            started: app.now,
            platform: Some("linux/arm64".into()),
            cached: 1,
            build_id: String::new(),
        };
        let notices = [
            None,
            Some("retrying...".to_string()),
            Some(format!("push refused: {}", "x".repeat(90))),
        ];
        for build in [BuildState::Idle, BuildState::Done(Box::new(built)), running] {
            for notice in &notices {
                for (readonly, waiting) in [(false, false), (true, false), (false, true)] {
                    app.build = build.clone();
                    app.notice = notice.clone();
                    app.readonly = readonly;
                    app.awaiting_retry = waiting.then(|| vec!["DL3014".to_string()]);
                    for width in 0..=220 {
                        let l = line(&app, width);
                        let n = l.chars().count();
                        assert!(n <= width, "{width}: {n} columns: {l:?}");
                        if width >= 6 {
                            assert!(
                                l.ends_with("? help") || l.ends_with("q quit"),
                                "{width}: {l:?}"
                            );
                            assert!(l.contains("? help"), "{width}: {l:?}");
                        } else {
                            assert!("? help".starts_with(l.as_str()), "{width}: {l:?}");
                            assert_eq!(n, width, "{width}: {l:?}");
                        }
                    }
                }
            }
        }
    }

    /// The build's clock also counts the time the user spent reviewing between attempts: the attempts' own
    /// time is named apart, and a narrow bar drops "in all" before it cuts anything.
    #[test]
    fn the_wait_between_attempts_is_not_shown_as_build_time() {
        use crate::engine::{AttemptRecord, AttemptStatus, BuildOutcome};
        let attempt = |n, secs| AttemptRecord {
            attempt: n,
            status: AttemptStatus::Failed,
            duration_s: secs,
            log_path: "/l".into(),
            error: None,
            diagnosis: None,
            smoke: Vec::new(),
            fixes_applied: Vec::new(),
            fixes: Vec::new(),
            platform: None,
        };
        let mut app = App::new("/p".into(), "unix:///var/run/docker.sock".into());
        let mut o = BuildOutcome {
            success: true,
            build_time_s: 24.6,
            attempts: vec![attempt(1, 1.5), attempt(2, 1.6)],
            ..Default::default()
        };
        app.build = BuildState::Done(Box::new(o.clone()));
        let l = line(&app, 160);
        assert!(
            l.contains("| built after 2 attempt(s): 3.1s building, 24.6s in all |"),
            "{l}"
        );
        assert_eq!(
            line(&app, 50),
            " built after 2 attempt(s): 3.1s building | ? help"
        );
        // Retried at once (auto-fix): the clock is the build's.
        o.build_time_s = 3.4;
        app.build = BuildState::Done(Box::new(o));
        assert!(
            line(&app, 160).contains("| built after 2 attempt(s) in 3.4s |"),
            "{}",
            line(&app, 160)
        );
    }

    #[test]
    fn a_multi_platform_build_counts_platforms_not_attempts() {
        use crate::engine::platforms::PlatformBuild;
        let mut app = App::new("/p".into(), "unix:///var/run/docker.sock".into());
        app.build = BuildState::Running {
            attempt: 1,
            max_attempts: 3,
            platform: Some("linux/arm64".into()),
            step: Some((2, 2)),
            step_started: app.now,
            started: app.now,
            cached: 0,
            build_id: String::new(),
        };
        let l = line(&app, 200);
        assert!(
            l.contains("building linux/arm64: attempt 1/3 step 2/2"),
            "{l}"
        );
        let platform = |p: &str, success: bool| PlatformBuild {
            platform: p.into(),
            image: String::new(),
            image_id: None,
            success,
            build_id: String::new(),
            build_time_s: 1.0,
            error: None,
            smoke: Vec::new(),
        };
        let mut o = crate::engine::BuildOutcome {
            success: true,
            build_time_s: 12.0,
            platforms: vec![platform("linux/amd64", true), platform("linux/arm64", true)],
            ..Default::default()
        };
        app.build = BuildState::Done(Box::new(o.clone()));
        assert!(
            line(&app, 200).contains("built 2 platforms in 12.0s"),
            "{}",
            line(&app, 200)
        );
        o.success = false;
        o.cancelled = true;
        o.platforms[1].success = false;
        app.build = BuildState::Done(Box::new(o));
        let l = line(&app, 200);
        assert!(
            l.contains("cancelled at linux/arm64 (1 platform(s) built) in 12.0s"),
            "{l}"
        );
        assert!(!l.contains("attempt"), "{l}");
    }
}
