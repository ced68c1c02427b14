//! JUnit ingestion: dialect samples, bad input, the EnricoMi conformance corpus and the
//! `proofgate inspect` command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proofgate::junit::{self, FileReport, ParseOptions, Status, TestCase, Totals};

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> PathBuf {
    crate_root().join("tests/fixtures/junit").join(rel)
}

fn read(rel: &str) -> FileReport {
    junit::read_file(&fixture(rel), &ParseOptions::default())
        .unwrap_or_else(|e| panic!("{rel} should parse: {e}"))
}

fn totals(tests: u64, passed: u64, failed: u64, errors: u64, skipped: u64, flaky: u64) -> Totals {
    Totals {
        tests,
        passed,
        failed,
        errors,
        skipped,
        flaky,
    }
}

fn case<'a>(r: &'a FileReport, name: &str) -> &'a TestCase {
    r.cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{}: no case named {name:?}", r.path))
}

fn proofgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_proofgate"))
        .current_dir(crate_root())
        .args(args)
        .output()
        .expect("the proofgate binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

mod dialects {
    use super::*;

    #[test]
    fn surefire_flaky_and_rerun_records_are_attempts() {
        let r = read("dialects/surefire-reruns.xml");
        assert_eq!(r.totals, totals(5, 1, 1, 1, 1, 1));
        let flaky = case(&r, "flakyNetwork");
        assert_eq!((flaky.status, flaky.attempts), (Status::Flaky, 3));
        assert_eq!(flaky.duration, 1002.25, "comma thousands separator");
        assert_eq!(flaky.message.as_deref(), Some("connection reset"));
        let fails = case(&r, "alwaysFails");
        assert_eq!((fails.status, fails.attempts), (Status::Failed, 3));
        assert_eq!(fails.message.as_deref(), Some("expected: <4> but was: <5>"));
        let crash = case(&r, "crashes");
        assert_eq!((crash.status, crash.attempts), (Status::Error, 2));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn nextest_retries_and_flaky_result_fail() {
        let r = read("dialects/nextest-retries.xml");
        assert_eq!(r.totals, totals(4, 1, 2, 0, 0, 1));
        let f = case(&r, "tests::flaky_then_pass");
        assert_eq!((f.status, f.attempts), (Status::Flaky, 2));
        assert!((f.duration - 0.52).abs() < 1e-9, "record times add up");
        assert_eq!(f.classname, "mycrate::integration");
        assert_eq!(f.file, None, "nextest gives no file");
        let every = case(&r, "tests::fails_every_time");
        assert_eq!((every.status, every.attempts), (Status::Failed, 3));
        let policy = case(&r, "tests::flaky_counted_as_failure");
        assert_eq!((policy.status, policy.attempts), (Status::Failed, 2));
    }

    #[test]
    fn gotestsum_reruns_are_grouped_even_when_not_adjacent() {
        let r = read("dialects/gotestsum-rerun.xml");
        assert_eq!(r.totals, totals(4, 2, 1, 0, 0, 1));
        let f = case(&r, "TestFlaky");
        assert_eq!((f.status, f.attempts), (Status::Flaky, 2));
        assert!((f.duration - 0.19).abs() < 1e-9);
        let b = case(&r, "TestBroken");
        assert_eq!((b.status, b.attempts), (Status::Failed, 2));
        assert_eq!(case(&r, "TestMain").classname, "");
    }

    #[test]
    fn gradle_duplicate_testcases_are_attempts() {
        let r = read("dialects/gradle-duplicates.xml");
        assert_eq!(r.totals, totals(2, 0, 1, 0, 0, 1));
        let e = case(&r, "eventuallyPasses()");
        assert_eq!((e.status, e.attempts), (Status::Flaky, 3));
        assert_eq!(
            e.message.as_deref(),
            Some("org.opentest4j.AssertionFailedError: try 1"),
            "the first failure's message"
        );
        let n = case(&r, "neverPasses()");
        assert_eq!((n.status, n.attempts), (Status::Failed, 2));
    }

    #[test]
    fn phpunit_nested_suites_and_absolute_files() {
        let r = read("dialects/phpunit-nested.xml");
        assert_eq!(r.totals, totals(4, 2, 1, 0, 1, 0));
        let c = case(&r, "testDivide with data set \"by zero\"");
        assert_eq!(c.status, Status::Failed);
        assert_eq!(
            c.file.as_deref(),
            Some("/home/runner/work/app/tests/MathTest.php")
        );
        assert_eq!(c.line, Some(20), "PHPUnit lines are 1-based");
        assert!(
            c.message
                .as_deref()
                .is_some_and(|m| m.starts_with("App\\Tests\\MathTest::testDivide")),
            "no `message` attribute: the text is the message"
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn bazel_exit_code_is_an_error_and_suite_logs_are_skipped() {
        let r = read("dialects/bazel.xml");
        assert_eq!(r.totals, totals(1, 0, 0, 1, 0, 0));
        let c = &r.cases[0];
        assert_eq!(c.classname, "");
        assert_eq!(c.message.as_deref(), Some("exited with error code 1"));
    }

    #[test]
    fn libtest_concatenated_documents_are_all_read() {
        let r = read("dialects/libtest-concatenated.xml");
        assert_eq!(r.totals, totals(3, 2, 1, 0, 0, 0));
        case(&r, "tests::end_to_end");
        // libtest counts ignored tests in `skipped` but writes no element for them.
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].message.contains("skipped=\"1\""));
    }

    #[test]
    fn a_bom_and_pytest_xunit1_zero_based_lines() {
        let r = read("dialects/bom-pytest-xunit1.xml");
        assert_eq!(r.totals, totals(2, 2, 0, 0, 0, 0));
        let c = case(&r, "test_read");
        assert_eq!(c.file.as_deref(), Some("tests/test_io.py"));
        assert_eq!(c.line, Some(1), "0-based line 0 is line 1");
        assert_eq!(case(&r, "test_write[utf-8]").line, Some(42));
    }

    #[test]
    fn namespaced_elements_are_matched_by_local_name() {
        let r = read("dialects/namespaces.xml");
        assert_eq!(r.totals, totals(2, 1, 1, 0, 0, 0));
        assert_eq!(case(&r, "qualified_fail").message.as_deref(), Some("nope"));
    }

    #[test]
    fn pytest_xunit2_files_teardown_errors_xfail_and_strict_xpass() {
        let r = read("dialects/pytest-xunit2.xml");
        assert_eq!(r.totals, totals(6, 2, 1, 1, 2, 0));
        let small = case(&r, "test_small");
        assert_eq!(small.file.as_deref(), Some("tests/test_calc.py"));
        let teardown = case(&r, "test_divide_by_zero");
        assert_eq!((teardown.status, teardown.attempts), (Status::Error, 2));
        assert_eq!(
            teardown.message.as_deref(),
            Some("AssertionError: assert 1 == 0")
        );
        assert_eq!(case(&r, "test_known_bug").status, Status::Skipped);
        assert_eq!(case(&r, "test_strict_xpass").status, Status::Failed);
        assert_eq!(case(&r, "test_needs_gpu").status, Status::Skipped);
    }

    #[test]
    fn pytest_rerunfailures_duplicates_end_with_the_last_attempt() {
        let r = read("dialects/pytest-rerunfailures.xml");
        assert_eq!(r.totals, totals(3, 2, 1, 0, 0, 0));
        let c = case(&r, "test_always_fails");
        assert_eq!((c.status, c.attempts), (Status::Failed, 3));
        assert_eq!(case(&r, "test_passes_second_time").attempts, 2);
    }

    #[test]
    fn status_attributes_mark_tests_not_run() {
        let r = read("dialects/status-attributes.xml");
        assert_eq!(r.totals, totals(6, 2, 1, 0, 3, 0));
        for n in ["off", "ignored_one", "not_run"] {
            assert_eq!(case(&r, n).status, Status::Skipped, "{n}");
        }
        assert!(
            r.warnings.is_empty(),
            "skipped + disabled: {:?}",
            r.warnings
        );
    }

    #[test]
    fn odd_times_read_as_zero_with_warnings_and_counts_are_recounted() {
        let r = read("dialects/times-and-counts.xml");
        assert_eq!(r.totals, totals(7, 7, 0, 0, 0, 0));
        assert_eq!(case(&r, "comma").duration, 1234.5);
        assert_eq!(case(&r, "decimal_comma").duration, 0.25);
        for n in ["empty", "negative", "nan", "missing"] {
            assert_eq!(case(&r, n).duration, 0.0, "{n}");
        }
        let msgs: Vec<_> = r
            .warnings
            .iter()
            .map(|w| format!("{}:{}: {}", w.line, w.column, w.message))
            .collect();
        assert_eq!(
            msgs,
            [
                "5:3: `time=\"\"` is empty; read as 0",
                "6:3: `time=\"-3\"` is negative; read as 0",
                "7:3: `time=\"NaN\"` is not a number; read as 0",
                "2:1: `<testsuite name=\"times\">` declares tests=\"9\" but has 7 test cases; \
                 counting the test cases",
            ]
        );
    }

    #[test]
    fn jest_vitest_and_mocha_shapes() {
        let r = read("dialects/jest-vitest-mocha.xml");
        assert_eq!(r.totals, totals(5, 3, 2, 0, 0, 0));
        let jest = case(&r, "math divides");
        assert_eq!(
            jest.message.as_deref().and_then(|m| m.lines().last()),
            Some("    at Object.<anonymous> (src/math.test.js:9:21)"),
            "text-only failure, references decoded"
        );
        let vitest = case(&r, "retry > gives up");
        assert_eq!((vitest.status, vitest.attempts), (Status::Failed, 2));
    }

    #[test]
    fn go_junit_report_build_errors_and_replacement_characters() {
        let r = read("dialects/go-junit-report.xml");
        assert_eq!(r.totals, totals(3, 0, 1, 1, 1, 0));
        assert_eq!(case(&r, "Build error").status, Status::Error);
    }

    #[test]
    fn every_dialect_sample_keeps_the_sum_invariant() {
        for entry in std::fs::read_dir(fixture("dialects")).unwrap() {
            let path = entry.unwrap().path();
            let r = junit::read_file(&path, &ParseOptions::default()).unwrap();
            let t = r.totals;
            assert_eq!(
                t.tests,
                t.passed + t.failed + t.errors + t.skipped + t.flaky,
                "{}",
                path.display()
            );
            assert_eq!(t.tests, r.cases.len() as u64);
            assert!(r.cases.iter().all(|c| c.attempts >= 1));
        }
    }

    #[test]
    fn messages_are_bounded() {
        let opts = ParseOptions {
            max_message_bytes: 10,
            keep_going: false,
        };
        let r = junit::read_file(&fixture("dialects/jest-vitest-mocha.xml"), &opts).unwrap();
        let m = case(&r, "math divides").message.clone().unwrap();
        assert_eq!(m, "Error: exp");
    }
}

mod bad {
    use super::*;

    fn error_of(rel: &str) -> String {
        let p = fixture(rel);
        let e = junit::read_file(&p, &ParseOptions::default()).unwrap_err();
        let s = e.to_string();
        s.strip_prefix(&p.display().to_string())
            .map(str::to_owned)
            .unwrap_or(s)
    }

    #[test]
    fn each_bad_input_is_one_line_naming_line_and_column() {
        let cases = [
            ("bad/empty.xml", ":1:1: the file is empty"),
            (
                "bad/not-xml.xml",
                ":1:1: not XML: text where an element was expected",
            ),
            (
                "bad/not-junit.xml",
                ":2:1: not a JUnit report: the root element is `<suites>`, expected \
                 `<testsuites>` or `<testsuite>`",
            ),
            (
                "bad/truncated.xml",
                ":10:1: truncated: the file ends inside `<system-out>` in `<testsuite>` \
                 opened at 3:3",
            ),
            (
                "bad/cut-in-tag.xml",
                ":2:79: truncated: the file ends inside the markup that starts at 2:57",
            ),
            ("bad/invalid-utf8.xml", ":3:3: invalid UTF-8"),
            (
                "bad/entity-bomb.xml",
                ":2:1: the document type declaration declares entities; entity expansion \
                 is refused",
            ),
            (
                "bad/mismatched-tags.xml",
                ":3:3: malformed XML: `</testsuit>` closes `<testcase>`",
            ),
            (
                "bad/utf16.xml",
                ":1:1: invalid UTF-8: UTF-16 and other encodings are not read, only UTF-8",
            ),
            (
                "bad/text-after-root.xml",
                ":2:1: malformed XML: text after the root element",
            ),
            (
                // Found by fuzzing: a newline inside an end tag's name.
                "bad/fuzz-newline-in-end-tag.xml",
                ":13:3: malformed XML: `</testcase6>` closes `<testcase>`",
            ),
        ];
        for (file, want) in cases {
            let got = error_of(file);
            assert_eq!(got, want, "{file}");
            assert!(!got.contains('\n'), "{file}: one line");
        }
    }

    #[test]
    fn keep_going_reports_the_complete_cases_before_the_cut() {
        let opts = ParseOptions {
            keep_going: true,
            ..ParseOptions::default()
        };
        let e = junit::read_file(&fixture("bad/truncated.xml"), &opts).unwrap_err();
        let partial = e.partial.expect("a partial report");
        let names: Vec<_> = partial.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["test_one", "test_two"]);
        assert_eq!(partial.totals, totals(2, 1, 1, 0, 0, 0));
    }

    #[test]
    fn without_keep_going_there_is_no_partial_report() {
        let e =
            junit::read_file(&fixture("bad/truncated.xml"), &ParseOptions::default()).unwrap_err();
        assert!(e.partial.is_none());
    }

    #[test]
    fn a_missing_file_is_an_open_error() {
        let e =
            junit::read_file(Path::new("no/such/file.xml"), &ParseOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no/such/file.xml:1:1: cannot open the file:"),
            "{e}"
        );
        assert!(!e.is_io());
    }

    #[test]
    fn a_huge_system_out_is_skipped_in_bounded_memory() {
        // 64 MiB of output inside one case: read through a window, never buffered.
        let chunk = "x".repeat(1 << 20);
        let mut doc = String::from("<testsuite name=\"s\"><testcase name=\"t\"><system-out>");
        let head = doc.len();
        for _ in 0..64 {
            doc.push_str(&chunk);
        }
        doc.push_str("</system-out><failure message=\"late\"/></testcase></testsuite>");
        let mut cases = Vec::new();
        let s = junit::parse(doc.as_bytes(), "big.xml", &ParseOptions::default(), |c| {
            cases.push(c)
        })
        .unwrap();
        assert!(doc.len() > head + (64 << 20));
        assert_eq!(s.totals, totals(1, 0, 1, 0, 0, 0));
        assert_eq!(cases[0].message.as_deref(), Some("late"));
    }
}

mod conformance {
    use super::*;

    /// Files where proofgate deliberately disagrees with EnricoMi's action, with the
    /// totals proofgate gives and why. Kept in step with
    /// `tests/fixtures/junit/CONFORMANCE.md`.
    const DIFFERENCES: &[(&str, [u64; 6], &str)] = &[(
        "junit-xml/no-cases-but-tests.xml",
        [0, 0, 0, 0, 0, 0],
        "the suite declares tests=6 but holds no <testcase>: proofgate counts elements \
         (and warns), EnricoMi falls back to the declared counts",
    )];

    /// The corpus is vendored in the repository (see its README for source and licence),
    /// so a missing directory is a broken checkout, never a reason to skip.
    fn corpus() -> PathBuf {
        let dir = crate_root().join("tests/fixtures/junit/conformance/enricomi");
        assert!(
            dir.join("junit-xml").is_dir(),
            "the conformance corpus is missing at {}: restore tests/fixtures/junit/conformance/ \
             from git (`git checkout -- tests/fixtures/junit/conformance`)",
            dir.display()
        );
        dir
    }

    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }

    fn stat(v: &serde_json::Value, k: &str) -> u64 {
        v["stats"][k]
            .as_u64()
            .unwrap_or_else(|| panic!("stats.{k} missing"))
    }

    #[test]
    fn enricomi_corpus_file_by_file() {
        let dir = corpus();
        let mut files = Vec::new();
        walk(&dir, &mut files);
        files.sort();
        let (mut compared, mut rejected) = (0, 0);
        let mut failures = Vec::new();
        for f in &files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".exception") else {
                continue;
            };
            // Every `X.exception` names input that must be rejected (even `X.xml` that
            // does not exist).
            let xml = f.with_file_name(format!("{stem}.xml"));
            match junit::read_file(&xml, &ParseOptions::default()) {
                Ok(r) => failures.push(format!("{}: accepted: {:?}", xml.display(), r.totals)),
                Err(e) => {
                    assert!(e.to_string().starts_with(&xml.display().to_string()));
                    rejected += 1;
                }
            }
        }
        for f in &files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".xml") else {
                continue;
            };
            if f.with_file_name(format!("{stem}.exception")).exists() {
                continue;
            }
            let rel = f.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            let expected: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(f.with_file_name(format!("{stem}.results.json"))).unwrap(),
            )
            .unwrap();
            let want = match DIFFERENCES.iter().find(|d| d.0 == rel) {
                Some((_, t, _)) => totals(t[0], t[1], t[2], t[3], t[4], t[5]),
                None => totals(
                    stat(&expected, "tests"),
                    stat(&expected, "tests_succ"),
                    stat(&expected, "tests_fail"),
                    stat(&expected, "tests_error"),
                    stat(&expected, "tests_skip"),
                    0,
                ),
            };
            match junit::read_file(f, &ParseOptions::default()) {
                Ok(r) if r.totals == want => compared += 1,
                Ok(r) => failures.push(format!("{rel}: got {:?}, want {want:?}", r.totals)),
                Err(e) => failures.push(format!("{rel}: {e}")),
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
        assert!(compared >= 25, "only {compared} files compared");
        assert!(rejected >= 5, "only {rejected} files rejected");
    }
}

