//! Headless notifications: send, and say on stderr what happened; never change the exit code themselves. A
//! fatal signal (`cancel`) abandons the notification at once: the caller's exit code then reports the signal.

use crate::notify::{self, Notification, NotifyConfig};
use tokio_util::sync::CancellationToken;

pub fn send(
    rt: &tokio::runtime::Runtime,
    config: &NotifyConfig,
    n: &Notification,
    cancel: &CancellationToken,
    quiet: bool,
) {
    if config.webhook.is_empty() {
        return;
    }
    let target = notify::redact(&config.webhook);
    let sent = rt.block_on(async {
        tokio::select! {
            r = notify::send(config, n) => Some(r),
            _ = cancel.cancelled() => None,
        }
    });
    match sent {
        // `--quiet`: no progress on stderr; a notification that failed is still said.
        Some(Ok(true)) if !quiet => eprintln!("dockui: notification sent to {target}"),
        Some(Ok(_)) => {}
        Some(Err(e)) => eprintln!("dockui: {e}"),
        None => eprintln!("dockui: notify: interrupted; the notification to {target} was not sent"),
    }
}
