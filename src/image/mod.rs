//! What is in a built image: its layers with their size and the instruction that made each, the largest
//! files, and the bytes stored in layers that the final filesystem cannot see (deleted or overwritten later),
//! with package-manager caches linked to the rule whose fix keeps them out. Computed in one streaming pass
//! over the image export; only file lists are held, never layer contents.
//!
//! Wasted bytes: the bytes of every file a later layer deletes (whiteout) or writes again. dive counts a
//! deleted file twice (the file and its whiteout); dockui counts the bytes the image really stores and nobody
//! can see, so efficiency = visible bytes / stored bytes.

pub mod archive;
pub mod export;
pub mod gate;
pub mod layers;
pub mod render;

use archive::{Layout, Resolved};
use layers::{HiddenBy, LayerEntry, Stack};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

pub use gate::{Gate, GateResult, parse_size};

const WASTE_RULES: &str = include_str!("../../assets/image-waste.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct CacheRule {
    pub what: String,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
    pub rule: String,
}

impl CacheRule {
    pub fn matches(&self, path: &str) -> bool {
        self.prefix.as_deref().is_some_and(|p| path.starts_with(p))
            || self
                .contains
                .as_deref()
                .is_some_and(|c| path.starts_with(c) || path.contains(&format!("/{c}")))
    }
}

