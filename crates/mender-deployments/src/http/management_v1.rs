//! Management API v1 (`management_v1.yaml`): artifacts, deployments, releases (deprecated
//! forms) and storage usage.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use mender_core::{ApiError, ArtifactId, DeploymentId, DeviceId, Identity, Json, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::paging::{self, Paging, first};
use super::{State, get as q, get_all, link_base, multipart, render, user};
use crate::app::App;
use crate::app::deployments::{NewDeployment, Targets};
use crate::app::generate::GenerateRequest;
use crate::app::releases::{Release, ReleaseFilter};
use crate::error::Error;
use crate::model::{
    ArtifactFilter, ArtifactSortKey, ArtifactView, DeploymentFilter, DeploymentKind,
    DeploymentStatus, DeviceDeploymentFilter, Match, Sort, StatusFilter, statistics_json,
};
use mender_core::goform::parse_int;
use mender_core::query::QueryPairs;

const BASE: &str = "/api/management/v1/deployments";

/// The v1 management routes.
pub fn routes() -> Router<Arc<App>> {
    super::routes(
        BASE,
        [
            (
                "/deployments",
                get(list_deployments).post(create_deployment),
            ),
            ("/deployments/statistics/list", post(statistics_list)),
            ("/deployments/group/{name}", post(create_group_deployment)),
            ("/deployments/releases", get(list_releases)),
            ("/deployments/releases/list", get(list_releases_paged)),
            (
                "/deployments/devices/{id}",
                get(device_history).delete(abort_device),
            ),
            ("/deployments/devices/{id}/history", delete(reset_history)),
            ("/deployments/{id}", get(show_deployment)),
            ("/deployments/{id}/status", put(abort_deployment)),
            ("/deployments/{id}/statistics", get(statistics)),
            ("/deployments/{id}/devices", get(devices_all)),
            ("/deployments/{id}/devices/list", get(devices_paged)),
            ("/deployments/{id}/device_list", get(device_list)),
            ("/deployments/{id}/devices/{device}/log", get(device_log)),
            ("/artifacts", get(list_artifacts).post(upload_artifact)),
            ("/artifacts/list", get(list_artifacts_paged)),
            ("/artifacts/generate", post(generate_artifact)),
            (
                "/artifacts/{id}",
                get(show_artifact)
                    .put(edit_artifact)
                    .delete(delete_artifact)
                    .fallback(artifact_method_not_allowed),
            ),
            ("/artifacts/{id}/download", get(download_link)),
            ("/limits/{name}", get(limits)),
        ],
    )
}

pub(crate) fn created(location: String) -> Response {
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `items`, one page of `total` matching items, with `X-Total-Count` and the `Link`
/// headers (upstream gives both the total and "more rows follow").
pub(crate) fn paged(
    page: Paging,
    path: &str,
    query: &[(String, String)],
    total: u64,
    items: Vec<Value>,
) -> Response {
    let has_next = page.has_next(total);
    let headers = paging::headers(path, query, page, Some(total), has_next);
    (headers, axum::Json(Value::Array(items))).into_response()
}

/// The page of `releases` that `page` asks for, in the v1 or v2 shape.
pub(crate) fn releases_page(
    page: Paging,
    path: &str,
    query: &[(String, String)],
    releases: &[Release],
    v1: bool,
) -> Response {
    let items = releases
        .iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.per_page).unwrap_or(usize::MAX))
        .map(|r| render::release(r, v1))
        .collect();
    paged(page, path, query, releases.len() as u64, items)
}

/// Upstream answers every method `/artifacts/{id}` does not serve (a `POST` to
/// `/artifacts/directupload` while direct upload is off, too) with gin's 405 and the methods
/// its route tree has for the path.
async fn artifact_method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").with_header(
        header::ALLOW,
        HeaderValue::from_static("GET, DELETE, PUT, OPTIONS"),
    )
}

// ---- artifacts ----

fn v1_artifact_filter(query: &[(String, String)]) -> ArtifactFilter {
    let contains = |k: &str| q(query, k).map(|v| Match::Contains(v.to_owned()));
    ArtifactFilter {
        name: contains("name"),
        description: contains("description"),
        device_type: contains("device_type"),
        ..Default::default()
    }
}

