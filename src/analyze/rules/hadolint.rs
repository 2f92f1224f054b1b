//! Common Dockerfile rules under hadolint's ids, with hadolint's meaning (measured against its own cases by
//! `tests/analyze_hadolint_agreement.rs`). Fixes are offered where the change keeps the build's meaning.

use super::*;
use crate::analyze::dockerfile::Form;
use crate::analyze::dockerfile::model::Info;
use crate::analyze::dockerfile::shell::{Command, SWord, Script};

/// Metadata of the hadolint-compatible rules (checked here and in `hadolint_more`).
pub const RULES: &[RuleInfo] = &[
    RuleInfo::new(RuleId::DL3000, Severity::Error, "Use absolute WORKDIR", &[]),
    RuleInfo::new(
        RuleId::DL3001,
        Severity::Info,
        "Commands that make no sense in a container (ssh, vim, shutdown, service, ps, free, top, kill, mount, ifconfig)",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3002,
        Severity::Warning,
        "Last USER should not be root",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3003,
        Severity::Warning,
        "Use WORKDIR to switch to a directory",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3004,
        Severity::Error,
        "Do not use sudo as it leads to unpredictable behavior",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3006,
        Severity::Warning,
        "Always tag the version of an image explicitly",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3007,
        Severity::Warning,
        "Using latest is prone to errors if the image will ever update; pin a release tag",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3008,
        Severity::Warning,
        "Pin versions in apt-get install",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3009,
        Severity::Info,
        "Delete the apt-get lists after installing something",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3011,
        Severity::Error,
        "Valid UNIX ports range from 0 to 65535",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3012,
        Severity::Error,
        "Multiple HEALTHCHECK instructions",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3013,
        Severity::Warning,
        "Pin versions in pip",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3014,
        Severity::Error,
        "Use the -y switch with apt-get install",
        &[FixLevel::Safe],
    )
    .note("error, not hadolint's warning: without -y apt-get asks to continue and aborts on a build's closed stdin"),
    RuleInfo::new(
        RuleId::DL3015,
        Severity::Info,
        "Avoid additional packages by specifying --no-install-recommends",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3016,
        Severity::Warning,
        "Pin versions in npm",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3018,
        Severity::Warning,
        "Pin versions in apk add",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3019,
        Severity::Info,
        "Use the --no-cache switch with apk add",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3020,
        Severity::Error,
        "Use COPY instead of ADD for files and folders",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3021,
        Severity::Error,
        "COPY with more than 2 arguments requires the last argument to end with /",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3022,
        Severity::Warning,
        "COPY --from should reference a previously defined FROM alias",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3023,
        Severity::Error,
        "COPY --from cannot reference its own FROM alias",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3024,
        Severity::Error,
        "FROM aliases (stage names) must be unique",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3025,
        Severity::Warning,
        "Use JSON notation for CMD and ENTRYPOINT arguments",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DL3027,
        Severity::Warning,
        "Do not use apt, use apt-get or apt-cache instead",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3030,
        Severity::Warning,
        "Use the -y switch with yum install",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3032,
        Severity::Warning,
        "yum clean all missing after yum command",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3033,
        Severity::Warning,
        "Specify version with yum install -y <package>-<version>",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3038,
        Severity::Warning,
        "Use the -y switch with dnf install",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3040,
        Severity::Warning,
        "dnf clean all missing after dnf command",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3042,
        Severity::Warning,
        "Avoid the pip cache directory with pip install --no-cache-dir",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3043,
        Severity::Error,
        "ONBUILD, FROM or MAINTAINER triggered from within ONBUILD",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3044,
        Severity::Error,
        "Do not refer to an environment variable within the same ENV statement where it is defined",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3047,
        Severity::Info,
        "wget without --progress bloats build logs",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL3059,
        Severity::Info,
        "Multiple consecutive RUN instructions; consider consolidation",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL3060,
        Severity::Info,
        "yarn cache clean missing after yarn install",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL4000,
        Severity::Error,
        "MAINTAINER is deprecated",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DL4001,
        Severity::Warning,
        "Either use Wget or Curl but not both",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL4003,
        Severity::Warning,
        "Multiple CMD instructions found",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL4004,
        Severity::Error,
        "Multiple ENTRYPOINT instructions found",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL4005,
        Severity::Warning,
        "Use SHELL to change the default shell",
        &[],
    ),
    RuleInfo::new(
        RuleId::DL4006,
        Severity::Warning,
        "Set the SHELL option -o pipefail before RUN with a pipe in it",
        &[FixLevel::Suggestion],
    ),
];

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    from_rules(ctx, out);
    let mut prev_run: Option<usize> = None;
    let mut cmd_seen_in_stage: HashMap<Option<usize>, usize> = HashMap::new();
    let mut pipefail: HashMap<Option<usize>, bool> = HashMap::new();
    let cache = RunCache::default();
    for (idx, info) in ctx.m.instrs.iter().enumerate() {
        let ins = info.ins;
        let eff = ins.effective();
        match eff.keyword.as_str() {
            "RUN" => run_rules(ctx, idx, info, &cache, out),
            "ADD" => dl3020(ctx, info, out),
            "MAINTAINER" => dl4000(ctx, info, out),
            "CMD" | "ENTRYPOINT" => dl3025(ctx, eff, out),
            "HEALTHCHECK" => {
                let args = eff.args_text().trim_start();
                if args.get(..3).is_some_and(|k| k.eq_ignore_ascii_case("CMD"))
                    && !args.get(3..).unwrap_or("").trim_start().starts_with('[')
                {
                    out.push(
                        ctx.at(
                            RuleId::DL3025,
                            eff.range.clone(),
                            "Use arguments JSON notation for CMD and ENTRYPOINT arguments",
                        )
                        .why(WHY_3025),
                    );
                }
            }
            _ => {}
        }
        // DL3059: consecutive RUNs with the same flags, each a single command.
        if ins.is("RUN") {
            if let Some(p) = prev_run {
                let pi = &ctx.m.instrs[p];
                if flags_text(pi.ins) == flags_text(ins)
                    && pi.script.program_count() <= 1
                    && info.script.program_count() <= 1
                {
                    out.push(ctx.at(RuleId::DL3059, ins.range.clone(), "Multiple consecutive `RUN` instructions. Consider consolidation.").why("Each RUN makes a layer; merging small steps keeps the image smaller and the build cache simpler."));
                }
            }
            prev_run = Some(idx);
        } else {
            prev_run = None;
        }
        // DL4003: several CMD in one stage.
        if ins.is("FROM") {
            let parent_ok = info
                .stage
                .and_then(|s| ctx.m.stages[s].parent)
                .and_then(|p| pipefail.get(&Some(p)).copied())
                .unwrap_or(false);
            pipefail.insert(info.stage, parent_ok);
        }
        if ins.is("CMD") {
            let n = cmd_seen_in_stage.entry(info.stage).or_insert(0);
            *n += 1;
            if *n > 1 {
                out.push(ctx.at(RuleId::DL4003, ins.range.clone(), "Multiple `CMD` instructions found. If you list more than one `CMD` then only the last `CMD` will take effect").why("Only the last CMD of a stage counts; the earlier ones are dead code that misleads readers."));
            }
        }
        if ins.is("SHELL") {
            pipefail.insert(info.stage, shell_sets_pipefail(ins));
        }
        if eff.is("RUN")
            && !ins.is("ONBUILD")
            && info.script.has_pipe()
            && !pipefail.get(&info.stage).copied().unwrap_or(false)
        {
            let mut f = ctx.at(RuleId::DL4006, ins.range.clone(), "Set the SHELL option -o pipefail before RUN with a pipe in it").why("Without pipefail, `curl ... | sh` succeeds when curl fails: the build goes on with a broken step.");
            let line_start = ctx.text[..ins.range.start]
                .rfind('\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            f = f.with_fix(ctx.fix(
                "DL4006.shell-pipefail",
                FixLevel::Suggestion,
                "Insert SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] before this RUN (needs bash in the image)",
                vec![insert(line_start, "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n")],
            ));
            out.push(f);
        }
    }
}

