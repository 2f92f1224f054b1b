//! Values of build args whose names look secret (HF_TOKEN, DB_PASSWORD, AUTHTOKEN, ...) and the credentials
//! inside any build-arg value that holds a URL (`https://user:PASSWORD@host`, `?token=...`) never reach a log
//! line, the build record, the cache-break record or JSON output: every line is masked before it is written
//! or sent.

use crate::analyze::rules::secrets::{is_switch_value, looks_secret};
use std::collections::BTreeMap;

/// Shorter values would mask ordinary text ("1", "on") all over the log; they are not secrets worth it. A
/// short URL password is still masked where it sits in its URL (`user:***@`).
const MIN_LEN: usize = 4;

/// Query parameters of a URL whose values are credentials (`?token=`, `api_key=`, `X-Amz-Signature=`).
const SECRET_QUERY_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "sig",
    "credential",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Masker {
    /// (text, what it is shown as), longest text first, so a value containing another is masked whole and a
    /// URL's `://user:PASSWORD@` becomes `://user:***@` before the bare password becomes `***`.
    replace: Vec<(String, String)>,
}

/// The credentials in URLs inside `value`, as replacements: the password of a `user:password@` userinfo
/// (shown `user:***@`), a userinfo without a password (a token used as the user name, shown `***@`), and the
/// values of secret-looking query parameters (shown `name=***`).
fn url_credentials(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bare = |s: &str, out: &mut Vec<(String, String)>| {
        if s.len() >= MIN_LEN {
            out.push((s.to_string(), "***".to_string()));
            let decoded = percent_decode(s);
            if decoded != s && decoded.len() >= MIN_LEN {
                out.push((decoded, "***".to_string()));
            }
        }
    };
    let ends = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ',' | ';');
    let mut from = 0;
    while let Some(i) = value[from..].find("://") {
        let start = from + i + 3;
        from = start;
        // scheme://userinfo@host:port/path?query#fragment, up to a space or quote.
        let rest = &value[start..];
        let url = &rest[..rest.find(ends).unwrap_or(rest.len())];
        let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..auth_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, pass)) if !pass.is_empty() => {
                    out.push((format!("://{userinfo}@"), format!("://{user}:***@")));
                    bare(pass, &mut out);
                }
                Some(_) => {}
                None if !userinfo.is_empty() && userinfo != "git" => {
                    out.push((format!("://{userinfo}@"), "://***@".to_string()));
                    bare(userinfo, &mut out);
                }
                None => {}
            }
        }
        let path = &url[auth_end..];
        if let Some(q) = path.find('?') {
            let query = &path[q + 1..];
            let query = &query[..query.find('#').unwrap_or(query.len())];
            for pair in query.split('&') {
                let Some((k, v)) = pair.split_once('=') else {
                    continue;
                };
                let lower = k.to_ascii_lowercase();
                if v.is_empty()
                    || !(looks_secret(k) || SECRET_QUERY_WORDS.iter().any(|w| lower.contains(w)))
                {
                    continue;
                }
                out.push((format!("{k}={v}"), format!("{k}=***")));
                bare(v, &mut out);
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A build arg's value as dockui may show or store it: `***` for a secret-looking name, else the value with
/// the credentials of its URLs masked.
pub fn shown(name: &str, value: &str) -> String {
    if looks_secret(name) && !value.is_empty() && !is_switch_value(value) {
        return "***".to_string();
    }
    let mut m = Masker::default();
    m.push_all(url_credentials(value));
    m.apply(value)
}

impl Masker {
    fn push_all(&mut self, items: impl IntoIterator<Item = (String, String)>) {
        self.replace.extend(items);
        self.replace
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        self.replace.dedup();
    }

    pub fn from_args(args: &BTreeMap<String, String>) -> Masker {
        let mut m = Masker::default();
        for (k, v) in args {
            // A short secret value is not masked bare, but its URLs' credentials are.
            if looks_secret(k) && !is_switch_value(v) && v.len() >= MIN_LEN {
                m.replace.push((v.clone(), "***".to_string()));
            }
            m.replace.extend(url_credentials(v));
        }
        m.push_all([]);
        m
    }

    /// A build's secrets: build args with secret-looking names, the credentials in any build arg's URLs, and
    /// the credentials in its cache entries (`token=`, `secret_access_key=`, and the runner's token a
    /// `type=gha` entry picks up).
    pub fn for_spec(spec: &crate::builder::BuildSpec) -> Masker {
        let mut m = Masker::from_args(&spec.args);
        let mut extra = crate::builder::cache::secret_values(&spec.cache_from);
        extra.extend(crate::builder::cache::secret_values(&spec.cache_to));
        if spec
            .cache_from
            .iter()
            .chain(&spec.cache_to)
            .any(|c| c.contains("gha"))
            && let Ok(token) = std::env::var("ACTIONS_RUNTIME_TOKEN")
        {
            extra.push(token);
        }
        m.push_all(
            extra
                .into_iter()
                .filter(|v| v.len() >= MIN_LEN)
                .map(|v| (v, "***".to_string())),
        );
        m
    }

    /// Also mask the credentials of URLs written in `text` itself (a Dockerfile's `RUN pip install
    /// --index-url https://user:PASSWORD@host/simple`): the builder echoes every step and pip's own output
    /// may repeat the URL. A `${VAR}` in a userinfo is left to the build args' masking: its value is what the
    /// build sees.
    pub fn with_text(mut self, text: &str) -> Masker {
        self.push_all(
            url_credentials(text)
                .into_iter()
                .filter(|(s, _)| !s.contains('$')),
        );
        self
    }

    pub fn is_empty(&self) -> bool {
        self.replace.is_empty()
    }

    pub fn apply(&self, text: &str) -> String {
        self.apply_owned(text.to_string())
    }

    /// `apply` on a line the caller owns: the log pipeline's path, which copies nothing when no secret is in it.
    pub fn apply_owned(&self, mut text: String) -> String {
        for (s, with) in &self.replace {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), with);
            }
        }
        text
    }
}

