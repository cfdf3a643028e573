//! The parts of a PureScript module the stand-in understands: the header (name and export
//! list), the import declarations, and the names its top-level declarations introduce.
//!
//! The header and imports are parsed strictly (a mistake there is an `ErrorParsingModule`
//! before anything is built, as in purs). Declarations are only scanned for the names they
//! declare; their bodies are not checked.

use crate::lexer::{KEYWORDS, Pos, Span, Token, TokenKind, lex};

/// A parsed module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// From the `module` keyword to the end of the last import (or of `where`), the span
    /// purs gives module-level errors such as `DuplicateModule`.
    pub span: Span,
    pub exports: Option<Vec<Ref>>,
    pub imports: Vec<Import>,
    pub declarations: Vec<Declaration>,
    /// Syntax problems after the header: they fail this module's build, not the whole run.
    pub body_errors: Vec<ParseError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    /// The whole import declaration.
    pub span: Span,
    pub list: ImportList,
    pub alias: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportList {
    Everything,
    Only(Vec<Ref>),
    Hiding(Vec<Ref>),
}

/// An item of an export or import list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub kind: RefKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefKind {
    Value(String),
    Operator(String),
    Type(String, Members),
    TypeOperator(String),
    Class(String),
    Module(String),
}

/// Which data constructors a type reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Members {
    /// `T`
    None,
    /// `T(..)`
    All,
    /// `T(A, B)`
    Some(Vec<String>),
}

/// A name introduced by a top-level declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub kind: DeclKind,
    pub name: String,
    pub span: Span,
    /// Data constructors (data/newtype) or members (class).
    pub children: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeclKind {
    Value,
    ForeignValue,
    Data,
    ForeignData,
    TypeSynonym,
    Class,
    ValueOperator,
    TypeOperator,
}

impl DeclKind {
    /// The `declType` word purs uses in documentation JSON.
    pub fn doc_word(self) -> &'static str {
        match self {
            DeclKind::Value | DeclKind::ForeignValue => "value",
            DeclKind::Data => "data",
            DeclKind::ForeignData => "externData",
            DeclKind::TypeSynonym => "typeSynonym",
            DeclKind::Class => "typeClass",
            DeclKind::ValueOperator | DeclKind::TypeOperator => "alias",
        }
    }
}

/// A syntax error: where, and purs's wording for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub span: Span,
    pub message: String,
}

impl Module {
    /// Whether any `foreign import` of a value needs a JavaScript implementation.
    pub fn has_foreign_values(&self) -> bool {
        self.declarations.iter().any(|d| d.kind == DeclKind::ForeignValue)
    }
}

/// Parses a whole source file.
pub fn parse_module(source: &str) -> Result<Module, ParseError> {
    let tokens = lex(source);
    let end_of_input = tokens.last().map_or(Pos { line: 1, column: 1 }, |t| t.span.end);
    let mut p = Parser { tokens: &tokens, at: 0, eof: Span { start: end_of_input, end: end_of_input } };
    let module_kw = p.expect_keyword("module")?;
    let (name, _) = p.module_name()?;
    let exports = if p.peek().is_some_and(|t| t.is_punct('(')) { Some(p.ref_list(true)?) } else { None };
    let where_kw = p.expect_keyword("where")?;
    let items = split_items(&tokens[p.at..]);
    let mut imports = Vec::new();
    let mut declarations = Vec::new();
    let mut body_errors = Vec::new();
    let mut header_end = where_kw.span;
    let mut in_declarations = false;
    for item in items {
        if item[0].is_keyword("import") {
            if in_declarations {
                body_errors.push(ParseError {
                    span: item[0].span,
                    message: "Expected declaration, saw 'import'".into(),
                });
                continue;
            }
            let import = parse_import(item, p.eof)?;
            header_end = import.span;
            imports.push(import);
        } else {
            in_declarations = true;
            declarations.extend(scan_declaration(item));
        }
    }
    Ok(Module { name, span: module_kw.span.to(header_end), exports, imports, declarations, body_errors })
}

