//! Which Docker engine to talk to, resolved the way the docker CLI does it, so dockui builds where
//! `docker build` would:
//!
//! 1. `[engine] docker_host` in dockui's config (like `docker -H`),
//! 2. `DOCKER_HOST` (`unix://`, `tcp://` with `DOCKER_TLS_VERIFY` / `DOCKER_TLS` / `DOCKER_CERT_PATH`,
//!    `ssh://user@host:port`),
//! 3. `DOCKER_CONTEXT`,
//! 4. `currentContext` in `$DOCKER_CONFIG/config.json` (default `~/.docker`),
//! 5. the local socket.
//!
//! A named context is read from the CLI's context store: `contexts/meta/<sha256(name)>/meta.json` for the
//! host and `SkipTLSVerify`, `contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem` for TLS material.
//! Resolution is pure (an environment view in, a value out) so it is tested over temp dirs.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Where the endpoint came from (shown in JSON results and `doctor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `[engine] docker_host` in dockui's config.
    Config,
    /// `DOCKER_HOST`.
    Env,
    /// A docker context named by `DOCKER_CONTEXT`.
    EnvContext,
    /// The docker CLI's current context (`currentContext` in config.json).
    CurrentContext,
    /// Nothing set: the local socket.
    Default,
    /// A socket dockui found by looking (Podman's).
    Probed,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Config => "engine.docker_host in dockui's config",
            Source::Env => "DOCKER_HOST",
            Source::EnvContext => "DOCKER_CONTEXT",
            Source::CurrentContext => "the docker CLI's current context (config.json)",
            Source::Default => "the default local socket",
            Source::Probed => "a socket dockui found",
        }
    }
}

/// TLS material for a tcp endpoint. Paths are the files the docker CLI would use; whether they can be read
/// is checked when connecting (so the message names the missing file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsFiles {
    /// Verify the engine's certificate (`DOCKER_TLS_VERIFY`, a context without `SkipTLSVerify`).
    pub verify: bool,
    /// None with `verify`: the system's roots.
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// The parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
    Ssh(SshTarget),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// As the user wrote it (`tcp://`, `unix://`, `ssh://`), normalised only where docker does (a bare
    /// path becomes `unix://`, a tcp host without port gets 2375 or 2376).
    pub host: String,
    pub tls: Option<TlsFiles>,
    /// The docker context it came from, if any.
    pub context: Option<String>,
    pub source: Source,
}

impl Endpoint {
    /// The host, and the context when there is one: what the status bar and messages show.
    pub fn display(&self) -> String {
        match &self.context {
            Some(c) => format!("{} (context {c})", self.host),
            None => self.host.clone(),
        }
    }

    /// A "what to do" that names the setting this endpoint came from. The engine's messages say
    /// "engine.docker_host / DOCKER_HOST", which is wrong advice for a docker context (changing DOCKER_HOST
    /// would switch away from it, not fix it): for a context, it points at the context.
    pub fn fix_where(&self, todo: String) -> String {
        let generic = "engine.docker_host / DOCKER_HOST";
        let instead = match (&self.context, self.source) {
            (Some(name), Source::EnvContext) => format!(
                "the docker context {name} (`docker context inspect {name}`; `docker context update {name} \
                 --docker \"host=...,ca=...,cert=...,key=...\"`), or unset DOCKER_CONTEXT to leave it"
            ),
            (Some(name), _) => format!(
                "the docker context {name} (`docker context inspect {name}`; `docker context update {name} \
                 --docker \"host=...,ca=...,cert=...,key=...\"`), or `docker context use default` to leave it"
            ),
            (None, Source::Config) => "[engine] docker_host in dockui's config".into(),
            (None, Source::Env) => "DOCKER_HOST".into(),
            _ => return todo,
        };
        if todo.contains(generic) {
            todo.replace(generic, &instead)
        } else if self.context.is_some() && !todo.contains(&instead) {
            format!("{todo}; the endpoint comes from {instead}")
        } else {
            todo
        }
    }

    /// The parsed host (already validated by `resolve`).
    pub fn address(&self) -> Result<Address, String> {
        parse_address(&self.host).map(|(a, _)| a)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error(
        "invalid engine address \"{host}\" (from {from}): {why}; what to do: use unix:///var/run/docker.sock \
         (or another socket), tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
    )]
    BadHost {
        host: String,
        from: &'static str,
        why: String,
    },
    #[error(
        "docker context {name:?} (from {from}) does not exist: no {}; what to do: `docker context ls` \
         lists the contexts; create it, or unset DOCKER_CONTEXT / `docker context use default`",
        meta.display()
    )]
    NoContext {
        name: String,
        from: &'static str,
        meta: PathBuf,
    },
    #[error("cannot read {}: {why}; what to do: fix or remove that file (the docker CLI reads it too)", file.display())]
    BadFile { file: PathBuf, why: String },
    #[error(
        "DOCKER_CERT_PATH={} {why}; what to do: point DOCKER_CERT_PATH at the directory that holds ca.pem, \
         cert.pem and key.pem (or unset it to use ~/.docker)",
        path.display()
    )]
    BadCertPath {
        /// The engine address the TLS files are for (from `from`): the endpoint, whatever its files.
        host: String,
        from: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error(
        "the docker CLI's config directory {} {why}; what to do: point DOCKER_CONFIG at a directory (the \
         docker CLI's default is ~/.docker) or unset it",
        path.display()
    )]
    BadConfigDir { path: PathBuf, why: String },
}

