//! Artifact names, retention and the runtime token: pure rules with no I/O.

use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::ArtifactError;
use crate::digest::Sha256Digest;

/// Characters the service rejects in artifact names.
const FORBIDDEN: &[char] = &['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];

/// Checks a name the way the official client and the service do.
pub fn validate_name(name: &str) -> Result<(), ArtifactError> {
    let bad = |reason: String| ArtifactError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.trim().is_empty() {
        return Err(bad("it is empty".into()));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(bad(format!(
            "it contains {c:?}; names must not contain \" : < > | * ? \\r \\n \\ /"
        )));
    }
    Ok(())
}

/// Checks that `name` can be used as one path component on every runner OS before it
/// becomes a folder name: not empty, not `.` or `..`, no `/`, `\\`, NUL or other control
/// characters, no drive letter or `:`, no characters Windows refuses, no trailing dot or
/// blank. The reason is returned for [`ArtifactError::UnsafeName`].
pub fn check_path_component(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` names a folder that is not its own"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(format!("the name contains the control character {:?}", c));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\' | ':' | '"' | '<' | '>' | '|' | '*' | '?'))
    {
        return Err(format!(
            "the name contains {c:?}, which cannot be in a folder name"
        ));
    }
    if name.ends_with(['.', ' ']) {
        return Err("the name ends with a dot or a blank, which Windows drops".into());
    }
    Ok(())
}

/// The default name: unique per job, matrix shard and run attempt, so sharded jobs and
/// re-runs never collide: `proofs-<job>[-<shard>|-m<matrix hash>]-a<attempt>`.
///
/// `shard` wins over `matrix` (the `toJSON(matrix)` text, hashed after its whitespace is
/// removed so formatting does not matter).
pub fn default_name(
    job: Option<&str>,
    shard: Option<&str>,
    matrix: Option<&str>,
    attempt: Option<&str>,
) -> String {
    let mut name = format!("proofs-{}", sanitize(job.unwrap_or("local")));
    if let Some(shard) = shard.filter(|s| !s.trim().is_empty()) {
        name.push('-');
        name.push_str(&sanitize(shard));
    } else if let Some(matrix) = matrix.filter(|m| !m.trim().is_empty() && m.trim() != "null") {
        let compact: String = matrix.chars().filter(|c| !c.is_whitespace()).collect();
        let hex = Sha256Digest::of(compact.as_bytes()).hex();
        name.push_str("-m");
        name.push_str(&hex[..12]);
    }
    name.push_str("-a");
    name.push_str(&sanitize(attempt.unwrap_or("1")));
    name
}

fn sanitize(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The retention actually requested, and a notice when it was clamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Days from now.
    pub days: u32,
    /// Set when `GITHUB_RETENTION_DAYS` lowered the request.
    pub notice: Option<String>,
}

/// Validates `requested` (1–90, default 90) and clamps it to the repository maximum
/// `GITHUB_RETENTION_DAYS` when that is a positive number, as the official client does
/// (0 or non-numeric means no cap).
pub fn retention(
    requested: Option<i64>,
    repo_max: Option<&str>,
) -> Result<Retention, ArtifactError> {
    let days = requested.unwrap_or(90);
    if !(1..=90).contains(&days) {
        return Err(ArtifactError::Usage(format!(
            "`--retention-days` must be between 1 and 90, got {days}"
        )));
    }
    let mut days = days as u32;
    let mut notice = None;
    if let Some(max) = repo_max
        .and_then(|m| m.trim().parse::<u32>().ok())
        .filter(|m| *m > 0)
        && max < days
    {
        notice = Some(format!(
            "retention days cannot be greater than the maximum allowed retention set within the repository (`GITHUB_RETENTION_DAYS`); using {max} instead of {days}"
        ));
        days = max;
    }
    Ok(Retention { days, notice })
}

/// `expires_at` for a retention, RFC 3339 UTC with milliseconds as the official client sends.
pub fn expires_at(now: DateTime<Utc>, days: u32) -> String {
    (now + chrono::Duration::days(i64::from(days)))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The two backend ids the results service wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendIds {
    /// `workflow_run_backend_id`.
    pub run: String,
    /// `workflow_job_run_backend_id`.
    pub job: String,
}

/// Reads the backend ids from the `scp` claim of the runtime token (decoded, not verified):
/// the element `Actions.Results:<run>:<job>`.
pub fn backend_ids(token: &str) -> Result<BackendIds, ArtifactError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| ArtifactError::InvalidToken("not a JWT: no payload segment".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| ArtifactError::InvalidToken(format!("payload is not base64url: {e}")))?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ArtifactError::InvalidToken(format!("payload is not JSON: {e}")))?;
    let scp = claims
        .get("scp")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ArtifactError::InvalidToken("no `scp` claim".into()))?;
    for scope in scp.split(' ') {
        let parts: Vec<&str> = scope.split(':').collect();
        if parts.len() == 3 && parts[0] == "Actions.Results" {
            return Ok(BackendIds {
                run: parts[1].to_owned(),
                job: parts[2].to_owned(),
            });
        }
    }
    Err(ArtifactError::InvalidToken(
        "no `Actions.Results:<run>:<job>` scope in `scp`".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            e.encode(b"{\"alg\":\"HS256\"}"),
            e.encode(payload)
        )
    }

    #[test]
    fn backend_ids_come_from_the_results_scope() {
        let t =
            jwt(r#"{"scp":"Actions.ExampleScope Actions.Results:ce7f54c7-61c7:ca395085-040a"}"#);
        assert_eq!(
            backend_ids(&t).unwrap(),
            BackendIds {
                run: "ce7f54c7-61c7".into(),
                job: "ca395085-040a".into()
            }
        );
    }

    #[test]
    fn backend_ids_reject_tokens_without_the_scope() {
        assert!(backend_ids(&jwt(r#"{"scp":"Actions.Results:1"}"#)).is_err());
        assert!(backend_ids(&jwt(r#"{"sub":"x"}"#)).is_err());
        assert!(backend_ids("garbage").is_err());
        assert!(backend_ids("a.!!!.c").is_err());
    }

    #[test]
    fn names_with_forbidden_characters_are_rejected() {
        assert!(validate_name("proofs-linux").is_ok());
        for bad in ["a/b", "a:b", "", "a*", "x\ny"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_that_are_not_one_path_component_are_rejected() {
        for ok in ["proofs-test-1-a1", "proofs.linux", "a b", "ünïcode"] {
            assert!(check_path_component(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", "/abs", "C:", "c:x", "a\nb", "a\0b", "x\u{1b}",
            "ends.", "ends ",
        ] {
            assert!(check_path_component(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_names_differ_per_shard_matrix_and_attempt() {
        let a = default_name(Some("test"), Some("2"), None, Some("1"));
        assert_eq!(a, "proofs-test-2-a1");
        let b = default_name(Some("test"), None, Some(r#"{"os": "linux"}"#), Some("1"));
        let c = default_name(Some("test"), None, Some(r#"{"os":"macos"}"#), Some("1"));
        let b2 = default_name(Some("test"), None, Some("{\"os\":\n \"linux\"}"), Some("1"));
        assert_ne!(b, c);
        assert_eq!(b, b2);
        assert_ne!(
            default_name(Some("test"), None, None, Some("1")),
            default_name(Some("test"), None, None, Some("2"))
        );
        assert!(validate_name(&default_name(Some("a b/c"), Some("x:y"), None, None)).is_ok());
    }

    #[test]
    fn retention_defaults_to_90_validates_and_clamps() {
        assert_eq!(retention(None, None).unwrap().days, 90);
        assert!(retention(Some(0), None).is_err());
        assert!(retention(Some(91), None).is_err());
        let r = retention(Some(30), Some("10")).unwrap();
        assert_eq!(r.days, 10);
        assert!(r.notice.is_some());
        assert_eq!(
            retention(Some(30), Some("0")).unwrap(),
            Retention {
                days: 30,
                notice: None
            }
        );
        assert_eq!(retention(Some(5), Some("10")).unwrap().days, 5);
        assert_eq!(retention(None, Some("abc")).unwrap().days, 90);
    }

    #[test]
    fn expires_at_is_rfc3339_with_millis() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(expires_at(now, 90), "2026-04-01T00:00:00.000Z");
    }
}
