//! One API process (`registry serve --no-executor`) and workers (`registry worker`)
//! sharing a real Postgres job store, started by the test. Jobs are job programs
//! (`--job-command`) that record what they do, so every run, and every write a job
//! makes, is visible. Skipped with a message where Postgres is not installed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use registry_test_support::{PostgresTestServer, S3TestServer};
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

/// A seeded package: its name, its dependencies and the compilers its 1.0.0 is
/// recorded as working with.
type SeedSpec = (String, Vec<String>, Vec<&'static str>);

/// Writes a seed folder (index and metadata) of `packages`, each at 1.0.0, and
/// returns their tarballs by storage key.
fn seed_packages(root: &Path, packages: &[SeedSpec]) -> Vec<(String, Vec<u8>)> {
    use registry_core::json::Codec;
    use registry_core::metadata::PublishedMetadata;
    use registry_core::{Metadata, Sha256, Timestamp, Version};
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("metadata")).unwrap();
    let mut tarballs = Vec::new();
    for (name, deps, compilers) in packages {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        let m = support::chain_manifest(name, "1.0.0", &deps);
        let index_path = seed.join("index").join(registry_core::manifest_index::entry_path(&m.name));
        std::fs::create_dir_all(index_path.parent().unwrap()).unwrap();
        let mut index = std::fs::read_to_string(&index_path).unwrap_or_default();
        index.push_str(&format!("{}\n", m.to_compact()));
        std::fs::write(index_path, index).unwrap();
        let src = root.join("sources").join(format!("{name}-1.0.0"));
        let files = registry_workload::package_files(&m, registry_workload::Variant::Normal);
        registry_workload::write_files(&src, &files).unwrap();
        let tarball = registry_tarball::create_tarball(&src, &format!("{name}-1.0.0")).unwrap();
        let mut metadata = Metadata::new(m.location.clone());
        metadata.published.insert(
            m.version,
            PublishedMetadata {
                bytes: tarball.len() as u64,
                compilers: compilers.iter().map(|c| Version::parse(c).unwrap()).collect(),
                hash: Sha256::of_bytes(&tarball),
                published_time: Timestamp::from_unix_millis(1_700_000_000_000),
                git_ref: Some(String::new()),
            },
        );
        std::fs::write(seed.join(format!("metadata/{name}.json")), metadata.to_pretty()).unwrap();
        tarballs.push((registry_adapters::tarball_key(&m.name, &m.version), tarball));
    }
    tarballs
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git").current_dir(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the workers keep tarballs and the build cache. Machines share an S3 bucket:
/// the S3-compatible test server. Without one, a directory every worker's `storage`
/// links to stands in.
enum SharedStorage {
    S3(S3TestServer),
    Dir(PathBuf),
}

impl SharedStorage {
    async fn put(&self, objects: &[(String, Vec<u8>)]) {
        for (key, bytes) in objects {
            match self {
                SharedStorage::S3(server) => {
                    let s3 = registry_adapters::S3Storage::new(&server.config()).unwrap();
                    use registry_adapters::Storage;
                    s3.put_once(key, bytes.clone().into(), &registry_adapters::NullLog).await.unwrap();
                }
                SharedStorage::Dir(dir) => {
                    let path = dir.join(key);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, bytes).unwrap();
                }
            }
        }
    }

    /// Points a worker on `data` at the shared storage, with the settings the README
    /// gives for S3.
    fn attach(&self, data: &Path, cmd: &mut Command) {
        match self {
            SharedStorage::S3(server) => {
                cmd.envs(server.registry_env());
            }
            SharedStorage::Dir(dir) => {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::remove_dir_all(data.join("storage")).unwrap();
                std::os::unix::fs::symlink(dir, data.join("storage")).unwrap();
            }
        }
    }
}

/// A Postgres job store, a registry whose bare repositories every worker pushes to,
/// the stand-in compiler as 0.15.14 and 0.15.15, and storage shared by the workers.
struct MatrixCluster {
    _postgres: PostgresTestServer,
    url: String,
    dir: tempfile::TempDir,
    central: PathBuf,
    compilers: PathBuf,
    storage: SharedStorage,
    store: registry_queue::PostgresStore,
}