async fn list_artifacts(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    let (list, _) = s
        .list_artifacts(tenant, &v1_artifact_filter(&query.0))
        .await?;
    let views: Vec<ArtifactView<'_>> = list.iter().map(ArtifactView::from).collect();
    Ok(Json(views).into_response())
}

/// Upstream never refuses this list's query: bad paging values fall back to the defaults
/// (page 1, 20 per page, also above 500) and an unknown `sort` to the name order.
async fn list_artifacts_paged(
    s: State,
    id: Identity,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    let page = paging::lenient(&query.0, Some(paging::MAX_PER_PAGE));
    let mut f = v1_artifact_filter(&query.0);
    if let Some((key, desc)) = list_sort(&query.0) {
        f.sort_key = match key {
            "name" => ArtifactSortKey::Name,
            "modified" => ArtifactSortKey::Modified,
            // Upstream sorts artifacts by these release fields, which artifacts lack.
            _ => ArtifactSortKey::Id,
        };
        if desc {
            f.sort = Sort::Desc;
        }
    }
    f.offset = page.offset();
    f.limit = Some(page.per_page);
    let (list, total) = s.list_artifacts(tenant, &f).await?;
    let views = list.iter().map(|a| json!(ArtifactView::from(a))).collect();
    let path = format!("{BASE}/artifacts/list");
    Ok(paged(page, &path, &query.0, total, views))
}

/// The `sort` of the artifact and release lists as upstream reads it: `<key>:<direction>`
/// with a key of `name`, `modified`, `artifacts_count` or `tags`; descending only for
/// exactly `desc`. Anything else means the default order.
pub(crate) fn list_sort(query: &[(String, String)]) -> Option<(&str, bool)> {
    match first(query, "sort").split_once(':') {
        Some((k @ ("name" | "modified" | "artifacts_count" | "tags"), d)) => Some((k, d == "desc")),
        _ => None,
    }
}

/// Reads the upload form (`size`, `description`, `artifact_id`, then `artifact`) and stores
/// the artifact; shared with the internal upload.
pub(crate) async fn upload(
    app: &App,
    tenant: &TenantId,
    req: Request,
    allow_id: bool,
) -> Result<ArtifactId, ApiError> {
    let (parts, body) = req.into_parts();
    let mut mp = multipart::open(&parts.headers, body)?;
    let mut description = String::new();
    let mut artifact_id = None;
    while let Some(field) = multipart::next(&mut mp).await? {
        match field.name().unwrap_or("") {
            "size" => {
                let v = multipart::text(field).await?;
                let size: u64 = v
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request("size: must be a number"))?;
                if size > app.config.max_image_size {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "artifact file too large",
                    ));
                }
                app.check_storage_room(tenant, size).await?;
            }
            "description" => description = multipart::text(field).await?,
            "artifact_id" if allow_id => {
                let v = multipart::text(field).await?;
                if !v.is_empty() {
                    artifact_id = Some(ArtifactId::new(v));
                }
            }
            "artifact" => {
                return Ok(app
                    .upload_artifact(tenant, artifact_id, description, multipart::stream(field))
                    .await?);
            }
            _ => multipart::skip(field).await?,
        }
    }
    Err(ApiError::bad_request("request does not contain artifact"))
}

async fn upload_artifact(s: State, id: Identity, req: Request) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    let aid = upload(&s, &tenant, req, true).await?;
    Ok(created(format!("{BASE}/artifacts/{aid}")))
}

async fn generate_artifact(s: State, id: Identity, req: Request) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    let (parts, body) = req.into_parts();
    let mut mp = multipart::open(&parts.headers, body)?;
    let mut g = GenerateRequest::default();
    while let Some(field) = multipart::next(&mut mp).await? {
        match field.name().unwrap_or("") {
            "name" => g.name = multipart::text(field).await?,
            "description" => g.description = multipart::text(field).await?,
            "device_types_compatible" => {
                let v = multipart::text(field).await?;
                g.device_types_compatible.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                );
            }
            "type" => g.kind = multipart::text(field).await?,
            "args" => g.args = multipart::text(field).await?,
            "file" => {
                g.file_name = field.file_name().unwrap_or("").to_owned();
                let aid = s
                    .start_generate(&tenant, g, multipart::stream(field))
                    .await?;
                return Ok(created(format!("{BASE}/artifacts/{aid}")));
            }
            _ => multipart::skip(field).await?,
        }
    }
    Err(ApiError::bad_request("request does not contain the file"))
}

