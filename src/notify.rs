//! Notifications: a JSON POST to `[notify] webhook` when a build ends (success or failure) and after a push
//! (with the digest). `style = "ntfy"` adds ntfy's `Title` and `Priority` headers. A notification that cannot
//! be delivered is reported to the caller (stderr headless, a notice in the TUI) and never fails the build.
//!
//! ```toml
//! [notify]
//! webhook = "https://ntfy.example.org/builds"
//! style = "ntfy"      # "json" (default): the JSON body only
//! timeout_s = 10
//! ```

use crate::engine::BuildOutcome;
use crate::registry::report::PushReport;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Empty: no notifications.
    pub webhook: String,
    /// "json" (the body only) or "ntfy" (also Title and Priority headers).
    pub style: String,
    pub timeout_s: u64,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook: String::new(),
            style: "json".into(),
            timeout_s: 10,
        }
    }
}

/// The longest `notify.timeout_s`: a notification is a courtesy, never worth holding a finished build for
/// more than five minutes.
pub const MAX_TIMEOUT_S: u64 = 300;

impl NotifyConfig {
    /// Config-time check, so a typo is an error when the config loads, not a silent non-notification.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.style.as_str(), "json" | "ntfy") {
            return Err(format!(
                "notify.style = \"{}\": use \"json\" or \"ntfy\"",
                self.style
            ));
        }
        let http = ["http://", "https://"]
            .iter()
            .any(|s| self.webhook.starts_with(s));
        if !(1..=MAX_TIMEOUT_S).contains(&self.timeout_s) {
            return Err(format!(
                "notify.timeout_s = {}: use 1 to {MAX_TIMEOUT_S} seconds (how long a build or push waits for \
                 the webhook before giving up on it)",
                self.timeout_s
            ));
        }
        if !self.webhook.is_empty() && !http {
            return Err(format!(
                "notify.webhook must be an http:// or https:// URL (got \"{}\")",
                redact(&self.webhook)
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Build,
    Push,
}

/// The JSON body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub event: Event,
    /// The project directory's name ("" for a push of a bare image reference).
    pub project: String,
    pub image: String,
    pub tags: Vec<String>,
    /// Manifest digest after a push; the image id after a build.
    pub digest: Option<String>,
    pub success: bool,
    /// Why it failed: the failure class and explanation when a signature matched, else the error.
    pub diagnosis: Option<String>,
}

impl Notification {
    pub fn from_build(project: &Path, o: &BuildOutcome) -> Notification {
        let diagnosis = if o.success {
            None
        } else {
            o.attempts
                .iter()
                .rev()
                .find_map(|a| a.diagnosis.as_ref())
                .map(|d| format!("{}: {}", d.class, d.explanation))
                .or_else(|| o.error.clone())
                .or_else(|| o.cancelled.then(|| "cancelled".to_string()))
        };
        Notification {
            event: Event::Build,
            project: project_name(Some(project)),
            image: o.image.clone(),
            tags: o.tags.clone(),
            digest: o.image_id.clone(),
            success: o.success,
            diagnosis,
        }
    }

    pub fn from_push(project: Option<&Path>, r: &PushReport) -> Notification {
        let success = r.exit_code() == 0;
        Notification {
            event: Event::Push,
            project: project_name(project),
            image: r.reference.clone().unwrap_or_else(|| r.image.clone()),
            tags: r
                .tags
                .iter()
                .map(|t| format!("{}:{}", r.repository, t.tag))
                .collect(),
            digest: r.digest.clone(),
            success,
            diagnosis: if success {
                None
            } else {
                r.error.clone().or_else(|| {
                    r.verdict
                        .map(|v| format!("pushed but {}: {}", v.label(), r.what_to_do))
                })
            },
        }
    }

    pub fn title(&self) -> String {
        let what = match self.event {
            Event::Build => "build",
            Event::Push => "push",
        };
        let verdict = if self.success { "succeeded" } else { "failed" };
        let name = if self.project.is_empty() {
            &self.image
        } else {
            &self.project
        };
        format!("dockui: {what} of {name} {verdict}")
    }
}

fn project_name(dir: Option<&Path>) -> String {
    dir.and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `https://hooks.example.com/services/T0/B0/secret` -> `https://hooks.example.com/...`: webhook paths often
/// carry the token, so messages name the host only.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let more = rest.len() > host.len();
    format!(
        "{}{host}{}",
        if scheme.is_empty() {
            String::new()
        } else {
            format!("{scheme}://")
        },
        if more { "/..." } else { "" }
    )
}

/// POST the notification. Ok(false): nothing configured. Err: a message for the user (never with the URL's
/// path or credentials).
pub async fn send(config: &NotifyConfig, n: &Notification) -> Result<bool, String> {
    if config.webhook.is_empty() {
        return Ok(false);
    }
    let target = redact(&config.webhook);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(
            config.timeout_s.clamp(1, MAX_TIMEOUT_S),
        ))
        .build()
        .map_err(|e| format!("notify: cannot set up the HTTP client: {e}"))?;
    let body = serde_json::to_vec(n).map_err(|e| e.to_string())?;
    let mut req = client
        .post(&config.webhook)
        .header("Content-Type", "application/json")
        .body(body);
    if config.style == "ntfy" {
        req = req
            .header("Title", n.title())
            .header("Priority", if n.success { "default" } else { "high" })
            .header("Tags", if n.success { "white_check_mark" } else { "x" });
    }
    let resp = req.send().await.map_err(|e| {
        let why = if e.is_timeout() {
            "timed out".to_string()
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            "request failed".to_string()
        };
        format!("notify: webhook {target} {why}; the build result is unaffected")
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!(
            "notify: webhook {target} answered {status}; the build result is unaffected"
        ));
    }
    Ok(true)
}

