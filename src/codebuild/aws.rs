//! Credentials, region and endpoints as the AWS CLI and SDKs resolve them, without the SDK:
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then the profile
//! (`AWS_PROFILE`, else `default`) in `~/.aws/credentials` and `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`
//! / `AWS_CONFIG_FILE`), including `credential_process`. Region: `[codebuild] region` / `--region`, then
//! `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`. Endpoints: `AWS_ENDPOINT_URL_<SERVICE>`, then
//! `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`, then the service's public endpoint.
//!
//! Not supported (said in docs/codebuild.md): SSO sessions, `role_arn` assume-role chains, EC2/ECS metadata
//! credentials. The secret key and session token never reach Debug output, logs or messages.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a value came from, for messages (never the value itself).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// "environment", "profile default in ~/.aws/credentials", ...
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key id alone identifies the key in IAM without granting anything; the rest stays out.
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// The values a log line must never carry.
    pub fn secrets(&self) -> Vec<String> {
        std::iter::once(self.secret_access_key.clone())
            .chain(self.session_token.clone())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The AWS services dockui calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    CodeBuild,
    Logs,
}

impl Service {
    /// The SigV4 signing name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::CodeBuild => "codebuild",
            Service::Logs => "logs",
        }
    }

    /// The suffix of `AWS_ENDPOINT_URL_<SERVICE>` (the service id, upper case, spaces as underscores).
    fn env_suffix(self) -> &'static str {
        match self {
            Service::S3 => "S3",
            Service::CodeBuild => "CODEBUILD",
            Service::Logs => "CLOUDWATCH_LOGS",
        }
    }

    fn host_prefix(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::CodeBuild => "codebuild",
            Service::Logs => "logs",
        }
    }
}

/// Everything a call needs, resolved once.
#[derive(Debug, Clone)]
pub struct AwsEnv {
    pub credentials: Credentials,
    pub region: String,
    /// The profile's `endpoint_url` and the env endpoints, resolved per service.
    endpoints: BTreeMap<&'static str, String>,
}

impl AwsEnv {
    /// `https://codebuild.eu-west-1.amazonaws.com`, or the configured endpoint (without a trailing slash).
    pub fn endpoint(&self, service: Service) -> String {
        self.endpoints
            .get(service.env_suffix())
            .cloned()
            .unwrap_or_else(|| {
                let suffix = if self.region.starts_with("cn-") {
                    "amazonaws.com.cn"
                } else {
                    "amazonaws.com"
                };
                format!("https://{}.{}.{suffix}", service.host_prefix(), self.region)
            })
    }

    /// A custom endpoint (moto, LocalStack, MinIO) takes path-style S3 URLs; AWS itself virtual-hosted ones.
    pub fn s3_path_style(&self) -> bool {
        self.endpoints.contains_key(Service::S3.env_suffix())
    }

    /// The URL of an S3 object.
    pub fn s3_object_url(&self, bucket: &str, key: &str) -> String {
        let key = key.split('/').map(uri_encode).collect::<Vec<_>>().join("/");
        if self.s3_path_style() {
            format!("{}/{bucket}/{key}", self.endpoint(Service::S3))
        } else {
            let suffix = if self.region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://{bucket}.s3.{}.{suffix}/{key}", self.region)
        }
    }
}

/// Percent-encoding of one URL path segment as SigV4 expects it (unreserved characters kept).
pub fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why AWS access cannot be set up, and what to do; never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why}; {what_to_do}")]
pub struct AwsSetupError {
    pub why: String,
    pub what_to_do: String,
}