async fn show_artifact(
    s: State,
    id: Identity,
    Path(aid): Path<ArtifactId>,
) -> Result<Response, ApiError> {
    let a = s.get_artifact(&user(&id)?, &aid).await?;
    Ok(Json(ArtifactView::from(&a)).into_response())
}

#[derive(Deserialize)]
struct ArtifactUpdate {
    #[serde(default)]
    description: Option<String>,
}

/// The body is required (upstream binds it; an empty body is a 400) and replaces the
/// artifact's meta, so `{}` clears the description.
async fn edit_artifact(
    s: State,
    id: Identity,
    Path(aid): Path<ArtifactId>,
    Json(body): Json<ArtifactUpdate>,
) -> Result<StatusCode, ApiError> {
    let tenant = &user(&id)?;
    let desc = body.description.unwrap_or_default();
    s.edit_artifact(tenant, &aid, &desc).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_artifact(
    s: State,
    id: Identity,
    Path(aid): Path<ArtifactId>,
) -> Result<StatusCode, ApiError> {
    s.delete_artifact(&user(&id)?, &aid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn download_link(
    s: State,
    id: Identity,
    headers: HeaderMap,
    Path(aid): Path<ArtifactId>,
) -> Result<Response, ApiError> {
    let base = link_base(&s, &headers);
    let link = s
        .artifact_link(&user(&id)?, &aid, &base, s.config.download_expire_seconds)
        .await?;
    Ok(Json(json!({"uri": link.uri, "expire": render::ts(link.expire)})).into_response())
}

async fn limits(s: State, id: Identity, Path(name): Path<String>) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    if name != "storage" {
        return Err(ApiError::bad_request(format!("unsupported limit {name}")));
    }
    storage_limits(&s, tenant).await
}

/// `{"limit", "usage"}` of the tenant's storage: the limit set through the internal API (0:
/// none) and the bytes its artifacts take (upstream's open-source server answers 0).
pub(crate) async fn storage_limits(app: &App, tenant: &TenantId) -> Result<Response, ApiError> {
    let limit = app.storage_limit(tenant).await?;
    let usage = app.storage_usage(tenant).await?;
    Ok(Json(json!({"limit": limit, "usage": usage})).into_response())
}

// ---- deployments ----

#[derive(Deserialize)]
struct NewDeploymentBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    artifact_name: String,
    #[serde(default)]
    devices: Vec<DeviceId>,
    #[serde(default)]
    all_devices: bool,
    #[serde(default)]
    force_installation: bool,
}

impl From<NewDeploymentBody> for NewDeployment {
    fn from(b: NewDeploymentBody) -> Self {
        NewDeployment {
            name: b.name,
            artifact_name: b.artifact_name,
            devices: b.devices,
            all_devices: b.all_devices,
            force_installation: b.force_installation,
        }
    }
}

async fn create_deployment(
    s: State,
    id: Identity,
    Json(body): Json<NewDeploymentBody>,
) -> Result<Response, ApiError> {
    let did = s
        .create_deployment(&user(&id)?, body.into(), Targets::Request)
        .await?;
    Ok(created(format!("{BASE}/deployments/{did}")))
}

async fn create_group_deployment(
    s: State,
    id: Identity,
    Path(group): Path<String>,
    Json(body): Json<NewDeploymentBody>,
) -> Result<Response, ApiError> {
    let mut req: NewDeployment = body.into();
    req.devices.clear();
    req.all_devices = false;
    let did = s
        .create_deployment(&user(&id)?, req, Targets::Group(group))
        .await?;
    Ok(created(format!("{BASE}/deployments/{did}")))
}

/// Upstream's `parseEpochToTimestamp`: whole unix seconds as Go's `strconv.ParseInt`.
fn epoch(query: &[(String, String)], name: &str, context: &str) -> Result<Option<i64>, ApiError> {
    let raw = first(query, name);
    if raw.is_empty() {
        return Ok(None);
    }
    parse_int(raw)
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("{context}: invalid timestamp: {raw}")))
}

