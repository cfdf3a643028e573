//! Compiler versions as `purs --version` prints them and as executables are named.

use registry_core::Version;

/// Reads the version `purs --version` printed: the leading `MAJOR.MINOR.PATCH`, ignoring
/// anything after the first space or `-` (`0.15.17-0`, `0.15.16 [development build; …]`).
pub fn parse_version_output(output: &str) -> Result<Version, String> {
    let text = output.trim();
    let leading = text.split([' ', '-']).next().unwrap_or("");
    Version::parse(leading).map_err(|why| {
        format!("Could not read a compiler version from `purs --version` output {text:?}: {why}")
    })
}

/// The executable name the registry uses for a compiler version: `purs-0_15_4`.
pub fn executable_name(version: Option<Version>) -> String {
    match version {
        None => "purs".to_owned(),
        Some(v) => format!("purs-{}_{}_{}", v.major, v.minor, v.patch),
    }
}

/// The version encoded in an executable name `purs-X_Y_Z`, if it is one.
pub fn version_from_executable_name(name: &str) -> Option<Version> {
    let digits = name.strip_prefix("purs-")?;
    let dotted = digits.replace('_', ".");
    if digits.contains('.') {
        return None;
    }
    Version::parse(&dotted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_release_prerelease_and_development_versions() {
        assert_eq!(parse_version_output("0.15.16\n").unwrap(), Version::new(0, 15, 16));
        assert_eq!(parse_version_output("0.15.17-0\n").unwrap(), Version::new(0, 15, 17));
        assert_eq!(
            parse_version_output("0.15.16 [development build; commit: 0123abcd DIRTY]\n").unwrap(),
            Version::new(0, 15, 16)
        );
        assert!(
            parse_version_output("purs: command not understood\n").unwrap_err().contains("purs --version")
        );
    }

    #[test]
    fn names_and_versions_correspond() {
        assert_eq!(executable_name(Some(Version::new(0, 13, 0))), "purs-0_13_0");
        assert_eq!(executable_name(None), "purs");
        assert_eq!(version_from_executable_name("purs-0_15_10"), Some(Version::new(0, 15, 10)));
        assert_eq!(version_from_executable_name("purs-0.15.10"), None);
        assert_eq!(version_from_executable_name("purs"), None);
        assert_eq!(version_from_executable_name("purs-versions"), None);
    }
}
