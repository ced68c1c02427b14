//! The JUnit fast path against the full reader: whenever the scanner accepts an input,
//! its result (totals and every test case: file, classname, name, status, attempts,
//! duration, line, message, in order) equals the full reader's, and the full reader has
//! nothing to warn about. Checked on every file under `tests/fixtures/junit/`, on every
//! file of a committed fuzz corpus, on hand-written adversarial inputs and on generated
//! ones.

use std::path::{Path, PathBuf};

use proofgate::junit::{self, ParseOptions, TestCase, Totals};
use proptest::prelude::*;

fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn full_parse(bytes: &[u8], opts: &ParseOptions) -> Result<(Vec<TestCase>, Totals, usize), String> {
    let mut cases = Vec::new();
    let s = junit::parse(bytes, "t.xml", opts, |c| cases.push(c)).map_err(|e| e.to_string())?;
    Ok((cases, s.totals, s.warnings.len()))
}

/// Checks one input; true when the fast path accepted it (for cases or for counting).
fn check(bytes: &[u8], what: &str) -> bool {
    let mut accepted = false;
    for max_message_bytes in [4096, 7] {
        let opts = ParseOptions {
            max_message_bytes,
            ..ParseOptions::default()
        };
        if let Some((cases, totals)) = junit::fast_parse(bytes, &opts) {
            accepted = true;
            let full = full_parse(bytes, &opts).unwrap_or_else(|e| {
                panic!("{what}: the fast path accepted what the full reader refuses: {e}")
            });
            assert_eq!(
                full.2, 0,
                "{what}: the fast path accepted input the full reader warns about"
            );
            assert_eq!(totals, full.1, "{what}: totals differ");
            assert_eq!(cases.len(), full.0.len(), "{what}: case counts differ");
            for (i, (f, s)) in cases.iter().zip(&full.0).enumerate() {
                // Durations are compared by bits: the same additions in the same order.
                assert!(
                    f == s && f.duration.to_bits() == s.duration.to_bits(),
                    "{what}: case {i} differs:\nfast {f:?}\nfull {s:?}"
                );
            }
        }
    }
    let opts = ParseOptions::default();
    if let Some(totals) = junit::fast_count(bytes, &opts) {
        accepted = true;
        let full = junit::count(bytes, "t.xml", &opts).unwrap_or_else(|e| {
            panic!("{what}: the fast count accepted what the full reader refuses: {e}")
        });
        assert!(
            full.warnings.is_empty(),
            "{what}: fast count accepted input with warnings"
        );
        assert_eq!(totals, full.totals, "{what}: counted totals differ");
    }
    accepted
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn the_fast_path_agrees_with_the_full_reader_on_every_fixture() {
    let mut files = Vec::new();
    files_under(&crate_root().join("tests/fixtures/junit"), &mut files);
    files.sort();
    assert!(files.len() > 100, "the fixtures are missing");
    let mut accepted = 0;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        if check(&bytes, &f.display().to_string()) {
            accepted += 1;
        }
        // Through the file API too: the same report as the full reader.
        if f.extension().is_some_and(|e| e == "xml") {
            let opts = ParseOptions::default();
            let via_file = junit::read_file(f, &opts).map(|r| (r.cases, r.totals, r.warnings));
            let full = {
                let mut cases = Vec::new();
                junit::parse(&bytes[..], &f.display().to_string(), &opts, |c| {
                    cases.push(c)
                })
                .map(|s| (cases, s.totals, s.warnings))
            };
            match (via_file, full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", f.display()),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!(
                    "{}: read_file {:?} but parse {:?}",
                    f.display(),
                    a.map(|x| x.1),
                    b.map(|x| x.1)
                ),
            }
            let shown = f.display().to_string();
            let counted = junit::count_file(f, &shown, &opts);
            let full = junit::count(&bytes[..], &shown, &opts);
            match (counted, full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", f.display()),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!(
                    "{}: count_file {:?} but count {:?}",
                    f.display(),
                    a.map(|x| x.totals),
                    b.map(|x| x.totals)
                ),
            }
        }
    }
    // The fast path is not vacuous: the plain reports among the fixtures take it.
    assert!(
        accepted >= 10,
        "the fast path accepted only {accepted} fixtures"
    );
}

#[test]
fn the_fast_path_agrees_with_the_full_reader_on_the_fuzz_corpus() {
    // The minimised corpus of `cargo fuzz run junit_diff` (see docs/development.md), and
    // any local fuzzing corpora on top.
    let mut files = Vec::new();
    files_under(
        &crate_root().join("tests/fixtures/junit/fuzz-corpus"),
        &mut files,
    );
    assert!(
        files.len() >= 50,
        "the committed fuzz corpus is missing ({} files)",
        files.len()
    );
    let committed = files.len();
    for target in ["parse", "junit_diff"] {
        files_under(&crate_root().join("fuzz/corpus").join(target), &mut files);
    }
    let mut accepted = 0;
    for (i, f) in files.iter().enumerate() {
        if check(&std::fs::read(f).unwrap(), &f.display().to_string()) && i < committed {
            accepted += 1;
        }
    }
    // The corpus must reach the fast path, not only the inputs it declines (55 of the 323
    // files committed on 2026-12-07 do).
    assert!(
        accepted * 8 >= committed,
        "only {accepted} of {committed} corpus files take the fast path"
    );
}

