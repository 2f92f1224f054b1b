//! Build cache import/export in buildx syntax (`--cache-from` / `--cache-to`, `[build] cache_from` /
//! `cache_to`), and the check, before a build, of what the chosen builder can do with them: the Docker engine's
//! embedded BuildKit exports only `inline`; asking it for more fails at the very end of the build with
//! `unknown cache exporter`, so dockui says so first and proposes what works.

use super::{CacheType, Capabilities};
use std::collections::BTreeMap;
use std::fmt;

/// One cache entry: `type=registry,ref=example.com/app:cache,mode=max`. Debug shows it as Display does,
/// credentials masked.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheSpec {
    pub kind: CacheType,
    pub attrs: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Import,
    Export,
}

impl CacheType {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheType::Inline => "inline",
            CacheType::Registry => "registry",
            CacheType::Local => "local",
            CacheType::Gha => "gha",
        }
    }
}

/// Longer entries are refused: no reference or path needs more (PATH_MAX is 4096), and the messages that quote
/// an entry stay readable.
const MAX_ENTRY: usize = 4096;
/// How much of an entry a message quotes.
const SHOWN: usize = 160;

/// Attribute names whose values are credentials (`token=` of gha, `secret_access_key=` / `session_token=` of
/// s3 and azblob, passwords): never printed, logged or written into a result.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key == "ghtoken" || crate::analyze::rules::secrets::looks_secret(&key)
}

/// The caches buildx knows that dockui does not drive (standalone daemons' object-store caches).
const OTHER_TYPES: &[&str] = &["s3", "azblob"];

/// Split one entry into fields as buildx does (Go's encoding/csv, one record): commas separate fields, a field
/// that starts with `"` runs to its closing quote and may hold commas (`""` is a quote inside it).
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted field has no closing `\"`".into()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(_) => {
                    return Err(
                        "text follows a closing `\"`: quote the whole field (`\"ref=a,b\"`)".into(),
                    );
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => {
                        return Err(
                            "a `\"` inside a field: quote the whole field instead (`\"ref=a,b\"`, as buildx reads CSV)"
                                .into(),
                        );
                    }
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

/// An entry as messages may quote it: credentials masked (`token=***`), control characters escaped, long
/// entries cut. Works on text that does not parse, so an error never echoes a secret.
pub fn shown(text: &str) -> String {
    let fields = csv_fields(text).unwrap_or_else(|_| text.split(',').map(str::to_string).collect());
    let masked: Vec<String> = fields
        .iter()
        .map(|field| match field.split_once('=') {
            Some((k, v)) if is_secret_key(k.trim_start_matches('"')) && !v.is_empty() => {
                format!("{k}=***")
            }
            _ => field.clone(),
        })
        .collect();
    let masked = masked.join(",");
    let (mut out, cut) = crate::terminal_text::escape_controls(&masked, SHOWN);
    if cut {
        out.push_str("...");
    }
    out
}

/// The credential values in raw entries (even ones that do not parse), for masking engine output.
pub fn secret_values(texts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for text in texts {
        for field in
            csv_fields(text).unwrap_or_else(|_| text.split(',').map(str::to_string).collect())
        {
            if let Some((k, v)) = field.split_once('=')
                && is_secret_key(k.trim_matches('"'))
            {
                let v = v.trim().trim_matches('"');
                if !v.is_empty() {
                    out.push(v.to_string());
                }
            }
        }
    }
    out
}