/// Send in the background (TUI): a failure goes to `on_error`, nothing waits for it.
pub fn spawn(
    config: &NotifyConfig,
    n: Notification,
    on_error: impl FnOnce(String) + Send + 'static,
) {
    if config.webhook.is_empty() {
        return;
    }
    let config = config.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&config, &n).await {
            log::warn!("{e}");
            on_error(e);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_the_host_only() {
        assert_eq!(
            redact("https://hooks.example.com/services/T0/B0/secret"),
            "https://hooks.example.com/..."
        );
        assert_eq!(
            redact("http://user:pw@127.0.0.1:9/x?token=1"),
            "http://127.0.0.1:9/..."
        );
        assert_eq!(redact("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }

    #[test]
    fn config_rejects_unknown_style_and_non_http_urls() {
        let mut c = NotifyConfig::default();
        assert!(c.validate().is_ok());
        c.style = "slack".into();
        assert!(c.validate().unwrap_err().contains("json"));
        c.style = "ntfy".into();
        c.webhook = "ftp://x/secret".into();
        let e = c.validate().unwrap_err();
        assert!(e.contains("http") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn config_bounds_the_timeout() {
        let mut c = NotifyConfig::default();
        for ok in [1, 10, MAX_TIMEOUT_S] {
            c.timeout_s = ok;
            assert!(c.validate().is_ok(), "{ok}");
        }
        for bad in [0, MAX_TIMEOUT_S + 1, 999_999_999_999] {
            c.timeout_s = bad;
            let e = c.validate().unwrap_err();
            assert!(
                e.starts_with("notify.timeout_s = ") && e.contains("1 to 300"),
                "{e}"
            );
        }
    }

    #[test]
    fn failed_push_says_why_and_names_the_tags() {
        let r = PushReport {
            image: "dockui-local/app:1".into(),
            repository: "127.0.0.1:5000/app".into(),
            tags: vec![crate::registry::report::TagPush {
                tag: "1".into(),
                digest: None,
                size: None,
                confirmed: false,
                registry_digest: None,
            }],
            error: Some("registry refused".into()),
            ..Default::default()
        };
        let n = Notification::from_push(None, &r);
        assert!(!n.success);
        assert_eq!(n.tags, vec!["127.0.0.1:5000/app:1"]);
        assert_eq!(n.diagnosis.as_deref(), Some("registry refused"));
        assert_eq!(n.title(), "dockui: push of dockui-local/app:1 failed");
    }
}
