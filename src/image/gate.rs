//! The CI gate (like dive's CI mode): limits on efficiency and wasted bytes; missing one fails the job.

use super::ImageReport;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gate {
    /// Fail when efficiency is below this (0..=1).
    pub lowest_efficiency: Option<f64>,
    /// Fail when more bytes than this are wasted.
    pub highest_wasted_bytes: Option<u64>,
}

impl Gate {
    pub fn is_set(&self) -> bool {
        self.lowest_efficiency.is_some() || self.highest_wasted_bytes.is_some()
    }

    pub fn evaluate(&self, r: &ImageReport) -> GateResult {
        let mut checks = Vec::new();
        if let Some(min) = self.lowest_efficiency {
            checks.push(GateCheck {
                name: "lowest-efficiency".into(),
                limit: format!("{min}"),
                actual: format!("{:.4}", r.efficiency),
                passed: r.efficiency >= min,
            });
        }
        if let Some(max) = self.highest_wasted_bytes {
            checks.push(GateCheck {
                name: "highest-wasted-bytes".into(),
                limit: max.to_string(),
                actual: r.wasted_bytes.to_string(),
                passed: r.wasted_bytes <= max,
            });
        }
        GateResult {
            passed: checks.iter().all(|c| c.passed),
            checks,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GateResult {
    pub passed: bool,
    pub checks: Vec<GateCheck>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GateCheck {
    pub name: String,
    pub limit: String,
    pub actual: String,
    pub passed: bool,
}

/// `50MB` (10^6, like dive), `50MiB` (2^20), `1.5GB`, `512K`, `1024` (bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size (examples: 50MB, 1.5GiB, 1048576)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{s}' (use B, KB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    Ok((n * mult).round() as u64)
}

/// Efficiency as dive accepts it: a fraction in 0..=1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number between 0 and 1"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("'{s}' is not between 0 and 1 (0.9 means 90%)"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_dive() {
        assert_eq!(parse_size("50MB"), Ok(50_000_000));
        assert_eq!(parse_size("50MiB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2 kb"), Ok(2000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5XB").unwrap_err().contains("unknown size unit"));
    }

    #[test]
    fn fractions_must_be_between_0_and_1() {
        assert_eq!(parse_fraction("0.9"), Ok(0.9));
        assert!(parse_fraction("90").is_err());
        assert!(parse_fraction("x").is_err());
    }
}
