use proptest::prelude::*;

use super::*;

fn printed(input: &str) -> String {
    License::parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).to_string()
}

fn strict_error(input: &str) -> String {
    License::parse_canonical(input).unwrap_err()
}

#[test]
fn deprecated_ids_canonicalise_in_lenient_mode() {
    assert_eq!(printed("GPL-2.0-with-GCC-exception"), "GPL-2.0-only WITH GCC-exception-2.0");
    assert_eq!(printed("eCos-2.0"), "GPL-2.0-or-later WITH eCos-exception-2.0");
    assert_eq!(
        printed("LGPL-2.1+ WITH Classpath-exception-2.0"),
        "LGPL-2.1-or-later WITH Classpath-exception-2.0"
    );
    assert_eq!(printed("bzip2-1.0.5"), "bzip2-1.0.6");
    // A `+` on a current `-only` id moves to `-or-later`.
    assert_eq!(printed("GPL-3.0-only+"), "GPL-3.0-or-later");
    assert_eq!(printed("Nunit AND BSD-2-Clause-FreeBSD"), "Nunit AND BSD-2-Clause-FreeBSD");
}

#[test]
fn errors_read_as_upstream() {
    assert_eq!(License::parse("MIT+").unwrap_err(), "Cannot canonicalize '+' for SPDX identifier 'MIT'");
    assert_eq!(
        License::parse("GFDL-1.3 AND Net-SNMP+").unwrap_err(),
        "Deprecated SPDX identifier 'Net-SNMP' does not have an unambiguous canonical replacement"
    );
    assert_eq!(
        License::parse("wxWindows+").unwrap_err(),
        "Deprecated SPDX identifier 'wxWindows+' does not have an unambiguous canonical replacement"
    );
    assert_eq!(
        License::parse("LicenseRef-mine").unwrap_err(),
        "SPDX identifier 'LicenseRef-mine' is not recognized in the current SPDX license list"
    );
    assert_eq!(
        strict_error("MIT AND GPL-3.0+"),
        "Non-canonical SPDX identifier 'GPL-3.0+'. Use 'GPL-3.0-or-later'"
    );
    // The first offending leaf, left to right, is the one reported.
    assert_eq!(
        strict_error("AGPL-3.0 OR LGPL-3.0"),
        "Non-canonical SPDX identifier 'AGPL-3.0'. Use 'AGPL-3.0-only'"
    );
    assert!(License::parse("Apache").unwrap_err().starts_with("Invalid SPDX expression 'Apache': "));
}

#[test]
fn printing_drops_redundant_parentheses_only() {
    assert_eq!(printed("(GPL-3.0-only OR MIT)"), "GPL-3.0-only OR MIT");
    assert_eq!(printed("((MIT)) AND (ISC AND Zlib)"), "MIT AND ISC AND Zlib");
    assert_eq!(printed("(MIT OR ISC) AND Zlib"), "(MIT OR ISC) AND Zlib");
    assert_eq!(printed("MIT or ISC and Zlib"), "MIT OR ISC AND Zlib");
}

#[test]
fn extract_ids_upper_cases_and_deduplicates_in_order() {
    let license =
        License::parse("Zlib AND (MIT OR zlib-acknowledgement) AND MIT WITH LLVM-exception").unwrap();
    assert_eq!(license.extract_ids(), ["ZLIB", "MIT", "ZLIB-ACKNOWLEDGEMENT"]);
}

#[test]
fn join_with_folds_left_and_parenthesises_by_precedence() {
    let parts = ["MIT OR ISC", "Zlib", "0BSD"].map(|s| License::parse(s).unwrap());
    let joined = License::join_with(Conjunction::And, parts.clone()).unwrap();
    assert_eq!(joined.to_string(), "(MIT OR ISC) AND Zlib AND 0BSD");
    assert_eq!(License::join_with(Conjunction::Or, parts).unwrap().to_string(), "MIT OR ISC OR Zlib OR 0BSD");
    assert_eq!(License::join_with(Conjunction::Or, []), None);
}

#[test]
fn json_codec_is_lenient() {
    let decoded = License::decode(&Value::String("LGPL-3.0+".into())).unwrap();
    assert_eq!(decoded.encode(), Value::String("LGPL-3.0-or-later".into()));
    assert!(License::decode(&Value::from(3)).is_err());
}

/// An expression over real ids, with its canonical printing built independently
/// of the printer under test.
#[derive(Debug, Clone)]
enum Expr {
    Leaf(&'static str, Option<&'static str>),
    Branch(Conjunction, Box<Expr>, Box<Expr>),
}

impl Expr {
    fn canonical(&self, parent: u8) -> String {
        match self {
            Expr::Leaf(id, None) => (*id).to_owned(),
            Expr::Leaf(id, Some(exception)) => format!("{id} WITH {exception}"),
            Expr::Branch(conjunction, left, right) => {
                let own = conjunction.precedence();
                let keyword = conjunction.keyword();
                let text = format!("{} {keyword} {}", left.canonical(own), right.canonical(own));
                if own < parent { format!("({text})") } else { text }
            }
        }
    }

    /// Every branch parenthesised, spaces doubled, keywords lower-cased: the same
    /// expression written as untidily as the grammar allows.
    fn untidy(&self) -> String {
        match self {
            Expr::Leaf(..) => self.canonical(0),
            Expr::Branch(conjunction, left, right) => {
                let keyword = conjunction.keyword().to_lowercase();
                format!("(  {}  {keyword}  {} )", left.untidy(), right.untidy())
            }
        }
    }

    fn ids(&self, out: &mut Vec<String>) {
        match self {
            Expr::Leaf(id, _) => {
                let id = id.to_uppercase();
                if !out.contains(&id) {
                    out.push(id);
                }
            }
            Expr::Branch(_, left, right) => {
                left.ids(out);
                right.ids(out);
            }
        }
    }
}

fn expressions() -> impl Strategy<Value = Expr> {
    let licences: Vec<&'static str> = current_ids().collect();
    let exceptions: Vec<&'static str> = exception_ids().collect();
    let leaf =
        (prop::sample::select(licences), prop::option::weighted(0.2, prop::sample::select(exceptions)))
            .prop_map(|(id, exception)| Expr::Leaf(id, exception));
    leaf.prop_recursive(4, 16, 2, |inner| {
        (prop::bool::ANY, inner.clone(), inner).prop_map(|(and, left, right)| {
            let conjunction = if and { Conjunction::And } else { Conjunction::Or };
            Expr::Branch(conjunction, Box::new(left), Box::new(right))
        })
    })
}

proptest! {
    #[test]
    fn print_after_parse_is_identity_on_canonical_text(expr in expressions()) {
        let text = expr.canonical(0);
        let lenient = License::parse(&text).map_err(TestCaseError::fail)?;
        let strict = License::parse_canonical(&text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(lenient.to_string(), text.clone());
        prop_assert_eq!(&strict, &lenient);
        let mut ids = Vec::new();
        expr.ids(&mut ids);
        prop_assert_eq!(lenient.extract_ids(), ids);
    }

    #[test]
    fn untidy_text_prints_canonically(expr in expressions()) {
        let license = License::parse(&expr.untidy()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(license.to_string(), expr.canonical(0));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ ()+:A-Za-z0-9.-]{0,40}") {
        if let Ok(license) = License::parse(&text) {
            let again = License::parse(&license.to_string()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(again.to_string(), license.to_string());
        }
    }
}
