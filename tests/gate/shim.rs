//! The Action's node shim (`dist/index.js`): binary selection, checksum checks, inputs.

use std::process::Command;

use crate::common::{crate_root, peer, run, stderr, stdout};

fn node(script: &str) -> Option<std::process::Output> {
    if !peer("node", "runs the Action's shim") {
        return None;
    }
    Some(run(Command::new("node")
        .arg("-e")
        .arg(script)
        .current_dir(crate_root())))
}

/// A dist/ directory with a fake binary and checksums.
fn fake_dist(checksum_ok: bool) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let bin_dir = d.path().join("bin/x86_64-unknown-linux-musl");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::write(bin_dir.join("proofgate"), b"#!/bin/sh\necho fake\n").unwrap();
    let sum = proofgate::digest::Sha256Digest::of(b"#!/bin/sh\necho fake\n").hex();
    let sum = if checksum_ok { sum } else { "0".repeat(64) };
    std::fs::write(
        d.path().join("checksums.txt"),
        format!("{sum}  bin/x86_64-unknown-linux-musl/proofgate\n"),
    )
    .unwrap();
    d
}

#[test]
fn shim_runs_the_release_binary_when_its_checksum_matches() {
    let d = fake_dist(true);
    let script = format!(
        "const s=require('./dist/index.js'); console.log(s.resolveBinary({{}}, 'linux', 'x64', {:?}))",
        d.path().to_str().unwrap()
    );
    let Some(o) = node(&script) else { return };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .trim()
            .ends_with("bin/x86_64-unknown-linux-musl/proofgate")
    );
}

#[test]
fn shim_refuses_a_binary_whose_checksum_differs() {
    let d = fake_dist(false);
    let script = format!(
        "const s=require('./dist/index.js'); try {{ s.resolveBinary({{}}, 'linux', 'x64', {:?}); process.exit(0) }} catch (e) {{ console.log(e.message); process.exit(7) }}",
        d.path().to_str().unwrap()
    );
    let Some(o) = node(&script) else { return };
    assert_eq!(o.status.code(), Some(7));
    assert!(stdout(&o).contains("checksum mismatch"), "{}", stdout(&o));
}

#[test]
fn shim_says_clearly_when_the_platform_has_no_binary() {
    let script = "const s=require('./dist/index.js'); try { s.resolveBinary({}, 'darwin', 'arm64'); } catch (e) { console.log(e.message) }";
    let Some(o) = node(script) else { return };
    let out = stdout(&o);
    assert!(out.contains("no binary for darwin/arm64"), "{out}");
    assert!(out.contains("PROOFGATE_BINARY"), "{out}");
}

#[test]
fn shim_prefers_proofgate_binary() {
    let script = format!(
        "const s=require('./dist/index.js'); console.log(s.resolveBinary({{PROOFGATE_BINARY: {:?}}}, 'win32', 'x64'))",
        env!("CARGO_BIN_EXE_proofgate")
    );
    let Some(o) = node(&script) else { return };
    assert_eq!(stdout(&o).trim(), env!("CARGO_BIN_EXE_proofgate"));
}

#[test]
fn shim_maps_inputs_to_commands_and_keeps_secrets_off_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let script = format!(
        r#"const s=require('./dist/index.js');
        const g=s.plan({{INPUT_MODE:'generate', INPUT_JUNIT:'a.xml\nb/**/*.xml', 'INPUT_SIGNING-KEY':'SECRETKEY', INPUT_NAME:'proofs-1', 'INPUT_RETENTION-DAYS':'5', INPUT_OVERWRITE:'true', RUNNER_TEMP:{tmp:?}, 'INPUT_GITHUB-TOKEN':'tok'}});
        const v=s.plan({{INPUT_MODE:'verify', INPUT_PATTERN:'proofs-*', INPUT_NAME:'', 'INPUT_MERGE-MULTIPLE':'true', 'INPUT_RUN-ID':'42', INPUT_RELEASE:'true', RUNNER_TEMP:{tmp:?}}});
        console.log(JSON.stringify({{g, v}}));"#,
        tmp = tmp.path().to_str().unwrap()
    );
    let Some(o) = node(&script) else { return };
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let gen_args: Vec<String> = serde_json::from_value(v["g"]["commands"][0].clone()).unwrap();
    let up: Vec<String> = serde_json::from_value(v["g"]["commands"][1].clone()).unwrap();
    assert_eq!(gen_args[0], "generate");
    assert!(gen_args.windows(2).any(|w| w == ["--junit", "a.xml"]));
    assert!(gen_args.windows(2).any(|w| w == ["--junit", "b/**/*.xml"]));
    assert!(
        !gen_args.iter().any(|a| a.contains("SECRETKEY")),
        "{gen_args:?}"
    );
    assert!(
        gen_args
            .windows(2)
            .any(|w| w == ["--signing-key-env", "PROOFGATE_SIGNING_KEY"])
    );
    assert_eq!(v["g"]["extraEnv"]["PROOFGATE_SIGNING_KEY"], "SECRETKEY");
    assert_eq!(up[0], "upload");
    assert!(up.windows(2).any(|w| w == ["--name", "proofs-1"]));
    assert!(up.windows(2).any(|w| w == ["--retention-days", "5"]));
    assert!(up.contains(&"--overwrite".to_owned()));
    assert_eq!(v["g"]["extraEnv"]["GITHUB_TOKEN"], "tok");
    let ver: Vec<String> = serde_json::from_value(v["v"]["commands"][0].clone()).unwrap();
    assert_eq!(ver[0], "verify");
    for w in [["--pattern", "proofs-*"], ["--run-id", "42"]] {
        assert!(ver.windows(2).any(|x| x == w), "{ver:?}");
    }
    assert!(ver.contains(&"--merge-multiple".to_owned()));
    assert!(ver.contains(&"--release".to_owned()));
}

#[test]
fn action_yml_declares_a_node24_action_whose_inputs_the_shim_reads() {
    let yml = std::fs::read_to_string(crate_root().join("action.yml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yml).unwrap();
    assert_eq!(doc["runs"]["using"], "node24");
    assert_eq!(doc["runs"]["main"], "dist/index.js");
    let shim = std::fs::read_to_string(crate_root().join("dist/index.js")).unwrap();
    for (name, _) in doc["inputs"].as_object().unwrap() {
        assert!(
            shim.contains(&format!("'{name}'")),
            "input `{name}` is declared in action.yml but the shim never reads it"
        );
    }
    for out in [
        "verdict", "scripts", "passed", "failed", "reused", "failing", "report",
    ] {
        assert!(
            doc["outputs"].get(out).is_some(),
            "output `{out}` is not declared"
        );
    }
}
