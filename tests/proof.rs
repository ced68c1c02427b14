//! Proofs and signatures end to end: `keygen`, `generate`, `verify-signature`, checked
//! by independent verifiers (Python `cryptography`, `securesystemslib`,
//! `in-toto-attestation`, `rfc8785`, `jsonschema`; OpenSSL).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofgate::digest::{FileDigests, git_blob, jcs};
use proofgate::junit::{Status, TestCase};
use proofgate::proof::attest::{self, ExtraConfig};
use proofgate::proof::context::RunContext;
use proofgate::proof::record::{
    EvidenceLevel, FlakyPolicy, ScriptFacts, SourceRef, TestFileFacts, build_proof,
};
use proofgate::sign::SigningKey;
use proofgate::sign::dsse::Envelope;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_proofgate"))
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn interop(script: &str) -> PathBuf {
    manifest_dir().join("tests/interop").join(script)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Peers: external programs the tests check our output with.
mod peers {
    use std::process::Command;

    fn required() -> bool {
        std::env::var("PROOFGATE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
    }

    fn missing(what: &str) -> bool {
        if required() {
            panic!(
                "peer missing: {what} (PROOFGATE_REQUIRE_PEERS=1; install with scripts/setup.sh)"
            );
        }
        eprintln!(
            "SKIPPING: peer missing: {what}. Install with `bash scripts/setup.sh`; \
             PROOFGATE_REQUIRE_PEERS=1 turns this into a failure."
        );
        false
    }

    /// Whether `python3` can import every module (fails under PROOFGATE_REQUIRE_PEERS=1).
    pub fn python(modules: &[&str]) -> bool {
        let code = modules
            .iter()
            .map(|m| format!("import {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        match Command::new("python3").args(["-c", &code]).output() {
            Ok(o) if o.status.success() => true,
            _ => missing(&format!("python3 with {}", modules.join(", "))),
        }
    }

    /// Whether `openssl` supports ed25519.
    pub fn openssl() -> bool {
        match Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519"])
            .output()
        {
            Ok(o) if o.status.success() => true,
            _ => missing("openssl with ed25519"),
        }
    }
}

const VERIFIER_MODULES: &[&str] = &[
    "cryptography",
    "securesystemslib",
    "in_toto_attestation",
    "google.protobuf",
];

/// Runs the Python envelope verifier; returns its exit success and output.
fn python_verify(public_b64: &str, expect: &str, files: &[PathBuf]) -> (bool, String) {
    let o = run(Command::new("python3")
        .arg(interop("verify_envelopes.py"))
        .args(["--public-key", public_b64, "--expect", expect])
        .args(files));
    (
        o.status.success(),
        format!("{}{}", text(&o.stdout), text(&o.stderr)),
    )
}

fn case(file: &str, class: &str, name: &str, status: Status) -> TestCase {
    TestCase {
        file: Some(file.into()),
        classname: class.into(),
        name: name.into(),
        status,
        attempts: 1,
        duration: 0.5,
        line: Some(3),
        message: (status == Status::Failed).then(|| "assert 0 > 0".to_owned()),
    }
}

/// A signed envelope made through the library for a small proof.
fn library_envelope(key: &SigningKey, statuses: &[Status]) -> Envelope {
    let cases: Vec<TestCase> = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| case("tests/test_a.py", "tests.test_a", &format!("test_{i}"), *s))
        .collect();
    let refs: Vec<(&TestCase, usize)> = cases.iter().map(|c| (c, 0)).collect();
    let proof = build_proof(
        &ScriptFacts {
            id: "a".into(),
            path: "scripts/a.py".into(),
            evidence: EvidenceLevel::Ci,
            digests: FileDigests::of(b"print('a')\n"),
            test_files: vec![TestFileFacts {
                path: "tests/test_a.py".into(),
                digests: Some(FileDigests::of(b"def test(): pass\n")),
                produced_results: true,
            }],
        },
        &refs,
        &[SourceRef {
            path: "junit.xml".into(),
            digest: proofgate::digest::Sha256Digest::of(b"<testsuite/>"),
        }],
        &RunContext::default(),
        "2026-01-01T00:00:00Z",
        FlakyPolicy::Warn,
    )
    .expect("proof");
    let bytes = proof.to_json_bytes();
    attest::sign_statement(
        &attest::statement(
            &proof,
            proofgate::digest::Sha256Digest::of(&bytes),
            &ExtraConfig::default(),
        ),
        key,
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
}

/// The four tampered variants the verifiers must reject: a flipped byte of the
/// payload, of the signature, of the key id, and of the subject digest (re-encoded).
fn tampered(env: &Envelope) -> Vec<(&'static str, Envelope)> {
    let mut out = Vec::new();

    let mut payload = STANDARD.decode(&env.payload).unwrap();
    let mid = payload.len() / 2;
    payload[mid] ^= 0x01;
    let mut t = env.clone();
    t.payload = STANDARD.encode(&payload);
    out.push(("payload", t));

    let mut sig = STANDARD.decode(&env.signatures[0].sig).unwrap();
    sig[0] ^= 0x80;
    let mut t = env.clone();
    t.signatures[0].sig = STANDARD.encode(&sig);
    out.push(("signature", t));

    let mut t = env.clone();
    let mut kid: Vec<char> = t.signatures[0].keyid.chars().collect();
    kid[5] = if kid[5] == 'a' { 'b' } else { 'a' };
    t.signatures[0].keyid = kid.into_iter().collect();
    out.push(("key id", t));

    let payload = STANDARD.decode(&env.payload).unwrap();
    let mut st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let d = st["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!("{}{}", if d.starts_with('0') { '1' } else { '0' }, &d[1..]);
    st["subject"][0]["digest"]["sha256"] = serde_json::Value::String(flipped);
    let mut t = env.clone();
    t.payload = STANDARD.encode(serde_json::to_vec(&st).unwrap());
    out.push(("subject digest", t));
    out
}

#[test]
fn keygen_writes_a_private_0600_pkcs8_file_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("signing.pem");
    let o = run(bin().args(["keygen", "--out"]).arg(&key_path));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(
        !out.contains("PRIVATE"),
        "the private key is never printed with --out"
    );
    let key = SigningKey::from_text(&pem).unwrap();
    assert!(out.contains(&format!("public-key: {}", key.public_key().to_base64())));
    assert!(out.contains(&format!("key-id: {}", key.key_id())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let o = run(bin().args(["keygen", "--out"]).arg(&key_path));
    assert_eq!(o.status.code(), Some(2), "refuses to overwrite");
    assert!(text(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), pem);
    let o = run(bin()
        .args(["keygen", "--force", "--format", "base64", "--out"])
        .arg(&key_path));
    assert!(o.status.success());
    let b64 = std::fs::read_to_string(&key_path).unwrap();
    assert_ne!(b64, pem);
    SigningKey::from_text(&b64).unwrap();
}

#[test]
fn keygen_without_out_prints_the_key_on_stdout_and_the_public_key_on_stderr() {
    let o = run(bin().args(["keygen", "--format", "base64"]));
    assert!(o.status.success());
    let key = SigningKey::from_text(&text(&o.stdout)).unwrap();
    assert!(text(&o.stderr).contains(key.key_id().as_str()));
}

#[test]
fn verify_signature_exits_0_valid_1_tampered_2_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let pk = key.public_key().to_base64();
    let env = library_envelope(&key, &[Status::Passed]);
    let good = dir.path().join("good.dsse.json");
    write(&good, &env.to_json_pretty());

    let o = run(bin()
        .args(["verify-signature", "--public-key", &pk])
        .arg(&good));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("valid:"));

    let o = run(bin()
        .args(["verify-signature", "--format", "json", "--public-key", &pk])
        .arg(&good));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["key_id"], key.key_id().as_str());
    assert_eq!(v["subjects"][0]["name"], "scripts/a.py");

    for (what, t) in tampered(&env) {
        let p = dir.path().join("bad.dsse.json");
        write(&p, &t.to_json_pretty());
        let o = run(bin()
            .args(["verify-signature", "--public-key", &pk])
            .arg(&p));
        assert_eq!(o.status.code(), Some(1), "tampered {what} must be rejected");
        assert!(text(&o.stdout).starts_with("INVALID"), "{what}");
    }

    let (other, _) = SigningKey::generate().unwrap();
    let o = run(bin()
        .args(["verify-signature", "--public-key"])
        .arg(other.public_key().to_base64())
        .arg(&good));
    assert_eq!(o.status.code(), Some(1), "untrusted key");

    let garbage = dir.path().join("garbage.json");
    write(&garbage, b"{not json");
    let o = run(bin()
        .args(["verify-signature", "--public-key", &pk])
        .arg(&garbage));
    assert_eq!(o.status.code(), Some(2));
    let o = run(bin()
        .args(["verify-signature", "--public-key", &pk])
        .arg(dir.path().join("missing.json")));
    assert_eq!(o.status.code(), Some(2));
    let o = run(bin()
        .args(["verify-signature", "--public-key", "not-a-key"])
        .arg(&good));
    assert_eq!(o.status.code(), Some(2));
    let o = run(bin().arg("verify-signature").arg(&good));
    assert_eq!(o.status.code(), Some(2), "a key is required");
}

#[test]
fn python_verifiers_accept_our_envelopes_and_reject_every_tampering() {
    if !peers::python(VERIFIER_MODULES) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let pk = key.public_key().to_base64();
    let mut good = Vec::new();
    for (i, statuses) in [
        vec![Status::Passed, Status::Passed],
        vec![Status::Passed, Status::Failed, Status::Skipped],
        vec![Status::Flaky],
        vec![],
    ]
    .iter()
    .enumerate()
    {
        let p = dir.path().join(format!("ok-{i}.dsse.json"));
        write(&p, &library_envelope(&key, statuses).to_json_pretty());
        good.push(p);
    }
    let (ok, out) = python_verify(&pk, "valid", &good);
    assert!(ok, "{out}");
    assert_eq!(out.matches("\"ok\": true").count(), good.len(), "{out}");

    let env = library_envelope(&key, &[Status::Passed]);
    let mut bad = Vec::new();
    for (what, t) in tampered(&env) {
        let p = dir
            .path()
            .join(format!("bad-{}.dsse.json", what.replace(' ', "-")));
        write(&p, &t.to_json_pretty());
        bad.push(p);
    }
    let (ok, out) = python_verify(&pk, "invalid", &bad);
    assert!(
        ok,
        "every tampered envelope must be rejected by both verifiers:\n{out}"
    );
    // And the verifier is not a rubber stamp: it fails a tampered file expected valid.
    let (ok, _) = python_verify(&pk, "valid", &bad[..1]);
    assert!(!ok);
}

#[test]
fn openssl_keys_sign_and_openssl_verifies_our_signatures() {
    if !peers::openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_pem = dir.path().join("k.pem");
    let pub_pem = dir.path().join("k.pub.pem");
    let o = run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key_pem));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key_pem)
        .arg("-out")
        .arg(&pub_pem));
    assert!(o.status.success());

    // OpenSSL's PKCS#8 v1 key loads, from a file and from an env var.
    let pem = std::fs::read_to_string(&key_pem).unwrap();
    let key = SigningKey::from_text(&pem).unwrap();
    let pk =
        proofgate::sign::PublicKey::parse(&std::fs::read_to_string(&pub_pem).unwrap()).unwrap();
    assert_eq!(
        key.public_key(),
        pk,
        "same public key as `openssl pkey -pubout`"
    );

    // Our signature over PAE verifies with `openssl pkeyutl`.
    let env = library_envelope(&key, &[Status::Passed]);
    let payload = STANDARD.decode(&env.payload).unwrap();
    let msg = proofgate::sign::dsse::pae(&env.payload_type, &payload);
    let msg_path = dir.path().join("pae.bin");
    let sig_path = dir.path().join("sig.bin");
    write(&msg_path, &msg);
    write(&sig_path, &STANDARD.decode(&env.signatures[0].sig).unwrap());
    let o = run(Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&pub_pem)
        .arg("-rawin")
        .arg("-in")
        .arg(&msg_path)
        .arg("-sigfile")
        .arg(&sig_path));
    assert!(
        o.status.success(),
        "openssl rejects our signature: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );

    // OpenSSL's signature over our PAE verifies with our verifier.
    let osig = dir.path().join("osig.bin");
    let o = run(Command::new("openssl")
        .args(["pkeyutl", "-sign", "-inkey"])
        .arg(&key_pem)
        .arg("-rawin")
        .arg("-in")
        .arg(&msg_path)
        .arg("-out")
        .arg(&osig));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut env2 = env.clone();
    env2.signatures[0].sig = STANDARD.encode(std::fs::read(&osig).unwrap());
    let p = dir.path().join("openssl.dsse.json");
    write(&p, &env2.to_json_pretty());
    let o = run(bin()
        .args(["verify-signature", "--public-key-file"])
        .arg(&pub_pem)
        .arg(&p));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
}

