//! Zipping a folder deterministically and unzipping an untrusted archive safely.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use ::zip::write::SimpleFileOptions;
use ::zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::ArtifactError;

/// One file to put in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive: relative, `/`-separated.
    pub name: String,
    /// Where the bytes are.
    pub source: PathBuf,
}

/// The files under `root`, sorted by archive name (byte order). Hidden files and folders
/// (a name starting with `.`) are left out unless `include_hidden`. Symlinks to files are
/// followed; symlinks to folders are not descended into.
pub fn collect(root: &Path, include_hidden: bool) -> Result<Vec<Entry>, ArtifactError> {
    let meta = std::fs::metadata(root).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            ArtifactError::Usage(format!("`--path` `{}` does not exist", root.display()))
        } else {
            ArtifactError::io(format!("reading `{}`", root.display()), e)
        }
    })?;
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![Entry {
            name,
            source: root.to_path_buf(),
        }]);
    }
    let mut out = Vec::new();
    walk(root, "", include_hidden, &mut out)?;
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, hidden: bool, out: &mut Vec<Entry>) -> Result<(), ArtifactError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| ArtifactError::io(format!("listing `{}`", dir.display()), e))?;
    for item in rd {
        let item =
            item.map_err(|e| ArtifactError::io(format!("listing `{}`", dir.display()), e))?;
        let file_name = item.file_name();
        let Some(name) = file_name.to_str() else {
            return Err(ArtifactError::Usage(format!(
                "`{}` is not valid UTF-8 and cannot be named in a zip",
                item.path().display()
            )));
        };
        if !hidden && name.starts_with('.') {
            continue;
        }
        if name
            .chars()
            .any(|c| ['"', ':', '<', '>', '|', '*', '?'].contains(&c) || c.is_control())
        {
            return Err(ArtifactError::Usage(format!(
                "`{}`: file names must not contain \" : < > | * ? or control characters (line breaks included); a download would refuse them",
                item.path().display()
            )));
        }
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let path = item.path();
        let ft = item
            .file_type()
            .map_err(|e| ArtifactError::io(format!("reading `{}`", path.display()), e))?;
        if ft.is_dir() {
            walk(&path, &rel, hidden, out)?;
        } else if ft.is_file() {
            out.push(Entry {
                name: rel,
                source: path,
            });
        } else if ft.is_symlink() {
            // Follow links to files; never descend through a linked folder (loops).
            if std::fs::metadata(&path)
                .map(|m| m.is_file())
                .unwrap_or(false)
            {
                out.push(Entry {
                    name: rel,
                    source: path,
                });
            }
        }
    }
    Ok(())
}

/// Writes `entries` as a deflate zip (level `level`, 0–9) to a stream that need not seek.
/// Timestamps are fixed (1980-01-01) and modes 0644, so the same files give the same bytes.
pub fn write_zip<W: Write>(entries: &[Entry], level: u32, sink: W) -> Result<W, ArtifactError> {
    let mut zip = ZipWriter::new_stream(sink);
    let zerr = |e: ::zip::result::ZipError| match e {
        ::zip::result::ZipError::Io(e) => ArtifactError::io("writing the zip", e),
        other => ArtifactError::io("writing the zip", io::Error::other(other)),
    };
    for entry in entries {
        let mut file = File::open(&entry.source)
            .map_err(|e| ArtifactError::io(format!("opening `{}`", entry.source.display()), e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(i64::from(level.min(9))))
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644)
            .large_file(len >= u32::MAX as u64);
        zip.start_file(entry.name.as_str(), options).map_err(zerr)?;
        io::copy(&mut file, &mut zip).map_err(|e| {
            ArtifactError::io(format!("adding `{}` to the zip", entry.source.display()), e)
        })?;
    }
    let inner = zip.finish().map_err(zerr)?;
    Ok(inner.into_inner())
}

/// Bounds on what one download may unpack to (zip-bomb guard): [`extract`] applies them to
/// one archive, and a download applies them to all its archives together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnzipLimits {
    /// Most bytes all entries may expand to (default 1 GiB).
    pub max_total_bytes: u64,
    /// Most entries (default 100,000).
    pub max_entries: usize,
}

impl Default for UnzipLimits {
    fn default() -> Self {
        Self {
            max_total_bytes: 1 << 30,
            max_entries: 100_000,
        }
    }
}

/// A file unpacked by [`extract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// Relative `/`-separated path.
    pub name: String,
    /// Bytes written.
    pub size: u64,
}

