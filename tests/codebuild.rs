//! The AWS CodeBuild fallback against a real AWS-API server on loopback: moto's server (S3, CodeBuild,
//! CloudWatch Logs), started per test on a free port with request recording on, dummy credentials and
//! `AWS_ENDPOINT_URL`. The test's own side (creating the bucket and project, reading the uploaded object,
//! writing log events: moto runs no builds) goes through boto3 from moto's venv, an independent client.
//! No test talks to the real AWS.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "AKIADOCKUITESTKEY01";
// Distinct strings a test can look for in every output: they must never appear.
const SECRET_KEY: &str = "dockuiTestSecretKey+never/printed0123456789";
const SESSION_TOKEN: &str = "dockuiTestSessionTokenNeverPrinted987";
const BUCKET: &str = "dockui-ctx";
const PROJECT: &str = "imgs";
const IMAGE: &str = "127.0.0.1:5999/team/app";

struct Moto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// The credentials dockui and the test use (dummy ones, or an IAM user's when moto checks signatures).
    key: String,
    secret: String,
    token: Option<String>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// moto with its IAM access control on: after the first three calls (which make a user, its policy and
    /// its access key), every request's SigV4 signature is checked against that key.
    fn start_with_signature_checks() -> Moto {
        let mut moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
        let created = moto.py(
            "iam = c('iam')\n\
             iam.create_user(UserName='dockui')\n\
             iam.put_user_policy(UserName='dockui', PolicyName='all', PolicyDocument=json.dumps(\n\
               {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))\n\
             k = iam.create_access_key(UserName='dockui')['AccessKey']\n\
             print(k['AccessKeyId'], k['SecretAccessKey'])",
        );
        let mut words = created.split_whitespace();
        moto.key = words.next().unwrap().to_string();
        moto.secret = words.next().unwrap().to_string();
        moto.token = None;
        moto
    }

    fn start_with(extra_env: &[(&str, &str)]) -> Moto {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = common::moto_server();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording.jsonl"))
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let moto = Moto {
            child,
            port,
            dir,
            key: ACCESS_KEY.into(),
            secret: SECRET_KEY.into(),
            token: Some(SESSION_TOKEN.into()),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn aws_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", self.key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ];
        if let Some(t) = &self.token {
            env.push(("AWS_SESSION_TOKEN", t.clone()));
        }
        env
    }

    /// Run Python (boto3, from moto's venv) against this server; its stdout.
    fn py(&self, script: &str) -> String {
        let shebang = std::fs::read_to_string(common::moto_server()).unwrap_or_default();
        let python = shebang
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#!"))
            .map(|p| p.trim().to_string())
            .unwrap_or_else(|| "python3".into());
        let mut cmd = Command::new(python);
        cmd.arg("-c")
            .arg(format!(
                "import boto3, json, io, zipfile, sys, time\n\
                 def c(s): return boto3.client(s, endpoint_url='{}', region_name='us-east-1')\n{script}",
                self.endpoint()
            ))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in self.aws_env() {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The bucket and a CodeBuild project without a buildspec, as a user would have them.
    fn setup(&self) {
        self.py(&format!(
            "c('s3').create_bucket(Bucket='{BUCKET}')\n\
             c('codebuild').create_project(name='{PROJECT}',\n\
               source={{'type': 'S3', 'location': '{BUCKET}/none.zip'}},\n\
               artifacts={{'type': 'NO_ARTIFACTS'}},\n\
               environment={{'type': 'LINUX_CONTAINER', 'image': 'aws/codebuild/standard:7.0',\n\
                            'computeType': 'BUILD_GENERAL1_SMALL'}},\n\
               serviceRole='arn:aws:iam::123456789012:role/codebuild')\n"
        ));
    }

    /// A build's log where CodeBuild writes it by default (moto runs no builds: the test writes it):
    /// `events` is a Python list of log events, `now` the time in ms.
    fn put_build_log(&self, stream: &str, events: &str) {
        self.py(&format!(
            "l = c('logs')\n\
             l.create_log_group(logGroupName='/aws/codebuild/{PROJECT}')\n\
             l.create_log_stream(logGroupName='/aws/codebuild/{PROJECT}', logStreamName='{stream}')\n\
             now = int(time.time() * 1000)\n\
             l.put_log_events(logGroupName='/aws/codebuild/{PROJECT}', logStreamName='{stream}',\n\
               logEvents={events})\n"
        ));
    }

    /// Requests the server received (moto's recorder): (X-Amz-Target or METHOD path, JSON body or raw).
    fn requests(&self) -> Vec<(String, String)> {
        let text =
            std::fs::read_to_string(self.dir.path().join("recording.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let target = v["headers"]["X-Amz-Target"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!(
                            "{} {}",
                            v["method"].as_str().unwrap_or_default(),
                            v["url"].as_str().unwrap_or_default()
                        )
                    });
                let raw = v["body"].as_str().unwrap_or_default();
                let body = if v["body_encoded"] == true {
                    use base64::Engine;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .unwrap_or_default();
                    String::from_utf8_lossy(&bytes).into_owned()
                } else {
                    raw.to_string()
                };
                (target, body)
            })
            .collect()
    }

    fn start_build_requests(&self) -> Vec<serde_json::Value> {
        self.requests()
            .into_iter()
            .filter(|(t, _)| t == "CodeBuild_20161006.StartBuild")
            .map(|(_, b)| serde_json::from_str(&b).expect("StartBuild body is JSON"))
            .collect()
    }
}

