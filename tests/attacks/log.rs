//! Finding 6: names and text from proofs, artifacts, JUnit and headers reach stdout and
//! stderr, which the runner scans for workflow commands, and the job summary, which
//! GitHub renders as Markdown with HTML. None of it may start a command or inject markup.

use std::path::Path;

use proofgate::demo::{DEMO_COMMIT, EXAMPLE, generate_proofs};
use proofgate::model::Model;
use proofgate::sign::SigningKey;

use crate::helpers::{HOSTILE, bash_script, command_lines, proofgate, repo, text};

/// Lines proofgate itself writes as workflow commands: its annotations.
fn is_own_command(line: &str) -> bool {
    [
        "::error title=proofgate",
        "::warning title=proofgate",
        "::notice title=proofgate",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

fn assert_no_forged_commands(out: &str) {
    for l in command_lines(out) {
        assert!(
            is_own_command(&l),
            "a forged workflow command: {l:?}\n{out}"
        );
    }
}

/// In Actions, a table of test names sits between `::stop-commands::<token>` and
/// `::<token>::`, with a token that differs per run.
fn assert_fenced(out: &str) {
    let lines: Vec<&str> = out.lines().collect();
    let token = lines[0]
        .strip_prefix("::stop-commands::")
        .unwrap_or_else(|| panic!("not fenced:\n{out}"));
    assert!(token.len() >= 32, "{token}");
    assert_eq!(lines.last().copied(), Some(format!("::{token}::").as_str()));
    assert!(!lines[1..lines.len() - 1].iter().any(|l| l.contains(token)));
}

/// The text between the fence's two lines.
fn inside_fence(out: &str) -> &str {
    let start = out.find('\n').map_or(0, |i| i + 1);
    let end = out.trim_end().rfind('\n').unwrap_or(out.len());
    &out[start..end.max(start)]
}

/// Names usable as file names (no `/`), one per attack.
fn hostile_file_names() -> Vec<String> {
    HOSTILE.iter().map(|h| h.replace('/', "_")).collect()
}

/// The demo repository with signed proofs, plus a proof file for every hostile name.
fn repository_with_hostile_proofs() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    for (rel, t) in EXAMPLE {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, t).unwrap();
    }
    let (key, _) = SigningKey::generate().unwrap();
    std::fs::write(
        root.join("proofgate.yaml"),
        format!(
            "trusted_keys:\n  - name: ci\n    public_key: {}\n",
            key.public_key().to_base64()
        ),
    )
    .unwrap();
    let (m, _) = Model::load(&root, &root.join("proofgate.yaml"), true).unwrap();
    let proofs = dir.path().join("proofs");
    generate_proofs(
        &m,
        &[root.join("test-results/junit.xml")],
        Some(&key),
        &proofs,
        DEMO_COMMIT,
        chrono::Utc::now(),
    )
    .unwrap();
    let sample = std::fs::read_dir(&proofs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("proof-") && n.ends_with(".json") && !n.ends_with(".dsse.json")
        })
        .unwrap();
    for h in hostile_file_names() {
        std::fs::copy(&sample, proofs.join(format!("proof-{h}.json"))).unwrap();
        let sub = proofs.join(&h);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::copy(&sample, sub.join(format!("proof-{h}.json"))).unwrap();
    }
    (dir, root)
}

