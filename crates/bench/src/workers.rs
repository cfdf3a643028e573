//! `registry bench workers`: does one registry repository cap how many workers a
//! matrix flood can use? A benchmark, not a test: it prints figures.
//!
//! For each number of workers N it builds a fresh deployment as README's "Many
//! machines" describes: a throwaway Postgres database, a generated registry whose
//! bare repositories every worker pushes to, tarballs in storage every worker shares
//! (a directory, or the S3-compatible test server with `--s3`), one API process
//! (`serve --no-executor`) and N `registry worker` processes (this same binary), each
//! on its own data directory. It queues K matrix jobs (one new compiler for K
//! packages) and waits until they are drained. Every success commits to the one
//! registry repository, so pushes from different workers collide and are re-applied:
//! the bench counts them and times, from the jobs' own logs, compiling against
//! recording (reading, committing and pushing the metadata).
//!
//! While each flood runs, a client polls the API process one request at a time, as
//! spago and the dashboard do: `GET /api/v1/jobs` (pending and running jobs) and
//! `GET /api/v1/jobs/{id}` of a running job from that list, with `--poll-every-ms`
//! between rounds; the bench reports how many answers it got and their p50 and p99
//! latency, so a flood that made the API slow would show.
//!
//! A 2-core machine cannot show N real compilers scaling, so the compiler is the
//! stand-in behind a wrapper that sleeps `--module-delay-ms` per compiled module (off
//! the CPU), as a real compiler's cost would keep a worker busy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use registry_core::job::{Job, JobType, LogLevel};
use registry_core::json::Codec;
use registry_core::metadata::PublishedMetadata;
use registry_core::{Metadata, PackageName, Sha256, Timestamp, Version};
use registry_queue::{JobStore, JobsQuery, LogsQuery, NewJob, Order, PostgresOptions, PostgresStore};
use registry_test_support::{PostgresTestServer, S3TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The numbers of workers to drain the flood with, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub workers: Vec<usize>,
    /// Matrix jobs in the flood (one per generated package).
    #[arg(long, default_value_t = 96)]
    pub jobs: usize,
    /// Off-CPU time the compiler spends per compiled module (a real compiler's cost).
    #[arg(long, default_value_t = 200)]
    pub module_delay_ms: u64,
    /// Tarballs and build cache on the S3-compatible test server (moto) instead of a
    /// directory the workers share.
    #[arg(long)]
    pub s3: bool,
    /// Skip the extra run in which one of the most workers is killed (SIGKILL) mid-flood.
    #[arg(long)]
    pub no_killed_run: bool,
    /// The stand-in compiler (default: `purs-standin` beside this binary).
    #[arg(long)]
    pub standin: Option<PathBuf>,
    /// Pause between two rounds of API polls during the flood (0: back to back).
    #[arg(long, default_value_t = 50)]
    pub poll_every_ms: u64,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Clone)]
pub struct RunFigures {
    pub workers: usize,
    /// One worker was killed mid-flood; its job ran again elsewhere after its lease.
    pub killed_worker: bool,
    pub jobs: usize,
    /// From the first job's start to the last one's end.
    pub seconds: f64,
    pub jobs_per_second: f64,
    /// Against the run with one worker (1.0 when there is none).
    pub speedup: f64,
    /// Jobs that did not succeed, or whose compiler is not in the metadata.
    pub lost: usize,
    /// Results written more than once: commits naming a job beyond its first.
    pub duplicated: usize,
    /// Metadata commits made (results finished together share one).
    pub commits: usize,
    /// Pushes rejected because another worker pushed first, then re-applied.
    pub reapplied_pushes: usize,
    /// Pushes made (commits and re-applied ones) per job.
    pub push_attempts_per_job: f64,
    /// Mean seconds per job compiling (install and build) and recording (read,
    /// commit, push).
    pub compile_seconds_per_job: f64,
    pub record_seconds_per_job: f64,
    /// The API's answers to the poller during the flood.
    /// The share of the machine's CPU time (all cores) that was busy during the flood,
    /// whoever used it.
    pub cpu_busy: Option<f64>,
    pub polls: Polls,
}

