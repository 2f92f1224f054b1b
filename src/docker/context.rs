//! The build context as a tar stream, filtered by `.dockerignore` the way the docker CLI does it
//! (moby `pkg/archive.TarWithOptions` with the CLI's `TrimBuildFilesFromExcludes`).
//!
//! The walk is depth-first in byte order of names, like Go's `filepath.WalkDir`. Only one directory
//! listing is held at a time per level and file contents are copied from the open file, so memory does
//! not grow with the size of the context.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use super::dockerignore::{DockerIgnore, MatchInfo};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ContextStats {
    /// Regular files sent.
    pub files: u64,
    /// Bytes of regular-file content sent (tar headers and padding not counted).
    pub bytes: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// FIFOs and device nodes (sent as such, like Docker does).
    pub special: u64,
    /// Entries dropped by `.dockerignore` (an excluded directory counts once, not its contents).
    pub excluded: u64,
    /// Sockets, which tar cannot carry (Docker skips them too).
    pub skipped_sockets: u64,
    /// Further names of a file already sent, archived as hard links to the first name (like Docker).
    pub hardlinks: u64,
}

/// What kind of entry the walk produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    /// Another name of a file sent earlier in the archive.
    HardLink,
    Dir,
    Symlink,
    Special,
}

/// One entry that is sent, relative to the context root.
pub(crate) struct Entry<'a> {
    pub abs: &'a Path,
    pub rel: &'a Path,
    pub kind: EntryKind,
    pub meta: &'a Metadata,
    /// For `HardLink`: the name the file was first sent under.
    pub link_target: Option<&'a Path>,
}

/// Write the context rooted at `root` as a tar archive into `out`. `dockerfile` is relative to `root`
/// (or absolute inside it) and is always sent, like `.dockerignore`.
pub fn write_context_tar<W: Write>(
    root: &Path,
    dockerfile: &Path,
    out: W,
) -> io::Result<ContextStats> {
    let mut builder = tar::Builder::new(out);
    let stats = walk_context(root, dockerfile, &mut |e: &Entry| {
        append_entry(&mut builder, e)
    })?;
    builder.into_inner()?.flush()?;
    Ok(stats)
}

/// Size of the chunks the streamed body is cut into, and how many may wait in the channel: at most
/// `CHUNK * (QUEUE + 1)` bytes of the context are in memory at once.
const CHUNK: usize = 256 * 1024;
const QUEUE: usize = 8;

/// The context tar as a stream of chunks for an HTTP body (`bollard::body_try_stream`), produced on a
/// blocking thread with back-pressure: memory stays bounded whatever the size of the context. A walk or
/// read error ends the stream with that error (so the engine sees a failed upload, not a truncated
/// context) and is also returned by the handle, with the stats on success. Must be called inside a
/// tokio runtime.
pub fn context_tar_stream(
    root: PathBuf,
    dockerfile: PathBuf,
) -> (
    impl futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send + 'static,
    tokio::task::JoinHandle<io::Result<ContextStats>>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<bytes::Bytes>>(QUEUE);
    let handle = tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
        };
        let result = write_context_tar(&root, &dockerfile, writer);
        if let Err(e) = &result {
            // The receiver may be gone already (upload aborted); nothing else to tell then.
            let _ = tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
        }
        result
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (stream, handle)
}

/// A `Write` that hands full chunks to an async channel, blocking while the consumer is behind.
struct ChannelWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<io::Result<bytes::Bytes>>,
}

impl ChannelWriter {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = bytes::Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the build context upload was aborted",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send_buf()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // write_context_tar flushes once at the end: that is when the last partial chunk goes out.
        self.send_buf()
    }
}

/// Every path the context tar will contain (files, directories, symlinks, special files), relative to
/// `root`, in archive order. An excluded directory walked only for a `!` re-include below it is not
/// listed itself (Docker does not send it; the engine creates it as a parent).
pub fn context_file_list(root: &Path, dockerfile: &Path) -> io::Result<Vec<PathBuf>> {
    let mut list = Vec::new();
    walk_context(root, dockerfile, &mut |e: &Entry| {
        list.push(e.rel.to_path_buf());
        Ok(())
    })?;
    Ok(list)
}

