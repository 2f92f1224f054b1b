//! Build gates (`DU1xx`): things that make a build hang, fail, or ship caches, caught before the build runs.

use super::*;
use crate::analyze::dockerfile::shell::Command;
use std::sync::OnceLock;

/// Metadata of the build gates.
pub const RULES: &[RuleInfo] = &[
    RuleInfo::new(
        RuleId::DU101,
        Severity::Error,
        "apt/apt-get install without DEBIAN_FRONTEND=noninteractive",
        &[FixLevel::Safe],
    )
    .note("error only when a package in the same RUN is known to prompt (tzdata, keyboard-configuration, ...); info otherwise"),
    RuleInfo::new(
        RuleId::DU102,
        Severity::Warning,
        "apt upgrade or dpkg -i without dpkg conffile options (--force-confdef/--force-confold)",
        &[FixLevel::Safe],
    )
    .note("warning when the file edits /etc before the upgrade; info on a stock base and for dpkg -i of a fresh package"),
    RuleInfo::new(
        RuleId::DU103,
        Severity::Warning,
        "Package manager cache left in the layer (conda) or removed in a later layer",
        &[FixLevel::Safe],
    ),
    RuleInfo::new(
        RuleId::DU110,
        Severity::Error,
        "Invalid FROM reference (empty tag, bad digest, upper case, undefined variable)",
        &[FixLevel::Suggestion],
    ),
    RuleInfo::new(
        RuleId::DU111,
        Severity::Warning,
        "FROM uses an ARG without a default: the build fails unless --build-arg sets it",
        &[],
    ),
    RuleInfo::new(
        RuleId::DU120,
        Severity::Error,
        "GitHub workflow uses type=gha build cache with the default docker buildx driver",
        &[FixLevel::Suggestion],
    ),
];

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    from_refs(ctx, out);
    let tz_at = ["/etc/localtime", "/etc/timezone"]
        .iter()
        .filter_map(|p| ctx.text.find(p))
        .min();
    let mut etc: Option<Vec<(usize, Option<usize>, usize)>> = None;
    for (idx, info) in ctx.m.instrs.iter().enumerate() {
        let outer = info.ins;
        if !outer.effective().is("RUN") {
            continue;
        }
        let fixable = !outer.is("ONBUILD") && super::edits_are_exact(outer.effective());
        let script = &info.script;
        let frontend_env =
            info.vars.get("DEBIAN_FRONTEND").and_then(|v| v.as_deref()) == Some("noninteractive");
        let mut exported = false;
        let mut fired_101 = false;
        for c in &script.commands {
            if c.name() == "export"
                && c.args()
                    .iter()
                    .any(|a| a.text == "DEBIAN_FRONTEND=noninteractive")
            {
                exported = true;
            }
            let u = c.unwrapped();
            let name = u.base_name();
            let assigned = u
                .assigns
                .iter()
                .any(|a| a.text == "DEBIAN_FRONTEND=noninteractive");
            if matches!(name, "apt-get" | "apt" | "aptitude") {
                let sub = u
                    .args()
                    .iter()
                    .find(|w| !w.text.starts_with('-'))
                    .map(|w| w.text.as_str())
                    .unwrap_or("");
                if matches!(sub, "install" | "upgrade" | "dist-upgrade" | "full-upgrade") {
                    if !frontend_env && !exported && !assigned && !fired_101 {
                        fired_101 = true;
                        let (severity, fact) = prompt_severity(info, script, tz_at);
                        let mut f = ctx
                            .at(RuleId::DU101, u.range(), format!("`{name} {sub}` without DEBIAN_FRONTEND=noninteractive"))
                            .why("Packages such as tzdata ask questions through debconf; with no terminal the build stops at the prompt or fails with 'end of file on stdin'.")
                            .fact("no ENV/ARG DEBIAN_FRONTEND=noninteractive in this stage and none on the command")
                            .fact(fact);
                        f.severity = severity;
                        if fixable {
                            let start = u.words[0].range.start;
                            f = f.with_fix(ctx.fix(
                                "DU101.frontend",
                                FixLevel::Safe,
                                "Prefix the command with DEBIAN_FRONTEND=noninteractive",
                                vec![insert(start, "DEBIAN_FRONTEND=noninteractive ")],
                            ));
                        }
                        out.push(f);
                    }
                    if matches!(sub, "upgrade" | "dist-upgrade" | "full-upgrade")
                        && !has_conffile_opts(&u)
                    {
                        let mut f = du102(ctx, &u, fixable, sub);
                        let edits = etc.get_or_insert_with(|| etc_edits(ctx));
                        match etc_edit_before(ctx, edits, idx, info) {
                            Some(what) => {
                                f.severity = Severity::Warning;
                                f = f.fact(format!("{what} edits a file under /etc earlier: an upgrade of the package that owns it stops at dpkg's conffile prompt"));
                            }
                            None => {
                                f.severity = Severity::Info;
                                f = f.fact("nothing in this file edits /etc before the upgrade: on a stock base image dpkg has no changed conffile to ask about");
                            }
                        }
                        out.push(f);
                    }
                }
            }
            if name == "dpkg"
                && u.args()
                    .iter()
                    .any(|a| a.text == "-i" || a.text == "--install")
                && !u.args().iter().any(|a| a.text.starts_with("--force-conf"))
            {
                // A fresh install has no locally changed conffile to ask about: hygiene, not a likely failure.
                let mut f = ctx.at(RuleId::DU102, u.range(), "`dpkg -i` without --force-confdef/--force-confold").why("When a package ships a changed config file dpkg asks what to keep; without a terminal the build fails at that prompt.")
                    .fact("dpkg asks only when a conffile of an installed package was changed locally; a package installed for the first time cannot ask");
                f.severity = Severity::Info;
                if fixable {
                    f = f.with_fix(ctx.fix(
                        "DU102.dpkg",
                        FixLevel::Safe,
                        "Add --force-confdef --force-confold",
                        vec![insert(
                            u.words[0].range.end,
                            " --force-confdef --force-confold",
                        )],
                    ));
                }
                out.push(f);
            }
        }
        caches(ctx, info, fixable, out);
    }
}

