//! `proofgate demo`: the whole pipeline offline on an embedded example. Scripts with
//! headers, their tests' JUnit report, a throwaway key, a local directory standing in for
//! the artifact store: generate, sign, "upload", verify; then tamper with a script and
//! with a proof, and verify again.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::model::{self, Model};
use crate::proof::RunContext;
use crate::proof::generate::{self, GenerateReport, GenerateRequest, JunitInput};
use crate::sign::SigningKey;
use crate::verify::pipeline::{self, VerifyRequest};
use crate::verify::render;
use crate::verify::report::{Reason, Report, Verdict};

/// The embedded example: path in the repository → contents.
pub const EXAMPLE: &[(&str, &str)] = &[
    (
        "scripts/backup_db.py",
        include_str!("../tests/fixtures/gate/demo/scripts/backup_db.py"),
    ),
    (
        "scripts/rotate_logs.py",
        include_str!("../tests/fixtures/gate/demo/scripts/rotate_logs.py"),
    ),
    (
        "scripts/lint_dns.py",
        include_str!("../tests/fixtures/gate/demo/scripts/lint_dns.py"),
    ),
    (
        "tests/test_backup_db.py",
        include_str!("../tests/fixtures/gate/demo/tests/test_backup_db.py"),
    ),
    (
        "tests/test_rotate_logs.py",
        include_str!("../tests/fixtures/gate/demo/tests/test_rotate_logs.py"),
    ),
    (
        "tests/test_lint_dns.py",
        include_str!("../tests/fixtures/gate/demo/tests/test_lint_dns.py"),
    ),
    (
        "test-results/junit.xml",
        include_str!("../tests/fixtures/gate/demo/junit.xml"),
    ),
];

/// The commit the demo pretends to test.
pub const DEMO_COMMIT: &str = "d3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0";

/// Why the demo (or generating proofs) could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file could not be written or read.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The model did not load.
    #[error(transparent)]
    Model(#[from] model::ModelError),
    /// A JUnit file did not parse.
    #[error(transparent)]
    Junit(#[from] crate::junit::JunitError),
    /// Generating proofs failed.
    #[error(transparent)]
    Generate(#[from] generate::GenerateError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    /// The proofs could not be read back.
    #[error(transparent)]
    Load(#[from] crate::verify::load::LoadError),
    /// A trusted key is malformed.
    #[error(transparent)]
    Verify(#[from] pipeline::VerifyError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Generates a proof per `ci`/`declared` script of `model` from `junit` files, signed
/// with `key` when given, into `out_dir`.
pub fn generate_proofs(
    model: &Model,
    junit: &[PathBuf],
    key: Option<&SigningKey>,
    out_dir: &Path,
    commit: &str,
    now: DateTime<Utc>,
) -> Result<GenerateReport, DemoError> {
    let mut reports = Vec::new();
    for j in junit {
        reports.push(crate::junit::read_file(
            j,
            &crate::junit::ParseOptions::default(),
        )?);
    }
    let junit = JunitInput::from_reports(reports);
    let context = RunContext::from_env(|_| None).with_overrides(
        Some(commit.to_owned()),
        Some("demo".to_owned()),
        Some("example/scripts".to_owned()),
    );
    Ok(generate::generate(&GenerateRequest {
        model,
        junit: &junit,
        context: &context,
        generated_at: now,
        key,
        out_dir,
    })?)
}

/// Runs the gate on `root` with the proofs under `proofs`.
pub fn gate(
    root: &Path,
    proofs: &Path,
    commit: &str,
    now: DateTime<Utc>,
) -> Result<Report, DemoError> {
    let config = root.join("proofgate.yaml");
    let verified = pipeline::verify(&VerifyRequest {
        root,
        config: &config,
        config_required: false,
        base: None,
        extra_keys: &[],
        force_signatures: false,
        proofs,
        commit: Some(commit),
        repository: None,
        release: false,
        now,
        lock: None,
    })?;
    Ok(verified.report)
}

fn copy_dir(from: &Path, to: &Path) -> Result<usize, DemoError> {
    std::fs::create_dir_all(to).map_err(io(to))?;
    let mut n = 0;
    for e in std::fs::read_dir(from).map_err(io(from))? {
        let e = e.map_err(io(from))?;
        let dst = to.join(e.file_name());
        std::fs::copy(e.path(), &dst).map_err(io(&dst))?;
        n += 1;
    }
    Ok(n)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("    {l}\n")
            }
        })
        .collect()
}

fn row_reason(r: &Report, id: &str) -> Option<Reason> {
    r.scripts.iter().find(|s| s.id == id).map(|s| s.reason)
}

fn exit_of(r: &Report) -> u8 {
    match r.verdict {
        Verdict::Pass => 0,
        Verdict::Fail => 1,
    }
}

/// Where the demo shows what a user would see; a failed write is a [`DemoError::Io`].
struct Screen<'a>(&'a mut dyn Write);

impl Screen<'_> {
    fn print(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), DemoError> {
        self.0.write_fmt(args).map_err(|source| DemoError::Io {
            path: PathBuf::from("<stdout>"),
            source,
        })
    }

    /// A report's table, indented under its step.
    fn table(&mut self, report: &Report) -> Result<(), DemoError> {
        self.print(format_args!("{}", indent(&render::table(report))))
    }
}

