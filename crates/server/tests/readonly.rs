//! READONLY: a job that writes everywhere runs with the adapters `serve` picks; the
//! git remotes' refs, the storage tree and the documentation site's received
//! requests stay unchanged, and every skipped write is a NOTICE in the job's log.
//! The same job without READONLY changes all three, so the checks can fail.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use bytes::Bytes;
use registry_adapters::{ActivityLog, FileChange};
use registry_core::job::{Job, JobType, LogLevel};
use registry_core::json::Codec;
use registry_core::operation::PublishData;
use registry_core::{PackageName, Timestamp, Version};
use registry_queue::{LogsQuery, NewJob, Order};
use registry_server::app::build_adapters;
use registry_server::config::defaults_for;
use registry_server::executor::{Executor, Handlers, Wakers, shutdown_pair};
use registry_server::{JobContext, JobFailure, JobHandler};

type Requests = Arc<Mutex<Vec<String>>>;

/// A documentation site that records what it receives and answers 201.
async fn docs_recorder() -> (String, Requests) {
    async fn record(State(seen): State<Requests>, method: Method, uri: Uri, body: Bytes) -> StatusCode {
        seen.lock().unwrap().push(format!("{method} {} ({} bytes)", uri.path(), body.len()));
        StatusCode::CREATED
    }
    let seen: Requests = Arc::default();
    let app = Router::new().fallback(record).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

/// Writes through every adapter, then reads its own metadata write back.
struct WriteEverywhere;

#[async_trait]
impl JobHandler for WriteEverywhere {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let a = &ctx.adapters;
        let log: &dyn ActivityLog = ctx.log.as_ref();
        let (name, new, old) =
            (PackageName::parse("aff").unwrap(), Version::new(2, 0, 0), Version::new(1, 0, 0));
        a.storage.upload(&name, &new, Bytes::from_static(b"new tarball"), log).await?;
        a.storage.delete(&name, &old, log).await?;
        let metadata = FileChange::write("metadata/aff.json", "{\"location\":{}}\n");
        a.registry.commit(&[metadata], "Update metadata for aff", log).await?;
        a.index.commit(&[FileChange::write("3/a/aff", "{}\n")], "Update manifest for aff@2.0.0", log).await?;
        a.docs.publish(&name, &new, br#"{"docs":true}"#, log).await?;
        let read_back = a.registry.read("metadata/aff.json").await?;
        if read_back.as_deref() != Some("{\"location\":{}}\n") {
            return Err(JobFailure(format!("metadata read back as {read_back:?}")));
        }
        Ok(())
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir` with its contents.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

struct World {
    refs: String,
    storage: BTreeMap<String, Vec<u8>>,
    docs: Vec<String>,
}

/// Runs one WriteEverywhere job through the executor; returns the world before and
/// after, and the finished job.
async fn run_job(readonly: bool) -> (World, World, Job) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    registry_server::init::init(&data, None).unwrap();
    let (docs_url, docs_seen) = docs_recorder().await;
    let mut settings = defaults_for(&data);
    settings.readonly = readonly;
    settings.docs_url = docs_url;
    let layout = settings.layout();
    std::fs::create_dir_all(layout.storage().join("aff")).unwrap();
    std::fs::write(layout.storage().join("aff/1.0.0.tar.gz"), b"old tarball").unwrap();
    let world = || World {
        refs: git(&layout.registry_bare(), &["for-each-ref"]) + &git(&layout.index_bare(), &["for-each-ref"]),
        storage: tree(&layout.storage()),
        docs: docs_seen.lock().unwrap().clone(),
    };
    let before = world();

    let store = support::job_store(&settings).await;
    let mut handlers: Handlers = HashMap::new();
    handlers.insert(JobType::Publish, Arc::new(WriteEverywhere));
    let executor = Arc::new(Executor {
        store: store.clone(),
        handlers,
        adapters: build_adapters(&settings).unwrap(),
        timeouts: HashMap::new(),
        work_root: layout.jobs(),
        poll_interval: Duration::from_millis(50),
        hidden_paths: Default::default(),
    });
    let wakers = Wakers::new();
    let (trigger, shutdown) = shutdown_pair();
    let lanes = executor.start(&wakers, shutdown);
    let payload = PublishData::from_json_str(r#"{"name":"aff","ref":"v2.0.0","version":"2.0.0"}"#).unwrap();
    let now = Timestamp::from_unix_millis(1_800_000_000_000);
    let id = store.enqueue(NewJob::Publish(payload), now).await.unwrap().job_id;
    wakers.wake(JobType::Publish);
    let query = LogsQuery {
        level: LogLevel::Debug,
        since: Timestamp::from_unix_millis(0),
        until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").unwrap(),
        order: Order::Asc,
    };
    let mut job = None;
    for _ in 0..400 {
        let current = store.job(&id, &query).await.unwrap().unwrap();
        if current.info.finished_at.is_some() {
            job = Some(current);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    trigger.trigger();
    for lane in lanes {
        lane.await.unwrap();
    }
    let job = job.expect("the job finished within 10 s");
    (before, world(), job)
}

#[tokio::test(flavor = "multi_thread")]
async fn readonly_runs_jobs_without_writing_and_logs_what_it_skipped() {
    let (before, after, job) = run_job(true).await;
    let lines: Vec<String> = job.logs.iter().map(|l| format!("{}: {}", l.level, l.message)).collect();
    assert!(job.info.success, "{lines:#?}");
    assert_eq!(after.refs, before.refs, "git remotes unchanged");
    assert_eq!(after.storage, before.storage, "storage tree unchanged");
    assert_eq!(after.docs, before.docs, "documentation site received nothing");
    assert!(after.docs.is_empty());

    let notices: Vec<&str> =
        job.logs.iter().filter(|l| l.level == LogLevel::Notice).map(|l| l.message.as_str()).collect();
    let expect = [
        ("READONLY: would upload aff/2.0.0.tar.gz (11 bytes) to local directory", "upload"),
        ("READONLY: would delete aff/1.0.0.tar.gz from local directory", "delete"),
        ("registry repository at", "registry commit target"),
        ("\"Update metadata for aff\"", "registry commit message"),
        ("write metadata/aff.json (16 bytes)", "registry commit size"),
        ("\"Update manifest for aff@2.0.0\"", "index commit message"),
        (
            "READONLY: would publish documentation for aff@2.0.0 (13 bytes of JSON) to the documentation site at http://",
            "docs",
        ),
    ];
    for (needle, what) in expect {
        assert!(
            notices.iter().any(|n| n.contains(needle)),
            "no NOTICE for the {what} ({needle}) in {notices:#?}"
        );
    }
    assert_eq!(notices.len(), 5, "{notices:#?}");
    // One searchable form: every skipped write says what would have happened.
    for notice in &notices {
        assert!(
            notice.starts_with(registry_adapters::READONLY_PREFIX) && notice.contains("would"),
            "a READONLY notice not in the form 'READONLY: would …': {notice}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_readonly_the_same_job_writes_everywhere() {
    let (before, after, job) = run_job(false).await;
    let lines: Vec<String> = job.logs.iter().map(|l| format!("{}: {}", l.level, l.message)).collect();
    assert!(job.info.success, "{lines:#?}");
    assert_ne!(after.refs, before.refs);
    assert!(
        after.storage.contains_key("aff/2.0.0.tar.gz") && !after.storage.contains_key("aff/1.0.0.tar.gz")
    );
    assert_eq!(after.docs.len(), 1);
    assert!(after.docs[0].starts_with("POST /packages ("), "{:?}", after.docs);
    assert!(job.logs.iter().all(|l| l.level != LogLevel::Notice), "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with("INFO: Uploaded aff/2.0.0.tar.gz (11 bytes)")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with("INFO: Pushed commit")), "{lines:#?}");
}
