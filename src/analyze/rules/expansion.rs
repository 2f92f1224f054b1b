//! DU006: an ARG/ENV value that expands past 128 KiB (`ARG A1=${A0}${A0}` doubles a value per line), or a
//! file whose expansions together outgrow dockui's budget. The model keeps the first part of such a value (or
//! the reference as written) so the rest of the file is still analysed; this says where and why.

use super::*;
use crate::analyze::dockerfile::expand::{BUDGET, Cut, MAX_VALUE};
use crate::analyze::dockerfile::model::ValueCut;

pub const RULES: &[RuleInfo] = &[RuleInfo::new(
    RuleId::DU006,
    Severity::Error,
    "ARG/ENV value that expands past 128 KiB (a RUN cannot start with it in its environment); dockui keeps its first 128 KiB",
    &[],
)
.note("warning when no RUN runs with the value in its environment, and when dockui's budget for a file's expansions (64 MiB) runs out before the values do")];

pub fn run(ctx: &Ctx, out: &mut Vec<Finding>) {
    let m = ctx.m;
    let too_long: Vec<&ValueCut> = m.cuts.iter().filter(|c| c.cut == Cut::TooLong).collect();
    if let Some(first) = too_long.first() {
        let ins = m.instrs[first.instr].ins;
        let reach = reach(ctx, first);
        let mut f = ctx.at(
            RuleId::DU006,
            name_range(ins, &first.name),
            format!(
                "{} {} expands to more than {} KiB",
                ins.keyword,
                first.name,
                MAX_VALUE / 1024
            ),
        )
        .why(match reach {
            Reach::Run => "A RUN starts its shell with the stage's ARG and ENV values in its environment, and Linux refuses a string over 128 KiB there (E2BIG, 'argument list too long'): every RUN after this line fails. A value that doubles on each line also makes the builder itself run out of memory.",
            Reach::From => "A FROM uses it: Docker rejects an image reference this long ('invalid reference format'). A value that doubles on each line also makes the builder itself run out of memory.",
            Reach::Nothing => "No RUN or FROM uses this value, but the builder still computes it: a value that doubles on each line exhausts its memory. dockui kept its first 128 KiB and analysed the rest of the file.",
        })
        .fact(format!(
            "dockui keeps at most {} KiB of an expanded value; the analysis went on with the first part of this one",
            MAX_VALUE / 1024
        ));
        if reach == Reach::Nothing {
            f.severity = Severity::Warning;
        }
        let later: Vec<String> = too_long[1..]
            .iter()
            .map(|c| format!("{} (line {})", c.name, m.instrs[c.instr].ins.line))
            .collect();
        if !later.is_empty() {
            let n = later.len();
            let shown: Vec<&str> = later.iter().take(8).map(String::as_str).collect();
            f = f.fact(format!(
                "{n} later ARG/ENV value{} {} cut too: {}{}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "is" } else { "are" },
                shown.join(", "),
                if n > shown.len() { ", ..." } else { "" }
            ));
        }
        out.push(f);
    }
    // The budget: at the first value it could not pay for, or (when a rule's expansion ran it out) at the line
    // that sets the variable it stopped at.
    let Some(var) = m.budget_ran_out() else {
        return;
    };
    let at = match m.cuts.iter().find(|c| c.cut == Cut::Budget) {
        Some(c) => Some((c.instr, c.name.as_str())),
        None => m
            .instrs
            .iter()
            .position(|i| {
                (i.ins.is("ARG") || i.ins.is("ENV"))
                    && i.ins
                        .words
                        .iter()
                        .any(|w| w.text.split('=').next() == Some(var))
            })
            .map(|i| (i, var)),
    };
    let (range, line_note) = match at {
        Some((instr, name)) => (name_range(m.instrs[instr].ins, name), ""),
        None => (0..0, " (no ARG/ENV line sets it)"),
    };
    let mut f = ctx
        .at(
            RuleId::DU006,
            range,
            format!(
                "the file's ARG/ENV values expand to more than {} MiB in all; from here on dockui leaves `${var}`{line_note} and any other reference past the limit unexpanded",
                BUDGET >> 20
            ),
        )
        .why("dockui bounds the memory an analysis may use; findings that depend on these values may be missing.")
        .fact("references past the limit are kept as written (`$NAME`) and read as unknown");
    f.severity = Severity::Warning;
    out.push(f);
}