fn all_time() -> (registry_core::Timestamp, registry_core::Timestamp) {
    (
        registry_core::Timestamp::from_unix_millis(0),
        registry_core::Timestamp::from_unix_millis(4_000_000_000_000),
    )
}

impl MatrixCluster {
    /// `None` (the reason printed) without Postgres, or without S3 when `need_s3`.
    async fn start(packages: &[SeedSpec], need_s3: bool) -> Option<MatrixCluster> {
        let postgres = PostgresTestServer::start()?;
        let url = postgres.new_database("registry");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let storage = match S3TestServer::start().await {
            Some(server) => SharedStorage::S3(server),
            None if need_s3 => return None,
            None => SharedStorage::Dir(root.join("shared-storage")),
        };
        storage.put(&seed_packages(root, packages)).await;
        let central = root.join("central");
        let init = std::process::Command::new(BIN)
            .args(["init", "--data-dir"])
            .arg(&central)
            .arg("--seed")
            .arg(root.join("seed"))
            .output()
            .unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        let compilers = root.join("compilers");
        std::fs::create_dir_all(&compilers).unwrap();
        for version in ["0_15_14", "0_15_15"] {
            std::os::unix::fs::symlink(support::standin(), compilers.join(format!("purs-{version}")))
                .unwrap();
        }
        let store = registry_queue::PostgresStore::connect(&url, registry_queue::PostgresOptions::default())
            .await
            .unwrap();
        Some(MatrixCluster { _postgres: postgres, url, dir, central, compilers, storage, store })
    }