impl RunFigures {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "workers": self.workers,
            "killed_worker": self.killed_worker,
            "jobs": self.jobs,
            "seconds": self.seconds,
            "jobs_per_second": self.jobs_per_second,
            "speedup": self.speedup,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "commits": self.commits,
            "machine_cpu_busy": self.cpu_busy,
            "reapplied_pushes": self.reapplied_pushes,
            "push_attempts_per_job": self.push_attempts_per_job,
            "compile_seconds_per_job": self.compile_seconds_per_job,
            "record_seconds_per_job": self.record_seconds_per_job,
            "poll_errors": self.polls.errors,
            "list_polls": self.polls.list_ms.len(),
            "list_p50_ms": percentile(&self.polls.list_ms, 0.50),
            "list_p99_ms": percentile(&self.polls.list_ms, 0.99),
            "job_polls": self.polls.job_ms.len(),
            "job_p50_ms": percentile(&self.polls.job_ms, 0.50),
            "job_p99_ms": percentile(&self.polls.job_ms, 0.99),
        })
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.workers.is_empty() || args.workers.contains(&0) {
        bail!("--workers needs numbers of workers of at least 1, e.g. --workers 1,2,4");
    }
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let standin = match &args.standin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("purs-standin"),
    };
    if !standin.is_file() {
        bail!(
            "the stand-in compiler {} is missing: build it (`cargo build --release -p purs-standin`) or pass --standin",
            standin.display()
        );
    }
    let standin = standin.canonicalize()?;
    tokio::runtime::Runtime::new()?.block_on(run_all(args, &standin))
}

/// Where each run's empty database comes from.
enum Databases {
    /// A throwaway cluster the bench started (Debian's binaries), gone when it ends.
    Own(PostgresTestServer),
    /// The server `DATABASE_URL` names: each run creates (after dropping any earlier
    /// one) `registry_bench_<run>_<workers>` there, and leaves it for inspection.
    Given(String),
}

impl Databases {
    fn from_env() -> anyhow::Result<Self> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                    bail!(
                        "DATABASE_URL must be a postgres:// URL for the bench (got {url:?}); unset it to let the bench start its own cluster"
                    );
                }
                Ok(Self::Given(url))
            }
            _ => match PostgresTestServer::start() {
                Some(server) => Ok(Self::Own(server)),
                None => bail!(
                    "the bench needs Postgres: set DATABASE_URL=postgres://… to a server where it may create databases, or install Debian's postgresql package (scripts/setup.sh does)"
                ),
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Own(_) => "a throwaway Postgres cluster".to_owned(),
            Self::Given(_) => "databases on the DATABASE_URL server".to_owned(),
        }
    }

    async fn fresh(&self, run: usize, workers: usize) -> anyhow::Result<String> {
        match self {
            Self::Own(server) => Ok(server.new_database(&format!("bench_{run}_{workers}"))),
            Self::Given(url) => {
                let name = format!("registry_bench_{run}_{workers}");
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .context("connecting to the DATABASE_URL server")?;
                let driver = tokio::spawn(connection);
                for sql in [format!("DROP DATABASE IF EXISTS {name}"), format!("CREATE DATABASE {name}")] {
                    client.batch_execute(&sql).await.with_context(|| {
                        format!("{sql} (the DATABASE_URL user needs the right to create databases)")
                    })?;
                }
                drop(client);
                let _ = driver.await;
                Ok(with_database(url, &name))
            }
        }
    }
}

