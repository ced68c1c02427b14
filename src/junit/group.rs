//! THE COUNTING RULE (DESIGN.md §6): `<testcase>` elements with the same
//! `(file, classname, name)` in one `<testsuite>` are attempts of one test, and retry
//! records inside an element are attempts too.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::case::{Status, TestCase};

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

/// What one `<testcase>` element says, reduced to what the counting rule needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attempts {
    /// How many attempts (at least 1).
    pub count: u32,
    /// The last attempt's outcome.
    pub last: Outcome,
    /// An attempt before the last failed or errored.
    pub earlier_bad: bool,
    /// Some attempt errored.
    pub any_error: bool,
    /// Every attempt was skipped.
    pub all_skipped: bool,
    /// Every attempt that ran passed.
    pub ran_all_passed: bool,
}

impl Attempts {
    /// The attempts of one element.
    ///
    /// `records` are the retry records (`flakyFailure`, `flakyError`, `rerunFailure`,
    /// `rerunError`), `record_errors` how many of them are errors; `failures` and
    /// `errors` count `<failure>` and `<error>` children; `primary` is the element's
    /// own result by the precedence error > failure > skipped > passed. Every attempt
    /// but the last is one of the failing records or extra failure children.
    pub(crate) fn of_element(
        records: u32,
        record_errors: u32,
        failures: u32,
        errors: u32,
        primary: Outcome,
    ) -> Self {
        let count = records
            .saturating_add(failures.saturating_add(errors).max(1))
            .max(1);
        let single = count == 1;
        Self {
            count,
            last: primary,
            earlier_bad: !single,
            any_error: errors > 0 || record_errors > 0 || primary == Outcome::Error,
            all_skipped: single && primary == Outcome::Skipped,
            ran_all_passed: single && matches!(primary, Outcome::Passed | Outcome::Skipped),
        }
    }

    /// These attempts followed by `later`.
    pub(crate) fn then(self, later: Attempts) -> Self {
        Self {
            count: self.count.saturating_add(later.count),
            last: later.last,
            earlier_bad: self.earlier_bad
                || matches!(self.last, Outcome::Failed | Outcome::Error)
                || later.earlier_bad,
            any_error: self.any_error || later.any_error,
            all_skipped: self.all_skipped && later.all_skipped,
            ran_all_passed: self.ran_all_passed && later.ran_all_passed,
        }
    }

    /// The test's status: skipped if every attempt was skipped; flaky if the last
    /// passed after an earlier failure or error; passed if every attempt that ran
    /// passed; otherwise error if any attempt errored, else failed.
    pub(crate) fn status(&self) -> Status {
        if self.all_skipped {
            Status::Skipped
        } else if self.last == Outcome::Passed && self.earlier_bad {
            Status::Flaky
        } else if self.ran_all_passed {
            Status::Passed
        } else if self.any_error {
            Status::Error
        } else {
            Status::Failed
        }
    }
}

/// A test case read from one element, before grouping.
pub(crate) struct Record {
    pub file: Option<String>,
    pub classname: String,
    pub name: String,
    pub line: Option<u32>,
    pub duration: f64,
    pub message: Option<String>,
    pub attempts: Attempts,
    /// A test case without a `name`: never merged with another.
    pub anonymous: bool,
    /// In counting mode: a 128-bit hash of the key instead of the strings (which are
    /// then empty).
    pub key: Option<u128>,
}

struct Pending {
    record: Record,
    /// Next pending test with the same key hash.
    next: Option<u32>,
}

/// The tests of one suite in document order of their first element, merged by
/// `(file, classname, name)`.
#[derive(Default)]
pub(crate) struct Grouper {
    pending: Vec<Pending>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<Passthrough>>,
    /// Counting mode: attempts by key hash.
    counts: HashMap<u128, Attempts, BuildHasherDefault<Passthrough>>,
    anonymous: u64,
}

