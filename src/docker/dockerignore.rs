//! `.dockerignore` with Docker's own semantics, not gitignore's.
//!
//! This mirrors moby's `ignorefile.ReadAll` (reading), `patternmatcher` (matching) and the walk in
//! `pkg/archive.TarWithOptions` (what the docker CLI sends for the legacy builder):
//! - patterns are cleaned like Go's `filepath.Clean`, a leading `/` is dropped, and they are anchored at
//!   the context root (`*.log` does not match `sub/x.log`);
//! - Go `filepath.Match` syntax (`*`, `?`, `[...]`, `\` escapes) plus `**` (any number of directories);
//! - a pattern matches a path when it matches the path itself or one of its parent directories;
//! - the last matching pattern wins, `!` re-includes;
//! - `#` starts a comment only in the first column; surrounding whitespace is trimmed.
//!
//! Docker compiles patterns to regular expressions and so do we, so that odd patterns behave the same
//! (including Docker's quirks, e.g. `^` outside brackets is passed through to the regex unescaped).

use std::io;
use std::path::Path;

use regex::Regex;

#[derive(Debug, Clone)]
pub struct Pattern {
    /// The cleaned pattern without the `!`, as Docker stores it.
    text: String,
    exclusion: bool,
    regex: Regex,
}

impl Pattern {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_exclusion(&self) -> bool {
        self.exclusion
    }

    /// Match against one slash-separated path relative to the context root, without parent logic.
    pub fn matches_exact(&self, rel: &str) -> bool {
        self.regex.is_match(rel)
    }
}

/// The parsed patterns of one `.dockerignore`, in file order.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

/// Per-pattern "matched" flags of a directory, handed to its children so a pattern that matched the
/// directory need not be re-evaluated below it (moby's `MatchInfo`). Empty = no parent information.
#[derive(Debug, Clone, Default)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

