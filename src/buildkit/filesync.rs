//! The client side of BuildKit's file sync (fsutil's `DiffCopy` sender): BuildKit asks for a local directory by
//! name (`context`, `dockerfile`) with the patterns its Dockerfile frontend read from `.dockerignore`; dockui
//! walks the directory with the same walker as the tar context (`docker::context::walk_with`), so
//! the legacy builder and BuildKit see the same files for the same `.dockerignore`.
//!
//! Protocol (fsutil `send.go`): one STAT packet per entry in walk order, an empty STAT to end the listing;
//! then the receiver sends REQ(id) for each file it wants, answered by DATA(id, bytes)... and an empty
//! DATA(id); the receiver's FIN is answered with FIN. A sender error travels as ERR with a message.

use crate::docker::context::{EntryKind, slash_path, walk_with};
use crate::docker::dockerignore::DockerIgnore;
use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSync;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Go's `os.FileMode` type bits, which fsutil puts in `Stat.mode` (not the unix `st_mode`).
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// The directories a session offers, by the names BuildKit asks for.
#[derive(Debug, Clone, Default)]
pub struct SyncedDirs {
    pub dirs: HashMap<String, PathBuf>,
    /// What went wrong on dockui's side of a transfer (an unreadable file, a bad pattern): BuildKit only
    /// reports "error from sender", the build names the cause from here.
    pub errors: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Transfers started and not ended by BuildKit's FIN: one left over means the transfer was cut (the
    /// connection stalled or broke mid-context), not that the build failed.
    pub unfinished: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SyncedDirs {
    fn record(&self, message: &str) {
        if let Ok(mut e) = self.errors.lock() {
            e.push(message.to_string());
        }
    }

    /// A transfer of this session started and never got BuildKit's FIN.
    pub fn transfer_cut(&self) -> bool {
        self.unfinished.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// The first sender-side error of this session, if any.
    pub fn first_error(&self) -> Option<String> {
        self.errors.lock().ok().and_then(|e| e.first().cloned())
    }
}

/// What BuildKit asked for in the call's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncRequest {
    pub dir_name: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub follow: Vec<String>,
}

impl SyncRequest {
    fn from_metadata(md: &tonic::metadata::MetadataMap) -> SyncRequest {
        let all = |key: &str| -> Vec<String> {
            md.get_all(key)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_string)
                .collect()
        };
        SyncRequest {
            dir_name: all("dir-name").into_iter().next().unwrap_or_default(),
            include: all("include-patterns"),
            exclude: all("exclude-patterns"),
            follow: all("followpaths"),
        }
    }
}

/// One entry to send: its stat, and for files the path to read when asked.
pub struct Listed {
    pub stat: Stat,
    pub file: Option<PathBuf>,
}

/// The entries of `root` BuildKit gets for `req`, in fsutil's order (depth first, names in byte order);
/// parent directories of included entries are listed even when a pattern dropped the directory itself.
pub fn list(root: &Path, req: &SyncRequest) -> io::Result<Vec<Listed>> {
    let exclude = DockerIgnore::parse(&req.exclude.join("\n"))?;
    // Includes and follow paths keep only what they name (and what lies below it).
    let keep = if req.include.is_empty() && req.follow.is_empty() {
        None
    } else {
        let mut text = String::from("**\n");
        for p in req.include.iter().chain(&req.follow) {
            text.push('!');
            text.push_str(p);
            text.push('\n');
        }
        Some(DockerIgnore::parse(&text)?)
    };
    // Only includes (the Dockerfile, `.dockerignore` by follow path): walk with them, so directories that
    // cannot hold what they name are not entered at all. With both, excludes drive the walk and includes
    // filter what it yields.
    let (walk_ignore, post) = match keep {
        Some(keep) if exclude.patterns().is_empty() => (keep, None),
        keep => (exclude, keep),
    };
    let mut out: Vec<Listed> = Vec::new();
    let mut sent_dirs: HashSet<String> = HashSet::new();
    let mut sent: HashSet<String> = HashSet::new();
    walk_with(root, &walk_ignore, &mut |e| {
        // fsutil's Stat.path is a protobuf string (UTF-8): a name that is not would reach the builder with
        // U+FFFD in it, i.e. as another file than the legacy builder's tar sends. Refuse it by name instead.
        if e.rel.to_str().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the file name is not UTF-8, which BuildKit's file transfer cannot carry; rename it, exclude it in .dockerignore, or build with [build] builder = \"legacy\"",
            ));
        }
        let rel = slash_path(e.rel);
        if let Some(keep) = &post
            && keep.is_excluded(&rel)
        {
            return Ok(());
        }
        // Parents first: fsutil sends the directories above an included entry.
        let mut prefix = String::new();
        for part in rel
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if sent_dirs.insert(prefix.clone()) {
                let meta = std::fs::symlink_metadata(root.join(&prefix))?;
                out.push(Listed {
                    stat: stat_of(&prefix, &meta, EntryKind::Dir, None)?,
                    file: None,
                });
            }
        }
        let (kind, link) = match (e.kind, e.link_target) {
            // A hard link whose first name was not sent becomes a file of its own.
            (EntryKind::HardLink, Some(t)) if !sent.contains(&slash_path(t)) => {
                (EntryKind::File, None)
            }
            (EntryKind::HardLink, Some(t)) => (EntryKind::HardLink, Some(slash_path(t))),
            (EntryKind::Symlink, _) => (
                EntryKind::Symlink,
                Some(std::fs::read_link(e.abs)?.to_string_lossy().into_owned()),
            ),
            (k, _) => (k, None),
        };
        if kind == EntryKind::Dir && !sent_dirs.insert(rel.clone()) {
            return Ok(());
        }
        sent.insert(rel.clone());
        out.push(Listed {
            stat: stat_of(&rel, e.meta, kind, link)?,
            file: (kind == EntryKind::File).then(|| e.abs.to_path_buf()),
        });
        Ok(())
    })?;
    Ok(out)
}