const SUITE_OPEN: &str = r#"<testsuites name="all"><testsuite name="s" tests="2">"#;
const SUITE_CLOSE: &str = "</testsuite></testsuites>";

fn in_suite(cases: &str) -> String {
    format!("{SUITE_OPEN}{cases}{SUITE_CLOSE}")
}

#[test]
fn adversarial_inputs_are_declined_or_read_exactly() {
    let two = r#"<testcase classname="c" name="a"/><testcase classname="c" name="b"/>"#;
    let docs = [
        // Markup hidden in comments, CDATA and processing instructions.
        in_suite(&format!("<!-- <testcase name=\"x\"/> -->{two}")),
        in_suite(&format!("{two}<?pi <testcase name=\"x\"/>?>")),
        in_suite(
            "<testcase classname=\"c\" name=\"a\"><system-out><![CDATA[</testcase></testsuite><testcase name=\"z\"/>]]></system-out></testcase><testcase classname=\"c\" name=\"b\"/>",
        ),
        in_suite(
            "<testcase classname=\"c\" name=\"a\"><system-out><!-- </system-out> --></system-out></testcase><testcase classname=\"c\" name=\"b\"/>",
        ),
        // References in attribute values.
        in_suite(
            r#"<testcase classname="c" name="&quot;a&quot;"/><testcase classname="c" name="&#x41;&#66;"/>"#,
        ),
        in_suite(
            r#"<testcase classname="c" name="&#x110000;"/><testcase classname="c" name="b"/>"#,
        ),
        in_suite(r#"<testcase classname="c" name="a&amp"/><testcase classname="c" name="b"/>"#),
        // `>` and `<` inside attribute values.
        in_suite(r#"<testcase classname="c" name="a>b"/><testcase classname="c" name="b"/>"#),
        in_suite(
            r#"<testcase classname="c" name='a"/><testcase name="x'/><testcase classname="c" name="b"/>"#,
        ),
        // Self-closing against open/close, and the same test twice (attempts).
        in_suite(
            r#"<testcase classname="c" name="a"></testcase><testcase classname="c" name="a"><failure message="m"/></testcase>"#,
        ),
        in_suite(
            r#"<testcase classname="c" name="a"><flakyFailure message="r" time="1.5"/></testcase><testcase classname="c" name="b" time="0.25"/>"#,
        ),
        // Nested suites and counts.
        format!(
            r#"<testsuites><testsuite name="outer" tests="3"><testsuite name="pytest" tests="2">{two}</testsuite><testcase classname="tests.test_x.TestA" name="a"/></testsuite></testsuites>"#
        ),
        format!(
            r#"<testsuites><testsuite name="outer" tests="1"><testsuite name="inner">{two}</testsuite></testsuite></testsuites>"#
        ),
        // Namespaces, a DOCTYPE, a byte order mark, another encoding.
        format!(r#"<j:testsuites xmlns:j="urn:x"><j:testsuite>{two}</j:testsuite></j:testsuites>"#),
        format!(
            r#"<!DOCTYPE testsuites [<!ENTITY x "y">]><testsuites><testsuite>{two}</testsuite></testsuites>"#
        ),
        format!("\u{FEFF}<testsuites><testsuite>{two}</testsuite></testsuites>"),
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?><testsuites><testsuite>{two}</testsuite></testsuites>"#
        ),
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite>{two}</testsuite></testsuites>"#
        ),
        // Structure the full reader refuses or reads differently.
        format!("<testsuites><testsuite>{two}</testsuites></testsuite>"),
        format!("<testsuites><testsuite>{two}</testsuite></testsuites><testsuites/>"),
        format!("<testsuites><testsuite>{two}</testsuite></testsuites>trailing"),
        format!("<testsuites><testsuite>{two}</testsuite>"),
        format!(
            "<testsuites><testsuite>{two}<failure message=\"setup\"/></testsuite></testsuites>"
        ),
        format!("<testsuites><testsuite>{two}<testcase/></testsuite></testsuites>"),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\" time=\"-1\"/></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\" name=\"u\"/></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"><skipped message=\"xfail-marked test passes unexpectedly\"/></testcase></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\" status=\"Disabled\"/></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"><failure>text only</failure></testcase></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"><error type=\"E\"><![CDATA[x]]></error></testcase></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\" file=\"t.py\" line=\"4\"/></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"><properties><property name=\"p\" value=\"&lt;\"/></properties></testcase></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"><system-out><a><b></a></b></system-out></testcase></testsuite></testsuites>"
        ),
        format!("<testsuites><testsuite>{two}<testcase name=\"t\"/ ></testsuite></testsuites>"),
        format!("<testsuites><testsuite>{two}<testcase\u{c}name=\"t\"/></testsuite></testsuites>"),
        format!("<testsuites><testsuite>{two}<testcase name=\"t\"\u{c}/></testsuite></testsuites>"),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"/><testcase name=\"t\"/></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name = 't\r\nu' classname=\"\"/></testsuite></testsuites>"
        ),
        format!(
            "<testsuites><testsuite>{two}<testcase name=\"t\"b=\"1\"/></testsuite></testsuites>"
        ),
        format!("<testsuites><testsuite>{two}</testsuite ></testsuites>"),
    ];
    let mut accepted = 0;
    for (i, d) in docs.iter().enumerate() {
        if check(d.as_bytes(), &format!("adversarial #{i}: {d}")) {
            accepted += 1;
        }
    }
    assert!(
        accepted >= 10,
        "only {accepted} adversarial inputs were accepted"
    );
}