/// `url` (`postgres://user@host:port/db?options`) naming database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn run_all(args: &BenchArgs, standin: &Path) -> anyhow::Result<()> {
    let databases = Databases::from_env()?;
    println!(
        "matrix flood of {} jobs, {} ms per compiled module, storage {}, {}",
        args.jobs,
        args.module_delay_ms,
        if args.s3 { "S3 (moto)" } else { "a shared directory" },
        databases.describe()
    );
    println!(
        "{:>7} {:>5} {:>8} {:>7} {:>7} {:>5} {:>5} {:>7} {:>9} {:>10} {:>11} {:>10} {:>5} {:>6} {:>13} {:>13}",
        "workers",
        "jobs",
        "seconds",
        "jobs/s",
        "speedup",
        "lost",
        "dup",
        "commits",
        "reapplied",
        "push/job",
        "compile/job",
        "record/job",
        "cpu",
        "polls",
        "list p50/p99",
        "job p50/p99"
    );
    let mut runs: Vec<RunFigures> = Vec::new();
    let most = args.workers.iter().copied().max().unwrap_or(1);
    let killed_run = (!args.no_killed_run && most >= 2).then_some(most);
    for (i, (n, kill)) in
        args.workers.iter().map(|&n| (n, false)).chain(killed_run.map(|n| (n, true))).enumerate()
    {
        let url = databases.fresh(i, n).await?;
        let mut figures = run_once(args, standin, &url, n, kill).await?;
        let base = runs
            .iter()
            .chain(std::iter::once(&figures))
            .find(|r| r.workers == 1 && !r.killed_worker)
            .map(|r| r.seconds);
        figures.speedup = base.map_or(1.0, |b| b / figures.seconds);
        let latency = |ms: &[f64]| match (percentile(ms, 0.50), percentile(ms, 0.99)) {
            (Some(p50), Some(p99)) => format!("{p50:.1}/{p99:.1}ms"),
            _ => "-".to_owned(),
        };
        println!(
            "{:>7} {:>5} {:>8.1} {:>7.2} {:>7.2} {:>5} {:>5} {:>7} {:>9} {:>10.2} {:>10.2}s {:>9.2}s {:>5} {:>6} {:>13} {:>13}",
            if kill { format!("{n}-kill") } else { n.to_string() },
            figures.jobs,
            figures.seconds,
            figures.jobs_per_second,
            figures.speedup,
            figures.lost,
            figures.duplicated,
            figures.commits,
            figures.reapplied_pushes,
            figures.push_attempts_per_job,
            figures.compile_seconds_per_job,
            figures.record_seconds_per_job,
            figures.cpu_busy.map_or("-".to_owned(), |busy| format!("{:.0}%", busy * 100.0)),
            figures.polls.list_ms.len() + figures.polls.job_ms.len(),
            latency(&figures.polls.list_ms),
            latency(&figures.polls.job_ms)
        );
        if figures.polls.errors > 0 {
            println!("        ({} polls of the API failed or were not answered 200)", figures.polls.errors);
        }
        runs.push(figures);
    }
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "jobs": args.jobs,
            "module_delay_ms": args.module_delay_ms,
            "storage": if args.s3 { "s3" } else { "directory" },
            "poll_every_ms": args.poll_every_ms,
            "runs": runs.iter().filter(|r| !r.killed_worker).map(RunFigures::to_json).collect::<Vec<_>>(),
            "killed_worker_run": runs.iter().find(|r| r.killed_worker).map(RunFigures::to_json),
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Where the workers keep tarballs and the build cache.
enum Shared {
    S3(S3TestServer),
    Dir(PathBuf),
}

