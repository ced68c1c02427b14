//! Signing keys, DSSE envelopes and in-toto statements (DESIGN.md §2.3).