/// Read the environment through `env` (the process environment in production, a map in tests).
pub fn resolve(
    env: &dyn Fn(&str) -> Option<String>,
    region_override: &str,
) -> Result<AwsEnv, AwsSetupError> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let profile = get("AWS_PROFILE")
        .or_else(|| get("AWS_DEFAULT_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let home = get("HOME").map(PathBuf::from);
    let credentials_file = get("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config_file = get("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    let creds_ini = credentials_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_ini(&t))
        .unwrap_or_default();
    let config_ini = config_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| parse_ini(&t))
        .unwrap_or_default();
    // ~/.aws/credentials names sections `[name]`; ~/.aws/config `[profile name]` (and `[default]`).
    let in_creds = creds_ini.get(&profile);
    let in_config = config_ini.get(&format!("profile {profile}")).or_else(|| {
        (profile == "default")
            .then(|| config_ini.get("default"))
            .flatten()
    });
    let from_profile = |key: &str| -> Option<String> {
        in_creds
            .and_then(|s| s.get(key))
            .or_else(|| in_config.and_then(|s| s.get(key)))
            .filter(|v| !v.is_empty())
            .cloned()
    };

    let credentials = if let (Some(id), Some(secret)) =
        (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"))
    {
        Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: get("AWS_SESSION_TOKEN"),
            source: "environment (AWS_ACCESS_KEY_ID)".into(),
        }
    } else if let (Some(id), Some(secret)) = (
        from_profile("aws_access_key_id"),
        from_profile("aws_secret_access_key"),
    ) {
        Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: from_profile("aws_session_token"),
            source: format!("profile {profile}"),
        }
    } else if let Some(cmd) = from_profile("credential_process") {
        credential_process(&cmd, &profile)?
    } else {
        let unsupported = ["sso_session", "sso_start_url", "role_arn"]
            .into_iter()
            .find(|k| from_profile(k).is_some());
        return Err(AwsSetupError {
            why: match unsupported {
                Some(k) => format!(
                    "the AWS profile {profile} uses {k}, which dockui does not resolve by itself"
                ),
                None => format!(
                    "no AWS credentials (not in the environment, nor for profile {profile} in {} or {})",
                    show(&credentials_file),
                    show(&config_file)
                ),
            },
            what_to_do: "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (e.g. `eval \"$(aws configure \
                         export-credentials --format env)\"`), or run `aws configure` for a profile with keys"
                .into(),
        });
    };

    let region = Some(region_override.to_string())
        .filter(|r| !r.is_empty())
        .or_else(|| get("AWS_REGION"))
        .or_else(|| get("AWS_DEFAULT_REGION"))
        .or_else(|| from_profile("region"))
        .ok_or_else(|| AwsSetupError {
            why: format!(
                "no AWS region (AWS_REGION, AWS_DEFAULT_REGION and profile {profile} name none)"
            ),
            what_to_do: "set [codebuild] region, pass --region, or export AWS_REGION".into(),
        })?;

    let mut endpoints = BTreeMap::new();
    let general = get("AWS_ENDPOINT_URL").or_else(|| from_profile("endpoint_url"));
    for service in [Service::S3, Service::CodeBuild, Service::Logs] {
        let specific = get(&format!("AWS_ENDPOINT_URL_{}", service.env_suffix()));
        if let Some(url) = specific.or_else(|| general.clone()) {
            endpoints.insert(service.env_suffix(), url.trim_end_matches('/').to_string());
        }
    }
    Ok(AwsEnv {
        credentials,
        region,
        endpoints,
    })
}

/// The process environment, as `resolve` wants it.
pub fn process_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn show(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "~/.aws (no HOME)".into())
}

/// `credential_process = cmd args`: its stdout is `{"Version":1,"AccessKeyId":..,"SecretAccessKey":..,
/// "SessionToken":..}`. Its stderr is not shown (it may echo what it fetched).
fn credential_process(cmd: &str, profile: &str) -> Result<Credentials, AwsSetupError> {
    let fail = |why: String| AwsSetupError {
        why,
        what_to_do: format!("run the profile's credential_process yourself to see why ({profile})"),
    };
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            fail(format!(
                "credential_process of profile {profile} did not start: {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(fail(format!(
            "credential_process of profile {profile} failed ({})",
            out.status
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        fail(format!(
            "credential_process of profile {profile} did not print credentials as JSON"
        ))
    })?;
    let field = |k: &str| v[k].as_str().map(str::to_string);
    match (field("AccessKeyId"), field("SecretAccessKey")) {
        (Some(id), Some(secret)) => Ok(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: field("SessionToken"),
            source: format!("profile {profile} (credential_process)"),
        }),
        _ => Err(fail(format!(
            "credential_process of profile {profile} printed no AccessKeyId/SecretAccessKey"
        ))),
    }
}

