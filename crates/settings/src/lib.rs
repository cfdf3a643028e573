//! What the registry is told and how that becomes effects: the settings every command
//! shares (flags and upstream's environment names), the data directory's layout, and
//! the wiring from settings to adapters (READONLY is chosen here, nowhere else).
//!
//! `registry serve` (the server crate) and the job commands of the `registry` binary
//! both start from here, so the commands never need the server crate.

pub mod adapters;
pub mod config;
pub mod database;
pub mod dotenv;
pub mod layout;
pub mod wiring;

pub use adapters::{Adapters, now};
pub use config::{Settings, StorageKind};
pub use database::DatabaseUrl;
pub use layout::DataDir;
