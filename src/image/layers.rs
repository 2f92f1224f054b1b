//! One layer's file list from its tar stream (metadata only: contents are read past, never kept), and the
//! stacking of layers into the final filesystem with what each layer hides of the ones below.

use std::collections::BTreeMap;
use std::io::Read;

/// What an entry of a layer tar does to the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (its bytes are stored in this layer).
    File,
    Dir,
    /// Symlink, hard link, device, fifo: no bytes of their own.
    Other,
    /// `dir/.wh.name`: deletes `dir/name` (and everything under it) from the layers below.
    Whiteout,
    /// `dir/.wh..wh..opq`: hides everything the layers below have under `dir`.
    Opaque,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Path in the image, without a leading `/` or `./`; for whiteouts, the path they delete.
    pub path: String,
    pub size: u64,
    pub kind: EntryKind,
}

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";

/// `./usr/bin/` -> `usr/bin`
pub fn normalize(path: &str) -> String {
    let p = path.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_string()
}

/// Read a layer tar to its end, keeping only paths, sizes and kinds.
pub fn scan_layer<R: Read>(reader: R) -> std::io::Result<Vec<LayerEntry>> {
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        let header = entry.header();
        let raw = entry.path()?.to_string_lossy().to_string();
        let path = normalize(&raw);
        if path.is_empty() {
            continue;
        }
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n.to_string()),
            None => (String::new(), path.clone()),
        };
        let t = header.entry_type();
        let entry = if name == OPAQUE {
            LayerEntry {
                path: dir.trim_end_matches('/').to_string(),
                size: 0,
                kind: EntryKind::Opaque,
            }
        } else if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX) {
            LayerEntry {
                path: format!("{dir}{target}"),
                size: 0,
                kind: EntryKind::Whiteout,
            }
        } else if t.is_dir() {
            LayerEntry {
                path,
                size: 0,
                kind: EntryKind::Dir,
            }
        } else if t.is_file() || t == tar::EntryType::Continuous {
            LayerEntry {
                path,
                size: header.size()?,
                kind: EntryKind::File,
            }
        } else {
            LayerEntry {
                path,
                size: 0,
                kind: EntryKind::Other,
            }
        };
        out.push(entry);
    }
    Ok(out)
}

/// A file present in the stacked filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    pub size: u64,
    /// 0-based index of the filesystem layer that wrote it.
    pub layer: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenBy {
    /// A whiteout (rm) in a later layer.
    Deleted,
    /// Written again in a later layer.
    Overwritten,
}

/// Bytes a layer stores that the final filesystem cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    pub path: String,
    pub size: u64,
    /// 0-based layer that wrote the bytes.
    pub layer: usize,
    /// 0-based layer that hid them.
    pub hidden_in: usize,
    pub how: HiddenBy,
}

/// The result of stacking layers in order.
#[derive(Debug, Default)]
pub struct Stack {
    pub live: BTreeMap<String, Live>,
    pub hidden: Vec<Hidden>,
    /// Bytes of regular files stored per layer.
    pub layer_bytes: Vec<u64>,
    pub layer_files: Vec<u64>,
}

impl Stack {
    /// Apply one layer: its whiteouts act on the layers below only, so they go first, then its files.
    pub fn push(&mut self, entries: &[LayerEntry]) {
        let index = self.layer_bytes.len();
        let mut bytes = 0;
        let mut files = 0;
        for e in entries {
            match e.kind {
                EntryKind::Whiteout => {
                    self.remove(&e.path, index, HiddenBy::Deleted);
                    self.remove_under(&e.path, index, HiddenBy::Deleted);
                }
                EntryKind::Opaque => self.remove_under(&e.path, index, HiddenBy::Deleted),
                _ => {}
            }
        }
        for e in entries {
            match e.kind {
                EntryKind::File | EntryKind::Other => {
                    self.remove_ancestors(&e.path, index);
                    self.remove(&e.path, index, HiddenBy::Overwritten);
                    self.remove_under(&e.path, index, HiddenBy::Overwritten);
                    if e.kind == EntryKind::File {
                        bytes += e.size;
                        files += 1;
                    }
                    self.live.insert(
                        e.path.clone(),
                        Live {
                            size: e.size,
                            layer: index,
                        },
                    );
                }
                EntryKind::Dir => {
                    self.remove_ancestors(&e.path, index);
                    self.remove(&e.path, index, HiddenBy::Overwritten);
                }
                EntryKind::Whiteout | EntryKind::Opaque => {}
            }
        }
        self.layer_bytes.push(bytes);
        self.layer_files.push(files);
    }

