//! Data-driven tests over upstream's vectors: one test per vector file.

mod support;

mod basic;
mod formats;
mod legacy_manifest;
mod legacy_package_sets;
mod lenient;
mod licenses;
mod operations;
mod package_files;
mod solver;
mod spago_yaml;
mod ssh;
mod validation;
