//! The evidence store benchmark's two tools (`benches/store/run.sh` drives them):
//!
//! - `seed DB_URL TENANT N DIR`: checks the signed run in DIR once against the tenant's
//!   keys, then stores it N times under distinct run ids and commits through the store
//!   layer (8 at a time), as N publishes of that run would; prints the run ids to stdout.
//! - `load URL TOKEN IDS_FILE CLIENTS SECONDS`: CLIENTS concurrent HTTP/1.1 clients
//!   (keep-alive) fetch `GET /api/runs/{id}/proof` for random ids for SECONDS; prints
//!   `requests p50_ms p99_ms req_per_s errors`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use proofgate::store::{Store, client, upload};

fn usage() -> ! {
    eprintln!(
        "usage: store-load seed DB_URL TENANT N DIR | load URL TOKEN IDS_FILE CLIENTS SECONDS"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seed") if args.len() == 5 => seed(&args[1], &args[2], &args[3], &args[4]).await,
        Some("load") if args.len() == 6 => load(&args[1..]).await,
        _ => usage(),
    }
}

async fn seed(db: &str, tenant: &str, n: &str, dir: &str) {
    let n: usize = n.parse().unwrap_or_else(|_| usage());
    let store = Store::open(db).await.expect("open the database");
    let keys = store.trusted_keys(tenant).await.expect("read the keys");
    let body = client::read_dir(std::path::Path::new(dir)).expect("read the run");
    let files = upload::decode(body).expect("decode");
    let checked = upload::check(files, &keys, chrono::Utc::now()).expect("the run verifies");
    let checked = Arc::new(checked);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..8usize {
        let store = store.clone();
        let checked = checked.clone();
        let tenant = tenant.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut i = worker;
            while i < n {
                let mut run = (*checked).clone();
                run.id = format!("{:032x}", i as u128 + 1);
                run.summary.commit = Some(format!("{:040x}", i as u128 + 1));
                store.publish(&tenant, &run).await.expect("store a run");
                ids.push(run.id);
                i += 8;
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("a seeding task"));
    }
    eprintln!(
        "seeded {} runs in {:.1} s",
        all.len(),
        start.elapsed().as_secs_f64()
    );
    for id in all {
        println!("{id}");
    }
    store.close().await;
}

async fn load(args: &[String]) {
    let base = args[0].trim_end_matches('/').to_owned();
    let token = args[1].clone();
    let ids: Vec<String> = std::fs::read_to_string(&args[2])
        .expect("read the ids")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(!ids.is_empty(), "no run ids");
    let clients: usize = args[3].parse().unwrap_or_else(|_| usage());
    let seconds: f64 = args[4].parse().unwrap_or_else(|_| usage());
    let ids = Arc::new(ids);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(clients)
        .build_http();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let ids = ids.clone();
        let base = base.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let id = &ids[fastrand::usize(..ids.len())];
                let req = http::Request::get(format!("{base}/api/runs/{id}/proof"))
                    .header("authorization", format!("Bearer {token}"))
                    .body(Full::new(Bytes::new()))
                    .expect("a request");
                let t = Instant::now();
                match client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status() == 200;
                        let body = resp.into_body().collect().await;
                        if ok && body.is_ok() {
                            lat.push(t.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("a client task");
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{} {:.2} {:.2} {:.0} {}",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.len() as f64 / elapsed,
        errors
    );
}
