//! Module names for generated packages.

use registry_core::PackageName;

/// The module namespace of a package: `foo-bar` → `Foo_bar`, `2d` → `D__2d`.
///
/// Injective over package names (dashes become single underscores, and package
/// names never hold two dashes in a row), so two packages never define the same module.
pub fn module_prefix(name: &PackageName) -> String {
    let raw = name.as_str().replace('-', "_");
    let mut chars = raw.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() => c.to_ascii_uppercase().to_string() + chars.as_str(),
        _ => format!("D__{raw}"),
    }
}

/// The module every dependant imports from.
pub fn api_module(name: &PackageName) -> String {
    format!("{}.Api", module_prefix(name))
}

/// A small stable hash (FNV-1a) so shapes vary by package but never by run.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_proper_names_and_distinct() {
        let names = ["a-b", "ab", "a-bc", "ab-c", "2d", "p2d", "d-2d"];
        let prefixes: Vec<String> =
            names.iter().map(|n| module_prefix(&PackageName::parse(n).unwrap())).collect();
        assert_eq!(prefixes, ["A_b", "Ab", "A_bc", "Ab_c", "D__2d", "P2d", "D_2d"]);
    }
}
