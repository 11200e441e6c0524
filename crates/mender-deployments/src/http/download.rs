//! The open (token-less) download routes: signed artifact links (with `Range` support) and
//! signed configuration links, whose artifact is generated per request.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mender_blob::{BlobError, ByteRange};
use mender_core::{ApiError, ArtifactId, DeploymentId, DeviceId};

use super::State;
use crate::app::App;
use crate::app::artifacts::DOWNLOAD_PREFIX;
use crate::app::configuration::CONFIG_DOWNLOAD_PREFIX;
use crate::error::Error;
use mender_core::query::QueryPairs;

/// The open routes.
pub fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route(&format!("{DOWNLOAD_PREFIX}/{{id}}"), get(download))
        .route(
            &format!("{CONFIG_DOWNLOAD_PREFIX}/{{deployment_id}}/{{device_type}}/{{device_id}}"),
            get(download_configuration),
        )
}

/// Generates and serves a configuration artifact (upstream `DownloadConfiguration`). The path
/// segments arrive percent-decoded, which is the form the signature covers.
async fn download_configuration(
    s: State,
    Path((deployment_id, device_type, device_id)): Path<(DeploymentId, String, DeviceId)>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    if deployment_id.is_empty() || device_type.is_empty() || device_id.is_empty() {
        return Err(ApiError::not_found("not found"));
    }
    let bytes = s
        .configuration_download(&deployment_id, &device_type, &device_id, &query.0)
        .await?;
    let len = bytes.len() as u64;
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "application/vnd.mender-artifact"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"artifact.mender\"",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(resp)
}

/// Parses a single `bytes=` range; anything else (several ranges, bad syntax) is ignored and
/// the whole file is served, as HTTP allows. `Err(())` means a suffix range of zero bytes.
fn parse_range(headers: &HeaderMap, total_hint: Option<u64>) -> Result<Option<ByteRange>, ()> {
    let Some(v) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 {
            return Err(());
        }
        let total = total_hint.unwrap_or(0);
        return Ok(Some(ByteRange {
            start: total.saturating_sub(n),
            end: None,
        }));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        None
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => Some(e),
            _ => return Ok(None),
        }
    };
    Ok(Some(ByteRange { start, end }))
}

fn unsatisfiable(total: u64) -> Response {
    let mut r = ApiError::new(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "requested range not satisfiable",
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    r
}

async fn download(
    s: State,
    Path(id): Path<ArtifactId>,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    // A suffix range needs the size first; the artifact record has it.
    let suffix = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("bytes=-"));
    let total_hint = if suffix {
        let tenant = s.verify_download(&id, &query.0)?;
        s.store
            .get_artifact(&tenant, &id)
            .await
            .map_err(Error::from)?
            .map(|a| a.meta.size)
    } else {
        None
    };
    let Ok(range) = parse_range(&headers, total_hint) else {
        return Ok(unsatisfiable(total_hint.unwrap_or(0)));
    };
    let dl = match s.open_download(&id, &query.0, range).await {
        Ok(dl) => dl,
        Err(Error::Blob(BlobError::RangeNotSatisfiable { total })) => {
            return Ok(unsatisfiable(total));
        }
        Err(e) => return Err(e.into()),
    };
    let read = dl.read;
    let partial = range.is_some();
    let mut resp = Response::new(Body::from_stream(read.stream));
    *resp.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.mender-artifact"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(read.len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let safe_name: String = dl
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe_name}.mender\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if partial {
        let end = read.start + read.len.saturating_sub(1);
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{end}/{}", read.start, read.total))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}