pub fn cache_rules() -> &'static [CacheRule] {
    static R: OnceLock<Vec<CacheRule>> = OnceLock::new();
    R.get_or_init(|| {
        #[derive(Deserialize)]
        struct File {
            cache: Vec<CacheRule>,
        }
        toml::from_str::<File>(WASTE_RULES)
            .expect("assets/image-waste.toml is valid (a unit test checks)")
            .cache
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How many largest files and wasted paths to list.
    pub top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { top: 20 }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub image: String,
    pub layout: Layout,
    /// Config digest (the image id), when the archive names it.
    pub id: Option<String>,
    pub repo_tags: Vec<String>,
    /// Bytes of regular files stored in all layers.
    pub total_bytes: u64,
    /// Bytes the final filesystem shows.
    pub visible_bytes: u64,
    /// Bytes stored but deleted or overwritten by a later layer.
    pub wasted_bytes: u64,
    /// visible / stored (1.0 for an empty image).
    pub efficiency: f64,
    /// Every history entry, empty ones included (ENV, LABEL...), in build order.
    pub layers: Vec<LayerReport>,
    pub largest_files: Vec<FileReport>,
    /// Paths whose bytes are stored but hidden, largest first.
    pub wasted: Vec<WasteReport>,
    /// Package-manager caches in layers, with the rule whose fix keeps them out.
    pub caches: Vec<CacheFinding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// 1-based filesystem layer number; None for an instruction that made no layer.
    pub layer: Option<usize>,
    /// The layer's diff id (`sha256:` of its uncompressed tar), from the config.
    pub diff_id: Option<String>,
    pub instruction: String,
    /// `created_by` as the builder recorded it.
    pub created_by: String,
    pub created: Option<String>,
    pub empty: bool,
    /// Bytes of regular files this layer stores.
    pub size: u64,
    pub files: u64,
    /// Of `size`, the bytes later layers delete or overwrite.
    pub wasted_bytes: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileReport {
    /// Absolute path in the image.
    pub path: String,
    pub size: u64,
    /// 1-based layer that wrote it.
    pub layer: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WasteReport {
    pub path: String,
    /// Hidden bytes of this path, over all its hidden copies.
    pub bytes: u64,
    pub copies: u64,
    /// 1-based layers that wrote the hidden copies.
    pub layers: Vec<usize>,
    /// 1-based layers that deleted or overwrote them.
    pub hidden_in: Vec<usize>,
    pub how: HiddenBy,
    /// The rule whose fix avoids it, when the path is a known cache.
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CacheFinding {
    pub rule: String,
    pub what: String,
    /// 1-based layer that stores it.
    pub layer: usize,
    /// The instruction that made the layer.
    pub instruction: String,
    pub bytes: u64,
    pub files: u64,
    /// The largest file of the cache in that layer.
    pub example: String,
    /// False when a later layer deleted it (the bytes are still stored in this layer).
    pub still_visible: bool,
    pub advice: String,
}

/// `/bin/sh -c #(nop)  ENV A=b` -> `ENV A=b`; `RUN /bin/sh -c pip install x # buildkit` -> `RUN pip install x`.
pub fn instruction_of(created_by: &str) -> String {
    let mut s = created_by.trim();
    s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    let buildkit_run = s.strip_prefix("RUN ");
    let body = buildkit_run.unwrap_or(s);
    // Build args the legacy builder and BuildKit prepend to RUN: `|2 A=1 B=2 /bin/sh -c ...`.
    let body = strip_arg_prefix(body);
    if let Some(rest) = body.strip_prefix("/bin/sh -c ") {
        let rest = rest.trim_start();
        if let Some(nop) = rest.strip_prefix("#(nop)") {
            return nop.trim().to_string();
        }
        return format!("RUN {}", rest.trim());
    }
    if buildkit_run.is_some() {
        return format!("RUN {}", body.trim());
    }
    let word = s.split_whitespace().next().unwrap_or("");
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase()) {
        return s.to_string();
    }
    if s.is_empty() {
        return String::new();
    }
    // Legacy builder, exec-form RUN: the argv joined by spaces.
    format!("RUN {s}")
}

fn strip_arg_prefix(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('|') else {
        return s;
    };
    let (count, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let Ok(n) = count.parse::<usize>() else {
        return s;
    };
    for _ in 0..n {
        rest = rest.split_once(' ').map(|(_, r)| r).unwrap_or("");
    }
    rest
}

/// Stack the resolved layers and build the report.
pub fn analyze(image: &str, resolved: Resolved, opts: Options) -> ImageReport {
    let mut stack = Stack::default();
    for l in &resolved.layers {
        stack.push(&l.entries);
    }
    let n_layers = resolved.layers.len();
    // Empty history entries (ENV, LABEL, ...) made no layer; the others map in order onto the layers.
    let mut layers = Vec::new();
    let mut next = 0usize;
    let mut instruction_of_layer = vec![String::new(); n_layers];
    let mut wasted_in_layer = vec![0u64; n_layers];
    for h in &stack.hidden {
        wasted_in_layer[h.layer] += h.size;
    }
    for h in &resolved.config.history {
        let created_by = h.created_by.clone().unwrap_or_default();
        let instruction = instruction_of(&created_by);
        let layer = if h.empty_layer || next >= n_layers {
            None
        } else {
            next += 1;
            Some(next - 1)
        };
        if let Some(i) = layer {
            instruction_of_layer[i] = instruction.clone();
        }
        layers.push(LayerReport {
            layer: layer.map(|i| i + 1),
            diff_id: layer.and_then(|i| resolved.config.rootfs.diff_ids.get(i).cloned()),
            instruction,
            created_by,
            created: h.created.clone(),
            empty: layer.is_none(),
            size: layer.map(|i| stack.layer_bytes[i]).unwrap_or(0),
            files: layer.map(|i| stack.layer_files[i]).unwrap_or(0),
            wasted_bytes: layer.map(|i| wasted_in_layer[i]).unwrap_or(0),
        });
    }
    // Layers the history does not account for (images assembled by hand).
    for i in next..n_layers {
        layers.push(LayerReport {
            layer: Some(i + 1),
            diff_id: resolved.config.rootfs.diff_ids.get(i).cloned(),
            instruction: String::new(),
            created_by: String::new(),
            created: None,
            empty: false,
            size: stack.layer_bytes[i],
            files: stack.layer_files[i],
            wasted_bytes: wasted_in_layer[i],
        });
    }

    let mut largest: Vec<FileReport> = stack
        .live
        .iter()
        .filter(|(_, l)| l.size > 0)
        .map(|(p, l)| FileReport {
            path: format!("/{p}"),
            size: l.size,
            layer: l.layer + 1,
        })
        .collect();
    largest.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path)));
    largest.truncate(opts.top);

    let rule_for = |path: &str| {
        cache_rules()
            .iter()
            .find(|r| r.matches(path))
            .map(|r| r.rule.clone())
    };
    let mut by_path: BTreeMap<&str, WasteReport> = BTreeMap::new();
    for h in &stack.hidden {
        let w = by_path.entry(&h.path).or_insert_with(|| WasteReport {
            path: format!("/{}", h.path),
            bytes: 0,
            copies: 0,
            layers: Vec::new(),
            hidden_in: Vec::new(),
            how: h.how,
            rule: rule_for(&h.path),
        });
        w.bytes += h.size;
        w.copies += 1;
        if !w.layers.contains(&(h.layer + 1)) {
            w.layers.push(h.layer + 1);
        }
        if !w.hidden_in.contains(&(h.hidden_in + 1)) {
            w.hidden_in.push(h.hidden_in + 1);
        }
    }
    let mut wasted: Vec<WasteReport> = by_path.into_values().filter(|w| w.bytes > 0).collect();
    wasted.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    wasted.truncate(opts.top);

    let caches = caches(&resolved.layers, &stack, &instruction_of_layer);

    let total = stack.total_bytes();
    let hidden = stack.hidden_bytes();
    ImageReport {
        image: image.to_string(),
        layout: resolved.layout,
        id: resolved.config_digest,
        repo_tags: resolved.repo_tags,
        total_bytes: total,
        visible_bytes: total - hidden,
        wasted_bytes: hidden,
        efficiency: if total == 0 {
            1.0
        } else {
            (total - hidden) as f64 / total as f64
        },
        layers,
        largest_files: largest,
        wasted,
        caches,
        gate: None,
    }
}

fn caches(
    layers: &[archive::ResolvedLayer],
    stack: &Stack,
    instruction_of_layer: &[String],
) -> Vec<CacheFinding> {
    let mut out = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        // (rule, what) -> bytes, files, largest entry, any still visible
        let mut found: BTreeMap<(String, String), (u64, u64, Option<&LayerEntry>, bool)> =
            BTreeMap::new();
        for e in l
            .entries
            .iter()
            .filter(|e| e.kind == layers::EntryKind::File)
        {
            let Some(rule) = cache_rules().iter().find(|r| r.matches(&e.path)) else {
                continue;
            };
            let slot = found
                .entry((rule.rule.clone(), rule.what.clone()))
                .or_insert((0, 0, None, false));
            slot.0 += e.size;
            slot.1 += 1;
            if slot.2.is_none_or(|b| e.size > b.size) {
                slot.2 = Some(e);
            }
            if stack.live.get(&e.path).is_some_and(|live| live.layer == i) {
                slot.3 = true;
            }
        }
        for ((rule, what), (bytes, files, example, visible)) in found {
            if bytes == 0 {
                continue;
            }
            let instruction = instruction_of_layer[i].clone();
            let advice = if visible {
                format!(
                    "{what} left in layer {}: apply the {rule} fix on the instruction that made it ({})",
                    i + 1,
                    short(&instruction)
                )
            } else {
                format!(
                    "{what} written in layer {} and deleted later: the layer still stores it; apply the {rule} fix on the instruction that made it ({})",
                    i + 1,
                    short(&instruction)
                )
            };
            out.push(CacheFinding {
                rule,
                what,
                layer: i + 1,
                instruction,
                bytes,
                files,
                example: example.map(|e| format!("/{}", e.path)).unwrap_or_default(),
                still_visible: visible,
                advice,
            });
        }
    }
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.layer.cmp(&b.layer)));
    out
}