mod cli {
    use super::*;

    #[test]
    fn inspect_json_has_the_documented_shape() {
        let o = proofgate(&[
            "inspect",
            "--format",
            "json",
            "tests/fixtures/junit/example/junit.xml",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let file = &v["files"][0];
        assert_eq!(file["path"], "tests/fixtures/junit/example/junit.xml");
        let want = serde_json::json!({
            "tests": 5, "passed": 3, "failed": 1, "errors": 0, "skipped": 1, "flaky": 0
        });
        assert_eq!(file["totals"], want);
        assert_eq!(v["totals"], want);
        let failed = &file["cases"][3];
        assert_eq!(failed["file"], "tests/test_rotate_logs.py");
        assert_eq!(failed["classname"], "tests.test_rotate_logs.TestDryRun");
        assert_eq!(failed["name"], "test_dry_run_deletes_nothing");
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["attempts"], 1);
        assert_eq!(failed["duration"], 0.034);
        assert_eq!(
            failed["message"],
            "AssertionError: assert ['app.log.1'] == []"
        );
        assert!(file.get("error").is_none());
    }

    #[test]
    fn inspect_summary_drops_cases() {
        let o = proofgate(&[
            "inspect",
            "--format",
            "json",
            "--summary",
            "tests/fixtures/junit/dialects/*.xml",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let files = v["files"].as_array().unwrap();
        assert_eq!(files.len(), 15);
        assert!(files.iter().all(|f| f.get("cases").is_none()));
        let paths: Vec<_> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted, "files are sorted");
        assert!(v["totals"]["tests"].as_u64().unwrap() > 50);
        // Warnings go to stderr in `path:line:col` form.
        assert!(stderr(&o).contains(
            "warning: tests/fixtures/junit/dialects/times-and-counts.xml:5:3: `time=\"\"` is \
             empty; read as 0"
        ));
    }

    #[test]
    fn inspect_table_for_the_example() {
        let o = proofgate(&["inspect", "tests/fixtures/junit/example/junit.xml"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        insta::assert_snapshot!("inspect_table_example", stdout(&o));
    }

    #[test]
    fn inspect_resolves_globs_against_root() {
        let o = proofgate(&[
            "--root",
            "tests/fixtures/junit",
            "inspect",
            "--summary",
            "**/example/*.xml",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(
            stdout(&o),
            "example/junit.xml\n  5 tests: 3 passed, 1 failed, 0 errors, 1 skipped, 0 flaky\n"
        );
    }

    #[test]
    fn bad_input_exits_2_with_one_line() {
        for (file, want) in [
            (
                "tests/fixtures/junit/bad/not-junit.xml",
                "error: tests/fixtures/junit/bad/not-junit.xml:2:1: not a JUnit report",
            ),
            (
                "tests/fixtures/junit/bad/missing.xml",
                "error: tests/fixtures/junit/bad/missing.xml:1:1: cannot open the file",
            ),
            (
                "tests/fixtures/junit/nothing/**/*.xml",
                "error: tests/fixtures/junit/nothing/**/*.xml:1:1: the pattern matches no files",
            ),
        ] {
            let o = proofgate(&["inspect", file]);
            assert_eq!(o.status.code(), Some(2), "{file}");
            let err = stderr(&o);
            assert!(err.starts_with(want), "{file}: {err}");
            assert_eq!(err.lines().count(), 1, "{file}: {err}");
            assert!(o.stdout.is_empty());
        }
    }

    #[test]
    fn keep_going_prints_partial_results_and_still_exits_2() {
        let o = proofgate(&[
            "inspect",
            "--keep-going",
            "--format",
            "json",
            "tests/fixtures/junit/bad/truncated.xml",
            "tests/fixtures/junit/example/junit.xml",
        ]);
        assert_eq!(o.status.code(), Some(2));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let cut = &v["files"][0];
        assert_eq!(cut["totals"]["tests"], 2);
        assert!(
            cut["error"]
                .as_str()
                .unwrap()
                .contains("truncated.xml:10:1: truncated")
        );
        assert_eq!(v["totals"]["tests"], 7);
        assert!(stderr(&o).contains("error: tests/fixtures/junit/bad/truncated.xml:10:1:"));
    }
}

mod counting {
    use super::*;

    /// `count` (the `--summary` path) agrees with `parse` on every fixture.
    #[test]
    fn count_agrees_with_parse_on_every_fixture() {
        let mut files = Vec::new();
        for dir in ["dialects", "bad", "example"] {
            for e in std::fs::read_dir(fixture(dir)).unwrap() {
                files.push(e.unwrap().path());
            }
        }
        for entry in ignore::WalkBuilder::new(fixture("real")).build().flatten() {
            if entry.path().file_name().is_some_and(|n| n == "junit.xml") {
                files.push(entry.into_path());
            }
        }
        assert!(files.len() > 30);
        let opts = ParseOptions {
            keep_going: true,
            ..ParseOptions::default()
        };
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let mut n = 0u64;
            let full = junit::parse(&bytes[..], "f", &opts, |_| n += 1);
            let fast = junit::count(&bytes[..], "f", &opts);
            match (full, fast) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b, "{}", f.display());
                    assert_eq!(a.totals.tests, n);
                }
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "{}", f.display());
                    assert_eq!(
                        a.partial.map(|p| p.totals),
                        b.partial.map(|p| p.totals),
                        "{}",
                        f.display()
                    );
                }
                (a, b) => panic!("{}: {a:?} vs {b:?}", f.display()),
            }
        }
    }
}

/// `proofgate inspect … | head` ends normally when `head` stops reading, as ripgrep does:
/// a closed pipe is not an I/O failure (exit 0, nothing on stderr).
#[test]
fn a_closed_stdout_pipe_ends_inspect_with_exit_0() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xml");
    let mut xml = String::from("<testsuite>\n");
    // Far more output than a pipe buffers (64 KiB): a write after the reader left fails.
    for i in 0..20_000 {
        xml.push_str(&format!(
            "<testcase classname=\"c\" name=\"t{i}\" file=\"f.py\"/>\n"
        ));
    }
    xml.push_str("</testsuite>\n");
    std::fs::write(&path, xml).unwrap();
    for format in ["json", "table"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_proofgate"))
            .arg("inspect")
            .arg(&path)
            .args(["--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe's read end is dropped here: the next write fails with EPIPE.
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
