//! A JSON syntax scanner that fails exactly where Go's `encoding/json` scanner fails, with its
//! messages: `invalid character 'x' looking for beginning of value`, `unexpected end of JSON
//! input`, ... It runs byte by byte with an explicit stack (no recursion), so hostile nesting
//! costs memory proportional to the depth limit only.

use std::fmt;

/// Go's nesting limit (`maxNestingDepth`).
pub const GO_MAX_DEPTH: usize = 10_000;

/// A syntax error as Go's `json.SyntaxError`: its message, and the number of bytes read
/// when it was found (which Go does not put in the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Go's text.
    pub message: String,
    /// Bytes read, the offending one included (the input length for an early end).
    pub offset: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// What a byte did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Part of a value, or space.
    Continue,
    /// Closed an object or array.
    Close,
    /// The top-level value ended before this byte.
    End,
    /// A syntax error; see [`Scanner::error`].
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginStringOrEmpty,
    BeginString,
    InString,
    InStringEsc,
    /// Inside `\u`, with this many hex digits read.
    InStringEscU(u8),
    Neg,
    Zero,
    One,
    Dot,
    Dot0,
    E,
    ESign,
    E0,
    /// Inside `true`, `false` or `null`, at this index of the word.
    Literal(&'static [u8], usize),
    EndValue,
    EndTop,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    ObjectKey,
    ObjectValue,
    ArrayValue,
}

/// The scanner: feed it bytes with [`Scanner::step`], then [`Scanner::eof`].
pub(crate) struct Scanner {
    state: State,
    stack: Vec<Container>,
    max_depth: usize,
    end_top: bool,
    bytes: usize,
    error: Option<SyntaxError>,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl Scanner {
    /// A scanner that refuses nesting deeper than `max_depth`.
    pub(crate) fn new(max_depth: usize) -> Self {
        Self {
            state: State::BeginValue,
            stack: Vec::new(),
            max_depth,
            end_top: false,
            bytes: 0,
            error: None,
        }
    }

    /// Whether a complete top-level value has been read.
    pub(crate) fn at_top(&self) -> bool {
        self.end_top
    }

    /// The error found, if any.
    pub(crate) fn error(&self) -> Option<&SyntaxError> {
        self.error.as_ref()
    }

    /// Feeds one byte.
    pub(crate) fn step(&mut self, c: u8) -> Op {
        self.bytes += 1;
        self.dispatch(c)
    }

    /// Whether the input so far holds a complete top-level value when it ends here (Go's
    /// decoder asks this with an invented space).
    pub(crate) fn complete_at_end(&mut self) -> bool {
        self.dispatch(b' ') == Op::End
    }

    /// The end of the input: `Ok` when a complete value was read, else Go's error.
    pub(crate) fn eof(&mut self) -> Result<(), SyntaxError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.end_top {
            return Ok(());
        }
        self.dispatch(b' ');
        if self.end_top {
            return Ok(());
        }
        Err(self
            .error
            .get_or_insert_with(|| SyntaxError {
                message: "unexpected end of JSON input".to_owned(),
                offset: self.bytes,
            })
            .clone())
    }

    /// Moves to `state` and asks for the next byte: the outcome of most transitions.
    fn goto(&mut self, state: State) -> Op {
        self.state = state;
        Op::Continue
    }

    fn fail(&mut self, c: u8, context: &str) -> Op {
        self.state = State::Failed;
        self.error = Some(SyntaxError {
            message: format!("invalid character {} {context}", quote_char(c)),
            offset: self.bytes,
        });
        Op::Error
    }

    fn push(&mut self, c: u8, container: Container) -> Op {
        self.stack.push(container);
        if self.stack.len() <= self.max_depth {
            Op::Continue
        } else {
            self.fail(c, "exceeded max depth")
        }
    }

    fn pop(&mut self) -> Op {
        self.stack.pop();
        if self.stack.is_empty() {
            self.state = State::EndTop;
            self.end_top = true;
        } else {
            self.state = State::EndValue;
        }
        Op::Close
    }

