//! YAML text to a JSON value, as upstream reads `spago.yaml`.
//!
//! Upstream parses with the JavaScript `yaml` package (YAML 1.2, core schema) and
//! decodes `doc.toJSON()`. This module builds the same JSON: plain scalars resolve
//! by the core schema (`null`/`~`/empty, `true`/`false` in three casings, decimal,
//! `0o` and `0x` integers, floats), quoted and block scalars stay strings, mapping
//! keys keep their order and must be unique, aliases copy their anchor's value.
//! Parsing is done by `yaml-rust2`, a pure-Rust YAML 1.2 parser.
//!
//! The text is untrusted (an author's `spago.yaml`), so building is bounded: the
//! parser's events are pulled one at a time (its own `load` recurses once per
//! nesting level, which a deep document turns into a stack overflow), nesting is
//! limited to [`MAX_DEPTH`] and the built value to [`MAX_WEIGHT`], which stops
//! aliases that copy anchors of anchors ("billion laughs") before they allocate.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::json::{Map, Value};

/// Deepest nesting of sequences and mappings accepted (a spago.yaml needs about 6).
pub const MAX_DEPTH: usize = 64;

/// Most bytes (estimated: [`NODE_WEIGHT`] per value plus its text) the built
/// value may take, aliases counted at their expanded size; a spago.yaml takes a
/// few kilobytes.
pub const MAX_WEIGHT: usize = 8 << 20;

/// What one value costs in memory besides its text, roughly.
const NODE_WEIGHT: usize = 48;

/// Parses a single YAML document into JSON.
pub fn to_json(text: &str) -> Result<Value, String> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, _) = parser.next_token().map_err(|e| format!("Invalid YAML: {e}"))?;
        if event == Event::StreamEnd {
            break;
        }
        builder.on_event(event);
        if let Some(error) = builder.error {
            return Err(error);
        }
    }
    match builder.documents.len() {
        0 => Ok(Value::Null),
        1 => Ok(builder.documents.pop().expect("one document")),
        n => Err(format!("Expected one YAML document, found {n}")),
    }
}

/// A collection being built, with the weight of what it holds so far.
enum Frame {
    Sequence { items: Vec<Value>, anchor: usize, weight: usize },
    Mapping { map: Map<String, Value>, key: Option<String>, anchor: usize, weight: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    documents: Vec<Value>,
    /// Each anchor's value and weight.
    anchors: HashMap<usize, (Value, usize)>,
    /// The weight of everything built so far, copies included.
    weight: usize,
    /// The first error; events after it are ignored.
    error: Option<String>,
}

impl Builder {
    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    /// Counts `weight` against the budget before the value it stands for is kept.
    fn charge(&mut self, weight: usize) -> bool {
        self.weight = self.weight.saturating_add(weight);
        if self.weight > MAX_WEIGHT {
            self.fail(format!(
                "The YAML is too large once its aliases are expanded (more than about {} MiB); write the \
                 values out instead of repeating aliases",
                MAX_WEIGHT >> 20
            ));
            return false;
        }
        true
    }

    fn open(&mut self, frame: Frame) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(format!("The YAML nests sequences and mappings more than {MAX_DEPTH} levels deep"));
        } else {
            self.stack.push(frame);
        }
    }

    fn finish(&mut self, value: Value, anchor: usize, weight: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (value.clone(), weight));
        }
        self.add(value, weight);
    }

    fn add(&mut self, value: Value, weight: usize) {
        match self.stack.last_mut() {
            None => self.documents.push(value),
            Some(Frame::Sequence { items, weight: total, .. }) => {
                *total += weight;
                items.push(value)
            }
            Some(Frame::Mapping { map, key, weight: total, .. }) => match key.take() {
                None => match key_text(&value) {
                    Ok(text) => {
                        *total += weight;
                        *key = Some(text)
                    }
                    Err(e) => self.fail(e),
                },
                Some(k) => {
                    *total += weight;
                    if map.contains_key(&k) {
                        self.fail(format!("Map keys must be unique; '{k}' appears twice"));
                    } else {
                        map.insert(k, value);
                    }
                }
            },
        }
    }
}

/// JSON object keys: scalars print as JavaScript would stringify them.
fn key_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Array(_) | Value::Object(_) => {
            Err("Sequences and mappings cannot be mapping keys in this file".to_owned())
        }
    }
}

