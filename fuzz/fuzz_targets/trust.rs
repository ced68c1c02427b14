//! Fuzzes the gate's central property: the input bytes choose a small repository
//! (scripts whose `test.command` names test files, nested test folders and pytest node
//! ids), a passing JUnit report and one edit made after the proofs were generated
//! (`tests/trust/scenario.rs`, shared with the property test in `tests/trust.rs`).
//! Signed proofs of the honest run must pass `verify` with the key trusted; after the
//! edit the gate must deny the edited script, with the reason the edit calls for.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use proofgate::sign::SigningKey;

#[path = "../../tests/trust/scenario.rs"]
mod scenario;

/// One key for the whole run: generating one per input would dominate the time.
fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("a signing key").0)
}

fuzz_target!(|data: &[u8]| {
    let sc = scenario::scenario(&mut scenario::Choices::new(data));
    let dir = tempfile::tempdir().expect("a temporary directory");
    if let Err(why) = scenario::check(dir.path(), &sc, key()) {
        panic!("{why}\nscenario: {sc:#?}");
    }
});
