//! Shell conditions around an install command: `if [ -n "$TORCH_INDEX_URL" ]; then pip install ...; fi` or
//! `[ "$CUDA" = "cu126" ] && pip install ...`. A condition decided by ARG/ENV defaults is judged on the
//! defaults (what `docker build` without `--build-arg` does); anything else is undecidable and the findings
//! about that install say they assume the branch runs.
//!
//! The shell parser keeps simple commands only, so this reads the RUN's text again for `if/then/elif/else/fi`.

use super::*;
use crate::analyze::dockerfile::expand::{Budget, Lookup, Vars, expand};

/// Whether the command starting at a byte offset runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Always,
    /// Not taken with the defaults; the text says which condition decided it.
    Never(String),
    /// Taken or not depending on something dockui cannot know (a build arg without default handling, a file
    /// test, a command's output): the text is the condition.
    Unknown(String),
}

/// A finding about an install that runs only when `cond` holds, which the ARG/ENV defaults do not decide:
/// at most a warning (the build fails only if the branch runs), with the condition as its assumption.
pub(crate) fn assume_branch(f: &mut Finding, cond: &str) {
    if f.severity == Severity::Error {
        f.severity = Severity::Warning;
    }
    f.facts.push(format!(
        "assumption: the install runs only when `{cond}` holds, which dockui cannot decide from the ARG/ENV defaults"
    ));
}

#[derive(Debug)]
enum State {
    InCond(String),
    Then(String),
    Else,
}

struct Frame {
    prior: Vec<String>,
    state: State,
}

/// The condition under which the command at byte `at` (a file offset) of instruction `instr` runs.
pub(crate) fn condition(ctx: &Ctx, instr: usize, at: usize) -> Cond {
    let Some(info) = ctx.m.instrs.get(instr) else {
        return Cond::Always;
    };
    let r = info.ins.range.clone();
    if !(r.start..r.end).contains(&at) {
        return Cond::Always;
    }
    let Some(text) = ctx.text.get(r.start..at) else {
        return Cond::Always;
    };
    let (frames, guard, fallback) = scan(text);
    if fallback {
        // `a || b`: b runs only when a fails; dockui judges the build where commands succeed.
        return Cond::Never("runs only when the command before `||` fails".into());
    }
    let vars = &info.vars;
    let escape = ctx.m.df.escape;
    let mut unknown: Vec<String> = Vec::new();
    let check = |cond: &str, want: bool, unknown: &mut Vec<String>| -> Option<Cond> {
        match eval(cond, vars, escape) {
            Some(v) if v == want => None,
            Some(_) => Some(Cond::Never(cond.to_string())),
            None => {
                unknown.push(if want {
                    cond.to_string()
                } else {
                    format!("not ({cond})")
                });
                None
            }
        }
    };
    for f in &frames {
        for p in &f.prior {
            if let Some(c) = check(p, false, &mut unknown) {
                return c;
            }
        }
        match &f.state {
            State::Then(c) => {
                if let Some(c) = check(c, true, &mut unknown) {
                    return c;
                }
            }
            State::InCond(c) => unknown.push(c.clone()),
            State::Else => {}
        }
    }
    if let Some((c, want)) = guard {
        if let Some(c) = check(&c, want, &mut unknown) {
            return c;
        }
    }
    if unknown.is_empty() {
        Cond::Always
    } else {
        Cond::Unknown(unknown.join(" and "))
    }
}

/// Words of a shell text with whether each starts a command, plus separators.
#[derive(Debug, PartialEq)]
enum Tok {
    Word(String, bool),
    And,
    Or,
    Sep,
}

fn tokens(s: &str) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut cmd_pos = true;
    // Skip the instruction keyword (`RUN`, flags like `--mount=...`).
    while i < b.len() && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' if matches!(b.get(i + 1), Some(b'\n') | Some(b'\r')) => i += 2,
            b' ' | b'\t' | b'\r' => i += 1,
            b'\n' | b';' => {
                out.push(Tok::Sep);
                cmd_pos = true;
                i += 1;
            }
            b'&' if b.get(i + 1) == Some(&b'&') => {
                out.push(Tok::And);
                cmd_pos = true;
                i += 2;
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                out.push(Tok::Or);
                cmd_pos = true;
                i += 2;
            }
            b'|' | b'&' | b'(' | b')' => {
                out.push(Tok::Sep);
                cmd_pos = true;
                i += 1;
            }
            b'#' if cmd_pos || i == 0 || b[i - 1].is_ascii_whitespace() => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {
                let start = i;
                let mut depth = 0usize;
                while i < b.len() {
                    let c = b[i];
                    match c {
                        b'\'' => {
                            i += 1;
                            while i < b.len() && b[i] != b'\'' {
                                i += 1;
                            }
                            i += 1;
                        }
                        b'"' => {
                            i += 1;
                            while i < b.len() && b[i] != b'"' {
                                if b[i] == b'\\' {
                                    i += 1;
                                }
                                i += 1;
                            }
                            i += 1;
                        }
                        b'\\' => i += 2,
                        b'$' if b.get(i + 1) == Some(&b'(') => {
                            depth += 1;
                            i += 2;
                        }
                        b')' if depth > 0 => {
                            depth -= 1;
                            i += 1;
                        }
                        b' ' | b'\t' | b'\n' | b'\r' | b';' | b'&' | b'|' | b'(' | b')'
                            if depth == 0 =>
                        {
                            break;
                        }
                        _ => i += 1,
                    }
                }
                let w = s.get(start..i.min(s.len())).unwrap_or("").to_string();
                let at_cmd = cmd_pos;
                cmd_pos = at_cmd && matches!(w.as_str(), "then" | "else" | "do" | "!" | "{");
                if at_cmd && matches!(w.as_str(), "if" | "elif" | "while" | "until") {
                    cmd_pos = true;
                }
                out.push(Tok::Word(w, at_cmd));
            }
        }
    }
    out
}