    /// A worker on its own data directory, as on its own machine.
    fn worker(&self, name: &str) -> Worker {
        let root = self.dir.path();
        let data = root.join(format!("worker-{name}"));
        let init = std::process::Command::new(BIN).args(["init", "--data-dir"]).arg(&data).output().unwrap();
        assert!(init.status.success());
        let log = root.join(format!("worker-{name}.log"));
        let mut cmd = Command::new(BIN);
        cmd.arg("worker")
            .arg("--data-dir")
            .arg(&data)
            .arg("--compilers")
            .arg(&self.compilers)
            .env("DATABASE_URL", &self.url)
            .env("REGISTRY_WORKER_ID", name)
            .envs(registry_test_support::remotes_env(&self.central))
            .env_remove("READONLY")
            .env_remove("REGISTRY_JOB_COMMANDS")
            .env_remove("REGISTRY_STORAGE")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true);
        self.storage.attach(&data, &mut cmd);
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Worker { child, log }
    }

    async fn all_jobs(&self) -> Vec<registry_core::job::Job> {
        use registry_queue::JobStore;
        let (since, until) = all_time();
        let query = registry_queue::JobsQuery {
            since,
            until,
            order: registry_queue::Order::Asc,
            include_completed: true,
        };
        self.store.jobs(&query).await.unwrap().0
    }

    /// The job with its log, every level.
    async fn job(&self, id: &str) -> registry_core::job::Job {
        use registry_queue::JobStore;
        let (since, until) = all_time();
        let logs = registry_queue::LogsQuery {
            level: registry_core::job::LogLevel::Debug,
            since,
            until,
            order: registry_queue::Order::Asc,
        };
        self.store.job(id, &logs).await.unwrap().unwrap()
    }

    async fn matrix_job(&self, name: &str, deps: &[&str]) -> String {
        use registry_core::{PackageName, Version};
        use registry_queue::JobStore;
        let v1 = Version::new(1, 0, 0);
        let job = registry_queue::NewJob::Matrix {
            package_name: PackageName::parse(name).unwrap(),
            package_version: v1,
            compiler_version: Version::new(0, 15, 15),
            build_plan: deps.iter().map(|d| (PackageName::parse(d).unwrap(), v1)).collect(),
        };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let enqueued =
            self.store.enqueue(job, registry_core::Timestamp::from_unix_millis(now as i64)).await.unwrap();
        assert!(!enqueued.duplicate);
        enqueued.job_id
    }

    /// Waits for the job to finish successfully and answers its log's messages.
    async fn succeeded(&self, id: &str, workers: &[&Worker]) -> Vec<String> {
        let start = Instant::now();
        loop {
            let job = self.job(id).await;
            let messages: Vec<String> = job.logs.iter().map(|l| l.message.clone()).collect();
            if job.info.finished_at.is_some() {
                assert!(job.info.success, "job {id} failed: {messages:#?}");
                return messages;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "job {id} did not finish: {messages:#?}\n{}",
                workers.iter().map(|w| w.log()).collect::<String>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The build cache's keys in the bucket (moto answers an unsigned listing).
    async fn cache_keys(&self) -> Vec<String> {
        let SharedStorage::S3(s3) = &self.storage else { panic!("the build cache is not on S3") };
        let url = format!("{}/registry?list-type=2&prefix=_build-cache/", s3.endpoint);
        let listing = reqwest::get(url).await.unwrap().text().await.unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|k| k.split_once("</Key>"))
            .map(|(k, _)| k.to_owned())
            .collect()
    }

    fn compilers_of(&self, name: &str) -> serde_json::Value {
        let text =
            git(&self.central.join("git/registry.git"), &["show", &format!("main:metadata/{name}.json")]);
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["published"]["1.0.0"]["compilers"].clone()
    }
}

impl Worker {
    /// Stops the worker as an operator would (SIGTERM) and waits until it has exited.
    async fn stop(mut self) {
        self.signal("TERM");
        let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(exited.is_ok(), "the worker did not stop on SIGTERM: {}", self.log());
    }
}

fn spec(name: &str, deps: &[&str], compilers: &[&'static str]) -> SeedSpec {
    (name.to_owned(), deps.iter().map(|d| d.to_string()).collect(), compilers.to_vec())
}

/// Real matrix jobs (the stand-in compiler) on three workers that push to one registry
/// repository and read the tarballs from S3: results that finish together are
/// written in one commit by one of their jobs, and every success lands exactly once.
#[tokio::test]
async fn three_workers_record_a_matrix_flood_in_one_repository_without_losing_a_commit() {
    // The start-up check compares the compilers to those of prelude's newest version.
    let packages: Vec<SeedSpec> = (0..24)
        .map(|i| if i == 0 { "prelude".to_owned() } else { format!("pkg-{i}") })
        .map(|name| spec(&name, &[], &["0.15.14"]))
        .collect();
    let Some(cluster) = MatrixCluster::start(&packages, false).await else { return };
    if let SharedStorage::Dir(_) = cluster.storage {
        eprintln!("no S3-compatible server: the workers share a storage directory instead");
    }
    let workers: Vec<Worker> = (0..3).map(|w| cluster.worker(&format!("w{w}"))).collect();
    // Each worker's start-up check queues the new compiler's matrix jobs; the
    // queue's duplicate rule keeps one per package.
    let start = Instant::now();
    loop {
        let jobs = cluster.all_jobs().await;
        if jobs.len() == packages.len() && jobs.iter().all(|j| j.info.finished_at.is_some()) {
            if let Some(job) = jobs.iter().find(|j| !j.info.success) {
                let failed = cluster.job(&job.info.job_id).await;
                let lines: Vec<&str> = failed.logs.iter().map(|l| l.message.as_str()).collect();
                panic!("job {} failed: {lines:#?}", job.info.job_id);
            }
            break;
        }
        assert!(jobs.len() <= packages.len(), "a matrix job was queued twice: {}", jobs.len());
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} jobs, not all finished\n{}",
            jobs.len(),
            workers.iter().map(Worker::log).collect::<String>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (name, _, _) in &packages {
        assert_eq!(cluster.compilers_of(name), serde_json::json!(["0.15.14", "0.15.15"]), "{name}");
    }
    // Results finished together are written together: every job is named by exactly
    // one commit, and no commit is empty.
    let bare = cluster.central.join("git/registry.git");
    let commits = git(&bare, &["rev-list", "--count", "main"]).trim().parse::<usize>().unwrap();
    let seeded = 1;
    assert!(commits > seeded && commits <= seeded + packages.len(), "{commits} commits");
    let messages = git(&bare, &["log", "--format=%B", "main"]);
    for job in cluster.all_jobs().await {
        let named = messages.matches(&format!("Job ID: {}\n", job.info.job_id)).count();
        assert_eq!(named, 1, "job {} is named by {named} commits:\n{messages}", job.info.job_id);
    }
    let busy = workers.iter().filter(|w| w.log().contains("Finished successfully")).count();
    assert!(busy >= 2, "the flood was shared");
    // The figures that say whether the remote caps the number of workers.
    let reapplied: usize = workers.iter().map(|w| w.log().matches("moved while committing").count()).sum();
    eprintln!(
        "matrix flood: {} jobs on 3 workers in {:.1} s, {} commits, {reapplied} pushes re-applied after a \
         rejection",
        packages.len(),
        start.elapsed().as_secs_f64(),
        commits - seeded
    );
}

/// Two workers on separate data directories share the build cache through S3: a
/// dependency compiled by a job on one is restored, not compiled again, by a job on
/// the other whose plan contains it.
#[tokio::test]
async fn a_package_built_on_one_worker_is_restored_from_s3_on_another() {
    // prelude already lists both compilers, so the start-up check queues nothing and
    // the test decides which worker runs what.
    let packages = [
        spec("prelude", &[], &["0.15.14", "0.15.15"]),
        spec("dep", &[], &["0.15.14"]),
        spec("app-a", &["dep"], &["0.15.14"]),
        spec("app-b", &["dep"], &["0.15.14"]),
    ];
    let Some(cluster) = MatrixCluster::start(&packages, true).await else { return };

    let a = cluster.worker("a");
    let first = cluster.matrix_job("app-a", &["dep"]).await;
    let on_a = cluster.succeeded(&first, &[&a]).await;
    assert!(on_a.iter().any(|m| m.starts_with("Compiling: 2 packages")), "dep and app-a compile: {on_a:#?}");
    assert!(!on_a.iter().any(|m| m.starts_with("Restored")), "nothing was cached yet: {on_a:#?}");
    a.stop().await;
    let cached = cluster.cache_keys().await;
    assert_eq!(cached.len(), 2, "dep and app-a are cached in the bucket: {cached:?}");

    let b = cluster.worker("b");
    let second = cluster.matrix_job("app-b", &["dep"]).await;
    let on_b = cluster.succeeded(&second, &[&b]).await;
    assert!(on_b.iter().any(|m| m == "Restored 1 packages from the build cache"), "{on_b:#?}");
    assert!(on_b.iter().any(|m| m.starts_with("Compiling: 1 packages")), "only app-b compiles: {on_b:#?}");
    assert_eq!(cluster.compilers_of("app-a"), serde_json::json!(["0.15.14", "0.15.15"]));
    assert_eq!(cluster.compilers_of("app-b"), serde_json::json!(["0.15.14", "0.15.15"]));
    assert_eq!(cluster.cache_keys().await.len(), 3, "app-b's build is cached too");
}

/// The embedded SQLite database serves one process: the split roles refuse it, saying
/// what to set.
#[tokio::test]
async fn the_split_roles_refuse_the_embedded_database_with_a_reason() {
    let registry = Registry::init();
    for args in [vec!["worker"], vec!["serve", "--no-executor", "--port", "0"]] {
        let out = std::process::Command::new(BIN)
            .args(&args)
            .arg("--data-dir")
            .arg(registry.data())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("DATABASE_URL=postgres://"), "{args:?}: {stderr}");
    }
    let out = std::process::Command::new(BIN)
        .args(["worker", "--data-dir"])
        .arg(registry.data())
        .env("DATABASE_URL", "mysql://db/registry")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a SQLite path nor a postgres:// URL"));
}
