//! Decoding JSON into a described Go type with `encoding/json`'s rules and messages, giving
//! back the JSON of the value Go would hold. Go's decoder differs from serde's in what it
//! accepts (keys match case-insensitively, `null` leaves a string or number unchanged,
//! invalid UTF-8 becomes U+FFFD, the last duplicate key wins and merges into structs) and
//! in what it says (`json: cannot unmarshal string into Go struct field Task.tasks.retries
//! of type uint8`); a service that must answer like upstream decodes here first and then
//! hands the canonical JSON to serde, which then cannot fail.

use std::fmt;

use serde_json::{Map, Number, Value};

use super::scan::{self, ReadError, SyntaxError};

/// A Go type, as far as decoding needs it.
#[derive(Debug)]
pub enum GoType {
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// A signed integer type: its Go name and size in bits (`int` is 64).
    Int(&'static str, u32),
    /// An unsigned integer type: its Go name and size in bits.
    Uint(&'static str, u32),
    /// `float64` (or `float32` with 32).
    Float(&'static str, u32),
    /// `interface {}`: any JSON value (numbers as float64).
    Interface,
    /// `[]T`.
    Slice(&'static GoType),
    /// `map[string]T`.
    Map(&'static GoType),
    /// `*T`.
    Ptr(&'static GoType),
    /// A struct.
    Struct(&'static GoStruct),
}

/// A Go struct type: package and name (for `model.Task` and `Task.tasks.retries`) and its
/// JSON fields.
#[derive(Debug)]
pub struct GoStruct {
    /// The package's name (`model`).
    pub package: &'static str,
    /// The type's name (`Task`).
    pub name: &'static str,
    /// The fields that have a JSON key.
    pub fields: &'static [GoField],
}

/// One struct field: its JSON key (from the tag) and type.
#[derive(Debug)]
pub struct GoField {
    /// The key Go writes and matches first (exactly, then case-insensitively).
    pub key: &'static str,
    /// The field's type.
    pub ty: &'static GoType,
}

impl fmt::Display for GoType {
    /// `reflect.Type.String()`: `int`, `[]model.Task`, `map[string]interface {}`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoType::Bool => f.write_str("bool"),
            GoType::String => f.write_str("string"),
            GoType::Int(name, _) | GoType::Uint(name, _) | GoType::Float(name, _) => {
                f.write_str(name)
            }
            GoType::Interface => f.write_str("interface {}"),
            GoType::Slice(t) => write!(f, "[]{t}"),
            GoType::Map(t) => write!(f, "map[string]{t}"),
            GoType::Ptr(t) => write!(f, "*{t}"),
            GoType::Struct(s) => write!(f, "{}.{}", s.package, s.name),
        }
    }
}

/// Go's `map[string]interface {}`.
pub static MAP_OF_ANY: GoType = GoType::Map(&GoType::Interface);
/// Go's `[]map[string]interface {}`.
pub static SLICE_OF_MAPS: GoType = GoType::Slice(&MAP_OF_ANY);
static FLOAT64: GoType = GoType::Float("float64", 64);

/// Why decoding failed, with Go's text as `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON (or, for `json.Unmarshal`, more than one value).
    Syntax(SyntaxError),
    /// `json.Decoder` on nothing but space.
    Eof,
    /// `json.Decoder` on a value that stops early.
    UnexpectedEof,
    /// JSON of the wrong shape for the type (`json.UnmarshalTypeError`); the first one in
    /// the document.
    Type(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Syntax(e) => e.fmt(f),
            DecodeError::Eof => f.write_str("EOF"),
            DecodeError::UnexpectedEof => f.write_str("unexpected EOF"),
            DecodeError::Type(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DecodeError {}

impl From<ReadError> for DecodeError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Eof => DecodeError::Eof,
            ReadError::UnexpectedEof => DecodeError::UnexpectedEof,
            ReadError::Syntax(s) => DecodeError::Syntax(s),
        }
    }
}

/// Nesting accepted by [`unmarshal`] and [`decode`]. Go accepts 10000 levels; values are
/// built and later written recursively here, so deeper documents are refused with Go's
/// `exceeded max depth` error at this depth instead.
pub const MAX_DEPTH: usize = 128;

/// `json.Unmarshal(input, &v)` for a `v` of type `ty`: the whole input must be one value
/// (syntax errors anywhere come before type errors). `Ok` holds the JSON of the decoded Go
/// value: struct fields under their own keys, `null` where Go holds nil, and nothing for
/// fields Go left at their zero value.
pub fn unmarshal(input: &[u8], ty: &GoType) -> Result<Value, DecodeError> {
    scan::check(input, MAX_DEPTH).map_err(DecodeError::Syntax)?;
    decode_valid(input, ty)
}

/// `json.NewDecoder(r).Decode(&v)` (what gin's `BindJSON` does): only the first value is
/// read, so trailing data is ignored; an empty input is `EOF` and a truncated one
/// `unexpected EOF`.
pub fn decode(input: &[u8], ty: &GoType) -> Result<Value, DecodeError> {
    let len = scan::first_value(input, MAX_DEPTH)?;
    decode_valid(input.get(..len).unwrap_or(input), ty)
}

fn decode_valid(input: &[u8], ty: &GoType) -> Result<Value, DecodeError> {
    let mut d = Decoder {
        input,
        pos: 0,
        context: Context::default(),
    };
    let mut slot = None;
    d.value(ty, &mut slot).map_err(DecodeError::Type)?;
    Ok(slot.unwrap_or_else(|| zero(ty)))
}

/// The JSON of a Go zero value.
fn zero(ty: &GoType) -> Value {
    match ty {
        GoType::Bool => Value::Bool(false),
        GoType::String => Value::String(String::new()),
        GoType::Int(..) | GoType::Uint(..) | GoType::Float(..) => Value::from(0),
        GoType::Struct(_) => Value::Object(Map::new()),
        GoType::Interface | GoType::Slice(_) | GoType::Map(_) | GoType::Ptr(_) => Value::Null,
    }
}

/// Where in the document the decoder is, for type errors: the innermost struct and the
/// JSON keys of the struct fields from the root.
#[derive(Default)]
struct Context {
    structure: Option<&'static str>,
    fields: Vec<&'static str>,
}

/// A decoder over syntactically valid JSON (checked by the scanner first).
struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    context: Context,
}

/// The JSON kind at the cursor, as Go names it in type errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Object => "object",
            Kind::Array => "array",
            Kind::String => "string",
            Kind::Number => "number",
            Kind::Bool => "bool",
            Kind::Null => "null",
        }
    }
}

