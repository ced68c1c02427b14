//! `proofgate generate`: JUnit results + the certification model → one proof per
//! script (and a signed DSSE envelope per proof when a key is given).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use proofgate::bundle::git;
use proofgate::github::{
    Annotation, Level, RunnerEnv, SUMMARY_LIMIT, SummaryTable, append_to, render_summary,
};
use proofgate::junit::{self, FileReport, ParseOptions, Status, TestCase};
use proofgate::model::{Model, Severity, map_cases};
use proofgate::proof::context::RunContext;
use proofgate::proof::generate::{
    self as gen_core, GenerateReport, GenerateRequest, JunitInput, OutputMode,
};
use proofgate::proof::record::Verdict;

use super::format::Format;
use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// JUnit XML files or globs (`**` crosses directories), relative to the root.
    #[arg(long, value_name = "GLOB", required = true, num_args = 1..)]
    pub junit: Vec<String>,
    /// Where to write `proof-<ID>.json` (relative to the root).
    #[arg(long, value_name = "DIR", default_value = "test-results/proofs")]
    pub out: PathBuf,
    /// Report format: `table` prints only the summary table (on stderr); `json` also writes
    /// a JSON report on stdout.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub key: super::key::KeyArgs,
    /// The commit under test [default: `GITHUB_SHA`, else `git rev-parse HEAD` of the
    /// root].
    #[arg(long, value_name = "SHA")]
    pub commit: Option<String>,
    /// The CI run id [default: `GITHUB_RUN_ID`].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// The repository, `owner/name` [default: `GITHUB_REPOSITORY`].
    #[arg(long, value_name = "OWNER/NAME")]
    pub repository: Option<String>,
    /// Pin `generated_at` (RFC 3339) [default: `SOURCE_DATE_EPOCH` if set, else now].
    #[arg(long, value_name = "TIME")]
    pub generated_at: Option<String>,
    /// This matrix leg or shard [env: PROOFGATE_SHARD]. Proofs become partial evidence
    /// named `proof-<ID>@<SHARD>.json`; scripts without tests in this shard get none, and
    /// the gate combines the shards' proofs.
    #[arg(long, value_name = "NAME")]
    pub shard: Option<String>,
    /// A seed the tests ran with, `NAME=VALUE` (e.g. `pytest-randomly=12345`,
    /// `PYTHONHASHSEED=0`); repeatable. Recorded in each proof's `context.seeds` and part of
    /// every test's descriptor hash, so that a replay can run with the same seeds.
    #[arg(long = "seed", value_name = "NAME=VALUE", value_parser = parse_seed_arg)]
    pub seeds: Vec<(String, String)>,
    /// Append a Markdown job summary (per script: verdict, counts, first failing tests) to
    /// FILE [default: `GITHUB_STEP_SUMMARY`, when set].
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Print the time spent in each phase (model, parse, map, hash, build+sign+write) to
    /// stderr.
    #[arg(long)]
    pub timings: bool,
}

fn parse_seed_arg(text: &str) -> Result<(String, String), String> {
    proofgate::proof::context::parse_seed(text).map_err(|e| e.to_string())
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let env = |k: &str| std::env::var(k).ok();
    let started = Instant::now();

    let generated_at = pinned_time(args.generated_at.as_deref(), env("SOURCE_DATE_EPOCH"))?;
    let key = args.key.load(env)?;

    let t = Instant::now();
    let (config, required) = global.config_path();
    let (model, findings) = Model::load(&global.root, &config, required).or_usage()?;
    let model_load = t.elapsed();
    for f in findings.iter().filter(|f| f.severity == Severity::Error) {
        eprintln!("warning: {f}");
    }

    let t = Instant::now();
    let files = junit::expand_inputs(&global.root, &args.junit).or_usage()?;
    let reports = parse_all(&files)?;
    let parse = t.elapsed();
    let junit = JunitInput::from_reports(reports);

    let mut context = RunContext::from_env(env).with_overrides(
        args.commit.clone(),
        args.run_id.clone(),
        args.repository.clone(),
    );
    if context.sha.is_none() {
        // Outside Actions: the commit checked out, when the root is in a git work tree.
        context.sha = git::resolve(&global.root, "HEAD").ok().flatten();
    }
    let mut context = super::apply_shard(context, args.shard.as_deref())?;
    context.seeds.extend(args.seeds.iter().cloned());
    let out_dir = global.root.join(&args.out);
    let report = gen_core::generate(&GenerateRequest {
        model: &model,
        junit: &junit,
        context: &context,
        generated_at,
        key: key.as_ref(),
        out_dir: &out_dir,
    })
    .map_err(CliError::classified)?;

    print_table(&report, &out_dir, junit.cases.len());
    let runner = RunnerEnv::from_lookup(env);
    if runner.in_actions {
        for a in actions_warnings(&report) {
            // stdout carries the workflow commands unless it carries the JSON report.
            if args.format == Format::Json {
                eprintln!("{a}");
            } else {
                println!("{a}");
            }
        }
    }
    if let Some(path) = args.summary.as_ref().or(runner.step_summary.as_ref()) {
        let text = summary_markdown(&report, &model, &junit.cases, SUMMARY_LIMIT);
        append_to(path, &text)
            .map_err(anyhow::Error::new)
            .io_context(format!(
                "cannot write the job summary to `{}`",
                path.display()
            ))?;
    }
    if args.timings {
        print_timings(&report, model_load, parse, started.elapsed());
    }
    if args.format == Format::Json {
        let s = serde_json::to_string_pretty(&report).or_io()?;
        println!("{s}");
    }
    Ok(if report.all_pass() {
        Outcome::Yes
    } else {
        Outcome::No
    })
}

