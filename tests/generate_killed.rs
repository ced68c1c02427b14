//! `generate` killed mid-run (SIGKILL, no chance to clean up) never leaves a file that
//! verifies wrongly: every file left is whole and byte-for-byte what an uninterrupted
//! run writes, or it is rejected (cut short, so not JSON; or an envelope that does not
//! bind the proof beside it). `verify` passes a script only on a whole, matching pair.
//! The guarantee is stated in docs/formats.md ("Writing proofs").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SCRIPTS: usize = 800;
const CASES: usize = 10;
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_proofgate"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A repository of `SCRIPTS` scripts with `CASES` passing cases each, a signing key and
/// its public key (`public-key`, base64).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for d in ["scripts", "tests", "junit"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mut junit = String::from("<testsuites><testsuite name=\"pytest\">\n");
    for i in 0..SCRIPTS {
        let id = format!("s{i:05}");
        std::fs::write(
            root.join(format!("scripts/{id}.py")),
            format!(
                "#!/usr/bin/env python3\n\"\"\"\n---\nid: {id}\ntype: script\nowner: platform-team\nstatus: active\nmaturity: 2\ntest:\n  runner: pytest\n  command: \"pytest -q tests/test_{id}.py\"\n  evidence: ci\ndry_run:\n  supported: true\nrisk_profile:\n  production_impact: low\n  security_risk: none\n  coupling_risk: low\n---\n\"\"\"\nprint(\"{id}\")\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join(format!("tests/test_{id}.py")),
            "def test_ok():\n    assert True\n",
        )
        .unwrap();
        for j in 0..CASES {
            junit.push_str(&format!(
                "<testcase classname=\"tests.test_{id}\" name=\"test_{j}\" file=\"tests/test_{id}.py\" time=\"0.001\"/>\n"
            ));
        }
    }
    junit.push_str("</testsuite></testsuites>\n");
    std::fs::write(root.join("junit/all.xml"), junit).unwrap();
    let k = bin()
        .args(["keygen", "--out"])
        .arg(root.join("key.pem"))
        .output()
        .unwrap();
    assert!(k.status.success(), "{}", text(&k.stderr));
    let public = text(&k.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("public-key: ").map(str::to_owned))
        .expect("keygen prints the public key");
    std::fs::write(root.join("public-key"), public).unwrap();
    dir
}

fn generate_cmd(root: &Path, out: &Path, generated_at: &str) -> Command {
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .args(["generate", "--junit", "junit/*.xml", "--commit", COMMIT])
        .args(["--generated-at", generated_at, "--signing-key-file"])
        .arg(root.join("key.pem"))
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Every file of a directory by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Starts generate and SIGKILLs it as soon as `ready()` holds. Returns whether it was
/// killed before it finished.
fn kill_when(mut cmd: Command, ready: impl Fn() -> bool) -> bool {
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "generate failed: {status}");
            return false;
        }
        if ready() {
            child.kill().unwrap();
            let status = child.wait().unwrap();
            return !status.success();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "generate hangs");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// `verify --format json` of `proofs` with signatures required: script id → verdict.
