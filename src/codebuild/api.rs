//! The CodeBuild and CloudWatch Logs operations dockui uses, as typed calls over `AwsClient::json`.

use super::aws::Service;
use super::client::{AwsClient, AwsError};
use serde_json::{Value, json};

const CODEBUILD: &str = "CodeBuild_20161006";
const LOGS: &str = "Logs_20140328";

/// How CodeBuild gets an environment variable's value: only `Plaintext` values are visible in the
/// console and `BatchGetBuilds`; the others are names CodeBuild resolves (and masks in its log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    Plaintext,
    ParameterStore,
    SecretsManager,
}

impl EnvKind {
    fn as_str(self) -> &'static str {
        match self {
            EnvKind::Plaintext => "PLAINTEXT",
            EnvKind::ParameterStore => "PARAMETER_STORE",
            EnvKind::SecretsManager => "SECRETS_MANAGER",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    pub kind: EnvKind,
}

/// StartBuild with the overrides dockui sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartBuild {
    pub project: String,
    /// `bucket/key` of the zipped context.
    pub source_location: String,
    pub env: Vec<EnvVar>,
    /// The generated buildspec, when the project has none.
    pub buildspec: Option<String>,
    pub compute_type: Option<String>,
    pub timeout_minutes: u64,
}

impl StartBuild {
    pub fn body(&self) -> Value {
        let mut b = json!({
            "projectName": self.project,
            "sourceTypeOverride": "S3",
            "sourceLocationOverride": self.source_location,
            // Building images needs the Docker daemon inside the build container.
            "privilegedModeOverride": true,
            "timeoutInMinutesOverride": self.timeout_minutes,
            "environmentVariablesOverride": self.env.iter().map(|e| json!({
                "name": e.name, "value": e.value, "type": e.kind.as_str()
            })).collect::<Vec<_>>(),
        });
        if let Some(spec) = &self.buildspec {
            b["buildspecOverride"] = json!(spec);
        }
        if let Some(c) = &self.compute_type {
            b["computeTypeOverride"] = json!(c);
        }
        b
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub kind: String,
    /// SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED; empty while it runs.
    pub status: String,
    pub duration_s: Option<f64>,
    /// CodeBuild's messages for a failed phase ("COMMAND_EXECUTION_ERROR: Error while executing ...").
    pub messages: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub id: String,
    pub project: String,
    /// SUCCEEDED, FAILED, FAULT, TIMED_OUT, IN_PROGRESS, STOPPED.
    pub status: String,
    pub current_phase: String,
    pub complete: bool,
    pub phases: Vec<Phase>,
    pub log_group: String,
    pub log_stream: String,
    pub compute_type: String,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
}

impl Build {
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    pub fn duration_s(&self) -> Option<f64> {
        Some(self.end_time? - self.start_time?).filter(|d| *d >= 0.0)
    }

    fn from_json(v: &Value) -> Build {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let id = s(&v["id"]);
        let project = Some(s(&v["projectName"]))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| id.split(':').next().unwrap_or_default().to_string());
        // CodeBuild's default log destination; a project may name its own group (and moto names "null").
        let named = |x: &Value| Some(s(x)).filter(|g| !g.is_empty() && g != "null");
        let log_group =
            named(&v["logs"]["groupName"]).unwrap_or_else(|| format!("/aws/codebuild/{project}"));
        let log_stream = named(&v["logs"]["streamName"])
            .unwrap_or_else(|| id.rsplit(':').next().unwrap_or_default().to_string());
        let status = s(&v["buildStatus"]);
        Build {
            complete: v["buildComplete"].as_bool().unwrap_or(false)
                || (!status.is_empty() && status != "IN_PROGRESS"),
            id,
            project,
            status,
            current_phase: s(&v["currentPhase"]),
            phases: v["phases"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Phase {
                    kind: s(&p["phaseType"]),
                    status: s(&p["phaseStatus"]),
                    duration_s: p["durationInSeconds"].as_f64(),
                    messages: p["contexts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| {
                            format!("{}: {}", s(&c["statusCode"]), s(&c["message"]))
                                .trim_matches([':', ' '])
                                .to_string()
                        })
                        .filter(|m| !m.is_empty())
                        .collect(),
                })
                .collect(),
            log_group,
            log_stream,
            compute_type: s(&v["environment"]["computeType"]),
            start_time: time(&v["startTime"]),
            end_time: time(&v["endTime"]),
        }
    }
}

/// JSON 1.1 timestamps are epoch seconds; some servers send ISO 8601 strings.
fn time(v: &Value) -> Option<f64> {
    if let Some(f) = v.as_f64() {
        return Some(f);
    }
    let s = v.as_str()?;
    // YYYY-MM-DDTHH:MM:SS[.fff][Z|+00:00]
    let (date, rest) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let clock: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':' || *c == '.')
        .collect();
    let mut t = clock.split(':');
    let (hh, mm): (f64, f64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let ss: f64 = t.next().unwrap_or("0").parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86400.0 + hh * 3600.0 + mm * 60.0 + ss)
}

/// What dockui needs from the project: does it carry a buildspec, which compute type does it use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub buildspec: String,
    pub compute_type: String,
}