/// Cuts the token stream after `where` into top-level items: a new item starts at every
/// token that begins a line at (or left of) the column of the first one.
fn split_items(tokens: &[Token]) -> Vec<&[Token]> {
    let Some(first) = tokens.first() else { return Vec::new() };
    let column = first.span.start.column;
    let mut items = Vec::new();
    let mut start = 0;
    for (i, token) in tokens.iter().enumerate().skip(1) {
        if token.first_on_line && token.span.start.column <= column {
            items.push(&tokens[start..i]);
            start = i;
        }
    }
    items.push(&tokens[start..]);
    items
}

fn parse_import(item: &[Token], eof: Span) -> Result<Import, ParseError> {
    let mut p = Parser { tokens: item, at: 1, eof };
    let (module, _) = p.module_name()?;
    let mut list = ImportList::Everything;
    if p.peek().is_some_and(|t| t.is_keyword("hiding")) {
        p.at += 1;
        list = ImportList::Hiding(p.ref_list(false)?);
    } else if p.peek().is_some_and(|t| t.is_punct('(')) {
        list = ImportList::Only(p.ref_list(false)?);
    }
    let mut alias = None;
    if p.peek().is_some_and(|t| t.is_keyword("as")) {
        p.at += 1;
        alias = Some(p.module_name()?.0);
    }
    if let Some(extra) = p.peek() {
        return Err(unexpected(extra));
    }
    let span = item[0].span.to(item[item.len() - 1].span);
    Ok(Import { module, span, list, alias })
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    eof: Span,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Result<&'a Token, ParseError> {
        let token = self
            .tokens
            .get(self.at)
            .ok_or(ParseError { span: self.eof, message: "Unexpected end of input".into() })?;
        self.at += 1;
        Ok(token)
    }

    fn expect_keyword(&mut self, word: &str) -> Result<&'a Token, ParseError> {
        let token = self.next()?;
        if token.is_keyword(word) { Ok(token) } else { Err(unexpected(token)) }
    }

    fn expect_punct(&mut self, c: char) -> Result<&'a Token, ParseError> {
        let token = self.next()?;
        if token.is_punct(c) { Ok(token) } else { Err(unexpected(token)) }
    }

    fn module_name(&mut self) -> Result<(String, Span), ParseError> {
        let token = self.next()?;
        if token.kind != TokenKind::Upper {
            return Err(unexpected(token));
        }
        if token.text.contains(['_', '\'']) {
            return Err(ParseError {
                span: token.span,
                message: "Invalid module name; underscores and primes are not allowed in module names".into(),
            });
        }
        Ok((token.text.clone(), token.span))
    }

    fn proper_name(&mut self) -> Result<&'a Token, ParseError> {
        let token = self.next()?;
        if token.kind == TokenKind::Upper && !token.text.contains('.') {
            Ok(token)
        } else {
            Err(unexpected(token))
        }
    }

    /// `(` ref `,` … `)`; `allow_modules` for export lists.
    fn ref_list(&mut self, allow_modules: bool) -> Result<Vec<Ref>, ParseError> {
        self.expect_punct('(')?;
        let mut refs = Vec::new();
        if self.peek().is_some_and(|t| t.is_punct(')')) {
            self.at += 1;
            return Ok(refs);
        }
        loop {
            refs.push(self.reference(allow_modules)?);
            let token = self.next()?;
            if token.is_punct(')') {
                return Ok(refs);
            }
            if !token.is_punct(',') {
                return Err(unexpected(token));
            }
        }
    }

    fn reference(&mut self, allow_modules: bool) -> Result<Ref, ParseError> {
        let first = self.next()?;
        let (kind, last_span) = match first.kind {
            TokenKind::Lower if first.is_keyword("class") => {
                let name = self.proper_name()?;
                (RefKind::Class(name.text.clone()), name.span)
            }
            TokenKind::Lower if first.is_keyword("type") => {
                self.expect_punct('(')?;
                let op = self.operator()?;
                let close = self.expect_punct(')')?;
                (RefKind::TypeOperator(op), close.span)
            }
            TokenKind::Lower if first.is_keyword("kind") => {
                let name = self.proper_name()?;
                (RefKind::Type(name.text.clone(), Members::None), name.span)
            }
            TokenKind::Lower if first.is_keyword("module") && allow_modules => {
                let (name, span) = self.module_name()?;
                (RefKind::Module(name), span)
            }
            TokenKind::Lower if !first.qualified && !KEYWORDS.contains(&first.text.as_str()) => {
                (RefKind::Value(first.text.clone()), first.span)
            }
            TokenKind::Upper if !first.text.contains('.') => {
                if self.peek().is_some_and(|t| t.is_punct('(')) {
                    let (members, close) = self.members()?;
                    (RefKind::Type(first.text.clone(), members), close)
                } else {
                    (RefKind::Type(first.text.clone(), Members::None), first.span)
                }
            }
            TokenKind::Punct if first.is_punct('(') => {
                let op = self.operator()?;
                let close = self.expect_punct(')')?;
                (RefKind::Operator(op), close.span)
            }
            _ => return Err(unexpected(first)),
        };
        Ok(Ref { kind, span: first.span.to(last_span) })
    }

    fn operator(&mut self) -> Result<String, ParseError> {
        let token = self.next()?;
        if token.kind == TokenKind::Symbol && !token.qualified {
            Ok(token.text.clone())
        } else {
            Err(unexpected(token))
        }
    }

    /// `(..)`, `()` or `(A, B)` after a type name; gives the span of the `)`.
    fn members(&mut self) -> Result<(Members, Span), ParseError> {
        self.expect_punct('(')?;
        let token = self.next()?;
        if token.is_symbol("..") {
            return Ok((Members::All, self.expect_punct(')')?.span));
        }
        if token.is_punct(')') {
            return Ok((Members::Some(Vec::new()), token.span));
        }
        self.at -= 1;
        let mut names = Vec::new();
        loop {
            names.push(self.proper_name()?.text.clone());
            let token = self.next()?;
            if token.is_punct(')') {
                return Ok((Members::Some(names), token.span));
            }
            if !token.is_punct(',') {
                return Err(unexpected(token));
            }
        }
    }
}

