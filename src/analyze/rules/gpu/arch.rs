//! DU214: `TORCH_CUDA_ARCH_LIST` that builds CUDA extensions for none of today's data-center GPUs and leaves
//! no PTX to JIT from. A cubin runs only on its own major compute capability with an equal or higher minor, so
//! `8.6` code does not run on an A100 (8.0) or an H100 (9.0): the extension fails there with "no kernel image
//! is available for execution on the device".

use super::*;

pub const RULES: &[RuleInfo] = &[RuleInfo::new(
    RuleId::DU214,
    Severity::Warning,
    "TORCH_CUDA_ARCH_LIST without any data-center architecture (8.0/9.0/10.0) and without +PTX",
    &[FixLevel::Suggestion],
)
.note("warning, not error: the list may target only consumer GPUs on purpose; the finding says it assumes data-center GPUs")];

/// Compute capabilities of the data-center GPUs ML images are usually run on: A100/A30 (8.0), H100/H200 (9.0),
/// B200/GB200 (10.0). Named architectures torch accepts map onto them.
const DATACENTER: &[&str] = &["8.0", "9.0", "10.0"];
const NAMED: &[(&str, &str)] = &[("ampere", "8.0"), ("hopper", "9.0"), ("blackwell", "10.0")];

/// One literal `TORCH_CUDA_ARCH_LIST` value in the Dockerfile: its text and where the value ends in the file.
struct Setting {
    value: String,
    /// Byte range of the whole `NAME=value` word (the finding's span).
    range: Range<usize>,
    /// Where an appended entry goes (end of the value in the file), when the value is written literally.
    end: Option<usize>,
}

pub(super) fn arch_list(ctx: &Ctx, out: &mut Vec<Finding>) {
    for s in settings(ctx) {
        let entries: Vec<String> = s
            .value
            .split([';', ' ', ','])
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        if entries.is_empty() {
            continue;
        }
        // Anything dockui cannot read as an arch ("all", "common", "native", a variable) decides nothing.
        let readable = entries.iter().all(|e| {
            let e = e.trim_end_matches("+ptx");
            NAMED.iter().any(|(n, _)| e.starts_with(n))
                || matches!(
                    e,
                    "kepler" | "maxwell" | "pascal" | "volta" | "turing" | "ada"
                )
                || e.trim_end_matches(['a', 'f'])
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
        if !readable {
            continue;
        }
        if entries.iter().any(|e| e.ends_with("+ptx")) {
            continue;
        }
        // Only pre-Volta targets (Kepler/Maxwell/Pascal, below 7.0): a build for legacy GPUs on purpose.
        let legacy = entries.iter().all(|e| {
            matches!(e.as_str(), "kepler" | "maxwell" | "pascal")
                || e.split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m < 7)
        });
        if legacy {
            continue;
        }
        let has_dc = entries.iter().any(|e| {
            let cc = e.trim_end_matches(['a', 'f']);
            DATACENTER.contains(&cc) || NAMED.iter().any(|(n, _)| e.starts_with(n))
        });
        if has_dc {
            continue;
        }
        let mut f = ctx
            .at(
                RuleId::DU214,
                s.range.clone(),
                format!(
                    "TORCH_CUDA_ARCH_LIST=\"{}\" builds no code for A100 (8.0), H100 (9.0) or B200 (10.0) and no PTX",
                    s.value
                ),
            )
            .why("A cubin runs only on its own major compute capability (same or higher minor): extensions built from this list fail on data-center GPUs with 'no kernel image is available for execution on the device'.")
            .fact(format!("arch entries: {}", entries.join(", ")))
            .fact("assumption: the image is meant to run on data-center GPUs; a list for one consumer GPU on purpose is fine");
        if let Some(end) = s.end {
            let sep = if s.value.contains(';') { ";" } else { " " };
            f = f.with_fix(ctx.fix(
                "DU214.datacenter",
                FixLevel::Suggestion,
                "Also build for 8.0 and 9.0, with PTX for newer GPUs (longer compile)",
                vec![insert(end, format!("{sep}8.0{sep}9.0+PTX"))],
            ));
        }
        out.push(f);
    }
}

/// Literal settings in ARG defaults, ENV, and RUN assignments / exports. Values built from variables are left
/// to the setting they come from.
fn settings(ctx: &Ctx) -> Vec<Setting> {
    const NAME: &str = "TORCH_CUDA_ARCH_LIST";
    let mut out = Vec::new();
    let mut push = |text: &str, range: Range<usize>, value_raw_hint: &str| {
        if value_raw_hint.contains('$') {
            return;
        }
        let raw = ctx.text.get(range.clone()).unwrap_or("");
        // The value as written ends before a closing quote, if any.
        let end = raw
            .rfind(value_raw_hint)
            .filter(|_| !value_raw_hint.is_empty())
            .map(|i| range.start + i + value_raw_hint.len());
        out.push(Setting {
            value: text.to_string(),
            range,
            end,
        });
    };
    for info in &ctx.m.instrs {
        let ins = info.ins;
        match ins.keyword.as_str() {
            "ARG" | "ENV" => {
                let ws = &ins.words;
                if ins.is("ENV") && ws.len() >= 2 && ws[0].text == NAME {
                    // Legacy `ENV NAME value with spaces`.
                    let start = ws[1].range.start;
                    let end = ws.last().map(|w| w.range.end).unwrap_or(start);
                    let v: Vec<&str> = ws[1..].iter().map(|w| w.text.as_str()).collect();
                    let v = v.join(" ");
                    let last = ws.last().map(|w| w.text.clone()).unwrap_or_default();
                    push(&v, start..end, &last);
                    continue;
                }
                for w in ws {
                    if let Some(v) = w.text.strip_prefix(NAME).and_then(|r| r.strip_prefix('=')) {
                        push(v, w.range.clone(), v);
                    }
                }
            }
            "RUN" => {
                for c in &info.script.commands {
                    let words = c
                        .assigns
                        .iter()
                        .chain(c.args().iter().filter(|_| c.name() == "export"));
                    for w in words {
                        if let Some(v) = w.text.strip_prefix(NAME).and_then(|r| r.strip_prefix('='))
                        {
                            push(v, w.range.clone(), v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}
