//! Config updates that pin the pushed image: a key in a `.env` file or a dotted key path in a YAML file
//! receives the literal `repo@sha256:...` (no `${VAR}`: Ray Serve, Helm values and many loaders do not expand
//! variables). Edits are made by span on the original text, so comments, quoting and formatting stay as they
//! were; YAML is never re-serialised. Nothing is written here: each file gets old text, new text and a unified
//! diff for the Proposed diff pane, and the front end writes what the user accepts.

use crate::analyze::{Fix, FixLevel, TextEdit};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// One `[[push.update]]` entry in `.dockui.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTarget {
    /// Relative to the project directory.
    pub file: PathBuf,
    /// `.env`: the variable name. YAML: a dotted path, numbers index sequences (`spec.containers.0.image`),
    /// a segment in double quotes may hold dots (`metadata.annotations."example.com/image"`).
    pub key: String,
    /// `env` or `yaml`; by default from the file name (`.yaml`/`.yml` is YAML, anything else `.env` style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FileFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Env,
    Yaml,
}

impl UpdateTarget {
    pub fn format(&self) -> FileFormat {
        self.format
            .unwrap_or_else(|| match self.file.extension().and_then(|e| e.to_str()) {
                Some("yaml" | "yml") => FileFormat::Yaml,
                _ => FileFormat::Env,
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    pub key: String,
    /// None when the key had no value (or, in a `.env`, did not exist and is appended).
    pub old_value: Option<String>,
    pub new_value: String,
    /// 1-based line of the (last) edited value.
    pub line: Option<usize>,
    /// Why this key could not be updated, with what to do.
    pub error: Option<String>,
}

/// All proposed changes to one file (several targets in one file are folded together, so the diff applies
/// as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedUpdate {
    /// As configured (relative to the project).
    pub file: PathBuf,
    pub path: PathBuf,
    pub changes: Vec<KeyChange>,
    /// The file as read (what the writer must still find on disk before replacing it).
    pub old_text: String,
    pub new_text: String,
    /// The same change as byte-range edits of `old_text`, for the fix machinery (`as_fix`).
    pub edits: Vec<TextEdit>,
    /// Unified diff, empty when nothing changes.
    pub diff: String,
    /// Why the file could not be read at all.
    pub error: Option<String>,
}

impl ProposedUpdate {
    pub fn changes_anything(&self) -> bool {
        self.old_text != self.new_text
    }

    /// As a `Fix` for `fix::proposal::propose(file, &old_text, ..)`: hunks with content ids, per-hunk
    /// decisions, and `fix::write::write_atomic` (which refuses when the file changed since it was read).
    pub fn as_fix(&self) -> Option<Fix> {
        if !self.changes_anything() || self.error.is_some() {
            return None;
        }
        let keys: Vec<&str> = self
            .changes
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| c.key.as_str())
            .collect();
        let value = self
            .changes
            .first()
            .map(|c| c.new_value.as_str())
            .unwrap_or_default();
        Some(Fix {
            id: format!("push-update:{}", self.file.display()),
            level: FixLevel::Suggestion,
            description: format!(
                "pin {} in {} to {value}",
                keys.join(", "),
                self.file.display()
            ),
            file: self.file.clone(),
            edits: self.edits.clone(),
        })
    }
}

/// Propose setting every target to `reference` (`repo@sha256:...`). Never writes.
pub fn propose_updates(
    project_dir: &Path,
    targets: &[UpdateTarget],
    reference: &str,
) -> Vec<ProposedUpdate> {
    let mut out: Vec<ProposedUpdate> = Vec::new();
    for target in targets {
        let idx = match out.iter().position(|p| p.file == target.file) {
            Some(i) => i,
            None => {
                out.push(open(project_dir, &target.file, target.format()));
                out.len() - 1
            }
        };
        let p = &mut out[idx];
        if p.error.is_some() {
            continue;
        }
        // Every key is located in the file as read, so all edits are offsets of `old_text`.
        let edited = match target.format() {
            FileFormat::Env => edit_env(&p.old_text, &target.key, reference),
            FileFormat::Yaml => edit_yaml(&p.old_text, &target.key, reference),
        };
        let edited = edited.and_then(|e| {
            let mut merged = p.edits.clone();
            for edit in e.edits.clone() {
                merge_edit(&mut merged, edit).map_err(|_| {
                    format!(
                        "{} overlaps another [[push.update]] target in the same file; keep one of them",
                        target.key
                    )
                })?;
            }
            p.edits = merged;
            Ok(e)
        });
        match edited {
            Ok(e) => {
                p.changes.push(KeyChange {
                    key: target.key.clone(),
                    old_value: e.old_value,
                    new_value: reference.to_string(),
                    line: Some(e.line),
                    error: None,
                });
            }
            Err(why) => p.changes.push(KeyChange {
                key: target.key.clone(),
                old_value: None,
                new_value: reference.to_string(),
                line: None,
                error: Some(why),
            }),
        }
    }
    for p in &mut out {
        p.edits.sort_by_key(|e| (e.start, e.end));
        p.new_text = apply(&p.old_text, &p.edits);
        if p.changes_anything() {
            let name = p.file.display().to_string();
            p.diff = similar::TextDiff::from_lines(&p.old_text, &p.new_text)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string();
        }
    }
    out
}

fn open(project_dir: &Path, file: &Path, format: FileFormat) -> ProposedUpdate {
    let path = project_dir.join(file);
    let mut p = ProposedUpdate {
        file: file.to_path_buf(),
        path: path.clone(),
        changes: Vec::new(),
        old_text: String::new(),
        new_text: String::new(),
        edits: Vec::new(),
        diff: String::new(),
        error: None,
    };
    let escapes = file.is_absolute()
        || file
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)));
    if escapes {
        p.error = Some(format!(
            "{} is outside the project: update targets must be paths inside the project directory",
            file.display()
        ));
        return p;
    }
    // A missing file is not created: the writer replaces files that exist (and refuses when they changed).
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            p.old_text = t.clone();
            p.new_text = t;
        }
        Err(e) => {
            let hint = match format {
                FileFormat::Env => "create it (it may be empty) or fix the path",
                FileFormat::Yaml => "fix the path",
            };
            p.error = Some(format!(
                "cannot read {}: {e}; {hint} in [[push.update]] in .dockui.toml",
                path.display()
            ))
        }
    }
    p
}

