//! The commands upstream runs from GitHub: the issue bridge (`registry github-issue`),
//! the daily importer of new tags (`registry import daily`) and the transferrer of
//! renamed repositories (`registry transfer-renamed`). They talk to a running registry
//! over its API, as upstream's do, and to GitHub through `registry-github`.

pub mod daily_import;
pub mod issue;
pub mod registry_api;
pub mod transfer_renamed;

use std::collections::BTreeMap;

use anyhow::Context;
use registry_core::{Metadata, PackageName};
use registry_settings::Settings;

/// A command's async runtime and every package's metadata, read from its own
/// up-to-date working copy `checkouts` of the registry repository.
pub(crate) fn registry_metadata(
    settings: &Settings,
    checkouts: &str,
) -> anyhow::Result<(tokio::runtime::Runtime, BTreeMap<PackageName, Metadata>)> {
    let adapters = registry_settings::wiring::build_command_adapters(settings, checkouts)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let metadata = runtime.block_on(async {
        adapters.registry.refresh().await.context("updating the registry repository's working copy")?;
        registry_jobs::registry::all_metadata(adapters.registry.as_ref())
            .await
            .map_err(|e| anyhow::anyhow!(e.0))
    })?;
    Ok((runtime, metadata))
}
