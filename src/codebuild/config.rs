//! The `[codebuild]` section: where and how a cloud build runs when no engine is reachable (or with
//! `build --backend codebuild`). Flags override each key.
//!
//! ```toml
//! [codebuild]
//! project = "gpu-images"        # the CodeBuild project to start (it must exist; dockui never creates it)
//! region = ""                   # empty: AWS_REGION, AWS_DEFAULT_REGION, then the profile's region
//! s3_bucket = ""                # empty: dockui-codebuild-<account>-<region>... see `default_bucket`
//! compute_type = ""             # empty: the project's own; e.g. "BUILD_GENERAL1_MEDIUM"
//! timeout_s = 3600              # the build's timeout (CodeBuild counts whole minutes, 5..=2160)
//! wait = true                   # false: print the build id and return (`dockui status ID` follows it)
//! confirm = true                # false: start without the cost question (headless needs --yes otherwise)
//! poll_ms = 3000                # how often the build's phases and log are read while following it
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeBuildConfig {
    pub project: String,
    pub region: String,
    /// Empty: `dockui-<project>-<region>` (the bucket must exist: dockui never creates buckets).
    pub s3_bucket: String,
    /// Empty: the project's own compute type.
    pub compute_type: String,
    pub timeout_s: u64,
    pub wait: bool,
    pub confirm: bool,
    pub poll_ms: u64,
}

impl Default for CodeBuildConfig {
    fn default() -> Self {
        CodeBuildConfig {
            project: String::new(),
            region: String::new(),
            s3_bucket: String::new(),
            compute_type: String::new(),
            timeout_s: 3600,
            wait: true,
            confirm: true,
            poll_ms: 3000,
        }
    }
}

impl CodeBuildConfig {
    /// The bucket the context goes to: `s3_bucket`, else `dockui-<project>-<region>` (lower case, as S3
    /// bucket names must be), which the user creates once (`aws s3 mb s3://dockui-<project>-<region>`).
    pub fn bucket(&self, region: &str) -> String {
        if !self.s3_bucket.is_empty() {
            return self.s3_bucket.clone();
        }
        let name: String = format!("dockui-{}-{}", self.project, region)
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        name.chars()
            .take(63)
            .collect::<String>()
            .trim_end_matches('-')
            .to_string()
    }

    /// CodeBuild takes the timeout in whole minutes, 5 to 2160.
    pub fn timeout_minutes(&self) -> u64 {
        self.timeout_s.div_ceil(60).clamp(5, 2160)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_s == 0 {
            return Err("codebuild.timeout_s must be at least 1".into());
        }
        if self.poll_ms == 0 {
            return Err("codebuild.poll_ms must be at least 1".into());
        }
        if !self.compute_type.is_empty()
            && !self
                .compute_type
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "codebuild.compute_type must be a CodeBuild compute type such as \"BUILD_GENERAL1_MEDIUM\", not \"{}\"",
                self.compute_type
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bucket_is_named_after_project_and_region() {
        let c = CodeBuildConfig {
            project: "GPU_Images".into(),
            ..Default::default()
        };
        assert_eq!(c.bucket("eu-west-1"), "dockui-gpu-images-eu-west-1");
        let named = CodeBuildConfig {
            s3_bucket: "mine".into(),
            ..c
        };
        assert_eq!(named.bucket("eu-west-1"), "mine");
    }

    #[test]
    fn timeout_is_whole_minutes_within_codebuilds_range() {
        let mut c = CodeBuildConfig::default();
        assert_eq!(c.timeout_minutes(), 60);
        c.timeout_s = 61;
        assert_eq!(c.timeout_minutes(), 5);
        c.timeout_s = 3601;
        assert_eq!(c.timeout_minutes(), 61);
        c.timeout_s = 10_000_000;
        assert_eq!(c.timeout_minutes(), 2160);
    }

    #[test]
    fn compute_type_must_look_like_one() {
        let mut c = CodeBuildConfig::default();
        assert!(c.validate().is_ok());
        c.compute_type = "BUILD_GENERAL1_SMALL".into();
        assert!(c.validate().is_ok());
        c.compute_type = "small".into();
        assert!(c.validate().unwrap_err().contains("small"));
    }
}
