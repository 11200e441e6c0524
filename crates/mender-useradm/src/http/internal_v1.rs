//! Handlers of upstream's `internal_v1.yaml`: health, token verification for the gateway,
//! tenants and their users, token revocation.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mender_core::query::QueryPairs;
use mender_core::{ApiError, Json, TenantId, UserId};

use super::management_v1::user_filter;
use crate::Service;
use crate::model::{NewTenant, UserNewInternal};

const BASE: &str = "/api/internal/v1/useradm";

type Svc = State<Arc<Service>>;

/// The internal routes.
pub fn internal(svc: Arc<Service>) -> Router {
    Router::new()
        .route(&format!("{BASE}/health"), get(health))
        .route(&format!("{BASE}/alive"), get(alive))
        .route(&format!("{BASE}/auth/verify"), get(verify).post(verify))
        .route(&format!("{BASE}/tenants"), post(create_tenant))
        .route(
            &format!("{BASE}/tenants/{{tenant_id}}/users"),
            get(list_tenant_users).post(create_tenant_user),
        )
        .route(
            &format!("{BASE}/tenants/{{tenant_id}}/users/{{user_id}}"),
            delete(delete_tenant_user),
        )
        .route(&format!("{BASE}/tokens"), delete(delete_tokens))
        .with_state(svc)
}

async fn health(State(svc): Svc) -> Result<StatusCode, ApiError> {
    svc.app().health().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn alive() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn verify(State(svc): Svc, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let uri = header("x-forwarded-uri");
    let method = header("x-forwarded-method");
    svc.app()
        .verify(&headers, uri.as_deref(), method.as_deref())
        .await?;
    Ok(StatusCode::OK)
}

async fn create_tenant(State(svc): Svc, Json(t): Json<NewTenant>) -> Result<StatusCode, ApiError> {
    svc.app().create_tenant(&t)?;
    Ok(StatusCode::CREATED)
}

async fn list_tenant_users(
    State(svc): Svc,
    Path(tenant): Path<TenantId>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let filter = user_filter(q.as_deref())?;
    Ok(Json(svc.app().list_users(&tenant, &filter).await?).into_response())
}

async fn create_tenant_user(
    State(svc): Svc,
    Path(tenant): Path<TenantId>,
    Json(new): Json<UserNewInternal>,
) -> Result<StatusCode, ApiError> {
    svc.app().create_user_internal(&tenant, new).await?;
    Ok(StatusCode::CREATED)
}

async fn delete_tenant_user(
    State(svc): Svc,
    Path((tenant, user)): Path<(TenantId, UserId)>,
) -> Result<StatusCode, ApiError> {
    svc.app().delete_user(&tenant, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_tokens(State(svc): Svc, q: QueryPairs) -> Result<StatusCode, ApiError> {
    let Some(tenant) = q.first("tenant_id").filter(|t| !t.is_empty()) else {
        return Err(ApiError::bad_request("tenant_id must be provided"));
    };
    let user = q.first("user_id").map(UserId::from);
    svc.app()
        .delete_tokens(&TenantId::from(tenant), user.as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
