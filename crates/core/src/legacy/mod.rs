//! Legacy formats: Bower-era versions and ranges, `bower.json`, `spago.dhall`, and
//! the psc-era package sets the registry still publishes for old tools.

mod doc;
pub mod lenient;
pub mod manifest;
pub mod npm_semver;
pub mod package_sets;
