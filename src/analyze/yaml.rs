//! YAML with spans for the files dockui reads besides Dockerfiles: GitHub workflows and conda
//! `environment.yml`.
//!
//! Parser choice: `saphyr` (YAML 1.2, the maintained continuation of yaml-rust / yaml-rust2; `serde_yaml` is
//! archived). Its `MarkedYaml` keeps a span on every scalar and start/end markers on collections, which is
//! what pointing at a line and editing one value needs. It limits flow nesting (255) and the number of nodes
//! alias expansion makes (billion laughs), not their bytes: `big: &a "<2 MB>"` then 100,000 `*a` is 200 GB. We
//! count the text aliases repeat against [`MAX_ALIAS_BYTES`] while loading, and add a guard against
//! pathologically deep block nesting, whose drop would recurse. Markers count characters; [`Yaml`] turns them
//! into byte offsets.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use saphyr::{MarkedYaml, Scalar, YamlData, YamlLoader};
use saphyr_parser::{BufferedInput, Event, Parser, Span, SpannedEventReceiver};

use super::finding::LineIndex;

/// Deepest block nesting we parse (real workflows and environment files stay under 20).
const MAX_DEPTH: usize = 400;

/// Text (keys and scalar values) all the aliases of a document may repeat: 16 MiB. Real files alias small maps
/// (CI defaults, a matrix entry): kilobytes. Each alias is a copy in dockui's tree, so this bounds its memory.
pub const MAX_ALIAS_BYTES: usize = 16 << 20;

/// A parsed YAML document with the text it came from.
pub struct Yaml<'t> {
    pub text: &'t str,
    pub root: Node,
    /// Byte offset of each char (only when the text is not ASCII; markers count chars).
    char_bytes: Option<Vec<usize>>,
    lines: LineIndex,
}

/// Why a YAML file could not be read: 1-based line, byte range, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlProblem {
    pub line: usize,
    pub range: Range<usize>,
    pub message: String,
    /// The file is valid YAML but past a limit of dockui's ([`MAX_ALIAS_BYTES`]): the tool that reads it may
    /// well accept it.
    pub limit: bool,
}

