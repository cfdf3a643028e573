//! The registry server: HTTP API v1, the job executor, and the `init`, `serve` and
//! `config show` commands the `registry` binary dispatches to.

pub mod api;
pub mod app;
pub mod daily_log;
pub mod dashboard;
pub mod executor;
pub mod fencing;
pub mod finished_cache;
pub mod handlers;
pub mod healthcheck;
pub mod http;
pub mod init;
pub mod job_context;
pub mod job_queue;
pub mod package_locks;
pub mod trustee;

pub use job_context::{Adapters, JobContext, JobFailure, JobHandler};
pub use registry_settings::Settings;
pub use registry_settings::{config, layout};

/// Server log lines go to standard error; `RUST_LOG`-style filtering is not wired,
/// `REGISTRY_LOG=debug` shows debug lines.
pub fn init_logging() {
    init_logging_to(None);
}

/// [`init_logging`], each line also appended to `<logs>/<YYYY-MM-DD>.log` (UTC), as
/// upstream keeps `scratch/logs/`.
pub fn init_logging_to(logs: Option<std::path::PathBuf>) {
    let level = match std::env::var("REGISTRY_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("warn") => tracing::Level::WARN,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(daily_log::DailyLog::new(logs))
        .with_max_level(level)
        .with_ansi(false)
        .try_init();
}
