//! The image export as a stream: the engine's `GET /images/{name}/get` (docker save) feeds a bounded channel
//! that a blocking reader drains through the archive walker, so at most a few chunks are in memory.

use super::{ImageReport, Options};
use crate::docker::DockerError;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::Read;

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{0}")]
    Engine(#[from] DockerError),
    #[error("image {0} is not in the engine: build it (dockui build) or pull it first")]
    NotFound(String),
    #[error("{0}")]
    Archive(#[from] super::archive::ArchiveError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A `Read` over chunks sent from async code; ends at the sender's drop, fails on an error chunk.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    current: Bytes,
}

impl ChannelReader {
    pub fn new(rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

/// Export `image` from the engine and analyse it while it streams.
pub async fn inspect_engine_image(
    engine: &dyn crate::builder::BuilderPort,
    image: &str,
    opts: Options,
) -> Result<ImageReport, InspectError> {
    engine.ping().await?;
    if engine.inspect_image(image).await?.is_none() {
        return Err(InspectError::NotFound(image.to_string()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let name = image.to_string();
    let reader = tokio::task::spawn_blocking(move || {
        super::archive::read_archive(ChannelReader::new(rx))
            .map(|resolved| super::analyze(&name, resolved, opts))
    });
    let mut stream = engine.export_image(image);
    let mut engine_error = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => {
                if tx.send(Ok(b)).await.is_err() {
                    // The reader stopped early (bad archive): its error says why.
                    break;
                }
            }
            Err(mapped) => {
                let _ = tx
                    .send(Err(std::io::Error::other(mapped.to_string())))
                    .await;
                engine_error = Some(mapped);
                break;
            }
        }
    }
    drop(tx);
    let result = reader
        .await
        .map_err(|e| std::io::Error::other(format!("archive reader failed: {e}")))?;
    match (result, engine_error) {
        (_, Some(e)) => Err(InspectError::Engine(e)),
        (r, None) => Ok(r?),
    }
}

/// Analyse a saved archive file (`docker save -o`, `podman save [--format oci-archive]`).
pub fn inspect_archive_file(
    path: &std::path::Path,
    opts: Options,
) -> Result<ImageReport, InspectError> {
    let file = std::fs::File::open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let resolved = super::archive::read_archive(std::io::BufReader::with_capacity(1 << 20, file))
        .map_err(|e| match e {
        // A file that is not a tar at all fails in the tar reader: say what it is not.
        super::archive::ArchiveError::Io(io) => super::archive::ArchiveError::Layout(format!(
            "{} is not a readable tar file ({io}); save one with `docker save -o FILE IMAGE`",
            path.display()
        )),
        other => other,
    })?;
    Ok(super::analyze(&path.display().to_string(), resolved, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_reader_concatenates_chunks_and_ends_at_drop() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"ab"))).unwrap();
        tx.try_send(Ok(Bytes::from_static(b"cde"))).unwrap();
        drop(tx);
        let mut s = String::new();
        ChannelReader::new(rx).read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcde");
    }

    #[test]
    fn channel_reader_passes_errors_on() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"ab"))).unwrap();
        tx.try_send(Err(std::io::Error::other("engine went away")))
            .unwrap();
        let mut s = String::new();
        let err = ChannelReader::new(rx).read_to_string(&mut s).unwrap_err();
        assert!(err.to_string().contains("engine went away"));
    }
}
