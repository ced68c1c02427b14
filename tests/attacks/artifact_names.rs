//! Finding 5: an artifact's name and a zip's entries become paths under `--path`; a
//! hostile name must be refused (exit 2) before anything is written, and the size and
//! entry limits hold for the whole download, not per artifact.

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;
use crate::helpers::command_lines;

/// A results service listing `names` (each with the same zip), every blob answered.
async fn serve(names: &[&str], zip: &[u8]) -> MockServer {
    let listed: Vec<(&str, Option<String>)> = names.iter().map(|n| (*n, None)).collect();
    let server = results_service(&listed, "").await;
    Mock::given(method("GET"))
        .and(path_regex_blob())
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip.to_vec()))
        .mount(&server)
        .await;
    server
}

fn path_regex_blob() -> wiremock::matchers::PathRegexMatcher {
    wiremock::matchers::path_regex("^/blob/")
}

/// Downloads every artifact (no merging: each into `<path>/<name>/`) into
/// `<tmp>/work/out`, and returns the output and the temporary folder.
async fn download_all(names: &[&str], extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let zip = zip_of(&[("proof-a.json", b"{}")]);
    let server = serve(names, &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("work/out");
    let mut args = vec!["download", "--path", dest.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = proofgate(&args, &results_vars(&server)).await;
    (o, tmp)
}

async fn refused_and_nothing_written(bad: &str) {
    let (o, tmp) = download_all(&[bad, "proofs-ok"], &[]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
    assert!(err.contains("refusing artifact"), "{bad:?}: {err}");
    assert!(command_lines(&err).is_empty(), "{bad:?}: {err}");
    assert!(!err.contains('\r'), "{bad:?}: {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{bad:?}: {err}");
    assert!(
        tree(tmp.path()).is_empty(),
        "{bad:?}: written: {:?}",
        tree(tmp.path())
    );
    assert_eq!(listing(tmp.path()), Vec::<String>::new(), "{bad:?}");
}

#[tokio::test]
async fn finding_5_artifact_named_dotdot_cannot_write_outside_the_target() {
    refused_and_nothing_written("..").await;
}

#[tokio::test]
async fn finding_5_artifact_named_dotdot_slash_x_cannot_write_outside_the_target() {
    refused_and_nothing_written("../x").await;
}

#[tokio::test]
async fn finding_5_artifact_named_with_a_slash_cannot_nest_folders() {
    refused_and_nothing_written("a/b").await;
}

#[tokio::test]
async fn finding_5_artifact_named_dot_cannot_spill_into_the_target() {
    refused_and_nothing_written(".").await;
}

#[tokio::test]
async fn finding_5_artifact_name_with_a_newline_is_refused_and_shown_escaped() {
    refused_and_nothing_written("x\n::warning::forged").await;
    let (o, _tmp) = download_all(&["x\n::warning::forged", "proofs-ok"], &[]).await;
    assert!(
        stderr(&o).contains("x\\n::warning::forged"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn finding_5_a_single_artifact_named_dotdot_by_name_is_refused_too() {
    let zip = zip_of(&[("proofgate.yaml", b"trusted_keys: []\n")]);
    let server = serve(&[".."], &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("work/out");
    let o = proofgate(
        &["download", "--name", "..", "--path", dest.to_str().unwrap()],
        &results_vars(&server),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(tree(tmp.path()).is_empty());
}

#[tokio::test]
async fn finding_5_zip_entry_with_a_newline_is_refused_escaped() {
    let zip = zip_of(&[("ok.json", b"{}"), ("a\n::warning::forged.json", b"{}")]);
    let server = serve(&["proofs"], &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let o = proofgate(
        &["download", "--path", dest.to_str().unwrap()],
        &results_vars(&server),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("a\\n::warning::forged.json"), "{err}");
    assert!(command_lines(&err).is_empty(), "{err}");
    assert!(tree(tmp.path()).is_empty());
}

#[cfg(unix)]
#[tokio::test]
async fn finding_5_a_symlink_in_the_target_named_like_an_artifact_is_not_written_through() {
    let zip = zip_of(&[("proof-a.json", b"{}")]);
    let server = serve(&["proofs-a", "proofs-b"], &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let dest = tmp.path().join("out");
    std::fs::create_dir_all(&dest).unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("proofs-a")).unwrap();
    let o = proofgate(
        &["download", "--path", dest.to_str().unwrap()],
        &results_vars(&server),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(listing(&outside), Vec::<String>::new());
}

#[tokio::test]
async fn finding_10_size_limit_holds_for_the_whole_download_not_each_artifact() {
    let zip = zip_of(&[("proof-a.json", &[b'x'; 600])]);
    let server = serve(&["proofs-1", "proofs-2"], &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let dest = dest.to_str().unwrap();
    // Each artifact alone fits.
    let one = proofgate(
        &[
            "download",
            "--name",
            "proofs-1",
            "--path",
            dest,
            "--max-size",
            "1000",
        ],
        &results_vars(&server),
    )
    .await;
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
    // Together they do not.
    let both = proofgate(
        &["download", "--path", dest, "--max-size", "1000"],
        &results_vars(&server),
    )
    .await;
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
    assert!(stderr(&both).contains("limit"), "{}", stderr(&both));
    assert!(tree(tmp.path()).is_empty());
}

#[tokio::test]
async fn finding_10_entry_limit_holds_for_the_whole_download_not_each_artifact() {
    let zip = zip_of(&[("a.json", b"{}"), ("b.json", b"{}")]);
    let server = serve(&["proofs-1", "proofs-2"], &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let o = proofgate(
        &[
            "download",
            "--path",
            dest.to_str().unwrap(),
            "--max-entries",
            "3",
        ],
        &results_vars(&server),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("entries"), "{}", stderr(&o));
    assert!(tree(tmp.path()).is_empty());
}

#[tokio::test]
async fn finding_10_duplicate_zip_entries_are_refused_not_last_wins() {
    // The zip writer refuses duplicates: write two names of one length, then make the
    // second equal to the first (the CRC covers the data, not the name).
    let mut zip = zip_of(&[
        ("proof-a.json", b"{\"verdict\":\"FAIL\"}"),
        ("proof-b.json", b"{\"verdict\":\"PASS\"}"),
    ]);
    let (from, to) = (b"proof-b.json", b"proof-a.json");
    let mut i = 0;
    while let Some(at) = zip[i..].windows(from.len()).position(|w| w == from) {
        zip[i + at..i + at + from.len()].copy_from_slice(to);
        i += at + from.len();
    }
    let server = serve(&["proofs"], &zip).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let o = proofgate(
        &["download", "--path", dest.to_str().unwrap()],
        &results_vars(&server),
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("more than once"), "{}", stderr(&o));
    assert!(tree(tmp.path()).is_empty());
}
