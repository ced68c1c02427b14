//! JUnit XML ingestion: a streaming parser over any `BufRead` that yields normalised
//! test cases (see DESIGN.md §2.2 and §6 for the counting rule).

mod case;

pub use case::{Status, TestCase, Totals};
