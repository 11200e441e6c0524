//! Accepting connections on a port (plain TCP or TLS) and serving them with hyper, with the
//! limits an internet-facing server needs: a cap on open connections (over it, new ones are
//! accepted and closed at once), a TLS handshake timeout, a header-read and first-request
//! timeout, an idle timeout, an inactivity timeout while a body moves (never a total one),
//! HTTP/2 stream, header and keep-alive limits, early answers that reach a client still
//! sending its body, and graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::ServerConfig;

/// The limits of one port, from [`ServerConfig`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// TLS handshake deadline.
    pub tls_handshake: Duration,
    /// HTTP/1.1 header deadline, and the first request's deadline on both protocols.
    pub header_read: Duration,
    /// Close a connection with no request in flight after this.
    pub idle: Duration,
    /// Close a connection whose bodies move no byte for this long.
    pub body_inactivity: Duration,
    /// Open connections.
    pub max_connections: usize,
    /// HTTP/2 concurrent streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 header list size.
    pub h2_max_header_list_size: u32,
    /// HTTP/2 keep-alive ping interval.
    pub h2_keepalive_interval: Duration,
    /// HTTP/2 keep-alive ping answer deadline.
    pub h2_keepalive_timeout: Duration,
    /// Bytes of an unread body read and discarded after an early answer.
    pub drain_bytes: u64,
    /// How long that may take.
    pub drain_timeout: Duration,
}

impl Limits {
    /// The limits the configuration gives, with at most `max_connections` connections.
    pub fn from_config(c: &ServerConfig, max_connections: usize) -> Self {
        let secs = Duration::from_secs;
        Self {
            tls_handshake: secs(c.tls_handshake_timeout),
            header_read: secs(c.header_read_timeout),
            idle: secs(c.idle_timeout),
            body_inactivity: secs(c.body_inactivity_timeout),
            max_connections,
            h2_max_concurrent_streams: c.h2_max_concurrent_streams,
            h2_max_header_list_size: c.h2_max_header_list_size,
            h2_keepalive_interval: secs(c.h2_keepalive_interval),
            h2_keepalive_timeout: secs(c.h2_keepalive_timeout),
            drain_bytes: c.early_answer_drain_bytes,
            drain_timeout: secs(c.early_answer_drain_timeout),
        }
    }

