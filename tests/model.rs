//! The certification model end to end: `lint`, `matrix` and `map` run as a user would,
//! against the goldenpath-shaped fixture repository and small repositories made on the
//! spot.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model/goldenpath")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(root: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_proofgate"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run proofgate");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Writes `files` (path, content) under a fresh temporary directory.
fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, c) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, c).expect("write");
    }
    dir
}

/// A valid goldenpath header as `#` comments, with `extra` lines inserted before the end.
fn bash_script(id: &str, body: &str) -> String {
    format!(
        "#!/usr/bin/env bash\n# ---\n# id: {id}\n# type: script\n# owner: platform-team\n# status: active\n{body}# ---\necho ok\n"
    )
}

const GOOD_TAIL: &str = "# maturity: 1\n# test:\n#   runner: bats\n#   command: \"bats tests/x.bats\"\n#   evidence: declared\n# dry_run:\n#   supported: true\n# risk_profile:\n#   production_impact: low\n#   security_risk: low\n#   coupling_risk: low\n";

mod lint {
    use super::*;

    #[test]
    fn lint_reports_every_broken_header_with_file_line_and_column() {
        let r = run(&fixture(), &["lint"]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stdout.contains(
            "scripts/bad_enum.py:11:3: test.evidence: \"cii\" is not one of manual, declared, ci"
        ));
        insta::assert_snapshot!("lint_table", r.stdout);
    }

