//! The PureScript registry's data model and rules.
//!
//! Invariant: this crate does no I/O. It reads no files, spawns no processes, opens
//! no sockets and never reads the clock; callers pass data (and `now`) in. Every
//! wire format the registry stores or serves is encoded and decoded here, byte for
//! byte as the upstream registry writes it.

pub mod auth;
pub mod commit;
pub mod json;
pub mod license;
pub mod limited;
pub mod location;
pub mod name;
pub mod range;
pub mod sha256;
pub mod time;
pub mod version;

pub use json::{Codec, DecodeError};
pub use license::License;
pub use location::{Location, Owner};
pub use name::PackageName;
pub use range::Range;
pub use sha256::Sha256;
pub use time::{Date, Timestamp};
pub use version::Version;
