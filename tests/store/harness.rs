//! What the store tests share: a signed run made by the real binary, a server on a free
//! port over SQLite or a fresh PostgreSQL database, and a tiny blocking HTTP client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use proofgate::sign::SigningKey;
use serde_json::Value;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_proofgate"));
    c.env_remove("PROOFGATE_SIGNING_KEY")
        .env_remove("PROOFGATE_DB")
        .env_remove("PROOFGATE_SERVER_TOKEN")
        .env_remove("GITHUB_BASE_REF");
    c
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `true` when the peer is there. Without it: a failure under
/// `PROOFGATE_REQUIRE_PEERS=1`, otherwise a loud skip.
pub fn peer(name: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("PROOFGATE_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!(
            "peer `{name}` is missing and PROOFGATE_REQUIRE_PEERS=1 (run scripts/test.sh, which starts it)"
        );
    }
    eprintln!("SKIPPED: peer `{name}` is not available; scripts/test.sh starts it");
    false
}

/// A fresh key: its base64 PKCS#8 text and its base64 public key.
pub fn key_pair() -> (String, String) {
    let (k, der) = SigningKey::generate().unwrap();
    (
        base64::engine::general_purpose::STANDARD.encode(der),
        k.public_key().to_base64(),
    )
}

fn fixture_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundle/pytest-project")
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}

/// The JUnit XML of the fixture's tests: `test_name` is the name of the one test, so
/// tests can carry hostile text.
pub fn junit(test_name: &str, failed: bool) -> String {
    let esc = test_name
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    let failure = if failed {
        "<failure message=\"boom\">assert 1 == 2</failure>"
    } else {
        ""
    };
    format!(
        "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"pytest\" tests=\"2\">\
         <testcase classname=\"tests.test_calc\" name=\"test_add\" file=\"tests/test_calc.py\" time=\"0.01\"/>\
         <testcase classname=\"tests.test_calc\" name=\"{esc}\" file=\"tests/test_calc.py\" time=\"0.01\">{failure}</testcase>\
         </testsuite></testsuites>\n"
    )
}

/// A signed run made by `proofgate run` in a git work tree (one changed file against
/// `main`): returns the proofs directory.
pub fn signed_run(root: &Path, key: &str, test_name: &str, failed: bool) -> PathBuf {
    copy_dir(&fixture_project(), root);
    // A header the gate accepts (the fixture's lacks `dry_run`).
    let script = root.join("scripts/calc.py");
    let header = std::fs::read_to_string(&script).unwrap().replacen(
        "maturity: 2\n",
        "maturity: 2\ndry_run:\n  supported: true\n  command_hint: \"python3 scripts/calc.py --dry-run\"\n",
        1,
    );
    std::fs::write(&script, header).unwrap();
    std::fs::write(root.join("README.md"), "fixture\n").unwrap();
    std::fs::write(root.join("junit.in.xml"), junit(test_name, failed)).unwrap();
    let ok = Command::new("sh")
        .arg("-c")
        .arg(
            "git init -q -b main . && git config user.email t@example.com && git config user.name t \
             && git add -A && git commit -qm base && git checkout -qb topic \
             && printf 'x\\n' >> README.md && git add -A && git commit -qm change",
        )
        .current_dir(root)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap().trim().to_owned();
    let o = bin()
        .arg("--root")
        .arg(root)
        .args([
            "run",
            "--out",
            "out",
            "--junit",
            "results/junit.xml",
            "--base",
            "main",
            "--",
            "sh",
            "-c",
            "mkdir -p results && cp junit.in.xml results/junit.xml",
        ])
        .env("PROOFGATE_SIGNING_KEY", key)
        .env("GITHUB_REPOSITORY", "acme/scripts")
        .env("GITHUB_REF", "refs/heads/topic")
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_RUN_ID", "77")
        .env("GITHUB_SHA", &head)
        .current_dir(root)
        .output()
        .unwrap();
    let dir = root.join("out");
    assert!(dir.join("bundle.dsse.json").exists(), "{}", text(&o));
    assert!(dir.join("proof-calc.dsse.json").exists(), "{}", text(&o));
    dir
}

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A database for one test: a SQLite file in `dir`, or a new database on the cluster
/// `scripts/test.sh` started (`PROOFGATE_TEST_PG_URL`). `None` when PostgreSQL is not
/// there and peers are not required.
pub fn database(db: Db, dir: &Path) -> Option<String> {
    match db {
        Db::Sqlite => Some(format!("sqlite://{}", dir.join("store.db").display())),
        Db::Postgres => {
            let admin = std::env::var("PROOFGATE_TEST_PG_URL").ok();
            if !peer("postgresql (PROOFGATE_TEST_PG_URL)", admin.is_some()) {
                return None;
            }
            let admin = admin.unwrap();
            let name = format!("t_{}", fastrand::u64(..));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::Connection as _;
                let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .unwrap();
            });
            let (base, _) = admin.rsplit_once('/').unwrap();
            Some(format!("{base}/{name}"))
        }
    }
}

