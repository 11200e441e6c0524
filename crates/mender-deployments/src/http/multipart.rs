//! Streaming `multipart/form-data` for artifact uploads: small text parts are read with a
//! limit, the file part is handed on as a byte stream and never buffered whole.

use std::io;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures::{StreamExt, TryStreamExt};
use mender_blob::ByteStream;
use mender_core::ApiError;

/// Longest text part accepted.
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// Opens the multipart body of a request.
pub(crate) fn open(
    headers: &HeaderMap,
    body: Body,
) -> Result<multer::Multipart<'static>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("mime: no media type"))?;
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "multipart/form-data" && essence != "multipart/mixed" {
        return Err(ApiError::bad_request(
            "request Content-Type isn't multipart/form-data",
        ));
    }
    let boundary = multer::parse_boundary(ct)
        .map_err(|_| ApiError::bad_request("no multipart boundary param in Content-Type"))?;
    Ok(multer::Multipart::new(body.into_data_stream(), boundary))
}

/// The next part, or `None` at the end.
pub(crate) async fn next(
    mp: &mut multer::Multipart<'static>,
) -> Result<Option<multer::Field<'static>>, ApiError> {
    mp.next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("failed to read multipart body: {e}")))
}

/// Reads a text part (at most 64 KiB, UTF-8).
pub(crate) async fn text(mut field: multer::Field<'static>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or("").to_owned();
    let mut buf = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| ApiError::bad_request(format!("failed to read multipart body: {e}")))?
    {
        if buf.len() + chunk.len() > MAX_TEXT {
            return Err(ApiError::bad_request(format!("{name}: value too long")));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| ApiError::bad_request(format!("{name}: not valid UTF-8")))
}

/// Skips a part.
pub(crate) async fn skip(mut field: multer::Field<'static>) -> Result<(), ApiError> {
    while field
        .chunk()
        .await
        .map_err(|e| ApiError::bad_request(format!("failed to read multipart body: {e}")))?
        .is_some()
    {}
    Ok(())
}

/// A file part as a byte stream.
pub(crate) fn stream(field: multer::Field<'static>) -> ByteStream<'static> {
    field
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        .boxed()
}