#[test]
fn finding_6_proof_paths_and_ids_cannot_forge_workflow_commands_or_summary_markup() {
    let (dir, root) = repository_with_hostile_proofs();
    let summary = dir.path().join("summary.md");
    let o = proofgate(
        &root,
        &[
            "verify",
            "--proofs",
            dir.path().join("proofs").to_str().unwrap(),
            "--commit",
            DEMO_COMMIT,
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(matches!(o.status.code(), Some(0..=2)), "{out}{err}");
    assert_no_forged_commands(&out);
    assert_no_forged_commands(&err);
    assert!(
        out.contains("x\\n::warning::forged") || err.contains("x\\n::warning::forged"),
        "the hostile id is shown, escaped:\n{out}{err}"
    );
    if let Ok(md) = std::fs::read_to_string(&summary) {
        assert!(!md.contains("<img"), "{md}");
        assert!(md.contains("&lt;img src=x&gt;"), "{md}");
        assert!(!md.contains("\n::"), "{md}");
        for (i, _) in md.match_indices("](") {
            assert_eq!(&md[i - 1..i], "\\", "an unescaped `](` in:\n{md}");
        }
    }
}

fn hostile_junit() -> String {
    let mut cases = String::new();
    for (i, h) in HOSTILE.iter().enumerate() {
        let esc = h
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\n', "&#10;")
            .replace('\r', "&#13;");
        cases.push_str(&format!(
            "<testcase classname=\"tests.test_x\" name=\"t{i} {esc}\" file=\"tests/test_x.py\" time=\"0.1\"><failure message=\"m {esc}\">{esc}</failure></testcase>\n"
        ));
    }
    format!(
        "<?xml version=\"1.0\"?>\n<testsuites><testsuite name=\"s\" tests=\"{}\">\n{cases}</testsuite></testsuites>\n",
        HOSTILE.len()
    )
}

fn junit_repo() -> tempfile::TempDir {
    let script = bash_script(
        "x",
        "# maturity: 1\n# test:\n#   runner: pytest\n#   command: \"pytest tests/test_x.py\"\n#   evidence: declared\n# dry_run:\n#   supported: true\n# risk_profile:\n#   production_impact: low\n#   security_risk: low\n#   coupling_risk: low\n",
    );
    repo(&[
        ("scripts/x.sh", &script),
        ("tests/test_x.py", "def test_x():\n    pass\n"),
        ("junit.xml", &hostile_junit()),
    ])
}

#[test]
fn finding_6_test_names_cannot_forge_workflow_commands_in_inspect() {
    let r = junit_repo();
    let junit = r.path().join("junit.xml");
    let o = proofgate(
        r.path(),
        &["inspect", junit.to_str().unwrap()],
        &[("GITHUB_ACTIONS", "true")],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(command_lines(inside_fence(&out)).is_empty(), "{out}");
    assert!(command_lines(&err).is_empty(), "{err}");
    assert!(out.contains("x\\n::warning::forged"), "{out}");
    assert_fenced(&out);
    // JSON keeps the names as they are: serde escapes them.
    let o = proofgate(
        r.path(),
        &["inspect", "--format", "json", junit.to_str().unwrap()],
        &[],
    );
    let out = text(&o.stdout);
    assert!(command_lines(&out).is_empty(), "{out}");
    assert!(out.contains("x\\n::warning::forged"), "{out}");
}

#[test]
fn finding_6_test_names_cannot_forge_workflow_commands_in_map() {
    let r = junit_repo();
    let o = proofgate(
        r.path(),
        &["map", "--junit", "junit.xml"],
        &[("GITHUB_ACTIONS", "true")],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(command_lines(inside_fence(&out)).is_empty(), "{out}");
    assert!(command_lines(&err).is_empty(), "{err}");
    assert!(out.contains("forged"), "the cases are listed:\n{out}");
    assert_fenced(&out);
}

#[test]
fn finding_6_a_script_file_name_cannot_forge_workflow_commands_in_lint_or_verify() {
    let r = repo(&[
        ("scripts/x\n::warning::forged.sh", "echo no header\n"),
        ("scripts/y ##[error]v1.sh", "echo no header\n"),
    ]);
    let o = proofgate(r.path(), &["lint"], &[("GITHUB_ACTIONS", "true")]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(command_lines(&out).is_empty(), "{out}");
    assert!(out.contains("scripts/x\\n::warning::forged.sh"), "{out}");
    let proofs = r.path().join("proofs");
    std::fs::create_dir_all(&proofs).unwrap();
    let o = proofgate(
        r.path(),
        &[
            "verify",
            "--proofs",
            proofs.to_str().unwrap(),
            "--commit",
            DEMO_COMMIT,
        ],
        &[("GITHUB_ACTIONS", "true")],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_no_forged_commands(&out);
    assert_no_forged_commands(&err);
    assert!(!Path::new(&r.path().join("never")).exists());
}
