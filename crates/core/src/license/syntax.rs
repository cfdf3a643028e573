//! The SPDX expression grammar exactly as upstream reads it: through npm
//! `spdx-expression-parse` 4, quirks included, because which strings are accepted
//! (and the error texts) are part of the registry's observable behaviour.
//!
//! Quirks kept on purpose:
//! - only the space character separates tokens (a tab is an error);
//! - `AND`, `OR` and `WITH` match in any letter case, even as the start of a word;
//! - identifiers are case-sensitive and must be on the SPDX lists;
//! - the identifier scanner takes the first `[A-Za-z0-9.-]+` run *anywhere* ahead
//!   of the cursor but advances only by its length, so offsets in messages can
//!   look odd (`MIT, Apache-2.0` fails at offset 13);
//! - `AND` binds tighter than `OR`; chains nest to the right (`a AND (b AND c)`);
//! - offsets count UTF-16 code units, as JavaScript strings do.
//!
//! One deliberate difference: where the JavaScript parser crashes on a missing
//! operand (`MIT AND`, `(`, the empty string) with a `TypeError` about reading a
//! property of `null`, this parser says "Unexpected end of expression".

use super::Conjunction;
use super::ids;

/// Bounds recursion (and so stack use) on hostile input; real expressions have a
/// handful of tokens.
const MAX_TOKENS: usize = 1000;

const END_OF_INPUT: &str = "Unexpected end of expression";

/// A leaf as written, before canonicalisation: `identifier[+] [WITH exception]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLeaf {
    pub identifier: String,
    pub plus: bool,
    pub exception: Option<String>,
}