/// Parses the list filters shared by v1, v2 and the internal list, in upstream's order
/// (`ParseLookupQuery`): `created_before`, `created_after`, `sort`, `status`, `type`.
pub(crate) fn deployment_filter(query: &[(String, String)]) -> Result<DeploymentFilter, ApiError> {
    let created_before = epoch(
        query,
        "created_before",
        "timestamp parsing failed for created_before parameter",
    )?;
    // Upstream's text lacks the "for" here.
    let created_after = epoch(
        query,
        "created_after",
        "timestamp parsing failed created_after parameter",
    )?;
    let sort = match first(query, "sort").to_lowercase().as_str() {
        "asc" => Sort::Asc,
        "" | "desc" => Sort::Desc,
        _ => {
            return Err(ApiError::bad_request(
                "invalid form value: must be one of \"asc\" or \"desc\"",
            ));
        }
    };
    let status = match first(query, "status") {
        "" => None,
        // Upstream stores aborted deployments as finished ones.
        "aborted" => Some(DeploymentStatus::Finished),
        v => Some(
            DeploymentStatus::parse(v)
                .ok_or_else(|| ApiError::bad_request(format!("unknown status {v}")))?,
        ),
    };
    let kind = match first(query, "type") {
        "" => None,
        t => Some(
            DeploymentKind::parse(t)
                .ok_or_else(|| ApiError::bad_request(format!("unknown deployment type {t}")))?,
        ),
    };
    Ok(DeploymentFilter {
        ids: get_all(query, "id"),
        names: get_all(query, "name"),
        search: q(query, "search").map(str::to_owned),
        status,
        kind,
        created_after,
        created_before,
        sort,
        ..Default::default()
    })
}

/// A deployment list: the filters, then the paging (`ParsePagingParameters`).
pub(crate) async fn list_deployments_for(
    app: &App,
    tenant: &TenantId,
    query: &[(String, String)],
    mut f: DeploymentFilter,
    path: &str,
) -> Result<Response, ApiError> {
    let page = paging::parse(query)?;
    f.offset = page.offset();
    f.limit = Some(page.per_page);
    let (list, total) = app.list_deployments(tenant, &f).await?;
    let body = list
        .iter()
        .map(|(d, stats)| render::deployment(d, None, stats))
        .collect();
    Ok(paged(page, path, query, total, body))
}

async fn list_deployments(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    let f = deployment_filter(&query.0)?;
    let path = format!("{BASE}/deployments");
    list_deployments_for(&s, &tenant, &query.0, f, &path).await
}

async fn show_deployment(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    let d = s.get_deployment(tenant, &did).await?;
    let artifacts = s.deployment_artifacts(tenant, &did).await?;
    let stats = s.deployment_statistics(tenant, &did).await?;
    Ok(Json(render::deployment(&d, Some(&artifacts), &stats)).into_response())
}

#[derive(Deserialize)]
struct AbortBody {
    status: String,
}

async fn abort_deployment(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
    Json(body): Json<AbortBody>,
) -> Result<StatusCode, ApiError> {
    if body.status != "aborted" {
        return Err(ApiError::bad_request("status: must be aborted"));
    }
    s.abort_deployment(&user(&id)?, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn statistics(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
) -> Result<Response, ApiError> {
    let stats = s.deployment_statistics(&user(&id)?, &did).await?;
    Ok(Json(statistics_json(&stats)).into_response())
}

#[derive(Deserialize)]
struct StatsListBody {
    #[serde(default)]
    deployment_ids: Vec<DeploymentId>,
}

async fn statistics_list(
    s: State,
    id: Identity,
    Json(body): Json<StatsListBody>,
) -> Result<Response, ApiError> {
    let list = s
        .deployments_statistics(&user(&id)?, &body.deployment_ids)
        .await?;
    let out: Vec<Value> = list
        .iter()
        .map(|(i, st)| json!({"id": i, "stats": statistics_json(st)}))
        .collect();
    Ok(Json(out).into_response())
}

/// The `status` filter of device deployment lists: a device deployment status or `pause`,
/// `active` or `finished`.
fn status_filter(query: &[(String, String)]) -> Result<Option<StatusFilter>, ApiError> {
    match first(query, "status") {
        "" => Ok(None),
        v => StatusFilter::parse(v)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("status: must be a valid value")),
    }
}

/// `status` and the page.
fn device_deployment_filter(
    query: &[(String, String)],
    page: Paging,
) -> Result<DeviceDeploymentFilter, ApiError> {
    Ok(DeviceDeploymentFilter {
        status: status_filter(query)?,
        offset: page.offset(),
        limit: Some(page.per_page),
    })
}

async fn devices_all(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
) -> Result<Response, ApiError> {
    let all = DeviceDeploymentFilter::default();
    let (list, _) = s.deployment_devices(&user(&id)?, &did, &all).await?;
    Ok(Json(list.iter().map(render::device).collect::<Vec<_>>()).into_response())
}

/// Upstream's order: the id must be a UUID, then the paging, then the status; an unknown
/// deployment is a 404.
async fn devices_paged(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    if uuid::Uuid::parse_str(did.as_str()).is_err() {
        return Err(ApiError::bad_request("ID is not a valid UUID"));
    }
    let page = paging::parse(&query.0)?;
    let f = device_deployment_filter(&query.0, page)?;
    let (list, total) = match s.deployment_devices(&tenant, &did, &f).await {
        Err(Error::NotFound(_)) => return Err(ApiError::not_found("Deployment not found")),
        other => other?,
    };
    let body = list.iter().map(render::device).collect();
    let path = format!("{BASE}/deployments/{did}/devices/list");
    Ok(paged(page, &path, &query.0, total, body))
}

async fn device_list(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
) -> Result<Response, ApiError> {
    Ok(Json(s.deployment_device_ids(&user(&id)?, &did).await?).into_response())
}

async fn device_log(
    s: State,
    id: Identity,
    Path((did, dev)): Path<(DeploymentId, DeviceId)>,
) -> Result<Response, ApiError> {
    let text = s.device_log(&user(&id)?, &did, &dev).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(text),
    )
        .into_response())
}

