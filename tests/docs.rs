//! The documentation is part of the product: the flag reference matches the binary, the
//! README stays short and user first, links resolve, every flag the docs name exists, and
//! every documented workflow gates with `if: always()` and least permissions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// README.md, every page under docs/ and benches/README.md, as (path, text).
fn pages() -> Vec<(String, String)> {
    let mut out = vec![
        ("README.md".to_owned(), read("README.md")),
        ("benches/README.md".to_owned(), read("benches/README.md")),
    ];
    let mut docs: Vec<_> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    for p in docs {
        let rel = p
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.push((rel.clone(), read(&rel)));
    }
    out
}

const BEGIN: &str = "<!-- BEGIN GENERATED: bash scripts/gen-cli-doc.sh -->";
const END: &str = "<!-- END GENERATED -->";

/// The text of a page without the generated flag reference of docs/cli.md.
fn hand_written(text: &str) -> String {
    match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{}", &text[..b], &text[e..]),
        _ => text.to_owned(),
    }
}

/// Fenced blocks of a Markdown text: (info string, body, line of the opening fence).
fn fenced(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some(block) => out.push(block),
                None => open = Some((info.trim().to_owned(), String::new(), i + 1)),
            }
        } else if let Some((_, body, _)) = open.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

#[test]
fn cli_reference_matches_the_binarys_help() {
    let o = Command::new("bash")
        .arg(root().join("scripts/gen-cli-doc.sh"))
        .arg("--check")
        .env("PROOFGATE", env!("CARGO_BIN_EXE_proofgate"))
        .current_dir(root())
        .output()
        .expect("bash runs");
    assert!(
        o.status.success(),
        "docs/cli.md does not match `proofgate --help`: run `bash scripts/gen-cli-doc.sh` and \
         commit docs/cli.md\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn cli_reference_covers_every_command() {
    let cli = read("docs/cli.md");
    let generated = &cli[cli.find(BEGIN).expect("markers")..];
    let help = Command::new(env!("CARGO_BIN_EXE_proofgate"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    for c in commands {
        assert!(
            generated.contains(&format!("### `proofgate {c}`")),
            "`proofgate {c}` is missing from the flag reference: run `bash scripts/gen-cli-doc.sh`"
        );
        assert!(
            hand_written(&cli).contains(&format!("`proofgate {c}")),
            "`proofgate {c}` has no hand-written section in docs/cli.md"
        );
    }
}

#[test]
fn readme_is_short_and_starts_with_the_two_commands() {
    let readme = read("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; reference belongs in docs/"
    );
    let head: String = readme.lines().take(30).collect::<Vec<_>>().join("\n");
    for cmd in ["cargo run --release -- demo", "bash scripts/test.sh"] {
        assert!(
            head.lines().any(|l| l.trim() == cmd),
            "`{cmd}` is not among the README's first 30 lines"
        );
    }
    let ci = read(".ci/run");
    assert!(
        ci.contains("scripts/test.sh"),
        ".ci/run no longer runs the README's command"
    );
    let quick = readme.find("## Quick start").expect("a quick start");
    let commands = readme.find("## Commands").expect("a command table");
    assert!(
        quick < commands,
        "the quick start comes before the reference"
    );
    assert!(readme.contains("## Exit codes"));
    assert!(readme.contains("serde_yaml_ng"), "say why not serde_yaml");
}

/// GitHub's heading anchor: lower case; letters, digits, `-` and `_` kept; spaces to `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// `](target)` links of a Markdown text outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

/// Pages linked from the docs that another part of the project writes.
const WRITTEN_ELSEWHERE: &[&str] = &[];

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut broken = Vec::new();
    for (page, text) in pages() {
        let dir = Path::new(&page).parent().unwrap().to_path_buf();
        for link in links(&hand_written(&text)) {
            if link.starts_with("http://") || link.starts_with("https://") {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((p, a)) => (p.to_owned(), Some(a.to_owned())),
                None => (link.clone(), None),
            };
            let target = if path.is_empty() {
                PathBuf::from(&page)
            } else {
                normalise(&dir.join(&path))
            };
            let target_s = target.to_string_lossy().into_owned();
            if WRITTEN_ELSEWHERE.contains(&target_s.as_str()) {
                continue;
            }
            if !root().join(&target).exists() {
                broken.push(format!("{page}: `{link}`: no file `{target_s}`"));
                continue;
            }
            if let Some(a) = anchor
                && target_s.ends_with(".md")
                && !anchors(&read(&target_s)).contains(&a)
            {
                broken.push(format!("{page}: `{link}`: no heading `#{a}` in {target_s}"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `a/b/../c` → `a/c` (no file-system access).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Long flags of other tools that the docs mention (pytest and its plugins, bats, cargo,
/// cargo-nextest, gh, curl, the bench scripts …).
const OTHER_TOOLS_FLAGS: &[&str] = &[
    "--body",
    "--check",
    "--cov",
    "--deselect",
    "--dry-run",
    "--exact",
    "--filter",
    "--filter-status",
    "--filter-tags",
    "--filterset",
    "--full",
    "--group",
    "--hypothesis-seed",
    "--ignore-missing",
    "--junit-prefix",
    "--junitxml",
    "--lf",
    "--lib",
    "--locked",
    "--package",
    "--partition",
    "--quick",
    "--randomly-seed",
    "--repo",
    "--rerun",
    "--rerun-fails",
    "--rootdir",
    "--rows",
    "--skip",
    "--splits",
    "--sw",
    "--test",
];

fn long_flags(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 2 < b.len() {
        let starts = b[i] == b'-'
            && b[i + 1] == b'-'
            && b[i + 2].is_ascii_lowercase()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-'));
        if starts {
            let mut j = i + 2;
            while j < b.len()
                && (b[j].is_ascii_lowercase() || b[j].is_ascii_digit() || b[j] == b'-')
            {
                j += 1;
            }
            out.insert(text[i..j].trim_end_matches('-').to_owned());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_flag_the_docs_name_exists() {
    let cli = read("docs/cli.md");
    let known = long_flags(&cli[cli.find(BEGIN).expect("markers")..]);
    assert!(known.contains("--merge-multiple"), "{known:?}");
    let mut unknown = Vec::new();
    for (page, text) in pages().into_iter().chain([
        ("action.yml".to_owned(), read("action.yml")),
        (
            "examples/certify.yml".to_owned(),
            read("examples/certify.yml"),
        ),
    ]) {
        for flag in long_flags(&hand_written(&text)) {
            if !known.contains(&flag) && !OTHER_TOOLS_FLAGS.contains(&flag.as_str()) {
                unknown.push(format!("{page}: `{flag}`"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "flags no proofgate command has (a renamed or removed flag?):\n{}",
        unknown.join("\n")
    );
}

/// Every workflow shown to users: examples/*.yml and the YAML blocks with `jobs:` in the
/// README and docs.
fn workflows() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root().join("examples")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            let text = std::fs::read_to_string(&p).unwrap();
            let doc =
                serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let rel = p.strip_prefix(root()).unwrap_or(&p).display().to_string();
            out.push((rel, doc));
        }
    }
    for (page, text) in pages() {
        for (info, body, line) in fenced(&text) {
            if info == "yaml" && body.contains("\njobs:") {
                let doc = serde_yaml_ng::from_str(&body)
                    .unwrap_or_else(|e| panic!("{page}:{line}: invalid YAML: {e}"));
                out.push((format!("{page}:{line}"), doc));
            }
        }
    }
    out
}

fn uses_proofgate(step: &serde_json::Value) -> bool {
    step["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with("proofgate/proofgate@") || u == "./")
}

#[test]
fn documented_workflows_gate_with_always_and_least_permissions() {
    let all = workflows();
    assert!(
        all.len() >= 3,
        "README, docs/action.md and examples/certify.yml: {all:?}"
    );
    for (place, wf) in &all {
        let perms = &wf["permissions"];
        assert!(perms.is_object(), "{place}: no top-level `permissions:`");
        for (k, v) in perms.as_object().unwrap() {
            assert!(
                v == "read" || v == "none",
                "{place}: top-level `{k}: {v}`; grant writes per job, only where needed"
            );
        }
        for (name, job) in wf["jobs"].as_object().unwrap() {
            let steps = job["steps"].as_array().cloned().unwrap_or_default();
            let verify = steps
                .iter()
                .any(|s| uses_proofgate(s) && s["with"]["mode"] == "verify");
            if verify {
                assert!(
                    job["needs"].is_string() || job["needs"].is_array(),
                    "{place}: job `{name}` gates without `needs:` on the test jobs"
                );
                let cond = job["if"].as_str().unwrap_or_default();
                assert!(
                    cond.contains("always()"),
                    "{place}: job `{name}` gates without `if: always()`: a skipped required \
                     check counts as passed"
                );
            }
            for s in &steps {
                if uses_proofgate(s) && s["with"]["mode"].is_null() {
                    assert!(
                        s["if"].as_str().unwrap_or_default().contains("always()"),
                        "{place}: job `{name}`: the generate step must run `if: always()` so \
                         failed tests still produce proofs"
                    );
                    assert!(
                        s["with"]["name"].is_null() && s["with"]["shard"].is_null(),
                        "{place}: job `{name}`: the Action names matrix legs itself"
                    );
                }
                let run = s["run"].as_str().unwrap_or_default();
                if run.contains("--splits") {
                    let installs = steps.iter().any(|t| {
                        t["run"].as_str().is_some_and(|r| {
                            r.contains("pip install") && r.contains("pytest-split")
                        })
                    });
                    assert!(
                        installs,
                        "{place}: job `{name}` uses pytest-split without installing it"
                    );
                }
            }
        }
    }
}

#[test]
fn slugs_follow_githubs_rule() {
    assert_eq!(slug(" `proofgate verify`"), "proofgate-verify");
    assert_eq!(slug(" Proof: `proof-<ID>.json`"), "proof-proof-idjson");
    assert_eq!(
        slug(" Certification model (`lint`, `matrix`)"),
        "certification-model-lint-matrix"
    );
}
