//! Management API v2 (`management_v2.yaml`): deployments list, releases, tags, types and the
//! artifact list with exact/prefix filters.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use mender_core::json::OptionalJson;
use mender_core::paging::Page;
use mender_core::{ApiError, Identity, Json};
use serde::Deserialize;
use serde_json::json;

use super::management_v1::{list_deployments_for, paged, release_sort, releases_page};
use super::{State, get as q, get_all, render, user};
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

async fn list_deployments(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    if q(&query.0, "search").is_some() {
        return Err(ApiError::bad_request(
            "search: use the id and name parameters",
        ));
    }
    list_deployments_for(&s, &user(&id)?, &query.0, &format!("{BASE}/deployments")).await
}

/// `foo` → exact, `foo*` → prefix; several values are exact only.
fn matcher(values: Vec<String>, what: &str) -> Result<Option<Match>, ApiError> {
    match values.as_slice() {
        [] => Ok(None),
        [one] if one.ends_with('*') => {
            Ok(Some(Match::Prefix(one.trim_end_matches('*').to_owned())))
        }
        many if many.iter().any(|v| v.ends_with('*')) => Err(ApiError::bad_request(format!(
            "{what}: prefix matching takes a single value"
        ))),
        many => Ok(Some(Match::Exact(many.to_vec()))),
    }
}

async fn list_artifacts(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    let page = Page::from_query(&query.0)?;
    let f = ArtifactFilter {
        name: matcher(get_all(&query.0, "name"), "name")?,
        description: matcher(get_all(&query.0, "description"), "description")?,
        device_type: matcher(get_all(&query.0, "device_type"), "device_type")?,
        offset: page.offset(),
        limit: Some(page.per_page),
        ..Default::default()
    };
    let (list, total) = s.list_artifacts(tenant, &f).await?;
    let views = list.iter().map(|a| json!(ArtifactView::from(a))).collect();
    Ok(paged(
        &page,
        &format!("{BASE}/artifacts"),
        &query.0,
        total,
        views,
    ))
}

async fn list_releases(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let page = Page::from_query(&query.0)?;
    let sort = release_sort(&query.0)?;
    let f = ReleaseFilter {
        name: q(&query.0, "name").map(str::to_owned),
        update_type: q(&query.0, "update_type").map(str::to_owned),
        tags: get_all(&query.0, "tag"),
        sort,
        ..Default::default()
    };
    let list = s.list_releases(&user(&id)?, &f).await?;
    let path = format!("{BASE}/deployments/releases");
    Ok(releases_page(&page, &path, &query.0, &list, false))
}

async fn get_release(
    s: State,
    id: Identity,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let r = s.get_release(&user(&id)?, &name).await?;
    Ok(Json(render::release(&r, false)).into_response())
}

#[derive(Deserialize)]
struct ReleaseUpdate {
    #[serde(default)]
    notes: Option<String>,
}

async fn patch_release(
    s: State,
    id: Identity,
    Path(name): Path<String>,
    OptionalJson(body): OptionalJson<ReleaseUpdate>,
) -> Result<StatusCode, ApiError> {
    let tenant = &user(&id)?;
    if let Some(notes) = body.and_then(|b| b.notes) {
        s.set_release_notes(tenant, &name, &notes).await?;
    } else {
        s.get_release(tenant, &name).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn put_tags(
    s: State,
    id: Identity,
    Path(name): Path<String>,
    OptionalJson(tags): OptionalJson<Vec<String>>,
) -> Result<StatusCode, ApiError> {
    s.set_release_tags(&user(&id)?, &name, tags.unwrap_or_default())
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
    let names = get_all(&query.0, "name");
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
