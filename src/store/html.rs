//! The server-rendered pages (no JavaScript): the run list (`/`) and a run's detail with
//! its Proof tab (`/runs/{id}`). Built as strings: every value from a request or a
//! stored run goes through [`esc`], the one escaping function, and the page has no
//! script, so a hostile test name or path stays text. A template engine would add a
//! dependency for two pages; this keeps the escaping rule in one place that a test
//! checks. Browsers authenticate with HTTP Basic: any user name, a tenant's token as
//! the password.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::Value;

use super::api::{AppState, Caller};
use super::db::{ProofRow, RunFilter, RunRow};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Adds the page routes to `router`.
pub fn routes(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router
        .route("/", get(run_list))
        .route("/runs/{id}", get(run_page))
}

const STYLE: &str = "body{font:14px/1.45 'DejaVu Sans',sans-serif;margin:0;color:#1f2328;background:#f6f8fa}\
header{background:#24292f;color:#fff;padding:10px 20px;font-weight:600}\
main{max-width:1040px;margin:16px auto;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:16px 20px}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d8dee4;padding:6px 8px;text-align:left;vertical-align:top}\
th{font-size:12px;color:#57606a}code{font-family:'DejaVu Sans Mono',monospace;font-size:12px}\
.badge{display:inline-block;border-radius:12px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff}\
.pass{background:#1a7f37}.fail{background:#cf222e}.pending{background:#9a6700}\
nav.tabs{border-bottom:1px solid #d0d7de;margin:12px 0}nav.tabs a{display:inline-block;padding:6px 14px;color:#1f2328;text-decoration:none}\
nav.tabs a.current{border-bottom:2px solid #fd8c73;font-weight:600}\
h2{font-size:16px;margin:18px 0 6px}.add{color:#1a7f37}.del{color:#cf222e}.muted{color:#57606a}\
a.button{display:inline-block;border:1px solid #d0d7de;border-radius:6px;padding:4px 12px;background:#f6f8fa;color:#1f2328;text-decoration:none}";

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}</style></head><body>\
         <header>proofgate evidence store</header><main>{body}</main></body></html>",
        esc(title)
    );
    let mut r = Html(html).into_response();
    // No script runs on these pages, whatever a stored value says.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"),
    );
    r
}

/// The caller from a bearer token or HTTP Basic (password = token).
async fn browser_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(_, p)| p.to_owned()));
    let mut h = headers.clone();
    if let Some(token) = basic
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
    {
        h.insert(header::AUTHORIZATION, v);
    }
    super::api::caller(state, &h).await.map_err(|e| {
        let mut r = page(
            "Sign in",
            "<p>Sign in with any user name and a tenant's read token as the password.</p>",
        );
        *r.status_mut() = e.status();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"proofgate\", charset=\"UTF-8\""),
        );
        r
    })
}

fn badge(verdict: &str) -> String {
    let class = match verdict {
        "PASS" => "pass",
        "FAIL" => "fail",
        _ => "pending",
    };
    format!(
        "<span class=\"badge {class}\" data-verdict=\"{}\">{}</span>",
        esc(verdict),
        esc(verdict)
    )
}

/// "3 h ago" from an RFC 3339 time.
fn age(at: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) else {
        return String::new();
    };
    let s = (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        3600..86400 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86400),
    }
}

fn short(commit: Option<&str>) -> String {
    commit
        .map(|c| c.chars().take(12).collect())
        .unwrap_or_default()
}

/// The run list's HTML.
pub fn render_list(runs: &[RunRow], now: chrono::DateTime<chrono::Utc>) -> String {
    let mut b = String::from(
        "<h1>Runs</h1><table id=\"runs\"><thead><tr><th>run</th><th>repository</th>\
         <th>commit</th><th>branch</th><th>verdict</th><th>proofs</th><th>published</th></tr></thead><tbody>",
    );
    for r in runs {
        let s = &r.summary;
        let _ = write!(
            b,
            "<tr class=\"run\"><td><a href=\"/runs/{id}\"><code>{id}</code></a></td><td>{repo}</td>\
             <td><code>{commit}</code></td><td>{branch}</td><td>{badge}</td><td>{passed}/{proofs}</td><td>{age}</td></tr>",
            id = esc(&r.id),
            repo = esc(s.repository.as_deref().unwrap_or("")),
            commit = esc(&short(s.commit.as_deref())),
            branch = esc(s.branch.as_deref().unwrap_or("")),
            badge = badge(&s.verdict),
            passed = s.passed,
            proofs = s.proofs,
            age = esc(&age(&r.published_at, now)),
        );
    }
    if runs.is_empty() {
        b.push_str("<tr><td colspan=\"7\" class=\"muted\">No runs published yet.</td></tr>");
    }
    b.push_str("</tbody></table>");
    b
}

