//! The RFC 9162 Merkle Tree Hash (MTH, §2.1.1) over SHA-256, with domain separation.
//!
//! - a leaf is `SHA-256(0x00 ‖ leaf data)`, an inner node `SHA-256(0x01 ‖ left ‖ right)`;
//! - a tree of `n > 1` leaves splits at `k`, the largest power of two smaller than `n`;
//!   equivalently, built bottom-up, an unpaired last node is carried up unchanged. It is
//!   never duplicated, so `{a, b, c}` and `{a, b, c, c}` have different roots;
//! - the empty tree is `SHA-256()` of nothing.
//!
//! In a source manifest the leaf data is `path ‖ 0x00 ‖ sha256(content)` (see
//! [`file_leaf_hash`]): the path is bound into the root, so a rename changes it, and a
//! file whose content happens to be two hashes cannot stand in for an inner node.

use sha2::{Digest as _, Sha256};

use crate::digest::Sha256Digest;

/// A 32-byte SHA-256 value inside the tree.
pub type Hash = [u8; 32];

/// Prefix byte of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix byte of an inner node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// `SHA-256(0x00 ‖ data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The leaf hash of one file in a source manifest:
/// `SHA-256(0x00 ‖ path ‖ 0x00 ‖ digest)`, where `path` is the file's `/`-separated path
/// relative to the root (UTF-8, never containing NUL) and `digest` the 32 raw bytes of the
/// SHA-256 of its content.
pub fn file_leaf_hash(path: &str, digest: &Sha256Digest) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(path.as_bytes());
    h.update([0x00]);
    h.update(digest.as_bytes());
    h.finalize().into()
}

/// The Merkle Tree Hash of a list of leaf hashes (already passed through [`leaf_hash`] or
/// [`file_leaf_hash`]). Bottom-up, carrying an unpaired node up unchanged, which gives
/// exactly the RFC 9162 §2.1.1 shape. The empty list hashes to `SHA-256()`.
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        _ => {
            let mut level: Vec<Hash> = leaves
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        node_hash(&p[0], &p[1])
                    } else {
                        p[0]
                    }
                })
                .collect();
            while level.len() > 1 {
                let mut w = 0;
                let mut r = 0;
                while r < level.len() {
                    level[w] = if r + 1 < level.len() {
                        node_hash(&level[r], &level[r + 1])
                    } else {
                        level[r]
                    };
                    w += 1;
                    r += 2;
                }
                level.truncate(w);
            }
            level[0]
        }
    }
}

/// [`root_of_leaf_hashes`] on up to `threads` threads: the tree is split where RFC 9162
/// splits it (at the largest power of two below the leaf count) and the two subtrees are
/// hashed side by side, down to subtrees of [`PAR_MIN_LEAVES`]. Same result on any thread
/// count.
pub fn root_of_leaf_hashes_par(leaves: &[Hash], threads: usize) -> Hash {
    root_par(leaves, threads, PAR_MIN_LEAVES)
}

/// Below this many leaves a subtree is hashed on one thread (a thread costs more than the
/// few thousand node hashes it would take over).
pub const PAR_MIN_LEAVES: usize = 8192;

fn root_par(leaves: &[Hash], threads: usize, min_leaves: usize) -> Hash {
    let n = leaves.len();
    if threads < 2 || n < min_leaves.max(2) {
        return root_of_leaf_hashes(leaves);
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    let (left, right) = leaves.split_at(k);
    let left_threads = threads / 2;
    let (l, r) = std::thread::scope(|s| {
        let l = s.spawn(|| root_par(left, left_threads, min_leaves));
        let r = root_par(right, threads - left_threads, min_leaves);
        (l.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), r)
    });
    node_hash(&l, &r)
}

