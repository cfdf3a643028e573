//! A small pretty-printer with the layout rules of PureScript's `dodo-printer`
//! 2.2.1, which upstream uses to print legacy `packages.dhall` files.
//!
//! Only the combinators that printing needs are here. The layout algorithm is the
//! library's: a flex group is laid out flat until a hard break or the page width
//! forces it back to its default (broken) layout, and the first flex alternative
//! inside a pending group is where that fallback restarts. Reproducing it, rather
//! than hand-formatting, keeps long dependency lists wrapping exactly as upstream's.

/// A document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Doc {
    Empty,
    /// Text and its width in code points; never contains a newline.
    Text(usize, String),
    Break,
    Append(Box<Doc>, Box<Doc>),
    Indent(Box<Doc>),
    Align(usize, Box<Doc>),
    FlexGroup(Box<Doc>),
    /// Laid out as the first document inside a flex group, the second otherwise.
    FlexAlt(Box<Doc>, Box<Doc>),
}

impl Doc {
    pub(crate) fn text(s: &str) -> Doc {
        if s.is_empty() { Doc::Empty } else { Doc::Text(s.chars().count(), s.to_owned()) }
    }

    fn is_empty(&self) -> bool {
        *self == Doc::Empty
    }

    /// `a <> b`: empty documents vanish and adjacent texts merge.
    pub(crate) fn append(self, other: Doc) -> Doc {
        match (self, other) {
            (Doc::Empty, b) => b,
            (a, Doc::Empty) => a,
            (Doc::Text(n1, s1), Doc::Text(n2, s2)) => Doc::Text(n1 + n2, s1 + &s2),
            (a, b) => Doc::Append(Box::new(a), Box::new(b)),
        }
    }

    pub(crate) fn indent(self) -> Doc {
        if self.is_empty() { self } else { Doc::Indent(Box::new(self)) }
    }

    pub(crate) fn align(self, width: usize) -> Doc {
        if width == 0 || self.is_empty() { self } else { Doc::Align(width, Box::new(self)) }
    }

    pub(crate) fn flex_group(self) -> Doc {
        match self {
            Doc::Empty | Doc::FlexGroup(_) => self,
            doc => Doc::FlexGroup(Box::new(doc)),
        }
    }

    pub(crate) fn flex_alt(flex: Doc, default: Doc) -> Doc {
        Doc::FlexAlt(Box::new(flex), Box::new(default))
    }

    /// A space inside a flex group, a line break otherwise.
    pub(crate) fn space_break() -> Doc {
        Doc::flex_alt(Doc::text(" "), Doc::Break)
    }

    /// `open <> (inner <> close)`, or `default` when `inner` is empty.
    pub(crate) fn enclose_empty_alt(open: Doc, close: Doc, default: Doc, inner: Doc) -> Doc {
        if inner.is_empty() { default } else { open.append(inner.append(close)) }
    }

    /// Joins non-empty documents with `separator`, right to left as `foldr` does.
    pub(crate) fn fold_with_separator(separator: &Doc, docs: Vec<Doc>) -> Doc {
        docs.into_iter().rev().fold(Doc::Empty, |acc, doc| match (doc, acc) {
            (Doc::Empty, b) => b,
            (a, Doc::Empty) => a,
            (a, b) => a.append(separator.clone().append(b)),
        })
    }

    /// `dodo`'s `leadingComma` separator.
    pub(crate) fn leading_comma() -> Doc {
        Doc::flex_alt(Doc::text(", "), Doc::Break.append(Doc::text(", ")))
    }

    /// `{ a, b }` on one line, or one item a line with leading commas.
    pub(crate) fn purs_curlies(inner: Doc) -> Doc {
        let close = Doc::flex_alt(Doc::text(" }"), Doc::Break.append(Doc::text("}")));
        Doc::enclose_empty_alt(Doc::text("{ "), close, Doc::text("{}"), inner).flex_group()
    }

    /// `[ a, b ]` on one line, or one item a line with leading commas.
    pub(crate) fn purs_squares(inner: Doc) -> Doc {
        let close = Doc::flex_alt(Doc::text(" ]"), Doc::Break.append(Doc::text("]")));
        Doc::enclose_empty_alt(Doc::text("[ "), close, Doc::text("[]"), inner).flex_group()
    }
}

/// Page settings (`dodo`'s `twoSpaces` with a chosen width; ribbon ratio 1).
pub(crate) struct Options {
    pub page_width: usize,
    pub indent_unit: &'static str,
}

#[derive(Clone, Copy)]
struct Position {
    column: usize,
    indent: usize,
    next_indent: usize,
    ribbon_width: usize,
}

enum Cmd<'a> {
    Doc(&'a Doc),
    Dedent(String, usize),
    LeaveFlexGroup,
}

impl Clone for Cmd<'_> {
    fn clone(&self) -> Self {
        match self {
            Cmd::Doc(d) => Cmd::Doc(d),
            Cmd::Dedent(s, n) => Cmd::Dedent(s.clone(), *n),
            Cmd::LeaveFlexGroup => Cmd::LeaveFlexGroup,
        }
    }
}

