//! Query strings as upstream's Go handlers read them, with Go's error texts (which upstream
//! returns verbatim in 400 bodies): `url.ParseQuery` (the first problem reported, pairs with
//! a problem skipped), `strconv.ParseInt` in base 10, and the `page`/`per_page` rules of
//! upstream's `ParsePagingParameters`.

use mender_core::ApiError;
use mender_core::paging::{DEFAULT_PER_PAGE, MAX_PER_PAGE, Page};

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
pub(crate) fn parse_query(raw: &str) -> (Vec<(String, String)>, Option<String>) {
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
pub(crate) fn parse_int(s: &str) -> Result<i64, String> {
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
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Upstream's `ParsePagingParameters` over a raw query string (Go's `URL.Query`, which drops
/// malformed pairs silently): defaults 1 and 20, 400 for a value that is not an integer, is
/// below 1, or a `per_page` above 500.
pub(crate) fn paging(raw: &str) -> Result<Page, ApiError> {
    let (pairs, _) = parse_query(raw);
    let value = |name: &str, default: u64| -> Result<u64, ApiError> {
        let v = first(&pairs, name);
        if v.is_empty() {
            return Ok(default);
        }
        let n = parse_int(v)
            .map_err(|_| ApiError::bad_request(format!("invalid {name} query: \"{v}\"")))?;
        u64::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid {name} query: value must be a non-zero positive integer"
            ))
        })
    };
    let page = value("page", 1)?;
    let per_page = value("per_page", DEFAULT_PER_PAGE)?;
    if per_page > MAX_PER_PAGE {
        return Err(ApiError::bad_request(format!(
            "parameter \"per_page\" above limit (max: {MAX_PER_PAGE})"
        )));
    }
    Ok(Page { page, per_page })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_is_gos() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775807"), Ok(i64::MAX));
        let err = |s: &str, what: &str| Err(format!("strconv.ParseInt: parsing {s}: {what}"));
        assert_eq!(parse_int("x"), err("\"x\"", "invalid syntax"));
        assert_eq!(parse_int(""), err("\"\"", "invalid syntax"));
        assert_eq!(parse_int("-"), err("\"-\"", "invalid syntax"));
        assert_eq!(parse_int("1.5"), err("\"1.5\"", "invalid syntax"));
        assert_eq!(parse_int(" 1"), err("\" 1\"", "invalid syntax"));
        assert_eq!(parse_int("1_0"), err("\"1_0\"", "invalid syntax"));
        assert_eq!(parse_int("a\"b"), err(r#""a\"b""#, "invalid syntax"));
        assert_eq!(
            parse_int("9223372036854775808"),
            err("\"9223372036854775808\"", "value out of range")
        );
        // Go accumulates unsigned: a non-digit after i64's range is still a syntax error...
        assert_eq!(
            parse_int("9223372036854775808x"),
            err("\"9223372036854775808x\"", "invalid syntax")
        );
        // ...and an unsigned overflow before it a range error.
        assert_eq!(
            parse_int("99999999999999999999x"),
            err("\"99999999999999999999x\"", "value out of range")
        );
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
        let (pairs, err) = parse_query("a=%zz&b=1&c=%4");
        assert_eq!(pairs, [("b".to_owned(), "1".to_owned())]);
        assert_eq!(err.as_deref(), Some("invalid URL escape \"%zz\""));
        let (_, err) = parse_query("x=%&y=1;z=2");
        assert_eq!(err.as_deref(), Some("invalid semicolon separator in query"));
        let (_, err) = parse_query("x=%4");
        assert_eq!(err.as_deref(), Some("invalid URL escape \"%4\""));
    }

    #[test]
    fn paging_texts_are_upstreams() {
        let msg = |q: &str| paging(q).unwrap_err().message;
        assert_eq!(paging("").unwrap(), Page::default());
        assert_eq!(
            paging("page=3&per_page=500&page=x").unwrap(),
            Page {
                page: 3,
                per_page: 500
            }
        );
        // Go's URL.Query drops a malformed pair: the default applies.
        assert_eq!(paging("page=%zz").unwrap(), Page::default());
        assert_eq!(msg("page=x"), "invalid page query: \"x\"");
        assert_eq!(
            msg("page=0"),
            "invalid page query: value must be a non-zero positive integer"
        );
        assert_eq!(
            msg("per_page=-1"),
            "invalid per_page query: value must be a non-zero positive integer"
        );
        assert_eq!(msg("per_page=1.5"), "invalid per_page query: \"1.5\"");
        assert_eq!(
            msg("per_page=501"),
            "parameter \"per_page\" above limit (max: 500)"
        );
    }
}
