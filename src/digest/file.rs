//! One file's SHA-256 for the source manifest, read the cheap way: one `open`, one
//! `fstat`, and one `read` into a buffer sized to the file (files larger than
//! [`CHUNK`] are streamed through a buffer of that size).
//!
//! The size `fstat` gave is also the check that the file did not change length while it
//! was read: a file that grew or shrank in between is an error
//! ([`FileHashError::Changed`]), never a digest of some of its bytes. Each read asks for
//! one byte more than the size still expected, so growth shows up in the same call; the
//! final `read` that returns 0 is skipped only when the bytes read already equal the size
//! and the last read came back short, which the kernel does only at the end of the file.
//! A file rewritten in place with the same length cannot be told apart by length; the
//! digest is then of whichever bytes the reads saw.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;

/// Largest single read, and so the most memory a [`FileHasher`] holds (4 MiB).
pub const CHUNK: usize = 4 << 20;

/// Why a file could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum FileHashError {
    /// `open`, `fstat` or `read` failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The file's length changed between `fstat` and the end of reading.
    #[error("changed while being read ({expected} bytes when opened, {read} bytes read)")]
    Changed {
        /// The length `fstat` reported.
        expected: u64,
        /// The bytes actually read (at least `expected + 1` when the file grew).
        read: u64,
    },
}

/// Alignment of the start of each read. `read(2)` copies from the page cache with
/// `rep movsb`, which on the AMD EPYC build machine takes about 60% longer per byte when
/// the destination is not 64-byte aligned (heap buffers are 16-byte aligned): 0.45 s more
/// system time per GB. Page alignment makes the buffer's address irrelevant.
const ALIGN: usize = 4096;

/// Hashes files one after another, reusing one buffer that grows to the largest file
/// seen (at most [`CHUNK`] bytes); reads land at a page-aligned address inside it.
#[derive(Debug, Default)]
pub struct FileHasher {
    buf: Vec<u8>,
}

impl FileHasher {
    /// A hasher with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// SHA-256 of the file at `path` and its length in bytes.
    pub fn hash_path(&mut self, path: &Path) -> Result<(Sha256Digest, u64), FileHashError> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        self.hash_reader(&mut f, len)
    }

    /// SHA-256 of everything `r` yields, which must be exactly `len` bytes; reads are
    /// sized to what is still expected, plus one byte to notice growth.
    pub fn hash_reader(
        &mut self,
        r: &mut impl Read,
        len: u64,
    ) -> Result<(Sha256Digest, u64), FileHashError> {
        let mut h = Sha256::new();
        let mut total = 0u64;
        loop {
            let remaining = len.saturating_sub(total);
            let want = usize::try_from(remaining.saturating_add(1))
                .unwrap_or(CHUNK)
                .min(CHUNK);
            let buf = self.aligned(want);
            let n = match r.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                break;
            }
            h.update(&self.aligned(want)[..n]);
            total += n as u64;
            if total > len {
                return Err(FileHashError::Changed {
                    expected: len,
                    read: total,
                });
            }
            if total == len && n < want {
                // A short read that lands exactly on the size: the end of the file.
                break;
            }
        }
        if total != len {
            return Err(FileHashError::Changed {
                expected: len,
                read: total,
            });
        }
        Ok((Sha256Digest::from_bytes(h.finalize().into()), total))
    }
}

impl FileHasher {
    /// `len` bytes of the buffer starting at a page-aligned address, growing it if needed.
    fn aligned(&mut self, len: usize) -> &mut [u8] {
        let mut off = self.buf.as_ptr().align_offset(ALIGN);
        if off == usize::MAX || self.buf.len() < off.saturating_add(len) {
            self.buf = vec![0u8; len + ALIGN];
            off = self.buf.as_ptr().align_offset(ALIGN);
            if off == usize::MAX {
                off = 0;
            }
        }
        &mut self.buf[off..off + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields `data` at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            let n = self.data.len().min(out.len()).min(self.step);
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn trickle(data: &[u8], step: usize) -> Trickle<'_> {
        Trickle {
            data,
            step,
            calls: 0,
        }
    }

    #[test]
    fn a_file_read_whole_takes_one_read_and_matches_sha256() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = trickle(&data, usize::MAX);
        let (d, n) = FileHasher::new()
            .hash_reader(&mut r, data.len() as u64)
            .unwrap();
        assert_eq!(d, Sha256Digest::of(&data));
        assert_eq!(n, data.len() as u64);
        assert_eq!(r.calls, 1);
    }

    #[test]
    fn short_reads_before_the_end_are_continued() {
        let data = b"hello, manifest".repeat(100);
        let mut r = trickle(&data, 7);
        let (d, _) = FileHasher::new()
            .hash_reader(&mut r, data.len() as u64)
            .unwrap();
        assert_eq!(d, Sha256Digest::of(&data));
    }

    #[test]
    fn files_larger_than_a_chunk_are_streamed() {
        let data = vec![7u8; CHUNK * 2 + 3];
        let mut h = FileHasher::new();
        let (d, n) = h
            .hash_reader(&mut trickle(&data, usize::MAX), data.len() as u64)
            .unwrap();
        assert_eq!(d, Sha256Digest::of(&data));
        assert_eq!(n, data.len() as u64);
        assert!(h.buf.len() <= CHUNK + ALIGN);
    }

    #[test]
    fn a_file_that_grew_after_fstat_is_an_error() {
        let data = b"0123456789";
        let err = FileHasher::new()
            .hash_reader(&mut trickle(data, usize::MAX), 4)
            .unwrap_err();
        assert!(matches!(
            err,
            FileHashError::Changed {
                expected: 4,
                read: 5
            }
        ));
    }

    #[test]
    fn a_file_that_shrank_after_fstat_is_an_error() {
        let data = b"0123";
        let err = FileHasher::new()
            .hash_reader(&mut trickle(data, 3), 10)
            .unwrap_err();
        assert!(matches!(
            err,
            FileHashError::Changed {
                expected: 10,
                read: 4
            }
        ));
    }

    #[test]
    fn reads_land_on_a_page_boundary_as_the_buffer_grows() {
        let mut h = FileHasher::new();
        for len in [1, 100, 5000, 70_000, 10] {
            assert_eq!(h.aligned(len).as_ptr() as usize % ALIGN, 0, "{len}");
            assert_eq!(h.aligned(len).len(), len);
        }
    }

    #[test]
    fn an_empty_file_hashes_to_the_empty_digest() {
        let (d, n) = FileHasher::new()
            .hash_reader(&mut trickle(b"", 1), 0)
            .unwrap();
        assert_eq!(d, Sha256Digest::of(b""));
        assert_eq!(n, 0);
    }

    #[test]
    fn a_file_on_disk_hashes_like_its_bytes() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let (d, n) = FileHasher::new().hash_path(&p).unwrap();
        assert_eq!(d, Sha256Digest::of(b"abc"));
        assert_eq!(n, 3);
    }
}
