//! Just enough POSIX shell to see the simple commands in a `RUN` line: words with spans, `&&` / `||` / `;` / `|`
//! separators, quotes, `$(...)` kept inside words, redirections dropped, control keywords skipped.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SWord {
    /// Unquoted text (variables not expanded).
    pub text: String,
    /// Byte range in the file.
    pub range: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sep {
    And,
    Or,
    Semi,
    Pipe,
    Background,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `NAME=value` words before the command name.
    pub assigns: Vec<SWord>,
    /// Command name first, then its arguments.
    pub words: Vec<SWord>,
    /// Separator after this command.
    pub sep: Sep,
    /// This command reads from a pipe (`a | b`: true for b).
    pub piped_in: bool,
    /// Inside a compound command (`if ... fi`, `for ... done`, `{ }`, `( )`).
    pub nested: bool,
}

impl Command {
    pub fn name(&self) -> &str {
        self.words.first().map(|w| w.text.as_str()).unwrap_or("")
    }
    /// The name without a path: `/usr/bin/pip3` -> `pip3`.
    pub fn base_name(&self) -> &str {
        let n = self.name();
        n.rsplit('/').next().unwrap_or(n)
    }
    pub fn args(&self) -> &[SWord] {
        if self.words.is_empty() {
            &[]
        } else {
            &self.words[1..]
        }
    }
    pub fn has_arg(&self, a: &str) -> bool {
        self.args().iter().any(|w| w.text == a)
    }
    /// Byte range from the first word to the last.
    pub fn range(&self) -> Range<usize> {
        let first = self.assigns.first().or(self.words.first());
        match (first, self.words.last().or(self.assigns.last())) {
            (Some(a), Some(b)) => a.range.start..b.range.end,
            _ => 0..0,
        }
    }
    /// Drop wrappers that run another command: `sudo`, `env`, `time`, `nohup`, `exec`, `command`. Most
    /// commands have none and are lent as they are (every rule asks this of every command).
    pub fn unwrapped(&self) -> std::borrow::Cow<'_, Command> {
        if !is_wrapper(self.base_name()) {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut c = self.clone();
        loop {
            let n = c.base_name().to_string();
            match n.as_str() {
                w if is_wrapper(w) => {
                    let mut rest: Vec<SWord> = c.words[1..].to_vec();
                    // Skip wrapper options and `env`'s assignments.
                    while let Some(w) = rest.first() {
                        if w.text.starts_with('-') || (n == "env" && is_assignment(&w.text)) {
                            if n == "env" && is_assignment(&w.text) {
                                c.assigns.push(w.clone());
                            }
                            rest.remove(0);
                        } else {
                            break;
                        }
                    }
                    if rest.is_empty() {
                        return std::borrow::Cow::Owned(c);
                    }
                    c.words = rest;
                }
                _ => return std::borrow::Cow::Owned(c),
            }
        }
    }
}

fn is_wrapper(name: &str) -> bool {
    matches!(
        name,
        "sudo" | "env" | "time" | "nohup" | "exec" | "command" | "nice" | "stdbuf"
    )
}