/// One key's edits, as byte ranges of the text they were computed on (plus that text edited, for tests).
#[derive(Debug)]
struct Edited {
    edits: Vec<TextEdit>,
    #[cfg_attr(not(test), allow(dead_code))]
    text: String,
    old_value: Option<String>,
    line: usize,
}

impl Edited {
    fn new(
        text: &str,
        edits: Vec<(usize, usize, String)>,
        old_value: Option<String>,
        line: usize,
    ) -> Edited {
        let edits: Vec<TextEdit> = edits
            .into_iter()
            .map(|(start, end, replacement)| TextEdit {
                start,
                end,
                replacement,
            })
            .collect();
        Edited {
            text: apply(text, &edits),
            edits,
            old_value,
            line,
        }
    }
}

/// Apply non-overlapping edits (any order).
fn apply(text: &str, edits: &[TextEdit]) -> String {
    let mut sorted: Vec<&TextEdit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in sorted {
        out.push_str(&text[at..e.start]);
        out.push_str(&e.replacement);
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Add `new` to a file's edits unless it clashes: the same range with the same text is kept once, insertions
/// at one place are joined in order, anything else overlapping is refused.
fn merge_edit(edits: &mut Vec<TextEdit>, new: TextEdit) -> Result<(), ()> {
    for e in edits.iter_mut() {
        if e.start == new.start && e.end == new.end && e.replacement == new.replacement {
            return Ok(());
        }
        if e.start == e.end && new.start == new.end && e.start == new.start {
            let next = if e.replacement.ends_with('\n') {
                new.replacement
                    .strip_prefix('\n')
                    .unwrap_or(&new.replacement)
            } else {
                &new.replacement
            };
            e.replacement.push_str(next);
            return Ok(());
        }
        let overlap = new.start < e.end && e.start < new.end;
        let touch_insert = (new.start == new.end && e.start < new.start && new.start < e.end)
            || (e.start == e.end && new.start < e.start && e.start < new.end)
            || (new.start == new.end && new.start == e.start && e.start != e.end);
        if overlap || touch_insert {
            return Err(());
        }
    }
    edits.push(new);
    Ok(())
}

/// (byte offset of line start, line without its ending)
fn lines_with_offsets(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for piece in text.split_inclusive('\n') {
        let line = piece.trim_end_matches('\n').trim_end_matches('\r');
        out.push((start, line));
        start += piece.len();
    }
    out
}

/// A scalar value starting at `from` in `line`: (start, end) byte range within the line (quotes included),
/// the quote character, and the value. Plain values end at ` #` or the end of the line.
fn scalar_span(line: &str, from: usize) -> Result<(usize, usize, Option<char>, String), String> {
    let rest = &line[from..];
    let lead = rest.len() - rest.trim_start().len();
    let start = from + lead;
    let body = &line[start..];
    match body.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut value = String::new();
            let mut iter = body.char_indices().skip(1).peekable();
            while let Some((i, c)) = iter.next() {
                if c == q {
                    // YAML single quotes escape themselves by doubling.
                    if q == '\'' && iter.peek().is_some_and(|(_, n)| *n == '\'') {
                        iter.next();
                        value.push('\'');
                        continue;
                    }
                    return Ok((start, start + i + 1, Some(q), value));
                }
                if c == '\\' && q == '"' {
                    if let Some((_, n)) = iter.next() {
                        value.push(n);
                    }
                    continue;
                }
                value.push(c);
            }
            Err("its quoted value does not end on the same line; edit it by hand".into())
        }
        _ => {
            let mut end = body.len();
            let bytes = body.as_bytes();
            for i in 0..bytes.len() {
                if bytes[i] == b'#' && (i == 0 || bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
                    end = i;
                    break;
                }
            }
            let value = body[..end].trim_end();
            Ok((start, start + value.len(), None, value.to_string()))
        }
    }
}