impl<'t> Yaml<'t> {
    /// Parse the first document of `text`. An empty file is an empty mapping.
    pub fn parse(text: &'t str) -> Result<Yaml<'t>, YamlProblem> {
        let lines = LineIndex::new(text);
        let char_bytes = (!text.is_ascii()).then(|| {
            let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            v.push(text.len());
            v
        });
        if let Some((line, start)) = too_deep(text) {
            return Err(YamlProblem {
                line,
                range: start..start,
                message: format!(
                    "nesting deeper than {MAX_DEPTH} levels; dockui does not read this file"
                ),
                limit: false,
            });
        }
        if text.contains('\0') {
            let at = text.find('\0').unwrap_or(0);
            return Err(YamlProblem {
                line: lines.line(at),
                range: at..at + 1,
                message: "a NUL byte is not allowed in YAML".into(),
                limit: false,
            });
        }
        let mut y = Yaml {
            text,
            root: MarkedYaml::value_from_str(""),
            char_bytes,
            lines,
        };
        // Owned input: the loader's nodes then borrow nothing from `text`.
        let mut parser = Parser::new(BufferedInput::new(text.chars()));
        let mut recv = AliasBytes::default();
        let loaded = parser.load(&mut recv, true);
        if let Some((span, repeats)) = recv.over {
            let at = y.byte(span.start.index());
            let end = y.byte(span.end.index()).max(at);
            return Err(YamlProblem {
                line: span.start.line().max(1),
                range: at..end,
                message: format!(
                    "its aliases repeat more than {} MiB of text (this one repeats {repeats} bytes)",
                    MAX_ALIAS_BYTES >> 20
                ),
                limit: true,
            });
        }
        let docs = match loaded.and_then(|()| match recv.loader.error() {
            Some(e) => Err(e.clone()),
            None => Ok(recv.loader.into_documents()),
        }) {
            Ok(d) => d,
            Err(e) => {
                let m = e.marker();
                let at = y.byte(m.index());
                return Err(YamlProblem {
                    line: m.line().max(1),
                    range: at..at,
                    message: format!("not valid YAML: {}", e.info()),
                    limit: false,
                });
            }
        };
        y.root = docs
            .into_iter()
            .next()
            .unwrap_or_else(|| Node::from(YamlData::Mapping(Default::default())));
        Ok(y)
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.char_bytes {
            Some(v) => v.get(char_index).copied().unwrap_or(self.text.len()),
            None => char_index.min(self.text.len()),
        }
    }

    /// Byte range of a node (for a collection: from its start to where it ends).
    pub fn range(&self, n: &Node) -> Range<usize> {
        let s = self.byte(n.span.start.index());
        let e = self.byte(n.span.end.index()).max(s);
        s..e
    }

    pub fn line(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    /// Byte range of a scalar's value in the text: inside the quotes of a quoted scalar; the node's range when
    /// the value is not written literally (escapes, folded text).
    pub fn value_range(&self, n: &Node) -> Range<usize> {
        let r = self.range(n);
        let raw = self.text.get(r.clone()).unwrap_or("");
        let Some(v) = scalar(n) else { return r };
        match raw.find(v.as_ref()) {
            Some(i) if !v.is_empty() => r.start + i..r.start + i + v.len(),
            _ => r,
        }
    }
}

/// saphyr's loader, fed event by event, with the bytes of text each anchor holds: an alias repeats them. Once
/// the aliases together pass [`MAX_ALIAS_BYTES`] nothing more reaches the loader (the parser still reads to the
/// end, in time linear in the text) and `over` holds that alias and the size it repeats.
#[derive(Default)]
struct AliasBytes {
    loader: YamlLoader<'static, Node>,
    /// Per anchor id: the text of the anchored node, aliases inside it counted at their full size.
    anchors: HashMap<usize, usize>,
    /// The collections being read: (anchor id, text so far).
    open: Vec<(usize, usize)>,
    repeated: usize,
    over: Option<(Span, usize)>,
}

impl AliasBytes {
    fn add(&mut self, n: usize) {
        if let Some((_, size)) = self.open.last_mut() {
            *size = size.saturating_add(n);
        }
    }
}

impl SpannedEventReceiver<'static> for AliasBytes {
    fn on_event(&mut self, ev: Event<'static>, span: Span) {
        if self.over.is_some() {
            return;
        }
        match &ev {
            Event::Scalar(v, _, anchor, _) => {
                if *anchor > 0 {
                    self.anchors.insert(*anchor, v.len());
                }
                self.add(v.len());
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.open.push((*anchor, 0));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, size)) = self.open.pop() {
                    if anchor > 0 {
                        self.anchors.insert(anchor, size);
                    }
                    self.add(size);
                }
            }
            Event::Alias(id) => {
                let n = self.anchors.get(id).copied().unwrap_or(0);
                self.repeated = self.repeated.saturating_add(n);
                if self.repeated > MAX_ALIAS_BYTES {
                    self.over = Some((span, n));
                    return;
                }
                self.add(n);
            }
            _ => {}
        }
        self.loader.on_event(ev, span);
    }
}

/// A scalar's text (numbers and booleans as their YAML text would read: `3.10` stays a string we can show).
pub fn scalar(n: &Node) -> Option<Cow<'_, str>> {
    match &n.data {
        YamlData::Value(Scalar::String(s)) => Some(Cow::Borrowed(s.as_ref())),
        YamlData::Value(Scalar::Integer(i)) => Some(Cow::Owned(i.to_string())),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(Cow::Owned(f.to_string())),
        YamlData::Value(Scalar::Boolean(b)) => Some(Cow::Owned(b.to_string())),
        YamlData::Representation(s, _, _) => Some(Cow::Borrowed(s.as_ref())),
        _ => None,
    }
}

