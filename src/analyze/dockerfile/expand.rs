//! Dockerfile variable substitution: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?msg}`. Unknown forms are kept as written and reported as unresolved.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Something that answers "what is `$NAME` here": `Some(Some(value))` when set, `Some(None)` when declared
/// without a value (`ARG X`), `None` when unknown.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<&Option<String>>;
}

/// Variables in scope: `Some(value)` when set, `None` when declared without a value (`ARG X`).
///
/// Either a map of its own (global ARGs, tests) or a view of the [`Scopes`] table the model builds: every
/// instruction's scope is a (frame, position) pair into one shared table in which each binding is stored
/// once, so a file of n `ENV`/`ARG` lines costs O(n) memory and O(log n) per lookup (no copy of a growing
/// map per instruction).
#[derive(Debug, Clone, Default)]
pub struct Vars(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Own(BTreeMap<String, Option<String>>),
    At {
        scopes: Arc<Scopes>,
        frame: usize,
        seq: usize,
    },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Own(BTreeMap::new())
    }
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }
    /// The scope `(frame, seq)` of a shared table.
    pub fn at(scopes: Arc<Scopes>, frame: usize, seq: usize) -> Vars {
        Vars(Repr::At { scopes, frame, seq })
    }
    pub fn get(&self, name: &str) -> Option<&Option<String>> {
        match &self.0 {
            Repr::Own(m) => m.get(name),
            Repr::At { scopes, frame, seq } => scopes.get(*frame, *seq, name),
        }
    }
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn insert(&mut self, name: String, value: Option<String>) {
        if let Repr::At { .. } = self.0 {
            let own: BTreeMap<String, Option<String>> =
                self.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            self.0 = Repr::Own(own);
        }
        if let Repr::Own(m) = &mut self.0 {
            m.insert(name, value);
        }
    }
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Own(m) => m.len(),
            Repr::At { .. } => self.iter().count(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.iter().map(|(k, _)| k)
    }
    /// Every visible variable, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Option<String>)> {
        let all: Vec<(&String, &Option<String>)> = match &self.0 {
            Repr::Own(m) => m.iter().collect(),
            Repr::At { scopes, frame, seq } => scopes.visible(*frame, *seq).into_iter().collect(),
        };
        all.into_iter()
    }
}

impl Lookup for Vars {
    fn lookup(&self, name: &str) -> Option<&Option<String>> {
        self.get(name)
    }
}

impl FromIterator<(String, Option<String>)> for Vars {
    fn from_iter<I: IntoIterator<Item = (String, Option<String>)>>(it: I) -> Vars {
        Vars(Repr::Own(it.into_iter().collect()))
    }
}

/// The ARG/ENV bindings of a whole Dockerfile, once each. A frame is a stage (plus one for the lines before
/// the first FROM); it starts from a view of its parent stage. A view `(frame, seq)` sees the bindings of that
/// frame made before position `seq`, then its parent's view.
#[derive(Debug, Default)]
pub struct Scopes {
    frames: Vec<Frame>,
    next: usize,
}

#[derive(Debug, Default)]
struct Frame {
    parent: Option<(usize, usize)>,
    /// Per name: (position, value), positions increasing.
    names: HashMap<String, Vec<(usize, Option<String>)>>,
    /// Position of the frame's first binding.
    first: Option<usize>,
}

impl Scopes {
    /// A new frame starting from the view `parent` (or empty); returns its index.
    pub fn frame(&mut self, mut parent: Option<(usize, usize)>) -> usize {
        // A parent frame that bound nothing before the view starts from its own parent's view: a chain of
        // stages built on each other without ENV costs one step per lookup, not one per stage.
        while let Some((f, seq)) = parent {
            match self.frames.get(f) {
                Some(fr) if fr.first.is_none_or(|first| first >= seq) => parent = fr.parent,
                _ => break,
            }
        }
        self.frames.push(Frame {
            parent,
            names: HashMap::new(),
            first: None,
        });
        self.frames.len() - 1
    }
    /// The position the next binding gets: a view at it sees everything bound so far.
    pub fn now(&self) -> usize {
        self.next
    }
    pub fn bind(&mut self, frame: usize, name: String, value: Option<String>) {
        let seq = self.next;
        self.next += 1;
        if let Some(f) = self.frames.get_mut(frame) {
            f.first.get_or_insert(seq);
            f.names.entry(name).or_default().push((seq, value));
        }
    }
    pub fn get(&self, mut frame: usize, mut seq: usize, name: &str) -> Option<&Option<String>> {
        // Stages are built on earlier stages only, so the chain ends; the guard is for safety.
        for _ in 0..=self.frames.len() {
            let f = self.frames.get(frame)?;
            if let Some(list) = f.names.get(name) {
                let k = list.partition_point(|(s, _)| *s < seq);
                if k > 0 {
                    return Some(&list[k - 1].1);
                }
            }
            (frame, seq) = f.parent?;
        }
        None
    }
    /// A view that borrows the table (for lookups while it is being built).
    pub fn view(&self, frame: usize, seq: usize) -> View<'_> {
        View {
            scopes: self,
            frame,
            seq,
        }
    }
    fn visible(&self, frame: usize, seq: usize) -> BTreeMap<&String, &Option<String>> {
        let mut out = BTreeMap::new();
        let (mut frame, mut seq) = (frame, seq);
        for _ in 0..=self.frames.len() {
            let Some(f) = self.frames.get(frame) else {
                break;
            };
            for (name, list) in &f.names {
                let k = list.partition_point(|(s, _)| *s < seq);
                if k > 0 {
                    out.entry(name).or_insert(&list[k - 1].1);
                }
            }
            match f.parent {
                Some(p) => (frame, seq) = p,
                None => break,
            }
        }
        out
    }
}

