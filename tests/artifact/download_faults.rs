//! `proofgate download` from this run (Twirp) against wiremock and a raw TCP server that
//! resets connections and cuts bodies short.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::*;

#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Close the connection with a reset before answering.
    Reset,
    /// Promise the whole body, send half, close.
    Truncate,
    /// Answer properly.
    Full,
}

/// A blob server on 127.0.0.1 that follows `script` connection by connection (the last
/// entry repeats). Returns its URL and the number of connections served.
pub async fn scripted_blob(body: Vec<u8>, script: Vec<Behaviour>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/blob/a.zip?sig=x", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        // Bounded: at most 50 connections, then the server stops.
        for _ in 0..50 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let i = seen.fetch_add(1, Ordering::SeqCst);
            let b = script[i.min(script.len() - 1)];
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 65536 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/zip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                match b {
                    Behaviour::Reset => {
                        #[allow(deprecated)] // a reset is exactly what this test wants
                        let _ = sock.set_linger(Some(std::time::Duration::ZERO));
                        drop(sock);
                    }
                    Behaviour::Truncate => {
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&body[..body.len() / 2]).await;
                        let _ = sock.shutdown().await;
                    }
                    Behaviour::Full => {
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&body).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    (url, count)
}

const SAMPLE: &[(&str, &[u8])] = &[
    ("proof-a.json", b"{\"verdict\":\"PASS\"}"),
    ("sub/proof-b.json", b"{}"),
];

fn sample_zip() -> Vec<u8> {
    zip_of(SAMPLE)
}

/// Serves `zip` as the blob `/blob/<name>.zip` of `server`.
async fn serve_zip(server: &wiremock::MockServer, name: &str, zip: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(format!("/blob/{name}.zip")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(zip))
        .mount(server)
        .await;
}

/// `proofgate download <select…> --path <dest>` from this run, served by `server`.
async fn download(
    server: &wiremock::MockServer,
    select: &[&str],
    dest: &std::path::Path,
) -> std::process::Output {
    let mut args = vec!["download"];
    args.extend_from_slice(select);
    args.extend(["--path", dest.to_str().unwrap()]);
    proofgate(&args, &results_vars(server)).await
}

/// The digest the results service lists for an artifact.
enum Listed {
    /// The digest of the zip served.
    Right,
    /// The digest of other bytes.
    Of(&'static [u8]),
    /// None (as act's server).
    Absent,
}

/// An artifact the results service lists and blob storage serves.
struct Served {
    name: &'static str,
    entries: &'static [(&'static str, &'static [u8])],
    digest: Listed,
}

/// A download that must fail and write nothing: what is served, the selecting flags, the
/// destination under a fresh folder, the exit code and what stderr must say.
struct Refusal<'a> {
    served: &'a [Served],
    select: &'a [&'a str],
    dest: &'a str,
    exit: i32,
    says: &'a [&'a str],
}

/// Runs a [`Refusal`] and checks it: the exit code, every message, no file anywhere and
/// nothing (not even a temporary folder) beside the destination. Returns the fresh folder
/// and the service for further steps.
async fn refused(case: Refusal<'_>) -> (tempfile::TempDir, wiremock::MockServer) {
    let listed: Vec<_> = case
        .served
        .iter()
        .map(|s| {
            let digest = match s.digest {
                Listed::Right => Some(sha256(&zip_of(s.entries))),
                Listed::Of(bytes) => Some(sha256(bytes)),
                Listed::Absent => None,
            };
            (s.name, digest)
        })
        .collect();
    let server = results_service(&listed, "").await;
    for s in case.served {
        serve_zip(&server, s.name, zip_of(s.entries)).await;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(case.dest);
    let o = download(&server, case.select, &dest).await;
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(case.exit), "{e}");
    for needle in case.says {
        assert!(e.contains(needle), "expected `{needle}` in: {e}");
    }
    assert!(tree(tmp.path()).is_empty(), "{:?}", tree(tmp.path()));
    let beside = dest.parent().unwrap();
    assert!(listing(beside).is_empty(), "{:?}", listing(beside));
    (tmp, server)
}

#[tokio::test]
async fn download_recovers_from_a_reset_and_a_truncated_body() {
    let zip = sample_zip();
    let (url, count) = scripted_blob(
        zip.clone(),
        vec![Behaviour::Reset, Behaviour::Truncate, Behaviour::Full],
    )
    .await;
    let server = results_service(&[("proofs", Some(sha256(&zip)))], &url).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let o = download(&server, &["--name", "proofs"], &dest).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert!(stderr(&o).contains("digest checked"), "{}", stderr(&o));
    let files = tree(&dest);
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[0],
        ("proof-a.json".into(), b"{\"verdict\":\"PASS\"}".to_vec())
    );
    assert_eq!(listing(tmp.path()), ["out"], "no temporary folder left");
}

