//! The event that started the workflow (`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`): the
//! gate needs the base commit a change is judged against and the head commit its check
//! run belongs to.

use serde_json::Value;

/// What the gate takes from the event payload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRefs {
    /// The event's name (`pull_request`, `merge_group`, `push`, …).
    pub name: Option<String>,
    /// The commit the change is judged against: `pull_request.base.sha` or
    /// `merge_group.base_sha`. `None` for events whose own commit was reviewed (`push`).
    pub base_sha: Option<String>,
    /// The commit a check run should be attached to: `pull_request.head.sha` (the
    /// workflow's `GITHUB_SHA` is the merge commit) or `merge_group.head_sha`.
    pub head_sha: Option<String>,
}

/// Why the event payload could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The payload is not JSON.
    #[error("the event payload `{path}` is not JSON: {source}")]
    NotJson {
        /// The payload file.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A change event's payload lacks its base commit.
    #[error("the `{event}` event payload `{path}` has no {field}")]
    MissingField {
        /// The event name.
        event: String,
        /// The payload file.
        path: String,
        /// The JSON path that is missing.
        field: &'static str,
    },
}

/// Whether an event judges a change against a base (`pull_request`,
/// `pull_request_target`, `merge_group`): then the base's policy applies.
pub fn judges_a_change(event: &str) -> bool {
    matches!(
        event,
        "pull_request" | "pull_request_target" | "merge_group"
    )
}

fn sha_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str()
        .filter(|s| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Reads the base and head commits from an event payload (`bytes`, read from
/// `path`). For a change event a missing base is an error: the gate never falls back to
/// the change's own policy.
pub fn parse(event: &str, path: &str, bytes: &[u8]) -> Result<EventRefs, EventError> {
    let mut refs = EventRefs {
        name: Some(event.to_owned()),
        ..EventRefs::default()
    };
    if !judges_a_change(event) {
        return Ok(refs);
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|source| EventError::NotJson {
        path: path.to_owned(),
        source,
    })?;
    let (base, head, field): (&[&str], &[&str], _) = if event == "merge_group" {
        (
            &["merge_group", "base_sha"],
            &["merge_group", "head_sha"],
            "merge_group.base_sha",
        )
    } else {
        (
            &["pull_request", "base", "sha"],
            &["pull_request", "head", "sha"],
            "pull_request.base.sha",
        )
    };
    refs.base_sha = Some(
        sha_at(&v, base)
            .ok_or_else(|| EventError::MissingField {
                event: event.to_owned(),
                path: path.to_owned(),
                field,
            })?
            .to_owned(),
    );
    refs.head_sha = sha_at(&v, head).map(str::to_owned);
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "1111111111111111111111111111111111111111";
    const HEAD: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn a_pull_request_is_judged_against_its_base() {
        let payload = format!(
            r#"{{"pull_request":{{"base":{{"sha":"{BASE}"}},"head":{{"sha":"{HEAD}"}}}}}}"#
        );
        let r = parse("pull_request", "e.json", payload.as_bytes()).unwrap();
        assert_eq!(r.base_sha.as_deref(), Some(BASE));
        assert_eq!(r.head_sha.as_deref(), Some(HEAD));
    }

    #[test]
    fn a_merge_group_is_judged_against_its_base() {
        let payload = format!(r#"{{"merge_group":{{"base_sha":"{BASE}","head_sha":"{HEAD}"}}}}"#);
        let r = parse("merge_group", "e.json", payload.as_bytes()).unwrap();
        assert_eq!(r.base_sha.as_deref(), Some(BASE));
        assert_eq!(r.head_sha.as_deref(), Some(HEAD));
    }

    #[test]
    fn a_push_keeps_its_own_policy() {
        let r = parse("push", "e.json", b"not even json").unwrap();
        assert_eq!(r.base_sha, None);
    }

    #[test]
    fn a_pull_request_without_a_base_is_an_error_not_a_fallback() {
        let e = parse("pull_request", "e.json", br#"{"pull_request":{}}"#).unwrap_err();
        assert!(e.to_string().contains("pull_request.base.sha"), "{e}");
        let e = parse(
            "pull_request",
            "e.json",
            br#"{"pull_request":{"base":{"sha":"--upload-pack=x"}}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, EventError::MissingField { .. }));
        assert!(parse("merge_group", "e.json", b"{").is_err());
    }
}