impl Grouper {
    /// Adds an element; merges it into an earlier one with the same key.
    pub(crate) fn add(&mut self, record: Record) {
        if let Some(key) = record.key {
            let key = if record.anonymous {
                self.anonymous += 1;
                (1u128 << 127) | u128::from(self.anonymous)
            } else {
                key
            };
            self.add_key(key, record.attempts);
            return;
        }
        if record.anonymous {
            self.pending.push(Pending { record, next: None });
            return;
        }
        let h = key_hash(record.file.as_deref(), &record.classname, &record.name);
        let mut at = self.by_hash.get(&h).copied();
        let mut last = None;
        while let Some(i) = at {
            let p = &mut self.pending[i as usize];
            if p.record.file == record.file
                && p.record.classname == record.classname
                && p.record.name == record.name
            {
                let r = &mut p.record;
                r.attempts = r.attempts.then(record.attempts);
                r.duration += record.duration;
                if r.message.is_none() {
                    r.message = record.message;
                }
                if r.line.is_none() {
                    r.line = record.line;
                }
                return;
            }
            last = Some(i);
            at = p.next;
        }
        let idx = u32::try_from(self.pending.len()).unwrap_or(u32::MAX);
        match last {
            Some(l) => self.pending[l as usize].next = Some(idx),
            None => {
                self.by_hash.insert(h, idx);
            }
        }
        self.pending.push(Pending { record, next: None });
    }

    /// Counting mode: adds the attempts of an element with this key hash (of a named
    /// test case: see [`key_hash128`]).
    #[inline]
    pub(crate) fn add_key(&mut self, key: u128, attempts: Attempts) {
        self.counts
            .entry(key)
            .and_modify(|a| *a = a.then(attempts))
            .or_insert(attempts);
    }

    /// Whether nothing is pending.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Hands out the grouped tests in order and empties the grouper.
    pub(crate) fn drain(&mut self, totals: &mut super::Totals, mut out: impl FnMut(TestCase)) {
        for a in self.counts.values() {
            totals.add(a.status());
        }
        self.counts.clear();
        self.anonymous = 0;
        self.by_hash.clear();
        for p in self.pending.drain(..) {
            let r = p.record;
            let tc = TestCase {
                file: r.file,
                classname: r.classname,
                name: r.name,
                status: r.attempts.status(),
                attempts: r.attempts.count,
                duration: r.duration,
                line: r.line,
                message: r.message,
            };
            totals.add(tc.status);
            out(tc);
        }
    }
}

/// A 128-bit hash of the identity key, for counting without keeping the strings.
/// One pass over the bytes feeds two independent FxHash-style lanes.
#[inline]
pub(crate) fn key_hash128(file: Option<&[u8]>, classname: &[u8], name: &[u8]) -> u128 {
    let mut h = Fx2(0, 0x9e37_79b9_7f4a_7c15);
    match file {
        Some(f) => {
            h.add(1);
            h.bytes(f);
        }
        None => h.add(0),
    }
    h.bytes(classname);
    h.bytes(name);
    (u128::from(h.0) << 64) | u128::from(h.1)
}

/// `b` as the words a hash lane is fed: 8 bytes at a time, little-endian, then the last 0
/// to 7 bytes (read without a call to copy them) with the length in the top byte.
#[inline]
fn words(b: &[u8], mut add: impl FnMut(u64)) {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        add(u64::from_le_bytes(w));
    }
    let w = chunks
        .remainder()
        .iter()
        .rev()
        .fold(0u64, |w, &x| (w << 8) | u64::from(x));
    add(w ^ ((b.len() as u64) << 56));
}

/// Two FxHash-style lanes with different seeds and multipliers, fed the same words.
struct Fx2(u64, u64);

impl Fx2 {
    const K2: u64 = 0x9fb2_1c65_1e98_df25;

    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(Fx::K);
        self.1 = (self.1.rotate_left(23) ^ w).wrapping_mul(Self::K2);
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        words(b, |w| self.add(w));
    }
}

/// A fast, non-cryptographic hash of the identity key (FxHash-style).
fn key_hash(file: Option<&str>, classname: &str, name: &str) -> u64 {
    key_hash_seeded(file, classname, name, 0)
}