pub fn is_assignment(s: &str) -> bool {
    match s.split_once('=') {
        Some((n, _)) => {
            !n.is_empty()
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !n.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

#[derive(Debug, Clone, Default)]
pub struct Script {
    pub commands: Vec<Command>,
    /// Compound commands (`if`, `for`, `while`, `{ }`, `( )`) at the top level.
    pub compounds: usize,
}

impl Script {
    /// True when some command pipes into another.
    pub fn has_pipe(&self) -> bool {
        self.commands.iter().any(|c| c.sep == Sep::Pipe)
            || self
                .commands
                .iter()
                .flat_map(|c| c.words.iter().chain(c.assigns.iter()))
                .any(|w| subst_has_pipe(&w.text))
    }
    /// Top-level statements: simple commands outside compounds, plus each compound as one.
    pub fn statements(&self) -> usize {
        self.commands.iter().filter(|c| !c.nested).count() + self.compounds
    }
    /// Simple commands that run a program, the way ShellCheck counts them: `[ ... ]` / `[[ ... ]]` tests and
    /// bare assignments are not commands.
    pub fn program_count(&self) -> usize {
        self.commands
            .iter()
            .filter(|c| !c.words.is_empty() && !matches!(c.name(), "[" | "[["))
            .count()
    }
    /// Commands whose (unwrapped when `unwrap`) base name is one of `names`.
    pub fn find<'a>(&'a self, names: &'a [&'a str]) -> impl Iterator<Item = &'a Command> + 'a {
        self.commands
            .iter()
            .filter(move |c| names.contains(&c.base_name()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(SWord),
    Op(Sep),
    /// Redirection operator: the next word is its target.
    Redir,
    /// Newlines act as command boundaries.
    Boundary,
    /// `(` and `)` open and close a subshell.
    Open,
    Close,
    /// `;;` ends a `case` branch.
    CaseEnd,
}

/// Parse `s`; `map` turns a byte range of `s` into a file range.
pub fn parse(s: &str, map: &dyn Fn(Range<usize>) -> Range<usize>) -> Script {
    let toks = tokenize(s, map);
    let mut script = Script::default();
    let mut cur = Command {
        assigns: vec![],
        words: vec![],
        sep: Sep::End,
        piped_in: false,
        nested: false,
    };
    let mut piped = false;
    let mut skip_next_word = false;
    let mut in_for = false;
    let mut depth: usize = 0;
    // `case WORD in PATTERN) cmds ;; ... esac`: 1 = waiting for `in`, 2 = reading a pattern.
    let mut case_state = 0u8;
    let flush = |cur: &mut Command, sep: Sep, script: &mut Script, piped: &mut bool| {
        if !cur.words.is_empty() || !cur.assigns.is_empty() {
            cur.sep = sep;
            cur.piped_in = *piped;
            script.commands.push(std::mem::replace(
                cur,
                Command {
                    assigns: vec![],
                    words: vec![],
                    sep: Sep::End,
                    piped_in: false,
                    nested: false,
                },
            ));
        }
        *piped = sep == Sep::Pipe;
    };
    for t in toks {
        match t {
            Tok::Redir => skip_next_word = true,
            Tok::Word(w) => {
                if skip_next_word {
                    skip_next_word = false;
                    continue;
                }
                if case_state == 1 {
                    if w.text == "in" {
                        case_state = 2;
                    }
                    continue;
                }
                if case_state == 2 {
                    if w.text == "esac" {
                        case_state = 0;
                        depth = depth.saturating_sub(1);
                    }
                    continue;
                }
                if cur.words.is_empty() {
                    cur.nested = depth > 0;
                    if w.text == "esac" {
                        depth = depth.saturating_sub(1);
                        continue;
                    }
                    if w.text == "case" {
                        script.compounds += usize::from(depth == 0);
                        depth += 1;
                        case_state = 1;
                        continue;
                    }
                    if in_for {
                        if w.text == "do" {
                            in_for = false;
                        }
                        continue;
                    }
                    if is_assignment(&w.text) {
                        cur.assigns.push(w);
                        continue;
                    }
                    match w.text.as_str() {
                        "then" | "else" | "elif" | "do" | "!" => continue,
                        "if" | "while" | "until" | "{" => {
                            script.compounds += usize::from(depth == 0);
                            depth += 1;
                            continue;
                        }
                        "}" | "fi" | "done" | "esac" => {
                            depth = depth.saturating_sub(1);
                            continue;
                        }
                        "for" | "select" => {
                            script.compounds += usize::from(depth == 0);
                            depth += 1;
                            in_for = true;
                            continue;
                        }
                        _ => {}
                    }
                }
                cur.words.push(w);
            }
            Tok::Op(sep) => {
                skip_next_word = false;
                flush(&mut cur, sep, &mut script, &mut piped);
                if sep != Sep::Pipe {
                    piped = false;
                }
            }
            Tok::Boundary => {
                skip_next_word = false;
                flush(&mut cur, Sep::Semi, &mut script, &mut piped);
            }
            Tok::Open => {
                skip_next_word = false;
                flush(&mut cur, Sep::Semi, &mut script, &mut piped);
                script.compounds += usize::from(depth == 0);
                depth += 1;
            }
            Tok::Close => {
                skip_next_word = false;
                flush(&mut cur, Sep::Semi, &mut script, &mut piped);
                if case_state == 2 {
                    // End of a case pattern: the branch body follows.
                    case_state = 0;
                } else {
                    depth = depth.saturating_sub(1);
                }
            }
            Tok::CaseEnd => {
                skip_next_word = false;
                flush(&mut cur, Sep::Semi, &mut script, &mut piped);
                case_state = 2;
            }
        }
    }
    flush(&mut cur, Sep::End, &mut script, &mut piped);
    script
}

fn tokenize(s: &str, map: &dyn Fn(Range<usize>) -> Range<usize>) -> Vec<Tok> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    // Inside `[[ ... ]]`, `|`, `(`, `)`, `<`, `>` belong to the test (regexes, comparisons).
    let mut in_test = false;
    while i < b.len() {
        let c = b[i];
        if in_test && !matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            let (w, end) = word(s, i, true);
            if w.text == "]]" {
                in_test = false;
            }
            toks.push(Tok::Word(SWord {
                text: w.text,
                range: map(i..end.max(i + 1)),
            }));
            i = end.max(i + 1);
            continue;
        }
        match c {
            b' ' | b'\t' | b'\r' => i += 1,
            // A line continuation inside a heredoc script or `-c` string is just whitespace.
            b'\\' if b.get(i + 1) == Some(&b'\n') => i += 2,
            b'\\' if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') => i += 3,
            b'\n' => {
                toks.push(Tok::Boundary);
                i += 1;
            }
            b'#' => {
                // Comment to end of line.
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'&' if b.get(i + 1) == Some(&b'&') => {
                toks.push(Tok::Op(Sep::And));
                i += 2;
            }
            b'&' if b.get(i + 1) == Some(&b'>') => {
                toks.push(Tok::Redir);
                i += 2;
                if b.get(i) == Some(&b'>') {
                    i += 1;
                }
            }
            b'&' => {
                toks.push(Tok::Op(Sep::Background));
                i += 1;
            }
            b'|' if b.get(i + 1) == Some(&b'|') => {
                toks.push(Tok::Op(Sep::Or));
                i += 2;
            }
            b'|' => {
                toks.push(Tok::Op(Sep::Pipe));
                i += if b.get(i + 1) == Some(&b'&') { 2 } else { 1 };
            }
            b';' if b.get(i + 1) == Some(&b';') => {
                toks.push(Tok::CaseEnd);
                i += 2;
            }
            b';' => {
                toks.push(Tok::Op(Sep::Semi));
                i += 1;
            }
            b'(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            b')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            b'>' | b'<' => {
                // `>`, `>>`, `>&2`, `<`, `<<EOF`, `<<-EOF`, `<<<word`
                let mut j = i + 1;
                while j < b.len() && (b[j] == b'>' || b[j] == b'<' || b[j] == b'|') {
                    j += 1;
                }
                if b.get(j) == Some(&b'&') {
                    j += 1;
                    while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'-') {
                        j += 1;
                    }
                    i = j;
                    continue;
                }
                if b.get(j) == Some(&b'-') && &s[i..j] == "<<" {
                    j += 1;
                }
                toks.push(Tok::Redir);
                i = j;
            }
            _ => {
                let (w, end) = word(s, i, false);
                if w.text == "[[" {
                    in_test = true;
                }
                // `2>file`, `1>&2`: a number glued to a redirection is a file descriptor, not a word.
                if end < b.len()
                    && (b[end] == b'>' || b[end] == b'<')
                    && w.text.chars().all(|c| c.is_ascii_digit())
                    && !w.text.is_empty()
                {
                    i = end;
                    continue;
                }
                if end == i {
                    // Never loop forever on something unexpected.
                    i += 1;
                    continue;
                }
                toks.push(Tok::Word(SWord {
                    text: w.text,
                    range: map(i..end),
                }));
                i = end;
            }
        }
    }
    toks
}

struct RawWord {
    text: String,
}

/// Read one shell word from `i`; quotes removed; `$(...)`, `${...}` and backticks kept verbatim.
fn word(s: &str, start: usize, in_test: bool) -> (RawWord, usize) {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => break,
            b';' | b'&' | b'|' | b'>' | b'<' | b')' | b'(' if !in_test => break,
            b'\'' => {
                let end = s[i + 1..].find('\'').map(|p| i + 1 + p).unwrap_or(b.len());
                out.push_str(&s[i + 1..end]);
                i = (end + 1).min(b.len());
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\'
                        && i + 1 < b.len()
                        && matches!(b[i + 1], b'"' | b'\\' | b'$' | b'`')
                    {
                        out.push(b[i + 1] as char);
                        i += 2;
                        continue;
                    }
                    if b[i] == b'$' && b.get(i + 1) == Some(&b'(') {
                        let end = matching(s, i + 1, b'(', b')');
                        out.push_str(&s[i..end]);
                        i = end;
                        continue;
                    }
                    let ch = s[i..].chars().next().unwrap_or(' ');
                    out.push(ch);
                    i += ch.len_utf8();
                }
                i = (i + 1).min(b.len());
            }
            b'\\' => {
                if let Some(ch) = s[i + 1..].chars().next() {
                    if ch != '\n' {
                        out.push(ch);
                    }
                    i += 1 + ch.len_utf8();
                } else {
                    i += 1;
                }
            }
            b'$' if b.get(i + 1) == Some(&b'(') => {
                let end = matching(s, i + 1, b'(', b')');
                out.push_str(&s[i..end]);
                i = end;
            }
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let end = matching(s, i + 1, b'{', b'}');
                out.push_str(&s[i..end]);
                i = end;
            }
            b'`' => {
                let end = s[i + 1..].find('`').map(|p| i + 2 + p).unwrap_or(b.len());
                out.push_str(&s[i..end]);
                i = end;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    (RawWord { text: out }, i)
}

