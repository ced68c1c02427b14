//! Proof records, verdicts, canonical JSON (RFC 8785) and digests (DESIGN.md §2.3).
