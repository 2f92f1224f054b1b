//! Dockerfile variable substitution: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?msg}`. Unknown forms are kept as written and reported as unresolved.
//!
//! Bounded: `ARG A1=${A0}${A0}` doubles a value per line, so 40 lines of 30 bytes ask for terabytes. One
//! expansion's text is at most [`MAX_VALUE`] bytes, or its input's length when that is longer (then it is cut
//! and says so), and
//! all the expansions over one file's variables copy at most [`BUDGET`] bytes out of them (then references
//! stay as written, and the [`Budget`] says which variable did not fit).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Longest text an expansion produces from variables: 128 KiB. Linux refuses to start a program whose
/// environment holds a string longer than that (`MAX_ARG_STRLEN`, E2BIG "argument list too long"), and a RUN
/// runs with the stage's ARGs and ENVs in its environment, so a longer value cannot work; real values are a few
/// hundred bytes. Text written out literally is never cut: the limit is this or the input's length.
pub const MAX_VALUE: usize = 128 * 1024;

/// Bytes all the expansions over one Dockerfile's variables may copy out of them: 64 MiB. Each expansion is
/// below [`MAX_VALUE`], but a file of a million `$BIG` words would still copy 128 GiB; real files use a few MB
/// (100,000 lines of ENV/ARG chains: under 10 MB).
pub const BUDGET: usize = 64 << 20;

/// What is left of a file's [`BUDGET`], shared by every scope of its model.
#[derive(Debug)]
pub struct Budget {
    left: AtomicUsize,
    /// The first variable whose value the budget could not pay for.
    ran_out: OnceLock<String>,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(BUDGET)
    }
}

impl Budget {
    pub fn new(bytes: usize) -> Budget {
        Budget {
            left: AtomicUsize::new(bytes),
            ran_out: OnceLock::new(),
        }
    }
    /// Pay `n` bytes; false (and nothing paid) when fewer are left.
    fn take(&self, n: usize) -> bool {
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(n))
            .is_ok()
    }
    /// Pay `n` bytes copied out of variable `name`; when fewer are left, note `name` (if it is the first)
    /// and return false.
    pub fn take_for(&self, name: &str, n: usize) -> bool {
        if self.take(n) {
            return true;
        }
        self.ran_out.get_or_init(|| name.to_string());
        false
    }
    /// The first variable left unexpanded because the budget ran out.
    pub fn ran_out(&self) -> Option<&str> {
        self.ran_out.get().map(String::as_str)
    }
}

/// Why an expansion is not the whole value Docker would compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// It grew past [`MAX_VALUE`]: the text is its first part.
    TooLong,
    /// The file's [`BUDGET`] ran out: some references were left as written.
    Budget,
}

/// Something that answers "what is `$NAME` here": `Some(Some(value))` when set, `Some(None)` when declared
/// without a value (`ARG X`), `None` when unknown.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<&Option<String>>;
    /// The budget values are copied out of (`None`: only [`MAX_VALUE`] bounds each expansion).
    fn budget(&self) -> Option<&Budget> {
        None
    }
}

/// A lookup whose expansions are paid from `budget`.
pub struct Budgeted<'a, L: Lookup>(pub &'a L, pub &'a Budget);

