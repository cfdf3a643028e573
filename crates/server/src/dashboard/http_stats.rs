//! Counts of HTTP requests by route and status, with a latency histogram per route,
//! for `/metrics`. Routes are axum's matched path templates (`/api/v1/jobs/{job_id}`),
//! never the raw path, so a client cannot grow the table with made-up URLs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds (seconds) of the latency buckets.
pub const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default, Clone)]
pub struct Histogram {
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS`]-like bounds.
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.buckets.len() != bounds.len() {
            self.buckets = vec![0; bounds.len()];
        }
        for (bucket, bound) in self.buckets.iter_mut().zip(bounds) {
            if value <= *bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum += value;
    }
}

#[derive(Default)]
pub struct HttpStats {
    /// (route, status) → requests.
    pub requests: BTreeMap<(String, u16), u64>,
    /// route → latency.
    pub latency: BTreeMap<String, Histogram>,
}

pub type SharedHttpStats = Arc<Mutex<HttpStats>>;

/// Middleware recording every request's route, status and time to answer.
pub async fn record(State(stats): State<SharedHttpStats>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let started = Instant::now();
    let mut response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    // The server's own time, so a client (or a browser's network panel) can tell it
    // from time on the wire.
    if let Ok(value) = axum::http::HeaderValue::from_str(&format!("app;dur={:.3}", seconds * 1000.0)) {
        response.headers_mut().insert("server-timing", value);
    }
    let mut stats = stats.lock().unwrap_or_else(|e| e.into_inner());
    *stats.requests.entry((route.clone(), response.status().as_u16())).or_default() += 1;
    stats.latency.entry(route).or_default().observe(&LATENCY_BUCKETS, seconds);
    response
}
