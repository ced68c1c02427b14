//! Finding 10: two `ledger append`s at once read the same head and wrote two events
//! claiming the same place, breaking the chain silently. Each append now holds a lock.

use crate::helpers::{proofgate, text};

#[test]
fn finding_10_concurrent_ledger_appends_from_many_processes_keep_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.pem");
    let o = proofgate(
        dir.path(),
        &["keygen", "--out", key_file.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let ledger = dir.path().join("ledger.jsonl");
    const N: usize = 12;
    let children: Vec<_> = (0..N)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_proofgate"))
                .args(["ledger", "append", "--event", "GENERATE", "--attr"])
                .arg(format!("n={i}"))
                .arg("--file")
                .arg(&ledger)
                .arg("--signing-key-file")
                .arg(&key_file)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let o = proofgate(
        dir.path(),
        &[
            "ledger",
            "verify",
            ledger.to_str().unwrap(),
            "--format",
            "json",
            "--public-key",
            &public_key(&key_file),
        ],
        &[],
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["chain_length"], N as u64, "{out}");
    assert_eq!(report["verification_status"], "VERIFIED", "{out}");
}

fn public_key(key_file: &std::path::Path) -> String {
    let text = std::fs::read_to_string(key_file).unwrap();
    proofgate::sign::SigningKey::from_text(&text)
        .unwrap()
        .public_key()
        .to_base64()
}