impl Masker {
    pub fn event(&self, ev: crate::docker::BuildEvent) -> crate::docker::BuildEvent {
        match ev {
            crate::docker::BuildEvent::Line(l) if !self.is_empty() => {
                crate::docker::BuildEvent::Line(self.apply_owned(l))
            }
            other => other,
        }
    }

    fn opt(&self, s: &mut Option<String>) {
        if let Some(v) = s.as_mut() {
            *v = self.apply(v);
        }
    }

    pub fn smoke(&self, r: &mut super::smoke::SmokeResult) {
        r.output = self.apply(&r.output);
        r.command = self.apply(&r.command);
        if let Some(d) = r.diagnosis.as_mut() {
            self.diagnosis(d);
        }
    }

    fn diagnosis(&self, d: &mut crate::classify::Diagnosis) {
        for (_, line) in d.matched.iter_mut() {
            *line = self.apply(line);
        }
        self.opt(&mut d.failing_step);
        self.opt(&mut d.detail);
    }

    /// Everything in a build's result that carries engine or container text.
    pub fn outcome(&self, o: &mut super::BuildOutcome) {
        if self.is_empty() {
            return;
        }
        self.opt(&mut o.error);
        o.smoke.iter_mut().for_each(|r| self.smoke(r));
        for a in o.attempts.iter_mut() {
            self.opt(&mut a.error);
            a.smoke.iter_mut().for_each(|r| self.smoke(r));
            if let Some(d) = a.diagnosis.as_mut() {
                self.diagnosis(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_entry_credentials_are_masked_with_the_build_args() {
        let spec = crate::builder::BuildSpec {
            args: BTreeMap::from([("HF_TOKEN".to_string(), "hf_secretvalue123".to_string())]),
            cache_from: vec!["type=gha,token=ghs_cachetoken1,url=http://cache.local".into()],
            // Unparseable entries too: the error that quotes them must not carry the key.
            cache_to: vec!["type=s3,secret_access_key=wJalrXUtnFEMI,bucket=b,mode=all".into()],
            ..Default::default()
        };
        let m = Masker::for_spec(&spec);
        assert_eq!(
            m.apply("hf_secretvalue123 ghs_cachetoken1 wJalrXUtnFEMI http://cache.local bucket=b"),
            "*** *** *** http://cache.local bucket=b"
        );
        assert!(Masker::for_spec(&crate::builder::BuildSpec::default()).is_empty());
    }

    #[test]
    fn credentials_written_in_the_dockerfile_are_masked_variables_are_not() {
        let dockerfile = "FROM python:3.11\n\
            RUN pip install --index-url https://ci:pyp1Secret@pypi.corp.example/simple torch\n\
            RUN pip install --extra-index-url https://${PIP_USER}:${PIP_PASS}@pypi.corp.example/simple x\n\
            RUN git clone https://github.com/org/repo\n";
        let m = Masker::default().with_text(dockerfile);
        assert_eq!(
            m.apply("Step 2/4 : RUN pip install --index-url https://ci:pyp1Secret@pypi.corp.example/simple torch"),
            "Step 2/4 : RUN pip install --index-url https://ci:***@pypi.corp.example/simple torch"
        );
        assert_eq!(m.apply("ERROR: pyp1Secret rejected"), "ERROR: *** rejected");
        // Must not: a `${VAR}` in the userinfo is not a secret (its value is masked as a build arg), and a
        // URL without credentials is left whole.
        let line = "RUN pip install --extra-index-url https://${PIP_USER}:${PIP_PASS}@pypi.corp.example/simple x";
        assert_eq!(m.apply(line), line);
        assert!(
            Masker::default()
                .with_text("RUN git clone https://github.com/org/repo\n")
                .is_empty()
        );
    }

    #[test]
    fn secret_named_values_are_masked_others_kept() {
        let args = BTreeMap::from([
            ("HF_TOKEN".to_string(), "hf_secretvalue123".to_string()),
            ("BASE_IMAGE".to_string(), "ubuntu:22.04".to_string()),
            ("DB_PASSWORD".to_string(), "abc".to_string()),
        ]);
        let m = Masker::from_args(&args);
        assert_eq!(
            m.apply("login hf_secretvalue123 from ubuntu:22.04 abc"),
            "login *** from ubuntu:22.04 abc"
        );
        assert!(Masker::from_args(&BTreeMap::new()).is_empty());
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn url_credentials_in_any_build_arg_are_masked() {
        let m = Masker::from_args(&args(&[
            (
                "PIP_INDEX_URL",
                "https://user:hunter2pw@pypi.example/simple",
            ),
            (
                "PIP_EXTRA_INDEX_URL",
                "https://ci:p%40ss99@a.example/simple https://ghp_tok3n4u@b.example/simple",
            ),
            (
                "MODEL_SRC",
                "https://models.example/m.bin?X-Amz-Signature=5ig0abc&size=3",
            ),
            ("DEPS", "git+https://u:pw@git.example/r.git"),
        ]));
        assert_eq!(
            m.apply("Looking in indexes: https://user:hunter2pw@pypi.example/simple; pw hunter2pw"),
            "Looking in indexes: https://user:***@pypi.example/simple; pw ***"
        );
        // Percent-encoded as given, and decoded as a tool may print it; a token used as the user name.
        assert_eq!(
            m.apply(
                "https://ci:p%40ss99@a.example/simple p@ss99 https://ghp_tok3n4u@b.example/simple"
            ),
            "https://ci:***@a.example/simple *** https://***@b.example/simple"
        );
        assert_eq!(
            m.apply("GET /m.bin?X-Amz-Signature=5ig0abc&size=3"),
            "GET /m.bin?X-Amz-Signature=***&size=3"
        );
        // A short password is masked where it sits in its URL, not all over the log.
        assert_eq!(
            m.apply("git+https://u:pw@git.example/r.git pw"),
            "git+https://u:***@git.example/r.git pw"
        );
        assert_eq!(
            shown(
                "PIP_INDEX_URL",
                "https://user:hunter2pw@pypi.example/simple"
            ),
            "https://user:***@pypi.example/simple"
        );
    }

    #[test]
    fn joined_secret_names_are_masked_look_alikes_and_plain_urls_kept() {
        let m = Masker::from_args(&args(&[
            ("AUTHTOKEN", "tok_abcdef99"),
            ("DBPASSWORD", "s3cretdb"),
            ("TOKENIZERS_PARALLELISM", "false"),
            ("HF_TOKENIZER_NAME", "bert-base-uncased"),
            ("MAX_NEW_TOKENS", "2048"),
            ("KEYBOARD", "dvorak"),
            ("MONKEY", "george"),
            ("USE_AUTH_TOKEN", "true"),
            ("BASE_URL", "https://pypi.example/simple?page=2"),
            ("GIT_REPO", "ssh://git@github.com/o/r.git"),
        ]));
        let text = "tok_abcdef99 s3cretdb false bert-base-uncased 2048 dvorak george true \
                    https://pypi.example/simple?page=2 ssh://git@github.com/o/r.git";
        assert_eq!(
            m.apply(text),
            "*** *** false bert-base-uncased 2048 dvorak george true \
                    https://pypi.example/simple?page=2 ssh://git@github.com/o/r.git"
        );
        assert_eq!(shown("HF_TOKEN", "hf_abc"), "***");
        assert_eq!(shown("DB_PASSWORD", "abc"), "***");
        assert_eq!(shown("BASE_IMAGE", "ubuntu:22.04"), "ubuntu:22.04");
    }
}