fn verify(root: &Path, proofs: &Path) -> BTreeMap<String, String> {
    let o: Output = bin()
        .arg("--root")
        .arg(root)
        .args([
            "verify",
            "--commit",
            COMMIT,
            "--require-signatures",
            "--format",
            "json",
        ])
        .args(["--now", "2026-03-01T00:00:00Z"])
        .arg("--trusted-key")
        .arg(std::fs::read_to_string(root.join("public-key")).unwrap())
        .arg("--proofs")
        .arg(proofs)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    report["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn proof_name(id: &str) -> String {
    format!("proof-{id}.json")
}

fn envelope_name(id: &str) -> String {
    format!("proof-{id}.dsse.json")
}

/// A complete run into a new directory.
fn reference(root: &Path, name: &str, generated_at: &str) -> (PathBuf, BTreeMap<String, Vec<u8>>) {
    let out = root.join(name);
    let status = generate_cmd(root, &out, generated_at).status().unwrap();
    assert!(status.success());
    let f = files(&out);
    assert_eq!(f.len(), 2 * SCRIPTS);
    (out, f)
}

#[test]
fn a_generate_killed_in_a_fresh_directory_leaves_only_whole_or_unreadable_files() {
    let dir = repo();
    let root = dir.path();
    let at = "2026-01-01T00:00:00Z";
    let (ref_dir, want) = reference(root, "ref", at);
    let all = verify(root, &ref_dir);
    assert_eq!(all.len(), SCRIPTS);
    assert!(all.values().all(|v| v == "pass"), "{all:?}");

    let mut killed_mid_run = 0;
    for (k, after) in [1, 50, SCRIPTS].into_iter().enumerate() {
        let out = root.join(format!("killed-{k}"));
        let entries = || std::fs::read_dir(&out).map_or(0, |d| d.count());
        if !kill_when(generate_cmd(root, &out, at), || entries() >= after) {
            continue;
        }
        let left = files(&out);
        if left.len() == 2 * SCRIPTS && left == want {
            continue;
        }
        killed_mid_run += 1;
        let cut = left
            .iter()
            .filter(|(n, b)| want.get(*n) != Some(*b))
            .count();
        eprintln!(
            "killed after {after}: {} of {} files left, {cut} of them cut short",
            left.len(),
            want.len()
        );
        for (name, bytes) in &left {
            let full = want
                .get(name)
                .unwrap_or_else(|| panic!("`{name}` is not an output of generate"));
            if bytes != full {
                assert!(
                    full.starts_with(bytes),
                    "`{name}` is neither whole nor cut short"
                );
                assert!(
                    serde_json::from_slice::<serde_json::Value>(bytes).is_err(),
                    "`{name}` is cut short yet parses"
                );
            }
        }
        let verdicts = verify(root, &out);
        assert_eq!(verdicts.len(), SCRIPTS);
        for (id, verdict) in &verdicts {
            let whole = [proof_name(id), envelope_name(id)]
                .iter()
                .all(|n| left.get(n) == want.get(n));
            assert_eq!(
                verdict == "pass",
                whole,
                "{id}: verify says {verdict}; proof and envelope whole: {whole}"
            );
        }
    }
    assert!(
        killed_mid_run > 0,
        "generate always finished before it could be killed; make the input larger"
    );
}

#[test]
fn a_generate_killed_over_earlier_proofs_leaves_old_or_new_files_and_verify_passes_only_matching_pairs()
 {
    let dir = repo();
    let root = dir.path();
    let (_, old) = reference(root, "old", "2026-01-01T00:00:00Z");
    let new_at = "2026-02-02T00:00:00Z";
    let (_, new) = reference(root, "new", new_at);

    let mut killed_mid_run = 0;
    // Workers take contiguous runs of scripts: kill when the first proof, one a little
    // further and one far on have been replaced.
    for (k, at) in [0, 100, SCRIPTS / 2].into_iter().enumerate() {
        let out = root.join(format!("over-{k}"));
        std::fs::create_dir_all(&out).unwrap();
        for (name, bytes) in &old {
            std::fs::write(out.join(name), bytes).unwrap();
        }
        let watched = out.join(proof_name(&format!("s{at:05}")));
        let replaced = || {
            std::fs::read(&watched)
                .is_ok_and(|b| new.get(&proof_name(&format!("s{at:05}"))) == Some(&b))
        };
        if !kill_when(generate_cmd(root, &out, new_at), replaced) {
            continue;
        }
        let left = files(&out);
        if left == new {
            continue;
        }
        killed_mid_run += 1;
        let changed = left.iter().filter(|(n, b)| new.get(*n) == Some(*b)).count();
        eprintln!("killed after s{at:05} was replaced: {changed} files replaced");
        for (name, bytes) in &left {
            if name.ends_with(".tmp") {
                assert!(name.starts_with(".proof-"), "{name}");
                continue;
            }
            assert!(
                old.get(name) == Some(bytes) || new.get(name) == Some(bytes),
                "`{name}` is neither the old file nor the new one"
            );
        }
        for (id, verdict) in verify(root, &out) {
            let (p, e) = (proof_name(&id), envelope_name(&id));
            let pair = (left.get(&p), left.get(&e));
            let matching = pair == (old.get(&p), old.get(&e)) || pair == (new.get(&p), new.get(&e));
            assert_eq!(
                verdict == "pass",
                matching,
                "{id}: verify says {verdict}; a matching pair: {matching}"
            );
        }
    }
    assert!(
        killed_mid_run > 0,
        "generate always finished before it could be killed; make the input larger"
    );
}
