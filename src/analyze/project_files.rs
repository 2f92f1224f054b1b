//! Reading a project's files safely: a project (a pull request in CI, a clone from anywhere) decides what its
//! paths point at, so a file is read only when it is a regular file inside the project after resolving
//! symlinks, and at most [`MAX_FILE_BYTES`] of it. Anything else (a link out of the project, `/dev/zero`, a
//! FIFO, a directory, a huge file) is refused without opening it for reading content: the refusal names the
//! path and the reason, never what the file holds.

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Largest project file dockui reads; real Dockerfiles and requirements files are a few KiB.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Resolves (through symlinks) to a place outside the project.
    Outside(PathBuf),
    /// Not a regular file: a FIFO, a device, a socket, a directory.
    NotRegular(&'static str),
    TooLarge(u64),
    /// Some other I/O error (permission denied, ...), as text.
    Unreadable(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Outside(to) => write!(
                f,
                "it resolves to {} outside the project; dockui reads only files inside the project \
                 (copy the file in, or name it on the command line)",
                to.display()
            ),
            Refusal::NotRegular(kind) => write!(
                f,
                "it is a {kind}, not a regular file; replace it with the file it stands for"
            ),
            Refusal::TooLarge(n) => write!(
                f,
                "it is {n} bytes, more than dockui reads ({MAX_FILE_BYTES} bytes)"
            ),
            Refusal::Unreadable(e) => write!(f, "it cannot be read: {e}"),
        }
    }
}

/// What reading one path gave.
#[derive(Debug)]
pub enum Read {
    Text {
        text: String,
        /// The bytes were not UTF-8; `text` has U+FFFD in their place.
        lossy: bool,
    },
    Missing,
    Refused(Refusal),
}

/// Reads files of one project. `root` is resolved once.
#[derive(Debug, Clone)]
pub struct ProjectFiles {
    root: PathBuf,
}

impl ProjectFiles {
    pub fn new(root: &Path) -> std::io::Result<ProjectFiles> {
        Ok(ProjectFiles {
            root: root.canonicalize()?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Read `rel` (relative to the root) when it is a regular file inside the project.
    pub fn read(&self, rel: &Path) -> Read {
        self.read_at(&self.root.join(rel), true)
    }

    /// Read a path the user gave on the command line or in their own config: it may point anywhere, but it
    /// must still be a regular file of bounded size.
    pub fn read_trusted(&self, path: &Path) -> Read {
        self.read_at(&self.root.join(path), false)
    }

    fn read_at(&self, path: &Path, inside_only: bool) -> Read {
        // lstat first: a missing file or a dangling link is simply absent.
        match std::fs::symlink_metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
            Err(e) => return Read::Refused(Refusal::Unreadable(e.to_string())),
        }
        let real = match path.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Read::Missing,
            Err(e) => return Read::Refused(Refusal::Unreadable(e.to_string())),
        };
        if inside_only && !real.starts_with(&self.root) {
            return Read::Refused(Refusal::Outside(real));
        }
        // stat before open: opening a FIFO for reading would block until a writer comes.
        match std::fs::metadata(&real) {
            Ok(m) => {
                if let Some(r) = not_regular(&m) {
                    return Read::Refused(r);
                }
                if m.len() > MAX_FILE_BYTES {
                    return Read::Refused(Refusal::TooLarge(m.len()));
                }
            }
            Err(e) => return Read::Refused(Refusal::Unreadable(e.to_string())),
        }
        match read_capped(&real) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Read::Text { text, lossy: false },
                Err(e) => Read::Text {
                    text: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    lossy: true,
                },
            },
            Err(r) => Read::Refused(r),
        }
    }
}

