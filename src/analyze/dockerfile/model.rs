//! What a parsed Dockerfile means: stages, the ARG/ENV scope at each instruction, and the shell commands of
//! each RUN (heredoc scripts included).
//!
//! Scoping follows BuildKit: ARGs before the first FROM are global and usable in FROM lines only; inside a stage
//! a global ARG is visible after `ARG NAME` re-declares it (taking the global default unless given another);
//! ENV is inherited by stages built `FROM` an earlier stage.

use super::expand::{Budgeted, Cut, Expanded, Scopes, Vars, expand};
use super::shell::{self, Script};
use super::{Dockerfile, Form, Instruction};
use std::collections::HashMap;
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// Index into `Model::instrs` of the FROM.
    pub from: usize,
    /// The image word as written and expanded with the global ARGs.
    pub image_raw: String,
    pub image: Expanded,
    pub image_range: Range<usize>,
    /// Stage index when this stage is built from an earlier one.
    pub parent: Option<usize>,
    /// Instruction indices (into `Model::instrs`) of this stage, FROM included.
    pub instrs: Vec<usize>,
    /// The `COPY --from=...` among them (rules that look for them per install need not walk the stage).
    pub copies_from: Vec<usize>,
}

/// An ARG or ENV value that is not all of what Docker would compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCut {
    /// Index into `Model::instrs` of the ARG/ENV line.
    pub instr: usize,
    pub name: String,
    pub cut: Cut,
}

#[derive(Debug, Clone)]
pub struct Info<'a> {
    pub ins: &'a Instruction,
    /// Stage index; `None` before the first FROM.
    pub stage: Option<usize>,
    /// Variables in scope when this instruction runs (before its own effect).
    pub vars: Vars,
    /// Shell commands of a RUN (or ONBUILD RUN): main line plus heredoc scripts.
    pub script: Script,
}

#[derive(Debug, Clone)]
pub struct Model<'a> {
    pub df: &'a Dockerfile,
    pub global_args: Vars,
    /// Global ARGs whose default uses variables we cannot know, with those variables.
    pub global_deps: std::collections::HashMap<String, Vec<String>>,
    pub stages: Vec<Stage>,
    pub instrs: Vec<Info<'a>>,
    /// ARG/ENV values dockui did not expand in full (in file order): see [`super::expand::MAX_VALUE`] and
    /// [`super::expand::BUDGET`].
    pub cuts: Vec<ValueCut>,
    scopes: std::sync::Arc<Scopes>,
    /// Each stage name (lower case) and the first stage that has it: resolving `FROM name` and
    /// `COPY --from=name` is one lookup, not a scan of the stages before (a file of n stages stays linear).
    stage_names: HashMap<String, usize>,
}

/// Shells whose `-c` string or heredoc stdin is a script we should read.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ash", "ksh"];

