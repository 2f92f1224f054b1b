//! The build context for CodeBuild: the same entries as a local build sends (the tar builder of
//! `docker::context`, so `.dockerignore` has Docker's semantics), re-packed as a zip, which is what CodeBuild
//! unpacks for an S3 source (it does not take tar). Deflated, with unix modes and symlinks kept; timestamps
//! are fixed so the same context gives the same bytes.

use std::io::{self, Read, Seek, Write};
use std::path::Path;

use crate::docker::context::{ContextStats, write_context_tar};

/// What went into the zip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    pub stats: ContextStats,
    pub entries: usize,
    pub bytes: u64,
    /// SHA-256 of the zip (names the S3 object, so an unchanged context is the same key).
    pub sha256: String,
}

/// Pack `root` (with `dockerfile`, relative to it) into `out_zip`.
pub fn pack_context(root: &Path, dockerfile: &Path, out_zip: &Path) -> io::Result<Packed> {
    let mut tar_file = tempfile::tempfile()?;
    let stats = write_context_tar(root, dockerfile, &mut tar_file)?;
    tar_file.seek(io::SeekFrom::Start(0))?;
    let out = std::fs::File::create(out_zip)?;
    let mut zip = ZipWriter::new(io::BufWriter::new(out));
    let mut archive = tar::Archive::new(tar_file);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let header = entry.header().clone();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        match header.entry_type() {
            tar::EntryType::Directory => zip.directory(&name, mode)?,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                zip.symlink(&name, &target)?
            }
            tar::EntryType::Link => {
                // A second name of a file sent earlier: zip has no hard links, so the content again.
                let first = entry.link_name()?.unwrap_or_default().into_owned();
                let mut f = std::fs::File::open(root.join(first))?;
                zip.file(&name, mode, &mut f)?
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                zip.file(&name, mode, &mut entry)?
            }
            // FIFOs and devices cannot be in a zip; Docker sends them but a build cannot use them.
            _ => {}
        }
    }
    let (mut w, entries) = zip.finish()?;
    w.flush()?;
    drop(w);
    let bytes = std::fs::metadata(out_zip)?.len();
    let sha256 = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        io::copy(&mut std::fs::File::open(out_zip)?, &mut h)?;
        format!("{:x}", h.finalize())
    };
    Ok(Packed {
        stats,
        entries,
        bytes,
        sha256,
    })
}

/// A minimal streaming zip writer (no zip64: a context over 4 GB or 65535 entries is refused with what to
/// do). Each file is deflated as it is read, followed by a data descriptor with its CRC and sizes.
struct ZipWriter<W: Write> {
    out: Counting<W>,
    central: Vec<u8>,
    entries: usize,
}

struct Counting<W: Write> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const DEFLATE: u16 = 8;
const STORED: u16 = 0;
/// 1980-01-01 00:00, the earliest DOS date: fixed, so packing is reproducible.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
const VERSION_NEEDED: u16 = 20;
/// Made by unix (3), spec 2.0: readers then honour the mode in the external attributes.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
const FLAG_DESCRIPTOR: u16 = 1 << 3;
const FLAG_UTF8: u16 = 1 << 11;

fn too_big(what: &str) -> io::Error {
    io::Error::other(format!(
        "the build context is too large for a zip without zip64 ({what}): exclude data, models and caches \
         with .dockerignore"
    ))
}

fn u32_of(n: u64, what: &str) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| too_big(what))
}

