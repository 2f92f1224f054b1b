//! PEP 440 versions and specifiers through `pep440_rs` (the grammar pip and uv use), with the few questions
//! the rules ask: order two versions, does a version satisfy `(op, version)` pairs, which `X.Y` series a set of
//! specifiers pins, and which candidate series is the newest one allowed.
//!
//! Versions that are not PEP 440 (driver versions such as `550.54.14` are, but `cu124` is not) fall back to a
//! dotted numeric comparison so callers never have to care which kind they hold.

use std::cmp::Ordering;
use std::str::FromStr;

pub use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};

/// Parse a PEP 440 version (`2.6.0.dev20240901`, `2.5.1+cu124`, `1!2.0.post1`); `None` when it is not one.
pub fn parse(v: &str) -> Option<Version> {
    let v = v.trim();
    if v.is_empty() || v.len() > 256 {
        return None;
    }
    Version::from_str(v).ok()
}

/// Order two versions by PEP 440 (`2.6.0.dev1 < 2.6.0rc1 < 2.6.0 < 2.6.0.post1`); local labels (`+cu124`) are
/// ignored, as specifiers ignore them. Strings that are not PEP 440 compare as dotted numbers.
pub fn cmp(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.without_local().cmp(&y.without_local()),
        _ => cmp_numeric(a, b),
    }
}