/// Packages that ask debconf questions on install (time zone, keyboard, mail, LDAP, EULAs): without a terminal
/// and without DEBIAN_FRONTEND=noninteractive the build waits at the prompt or fails on end of file.
const PROMPTS: &[&str] = &[
    "tzdata",
    "keyboard-configuration",
    "console-setup",
    "console-data",
    "postfix",
    "krb5-config",
    "krb5-user",
    "slapd",
    "mysql-server",
    "ttf-mscorefonts-installer",
    "msttcorefonts",
    "wireshark-common",
    "wireshark",
    "iptables-persistent",
    "jackd2",
    "locales-all",
    "lightdm",
    "gdm3",
    "sddm",
];

/// DU101's severity for one RUN: error when a package in it is known to prompt, info otherwise (debconf then
/// falls back to its defaults, printing a warning). Returns the fact that decided it.
fn prompt_severity(
    info: &crate::analyze::dockerfile::model::Info,
    script: &crate::analyze::dockerfile::shell::Script,
    tz_at: Option<usize>,
) -> (Severity, String) {
    // tzdata does not ask when the time zone is already configured (`ln -s ... /etc/localtime`,
    // `echo $TZ > /etc/timezone` before the install, the usual workaround). Where the file first names one of
    // them is found once per analysis (searching the text before every RUN made big files quadratic).
    let tz_preset = tz_at.is_some_and(|at| at < info.ins.range.end);
    let mut named = Vec::new();
    for c in &script.commands {
        let u = c.unwrapped();
        if !matches!(u.base_name(), "apt-get" | "apt" | "aptitude") {
            continue;
        }
        for w in u.args() {
            let p = w.text.split('=').next().unwrap_or("");
            if PROMPTS.contains(&p)
                && !named.contains(&p.to_string())
                && !(p == "tzdata" && tz_preset)
            {
                named.push(p.to_string());
            }
        }
    }
    if named.is_empty() {
        (
            Severity::Info,
            "no package named in this RUN is known to prompt (tzdata, keyboard-configuration, ...); without a terminal debconf falls back to defaults".into(),
        )
    } else {
        (
            Severity::Error,
            format!(
                "{} asks questions through debconf on install",
                named.join(", ")
            ),
        )
    }
}

