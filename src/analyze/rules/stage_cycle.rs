//! DU113: stages that depend on each other in a cycle (`COPY --from`, `RUN --mount=from=`, `FROM <stage>`).
//!
//! What the engine does (docker 20.10, checked with a two-stage cycle, a cycle the target never reaches, one
//! through `RUN --mount=from=`, one through numeric `--from=N`, and one through `FROM <stage>`):
//! - BuildKit resolves `--from` against every stage, later ones too, then checks all stages for a cycle of
//!   `--from`/mount dependencies before it looks at the target: `circular dependency detected on stage: b`,
//!   also when the target (or the last stage) reaches none of them.
//! - `FROM <name>` only finds earlier stages, and BuildKit's check leaves that edge out: a cycle through it is
//!   not reported, and the `COPY --from` of the later stage reads it before it is built, as an empty
//!   filesystem (`lstat .../y: no such file or directory`; a wildcard source copies nothing).
//! - The legacy builder builds the stages in order up to the target and reads a `--from` naming a later stage
//!   as an image to pull (`invalid from flag value c: ...`); only a `--target` before the cycle skips it.
//!
//! So the build fails whatever the target, unless the legacy builder is told to stop before the cycle: error.
//! `COPY --from=<own name>` is hadolint's DL3023 and not repeated here; a forward `--from` alone stays DL3022.

use super::*;

pub const RULES: &[RuleInfo] = &[RuleInfo::new(
    RuleId::DU113,
    Severity::Error,
    "Stages depend on each other in a cycle (COPY --from, RUN --mount=from, FROM <stage>): the build fails",
    &[],
)];

/// One dependency of a stage on a stage: where it is written and how.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    /// The stage that depends ...
    pub(super) from: usize,
    /// ... on this one.
    pub(super) to: usize,
    /// Instruction index (into `Model::instrs`) that makes the edge.
    instr: usize,
    /// `FROM <stage>` (not seen by BuildKit's cycle check) rather than `--from` / a mount.
    base: bool,
}

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let edges = edges(ctx);
    if edges.is_empty() {
        return;
    }
    let n = ctx.m.stages.len();
    let mut adj: Vec<Vec<&Edge>> = vec![Vec::new(); n];
    for e in &edges {
        adj[e.from].push(e);
    }
    for comp in components(n, &adj) {
        let in_comp = |s: usize| comp.contains(&s);
        // A cycle of --from/mount edges is what BuildKit reports; else one through FROM.
        let cycle = find_cycle(&comp, &adj, &in_comp, false)
            .map(|c| (c, false))
            .or_else(|| find_cycle(&comp, &adj, &in_comp, true).map(|c| (c, true)));
        let Some((cycle, through_from)) = cycle else {
            continue;
        };
        out.push(finding(ctx, &cycle, through_from));
    }
}

/// A stage as the messages name it: `builder` (with its name), stage 0 (without).
fn stage_label(ctx: &Ctx, s: usize) -> String {
    match &ctx.m.stages[s].name {
        Some(n) => format!("stage `{n}`"),
        None => format!("stage {s}"),
    }
}

fn finding(ctx: &Ctx, cycle: &[&Edge], through_from: bool) -> Finding {
    let first = cycle[0];
    let ins = ctx.m.instrs[first.instr].ins;
    let names: Vec<String> = cycle.iter().map(|e| stage_label(ctx, e.from)).collect();
    let path: Vec<String> = cycle
        .iter()
        .map(|e| {
            let i = ctx.m.instrs[e.instr].ins;
            format!(
                "{} needs {} (line {}: {})",
                stage_label(ctx, e.from),
                stage_label(ctx, e.to),
                i.line,
                one_line(i.logical.text.get(i.lstart..).unwrap_or(""))
            )
        })
        .collect();
    let message = if cycle.len() == 1 {
        format!("{} depends on itself", names[0])
    } else {
        let (last, rest) = names.split_last().expect("a cycle has stages");
        format!(
            "{} and {last} depend on each other in a cycle",
            rest.join(", ")
        )
    };
    let need = if cycle.len() == 1 {
        "A stage cannot be built before the stage it needs, and here it needs itself"
    } else {
        "A stage cannot be built before the stage it needs, and here each needs the other"
    };
    let legacy = "the legacy builder takes --from only from a stage built before it: it fails at the first --from naming the stage itself or a later one (`invalid from flag value ...`), unless --target stops before the cycle";
    let f = ctx
        .at(RuleId::DU113, ins.range.clone(), message)
        .fact(path.join("; "));
    if through_from {
        f.why(format!("{need}. BuildKit does not call a cycle through `FROM <stage>` circular: it copies from the later stage before building it, as an empty filesystem, so the COPY fails (`no such file or directory`) or, with a wildcard, copies nothing."))
            .fact(legacy)
    } else {
        f.why(format!("{need}: BuildKit stops with `circular dependency detected on stage`."))
            .fact("BuildKit checks every stage for cycles before it looks at the target, so the build fails whatever --target is, also when the target needs none of these stages")
            .fact(legacy)
    }
}

