//! Tokens of PureScript source, with 1-based line/column positions (columns count
//! characters; a span's end is the position just after its last character).
//!
//! Only as much of the lexical syntax as the stand-in needs: identifiers (qualified or
//! not), operators, punctuation, literals skipped as single tokens, and comments (line and
//! nested block) dropped.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start, end: other.end }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `foo`, `M.foo`, and keywords.
    Lower,
    /// `Foo`, and dotted module names `Data.Maybe`.
    Upper,
    /// `+`, `::`, `..`, `M.+` (unicode `∷ → ⇒ ← ⇐` are stored in their ASCII spelling).
    Symbol,
    /// `( ) [ ] { } , ; \``
    Punct,
    /// String, character and number literals.
    Literal,
    /// A character the lexer does not accept.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub span: Span,
    /// Whether the name carries a module qualifier (`M.x`, `M.+`).
    pub qualified: bool,
    /// Whether this is the first token on its line.
    pub first_on_line: bool,
}

impl Token {
    pub fn is(&self, kind: TokenKind, text: &str) -> bool {
        self.kind == kind && self.text == text && !self.qualified
    }

    pub fn is_keyword(&self, word: &str) -> bool {
        self.is(TokenKind::Lower, word)
    }

    pub fn is_symbol(&self, text: &str) -> bool {
        self.is(TokenKind::Symbol, text)
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct && self.text.starts_with(c)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Words that cannot be value names.
pub const KEYWORDS: &[&str] = &[
    "ado", "as", "case", "class", "data", "derive", "do", "else", "false", "forall", "foreign", "hiding",
    "import", "if", "in", "infix", "infixl", "infixr", "instance", "let", "module", "newtype", "of", "then",
    "true", "type", "where",
];

fn is_symbol_char(c: char) -> bool {
    ":!#$%&*+./<=>?@\\^|-~".contains(c) || (!c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace())
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\''
}

fn ascii_spelling(symbol: &str) -> &str {
    match symbol {
        "∷" => "::",
        "→" => "->",
        "⇒" => "=>",
        "←" => "<-",
        "⇐" => "<=",
        other => other,
    }
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
    /// Characters of lookahead beyond `chars.peek()`, for `{-`, `--`, `.x` decisions.
    source: &'a str,
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.source[self.offset..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn take_while(&mut self, mut keep: impl FnMut(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if !keep(c) {
                break;
            }
            out.push(c);
            self.bump();
        }
        out
    }
}

/// Splits source text into tokens. CRLF line ends count as LF, as for purs.
pub fn lex(source: &str) -> Vec<Token> {
    let mut cursor =
        Cursor { chars: source.chars().peekable(), pos: Pos { line: 1, column: 1 }, source, offset: 0 };
    let mut tokens: Vec<Token> = Vec::new();
    let mut last_line = 0;
    while let Some(c) = cursor.peek() {
        if c.is_whitespace() {
            cursor.bump();
            continue;
        }
        if c == '{' && cursor.peek_at(1) == Some('-') {
            skip_block_comment(&mut cursor);
            continue;
        }
        let start = cursor.pos;
        let (kind, text, qualified) = if c.is_uppercase() {
            lex_name(&mut cursor)
        } else if c.is_lowercase() || c == '_' {
            (TokenKind::Lower, cursor.take_while(is_ident_char), false)
        } else if c.is_ascii_digit() {
            (TokenKind::Literal, lex_number(&mut cursor), false)
        } else if c == '"' {
            (TokenKind::Literal, lex_string(&mut cursor), false)
        } else if c == '\'' {
            (TokenKind::Literal, lex_char(&mut cursor), false)
        } else if "()[]{},;`".contains(c) {
            cursor.bump();
            (TokenKind::Punct, c.to_string(), false)
        } else if is_symbol_char(c) {
            let symbol = cursor.take_while(is_symbol_char);
            if symbol.len() >= 2 && symbol.chars().all(|s| s == '-') {
                cursor.take_while(|c| c != '\n');
                continue;
            }
            (TokenKind::Symbol, ascii_spelling(&symbol).to_owned(), false)
        } else {
            cursor.bump();
            (TokenKind::Invalid, c.to_string(), false)
        };
        let first_on_line = start.line != last_line;
        last_line = cursor.pos.line;
        tokens.push(Token { kind, text, span: Span { start, end: cursor.pos }, qualified, first_on_line });
    }
    tokens
}

fn skip_block_comment(cursor: &mut Cursor) {
    cursor.bump();
    cursor.bump();
    let mut depth = 1;
    while depth > 0 {
        match cursor.bump() {
            None => return,
            Some('{') if cursor.peek() == Some('-') => {
                cursor.bump();
                depth += 1;
            }
            Some('-') if cursor.peek() == Some('}') => {
                cursor.bump();
                depth -= 1;
            }
            Some(_) => {}
        }
    }
}

/// `Foo`, `Data.Maybe`, `Data.Maybe.fromMaybe`, `Data.Function.$`.
fn lex_name(cursor: &mut Cursor) -> (TokenKind, String, bool) {
    let mut text = cursor.take_while(is_ident_char);
    loop {
        if cursor.peek() != Some('.') {
            return (TokenKind::Upper, text, false);
        }
        match cursor.peek_at(1) {
            Some(c) if c.is_uppercase() => {
                cursor.bump();
                text.push('.');
                text.push_str(&cursor.take_while(is_ident_char));
            }
            Some(c) if c.is_lowercase() || c == '_' => {
                cursor.bump();
                text.push('.');
                text.push_str(&cursor.take_while(is_ident_char));
                return (TokenKind::Lower, text, true);
            }
            Some(c) if is_symbol_char(c) => {
                cursor.bump();
                text.push('.');
                text.push_str(&cursor.take_while(is_symbol_char));
                return (TokenKind::Symbol, text, true);
            }
            _ => return (TokenKind::Upper, text, false),
        }
    }
}

fn lex_number(cursor: &mut Cursor) -> String {
    let mut text = String::new();
    while let Some(c) = cursor.peek() {
        let continues = c.is_ascii_alphanumeric()
            || c == '_'
            || (c == '.' && cursor.peek_at(1).is_some_and(|d| d.is_ascii_digit()));
        if !continues {
            break;
        }
        text.push(c);
        cursor.bump();
    }
    text
}

fn lex_string(cursor: &mut Cursor) -> String {
    let mut text = String::new();
    if cursor.peek_at(1) == Some('"') && cursor.peek_at(2) == Some('"') {
        for _ in 0..3 {
            text.push(cursor.bump().unwrap_or('"'));
        }
        // Raw string: ends at the first `"""` (extra quotes before it belong to the text).
        while let Some(c) = cursor.bump() {
            text.push(c);
            if text.ends_with("\"\"\"") && text.len() >= 6 && cursor.peek() != Some('"') {
                break;
            }
        }
        return text;
    }
    text.push(cursor.bump().unwrap_or('"'));
    while let Some(c) = cursor.bump() {
        text.push(c);
        match c {
            '\\' => {
                if let Some(escaped) = cursor.bump() {
                    text.push(escaped);
                }
            }
            '"' | '\n' => break,
            _ => {}
        }
    }
    text
}

fn lex_char(cursor: &mut Cursor) -> String {
    let mut text = String::new();
    text.push(cursor.bump().unwrap_or('\''));
    while let Some(c) = cursor.bump() {
        text.push(c);
        match c {
            '\\' => {
                if let Some(escaped) = cursor.bump() {
                    text.push(escaped);
                }
            }
            '\'' | '\n' => break,
            _ => {}
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<String> {
        lex(source).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn names_operators_and_punctuation() {
        assert_eq!(
            texts("module Data.Foo (x, T(..), (<>)) where"),
            ["module", "Data.Foo", "(", "x", ",", "T", "(", "..", ")", ",", "(", "<>", ")", ")", "where"]
        );
        let toks = lex("M.x Data.Function.$ A.B");
        assert_eq!((toks[0].kind, toks[0].qualified), (TokenKind::Lower, true));
        assert_eq!((toks[1].kind, toks[1].text.as_str()), (TokenKind::Symbol, "Data.Function.$"));
        assert_eq!((toks[2].kind, toks[2].text.as_str()), (TokenKind::Upper, "A.B"));
        assert_eq!(texts("x ∷ Int → Int"), ["x", "::", "Int", "->", "Int"]);
    }

    #[test]
    fn comments_and_literals_are_skipped_or_single_tokens() {
        assert_eq!(texts("a -- b\n{- c {- d -} e -} f --> g"), ["a", "f", "-->", "g"]);
        assert_eq!(texts(r#"x = "a \" b" <> 'c' <> '\'' <> 1.5e3"#).len(), 9);
        assert_eq!(texts("x = \"\"\"raw \" text\"\"\" y"), ["x", "=", "\"\"\"raw \" text\"\"\"", "y"]);
        assert_eq!(texts("foo' bar_1"), ["foo'", "bar_1"]);
    }

    #[test]
    fn positions_are_one_based_with_exclusive_ends() {
        let toks = lex("module A where\n\nimport Data.Gone (x)\n");
        let import = &toks[3];
        assert_eq!(import.span, Span { start: Pos { line: 3, column: 1 }, end: Pos { line: 3, column: 7 } });
        assert!(import.first_on_line);
        let x = &toks[6];
        assert_eq!(x.span, Span { start: Pos { line: 3, column: 19 }, end: Pos { line: 3, column: 20 } });
        assert!(!x.first_on_line);
        let crlf = lex("module A where\r\nimport B\r\n");
        assert_eq!(crlf[3].span.start, Pos { line: 2, column: 1 });
    }
}