fn quoted(value: &str, quote: Option<char>) -> String {
    match quote {
        Some(q) => format!("{q}{value}{q}"),
        None => value.to_string(),
    }
}

/// Set `KEY=value` (also `export KEY=value`); every assignment of the key is updated so no stale one remains.
fn edit_env(text: &str, key: &str, value: &str) -> Result<Edited, String> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "{key:?} is not a .env variable name (letters, digits, '_'); fix the key in .dockui.toml"
        ));
    }
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut old_value = None;
    let mut line_no = 0;
    for (n, (offset, line)) in lines_with_offsets(text).into_iter().enumerate() {
        let trimmed = line.trim_start();
        let mut pos = line.len() - trimmed.len();
        if let Some(after) = trimmed.strip_prefix("export ") {
            pos += trimmed.len() - after.trim_start().len();
        }
        let rest = &line[pos..];
        let Some(after_key) = rest.strip_prefix(key) else {
            continue;
        };
        let after_key_trim = after_key.trim_start();
        if !after_key_trim.starts_with('=') {
            continue;
        }
        let eq = pos + key.len() + (after_key.len() - after_key_trim.len()) + 1;
        let (s, e, quote, old) = scalar_span(line, eq)?;
        old_value = Some(old).filter(|v| !v.is_empty());
        line_no = n + 1;
        edits.push((offset + s, offset + e, quoted(value, quote)));
    }
    if edits.is_empty() {
        // A missing key is appended as the last line.
        let sep = if !text.is_empty() && !text.ends_with('\n') {
            "\n"
        } else {
            ""
        };
        edits.push((text.len(), text.len(), format!("{sep}{key}={value}\n")));
        line_no = text.lines().count() + 1;
    }
    Ok(Edited::new(text, edits, old_value, line_no))
}

