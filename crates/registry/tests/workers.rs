//! One API process (`registry serve --no-executor`) and workers (`registry worker`)
//! sharing a real Postgres job store, started by the test. Jobs are job programs
//! (`--job-command`) that record what they do, so every run, and every write a job
//! makes, is visible. Skipped with a message where Postgres is not installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use registry_test_support::PostgresTestServer;
use support::{BIN, Registry, Server, messages, package_set_body, publish_body, transfer_body, wait_until};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A job program: records its run and pid, takes `$MARKERS/sets.lock` while a
/// package-set job runs (a second one at once records OVERLAP), waits for
/// `$MARKERS/release` if asked to, then makes its one write.
const JOB: &str = r#"
echo "$REGISTRY_JOB_ID $REGISTRY_WORKER_ID" >> "$MARKERS/runs"
echo $$ > "$MARKERS/$REGISTRY_WORKER_ID.pid"
if [ "$REGISTRY_JOB_TYPE" = packageset ]; then
  mkdir "$MARKERS/sets.lock" 2>/dev/null || echo OVERLAP >> "$MARKERS/writes"
fi
if [ -n "$HOLD" ]; then
  while [ ! -e "$MARKERS/release" ]; do sleep 0.05; done
else
  sleep 0.2
fi
[ "$REGISTRY_JOB_TYPE" = packageset ] && rmdir "$MARKERS/sets.lock"
echo "$REGISTRY_JOB_ID $REGISTRY_WORKER_ID" >> "$MARKERS/writes"
echo "done"
"#;

struct Worker {
    child: Child,
    log: PathBuf,
}

impl Worker {
    fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status();
        assert!(status.unwrap().success(), "kill -{signal}");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-CONT", &pid.to_string()]).status();
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
    }
}

/// A cluster, an API process and a data directory per worker (workers on other
/// machines share only the database and the remotes).
struct Setup {
    _postgres: PostgresTestServer,
    url: String,
    registry: Registry,
    api: Server,
    program: PathBuf,
}

fn job_flags(program: &Path) -> Vec<String> {
    ["publish", "unpublish", "transfer", "packageset", "matrix"]
        .iter()
        .map(|kind| format!("--job-command={kind}={}", program.display()))
        .collect()
}

async fn setup() -> Option<Setup> {
    let postgres = PostgresTestServer::start()?;
    let url = postgres.new_database("registry");
    let registry = Registry::init();
    let program = registry.script("job.sh", JOB);
    let api = registry.serve_env(&["--no-executor"], &[("DATABASE_URL", &url)]).await;
    Some(Setup { _postgres: postgres, url, registry, api, program })
}

