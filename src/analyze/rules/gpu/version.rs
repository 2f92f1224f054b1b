//! Torch versions as requirements select them, and PEP 440 specifier matching for release numbers.

use super::*;

/// The torch version a requirement selects: exact pin, wildcard series, or (unpinned) the newest series.
pub(super) fn torch_version<'a>(
    ctx: &'a Ctx,
    r: &Requirement,
) -> Option<(String, &'a TorchRow, bool)> {
    // Nightlies and pre-releases (`2.8.0.dev20250318`, `2.6.0rc1`) follow other pairings: no facts for them.
    if r.specs.iter().any(|(_, v)| {
        v.split('+')
            .next()
            .unwrap_or(v)
            .chars()
            .any(|c| c.is_ascii_alphabetic())
    }) {
        return None;
    }
    if let Some(v) = r.exact_public() {
        return ctx.compat.torch(v).map(|row| (v.to_string(), row, true));
    }
    if let Some(s) = r.series() {
        return ctx.compat.torch(&s).map(|row| (s.clone(), row, false));
    }
    if r.url.is_some() {
        return None;
    }
    // Unpinned or a range: the newest series the specifiers allow (what pip would pick today).
    let allowed = |series: &str| {
        let v = format!("{series}.0");
        r.specs.iter().all(|(op, want)| {
            let o = cmp_versions(&v, want);
            let same = series_of(want).as_deref() == Some(series);
            match op.as_str() {
                // `~=2.2.1` is `>=2.2.1, ==2.2.*`; `~=2.2` is `>=2.2, ==2.*`.
                "~=" => {
                    let parts: Vec<&str> = want.split('.').collect();
                    let ok_low = o != std::cmp::Ordering::Less || same;
                    let ok_high = if parts.len() >= 3 {
                        same
                    } else {
                        series.split('.').next() == parts.first().copied()
                    };
                    ok_low && ok_high
                }
                ">=" => o != std::cmp::Ordering::Less || same,
                ">" => o == std::cmp::Ordering::Greater || same,
                "<" => o == std::cmp::Ordering::Less,
                "<=" => o != std::cmp::Ordering::Greater,
                _ => true,
            }
        })
    };
    ctx.compat
        .data
        .torch
        .iter()
        .filter(|row| allowed(&row.series))
        .max_by(|a, b| cmp_versions(&a.series, &b.series))
        .map(|row| (row.series.clone(), row, false))
}

/// How a torch requirement reads in messages: "2.5.1", "2.7.*", "(unpinned, currently 2.13)".
pub(super) fn shown(t: &Requirement, version: &str, row: &TorchRow, exact: bool) -> String {
    if exact {
        version.to_string()
    } else if t.specs.is_empty() {
        format!("(unpinned, currently {})", row.series)
    } else if t.series().is_none() {
        format!(
            "{} (currently {})",
            t.text
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            row.series
        )
    } else {
        format!("{}.*", row.series)
    }
}

/// Does `version` satisfy every `(op, spec)` pair? PEP 440 enough for release numbers and `.*` wildcards.
pub fn satisfies(version: &str, specs: &[(String, String)]) -> bool {
    use std::cmp::Ordering::*;
    let v = version.split('+').next().unwrap_or(version);
    specs.iter().all(|(op, want)| {
        let w = want.split('+').next().unwrap_or(want);
        if let Some(prefix) = w.strip_suffix(".*") {
            let hit = v == prefix || v.starts_with(&format!("{prefix}."));
            return if op == "!=" { !hit } else { hit };
        }
        let o = cmp_versions(v, w);
        match op.as_str() {
            "==" | "===" => o == Equal,
            "!=" => o != Equal,
            ">=" => o != Less,
            "<=" => o != Greater,
            ">" => o == Greater,
            "<" => o == Less,
            "~=" => {
                // ~=2.4.1 means >=2.4.1, ==2.4.*
                let parts: Vec<&str> = w.split('.').collect();
                let prefix = parts[..parts.len().saturating_sub(1).max(1)].join(".");
                o != Less && (v == prefix || v.starts_with(&format!("{prefix}.")))
            }
            _ => true,
        }
    })
}

#[cfg(test)]
#[cfg(test)]
mod satisfies_tests {
    use super::satisfies;

    fn s(v: &str, op: &str, w: &str) -> bool {
        satisfies(v, &[(op.to_string(), w.to_string())])
    }

    #[test]
    fn specifiers() {
        assert!(s("2.5.1", ">=", "2.4"));
        assert!(!s("2.5.1", ">=", "2.6"));
        assert!(s("2.5.1", "==", "2.5.*"));
        assert!(!s("2.5.1", "==", "2.4.*"));
        assert!(s("2.5.1", "~=", "2.5.0"));
        assert!(!s("2.6.0", "~=", "2.5.0"));
        assert!(s("2.5.1+cu124", "==", "2.5.1"));
        assert!(s("2.10.0", ">", "2.9"));
    }
}
