//! Secrets (`DU130`): a token or password handed to the build through ARG or ENV stays readable in the
//! image (ENV in its config, a build arg used by RUN in its history). BuildKit's secret mounts give the
//! value to one RUN without keeping it.
//!
//! `looks_secret` is also what masks build-arg values in logs, history and JSON output.

use super::*;
use crate::analyze::dockerfile::model::env_pairs;

/// Name parts that mark a secret. Matched as whole `_`-separated parts, so TOKENIZER_NAME or KEYBOARD are
/// not secrets, while HF_TOKEN, DB_PASSWORD or AWS_SECRET_ACCESS_KEY are.
const SECRET_PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "PASSPHRASE",
    "KEY",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "AUTH",
    "PAT",
];

/// Parts that make the name point at a secret rather than hold one (PASSWORD_FILE=/run/secrets/x), or
/// name public material (GPG_KEY in the official python images is a key fingerprint).
const REFERENCE_PARTS: &[&str] = &[
    "FILE",
    "PATH",
    "DIR",
    "URL",
    "NAME",
    "ID",
    "GPG",
    "PUBLIC",
    "PUB",
    "FINGERPRINT",
    "TYPE",
    "LENGTH",
    "SIZE",
];

pub const RULES: &[RuleInfo] = &[RuleInfo::new(
    RuleId::DU130,
    Severity::Warning,
    "A secret (token, password, key) passed through ARG or ENV stays readable in the image; use a secret mount",
    &[FixLevel::Suggestion],
)];

/// Whether a variable name looks like it holds a secret value.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let parts: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect();
    parts.iter().any(|p| SECRET_PARTS.contains(p))
        && !parts.iter().any(|p| REFERENCE_PARTS.contains(p))
}

/// A switch, not a secret: `SCCACHE_S3_NO_CREDENTIALS=0`, `USE_AUTH=true`.
fn is_switch_value(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']).to_ascii_lowercase();
    ["0", "1", "true", "false", "yes", "no", "on", "off"].contains(&v.as_str())
}

/// The value as it may be shown: secret-looking names get `***`.
pub fn mask_value(name: &str, value: &str) -> String {
    if looks_secret(name) && !value.is_empty() {
        "***".to_string()
    } else {
        value.to_string()
    }
}

/// Whether `text` expands `$name` or `${name...}`.
fn expands(text: &str, name: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        let braced = rest.strip_prefix('{');
        let body = braced.unwrap_or(rest);
        if let Some(after) = body.strip_prefix(name) {
            let next = after.chars().next();
            let ends = match braced {
                Some(_) => matches!(next, Some('}' | ':' | '-' | '+' | '?' | '%' | '#' | '/')),
                None => !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_'),
            };
            if ends {
                return true;
            }
        }
    }
    false
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    for (i, info) in ctx.m.instrs.iter().enumerate() {
        let ins = info.ins.effective();
        if ins.is("ENV") {
            for (name, value) in env_pairs(ins) {
                if !looks_secret(&name)
                    || value.trim_matches(['"', '\'']).is_empty()
                    || is_switch_value(&value)
                {
                    continue;
                }
                out.push(
                    ctx.at(RuleId::DU130, ins.range.clone(), format!("ENV {name} puts a secret into the image"))
                        .why("ENV values are stored in the image's configuration: anyone who can pull the image can read them with `docker inspect`, in every stage built from it.")
                        .fact(format!("{name} looks like a secret by its name"))
                        .fact(format!("use `RUN --mount=type=secret,id={name}` where the value is needed and pass it with `docker build --secret id={name},env={name}`")),
                );
            }
        } else if ins.is("ARG") && info.stage.is_some() {
            for w in &ins.words {
                let (name, default) = match w.text.split_once('=') {
                    Some((n, d)) => (n, Some(d)),
                    None => (w.text.as_str(), None),
                };
                if !looks_secret(name) || default.is_some_and(is_switch_value) {
                    continue;
                }
                let users: Vec<usize> = ctx
                    .m
                    .instrs
                    .iter()
                    .enumerate()
                    .skip(i + 1)
                    .filter(|(_, o)| o.stage == info.stage && o.ins.effective().is("RUN"))
                    .filter(|(_, o)| expands(o.ins.effective().args_text(), name))
                    .map(|(j, _)| j)
                    .collect();
                let has_default = default.is_some_and(|d| !d.trim_matches(['"', '\'']).is_empty());
                if users.is_empty() && !has_default {
                    continue;
                }
                let mut f = ctx
                    .at(RuleId::DU130, ins.range.clone(), format!("build arg {name} passes a secret through ARG"))
                    .why("A build arg used by RUN is recorded in the image's history (`docker history --no-trunc` shows it), and a default value sits in the Dockerfile itself. A secret mount gives the value to one RUN and keeps it out of the image.")
                    .fact(format!("{name} looks like a secret by its name"));
                if has_default {
                    f = f.fact(
                        "the ARG has a default value: the secret is written in the Dockerfile",
                    );
                }
                if !has_default && ins.words.len() == 1 && !users.is_empty() {
                    if let Some(fix) = secret_mount_fix(ctx, ins, name, &users) {
                        f = f
                            .fact(format!("the fix assumes the build gets the value as a secret: `docker build --secret id={name},env={name}` (BuildKit); a --build-arg {name} is then ignored"))
                            .with_fix(fix);
                    }
                }
                out.push(f);
            }
        }
    }
}

