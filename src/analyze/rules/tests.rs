//! Positive and negative cases for every rule, written as realistic snippets, plus a check for every fix:
//! applying its edits gives text that re-parses cleanly and no longer triggers the rule.

use super::testutil::{check, check_with, count};
use crate::analyze::{Analysis, Dockerfile, apply_edits};
use std::path::Path;

/// Every fix of every `rule` finding, applied alone, must remove that finding and keep the files parseable.
fn assert_fixes_clear(dockerfile: &str, files: &[(&str, &str)], rule: &str) {
    let a = check_with(dockerfile, files);
    let fixes: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .flat_map(|f| f.fixes.clone())
        .collect();
    assert!(
        !fixes.is_empty(),
        "{rule}: expected a fix in {:#?}",
        a.findings
    );
    for fix in fixes {
        let mut df = dockerfile.to_string();
        let mut others: Vec<(String, String)> = files
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        if fix.file == Path::new("Dockerfile") {
            df = apply_edits(&df, &fix.edits);
        } else if let Some(o) = others.iter_mut().find(|(p, _)| Path::new(p) == fix.file) {
            o.1 = apply_edits(&o.1, &fix.edits);
        } else {
            panic!("fix for unknown file {:?}", fix.file);
        }
        let parsed = Dockerfile::parse(&df);
        assert!(
            parsed.problems.is_empty(),
            "{}: fixed text does not parse: {:?}\n{df}",
            fix.id,
            parsed.problems
        );
        let o: Vec<(&str, &str)> = others
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let after = check_with(&df, &o);
        assert!(
            count(&after, rule) < count(&a, rule),
            "{} did not clear {rule}:\n{df}\n{:#?}",
            fix.id,
            after
                .findings
                .iter()
                .filter(|f| f.rule == rule)
                .collect::<Vec<_>>()
        );
    }
}

fn has(a: &Analysis, rule: &str) -> bool {
    count(a, rule) > 0
}

#[test]
fn du001_parse_problem_keeps_going() {
    let a =
        check("FROM python:3.11-slim\nRUNN pip install x\nEXPOSE ${PORT:-7860}\nMAINTAINER me\n");
    assert_eq!(count(&a, "DU001"), 1);
    assert_eq!(
        a.findings
            .iter()
            .find(|f| f.rule == "DU001")
            .map(|f| f.span.line),
        Some(2)
    );
    assert!(has(&a, "DL4000"), "analysis continues after the bad line");
    assert!(!has(
        &check("FROM python:3.11-slim\nEXPOSE ${PORT:-7860}\n"),
        "DU001"
    ));
}

#[test]
fn dl3003_cd() {
    assert!(has(
        &check("FROM ubuntu:22.04\nRUN cd /opt/llama.cpp && cmake -B build\n"),
        "DL3003"
    ));
    assert!(!has(
        &check("FROM ubuntu:22.04\nWORKDIR /opt/llama.cpp\nRUN cmake -B build\n"),
        "DL3003"
    ));
}

#[test]
fn dl3004_sudo() {
    assert!(has(
        &check("FROM ubuntu:22.04\nRUN sudo apt-get update\n"),
        "DL3004"
    ));
    assert!(!has(
        &check("FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y sudo\n"),
        "DL3004"
    ));
}

#[test]
fn dl3006_dl3007_tags() {
    assert!(has(&check("FROM nvidia/cuda\n"), "DL3006"));
    assert!(!has(
        &check("FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nFROM scratch\n"),
        "DL3006"
    ));
    assert!(!has(
        &check("FROM python:3.11 AS base\nFROM base\n"),
        "DL3006"
    ));
    assert!(has(&check("FROM vllm/vllm-openai:latest\n"), "DL3007"));
    assert!(!has(&check("FROM vllm/vllm-openai:v0.6.3\n"), "DL3007"));
}