fn short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waste_rules_load_and_match_home_dirs() {
        assert!(cache_rules().len() >= 5);
        let rule = |p: &str| {
            cache_rules()
                .iter()
                .find(|r| r.matches(p))
                .map(|r| r.rule.as_str())
        };
        assert_eq!(rule("root/.cache/pip/http/x"), Some("DL3042"));
        assert_eq!(rule("home/app/.cache/pip/wheels/a.whl"), Some("DL3042"));
        assert_eq!(
            rule("var/lib/apt/lists/deb.debian.org_dists"),
            Some("DL3009")
        );
        assert_eq!(rule("opt/conda/pkgs/torch.tar.bz2"), Some("DU103"));
        assert_eq!(rule("usr/lib/python3/site-packages/pip/x.py"), None);
        // A rule id in the asset must exist in the catalog.
        for r in cache_rules() {
            assert!(
                crate::analyze::rules::catalog()
                    .iter()
                    .any(|c| c.id == r.rule),
                "{} is not a rule",
                r.rule
            );
        }
    }

    #[test]
    fn instructions_read_from_both_builders() {
        assert_eq!(
            instruction_of("RUN /bin/sh -c pip install x # buildkit"),
            "RUN pip install x"
        );
        assert_eq!(
            instruction_of("COPY busybox /bin/busybox # buildkit"),
            "COPY busybox /bin/busybox"
        );
        assert_eq!(
            instruction_of("/bin/sh -c #(nop)  ENV PATH=/usr/bin"),
            "ENV PATH=/usr/bin"
        );
        assert_eq!(instruction_of("/bin/sh -c rm -f /x"), "RUN rm -f /x");
        assert_eq!(instruction_of("|1 V=2 /bin/sh -c echo $V"), "RUN echo $V");
        assert_eq!(
            instruction_of("RUN |1 V=2 /bin/sh -c echo $V # buildkit"),
            "RUN echo $V"
        );
        assert_eq!(
            instruction_of("/bin/busybox --install -s /bin"),
            "RUN /bin/busybox --install -s /bin"
        );
    }
}