impl<W: Write> ZipWriter<W> {
    fn new(out: W) -> Self {
        ZipWriter {
            out: Counting { inner: out, n: 0 },
            central: Vec::new(),
            entries: 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        name: &str,
        method: u16,
        flags: u16,
        crc: u32,
        csize: u32,
        usize_: u32,
        external: u32,
        offset: u32,
    ) {
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
        c.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
        c.extend_from_slice(&flags.to_le_bytes());
        c.extend_from_slice(&method.to_le_bytes());
        c.extend_from_slice(&DOS_TIME.to_le_bytes());
        c.extend_from_slice(&DOS_DATE.to_le_bytes());
        c.extend_from_slice(&crc.to_le_bytes());
        c.extend_from_slice(&csize.to_le_bytes());
        c.extend_from_slice(&usize_.to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // extra
        c.extend_from_slice(&0u16.to_le_bytes()); // comment
        c.extend_from_slice(&0u16.to_le_bytes()); // disk
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        c.extend_from_slice(&external.to_le_bytes());
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn local_header(
        &mut self,
        name: &str,
        method: u16,
        flags: u16,
        crc: u32,
        size: u32,
    ) -> io::Result<u32> {
        if name.len() > u16::MAX as usize {
            return Err(io::Error::other(format!("path too long for a zip: {name}")));
        }
        if self.entries >= u16::MAX as usize - 1 {
            return Err(too_big("over 65535 files"));
        }
        let offset = u32_of(self.out.n, "over 4 GB")?;
        let o = &mut self.out;
        o.write_all(&0x0403_4b50u32.to_le_bytes())?;
        o.write_all(&VERSION_NEEDED.to_le_bytes())?;
        o.write_all(&flags.to_le_bytes())?;
        o.write_all(&method.to_le_bytes())?;
        o.write_all(&DOS_TIME.to_le_bytes())?;
        o.write_all(&DOS_DATE.to_le_bytes())?;
        o.write_all(&crc.to_le_bytes())?;
        o.write_all(&size.to_le_bytes())?;
        o.write_all(&size.to_le_bytes())?;
        o.write_all(&(name.len() as u16).to_le_bytes())?;
        o.write_all(&0u16.to_le_bytes())?;
        o.write_all(name.as_bytes())?;
        Ok(offset)
    }

    fn directory(&mut self, name: &str, mode: u32) -> io::Result<()> {
        let name = format!("{}/", name.trim_end_matches('/'));
        let offset = self.local_header(&name, STORED, FLAG_UTF8, 0, 0)?;
        // MS-DOS directory bit, plus the unix mode.
        let external = ((0o040000 | mode) << 16) | 0x10;
        self.record(&name, STORED, FLAG_UTF8, 0, 0, 0, external, offset);
        Ok(())
    }

    fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        let crc = crc32fast::hash(target.as_bytes());
        let size = target.len() as u32;
        let offset = self.local_header(name, STORED, FLAG_UTF8, crc, size)?;
        self.out.write_all(target.as_bytes())?;
        let external = (0o120777u32) << 16;
        self.record(name, STORED, FLAG_UTF8, crc, size, size, external, offset);
        Ok(())
    }

    fn file(&mut self, name: &str, mode: u32, data: &mut dyn Read) -> io::Result<()> {
        let flags = FLAG_DESCRIPTOR | FLAG_UTF8;
        let offset = self.local_header(name, DEFLATE, flags, 0, 0)?;
        let start = self.out.n;
        let mut crc = crc32fast::Hasher::new();
        let mut total: u64 = 0;
        {
            let mut enc =
                flate2::write::DeflateEncoder::new(&mut self.out, flate2::Compression::default());
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = data.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                crc.update(&buf[..n]);
                total += n as u64;
                enc.write_all(&buf[..n])?;
            }
            enc.finish()?;
        }
        let crc = crc.finalize();
        let csize = u32_of(self.out.n - start, "a file over 4 GB")?;
        let usize_ = u32_of(total, "a file over 4 GB")?;
        self.out.write_all(&0x0807_4b50u32.to_le_bytes())?;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&csize.to_le_bytes())?;
        self.out.write_all(&usize_.to_le_bytes())?;
        let external = (0o100000 | mode) << 16;
        self.record(name, DEFLATE, flags, crc, csize, usize_, external, offset);
        Ok(())
    }

    fn finish(mut self) -> io::Result<(W, usize)> {
        let cd_offset = u32_of(self.out.n, "over 4 GB")?;
        let cd_size = u32_of(self.central.len() as u64, "over 4 GB")?;
        let central = std::mem::take(&mut self.central);
        self.out.write_all(&central)?;
        let n = self.entries as u16;
        let o = &mut self.out;
        o.write_all(&0x0605_4b50u32.to_le_bytes())?;
        o.write_all(&0u16.to_le_bytes())?;
        o.write_all(&0u16.to_le_bytes())?;
        o.write_all(&n.to_le_bytes())?;
        o.write_all(&n.to_le_bytes())?;
        o.write_all(&cd_size.to_le_bytes())?;
        o.write_all(&cd_offset.to_le_bytes())?;
        o.write_all(&0u16.to_le_bytes())?;
        Ok((self.out.inner, self.entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in a zip, from its central directory (tests/codebuild.rs reads the uploaded zip back with
    /// Python's zipfile, an independent reader).
    fn names(zip: &[u8]) -> Vec<String> {
        let eocd = zip.len() - 22;
        let n = u16::from_le_bytes([zip[eocd + 10], zip[eocd + 11]]) as usize;
        let mut at = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        let mut out = Vec::new();
        for _ in 0..n {
            let len = u16::from_le_bytes([zip[at + 28], zip[at + 29]]) as usize;
            out.push(String::from_utf8_lossy(&zip[at + 46..at + 46 + len]).into_owned());
            at += 46 + len;
        }
        out
    }

    #[test]
    fn zip_honours_dockerignore_and_is_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ctx");
        std::fs::create_dir_all(root.join("src/data")).unwrap();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "src/data\n*.log\n!keep.log\n").unwrap();
        std::fs::write(root.join("src/app.py"), "print('hi')\n".repeat(1000)).unwrap();
        std::fs::write(root.join("src/data/big.bin"), vec![7u8; 10_000]).unwrap();
        std::fs::write(root.join("x.log"), "noise").unwrap();
        std::fs::write(root.join("keep.log"), "kept").unwrap();
        std::os::unix::fs::symlink("src/app.py", root.join("link.py")).unwrap();
        let zip = dir.path().join("ctx.zip");
        let packed = pack_context(&root, Path::new("Dockerfile"), &zip).unwrap();
        assert!(packed.stats.excluded >= 2, "{packed:?}");
        // Deflated: 12 kB of repeated text is far smaller.
        assert!(packed.bytes < 4000, "{packed:?}");
        let again =
            pack_context(&root, Path::new("Dockerfile"), &dir.path().join("b.zip")).unwrap();
        assert_eq!(packed.sha256, again.sha256, "same context, same bytes");
        let names = names(&std::fs::read(&zip).unwrap());
        for want in [
            "Dockerfile",
            ".dockerignore",
            "src/",
            "src/app.py",
            "keep.log",
            "link.py",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        for gone in ["src/data/", "src/data/big.bin", "x.log"] {
            assert!(!names.iter().any(|n| n == gone), "{gone} in {names:?}");
        }
        assert_eq!(names.len(), packed.entries);
    }
}