    fn dispatch(&mut self, c: u8) -> Op {
        match self.state {
            State::BeginValue => self.begin_value(c),
            State::BeginValueOrEmpty => {
                if is_space(c) {
                    Op::Continue
                } else if c == b']' {
                    self.end_value(c)
                } else {
                    self.begin_value(c)
                }
            }
            State::BeginStringOrEmpty => {
                if is_space(c) {
                    Op::Continue
                } else if c == b'}' {
                    if let Some(top) = self.stack.last_mut() {
                        *top = Container::ObjectValue;
                    }
                    self.end_value(c)
                } else {
                    self.begin_string(c)
                }
            }
            State::BeginString => self.begin_string(c),
            State::InString => {
                match c {
                    b'"' => self.state = State::EndValue,
                    b'\\' => self.state = State::InStringEsc,
                    c if c < 0x20 => return self.fail(c, "in string literal"),
                    _ => {}
                }
                Op::Continue
            }
            State::InStringEsc => match c {
                b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {
                    self.goto(State::InString)
                }
                b'u' => self.goto(State::InStringEscU(0)),
                _ => self.fail(c, "in string escape code"),
            },
            State::InStringEscU(n) => {
                if c.is_ascii_hexdigit() {
                    self.goto(if n == 3 {
                        State::InString
                    } else {
                        State::InStringEscU(n + 1)
                    })
                } else {
                    self.fail(c, "in \\u hexadecimal character escape")
                }
            }
            State::Neg => match c {
                b'0' => self.goto(State::Zero),
                b'1'..=b'9' => self.goto(State::One),
                _ => self.fail(c, "in numeric literal"),
            },
            State::One if c.is_ascii_digit() => Op::Continue,
            State::One | State::Zero => match c {
                b'.' => self.goto(State::Dot),
                b'e' | b'E' => self.goto(State::E),
                _ => self.end_value(c),
            },
            State::Dot => {
                if c.is_ascii_digit() {
                    self.goto(State::Dot0)
                } else {
                    self.fail(c, "after decimal point in numeric literal")
                }
            }
            State::Dot0 => match c {
                b'0'..=b'9' => Op::Continue,
                b'e' | b'E' => self.goto(State::E),
                _ => self.end_value(c),
            },
            State::E if c == b'+' || c == b'-' => self.goto(State::ESign),
            State::E | State::ESign => {
                if c.is_ascii_digit() {
                    self.goto(State::E0)
                } else {
                    self.fail(c, "in exponent of numeric literal")
                }
            }
            State::E0 => {
                if c.is_ascii_digit() {
                    Op::Continue
                } else {
                    self.end_value(c)
                }
            }
            State::Literal(word, i) => {
                let want = word.get(i).copied().unwrap_or(b' ');
                if c != want {
                    let name = String::from_utf8_lossy(word);
                    let context = format!("in literal {name} (expecting '{}')", char::from(want));
                    return self.fail(c, &context);
                }
                self.goto(if i + 1 == word.len() {
                    State::EndValue
                } else {
                    State::Literal(word, i + 1)
                })
            }
            State::EndValue => self.end_value(c),
            State::EndTop => {
                if !is_space(c) {
                    // Go complains now but reports the end first: a decoder stops here.
                    self.fail(c, "after top-level value");
                }
                Op::End
            }
            State::Failed => Op::Error,
        }
    }

    fn begin_value(&mut self, c: u8) -> Op {
        if is_space(c) {
            return Op::Continue;
        }
        match c {
            b'{' => {
                self.state = State::BeginStringOrEmpty;
                self.push(c, Container::ObjectKey)
            }
            b'[' => {
                self.state = State::BeginValueOrEmpty;
                self.push(c, Container::ArrayValue)
            }
            b'"' => self.goto(State::InString),
            b'-' => self.goto(State::Neg),
            b'0' => self.goto(State::Zero),
            b'1'..=b'9' => self.goto(State::One),
            b't' => self.goto(State::Literal(b"true", 1)),
            b'f' => self.goto(State::Literal(b"false", 1)),
            b'n' => self.goto(State::Literal(b"null", 1)),
            _ => self.fail(c, "looking for beginning of value"),
        }
    }

    fn begin_string(&mut self, c: u8) -> Op {
        if is_space(c) {
            Op::Continue
        } else if c == b'"' {
            self.goto(State::InString)
        } else {
            self.fail(c, "looking for beginning of object key string")
        }
    }

