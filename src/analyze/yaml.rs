//! YAML with spans for the files dockui reads besides Dockerfiles: GitHub workflows and conda
//! `environment.yml`.
//!
//! Parser choice: `saphyr` (YAML 1.2, the maintained continuation of yaml-rust / yaml-rust2; `serde_yaml` is
//! archived). Its `MarkedYaml` keeps a span on every scalar and start/end markers on collections, which is
//! what pointing at a line and editing one value needs. It limits flow nesting (255) and alias expansion
//! (billion laughs); we add a guard against pathologically deep block nesting, whose drop would recurse.
//! Markers count characters; [`Yaml`] turns them into byte offsets.

use std::borrow::Cow;
use std::ops::Range;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::finding::LineIndex;

/// Deepest block nesting we parse (real workflows and environment files stay under 20).
const MAX_DEPTH: usize = 400;

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
            });
        }
        if text.contains('\0') {
            let at = text.find('\0').unwrap_or(0);
            return Err(YamlProblem {
                line: lines.line(at),
                range: at..at + 1,
                message: "a NUL byte is not allowed in YAML".into(),
            });
        }
        let mut y = Yaml {
            text,
            root: MarkedYaml::value_from_str(""),
            char_bytes,
            lines,
        };
        // Owned input: the loader's nodes then borrow nothing from `text`.
        let docs = match Node::load_from_iter(text.chars()) {
            Ok(d) => d,
            Err(e) => {
                let m = e.marker();
                let at = y.byte(m.index());
                return Err(YamlProblem {
                    line: m.line().max(1),
                    range: at..at,
                    message: format!("not valid YAML: {}", e.info()),
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