/// The AWS shared-file INI dialect: `[section]`, `key = value`, `#`/`;` comments. Nested sub-sections
/// (indented `s3 =` blocks) are skipped.
fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section: Option<String> = None;
    for raw in text.lines() {
        let indented = raw.starts_with([' ', '\t']);
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            out.entry(name.clone()).or_default();
            section = Some(name);
            continue;
        }
        if indented {
            continue;
        }
        if let (Some(s), Some((k, v))) = (&section, line.split_once('=')) {
            out.entry(s.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_credentials_come_first() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = filesecret\n",
        )
        .unwrap();
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "envsecret".into()),
            ("AWS_SESSION_TOKEN", "envtoken".into()),
            ("AWS_REGION", "eu-west-1".into()),
        ]);
        let a = resolve(&env, "").unwrap();
        assert_eq!(a.credentials.access_key_id, "AKIAENV");
        assert_eq!(a.credentials.session_token.as_deref(), Some("envtoken"));
        assert_eq!(a.region, "eu-west-1");
        assert_eq!(
            a.endpoint(Service::CodeBuild),
            "https://codebuild.eu-west-1.amazonaws.com"
        );
        let dbg = format!("{a:?}");
        assert!(
            !dbg.contains("envsecret") && !dbg.contains("envtoken"),
            "{dbg}"
        );
    }

    #[test]
    fn profiles_from_shared_files_with_region_and_endpoint() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/credentials"),
            "[default]\naws_access_key_id = D\naws_secret_access_key = d\n\n[ci]\naws_access_key_id = AKIACI\naws_secret_access_key = cisecret\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[default]\nregion = us-east-1\n[profile ci]\nregion = eu-central-1\nendpoint_url = http://127.0.0.1:9/\ns3 =\n  addressing_style = path\n",
        )
        .unwrap();
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("AWS_PROFILE", "ci".into()),
        ]);
        let a = resolve(&env, "").unwrap();
        assert_eq!(a.credentials.access_key_id, "AKIACI");
        assert_eq!(a.credentials.source, "profile ci");
        assert_eq!(a.region, "eu-central-1");
        assert_eq!(a.endpoint(Service::Logs), "http://127.0.0.1:9");
        assert!(a.s3_path_style());
        // The flag/config region wins; a service-specific endpoint wins over the general one.
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("AWS_ENDPOINT_URL", "http://general:1".into()),
            ("AWS_ENDPOINT_URL_S3", "http://s3only:2".into()),
        ]);
        let a = resolve(&env, "ap-south-1").unwrap();
        assert_eq!(a.credentials.access_key_id, "D");
        assert_eq!(a.region, "ap-south-1");
        assert_eq!(a.endpoint(Service::S3), "http://s3only:2");
        assert_eq!(a.endpoint(Service::CodeBuild), "http://general:1");
        assert_eq!(
            a.s3_object_url("b", "dockui/ctx 1.zip"),
            "http://s3only:2/b/dockui/ctx%201.zip"
        );
    }

    #[test]
    fn aws_default_endpoints_are_virtual_hosted() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "A".into()),
            ("AWS_SECRET_ACCESS_KEY", "s".into()),
            ("AWS_DEFAULT_REGION", "us-west-2".into()),
        ]);
        let a = resolve(&env, "").unwrap();
        assert!(!a.s3_path_style());
        assert_eq!(
            a.s3_object_url("bkt", "k/x.zip"),
            "https://bkt.s3.us-west-2.amazonaws.com/k/x.zip"
        );
    }

    #[test]
    fn missing_credentials_or_region_say_what_to_do() {
        let home = tempfile::tempdir().unwrap();
        let env = env_of(&[("HOME", home.path().display().to_string())]);
        let e = resolve(&env, "eu-west-1").unwrap_err();
        assert!(e.why.contains("no AWS credentials"), "{e}");
        assert!(e.what_to_do.contains("AWS_ACCESS_KEY_ID"), "{e}");
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("AWS_ACCESS_KEY_ID", "A".into()),
            ("AWS_SECRET_ACCESS_KEY", "s".into()),
        ]);
        let e = resolve(&env, "").unwrap_err();
        assert!(e.why.contains("no AWS region"), "{e}");
        // SSO profiles are named as such, not as "no credentials".
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[profile sso]\nsso_session = corp\nregion = eu-west-1\n",
        )
        .unwrap();
        let env = env_of(&[
            ("HOME", home.path().display().to_string()),
            ("AWS_PROFILE", "sso".into()),
        ]);
        let e = resolve(&env, "").unwrap_err();
        assert!(e.why.contains("sso_session"), "{e}");
    }

    #[test]
    fn credential_process_is_run() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(
            home.path().join(".aws/config"),
            "[default]\nregion = eu-west-1\ncredential_process = echo '{\"Version\":1,\"AccessKeyId\":\"AKIAPROC\",\"SecretAccessKey\":\"procsecret\"}'\n",
        )
        .unwrap();
        let env = env_of(&[("HOME", home.path().display().to_string())]);
        let a = resolve(&env, "").unwrap();
        assert_eq!(a.credentials.access_key_id, "AKIAPROC");
        assert_eq!(a.credentials.secrets(), vec!["procsecret".to_string()]);
    }
}
