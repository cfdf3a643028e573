//! Both job stores against real databases: SQLite in a file, Postgres in a cluster
//! the test starts (skipped with a message where Postgres is not installed). Every
//! case runs on both, so the stores keep one set of rules.

use std::collections::BTreeMap;

use registry_core::job::{JobDetails, JobType, LogLevel, LogLine};
use registry_core::json::Codec;
use registry_core::operation::{AuthenticatedData, PackageSetUpdateRequest, PublishData};
use registry_core::{PackageName, Timestamp, Version};
use registry_queue::{
    JobStore, JobsQuery, LogsQuery, MatrixProgress, NewJob, Order, PAGE_SIZE, PostgresOptions, PostgresStore,
    SqliteStore,
};
use registry_test_support::PostgresTestServer;
use serde_json::json;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + ms)
}

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("registry.sqlite3")).unwrap();
    (dir, store)
}

async fn postgres_store() -> Option<(PostgresTestServer, PostgresStore)> {
    let server = PostgresTestServer::start()?;
    let url = server.new_database("registry");
    let store = PostgresStore::connect(&url, PostgresOptions::default()).await.unwrap();
    Some((server, store))
}

/// Each case as a test on each store.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                let (_dir, store) = super::store();
                super::$case(&store).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                let Some((_server, store)) = super::postgres_store().await else { return };
                super::$case(&store).await
            })*
        }
    };
}

on_both_stores!(
    duplicates_follow_the_rules_per_kind,
    claims_follow_priority_then_fifo_within_the_given_kinds,
    interrupted_jobs_are_reset_then_quarantined_on_the_third_crash,
    requeue_returns_a_job_to_pending_without_counting_a_crash,
    log_queries_filter_by_level_and_window_and_page,
    job_lists_filter_by_window_completion_and_order,
    a_used_signature_cannot_be_used_again,
    matrix_progress_counts_one_compilers_jobs_by_state,
);

fn publish(name: &str, version: &str) -> NewJob {
    NewJob::Publish(
        PublishData::decode(&json!({"name": name, "ref": format!("v{version}"), "version": version}))
            .unwrap(),
    )
}

