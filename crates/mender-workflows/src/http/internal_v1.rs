//! `internal_v1.yaml`: start workflows, read jobs, register and list definitions, status and
//! health. Thin handlers over [`App`]. Bodies are decoded with Go's rules and errors are
//! written as upstream's handlers write them, Go's error texts included ([`GoError`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mender_core::gojson::{self, GoType};
use mender_core::{ApiError, JobId, Json};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::model::{GO_WORKFLOW, Workflow};

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
            GoError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "error reaching the database",
            )
            .into_response()
        }
    }
}

/// An error as upstream's workflows handlers write it: gin's `c.JSON(status,
/// gin.H{"error": ...})`, so `{"error": ...}` in Go's JSON text and no `request_id` (the
/// `X-MEN-RequestID` header is still set by the router's middleware).
#[derive(Debug)]
pub struct GoError {
    status: StatusCode,
    message: String,
    /// gin's JSON type, or `text/plain` where gin has sent the status before the body.
    content_type: &'static str,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl GoError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
        }
    }

    /// gin's `BindJSON` writes the 400 status before the handler writes its body, so Go
    /// sniffs the body and sends `text/plain; charset=utf-8`.
    fn bind_json(e: &gojson::DecodeError) -> Self {
        Self {
            content_type: "text/plain; charset=utf-8",
            ..Self::new(
                StatusCode::BAD_REQUEST,
                format!("Unable to parse the input parameters: {e}"),
            )
        }
    }
}

impl From<ApiError> for GoError {
    fn from(e: ApiError) -> Self {
        Self {
            headers: e.headers,
            ..Self::new(e.status, e.message)
        }
    }
}

impl From<crate::error::Error> for GoError {
    fn from(e: crate::error::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for GoError {
    fn into_response(self) -> Response {
        let body = gojson::to_string(&json!({"error": self.message}));
        let mut resp = (
            self.status,
            [(http::header::CONTENT_TYPE, self.content_type)],
            body,
        )
            .into_response();
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

/// Reads a body; a wrong declared content type is a 415, a too large body a 413.
async fn raw_body(req: Request) -> Result<bytes::Bytes, GoError> {
    let (parts, bytes) = mender_core::json::read_body(req).await?;
    // Upstream accepts bodies without a content type; a declared non-JSON type is refused.
    if parts.headers.contains_key(http::header::CONTENT_TYPE) {
        mender_core::json::check_json_content_type(&parts.headers)?;
    }
    Ok(bytes)
}

/// What starting a workflow reads from the request: the minimum definition version asked for
/// ([`MIN_VERSION_HEADER`]) and the body, decoded as gin's `BindJSON` does (Go's
/// `json.Decoder`: the first value only) into `ty`.
async fn start_request(req: Request, ty: &GoType) -> Result<(Option<String>, Value), GoError> {
    let version = req
        .headers()
        .get(MIN_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = raw_body(req).await?;
    let inputs = gojson::decode(&bytes, ty).map_err(|e| GoError::bind_json(&e))?;
    Ok((version, inputs))
}

/// One job's inputs as Go holds a `map[string]interface{}`: `null` is an empty map.
fn inputs(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

async fn start(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, GoError> {
    let (version, body) = start_request(req, &gojson::MAP_OF_ANY).await?;
    let job = app.start(&name, &inputs(body), version.as_deref()).await?;
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
) -> Result<Response, GoError> {
    let (version, body) = start_request(req, &gojson::SLICE_OF_MAPS).await?;
    let batch: Vec<Map<String, Value>> = match body {
        Value::Array(items) => items.into_iter().map(inputs).collect(),
        _ => Vec::new(),
    };
    let items = app.start_batch(&name, &batch, version.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(items)).into_response())
}

async fn job_of(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, JobId)>,
) -> Result<Response, GoError> {
    Ok(Json(app.job_of(&name, &id).await?).into_response())
}

async fn job(State(app): State<Arc<App>>, Path(id): Path<JobId>) -> Result<Response, GoError> {
    Ok(Json(app.job(&id).await?).into_response())
}

async fn list(State(app): State<Arc<App>>) -> Result<Json<Vec<Workflow>>, GoError> {
    Ok(Json(app.list().await?))
}

/// Registers a definition, decoded as upstream's handler does: Go's `json.Unmarshal` of the
/// whole body into `model.Workflow`.
async fn register(State(app): State<Arc<App>>, req: Request) -> Result<StatusCode, GoError> {
    let bytes = raw_body(req).await?;
    let parse_error = |e: &dyn std::fmt::Display| {
        GoError::new(
            StatusCode::BAD_REQUEST,
            format!("Error parsing JSON form: {e}"),
        )
    };
    let value = gojson::unmarshal(&bytes, &GO_WORKFLOW).map_err(|e| parse_error(&e))?;
    // The canonical JSON of what Go decoded: serde reads it into the same fields.
    let wf: Workflow = serde_json::from_value(value).map_err(|e| parse_error(&e))?;
    app.register(wf).await?;
    Ok(StatusCode::CREATED)
}