/// One flood drained by `n` workers; with `kill`, the first worker is killed once half
/// the jobs are done (leases of 5 s, so its job runs again soon).
async fn run_once(
    args: &BenchArgs,
    standin: &Path,
    url: &str,
    n: usize,
    kill: bool,
) -> anyhow::Result<RunFigures> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let shared = if args.s3 {
        let Some(server) = S3TestServer::start().await else {
            bail!("--s3 needs moto_server (pip install 'moto[server]'; scripts/setup.sh does)");
        };
        Shared::S3(server)
    } else {
        Shared::Dir(root.join("shared-storage"))
    };
    let names = seed(root, args.jobs, &shared).await?;
    let central = root.join("central");
    init(&central, Some(&root.join("seed")))?;
    let compilers = root.join("compilers");
    std::fs::create_dir_all(&compilers)?;
    for version in ["0.15.14", "0.15.15"] {
        let path = compilers.join(format!("purs-{}", version.replace('.', "_")));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nPURS_STANDIN_VERSION={version} PURS_STANDIN_DELAY_MS={} exec {} \"$@\"\n",
                args.module_delay_ms,
                standin.display()
            ),
        )?;
        chmod_x(&path)?;
    }
    let common = |cmd: &mut Command, data: &Path| -> anyhow::Result<()> {
        cmd.arg("--data-dir")
            .arg(data)
            .arg("--compilers")
            .arg(&compilers)
            .env("DATABASE_URL", url)
            .envs(registry_test_support::remotes_env(&central))
            .env_remove("READONLY")
            .env_remove("REGISTRY_JOB_COMMANDS")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match &shared {
            Shared::S3(server) => {
                cmd.envs(server.registry_env());
            }
            Shared::Dir(shared) => {
                cmd.env("REGISTRY_STORAGE", "local");
                std::fs::remove_dir_all(data.join("storage"))?;
                std::os::unix::fs::symlink(shared, data.join("storage"))?;
            }
        }
        Ok(())
    };

    let exe = std::env::current_exe()?;
    let api_data = root.join("api");
    init(&api_data, None)?;
    let mut api = Command::new(&exe);
    api.args(["serve", "--no-executor", "--host", "127.0.0.1", "--port", "0"]);
    common(&mut api, &api_data)?;
    let mut api = api.stdout(Stdio::piped()).stderr(std::fs::File::create(root.join("api.log"))?).spawn()?;
    let listening = wait_for_line(&mut api, "Listening on ", &root.join("api.log")).await?;
    let api_url = listening.trim_start_matches("Listening on ").trim().to_owned();

    let store = PostgresStore::connect(url, PostgresOptions::default()).await?;
    let compiler = Version::new(0, 15, 15);
    for name in &names {
        let job = NewJob::Matrix {
            package_name: name.clone(),
            package_version: Version::new(1, 0, 0),
            compiler_version: compiler,
            build_plan: BTreeMap::new(),
        };
        store.enqueue(job, now()).await?;
    }

    let mut workers: Vec<(Child, PathBuf)> = Vec::new();
    for w in 0..n {
        let data = root.join(format!("worker-{w}"));
        init(&data, None)?;
        let log = root.join(format!("worker-{w}.log"));
        let mut cmd = Command::new(&exe);
        cmd.arg("worker").env("REGISTRY_WORKER_ID", format!("w{w}"));
        common(&mut cmd, &data)?;
        if kill {
            cmd.env("REGISTRY_JOB_LEASE", "5s");
        }
        let child = cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&log)?).spawn()?;
        workers.push((child, log));
    }

    let poller = Poller::start(api_url, Duration::from_millis(args.poll_every_ms))?;
    let cpu_before = cpu_ticks();
    let started = Instant::now();
    let mut killed = false;
    let limit = Duration::from_secs(120 + args.jobs as u64 * (5 + args.module_delay_ms * 8 / 1000));
    loop {
        let pending = store.pending_counts().await?.get(&JobType::Matrix).copied().unwrap_or(0);
        if pending == 0 {
            break;
        }
        if kill && !killed && pending <= names.len() / 2 {
            workers[0].0.start_kill()?;
            killed = true;
        }
        for (child, log) in workers.iter_mut().skip(usize::from(killed)) {
            if let Some(status) = child.try_wait()? {
                bail!("a worker exited ({status}) mid-flood: {}", tail(log));
            }
        }
        if started.elapsed() > limit {
            bail!("{pending} jobs still pending after {} s: {}", limit.as_secs(), tail(&workers[0].1));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_busy = cpu_before
        .zip(cpu_ticks())
        .and_then(|((b0, t0), (b1, t1))| (t1 > t0).then(|| b1.saturating_sub(b0) as f64 / (t1 - t0) as f64));
    let polls = poller.finish().await;
    for (child, _) in &workers {
        terminate(child);
    }
    for (child, _) in &mut workers {
        let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    }
    terminate(&api);

    let jobs = all_jobs(&store).await?;
    let first_start = jobs.iter().filter_map(|j| j.info.started_at).min().context("no job started")?;
    let last_end = jobs.iter().filter_map(|j| j.info.finished_at).max().context("no job finished")?;
    let seconds = (last_end.unix_millis() - first_start.unix_millis()) as f64 / 1000.0;
    let (mut compile_ms, mut record_ms) = (0i64, 0i64);
    for job in &jobs {
        let logs = store
            .job(
                &job.info.job_id,
                &LogsQuery {
                    level: LogLevel::Info,
                    since: Timestamp::from_unix_millis(0),
                    until: Timestamp::from_unix_millis(4_000_000_000_000),
                    order: Order::Asc,
                },
            )
            .await?
            .context("a job vanished")?
            .logs;
        // The last attempt's lines: a job whose worker was killed ran twice.
        let at = |phase: fn(&str) -> bool| {
            logs.iter().rev().find(|l| phase(&l.message)).map(|l| l.timestamp.unix_millis())
        };
        if let (Some(installed), Some(compiled), Some(recorded)) = (
            at(|m| m.starts_with("Installed ") && m.contains(" and its build plan")),
            at(|m| m.starts_with("Compilation succeeded")),
            at(|m| m.starts_with("Recorded that ")),
        ) {
            compile_ms += compiled - installed;
            record_ms += recorded - compiled;
        }
    }
    let recorded = names.iter().filter(|name| lists_compiler(&central, name, compiler)).count();
    let failed = jobs.iter().filter(|j| !j.info.success).count();
    let commits: usize =
        git(&central.join("git/registry.git"), &["rev-list", "--count", "main"])?.trim().parse()?;
    let seeded = 1;
    let reapplied: usize = workers
        .iter()
        .map(|(_, log)| {
            std::fs::read_to_string(log).unwrap_or_default().matches("moved while committing").count()
        })
        .sum();
    let made = commits.saturating_sub(seeded);
    let messages = git(&central.join("git/registry.git"), &["log", "--format=%B", "main"])?;
    let duplicated: usize = jobs
        .iter()
        .map(|j| messages.matches(&format!("Job ID: {}\n", j.info.job_id)).count().saturating_sub(1))
        .sum();
    let count = names.len() as f64;
    Ok(RunFigures {
        workers: n,
        killed_worker: killed,
        jobs: names.len(),
        seconds,
        jobs_per_second: count / seconds,
        speedup: 1.0,
        lost: (names.len() - recorded).max(failed),
        duplicated,
        commits: made,
        reapplied_pushes: reapplied,
        push_attempts_per_job: (made + reapplied) as f64 / count,
        compile_seconds_per_job: compile_ms as f64 / 1000.0 / count,
        record_seconds_per_job: record_ms as f64 / 1000.0 / count,
        cpu_busy,
        polls,
    })
}

/// The machine's busy and total CPU time so far, in ticks over all cores, from
/// `/proc/stat` (`None` where there is none): whether a run was limited by the cores
/// rather than by the workers or the repository.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = ticks.iter().sum();
    // idle and iowait
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Latencies of the API's answers to the poller, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Polls {
    /// `GET /api/v1/jobs`.
    pub list_ms: Vec<f64>,
    /// `GET /api/v1/jobs/{id}` of a running job.
    pub job_ms: Vec<f64>,
    /// Requests that failed or were not answered 200 (not in the latencies).
    pub errors: usize,
}

