//! Random small repositories for the generate → verify property, shared by the
//! property test (`tests/trust/property.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/trust.rs`): a byte string drives every choice (a choice
//! sequence), so proptest shrinks it and libFuzzer mutates it.
//!
//! A scenario is a repository — scripts with headers whose `test.command` names test
//! files, test folders (nested, with data and hidden files) and pytest node ids — a
//! JUnit report in which every test passes, and one edit made after the proofs were
//! generated: a script byte, a test file byte, a file added to a test folder, a case
//! flipped to failed (the proofs are then generated again from the flipped report), a
//! proof byte, a deleted proof or a deleted envelope. [`run`] generates signed proofs
//! and runs the gate with the signing key trusted: the honest run must pass and the
//! edited one must deny.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use proofgate::demo::generate_proofs;
use proofgate::model::{Model, Severity};
use proofgate::sign::SigningKey;
use proofgate::verify::pipeline::{self, VerifyRequest};
use proofgate::verify::{Reason, Report, Verdict};

/// The commit the proofs are made for and the gate checks.
pub const COMMIT: &str = "7777777777777777777777777777777777777777";

/// Where the JUnit report is written, repository-relative.
pub const JUNIT: &str = "test-results/junit.xml";

/// Choices read from a byte string; past its end every choice is 0.
pub struct Choices<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Choices<'a> {
    /// Choices from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    /// A number in `0..n` (0 when `n` is 0 or 1, without using a byte).
    pub fn pick(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let b = self.bytes.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        usize::from(b) % n
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.pick(hi - lo + 1)
    }
}

/// One test case of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Repository-relative test file.
    pub file: String,
    /// The test function.
    pub name: String,
}

impl Case {
    /// The pytest class name: the module path of the file.
    pub fn classname(&self) -> String {
        self.file.trim_end_matches(".py").replace('/', ".")
    }
}

/// One script of a scenario.
#[derive(Clone, Debug)]
pub struct ScriptPlan {
    /// Its id.
    pub id: String,
    /// Repository-relative path.
    pub path: String,
    /// The selectors of its `test.command`.
    pub selectors: Vec<String>,
    /// Where the body (after the header) starts in the file, and its length.
    pub body: (usize, usize),
    /// Every regular file under its test paths.
    pub covered: Vec<String>,
    /// Its test folders (repository-relative, no trailing `/`).
    pub folders: Vec<String>,
    /// Indexes into [`Scenario::cases`] of the cases it selects.
    pub cases: Vec<usize>,
}

/// What is changed after the honest run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Replace one byte of the script's body.
    ScriptByte {
        /// Which script.
        script: usize,
        /// Offset in the file.
        at: usize,
    },
    /// Replace one byte of a file under one of the script's test paths.
    TestFileByte {
        /// The file.
        file: String,
        /// Offset, modulo the length.
        at: usize,
    },
    /// Add a file inside one of the script's test folders.
    AddToFolder {
        /// The new file.
        file: String,
    },
    /// Turn one of the script's passing cases into a failure and generate again.
    FailCase {
        /// Index into [`Scenario::cases`].
        case: usize,
    },
    /// Flip bits of one byte of the script's proof.
    ProofByte {
        /// Which script.
        script: usize,
        /// Offset, modulo the proof's length.
        at: usize,
        /// Nonzero.
        xor: u8,
    },
    /// Delete the script's proof.
    DeleteProof {
        /// Which script.
        script: usize,
    },
    /// Delete the script's envelope.
    DeleteEnvelope {
        /// Which script.
        script: usize,
    },
}

/// A repository, its report and one edit.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Every file: repository-relative path and contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// The scripts.
    pub scripts: Vec<ScriptPlan>,
    /// Every case of the report (all passing).
    pub cases: Vec<Case>,
    /// The edit.
    pub edit: Edit,
}

fn header(id: &str, command: &str) -> String {
    format!(
        "#!/usr/bin/env python3\n\"\"\"\n---\nid: {id}\ntype: script\nowner: platform-team\nstatus: active\nmaturity: 2\ntest:\n  runner: pytest\n  command: \"pytest -q {command}\"\n  evidence: ci\ndry_run:\n  supported: true\n  command_hint: 'python3 {id}.py --dry-run'\nrisk_profile:\n  production_impact: low\n  security_risk: none\n  coupling_risk: low\n---\n\"\"\"\n"
    )
}