/// Instructions that edit a file under /etc (`sed -i ... /etc/...`, `>> /etc/...`, `tee /etc/...`,
/// `COPY ... /etc/...`), as (instruction index, stage, line): found once per analysis, not once per upgrade.
fn etc_edits(ctx: &Ctx) -> Vec<(usize, Option<usize>, usize)> {
    let mut out = Vec::new();
    for (idx, i) in ctx.m.instrs.iter().enumerate() {
        let ins = i.ins.effective();
        let edits = if ins.is("COPY") || ins.is("ADD") {
            ins.words
                .last()
                .is_some_and(|w| w.text.starts_with("/etc/"))
        } else if ins.is("RUN") {
            let t = ins.args_text();
            t.contains(">> /etc/")
                || t.contains("> /etc/")
                || t.contains(">>/etc/")
                || (t.contains("sed -i") && t.contains(" /etc/"))
                || t.contains("tee /etc/")
                || t.contains("tee -a /etc/")
        } else {
            false
        };
        if edits {
            let line = ctx.lines.line(ins.range.start.min(ctx.text.len()));
            out.push((idx, i.stage, line));
        }
    }
    out
}

/// An instruction before instruction `here` in its stage chain that edits a file under /etc: a changed
/// conffile makes a later upgrade prompt.
fn etc_edit_before(
    ctx: &Ctx,
    edits: &[(usize, Option<usize>, usize)],
    here: usize,
    info: &crate::analyze::dockerfile::model::Info,
) -> Option<String> {
    let stage = info.stage?;
    let mut chain = vec![stage];
    let mut s = stage;
    while let Some(p) = ctx.m.stages.get(s).and_then(|x| x.parent) {
        if p >= s || chain.len() > 64 {
            break;
        }
        chain.push(p);
        s = p;
    }
    edits
        .iter()
        .take_while(|(i, _, _)| *i < here)
        .find(|(_, st, _)| st.is_some_and(|s| chain.contains(&s)))
        .map(|(_, _, line)| format!("line {line}"))
}

fn has_conffile_opts(c: &Command) -> bool {
    c.args().iter().any(|a| {
        a.text.contains("--force-confold")
            || a.text.contains("--force-confdef")
            || a.text.contains("--force-confnew")
    })
}

fn du102(ctx: &Ctx, c: &Command, fixable: bool, sub: &str) -> Finding {
    let mut f = ctx.at(RuleId::DU102, c.range(), format!("`apt-get {sub}` without dpkg conffile options")).why("An upgrade that touches a changed config file makes dpkg prompt; DEBIAN_FRONTEND does not cover that prompt, so the build fails on it.");
    if fixable {
        if let Some(w) = c.args().iter().find(|w| w.text == sub) {
            f = f.with_fix(ctx.fix(
                "DU102.conffile",
                FixLevel::Safe,
                "Add -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold",
                vec![insert(
                    w.range.end,
                    " -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold",
                )],
            ));
        }
    }
    f
}