    #[test]
    fn lint_json_carries_the_same_findings() {
        let r = run(&fixture(), &["lint", "--format", "json"]);
        assert_eq!(r.code, 1);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        assert_eq!(v["errors"], 9);
        assert_eq!(v["warnings"], 1);
        assert_eq!(v["scripts"], 12);
        let codes: Vec<&str> = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["code"].as_str().expect("code"))
            .collect();
        for c in [
            "bad-value",
            "bad-id",
            "yaml",
            "missing-key",
            "ungoverned",
            "duplicate-id",
            "manual-forbidden",
            "test-file-missing",
            "unknown-key",
        ] {
            assert!(codes.contains(&c), "{c} missing from {codes:?}");
        }
        let dup = v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .find(|f| f["code"] == "duplicate-id")
            .expect("duplicate");
        assert_eq!(dup["path"], "scripts/sync_catalog_v2.sh");
        assert_eq!(dup["line"], 3);
        assert_eq!(dup["column"], 3);
        assert_eq!(
            dup["message"],
            "id: \"SCRIPT-0007\" is already used by scripts/sync_catalog.py:3:1"
        );
    }

    #[test]
    fn a_clean_repository_without_config_passes() {
        let d = repo(&[
            ("scripts/x.sh", &bash_script("x", GOOD_TAIL)),
            ("tests/x.bats", "@test \"x\" { true; }\n"),
        ]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, "0 errors, 0 warnings in 1 script\n");
    }

    #[test]
    fn warnings_fail_only_with_strict() {
        let tail = format!("{GOOD_TAIL}# tags: [a]\n");
        let d = repo(&[
            ("scripts/x.sh", &bash_script("x", &tail)),
            ("tests/x.bats", ""),
        ]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 0, "{}", r.stdout);
        assert_eq!(
            r.stdout,
            "warning scripts/x.sh:18:3: tags: unknown key, kept as written [unknown-key]\n0 errors, 1 warning in 1 script\n"
        );
        assert_eq!(run(d.path(), &["lint", "--strict"]).code, 1);
    }

    #[test]
    fn an_invalid_config_exits_2_naming_line_and_column() {
        let d = repo(&[(
            "proofgate.yaml",
            "scripts:\n  roots: [scripts]\npolicy:\n  max_age: forever\n  colour: red\n",
        )]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 2);
        assert_eq!(r.stdout, "");
        assert_eq!(
            r.stderr,
            "error: invalid `proofgate.yaml`:\n  proofgate.yaml:4:3: policy.max_age: \"forever\" is not a duration such as 30d, 12h, 90m, 45s or 2w\n  proofgate.yaml:5:3: policy.colour: unknown key; expected one of signatures, require_signatures, max_age, reuse, flaky, manual_forbidden_for, ci_required_for\n"
        );
    }

    #[test]
    fn malformed_config_yaml_exits_2_with_its_position() {
        let d = repo(&[("proofgate.yaml", "scripts:\n  roots: [scripts\n")]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.starts_with(
                "error: invalid `proofgate.yaml`:\n  proofgate.yaml:3:1: invalid YAML: "
            ),
            "{}",
            r.stderr
        );
    }

    #[test]
    fn a_named_config_that_does_not_exist_exits_2() {
        let d = repo(&[]);
        let r = run(d.path(), &["--config", "nope.yaml", "lint"]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr
                .contains("configuration file `nope.yaml` does not exist"),
            "{}",
            r.stderr
        );
    }

    #[test]
    fn maturity_rules_are_enforced() {
        let m2 = "# maturity: 2\n# test:\n#   runner: bats\n#   command: \"bats tests/x.bats\"\n#   evidence: declared\n# dry_run:\n#   supported: false\n# risk_profile:\n#   production_impact: low\n#   security_risk: low\n#   coupling_risk: low\n";
        let m3 = "# maturity: 3\n# test:\n#   runner: bats\n#   command: \"bats tests/x.bats\"\n#   evidence: declared\n# dry_run:\n#   supported: true\n# risk_profile:\n#   production_impact: medium\n#   security_risk: low\n#   coupling_risk: low\n";
        let d = repo(&[
            ("scripts/a.sh", &bash_script("a", m2)),
            ("scripts/b.sh", &bash_script("b", m3)),
            ("tests/x.bats", ""),
        ]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 1);
        assert_eq!(
            r.stdout,
            "error   scripts/a.sh:7:3: maturity: maturity 2 needs dry_run.supported: true [maturity]\n\
             error   scripts/b.sh:7:3: maturity: maturity 3 at production_impact medium needs test.evidence: ci [maturity]\n\
             2 errors, 0 warnings in 2 scripts\n"
        );
    }

    #[test]
    fn shellcheck_commands_must_name_the_script() {
        let tail = "# test:\n#   runner: shellcheck\n#   command: \"shellcheck scripts/other.sh\"\n#   evidence: manual\n# dry_run:\n#   supported: false\n# risk_profile:\n#   production_impact: low\n#   security_risk: low\n#   coupling_risk: low\n";
        let d = repo(&[("scripts/x.sh", &bash_script("x", tail))]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 1);
        assert_eq!(
            r.stdout,
            "error   scripts/x.sh:9:5: test.command: a shellcheck command must name the script `scripts/x.sh` [shellcheck-command]\n1 error, 0 warnings in 1 script\n"
        );
    }

    #[test]
    fn manual_evidence_policy_is_configurable() {
        let tail = "# test:\n#   runner: custom\n#   command: \"make check\"\n#   evidence: manual\n# dry_run:\n#   supported: false\n# risk_profile:\n#   production_impact: medium\n#   security_risk: low\n#   coupling_risk: low\n";
        let d = repo(&[("scripts/x.sh", &bash_script("x", tail))]);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 1);
        assert!(r.stdout.contains("scripts/x.sh:10:5: test.evidence: \"manual\" is not allowed at production_impact medium; use declared or ci [manual-forbidden]"), "{}", r.stdout);
        std::fs::write(
            d.path().join("proofgate.yaml"),
            "policy:\n  manual_forbidden_for: [high]\n",
        )
        .expect("write");
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 0, "{}", r.stdout);
    }

    #[test]
    fn config_can_extend_the_allowed_owners() {
        let tail = GOOD_TAIL.to_owned();
        let script = bash_script("x", &tail).replace("owner: platform-team", "owner: data-team");
        let d = repo(&[("scripts/x.sh", &script), ("tests/x.bats", "")]);
        let r = run(d.path(), &["lint"]);
        assert!(r.stdout.contains("scripts/x.sh:5:3: owner: \"data-team\" is not one of platform-team, app-team, security-team; to allow it, add it to `allowed.owners` in proofgate.yaml [bad-value]"), "{}", r.stdout);
        std::fs::write(
            d.path().join("proofgate.yaml"),
            "allowed:\n  owners: [data-team]\n",
        )
        .expect("write");
        assert_eq!(run(d.path(), &["lint"]).code, 0);
    }
}

