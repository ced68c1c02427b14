//! [`crate::model::map_cases`] with an index: the same mapping, computed without trying
//! every selector of every script on every case.
//!
//! A case with a `file` can only be selected by a path or node-id selector naming that
//! file or one of its ancestor directories, or by a selector that does not look at the
//! file at all (`classname:`, `name:`, `cargo:`, the empty directory). The index looks
//! those candidates up by path; each candidate is then checked with the selector's own
//! `matches`, exactly as `map_cases` does. Cases without a `file` are checked against
//! every script. The result is equal to `map_cases` (tested below on random cases);
//! the cost drops from scripts × cases to about cases × (candidates + path depth).

use std::collections::HashMap;

use crate::junit::TestCase;
use crate::model::{CaseView, Mapping, Model, ScriptMapping, Selector};

/// Maps cases to scripts; equal to [`crate::model::map_cases`].
pub fn map_cases_indexed(model: &Model, cases: &[TestCase]) -> Mapping {
    let scripts = &model.scripts;
    let mut by_path: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut global: Vec<usize> = Vec::new();
    for (si, s) in scripts.iter().enumerate() {
        let mut is_global = false;
        for sel in &s.selectors {
            match sel {
                Selector::Path { path, .. } if !path.is_empty() => {
                    by_path.entry(path.as_str()).or_default().push(si);
                }
                Selector::NodeId { file, .. } => {
                    by_path.entry(file.as_str()).or_default().push(si);
                }
                _ => is_global = true,
            }
        }
        if is_global {
            global.push(si);
        }
    }

    let mut per_script: Vec<ScriptMapping> = scripts
        .iter()
        .map(|s| ScriptMapping {
            cases: Vec::new(),
            test_files: s.test_files.iter().map(|f| (f.clone(), false)).collect(),
        })
        .collect();
    let all: Vec<usize> = (0..scripts.len()).collect();
    let mut stamp = vec![usize::MAX; scripts.len()];
    let mut candidates: Vec<usize> = Vec::new();

    for (i, case) in cases.iter().enumerate() {
        let view = CaseView::new(case);
        candidates.clear();
        match &view.file {
            None => candidates.extend_from_slice(&all),
            Some(f) => {
                let mut add = |list: &[usize]| {
                    for &si in list {
                        if stamp[si] != i {
                            stamp[si] = i;
                            candidates.push(si);
                        }
                    }
                };
                if let Some(l) = by_path.get(f.as_str()) {
                    add(l);
                }
                for (pos, b) in f.bytes().enumerate() {
                    if b == b'/'
                        && pos > 0
                        && let Some(l) = by_path.get(&f[..pos])
                    {
                        add(l);
                    }
                }
                add(&global);
            }
        }
        for &si in &candidates {
            let m = &mut per_script[si];
            let mut hit = false;
            for sel in &scripts[si].selectors {
                if sel.matches(&view) {
                    hit = true;
                    // A matching node id has already matched its file.
                    if let Some(f) = sel.test_file()
                        && let Some(v) = m.test_files.get_mut(f)
                    {
                        *v = true;
                    }
                }
            }
            if hit {
                m.cases.push(i);
            }
        }
    }

    let mut out = Mapping::default();
    for (s, m) in scripts.iter().zip(per_script) {
        out.scripts.entry(s.id.clone()).or_insert(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::junit::Status;
    use crate::model::map_cases;
    use std::path::Path;

    fn models() -> Vec<Model> {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        ["proof/repo", "model/goldenpath"]
            .iter()
            .filter_map(|d| {
                let root = base.join(d);
                root.exists()
                    .then(|| Model::load(&root, &root.join("proofgate.yaml"), false).ok())
                    .flatten()
                    .map(|(m, _)| m)
            })
            .collect()
    }

    /// Cases whose files, class names and names come from the models' own selectors
    /// and test files, mangled, so that every selector kind gets hits and near misses.
    fn random_cases(model: &Model, n: usize, seed: u64) -> Vec<TestCase> {
        let mut files: Vec<Option<String>> = vec![None, Some("./".into())];
        let mut classes: Vec<String> = vec![String::new(), "semver_check".into()];
        for s in &model.scripts {
            for f in &s.test_files {
                files.push(Some(f.clone()));
                files.push(Some(format!("./{f}")));
                files.push(Some(format!("{f}/inner/test_x.py")));
                files.push(Some(format!("{f}x")));
                let module = f.trim_end_matches(".py").replace('/', ".");
                classes.push(module.clone());
                classes.push(format!("{module}.TestA"));
            }
            classes.push(s.id.as_str().to_owned());
        }
        let names = ["test_a", "test_b[1]", "tests::parses_three_parts", "x"];
        let mut state = seed;
        let mut next = move |k: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % k
        };
        (0..n)
            .map(|_| TestCase {
                file: files[next(files.len())].clone(),
                classname: classes[next(classes.len())].clone(),
                name: names[next(names.len())].into(),
                status: Status::Passed,
                attempts: 1,
                duration: 0.0,
                line: None,
                message: None,
            })
            .collect()
    }

    #[test]
    fn indexed_mapping_equals_the_model_mapping() {
        let models = models();
        assert!(!models.is_empty());
        for (k, model) in models.iter().enumerate() {
            for seed in 0..5u64 {
                let cases = random_cases(model, 3000, seed * 31 + k as u64);
                let want = map_cases(model, &cases);
                let got = map_cases_indexed(model, &cases);
                assert_eq!(got, want, "model {k}, seed {seed}");
                assert!(
                    want.scripts.values().any(|m| !m.cases.is_empty()),
                    "the random cases must select something"
                );
            }
        }
    }
}