/// The effective patterns for a build: the context's `.dockerignore` plus the re-includes the docker
/// CLI appends so the Dockerfile and `.dockerignore` always reach the engine. (The engine's legacy
/// builder then deletes those two from the context if the original patterns excluded them, so a
/// `COPY . /x` does not see them.)
pub fn effective_ignore(root: &Path, dockerfile: &Path) -> io::Result<DockerIgnore> {
    let dockerfile_rel = dockerfile_rel(root, dockerfile)?;
    let mut ignore = DockerIgnore::load(root)?;
    if ignore.is_excluded(".dockerignore") {
        ignore.push("!.dockerignore")?;
    }
    let df = slash_path(&dockerfile_rel);
    if ignore.is_excluded(&df) {
        ignore.push(&format!("!{df}"))?;
    }
    Ok(ignore)
}

/// Whether the project's own `.dockerignore` excludes the Dockerfile or `.dockerignore` itself. The tar
/// still carries both (the engine needs them); the legacy builder then deletes them from what `COPY .`
/// sees, BuildKit (given a tar, not a session) does not.
pub fn build_files_excluded(root: &Path, dockerfile: &Path) -> io::Result<bool> {
    let ignore = DockerIgnore::load(root)?;
    let df = slash_path(&dockerfile_rel(root, dockerfile)?);
    Ok(ignore.is_excluded(".dockerignore") || ignore.is_excluded(&df))
}

/// The Dockerfile path relative to the context root, refusing paths that leave it.
pub(crate) fn dockerfile_rel(root: &Path, dockerfile: &Path) -> io::Result<PathBuf> {
    let rel = if dockerfile.is_absolute() {
        dockerfile.strip_prefix(root).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the Dockerfile {} is outside the build context {}",
                    dockerfile.display(),
                    root.display()
                ),
            )
        })?
    } else {
        dockerfile
    };
    let mut clean = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the Dockerfile path {} leaves the build context",
                        dockerfile.display()
                    ),
                ));
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty Dockerfile path",
        ));
    }
    Ok(clean)
}

pub(crate) fn slash_path(p: &Path) -> String {
    let parts: Vec<String> = p.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    parts.join("/")
}

/// One directory level of the walk: its remaining entries (sorted, reversed so `pop` yields the next),
/// its relative path and its pattern results for its children.
struct Level {
    names: Vec<OsString>,
    abs: PathBuf,
    rel: PathBuf,
    info: MatchInfo,
}

fn read_level(abs: PathBuf, rel: PathBuf, info: MatchInfo) -> io::Result<Level> {
    let mut names = fs::read_dir(&abs)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    // Go sorts by byte value of the name; reverse so the smallest is popped first.
    names.sort_by(|a, b| b.as_encoded_bytes().cmp(a.as_encoded_bytes()));
    Ok(Level {
        names,
        abs,
        rel,
        info,
    })
}

fn walk_context(
    root: &Path,
    dockerfile: &Path,
    visit: &mut dyn FnMut(&Entry) -> io::Result<()>,
) -> io::Result<ContextStats> {
    let ignore = effective_ignore(root, dockerfile)?;
    walk_with(root, &ignore, visit)
}

