//! Registry credentials, found the way `docker` and `podman` find them:
//! 1. `DOCKUI_REGISTRY_USER` / `DOCKUI_REGISTRY_PASSWORD` (dockui's own, so they win: CI sets them on purpose);
//! 2. `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `credHelpers[host]`, then `credsStore`, then the
//!    inline `auths` entry (base64 `auth`, or `username`/`password`, or `identitytoken`);
//! 3. only when there is no Docker config: podman's `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//!    `~/.config/containers/auth.json`.
//!
//! Helpers (`docker-credential-<name> get`) are processes that block: `resolve` runs them on the blocking pool.
//! Their stdout holds the secret, so it never goes into an error message.

use super::reference::{DOCKER_HUB, DOCKER_HUB_AUTH_KEY, normalize_auth_key};
use super::secret::Secret;
use base64::Engine as _;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const ENV_USER: &str = "DOCKUI_REGISTRY_USER";
pub const ENV_PASSWORD: &str = "DOCKUI_REGISTRY_PASSWORD";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credentials {
    pub username: String,
    /// A password, or an identity token when `kind` says so.
    pub secret: Secret,
    pub kind: SecretKind,
    pub source: CredentialSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    Password,
    /// An OAuth refresh token (`identitytoken`, or a helper answering with username `<token>`).
    IdentityToken,
}

/// Where credentials came from: shown to the user (never the values themselves).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialSource {
    Env,
    DockerConfig { path: PathBuf },
    CredHelper { helper: String },
    CredsStore { helper: String },
    PodmanAuth { path: PathBuf },
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Env => write!(f, "${ENV_USER} / ${ENV_PASSWORD}"),
            CredentialSource::DockerConfig { path } => write!(f, "{}", path.display()),
            CredentialSource::CredHelper { helper } => {
                write!(
                    f,
                    "credential helper docker-credential-{helper} (credHelpers)"
                )
            }
            CredentialSource::CredsStore { helper } => {
                write!(
                    f,
                    "credential store docker-credential-{helper} (credsStore)"
                )
            }
            CredentialSource::PodmanAuth { path } => write!(f, "{} (podman)", path.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "cannot read {path}: {reason}; fix or remove the file, or set ${ENV_USER}/${ENV_PASSWORD}"
    )]
    BadFile { path: PathBuf, reason: String },
    #[error(
        "credential helper docker-credential-{helper} failed: {reason}; check that it is installed and on PATH \
         (or run `docker login` again)"
    )]
    Helper { helper: String, reason: String },
}

impl Credentials {
    /// What the Docker engine expects in X-Registry-Auth and what Basic auth sends.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.secret.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Where to look; `from_env()` for real use, fields set by hand in tests.
#[derive(Debug, Clone, Default)]
pub struct CredentialLookup {
    /// The Docker config file, whether or not it exists.
    pub docker_config: Option<PathBuf>,
    /// Podman auth files in the order podman reads them.
    pub podman_auth: Vec<PathBuf>,
    pub env_user: Option<String>,
    pub env_password: Option<Secret>,
    /// PATH for credential helpers; None: the process's own PATH.
    pub helper_path: Option<std::ffi::OsString>,
    /// The only registry the env credentials are for; None: every registry. Set it to the push target so a
    /// CI password is never offered to another registry (or its token realm) while checking other digests.
    pub env_scope: Option<String>,
}

impl CredentialLookup {
    pub fn from_env() -> CredentialLookup {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from);
        let docker_config = var("DOCKER_CONFIG")
            .map(|d| PathBuf::from(d).join("config.json"))
            .or_else(|| home.as_ref().map(|h| h.join(".docker/config.json")));
        let mut podman_auth = Vec::new();
        if let Some(f) = var("REGISTRY_AUTH_FILE") {
            podman_auth.push(PathBuf::from(f));
        }
        if let Some(d) = var("XDG_RUNTIME_DIR") {
            podman_auth.push(PathBuf::from(d).join("containers/auth.json"));
        }
        if let Some(h) = &home {
            podman_auth.push(h.join(".config/containers/auth.json"));
        }
        CredentialLookup {
            docker_config,
            podman_auth,
            env_user: var(ENV_USER),
            env_password: var(ENV_PASSWORD).map(Secret::new),
            helper_path: None,
            env_scope: None,
        }
    }