/// A scalar's text as written in the file when it is a plain scalar (so `3.10` is not read as `3.1`).
pub fn scalar_as_written<'a>(y: &'a Yaml, n: &'a Node) -> Option<Cow<'a, str>> {
    match &n.data {
        YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_)) => {
            y.text.get(y.range(n)).map(|t| Cow::Borrowed(t.trim()))
        }
        _ => scalar(n),
    }
}

/// A YAML node; every tree in a [`Yaml`] owns its strings.
pub type Node = MarkedYaml<'static>;

/// The value under `key` in a mapping node.
pub fn get<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    match &n.data {
        YamlData::Mapping(m) => m
            .iter()
            .find(|(k, _)| scalar(k).as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Entries of a mapping node as (key text, key node, value node).
pub fn entries(n: &Node) -> Vec<(Cow<'_, str>, &Node, &Node)> {
    match &n.data {
        YamlData::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| scalar(k).map(|t| (t, k, v)))
            .collect(),
        _ => vec![],
    }
}

/// Items of a sequence node (empty for anything else).
pub fn items(n: &Node) -> &[Node] {
    match &n.data {
        YamlData::Sequence(v) => v,
        _ => &[],
    }
}

/// The first line whose leading indentation and block indicators exceed [`MAX_DEPTH`]: (line, byte offset).
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut off = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let lead = line
            .bytes()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'-' | b'?' | b':' | b'[' | b'{'))
            .count();
        if lead > MAX_DEPTH {
            return Some((i + 1, off));
        }
        off += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_that_repeat_a_large_string_are_refused_at_the_alias() {
        // The audit's environment.yml, scaled down: a 100 kB string repeated by 200 aliases is 20 MB.
        let text = format!(
            "name: x\nbig: &a \"{}\"\nrefs: [{}]\ndependencies:\n  - python=3.10\n",
            "x".repeat(100_000),
            vec!["*a"; 200].join(",")
        );
        let p = Yaml::parse(&text).err().expect("refused");
        assert!(p.limit);
        assert_eq!(p.line, 3);
        // 167 aliases fit in 16 MiB; the 168th is refused, at its own text.
        assert_eq!(&text[p.range.clone()], "*a");
        assert_eq!(p.range.start, text.find("refs: [").unwrap() + 7 + 167 * 3);
        assert!(p.message.contains("16 MiB"), "{}", p.message);
    }

    #[test]
    fn an_alias_of_a_map_of_aliases_counts_their_text() {
        // `m` holds two copies of a 1 MB string.
        let text = format!(
            "big: &a \"{}\"\nm: &m {{x: *a, y: *a}}\nrefs:\n{}",
            "x".repeat(1_000_000),
            "  - *m\n".repeat(9)
        );
        let p = Yaml::parse(&text).err().expect("refused");
        assert!(p.limit);
        // `m` itself repeats 2 MB; seven aliases of it bring that to 16 MB, the eighth (line 11) to 18 MB, past
        // 16 MiB (16.8 MB). Without the aliases inside `m` counted, nothing would be refused.
        assert_eq!(p.line, 3 + 8, "{p:?}");
        assert!(Yaml::parse(&text.replace(&"  - *m\n".repeat(9), &"  - *m\n".repeat(7))).is_ok());
    }

    #[test]
    fn ci_defaults_shared_through_anchors_are_read() {
        // The common use: small maps anchored once and merged or repeated in every job.
        let text = "\
defaults: &defaults
  runs-on: ubuntu-latest
  timeout-minutes: 30
  env: &env
    PIP_NO_CACHE_DIR: \"1\"
    CUDA: \"12.4\"
jobs:
  a:
    <<: *defaults
    env: *env
    steps:
      - &checkout {uses: actions/checkout@v4}
      - run: make
  b:
    <<: *defaults
    steps:
      - *checkout
      - run: make test
";
        let y = Yaml::parse(text).expect("read");
        let jobs = get(&y.root, "jobs").expect("jobs");
        let b = get(jobs, "b").expect("b");
        let first = &items(get(b, "steps").expect("steps"))[0];
        assert_eq!(
            get(first, "uses").and_then(scalar).as_deref(),
            Some("actions/checkout@v4")
        );
    }
}