/// A client polling the API in the background, one request at a time, until
/// [`Poller::finish`]; dropped early (the bench failed), it stops at once.
struct Poller {
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<Polls>>,
}

impl Poller {
    fn start(base: String, pause: Duration) -> anyhow::Result<Poller> {
        registry_adapters::install_tls_provider();
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build()?;
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(poll(client, base, pause, stop.clone()));
        Ok(Poller { stop, task: Some(task) })
    }

    async fn finish(mut self) -> Polls {
        self.stop.store(true, Ordering::SeqCst);
        match self.task.take() {
            Some(task) => task.await.unwrap_or_default(),
            None => Polls::default(),
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn poll(client: reqwest::Client, base: String, pause: Duration, stop: Arc<AtomicBool>) -> Polls {
    let mut polls = Polls::default();
    while !stop.load(Ordering::SeqCst) {
        let running = match timed_get(&client, &format!("{base}/api/v1/jobs")).await {
            Some((ms, body)) => {
                polls.list_ms.push(ms);
                running_job(&body)
            }
            None => {
                polls.errors += 1;
                None
            }
        };
        if let Some(id) = running {
            match timed_get(&client, &format!("{base}/api/v1/jobs/{id}?level=INFO")).await {
                Some((ms, _)) => polls.job_ms.push(ms),
                None => polls.errors += 1,
            }
        }
        tokio::time::sleep(pause).await;
    }
    polls
}

/// One GET answered 200: its latency in milliseconds (the whole body read) and body.
async fn timed_get(client: &reqwest::Client, url: &str) -> Option<(f64, Vec<u8>)> {
    let start = Instant::now();
    let response = client.get(url).send().await.ok()?;
    if response.status() != reqwest::StatusCode::OK {
        return None;
    }
    let body = response.bytes().await.ok()?;
    Some((start.elapsed().as_secs_f64() * 1000.0, body.to_vec()))
}

/// The id of the first started, unfinished job of a `GET /api/v1/jobs` answer.
fn running_job(body: &[u8]) -> Option<String> {
    let jobs: serde_json::Value = serde_json::from_slice(body).ok()?;
    jobs.as_array()?
        .iter()
        .find(|j| j.get("startedAt").is_some() && j.get("finishedAt").is_none())
        .and_then(|j| j["jobId"].as_str())
        .map(str::to_owned)
}

/// The nearest-rank percentile `p` (0–1) of `values`; `None` when there are none.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// Every job of the store, paging through its answers of at most `PAGE_SIZE` jobs.
async fn all_jobs(store: &PostgresStore) -> anyhow::Result<Vec<Job>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut jobs = Vec::new();
    let mut since = Timestamp::from_unix_millis(0);
    loop {
        let query = JobsQuery {
            since,
            until: Timestamp::from_unix_millis(4_000_000_000_000),
            order: Order::Asc,
            include_completed: true,
        };
        let (page, _) = store.jobs(&query).await?;
        let full = page.len() >= registry_queue::PAGE_SIZE;
        let Some(last) = page.last().map(|j| j.info.created_at) else { break };
        let before = jobs.len();
        for job in page {
            if seen.insert(job.info.job_id.clone()) {
                jobs.push(job);
            }
        }
        if !full {
            break;
        }
        // A full page of jobs already seen shares one millisecond: move past it.
        since = if jobs.len() == before { Timestamp::from_unix_millis(last.unix_millis() + 1) } else { last };
    }
    Ok(jobs)
}

/// Writes a seed folder of prelude (already listing both compilers, so no worker's
/// start-up check queues a flood of its own) and `count` packages checked with
/// 0.15.14 only, with their tarballs in the shared storage; answers the packages.
async fn seed(root: &Path, count: usize, shared: &Shared) -> anyhow::Result<Vec<PackageName>> {
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("metadata"))?;
    let s3 = match shared {
        Shared::S3(server) => Some(registry_adapters::S3Storage::new(&server.config())?),
        Shared::Dir(_) => None,
    };
    let mut names = Vec::new();
    for i in 0..=count {
        let name = if i == 0 { "prelude".to_owned() } else { format!("pkg-{i}") };
        let manifest = registry_core::Manifest::decode(&serde_json::json!({
            "name": name, "version": "1.0.0", "license": "MIT",
            "location": {"githubOwner": "bench", "githubRepo": format!("purescript-{name}")},
            "ref": "v1.0.0", "dependencies": {},
        }))
        .map_err(|e| anyhow::anyhow!("generated manifest of {name}: {e}"))?;
        let index_path = seed.join("index").join(registry_core::manifest_index::entry_path(&manifest.name));
        std::fs::create_dir_all(index_path.parent().context("index path")?)?;
        std::fs::write(index_path, format!("{}\n", manifest.to_compact()))?;
        let src = root.join("sources").join(format!("{name}-1.0.0"));
        let files = registry_workload::package_files(&manifest, registry_workload::Variant::Normal);
        registry_workload::write_files(&src, &files)?;
        let tarball = registry_tarball::create_tarball(&src, &format!("{name}-1.0.0"))?;
        let key = registry_adapters::tarball_key(&manifest.name, &manifest.version);
        match (&s3, shared) {
            (Some(s3), _) => {
                use registry_adapters::Storage;
                s3.put_once(&key, tarball.clone().into(), &registry_adapters::NullLog).await?;
            }
            (None, Shared::Dir(dir)) => {
                let path = dir.join(&key);
                std::fs::create_dir_all(path.parent().context("storage path")?)?;
                std::fs::write(path, &tarball)?;
            }
            (None, Shared::S3(_)) => unreachable!("S3 storage was opened above"),
        }
        let compilers = if i == 0 {
            vec![Version::new(0, 15, 14), Version::new(0, 15, 15)]
        } else {
            vec![Version::new(0, 15, 14)]
        };
        let mut metadata = Metadata::new(manifest.location.clone());
        metadata.published.insert(
            manifest.version,
            PublishedMetadata {
                bytes: tarball.len() as u64,
                compilers,
                hash: Sha256::of_bytes(&tarball),
                published_time: Timestamp::from_unix_millis(1_700_000_000_000),
                git_ref: Some(String::new()),
            },
        );
        std::fs::write(seed.join(format!("metadata/{name}.json")), metadata.to_pretty())?;
        if i > 0 {
            names.push(manifest.name);
        }
    }
    Ok(names)
}

fn init(data: &Path, seed: Option<&Path>) -> anyhow::Result<()> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["init", "--data-dir"]).arg(data);
    if let Some(seed) = seed {
        cmd.arg("--seed").arg(seed);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        bail!("registry init {} failed: {}", data.display(), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn lists_compiler(central: &Path, name: &PackageName, compiler: Version) -> bool {
    git(&central.join("git/registry.git"), &["show", &format!("main:metadata/{name}.json")])
        .ok()
        .and_then(|text| Metadata::decode(&serde_json::from_str(&text).ok()?).ok())
        .and_then(|m| m.published.get(&Version::new(1, 0, 0)).map(|p| p.compilers.contains(&compiler)))
        .unwrap_or(false)
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git").current_dir(dir).args(args).output()?;
    if !out.status.success() {
        bail!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits for the first line of `child`'s standard output that starts with `prefix`
/// and answers it.
async fn wait_for_line(child: &mut Child, prefix: &str, log: &Path) -> anyhow::Result<String> {
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
        None
    })
    .await;
    let Some(line) = found.ok().flatten() else {
        bail!("the API process did not start: {}", tail(log));
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(line)
}

/// SIGTERM, as an operator stops a process (the workspace forbids `unsafe`, so no libc).
fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    }
}

fn chmod_x(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    Timestamp::from_unix_millis(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        assert_eq!(percentile(&values, 0.50), Some(100.0));
        assert_eq!(percentile(&values, 0.99), Some(198.0));
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn the_job_polled_is_a_running_one() {
        let list =
            br#"[{"jobId":"a","createdAt":"x"},{"jobId":"b","startedAt":"x"},{"jobId":"c","startedAt":"x"}]"#;
        assert_eq!(running_job(list).as_deref(), Some("b"));
        assert_eq!(running_job(br#"[{"jobId":"a"}]"#), None);
    }

    #[test]
    fn a_run_database_replaces_only_the_url_path() {
        assert_eq!(with_database("postgres://u:p@h:5432/main", "r_1"), "postgres://u:p@h:5432/r_1");
        assert_eq!(
            with_database("postgresql://h/main?sslmode=disable", "r_1"),
            "postgresql://h/r_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5432", "r_1"), "postgres://h:5432/r_1");
        assert_eq!(with_database("postgres://h?x=1", "r_1"), "postgres://h/r_1?x=1");
    }
}