fn one_line(s: &str) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// The stage a `--from` / mount `from=` value names: a stage name (any stage, later ones too, as BuildKit
/// resolves it) or a stage index. `None` for an image, and for a value with a variable: the engine's
/// frontend (docker 20.10) takes `--from=${SRC}` literally (`failed to parse stage name "${SRC}"`), so which
/// stage it names depends on the frontend and is not claimed here.
fn stage_named(ctx: &Ctx, value: &str) -> Option<usize> {
    if value.contains('$') {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    if let Ok(i) = lower.parse::<usize>() {
        return (i < ctx.m.stages.len()).then_some(i);
    }
    ctx.m
        .stages
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
}

pub(super) fn edges(ctx: &Ctx) -> Vec<Edge> {
    let mut out = Vec::new();
    for st in &ctx.m.stages {
        if let Some(p) = st.parent {
            out.push(Edge {
                from: st.index,
                to: p,
                instr: st.from,
                base: true,
            });
        }
    }
    for (idx, info) in ctx.m.instrs.iter().enumerate() {
        let Some(s) = info.stage else { continue };
        // An ONBUILD's COPY/RUN runs in a child build, not this one.
        let ins = info.ins;
        let mut values: Vec<(&str, bool)> = Vec::new();
        if ins.is("COPY") {
            if let Some(v) = ins.flag("from").and_then(|f| f.value.as_deref()) {
                // Copying from its own name is DL3023's.
                let own = ctx.m.stages[s]
                    .name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(v));
                values.push((v, own));
            }
        }
        if ins.is("RUN") {
            for m in ins.flag_values("mount") {
                for kv in m.split(',') {
                    if let Some((k, v)) = kv.split_once('=') {
                        if k.trim().eq_ignore_ascii_case("from") {
                            values.push((v.trim(), false));
                        }
                    }
                }
            }
        }
        for (v, skip) in values {
            if skip {
                continue;
            }
            if let Some(to) = stage_named(ctx, v) {
                out.push(Edge {
                    from: s,
                    to,
                    instr: idx,
                    base: false,
                });
            }
        }
    }
    out.sort_by_key(|e| (e.from, e.instr, e.to));
    out
}

/// Strongly connected components that hold a cycle (more than one stage, or a stage needing itself), each
/// sorted, in the order of their first stage. Tarjan's algorithm, iterative.
fn components(n: usize, adj: &[Vec<&Edge>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, position in its edge list)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if let Some(e) = adj[v].get(*k) {
                *k += 1;
                let w = e.to;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(u, _)) = work.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                let cyclic = comp.len() > 1 || adj[v].iter().any(|e| e.to == v);
                if cyclic {
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out.sort();
    out
}

/// A simple cycle inside one component, from its first stage, as the edges walked; `with_base` allows
/// `FROM <stage>` edges.
fn find_cycle<'e>(
    comp: &[usize],
    adj: &[Vec<&'e Edge>],
    in_comp: &dyn Fn(usize) -> bool,
    with_base: bool,
) -> Option<Vec<&'e Edge>> {
    for &start in comp {
        let mut path: Vec<&Edge> = Vec::new();
        let mut seen = vec![start];
        if walk(start, start, adj, in_comp, with_base, &mut path, &mut seen) {
            return Some(path);
        }
    }
    None
}

fn walk<'e>(
    start: usize,
    at: usize,
    adj: &[Vec<&'e Edge>],
    in_comp: &dyn Fn(usize) -> bool,
    with_base: bool,
    path: &mut Vec<&'e Edge>,
    seen: &mut Vec<usize>,
) -> bool {
    for &e in &adj[at] {
        if (e.base && !with_base) || !in_comp(e.to) {
            continue;
        }
        path.push(e);
        if e.to == start {
            return true;
        }
        if !seen.contains(&e.to) {
            seen.push(e.to);
            if walk(start, e.to, adj, in_comp, with_base, path, seen) {
                return true;
            }
        }
        path.pop();
    }
    false
}
