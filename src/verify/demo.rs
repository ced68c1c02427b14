//! `proofgate demo`: the whole pipeline offline on an embedded example. Scripts with
//! headers, their tests' JUnit report, a throwaway key, a local directory standing in for
//! the artifact store: generate, sign, "upload", verify; then tamper with a script and
//! with a proof, and verify again.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::pipeline::{self, VerifyRequest};
use super::render;
use super::report::{Reason, Report, Verdict};
use crate::model::{self, Model};
use crate::proof::RunContext;
use crate::proof::generate::{self, GenerateReport, GenerateRequest, JunitInput};
use crate::sign::SigningKey;

/// The embedded example: path in the repository → contents.
pub const EXAMPLE: &[(&str, &str)] = &[
    (
        "scripts/backup_db.py",
        include_str!("../../tests/fixtures/gate/demo/scripts/backup_db.py"),
    ),
    (
        "scripts/rotate_logs.py",
        include_str!("../../tests/fixtures/gate/demo/scripts/rotate_logs.py"),
    ),
    (
        "scripts/lint_dns.py",
        include_str!("../../tests/fixtures/gate/demo/scripts/lint_dns.py"),
    ),
    (
        "tests/test_backup_db.py",
        include_str!("../../tests/fixtures/gate/demo/tests/test_backup_db.py"),
    ),
    (
        "tests/test_rotate_logs.py",
        include_str!("../../tests/fixtures/gate/demo/tests/test_rotate_logs.py"),
    ),
    (
        "tests/test_lint_dns.py",
        include_str!("../../tests/fixtures/gate/demo/tests/test_lint_dns.py"),
    ),
    (
        "test-results/junit.xml",
        include_str!("../../tests/fixtures/gate/demo/junit.xml"),
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
    Load(#[from] super::load::LoadError),
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

/// Runs the demo in `dir` (an empty directory), writing what a user would see to `out`.
/// Returns `true` when every step behaved as designed: the first gate passes, the
/// edited script fails with `SCRIPT_DIGEST_MISMATCH`, the edited proof with
/// `STATEMENT_MISMATCH`.
pub fn run(dir: &Path, now: DateTime<Utc>, out: &mut dyn Write) -> Result<bool, DemoError> {
    let o = |e: std::io::Error| DemoError::Io {
        path: PathBuf::from("<stdout>"),
        source: e,
    };
    let root = dir.join("repo");
    for (rel, text) in EXAMPLE {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, text).map_err(io(&p))?;
    }
    writeln!(
        out,
        "proofgate demo: the whole pipeline, offline, in {}\n",
        dir.display()
    )
    .map_err(o)?;

    // 1. A throwaway key, trusted by the repository.
    let (key, _) = SigningKey::generate()?;
    let cfg = root.join("proofgate.yaml");
    let yaml = format!(
        "# Trust the demo's throwaway key: every proof must carry its signature.\ntrusted_keys:\n  - name: demo\n    public_key: {}\n",
        key.public_key().to_base64()
    );
    std::fs::write(&cfg, yaml).map_err(io(&cfg))?;
    let (m, _) = Model::load(&root, &cfg, true)?;
    writeln!(
        out,
        "1. The repository has {} scripts with certification headers:",
        m.scripts.len()
    )
    .map_err(o)?;
    for s in &m.scripts {
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
        writeln!(
            out,
            "   {:<12} {:<24} evidence {:<8} impact {impact}",
            s.id.to_string(),
            s.path,
            ev
        )
        .map_err(o)?;
    }
    writeln!(
        out,
        "\n2. A throwaway signing key, trusted in proofgate.yaml: {}",
        key.key_id().as_str()
    )
    .map_err(o)?;

    // 2. Generate and sign.
    let proofs = dir.join("proofs");
    let junit = root.join("test-results/junit.xml");
    let g = generate_proofs(
        &m,
        std::slice::from_ref(&junit),
        Some(&key),
        &proofs,
        DEMO_COMMIT,
        now,
    )?;
    writeln!(
        out,
        "\n3. proofgate generate --junit test-results/junit.xml --signing-key-file demo.key"
    )
    .map_err(o)?;
    let width = g
        .proofs
        .iter()
        .map(|p| p.script_id.as_str().len())
        .max()
        .unwrap_or(0)
        + "proof-.json".len();
    for p in &g.proofs {
        writeln!(
            out,
            "   {:<width$}  {}  {} tests, {} passed  (signed: {})",
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
        )
        .map_err(o)?;
    }

    // 3. "Upload": a local directory stands in for the artifact store.
    let store = dir.join("artifact-store/proofgate-proofs");
    let n = copy_dir(&proofs, &store)?;
    writeln!(
        out,
        "\n4. Upload: {n} files copied to the local artifact store {}",
        store.display()
    )
    .map_err(o)?;

    // 4. Verify.
    let r1 = gate(&root, &store, DEMO_COMMIT, now)?;
    writeln!(out, "\n5. proofgate verify (exit {}):\n", exit_of(&r1)).map_err(o)?;
    write!(out, "{}", indent(&render::table(&r1))).map_err(o)?;

    // 5. Tamper with a script.
    let victim = root.join("scripts/backup_db.py");
    let mut text = std::fs::read_to_string(&victim).map_err(io(&victim))?;
    text = text.replace(
        "print(\"back up the database\")",
        "print(\"back up the database\")\n    drop_tables()  # sneaked in after the tests ran",
    );
    std::fs::write(&victim, text).map_err(io(&victim))?;
    let r2 = gate(&root, &store, DEMO_COMMIT, now)?;
    writeln!(out, "\n6. Someone edits scripts/backup_db.py after its proof was made; proofgate verify (exit {}):\n", exit_of(&r2)).map_err(o)?;
    write!(out, "{}", indent(&render::table(&r2))).map_err(o)?;

    // 6. Tamper with a proof: turn a FAIL-free proof's counts around by editing the JSON.
    let pf = store.join("proof-rotate-logs.json");
    let mut proof = std::fs::read_to_string(&pf).map_err(io(&pf))?;
    proof = proof.replacen("\"ci_run_id\": \"demo\"", "\"ci_run_id\": \"forged\"", 1);
    std::fs::write(&pf, proof).map_err(io(&pf))?;
    let r3 = gate(&root, &store, DEMO_COMMIT, now)?;
    writeln!(out, "\n7. Someone also edits proof-rotate-logs.json in the artifact store; proofgate verify (exit {}):\n", exit_of(&r3)).map_err(o)?;
    write!(out, "{}", indent(&render::table(&r3))).map_err(o)?;

    let ok = r1.verdict == Verdict::Pass
        && row_reason(&r2, "backup-db") == Some(Reason::ScriptDigestMismatch)
        && row_reason(&r3, "rotate-logs") == Some(Reason::StatementMismatch);
    writeln!(
        out,
        "\n{}",
        if ok {
            "The gate passed the honest run and caught both tampering attempts."
        } else {
            "UNEXPECTED: the demo did not behave as designed (see above)."
        }
    )
    .map_err(o)?;
    Ok(ok)
}

fn exit_of(r: &Report) -> u8 {
    match r.verdict {
        Verdict::Pass => 0,
        Verdict::Fail => 1,
    }
}
