//! DU005: a NUL byte in the Dockerfile. Docker reads it as an ordinary character and hands it on: to the
//! shell's argv (RUN, CMD), to runc's environment (ENV, ARG), to paths (COPY, WORKDIR, VOLUME), to the image
//! reference (FROM). Each of those refuses it, so the build or the container's first run fails with an
//! `invalid argument` far from the byte. Comment lines are dropped by the parser and never reach anything.
//!
//! What each place does was checked on a Docker engine (20.10) with the legacy builder and BuildKit:
//! RUN `exec /bin/sh: invalid argument`; FROM `invalid reference format`; COPY/WORKDIR/VOLUME `lstat ...:
//! invalid argument`; EXPOSE `Invalid containerPort`; STOPSIGNAL `Invalid signal`; a stage ARG or an ENV makes
//! every later RUN fail (`environment variable value can't contain null`), an ENV or USER also the container's
//! start; CMD/ENTRYPOINT build but do not start; LABEL builds and runs (the value keeps the byte); a comment
//! line, even inside a continuation, changes nothing.

use super::*;
use crate::analyze::dockerfile::model::Info;
use crate::analyze::dockerfile::{Instruction, ItemKind};

pub const RULE: RuleInfo = RuleInfo::new(
    RuleId::DU005,
    Severity::Error,
    "NUL byte in a Dockerfile instruction: docker passes it on to the shell, environment or path, which refuse it",
    &[],
)
.note("warning in an ONBUILD (only images built FROM this one fail) or a parser directive other than syntax; info in LABEL/MAINTAINER and in an ARG nothing uses (the build passes)");

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let text = ctx.text;
    let Some(first) = text.find('\0') else {
        return;
    };
    let nuls = text.bytes().filter(|b| *b == 0).count();
    if nuls * 4 >= text.len() {
        // One NUL every other byte: a UTF-16 file, not a stray byte. One finding says so.
        out.push(
            ctx.at(RuleId::DU005, first..first + 1, format!("the Dockerfile has {nuls} NUL bytes: it looks like UTF-16 text; save it as UTF-8"))
                .why("Docker reads a Dockerfile as UTF-8: every instruction of a UTF-16 file is an unknown one (`unknown instruction: F\\x00R\\x00O\\x00M\\x00`), and the build stops at the first."),
        );
        return;
    }
    for it in &ctx.df.items {
        if let ItemKind::Directive { name, .. } = &it.kind {
            if let Some(i) = text[it.range.clone()].find('\0') {
                let at = it.range.start + i;
                let mut f = ctx.at(
                    RuleId::DU005,
                    at..at + 1,
                    format!("NUL byte in the `{name}` parser directive"),
                );
                if name == "syntax" {
                    f = f.why("The frontend image the directive names is no valid image reference with a NUL in it: the build fails before it starts.");
                } else {
                    f.severity = Severity::Warning;
                    f = f.why("BuildKit reads the directive's value with the NUL in it; a value it cannot read fails the build.")
                        .fact("not confirmed on an engine: the engine here has no frontend that reads this directive");
                }
                out.push(f);
            }
        }
    }
    for (idx, info) in ctx.m.instrs.iter().enumerate() {
        let ins = info.ins;
        if let Some(l) = ins.logical.text.find('\0') {
            let at = ins.logical.to_file(l);
            out.push(instruction_finding(ctx, idx, info, at));
            continue;
        }
        // Heredoc bodies: a RUN's go to the shell as its script; a COPY/ADD's are file content, any bytes.
        let eff = ins.effective();
        if eff.is("RUN") {
            let body = eff.heredocs.iter().find_map(|h| {
                text.get(h.body_range.clone())
                    .and_then(|b| b.find('\0'))
                    .map(|i| h.body_range.start + i)
            });
            if let Some(at) = body {
                let mut f = ctx
                    .at(RuleId::DU005, at..at + 1, "NUL byte in the heredoc script of this RUN")
                    .why("BuildKit hands a RUN's heredoc to the shell as its script (`sh -c`), and an argument with a NUL cannot be passed: exec fails with `invalid argument`.")
                    .fact("rests on BuildKit passing the heredoc in the shell's arguments; the engine here has no heredoc support to confirm it");
                if ins.is("ONBUILD") {
                    f = onbuild(f);
                }
                out.push(f);
            }
        }
    }
}

fn onbuild(mut f: Finding) -> Finding {
    f.severity = Severity::Warning;
    f.fact("in an ONBUILD: this build stores the trigger and passes; every image built FROM this one runs it and fails")
}