impl CacheSpec {
    /// Parse buildx syntax. A value without `type=` is a registry reference (`--cache-from user/app:cache`).
    pub fn parse(text: &str, dir: Direction) -> Result<CacheSpec, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty cache entry".into());
        }
        if let Some((at, c)) = text.char_indices().find(|(_, c)| c.is_control()) {
            return Err(format!(
                "`{}` holds a control character ({}) at byte {at}: a cache entry is plain text (a pasted escape sequence or newline?)",
                shown(text),
                c.escape_default()
            ));
        }
        if text.len() > MAX_ENTRY {
            return Err(format!(
                "`{}` is {} bytes long; a cache entry is at most {MAX_ENTRY}",
                shown(text),
                text.len()
            ));
        }
        let show = shown(text);
        if !text.contains('=') {
            check_reference(text, &show)?;
            return Ok(CacheSpec {
                kind: CacheType::Registry,
                attrs: BTreeMap::from([("ref".to_string(), text.to_string())]),
            });
        }
        let fields = csv_fields(text).map_err(|e| format!("`{show}`: {e}"))?;
        let mut kind = None;
        let mut attrs = BTreeMap::new();
        for field in fields {
            let Some((k, v)) = field.split_once('=') else {
                let field = if field.trim().is_empty() {
                    "an empty field".to_string()
                } else {
                    format!("`{}`", shown(&field))
                };
                return Err(format!(
                    "{field} in `{show}` is not KEY=VALUE (buildx syntax: type=registry,ref=IMAGE)"
                ));
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k.is_empty() {
                return Err(format!(
                    "`{show}` has a field without a key (`={}`)",
                    shown(&v)
                ));
            }
            if k == "type" {
                if kind.is_some() {
                    return Err(format!(
                        "`{show}` gives type= twice: give one type per entry (repeat --cache-to for several)"
                    ));
                }
                kind = Some(match v.as_str() {
                    "inline" => CacheType::Inline,
                    "registry" => CacheType::Registry,
                    "local" => CacheType::Local,
                    "gha" => CacheType::Gha,
                    "" => {
                        return Err(format!(
                            "`{show}`: type= is empty: use inline, registry, local or gha"
                        ));
                    }
                    other if OTHER_TYPES.contains(&other) => {
                        return Err(format!(
                            "unknown cache type `{other}` in `{show}`: dockui does not drive {other} caches (a standalone BuildKit daemon's object-store cache); use type=registry,ref=IMAGE:cache,mode=max with a registry next to that store (ECR, ACR, ...), or type=inline, local or gha"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "unknown cache type `{}` in `{show}`: use inline, registry, local or gha",
                            shown(other)
                        ));
                    }
                });
            } else {
                match attrs.entry(k) {
                    std::collections::btree_map::Entry::Occupied(e) => {
                        return Err(format!(
                            "`{show}` gives {}= twice; which one is meant? Give it once",
                            shown(e.key())
                        ));
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(v);
                    }
                }
            }
        }
        let kind =
            kind.ok_or_else(|| format!("`{show}` has no type= (e.g. type=registry,ref=IMAGE)"))?;
        let need = |key: &str, example: &str| -> Result<(), String> {
            if attrs.get(key).is_none_or(|v| v.is_empty()) {
                Err(format!("`{show}` needs {key}= (e.g. {example})"))
            } else {
                Ok(())
            }
        };
        match (kind, dir) {
            (CacheType::Registry, _) => {
                need("ref", "type=registry,ref=registry.example.com/app:cache")?;
                check_reference(&attrs["ref"], &show)?;
            }
            (CacheType::Local, Direction::Export) => need("dest", "type=local,dest=/tmp/cache")?,
            (CacheType::Local, Direction::Import) => need("src", "type=local,src=/tmp/cache")?,
            (CacheType::Inline, Direction::Import) => {
                return Err(format!(
                    "`{show}`: inline cache is imported from the image that carries it: --cache-from type=registry,ref=IMAGE"
                ));
            }
            _ => {}
        }
        if let Some(mode) = attrs.get("mode")
            && mode != "min"
            && mode != "max"
        {
            return Err(format!(
                "`{show}`: mode is min or max, not `{}`",
                shown(mode)
            ));
        }
        // BuildKit's inline exporter ignores mode: max would silently be min.
        if kind == CacheType::Inline && attrs.get("mode").is_some_and(|m| m == "max") {
            return Err(format!(
                "`{show}`: inline cache holds the final stage's layers only (mode=min); for every stage use type=registry,ref=IMAGE:cache,mode=max on a BuildKit daemon"
            ));
        }
        Ok(CacheSpec { kind, attrs })
    }

    pub fn parse_all(texts: &[String], dir: Direction) -> Result<Vec<CacheSpec>, String> {
        texts.iter().map(|t| CacheSpec::parse(t, dir)).collect()
    }

    /// The attributes BuildKit gets (`CacheOptionsEntry.attrs`); for gha the runner's URL and token come
    /// from the environment as buildx does.
    pub fn solve_attrs(&self) -> std::collections::HashMap<String, String> {
        self.solve_attrs_with(&|k: &str| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// `solve_attrs` with the environment given. For gha, as buildx fills them: `token` from
    /// ACTIONS_RUNTIME_TOKEN; the cache service v2 (`version=2`, or ACTIONS_CACHE_SERVICE_V2 true, as
    /// GitHub's runners set it since the v1 service was retired) at `url_v2` from ACTIONS_RESULTS_URL; v1 at
    /// `url` from ACTIONS_CACHE_URL, else ACTIONS_RESULTS_URL.
    fn solve_attrs_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> std::collections::HashMap<String, String> {
        let mut attrs: std::collections::HashMap<String, String> =
            self.attrs.clone().into_iter().collect();
        if self.kind != CacheType::Gha {
            return attrs;
        }
        if !attrs.contains_key("version")
            && env("ACTIONS_CACHE_SERVICE_V2").is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "t" | "true" | "yes"
                )
            })
        {
            attrs.insert("version".into(), "2".into());
        }
        let v2 = attrs.get("version").is_some_and(|v| v == "2");
        let mut fill = |key: &str, vars: &[&str]| {
            if !attrs.contains_key(key)
                && let Some(v) = vars.iter().find_map(|var| env(var))
            {
                attrs.insert(key.to_string(), v);
            }
        };
        fill("token", &["ACTIONS_RUNTIME_TOKEN"]);
        if v2 {
            fill("url_v2", &["ACTIONS_RESULTS_URL"]);
        }
        fill("url", &["ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL"]);
        attrs
    }

    /// The registry reference of a `type=registry` entry.
    pub fn reference(&self) -> Option<&str> {
        (self.kind == CacheType::Registry)
            .then(|| self.attrs.get("ref").map(String::as_str))
            .flatten()
    }
}

