//! Go's text forms where upstream's inventory shows them to clients: `time.Parse` with the
//! `RFC3339` and `RFC1123` layouts (which values it accepts, what instant they mean, and the
//! exact error text), the stricter RFC 3339 reading of JSON times, and `fmt`'s `%v` of a JSON
//! value. Upstream answers these errors verbatim in 400 bodies, so clients and scripts may
//! match on them.
//!
//! Written from the documented behaviour of Go's `time` and `strconv` packages; only the
//! layout elements the two layouts use are implemented.

use mender_core::Timestamp;
use serde_json::Value;

/// Go's `time.RFC3339` layout text.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
/// Go's `time.RFC1123` layout text (HTTP dates: `Mon, 02 Jan 2006 15:04:05 GMT`).
pub const RFC1123: &str = "Mon, 02 Jan 2006 15:04:05 MST";

/// The layout elements `RFC3339` and `RFC1123` are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    /// `2006`
    LongYear,
    /// `01`
    ZeroMonth,
    /// `02`
    ZeroDay,
    /// `15`
    Hour,
    /// `04`
    ZeroMinute,
    /// `05`
    ZeroSecond,
    /// `Z07:00`
    ColonTz,
    /// `Mon`
    WeekDay,
    /// `Jan`
    MonthName,
    /// `MST`
    ZoneName,
}

/// One layout chunk: the literal text before an element, the element and its layout text.
type Chunk = (&'static str, Elem, &'static str);

const RFC3339_CHUNKS: [Chunk; 7] = [
    ("", Elem::LongYear, "2006"),
    ("-", Elem::ZeroMonth, "01"),
    ("-", Elem::ZeroDay, "02"),
    ("T", Elem::Hour, "15"),
    (":", Elem::ZeroMinute, "04"),
    (":", Elem::ZeroSecond, "05"),
    ("", Elem::ColonTz, "Z07:00"),
];

const RFC1123_CHUNKS: [Chunk; 8] = [
    ("", Elem::WeekDay, "Mon"),
    (", ", Elem::ZeroDay, "02"),
    (" ", Elem::MonthName, "Jan"),
    (" ", Elem::LongYear, "2006"),
    (" ", Elem::Hour, "15"),
    (":", Elem::ZeroMinute, "04"),
    (":", Elem::ZeroSecond, "05"),
    (" ", Elem::ZoneName, "MST"),
];

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Go's `time` quoting in error texts: every byte outside printable ASCII as `\xNN`.
fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        if !(b' '..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

/// `parsing time "v" as "layout": cannot parse "elem" as "layout elem"`.
fn cannot_parse(layout: &str, value: &[u8], value_elem: &[u8], layout_elem: &str) -> String {
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        quote(value),
        quote(layout.as_bytes()),
        quote(value_elem),
        quote(layout_elem.as_bytes())
    )
}

/// `parsing time "v": message`.
fn with_message(value: &[u8], message: &str) -> String {
    format!("parsing time {}{message}", quote(value))
}

fn digit(s: &[u8], i: usize) -> Option<i64> {
    s.get(i)
        .filter(|b| b.is_ascii_digit())
        .map(|b| i64::from(b - b'0'))
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let first = digit(s, 0)?;
    match digit(s, 1) {
        Some(second) => Some((first * 10 + second, &s[2..])),
        None if fixed => None,
        None => Some((first, &s[1..])),
    }
}

