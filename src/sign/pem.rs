//! Minimal PEM (RFC 7468) reading and writing for one labelled block.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Decodes the first `-----BEGIN <label>-----` block of `text`. Errors name what is
/// wrong, never the content.
pub(crate) fn decode(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` line"))?
        + begin.len();
    let rest = &text[start..];
    let stop = rest.find(&end).ok_or_else(|| format!("no `{end}` line"))?;
    let body: String = rest[..stop]
        .lines()
        .filter(|l| !l.contains(':')) // RFC 1421 headers, if any
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(body.as_bytes())
        .map_err(|_| format!("the `{label}` block is not valid base64"))
}

/// Encodes `der` as a PEM block with 64-column lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_rejects_wrong_label() {
        let der = vec![1u8; 100];
        let pem = encode("PUBLIC KEY", &der);
        assert_eq!(decode(&pem, "PUBLIC KEY").unwrap(), der);
        assert!(decode(&pem, "PRIVATE KEY").is_err());
        assert!(decode("-----BEGIN X-----\n!!\n-----END X-----", "X").is_err());
    }
}
