//! The gate: proofs checked against the model, and its reports (DESIGN.md §2.5).
//!
//! [`gate::evaluate`] is a pure function over values; [`load`] gathers those values from
//! the checkout and a proofs directory; [`render`] turns the report into a table,
//! Markdown, annotations and outputs.

pub mod base;
mod combine;
pub mod evidence;
pub mod gate;
mod input;
pub mod keys;
pub mod load;
pub mod locked;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod stricter;
pub mod view;

pub use gate::{
    CheckoutFacts, EnvelopeFailure, EnvelopeVerifier, Evidence, GateInput, GatePolicy, GateScript,
    Impact, ProofInput, VerifiedEnvelope, evaluate,
};
pub use report::{Reason, Report, ScriptReport, Verdict};