/// The walk for a given set of patterns: the tar context (patterns from `.dockerignore` plus the CLI's
/// re-includes) and BuildKit's session file sync (the patterns the frontend asks for) share it, so both
/// send the same entries for the same patterns.
pub(crate) fn walk_with(
    root: &Path,
    ignore: &DockerIgnore,
    visit: &mut dyn FnMut(&Entry) -> io::Result<()>,
) -> io::Result<ContextStats> {
    let has_exclusions = ignore.has_exclusions();
    let mut stats = ContextStats::default();
    // (device, inode) -> first name sent, only for files with more than one link.
    let mut seen_inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut stack = vec![
        read_level(root.to_path_buf(), PathBuf::new(), MatchInfo::default()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot read the build context {}: {e}", root.display()),
            )
        })?,
    ];
    while let Some(level) = stack.last_mut() {
        let Some(name) = level.names.pop() else {
            stack.pop();
            continue;
        };
        let abs = level.abs.join(&name);
        let rel = level.rel.join(&name);
        // lstat: a symlink is an entry of its own and is never followed.
        let meta = fs::symlink_metadata(&abs).map_err(|e| naming(e, "cannot stat", &rel))?;
        let rel_slash = slash_path(&rel);
        let (excluded, info) = ignore.matches_using_parent(&rel_slash, &level.info);
        let ft = meta.file_type();
        if excluded {
            stats.excluded += 1;
            // Docker still walks an excluded directory when a `!` pattern starts with it, without
            // sending the directory entry itself.
            if ft.is_dir() && has_exclusions && ignore.must_descend(&rel_slash) {
                let level = read_level(abs, rel.clone(), info)
                    .map_err(|e| naming(e, "cannot read directory", &rel))?;
                stack.push(level);
            }
            continue;
        }
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else if ft.is_file() {
            match inode_if_linked(&meta) {
                Some(key) if seen_inodes.contains_key(&key) => EntryKind::HardLink,
                Some(key) => {
                    seen_inodes.insert(key, rel.clone());
                    EntryKind::File
                }
                None => EntryKind::File,
            }
        } else if is_socket(&meta) {
            stats.skipped_sockets += 1;
            continue;
        } else {
            EntryKind::Special
        };
        let link_target = match kind {
            EntryKind::HardLink => inode_if_linked(&meta)
                .and_then(|key| seen_inodes.get(&key))
                .map(PathBuf::as_path),
            _ => None,
        };
        visit(&Entry {
            abs: &abs,
            rel: &rel,
            kind,
            meta: &meta,
            link_target,
        })
        .map_err(|e| naming(e, "cannot read", &rel))?;
        match kind {
            EntryKind::File => {
                stats.files += 1;
                stats.bytes += meta.len();
            }
            EntryKind::Dir => {
                stats.dirs += 1;
                let level = read_level(abs, rel.clone(), info)
                    .map_err(|e| naming(e, "cannot read directory", &rel))?;
                stack.push(level);
            }
            EntryKind::HardLink => stats.hardlinks += 1,
            EntryKind::Symlink => stats.symlinks += 1,
            EntryKind::Special => stats.special += 1,
        }
    }
    Ok(stats)
}

/// Put the context-relative path into an error, like docker does ("open x: permission denied"). An aborted
/// upload (BrokenPipe from the channel) is not about a file and is passed on as it is.
fn naming(e: io::Error, what: &str, rel: &Path) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return e;
    }
    io::Error::new(e.kind(), format!("{what} {}: {e}", slash_path(rel)))
}

