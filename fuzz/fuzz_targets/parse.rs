//! Fuzzes `proofgate::junit::parse`: any bytes give cases or a one-line error, never
//! a panic, and the totals always match the cases handed out.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proofgate::junit::{ParseOptions, parse};

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
