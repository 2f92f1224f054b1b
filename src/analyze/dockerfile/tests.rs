use super::*;
use proptest::prelude::*;

fn ins(df: &Dockerfile) -> Vec<&Instruction> {
    df.instructions().collect()
}

#[test]
fn continuation_spans_point_into_the_file() {
    let text = "FROM ubuntu:22.04\nRUN apt-get update \\\n    # a comment inside\n    && apt-get install -y \\\n       curl\n";
    let df = Dockerfile::parse(text);
    assert!(df.problems.is_empty(), "{:?}", df.problems);
    let run = ins(&df)[1];
    assert_eq!(run.line, 2);
    let curl = run.words.iter().find(|w| w.text == "curl").unwrap();
    assert_eq!(&text[curl.range.clone()], "curl");
    assert_eq!(
        Span::from_range(text, curl.range.start, curl.range.end).line,
        5
    );
    assert_eq!(df.render(), text);
}

use crate::analyze::Span;

#[test]
fn a_byte_order_mark_is_read_past_as_docker_does() {
    // The legacy builder and BuildKit both build this file (checked on the engine).
    let text = "\u{feff}FROM python:3.11-slim\nRUN pip install torch\n";
    let df = Dockerfile::parse(text);
    assert!(df.problems.is_empty(), "{:?}", df.problems);
    let from = ins(&df)[0];
    assert_eq!((from.keyword.as_str(), from.line), ("FROM", 1));
    assert_eq!(&text[from.range.clone()], "FROM python:3.11-slim");
    assert_eq!(df.render(), text, "the mark stays in the file");
    // Directives after the mark still count.
    let df = Dockerfile::parse("\u{feff}# escape=`\nFROM scratch\n");
    assert_eq!(df.escape, '`');
    // Only at the very start.
    assert!(
        !Dockerfile::parse("FROM scratch\n\u{feff}RUN true\n")
            .problems
            .is_empty()
    );
    assert_eq!(Dockerfile::parse("\u{feff}").render(), "\u{feff}");
}

#[test]
fn escape_directive_backtick() {
    let text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir c:\\ `\n    && echo done\n";
    let df = Dockerfile::parse(text);
    assert_eq!(df.escape, '`');
    let run = ins(&df)[1];
    assert!(
        run.args_text().contains("c:\\     && echo done")
            || run.args_text().contains("&& echo done")
    );
    assert_eq!(df.render(), text);
}

#[test]
fn heredocs_several_per_line_and_dash() {
    let text =
        "FROM alpine:3.20\nCOPY <<A /a.txt <<-B /b.txt\nalpha\nA\n\tbeta\n\tB\nRUN echo after\n";
    let df = Dockerfile::parse(text);
    let copy = ins(&df)[1];
    assert_eq!(copy.heredocs.len(), 2);
    assert_eq!(copy.heredocs[0].body, "alpha\n");
    assert_eq!(copy.heredocs[1].body, "beta\n");
    assert!(copy.heredocs[1].strip_tabs);
    assert_eq!(ins(&df)[2].keyword, "RUN");
    assert_eq!(df.render(), text);
}

#[test]
fn unterminated_heredoc_is_a_problem_not_a_crash() {
    let text = "FROM alpine:3.20\nRUN <<EOF\necho hi\n";
    let df = Dockerfile::parse(text);
    // The broken heredoc is reported on its RUN; its body is then read as (bad) instructions, like Docker would.
    assert_eq!(df.problems[0].line, 2);
    assert!(df.problems[0].message.contains("never terminated"));
    assert_eq!(df.render(), text);
}

#[test]
fn json_and_shell_forms() {
    let df = Dockerfile::parse(
        "CMD [\"python\", \"-m\", \"app\"]\nCMD python -m app\nENTRYPOINT [\"a\",\n",
    );
    let v = ins(&df);
    assert!(matches!(&v[0].form, Form::Json(w) if w.len() == 3 && w[2].text == "app"));
    assert_eq!(v[1].form, Form::Shell);
    // Broken JSON falls back to the shell form, as Docker does.
    assert_eq!(v[2].form, Form::Shell);
}

#[test]
fn flags_and_onbuild() {
    let text = "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nRUN --mount=type=cache,target=/root/.cache/pip --network=none pip install x\nCOPY --from=b --chown=1:1 /out /out\nONBUILD RUN --mount=type=secret,id=t make\n";
    let df = Dockerfile::parse(text);
    let v = ins(&df);
    assert_eq!(
        v[0].flag("platform").and_then(|f| f.value.as_deref()),
        Some("$BUILDPLATFORM")
    );
    assert_eq!(v[1].flags.len(), 2);
    assert_eq!(&text[v[1].flags[1].range.clone()], "--network=none");
    assert_eq!(v[1].args_text(), "pip install x");
    assert_eq!(
        v[2].flag("from").and_then(|f| f.value.as_deref()),
        Some("b")
    );
    let inner = v[3].inner.as_deref().unwrap();
    assert_eq!(inner.keyword, "RUN");
    assert_eq!(inner.flags.len(), 1);
    assert_eq!(inner.args_text(), "make");
}

