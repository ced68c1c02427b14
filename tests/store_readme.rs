//! The README's evidence-store setup, run as written: `serve &`, `tenant add`, then
//! (after `tenant trust` and the token, as the prose around the block says) `publish` of
//! a signed run — and the run is then in the store.

#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{code, key_pair, signed_run, text};

/// The lines of the README's fenced `sh` block under "Keeping evidence past artifact expiry".
fn readme_block() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme
        .find("### Keeping evidence past artifact expiry")
        .expect("the README has its store section");
    let rest = &readme[at..];
    let start = rest
        .find("```sh\n")
        .expect("a sh block in the store section")
        + 6;
    let end = start + rest[start..].find("```").unwrap();
    rest[start..end]
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_readmes_store_setup_publishes_a_signed_run() {
    let lines = readme_block();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0], "proofgate serve &");
    assert_eq!(lines[1], "proofgate tenant add acme");
    assert_eq!(lines[2], "proofgate publish --server http://127.0.0.1:8080");

    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("repo");
    let (key, public) = key_pair();
    let out = signed_run(&root, &key, "test_add", false);
    // `publish` without DIR reads `test-results/proofs`, where the Action's `run` writes.
    std::fs::create_dir_all(root.join("test-results")).unwrap();
    std::fs::rename(&out, root.join("test-results/proofs")).unwrap();

    // The README's lines, in the repository, with the binary under test on PATH; only the
    // port is changed (8080 may be taken on a test machine).
    let port = free_port();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_proofgate")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sh = |line: &str| {
        let line = line.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(line)
            .current_dir(&root)
            .env("PATH", &path)
            .env_remove("PROOFGATE_DB")
            .env_remove("PROOFGATE_SERVER_TOKEN");
        c
    };

    // `exec`: the shell becomes the server, so killing it below stops the server (without
    // it the shell died and `proofgate serve` lived on, orphaned, after every run).
    let serve_line = format!(
        "exec {} --listen 127.0.0.1:{port}",
        lines[0].trim_end_matches('&').trim()
    );
    let mut server = sh(&serve_line)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let added = sh(&lines[1]).output().unwrap();
    assert_eq!(code(&added), 0, "{}", text(&added));
    let shown = String::from_utf8_lossy(&added.stdout).into_owned();
    let publish_token = shown
        .lines()
        .find_map(|l| l.strip_prefix("publish token: "))
        .unwrap_or_else(|| panic!("no publish token in `tenant add` output:\n{shown}"))
        .trim()
        .to_owned();

    let trusted = sh(&format!("proofgate tenant trust acme {public}"))
        .output()
        .unwrap();
    assert_eq!(code(&trusted), 0, "{}", text(&trusted));

    let published = sh(&lines[2])
        .env("PROOFGATE_SERVER_TOKEN", &publish_token)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code(&published), 0, "{}", text(&published));
    let said = String::from_utf8_lossy(&published.stdout);
    assert!(
        said.contains(&format!("http://127.0.0.1:{port}/")),
        "{said}"
    );
    assert!(root.join("proofgate.db").exists());
}

both!(serve_and_tenant_add_started_together_on_a_new_database_both_work);

/// `serve &` then `tenant add` at once on a database neither has seen: one waits for the
/// other's migrations instead of creating the same tables twice.
fn serve_and_tenant_add_started_together_on_a_new_database_both_work(db: harness::Db) {
    let t = tempfile::tempdir().unwrap();
    for i in 0..6 {
        let dir = t.path().join(format!("{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let Some(url) = harness::database(db, &dir) else {
            return;
        };
        let mut server = harness::bin()
            .args(["serve", "--db", &url, "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let added = harness::bin()
            .args(["tenant", "add", "acme", "--db", &url])
            .output()
            .unwrap();
        assert_eq!(code(&added), 0, "round {i}: {}", text(&added));
        let mut err = String::new();
        let mut line = String::new();
        let mut reader = std::io::BufReader::new(server.stderr.take().unwrap());
        // The server either says it listens or fails; it must say it listens.
        while std::io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0 {
            err.push_str(&line);
            if line.contains("listening on") {
                break;
            }
            line.clear();
        }
        let _ = server.kill();
        let _ = server.wait();
        assert!(
            err.contains("listening on"),
            "round {i}: serve said:\n{err}"
        );
    }
}
