//! The certification model: scripts and their headers, `proofgate.yaml`, test
//! selectors, policy and the certification matrix (DESIGN.md §2.1).
