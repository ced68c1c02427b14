//! `benches/rows.py`, the table and regression check behind `benches/run.sh`, fed the
//! committed row tables in `tests/fixtures/benches/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/benches")
        .join(name)
}

/// Runs `python3 benches/rows.py ARGS`; python3 is required (scripts/setup.sh installs it).
fn rows(args: &[&str]) -> Output {
    Command::new("python3")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("benches/rows.py")
        .args(args)
        .output()
        .expect("python3 is required by the bench tools (scripts/setup.sh)")
}

fn check(now: &str) -> (i32, String) {
    let base = fixture("baseline.tsv");
    let now = fixture(now);
    let o = rows(&["check", base.to_str().unwrap(), now.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

#[test]
fn check_passes_ratios_that_fell_by_less_than_half() {
    let (code, text) = check("slower.tsv");
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("REGRESSED"), "{text}");
    assert!(
        text.contains("no ratio regressed by more than 2×"),
        "{text}"
    );
}

#[test]
fn check_fails_a_ratio_that_fell_by_more_than_half_and_reports_rows_on_one_side() {
    let (code, text) = check("regressed.tsv");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "REGRESSED: manifest 2k files 20 MB: vs find | xargs -P2 sha256sum: ratio 1.71× < 4.00× / 2"
        ),
        "{text}"
    );
    assert_eq!(text.matches("REGRESSED").count(), 1, "{text}");
    assert!(
        text.contains("missing from this run: lint + matrix 0.5k scripts"),
        "{text}"
    );
    assert!(
        text.contains("new (not in the baseline): store put 1k objects"),
        "{text}"
    );
}

#[test]
fn check_refuses_a_row_that_breaks_the_protocol() {
    let (code, text) = check("malformed.tsv");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is not a number followed by ×"), "{text}");
}

#[test]
fn table_prints_one_markdown_row_per_line_with_pipes_escaped() {
    let o = rows(&["table", fixture("baseline.tsv").to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "| path | figure | anchor | ratio | target | met/missed |"
    );
    assert_eq!(lines.len(), 2 + 3);
    assert_eq!(
        lines[3],
        "| manifest 2k files 20 MB: vs find \\| xargs -P2 sha256sum | 0.030 s | find\\|xargs 0.120 s | 4.00× | ≥ 3× | met |"
    );
    assert!(lines[2].ends_with("| **missed** |"));
}

#[test]
fn the_committed_quick_baseline_follows_the_protocol() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/baseline.tsv");
    let o = rows(&["check", base.to_str().unwrap(), base.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
