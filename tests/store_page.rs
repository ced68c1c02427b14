//! The store's pages in a real browser: Debian's headless Chromium loads the run list
//! and a run's Proof tab (signed in with HTTP Basic), the test asserts on the DOM it
//! dumps and saves screenshots. A run whose failing test is named with markup and
//! quotes checks that nothing from a run becomes an element.

// Shared with `store.rs`, which uses the rest of it.
#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;

use harness::{
    Db, Server, code, database, key_pair, peer, publish, published_id, signed_run, tenant, text,
};

const HOSTILE: &str = "test_<script>alert('x')</script>\"q\"";

fn chromium_available() -> bool {
    Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn chromium(args: &[&str], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--window-size=1100,1300",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap()
}

/// Where screenshots go: `docs/img/` with `PROOFGATE_UPDATE_SCREENSHOTS=1`, else a
/// temporary directory.
fn shot(url: &str, name: &str, tmp: &Path) {
    let dir = if std::env::var("PROOFGATE_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img")
    } else {
        tmp.to_owned()
    };
    let path = dir.join(name);
    let o = chromium(&[&format!("--screenshot={}", path.display())], url);
    let png = std::fs::read(&path).unwrap_or_else(|e| panic!("no screenshot ({e}): {}", text(&o)));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "an empty page? {} bytes", png.len());
}

#[test]
fn the_proof_tab_shows_changes_checks_scope_ledger_and_download_and_escapes_run_text() {
    if !peer("chromium", chromium_available()) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let url = database(Db::Sqlite, t.path()).unwrap();
    let (key, public) = key_pair();
    let server = Server::start(&url, &[]);
    let acme = tenant(&url, "acme", &public);
    let dir = signed_run(&t.path().join("repo"), &key, HOSTILE, true);
    let o = publish(&server, &dir, &acme.publish);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let id = published_id(&o);
    let base = format!("http://reader:{}@{}", acme.read, server.addr);

    let o = chromium(&["--dump-dom"], &format!("{base}/runs/{id}"));
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        dom.contains("id=\"tab-proof\""),
        "no Proof tab: {}",
        text(&o)
    );
    // Changed files and diff statistics.
    assert!(dom.contains("<li><code>README.md</code></li>"), "{dom}");
    assert!(dom.contains("+1</span>"), "{dom}");
    // The check result as a fail badge with the failing test named, as text.
    assert!(dom.contains("data-script=\"calc\""), "{dom}");
    assert!(dom.contains("data-verdict=\"FAIL\""), "{dom}");
    assert!(
        dom.contains("tests.test_calc::test_&lt;script&gt;alert('x')&lt;/script&gt;\"q\""),
        "the failing test is not named as text: {dom}"
    );
    // Nothing from the run became an element.
    assert_eq!(dom.matches("<script").count(), 0, "{dom}");
    // The scope (the manifest walked `.`), the ledger and the download.
    assert!(dom.contains("id=\"scope\""), "{dom}");
    assert!(
        dom.contains("HASH_CHAIN") && dom.contains("VERIFIED"),
        "{dom}"
    );
    assert!(
        dom.contains(&format!("href=\"/api/runs/{id}/proof\"")),
        "{dom}"
    );
    shot(
        &format!("{base}/runs/{id}"),
        "store-proof-tab.png",
        t.path(),
    );

    let o = chromium(&["--dump-dom"], &format!("{base}/"));
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(dom.contains(&format!("href=\"/runs/{id}\"")), "{dom}");
    assert!(
        dom.contains("acme/scripts") && dom.contains("topic"),
        "{dom}"
    );
    shot(&format!("{base}/"), "store-runs.png", t.path());

    // Without a token, a page asks for one and shows no run.
    let o = chromium(
        &["--dump-dom"],
        &format!("http://{}/runs/{id}", server.addr),
    );
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!dom.contains("tab-proof"), "{dom}");
}
