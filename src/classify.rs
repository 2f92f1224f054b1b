//! Failure classification: output lines -> the signature they match (data in assets/signatures.toml) ->
//! explanation and the analyzer rules whose fixes cure it. Pure: strings in, values out.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const SIGNATURES: &str = include_str!("../assets/signatures.toml");

#[derive(Debug, Deserialize)]
struct File {
    signature: Vec<RawSignature>,
}

#[derive(Debug, Deserialize)]
struct RawSignature {
    id: String,
    class: String,
    stage: String,
    patterns: Vec<String>,
    explanation: String,
    fix_rules: Vec<String>,
}

#[derive(Debug)]
pub struct Signature {
    pub id: String,
    pub class: String,
    pub stage: String,
    pub explanation: String,
    pub fix_rules: Vec<String>,
    patterns: Vec<Regex>,
}

/// What a failure was, and where in the output it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub signature: String,
    pub class: String,
    pub explanation: String,
    pub fix_rules: Vec<String>,
    /// 0-based indexes into the classified lines, with the text.
    pub matched: Vec<(usize, String)>,
    /// The step that failed, e.g. "Step 4/9 : RUN apt-get install -y tzdata" or "#7 [3/5] RUN make".
    pub failing_step: Option<String>,
    /// The capture groups of the first match that has any (e.g. the missing module's name), several joined
    /// with ':' (GNU tar's `uid 1500, gid 1500` gives `1500:1500`, as Podman's own texts write it).
    pub detail: Option<String>,
}

pub fn signatures() -> &'static [Signature] {
    static SIGS: OnceLock<Vec<Signature>> = OnceLock::new();
    SIGS.get_or_init(|| parse(SIGNATURES).expect("embedded signatures are valid"))
}

fn parse(text: &str) -> Result<Vec<Signature>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    file.signature
        .into_iter()
        .map(|s| {
            let patterns = s
                .patterns
                .iter()
                .map(|p| {
                    RegexBuilder::new(p)
                        .case_insensitive(true)
                        .build()
                        .map_err(|e| format!("{}: {e}", s.id))
                })
                .collect::<Result<_, _>>()?;
            Ok(Signature {
                id: s.id,
                class: s.class,
                stage: s.stage,
                explanation: s.explanation,
                fix_rules: s.fix_rules,
                patterns,
            })
        })
        .collect()
}

/// A BuildKit step name: "[2/4] RUN x" or "[builder 3/7] RUN x" -> (2, 4). "[internal] ..." is not a step.
pub fn step_of(name: &str) -> Option<(u32, u32)> {
    let inner = name.strip_prefix('[')?.split(']').next()?;
    let (a, b) = inner.rsplit(' ').next()?.split_once('/')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// A build step's header: legacy "Step 3/7 : RUN ...", Podman's (buildah's) "STEP 3/7: RUN ...", or BuildKit
/// "#8 [4/6] RUN ..." / "#8 [builder 2/5] ...". Output lines that merely start with a bracket
/// ("#5 [stand-in] ...") are not steps.
/// The line without buildah's stage prefix ("[2/3] STEP 1/4: FROM x" in a multi-stage build on Podman).
pub fn strip_buildah_stage(line: &str) -> &str {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once("] STEP "))
        .filter(|(stage, _)| {
            stage
                .split_once('/')
                .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
        })
        .map_or(line, |(stage, _)| &line[stage.len() + 3..])
}

pub fn is_step_header(line: &str) -> bool {
    let line = strip_buildah_stage(line);
    if line.starts_with("Step ") {
        return true;
    }
    if let Some(rest) = line.strip_prefix("STEP ") {
        // "STEP 3/7: RUN make"; Podman's output never starts a line with "STEP " otherwise.
        return rest
            .split_once(':')
            .and_then(|(n, _)| n.split_once('/'))
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.trim().parse::<u32>().is_ok());
    }
    line.strip_prefix('#')
        .and_then(|rest| rest.split_once(' '))
        .is_some_and(|(num, tail)| {
            num.chars().all(|c| c.is_ascii_digit()) && step_of(tail).is_some()
        })
}