/// `--generated-at`, else `SOURCE_DATE_EPOCH`, else now.
fn pinned_time(flag: Option<&str>, epoch: Option<String>) -> Result<DateTime<Utc>, CliError> {
    if let Some(s) = flag {
        return DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| CliError::usage(anyhow!("`--generated-at {s}` is not RFC 3339: {e}")));
    }
    if let Some(s) = epoch.filter(|s| !s.trim().is_empty()) {
        return s
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| {
                CliError::usage(anyhow!(
                    "`SOURCE_DATE_EPOCH={s}` is not a number of seconds since 1970"
                ))
            });
    }
    Ok(Utc::now())
}

/// Parses every file, several at a time; the first error (in file order) wins.
fn parse_all(files: &[PathBuf]) -> Result<Vec<FileReport>, CliError> {
    junit::read_files(files, &ParseOptions::default())
        .into_iter()
        .map(|r| r.map_err(CliError::usage))
        .collect()
}

fn print_table(report: &GenerateReport, out_dir: &std::path::Path, cases: usize) {
    let width = report
        .proofs
        .iter()
        .map(|p| p.script_id.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut s = format!(
        "{:<width$}  {:>6}  {:>6}  {:>6}  {:>7}  {:>5}  VERDICT\n",
        "SCRIPT", "TESTS", "PASSED", "FAILED", "SKIPPED", "FLAKY"
    );
    for p in &report.proofs {
        let reasons = if p.reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.reasons.join(", "))
        };
        s.push_str(&format!(
            "{:<width$}  {:>6}  {:>6}  {:>6}  {:>7}  {:>5}  {}{}\n",
            p.script_id,
            p.tests,
            p.passed,
            p.failed,
            p.skipped,
            p.flaky,
            p.verdict.as_str(),
            reasons
        ));
    }
    let pass = report
        .proofs
        .iter()
        .filter(|p| p.verdict == Verdict::Pass)
        .count();
    s.push_str(&format!(
        "{} proof(s): {} PASS, {} FAIL, from {} test case(s); written to `{}`",
        report.proofs.len(),
        pass,
        report.proofs.len() - pass,
        cases,
        out_dir.display()
    ));
    match &report.key_id {
        Some(k) => s.push_str(&format!("; signed by key {k}\n")),
        None => s.push_str("; not signed (no key)\n"),
    }
    if report.proofs.is_empty() {
        s.push_str("warning: no script has evidence `ci` or `declared`: nothing to prove\n");
    }
    eprint!("{s}");
}

/// How many failing tests the summary names per script.
const FAILING_SHOWN: usize = 5;

