//! Errors in purs's two output forms: the `--json-errors` record and the human text.
//!
//! JSON record fields, in this order: `position`, `message`, `errorCode`, `errorLink`,
//! `filename`, `moduleName`, `suggestion`, `allSpans`. Messages carry no backticks, each core
//! line indented by two spaces, trailing spaces stripped, ending with a newline.

use serde_json::{Value, json};

use crate::lexer::Span;
use crate::syntax::ParseError;

/// A span in a file, with the file named exactly as the compiler was given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpan {
    pub file: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    /// Message lines before the two-space indentation every line gets.
    pub lines: Vec<String>,
    pub spans: Vec<FileSpan>,
    /// The module being compiled, for errors raised inside one.
    pub module: Option<String>,
}

const DOCS: &str = "https://github.com/purescript/documentation/blob/master/errors/";

impl Diagnostic {
    pub fn parse_error(file: &str, error: &ParseError) -> Self {
        Diagnostic {
            code: "ErrorParsingModule",
            lines: vec!["Unable to parse module:".into(), error.message.clone()],
            spans: vec![FileSpan { file: file.into(), span: error.span }],
            module: None,
        }
    }

    pub fn module_not_found(file: &str, importing: &str, import_span: Span, missing: &str) -> Self {
        let hint = if is_prim_namespace(missing) {
            format!(
                "Module names in the Prim namespace are reserved for built-in modules, but this version of the compiler does not provide module {missing}. You may be able to fix this by updating your compiler to a newer version."
            )
        } else {
            "Make sure the source file exists, and that it has been provided as an input to the compiler."
                .into()
        };
        Diagnostic {
            code: "ModuleNotFound",
            lines: vec![format!("Module {missing} was not found."), hint],
            spans: vec![FileSpan { file: file.into(), span: import_span }],
            module: Some(importing.into()),
        }
    }

    pub fn duplicate_module(name: &str, spans: Vec<FileSpan>) -> Self {
        Diagnostic {
            code: "DuplicateModule",
            lines: vec![format!("Module {name} has been defined multiple times")],
            spans,
            module: None,
        }
    }

    pub fn cycle_in_modules(names: &[String], spans: Vec<FileSpan>) -> Self {
        let lines = if let [only] = names {
            vec![format!("Module {only} imports itself.")]
        } else {
            let mut lines =
                vec!["There is a cycle in module dependencies in these modules:".to_owned(), String::new()];
            lines.extend(names.iter().map(|n| format!("  {n}")));
            lines
        };
        Diagnostic { code: "CycleInModules", lines, spans, module: None }
    }

    pub fn cannot_define_prim(name: &str, file: &str, span: Span) -> Self {
        Diagnostic {
            code: "CannotDefinePrimModules",
            lines: vec![
                format!("The module name {name} is in the Prim namespace."),
                "The Prim namespace is reserved for compiler-defined terms.".into(),
            ],
            spans: vec![FileSpan { file: file.into(), span }],
            module: Some(name.into()),
        }
    }

    /// `kind` is purs's word for the name: `value`, `type`, `type class`, `operator`,
    /// `type operator`.
    pub fn unknown_import(file: &str, module: &str, span: Span, kind: &str, name: &str, from: &str) -> Self {
        Diagnostic {
            code: "UnknownImport",
            lines: vec![
                format!("Cannot import {kind} {name} from module {from}"),
                "It either does not exist or the module does not export it.".into(),
            ],
            spans: vec![FileSpan { file: file.into(), span }],
            module: Some(module.into()),
        }
    }

    pub fn unknown_import_constructor(
        file: &str,
        module: &str,
        span: Span,
        from: &str,
        ty: &str,
        ctor: &str,
    ) -> Self {
        Diagnostic {
            code: "UnknownImportDataConstructor",
            lines: vec![format!("Module {from} does not export data constructor {ctor} for type {ty}")],
            spans: vec![FileSpan { file: file.into(), span }],
            module: Some(module.into()),
        }
    }

    /// The message as purs renders it for JSON: indented, trimmed, newline-terminated.
    pub fn message(&self) -> String {
        render_lines(&self.lines.iter().map(|l| format!("  {l}")).collect::<Vec<_>>())
    }

    pub fn to_json(&self) -> Value {
        let first = self.spans.first();
        json!({
            "position": first.map(|s| json!({
                "startLine": s.span.start.line,
                "startColumn": s.span.start.column,
                "endLine": s.span.end.line,
                "endColumn": s.span.end.column,
            })),
            "message": self.message(),
            "errorCode": self.code,
            "errorLink": format!("{DOCS}{}.md", self.code),
            "filename": first.map(|s| s.file.clone()),
            "moduleName": self.module,
            "suggestion": null,
            "allSpans": self.spans.iter().map(|s| json!({
                "end": [s.span.end.line, s.span.end.column],
                "name": s.file,
                "start": [s.span.start.line, s.span.start.column],
            })).collect::<Vec<_>>(),
        })
    }

    /// The human form of one error (without the `Error found:` heading).
    fn pretty_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(module) = &self.module {
            lines.push(format!("in module {module}"));
        }
        if let Some(first) = self.spans.first() {
            let (s, e) = (first.span.start, first.span.end);
            lines.push(format!(
                "at {}:{}:{} - {}:{} (line {}, column {} - line {}, column {})",
                first.file, s.line, s.column, e.line, e.column, s.line, s.column, e.line, e.column
            ));
        }
        lines.push(String::new());
        lines.extend(self.lines.iter().map(|l| format!("  {l}")));
        lines.push(String::new());
        lines.push(String::new());
        lines.push(format!("See {DOCS}{}.md for more information,", self.code));
        lines.push("or to contribute content related to this error.".into());
        lines
    }
}

