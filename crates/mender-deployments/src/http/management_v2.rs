//! Management API v2 (`management_v2.yaml`): deployments list, releases, tags, types and the
//! artifact list with exact/prefix filters.

use std::sync::Arc;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use mender_core::{ApiError, Identity, Json};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::management_v1::{deployment_filter, list_deployments_for, release_sort, releases_page};
use super::paging::{self, first};
use super::{State, get as q, render, user};
use crate::app::App;
use crate::app::releases::{ReleaseFilter, ReleasesInUse};
use crate::model::{ArtifactFilter, ArtifactView, Match};
use mender_core::query::QueryPairs;

const BASE: &str = "/api/management/v2/deployments";

/// The v2 management routes.
pub fn routes() -> Router<Arc<App>> {
    super::routes(
        BASE,
        [
            ("/deployments", get(list_deployments)),
            (
                "/deployments/releases",
                get(list_releases).delete(delete_releases),
            ),
            (
                "/deployments/releases/{name}",
                get(get_release).patch(patch_release),
            ),
            ("/deployments/releases/{name}/tags", put(put_tags)),
            ("/releases/all/tags", get(all_tags)),
            ("/releases/all/types", get(all_types)),
            ("/artifacts", get(list_artifacts)),
        ],
    )
}

/// Like v1 without `search` (upstream's v2 ignores it).
async fn list_deployments(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    let mut f = deployment_filter(&query.0)?;
    f.search = None;
    let path = format!("{BASE}/deployments");
    list_deployments_for(&s, &tenant, &query.0, f, &path).await
}

/// Upstream's v2 name filter: `foo` is exact, `foo*` a (case-insensitive) prefix and `foo\*`
/// the exact name `foo*`.
fn name_match(value: &str) -> (bool, String) {
    if let Some(exact) = value.strip_suffix("\\*") {
        (false, format!("{exact}*"))
    } else if let Some(prefix) = value.strip_suffix('*') {
        (true, prefix.to_owned())
    } else {
        (false, value.to_owned())
    }
}

/// One `description` or `device_type` value as upstream's v2 list reads it.
fn single_match(value: &str) -> Option<Match> {
    if value.is_empty() {
        return None;
    }
    Some(match name_match(value) {
        (true, prefix) => Match::Prefix(prefix),
        (false, exact) => Match::Exact(vec![exact]),
    })
}

/// The rune count limit of upstream's `validation.Length(0, 4096)`.
fn too_long(s: &str) -> bool {
    s.chars().count() > 4096
}

/// The v2 artifact list. Upstream checks its filter like this: exact names and a prefix
/// together, then (ozzo, fields sorted) at most 100 exact names, one prefix, 4096
/// characters per value and at most 500 per page; bad or non-positive paging values
/// silently become 1 and 20. No `X-Total-Count`; `next` when one more row exists.
async fn list_artifacts(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    let (mut exact, mut prefixes) = (Vec::new(), Vec::new());
    for (k, v) in &query.0 {
        if k == "name" {
            match name_match(v) {
                (true, p) => prefixes.push(p),
                (false, e) => exact.push(e),
            }
        }
    }
    let description = first(&query.0, "description");
    let device_type = first(&query.0, "device_type");
    let page = paging::lenient(&query.0, None);
    if !exact.is_empty() && !prefixes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid filter: cannot filter by both exact names and name prefix",
        ));
    }
    let mut problems: BTreeMap<&str, String> = BTreeMap::new();
    let each_too_long = |list: &[String]| {
        let bad: Vec<String> = list
            .iter()
            .enumerate()
            .filter(|(_, v)| too_long(v))
            .map(|(i, _)| format!("{i}: the length must be no more than 4096"))
            .collect();
        (!bad.is_empty()).then(|| format!("({}.)", bad.join("; ")))
    };
    for (field, list, max) in [("ExactNames", &exact, 100), ("NamePrefixes", &prefixes, 1)] {
        let problem = if list.len() > max {
            Some(format!("the length must be no more than {max}"))
        } else {
            each_too_long(list)
        };
        if let Some(e) = problem {
            problems.insert(field, e);
        }
    }
    for (field, v) in [("Description", description), ("DeviceType", device_type)] {
        if too_long(v) {
            problems.insert(field, "the length must be no more than 4096".to_owned());
        }
    }
    if page.per_page > paging::MAX_PER_PAGE {
        problems.insert("PerPage", "must be no greater than 500".to_owned());
    }
    if !problems.is_empty() {
        let all: Vec<String> = problems.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        return Err(ApiError::bad_request(format!(
            "invalid filter: {}.",
            all.join("; ")
        )));
    }
    let name = if let Some(p) = prefixes.pop() {
        Some(Match::Prefix(p))
    } else if exact.is_empty() {
        None
    } else {
        Some(Match::Exact(exact))
    };
    let f = ArtifactFilter {
        name,
        description: single_match(description),
        device_type: single_match(device_type),
        offset: page.offset(),
        limit: Some(page.per_page + 1),
        ..Default::default()
    };
    let (mut list, _) = s.list_artifacts(tenant, &f).await?;
    let has_next = list.len() as u64 > page.per_page;
    list.truncate(usize::try_from(page.per_page).unwrap_or(usize::MAX));
    let views: Vec<Value> = list.iter().map(|a| json!(ArtifactView::from(a))).collect();
    let headers = paging::headers(&format!("{BASE}/artifacts"), &query.0, page, None, has_next);
    Ok((headers, axum::Json(views)).into_response())
}

