//! Management API v1 (`management_v1.yaml`): artifacts, deployments, releases (deprecated
//! forms) and storage usage.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use mender_core::paging::Page;
use mender_core::{ApiError, ArtifactId, DeploymentId, DeviceId, Identity, Json, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{State, get as q, get_all, int_param, link_base, multipart, render, user};
use crate::app::App;
use crate::app::deployments::{NewDeployment, Targets};
use crate::app::generate::GenerateRequest;
use crate::app::releases::{Release, ReleaseFilter};
use crate::model::{
    ArtifactFilter, ArtifactView, DeploymentFilter, DeploymentKind, DeploymentStatus,
    DeviceDeploymentFilter, Match, Sort, StatusFilter, statistics_json,
};
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
                    .delete(delete_artifact),
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

/// `items`, the page of `total` items that `page` asks for, with the paging headers.
pub(crate) fn paged(
    page: &Page,
    path: &str,
    query: &[(String, String)],
    total: u64,
    items: Vec<Value>,
) -> Response {
    let has_next = page.offset() + (items.len() as u64) < total;
    let headers = page.headers(path, query, has_next, Some(total));
    (headers, axum::Json(Value::Array(items))).into_response()
}

/// The page of `releases` that `page` asks for, in the v1 or v2 shape.
pub(crate) fn releases_page(
    page: &Page,
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

async fn list_artifacts_paged(
    s: State,
    id: Identity,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let tenant = &user(&id)?;
    let page = Page::from_query(&query.0)?;
    let mut f = v1_artifact_filter(&query.0);
    match q(&query.0, "sort").unwrap_or("name:asc") {
        "name:asc" => {}
        "name:desc" => f.sort = Sort::Desc,
        "modified:asc" => f.sort_modified = true,
        "modified:desc" => (f.sort_modified, f.sort) = (true, Sort::Desc),
        _ => return Err(ApiError::bad_request("sort: invalid value")),
    }
    f.offset = page.offset();
    f.limit = Some(page.per_page);
    let (list, total) = s.list_artifacts(tenant, &f).await?;
    let views = list.iter().map(|a| json!(ArtifactView::from(a))).collect();
    let path = format!("{BASE}/artifacts/list");
    Ok(paged(&page, &path, &query.0, total, views))
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
    // The open-source server sets no limit (upstream answers 0); usage is what is stored.
    let usage = s.storage_usage(tenant).await?;
    Ok(Json(json!({"limit": 0, "usage": usage})).into_response())
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

/// Parses the list filters shared by v1, v2 and the internal list.
pub(crate) fn deployment_filter(
    query: &[(String, String)],
    page: &Page,
) -> Result<DeploymentFilter, ApiError> {
    let status = match q(query, "status") {
        None => None,
        Some(v) => Some(
            DeploymentStatus::parse(v)
                .ok_or_else(|| ApiError::bad_request("status: invalid value"))?,
        ),
    };
    let kind = match q(query, "type") {
        None => None,
        Some(t) => Some(
            DeploymentKind::parse(t)
                .ok_or_else(|| ApiError::bad_request(format!("unknown deployment type {t}")))?,
        ),
    };
    let sort = match q(query, "sort") {
        None | Some("desc") => Sort::Desc,
        Some("asc") => Sort::Asc,
        Some(_) => return Err(ApiError::bad_request("sort: invalid value")),
    };
    Ok(DeploymentFilter {
        ids: get_all(query, "id"),
        names: get_all(query, "name"),
        search: q(query, "search").map(str::to_owned),
        status,
        kind,
        created_after: int_param(query, "created_after")?,
        created_before: int_param(query, "created_before")?,
        sort,
        offset: page.offset(),
        limit: Some(page.per_page),
    })
}

pub(crate) async fn list_deployments_for(
    app: &App,
    tenant: &TenantId,
    query: &[(String, String)],
    path: &str,
) -> Result<Response, ApiError> {
    let page = Page::from_query(query)?;
    let f = deployment_filter(query, &page)?;
    let (list, total) = app.list_deployments(tenant, &f).await?;
    let body = list
        .iter()
        .map(|(d, stats)| render::deployment(d, None, Some(stats)))
        .collect();
    Ok(paged(&page, path, query, total, body))
}

async fn list_deployments(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    list_deployments_for(&s, &user(&id)?, &query.0, &format!("{BASE}/deployments")).await
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
    Ok(Json(render::deployment(&d, Some(&artifacts), Some(&stats))).into_response())
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

/// `status` and the page.
fn device_deployment_filter(
    query: &[(String, String)],
    page: &Page,
) -> Result<DeviceDeploymentFilter, ApiError> {
    let status = q(query, "status")
        .map(|v| {
            StatusFilter::parse(v).ok_or_else(|| ApiError::bad_request("status: invalid value"))
        })
        .transpose()?;
    Ok(DeviceDeploymentFilter {
        status,
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

async fn devices_paged(
    s: State,
    id: Identity,
    Path(did): Path<DeploymentId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query.0)?;
    let f = device_deployment_filter(&query.0, &page)?;
    let (list, total) = s.deployment_devices(&user(&id)?, &did, &f).await?;
    let body = list.iter().map(render::device).collect();
    let path = format!("{BASE}/deployments/{did}/devices/list");
    Ok(paged(&page, &path, &query.0, total, body))
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

/// History query: `status` and paging with at most 20 per page.
pub(crate) async fn history_for(
    app: &App,
    tenant: &TenantId,
    device: &DeviceId,
    query: &[(String, String)],
) -> Result<Response, ApiError> {
    let page = Page::from_query(query)?;
    if page.per_page > 20 {
        return Err(ApiError::bad_request("per_page: must be at most 20"));
    }
    let f = device_deployment_filter(query, &page)?;
    let list = app.device_history(tenant, device, &f).await?;
    Ok(Json(list.iter().map(render::history).collect::<Vec<_>>()).into_response())
}

async fn device_history(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    history_for(&s, &user(&id)?, &dev, &query.0).await
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

/// The release list's `sort`: `<key>:<asc|desc>`, by name ascending when absent.
pub(crate) fn release_sort(query: &[(String, String)]) -> Result<(String, bool), ApiError> {
    match q(query, "sort").unwrap_or("name:asc").split_once(':') {
        Some((k @ ("name" | "modified" | "artifacts_count" | "tags"), d @ ("asc" | "desc"))) => {
            Ok((k.to_owned(), d == "desc"))
        }
        _ => Err(ApiError::bad_request("sort: invalid value")),
    }
}

fn v1_release_filter(query: &[(String, String)]) -> Result<ReleaseFilter, ApiError> {
    let sort = release_sort(query)?;
    Ok(ReleaseFilter {
        name: q(query, "name").map(str::to_owned),
        description: q(query, "description").map(str::to_owned),
        device_type: q(query, "device_type").map(str::to_owned),
        update_type: q(query, "update_type").map(str::to_owned),
        tags: get_all(query, "tag"),
        sort,
    })
}

async fn list_releases(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let list = s
        .list_releases(&user(&id)?, &v1_release_filter(&query.0)?)
        .await?;
    Ok(Json(
        list.iter()
            .map(|r| render::release(r, true))
            .collect::<Vec<_>>(),
    )
    .into_response())
}

async fn list_releases_paged(
    s: State,
    id: Identity,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let page = Page::from_query(&query.0)?;
    let list = s
        .list_releases(&user(&id)?, &v1_release_filter(&query.0)?)
        .await?;
    let path = format!("{BASE}/deployments/releases/list");
    Ok(releases_page(&page, &path, &query.0, &list, true))
}
