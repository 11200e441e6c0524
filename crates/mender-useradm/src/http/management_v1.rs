//! Handlers of upstream's `management_v1.yaml`: login (an open route), logout, users,
//! settings with ETags, personal access tokens, plans and the plan binding.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mender_core::json::{check_json_content_type, parse, read_body};
use mender_core::{
    ApiError, ClientAddr, Identity, Json, Secret, TenantId, Timestamp, TokenId, UserId,
};
use serde_json::Value;

use super::json_body;
use crate::Service;
use crate::error::Error;
use crate::model::{LoginOptions, Plan, PlanBinding, TokenRequest, UserNew, UserUpdate};
use crate::store::UserFilter;
use mender_core::goform;
use mender_core::paging::Page;

const BASE: &str = "/api/management/v1/useradm";

type Svc = State<Arc<Service>>;

/// The open routes: login.
pub fn open(svc: Arc<Service>) -> Router {
    Router::new()
        .route(&format!("{BASE}/auth/login"), post(login))
        .with_state(svc)
}

/// The routes behind user-token verification.
pub fn management(svc: Arc<Service>) -> Router {
    Router::new()
        .route(&format!("{BASE}/auth/logout"), post(logout))
        .route(&format!("{BASE}/users"), get(list_users).post(create_user))
        .route(
            &format!("{BASE}/users/{{id}}"),
            get(get_user).put(update_user).delete(delete_user),
        )
        .route(
            &format!("{BASE}/settings"),
            get(get_settings::<false>).post(save_settings::<false>),
        )
        .route(
            &format!("{BASE}/settings/me"),
            get(get_settings::<true>).post(save_settings::<true>),
        )
        .route(
            &format!("{BASE}/settings/tokens"),
            get(list_tokens).post(issue_token),
        )
        .route(
            &format!("{BASE}/settings/tokens/{{id}}"),
            delete(delete_token),
        )
        .route(&format!("{BASE}/plans"), get(plans))
        .route(&format!("{BASE}/plan_binding"), get(plan_binding))
        .with_state(svc)
}

/// The caller's tenant.
fn tenant_of(id: &Identity) -> TenantId {
    TenantId::from(id.tenant.as_str())
}

/// `email:password` from `Authorization: Basic`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, Secret)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("basic ") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':')?;
    Some((user.to_owned(), Secret::new(pass.to_owned())))
}

fn jwt_response(token: Secret) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/jwt"),
        )],
        token.into_inner(),
    )
        .into_response()
}

async fn login(
    State(svc): Svc,
    ClientAddr(from): ClientAddr,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = read_body(req).await?;
    if !body.is_empty() {
        check_json_content_type(&parts.headers)?;
    }
    let (email, password) = basic_credentials(&parts.headers).ok_or(Error::AuthHeader)?;
    let opts = if body.is_empty() {
        LoginOptions::default()
    } else {
        parse::<LoginOptions>(&body)?
    };
    let token = svc.app().login(&email, &password, opts, from).await?;
    Ok(jwt_response(token))
}

