//! The gateway: what upstream's Traefik does, in-process. It builds the public router from the
//! services' open, management and device routes, and never exposes internal routes. Like
//! Traefik, it authenticates by path before routing: every path under a service's management
//! prefix needs a user token and every path under a device prefix a device token, served or
//! not (and each protected route checks again). Both routers answer like upstream's gin
//! routers: request ids, an access log, body limits, 404/405 bodies with `Allow`, and
//! `RedirectTrailingSlash`.

mod client_addr;
mod redirect;
mod traefik;

pub use client_addr::{IpNet, resolve as resolve_client_addr};

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use mender_core::error::{method_not_allowed, not_found};
use mender_core::json::BodyLimit;
use mender_core::request_id;
use mender_core::service::Routers;
use mender_core::verify::{ForwardedRequest, TokenVerifier};
use mender_core::{ApiError, Identity};
use tower::ServiceExt;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use traefik::Class;

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
    let user = Arc::new(Verifier {
        audience: Audience::Users,
        verifier: Some(config.user_verifier.clone()),
    });
    let device = Arc::new(Verifier {
        audience: Audience::Devices,
        verifier: config.device_verifier.clone(),
    });
    let public = assemble(
        open.merge(protect(management, user.clone()))
            .merge(protect(devices, device.clone())),
        config.body_limit,
        Some(Gate { user, device }),
    );
    Composed {
        public,
        internal: finish(internal, config.body_limit),
    }
}

/// Inserts [`mender_core::ClientAddr`] into every request of `router`: the connection's peer
/// address (axum's `ConnectInfo<SocketAddr>`, which the server sets), or, when the peer is
/// one of the `trusted` proxies, the right-most untrusted `X-Forwarded-For` address.
pub fn with_client_addr(router: Router, trusted: Vec<IpNet>) -> Router {
    router.layer(middleware::from_fn_with_state(
        Arc::<[IpNet]>::from(trusted),
        client_addr::insert,
    ))
}

/// The header carrying the internal port's shared secret.
pub const INTERNAL_SECRET_HEADER: &str = "x-men-internal-secret";

/// Puts `router` behind the internal port's shared secret: a request without
/// [`INTERNAL_SECRET_HEADER`] equal to `secret` (compared in constant time) gets 401.
pub fn require_secret(router: Router, secret: mender_core::Secret) -> Router {
    router.layer(middleware::from_fn_with_state(
        Arc::new(secret),
        check_secret,
    ))
}

async fn check_secret(
    State(secret): State<Arc<mender_core::Secret>>,
    req: Request,
    next: Next,
) -> Response {
    let given = req
        .headers()
        .get(INTERNAL_SECRET_HEADER)
        .map_or(&[][..], HeaderValue::as_bytes);
    if aws_lc_rs::constant_time::verify_slices_are_equal(given, secret.expose_str().as_bytes())
        .is_err()
    {
        return ApiError::unauthorized("unauthorized").into_response();
    }
    next.run(req).await
}

/// Adds what every router needs: upstream's 404/405 answers (with `Allow`), gin's
/// trailing-slash redirects, the body limit, the access log and request ids.
pub fn finish(router: Router, body_limit: usize) -> Router {
    assemble(router, body_limit, None)
}

/// [`finish`], with upstream's Traefik in front when `gate` is given.
fn assemble(router: Router, body_limit: usize, gate: Option<Gate>) -> Router {
    // Every route answers a probe before its own layers (authentication included) and its
    // handler run; unknown paths and methods reach the marked fallbacks instead.
    let routes = if router.has_routes() {
        router.route_layer(middleware::from_fn(answer_probe))
    } else {
        router
    };
    let routes = routes
        .method_not_allowed_fallback(unrouted_method)
        .fallback(unrouted_path);
    let state = Arc::new(Edge {
        routes: routes.clone(),
        gate,
    });
    // The edge wraps the whole router as one service, so it sees the `Allow` header axum
    // adds to 405 answers and runs before routing, as Traefik does.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, edge))
        .layer(middleware::from_fn(
            move |mut req: Request, next: Next| async move {
                req.extensions_mut().insert(BodyLimit(body_limit));
                next.run(req).await
            },
        ))
        .layer(CatchPanicLayer::custom(
            panic_answer as fn(PanicPayload) -> Response,
        ))
        .layer(access_log())
        .layer(middleware::from_fn(request_id::middleware))
        .layer(middleware::from_fn(without_request_id))
        .layer(middleware::from_fn(host_header))
}

/// What a panic carries.
type PanicPayload = Box<dyn std::any::Any + Send + 'static>;

/// The answer when a handler panicked: upstream's 500 body with the request id (this runs
/// inside the request id's scope), and the panic's message in the log, never to the client.
fn panic_answer(payload: PanicPayload) -> Response {
    let cause = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic with no message");
    ApiError::internal(format_args!("handler panicked: {cause}")).into_response()
}

/// Marks a probe request: "would this method and path reach a route?".
#[derive(Clone, Copy)]
struct Probe;

/// Marks the answer of a route to a [`Probe`].
#[derive(Clone, Copy)]
struct RouteExists;

/// Marks an answer of the fallbacks: no route for this path, or none for this method.
#[derive(Clone, Copy)]
struct Unrouted;

/// Marks an answer sent without `X-MEN-RequestID` (gin's redirects run no middleware).
#[derive(Clone, Copy)]
struct NoRequestId;

/// Route layer: a probe stops here, before any authentication, extractor or handler.
async fn answer_probe(req: Request, next: Next) -> Response {
    if req.extensions().get::<Probe>().is_some() {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        resp.extensions_mut().insert(RouteExists);
        return resp;
    }
    next.run(req).await
}