/// Index just past the bracket matching the one at `open_at` (or the end of `s`).
fn matching(s: &str, open_at: usize, open: u8, close: u8) -> usize {
    let b = s.as_bytes();
    let mut depth = 0;
    let mut i = open_at;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == b'\'' || c == b'"' {
            quote = Some(c);
        } else if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Script {
        parse(s, &|r| r)
    }

    #[test]
    fn splits_on_operators() {
        let sc = p("apt-get update && apt-get install -y curl || true; echo hi | wc -l");
        let names: Vec<_> = sc.commands.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["apt-get", "apt-get", "true", "echo", "wc"]);
        assert!(sc.has_pipe());
        assert!(sc.commands[4].piped_in);
    }

    #[test]
    fn quotes_assignments_redirections() {
        let sc =
            p("DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b' \"c\" > /dev/null 2>&1");
        let c = &sc.commands[0];
        assert_eq!(c.assigns[0].text, "DEBIAN_FRONTEND=noninteractive");
        let words: Vec<_> = c.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words, ["apt-get", "install", "-y", "a b", "c"]);
        // Spans cover the raw text.
        assert_eq!(
            &"DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b'"[c.words[3].range.clone()],
            "'a b'"
        );
    }

    #[test]
    fn control_keywords_and_subshells() {
        let sc =
            p("if [ -f x ]; then cd /opt && make; fi; for f in a b; do rm $f; done; (cd y && ls)");
        let names: Vec<_> = sc.commands.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["[", "cd", "make", "rm", "cd", "ls"]);
    }

    #[test]
    fn unwrap_sudo_env() {
        let sc = p("sudo -E env A=1 pip install x");
        let c = sc.commands[0].unwrapped();
        assert_eq!(c.name(), "pip");
        assert_eq!(c.assigns[0].text, "A=1");
    }

    #[test]
    fn command_substitution_stays_in_word() {
        let sc = p("pip install \"torch==$(cat v.txt)\" && echo `date`");
        assert_eq!(sc.commands[0].words[2].text, "torch==$(cat v.txt)");
        assert_eq!(sc.commands.len(), 2);
    }
}

