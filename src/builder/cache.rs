//! Build cache import/export in buildx syntax (`--cache-from` / `--cache-to`, `[build] cache_from` /
//! `cache_to`), and the check, before a build, of what the chosen builder can do with them: the Docker engine's
//! embedded BuildKit exports only `inline`; asking it for more fails at the very end of the build with
//! `unknown cache exporter`, so dockui says so first and proposes what works.

use super::{CacheType, Capabilities};
use std::collections::BTreeMap;
use std::fmt;

/// One cache entry: `type=registry,ref=example.com/app:cache,mode=max`.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl CacheSpec {
    /// Parse buildx syntax. A value without `type=` is a registry reference (`--cache-from user/app:cache`).
    pub fn parse(text: &str, dir: Direction) -> Result<CacheSpec, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty cache entry".into());
        }
        if !text.contains('=') {
            return Ok(CacheSpec {
                kind: CacheType::Registry,
                attrs: BTreeMap::from([("ref".to_string(), text.to_string())]),
            });
        }
        let mut kind = None;
        let mut attrs = BTreeMap::new();
        for field in text.split(',') {
            let (k, v) = field.split_once('=').ok_or_else(|| {
                format!("`{field}` in `{text}` is not KEY=VALUE (buildx syntax: type=registry,ref=IMAGE)")
            })?;
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "type" {
                kind = Some(match v.as_str() {
                    "inline" => CacheType::Inline,
                    "registry" => CacheType::Registry,
                    "local" => CacheType::Local,
                    "gha" => CacheType::Gha,
                    other => {
                        return Err(format!(
                            "unknown cache type `{other}` in `{text}`: use inline, registry, local or gha"
                        ));
                    }
                });
            } else {
                attrs.insert(k, v);
            }
        }
        let kind =
            kind.ok_or_else(|| format!("`{text}` has no type= (e.g. type=registry,ref=IMAGE)"))?;
        let need = |key: &str, example: &str| -> Result<(), String> {
            if attrs.get(key).is_none_or(|v| v.is_empty()) {
                Err(format!("`{text}` needs {key}= (e.g. {example})"))
            } else {
                Ok(())
            }
        };
        match (kind, dir) {
            (CacheType::Registry, _) => {
                need("ref", "type=registry,ref=registry.example.com/app:cache")?
            }
            (CacheType::Local, Direction::Export) => need("dest", "type=local,dest=/tmp/cache")?,
            (CacheType::Local, Direction::Import) => need("src", "type=local,src=/tmp/cache")?,
            (CacheType::Inline, Direction::Import) => {
                return Err(format!(
                    "`{text}`: inline cache is imported from the image that carries it: --cache-from type=registry,ref=IMAGE"
                ));
            }
            _ => {}
        }
        if let Some(mode) = attrs.get("mode")
            && mode != "min"
            && mode != "max"
        {
            return Err(format!("`{text}`: mode is min or max, not `{mode}`"));
        }
        Ok(CacheSpec { kind, attrs })
    }

    pub fn parse_all(texts: &[String], dir: Direction) -> Result<Vec<CacheSpec>, String> {
        texts.iter().map(|t| CacheSpec::parse(t, dir)).collect()
    }

    /// The attributes BuildKit gets (`CacheOptionsEntry.attrs`); for gha the runner's URL and token come
    /// from the environment as buildx does.
    pub fn solve_attrs(&self) -> std::collections::HashMap<String, String> {
        let mut attrs: std::collections::HashMap<String, String> =
            self.attrs.clone().into_iter().collect();
        if self.kind == CacheType::Gha {
            for (key, env) in [
                ("url", "ACTIONS_CACHE_URL"),
                ("token", "ACTIONS_RUNTIME_TOKEN"),
            ] {
                if !attrs.contains_key(key)
                    && let Ok(v) = std::env::var(env)
                {
                    attrs.insert(key.to_string(), v);
                }
            }
        }
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
            let v = if k == "token" { "***" } else { v.as_str() };
            write!(f, ",{k}={v}")?;
        }
        Ok(())
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
    let builder = match caps.kind {
        super::BackendKind::Buildkit if caps.cache_export == [CacheType::Inline] => {
            "the Docker engine's embedded BuildKit (behind this BuildKit address)".to_string()
        }
        super::BackendKind::Buildkit => "this BuildKit daemon".to_string(),
        super::BackendKind::Docker => "the Docker engine's embedded BuildKit".to_string(),
        other => format!("the {} builder", other.as_str()),
    };
    let mut out = Vec::new();
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
                "{builder} exports only type=inline cache; `--cache-to {spec}` would fail at the end of the build with `unknown cache exporter`. What works: `--cache-to type=inline` (the cache travels inside the pushed image) and `--cache-from type=registry,ref=<that image>` on the next build, or build on a BuildKit daemon (BUILDKIT_HOST / [engine] buildkit_host, `--backend buildkit`), which exports registry, local and gha caches.{local}"
            )
        } else if caps.cache_export.is_empty() {
            format!(
                "{builder} cannot export build cache; drop `--cache-to {spec}` or build with BuildKit"
            )
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
                format!("{builder} cannot import build cache (`--cache-from {spec}`)")
            } else {
                format!(
                    "{builder} cannot import `{spec}` (it imports: {}); for an image built with inline cache use type=registry,ref=IMAGE",
                    supported.join(", ")
                )
            },
        });
    }
    out
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
            CacheSpec::parse("type=gha", Direction::Export).unwrap(),
        ];
        assert!(check(&[], &to, &daemon).is_empty());
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
        assert!(p[0].message.contains("cannot import build cache"), "{p:?}");
    }

    #[test]
    fn gha_token_is_masked_in_display() {
        let s = CacheSpec::parse("type=gha,token=abc,url=http://x", Direction::Export).unwrap();
        assert!(!s.to_string().contains("abc"));
    }
}