    /// Offer the env credentials to `registry` only (see `env_scope`).
    pub fn scope_env_to(mut self, registry: &str) -> CredentialLookup {
        self.env_scope = Some(normalize_auth_key(registry));
        self
    }

    /// No lookup at all: anonymous access.
    pub fn none() -> CredentialLookup {
        CredentialLookup::default()
    }

    /// Credentials for a registry (`docker.io`, `ghcr.io`, `127.0.0.1:5000`), or None for anonymous access.
    /// Runs credential helpers on the blocking pool.
    pub async fn resolve(&self, registry: &str) -> Result<Option<Credentials>, CredentialError> {
        let this = self.clone();
        let registry = registry.to_string();
        tokio::task::spawn_blocking(move || this.resolve_blocking(&registry))
            .await
            .map_err(|e| CredentialError::Helper {
                helper: "?".into(),
                reason: e.to_string(),
            })?
    }

    pub fn resolve_blocking(&self, registry: &str) -> Result<Option<Credentials>, CredentialError> {
        let host = normalize_auth_key(registry);
        let env_applies = self.env_scope.as_ref().is_none_or(|s| *s == host);
        if let (Some(user), Some(pass), true) = (&self.env_user, &self.env_password, env_applies) {
            return Ok(Some(Credentials {
                username: user.clone(),
                secret: pass.clone(),
                kind: SecretKind::Password,
                source: CredentialSource::Env,
            }));
        }
        if let Some(path) = self.docker_config.as_ref().filter(|p| p.is_file()) {
            let file = read_json(path)?;
            return from_docker_config(&file, path, &host, self.helper_path.as_deref());
        }
        for path in self.podman_auth.iter().filter(|p| p.is_file()) {
            let file = read_json(path)?;
            if let Some(c) = from_auths(
                &file,
                &host,
                CredentialSource::PodmanAuth { path: path.clone() },
                path,
            )? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, CredentialError> {
    // Capped and regular files only, like the engine's config.json: a symlink to /dev/zero or a FIFO at
    // the auth file's place must not hang or fill memory.
    let bad = |reason: String| CredentialError::BadFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = crate::docker::endpoint::read_capped(path).map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
    // serde_json's error gives line and column, never the content.
    serde_json::from_str(&text).map_err(|e| CredentialError::BadFile {
        path: path.to_path_buf(),
        reason: format!("not valid JSON ({e})"),
    })
}

fn from_docker_config(
    file: &serde_json::Value,
    path: &Path,
    host: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credentials>, CredentialError> {
    if let Some(helper) = file
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| normalize_auth_key(k) == host))
        .and_then(|(_, v)| v.as_str())
    {
        let found = run_helper(helper, &helper_server(host), helper_path)?;
        return Ok(found.map(|(u, s, kind)| Credentials {
            username: u,
            secret: s,
            kind,
            source: CredentialSource::CredHelper {
                helper: helper.to_string(),
            },
        }));
    }
    if let Some(store) = file
        .get("credsStore")
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        && let Some((u, s, kind)) = run_helper(store, &helper_server(host), helper_path)?
    {
        return Ok(Some(Credentials {
            username: u,
            secret: s,
            kind,
            source: CredentialSource::CredsStore {
                helper: store.to_string(),
            },
        }));
    }
    // With a credsStore the auths entries are usually empty markers; an inline one still counts (as docker does).
    from_auths(
        file,
        host,
        CredentialSource::DockerConfig {
            path: path.to_path_buf(),
        },
        path,
    )
}

/// Docker Hub's helpers are keyed by the old index URL; every other registry by its host.
fn helper_server(host: &str) -> String {
    if host == DOCKER_HUB {
        DOCKER_HUB_AUTH_KEY.to_string()
    } else {
        host.to_string()
    }
}

fn from_auths(
    file: &serde_json::Value,
    host: &str,
    source: CredentialSource,
    path: &Path,
) -> Result<Option<Credentials>, CredentialError> {
    let Some(auths) = file.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    // An exact host key wins over podman's `host/namespace` keys.
    let mut entries: Vec<_> = auths
        .iter()
        .filter(|(k, _)| normalize_auth_key(k) == host)
        .collect();
    entries.sort_by_key(|(k, _)| k.contains('/') && !k.contains("://"));
    for (_, entry) in entries {
        let bad = |reason: &str| CredentialError::BadFile {
            path: path.to_path_buf(),
            reason: format!("auths entry for {host}: {reason}"),
        };
        let str_field = |k: &str| {
            entry
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
        };
        if let Some(token) = str_field("identitytoken") {
            return Ok(Some(Credentials {
                username: str_field("username").unwrap_or("<token>").to_string(),
                secret: Secret::new(token),
                kind: SecretKind::IdentityToken,
                source,
            }));
        }
        if let Some(auth) = str_field("auth") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad("`auth` is not base64; run `docker login` again"))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| bad("`auth` does not decode to text; run `docker login` again"))?;
            let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                bad("`auth` is not base64 of user:password; run `docker login` again")
            })?;
            return Ok(Some(Credentials {
                username: user.to_string(),
                secret: Secret::new(pass),
                kind: SecretKind::Password,
                source,
            }));
        }
        if let (Some(u), Some(p)) = (str_field("username"), str_field("password")) {
            return Ok(Some(Credentials {
                username: u.to_string(),
                secret: Secret::new(p),
                kind: SecretKind::Password,
                source,
            }));
        }
    }
    Ok(None)
}

