//! A check run with annotations through the Checks API: annotations go in batches of 50
//! (the API's limit per request), the first with the create call and the rest through
//! "update a check run". The request bodies are built by a pure function; [`publish`]
//! sends them with octocrab.

use serde_json::{Value, json};

use super::annotations::{Annotation, Level};

/// Annotations accepted per Checks API request.
pub const BATCH: usize = 50;
/// Characters accepted in a check run's `output.summary`.
pub const SUMMARY_CHARS: usize = 65_535;

/// What the check run says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRun {
    /// Check name (e.g. `proofgate`).
    pub name: String,
    /// Commit the check is attached to.
    pub head_sha: String,
    /// `true` for `success`, `false` for `failure`.
    pub success: bool,
    /// Output title.
    pub title: String,
    /// Output summary (Markdown; cut to 65,535 characters).
    pub summary: String,
    /// Annotations; those without a file are attached to `fallback_path`.
    pub annotations: Vec<Annotation>,
}

/// Why publishing the check run failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The repository is not `owner/name`.
    #[error("repository `{0}` is not of the form `owner/name`")]
    BadRepository(String),
    /// The API call failed.
    #[error("the GitHub Checks API call `{call}` failed: {source}")]
    Api {
        /// Which call.
        call: String,
        /// The octocrab error.
        #[source]
        source: Box<octocrab::Error>,
    },
    /// The API answered without a check run id.
    #[error("the GitHub Checks API answered without a check run `id`")]
    NoId,
}

fn cut_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

fn annotation_json(a: &Annotation, fallback_path: &str) -> Value {
    let line = a.line.unwrap_or(1).max(1);
    json!({
        "path": a.file.as_deref().unwrap_or(fallback_path),
        "start_line": line,
        "end_line": a.end_line.unwrap_or(line).max(line),
        "annotation_level": match a.level {
            Level::Error => "failure",
            Level::Warning => "warning",
            Level::Notice => "notice",
        },
        "title": a.title.as_deref().unwrap_or(""),
        "message": cut_chars(&a.message, 64 * 1024 - 1),
    })
}

/// The create body and the update bodies (one per further batch of 50 annotations).
pub fn plan(run: &CheckRun, fallback_path: &str) -> (Value, Vec<Value>) {
    let summary = cut_chars(&run.summary, SUMMARY_CHARS);
    let mut batches = run.annotations.chunks(BATCH);
    let first: Vec<Value> = batches
        .next()
        .map(|b| {
            b.iter()
                .map(|a| annotation_json(a, fallback_path))
                .collect()
        })
        .unwrap_or_default();
    let create = json!({
        "name": run.name,
        "head_sha": run.head_sha,
        "status": "completed",
        "conclusion": if run.success { "success" } else { "failure" },
        "output": { "title": run.title, "summary": summary, "annotations": first },
    });
    let updates = batches
        .map(|b| {
            json!({ "output": {
                "title": run.title,
                "summary": summary,
                "annotations": b.iter().map(|a| annotation_json(a, fallback_path)).collect::<Vec<_>>(),
            }})
        })
        .collect();
    (create, updates)
}

/// Creates the check run and appends the remaining annotation batches. Returns the
/// check run's id.
pub async fn publish(
    api_url: &str,
    token: &str,
    repository: &str,
    run: &CheckRun,
    fallback_path: &str,
) -> Result<u64, CheckError> {
    let api = |call: &str| {
        let call = call.to_owned();
        move |e: octocrab::Error| CheckError::Api {
            call,
            source: Box::new(e),
        }
    };
    let (owner, name) = repository
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| CheckError::BadRepository(repository.to_owned()))?;
    let client = octocrab::Octocrab::builder()
        .personal_token(token.to_owned())
        .base_uri(api_url)
        .map_err(api("base uri"))?
        .build()
        .map_err(api("client"))?;
    let (create, updates) = plan(run, fallback_path);
    let created: Value = client
        .post(format!("/repos/{owner}/{name}/check-runs"), Some(&create))
        .await
        .map_err(api("create check run"))?;
    let id = created
        .get("id")
        .and_then(Value::as_u64)
        .ok_or(CheckError::NoId)?;
    for body in updates {
        let _: Value = client
            .patch(
                format!("/repos/{owner}/{name}/check-runs/{id}"),
                Some(&body),
            )
            .await
            .map_err(api("update check run"))?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: usize) -> CheckRun {
        CheckRun {
            name: "proofgate".into(),
            head_sha: "abc".into(),
            success: false,
            title: "1 failed".into(),
            summary: "s".into(),
            annotations: (0..n)
                .map(|i| Annotation {
                    file: Some(format!("scripts/s{i}.py")),
                    line: Some(2),
                    title: Some("PROOF_MISSING".into()),
                    ..Annotation::new(Level::Error, format!("m{i}"))
                })
                .collect(),
        }
    }

    #[test]
    fn annotations_go_in_batches_of_fifty() {
        let (create, updates) = plan(&run(120), "proofgate.yaml");
        assert_eq!(
            create["output"]["annotations"].as_array().unwrap().len(),
            50
        );
        assert_eq!(updates.len(), 2);
        assert_eq!(
            updates[0]["output"]["annotations"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
        assert_eq!(
            updates[1]["output"]["annotations"]
                .as_array()
                .unwrap()
                .len(),
            20
        );
        assert_eq!(updates[1]["output"]["annotations"][19]["message"], "m119");
        assert_eq!(create["conclusion"], "failure");
        assert_eq!(
            create["output"]["annotations"][0]["annotation_level"],
            "failure"
        );
    }

    #[test]
    fn no_annotations_means_no_updates() {
        let (create, updates) = plan(&run(0), "x");
        assert!(updates.is_empty());
        assert_eq!(create["output"]["annotations"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn long_summaries_are_cut_to_the_api_limit() {
        let mut r = run(0);
        r.summary = "é".repeat(70_000);
        let (create, _) = plan(&r, "x");
        assert_eq!(
            create["output"]["summary"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            SUMMARY_CHARS
        );
    }
}
