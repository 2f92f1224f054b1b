//! More hadolint rules that need little more than the parsed structure: stage aliases, WORKDIR, USER, EXPOSE,
//! ONBUILD nesting, ENV self-references, single CMD/ENTRYPOINT/HEALTHCHECK per stage, wget vs curl.

use super::*;
use crate::analyze::dockerfile::{Form, Instruction};

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    stage_aliases(ctx, out);
    let mut entrypoints: HashMap<Option<usize>, usize> = HashMap::new();
    let mut healthchecks: HashMap<Option<usize>, usize> = HashMap::new();
    let mut fetchers: HashMap<Option<usize>, (bool, bool)> = HashMap::new();
    for info in &ctx.m.instrs {
        let ins = info.ins;
        let eff = ins.effective();
        match ins.keyword.as_str() {
            "ENTRYPOINT" => {
                let n = entrypoints.entry(info.stage).or_insert(0);
                *n += 1;
                if *n > 1 {
                    out.push(ctx.at(RuleId::DL4004, ins.range.clone(), "Multiple `ENTRYPOINT` instructions found. If you list more than one `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect").why("Only the last ENTRYPOINT of a stage counts."));
                }
            }
            "HEALTHCHECK" => {
                let n = healthchecks.entry(info.stage).or_insert(0);
                *n += 1;
                if *n > 1 {
                    out.push(
                        ctx.at(
                            RuleId::DL3012,
                            ins.range.clone(),
                            "Multiple `HEALTHCHECK` instructions",
                        )
                        .why("Only the last HEALTHCHECK of a stage counts."),
                    );
                }
            }
            "ONBUILD" => {
                if let Some(inner) = &ins.inner {
                    if matches!(inner.keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                        out.push(ctx.at(RuleId::DL3043, ins.range.clone(), "`ONBUILD`, `FROM` or `MAINTAINER` triggered from within `ONBUILD` instruction.").why("Docker refuses these inside ONBUILD; the child image's build fails."));
                    }
                }
            }
            "WORKDIR" => dl3000(ctx, ins, out),
            "EXPOSE" => dl3011(ctx, ins, out),
            "ENV" => dl3044(ctx, ins, out),
            "COPY" => dl3021(ctx, ins, out),
            _ => {}
        }
        if eff.is("RUN") {
            for c in &info.script.commands {
                let n = c.base_name();
                if matches!(
                    n,
                    "ssh"
                        | "vim"
                        | "shutdown"
                        | "service"
                        | "ps"
                        | "free"
                        | "top"
                        | "kill"
                        | "mount"
                        | "ifconfig"
                ) {
                    out.push(ctx.at(RuleId::DL3001, c.range(), format!("For some bash commands it makes no sense running them in a Docker container like `{n}`")).why("Interactive or system-management tools do nothing useful during a build."));
                    break;
                }
            }
            for c in &info.script.commands {
                if c.base_name() == "ln" && c.args().last().is_some_and(|a| a.text == "/bin/sh") {
                    out.push(ctx.at(RuleId::DL4005, c.range(), "Use SHELL to change the default shell").why("Replacing /bin/sh breaks scripts of the base image that rely on it; SHELL changes only what RUN uses."));
                    break;
                }
            }
            pkg_managers(ctx, info, out);
            // DL4001: once a stage used both wget and curl, every RUN using either is flagged.
            let uses_wget = info.script.commands.iter().any(|c| c.base_name() == "wget");
            let uses_curl = info.script.commands.iter().any(|c| c.base_name() == "curl");
            let e = fetchers.entry(info.stage).or_insert((false, false));
            e.0 |= uses_wget;
            e.1 |= uses_curl;
            if e.0 && e.1 && (uses_wget || uses_curl) {
                out.push(ctx.at(RuleId::DL4001, ins.range.clone(), "Either use Wget or Curl but not both").why("Two download tools means two packages and two sets of flags to keep right."));
            }
        }
    }
    dl3002(ctx, out);
}

