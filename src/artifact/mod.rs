//! Moving proofs: zip, the Actions artifact protocol (v4) and REST download (DESIGN.md §2.4).