#[test]
fn dl3008_dl3014_dl3015_apt() {
    let bad = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install git wget\n";
    let a = check(bad);
    assert!(has(&a, "DL3008") && has(&a, "DL3014") && has(&a, "DL3015"));
    let good = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends git=1:2.34.1-1ubuntu1 && rm -rf /var/lib/apt/lists/*\n";
    let a = check(good);
    assert!(!has(&a, "DL3008") && !has(&a, "DL3014") && !has(&a, "DL3015"));
    assert!(!has(
        &check("FROM ubuntu:22.04\nRUN apt-get install -qq ./cuda-keyring_1.1-1_all.deb\n"),
        "DL3014"
    ));
    assert_fixes_clear(bad, &[], "DL3014");
    assert_fixes_clear(bad, &[], "DL3015");
}

#[test]
fn dl3009_lists() {
    let bad = "FROM ubuntu:22.04\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends ffmpeg\n";
    assert!(has(&check(bad), "DL3009"));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y ffmpeg && rm -rf /var/lib/apt/lists/*\n"
        ),
        "DL3009"
    ));
    // A builder stage nobody builds FROM does not ship its lists.
    assert!(!has(
        &check(
            "FROM ubuntu:22.04 AS build\nRUN apt-get update && apt-get install -y cmake\nFROM ubuntu:22.04\nCOPY --from=build /out /out\n"
        ),
        "DL3009"
    ));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nRUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y git\n"
        ),
        "DL3009"
    ));
    assert_fixes_clear(bad, &[], "DL3009");
    // The lists are used by a later RUN (same stage, or a stage built FROM this one) that installs without
    // updating: deleting them here would break that install, so the finding stands without a fix.
    for later in [
        "FROM ubuntu:22.04\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends curl=7.81.0-1ubuntu1.20 && rm -rf /var/lib/apt/lists/*\n",
        "FROM ubuntu:22.04 AS base\nRUN apt-get update\nFROM base\nRUN sudo apt-get -y install --no-install-recommends libaio-dev=0.3.112-13build1\n",
    ] {
        let a = check(later);
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "DL3009")
            .expect("still reported");
        assert!(f.fixes.is_empty(), "{later}: {f:#?}");
        assert!(
            f.facts.iter().any(|x| x.contains("no fix offered: line ")),
            "{f:#?}"
        );
    }
    // A later RUN that updates the lists itself does not rely on these: the fix is offered.
    let own_update = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends git=1:2.34.1-1ubuntu1\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.81.0-1ubuntu1.20 && rm -rf /var/lib/apt/lists/*\n";
    assert!(
        check(own_update)
            .findings
            .iter()
            .any(|f| f.rule == "DL3009" && !f.fixes.is_empty())
    );
}

#[test]
fn dl3013_dl3042_pip() {
    let bad = "FROM python:3.11-slim\nRUN pip install transformers accelerate\n";
    let a = check(bad);
    assert!(has(&a, "DL3013") && has(&a, "DL3042"));
    let good = "FROM python:3.11-slim\nRUN pip install --no-cache-dir transformers==4.46.0 -r requirements.txt\n";
    let a = check(good);
    assert!(!has(&a, "DL3013") && !has(&a, "DL3042"));
    assert!(!has(
        &check("FROM python:3.11-slim\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask==3.0.3\n"),
        "DL3042"
    ));
    assert!(!has(
        &check(
            "FROM python:3.11-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask==3.0.3\n"
        ),
        "DL3042"
    ));
    assert!(has(
        &check("FROM python:3.11-slim\nRUN python3 -m pip install flask==3.0.3\n"),
        "DL3042"
    ));
    assert_fixes_clear(bad, &[], "DL3042");
    assert_fixes_clear(
        "FROM python:3.11-slim\nRUN python -m pip install flask==3.0.3\n",
        &[],
        "DL3042",
    );
}

#[test]
fn dl3016_npm() {
    assert!(has(
        &check("FROM node:20\nRUN npm install -g pnpm\n"),
        "DL3016"
    ));
    assert!(!has(
        &check("FROM node:20\nRUN npm install -g pnpm@9.12.0 && npm ci\n"),
        "DL3016"
    ));
}

#[test]
fn dl3018_dl3019_apk() {
    let bad = "FROM alpine:3.20\nRUN apk add git\n";
    let a = check(bad);
    assert!(has(&a, "DL3018") && has(&a, "DL3019"));
    let a = check("FROM alpine:3.20\nRUN apk add --no-cache git=2.45.2-r0\n");
    assert!(!has(&a, "DL3018") && !has(&a, "DL3019"));
    assert_fixes_clear(bad, &[], "DL3019");
}

#[test]
fn dl3020_add() {
    let bad = "FROM python:3.11\nADD app.py /srv/app.py\n";
    assert!(has(&check(bad), "DL3020"));
    assert!(!has(
        &check(
            "FROM python:3.11\nADD https://example.org/model.tar.gz /models/\nADD weights.tar.gz /models/\n"
        ),
        "DL3020"
    ));
    assert_fixes_clear(bad, &[], "DL3020");
}

#[test]
fn dl3025_json_cmd() {
    let bad = "FROM python:3.11\nCMD python -m uvicorn app:api\n";
    assert!(has(&check(bad), "DL3025"));
    assert!(!has(
        &check("FROM python:3.11\nCMD [\"python\", \"-m\", \"uvicorn\", \"app:api\"]\n"),
        "DL3025"
    ));
    assert_fixes_clear(bad, &[], "DL3025");
    // A shell feature in use: no automatic fix.
    let a = check("FROM python:3.11\nCMD python serve.py --port $PORT\n");
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule == "DL3025" && f.fixes.is_empty())
    );
}

#[test]
fn dl3027_apt() {
    let bad = "FROM ubuntu:22.04\nRUN apt update && apt install -y git\n";
    assert!(has(&check(bad), "DL3027"));
    assert!(!has(
        &check("FROM ubuntu:22.04\nRUN apt-get update && apt-cache policy git\n"),
        "DL3027"
    ));
    assert_fixes_clear(bad, &[], "DL3027");
}

#[test]
fn dl3033_yum() {
    assert!(has(
        &check("FROM rockylinux:9\nRUN yum install -y gcc && yum clean all\n"),
        "DL3033"
    ));
    assert!(!has(
        &check("FROM rockylinux:9\nRUN yum install -y gcc-11.4.1 && yum clean all\n"),
        "DL3033"
    ));
}

#[test]
fn dl3059_consecutive_runs() {
    assert!(has(
        &check("FROM python:3.11\nRUN mkdir /models\nRUN chmod 777 /models\n"),
        "DL3059"
    ));
    assert!(!has(
        &check(
            "FROM python:3.11\nRUN mkdir /models && chmod 777 /models\nWORKDIR /models\nRUN echo ok\n"
        ),
        "DL3059"
    ));
}

#[test]
fn dl4000_maintainer() {
    let bad = "FROM python:3.11\nMAINTAINER ML Team <ml@example.org>\n";
    assert!(has(&check(bad), "DL4000"));
    assert!(!has(
        &check("FROM python:3.11\nLABEL maintainer=\"ml@example.org\"\n"),
        "DL4000"
    ));
    assert_fixes_clear(bad, &[], "DL4000");
}

#[test]
fn dl4003_cmds() {
    assert!(has(
        &check("FROM python:3.11\nCMD [\"a\"]\nCMD [\"b\"]\n"),
        "DL4003"
    ));
    assert!(!has(
        &check("FROM python:3.11 AS a\nCMD [\"a\"]\nFROM python:3.11\nCMD [\"b\"]\n"),
        "DL4003"
    ));
}

#[test]
fn dl4006_pipefail() {
    let bad = "FROM ubuntu:22.04\nRUN curl -fsSL https://example.org/install.sh | bash\n";
    assert!(has(&check(bad), "DL4006"));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsSL https://example.org/install.sh | bash\n"
        ),
        "DL4006"
    ));
    assert_fixes_clear(bad, &[], "DL4006");
}

#[test]
fn du101_noninteractive() {
    let bad = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nRUN apt-get update && apt-get install -y --no-install-recommends tzdata && rm -rf /var/lib/apt/lists/*\n";
    assert!(has(&check(bad), "DU101"));
    assert!(!has(
        &check(
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nARG DEBIAN_FRONTEND=noninteractive\nRUN apt-get update && apt-get install -y tzdata\n"
        ),
        "DU101"
    ));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y tzdata\n"
        ),
        "DU101"
    ));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nENV DEBIAN_FRONTEND=noninteractive\nFROM ubuntu:22.04\nRUN export DEBIAN_FRONTEND=noninteractive && apt-get install -y tzdata\n"
        ),
        "DU101"
    ));
    assert_fixes_clear(bad, &[], "DU101");
}

#[test]
fn du102_conffile() {
    let bad = "FROM ubuntu:22.04\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get update && apt-get -y upgrade && rm -rf /var/lib/apt/lists/*\n";
    assert!(has(&check(bad), "DU102"));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get update && apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade\n"
        ),
        "DU102"
    ));
    assert_fixes_clear(bad, &[], "DU102");
    assert_fixes_clear(
        "FROM ubuntu:22.04\nRUN dpkg -i /tmp/cuda-keyring.deb\n",
        &[],
        "DU102",
    );
}

#[test]
fn du103_caches() {
    let conda =
        "FROM continuumio/miniconda3:24.7.1-0\nRUN conda install -y -c conda-forge numpy=1.26\n";
    assert!(has(&check(conda), "DU103"));
    assert!(!has(
        &check(
            "FROM continuumio/miniconda3:24.7.1-0\nRUN conda install -y numpy=1.26 && conda clean -afy\n"
        ),
        "DU103"
    ));
    assert_fixes_clear(conda, &[], "DU103");
    // yum/dnf caches are hadolint's DL3032/DL3040, not DU103.
    assert!(!has(
        &check("FROM rockylinux:9\nRUN dnf install -y gcc-11.4.1\n"),
        "DU103"
    ));
    let later = "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y git\nRUN rm -rf /var/lib/apt/lists/*\n";
    assert!(has(&check(later), "DU103"));
}

#[test]
fn du110_du111_from_refs() {
    let a = check(
        "FROM nvidia/cuda:@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
    );
    assert!(has(&a, "DU110"));
    assert_fixes_clear(
        "FROM nvidia/cuda:@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
        &[],
        "DU110",
    );
    assert!(has(&check("FROM ${BASE}\n"), "DU110"));
    assert!(has(
        &check("FROM Nvidia/CUDA:12.4.1-base-ubuntu22.04\n"),
        "DU110"
    ));
    assert_fixes_clear("FROM Nvidia/CUDA:12.4.1-base-ubuntu22.04\n", &[], "DU110");
    assert!(has(&check("FROM python@sha256:1234\n"), "DU110"));
    assert!(has(&check("ARG BASE\nFROM ${BASE}\n"), "DU111"));
    let ok = check(
        "ARG CUDA=12.4.1\nFROM nvidia/cuda:${CUDA}-runtime-ubuntu22.04 AS rt\nFROM rt\nFROM localhost:5000/team/img:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
    );
    assert!(
        !has(&ok, "DU110") && !has(&ok, "DU111"),
        "{:#?}",
        ok.findings
    );
}

const WF_BAD: &str = "name: image\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - name: Build\n        uses: docker/build-push-action@v6\n        with:\n          push: false\n          cache-from: type=gha\n          cache-to: type=gha,mode=max\n";

#[test]
fn du120_gha_cache_needs_buildx_driver() {
    let a = check_with(
        "FROM python:3.11\n",
        &[(".github/workflows/image.yml", WF_BAD)],
    );
    assert_eq!(count(&a, "DU120"), 2);
    let good = WF_BAD.replace(
        "      - name: Build\n",
        "      - uses: docker/setup-buildx-action@v3\n      - name: Build\n",
    );
    assert!(!has(
        &check_with(
            "FROM python:3.11\n",
            &[(".github/workflows/image.yml", &good)]
        ),
        "DU120"
    ));
    let docker_driver = WF_BAD.replace("      - name: Build\n", "      - uses: docker/setup-buildx-action@v3\n        with:\n          driver: docker\n      - name: Build\n");
    assert!(has(
        &check_with(
            "FROM python:3.11\n",
            &[(".github/workflows/image.yml", &docker_driver)]
        ),
        "DU120"
    ));
    assert_fixes_clear(
        "FROM python:3.11\n",
        &[(".github/workflows/image.yml", WF_BAD)],
        "DU120",
    );
}

const PT_BASE: &str = "ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nFROM ${BASE_IMAGE}\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n";

#[test]
fn du201_torch_cuda_vs_base() {
    let req = "torch==2.7.1\n";
    let a = check_with(PT_BASE, &[("requirements.txt", req)]);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU201")
        .expect("DU201");
    assert_eq!(f.file, Path::new("requirements.txt"));
    assert!(
        f.facts.iter().any(|x| x.contains("cu118/cu126/cu128")),
        "{:?}",
        f.facts
    );
    assert_eq!(f.fixes.len(), 2, "two alternatives: move base, move torch");
    assert_fixes_clear(PT_BASE, &[("requirements.txt", req)], "DU201");
    // nvidia/cuda base with an ARG-built tag; torch 2.6 defaults to cu124: fine.
    let cuda = "ARG CUDA_VERSION=12.4.1\nFROM nvidia/cuda:${CUDA_VERSION}-cudnn-runtime-ubuntu22.04\nRUN pip3 install --no-cache-dir torch==2.6.0\n";
    assert!(!has(&check(cuda), "DU201"));
    let cuda_bad = "FROM nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04\nRUN pip3 install --no-cache-dir torch==2.8.0\n";
    assert!(has(&check(cuda_bad), "DU201"));
    assert_fixes_clear(cuda_bad, &[], "DU201");
    // The same torch as the base: nothing to say.
    assert!(!has(
        &check_with(PT_BASE, &[("requirements.txt", "torch==2.5.1\n")]),
        "DU201"
    ));
}

#[test]
fn du202_companions() {
    let req = "torch==2.7.1\ntorchvision==0.20.1\ntorchaudio==2.5.1\n";
    let a = check_with(PT_BASE, &[("requirements.txt", req)]);
    assert_eq!(count(&a, "DU202"), 2);
    assert_fixes_clear(PT_BASE, &[("requirements.txt", req)], "DU202");
    assert!(!has(
        &check_with(
            PT_BASE,
            &[(
                "requirements.txt",
                "torch==2.7.1\ntorchvision==0.22.1\ntorchaudio==2.7.1\n"
            )]
        ),
        "DU202"
    ));
    // Only torchvision installed over the base: it must match the base's torch 2.5.1.
    assert!(has(
        &check_with(PT_BASE, &[("requirements.txt", "torchvision==0.19.1\n")]),
        "DU202"
    ));
    assert!(!has(
        &check_with(PT_BASE, &[("requirements.txt", "torchvision==0.20.1\n")]),
        "DU202"
    ));
}

#[test]
fn du203_torch_over_pytorch_base() {
    // Unpinned torch over the image's: pip keeps it ("already satisfied"), like any requirement it meets.
    let a = check_with(PT_BASE, &[("requirements.txt", "torch\n")]);
    assert!(!has(&a, "DU203"), "{:#?}", a.findings);
    assert_fixes_clear(PT_BASE, &[("requirements.txt", "torch>=2.6\n")], "DU203");
    assert!(!has(
        &check_with(PT_BASE, &[("requirements.txt", "torch==2.5.1\n")]),
        "DU203"
    ));
    assert!(!has(
        &check("FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.5.1\n"),
        "DU203"
    ));
}

#[test]
fn du204_extra_index_url() {
    let bad = "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch --extra-index-url https://download.pytorch.org/whl/cu121\n";
    assert!(has(&check(bad), "DU204"));
    assert_fixes_clear(bad, &[], "DU204");
    assert!(!has(
        &check(
            "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.3.1 --index-url https://download.pytorch.org/whl/cu121\n"
        ),
        "DU204"
    ));
    // In a requirements file too.
    let df = "FROM python:3.11-slim\nCOPY requirements.txt /tmp/\nRUN pip install --no-cache-dir -r /tmp/requirements.txt\n";
    let req = "--extra-index-url https://download.pytorch.org/whl/cu124\ntorch>=2.4\n";
    assert!(has(&check_with(df, &[("requirements.txt", req)]), "DU204"));
    assert_fixes_clear(df, &[("requirements.txt", req)], "DU204");
}

#[test]
fn du205_variant_not_shipped() {
    let bad = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.7.0+cu121 --extra-index-url https://download.pytorch.org/whl/cu121\n";
    assert!(has(&check(bad), "DU205"));
    assert!(!has(
        &check(
            "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch==2.3.1+cu121 --extra-index-url https://download.pytorch.org/whl/cu121\n"
        ),
        "DU205"
    ));
    assert!(has(
        &check(
            "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.8.0 --index-url https://download.pytorch.org/whl/cu121\n"
        ),
        "DU205"
    ));
}

#[test]
fn du206_python_range() {
    assert!(has(
        &check("FROM python:3.8-slim\nRUN pip install --no-cache-dir torch==2.9.1\n"),
        "DU206"
    ));
    assert!(!has(
        &check("FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.9.1\n"),
        "DU206"
    ));
    // nvidia/cuda ubuntu20.04 ships python 3.8.
    assert!(has(
        &check(
            "FROM nvidia/cuda:12.6.3-runtime-ubuntu20.04\nRUN apt-get update && pip3 install --no-cache-dir torch==2.10.0\n"
        ),
        "DU206"
    ));
    assert!(has(
        &check(
            "FROM continuumio/miniconda3:24.7.1-0\nRUN conda create -y -n ml python=3.8 && conda clean -afy\nRUN python3.8 -m pip install --no-cache-dir torch==2.9.0\n"
        ),
        "DU206"
    ));
}

const LLAMA: &str = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build\nWORKDIR /src\nRUN cmake -B build -DGGML_CUDA=ON && cmake --build build -j\n";

#[test]
fn du207_cuda_stubs() {
    assert!(has(&check(LLAMA), "DU207"));
    assert_fixes_clear(LLAMA, &[], "DU207");
    assert!(!has(
        &check(
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build\nENV LIBRARY_PATH=/usr/local/cuda/lib64/stubs\nRUN cmake -B build -DGGML_CUDA=ON && cmake --build build\n"
        ),
        "DU207"
    ));
    assert!(!has(
        &check(
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nRUN cmake -B build -DGGML_CUDA=ON -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined && cmake --build build\n"
        ),
        "DU207"
    ));
    // The flag in ENV counts for a later cmake build; a pip-built llama-cpp-python links only shared
    // libraries, which find the toolkit's libcuda.so stub by themselves.
    assert!(has(
        &check(
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nENV CMAKE_ARGS=\"-DGGML_CUDA=on\"\nRUN cmake -B build $CMAKE_ARGS && cmake --build build\n"
        ),
        "DU207"
    ));
    assert!(!has(
        &check(
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nENV CMAKE_ARGS=\"-DGGML_CUDA=on\"\nRUN pip install --no-cache-dir llama-cpp-python==0.3.2\nRUN pip install --no-cache-dir cmake==3.31.1\n"
        ),
        "DU207"
    ));
}

#[test]
fn du208_copy_paths() {
    let bad = "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build\nWORKDIR /src\nRUN cmake -B build && cmake --build build\nFROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nCOPY --from=build /llama.cpp/build/bin/llama-server /usr/local/bin/\n";
    assert!(has(&check(bad), "DU208"));
    let good = bad.replace("/llama.cpp/build/bin", "/src/build/bin");
    assert!(!has(&check(&good), "DU208"));
    assert!(!has(
        &check(
            "FROM python:3.11 AS b\nRUN pip wheel -w /wheels numpy==2.1.0\nFROM python:3.11\nCOPY --from=b /wheels /wheels\nCOPY --from=b /usr/local/lib/python3.11 /x\n"
        ),
        "DU208"
    ));
}

#[test]
fn ignore_pragmas_and_hadolint_yaml() {
    let a = check(
        "FROM ubuntu:22.04\n# hadolint ignore=DL3008,DL3015\nRUN apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*\n# dockui ignore=DU101\nRUN apt-get install -y curl\n",
    );
    let lines: Vec<(String, usize)> = a
        .findings
        .iter()
        .map(|f| (f.rule.to_string(), f.span.line))
        .collect();
    assert!(!lines.contains(&("DL3008".into(), 3)) && !lines.contains(&("DL3015".into(), 3)));
    assert!(lines.contains(&("DL3008".into(), 5)));
    assert!(!lines.iter().any(|(r, l)| r == "DU101" && *l == 5));
    let a = check_with(
        "FROM ubuntu\n",
        &[(".hadolint.yaml", "ignored:\n  - DL3006\n")],
    );
    assert!(!has(&a, "DL3006"));
}

#[test]
fn onbuild_runs_are_checked() {
    let a = check("FROM python:3.11\nONBUILD RUN pip install flask\n");
    assert!(has(&a, "DL3013") && has(&a, "DL3042"));
    // No automatic fix inside ONBUILD triggers.
    assert!(
        a.findings
            .iter()
            .filter(|f| f.rule == "DL3042")
            .all(|f| f.fixes.is_empty())
    );
}

#[test]
fn catalog_lists_every_rule_a_test_produces() {
    let ids: Vec<&str> = super::catalog().iter().map(|r| r.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate ids");
    for r in super::catalog() {
        assert!(!r.summary.is_empty());
    }
}

#[test]
fn du205_fix_picks_a_shipped_variant() {
    assert_fixes_clear(
        "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.7.0+cu121\n",
        &[],
        "DU205",
    );
}

#[test]
fn extra_compat_rows_from_the_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), "FROM nvidia/cuda:13.2.0-runtime-ubuntu24.04\nRUN pip install --no-cache-dir torch==2.14.0\n").expect("write");
    let extra = dir.path().join("compat.toml");
    std::fs::write(&extra, "[[torch]]\nseries = \"2.14\"\ntorchvision = \"0.29\"\ncuda = [\"cu130\", \"cu132\"]\ndefault_cuda = \"cu132\"\npython = [\"3.10\", \"3.14\"]\nconfidence = \"unconfirmed\"\n").expect("write");
    let plain =
        crate::analyze::analyze_project(dir.path(), &crate::analyze::AnalyzeOptions::default())
            .expect("analyze");
    assert!(
        !has(&plain, "DU201"),
        "unknown torch 2.14: no facts, no finding"
    );
    let opts = crate::analyze::AnalyzeOptions {
        extra_compat: Some(extra.clone()),
        ..Default::default()
    };
    let with = crate::analyze::analyze_project(dir.path(), &opts).expect("analyze");
    assert!(
        !has(&with, "DU201"),
        "cu132 default matches CUDA 13.2: {:#?}",
        with.findings
    );
    std::fs::write(dir.path().join("Dockerfile"), "FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04\nRUN pip install --no-cache-dir torch==2.14.0\n").expect("write");
    let with = crate::analyze::analyze_project(dir.path(), &opts).expect("analyze");
    assert!(has(&with, "DU201"));
    // A row without provenance is refused loudly, since the user named the file.
    std::fs::write(&extra, "[[torch]]\nseries = \"2.15\"\n").expect("write");
    assert!(crate::analyze::analyze_project(dir.path(), &opts).is_err());
    // A missing file is fine (the config dir may have none).
    let opts = crate::analyze::AnalyzeOptions {
        extra_compat: Some(dir.path().join("nope.toml")),
        ..Default::default()
    };
    assert!(crate::analyze::analyze_project(dir.path(), &opts).is_ok());
}

#[test]
fn no_fix_where_edits_would_land_in_the_wrong_place() {
    // Exec form: the words are JSON strings, an inserted flag would break the array.
    let a =
        check("FROM python:3.11-slim\nRUN [\"/bin/sh\", \"-c\", \"pip install flask==3.0.3\"]\n");
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule == "DL3042" && f.fixes.is_empty()),
        "{:#?}",
        a.findings
    );
    // A trailing comment would swallow an appended cleanup.
    let a = check(
        "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends git # tools\n",
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule == "DL3009" && f.fixes.is_empty())
    );
    // Heredoc bodies keep exact offsets: the fix lands inside the script.
    let text = "FROM ubuntu:22.04\nRUN <<EOF\napt-get update\napt-get install -y --no-install-recommends git\nrm -rf /var/lib/apt/lists/*\nEOF\n";
    assert_fixes_clear(text, &[], "DU101");
}

#[test]
fn pytorch_base_keeps_its_torch_when_the_requirement_allows_it() {
    // `torch>=2.4` over a 2.5.1 image: pip says "already satisfied", nothing is downloaded.
    let a = check_with(PT_BASE, &[("requirements.txt", "torch>=2.4\n")]);
    assert!(!has(&a, "DU203") && !has(&a, "DU201"), "{:#?}", a.findings);
    // ... unless pip is told to upgrade.
    let up = PT_BASE.replace(
        "pip install --no-cache-dir -r",
        "pip install --no-cache-dir -U -r",
    );
    assert!(has(
        &check_with(&up, &[("requirements.txt", "torch>=2.4\n")]),
        "DU203"
    ));
    // Unpinned torch: kept as well; with -U it is replaced.
    let a = check_with(PT_BASE, &[("requirements.txt", "torch\n")]);
    assert!(!has(&a, "DU203") && !has(&a, "DU201"));
    assert!(has(
        &check_with(&up, &[("requirements.txt", "torch\n")]),
        "DU203"
    ));
}

#[test]
fn du201_move_base_rewrites_arg_built_tags() {
    // pytorch tag assembled from three ARGs: the fix edits the ARG defaults, not the FROM line.
    let df = "ARG PYTORCH=2.5.1\nARG CUDA=12.4\nARG CUDNN=9\nFROM pytorch/pytorch:${PYTORCH}-cuda${CUDA}-cudnn${CUDNN}-runtime\nRUN pip install --no-cache-dir torch==2.7.1\n";
    let a = check(df);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU201")
        .expect("DU201");
    let fix = f
        .fixes
        .iter()
        .find(|x| x.id == "DU201.move-base")
        .expect("move-base fix");
    let fixed = apply_edits(df, &fix.edits);
    assert!(
        fixed.starts_with("ARG PYTORCH=2.7.1\nARG CUDA=12.6\nARG CUDNN=9\n"),
        "{fixed}"
    );
    assert_fixes_clear(df, &[], "DU201");
    // nvidia/cuda tag through a nested ARG default.
    let df = "ARG CUDA_VERSION=12.1.1\nARG BASE=nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu22.04\nFROM ${BASE}\nRUN pip install --no-cache-dir torch==2.4.1 --index-url https://download.pytorch.org/whl/cu124\n";
    let a = check(df);
    let fix = a
        .findings
        .iter()
        .find(|f| f.rule == "DU201")
        .and_then(|f| f.fixes.iter().find(|x| x.id == "DU201.move-base"))
        .expect("fix");
    assert!(apply_edits(df, &fix.edits).starts_with("ARG CUDA_VERSION=12.4.1\n"));
    assert_fixes_clear(df, &[], "DU201");
}

#[test]
fn pins_and_indexes_resolve_through_args() {
    let df = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nARG TORCH=2.8.0\nARG CU=cu128\nRUN pip install --no-cache-dir torch==${TORCH} --index-url https://download.pytorch.org/whl/${CU}\n";
    let a = check(df);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU201")
        .expect("DU201");
    assert!(
        f.message.contains("2.8.0") && f.message.contains("cu128"),
        "{}",
        f.message
    );
    // Unknown index variable: no guess about the variant.
    assert!(!has(
        &check(
            "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.5.1 --index-url https://download.pytorch.org/whl/cu${CUINDEX}\n"
        ),
        "DU205"
    ));
}

#[test]
fn platform_args_in_from_are_not_errors() {
    let a = check(
        "ARG FLAVOR=${TARGETARCH}\nFROM --platform=$BUILDPLATFORM golang:1.22 AS build\nFROM ${TARGETARCH}-base AS x\nFROM ${FLAVOR}\n",
    );
    assert!(!has(&a, "DU110") && !has(&a, "DU111"), "{:#?}", a.findings);
}

#[test]
fn nightly_torch_has_no_pairing_facts() {
    let df = "FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04\nRUN pip install --no-cache-dir --pre torch==2.8.0.dev20250318 torchvision==0.22.0.dev20250319 --index-url https://download.pytorch.org/whl/nightly/cu128\n";
    let a = check(df);
    assert!(!has(&a, "DU202") && !has(&a, "DU201"), "{:#?}", a.findings);
}

#[test]
fn hadolint_readings_on_real_world_shapes() {
    // A loop variable is a package hadolint cannot see a version in.
    assert!(has(
        &check(
            "FROM python:3.11\nRUN while read -r p; do pip install --no-cache-dir \"$p\"; done < pkgs.txt\n"
        ),
        "DL3013"
    ));
    // `-e <dir>` installs a local project: nothing to pin.
    assert!(!has(
        &check("FROM python:3.11\nRUN pip install --no-cache-dir -r requirements.txt -e gguf-py\n"),
        "DL3013"
    ));
    // A registry variable does not hide a literal `latest` tag.
    assert!(has(
        &check("ARG REGISTRY=docker.io\nFROM ${REGISTRY}/opensuse/tumbleweed:latest\n"),
        "DL3007"
    ));
    // Cleanups that really remove the lists.
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends curl && find /var/cache/apt/archives /var/lib/apt/lists -type f -delete\n"
        ),
        "DL3009"
    ));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/{apt,dpkg,cache,log}/\n"
        ),
        "DL3009"
    ));
}

#[test]
fn dl3000_workdir() {
    assert!(has(&check("FROM python:3.11\nWORKDIR app\n"), "DL3000"));
    assert!(!has(
        &check("FROM python:3.11\nWORKDIR /app\nWORKDIR ${HOME}/src\n"),
        "DL3000"
    ));
}

#[test]
fn dl3001_odd_commands() {
    assert!(has(
        &check("FROM ubuntu:22.04\nRUN service ssh start\n"),
        "DL3001"
    ));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04\nRUN apt-get install -y --no-install-recommends openssh-client\n"
        ),
        "DL3001"
    ));
}

#[test]
fn dl3002_root_user() {
    assert!(has(
        &check("FROM python:3.11\nUSER root\nCMD [\"python\"]\n"),
        "DL3002"
    ));
    assert!(!has(
        &check("FROM python:3.11\nUSER root\nRUN chown -R 1000 /srv\nUSER 1000:1000\n"),
        "DL3002"
    ));
}

#[test]
fn dl3011_ports() {
    assert!(has(&check("FROM python:3.11\nEXPOSE 78600\n"), "DL3011"));
    assert!(!has(
        &check("FROM python:3.11\nEXPOSE 7860 8000-8010/tcp ${PORT:-7860}\n"),
        "DL3011"
    ));
}

#[test]
fn dl3012_dl4004_single_per_stage() {
    assert!(has(
        &check(
            "FROM python:3.11\nHEALTHCHECK CMD [\"curl\", \"-f\", \"localhost\"]\nHEALTHCHECK NONE\n"
        ),
        "DL3012"
    ));
    assert!(has(
        &check("FROM python:3.11\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n"),
        "DL4004"
    ));
    let ok = check(
        "FROM python:3.11 AS a\nENTRYPOINT [\"a\"]\nHEALTHCHECK NONE\nFROM python:3.11\nENTRYPOINT [\"b\"]\nHEALTHCHECK NONE\n",
    );
    assert!(!has(&ok, "DL3012") && !has(&ok, "DL4004"));
}

#[test]
fn dl3021_copy_dest_dir() {
    let bad = "FROM python:3.11\nCOPY app.py utils.py /srv\n";
    assert!(has(&check(bad), "DL3021"));
    assert!(!has(
        &check("FROM python:3.11\nCOPY app.py utils.py /srv/\nCOPY app.py /srv/app.py\n"),
        "DL3021"
    ));
    assert_fixes_clear(bad, &[], "DL3021");
    assert_fixes_clear("FROM python:3.11\nCOPY a b \"/srv\"\n", &[], "DL3021");
}

#[test]
fn dl3022_dl3023_dl3024_stage_aliases() {
    assert!(has(
        &check("FROM python:3.11\nCOPY --from=builder /wheels /wheels\n"),
        "DL3022"
    ));
    assert!(!has(
        &check(
            "FROM python:3.11 AS builder\nFROM python:3.11\nCOPY --from=builder /wheels /wheels\nCOPY --from=ghcr.io/astral-sh/uv:0.5.4 /uv /bin/\n"
        ),
        "DL3022"
    ));
    assert!(has(
        &check("FROM python:3.11 AS app\nCOPY --from=app /a /b\n"),
        "DL3023"
    ));
    assert!(has(
        &check("FROM python:3.11 AS a\nFROM python:3.11 AS a\n"),
        "DL3024"
    ));
    assert!(!has(
        &check("FROM python:3.11 AS a\nFROM python:3.11 AS b\n"),
        "DL3024"
    ));
}

#[test]
fn dl3043_onbuild_nesting() {
    assert!(has(
        &check("FROM python:3.11\nONBUILD FROM alpine:3.20\n"),
        "DL3043"
    ));
    assert!(!has(
        &check("FROM python:3.11\nONBUILD COPY . /app\n"),
        "DL3043"
    ));
}

#[test]
fn dl3044_env_self_reference() {
    assert!(has(
        &check("FROM python:3.11\nENV CUDA_HOME=/usr/local/cuda PATH=$CUDA_HOME/bin:$PATH\n"),
        "DL3044"
    ));
    assert!(!has(
        &check("FROM python:3.11\nENV CUDA_HOME=/usr/local/cuda\nENV PATH=$CUDA_HOME/bin:$PATH\n"),
        "DL3044"
    ));
}

#[test]
fn dl4001_wget_and_curl() {
    assert!(has(
        &check(
            "FROM ubuntu:22.04\nRUN wget -q https://example.org/a\nRUN curl -fsSLO https://example.org/b\n"
        ),
        "DL4001"
    ));
    assert!(!has(
        &check(
            "FROM ubuntu:22.04 AS a\nRUN wget -q https://example.org/a\nFROM ubuntu:22.04\nRUN curl -fsSLO https://example.org/b\n"
        ),
        "DL4001"
    ));
}

#[test]
fn dl4005_shell_symlink() {
    assert!(has(
        &check("FROM ubuntu:22.04\nRUN ln -sf /bin/bash /bin/sh\n"),
        "DL4005"
    ));
    assert!(!has(
        &check("FROM ubuntu:22.04\nRUN ln -sf /usr/bin/python3 /usr/bin/python\n"),
        "DL4005"
    ));
}

#[test]
fn stage_pragma_covers_one_stage() {
    let a = check(
        "# hadolint stage ignore=DL3011\nFROM ubuntu:22.04\nEXPOSE 80000\nFROM ubuntu:22.04\nEXPOSE 80001\n",
    );
    assert_eq!(count(&a, "DL3011"), 1);
    assert_eq!(
        a.findings
            .iter()
            .find(|f| f.rule == "DL3011")
            .map(|f| f.span.line),
        Some(5)
    );
}

#[test]
fn conda_pytorch_cuda_selects_the_build() {
    let df = "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\nRUN conda install -y -c pytorch -c nvidia pytorch=2.1 pytorch-cuda=12.1 && conda clean -afy\n";
    let a = check(df);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU201")
        .expect("DU201");
    assert!(f.message.contains("cu121"), "{}", f.message);
    let ok = df.replace("pytorch-cuda=12.1", "pytorch-cuda=11.8");
    assert!(!has(&check(&ok), "DU201"));
}

#[test]
fn conda_fixes_use_conda_syntax() {
    let df = "FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04\nRUN conda install -y -c pytorch -c nvidia pytorch=2.1 torchvision=0.15 pytorch-cuda=11.8 && conda clean -afy\n";
    let a = check(df);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU202")
        .expect("DU202");
    assert_eq!(f.fixes[0].edits[0].replacement, "torchvision=0.16");
    assert_fixes_clear(df, &[], "DU202");
}

#[test]
fn du120_driver_docker_fix_and_one_fix_per_workflow() {
    let wf = WF_BAD.replace("      - name: Build\n", "      - uses: docker/setup-buildx-action@v3\n        with:\n          driver: docker\n      - name: Build\n");
    assert_fixes_clear(
        "FROM python:3.11\n",
        &[(".github/workflows/image.yml", &wf)],
        "DU120",
    );
    let a = check_with(
        "FROM python:3.11\n",
        &[(".github/workflows/image.yml", WF_BAD)],
    );
    let fixes: usize = a
        .findings
        .iter()
        .filter(|f| f.rule == "DU120")
        .map(|f| f.fixes.len())
        .sum();
    assert_eq!(fixes, 1);
    // A `docker buildx build --cache-to type=gha` in a run step is the same problem.
    let run = "jobs:\n  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: docker buildx build --cache-to type=gha,mode=max -t x .\n";
    assert!(has(
        &check_with("FROM python:3.11\n", &[(".github/workflows/ci.yaml", run)]),
        "DU120"
    ));
    assert_fixes_clear(
        "FROM python:3.11\n",
        &[(".github/workflows/ci.yaml", run)],
        "DU120",
    );
}

#[test]
fn uv_prefers_the_extra_index() {
    let df = "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN uv pip install --system torch --extra-index-url https://download.pytorch.org/whl/cu124\n";
    let a = check(df);
    assert!(!has(&a, "DU204"), "uv takes the extra index first");
    assert!(
        !has(&a, "DU205"),
        "an open range finds an older release on the cu124 index"
    );
    assert!(!has(&a, "DU201"), "{:#?}", a.findings);
}

#[test]
fn yum_dnf_rules() {
    let bad = "FROM rockylinux:9\nRUN dnf install gcc-11.4.1\n";
    let a = check(bad);
    assert!(has(&a, "DL3038") && has(&a, "DL3040"));
    assert_fixes_clear(bad, &[], "DL3038");
    assert_fixes_clear(bad, &[], "DL3040");
    let ok = check("FROM rockylinux:9\nRUN dnf install -y gcc-11.4.1 && dnf clean all\n");
    assert!(!has(&ok, "DL3038") && !has(&ok, "DL3040"));
    let bad = "FROM centos:7\nRUN yum install httpd-2.4.6\n";
    let a = check(bad);
    assert!(has(&a, "DL3030") && has(&a, "DL3032"));
    assert_fixes_clear(bad, &[], "DL3030");
    assert_fixes_clear(bad, &[], "DL3032");
    assert!(!has(
        &check("FROM centos:7\nRUN yum install -y httpd-2.4.6 && rm -rf /var/cache/yum/*\n"),
        "DL3032"
    ));
}

#[test]
fn dl3047_wget_progress() {
    let bad = "FROM ubuntu:22.04\nRUN wget https://example.org/model.gguf\n";
    assert!(has(&check(bad), "DL3047"));
    assert!(!has(
        &check("FROM ubuntu:22.04\nRUN wget -q https://example.org/model.gguf\n"),
        "DL3047"
    ));
    assert_fixes_clear(bad, &[], "DL3047");
}

#[test]
fn dl3060_yarn_cache() {
    let bad = "FROM node:20\nWORKDIR /ui\nRUN yarn install --frozen-lockfile\n";
    assert!(has(&check(bad), "DL3060"));
    assert!(!has(
        &check("FROM node:20\nRUN yarn install --frozen-lockfile && yarn cache clean\n"),
        "DL3060"
    ));
    assert_fixes_clear(bad, &[], "DL3060");
}

#[test]
fn du110_fix_reaches_the_arg_default() {
    let df = "ARG BASE=Nvidia/CUDA:12.4.1-base-ubuntu22.04\nFROM ${BASE}\n";
    assert!(has(&check(df), "DU110"));
    assert_fixes_clear(df, &[], "DU110");
}

#[test]
fn du209_unpinned_torch_follows_pypi() {
    let bad = "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch transformers==4.46.2\n";
    let a = check(bad);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU209")
        .expect("DU209");
    assert!(
        f.facts.iter().any(|x| x.contains("needs driver >=")),
        "{:?}",
        f.facts
    );
    assert_fixes_clear(bad, &[], "DU209");
    assert!(!has(
        &check("FROM python:3.11-slim\nRUN pip install --no-cache-dir torch==2.6.0\n"),
        "DU209"
    ));
    // Over a CUDA base DU201 speaks instead; with an explicit index the build is chosen.
    assert!(!has(
        &check(
            "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\nRUN pip install --no-cache-dir torch\n"
        ),
        "DU209"
    ));
    assert!(!has(
        &check(
            "FROM python:3.11-slim\nRUN pip install --no-cache-dir torch --index-url https://download.pytorch.org/whl/cu126\n"
        ),
        "DU209"
    ));
}

#[test]
fn every_rule_a_finding_uses_is_in_the_catalog() {
    // Severity comes from the catalog; a rule missing there would silently become `style`.
    let samples = [
        check("FROM python:3.11-slim\nRUN pip install torch\nMAINTAINER x\nRUNN y\n"),
        check_with(
            PT_BASE,
            &[(
                "requirements.txt",
                "torch==2.7.1\ntorchvision==0.20.1\nbad line ***\n",
            )],
        ),
        check(LLAMA),
    ];
    for a in &samples {
        for f in &a.findings {
            assert!(
                super::info(f.rule).is_some(),
                "{} is not in the catalog",
                f.rule
            );
        }
    }
}

#[test]
fn du210_cuda_differs_between_build_and_run_stages() {
    let bad = "ARG CUDA=12.4.1\nFROM nvidia/cuda:${CUDA}-devel-ubuntu22.04 AS build\nWORKDIR /src\nRUN make -j4\nFROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY --from=build /src/bin/server /usr/local/bin/server\n";
    let a = check(bad);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU210")
        .expect("DU210");
    assert_eq!(f.severity, crate::analyze::Severity::Warning);
    assert_fixes_clear(bad, &[], "DU210");
    let ok = bad.replace("12.1.1-runtime", "12.4.1-runtime");
    assert!(!has(&check(&ok), "DU210"));
}

#[test]
fn constraint_files_pin_requested_packages() {
    let df = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY requirements.txt constraints.txt /tmp/\nRUN pip install --no-cache-dir -r /tmp/requirements.txt -c /tmp/constraints.txt\n";
    let files = [
        ("requirements.txt", "torch\ntransformers==4.46.2\n"),
        ("constraints.txt", "torch==2.8.0\n"),
    ];
    let a = check_with(df, &files);
    let f = a
        .findings
        .iter()
        .find(|f| f.rule == "DU201")
        .expect("DU201 from the constraint pin");
    assert_eq!(f.file, Path::new("constraints.txt"));
    assert_fixes_clear(df, &files, "DU201");
    // Nested: the requirements file names its constraints itself.
    let files = [
        ("requirements.txt", "-c constraints.txt\ntorch\n"),
        ("constraints.txt", "torch==2.8.0\n"),
    ];
    let df = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nCOPY . /src\nRUN pip install --no-cache-dir -r /src/requirements.txt\n";
    assert!(has(&check_with(df, &files), "DU201"));
}

#[test]
fn du002_is_an_error_only_where_the_installers_grammar_rejects_the_line() {
    use crate::analyze::Severity;
    let df = "FROM python:3.11-slim\nCOPY requirements.txt environment.yml ./\nRUN pip install --no-cache-dir -r requirements.txt\n";
    // `>=1.0.*` is not PEP 440 (pip refuses it: the build fails).
    let a = check_with(
        df,
        &[("requirements.txt", "numpy>=1.26.*\nrequests==2.32.3\n")],
    );
    let f: Vec<_> = a.findings.iter().filter(|f| f.rule == "DU002").collect();
    assert_eq!(f.len(), 1, "{:?}", a.findings);
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].span.line, 1);
    // Must not: a line pip fills from the environment is no problem at all.
    let a = check_with(
        df,
        &[(
            "requirements.txt",
            "${EXTRA_REQUIREMENT}\nrequests==2.32.3\n",
        )],
    );
    assert!(
        !a.findings.iter().any(|f| f.rule == "DU002"),
        "{:?}",
        a.findings
    );
    // A conda spec dockui cannot read is judged by dockui's own reading: a warning that says so.
    let conda = "FROM continuumio/miniconda3:24.7.1-0\nCOPY environment.yml .\nRUN conda env create -f environment.yml && conda clean -afy\n";
    let env = "name: lab\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - =bad\n";
    let a = check_with(conda, &[("environment.yml", env)]);
    let f: Vec<_> = a.findings.iter().filter(|f| f.rule == "DU002").collect();
    assert_eq!(f.len(), 1, "{:?}", a.findings);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].facts.iter().any(|x| x.starts_with("assumption")));
}

#[test]
fn du002_follows_the_branch_of_the_install_that_reads_the_file() {
    use crate::analyze::Severity;
    let bad = [("requirements-dev.txt", "numpy>=1.26.*\n")];
    let du002 = |df: &str| {
        let a = check_with(df, &bad);
        let f: Vec<_> = a
            .findings
            .into_iter()
            .filter(|f| f.rule == "DU002")
            .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        f.into_iter().next().unwrap()
    };
    // Read only when a file exists in the image: undecidable, so a warning that names the condition.
    let f = du002(
        "FROM python:3.11-slim\nCOPY requirements-dev.txt ./\nRUN if [ -f /etc/dev-image ]; then pip install --no-cache-dir -r requirements-dev.txt; fi\n",
    );
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.facts
            .iter()
            .any(|x| x.starts_with("assumption") && x.contains("/etc/dev-image")),
        "{:?}",
        f.facts
    );
    // Read only when a build argument that defaults to empty is set: skipped with the defaults, info.
    let f = du002(
        "FROM python:3.11-slim\nARG DEV=\nCOPY requirements-dev.txt ./\nRUN if [ -n \"$DEV\" ]; then pip install --no-cache-dir -r requirements-dev.txt; fi\n",
    );
    assert_eq!(f.severity, Severity::Info);
    assert!(
        f.facts
            .iter()
            .any(|x| x.contains("default build arguments")),
        "{:?}",
        f.facts
    );
    // Must not lower: the same file also read by an unconditional install.
    let f = du002(
        "FROM python:3.11-slim\nCOPY requirements-dev.txt ./\nRUN if [ -f /etc/dev-image ]; then pip install --no-cache-dir -r requirements-dev.txt; fi\nRUN pip install --no-cache-dir -r requirements-dev.txt\n",
    );
    assert_eq!(f.severity, Severity::Error);
    // Nor through an included file, whichever install reaches it first (the conditional one is analysed
    // first here: the unconditional reader must still reach requirements-dev.txt through requirements.txt).
    let a = check_with(
        "FROM python:3.11-slim\nCOPY requirements*.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\nRUN if [ -f /etc/dev-image ]; then pip install --no-cache-dir -r requirements.txt; fi\n",
        &[
            (
                "requirements.txt",
                "-r requirements-dev.txt\nflask==3.0.0\n",
            ),
            bad[0],
        ],
    );
    let f: Vec<_> = a.findings.iter().filter(|f| f.rule == "DU002").collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Error, "{:?}", f[0]);
}

#[test]
fn fixes_continue_lines_with_the_files_escape_character() {
    // Windows-style Dockerfiles set the escape directive to a backtick: there a trailing backslash continues
    // nothing, and a fix that adds ` \` + newline + `&& ...` leaves a line starting with `&&` (unknown
    // instruction). Each fix that adds a line must use the file's escape character.
    let cases: &[(&str, &str, &str)] = &[
        (
            "FROM ubuntu:22.04\nRUN apt-get update `\n    && apt-get install -y --no-install-recommends curl=7.81.0-1ubuntu1.20\n",
            "DL3009",
            " `\n    && rm -rf /var/lib/apt/lists/*",
        ),
        (
            "FROM centos:7\nRUN yum install -y httpd-2.4.6\n",
            "DL3032",
            " `\n    && yum clean all",
        ),
        (
            "FROM node:20\nWORKDIR /ui\nRUN yarn install --frozen-lockfile\n",
            "DL3060",
            " `\n    && yarn cache clean",
        ),
        (
            "FROM continuumio/miniconda3:24.7.1-0\nRUN conda install -y -c conda-forge numpy=1.26\n",
            "DU103",
            " `\n    && conda clean -afy",
        ),
        (
            "FROM nvidia/cuda:12.4.1-devel-ubuntu22.04\nWORKDIR /src\nCOPY . .\nRUN cmake -B build -DGGML_CUDA=ON && cmake --build build -j\n",
            "DU207",
            "/libcuda.so.1 `\n    && export LIBRARY_PATH=",
        ),
    ];
    for (body, rule, inserted) in cases {
        let backtick = format!("# escape=`\n{body}");
        let a = check(&backtick);
        let edits: Vec<String> = a
            .findings
            .iter()
            .filter(|f| f.rule == *rule)
            .flat_map(|f| f.fixes.iter().flat_map(|x| x.edits.iter()))
            .map(|e| e.replacement.clone())
            .collect();
        assert!(
            edits.iter().any(|e| e.contains(inserted)) && edits.iter().all(|e| !e.contains('\\')),
            "{rule}: {edits:?}"
        );
        // The fixed file parses (no `&&` line read as an instruction) and the rule no longer fires.
        assert_fixes_clear(&backtick, &[], rule);
        // The usual backslash file keeps its backslash continuation.
        let body = &body.replace('`', "\\");
        let a = check(body);
        let plain = inserted.replace('`', "\\");
        assert!(
            a.findings
                .iter()
                .filter(|f| f.rule == *rule)
                .flat_map(|f| f.fixes.iter().flat_map(|x| x.edits.iter()))
                .any(|e| e.replacement.contains(&plain)),
            "{rule}: backslash case changed"
        );
        assert_fixes_clear(body, &[], rule);
    }
}

fn du005(a: &Analysis) -> Vec<(usize, usize, crate::analyze::Severity)> {
    a.findings
        .iter()
        .filter(|f| f.rule == "DU005")
        .map(|f| (f.span.line, f.span.col, f.severity))
        .collect()
}

#[test]
fn du005_nul_byte_where_docker_passes_it_on() {
    use crate::analyze::Severity::*;
    // The auditor's repro: the build fails with `exec /bin/sh: invalid argument`.
    let run = "FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nRUN echo hi\0 there\n";
    assert_eq!(du005(&check(run)), [(2, 12, Error)]);
    // A NUL that hides the install from the apt rules is still reported, at its column.
    let hidden = "FROM ubuntu:22.04\nRUN apt-get update `\n    && apt-get install\0 -y curl\n";
    assert_eq!(
        du005(&check(&format!("# escape=`\n{hidden}"))),
        [(4, 23, Error)]
    );
    for (text, line) in [
        (
            "FROM python:3.11-slim\nENV PYTHONPATH=/app\0\nRUN pip install flask\n",
            2,
        ),
        ("FROM python:3.11-slim\nCOPY app.py /srv/app\0.py\n", 2),
        ("FROM python:3.11-slim\nWORKDIR /srv\0\n", 2),
        ("FROM python:3.11-slim\nCMD python -m http.server\0\n", 2),
        ("FROM python:3.11-slim\0\n", 1),
        ("FROM python:3.11-slim\nUSER app\0\n", 2),
        // A stage ARG reaches every later RUN of the stage as environment, used or not.
        (
            "FROM python:3.11-slim\nARG PIP_INDEX=https://pypi.org/simple\0\nRUN pip install flask\n",
            2,
        ),
        // A global ARG used in FROM.
        ("ARG TAG=3.11-slim\0\nFROM python:${TAG}\n", 1),
        // A RUN heredoc is the shell's script.
        (
            "FROM ubuntu:22.04\nRUN <<EOF\napt-get update\necho \0\nEOF\n",
            4,
        ),
    ] {
        assert_eq!(
            du005(&check(text))
                .iter()
                .map(|f| (f.0, f.2))
                .collect::<Vec<_>>(),
            [(line, Error)],
            "{text:?}"
        );
    }
    // Passes the build: lower severities.
    assert_eq!(
        du005(&check(
            "FROM python:3.11-slim\nLABEL org.opencontainers.image.title=\"app\0\"\n"
        )),
        [(2, 42, Info)]
    );
    assert_eq!(
        du005(&check(
            "FROM python:3.11-slim\nONBUILD RUN pip install -r requirements.txt\0\n"
        ))
        .iter()
        .map(|f| f.2)
        .collect::<Vec<_>>(),
        [Warning]
    );
    assert_eq!(
        du005(&check(
            "FROM python:3.11-slim\nRUN pip install flask\nARG UNUSED=x\0\n"
        ))
        .iter()
        .map(|f| f.2)
        .collect::<Vec<_>>(),
        [Info]
    );
    // Must not fire: comment lines (also inside a continuation), a COPY heredoc's content, no NUL.
    for text in [
        "FROM python:3.11-slim\n# built by ci\0\nRUN pip install flask\n",
        "FROM python:3.11-slim\nRUN pip install flask \\\n# pinned later\0\n    && pip install gunicorn\n",
        "FROM python:3.11-slim\nCOPY <<EOF /etc/app.bin\nraw\0bytes\nEOF\n",
        "FROM python:3.11-slim\nRUN printf 'a\\0b' > /tmp/x\n",
    ] {
        assert!(du005(&check(text)).is_empty(), "{text:?}");
    }
    // A UTF-16 file: one finding that says so, not one per character.
    let utf16: String = "FROM python:3.11-slim\nRUN pip install flask\n"
        .chars()
        .flat_map(|c| [c, '\0'])
        .collect();
    let a = check(&utf16);
    assert_eq!(du005(&a).len(), 1);
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule == "DU005" && f.message.contains("UTF-16"))
    );
}

#[test]
fn du113_stage_dependency_cycle() {
    use crate::analyze::Severity;
    let du113 = |a: &Analysis| -> Vec<crate::analyze::Finding> {
        a.findings
            .iter()
            .filter(|f| f.rule == "DU113")
            .cloned()
            .collect()
    };
    // The auditor's repro: BuildKit fails with `circular dependency detected on stage: b`.
    let two = "FROM python:3.11-slim AS wheels\nCOPY --from=app /src/requirements.txt /req.txt\nRUN pip wheel -r /req.txt -w /wheels\nFROM python:3.11-slim AS app\nCOPY --from=wheels /wheels /wheels\nCOPY . /src\n";
    let a = check(two);
    let f = du113(&a);
    assert_eq!(f.len(), 1, "{:#?}", a.findings);
    assert_eq!((f[0].severity, f[0].span.line), (Severity::Error, 2));
    assert!(
        f[0].message
            .contains("stage `wheels` and stage `app` depend on each other"),
        "{}",
        f[0].message
    );
    let facts = f[0].facts.join("\n");
    assert!(
        facts.contains("line 2: COPY --from=app") && facts.contains("line 5: COPY --from=wheels"),
        "{facts}"
    );
    assert!(facts.contains("whatever --target is"), "{facts}");
    // hadolint's DL3022 stays as it is, beside it.
    assert!(has(&a, "DL3022"));

    for (text, line) in [
        // A cycle the last stage never reaches: BuildKit checks every stage first, the build still fails.
        (
            "FROM golang:1.22 AS gen\nCOPY --from=build /out/schema.json /schema.json\nFROM golang:1.22 AS build\nCOPY --from=gen /gen /src/gen\nFROM alpine:3.20\nCOPY app /app\n",
            2,
        ),
        // Through a mount, with a name in another case.
        (
            "FROM node:20 AS deps\nRUN --mount=type=bind,from=assets,source=/dist,target=/dist npm ci\nFROM node:20 AS assets\nCOPY --from=DEPS /node_modules /node_modules\n",
            2,
        ),
        // Through stage indexes.
        (
            "FROM rust:1.80 AS a\nCOPY --from=1 /x /x\nFROM rust:1.80 AS b\nCOPY --from=0 /y /y\n",
            2,
        ),
        // Three stages.
        (
            "FROM python:3.11 AS a\nCOPY --from=c /c /c\nFROM python:3.11 AS b\nCOPY --from=a /a /a\nFROM python:3.11 AS c\nCOPY --from=b /b /b\n",
            2,
        ),
        // Through `FROM <stage>`: BuildKit copies from the unbuilt stage (empty), the COPY fails.
        (
            "FROM ubuntu:22.04 AS base\nCOPY --from=tools /usr/local/bin/tool /usr/local/bin/\nFROM base AS tools\nRUN make tool\n",
            2,
        ),
        // A stage needing itself by index (DL3023 only looks at names).
        ("FROM python:3.11-slim AS app\nCOPY --from=0 /app /app\n", 2),
    ] {
        let f = du113(&check(text));
        assert_eq!(
            f.iter()
                .map(|f| (f.severity, f.span.line))
                .collect::<Vec<_>>(),
            [(Severity::Error, line)],
            "{text}"
        );
    }
    // Must not fire: ordinary multi-stage builds, a forward --from without a way back (DL3022's), a copy
    // from the stage's own name (DL3023's), images, ONBUILD (runs in a child build), a variable (frontends differ on expanding it).
    for text in [
        "FROM python:3.11-slim AS builder\nRUN pip wheel -w /wheels flask\nFROM builder AS test\nRUN pytest\nFROM python:3.11-slim\nCOPY --from=builder /wheels /wheels\nCOPY --from=ghcr.io/astral-sh/uv:0.5.4 /uv /bin/\n",
        "FROM python:3.11-slim AS app\nCOPY --from=assets /dist /static\nFROM node:20 AS assets\nRUN npm run build\n",
        "FROM python:3.11-slim AS app\nCOPY --from=app /a /b\n",
        "FROM python:3.11-slim AS a\nONBUILD COPY --from=b /x /x\nFROM python:3.11-slim AS b\nCOPY --from=a /y /y\n",
        "FROM python:3.11-slim AS a\nARG SRC=b\nCOPY --from=${SRC} /x /x\nFROM python:3.11-slim AS b\nCOPY --from=a /y /y\n",
    ] {
        assert!(du113(&check(text)).is_empty(), "{text}");
    }
    assert!(has(
        &check("FROM python:3.11-slim AS app\nCOPY --from=app /a /b\n"),
        "DL3023"
    ));
}

#[test]
fn a_file_of_junk_lists_its_first_parse_problems_and_counts_the_rest() {
    let junk: String = (0..1000).map(|i| format!("junk line {i}\n")).collect();
    let a = check(&format!("FROM ubuntu:22.04\n{junk}"));
    assert_eq!(
        count(&a, "DU001"),
        201,
        "200 listed and one that counts the rest"
    );
    let last = a.findings.iter().rfind(|f| f.rule == "DU001").unwrap();
    assert!(
        last.message.starts_with("800 more lines from line 202 on"),
        "{}",
        last.message
    );
    // Must not: a few bad lines are each listed.
    assert_eq!(count(&check("FROM a\nRUNN x\nCOPPY y\n"), "DU001"), 2);
}