/// `$(a | b)` or `` `a | b` `` inside a word: a pipe in a command substitution.
fn subst_has_pipe(w: &str) -> bool {
    let Some(start) = w.find("$(").or_else(|| w.find('`')) else {
        return false;
    };
    let inner = &w[start..];
    let b = inner.as_bytes();
    (0..b.len())
        .any(|i| b[i] == b'|' && b.get(i + 1) != Some(&b'|') && (i == 0 || b[i - 1] != b'|'))
}

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn double_bracket_tests_are_not_pipes() {
        let sc = parse(
            "if [[ \"$V\" =~ ^(2\\.1|2\\.2)$ ]]; then echo old; fi",
            &|r| r,
        );
        assert!(!sc.has_pipe());
        assert_eq!(sc.statements(), 1);
    }

    #[test]
    fn pipes_in_command_substitution_count() {
        let sc = parse(
            "ldconfig /usr/local/cuda-$(echo $CUDA_VERSION | cut -d. -f1,2)/compat/",
            &|r| r,
        );
        assert!(sc.has_pipe());
        assert!(!parse("echo \"$(a || b)\"", &|r| r).has_pipe());
    }

    #[test]
    fn statements_count_compounds_once() {
        assert_eq!(
            parse("if [ -n \"$X\" ]; then bash ./install.sh; fi", &|r| r).statements(),
            1
        );
        assert_eq!(parse("a && b", &|r| r).statements(), 2);
        assert_eq!(parse("(cd x && make)", &|r| r).statements(), 1);
    }
}

#[cfg(test)]
mod case_tests {
    use super::*;

    #[test]
    fn continuation_in_heredoc_body() {
        let sc = parse(
            "if true; then\n  apt-get update && \\\n  apt-get install -y x\nfi\n",
            &|r| r,
        );
        let names: Vec<_> = sc.commands.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["true", "apt-get", "apt-get"]);
    }

    #[test]
    fn case_branches_are_commands() {
        let sc = parse(
            "case ${P} in \"linux/arm64\") pip install torch ;; *) conda install -y pytorch ;; esac && conda clean -ya",
            &|r| r,
        );
        let names: Vec<_> = sc.commands.iter().map(|c| c.name().to_string()).collect();
        assert_eq!(names, ["pip", "conda", "conda"]);
    }
}