    /// How often a connection's watchdog looks at its clocks.
    fn tick(&self) -> Duration {
        (self.header_read.min(self.idle).min(self.body_inactivity) / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

/// Why a port stops serving: `None` while running; `Some(grace)` asks connections to finish
/// their requests within `grace`.
pub type ShutdownRx = watch::Receiver<Option<Duration>>;

/// Serves `app` on `listener` until shutdown is asked, then waits for the connections (each
/// bounded by the grace period).
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    limits: Arc<Limits>,
    mut shutdown: ShutdownRx,
    port: &'static str,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut refused = Throttled::new();
    let mut accept_errors = Throttled::new();
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(Option::is_some) => break,
            accepted = listener.accept() => accepted,
        };
        while conns.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: say so now and then, and give the
                // process a moment instead of spinning.
                if let Some(n) = accept_errors.note() {
                    tracing::warn!(port, error = %e, errors = n, "cannot accept connections");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Graceful refusal: accepted and closed at once (no TLS handshake, no request
            // read), so the client sees the connection end instead of hanging in the queue.
            drop(stream);
            if let Some(n) = refused.note() {
                tracing::warn!(
                    port,
                    refused = n,
                    max_connections = limits.max_connections,
                    "connection limit reached: new connections are closed at once (raise server.max_connections and the open-files limit if this is real load)"
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Conn {
            app: app.clone(),
            limits: limits.clone(),
            peer,
            shutdown: shutdown.clone(),
        };
        let tls = tls.clone();
        conns.spawn(conn.run(stream, tls, permit));
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
    Ok(())
}

/// A log line at most every 10 seconds, with how many events it stands for.
struct Throttled {
    last: Option<Instant>,
    count: u64,
}

impl Throttled {
    fn new() -> Self {
        Self {
            last: None,
            count: 0,
        }
    }

    /// Counts one event; `Some(n)` when a line is due, `n` the events since the last line.
    fn note(&mut self) -> Option<u64> {
        self.count += 1;
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10));
        if !due {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.count))
    }
}

/// One accepted connection.
struct Conn {
    app: Router,
    limits: Arc<Limits>,
    peer: SocketAddr,
    shutdown: ShutdownRx,
}

impl Conn {
    /// Serves the connection; `permit` (its place under the connection cap) lives as long
    /// as the socket, also when a websocket upgrade carries the socket beyond this task.
    async fn run(
        self,
        stream: TcpStream,
        tls: Option<tokio_rustls::TlsAcceptor>,
        permit: OwnedSemaphorePermit,
    ) {
        let activity = Arc::new(Activity::new());
        let io = Tracked {
            inner: stream,
            activity: activity.clone(),
            _permit: permit,
        };
        match tls {
            None => self.http(io, activity).await,
            Some(acceptor) => {
                match tokio::time::timeout(self.limits.tls_handshake, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => self.http(tls, activity).await,
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed");
                    }
                    Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
                }
            }
        }
    }

    async fn http<I>(mut self, io: I, activity: Arc<Activity>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let limits = self.limits.clone();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.h2_max_concurrent_streams)
            .max_header_list_size(limits.h2_max_header_list_size)
            .keep_alive_interval(limits.h2_keepalive_interval)
            .keep_alive_timeout(limits.h2_keepalive_timeout);
        let service = hyper::service::service_fn({
            let app = self.app.clone();
            let peer = self.peer;
            let activity = activity.clone();
            let limits = limits.clone();
            move |req| handle(app.clone(), peer, activity.clone(), limits.clone(), req)
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        let grace = tokio::select! {
            _ = conn.as_mut() => return,
            why = activity.watch(&limits) => {
                tracing::debug!(peer = %self.peer, "{why}: closing the connection");
                match why {
                    // Nothing is in flight: a short grace to finish what hyper has started.
                    Closing::Idle | Closing::FirstRequest => Duration::from_secs(1),
                    // A body stalled: the connection is cut.
                    Closing::Stalled => return,
                }
            }
            grace = self.shutdown.wait_for(Option::is_some) => {
                grace.ok().and_then(|g| *g).unwrap_or_default()
            }
        };
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(grace, conn).await;
    }
}

/// Why a connection's watchdog closes it.
#[derive(Debug, Clone, Copy)]
enum Closing {
    FirstRequest,
    Idle,
    Stalled,
}

impl std::fmt::Display for Closing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Closing::FirstRequest => "no request within the header read timeout",
            Closing::Idle => "idle timeout",
            Closing::Stalled => "no body byte moved within the inactivity timeout",
        })
    }
}

/// What a connection is doing, for its watchdog. Times are milliseconds since `start`.
struct Activity {
    start: Instant,
    /// Last time a byte was read or written.
    last_io: AtomicU64,
    /// Since when no request has been in flight.
    idle_since: AtomicU64,
    /// True once a request arrived.
    served: AtomicBool,
    /// Requests from arrival until their response body is done.
    requests: AtomicUsize,
    /// Bodies moving: request bodies not read to the end, response bodies not sent.
    bodies: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            served: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            bodies: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn io(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// Resolves when the connection should close: nothing in flight for the idle time (or,
    /// before the first request, for the header read time), or bodies in flight but no byte
    /// moved for the inactivity time. A handler working on a request with no body to move has
    /// no deadline here.
    async fn watch(&self, limits: &Limits) -> Closing {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut tick = tokio::time::interval(limits.tick());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = self.now();
            if self.requests.load(Ordering::Acquire) == 0 {
                let (limit, why) = if self.served.load(Ordering::Acquire) {
                    (limits.idle, Closing::Idle)
                } else {
                    (limits.header_read, Closing::FirstRequest)
                };
                let since = self.idle_since.load(Ordering::Acquire);
                if now.saturating_sub(since) >= ms(limit) {
                    return why;
                }
            } else if self.bodies.load(Ordering::Acquire) > 0
                && now.saturating_sub(self.last_io.load(Ordering::Relaxed))
                    >= ms(limits.body_inactivity)
            {
                return Closing::Stalled;
            }
        }
    }
}

/// A request in flight: counted from arrival until its response body is done or dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity.served.store(true, Ordering::Release);
        activity.requests.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since.store(a.now(), Ordering::Release);
        a.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A body that is moving: counted until it ends or is dropped.
struct Moving(Option<Arc<Activity>>);

impl Moving {
    fn new(activity: &Arc<Activity>, ended: bool) -> Self {
        if ended {
            return Self(None);
        }
        activity.bodies.fetch_add(1, Ordering::AcqRel);
        activity.io();
        Self(Some(activity.clone()))
    }

