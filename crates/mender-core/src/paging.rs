//! Upstream paging: `page` (default 1) and `per_page` (default 20, at most 500), and the
//! `Link` header that points at the first, previous and next pages.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::ApiError;

/// Default page size.
pub const DEFAULT_PER_PAGE: u64 = 20;
/// Largest page size a client may ask for.
pub const MAX_PER_PAGE: u64 = 500;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub per_page: u64,
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

impl Page {
    /// Reads `page` and `per_page` from query parameters.
    pub fn from_query(query: &[(String, String)]) -> Result<Self, ApiError> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let page = parse_positive(get("page"), "page", 1)?;
        let per_page = parse_positive(get("per_page"), "per_page", DEFAULT_PER_PAGE)?;
        if per_page > MAX_PER_PAGE {
            return Err(ApiError::bad_request(format!(
                "invalid per_page query: \"per_page\" must be less than or equal to {MAX_PER_PAGE}"
            )));
        }
        Ok(Self { page, per_page })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// `Link` header value for a page of a collection at `path` with the other query pairs.
    pub fn link_header(&self, path: &str, query: &[(String, String)], has_next: bool) -> String {
        let base: Vec<String> = query
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let link = |page: u64, rel: &str| {
            let mut q = base.clone();
            q.push(format!("page={page}"));
            q.push(format!("per_page={}", self.per_page));
            format!("<{path}?{}>; rel=\"{rel}\"", q.join("&"))
        };
        let mut links = vec![link(1, "first")];
        if self.page > 1 {
            links.push(link(self.page - 1, "prev"));
        }
        if has_next {
            links.push(link(self.page + 1, "next"));
        }
        links.join(", ")
    }

    /// Adds `Link` (and `X-Total-Count` when known) to response headers.
    pub fn headers(
        &self,
        path: &str,
        query: &[(String, String)],
        has_next: bool,
        total: Option<u64>,
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.link_header(path, query, has_next)) {
            h.insert(header::LINK, v);
        }
        if let Some(total) = total {
            h.insert("x-total-count", HeaderValue::from(total));
        }
        h
    }
}

fn parse_positive(v: Option<&str>, name: &str, default: u64) -> Result<u64, ApiError> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            Ok(_) => Err(ApiError::bad_request(format!(
                "invalid {name} query: \"{name}\" must be a positive integer"
            ))),
            Err(_) => Err(ApiError::bad_request(format!(
                "invalid {name} query: \"{name}\" must be a positive integer"
            ))),
        },
    }
}

/// Percent-encodes a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_limits() {
        assert_eq!(Page::from_query(&[]).unwrap(), Page::default());
        assert_eq!(
            Page::from_query(&q(&[("per_page", "500")]))
                .unwrap()
                .per_page,
            500
        );
        assert!(Page::from_query(&q(&[("per_page", "501")])).is_err());
        assert!(Page::from_query(&q(&[("page", "0")])).is_err());
        assert!(Page::from_query(&q(&[("page", "-1")])).is_err());
        assert!(Page::from_query(&q(&[("page", "x")])).is_err());
        assert_eq!(
            Page::from_query(&q(&[("page", "3"), ("per_page", "10")]))
                .unwrap()
                .offset(),
            20
        );
    }

    #[test]
    fn link_header_has_first_prev_next() {
        let p = Page {
            page: 2,
            per_page: 10,
        };
        let l = p.link_header("/api/x", &q(&[("status", "a b")]), true);
        assert_eq!(
            l,
            "</api/x?status=a%20b&page=1&per_page=10>; rel=\"first\", \
             </api/x?status=a%20b&page=1&per_page=10>; rel=\"prev\", \
             </api/x?status=a%20b&page=3&per_page=10>; rel=\"next\""
        );
    }
}
