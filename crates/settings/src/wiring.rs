//! Adapters and job runners from [`Settings`]: the one place that turns settings into
//! effects, for `registry serve` and for every command that runs jobs beside it.

use std::sync::Arc;

use anyhow::bail;
use registry_adapters::{
    DocsSite, GitCheckout, GitRepo, GitSourceFetcher, HttpDocsSite, LocalStorage, ReadOnlyDocsSite,
    ReadOnlyGitRepo, ReadOnlyStorage, S3Config, S3Storage, Storage,
};
use registry_core::job::JobType;
use registry_jobs::package_set::PackageSetUpdater;

use crate::adapters::Adapters;
use crate::config::{Settings, StorageKind};

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
        Arc::new(
            GitCheckout::new(label, dir, remote)
                .with_branch(settings.git_branch.clone())
                .with_token(settings.pacchettibotti_token.clone()),
        )
    };
    let registry = repo("registry", registry_checkout, settings.registry_remote());
    let index = repo("registry-index", index_checkout, settings.index_remote());
    let legacy_package_sets: Arc<dyn GitRepo> = Arc::new(
        GitCheckout::new(
            "legacy package-sets",
            legacy_package_sets_checkout,
            settings.legacy_package_sets_remote(),
        )
        .with_branch(settings.legacy_package_sets_branch())
        .with_token(settings.pacchettibotti_token.clone()),
    );
    let docs: Arc<dyn DocsSite> =
        Arc::new(HttpDocsSite::new(&settings.docs_url, settings.pacchettibotti_token.clone()));
    let sources =
        Arc::new(GitSourceFetcher::new(&settings.github_url).with_git_hosts(settings.git_hosts.clone()));
    let compilers = registry_compiler::CompilerLocator::new(settings.compilers.clone());
    let build_root = layout.package_set_builds();
    Ok(if settings.readonly {
        Adapters {
            storage: Arc::new(ReadOnlyStorage::new(storage, layout.readonly_cache())),
            registry: Arc::new(ReadOnlyGitRepo::new(registry)),
            index: Arc::new(ReadOnlyGitRepo::new(index)),
            legacy_package_sets: Arc::new(ReadOnlyGitRepo::new(legacy_package_sets)),
            docs: Arc::new(ReadOnlyDocsSite::new(docs)),
            sources,
            compilers,
            build_root,
        }
    } else {
        Adapters { storage, registry, index, legacy_package_sets, docs, sources, compilers, build_root }
    })
}

/// Package-set builds keep one working directory per compiler in the scratch
/// directory (the environment's build root), reused across jobs; their build cache
/// is in the storage adapter. A compile never outlives the job.
pub fn package_set_handler(settings: &Settings) -> PackageSetUpdater {
    PackageSetUpdater {
        compile_timeout: Some(settings.timeout(JobType::PackageSet)),
        compiler_env: Vec::new(),
    }
}