impl EndpointError {
    /// What to show as the endpoint when resolution failed (empty when there is none: a context that does
    /// not exist names no host; `context()` names it).
    pub fn subject(&self) -> String {
        match self {
            EndpointError::BadHost { host, .. } => host.clone(),
            EndpointError::NoContext { .. } => String::new(),
            EndpointError::BadFile { file, .. } => file.display().to_string(),
            EndpointError::BadCertPath { host, .. } => host.clone(),
            EndpointError::BadConfigDir { path, .. } => path.display().to_string(),
        }
    }

    /// The docker context the failed resolution was about, if any.
    pub fn context(&self) -> Option<&str> {
        match self {
            EndpointError::NoContext { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Where the failed setting came from (`DOCKER_HOST`, `DOCKER_CONTEXT`, ...), or the file.
    pub fn from(&self) -> String {
        match self {
            EndpointError::BadHost { from, .. }
            | EndpointError::NoContext { from, .. }
            | EndpointError::BadCertPath { from, .. } => from.to_string(),
            EndpointError::BadFile { file, .. } => file.display().to_string(),
            EndpointError::BadConfigDir { .. } => "DOCKER_CONFIG".into(),
        }
    }
}

/// The most dockui reads of the CLI's config.json, a context's meta.json or a PEM file: far more than any
/// real one holds, and a symlink to /dev/zero or a huge file cannot fill memory.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Read a small file the docker CLI keeps: a regular file (after symlinks) of at most `MAX_FILE_BYTES`.
/// A FIFO (which would block), a device (/dev/zero, which never ends) or a directory is refused without
/// reading.
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Open first (non-blocking, so a FIFO cannot stall the open) and ask the open file what it is: a path
    // checked before the open could be swapped for a FIFO or a device in between. Symlinks are followed on
    // purpose: config.json and TLS material are often links into a dotfiles or secrets directory.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, a FIFO or a socket)"
        };
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {what}"),
        ));
    }
    let too_big = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is larger than {MAX_FILE_BYTES} bytes"),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

/// `read_capped` as text; NotFound is passed on as it is (a missing config.json is no error).
fn read_text(path: &Path) -> Result<String, std::io::Error> {
    let bytes = read_capped(path)?;
    String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A JSON document that must be an object, with the file named in every error.
fn json_object(file: &Path, text: &str) -> Result<serde_json::Value, EndpointError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| EndpointError::BadFile {
        file: file.into(),
        why: format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    if !v.is_object() {
        return Err(EndpointError::BadFile {
            file: file.into(),
            why: format!("expected a JSON object, found {}", json_type(&v)),
        });
    }
    Ok(v)
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A tcp/unix address without the user part of its authority (`tcp://user:pass@host:1234` ->
/// `tcp://host:1234`): neither the engine API nor buildctl's tcp has a login, and a user part would be
/// taken for part of the host name (and shown). ssh addresses are left alone (the user is the login).
pub fn without_userinfo(addr: &str) -> String {
    let Some((scheme, rest)) = addr.split_once("://") else {
        return addr.to_string();
    };
    if scheme.eq_ignore_ascii_case("ssh") {
        return addr.to_string();
    }
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((_, hostport)) => format!("{scheme}://{hostport}{path}"),
        None => addr.to_string(),
    }
}

/// An address as it may be printed: a password (and, for schemes other than ssh, the whole user part,
/// which docker ignores) replaced by `***`, control characters escaped (an address is shown in a terminal),
/// and at most 200 characters. Every message and result shows addresses through this.
pub fn redact(host: &str) -> String {
    const SHOW: usize = 200;
    let redacted = match host.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            match authority.rsplit_once('@') {
                Some((user, hostport)) => {
                    let user = if scheme.eq_ignore_ascii_case("ssh") {
                        match user.split_once(':') {
                            Some((name, _)) => format!("{name}:***"),
                            None => user.to_string(),
                        }
                    } else {
                        "***".to_string()
                    };
                    format!("{scheme}://{user}@{hostport}{path}")
                }
                None => host.to_string(),
            }
        }
        None => host.to_string(),
    };
    let (mut out, cut) = crate::terminal_text::escape_controls(&redacted, SHOW);
    if cut {
        out.push_str(&format!("... ({} bytes)", host.len()));
    }
    out
}

/// The variables resolution reads. `from_process` for real use; tests build one from a map.
#[derive(Debug, Clone, Default)]
pub struct EnvView {
    vars: BTreeMap<String, String>,
}

const VARS: [&str; 7] = [
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_CERT_PATH",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "HOME",
];

