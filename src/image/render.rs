//! `dockui inspect` as text.

use super::ImageReport;
use std::fmt::Write;

/// 1234567 -> `1.2 MB` (decimal units, like dive and docker).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!(
            "{}...",
            s.chars().take(max.saturating_sub(3)).collect::<String>()
        )
    }
}

pub fn render_human(r: &ImageReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "image: {}", r.image);
    if let Some(id) = &r.id {
        let _ = writeln!(out, "id: {id}");
    }
    let _ = writeln!(
        out,
        "stored: {}  visible: {}  wasted: {}  efficiency: {:.1}%",
        human_bytes(r.total_bytes),
        human_bytes(r.visible_bytes),
        human_bytes(r.wasted_bytes),
        r.efficiency * 100.0
    );
    let _ = writeln!(out, "\nLayers:");
    let _ = writeln!(
        out,
        "  {:>5}  {:>9}  {:>9}  instruction",
        "layer", "size", "wasted"
    );
    for l in &r.layers {
        let layer = l.layer.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let (size, wasted) = if l.empty {
            (String::new(), String::new())
        } else {
            (
                human_bytes(l.size),
                if l.wasted_bytes > 0 {
                    human_bytes(l.wasted_bytes)
                } else {
                    String::new()
                },
            )
        };
        let _ = writeln!(
            out,
            "  {layer:>5}  {size:>9}  {wasted:>9}  {}",
            clip(&l.instruction, 90)
        );
    }
    if !r.largest_files.is_empty() {
        let _ = writeln!(out, "\nLargest files:");
        for f in &r.largest_files {
            let _ = writeln!(
                out,
                "  {:>9}  layer {:<3} {}",
                human_bytes(f.size),
                f.layer,
                f.path
            );
        }
    }
    if !r.wasted.is_empty() {
        let _ = writeln!(
            out,
            "\nWasted space (stored, but deleted or overwritten later):"
        );
        for w in &r.wasted {
            let layers: Vec<String> = w.layers.iter().map(|l| l.to_string()).collect();
            let hidden: Vec<String> = w.hidden_in.iter().map(|l| l.to_string()).collect();
            let how = match w.how {
                super::layers::HiddenBy::Deleted => "deleted",
                super::layers::HiddenBy::Overwritten => "overwritten",
            };
            let rule = w
                .rule
                .as_deref()
                .map(|r| format!("  [{r}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:>9}  {}  (layer {} {how} in layer {}){rule}",
                human_bytes(w.bytes),
                w.path,
                layers.join(","),
                hidden.join(",")
            );
        }
    }
    if !r.caches.is_empty() {
        let _ = writeln!(out, "\nCaches in layers:");
        for c in &r.caches {
            let _ = writeln!(
                out,
                "  {} {:>9}  layer {}: {}",
                c.rule,
                human_bytes(c.bytes),
                c.layer,
                c.advice
            );
        }
    }
    if let Some(g) = &r.gate {
        let _ = writeln!(out, "\nCI gate: {}", if g.passed { "PASS" } else { "FAIL" });
        for c in &g.checks {
            let _ = writeln!(
                out,
                "  {} {}: {} (limit {})",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                c.actual,
                c.limit
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_docker() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MB");
        assert_eq!(human_bytes(50_000_000), "50.0 MB");
    }
}