/// yum / dnf / microdnf: `-y` (DL3030, DL3038) and a cache cleanup after the install (DL3032, DL3040);
/// wget progress output (DL3047); yarn cache (DL3060).
fn pkg_managers(ctx: &Ctx, info: &crate::analyze::dockerfile::model::Info, out: &mut Vec<Finding>) {
    let outer = info.ins;
    let ins = outer.effective();
    let script = &info.script;
    let fixable = !outer.is("ONBUILD") && super::edits_are_exact(ins);
    let appendable = !outer.is("ONBUILD") && super::appendable(ins);
    let mounted = |path: &str| {
        ins.flag_values("mount").any(|v| {
            (v.contains("type=cache") || v.contains("type=tmpfs"))
                && v.split(',').any(|kv| {
                    kv.split_once('=').is_some_and(|(k, t)| {
                        matches!(k, "target" | "dst" | "destination")
                            && t.trim_end_matches('/') == path
                    })
                })
        })
    };
    let mut fired = std::collections::HashSet::new();
    for (k, c) in script.commands.iter().enumerate() {
        let name = c.base_name();
        let (yes_rule, clean_rule) = match name {
            "yum" => (Some(RuleId::DL3030), Some(RuleId::DL3032)),
            "dnf" | "microdnf" => (Some(RuleId::DL3038), Some(RuleId::DL3040)),
            _ => (None, None),
        };
        if let (Some(yes_rule), Some(clean_rule)) = (yes_rule, clean_rule) {
            let sub = c.args().iter().find(|w| !w.text.starts_with('-'));
            let subs: &[&str] = if name == "yum" {
                &[
                    "install",
                    "groupinstall",
                    "localinstall",
                    "reinstall",
                    "update",
                    "upgrade",
                ]
            } else {
                &[
                    "install",
                    "in",
                    "upgrade",
                    "up",
                    "upgrade-minimal",
                    "up-min",
                    "reinstall",
                    "rei",
                    "groupinstall",
                ]
            };
            let Some(sub) = sub.filter(|s| subs.contains(&s.text.as_str())) else {
                continue;
            };
            let yes = c.args().iter().any(|a| {
                matches!(a.text.as_str(), "-y" | "--assumeyes" | "--yes")
                    || (a.text.starts_with('-')
                        && !a.text.starts_with("--")
                        && a.text.contains('y'))
            });
            if !yes && sub.text.starts_with("in") && fired.insert(yes_rule) {
                let mut f = ctx.at(yes_rule, c.range(), format!("Use the -y switch to avoid manual input `{name} install -y <package>`")).why("Without -y the package manager waits for a confirmation nobody can give during a build.");
                if fixable {
                    f = f.with_fix(ctx.fix(
                        &format!("{yes_rule}.yes"),
                        FixLevel::Safe,
                        "Add -y",
                        vec![insert(sub.range.end, " -y")],
                    ));
                }
                out.push(f);
            }
            // A cleanup must come after the install in the same RUN.
            let cleaned = script.commands[k + 1..].iter().any(|x| {
                // The same tool must clean (hadolint: `dnf install && microdnf clean all` still leaves dnf's cache).
                (x.base_name() == name && x.has_arg("clean") && x.has_arg("all"))
                    || (x.base_name() == "rm"
                        && x.args().iter().any(|a| {
                            a.text.starts_with("/var/cache/yum")
                                || a.text.starts_with("/var/cache/dnf")
                                || a.text.starts_with("/var/cache/libdnf5")
                        }))
            });
            let cache_mounted = mounted("/var/cache/libdnf5")
                || mounted("/var/cache/dnf")
                || mounted("/var/cache/yum");
            if !cleaned && !cache_mounted && fired.insert(clean_rule) {
                let mut f = ctx.at(clean_rule, c.range(), format!("`{name} clean all` missing after {name} command.")).why("The package cache stays in the layer: tens to hundreds of MB the image never uses.");
                if appendable {
                    f = f.with_fix(ctx.fix(
                        &format!("{clean_rule}.clean"),
                        FixLevel::Safe,
                        format!("Append `{name} clean all` to this RUN"),
                        vec![insert(
                            outer.range.end,
                            ctx.df.and_then(&format!("{name} clean all")),
                        )],
                    ));
                }
                out.push(f);
            }
        }
        if name == "wget" && !fired.contains(&RuleId::DL3047) {
            let quiet = c.args().iter().any(|a| {
                let t = a.text.as_str();
                t.starts_with("--progress")
                    || matches!(t, "-q" | "--quiet" | "-nv" | "--no-verbose" | "-o" | "-a")
                    || t.starts_with("--output-file")
                    || t.starts_with("--append-output")
                    || (t.starts_with('-') && !t.starts_with("--") && t.contains('q'))
            });
            if !quiet {
                fired.insert(RuleId::DL3047);
                let mut f = ctx.at(RuleId::DL3047, c.range(), "Avoid use of wget without progress bar. Use `wget --progress=dot:giga <url>`. Or consider using `-q` or `-nv` (shorthands for `--quiet` or `--no-verbose`).").why("wget's default progress bar writes a line per tick into the build log: model downloads make logs of megabytes.");
                if fixable {
                    f = f.with_fix(ctx.fix(
                        "DL3047.progress",
                        FixLevel::Safe,
                        "Add --progress=dot:giga",
                        vec![insert(c.words[0].range.end, " --progress=dot:giga")],
                    ));
                }
                out.push(f);
            }
        }
        if name == "yarn"
            && c.args().first().is_some_and(|a| a.text == "install")
            && !fired.contains(&RuleId::DL3060)
        {
            let cleaned = script.commands[k + 1..].iter().any(|x| {
                x.base_name() == "yarn"
                    && x.args().len() >= 2
                    && x.args()[0].text == "cache"
                    && x.args()[1].text == "clean"
            });
            let relevant = outer.is("ONBUILD")
                || info.stage.is_none_or(|s| {
                    s + 1 == ctx.m.stages.len()
                        || ctx
                            .m
                            .stages
                            .iter()
                            .any(|o| o.index > s && o.parent == Some(s))
                });
            if !cleaned
                && !mounted("/root/.cache/yarn")
                && !mounted("/usr/local/share/.cache/yarn")
                && relevant
            {
                fired.insert(RuleId::DL3060);
                let mut f = ctx
                    .at(
                        RuleId::DL3060,
                        c.range(),
                        "`yarn cache clean` missing after `yarn install` was run.",
                    )
                    .why("yarn's cache stays in the layer next to node_modules.");
                if appendable {
                    f = f.with_fix(ctx.fix(
                        "DL3060.clean",
                        FixLevel::Safe,
                        "Append `yarn cache clean` to this RUN",
                        vec![insert(outer.range.end, ctx.df.and_then("yarn cache clean"))],
                    ));
                }
                out.push(f);
            }
        }
    }
}

