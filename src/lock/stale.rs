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
                if let Some(why) = stale(s, f, &e.pin()) {
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