impl DockerIgnore {
    /// Parse the text of a `.dockerignore` file (moby `ignorefile.ReadAll` + `patternmatcher.New`).
    pub fn parse(text: &str) -> io::Result<Self> {
        let mut patterns = Vec::new();
        for (lineno, raw) in text.lines().enumerate() {
            let mut line = raw;
            if lineno == 0 {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
            }
            // Docker checks for a comment before trimming: " # x" is a pattern.
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (exclusion, rest) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if exclusion && rest.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        ".dockerignore line {}: illegal exclusion pattern: \"!\"",
                        lineno + 1
                    ),
                ));
            }
            let mut cleaned = go_clean(rest);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            patterns.push(Pattern::compile(cleaned, exclusion).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(".dockerignore line {}: {e}", lineno + 1),
                )
            })?);
        }
        Ok(Self { patterns })
    }

    /// Read `<root>/.dockerignore`; a missing file means "send everything".
    pub fn load(root: &Path) -> io::Result<Self> {
        match crate::analyze::project_files::read_text(root, Path::new(".dockerignore")) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// Append a pattern as the last one (it wins over every earlier one).
    pub fn push(&mut self, pattern: &str) -> io::Result<()> {
        let mut extra = Self::parse(pattern)?;
        self.patterns.append(&mut extra.patterns);
        Ok(())
    }

    /// Whether `rel` (slash-separated, relative to the context root) is excluded, looking at the path and
    /// all its parent directories for every pattern (moby `MatchesOrParentMatches`).
    pub fn is_excluded(&self, rel: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            // Only a pattern that can change the outcome needs evaluating.
            if p.exclusion != matched {
                continue;
            }
            let mut hit = p.matches_exact(rel);
            if !hit {
                hit = parent_dirs(rel).any(|dir| p.matches_exact(dir));
            }
            if hit {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// The last pattern that excludes `rel` (itself or a parent directory), when `rel` is excluded: what a
    /// message names.
    pub fn excluding_pattern(&self, rel: &str) -> Option<&str> {
        if !self.is_excluded(rel) {
            return None;
        }
        self.patterns
            .iter()
            .rev()
            .find(|p| {
                !p.exclusion
                    && (p.matches_exact(rel) || parent_dirs(rel).any(|dir| p.matches_exact(dir)))
            })
            .map(|p| p.text.as_str())
    }

    /// The incremental form used while walking the tree (moby `MatchesUsingParentResults`): `parent` is
    /// the info returned for the containing directory, or the default for entries at the root.
    /// Reproduces Docker's walk exactly, including that patterns skipped for the parent are then only
    /// checked against the child's full path.
    pub fn matches_using_parent(&self, rel: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let has_parent = !parent.parent_matched.is_empty();
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let mut matched = false;
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = has_parent && parent.parent_matched.get(i).copied().unwrap_or(false);
            if !hit {
                if p.exclusion != matched {
                    continue;
                }
                hit = p.matches_exact(rel);
                if !hit && !has_parent {
                    hit = parent_dirs(rel).any(|dir| p.matches_exact(dir));
                }
            }
            info.parent_matched[i] = hit;
            if hit {
                matched = !p.exclusion;
            }
        }
        (matched, info)
    }

    /// Whether a `!` pattern has a wildcard (`!**/*.py`): BuildKit then walks into every excluded directory.
    pub fn has_wildcard_reinclude(&self) -> bool {
        self.patterns
            .iter()
            .any(|p| p.exclusion && p.text.contains(['*', '?', '[']))
    }

    /// For an excluded directory: whether Docker still walks into it because some `!` pattern starts
    /// with `dir/` (the directory entry itself is still not sent).
    pub fn must_descend(&self, dir_rel: &str) -> bool {
        let prefix = format!("{dir_rel}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&prefix))
    }
}

/// Ancestors of a relative path, shortest first: "a/b/c" -> "a", "a/b".
fn parent_dirs(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(move |(i, _)| &rel[..i])
}

impl Pattern {
    fn compile(text: String, exclusion: bool) -> Result<Self, String> {
        validate_go_match_syntax(&text)?;
        let re = to_regex(&text);
        let regex =
            Regex::new(&re).map_err(|e| format!("syntax error in pattern {text:?}: {e}"))?;
        Ok(Self {
            text,
            exclusion,
            regex,
        })
    }
}

/// Docker's `Pattern.compile`: `**/` and a trailing `**` span directories, `*` and `?` stay inside one
/// path element, `\` escapes the next character, brackets pass through.
fn to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '*' => {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    if chars.peek() == Some(&'/') {
                        chars.next();
                    }
                    if chars.peek().is_none() {
                        out.push_str(".*");
                    } else {
                        out.push_str("(.*/)?");
                    }
                } else {
                    out.push_str("[^/]*");
                }
            }
            '?' => out.push_str("[^/]"),
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            '\\' => match chars.next() {
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push_str("\\\\"),
            },
            _ => out.push(ch),
        }
    }
    out.push('$');
    out
}

/// Docker rejects a pattern for which Go's `filepath.Match(pattern, ".")` reports ErrBadPattern:
/// unterminated or empty character classes, bad ranges, a trailing backslash inside a class.
fn validate_go_match_syntax(pattern: &str) -> Result<(), String> {
    let bad = || Err(format!("syntax error in pattern {pattern:?}"));
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return bad();
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut n = 0;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return bad();
                    };
                    if c == ']' && n > 0 {
                        i += 1;
                        break;
                    }
                    let lo = match c {
                        '\\' => {
                            i += 1;
                            match chars.get(i) {
                                Some(&e) => e,
                                None => return bad(),
                            }
                        }
                        '-' | ']' => return bad(),
                        _ => c,
                    };
                    i += 1;
                    if chars.get(i) == Some(&'-') {
                        i += 1;
                        let hi = match chars.get(i) {
                            Some(&'\\') => {
                                i += 1;
                                match chars.get(i) {
                                    Some(&e) => e,
                                    None => return bad(),
                                }
                            }
                            Some(&']') | Some(&'-') | None => return bad(),
                            Some(&h) => h,
                        };
                        if hi < lo {
                            return bad();
                        }
                        i += 1;
                    }
                    n += 1;
                }
            }
            // A stray ']' is a literal for Go's Match and for the regex.
            _ => i += 1,
        }
    }
    Ok(())
}