fn stage_aliases(ctx: &Ctx, out: &mut Vec<Finding>) {
    let stages = &ctx.m.stages;
    for st in stages {
        if let Some(name) = &st.name {
            if ctx.m.stage_named(name, st.index).is_some() {
                out.push(
                    ctx.at(
                        RuleId::DL3024,
                        ctx.m.instrs[st.from].ins.range.clone(),
                        format!("`FROM` aliases (stage names) must be unique: `{name}`"),
                    )
                    .why("A repeated stage name makes `--from` and `--target` ambiguous."),
                );
            }
        }
    }
    for info in &ctx.m.instrs {
        let ins = info.ins.effective();
        if !ins.is("COPY") {
            continue;
        }
        let Some(from) = ins.flag("from").and_then(|f| f.value.as_deref()) else {
            continue;
        };
        let cur = info.stage;
        let lower = from.to_ascii_lowercase();
        if cur.and_then(|s| stages[s].name.as_deref()) == Some(lower.as_str()) {
            out.push(
                ctx.at(
                    RuleId::DL3023,
                    info.ins.range.clone(),
                    "`COPY --from` cannot reference its own `FROM` alias",
                )
                .why("A stage cannot copy from itself; the build fails."),
            );
            continue;
        }
        let earlier = cur.unwrap_or(0);
        let known = ctx.m.stage_named(&lower, earlier).is_some()
            || from.parse::<usize>().is_ok_and(|n| n < earlier)
            // An image reference (`--from=alpine:3.20`, `--from=ghcr.io/x/y`) is fine.
            || from.contains(':') || from.contains('/') || from.contains('$');
        if !known {
            out.push(ctx.at(RuleId::DL3022, info.ins.range.clone(), format!("`COPY --from` should reference a previously defined `FROM` alias: `{from}`")).why("Docker treats an unknown name as an image to pull, which is rarely what was meant."));
        }
    }
}