/// A small seeded generator (splitmix64), so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const EDGE_FLOATS: &[f64] = &[
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    f64::MAX,
    f64::MIN,
    f64::EPSILON,
    9007199254740992.0,
    9007199254740993.0,
    1e21,
    999999999999999900000.0,
    1e-7,
    1e-6,
    9.999999999999997e-7,
    0.1,
    0.2,
    0.30000000000000004,
    333333333.3333333,
    1e23,
    1.0000000000000001e23,
    -1424953923781206.2,
];

fn random_string(rng: &mut Rng) -> String {
    const POOL: &[char] = &[
        'a',
        'z',
        'A',
        'Z',
        '0',
        '9',
        ' ',
        '"',
        '\\',
        '/',
        '\n',
        '\r',
        '\t',
        '\u{0}',
        '\u{1f}',
        '\u{7f}',
        '\u{80}',
        'é',
        'ö',
        '€',
        '\u{2028}',
        '\u{2029}',
        '\u{fb33}',
        '\u{ffff}',
        '\u{e000}',
        '\u{fffd}',
        '😀',
        '😂',
        '\u{10000}',
        '\u{10ffff}',
        'ḍ',
        '\u{307}',
        'ß',
        '中',
        '\u{feff}',
    ];
    let len = rng.below(8) as usize;
    (0..len)
        .map(|_| POOL[rng.below(POOL.len() as u64) as usize])
        .collect()
}

