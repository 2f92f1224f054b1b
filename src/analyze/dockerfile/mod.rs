//! A Dockerfile parser of our own that keeps byte spans for everything and never gives up.
//!
//! The file is cut into items that tile the text exactly (blank lines, comments, parser directives,
//! instructions with their continuation lines and heredoc bodies, and lines we could not understand), so
//! `render()` gives back the original text and every rule can point at, and rewrite, the bytes it means.
//! Continuation lines are joined into a [`Logical`] text that remembers where each byte came from.

pub mod expand;
pub mod model;
pub mod shell;

use std::ops::Range;

/// A logical line: continuation escapes and skipped comment lines removed, with a map back to file offsets.
#[derive(Debug, Clone, Default)]
pub struct Logical {
    pub text: String,
    /// (logical start, file start) of each contiguous piece, in order.
    segs: Vec<(usize, usize)>,
}

impl Logical {
    fn push(&mut self, piece: &str, file_start: usize) {
        if piece.is_empty() {
            return;
        }
        self.segs.push((self.text.len(), file_start));
        self.text.push_str(piece);
    }

    /// File offset of logical offset `l` (the end of the text maps just past its last byte).
    pub fn to_file(&self, l: usize) -> usize {
        if self.segs.is_empty() {
            return 0;
        }
        if l >= self.text.len() {
            // Just past the last byte of the last piece.
            let (ls, fs) = self.segs[self.segs.len() - 1];
            return fs + (self.text.len() - ls);
        }
        let idx = match self.segs.binary_search_by(|(ls, _)| ls.cmp(&l)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let (ls, fs) = self.segs[idx];
        fs + (l - ls)
    }

    /// File range of a logical range; an empty range maps to an empty file range.
    pub fn range_to_file(&self, r: Range<usize>) -> Range<usize> {
        if r.start >= r.end {
            let p = self.to_file(r.start);
            return p..p;
        }
        let start = self.to_file(r.start);
        let end = self.to_file(r.end - 1) + 1;
        start..end.max(start)
    }
}

/// One word of an instruction's arguments: unquoted text plus where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Text with quotes and escapes removed; variables are not expanded.
    pub text: String,
    /// Byte range in the file (covering the raw word, quotes included).
    pub range: Range<usize>,
    /// Byte range in the instruction's logical text.
    pub lrange: Range<usize>,
}

/// `--name=value` before an instruction's arguments (`RUN --mount=...`, `COPY --from=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
    pub range: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub delimiter: String,
    /// `<<-`: leading tabs are stripped from body lines.
    pub strip_tabs: bool,
    /// A quoted delimiter turns variable expansion off in the body.
    pub quoted: bool,
    /// Body text (tabs stripped when `strip_tabs`), without the terminator line.
    pub body: String,
    /// File range of the body lines (raw).
    pub body_range: Range<usize>,
    /// Logical range of the `<<EOF` marker in the instruction line.
    pub marker: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `["a", "b"]`
    Json(Vec<Word>),
    /// Everything else: the raw text from `args_start` in the logical line.
    Shell,
}

#[derive(Debug, Clone)]
pub struct Instruction {
    /// Upper-cased keyword as written (`RUN`, `FROM`, ...).
    pub keyword: String,
    pub keyword_range: Range<usize>,
    /// File range from the keyword to the end of the last continuation line (no newline, no heredoc bodies).
    pub range: Range<usize>,
    pub line: usize,
    pub logical: std::sync::Arc<Logical>,
    /// Logical offset where this instruction's keyword starts (non-zero for the inner part of ONBUILD).
    pub lstart: usize,
    pub flags: Vec<Flag>,
    /// Logical offset where the arguments (after flags) start.
    pub args_start: usize,
    pub form: Form,
    /// Whitespace-split words of the arguments (for shell form), quotes honoured.
    pub words: Vec<Word>,
    pub heredocs: Vec<Heredoc>,
    /// The instruction an `ONBUILD` carries.
    pub inner: Option<Box<Instruction>>,
}

impl Instruction {
    /// The argument text after the flags, as one logical string.
    pub fn args_text(&self) -> &str {
        self.logical.text.get(self.args_start..).unwrap_or("")
    }
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
    pub fn flag_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .filter_map(|f| f.value.as_deref())
    }
    /// The instruction itself, or what an ONBUILD carries.
    pub fn effective(&self) -> &Instruction {
        match &self.inner {
            Some(i) => i,
            None => self,
        }
    }
    pub fn is(&self, kw: &str) -> bool {
        self.keyword == kw
    }
    /// File range of a logical range of this instruction.
    pub fn file_range(&self, r: Range<usize>) -> Range<usize> {
        self.logical.range_to_file(r)
    }
    /// File offset just after the last byte of the instruction's logical text.
    pub fn end(&self) -> usize {
        self.range.end
    }
}