fn unexpected(token: &Token) -> ParseError {
    let message = if token.kind == TokenKind::Invalid {
        format!("Unexpected {}", token.text)
    } else {
        format!("Unexpected token '{}'", token.text)
    };
    ParseError { span: token.span, message }
}

/// The names one top-level item declares (nothing for instances, fixity-free items,
/// role declarations and anything unrecognised).
fn scan_declaration(item: &[Token]) -> Vec<Declaration> {
    let first = &item[0];
    let span = first.span.to(item[item.len() - 1].span);
    let decl = |kind, name: &Token, children| Declaration { kind, name: name.text.clone(), span, children };
    let second = item.get(1);
    match first.text.as_str() {
        _ if first.kind != TokenKind::Lower || first.qualified => Vec::new(),
        "data" | "newtype" => match second {
            Some(name) if name.kind == TokenKind::Upper => {
                let is_signature = item.get(2).is_some_and(|t| t.is_symbol("::"));
                let ctors = if is_signature { Vec::new() } else { constructors(&item[2..]) };
                vec![decl(DeclKind::Data, name, ctors)]
            }
            _ => Vec::new(),
        },
        "type" => match second {
            Some(name) if name.kind == TokenKind::Upper => {
                vec![decl(DeclKind::TypeSynonym, name, Vec::new())]
            }
            _ => Vec::new(),
        },
        "class" => class_declaration(item)
            .map(|(name, members)| decl(DeclKind::Class, name, members))
            .into_iter()
            .collect(),
        "foreign" => match (item.get(2), item.get(3)) {
            (Some(data), Some(name))
                if (data.is_keyword("data") || data.is_keyword("kind")) && name.kind == TokenKind::Upper =>
            {
                vec![decl(DeclKind::ForeignData, name, Vec::new())]
            }
            (Some(name), _) if name.kind == TokenKind::Lower && !name.qualified => {
                vec![decl(DeclKind::ForeignValue, name, Vec::new())]
            }
            _ => Vec::new(),
        },
        "infix" | "infixl" | "infixr" => {
            let is_type = item.get(2).is_some_and(|t| t.is_keyword("type"));
            let op = item.iter().position(|t| t.is_keyword("as")).and_then(|i| item.get(i + 1));
            match op {
                Some(op) if op.kind == TokenKind::Symbol => {
                    let kind = if is_type { DeclKind::TypeOperator } else { DeclKind::ValueOperator };
                    vec![decl(kind, op, Vec::new())]
                }
                _ => Vec::new(),
            }
        }
        word if KEYWORDS.contains(&word) => Vec::new(),
        _ => vec![decl(DeclKind::Value, first, Vec::new())],
    }
}

