//! Module names for generated packages.

use registry_core::PackageName;

/// The module namespace of a package: `foo-bar` → `Foo.Bar`, `2d-x` → `ZZ2d.X`.
///
/// Module names allow neither dashes nor underscores, so each dash-separated word
/// becomes a capitalised segment. A word starting with a digit gets the prefix
/// `ZZ`, which no lower-case word can produce (its second letter is upper case), so
/// the mapping is injective: two packages never define the same module.
pub fn module_prefix(name: &PackageName) -> String {
    name.as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(c) if c.is_ascii_lowercase() => c.to_ascii_uppercase().to_string() + chars.as_str(),
                _ => format!("ZZ{word}"),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
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
        let names = ["a-b", "ab", "a-bc", "ab-c", "2d", "zz2d", "d-2d"];
        let prefixes: Vec<String> =
            names.iter().map(|n| module_prefix(&PackageName::parse(n).unwrap())).collect();
        assert_eq!(prefixes, ["A.B", "Ab", "A.Bc", "Ab.C", "ZZ2d", "Zz2d", "D.ZZ2d"]);
    }
}