const WHY_3025: &str = "The shell form wraps the command in /bin/sh -c: signals go to the shell, not your process, so `docker stop` waits and kills it.";

fn flags_text(ins: &crate::analyze::dockerfile::Instruction) -> Vec<(String, Option<String>)> {
    ins.flags
        .iter()
        .map(|f| (f.name.clone(), f.value.clone()))
        .collect()
}

fn shell_sets_pipefail(ins: &crate::analyze::dockerfile::Instruction) -> bool {
    let Form::Json(words) = &ins.form else {
        return false;
    };
    let Some(first) = words.first() else {
        return false;
    };
    let base = first
        .text
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    // Non-POSIX shells have no pipefail to set; hadolint leaves them alone.
    if base.starts_with("pwsh") || base.starts_with("powershell") || base.starts_with("cmd") {
        return true;
    }
    if base == "sh" {
        return false;
    }
    let args: Vec<&str> = words[1..].iter().map(|w| w.text.as_str()).collect();
    args.iter().enumerate().any(|(i, a)| {
        *a == "pipefail" && i > 0 && args[i - 1].starts_with('-') && args[i - 1].ends_with('o')
    })
}

fn from_rules(ctx: &Ctx, out: &mut Vec<Finding>) {
    for st in &ctx.m.stages {
        let raw = st.image_raw.as_str();
        if raw.is_empty() {
            continue;
        }
        let earlier_stage = ctx.m.stage_named(raw, st.index).is_some();
        if raw.eq_ignore_ascii_case("scratch") || earlier_stage {
            continue;
        }
        let (_, tag) = crate::analyze::compat::split_reference(raw);
        if tag.is_none() && !raw.contains('@') && !raw.starts_with('$') {
            out.push(
                ctx.at(RuleId::DL3006, st.image_range.clone(), format!("Always tag the version of an image explicitly: `{raw}`"))
                    .why("An untagged image means `latest`: the base changes under you and builds stop being reproducible."),
            );
        }
        if tag.as_deref() == Some("latest") && !raw.contains('@') {
            out.push(ctx.at(RuleId::DL3007, st.image_range.clone(), "Using latest is prone to errors if the image will ever update. Pin the version explicitly to a release tag").why("`latest` moves: the next pull may bring another OS, CUDA or Python."));
        }
    }
}

