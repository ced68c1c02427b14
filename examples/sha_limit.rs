//! The SHA-256 ceiling for `benches/manifest/run.sh`: reads every file under a directory
//! into memory (untimed), then hashes each file's bytes with the same library and the same
//! per-file hasher as `proofgate manifest`, on every core, and prints the seconds taken.
//!
//! `cargo run --release --example sha_limit -- DIR [THREADS]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sha2::{Digest as _, Sha256};

fn collect(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            collect(&e.path(), out)?;
        } else if t.is_file() {
            out.push(std::fs::read(e.path())?);
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| std::io::Error::other("usage: sha_limit DIR [THREADS]"))?;
    let threads: usize = match args.next() {
        Some(t) => t.parse().map_err(std::io::Error::other)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut files = Vec::new();
    collect(std::path::Path::new(&dir), &mut files)?;
    let bytes: usize = files.iter().map(Vec::len).sum();
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let sink: Vec<u8> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut acc = 0u8;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break acc };
                        let d: [u8; 32] = Sha256::digest(f).into();
                        acc ^= d[0];
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{secs:.4} {} {bytes} {}",
        files.len(),
        sink.iter().fold(0u8, |a, b| a ^ b)
    );
    Ok(())
}