struct Project {
    home: tempfile::TempDir,
    dir: PathBuf,
}

/// A small project whose .dockerignore drops secrets/ and *.log (but keeps keep.log).
fn project(codebuild: &str) -> Project {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("app");
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY src/ /app/\nCMD [\"python\", \"main.py\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join(".dockerignore"), "secrets\n*.log\n!keep.log\n").unwrap();
    std::fs::write(dir.join("src/main.py"), "print('hello from the cloud')\n").unwrap();
    std::fs::write(dir.join("secrets/id_rsa"), "PRIVATE KEY").unwrap();
    std::fs::write(dir.join("build.log"), "noise").unwrap();
    std::fs::write(dir.join("keep.log"), "kept").unwrap();
    std::fs::write(
        dir.join(".dockui.toml"),
        format!(
            "[build]\nimage = \"{IMAGE}\"\ntag = \"v1\"\n[smoke]\ninfer = false\ncommands = [\"python -c 'import main'\"]\n\
             [codebuild]\n{codebuild}\n"
        ),
    )
    .unwrap();
    Project { home, dir }
}

/// moto with the bucket and the CodeBuild project, and a project configured for them.
fn moto_project() -> (Moto, Project) {
    let moto = Moto::start();
    moto.setup();
    (moto, project(CONFIG))
}

/// `build <project> --backend codebuild` and `more`.
fn codebuild_args<'a>(p: &'a Project, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["build", p.dir.to_str().unwrap(), "--backend", "codebuild"];
    args.extend_from_slice(more);
    args
}

/// Starts the dockui binary where no container engine answers: in a private mount namespace whose `/run`
/// (so `/var/run/docker.sock` and Podman's sockets) is an empty tmpfs. The host's mounts are untouched;
/// needs root (as CI and this machine run the tests).
const NO_ENGINE: &str = "mount -t tmpfs dockui-no-engine /run && exec \"$0\" \"$@\"";

fn no_engine_command(home: &Path) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "--",
        "sh",
        "-c",
        NO_ENGINE,
        env!("CARGO_BIN_EXE_dockui"),
    ]);
    for (k, v) in common::isolated_env(home) {
        cmd.env(k, v);
    }
    // Nothing may point auto at an engine: it must find none and look further.
    for k in [
        "DOCKER_HOST",
        "DOCKER_CONTEXT",
        "BUILDKIT_HOST",
        "XDG_RUNTIME_DIR",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("DOCKER_CONFIG", home.join("no-docker-config"));
    cmd
}

