//! Signals whose default action ends the process. Every command that holds something to give back catches
//! them all: the TUI (the terminal: raw mode off, main screen, cursor shown) and the headless build and push
//! (a cancelled build, its containers removed, its JSON and record written), then exits with 128 + the number,
//! like a shell. SIGPIPE is left out: the Rust runtime ignores it. SIGKILL and SIGSTOP cannot be caught.

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