impl ParsedLeaf {
    /// The leaf as it was written (used in "Use '…'" messages).
    pub fn written(&self) -> String {
        let plus = if self.plus { "+" } else { "" };
        match &self.exception {
            Some(exception) => format!("{}{plus} WITH {exception}", self.identifier),
            None => format!("{}{plus}", self.identifier),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(ParsedLeaf),
    Branch(Conjunction, Box<Node>, Box<Node>),
}

/// Parses an SPDX expression; errors read `Invalid SPDX expression '<input>': <why>`.
pub fn parse_expression(input: &str) -> Result<Node, String> {
    scan(input)
        .and_then(|tokens| Parser { tokens: &tokens, at: 0 }.whole())
        .map_err(|why| format!("Invalid SPDX expression '{input}': {why}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    With,
    And,
    Or,
    Open,
    Close,
    Colon,
    Plus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Op(Op),
    DocumentRef(String),
    LicenseRef(String),
    Licence(String),
    Exception(String),
}

/// Tried in this order: the keywords before identifiers, so `ORx` is `OR` + `x`.
const OPERATORS: [(&str, Op); 7] = [
    ("WITH", Op::With),
    ("AND", Op::And),
    ("OR", Op::Or),
    ("(", Op::Open),
    (")", Op::Close),
    (":", Op::Colon),
    ("+", Op::Plus),
];

struct Scanner {
    source: Vec<u16>,
    at: usize,
}

fn is_id_unit(unit: u16) -> bool {
    u8::try_from(unit).is_ok_and(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl Scanner {
    fn more(&self) -> bool {
        self.at < self.source.len()
    }

    /// Reads `text` at the cursor; keywords ignore ASCII case (JavaScript's `/i`
    /// never folds a non-ASCII character onto an ASCII one).
    fn read(&mut self, text: &str, ignore_case: bool) -> bool {
        let ahead = &self.source[self.at..];
        let matches = text.len() <= ahead.len()
            && text.bytes().zip(ahead).all(|(want, &got)| {
                u8::try_from(got)
                    .is_ok_and(|got| if ignore_case { got.eq_ignore_ascii_case(&want) } else { got == want })
            });
        if matches {
            self.at += text.len();
        }
        matches
    }

    fn skip_spaces(&mut self) {
        while self.more() && self.source[self.at] == u16::from(b' ') {
            self.at += 1;
        }
    }

    fn operator(&mut self) -> Result<Option<Op>, String> {
        for (text, op) in OPERATORS {
            if self.read(text, text.starts_with(|c: char| c.is_ascii_alphabetic())) {
                if op == Op::Plus && self.at > 1 && self.source[self.at - 2] == u16::from(b' ') {
                    return Err("Space before `+`".into());
                }
                return Ok(Some(op));
            }
        }
        Ok(None)
    }

    /// The first identifier-like run at or after the cursor; the cursor moves by
    /// the run's length (not to its end), as the JavaScript scanner does.
    fn id_string(&mut self) -> Option<String> {
        let ahead = &self.source[self.at..];
        let start = ahead.iter().position(|&u| is_id_unit(u))?;
        let len = ahead[start..].iter().take_while(|&&u| is_id_unit(u)).count();
        self.at += len;
        Some(ahead[start..start + len].iter().map(|&u| char::from(u as u8)).collect())
    }

    fn prefixed_ref(&mut self, prefix: &str) -> Result<Option<String>, String> {
        if !self.read(prefix, false) {
            return Ok(None);
        }
        let at = self.at;
        self.id_string().map(Some).ok_or_else(|| format!("Expected idstring at offset {at}"))
    }

    fn identifier(&mut self) -> Option<Token> {
        let begin = self.at;
        let token = self.id_string().and_then(|id| {
            if ids::is_licence(&id) {
                Some(Token::Licence(id))
            } else if ids::is_exception(&id) {
                Some(Token::Exception(id))
            } else {
                None
            }
        });
        if token.is_none() {
            self.at = begin;
        }
        token
    }

    fn token(&mut self) -> Result<Option<Token>, String> {
        if let Some(op) = self.operator()? {
            return Ok(Some(Token::Op(op)));
        }
        if let Some(id) = self.prefixed_ref("DocumentRef-")? {
            return Ok(Some(Token::DocumentRef(id)));
        }
        if let Some(id) = self.prefixed_ref("LicenseRef-")? {
            return Ok(Some(Token::LicenseRef(id)));
        }
        Ok(self.identifier())
    }

    fn unexpected(&self) -> String {
        let shown = char::decode_utf16(self.source[self.at..].iter().copied())
            .next()
            .map_or(char::REPLACEMENT_CHARACTER, |c| c.unwrap_or(char::REPLACEMENT_CHARACTER));
        format!("Unexpected `{shown}` at offset {}", self.at)
    }
}

fn scan(input: &str) -> Result<Vec<Token>, String> {
    let mut scanner = Scanner { source: input.encode_utf16().collect(), at: 0 };
    let mut tokens = Vec::new();
    while scanner.more() {
        scanner.skip_spaces();
        if !scanner.more() {
            break;
        }
        match scanner.token()? {
            Some(token) => tokens.push(token),
            None => return Err(scanner.unexpected()),
        }
        if tokens.len() > MAX_TOKENS {
            return Err(format!("more than {MAX_TOKENS} tokens; a licence expression names a few licences"));
        }
    }
    Ok(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, op: Op) -> bool {
        let found = self.peek() == Some(&Token::Op(op));
        if found {
            self.at += 1;
        }
        found
    }

    fn whole(&mut self) -> Result<Node, String> {
        match self.binary(Conjunction::Or)? {
            Some(node) if self.at == self.tokens.len() => Ok(node),
            _ => Err("Syntax error".into()),
        }
    }

    /// `operand (op binary)?` with `OR` over `AND` over atoms, nesting to the right.
    fn binary(&mut self, conjunction: Conjunction) -> Result<Option<Node>, String> {
        let (op, left) = match conjunction {
            Conjunction::Or => (Op::Or, self.binary(Conjunction::And)?),
            Conjunction::And => (Op::And, self.atom()?),
        };
        let Some(left) = left else { return Ok(None) };
        if !self.eat(op) {
            return Ok(Some(left));
        }
        let right = self.binary(conjunction)?.ok_or("Expected expression")?;
        Ok(Some(Node::Branch(conjunction, Box::new(left), Box::new(right))))
    }

    /// A parenthesised expression, a `LicenseRef`, or a licence; `None` when none
    /// starts here. An empty `()` is consumed and yields nothing, as upstream.
    fn atom(&mut self) -> Result<Option<Node>, String> {
        if let Some(node) = self.parenthesised()? {
            return Ok(Some(node));
        }
        if let Some(node) = self.licence_ref()? {
            return Ok(Some(node));
        }
        self.licence()
    }

    fn parenthesised(&mut self) -> Result<Option<Node>, String> {
        if !self.eat(Op::Open) {
            return Ok(None);
        }
        let inner = self.binary(Conjunction::Or)?;
        if !self.eat(Op::Close) {
            return Err("Expected `)`".into());
        }
        Ok(inner)
    }

    fn licence_ref(&mut self) -> Result<Option<Node>, String> {
        let begin = self.at;
        let mut written = String::new();
        if let Token::DocumentRef(document) = self.peek().ok_or(END_OF_INPUT)? {
            written = format!("DocumentRef-{document}:");
            self.at += 1;
            if !self.eat(Op::Colon) {
                return Err("Expected `:` after `DocumentRef-...`".into());
            }
        }
        if let Token::LicenseRef(reference) = self.peek().ok_or(END_OF_INPUT)? {
            written.push_str("LicenseRef-");
            written.push_str(reference);
            self.at += 1;
            return Ok(Some(Node::Leaf(ParsedLeaf { identifier: written, plus: false, exception: None })));
        }
        self.at = begin;
        Ok(None)
    }

    fn licence(&mut self) -> Result<Option<Node>, String> {
        let Some(Token::Licence(identifier)) = self.peek() else { return Ok(None) };
        let identifier = identifier.clone();
        self.at += 1;
        let plus = self.eat(Op::Plus);
        let exception = if self.eat(Op::With) {
            let Some(Token::Exception(exception)) = self.peek() else {
                return Err("Expected exception after `WITH`".into());
            };
            let exception = exception.clone();
            self.at += 1;
            Some(exception)
        } else {
            None
        };
        Ok(Some(Node::Leaf(ParsedLeaf { identifier, plus, exception })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(identifier: &str) -> Node {
        Node::Leaf(ParsedLeaf { identifier: identifier.into(), plus: false, exception: None })
    }

    fn error(input: &str) -> String {
        parse_expression(input).unwrap_err()
    }

    #[test]
    fn chains_nest_to_the_right_and_and_binds_tighter() {
        let parsed = parse_expression("MIT OR ISC AND Zlib OR 0BSD").unwrap();
        let and = Node::Branch(Conjunction::And, Box::new(leaf("ISC")), Box::new(leaf("Zlib")));
        let right = Node::Branch(Conjunction::Or, Box::new(and), Box::new(leaf("0BSD")));
        assert_eq!(parsed, Node::Branch(Conjunction::Or, Box::new(leaf("MIT")), Box::new(right)));
    }

    #[test]
    fn keywords_ignore_case_identifiers_do_not() {
        assert!(parse_expression("MIT and Apache-2.0").is_ok());
        assert_eq!(error("mit"), "Invalid SPDX expression 'mit': Unexpected `m` at offset 0");
    }

    #[test]
    fn javascript_error_texts() {
        assert_eq!(error("MIT +"), "Invalid SPDX expression 'MIT +': Space before `+`");
        assert_eq!(error("MIT OR (Apache-2.0"), "Invalid SPDX expression 'MIT OR (Apache-2.0': Expected `)`");
        assert_eq!(
            error("MIT, Apache-2.0"),
            "Invalid SPDX expression 'MIT, Apache-2.0': Unexpected `.` at offset 13"
        );
        assert_eq!(error("MIT AND AND"), "Invalid SPDX expression 'MIT AND AND': Expected expression");
        assert_eq!(
            error("GPL-2.0 WITH"),
            "Invalid SPDX expression 'GPL-2.0 WITH': Expected exception after `WITH`"
        );
        assert_eq!(error("MIT (ISC)"), "Invalid SPDX expression 'MIT (ISC)': Syntax error");
        assert_eq!(
            error("MIT\tAND ISC"),
            "Invalid SPDX expression 'MIT\tAND ISC': Unexpected `\t` at offset 3"
        );
        assert_eq!(
            error("DocumentRef-a"),
            "Invalid SPDX expression 'DocumentRef-a': Expected `:` after `DocumentRef-...`"
        );
        assert_eq!(error("MIT é x"), "Invalid SPDX expression 'MIT é x': Unexpected `é` at offset 4");
        assert_eq!(error(""), "Invalid SPDX expression '': Unexpected end of expression");
        assert_eq!(error("MIT AND"), "Invalid SPDX expression 'MIT AND': Unexpected end of expression");
    }

    #[test]
    fn references_plus_and_exceptions() {
        assert_eq!(parse_expression("LicenseRef-x").unwrap(), leaf("LicenseRef-x"));
        assert_eq!(
            parse_expression("DocumentRef-a:LicenseRef-b").unwrap(),
            leaf("DocumentRef-a:LicenseRef-b")
        );
        let with = parse_expression("GPL-2.0+ WITH Classpath-exception-2.0").unwrap();
        let written = ParsedLeaf {
            identifier: "GPL-2.0".into(),
            plus: true,
            exception: Some("Classpath-exception-2.0".into()),
        };
        assert_eq!(with, Node::Leaf(written));
        // An empty pair of parentheses is consumed without producing an operand.
        assert_eq!(parse_expression("() MIT").unwrap(), leaf("MIT"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}MIT{}", "(".repeat(5000), ")".repeat(5000));
        assert!(error(&deep).contains("more than 1000 tokens"));
        let nested = format!("{}MIT{}", "(".repeat(400), ")".repeat(400));
        assert_eq!(parse_expression(&nested).unwrap(), leaf("MIT"));
    }
}
