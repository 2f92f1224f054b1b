//! A context with a file larger than what we allow ourselves to hold in memory streams through with
//! bounded memory. Alone in its binary: it reads the process's peak RSS.

use std::path::PathBuf;

use dockui::docker::context::context_tar_stream;
use futures_util::StreamExt;

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_streams_with_bounded_memory() {
    const BIG: u64 = 512 * 1024 * 1024;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nCOPY . /\n").expect("write");
    // Sparse: costs no disk, but every byte is read and archived.
    let f = std::fs::File::create(dir.path().join("weights.bin")).expect("create");
    f.set_len(BIG).expect("set_len");
    drop(f);

    let before = peak_rss_bytes();
    let (mut stream, handle) =
        context_tar_stream(dir.path().to_path_buf(), PathBuf::from("Dockerfile"));
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("chunk").len() as u64;
    }
    let stats = handle.await.expect("join").expect("stats");
    assert_eq!(stats.files, 2);
    assert!(total > BIG, "the whole file went through: {total}");
    match (before, peak_rss_bytes()) {
        (Some(before), Some(after)) => {
            let grown = after.saturating_sub(before);
            assert!(
                grown < 64 * 1024 * 1024,
                "peak RSS grew by {} MiB while streaming {} MiB",
                grown >> 20,
                BIG >> 20
            );
        }
        _ => eprintln!("note: no /proc/self/status, memory bound not checked"),
    }
}
