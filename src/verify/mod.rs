//! The gate: proofs checked against the model, and its reports (DESIGN.md §2.5).