impl Setup {
    async fn worker(&self, name: &str, lease_secs: u64, hold: bool) -> Worker {
        let data = self.registry.dir.path().join(format!("worker-{name}"));
        let init = std::process::Command::new(BIN).args(["init", "--data-dir"]).arg(&data).output().unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        let log = self.registry.dir.path().join(format!("worker-{name}.log"));
        let mut cmd = Command::new(BIN);
        cmd.arg("worker")
            .arg("--data-dir")
            .arg(&data)
            .args(job_flags(&self.program))
            .env("DATABASE_URL", &self.url)
            .env("REGISTRY_WORKER_ID", name)
            .env("REGISTRY_JOB_LEASE", format!("{lease_secs}s"))
            .env("MARKERS", self.registry.markers())
            .env_remove("READONLY")
            .env_remove("REGISTRY_JOB_COMMANDS")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true);
        if hold {
            cmd.env("HOLD", "1");
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line == "Worker running" {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            started.unwrap_or(false),
            "worker {name} did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Worker { child, log }
    }

    fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.registry.marker(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn three_workers_drain_a_mixed_queue_each_job_once() {
    let Some(setup) = setup().await else { return };
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(setup.api.submit("/api/v1/publish", &publish_body(&format!("pkg{i}"), "1.0.0")).await);
    }
    for i in 0..3 {
        ids.push(setup.api.submit("/api/v1/transfer", &transfer_body(&format!("moved{i}"))).await);
    }
    for i in 0..3 {
        let payload = format!(r#"{{"packages":{{"set{i}":"1.0.0"}}}}"#);
        ids.push(setup.api.submit("/api/v1/package-sets", &package_set_body(&payload, None)).await);
    }
    // Nothing runs in the API process.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(setup.lines("runs").is_empty(), "the API ran jobs: {:?}", setup.lines("runs"));

    let workers = [
        setup.worker("w1", 10, false).await,
        setup.worker("w2", 10, false).await,
        setup.worker("w3", 10, false).await,
    ];
    for id in &ids {
        let job = setup.api.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(job["success"], true, "{job}\n{}", workers.iter().map(Worker::log).collect::<String>());
    }
    let writes = setup.lines("writes");
    assert!(!writes.iter().any(|w| w == "OVERLAP"), "two package-set jobs ran at once: {writes:?}");
    let mut written: Vec<&str> = writes.iter().map(|w| w.split(' ').next().unwrap()).collect();
    written.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(written, expected, "every job wrote exactly once");
    assert_eq!(setup.lines("runs").len(), ids.len(), "no job ran twice");
    let busy = ["w1", "w2", "w3"].iter().filter(|w| writes.iter().any(|l| l.ends_with(*w))).count();
    assert!(busy >= 2, "the work was shared: {writes:?}");
}

#[tokio::test]
async fn a_killed_workers_job_runs_again_elsewhere_after_its_lease_expires() {
    let Some(setup) = setup().await else { return };
    let id = setup.api.submit("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    let a = setup.worker("a", 2, true).await;
    wait_until(Duration::from_secs(20), "worker a runs the job", || setup.lines("runs").len() == 1).await;
    // The machine is lost: the worker and its job's process group die at once. (A
    // worker killed alone leaves its job's program running until it starts again on
    // that data directory and kills the groups it recorded.)
    let a_program = support::read_pid(&setup.registry.marker("a.pid"));
    let mut a = a;
    a.child.kill().await.unwrap();
    let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{a_program}")]).status();
    let killed_at = Instant::now();
    let b = setup.worker("b", 2, true).await;
    wait_until(Duration::from_secs(20), "worker b runs the job again", || setup.lines("runs").len() == 2)
        .await;
    assert!(killed_at.elapsed() >= Duration::from_millis(1500), "re-run before the lease could expire");
    std::fs::write(setup.registry.marker("release"), "").unwrap();
    let job = setup.api.wait_finished(&id, Duration::from_secs(30)).await;
    assert_eq!(job["success"], true, "{job}\n{}", b.log());
    assert_eq!(setup.lines("runs"), [format!("{id} a"), format!("{id} b")]);
    assert!(messages(&job).iter().any(|m| m.contains("interruption 1")), "{:?}", messages(&job));
    assert_eq!(setup.lines("writes"), [format!("{id} b")], "written once, by the re-run");
}

#[tokio::test]
async fn a_worker_frozen_past_its_lease_writes_nothing_after_waking() {
    let Some(setup) = setup().await else { return };
    let id = setup.api.submit("/api/v1/publish", &publish_body("aff", "1.0.0")).await;
    let a = setup.worker("a", 2, true).await;
    wait_until(Duration::from_secs(20), "worker a runs the job", || setup.lines("runs").len() == 1).await;
    let a_program = support::read_pid(&setup.registry.marker("a.pid"));
    a.signal("STOP");
    let b = setup.worker("b", 2, true).await;
    wait_until(Duration::from_secs(20), "worker b takes the job over", || setup.lines("runs").len() == 2)
        .await;
    a.signal("CONT");
    // On waking, a's renewal is refused: it stops the job, killing its program.
    wait_until(Duration::from_secs(10), "a's job program is killed", || support::process_gone(a_program))
        .await;
    std::fs::write(setup.registry.marker("release"), "").unwrap();
    let job = setup.api.wait_finished(&id, Duration::from_secs(30)).await;
    assert_eq!(job["success"], true, "{job}\n{}\n{}", a.log(), b.log());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(setup.lines("writes"), [format!("{id} b")], "only the lease holder wrote");
    assert!(a.log().contains("lost its lease"), "{}", a.log());
    let job = setup.api.job(&id).await;
    let finished: Vec<String> =
        messages(&job).into_iter().filter(|m| m.starts_with("Finished successfully")).collect();
    assert_eq!(finished.len(), 1, "{:?}", messages(&job));
}
