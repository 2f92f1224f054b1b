//! Dockerfile variable substitution: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`, `${VAR:?msg}`. Unknown forms are kept as written and reported as unresolved.

/// Variables in scope: `Some(value)` when set, `None` when declared without a value (`ARG X`).
///
/// A persistent map: every instruction keeps the scope it runs in, and a clone shares structure with the
/// scope it came from (O(1)), so a file of n `ENV` lines costs O(n log n), not n copies of a growing map.
#[derive(Debug, Clone, Default)]
pub struct Vars(rpds::HashTrieMapSync<String, Option<String>>);

impl Vars {
    pub fn new() -> Vars {
        Vars(rpds::HashTrieMap::new_sync())
    }
    pub fn get(&self, name: &str) -> Option<&Option<String>> {
        self.0.get(name)
    }
    pub fn contains_key(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    pub fn insert(&mut self, name: String, value: Option<String>) {
        self.0.insert_mut(name, value);
    }
    pub fn len(&self) -> usize {
        self.0.size()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Option<String>)> {
        self.0.iter()
    }
}

impl FromIterator<(String, Option<String>)> for Vars {
    fn from_iter<I: IntoIterator<Item = (String, Option<String>)>>(it: I) -> Vars {
        let mut v = Vars::new();
        for (k, val) in it {
            v.insert(k, val);
        }
        v
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Names that were referenced but unset (and had no default).
    pub unresolved: Vec<String>,
}

/// Expand variables in `s` with `vars`; `escape` protects a `$` (`\$HOME` stays `$HOME`).
pub fn expand(s: &str, vars: &Vars, escape: char) -> Expanded {
    let mut out = Expanded::default();
    expand_into(s, vars, escape, &mut out, 0);
    out
}

fn lookup<'a>(vars: &'a Vars, name: &str) -> Option<&'a str> {
    vars.get(name).and_then(|v| v.as_deref())
}

fn expand_into(s: &str, vars: &Vars, escape: char, out: &mut Expanded, depth: usize) {
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
    vars: &Vars,
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
