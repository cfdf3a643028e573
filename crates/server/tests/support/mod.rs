//! What the server's in-process tests share (each test file uses part of it).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use registry_queue::{JobStore, PostgresOptions, PostgresStore, SqliteStore};
use registry_server::config::Settings;

/// The job store of the registry in `settings`: its SQLite file, or with
/// `REGISTRY_TEST_DATABASE=postgres` a Postgres database of its own in the test
/// process's cluster, so these tests also run against the Postgres store.
pub async fn job_store(settings: &Settings) -> Arc<dyn JobStore> {
    job_store_at(&settings.data_dir, &settings.layout().database()).await
}

/// A job store for a test directory `dir`: the SQLite file `sqlite`, or a Postgres
/// database of its own as [`job_store`] says.
pub async fn job_store_at(dir: &Path, sqlite: &Path) -> Arc<dyn JobStore> {
    match registry_test_support::test_database_url(dir) {
        Some(url) => Arc::new(PostgresStore::connect(&url, PostgresOptions::default()).await.unwrap()),
        None => Arc::new(SqliteStore::open(sqlite).unwrap()),
    }
}
