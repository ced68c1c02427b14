//! The store under faults: a server killed with SIGKILL while it stores a large run
//! leaves either the whole run or nothing after a restart, never a part of it.

#[allow(dead_code)]
#[path = "store/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Db, Server, body_of, database, many_proofs, tenant};
use serde_json::Value;

both!(a_server_killed_mid_publish_leaves_no_partial_run);

const PROOFS: usize = 1000;

fn a_server_killed_mid_publish_leaves_no_partial_run(db: Db) {
    let t = tempfile::tempdir().unwrap();
    let Some(url) = database(db, t.path()) else {
        return;
    };
    let (dir, public) = many_proofs(&t.path().join("repo"), PROOFS);
    let body = body_of(&dir);
    let mut acme = None;
    let mut saw_absent = false;
    // Kill later and later: the early kills land before or during the transaction.
    for delay_ms in [100u64, 400, 800, 1200, 1600, 2000, 2600, 3200, 4000] {
        let mut server = Server::start(&url, &[]);
        let tokens = acme.get_or_insert_with(|| tenant(&url, "acme", &public));
        let publish_token = tokens.publish.clone();
        let addr = server.addr.clone();
        let body2 = body.clone();
        let sender = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
                return;
            };
            let head = format!(
                "POST /api/runs HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {publish_token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body2.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body2);
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        // SIGKILL: no shutdown, no rollback by the process.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        sender.join().unwrap();
        drop(server);

        let server = Server::start(&url, &[]);
        let runs = server.get("/api/runs", &tokens.read).json();
        let runs = runs["runs"].as_array().unwrap();
        match runs.len() {
            0 => saw_absent = true,
            1 => {
                let id = runs[0]["id"].as_str().unwrap();
                assert_eq!(runs[0]["proofs"], PROOFS as u64);
                let run: Value = server.get(&format!("/api/runs/{id}"), &tokens.read).json();
                assert_eq!(
                    run["scripts"].as_array().unwrap().len(),
                    PROOFS,
                    "a partial run is visible"
                );
                let export = server
                    .get(&format!("/api/runs/{id}/export"), &tokens.read)
                    .json();
                assert_eq!(export["files"].as_array().unwrap().len(), 2 * PROOFS);
                assert!(
                    saw_absent || delay_ms > 100,
                    "the run was stored before the first kill landed"
                );
                return;
            }
            n => panic!("{n} runs after one publish"),
        }
    }
    // Never completed within the delays: still nothing partial, and a publish now succeeds.
    let server = Server::start(&url, &[]);
    let tokens = acme.unwrap();
    let r = server.request("POST", "/api/runs", Some(&tokens.publish), Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let run: Value = server.get(&format!("/api/runs/{id}"), &tokens.read).json();
    assert_eq!(run["scripts"].as_array().unwrap().len(), PROOFS);
}
