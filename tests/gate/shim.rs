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

/// A dist/ directory with a fake binary for `target` (file `file`) and checksums.
fn fake_dist_for(target: &str, file: &str, checksum_ok: bool) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let bin_dir = d.path().join("bin").join(target);
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::write(bin_dir.join(file), b"#!/bin/sh\necho fake\n").unwrap();
    let sum = proofgate::digest::Sha256Digest::of(b"#!/bin/sh\necho fake\n").hex();
    let sum = if checksum_ok { sum } else { "0".repeat(64) };
    std::fs::write(
        d.path().join("checksums.txt"),
        format!("{sum}  bin/{target}/{file}\n"),
    )
    .unwrap();
    d
}

/// A dist/ directory with a fake linux x64 binary and checksums.
fn fake_dist(checksum_ok: bool) -> tempfile::TempDir {
    fake_dist_for("x86_64-unknown-linux-musl", "proofgate", checksum_ok)
}

/// `resolveBinary` for a platform and arch against a dist/ holding that target's binary:
/// the path it picked.
fn resolved(platform: &str, arch: &str, target: &str, file: &str) -> Option<String> {
    let d = fake_dist_for(target, file, true);
    let script = format!(
        "const s=require('./dist/index.js'); console.log(s.resolveBinary({{}}, {platform:?}, {arch:?}, {:?}))",
        d.path().to_str().unwrap()
    );
    let o = node(&script)?;
    assert!(o.status.success(), "{}", stderr(&o));
    Some(stdout(&o).trim().to_owned())
}

#[test]
fn shim_maps_linux_x64_to_the_static_musl_binary() {
    let Some(p) = resolved("linux", "x64", "x86_64-unknown-linux-musl", "proofgate") else {
        return;
    };
    assert!(
        p.ends_with("bin/x86_64-unknown-linux-musl/proofgate"),
        "{p}"
    );
}

#[test]
fn shim_maps_linux_arm64_to_the_static_musl_binary() {
    let Some(p) = resolved("linux", "arm64", "aarch64-unknown-linux-musl", "proofgate") else {
        return;
    };
    assert!(
        p.ends_with("bin/aarch64-unknown-linux-musl/proofgate"),
        "{p}"
    );
}

#[test]
fn shim_maps_macos_x64_to_the_darwin_binary() {
    let Some(p) = resolved("darwin", "x64", "x86_64-apple-darwin", "proofgate") else {
        return;
    };
    assert!(p.ends_with("bin/x86_64-apple-darwin/proofgate"), "{p}");
}

#[test]
fn shim_maps_macos_arm64_to_the_darwin_binary() {
    let Some(p) = resolved("darwin", "arm64", "aarch64-apple-darwin", "proofgate") else {
        return;
    };
    assert!(p.ends_with("bin/aarch64-apple-darwin/proofgate"), "{p}");
}