fn unpublish(name: &str, version: &str) -> NewJob {
    let raw = format!(r#"{{"name":"{name}","version":"{version}","reason":"Mistake."}}"#);
    NewJob::Unpublish(AuthenticatedData::decode(&json!({"payload": raw, "signature": "ab"})).unwrap())
}

fn transfer(name: &str) -> NewJob {
    let raw = format!(r#"{{"name":"{name}","newLocation":{{"githubOwner":"o","githubRepo":"r"}}}}"#);
    NewJob::Transfer(AuthenticatedData::decode(&json!({"payload": raw, "signature": "ab"})).unwrap())
}

fn package_set(raw: &str) -> NewJob {
    NewJob::PackageSet(PackageSetUpdateRequest::decode(&json!({ "payload": raw })).unwrap())
}

fn matrix(name: &str) -> NewJob {
    matrix_with(name, Version::new(0, 15, 15))
}

fn matrix_with(name: &str, compiler: Version) -> NewJob {
    NewJob::Matrix {
        package_name: PackageName::parse(name).unwrap(),
        package_version: Version::new(1, 0, 0),
        compiler_version: compiler,
        build_plan: BTreeMap::from([(PackageName::parse("prelude").unwrap(), Version::new(6, 0, 1))]),
    }
}

fn all_logs() -> LogsQuery {
    LogsQuery { level: LogLevel::Debug, since: ts(-1_000_000), until: ts(1_000_000), order: Order::Asc }
}

fn all_jobs(include_completed: bool) -> JobsQuery {
    JobsQuery { since: ts(-1_000_000), until: ts(1_000_000), order: Order::Asc, include_completed }
}

async fn duplicates_follow_the_rules_per_kind(store: &dyn JobStore) {
    let first = store.enqueue(publish("aff", "1.0.0"), ts(0)).await.unwrap();
    assert!(!first.duplicate);
    let again = store.enqueue(publish("aff", "1.0.0"), ts(1)).await.unwrap();
    assert_eq!((again.job_id.as_str(), again.duplicate), (first.job_id.as_str(), true));
    assert!(!store.enqueue(publish("aff", "1.0.1"), ts(2)).await.unwrap().duplicate);

    // A finished job does not block a new submission, failed or successful (a new
    // publish of a published version repairs its documentation or says it is there).
    store.finish(&first.job_id, false, ts(3)).await.unwrap();
    let retry = store.enqueue(publish("aff", "1.0.0"), ts(4)).await.unwrap();
    assert!(!retry.duplicate);
    store.finish(&retry.job_id, true, ts(5)).await.unwrap();
    let after_success = store.enqueue(publish("aff", "1.0.0"), ts(6)).await.unwrap();
    assert!(!after_success.duplicate);
    assert_ne!(after_success.job_id, retry.job_id);
    // While that one is pending, it answers.
    let again = store.enqueue(publish("aff", "1.0.0"), ts(6)).await.unwrap();
    assert_eq!((again.job_id.as_str(), again.duplicate), (after_success.job_id.as_str(), true));
    store.finish(&after_success.job_id, true, ts(6)).await.unwrap();
    store.finish(&again.job_id, true, ts(6)).await.unwrap();
    let unpublished = store.enqueue(unpublish("aff", "1.0.0"), ts(6)).await.unwrap();
    store.finish(&unpublished.job_id, true, ts(6)).await.unwrap();
    assert!(!store.enqueue(publish("aff", "1.0.0"), ts(6)).await.unwrap().duplicate);
    assert!(store.enqueue(unpublish("aff", "1.0.0"), ts(6)).await.unwrap().duplicate);

    // Package sets: same canonical payload while unfinished, whatever the raw text.
    let a = store.enqueue(package_set(r#"{"packages":{"b":"1.0.0","a":null}}"#), ts(7)).await.unwrap();
    let b = store.enqueue(package_set(r#"{ "packages": {"a": null, "b": "1.0.0"} }"#), ts(8)).await.unwrap();
    assert_eq!((b.job_id.as_str(), b.duplicate), (a.job_id.as_str(), true));
    store.finish(&a.job_id, true, ts(9)).await.unwrap();
    assert!(
        !store
            .enqueue(package_set(r#"{"packages":{"b":"1.0.0","a":null}}"#), ts(10))
            .await
            .unwrap()
            .duplicate
    );

    // Transfers: only an unfinished one blocks.
    let t = store.enqueue(transfer("aff"), ts(11)).await.unwrap();
    assert!(store.enqueue(transfer("aff"), ts(12)).await.unwrap().duplicate);
    store.finish(&t.job_id, true, ts(13)).await.unwrap();
    assert!(!store.enqueue(transfer("aff"), ts(14)).await.unwrap().duplicate);

    // Matrix jobs are never queued twice, even after failing (upstream).
    let m = store.enqueue(matrix("aff"), ts(15)).await.unwrap();
    store.finish(&m.job_id, false, ts(16)).await.unwrap();
    assert!(store.enqueue(matrix("aff"), ts(17)).await.unwrap().duplicate);
}

async fn claims_follow_priority_then_fifo_within_the_given_kinds(store: &dyn JobStore) {
    let set = store.enqueue(package_set(r#"{"packages":{"a":"1.0.0"}}"#), ts(0)).await.unwrap();
    let m = store.enqueue(matrix("x"), ts(1)).await.unwrap();
    let t = store.enqueue(transfer("y"), ts(2)).await.unwrap();
    let p2 = store.enqueue(publish("b", "1.0.0"), ts(4)).await.unwrap();
    let p1 = store.enqueue(publish("a", "1.0.0"), ts(3)).await.unwrap();

    let lane_a = [JobType::Publish, JobType::Unpublish, JobType::Transfer];
    let lane_b = [JobType::Matrix, JobType::PackageSet];
    let mut order = Vec::new();
    while let Some(job) = store.claim_next(&lane_a, ts(10)).await.unwrap() {
        assert_eq!(job.info.started_at, Some(ts(10)));
        order.push(job.info.job_id);
    }
    assert_eq!(order, [p1.job_id, p2.job_id, t.job_id]);
    let first_b = store.claim_next(&lane_b, ts(11)).await.unwrap().unwrap();
    assert_eq!(first_b.info.job_id, m.job_id);
    assert!(matches!(first_b.details, JobDetails::Matrix { .. }));
    assert_eq!(store.claim_next(&lane_b, ts(12)).await.unwrap().unwrap().info.job_id, set.job_id);
    assert!(store.claim_next(&lane_b, ts(13)).await.unwrap().is_none());
}

async fn matrix_progress_counts_one_compilers_jobs_by_state(store: &dyn JobStore) {
    let (old, new) = (Version::new(0, 15, 15), Version::new(0, 15, 16));
    assert_eq!(store.matrix_progress(&new).await.unwrap(), MatrixProgress::default());
    // Two jobs of the old compiler first: claimed and finished like the others, but
    // not counted for the new one; nor is a publish job.
    let mut ids = Vec::new();
    for (i, name) in ["a", "b"].iter().enumerate() {
        ids.push(store.enqueue(matrix_with(name, old), ts(i as i64)).await.unwrap().job_id);
    }
    for (i, name) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        ids.push(store.enqueue(matrix_with(name, new), ts(10 + i as i64)).await.unwrap().job_id);
    }
    store.enqueue(publish("aff", "1.0.0"), ts(20)).await.unwrap();
    let lane = [JobType::Matrix, JobType::Publish];
    for _ in 0..6 {
        store.claim_next(&lane, ts(30)).await.unwrap().unwrap();
    }
    // Old: a succeeded, b failed. New: a, b succeeded, c failed, d running, e and f pending.
    for (id, success) in [(0, true), (1, false), (2, true), (3, true), (4, false)] {
        store.finish(&ids[id], success, ts(40)).await.unwrap();
    }
    let progress = store.matrix_progress(&new).await.unwrap();
    assert_eq!(progress, MatrixProgress { succeeded: 2, failed: 1, pending: 2, running: 1 });
    assert_eq!((progress.done(), progress.queued()), (3, 6));
    assert_eq!(
        store.matrix_progress(&old).await.unwrap(),
        MatrixProgress { succeeded: 1, failed: 1, pending: 0, running: 0 }
    );
    assert_eq!(store.matrix_progress(&Version::new(0, 15, 17)).await.unwrap(), MatrixProgress::default());
}

async fn interrupted_jobs_are_reset_then_quarantined_on_the_third_crash(store: &dyn JobStore) {
    let job = store.enqueue(publish("a", "1.0.0"), ts(0)).await.unwrap();
    let lane = [JobType::Publish];
    for crash in 1..=3 {
        let claimed = store.claim_next(&lane, ts(crash * 10)).await.unwrap();
        assert_eq!(claimed.map(|j| j.info.job_id), Some(job.job_id.clone()), "run {crash}");
        let report = store.reset_interrupted(3, ts(crash * 10 + 5)).await.unwrap();
        if crash < 3 {
            assert_eq!(report.reset, std::slice::from_ref(&job.job_id));
            assert!(report.quarantined.is_empty());
        } else {
            assert!(report.reset.is_empty());
            assert_eq!(report.quarantined, std::slice::from_ref(&job.job_id));
        }
    }
    assert!(store.claim_next(&lane, ts(100)).await.unwrap().is_none());
    let stored = store.job(&job.job_id, &all_logs()).await.unwrap().unwrap();
    assert!(!stored.info.success);
    assert_eq!(stored.info.finished_at, Some(ts(35)));
    let last = stored.logs.last().unwrap();
    assert_eq!(last.level, LogLevel::Error);
    assert!(last.message.contains("interrupted 3 times"), "{}", last.message);
    assert_eq!(stored.logs.iter().filter(|l| l.level == LogLevel::Warn).count(), 2);
    // The quarantined job does not block a new submission.
    assert!(!store.enqueue(publish("a", "1.0.0"), ts(200)).await.unwrap().duplicate);
}

async fn requeue_returns_a_job_to_pending_without_counting_a_crash(store: &dyn JobStore) {
    let job = store.enqueue(publish("a", "1.0.0"), ts(0)).await.unwrap();
    store.claim_next(&[JobType::Publish], ts(1)).await.unwrap().unwrap();
    store.requeue(&job.job_id).await.unwrap();
    let again = store.claim_next(&[JobType::Publish], ts(2)).await.unwrap().unwrap();
    assert_eq!(again.info.started_at, Some(ts(2)));
    let report = store.reset_interrupted(1, ts(3)).await.unwrap();
    assert_eq!(report.quarantined, [job.job_id], "first recorded crash reaches a limit of 1");
}

async fn log_queries_filter_by_level_and_window_and_page(store: &dyn JobStore) {
    let job = store.enqueue(publish("a", "1.0.0"), ts(0)).await.unwrap();
    let lines: Vec<LogLine> = (0..150)
        .map(|i| LogLine {
            job_id: job.job_id.clone(),
            level: LogLevel::ALL[i % 5],
            message: format!("line {i}"),
            timestamp: ts(i as i64),
        })
        .collect();
    store.append_logs(&lines).await.unwrap();

    let page = store.job(&job.job_id, &all_logs()).await.unwrap().unwrap().logs;
    assert_eq!(page.len(), PAGE_SIZE);
    assert_eq!(page[0].message, "line 0");

    let notices = LogsQuery { level: LogLevel::Notice, since: ts(10), until: ts(20), order: Order::Desc };
    let got: Vec<String> = store
        .job(&job.job_id, &notices)
        .await
        .unwrap()
        .unwrap()
        .logs
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert_eq!(got, ["line 19", "line 18", "line 14", "line 13"]);

    assert!(store.job("no-such-job", &all_logs()).await.unwrap().is_none());
}

async fn job_lists_filter_by_window_completion_and_order(store: &dyn JobStore) {
    let a = store.enqueue(publish("a", "1.0.0"), ts(0)).await.unwrap();
    let b = store.enqueue(matrix("b"), ts(1)).await.unwrap();
    let c = store.enqueue(transfer("c"), ts(2)).await.unwrap();
    store.finish(&b.job_id, true, ts(3)).await.unwrap();

    let ids =
        |jobs: Vec<registry_core::job::Job>| jobs.into_iter().map(|j| j.info.job_id).collect::<Vec<_>>();
    let (open, skipped) = store.jobs(&all_jobs(false)).await.unwrap();
    assert!(skipped.is_empty());
    assert_eq!(ids(open), [a.job_id.clone(), c.job_id.clone()]);
    let (all, _) = store.jobs(&JobsQuery { order: Order::Desc, ..all_jobs(true) }).await.unwrap();
    assert_eq!(ids(all), [c.job_id.clone(), b.job_id.clone(), a.job_id.clone()]);
    let (window, _) = store.jobs(&JobsQuery { since: ts(1), until: ts(2), ..all_jobs(true) }).await.unwrap();
    assert_eq!(ids(window), [b.job_id]);
    let counts = store.pending_counts().await.unwrap();
    assert_eq!((counts[&JobType::Publish], counts[&JobType::Matrix]), (1, 0));
}

#[tokio::test]
async fn stored_payloads_are_upstream_json_and_read_back() {
    let (dir, store) = store();
    let raw = r#"{ "name": "a", "newLocation": {"githubOwner":"o","githubRepo":"r"} }"#;
    let job =
        NewJob::Transfer(AuthenticatedData::decode(&json!({"payload": raw, "signature": "ab"})).unwrap());
    let id = store.enqueue(job, ts(0)).await.unwrap().job_id;
    let conn = rusqlite::Connection::open(dir.path().join("registry.sqlite3")).unwrap();
    let stored: String =
        conn.query_row("SELECT payload FROM transfer_jobs WHERE jobId = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(stored, format!(r#"{{"payload":{},"signature":"ab"}}"#, serde_json::to_string(raw).unwrap()));
    let read = store.job(&id, &all_logs()).await.unwrap().unwrap();
    match read.details {
        JobDetails::Transfer { payload, .. } => assert_eq!(payload.raw_payload, raw),
        other => panic!("unexpected {other:?}"),
    }
}

/// A signed payload is carried out once: after a job used it, a new submission and
/// another job's attempt to use it are refused, naming that job; a failed job frees it.
async fn a_used_signature_cannot_be_used_again(store: &dyn JobStore) {
    use registry_queue::StoreError;
    let NewJob::Transfer(data) = transfer("aff") else { unreachable!() };
    let first = store.enqueue(NewJob::Transfer(data.clone()), ts(0)).await.unwrap().job_id;
    // While the first is unfinished, the duplicate rule answers.
    let again = store.enqueue(NewJob::Transfer(data.clone()), ts(1)).await.unwrap();
    assert_eq!((again.job_id.as_str(), again.duplicate), (first.as_str(), true));
    store.claim_next(&[JobType::Transfer], ts(2)).await.unwrap().unwrap();
    store.use_signature(&data, &first, ts(3)).await.unwrap();
    store.use_signature(&data, &first, ts(4)).await.expect("the same job may record it again (a retry)");
    store.finish(&first, true, ts(5)).await.unwrap();

    let replay = store.enqueue(NewJob::Transfer(data.clone()), ts(6)).await;
    assert!(matches!(&replay, Err(StoreError::SignatureUsed { job_id }) if *job_id == first), "{replay:?}");
    // The same payload with another signature text (e.g. upper-case hex) is the same request.
    let mut shouted = data.clone();
    shouted.signature = data.signature.to_uppercase();
    let replay = store.enqueue(NewJob::Transfer(shouted.clone()), ts(7)).await;
    assert!(matches!(replay, Err(StoreError::SignatureUsed { .. })), "{replay:?}");
    // A job queued before the first finished (the race) is refused when it runs.
    let late = store.use_signature(&shouted, "another-job", ts(8)).await;
    assert!(matches!(&late, Err(StoreError::SignatureUsed { job_id }) if *job_id == first), "{late:?}");

    // A job that failed no longer holds its payload.
    let NewJob::Unpublish(removal) = unpublish("aff", "1.0.0") else { unreachable!() };
    let failed = store.enqueue(NewJob::Unpublish(removal.clone()), ts(10)).await.unwrap().job_id;
    store.claim_next(&[JobType::Unpublish], ts(11)).await.unwrap().unwrap();
    store.use_signature(&removal, &failed, ts(12)).await.unwrap();
    store.finish(&failed, false, ts(13)).await.unwrap();
    let retry = store.enqueue(NewJob::Unpublish(removal.clone()), ts(14)).await.unwrap();
    assert!(!retry.duplicate);
    store.use_signature(&removal, &retry.job_id, ts(15)).await.unwrap();
    assert!(
        store.enqueue(NewJob::Unpublish(removal), ts(16)).await.unwrap().duplicate,
        "unfinished: duplicate rule"
    );
}