/// Runs the demo in `dir` (an empty directory), writing what a user would see to `out`.
/// Returns `true` when every step behaved as designed: the first gate passes, the
/// edited script fails with `SCRIPT_DIGEST_MISMATCH`, the edited proof with
/// `STATEMENT_MISMATCH`.
pub fn run(dir: &Path, now: DateTime<Utc>, out: &mut dyn Write) -> Result<bool, DemoError> {
    let mut screen = Screen(out);
    let root = write_example(dir)?;
    screen.print(format_args!(
        "proofgate demo: the whole pipeline, offline, in {}\n\n",
        dir.display()
    ))?;

    // 1. A throwaway key, trusted by the repository.
    let (key, model) = trust_a_throwaway_key(&root)?;
    show_scripts(&mut screen, &model)?;
    screen.print(format_args!(
        "\n2. A throwaway signing key, trusted in proofgate.yaml: {}\n",
        key.key_id().as_str()
    ))?;

    // 2. Generate and sign, as `proofgate generate` does.
    let proofs = dir.join("proofs");
    let junit = root.join("test-results/junit.xml");
    let generated = generate_proofs(
        &model,
        std::slice::from_ref(&junit),
        Some(&key),
        &proofs,
        DEMO_COMMIT,
        now,
    )?;
    show_proofs(&mut screen, &generated)?;

    // 3. "Upload": a local directory stands in for the artifact store.
    let store = dir.join("artifact-store/proofgate-proofs");
    let n = copy_dir(&proofs, &store)?;
    screen.print(format_args!(
        "\n4. Upload: {n} files copied to the local artifact store {}\n",
        store.display()
    ))?;

    // 4. Verify, as `proofgate verify` does.
    let honest = gate(&root, &store, DEMO_COMMIT, now)?;
    screen.print(format_args!(
        "\n5. proofgate verify (exit {}):\n\n",
        exit_of(&honest)
    ))?;
    screen.table(&honest)?;

    // 5. Tamper with a script.
    edit_script(&root)?;
    let edited_script = gate(&root, &store, DEMO_COMMIT, now)?;
    screen.print(format_args!("\n6. Someone edits scripts/backup_db.py after its proof was made; proofgate verify (exit {}):\n\n", exit_of(&edited_script)))?;
    screen.table(&edited_script)?;

    // 6. Tamper with a proof.
    edit_proof(&store)?;
    let edited_proof = gate(&root, &store, DEMO_COMMIT, now)?;
    screen.print(format_args!("\n7. Someone also edits proof-rotate-logs.json in the artifact store; proofgate verify (exit {}):\n\n", exit_of(&edited_proof)))?;
    screen.table(&edited_proof)?;

    let ok = honest.verdict == Verdict::Pass
        && row_reason(&edited_script, "backup-db") == Some(Reason::ScriptDigestMismatch)
        && row_reason(&edited_proof, "rotate-logs") == Some(Reason::StatementMismatch);
    screen.print(format_args!(
        "\n{}\n",
        if ok {
            "The gate passed the honest run and caught both tampering attempts."
        } else {
            "UNEXPECTED: the demo did not behave as designed (see above)."
        }
    ))?;
    Ok(ok)
}