fn test_module(names: &[String], salt: usize) -> String {
    let mut s = String::from("import pytest\n\n");
    for n in names {
        s.push_str(&format!(
            "\ndef {n}():\n    assert {salt} + 1 == {}\n",
            salt + 1
        ));
    }
    s
}

/// A test path of the pool: a file or a folder, with its files and cases.
struct PoolPath {
    path: String,
    folder: bool,
    files: Vec<String>,
    cases: Vec<usize>,
}

/// Builds a scenario from choices.
pub fn scenario(c: &mut Choices<'_>) -> Scenario {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut pool: Vec<PoolPath> = Vec::new();

    // Test files directly under `tests/`.
    for i in 0..c.between(1, 3) {
        let file = format!("tests/test_t{i}.py");
        let names: Vec<String> = (0..c.between(1, 2)).map(|j| format!("test_{j}")).collect();
        let start = cases.len();
        for n in &names {
            cases.push(Case {
                file: file.clone(),
                name: n.clone(),
            });
        }
        files.push((file.clone(), test_module(&names, c.pick(50)).into_bytes()));
        pool.push(PoolPath {
            path: file.clone(),
            folder: false,
            files: vec![file],
            cases: (start..cases.len()).collect(),
        });
    }
    // Test folders, some nested, with data and hidden files.
    for i in 0..c.pick(3) {
        let folder = format!("tests/f{i}");
        let start = cases.len();
        let mut under = Vec::new();
        for k in 0..c.between(1, 3) {
            let file = if c.pick(3) == 0 {
                format!("{folder}/sub/test_m{k}.py")
            } else {
                format!("{folder}/test_m{k}.py")
            };
            let names: Vec<String> = (0..c.between(1, 2)).map(|j| format!("test_{j}")).collect();
            for n in &names {
                cases.push(Case {
                    file: file.clone(),
                    name: n.clone(),
                });
            }
            files.push((file.clone(), test_module(&names, c.pick(50)).into_bytes()));
            under.push(file);
        }
        if c.pick(2) == 1 {
            let file = format!("{folder}/data/sample.json");
            files.push((file.clone(), format!("[{}]\n", c.pick(100)).into_bytes()));
            under.push(file);
        }
        if c.pick(2) == 1 {
            let file = format!("{folder}/.fixture");
            files.push((file.clone(), b"hidden\n".to_vec()));
            under.push(file);
        }
        pool.push(PoolPath {
            path: folder,
            folder: true,
            files: under,
            cases: (start..cases.len()).collect(),
        });
    }

    // Scripts, each naming one to three test paths or node ids.
    let mut scripts = Vec::new();
    for i in 0..c.between(1, 3) {
        let id = format!("s{i}");
        let path = format!("scripts/{id}.py");
        let mut selectors: Vec<String> = Vec::new();
        let mut covered: Vec<String> = Vec::new();
        let mut folders: Vec<String> = Vec::new();
        let mut selected: Vec<usize> = Vec::new();
        for _ in 0..c.between(1, 3) {
            let p = &pool[c.pick(pool.len())];
            let (sel, picked) = match (p.folder, c.pick(3)) {
                (true, _) => (format!("{}/", p.path), p.cases.clone()),
                (false, 0) => {
                    let case = p.cases[c.pick(p.cases.len())];
                    (format!("{}::{}", p.path, cases[case].name), vec![case])
                }
                (false, _) => (p.path.clone(), p.cases.clone()),
            };
            if selectors.contains(&sel) {
                continue;
            }
            selectors.push(sel);
            for f in &p.files {
                if !covered.contains(f) {
                    covered.push(f.clone());
                }
            }
            if p.folder && !folders.contains(&p.path) {
                folders.push(p.path.clone());
            }
            for case in picked {
                if !selected.contains(&case) {
                    selected.push(case);
                }
            }
        }
        let head = header(&id, &selectors.join(" "));
        let body = format!(
            "\n\ndef main():\n    return {}\n\n\nif __name__ == \"__main__\":\n    print(main())\n",
            c.pick(1000)
        );
        let start = head.len();
        files.push((path.clone(), format!("{head}{body}").into_bytes()));
        selected.sort_unstable();
        scripts.push(ScriptPlan {
            id,
            path,
            selectors,
            body: (start, body.len()),
            covered,
            folders,
            cases: selected,
        });
    }

    // One edit, aimed at one script.
    let target = c.pick(scripts.len());
    let s = &scripts[target];
    let edit = match c.pick(7) {
        0 => Edit::ScriptByte {
            script: target,
            at: s.body.0 + c.pick(s.body.1),
        },
        2 if !s.folders.is_empty() => {
            let folder = &s.folders[c.pick(s.folders.len())];
            let file = if c.pick(2) == 0 {
                format!("{folder}/added.txt")
            } else {
                format!("{folder}/new/test_added.py")
            };
            Edit::AddToFolder { file }
        }
        1 | 2 => Edit::TestFileByte {
            file: s.covered[c.pick(s.covered.len())].clone(),
            at: c.pick(256),
        },
        3 => Edit::FailCase {
            case: s.cases[c.pick(s.cases.len())],
        },
        4 => Edit::ProofByte {
            script: target,
            at: c.pick(256) * 256 + c.pick(256),
            xor: 1 + c.pick(255) as u8,
        },
        5 => Edit::DeleteProof { script: target },
        _ => Edit::DeleteEnvelope { script: target },
    };

    files.push((JUNIT.to_owned(), junit(&cases, None).into_bytes()));
    Scenario {
        files,
        scripts,
        cases,
        edit,
    }
}

