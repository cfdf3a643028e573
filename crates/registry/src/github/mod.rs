//! The commands upstream runs from GitHub: the issue bridge (`registry github-issue`),
//! the daily importer of new tags (`registry import daily`) and the transferrer of
//! renamed repositories (`registry transfer-renamed`). They talk to a running registry
//! over its API, as upstream's do, and to GitHub through `registry-github`.

pub mod daily_import;
pub mod issue;
pub mod registry_api;
pub mod transfer_renamed;