impl EnvView {
    pub fn from_process() -> EnvView {
        EnvView {
            vars: VARS
                .iter()
                .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
                .collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> EnvView {
        EnvView {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Like the docker CLI: an empty variable counts as unset.
    fn get(&self, k: &str) -> Option<&str> {
        self.vars
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `$DOCKER_CONFIG`, else `~/.docker`.
    pub fn config_dir(&self) -> PathBuf {
        match self.get("DOCKER_CONFIG") {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(self.get("HOME").unwrap_or("/")).join(".docker"),
        }
    }
}

/// Resolve with dockui's `[engine] docker_host` (empty = not set) and the environment.
pub fn resolve(config_host: &str, env: &EnvView) -> Result<Endpoint, EndpointError> {
    let config_host = config_host.trim();
    if !config_host.is_empty() {
        return from_host(config_host, Source::Config, env);
    }
    if let Some(h) = env.get("DOCKER_HOST") {
        return from_host(h, Source::Env, env);
    }
    if let Some(name) = env.get("DOCKER_CONTEXT") {
        return from_context(name, Source::EnvContext, env);
    }
    let config_dir = env.config_dir();
    if let Ok(m) = std::fs::metadata(&config_dir)
        && !m.is_dir()
    {
        return Err(EndpointError::BadConfigDir {
            path: config_dir,
            why: "is not a directory".into(),
        });
    }
    let config_file = config_dir.join("config.json");
    if let Some(name) = current_context(&config_file)? {
        return from_context(&name, Source::CurrentContext, env);
    }
    Ok(Endpoint {
        host: DEFAULT_HOST.into(),
        tls: None,
        context: None,
        source: Source::Default,
    })
}

/// `currentContext` from the CLI's config.json; a missing file or key is no context.
fn current_context(file: &Path) -> Result<Option<String>, EndpointError> {
    let text = match read_text(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EndpointError::BadFile {
                file: file.into(),
                why: e.to_string(),
            });
        }
    };
    let v = json_object(file, &text)?;
    match v.get("currentContext") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(c)) => Ok(Some(c.clone()).filter(|c| !c.is_empty())),
        Some(other) => Err(EndpointError::BadFile {
            file: file.into(),
            why: format!(
                "\"currentContext\" is {}, not a context name",
                json_type(other)
            ),
        }),
    }
}

fn from_host(host: &str, source: Source, env: &EnvView) -> Result<Endpoint, EndpointError> {
    let bad = |why: String| EndpointError::BadHost {
        host: redact(host),
        from: source.describe(),
        why,
    };
    // DOCKER_TLS_VERIFY set to anything non-empty (even "0") means verify, as in the docker CLI;
    // DOCKER_TLS alone means TLS without verification.
    let verify = env.get("DOCKER_TLS_VERIFY").is_some();
    let tls_on = verify || env.get("DOCKER_TLS").is_some();
    let (address, normalised) = parse_address_tls(host, tls_on).map_err(bad)?;
    let tls = match address {
        Address::Tcp(_) if tls_on => {
            let dir = match env.get("DOCKER_CERT_PATH") {
                Some(d) => {
                    let dir = PathBuf::from(d);
                    match std::fs::metadata(&dir) {
                        Ok(m) if m.is_dir() => {}
                        Ok(_) => {
                            return Err(EndpointError::BadCertPath {
                                host: redact(&normalised),
                                from: source.describe(),
                                path: dir,
                                why: "is not a directory".into(),
                            });
                        }
                        Err(e) => {
                            return Err(EndpointError::BadCertPath {
                                host: redact(&normalised),
                                from: source.describe(),
                                path: dir,
                                why: format!("cannot be read: {e}"),
                            });
                        }
                    }
                    dir
                }
                None => env.config_dir(),
            };
            // The CLI drops the client cert/key when the default file is not there; the CA is required
            // for verification, so a missing ca.pem is reported when connecting.
            let existing = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
            Some(TlsFiles {
                verify,
                ca: verify.then(|| dir.join("ca.pem")),
                cert: existing("cert.pem"),
                key: existing("key.pem"),
            })
        }
        _ => None,
    };
    Ok(Endpoint {
        host: normalised,
        tls,
        context: None,
        source,
    })
}

/// An endpoint dockui found itself (the local socket, Podman's): no TLS, no context.
pub fn found(host: &str, source: Source) -> Result<Endpoint, EndpointError> {
    from_host(host, source, &EnvView::default())
}

/// The store directory of a context: sha256 of its name, hex.
pub fn context_id(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_context(name: &str, source: Source, env: &EnvView) -> Result<Endpoint, EndpointError> {
    if name == "default" {
        // The CLI's built-in context: DOCKER_HOST is not set here (it would have won), so the local socket.
        return Ok(Endpoint {
            host: DEFAULT_HOST.into(),
            tls: None,
            context: Some("default".into()),
            source,
        });
    }
    let store = env.config_dir().join("contexts");
    let id = context_id(name);
    let meta = store.join("meta").join(&id).join("meta.json");
    let text = match read_text(&meta) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EndpointError::NoContext {
                name: name.into(),
                from: source.describe(),
                meta,
            });
        }
        Err(e) => {
            return Err(EndpointError::BadFile {
                file: meta,
                why: e.to_string(),
            });
        }
    };
    let v = json_object(&meta, &text)?;
    let docker = &v["Endpoints"]["docker"];
    let host = match &docker["Host"] {
        serde_json::Value::String(h) if !h.trim().is_empty() => h.as_str(),
        serde_json::Value::Null | serde_json::Value::String(_) => {
            return Err(EndpointError::BadFile {
                file: meta,
                why: "the context has no docker endpoint (Endpoints.docker.Host)".into(),
            });
        }
        other => {
            return Err(EndpointError::BadFile {
                file: meta,
                why: format!(
                    "Endpoints.docker.Host is {}, not an address",
                    json_type(other)
                ),
            });
        }
    };
    let skip_verify = match &docker["SkipTLSVerify"] {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        other => {
            return Err(EndpointError::BadFile {
                file: meta,
                why: format!(
                    "Endpoints.docker.SkipTLSVerify is {}, not true or false",
                    json_type(other)
                ),
            });
        }
    };
    let tls_dir = store.join("tls").join(&id).join("docker");
    let existing = |f: &str| Some(tls_dir.join(f)).filter(|p| p.exists());
    let (ca, cert, key) = (
        existing("ca.pem"),
        existing("cert.pem"),
        existing("key.pem"),
    );
    let has_tls_data = ca.is_some() || cert.is_some() || key.is_some();
    let tls_on = has_tls_data || skip_verify;
    let (address, normalised) =
        parse_address_tls(host, tls_on).map_err(|why| EndpointError::BadHost {
            host: redact(host),
            from: source.describe(),
            why: format!("{why} (in {})", meta.display()),
        })?;
    let tls = match address {
        Address::Tcp(_) if tls_on => Some(TlsFiles {
            verify: !skip_verify,
            ca,
            cert,
            key,
        }),
        _ => None,
    };
    Ok(Endpoint {
        host: normalised,
        tls,
        context: Some(name.into()),
        source,
    })
}