/// The Merkle Tree Hash of a list of raw leaf data (`MTH(D[n])` of RFC 9162 §2.1.1).
pub fn mth<D: AsRef<[u8]>>(data: &[D]) -> Hash {
    let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d.as_ref())).collect();
    root_of_leaf_hashes(&leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::hex_encode;

    /// RFC 9162 §2.1.1 written as the RFC writes it: recursive, split at the largest
    /// power of two smaller than `n`. Used to check the bottom-up form.
    fn mth_recursive(data: &[Vec<u8>]) -> Hash {
        match data.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(&data[0]),
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&mth_recursive(&data[..k]), &mth_recursive(&data[k..]))
            }
        }
    }

    #[test]
    fn the_parallel_root_equals_the_sequential_root_for_every_size_and_thread_count() {
        let leaves: Vec<Hash> = (0..1100u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        for n in (0..=70).chain([127, 128, 129, 255, 256, 257, 1000, 1023, 1024, 1025, 1100]) {
            let want = root_of_leaf_hashes(&leaves[..n]);
            for threads in [0, 1, 2, 3, 4, 8] {
                for min in [2, 3, 16, 100] {
                    assert_eq!(
                        root_par(&leaves[..n], threads, min),
                        want,
                        "n={n} t={threads} min={min}"
                    );
                }
            }
            assert_eq!(root_of_leaf_hashes_par(&leaves[..n], 2), want, "n={n}");
        }
    }

    /// The certificate-transparency reference leaves (transparency-dev/merkle
    /// `testonly/constants.go`, also RFC 6962's reference implementation tests).
    fn ct_leaves() -> Vec<Vec<u8>> {
        vec![
            vec![],
            vec![0x00],
            vec![0x10],
            vec![0x20, 0x21],
            vec![0x30, 0x31],
            vec![0x40, 0x41, 0x42, 0x43],
            (0x50..0x58).collect(),
            (0x60..0x70).collect(),
        ]
    }

    /// Roots of the first 1..=8 reference leaves, from the same source.
    const CT_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn empty_tree_is_the_hash_of_nothing() {
        let empty: [&[u8]; 0] = [];
        assert_eq!(
            hex_encode(&mth(&empty)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn mth_matches_the_certificate_transparency_reference_roots() {
        let leaves = ct_leaves();
        for n in 1..=leaves.len() {
            assert_eq!(
                hex_encode(&mth(&leaves[..n])),
                CT_ROOTS[n - 1],
                "tree of {n} leaves"
            );
            assert_eq!(hex_encode(&mth_recursive(&leaves[..n])), CT_ROOTS[n - 1]);
        }
    }

    #[test]
    fn bottom_up_tree_has_the_rfc_shape_for_every_size_below_300() {
        let data: Vec<Vec<u8>> = (0u32..300).map(|i| i.to_be_bytes().to_vec()).collect();
        for n in 0..data.len() {
            assert_eq!(mth(&data[..n]), mth_recursive(&data[..n]), "size {n}");
        }
    }

    #[test]
    fn odd_node_is_promoted_not_duplicated() {
        let abc = mth(&[b"a", b"b", b"c"]);
        let abcc = mth(&[b"a", b"b", b"c", b"c"]);
        assert_ne!(abc, abcc);
        let expected = node_hash(
            &node_hash(&leaf_hash(b"a"), &leaf_hash(b"b")),
            &leaf_hash(b"c"),
        );
        assert_eq!(abc, expected);
    }

    #[test]
    fn a_leaf_holding_two_hashes_is_not_an_inner_node() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concat = a.to_vec();
        concat.extend_from_slice(&b);
        assert_ne!(mth(&[concat]), mth(&[b"a", b"b"]));
    }

    #[test]
    fn file_leaf_binds_the_path() {
        let d = Sha256Digest::of(b"print('hi')\n");
        assert_ne!(file_leaf_hash("a.py", &d), file_leaf_hash("b.py", &d));
        let mut manual = vec![0x00];
        manual.extend_from_slice(b"a.py\0");
        manual.extend_from_slice(d.as_bytes());
        assert_eq!(
            file_leaf_hash("a.py", &d),
            <Hash>::from(Sha256::digest(&manual))
        );
    }
}
