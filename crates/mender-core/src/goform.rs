//! Query strings, paths, numbers and HTML text as upstream's Go code reads and writes them,
//! with Go's error texts (upstream returns some of them verbatim in 400 bodies):
//! `url.ParseQuery`, `url.Values.Get`, `url.QueryEscape`, `url.URL.EscapedPath`,
//! `strconv.ParseInt` in base 10 and `html.EscapeString`. One copy for every crate that
//! answers like upstream.

/// Go's `strconv.Quote` for the short ASCII texts these errors quote: `"` and `\` escaped,
/// other bytes outside printable ASCII as `\xNN` (or their short escapes).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() => {
                if (c as u32) < 0x80 {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                } else if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            // Go prints other characters as they are when printable; the replacement
            // character stands for bytes that were not UTF-8 (Go would show `\xNN`).
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `url.QueryUnescape`: `%XX` escapes and `+` for space; the invalid escape as error.
fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| b.get(j).and_then(|c| char::from(*c).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(b.len());
                        let bad = String::from_utf8_lossy(&b[i..end]);
                        return Err(format!("invalid URL escape {}", quote(&bad)));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.ParseQuery`: the pairs it keeps, and the error it reports (the first bad
/// escape, or a later `;`), if any.
pub fn parse_query(raw: &str) -> (Vec<(String, String)>, Option<String>) {
    let mut pairs = Vec::new();
    let mut err: Option<String> = None;
    for part in raw.split('&') {
        if part.contains(';') {
            // Go overwrites an earlier error with this one.
            err = Some("invalid semicolon separator in query".into());
            continue;
        }
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        match (unescape(k), unescape(v)) {
            (Ok(k), Ok(v)) => pairs.push((k, v)),
            (Err(e), _) | (_, Err(e)) => {
                err.get_or_insert(e);
            }
        }
    }
    (pairs, err)
}

/// Go's `strconv.ParseInt(s, 10, 64)`, with its error text.
pub fn parse_int(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", quote(s));
    let range = || format!("strconv.ParseInt: parsing {}: value out of range", quote(s));
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    // As Go: digits accumulate as an unsigned 64-bit number, a non-digit is a syntax error
    // where it stands, an overflow a range error where it happens.
    let mut n: u64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            return Err(syntax());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or_else(range)?;
    }
    let limit = 1u64 << 63;
    match (neg, n) {
        (false, n) if n >= limit => Err(range()),
        (true, n) if n > limit => Err(range()),
        (true, n) => Ok(0i64.wrapping_sub_unsigned(n)),
        (false, n) => Ok(n as i64),
    }
}

/// The first value of `name`, `""` when absent (Go's `url.Values.Get`).
pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Whether `b` is one of RFC 3986's unreserved bytes, which Go's escapers never encode.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b if unreserved(b) => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A path as Go's `url.URL.EscapedPath` writes it (`shouldEscape` in path mode):
/// unreserved bytes and `$&+,/:;=@` stay, every other byte becomes `%XX` (upper-case hex).
pub fn escape_path(path: impl AsRef<[u8]>) -> String {
    let path = path.as_ref();
    let mut out = String::with_capacity(path.len());
    for &b in path {
        match b {
            b if unreserved(b) => out.push(char::from(b)),
            b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `html.EscapeString` (also what `net/http` applies to the link in a redirect body):
/// `&`, `<`, `>`, `"` and `'`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_is_gos() {
        let ok: &[(&str, i64)] = &[
            ("42", 42),
            ("+7", 7),
            ("+2", 2),
            ("-9223372036854775808", i64::MIN),
            ("9223372036854775807", i64::MAX),
        ];
        for (s, n) in ok {
            assert_eq!(parse_int(s), Ok(*n), "{s}");
        }
        // (input, quoted as Go quotes it, the error)
        let bad: &[(&str, &str, &str)] = &[
            ("x", "\"x\"", "invalid syntax"),
            ("", "\"\"", "invalid syntax"),
            ("-", "\"-\"", "invalid syntax"),
            ("1.5", "\"1.5\"", "invalid syntax"),
            (" 1", "\" 1\"", "invalid syntax"),
            ("1_0", "\"1_0\"", "invalid syntax"),
            ("a\"b", r#""a\"b""#, "invalid syntax"),
            (
                "9223372036854775808",
                "\"9223372036854775808\"",
                "value out of range",
            ),
            // Go accumulates unsigned: a non-digit after i64's range is still a syntax
            // error...
            (
                "9223372036854775808x",
                "\"9223372036854775808x\"",
                "invalid syntax",
            ),
            // ...and an unsigned overflow before it a range error.
            (
                "99999999999999999999x",
                "\"99999999999999999999x\"",
                "value out of range",
            ),
        ];
        for (s, quoted, what) in bad {
            assert_eq!(
                parse_int(s),
                Err(format!("strconv.ParseInt: parsing {quoted}: {what}")),
                "{s}"
            );
        }
    }

    #[test]
    fn queries_parse_like_go() {
        let (pairs, err) = parse_query("a=1&b=%41+b&&c&a=2");
        assert_eq!(
            pairs,
            [
                ("a".into(), "1".into()),
                ("b".into(), "A b".into()),
                ("c".into(), String::new()),
                ("a".into(), "2".into())
            ]
        );
        assert_eq!(err, None);
        assert_eq!(first(&pairs, "a"), "1");
        assert_eq!(first(&pairs, "zz"), "");
        let (pairs, err) = parse_query("a=%zz&b=1&c=%4");
        assert_eq!(pairs, [("b".to_owned(), "1".to_owned())]);
        assert_eq!(err.as_deref(), Some("invalid URL escape \"%zz\""));
        let (_, err) = parse_query("x=%&y=1;z=2");
        assert_eq!(err.as_deref(), Some("invalid semicolon separator in query"));
        let (_, err) = parse_query("x=%4");
        assert_eq!(err.as_deref(), Some("invalid URL escape \"%4\""));
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            query_escape("a b+c/d?e=f&g~h.i_j-kü"),
            "a+b%2Bc%2Fd%3Fe%3Df%26g~h.i_j-k%C3%BC"
        );
        assert_eq!(
            escape_path("/d/a b\n/é$&+,:;=@?"),
            "/d/a%20b%0A/%C3%A9$&+,:;=@%3F"
        );
        assert_eq!(escape_path(b"/\xff%"), "/%FF%25");
        assert_eq!(
            html_escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
