//! The `proofgate map` report: per script, the cases that matched it and, for each
//! declared test file, whether any case matched.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::{Evidence, Mapping, Model};
use crate::junit::{Status, TestCase};

/// One case in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseRef {
    /// The JUnit file the case came from.
    pub source: String,
    /// The case's file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `classname`.
    pub classname: String,
    /// `name`.
    pub name: String,
    /// Outcome.
    pub status: Status,
}

/// One script in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScriptReport {
    /// Script id.
    pub id: String,
    /// Script path.
    pub path: String,
    /// Evidence level (`None`: ungoverned).
    pub evidence: Option<Evidence>,
    /// Its selectors, as written.
    pub selectors: Vec<String>,
    /// Declared test file → whether a case matched it.
    pub test_files: BTreeMap<String, bool>,
    /// The matching cases, in input order.
    pub cases: Vec<CaseRef>,
}

/// What `proofgate map` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapReport {
    /// Every governed script, sorted by id (the first script of a duplicated id).
    pub scripts: Vec<ScriptReport>,
    /// Cases no script selected.
    pub unmatched: Vec<CaseRef>,
    /// Number of cases read.
    pub cases: usize,
}

fn case_ref(c: &TestCase, source: &str) -> CaseRef {
    CaseRef {
        source: source.to_owned(),
        file: c.file.clone(),
        classname: c.classname.clone(),
        name: c.name.clone(),
        status: c.status,
    }
}

/// Builds the report. `sources[i]` names the JUnit file of `cases[i]`.
pub fn map_report(
    model: &Model,
    mapping: &Mapping,
    cases: &[TestCase],
    sources: &[String],
) -> MapReport {
    let src = |i: usize| sources.get(i).map_or("", String::as_str);
    let mut scripts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in &model.scripts {
        // Ungoverned scripts certify nothing; a duplicated id is reported once (its
        // first script), as `map_cases` keeps it, and `lint` names both places.
        if !s.is_governed() || !seen.insert(&s.id) {
            continue;
        }
        let m = mapping.scripts.get(&s.id);
        scripts.push(ScriptReport {
            id: s.id.to_string(),
            path: s.path.clone(),
            evidence: s.evidence,
            selectors: s.selectors.iter().map(ToString::to_string).collect(),
            test_files: m.map(|m| m.test_files.clone()).unwrap_or_default(),
            cases: m
                .map(|m| {
                    m.cases
                        .iter()
                        .filter_map(|&i| cases.get(i).map(|c| case_ref(c, src(i))))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    let unmatched = mapping
        .unmatched(cases.len())
        .into_iter()
        .filter_map(|i| cases.get(i).map(|c| case_ref(c, src(i))))
        .collect();
    MapReport {
        scripts,
        unmatched,
        cases: cases.len(),
    }
}

fn case_label(c: &CaseRef) -> String {
    if c.classname.is_empty() {
        c.name.clone()
    } else {
        format!("{}::{}", c.classname, c.name)
    }
}

impl MapReport {
    /// Renders the human-readable form.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        for s in &self.scripts {
            let ev = s.evidence.map_or("-", |e| e.as_str());
            let n = s.cases.len();
            let _ = writeln!(
                out,
                "{}  {}  [{ev}]  {n} {}",
                s.id,
                s.path,
                if n == 1 { "case" } else { "cases" }
            );
            for (f, hit) in &s.test_files {
                let _ = writeln!(
                    out,
                    "  test file  {f}  {}",
                    if *hit { "matched" } else { "NO CASE" }
                );
            }
            for c in &s.cases {
                let _ = writeln!(out, "  {:<9}  {}", c.status.as_str(), case_label(c));
            }
        }
        let matched = self.cases - self.unmatched.len();
        let _ = writeln!(
            out,
            "{} {} read, {matched} matched a script, {} matched none",
            self.cases,
            if self.cases == 1 { "case" } else { "cases" },
            self.unmatched.len()
        );
        for c in &self.unmatched {
            let _ = writeln!(out, "  unmatched  {}  ({})", case_label(c), c.source);
        }
        out
    }
}
