//! Fuzzes the JUnit fast path against the full reader: whenever
//! `proofgate::junit::fast_parse` or `fast_count` accepts an input, the full reader
//! accepts it too, has nothing to warn about, and gives the same totals and the same
//! test cases (file, classname, name, status, attempts, duration, line, message) in the
//! same order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proofgate::junit::{ParseOptions, count, fast_count, fast_parse, parse};

fuzz_target!(|data: &[u8]| {
    let opts = ParseOptions {
        max_message_bytes: 64,
        keep_going: false,
    };
    if let Some((cases, totals)) = fast_parse(data, &opts) {
        let mut full = Vec::new();
        let summary = parse(data, "fuzz.xml", &opts, |c| full.push(c))
            .unwrap_or_else(|e| panic!("the fast path accepted what the full reader refuses: {e}"));
        assert!(summary.warnings.is_empty(), "accepted despite warnings");
        assert_eq!(totals, summary.totals);
        assert_eq!(cases.len(), full.len());
        for (a, b) in cases.iter().zip(&full) {
            assert_eq!(a, b);
            assert_eq!(a.duration.to_bits(), b.duration.to_bits());
        }
    }
    if let Some(totals) = fast_count(data, &opts) {
        let summary = count(data, "fuzz.xml", &opts).unwrap_or_else(|e| {
            panic!("the fast count accepted what the full reader refuses: {e}")
        });
        assert!(summary.warnings.is_empty(), "accepted despite warnings");
        assert_eq!(totals, summary.totals);
    }
});