#[test]
fn shim_maps_every_release_target_it_names() {
    // The release workflow builds exactly the targets the shim maps.
    let Some(o) = node(
        "const s=require('./dist/index.js'); console.log(JSON.stringify(Object.values(s.TARGETS).map(t => t.target)))",
    ) else {
        return;
    };
    let targets: Vec<String> = serde_json::from_str(stdout(&o).trim()).unwrap();
    let release =
        std::fs::read_to_string(crate_root().join(".github/workflows/release.yml")).unwrap();
    assert_eq!(targets.len(), 5, "{targets:?}");
    for t in &targets {
        assert!(
            release.contains(&format!("target: {t}")),
            "release.yml does not build `{t}`, which the shim maps"
        );
    }
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
    let script = "const s=require('./dist/index.js'); try { s.resolveBinary({}, 'freebsd', 'x64'); } catch (e) { console.log(e.message) }";
    let Some(o) = node(script) else { return };
    let out = stdout(&o);
    assert!(out.contains("no binary for freebsd/x64"), "{out}");
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

/// `plan(env)` for these inputs (as `INPUT_<NAME>` variables), as JSON.
fn plan(inputs: &[(&str, &str)]) -> Option<serde_json::Value> {
    let mut env = serde_json::Map::new();
    for (k, v) in inputs {
        env.insert(
            format!("INPUT_{}", k.to_uppercase()),
            serde_json::Value::String((*v).to_owned()),
        );
    }
    env.insert("RUNNER_TEMP".into(), "/tmp/runner".into());
    let script = format!(
        "const s=require('./dist/index.js'); console.log(JSON.stringify(s.plan({})))",
        serde_json::Value::Object(env)
    );
    let o = node(&script)?;
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    Some(serde_json::from_str(stdout(&o).trim()).unwrap())
}

fn command(plan: &serde_json::Value, i: usize) -> Vec<String> {
    serde_json::from_value(plan["commands"][i].clone()).unwrap()
}

fn has_pair(args: &[String], flag: &str, value: &str) -> bool {
    args.windows(2).any(|w| w[0] == flag && w[1] == value)
}

#[test]
fn shim_names_a_matrix_leg_by_its_job_index() {
    let Some(p) = plan(&[
        ("mode", "generate"),
        ("matrix", "{\n  \"shard\": 2\n}"),
        ("job-index", "1"),
    ]) else {
        return;
    };
    assert_eq!(p["extraEnv"]["PROOFGATE_SHARD"], "1");
    let up = command(&p, 1);
    assert!(has_pair(&up, "--shard", "1"), "{up:?}");
    // `generate` reads the leg from the environment (works before and after its flag).
    assert!(!command(&p, 0).iter().any(|a| a == "--shard"));
}

#[test]
fn shim_names_a_matrix_leg_by_its_matrix_hash_when_the_runner_gives_no_index() {
    let matrix = "{\n  \"os\": \"ubuntu-latest\",\n  \"shard\": 3\n}";
    let Some(p) = plan(&[("mode", "generate"), ("matrix", matrix), ("job-index", "")]) else {
        return;
    };
    let compact: String = matrix.chars().filter(|c| !c.is_whitespace()).collect();
    let want = format!(
        "m{}",
        &proofgate::digest::Sha256Digest::of(compact.as_bytes()).hex()[..12]
    );
    assert_eq!(p["extraEnv"]["PROOFGATE_SHARD"], want.as_str());
    assert!(has_pair(&command(&p, 1), "--shard", &want));
    // Another leg of the same matrix gets another name.
    let Some(q) = plan(&[
        ("mode", "generate"),
        ("matrix", "{\"os\":\"ubuntu-latest\",\"shard\":4}"),
    ]) else {
        return;
    };
    assert_ne!(
        q["extraEnv"]["PROOFGATE_SHARD"],
        p["extraEnv"]["PROOFGATE_SHARD"]
    );
}

#[test]
fn shim_gives_no_leg_outside_a_matrix() {
    for matrix in ["", "null", "{}", " { } "] {
        let Some(p) = plan(&[("mode", "generate"), ("matrix", matrix), ("job-index", "0")]) else {
            return;
        };
        assert!(
            p["extraEnv"].get("PROOFGATE_SHARD").is_none(),
            "{matrix:?}: {p}"
        );
        assert!(!command(&p, 1).iter().any(|a| a == "--shard"), "{matrix:?}");
    }
}

#[test]
fn shim_prefers_the_shard_input_over_the_derived_leg() {
    let Some(p) = plan(&[
        ("mode", "generate"),
        ("shard", "py3.12-linux"),
        ("matrix", "{\"python\":\"3.12\"}"),
        ("job-index", "0"),
    ]) else {
        return;
    };
    assert_eq!(p["extraEnv"]["PROOFGATE_SHARD"], "py3.12-linux");
    assert!(has_pair(&command(&p, 1), "--shard", "py3.12-linux"));
}

#[test]
fn shim_refuses_a_shard_input_that_is_not_a_plain_name() {
    for bad in ["a/b", "../x", "two words", &"x".repeat(65)] {
        let script = format!(
            "require('./dist/index.js').plan({{INPUT_MODE:'generate', INPUT_SHARD:{bad:?}}})"
        );
        let Some(o) = node(&script) else { return };
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let out = stdout(&o);
        assert!(
            out.starts_with("::error title=proofgate::input `shard` must match"),
            "{out}"
        );
        assert_eq!(
            out.trim_end().lines().count(),
            1,
            "one workflow command: {out}"
        );
    }
}

#[test]
fn shim_warns_when_generate_has_no_signing_key() {
    let Some(p) = plan(&[("mode", "generate"), ("signing-key", "")]) else {
        return;
    };
    let w = p["warnings"][0].as_str().unwrap_or_default();
    assert!(w.contains("`signing-key` is empty"), "{p}");
    assert!(p["extraEnv"].get("PROOFGATE_SIGNING_KEY").is_none());
    let Some(signed) = plan(&[("mode", "generate"), ("signing-key", "KEY")]) else {
        return;
    };
    assert_eq!(signed["warnings"], serde_json::json!([]));
}

#[test]
fn shim_passes_each_trusted_key_and_the_base_to_verify() {
    let Some(p) = plan(&[
        ("mode", "verify"),
        ("trusted-keys", "  AAAAkey1=\r\n\nBBBBkey2=\n"),
        ("base", "origin/main"),
    ]) else {
        return;
    };
    let v = command(&p, 0);
    assert!(has_pair(&v, "--trusted-key", "AAAAkey1="), "{v:?}");
    assert!(has_pair(&v, "--trusted-key", "BBBBkey2="), "{v:?}");
    assert_eq!(v.iter().filter(|a| *a == "--trusted-key").count(), 2);
    assert!(has_pair(&v, "--base", "origin/main"), "{v:?}");
    // Empty inputs add nothing: proofgate derives the base from the event.
    let Some(q) = plan(&[("mode", "verify"), ("trusted-keys", ""), ("base", "")]) else {
        return;
    };
    let v = command(&q, 0);
    assert!(
        !v.iter().any(|a| a == "--trusted-key" || a == "--base"),
        "{v:?}"
    );
}

#[test]
fn shim_verify_downloads_each_artifact_into_its_own_folder_by_default() {
    let yml = std::fs::read_to_string(crate_root().join("action.yml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yml).unwrap();
    assert_eq!(doc["inputs"]["merge-multiple"]["default"], "false");
    for merge in ["", "false"] {
        let Some(p) = plan(&[("mode", "verify"), ("merge-multiple", merge)]) else {
            return;
        };
        let v = command(&p, 0);
        assert!(
            !v.iter().any(|a| a == "--merge-multiple"),
            "{merge:?}: {v:?}"
        );
        assert!(has_pair(&v, "--pattern", "proofs-*"), "{v:?}");
    }
}

#[test]
fn action_yml_derives_the_leg_from_the_runner_contexts() {
    let yml = std::fs::read_to_string(crate_root().join("action.yml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yml).unwrap();
    assert_eq!(doc["inputs"]["matrix"]["default"], "${{ toJSON(matrix) }}");
    assert_eq!(
        doc["inputs"]["job-index"]["default"],
        "${{ strategy.job-index }}"
    );
    assert_eq!(doc["inputs"]["shard"]["default"], "");
    // Expressions are allowed in input defaults only; a `${{` in a description makes the
    // runner (and act) refuse the whole action.
    for (name, input) in doc["inputs"].as_object().unwrap() {
        let d = input["description"].as_str().unwrap_or_default();
        assert!(
            !d.contains("${{"),
            "input `{name}`: expression in its description"
        );
    }
}

/// A stand-in for the binary that records its arguments and `PROOFGATE_SHARD`.
fn recording_binary(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = dir.join("fake-proofgate");
    let log = dir.join("calls.txt");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\nprintf '%s leg=%s %s\\n' \"$GITHUB_JOB\" \"$PROOFGATE_SHARD\" \"$*\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn action_gives_every_matrix_leg_its_own_shard_under_act() {
    if !peer("act", "runs the Action in a matrix") || !peer("git", "the act repository") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::copy(crate_root().join("action.yml"), repo.join("action.yml")).unwrap();
    crate::common::copy_tree(&crate_root().join("dist"), &repo.join("dist"));
    let _ = std::fs::remove_dir_all(repo.join("dist/bin"));
    std::fs::write(
        repo.join(".github/workflows/legs.yml"),
        "name: legs\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    \
         strategy: { matrix: { shard: [1, 2, 3] } }\n    steps:\n      \
         - uses: actions/checkout@v4\n      - uses: ./\n  single:\n    \
         runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      \
         - uses: ./\n",
    )
    .unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t.invalid",
            "commit",
            "-qm",
            "x",
        ],
    ] {
        let o = run(Command::new("git").args(args).current_dir(&repo));
        assert!(o.status.success(), "git {args:?}: {}", stderr(&o));
    }
    let fake = recording_binary(work.path());
    let o = run(Command::new("timeout")
        .args(["300", "act", "push", "-P", "ubuntu-latest=-self-hosted"])
        .arg("--env")
        .arg(format!("PROOFGATE_BINARY={}", fake.display()))
        .env("ACT_DISABLE_VERSION_CHECK", "1")
        .current_dir(&repo));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let calls = std::fs::read_to_string(work.path().join("calls.txt")).unwrap();
    let uploads: Vec<&str> = calls.lines().filter(|l| l.contains(" upload ")).collect();
    assert_eq!(uploads.len(), 4, "{calls}");
    let mut legs: Vec<String> = uploads
        .iter()
        .filter(|l| l.starts_with("test "))
        .map(|l| {
            let leg = l
                .split_whitespace()
                .nth(1)
                .unwrap()
                .trim_start_matches("leg=");
            assert!(!leg.is_empty(), "a matrix leg without a shard: {l}");
            assert!(l.contains(&format!("--shard {leg}")), "{l}");
            leg.to_owned()
        })
        .collect();
    legs.sort();
    legs.dedup();
    assert_eq!(legs.len(), 3, "legs must differ: {calls}");
    let single = uploads.iter().find(|l| l.starts_with("single ")).unwrap();
    assert!(
        single.contains("leg= ") && !single.contains("--shard"),
        "{single}"
    );
}

#[test]
fn shim_publishes_to_the_evidence_store_when_given_a_server_and_keeps_its_token_off_the_command_line()
 {
    let Some(p) = plan(&[
        ("mode", "generate"),
        ("server", "https://store.example"),
        ("server-token", "pgt_SECRET"),
    ]) else {
        return;
    };
    let publish = command(&p, 2);
    assert_eq!(publish[0], "publish");
    assert!(
        has_pair(&publish, "--server", "https://store.example"),
        "{publish:?}"
    );
    assert!(
        has_pair(&publish, "--token-env", "PROOFGATE_SERVER_TOKEN"),
        "{publish:?}"
    );
    assert_eq!(p["extraEnv"]["PROOFGATE_SERVER_TOKEN"], "pgt_SECRET");
    assert!(!p["commands"].to_string().contains("pgt_SECRET"), "{p}");
    let Some(q) = plan(&[("mode", "generate")]) else {
        return;
    };
    assert_eq!(q["commands"].as_array().unwrap().len(), 2);
}

#[test]
fn shim_gates_a_release_on_a_lock_with_the_store_token_off_the_command_line() {
    let Some(p) = plan(&[
        ("mode", "verify"),
        ("lock", "proofgate.lock"),
        ("server", "https://proofs.example"),
        ("server-token", "READTOKEN"),
        ("pattern", "proofs-*"),
        ("run-id", "42"),
    ]) else {
        return;
    };
    let v = command(&p, 0);
    assert!(has_pair(&v, "--lock", "proofgate.lock"), "{v:?}");
    assert!(v.contains(&"--release".to_owned()), "{v:?}");
    assert!(has_pair(&v, "--server", "https://proofs.example"), "{v:?}");
    assert!(
        has_pair(&v, "--token-env", "PROOFGATE_SERVER_TOKEN"),
        "{v:?}"
    );
    assert!(
        !v.iter().any(|a| a == "--pattern" || a == "--run-id"),
        "{v:?}"
    );
    assert!(!v.iter().any(|a| a.contains("READTOKEN")), "{v:?}");
    assert_eq!(p["extraEnv"]["PROOFGATE_SERVER_TOKEN"], "READTOKEN");
}