impl Builder {
    fn on_event(&mut self, event: Event) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let weight = NODE_WEIGHT + text.len();
                if self.charge(weight) {
                    let value = resolve(&text, style, tag.as_ref());
                    self.finish(value, anchor, weight);
                }
            }
            Event::SequenceStart(anchor, _) => {
                if self.charge(NODE_WEIGHT) {
                    self.open(Frame::Sequence { items: Vec::new(), anchor, weight: NODE_WEIGHT })
                }
            }
            Event::MappingStart(anchor, _) => {
                if self.charge(NODE_WEIGHT) {
                    self.open(Frame::Mapping { map: Map::new(), key: None, anchor, weight: NODE_WEIGHT })
                }
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Sequence { items, anchor, weight }) => {
                    self.finish(Value::Array(items), anchor, weight)
                }
                Some(Frame::Mapping { map, anchor, weight, .. }) => {
                    self.finish(Value::Object(map), anchor, weight)
                }
                None => self.fail("Unbalanced YAML collection".to_owned()),
            },
            // Charged before the copy is made: the copy is what a bomb multiplies.
            Event::Alias(id) => match self.anchors.get(&id).map(|(_, w)| *w) {
                Some(weight) if self.charge(weight) => {
                    let value = self.anchors[&id].0.clone();
                    self.add(value, weight);
                }
                Some(_) => {}
                None => self.fail("YAML alias refers to an unknown anchor".to_owned()),
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

fn is_core_tag(tag: Option<&Tag>, name: &str) -> bool {
    tag.is_some_and(|t| (t.handle == "tag:yaml.org,2002:" || t.handle == "!!") && t.suffix == name)
}

/// The JSON value of a scalar under the YAML 1.2 core schema.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if style != TScalarStyle::Plain || is_core_tag(tag, "str") {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = integer(text) {
        return n;
    }
    if let Some(f) = float(text) {
        return serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    }
    Value::String(text.to_owned())
}

fn integer(text: &str) -> Option<Value> {
    let radix_value = |digits: &str, radix: u32| {
        (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)))
            .then(|| u64::from_str_radix(digits, radix).map_or_else(|_| float_value(text), Value::from))
    };
    if let Some(octal) = text.strip_prefix("0o") {
        return radix_value(octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return radix_value(hex, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<i64>().map_or_else(|_| float_value(text), Value::from))
}

fn float_value(text: &str) -> Value {
    text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

fn float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    match unsigned {
        ".inf" | ".Inf" | ".INF" => return Some(f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => (!int.is_empty() || !frac.is_empty()) && digits(int) && digits(frac),
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    (mantissa_ok && exponent_ok && mantissa != ".").then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        to_json(text).map(|v| v.to_string()).unwrap_or_else(|e| e)
    }

    #[test]
    fn scalars_resolve_by_the_core_schema() {
        assert_eq!(
            json("a: 1\nb: 0.0.1\nc: \"1\"\nd: ~\ne:\nf: True\ng: 1.5\nh: 0x1F\ni: yes\nj: 1e3\nk: !!str 2"),
            r#"{"a":1,"b":"0.0.1","c":"1","d":null,"e":null,"f":true,"g":1.5,"h":31,"i":"yes","j":1000.0,"k":"2"}"#
        );
    }

    #[test]
    fn numbers_and_null_keys_as_javascript_yaml_reads_them() {
        assert_eq!(
            json("a: .5\nb: 5.\nc: +12\nd: 0o17\ne: -.inf\nf: 1_000\ng: 012\nh: 1.2.3\nnull: x"),
            r#"{"a":0.5,"b":5.0,"c":12,"d":15,"e":null,"f":"1_000","g":12,"h":"1.2.3","":"x"}"#
        );
    }

    #[test]
    fn sequences_of_single_key_maps_and_aliases() {
        assert_eq!(json("x: &d [a, {b: c}]\ny: *d"), r#"{"x":["a",{"b":"c"}],"y":["a",{"b":"c"}]}"#);
    }

    #[test]
    fn alias_bombs_stop_before_they_expand() {
        let mut bomb = String::from(
            "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
        );
        for (name, prev) in
            ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        let err = to_json(&bomb).unwrap_err();
        assert!(err.contains("too large once its aliases are expanded"), "{err}");
        // Aliases within the budget still copy.
        assert_eq!(json("a: &a [1, 2]\nb: [*a, *a]"), r#"{"a":[1,2],"b":[[1,2],[1,2]]}"#);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let flow = "[".repeat(200) + &"]".repeat(200);
        assert!(to_json(&flow).is_err());
        let block: String = (0..100_000).map(|_| "- ").collect::<String>() + "x";
        let err = to_json(&block).unwrap_err();
        assert!(err.contains("more than 64 levels deep"), "{err}");
        let ok: String = (0..10).map(|_| "- ").collect::<String>() + "x";
        assert!(to_json(&ok).is_ok());
    }

    #[test]
    fn bad_documents_are_errors() {
        assert!(json("a: 1\na: 2").contains("unique"));
        assert!(json("a: [1").starts_with("Invalid YAML"));
        assert!(json("a: 1\n---\nb: 2").contains("one YAML document"));
        assert_eq!(json(""), "null");
    }
}
