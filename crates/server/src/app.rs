//! `registry serve`: one process running the HTTP API and the job executor; with
//! `--no-executor` the API only, and `registry worker` the executor only, so that one
//! API process and N workers on other machines share a Postgres job store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use registry_core::job::JobType;
use registry_queue::{JobStore, PostgresOptions, PostgresStore, SqliteStore};

use crate::api::{self, ApiState, NoTrustedKey, RequestPolicy};
use crate::executor::{Executor, Handlers, MAX_INTERRUPTIONS, Wakers, shutdown_pair};
use crate::handlers::matrix::enqueue_new_compiler_jobs;
use crate::handlers::{CommandHandler, MatrixHandler, PublishHandler, TransferHandler, UnpublishHandler};
use crate::http::HttpLimits;
use crate::job_context::{HiddenPaths, JobHandler, now};
use crate::package_locks::{HoldingPackageLock, PackageLocks};
use crate::trustee::{TrusteeKey, parse_trustee_key};
use registry_core::location::Owner;
use registry_jobs::matrix::MatrixIndex;
pub use registry_settings::wiring::{
    build_adapters, build_adapters_with_checkouts, build_command_adapters, package_set_handler,
    require_initialized,
};
use registry_settings::{DatabaseUrl, Settings, StorageKind};

pub const READONLY_BANNER: &str = "\
==============================================================================
  READONLY MODE: jobs run, but nothing is pushed, uploaded, deleted or
  published. Each skipped write is logged at NOTICE in the job's log.
==============================================================================";

/// The matrix planner's view, kept across jobs by the publish and matrix handlers.
/// A dependant awaits the queued jobs of versions it accepts only where this
/// process sees every matrix job it queued end (one process on SQLite); workers
/// sharing Postgres plan as upstream does (see MatrixIndex::without_awaiting).
pub fn matrix_index(settings: &Settings) -> MatrixIndex {
    match settings.database() {
        DatabaseUrl::Sqlite(_) => MatrixIndex::new(),
        DatabaseUrl::Postgres(_) => MatrixIndex::without_awaiting(),
    }
}

/// Every job kind's handler; `plans` from [`matrix_index`].
pub fn build_handlers(settings: &Settings, trustee: Option<Owner>, plans: MatrixIndex) -> Handlers {
    let mut handlers: Handlers = HashMap::new();
    // Jobs of the two lanes that write a package's metadata take turns (see package_locks).
    let locks = PackageLocks::default();
    let package_operation = |inner: Arc<dyn JobHandler>| -> Arc<dyn JobHandler> {
        Arc::new(HoldingPackageLock { inner, locks: locks.clone() })
    };
    let publisher =
        registry_jobs::publish::Publisher::new().with_compile_timeout(settings.timeout(JobType::Publish));
    handlers.insert(JobType::Publish, package_operation(Arc::new(PublishHandler(publisher, plans.clone()))));
    handlers.insert(JobType::Unpublish, package_operation(Arc::new(UnpublishHandler::new(trustee.clone()))));
    handlers.insert(JobType::Transfer, package_operation(Arc::new(TransferHandler::new(trustee))));
    handlers.insert(
        JobType::Matrix,
        Arc::new(MatrixHandler {
            builder: registry_jobs::matrix::MatrixBuilder::new()
                .with_compile_timeout(settings.timeout(JobType::Matrix)),
            locks: locks.clone(),
            plans,
        }),
    );
    handlers.insert(JobType::PackageSet, Arc::new(package_set_handler(settings)));
    for (kind, program) in &settings.job_commands {
        handlers.insert(*kind, package_operation(Arc::new(CommandHandler::new(program))));
    }
    handlers
}

/// `configured`, lowered to half the open-files limit: connections beyond it would
/// leave no descriptors for the database, git and compilers, and refused accepts
/// make the API unanswerable.
fn connection_limit(configured: usize) -> usize {
    let Ok((soft, _)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) else {
        return configured;
    };
    let cap = usize::try_from(soft / 2).unwrap_or(usize::MAX).max(1);
    if configured > cap {
        tracing::warn!(
            "--http-max-connections {configured} lowered to {cap}: half the open-files limit ({soft}); raise \
             `ulimit -n` to allow more"
        );
        return cap;
    }
    configured
}

/// SIGTERM's handler, installed before the process says it is ready: from then on a
/// SIGTERM stops it cleanly instead of killing it (the default action).
fn sigterm() -> anyhow::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing a SIGTERM handler")
}