fn dl3020(ctx: &Ctx, info: &Info, out: &mut Vec<Finding>) {
    let ins = info.ins.effective();
    if !ins.heredocs.is_empty() {
        return;
    }
    let words: Vec<&str> = match &ins.form {
        Form::Json(w) => w.iter().map(|w| w.text.as_str()).collect(),
        Form::Shell => ins.words.iter().map(|w| w.text.as_str()).collect(),
    };
    if words.len() < 2 {
        return;
    }
    let srcs = &words[..words.len() - 1];
    let archive = |s: &str| {
        [
            ".tar", ".gz", ".bz2", ".xz", ".tgz", ".tbz", ".tb2", ".txz", ".zst", ".lz", ".lzma",
            ".tlz", ".Z",
        ]
        .iter()
        .any(|e| s.ends_with(e))
    };
    let url = |s: &str| s.contains("://") || s.starts_with("git@");
    if srcs.iter().any(|s| !archive(s) && !url(s)) {
        let mut f = ctx
            .at(
                RuleId::DL3020,
                info.ins.range.clone(),
                "Use COPY instead of ADD for files and folders",
            )
            .why("ADD also fetches URLs and unpacks archives; COPY says exactly what happens.");
        if !info.ins.is("ONBUILD") && srcs.iter().all(|s| !archive(s) && !url(s)) {
            f = f.with_fix(ctx.fix(
                "DL3020.copy",
                FixLevel::Safe,
                "Replace ADD with COPY",
                vec![edit(ins.keyword_range.start, ins.keyword_range.end, "COPY")],
            ));
        }
        out.push(f);
    }
}

fn dl4000(ctx: &Ctx, info: &Info, out: &mut Vec<Finding>) {
    let ins = info.ins;
    let who = ins.effective().args_text().trim().replace('"', "\\\"");
    let f = ctx.at(RuleId::DL4000, ins.range.clone(), "MAINTAINER is deprecated").why("MAINTAINER was removed from the Dockerfile reference; a label keeps the information where tools look for it.");
    let f = if ins.is("ONBUILD") {
        f
    } else {
        f.with_fix(ctx.fix(
            "DL4000.label",
            FixLevel::Safe,
            "Replace MAINTAINER with LABEL maintainer=...",
            vec![edit(
                ins.range.start,
                ins.range.end,
                format!("LABEL maintainer=\"{who}\""),
            )],
        ))
    };
    out.push(f);
}

fn dl3025(ctx: &Ctx, ins: &crate::analyze::dockerfile::Instruction, out: &mut Vec<Finding>) {
    if matches!(ins.form, Form::Json(_)) || ins.args_text().trim().is_empty() {
        return;
    }
    let mut f = ctx
        .at(
            RuleId::DL3025,
            ins.range.clone(),
            "Use arguments JSON notation for CMD and ENTRYPOINT arguments",
        )
        .why(WHY_3025);
    let args = ins.args_text().trim();
    // Only offer the JSON form when no shell feature is in use (the shell would otherwise expand or chain).
    let shellish = args.chars().any(|c| "$&|;<>`*?(){}~\\'\"".contains(c));
    if !shellish {
        let json: Vec<String> = args
            .split_whitespace()
            .map(|w| format!("\"{w}\""))
            .collect();
        let start = ins.logical.to_file(ins.args_start);
        f = f.with_fix(ctx.fix(
            "DL3025.json",
            FixLevel::Suggestion,
            "Use the JSON (exec) form",
            vec![edit(start, ins.range.end, format!("[{}]", json.join(", ")))],
        ));
    }
    out.push(f);
}

