//! What a compiler run can end in, and the `--json-errors` format purs reports errors in.
//!
//! The decoding is deliberately as strict as the registry's: an error without a source
//! position or file name (purs reports file I/O problems that way) does not decode, so the
//! whole run counts as an unknown error. That keeps infrastructure trouble (a locked file,
//! a full disk) from being recorded as "this package does not compile".

use std::fmt;
use std::time::Duration;

use registry_core::json::{self, Codec, DecodeError, Obj, Value};

/// The first span of a compiler error: 1-based lines and columns, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourcePosition {
    pub start_line: u64,
    pub start_column: u64,
    pub end_line: u64,
    pub end_column: u64,
}

/// One entry of the `errors` array purs prints with `--json-errors`, reduced to the fields
/// the registry keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerError {
    pub position: SourcePosition,
    pub message: String,
    pub error_code: String,
    pub error_link: String,
    pub filename: String,
    pub module_name: Option<String>,
}

/// Why a compiler call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompilerFailure {
    /// The compiler ran and reported errors in the sources.
    CompilationError(Vec<CompilerError>),
    /// The compiler failed in a way that is not about the sources; the text says how.
    UnknownError(String),
    /// No executable for the requested compiler version exists.
    MissingCompiler,
    /// The run exceeded its time limit; its whole process group was killed.
    TimedOut { limit: Duration, output: String },
}

/// The text purs prints when two of its threads race on the JSON output; worth a retry.
pub const RACE_CONDITION_MARKER: &str = "Unexpected end of JSON input";

impl CompilerFailure {
    /// Whether this is the known compiler race that a plain retry fixes.
    pub fn is_race_condition(&self) -> bool {
        matches!(self, CompilerFailure::UnknownError(text) if text.contains(RACE_CONDITION_MARKER))
    }
}

impl fmt::Display for CompilerFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompilerFailure::CompilationError(errors) => f.write_str(&print_compiler_errors(errors)),
            CompilerFailure::UnknownError(text) => write!(f, "Unknown compiler error: {text}"),
            CompilerFailure::MissingCompiler => f.write_str("The requested compiler is not installed."),
            CompilerFailure::TimedOut { limit, output } => {
                let secs = limit.as_secs_f64();
                write!(f, "The compiler did not finish within {secs} seconds and was killed.")?;
                if !output.trim().is_empty() {
                    write!(f, " Output so far:\n{output}")?;
                }
                Ok(())
            }
        }
    }
}

/// Upstream's stored form: an array for compilation errors, a string for unknown errors,
/// `null` for a missing compiler. A timeout has no upstream form; it is stored as the string
/// explaining it, so upstream readers see an unknown error.
impl Codec for CompilerFailure {
    fn encode(&self) -> Value {
        match self {
            CompilerFailure::CompilationError(errors) => {
                Value::Array(errors.iter().map(Codec::encode).collect())
            }
            CompilerFailure::UnknownError(text) => Value::String(text.clone()),
            CompilerFailure::MissingCompiler => Value::Null,
            timeout @ CompilerFailure::TimedOut { .. } => Value::String(timeout.to_string()),
        }
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        match value {
            Value::Null => Ok(CompilerFailure::MissingCompiler),
            Value::String(text) => Ok(CompilerFailure::UnknownError(text.clone())),
            Value::Array(_) => {
                Ok(CompilerFailure::CompilationError(json::array_of(value, CompilerError::decode)?))
            }
            other => Err(DecodeError::new(format!(
                "Expected a compiler failure (an array of errors, a string or null), got {}",
                json::kind(other)
            ))),
        }
    }
}

impl Codec for SourcePosition {
    fn encode(&self) -> Value {
        serde_json::json!({
            "startLine": self.start_line,
            "startColumn": self.start_column,
            "endLine": self.end_line,
            "endColumn": self.end_column,
        })
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(SourcePosition {
            start_line: obj.req("startLine", json::as_u64)?,
            start_column: obj.req("startColumn", json::as_u64)?,
            end_line: obj.req("endLine", json::as_u64)?,
            end_column: obj.req("endColumn", json::as_u64)?,
        })
    }
}

impl Codec for CompilerError {
    fn encode(&self) -> Value {
        serde_json::json!({
            "position": self.position.encode(),
            "message": self.message,
            "errorCode": self.error_code,
            "errorLink": self.error_link,
            "filename": self.filename,
            "moduleName": self.module_name,
        })
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(CompilerError {
            position: obj.req("position", SourcePosition::decode)?,
            message: obj.req_str("message")?.to_owned(),
            error_code: obj.req_str("errorCode")?.to_owned(),
            error_link: obj.req_str("errorLink")?.to_owned(),
            filename: obj.req_str("filename")?.to_owned(),
            module_name: obj.opt_str("moduleName")?.map(str::to_owned),
        })
    }
}

