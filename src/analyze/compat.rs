//! Compatibility facts (torch / CUDA / driver / image tags) loaded from `assets/compat.toml`, plus optional user
//! rows. The rules ask questions of this data; no version fact lives in rule code.

use regex_lite::Regex;
use serde::Deserialize;
use std::cmp::Ordering;

/// The data as written (the tests compare the generated rows with it); the binary carries only the rows.
#[cfg(test)]
pub const EMBEDDED: &str = include_str!("../../assets/compat.toml");

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TorchRow {
    pub series: String,
    pub torchvision: String,
    pub torchaudio: String,
    pub cuda: Vec<String>,
    pub default_cuda: String,
    pub python: Vec<String>,
    pub cudnn: u32,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct CudaDriverRow {
    pub cuda: String,
    pub min_driver: String,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MinorCompatRow {
    pub major: u32,
    pub min_driver: String,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ArchRow {
    pub family: String,
    pub examples: Vec<String>,
    pub cc: String,
    pub min_cuda: Option<String>,
    pub min_torch: Option<String>,
    pub variants: Vec<String>,
    /// "series+variant" builds that lack this arch although the variant usually has it, e.g. "2.7+cu128".
    pub except: Vec<String>,
    pub note: Option<String>,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ImageRow {
    pub name: String,
    pub repos: Vec<String>,
    pub tag: String,
    pub torch_preinstalled: bool,
    pub example: Option<String>,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct CudaTagRow {
    pub cuda: String,
    pub version: String,
    /// The cuDNN segment of this release's cuDNN tags (`cudnn8`, `cudnn9`, `cudnn`), when known.
    pub cudnn: Option<String>,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct OsPythonRow {
    pub os: String,
    pub python: String,
    pub source: Option<String>,
    pub confidence: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct CompatFile {
    pub torch: Vec<TorchRow>,
    pub cuda_driver: Vec<CudaDriverRow>,
    pub cuda_minor_compat: Vec<MinorCompatRow>,
    pub arch: Vec<ArchRow>,
    pub image: Vec<ImageRow>,
    pub cuda_tag: Vec<CudaTagRow>,
    pub os_python: Vec<OsPythonRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    #[error("compat data: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("compat data: row {row} is missing `source` or `confidence`")]
    NoProvenance { row: String },
    #[error("compat data: bad tag pattern for {name}: {err}")]
    Pattern { name: String, err: String },
}

/// The embedded rows: build.rs turns assets/compat.toml into the code that builds them (no parse at start).
#[allow(clippy::needless_update)] // every row ends in `..Default::default()`, whether or not a field is left
fn embedded_data() -> CompatFile {
    include!(concat!(env!("OUT_DIR"), "/compat_rows.rs"))
}

/// A value of the generated rows, converted to its field's type (chosen by the field, so a row needs no types).
trait Lit<T> {
    fn lit(self) -> T;
}

impl Lit<String> for &str {
    fn lit(self) -> String {
        self.to_string()
    }
}

impl Lit<Option<String>> for &str {
    fn lit(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Lit<Vec<String>> for &[&str] {
    fn lit(self) -> Vec<String> {
        self.iter().map(|s| s.to_string()).collect()
    }
}

impl Lit<u32> for i64 {
    fn lit(self) -> u32 {
        // build.rs writes the TOML's integers; the rows are compared with the TOML parse in the tests.
        u32::try_from(self).unwrap_or(u32::MAX)
    }
}

impl Lit<bool> for bool {
    fn lit(self) -> bool {
        self
    }
}

fn lit<T, L: Lit<T>>(value: L) -> T {
    value.lit()
}

/// What we learned from a base image reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    /// Which `[[image]]` row matched (e.g. "pytorch", "nvidia-cuda").
    pub kind: String,
    pub repo: String,
    pub tag: String,
    pub torch: Option<String>,
    /// CUDA major.minor.
    pub cuda: Option<String>,
    pub cudnn: Option<String>,
    pub flavor: Option<String>,
    pub os: Option<String>,
    pub python: Option<String>,
    pub torch_preinstalled: bool,
}

/// How a host driver relates to a CUDA version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverFit {
    /// At or above the toolkit's own minimum driver.
    Full,
    /// Below it but within the major version's minor-version compatibility (limited features, no PTX JIT of newer code).
    MinorCompat,
    TooOld,
    /// No facts for that CUDA version.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Compat {
    pub data: CompatFile,
    /// Each image row's tag pattern, compiled when a reference with that row's repository is first seen:
    /// `dockui check` of one Dockerfile starts faster than when all were compiled up front.
    patterns: Vec<std::sync::OnceLock<Option<Regex>>>,
}

impl Compat {
    /// The embedded data, parsed once per process (TOML and tag regexes are not free).
    pub fn shared() -> &'static Compat {
        static C: std::sync::OnceLock<Compat> = std::sync::OnceLock::new();
        C.get_or_init(Compat::embedded)
    }

    /// The embedded data; it is tested, so failing here is a build defect.
    pub fn embedded() -> Compat {
        // The embedded file is covered by a unit test; fall back to no facts rather than panic.
        Compat::from_data(embedded_data(), None).unwrap_or_else(|_| Compat {
            data: CompatFile::default(),
            patterns: vec![],
        })
    }

    /// The embedded data plus the user's rows (`extra`, TOML of the same shape).
    pub fn with_user_rows(extra: &str) -> Result<Compat, CompatError> {
        Compat::from_data(embedded_data(), Some(extra))
    }

    /// `base` (TOML) plus user rows (`extra`, TOML of the same shape); the tests build tables with it.
    #[cfg(test)]
    pub fn from_toml(base: &str, extra: Option<&str>) -> Result<Compat, CompatError> {
        Compat::from_data(toml::from_str(base)?, extra)
    }

    fn from_data(mut data: CompatFile, extra: Option<&str>) -> Result<Compat, CompatError> {
        let mut extra_images = 0;
        if let Some(extra) = extra {
            let more: CompatFile = toml::from_str(extra)?;
            check_provenance(&more)?;
            data.torch.extend(more.torch);
            data.cuda_driver.extend(more.cuda_driver);
            data.cuda_minor_compat.extend(more.cuda_minor_compat);
            data.arch.extend(more.arch);
            extra_images = more.image.len();
            data.image.extend(more.image);
            data.cuda_tag.extend(more.cuda_tag);
            data.os_python.extend(more.os_python);
        }
        // Patterns are checked here only for the user's rows (an error must name their file); the embedded
        // ones are covered by a unit test and compiled on first use.
        let base_rows = data.image.len() - extra_images;
        let mut patterns = Vec::new();
        for (i, row) in data.image.iter().enumerate() {
            let cell = std::sync::OnceLock::new();
            if i >= base_rows {
                match Regex::new(&row.tag) {
                    Ok(r) => {
                        let _ = cell.set(Some(r));
                    }
                    Err(e) => {
                        return Err(CompatError::Pattern {
                            name: row.name.clone(),
                            err: e.to_string(),
                        });
                    }
                }
            }
            patterns.push(cell);
        }
        Ok(Compat { data, patterns })
    }

    /// The row for torch `version` (later rows win, so user rows override).
    pub fn torch(&self, version: &str) -> Option<&TorchRow> {
        let series = series_of(version)?;
        self.data.torch.iter().rev().find(|r| r.series == series)
    }

    /// The newest torch series that ships `variant` (e.g. "cu124").
    pub fn newest_torch_with(&self, variant: &str) -> Option<&TorchRow> {
        self.data
            .torch
            .iter()
            .filter(|r| r.cuda.iter().any(|c| c == variant))
            .max_by(|a, b| cmp_versions(&a.series, &b.series))
    }

    pub fn newest_torch(&self) -> Option<&TorchRow> {
        self.data
            .torch
            .iter()
            .max_by(|a, b| cmp_versions(&a.series, &b.series))
    }

    pub fn min_driver(&self, cuda: &str) -> Option<&CudaDriverRow> {
        self.data.cuda_driver.iter().rev().find(|r| r.cuda == cuda)
    }

    pub fn cuda_tag(&self, cuda: &str) -> Option<&CudaTagRow> {
        self.data.cuda_tag.iter().rev().find(|r| r.cuda == cuda)
    }

    pub fn os_python(&self, os: &str) -> Option<&OsPythonRow> {
        self.data.os_python.iter().rev().find(|r| r.os == os)
    }

    /// Can a host driver (e.g. "550.54.14", from NVML) run code built for CUDA `cuda` ("12.4")?
    pub fn driver_fit(&self, driver: &str, cuda: &str) -> DriverFit {
        if let Some(row) = self.min_driver(cuda) {
            if cmp_versions(driver, &row.min_driver) != Ordering::Less {
                return DriverFit::Full;
            }
        }
        let major: Option<u32> = cuda.split('.').next().and_then(|m| m.parse().ok());
        if let Some(m) = major.and_then(|m| {
            self.data
                .cuda_minor_compat
                .iter()
                .rev()
                .find(|r| r.major == m)
        }) {
            if cmp_versions(driver, &m.min_driver) != Ordering::Less {
                return if self.min_driver(cuda).is_some() {
                    DriverFit::MinorCompat
                } else {
                    DriverFit::Unknown
                };
            }
            return DriverFit::TooOld;
        }
        if self.min_driver(cuda).is_some() {
            DriverFit::TooOld
        } else {
            DriverFit::Unknown
        }
    }

    /// The GPU family row for a compute capability ("9.0"), and whether a wheel variant carries code for it.
    pub fn arch(&self, cc: &str) -> Option<&ArchRow> {
        self.data.arch.iter().rev().find(|r| r.cc == cc)
    }

    pub fn variant_supports_cc(&self, variant: &str, cc: &str) -> Option<bool> {
        self.arch(cc)
            .map(|r| r.variants.iter().any(|v| v == variant))
    }

    /// Does torch `series`' `variant` build carry code for compute capability `cc`? None when the data has
    /// no row for that arch.
    pub fn torch_supports_cc(&self, series: &str, variant: &str, cc: &str) -> Option<bool> {
        let row = self.arch(cc)?;
        let too_old = row
            .min_torch
            .as_deref()
            .is_some_and(|m| cmp_versions(series, m) == Ordering::Less);
        let excepted = row
            .except
            .iter()
            .any(|e| e == &format!("{series}+{variant}"));
        Some(row.variants.iter().any(|v| v == variant) && !too_old && !excepted)
    }

    /// Recognise a base image reference (`repo[:tag][@digest]`).
    pub fn image(&self, reference: &str) -> Option<ImageFacts> {
        let (repo, tag) = split_reference(reference);
        let repo = normalise_repo(&repo);
        for (row, pat) in self.data.image.iter().zip(&self.patterns).rev() {
            if !row.repos.iter().any(|r| r == &repo) {
                continue;
            }
            let mut f = ImageFacts {
                kind: row.name.clone(),
                repo: repo.clone(),
                tag: tag.clone().unwrap_or_default(),
                torch_preinstalled: row.torch_preinstalled,
                ..Default::default()
            };
            let pat = pat.get_or_init(|| Regex::new(&row.tag).ok()).as_ref();
            if let (Some(pat), Some(tag)) = (pat, &tag) {
                if let Some(c) = pat.captures(tag) {
                    let g = |n: &str| {
                        c.name(n)
                            .map(|m| m.as_str().to_string())
                            .filter(|s| !s.is_empty())
                    };
                    f.torch = g("torch");
                    f.cuda = g("cuda");
                    f.cudnn = g("cudnn");
                    f.flavor = g("flavor");
                    f.os = g("os");
                    f.python = g("python");
                }
            }
            if f.python.is_none() {
                if let Some(os) = &f.os {
                    f.python = self.os_python(os).map(|r| r.python.clone());
                }
            }
            return Some(f);
        }
        None
    }
}

fn check_provenance(f: &CompatFile) -> Result<(), CompatError> {
    let missing = |s: &Option<String>, c: &Option<String>| s.is_none() && c.is_none();
    for r in &f.torch {
        if missing(&r.source, &r.confidence) {
            return Err(CompatError::NoProvenance {
                row: format!("torch {}", r.series),
            });
        }
    }
    for r in &f.cuda_driver {
        if missing(&r.source, &r.confidence) {
            return Err(CompatError::NoProvenance {
                row: format!("cuda_driver {}", r.cuda),
            });
        }
    }
    for r in &f.image {
        if missing(&r.source, &r.confidence) {
            return Err(CompatError::NoProvenance {
                row: format!("image {}", r.name),
            });
        }
    }
    Ok(())
}

/// Split `registry/repo:tag@digest` into (repo, tag); the digest is dropped.
pub fn split_reference(reference: &str) -> (String, Option<String>) {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    let last_slash = no_digest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match no_digest[last_slash..].find(':') {
        Some(i) => (
            no_digest[..last_slash + i].to_string(),
            Some(no_digest[last_slash + i + 1..].to_string()),
        ),
        None => (no_digest.to_string(), None),
    }
}

/// `docker.io/library/python` -> `python`; `index.docker.io/nvidia/cuda` -> `nvidia/cuda`.
pub fn normalise_repo(repo: &str) -> String {
    let r = repo.to_ascii_lowercase();
    let r = r
        .strip_prefix("docker.io/")
        .or_else(|| r.strip_prefix("index.docker.io/"))
        .or_else(|| r.strip_prefix("registry-1.docker.io/"))
        .unwrap_or(&r)
        .to_string();
    r.strip_prefix("library/")
        .map(|s| s.to_string())
        .unwrap_or(r)
}

/// "2.7.1+cu126" -> "2.7"; "2.6.0.dev20240901" -> "2.6"; "2" -> None (PEP 440, see [`super::version`]).
pub fn series_of(version: &str) -> Option<String> {
    super::version::series_of(version)
}

/// Order two versions by PEP 440 ("2.10" > "2.9", `2.6.0.dev1 < 2.6.0`, local labels ignored); text that is
/// not PEP 440 compares as dotted numbers.
pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    super::version::cmp(a, b)
}

/// "12.4" -> "cu124"; "11.8" -> "cu118".
pub fn cuda_to_variant(cuda: &str) -> Option<String> {
    let mut it = cuda.split('.');
    let major = it.next()?;
    let minor = it.next().unwrap_or("0");
    if major.is_empty()
        || !major.chars().all(|c| c.is_ascii_digit())
        || !minor.chars().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some(format!("cu{major}{minor}"))
}

/// "cu124" -> "12.4"; "cu118" -> "11.8"; "cu130" -> "13.0".
pub fn variant_to_cuda(v: &str) -> Option<String> {
    let d = v.strip_prefix("cu")?;
    if d.len() < 3 || !d.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(format!("{}.{}", &d[..2], &d[2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_build_rs_embeds_are_the_rows_of_compat_toml() {
        let from_toml: CompatFile = toml::from_str(EMBEDDED).expect("compat.toml parses");
        assert!(!from_toml.torch.is_empty() && !from_toml.image.is_empty());
        assert_eq!(format!("{:?}", embedded_data()), format!("{from_toml:?}"));
        assert_eq!(
            format!("{:?}", Compat::embedded().data),
            format!("{from_toml:?}")
        );
    }

    #[test]
    fn embedded_data_loads_and_every_row_has_provenance() {
        let c = Compat::from_toml(EMBEDDED, None).expect("embedded compat.toml parses");
        check_provenance(&c.data).expect("provenance");
        // Embedded tag patterns are compiled on first use: each must compile.
        for r in &c.data.image {
            assert!(Regex::new(&r.tag).is_ok(), "{}: {}", r.name, r.tag);
        }
        for r in &c.data.cuda_tag {
            assert!(r.source.is_some() || r.confidence.is_some(), "{}", r.cuda);
        }
        for r in &c.data.arch {
            assert!(r.source.is_some() || r.confidence.is_some(), "{}", r.cc);
        }
        for r in &c.data.os_python {
            assert!(r.source.is_some() || r.confidence.is_some(), "{}", r.os);
        }
        assert_eq!(
            c.torch("2.7.1").map(|r| r.default_cuda.as_str()),
            Some("cu126")
        );
        assert_eq!(
            c.torch("2.10.0").map(|r| r.torchvision.as_str()),
            Some("0.25")
        );
        assert_eq!(
            c.newest_torch_with("cu124").map(|r| r.series.as_str()),
            Some("2.6")
        );
        assert_eq!(
            c.min_driver("12.4").map(|r| r.min_driver.as_str()),
            Some("550.54.14")
        );
    }

    #[test]
    fn torchvision_rule_holds_in_the_data() {
        // torchvision minor = torch minor + 15 for torch 2.x (0.15 <-> 2.0 ... 0.28 <-> 2.13): a cross-check of the table.
        let c = Compat::embedded();
        for r in c.data.torch.iter().filter(|r| r.series.starts_with("2.")) {
            let tm: u32 = r.series[2..].parse().unwrap();
            assert_eq!(r.torchvision, format!("0.{}", tm + 15), "{}", r.series);
        }
    }

    #[test]
    fn recognises_images() {
        let c = Compat::embedded();
        let f = c
            .image("pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime")
            .unwrap();
        assert_eq!(
            (f.torch.as_deref(), f.cuda.as_deref(), f.flavor.as_deref()),
            (Some("2.5.1"), Some("12.4"), Some("runtime"))
        );
        assert!(f.torch_preinstalled);
        let f = c
            .image("ghcr.io/pytorch/pytorch:2.1.0-cuda11.8-cudnn8-devel")
            .unwrap();
        assert_eq!(f.cuda.as_deref(), Some("11.8"));
        let f = c
            .image("docker.io/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04")
            .unwrap();
        assert_eq!(
            (f.cuda.as_deref(), f.os.as_deref(), f.python.as_deref()),
            (Some("12.4"), Some("ubuntu22.04"), Some("3.10"))
        );
        let f = c
            .image("nvidia/cuda:12.8.1-devel-ubuntu24.04@sha256:abcd")
            .unwrap();
        assert_eq!(f.flavor.as_deref(), Some("devel"));
        assert_eq!(
            c.image("python:3.11-slim").unwrap().python.as_deref(),
            Some("3.11")
        );
        assert!(c.image("ubuntu:22.04").is_none());
    }

    #[test]
    fn user_rows_extend_and_override() {
        let extra = "[[torch]]\nseries = \"2.14\"\ntorchvision = \"0.29\"\ncuda = [\"cu132\"]\ndefault_cuda = \"cu132\"\npython = [\"3.11\", \"3.14\"]\nconfidence = \"unconfirmed\"\n";
        let c = Compat::from_toml(EMBEDDED, Some(extra)).unwrap();
        assert_eq!(
            c.torch("2.14.0").map(|r| r.torchvision.as_str()),
            Some("0.29")
        );
        let bad = "[[torch]]\nseries = \"2.14\"\n";
        assert!(matches!(
            Compat::from_toml(EMBEDDED, Some(bad)),
            Err(CompatError::NoProvenance { .. })
        ));
    }

    #[test]
    fn driver_and_arch_helpers() {
        let c = Compat::embedded();
        assert_eq!(c.driver_fit("550.54.14", "12.4"), DriverFit::Full);
        assert_eq!(c.driver_fit("535.104.05", "12.6"), DriverFit::MinorCompat);
        assert_eq!(c.driver_fit("535.104.05", "13.0"), DriverFit::TooOld);
        assert_eq!(c.driver_fit("470.82.01", "12.1"), DriverFit::TooOld);
        assert_eq!(c.driver_fit("999", "14.0"), DriverFit::Unknown);
        assert_eq!(c.variant_supports_cc("cu130", "7.0"), Some(false));
        assert_eq!(c.variant_supports_cc("cu128", "12.0"), Some(true));
        assert_eq!(c.variant_supports_cc("cu126", "10.0"), Some(false));
        assert_eq!(c.arch("9.0").map(|r| r.family.as_str()), Some("Hopper"));
        assert_eq!(c.torch_supports_cc("2.7", "cu128", "7.0"), Some(false));
        assert_eq!(c.torch_supports_cc("2.8", "cu128", "7.0"), Some(true));
        assert_eq!(c.torch_supports_cc("1.13", "cu118", "9.0"), Some(false));
        assert_eq!(c.torch_supports_cc("2.5", "cu124", "12.0"), Some(false));
        assert_eq!(c.torch_supports_cc("2.5", "cu124", "6.1"), Some(true));
        assert_eq!(c.torch_supports_cc("2.9", "cu130", "6.1"), Some(false));
        assert_eq!(c.torch_supports_cc("2.9", "cu130", "8.7"), None);
    }

    #[test]
    fn version_helpers() {
        assert_eq!(cmp_versions("2.10", "2.9"), Ordering::Greater);
        assert_eq!(cmp_versions("2.6.0.dev20240901", "2.6.0"), Ordering::Less);
        assert_eq!(cmp_versions("2.5.1+cu124", "2.5.1"), Ordering::Equal);
        assert_eq!(series_of("2.7.1+cu126").as_deref(), Some("2.7"));
        assert_eq!(cuda_to_variant("12.4").as_deref(), Some("cu124"));
        assert_eq!(variant_to_cuda("cu118").as_deref(), Some("11.8"));
        assert_eq!(
            split_reference("localhost:5000/a/b:1.0@sha256:x"),
            ("localhost:5000/a/b".into(), Some("1.0".into()))
        );
    }
}