#[derive(Debug, Clone)]
pub enum ItemKind {
    Blank,
    Comment {
        text: String,
    },
    /// `# escape=` or `# syntax=` at the top of the file.
    Directive {
        name: String,
        value: String,
    },
    Instruction(Box<Instruction>),
    /// A line we could not understand; the rest of the file is still parsed.
    Error {
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct Item {
    pub kind: ItemKind,
    /// File range of the item including its trailing newline(s); items tile the file.
    pub range: Range<usize>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub text: String,
    pub escape: char,
    pub items: Vec<Item>,
    /// Everything we could not understand, with its line; the rest of the file is still parsed.
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub range: Range<usize>,
    pub message: String,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        Parser::new(text).run()
    }
    /// Give back the text from the items (they tile the file exactly).
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(self.text.len());
        for it in &self.items {
            s.push_str(&self.text[it.range.clone()]);
        }
        s
    }
    pub fn instructions(&self) -> impl Iterator<Item = &Instruction> {
        self.items.iter().filter_map(|i| match &i.kind {
            ItemKind::Instruction(ins) => Some(&**ins),
            _ => None,
        })
    }
    /// Text that continues an instruction on a new line indented by `indent` and four spaces: a blank, the
    /// file's escape character (a backtick when the `escape` directive names it), a newline. Every fix that adds a line to an
    /// instruction writes it with this, so none hard-codes the backslash.
    pub fn line_break(&self, indent: &str) -> String {
        format!(" {}\n{indent}    ", self.escape)
    }
    /// `cmd` chained after the end of a shell-form RUN, on a continuation line of its own (` \`, `    && cmd`).
    pub fn and_then(&self, cmd: &str) -> String {
        format!("{}&& {cmd}", self.line_break(""))
    }
}

/// Physical line: content range (no newline, no trailing `\r`) and full range (with newline).
#[derive(Debug, Clone, Copy)]
struct PLine {
    start: usize,
    content_end: usize,
    end: usize,
}

struct Parser<'a> {
    text: &'a str,
    lines: Vec<PLine>,
    escape: char,
    problems: Vec<Problem>,
}

const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Instructions whose arguments may start with `--flag` options.
const FLAGGED: &[&str] = &["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"];

/// Bytes of a UTF-8 byte order mark at the start of `text` (Windows editors write one): BuildKit's parser and
/// the legacy builder read past it, so the first line starts after it.
fn bom_len(text: &str) -> usize {
    if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    }
}

fn split_lines(text: &str) -> Vec<PLine> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = bom_len(text);
    while start < text.len() {
        let nl = memchr(b'\n', &bytes[start..]).map(|i| start + i);
        let (content_end, end) = match nl {
            Some(i) => (i, i + 1),
            None => (text.len(), text.len()),
        };
        let content_end = if content_end > start && bytes[content_end - 1] == b'\r' {
            content_end - 1
        } else {
            content_end
        };
        out.push(PLine {
            start,
            content_end,
            end,
        });
        start = end;
    }
    out
}

fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == b)
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            lines: split_lines(text),
            escape: '\\',
            problems: Vec::new(),
        }
    }

    fn content(&self, l: PLine) -> &'a str {
        &self.text[l.start..l.content_end]
    }

    fn run(mut self) -> Dockerfile {
        let mut items = Vec::new();
        let mut i = 0;
        let mut directives_open = true;
        let bom = bom_len(self.text);
        if bom > 0 {
            // Items tile the file: the mark is an item of its own (the first line's instruction starts after it).
            items.push(Item {
                kind: ItemKind::Blank,
                range: 0..bom,
                line: 1,
            });
        }
        while i < self.lines.len() {
            let l = self.lines[i];
            let content = self.content(l);
            let trimmed = content.trim_start();
            let line_no = i + 1;
            if trimmed.is_empty() {
                directives_open = false;
                items.push(Item {
                    kind: ItemKind::Blank,
                    range: l.start..l.end,
                    line: line_no,
                });
                i += 1;
                continue;
            }
            if let Some(c) = trimmed.strip_prefix('#') {
                if directives_open {
                    if let Some((name, value)) = parse_directive(c) {
                        if name == "escape" {
                            match value.as_str() {
                                "`" => self.escape = '`',
                                "\\" => self.escape = '\\',
                                _ => {
                                    items.push(Item {
                                        kind: ItemKind::Error { message: format!("invalid escape directive {value:?}: must be ` or \\") },
                                        range: l.start..l.end,
                                        line: line_no,
                                    });
                                    i += 1;
                                    continue;
                                }
                            }
                        }
                        items.push(Item {
                            kind: ItemKind::Directive { name, value },
                            range: l.start..l.end,
                            line: line_no,
                        });
                        i += 1;
                        continue;
                    }
                }
                directives_open = false;
                items.push(Item {
                    kind: ItemKind::Comment {
                        text: c.trim().to_string(),
                    },
                    range: l.start..l.end,
                    line: line_no,
                });
                i += 1;
                continue;
            }
            directives_open = false;
            let (item, next) = self.instruction_item(i);
            items.push(item);
            i = next;
        }
        for it in &items {
            if let ItemKind::Error { message } = &it.kind {
                let end = self.text[it.range.clone()].trim_end().len() + it.range.start;
                self.problems.push(Problem {
                    line: it.line,
                    range: it.range.start..end,
                    message: message.clone(),
                });
            }
        }
        self.problems.sort_by_key(|p| p.range.start);
        Dockerfile {
            text: self.text.to_string(),
            escape: self.escape,
            items,
            problems: self.problems,
        }
    }

    /// Gather an instruction starting at physical line `i`; returns the item and the next line index.
    fn instruction_item(&mut self, i: usize) -> (Item, usize) {
        let first = self.lines[i];
        let mut logical = Logical::default();
        let mut j = i;
        let mut last_content_end;
        loop {
            let l = self.lines[j];
            let content = self.content(l);
            // A continued line ends with the escape char, optionally followed by blanks; like BuildKit, even
            // an escaped escape (`\\`) at the end continues the line.
            let trimmed_end = content.trim_end_matches([' ', '\t']);
            let continued = trimmed_end.ends_with(self.escape);
            let start_in_line = if j == i {
                content.len() - content.trim_start().len()
            } else {
                0
            };
            last_content_end = l.content_end;
            if continued {
                let cut = trimmed_end.len() - self.escape.len_utf8();
                logical.push(&content[start_in_line..cut], l.start + start_in_line);
                j += 1;
                // Skip comment lines and empty lines inside a continuation, as BuildKit does.
                while j < self.lines.len() {
                    let t = self.content(self.lines[j]).trim_start();
                    if t.is_empty() || t.starts_with('#') {
                        j += 1;
                    } else {
                        break;
                    }
                }
                if j >= self.lines.len() {
                    break;
                }
            } else {
                logical.push(&content[start_in_line..], l.start + start_in_line);
                j += 1;
                break;
            }
        }
        let start_off =
            first.start + (self.content(first).len() - self.content(first).trim_start().len());
        let logical = std::sync::Arc::new(logical);
        let line_no = i + 1;
        let mut ins = match parse_instruction(&logical, 0, self.escape, line_no) {
            Ok(ins) => ins,
            Err(message) => {
                let end = self.lines[j - 1].end;
                return (
                    Item {
                        kind: ItemKind::Error { message },
                        range: first.start..end,
                        line: line_no,
                    },
                    j,
                );
            }
        };
        ins.range = start_off..last_content_end.max(start_off);
        // Heredocs: bodies follow the instruction line, in marker order.
        let mut next = j;
        let mut heredoc_error = None;
        let target = ins
            .inner
            .as_deref()
            .map(|x| x.keyword.as_str())
            .unwrap_or(ins.keyword.as_str())
            .to_string();
        if matches!(target.as_str(), "RUN" | "COPY" | "ADD") {
            let markers = find_heredoc_markers(
                &logical.text,
                ins.inner
                    .as_deref()
                    .map(|x| x.args_start)
                    .unwrap_or(ins.args_start),
            );
            let mut docs = Vec::new();
            for m in markers {
                // Find the terminator line.
                let mut k = next;
                let mut found = None;
                while k < self.lines.len() {
                    let c = self.content(self.lines[k]);
                    let c2 = if m.strip_tabs {
                        c.trim_start_matches('\t')
                    } else {
                        c
                    };
                    if c2 == m.delimiter {
                        found = Some(k);
                        break;
                    }
                    k += 1;
                }
                let Some(term) = found else {
                    heredoc_error = Some(format!("heredoc <<{} is never terminated", m.delimiter));
                    break;
                };
                let body_start = if next < self.lines.len() {
                    self.lines[next].start
                } else {
                    self.text.len()
                };
                let body_end = self.lines[term].start;
                let mut body = String::new();
                for l in &self.lines[next..term] {
                    let c = &self.text[l.start..l.end];
                    body.push_str(if m.strip_tabs {
                        c.trim_start_matches('\t')
                    } else {
                        c
                    });
                }
                docs.push(Heredoc {
                    delimiter: m.delimiter,
                    strip_tabs: m.strip_tabs,
                    quoted: m.quoted,
                    body,
                    body_range: body_start..body_end,
                    marker: m.marker,
                });
                next = term + 1;
            }
            match ins.inner.as_deref_mut() {
                Some(inner) => inner.heredocs = docs,
                None => ins.heredocs = docs,
            }
        }
        let end = self.lines[next - 1].end;
        if let Some(message) = heredoc_error {
            // Keep the instruction but report the broken heredoc; bodies stay unconsumed so the rest is parsed.
            self.problems.push(Problem {
                line: line_no,
                range: ins.range.clone(),
                message,
            });
        }
        (
            Item {
                kind: ItemKind::Instruction(Box::new(ins)),
                range: first.start..end,
                line: line_no,
            },
            next,
        )
    }
}

