//! in-toto attestation types: Statement v1, ResourceDescriptor and the test-result
//! predicate v0.1, as plain serde structs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The DSSE `payloadType` for in-toto statements.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The test-result predicate type.
pub const TEST_RESULT_PREDICATE: &str = "https://in-toto.io/attestation/test-result/v0.1";

/// A digest set: algorithm name (`sha256`, `gitBlob`, …) to lowercase hex.
pub type DigestSet = BTreeMap<String, String>;

/// A ResourceDescriptor (in-toto spec v1): at least one of `uri`, `digest`, `content`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// A name for the resource (a path for files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A URI for the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests of the resource's bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: DigestSet,
    /// The resource's bytes, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Where to download the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    /// The media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Extra data about the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An in-toto Statement v1 with a predicate of type `P`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement<P = serde_json::Value> {
    /// Always [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about; each element has a digest.
    pub subject: Vec<ResourceDescriptor>,
    /// The predicate's type URI.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: P,
}

/// A statement that breaks the in-toto Statement v1 rules.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    /// `_type` is not the Statement v1 URI.
    #[error("`_type` is `{0}`, expected `{STATEMENT_TYPE}`")]
    WrongType(String),
    /// `subject` is empty.
    #[error("`subject` is empty")]
    NoSubject,
    /// A subject has no digest or a digest value that is not lowercase hex.
    #[error("`subject[{index}]` has no digest or a digest that is not lowercase hex")]
    BadSubjectDigest {
        /// Which subject.
        index: usize,
    },
    /// `predicateType` is empty.
    #[error("`predicateType` is empty")]
    NoPredicateType,
    /// The payload is not a statement at all.
    #[error("not an in-toto statement: {0}")]
    Json(String),
}

impl<P> Statement<P> {
    /// Checks the Statement v1 rules every consumer relies on.
    pub fn validate(&self) -> Result<(), StatementError> {
        if self.type_ != STATEMENT_TYPE {
            return Err(StatementError::WrongType(self.type_.clone()));
        }
        if self.subject.is_empty() {
            return Err(StatementError::NoSubject);
        }
        for (index, s) in self.subject.iter().enumerate() {
            let ok = !s.digest.is_empty()
                && s.digest.values().all(|v| {
                    !v.is_empty() && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                });
            if !ok {
                return Err(StatementError::BadSubjectDigest { index });
            }
        }
        if self.predicate_type.is_empty() {
            return Err(StatementError::NoPredicateType);
        }
        Ok(())
    }
}

impl<P: for<'de> Deserialize<'de>> Statement<P> {
    /// Parses and validates statement JSON (the verified DSSE payload).
    pub fn from_json(bytes: &[u8]) -> Result<Self, StatementError> {
        let s: Self =
            serde_json::from_slice(bytes).map_err(|e| StatementError::Json(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }
}

/// `result` of the test-result predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TestResult {
    /// Every test passed.
    Passed,
    /// Passed with warnings.
    Warned,
    /// At least one failure (or nothing ran).
    Failed,
}

/// The test-result predicate v0.1, with proofgate's extension object. `N` is how a
/// test's name is held: owned when parsed, borrowed when a proof is being signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResultPredicate<X = serde_json::Value, N = String> {
    /// The overall result.
    pub result: TestResult,
    /// What configured the run (JUnit files, the script header …), with digests.
    pub configuration: Vec<ResourceDescriptor>,
    /// The run's URL, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Names of tests that passed.
    #[serde(default)]
    pub passed_tests: Vec<N>,
    /// Names of tests that passed with warnings (flaky, skipped).
    #[serde(default)]
    pub warned_tests: Vec<N>,
    /// Names of tests that failed or errored.
    #[serde(default)]
    pub failed_tests: Vec<N>,
    /// proofgate's extension: counts, commit, digests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proofgate: Option<X>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement() -> Statement<TestResultPredicate> {
        Statement {
            type_: STATEMENT_TYPE.into(),
            subject: vec![ResourceDescriptor {
                name: Some("scripts/a.py".into()),
                digest: [("sha256".to_string(), "ab".repeat(32))].into(),
                ..Default::default()
            }],
            predicate_type: TEST_RESULT_PREDICATE.into(),
            predicate: TestResultPredicate {
                result: TestResult::Passed,
                configuration: vec![],
                url: None,
                passed_tests: vec!["t".into()],
                warned_tests: vec![],
                failed_tests: vec![],
                proofgate: None,
            },
        }
    }

    #[test]
    fn statement_serialises_with_spec_field_names() {
        let json = serde_json::to_value(statement()).unwrap();
        assert_eq!(json["_type"], STATEMENT_TYPE);
        assert_eq!(json["predicateType"], TEST_RESULT_PREDICATE);
        assert_eq!(json["predicate"]["result"], "PASSED");
        assert_eq!(json["predicate"]["passedTests"][0], "t");
        let back: Statement<TestResultPredicate> =
            Statement::from_json(&serde_json::to_vec(&json).unwrap()).unwrap();
        assert_eq!(back, statement());
    }

    #[test]
    fn statement_validation_rejects_broken_subjects() {
        let mut s = statement();
        s.subject[0].digest.insert("sha256".into(), "AB".repeat(32));
        assert_eq!(
            s.validate(),
            Err(StatementError::BadSubjectDigest { index: 0 })
        );
        s.subject.clear();
        assert_eq!(s.validate(), Err(StatementError::NoSubject));
        let mut s = statement();
        s.type_ = "x".into();
        assert!(matches!(s.validate(), Err(StatementError::WrongType(_))));
    }
}