/// Go's `filepath.Clean` for slash-separated paths.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).expect("valid .dockerignore")
    }

    /// What the walk decides for a path, computing parent info from the root down like the walker does.
    fn walk_excluded(ig: &DockerIgnore, rel: &str) -> bool {
        let mut info = MatchInfo::default();
        let mut result = false;
        let parts: Vec<&str> = rel.split('/').collect();
        for n in 1..=parts.len() {
            let sub = parts[..n].join("/");
            let (m, next) = ig.matches_using_parent(&sub, &info);
            result = m;
            info = next;
        }
        result
    }

    #[test]
    fn go_clean_matches_go() {
        assert_eq!(go_clean("./foo"), "foo");
        assert_eq!(go_clean("/foo/"), "/foo");
        assert_eq!(go_clean("a//b/./c/.."), "a/b");
        assert_eq!(go_clean("../x"), "../x");
        assert_eq!(go_clean("/../x"), "/x");
        assert_eq!(go_clean("."), ".");
        assert_eq!(go_clean("a/.."), ".");
    }

    #[test]
    fn anchored_at_root_unlike_gitignore() {
        let i = ig("*.log\n");
        assert!(i.is_excluded("x.log"));
        assert!(!i.is_excluded("sub/x.log"));
        let i = ig("**/*.log\n");
        assert!(i.is_excluded("x.log"));
        assert!(i.is_excluded("sub/deeper/x.log"));
    }

    #[test]
    fn star_and_question_stay_in_one_element() {
        let i = ig("data/*\nnotes?.txt\n");
        assert!(i.is_excluded("data/a.bin"));
        assert!(
            i.is_excluded("data/sub/b.bin"),
            "parent data/sub matches data/*"
        );
        assert!(!i.is_excluded("data"));
        assert!(i.is_excluded("notes1.txt"));
        assert!(!i.is_excluded("notes12.txt"));
        assert!(!i.is_excluded("notes/.txt"));
    }

    #[test]
    fn leading_slash_and_dot_slash_are_cleaned() {
        let i = ig("/build\n./dist/\n  target  \n");
        assert!(i.is_excluded("build"));
        assert!(i.is_excluded("build/out.o"));
        assert!(i.is_excluded("dist/app.js"));
        assert!(i.is_excluded("target/debug/x"));
        assert!(!i.is_excluded("src/build"));
        assert_eq!(i.patterns()[1].as_str(), "dist");
    }

    #[test]
    fn directory_match_excludes_contents() {
        let i = ig("node_modules\n");
        assert!(i.is_excluded("node_modules"));
        assert!(i.is_excluded("node_modules/left-pad/index.js"));
        assert!(!i.is_excluded("web/node_modules/x.js"));
        assert!(!i.is_excluded("node_modules_backup"));
    }

    #[test]
    fn last_match_wins_and_bang_reincludes() {
        let i = ig("*.md\n!README.md\n");
        assert!(i.is_excluded("CHANGELOG.md"));
        assert!(!i.is_excluded("README.md"));
        let i = ig("!README.md\n*.md\n");
        assert!(
            i.is_excluded("README.md"),
            "a later exclude wins over an earlier re-include"
        );
    }

    #[test]
    fn reinclude_below_excluded_dir() {
        let i = ig("models\n!models/config.json\n");
        assert!(i.is_excluded("models/weights.bin"));
        assert!(!i.is_excluded("models/config.json"));
        assert!(i.must_descend("models"));
        assert!(!i.must_descend("data"));
        assert!(walk_excluded(&i, "models/weights.bin"));
        assert!(!walk_excluded(&i, "models/config.json"));
    }

    #[test]
    fn must_descend_only_for_prefix_exclusions() {
        let i = ig("cache\n!cache-keep\n!**/keep.txt\n");
        // "!cache-keep" is not under "cache/", and "**/keep.txt" does not start with "cache/": Docker
        // skips the directory, so cache/keep.txt is not sent even though the pattern would match it.
        assert!(!i.must_descend("cache"));
        assert!(!i.is_excluded("cache/keep.txt"));
    }

    #[test]
    fn double_star_forms() {
        let i = ig("**\n!src/**\n");
        assert!(i.is_excluded("anything"));
        assert!(
            i.is_excluded("src"),
            "src/** means src/ + anything, which does not match src itself"
        );
        assert!(!i.is_excluded("src/main.rs"));
        let i = ig("a/**/b\n");
        assert!(i.is_excluded("a/b"));
        assert!(i.is_excluded("a/x/y/b"));
        assert!(!i.is_excluded("a/xb"));
        let i = ig("**/__pycache__\n**/*.py[co]\n");
        assert!(i.is_excluded("__pycache__/m.cpython-311.pyc"));
        assert!(i.is_excluded("pkg/sub/__pycache__/m.pyc"));
        assert!(i.is_excluded("pkg/m.pyo"));
        assert!(!i.is_excluded("pkg/m.py"));
        let i = ig("a**b\n");
        assert!(i.is_excluded("ab"));
        assert!(
            i.is_excluded("a/x/b"),
            "a**b is a(.*/)?b, so it spans directories"
        );
        assert!(!i.is_excluded("axb"));
    }

    #[test]
    fn comments_blank_lines_bom_and_whitespace() {
        let i = ig("\u{feff}# comment\n\n   \n#*.txt\n *.tmp \n # not a comment\n");
        assert_eq!(i.patterns().len(), 2);
        assert!(i.is_excluded("x.tmp"));
        assert!(!i.is_excluded("x.txt"));
        assert_eq!(i.patterns()[1].as_str(), "# not a comment");
    }

    #[test]
    fn crlf_lines() {
        let i = ig("*.log\r\n!keep.log\r\n");
        assert!(i.is_excluded("a.log"));
        assert!(!i.is_excluded("keep.log"));
    }

    #[test]
    fn character_classes_and_escapes() {
        let i = ig("[abc].txt\n[^x]y\nlit\\*star\n[0-9][0-9].csv\n");
        assert!(i.is_excluded("a.txt"));
        assert!(!i.is_excluded("d.txt"));
        assert!(i.is_excluded("zy"));
        assert!(!i.is_excluded("xy"));
        assert!(i.is_excluded("lit*star"));
        assert!(!i.is_excluded("litXstar"));
        assert!(i.is_excluded("42.csv"));
        assert!(!i.is_excluded("4a.csv"));
    }

    #[test]
    fn regex_metacharacters_are_literal() {
        let i = ig("a+b(1).{x}|$\n");
        assert!(i.is_excluded("a+b(1).{x}|$"));
        assert!(!i.is_excluded("aab(1)x{x}|$"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in ["[abc", "a[]b", "[z-a]", "!", "x\\"] {
            assert!(
                DockerIgnore::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let err = DockerIgnore::parse("ok\n[oops\n").expect_err("line 2 is bad");
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn stray_closing_bracket_is_literal() {
        let i = ig("x]\n");
        assert!(i.is_excluded("x]"));
    }

    #[test]
    fn dotdot_patterns_never_match_inside() {
        let i = ig("../secret\n");
        assert!(!i.is_excluded("secret"));
    }

    #[test]
    fn typical_python_ml_project() {
        let i = ig(concat!(
            "# data and weights stay on the host\n",
            ".git\n",
            ".venv\n",
            "**/__pycache__\n",
            "*.ckpt\n",
            "data/\n",
            "!data/labels.csv\n",
            "wandb/**\n",
            "Dockerfile*\n",
            ".dockerignore\n",
        ));
        for sent in [
            "src/train.py",
            "requirements.txt",
            "data/labels.csv",
            "sub/model.ckpt",
            "wandb",
        ] {
            assert!(!walk_excluded(&i, sent), "{sent} should be sent");
        }
        for dropped in [
            ".git/HEAD",
            ".venv/bin/python",
            "src/__pycache__/x.pyc",
            "best.ckpt",
            "data/train/000.png",
            "wandb/run-1/files",
            "Dockerfile.dev",
        ] {
            assert!(walk_excluded(&i, dropped), "{dropped} should be excluded");
        }
    }

    #[test]
    fn walk_quirk_pattern_skipped_for_parent() {
        // Docker's incremental matcher does not re-check parents for a pattern it skipped on the parent
        // directory: with "a", "!a/b", "a" the walk sends a/b while the whole-path check excludes it.
        let i = ig("a\n!a/b\na\n");
        assert!(i.is_excluded("a/b"));
        assert!(!walk_excluded(&i, "a/b"));
        assert!(walk_excluded(&i, "a/c"));
    }

    #[test]
    fn walk_agrees_with_whole_path_on_ordinary_files() {
        let i = ig("docs\n!docs/api/**\n*.bak\nlogs/*.log\n!logs/keep.log\n");
        for p in [
            "docs/index.md",
            "docs/api/v1.md",
            "docs/api",
            "x.bak",
            "sub/x.bak",
            "logs/a.log",
            "logs/keep.log",
            "logs/sub/a.log",
        ] {
            assert_eq!(walk_excluded(&i, p), i.is_excluded(p), "{p}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn segment() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["a", "b", "ab", "x.log", "data", "keep.txt", ".git"])
                .prop_map(String::from)
        }

        fn path() -> impl Strategy<Value = String> {
            prop::collection::vec(segment(), 1..5).prop_map(|v| v.join("/"))
        }

        fn pattern() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "a", "b", "a/b", "*", "*.log", "**/*.log", "**", "a/**", "**/a", "data/*", "?",
                "[ab]", "[!x]b", "a**b", ".git", "/a/", "./b", "a/../b", "keep.txt",
            ])
            .prop_map(String::from)
        }

        proptest! {
            /// Without `!` patterns Docker's incremental walk and the whole-path check agree, and an
            /// excluded directory excludes everything below it.
            #[test]
            fn walk_equals_whole_path_without_exclusions(
                pats in prop::collection::vec(pattern(), 0..6),
                p in path(),
                child in segment(),
            ) {
                let i = ig(&pats.join("\n"));
                prop_assert_eq!(walk_excluded(&i, &p), i.is_excluded(&p));
                if i.is_excluded(&p) {
                    let below = format!("{}/{}", p, child);
                    prop_assert!(i.is_excluded(&below));
                }
            }

            /// The last pattern that matches decides.
            #[test]
            fn appending_a_pattern_for_the_path_decides(
                pats in prop::collection::vec(pattern(), 0..6),
                p in path(),
            ) {
                let mut i = ig(&pats.join("\n"));
                i.push(&p).expect("literal path is a valid pattern");
                prop_assert!(i.is_excluded(&p));
                i.push(&format!("!{p}")).expect("valid");
                prop_assert!(!i.is_excluded(&p));
            }

            /// Arbitrary .dockerignore text and paths: errors at most, never a panic.
            #[test]
            fn arbitrary_input_never_panics(text in ".{0,200}", p in "[a-z/.*?\\[\\]!]{0,30}") {
                if let Ok(i) = DockerIgnore::parse(&text) {
                    let _ = i.is_excluded(&p);
                    let _ = walk_excluded(&i, &p);
                    let _ = i.must_descend(&p);
                }
            }
        }
    }

    #[test]
    fn push_appends_a_winning_pattern() {
        let mut i = ig("Dockerfile\n");
        assert!(i.is_excluded("Dockerfile"));
        i.push("!Dockerfile").expect("valid");
        assert!(!i.is_excluded("Dockerfile"));
    }
}