/// Caches that stay in the layer: conda without `conda clean` (yum/dnf/apk/apt have hadolint ids: DL3032,
/// DL3040, DL3019, DL3009); and cleanups done in a RUN of their own (which cannot shrink the earlier layer).
fn caches(
    ctx: &Ctx,
    info: &crate::analyze::dockerfile::model::Info,
    fixable: bool,
    out: &mut Vec<Finding>,
) {
    let script = &info.script;
    let ins = info.ins;
    let names: Vec<String> = script
        .commands
        .iter()
        .map(|c| c.unwrapped().base_name().to_string())
        .collect();
    let has = |n: &str, sub: &str| {
        script
            .commands
            .iter()
            .any(|c| c.unwrapped().base_name() == n && c.args().iter().any(|a| a.text == sub))
    };
    let mounted = |p: &str| {
        ins.effective()
            .flag_values("mount")
            .any(|v| v.contains("type=cache") && v.contains(p))
    };
    let mut push = |c: &Command, what: &str, fix_text: &str| {
        let mut f = ctx.at(RuleId::DU103, c.range(), format!("{what} cache left in the layer")).why("Package manager caches are written into this layer and stay in the image even if a later RUN deletes them.");
        if fixable && super::appendable(ins.effective()) {
            f = f.with_fix(ctx.fix(
                "DU103.clean",
                FixLevel::Safe,
                format!(
                    "Append `{}` to this RUN",
                    fix_text.trim_start_matches(" && ")
                ),
                vec![insert(ins.range.end, fix_text.to_string())],
            ));
        }
        out.push(f);
    };
    for c in &script.commands {
        let u = c.unwrapped();
        match u.base_name() {
            n @ ("conda" | "mamba" | "micromamba")
                if (u.has_arg("install") || u.has_arg("create"))
                    && !has(n, "clean")
                    && !has("conda", "clean")
                    && !mounted("pkgs") =>
            {
                push(&u, n, &ctx.df.and_then(&format!("{n} clean -afy")));
                break;
            }
            _ => {}
        }
    }
    // A cleanup alone in its RUN, after an earlier RUN installed: the bytes are already in the earlier layer.
    let only_cleanup = !names.is_empty()
        && script.commands.iter().all(|c| {
            let u = c.unwrapped();
            (u.base_name() == "rm"
                && u.args().iter().any(|a| {
                    a.text.starts_with("/var/lib/apt/lists")
                        || a.text.starts_with("/var/cache/")
                        || a.text.contains(".cache/pip")
                }))
                || (matches!(u.base_name(), "apt-get" | "yum" | "dnf" | "conda")
                    && u.has_arg("clean"))
        });
    if only_cleanup && !ins.is("ONBUILD") {
        out.push(ctx.at(RuleId::DU103, ins.range.clone(), "cache removed in a separate RUN: the earlier layer still holds it").why("Layers only add: deleting files in a later RUN hides them but the image keeps their bytes. Clean up in the RUN that created them."));
    }
}

fn name_re() -> &'static regex_lite::Regex {
    static R: OnceLock<regex_lite::Regex> = OnceLock::new();
    // Docker reference grammar: optional domain (with port), lower-case path components, tag, digest.
    R.get_or_init(|| {
        regex_lite::Regex::new(r"^(?:(?P<domain>(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?)/)?(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")
            .unwrap_or_else(|_| regex_lite::Regex::new("^$").unwrap_or_else(|_| unreachable!()))
    })
}

/// Why `reference` is not a valid image reference, or `None` when it is.
pub fn reference_problem(reference: &str) -> Option<String> {
    if reference.is_empty() {
        return Some("the image reference is empty".into());
    }
    if reference.contains(":@") || reference.ends_with(':') {
        return Some("the tag is empty (`name:@digest` or `name:`)".into());
    }
    if reference.ends_with('@') {
        return Some("the digest is empty".into());
    }
    if let Some((_, d)) = reference.split_once('@') {
        match d.split_once(':') {
            Some(("sha256", hex))
                if hex.len() == 64
                    && hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) => {}
            Some(("sha256", hex)) => {
                return Some(format!(
                    "sha256 digest must be 64 lower-case hex characters, got {} characters",
                    hex.len()
                ));
            }
            Some(("sha512", _)) => {}
            _ => return Some(format!("digest `{d}` is not `sha256:<64 hex>`")),
        }
    }
    let (repo, tag) = crate::analyze::compat::split_reference(reference);
    let path = repo
        .split_once('/')
        .filter(|(d, _)| d.contains('.') || d.contains(':') || *d == "localhost")
        .map(|(_, p)| p)
        .unwrap_or(&repo);
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("repository names must be lower case".into());
    }
    // The grammar caps a tag at 128 characters; checked here so the pattern stays small to compile.
    if tag.is_some_and(|t| t.len() > 128) {
        return Some("the tag is longer than 128 characters".into());
    }
    if !name_re().is_match(reference) {
        return Some(
            "not a valid image reference (`[registry/]name[:tag][@sha256:digest]`)".into(),
        );
    }
    None
}

