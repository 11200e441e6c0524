//! [`QueryPairs`]: a request's query string as its name/value pairs in order, repeated names
//! kept, which is how upstream's handlers read filters (`?status=a&status=b`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::ApiError;

/// The query string's pairs, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (with any value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Upstream's handlers answer an undecodable query string with this message.
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map(|q| QueryPairs(q.0))
            .map_err(|_| ApiError::bad_request("api: bad form parameters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    async fn pairs(uri: &str) -> Result<QueryPairs, ApiError> {
        let (mut parts, ()) = Request::builder().uri(uri).body(()).unwrap().into_parts();
        QueryPairs::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn keeps_order_and_repeats() {
        let q = pairs("/x?status=a&page=2&status=b&e=%C3%A9&flag")
            .await
            .unwrap();
        assert_eq!(q.first("status"), Some("a"));
        assert_eq!(q.all("status").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(q.first("e"), Some("é"));
        assert!(q.has("flag") && !q.has("nope"));
        assert_eq!(pairs("/x").await.unwrap(), QueryPairs::default());
        // Decoding is lenient, as Go's: a broken escape stays literal, bytes that are not
        // UTF-8 become U+FFFD.
        let q = pairs("/x?a=%ZZ&b=%FF").await.unwrap();
        assert_eq!(
            (q.first("a"), q.first("b")),
            (Some("%ZZ"), Some("\u{fffd}"))
        );
    }
}