/// Parse a host as `docker -H` takes it.
pub fn parse_address(host: &str) -> Result<(Address, String), String> {
    parse_address_tls(host, false)
}

/// Longer than this is not an address (a pasted file, a runaway variable): refused before anything
/// looks it up.
const MAX_HOST_LEN: usize = 2048;

fn parse_address_tls(host: &str, tls: bool) -> Result<(Address, String), String> {
    let host = host.trim();
    if host.len() > MAX_HOST_LEN {
        return Err(format!(
            "it is {} bytes long, more than an address can be ({MAX_HOST_LEN})",
            host.len()
        ));
    }
    if host.chars().any(char::is_control) {
        return Err("it contains control characters (a newline, an escape sequence)".into());
    }
    if host.starts_with('/') {
        return Ok((Address::Unix(host.into()), format!("unix://{host}")));
    }
    let Some((scheme, rest)) = host.split_once("://") else {
        return Err("no scheme (unix://, tcp:// or ssh://)".into());
    };
    match scheme.to_ascii_lowercase().as_str() {
        "unix" => {
            // The docker CLI's default for an empty path (`DOCKER_HOST=unix://`): the local socket.
            let path = if rest.is_empty() {
                DEFAULT_HOST.trim_start_matches("unix://")
            } else {
                rest
            };
            Ok((Address::Unix(path.into()), format!("unix://{path}")))
        }
        "tcp" | "http" | "https" => {
            let hostport = rest.trim_end_matches('/');
            if hostport.contains('/') {
                return Err("expected tcp://HOST:PORT".into());
            }
            // Like the docker CLI: a user or password in a tcp address is not used (the engine API has no
            // login); dropped here so it is never shown or sent.
            let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
            // The docker CLI's default for an empty host (`DOCKER_HOST=tcp://`): localhost.
            let hostport = if hostport.is_empty() || hostport.starts_with(':') {
                format!("localhost{hostport}")
            } else {
                hostport.to_string()
            };
            check_brackets(&hostport)?;
            let hostport = if has_port(&hostport) {
                let port = hostport.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
                port.parse::<u16>()
                    .map_err(|_| format!("invalid port {port:?}"))?;
                hostport
            } else {
                // The docker CLI's defaults: 2376 with TLS, 2375 without.
                format!("{hostport}:{}", if tls { 2376 } else { 2375 })
            };
            let normalised = format!("tcp://{hostport}");
            Ok((Address::Tcp(hostport), normalised))
        }
        "ssh" => {
            let rest = rest.trim_end_matches('/');
            if rest.contains('/') {
                return Err("an ssh address takes no path (ssh://[USER@]HOST[:PORT])".into());
            }
            let (user, hostport) = match rest.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()).filter(|u| !u.is_empty()), h),
                None => (None, rest),
            };
            if user.as_deref().is_some_and(|u| u.contains(':')) {
                // As the docker CLI: ssh is run without a terminal, and a password would end up in the
                // process list and in every message.
                return Err(
                    "a password in an ssh address is not supported; log in with a key instead (ssh-agent, or IdentityFile in ~/.ssh/config)"
                        .into(),
                );
            }
            if user.as_deref().is_some_and(|u| u.starts_with('-')) {
                return Err("a user name cannot start with '-'".into());
            }
            check_brackets(hostport)?;
            let (h, port) = if has_port(hostport) {
                let (h, p) = hostport.rsplit_once(':').unwrap_or((hostport, ""));
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("invalid port {p:?}"))?;
                (h, Some(port))
            } else {
                (hostport, None)
            };
            let h = h.trim_start_matches('[').trim_end_matches(']');
            if h.is_empty() {
                return Err("no host name".into());
            }
            // ssh would take it for an option (`-oProxyCommand=...`), whatever `--` says to other tools.
            if h.starts_with('-') {
                return Err("a host name cannot start with '-'".into());
            }
            let target = SshTarget {
                user,
                host: h.into(),
                port,
            };
            Ok((Address::Ssh(target), host.into()))
        }
        other => Err(format!("unsupported scheme {other:?}")),
    }
}