#[cfg(unix)]
fn inode_if_linked(meta: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    (meta.nlink() > 1).then(|| (meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn inode_if_linked(_meta: &Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn is_socket(meta: &Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_socket()
}

#[cfg(not(unix))]
fn is_socket(_meta: &Metadata) -> bool {
    false
}

fn append_entry<W: Write>(builder: &mut tar::Builder<W>, e: &Entry) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(e.meta, tar::HeaderMode::Complete);
    // Like the docker CLI (ChownOpts 0:0): the local user's ids must not leak into the image or make
    // the legacy builder's cache keys differ between users.
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("")?;
    header.set_groupname("")?;
    match e.kind {
        EntryKind::File => {
            let size = e.meta.len();
            header.set_size(size);
            let file = fs::File::open(e.abs)?;
            // Exactly `size` bytes whatever happens to the file meanwhile: a file that grows or shrinks
            // while being read must not corrupt the archive.
            let reader = file.take(size).chain(io::repeat(0)).take(size);
            builder.append_data(&mut header, e.rel, reader)
        }
        EntryKind::HardLink => {
            let target = e
                .link_target
                .ok_or_else(|| io::Error::other("hard link without a target"))?;
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            builder.append_link(&mut header, e.rel, target)
        }
        EntryKind::Dir => {
            header.set_size(0);
            builder.append_data(&mut header, e.rel, io::empty())
        }
        EntryKind::Symlink => {
            let target = fs::read_link(e.abs)?;
            header.set_size(0);
            builder.append_link(&mut header, e.rel, target)
        }
        EntryKind::Special => {
            set_device(&mut header, e.meta)?;
            header.set_size(0);
            builder.append_data(&mut header, e.rel, io::empty())
        }
    }
}

#[cfg(unix)]
fn set_device(header: &mut tar::Header, meta: &Metadata) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let ft = meta.file_type();
    let kind = if ft.is_fifo() {
        tar::EntryType::Fifo
    } else if ft.is_char_device() {
        tar::EntryType::Char
    } else {
        tar::EntryType::Block
    };
    header.set_entry_type(kind);
    let dev = meta.rdev();
    // glibc's major()/minor() encoding.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
    header.set_device_major(major as u32)?;
    header.set_device_minor(minor as u32)?;
    Ok(())
}

#[cfg(not(unix))]
fn set_device(_header: &mut tar::Header, _meta: &Metadata) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, content: &str) {
        let p = root.join(rel);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir).expect("mkdir");
        }
        fs::write(p, content).expect("write");
    }

    fn names(list: &[PathBuf]) -> Vec<String> {
        list.iter().map(|p| slash_path(p)).collect()
    }

    fn tar_names(root: &Path, dockerfile: &str) -> (Vec<String>, ContextStats) {
        let mut buf = Vec::new();
        let stats = write_context_tar(root, Path::new(dockerfile), &mut buf).expect("tar");
        let mut archive = tar::Archive::new(buf.as_slice());
        let mut out = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let path = entry
                .path()
                .expect("path")
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            out.push(path);
        }
        (out, stats)
    }

    #[test]
    fn walk_order_filters_and_always_sends_build_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, ".dockerignore", "*\n!src\n!models/config.json\n");
        write(root, "src/b.py", "b");
        write(root, "src/a.py", "a");
        write(root, "models/weights.bin", "0000");
        write(root, "models/config.json", "{}");
        write(root, "notes.md", "x");
        let list = names(&context_file_list(root, Path::new("Dockerfile")).expect("list"));
        assert_eq!(
            list,
            [
                ".dockerignore",
                "Dockerfile",
                "models/config.json",
                "src",
                "src/a.py",
                "src/b.py"
            ]
        );
        let (tar_list, stats) = tar_names(root, "Dockerfile");
        assert_eq!(tar_list, list);
        assert_eq!(stats.files, 5);
        assert_eq!(stats.dirs, 1);
        // notes.md, models (walked, not sent), models/weights.bin
        assert_eq!(stats.excluded, 3);
    }

    #[test]
    fn dockerfile_in_excluded_dir_is_still_sent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "docker/Dockerfile", "FROM scratch\n");
        write(root, "docker/secret.env", "X=1");
        write(root, ".dockerignore", "docker\n.dockerignore\n");
        write(root, "app.py", "");
        let list = names(&context_file_list(root, Path::new("./docker/Dockerfile")).expect("list"));
        assert_eq!(list, [".dockerignore", "app.py", "docker/Dockerfile"]);
        let abs = root.join("docker/Dockerfile");
        let list2 = names(&context_file_list(root, &abs).expect("list"));
        assert_eq!(list, list2);
    }

    #[test]
    fn dockerfile_outside_context_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = context_file_list(dir.path(), Path::new("../Dockerfile")).expect_err("outside");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_archived_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(outside.path(), "big/file", "should not be sent");
        std::os::unix::fs::symlink(outside.path().join("big"), root.join("link")).expect("symlink");
        std::os::unix::fs::symlink("Dockerfile", root.join("df")).expect("symlink");
        let mut buf = Vec::new();
        let stats = write_context_tar(root, Path::new("Dockerfile"), &mut buf).expect("tar");
        assert_eq!(stats.symlinks, 2);
        assert_eq!(stats.files, 1);
        let mut archive = tar::Archive::new(buf.as_slice());
        let mut links = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            if entry.header().entry_type() == tar::EntryType::Symlink {
                let target = entry
                    .link_name()
                    .expect("link")
                    .expect("some")
                    .to_path_buf();
                links.push((entry.path().expect("path").to_path_buf(), target));
            }
        }
        assert_eq!(links.len(), 2);
        assert!(links.contains(&(PathBuf::from("df"), PathBuf::from("Dockerfile"))));
    }

    #[test]
    fn contents_and_ownership_in_the_archive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        let long = format!("{}/file.txt", "d".repeat(120));
        write(root, &long, "hello");
        let mut buf = Vec::new();
        write_context_tar(root, Path::new("Dockerfile"), &mut buf).expect("tar");
        let mut archive = tar::Archive::new(buf.as_slice());
        let mut found = false;
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            assert_eq!(entry.header().uid().expect("uid"), 0);
            if entry.path().expect("path").to_string_lossy() == long {
                let mut s = String::new();
                entry.read_to_string(&mut s).expect("read");
                assert_eq!(s, "hello");
                found = true;
            }
        }
        assert!(found, "long path survives");
    }

    #[cfg(unix)]
    #[test]
    fn hard_links_are_sent_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, "a/weights.bin", "0123456789");
        fs::hard_link(root.join("a/weights.bin"), root.join("b.bin")).expect("link");
        fs::hard_link(root.join("a/weights.bin"), root.join("c.bin")).expect("link");
        let mut buf = Vec::new();
        let stats = write_context_tar(root, Path::new("Dockerfile"), &mut buf).expect("tar");
        // "a" sorts first and is walked into at once, so a/weights.bin is the first name sent.
        assert_eq!(stats.files, 2);
        assert_eq!(stats.hardlinks, 2);
        assert_eq!(stats.bytes, 13 + 10);
        let mut archive = tar::Archive::new(buf.as_slice());
        let mut links = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            if entry.header().entry_type() == tar::EntryType::Link {
                let target = entry
                    .link_name()
                    .expect("link")
                    .expect("some")
                    .to_path_buf();
                links.push((
                    slash_path(&entry.path().expect("path")),
                    slash_path(&target),
                ));
            }
        }
        assert_eq!(
            links,
            [
                ("b.bin".to_string(), "a/weights.bin".to_string()),
                ("c.bin".to_string(), "a/weights.bin".to_string())
            ]
        );
    }

    #[test]
    fn no_dockerignore_sends_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, "a/b/c.txt", "c");
        let list = names(&context_file_list(root, Path::new("Dockerfile")).expect("list"));
        assert_eq!(list, ["Dockerfile", "a", "a/b", "a/b/c.txt"]);
    }

    #[tokio::test]
    async fn streamed_body_equals_the_tar() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        // Larger than one chunk, so the stream has several.
        write(root, "big.txt", &"x".repeat(CHUNK * 2 + 123));
        write(root, ".dockerignore", "*.tmp\n");
        write(root, "a.tmp", "dropped");
        let mut expected = Vec::new();
        let expected_stats =
            write_context_tar(root, Path::new("Dockerfile"), &mut expected).expect("tar");
        let (stream, handle) = context_tar_stream(root.to_path_buf(), PathBuf::from("Dockerfile"));
        let chunks: Vec<bytes::Bytes> = stream.map(|c| c.expect("chunk")).collect().await;
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), expected);
        assert_eq!(handle.await.expect("join").expect("stats"), expected_stats);
    }

    #[tokio::test]
    async fn streamed_body_ends_with_the_error() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", "[oops\n");
        let (stream, handle) =
            context_tar_stream(dir.path().to_path_buf(), PathBuf::from("Dockerfile"));
        let items: Vec<io::Result<bytes::Bytes>> = stream.collect().await;
        assert!(
            items.last().is_some_and(|r| r.is_err()),
            "the body fails instead of ending cleanly"
        );
        assert!(handle.await.expect("join").is_err());
    }

    #[test]
    fn bad_dockerignore_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(root, "Dockerfile", "FROM scratch\n");
        write(root, ".dockerignore", "[oops\n");
        let err = context_file_list(root, Path::new("Dockerfile")).expect_err("bad pattern");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