/// A borrowed view of [`Scopes`].
pub struct View<'a> {
    scopes: &'a Scopes,
    frame: usize,
    seq: usize,
}

impl Lookup for View<'_> {
    fn lookup(&self, name: &str) -> Option<&Option<String>> {
        self.scopes.get(self.frame, self.seq, name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Names that were referenced but unset (and had no default).
    pub unresolved: Vec<String>,
}

/// Expand variables in `s` with `vars`; `escape` protects a `$` (`\$HOME` stays `$HOME`).
pub fn expand(s: &str, vars: &impl Lookup, escape: char) -> Expanded {
    let mut out = Expanded::default();
    expand_into(s, vars, escape, &mut out, 0);
    out
}

fn lookup<'a>(vars: &'a dyn Lookup, name: &str) -> Option<&'a str> {
    vars.lookup(name).and_then(|v| v.as_deref())
}

fn expand_into(s: &str, vars: &dyn Lookup, escape: char, out: &mut Expanded, depth: usize) {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == escape && chars.get(i + 1) == Some(&'$') {
            out.text.push('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.text.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('{') => {
                // Find the matching brace (defaults may nest `${A:-${B}}`).
                let mut depth_b = 0;
                let mut j = i + 1;
                let mut close = None;
                while j < chars.len() {
                    match chars[j] {
                        '{' => depth_b += 1,
                        '}' => {
                            depth_b -= 1;
                            if depth_b == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let Some(close) = close else {
                    out.text.extend(&chars[i..]);
                    return;
                };
                let inner: String = chars[i + 2..close].iter().collect();
                expand_braced(&inner, vars, escape, out, depth, &chars[i..=close]);
                i = close + 1;
            }
            Some(&n) if n.is_ascii_alphabetic() || n == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                match lookup(vars, &name) {
                    Some(v) => out.text.push_str(v),
                    None => out.unresolved.push(name),
                }
                i = j;
            }
            _ => {
                out.text.push('$');
                i += 1;
            }
        }
    }
}

fn expand_braced(
    inner: &str,
    vars: &dyn Lookup,
    escape: char,
    out: &mut Expanded,
    depth: usize,
    raw: &[char],
) {
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..name_len];
    let op = &inner[name_len..];
    let value = lookup(vars, name);
    let sub = |word: &str, out: &mut Expanded| {
        if depth < 8 {
            expand_into(word, vars, escape, out, depth + 1);
        } else {
            out.text.push_str(word);
        }
    };
    if name.is_empty() {
        out.text.extend(raw);
        return;
    }
    if op.is_empty() {
        match value {
            Some(v) => out.text.push_str(v),
            None => out.unresolved.push(name.to_string()),
        }
        return;
    }
    if let Some(word) = op.strip_prefix(":-") {
        match value {
            Some(v) if !v.is_empty() => out.text.push_str(v),
            _ => sub(word, out),
        }
    } else if let Some(word) = op.strip_prefix(":+") {
        if let Some(v) = value {
            if !v.is_empty() {
                sub(word, out);
            }
        }
    } else if op.starts_with(":?") {
        // `${X:?message}` fails the build when X is empty: report it as unresolved.
        match value {
            Some(v) if !v.is_empty() => out.text.push_str(v),
            _ => out.unresolved.push(name.to_string()),
        }
    } else if let Some(word) = op.strip_prefix('-') {
        match value {
            Some(v) => out.text.push_str(v),
            None => sub(word, out),
        }
    } else if let Some(word) = op.strip_prefix('+') {
        if value.is_some() {
            sub(word, out);
        }
    } else {
        // `${X#pat}`, `${X%pat}`, `${X/a/b}`: not modelled; keep the value when known, flag otherwise.
        match value {
            Some(v) => out.text.push_str(v),
            None => {
                out.text.extend(raw);
                out.unresolved.push(name.to_string());
            }
        }
    }
}

/// True when `s` contains a variable reference at all.
pub fn has_vars(s: &str) -> bool {
    s.contains('$')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, Option<&str>)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(|s| s.to_string())))
            .collect()
    }

    #[test]
    fn defaults_and_alternates() {
        let v = vars(&[("A", Some("1")), ("E", Some("")), ("U", None)]);
        assert_eq!(expand("${A:-x}", &v, '\\').text, "1");
        assert_eq!(expand("${U:-7860}", &v, '\\').text, "7860");
        assert_eq!(expand("${E:-d}", &v, '\\').text, "d");
        assert_eq!(expand("${E-d}", &v, '\\').text, "");
        assert_eq!(expand("${A:+yes}", &v, '\\').text, "yes");
        assert_eq!(expand("${U:+yes}", &v, '\\').text, "");
        assert_eq!(expand("$A-$A", &v, '\\').text, "1-1");
        assert_eq!(expand("\\$A", &v, '\\').text, "$A");
        assert_eq!(expand("${U:-${A}}", &v, '\\').text, "1");
    }

    #[test]
    fn unresolved_is_reported() {
        let e = expand("img:${TAG}", &Vars::new(), '\\');
        assert_eq!(e.text, "img:");
        assert_eq!(e.unresolved, vec!["TAG".to_string()]);
        // Broken syntax never panics.
        let e = expand("${", &Vars::new(), '\\');
        assert_eq!(e.text, "${");
    }
}
