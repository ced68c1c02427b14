//! The binary publish body (`Content-Type: application/vnd.proofgate.files`): a run's
//! files as they are, without base64 or JSON around them, so a 10,000-proof run is 34 MB
//! on the wire instead of 45 and the server slices it instead of parsing it.
//!
//! ```text
//! body  = MAGIC file*
//! file  = name_len:u32be name:bytes(name_len) content_len:u32be content:bytes(content_len)
//! ```
//!
//! Names are UTF-8; the body ends exactly after the last file. [`decode`] only frames:
//! what a name may be, and whether it appears twice, is checked by
//! [`upload::collect`](super::upload::collect) for every body kind alike.

/// The media type of the binary body.
pub const CONTENT_TYPE: &str = "application/vnd.proofgate.files";

/// The first bytes of every binary body (format version 1).
pub const MAGIC: &[u8; 16] = b"proofgate-files1";

/// The longest file name accepted (a file name, not a path).
const MAX_NAME: usize = 1024;

/// Why a binary body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The body does not start with [`MAGIC`].
    #[error("the body does not start with `proofgate-files1`")]
    Magic,
    /// The body ends inside a file's header, name or content.
    #[error("the body ends inside file {index} (a length says more bytes follow than do)")]
    Truncated {
        /// The file's position, from 0.
        index: usize,
    },
    /// A name longer than the limit.
    #[error("file {index} has a name of {len} bytes, more than {MAX_NAME}")]
    NameTooLong {
        /// The file's position, from 0.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// A name that is not UTF-8.
    #[error("file {index} has a name that is not UTF-8")]
    NameNotUtf8 {
        /// The file's position, from 0.
        index: usize,
    },
    /// More files than allowed.
    #[error("the body carries more than {0} files")]
    TooMany(usize),
}

/// Writes `files` as one binary body. Files of 4 GiB or more cannot be framed (the client
/// refuses files over 64 MiB long before).
pub fn encode<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>, std::num::TryFromIntError> {
    let files: Vec<(&str, &[u8])> = files.into_iter().collect();
    let size = MAGIC.len()
        + files
            .iter()
            .map(|(n, c)| 8 + n.len() + c.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(MAGIC);
    for (name, content) in files {
        out.extend_from_slice(&u32::try_from(name.len())?.to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u32::try_from(content.len())?.to_be_bytes());
        out.extend_from_slice(content);
    }
    Ok(out)
}

/// Splits a binary body into `(name, content)` pairs, in body order, borrowing from it.
/// At most `max_files`.
pub fn decode(body: &[u8], max_files: usize) -> Result<Vec<(&str, &[u8])>, WireError> {
    let mut rest = body.strip_prefix(MAGIC).ok_or(WireError::Magic)?;
    let mut files = Vec::new();
    while !rest.is_empty() {
        let index = files.len();
        if index == max_files {
            return Err(WireError::TooMany(max_files));
        }
        let (name, after) = field(rest).ok_or(WireError::Truncated { index })?;
        if name.len() > MAX_NAME {
            return Err(WireError::NameTooLong {
                index,
                len: name.len(),
            });
        }
        let name = std::str::from_utf8(name).map_err(|_| WireError::NameNotUtf8 { index })?;
        let (content, after) = field(after).ok_or(WireError::Truncated { index })?;
        files.push((name, content));
        rest = after;
    }
    Ok(files)
}

/// One length-prefixed field and what follows it; `None` when the bytes run out.
fn field(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = b.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_in_order_with_empty_and_binary_content() {
        let files: Vec<(&str, &[u8])> = vec![
            ("proof-a.json", b"{\"x\":1}"),
            ("summary.md", b""),
            ("ledger.jsonl", &[0, 255, 10, 13]),
        ];
        let body = encode(files.iter().copied()).unwrap();
        assert!(body.starts_with(MAGIC));
        assert_eq!(decode(&body, 10).unwrap(), files);
        assert_eq!(decode(MAGIC, 10).unwrap(), vec![]);
    }

    #[test]
    fn every_truncation_of_a_body_is_an_error_not_a_panic() {
        let body = encode([("proof-a.json", b"{}".as_slice()), ("b", b"xyz")]).unwrap();
        for cut in 0..body.len() {
            let short = &body[..cut];
            let r = decode(short, 10);
            // A cut exactly between two files frames the first file alone.
            let between = cut == MAGIC.len() + 8 + "proof-a.json".len() + 2;
            if cut == MAGIC.len() || between {
                assert!(r.is_ok(), "cut at {cut}");
            } else {
                assert!(r.is_err(), "cut at {cut} read as {r:?}");
            }
        }
    }

    #[test]
    fn bad_magic_long_or_non_utf8_names_and_too_many_files_are_refused() {
        assert_eq!(decode(b"{\"files\":[]}", 10), Err(WireError::Magic));
        let long = "n".repeat(MAX_NAME + 1);
        let body = encode([(long.as_str(), b"".as_slice())]).unwrap();
        assert!(matches!(
            decode(&body, 10),
            Err(WireError::NameTooLong { index: 0, .. })
        ));
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&1u32.to_be_bytes());
        body.push(0xff);
        body.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(decode(&body, 10), Err(WireError::NameNotUtf8 { index: 0 }));
        let body = encode([("a", b"".as_slice()), ("b", b"")]).unwrap();
        assert_eq!(decode(&body, 1), Err(WireError::TooMany(1)));
    }

    #[test]
    fn a_length_beyond_the_body_is_truncated_not_an_allocation() {
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&u32::MAX.to_be_bytes());
        body.extend_from_slice(b"abc");
        assert_eq!(decode(&body, 10), Err(WireError::Truncated { index: 0 }));
    }
}