    fn remove(&mut self, path: &str, index: usize, how: HiddenBy) {
        if let Some(l) = self.live.get(path)
            && l.layer < index
        {
            let l = self.live.remove(path).expect("present");
            self.hide(path.to_string(), l, index, how);
        }
    }

    fn remove_under(&mut self, dir: &str, index: usize, how: HiddenBy) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let keys: Vec<String> = self
            .live
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, l)| l.layer < index)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            let l = self.live.remove(&k).expect("present");
            self.hide(k, l, index, how);
        }
    }

    /// A file at `a` below, and now `a/b`: the directory replaces the file.
    fn remove_ancestors(&mut self, path: &str, index: usize) {
        let mut p = path;
        while let Some((parent, _)) = p.rsplit_once('/') {
            self.remove(parent, index, HiddenBy::Overwritten);
            p = parent;
        }
    }

    fn hide(&mut self, path: String, l: Live, index: usize, how: HiddenBy) {
        self.hidden.push(Hidden {
            path,
            size: l.size,
            layer: l.layer,
            hidden_in: index,
            how,
        });
    }

    pub fn total_bytes(&self) -> u64 {
        self.layer_bytes.iter().sum()
    }

    pub fn hidden_bytes(&self) -> u64 {
        self.hidden.iter().map(|h| h.size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(p: &str, size: u64) -> LayerEntry {
        LayerEntry {
            path: p.into(),
            size,
            kind: EntryKind::File,
        }
    }
    fn wh(p: &str) -> LayerEntry {
        LayerEntry {
            path: p.into(),
            size: 0,
            kind: EntryKind::Whiteout,
        }
    }

    #[test]
    fn deleted_file_is_hidden_with_its_layer() {
        let mut s = Stack::default();
        s.push(&[file("bin/busybox", 100)]);
        s.push(&[file("data/blob", 50)]);
        s.push(&[wh("data/blob")]);
        assert_eq!(s.total_bytes(), 150);
        assert_eq!(s.hidden_bytes(), 50);
        assert_eq!(
            s.hidden,
            vec![Hidden {
                path: "data/blob".into(),
                size: 50,
                layer: 1,
                hidden_in: 2,
                how: HiddenBy::Deleted
            }]
        );
        assert!(!s.live.contains_key("data/blob"));
    }

    #[test]
    fn overwrite_hides_the_lower_copy_and_keeps_the_new_one() {
        let mut s = Stack::default();
        s.push(&[file("etc/conf", 10)]);
        s.push(&[file("etc/conf", 12)]);
        assert_eq!(s.hidden_bytes(), 10);
        assert_eq!(s.live["etc/conf"], Live { size: 12, layer: 1 });
    }

    #[test]
    fn directory_whiteout_and_opaque_hide_everything_below() {
        let mut s = Stack::default();
        s.push(&[
            file("root/.cache/pip/a", 5),
            file("root/.cache/pip/b", 7),
            file("root/keep", 1),
        ]);
        s.push(&[wh("root/.cache")]);
        assert_eq!(s.hidden_bytes(), 12);
        assert!(s.live.contains_key("root/keep"));
        let mut s = Stack::default();
        s.push(&[file("opt/x/a", 3), file("opt/xy", 4)]);
        s.push(&[
            LayerEntry {
                path: "opt/x".into(),
                size: 0,
                kind: EntryKind::Opaque,
            },
            file("opt/x/new", 2),
        ]);
        // The opaque marker hides only what lies under opt/x in lower layers, not opt/xy nor the new file.
        assert_eq!(s.hidden_bytes(), 3);
        assert!(s.live.contains_key("opt/x/new") && s.live.contains_key("opt/xy"));
    }

    #[test]
    fn a_file_written_and_kept_is_not_waste() {
        let mut s = Stack::default();
        s.push(&[file("a", 1)]);
        s.push(&[file("b", 1)]);
        assert_eq!(s.hidden_bytes(), 0);
    }

    #[test]
    fn scan_reads_whiteouts_and_sizes_from_a_tar() {
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, data).unwrap();
        };
        add("./data/.wh.blob", b"");
        add("usr/.wh..wh..opq", b"");
        add("usr/bin/tool", b"12345");
        let bytes = b.into_inner().unwrap();
        let entries = scan_layer(&bytes[..]).unwrap();
        assert_eq!(
            entries,
            vec![
                LayerEntry {
                    path: "data/blob".into(),
                    size: 0,
                    kind: EntryKind::Whiteout
                },
                LayerEntry {
                    path: "usr".into(),
                    size: 0,
                    kind: EntryKind::Opaque
                },
                file("usr/bin/tool", 5),
            ]
        );
    }
}