/// An IPv6 address in brackets must close them (`tcp://[::1` is a typo, not a host).
fn check_brackets(hostport: &str) -> Result<(), String> {
    if hostport.starts_with('[') != hostport.contains(']') {
        return Err("missing ']' in the host".into());
    }
    Ok(())
}

/// `host:port`, `[::1]:port`; a bare IPv6 address has colons but no port.
fn has_port(hostport: &str) -> bool {
    if let Some(rest) = hostport.strip_prefix('[') {
        return rest.contains("]:");
    }
    hostport.matches(':').count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path, extra: &[(&str, &str)]) -> EnvView {
        let home = dir.to_string_lossy().to_string();
        let mut pairs: Vec<(&str, &str)> = vec![("HOME", home.as_str())];
        pairs.extend_from_slice(extra);
        EnvView::from_pairs(pairs)
    }

    /// A context store entry as `docker context create` writes it.
    fn write_context(config_dir: &Path, name: &str, host: &str, skip: bool, tls: &[&str]) {
        let id = context_id(name);
        let meta = config_dir.join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            serde_json::json!({
                "Name": name,
                "Metadata": {},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip}}
            })
            .to_string(),
        )
        .unwrap();
        let tls_dir = config_dir.join("contexts/tls").join(&id).join("docker");
        for f in tls {
            std::fs::create_dir_all(&tls_dir).unwrap();
            std::fs::write(tls_dir.join(f), "pem").unwrap();
        }
    }

    #[test]
    fn nothing_set_is_the_local_socket() {
        let d = tempfile::tempdir().unwrap();
        let e = resolve("", &env(d.path(), &[])).unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
        assert_eq!(e.source, Source::Default);
        assert_eq!(e.context, None);
        assert_eq!(e.tls, None);
    }

    #[test]
    fn config_beats_docker_host_which_beats_contexts() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join(".docker");
        write_context(&cfg, "remote", "tcp://10.0.0.9:2376", false, &[]);
        std::fs::write(cfg.join("config.json"), r#"{"currentContext":"remote"}"#).unwrap();
        let all = [
            ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
            ("DOCKER_CONTEXT", "remote"),
        ];
        let e = resolve("unix:///tmp/x.sock", &env(d.path(), &all)).unwrap();
        assert_eq!(
            (e.host.as_str(), e.source),
            ("unix:///tmp/x.sock", Source::Config)
        );
        let e = resolve("", &env(d.path(), &all)).unwrap();
        assert_eq!(
            (e.host.as_str(), e.source),
            ("tcp://127.0.0.1:2375", Source::Env)
        );
        assert_eq!(e.context, None);
        let e = resolve("", &env(d.path(), &all[1..])).unwrap();
        assert_eq!(e.source, Source::EnvContext);
        assert_eq!(e.context.as_deref(), Some("remote"));
        assert_eq!(e.host, "tcp://10.0.0.9:2376");
        let e = resolve("", &env(d.path(), &[])).unwrap();
        assert_eq!(e.source, Source::CurrentContext);
        assert_eq!(e.display(), "tcp://10.0.0.9:2376 (context remote)");
        // An empty DOCKER_HOST counts as unset, as in the docker CLI.
        let e = resolve("", &env(d.path(), &[("DOCKER_HOST", "")])).unwrap();
        assert_eq!(e.source, Source::CurrentContext);
    }

    #[test]
    fn docker_config_moves_the_config_and_the_store() {
        let d = tempfile::tempdir().unwrap();
        let other = d.path().join("elsewhere");
        write_context(&other, "ci", "unix:///run/ci.sock", false, &[]);
        std::fs::write(other.join("config.json"), r#"{"currentContext":"ci"}"#).unwrap();
        let o = other.to_string_lossy().to_string();
        let e = resolve("", &env(d.path(), &[("DOCKER_CONFIG", o.as_str())])).unwrap();
        assert_eq!(e.host, "unix:///run/ci.sock");
        assert_eq!(e.context.as_deref(), Some("ci"));
        // Without DOCKER_CONFIG, ~/.docker has no config.json: the default.
        assert_eq!(
            resolve("", &env(d.path(), &[])).unwrap().source,
            Source::Default
        );
    }

    #[test]
    fn tls_from_the_environment_follows_the_cli() {
        let d = tempfile::tempdir().unwrap();
        let certs = d.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("cert.pem"), "x").unwrap();
        std::fs::write(certs.join("key.pem"), "x").unwrap();
        let c = certs.to_string_lossy().to_string();
        let host = ("DOCKER_HOST", "tcp://127.0.0.1");
        // DOCKER_TLS_VERIFY=0 still means verify (the CLI tests for non-empty); 2376 is the TLS port.
        let e = resolve(
            "",
            &env(
                d.path(),
                &[host, ("DOCKER_TLS_VERIFY", "0"), ("DOCKER_CERT_PATH", &c)],
            ),
        )
        .unwrap();
        assert_eq!(e.host, "tcp://127.0.0.1:2376");
        let tls = e.tls.unwrap();
        assert!(tls.verify);
        assert_eq!(
            tls.ca,
            Some(certs.join("ca.pem")),
            "ca.pem is required even when missing"
        );
        assert_eq!(tls.cert, Some(certs.join("cert.pem")));
        // Empty is unset: plain HTTP on 2375.
        let e = resolve("", &env(d.path(), &[host, ("DOCKER_TLS_VERIFY", "")])).unwrap();
        assert_eq!((e.host.as_str(), e.tls), ("tcp://127.0.0.1:2375", None));
        // DOCKER_TLS alone: TLS without verification; DOCKER_CERT_PATH defaults to ~/.docker.
        let e = resolve("", &env(d.path(), &[host, ("DOCKER_TLS", "1")])).unwrap();
        let tls = e.tls.unwrap();
        assert!(!tls.verify);
        assert_eq!((tls.ca, tls.cert), (None, None));
        // TLS variables do not apply to a unix socket.
        let e = resolve(
            "",
            &env(
                d.path(),
                &[
                    ("DOCKER_HOST", "unix:///x.sock"),
                    ("DOCKER_TLS_VERIFY", "1"),
                ],
            ),
        )
        .unwrap();
        assert_eq!(e.tls, None);
    }

    #[test]
    fn context_tls_material_and_skip_verify() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join(".docker");
        write_context(
            &cfg,
            "tls",
            "tcp://h:2376",
            false,
            &["ca.pem", "cert.pem", "key.pem"],
        );
        write_context(&cfg, "insecure", "tcp://h:2376", true, &[]);
        write_context(&cfg, "plain", "tcp://h:2375", false, &[]);
        let tls_dir = cfg
            .join("contexts/tls")
            .join(context_id("tls"))
            .join("docker");
        let e = resolve("", &env(d.path(), &[("DOCKER_CONTEXT", "tls")])).unwrap();
        assert_eq!(
            e.tls,
            Some(TlsFiles {
                verify: true,
                ca: Some(tls_dir.join("ca.pem")),
                cert: Some(tls_dir.join("cert.pem")),
                key: Some(tls_dir.join("key.pem")),
            })
        );
        let e = resolve("", &env(d.path(), &[("DOCKER_CONTEXT", "insecure")])).unwrap();
        assert!(!e.tls.unwrap().verify);
        let e = resolve("", &env(d.path(), &[("DOCKER_CONTEXT", "plain")])).unwrap();
        assert_eq!(e.tls, None);
        // Context TLS is the store's, not the environment's.
        let e = resolve(
            "",
            &env(
                d.path(),
                &[("DOCKER_CONTEXT", "plain"), ("DOCKER_TLS_VERIFY", "1")],
            ),
        )
        .unwrap();
        assert_eq!(e.tls, None);
    }

    #[test]
    fn the_store_directory_is_the_sha256_of_the_name() {
        // `printf remote | sha256sum`: the directory `docker context create remote` makes.
        assert_eq!(
            context_id("remote"),
            "b71199ebd070b36beab7317920c2c2f1d777df8d05e5527d8458fda57cb17a7a"
        );
        assert_eq!(context_id("remote").len(), 64);
        assert_ne!(context_id("remote"), context_id("remote2"));
    }

    #[test]
    fn a_missing_context_and_a_broken_config_are_named() {
        let d = tempfile::tempdir().unwrap();
        let err = resolve("", &env(d.path(), &[("DOCKER_CONTEXT", "nope")])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("docker context \"nope\" (from DOCKER_CONTEXT) does not exist"),
            "{msg}"
        );
        assert!(msg.contains(&context_id("nope")), "{msg}");
        let cfg = d.path().join(".docker");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("config.json"), "{\n  \"currentContext\": \n").unwrap();
        let msg = resolve("", &env(d.path(), &[])).unwrap_err().to_string();
        assert!(msg.contains("config.json: invalid JSON at line 3"), "{msg}");
        // `default` is the CLI's built-in context, never in the store.
        let e = resolve("", &env(d.path(), &[("DOCKER_CONTEXT", "default")])).unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
    }

    #[test]
    fn addresses_parse_like_docker_dash_h() {
        let (a, n) = parse_address("ssh://root@127.0.0.1:2222").unwrap();
        assert_eq!(
            a,
            Address::Ssh(SshTarget {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: Some(2222),
            })
        );
        assert_eq!(n, "ssh://root@127.0.0.1:2222");
        let (a, _) = parse_address("ssh://builder").unwrap();
        assert_eq!(
            a,
            Address::Ssh(SshTarget {
                user: None,
                host: "builder".into(),
                port: None,
            })
        );
        assert_eq!(
            parse_address("/run/d.sock").unwrap().1,
            "unix:///run/d.sock"
        );
        assert_eq!(
            parse_address("tcp://[::1]:2375").unwrap().0,
            Address::Tcp("[::1]:2375".into())
        );
        assert!(
            parse_address("ftp://x")
                .unwrap_err()
                .contains("unsupported scheme")
        );
        assert!(
            parse_address("ssh://h:99999")
                .unwrap_err()
                .contains("invalid port")
        );
        assert!(parse_address("ssh://h/path").is_err());
        assert!(parse_address("docker.sock").is_err());
        let err = resolve("tcp://h:x", &EnvView::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("from engine.docker_host in dockui's config"),
            "{err}"
        );
    }
    #[test]
    fn addresses_never_carry_a_password_or_control_characters() {
        // tcp: the user part is dropped, as the docker CLI does (the engine API has no login).
        let e = resolve(
            "",
            &EnvView::from_pairs([("DOCKER_HOST", "tcp://user:s3cret@127.0.0.1:1")]),
        )
        .unwrap();
        assert_eq!(e.host, "tcp://127.0.0.1:1");
        assert_eq!(e.address().unwrap(), Address::Tcp("127.0.0.1:1".into()));
        // ssh: a password is refused (docker: "plain-text password is not supported"), never shown.
        let err = resolve(
            "",
            &EnvView::from_pairs([("DOCKER_HOST", "ssh://me:s3cret@127.0.0.1:2222")]),
        )
        .unwrap_err();
        let text = format!("{err} {}", err.subject());
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("ssh://me:***@127.0.0.1:2222"), "{text}");
        assert!(text.contains("password") && text.contains("key"), "{text}");
        assert_eq!(err.from(), "DOCKER_HOST");
        // Whatever the scheme, an error shows the address redacted.
        let err = resolve("tcp://tok3n@h/x", &EnvView::default()).unwrap_err();
        assert!(!err.to_string().contains("tok3n"), "{err}");
        // Control characters (an escape sequence, a newline) are refused and shown escaped.
        for bad in ["tcp://\u{1b}[31mred\u{1b}[0m:1", "unix:///tmp/a\nb.sock"] {
            let err = resolve("", &EnvView::from_pairs([("DOCKER_HOST", bad)])).unwrap_err();
            let text = format!("{err} {}", err.subject());
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
            assert!(text.contains("control characters"), "{text}");
        }
        // A runaway value is refused and shown short.
        let long = format!("tcp://{}:1", "a".repeat(10_000));
        let err = resolve("", &EnvView::from_pairs([("DOCKER_HOST", long.as_str())])).unwrap_err();
        assert!(err.to_string().len() < 1000, "{err}");
        assert!(err.to_string().contains("10008 bytes"), "{err}");
        // ssh options cannot hide in the host or the user.
        assert!(parse_address("ssh://-oProxyCommand=x").is_err());
        assert!(parse_address("ssh://-oProxyCommand=x@h").is_err());
        // The docker CLI's own answers: `tcp://[::1` is an error, empty paths and hosts have defaults.
        assert!(
            parse_address("tcp://[::1")
                .unwrap_err()
                .contains("missing ']'")
        );
        assert!(parse_address("ssh://[::1").is_err());
        assert_eq!(parse_address("unix://").unwrap().1, DEFAULT_HOST);
        assert_eq!(parse_address("tcp://").unwrap().1, "tcp://localhost:2375");
        assert_eq!(
            parse_address("tcp://:2376").unwrap().1,
            "tcp://localhost:2376"
        );
    }

    #[test]
    fn without_userinfo_keeps_ssh_logins() {
        assert_eq!(without_userinfo("tcp://u:p@bk:1234"), "tcp://bk:1234");
        assert_eq!(without_userinfo("tcp://bk:1234"), "tcp://bk:1234");
        assert_eq!(without_userinfo("ssh://me@h"), "ssh://me@h");
        assert_eq!(
            without_userinfo("unix:///run/buildkit/buildkitd.sock"),
            "unix:///run/buildkit/buildkitd.sock"
        );
    }

    #[test]
    fn redact_hides_passwords_and_escapes() {
        assert_eq!(redact("ssh://me:pw@h:22"), "ssh://me:***@h:22");
        assert_eq!(redact("ssh://me@h"), "ssh://me@h");
        assert_eq!(redact("tcp://u:p@h:1/x"), "tcp://***@h:1/x");
        assert_eq!(redact("unix:///x.sock"), "unix:///x.sock");
        assert_eq!(redact("a\u{1b}b"), "a\\u{1b}b");
    }

    #[cfg(unix)]
    #[test]
    fn hostile_config_and_context_files_are_refused_without_hanging() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join(".docker");
        std::fs::create_dir_all(&cfg).unwrap();
        let config = cfg.join("config.json");
        let msg =
            |extra: &[(&str, &str)]| resolve("", &env(d.path(), extra)).unwrap_err().to_string();
        // A symlink to /dev/zero never ends; a FIFO blocks on open: both refused before reading.
        std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
        let m = msg(&[]);
        assert!(
            m.contains("config.json") && m.contains("not a regular file"),
            "{m}"
        );
        std::fs::remove_file(&config).unwrap();
        let fifo = std::ffi::CString::new(config.to_string_lossy().as_bytes()).unwrap();
        // SAFETY: creating a FIFO at a path in our temp dir.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let m = msg(&[]);
        assert!(m.contains("not a regular file"), "{m}");
        std::fs::remove_file(&config).unwrap();
        // Too big: refused by its size.
        let big = std::fs::File::create(&config).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let m = msg(&[]);
        assert!(m.contains("larger than"), "{m}");
        // Wrong types are named, not silently taken for "no context" (which would build elsewhere).
        std::fs::write(&config, r#"{"currentContext": 5}"#).unwrap();
        let m = msg(&[]);
        assert!(m.contains("\"currentContext\" is a number"), "{m}");
        std::fs::write(&config, "[1, 2]").unwrap();
        assert!(msg(&[]).contains("expected a JSON object, found an array"));
        std::fs::write(&config, "{}").unwrap();
        // meta.json with wrong types.
        write_context(&cfg, "odd", "tcp://h:2376", false, &[]);
        let meta = cfg
            .join("contexts/meta")
            .join(context_id("odd"))
            .join("meta.json");
        std::fs::write(&meta, r#"{"Name":"odd","Endpoints":{"docker":{"Host":5}}}"#).unwrap();
        let m = msg(&[("DOCKER_CONTEXT", "odd")]);
        assert!(
            m.contains("meta.json") && m.contains("Host is a number"),
            "{m}"
        );
        std::fs::write(
            &meta,
            r#"{"Name":"odd","Endpoints":{"docker":{"Host":"tcp://h:2376","SkipTLSVerify":"yes"}}}"#,
        )
        .unwrap();
        let m = msg(&[("DOCKER_CONTEXT", "odd")]);
        assert!(m.contains("SkipTLSVerify is a string"), "{m}");
        std::fs::remove_file(&meta).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &meta).unwrap();
        let m = msg(&[("DOCKER_CONTEXT", "odd")]);
        assert!(m.contains("not a regular file"), "{m}");
    }

    #[test]
    fn what_to_do_names_the_setting_the_endpoint_came_from_once() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join(".docker");
        write_context(&cfg, "remote", "tcp://h:2376", false, &[]);
        let ep = resolve("", &env(d.path(), &[("DOCKER_CONTEXT", "remote")])).unwrap();
        let todo =
            "start the Docker engine there, or fix engine.docker_host / DOCKER_HOST".to_string();
        let fixed = ep.fix_where(todo.clone());
        assert!(fixed.contains("docker context inspect remote"), "{fixed}");
        assert!(fixed.contains("unset DOCKER_CONTEXT"), "{fixed}");
        assert!(!fixed.contains("DOCKER_HOST"), "{fixed}");
        assert_eq!(
            ep.fix_where(fixed.clone()),
            fixed,
            "applied twice, said once"
        );
        let other = ep.fix_where("check the TLS files".into());
        assert!(
            other.ends_with("or unset DOCKER_CONTEXT to leave it"),
            "{other}"
        );
        let env_ep = resolve("", &EnvView::from_pairs([("DOCKER_HOST", "tcp://h:1")])).unwrap();
        assert_eq!(
            env_ep.fix_where(todo),
            "start the Docker engine there, or fix DOCKER_HOST"
        );
        assert_eq!(env_ep.fix_where("x".into()), "x");
    }

    #[test]
    fn docker_config_must_be_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("cfg");
        std::fs::write(&file, "").unwrap();
        let f = file.to_string_lossy().to_string();
        let err = resolve("", &env(d.path(), &[("DOCKER_CONFIG", &f)])).unwrap_err();
        assert_eq!(err.from(), "DOCKER_CONFIG");
        let m = err.to_string();
        assert!(m.contains(&format!("{f} is not a directory")), "{m}");
        assert!(m.contains("point DOCKER_CONFIG at a directory"), "{m}");
        // A directory that does not exist is no config at all (the local socket), as in the CLI.
        let missing = d.path().join("none").to_string_lossy().to_string();
        assert_eq!(
            resolve("", &env(d.path(), &[("DOCKER_CONFIG", &missing)]))
                .unwrap()
                .source,
            Source::Default
        );
    }

    #[test]
    fn docker_cert_path_must_be_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("ca.pem");
        std::fs::write(&file, "x").unwrap();
        let f = file.to_string_lossy().to_string();
        let err = resolve(
            "",
            &env(
                d.path(),
                &[
                    ("DOCKER_HOST", "tcp://127.0.0.1:2376"),
                    ("DOCKER_TLS_VERIFY", "1"),
                    ("DOCKER_CERT_PATH", &f),
                ],
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&format!("DOCKER_CERT_PATH={f} is not a directory")),
            "{err}"
        );
        assert!(err.contains("what to do"), "{err}");
        // The endpoint is still DOCKER_HOST's address, set by DOCKER_HOST: the cert path is only the why.
        let e = resolve(
            "",
            &env(
                d.path(),
                &[
                    ("DOCKER_HOST", "tcp://127.0.0.1:42376"),
                    ("DOCKER_TLS_VERIFY", "1"),
                    ("DOCKER_CERT_PATH", "/nonexistent"),
                ],
            ),
        )
        .unwrap_err();
        assert!(matches!(e, EndpointError::BadCertPath { .. }), "{e:?}");
        assert_eq!(e.subject(), "tcp://127.0.0.1:42376");
        assert_eq!(e.from(), Source::Env.describe());
        assert!(
            e.to_string()
                .contains("DOCKER_CERT_PATH=/nonexistent cannot be read")
        );
        // From dockui's config, the config is named.
        let e = resolve(
            "tcp://127.0.0.1:42376",
            &env(
                d.path(),
                &[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", &f)],
            ),
        )
        .unwrap_err();
        assert_eq!(e.subject(), "tcp://127.0.0.1:42376");
        assert_eq!(e.from(), Source::Config.describe());
        // Without TLS the variable is not read (as in the CLI).
        assert!(
            resolve(
                "",
                &env(
                    d.path(),
                    &[
                        ("DOCKER_HOST", "tcp://127.0.0.1:2375"),
                        ("DOCKER_CERT_PATH", &f)
                    ],
                ),
            )
            .is_ok()
        );
    }
}