impl fmt::Display for CacheSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "type={}", self.kind.as_str())?;
        for (k, v) in &self.attrs {
            // Tokens never reach logs.
            let v = if is_secret_key(k) { "***" } else { v.as_str() };
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

/// A registry cache reference must be an image reference; `user:password@host/...` is refused without
/// quoting it (registries take credentials from `docker login` and credential helpers).
fn check_reference(reference: &str, show: &str) -> Result<(), String> {
    if let Some((before, after)) = reference.split_once('@')
        && !after.starts_with("sha256:")
        && !before.contains('/')
    {
        return Err(
            "a cache ref= looks like it carries credentials (USER:PASSWORD@HOST/...): it is not shown; give the registry's credentials with `docker login HOST` (or a credential helper) and name the image alone (HOST/REPO:TAG)".to_string(),
        );
    }
    crate::registry::reference::ImageName::parse(reference).map_err(|e| {
        let crate::registry::RegistryError::BadReference { why, .. } = e;
        format!(
            "`{show}`: ref= is not an image reference: {why} (e.g. registry.example.com/app:cache)"
        )
    })?;
    Ok(())
}

impl fmt::Debug for CacheSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheSpec({self})")
    }
}

/// A cache entry the builder cannot honour, with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheProblem {
    pub spec: CacheSpec,
    pub direction: Direction,
    pub message: String,
}

/// Compare the requested cache with what the builder supports. An empty result means every entry works.
pub fn check(from: &[CacheSpec], to: &[CacheSpec], caps: &Capabilities) -> Vec<CacheProblem> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    check_with(from, to, caps, &env)
}

