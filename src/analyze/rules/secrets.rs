//! Secrets (`DU130`): a token or password handed to the build through ARG or ENV stays readable in the
//! image (ENV in its config, a build arg used by RUN in its history). BuildKit's secret mounts give the
//! value to one RUN without keeping it.
//!
//! `looks_secret` is also what masks build-arg values in logs, history and JSON output.

use super::*;
use crate::analyze::dockerfile::model::env_pairs;

/// Words that mark a secret wherever they appear in the name, also inside joined words: HF_TOKEN,
/// AUTHTOKEN, GITHUBTOKEN, DBPASSWORD. Matched on the upper-cased name with its separators read as `_`, and
/// on the name with its separators removed (so API_KEY, API-KEY and APIKEY all match APIKEY).
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "APIKEY",
    "PRIVATEKEY",
    "ACCESSKEY",
    "CREDENTIAL",
];

/// What follows TOKEN when the word is about text tokens, not a credential: TOKENIZER, TOKENIZERS_PARALLELISM,
/// MAX_TOKENS (a count).
const NOT_A_TOKEN_AFTER: &[&str] = &["IZ", "S"];

/// Short name parts that mark a secret only as a whole `_`-separated part, so KEYBOARD, MONKEY, AUTHOR,
/// PASSTHROUGH or PATH are not secrets, while SSH_KEY, NPM_AUTH or PIP_PASS are.
const SECRET_PARTS: &[&str] = &["PASS", "KEY", "AUTH", "PAT", "CREDS"];

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
    // Counts of text tokens: MAX_TOKEN_COUNT, TOKEN_LIMIT.
    "COUNT",
    "LIMIT",
];

pub const RULES: &[RuleInfo] = &[RuleInfo::new(
    RuleId::DU130,
    Severity::Warning,
    "A secret (token, password, key) passed through ARG or ENV stays readable in the image; use a secret mount",
    &[FixLevel::Suggestion],
)];

/// Whether a variable name looks like it holds a secret value: the one test of a name for DU130, for masking
/// build-arg values (logs, JSON, records, the cache-break record) and for cache entry attributes.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let parts: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.iter().any(|p| REFERENCE_PARTS.contains(p)) {
        return false;
    }
    let (spaced, joined) = (parts.join("_"), parts.concat());
    parts.iter().any(|p| SECRET_PARTS.contains(p))
        || SECRET_WORDS
            .iter()
            .any(|w| contains_word(&spaced, w) || contains_word(&joined, w))
}

/// `word` in `text`, not counting a TOKEN that goes on as TOKENIZER or TOKENS.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let after = &text[i + word.len()..];
        word != "TOKEN" || !NOT_A_TOKEN_AFTER.iter().any(|a| after.starts_with(a))
    })
}

/// A switch, not a secret: `SCCACHE_S3_NO_CREDENTIALS=0`, `USE_AUTH=true`.
pub fn is_switch_value(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']).to_ascii_lowercase();
    ["0", "1", "true", "false", "yes", "no", "on", "off"].contains(&v.as_str())
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
            // Joined words: the secret word inside a longer part.
            "AUTHTOKEN",
            "APITOKEN",
            "ACCESSTOKEN",
            "GITHUBTOKEN",
            "DBPASSWORD",
            "MYSQL_ROOTPASSWORD",
            "GPGPASSPHRASE",
            "OPENAI_APIKEY",
            "AWS_SECRETACCESSKEY",
            "SSH_PRIVATE_KEY",
            "STRIPE-API-KEY",
            "HUGGING_FACE_HUB_TOKEN",
            "HF_TOKEN_STORE",
            "GCP_CREDENTIAL_JSON",
            "CLIENTSECRET",
            "GH_PAT",
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
            // TOKEN as in text tokens, KEY inside another word.
            "TOKENIZER",
            "TOKENIZERS_PARALLELISM",
            "HF_TOKENIZER_NAME",
            "DETOKENIZE",
            "MAX_TOKENS",
            "MAX_NEW_TOKENS",
            "MAX_TOKEN_COUNT",
            "MONKEY",
            "KEYBOARD_LAYOUT",
            "DONKEY_PATCH",
            "PATH",
            "PIP_INDEX_URL",
            "AWS_ACCESS_KEY_ID",
            "SSH_PUBLIC_KEY",
        ] {
            assert!(!looks_secret(n), "{n}");
        }
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
    fn joined_secret_names_fire_as_the_masker_sees_them() {
        for df in [
            "FROM alpine:3.20\nARG AUTHTOKEN\nRUN echo tok=$AUTHTOKEN\n",
            "FROM alpine:3.20\nARG GITHUBTOKEN\nRUN git clone https://$GITHUBTOKEN@github.com/o/r\n",
            "FROM alpine:3.20\nENV DBPASSWORD=hunter2pw\n",
        ] {
            assert_eq!(count(&check(df), "DU130"), 1, "{df}");
        }
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
            "FROM python:3.11-slim\nENV TOKENIZERS_PARALLELISM=false HF_TOKENIZER_NAME=bert-base\n",
            "FROM python:3.11-slim\nARG MAX_NEW_TOKENS=512\nRUN echo $MAX_NEW_TOKENS\n",
            "FROM python:3.11-slim\nARG PIP_INDEX_URL\nRUN pip install --index-url $PIP_INDEX_URL x\n",
        ] {
            assert_eq!(count(&check(df), "DU130"), 0, "{df}");
        }
    }
}