/// A pytest-style JUnit report of `cases`, all passing except `failed`.
pub fn junit(cases: &[Case], failed: Option<usize>) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<testsuites name=\"pytest tests\">\n  <testsuite name=\"pytest\" errors=\"0\" failures=\"{}\" skipped=\"0\" tests=\"{}\" time=\"0.1\">\n",
        usize::from(failed.is_some()),
        cases.len()
    );
    for (i, case) in cases.iter().enumerate() {
        let open = format!(
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"1\" time=\"0.001\"",
            case.classname(),
            case.name,
            case.file
        );
        if failed == Some(i) {
            s.push_str(&format!(
                "{open}><failure message=\"assert False\">assert False</failure></testcase>\n"
            ));
        } else {
            s.push_str(&format!("{open} />\n"));
        }
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

/// Writes the scenario's files under `root`.
pub fn write_repo(root: &Path, sc: &Scenario) -> Result<(), String> {
    for (rel, bytes) in &sc.files {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Signed proofs of every script of the repository at `root`, from its JUnit report.
pub fn generate(
    root: &Path,
    proofs: &Path,
    key: &SigningKey,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let (model, findings) =
        Model::load(root, &root.join("proofgate.yaml"), false).map_err(|e| e.to_string())?;
    // The repository is lint-clean, so the property holds under a gate that treats
    // every lint error as a denial.
    if let Some(f) = findings.iter().find(|f| f.severity == Severity::Error) {
        return Err(format!("lint error in the scenario's repository: {f}"));
    }
    let report = generate_proofs(&model, &[root.join(JUNIT)], Some(key), proofs, COMMIT, now)
        .map_err(|e| e.to_string())?;
    if report.proofs.len() != model.scripts.len() {
        return Err(format!(
            "{} proofs for {} scripts",
            report.proofs.len(),
            model.scripts.len()
        ));
    }
    Ok(())
}

/// Runs the gate on `root` with the proofs under `proofs`, trusting `key` and
/// requiring signatures (as `verify --trusted-key` does).
pub fn gate(
    root: &Path,
    proofs: &Path,
    key: &SigningKey,
    now: DateTime<Utc>,
) -> Result<Report, String> {
    let config = root.join("proofgate.yaml");
    let keys = [key.public_key()];
    let verified = pipeline::verify(&VerifyRequest {
        root,
        config: &config,
        config_required: false,
        base: None,
        extra_keys: &keys,
        force_signatures: true,
        proofs,
        commit: Some(COMMIT),
        repository: None,
        release: false,
        now,
        lock: None,
    })
    .map_err(|e| e.to_string())?;
    Ok(verified.report)
}

fn replace_byte(path: &Path, at: usize, with: impl Fn(u8) -> u8) -> Result<(), String> {
    let mut bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    let at = at % bytes.len();
    bytes[at] = with(bytes[at]);
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// A different printable byte, so a text file stays text.
fn other_letter(b: u8) -> u8 {
    if b == b'x' { b'y' } else { b'x' }
}

/// Applies the edit (generating again after a JUnit edit).
pub fn apply(
    root: &Path,
    proofs: &Path,
    sc: &Scenario,
    key: &SigningKey,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let proof = |script: usize, suffix: &str| -> PathBuf {
        proofs.join(format!("proof-{}{suffix}", sc.scripts[script].id))
    };
    let remove = |p: PathBuf| std::fs::remove_file(&p).map_err(|e| format!("{}: {e}", p.display()));
    match &sc.edit {
        Edit::ScriptByte { script, at } => {
            replace_byte(&root.join(&sc.scripts[*script].path), *at, other_letter)
        }
        Edit::TestFileByte { file, at } => replace_byte(&root.join(file), *at, other_letter),
        Edit::AddToFolder { file } => {
            let p = root.join(file);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(&p, b"def test_added():\n    pass\n").map_err(|e| e.to_string())
        }
        Edit::FailCase { case } => {
            std::fs::write(root.join(JUNIT), junit(&sc.cases, Some(*case)))
                .map_err(|e| e.to_string())?;
            generate(root, proofs, key, now)
        }
        Edit::ProofByte { script, at, xor } => {
            replace_byte(&proof(*script, ".json"), *at, |b| b ^ xor)
        }
        Edit::DeleteProof { script } => remove(proof(*script, ".json")),
        Edit::DeleteEnvelope { script } => remove(proof(*script, ".dsse.json")),
    }
}

/// The reason the edited script must be denied with, when the edit determines it.
pub fn expected_reason(edit: &Edit) -> Option<Reason> {
    match edit {
        Edit::ScriptByte { .. } => Some(Reason::ScriptDigestMismatch),
        Edit::TestFileByte { .. } | Edit::AddToFolder { .. } => Some(Reason::TestsDigestMismatch),
        Edit::FailCase { .. } => Some(Reason::VerdictFail),
        Edit::DeleteProof { .. } => Some(Reason::ProofMissing),
        Edit::DeleteEnvelope { .. } => Some(Reason::SignatureMissing),
        Edit::ProofByte { .. } => None,
    }
}

/// Generates, checks that the honest run passes, applies the edit and checks that the
/// gate denies. `dir` is an empty working directory. Returns why the property does not
/// hold.
pub fn check(dir: &Path, sc: &Scenario, key: &SigningKey) -> Result<(), String> {
    let now = Utc::now();
    let root = dir.join("repo");
    let proofs = dir.join("proofs");
    write_repo(&root, sc)?;
    generate(&root, &proofs, key, now)?;
    let honest = gate(&root, &proofs, key, now)?;
    if honest.verdict != Verdict::Pass
        || honest.scripts.len() != sc.scripts.len()
        || honest.scripts.iter().any(|s| s.reason != Reason::CiProof)
    {
        return Err(format!(
            "the honest run is denied: {:#?}",
            honest
                .scripts
                .iter()
                .map(|s| (&s.id, s.reason, &s.message))
                .collect::<Vec<_>>()
        ));
    }
    apply(&root, &proofs, sc, key, now)?;
    let after = gate(&root, &proofs, key, now)?;
    let rows: Vec<_> = after
        .scripts
        .iter()
        .map(|s| (&s.id, s.reason, &s.message))
        .collect();
    if after.verdict != Verdict::Fail {
        return Err(format!("{:?} passed the gate: {rows:#?}", sc.edit));
    }
    let edited = match &sc.edit {
        Edit::FailCase { case } => sc
            .scripts
            .iter()
            .find(|s| s.cases.contains(case))
            .map(|s| s.id.clone()),
        Edit::TestFileByte { file, .. } => sc
            .scripts
            .iter()
            .find(|s| s.covered.contains(file))
            .map(|s| s.id.clone()),
        Edit::AddToFolder { file } => sc
            .scripts
            .iter()
            .find(|s| s.folders.iter().any(|f| file.starts_with(&format!("{f}/"))))
            .map(|s| s.id.clone()),
        Edit::ScriptByte { script, .. }
        | Edit::ProofByte { script, .. }
        | Edit::DeleteProof { script }
        | Edit::DeleteEnvelope { script } => Some(sc.scripts[*script].id.clone()),
    };
    let row = after
        .scripts
        .iter()
        .find(|s| Some(&s.id) == edited.as_ref())
        .ok_or_else(|| format!("no row for the edited script {edited:?}: {rows:#?}"))?;
    if row.reason.passes() {
        return Err(format!(
            "{:?}: the edited script passed: {rows:#?}",
            sc.edit
        ));
    }
    if let Some(want) = expected_reason(&sc.edit)
        && row.reason != want
    {
        return Err(format!(
            "{:?}: denied with {:?}, expected {want:?}: {rows:#?}",
            sc.edit, row.reason
        ));
    }
    Ok(())
}
