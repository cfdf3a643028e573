//! JSON printing and decoding helpers that reproduce the registry's bytes.
//!
//! The upstream registry prints JSON with JavaScript's `JSON.stringify`: compact for
//! API bodies and manifest-index lines, `JSON.stringify(v, null, 2) + "\n"` for files.
//! `serde_json` with `preserve_order` produces the same bytes for the values we emit
//! (insertion-ordered keys, raw UTF-8, lowercase `\u00xx` control escapes), so every
//! codec in this crate builds a `serde_json::Value` in the upstream key order and
//! prints it through the two functions here.

use std::fmt;

pub use serde_json::{Map, Value};

/// Compact JSON, as `JSON.stringify(v)`.
pub fn print_compact(value: &Value) -> String {
    serde_json::to_string(value).expect("a serde_json::Value always serializes")
}

/// Indented JSON file body, as `JSON.stringify(v, null, 2) + "\n"`.
pub fn print_pretty(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("a serde_json::Value always serializes");
    out.push('\n');
    out
}

/// Deepest nesting `serde_json` accepts (its fixed recursion limit), which keeps
/// parsing, dropping and printing untrusted values off the end of the stack.
pub const MAX_DEPTH: usize = 128;

/// Parses JSON text into a value, keeping object key order.
pub fn parse(text: &str) -> Result<Value, DecodeError> {
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        DecodeError::new(match message.strip_prefix("recursion limit exceeded") {
            Some(at) => {
                format!("Invalid JSON: arrays and objects are nested more than {MAX_DEPTH} levels deep{at}")
            }
            None => format!("Invalid JSON: {message}"),
        })
    })
}

/// A decoding failure with the path (from the outside in) where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    path: Vec<String>,
    message: String,
}

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { path: Vec::new(), message: message.into() }
    }

    /// Records that the error happened under `segment` (an object key or array index).
    pub fn at(mut self, segment: impl fmt::Display) -> Self {
        self.path.insert(0, segment.to_string());
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Rewords the message, keeping where the error happened.
    pub fn map_message(mut self, f: impl FnOnce(&str) -> String) -> Self {
        self.message = f(&self.message);
        self
    }

    pub fn path(&self) -> String {
        let mut out = String::from("$");
        for segment in &self.path {
            out.push('.');
            out.push_str(segment);
        }
        out
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{} (at {})", self.message, self.path())
        }
    }
}

impl std::error::Error for DecodeError {}

/// A type with the registry's JSON encoding.
pub trait Codec: Sized {
    fn encode(&self) -> Value;
    fn decode(value: &Value) -> Result<Self, DecodeError>;

    /// Decodes from JSON text.
    fn from_json_str(text: &str) -> Result<Self, DecodeError> {
        Self::decode(&parse(text)?)
    }

    /// `JSON.stringify(encode(self))`.
    fn to_compact(&self) -> String {
        print_compact(&self.encode())
    }

    /// `JSON.stringify(encode(self), null, 2) + "\n"`.
    fn to_pretty(&self) -> String {
        print_pretty(&self.encode())
    }
}

/// Helpers for reading fields of a JSON object with path-aware errors.
pub struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    pub fn new(value: &'a Value) -> Result<Self, DecodeError> {
        match value {
            Value::Object(map) => Ok(Obj(map)),
            other => Err(DecodeError::new(format!("Expected an object, got {}", kind(other)))),
        }
    }

    pub fn map(&self) -> &'a Map<String, Value> {
        self.0
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// A required field decoded with `f`.
    pub fn req<T>(
        &self,
        key: &str,
        f: impl FnOnce(&'a Value) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        match self.0.get(key) {
            Some(v) => f(v).map_err(|e| e.at(key)),
            None => Err(DecodeError::new(format!("Missing required field '{key}'"))),
        }
    }

    /// An optional field: absent (or `null`) gives `None`.
    pub fn opt<T>(
        &self,
        key: &str,
        f: impl FnOnce(&'a Value) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => f(v).map(Some).map_err(|e| e.at(key)),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<&'a str, DecodeError> {
        self.req(key, as_str)
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, DecodeError> {
        self.opt(key, as_str)
    }

    /// [`Obj::req_str`] of at most `max` bytes: request fields are bounded one by one, so
    /// a huge value is refused naming its field instead of being stored.
    pub fn req_str_max(&self, key: &str, max: usize) -> Result<&'a str, DecodeError> {
        self.req(key, |v| at_most(as_str(v)?, max))
    }

    /// [`Obj::opt_str`] of at most `max` bytes.
    pub fn opt_str_max(&self, key: &str, max: usize) -> Result<Option<&'a str>, DecodeError> {
        self.opt(key, |v| at_most(as_str(v)?, max))
    }
}

/// `text` unless it is longer than `max` bytes.
pub fn at_most(text: &str, max: usize) -> Result<&str, DecodeError> {
    if text.len() > max {
        return Err(DecodeError::new(format!("Exceeds limit of {max} bytes (got {} bytes)", text.len())));
    }
    Ok(text)
}

pub fn as_str(value: &Value) -> Result<&str, DecodeError> {
    value.as_str().ok_or_else(|| DecodeError::new(format!("Expected a string, got {}", kind(value))))
}

pub fn as_array(value: &Value) -> Result<&Vec<Value>, DecodeError> {
    value.as_array().ok_or_else(|| DecodeError::new(format!("Expected an array, got {}", kind(value))))
}

pub fn as_u64(value: &Value) -> Result<u64, DecodeError> {
    value
        .as_u64()
        .ok_or_else(|| DecodeError::new(format!("Expected a non-negative integer, got {}", kind(value))))
}

pub fn as_bool(value: &Value) -> Result<bool, DecodeError> {
    value.as_bool().ok_or_else(|| DecodeError::new(format!("Expected a boolean, got {}", kind(value))))
}

/// Decodes a string with a parser whose errors are plain messages.
pub fn parsed<T>(value: &Value, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T, DecodeError> {
    parse(as_str(value)?).map_err(DecodeError::new)
}

/// Decodes every element of an array, recording the index of a failing element.
pub fn array_of<T>(
    value: &Value,
    mut f: impl FnMut(&Value) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    as_array(value)?.iter().enumerate().map(|(i, v)| f(v).map_err(|e| e.at(i))).collect()
}

/// A short description of a value's JSON type, for error messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_with_its_reason() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let err = parse(&deep).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "Invalid JSON: arrays and objects are nested more than 128 levels deep at line 1"
            ),
            "{err}"
        );
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn printing_matches_javascript_stringify() {
        let v = parse(r#"{"b":1,"a":{"x":[],"y":{}},"s":"é\u0001\n/\u2028"}"#).unwrap();
        assert_eq!(print_compact(&v), "{\"b\":1,\"a\":{\"x\":[],\"y\":{}},\"s\":\"é\\u0001\\n/\u{2028}\"}");
        assert_eq!(
            print_pretty(&v),
            "{\n  \"b\": 1,\n  \"a\": {\n    \"x\": [],\n    \"y\": {}\n  },\n  \"s\": \"é\\u0001\\n/\u{2028}\"\n}\n"
        );
    }

    #[test]
    fn decode_errors_carry_their_path() {
        let err = DecodeError::new("Expected a string").at("version").at("published");
        assert_eq!(err.to_string(), "Expected a string (at $.published.version)");
    }
}