fn is_apt_get(c: &Command) -> bool {
    c.base_name() == "apt-get"
}

fn apt_subcommand(c: &Command) -> Option<&SWord> {
    let mut skip = false;
    for w in c.args() {
        if skip {
            skip = false;
            continue;
        }
        if w.text == "-o" || w.text == "-c" || w.text == "-t" || w.text == "--target-release" {
            skip = true;
            continue;
        }
        if !w.text.starts_with('-') {
            return Some(w);
        }
    }
    None
}

/// Non-option arguments after the subcommand, skipping values of options that take one.
fn operands<'a>(args: &'a [SWord], value_opts: &[&str]) -> Vec<&'a SWord> {
    let mut out = Vec::new();
    let mut skip = false;
    for w in args {
        if skip {
            skip = false;
            continue;
        }
        if w.text.starts_with('-') {
            if value_opts.contains(&w.text.as_str()) {
                skip = true;
            }
            continue;
        }
        out.push(w);
    }
    out
}

fn after_sub<'a>(c: &'a Command, sub: &SWord) -> &'a [SWord] {
    let pos = c
        .words
        .iter()
        .position(|w| w.range == sub.range)
        .map(|p| p + 1)
        .unwrap_or(c.words.len());
    &c.words[pos..]
}

fn all_flags(c: &Command) -> Vec<&str> {
    c.args()
        .iter()
        .map(|w| w.text.as_str())
        .filter(|t| t.starts_with('-'))
        .collect()
}

fn apt_has_yes(c: &Command) -> bool {
    let flags = all_flags(c);
    let mut q = 0;
    for f in &flags {
        match *f {
            "-y" | "--yes" | "--assume-yes" => return true,
            "-q=2" | "--quiet=2" => return true,
            "--quiet" => q += 1,
            _ if f.starts_with('-') && !f.starts_with("--") => {
                if f.contains('y') {
                    return true;
                }
                q += f.matches('q').count();
            }
            _ => {}
        }
    }
    q >= 2
}

fn mounts(ins: &crate::analyze::dockerfile::Instruction) -> Vec<(String, String)> {
    // (type, target) of every --mount
    ins.flag_values("mount")
        .map(|v| {
            let mut ty = String::from("bind");
            let mut target = String::new();
            for kv in v.split(',') {
                match kv.split_once('=') {
                    Some(("type", t)) => ty = t.to_string(),
                    Some(("target" | "dst" | "destination", t)) => {
                        target = t.trim_end_matches('/').to_string()
                    }
                    _ => {}
                }
            }
            (ty, target)
        })
        .collect()
}

fn cache_mounted(ins: &crate::analyze::dockerfile::Instruction, path: &str) -> bool {
    mounts(ins)
        .iter()
        .any(|(ty, t)| (ty == "cache" || ty == "tmpfs") && t == path)
}

/// Is `PIP_NO_CACHE_DIR` set to a true value for this command?
fn pip_no_cache_env(info: &Info, script: &Script, cmd: &Command) -> Option<bool> {
    let truthy = |v: &str| match v.to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Some(true),
        "0" | "off" | "no" | "false" => Some(false),
        _ => None,
    };
    for a in &cmd.assigns {
        if let Some(v) = a.text.strip_prefix("PIP_NO_CACHE_DIR=") {
            return truthy(v);
        }
    }
    let mut exported = None;
    for c in &script.commands {
        if c.range() == cmd.range() {
            break;
        }
        if c.name() == "export" {
            for w in c.args() {
                if let Some(v) = w.text.strip_prefix("PIP_NO_CACHE_DIR=") {
                    exported = truthy(v);
                }
            }
        }
    }
    if exported.is_some() {
        return exported;
    }
    info.vars
        .get("PIP_NO_CACHE_DIR")
        .and_then(|v| v.as_deref())
        .and_then(truthy)
}

