//! Which SPDX identifiers exist, which are current, and the fixed canonical
//! replacements for deprecated ones.
//!
//! Upstream reads the npm lists `spdx-license-ids` (current and deprecated) and
//! `spdx-exceptions` (locked at 3.0.23 and 2.5.0). The `spdx` crate carries the SPDX
//! list too (0.13.6: list 3.29.0), with two adjustments here: `NOASSERTION` is an
//! SPDX document keyword, not a licence, and the list's `X+` entries can never be
//! scanned as one identifier (the `+` is an operator). After them the deprecated
//! set equals upstream's exactly; the current licences and the exceptions are a
//! superset (20 newer licence ids, 20 newer exceptions, e.g. `Bugroff`), which only
//! matters for expressions naming those newer ids: upstream, until it updates its
//! lock file, rejects them.

use spdx::flags::IS_DEPRECATED;
use spdx::identifiers::{EXCEPTIONS, LICENSES};

/// A licence identifier with an optional `WITH` exception, after canonicalisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Leaf {
    pub identifier: String,
    pub exception: Option<String>,
}

fn licence_flags(identifier: &str) -> Option<u8> {
    if identifier == "NOASSERTION" || identifier.contains('+') {
        return None;
    }
    LICENSES.binary_search_by(|l| l.name.cmp(identifier)).ok().map(|i| LICENSES[i].flags)
}

/// Known to the lexer as a licence identifier (current or deprecated).
pub fn is_licence(identifier: &str) -> bool {
    licence_flags(identifier).is_some()
}

/// Known to the lexer as an exception identifier (the token after `WITH`).
pub fn is_exception(identifier: &str) -> bool {
    EXCEPTIONS.binary_search_by(|e| e.name.cmp(identifier)).is_ok()
}

/// On the SPDX licence list and not deprecated.
pub fn is_current(identifier: &str) -> bool {
    licence_flags(identifier).is_some_and(|flags| flags & IS_DEPRECATED == 0)
}

/// On the SPDX licence list as deprecated.
pub fn is_deprecated(identifier: &str) -> bool {
    licence_flags(identifier).is_some_and(|flags| flags & IS_DEPRECATED != 0)
}

/// Every current licence identifier, in list order.
pub fn current_ids() -> impl Iterator<Item = &'static str> {
    LICENSES.iter().map(|l| l.name).filter(|name| is_current(name))
}

/// Every exception identifier, in list order.
pub fn exception_ids() -> impl Iterator<Item = &'static str> {
    EXCEPTIONS.iter().map(|e| e.name)
}

/// The current identifier with this spelling ignoring ASCII case, e.g. `mit` → `MIT`.
pub fn current_id_ignoring_case(identifier: &str) -> Option<&'static str> {
    current_ids().find(|name| name.eq_ignore_ascii_case(identifier))
}

/// Deprecated identifiers that stand for several current ones (e.g. `GFDL-1.3` is
/// either `-only` or `-or-later`, with or without invariants), so SPDX gives no
/// single replacement.
pub fn is_ambiguous_deprecated(identifier: &str) -> bool {
    matches!(identifier, "BSD-2-Clause-FreeBSD" | "GFDL-1.1" | "GFDL-1.2" | "GFDL-1.3" | "Net-SNMP" | "Nunit")
}

/// The single canonical form SPDX names for a deprecated identifier that is not a
/// plain versioned GNU id (those become `-only` / `-or-later` by rule).
pub fn deprecated_replacement(identifier: &str) -> Option<Leaf> {
    let (licence, exception) = match identifier {
        "BSD-2-Clause-NetBSD" => ("BSD-2-Clause", None),
        "StandardML-NJ" => ("SMLNJ", None),
        "bzip2-1.0.5" => ("bzip2-1.0.6", None),
        "eCos-2.0" => ("GPL-2.0-or-later", Some("eCos-exception-2.0")),
        "GPL-2.0-with-GCC-exception" => ("GPL-2.0-only", Some("GCC-exception-2.0")),
        "GPL-2.0-with-autoconf-exception" => ("GPL-2.0-only", Some("Autoconf-exception-2.0")),
        "GPL-2.0-with-bison-exception" => ("GPL-2.0-only", Some("Bison-exception-2.2")),
        "GPL-2.0-with-classpath-exception" => ("GPL-2.0-only", Some("Classpath-exception-2.0")),
        "GPL-2.0-with-font-exception" => ("GPL-2.0-only", Some("Font-exception-2.0")),
        "GPL-3.0-with-GCC-exception" => ("GPL-3.0-only", Some("GCC-exception-3.1")),
        "GPL-3.0-with-autoconf-exception" => ("GPL-3.0-only", Some("Autoconf-exception-3.0")),
        "wxWindows" => ("LGPL-2.0-or-later", Some("WxWindows-exception-3.1")),
        _ => return None,
    };
    Some(Leaf { identifier: licence.to_owned(), exception: exception.map(str::to_owned) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        assert!(LICENSES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(EXCEPTIONS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn deprecated_set_is_the_npm_one() {
        let deprecated: Vec<&str> =
            LICENSES.iter().map(|l| l.name).filter(|name| is_deprecated(name)).collect();
        assert_eq!(deprecated.len(), 26, "{deprecated:?}");
        assert!(is_deprecated("GPL-2.0") && is_deprecated("wxWindows") && is_deprecated("Nunit"));
        assert!(!is_licence("GPL-2.0+") && !is_licence("NOASSERTION"));
    }

    #[test]
    fn replacements_are_current() {
        for id in LICENSES.iter().map(|l| l.name) {
            if let Some(leaf) = deprecated_replacement(id) {
                assert!(is_deprecated(id), "{id}");
                assert!(is_current(&leaf.identifier), "{id} -> {}", leaf.identifier);
                assert!(leaf.exception.iter().all(|e| is_exception(e)), "{id}");
            }
        }
    }

    #[test]
    fn case_insensitive_lookup() {
        assert_eq!(current_id_ignoring_case("apache-2.0"), Some("Apache-2.0"));
        assert_eq!(current_id_ignoring_case("gpl-3.0"), None);
    }
}
