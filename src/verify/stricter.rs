//! A change is judged by the stricter of its base and itself: the base's policy (trusted
//! keys, signatures, reuse, ages, risk rules) tightened by the change's, and each
//! script's risk (evidence, production impact, maturity) the stricter of its base and head
//! headers. A change can tighten its own gate, never loosen it: a loosening takes effect
//! for the next change, once it has been reviewed and merged. Every loosening is reported
//! (`POLICY_DOWNGRADE`) with the value that applied.

use std::collections::HashMap;

use super::gate::{Evidence, GatePolicy, GateScript, Impact};

/// The stricter of two optional values: `None` (undeclared) loses to a declared value
/// of the other side, and otherwise the larger wins.
fn max_opt<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn show<T: Copy>(v: Option<T>, f: fn(T) -> &'static str) -> &'static str {
    v.map_or("undeclared", f)
}

/// The policy that applies to a change: the base's, tightened where the head is
/// stricter; and where the head is looser, a note.
pub fn policy(base: &GatePolicy, head: &GatePolicy) -> (GatePolicy, Vec<String>) {
    let mut notes = Vec::new();
    if base.require_signatures && !head.require_signatures {
        notes.push(
            "`policy.signatures: none` in this change; the base requires signatures".to_owned(),
        );
    }
    if head.reuse_same_content && !base.reuse_same_content {
        notes.push("`policy.reuse: same-content` in this change; the base does not reuse".into());
    }
    let max_age = match (base.max_age, head.max_age) {
        (Some(b), Some(h)) => Some(b.min(h)),
        (Some(b), None) => {
            notes.push(format!(
                "`policy.max_age` removed in this change; the base's {}s applies",
                b.as_secs()
            ));
            Some(b)
        }
        (None, h) => h,
    };
    if let (Some(b), Some(h)) = (base.max_age, head.max_age)
        && h > b
    {
        notes.push(format!(
            "`policy.max_age` raised to {}s in this change; the base's {}s applies",
            h.as_secs(),
            b.as_secs()
        ));
    }
    let union = |b: &[Impact], h: &[Impact], key: &str, notes: &mut Vec<String>| {
        let mut out = b.to_vec();
        for i in b {
            if !h.contains(i) {
                notes.push(format!(
                    "`policy.{key}` drops `{}` in this change; the base's list applies",
                    i.as_str()
                ));
            }
        }
        for i in h {
            if !out.contains(i) {
                out.push(*i);
            }
        }
        out.sort();
        out
    };
    let manual_forbidden_for = union(
        &base.manual_forbidden_for,
        &head.manual_forbidden_for,
        "manual_forbidden_for",
        &mut notes,
    );
    let ci_required_for = union(
        &base.ci_required_for,
        &head.ci_required_for,
        "ci_required_for",
        &mut notes,
    );
    if head.flaky < base.flaky {
        notes.push(format!(
            "`policy.flaky: {}` in this change; the base's `{}` applies",
            head.flaky.as_str(),
            base.flaky.as_str()
        ));
    }
    (
        GatePolicy {
            require_signatures: base.require_signatures || head.require_signatures,
            max_age,
            reuse_same_content: base.reuse_same_content && head.reuse_same_content,
            manual_forbidden_for,
            ci_required_for,
            flaky: base.flaky.max(head.flaky),
        },
        notes,
    )
}

/// Tightens `h` by its base header `b`, noting every loosening.
fn tighten(h: &mut GateScript, b: &GateScript) {
    let evidence = max_opt(h.evidence, b.evidence);
    if evidence != h.evidence {
        h.downgrades.push(format!(
            "`test.evidence` lowered from {} to {} in this change; {} applies",
            show(b.evidence, Evidence::as_str),
            show(h.evidence, Evidence::as_str),
            show(evidence, Evidence::as_str),
        ));
        h.evidence = evidence;
    }
    let impact = max_opt(h.production_impact, b.production_impact);
    if impact != h.production_impact {
        h.downgrades.push(format!(
            "`risk_profile.production_impact` lowered from {} to {} in this change; {} applies",
            show(b.production_impact, Impact::as_str),
            show(h.production_impact, Impact::as_str),
            show(impact, Impact::as_str),
        ));
        h.production_impact = impact;
    }
    let maturity = max_opt(h.maturity, b.maturity);
    if maturity != h.maturity {
        h.downgrades.push(format!(
            "`maturity` lowered from {} to {} in this change; {} applies",
            b.maturity.map_or("undeclared".into(), |m| m.to_string()),
            h.maturity.map_or("undeclared".into(), |m| m.to_string()),
            maturity.map_or("undeclared".into(), |m| m.to_string()),
        ));
        h.maturity = maturity;
    }
}

/// The scripts a change is judged on: each head script tightened by its base script
/// (found by id, else by path); scripts new in the change as their head header says
/// (under the base's policy); and every base script that the change made disappear from
/// the model while its file is still there (`still_there(path)`): a removed header or a
/// header that no longer parses does not make a script ungoverned.
pub fn scripts(
    head: Vec<GateScript>,
    base: &[GateScript],
    still_there: impl Fn(&str) -> bool,
) -> Vec<GateScript> {
    let by_id: HashMap<&str, &GateScript> = base.iter().map(|b| (b.id.as_str(), b)).collect();
    let by_path: HashMap<&str, &GateScript> = base.iter().map(|b| (b.path.as_str(), b)).collect();
    let mut matched: Vec<bool> = vec![false; base.len()];
    let index: HashMap<*const GateScript, usize> = base
        .iter()
        .enumerate()
        .map(|(i, b)| (b as *const GateScript, i))
        .collect();
    let mut out = Vec::with_capacity(head.len());
    for mut h in head {
        for b in [by_id.get(h.id.as_str()), by_path.get(h.path.as_str())]
            .into_iter()
            .flatten()
        {
            if let Some(i) = index.get(&(*b as *const GateScript)) {
                matched[*i] = true;
            }
            tighten(&mut h, b);
        }
        out.push(h);
    }
    for (b, m) in base.iter().zip(matched) {
        if !m && still_there(&b.path) {
            let mut kept = b.clone();
            kept.lint_errors.clear();
            kept.downgrades.push(format!(
                "this change removed the header of `{}` (or made it unreadable); the base's \
                 header applies",
                b.path
            ));
            out.push(kept);
        }
    }
    out.sort_by(|a, b| (&a.id, &a.path).cmp(&(&b.id, &b.path)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FlakyPolicy;
    use std::time::Duration;

    fn script(id: &str, path: &str, e: Option<Evidence>, i: Option<Impact>, m: u8) -> GateScript {
        GateScript {
            id: id.into(),
            path: path.into(),
            header_line: Some(1),
            evidence: e,
            maturity: Some(m),
            production_impact: i,
            test_files: vec![],
            lint_errors: vec![],
            downgrades: vec![],
        }
    }

    #[test]
    fn a_change_cannot_lower_its_own_evidence_impact_or_maturity() {
        let base = [script(
            "a",
            "s/a.py",
            Some(Evidence::Ci),
            Some(Impact::High),
            3,
        )];
        let head = vec![script(
            "a",
            "s/a.py",
            Some(Evidence::Declared),
            Some(Impact::None),
            1,
        )];
        let out = scripts(head, &base, |_| true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence, Some(Evidence::Ci));
        assert_eq!(out[0].production_impact, Some(Impact::High));
        assert_eq!(out[0].maturity, Some(3));
        assert_eq!(out[0].downgrades.len(), 3, "{:?}", out[0].downgrades);
    }

    #[test]
    fn a_change_may_tighten_its_own_header() {
        let base = [script(
            "a",
            "s/a.py",
            Some(Evidence::Declared),
            Some(Impact::Low),
            1,
        )];
        let head = vec![script(
            "a",
            "s/a.py",
            Some(Evidence::Ci),
            Some(Impact::High),
            2,
        )];
        let out = scripts(head, &base, |_| true);
        assert_eq!(out[0].evidence, Some(Evidence::Ci));
        assert_eq!(out[0].production_impact, Some(Impact::High));
        assert!(out[0].downgrades.is_empty());
    }

    #[test]
    fn renaming_the_id_does_not_escape_the_base_header() {
        let base = [script(
            "a",
            "s/a.py",
            Some(Evidence::Ci),
            Some(Impact::High),
            3,
        )];
        let head = vec![script("fresh", "s/a.py", Some(Evidence::Manual), None, 0)];
        let out = scripts(head, &base, |_| true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence, Some(Evidence::Ci));
    }

    #[test]
    fn removing_a_header_keeps_the_script_governed_while_its_file_exists() {
        let base = [
            script("a", "s/a.py", Some(Evidence::Ci), Some(Impact::High), 3),
            script("gone", "s/gone.py", Some(Evidence::Ci), None, 1),
        ];
        let out = scripts(vec![], &base, |p| p == "s/a.py");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, "a");
        assert_eq!(out[0].evidence, Some(Evidence::Ci));
        assert_eq!(out[0].downgrades.len(), 1);
    }

    #[test]
    fn new_scripts_keep_their_head_header() {
        let out = scripts(
            vec![script("n", "s/n.py", Some(Evidence::Declared), None, 0)],
            &[],
            |_| true,
        );
        assert_eq!(out[0].evidence, Some(Evidence::Declared));
        assert!(out[0].downgrades.is_empty());
    }

    #[test]
    fn the_policy_is_the_bases_tightened_by_the_change() {
        let base = GatePolicy {
            require_signatures: true,
            max_age: Some(Duration::from_secs(100)),
            reuse_same_content: false,
            manual_forbidden_for: vec![Impact::Medium, Impact::High],
            ci_required_for: vec![],
            flaky: FlakyPolicy::Deny,
        };
        let loose = GatePolicy {
            require_signatures: false,
            max_age: None,
            reuse_same_content: true,
            manual_forbidden_for: vec![],
            ci_required_for: vec![],
            flaky: FlakyPolicy::Allow,
        };
        let (p, notes) = policy(&base, &loose);
        assert_eq!(p, base);
        assert_eq!(notes.len(), 6, "{notes:?}");
        assert!(
            notes.iter().any(|n| n.contains("`policy.flaky: allow`")),
            "{notes:?}"
        );
        let tight = GatePolicy {
            max_age: Some(Duration::from_secs(10)),
            ci_required_for: vec![Impact::Low],
            flaky: FlakyPolicy::Deny,
            ..base.clone()
        };
        let (p, notes) = policy(&base, &tight);
        assert_eq!(p, tight);
        assert!(notes.is_empty());
    }
}