/// Open `if` frames at the end of `s`, and the test guarding the last command through `&&` / `||`.
fn scan(s: &str) -> (Vec<Frame>, Option<(String, bool)>, bool) {
    let toks = tokens(s);
    let mut frames: Vec<Frame> = Vec::new();
    // Loops and case blocks nest too; they only matter for matching `fi`.
    let mut other_depth: Vec<usize> = Vec::new();
    let mut last_cmd: Vec<String> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut guard: Option<(String, bool)> = None;
    // The last command follows `||` after a command that is not a test: it is a fallback.
    let mut fallback = false;
    for t in toks {
        match t {
            Tok::Word(w, at_cmd) => {
                if at_cmd {
                    match w.as_str() {
                        "if" => {
                            frames.push(Frame {
                                prior: vec![],
                                state: State::InCond(String::new()),
                            });
                            other_depth.push(0);
                            guard = None;
                            continue;
                        }
                        "then" => {
                            if let Some(f) = frames.last_mut() {
                                if let State::InCond(c) = &f.state {
                                    f.state = State::Then(c.trim().to_string());
                                }
                            }
                            guard = None;
                            cur.clear();
                            continue;
                        }
                        "elif" => {
                            if let Some(f) = frames.last_mut() {
                                if let State::Then(c) = &f.state {
                                    f.prior.push(c.clone());
                                }
                                f.state = State::InCond(String::new());
                            }
                            continue;
                        }
                        "else" => {
                            if let Some(f) = frames.last_mut() {
                                if let State::Then(c) = &f.state {
                                    f.prior.push(c.clone());
                                }
                                f.state = State::Else;
                            }
                            guard = None;
                            cur.clear();
                            continue;
                        }
                        "fi" => {
                            frames.pop();
                            other_depth.pop();
                            guard = None;
                            cur.clear();
                            continue;
                        }
                        "while" | "until" | "for" | "case" | "select" => {
                            if let Some(d) = other_depth.last_mut() {
                                *d += 1;
                            }
                        }
                        "done" | "esac" => {
                            if let Some(d) = other_depth.last_mut() {
                                *d = d.saturating_sub(1);
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(Frame {
                    state: State::InCond(c),
                    ..
                }) = frames.last_mut()
                {
                    c.push(' ');
                    c.push_str(&w);
                    continue;
                }
                cur.push(w);
            }
            Tok::And | Tok::Or => {
                if let Some(Frame {
                    state: State::InCond(c),
                    ..
                }) = frames.last_mut()
                {
                    c.push_str(if t == Tok::And { " &&" } else { " ||" });
                    continue;
                }
                if !cur.is_empty() {
                    last_cmd = std::mem::take(&mut cur);
                }
                let is_test = matches!(
                    last_cmd.first().map(|s| s.as_str()),
                    Some("[") | Some("[[") | Some("test")
                );
                let before = guard.take();
                guard = if is_test {
                    Some((last_cmd.join(" "), t == Tok::And))
                } else {
                    // `[ x ] && a && b`: b runs under the same guard (when the chain is all `&&`).
                    before.clone().filter(|(_, want)| *want && t == Tok::And)
                };
                fallback = t == Tok::Or && !is_test && !last_cmd.is_empty();
                // `[ x ] && a || b`: b is the else branch of the test.
                if let (true, Some((c, true))) = (fallback, before) {
                    guard = Some((c, false));
                    fallback = false;
                }
            }
            Tok::Sep => {
                if let Some(Frame {
                    state: State::InCond(c),
                    ..
                }) = frames.last_mut()
                {
                    c.push_str(" ;");
                    continue;
                }
                cur.clear();
                last_cmd.clear();
                guard = None;
                fallback = false;
            }
        }
    }
    (frames, guard, fallback)
}

/// Evaluate a `[ ... ]` / `[[ ... ]]` / `test ...` condition with the ARG/ENV defaults in scope.
/// `None` when it cannot be decided.
fn eval(cond: &str, vars: &Vars, escape: char) -> Option<bool> {
    let cond = cond.trim().trim_end_matches(';').trim();
    let words = split_words(cond)?;
    let mut w: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
    let mut negate = false;
    if w.first() == Some(&"!") {
        negate = true;
        w.remove(0);
    }
    match (w.first().copied(), w.last().copied()) {
        (Some("["), Some("]")) | (Some("[["), Some("]]")) => {
            w = w[1..w.len() - 1].to_vec();
        }
        (Some("test"), _) => {
            w.remove(0);
        }
        _ => return None,
    }
    if w.iter()
        .any(|x| matches!(*x, "&&" | "||" | "-a" | "-o" | ";"))
    {
        return None;
    }
    let value = |raw: &str| -> Option<String> { word_value(raw, vars, escape) };
    let r = match w.as_slice() {
        ["-n", x] => !value(x)?.is_empty(),
        ["-z", x] => value(x)?.is_empty(),
        [x] => !value(x)?.is_empty(),
        ["!", x] => value(x)?.is_empty(),
        [a, op @ ("=" | "==" | "!="), b] => {
            let (a, b) = (value(a)?, value(b)?);
            if b.contains(['*', '?', '[']) {
                return None;
            }
            (a == b) == (*op != "!=")
        }
        _ => return None,
    };
    Some(r != negate)
}

/// Split a condition into words, keeping quotes (they are removed by `word_value`).
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Some(out)
}

/// `vars` with `names` set to the empty string: a view, not a copy of the scope (which would cost the whole
/// scope per operand, and lose its expansion budget).
struct Unset<'a> {
    vars: &'a Vars,
    names: &'a [String],
}

static EMPTY: Option<String> = Some(String::new());

impl Lookup for Unset<'_> {
    fn lookup(&self, name: &str) -> Option<&Option<String>> {
        if self.names.iter().any(|n| n == name) {
            return Some(&EMPTY);
        }
        self.vars.get(name)
    }
    fn budget(&self) -> Option<&Budget> {
        self.vars.budget()
    }
}

/// The value of one test operand under the defaults, or `None` when it depends on something unknown.
fn word_value(raw: &str, vars: &Vars, escape: char) -> Option<String> {
    if raw.contains("$(") || raw.contains('`') {
        return None;
    }
    let single = raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'');
    let inner = if single || (raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"')) {
        &raw[1..raw.len() - 1]
    } else {
        raw
    };
    if single {
        return Some(inner.to_string());
    }
    let e = expand(inner, vars, escape);
    if e.unresolved.is_empty() {
        return Some(e.text);
    }
    // An ARG declared without a default is unset unless --build-arg sets it: judge on that.
    if e.unresolved
        .iter()
        .all(|n| matches!(vars.get(n), Some(None)))
    {
        let v = Unset {
            vars,
            names: &e.unresolved,
        };
        let e2 = expand(inner, &v, escape);
        if e2.unresolved.is_empty() {
            return Some(e2.text);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(kv: &[(&str, Option<&str>)]) -> Vars {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect()
    }

    #[test]
    fn tests_on_defaults() {
        let v = vars(&[("IDX", Some("")), ("NOARG", None), ("CUDA", Some("cu126"))]);
        assert_eq!(eval("[ -n \"$IDX\" ]", &v, '\\'), Some(false));
        assert_eq!(eval("[ -z \"${IDX}\" ]", &v, '\\'), Some(true));
        assert_eq!(eval("[ -n \"$NOARG\" ]", &v, '\\'), Some(false));
        assert_eq!(eval("[[ \"$CUDA\" == \"cu126\" ]]", &v, '\\'), Some(true));
        assert_eq!(eval("test \"$CUDA\" != cu126", &v, '\\'), Some(false));
        assert_eq!(eval("[ -n \"$OTHER\" ]", &v, '\\'), None);
        assert_eq!(eval("[ -f /opt/x ]", &v, '\\'), None);
        assert_eq!(eval("grep -q x y", &v, '\\'), None);
    }

    #[test]
    fn frames_and_guards() {
        let (f, g, _) = scan("RUN if [ -n \"$A\" ]; then\n  pip install x; else ");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].prior, vec!["[ -n \"$A\" ] ;".to_string()]);
        assert!(matches!(f[0].state, State::Else));
        assert!(g.is_none());
        let (f, g, _) = scan("RUN apt-get update && [ \"$X\" = 1 ] && ");
        assert!(f.is_empty());
        assert_eq!(g, Some(("[ \"$X\" = 1 ]".to_string(), true)));
        let (f, _, _) = scan("RUN if true; then a; fi; ");
        assert!(f.is_empty());
        let (_, _, fb) = scan("RUN pip install a || ");
        assert!(fb);
        let (_, _, fb) = scan("RUN [ -z \"$X\" ] || ");
        assert!(!fb);
        let (_, g, fb) = scan("RUN [ \"$P\" != pre ] && pip install a || ");
        assert!(!fb);
        assert_eq!(g, Some(("[ \"$P\" != pre ]".to_string(), false)));
    }
}
