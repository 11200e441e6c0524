//! Paging as upstream's deployments does it: `ParsePagingParameters` (strict, with its exact
//! 400 texts), the lenient page/per_page reading of the artifact and release lists (bad values
//! fall back to the defaults), and `MakePagingHeaders` (one `Link` header per relation,
//! `first`, `prev`, `next` and, when the total is known, `last`; the query re-encoded with its
//! names sorted, as Go's `url.Values.Encode` does).

use axum::http::{HeaderMap, HeaderValue, header};
use mender_core::ApiError;

/// Default page size.
pub(crate) const DEFAULT_PER_PAGE: u64 = 20;
/// Largest page size.
pub(crate) const MAX_PER_PAGE: u64 = 500;

/// A page request: 1-based page number and page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// Page number, at least 1.
    pub page: u64,
    /// Page size, at least 1.
    pub per_page: u64,
}

impl Paging {
    /// Rows to skip.
    pub(crate) fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Whether rows follow this page when `total` rows match.
    pub(crate) fn has_next(&self, total: u64) -> bool {
        total > self.page.saturating_mul(self.per_page)
    }
}

/// The first value of `name` ("" when absent), as Go's `url.Values.Get`.
pub(crate) fn first<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign, then ASCII digits, within i64.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Upstream's `ParsePagingParameters`: defaults 1 and 20; 400 for a value that is not an
/// integer, one below 1, or a `per_page` above 500.
pub(crate) fn parse(query: &[(String, String)]) -> Result<Paging, ApiError> {
    let value = |name: &str, default: u64| -> Result<u64, ApiError> {
        let raw = first(query, name);
        if raw.is_empty() {
            return Ok(default);
        }
        let n = parse_int(raw)
            .ok_or_else(|| ApiError::bad_request(format!("invalid {name} query: \"{raw}\"")))?;
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
    Ok(Paging { page, per_page })
}

/// The lenient reading of the artifact and release lists: a value that is not an integer
/// (Go's `strconv.Atoi`) is ignored; a page below 1 becomes 1; a page size below 1 becomes
/// 20, and so does one above `max` when a `max` is given.
pub(crate) fn lenient(query: &[(String, String)], max: Option<u64>) -> Paging {
    let read = |name: &str| parse_int(first(query, name)).unwrap_or(0);
    let page = u64::try_from(read("page")).ok().filter(|p| *p >= 1);
    let per_page = u64::try_from(read("per_page"))
        .ok()
        .filter(|p| *p >= 1 && max.is_none_or(|m| *p <= m));
    Paging {
        page: page.unwrap_or(1),
        per_page: per_page.unwrap_or(DEFAULT_PER_PAGE),
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A path as Go's `url.URL.EscapedPath` writes it: unreserved characters and `$&+,/:;=@`
/// stay, every other byte is percent-encoded.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `Link` values upstream's `MakePagingHeaders` writes for `path?query` (page and per_page
/// replaced): `first`, `prev` after page 1, then with a positive `total` `next` (when
/// there is a later page) and `last`, else `next` when `has_next`.
pub(crate) fn links(
    path: &str,
    query: &[(String, String)],
    p: Paging,
    total: Option<u64>,
    has_next: bool,
) -> Vec<String> {
    let mut names: Vec<&str> = query
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != "page" && *k != "per_page")
        .chain(["page", "per_page"])
        .collect();
    names.sort_unstable();
    names.dedup();
    let path = escape_path(path);
    let link = |page: u64, rel: &str| {
        let parts: Vec<String> = names
            .iter()
            .flat_map(|name| {
                let key = query_escape(name);
                let values: Vec<String> = match *name {
                    "page" => vec![page.to_string()],
                    "per_page" => vec![p.per_page.to_string()],
                    _ => query
                        .iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .collect(),
                };
                values
                    .into_iter()
                    .map(move |v| format!("{key}={}", query_escape(&v)))
            })
            .collect();
        format!("<{path}?{}>; rel=\"{rel}\"", parts.join("&"))
    };
    let mut out = vec![link(1, "first")];
    if p.page > 1 {
        out.push(link(p.page - 1, "prev"));
    }
    match total {
        Some(total) if total > 0 => {
            let last = (total - 1) / p.per_page + 1;
            if p.page < last {
                out.push(link(p.page + 1, "next"));
            }
            out.push(link(last, "last"));
        }
        _ if has_next => out.push(link(p.page + 1, "next")),
        _ => {}
    }
    out
}

/// The paging headers of a list answer: the `Link` headers and, when `total` is given,
/// `X-Total-Count`.
pub(crate) fn headers(
    path: &str,
    query: &[(String, String)],
    p: Paging,
    total: Option<u64>,
    has_next: bool,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    for l in links(path, query, p, total, has_next) {
        if let Ok(v) = HeaderValue::from_str(&l) {
            h.append(header::LINK, v);
        }
    }
    if let Some(total) = total {
        h.insert("x-total-count", HeaderValue::from(total));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        parse(&q(pairs)).unwrap_err().message
    }

    #[test]
    fn strict_texts() {
        assert_eq!(
            parse(&[]).unwrap(),
            Paging {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(err(&[("page", "x")]), "invalid page query: \"x\"");
        assert_eq!(
            err(&[("page", "0")]),
            "invalid page query: value must be a non-zero positive integer"
        );
        assert_eq!(
            err(&[("per_page", "1.5")]),
            "invalid per_page query: \"1.5\""
        );
        assert_eq!(
            err(&[("per_page", "-3")]),
            "invalid per_page query: value must be a non-zero positive integer"
        );
        assert_eq!(
            err(&[("per_page", "501")]),
            "parameter \"per_page\" above limit (max: 500)"
        );
        // page is read first
        assert_eq!(
            err(&[("per_page", "x"), ("page", "y")]),
            "invalid page query: \"y\""
        );
        assert_eq!(parse(&q(&[("page", "+2")])).unwrap().page, 2);
        assert_eq!(
            err(&[("page", "99999999999999999999")]),
            "invalid page query: \"99999999999999999999\""
        );
    }

    #[test]
    fn lenient_defaults() {
        let l = |pairs: &[(&str, &str)]| lenient(&q(pairs), Some(500));
        assert_eq!(
            l(&[("page", "x"), ("per_page", "y")]),
            Paging::default_page()
        );
        assert_eq!(
            l(&[("page", "-1"), ("per_page", "0")]),
            Paging::default_page()
        );
        assert_eq!(l(&[("per_page", "501")]).per_page, 20);
        assert_eq!(lenient(&q(&[("per_page", "501")]), None).per_page, 501);
        assert_eq!(
            l(&[("page", "3"), ("per_page", "7")]),
            Paging {
                page: 3,
                per_page: 7
            }
        );
    }

    #[test]
    fn links_like_go() {
        let p = Paging {
            page: 2,
            per_page: 2,
        };
        let query = q(&[("sort", "name:asc"), ("page", "2"), ("a b", "x&y")]);
        assert_eq!(
            links("/l", &query, p, Some(5), true),
            [
                "</l?a+b=x%26y&page=1&per_page=2&sort=name%3Aasc>; rel=\"first\"",
                "</l?a+b=x%26y&page=1&per_page=2&sort=name%3Aasc>; rel=\"prev\"",
                "</l?a+b=x%26y&page=3&per_page=2&sort=name%3Aasc>; rel=\"next\"",
                "</l?a+b=x%26y&page=3&per_page=2&sort=name%3Aasc>; rel=\"last\"",
            ]
        );
        assert_eq!(
            links("/d/a b\n/é", &[], p, None, false)[0],
            "</d/a%20b%0A/%C3%A9?page=1&per_page=2>; rel=\"first\""
        );
        // the total wins over has_next; none known: has_next decides
        let last_page = Paging {
            page: 3,
            per_page: 2,
        };
        assert_eq!(links("/l", &[], last_page, Some(5), true).len(), 3);
        assert_eq!(links("/l", &[], last_page, None, true).len(), 3);
        assert_eq!(links("/l", &[], last_page, Some(0), false).len(), 2);
    }

    impl Paging {
        fn default_page() -> Self {
            Paging {
                page: 1,
                per_page: DEFAULT_PER_PAGE,
            }
        }
    }
}