/// The job summary: failing scripts first (with their first failing tests), passing ones
/// collapsed. Script ids, paths and test names come from the change under test: they go
/// in table cells, which [`render_summary`] escapes.
fn summary_markdown(
    report: &GenerateReport,
    model: &Model,
    cases: &[TestCase],
    limit: usize,
) -> String {
    let pass = report
        .proofs
        .iter()
        .filter(|p| p.verdict == Verdict::Pass)
        .count();
    let signed = match &report.key_id {
        Some(k) => format!("signed by key `{k}`"),
        None => "**not signed**: no signing key was given, and a gate that trusts a key denies unsigned proofs".to_owned(),
    };
    let intro = if report.proofs.is_empty() {
        format!(
            "**No proof written**: no script has evidence `ci` or `declared` ({} test case(s) read).",
            cases.len()
        )
    } else {
        format!(
            "{} proof(s): {pass} PASS, {} FAIL, from {} test case(s); {signed}.",
            report.proofs.len(),
            report.proofs.len() - pass,
            cases.len()
        )
    };
    let failing = report.proofs.iter().any(|p| p.verdict != Verdict::Pass);
    let mapping = failing.then(|| map_cases(model, cases));
    let header = |extra: bool| {
        let mut h: Vec<String> = ["script", "verdict", "tests", "passed", "failed", "skipped"]
            .map(str::to_owned)
            .to_vec();
        if extra {
            h.push("first failing tests".to_owned());
        }
        h
    };
    let mut failures = SummaryTable {
        header: header(true),
        rows: Vec::new(),
    };
    let mut passes = SummaryTable {
        header: header(false),
        rows: Vec::new(),
    };
    for p in &report.proofs {
        let mut row = vec![
            format!("{} ({})", p.script_id, p.script_path),
            p.verdict.as_str().to_owned(),
            p.tests.to_string(),
            p.passed.to_string(),
            p.failed.to_string(),
            p.skipped.to_string(),
        ];
        if p.verdict == Verdict::Pass {
            passes.rows.push(row);
            continue;
        }
        let failed: Vec<&TestCase> = mapping
            .as_ref()
            .and_then(|m| m.scripts.iter().find(|(id, _)| id.as_str() == p.script_id))
            .map(|(_, sm)| {
                sm.cases
                    .iter()
                    .filter_map(|&i| cases.get(i))
                    .filter(|c| matches!(c.status, Status::Failed | Status::Error))
                    .collect()
            })
            .unwrap_or_default();
        let mut names: Vec<String> = failed
            .iter()
            .take(FAILING_SHOWN)
            .map(|c| test_name(c))
            .collect();
        if failed.len() > FAILING_SHOWN {
            names.push(format!("(and {} more)", failed.len() - FAILING_SHOWN));
        }
        if names.is_empty() {
            names.push(p.reasons.join(", "));
        }
        row.push(names.join("\n"));
        failures.rows.push(row);
    }
    render_summary("proofgate generate", &intro, &failures, &passes, &[], limit)
}

/// A test as pytest names it: `file::name`, else `classname::name`.
fn test_name(c: &TestCase) -> String {
    let place = c.file.as_deref().unwrap_or(&c.classname);
    if place.is_empty() {
        c.name.clone()
    } else {
        format!("{place}::{}", c.name)
    }
}

/// The run's warnings as annotations: nothing signed, or nothing to prove.
fn actions_warnings(report: &GenerateReport) -> Vec<Annotation> {
    let mut out = Vec::new();
    if report.proofs.is_empty() {
        out.push(Annotation {
            title: Some("proofgate: nothing to prove".to_owned()),
            ..Annotation::new(
                Level::Warning,
                "no script has evidence `ci` or `declared`, so no proof was written: give each script a header (`proofgate init --script PATH`) and run `proofgate lint`",
            )
        });
    } else if report.key_id.is_none() {
        out.push(Annotation {
            title: Some("proofgate: proofs not signed".to_owned()),
            ..Annotation::new(
                Level::Warning,
                "no signing key: the proofs are not signed, and a gate that trusts a key denies them (SIGNATURE_MISSING). Set the `PROOFGATE_SIGNING_KEY` secret (`gh secret set PROOFGATE_SIGNING_KEY < .proofgate/signing-key.pem`) and pass it as the Action's `signing-key`; a pull request from a fork gets no secrets",
            )
        });
    }
    out
}