impl<'a> Decoder<'a> {
    fn peek(&self) -> u8 {
        self.input.get(self.pos).copied().unwrap_or(b' ')
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\r' | b'\n') && self.pos < self.input.len() {
            self.pos += 1;
        }
    }

    fn kind(&mut self) -> Kind {
        self.skip_space();
        match self.peek() {
            b'{' => Kind::Object,
            b'[' => Kind::Array,
            b'"' => Kind::String,
            b't' | b'f' => Kind::Bool,
            b'n' => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// Go's message for a value of JSON kind `what` that cannot go into `ty`.
    fn type_error(&self, what: &str, ty: &GoType) -> String {
        match self.context.structure {
            Some(s) => format!(
                "json: cannot unmarshal {what} into Go struct field {s}.{} of type {ty}",
                self.context.fields.join(".")
            ),
            None => format!("json: cannot unmarshal {what} into Go value of type {ty}"),
        }
    }

    /// Decodes the value at the cursor into `slot` (the value Go holds so far, `None` for
    /// the zero value).
    fn value(&mut self, ty: &GoType, slot: &mut Option<Value>) -> Result<(), String> {
        let kind = self.kind();
        if kind == Kind::Null {
            self.pos += 4;
            // Nil-able kinds become nil; others keep what they held.
            match ty {
                GoType::Interface => *slot = Some(Value::Null),
                GoType::Ptr(_) | GoType::Slice(_) | GoType::Map(_) => *slot = None,
                _ => {}
            }
            return Ok(());
        }
        // A pointer is followed (and allocated): errors name the type it points to.
        let ty = match ty {
            GoType::Ptr(inner) => inner,
            other => other,
        };
        match (ty, kind) {
            (GoType::Interface, _) => {
                *slot = Some(self.any()?);
                Ok(())
            }
            (GoType::Struct(s), Kind::Object) => self.structure(s, slot),
            (GoType::Map(elem), Kind::Object) => self.map(elem, slot),
            (GoType::Slice(elem), Kind::Array) => self.slice(elem, slot),
            (GoType::String, Kind::String) => {
                *slot = Some(Value::String(self.string()));
                Ok(())
            }
            (GoType::Bool, Kind::Bool) => {
                let b = self.peek() == b't';
                self.pos += if b { 4 } else { 5 };
                *slot = Some(Value::Bool(b));
                Ok(())
            }
            (GoType::Int(..) | GoType::Uint(..) | GoType::Float(..), Kind::Number) => {
                let literal = self.number();
                match number_into(literal, ty) {
                    Some(v) => {
                        *slot = Some(v);
                        Ok(())
                    }
                    None => Err(self.type_error(&format!("number {literal}"), ty)),
                }
            }
            (_, kind) => Err(self.type_error(kind.name(), ty)),
        }
    }

    /// Walks the object at the cursor (valid JSON: the scanner checked it), handing each
    /// member's key to `member` with the cursor on its value.
    fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, String) -> Result<(), String>,
    ) -> Result<(), String> {
        self.pos += 1; // {
        loop {
            self.skip_space();
            if self.peek() == b'}' {
                self.pos += 1;
                return Ok(());
            }
            let key = self.string();
            self.skip_space();
            self.pos += 1; // :
            member(self, key)?;
            self.skip_space();
            if self.peek() == b',' {
                self.pos += 1;
            }
        }
    }

    /// Walks the array at the cursor, calling `element` with the cursor on each element.
    fn elements(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.pos += 1; // [
        loop {
            self.skip_space();
            if self.peek() == b']' {
                self.pos += 1;
                return Ok(());
            }
            element(self)?;
            self.skip_space();
            if self.peek() == b',' {
                self.pos += 1;
            }
        }
    }

    fn structure(&mut self, s: &'static GoStruct, slot: &mut Option<Value>) -> Result<(), String> {
        // A struct decoded twice (a duplicate key) keeps the fields set the first time.
        let mut fields = match slot.take() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        self.members(|d, key| {
            match find_field(s, &key) {
                Some(field) => {
                    let saved = d.context.structure.replace(s.name);
                    d.context.fields.push(field.key);
                    let mut sub = fields.remove(field.key);
                    let result = d.value(field.ty, &mut sub);
                    d.context.fields.pop();
                    d.context.structure = saved;
                    result?;
                    if let Some(v) = sub {
                        fields.insert(field.key.to_owned(), v);
                    }
                }
                // Unknown keys are skipped.
                None => d.skip_value(),
            }
            Ok(())
        })?;
        *slot = Some(Value::Object(fields));
        Ok(())
    }

    fn map(&mut self, elem: &'static GoType, slot: &mut Option<Value>) -> Result<(), String> {
        // A non-nil map is reused: a duplicate key adds to it.
        let mut entries = match slot.take() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        self.members(|d, key| {
            let mut sub = None;
            d.value(elem, &mut sub)?;
            entries.insert(key, sub.unwrap_or_else(|| zero(elem)));
            Ok(())
        })?;
        *slot = Some(Value::Object(entries));
        Ok(())
    }

    fn slice(&mut self, elem: &'static GoType, slot: &mut Option<Value>) -> Result<(), String> {
        // Go decodes into the elements a slice already has (a duplicate key merges them).
        let old = match slot.take() {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let mut old = old.into_iter();
        let mut items = Vec::new();
        self.elements(|d| {
            let mut sub = old.next().filter(|v| !v.is_null());
            d.value(elem, &mut sub)?;
            items.push(sub.unwrap_or_else(|| zero(elem)));
            Ok(())
        })?;
        *slot = Some(Value::Array(items));
        Ok(())
    }

    /// Any value, as Go decodes into `interface {}` (numbers must fit a float64).
    fn any(&mut self) -> Result<Value, String> {
        match self.kind() {
            Kind::Object => {
                let mut entries = Map::new();
                self.members(|d, key| {
                    let v = d.any()?;
                    entries.insert(key, v);
                    Ok(())
                })?;
                Ok(Value::Object(entries))
            }
            Kind::Array => {
                let mut items = Vec::new();
                self.elements(|d| {
                    items.push(d.any()?);
                    Ok(())
                })?;
                Ok(Value::Array(items))
            }
            Kind::String => Ok(Value::String(self.string())),
            Kind::Bool => {
                let b = self.peek() == b't';
                self.pos += if b { 4 } else { 5 };
                Ok(Value::Bool(b))
            }
            Kind::Null => {
                self.pos += 4;
                Ok(Value::Null)
            }
            Kind::Number => {
                let literal = self.number();
                // Go holds a float64; the literal's own form is kept for the text.
                match literal.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(literal
                        .parse::<Number>()
                        .ok()
                        .or_else(|| Number::from_f64(f))
                        .map_or(Value::Null, Value::Number)),
                    _ => Err(self.type_error(&format!("number {literal}"), &FLOAT64)),
                }
            }
        }
    }

    /// The number literal at the cursor.
    fn number(&mut self) -> &'a str {
        let input: &'a [u8] = self.input;
        let start = self.pos;
        while matches!(self.peek(), b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
            && self.pos < self.input.len()
        {
            self.pos += 1;
        }
        std::str::from_utf8(input.get(start..self.pos).unwrap_or_default()).unwrap_or("0")
    }

    /// The string literal at the cursor, unquoted like Go's `unquoteBytes`.
    fn string(&mut self) -> String {
        self.pos += 1; // "
        let mut out: Vec<u8> = Vec::new();
        while self.pos < self.input.len() {
            let c = self.input[self.pos];
            match c {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    let e = self.input.get(self.pos + 1).copied().unwrap_or(b'"');
                    self.pos += 2;
                    let simple = match e {
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        other => Some(other),
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let r = self.hex4(self.pos);
                    self.pos += 4;
                    let ch = if (0xd800..0xe000).contains(&r) {
                        // A high surrogate followed by an escaped low one is one character;
                        // anything else is U+FFFD (and the next escape stands alone).
                        let low = (self.input.get(self.pos..self.pos + 2) == Some(b"\\u"))
                            .then(|| self.hex4(self.pos + 2))
                            .filter(|l| {
                                (0xd800..0xdc00).contains(&r) && (0xdc00..0xe000).contains(l)
                            });
                        match low {
                            Some(l) => {
                                self.pos += 6;
                                char::from_u32(0x10000 + ((r - 0xd800) << 10) + (l - 0xdc00))
                            }
                            None => None,
                        }
                    } else {
                        char::from_u32(r)
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(
                        ch.unwrap_or(char::REPLACEMENT_CHARACTER)
                            .encode_utf8(&mut buf)
                            .as_bytes(),
                    );
                }
                c if c.is_ascii() => {
                    out.push(c);
                    self.pos += 1;
                }
                _ => {
                    // Go's `utf8.DecodeRune`: a valid sequence, else U+FFFD for one byte.
                    let len = match c {
                        0xc2..=0xdf => 2,
                        0xe0..=0xef => 3,
                        0xf0..=0xf4 => 4,
                        _ => 0,
                    };
                    let valid = self
                        .input
                        .get(self.pos..self.pos + len)
                        .filter(|_| len > 0)
                        .and_then(|s| std::str::from_utf8(s).ok());
                    match valid {
                        Some(s) => {
                            out.extend_from_slice(s.as_bytes());
                            self.pos += len;
                        }
                        None => {
                            out.extend_from_slice("\u{fffd}".as_bytes());
                            self.pos += 1;
                        }
                    }
                }
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn hex4(&self, at: usize) -> u32 {
        self.input
            .get(at..at + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .unwrap_or(0xfffd)
    }

    /// Skips one value without looking inside it (unknown keys), with the scanner that
    /// already accepted it.
    fn skip_value(&mut self) {
        self.skip_space();
        let mut scan = scan::Scanner::new(usize::MAX);
        while let Some(&c) = self.input.get(self.pos) {
            match scan.step(c) {
                scan::Op::End | scan::Op::Error => return,
                scan::Op::Close if scan.at_top() => {
                    self.pos += 1;
                    return;
                }
                _ => self.pos += 1,
            }
        }
    }
}

/// A number literal in an integer or float type, or `None` when Go refuses it
/// (`strconv.ParseInt` / `ParseUint` / `ParseFloat` fail or the value overflows the size).
fn number_into(literal: &str, ty: &GoType) -> Option<Value> {
    match *ty {
        GoType::Int(_, bits) => {
            let n = literal.parse::<i64>().ok()?;
            let limit = 1i128 << (bits.clamp(1, 64) - 1);
            (-limit..limit)
                .contains(&i128::from(n))
                .then(|| Value::from(n))
        }
        GoType::Uint(_, bits) => {
            let n = literal.parse::<u64>().ok()?;
            let max = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            (n <= max).then(|| Value::from(n))
        }
        GoType::Float(_, bits) => {
            let f = literal.parse::<f64>().ok()?;
            let fits = if bits == 32 {
                f.abs() <= f64::from(f32::MAX)
            } else {
                f.is_finite()
            };
            fits.then(|| Number::from_f64(f).map(Value::Number))?
        }
        _ => None,
    }
}

/// The struct field a key selects: the exact key, else one equal under Go's case folding.
fn find_field(s: &'static GoStruct, key: &str) -> Option<&'static GoField> {
    s.fields.iter().find(|f| f.key == key).or_else(|| {
        let folded = fold(key)?;
        s.fields
            .iter()
            .find(|f| fold(f.key).as_deref() == Some(folded.as_str()))
    })
}

/// Go's `foldName` for keys that can match an ASCII field name: ASCII upper-cased, and the
/// two non-ASCII letters whose case fold reaches ASCII (`ſ` is `S`, the Kelvin sign `K`).
/// `None` for anything else, which matches no ASCII name.
fn fold(key: &str) -> Option<String> {
    key.chars()
        .map(|c| match c {
            '\u{17f}' => Some('S'),
            '\u{212a}' => Some('K'),
            c if c.is_ascii() => Some(c.to_ascii_uppercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    // A copy of the shape of upstream's workflow definition types (`model.Workflow`, ...).
    static WORKFLOW: GoType = GoType::Struct(&GoStruct {
        package: "model",
        name: "Workflow",
        fields: &[
            GoField {
                key: "name",
                ty: &GoType::String,
            },
            GoField {
                key: "ephemeral",
                ty: &GoType::Bool,
            },
            GoField {
                key: "version",
                ty: &GoType::Int("int", 64),
            },
            GoField {
                key: "schemaVersion",
                ty: &GoType::Int("int", 64),
            },
            GoField {
                key: "tasks",
                ty: &GoType::Slice(&TASK),
            },
            GoField {
                key: "inputParameters",
                ty: &GoType::Slice(&GoType::String),
            },
        ],
    });
    static TASK: GoType = GoType::Struct(&GoStruct {
        package: "model",
        name: "Task",
        fields: &[
            GoField {
                key: "name",
                ty: &GoType::String,
            },
            GoField {
                key: "retries",
                ty: &GoType::Uint("uint8", 8),
            },
            GoField {
                key: "http",
                ty: &GoType::Ptr(&GoType::Struct(&GoStruct {
                    package: "model",
                    name: "HTTPTask",
                    fields: &[
                        GoField {
                            key: "headers",
                            ty: &GoType::Map(&GoType::String),
                        },
                        GoField {
                            key: "json",
                            ty: &GoType::Interface,
                        },
                        GoField {
                            key: "statusCodes",
                            ty: &GoType::Slice(&GoType::Int("int", 64)),
                        },
                    ],
                })),
            },
        ],
    });

    fn unmarshal_err(input: &str, ty: &GoType) -> String {
        unmarshal(input.as_bytes(), ty).unwrap_err().to_string()
    }

    #[test]
    fn type_names_are_reflects() {
        assert_eq!(MAP_OF_ANY.to_string(), "map[string]interface {}");
        assert_eq!(SLICE_OF_MAPS.to_string(), "[]map[string]interface {}");
        assert_eq!(GoType::Slice(&TASK).to_string(), "[]model.Task");
        assert_eq!(GoType::Ptr(&WORKFLOW).to_string(), "*model.Workflow");
    }

    /// Input, target, and Go's `UnmarshalTypeError` text.
    #[test]
    fn type_errors_are_gos() {
        for (input, ty, want) in [
            (
                r#"{"name":5}"#,
                &WORKFLOW,
                "json: cannot unmarshal number into Go struct field Workflow.name of type string",
            ),
            (
                r#"{"tasks":[{"retries":"x"}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal string into Go struct field Task.tasks.retries of type uint8",
            ),
            (
                r#"{"tasks":"x"}"#,
                &WORKFLOW,
                "json: cannot unmarshal string into Go struct field Workflow.tasks of type []model.Task",
            ),
            (
                r#"{"tasks":[1]}"#,
                &WORKFLOW,
                "json: cannot unmarshal number into Go struct field Workflow.tasks of type model.Task",
            ),
            (
                r#"{"tasks":[{"retries":300}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal number 300 into Go struct field Task.tasks.retries of type uint8",
            ),
            (
                r#"{"tasks":[{"retries":-1}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal number -1 into Go struct field Task.tasks.retries of type uint8",
            ),
            (
                r#"{"version":1.5}"#,
                &WORKFLOW,
                "json: cannot unmarshal number 1.5 into Go struct field Workflow.version of type int",
            ),
            (
                r#"{"version":1e2}"#,
                &WORKFLOW,
                "json: cannot unmarshal number 1e2 into Go struct field Workflow.version of type int",
            ),
            (
                r#"{"version":99999999999999999999}"#,
                &WORKFLOW,
                "json: cannot unmarshal number 99999999999999999999 into Go struct field Workflow.version of type int",
            ),
            (
                r#"{"ephemeral":"yes"}"#,
                &WORKFLOW,
                "json: cannot unmarshal string into Go struct field Workflow.ephemeral of type bool",
            ),
            (
                r#"{"ephemeral":1}"#,
                &WORKFLOW,
                "json: cannot unmarshal number into Go struct field Workflow.ephemeral of type bool",
            ),
            (
                r#"{"name":true}"#,
                &WORKFLOW,
                "json: cannot unmarshal bool into Go struct field Workflow.name of type string",
            ),
            (
                r#"{"name":{}}"#,
                &WORKFLOW,
                "json: cannot unmarshal object into Go struct field Workflow.name of type string",
            ),
            (
                r#"{"inputParameters":[1]}"#,
                &WORKFLOW,
                "json: cannot unmarshal number into Go struct field Workflow.inputParameters of type string",
            ),
            (
                r#"{"inputParameters":{}}"#,
                &WORKFLOW,
                "json: cannot unmarshal object into Go struct field Workflow.inputParameters of type []string",
            ),
            (
                r#"{"tasks":[{"http":"x"}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal string into Go struct field Task.tasks.http of type model.HTTPTask",
            ),
            (
                r#"{"tasks":[{"http":{"headers":{"a":1}}}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal number into Go struct field HTTPTask.tasks.http.headers of type string",
            ),
            (
                r#"{"tasks":[{"http":{"json":{"a":[1e400]}}}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal number 1e400 into Go struct field HTTPTask.tasks.http.json of type float64",
            ),
            (
                r#"{"tasks":[{"http":{"statusCodes":[200,"x"]}}]}"#,
                &WORKFLOW,
                "json: cannot unmarshal string into Go struct field HTTPTask.tasks.http.statusCodes of type int",
            ),
            // After a field, the context is the outer struct again.
            (
                r#"{"tasks":[{"name":"t"}],"name":[]}"#,
                &WORKFLOW,
                "json: cannot unmarshal array into Go struct field Workflow.name of type string",
            ),
            (
                r#""x""#,
                &WORKFLOW,
                "json: cannot unmarshal string into Go value of type model.Workflow",
            ),
            (
                "[1]",
                &WORKFLOW,
                "json: cannot unmarshal array into Go value of type model.Workflow",
            ),
            (
                "[1]",
                &MAP_OF_ANY,
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            ),
            (
                "5",
                &MAP_OF_ANY,
                "json: cannot unmarshal number into Go value of type map[string]interface {}",
            ),
            (
                r#"{"a":1e400}"#,
                &MAP_OF_ANY,
                "json: cannot unmarshal number 1e400 into Go value of type float64",
            ),
            (
                "{}",
                &SLICE_OF_MAPS,
                "json: cannot unmarshal object into Go value of type []map[string]interface {}",
            ),
            (
                "[{},2]",
                &SLICE_OF_MAPS,
                "json: cannot unmarshal number into Go value of type map[string]interface {}",
            ),
            // Only the first type error counts.
            (
                r#"{"name":5,"version":"x"}"#,
                &WORKFLOW,
                "json: cannot unmarshal number into Go struct field Workflow.name of type string",
            ),
            // Syntax errors anywhere come first.
            (
                r#"{"name":5}x"#,
                &WORKFLOW,
                "invalid character 'x' after top-level value",
            ),
            ("", &WORKFLOW, "unexpected end of JSON input"),
        ] {
            assert_eq!(unmarshal_err(input, ty), want, "{input}");
        }
    }

    /// What Go's decoder keeps: keys matched case-insensitively, unknown keys skipped,
    /// `null` leaving non-nil-able fields alone, duplicates merging, UTF-8 repaired.
    #[test]
    fn values_are_what_go_holds() {
        for (input, want) in [
            (
                r#"{"NAME":"a","Version":2,"schemaversion":3,"unknown":{"x":[1,{"}":"]"}]}}"#,
                json!({"name": "a", "version": 2, "schemaVersion": 3}),
            ),
            // U+017F and the Kelvin sign fold to ASCII letters.
            (
                r#"{"ſchemaVersion":1,"tas\u212as":[]}"#,
                json!({"schemaVersion": 1, "tasks": []}),
            ),
            (r#"{"name":"a","name":null}"#, json!({"name": "a"})),
            (r#"{"version":null}"#, json!({})),
            (r#"{"tasks":[{"name":"t"}],"tasks":null}"#, json!({})),
            (
                r#"{"tasks":[{"name":"a","retries":1}],"tasks":[{"name":"b"},{}]}"#,
                json!({"tasks": [{"name": "b", "retries": 1}, {}]}),
            ),
            (
                r#"{"tasks":[null,{"http":null},{"http":{"headers":{"a":null,"b":"x"}}}]}"#,
                json!({"tasks": [{}, {}, {"http": {"headers": {"a": "", "b": "x"}}}]}),
            ),
            (
                r#"{"tasks":[{"http":{"headers":{"a":"1"}}}],"tasks":[{"http":{"headers":{"b":"2"}}}]}"#,
                json!({"tasks": [{"http": {"headers": {"a": "1", "b": "2"}}}]}),
            ),
            (
                r#"{"inputParameters":["a",null]}"#,
                json!({"inputParameters": ["a", ""]}),
            ),
            (
                r#"{"tasks":[{"http":{"json":{"n":[1,2.5,-0,1e-400,null,true,"s"]}}}]}"#,
                json!({"tasks": [{"http": {"json": {"n": [1, 2.5, -0.0, 0.0, null, true, "s"]}}}]}),
            ),
            ("null", json!({})),
        ] {
            assert_eq!(
                unmarshal(input.as_bytes(), &WORKFLOW).unwrap(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn strings_are_unquoted_like_go() {
        for (input, want) in [
            (&b"\"a\xffb\""[..], "a\u{fffd}b"),
            // Go replaces each byte of a broken sequence.
            (b"\"\xe2\x82A\"", "\u{fffd}\u{fffd}A"),
            (b"\"\xed\xa0\x80\"", "\u{fffd}\u{fffd}\u{fffd}"),
            (b"\"\xf0\x9f\x98\x80\"", "😀"),
            (b"\"\\ud83d\\ude00\"", "😀"),
            (b"\"\\ud800\"", "\u{fffd}"),
            (b"\"\\ud800x\"", "\u{fffd}x"),
            (b"\"\\ude00\\ud83d\\ude00\"", "\u{fffd}😀"),
            (b"\"\\ud83d\\u0041\"", "\u{fffd}A"),
            (
                b"\"\\u0000\\/\\b\\f\\n\\r\\t\\\\\\\"\"",
                "\0/\u{8}\u{c}\n\r\t\\\"",
            ),
        ] {
            let v = unmarshal(input, &GoType::Interface).unwrap();
            assert_eq!(
                v,
                Value::String(want.to_owned()),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        let v = unmarshal(b"{\"k\xff\":1}", &MAP_OF_ANY).unwrap();
        assert_eq!(v, json!({"k\u{fffd}": 1}));
    }

    #[test]
    fn decoder_reads_one_value() {
        for (input, want) in [
            ("", Err("EOF")),
            ("   ", Err("EOF")),
            ("{\"a\":", Err("unexpected EOF")),
            ("{\"a\":1}xyz", Ok(json!({"a": 1}))),
            ("{\"a\":1}{\"b\":2}", Ok(json!({"a": 1}))),
            ("null", Ok(Value::Null)),
            (
                "01",
                Err("json: cannot unmarshal number into Go value of type map[string]interface {}"),
            ),
            (
                "[1]x",
                Err("json: cannot unmarshal array into Go value of type map[string]interface {}"),
            ),
            ("{\"a\" 1}", Err("invalid character '1' after object key")),
        ] {
            assert_eq!(
                decode(input.as_bytes(), &MAP_OF_ANY).map_err(|e| e.to_string()),
                want.map_err(str::to_owned),
                "{input}"
            );
        }
        assert_eq!(
            decode(b"[{\"a\":1},null] trailing", &SLICE_OF_MAPS).unwrap(),
            json!([{"a": 1}, null])
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_any_recursion() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            unmarshal_err(&deep, &GoType::Interface),
            "invalid character '[' exceeded max depth"
        );
        let deep = format!("{{\"a\":{}", "[".repeat(100_000));
        assert_eq!(
            decode(deep.as_bytes(), &MAP_OF_ANY)
                .unwrap_err()
                .to_string(),
            "invalid character '[' exceeded max depth"
        );
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(unmarshal(ok.as_bytes(), &GoType::Interface).is_ok());
    }
}