// ---- YAML by span -----------------------------------------------------------------------------------------

struct Yaml<'a> {
    lines: Vec<(usize, &'a str)>,
}

/// Where a value goes: byte range in the text (empty for a key with no value: insert there).
struct Slot {
    start: usize,
    end: usize,
    quote: Option<char>,
    old: Option<String>,
    insert_space: bool,
    line: usize,
}

fn indent_of(line: &str) -> Option<usize> {
    let t = line.trim_start_matches(' ');
    if t.is_empty() || t.starts_with('#') {
        None
    } else {
        Some(line.len() - t.len())
    }
}

fn is_seq_item(s: &str) -> bool {
    s == "-" || s.starts_with("- ") || s.starts_with("-\t")
}

/// `key:` at the start of `s`: (key, byte length up to and including the colon).
fn parse_key(s: &str) -> Option<(String, usize)> {
    if let Some(q @ ('"' | '\'')) = s.chars().next() {
        let close = s[1..].find(q)? + 1;
        let key = s[1..close].to_string();
        let after = &s[close + 1..];
        let colon = after.len() - after.trim_start().len();
        let after = after.trim_start();
        if after.starts_with(':') && (after.len() == 1 || after[1..].starts_with([' ', '\t'])) {
            return Some((key, close + 1 + colon + 1));
        }
        return None;
    }
    if s.starts_with(['#', '-', '[', '{', '?', '&', '*', '!', '|', '>']) {
        return None;
    }
    let bytes = s.as_bytes();
    for i in 0..bytes.len() {
        if bytes[i] == b'#' && i > 0 && bytes[i - 1] == b' ' {
            return None;
        }
        if bytes[i] == b':'
            && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t')
        {
            return Some((s[..i].trim_end().to_string(), i + 1));
        }
    }
    None
}

