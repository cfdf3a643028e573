//! `registry serve`: one process running the HTTP API and the job executor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use registry_adapters::{
    DocsSite, GitCheckout, GitRepo, GitSourceFetcher, HttpDocsSite, LocalStorage, ReadOnlyDocsSite,
    ReadOnlyGitRepo, ReadOnlyStorage, S3Config, S3Storage, Storage,
};
use registry_core::job::JobType;
use registry_queue::{JobStore, SqliteStore};

use crate::api::{self, ApiState, NoTrustedKey, RequestPolicy};
use crate::config::{Settings, StorageKind};
use crate::executor::{Executor, Handlers, MAX_INTERRUPTIONS, Wakers, shutdown_pair};
use crate::handlers::matrix::enqueue_new_compiler_jobs;
use crate::handlers::{
    CommandHandler, MatrixHandler, PackageSetHandler, PublishHandler, TransferHandler, UnpublishHandler,
};
use crate::http::HttpLimits;
use crate::job_context::{Adapters, HiddenPaths, JobHandler, now};
use crate::package_locks::{HoldingPackageLock, PackageLocks};
use crate::trustee::{TrusteeKey, parse_trustee_key};
use registry_core::location::Owner;

pub const READONLY_BANNER: &str = "\
==============================================================================
  READONLY MODE: jobs run, but nothing is pushed, uploaded, deleted or
  published. Each skipped write is logged at NOTICE in the job's log.
==============================================================================";

/// The only place where READONLY is looked at: it picks the read-only adapters.
pub fn build_adapters(settings: &Settings) -> anyhow::Result<Adapters> {
    let layout = settings.layout();
    build_adapters_with_checkouts(
        settings,
        layout.registry_checkout(),
        layout.index_checkout(),
        layout.legacy_package_sets_checkout(),
    )
}

/// Fails, saying how to fix it, unless `settings` name an initialized data directory.
pub fn require_initialized(settings: &Settings) -> anyhow::Result<()> {
    let layout = settings.layout();
    let db = layout.database();
    if !db.exists() {
        bail!(
            "{} is not an initialized registry data directory (no {}): run `registry init --data-dir {}` first",
            layout.root().display(),
            db.display(),
            layout.root().display()
        );
    }
    Ok(())
}

/// Adapters for a command that runs beside a server on an initialized data
/// directory, with its own git working copies in `scratch/<checkouts>/`.
pub fn build_command_adapters(settings: &Settings, checkouts: &str) -> anyhow::Result<Adapters> {
    require_initialized(settings)?;
    let dir = settings.layout().command_scratch(checkouts);
    build_adapters_with_checkouts(
        settings,
        dir.join("registry"),
        dir.join("registry-index"),
        dir.join("package-sets"),
    )
}