/// Never a 400: bad paging values and an unknown `sort` fall back to the defaults.
async fn list_releases(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let page = paging::lenient(&query.0, Some(paging::MAX_PER_PAGE));
    let f = ReleaseFilter {
        name: q(&query.0, "name").map(str::to_owned),
        update_type: q(&query.0, "update_type").map(str::to_owned),
        tags: query
            .0
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.to_lowercase())
            .collect(),
        sort: release_sort(&query.0),
        ..Default::default()
    };
    let list = s.list_releases(&user(&id)?, &f).await?;
    let path = format!("{BASE}/deployments/releases");
    Ok(releases_page(page, &path, &query.0, &list, false))
}

async fn get_release(
    s: State,
    id: Identity,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let r = s.get_release(&user(&id)?, &name).await?;
    Ok(Json(render::release(&r, false)).into_response())
}

/// Upstream decodes these bodies itself: a declared non-JSON type is refused as everywhere,
/// and anything that does not decode is "malformed JSON in request body" (an empty body
/// too, as Go's decoder says `EOF`).
async fn release_body<T: DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let (parts, body) = mender_core::json::read_body(req).await?;
    if !body.is_empty() {
        mender_core::json::check_json_content_type(&parts.headers)?;
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("malformed JSON in request body: EOF"));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON in request body: {e}")))
}

#[derive(Deserialize)]
struct ReleaseUpdate {
    #[serde(default)]
    notes: Option<String>,
}

/// The body is checked before the release is looked up (404 `release not found`); an
/// existing release gets 204 even when nothing changes.
async fn patch_release(
    s: State,
    id: Identity,
    Path(name): Path<String>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let tenant = &user(&id)?;
    let body: ReleaseUpdate = release_body(req).await?;
    let notes = body.notes.unwrap_or_default();
    s.set_release_notes(tenant, &name, &notes).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tags are checked (400), then the tenant's unique-tag limit (409), then the release
/// is looked up (404); `null` clears the tags.
async fn put_tags(
    s: State,
    id: Identity,
    Path(name): Path<String>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let tenant = &user(&id)?;
    let tags: Option<Vec<String>> = release_body(req).await?;
    s.set_release_tags(tenant, &name, tags.unwrap_or_default())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn all_tags(s: State, id: Identity) -> Result<Response, ApiError> {
    Ok(Json(s.release_tags(&user(&id)?).await?).into_response())
}

async fn all_types(s: State, id: Identity) -> Result<Response, ApiError> {
    Ok(Json(s.release_types(&user(&id)?).await?).into_response())
}

async fn delete_releases(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let names = super::get_all(&query.0, "name");
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "name: at least one release name is required",
        ));
    }
    match s.delete_releases(&user(&id)?, &names).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(ReleasesInUse::Active(ids)) => Ok((
            StatusCode::CONFLICT,
            axum::Json(json!({
                "error": "active deployments exist for the releases",
                "active_deployments": ids,
                "request_id": mender_core::request_id::current().unwrap_or_default(),
            })),
        )
            .into_response()),
        Err(ReleasesInUse::Other(e)) => Err(e.into()),
    }
}