/// ARGs BuildKit defines in the global scope without a declaration.
const PLATFORM_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

fn from_refs(ctx: &Ctx, out: &mut Vec<Finding>) {
    for st in &ctx.m.stages {
        let raw = &st.image_raw;
        let r = st.image_range.clone();
        if raw.is_empty() {
            out.push(
                ctx.at(
                    RuleId::DU110,
                    ctx.m.instrs[st.from].ins.range.clone(),
                    "FROM without an image",
                )
                .why("Docker needs an image (or `scratch`) after FROM."),
            );
            continue;
        }
        let image = &st.image;
        if !image.unresolved.is_empty() {
            let mut declared_no_default = Vec::new();
            let mut undeclared = Vec::new();
            // BuildKit's platform ARGs (and defaults built from them) are known only at build time.
            let platform_only = |v: &String| {
                PLATFORM_ARGS.contains(&v.as_str())
                    || ctx
                        .m
                        .global_deps
                        .get(v)
                        .is_some_and(|d| d.iter().all(|x| PLATFORM_ARGS.contains(&x.as_str())))
            };
            if image.unresolved.iter().all(platform_only) {
                continue;
            }
            for v in image.unresolved.iter().filter(|v| !platform_only(v)) {
                if ctx.m.global_args.contains_key(v) {
                    declared_no_default.push(v.clone());
                } else {
                    undeclared.push(v.clone());
                }
            }
            if !undeclared.is_empty() {
                out.push(
                    ctx.at(RuleId::DU110, r.clone(), format!("FROM {raw}: {} is not declared by an ARG before the first FROM", undeclared.join(", ")))
                        .why("Only ARGs declared before the first FROM can be used in FROM; anything else expands to an empty string and the build fails with 'invalid reference format'.")
                        .fact(format!("global ARGs: {}", if ctx.m.global_args.is_empty() { "none".to_string() } else { ctx.m.global_args.keys().cloned().collect::<Vec<_>>().join(", ") })),
                );
            } else {
                out.push(
                    ctx.at(RuleId::DU111, r.clone(), format!("FROM {raw}: ARG {} has no default", declared_no_default.join(", ")))
                        .why("The build only works when the caller passes --build-arg; a plain `docker build` fails with 'invalid reference format'."),
                );
            }
            continue;
        }
        // A reference cut at 128 KiB (a global ARG that doubles per line) is DU006's finding.
        if image.cut.is_some() {
            continue;
        }
        let text = image.text.as_str();
        // Built on an earlier stage (the model resolved the name once).
        let earlier = st.parent.is_some();
        if text.eq_ignore_ascii_case("scratch") || earlier {
            continue;
        }
        if let Some(problem) = reference_problem(text) {
            let mut f = ctx.at(RuleId::DU110, r.clone(), format!("invalid FROM reference `{text}`: {problem}")).why("Docker rejects the reference before pulling anything ('invalid reference format').");
            // The fixed reference is written where the reference comes from: the FROM line or the ARG defaults.
            let fixed = if text.contains(":@") {
                Some((
                    "DU110.empty-tag",
                    // Dropping the tag means `latest`: a choice of image, not a behaviour-preserving edit.
                    FixLevel::Suggestion,
                    "Drop the empty tag",
                    text.replacen(":@", "@", 1),
                ))
            } else if problem.contains("lower case") {
                let (repo, _) = crate::analyze::compat::split_reference(text);
                Some((
                    "DU110.lowercase",
                    FixLevel::Suggestion,
                    "Use the lower-case repository name",
                    format!("{}{}", repo.to_ascii_lowercase(), &text[repo.len()..]),
                ))
            } else {
                None
            };
            if let Some((id, level, desc, new_ref)) = fixed {
                if let Some(edits) = super::from_rewrite::locate_reference(ctx, st, &new_ref)
                    .filter(|e| !e.is_empty())
                {
                    f = f.with_fix(ctx.fix(id, level, desc, edits));
                }
            }
            out.push(f);
        }
    }
}