fn parse_directive(c: &str) -> Option<(String, String)> {
    let c = c.trim();
    let (name, value) = c.split_once('=')?;
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
    {
        return None;
    }
    if !matches!(name.as_str(), "escape" | "syntax" | "check") {
        return None;
    }
    Some((name, value.trim().to_string()))
}

struct Marker {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
    marker: Range<usize>,
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` outside quotes; not `<<<` and not `$((1<<2))`.
fn find_heredoc_markers(s: &str, from: usize) -> Vec<Marker> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = from.min(b.len());
    let mut quote: Option<u8> = None;
    let mut paren_depth = 0i32;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' && q == b'"' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' => quote = Some(c),
            b'\\' => {
                i += 2;
                continue;
            }
            b'(' => paren_depth += 1,
            b')' => paren_depth -= 1,
            b'<' if paren_depth <= 0
                && b.get(i + 1) == Some(&b'<')
                && b.get(i + 2) != Some(&b'<')
                && (i == 0 || b[i - 1] != b'<') =>
            {
                let start = i;
                let mut k = i + 2;
                let strip = b.get(k) == Some(&b'-');
                if strip {
                    k += 1;
                }
                let q = match b.get(k) {
                    Some(&q @ (b'"' | b'\'')) => {
                        k += 1;
                        Some(q)
                    }
                    _ => None,
                };
                let ws = k;
                while k < b.len()
                    && (b[k].is_ascii_alphanumeric()
                        || b[k] == b'_'
                        || b[k] == b'-'
                        || b[k] == b'.')
                {
                    k += 1;
                }
                let word = &s[ws..k];
                let first_ok = word
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_');
                let close_ok = match q {
                    Some(q) => b.get(k) == Some(&q),
                    None => true,
                };
                if first_ok && close_ok {
                    if q.is_some() {
                        k += 1;
                    }
                    out.push(Marker {
                        delimiter: word.to_string(),
                        strip_tabs: strip,
                        quoted: q.is_some(),
                        marker: start..k,
                    });
                    i = k;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Parse the instruction starting at logical offset `at` (0 for a top-level one).
fn parse_instruction(
    logical: &std::sync::Arc<Logical>,
    at: usize,
    escape: char,
    line: usize,
) -> Result<Instruction, String> {
    let text = &logical.text;
    let rest = &text[at..];
    let kw_len = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    let kw_raw = &rest[..kw_len];
    let keyword = kw_raw.to_ascii_uppercase();
    if !KEYWORDS.contains(&keyword.as_str()) {
        let shown: String = kw_raw.chars().take(40).collect();
        return Err(format!("unknown instruction {shown:?}"));
    }
    let mut pos = at + kw_len;
    pos = skip_ws(text, pos);
    let mut flags = Vec::new();
    if FLAGGED.contains(&keyword.as_str()) {
        loop {
            if !text[pos..].starts_with("--") {
                break;
            }
            let (w, end) = next_word(text, pos, escape);
            let Some(body) = w.text.strip_prefix("--") else {
                break;
            };
            if body.is_empty() {
                break;
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            flags.push(Flag {
                name,
                value,
                range: logical.range_to_file(pos..end),
            });
            pos = skip_ws(text, end);
        }
    }
    let args_start = pos;
    let kw_range = logical.range_to_file(at..at + kw_len);
    let mut inner = None;
    if keyword == "ONBUILD" {
        if args_start >= text.len() {
            return Err("ONBUILD needs an instruction".into());
        }
        inner = Some(Box::new(parse_instruction(
            logical, args_start, escape, line,
        )?));
    }
    let json_ok = matches!(
        keyword.as_str(),
        "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" | "COPY" | "ADD" | "VOLUME" | "HEALTHCHECK"
    );
    let mut form = Form::Shell;
    if json_ok && keyword != "HEALTHCHECK" {
        if let Some(ws) = parse_json_array(text, args_start, logical) {
            form = Form::Json(ws);
        }
    }
    let words = if keyword == "ONBUILD" {
        Vec::new()
    } else {
        split_words(logical, args_start, escape)
    };
    if matches!(keyword.as_str(), "SHELL") && !matches!(form, Form::Json(_)) {
        return Err("SHELL requires the JSON form, e.g. SHELL [\"/bin/bash\", \"-c\"]".into());
    }
    Ok(Instruction {
        keyword,
        keyword_range: kw_range.clone(),
        range: kw_range.start..logical.to_file(text.len()),
        line,
        logical: logical.clone(),
        lstart: at,
        flags,
        args_start,
        form,
        words,
        heredocs: Vec::new(),
        inner,
    })
}

fn skip_ws(s: &str, mut pos: usize) -> usize {
    let b = s.as_bytes();
    while pos < b.len() && (b[pos] == b' ' || b[pos] == b'\t') {
        pos += 1;
    }
    pos
}

/// One Dockerfile word from `pos`: quotes removed, escape char honoured. Returns the word and its end.
fn next_word(s: &str, pos: usize, escape: char) -> (Word, usize) {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut it = s[pos..].char_indices().peekable();
    let mut end = s.len();
    while let Some((i, c)) = it.next() {
        let abs = pos + i;
        match quote {
            Some(q) => {
                if c == escape && q == '"' {
                    if let Some(&(_, n)) = it.peek() {
                        if n == '"' || n == escape {
                            out.push(n);
                            it.next();
                            continue;
                        }
                    }
                    out.push(c);
                } else if c == q {
                    quote = None;
                } else {
                    out.push(c);
                }
            }
            None => {
                if c == ' ' || c == '\t' {
                    end = abs;
                    break;
                }
                if c == '"' || c == '\'' {
                    quote = Some(c);
                } else if c == escape {
                    if let Some((_, n)) = it.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
        }
    }
    (
        Word {
            text: out,
            range: 0..0,
            lrange: pos..end,
        },
        end,
    )
}

fn split_words(logical: &Logical, from: usize, escape: char) -> Vec<Word> {
    let s = &logical.text;
    let mut out = Vec::new();
    let mut pos = skip_ws(s, from);
    while pos < s.len() {
        let (mut w, end) = next_word(s, pos, escape);
        if end == pos {
            break;
        }
        w.range = logical.range_to_file(w.lrange.clone());
        out.push(w);
        pos = skip_ws(s, end);
    }
    out
}

/// `["a", "b"]` with JSON string escapes; `None` when it is not a valid JSON array of strings.
fn parse_json_array(s: &str, from: usize, logical: &Logical) -> Option<Vec<Word>> {
    let b = s.as_bytes();
    let mut i = skip_ws_all(s, from);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    i = skip_ws_all(s, i);
    if b.get(i) == Some(&b']') {
        return if skip_ws_all(s, i + 1) == s.len() {
            Some(out)
        } else {
            None
        };
    }
    loop {
        i = skip_ws_all(s, i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let start = i;
        i += 1;
        let mut text = String::new();
        loop {
            let c = s[i..].chars().next()?;
            match c {
                '"' => {
                    i += 1;
                    break;
                }
                '\\' => {
                    let n = s[i + 1..].chars().next()?;
                    i += 1 + n.len_utf8();
                    match n {
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        'r' => text.push('\r'),
                        'b' => text.push('\u{8}'),
                        'f' => text.push('\u{c}'),
                        '/' => text.push('/'),
                        '\\' => text.push('\\'),
                        '"' => text.push('"'),
                        'u' => {
                            let hex = s.get(i..i + 4)?;
                            let v = u32::from_str_radix(hex, 16).ok()?;
                            text.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                            i += 4;
                        }
                        _ => return None,
                    }
                }
                _ => {
                    text.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out.push(Word {
            text,
            range: logical.range_to_file(start..i),
            lrange: start..i,
        });
        i = skip_ws_all(s, i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b']') => {
                return if skip_ws_all(s, i + 1) == s.len() {
                    Some(out)
                } else {
                    None
                };
            }
            _ => return None,
        }
    }
}

fn skip_ws_all(s: &str, mut pos: usize) -> usize {
    let b = s.as_bytes();
    while pos < b.len() && b[pos].is_ascii_whitespace() {
        pos += 1;
    }
    pos
}

#[cfg(test)]
mod tests;
