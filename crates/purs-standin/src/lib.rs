//! A stand-in for the PureScript compiler `purs`. It is **not a compiler**.
//!
//! It reads module headers, import lists and the names top-level declarations introduce,
//! and does the work purs does at that level — module graph, missing/duplicate/cyclic
//! modules, imports of names a module does not export — reporting in purs's exact error
//! formats. `compile` writes an output directory laid out like purs's and follows purs's
//! incremental-build rules (cache-db, prebuilt propagation, no early cutoff). See README.md.

pub mod cache_db;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod glob;
pub mod interface;
pub mod lexer;
pub mod make;
pub mod modgraph;
pub mod output;
pub mod publish;
pub mod sources;
pub mod syntax;

use registry_core::Version;

/// The compiler version the stand-in plays when nothing says otherwise.
pub const DEFAULT_VERSION: Version = Version::new(0, 15, 15);

/// The version the stand-in plays: from its file name (`purs-0_15_15`), else from
/// `PURS_STANDIN_VERSION`, else [`DEFAULT_VERSION`].
pub fn version_to_play(program: &str, env_version: Option<&str>) -> Result<Version, String> {
    let file_name = std::path::Path::new(program).file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let Some(digits) = file_name.strip_prefix("purs-")
        && let [major, minor, patch] = digits.split('_').collect::<Vec<_>>()[..]
        && let Ok(version) = Version::parse(&format!("{major}.{minor}.{patch}"))
    {
        return Ok(version);
    }
    match env_version {
        Some(text) => Version::parse(text.trim()).map_err(|why| {
            format!("purs-standin: PURS_STANDIN_VERSION must be a version like 0.15.15 ({why})")
        }),
        None => Ok(DEFAULT_VERSION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comes_from_the_file_name_then_the_environment() {
        assert_eq!(version_to_play("/opt/bin/purs-0_14_7", Some("0.13.0")), Ok(Version::new(0, 14, 7)));
        assert_eq!(version_to_play("purs", Some("0.13.0")), Ok(Version::new(0, 13, 0)));
        assert_eq!(version_to_play("./purs-standin", None), Ok(DEFAULT_VERSION));
        assert_eq!(version_to_play("purs-versions", None), Ok(DEFAULT_VERSION));
        assert!(version_to_play("purs", Some("fifteen")).unwrap_err().contains("PURS_STANDIN_VERSION"));
    }
}
