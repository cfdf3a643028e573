//! The API in-process, over a store that fails: internal failures are 500s with a
//! message, never an empty body or a 400.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use registry_core::job::{Job, JobType, LogLine};
use registry_core::operation::AuthenticatedData;
use registry_core::{Timestamp, Version};
use registry_queue::{
    Enqueued, JobStore, JobsQuery, LogsQuery, MatrixProgress, NewJob, ResetReport, StoreError,
};
use registry_server::api::{ApiState, NoTrustedKey, router};
use registry_server::executor::Wakers;
use tower::ServiceExt;

struct BrokenStore;

fn broken() -> StoreError {
    StoreError::Task("the disk is on fire".into())
}

#[async_trait]
impl JobStore for BrokenStore {
    async fn enqueue(&self, _: NewJob, _: Timestamp) -> Result<Enqueued, StoreError> {
        Err(broken())
    }
    async fn use_signature(&self, _: &AuthenticatedData, _: &str, _: Timestamp) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn claim_next(&self, _: &[JobType], _: Timestamp) -> Result<Option<Job>, StoreError> {
        Err(broken())
    }
    async fn append_logs(&self, _: &[LogLine]) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn finish(&self, _: &str, _: bool, _: Timestamp) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn requeue(&self, _: &str) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn reset_interrupted(&self, _: u32, _: Timestamp) -> Result<ResetReport, StoreError> {
        Err(broken())
    }
    async fn job(&self, _: &str, _: &LogsQuery) -> Result<Option<Job>, StoreError> {
        Err(broken())
    }
    async fn jobs(&self, _: &JobsQuery) -> Result<(Vec<Job>, Vec<StoreError>), StoreError> {
        Err(broken())
    }
    async fn pending_counts(&self) -> Result<BTreeMap<JobType, usize>, StoreError> {
        Err(broken())
    }
    async fn matrix_progress(&self, _: &Version) -> Result<MatrixProgress, StoreError> {
        Err(broken())
    }
}

#[tokio::test]
async fn store_failures_are_500_with_a_message() {
    let app = router(ApiState {
        store: Arc::new(BrokenStore),
        wakers: Wakers::new(),
        storage_dir: None,
        finished_jobs: Default::default(),
        current_answers: Default::default(),
        signature_check: Arc::new(NoTrustedKey),
        policy: Default::default(),
    });
    let requests = [
        ("POST", "/api/v1/publish", r#"{"name":"aff","ref":"v1.0.0","version":"1.0.0"}"#),
        ("GET", "/api/v1/jobs", ""),
        ("GET", "/api/v1/jobs/some-id", ""),
    ];
    for (method, uri, body) in requests {
        let request = Request::builder().method(method).uri(uri).body(Body::from(body)).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{method} {uri}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(
            message.starts_with("Internal error:") && message.contains("the disk is on fire"),
            "{message}"
        );
    }
    // Without local storage the tarball host is not routed.
    let request = Request::builder().uri("/prelude/1.0.0.tar.gz").body(Body::empty()).unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), StatusCode::NOT_FOUND);
}

/// A job's log timestamps are kept strictly increasing, so a burst of lines can be
/// stamped ahead of the clock. A finished job must still show them all by default:
/// clients stop polling once `finishedAt` appears.
#[tokio::test]
async fn log_lines_stamped_ahead_of_the_clock_are_shown() {
    use registry_core::job::LogLevel;
    use registry_core::json::Codec;
    use registry_core::operation::PublishData;

    let dir = tempfile::tempdir().unwrap();
    let store = support::job_store(&registry_server::config::defaults_for(dir.path())).await;
    let now = registry_server::job_context::now();
    let data = PublishData::from_json_str(r#"{"name":"aff","ref":"v1.0.0","version":"1.0.0"}"#).unwrap();
    let job_id = store.enqueue(NewJob::Publish(data), now).await.unwrap().job_id;
    let ahead: Vec<LogLine> = (1..=3)
        .map(|i| LogLine {
            job_id: job_id.clone(),
            level: LogLevel::Info,
            message: format!("line {i}"),
            timestamp: now.plus_millis(60_000 + i),
        })
        .collect();
    store.append_logs(&ahead).await.unwrap();
    store.finish(&job_id, true, now).await.unwrap();

    let app = router(ApiState {
        store,
        wakers: Wakers::new(),
        storage_dir: None,
        finished_jobs: Default::default(),
        current_answers: Default::default(),
        signature_check: Arc::new(NoTrustedKey),
        policy: Default::default(),
    });
    let request = Request::builder().uri(format!("/api/v1/jobs/{job_id}")).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value =
        serde_json::from_slice(&to_bytes(response.into_body(), 1 << 16).await.unwrap()).unwrap();
    let messages: Vec<&str> =
        body["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["line 1", "line 2", "line 3"]);
}

/// Answers for a running job are shared between polls only while nothing was written:
/// every new log line, and the job's end, show in the very next answer.
#[tokio::test]
async fn answers_for_running_jobs_never_go_stale() {
    use registry_core::job::LogLevel;
    use registry_core::json::Codec;
    use registry_core::operation::PublishData;

    let dir = tempfile::tempdir().unwrap();
    let store = support::job_store(&registry_server::config::defaults_for(dir.path())).await;
    let now = registry_server::job_context::now();
    let data = PublishData::from_json_str(r#"{"name":"aff","ref":"v1.0.0","version":"1.0.0"}"#).unwrap();
    let job_id = store.enqueue(NewJob::Publish(data), now).await.unwrap().job_id;
    let line = |i: i64| LogLine {
        job_id: job_id.clone(),
        level: LogLevel::Info,
        message: format!("line {i}"),
        timestamp: now.plus_millis(i),
    };
    let app = router(ApiState {
        store: store.clone(),
        wakers: Wakers::new(),
        storage_dir: None,
        finished_jobs: Default::default(),
        current_answers: Default::default(),
        signature_check: Arc::new(NoTrustedKey),
        policy: Default::default(),
    });
    let get = || async {
        let request = Request::builder().uri(format!("/api/v1/jobs/{job_id}")).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        serde_json::from_slice::<serde_json::Value>(&to_bytes(response.into_body(), 1 << 16).await.unwrap())
            .unwrap()
    };
    let count = |job: &serde_json::Value| job["logs"].as_array().unwrap().len();

    store.append_logs(&[line(1)]).await.unwrap();
    assert_eq!(count(&get().await), 1);
    assert_eq!(count(&get().await), 1, "answered again (from memory) unchanged");
    for i in 2..=5 {
        store.append_logs(&[line(i)]).await.unwrap();
        assert_eq!(count(&get().await), i as usize, "line {i} shows at once");
    }
    assert!(get().await.get("finishedAt").is_none());
    store.finish(&job_id, true, now.plus_millis(10)).await.unwrap();
    let finished = get().await;
    assert!(finished.get("finishedAt").is_some(), "{finished}");
    assert_eq!(finished["success"], true);
}