/// Dotted numeric comparison ("2.10" > "2.9"); non-numeric parts compare as 0; text after `+` is ignored.
fn cmp_numeric(a: &str, b: &str) -> Ordering {
    let parse = |s: &str| -> Vec<u64> {
        s.split('+')
            .next()
            .unwrap_or(s)
            .split('.')
            .map(|p| {
                p.chars()
                    .take_while(|c| c.is_ascii_digit())
                    .take(18)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (x, y) = (parse(a), parse(b));
    for i in 0..x.len().max(y.len()) {
        let o = x
            .get(i)
            .copied()
            .unwrap_or(0)
            .cmp(&y.get(i).copied().unwrap_or(0));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// `"~="` + `"2.2.1"` -> a specifier; `None` when the pair is not valid PEP 440 (`<>`, `~=2`, `>=abc`).
pub fn specifier(op: &str, version: &str) -> Option<VersionSpecifier> {
    if version.len() > 256 {
        return None;
    }
    VersionSpecifier::from_str(&format!("{op}{version}")).ok()
}

/// The specifiers of `(op, version)` pairs; `None` when any pair is invalid.
pub fn specifiers(specs: &[(String, String)]) -> Option<Vec<VersionSpecifier>> {
    specs.iter().map(|(op, v)| specifier(op, v)).collect()
}

/// Does `version` satisfy every pair (PEP 440 semantics: `~=2.2.1` is `>=2.2.1, ==2.2.*`, `<2.6` excludes
/// `2.6.0.dev1`, local labels are ignored unless the specifier has one)? An unreadable version or pair never
/// satisfies.
pub fn satisfies(version: &str, specs: &[(String, String)]) -> bool {
    let Some(v) = parse(version) else {
        return false;
    };
    match specifiers(specs) {
        Some(s) => s.iter().all(|s| s.contains(&v)),
        None => false,
    }
}

/// "2.7.1+cu126" -> "2.7"; "2.6.0.dev20240901" -> "2.6"; "2" -> None.
pub fn series_of(version: &str) -> Option<String> {
    if let Some(v) = parse(version) {
        let r = v.release();
        return (r.len() >= 2).then(|| format!("{}.{}", r[0], r[1]));
    }
    let v = version.split('+').next().unwrap_or(version);
    let mut it = v.split('.');
    let a = it.next()?.trim();
    let b = it.next()?.trim();
    let b: String = b.chars().take_while(|c| c.is_ascii_digit()).collect();
    if a.is_empty() || b.is_empty() || !a.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("{a}.{b}"))
}

/// The one `X.Y` series every version allowed by `specs` belongs to, if there is one: `==2.2.1`, `==2.2.*`,
/// `~=2.2.1` (= `>=2.2.1,<2.3`), `>=2.2,<2.3`. `~=2.2` (= `>=2.2,<3`), `>=2.2` and an empty list name no
/// single series.
pub fn single_series(specs: &[(String, String)]) -> Option<String> {
    let parsed = specifiers(specs)?;
    // The highest lower bound decides the series; an upper bound must then close it.
    let mut lower: Option<(u64, u64)> = None;
    for s in &parsed {
        let r = s.version().release();
        let lower_op = matches!(
            s.operator(),
            Operator::Equal
                | Operator::ExactEqual
                | Operator::EqualStar
                | Operator::TildeEqual
                | Operator::GreaterThan
                | Operator::GreaterThanEqual
        );
        if lower_op {
            let key = (r[0], r.get(1).copied().unwrap_or(0));
            if lower.is_none_or(|l| key > l) {
                lower = Some(key);
            }
        }
    }
    let (major, minor) = lower?;
    let next = Version::new([major, minor + 1]);
    let closed = parsed.iter().any(|s| {
        let v = s.version();
        let r = v.release();
        let in_series = r[0] == major && r.get(1).copied().unwrap_or(0) == minor;
        match s.operator() {
            Operator::Equal | Operator::ExactEqual => in_series,
            Operator::EqualStar => in_series && r.len() >= 2,
            Operator::TildeEqual => in_series && r.len() >= 3,
            Operator::LessThan => v.clone().without_local() <= next,
            Operator::LessThanEqual => v.clone().without_local() < next.clone().with_dev(Some(0)),
            _ => false,
        }
    });
    closed.then(|| format!("{major}.{minor}"))
}

/// The newest of `series` ("2.5", "2.10", ...) that has a release `specs` allows. A series counts as allowed
/// when its first release (`X.Y.0`) or a later patch in it could match: we test `X.Y.0` and, for a lower bound
/// inside the series (`>=2.5.1`, `~=2.5.1`), that bound itself.
pub fn newest_allowed_series<'a>(
    series: impl IntoIterator<Item = &'a str>,
    specs: &[(String, String)],
) -> Option<&'a str> {
    let parsed = specifiers(specs)?;
    let probes_for = |s: &str| -> Vec<Version> {
        let mut out: Vec<Version> = parse(&format!("{s}.0")).into_iter().collect();
        for sp in &parsed {
            if series_of(&sp.version().to_string()).as_deref() == Some(s) {
                out.push(sp.version().clone().without_local());
            }
        }
        out
    };
    series
        .into_iter()
        .filter(|s| {
            probes_for(s)
                .iter()
                .any(|v| parsed.iter().all(|sp| sp.contains(v)))
        })
        .max_by(|a, b| cmp(a, b))
}

/// Is this a pre-release or dev build (`2.6.0rc1`, `2.8.0.dev20250318`)? Such versions follow other pairings
/// (nightlies) than the released series in the compatibility data.
pub fn is_prerelease(version: &str) -> bool {
    parse(version).is_some_and(|v| v.any_prerelease())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(op: &str, v: &str) -> Vec<(String, String)> {
        vec![(op.to_string(), v.to_string())]
    }

    #[test]
    fn nightlies_and_prereleases_order_before_the_release() {
        assert_eq!(cmp("2.6.0.dev20240901", "2.6.0"), Ordering::Less);
        assert_eq!(cmp("2.6.0rc1", "2.6.0"), Ordering::Less);
        assert_eq!(cmp("2.6.0.dev20240901", "2.6.0rc1"), Ordering::Less);
        assert_eq!(cmp("2.6.0.post1", "2.6.0"), Ordering::Greater);
        assert_eq!(cmp("2.10", "2.9"), Ordering::Greater);
        // Local labels are ignored, as pip's specifiers ignore them.
        assert_eq!(cmp("2.5.1+cu124", "2.5.1"), Ordering::Equal);
        // Driver versions are PEP 440 too; non-PEP 440 text falls back to numbers.
        assert_eq!(cmp("550.54.14", "535.104.05"), Ordering::Greater);
        assert_eq!(cmp("12.4-x", "12.10-x"), Ordering::Less);
    }

    #[test]
    fn compatible_release_reads_as_one_series() {
        assert_eq!(single_series(&p("~=", "2.2.1")).as_deref(), Some("2.2"));
        assert!(satisfies("2.2.5", &p("~=", "2.2.1")));
        assert!(!satisfies("2.3.0", &p("~=", "2.2.1")));
        assert!(!satisfies("2.2.0", &p("~=", "2.2.1")));
        // `~=2.2` is >=2.2,<3: no single series.
        assert_eq!(single_series(&p("~=", "2.2")), None);
        assert!(satisfies("2.9.0", &p("~=", "2.2")));
    }

    #[test]
    fn bounded_ranges_name_their_series_and_open_ones_do_not() {
        let r = vec![
            (">=".to_string(), "2.2.1".to_string()),
            ("<".to_string(), "2.3".to_string()),
        ];
        assert_eq!(single_series(&r).as_deref(), Some("2.2"));
        assert_eq!(single_series(&p("==", "2.4.*")).as_deref(), Some("2.4"));
        assert_eq!(
            single_series(&p("==", "2.4.1+cu121")).as_deref(),
            Some("2.4")
        );
        assert_eq!(single_series(&p(">=", "2.2")), None);
        let wide = vec![
            (">=".to_string(), "2.2".to_string()),
            ("<".to_string(), "2.5".to_string()),
        ];
        assert_eq!(single_series(&wide), None);
        assert_eq!(single_series(&[]), None);
    }

    #[test]
    fn newest_allowed_series_respects_bounds() {
        let all = ["2.1", "2.2", "2.3", "2.10"];
        assert_eq!(newest_allowed_series(all, &p("~=", "2.2.1")), Some("2.2"));
        assert_eq!(newest_allowed_series(all, &p(">=", "2.2")), Some("2.10"));
        assert_eq!(newest_allowed_series(all, &p("<", "2.3")), Some("2.2"));
        assert_eq!(newest_allowed_series(all, &[]), Some("2.10"));
        assert_eq!(newest_allowed_series(all, &p(">", "3.0")), None);
    }

    #[test]
    fn invalid_operators_and_versions_are_rejected() {
        assert!(specifier("<>", "2.0").is_none());
        assert!(specifier("~=", "2").is_none());
        assert!(specifier(">=", "abc").is_none());
        assert!(!satisfies("2.0", &p("<>", "2.0")));
        assert!(specifier(">=", "2.0").is_some());
    }

    #[test]
    fn dev_builds_satisfy_ranges_as_pep440_says() {
        // `<2.6` excludes the 2.6 nightlies; `>=2.6.0.dev0` takes them.
        assert!(!satisfies("2.6.0.dev20240901", &p("<", "2.6")));
        assert!(satisfies("2.6.0.dev20240901", &p(">=", "2.6.0.dev0")));
        assert!(satisfies("2.5.1+cu124", &p("==", "2.5.1")));
        assert!(!satisfies("2.5.1", &p("==", "2.5.1+cu124")));
        assert!(is_prerelease("2.6.0.dev20240901"));
        assert!(!is_prerelease("2.6.0"));
        assert_eq!(series_of("2.6.0.dev20240901").as_deref(), Some("2.6"));
    }
}