fn run_rules(ctx: &Ctx, idx: usize, info: &Info, cache: &RunCache, out: &mut Vec<Finding>) {
    let outer = info.ins;
    let ins = outer.effective();
    let script = &info.script;
    let onbuild = outer.is("ONBUILD");
    let whole = outer.range.clone();
    let fixable = !onbuild && super::edits_are_exact(ins);
    let mut fired: std::collections::HashSet<RuleId> = std::collections::HashSet::new();
    let mut push_once = |out: &mut Vec<Finding>, id: RuleId, f: Finding| {
        if fired.insert(id) {
            out.push(f);
        }
    };
    for c in &script.commands {
        match c.base_name() {
            "cd" => push_once(out, RuleId::DL3003, ctx.at(RuleId::DL3003, c.range(), "Use WORKDIR to switch to a directory").why("A `cd` lasts for one RUN only; WORKDIR makes the directory explicit for every later step.")),
            "sudo" => push_once(out, RuleId::DL3004, ctx.at(RuleId::DL3004, c.range(), "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root").why("Builds already run as root unless USER says otherwise; sudo adds a tty-dependent layer that breaks non-interactively.")),
            "apt" => {
                let mut f = ctx.at(RuleId::DL3027, c.range(), "Do not use apt as it is meant to be an end-user tool, use apt-get or apt-cache instead").why("apt's output and behaviour are not stable for scripts and it warns so on every run.");
                if fixable {
                    // One finding per RUN, so the fix renames every `apt` command in it.
                    let edits = script.commands.iter().filter(|x| x.name() == "apt").map(|x| edit(x.words[0].range.start, x.words[0].range.end, "apt-get")).collect();
                    f = f.with_fix(ctx.fix("DL3027.apt-get", FixLevel::Safe, "Use apt-get", edits));
                }
                push_once(out, RuleId::DL3027, f);
            }
            _ => {}
        }
        if is_apt_get(c) {
            if let Some(sub) = apt_subcommand(c) {
                if sub.text == "install" {
                    let rest = after_sub(c, sub);
                    let pkgs = operands(rest, &["-o", "-c", "-t", "--target-release"]);
                    if pkgs.iter().any(|p| {
                        !p.text.contains('=') && !p.text.ends_with(".deb") && !p.text.contains('/')
                    }) {
                        push_once(out, RuleId::DL3008, ctx.at(RuleId::DL3008, c.range(), "Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`").why("Unpinned packages make rebuilds pick whatever the mirror has that day."));
                    }
                    if !apt_has_yes(c) {
                        let mut f = ctx.at(RuleId::DL3014, c.range(), "Use the `-y` switch to avoid manual input `apt-get -y install <package>`").why("Without -y apt-get asks for confirmation; with no terminal in a build it aborts.");
                        if fixable {
                            f = f.with_fix(ctx.fix(
                                "DL3014.yes",
                                FixLevel::Safe,
                                "Add -y",
                                vec![insert(sub.range.end, " -y")],
                            ));
                        }
                        push_once(out, RuleId::DL3014, f);
                    }
                    let norec = c.args().iter().any(|w| w.text == "--no-install-recommends")
                        || c.args().windows(2).any(|p| {
                            p[0].text == "-o"
                                && p[1]
                                    .text
                                    .to_ascii_lowercase()
                                    .starts_with("apt::install-recommends=")
                                && matches!(
                                    p[1].text
                                        .rsplit('=')
                                        .next()
                                        .map(|s| s.to_ascii_lowercase())
                                        .as_deref(),
                                    Some("false" | "0")
                                )
                        });
                    if !norec {
                        let mut f = ctx.at(RuleId::DL3015, c.range(), "Avoid additional packages by specifying `--no-install-recommends`").why("Recommended packages often add hundreds of MB (X11, docs) to a GPU image that never uses them.");
                        if fixable {
                            f = f.with_fix(ctx.fix(
                                "DL3015.no-recommends",
                                FixLevel::Safe,
                                "Add --no-install-recommends",
                                vec![insert(sub.range.end, " --no-install-recommends")],
                            ));
                        }
                        push_once(out, RuleId::DL3015, f);
                    }
                }
            }
        }
        // pip
        if let Some(inst) =
            crate::analyze::requirements::install_of_indexed(c, ctx.file, ctx.text, ctx.lines)
        {
            use crate::analyze::requirements::Tool;
            if matches!(inst.tool, Tool::Pip | Tool::Pipx) {
                let unpinned = inst.reqs.iter().any(|r| {
                    let t = r.text.as_str();
                    if t.starts_with("git+") || t.starts_with("git:") {
                        return !t.rsplit('/').next().unwrap_or("").contains('@');
                    }
                    if r.url.is_some() || t.contains('/') || t == "." {
                        return false;
                    }
                    if r.name.is_empty() {
                        // `"$pkg"` and friends: unpinned unless the text itself carries a version (hadolint's reading).
                        return !t.chars().any(|c| "=<>~@".contains(c));
                    }
                    r.specs.is_empty()
                });
                if unpinned && inst.sources.constraints.is_empty() {
                    push_once(out, RuleId::DL3013, ctx.at(RuleId::DL3013, c.range(), "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or `pip install --requirement <requirements file>`").why("An unpinned package resolves differently on every build; for ML stacks that often means a new torch."));
                }
            }
            if inst.tool == Tool::Pip && !inst.no_cache {
                let env = pip_no_cache_env(info, script, c);
                let mounted = mounts(ins)
                    .iter()
                    .any(|(ty, t)| (ty == "cache" || ty == "tmpfs") && t.ends_with(".cache/pip"));
                if env != Some(true) && !mounted {
                    let mut f = ctx.at(RuleId::DL3042, c.range(), "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`").why("pip keeps every downloaded wheel in the layer; for torch and its nvidia-* wheels that is gigabytes of dead weight.");
                    if fixable {
                        f = f.with_fix(ctx.fix(
                            "DL3042.no-cache-dir",
                            FixLevel::Safe,
                            "Add --no-cache-dir",
                            vec![insert(inst.install_word.end, " --no-cache-dir")],
                        ));
                    }
                    push_once(out, RuleId::DL3042, f);
                }
            }
        }
        // npm
        if c.base_name() == "npm" {
            let args = c.args();
            if let Some(sub) = args.iter().find(|w| !w.text.starts_with('-')) {
                if matches!(sub.text.as_str(), "install" | "i" | "add")
                    && args.first().map(|w| w.range.clone()) == Some(sub.range.clone())
                {
                    let pkgs = operands(
                        after_sub(c, sub),
                        &[
                            "--loglevel",
                            "--registry",
                            "--prefix",
                            "--cache",
                            "--tag",
                            "--userconfig",
                        ],
                    );
                    if pkgs.iter().any(|p| !npm_pinned(&p.text)) {
                        push_once(out, RuleId::DL3016, ctx.at(RuleId::DL3016, c.range(), "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`").why("Unpinned npm packages resolve to whatever was published last."));
                    }
                }
            }
        }
        // apk
        if c.base_name() == "apk" {
            if let Some(sub) = c.args().iter().find(|w| !w.text.starts_with('-')) {
                if sub.text == "add" {
                    let pkgs = operands(
                        after_sub(c, sub),
                        &[
                            "--virtual",
                            "-t",
                            "--repository",
                            "-X",
                            "--root",
                            "-p",
                            "--arch",
                            "--cache-dir",
                            "--keys-dir",
                        ],
                    );
                    if pkgs.iter().any(|p| {
                        !(p.text.contains('=')
                            || p.text.contains('~')
                            || p.text.contains('<')
                            || p.text.contains('>')
                            || p.text.ends_with(".apk"))
                    }) {
                        push_once(out, RuleId::DL3018, ctx.at(RuleId::DL3018, c.range(), "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`").why("Unpinned apk packages move with the Alpine mirror."));
                    }
                    let no_cache = c.has_arg("--no-cache")
                        || cache_mounted(ins, "/var/cache/apk")
                        || cache_mounted(ins, "/etc/apk/cache");
                    let cleaned = script.commands.iter().any(|x| {
                        x.base_name() == "rm"
                            && x.args()
                                .iter()
                                .any(|a| a.text.starts_with("/var/cache/apk"))
                    });
                    if !no_cache && !cleaned {
                        let mut f = ctx.at(RuleId::DL3019, c.range(), "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done installing packages").why("apk keeps its index in the layer unless --no-cache is given.");
                        if fixable {
                            f = f.with_fix(ctx.fix(
                                "DL3019.no-cache",
                                FixLevel::Safe,
                                "Add --no-cache",
                                vec![insert(sub.range.end, " --no-cache")],
                            ));
                        }
                        push_once(out, RuleId::DL3019, f);
                    }
                }
            }
        }
        // yum
        if c.base_name() == "yum" {
            let args = c.args();
            let ops: Vec<&SWord> = operands(
                args,
                &[
                    "-c",
                    "--config",
                    "--installroot",
                    "--releasever",
                    "-d",
                    "-e",
                    "--setopt",
                    "--enablerepo",
                    "--disablerepo",
                    "-R",
                ],
            );
            let (is_module, sub_at) = match ops.first().map(|w| w.text.as_str()) {
                Some("module") => (true, 1),
                _ => (false, 0),
            };
            if ops.get(sub_at).map(|w| w.text.as_str()) == Some("install") {
                let pkgs = &ops[sub_at + 1..];
                let bad = pkgs.iter().any(|p| {
                    let t = crate::analyze::dockerfile::expand::expand(
                        &p.text,
                        &info.vars,
                        ctx.df.escape,
                    );
                    // An unknown variable counts as a version when some ARG declares it (hadolint's reading).
                    let t = if t.unresolved.is_empty() {
                        t.text
                    } else {
                        let declared = cache.args.get_or_init(|| declared_args(ctx));
                        return !t.unresolved.iter().all(|v| declared.contains(v.as_str()));
                    };
                    if is_module {
                        !t.contains(':')
                    } else {
                        !yum_versioned(&t)
                    }
                });
                if bad {
                    push_once(
                        out,
                        RuleId::DL3033,
                        ctx.at(
                            RuleId::DL3033,
                            c.range(),
                            "Specify version with `yum install -y <package>-<version>`",
                        )
                        .why("Unpinned yum packages change with the repository."),
                    );
                }
            }
        }
    }
    dl3009(ctx, idx, info, &whole, cache, out);
}

