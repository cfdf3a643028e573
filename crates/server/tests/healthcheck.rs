//! The health-check pinger against a real HTTP server on loopback whose answers the
//! test scripts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use registry_server::healthcheck::{Schedule, ping};

/// Answers the scripted statuses in order (the last one forever) and records when
/// each request came.
#[derive(Clone)]
struct Monitor {
    script: Arc<Vec<u16>>,
    seen: Arc<Mutex<Vec<Instant>>>,
}

async fn answer(State(m): State<Monitor>) -> StatusCode {
    let mut seen = m.seen.lock().unwrap();
    seen.push(Instant::now());
    let code = m.script.get(seen.len() - 1).or(m.script.last()).copied().unwrap();
    StatusCode::from_u16(code).unwrap()
}

async fn monitor(script: &[u16]) -> (String, Monitor) {
    let m = Monitor { script: Arc::new(script.to_vec()), seen: Arc::default() };
    let app = axum::Router::new().route("/ping/secret", axum::routing::get(answer)).with_state(m.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping/secret", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, m)
}

const FAST: Schedule =
    Schedule { every: Duration::from_millis(300), retry: Duration::from_millis(40), give_up_at: 12 };

#[tokio::test]
async fn pings_slowly_while_healthy_and_quickly_after_a_failure() {
    // 200, 500, 204 (not 200: a failure too), then 200 forever.
    let (url, m) = monitor(&[200, 500, 204, 200]).await;
    let pinger = tokio::spawn(async move { ping(&url, FAST).await });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    pinger.abort();
    let seen = m.seen.lock().unwrap().clone();
    assert!(seen.len() >= 5, "pings: {}", seen.len());
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1] - w[0]).collect();
    // After a 200 the pinger waits `every`; after a failure only `retry`.
    assert!(gaps[0] >= FAST.every, "after the first 200: {:?}", gaps[0]);
    assert!(gaps[1] < FAST.every && gaps[2] < FAST.every, "after failures: {gaps:?}");
    assert!(gaps[3] >= FAST.every, "after the 200 that follows: {:?}", gaps[3]);
}

#[tokio::test]
async fn gives_up_at_the_twelfth_failure_counted_over_its_life() {
    // Failures are never forgiven: 6 failures, a success, then failures until it stops.
    let script = [500, 500, 500, 500, 500, 500, 200, 503];
    let (url, m) = monitor(&script).await;
    let fast = Schedule { every: Duration::from_millis(10), ..FAST };
    let sent =
        tokio::time::timeout(Duration::from_secs(10), ping(&url, fast)).await.expect("the pinger stops");
    assert_eq!(sent, 13, "12 failures and 1 success");
    assert_eq!(m.seen.lock().unwrap().len(), 13);
}

#[tokio::test]
async fn an_unreachable_monitor_counts_as_a_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let fast = Schedule { retry: Duration::from_millis(1), give_up_at: 3, ..FAST };
    let sent =
        tokio::time::timeout(Duration::from_secs(10), ping(&url, fast)).await.expect("the pinger stops");
    assert_eq!(sent, 3);
}