/// [`build_adapters`] with the git working copies of the registry, index and legacy
/// package-sets repositories in the given directories: another process on the same data
/// directory (`registry package-set update`) uses its own, since two processes must not
/// run git in one working tree. Both push to the same remotes, which serialize them.
pub fn build_adapters_with_checkouts(
    settings: &Settings,
    registry_checkout: std::path::PathBuf,
    index_checkout: std::path::PathBuf,
    legacy_package_sets_checkout: std::path::PathBuf,
) -> anyhow::Result<Adapters> {
    let layout = settings.layout();
    let storage: Arc<dyn Storage> = match settings.storage {
        StorageKind::Local => Arc::new(LocalStorage::new(layout.storage())),
        StorageKind::S3 => {
            let (Some(access_key), Some(secret_key)) = (&settings.s3_access_key, &settings.s3_secret_key)
            else {
                bail!(
                    "S3 storage needs credentials: set SPACES_KEY and SPACES_SECRET (or --s3-access-key/--s3-secret-key)"
                );
            };
            Arc::new(S3Storage::new(&S3Config {
                endpoint: settings.s3_endpoint.clone(),
                bucket: settings.s3_bucket.clone(),
                region: settings.s3_region.clone(),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                virtual_hosted: !settings.s3_path_style,
            })?)
        }
    };
    let repo = |label: &str, dir, remote: String| -> Arc<dyn GitRepo> {
        Arc::new(GitCheckout::new(label, dir, remote).with_branch(settings.git_branch.clone()))
    };
    let registry = repo("registry", registry_checkout, settings.registry_remote());
    let index = repo("registry-index", index_checkout, settings.index_remote());
    let legacy_package_sets: Arc<dyn GitRepo> = Arc::new(
        GitCheckout::new(
            "legacy package-sets",
            legacy_package_sets_checkout,
            settings.legacy_package_sets_remote(),
        )
        .with_branch(settings.legacy_package_sets_branch()),
    );
    let docs: Arc<dyn DocsSite> =
        Arc::new(HttpDocsSite::new(&settings.docs_url, settings.pacchettibotti_token.clone()));
    let sources =
        Arc::new(GitSourceFetcher::new(&settings.github_url).with_git_hosts(settings.git_hosts.clone()));
    Ok(if settings.readonly {
        Adapters {
            storage: Arc::new(ReadOnlyStorage::new(storage, layout.readonly_cache())),
            registry: Arc::new(ReadOnlyGitRepo::new(registry)),
            index: Arc::new(ReadOnlyGitRepo::new(index)),
            legacy_package_sets: Arc::new(ReadOnlyGitRepo::new(legacy_package_sets)),
            docs: Arc::new(ReadOnlyDocsSite::new(docs)),
            sources,
        }
    } else {
        Adapters { storage, registry, index, legacy_package_sets, docs, sources }
    })
}

pub fn build_handlers(settings: &Settings, trustee: Option<Owner>) -> Handlers {
    let mut handlers: Handlers = HashMap::new();
    let locator = registry_compiler::CompilerLocator::new(settings.compilers.clone());
    let purs = registry_compiler::Purs::new(locator.clone()).with_timeout(settings.timeout(JobType::Publish));
    // Jobs of the two lanes that write a package's metadata take turns (see package_locks).
    let locks = PackageLocks::default();
    let package_operation = |inner: Arc<dyn JobHandler>| -> Arc<dyn JobHandler> {
        Arc::new(HoldingPackageLock { inner, locks: locks.clone() })
    };
    let publisher = registry_jobs::publish::Publisher::new(purs);
    handlers.insert(JobType::Publish, package_operation(Arc::new(PublishHandler(publisher))));
    handlers.insert(JobType::Unpublish, package_operation(Arc::new(UnpublishHandler::new(trustee.clone()))));
    handlers.insert(JobType::Transfer, package_operation(Arc::new(TransferHandler::new(trustee))));
    let matrix_purs = registry_compiler::Purs::new(locator).with_timeout(settings.timeout(JobType::Matrix));
    handlers.insert(
        JobType::Matrix,
        Arc::new(MatrixHandler {
            builder: registry_jobs::matrix::MatrixBuilder::new(matrix_purs),
            locks: locks.clone(),
        }),
    );
    handlers.insert(JobType::PackageSet, Arc::new(package_set_handler(settings)));
    for (kind, program) in &settings.job_commands {
        handlers.insert(*kind, package_operation(Arc::new(CommandHandler::new(program))));
    }
    handlers
}

/// Package-set builds keep one working directory per compiler in the scratch
/// directory, reused across jobs; their build cache is in the storage adapter. A
/// compile never outlives the job.
pub fn package_set_handler(settings: &Settings) -> PackageSetHandler {
    let layout = settings.layout();
    let locator = registry_compiler::CompilerLocator::new(settings.compilers.clone());
    PackageSetHandler {
        build_root: layout.package_set_builds(),
        purs: registry_compiler::Purs::new(locator).with_timeout(settings.timeout(JobType::PackageSet)),
    }
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
