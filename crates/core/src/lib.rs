//! The PureScript registry's data model and rules.
//!
//! Invariant: this crate does no I/O. It reads no files, spawns no processes, opens
//! no sockets and never reads the clock; callers pass data (and `now`) in. Every
//! wire format the registry stores or serves is encoded and decoded here, byte for
//! byte as the upstream registry writes it.

pub mod auth;
pub mod build_plan;
pub mod commit;
pub mod glob;
pub mod job;
pub mod json;
pub mod legacy;
pub mod license;
pub mod license_detect;
pub mod limited;
pub mod location;
pub mod manifest;
pub mod manifest_index;
pub mod metadata;
pub mod name;
pub mod operation;
pub mod package_files;
pub mod package_set;
pub mod package_set_batch;
pub mod package_set_rules;
pub mod range;
pub mod sha256;
pub mod solver;
pub mod spago_yaml;
pub mod time;
pub mod validation;
pub mod version;
pub mod yaml;

pub use json::{Codec, DecodeError};
pub use license::{Conjunction, License};
pub use location::{Location, Owner};
pub use manifest::Manifest;
pub use manifest_index::{IncludeRanges, ManifestIndex};
pub use metadata::Metadata;
pub use name::PackageName;
pub use package_set::PackageSet;
pub use range::Range;
pub use sha256::Sha256;
pub use time::{Date, Timestamp};
pub use version::Version;
