//! HTTP API v1, as upstream's (`/api/v1/...`), plus the read-only tarball host.
//!
//! Differences from upstream, on purpose:
//! - enqueue answers 200 for new and duplicate jobs alike (released spago accepts
//!   only 200) and marks a duplicate with the `Registry-Duplicate-Job: true` header;
//! - malformed bodies get 400 with `{"error": "...", "path": "$.x"}` naming what is
//!   wrong and where; internal failures get 500 with `{"error": "..."}`, never 400;
//! - error responses of the routes that upstream answers with an empty 404 (unknown
//!   routes, unsupported methods, bad query values) carry a JSON explanation;
//! - every error answer is JSON, including axum's own rejections (a path that is not
//!   UTF-8, a body over the size limit);
//! - `gitUrl` locations must name an allowed host (`--git-hosts`);
//! - a signed payload whose signature an earlier job used is refused (no replays);
//! - the default `until` includes the current millisecond (upstream's exclusive
//!   "now" hides a job created in the same millisecond as the request).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use registry_core::job::{JobCreated, LogLevel};
use registry_core::json::{self, Codec, DecodeError, Value};
use registry_core::location::check_git_host;
use registry_core::operation::{
    AuthenticatedData, AuthenticatedOperation, PackageSetUpdateRequest, PublishData,
};
use registry_core::{Location, PackageName, Timestamp, Version};
use registry_queue::{JobStore, JobsQuery, LogsQuery, NewJob, Order, StoreError};

use crate::executor::Wakers;
use crate::finished_cache::{CurrentAnswers, FinishedJobs, Key};
use crate::job_context::now;

/// Marks an enqueue answer that returned an existing job.
pub const DUPLICATE_HEADER: &str = "registry-duplicate-job";

/// Default `since` of `GET /api/v1/jobs`: the registry's launch.
pub const REGISTRY_LAUNCH: Timestamp = Timestamp::from_unix_millis(1_769_817_600_000); // 2026-01-31T00:00:00.000Z

/// Checks pacchettibotti's signature on restricted package-set requests.
pub trait SignatureCheck: Send + Sync {
    fn verify(&self, raw_payload: &str, signature_hex: &str) -> bool;
}

/// Used when no pacchettibotti key is configured: every signature is refused.
pub struct NoTrustedKey;

impl SignatureCheck for NoTrustedKey {
    fn verify(&self, _raw_payload: &str, _signature_hex: &str) -> bool {
        false
    }
}

/// Server policy applied to requests on top of the wire format's rules.
#[derive(Debug, Clone)]
pub struct RequestPolicy {
    /// Hosts `gitUrl` locations may name (see `location::check_git_host`).
    pub git_hosts: Vec<String>,
}

impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy { git_hosts: vec!["github.com".to_owned()] }
    }
}

impl RequestPolicy {
    /// A location the server would refuse to fetch is refused now, naming the field.
    fn check_location(&self, location: &Location, path: &str) -> Result<(), ApiError> {
        match location {
            Location::Git { url, .. } => check_git_host(url, &self.git_hosts).map_err(|message| ApiError {
                status: StatusCode::BAD_REQUEST,
                message,
                path: Some(format!("{path}.gitUrl")),
            }),
            Location::GitHub { .. } => Ok(()),
        }
    }
}

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn JobStore>,
    pub wakers: Wakers,
    /// Local storage directory to serve at `/<name>/<version>.tar.gz`, if any.
    pub storage_dir: Option<PathBuf>,
    pub signature_check: Arc<dyn SignatureCheck>,
    pub finished_jobs: Arc<FinishedJobs>,
    pub current_answers: Arc<CurrentAnswers>,
    pub policy: RequestPolicy,
}