fn instruction_finding(ctx: &Ctx, idx: usize, info: &Info, at: usize) -> Finding {
    let ins = info.ins;
    let kw = ins.keyword.as_str();
    let f = ctx.at(RuleId::DU005, at..at + 1, format!("NUL byte in this {kw}"));
    if kw == "ONBUILD" {
        let inner = ins.effective().keyword.as_str();
        return onbuild(f.why(format!(
            "The {inner} the trigger runs keeps the NUL byte, and docker cannot pass it on."
        )));
    }
    let why = match kw {
        "RUN" => {
            "The command goes to the shell (or exec) with the NUL in an argument, which cannot be passed: the step fails with `exec /bin/sh: invalid argument`."
        }
        "CMD" | "ENTRYPOINT" | "HEALTHCHECK" => {
            "The build passes, but the command cannot be started: the container fails with `exec /bin/sh: invalid argument`."
        }
        "FROM" => {
            "An image reference with a NUL is no valid reference: `invalid reference format`."
        }
        "COPY" | "ADD" | "WORKDIR" | "VOLUME" => {
            "A path with a NUL cannot be looked up (`lstat ...: invalid argument`), nor sent from the build context."
        }
        "ENV" => {
            "Every later RUN of the stage, and the container's start, fail: runc refuses an environment value with a NUL (`environment variable value can't contain null`)."
        }
        "USER" => {
            "Later RUN steps and the container's start fail: no user has a name with a NUL (`unable to find user`)."
        }
        "EXPOSE" => "Docker cannot read the port: `Invalid containerPort`.",
        "STOPSIGNAL" => "Docker cannot read the signal: `Invalid signal`.",
        "SHELL" => "A raw NUL is no valid JSON: docker refuses SHELL that is not in JSON form.",
        "LABEL" | "MAINTAINER" => {
            let mut f = f.why("The build and the container run; the value in the image keeps the NUL byte (`docker inspect` shows `\\u0000`).");
            f.severity = Severity::Info;
            return f;
        }
        "ARG" => return arg_finding(ctx, idx, info, f),
        _ => {
            "Docker passes the byte on with the instruction's value, and nothing it goes to takes it."
        }
    };
    f.why(why)
}

/// An ARG's value goes into the environment of every RUN that sees it; no RUN seeing it, nothing fails.
fn arg_finding(ctx: &Ctx, idx: usize, info: &Info, f: Finding) -> Finding {
    let names: Vec<&str> = info
        .ins
        .words
        .iter()
        .map(|w| w.text.split('=').next().unwrap_or(""))
        .filter(|n| !n.is_empty())
        .collect();
    let is_run = |i: &Info| i.ins.is("RUN");
    let user = match info.stage {
        // In a stage: every later RUN of the stage gets all the stage's ARGs as environment, used or not.
        Some(s) => ctx.m.instrs[idx + 1..]
            .iter()
            .take_while(|i| i.stage == Some(s))
            .find(|i| is_run(i))
            .map(|i| i.ins.line),
        // Before the first FROM: used by a FROM line, or by a RUN after a stage's `ARG NAME` brings it in.
        None => ctx.m.stages.iter().find_map(|st| {
            let from = ctx.m.instrs[st.from].ins;
            if names.iter().any(|n| mentions(&st.image_raw, n)) {
                return Some(from.line);
            }
            let redeclared = st.instrs.iter().position(|&k| {
                let i: &Instruction = ctx.m.instrs[k].ins;
                i.is("ARG") && i.words.iter().any(|w| names.contains(&w.text.as_str()))
            })?;
            st.instrs[redeclared + 1..]
                .iter()
                .map(|&k| &ctx.m.instrs[k])
                .find(|i| is_run(i))
                .map(|i| i.ins.line)
        }),
    };
    match user {
        Some(line) => f
            .why("Docker passes build args to RUN as environment, and runc refuses a value with a NUL (`environment variable value can't contain null`): the step fails.")
            .fact(format!("line {line} is the first step that gets this value")),
        None => {
            let mut f = f.why("No RUN or FROM gets this value yet, so the build passes; the first step that does will fail (runc refuses an environment value with a NUL).");
            f.severity = Severity::Info;
            f
        }
    }
}

/// `$NAME` or `${NAME...}` in `s`.
fn mentions(s: &str, name: &str) -> bool {
    s.match_indices('$').any(|(i, _)| {
        let rest = &s[i + 1..];
        let rest = rest.strip_prefix('{').unwrap_or(rest);
        rest.strip_prefix(name)
            .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    })
}
