//! The bounds for `benches/manifest/run.sh`, on every core, over the files under a
//! directory (listed untimed first):
//!
//! - `hash` (default): each file's bytes, read into memory untimed, hashed with the same
//!   library and per-file hasher as `proofgate manifest` — the SHA-256 ceiling;
//! - `read`: each file opened, read into a buffer sized to it, closed — no hashing: what
//!   `read(2)` costs on this machine (the page-cache copy and the per-file calls);
//! - `read-hash`: both, with the file list made before the clock starts (no walk, no
//!   ignore rules, no Merkle tree);
//! - `walk-read-hash`: the same with the directory walk timed too (`read_dir` on every
//!   core, directories handed out as found): the least any `read(2)`-based manifest can
//!   do, since a manifest has to list the tree it hashes.
//!
//! Prints `seconds files bytes checksum`.
//!
//! `cargo run --release --example sha_limit -- DIR [THREADS] [hash|read|read-hash|walk-read-hash]`

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sha2::{Digest as _, Sha256};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            collect(&e.path(), out)?;
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Reads `path` into `buf` (grown to the file's size, plus one byte to see the end).
fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut f = std::fs::File::open(path)?;
    let len = usize::try_from(f.metadata()?.len()).map_err(std::io::Error::other)?;
    if buf.len() < len + 1 {
        buf.resize(len + 1, 0);
    }
    let mut n = 0;
    loop {
        match f.read(&mut buf[n..=len])? {
            0 => return Ok(n),
            k => n += k,
        }
        if n > len {
            return Ok(n);
        }
    }
}

/// Runs `work` over the item indices on `threads` threads; XORs the bytes they return.
fn on_all_cores(
    threads: usize,
    items: usize,
    work: impl Fn(usize, &mut Vec<u8>) -> u8 + Sync,
) -> u8 {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = Vec::new();
                    let mut acc = 0u8;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= items {
                            break acc;
                        }
                        acc ^= work(i, &mut buf);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .fold(0, |a, b| a ^ b)
    })
}

/// Walks `root` on `threads` threads (a shared list of directories still to read; a
/// thread reads one, queues its subdirectories and hashes its files), returning the
/// number of files and the XOR of their digests' first bytes.
fn walk_read_hash(root: &Path, threads: usize) -> (usize, u8) {
    use std::sync::{Condvar, Mutex};
    // Directories not yet taken, and how many are queued or being read.
    let queue = Mutex::new((vec![root.to_owned()], 1usize));
    let wake = Condvar::new();
    let files = AtomicUsize::new(0);
    let sink = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut buf = Vec::new();
                    let mut acc = 0u8;
                    loop {
                        let dir = {
                            let Ok(mut q) = queue.lock() else { break acc };
                            loop {
                                if let Some(d) = q.0.pop() {
                                    break Some(d);
                                }
                                if q.1 == 0 {
                                    break None;
                                }
                                q = match wake.wait(q) {
                                    Ok(q) => q,
                                    Err(_) => break None,
                                };
                            }
                        };
                        let Some(dir) = dir else {
                            wake.notify_all();
                            break acc;
                        };
                        let mut subdirs = Vec::new();
                        if let Ok(entries) = std::fs::read_dir(&dir) {
                            for e in entries.flatten() {
                                let Ok(t) = e.file_type() else { continue };
                                if t.is_dir() {
                                    subdirs.push(e.path());
                                } else if t.is_file() {
                                    let n = read_into(&e.path(), &mut buf).unwrap_or(0);
                                    let d: [u8; 32] = Sha256::digest(&buf[..n]).into();
                                    acc ^= d[0];
                                    files.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        if let Ok(mut q) = queue.lock() {
                            q.1 += subdirs.len();
                            q.1 -= 1;
                            q.0.extend(subdirs);
                        }
                        wake.notify_all();
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .fold(0, |a, b| a ^ b)
    });
    (files.into_inner(), sink)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || {
        std::io::Error::other("usage: sha_limit DIR [THREADS] [hash|read|read-hash|walk-read-hash]")
    };
    let dir = args.next().ok_or_else(usage)?;
    let threads: usize = match args.next() {
        Some(t) => t.parse().map_err(std::io::Error::other)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mode = args.next().unwrap_or_else(|| "hash".to_owned());
    let mut paths = Vec::new();
    collect(Path::new(&dir), &mut paths)?;
    let sizes: Vec<u64> = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .collect::<Result<_, _>>()?;
    let bytes: u64 = sizes.iter().sum();
    let (secs, sink) = match mode.as_str() {
        "hash" => {
            let files: Vec<Vec<u8>> = paths.iter().map(std::fs::read).collect::<Result<_, _>>()?;
            let start = Instant::now();
            let sink = on_all_cores(threads, files.len(), |i, _| {
                let d: [u8; 32] = Sha256::digest(&files[i]).into();
                d[0]
            });
            (start.elapsed().as_secs_f64(), sink)
        }
        "read" | "read-hash" => {
            let hash = mode == "read-hash";
            let start = Instant::now();
            let sink = on_all_cores(threads, paths.len(), |i, buf| {
                let n = read_into(&paths[i], buf).unwrap_or(0);
                if hash {
                    let d: [u8; 32] = Sha256::digest(&buf[..n]).into();
                    d[0]
                } else {
                    buf.first().copied().unwrap_or(0)
                }
            });
            (start.elapsed().as_secs_f64(), sink)
        }
        "walk-read-hash" => {
            let start = Instant::now();
            let (n, sink) = walk_read_hash(Path::new(&dir), threads);
            if n != paths.len() {
                return Err(std::io::Error::other(format!(
                    "the timed walk found {n} files, the listing {}",
                    paths.len()
                )));
            }
            (start.elapsed().as_secs_f64(), sink)
        }
        _ => return Err(usage()),
    };
    println!("{secs:.4} {} {bytes} {sink}", paths.len());
    Ok(())
}
