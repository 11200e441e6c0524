//! `internal_v1.yaml`: start workflows, read jobs, register and list definitions, status and
//! health. Thin handlers over [`App`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mender_core::{ApiError, JobId, Json};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::model::Workflow;

/// Header selecting the minimum definition version of a started job.
pub const MIN_VERSION_HEADER: &str = "x-workflows-min-version";

/// The internal routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/health", get(health))
        .route("/api/v1/health", get(health))
        .route("/api/v1/workflow/{name}", post(start))
        .route("/api/v1/workflow/{name}/batch", post(start_batch))
        .route("/api/v1/workflow/{name}/{id}", get(job_of))
        .route("/api/v1/metadata/workflows", get(list).post(register))
        .route("/api/v1/jobs/{id}", get(job))
        .with_state(app)
}

async fn status() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn health(State(app): State<Arc<App>>) -> Response {
    match app.health().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "workflows health check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "error reaching the database",
            )
            .into_response()
        }
    }
}

/// Reads a JSON body; a wrong declared content type is a 415, bad JSON a 400 with `prefix`.
async fn body<T: DeserializeOwned>(req: Request, prefix: &str) -> Result<T, ApiError> {
    let (parts, bytes) = mender_core::json::read_body(req).await?;
    // Upstream accepts bodies without a content type; a declared non-JSON type is refused.
    if parts.headers.contains_key(http::header::CONTENT_TYPE) {
        mender_core::json::check_json_content_type(&parts.headers)?;
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("{prefix}: {e}")))
}

/// What starting a workflow reads from the request: the minimum definition version asked for
/// ([`MIN_VERSION_HEADER`]) and the inputs (one job's or a batch's).
async fn start_request<T: DeserializeOwned>(req: Request) -> Result<(Option<String>, T), ApiError> {
    let version = req
        .headers()
        .get(MIN_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let inputs = body(req, "Unable to parse the input parameters").await?;
    Ok((version, inputs))
}

async fn start(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (version, inputs) = start_request::<Map<String, Value>>(req).await?;
    let job = app.start(&name, &inputs, version.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": job.id, "name": name})),
    )
        .into_response())
}

async fn start_batch(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (version, batch) = start_request::<Vec<Map<String, Value>>>(req).await?;
    let items = app.start_batch(&name, &batch, version.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(items)).into_response())
}

async fn job_of(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, JobId)>,
) -> Result<Response, ApiError> {
    Ok(Json(app.job_of(&name, &id).await?).into_response())
}

async fn job(State(app): State<Arc<App>>, Path(id): Path<JobId>) -> Result<Response, ApiError> {
    Ok(Json(app.job(&id).await?).into_response())
}

async fn list(State(app): State<Arc<App>>) -> Result<Json<Vec<Workflow>>, ApiError> {
    Ok(Json(app.list().await?))
}

async fn register(State(app): State<Arc<App>>, req: Request) -> Result<StatusCode, ApiError> {
    let wf: Workflow = body(req, "Error parsing JSON form").await?;
    app.register(wf).await?;
    Ok(StatusCode::CREATED)
}