/// Remove the ARG and give each RUN that uses it a secret mount that exports the value for that RUN only.
fn secret_mount_fix(
    ctx: &Ctx,
    arg: &crate::analyze::dockerfile::Instruction,
    name: &str,
    users: &[usize],
) -> Option<Fix> {
    let mut edits = Vec::new();
    for &j in users {
        let run = ctx.m.instrs[j].ins;
        // ONBUILD RUN, exec form and `<<-` heredocs cannot take the edit exactly.
        if run.is("ONBUILD") || !edits_are_exact(run) || !run.heredocs.is_empty() {
            return None;
        }
        // args_start is logical (continuations folded): map it to the file.
        let at = run.file_range(run.args_start..run.args_start).start;
        edits.push(insert(
            at,
            format!(
                "--mount=type=secret,id={name} export {name}=\"$(cat /run/secrets/{name})\" && "
            ),
        ));
    }
    // The whole ARG line, with its newline.
    let end = ctx.text[arg.range.end..]
        .find('\n')
        .map(|n| arg.range.end + n + 1)
        .unwrap_or(ctx.text.len());
    edits.push(edit(arg.range.start, end, ""));
    edits.sort_by_key(|e| e.start);
    Some(ctx.fix(
        "DU130.secret-mount",
        FixLevel::Suggestion,
        format!("Pass {name} as a BuildKit secret instead of a build arg"),
        edits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::rules::testutil::{check, count};

    #[test]
    fn names_that_look_secret() {
        for n in [
            "HF_TOKEN",
            "GITHUB_TOKEN",
            "DB_PASSWORD",
            "PIP_INDEX_PASSWD",
            "AWS_SECRET_ACCESS_KEY",
            "API_KEY",
            "NPM_AUTH",
            "hf_token",
            "REGISTRY_CREDENTIALS",
        ] {
            assert!(looks_secret(n), "{n}");
        }
        for n in [
            "TOKENIZER_NAME",
            "PASSWORD_FILE",
            "KEYBOARD",
            "GPG_KEY",
            "MODEL_NAME",
            "AUTHOR",
            "HF_TOKEN_PATH",
            "PYTHON_VERSION",
            "PASSTHROUGH",
        ] {
            assert!(!looks_secret(n), "{n}");
        }
        assert_eq!(mask_value("HF_TOKEN", "hf_abc"), "***");
        assert_eq!(mask_value("BASE_IMAGE", "ubuntu:22.04"), "ubuntu:22.04");
    }

    #[test]
    fn expansion_is_matched_by_whole_name() {
        assert!(expands("echo $HF_TOKEN", "HF_TOKEN"));
        assert!(expands("x ${HF_TOKEN:-none}", "HF_TOKEN"));
        assert!(!expands("echo $HF_TOKEN_PATH", "HF_TOKEN"));
        assert!(!expands("echo HF_TOKEN", "HF_TOKEN"));
    }

    #[test]
    fn an_arg_token_used_in_run_fires_with_a_secret_mount_fix() {
        let text =
            "FROM python:3.11-slim\nARG HF_TOKEN\nRUN huggingface-cli login --token $HF_TOKEN\n";
        let a = check(text);
        assert_eq!(count(&a, "DU130"), 1, "{:#?}", a.findings);
        let f = a.findings.iter().find(|f| f.rule == "DU130").unwrap();
        assert_eq!(f.span.line, 2);
        let fix = f.fixes.first().expect("a fix");
        assert_eq!(fix.level, FixLevel::Suggestion);
        let mut fixed = text.to_string();
        for e in fix.edits.iter().rev() {
            fixed.replace_range(e.start..e.end, &e.replacement);
        }
        assert_eq!(
            fixed,
            "FROM python:3.11-slim\nRUN --mount=type=secret,id=HF_TOKEN export HF_TOKEN=\"$(cat /run/secrets/HF_TOKEN)\" && huggingface-cli login --token $HF_TOKEN\n"
        );
        // The fixed file no longer fires.
        assert_eq!(count(&check(&fixed), "DU130"), 0);
    }

    #[test]
    fn env_with_a_secret_value_fires() {
        let a = check("FROM alpine:3.20\nENV GITHUB_TOKEN=ghp_123\n");
        assert_eq!(count(&a, "DU130"), 1);
    }

    #[test]
    fn look_alikes_and_references_do_not_fire() {
        for df in [
            "FROM alpine:3.20\nARG TOKENIZER_NAME=bert\nRUN echo $TOKENIZER_NAME\n",
            "FROM alpine:3.20\nENV PASSWORD_FILE=/run/secrets/x\n",
            // Declared, never used, no default: nothing reaches the image.
            "FROM alpine:3.20\nARG HF_TOKEN\nRUN echo hi\n",
            "FROM alpine:3.20\nENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n",
            "FROM alpine:3.20\nRUN --mount=type=secret,id=HF_TOKEN cat /run/secrets/HF_TOKEN\n",
            // A switch whose name mentions credentials holds no secret.
            "FROM alpine:3.20\nARG SCCACHE_S3_NO_CREDENTIALS=0\nRUN echo $SCCACHE_S3_NO_CREDENTIALS\n",
            "FROM alpine:3.20\nENV USE_AUTH_TOKEN=true\n",
        ] {
            assert_eq!(count(&check(df), "DU130"), 0, "{df}");
        }
    }
}
