//! `JobHandler::after_failure`: the executor calls it once for a job that failed
//! for good, whether the handler returned an error, ran past its timeout or
//! crashed, and for a job quarantined at start-up; never for a success or a job
//! that will run again. Matrix jobs rely on it so that dependants awaiting a job
//! are planned however that job ends.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use registry_adapters::ActivityLog;
use registry_core::Timestamp;
use registry_core::job::{Job, JobDetails, JobType, LogLevel};
use registry_core::json::Codec;
use registry_core::operation::PublishData;
use registry_queue::{JobStore, LogsQuery, NewJob, Order};
use registry_server::app::build_adapters;
use registry_server::config::defaults_for;
use registry_server::executor::{Executor, Handlers, shutdown_pair};
use registry_server::{JobContext, JobFailure, JobHandler};

/// Behaves as its publish payload's package name says, and records each
/// `after_failure` call.
#[derive(Default)]
struct Scripted {
    after_failure: Mutex<Vec<String>>,
}

fn name_of(ctx: &JobContext) -> String {
    match &ctx.job.details {
        JobDetails::Publish { payload, .. } => payload.name.to_string(),
        other => panic!("a publish job was expected, not {other:?}"),
    }
}

#[async_trait]
impl JobHandler for Scripted {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        match name_of(ctx).as_str() {
            "works" => Ok(()),
            "fails" => Err(JobFailure("failed on purpose".into())),
            "hangs" => {
                tokio::time::sleep(Duration::from_secs(600)).await;
                Ok(())
            }
            "panics" => panic!("crashed on purpose"),
            other => Err(JobFailure(format!("no script for {other}"))),
        }
    }

    async fn after_failure(&self, ctx: &JobContext) {
        let name = name_of(ctx);
        ctx.log.info(&format!("after_failure for {name}"));
        self.after_failure.lock().unwrap().push(name);
    }
}

fn publish(name: &str) -> NewJob {
    let json = format!(r#"{{"name":"{name}","ref":"v1.0.0","version":"1.0.0"}}"#);
    NewJob::Publish(PublishData::from_json_str(&json).unwrap())
}

async fn read(store: &dyn JobStore, id: &str) -> Job {
    let query = LogsQuery {
        level: LogLevel::Debug,
        since: Timestamp::from_unix_millis(0),
        until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").unwrap(),
        order: Order::Asc,
    };
    store.job(id, &query).await.unwrap().unwrap()
}

fn messages(job: &Job) -> Vec<String> {
    job.logs.iter().map(|line| line.message.clone()).collect()
}

struct World {
    _dir: tempfile::TempDir,
    settings: registry_server::config::Settings,
    store: Arc<dyn JobStore>,
    handler: Arc<Scripted>,
    executor: Executor,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    registry_server::init::init(&data, None).unwrap();
    let settings = defaults_for(&data);
    let store = support::job_store(&settings).await;
    let handler = Arc::new(Scripted::default());
    let mut handlers: Handlers = HashMap::new();
    handlers.insert(JobType::Publish, handler.clone());
    let executor = Executor {
        store: store.clone(),
        handlers,
        adapters: build_adapters(&settings).unwrap(),
        timeouts: HashMap::from([(JobType::Publish, Duration::from_millis(500))]),
        work_root: settings.layout().jobs(),
        poll_interval: Duration::from_millis(50),
        hidden_paths: Default::default(),
    };
    World { _dir: dir, settings, store, handler, executor }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_failure_runs_once_for_an_error_a_timeout_and_a_crash_and_never_for_a_success() {
    let w = world().await;
    let (_trigger, shutdown) = shutdown_pair();
    let mut ids = Vec::new();
    for (i, name) in ["works", "fails", "hangs", "panics"].into_iter().enumerate() {
        let at = Timestamp::from_unix_millis(1_800_000_000_000 + i as i64);
        let id = w.store.enqueue(publish(name), at).await.unwrap().job_id;
        let job = w.store.claim_next(&[JobType::Publish], at).await.unwrap().expect("the job just queued");
        assert_eq!(job.info.job_id, id);
        w.executor.run(job, shutdown.clone()).await;
        ids.push((name, id));
    }
    assert_eq!(*w.handler.after_failure.lock().unwrap(), ["fails", "hangs", "panics"]);
    for (name, id) in ids {
        let job = read(w.store.as_ref(), &id).await;
        let lines = messages(&job);
        let hook = lines.iter().position(|m| *m == format!("after_failure for {name}"));
        if name == "works" {
            assert!(job.info.success, "{lines:#?}");
            assert_eq!(hook, None, "{lines:#?}");
            continue;
        }
        assert!(!job.info.success, "{lines:#?}");
        // In the job's own log, before the line that says why it failed.
        let hook = hook.unwrap_or_else(|| panic!("{name}: no after_failure line in {lines:#?}"));
        assert_eq!(hook, lines.len() - 2, "{lines:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_quarantined_at_start_up_gets_its_after_failure() {
    let w = world().await;
    let at = Timestamp::from_unix_millis(1_800_000_000_000);
    let id = w.store.enqueue(publish("hangs"), at).await.unwrap().job_id;
    let mut quarantined = Vec::new();
    // The process that claimed it and "crashed", and the one starting up now.
    let crashed = support::job_store(&w.settings).await;
    for _ in 0..5 {
        // Claimed, then the process "crashes": start-up recovery finds it running.
        crashed.claim_next(&[JobType::Publish], at).await.unwrap().expect("the job is queued again");
        let report = w.store.reset_interrupted(1, at).await.unwrap();
        if !report.quarantined.is_empty() {
            quarantined = report.quarantined;
            break;
        }
    }
    assert_eq!(quarantined, std::slice::from_ref(&id));
    assert!(w.handler.after_failure.lock().unwrap().is_empty());
    w.executor.after_quarantine(&quarantined).await;
    assert_eq!(*w.handler.after_failure.lock().unwrap(), ["hangs"]);
    let lines = messages(&read(w.store.as_ref(), &id).await);
    assert!(lines.contains(&"after_failure for hangs".to_owned()), "{lines:#?}");
}