impl<'a> Model<'a> {
    pub fn build(df: &'a Dockerfile) -> Model<'a> {
        Self::build_with_args(df, &std::collections::BTreeMap::new())
    }

    /// With the build's `--build-arg`s: like docker, a value given for a declared ARG replaces its default.
    pub fn build_with_args(
        df: &'a Dockerfile,
        build_args: &std::collections::BTreeMap<String, String>,
    ) -> Model<'a> {
        let mut global_args = Vars::new();
        let mut global_deps = std::collections::HashMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut stage_names: HashMap<String, usize> = HashMap::new();
        let mut instrs = Vec::new();
        // Every binding once, in one table; each instruction keeps a (frame, position) view of it.
        let mut scopes = Scopes::default();
        let mut frame = scopes.frame(None);
        let mut views: Vec<(usize, usize)> = Vec::new();
        let mut cuts: Vec<ValueCut> = Vec::new();
        // Per stage, the view its child stages start from (its ENV as of its last ENV line).
        let mut stage_env: Vec<(usize, usize)> = Vec::new();
        for ins in df.instructions() {
            let idx = instrs.len();
            let stage = stages.len().checked_sub(1);
            if ins.is("FROM") {
                let words: Vec<_> = ins.words.iter().collect();
                let (image_raw, image_range) = words
                    .first()
                    .map(|w| (w.text.clone(), w.range.clone()))
                    .unwrap_or_default();
                let name = match (words.get(1), words.get(2)) {
                    (Some(a), Some(n)) if a.text.eq_ignore_ascii_case("as") => {
                        Some(n.text.to_ascii_lowercase())
                    }
                    _ => None,
                };
                let image = expand(
                    &image_raw,
                    &Budgeted(&global_args, &scopes.budget),
                    df.escape,
                );
                // The first earlier stage of that name (names are kept in lower case).
                let parent = stage_names
                    .get(image.text.to_ascii_lowercase().as_str())
                    .copied();
                let new_index = stages.len();
                if let Some(n) = &name {
                    stage_names.entry(n.clone()).or_insert(new_index);
                }
                // Each stage starts with the ENV of its parent stage (not its ARGs).
                frame = scopes.frame(parent.and_then(|p| stage_env.get(p).copied()));
                stage_env.push((frame, scopes.now()));
                stages.push(Stage {
                    index: new_index,
                    name,
                    from: idx,
                    image_raw,
                    image,
                    image_range,
                    parent,
                    instrs: vec![idx],
                    copies_from: Vec::new(),
                });
                views.push((frame, scopes.now()));
                instrs.push(Info {
                    ins,
                    stage: Some(new_index),
                    vars: Vars::new(),
                    script: Script::default(),
                });
                continue;
            }
            let script = run_script(ins.effective(), df.escape);
            views.push((frame, scopes.now()));
            instrs.push(Info {
                ins,
                stage,
                vars: Vars::new(),
                script,
            });
            if let Some(s) = stage {
                stages[s].instrs.push(idx);
                if ins.is("COPY") && ins.flag("from").is_some() {
                    stages[s].copies_from.push(idx);
                }
            }
            match ins.keyword.as_str() {
                "ARG" => {
                    for w in &ins.words {
                        let (name, value) = match w.text.split_once('=') {
                            Some((n, v)) => (n.to_string(), Some(v.to_string())),
                            None => (w.text.clone(), None),
                        };
                        let value = build_args.get(&name).cloned().or(value);
                        if stage.is_none() {
                            // A default built from unknown variables is itself unknown (`ARG F=${TARGETARCH}`).
                            let e = value.map(|v| {
                                expand(&v, &Budgeted(&global_args, &scopes.budget), df.escape)
                            });
                            if let Some(cut) = e.as_ref().and_then(|e| e.cut) {
                                cuts.push(ValueCut {
                                    instr: idx,
                                    name: name.clone(),
                                    cut,
                                });
                            }
                            let deps: Vec<String> =
                                e.as_ref().map(|e| e.unresolved.clone()).unwrap_or_default();
                            let v = e.filter(|e| e.unresolved.is_empty()).map(|e| e.text);
                            if !deps.is_empty() {
                                global_deps.insert(name.clone(), deps);
                            }
                            global_args.insert(name, v);
                        } else {
                            let here = scopes.view(frame, scopes.now());
                            let (v, cut) = match value {
                                Some(v) => {
                                    let e = expand(&v, &here, df.escape);
                                    (Some(e.text), e.cut)
                                }
                                // Re-declaring a global ARG brings its default into the stage (a copy:
                                // paid from the budget like an expansion).
                                None => match global_args.get(&name).cloned().flatten() {
                                    Some(g) if !scopes.budget.take_for(&name, g.len()) => {
                                        (None, Some(Cut::Budget))
                                    }
                                    g => (g, None),
                                },
                            };
                            if let Some(cut) = cut {
                                cuts.push(ValueCut {
                                    instr: idx,
                                    name: name.clone(),
                                    cut,
                                });
                            }
                            // `ARG X` keeps a value X already has; `ARG X=1` replaces it.
                            if v.is_some() || scopes.get(frame, scopes.now(), &name).is_none() {
                                scopes.bind(frame, name, v);
                            }
                        }
                    }
                }
                "ENV" => {
                    for (k, v) in env_pairs(ins) {
                        let e = expand(&v, &scopes.view(frame, scopes.now()), df.escape);
                        if let Some(cut) = e.cut {
                            cuts.push(ValueCut {
                                instr: idx,
                                name: k.clone(),
                                cut,
                            });
                        }
                        scopes.bind(frame, k, Some(e.text));
                    }
                    if let Some(s) = stage {
                        stage_env[s] = (frame, scopes.now());
                    }
                }
                _ => {}
            }
        }
        let scopes = std::sync::Arc::new(scopes);
        for (info, (f, seq)) in instrs.iter_mut().zip(views) {
            info.vars = Vars::at(scopes.clone(), f, seq);
        }
        Model {
            df,
            global_args,
            global_deps,
            stages,
            instrs,
            cuts,
            scopes,
            stage_names,
        }
    }

    /// The first variable an expansion left as written because the file's budget ran out (while the model
    /// was built or later, by a rule).
    pub fn budget_ran_out(&self) -> Option<&str> {
        self.scopes.budget.ran_out()
    }

    /// The first stage named `name` (any case), if it comes before stage `before`.
    pub fn stage_named(&self, name: &str, before: usize) -> Option<usize> {
        let i = match self.stage_names.get(name) {
            Some(&i) => i,
            None => *self.stage_names.get(name.to_ascii_lowercase().as_str())?,
        };
        (i < before).then_some(i)
    }