/// A piece of a generated report: plain parts the fast path reads and tricky ones.
fn piece() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("a &amp; b".to_owned()),
        Just("&quot;q&quot;".to_owned()),
        Just("&#x41;".to_owned()),
        Just("&#65;".to_owned()),
        Just("&bogus;".to_owned()),
        Just("x>y".to_owned()),
        Just("é\r\n".to_owned()),
    ];
    let child = prop_oneof![
        8 => Just(String::new()),
        8 => Just("<failure message=\"m\"/>".to_owned()),
        8 => Just("<system-out><![CDATA[out]]></system-out>".to_owned()),
        1 => Just("<failure>trace &lt;1&gt;</failure>".to_owned()),
        1 => Just("<failure type=\"T\"><![CDATA[]]></failure>".to_owned()),
        1 => Just("<error message=\" \" type=\"E\"/>".to_owned()),
        1 => Just("<skipped/>".to_owned()),
        1 => Just("<skipped message=\"xfail-marked test passes unexpectedly\"/>".to_owned()),
        1 => Just("<flakyFailure message=\"r\" time=\"0.5\"/>".to_owned()),
        1 => Just("<rerunError time=\"1,5\"/>".to_owned()),
        1 => Just("<system-out><![CDATA[</testcase></testsuite>]]></system-out>".to_owned()),
        1 => Just("<system-err>a &amp; b<x y='1'>z</x></system-err>".to_owned()),
        1 => Just("<!-- <testcase name=\"hidden\"/> -->".to_owned()),
        1 => Just("<?pi x?>".to_owned()),
        1 => Just("<weird/>".to_owned()),
    ];
    let attrs = prop_oneof![
        Just(String::new()),
        Just(" time=\"0.125\"".to_owned()),
        Just(" time=\"bad\"".to_owned()),
        Just(" file=\"t.py\" line=\"3\"".to_owned()),
        Just(" file=\"t.py\" line=\"3\" timestamp=\"x\"".to_owned()),
        Just(" status=\"skipped\"".to_owned()),
        Just(" classname='tests.test_m.TestK'".to_owned()),
    ];
    prop_oneof![
        4 => (name, attrs, proptest::collection::vec(child, 0..3), any::<bool>()).prop_map(
            |(n, a, kids, self_closing)| {
                if self_closing && kids.is_empty() {
                    format!("<testcase classname=\"c\" name=\"{n}\"{a}/>")
                } else {
                    format!("<testcase classname=\"c\" name=\"{n}\"{a}>{}</testcase>", kids.concat())
                }
            }
        ),
        1 => Just("<testsuite name=\"pytest\">".to_owned()),
        1 => Just("<testsuite name=\"inner\" tests=\"1\">".to_owned()),
        1 => Just("</testsuite>".to_owned()),
        1 => Just("<properties><property name=\"k\" value=\"v\"/></properties>".to_owned()),
        1 => Just("\n  ".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn generated_reports_are_declined_or_read_exactly(
        pieces in proptest::collection::vec(piece(), 0..24),
        decl in any::<bool>(),
    ) {
        let mut doc = String::new();
        if decl {
            doc.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        }
        doc.push_str("<testsuites><testsuite name=\"s\">");
        doc.push_str(&pieces.concat());
        doc.push_str("</testsuite></testsuites>\n");
        check(doc.as_bytes(), &doc);
    }

    #[test]
    fn damaged_reports_are_declined_or_read_exactly(
        pieces in proptest::collection::vec(piece(), 1..12),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let doc = format!("<testsuites><testsuite>{}</testsuite></testsuites>", pieces.concat());
        let mut bytes = doc.into_bytes();
        let i = at.index(bytes.len());
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] = byte;
        }
        check(&bytes, &String::from_utf8_lossy(&bytes));
    }
}
