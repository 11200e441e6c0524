//! Paging as upstream's deployments does it: `ParsePagingParameters` and `MakePagingHeaders`
//! (shared with the other services in `mender_core::paging`), with the request path escaped
//! as Go's `url.URL.EscapedPath` does, and the lenient page/per_page reading of the artifact
//! and release lists (bad values fall back to the defaults), which only deployments has.

use axum::http::HeaderMap;
use mender_core::ApiError;
pub(crate) use mender_core::goform::first;
use mender_core::goform::{escape_path, parse_int};
pub(crate) use mender_core::paging::{DEFAULT_PER_PAGE, MAX_PER_PAGE, Page as Paging};

/// Upstream's `ParsePagingParameters`: defaults 1 and 20; 400 for a value that is not an
/// integer, one below 1, or a `per_page` above 500.
pub(crate) fn parse(query: &[(String, String)]) -> Result<Paging, ApiError> {
    Paging::from_go_query(query)
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

/// The paging headers of a list answer for `path?query`: upstream's `Link` headers and, when
/// `total` is given, `X-Total-Count`.
pub(crate) fn headers(
    path: &str,
    query: &[(String, String)],
    p: Paging,
    total: Option<u64>,
    has_next: bool,
) -> HeaderMap {
    mender_core::paging::go_headers(&escape_path(path), query, p, total, has_next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn lenient_defaults() {
        let l = |pairs: &[(&str, &str)]| lenient(&q(pairs), Some(500));
        assert_eq!(l(&[("page", "x"), ("per_page", "y")]), Paging::default());
        assert_eq!(l(&[("page", "-1"), ("per_page", "0")]), Paging::default());
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
    fn link_paths_are_escaped() {
        let p = Paging {
            page: 2,
            per_page: 2,
        };
        let h = headers("/d/a b\n/é", &[], p, None, false);
        assert_eq!(
            h.get(header::LINK).unwrap(),
            "</d/a%20b%0A/%C3%A9?page=1&per_page=2>; rel=\"first\""
        );
    }
}