    /// The stage `COPY --from=r` (or `RUN --mount=from=r`) in stage `before` means, among the stages before it:
    /// the first whose name is `r` (any case) or whose index is written `r` (`0`, not `00`).
    pub fn stage_ref(&self, r: &str, before: usize) -> Option<usize> {
        let by_name = self.stage_named(r, before);
        let by_index = r
            .parse::<usize>()
            .ok()
            .filter(|n| *n < before.min(self.stages.len()) && n.to_string() == r);
        match (by_name, by_index) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn stage_of(&self, instr: usize) -> Option<&Stage> {
        self.instrs
            .get(instr)
            .and_then(|i| i.stage)
            .and_then(|s| self.stages.get(s))
    }

    /// Expand `s` with the scope of instruction `instr`.
    pub fn expand_at(&self, instr: usize, s: &str) -> Expanded {
        match self.instrs.get(instr) {
            Some(i) => expand(s, &i.vars, self.df.escape),
            None => expand(s, &Vars::new(), self.df.escape),
        }
    }

    /// The stage images end up in: the last one (what `docker build` without `--target` produces).
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// Walk a stage's ancestry to the first image that is not an earlier stage.
    pub fn root_stage(&self, mut s: usize) -> &Stage {
        let mut guard = 0;
        while let Some(p) = self.stages.get(s).and_then(|st| st.parent) {
            if p >= s || guard > 64 {
                break;
            }
            s = p;
            guard += 1;
        }
        &self.stages[s.min(self.stages.len() - 1)]
    }
}

/// `ENV A=1 B=2` or the old `ENV A 1` form.
pub fn env_pairs(ins: &Instruction) -> Vec<(String, String)> {
    let ws = &ins.words;
    if ws.is_empty() {
        return vec![];
    }
    if !ws[0].text.contains('=') {
        let value = ws[1..]
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        return vec![(ws[0].text.clone(), value)];
    }
    ws.iter()
        .filter_map(|w| {
            w.text
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// The shell commands a RUN executes, with file spans.
pub fn run_script(ins: &Instruction, _escape: char) -> Script {
    if !ins.is("RUN") {
        return Script::default();
    }
    match &ins.form {
        Form::Json(words) => {
            let first = words
                .first()
                .map(|w| w.text.rsplit('/').next().unwrap_or("").to_string())
                .unwrap_or_default();
            if SHELLS.contains(&first.as_str()) {
                if let Some(pos) = words.iter().position(|w| {
                    w.text == "-c" || (w.text.starts_with('-') && w.text.ends_with('c'))
                }) {
                    if let Some(body) = words.get(pos + 1) {
                        let r = body.range.clone();
                        return shell::parse(&body.text, &|_| r.clone());
                    }
                }
            }
            // Exec form: one command, words as given.
            let cmd = shell::Command {
                assigns: vec![],
                words: words
                    .iter()
                    .map(|w| shell::SWord {
                        text: w.text.clone(),
                        range: w.range.clone(),
                    })
                    .collect(),
                sep: shell::Sep::End,
                piped_in: false,
                nested: false,
            };
            Script {
                commands: if cmd.words.is_empty() {
                    vec![]
                } else {
                    vec![cmd]
                },
                compounds: 0,
            }
        }
        Form::Shell => {
            let logical = &ins.logical;
            let start = ins.args_start;
            let text = logical.text.get(start..).unwrap_or("");
            let mut script = shell::parse(text, &|r: Range<usize>| {
                logical.range_to_file(r.start + start..r.end + start)
            });
            // A heredoc is a script when it feeds the RUN itself (`RUN <<EOF`) or a shell (`RUN bash <<EOF`).
            let main_is_shell = script.commands.is_empty()
                || script
                    .commands
                    .iter()
                    .all(|c| SHELLS.contains(&c.base_name()));
            if main_is_shell {
                if script
                    .commands
                    .iter()
                    .all(|c| SHELLS.contains(&c.base_name()))
                {
                    script.commands.clear();
                }
                for h in &ins.heredocs {
                    let base = h.body_range.start;
                    let sub =
                        shell::parse(&h.body, &|r: Range<usize>| base + r.start..base + r.end);
                    script.commands.extend(sub.commands);
                    script.compounds += sub.compounds;
                }
            }
            script
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_scoping_across_stages() {
        let text = "ARG BASE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime\nARG TORCH=2.5.1\nFROM ${BASE} AS build\nRUN echo $TORCH\nARG TORCH\nRUN pip install torch==${TORCH}\nFROM build\nENV X=1\n";
        let df = Dockerfile::parse(text);
        let m = Model::build(&df);
        assert_eq!(
            m.stages[0].image.text,
            "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
        );
        assert_eq!(m.stages[0].name.as_deref(), Some("build"));
        // Before the re-declaration the global ARG is not visible in the stage.
        assert_eq!(m.instrs[3].vars.get("TORCH"), None);
        assert_eq!(
            m.instrs[5].vars.get("TORCH"),
            Some(&Some("2.5.1".to_string()))
        );
        assert_eq!(m.stages[1].parent, Some(0));
    }

    #[test]
    fn heredoc_scripts_are_commands() {
        let text = "FROM ubuntu:22.04\nRUN <<EOF\napt-get update\napt-get install -y curl\nEOF\nRUN cat <<EOF > /etc/x.conf\npip install nothing\nEOF\n";
        let df = Dockerfile::parse(text);
        let m = Model::build(&df);
        let names: Vec<_> = m.instrs[1]
            .script
            .commands
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        assert_eq!(names, ["apt-get", "apt-get"]);
        let w = &m.instrs[1].script.commands[1].words[2];
        assert_eq!(&text[w.range.clone()], "-y");
        let names: Vec<_> = m.instrs[2]
            .script
            .commands
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        assert_eq!(names, ["cat"]);
    }
}