/// Where a flex attempt restarts if it does not fit.
struct Saved<'a> {
    position: Position,
    buffer_len: usize,
    indent_spaces: String,
    stack: Vec<Cmd<'a>>,
}

enum Flex<'a> {
    None,
    Pending,
    Reset(Box<Saved<'a>>),
}

/// Prints `doc` as plain text.
pub(crate) fn print(doc: &Doc, options: &Options) -> String {
    let ribbon = |indent: usize| options.page_width.saturating_sub(indent);
    let unit_width = options.indent_unit.chars().count();
    let mut out = String::new();
    let mut position = Position { column: 0, indent: 0, next_indent: 0, ribbon_width: ribbon(0) };
    let mut indent_spaces = String::new();
    let mut flex = Flex::None;
    let mut stack = vec![Cmd::Doc(doc)];

    macro_rules! restore {
        ($saved:expr) => {{
            let saved = *$saved;
            position = saved.position;
            out.truncate(saved.buffer_len);
            indent_spaces = saved.indent_spaces;
            stack = saved.stack;
            flex = Flex::None;
        }};
    }

    while let Some(cmd) = stack.pop() {
        match cmd {
            Cmd::Doc(doc) => match doc {
                Doc::Empty => {}
                Doc::Append(a, b) => {
                    stack.push(Cmd::Doc(b));
                    stack.push(Cmd::Doc(a));
                }
                Doc::Text(len, text) => {
                    if position.column == 0 && position.indent > 0 {
                        out.push_str(&indent_spaces);
                        position.column = position.indent;
                        stack.push(cmd);
                    } else if position.column + len <= position.indent + position.ribbon_width {
                        out.push_str(text);
                        position.column += len;
                    } else if let Flex::Reset(saved) = flex {
                        restore!(saved);
                    } else {
                        out.push_str(text);
                        position.column += len;
                        flex = Flex::None;
                    }
                }
                Doc::Break => {
                    if let Flex::Reset(saved) = flex {
                        restore!(saved);
                    } else {
                        out.push('\n');
                        position.column = 0;
                        position.indent = position.next_indent;
                        position.ribbon_width = ribbon(position.next_indent);
                        flex = Flex::None;
                    }
                }
                Doc::Indent(inner) | Doc::Align(_, inner) => {
                    let (width, spaces) = match doc {
                        Doc::Align(n, _) => (*n, " ".repeat(*n)),
                        _ => (unit_width, options.indent_unit.to_owned()),
                    };
                    stack.push(Cmd::Dedent(indent_spaces.clone(), position.next_indent));
                    stack.push(Cmd::Doc(inner));
                    position.next_indent += width;
                    if position.column == 0 {
                        position.indent = position.next_indent;
                        position.ribbon_width = ribbon(position.next_indent);
                    }
                    indent_spaces.push_str(&spaces);
                }
                Doc::FlexGroup(inner) => match flex {
                    Flex::None => {
                        stack.push(Cmd::LeaveFlexGroup);
                        stack.push(Cmd::Doc(inner));
                        flex = Flex::Pending;
                    }
                    Flex::Pending if position.ribbon_width > 0 => {
                        let mut saved_stack = stack.clone();
                        saved_stack.push(cmd);
                        flex = Flex::Reset(Box::new(Saved {
                            position,
                            buffer_len: out.len(),
                            indent_spaces: indent_spaces.clone(),
                            stack: saved_stack,
                        }));
                        stack.push(Cmd::Doc(inner));
                    }
                    _ => stack.push(Cmd::Doc(inner)),
                },
                Doc::FlexAlt(flex_doc, default) => match flex {
                    Flex::Reset(_) => stack.push(Cmd::Doc(flex_doc)),
                    Flex::Pending if position.ribbon_width > 0 => {
                        let mut saved_stack = stack.clone();
                        saved_stack.push(Cmd::Doc(default));
                        flex = Flex::Reset(Box::new(Saved {
                            position,
                            buffer_len: out.len(),
                            indent_spaces: indent_spaces.clone(),
                            stack: saved_stack,
                        }));
                        stack.push(Cmd::Doc(flex_doc));
                    }
                    _ => stack.push(Cmd::Doc(default)),
                },
            },
            Cmd::LeaveFlexGroup => flex = Flex::None,
            Cmd::Dedent(spaces, next_indent) => {
                indent_spaces = spaces;
                position.next_indent = next_indent;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Doc {
        Doc::purs_squares(Doc::fold_with_separator(
            &Doc::leading_comma(),
            items.iter().map(|s| Doc::text(s)).collect(),
        ))
    }

    #[test]
    fn groups_stay_flat_when_they_fit() {
        let options = Options { page_width: 80, indent_unit: "  " };
        assert_eq!(print(&list(&["a", "b"]), &options), "[ a, b ]");
        assert_eq!(print(&list(&[]), &options), "[]");
    }

    #[test]
    fn groups_break_with_leading_commas_when_too_wide() {
        let options = Options { page_width: 10, indent_unit: "  " };
        assert_eq!(print(&list(&["alpha", "beta"]), &options), "[ alpha\n, beta\n]");
    }
}