impl<L: Lookup> Lookup for Budgeted<'_, L> {
    fn lookup(&self, name: &str) -> Option<&Option<String>> {
        self.0.lookup(name)
    }
    fn budget(&self) -> Option<&Budget> {
        Some(self.1)
    }
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
    fn budget(&self) -> Option<&Budget> {
        match &self.0 {
            Repr::Own(_) => None,
            Repr::At { scopes, .. } => Some(&scopes.budget),
        }
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
    /// What expansions through this table may still copy out of variables.
    pub budget: Budget,
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
    fn budget(&self) -> Option<&Budget> {
        Some(&self.scopes.budget)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Names that were referenced but unset (and had no default).
    pub unresolved: Vec<String>,
    /// Set when `text` is not all of the value (see [`Cut`]).
    pub cut: Option<Cut>,
}

/// The text being built and the length it may reach.
struct Sink {
    e: Expanded,
    limit: usize,
}

impl Sink {
    fn full(&self) -> bool {
        self.e.cut == Some(Cut::TooLong)
    }
    fn put(&mut self, s: &str) {
        if self.full() {
            return;
        }
        let room = self.limit.saturating_sub(self.e.text.len());
        if s.len() <= room {
            self.e.text.push_str(s);
            return;
        }
        let mut k = room;
        while !s.is_char_boundary(k) {
            k -= 1;
        }
        self.e.text.push_str(&s[..k]);
        self.e.cut = Some(Cut::TooLong);
    }
    fn put_char(&mut self, c: char) {
        self.put(c.encode_utf8(&mut [0; 4]));
    }
    fn put_chars(&mut self, cs: &[char]) {
        for &c in cs {
            if self.full() {
                return;
            }
            self.put_char(c);
        }
    }
    /// A variable's value, paid from the budget; a value the budget cannot pay for leaves the reference
    /// (`raw`) as written.
    fn put_var(&mut self, vars: &dyn Lookup, name: &str, value: &str, raw: &[char]) {
        let n = value
            .len()
            .min(self.limit.saturating_sub(self.e.text.len()));
        if let Some(b) = vars.budget() {
            if !b.take_for(name, n) {
                if self.e.cut.is_none() {
                    self.e.cut = Some(Cut::Budget);
                }
                self.put_chars(raw);
                return;
            }
        }
        self.put(value);
    }
}

/// Expand variables in `s` with `vars`; `escape` protects a `$` (`\$HOME` stays `$HOME`).
pub fn expand(s: &str, vars: &impl Lookup, escape: char) -> Expanded {
    let mut out = Sink {
        e: Expanded::default(),
        limit: MAX_VALUE.max(s.len()),
    };
    expand_into(s, vars, escape, &mut out, 0);
    out.e
}

fn lookup<'a>(vars: &'a dyn Lookup, name: &str) -> Option<&'a str> {
    vars.lookup(name).and_then(|v| v.as_deref())
}

fn expand_into(s: &str, vars: &dyn Lookup, escape: char, out: &mut Sink, depth: usize) {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if out.full() {
            return;
        }
        let c = chars[i];
        if c == escape && chars.get(i + 1) == Some(&'$') {
            out.put_char('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.put_char(c);
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
                    out.put_chars(&chars[i..]);
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
                    Some(v) => out.put_var(vars, &name, v, &chars[i..j]),
                    None => out.e.unresolved.push(name),
                }
                i = j;
            }
            _ => {
                out.put_char('$');
                i += 1;
            }
        }
    }
}

fn expand_braced(
    inner: &str,
    vars: &dyn Lookup,
    escape: char,
    out: &mut Sink,
    depth: usize,
    raw: &[char],
) {
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..name_len];
    let op = &inner[name_len..];
    let value = lookup(vars, name);
    let sub = |word: &str, out: &mut Sink| {
        if depth < 8 {
            expand_into(word, vars, escape, out, depth + 1);
        } else {
            out.put(word);
        }
    };
    if name.is_empty() {
        out.put_chars(raw);
        return;
    }
    if op.is_empty() {
        match value {
            Some(v) => out.put_var(vars, name, v, raw),
            None => out.e.unresolved.push(name.to_string()),
        }
        return;
    }
    if let Some(word) = op.strip_prefix(":-") {
        match value {
            Some(v) if !v.is_empty() => out.put_var(vars, name, v, raw),
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
            Some(v) if !v.is_empty() => out.put_var(vars, name, v, raw),
            _ => out.e.unresolved.push(name.to_string()),
        }
    } else if let Some(word) = op.strip_prefix('-') {
        match value {
            Some(v) => out.put_var(vars, name, v, raw),
            None => sub(word, out),
        }
    } else if let Some(word) = op.strip_prefix('+') {
        if value.is_some() {
            sub(word, out);
        }
    } else {
        // `${X#pat}`, `${X%pat}`, `${X/a/b}`: not modelled; keep the value when known, flag otherwise.
        match value {
            Some(v) => out.put_var(vars, name, v, raw),
            None => {
                out.put_chars(raw);
                out.e.unresolved.push(name.to_string());
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