fn dockui(moto: Option<&Moto>, p: &Project, args: &[&str]) -> Output {
    let mut cmd = no_engine_command(p.home.path());
    cmd.env("HOME", p.home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .args(args)
        .stdin(Stdio::null());
    match moto {
        Some(m) => {
            for (k, v) in m.aws_env() {
                cmd.env(k, v);
            }
        }
        // A test that wrote ~/.aws uses its `ci` profile.
        None if p.home.path().join(".aws").is_dir() => {
            cmd.env("AWS_PROFILE", "ci");
        }
        None => {}
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The exit code must be `code` (both outputs shown otherwise); stdout and stderr.
#[track_caller]
fn exited(o: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = text(o);
    assert_eq!(o.status.code(), Some(code), "{stdout}\n{stderr}");
    (stdout, stderr)
}

/// The credentials' secret parts appear nowhere: stdout, stderr, and every file dockui wrote (its log, the
/// build records, the project) under the test's home (except the test's own ~/.aws).
fn assert_no_secrets(p: &Project, outputs: &[&Output]) {
    for o in outputs {
        let (out, err) = text(o);
        for s in [SECRET_KEY, SESSION_TOKEN] {
            assert!(
                !out.contains(s) && !err.contains(s),
                "a secret was printed:\n{out}\n{err}"
            );
        }
    }
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            // The test's own shared credentials file holds them by design.
            if p.ends_with(".aws") {
                continue;
            }
            if p.is_dir() {
                walk(&p, found);
            } else {
                found.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(p.home.path(), &mut files);
    assert!(!files.is_empty());
    for f in files {
        let mut bytes = Vec::new();
        if let Ok(mut file) = std::fs::File::open(&f) {
            let _ = file.read_to_end(&mut bytes);
        }
        let t = String::from_utf8_lossy(&bytes);
        for s in [SECRET_KEY, SESSION_TOKEN] {
            assert!(!t.contains(s), "a secret is in {}", f.display());
        }
    }
}

const CONFIG: &str = "project = \"imgs\"\ns3_bucket = \"dockui-ctx\"\npoll_ms = 100";

#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn without_yes_headless_refuses_with_the_cost_and_the_proposed_buildspec() {
    let (moto, p) = moto_project();
    let out = dockui(Some(&moto), &p, &codebuild_args(&p, &[]));
    let (_, stderr) = exited(&out, 2);
    for want in [
        "costs money",
        "BUILD_GENERAL1_SMALL",
        "expected time: 10m00s",
        "about 0.05 USD",
        "--yes",
        "+++ b/buildspec.yml",
        "+version: 0.2",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from:\n{stderr}");
    }
    // Nothing uploaded, nothing started, nothing written.
    let reqs = moto.requests();
    assert!(
        !reqs
            .iter()
            .any(|(t, _)| t.ends_with("StartBuild") || t.contains("/dockui-ctx/dockui/")),
        "{reqs:?}"
    );
    assert!(!p.dir.join("buildspec.yml").exists());
    // JSON callers get the same answer as an object.
    let json = dockui(Some(&moto), &p, &codebuild_args(&p, &["--format", "json"]));
    assert_eq!(json.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["started"], false);
    assert_eq!(v["estimate"]["compute_type"], "BUILD_GENERAL1_SMALL");
    assert!(
        (v["estimate"]["cost"].as_f64().unwrap() - 0.05).abs() < 1e-9,
        "{v}"
    );
    assert!(
        v["proposed_buildspec"]
            .as_str()
            .unwrap()
            .contains("docker build")
    );
    assert!(
        !moto
            .requests()
            .iter()
            .any(|(t, _)| t.ends_with("StartBuild"))
    );
    assert_no_secrets(&p, &[&out, &json]);
}

#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn build_uploads_the_filtered_context_and_starts_with_the_overrides() {
    let (moto, p) = moto_project();
    let out = dockui(
        Some(&moto),
        &p,
        &codebuild_args(
            &p,
            &[
                "--yes",
                "--format",
                "json",
                "--build-arg",
                "PY=3.11",
                "--build-arg",
                "HF_TOKEN=ssm:/team/hf",
            ],
        ),
    );
    let (stdout, stderr) = exited(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("JSON result");
    assert_eq!(v["mode"], "codebuild");
    assert_eq!(v["success"], true);
    assert_eq!(v["image"], format!("{IMAGE}:v1"));
    let id = v["build_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("imgs:"), "{v}");
    assert!(v["build_time_s"].as_f64().is_some());
    assert_eq!(v["attempts"].as_array().unwrap().len(), 1);
    assert!(v["fixes_applied"].as_array().unwrap().is_empty());
    // Phases streamed to stderr.
    assert!(
        stderr.contains("codebuild: phase BUILD SUCCEEDED"),
        "{stderr}"
    );
    assert!(
        stderr.contains("codebuild: started build imgs:"),
        "{stderr}"
    );

    // StartBuild as the server received it.
    let starts = moto.start_build_requests();
    assert_eq!(starts.len(), 1);
    let s = &starts[0];
    assert_eq!(s["projectName"], PROJECT);
    assert_eq!(s["sourceTypeOverride"], "S3");
    assert_eq!(s["privilegedModeOverride"], true);
    let location = s["sourceLocationOverride"].as_str().unwrap();
    let key = location.strip_prefix("dockui-ctx/").expect(location);
    let env: Vec<(String, String, String)> = s["environmentVariablesOverride"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
                e["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has =
        |n: &str, val: &str, ty: &str| env.iter().any(|e| e == &(n.into(), val.into(), ty.into()));
    assert!(has("DOCKUI_IMAGE_REPO", IMAGE, "PLAINTEXT"), "{env:?}");
    assert!(has("DOCKUI_IMAGE_TAG", "v1", "PLAINTEXT"), "{env:?}");
    assert!(has("DOCKUI_ARG_PY", "3.11", "PLAINTEXT"), "{env:?}");
    assert!(
        has("DOCKUI_ARG_HF_TOKEN", "/team/hf", "PARAMETER_STORE"),
        "{env:?}"
    );
    assert!(
        has("DOCKUI_BUILD_ARGS", "HF_TOKEN PY", "PLAINTEXT"),
        "{env:?}"
    );
    // The project has no buildspec: dockui's, with the smoke command, went along and into the project.
    let spec = s["buildspecOverride"].as_str().expect("buildspecOverride");
    assert!(
        spec.contains("docker build") && spec.contains("import main"),
        "{spec}"
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join("buildspec.yml")).unwrap(),
        spec
    );
    // The build we started is the one BatchGetBuilds knows.
    let got = moto.py(&format!(
        "print(json.dumps(c('codebuild').batch_get_builds(ids=['{id}'])['builds'][0]['id']))"
    ));
    assert_eq!(got.trim(), format!("\"{id}\""));

    // The uploaded object: a zip honouring .dockerignore, read back with Python's zipfile.
    let names = moto.py(&format!(
        "b = c('s3').get_object(Bucket='{BUCKET}', Key='{key}')['Body'].read()\n\
         z = zipfile.ZipFile(io.BytesIO(b))\n\
         assert z.testzip() is None\n\
         print(json.dumps(sorted(z.namelist())))\n\
         sys.stderr.write(z.read('src/main.py').decode())"
    ));
    let names: Vec<String> = serde_json::from_str(names.trim()).unwrap();
    for want in [
        "Dockerfile",
        ".dockerignore",
        "src/main.py",
        "keep.log",
        ".dockui.toml",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not uploaded: {names:?}"
        );
    }
    for gone in ["secrets/id_rsa", "secrets/", "build.log"] {
        assert!(
            !names.iter().any(|n| n == gone),
            "{gone} uploaded: {names:?}"
        );
    }
    assert_no_secrets(&p, &[&out]);
}

#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn no_wait_prints_the_id_and_status_and_logs_follow_it_later() {
    let (moto, p) = moto_project();
    let out = dockui(
        Some(&moto),
        &p,
        &codebuild_args(&p, &["--yes", "--no-wait"]),
    );
    let (stdout, _) = exited(&out, 0);
    let id = stdout.trim().to_string();
    assert!(id.starts_with("imgs:") && !id.contains('\n'), "{stdout}");
    // Only started: nobody asked for its state yet.
    assert!(
        !moto
            .requests()
            .iter()
            .any(|(t, _)| t.ends_with("BatchGetBuilds"))
    );

    // The build's log, where CodeBuild writes it by default (moto runs no builds: the test writes it).
    let stream = id.rsplit(':').next().unwrap();
    moto.put_build_log(
        stream,
        &format!(
            "[{{'timestamp': now, 'message': '[Container] Entering phase BUILD'}},\n\
             {{'timestamp': now + 1, 'message': 'Step 1/4 : FROM python:3.11-slim'}},\n\
             {{'timestamp': now + 2, 'message': 'dockui: pushed {IMAGE}@sha256:{}'}}]",
            "ab".repeat(32)
        ),
    );

    let status = dockui(Some(&moto), &p, &["status", &id]);
    let (s_out, s_err) = text(&status);
    assert_eq!(status.code_or(), 0, "{s_out}\n{s_err}");
    assert!(s_out.starts_with(&format!("{id}: SUCCEEDED")), "{s_out}");
    assert!(
        s_out.contains("BUILD") && s_out.contains(&format!("/aws/codebuild/{PROJECT} {stream}")),
        "{s_out}"
    );
    let status_json = dockui(Some(&moto), &p, &["status", &id, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&status_json.stdout).unwrap();
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["success"], true);
    assert!(
        v["phases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["phase"] == "BUILD")
    );

    let logs = dockui(Some(&moto), &p, &["logs", &id]);
    let (l_out, l_err) = text(&logs);
    assert_eq!(logs.code_or(), 0, "{l_out}\n{l_err}");
    let at = |needle: &str| {
        l_out
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{l_out}"))
    };
    assert!(
        at("Entering phase BUILD") < at("Step 1/4 : FROM python")
            && at("Step 1/4") < at("dockui: pushed")
    );

    // `dockui logs` lists it after the local history, with the state `status` saw.
    let list = dockui(Some(&moto), &p, &["logs"]);
    assert!(
        text(&list).0.contains(&format!("{id}  SUCCEEDED")),
        "{}",
        text(&list).0
    );
    // An id CodeBuild does not know is an error that names it.
    let unknown = dockui(
        Some(&moto),
        &p,
        &["status", "imgs:00000000-0000-0000-0000-000000000000"],
    );
    assert_eq!(unknown.code_or(), 2);
    assert!(
        text(&unknown).1.contains("no CodeBuild build imgs:0000"),
        "{}",
        text(&unknown).1
    );
    assert_no_secrets(&p, &[&out, &status, &status_json, &logs, &unknown]);
}

#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn auto_builds_on_codebuild_when_no_engine_answers() {
    let (moto, p) = moto_project();
    // Credentials, region and endpoint from a named profile in the shared files, as the AWS CLI reads them.
    let aws = p.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!("[default]\naws_access_key_id = WRONG\naws_secret_access_key = wrong\n\n[ci]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\naws_session_token = {SESSION_TOKEN}\n"),
    )
    .unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[profile ci]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let out = dockui(
        None,
        &p,
        &[
            "build",
            p.dir.to_str().unwrap(),
            "--yes",
            "--format",
            "json",
        ],
    );
    let (stdout, stderr) = exited(&out, 0);
    assert!(
        stderr.contains("passed over: no Docker socket at /var/run/docker.sock")
            && stderr.contains("dockui: building on codebuild codebuild://imgs@us-east-1"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["mode"], "codebuild");
    assert_eq!(moto.start_build_requests().len(), 1);
    assert_no_secrets(&p, &[&out]);
}

#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn a_literal_secret_build_arg_is_refused_before_anything_is_sent() {
    let (moto, p) = moto_project();
    let out = dockui(
        Some(&moto),
        &p,
        &codebuild_args(
            &p,
            &["--yes", "--build-arg", "HF_TOKEN=hf_literalSecretValue42"],
        ),
    );
    let (stdout, stderr) = exited(&out, 2);
    assert!(
        stderr.contains("HF_TOKEN looks secret") && stderr.contains("ssm:"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("hf_literalSecretValue42") && !stderr.contains("hf_literalSecretValue42")
    );
    assert!(moto.start_build_requests().is_empty());
}

/// No engine and no CodeBuild configuration: the error says what to start or configure.
#[test]
fn auto_without_engine_or_codebuild_says_what_to_install_or_configure() {
    let p = project("");
    let out = dockui(
        None,
        &p,
        &["build", p.dir.to_str().unwrap(), "--format", "json"],
    );
    let (_, stderr) = exited(&out, 2);
    assert!(
        stderr.contains("no backend answers here")
            && stderr.contains("docker (local socket)")
            && stderr.contains(
                "codebuild ([codebuild] project): no CodeBuild project configured ([codebuild] project is empty); set [codebuild] project"
            ),
        "{stderr}"
    );
}

/// Credentials missing: `--backend codebuild` says where AWS tools look and what to do.
#[test]
fn codebuild_without_credentials_says_what_to_do() {
    let p = project(CONFIG);
    let out = dockui(None, &p, &codebuild_args(&p, &["--region", "eu-west-1"]));
    let (_, stderr) = exited(&out, 2);
    assert!(
        stderr.contains("no AWS credentials") && stderr.contains("AWS_ACCESS_KEY_ID"),
        "{stderr}"
    );
}

trait CodeOr {
    fn code_or(&self) -> i32;
}

impl CodeOr for Output {
    fn code_or(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

impl FakeAws {
    fn dockui(&self, p: &Project) -> Command {
        let mut cmd = common::dockui(p.home.path());
        cmd.env("HOME", p.home.path())
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env(
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
        cmd
    }
}

/// moto's builds always succeed, so a failing CodeBuild run is played by a small fake of the three APIs
/// (the only fake here): the first build fails in BUILD with apt's "Abort." in its log, the second succeeds.
/// The failure must go through the same classification, fix and retry policy as a local build.
struct FakeAws {
    port: u16,
    starts: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    stops: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeAws {
    /// `hang`: builds stay IN_PROGRESS until StopBuild.
    fn start(hang: bool) -> FakeAws {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let starts: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
        let seen = starts.clone();
        let stops: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let stopped = stops.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let seen = seen.clone();
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut conn = conn;
                    loop {
                        let mut head = Vec::new();
                        loop {
                            let mut line = String::new();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            head.push(line.trim_end().to_string());
                        }
                        let header = |name: &str| {
                            head.iter().find_map(|h| {
                                let (k, v) = h.split_once(':')?;
                                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                            })
                        };
                        let mut body = Vec::new();
                        if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
                            loop {
                                let mut size = String::new();
                                reader.read_line(&mut size).unwrap();
                                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                                let mut chunk = vec![0; n + 2];
                                reader.read_exact(&mut chunk).unwrap();
                                if n == 0 {
                                    break;
                                }
                                body.extend_from_slice(&chunk[..n]);
                            }
                        } else if let Some(n) = header("content-length") {
                            let mut b = vec![0; n.parse().unwrap()];
                            reader.read_exact(&mut b).unwrap();
                            body = b;
                        }
                        let target = header("x-amz-target").unwrap_or_default();
                        let req: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        let n = seen.lock().unwrap().len();
                        let answer = match target.rsplit('.').next().unwrap_or_default() {
                            "" => serde_json::Value::Null, // S3 PutObject
                            "BatchGetProjects" => serde_json::json!({"projects": [{
                                "name": PROJECT, "source": {"buildspec": "version: 0.2\n"},
                                "environment": {"computeType": "BUILD_GENERAL1_SMALL"}}]}),
                            "StartBuild" => {
                                seen.lock().unwrap().push(req);
                                serde_json::json!({"build": {"id": format!("{PROJECT}:run-{}", n + 1),
                                    "buildStatus": "IN_PROGRESS", "currentPhase": "QUEUED"}})
                            }
                            "StopBuild" => {
                                let id = req["id"].as_str().unwrap_or_default().to_string();
                                stopped.lock().unwrap().push(id.clone());
                                serde_json::json!({"build": {"id": id, "buildStatus": "STOPPED"}})
                            }
                            "BatchGetBuilds" if hang => {
                                let id = req["ids"][0].as_str().unwrap_or_default().to_string();
                                serde_json::json!({"builds": [{"id": id, "buildStatus": "IN_PROGRESS",
                                    "currentPhase": "BUILD", "phases": [{"phaseType": "BUILD"}]}]})
                            }
                            "BatchGetBuilds" => {
                                let id = req["ids"][0].as_str().unwrap_or_default().to_string();
                                let failed = id.ends_with("run-1");
                                serde_json::json!({"builds": [{
                                "id": id, "projectName": PROJECT,
                                "buildStatus": if failed { "FAILED" } else { "SUCCEEDED" },
                                "currentPhase": "COMPLETED", "buildComplete": true,
                                "startTime": 1_700_000_000.0, "endTime": 1_700_000_090.0,
                                "phases": [
                                    {"phaseType": "BUILD", "phaseStatus": if failed { "FAILED" } else { "SUCCEEDED" },
                                     "durationInSeconds": 80,
                                     "contexts": if failed { serde_json::json!([{"statusCode": "COMMAND_EXECUTION_ERROR",
                                        "message": "Error while executing command: docker build. Reason: exit status 1"}]) }
                                        else { serde_json::json!([]) }}
                                ]}]})
                            }
                            "GetLogEvents" => {
                                let failed = req["logStreamName"] == "run-1";
                                if req["nextToken"].is_string() {
                                    serde_json::json!({"events": [], "nextForwardToken": "f/1"})
                                } else if failed {
                                    serde_json::json!({"events": [
                                        {"timestamp": 1, "message": "Step 2/3 : RUN apt-get update && apt-get install curl\n"},
                                        {"timestamp": 2, "message": "Do you want to continue? [Y/n] Abort.\n"},
                                        {"timestamp": 3, "message": "The command '/bin/sh -c apt-get update && apt-get install curl' returned a non-zero code: 1\n"}],
                                        "nextForwardToken": "f/1"})
                                } else {
                                    serde_json::json!({"events": [{"timestamp": 1, "message": "Successfully built 0123abcd\n"}],
                                        "nextForwardToken": "f/1"})
                                }
                            }
                            other => panic!("unexpected call {other}"),
                        };
                        let text = if answer.is_null() {
                            String::new()
                        } else {
                            answer.to_string()
                        };
                        let _ = write!(
                            conn,
                            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{text}",
                            text.len()
                        );
                    }
                });
            }
        });
        FakeAws {
            port,
            starts,
            stops,
        }
    }
}

#[test]
fn a_failed_codebuild_run_is_classified_fixed_and_retried_like_a_local_one() {
    let fake = FakeAws::start(false);
    let p = project(CONFIG);
    std::fs::write(
        p.dir.join("Dockerfile"),
        "FROM debian:12\nRUN apt-get update && apt-get install curl\nCMD [\"curl\", \"--version\"]\n",
    )
    .unwrap();
    let mut cmd = fake.dockui(&p);
    cmd.args(codebuild_args(
        &p,
        &["--yes", "--auto-fix", "safe", "--format", "json"],
    ));
    let out = cmd.output().unwrap();
    let (stdout, stderr) = exited(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["mode"], "codebuild");
    assert_eq!(v["build_id"], "imgs:run-2");
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{v}");
    assert_eq!(
        attempts[0]["diagnosis"]["signature"], "apt-confirm-abort",
        "{v}"
    );
    assert!(
        attempts[0]["error"]
            .as_str()
            .unwrap()
            .contains("FAILED in phase BUILD"),
        "{v}"
    );
    assert!(
        v["fixes_applied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().contains("DL3014")),
        "{v}"
    );
    // The fix was written before the retry, and the retry uploaded the fixed Dockerfile.
    assert!(
        std::fs::read_to_string(p.dir.join("Dockerfile"))
            .unwrap()
            .contains("install -y curl")
            || std::fs::read_to_string(p.dir.join("Dockerfile"))
                .unwrap()
                .contains("install curl -y")
    );
    let starts = fake.starts.lock().unwrap();
    assert_eq!(starts.len(), 2);
    assert_ne!(
        starts[0]["sourceLocationOverride"],
        starts[1]["sourceLocationOverride"]
    );
    // The project has a buildspec: none is proposed or overridden.
    assert!(starts[0].get("buildspecOverride").is_none());
    assert!(!p.dir.join("buildspec.yml").exists());
    assert!(
        stderr.contains("Do you want to continue? [Y/n] Abort."),
        "{stderr}"
    );
    assert_no_secrets(&p, &[&out]);
}

/// A build that is still running when dockui gets SIGTERM is stopped in the cloud (StopBuild), not left
/// running up a bill; dockui exits 128+15 like a local build.
#[test]
fn sigterm_stops_the_codebuild_build() {
    let fake = FakeAws::start(true);
    let p = project(CONFIG);
    let child = fake
        .dockui(&p)
        .args(codebuild_args(&p, &["--yes", "--format", "json"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.starts.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the build never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child by its pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = exited(&out, 128 + 15);
    assert_eq!(*fake.stops.lock().unwrap(), vec!["imgs:run-1".to_string()]);
    assert!(
        stderr.contains("codebuild: stopped build imgs:run-1"),
        "{stderr}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cancelled"], true);
    assert_eq!(v["build_id"], "imgs:run-1");
}

/// dockui's SigV4 signatures (S3 PUT, CodeBuild and Logs JSON calls) are the ones AWS computes: moto checks
/// them here against a real IAM key. A wrong secret is refused and said to be a credentials problem.
#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn signatures_are_accepted_by_a_checking_server_and_a_wrong_secret_is_named() {
    let mut moto = Moto::start_with_signature_checks();
    moto.setup();
    let p = project(CONFIG);
    let args = codebuild_args(&p, &["--yes", "--no-wait"]);
    let out = dockui(Some(&moto), &p, &args);
    let (stdout, _) = exited(&out, 0);
    let id = stdout.trim().to_string();
    let stream = id.rsplit(':').next().unwrap();
    moto.put_build_log(stream, "[{'timestamp': now, 'message': 'signed and read'}]");
    let logs = dockui(Some(&moto), &p, &["logs", &id]);
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs).1);
    assert!(text(&logs).0.contains("signed and read"));
    for o in [&out, &logs] {
        let (a, b) = text(o);
        assert!(!a.contains(&moto.secret) && !b.contains(&moto.secret));
    }

    let secret = std::mem::replace(
        &mut moto.secret,
        "wrongSecretKeyForTheTest0000000000000000".into(),
    );
    let refused = dockui(Some(&moto), &p, &args);
    let (_, stderr) = exited(&refused, 2);
    assert!(
        stderr.contains("SignatureDoesNotMatch") && stderr.contains("credentials were refused"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrongSecretKeyForTheTest") && !stderr.contains(&secret),
        "{stderr}"
    );
}

/// The TUI with no engine and CodeBuild configured: the first `b` shows the cost warning and the buildspec
/// dockui would send in the Build log and starts nothing; `b` again builds on CodeBuild, phases in the log.
#[test]
#[cfg_attr(not(dockui_moto), ignore = "needs moto_server")]
fn tui_asks_then_builds_on_codebuild_when_no_engine_answers() {
    let (moto, p) = moto_project();
    let Some(t) = common::tmux::Tmux::start("codebuild", 160, 48, p.home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    let mut env: Vec<String> = moto
        .aws_env()
        .into_iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect();
    env.push(format!("HOME='{}'", p.home.path().display()));
    t.send(&[
        &format!(
            "clear; env -u DOCKER_HOST -u XDG_RUNTIME_DIR {} unshare -m -- sh -c '{}' {} {}",
            env.join(" "),
            NO_ENGINE.replace('\'', "'\\''"),
            env!("CARGO_BIN_EXE_dockui"),
            p.dir.display()
        ),
        "Enter",
    ]);
    t.wait_for("TUI up on CodeBuild", |s| s.contains("Build log"));
    t.send(&["b"]);
    t.wait_for("the cost question", |s| {
        s.contains("Start the build?") && s.contains("costs money") && s.contains("y starts")
    });
    assert!(
        moto.start_build_requests().is_empty(),
        "started before the yes"
    );
    // Any key but y: nothing is sent.
    t.send(&["n"]);
    t.wait_for("not started", |s| {
        s.contains("not started") && !s.contains("Start the build?")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(moto.start_build_requests().is_empty(), "started after a no");
    // Asked again on the next b; y starts it.
    t.send(&["b"]);
    t.wait_for("the cost question again", |s| {
        s.contains("Start the build?")
    });
    t.send(&["y"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while moto.start_build_requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "y never started the build:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.wait_for("the build on CodeBuild, finished", |s| {
        s.contains("phase BUILD SUCCEEDED") && s.contains(&format!("dockui: built {IMAGE}:v1"))
    });
    assert_eq!(moto.start_build_requests().len(), 1);
    let starts = moto.start_build_requests();
    assert!(
        starts[0]["buildspecOverride"]
            .as_str()
            .unwrap()
            .contains("docker build")
    );
    // Shown, not written: the TUI does not write project files behind the user's back.
    assert!(!p.dir.join("buildspec.yml").exists());
    quit(&t);
}

/// `c` in the TUI cancels a CodeBuild build and stops it in the cloud (the fake keeps it running).
#[test]
fn tui_c_stops_the_codebuild_build() {
    let fake = FakeAws::start(true);
    let p = project(CONFIG);
    let Some(t) = common::tmux::Tmux::start("codebuild-c", 160, 48, p.home.path()) else {
        return;
    };
    t.wait_for("shell prompt", |s| s.contains("READY$"));
    t.send(&[
        &format!(
            "clear; env -u DOCKER_HOST -u XDG_RUNTIME_DIR AWS_ACCESS_KEY_ID={ACCESS_KEY} \
             AWS_SECRET_ACCESS_KEY='{SECRET_KEY}' AWS_REGION=us-east-1 AWS_ENDPOINT_URL=http://127.0.0.1:{} \
             HOME='{}' unshare -m -- sh -c '{}' {} {}",
            fake.port,
            p.home.path().display(),
            NO_ENGINE.replace('\'', "'\\''"),
            env!("CARGO_BIN_EXE_dockui"),
            p.dir.display()
        ),
        "Enter",
    ]);
    t.wait_for("TUI up", |s| s.contains("Build log"));
    t.send(&["b"]);
    t.wait_for("the cost question", |s| s.contains("Start the build?"));
    t.send(&["y"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.starts.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "never started:\n{}", t.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    t.wait_for("the running phase", |s| {
        s.contains("phase BUILD IN_PROGRESS")
    });
    t.send(&["c"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.stops.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no StopBuild after c:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(*fake.stops.lock().unwrap(), vec!["imgs:run-1".to_string()]);
    t.wait_for("cancelled", |s| s.contains("build cancelled"));
    quit(&t);
}

/// `q`; while the finished build's last events are still on their way the TUI asks "cancel and quit?":
/// stay, and press `q` again a moment later.
fn quit(t: &common::tmux::Tmux) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        t.send(&["q"]);
        std::thread::sleep(Duration::from_millis(500));
        let s = t.screen();
        if !s.contains("Build log") {
            return;
        }
        assert!(Instant::now() < deadline, "the TUI did not quit:\n{s}");
        if s.contains("Cancel it and quit?") {
            t.send(&["n"]);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
