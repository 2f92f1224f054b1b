//! FROM rewriting: edits that make a stage's FROM reference read a new image, on the FROM line when it is literal
//! or in the defaults of the global ARGs it is built from (`${PYTORCH}-cuda${CUDA}-...`, nested defaults too).

use super::*;
use crate::analyze::dockerfile::model::Stage;

/// Edits that make the FROM reference of `stage` read `new_ref`: on the FROM line when it is literal, else in
/// the default values of the global ARGs it is built from (`${PYTORCH}-cuda${CUDA}-...`, nested defaults too).
pub fn locate_reference(ctx: &Ctx, stage: &Stage, new_ref: &str) -> Option<Vec<TextEdit>> {
    let raw = &stage.image_raw;
    let range = (ctx.text.get(stage.image_range.clone()) == Some(raw.as_str()))
        .then(|| stage.image_range.clone());
    rewrite_template(ctx, raw, range, new_ref, 0)
}

enum Part {
    Lit(String),
    Var(String),
}

fn template_parts(t: &str) -> Option<Vec<Part>> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = t;
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = if let Some(b) = after.strip_prefix('{') {
            let close = b.find('}')?;
            let inner = &b[..close];
            let n = inner.split([':', '-', '+']).next().unwrap_or(inner);
            (n.to_string(), close + 2)
        } else {
            let n: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let len = n.len();
            (n, len)
        };
        if name.is_empty() {
            return None;
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        parts.push(Part::Var(name));
        rest = &after[used..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Some(parts)
}

fn rewrite_template(
    ctx: &Ctx,
    template: &str,
    range: Option<Range<usize>>,
    target: &str,
    depth: usize,
) -> Option<Vec<TextEdit>> {
    if depth > 4 {
        return None;
    }
    if !template.contains('$') {
        if template == target {
            return Some(vec![]);
        }
        return range.map(|r| vec![edit(r.start, r.end, target)]);
    }
    let parts = template_parts(template)?;
    let mut pattern = String::from("^");
    for (k, p) in parts.iter().enumerate() {
        match p {
            Part::Lit(l) => pattern.push_str(&regex::escape(l)),
            Part::Var(_) => pattern.push_str(&format!("(?P<v{k}>.+?)")),
        }
    }
    pattern.push('$');
    let re = regex::Regex::new(&pattern).ok()?;
    let caps = re.captures(target)?;
    let mut edits = Vec::new();
    for (k, p) in parts.iter().enumerate() {
        let Part::Var(name) = p else { continue };
        let want = caps.name(&format!("v{k}"))?.as_str();
        let current = ctx.m.global_args.get(name).cloned().flatten();
        if current.as_deref() == Some(want) {
            continue;
        }
        let (raw, r) = global_arg_default(ctx, name)?;
        edits.extend(rewrite_template(ctx, &raw, Some(r), want, depth + 1)?);
    }
    Some(edits)
}

/// The default of a global ARG as written and the byte range of that text.
fn global_arg_default(ctx: &Ctx, name: &str) -> Option<(String, Range<usize>)> {
    let mut found = None;
    for info in &ctx.m.instrs {
        if info.stage.is_some() {
            break;
        }
        if !info.ins.is("ARG") {
            continue;
        }
        for w in &info.ins.words {
            if let Some(v) = w.text.strip_prefix(&format!("{name}=")) {
                let start = w.range.start + name.len() + 1;
                let slice = ctx.text.get(start..w.range.end)?;
                if slice == v {
                    found = Some((v.to_string(), start..w.range.end));
                } else if slice.len() == v.len() + 2
                    && (slice.starts_with('"') || slice.starts_with('\''))
                {
                    found = Some((v.to_string(), start + 1..w.range.end - 1));
                }
            }
        }
    }
    found
}