async fn run_list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let who = match browser_caller(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match state
        .store
        .list_runs(&who.tenant, &RunFilter::default(), 100)
        .await
    {
        Ok(runs) => page("Runs", &render_list(&runs, chrono::Utc::now())),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let mut r = page("Error", &format!("<p class=\"error\">{}</p>", esc(message)));
    *r.status_mut() = status;
    r
}

/// What the Proof tab shows, gathered from a stored run.
#[derive(Debug, Default)]
pub struct ProofTab {
    /// `bundle.json`, when the run has one.
    pub bundle: Option<Value>,
    /// Each proof row with its proof JSON.
    pub proofs: Vec<(ProofRow, Value)>,
    /// The ledger's verification, when the run has one.
    pub ledger: Option<crate::bundle::ledger::LedgerReport>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `file` lies inside a manifest scope entry (`.` is everything).
fn in_scope(file: &str, scope: &[String]) -> bool {
    scope.iter().any(|s| {
        let s = s.trim_end_matches('/');
        s == "." || s.is_empty() || file == s || file.starts_with(&format!("{s}/"))
    })
}

/// The run detail page with its Proof tab: the run's facts, then one section each for
/// the changes, the checks, scope violations, the scope, the ledger and the download.
pub fn render_run(run: &RunRow, tab: &ProofTab, now: chrono::DateTime<chrono::Utc>) -> String {
    let id = esc(&run.id);
    let mut b = String::new();
    run_facts(&mut b, run, &id, now);
    b.push_str(
        "<nav class=\"tabs\"><a class=\"current\" id=\"tab-proof\" href=\"#proof\">Proof</a></nav>\
         <section id=\"proof\">",
    );
    let git = tab
        .bundle
        .as_ref()
        .and_then(|v| v.get("git"))
        .filter(|g| !g.is_null());
    let changed = git
        .map(|g| strings(&g["changed_files"]))
        .unwrap_or_default();
    changes_section(&mut b, git, &changed);
    checks_section(&mut b, tab);
    let manifest = tab.bundle.as_ref().map(|v| &v["manifest"]);
    let scope = manifest.map(|m| strings(&m["scope"])).unwrap_or_default();
    violations_section(&mut b, tab, manifest.is_some(), &changed, &scope);
    scope_section(&mut b, manifest, &scope);
    ledger_section(&mut b, tab);
    if tab.bundle.is_some() {
        let _ = write!(
            b,
            "<p><a class=\"button\" id=\"download\" href=\"/api/runs/{id}/proof\" download=\"bundle-{id}.json\">Download bundle JSON</a></p>"
        );
    }
    b.push_str("</section>");
    b
}

/// The heading and the table of the run's facts.
fn run_facts(b: &mut String, run: &RunRow, id: &str, now: chrono::DateTime<chrono::Utc>) {
    let s = &run.summary;
    let _ = write!(
        b,
        "<h1>Run <code>{id}</code> {badge}</h1><table id=\"facts\">\
         <tr><th>repository</th><td>{repo}</td></tr><tr><th>commit</th><td><code>{commit}</code></td></tr>\
         <tr><th>branch</th><td>{branch}</td></tr><tr><th>CI run</th><td>{url}</td></tr>\
         <tr><th>published</th><td>{age}</td></tr></table>",
        badge = badge(&s.verdict),
        repo = esc(s.repository.as_deref().unwrap_or("")),
        commit = esc(s.commit.as_deref().unwrap_or("")),
        branch = esc(s.branch.as_deref().unwrap_or("")),
        url = s
            .run_url
            .as_deref()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(|u| format!("<a href=\"{0}\">{0}</a>", esc(u)))
            .unwrap_or_default(),
        age = esc(&age(&run.published_at, now)),
    );
}

/// Changed files and diff statistics.
fn changes_section(b: &mut String, git: Option<&serde_json::Value>, changed: &[String]) {
    b.push_str("<h2>Changes</h2>");
    match git {
        Some(g) => {
            let d = &g["diff_stat"];
            let _ = write!(
                b,
                "<p id=\"diffstat\"><span class=\"add\">+{}</span> <span class=\"del\">−{}</span> \
                 in {} file(s)</p><ul id=\"changed\">",
                d["added"].as_u64().unwrap_or(0),
                d["deleted"].as_u64().unwrap_or(0),
                d["files"].as_u64().unwrap_or(0)
            );
            for f in changed {
                let _ = write!(b, "<li><code>{}</code></li>", esc(f));
            }
            b.push_str("</ul>");
        }
        None => b.push_str(
            "<p class=\"muted\">The run carries no git facts (no bundle, or not a work tree).</p>",
        ),
    }
}

/// Each script's verdict and test counts, failing tests named.
fn checks_section(b: &mut String, tab: &ProofTab) {
    b.push_str("<h2>Checks</h2><table id=\"checks\"><thead><tr><th>script</th><th>result</th><th>tests</th><th>failing tests</th></tr></thead><tbody>");
    for (row, proof) in &tab.proofs {
        let failing: Vec<String> = proof["tests"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .filter(|t| matches!(t["status"].as_str(), Some("failed" | "error")))
                    .map(|t| {
                        let name = t["name"].as_str().unwrap_or("");
                        let class = t["classname"].as_str().unwrap_or("");
                        format!("<li class=\"failing\">{}::{}</li>", esc(class), esc(name))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let _ = write!(
            b,
            "<tr class=\"check\" data-script=\"{sid}\"><td><code>{sid}</code><br><span class=\"muted\">{path}</span></td>\
             <td>{badge}</td><td>{passed} passed, {failed} failed, {errors} errors, {skipped} skipped</td><td><ul>{failing}</ul></td></tr>",
            sid = esc(&row.script_id),
            path = esc(&row.script_path),
            badge = badge(&row.verdict),
            passed = row.passed,
            failed = row.failed,
            errors = row.errors,
            skipped = row.skipped,
            failing = failing.concat(),
        );
    }
    b.push_str("</tbody></table>");
}

/// Changed files outside the manifest's scope, changed scripts without a passing proof.
fn violations_section(
    b: &mut String,
    tab: &ProofTab,
    has_manifest: bool,
    changed: &[String],
    scope: &[String],
) {
    b.push_str("<h2>Scope violations</h2><ul id=\"violations\">");
    let mut violations = 0;
    if has_manifest {
        for f in changed.iter().filter(|f| !in_scope(f, scope)) {
            violations += 1;
            let _ = write!(
                b,
                "<li class=\"violation\">changed outside the scope: <code>{}</code></li>",
                esc(f)
            );
        }
    }
    for (row, _) in &tab.proofs {
        if changed.contains(&row.script_path) && row.verdict != "PASS" {
            violations += 1;
            let _ = write!(
                b,
                "<li class=\"violation\">changed script without a passing proof: <code>{}</code></li>",
                esc(&row.script_path)
            );
        }
    }
    if violations == 0 {
        b.push_str("<li class=\"muted\">none</li>");
    }
    b.push_str("</ul>");
}

/// The scope definition and the manifest's root.
fn scope_section(b: &mut String, manifest: Option<&serde_json::Value>, scope: &[String]) {
    b.push_str("<h2>Scope</h2>");
    match manifest {
        Some(m) => {
            let _ = write!(
                b,
                "<p id=\"scope\">{} — {} file(s), Merkle root <code>{}</code></p>",
                scope
                    .iter()
                    .map(|s| format!("<code>{}</code>", esc(s)))
                    .collect::<Vec<_>>()
                    .join(", "),
                m["file_count"].as_u64().unwrap_or(0),
                esc(m["root_hash"].as_str().unwrap_or(""))
            );
        }
        None => b.push_str("<p class=\"muted\">No manifest.</p>"),
    }
}

/// The ledger's status.
fn ledger_section(b: &mut String, tab: &ProofTab) {
    b.push_str("<h2>Ledger</h2>");
    match &tab.ledger {
        Some(l) => {
            let _ = write!(
                b,
                "<p id=\"ledger\"><code>{}</code> {} — chain length {}, root <code>{}</code>{}</p>",
                l.integrity_model,
                badge(if l.is_verified() { "PASS" } else { "FAIL" }).replace(
                    if l.is_verified() { ">PASS<" } else { ">FAIL<" },
                    &format!(">{}<", l.verification_status)
                ),
                l.chain_length,
                l.root_hash.map(|h| h.to_string()).unwrap_or_default(),
                l.message
                    .as_deref()
                    .map(|m| format!(": {}", esc(m)))
                    .unwrap_or_default()
            );
        }
        None => b.push_str("<p class=\"muted\">No ledger.</p>"),
    }
}

async fn run_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let who = match browser_caller(&state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result: Result<Option<(RunRow, ProofTab)>, super::StoreError> = async {
        let Some(run) = state.store.run(&who.tenant, &id).await? else {
            return Ok(None);
        };
        let files = state.store.run_files(&who.tenant, &id).await?;
        let rows = state.store.run_proofs(&who.tenant, &id).await?;
        let parse = |name: &str| {
            files
                .get(name)
                .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        };
        let proofs = rows
            .into_iter()
            .map(|r| {
                let v = parse(&r.file).unwrap_or(Value::Null);
                (r, v)
            })
            .collect();
        let keys = state.store.trusted_keys(&who.tenant).await?;
        let ledger = files
            .get("ledger.jsonl")
            .and_then(|l| crate::bundle::ledger::verify(l.as_slice(), &keys, None).ok());
        Ok(Some((
            run,
            ProofTab {
                bundle: parse("bundle.json"),
                proofs,
                ledger,
            },
        )))
    }
    .await;
    match result {
        Ok(Some((run, tab))) => page(
            &format!("Run {}", run.id),
            &render_run(&run, &tab, chrono::Utc::now()),
        ),
        Ok(None) => error_page(StatusCode::NOT_FOUND, "No such run."),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::upload::RunSummary;

    fn run(repo: &str) -> RunRow {
        RunRow {
            id: "abc".into(),
            summary: RunSummary {
                repository: Some(repo.into()),
                commit: Some("0123456789abcdef".into()),
                branch: Some("main".into()),
                run_url: Some("javascript:alert(1)".into()),
                verdict: "FAIL".into(),
                proofs: 1,
                passed: 0,
                failed: 1,
                tests: 1,
            },
            published_at: "2026-01-01T00:00:00Z".into(),
            pk: 1,
        }
    }

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            esc("<a href=\"x\" b='y'>&</a>"),
            "&lt;a href=&quot;x&quot; b=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn hostile_values_stay_text_in_both_pages() {
        let hostile = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
        let list = render_list(&[run(hostile)], chrono::Utc::now());
        assert!(
            !list.contains("<script") && !list.contains("<img"),
            "{list}"
        );
        let proof =
            serde_json::json!({"tests": [{"name": hostile, "classname": "c", "status": "failed"}]});
        let row = ProofRow {
            run_id: "abc".into(),
            file: "proof-x.json".into(),
            script_id: "x".into(),
            script_path: hostile.into(),
            script_digest: String::new(),
            tests_digest: String::new(),
            verdict: "FAIL".into(),
            tests: 1,
            passed: 0,
            failed: 1,
            errors: 0,
            skipped: 0,
            generated_at: String::new(),
            keyid: String::new(),
            repository: None,
            commit: None,
            run_url: None,
        };
        let tab = ProofTab {
            bundle: Some(
                serde_json::json!({"git": {"changed_files": [hostile], "diff_stat": {"added": 1, "deleted": 0, "files": 1}}, "manifest": {"scope": ["src"], "file_count": 1, "root_hash": hostile}}),
            ),
            proofs: vec![(row, proof)],
            ledger: None,
        };
        let page = render_run(&run(hostile), &tab, chrono::Utc::now());
        assert!(
            !page.contains("<script") && !page.contains("<img"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        // A run URL that is not http(s) is not a link.
        assert!(!page.contains("javascript:"));
        // The changed hostile file is outside the scope `src` and is reported.
        assert!(page.contains("changed outside the scope"));
    }

    #[test]
    fn scope_entries_cover_their_subtrees() {
        let scope = vec!["src".to_owned()];
        assert!(in_scope("src/a.rs", &scope));
        assert!(!in_scope("srcx/a.rs", &scope));
        assert!(in_scope("anything", &[".".to_owned()]));
    }
}