fn yum_versioned(p: &str) -> bool {
    // name-version: a dash followed by a digit (or an epoch `1:`), or an rpm file.
    p.ends_with(".rpm")
        || p.char_indices()
            .any(|(i, c)| c == '-' && p[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
}

fn npm_pinned(p: &str) -> bool {
    if p.starts_with("git") || p.contains("://") {
        return p.contains('#');
    }
    if p.starts_with('/')
        || p.starts_with('.')
        || p.starts_with('~')
        || p.ends_with(".tar")
        || p.ends_with(".tgz")
        || p.ends_with(".tar.gz")
    {
        return true;
    }
    // `name@version` or `@scope/name@version`
    let body = p.strip_prefix('@').unwrap_or(p);
    body.contains('@')
}

fn dl3009(
    ctx: &Ctx,
    idx: usize,
    info: &Info,
    whole: &Range<usize>,
    cache: &RunCache,
    out: &mut Vec<Finding>,
) {
    let outer = info.ins;
    let ins = outer.effective();
    let script = &info.script;
    let apt_update = script.commands.iter().any(|c| {
        matches!(c.base_name(), "apt-get" | "apt" | "aptitude")
            && c.args().iter().any(|a| a.text == "update")
    });
    if !apt_update {
        return;
    }
    let cleaned = script.commands.iter().any(|c| {
        let args = c.args();
        let lists = |t: &str| {
            t.starts_with("/var/lib/apt/lists")
                || t.trim_end_matches('/') == "/var/lib/apt"
                || (t.starts_with("/var/lib/{") && t.contains("apt"))
        };
        match c.base_name() {
            "rm" => args.iter().any(|a| lists(&a.text)),
            // `find /var/lib/apt/lists ... -delete`
            "find" => {
                args.iter().any(|a| lists(&a.text)) && args.iter().any(|a| a.text == "-delete")
            }
            _ => false,
        }
    });
    let mounted = cache_mounted(ins, "/var/lib/apt/lists")
        || (cache_mounted(ins, "/var/lib/apt") && cache_mounted(ins, "/var/cache/apt"));
    if cleaned || mounted {
        return;
    }
    let later_apt = cache.later_apt.get_or_init(|| LaterApt::of(ctx));
    // Only images that ship matter: the last stage and stages later stages build FROM (hadolint's meaning).
    if !outer.is("ONBUILD") {
        if let Some(s) = info.stage {
            let used = later_apt.built_on.get(s).copied().unwrap_or(false);
            let last = s + 1 == ctx.m.stages.len();
            if !used && !last {
                return;
            }
        }
    }
    let mut f = ctx.at(RuleId::DL3009, whole.clone(), "Delete the apt-get lists after installing something").why("apt lists add ~40 MB to the layer; removing them in a later RUN does not shrink the image.");
    let needed_later = later_apt_use_without_update(ctx, idx, later_apt);
    if let Some(line) = needed_later {
        f = f.fact(format!(
            "no fix offered: line {line} installs with the package lists this RUN downloads (it runs no apt-get update of its own), so deleting them here would make it fail with 'Unable to locate package'; update, install and delete the lists in one RUN"
        ));
    }
    if !outer.is("ONBUILD") && needed_later.is_none() && super::appendable(ins) {
        f = f.with_fix(ctx.fix(
            "DL3009.rm-lists",
            FixLevel::Safe,
            "Remove /var/lib/apt/lists/* at the end of this RUN",
            vec![insert(
                outer.range.end,
                ctx.df.and_then("rm -rf /var/lib/apt/lists/*"),
            )],
        ));
    }
    out.push(f);
}

/// What a RUN does first with apt's package lists: refreshes them, or uses them (install, upgrade, ...) at
/// its line. The first apt command that does either decides.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AptLists {
    Update,
    Use(usize),
}

fn apt_lists(info: &Info) -> Option<AptLists> {
    if !info.ins.effective().is("RUN") {
        return None;
    }
    for c in &info.script.commands {
        let u = c.unwrapped();
        if !matches!(u.base_name(), "apt-get" | "apt" | "aptitude") {
            continue;
        }
        let verb = |v: &str| u.args().iter().any(|a| a.text == v);
        if verb("update") {
            return Some(AptLists::Update);
        }
        if [
            "install",
            "build-dep",
            "source",
            "download",
            "upgrade",
            "dist-upgrade",
        ]
        .iter()
        .any(|v| verb(v))
        {
            return Some(AptLists::Use(info.ins.line));
        }
    }
    None
}

/// For each stage, the first stage built on it (at any depth, by stage order) whose first apt RUN uses the
/// lists without updating them: (stage, line). Built once per analysis in one pass over the stages, so
/// DL3009 does not walk every later stage for every RUN that updates.
struct LaterApt {
    below: Vec<Option<(usize, usize)>>,
    /// A later stage is built FROM this one.
    built_on: Vec<bool>,
}

impl LaterApt {
    fn of(ctx: &Ctx) -> LaterApt {
        let stages = &ctx.m.stages;
        // The stage itself or a stage below it.
        let mut sub: Vec<Option<(usize, usize)>> = stages
            .iter()
            .map(|st| {
                st.instrs
                    .iter()
                    .find_map(|&i| apt_lists(&ctx.m.instrs[i]))
                    .and_then(|a| match a {
                        AptLists::Use(line) => Some((st.index, line)),
                        AptLists::Update => None,
                    })
            })
            .collect();
        let mut below: Vec<Option<(usize, usize)>> = vec![None; stages.len()];
        let mut built_on = vec![false; stages.len()];
        // A stage is built only on earlier stages: children are done before their parent.
        for s in (0..stages.len()).rev() {
            let Some(p) = stages[s].parent.filter(|&p| p < s) else {
                continue;
            };
            let first = |a: Option<(usize, usize)>, b: Option<(usize, usize)>| match (a, b) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            built_on[p] = true;
            below[p] = first(below[p], sub[s]);
            sub[p] = first(sub[p], sub[s]);
        }
        LaterApt { below, built_on }
    }
}

/// The line of the first later RUN (in this stage, or in a stage built FROM it) that installs with apt
/// before updating the lists itself: it relies on the lists the RUN at instruction `at` downloaded.
fn later_apt_use_without_update(ctx: &Ctx, at: usize, later: &LaterApt) -> Option<usize> {
    let stage = ctx.m.instrs.get(at)?.stage?;
    // This stage, from its first instruction after the update; a RUN that updates the lists itself ends the
    // dependency for what follows in it.
    let own = &ctx.m.stages[stage].instrs;
    let from = own.partition_point(|&i| i <= at);
    for &i in &own[from..] {
        match apt_lists(&ctx.m.instrs[i]) {
            Some(AptLists::Use(line)) => return Some(line),
            Some(AptLists::Update) => break,
            None => {}
        }
    }
    // Then each stage that uses this stage's file system, in stage order.
    later
        .below
        .get(stage)
        .copied()
        .flatten()
        .map(|(_, line)| line)
}

/// Every name an ARG line declares.
fn declared_args(ctx: &Ctx) -> std::collections::HashSet<String> {
    ctx.m
        .instrs
        .iter()
        .filter(|i| i.ins.is("ARG"))
        .flat_map(|i| i.ins.words.iter())
        .filter_map(|w| w.text.split('=').next().map(str::to_string))
        .collect()
}

/// What the RUN rules look up across the whole file, built at most once per analysis (each lookup would
/// otherwise walk the file for every RUN).
#[derive(Default)]
struct RunCache {
    later_apt: std::cell::OnceCell<LaterApt>,
    args: std::cell::OnceCell<std::collections::HashSet<String>>,
}