async fn stop_signal(mut term: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received: shutting down"),
    }
}

/// What a process of the registry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `registry serve`: the API and the executor.
    ApiAndExecutor,
    /// `registry serve --no-executor`: the API only; workers run the jobs.
    Api,
    /// `registry worker`: the executor only, no HTTP.
    Worker,
}

impl Role {
    fn runs_jobs(self) -> bool {
        self != Role::Api
    }
}

/// `registry serve`'s arguments: the shared settings and the role switch.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Serve the API only: jobs are queued for `registry worker` processes sharing
    /// the Postgres database (DATABASE_URL=postgres://…).
    #[arg(long)]
    pub no_executor: bool,
    #[command(flatten)]
    pub settings: Settings,
}

/// Opens the job store `DATABASE_URL` names (default: the data directory's SQLite file).
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn JobStore>> {
    Ok(match settings.database() {
        DatabaseUrl::Sqlite(path) => Arc::new(
            SqliteStore::open(&path).with_context(|| format!("opening the database {}", path.display()))?,
        ),
        DatabaseUrl::Postgres(url) => {
            let worker_id = match settings.worker_id.clone().filter(|id| !id.trim().is_empty()) {
                Some(id) => id,
                None => default_worker_id(settings),
            };
            let options =
                PostgresOptions { lease: settings.job_lease, worker_id, ..PostgresOptions::default() };
            let masked = settings.database().masked();
            Arc::new(
                PostgresStore::connect(&url, options)
                    .await
                    .with_context(|| format!("connecting to the job database {masked}"))?,
            )
        }
    })
}

/// The host and the data directory: one executor runs per data directory (its process
/// groups and work directories are there), so a process starting on it after a crash
/// is the same worker, and takes back its interrupted jobs at once, as the SQLite
/// store does, instead of waiting for their leases.
fn default_worker_id(settings: &Settings) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let dir = std::fs::canonicalize(&settings.data_dir).unwrap_or_else(|_| settings.data_dir.clone());
    format!("{host}:{}", dir.display())
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    serve_as(settings, Role::ApiAndExecutor).await
}