impl<'a> Yaml<'a> {
    fn text(&self, li: usize) -> &'a str {
        self.lines[li].1
    }

    /// The next line in `li+1..end` that holds something.
    fn next_content(&self, li: usize, end: usize) -> Option<(usize, usize)> {
        (li + 1..end).find_map(|j| indent_of(self.text(j)).map(|ind| (j, ind)))
    }

    /// The node starting at (li, col) in a document ending before line `end`, followed along `path`.
    fn find(
        &self,
        li: usize,
        col: usize,
        end: usize,
        path: &[&str],
        walked: &str,
    ) -> Result<Slot, String> {
        let Some((seg, rest)) = path.split_first() else {
            return Err(format!("{walked} is not a single value"));
        };
        let here = if walked.is_empty() {
            seg.to_string()
        } else {
            format!("{walked}.{seg}")
        };
        let content = &self.text(li)[col..];
        if is_seq_item(content) {
            let index: usize = seg.parse().map_err(|_| {
                format!(
                    "{} is a list: use a number to pick an item",
                    if walked.is_empty() {
                        "the document"
                    } else {
                        walked
                    }
                )
            })?;
            let mut count = 0;
            let mut j = li;
            loop {
                if count == index {
                    let t = self.text(j);
                    let after_dash = col + 1;
                    let inline = t[after_dash..].trim_start_matches([' ', '\t']);
                    let item_col = t.len() - inline.len();
                    return self.value_at(j, item_col, col, end, rest, &here, after_dash);
                }
                count += 1;
                // next item: a line at this column starting with '-'
                let mut next = None;
                let mut k = j + 1;
                while k < end {
                    if let Some(ind) = indent_of(self.text(k)) {
                        if ind < col || (ind == col && !is_seq_item(&self.text(k)[col..])) {
                            break;
                        }
                        if ind == col {
                            next = Some(k);
                            break;
                        }
                    }
                    k += 1;
                }
                match next {
                    Some(k) => j = k,
                    None => return Err(format!("{here}: the list has only {count} item(s)")),
                }
            }
        }
        // A mapping: entries at this column.
        let mut j = li;
        let mut first = true;
        while j < end {
            let t = self.text(j);
            if !first {
                match indent_of(t) {
                    None => {
                        j += 1;
                        continue;
                    }
                    Some(ind) if ind < col => break,
                    Some(ind) if ind > col || is_seq_item(&t[col..]) => {
                        j += 1;
                        continue;
                    }
                    Some(_) => {}
                }
            }
            let Some((key, klen)) = parse_key(&t[col..]) else {
                if first {
                    return Err(format!(
                        "{} is not a mapping (or uses YAML this editor does not change: flow style, anchors, tags)",
                        if walked.is_empty() {
                            "the document"
                        } else {
                            walked
                        }
                    ));
                }
                break;
            };
            first = false;
            if key == *seg {
                return self.value_at(j, col + klen, col, end, rest, &here, col + klen);
            }
            j += 1;
        }
        Err(format!("{here} not found"))
    }

    /// The value of an entry whose text continues at (li, from) and whose own column is `col`.
    #[allow(clippy::too_many_arguments)]
    fn value_at(
        &self,
        li: usize,
        from: usize,
        col: usize,
        end: usize,
        rest: &[&str],
        here: &str,
        insert_at: usize,
    ) -> Result<Slot, String> {
        let t = self.text(li);
        let inline = t[from..].trim_start();
        let has_inline = !inline.is_empty() && !inline.starts_with('#');
        if has_inline {
            let first = inline.chars().next().unwrap_or(' ');
            let item_col = t.len() - inline.len();
            // A sequence item whose content is a mapping or a nested list (`- name: x`, `- - a`).
            if parse_key(inline).is_some() || is_seq_item(inline) {
                if rest.is_empty() {
                    return Err(format!(
                        "{here} holds a mapping or list, not a single value"
                    ));
                }
                return self.find(li, item_col, end, rest, here);
            }
            if matches!(first, '|' | '>' | '[' | '{' | '&' | '*' | '!') {
                return Err(format!(
                    "{here} uses YAML this editor does not change by itself (block scalar, flow style, anchor, alias or \
                     tag): edit it by hand"
                ));
            }
            if !rest.is_empty() {
                return Err(format!(
                    "{here} is a single value, so {here}.{} cannot exist",
                    rest.join(".")
                ));
            }
            let (s, e, quote, old) = scalar_span(t, from)?;
            let old =
                Some(old).filter(|v| quote.is_some() || !(v.is_empty() || v == "~" || v == "null"));
            return Ok(Slot {
                start: self.lines[li].0 + s,
                end: self.lines[li].0 + e,
                quote,
                old,
                insert_space: false,
                line: li + 1,
            });
        }
        // Nothing inline: the value is a block below (deeper, or a list at the same column), or empty.
        if let Some((j, ind)) = self.next_content(li, end)
            && (ind > col || (ind == col && is_seq_item(&self.text(j)[col..])))
        {
            if rest.is_empty() {
                return Err(format!(
                    "{here} holds a mapping or list, not a single value"
                ));
            }
            return self.find(j, ind, end, rest, here);
        }
        if !rest.is_empty() {
            return Err(format!(
                "{here} is empty, so {here}.{} does not exist: add it by hand",
                rest.join(".")
            ));
        }
        let at = self.lines[li].0 + insert_at;
        Ok(Slot {
            start: at,
            end: at,
            quote: None,
            old: None,
            insert_space: true,
            line: li + 1,
        })
    }
}

/// `a.b.0.c`; a segment in double quotes may hold dots (`metadata.annotations."example.com/image"`).
fn split_key_path(key: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in key.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => out.push(String::new()),
            c => out.last_mut().map(|s| s.push(c)).unwrap_or_default(),
        }
    }
    out
}

