//! `/metrics` in the Prometheus text format (version 0.0.4): jobs by kind and state,
//! queue depth and oldest waiting age per lane, job durations per kind, the
//! package-set builds' cache hits, misses and modules compiled, and HTTP requests
//! by route and status with their latency.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::Timestamp;
use registry_core::job::{JobType, LogLevel};
use registry_queue::{LogsQuery, Order, PAGE_SIZE};

use super::http_stats::{Histogram, LATENCY_BUCKETS};
use super::job_index::{JobRow, LANES, Status, lane_of};
use super::state::{BuildFigures, Dashboard};

/// Upper bounds (seconds) of the job-duration buckets.
const DURATION_BUCKETS: [f64; 9] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0];

/// A label value as the text format wants it.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn histogram(out: &mut String, name: &str, labels: &str, bounds: &[f64], h: &Histogram) {
    for (bound, count) in bounds.iter().zip(&h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{}}} {}", labels.trim_end_matches(','), h.sum);
    let _ = writeln!(out, "{name}_count{{{}}} {}", labels.trim_end_matches(','), h.count);
}

pub async fn metrics(State(dashboard): State<Dashboard>) -> Response {
    let now = registry_settings::now();
    let rows: Vec<JobRow> = match dashboard.jobs().await {
        Ok(index) => index.rows().to_vec(),
        Err(e) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("# reading the jobs failed: {e}\n"))
                .into_response();
        }
    };
    let mut out = String::new();
    out.push_str(
        "# HELP registry_jobs Jobs known to the queue, by kind and state.\n# TYPE registry_jobs gauge\n",
    );
    for kind in JobType::ALL {
        for status in Status::ALL {
            let n = rows.iter().filter(|r| r.kind == kind && r.status() == status).count();
            let _ = writeln!(
                out,
                "registry_jobs{{kind=\"{}\",status=\"{}\"}} {n}",
                kind.as_str(),
                status.as_str()
            );
        }
    }
    out.push_str(
        "# HELP registry_queue_depth Unfinished jobs per executor lane.\n# TYPE registry_queue_depth gauge\n",
    );
    let mut oldest = String::from(
        "# HELP registry_queue_oldest_waiting_seconds Age of the oldest job waiting in each lane (0 if none).\n\
         # TYPE registry_queue_oldest_waiting_seconds gauge\n",
    );
    for (lane, _) in LANES {
        let open: Vec<&JobRow> =
            rows.iter().filter(|r| r.finished.is_none() && lane_of(r.kind) == lane).collect();
        let waiting: Vec<&&JobRow> = open.iter().filter(|r| r.status() == Status::Waiting).collect();
        let running = open.len() - waiting.len();
        let _ = writeln!(out, "registry_queue_depth{{lane=\"{lane}\",state=\"waiting\"}} {}", waiting.len());
        let _ = writeln!(out, "registry_queue_depth{{lane=\"{lane}\",state=\"running\"}} {running}");
        let age = waiting.iter().map(|r| now.unix_millis() - r.created.unix_millis()).max().unwrap_or(0);
        let _ = writeln!(
            oldest,
            "registry_queue_oldest_waiting_seconds{{lane=\"{lane}\"}} {}",
            age as f64 / 1000.0
        );
    }
    out.push_str(&oldest);
    out.push_str(
        "# HELP registry_job_duration_seconds Time from start to finish of finished jobs, by kind.\n\
         # TYPE registry_job_duration_seconds histogram\n",
    );
    for kind in JobType::ALL {
        let mut h = Histogram { buckets: vec![0; DURATION_BUCKETS.len()], ..Histogram::default() };
        for row in rows.iter().filter(|r| r.kind == kind) {
            if let (Some(s), Some(f)) = (row.started, row.finished) {
                h.observe(&DURATION_BUCKETS, (f.unix_millis() - s.unix_millis()) as f64 / 1000.0);
            }
        }
        histogram(
            &mut out,
            "registry_job_duration_seconds",
            &format!("kind=\"{}\",", kind.as_str()),
            &DURATION_BUCKETS,
            &h,
        );
    }
    let builds = build_figures(&dashboard, &rows).await;
    for (name, help, value) in [
        (
            "registry_build_cache_hits_total",
            "Packages restored from the build cache by package-set builds.",
            builds.cache_hits,
        ),
        (
            "registry_build_cache_misses_total",
            "Packages package-set builds had to compile.",
            builds.cache_misses,
        ),
        (
            "registry_modules_compiled_total",
            "Modules compiled by package-set builds.",
            builds.modules_compiled,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
    }
    let (requests, latency) = {
        let stats = dashboard.http.lock().unwrap_or_else(|e| e.into_inner());
        (stats.requests.clone(), stats.latency.clone())
    };
    out.push_str("# HELP registry_http_requests_total HTTP requests answered, by route and status.\n# TYPE registry_http_requests_total counter\n");
    for ((route, status), n) in &requests {
        let _ = writeln!(
            out,
            "registry_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(route)
        );
    }
    out.push_str(
        "# HELP registry_http_request_duration_seconds Time to answer HTTP requests, by route.\n\
         # TYPE registry_http_request_duration_seconds histogram\n",
    );
    for (route, h) in &latency {
        histogram(
            &mut out,
            "registry_http_request_duration_seconds",
            &format!("route=\"{}\",", label(route)),
            &LATENCY_BUCKETS,
            h,
        );
    }
    let mut response = out.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// The sum over finished package-set jobs of what their build logs report; each
/// job's log is read once.
async fn build_figures(dashboard: &Dashboard, rows: &[JobRow]) -> BuildFigures {
    let finished: Vec<&JobRow> =
        rows.iter().filter(|r| r.kind == JobType::PackageSet && r.finished.is_some()).collect();
    for row in &finished {
        if dashboard.build_stats.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&row.id) {
            continue;
        }
        let mut figures = BuildFigures::default();
        let mut since = Timestamp::from_unix_millis(0);
        loop {
            let query = LogsQuery {
                level: LogLevel::Info,
                since,
                until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").expect("a valid timestamp"),
                order: Order::Asc,
            };
            let Ok(Some(job)) = dashboard.store.job(&row.id, &query).await else { break };
            for line in &job.logs {
                figures.add_line(&line.message);
            }
            match job.logs.last() {
                // Timestamps of one job's lines strictly increase: the next page starts after the last.
                Some(last) if job.logs.len() >= PAGE_SIZE => since = last.timestamp.plus_millis(1),
                _ => break,
            }
        }
        dashboard.build_stats.lock().unwrap_or_else(|e| e.into_inner()).insert(row.id.clone(), figures);
    }
    let stats = dashboard.build_stats.lock().unwrap_or_else(|e| e.into_inner());
    let mut total = BuildFigures::default();
    for row in finished {
        if let Some(f) = stats.get(&row.id) {
            total.cache_hits += f.cache_hits;
            total.cache_misses += f.cache_misses;
            total.modules_compiled += f.modules_compiled;
        }
    }
    total
}