    fn end_value(&mut self, c: u8) -> Op {
        let Some(&top) = self.stack.last() else {
            // The top-level value ended before this byte.
            self.state = State::EndTop;
            self.end_top = true;
            return self.dispatch(c);
        };
        if is_space(c) {
            return self.goto(State::EndValue);
        }
        match (top, c) {
            (Container::ObjectKey, b':') => {
                if let Some(t) = self.stack.last_mut() {
                    *t = Container::ObjectValue;
                }
                self.goto(State::BeginValue)
            }
            (Container::ObjectKey, _) => self.fail(c, "after object key"),
            (Container::ObjectValue, b',') => {
                if let Some(t) = self.stack.last_mut() {
                    *t = Container::ObjectKey;
                }
                self.goto(State::BeginString)
            }
            (Container::ObjectValue, b'}') | (Container::ArrayValue, b']') => self.pop(),
            (Container::ObjectValue, _) => self.fail(c, "after object key:value pair"),
            (Container::ArrayValue, b',') => self.goto(State::BeginValue),
            (Container::ArrayValue, _) => self.fail(c, "after array element"),
        }
    }
}

/// Go's `quoteChar`: the offending byte, taken as a code point U+0000–U+00FF, quoted like
/// `strconv.Quote` between single quotes (`'\''` and `'"'` are special cases).
pub fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        b'\\' => "'\\\\'".to_owned(),
        0x07 => "'\\a'".to_owned(),
        0x08 => "'\\b'".to_owned(),
        0x0c => "'\\f'".to_owned(),
        b'\n' => "'\\n'".to_owned(),
        b'\r' => "'\\r'".to_owned(),
        b'\t' => "'\\t'".to_owned(),
        0x0b => "'\\v'".to_owned(),
        // Printable per Go's `strconv.IsPrint` below U+0100.
        0x20..=0x7e => format!("'{}'", char::from(c)),
        0xa1..=0xff if c != 0xad => format!("'{}'", char::from(c)),
        0x00..=0x1f | 0x7f => format!("'\\x{c:02x}'"),
        _ => format!("'\\u{:04x}'", u32::from(c)),
    }
}

/// Like Go's `json.Valid` but with the error: `Ok` when `input` is exactly one JSON value
/// (with surrounding space), else the error `json.Unmarshal` reports, before any type check.
pub fn check(input: &[u8], max_depth: usize) -> Result<(), SyntaxError> {
    let mut scan = Scanner::new(max_depth);
    for &c in input {
        if scan.step(c) == Op::Error {
            return Err(scan.error().cloned().unwrap_or_else(|| SyntaxError {
                message: String::new(),
                offset: 0,
            }));
        }
    }
    scan.eof()
}

/// How Go's `json.Decoder` reads its first value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing but space: `EOF`.
    Eof,
    /// The input ends inside a value: `unexpected EOF`.
    UnexpectedEof,
    /// A syntax error inside the first value.
    Syntax(SyntaxError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Eof => f.write_str("EOF"),
            ReadError::UnexpectedEof => f.write_str("unexpected EOF"),
            ReadError::Syntax(e) => e.fmt(f),
        }
    }
}

