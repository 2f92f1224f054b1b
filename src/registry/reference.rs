//! Image references as the registry API needs them: which host, which scheme, which repository path.
//! Follows docker/distribution's normalisation: a first component is a host only when it has a `.` or a
//! `:` or is `localhost`; everything else lives on Docker Hub, single names under `library/`.

use super::RegistryError;

pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API actually answers.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key Docker's config.json and credential helpers use for Docker Hub.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageName {
    /// `docker.io` for Docker Hub, else `host[:port]` as written.
    pub registry: String,
    /// Path inside the registry, e.g. `library/ubuntu` or `team/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageName {
    pub fn parse(input: &str) -> Result<ImageName, RegistryError> {
        let s = input.trim();
        let bad = |why: &str| RegistryError::BadReference {
            reference: input.to_string(),
            why: why.to_string(),
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !is_digest(d) {
                    return Err(bad("the part after '@' is not a sha256:<64 hex> digest"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' is a tag; one before it is a port.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if tag.is_empty() || tag.len() > 128 || !tag.chars().all(is_tag_char) {
                    return Err(bad(
                        "the tag may only hold letters, digits, '_', '.' and '-'",
                    ));
                }
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty()
            || repository
                .split('/')
                .any(|c| c.is_empty() || !c.chars().all(is_path_char))
        {
            return Err(bad(
                "the repository path must be lowercase letters, digits and separators ('.', '_', '-', '/')",
            ));
        }
        Ok(ImageName {
            registry,
            repository,
            tag,
            digest,
        })
    }

    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    /// Host (with port) the HTTP API answers on.
    pub fn api_host(&self) -> &str {
        if self.is_docker_hub() {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `http://` for loopback registries (the Docker engine itself pushes to them without TLS), `https://`
    /// for everything else.
    pub fn base_url(&self) -> String {
        let scheme = if is_loopback_host(self.api_host()) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.api_host())
    }

    /// The repository as Docker writes it in RepoTags/RepoDigests (`ubuntu`, `team/app`, `host:5000/app`).
    pub fn familiar_repository(&self) -> String {
        if self.is_docker_hub() {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// `repo@sha256:...`, the literal value deployments pin.
    pub fn with_digest(&self, digest: &str) -> String {
        format!("{}@{digest}", self.familiar_repository())
    }

    /// The same repository (registry + path), whatever the tag or digest.
    pub fn same_repository(&self, other: &ImageName) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.familiar_repository())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

pub fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// `localhost`, `127.x.x.x` and `[::1]`, with or without a port.
pub fn is_loopback_host(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One registry key in a credentials file (`https://index.docker.io/v1/`, `ghcr.io`, `http://host:5000`,
/// podman's `host/namespace`), reduced to the host it is for, so lookups compare like with like.
pub fn normalize_auth_key(key: &str) -> String {
    let k = key.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => DOCKER_HUB.to_string(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn docker_hub_names_get_library_and_the_api_host() {
        let n = ImageName::parse("ubuntu:22.04").unwrap();
        assert_eq!(n.registry, "docker.io");
        assert_eq!(n.repository, "library/ubuntu");
        assert_eq!(n.tag.as_deref(), Some("22.04"));
        assert_eq!(n.base_url(), "https://registry-1.docker.io");
        assert_eq!(n.familiar_repository(), "ubuntu");
        let n = ImageName::parse("index.docker.io/team/app").unwrap();
        assert_eq!(
            (n.registry.as_str(), n.repository.as_str()),
            ("docker.io", "team/app")
        );
    }

    #[test]
    fn loopback_registries_use_http_with_ports_not_tags() {
        let n = ImageName::parse(&format!("127.0.0.1:5001/dockui-test/app:v1@{D}")).unwrap();
        assert_eq!(n.registry, "127.0.0.1:5001");
        assert_eq!(n.repository, "dockui-test/app");
        assert_eq!(n.tag.as_deref(), Some("v1"));
        assert_eq!(n.digest.as_deref(), Some(D));
        assert_eq!(n.base_url(), "http://127.0.0.1:5001");
        assert_eq!(
            ImageName::parse("localhost:5000/app").unwrap().base_url(),
            "http://localhost:5000"
        );
        assert_eq!(
            ImageName::parse("ghcr.io/org/app").unwrap().base_url(),
            "https://ghcr.io"
        );
        assert_eq!(
            n.with_digest(D),
            format!("127.0.0.1:5001/dockui-test/app@{D}")
        );
    }

    #[test]
    fn bad_references_say_why() {
        for bad in ["", "App/Upper", "x@sha256:123", "a:b:c/d:", "host:5000/"] {
            let e = ImageName::parse(bad).unwrap_err().to_string();
            assert!(e.contains("reference"), "{bad}: {e}");
        }
    }

    #[test]
    fn auth_keys_normalise() {
        assert_eq!(
            normalize_auth_key("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(
            normalize_auth_key("http://127.0.0.1:5000"),
            "127.0.0.1:5000"
        );
        assert_eq!(normalize_auth_key("quay.io/team"), "quay.io");
        assert!(is_loopback_host("127.0.0.1:5000"));
        assert!(is_loopback_host("[::1]:5000"));
        assert!(!is_loopback_host("10.0.0.1:5000"));
    }
}
