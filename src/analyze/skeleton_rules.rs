//! First, line-based rules of the walking skeleton. To be replaced by the span-preserving parser and rule families.

use super::*;

pub fn run(df_path: &Path, df: &str, req: Option<(&Path, &str)>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut base_torch: Option<(String, Span)> = None;
    for line in df.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let upper = trimmed.to_ascii_uppercase();
        let span = Span::from_range(
            df,
            offset + (line.len() - trimmed.len()),
            offset + line.trim_end().len(),
        );
        if upper.starts_with("ARG ") || upper.starts_with("FROM ") {
            if let Some(idx) = trimmed.find("pytorch/pytorch:") {
                let tag = &trimmed[idx + "pytorch/pytorch:".len()..];
                let ver: String = tag
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                if !ver.is_empty() {
                    base_torch = Some((ver, span));
                }
            }
        }
        if upper.starts_with("RUN ") {
            if (trimmed.contains("pip install") || trimmed.contains("pip3 install"))
                && !trimmed.contains("--no-cache-dir")
            {
                out.push(
                    Finding::new("DL3042", Severity::Warning, df_path, span, "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`")
                        .why("pip keeps downloaded wheels in the image layer; for torch that is gigabytes of dead weight."),
                );
            }
            if let Some(at) = trimmed.find("apt-get install")
                && !df.contains("DEBIAN_FRONTEND=noninteractive")
            {
                let pos = offset + (line.len() - trimmed.len()) + at;
                out.push(
                    Finding::new("DU101", Severity::Error, df_path, span, "apt-get install without DEBIAN_FRONTEND=noninteractive")
                        .why("tzdata and similar packages prompt on stdin; the build hangs or fails with 'end of file on stdin'.")
                        .with_fix(Fix {
                            id: "DU101-noninteractive".into(),
                            level: FixLevel::Safe,
                            description: "set DEBIAN_FRONTEND=noninteractive for apt-get install".into(),
                            file: df_path.to_path_buf(),
                            edits: vec![TextEdit { start: pos, end: pos, replacement: "DEBIAN_FRONTEND=noninteractive ".into() }],
                        }),
                );
            }
        }
        offset += line.len();
    }
    if let (Some((base_ver, _)), Some((req_path, req_text))) = (base_torch, req) {
        let mut off = 0;
        for line in req_text.split_inclusive('\n') {
            let t = line.trim();
            if let Some(rest) = t.strip_prefix("torch==") {
                let ver: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                if ver != base_ver {
                    let span = Span::from_range(req_text, off, off + line.trim_end().len());
                    out.push(
                        Finding::new("DU201", Severity::Error, req_path, span, format!("torch=={ver} installed over a pytorch/pytorch:{base_ver} base image"))
                            .why("pip replaces the base image's torch: gigabytes re-downloaded and a CUDA build that may not match the base.")
                            .fact(format!("base image ships torch {base_ver}"))
                            .fact(format!("requirements pin torch {ver}")),
                    );
                }
            }
            off += line.len();
        }
    }
    out
}
