//! Ignore pragmas: `# hadolint ignore=DL3008,DL3015` and `# dockui ignore=...` (next instruction),
//! `# hadolint global ignore=...` (whole file), and the `ignored:` list of a project `.hadolint.yaml`.

use super::dockerfile::{Dockerfile, ItemKind};
use std::ops::Range;

#[derive(Debug, Default, Clone)]
pub struct Pragmas {
    /// (byte range of the instruction, rule ids)
    pub local: Vec<(Range<usize>, Vec<String>)>,
    pub global: Vec<String>,
}

impl Pragmas {
    pub fn from_dockerfile(df: &Dockerfile) -> Pragmas {
        let mut p = Pragmas::default();
        let mut pending: Vec<String> = Vec::new();
        // `# hadolint stage ignore=...`: from the next FROM to the one after it.
        let mut stage_pending: Vec<String> = Vec::new();
        let mut open_stage: Option<(usize, Vec<String>)> = None;
        for it in &df.items {
            match &it.kind {
                ItemKind::Comment { text } => {
                    if let Some((scope, ids)) = parse_pragma(text) {
                        match scope {
                            Scope::Global => p.global.extend(ids),
                            Scope::Stage => stage_pending.extend(ids),
                            Scope::Next => pending.extend(ids),
                        }
                    }
                }
                ItemKind::Instruction(ins) => {
                    if ins.is("FROM") {
                        if let Some((start, ids)) = open_stage.take() {
                            p.local.push((start..it.range.start, ids));
                        }
                        if !stage_pending.is_empty() {
                            open_stage = Some((it.range.start, std::mem::take(&mut stage_pending)));
                        }
                    }
                    if !pending.is_empty() {
                        p.local
                            .push((it.range.clone(), std::mem::take(&mut pending)));
                    }
                }
                ItemKind::Error { .. } if !pending.is_empty() => {
                    p.local
                        .push((it.range.clone(), std::mem::take(&mut pending)));
                }
                _ => {}
            }
        }
        if let Some((start, ids)) = open_stage {
            p.local.push((start..df.text.len() + 1, ids));
        }
        p
    }

    pub fn ignores(&self, rule: &str, at: usize) -> bool {
        self.global.iter().any(|g| g == rule)
            || self
                .local
                .iter()
                .any(|(r, ids)| r.contains(&at) && ids.iter().any(|i| i == rule))
    }
}

/// `hadolint ignore=A,B` / `dockui ignore=A B` / `hadolint global ignore=A` -> (global, ids)
enum Scope {
    Next,
    Stage,
    Global,
}

/// `hadolint ignore=A,B` / `dockui ignore=A B` / `hadolint global ignore = A` / `hadolint stage ignore=A`
fn parse_pragma(comment: &str) -> Option<(Scope, Vec<String>)> {
    let c = comment.trim();
    let rest = c
        .strip_prefix("hadolint")
        .or_else(|| c.strip_prefix("dockui"))?
        .trim_start();
    let (scope, rest) = if let Some(r) = rest.strip_prefix("global") {
        (Scope::Global, r.trim_start())
    } else if let Some(r) = rest.strip_prefix("stage") {
        (Scope::Stage, r.trim_start())
    } else {
        (Scope::Next, rest)
    };
    let ids = rest
        .strip_prefix("ignore")?
        .trim_start()
        .strip_prefix('=')?;
    // A trailing `# comment` after the ids is not an id.
    let ids = ids.split('#').next().unwrap_or("");
    let ids: Vec<String> = ids
        .split([',', ' '])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    // Like hadolint, a pragma naming something that is not a rule id is ignored as a whole.
    let is_id = |s: &String| {
        let letters = s.chars().take_while(|c| c.is_ascii_uppercase()).count();
        letters >= 2 && s.len() > letters && s[letters..].chars().all(|c| c.is_ascii_digit())
    };
    if !ids.iter().all(is_id) {
        return None;
    }
    Some((scope, ids))
}

/// The `ignored:` list of a `.hadolint.yaml` (block list or flow list); other keys are ignored.
pub fn hadolint_yaml_ignored(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_list = false;
    for line in text.lines() {
        let no_comment = line.split(" #").next().unwrap_or(line);
        let t = no_comment.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let top_level = !line.starts_with([' ', '\t', '-']);
        if let Some(rest) = t.strip_prefix("ignored:") {
            let rest = rest.trim();
            if let Some(flow) = rest.strip_prefix('[') {
                out.extend(
                    flow.trim_end_matches(']')
                        .split(',')
                        .map(|s| s.trim().trim_matches(['"', '\'']).to_string())
                        .filter(|s| !s.is_empty()),
                );
                in_list = false;
            } else {
                in_list = true;
            }
            continue;
        }
        if in_list {
            if let Some(item) = t.strip_prefix('-') {
                out.push(item.trim().trim_matches(['"', '\'']).to_string());
                continue;
            }
            if top_level {
                in_list = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pragmas_apply_to_the_next_instruction() {
        let text = "FROM ubuntu:22.04\n# hadolint ignore=DL3008,DL3015\nRUN apt-get install -y curl\nRUN apt-get install -y git\n# dockui ignore=DU101\n# hadolint global ignore=DL3059\n";
        let df = Dockerfile::parse(text);
        let p = Pragmas::from_dockerfile(&df);
        let first_run = text.find("RUN apt-get install -y curl").unwrap();
        let second_run = text.find("RUN apt-get install -y git").unwrap();
        assert!(p.ignores("DL3008", first_run + 4));
        assert!(p.ignores("DL3015", first_run));
        assert!(!p.ignores("DL3008", second_run));
        assert!(p.ignores("DL3059", 0));
    }

    #[test]
    fn yaml_lists() {
        assert_eq!(
            hadolint_yaml_ignored(
                "failure-threshold: info\nignored:\n  - DL3008\n  - \"DL3013\" # why\ntrustedRegistries:\n  - docker.io\n"
            ),
            ["DL3008", "DL3013"]
        );
        assert_eq!(
            hadolint_yaml_ignored("ignored: [DL3008, 'DL4006']\n"),
            ["DL3008", "DL4006"]
        );
    }
}