#[inline]
fn key_hash_seeded(file: Option<&str>, classname: &str, name: &str, seed: u64) -> u64 {
    let mut h = Fx(seed);
    match file {
        Some(f) => {
            h.add(1);
            h.bytes(f.as_bytes());
        }
        None => h.add(0),
    }
    h.bytes(classname.as_bytes());
    h.bytes(name.as_bytes());
    h.0
}

struct Fx(u64);

impl Fx {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(26) ^ w).wrapping_mul(Self::K);
    }

    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        words(b, |w| self.add(w));
    }
}

/// The map's keys are already hashes.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = (n as u64) ^ ((n >> 64) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    fn one(o: Outcome) -> Attempts {
        Attempts::of_element(0, 0, u32::from(o == Failed), u32::from(o == Error), o)
    }

    #[test]
    fn the_counting_rule_over_attempt_sequences() {
        let seq = |v: &[Outcome]| {
            v.iter()
                .map(|&o| one(o))
                .reduce(Attempts::then)
                .map(|a| a.status())
        };
        assert_eq!(seq(&[Passed]), Some(Status::Passed));
        assert_eq!(seq(&[Skipped, Skipped]), Some(Status::Skipped));
        assert_eq!(seq(&[Failed, Passed]), Some(Status::Flaky));
        assert_eq!(seq(&[Error, Failed, Passed]), Some(Status::Flaky));
        assert_eq!(seq(&[Passed, Failed]), Some(Status::Failed));
        assert_eq!(seq(&[Failed, Error]), Some(Status::Error));
        assert_eq!(seq(&[Skipped, Passed]), Some(Status::Passed));
        assert_eq!(seq(&[Passed, Skipped]), Some(Status::Passed));
        assert_eq!(seq(&[Failed, Skipped]), Some(Status::Failed));
        assert_eq!(seq(&[Failed, Failed]), Some(Status::Failed));
    }

    #[test]
    fn retry_records_inside_one_element_are_attempts() {
        // Surefire flaky pass: two flakyFailure, then a pass.
        let a = Attempts::of_element(2, 0, 0, 0, Passed);
        assert_eq!((a.count, a.status()), (3, Status::Flaky));
        // Surefire always failing: failure + two rerunFailure.
        let a = Attempts::of_element(2, 0, 1, 0, Failed);
        assert_eq!((a.count, a.status()), (3, Status::Failed));
        // nextest flaky-result=fail: failure + flakyFailure.
        let a = Attempts::of_element(1, 0, 1, 0, Failed);
        assert_eq!((a.count, a.status()), (2, Status::Failed));
        // flakyError then pass: flaky; rerunError after a failure: error.
        assert_eq!(
            Attempts::of_element(1, 1, 0, 0, Passed).status(),
            Status::Flaky
        );
        assert_eq!(
            Attempts::of_element(1, 1, 1, 0, Failed).status(),
            Status::Error
        );
        // Two failure children (vitest): two attempts.
        assert_eq!(Attempts::of_element(0, 0, 2, 0, Failed).count, 2);
    }

    fn rec(class: &str, name: &str, o: Outcome) -> Record {
        Record {
            file: None,
            classname: class.into(),
            name: name.into(),
            line: None,
            duration: 1.0,
            message: (o == Failed).then(|| "boom".to_owned()),
            attempts: one(o),
            anonymous: false,
            key: None,
        }
    }

    #[test]
    fn grouper_merges_same_key_in_order_of_first_appearance() {
        let mut g = Grouper::default();
        g.add(rec("a", "t1", Failed));
        g.add(rec("a", "t2", Passed));
        g.add(rec("b", "t1", Passed));
        g.add(rec("a", "t1", Passed));
        let mut out = Vec::new();
        let mut t = crate::junit::Totals::default();
        g.drain(&mut t, |c| out.push(c));
        assert_eq!(t.tests, 3);
        assert!(g.is_empty());
        let got: Vec<_> = out
            .iter()
            .map(|c| (c.classname.as_str(), c.name.as_str(), c.status, c.attempts))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "t1", Status::Flaky, 2),
                ("a", "t2", Status::Passed, 1),
                ("b", "t1", Status::Passed, 1),
            ]
        );
        assert_eq!(out[0].duration, 2.0);
        assert_eq!(out[0].message.as_deref(), Some("boom"));
    }
}
