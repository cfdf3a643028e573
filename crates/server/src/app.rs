//! `registry serve`: one process running the HTTP API and the job executor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use registry_core::job::JobType;
use registry_queue::{JobStore, SqliteStore};

use crate::api::{self, ApiState, NoTrustedKey, RequestPolicy};
use crate::executor::{Executor, Handlers, MAX_INTERRUPTIONS, Wakers, shutdown_pair};
use crate::handlers::matrix::enqueue_new_compiler_jobs;
use crate::handlers::{CommandHandler, MatrixHandler, PublishHandler, TransferHandler, UnpublishHandler};
use crate::http::HttpLimits;
use crate::job_context::{HiddenPaths, JobHandler, now};
use crate::package_locks::{HoldingPackageLock, PackageLocks};
use crate::trustee::{TrusteeKey, parse_trustee_key};
use registry_core::location::Owner;
pub use registry_settings::wiring::{
    build_adapters, build_adapters_with_checkouts, build_command_adapters, package_set_handler,
    require_initialized,
};
use registry_settings::{Settings, StorageKind};

pub const READONLY_BANNER: &str = "\
==============================================================================
  READONLY MODE: jobs run, but nothing is pushed, uploaded, deleted or
  published. Each skipped write is logged at NOTICE in the job's log.
==============================================================================";

pub fn build_handlers(settings: &Settings, trustee: Option<Owner>) -> Handlers {
    let mut handlers: Handlers = HashMap::new();
    // Jobs of the two lanes that write a package's metadata take turns (see package_locks).
    let locks = PackageLocks::default();
    let plans = registry_jobs::matrix::MatrixIndex::new();
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

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received: shutting down"),
    }
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    if settings.readonly {
        eprintln!("{READONLY_BANNER}");
    }
    require_initialized(&settings)?;
    let layout = settings.layout();
    let db = layout.database();
    let store: Arc<dyn JobStore> =
        Arc::new(SqliteStore::open(&db).with_context(|| format!("opening the database {}", db.display()))?);
    let report = store.reset_interrupted(MAX_INTERRUPTIONS, now()).await?;
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

    // Child processes of jobs that a crash left running must not linger or compete.
    let groups = layout.process_groups();
    let orphans = registry_adapters::process::kill_orphans(&groups);
    if orphans > 0 {
        tracing::warn!("killed {orphans} process group(s) left running by jobs of a previous run");
    }
    registry_adapters::process::record_groups_in(&groups).context("recording job process groups")?;

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
    let adapters = build_adapters(&settings)?;
    // A compiler installed since the last start: check the whole registry with it.
    let installed = registry_compiler::CompilerLocator::new(settings.compilers.clone()).installed_versions();
    if let Err(err) = enqueue_new_compiler_jobs(&adapters, store.as_ref(), &installed).await {
        tracing::error!("checking for a new compiler failed: {err:#}; no matrix jobs were queued for it");
    }
    let handlers = build_handlers(&settings, trustee.clone());
    let wakers = Wakers::new();
    let (trigger, shutdown) = shutdown_pair();
    let timeouts = JobType::ALL.into_iter().map(|k| (k, settings.timeout(k))).collect();
    let executor = Arc::new(Executor {
        store: store.clone(),
        handlers,
        adapters,
        timeouts,
        work_root: layout.jobs(),
        poll_interval: Duration::from_secs(1),
        hidden_paths: HiddenPaths::for_server(&settings.data_dir, settings.compilers.as_deref()),
    });
    let lanes = executor.start(&wakers, shutdown);

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
    let router = api::limit_bodies(api::router(state), settings.http_max_body_bytes);
    crate::http::serve(listener, router, limits, async move {
        stop_signal().await;
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
    crate::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let served = runtime.block_on(serve(settings));
    // Stopped jobs killed their children, so blocking work ends at once; should some
    // not, the process still exits instead of waiting for it.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    served
}

/// How long a stopping server waits for blocking work after its jobs were stopped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
