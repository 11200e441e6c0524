//! The gateway: what upstream's Traefik does, in-process. It builds the public router from the
//! services' open, management and device routes, puts management routes behind user-token
//! verification and device routes behind device-token verification, and never exposes internal
//! routes. Both routers get request ids, an access log, body limits and upstream's 404/405
//! bodies.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use mender_core::error::{method_not_allowed, not_found};
use mender_core::json::BodyLimit;
use mender_core::request_id;
use mender_core::service::Routers;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

/// How the gateway authenticates callers and limits requests.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Verifies user tokens (useradm) for management routes.
    pub user_verifier: Arc<dyn TokenVerifier>,
    /// Verifies device tokens (deviceauth) for device routes; without it device routes answer 401.
    pub device_verifier: Option<Arc<dyn TokenVerifier>>,
    /// Largest accepted request body, in bytes (upstream's `request_size_limit`).
    pub body_limit: usize,
}

/// The public router (served on the HTTPS port) and the internal router (never public).
pub struct Composed {
    /// Open, management and device routes behind their authentication.
    pub public: Router,
    /// Internal APIs: service-to-service and workflow calls.
    pub internal: Router,
}

/// Composes the services' routes into the public and internal routers.
pub fn compose(routers: Routers, config: GatewayConfig) -> Composed {
    let Routers {
        open,
        management,
        devices,
        internal,
    } = routers;
    let user = Arc::new(Verifier(Some(config.user_verifier.clone())));
    let device = Arc::new(Verifier(config.device_verifier.clone()));
    let management = protect(management, user).layer(middleware::from_fn(security_headers));
    let devices = protect(devices, device);
    let public = finish(
        open.layer(middleware::from_fn(security_headers))
            .merge(management)
            .merge(devices),
        config.body_limit,
    );
    Composed {
        public,
        internal: finish(internal, config.body_limit),
    }
}

/// Adds what every router needs: 404/405 bodies, the body limit, the access log and request
/// ids.
pub fn finish(router: Router, body_limit: usize) -> Router {
    router
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn(
            move |mut req: Request, next: Next| async move {
                req.extensions_mut().insert(BodyLimit(body_limit));
                next.run(req).await
            },
        ))
        .layer(access_log())
        .layer(middleware::from_fn(request_id::middleware))
        .layer(middleware::from_fn(host_header))
}

/// The access log layer's type: server errors count as failures, spans from [`access_log`].
type AccessLog = TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    fn(&Request) -> tracing::Span,
    (),
    DefaultOnResponse,
>;

/// One line per answered request: method, path, status and latency, inside the request id's
/// span. Only the path is logged: query strings carry download-link signatures, and headers
/// carry tokens.
fn access_log() -> AccessLog {
    fn span(req: &Request) -> tracing::Span {
        tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
    }
    TraceLayer::new_for_http()
        .make_span_with(span as fn(&Request) -> tracing::Span)
        .on_request(())
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Micros),
        )
}

/// HTTP/2 requests carry the host in the `:authority` pseudo-header, not in `Host`; services
/// that build links from `Host` see the same thing on both protocol versions.
async fn host_header(mut req: Request, next: Next) -> Response {
    if !req.headers().contains_key(header::HOST)
        && let Some(value) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(header::HOST, value);
    }
    next.run(req).await
}

/// Puts every route of `router` behind `verifier` (axum refuses a route layer on no routes).
fn protect(router: Router, verifier: Arc<Verifier>) -> Router {
    if router.has_routes() {
        router.route_layer(middleware::from_fn_with_state(verifier, authenticate))
    } else {
        router
    }
}

struct Verifier(Option<Arc<dyn TokenVerifier>>);

/// Verifies the caller like Traefik's forwardAuth: pass with the identity, or answer the
/// verifier's error verbatim.
async fn authenticate(
    State(verifier): State<Arc<Verifier>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(verifier) = verifier.0.as_ref() else {
        return mender_core::ApiError::unauthorized("unauthorized").into_response();
    };
    let forwarded = ForwardedRequest {
        method: req.method().clone(),
        uri: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned()),
        headers: req.headers().clone(),
    };
    match verifier.verify(&forwarded).await {
        Ok(identity) => {
            req.extensions_mut().insert(identity);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Upstream's `sec-headers` middleware for management and login routes.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains; preload"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::X_XSS_PROTECTION,
        HeaderValue::from_static("1; mode=block"),
    );
    resp
}
