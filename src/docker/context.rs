//! The build context as a tar stream. (Skeleton: sends every regular file and directory; .dockerignore comes next.)

use std::io::{self, Write};
use std::path::Path;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ContextStats {
    pub files: u64,
    pub bytes: u64,
}

/// Write the context rooted at `root` as a tar archive into `out`. `dockerfile` is relative to `root` and always sent.
pub fn write_context_tar<W: Write>(
    root: &Path,
    _dockerfile: &Path,
    out: W,
) -> io::Result<ContextStats> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut stats = ContextStats::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path.strip_prefix(root).expect("walk stays under root");
            let ft = entry.file_type()?;
            if ft.is_dir() {
                builder.append_dir(rel, &path)?;
                stack.push(path);
            } else {
                builder.append_path_with_name(&path, rel)?;
                stats.files += 1;
                stats.bytes += entry.metadata()?.len();
            }
        }
    }
    builder.into_inner()?.flush()?;
    Ok(stats)
}