/// `check` with the environment given (tests; a GitHub Actions runner sets the gha variables).
fn check_with(
    from: &[CacheSpec],
    to: &[CacheSpec],
    caps: &Capabilities,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<CacheProblem> {
    let builder = match caps.kind {
        super::BackendKind::Buildkit if caps.cache_export == [CacheType::Inline] => {
            "the Docker engine's embedded BuildKit (behind this BuildKit address)".to_string()
        }
        super::BackendKind::Buildkit => "this BuildKit daemon".to_string(),
        super::BackendKind::Docker if caps.buildkit => {
            "the Docker engine's embedded BuildKit".to_string()
        }
        super::BackendKind::Docker => "the Docker engine's legacy builder".to_string(),
        super::BackendKind::Podman => "Podman's builder (buildah)".to_string(),
        other => format!("the {} builder", other.as_str()),
    };
    // Where caches do travel, for a builder that has none.
    let no_cache = match caps.kind {
        super::BackendKind::Podman => {
            "it keeps its layer cache in Podman's own storage, which rebuilds on this machine reuse by themselves, and reads or writes no buildx cache. What works: drop it here, or build where the cache travels: a Docker engine (`--backend docker`: `--cache-to type=inline`, then `--cache-from type=registry,ref=IMAGE`) or a BuildKit daemon (`--backend buildkit`: registry, local and gha caches)"
        }
        super::BackendKind::Docker => {
            "What works: build with the engine's BuildKit ([build] builder = \"auto\" or \"buildkit\"), which exports `--cache-to type=inline` and imports `--cache-from type=registry,ref=IMAGE`, or on a BuildKit daemon (`--backend buildkit`)"
        }
        _ => "drop it, or build with BuildKit (`--backend docker` or `--backend buildkit`)",
    };
    let mut out = Vec::new();
    for (spec, direction) in from
        .iter()
        .map(|s| (s, Direction::Import))
        .chain(to.iter().map(|s| (s, Direction::Export)))
    {
        let supported = match direction {
            Direction::Import => caps.cache_import.contains(&spec.kind),
            Direction::Export => caps.cache_export.contains(&spec.kind),
        };
        if supported && let Some(message) = gha_missing(spec, env) {
            out.push(CacheProblem {
                spec: spec.clone(),
                direction,
                message,
            });
        }
    }
    let engine_behind = caps.kind == super::BackendKind::Buildkit;
    let elsewhere = if engine_behind {
        "or point BUILDKIT_HOST / [engine] buildkit_host at a standalone BuildKit daemon (buildkitd; this address is a Docker engine's /grpc), which exports registry, local and gha caches"
    } else {
        "or build on a BuildKit daemon (BUILDKIT_HOST / [engine] buildkit_host, `--backend buildkit`), which exports registry, local and gha caches"
    };
    for spec in to {
        if caps.cache_export.contains(&spec.kind) {
            continue;
        }
        let supported: Vec<&str> = caps.cache_export.iter().map(|c| c.as_str()).collect();
        let message = if caps.cache_export == [CacheType::Inline] {
            let local = if spec.kind == CacheType::Local
                && caps.cache_import.contains(&CacheType::Local)
            {
                " It can import a local cache directory (`--cache-from type=local,src=DIR`) that a BuildKit daemon wrote with `--cache-to type=local,dest=DIR`."
            } else {
                ""
            };
            format!(
                "{builder} exports only type=inline cache; `--cache-to {spec}` would fail at the end of the build with `unknown cache exporter: \"{}\"`. What works: `--cache-to type=inline` (the cache travels inside the pushed image) and `--cache-from type=registry,ref=<that image>` on the next build, {elsewhere}.{local}",
                spec.kind.as_str()
            )
        } else if caps.cache_export.is_empty() {
            format!("{builder} cannot export a build cache (`--cache-to {spec}`): {no_cache}.")
        } else {
            format!(
                "{builder} cannot export `{spec}` cache (it exports: {})",
                supported.join(", ")
            )
        };
        out.push(CacheProblem {
            spec: spec.clone(),
            direction: Direction::Export,
            message,
        });
    }
    for spec in from {
        if caps.cache_import.contains(&spec.kind) {
            continue;
        }
        let supported: Vec<&str> = caps.cache_import.iter().map(|c| c.as_str()).collect();
        out.push(CacheProblem {
            spec: spec.clone(),
            direction: Direction::Import,
            message: if supported.is_empty() {
                format!("{builder} cannot import a build cache (`--cache-from {spec}`): {no_cache}.")
            } else {
                format!(
                    "{builder} cannot import `{spec}` (it imports: {}); for an image built with inline cache use type=registry,ref=IMAGE{}",
                    supported.join(", "),
                    if caps.kind == super::BackendKind::Buildkit && caps.multi_platform {
                        String::new()
                    } else {
                        format!(
                            "; {} caches are read by a BuildKit daemon (`--backend buildkit`, BUILDKIT_HOST at a standalone buildkitd)",
                            spec.kind.as_str()
                        )
                    }
                )
            },
        });
    }
    out
}

/// What a `type=gha` entry lacks for BuildKit's GitHub Actions cache, which needs the runner's cache URL and
/// token (`url=` / `token=`, or ACTIONS_CACHE_URL / ACTIONS_RUNTIME_TOKEN as buildx reads them); without them
/// the build fails only when the cache is exported, at its very end.
fn gha_missing(spec: &CacheSpec, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if spec.kind != CacheType::Gha {
        return None;
    }
    let attrs = spec.solve_attrs_with(env);
    let has = |k: &str| attrs.get(k).is_some_and(|v| !v.is_empty());
    let v2 = attrs.get("version").is_some_and(|v| v == "2");
    let (url_key, url_vars) = if v2 {
        ("url_v2", "ACTIONS_RESULTS_URL")
    } else {
        ("url", "ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL)")
    };
    let mut missing = Vec::new();
    if !has(url_key) {
        missing.push((url_key, url_vars));
    }
    if !has("token") {
        missing.push(("token", "ACTIONS_RUNTIME_TOKEN"));
    }
    if missing.is_empty() {
        return None;
    }
    let vars: Vec<&str> = missing.iter().map(|(_, v)| *v).collect();
    Some(format!(
        "`{spec}` needs the GitHub Actions cache service, and {} {} not set: BuildKit would fail with `{} not set for github actions cache` when the build is done. Inside a GitHub Actions job expose the runner's variables to this step (crazy-max/ghaction-github-runtime does; they are ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL with ACTIONS_CACHE_SERVICE_V2, or ACTIONS_CACHE_URL for the v1 service), or give `{}=` and `token=`; outside Actions use `type=registry,ref=IMAGE:cache,mode=max` or `type=local,dest=DIR`",
        vars.join(" and "),
        if missing.len() > 1 { "are" } else { "is" },
        missing[0].0,
        url_key
    ))
}

/// One line per requested entry saying whether this builder supports it, for the build log.
pub fn summary(from: &[CacheSpec], to: &[CacheSpec], caps: &Capabilities) -> Vec<String> {
    let mut lines = Vec::new();
    for s in from {
        let ok = caps.cache_import.contains(&s.kind);
        lines.push(format!(
            "dockui: cache import {s}: {}",
            if ok { "supported" } else { "NOT supported" }
        ));
    }
    for s in to {
        let ok = caps.cache_export.contains(&s.kind);
        lines.push(format!(
            "dockui: cache export {s}: {}",
            if ok { "supported" } else { "NOT supported" }
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::BackendKind;

    fn caps_docker() -> Capabilities {
        Capabilities {
            kind: BackendKind::Docker,
            buildkit: true,
            cache_export: vec![CacheType::Inline],
            cache_import: vec![CacheType::Registry, CacheType::Local],
            ..Default::default()
        }
    }

    #[test]
    fn buildx_syntax_parses_into_type_and_attrs() {
        let s = CacheSpec::parse(
            "type=registry,ref=127.0.0.1:5000/app:cache,mode=max",
            Direction::Export,
        )
        .unwrap();
        assert_eq!(s.kind, CacheType::Registry);
        assert_eq!(s.attrs["ref"], "127.0.0.1:5000/app:cache");
        assert_eq!(s.attrs["mode"], "max");
        assert_eq!(
            s.to_string(),
            "type=registry,mode=max,ref=127.0.0.1:5000/app:cache"
        );
        let bare = CacheSpec::parse("user/app:cache", Direction::Import).unwrap();
        assert_eq!(bare.reference(), Some("user/app:cache"));
        assert_eq!(
            CacheSpec::parse("type=inline", Direction::Export)
                .unwrap()
                .kind,
            CacheType::Inline
        );
        assert_eq!(
            CacheSpec::parse("type=gha,scope=main", Direction::Export)
                .unwrap()
                .kind,
            CacheType::Gha
        );
    }

    #[test]
    fn bad_entries_say_what_is_missing() {
        for (text, dir, needle) in [
            ("type=registry", Direction::Export, "needs ref="),
            ("type=local", Direction::Export, "needs dest="),
            ("type=local,dest=/x", Direction::Import, "needs src="),
            (
                "type=s3,bucket=x",
                Direction::Export,
                "unknown cache type `s3`",
            ),
            ("ref=x", Direction::Import, "has no type="),
            (
                "type=registry,ref=x,mode=all",
                Direction::Export,
                "mode is min or max",
            ),
            (
                "type=inline",
                Direction::Import,
                "--cache-from type=registry",
            ),
        ] {
            let err = CacheSpec::parse(text, dir).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn the_engine_refuses_registry_export_and_proposes_inline() {
        let to =
            vec![CacheSpec::parse("type=registry,ref=r/app:cache", Direction::Export).unwrap()];
        let problems = check(&[], &to, &caps_docker());
        assert_eq!(problems.len(), 1);
        let m = &problems[0].message;
        assert!(m.contains("exports only type=inline"), "{m}");
        assert!(m.contains("unknown cache exporter"), "{m}");
        assert!(m.contains("--cache-to type=inline"), "{m}");
        assert!(m.contains("BUILDKIT_HOST"), "{m}");
    }

    #[test]
    fn supported_entries_give_no_problem() {
        let to = vec![CacheSpec::parse("type=inline", Direction::Export).unwrap()];
        let from = vec![CacheSpec::parse("type=registry,ref=r/app", Direction::Import).unwrap()];
        assert!(check(&from, &to, &caps_docker()).is_empty());
        // A standalone daemon's own table (not a copy of it).
        let daemon = crate::buildkit::capabilities_for(&crate::buildkit::Workers::default());
        let to = vec![
            CacheSpec::parse("type=registry,ref=r/app:c,mode=max", Direction::Export).unwrap(),
            CacheSpec::parse(
                "type=gha,url=http://cache.local/,token=t0k3n",
                Direction::Export,
            )
            .unwrap(),
        ];
        assert!(check_with(&[], &to, &daemon, &|_| None).is_empty());
        // A daemon writes and reads local cache directories through the session's content store.
        let local_to = vec![CacheSpec::parse("type=local,dest=/tmp/c", Direction::Export).unwrap()];
        let local_from =
            vec![CacheSpec::parse("type=local,src=/tmp/c", Direction::Import).unwrap()];
        assert!(check(&local_from, &local_to, &daemon).is_empty());
        // The engine imports one, but cannot export it: the message says both.
        assert!(check(&local_from, &[], &caps_docker()).is_empty());
        let p = check(&[], &local_to, &caps_docker());
        assert_eq!(p.len(), 1);
        assert!(p[0].message.contains("exports only type=inline"), "{p:?}");
        assert!(
            p[0].message.contains("--cache-from type=local,src=DIR"),
            "{p:?}"
        );
        // Where nothing imports local caches, the import is refused.
        let legacy = Capabilities {
            kind: BackendKind::Podman,
            ..Default::default()
        };
        let p = check(&local_from, &[], &legacy);
        assert!(
            p[0].message.contains("cannot import a build cache"),
            "{p:?}"
        );
        assert!(p[0].message.contains("Podman's builder (buildah)"), "{p:?}");
    }

    #[test]
    fn a_gha_import_on_the_engine_points_at_a_buildkit_daemon() {
        let from = vec![CacheSpec::parse("type=gha,scope=main", Direction::Import).unwrap()];
        let p = check_with(&from, &[], &caps_docker(), &|_| None);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message
                .contains("gha caches are read by a BuildKit daemon"),
            "{p:?}"
        );
    }

    #[test]
    fn builders_without_cache_say_where_caches_travel() {
        let podman = crate::docker::capabilities::from_version(
            &["Podman Engine".into()],
            "1.41",
            "linux",
            "amd64",
        );
        let to = vec![CacheSpec::parse("type=inline", Direction::Export).unwrap()];
        let from = vec![CacheSpec::parse("type=registry,ref=r/app", Direction::Import).unwrap()];
        let p = check_with(&from, &to, &podman, &|_| None);
        assert_eq!(p.len(), 2, "{p:?}");
        for m in p.iter().map(|p| &p.message) {
            assert!(m.starts_with("Podman's builder (buildah) cannot"), "{m}");
            assert!(m.contains("Podman's own storage"), "{m}");
            assert!(
                m.contains("`--backend docker`") && m.contains("`--backend buildkit`"),
                "{m}"
            );
        }
        // The Docker engine asked to build without BuildKit ([build] builder = "legacy").
        let mut legacy = caps_docker();
        legacy.buildkit = false;
        legacy.cache_export.clear();
        let p = check_with(&[], &to, &legacy, &|_| None);
        let m = &p[0].message;
        assert!(
            m.starts_with("the Docker engine's legacy builder cannot export"),
            "{m}"
        );
        assert!(m.contains("[build] builder = \"auto\""), "{m}");
        assert!(!m.contains("embedded BuildKit"), "{m}");
    }

    #[test]
    fn credentials_never_appear_in_parse_errors_or_display() {
        for (text, dir, needle) in [
            (
                "type=s3,bucket=b,region=r,secret_access_key=SEKRIT1",
                Direction::Export,
                "unknown cache type `s3`",
            ),
            (
                "type=azblob,account_url=https://a.blob.core.windows.net,secret_access_key=SEKRIT2",
                Direction::Import,
                "unknown cache type `azblob`",
            ),
            (
                "type=gha,token=SEKRIT3,mode=all",
                Direction::Export,
                "mode is min or max",
            ),
            (
                "type=gha,token=SEKRIT4,scope",
                Direction::Export,
                "not KEY=VALUE",
            ),
            (
                "type=gha,ghtoken=SEKRIT5,type=local",
                Direction::Export,
                "type= twice",
            ),
            (
                "type=registry,ref=user:SEKRIT6@127.0.0.1:5000/app:cache",
                Direction::Export,
                "docker login",
            ),
            (
                "user:SEKRIT7@registry.example.com/app",
                Direction::Import,
                "docker login",
            ),
        ] {
            let err = CacheSpec::parse(text, dir).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains("SEKRIT"), "{text}: {err}");
        }
        // s3/azblob say what to use instead.
        let err = CacheSpec::parse("type=s3,bucket=b", Direction::Export).unwrap_err();
        assert!(err.contains("type=registry,ref="), "{err}");
        let s = CacheSpec::parse(
            "type=gha,token=abc1,ghtoken=abc2,url=http://x,scope=main",
            Direction::Export,
        )
        .unwrap();
        let shown = s.to_string();
        assert!(!shown.contains("abc"), "{shown}");
        assert!(!format!("{s:?}").contains("abc"), "{s:?}");
        assert!(
            shown.contains("scope=main") && shown.contains("url=http://x"),
            "{shown}"
        );
        assert_eq!(
            secret_values(&[
                "type=gha,token=abc1,url=u".into(),
                "type=s3,secret_access_key=k3y1,\"session_token=k3y2\"".into()
            ]),
            ["abc1", "k3y1", "k3y2"]
        );
        // The key names alone decide: a reference or a scope is shown.
        assert!(
            !is_secret_key("ref") && !is_secret_key("scope") && !is_secret_key("access_key_id")
        );
    }

    #[test]
    fn malformed_entries_are_refused_with_a_readable_message() {
        let long = format!("type=registry,ref=r/app:{}", "a".repeat(10 * 1024));
        for (text, needle) in [
            ("type=", "type= is empty"),
            ("type=registry,ref=r/a,ref=r/b", "gives ref= twice"),
            ("type=inline,type=registry,ref=r/a", "type= twice"),
            ("type=registry,,ref=r/a", "an empty field"),
            ("type=registry,=r/a", "without a key"),
            (long.as_str(), "bytes long"),
            (
                "type=registry,ref=x\x1b[31mRED\x1b[0m",
                "control character (\\u{1b})",
            ),
            ("type=local,dest=/tmp/a\nb", "control character (\\n)"),
            (",", "not an image reference"),
            ("type=registry,ref=Upper/Case", "not an image reference"),
            ("type=registry,ref=r/a:b,c", "not KEY=VALUE"),
            ("type=registry,ref=\"a,b\"", "quote the whole field"),
            ("type=registry,\"ref=a", "no closing"),
            ("type=inline,mode=max", "mode=min"),
        ] {
            let err = CacheSpec::parse(text, Direction::Export).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.len() < 600, "{text:?}: a {}-byte message", err.len());
            assert!(!err.contains('\x1b') && !err.contains('\n'), "{err:?}");
        }
        // What buildx accepts: `=` inside a value, a quoted field holding commas.
        let s = CacheSpec::parse("type=local,dest=/src=", Direction::Export).unwrap();
        assert_eq!(s.attrs["dest"], "/src=");
        let s = CacheSpec::parse(
            "type=registry,\"ref=r/app:cache\",\"compression=zstd,x\"",
            Direction::Export,
        )
        .unwrap();
        assert_eq!(s.attrs["ref"], "r/app:cache");
        assert_eq!(s.attrs["compression"], "zstd,x");
        let s = CacheSpec::parse(
            "type=registry,ref=r/app@sha256:".to_string().as_str(),
            Direction::Import,
        );
        assert!(s.is_err());
    }

    #[test]
    fn gha_without_the_runners_url_and_token_is_refused_before_the_build() {
        let daemon = crate::buildkit::capabilities_for(&crate::buildkit::Workers::default());
        let to = vec![CacheSpec::parse("type=gha,scope=main", Direction::Export).unwrap()];
        let p = check_with(&[], &to, &daemon, &|_| None);
        assert_eq!(p.len(), 1, "{p:?}");
        let m = &p[0].message;
        assert!(
            m.contains(
                "ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL) and ACTIONS_RUNTIME_TOKEN are not set"
            ),
            "{m}"
        );
        assert!(m.contains("type=registry,ref=IMAGE:cache,mode=max"), "{m}");
        // Only the token missing.
        let to =
            vec![CacheSpec::parse("type=gha,url=http://cache.local/", Direction::Export).unwrap()];
        let p = check_with(&[], &to, &daemon, &|_| None);
        assert!(
            p[0].message.contains("ACTIONS_RUNTIME_TOKEN is not set"),
            "{p:?}"
        );
        assert!(p[0].message.contains("`token not set"), "{p:?}");
        // A runner's environment is enough, for import and export.
        let env = |k: &str| {
            ["ACTIONS_CACHE_URL", "ACTIONS_RUNTIME_TOKEN"]
                .contains(&k)
                .then(|| "x".to_string())
        };
        let from = vec![CacheSpec::parse("type=gha", Direction::Import).unwrap()];
        let to = vec![CacheSpec::parse("type=gha,mode=max", Direction::Export).unwrap()];
        assert!(check_with(&from, &to, &daemon, &env).is_empty());
        // Today's runners: the v2 service (ACTIONS_CACHE_SERVICE_V2) at ACTIONS_RESULTS_URL, as buildx reads it.
        let runner = |k: &str| match k {
            "ACTIONS_CACHE_SERVICE_V2" => Some("True".to_string()),
            "ACTIONS_RESULTS_URL" => {
                Some("https://results-receiver.actions.githubusercontent.com/".into())
            }
            "ACTIONS_RUNTIME_TOKEN" => Some("ghs_x".into()),
            _ => None,
        };
        assert!(check_with(&from, &to, &daemon, &runner).is_empty());
        let attrs = to[0].solve_attrs_with(&runner);
        assert_eq!(attrs["version"], "2");
        assert_eq!(
            attrs["url_v2"],
            "https://results-receiver.actions.githubusercontent.com/"
        );
        assert_eq!(attrs["token"], "ghs_x");
        assert_eq!(attrs["mode"], "max");
        // v2 asked for without its URL: that is what is missing.
        let v2 = vec![CacheSpec::parse("type=gha,version=2,token=t", Direction::Export).unwrap()];
        let p = check_with(&[], &v2, &daemon, &|k: &str| {
            (k == "ACTIONS_CACHE_URL").then(|| "http://v1".to_string())
        });
        assert!(
            p[0].message.contains("ACTIONS_RESULTS_URL is not set"),
            "{p:?}"
        );
        assert!(p[0].message.contains("`url_v2 not set"), "{p:?}");
        // Given explicitly, nothing comes from the environment.
        let given =
            CacheSpec::parse("type=gha,url=http://mine,token=mine", Direction::Export).unwrap();
        let attrs = given.solve_attrs_with(&runner);
        assert_eq!(
            (attrs["url"].as_str(), attrs["token"].as_str()),
            ("http://mine", "mine")
        );
        // Where gha is not supported at all, that is the one problem said (not the missing token too).
        let p = check_with(&[], &to, &caps_docker(), &|_| None);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("exports only type=inline"), "{p:?}");
    }

    #[test]
    fn an_engine_behind_a_buildkit_address_points_at_a_standalone_daemon() {
        let engine = crate::buildkit::capabilities_for(&crate::buildkit::Workers {
            platforms: vec!["linux/amd64".into()],
            embedded_engine: true,
        });
        let to = vec![CacheSpec::parse("type=registry,ref=r/app:c", Direction::Export).unwrap()];
        let m = &check_with(&[], &to, &engine, &|_| None)[0].message;
        assert!(m.contains("standalone BuildKit daemon (buildkitd"), "{m}");
        assert!(!m.contains("--backend buildkit"), "{m}");
        let m = &check_with(&[], &to, &caps_docker(), &|_| None)[0].message;
        assert!(m.contains("--backend buildkit"), "{m}");
    }

    #[test]
    fn gha_token_is_masked_in_display() {
        let s = CacheSpec::parse("type=gha,token=abc,url=http://x", Direction::Export).unwrap();
        assert!(!s.to_string().contains("abc"));
    }
}