async fn logout(State(svc): Svc, id: Identity) -> Result<StatusCode, ApiError> {
    svc.app().logout(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The user filter of a listing query as upstream reads it (`ParseForm`, then the filter's
/// own rules): `id` and `email` may repeat; the first value of each time bound counts, as
/// unix seconds; every other parameter, paging included, is ignored. An undecodable query
/// and a time bound that is not an integer are 400s with upstream's (Go's) texts.
pub(crate) fn user_filter(raw_query: Option<&str>) -> Result<UserFilter, ApiError> {
    let (pairs, err) = goform::parse_query(raw_query.unwrap_or(""));
    if let Some(e) = err {
        return Err(ApiError::bad_request(format!(
            "api: bad form parameters: {e}"
        )));
    }
    let mut f = UserFilter::default();
    for (k, v) in &pairs {
        match k.as_str() {
            "id" => f.ids.get_or_insert_with(Vec::new).push(v.as_str().into()),
            "email" => f.emails.get_or_insert_with(Vec::new).push(v.to_lowercase()),
            _ => {}
        }
    }
    let time = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        let v = goform::first(&pairs, name);
        if v.is_empty() {
            return Ok(None);
        }
        let secs = goform::parse_int(v).map_err(|e| {
            ApiError::bad_request(format!(
                "api: invalid form values: invalid form parameter \"{name}\": {e}"
            ))
        })?;
        Ok(Some(Timestamp::from_unix_secs(secs)))
    };
    f.created_after = time("created_after")?;
    f.created_before = time("created_before")?;
    f.updated_after = time("updated_after")?;
    f.updated_before = time("updated_before")?;
    Ok(f)
}

async fn list_users(
    State(svc): Svc,
    id: Identity,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let filter = user_filter(q.as_deref())?;
    Ok(Json(svc.app().list_users(&tenant_of(&id), &filter).await?).into_response())
}

async fn create_user(
    State(svc): Svc,
    id: Identity,
    Json(new): Json<UserNew>,
) -> Result<Response, ApiError> {
    let user = svc.app().create_user(&tenant_of(&id), new).await?;
    let location =
        HeaderValue::from_str(&format!("users/{}", user.id)).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

async fn get_user(
    State(svc): Svc,
    caller: Identity,
    Path(id): Path<UserId>,
) -> Result<Response, ApiError> {
    Ok(Json(svc.app().get_user(&caller, &id).await?).into_response())
}

async fn update_user(
    State(svc): Svc,
    caller: Identity,
    Path(id): Path<UserId>,
    Json(upd): Json<UserUpdate>,
) -> Result<StatusCode, ApiError> {
    svc.app().update_user(&caller, &id, upd).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_user(
    State(svc): Svc,
    caller: Identity,
    Path(id): Path<UserId>,
) -> Result<StatusCode, ApiError> {
    svc.app().delete_user(&tenant_of(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant of the caller and, for `me`, the caller: whose settings are meant.
fn settings_owner(id: &Identity, me: bool) -> (TenantId, Option<UserId>) {
    (tenant_of(id), me.then(|| UserId::from(id.subject.as_str())))
}

/// `GET` of the global settings, or with `ME` of the caller's own (`/settings/me`).
async fn get_settings<const ME: bool>(State(svc): Svc, id: Identity) -> Result<Response, ApiError> {
    let (tenant, user) = settings_owner(&id, ME);
    let (values, etag) = svc.app().get_settings(&tenant, user.as_ref()).await?;
    let mut resp = Json(values).into_response();
    if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(&t).ok()) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    Ok(resp)
}

/// `POST` of the global settings, or with `ME` of the caller's own (`/settings/me`).
async fn save_settings<const ME: bool>(
    State(svc): Svc,
    id: Identity,
    req: Request,
) -> Result<StatusCode, ApiError> {
    // Accept the tag as sent back from `ETag`, quoted or not.
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty());
    let values: Value = json_body(req, Some("cannot parse request body as json")).await?;
    let (tenant, user) = settings_owner(&id, ME);
    svc.app()
        .save_settings(&tenant, user.as_ref(), values, if_match.as_deref())
        .await?;
    Ok(StatusCode::CREATED)
}

async fn issue_token(State(svc): Svc, id: Identity, req: Request) -> Result<Response, ApiError> {
    let tr: TokenRequest = json_body(req, Some("cannot parse request body as json")).await?;
    let token = svc.app().issue_personal_token(&id, tr).await?;
    Ok(jwt_response(token))
}

async fn list_tokens(State(svc): Svc, id: Identity) -> Result<Response, ApiError> {
    Ok(Json(svc.app().list_personal_tokens(&id).await?).into_response())
}

async fn delete_token(
    State(svc): Svc,
    caller: Identity,
    Path(id): Path<TokenId>,
) -> Result<StatusCode, ApiError> {
    svc.app().delete_token(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The plans upstream loads from the `plans.yaml` its image ships: one, the open-source plan.
/// A page of them, `[]` beyond the end; paging errors are upstream's 400s.
async fn plans(_id: Identity, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    // Go's `URL.Query` drops malformed pairs silently.
    let (pairs, _) = goform::parse_query(q.as_deref().unwrap_or(""));
    let page = Page::from_go_query(&pairs)?;
    let all = [Plan::open_source()];
    let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let take = usize::try_from(page.per_page).unwrap_or(usize::MAX);
    let list: Vec<&Plan> = all.iter().skip(skip).take(take).collect();
    Ok(Json(list).into_response())
}

/// With exactly one plan loaded, upstream binds every tenant to it (and shows no limits).
async fn plan_binding(_id: Identity) -> Json<PlanBinding> {
    Json(PlanBinding {
        plan: Plan::open_source(),
    })
}
