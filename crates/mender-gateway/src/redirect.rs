//! gin's `RedirectTrailingSlash` answer: where it points and what it looks like. gin routes on
//! the percent-decoded path, toggles its final `/`, writes the URL back with Go's path
//! escaping and the original query, and answers through Go's `http.Redirect` (which cleans
//! the path, keeps a trailing slash, hex-escapes non-ASCII bytes and writes a small HTML body
//! for GET only).

use std::fmt::Write;

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use mender_core::goform::{escape_path, html_escape};

/// The `Location` of the redirect for a request path (as received, percent-encoded) and
/// query: the path with its final `/` removed (or one added), or `None` when the path
/// cannot be the subject of a redirect (`/` itself, or escapes that are not valid).
pub fn location(raw_path: &str, query: Option<&str>) -> Option<String> {
    let decoded = percent_decode(raw_path)?;
    if decoded == b"/" {
        return None;
    }
    let toggled: &[u8] = match decoded.strip_suffix(b"/") {
        Some(stripped) => stripped,
        None => &decoded,
    };
    let mut path = escape_path(toggled);
    if toggled.len() == decoded.len() {
        path.push('/');
    }
    // `http.Redirect` cleans the path but keeps a trailing slash.
    let trailing = path.ends_with('/');
    let mut url = clean(&path);
    if trailing && !url.ends_with('/') {
        url.push('/');
    }
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(hex_escape_non_ascii(&url))
}

/// The redirect answer: 301 for GET, 307 for every other method; the HTML body only for
/// GET, the HTML content type for GET and HEAD, an empty body otherwise.
pub fn response(method: &Method, location: &str) -> Option<Response> {
    let (status, text) = if method == Method::GET {
        (StatusCode::MOVED_PERMANENTLY, "Moved Permanently")
    } else {
        (StatusCode::TEMPORARY_REDIRECT, "Temporary Redirect")
    };
    let body = if method == Method::GET {
        format!("<a href=\"{}\">{text}</a>.\n\n", html_escape(location))
    } else {
        String::new()
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(header::LOCATION, HeaderValue::from_str(location).ok()?);
    if method == Method::GET || method == Method::HEAD {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    Some(resp)
}

/// Percent-decodes a path like Go's URL parser; `None` for a malformed escape (which Go's
/// server refuses with 400 before any handler).
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hi = char::from(hex[0]).to_digit(16)?;
            let lo = char::from(hex[1]).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Go's `path.Clean` for a rooted path: one slash between elements, no `.` elements, `..`
/// removing the element before it, no trailing slash except for the root.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Go's `hexEscapeNonASCII`: every byte above 0x7f as `%` and lower-case hex.
fn hex_escape_non_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_toggles_the_slash_and_keeps_the_query() {
        for (path, query, want) in [
            (
                "/api/v1/metadata/workflows/",
                None,
                Some("/api/v1/metadata/workflows"),
            ),
            ("/a", None, Some("/a/")),
            ("/a/", Some("x=1&y=%20"), Some("/a?x=1&y=%20")),
            ("/a/", Some(""), Some("/a?")),
            // Go writes the decoded path back with its own escaping.
            ("/a%41b/", None, Some("/aAb")),
            ("/a%20b(c)/", None, Some("/a%20b%28c%29")),
            ("/a%C3%A9/", None, Some("/a%C3%A9")),
            ("/$&+,:;=@/", None, Some("/$&+,:;=@")),
            // `http.Redirect` cleans the path.
            ("/a//b/./c/", None, Some("/a/b/c")),
            ("/a/../b/", None, Some("/b")),
            ("//", None, Some("/")),
            ("/", None, None),
            ("/%zz/", None, None),
        ] {
            assert_eq!(location(path, query).as_deref(), want, "{path} {query:?}");
        }
    }

    #[test]
    fn non_ascii_query_bytes_are_hex_escaped() {
        assert_eq!(location("/a/", Some("q=é")).unwrap(), "/a?q=%c3%a9");
    }

    #[test]
    fn bodies_are_go_redirect_bodies() {
        let get = response(&Method::GET, "/a?x=1&y=<'\">").unwrap();
        assert_eq!(get.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            get.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let head = response(&Method::HEAD, "/a").unwrap();
        assert_eq!(head.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            head.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let post = response(&Method::POST, "/a").unwrap();
        assert_eq!(post.status(), StatusCode::TEMPORARY_REDIRECT);
        assert!(!post.headers().contains_key(header::CONTENT_TYPE));
        assert_eq!(
            html_escape("/a?x=1&y=<'\">"),
            "/a?x=1&amp;y=&lt;&#39;&#34;&gt;"
        );
    }
}