async fn unrouted_path() -> Response {
    let mut resp = not_found().await.into_response();
    resp.extensions_mut().insert(Unrouted);
    resp
}

async fn unrouted_method() -> Response {
    let mut resp = method_not_allowed().await.into_response();
    resp.extensions_mut().insert(Unrouted);
    resp
}

/// Drops the request id from answers marked [`NoRequestId`].
async fn without_request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if resp.extensions().get::<NoRequestId>().is_some() {
        resp.headers_mut().remove(request_id::HEADER);
    }
    resp
}

/// The public router's authentication, by upstream's Traefik routers.
struct Gate {
    user: Arc<Verifier>,
    device: Arc<Verifier>,
}

/// What runs in front of a router: the gate (public router only), then the router, then
/// gin's trailing-slash redirect and 405 `Allow` for requests no route took.
struct Edge {
    routes: Router,
    gate: Option<Gate>,
}

async fn edge(State(edge): State<Arc<Edge>>, mut req: Request, next: Next) -> Response {
    let mut sec_headers = false;
    if let Some(gate) = &edge.gate {
        let path = redirect::percent_decode(req.uri().path())
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_else(|| req.uri().path().to_owned());
        let (class, router) = traefik::classify(&path);
        sec_headers = class.security_headers(router);
        let verifier = match class {
            Class::User => Some(&gate.user),
            Class::Device => Some(&gate.device),
            Class::Open | Class::Outside => None,
        };
        // Like Traefik's forwardAuth: the whole prefix is behind the token check, served
        // or not, whatever the method.
        if let Some(v) = verifier {
            match v.verify(forwarded(&req)).await {
                Ok(identity) => {
                    req.extensions_mut().insert(identity);
                    req.extensions_mut().insert(Verified(v.audience));
                }
                Err(e) => return with_security_headers(e.into_response(), sec_headers),
            }
        }
    }
    let method = req.method().clone();
    let uri = req.uri().clone();
    let mut resp = next.run(req).await;
    if resp.extensions().get::<Unrouted>().is_some() {
        if let Some(redirect) = edge.trailing_slash(&method, &uri).await {
            return with_security_headers(redirect, sec_headers);
        }
        if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
            gin_allow(&mut resp);
        }
    }
    with_security_headers(resp, sec_headers)
}

impl Edge {
    /// gin's `RedirectTrailingSlash`: when the path with its final `/` toggled reaches a
    /// route of the same method, the redirect there (no handler runs, for either path).
    async fn trailing_slash(&self, method: &Method, uri: &Uri) -> Option<Response> {
        if method == Method::CONNECT {
            return None;
        }
        let location = redirect::location(uri.path(), uri.query())?;
        // Probe with what the client will ask for next.
        let probe = Request::builder()
            .method(method.clone())
            .uri(&location)
            .extension(Probe)
            .body(Body::empty())
            .ok()?;
        let answer = match self.routes.clone().oneshot(probe).await {
            Ok(answer) => answer,
            Err(never) => match never {},
        };
        answer.extensions().get::<RouteExists>()?;
        let mut resp = redirect::response(method, &location)?;
        resp.extensions_mut().insert(NoRequestId);
        Some(resp)
    }
}

/// gin lists the allowed methods as `GET, POST`; axum writes `GET,HEAD,POST`, HEAD being
/// its implicit companion of GET, which gin does not have.
fn gin_allow(resp: &mut Response) {
    let Some(allow) = resp
        .headers()
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let methods: Vec<&str> = allow
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && *m != "HEAD")
        .collect();
    if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
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
/// The gate has usually verified the caller already; this keeps every route safe on its own.
fn protect(router: Router, verifier: Arc<Verifier>) -> Router {
    if router.has_routes() {
        router.route_layer(middleware::from_fn_with_state(verifier, authenticate))
    } else {
        router
    }
}

/// Who a verifier lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    Users,
    Devices,
}

/// Marks a request whose token the gate verified, and for whom.
#[derive(Debug, Clone, Copy)]
struct Verified(Audience);

struct Verifier {
    audience: Audience,
    verifier: Option<Arc<dyn TokenVerifier>>,
}

impl Verifier {
    /// Verifies the caller like Traefik's forwardAuth: the identity, or the verifier's error
    /// to answer verbatim.
    async fn verify(&self, forwarded: ForwardedRequest) -> Result<Identity, ApiError> {
        let Some(verifier) = self.verifier.as_ref() else {
            return Err(ApiError::unauthorized("unauthorized"));
        };
        verifier.verify(&forwarded).await
    }
}

/// What forwardAuth sends the verifier: method, path with query, headers.
fn forwarded(req: &Request) -> ForwardedRequest {
    ForwardedRequest {
        method: req.method().clone(),
        uri: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned()),
        headers: req.headers().clone(),
    }
}

async fn authenticate(
    State(verifier): State<Arc<Verifier>>,
    mut req: Request,
    next: Next,
) -> Response {
    if req
        .extensions()
        .get::<Verified>()
        .is_some_and(|v| v.0 == verifier.audience)
    {
        return next.run(req).await;
    }
    match verifier.verify(forwarded(&req)).await {
        Ok(identity) => {
            req.extensions_mut().insert(identity);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Upstream's `sec-headers` middleware, on the answers of the routers whose chain has it.
fn with_security_headers(mut resp: Response, on: bool) -> Response {
    if !on {
        return resp;
    }
    let h = resp.headers_mut();
    for (name, value) in [
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains; preload",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_XSS_PROTECTION, "1; mode=block"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}