fn print_timings(report: &GenerateReport, model: Duration, parse: Duration, total: Duration) {
    let t = &report.timings;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "timings (ms, wall): model {:.1}  parse {:.1}  map {:.1}  hash {:.1}  build+sign+write {:.1} (summed over workers: build {:.1}, sign {:.1}, write {:.1}; {} output)  total {:.1}",
        ms(model),
        ms(parse),
        ms(t.map),
        ms(t.hash),
        ms(t.build_sign_wall),
        ms(t.build),
        ms(t.sign),
        ms(t.write),
        match report.mode {
            OutputMode::Fresh => "fresh",
            OutputMode::Replace => "replaced",
        },
        ms(total)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proofgate::digest::Sha256Digest;
    use proofgate::proof::generate::{ProofOutcome, Timings};

    const HEADER: &str = "#!/bin/sh\n# ---\n# id: count\n# type: script\n# owner: platform-team\n# status: active\n# test:\n#   runner: pytest\n#   command: \"pytest tests/test_count.py\"\n#   evidence: ci\n# dry_run:\n#   supported: false\n# risk_profile:\n#   production_impact: low\n#   security_risk: low\n#   coupling_risk: low\n# ---\n";

    fn model() -> (tempfile::TempDir, Model) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
        std::fs::create_dir_all(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("scripts/count.sh"), HEADER).unwrap();
        std::fs::write(dir.path().join("tests/test_count.py"), "").unwrap();
        let (m, _) = Model::load(dir.path(), &dir.path().join("proofgate.yaml"), false).unwrap();
        (dir, m)
    }

    fn case(name: &str, status: Status) -> TestCase {
        TestCase {
            file: Some("tests/test_count.py".into()),
            classname: "tests.test_count".into(),
            name: name.into(),
            status,
            attempts: 1,
            duration: 0.0,
            line: None,
            message: None,
        }
    }

    fn report(verdict: Verdict, key: Option<&str>) -> GenerateReport {
        GenerateReport {
            proofs: vec![ProofOutcome {
                script_id: "count".into(),
                script_path: "scripts/count.sh".into(),
                verdict,
                reasons: vec![],
                tests: 8,
                passed: 1,
                failed: 7,
                skipped: 0,
                flaky: 0,
                proof: PathBuf::from("proof-count.json"),
                proof_digest: Sha256Digest::of(b""),
                envelope: None,
            }],
            key_id: key.map(str::to_owned),
            sources: vec![],
            mode: OutputMode::Fresh,
            timings: Timings::default(),
        }
    }

    #[test]
    fn the_summary_names_the_first_failing_tests_escaped() {
        let (_d, m) = model();
        let mut cases = vec![
            case("test_ok", Status::Passed),
            case("test_<img src=x>|[link](http://evil)", Status::Failed),
        ];
        for i in 0..6 {
            cases.push(case(&format!("test_err{i}"), Status::Error));
        }
        let s = summary_markdown(
            &report(Verdict::Fail, Some("k1")),
            &m,
            &cases,
            SUMMARY_LIMIT,
        );
        assert!(
            s.contains("1 proof(s): 0 PASS, 1 FAIL, from 8 test case(s); signed by key `k1`."),
            "{s}"
        );
        assert!(
            s.contains("| count (scripts/count.sh) | FAIL | 8 | 1 | 7 | 0 |"),
            "{s}"
        );
        assert!(
            s.contains(
                "tests/test_count.py::test\\_&lt;img src=x&gt;\\|\\[link\\](http://evil)<br>"
            ),
            "{s}"
        );
        assert!(!s.contains("<img") && !s.contains("test_ok"), "{s}");
        assert!(s.contains("test_err3<br>(and 2 more) |"), "{s}");
    }

    #[test]
    fn an_unsigned_run_says_so_in_the_summary_and_in_a_warning() {
        let (_d, m) = model();
        let r = report(Verdict::Pass, None);
        let s = summary_markdown(&r, &m, &[case("test_ok", Status::Passed)], SUMMARY_LIMIT);
        assert!(s.contains("**not signed**"), "{s}");
        assert!(s.contains("<details><summary>1 passing</summary>"), "{s}");
        let w = actions_warnings(&r);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].to_string()
                .starts_with("::warning title=proofgate%3A proofs not signed::")
        );
        assert!(actions_warnings(&report(Verdict::Pass, Some("k"))).is_empty());
        let empty = GenerateReport {
            proofs: vec![],
            key_id: None,
            sources: vec![],
            mode: OutputMode::Fresh,
            timings: Timings::default(),
        };
        assert!(
            actions_warnings(&empty)[0]
                .message
                .contains("no proof was written")
        );
        assert!(summary_markdown(&empty, &m, &[], SUMMARY_LIMIT).contains("**No proof written**"));
    }
}
