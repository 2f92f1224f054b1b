//! The `[push]` section of `.dockui.toml`, as a type the config loader can embed:
//!
//! ```toml
//! [push]
//! registry = "127.0.0.1:5000"     # host[:port]; empty: Docker Hub
//! repository = "team/app"         # path in the registry; empty: the build's image name
//! tags = ["latest", "v1"]         # empty: the build's tag
//! plain_http = false              # true: a non-loopback registry without TLS (engine insecure-registries)
//! [push.retry]
//! attempts = 4
//! initial_delay_ms = 500
//! [[push.update]]
//! file = "deploy/.env"
//! key = "IMAGE"
//! [[push.update]]
//! file = "k8s/values.yaml"
//! key = "image.ref"
//! ```

use super::client::RetryPolicy;
use super::update::UpdateTarget;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushConfig {
    pub registry: String,
    pub repository: String,
    pub tags: Vec<String>,
    /// The registry speaks plain HTTP although it is not on loopback (it is in the engine's
    /// "insecure-registries"). Loopback registries always use HTTP.
    pub plain_http: bool,
    pub retry: RetryPolicy,
    pub update: Vec<UpdateTarget>,
}

impl PushConfig {
    /// What to hand to `RegistryClient::with_plain_http`.
    pub fn plain_http_hosts(&self) -> Vec<String> {
        if self.plain_http && !self.registry.is_empty() {
            vec![self.registry.trim_end_matches('/').to_string()]
        } else {
            Vec::new()
        }
    }

    /// `registry/repository` (no tag), from config, else from the built image's name. With neither
    /// `registry` nor `repository` set, only an image already named with a registry host is pushed: a local
    /// name like `dockui-local/demo` would otherwise go to Docker Hub.
    pub fn target_repository(&self, built_image: &str) -> Result<String, String> {
        let built = super::reference::ImageName::parse(built_image).ok();
        if self.registry.is_empty() && self.repository.is_empty() {
            return match built {
                Some(n) if !n.is_docker_hub() => Ok(n.familiar_repository()),
                _ => Err(format!(
                    "no push target for {built_image}: set [push] registry = \"host:port\" and repository = \"team/app\" \
                     in .dockui.toml (or push an image whose name starts with its registry host)"
                )),
            };
        }
        let repo = if self.repository.is_empty() {
            match built {
                Some(n) => n.repository,
                None => built_image
                    .split(':')
                    .next()
                    .unwrap_or(built_image)
                    .to_string(),
            }
        } else {
            self.repository.clone()
        };
        let repo = repo.trim_matches('/');
        Ok(if self.registry.is_empty() {
            repo.to_string()
        } else {
            format!("{}/{repo}", self.registry.trim_end_matches('/'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_toml_parses() {
        #[derive(Deserialize)]
        struct File {
            push: PushConfig,
        }
        let f: File = toml::from_str(
            r#"
[push]
registry = "127.0.0.1:5000"
repository = "team/app"
tags = ["latest", "v1"]
[push.retry]
attempts = 6
initial_delay_ms = 200
[[push.update]]
file = "deploy/.env"
key = "IMAGE"
[[push.update]]
file = "k8s/values.yaml"
key = "image.ref"
"#,
        )
        .unwrap();
        assert_eq!(f.push.update.len(), 2);
        assert_eq!(f.push.retry.attempts, 6);
        assert_eq!(
            f.push.retry.max_delay_ms,
            RetryPolicy::default().max_delay_ms
        );
        assert_eq!(
            f.push
                .target_repository("dockui-local/demo:latest")
                .as_deref(),
            Ok("127.0.0.1:5000/team/app")
        );
        let empty = PushConfig::default();
        let e = empty
            .target_repository("dockui-local/demo:latest")
            .unwrap_err();
        assert!(e.contains("[push] registry"), "{e}");
        assert_eq!(
            empty.target_repository("ghcr.io/org/app:v1").as_deref(),
            Ok("ghcr.io/org/app")
        );
        let hub = PushConfig {
            repository: "me/app".into(),
            ..PushConfig::default()
        };
        assert_eq!(
            hub.target_repository("dockui-local/demo").as_deref(),
            Ok("me/app")
        );
        let only_registry = PushConfig {
            registry: "r:5000".into(),
            ..PushConfig::default()
        };
        assert_eq!(
            only_registry
                .target_repository("dockui-local/demo:b1")
                .as_deref(),
            Ok("r:5000/dockui-local/demo")
        );
        assert!(toml::from_str::<File>("[push]\nregistyr = \"x\"\n").is_err());
    }
}
