//! Upstream paging: `page` (default 1) and `per_page` (default 20, at most 500), and the
//! `Link` header that points at the first, previous and next pages. Two dialects: this
//! crate's own ([`Page::from_query`], [`Page::headers`]: one `Link` header, the query kept
//! in its order) and upstream's Go `rest` package ([`Page::from_go_query`], [`go_headers`]:
//! upstream's 400 texts, one `Link` header per relation, the query re-encoded as Go's
//! `url.Values.Encode` does).

use axum::http::{HeaderMap, HeaderValue, header};

use crate::ApiError;
use crate::goform::{first, parse_int, query_escape};

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

    /// Upstream's `ParsePagingParameters`: defaults 1 and 20 (an empty value is the
    /// default); 400 with upstream's texts for a value that is not an integer (Go's
    /// `strconv.ParseInt`), one below 1, or a `per_page` above 500. `page` is read first.
    pub fn from_go_query(query: &[(String, String)]) -> Result<Self, ApiError> {
        let value = |name: &str, default: u64| -> Result<u64, ApiError> {
            let raw = first(query, name);
            if raw.is_empty() {
                return Ok(default);
            }
            let n = parse_int(raw)
                .map_err(|_| ApiError::bad_request(format!("invalid {name} query: \"{raw}\"")))?;
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
        Ok(Self { page, per_page })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Whether rows follow this page when `total` rows match.
    pub fn has_next(&self, total: u64) -> bool {
        total > self.page.saturating_mul(self.per_page)
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

/// The `Link` values upstream's `MakePagingHeaders` writes for `path?query` (`path` as it is
/// to appear, already escaped; `page` and `per_page` replaced, names sorted as Go's
/// `url.Values.Encode` sorts them, the values of one name in their order): `first`, `prev`
/// after page 1, then with a positive `total` `next` (when there is a later page) and
/// `last`, else `next` when `has_next`.
pub fn go_links(
    path: &str,
    query: &[(String, String)],
    p: Page,
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
        _ if has_next => out.push(link(p.page.saturating_add(1), "next")),
        _ => {}
    }
    out
}

/// The paging headers of upstream's list answers: one `Link` header per [`go_links`] value
/// and, when `total` is given, `X-Total-Count`.
pub fn go_headers(
    path: &str,
    query: &[(String, String)],
    p: Page,
    total: Option<u64>,
    has_next: bool,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    for l in go_links(path, query, p, total, has_next) {
        if let Ok(v) = HeaderValue::from_str(&l) {
            h.append(header::LINK, v);
        }
    }
    if let Some(total) = total {
        h.insert("x-total-count", HeaderValue::from(total));
    }
    h
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

    /// Upstream's `ParsePagingParameters` texts, as deployments, deviceauth and useradm
    /// answer them.
    #[test]
    fn go_texts() {
        let page = |page, per_page| Ok(Page { page, per_page });
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<Page, &'static str>,
        );
        let cases: &[Case] = &[
            (&[], Ok(Page::default())),
            (&[("page", "")], page(1, 20)),
            (&[("page", "+2")], page(2, 20)),
            (
                &[("page", "3"), ("per_page", "500"), ("page", "x")],
                page(3, 500),
            ),
            (&[("page", "x")], Err("invalid page query: \"x\"")),
            (
                &[("page", "0")],
                Err("invalid page query: value must be a non-zero positive integer"),
            ),
            (
                &[("per_page", "1.5")],
                Err("invalid per_page query: \"1.5\""),
            ),
            (
                &[("per_page", "-3")],
                Err("invalid per_page query: value must be a non-zero positive integer"),
            ),
            (
                &[("per_page", "-1")],
                Err("invalid per_page query: value must be a non-zero positive integer"),
            ),
            (
                &[("per_page", "501")],
                Err("parameter \"per_page\" above limit (max: 500)"),
            ),
            // page is read first
            (
                &[("per_page", "x"), ("page", "y")],
                Err("invalid page query: \"y\""),
            ),
            (
                &[("page", "99999999999999999999")],
                Err("invalid page query: \"99999999999999999999\""),
            ),
        ];
        for (pairs, want) in cases {
            let got = Page::from_go_query(&q(pairs)).map_err(|e| e.message);
            assert_eq!(got, want.map_err(str::to_owned), "{pairs:?}");
        }
        // Over a raw query, as useradm reads it: Go's `URL.Query` drops a malformed pair, so
        // the default applies.
        let (pairs, _) = crate::goform::parse_query("page=%zz");
        assert_eq!(Page::from_go_query(&pairs).unwrap(), Page::default());
        let p = Page::from_go_query(&q(&[("page", "2"), ("per_page", "10")])).unwrap();
        assert_eq!(
            (p.offset(), p.has_next(20), p.has_next(21)),
            (10, false, true)
        );
    }

    #[test]
    fn go_links_like_go() {
        let p = Page {
            page: 2,
            per_page: 2,
        };
        let query = q(&[("sort", "name:asc"), ("page", "2"), ("a b", "x&y")]);
        assert_eq!(
            go_links("/l", &query, p, Some(5), true),
            [
                "</l?a+b=x%26y&page=1&per_page=2&sort=name%3Aasc>; rel=\"first\"",
                "</l?a+b=x%26y&page=1&per_page=2&sort=name%3Aasc>; rel=\"prev\"",
                "</l?a+b=x%26y&page=3&per_page=2&sort=name%3Aasc>; rel=\"next\"",
                "</l?a+b=x%26y&page=3&per_page=2&sort=name%3Aasc>; rel=\"last\"",
            ]
        );
        // the total wins over has_next; none known: has_next decides
        let last_page = Page {
            page: 3,
            per_page: 2,
        };
        assert_eq!(go_links("/l", &[], last_page, Some(5), true).len(), 3);
        assert_eq!(go_links("/l", &[], last_page, None, true).len(), 3);
        assert_eq!(go_links("/l", &[], last_page, Some(0), false).len(), 2);

        // Repeated names keep their values' order; no total, no X-Total-Count.
        let p = Page {
            page: 2,
            per_page: 10,
        };
        let query = q(&[("status", "a b"), ("id", "z"), ("id", "y/")]);
        let h = go_headers("/api/x", &query, p, None, true);
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
        assert!(h.get("x-total-count").is_none());
        let h = go_headers("/l", &[], p, Some(7), false);
        assert_eq!(h.get("x-total-count").unwrap(), "7");
    }
}