#[derive(PartialEq, Eq)]
enum Reach {
    /// A RUN starts with the value in its environment.
    Run,
    /// A FROM's image reference is cut (a global ARG).
    From,
    Nothing,
}

/// What the value reaches: a later RUN of its stage (an ENV also the RUNs of the stages built on it); for a
/// global ARG, a FROM whose reference is cut too.
fn reach(ctx: &Ctx, c: &ValueCut) -> Reach {
    let m = ctx.m;
    let Some(stage) = m.instrs[c.instr].stage else {
        return if m.stages.iter().any(|s| s.image.cut == Some(Cut::TooLong)) {
            Reach::From
        } else {
            Reach::Nothing
        };
    };
    let is_env = m.instrs[c.instr].ins.is("ENV");
    let run = m.instrs[c.instr + 1..].iter().any(|i| {
        i.ins.is("RUN")
            && i.stage
                .is_some_and(|s| s == stage || (is_env && descends(m, s, stage)))
    });
    if run { Reach::Run } else { Reach::Nothing }
}

fn descends(m: &crate::analyze::dockerfile::model::Model, mut s: usize, from: usize) -> bool {
    while let Some(p) = m.stages.get(s).and_then(|st| st.parent) {
        if p >= s {
            return false;
        }
        if p == from {
            return true;
        }
        s = p;
    }
    false
}