#[tokio::test]
async fn download_cut_off_every_time_fails_with_exit_3_and_leaves_nothing() {
    let zip = sample_zip();
    let (url, count) = scripted_blob(zip.clone(), vec![Behaviour::Truncate]).await;
    let server = results_service(&[("proofs", Some(sha256(&zip)))], &url).await;
    let tmp = tempfile::tempdir().unwrap();
    let o = download(&server, &["--name", "proofs"], &tmp.path().join("out")).await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("downloading artifact `proofs` from blob storage failed after 5 attempt(s)"),
        "{e}"
    );
    assert!(e.contains("cut off"), "{e}");
    assert_eq!(count.load(Ordering::SeqCst), 5);
    assert!(listing(tmp.path()).is_empty(), "{:?}", listing(tmp.path()));
}

#[tokio::test]
async fn download_with_a_wrong_digest_fails_and_writes_nothing() {
    let wrong = sha256(b"something else");
    let (tmp, server) = refused(Refusal {
        served: &[Served {
            name: "proofs",
            entries: SAMPLE,
            digest: Listed::Of(b"something else"),
        }],
        select: &["--name", "proofs"],
        dest: "out",
        exit: 3,
        says: &["digest mismatch for artifact `proofs`", &wrong],
    })
    .await;

    // Into an existing folder: its files stay, nothing is added.
    let dest = tmp.path().join("out");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep.txt"), b"mine").unwrap();
    let o = download(&server, &["--name", "proofs"], &dest).await;
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(listing(&dest), ["keep.txt"]);
}

#[tokio::test]
async fn download_retries_a_503_from_blob_storage() {
    let server = results_service(&[("proofs", None)], "").await;
    Mock::given(method("GET"))
        .and(path("/blob/proofs.zip"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    serve_zip(&server, "proofs", sample_zip()).await;
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let o = download(&server, &["--name", "proofs"], &dest).await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("digest checked"),
        "act gives no digest: nothing to check"
    );
    assert_eq!(tree(&dest).len(), 2);
}

#[tokio::test]
async fn download_of_a_missing_name_is_a_clear_failure() {
    refused(Refusal {
        served: &[Served {
            name: "other",
            entries: SAMPLE,
            digest: Listed::Absent,
        }],
        select: &["--name", "proofs"],
        dest: "o",
        exit: 3,
        says: &["no artifact matches the name `proofs` in this workflow run"],
    })
    .await;
}

#[tokio::test]
async fn download_refuses_a_zip_that_climbs_out_and_writes_nothing() {
    // A hostile archive is bad input (exit 2), not a transport failure.
    refused(Refusal {
        served: &[Served {
            name: "proofs",
            entries: &[("ok.json", b"{}"), ("../../evil.sh", b"rm -rf /")],
            digest: Listed::Right,
        }],
        select: &["--name", "proofs"],
        dest: "a/b/out",
        exit: 2,
        says: &["refusing to unpack artifact `proofs`"],
    })
    .await;
}

#[tokio::test]
async fn download_by_pattern_separates_or_merges_shards() {
    let one = zip_of(&[("proof-a.json", b"A"), ("common.json", b"same")]);
    let two = zip_of(&[("proof-b.json", b"B"), ("common.json", b"same")]);
    let server = results_service(
        &[
            ("proofs-1", Some(sha256(&one))),
            ("proofs-2", Some(sha256(&two))),
            ("logs", None),
        ],
        "",
    )
    .await;
    serve_zip(&server, "proofs-1", one).await;
    serve_zip(&server, "proofs-2", two).await;
    let tmp = tempfile::tempdir().unwrap();
    for (select, folder, want) in [
        (
            &["--pattern", "proofs-*"][..],
            "sep",
            &[
                "proofs-1/common.json",
                "proofs-1/proof-a.json",
                "proofs-2/common.json",
                "proofs-2/proof-b.json",
            ][..],
        ),
        (
            &["--pattern", "proofs-*", "--merge-multiple"][..],
            "merged",
            &["common.json", "proof-a.json", "proof-b.json"][..],
        ),
    ] {
        let dest = tmp.path().join(folder);
        let o = download(&server, select, &dest).await;
        assert!(o.status.success(), "{}", stderr(&o));
        let names: Vec<String> = tree(&dest).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, want);
    }
}

#[tokio::test]
async fn merge_multiple_refuses_two_different_files_at_one_path() {
    refused(Refusal {
        served: &[
            Served {
                name: "proofs-1",
                entries: &[("proof-a.json", b"PASS")],
                digest: Listed::Absent,
            },
            Served {
                name: "proofs-2",
                entries: &[("proof-a.json", b"FAIL")],
                digest: Listed::Absent,
            },
        ],
        select: &["--pattern", "proofs-*", "--merge-multiple"],
        dest: "merged",
        exit: 3,
        says: &["`proof-a.json` is in both `proofs-1` and `proofs-2` with different content"],
    })
    .await;
}
