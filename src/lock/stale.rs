//! `lint`'s view of a lock: entries whose digests no longer match the tree, scripts that
//! need CI evidence at a release and have no entry, entries for scripts that are gone.
//! Warnings: a lock goes stale with every script change until `lock update` runs, and
//! only the release gate (`verify --release --lock`) denies on it.

use std::collections::{BTreeSet, HashMap};

use super::file::Lock;
use crate::model::{Finding, Severity};
use crate::verify::gate::{CheckoutFacts, Evidence, GatePolicy, GateScript, required_evidence};
use crate::verify::locked::stale;

/// The lint code of every lock finding.
pub const CODE: &str = "lock-stale";

/// The lock's findings against the tree: `path` is the lock's repository-relative path
/// and `text` its contents (for line numbers).
pub fn findings(
    lock: &Lock,
    path: &str,
    text: &str,
    scripts: &[GateScript],
    facts: &HashMap<String, CheckoutFacts>,
    policy: &GatePolicy,
) -> Vec<Finding> {
    let finding = |line: u32, message: String| Finding {
        severity: Severity::Warning,
        path: path.to_owned(),
        line,
        column: 1,
        code: CODE,
        message,
    };
    let mut out = Vec::new();
    let empty = CheckoutFacts::default();
    for s in scripts {
        let entry = lock.scripts.iter().find(|(id, _)| id.as_str() == s.id);
        match entry {
            Some((_, e)) => {
                let f = facts.get(&s.id).unwrap_or(&empty);
                if let Some(why) = e.pins().first().and_then(|pin| stale(s, f, pin)) {
                    out.push(finding(Lock::line_of(text, &s.id), why));
                }
            }
            None if required_evidence(s, policy, true) == Some(Evidence::Ci) => {
                out.push(finding(
                    1,
                    format!(
                        "`{}` (`{}`) needs CI evidence at a release and has no entry; run its \
                         tests and `proofgate lock update`",
                        s.id, s.path
                    ),
                ));
            }
            None => {}
        }
    }
    let known: BTreeSet<&str> = scripts.iter().map(|s| s.id.as_str()).collect();
    for id in lock
        .scripts
        .keys()
        .filter(|id| !known.contains(id.as_str()))
    {
        out.push(finding(
            Lock::line_of(text, id.as_str()),
            format!(
                "the entry for `{id}` names no script of the model; run `proofgate lock update`"
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Sha256Digest;
    use crate::lock::file::{Location, LockEntry};
    use crate::model::{Impact, ScriptId};
    use crate::proof::record::Verdict;

    fn script(id: &str, evidence: Evidence) -> GateScript {
        GateScript {
            id: id.into(),
            path: format!("scripts/{id}.py"),
            header_line: Some(2),
            evidence: Some(evidence),
            maturity: Some(2),
            production_impact: Some(Impact::Low),
            test_files: vec![],
            lint_errors: vec![],
            downgrades: vec![],
        }
    }

    fn entry(d: Sha256Digest) -> LockEntry {
        LockEntry {
            source_hash: d,
            tests_hash: d,
            test_seed: None,
            test_result: Verdict::Pass,
            test_run_id: None,
            proof_digest: Some(d),
            location: Location::default(),
            key_id: None,
            shards: vec![],
        }
    }

    #[test]
    fn stale_missing_and_orphaned_entries_are_warnings_and_fresh_ones_are_not() {
        let d = Sha256Digest::of(b"x");
        let mut lock = Lock::new();
        for id in ["fresh", "stale", "gone"] {
            lock.scripts.insert(ScriptId::new(id).unwrap(), entry(d));
        }
        let scripts = vec![
            script("fresh", Evidence::Ci),
            script("stale", Evidence::Ci),
            script("unlocked", Evidence::Ci),
            script("manual", Evidence::Manual),
        ];
        let mut facts = HashMap::new();
        let same = CheckoutFacts {
            script_digest: Some(d),
            tests_digest: Some(d),
            missing_test_files: vec![],
        };
        facts.insert("fresh".to_owned(), same.clone());
        facts.insert(
            "stale".to_owned(),
            CheckoutFacts {
                script_digest: Some(Sha256Digest::of(b"y")),
                ..same
            },
        );
        let text = lock.render();
        let f = findings(
            &lock,
            "proofgate.lock",
            &text,
            &scripts,
            &facts,
            &GatePolicy::default(),
        );
        let said: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(f.len(), 3, "{said:#?}");
        assert!(
            f.iter()
                .all(|f| f.severity == Severity::Warning && f.code == CODE)
        );
        assert!(said[0].contains("scripts/stale.py") && said[0].contains("source_hash"));
        assert_eq!(f[0].line, Lock::line_of(&text, "stale"));
        assert!(said[1].contains("`unlocked`"));
        assert!(said[2].contains("`gone`"));
    }
}
