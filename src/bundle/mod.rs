//! Run bundles, the source manifest with its Merkle tree, and the ledger (DESIGN.md §2.6).