pub fn router(state: ApiState) -> Router {
    let mut router = Router::new()
        .route("/api/v1/publish", post(publish).options(preflight))
        .route("/api/v1/unpublish", post(unpublish).options(preflight))
        .route("/api/v1/transfer", post(transfer).options(preflight))
        .route("/api/v1/package-sets", post(package_sets).options(preflight))
        .route("/api/v1/jobs", get(list_jobs).options(preflight))
        .route("/api/v1/jobs/{job_id}", get(one_job).options(preflight))
        .route("/api/v1/status", get(status).options(preflight));
    if state.storage_dir.is_some() {
        router = router.route("/{name}/{file}", get(tarball));
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error answer: `{"error": message, "path"?: where}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    path: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json::Map::new();
        body.insert("error".into(), Value::String(self.message));
        if let Some(path) = self.path {
            body.insert("path".into(), Value::String(path));
        }
        json_response(self.status, json::print_compact(&Value::Object(body)))
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError { status, message: message.into(), path: None }
}

fn decode_error(what: &str, err: &DecodeError) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!("Invalid {what} request: {} (at {})", err.message(), err.path()),
        path: Some(err.path()),
    }
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!("internal error answering a request: {err}");
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("Internal error: {err}"))
}

async fn cors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers
        .insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, POST, OPTIONS"));
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// Most bytes of an oversized body read and dropped before answering 413.
const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;
/// How long an oversized body is read before answering 413 anyway.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Limits request bodies to `max` bytes. A body whose declared length is larger is
/// refused with a JSON 413 without being buffered; what the client sends of it is
/// read and dropped first (within [`DRAIN_LIMIT`] and [`DRAIN_TIME`]), because a
/// connection closed with unread data is reset, and the reset can destroy the
/// answer before the client reads it.
pub fn limit_bodies(router: Router, max: usize) -> Router {
    router
        .layer(axum::extract::DefaultBodyLimit::max(max))
        .layer(middleware::from_fn_with_state(max, refuse_oversized))
}

async fn refuse_oversized(State(max): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > max as u64);
    let Some(declared) = declared else { return next.run(request).await };
    let mut body = request.into_body();
    let drain = async {
        let mut read = 0u64;
        while let Some(Ok(frame)) = http_body_util::BodyExt::frame(&mut body).await {
            read += frame.data_ref().map_or(0, |d| d.len() as u64);
            if read > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
    let mut response = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "The request body is {declared} bytes, over the length limit of {max} bytes; requests are small JSON \
             documents, so check what is being sent."
        ),
    )
    .into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Error answers made outside the handlers (axum's extractor rejections are plain
/// text) become `{"error": ...}` like every other, so clients can always read them.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message =
        if text.is_empty() { status.canonical_reason().unwrap_or("Error").to_owned() } else { text };
    let answer = error(status, message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, answer.into_body())
}

async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Content-Type"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

async fn no_route(method: Method, uri: axum::http::Uri) -> ApiError {
    error(StatusCode::NOT_FOUND, format!("No such route: {method} {}", uri.path()))
}

async fn status() -> StatusCode {
    StatusCode::OK
}

/// Parses a body as JSON and decodes it, or answers 400 saying why.
fn decode_body<T: Codec>(body: &[u8], what: &str) -> Result<T, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("The request body is not UTF-8 text: {e}")))?;
    if text.trim().is_empty() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("The request body is empty: expected a JSON {what} request"),
        ));
    }
    let value = json::parse(text).map_err(|e| {
        error(StatusCode::BAD_REQUEST, format!("The request body is not valid JSON: {}", e.message()))
    })?;
    T::decode(&value).map_err(|e| decode_error(what, &e))
}

async fn enqueue(state: &ApiState, job: NewJob) -> Result<Response, ApiError> {
    let kind = job.job_type();
    match state.store.enqueue(job, now()).await {
        Err(StoreError::SignatureUsed { job_id }) => Err(ApiError {
            status: StatusCode::BAD_REQUEST,
            message: signature_used(&job_id),
            path: Some("$.signature".into()),
        }),
        Ok(enqueued) => {
            if !enqueued.duplicate {
                state.wakers.wake(kind);
            }
            let body = JobCreated { job_id: enqueued.job_id }.to_compact();
            let mut response = json_response(StatusCode::OK, body);
            if enqueued.duplicate {
                response.headers_mut().insert(DUPLICATE_HEADER, HeaderValue::from_static("true"));
            }
            Ok(response)
        }
        Err(err) => Err(internal(err)),
    }
}

/// Why a signed payload is refused when an earlier job used its signature.
pub fn signature_used(job_id: &str) -> String {
    format!(
        "This signature was already used by job {job_id}: a signed request is carried out once. To do it \
         again, the owner must sign a fresh payload (add a field of your own, e.g. \"nonce\": \"<date>\", \
         which the registry ignores)."
    )
}

async fn publish(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let data = decode_body::<PublishData>(&body, "publish")?;
    if let Some(location) = &data.location {
        state.policy.check_location(location, "$.location")?;
    }
    enqueue(&state, NewJob::Publish(data)).await
}

async fn unpublish(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let data = decode_body::<AuthenticatedData>(&body, "unpublish")?;
    if !matches!(data.operation, AuthenticatedOperation::Unpublish(_)) {
        return Err(error(StatusCode::BAD_REQUEST, "Expected unpublish operation."));
    }
    enqueue(&state, NewJob::Unpublish(data)).await
}

async fn transfer(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let data = decode_body::<AuthenticatedData>(&body, "transfer")?;
    let AuthenticatedOperation::Transfer(transfer) = &data.operation else {
        return Err(error(StatusCode::BAD_REQUEST, "Expected transfer operation."));
    };
    state.policy.check_location(&transfer.new_location, "$.payload.newLocation")?;
    enqueue(&state, NewJob::Transfer(data)).await
}

async fn package_sets(State(state): State<ApiState>, body: Bytes) -> Result<Response, ApiError> {
    let request = decode_body::<PackageSetUpdateRequest>(&body, "package set update")?;
    if request.update.is_restricted() {
        match &request.signature {
            None => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "Package set update requires a signature for restricted operations.",
                ));
            }
            Some(signature) if !state.signature_check.verify(&request.raw_payload, signature) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "The pacchettibotti signature is not valid for this payload.",
                ));
            }
            Some(_) => {}
        }
    }
    enqueue(&state, NewJob::PackageSet(request)).await
}

/// The default `until`: upstream uses "now", which (being exclusive) hides what was
/// created in the current millisecond; the end of this millisecond shows it.
fn end_of_now() -> Timestamp {
    now().plus_millis(1)
}

/// The default `until` for a job's log lines: none. A job's log timestamps are made
/// strictly increasing, so a burst of lines can run a few milliseconds ahead of the
/// clock; bounding them by "now" would hide the last lines of a job that just
/// finished, and a client that stops polling at `finishedAt` would never see them.
fn no_upper_bound() -> Timestamp {
    Timestamp::parse_iso("9999-12-31T23:59:59.999Z").expect("a valid timestamp")
}

/// A query string's parameters (last occurrence wins); a bad value is answered with
/// 404 like upstream's router, with a message.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Self {
        Query(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    fn get<T>(
        &self,
        key: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        match self.0.iter().rev().find(|(k, _)| k == key) {
            None => Ok(None),
            Some((_, value)) => parse(value).map(Some).ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    format!("Invalid value '{value}' for the query parameter '{key}': expected {expected}"),
                )
            }),
        }
    }

    fn order(&self) -> Result<Order, ApiError> {
        let parse = |v: &str| match v {
            "ASC" => Some(Order::Asc),
            "DESC" => Some(Order::Desc),
            _ => None,
        };
        Ok(self.get("order", "ASC or DESC", parse)?.unwrap_or_default())
    }

    fn timestamp(&self, key: &str) -> Result<Option<Timestamp>, ApiError> {
        self.get(key, "a UTC timestamp like 2026-01-31T00:00:00.000Z", |v| Timestamp::parse_iso(v).ok())
    }
}

async fn list_jobs(State(state): State<ApiState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let query = Query::parse(raw);
    let include_completed = query.get("include_completed", "true or false", |v| match v {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    })?;
    let jobs_query = JobsQuery {
        since: query.timestamp("since")?.unwrap_or(REGISTRY_LAUNCH),
        until: query.timestamp("until")?.unwrap_or_else(end_of_now),
        order: query.order()?,
        include_completed: include_completed.unwrap_or(false),
    };
    let (jobs, skipped) = state.store.jobs(&jobs_query).await.map_err(internal)?;
    for err in skipped {
        tracing::warn!("a stored job could not be listed: {err}");
    }
    Ok(json_response(
        StatusCode::OK,
        json::print_compact(&Value::Array(jobs.iter().map(Codec::encode).collect())),
    ))
}

async fn one_job(
    State(state): State<ApiState>,
    job_id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let Path(job_id) = job_id.map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("The job id in the path is not valid ({e}): job ids are like 0b5d4bd8-3e5c-4c0e-9f57-6a1f3a1c5b7e."),
        )
    })?;
    let query = Query::parse(raw);
    let until = query.timestamp("until")?;
    let logs_query = LogsQuery {
        level: query
            .get("level", "DEBUG, INFO, WARN, NOTICE or ERROR", |v| LogLevel::parse(v).ok())?
            .unwrap_or(LogLevel::Info),
        since: query.timestamp("since")?.unwrap_or(Timestamp::from_unix_millis(0)),
        until: until.unwrap_or_else(no_upper_bound),
        order: query.order()?,
    };
    let key = Key::new(&job_id, &logs_query, until.is_some());
    if let Some(body) = state.finished_jobs.get(&key) {
        return Ok(json_response(StatusCode::OK, body));
    }
    // Read before the query, so an answer is never tagged newer than what it saw.
    let generation = state.store.generation();
    if let Some(body) = generation.and_then(|g| state.current_answers.get(&key, g)) {
        return Ok(json_response(StatusCode::OK, body));
    }
    match state.store.job(&job_id, &logs_query).await.map_err(internal)? {
        Some(job) => {
            let body = Bytes::from(job.to_compact());
            if key.cacheable(job.info.finished_at, now()) {
                state.finished_jobs.insert(key, body.clone());
            } else if let Some(g) = generation {
                state.current_answers.insert(key, g, body.clone());
            }
            Ok(json_response(StatusCode::OK, body))
        }
        None => Err(error(StatusCode::NOT_FOUND, format!("No job with id '{job_id}'."))),
    }
}

/// `/<name>/<version>.tar.gz` from the local storage directory.
pub async fn tarball(
    State(state): State<ApiState>,
    Path((name, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Some(dir) = &state.storage_dir else {
        return Err(error(StatusCode::NOT_FOUND, "This server has no local storage."));
    };
    let parsed =
        PackageName::parse(&name).ok().zip(file.strip_suffix(".tar.gz").and_then(|v| Version::parse(v).ok()));
    let Some((name, version)) = parsed else {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!("No tarball at /{name}/{file}: expected /<package>/<version>.tar.gz"),
        ));
    };
    match tokio::fs::read(dir.join(name.as_str()).join(format!("{version}.tar.gz"))).await {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
            Ok(response)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(error(StatusCode::NOT_FOUND, format!("{name}@{version} is not in storage.")))
        }
        Err(e) => Err(internal(e)),
    }
}