/// Reads the `errors` array out of a `{"warnings":[…],"errors":[…]}` report.
///
/// The report is normally the whole text; when other lines surround it (progress output
/// mixed into the same stream by an unusual build), the last line that decodes is used.
pub fn parse_error_report(text: &str) -> Result<Vec<CompilerError>, DecodeError> {
    let whole = decode_report(text.trim());
    if whole.is_ok() {
        return whole;
    }
    text.lines()
        .rev()
        .filter(|line| line.trim_start().starts_with('{'))
        .find_map(|line| decode_report(line).ok())
        .map_or(whole, Ok)
}

fn decode_report(text: &str) -> Result<Vec<CompilerError>, DecodeError> {
    let value = json::parse(text)?;
    Obj::new(&value)?.req("errors", |errors| json::array_of(errors, CompilerError::decode))
}

/// The multi-error text the registry shows to package authors.
pub fn print_compiler_errors(errors: &[CompilerError]) -> String {
    let total = errors.len();
    let printed: Vec<String> = errors
        .iter()
        .enumerate()
        .map(|(n, error)| format!("Error {} of {total}\n\n{}\n", n + 1, print_compiler_error(error)))
        .collect();
    printed.join("\n")
}

fn print_compiler_error(error: &CompilerError) -> String {
    let mut header = String::new();
    if let Some(name) = &error.module_name {
        header.push_str(&format!("  Module: {name}\n"));
    }
    header.push_str(&format!("  File: {}\n", error.filename));
    let p = error.position;
    [
        header,
        "  Message:".to_owned(),
        String::new(),
        // The message ends with a newline of its own.
        error.message.clone(),
        "  Position:".to_owned(),
        format!("  {}:{} - {}:{}", p.start_line, p.start_column, p.end_line, p.end_column),
        String::new(),
        "  Error details:".to_owned(),
        format!("  {}", error.error_link),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL_SAMPLE: &str = r#"{"warnings":[],"errors":[{"position":{"startLine":5,"startColumn":9,"endLine":5,"endColumn":15},"message":"  Unknown type Effect\n","errorCode":"UnknownName","errorLink":"https://github.com/purescript/documentation/blob/master/errors/UnknownName.md","filename":"test/Main.purs","moduleName":"Test.Main","suggestion":null,"allSpans":[{"end":[5,15],"name":"test/Main.purs","start":[5,9]}]}]}
"#;

    #[test]
    fn decodes_a_real_report_and_keeps_the_registry_fields() {
        let errors = parse_error_report(REAL_SAMPLE).unwrap();
        assert_eq!(errors.len(), 1);
        let e = &errors[0];
        assert_eq!(
            e.position,
            SourcePosition { start_line: 5, start_column: 9, end_line: 5, end_column: 15 }
        );
        assert_eq!(e.message, "  Unknown type Effect\n");
        assert_eq!(e.error_code, "UnknownName");
        assert_eq!(e.filename, "test/Main.purs");
        assert_eq!(e.module_name.as_deref(), Some("Test.Main"));
        assert_eq!(
            e.to_compact(),
            r#"{"position":{"startLine":5,"startColumn":9,"endLine":5,"endColumn":15},"message":"  Unknown type Effect\n","errorCode":"UnknownName","errorLink":"https://github.com/purescript/documentation/blob/master/errors/UnknownName.md","filename":"test/Main.purs","moduleName":"Test.Main"}"#
        );
    }

    #[test]
    fn a_report_after_progress_lines_is_found_on_its_last_line() {
        let text = format!("Compiling Test.Main\n{REAL_SAMPLE}");
        assert_eq!(parse_error_report(&text).unwrap().len(), 1);
    }

    #[test]
    fn errors_without_a_position_do_not_decode() {
        let text = r#"{"warnings":[],"errors":[{"position":null,"message":"  I/O error\n","errorCode":"FileIOError","errorLink":"x","filename":null,"moduleName":null,"suggestion":null,"allSpans":[]}]}"#;
        let err = parse_error_report(text).unwrap_err();
        assert!(err.to_string().contains("position"), "{err}");
    }

    #[test]
    fn failure_round_trips_through_the_upstream_form() {
        let failures = [
            CompilerFailure::MissingCompiler,
            CompilerFailure::UnknownError("boom".into()),
            CompilerFailure::CompilationError(parse_error_report(REAL_SAMPLE).unwrap()),
        ];
        for failure in failures {
            assert_eq!(CompilerFailure::decode(&failure.encode()).unwrap(), failure);
        }
        let timeout = CompilerFailure::TimedOut { limit: Duration::from_millis(2500), output: String::new() };
        assert_eq!(
            timeout.encode(),
            Value::String("The compiler did not finish within 2.5 seconds and was killed.".into())
        );
    }

    #[test]
    fn printed_errors_follow_the_registry_layout() {
        let errors = parse_error_report(REAL_SAMPLE).unwrap();
        assert_eq!(
            print_compiler_errors(&errors),
            "Error 1 of 1\n\n  Module: Test.Main\n  File: test/Main.purs\n\n  Message:\n\n  Unknown type Effect\n\n  Position:\n  5:9 - 5:15\n\n  Error details:\n  https://github.com/purescript/documentation/blob/master/errors/UnknownName.md\n"
        );
    }
}