fn dl3000(ctx: &Ctx, ins: &Instruction, out: &mut Vec<Finding>) {
    let Some(w) = ins.words.first() else { return };
    let t = w.text.as_str();
    let windows = t.len() >= 2 && t.as_bytes()[1] == b':' && t.as_bytes()[0].is_ascii_alphabetic();
    if !(t.starts_with('/') || t.starts_with('$') || windows) {
        out.push(ctx.at(RuleId::DL3000, w.range.clone(), "Use absolute WORKDIR").why("A relative WORKDIR depends on every WORKDIR before it, including the base image's."));
    }
}

fn dl3011(ctx: &Ctx, ins: &Instruction, out: &mut Vec<Finding>) {
    for w in &ins.words {
        let port = w.text.split('/').next().unwrap_or("");
        let bad = port
            .split('-')
            .any(|p| p.parse::<u64>().is_ok_and(|n| n > 65535));
        if bad {
            out.push(
                ctx.at(
                    RuleId::DL3011,
                    w.range.clone(),
                    format!("Valid UNIX ports range from 0 to 65535: `{}`", w.text),
                )
                .why("Docker rejects the port when the image is run."),
            );
        }
    }
}

fn dl3044(ctx: &Ctx, ins: &Instruction, out: &mut Vec<Finding>) {
    let mut defined: Vec<String> = Vec::new();
    for w in &ins.words {
        let Some((k, v)) = w.text.split_once('=') else {
            continue;
        };
        let refs = defined.iter().any(|d| refers_to(v, d));
        if refs {
            out.push(ctx.at(RuleId::DL3044, w.range.clone(), format!("Do not refer to an environment variable within the same `ENV` statement where it is defined: `{k}`")).why("All values of one ENV are expanded with the variables from before it; the reference sees the old value."));
            return;
        }
        defined.push(k.to_string());
    }
}

fn refers_to(v: &str, name: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while let Some(p) = v[i..].find('$') {
        let s = i + p + 1;
        let (start, braced) = if b.get(s) == Some(&b'{') {
            (s + 1, true)
        } else {
            (s, false)
        };
        let end = v[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map(|e| start + e)
            .unwrap_or(v.len());
        if &v[start..end] == name && (!braced || matches!(b.get(end), Some(b'}' | b':'))) {
            return true;
        }
        i = end.max(s);
        if i >= v.len() {
            break;
        }
    }
    false
}

fn dl3021(ctx: &Ctx, ins: &Instruction, out: &mut Vec<Finding>) {
    if !ins.heredocs.is_empty() {
        return;
    }
    let (n, last_text, last_range) = match &ins.form {
        Form::Json(ws) => match ws.last() {
            Some(l) => (ws.len(), l.text.clone(), None),
            None => return,
        },
        Form::Shell => match ins.words.last() {
            Some(l) => (ins.words.len(), l.text.clone(), Some(l.range.clone())),
            None => return,
        },
    };
    if n > 2 && !last_text.ends_with('/') {
        let mut f = ctx.at(RuleId::DL3021, ins.range.clone(), "`COPY` with more than 2 arguments requires the last argument to end with `/`").why("With several sources Docker needs a directory destination; the build fails otherwise.");
        if let Some(r) = last_range {
            let raw = ctx.text.get(r.clone()).unwrap_or("");
            // Put the slash inside the quotes when the destination is quoted.
            let at = if raw.ends_with('"') || raw.ends_with('\'') {
                r.end - 1
            } else {
                r.end
            };
            f = f.with_fix(ctx.fix(
                "DL3021.dir",
                FixLevel::Safe,
                "End the destination with /",
                vec![insert(at, "/")],
            ));
        }
        out.push(f);
    }
}

/// DL3002: a stage whose last USER is root (hadolint checks every stage, not only the final one).
fn dl3002(ctx: &Ctx, out: &mut Vec<Finding>) {
    for st in &ctx.m.stages {
        let last_user = st
            .instrs
            .iter()
            .rev()
            .map(|&i| ctx.m.instrs[i].ins)
            .find(|i| i.is("USER"));
        if let Some(u) = last_user {
            let who = u.words.first().map(|w| w.text.as_str()).unwrap_or("");
            let name = who.split(':').next().unwrap_or("");
            if name == "root" || name == "0" {
                out.push(ctx.at(RuleId::DL3002, u.range.clone(), "Last USER should not be root").why("A container running as root turns any escape or mounted-volume mistake into host root."));
            }
        }
    }
}
