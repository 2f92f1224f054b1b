//! Values of build args whose names look secret (HF_TOKEN, DB_PASSWORD, ...) never reach a log line, the
//! build record or JSON output: every line is masked before it is written or sent.

use crate::analyze::rules::secrets::looks_secret;
use std::collections::BTreeMap;

/// Shorter values would mask ordinary text ("1", "on") all over the log; they are not secrets worth it.
const MIN_LEN: usize = 4;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Masker {
    /// Longest first, so a value containing another is masked whole.
    secrets: Vec<String>,
}

impl Masker {
    pub fn from_args(args: &BTreeMap<String, String>) -> Masker {
        let mut secrets: Vec<String> = args
            .iter()
            .filter(|(k, v)| looks_secret(k) && v.len() >= MIN_LEN)
            .map(|(_, v)| v.clone())
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    /// A build's secrets: build args with secret-looking names, and the credentials in its cache entries
    /// (`token=`, `secret_access_key=`, and the runner's token a `type=gha` entry picks up).
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
        m.secrets
            .extend(extra.into_iter().filter(|v| v.len() >= MIN_LEN));
        m.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        m.secrets.dedup();
        m
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

impl Masker {
    pub fn event(&self, ev: crate::docker::BuildEvent) -> crate::docker::BuildEvent {
        match ev {
            crate::docker::BuildEvent::Line(l) if !self.is_empty() => {
                crate::docker::BuildEvent::Line(self.apply(&l))
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
}
