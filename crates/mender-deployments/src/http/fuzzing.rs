//! Entry point for the `multipart` fuzz target (`fuzz/`): walks a multipart body with the
//! very functions the upload handlers use ([`super::multipart`]), without a database or a
//! blob store. Not part of the service's API.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use futures::TryStreamExt;
use mender_core::ApiError;

use super::multipart;

/// Longest text part the upload handlers accept (what [`multipart::text`] enforces).
pub const MAX_TEXT: usize = multipart::MAX_TEXT;

/// One part as an upload handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's `name`.
    pub name: String,
    /// The part's `filename`, if any.
    pub file_name: Option<String>,
    /// The bytes read: the text of a form field, the file's bytes, or nothing for a skipped part.
    pub data: Vec<u8>,
}

/// Reads a multipart body that arrives in `chunks` with the `Content-Type` `content_type`,
/// the way the artifact upload and generate handlers do: `artifact` and `file` parts as a
/// stream, the known form fields as text (at most [`MAX_TEXT`] bytes, UTF-8), every other
/// part skipped. Returns the parts, or the error the client would get.
pub fn read_form(content_type: &str, chunks: Vec<Bytes>) -> Result<Vec<Part>, ApiError> {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    let body = Body::from_stream(futures::stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ));
    futures::executor::block_on(async move {
        let mut mp = multipart::open(&headers, body)?;
        let mut parts = Vec::new();
        while let Some(field) = multipart::next(&mut mp).await? {
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let data = match name.as_str() {
                "artifact" | "file" => multipart::stream(field)
                    .try_fold(Vec::new(), |mut acc, chunk| async move {
                        acc.extend_from_slice(&chunk);
                        Ok(acc)
                    })
                    .await
                    .map_err(|e| {
                        ApiError::bad_request(format!("failed to read multipart body: {e}"))
                    })?,
                "size"
                | "description"
                | "artifact_id"
                | "name"
                | "type"
                | "args"
                | "device_types_compatible" => multipart::text(field).await?.into_bytes(),
                _ => {
                    multipart::skip(field).await?;
                    Vec::new()
                }
            };
            parts.push(Part {
                name,
                file_name,
                data,
            });
        }
        Ok(parts)
    })
}
