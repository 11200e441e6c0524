//! Paging as upstream's deviceauth does it (`rest.ParsePagingParameters` and
//! `rest.MakePagingHeaders`): its 400 texts, and one `Link` header per relation whose URL is
//! the request path with the query re-encoded as Go's `url.Values.Encode` does (names sorted,
//! `page` and `per_page` set). No `X-Total-Count`.

use axum::http::{HeaderMap, HeaderValue, header};
use mender_core::ApiError;
use mender_core::query::QueryPairs;

/// Default page size.
const PER_PAGE_DEFAULT: u64 = 20;
/// Largest page size.
const PER_PAGE_MAX: u64 = 500;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign, then decimal digits.
fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Paging {
    /// Reads `page` and `per_page` (the first value of each; empty means the default).
    pub fn from_query(query: &QueryPairs) -> Result<Self, ApiError> {
        let read = |name: &str, default: u64| -> Result<u64, ApiError> {
            match query.first(name) {
                None | Some("") => Ok(default),
                Some(v) => match parse_int(v) {
                    None => Err(ApiError::bad_request(format!(
                        "invalid {name} query: \"{v}\""
                    ))),
                    Some(n) if n < 1 => Err(ApiError::bad_request(format!(
                        "invalid {name} query: value must be a non-zero positive integer"
                    ))),
                    Some(n) => Ok(n.unsigned_abs()),
                },
            }
        };
        let page = read("page", 1)?;
        let per_page = read("per_page", PER_PAGE_DEFAULT)?;
        if per_page > PER_PAGE_MAX {
            return Err(ApiError::bad_request(format!(
                "parameter \"per_page\" above limit (max: {PER_PAGE_MAX})"
            )));
        }
        Ok(Self { page, per_page })
    }

    /// Rows to skip.
    pub fn skip(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The `Link` headers: `first`, `prev` after the first page, `next` when more follow.
    pub fn headers(&self, path: &str, query: &QueryPairs, has_next: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut links = vec![(1, "first")];
        if self.page > 1 {
            links.push((self.page - 1, "prev"));
        }
        if has_next {
            links.push((self.page.saturating_add(1), "next"));
        }
        for (page, rel) in links {
            let url = format!("{path}?{}", self.encode(query, page));
            if let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"{rel}\"")) {
                headers.append(header::LINK, v);
            }
        }
        headers
    }

    /// The query with `page` and `per_page` set, encoded as Go's `url.Values.Encode`.
    fn encode(&self, query: &QueryPairs, page: u64) -> String {
        let mut pairs: Vec<(&str, String)> = query
            .0
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        pairs.push(("page", page.to_string()));
        pairs.push(("per_page", self.per_page.to_string()));
        // A stable sort keeps the values of one name in their order, as Go's map of slices.
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> QueryPairs {
        QueryPairs(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        Paging::from_query(&q(pairs)).unwrap_err().message
    }

    #[test]
    fn upstream_texts() {
        assert_eq!(
            Paging::from_query(&q(&[])).unwrap(),
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
            err(&[("per_page", "-3")]),
            "invalid per_page query: value must be a non-zero positive integer"
        );
        assert_eq!(
            err(&[("per_page", "1.5")]),
            "invalid per_page query: \"1.5\""
        );
        assert_eq!(
            err(&[("per_page", "501")]),
            "parameter \"per_page\" above limit (max: 500)"
        );
        assert_eq!(
            err(&[("page", "99999999999999999999")]),
            "invalid page query: \"99999999999999999999\""
        );
        assert_eq!(Paging::from_query(&q(&[("page", "+2")])).unwrap().page, 2);
    }

    #[test]
    fn links_like_go() {
        let p = Paging {
            page: 2,
            per_page: 10,
        };
        let h = p.headers(
            "/api/x",
            &q(&[("status", "a b"), ("id", "z"), ("id", "y/")]),
            true,
        );
        let links: Vec<&str> = h
            .get_all(header::LINK)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            links,
            [
                "</api/x?id=z&id=y%2F&page=1&per_page=10&status=a+b>; rel=\"first\"",
                "</api/x?id=z&id=y%2F&page=1&per_page=10&status=a+b>; rel=\"prev\"",
                "</api/x?id=z&id=y%2F&page=3&per_page=10&status=a+b>; rel=\"next\"",
            ]
        );
        assert_eq!(p.skip(), 10);
    }
}