/// Writes the embedded example under `dir/repo` and returns that root.
fn write_example(dir: &Path) -> Result<PathBuf, DemoError> {
    let root = dir.join("repo");
    for (rel, text) in EXAMPLE {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, text).map_err(io(&p))?;
    }
    Ok(root)
}

/// Makes a throwaway key, trusts it in the example's `proofgate.yaml`, and loads the
/// model that results.
fn trust_a_throwaway_key(root: &Path) -> Result<(SigningKey, Model), DemoError> {
    let (key, _) = SigningKey::generate()?;
    let cfg = root.join("proofgate.yaml");
    let yaml = format!(
        "# Trust the demo's throwaway key: every proof must carry its signature.\ntrusted_keys:\n  - name: demo\n    public_key: {}\n",
        key.public_key().to_base64()
    );
    std::fs::write(&cfg, yaml).map_err(io(&cfg))?;
    let (model, _) = Model::load(root, &cfg, true)?;
    Ok((key, model))
}

/// Step 1: the scripts, their evidence and their impact.
fn show_scripts(screen: &mut Screen<'_>, model: &Model) -> Result<(), DemoError> {
    screen.print(format_args!(
        "1. The repository has {} scripts with certification headers:\n",
        model.scripts.len()
    ))?;
    for s in &model.scripts {
        let impact = s
            .header
            .risk_profile
            .as_ref()
            .and_then(|r| r.production_impact)
            .map(|i| format!("{i:?}").to_lowercase())
            .unwrap_or_else(|| "-".into());
        let ev = s
            .evidence
            .map(|e| format!("{e:?}").to_lowercase())
            .unwrap_or_else(|| "-".into());
        screen.print(format_args!(
            "   {:<12} {:<24} evidence {:<8} impact {impact}\n",
            s.id.to_string(),
            s.path,
            ev
        ))?;
    }
    Ok(())
}

/// Step 3: a proof a line, with its verdict and envelope.
fn show_proofs(screen: &mut Screen<'_>, generated: &GenerateReport) -> Result<(), DemoError> {
    screen.print(format_args!(
        "\n3. proofgate generate --junit test-results/junit.xml --signing-key-file demo.key\n"
    ))?;
    let width = generated
        .proofs
        .iter()
        .map(|p| p.script_id.as_str().len())
        .max()
        .unwrap_or(0)
        + "proof-.json".len();
    for p in &generated.proofs {
        screen.print(format_args!(
            "   {:<width$}  {}  {} tests, {} passed  (signed: {})\n",
            format!("proof-{}.json", p.script_id),
            serde_json::to_value(p.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            p.tests,
            p.passed,
            if p.envelope.is_some() {
                "proof-".to_owned() + &p.script_id + ".dsse.json"
            } else {
                "no".into()
            }
        ))?;
    }
    Ok(())
}

/// Sneaks a line into `scripts/backup_db.py` after its proof was made.
fn edit_script(root: &Path) -> Result<(), DemoError> {
    let victim = root.join("scripts/backup_db.py");
    let text = std::fs::read_to_string(&victim).map_err(io(&victim))?;
    let text = text.replace(
        "print(\"back up the database\")",
        "print(\"back up the database\")\n    drop_tables()  # sneaked in after the tests ran",
    );
    std::fs::write(&victim, text).map_err(io(&victim))
}

/// Edits a signed proof in the artifact store: its run id no longer matches the
/// signed statement.
fn edit_proof(store: &Path) -> Result<(), DemoError> {
    let pf = store.join("proof-rotate-logs.json");
    let proof = std::fs::read_to_string(&pf).map_err(io(&pf))?;
    let proof = proof.replacen("\"ci_run_id\": \"demo\"", "\"ci_run_id\": \"forged\"", 1);
    std::fs::write(&pf, proof).map_err(io(&pf))
}
