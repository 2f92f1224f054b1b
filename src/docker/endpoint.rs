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

    /// The parsed host (already validated by `resolve`).
    pub fn address(&self) -> Result<Address, String> {
        parse_address(&self.host).map(|(a, _)| a)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error(
        "invalid engine address {host:?} (from {from}): {why}; what to do: use unix:///var/run/docker.sock \
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
}

impl EndpointError {
    /// What to show as the endpoint when resolution failed.
    pub fn subject(&self) -> String {
        match self {
            EndpointError::BadHost { host, .. } => host.clone(),
            EndpointError::NoContext { name, .. } => format!("(context {name})"),
            EndpointError::BadFile { file, .. } => file.display().to_string(),
        }
    }
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
    let config_file = env.config_dir().join("config.json");
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
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(EndpointError::BadFile {
                file: file.into(),
                why: e.to_string(),
            });
        }
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| EndpointError::BadFile {
        file: file.into(),
        why: format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    Ok(v.get("currentContext")
        .and_then(|c| c.as_str())
        .filter(|c| !c.is_empty())
        .map(String::from))
}

fn from_host(host: &str, source: Source, env: &EnvView) -> Result<Endpoint, EndpointError> {
    let bad = |why: String| EndpointError::BadHost {
        host: host.into(),
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
            let dir = env
                .get("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| env.config_dir());
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
    let text = match std::fs::read_to_string(&meta) {
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
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| EndpointError::BadFile {
        file: meta.clone(),
        why: format!(
            "invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    let docker = &v["Endpoints"]["docker"];
    let host = docker["Host"].as_str().unwrap_or_default();
    if host.is_empty() {
        return Err(EndpointError::BadFile {
            file: meta,
            why: "the context has no docker endpoint (Endpoints.docker.Host)".into(),
        });
    }
    let skip_verify = docker["SkipTLSVerify"].as_bool().unwrap_or(false);
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
            host: host.into(),
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

fn parse_address_tls(host: &str, tls: bool) -> Result<(Address, String), String> {
    let host = host.trim();
    if host.starts_with('/') {
        return Ok((Address::Unix(host.into()), format!("unix://{host}")));
    }
    let Some((scheme, rest)) = host.split_once("://") else {
        return Err("no scheme (unix://, tcp:// or ssh://)".into());
    };
    match scheme.to_ascii_lowercase().as_str() {
        "unix" => {
            if rest.is_empty() {
                return Err("no socket path".into());
            }
            Ok((Address::Unix(rest.into()), host.into()))
        }
        "tcp" | "http" | "https" => {
            let hostport = rest.trim_end_matches('/');
            if hostport.is_empty() || hostport.contains('/') || hostport.contains('@') {
                return Err("expected tcp://HOST:PORT".into());
            }
            let hostport = if has_port(hostport) {
                let port = hostport.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
                port.parse::<u16>()
                    .map_err(|_| format!("invalid port {port:?}"))?;
                hostport.to_string()
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
}
