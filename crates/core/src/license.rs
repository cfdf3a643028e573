//! SPDX licence expressions (`License`), as upstream's `Registry.License`.
//!
//! Two ways in:
//! - [`License::parse`] (stored manifests and metadata) accepts historical data:
//!   deprecated identifiers become their canonical form where SPDX names exactly
//!   one (`GPL-3.0` → `GPL-3.0-only`, `LGPL-3.0+` → `LGPL-3.0-or-later`,
//!   `wxWindows` → `LGPL-2.0-or-later WITH WxWindows-exception-3.1`), and deprecated
//!   identifiers without one (`GFDL-1.3`) are kept as written.
//! - [`License::parse_canonical`] (authored input: purs.json, spago.yaml, bower,
//!   dhall) accepts only expressions already in canonical form and names the
//!   replacement otherwise.
//!
//! Printing re-parenthesises by precedence (`OR` below `AND`), so redundant
//! parentheses disappear: `(MIT OR ISC)` prints `MIT OR ISC`.

mod ids;
mod syntax;

use std::fmt;

use serde_json::Value;

use crate::json::{self, Codec, DecodeError};
use ids::{Leaf, is_current, is_deprecated};
pub use ids::{current_id_ignoring_case, current_ids, exception_ids};
use syntax::{Node, ParsedLeaf};

/// How two licences combine: `AND` (both apply) or `OR` (either may be chosen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conjunction {
    And,
    Or,
}

impl Conjunction {
    fn precedence(self) -> u8 {
        match self {
            Conjunction::Or => 1,
            Conjunction::And => 2,
        }
    }

    fn keyword(self) -> &'static str {
        match self {
            Conjunction::And => "AND",
            Conjunction::Or => "OR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Tree {
    Leaf(Leaf),
    Branch(Conjunction, Box<Tree>, Box<Tree>),
}

/// A valid SPDX licence expression. Equality is structural, as upstream's: `a AND
/// (b AND c)` and `(a AND b) AND c` print alike but are not equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct License(Tree);

impl License {
    /// Lenient parse for stored data: deprecated identifiers are canonicalised where
    /// SPDX gives one replacement and kept verbatim where it gives none.
    pub fn parse(input: &str) -> Result<Self, String> {
        Ok(License(canonicalise(&syntax::parse_expression(input)?, &lenient_leaf)?))
    }

    /// Strict parse for authored input: every identifier must be current and
    /// written in canonical form.
    pub fn parse_canonical(input: &str) -> Result<Self, String> {
        Ok(License(canonicalise(&syntax::parse_expression(input)?, &strict_leaf)?))
    }

    /// The licence identifiers (not exceptions), upper-cased for case-insensitive
    /// comparison, each once, in order of first appearance.
    pub fn extract_ids(&self) -> Vec<String> {
        let mut found = Vec::new();
        collect_ids(&self.0, &mut found);
        found
    }