/// Go's `skip`: the literal prefix (a space matches any run of spaces); on a mismatch, the
/// value where matching stopped.
fn skip<'a>(mut value: &'a [u8], prefix: &str) -> Result<&'a [u8], &'a [u8]> {
    let mut prefix = prefix.as_bytes();
    let cut = |s: &'a [u8]| -> &'a [u8] {
        let n = s.iter().take_while(|b| **b == b' ').count();
        &s[n..]
    };
    while let Some(&p) = prefix.first() {
        if p == b' ' {
            if value.first().is_some_and(|b| *b != b' ') {
                return Err(value);
            }
            let n = prefix.iter().take_while(|b| **b == b' ').count();
            prefix = &prefix[n..];
            value = cut(value);
            continue;
        }
        if value.first() != Some(&p) {
            return Err(value);
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Ok(value)
}

/// Go's `lookup`: a case-insensitive (ASCII) match of one of the names at the start.
fn lookup<'a>(names: &[&str], value: &'a [u8]) -> Option<(usize, &'a [u8])> {
    names.iter().enumerate().find_map(|(i, name)| {
        let n = name.len();
        (value.len() >= n && value[..n].eq_ignore_ascii_case(name.as_bytes()))
            .then(|| (i, &value[n..]))
    })
}

/// Go's `parseSignedOffset`: the length of `+h`/`-hh` (hours at most 23), 0 when none.
fn signed_offset_len(value: &[u8]) -> usize {
    if !matches!(value.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = value[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return 0;
    }
    let hours = value[1..=digits].iter().try_fold(0i64, |n, b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    });
    match hours {
        Some(h) if h <= 23 => 1 + digits,
        _ => 0,
    }
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start, if it looks like one.
fn zone_len(value: &[u8]) -> Option<usize> {
    if value.len() < 3 {
        return None;
    }
    if value.len() >= 4 && (&value[..4] == b"ChST" || &value[..4] == b"MeST") {
        return Some(4);
    }
    if &value[..3] == b"GMT" {
        return Some(3 + signed_offset_len(&value[3..]));
    }
    if matches!(value[0], b'+' | b'-') {
        return Some(signed_offset_len(value)).filter(|n| *n > 0);
    }
    let upper = value
        .iter()
        .take(6)
        .take_while(|b| b.is_ascii_uppercase())
        .count();
    match upper {
        3 => Some(3),
        4 if value[3] == b'T' || &value[..4] == b"WITA" => Some(4),
        5 if value[4] == b'T' => Some(5),
        _ => None,
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The fields a parse found; the instant is their wall time minus `offset` seconds.
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
    offset: i64,
}

impl Fields {
    fn timestamp(&self) -> Option<Timestamp> {
        let month = time::Month::try_from(u8::try_from(self.month).ok()?).ok()?;
        let date = time::Date::from_calendar_date(
            i32::try_from(self.year).ok()?,
            month,
            u8::try_from(self.day).ok()?,
        )
        .ok()?;
        let at = date
            .with_hms_nano(
                u8::try_from(self.hour).ok()?,
                u8::try_from(self.minute).ok()?,
                u8::try_from(self.second).ok()?,
                u32::try_from(self.nanos).ok()?,
            )
            .ok()?
            .assume_utc()
            - time::Duration::seconds(self.offset);
        Some(Timestamp::from_datetime(at))
    }
}

/// Digits after a `.` or `,` following the seconds, as nanoseconds (at most nine digits count).
fn fraction(value: &[u8]) -> Option<(i64, &[u8])> {
    if value.len() < 2 || !matches!(value[0], b'.' | b',') || !value[1].is_ascii_digit() {
        return None;
    }
    let n = 1 + value[1..].iter().take_while(|b| b.is_ascii_digit()).count();
    let used = &value[1..n.min(10)];
    let mut nanos = used
        .iter()
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    for _ in used.len()..9 {
        nanos *= 10;
    }
    Some((nanos, &value[n..]))
}

/// A one- or two-digit field (two when `fixed`) of [`parse_fields`]: stores it in `out` and
/// moves `value` past it. A number outside `valid` still parses, but names itself in `range`,
/// since Go reports the range only after the whole element matched.
fn number(
    value: &mut &[u8],
    fixed: bool,
    out: &mut i64,
    range: &mut Option<&'static str>,
    name: &'static str,
    valid: impl Fn(i64) -> bool,
) -> bool {
    getnum(value, fixed).is_some_and(|(n, rest)| {
        *out = n;
        *value = rest;
        if !valid(n) {
            *range = Some(name);
        }
        true
    })
}

/// Go's `time.Parse` for one of the two layouts: the fields, or Go's error text.
fn parse_fields(layout: &str, chunks: &[Chunk], avalue: &[u8]) -> Result<Fields, String> {
    let mut f = Fields {
        year: 0,
        month: -1,
        day: -1,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset: 0,
    };
    let mut value = avalue;
    for &(prefix, elem, elem_text) in chunks {
        value = skip(value, prefix).map_err(|rest| cannot_parse(layout, avalue, rest, prefix))?;
        let hold = value;
        let mut range: Option<&str> = None;
        let ok = match elem {
            Elem::LongYear => {
                if value.len() >= 4 && value[..4].iter().all(u8::is_ascii_digit) {
                    f.year = value[..4]
                        .iter()
                        .fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
                    value = &value[4..];
                    true
                } else {
                    false
                }
            }
            Elem::ZeroMonth => number(&mut value, true, &mut f.month, &mut range, "month", |m| {
                (1..=12).contains(&m)
            }),
            Elem::ZeroDay => number(&mut value, true, &mut f.day, &mut range, "day", |_| true),
            Elem::Hour => number(&mut value, false, &mut f.hour, &mut range, "hour", |h| {
                h < 24
            }),
            Elem::ZeroMinute => {
                number(&mut value, true, &mut f.minute, &mut range, "minute", |m| {
                    m < 60
                })
            }
            Elem::ZeroSecond => {
                let ok = number(&mut value, true, &mut f.second, &mut range, "second", |s| {
                    s < 60
                });
                // A fraction only follows seconds that are in range.
                if ok
                    && range.is_none()
                    && let Some((nanos, rest)) = fraction(value)
                {
                    f.nanos = nanos;
                    value = rest;
                }
                ok
            }
            Elem::ColonTz => {
                if value.first() == Some(&b'Z') {
                    value = &value[1..];
                    true
                } else if value.len() < 6 || value[3] != b':' {
                    false
                } else {
                    let (sign, hh, mm) = (value[0], &value[1..3], &value[4..6]);
                    value = &value[6..];
                    // As Go: a field that is not two digits counts as 0 for the range checks,
                    // which come before the syntax error.
                    let h = getnum(hh, true).map(|(n, _)| n);
                    let m = h.and_then(|_| getnum(mm, true).map(|(n, _)| n));
                    let (hv, mv) = (h.unwrap_or(0), m.unwrap_or(0));
                    if hv > 24 {
                        range = Some("time zone offset hour");
                    }
                    if mv > 60 {
                        range = Some("time zone offset minute");
                    }
                    f.offset = (hv * 60 + mv) * 60;
                    match sign {
                        _ if m.is_none() => false,
                        b'+' => true,
                        b'-' => {
                            f.offset = -f.offset;
                            true
                        }
                        _ => false,
                    }
                }
            }
            Elem::WeekDay => lookup(&DAY_NAMES, value).is_some_and(|(_, rest)| {
                value = rest;
                true
            }),
            Elem::MonthName => lookup(&MONTH_NAMES, value).is_some_and(|(i, rest)| {
                f.month = i as i64 + 1;
                value = rest;
                true
            }),
            Elem::ZoneName => {
                if value.starts_with(b"UTC") {
                    value = &value[3..];
                    true
                } else if let Some(n) = zone_len(value) {
                    // Go keeps the wall time of an unknown zone as UTC (only the zone's name
                    // changes), which is what every abbreviation but the local zone's is.
                    value = &value[n..];
                    true
                } else {
                    false
                }
            }
        };
        if let Some(what) = range {
            return Err(with_message(avalue, &format!(": {what} out of range")));
        }
        if !ok {
            return Err(cannot_parse(layout, avalue, hold, elem_text));
        }
    }
    if !value.is_empty() {
        return Err(with_message(
            avalue,
            &format!(": extra text: {}", quote(value)),
        ));
    }
    if f.day < 1 || f.day > days_in(f.month, f.year) {
        return Err(with_message(avalue, ": day out of range"));
    }
    Ok(f)
}

fn parse(layout: &str, chunks: &[Chunk], value: &str) -> Result<Timestamp, String> {
    let f = parse_fields(layout, chunks, value.as_bytes())?;
    f.timestamp()
        .ok_or_else(|| with_message(value.as_bytes(), ": out of range"))
}

/// Go's `time.Parse(time.RFC3339, value)`.
pub fn parse_rfc3339(value: &str) -> Result<Timestamp, String> {
    parse(RFC3339, &RFC3339_CHUNKS, value)
}

/// Go's `time.Parse(time.RFC1123, value)`. Zone abbreviations do not move the instant, as in
/// Go (which knows no offsets for them), so `GMT`, `UTC` and `EST` all read as UTC.
pub fn parse_rfc1123(value: &str) -> Result<Timestamp, String> {
    parse(RFC1123, &RFC1123_CHUNKS, value)
}

/// Go's fast RFC 3339 reader, which `time.Time`'s JSON decoding tries first: two-digit
/// fields in fixed places, a `.` fraction, `Z` or a `±hh:mm` offset within a day.
fn fast_rfc3339(s: &[u8]) -> Option<Fields> {
    if s.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>, min: i64, max: i64| -> Option<i64> {
        let n = s[r].iter().try_fold(0i64, |acc, b| {
            b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
        })?;
        (min..=max).contains(&n).then_some(n)
    };
    let year = num(0..4, 0, 9999)?;
    let month = num(5..7, 1, 12)?;
    let day = num(8..10, 1, days_in(month, year))?;
    let hour = num(11..13, 0, 23)?;
    let minute = num(14..16, 0, 59)?;
    let second = num(17..19, 0, 59)?;
    if !(s[4] == b'-' && s[7] == b'-' && s[10] == b'T' && s[13] == b':' && s[16] == b':') {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0;
    if rest.first() == Some(&b'.')
        && let Some((n, r)) = fraction(rest)
    {
        nanos = n;
        rest = r;
    }
    let offset = if rest == b"Z" {
        0
    } else {
        if rest.len() != 6 || rest[3] != b':' {
            return None;
        }
        let tz = |r: std::ops::Range<usize>, max: i64| -> Option<i64> {
            let n = rest[r].iter().try_fold(0i64, |acc, b| {
                b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
            })?;
            (n <= max).then_some(n)
        };
        let secs = (tz(1..3, 23)? * 60 + tz(4..6, 59)?) * 60;
        match rest[0] {
            b'+' => secs,
            b'-' => -secs,
            _ => return None,
        }
    };
    Some(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
        offset,
    })
}

/// How Go's `time.Time` reads a JSON string: the fast reader, else `time.Parse` and the checks
/// it cannot express (two-digit hour, `.` before the fraction, offset within range).
pub fn parse_json_time(value: &str) -> Result<Timestamp, String> {
    let b = value.as_bytes();
    if let Some(t) = fast_rfc3339(b).and_then(|f| f.timestamp()) {
        return Ok(t);
    }
    parse_rfc3339(value)?;
    let num2 =
        |s: &[u8]| i64::from(s[0].wrapping_sub(b'0')) * 10 + i64::from(s[1].wrapping_sub(b'0'));
    // Parse succeeded, so the value is at least "2006-01-02T1:04:05Z" long.
    let n = b.len();
    Err(if b[12] == b':' {
        cannot_parse(RFC3339, b, &b[11..12], "15")
    } else if n > 19 && b[19] == b',' {
        cannot_parse(RFC3339, b, b",", ".")
    } else if b[n - 1] != b'Z' && num2(&b[n - 5..]) >= 24 {
        with_message(b, ": timezone hour out of range")
    } else if b[n - 1] != b'Z' && num2(&b[n - 2..]) >= 60 {
        with_message(b, ": timezone minute out of range")
    } else {
        cannot_parse(RFC3339, b, b, RFC3339)
    })
}

/// `fmt.Sprintf("%v", v)` of a value decoded from JSON (strings, numbers and arrays of them).
pub fn sprint(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), format_g),
        Value::Bool(b) => b.to_string(),
        Value::Null => "<nil>".to_owned(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(sprint).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", sprint(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`strconv` `'g'` with the shortest digits): exponent form when the
/// decimal exponent is below -4 or at least 6 (`1e+06`), plain otherwise.
pub fn format_g(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".to_owned()
        } else if f > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like Go's.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    let sign = if f < 0.0 { "-" } else { "" };
    let nd = digits.len() as i64;
    let digit_at = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |d| char::from(*d))
    };
    if !(-4..6).contains(&exp) {
        let mut out = String::from(sign);
        out.push(digit_at(0));
        if nd > 1 {
            out.push('.');
            (1..nd).for_each(|i| out.push(digit_at(i)));
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
        out
    } else {
        // Decimal point after `dp` digits.
        let dp = exp + 1;
        let mut out = String::from(sign);
        if dp > 0 {
            (0..dp).for_each(|i| out.push(digit_at(i)));
        } else {
            out.push('0');
        }
        let decimals = (nd - dp).max(0);
        if decimals > 0 {
            out.push('.');
            (0..decimals).for_each(|i| out.push(digit_at(dp + i)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn millis(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s).unwrap().unix_millis()
    }

    #[test]
    fn rfc3339_accepts_what_go_accepts() {
        for (v, want) in [
            ("2024-05-06T07:08:09Z", "2024-05-06T07:08:09Z"),
            ("2024-05-06T07:08:09.5+02:00", "2024-05-06T05:08:09.5Z"),
            // Go's general parser: one-digit hour, comma fraction, offsets up to 24:60.
            ("2024-05-06T7:08:09Z", "2024-05-06T07:08:09Z"),
            ("2024-05-06T07:08:09,25Z", "2024-05-06T07:08:09.25Z"),
            ("2024-05-06T07:08:09+24:00", "2024-05-05T07:08:09Z"),
        ] {
            assert_eq!(parse_rfc3339(v).unwrap().unix_millis(), millis(want), "{v}");
        }
    }

    #[test]
    fn rfc3339_errors_are_gos() {
        for (v, want) in [
            (
                "nope",
                r#"parsing time "nope" as "2006-01-02T15:04:05Z07:00": cannot parse "nope" as "2006""#,
            ),
            (
                "2024-13-01T00:00:00Z",
                r#"parsing time "2024-13-01T00:00:00Z": month out of range"#,
            ),
            (
                "2024-02-30T00:00:00Z",
                r#"parsing time "2024-02-30T00:00:00Z": day out of range"#,
            ),
            (
                "2024-01-01T00:00:00",
                r#"parsing time "2024-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#,
            ),
            (
                "2024-01-01T00:00:00Zx",
                r#"parsing time "2024-01-01T00:00:00Zx": extra text: "x""#,
            ),
            (
                "2024-01-01 00:00:00Z",
                r#"parsing time "2024-01-01 00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 00:00:00Z" as "T""#,
            ),
            (
                "2024-01-01T25:00:00Z",
                r#"parsing time "2024-01-01T25:00:00Z": hour out of range"#,
            ),
            (
                "é\"",
                r#"parsing time "\xc3\xa9\"" as "2006-01-02T15:04:05Z07:00": cannot parse "\xc3\xa9\"" as "2006""#,
            ),
        ] {
            assert_eq!(parse_rfc3339(v).unwrap_err(), want, "{v}");
        }
    }

    #[test]
    fn rfc1123_reads_http_dates() {
        let t = parse_rfc1123("Mon, 06 May 2024 07:08:09 GMT").unwrap();
        assert_eq!(t.unix_millis(), millis("2024-05-06T07:08:09Z"));
        // Day names are not checked, case does not matter, zones do not move the instant.
        for v in [
            "fri, 06 may 2024 07:08:09 EST",
            "Mon, 06 May 2024 07:08:09 +0000",
            "Mon, 06 May 2024 07:08:09 GMT+3",
            "Mon, 06 May 2024 7:08:09.5 UTC",
        ] {
            let t = parse_rfc1123(v).unwrap();
            assert_eq!(t.unix_secs(), millis("2024-05-06T07:08:09Z") / 1000, "{v}");
        }
        for (v, want) in [
            (
                "garbage",
                r#"parsing time "garbage" as "Mon, 02 Jan 2006 15:04:05 MST": cannot parse "garbage" as "Mon""#,
            ),
            (
                "Mon, 06 May 2024 07:08:09 gmt",
                r#"parsing time "Mon, 06 May 2024 07:08:09 gmt" as "Mon, 02 Jan 2006 15:04:05 MST": cannot parse "gmt" as "MST""#,
            ),
            (
                "Mon, 06 May 2024 07:08:09",
                r#"parsing time "Mon, 06 May 2024 07:08:09" as "Mon, 02 Jan 2006 15:04:05 MST": cannot parse "" as "MST""#,
            ),
            (
                "2024-05-06T07:08:09Z",
                r#"parsing time "2024-05-06T07:08:09Z" as "Mon, 02 Jan 2006 15:04:05 MST": cannot parse "2024-05-06T07:08:09Z" as "Mon""#,
            ),
        ] {
            assert_eq!(parse_rfc1123(v).unwrap_err(), want, "{v}");
        }
    }

    #[test]
    fn json_times_are_strict() {
        assert!(parse_json_time("2024-05-06T07:08:09.123Z").is_ok());
        for (v, want) in [
            (
                "2024-05-06T7:08:09Z",
                r#"parsing time "2024-05-06T7:08:09Z" as "2006-01-02T15:04:05Z07:00": cannot parse "7" as "15""#,
            ),
            (
                "2024-05-06T07:08:09,5Z",
                r#"parsing time "2024-05-06T07:08:09,5Z" as "2006-01-02T15:04:05Z07:00": cannot parse "," as ".""#,
            ),
            (
                "2024-05-06T07:08:09+24:00",
                r#"parsing time "2024-05-06T07:08:09+24:00": timezone hour out of range"#,
            ),
            (
                "x",
                r#"parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006""#,
            ),
        ] {
            assert_eq!(parse_json_time(v).unwrap_err(), want, "{v}");
        }
    }

    #[test]
    fn values_print_like_fmt() {
        for (v, want) in [
            (json!(5), "5"),
            (json!(1.5), "1.5"),
            (json!(123456), "123456"),
            (json!(1000000), "1e+06"),
            (json!(1234567.5), "1.2345675e+06"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(-2.25), "-2.25"),
            (json!(["a", "b"]), "[a b]"),
            (json!([1, 2.5]), "[1 2.5]"),
            (json!("text"), "text"),
        ] {
            assert_eq!(sprint(&v), want, "{v}");
        }
    }
}