/// `{"warnings":[],"errors":[…]}` on one line (no newline).
pub fn json_report(errors: &[Diagnostic]) -> String {
    let value =
        json!({ "warnings": [], "errors": errors.iter().map(Diagnostic::to_json).collect::<Vec<_>>() });
    serde_json::to_string(&value).expect("JSON values always print")
}

/// Errors as purs prints them for people.
pub fn pretty_report(errors: &[Diagnostic]) -> String {
    match errors {
        [] => String::new(),
        [only] => {
            let mut lines = vec!["Error found:".to_owned()];
            lines.extend(only.pretty_lines());
            render_lines(&lines) + "\n"
        }
        many => {
            let total = many.len();
            let mut out = String::new();
            for (i, error) in many.iter().enumerate() {
                out.push_str(&format!("Error {} of {total}:\n\n", i + 1));
                let indented: Vec<String> = error.pretty_lines().iter().map(|l| format!("  {l}")).collect();
                out.push_str(&render_lines(&indented));
                out.push('\n');
            }
            out
        }
    }
}

/// Drops leading and trailing blank lines and trailing spaces; every line ends with `\n`.
fn render_lines(lines: &[String]) -> String {
    let trimmed: Vec<&str> = lines.iter().map(|l| l.trim_end()).collect();
    let start = trimmed.iter().position(|l| !l.is_empty()).unwrap_or(trimmed.len());
    let end = trimmed.iter().rposition(|l| !l.is_empty()).map_or(start, |i| i + 1);
    trimmed[start..end].iter().map(|l| format!("{l}\n")).collect()
}

pub fn is_prim_namespace(module: &str) -> bool {
    module == "Prim" || module.starts_with("Prim.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::Pos;

    fn span(l1: u32, c1: u32, l2: u32, c2: u32) -> Span {
        Span { start: Pos { line: l1, column: c1 }, end: Pos { line: l2, column: c2 } }
    }

    #[test]
    fn module_not_found_matches_the_contract_example() {
        let d = Diagnostic::module_not_found("src/B.purs", "B", span(3, 1, 3, 25), "Data.Gone");
        assert_eq!(
            serde_json::to_string(&d.to_json()).unwrap(),
            r#"{"position":{"startLine":3,"startColumn":1,"endLine":3,"endColumn":25},"message":"  Module Data.Gone was not found.\n  Make sure the source file exists, and that it has been provided as an input to the compiler.\n","errorCode":"ModuleNotFound","errorLink":"https://github.com/purescript/documentation/blob/master/errors/ModuleNotFound.md","filename":"src/B.purs","moduleName":"B","suggestion":null,"allSpans":[{"end":[3,25],"name":"src/B.purs","start":[3,1]}]}"#
        );
    }

    #[test]
    fn unknown_import_matches_the_contract_example() {
        let d = Diagnostic::unknown_import("src/B.purs", "B", span(2, 11, 2, 14), "value", "foo", "A");
        assert_eq!(
            serde_json::to_string(&d.to_json()).unwrap(),
            r#"{"position":{"startLine":2,"startColumn":11,"endLine":2,"endColumn":14},"message":"  Cannot import value foo from module A\n  It either does not exist or the module does not export it.\n","errorCode":"UnknownImport","errorLink":"https://github.com/purescript/documentation/blob/master/errors/UnknownImport.md","filename":"src/B.purs","moduleName":"B","suggestion":null,"allSpans":[{"end":[2,14],"name":"src/B.purs","start":[2,11]}]}"#
        );
    }

    #[test]
    fn cycle_message_lists_modules_indented() {
        let spans = vec![FileSpan { file: "a".into(), span: span(1, 1, 1, 15) }];
        let d = Diagnostic::cycle_in_modules(&["A".into(), "B".into()], spans);
        assert_eq!(
            d.message(),
            "  There is a cycle in module dependencies in these modules:\n\n    A\n    B\n"
        );
        let d = Diagnostic::cycle_in_modules(&["A".into()], vec![]);
        assert_eq!(d.message(), "  Module A imports itself.\n");
        assert_eq!(d.to_json()["position"], Value::Null);
        assert_eq!(d.to_json()["filename"], Value::Null);
    }

    #[test]
    fn pretty_form_has_heading_location_and_footer() {
        let d = Diagnostic::module_not_found("src/B.purs", "B", span(3, 1, 3, 25), "Data.Gone");
        let text = pretty_report(std::slice::from_ref(&d));
        assert!(text.starts_with("Error found:\nin module B\nat src/B.purs:3:1 - 3:25 (line 3, column 1 - line 3, column 25)\n\n  Module Data.Gone was not found.\n"), "{text}");
        assert!(text.ends_with("or to contribute content related to this error.\n\n"), "{text}");
        let two = pretty_report(&[d.clone(), d]);
        assert!(two.starts_with("Error 1 of 2:\n\n  in module B\n"), "{two}");
        assert!(two.contains("\nError 2 of 2:\n"), "{two}");
    }
}
