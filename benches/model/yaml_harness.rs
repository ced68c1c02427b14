//! Times the header YAML fast path (`src/model/fastyaml.rs`, compiled from the same source
//! file) against `serde_yaml_ng` alone on a corpus of header texts. Built and run by
//! `benches/model/yaml.sh`; not part of the crate.
//!
//! Usage: yaml_harness CORPUS PAIRS — CORPUS holds NUL-separated header texts; each pair
//! times one pass of A (fast path, `serde_yaml_ng` when it declines) then one of B
//! (`serde_yaml_ng` alone), and prints the medians.

#[allow(dead_code)]
#[path = "../../src/model/fastyaml.rs"]
mod fastyaml;

use serde_yaml_ng::Value;
use std::time::Instant;

fn fast(text: &str) -> Value {
    match fastyaml::parse(text) {
        Some(v) => v,
        None => serde_yaml_ng::from_str(text).expect("corpus header parses"),
    }
}

fn library(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("corpus header parses")
}

fn pass(texts: &[&str], parse: fn(&str) -> Value) -> f64 {
    let start = Instant::now();
    let mut keys = 0usize;
    for t in texts {
        if let Value::Mapping(m) = std::hint::black_box(parse(t)) {
            keys += m.len();
        }
    }
    std::hint::black_box(keys);
    start.elapsed().as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus = std::fs::read_to_string(&args[1]).expect("corpus readable");
    let pairs: usize = args[2].parse().expect("PAIRS is a number");
    let texts: Vec<&str> = corpus.split('\0').collect();
    // Same values both ways, and how many headers the fast path takes.
    let mut taken = 0usize;
    for t in &texts {
        let lib = library(t);
        if let Some(v) = fastyaml::parse(t) {
            assert_eq!(v, lib, "fast path differs from serde_yaml_ng on:\n{t}");
            taken += 1;
        }
    }
    // Warm-up, then A B A B …
    pass(&texts, fast);
    pass(&texts, library);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        a.push(pass(&texts, fast));
        b.push(pass(&texts, library));
    }
    let (ma, mb) = (median(a), median(b));
    let n = texts.len() as f64;
    println!(
        "headers {} fast_path_taken {} pairs {}",
        texts.len(),
        taken,
        pairs
    );
    println!("| parser | median ms per pass | µs per header | vs `serde_yaml_ng` |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| fast path (`fastyaml`, then `serde_yaml_ng` when it declines) | {ma:.1} | {:.2} | {:.2}× |",
        ma * 1000.0 / n,
        ma / mb
    );
    println!(
        "| `serde_yaml_ng` alone (anchor) | {mb:.1} | {:.2} | 1.00× |",
        mb * 1000.0 / n
    );
    println!("gain {:.0} %", (1.0 - ma / mb) * 100.0);
}