pub async fn project(c: &AwsClient, name: &str) -> Result<Option<Project>, AwsError> {
    let v = c
        .json(
            Service::CodeBuild,
            &format!("{CODEBUILD}.BatchGetProjects"),
            &json!({ "names": [name] }),
        )
        .await?;
    Ok(v["projects"]
        .as_array()
        .and_then(|a| a.first())
        .map(|p| Project {
            name: p["name"].as_str().unwrap_or(name).to_string(),
            buildspec: p["source"]["buildspec"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            compute_type: p["environment"]["computeType"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }))
}

pub async fn start_build(c: &AwsClient, req: &StartBuild) -> Result<Build, AwsError> {
    let v = c
        .json(
            Service::CodeBuild,
            &format!("{CODEBUILD}.StartBuild"),
            &req.body(),
        )
        .await?;
    let b = Build::from_json(&v["build"]);
    if b.id.is_empty() {
        return Err(AwsError::Other(
            "StartBuild answered without a build id".into(),
        ));
    }
    Ok(b)
}

pub async fn get_build(c: &AwsClient, id: &str) -> Result<Option<Build>, AwsError> {
    let v = c
        .json(
            Service::CodeBuild,
            &format!("{CODEBUILD}.BatchGetBuilds"),
            &json!({ "ids": [id] }),
        )
        .await?;
    Ok(v["builds"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["id"].as_str() == Some(id)))
        .map(Build::from_json))
}

pub async fn stop_build(c: &AwsClient, id: &str) -> Result<(), AwsError> {
    c.json(
        Service::CodeBuild,
        &format!("{CODEBUILD}.StopBuild"),
        &json!({ "id": id }),
    )
    .await
    .map(|_| ())
}

/// Newest first, as CodeBuild lists them.
pub async fn list_builds(c: &AwsClient, project: &str) -> Result<Vec<String>, AwsError> {
    let v = c
        .json(
            Service::CodeBuild,
            &format!("{CODEBUILD}.ListBuildsForProject"),
            &json!({ "projectName": project, "sortOrder": "DESCENDING" }),
        )
        .await?;
    Ok(v["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_str().map(str::to_string))
        .collect())
}

/// One page of a build's log, from `token` on (None: from the start). Returns the messages and the token
/// for the next call; a stream that does not exist yet (the build is still provisioning) is an empty page.
pub async fn log_page(
    c: &AwsClient,
    group: &str,
    stream: &str,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let mut body = json!({
        "logGroupName": group,
        "logStreamName": stream,
        "startFromHead": true,
    });
    if let Some(t) = token {
        body["nextToken"] = json!(t);
    }
    let v = match c
        .json(Service::Logs, &format!("{LOGS}.GetLogEvents"), &body)
        .await
    {
        Ok(v) => v,
        Err(e) if e.code() == Some("ResourceNotFoundException") => {
            return Ok((Vec::new(), token.map(str::to_string)));
        }
        Err(e) => return Err(e),
    };
    let lines = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .flat_map(|m| {
            m.trim_end_matches(['\n', '\r'])
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let next = v["nextForwardToken"]
        .as_str()
        .map(str::to_string)
        .or_else(|| token.map(str::to_string));
    Ok((lines, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_defaults_to_codebuilds_log_names_when_the_answer_has_none() {
        let b = Build::from_json(&json!({
            "id": "imgs:1b2c", "buildStatus": "IN_PROGRESS", "currentPhase": "BUILD",
            "logs": {"groupName": null},
            "startTime": 1700000000.5, "phases": [
                {"phaseType": "SUBMITTED", "phaseStatus": "SUCCEEDED", "durationInSeconds": 0},
                {"phaseType": "BUILD", "phaseStatus": "FAILED",
                 "contexts": [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": "exit status 1"}]}
            ]
        }));
        assert_eq!(b.project, "imgs");
        assert_eq!(b.log_group, "/aws/codebuild/imgs");
        assert_eq!(b.log_stream, "1b2c");
        assert!(!b.complete);
        assert_eq!(
            b.phases[1].messages,
            vec!["COMMAND_EXECUTION_ERROR: exit status 1"]
        );
        let named = Build::from_json(&json!({
            "id": "imgs:9", "buildStatus": "FAILED",
            "logs": {"groupName": "team", "streamName": "s/9"},
            "startTime": "2026-11-30T10:00:00.000Z", "endTime": "2026-11-30T10:02:30.000Z"
        }));
        assert_eq!(
            (named.log_group.as_str(), named.log_stream.as_str()),
            ("team", "s/9")
        );
        assert!(named.complete && !named.succeeded());
        assert_eq!(named.duration_s(), Some(150.0));
    }

    #[test]
    fn start_build_body_carries_the_overrides() {
        let req = StartBuild {
            project: "imgs".into(),
            source_location: "bkt/dockui/abc.zip".into(),
            env: vec![EnvVar {
                name: "HF_TOKEN".into(),
                value: "/team/hf".into(),
                kind: EnvKind::ParameterStore,
            }],
            buildspec: Some("version: 0.2\n".into()),
            compute_type: None,
            timeout_minutes: 30,
        };
        let b = req.body();
        assert_eq!(b["sourceTypeOverride"], "S3");
        assert_eq!(b["sourceLocationOverride"], "bkt/dockui/abc.zip");
        assert_eq!(
            b["environmentVariablesOverride"][0]["type"],
            "PARAMETER_STORE"
        );
        assert_eq!(b["buildspecOverride"], "version: 0.2\n");
        assert!(b.get("computeTypeOverride").is_none());
        assert_eq!(time(&json!("1970-01-02T00:00:01Z")), Some(86401.0));
    }
}