    fn end(&mut self) {
        if let Some(a) = self.0.take() {
            a.bodies.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for Moving {
    fn drop(&mut self) {
        self.end();
    }
}

/// Serves one request: the peer address for the gateway, the request body shared so that
/// an early answer can drain what the handler left unread, the response body counted.
async fn handle(
    app: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
    limits: Arc<Limits>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<axum::body::Body>, Infallible> {
    let in_flight = InFlight::new(activity.clone());
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    // A client that waits for `100 Continue` has sent no body yet: if the handler never
    // asked for it, an early answer needs no draining (hyper then sends no 100).
    let expects_continue = parts
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let shared = SharedBody::new(body, &activity);
    let req = http::Request::from_parts(parts, axum::body::Body::new(shared.clone()));
    let resp = match app.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    let (sent_tx, sent_rx) = oneshot::channel();
    if let Some(rest) = shared.unread(expects_continue) {
        tokio::spawn(drain(rest, limits, sent_rx));
    }
    let (parts, body) = resp.into_parts();
    let moving = Moving::new(&activity, body.is_end_stream());
    let body = CountedBody {
        inner: body,
        moving,
        _in_flight: in_flight,
        _sent: Some(sent_tx),
    };
    Ok(hyper::Response::from_parts(
        parts,
        axum::body::Body::new(body),
    ))
}

/// Reads and discards what the handler left of a request body (bounded in bytes and time),
/// so that a client still sending gets the answer: HTTP/1.1 keeps the connection instead of
/// closing it under the client's feet, and HTTP/2 ends the stream cleanly. If the bound is
/// hit, the body is dropped only after the answer was sent, so an HTTP/2 reset comes after
/// the response (and is then NO_ERROR).
async fn drain(mut body: Incoming, limits: Arc<Limits>, sent: oneshot::Receiver<()>) {
    let mut left = limits.drain_bytes;
    let read = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            if let Some(data) = frame.data_ref() {
                let n = u64::try_from(data.len()).unwrap_or(u64::MAX);
                if n > left {
                    return;
                }
                left -= n;
            }
        }
    };
    let _ = tokio::time::timeout(limits.drain_timeout, read).await;
    let _ = tokio::time::timeout(limits.drain_timeout, sent).await;
    drop(body);
}

/// The request body, shared between the handler and [`handle`]: whatever the handler does
/// not read stays here for [`drain`].
#[derive(Clone)]
struct SharedBody(Arc<Mutex<BodyState>>);

struct BodyState {
    body: Option<Incoming>,
    /// The handler asked for data at least once.
    polled: bool,
    moving: Moving,
}

impl SharedBody {
    fn new(body: Incoming, activity: &Arc<Activity>) -> Self {
        let moving = Moving::new(activity, body.is_end_stream());
        Self(Arc::new(Mutex::new(BodyState {
            body: Some(body),
            polled: false,
            moving,
        })))
    }

    /// The unread rest of the body, when there is one worth draining.
    fn unread(&self, expects_continue: bool) -> Option<Incoming> {
        let mut state = self.0.lock().ok()?;
        let unread = state.body.as_ref().is_some_and(|b| !b.is_end_stream());
        if !unread || (expects_continue && !state.polled) {
            return None;
        }
        state.body.take()
    }
}

impl HttpBody for SharedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Ok(mut state) = self.0.lock() else {
            return Poll::Ready(None);
        };
        state.polled = true;
        let Some(body) = state.body.as_mut() else {
            return Poll::Ready(None);
        };
        let poll = Pin::new(body).poll_frame(cx);
        if matches!(poll, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            state.moving.end();
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.0
            .lock()
            .map(|s| s.body.as_ref().is_none_or(HttpBody::is_end_stream))
            .unwrap_or(true)
    }

    fn size_hint(&self) -> SizeHint {
        self.0
            .lock()
            .ok()
            .and_then(|s| s.body.as_ref().map(HttpBody::size_hint))
            .unwrap_or_default()
    }
}

/// The response body, counted as moving until it ends, and holding the request's
/// [`InFlight`] until then.
struct CountedBody {
    inner: axum::body::Body,
    moving: Moving,
    _in_flight: InFlight,
    /// Dropped with the body: the answer is out.
    _sent: Option<oneshot::Sender<()>>,
}

impl HttpBody for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let poll = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(poll, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.moving.end();
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection's socket, noting each byte moved in its [`Activity`].
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    /// The connection's place under the cap, freed when the socket closes.
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.io();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.io();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.io();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
