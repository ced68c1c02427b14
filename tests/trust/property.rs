//! The gate's central property over random repositories: signed proofs of an honest,
//! passing run pass `verify`, and any single edit after the fact denies. The
//! repositories and edits come from [`crate::scenario`]; the same scenarios run under
//! libFuzzer as `fuzz/fuzz_targets/trust.rs`.

use proofgate::sign::SigningKey;
use proptest::prelude::*;

use crate::scenario::{Choices, Edit, check, scenario};

proptest! {
    // Each case writes a repository, generates and verifies twice (about 30 ms in a
    // debug build): 64 cases take a few seconds.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn an_honest_run_passes_and_any_single_edit_after_the_fact_denies(
        bytes in proptest::collection::vec(any::<u8>(), 0..96)
    ) {
        let sc = scenario(&mut Choices::new(&bytes));
        let (key, _) = SigningKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        if let Err(why) = check(dir.path(), &sc, &key) {
            return Err(TestCaseError::fail(format!("{why}\nscenario: {sc:#?}")));
        }
    }
}

/// A fixed scenario whose first script names a test file, a test folder with a nested
/// file and a pytest node id: the first one a deterministic byte stream yields.
fn rich_scenario() -> crate::scenario::Scenario {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..10_000 {
        let bytes: Vec<u8> = (0..96)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let sc = scenario(&mut Choices::new(&bytes));
        let s = &sc.scripts[0];
        let node_id = s.selectors.iter().any(|x| x.contains("::"));
        let folder = s.selectors.iter().any(|x| x.ends_with('/'));
        let file = s.selectors.iter().any(|x| x.ends_with(".py"));
        let nested = s.covered.iter().any(|f| f.contains("/sub/"));
        if node_id && folder && file && nested {
            return sc;
        }
    }
    panic!("no scenario with a file, a nested folder and a node id");
}

/// Every kind of edit on one repository with a file, a nested folder and a node id,
/// so each branch of the property runs whatever the random cases draw.
#[test]
fn every_kind_of_edit_denies_on_a_repository_with_files_folders_and_node_ids() {
    let (key, _) = SigningKey::generate().unwrap();
    let base = rich_scenario();
    let s = &base.scripts[0];
    let nested = s
        .covered
        .iter()
        .find(|f| f.contains("/sub/"))
        .unwrap()
        .clone();
    let edits = [
        Edit::ScriptByte {
            script: 0,
            at: s.body.0 + 3,
        },
        Edit::TestFileByte {
            file: nested,
            at: 5,
        },
        Edit::AddToFolder {
            file: format!("{}/new/test_added.py", s.folders[0]),
        },
        Edit::FailCase { case: s.cases[0] },
        Edit::ProofByte {
            script: 0,
            at: 100,
            xor: 0x20,
        },
        Edit::DeleteProof { script: 0 },
        Edit::DeleteEnvelope { script: 0 },
    ];
    for edit in edits {
        let sc = crate::scenario::Scenario {
            edit,
            ..base.clone()
        };
        let dir = tempfile::tempdir().unwrap();
        check(dir.path(), &sc, &key).unwrap_or_else(|why| panic!("{why}\n{sc:#?}"));
    }
}