/// A device's history: the paging (at most 20 per page, refused with upstream's misleading
/// text), then the `status`; with `X-Total-Count` and `Link` headers. `path` is the
/// request's path.
pub(crate) async fn history_for(
    app: &App,
    tenant: &TenantId,
    device: &DeviceId,
    query: &[(String, String)],
    path: &str,
) -> Result<Response, ApiError> {
    let page = paging::parse(query)?;
    if page.per_page > 20 {
        return Err(ApiError::bad_request(
            "invalid per_page query: value must be a non-zero positive integer",
        ));
    }
    let f = device_deployment_filter(query, page)?;
    let (list, total) = app.device_history(tenant, device, &f).await?;
    let has_next = total > page.offset() + list.len() as u64;
    let headers = paging::headers(path, query, page, Some(total), has_next);
    let body: Vec<Value> = list.iter().map(render::history).collect();
    Ok((headers, axum::Json(body)).into_response())
}

async fn device_history(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let path = format!("{BASE}/deployments/devices/{dev}");
    history_for(&s, &user(&id)?, &dev, &query.0, &path).await
}

async fn abort_device(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
) -> Result<StatusCode, ApiError> {
    s.abort_device_deployments(&user(&id)?, &dev).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_history(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
) -> Result<StatusCode, ApiError> {
    s.reset_device_history(&user(&id)?, &dev).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- releases (deprecated v1 forms) ----

/// The release list's order: `sort` as [`list_sort`] reads it, by name ascending otherwise.
pub(crate) fn release_sort(query: &[(String, String)]) -> (String, bool) {
    list_sort(query).map_or(("name".to_owned(), false), |(k, d)| (k.to_owned(), d))
}

fn v1_release_filter(query: &[(String, String)], sort: (String, bool)) -> ReleaseFilter {
    ReleaseFilter {
        name: q(query, "name").map(str::to_owned),
        description: q(query, "description").map(str::to_owned),
        device_type: q(query, "device_type").map(str::to_owned),
        update_type: q(query, "update_type").map(str::to_owned),
        tags: Vec::new(),
        sort,
    }
}

/// The unpaged list ignores `sort` (upstream reads it only for the paged ones).
async fn list_releases(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let f = v1_release_filter(&query.0, ("name".to_owned(), false));
    let list = s.list_releases(&user(&id)?, &f).await?;
    Ok(Json(
        list.iter()
            .map(|r| render::release(r, true))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// Never a 400: bad paging values and an unknown `sort` fall back to the defaults.
async fn list_releases_paged(
    s: State,
    id: Identity,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let page = paging::lenient(&query.0, Some(paging::MAX_PER_PAGE));
    let f = v1_release_filter(&query.0, release_sort(&query.0));
    let list = s.list_releases(&user(&id)?, &f).await?;
    let path = format!("{BASE}/deployments/releases/list");
    Ok(releases_page(page, &path, &query.0, &list, true))
}
