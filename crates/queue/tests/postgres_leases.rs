//! What only the Postgres store does: leases, fencing, shared package locks and
//! package-set claims one at a time, with several stores (workers) on one database.

use std::collections::BTreeMap;
use std::time::Duration;

use registry_core::job::{JobType, LogLevel, LogLine};
use registry_core::json::Codec;
use registry_core::operation::{PackageSetUpdateRequest, PublishData};
use registry_core::{PackageName, Timestamp, Version};
use registry_queue::{
    JobStore, LogsQuery, MatrixRecord, NewJob, Order, PostgresOptions, PostgresStore, RecordOutcome,
    StoreError,
};
use registry_test_support::PostgresTestServer;
use serde_json::json;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + ms)
}

fn publish(name: &str) -> NewJob {
    NewJob::Publish(PublishData::decode(&json!({"name": name, "ref": "v1.0.0", "version": "1.0.0"})).unwrap())
}

fn matrix(name: &str, compiler: u32) -> NewJob {
    NewJob::Matrix {
        package_name: PackageName::parse(name).unwrap(),
        package_version: Version::new(1, 0, 0),
        compiler_version: Version::new(0, 15, compiler),
        build_plan: BTreeMap::new(),
    }
}

fn package_set(raw: &str) -> NewJob {
    NewJob::PackageSet(PackageSetUpdateRequest::decode(&json!({ "payload": raw })).unwrap())
}

async fn worker(url: &str, name: &str, lease_secs: u64) -> PostgresStore {
    let options = PostgresOptions {
        worker_id: name.into(),
        lease: Duration::from_secs(lease_secs),
        max_interruptions: 3,
    };
    PostgresStore::connect(url, options).await.unwrap()
}

fn all_logs() -> LogsQuery {
    LogsQuery { level: LogLevel::Debug, since: ts(-1_000_000), until: ts(1_000_000), order: Order::Asc }
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_its_old_holder_is_fenced_off() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let (a, b) = (worker(&url, "a", 1).await, worker(&url, "b", 1).await);
    let job = a.enqueue(publish("aff"), ts(0)).await.unwrap().job_id;
    assert_eq!(a.claim_next(&[JobType::Publish], ts(1)).await.unwrap().unwrap().info.job_id, job);
    a.renew_lease(&job).await.unwrap();
    assert!(b.claim_next(&[JobType::Publish], ts(2)).await.unwrap().is_none(), "a holds the lease");

    // `a` freezes past its lease: `b` takes the job over, as an interruption.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again =
        b.claim_next(&[JobType::Publish], ts(3)).await.unwrap().expect("the expired job is claimable");
    assert_eq!(again.info.job_id, job);
    assert!(matches!(a.renew_lease(&job).await, Err(StoreError::LeaseLost { .. })));
    let line =
        LogLine { job_id: job.clone(), level: LogLevel::Info, message: "late".into(), timestamp: ts(4) };
    assert!(matches!(a.append_logs(std::slice::from_ref(&line)).await, Err(StoreError::LeaseLost { .. })));
    assert!(matches!(a.finish(&job, true, ts(5)).await, Err(StoreError::LeaseLost { .. })));

    b.renew_lease(&job).await.unwrap();
    b.finish(&job, true, ts(6)).await.unwrap();
    let stored = b.job(&job, &all_logs()).await.unwrap().unwrap();
    assert_eq!(stored.info.finished_at, Some(ts(6)));
    let messages: Vec<&str> = stored.logs.iter().map(|l| l.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("interruption 1")), "{messages:?}");
    assert!(!messages.contains(&"late"), "{messages:?}");
}

#[tokio::test]
async fn a_lease_that_expired_cannot_be_renewed_even_if_nobody_took_it() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let a = worker(&url, "a", 1).await;
    let job = a.enqueue(publish("aff"), ts(0)).await.unwrap().job_id;
    a.claim_next(&[JobType::Publish], ts(1)).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(matches!(a.renew_lease(&job).await, Err(StoreError::LeaseLost { .. })));
}