/// Read `root/rel` as text when it is a regular UTF-8 file inside the project, for the code outside the
/// analyzer that reads project files (smoke inference, the fix planner, `.dockerignore`). A missing file is
/// `NotFound`; anything refused is an error that names the reason, never the content.
pub fn read_text(root: &Path, rel: &Path) -> std::io::Result<String> {
    let files = ProjectFiles::new(root)?;
    match files.read(rel) {
        Read::Text { text, lossy: false } => Ok(text),
        Read::Text { lossy: true, .. } => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is not valid UTF-8", rel.display()),
        )),
        Read::Missing => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} not found", rel.display()),
        )),
        Read::Refused(why) => Err(std::io::Error::other(format!(
            "{} was not read: {why}",
            rel.display()
        ))),
    }
}

fn not_regular(m: &std::fs::Metadata) -> Option<Refusal> {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    if t.is_file() {
        return None;
    }
    let kind = if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO (named pipe)"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    };
    Some(Refusal::NotRegular(kind))
}

/// Open without blocking (the file may have been swapped for a FIFO since the stat), check the opened file
/// is still regular, and read at most the cap (a file in /proc reports size 0 and can be endless).
fn read_capped(path: &Path) -> Result<Vec<u8>, Refusal> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    let m = f
        .metadata()
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    if let Some(r) = not_regular(&m) {
        return Err(r);
    }
    let mut bytes = Vec::with_capacity(m.len().min(MAX_FILE_BYTES) as usize);
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Refusal::Unreadable(e.to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Refusal::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// True when `p` is relative and never climbs above where it starts (`a/../b` is fine, `../b` is not).
pub fn stays_inside(p: &Path) -> bool {
    use std::path::Component;
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => return false,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::Normal(_) => depth += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn reads_regular_files_and_refuses_the_rest() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "TOKEN=abc").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM a\n").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        symlink(outside.path().join("secret"), root.join("out")).unwrap();
        symlink("Dockerfile", root.join("inside-link")).unwrap();
        symlink("/dev/zero", root.join("zero")).unwrap();
        let fifo = std::ffi::CString::new(root.join("fifo").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let big = std::fs::File::create(root.join("big")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let pf = ProjectFiles::new(root).unwrap();
        assert!(
            matches!(pf.read(Path::new("Dockerfile")), Read::Text { ref text, lossy: false } if text == "FROM a\n")
        );
        assert!(matches!(
            pf.read(Path::new("inside-link")),
            Read::Text { .. }
        ));
        assert!(matches!(pf.read(Path::new("nope")), Read::Missing));
        assert!(matches!(
            pf.read(Path::new("out")),
            Read::Refused(Refusal::Outside(_))
        ));
        assert!(matches!(
            pf.read(Path::new("zero")),
            Read::Refused(Refusal::Outside(_))
        ));
        assert!(matches!(
            pf.read_trusted(Path::new("zero")),
            Read::Refused(Refusal::NotRegular("character device"))
        ));
        assert!(matches!(
            pf.read(Path::new("fifo")),
            Read::Refused(Refusal::NotRegular(_))
        ));
        assert!(matches!(
            pf.read(Path::new("sub")),
            Read::Refused(Refusal::NotRegular("directory"))
        ));
        assert!(matches!(
            pf.read(Path::new("big")),
            Read::Refused(Refusal::TooLarge(_))
        ));
        assert!(matches!(
            pf.read(Path::new("../x")),
            Read::Missing | Read::Refused(Refusal::Outside(_))
        ));
        // The trusted reader follows a link out of the project.
        assert!(matches!(
            pf.read_trusted(Path::new("out")),
            Read::Text { .. }
        ));
    }

    #[test]
    fn invalid_utf8_is_read_lossily_and_flagged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"FROM a\xff\n").unwrap();
        let pf = ProjectFiles::new(dir.path()).unwrap();
        assert!(matches!(
            pf.read(Path::new("f")),
            Read::Text { lossy: true, .. }
        ));
    }

    #[test]
    fn stays_inside_paths() {
        assert!(stays_inside(Path::new("Dockerfile")));
        assert!(stays_inside(Path::new("docker/../Dockerfile")));
        assert!(!stays_inside(Path::new("../Dockerfile")));
        assert!(!stays_inside(Path::new("/etc/passwd")));
        assert!(!stays_inside(Path::new("a/../../b")));
    }
}
