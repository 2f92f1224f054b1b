//! DU206: the interpreter an install runs under against the python range of the pinned torch release.

use super::*;

pub(super) fn python_range(
    ctx: &Ctx,
    g: &Group,
    t: &Requirement,
    base: Option<&(&Stage, ImageFacts)>,
    out: &mut Vec<Finding>,
) {
    // Only a pinned torch: for an open range pip itself picks a release that supports the interpreter.
    let Some((tv, row, _)) =
        torch_version(ctx, t).filter(|(_, _, exact)| *exact || t.series().is_some())
    else {
        return;
    };
    if row.python.len() != 2 {
        return;
    }
    // The interpreter: `python3.X -m pip`, conda's python=, or the base image's python.
    let (py, why_py) = if let Some(p) = g
        .install
        .python
        .as_deref()
        .and_then(|p| p.strip_prefix("python"))
        .filter(|v| v.contains('.'))
    {
        (p.to_string(), format!("pip runs under python{p}"))
    } else if let Some(p) = g.install.conda_python.as_deref() {
        (
            p.trim_end_matches(".*").to_string(),
            format!("conda installs python={p}"),
        )
    } else if let Some((st, f)) = base {
        match &f.python {
            Some(p) => (
                p.clone(),
                format!("base image {} has python {p}", st.image.text),
            ),
            None => return,
        }
    } else {
        return;
    };
    let Some(py_series) = series_of(&py) else {
        return;
    };
    let (lo, hi) = (&row.python[0], &row.python[1]);
    if cmp_versions(&py_series, lo) == std::cmp::Ordering::Less
        || cmp_versions(&py_series, hi) == std::cmp::Ordering::Greater
    {
        out.push(
            req_finding(ctx, RuleId::DU206, t, format!("torch {tv} supports python {lo}-{hi}; this install uses python {py_series}"))
                .why("There is no torch wheel for that interpreter: pip fails with 'No matching distribution found for torch' or picks an old release.")
                .fact(format!("torch {} supports python {lo}-{hi}", row.series))
                .fact(why_py),
        );
    }
}