#[tokio::test]
async fn workers_claiming_at_once_never_get_the_same_job() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let first = worker(&url, "w0", 30).await;
    for i in 0..80 {
        first.enqueue(matrix(&format!("p{i}"), 15), ts(i)).await.unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = worker(&url, &format!("w{w}"), 30).await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(job) = store.claim_next(&[JobType::Matrix], ts(100)).await.unwrap() {
                store.finish(&job.info.job_id, true, ts(101)).await.unwrap();
                got.push(job.info.job_id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!((count, all.len()), (80, 80), "every job claimed exactly once");
}

#[tokio::test]
async fn package_locks_are_shared_and_lapse_with_their_holders_lease() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let (a, b) = (worker(&url, "a", 1).await, worker(&url, "b", 30).await);
    let aff = PackageName::parse("aff").unwrap();
    a.enqueue(publish("aff"), ts(0)).await.unwrap();
    a.enqueue(matrix("aff", 15), ts(1)).await.unwrap();
    let held = a.claim_next(&[JobType::Publish], ts(2)).await.unwrap().unwrap().info.job_id;
    let waiting = b.claim_next(&[JobType::Matrix], ts(3)).await.unwrap().unwrap().info.job_id;
    assert!(a.try_lock_package(&aff, &held).await.unwrap());
    assert!(a.try_lock_package(&aff, &held).await.unwrap(), "already ours");
    assert!(!b.try_lock_package(&aff, &waiting).await.unwrap(), "held by a's live claim");
    assert!(b.try_lock_package(&PackageName::parse("prelude").unwrap(), &waiting).await.unwrap());
    a.unlock_package(&aff, &held).await.unwrap();
    assert!(b.try_lock_package(&aff, &waiting).await.unwrap(), "released");
    b.unlock_package(&aff, &waiting).await.unwrap();

    // A frozen holder: its lock lapses with its lease.
    assert!(a.try_lock_package(&aff, &held).await.unwrap());
    assert!(!b.try_lock_package(&aff, &waiting).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(b.try_lock_package(&aff, &waiting).await.unwrap(), "the holder's lease expired");
    assert!(matches!(a.try_lock_package(&aff, &held).await, Ok(false) | Err(StoreError::LeaseLost { .. })));
}

fn record_of(job_id: &str, name: &str) -> MatrixRecord {
    MatrixRecord {
        job_id: job_id.to_owned(),
        package: PackageName::parse(name).unwrap(),
        version: Version::new(1, 0, 0),
        compiler: Version::new(0, 15, 15),
    }
}

#[tokio::test]
async fn matrix_results_are_written_by_one_writer_at_a_time_and_each_job_reads_its_outcome_once() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let (a, b, c) = (worker(&url, "a", 30).await, worker(&url, "b", 30).await, worker(&url, "c", 1).await);
    for (i, name) in ["aff", "prelude", "effect"].iter().enumerate() {
        a.enqueue(matrix(name, 15), ts(i as i64)).await.unwrap();
    }
    let claim = |store: PostgresStore| async move {
        store.claim_next(&[JobType::Matrix], ts(10)).await.unwrap().unwrap().info.job_id
    };
    let (ja, jb, jc) = (claim(a.clone()).await, claim(b.clone()).await, claim(c.clone()).await);
    a.file_matrix_record(&record_of(&ja, "aff")).await.unwrap();
    b.file_matrix_record(&record_of(&jb, "prelude")).await.unwrap();
    c.file_matrix_record(&record_of(&jc, "effect")).await.unwrap();
    assert!(a.matrix_record_outcome(&ja).await.unwrap().is_none(), "not written yet");

    // `a` becomes the writer and gets every pending result; `b` must wait.
    let batch = a.take_matrix_records(&ja, 64).await.unwrap().expect("the writer's lock is free");
    let ids: Vec<&str> = batch.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(ids, [ja.as_str(), jb.as_str(), jc.as_str()], "oldest first");
    assert_eq!(batch[1], record_of(&jb, "prelude"));
    assert!(b.take_matrix_records(&jb, 64).await.unwrap().is_none(), "a writes");
    let outcome = |written, message: &str| RecordOutcome { written, message: message.to_owned() };
    a.settle_matrix_records(
        &ja,
        &[(ja.clone(), outcome(true, "ok a")), (jb.clone(), outcome(false, "gone"))],
    )
    .await
    .unwrap();
    assert_eq!(b.matrix_record_outcome(&jb).await.unwrap(), Some(outcome(false, "gone")));
    assert_eq!(b.matrix_record_outcome(&jb).await.unwrap(), None, "read once");
    assert_eq!(a.matrix_record_outcome(&ja).await.unwrap(), Some(outcome(true, "ok a")));

    // The lock is free again; `c`'s result is still pending, until `c`'s lease lapses:
    // then it is left out (its job runs again elsewhere and files anew).
    let pending = b.take_matrix_records(&jb, 64).await.unwrap().expect("released by settling");
    assert_eq!(pending, [record_of(&jc, "effect")]);
    b.settle_matrix_records(&jb, &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(b.take_matrix_records(&jb, 64).await.unwrap(), Some(vec![]), "c's claim lapsed");
    assert!(matches!(
        c.file_matrix_record(&record_of(&jc, "effect")).await,
        Err(StoreError::LeaseLost { .. })
    ));

    // A writer whose lease lapsed loses the writer's lock to the next one.
    let d = worker(&url, "d", 30).await;
    let jd = d.claim_next(&[JobType::Matrix], ts(20)).await.unwrap().unwrap().info.job_id;
    assert_eq!(jd, jc, "c's job is claimed again");
    assert!(matches!(b.take_matrix_records(&jb, 64).await, Ok(Some(_))), "b holds the lock again");
    assert!(d.take_matrix_records(&jd, 64).await.unwrap().is_none(), "b's claim is live");
}

#[tokio::test]
async fn package_set_jobs_run_one_at_a_time_across_workers() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let (a, b) = (worker(&url, "a", 30).await, worker(&url, "b", 30).await);
    a.enqueue(package_set(r#"{"packages":{"a":"1.0.0"}}"#), ts(0)).await.unwrap();
    a.enqueue(package_set(r#"{"packages":{"b":"1.0.0"}}"#), ts(1)).await.unwrap();
    let first = a.claim_next(&[JobType::PackageSet], ts(2)).await.unwrap().unwrap().info.job_id;
    assert!(b.claim_next(&[JobType::PackageSet], ts(3)).await.unwrap().is_none(), "one runs already");
    a.finish(&first, true, ts(4)).await.unwrap();
    assert!(b.claim_next(&[JobType::PackageSet], ts(5)).await.unwrap().is_some());
}

#[tokio::test]
async fn log_timestamps_stay_strictly_increasing_when_a_rerun_clock_is_behind() {
    let Some(server) = PostgresTestServer::start() else { return };
    let url = server.new_database("registry");
    let a = worker(&url, "a", 30).await;
    let job = a.enqueue(publish("aff"), ts(0)).await.unwrap().job_id;
    let line = |ms, message: &str| LogLine {
        job_id: job.clone(),
        level: LogLevel::Info,
        message: message.into(),
        timestamp: ts(ms),
    };
    a.append_logs(&[line(100, "first run"), line(100, "same millisecond")]).await.unwrap();
    // A worker whose clock is behind continues the log.
    a.append_logs(&[line(50, "second run")]).await.unwrap();
    let logs = a.job(&job, &all_logs()).await.unwrap().unwrap().logs;
    let stamps: Vec<Timestamp> = logs.iter().map(|l| l.timestamp).collect();
    assert_eq!(stamps, [ts(100), ts(101), ts(102)]);
    assert_eq!(logs[2].message, "second run");
}
