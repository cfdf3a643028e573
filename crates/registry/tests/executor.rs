//! The executor over HTTP against the real binary: lanes, timeouts, crashes,
//! quarantine and graceful shutdown. Job programs are shell scripts that record
//! their pid and wait for marker files, so the tests decide when a job ends.

mod support;

use std::time::{Duration, Instant};

use support::*;

/// A job program that logs, records its pid, and runs until `$MARKERS/release`
/// exists (or forever). Each run appends a line to `$MARKERS/runs`.
const HOLD: &str = r#"echo "NOTICE: started $REGISTRY_JOB_ID"
echo "$REGISTRY_JOB_ID" >> "$MARKERS/runs"
echo $$ > "$MARKERS/$REGISTRY_JOB_TYPE.pid"
sleep 600 &
echo $! > "$MARKERS/$REGISTRY_JOB_TYPE.child.pid"
while [ ! -e "$MARKERS/release" ]; do sleep 0.05; done
kill $! 2>/dev/null
echo "NOTICE: released""#;

const QUICK: &str = r#"echo "NOTICE: quick job $REGISTRY_JOB_ID""#;

const SET: &str = r#"{"packages":{"aff":"8.0.0"}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_starts_within_a_second_while_a_package_set_job_runs() {
    let registry = Registry::init();
    let hold = registry.script("hold.sh", HOLD);
    let quick = registry.script("quick.sh", QUICK);
    let server = registry
        .serve(&[
            &format!("--job-command=packageset={}", hold.display()),
            &format!("--job-command=publish={}", quick.display()),
        ])
        .await;
    let set = server.submit("/api/v1/package-sets", &package_set_body(SET, None)).await;
    server.wait_started(&set, Duration::from_secs(10)).await;

    let submitted = Instant::now();
    let publish = server.submit("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    let answered = submitted.elapsed();
    assert!(answered < Duration::from_millis(500), "enqueue took {answered:?} (spago re-sends after 2 s)");
    let started = server.wait_started(&publish, Duration::from_secs(1)).await;
    let waited = submitted.elapsed();
    assert!(waited < Duration::from_secs(1), "the publish job waited {waited:?}");
    let done = server.wait_finished(&publish, Duration::from_secs(10)).await;
    assert_eq!(done["success"], true, "{done}");
    let set_now = server.job(&set).await;
    assert!(set_now.get("finishedAt").is_none(), "the package set job is still running: {set_now}");
    assert!(started["startedAt"].as_str().unwrap() > set_now["startedAt"].as_str().unwrap());

    std::fs::write(registry.marker("release"), "").unwrap();
    let set_done = server.wait_finished(&set, Duration::from_secs(10)).await;
    assert_eq!(set_done["success"], true, "{set_done}");
    assert!(messages(&set_done).last().unwrap().starts_with("Finished successfully in "), "{set_done}");
    assert!(messages(&set_done).contains(&"released".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_fails_the_job_and_kills_its_processes() {
    let registry = Registry::init();
    let hold = registry.script("hold.sh", HOLD);
    let server = registry
        .serve(&[&format!("--job-command=packageset={}", hold.display()), "--job-timeout=packageset=2s"])
        .await;
    let set = server.submit("/api/v1/package-sets", &package_set_body(SET, None)).await;
    server.wait_started(&set, Duration::from_secs(10)).await;
    wait_until(Duration::from_secs(5), "the job's child pid", || {
        registry.marker("packageset.child.pid").exists()
    })
    .await;
    let (script, child) =
        (read_pid(&registry.marker("packageset.pid")), read_pid(&registry.marker("packageset.child.pid")));
    let job = server.wait_finished(&set, Duration::from_secs(10)).await;
    assert_eq!(job["success"], false);
    assert_eq!(messages(&job).last().map(String::as_str), Some("Job timed out after 2 seconds."));
    wait_until(Duration::from_secs(5), "the job's processes to die", || {
        process_gone(script) && process_gone(child)
    })
    .await;
}

/// Kills the server with SIGKILL while the job runs; returns when it is dead.
async fn crash_during_job(registry: &Registry, args: &[&str], id: Option<&str>) -> String {
    let runs_before = std::fs::read_to_string(registry.marker("runs")).unwrap_or_default().lines().count();
    let server = registry.serve(args).await;
    let id = match id {
        Some(id) => id.to_owned(),
        None => server.submit("/api/v1/package-sets", &package_set_body(SET, None)).await,
    };
    wait_until(Duration::from_secs(10), "the job to run", || {
        std::fs::read_to_string(registry.marker("runs")).unwrap_or_default().lines().count() > runs_before
    })
    .await;
    // The job's first line must be stored before the crash for the "no line lost" check.
    server
        .wait_job(&id, Duration::from_secs(5), |j| {
            messages(j).iter().filter(|m| m.starts_with("started ")).count() > runs_before
        })
        .await;
    server.crash().await;
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_resets_the_job_which_then_finishes_with_every_log_line() {
    let registry = Registry::init();
    let hold = registry.script("hold.sh", HOLD);
    let args = [format!("--job-command=packageset={}", hold.display())];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = crash_during_job(&registry, &args, None).await;
    let orphan = read_pid(&registry.marker("packageset.child.pid"));
    assert!(!process_gone(orphan), "SIGKILL does not reach the job's processes");

    let server = registry.serve(&args).await;
    wait_until(Duration::from_secs(5), "the crashed run's processes to be killed", || process_gone(orphan))
        .await;
    server
        .wait_job(&id, Duration::from_secs(10), |j| {
            messages(j).iter().filter(|m| m.starts_with("started ")).count() == 2
        })
        .await;
    std::fs::write(registry.marker("release"), "").unwrap();
    let job = server.wait_finished(&id, Duration::from_secs(10)).await;
    assert_eq!(job["success"], true, "{job}");
    let lines = messages(&job);
    assert_eq!(lines.iter().filter(|m| m.starts_with("started ")).count(), 2, "{lines:?}");
    assert!(
        lines.iter().any(|m| m.contains("The server stopped while this job was running; it will run again")),
        "{lines:?}"
    );
    assert!(lines.contains(&"released".to_owned()));
    assert!(server.log().contains("1 interrupted job(s) queued again"), "{}", server.log());
    // The job's group at least; a git command the crashed server was running for its
    // own checkouts (the dashboard reads through them) may have been left too.
    assert!(killed_groups(&server.log()) >= 1, "{}", server.log());
}

/// N in the start-up line "killed N process group(s) left running".
fn killed_groups(log: &str) -> usize {
    log.split("killed ")
        .find_map(|rest| {
            let (n, after) = rest.split_once(' ')?;
            after.starts_with("process group(s) left running").then(|| n.parse().ok()).flatten()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_interrupted_three_times_is_quarantined_with_a_reason() {
    let registry = Registry::init();
    let hold = registry.script("hold.sh", HOLD);
    let args = [format!("--job-command=packageset={}", hold.display())];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = crash_during_job(&registry, &args, None).await;
    crash_during_job(&registry, &args, Some(&id)).await;
    crash_during_job(&registry, &args, Some(&id)).await;

    let server = registry.serve(&args).await;
    let job = server.job(&id).await;
    assert!(job.get("finishedAt").is_some(), "quarantined at start-up: {job}");
    assert_eq!(job["success"], false);
    let lines = messages(&job);
    assert_eq!(lines.iter().filter(|m| m.starts_with("started ")).count(), 3, "no line lost: {lines:?}");
    let last = server.get(&format!("/api/v1/jobs/{id}?level=ERROR")).await.json();
    assert!(messages(&last)[0].contains("interrupted 3 times"), "{last}");
    assert_eq!(
        std::fs::read_to_string(registry.marker("runs")).unwrap().lines().count(),
        3,
        "not run a fourth time"
    );
    // A new submission of the same request is accepted as a new job.
    let again = server.post("/api/v1/package-sets", &package_set_body(SET, None)).await;
    assert_ne!(again.json()["jobId"].as_str().unwrap(), id);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_running_job_and_it_runs_again_after_restart() {
    let registry = Registry::init();
    let hold = registry.script("hold.sh", HOLD);
    let args = [format!("--job-command=packageset={}", hold.display())];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = registry.serve(&args).await;
    let id = server.submit("/api/v1/package-sets", &package_set_body(SET, None)).await;
    wait_until(Duration::from_secs(10), "the job's child pid", || {
        registry.marker("packageset.child.pid").exists()
    })
    .await;
    let child = read_pid(&registry.marker("packageset.child.pid"));
    let stopping = Instant::now();
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
    assert!(stopping.elapsed() < Duration::from_secs(5), "shutdown took {:?}", stopping.elapsed());
    wait_until(Duration::from_secs(5), "the job's child to die", || process_gone(child)).await;

    std::fs::write(registry.marker("release"), "").unwrap();
    let server = registry.serve(&args).await;
    let job = server.wait_finished(&id, Duration::from_secs(10)).await;
    assert_eq!(job["success"], true, "{job}");
    let lines = messages(&job);
    assert!(
        lines.iter().any(|m| m.contains("shutting down: this job was stopped and will run again")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|m| m.contains("The server stopped while this job was running")),
        "not counted as a crash"
    );
}