#[test]
fn bad_line_becomes_a_problem_and_the_rest_parses() {
    let text = "FROM python:3.12\nthis is not docker\nEXPOSE ${PORT:-7860}\nRUN echo ok\n";
    let df = Dockerfile::parse(text);
    assert_eq!(df.problems.len(), 1);
    assert_eq!(df.problems[0].line, 2);
    let v = ins(&df);
    assert_eq!(v.len(), 3);
    assert_eq!(v[1].keyword, "EXPOSE");
    assert_eq!(v[1].words[0].text, "${PORT:-7860}");
}

#[test]
fn crlf_and_no_final_newline() {
    let text = "FROM a:1\r\nRUN x \\\r\n  y\r\nCMD z";
    let df = Dockerfile::parse(text);
    assert!(df.problems.is_empty());
    let v = ins(&df);
    assert_eq!(v[1].args_text(), "x   y");
    assert_eq!(v[2].args_text(), "z");
    assert_eq!(df.render(), text);
}

fn dockerfile_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("FROM ubuntu:22.04 AS b".to_string()),
        Just("RUN a \\".to_string()),
        Just("RUN <<EOF".to_string()),
        Just("RUN <<-X cat <<Y".to_string()),
        Just("EOF".to_string()),
        Just("\tX".to_string()),
        Just("# escape=`".to_string()),
        Just("# c".to_string()),
        Just("".to_string()),
        Just("CMD [\"a\", \"b\\u00e9\"]".to_string()),
        Just("ONBUILD".to_string()),
        Just("ONBUILD RUN --mount=x y".to_string()),
        Just("ENV A=1 B=\"2 3\"".to_string()),
        Just("EXPOSE ${P:-1}".to_string()),
        "[ -~\t\\\\`'\"$<{}]{0,30}".prop_map(|s| s),
        "\\PC{0,12}".prop_map(|s| s),
    ];
    (
        prop::collection::vec(line, 0..14),
        prop::collection::vec(prop_oneof![Just("\n"), Just("\r\n"), Just("\\\n")], 14),
    )
        .prop_map(|(lines, ends)| {
            let mut s = String::new();
            for (i, l) in lines.iter().enumerate() {
                s.push_str(l);
                s.push_str(ends[i % ends.len()]);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_and_round_trips(s in "\\PC{0,200}") {
        let df = Dockerfile::parse(&s);
        prop_assert_eq!(df.render(), s.clone());
        let m = model::Model::build(&df);
        let _ = m.stages.len();
        // Rules see the same arbitrary text and must not panic either.
        let _ = crate::analyze::analyze_text(std::path::Path::new("Dockerfile"), &s, &crate::analyze::AnalyzeOptions::default());
    }

    #[test]
    fn dockerfile_like_text_round_trips_with_valid_spans(s in dockerfile_like()) {
        let df = Dockerfile::parse(&s);
        prop_assert_eq!(df.render(), s.clone());
        // Items tile the file.
        let mut pos = 0;
        for it in &df.items {
            prop_assert_eq!(it.range.start, pos);
            pos = it.range.end;
        }
        prop_assert_eq!(pos, s.len());
        let m = model::Model::build(&df);
        for info in &m.instrs {
            for w in &info.ins.words {
                prop_assert!(w.range.start <= w.range.end && w.range.end <= s.len());
                prop_assert!(s.is_char_boundary(w.range.start) && s.is_char_boundary(w.range.end));
            }
            for c in &info.script.commands {
                for w in &c.words {
                    prop_assert!(w.range.end <= s.len());
                }
            }
        }
        // Whole analysis never panics either.
        let _ = crate::analyze::analyze_text(std::path::Path::new("Dockerfile"), &s, &crate::analyze::AnalyzeOptions::default());
    }
}

#[test]
fn stage_references_resolve_by_name_or_index_among_earlier_stages() {
    let text = "FROM ubuntu:22.04 AS Build\nFROM build AS run\nFROM ubuntu:22.04 AS build\nFROM alpine AS 1\nFROM BUILD\n";
    let df = Dockerfile::parse(text);
    let m = model::Model::build(&df);
    // FROM resolves to the first stage of that name, any case; the later duplicate does not win.
    assert_eq!(m.stages[1].parent, Some(0));
    assert_eq!(m.stages[4].parent, Some(0));
    assert_eq!(m.stage_named("BUILD", 4), Some(0));
    assert_eq!(m.stage_named("build", 0), None, "only earlier stages");
    assert_eq!(m.stage_named("run", 1), None);
    assert_eq!(m.stage_named("run", 2), Some(1));
    // `--from=1`: index 1 comes before the stage named "1" (index 3); `01` is no index.
    assert_eq!(m.stage_ref("1", 5), Some(1));
    assert_eq!(m.stage_ref("1", 1), None);
    assert_eq!(m.stage_ref("01", 5), None);
    assert_eq!(m.stage_ref("Run", 5), Some(1));
    assert_eq!(m.stage_ref("9", 99), None, "no such stage");
}

#[test]
fn a_chain_of_stages_without_env_looks_variables_up_in_one_step() {
    // 2,000 stages each FROM the one before; the ENV of the first is seen by the last.
    let mut text = String::from("FROM ubuntu:22.04 AS s0\nENV A=1\n");
    for i in 1..2000 {
        text.push_str(&format!("FROM s{} AS s{i}\n", i - 1));
    }
    text.push_str("ENV B=$A\nRUN echo $B\n");
    let df = Dockerfile::parse(&text);
    let m = model::Model::build(&df);
    let last = m.instrs.len() - 1;
    assert_eq!(m.expand_at(last, "$A-$B").text, "1-1");
}