/// The `NAME=value` (or `NAME`) word of an ARG/ENV line, else the whole line.
fn name_range(ins: &crate::analyze::dockerfile::Instruction, name: &str) -> Range<usize> {
    ins.words
        .iter()
        .find(|w| w.text.split('=').next() == Some(name))
        .map(|w| w.range.clone())
        .unwrap_or_else(|| ins.range.clone())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::check;
    use crate::analyze::Severity;

    /// `ARG A{i}=${A{i-1}}${A{i-1}}`: 16 bytes doubled `lines - 1` times (16 << 39 bytes at 40 lines).
    fn doubling(keyword: &str, lines: usize, tail: &str) -> String {
        let mut s = format!("FROM ubuntu:22.04\n{keyword} A0=xxxxxxxxxxxxxxxx\n");
        for i in 1..lines {
            s.push_str(&format!("{keyword} A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
        }
        s + tail
    }

    #[test]
    fn a_doubling_arg_chain_is_cut_and_reported_at_its_first_long_line() {
        // The auditor's file: 844 bytes that asked for 8 TB and aborted dockui.
        let text = doubling("ARG", 40, "RUN echo hi\n");
        assert!(text.len() < 1000);
        let a = check(&text);
        let f: Vec<_> = a.findings.iter().filter(|f| f.rule == "DU006").collect();
        assert_eq!(f.len(), 1, "{:#?}", a.findings);
        // 16 << 13 is 128 KiB exactly (kept); A14 is the first value over it, on line 16.
        assert_eq!(f[0].span.line, 16, "{:#?}", f[0]);
        assert!(
            f[0].message
                .starts_with("ARG A14 expands to more than 128 KiB")
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].facts
                .iter()
                .any(|x| x.contains("25 later ARG/ENV values are cut too")),
            "{:?}",
            f[0].facts
        );
    }

    #[test]
    fn an_env_chain_is_cut_too_and_without_a_run_it_is_a_warning() {
        let a = check(&doubling("ENV", 40, "CMD [\"sh\"]\n"));
        let f: Vec<_> = a.findings.iter().filter(|f| f.rule == "DU006").collect();
        assert_eq!(f.len(), 1, "{:#?}", a.findings);
        assert_eq!(f[0].span.line, 16);
        assert_eq!(f[0].severity, Severity::Warning);
        // An ENV reaches the RUNs of a stage built on it.
        let child = doubling("ENV", 20, "FROM base\nRUN echo hi\n").replacen(
            "FROM ubuntu:22.04\n",
            "FROM ubuntu:22.04 AS base\n",
            1,
        );
        let a = check(&child);
        let f = a
            .findings
            .iter()
            .find(|f| f.rule == "DU006")
            .expect("DU006");
        assert_eq!(f.severity, Severity::Error);
    }

    #[test]
    fn a_global_arg_chain_is_an_error_when_a_from_uses_it() {
        let chain = doubling("ARG", 40, "").replacen("FROM ubuntu:22.04\n", "", 1);
        let used = check(&format!("{chain}FROM ubuntu:${{A39}}\nCMD [\"x\"]\n"));
        let f: Vec<_> = used.findings.iter().filter(|f| f.rule == "DU006").collect();
        assert_eq!(f.len(), 1, "{:#?}", used.findings);
        assert_eq!((f[0].span.line, f[0].severity), (15, Severity::Error));
        assert!(f[0].why.contains("FROM uses it"));
        // The cut reference is DU006's to explain; DU110 does not repeat 128 KiB of it.
        assert!(!used.findings.iter().any(|f| f.rule == "DU110"));
        let unused = check(&format!("{chain}FROM ubuntu:22.04\nRUN echo hi\n"));
        let f = unused
            .findings
            .iter()
            .find(|f| f.rule == "DU006")
            .expect("DU006");
        assert_eq!(f.severity, Severity::Warning);
    }

    #[test]
    fn many_references_to_a_long_value_stop_at_the_budget() {
        // A value just under the limit, then enough ENV lines copying it to pass the 64 MiB budget.
        let mut text = doubling("ARG", 14, "");
        for i in 0..700 {
            text.push_str(&format!("ENV B{i}=$A13\n"));
        }
        text.push_str("RUN echo $B699\n");
        let a = check(&text);
        let f: Vec<_> = a.findings.iter().filter(|f| f.rule == "DU006").collect();
        assert_eq!(f.len(), 1, "{:#?}", f);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.contains("64 MiB"), "{}", f[0].message);
        // The chain A1..A13 copied 16 * (2^14 - 2) bytes; 510 copies of A13 (128 KiB) fit in what is left, so
        // B510 (line 16 + 510) is the first reference left as written.
        assert_eq!((64 << 20) - 16 * ((1 << 14) - 2), 510 * (128 << 10) + 32);
        assert_eq!(f[0].span.line, 16 + 510);
        assert!(f[0].message.contains("`$A13`"), "{}", f[0].message);
    }

    #[test]
    fn normal_arg_and_env_chains_are_not_reported() {
        // Real files build values from values: versions into tags, PATH extended line by line.
        let mut text = String::from(
            "ARG CUDA=12.4.1\nARG UBUNTU=22.04\nARG BASE=nvidia/cuda:${CUDA}-cudnn-devel-ubuntu${UBUNTU}\nFROM ${BASE}\nARG TORCH=2.5.1\nARG TORCH_CUDA_ARCH_LIST=\"7.0 7.5 8.0 8.6 8.9 9.0+PTX\"\nENV TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST}\n",
        );
        for i in 0..300 {
            text.push_str(&format!("ENV PATH=/opt/tool{i}/bin:$PATH\n"));
        }
        text.push_str("RUN pip install --no-cache-dir torch==${TORCH}\n");
        let a = check(&text);
        assert!(
            !a.findings.iter().any(|f| f.rule == "DU006"),
            "{:#?}",
            a.findings
                .iter()
                .filter(|f| f.rule == "DU006")
                .collect::<Vec<_>>()
        );
    }
}