/// The length of the first JSON value in `input` as Go's `json.Decoder` reads it: whatever
/// follows a complete value is left unread (so `{"a":1}xyz` and `01` are accepted, as
/// `{"a":1}` and `0`).
pub fn first_value(input: &[u8], max_depth: usize) -> Result<usize, ReadError> {
    let mut scan = Scanner::new(max_depth);
    for (i, &c) in input.iter().enumerate() {
        match scan.step(c) {
            Op::End => return Ok(i),
            Op::Close => {
                if scan.at_top() {
                    return Ok(i + 1);
                }
            }
            Op::Error => {
                return Err(ReadError::Syntax(scan.error().cloned().unwrap_or_else(
                    || SyntaxError {
                        message: String::new(),
                        offset: 0,
                    },
                )));
            }
            Op::Continue => {}
        }
    }
    if scan.complete_at_end() {
        Ok(input.len())
    } else if input.iter().any(|&c| !is_space(c)) {
        Err(ReadError::UnexpectedEof)
    } else {
        Err(ReadError::Eof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Input, and the error text Go's `json.Unmarshal` gives for it ("" when valid).
    const UNMARSHAL: &[(&[u8], &str)] = &[
        (b"", "unexpected end of JSON input"),
        (b"  \n\t", "unexpected end of JSON input"),
        (b"{", "unexpected end of JSON input"),
        (b"{\"a\":", "unexpected end of JSON input"),
        (b"{\"a\"", "unexpected end of JSON input"),
        (b"[1,2", "unexpected end of JSON input"),
        (b"\"abc", "unexpected end of JSON input"),
        (b"[2, 3", "unexpected end of JSON input"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b"{\"a\" 1}", "invalid character '1' after object key"),
        (
            b"{\"X\": \"foo\", \"Y\"}",
            "invalid character '}' after object key",
        ),
        (
            b"{\"a\":1 \"b\":2}",
            "invalid character '\"' after object key:value pair",
        ),
        (
            b"{\"X\":12x}",
            "invalid character 'x' after object key:value pair",
        ),
        (
            b"{\"a\":1,}",
            "invalid character '}' looking for beginning of object key string",
        ),
        (
            b"{tesste: 1}",
            "invalid character 't' looking for beginning of object key string",
        ),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"[1, 2, 3+]", "invalid character '+' after array element"),
        (
            b"[1,]",
            "invalid character ']' looking for beginning of value",
        ),
        (b"{\"a\":1}x", "invalid character 'x' after top-level value"),
        (b"{} {}", "invalid character '{' after top-level value"),
        (b"01", "invalid character '1' after top-level value"),
        (b"1 x", "invalid character 'x' after top-level value"),
        (
            b"\"a\"\"b\"",
            "invalid character '\"' after top-level value",
        ),
        // At the end of the input Go feeds the scanner one space: an unfinished literal
        // complains about that space.
        (b"-", "invalid character ' ' in numeric literal"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b"{\"F3\": -}", "invalid character '}' in numeric literal"),
        (
            b"1.",
            "invalid character ' ' after decimal point in numeric literal",
        ),
        (
            b"1.e5",
            "invalid character 'e' after decimal point in numeric literal",
        ),
        (
            b"1e",
            "invalid character ' ' in exponent of numeric literal",
        ),
        (
            b"1e+",
            "invalid character ' ' in exponent of numeric literal",
        ),
        (
            b"1ex",
            "invalid character 'x' in exponent of numeric literal",
        ),
        (
            b"tru",
            "invalid character ' ' in literal true (expecting 'e')",
        ),
        (
            b"tx",
            "invalid character 'x' in literal true (expecting 'r')",
        ),
        (
            b"trUe",
            "invalid character 'U' in literal true (expecting 'u')",
        ),
        (
            b"fals",
            "invalid character ' ' in literal false (expecting 'e')",
        ),
        (
            b"fx",
            "invalid character 'x' in literal false (expecting 'a')",
        ),
        (
            b"fax",
            "invalid character 'x' in literal false (expecting 'l')",
        ),
        (
            b"falx",
            "invalid character 'x' in literal false (expecting 's')",
        ),
        (
            b"nx",
            "invalid character 'x' in literal null (expecting 'u')",
        ),
        (
            b"nux",
            "invalid character 'x' in literal null (expecting 'l')",
        ),
        (
            b"nulx",
            "invalid character 'x' in literal null (expecting 'l')",
        ),
        (b"\"\\", "invalid character ' ' in string escape code"),
        (b"\"\\q\"", "invalid character 'q' in string escape code"),
        (
            b"\"\\u12x4\"",
            "invalid character 'x' in \\u hexadecimal character escape",
        ),
        (
            b"\"\\u12",
            "invalid character ' ' in \\u hexadecimal character escape",
        ),
        (b"\"a\nb\"", "invalid character '\\n' in string literal"),
        (b"\"a\x01b\"", "invalid character '\\x01' in string literal"),
        (b"\"\t\"", "invalid character '\\t' in string literal"),
        // How the offending byte is quoted.
        (
            b"'a'",
            "invalid character '\\'' looking for beginning of value",
        ),
        (
            b"\\",
            "invalid character '\\\\' looking for beginning of value",
        ),
        (
            b"<html>",
            "invalid character '<' looking for beginning of value",
        ),
        (
            b"\x00",
            "invalid character '\\x00' looking for beginning of value",
        ),
        (
            b"\x07",
            "invalid character '\\a' looking for beginning of value",
        ),
        (
            b"\x08",
            "invalid character '\\b' looking for beginning of value",
        ),
        (
            b"\x0b",
            "invalid character '\\v' looking for beginning of value",
        ),
        (
            b"\x0c",
            "invalid character '\\f' looking for beginning of value",
        ),
        (
            b"\x1f",
            "invalid character '\\x1f' looking for beginning of value",
        ),
        (
            b"\x7f",
            "invalid character '\\x7f' looking for beginning of value",
        ),
        (
            b"\x80",
            "invalid character '\\u0080' looking for beginning of value",
        ),
        (
            b"\x9f",
            "invalid character '\\u009f' looking for beginning of value",
        ),
        (
            b"\xa0",
            "invalid character '\\u00a0' looking for beginning of value",
        ),
        (
            b"\xa1",
            "invalid character '¡' looking for beginning of value",
        ),
        (
            b"\xad",
            "invalid character '\\u00ad' looking for beginning of value",
        ),
        (
            b"\xff",
            "invalid character 'ÿ' looking for beginning of value",
        ),
        // A UTF-8 byte order mark: its first byte read as Latin-1.
        (
            b"\xef\xbb\xbf{}",
            "invalid character 'ï' looking for beginning of value",
        ),
        (b"[\"\xe9\"]", ""),
        (b"{}", ""),
        (b" [1, -0.5e+3, true, false, null, \"\\u00e9\\n\"] ", ""),
        (b"12", ""),
        (b"-0", ""),
    ];

    #[test]
    fn unmarshal_syntax_errors_are_gos() {
        for (input, want) in UNMARSHAL {
            let got = check(input, GO_MAX_DEPTH).err().map(|e| e.message);
            assert_eq!(
                got.as_deref().unwrap_or(""),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn offsets_count_bytes_read() {
        for (input, offset) in [
            (&b"[1, 2, 3+]"[..], 9),
            (b"{\"X\":12x}", 8),
            (b"[2, 3", 5),
            (b"{\"F3\": -}", 9),
            (b"-", 1),
        ] {
            assert_eq!(check(input, GO_MAX_DEPTH).unwrap_err().offset, offset);
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error() {
        let ok = format!("{}{}", "[".repeat(GO_MAX_DEPTH), "]".repeat(GO_MAX_DEPTH));
        assert_eq!(check(ok.as_bytes(), GO_MAX_DEPTH), Ok(()));
        let deep = format!(
            "{}{}",
            "[".repeat(GO_MAX_DEPTH + 1),
            "]".repeat(GO_MAX_DEPTH + 1)
        );
        assert_eq!(
            check(deep.as_bytes(), GO_MAX_DEPTH).unwrap_err().message,
            "invalid character '[' exceeded max depth"
        );
        let deep = "{\"a\":".repeat(5);
        assert_eq!(
            check(deep.as_bytes(), 4).unwrap_err().message,
            "invalid character '{' exceeded max depth"
        );
    }

    /// Input, and what Go's `json.Decoder` reads first: the value's length, or its error.
    #[test]
    fn decoder_reads_the_first_value() {
        for (input, want) in [
            (&b""[..], Err("EOF")),
            (b" \n ", Err("EOF")),
            (b"{\"a\":", Err("unexpected EOF")),
            (b"{\"a\":1", Err("unexpected EOF")),
            (b"-", Err("unexpected EOF")),
            (b"nul", Err("unexpected EOF")),
            (b"\"abc", Err("unexpected EOF")),
            (b"[1,", Err("unexpected EOF")),
            (
                b"{\"a\":- 1",
                Err("invalid character ' ' in numeric literal"),
            ),
            (
                b"x",
                Err("invalid character 'x' looking for beginning of value"),
            ),
            (b"{\"a\" 1}", Err("invalid character '1' after object key")),
            (b"{\"a\":1}xyz", Ok(7)),
            (b"{\"a\":1} {", Ok(7)),
            (b"01", Ok(1)),
            (b"1x", Ok(1)),
            (b"123", Ok(3)),
            (b" 12 ", Ok(3)),
            (b"\"a\"x", Ok(3)),
            (b"[1] [", Ok(3)),
            (b"true", Ok(4)),
            (b"truex", Ok(4)),
        ] {
            let got = first_value(input, GO_MAX_DEPTH).map_err(|e| e.to_string());
            assert_eq!(
                got,
                want.map_err(str::to_owned),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
