//! Slow clients cannot hold the store: a client trickling its request header is
//! disconnected within `serve --header-timeout`, a client stalling mid-body is cut off by
//! `--request-timeout`, and a normal client is served while slow clients hold
//! connections (and, past `--max-connections`, as soon as the header timeout frees a
//! slot). Each test runs against SQLite and PostgreSQL.

#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use harness::{Db, Server, database, key_pair, tenant};

both!(
    a_client_trickling_its_header_is_disconnected_within_the_header_timeout,
    a_client_stalling_mid_body_is_cut_off_by_the_request_timeout,
    a_normal_client_is_served_while_slow_clients_hold_connections,
    past_the_connection_cap_a_client_is_served_once_a_slow_one_times_out,
);

/// A server with `extra` flags and the read token of a tenant.
fn setup(db: Db, extra: &[&str]) -> Option<(tempfile::TempDir, Server, harness::Tenant)> {
    let t = tempfile::tempdir().unwrap();
    let url = database(db, t.path())?;
    let (_, public) = key_pair();
    let acme = tenant(&url, "acme", &public);
    let server = Server::start(&url, extra);
    Some((t, server, acme))
}

/// Whether the server has closed `s`: a read sees end of file or a reset. Data (an
/// error response) is read past; a read that times out means still open.
fn closed(s: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => {
            seen.extend_from_slice(&buf[..n]);
            false
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    }
}

/// Opens a connection that has sent the start of a request header and nothing more.
fn slow_client(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /api/runs HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    s
}

/// A normal `GET /api/runs`; returns its status and how long it took.
fn timed_get(server: &Server, token: &str) -> (u16, Duration) {
    let start = Instant::now();
    let r = server.get("/api/runs", token);
    (r.status, start.elapsed())
}

fn a_client_trickling_its_header_is_disconnected_within_the_header_timeout(db: Db) {
    let Some((_t, server, _)) = setup(db, &["--header-timeout", "2"]) else {
        return;
    };
    let mut s = slow_client(&server.addr);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut sent = 0usize;
    // One header byte every 300 ms: each byte arrives well within any per-read timeout,
    // the header as a whole never completes.
    while start.elapsed() < Duration::from_secs(20) {
        if s.write_all(b"X").is_err() || closed(&mut s, &mut seen) {
            let after = start.elapsed();
            assert!(
                after >= Duration::from_millis(1500),
                "disconnected after {after:?}, before the 2 s timeout"
            );
            assert!(
                after <= Duration::from_secs(6),
                "disconnected only after {after:?} with a 2 s header timeout"
            );
            assert!(sent > 3, "the client sent {sent} bytes");
            return;
        }
        sent += 1;
    }
    panic!(
        "a client trickling header bytes was still connected after 20 s ({sent} bytes sent; the server said {:?})",
        String::from_utf8_lossy(&seen)
    );
}

fn a_client_stalling_mid_body_is_cut_off_by_the_request_timeout(db: Db) {
    let Some((_t, server, acme)) = setup(db, &["--request-timeout", "2"]) else {
        return;
    };
    let mut s = TcpStream::connect(&server.addr).unwrap();
    let head = format!(
        "POST /api/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{\"files\":[",
        acme.publish
    );
    s.write_all(head.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        if closed(&mut s, &mut seen) {
            let after = start.elapsed();
            let answer = String::from_utf8_lossy(&seen);
            assert!(
                answer.starts_with("HTTP/1.1 503"),
                "the stalled request was not answered 503: {answer:?}"
            );
            assert!(answer.contains("\"TIMEOUT\""), "{answer}");
            assert!(
                after >= Duration::from_millis(1500) && after <= Duration::from_secs(6),
                "cut off after {after:?} with a 2 s request timeout"
            );
            return;
        }
    }
    panic!(
        "a client stalling mid-body was still connected after 20 s; the server said {:?}",
        String::from_utf8_lossy(&seen)
    );
}

fn a_normal_client_is_served_while_slow_clients_hold_connections(db: Db) {
    let Some((_t, server, acme)) = setup(db, &["--header-timeout", "30"]) else {
        return;
    };
    let slow: Vec<TcpStream> = (0..64).map(|_| slow_client(&server.addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let (status, took) = timed_get(&server, &acme.read);
        assert_eq!(status, 200);
        assert!(
            took < Duration::from_secs(5),
            "a normal request took {took:?} while {} slow clients were connected",
            slow.len()
        );
    }
    drop(slow);
}

fn past_the_connection_cap_a_client_is_served_once_a_slow_one_times_out(db: Db) {
    let Some((_t, server, acme)) = setup(db, &["--header-timeout", "2", "--max-connections", "4"])
    else {
        return;
    };
    let slow: Vec<TcpStream> = (0..4).map(|_| slow_client(&server.addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    // Every slot is held: the request waits for the slow clients' header timeout.
    let (status, took) = timed_get(&server, &acme.read);
    assert_eq!(status, 200);
    assert!(
        took >= Duration::from_millis(1000),
        "served after {took:?} although 4 slow clients held the 4 connection slots"
    );
    assert!(
        took <= Duration::from_secs(8),
        "served only after {took:?}: the header timeout did not free the slots"
    );
    drop(slow);
}