/// Constructor names after the `=` of a data declaration (tokens after the type name).
fn constructors(rest: &[Token]) -> Vec<String> {
    let mut depth = 0i32;
    let mut ctors = Vec::new();
    let mut expect_ctor = false;
    for token in rest {
        if token.kind == TokenKind::Punct {
            match token.text.as_str() {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" => depth -= 1,
                _ => {}
            }
            continue;
        }
        if depth == 0 && (token.is_symbol("=") || token.is_symbol("|")) {
            expect_ctor = true;
            continue;
        }
        if expect_ctor {
            if token.kind == TokenKind::Upper && !token.text.contains('.') {
                ctors.push(token.text.clone());
            }
            expect_ctor = false;
        }
    }
    ctors
}

/// The class name and member names of a `class` item.
fn class_declaration(item: &[Token]) -> Option<(&Token, Vec<String>)> {
    let where_at = item.iter().position(|t| t.is_keyword("where")).unwrap_or(item.len());
    let head = &item[1..where_at];
    let after_constraints = head.iter().position(|t| t.is_symbol("<=")).map_or(0, |i| i + 1);
    let name =
        head[after_constraints..].iter().find(|t| t.kind == TokenKind::Upper && !t.text.contains('.'))?;
    let body = item.get(where_at + 1..).unwrap_or(&[]);
    let member_column = body.first().map(|t| t.span.start.column);
    let members = body
        .windows(2)
        .enumerate()
        .filter(|(i, pair)| {
            let starts_line =
                *i == 0 || (pair[0].first_on_line && Some(pair[0].span.start.column) == member_column);
            starts_line && pair[0].kind == TokenKind::Lower && !pair[0].qualified && pair[1].is_symbol("::")
        })
        .map(|(_, pair)| pair[0].text.clone())
        .collect();
    Some((name, members))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(module: &Module, kind: DeclKind) -> Vec<String> {
        module.declarations.iter().filter(|d| d.kind == kind).map(|d| d.name.clone()).collect()
    }

    #[test]
    fn header_exports_and_imports() {
        let m = parse_module(
            "-- | Docs\nmodule Data.Foo\n  ( x, T(..), U(A, B), V, class C, (<>), type (~>), module Data.Bar\n  ) where\n\nimport Prelude\nimport Data.Bar (y, W(..)) as Bar\nimport Data.Baz hiding (z)\n\nx = 1\n",
        )
        .unwrap();
        assert_eq!(m.name, "Data.Foo");
        let exports: Vec<RefKind> = m.exports.unwrap().into_iter().map(|r| r.kind).collect();
        assert_eq!(
            exports,
            [
                RefKind::Value("x".into()),
                RefKind::Type("T".into(), Members::All),
                RefKind::Type("U".into(), Members::Some(vec!["A".into(), "B".into()])),
                RefKind::Type("V".into(), Members::None),
                RefKind::Class("C".into()),
                RefKind::Operator("<>".into()),
                RefKind::TypeOperator("~>".into()),
                RefKind::Module("Data.Bar".into()),
            ]
        );
        assert_eq!(m.imports.len(), 3);
        assert_eq!(m.imports[0].list, ImportList::Everything);
        assert_eq!(m.imports[1].alias.as_deref(), Some("Bar"));
        assert!(matches!(&m.imports[2].list, ImportList::Hiding(refs) if refs.len() == 1));
        // The module span runs from `module` to the end of the last import.
        assert_eq!(m.span.start, Pos { line: 2, column: 1 });
        assert_eq!(m.span.end, Pos { line: 8, column: 27 });
    }

    #[test]
    fn import_item_spans_cover_the_item() {
        let m = parse_module("module B where\nimport A (foo, T(X))\n").unwrap();
        let ImportList::Only(refs) = &m.imports[0].list else { panic!() };
        assert_eq!(
            refs[0].span,
            Span { start: Pos { line: 2, column: 11 }, end: Pos { line: 2, column: 14 } }
        );
        assert_eq!(
            refs[1].span,
            Span { start: Pos { line: 2, column: 16 }, end: Pos { line: 2, column: 20 } }
        );
        assert_eq!(m.imports[0].span.end, Pos { line: 2, column: 21 });
    }

    #[test]
    fn declarations_introduce_names() {
        let m = parse_module(
            "module M where\n\nimport Prelude\n\ndata Maybe a\n  = Nothing\n  | Just a\n\nnewtype Wrap = Wrap { x :: Int }\ndata Proxy :: forall k. k -> Type\ndata Proxy a = Proxy\ntype Pair = Tuple Int\ntype role Wrap representational\nclass (Eq a) <= Ord a where\n  compare :: a -> a -> Ordering\n  max' :: a -> a\n\nforeign import data Ref :: Type -> Type\nforeign import new :: Int -> Ref Int\ninfixl 4 map as <$>\ninfixr 0 type Fn as ~>\ninstance Show Int where\n  show _ = \"\"\nderive instance Eq X\nfoo :: Int\nfoo = 1\nbar x | x > 0 = 2\n",
        )
        .unwrap();
        let data: Vec<(String, Vec<String>)> = m
            .declarations
            .iter()
            .filter(|d| d.kind == DeclKind::Data)
            .map(|d| (d.name.clone(), d.children.clone()))
            .collect();
        assert_eq!(
            data,
            [
                ("Maybe".into(), vec!["Nothing".into(), "Just".into()]),
                ("Wrap".into(), vec!["Wrap".into()]),
                ("Proxy".into(), vec![]),
                ("Proxy".into(), vec!["Proxy".into()]),
            ]
        );
        assert_eq!(names(&m, DeclKind::TypeSynonym), ["Pair"]);
        assert_eq!(names(&m, DeclKind::Class), ["Ord"]);
        assert_eq!(
            m.declarations.iter().find(|d| d.kind == DeclKind::Class).unwrap().children,
            ["compare", "max'"]
        );
        assert_eq!(names(&m, DeclKind::ForeignData), ["Ref"]);
        assert_eq!(names(&m, DeclKind::ForeignValue), ["new"]);
        assert_eq!(names(&m, DeclKind::ValueOperator), ["<$>"]);
        assert_eq!(names(&m, DeclKind::TypeOperator), ["~>"]);
        assert_eq!(names(&m, DeclKind::Value), ["foo", "foo", "bar"]);
        assert!(m.has_foreign_values());
    }

    #[test]
    fn header_errors_say_where_and_what() {
        let e = parse_module("<contents>").unwrap_err();
        assert_eq!(e.message, "Unexpected token '<'");
        assert_eq!(e.span.start, Pos { line: 1, column: 1 });
        let e = parse_module("module A where\nimport B (x,)\n").unwrap_err();
        assert_eq!((e.message.as_str(), e.span.start.column), ("Unexpected token ')'", 13));
        let e = parse_module("module A").unwrap_err();
        assert_eq!(e.message, "Unexpected end of input");
        let e = parse_module("module My_Module where").unwrap_err();
        assert!(e.message.starts_with("Invalid module name"));
        let m = parse_module("module A where\nx = 1\nimport B\n").unwrap();
        assert_eq!(m.body_errors[0].message, "Expected declaration, saw 'import'");
    }
}
