//! Signals whose default action ends the process. Every command that holds something to give back catches
//! them all: the TUI (the terminal: raw mode off, main screen, cursor shown) and the headless build and push
//! (a cancelled build, its containers removed, its JSON and record written), then exits with 128 + the number,
//! like a shell. SIGPIPE is left out: the Rust runtime ignores it. SIGKILL and SIGSTOP cannot be caught.
//! Commands that only read until they print (check, fix) use `exit_on_signal`: they end at once, but say so,
//! in JSON too, and never between writing a file and reporting it.

use tokio::signal::unix::{SignalKind, signal};

pub const FATAL_SIGNALS: [i32; 12] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGVTALRM,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGIO,
    libc::SIGPWR,
];

/// Every signal in `FATAL_SIGNALS`, installed now (inside a Tokio runtime), as one stream of their numbers.
pub fn fatal_signals() -> std::io::Result<impl futures_util::Stream<Item = i32> + Unpin> {
    let mut all = futures_util::stream::SelectAll::new();
    for signo in FATAL_SIGNALS {
        let s = signal(SignalKind::from_raw(signo))?;
        all.push(Box::pin(futures_util::stream::unfold(
            s,
            move |mut s| async move { s.recv().await.map(|()| (signo, s)) },
        )));
    }
    Ok(all)
}

/// The signal's name as a shell shows it (`SIGTERM`), or its number.
pub fn signal_name(signo: i32) -> String {
    let name = match signo {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGALRM => "SIGALRM",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGIO => "SIGIO",
        libc::SIGPWR => "SIGPWR",
        n => return format!("signal {n}"),
    };
    name.to_string()
}

/// Held from the moment a command starts writing its files or its result until the process ends.
static FINISHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// For a command that reads and analyses, then writes and prints at the end (`check`, `fix`): a fatal signal
/// before `finishing` ends the process at once with 128 + its number, saying so on stderr and, when `json`,
/// with one JSON error object on stdout (a CI job parsing stdout gets a document, not nothing). After
/// `finishing` the signal waits: the writes and the report take milliseconds, and a file written but not
/// reported, or half a JSON document, is worse than finishing.
pub fn exit_on_signal(json: bool) {
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            use futures_util::StreamExt as _;
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let Some(signo) = rt.block_on(async {
                let mut s = fatal_signals().ok()?;
                s.next().await
            }) else {
                return;
            };
            let _wait = FINISHING.lock().unwrap_or_else(|e| e.into_inner());
            let what = format!(
                "stopped by {} before the result was ready: nothing was written",
                signal_name(signo)
            );
            eprintln!("dockui: {what}");
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": what, "exit_code": 128 + signo })
                );
            }
            std::process::exit(128 + signo);
        });
    if let Err(e) = spawned {
        log::warn!("no signal handler thread: {e}");
    }
}

/// The command starts writing (files, then its report): a signal from now on waits for the process to end.
/// Idempotent: the first call takes the lock for good.
pub fn finishing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::mem::forget(FINISHING.lock().unwrap_or_else(|e| e.into_inner())));
}