mod matrix {
    use super::*;

    #[test]
    fn matrix_markdown_matches_the_committed_file() {
        let r = run(&fixture(), &["matrix"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let committed =
            std::fs::read_to_string(fixture().join("docs/SCRIPT_CERTIFICATION_MATRIX.md"))
                .expect("read");
        assert_eq!(r.stdout, committed);
        insta::assert_snapshot!("matrix_markdown", r.stdout);
    }

    #[test]
    fn matrix_check_passes_on_a_fresh_file() {
        let file = fixture().join("docs/SCRIPT_CERTIFICATION_MATRIX.md");
        let r = run(
            &fixture(),
            &["matrix", "--check", file.to_str().expect("utf-8")],
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert_eq!(r.stdout, "");
    }

    #[test]
    fn matrix_check_fails_on_a_stale_file_with_a_diff() {
        let d = tempfile::tempdir().expect("tempdir");
        let committed =
            std::fs::read_to_string(fixture().join("docs/SCRIPT_CERTIFICATION_MATRIX.md"))
                .expect("read");
        let stale = committed.replace(
            "| `scripts/rotate_logs.sh` | `rotate_logs` | `app-team` | ⭐ 1 |",
            "| `scripts/rotate_logs.sh` | `rotate_logs` | `app-team` | ⭐⭐ 2 |",
        );
        assert_ne!(stale, committed);
        let file = d.path().join("m.md");
        std::fs::write(&file, stale).expect("write");
        let r = run(
            &fixture(),
            &["matrix", "--check", file.to_str().expect("utf-8")],
        );
        assert_eq!(r.code, 1);
        let name = file.display().to_string();
        assert!(
            r.stdout
                .starts_with(&format!("--- {name}\n+++ proofgate matrix\n@@ ")),
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains("\n-| `scripts/rotate_logs.sh` | `rotate_logs` | `app-team` | ⭐⭐ 2 | 🚫 | `shellcheck` | `manual` | `low` |\n+| `scripts/rotate_logs.sh` | `rotate_logs` | `app-team` | ⭐ 1 | 🚫 | `shellcheck` | `manual` | `low` |\n"), "{}", r.stdout);
        assert!(r.stderr.contains("is stale"), "{}", r.stderr);
    }

    #[test]
    fn matrix_check_of_a_missing_file_fails() {
        let r = run(&fixture(), &["matrix", "--check", "/nonexistent/m.md"]);
        assert_eq!(r.code, 1);
        assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    }

    #[test]
    fn matrix_out_writes_the_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let file = d.path().join("docs/m.md");
        let r = run(
            &fixture(),
            &["matrix", "--out", file.to_str().expect("utf-8")],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout, "");
        let written = std::fs::read_to_string(&file).expect("read");
        assert_eq!(written, run(&fixture(), &["matrix"]).stdout);
    }

    #[test]
    fn matrix_json_lists_rows_and_totals() {
        let r = run(&fixture(), &["matrix", "--format", "json"]);
        assert_eq!(r.code, 0);
        insta::assert_snapshot!("matrix_json", r.stdout);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        assert_eq!(v["totals"]["scripts"], 12);
        assert_eq!(v["scripts"][0]["path"], "infra/main.tf");
    }

    #[test]
    fn matrix_exits_2_on_an_invalid_config() {
        let d = repo(&[("proofgate.yaml", "nonsense: 1\n")]);
        let r = run(d.path(), &["matrix"]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr
                .contains("proofgate.yaml:1:1: nonsense: unknown key"),
            "{}",
            r.stderr
        );
    }
}

mod mapping {
    use super::*;
    use proofgate::junit::{Status, TestCase};
    use proofgate::model::{Model, ScriptId, map_cases};

    fn case(file: Option<&str>, classname: &str, name: &str) -> TestCase {
        TestCase {
            file: file.map(str::to_owned),
            classname: classname.into(),
            name: name.into(),
            status: Status::Passed,
            attempts: 1,
            duration: 0.01,
            line: None,
            message: None,
        }
    }

    fn id(s: &str) -> ScriptId {
        s.parse().expect("id")
    }

    #[test]
    fn cases_map_to_scripts_by_exact_rules() {
        let root = fixture();
        let (model, _) = Model::load(&root, &root.join("proofgate.yaml"), true).expect("load");
        let cases = vec![
            case(
                Some("tests/unit/test_deploy_app.py"),
                "tests.unit.test_deploy_app.TestDeploy",
                "test_dry_run",
            ),
            case(
                Some("tests/unit/test_deploy_app.py"),
                "tests.unit.test_deploy_app.TestDeploy",
                "test_rollout",
            ),
            case(
                Some("tests/unit/test_deploy_app_extra.py"),
                "tests.unit.test_deploy_app_extra",
                "test_extra",
            ),
            case(None, "tests.unit.test_report.TestReport", "test_weekly"),
            case(
                None,
                "tests.unit.test_report.TestReportArchive",
                "test_archive",
            ),
            case(None, "tests.unit.test_infra", "test_plan"),
            case(None, "backup_db.bats", "backs up"),
        ];
        let m = map_cases(&model, &cases);
        let got = |s: &str| m.scripts[&id(s)].cases.clone();
        // File selector plus a name glob; `test_deploy_app_extra.py` is another file.
        assert_eq!(got("SCRIPT-0001"), [0, 1]);
        // Node id `…::TestReport` is that class only, not `TestReportArchive`.
        assert_eq!(got("generate_report"), [3]);
        // xunit2 (no file): the module path of the declared script in proofgate.yaml.
        assert_eq!(got("infra-main"), [5]);
        // bats: the file name is the classname.
        assert_eq!(got("SCRIPT-0002"), [6]);
        assert_eq!(got("rotate_logs"), Vec::<usize>::new());
        assert_eq!(m.unmatched(cases.len()), [2, 4]);
        let files = &m.scripts[&id("SCRIPT-0001")].test_files;
        assert_eq!(files.get("tests/unit/test_deploy_app.py"), Some(&true));
        let sync = &m.scripts[&id("SCRIPT-0007")].test_files;
        assert_eq!(sync.get("tests/unit/test_sync_catalog.py"), Some(&false));
    }

    #[test]
    fn a_case_may_certify_several_scripts() {
        let d = repo(&[
            ("scripts/a.sh", &bash_script("a", GOOD_TAIL)),
            ("scripts/b.sh", &bash_script("b", GOOD_TAIL)),
            ("tests/x.bats", ""),
        ]);
        let (model, findings) =
            Model::load(d.path(), &d.path().join("proofgate.yaml"), false).expect("load");
        assert_eq!(findings, []);
        let m = map_cases(&model, &[case(None, "x.bats", "t")]);
        assert_eq!(m.scripts[&id("a")].cases, [0]);
        assert_eq!(m.scripts[&id("b")].cases, [0]);
    }
}

mod map {
    use super::*;

    #[test]
    fn map_table_lists_cases_and_declared_files_per_script() {
        let r = run(&fixture(), &["map", "--junit", "test-results/*.xml"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains(
            "generate_report  scripts/generate_report.py  [declared]  1 case\n  test file  tests/unit/test_report.py  matched\n  passed     tests.unit.test_report.TestReport::test_weekly\n"
        ), "{}", r.stdout);
        assert!(r.stdout.contains("SCRIPT-0007  scripts/sync_catalog.py  [declared]  0 cases\n  test file  tests/unit/test_sync_catalog.py  NO CASE\n"));
        assert!(r.stdout.ends_with(
            "7 cases read, 5 matched a script, 2 matched none\n  unmatched  tests.unit.test_deploy_app_extra::test_extra  (test-results/junit.xml)\n  unmatched  tests.unit.test_report.TestReportArchive::test_archive  (test-results/junit.xml)\n"
        ), "{}", r.stdout);
        insta::assert_snapshot!("map_table", r.stdout);
    }

    #[test]
    fn map_json_names_sources_and_file_coverage() {
        let r = run(
            &fixture(),
            &[
                "map",
                "--junit",
                "test-results/junit.xml",
                "test-results/bats.xml",
                "--format",
                "json",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
        assert_eq!(v["cases"], 7);
        let scripts = v["scripts"].as_array().expect("scripts");
        let ids: Vec<&str> = scripts
            .iter()
            .map(|s| s["id"].as_str().expect("id"))
            .collect();
        assert_eq!(
            ids,
            [
                "SCRIPT-0001",
                "SCRIPT-0002",
                "SCRIPT-0007",
                "generate_report",
                "infra-main",
                "missing_owner",
                "rotate_logs"
            ]
        );
        let bats = &scripts[1];
        assert_eq!(bats["cases"][0]["source"], "test-results/bats.xml");
        assert_eq!(bats["test_files"]["tests/bats/backup_db.bats"], true);
        assert_eq!(
            scripts[2]["test_files"]["tests/unit/test_sync_catalog.py"],
            false
        );
        assert_eq!(v["unmatched"].as_array().expect("unmatched").len(), 2);
    }

    #[test]
    fn map_with_broken_junit_exits_2_naming_the_position() {
        let d = repo(&[("r.xml", "<testsuite><testcase name=\"a\"></testsuite>")]);
        let r = run(d.path(), &["map", "--junit", "r.xml"]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.starts_with("error: r.xml:1:"), "{}", r.stderr);
    }

    #[test]
    fn map_requires_junit_inputs() {
        let r = run(&fixture(), &["map"]);
        assert_eq!(r.code, 2);
    }
}

mod large {
    use super::*;

    /// Enough scripts to take the parallel path: findings and order are unchanged.
    #[test]
    fn large_repositories_give_the_same_findings_in_order() {
        let mut files: Vec<(String, String)> = (0..600)
            .map(|i| {
                (
                    format!("scripts/s{i:04}.sh"),
                    bash_script(&format!("s{i:04}"), GOOD_TAIL),
                )
            })
            .collect();
        files[10].1 = bash_script("s0599", GOOD_TAIL);
        files[300].1 = "#!/bin/sh\necho no header\n".into();
        files[599].1 = bash_script("s0599", &GOOD_TAIL.replace("declared", "cii"));
        files.push(("tests/x.bats".into(), String::new()));
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let d = repo(&refs);
        let r = run(d.path(), &["lint"]);
        assert_eq!(r.code, 1);
        assert_eq!(
            r.stdout,
            "error   scripts/s0300.sh:1:1: no header: the script is ungoverned (maturity 0); add a `# ---` … `# ---` comment block or a docstring header [ungoverned]\n\
             error   scripts/s0599.sh:3:3: id: \"s0599\" is already used by scripts/s0010.sh:3:3 [duplicate-id]\n\
             error   scripts/s0599.sh:11:5: test.evidence: \"cii\" is not one of manual, declared, ci [bad-value]\n\
             3 errors, 0 warnings in 600 scripts\n"
        );
        let m = run(d.path(), &["matrix", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&m.stdout).expect("json");
        assert_eq!(v["totals"]["scripts"], 600);
        assert_eq!(v["totals"]["declared"], 598);
        assert_eq!(v["totals"]["ungoverned"], 2);
    }
}