/// Checks an entry name and turns it into a relative path: no absolute paths, drive
/// letters, backslashes, `..`, empty names, control characters (line breaks included) or
/// the characters an upload refuses (`" : < > | * ?`). The name is shown escaped in the
/// reason.
pub fn safe_name(name: &str) -> Result<String, String> {
    let shown = || crate::github::untrusted(name);
    if name.is_empty() {
        return Err("an entry has an empty name".into());
    }
    if name.starts_with('/') || name.contains('\\') {
        return Err(format!(
            "entry `{}` has an absolute or non-portable path",
            shown()
        ));
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' {
        return Err(format!("entry `{}` names a drive", shown()));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "entry `{}` has a control character in its name",
            shown()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '"' | ':' | '<' | '>' | '|' | '*' | '?'))
    {
        return Err(format!(
            "entry `{}` has {c:?} in its name, which an upload never writes",
            shown()
        ));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "entry `{}` climbs out of the folder with `..`",
                    shown()
                ));
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(format!("entry `{}` names no file", shown()));
    }
    Ok(parts.join("/"))
}

/// How many entries the archive's end-of-central-directory record declares (the zip64
/// record's count when the classic one says `0xFFFF`). `None` when there is no record to
/// read; the zip reader then reports the archive as unreadable.
///
/// The zip reader keys entries by name, so a name that appears twice shows up once, as
/// the last one: comparing its count with this one is how duplicates are caught.
fn declared_entries<R: Read + Seek>(reader: &mut R) -> io::Result<Option<u64>> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
    let len = reader.seek(io::SeekFrom::End(0))?;
    // The record is 22 bytes plus a comment of at most 65,535.
    let tail_len = len.min(22 + 65_535);
    reader.seek(io::SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    reader.read_exact(&mut tail)?;
    reader.seek(io::SeekFrom::Start(0))?;
    let Some(at) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)
    else {
        return Ok(None);
    };
    let classic = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    if classic != 0xFFFF {
        return Ok(Some(u64::from(classic)));
    }
    // Zip64: the locator sits just before the classic record and points at the record.
    let eocd_pos = len - tail_len + at as u64;
    if eocd_pos < 20 {
        return Ok(None);
    }
    let mut locator = [0u8; 20];
    reader.seek(io::SeekFrom::Start(eocd_pos - 20))?;
    reader.read_exact(&mut locator)?;
    if locator[..4] != LOCATOR {
        reader.seek(io::SeekFrom::Start(0))?;
        return Ok(Some(u64::from(classic)));
    }
    let mut off = [0u8; 8];
    off.copy_from_slice(&locator[8..16]);
    let record = u64::from_le_bytes(off);
    let mut head = [0u8; 40];
    reader.seek(io::SeekFrom::Start(record))?;
    let ok = reader.read_exact(&mut head).is_ok() && head[..4] == ZIP64_EOCD;
    reader.seek(io::SeekFrom::Start(0))?;
    if !ok {
        return Ok(None);
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&head[32..40]);
    Ok(Some(u64::from_le_bytes(n)))
}

