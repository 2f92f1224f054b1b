//! Headless notifications: send, and say on stderr what happened; never change the exit code.

use crate::notify::{self, Notification, NotifyConfig};

pub fn send(rt: &tokio::runtime::Runtime, config: &NotifyConfig, n: &Notification) {
    match rt.block_on(notify::send(config, n)) {
        Ok(true) => eprintln!(
            "dockui: notification sent to {}",
            notify::redact(&config.webhook)
        ),
        Ok(false) => {}
        Err(e) => eprintln!("dockui: {e}"),
    }
}