/// Classify output lines. The first signature (in file order) with any matching line wins; all its matching
/// lines are reported so the log pane can highlight them.
pub fn classify<S: AsRef<str>>(lines: &[S]) -> Option<Diagnosis> {
    for sig in signatures() {
        let mut matched = Vec::new();
        let mut detail = None;
        for (i, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            for re in &sig.patterns {
                if let Some(c) = re.captures(line) {
                    if detail.is_none() {
                        let groups: Vec<&str> = c
                            .iter()
                            .skip(1)
                            .flatten()
                            .map(|m| m.as_str())
                            .filter(|g| !g.is_empty())
                            .collect();
                        detail = (!groups.is_empty()).then(|| groups.join(":"));
                    }
                    matched.push((i, line.to_string()));
                    break;
                }
            }
        }
        if let Some(&(first, _)) = matched.first() {
            let failing_step = lines[..first]
                .iter()
                .rev()
                .map(AsRef::as_ref)
                .find(|l| is_step_header(l))
                .map(str::to_string);
            return Some(Diagnosis {
                signature: sig.id.clone(),
                class: sig.class.clone(),
                explanation: sig.explanation.clone(),
                fix_rules: sig.fix_rules.clone(),
                matched,
                failing_step,
                detail,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().collect()
    }

    fn sig_of(text: &str) -> String {
        classify(&lines(text))
            .map(|d| d.signature)
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn signatures_file_is_valid_and_ids_unique() {
        let sigs = signatures();
        assert!(sigs.len() >= 15);
        let mut ids: Vec<_> = sigs.iter().map(|s| s.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), sigs.len());
        for s in sigs {
            assert!(
                ["build", "smoke", "push", "engine"].contains(&s.stage.as_str()),
                "{}",
                s.id
            );
        }
    }

    #[test]
    fn cache_export_docker_driver() {
        let log = "#12 exporting to image\n#12 DONE 0.3s\nERROR: Cache export is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\n";
        assert_eq!(sig_of(log), "cache-export-docker-driver");
    }

    #[test]
    fn unknown_cache_exporter_maps_to_the_inline_alternative() {
        let log = "#9 exporting to image\n#9 DONE 0.1s\nERROR: failed to solve: unknown cache exporter: \"registry\"\n";
        assert_eq!(sig_of(log), "cache-exporter-unknown");
        let d = classify(&lines(log)).unwrap();
        assert!(d.explanation.contains("type=inline"), "{}", d.explanation);
        assert_eq!(d.detail.as_deref(), Some("registry"));
        assert_eq!(
            classify(&lines(
                "error: failed to solve: unknown cache importer: \"gha\""
            ))
            .and_then(|d| d.detail),
            Some("gha".into())
        );
        // A build that merely exports its inline cache is not a failure of this kind.
        let ok = "#9 exporting to image\n#9 exporting cache\n#9 preparing build cache for export done\n#9 DONE 0.1s\n";
        assert!(classify(&lines(ok)).is_none());
    }

    #[test]
    fn invalid_reference_format() {
        assert_eq!(
            sig_of("Step 2/5 : FROM nvidia/cuda:@sha256\ninvalid reference format"),
            "invalid-reference-format"
        );
        assert_eq!(
            sig_of(
                "failed to solve: failed to parse stage name \"MyImage:latest\": invalid reference format: repository name must be lowercase"
            ),
            "invalid-reference-format"
        );
        assert_eq!(
            sig_of("ERROR: failed to solve: base name (${BASE_IMAGE}) should not be blank"),
            "invalid-reference-format"
        );
    }

    #[test]
    fn cuda_stub_link() {
        let log = "[ 98%] Linking CXX executable ../../bin/llama-server\n/usr/bin/ld: warning: libcuda.so.1, needed by ../../bin/libggml-cuda.so, not found (try using -rpath or -rpath-link)\n/usr/bin/ld: ../../bin/libggml-cuda.so: undefined reference to `cuMemCreate'\n/usr/bin/ld: ../../bin/libggml-cuda.so: undefined reference to `cuMemAddressReserve'\ncollect2: error: ld returned 1 exit status";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "cuda-stub-link");
        assert_eq!(d.matched.len(), 3);
    }

    #[test]
    fn dpkg_conffile_and_tzdata_prompts() {
        let conffile = "Configuration file '/etc/ssh/sshd_config'\n ==> Modified (by you or by a script) since installation.\n*** sshd_config (Y/I/N/O/D/Z) [default=N] ? dpkg: error processing package openssh-server (--configure):\n end of file on stdin at conffile prompt";
        assert_eq!(sig_of(conffile), "dpkg-prompt-eof");
        let tz = "Setting up tzdata (2024a-0ubuntu0.22.04) ...\ndebconf: unable to initialize frontend: Dialog\nConfiguring tzdata\n------------------\nGeographic area: ";
        assert_eq!(sig_of(tz), "dpkg-prompt-eof");
    }

    #[test]
    fn no_space() {
        assert_eq!(
            sig_of(
                "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"
            ),
            "no-space"
        );
    }

    #[test]
    fn pip_resolution() {
        let log = "ERROR: Cannot install torch==2.7.1 and torchvision==0.20.1 because these package versions have conflicting dependencies.\n\nThe conflict is caused by:\n    torchvision 0.20.1 depends on torch==2.5.1\nERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "pip-resolution");
        assert_eq!(d.matched.len(), 2);
    }

    #[test]
    fn base_not_found() {
        assert_eq!(
            sig_of(
                "Step 1/6 : FROM nvidia/cuda:11.3.0-cudnn8-runtime-ubuntu20.04\nmanifest for nvidia/cuda:11.3.0-cudnn8-runtime-ubuntu20.04 not found: manifest unknown: manifest unknown"
            ),
            "base-not-found"
        );
        assert_eq!(
            sig_of(
                "pull access denied for mycorp/base, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
            ),
            "base-not-found"
        );
    }

    #[test]
    fn network() {
        assert_eq!(
            sig_of(
                "Err:1 http://archive.ubuntu.com/ubuntu jammy InRelease\n  Temporary failure resolving 'archive.ubuntu.com'\nW: Failed to fetch http://archive.ubuntu.com/ubuntu/dists/jammy/InRelease  Temporary failure in name resolution"
            ),
            "network"
        );
        assert_eq!(
            sig_of(
                "WARNING: Retrying (Retry(total=4)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f>: Failed to establish a new connection: [Errno -3] Temporary failure in name resolution')'"
            ),
            "network"
        );
    }

    #[test]
    fn copy_source_missing() {
        assert_eq!(
            sig_of(
                "Step 5/9 : COPY weights/ /models/\nCOPY failed: file not found in build context or excluded by .dockerignore: stat weights/: file does not exist"
            ),
            "copy-source-missing"
        );
        assert_eq!(
            sig_of(
                "ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref abc::xyz: \"/build/bin/llama-server\": not found"
            ),
            "copy-source-missing"
        );
    }

    #[test]
    fn smoke_driver_too_old() {
        let log = "/opt/conda/lib/python3.11/site-packages/torch/cuda/__init__.py:129: UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 12020). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx";
        assert_eq!(sig_of(log), "driver-too-old");
    }

    #[test]
    fn smoke_arch_not_compiled() {
        let log = "UserWarning: \nNVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90.";
        assert_eq!(sig_of(log), "arch-not-compiled");
    }

    #[test]
    fn smoke_module_not_found_names_the_module() {
        let log = "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\nModuleNotFoundError: No module named 'flash_attn'";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "module-not-found");
        assert_eq!(d.detail.as_deref(), Some("flash_attn"));
    }

    #[test]
    fn docker_socket_permission() {
        assert_eq!(
            sig_of(
                "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/version\": dial unix /var/run/docker.sock: connect: permission denied"
            ),
            "docker-socket-permission"
        );
    }

    #[test]
    fn oom_killed_step() {
        let log = "Step 7/9 : RUN MAX_JOBS=32 pip install flash-attn --no-build-isolation\n ---> Running in 3f2a\nKilled\nThe command '/bin/sh -c MAX_JOBS=32 pip install flash-attn --no-build-isolation' returned a non-zero code: 137";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "oom-killed");
        assert_eq!(
            d.failing_step.as_deref(),
            Some("Step 7/9 : RUN MAX_JOBS=32 pip install flash-attn --no-build-isolation")
        );
    }

    #[test]
    fn no_nvidia_runtime() {
        assert_eq!(
            sig_of(
                "Error response from daemon: could not select device driver \"\" with capabilities: [[gpu]]"
            ),
            "no-nvidia-runtime"
        );
    }

    #[test]
    fn buildkit_failing_step_is_found() {
        let log = "#8 [4/6] RUN apt-get install -y tzdata\n#8 3.2 debconf: unable to initialize frontend: Dialog\n#8 ERROR: process did not complete";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(
            d.failing_step.as_deref(),
            Some("#8 [4/6] RUN apt-get install -y tzdata")
        );
    }

    #[test]
    fn bracketed_output_is_not_mistaken_for_a_step() {
        // BuildKit interleaves a step's output after its header; output starting with "[...]" is not a step.
        let log = "#5 [2/2] RUN apt-get update && apt-get install -y tzdata\n#5 [dockui stand-in] apt-get update\n#5 debconf: unable to initialize frontend: Dialog";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(
            d.failing_step.as_deref(),
            Some("#5 [2/2] RUN apt-get update && apt-get install -y tzdata")
        );
        assert!(is_step_header("#12 [builder 3/7] RUN cmake --build ."));
        assert!(!is_step_header("#3 [internal] load metadata"));
    }

    #[test]
    fn an_ordinary_successful_log_matches_nothing() {
        let log = "Step 1/3 : FROM busybox\n ---> abc\nStep 2/3 : RUN echo building the network module\nbuilding the network module\nSuccessfully built abc";
        assert_eq!(sig_of(log), "none");
    }

    #[test]
    fn engine_bridge_missing_fires_on_the_engines_message_and_not_on_build_output() {
        // Docker 20.10's legacy builder when docker0 is gone.
        let log = "Step 3/5 : RUN apt-get update\n ---> Running in 3f2a\nERROR: failed to create endpoint hopeful_turing on network bridge: adding interface veth5a1b2c3 to bridge docker0 failed: could not find bridge docker0: route ip+net: no such network interface";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "engine-bridge-missing");
        assert!(
            d.explanation.contains("--network host"),
            "{}",
            d.explanation
        );
        assert_eq!(
            d.failing_step.as_deref(),
            Some("Step 3/5 : RUN apt-get update")
        );
        // A project that merely talks about bridges is not an engine failure.
        let log = "#6 [3/4] RUN ./configure --with-bridge=docker0\n#6 0.4 checking for bridge utils... yes\n#6 DONE 1.2s";
        assert_eq!(sig_of(log), "none");
    }

    #[test]
    fn engine_storage_driver_fires_on_layer_errors_only() {
        let log = "#9 exporting to image\n#9 exporting layers\nERROR: failed to register layer: error creating overlay mount to /var/lib/docker/overlay2/5c1d/merged: invalid argument";
        assert_eq!(sig_of(log), "engine-storage-driver");
        let log = "Step 2/4 : COPY . /app\nfailed to create rwlayer: devmapper: Thin Pool has 0 free data blocks";
        assert_eq!(sig_of(log), "engine-storage-driver");
        let log = "#7 [2/3] RUN pip install overlay-utils\n#7 1.1 Successfully installed overlay-utils-0.3\n#7 DONE 2.0s";
        assert_eq!(sig_of(log), "none");
    }

    #[test]
    fn engine_daemon_errors_fire_and_do_not_steal_specific_signatures() {
        let log = "Step 4/6 : RUN make\nerror during connect: Post \"http://%2Fvar%2Frun%2Fdocker.sock/v1.41/build\": EOF";
        assert_eq!(sig_of(log), "engine-daemon-error");
        let log = "ERROR: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process";
        assert_eq!(sig_of(log), "engine-daemon-error");
        // The NVIDIA runtime's error is more specific and wins.
        let log = "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: nvidia-container-cli: initialization error: load library failed";
        assert_eq!(sig_of(log), "no-nvidia-runtime");
        let log = "Step 1/2 : FROM busybox\n ---> 3f57d9401f8d\nStep 2/2 : RUN echo daemon ready\ndaemon ready";
        assert_eq!(sig_of(log), "none");
    }

    #[test]
    fn apt_confirmation_abort_fires_only_when_apt_aborts() {
        let log = "#6 [3/4] RUN sh scripts/setup.sh\n#6 0.9 The following NEW packages will be installed:\n#6 0.9   curl libcurl4\n#6 0.9 Do you want to continue? [Y/n] Abort.\n#6 ERROR: process \"/bin/sh -c sh scripts/setup.sh\" did not complete successfully: exit code: 1";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "apt-confirm-abort");
        assert_eq!(
            d.failing_step.as_deref(),
            Some("#6 [3/4] RUN sh scripts/setup.sh")
        );
        let log = "#6 [3/4] RUN apt-get install -y curl\n#6 0.9 Do you want to continue? [Y/n] Y\n#6 DONE 3.1s";
        assert_eq!(sig_of(log), "none");
    }

    #[test]
    fn a_missing_build_network_fires_for_both_builders_and_not_for_a_project_message() {
        assert_eq!(
            sig_of(
                "dockui: engine answered 500: network mode \"ci-net\" not supported by buildkit"
            ),
            "engine-network-not-found"
        );
        assert_eq!(
            sig_of(
                "Step 2/2 : RUN echo hi\n ---> Running in d6b0810aa1d2\nnetwork ci-net not found"
            ),
            "engine-network-not-found"
        );
        assert_eq!(
            sig_of(
                "#5 [2/2] RUN ./probe.sh\n#5 0.2 probing: network ci-net not found yet, using defaults\n#5 DONE 0.3s"
            ),
            "none"
        );
    }

    #[test]
    fn busybox_wget_connection_failures_are_network_failures() {
        let log = "#6 [2/2] RUN wget -q -O /model.bin http://models.internal:8080/model.bin\n#6 0.31 wget: can't connect to remote host (10.0.0.7): Connection refused\n#6 ERROR: process did not complete successfully: exit code: 1";
        assert_eq!(sig_of(log), "network");
        let log = "#6 [2/2] RUN wget -q -O /model.bin http://models.internal:8080/model.bin\n#6 DONE 1.4s";
        assert_eq!(sig_of(log), "none");
    }

    // Podman 4.3 (Debian) through its Docker-compatible socket: progress reads "STEP n/N: ...".
    #[test]
    fn podman_step_headers_are_steps() {
        assert!(is_step_header("STEP 4/4: RUN /bin/busybox sh -c nosuchcmd"));
        assert!(is_step_header("STEP 10/12: COPY . /app"));
        assert!(!is_step_header("STEPS: none"));
        assert!(!is_step_header("STEP ahead: 1/2"));
    }

    #[test]
    fn podman_missing_command_is_classified_with_its_step() {
        let log = "STEP 3/4: RUN [\"/bin/busybox\",\"sh\",\"-c\",\"/bin/busybox echo hi\"]\nhi\n--> d6004d2aeb2\nSTEP 4/4: RUN [\"/bin/busybox\",\"sh\",\"-c\",\"nosuchcmd\"]\nsh: nosuchcmd: not found\nERROR: building at STEP \"RUN /bin/busybox sh -c nosuchcmd\": while running runtime: exit status 127";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "command-not-found");
        assert_eq!(
            d.failing_step.as_deref(),
            Some("STEP 4/4: RUN [\"/bin/busybox\",\"sh\",\"-c\",\"nosuchcmd\"]")
        );
        // Docker's legacy builder and BuildKit say 127 their own ways.
        assert_eq!(
            sig_of(
                "Step 2/2 : RUN nosuchcmd\n/bin/sh: 1: nosuchcmd: not found\nThe command '/bin/sh -c nosuchcmd' returned a non-zero code: 127"
            ),
            "command-not-found"
        );
        // Exit status 1 (or 1270) is not a missing command.
        assert_ne!(
            sig_of(
                "STEP 2/2: RUN false\nERROR: building at STEP \"RUN false\": while running runtime: exit status 1"
            ),
            "command-not-found"
        );
        assert_eq!(
            sig_of(
                "#6 [2/2] RUN ./run.sh\n#6 ERROR: process \"/bin/sh -c ./run.sh\" did not complete successfully: exit code: 1270"
            ),
            "none"
        );
    }

    #[test]
    fn podman_step_failure_names_the_step_and_yields_to_specific_signatures() {
        let log = "STEP 2/2: RUN false\nERROR: building at STEP \"RUN false\": while running runtime: exit status 1";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "podman-step-failed");
        assert_eq!(d.detail.as_deref(), Some("RUN false"));
        assert_eq!(d.failing_step.as_deref(), Some("STEP 2/2: RUN false"));
        // A network failure in the step's own output is the cause, not the exit status.
        let log = "STEP 2/3: RUN apt-get update\nTemporary failure resolving 'deb.debian.org'\nERROR: building at STEP \"RUN apt-get update\": while running runtime: exit status 100";
        assert_eq!(sig_of(log), "network");
        let log = "STEP 3/3: RUN make -j64\nKilled\nERROR: building at STEP \"RUN make -j64\": while running runtime: exit status 137";
        assert_eq!(sig_of(log), "oom-killed");
        // Docker's own failure wording is not Podman's.
        assert_eq!(
            sig_of(
                "Step 2/2 : RUN false\nThe command '/bin/sh -c false' returned a non-zero code: 1"
            ),
            "none"
        );
    }

    #[test]
    fn rootless_podman_without_subuids_says_how_to_add_them() {
        let pull = "Error: writing blob: adding layer with blob \"sha256:4abcf2066143\": processing tar file(potentially insufficient UIDs or GIDs available in user namespace (requested 1000:1000 for /home/app): Check /etc/subuid and /etc/subgid if configured locally and run \"podman system migrate\": lchown /home/app: invalid argument): exit status 1";
        let d = classify(&lines(pull)).unwrap();
        assert_eq!(d.signature, "podman-rootless-subuid");
        assert!(
            d.explanation
                .contains("usermod --add-subuids 100000-165535 --add-subgids 100000-165535")
        );
        assert!(d.explanation.contains("podman system migrate"));
        let copy = "STEP 3/4: COPY --chown=1000:1000 app /app\nERROR: building at STEP \"COPY --chown=1000:1000 app /app\": copier: put: error setting owner of \"/app\": lchown /app: invalid argument";
        assert_eq!(sig_of(copy), "podman-rootless-subuid");
        let run = "STEP 2/2: RUN chown 1000:1000 /data\nchown: changing ownership of '/data': Invalid argument\nERROR: building at STEP \"RUN chown 1000:1000 /data\": while running runtime: exit status 1";
        assert_eq!(sig_of(run), "podman-rootless-subuid");
        // GNU tar names the uid and gid apart: the detail is still uid:gid, as Podman's own texts write it.
        let tar = "STEP 3/3: RUN tar -xf layer.tar\ntar: ./x: Cannot change ownership to uid 1500, gid 1500: Invalid argument\ntar: Exiting with failure status due to previous errors";
        let d = classify(&lines(tar)).unwrap();
        assert_eq!(d.signature, "podman-rootless-subuid");
        assert_eq!(d.detail.as_deref(), Some("1500:1500"));
        // Refused for lack of privilege (a non-root user in the container): not this, no detail.
        assert_eq!(
            sig_of(
                "tar: ./x: Cannot change ownership to uid 1500, gid 1500: Operation not permitted"
            ),
            "none"
        );
        // The group lines that give no ids leave the detail to a later line that does.
        let later = "lchown /a: invalid argument\nerror setting owner of \"/opt\" to 1500:1501: chown /opt: invalid argument";
        assert_eq!(
            classify(&lines(later)).unwrap().detail.as_deref(),
            Some("1500:1501")
        );
        assert_eq!(
            sig_of("Error: chown /var/tmp/storage/overlay/l: invalid argument"),
            "podman-rootless-subuid"
        );
        // apt-get under rootless Podman with too few ids: dpkg cannot give a file its owner (dpkg's wording).
        let apt = "STEP 2/3: RUN apt-get install -y cron\nUnpacking cron (3.0pl1-162) ...\ndpkg: error processing archive /var/cache/apt/archives/cron_3.0pl1-162_amd64.deb (--unpack):\n error setting ownership of './usr/bin/crontab': Invalid argument\nErrors were encountered while processing:\nE: Sub-process /usr/bin/dpkg returned an error code (1)";
        let d = classify(&lines(apt)).unwrap();
        assert_eq!(d.signature, "podman-rootless-subuid");
        assert_eq!(
            d.failing_step.as_deref(),
            Some("STEP 2/3: RUN apt-get install -y cron")
        );
        // cp -a / install and rsync -a keeping an owner the namespace cannot map.
        assert_eq!(
            sig_of("cp: failed to preserve ownership for '/app/data': Invalid argument"),
            "podman-rootless-subuid"
        );
        // busybox cp -a (copy_file.c's wording).
        assert_eq!(
            sig_of("cp: can't preserve ownership of '/app/data': Invalid argument"),
            "podman-rootless-subuid"
        );
        assert_eq!(
            sig_of("cp: can't preserve ownership of '/app/data': Operation not permitted"),
            "none"
        );
        assert_eq!(
            sig_of("rsync: [receiver] chown \"/srv/.x.abc\" failed: Invalid argument (22)"),
            "podman-rootless-subuid"
        );
        // The same tools refused for lack of privilege, or other EINVALs, are not this.
        for line in [
            "dpkg: error processing archive x.deb (--unpack):\n error setting ownership of './usr/bin/x': Operation not permitted",
            "cp: failed to preserve ownership for '/app/data': Operation not permitted",
            "rsync: [receiver] chown \"/srv/x\" failed: Operation not permitted (1)",
            "mount: /mnt: wrong fs type, bad option, bad superblock: Invalid argument",
            "#7 0.31 ERROR: invalid argument: --chown-all is not an option",
            "chown: invalid user: 'app:app'",
        ] {
            assert_eq!(sig_of(line), "none", "{line}");
        }
        // A chown refused for lack of privilege, or an unknown user, is the Dockerfile's problem.
        let log = "Step 3/3 : RUN chown app /data\nchown: changing ownership of '/data': Operation not permitted\nchown: invalid user: 'app'";
        assert_eq!(sig_of(log), "none");
    }

    #[test]
    fn plain_http_registry_is_classified_for_push() {
        let push = "trying to reuse blob sha256:f8a3d19d1d45 at destination: pinging container registry 127.0.0.1:5071: Get \"https://127.0.0.1:5071/v2/\": http: server gave HTTP response to HTTPS client";
        let d = classify(&lines(push)).unwrap();
        assert_eq!(d.signature, "registry-plain-http");
        assert!(
            d.explanation.contains("insecure = true"),
            "{}",
            d.explanation
        );
        assert!(
            d.explanation.contains("insecure-registries"),
            "{}",
            d.explanation
        );
        let tls =
            "Get \"https://reg.internal:5000/v2/\": x509: certificate signed by unknown authority";
        assert_eq!(sig_of(tls), "none");
    }

    #[test]
    fn a_podman_multi_stage_step_is_the_failing_step() {
        // Podman 4.3 (buildah), the second stage of a multi-stage build (real text).
        let log = "[1/2] STEP 4/4: RUN echo built > /out\n--> ef6a4d66b7a\n[2/2] STEP 1/4: FROM scratch\n[2/2] STEP 4/4: RUN [\"/bin/busybox\",\"sh\",\"-c\",\"nosuchcmd\"]\nsh: nosuchcmd: not found\nERROR: building at STEP \"RUN /bin/busybox sh -c nosuchcmd\": while running runtime: exit status 127";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "command-not-found");
        assert_eq!(
            d.failing_step.as_deref(),
            Some("[2/2] STEP 4/4: RUN [\"/bin/busybox\",\"sh\",\"-c\",\"nosuchcmd\"]")
        );
        assert_eq!(
            strip_buildah_stage("[2/2] STEP 4/4: RUN x"),
            "STEP 4/4: RUN x"
        );
        // Output lines that start with a bracket are not steps.
        assert!(!is_step_header(
            "[notice] A new release of pip is available"
        ));
        assert!(!is_step_header("[1/2] STEP"));
        assert_eq!(
            strip_buildah_stage("[a/b] STEP 1/2: x"),
            "[a/b] STEP 1/2: x"
        );
    }

    #[test]
    fn a_program_missing_from_the_image_is_named_also_when_it_is_the_shell() {
        // Real texts: Docker's smoke container, Podman's (escaped quotes), BuildKit's and Podman's RUN, in an
        // image with busybox at /bin/busybox only.
        for (text, step) in [
            (
                "engine answered 400: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown",
                None,
            ),
            (
                "engine answered 409: preparing container a7d707ec1aca for attach: runc: runc create failed: unable to start container process: exec: \"/bin/sh\": stat /bin/sh: no such file or directory: OCI runtime attempted to invoke a command that was not found",
                None,
            ),
            (
                "#5 [2/2] RUN echo hi\n#5 runc run failed: unable to start container process: exec: \"/bin/sh\": stat /bin/sh: no such file or directory\n#5 ERROR: executor failed running [/bin/sh -c echo hi]: exit code: 1",
                Some("#5 [2/2] RUN echo hi"),
            ),
            (
                "STEP 3/3: RUN echo hi\nerror running container: from /usr/bin/runc creating container for [/bin/sh -c echo hi]: time=\"2026-12-01T01:44:34Z\" level=error msg=\"runc create failed: unable to start container process: exec: \\\"/bin/sh\\\": stat /bin/sh: no such file or directory\"\n: exit status 1\nERROR: building at STEP \"RUN echo hi\": while running runtime: exit status 1",
                Some("STEP 3/3: RUN echo hi"),
            ),
        ] {
            let d = classify(&lines(text)).unwrap();
            assert_eq!(d.signature, "program-not-in-image", "{text}");
            assert_eq!(d.detail.as_deref(), Some("/bin/sh"), "{text}");
            assert_eq!(d.failing_step.as_deref(), step, "{text}");
            assert!(d.explanation.contains("exec form"), "{}", d.explanation);
        }
        // An exec-form command that is not there.
        let d = classify(&["exec: \"healthcheck\": executable file not found in $PATH: unknown"])
            .unwrap();
        assert_eq!(d.detail.as_deref(), Some("healthcheck"));
        // A failing shim for other reasons stays an engine error, and its detail is no stray word.
        let d = classify(&["failed to create shim task: OCI runtime create failed: container_linux.go:380: starting container process caused: process_linux.go:545: container init caused: rootfs_linux.go:76: mounting \"proc\" to rootfs: permission denied: unknown"]).unwrap();
        assert_eq!(d.signature, "engine-daemon-error");
        assert_eq!(d.detail, None);
        // A file the program itself cannot find is not this.
        assert_eq!(
            sig_of("cat: /etc/app.conf: No such file or directory"),
            "none"
        );
    }

    #[test]
    fn a_base_here_only_for_another_platform_wins_over_network_and_not_found() {
        // BuildKit offline, --platform linux/arm64, the base tagged locally for amd64 only (real text), and
        // dockui's line about the base.
        let log = "#3 [internal] load metadata for docker.io/team/base:1\n#3 ERROR: failed to do request: Head \"https://registry-1.docker.io/v2/team/base/manifests/1\": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host\nERROR: failed to solve with frontend dockerfile.v0: failed to create LLB definition: failed to do request: Head \"https://registry-1.docker.io/v2/team/base/manifests/1\": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host";
        assert_eq!(sig_of(log), "network");
        let with_note = format!(
            "{log}\ndockui: the base image team/base:1 is in this engine for linux/amd64 only, not for linux/arm64: for --platform linux/arm64 the engine asks its registry for that platform's image"
        );
        let d = classify(&lines(&with_note)).unwrap();
        assert_eq!(d.signature, "base-not-for-platform");
        assert_eq!(d.detail.as_deref(), Some("team/base:1"));
        assert!(d.explanation.contains("Retrying does not help"));
        // Online, a local-only name is "pull access denied": the note wins there too.
        let online = "ERROR: pull access denied for team/base, repository does not exist or may require 'docker login'\ndockui: the base image team/base:1 is in this engine for linux/amd64 only, not for linux/arm64: x";
        assert_eq!(sig_of(online), "base-not-for-platform");
        // Someone's RUN output quoting such words is not dockui's line.
        assert_eq!(
            sig_of(
                "#5 0.2 dockui: the base image x is in this engine for linux/amd64 only, not for y"
            ),
            "none"
        );
    }

    #[test]
    fn dockuis_own_cache_refusals_are_diagnosed() {
        let invalid = "dockui: --cache-to / [build] cache_to: `type=registry,ref=a,ref=b` gives ref= twice; which one is meant? Give it once";
        assert_eq!(sig_of(invalid), "cache-entry-invalid");
        let podman = "dockui: cache export type=inline: NOT supported\ndockui: Podman's builder (buildah) cannot export a build cache (`--cache-to type=inline`): it keeps its layer cache in Podman's own storage";
        assert_eq!(sig_of(podman), "cache-unsupported-here");
        // The engine's refusal quotes BuildKit's own words: the exporter signature, with the type.
        let engine = "dockui: the Docker engine's embedded BuildKit exports only type=inline cache; `--cache-to type=gha` would fail at the end of the build with `unknown cache exporter: \"gha\"`.";
        assert_eq!(sig_of(engine), "cache-exporter-unknown");
        // A RUN step that prints such words is not dockui.
        assert_eq!(
            sig_of("#5 0.1 dockui: --cache-to / [build] cache_to: demo text"),
            "none"
        );
    }

    #[test]
    fn a_heredoc_podman_cannot_read_is_named() {
        // Podman 4.3.1 (real text).
        let log = "STEP 4/9: COPY <<EOT /greeting\nERROR: building at STEP \"COPY <<EOT /greeting\": checking on sources under \"/var/tmp/libpod_builder14910857/build\": copier: stat: \"/<<EOT\": no such file or directory";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "heredoc-unsupported");
        assert_eq!(d.detail.as_deref(), Some("EOT"));
        assert_eq!(
            d.failing_step.as_deref(),
            Some("STEP 4/9: COPY <<EOT /greeting")
        );
        // A COPY source that is really missing is not this.
        let missing = "ERROR: building at STEP \"COPY app /app\": checking on sources under \"/var/tmp/b\": copier: stat: \"/app\": no such file or directory";
        assert_ne!(sig_of(missing), "heredoc-unsupported");
    }

    #[test]
    fn a_windows_platform_on_a_linux_engine_says_to_build_linux() {
        // Docker 20.10's BuildKit, --platform windows/amd64 (real text).
        let log = "#6 [3/3] RUN echo hello > /hello\n#6 runc run failed: unable to start container process: exec: \"cmd\": executable file not found in $PATH\n#6 ERROR: executor failed running [cmd /S /C echo hello > /hello]: exit code: 1\nERROR: executor failed running [cmd /S /C echo hello > /hello]: exit code: 1";
        let d = classify(&lines(log)).unwrap();
        assert_eq!(d.signature, "windows-platform-on-linux");
        assert!(
            d.explanation.contains("--platform linux/amd64"),
            "{}",
            d.explanation
        );
        assert_eq!(
            d.failing_step.as_deref(),
            Some("#6 [3/3] RUN echo hello > /hello")
        );
        // A step that merely runs a program called cmd-something, or names cmd.exe in a message, is not one.
        let log = "#6 [2/2] RUN ./cmd-runner --check\n#6 0.2 usage: cmd /S /C is for windows\n#6 DONE 0.3s";
        assert_eq!(sig_of(log), "none");
        let log = "Step 2/2 : RUN cmdtool\n/bin/sh: cmdtool: not found\nThe command '/bin/sh -c cmdtool' returned a non-zero code: 127";
        assert_eq!(sig_of(log), "command-not-found");
    }

    #[test]
    fn a_foreign_binary_without_qemu_says_how_to_register_binfmt() {
        // Docker 20.10 (runc) building linux/arm64 on amd64 without a binfmt handler.
        let legacy = "Step 3/4 : RUN [\"/bin/busybox\", \"uname\", \"-m\"]\n ---> [Warning] The requested image's platform (linux/arm64) does not match the detected host platform (linux/amd64) and no specific platform was requested\n ---> Running in 5d1c\nstandard_init_linux.go:228: exec user process caused: exec format error\nThe command '/bin/busybox uname -m' returned a non-zero code: 1";
        let d = classify(&lines(legacy)).unwrap();
        assert_eq!(d.signature, "exec-format-error");
        assert!(
            d.explanation
                .contains("update-binfmts --enable qemu-aarch64")
        );
        let buildkit = "#6 [2/2] RUN uname -m\n#6 0.112 exec /bin/sh: exec format error\n#6 ERROR: process \"/bin/sh -c uname -m\" did not complete successfully: exit code: 1";
        assert_eq!(sig_of(buildkit), "exec-format-error");
        // A step that only talks about formats is not one.
        let log = "#6 [2/2] RUN ./check-format.sh\n#6 0.3 checking exec format of plugins: ok\n#6 DONE 0.4s";
        assert_eq!(sig_of(log), "none");
    }
}