/// DU120: a job that uses the GitHub Actions cache backend while its buildx builder is the default `docker`
/// driver (no `docker/setup-buildx-action` step before it in the same job, or one with `driver: docker`).
/// Read per job and per step through [`crate::analyze::workflow`]: each job runs on its own machine, so a
/// setup step in one job does not help another. A workflow that is not valid YAML is a DU002 finding.
pub fn workflow(file: &Path, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let jobs = match crate::analyze::workflow::jobs(text) {
        Ok(j) => j,
        Err(p) => {
            // Only worth saying when the file is one we would have judged.
            if text.contains("type=gha") {
                out.push(
                    Finding::new(
                        RuleId::DU002,
                        Severity::Warning,
                        file,
                        Span::from_range(text, p.range.start, p.range.end),
                        format!("workflow is not readable: {}", p.message),
                    )
                    .why(if p.limit {
                        "The file is valid YAML past a limit of dockui's; dockui could not check its cache settings."
                    } else {
                        "GitHub rejects a workflow that is not valid YAML; dockui could not check its cache settings."
                    }),
                );
            }
            return out;
        }
    };
    let lines = crate::analyze::finding::LineIndex::new(text);
    for job in &jobs {
        // The builder in force at each step: None = default docker driver; Some(step) = that setup step.
        let mut builder: Option<&crate::analyze::workflow::Step> = None;
        let mut own_builder = false;
        let mut fixed = false;
        for st in &job.steps {
            if st.is_setup_buildx() {
                builder = Some(st);
            }
            if st.creates_builder {
                own_builder = true;
            }
            if st.gha.is_empty() || own_builder {
                continue;
            }
            let docker_driver = builder
                .and_then(|b| b.driver.clone())
                .filter(|(d, _)| d == "docker");
            if builder.is_some() && docker_driver.is_none() {
                continue;
            }
            for r in &st.gha {
                let why = if docker_driver.is_some() {
                    "setup-buildx-action is configured with `driver: docker`, which cannot export caches: the build fails with 'Cache export is not supported for the docker driver'."
                } else {
                    "Without docker/setup-buildx-action earlier in this job, buildx uses the default docker driver, which cannot export caches: the build fails with 'Cache export is not supported for the docker driver'."
                };
                let mut f = Finding::new(
                    RuleId::DU120,
                    severity(RuleId::DU120),
                    file,
                    lines.span(text, r.start, r.end),
                    "type=gha cache with the default docker buildx driver",
                )
                .why(why)
                .fact(format!("job `{}`", job.id));
                // One fix per job (several findings, one change).
                if !fixed {
                    if let Some((_, dr)) = docker_driver.clone() {
                        fixed = true;
                        f = f.with_fix(Fix {
                            id: "DU120.driver".into(),
                            level: FixLevel::Suggestion,
                            description: "Use the docker-container driver".into(),
                            file: file.to_path_buf(),
                            edits: vec![edit(dr.start, dr.end, "docker-container")],
                        });
                    } else if let Some(p) = st.item_line_start {
                        fixed = true;
                        let indent = " ".repeat(st.indent);
                        let edit_text = format!(
                            "{indent}- name: Set up Docker Buildx\n{indent}  uses: docker/setup-buildx-action@v3\n"
                        );
                        f = f.with_fix(Fix { id: "DU120.setup-buildx".into(), level: FixLevel::Suggestion, description: "Add a docker/setup-buildx-action step before this one (docker-container driver)".into(), file: file.to_path_buf(), edits: vec![insert(p, edit_text)] });
                    }
                }
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod workflow_tests {
    use super::workflow;
    use std::path::Path;

    const TWO_JOBS: &str = "on: push\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/setup-buildx-action@v3\n      - run: docker buildx build --cache-from type=gha -t lint .\n  image:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - name: Build\n        uses: docker/build-push-action@v6\n        with:\n          cache-to: type=gha,mode=max\n";

    #[test]
    fn a_setup_step_in_one_job_does_not_cover_another_job() {
        let f = workflow(Path::new("ci.yml"), TWO_JOBS);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "DU120");
        assert_eq!(f[0].span.line, 15);
        assert!(
            f[0].facts.iter().any(|x| x.contains("image")),
            "{:?}",
            f[0].facts
        );
        // The fix adds the setup step to the `image` job, before its build step.
        let fixed = crate::analyze::apply_edits(TWO_JOBS, &f[0].fixes[0].edits);
        assert!(fixed.contains("      - uses: actions/checkout@v4\n      - name: Set up Docker Buildx\n        uses: docker/setup-buildx-action@v3\n      - name: Build\n"), "{fixed}");
        assert!(workflow(Path::new("ci.yml"), &fixed).is_empty());
    }

    #[test]
    fn setup_in_the_same_job_or_an_own_builder_is_fine() {
        let ok = TWO_JOBS.replace(
            "      - uses: actions/checkout@v4\n",
            "      - uses: actions/checkout@v4\n      - uses: docker/setup-buildx-action@v3\n",
        );
        assert!(workflow(Path::new("ci.yml"), &ok).is_empty());
        let own = "jobs:\n  b:\n    steps:\n      - run: docker buildx create --use --driver docker-container\n      - run: docker buildx build --cache-to type=gha .\n";
        assert!(workflow(Path::new("ci.yml"), own).is_empty());
        // `type=gha` in a comment or an echo is not a cache setting.
        let echo = "jobs:\n  b:\n    steps:\n      - run: echo type=gha # cache-to: type=gha\n";
        assert!(workflow(Path::new("ci.yml"), echo).is_empty());
    }

    #[test]
    fn a_setup_step_after_the_build_does_not_count() {
        let late = "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          cache-to: type=gha\n      - uses: docker/setup-buildx-action@v3\n";
        assert_eq!(workflow(Path::new("ci.yml"), late).len(), 1);
    }

    #[test]
    fn unreadable_workflows_say_so() {
        let f = workflow(
            Path::new("ci.yml"),
            "jobs:\n  b:\n    steps:\n      - with: {cache-to: type=gha\n",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, "DU002");
        assert!(workflow(Path::new("ci.yml"), "\0\u{1}garbage: [").is_empty());
    }

    #[test]
    fn a_workflow_whose_aliases_repeat_megabytes_is_not_read() {
        // The audit's ci.yml, scaled down: 200 kB repeated by 100 aliases (20 MB; it was 1 MB x 20,000).
        let big = format!(
            "on: push\nx: &s \"{}\"\nrefs: [{}]\n",
            "y".repeat(200_000),
            vec!["*s"; 100].join(",")
        ) + "jobs:\n  b:\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          cache-to: type=gha\n";
        let f = workflow(Path::new("ci.yml"), &big);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].rule.as_str(), f[0].span.line), ("DU002", 3));
        assert!(f[0].message.contains("16 MiB"), "{}", f[0].message);
        assert!(f[0].why.contains("limit"), "{}", f[0].why);
        // The same workflow with a few aliases is read (and its missing setup step found).
        let small = big.replace(&vec!["*s"; 100].join(","), "*s,*s");
        let f = workflow(Path::new("ci.yml"), &small);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, "DU120");
    }
}

#[cfg(test)]
mod reference_tests {
    use super::reference_problem;

    #[test]
    fn a_tag_may_hold_128_characters_and_no_more() {
        assert_eq!(
            reference_problem(&format!("ubuntu:{}", "a".repeat(128))),
            None
        );
        assert!(
            reference_problem(&format!("ubuntu:{}", "a".repeat(129)))
                .is_some_and(|p| p.contains("128"))
        );
        // A registry port is not a tag; a digest after the tag is fine.
        assert_eq!(reference_problem("localhost:5000/team/app:1.0"), None);
        assert_eq!(reference_problem("localhost:5000/team/app"), None);
        let digest = format!("ubuntu:22.04@sha256:{}", "a".repeat(64));
        assert_eq!(reference_problem(&digest), None);
        assert!(reference_problem("ubuntu:bad tag").is_some());
    }
}