fn stat_of(
    rel: &str,
    meta: &std::fs::Metadata,
    kind: EntryKind,
    link: Option<String>,
) -> io::Result<Stat> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let unix = meta.permissions().mode();
    let mut mode = unix & 0o777;
    if unix & 0o4000 != 0 {
        mode |= go_mode::SETUID;
    }
    if unix & 0o2000 != 0 {
        mode |= go_mode::SETGID;
    }
    if unix & 0o1000 != 0 {
        mode |= go_mode::STICKY;
    }
    let ft = meta.file_type();
    let (mut devmajor, mut devminor) = (0, 0);
    match kind {
        EntryKind::Dir => mode |= go_mode::DIR,
        EntryKind::Symlink => mode |= go_mode::SYMLINK,
        EntryKind::Special => {
            if ft.is_fifo() {
                mode |= go_mode::NAMED_PIPE;
            } else {
                mode |= go_mode::DEVICE;
                if ft.is_char_device() {
                    mode |= go_mode::CHAR_DEVICE;
                }
                let rdev = meta.rdev();
                devmajor = libc::major(rdev) as i64;
                devminor = libc::minor(rdev) as i64;
            }
        }
        EntryKind::File | EntryKind::HardLink => {}
    }
    let size = match kind {
        EntryKind::File => meta.len() as i64,
        _ => 0,
    };
    Ok(Stat {
        path: rel.to_string(),
        mode,
        // Like the docker CLI's session (`resetUIDAndGID`): the local user's ids stay out of the image.
        uid: 0,
        gid: 0,
        size,
        mod_time: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        linkname: link.unwrap_or_default(),
        devmajor,
        devminor,
        xattrs: HashMap::new(),
    })
}

fn packet(kind: PacketType) -> Packet {
    Packet {
        r#type: kind as i32,
        stat: None,
        id: 0,
        data: Vec::new(),
    }
}

const DATA_CHUNK: usize = 1024 * 1024;

/// Run the sender side of one DiffCopy call.
async fn send(
    root: PathBuf,
    req: SyncRequest,
    mut incoming: Streaming<Packet>,
    tx: mpsc::Sender<Result<Packet, Status>>,
    owner: SyncedDirs,
) {
    let listing = {
        let root = root.clone();
        let req = req.clone();
        tokio::task::spawn_blocking(move || list(&root, &req)).await
    };
    let listing = match listing {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            let message = format!("cannot read the build context: {e}");
            owner.record(&message);
            let mut p = packet(PacketType::PacketErr);
            p.data = message.into_bytes();
            let _ = tx.send(Ok(p)).await;
            return;
        }
        Err(e) => {
            let _ = tx.send(Err(Status::internal(e.to_string()))).await;
            return;
        }
    };
    let mut files: HashMap<u32, PathBuf> = HashMap::new();
    for (i, entry) in listing.into_iter().enumerate() {
        if let Some(f) = entry.file {
            files.insert(i as u32, f);
        }
        let mut p = packet(PacketType::PacketStat);
        p.stat = Some(entry.stat);
        if tx.send(Ok(p)).await.is_err() {
            return;
        }
    }
    if tx.send(Ok(packet(PacketType::PacketStat))).await.is_err() {
        return;
    }
    owner
        .unfinished
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    while let Ok(Some(p)) = incoming.message().await {
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketReq) => {
                let Some(path) = files.get(&p.id) else {
                    let mut e = packet(PacketType::PacketErr);
                    e.data = format!("invalid file request {}", p.id).into_bytes();
                    let _ = tx.send(Ok(e)).await;
                    return;
                };
                if let Err(e) = send_file(path, &root, p.id, &tx).await {
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        owner.record(&e.to_string());
                    }
                    let mut err = packet(PacketType::PacketErr);
                    err.data = e.to_string().into_bytes();
                    let _ = tx.send(Ok(err)).await;
                    return;
                }
            }
            Ok(PacketType::PacketFin) => {
                owner
                    .unfinished
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.send(Ok(packet(PacketType::PacketFin))).await;
                return;
            }
            Ok(PacketType::PacketErr) => {
                log::warn!(
                    "BuildKit's file sync of {} failed: {}",
                    req.dir_name,
                    String::from_utf8_lossy(&p.data)
                );
                return;
            }
            _ => {}
        }
    }
}

