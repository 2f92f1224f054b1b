//! The cost warning shown before a CodeBuild build starts: compute type, expected duration (from dockui's
//! record of this project's finished CodeBuild builds, else the table's default) and a price estimate from
//! `assets/codebuild-prices.toml`.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

const PRICES: &str = include_str!("../../assets/codebuild-prices.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct PriceTable {
    pub currency: String,
    pub region: String,
    pub source: String,
    pub checked: String,
    pub default_minutes: f64,
    pub default_compute_type: String,
    pub per_minute: BTreeMap<String, f64>,
}

pub fn prices() -> PriceTable {
    toml::from_str(PRICES).expect("assets/codebuild-prices.toml is valid")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub compute_type: String,
    pub expected_s: f64,
    /// "the mean of the last 3 builds" or "no finished build yet: the default".
    pub expected_from: String,
    /// None: the compute type is not in the table.
    pub cost: Option<f64>,
    pub currency: String,
    pub price_note: String,
}

/// Billed minutes are whole minutes, at least one.
pub fn estimate(compute_type: &str, past_durations_s: &[f64]) -> Estimate {
    let table = prices();
    let recent: Vec<f64> = past_durations_s.iter().rev().take(5).copied().collect();
    let (expected_s, expected_from) = if recent.is_empty() {
        (
            table.default_minutes * 60.0,
            "no finished CodeBuild build of this project yet: the default".to_string(),
        )
    } else {
        (
            recent.iter().sum::<f64>() / recent.len() as f64,
            format!(
                "the mean of the last {} CodeBuild build(s) of this project",
                recent.len()
            ),
        )
    };
    let minutes = (expected_s / 60.0).ceil().max(1.0);
    let cost = table.per_minute.get(compute_type).map(|p| p * minutes);
    Estimate {
        compute_type: compute_type.to_string(),
        expected_s,
        expected_from,
        cost,
        currency: table.currency.clone(),
        price_note: format!(
            "{} on-demand prices, {}, checked {}",
            table.region, table.source, table.checked
        ),
    }
}

impl Estimate {
    /// The text shown before starting (stderr headless, a popup in the TUI).
    pub fn warning(&self, project: &str, region: &str) -> String {
        let price = match self.cost {
            Some(c) => format!("about {c:.2} {} ({})", self.currency, self.price_note),
            None => format!(
                "unknown: {} is not in dockui's price table (assets/codebuild-prices.toml)",
                self.compute_type
            ),
        };
        format!(
            "This build runs on AWS CodeBuild and costs money.\n  project:       {project} ({region})\n  \
             compute type:  {}\n  expected time: {} ({})\n  estimate:      {price}",
            self.compute_type,
            human_duration(self.expected_s),
            self.expected_from
        )
    }
}

pub fn human_duration(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// One line of `<state dir>/codebuild.jsonl`: every CodeBuild build dockui started, and how it ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct Record {
    pub build_id: String,
    pub project: String,
    pub region: String,
    pub compute_type: String,
    pub status: String,
    pub duration_s: Option<f64>,
}

pub fn append_record(file: &Path, r: &Record) {
    use std::io::Write;
    let line = match serde_json::to_string(r) {
        Ok(l) => l,
        Err(_) => return,
    };
    if let Some(dir) = file.parent() {
        let _ = crate::paths::private_dir(dir);
    }
    match crate::paths::private_file_options().append(true).open(file) {
        Ok(mut f) => {
            let _ = writeln!(f, "{line}");
        }
        Err(e) => log::warn!(
            "cannot record the CodeBuild build in {}: {e}",
            file.display()
        ),
    }
}

pub fn records(file: &Path) -> Vec<Record> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Durations of this project's finished, successful builds, oldest first.
pub fn past_durations(file: &Path, project: &str) -> Vec<f64> {
    records(file)
        .into_iter()
        .filter(|r| r.project == project && r.status == "SUCCEEDED")
        .filter_map(|r| r.duration_s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_uses_history_when_there_is_some() {
        let none = estimate("BUILD_GENERAL1_MEDIUM", &[]);
        assert_eq!(none.expected_s, 600.0);
        assert!(none.expected_from.contains("default"));
        assert_eq!(none.cost, Some(0.10));
        let some = estimate("BUILD_GENERAL1_SMALL", &[1000.0, 90.0, 150.0]);
        assert!((some.expected_s - 1240.0 / 3.0).abs() < 1e-9, "{some:?}");
        assert!(some.expected_from.contains("last 3"));
        // 413.3 s is 7 billed minutes at 0.005.
        assert!((some.cost.unwrap() - 0.035).abs() < 1e-9, "{some:?}");
        let unknown = estimate("BUILD_GENERAL1_2XLARGE", &[]);
        assert_eq!(unknown.cost, None);
        let text = unknown.warning("imgs", "eu-west-1");
        assert!(
            text.contains("BUILD_GENERAL1_2XLARGE") && text.contains("unknown"),
            "{text}"
        );
        assert!(none.warning("imgs", "eu-west-1").contains("about 0.10 USD"));
    }

    #[test]
    fn records_round_trip_and_feed_the_estimate() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s/codebuild.jsonl");
        for (id, status, d) in [
            ("p:1", "SUCCEEDED", Some(60.0)),
            ("p:2", "FAILED", Some(5.0)),
            ("q:1", "SUCCEEDED", Some(9.0)),
        ] {
            append_record(
                &f,
                &Record {
                    build_id: id.into(),
                    project: id[..1].into(),
                    region: "r".into(),
                    compute_type: "BUILD_GENERAL1_SMALL".into(),
                    status: status.into(),
                    duration_s: d,
                },
            );
        }
        assert_eq!(past_durations(&f, "p"), vec![60.0]);
        assert_eq!(records(&f).len(), 3);
    }
}
