//! The web dashboard served by `registry serve` beside the API: server-rendered
//! pages for jobs, packages and package sets, `/metrics`, and the HTTP counters
//! behind it. Assets are embedded; nothing is fetched at run time.

mod http_stats;
mod job_index;
mod jobs_pages;
mod metrics;
mod package_pages;
mod page;
mod registry_data;
mod set_pages;
mod state;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use registry_queue::JobStore;
use registry_settings::layout::DataDir;

pub use page::Esc;
pub use registry_data::{RegistryCache, RegistrySource};
pub use state::{BuildFigures, Dashboard};

use crate::api::ApiState;
use crate::job_context::Adapters;

/// Where the dashboard reads the registry's files: the server's own checkouts,
/// watched through their git index files.
pub fn source(adapters: &Adapters, layout: &DataDir) -> RegistrySource {
    RegistrySource {
        registry: adapters.registry.clone(),
        index: adapters.index.clone(),
        watched: vec![
            layout.registry_checkout().join(".git/index"),
            layout.index_checkout().join(".git/index"),
        ],
        tarball_base: String::new(),
    }
}

/// The API's router with the dashboard's pages added and every request counted.
pub fn mount(api_router: Router, api: ApiState, source: RegistrySource) -> Router {
    let dashboard = Dashboard::new(api.store.clone(), api, source);
    let cache = dashboard.registry.clone();
    // The first read starts now, so the first page view rarely has to wait for it.
    tokio::spawn(async move { cache.reload().await });
    // Likewise the jobs index: its first read covers the whole history.
    let warm = dashboard.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.jobs().await {
            tracing::warn!("dashboard: reading the jobs failed: {e}");
        }
    });
    with_dashboard(api_router, dashboard)
}

impl Dashboard {
    pub fn new(store: Arc<dyn JobStore>, api: ApiState, source: RegistrySource) -> Dashboard {
        Dashboard {
            store,
            jobs: Default::default(),
            reading: Default::default(),
            registry: RegistryCache::new(source),
            api,
            http: Default::default(),
            set_jobs: Default::default(),
            build_stats: Default::default(),
        }
    }
}

pub fn with_dashboard(api_router: Router, dashboard: Dashboard) -> Router {
    let http = dashboard.http.clone();
    let pages = Router::new()
        .route("/", get(jobs_pages::jobs_list).fallback(read_only))
        .route("/jobs/{id}", get(jobs_pages::job_page).fallback(read_only))
        .route("/packages", get(package_pages::packages_list).fallback(read_only))
        .route("/packages/{name}", get(package_pages::package_page).fallback(read_only))
        .route("/package-sets", get(set_pages::sets_list).fallback(read_only))
        .route("/package-sets/{version}", get(set_pages::set_page).fallback(read_only))
        .route("/metrics", get(metrics::metrics).fallback(read_only))
        .with_state(dashboard);
    api_router.merge(pages).layer(axum::middleware::from_fn_with_state(http, http_stats::record))
}

/// Any method but GET (and HEAD) on a page: said in words, not an empty 405.
async fn read_only(method: Method, uri: Uri) -> Response {
    page::problem(
        page::Section::Jobs,
        StatusCode::METHOD_NOT_ALLOWED,
        &format!(
            "{method} {} is not allowed: the dashboard's pages are only read (GET). Jobs are submitted \
             through the API under /api/v1/.",
            uri.path()
        ),
    )
}

/// A tarball at a path the pages also use (`/jobs/1.0.0.tar.gz` for a package named
/// `jobs`): answered exactly as the API's tarball route answers it.
async fn tarball(dashboard: &Dashboard, name: &str, file: String) -> Response {
    crate::api::tarball(State(dashboard.api.clone()), Path((name.to_owned(), file))).await.into_response()
}