/// Set the value at a dotted key path in every YAML document of the file that has it.
fn edit_yaml(text: &str, key: &str, value: &str) -> Result<Edited, String> {
    let path = split_key_path(key);
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    if path.iter().any(|s| s.is_empty()) {
        return Err(format!(
            "{key:?} is not a dotted key path like image.ref; fix the key in .dockui.toml"
        ));
    }
    let y = Yaml {
        lines: lines_with_offsets(text),
    };
    // Documents are separated by `---` lines; `...` ends one.
    let mut docs = Vec::new();
    let mut start = 0;
    for (i, (_, l)) in y.lines.iter().enumerate() {
        if *l == "---" || l.starts_with("--- ") || *l == "..." {
            docs.push((start, i));
            start = i + 1;
        }
    }
    docs.push((start, y.lines.len()));
    let mut slots = Vec::new();
    let mut last_err = None;
    for (s, e) in docs {
        let Some(first) = (s..e).find(|&j| indent_of(y.text(j)).is_some()) else {
            continue;
        };
        let col = indent_of(y.text(first)).unwrap_or(0);
        match y.find(first, col, e, &path, "") {
            Ok(slot) => slots.push(slot),
            Err(why) => last_err = Some(why),
        }
    }
    if slots.is_empty() {
        let why = last_err.unwrap_or_else(|| "the file is empty".into());
        return Err(format!(
            "{key}: {why}; fix the key path in .dockui.toml or add the key to the file"
        ));
    }
    let old_value = slots.last().and_then(|s| s.old.clone());
    let line = slots.last().map(|s| s.line).unwrap_or(0);
    let edits = slots
        .into_iter()
        .map(|slot| {
            let mut new = quoted(value, slot.quote);
            if slot.insert_space {
                new.insert(0, ' ');
            }
            (slot.start, slot.end, new)
        })
        .collect();
    Ok(Edited::new(text, edits, old_value, line))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "127.0.0.1:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn env_keeps_quotes_comments_and_export() {
        let src = "# deploy\nexport IMAGE=\"old/app:1\" # pinned\nOTHER=1\nIMAGE_TAG=x\n";
        let e = edit_env(src, "IMAGE", R).unwrap();
        assert_eq!(
            e.text,
            format!("# deploy\nexport IMAGE=\"{R}\" # pinned\nOTHER=1\nIMAGE_TAG=x\n")
        );
        assert_eq!(e.old_value.as_deref(), Some("old/app:1"));
        assert_eq!(e.line, 2);
    }

    #[test]
    fn env_plain_value_and_inline_comment() {
        let e = edit_env("IMAGE = old  # c\r\n", "IMAGE", R).unwrap();
        assert_eq!(e.text, format!("IMAGE = {R}  # c\r\n"));
    }

    #[test]
    fn env_missing_key_is_appended_and_duplicates_all_change() {
        let e = edit_env("A=1", "IMAGE", R).unwrap();
        assert_eq!(e.text, format!("A=1\nIMAGE={R}\n"));
        assert_eq!(e.old_value, None);
        let e = edit_env("IMAGE=a\nIMAGE='b'\n", "IMAGE", R).unwrap();
        assert_eq!(e.text, format!("IMAGE={R}\nIMAGE='{R}'\n"));
        assert_eq!(e.old_value.as_deref(), Some("b"));
        assert!(edit_env("", "BAD-KEY", R).is_err());
    }

    #[test]
    fn env_no_variable_substitution() {
        let e = edit_env("IMAGE=${REGISTRY}/app:${TAG}\n", "IMAGE", R).unwrap();
        assert_eq!(e.text, format!("IMAGE={R}\n"));
    }

    #[test]
    fn yaml_nested_key_keeps_comments_and_other_lines() {
        let src = "# values\nimage:\n  # the image to run\n  ref: \"old:1\"   # keep me\n  pullPolicy: IfNotPresent\nreplicas: 2\n";
        let e = edit_yaml(src, "image.ref", R).unwrap();
        assert_eq!(
            e.text,
            format!(
                "# values\nimage:\n  # the image to run\n  ref: \"{R}\"   # keep me\n  pullPolicy: IfNotPresent\nreplicas: 2\n"
            )
        );
        assert_eq!(e.old_value.as_deref(), Some("old:1"));
        assert_eq!(e.line, 4);
    }

    #[test]
    fn yaml_sequences_by_index_and_same_column_lists() {
        let src = "spec:\n  containers:\n  - name: a\n    image: old/a\n  - name: b\n    image: 'old/b'\n";
        let e = edit_yaml(src, "spec.containers.1.image", R).unwrap();
        assert_eq!(
            e.text,
            format!(
                "spec:\n  containers:\n  - name: a\n    image: old/a\n  - name: b\n    image: '{R}'\n"
            )
        );
        let src = "jobs:\n  - env:\n      CONTAINER_IMAGE_URI: x\n";
        let e = edit_yaml(src, "jobs.0.env.CONTAINER_IMAGE_URI", R).unwrap();
        assert_eq!(
            e.text,
            format!("jobs:\n  - env:\n      CONTAINER_IMAGE_URI: {R}\n")
        );
    }

    #[test]
    fn yaml_empty_value_gets_one_and_deep_ray_path() {
        let e = edit_yaml("image:\n  ref:\nother: 1\n", "image.ref", R).unwrap();
        assert_eq!(e.text, format!("image:\n  ref: {R}\nother: 1\n"));
        let src =
            "runtime_env:\n  env_vars:\n    CONTAINER_IMAGE_URI: \"${IMAGE}\"\n    OTHER: 1\n";
        let e = edit_yaml(src, "runtime_env.env_vars.CONTAINER_IMAGE_URI", R).unwrap();
        assert_eq!(
            e.text,
            format!("runtime_env:\n  env_vars:\n    CONTAINER_IMAGE_URI: \"{R}\"\n    OTHER: 1\n")
        );
    }

    #[test]
    fn yaml_multi_document_and_errors() {
        let src = "image: a\n---\nkind: x\n---\nimage: b\n";
        let e = edit_yaml(src, "image", R).unwrap();
        assert_eq!(
            e.text,
            format!("image: {R}\n---\nkind: x\n---\nimage: {R}\n")
        );
        let err = edit_yaml("image:\n  ref: x\n", "image.tag", R).unwrap_err();
        assert!(err.contains("image.tag not found"), "{err}");
        let err = edit_yaml("image:\n  ref: x\n", "image", R).unwrap_err();
        assert!(err.contains("not a single value"), "{err}");
        let err = edit_yaml("image: {ref: x}\n", "image.ref", R).unwrap_err();
        assert!(
            err.contains("edit it by hand") || err.contains("flow"),
            "{err}"
        );
        let err = edit_yaml("image: |\n  x\n", "image", R).unwrap_err();
        assert!(err.contains("by hand"), "{err}");
        let err = edit_yaml("list:\n- a\n", "list.3", R).unwrap_err();
        assert!(err.contains("only 1 item"), "{err}");
    }

    #[test]
    fn edits_are_offsets_of_the_file_as_read_and_feed_the_fix_machinery() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "A=1\nIMAGE=old\nB=2").unwrap();
        let t = |key: &str| UpdateTarget {
            file: ".env".into(),
            key: key.into(),
            format: None,
        };
        // IMAGE twice (kept once), two missing keys appended in order after the unterminated last line.
        let p = propose_updates(
            dir.path(),
            &[t("IMAGE"), t("IMAGE"), t("NEW1"), t("NEW2")],
            R,
        );
        let p = &p[0];
        assert_eq!(
            p.new_text,
            format!("A=1\nIMAGE={R}\nB=2\nNEW1={R}\nNEW2={R}\n")
        );
        assert!(
            p.changes.iter().all(|c| c.error.is_none()),
            "{:?}",
            p.changes
        );
        assert_eq!(p.changes[2].line, Some(4));
        let fix = p.as_fix().unwrap();
        assert_eq!(fix.level, FixLevel::Suggestion);
        assert_eq!(apply(&p.old_text, &fix.edits), p.new_text);
        let proposal =
            crate::fix::proposal::propose(p.file.clone(), &p.old_text, &[(fix.id.clone(), &fix)]);
        assert!(proposal.deferred.is_empty(), "{:?}", proposal.deferred);
        let all: std::collections::HashMap<_, _> = proposal
            .hunks
            .iter()
            .map(|h| (h.id, crate::fix::proposal::Decision::Accept))
            .collect();
        assert_eq!(crate::fix::proposal::apply(&proposal, &all), p.new_text);
    }

    #[test]
    fn overlapping_targets_are_refused_not_mixed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("v.yaml"), "image:\n  ref: old\n").unwrap();
        let t = |key: &str| UpdateTarget {
            file: "v.yaml".into(),
            key: key.into(),
            format: None,
        };
        let p = propose_updates(dir.path(), &[t("image.ref"), t("image.ref")], R);
        assert_eq!(
            p[0].new_text,
            format!("image:\n  ref: {R}\n"),
            "the same edit twice is one edit"
        );
        assert!(p[0].changes.iter().all(|c| c.error.is_none()));
    }

    #[test]
    fn quoted_path_segments_may_hold_dots() {
        let src = "metadata:\n  annotations:\n    example.com/image: old\n";
        let e = edit_yaml(src, "metadata.annotations.\"example.com/image\"", R).unwrap();
        assert_eq!(
            e.text,
            format!("metadata:\n  annotations:\n    example.com/image: {R}\n")
        );
        assert_eq!(split_key_path("a.\"b.c\".0"), vec!["a", "b.c", "0"]);
    }

    #[test]
    fn block_scalar_lines_do_not_confuse_the_key_search() {
        let src = "script: |\n  ref: not-this\nref: this\n";
        let e = edit_yaml(src, "ref", R).unwrap();
        assert_eq!(e.text, format!("script: |\n  ref: not-this\nref: {R}\n"));
    }

    #[test]
    fn proposals_fold_per_file_with_diff_and_never_write() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("k8s")).unwrap();
        std::fs::write(dir.path().join(".env"), "IMAGE=old\n").unwrap();
        std::fs::write(
            dir.path().join("k8s/values.yaml"),
            "image:\n  ref: old\n  other: old\n",
        )
        .unwrap();
        let targets = vec![
            UpdateTarget {
                file: ".env".into(),
                key: "IMAGE".into(),
                format: None,
            },
            UpdateTarget {
                file: "k8s/values.yaml".into(),
                key: "image.ref".into(),
                format: None,
            },
            UpdateTarget {
                file: "k8s/values.yaml".into(),
                key: "image.other".into(),
                format: None,
            },
            UpdateTarget {
                file: "k8s/values.yaml".into(),
                key: "image.missing".into(),
                format: None,
            },
            UpdateTarget {
                file: "../escape.env".into(),
                key: "IMAGE".into(),
                format: None,
            },
            UpdateTarget {
                file: "absent.yaml".into(),
                key: "a".into(),
                format: None,
            },
        ];
        let p = propose_updates(dir.path(), &targets, R);
        assert_eq!(p.len(), 4);
        assert!(p[0].diff.contains(&format!("+IMAGE={R}")), "{}", p[0].diff);
        assert!(
            p[0].diff.starts_with("--- a/.env\n+++ b/.env\n"),
            "{}",
            p[0].diff
        );
        assert_eq!(p[1].changes.len(), 3);
        assert_eq!(p[1].new_text, format!("image:\n  ref: {R}\n  other: {R}\n"));
        assert!(
            p[1].changes[2]
                .error
                .as_deref()
                .unwrap()
                .contains("image.missing not found")
        );
        assert!(
            p[2].error
                .as_deref()
                .unwrap()
                .contains("outside the project")
        );
        assert!(p[3].error.as_deref().unwrap().contains("cannot read"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".env")).unwrap(),
            "IMAGE=old\n"
        );
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"old_value\":\"old\""));
    }
}
