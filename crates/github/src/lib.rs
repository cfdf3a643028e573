//! The GitHub REST calls the registry's GitHub tools make (the issue bridge, the
//! daily importer, the transferrer of renamed repositories), as upstream's Octokit
//! requests: a configurable API base URL and token, bounded waits for rate limits,
//! and errors that say what to fix. `standin` (feature `standin`) is a loopback
//! GitHub API over state a test sets up, recording what it was sent.

mod client;
mod error;
#[cfg(feature = "standin")]
pub mod standin;

pub use client::{Address, GitHub, Repository, Tag};
pub use error::GitHubError;
