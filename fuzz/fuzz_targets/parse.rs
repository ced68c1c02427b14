//! Fuzzes `proofgate::junit::parse`: any bytes give cases or a one-line error, never
//! a panic, the totals always match the cases handed out, and `count` agrees with
//! `parse`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proofgate::junit::{ParseOptions, count, parse};

fuzz_target!(|data: &[u8]| {
    for keep_going in [false, true] {
        let opts = ParseOptions {
            max_message_bytes: 64,
            keep_going,
        };
        let mut handed_out = 0u64;
        let mut max_message = 0usize;
        let result = parse(data, "fuzz.xml", &opts, |c| {
            handed_out += 1;
            max_message = max_message.max(c.message.as_deref().map_or(0, str::len));
            assert!(c.attempts >= 1);
        });
        assert!(max_message <= 64);
        // The counting fast path agrees with the full parse.
        match (&result, count(data, "fuzz.xml", &opts)) {
            (Ok(a), Ok(b)) => assert_eq!(a.totals, b.totals),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                assert_eq!(
                    a.partial.as_ref().map(|p| p.totals),
                    b.partial.as_ref().map(|p| p.totals)
                );
            }
            (a, b) => panic!("parse and count disagree: {a:?} / {b:?}"),
        }
        let totals = match result {
            Ok(s) => s.totals,
            Err(e) => {
                let line = e.to_string();
                assert!(!line.contains('\n'), "multi-line error: {line:?}");
                assert!(e.line >= 1 && e.column >= 1);
                match e.partial {
                    Some(p) => p.totals,
                    None => {
                        assert!(!keep_going, "keep_going always gives a partial report");
                        continue;
                    }
                }
            }
        };
        assert_eq!(totals.tests, handed_out);
        assert_eq!(
            totals.tests,
            totals.passed + totals.failed + totals.errors + totals.skipped + totals.flaky
        );
    }
});