async fn send_file(
    path: &Path,
    root: &Path,
    id: u32,
    tx: &mpsc::Sender<Result<Packet, Status>>,
) -> io::Result<()> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let name = slash_path(rel);
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {name}: {e}")))?;
    let mut buf = vec![0u8; DATA_CHUNK];
    loop {
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot read {name}: {e}")))?;
        let mut p = packet(PacketType::PacketData);
        p.id = id;
        p.data = buf[..n].to_vec();
        tx.send(Ok(p))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "file sync aborted"))?;
        if n == 0 {
            return Ok(());
        }
    }
}

#[tonic::async_trait]
impl FileSync for SyncedDirs {
    type DiffCopyStream = ReceiverStream<Result<Packet, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let req = SyncRequest::from_metadata(request.metadata());
        let Some(root) = self.dirs.get(&req.dir_name).cloned() else {
            return Err(Status::not_found(format!(
                "no local directory named {:?} in this session",
                req.dir_name
            )));
        };
        log::debug!(
            "file sync of {} ({}): {req:?}",
            req.dir_name,
            root.display()
        );
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(send(root, req, request.into_inner(), tx, self.clone()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type TarStreamStream = ReceiverStream<Result<Packet, Status>>;

    async fn tar_stream(
        &self,
        _request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented(
            "dockui sends directories with DiffCopy",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(root: &Path, req: &SyncRequest) -> Vec<String> {
        list(root, req)
            .unwrap()
            .into_iter()
            .map(|l| l.stat.path)
            .collect()
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, t) in [
            ("Dockerfile", "FROM scratch\n"),
            (".dockerignore", "*\n!app.py\n"),
            ("app.py", "x"),
            ("data/keep.txt", "k"),
            ("data/x.log", "l"),
            ("b.pyc", "c"),
        ] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, t).unwrap();
        }
        dir
    }

    #[test]
    fn excludes_are_the_dockerignore_patterns_and_parents_come_first() {
        let dir = tree();
        let req = SyncRequest {
            dir_name: "context".into(),
            exclude: vec!["data".into(), "!data/keep.txt".into(), "*.pyc".into()],
            ..Default::default()
        };
        assert_eq!(
            names(dir.path(), &req),
            [
                ".dockerignore",
                "Dockerfile",
                "app.py",
                "data",
                "data/keep.txt"
            ]
        );
        // `*` + `!app.py`: the build files are not sent (the legacy builder drops them too).
        let req = SyncRequest {
            exclude: vec!["*".into(), "!app.py".into()],
            ..Default::default()
        };
        assert_eq!(names(dir.path(), &req), ["app.py"]);
    }

    #[test]
    fn a_file_name_that_is_not_utf8_is_refused_by_name_unless_excluded() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tree();
        let bad = std::ffi::OsStr::from_bytes(b"data\xff.bin");
        std::fs::write(dir.path().join(bad), "b").unwrap();
        let Err(err) = list(dir.path(), &SyncRequest::default()) else {
            panic!("listed")
        };
        let msg = err.to_string();
        assert!(
            msg.contains("data\u{fffd}.bin: the file name is not UTF-8")
                && msg.contains(".dockerignore"),
            "{msg}"
        );
        // Excluded, it is never looked at.
        let req = SyncRequest {
            exclude: vec!["*.bin".into()],
            ..Default::default()
        };
        assert!(!names(dir.path(), &req).is_empty());
    }

    #[test]
    fn includes_and_excludes_together_both_apply() {
        let dir = tree();
        let req = SyncRequest {
            include: vec!["data".into()],
            exclude: vec!["*.log".into(), "data/*.log".into()],
            ..Default::default()
        };
        assert_eq!(names(dir.path(), &req), ["data", "data/keep.txt"]);
    }

    #[test]
    fn follow_paths_send_only_what_they_name() {
        let dir = tree();
        let req = SyncRequest {
            follow: vec!["Dockerfile".into(), "Dockerfile.dockerignore".into()],
            ..Default::default()
        };
        assert_eq!(names(dir.path(), &req), ["Dockerfile"]);
        let req = SyncRequest {
            include: vec!["data/keep.txt".into()],
            ..Default::default()
        };
        assert_eq!(names(dir.path(), &req), ["data", "data/keep.txt"]);
    }

    #[test]
    fn modes_are_go_file_modes_and_ids_are_reset() {
        let dir = tree();
        let l = list(dir.path(), &SyncRequest::default()).unwrap();
        let data = l.iter().find(|l| l.stat.path == "data").unwrap();
        assert_ne!(data.stat.mode & go_mode::DIR, 0);
        let app = l.iter().find(|l| l.stat.path == "app.py").unwrap();
        assert_eq!(app.stat.mode & go_mode::DIR, 0);
        assert_eq!((app.stat.uid, app.stat.gid, app.stat.size), (0, 0, 1));
        assert!(app.file.is_some());
    }
}