fn random_number(rng: &mut Rng) -> serde_json::Value {
    match rng.below(4) {
        0 => EDGE_FLOATS[rng.below(EDGE_FLOATS.len() as u64) as usize].into(),
        1 => {
            // Any finite double, from random bits.
            loop {
                let f = f64::from_bits(rng.next());
                if f.is_finite() {
                    return f.into();
                }
            }
        }
        2 => {
            // Integers within ±2^53 (I-JSON).
            let v = (rng.next() % (1u64 << 53)) as i64;
            (if rng.below(2) == 0 { v } else { -v }).into()
        }
        _ => ((rng.below(2_000_000) as f64 - 1_000_000.0) / 1000.0).into(),
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> serde_json::Value {
    use serde_json::Value;
    let k = if depth >= 3 {
        rng.below(4)
    } else {
        rng.below(6)
    };
    match k {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => random_number(rng),
        3 => Value::String(random_string(rng)),
        4 => Value::Array(
            (0..rng.below(5))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(6))
                .map(|_| (random_string(rng), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

#[test]
fn jcs_is_byte_identical_to_python_rfc8785_on_vectors_and_random_documents() {
    if !peers::python(&["rfc8785"]) {
        return;
    }
    let o = run(Command::new("python3")
        .arg(interop("jcs_check.py"))
        .arg("vectors")
        .arg(manifest_dir().join("tests/fixtures/proof/jcs")));
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));

    let mut rng = Rng(0x005e_ed0f_9a7e);
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.jsonl");
    let mut lines = String::new();
    let n = 1500;
    for _ in 0..n {
        let mut doc = serde_json::Map::new();
        for _ in 0..1 + rng.below(6) {
            doc.insert(random_string(&mut rng), random_value(&mut rng, 0));
        }
        let doc = serde_json::Value::Object(doc);
        let input = serde_json::to_string(&doc).unwrap();
        let canonical = jcs::to_string(&doc).unwrap();
        lines.push_str(
            &serde_json::to_string(&serde_json::json!({"input": input, "canonical": canonical}))
                .unwrap(),
        );
        lines.push('\n');
    }
    write(&corpus, lines.as_bytes());
    let o = run(Command::new("python3")
        .arg(interop("jcs_check.py"))
        .arg("corpus")
        .arg(&corpus));
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(out.contains(&format!("\"checked\": {n}")), "{out}");
}

// ---------------------------------------------------------------------------------
// `generate` end to end on tests/fixtures/proof/repo (real pytest and nextest output).
// ---------------------------------------------------------------------------------

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fresh copy of the fixture repository.
fn fixture_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &manifest_dir().join("tests/fixtures/proof/repo"),
        dir.path(),
    );
    dir
}

/// `proofgate keygen --out` in `dir`; returns (key file, public key base64).
fn keygen(dir: &Path) -> (PathBuf, String) {
    let key = dir.join("signing.pem");
    let o = run(bin().args(["keygen", "--out"]).arg(&key));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pk = text(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("public-key: ").map(str::to_owned))
        .expect("public key line");
    (key, pk)
}

fn generate(root: &Path, extra: &[&str]) -> Output {
    run(bin()
        .arg("--root")
        .arg(root)
        .arg("generate")
        .args(extra)
        .env_remove("PROOFGATE_SIGNING_KEY")
        .env_remove("GITHUB_SHA")
        .env_remove("GITHUB_RUN_ID")
        .env_remove("GITHUB_REPOSITORY")
        .env("SOURCE_DATE_EPOCH", "1767225600"))
}

/// Validates every `proof-*.json` in `dir` against `schemas/proof.schema.json` (Python
/// `jsonschema`, draft 2020-12); returns how many were checked.
fn check_proof_schema(dir: &Path) -> usize {
    if !peers::python(&["jsonschema"]) {
        return 0;
    }
    let proofs: Vec<PathBuf> = files_ending(dir, ".json")
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".dsse.json"))
        .collect();
    assert!(!proofs.is_empty(), "no proofs in {}", dir.display());
    let o = run(Command::new("python3")
        .arg(interop("check_schema.py"))
        .arg(manifest_dir().join("schemas/proof.schema.json"))
        .args(&proofs));
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    proofs.len()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn files_ending(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn generate_on_the_fixture_repo_signs_proofs_that_independent_verifiers_accept() {
    let repo = fixture_repo();
    let root = repo.path();
    let (key, pk) = keygen(root);
    let key_arg = key.to_string_lossy().into_owned();
    let o = generate(
        root,
        &[
            "--junit",
            "junit/*.xml",
            "--signing-key-file",
            &key_arg,
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--run-id",
            "42",
            "--repository",
            "acme/scripts",
            "--format",
            "json",
        ],
    );
    let stderr = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "rotate-logs fails: exit 1\n{stderr}"
    );
    assert!(stderr.contains("rotate-logs"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let verdicts: Vec<(String, String)> = report["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["script_id"].as_str().unwrap().to_owned(),
                p["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |id: &str, v: &str| (id.to_owned(), v.to_owned());
    assert_eq!(
        verdicts,
        vec![
            expect("audit-users", "FAIL"),
            expect("greet", "PASS"),
            expect("retry-fetch", "PASS"),
            expect("rotate-logs", "FAIL"),
            expect("semver-check", "PASS"),
        ],
        "the manual script `cleanup` gets no proof"
    );

    let out = root.join("test-results/proofs");
    let greet = read_json(&out.join("proof-greet.json"));
    assert_eq!(greet["schema_version"], "2.1");
    assert_eq!(greet["test_summary"]["total"], 3);
    assert_eq!(greet["generated_at"], "2026-01-01T00:00:00Z");
    assert_eq!(
        greet["commit_sha"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        greet["context"]["run_url"],
        "https://github.com/acme/scripts/actions/runs/42"
    );
    assert_eq!(greet["sources"][0]["path"], "junit/pytest.xml");
    let script = std::fs::read(root.join("scripts/greet.py")).unwrap();
    assert_eq!(
        greet["script_digest"],
        proofgate::digest::Sha256Digest::of(&script).to_string()
    );
    let rotate = read_json(&out.join("proof-rotate-logs.json"));
    assert_eq!(rotate["reasons"][0]["code"], "TESTS_FAILED");
    let semver = read_json(&out.join("proof-semver-check.json"));
    assert_eq!(semver["sources"][0]["path"], "junit/nextest.xml");
    assert_eq!(semver["test_summary"]["passed"], 3);

    // The envelope binds the proof file's exact bytes.
    let env =
        Envelope::from_json(&std::fs::read(out.join("proof-greet.dsse.json")).unwrap()).unwrap();
    let st: serde_json::Value =
        serde_json::from_slice(&STANDARD.decode(&env.payload).unwrap()).unwrap();
    let proof_bytes = std::fs::read(out.join("proof-greet.json")).unwrap();
    assert_eq!(
        st["predicate"]["proofgate"]["proof"]["digest"],
        proofgate::digest::Sha256Digest::of(&proof_bytes).to_string()
    );
    assert_eq!(st["subject"][0]["name"], "scripts/greet.py");
    assert_eq!(
        st["subject"][0]["digest"]["gitBlob"],
        git_blob(&script),
        "gitBlob equals `git hash-object`"
    );

    // Our own verifier accepts every envelope; every tampering is rejected.
    let envelopes = files_ending(&out, ".dsse.json");
    assert_eq!(envelopes.len(), 5);
    for e in &envelopes {
        let o = run(bin().args(["verify-signature", "--public-key", &pk]).arg(e));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    }
    let tdir = tempfile::tempdir().unwrap();
    let mut bad = Vec::new();
    for (what, t) in tampered(&env) {
        let p = tdir
            .path()
            .join(format!("{}.dsse.json", what.replace(' ', "-")));
        write(&p, &t.to_json_pretty());
        let o = run(bin()
            .args(["verify-signature", "--public-key", &pk])
            .arg(&p));
        assert_eq!(o.status.code(), Some(1), "tampered {what}");
        bad.push(p);
    }

    // Same inputs, same bytes (only generated_at could vary, and it is pinned).
    let before: Vec<Vec<u8>> = files_ending(&out, ".json")
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let o = generate(
        root,
        &[
            "--junit",
            "junit/*.xml",
            "--signing-key-file",
            &key_arg,
            "--commit",
            "0123456789abcdef0123456789abcdef01234567",
            "--run-id",
            "42",
            "--repository",
            "acme/scripts",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let after: Vec<Vec<u8>> = files_ending(&out, ".json")
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after, "deterministic output");

    // Independent verifiers.
    if !peers::python(VERIFIER_MODULES) {
        return;
    }
    let (ok, out_text) = python_verify(&pk, "valid", &envelopes);
    assert!(ok, "{out_text}");
    let (ok, out_text) = python_verify(&pk, "invalid", &bad);
    assert!(ok, "{out_text}");
    assert_eq!(check_proof_schema(&out), 5);
}

#[test]
fn generate_after_a_real_pytest_run_proves_what_pytest_reported() {
    if !peers::python(&["pytest", "pytest_rerunfailures"]) {
        return;
    }
    let repo = fixture_repo();
    let root = repo.path();
    std::fs::remove_dir_all(root.join("junit")).unwrap();
    let o = run(Command::new("python3").current_dir(root).args([
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "tests/test_greet.py",
        "tests/test_retry_fetch.py",
        "tests/test_rotate_logs.py",
        "--junitxml=test-results/junit.xml",
    ]));
    assert_eq!(
        o.status.code(),
        Some(1),
        "one fixture test fails on purpose: {}",
        text(&o.stdout)
    );
    let o = generate(root, &["--junit", "test-results/**/*.xml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = root.join("test-results/proofs");
    assert_eq!(read_json(&out.join("proof-greet.json"))["verdict"], "PASS");
    assert_eq!(
        read_json(&out.join("proof-retry-fetch.json"))["verdict"],
        "PASS"
    );
    assert_eq!(
        read_json(&out.join("proof-rotate-logs.json"))["verdict"],
        "FAIL"
    );
    // The nextest script has no results in this run: a FAIL proof that says so.
    let semver = read_json(&out.join("proof-semver-check.json"));
    assert_eq!(semver["verdict"], "FAIL");
    assert_eq!(semver["reasons"][0]["code"], "NO_TESTS");
    assert!(
        !out.join("proof-greet.dsse.json").exists(),
        "no key: no envelope"
    );
    check_proof_schema(&out);
}

#[test]
fn generate_exits_0_when_every_proof_passes_and_2_on_bad_input() {
    let repo = fixture_repo();
    let root = repo.path();
    // Only the nextest-certified script and greet are ci here: keep their tests.
    for s in ["audit_users.py", "rotate_logs.py", "retry_fetch.py"] {
        std::fs::remove_file(root.join("scripts").join(s)).unwrap();
    }
    let o = generate(root, &["--junit", "junit/*.xml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    check_proof_schema(&root.join("test-results/proofs"));

    write(
        &root.join("junit/broken.xml"),
        b"<testsuite><testcase name=\"a\">",
    );
    let o = generate(root, &["--junit", "junit/*.xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("broken.xml"),
        "{}",
        text(&o.stderr)
    );
    std::fs::remove_file(root.join("junit/broken.xml")).unwrap();

    let o = generate(root, &["--junit", "nothing/*.xml"]);
    assert_eq!(o.status.code(), Some(2), "a glob matching nothing");

    let secret = "MC4CAQAwBQYDK2VwBCIEIGJhZGtleWJhZGtleWJhZGtleWJhZGtleWJhZGtleQ";
    let o = run(bin()
        .arg("--root")
        .arg(root)
        .args([
            "generate",
            "--junit",
            "junit/*.xml",
            "--signing-key-env",
            "PG_TEST_KEY",
        ])
        .env("PG_TEST_KEY", &secret[..20]));
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("`PG_TEST_KEY`"), "{err}");
    assert!(
        !err.contains(&secret[..20]),
        "the secret is never echoed: {err}"
    );
    let o = run(bin()
        .arg("--root")
        .arg(root)
        .args([
            "generate",
            "--junit",
            "junit/*.xml",
            "--signing-key-env",
            "PG_UNSET_KEY",
        ])
        .env_remove("PG_UNSET_KEY"));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("`PG_UNSET_KEY` is not set"));
    let o = generate(
        root,
        &["--junit", "junit/*.xml", "--generated-at", "yesterday"],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn generate_signs_with_an_openssl_key_from_the_environment() {
    if !peers::openssl() {
        return;
    }
    let repo = fixture_repo();
    let root = repo.path();
    let key_pem = root.join("ossl.pem");
    let pub_pem = root.join("ossl.pub.pem");
    assert!(
        run(Command::new("openssl")
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&key_pem))
        .status
        .success()
    );
    assert!(
        run(Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&key_pem)
            .arg("-out")
            .arg(&pub_pem))
        .status
        .success()
    );
    let o = run(bin()
        .arg("--root")
        .arg(root)
        .args(["generate", "--junit", "junit/*.xml"])
        .env(
            "PROOFGATE_SIGNING_KEY",
            std::fs::read_to_string(&key_pem).unwrap(),
        ));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let envs = files_ending(&root.join("test-results/proofs"), ".dsse.json");
    assert_eq!(envs.len(), 5);
    for e in envs {
        let o = run(bin()
            .args(["verify-signature", "--public-key-file"])
            .arg(&pub_pem)
            .arg(&e));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    }
    check_proof_schema(&root.join("test-results/proofs"));
}

#[test]
fn descriptor_and_result_hashes_match_python_rfc8785_for_awkward_names_and_seeds() {
    if !peers::python(&["rfc8785"]) {
        return;
    }
    let names = [
        "plain",
        "quote \" backslash \\ slash /",
        "controls \u{1}\u{8}\t\n\u{c}\r\u{1f}\u{7f}",
        "unicode é 中 \u{2028} 😀 \u{fb33}",
        "test_x[1-2-\"a\"]",
    ];
    let mut cases = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let status = [Status::Passed, Status::Failed, Status::Flaky][i % 3];
        let mut c = case("tests/test_a.py", n, n, status);
        if i == 4 {
            c.file = None;
            c.message = Some(format!("boom {n}"));
        }
        cases.push(c);
    }
    let facts = ScriptFacts {
        id: "a".into(),
        path: "scripts/a.py".into(),
        evidence: EvidenceLevel::Ci,
        digests: FileDigests::of(b"print(1)\n"),
        test_files: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let seed_sets: [&[(&str, &str)]; 2] = [
        &[],
        &[
            ("pytest-randomly", "12345"),
            ("PYTHONHASHSEED", "0"),
            ("\u{1f600}", "astral-sorts-by-utf16"),
            ("\u{fb33}", "bmp"),
        ],
    ];
    for (k, seeds) in seed_sets.iter().enumerate() {
        let context = RunContext {
            seeds: seeds
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
            ..RunContext::default()
        };
        let pairs: Vec<(&TestCase, usize)> = cases.iter().map(|c| (c, 0)).collect();
        let proof = build_proof(
            &facts,
            &pairs,
            &[],
            &context,
            "2026-01-01T00:00:00Z",
            FlakyPolicy::Warn,
        )
        .unwrap();
        assert!(proof.tests.iter().all(|t| t.descriptor_hash.is_some()));
        let path = dir.path().join(format!("proof-{k}.json"));
        write(&path, &proof.to_json_bytes());
        files.push(path);
    }
    // And through the command line, with `--seed`.
    let repo = fixture_repo();
    let o = generate(
        repo.path(),
        &[
            "--junit",
            "junit/pytest.xml",
            "--seed",
            "pytest-randomly=4242",
            "--seed",
            "PYTHONHASHSEED=0",
        ],
    );
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        text(&o.stderr)
    );
    let generated = files_ending(&repo.path().join("test-results/proofs"), ".json")
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".dsse.json"))
        .collect::<Vec<_>>();
    assert!(!generated.is_empty());
    for p in &generated {
        assert_eq!(
            read_json(p)["context"]["seeds"]["pytest-randomly"],
            "4242",
            "{}",
            p.display()
        );
    }
    files.extend(generated);
    let o = run(Command::new("python3")
        .arg(interop("identity_check.py"))
        .args(&files));
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    assert!(!out.contains("\"checked\": 0"), "{out}");
}

#[test]
fn generate_refuses_a_seed_that_is_not_name_value() {
    let repo = fixture_repo();
    for bad in ["nameonly", "a b=1", "x=\u{1b}[31m"] {
        let o = generate(repo.path(), &["--junit", "junit/pytest.xml", "--seed", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("NAME=VALUE"),
            "{}",
            text(&o.stderr)
        );
    }
}