    /// Combines licences left to right: `[a, b, c]` becomes `(a ∘ b) ∘ c`.
    /// `None` for an empty list (upstream takes a non-empty array).
    pub fn join_with(
        conjunction: Conjunction,
        licenses: impl IntoIterator<Item = License>,
    ) -> Option<License> {
        licenses
            .into_iter()
            .reduce(|left, right| License(Tree::Branch(conjunction, Box::new(left.0), Box::new(right.0))))
    }
}

fn collect_ids(tree: &Tree, found: &mut Vec<String>) {
    match tree {
        Tree::Leaf(leaf) => {
            let id = leaf.identifier.to_uppercase();
            if !found.contains(&id) {
                found.push(id);
            }
        }
        Tree::Branch(_, left, right) => {
            collect_ids(left, found);
            collect_ids(right, found);
        }
    }
}

/// Canonicalises every leaf; the first failing leaf (left to right) is the error.
fn canonicalise(
    node: &Node,
    leaf_rule: &dyn Fn(&ParsedLeaf) -> Result<Leaf, String>,
) -> Result<Tree, String> {
    Ok(match node {
        Node::Leaf(leaf) => Tree::Leaf(leaf_rule(leaf)?),
        Node::Branch(conjunction, left, right) => Tree::Branch(
            *conjunction,
            Box::new(canonicalise(left, leaf_rule)?),
            Box::new(canonicalise(right, leaf_rule)?),
        ),
    })
}

fn strict_leaf(written: &ParsedLeaf) -> Result<Leaf, String> {
    let canonical = canonical_leaf(written)?;
    let (written, canonical_text) = (written.written(), print_leaf(&canonical));
    if written == canonical_text {
        Ok(canonical)
    } else {
        Err(format!("Non-canonical SPDX identifier '{written}'. Use '{canonical_text}'"))
    }
}

fn lenient_leaf(written: &ParsedLeaf) -> Result<Leaf, String> {
    canonical_leaf(written).or_else(|error| {
        // Historical data may hold deprecated ids SPDX gives no single replacement
        // for; they stay as written (a `+` on them has no meaning to keep).
        if is_deprecated(&written.identifier) && !written.plus {
            Ok(Leaf { identifier: written.identifier.clone(), exception: written.exception.clone() })
        } else {
            Err(error)
        }
    })
}

fn not_recognised(identifier: &str) -> String {
    format!("SPDX identifier '{identifier}' is not recognized in the current SPDX license list")
}

fn no_unambiguous_replacement(written: &str) -> String {
    format!("Deprecated SPDX identifier '{written}' does not have an unambiguous canonical replacement")
}

fn ensure_current(canonical: &str, written: &str) -> Result<(), String> {
    if is_current(canonical) { Ok(()) } else { Err(not_recognised(written)) }
}

/// The canonical form of one leaf, or why there is none.
fn canonical_leaf(written: &ParsedLeaf) -> Result<Leaf, String> {
    let ParsedLeaf { identifier, plus, exception } = written;
    if is_current(identifier) {
        let canonical = if *plus { or_later(identifier)? } else { identifier.clone() };
        ensure_current(&canonical, identifier)?;
        Ok(Leaf { identifier: canonical, exception: exception.clone() })
    } else if is_deprecated(identifier) {
        deprecated_leaf(written)
    } else {
        Err(not_recognised(identifier))
    }
}

/// `X+` on a current id: `X-only+` → `X-or-later`, else `X-or-later` if listed.
fn or_later(identifier: &str) -> Result<String, String> {
    let from_only = identifier.strip_suffix("-only").map(|base| format!("{base}-or-later"));
    let appended = format!("{identifier}-or-later");
    from_only
        .into_iter()
        .chain([appended])
        .find(|candidate| is_current(candidate))
        .ok_or_else(|| format!("Cannot canonicalize '+' for SPDX identifier '{identifier}'"))
}

fn deprecated_leaf(written: &ParsedLeaf) -> Result<Leaf, String> {
    let ParsedLeaf { identifier, plus, exception } = written;
    let versioned = format!("{identifier}{}", if *plus { "-or-later" } else { "-only" });
    if *plus && is_current(&versioned) {
        return Ok(Leaf { identifier: versioned, exception: exception.clone() });
    }
    if ids::is_ambiguous_deprecated(identifier) {
        return Err(no_unambiguous_replacement(identifier));
    }
    if is_current(&versioned) {
        return Ok(Leaf { identifier: versioned, exception: exception.clone() });
    }
    match ids::deprecated_replacement(identifier) {
        // The replacement carries its own exception; one written alongside is dropped, as upstream.
        Some(_) if *plus => Err(no_unambiguous_replacement(&format!("{identifier}+"))),
        Some(replacement) => {
            ensure_current(&replacement.identifier, identifier)?;
            Ok(replacement)
        }
        None => Err(no_unambiguous_replacement(identifier)),
    }
}

fn print_leaf(leaf: &Leaf) -> String {
    match &leaf.exception {
        Some(exception) => format!("{} WITH {exception}", leaf.identifier),
        None => leaf.identifier.clone(),
    }
}

fn print_tree(tree: &Tree, parent_precedence: u8, out: &mut String) {
    match tree {
        Tree::Leaf(leaf) => out.push_str(&print_leaf(leaf)),
        Tree::Branch(conjunction, left, right) => {
            let precedence = conjunction.precedence();
            let wrap = precedence < parent_precedence;
            if wrap {
                out.push('(');
            }
            print_tree(left, precedence, out);
            out.push(' ');
            out.push_str(conjunction.keyword());
            out.push(' ');
            print_tree(right, precedence, out);
            if wrap {
                out.push(')');
            }
        }
    }
}

impl fmt::Display for License {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        print_tree(&self.0, 0, &mut out);
        f.write_str(&out)
    }
}

/// A JSON string, decoded leniently (stored data), as upstream's `License.codec`.
impl Codec for License {
    fn encode(&self) -> Value {
        Value::String(self.to_string())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}

#[cfg(test)]
mod tests;
