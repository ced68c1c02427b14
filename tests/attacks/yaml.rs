//! Finding 8: a header of deeply nested flow sequences made the YAML parser spend
//! quadratic time (128 KB: 14–24 s, 200 KB: over a minute). Size and depth are checked
//! before parsing; the answer is a clear error at the header's position.

use crate::helpers::{proofgate, repo, text};

fn nested_header(bytes: usize) -> String {
    let open = "[".repeat(bytes);
    format!("#!/usr/bin/env bash\n# ---\n# id: x\n# owner: {open}\n# ---\necho ok\n")
}

fn lint_says(script: &str) -> String {
    let r = repo(&[("scripts/x.sh", script)]);
    let o = proofgate(r.path(), &["lint"], &[]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    out
}

#[test]
fn finding_8_a_128_kb_nested_header_is_refused_before_parsing() {
    let out = lint_says(&nested_header(128 * 1024));
    assert!(
        out.contains("scripts/x.sh:2:1: the header is") && out.contains("[yaml-too-large]"),
        "{out}"
    );
}

#[test]
fn finding_8_a_200_kb_nested_header_is_refused_before_parsing() {
    let out = lint_says(&nested_header(200 * 1024));
    assert!(out.contains("[yaml-too-large]"), "{out}");
}

#[test]
fn finding_8_a_nested_header_under_the_size_limit_is_refused_for_its_depth() {
    let out = lint_says(&nested_header(60 * 1024));
    let line = out
        .lines()
        .find(|l| l.contains("[yaml-too-deep]"))
        .unwrap_or_else(|| panic!("{out}"));
    // Line 4 of the file, at the bracket that went too deep (after `# owner: `).
    assert!(line.contains("scripts/x.sh:4:"), "{line}");
    assert!(line.contains("64 levels"), "{line}");
}

#[test]
fn finding_8_a_deeply_nested_proofgate_yaml_is_a_configuration_error() {
    let yaml = format!("policy: {}\n", "{a: ".repeat(50_000));
    let r = repo(&[("proofgate.yaml", &yaml)]);
    let o = proofgate(r.path(), &["lint"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("64 levels"), "{err}");
}