pub async fn serve_as(settings: Settings, role: Role) -> anyhow::Result<()> {
    let term = sigterm()?;
    if settings.readonly {
        eprintln!("{READONLY_BANNER}");
    }
    require_initialized(&settings)?;
    let layout = settings.layout();
    let shared = matches!(settings.database(), DatabaseUrl::Postgres(_));
    if role != Role::ApiAndExecutor && !shared {
        anyhow::bail!(
            "an API without executor, or a worker, needs a job database shared with the other processes: \
             set DATABASE_URL=postgres://user:password@host:5432/database (the embedded SQLite database \
             serves one `registry serve` process)"
        );
    }
    let store = open_store(&settings).await?;
    // Recovery is the executor's: an API process sharing a data directory's worker id
    // must not reset the jobs that worker runs.
    let report = if role.runs_jobs() {
        store.reset_interrupted(MAX_INTERRUPTIONS, now()).await?
    } else {
        registry_queue::ResetReport::default()
    };
    if !report.reset.is_empty() || !report.quarantined.is_empty() {
        tracing::warn!(
            "recovered from an unclean stop: {} interrupted job(s) queued again, {} failed after {MAX_INTERRUPTIONS} interruptions",
            report.reset.len(),
            report.quarantined.len()
        );
    }
    for job_id in &report.quarantined {
        tracing::error!(job = %job_id, "quarantined: interrupted {MAX_INTERRUPTIONS} times");
    }
    let pending: usize = store.pending_counts().await?.values().sum();
    tracing::info!("{pending} job(s) pending or to resume");

    if role.runs_jobs() {
        // Child processes of jobs that a crash left running must not linger or compete.
        let groups = layout.process_groups();
        let orphans = registry_adapters::process::kill_orphans(&groups);
        if orphans > 0 {
            tracing::warn!("killed {orphans} process group(s) left running by jobs of a previous run");
        }
        registry_adapters::process::record_groups_in(&groups).context("recording job process groups")?;
    }

    let trustee = match settings.pacchettibotti_public_key.as_deref().filter(|k| !k.trim().is_empty()) {
        Some(key) => Some(parse_trustee_key(key).map_err(anyhow::Error::msg)?),
        None => {
            tracing::warn!(
                "PACCHETTIBOTTI_ED25519_PUB is not set: restricted package-set updates are refused and \
                 only owners can sign unpublish and transfer requests"
            );
            None
        }
    };
    if let Some(url) = settings.healthchecks_url.clone().filter(|u| !u.trim().is_empty()) {
        tokio::spawn(
            async move { crate::healthcheck::ping(&url, crate::healthcheck::Schedule::UPSTREAM).await },
        );
    }
    // The dashboard reads the registry through the same checkouts the executor writes.
    let adapters = build_adapters(&settings)?;
    let public_tarballs = settings.s3_public_url.as_deref().filter(|_| settings.storage == StorageKind::S3);
    let dashboard_source = crate::dashboard::source(&adapters, &layout).with_tarball_base(public_tarballs);
    let wakers = Wakers::new();
    let (trigger, shutdown) = shutdown_pair();
    let lanes = if role.runs_jobs() {
        // A compiler installed since the last start: check the whole registry with it.
        let installed =
            registry_compiler::CompilerLocator::new(settings.compilers.clone()).installed_versions();
        let plans = matrix_index(&settings);
        if let Err(err) = enqueue_new_compiler_jobs(&adapters, store.as_ref(), &plans, &installed).await {
            tracing::error!("checking for a new compiler failed: {err:#}; no matrix jobs were queued for it");
        }
        let handlers = build_handlers(&settings, trustee.clone(), plans);
        let timeouts = JobType::ALL.into_iter().map(|k| (k, settings.timeout(k))).collect();
        let executor = Arc::new(Executor {
            store: store.clone(),
            handlers,
            adapters,
            timeouts,
            work_root: layout.jobs(),
            // Jobs queued by another process wake nobody here: look often.
            poll_interval: if shared { Duration::from_millis(250) } else { Duration::from_secs(1) },
            hidden_paths: HiddenPaths::for_server(&settings.data_dir, settings.compilers.as_deref()),
        });
        // Their dependants may be awaiting them (see MatrixIndex::new).
        executor.after_quarantine(&report.quarantined).await;
        executor.start(&wakers, shutdown)
    } else {
        Vec::new()
    };
    if role == Role::Worker {
        // Tests and scripts wait for this exact line.
        println!("Worker running");
        stop_signal(term).await;
        trigger.trigger();
        for lane in lanes {
            let _ = lane.await;
        }
        tracing::info!("stopped");
        return Ok(());
    }

    let state = ApiState {
        store,
        wakers,
        storage_dir: (settings.storage == StorageKind::Local).then(|| layout.storage()),
        finished_jobs: Default::default(),
        current_answers: Default::default(),
        signature_check: match trustee {
            Some(owner) => Arc::new(TrusteeKey(owner)),
            None => Arc::new(NoTrustedKey),
        },
        policy: RequestPolicy { git_hosts: settings.git_hosts.clone() },
    };
    let listener = tokio::net::TcpListener::bind((settings.host, settings.port))
        .await
        .with_context(|| format!("listening on {}:{}", settings.host, settings.port))?;
    let address = listener.local_addr()?;
    // Tests and scripts wait for this exact line.
    println!("Listening on http://{address}");
    let limits = HttpLimits {
        header_read_timeout: settings.http_header_timeout,
        request_timeout: settings.http_request_timeout,
        max_connections: connection_limit(settings.http_max_connections),
    };
    let router = api::limit_bodies(api::router(state.clone()), settings.http_max_body_bytes);
    let router = crate::dashboard::mount(router, state, dashboard_source);
    crate::http::serve(listener, router, limits, async move {
        stop_signal(term).await;
        trigger.trigger();
    })
    .await
    .context("serving HTTP")?;
    for lane in lanes {
        let _ = lane.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// `registry serve`: runs until SIGTERM or Ctrl-C.
pub fn run(settings: Settings) -> anyhow::Result<()> {
    run_as(settings, Role::ApiAndExecutor)
}

/// `registry serve [--no-executor]` or `registry worker`: runs until SIGTERM or Ctrl-C.
pub fn run_as(settings: Settings, role: Role) -> anyhow::Result<()> {
    crate::init_logging_to(Some(settings.layout().logs()));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = runtime.block_on(serve_as(settings, role));
    // Stopped jobs killed their children, so blocking work ends at once; should some
    // not, the process still exits instead of waiting for it.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    served
}

/// How long a stopping server waits for blocking work after its jobs were stopped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