/// A running `proofgate serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub db: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a server on a free port.
    pub fn start(db: &str, extra: &[&str]) -> Server {
        let mut child = bin()
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().map(|l| l.unwrap()).unwrap_or_default();
        let addr = first
            .rsplit("http://")
            .next()
            .filter(|_| first.contains("listening"))
            .unwrap_or_else(|| panic!("the server did not start: {first}"))
            .to_owned();
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("[serve] {l}");
            }
        });
        Server {
            child,
            addr,
            db: db.to_owned(),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One request; returns status, headers and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
    ) -> Response {
        self.request_as(method, path, token, body, "application/json")
    }

    /// [`Server::request`] with a body of `content_type`.
    pub fn request_as(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&[u8]>,
        content_type: &str,
    ) -> Response {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        if let Some(b) = body {
            // The server may answer (413) before it has read everything.
            let _ = s.write_all(b);
        }
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        Response::parse(&raw)
    }

    pub fn get(&self, path: &str, token: &str) -> Response {
        self.request("GET", path, Some(token), None)
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response: {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
        {
            body = dechunk(&body);
        }
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// Tokens of a new tenant that trusts `public`.
pub struct Tenant {
    pub publish: String,
    pub read: String,
}

pub fn tenant(db: &str, name: &str, public: &str) -> Tenant {
    let o = bin()
        .args(["tenant", "add", name, "--json", "--db", db])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = bin()
        .args(["tenant", "trust", name, public, "--db", db])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    Tenant {
        publish: v["publish_token"].as_str().unwrap().to_owned(),
        read: v["read_token"].as_str().unwrap().to_owned(),
    }
}

/// `proofgate publish DIR` with `token`.
pub fn publish(server: &Server, dir: &Path, token: &str) -> Output {
    bin()
        .arg("publish")
        .arg(dir)
        .args(["--server", &server.url(), "--json"])
        .env("PROOFGATE_SERVER_TOKEN", token)
        .output()
        .unwrap()
}

/// The run id `proofgate publish --json` printed.
pub fn published_id(o: &Output) -> String {
    serde_json::from_slice::<Value>(&o.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The publish body of a directory, as `proofgate publish` sends it.
pub fn body_of(dir: &Path) -> Vec<u8> {
    let b = proofgate::store::client::read_dir(dir).unwrap();
    serde_json::to_vec(&b).unwrap()
}

/// Runs `f` once per database: one test function per backend.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::harness::Db::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name($crate::harness::Db::Postgres)
                }
            }
        )*
    };
}

/// A directory of `n` signed proofs made by `proofgate generate` over `n` scripts with one
/// passing test each; returns the proofs directory and the public key.
pub fn many_proofs(root: &Path, n: usize) -> (PathBuf, String) {
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    std::fs::create_dir_all(root.join("tests")).unwrap();
    let mut junit = String::from("<testsuite name=\"p\">\n");
    for i in 0..n {
        std::fs::write(
            root.join(format!("scripts/s{i}.sh")),
            format!(
                "#!/bin/sh\n# ---\n# id: s{i}\n# type: script\n# owner: platform\n# status: active\n\
                 # maturity: 1\n# test:\n#   runner: pytest\n#   command: \"pytest tests/test_s{i}.py\"\n\
                 #   evidence: ci\n# ---\necho {i}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join(format!("tests/test_s{i}.py")),
            "def test_ok(): pass\n",
        )
        .unwrap();
        junit.push_str(&format!(
            "<testcase classname=\"tests.test_s{i}\" name=\"test_ok\" file=\"tests/test_s{i}.py\" time=\"0.001\"/>\n"
        ));
    }
    junit.push_str("</testsuite>\n");
    std::fs::write(root.join("junit.xml"), junit).unwrap();
    let o = bin()
        .arg("--root")
        .arg(root)
        .args(["keygen", "--out"])
        .arg(root.join("key.pem"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let public = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let public = public
        .lines()
        .find_map(|l| l.strip_prefix("public-key: ").map(str::to_owned))
        .unwrap();
    let o = bin()
        .arg("--root")
        .arg(root)
        .args([
            "generate",
            "--junit",
            "junit.xml",
            "--out",
            "proofs",
            "--signing-key-file",
        ])
        .arg(root.join("key.pem"))
        .args(["--commit", "0123456789abcdef0123456789abcdef01234567"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    (root.join("proofs"), public)
}