/// `docker-credential-<helper> get` with the server on stdin. Ok(None) when the helper has nothing for it.
fn run_helper(
    helper: &str,
    server: &str,
    helper_path: Option<&std::ffi::OsStr>,
) -> Result<Option<(String, Secret, SecretKind)>, CredentialError> {
    let err = |reason: String| CredentialError::Helper {
        helper: helper.to_string(),
        reason,
    };
    if helper.is_empty()
        || !helper
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(err("the helper name is not a plain name".into()));
    }
    let mut cmd = Command::new(format!("docker-credential-{helper}"));
    if let Some(p) = helper_path {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot start it ({e})")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| err(format!("cannot write to it ({e})")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("it did not finish ({e})")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // On failure the helpers print a message, not a secret ("credentials not found in native keychain").
        if stdout
            .to_ascii_lowercase()
            .contains("credentials not found")
        {
            return Ok(None);
        }
        // A helper that printed its answer and then failed would have the secret quoted here: stdout is
        // shown only when it is a message, never when it is (or may be) an answer.
        let said = stdout.trim();
        let said = if said.starts_with('{') || said.to_ascii_lowercase().contains("secret") {
            "(its answer on stdout is not shown)"
        } else {
            said
        };
        let msg = format!("{} {}", said, String::from_utf8_lossy(&out.stderr).trim());
        return Err(err(format!(
            "exit {}: {}",
            out.status.code().unwrap_or(-1),
            msg.trim().chars().take(200).collect::<String>()
        )));
    }
    #[derive(serde::Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: Secret,
    }
    let answer: HelperAnswer = serde_json::from_str(&stdout)
        .map_err(|_| err("its answer is not the expected JSON {Username, Secret}".into()))?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    let kind = if answer.username == "<token>" {
        SecretKind::IdentityToken
    } else {
        SecretKind::Password
    };
    Ok(Some((answer.username, answer.secret, kind)))
}