/// Unpacks the zip `reader` into `out` (which must exist and be empty), enforcing the
/// safety rules: relative paths only, no `..`, no symlinks, no duplicate entries, at most
/// `limits` entries and bytes (counted as written, not as declared). On error, `out` may
/// hold partial output: callers unpack into a temporary folder.
pub fn extract<R: Read + Seek>(
    reader: R,
    out: &Path,
    limits: &UnzipLimits,
) -> Result<Vec<Extracted>, String> {
    let mut reader = reader;
    let declared = declared_entries(&mut reader).map_err(|e| format!("not a readable zip: {e}"))?;
    let mut archive = ZipArchive::new(reader).map_err(|e| format!("not a readable zip: {e}"))?;
    if let Some(n) = declared
        && n != archive.len() as u64
    {
        return Err(format!(
            "its directory lists {n} entries but only {} distinct names: an entry appears more than once",
            archive.len()
        ));
    }
    if archive.len() > limits.max_entries {
        return Err(format!(
            "it has {} entries, more than the limit of {}",
            archive.len(),
            limits.max_entries
        ));
    }
    let mut seen = HashSet::new();
    let mut done = Vec::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| format!("entry {i} is unreadable: {e}"))?;
        let raw = file.name().to_owned();
        let name = safe_name(&raw)?;
        if let Some(mode) = file.unix_mode()
            && mode & 0o170000 == 0o120000
        {
            return Err(format!(
                "entry `{}` is a symlink",
                crate::github::untrusted(&raw)
            ));
        }
        if !seen.insert(name.clone()) {
            return Err(format!(
                "entry `{}` appears more than once",
                crate::github::untrusted(&name)
            ));
        }
        if total.saturating_add(file.size()) > limits.max_total_bytes {
            return Err(format!(
                "it expands to more than the limit of {} bytes",
                limits.max_total_bytes
            ));
        }
        let dest = out.join(&name);
        if file.is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| format!("creating `{name}`: {e}"))?;
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("creating `{name}`: {e}"))?;
        }
        let mut target = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest)
            .map_err(|e| format!("creating `{name}`: {e}"))?;
        let room = limits.max_total_bytes - total;
        let written = io::copy(&mut (&mut file).take(room + 1), &mut target)
            .map_err(|e| format!("entry `{name}` is corrupt: {e}"))?;
        if written > room {
            return Err(format!(
                "it expands to more than the limit of {} bytes",
                limits.max_total_bytes
            ));
        }
        total += written;
        done.push(Extracted {
            name,
            size: written,
        });
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn collect_sorts_and_skips_hidden_files_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        for f in ["b.json", "a.json", "sub/c.json", ".hidden", ".git/x"] {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        let names: Vec<_> = collect(dir.path(), false)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["a.json", "b.json", "sub/c.json"]);
        let names: Vec<_> = collect(dir.path(), true)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [".git/x", ".hidden", "a.json", "b.json", "sub/c.json"]
        );
    }

    #[test]
    fn zips_are_deterministic_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.json"), b"{\"a\":1}").unwrap();
        std::fs::write(dir.path().join("sub/b.json"), vec![b'x'; 100_000]).unwrap();
        let entries = collect(dir.path(), false).unwrap();
        let one = write_zip(&entries, 6, Vec::new()).unwrap();
        let two = write_zip(&entries, 6, Vec::new()).unwrap();
        assert_eq!(one, two);
        let out = tempfile::tempdir().unwrap();
        let files = extract(Cursor::new(one), out.path(), &UnzipLimits::default()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(
            std::fs::read(out.path().join("sub/b.json")).unwrap(),
            vec![b'x'; 100_000]
        );
    }

    #[test]
    fn unsafe_entry_names_are_rejected() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "C:/x",
            "a\\b",
            "",
            "a\0b",
            "a\n::warning::x",
            "a\r",
            "a:b",
            "x/..",
        ] {
            assert!(safe_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(safe_name("./a//b").unwrap(), "a/b");
        let out = tempfile::tempdir().unwrap();
        let err = extract(
            Cursor::new(zip_of(&[("../evil", b"x")])),
            out.path(),
            &UnzipLimits::default(),
        )
        .unwrap_err();
        assert!(err.contains(".."), "{err}");
    }

    #[test]
    fn duplicate_entries_symlinks_and_bombs_are_rejected() {
        let out = tempfile::tempdir().unwrap();
        let err = extract(
            Cursor::new(zip_of(&[("a", b"1"), ("./a", b"2")])),
            out.path(),
            &UnzipLimits::default(),
        )
        .unwrap_err();
        assert!(err.contains("more than once"), "{err}");

        // The same name twice (the writer refuses that: rename the second entry).
        let mut twice = zip_of(&[("proof-a.json", b"FAIL"), ("proof-b.json", b"PASS")]);
        let mut i = 0;
        while let Some(at) = twice[i..].windows(12).position(|w| w == b"proof-b.json") {
            twice[i + at..i + at + 12].copy_from_slice(b"proof-a.json");
            i += at + 12;
        }
        let out = tempfile::tempdir().unwrap();
        let err = extract(Cursor::new(twice), out.path(), &UnzipLimits::default()).unwrap_err();
        assert!(err.contains("more than once"), "{err}");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let link = w.finish().unwrap().into_inner();
        let out = tempfile::tempdir().unwrap();
        let err = extract(Cursor::new(link), out.path(), &UnzipLimits::default()).unwrap_err();
        assert!(err.contains("symlink"), "{err}");

        let out = tempfile::tempdir().unwrap();
        let err = extract(
            Cursor::new(zip_of(&[("a\n::warning::x", b"1")])),
            out.path(),
            &UnzipLimits::default(),
        )
        .unwrap_err();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("a\\n::warning::x"), "{err}");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

        let zeros = vec![0u8; 1 << 20];
        let bomb = zip_of(&[("z", &zeros)]);
        let out = tempfile::tempdir().unwrap();
        let limits = UnzipLimits {
            max_total_bytes: 1000,
            max_entries: 10,
        };
        let err = extract(Cursor::new(bomb), out.path(), &limits).unwrap_err();
        assert!(err.contains("limit"), "{err}");

        let many = zip_of(&[("a", b""), ("b", b""), ("c", b"")]);
        let out = tempfile::tempdir().unwrap();
        let limits = UnzipLimits {
            max_total_bytes: 1000,
            max_entries: 2,
        };
        assert!(
            extract(Cursor::new(many), out.path(), &limits)
                .unwrap_err()
                .contains("entries")
        );
    }
}
