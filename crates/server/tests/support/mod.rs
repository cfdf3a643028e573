//! What the server's in-process tests share (each test file uses part of it).
#![allow(dead_code)]

use std::sync::Arc;

use registry_queue::JobStore;
use registry_server::app::open_store;
use registry_server::config::Settings;
use registry_settings::DatabaseUrl;

/// The job store of the registry in `settings`, opened as `registry serve` opens it:
/// its SQLite file, or with `REGISTRY_TEST_DATABASE=postgres` a Postgres database of
/// its own in the test process's cluster, so these tests also run against Postgres.
pub async fn job_store(settings: &Settings) -> Arc<dyn JobStore> {
    // A test may use a bare directory that `registry init` never laid out.
    std::fs::create_dir_all(settings.layout().database().parent().expect("in the data directory")).unwrap();
    let mut settings = settings.clone();
    if let Some(url) = registry_test_support::test_database_url(&settings.data_dir) {
        settings.database_url = Some(DatabaseUrl::Postgres(url));
    }
    open_store(&settings).await.unwrap()
}
