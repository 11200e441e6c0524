//! HTTP handlers, one module per upstream OpenAPI file, and the websocket plumbing the two
//! socket endpoints share.

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use mender_core::service::Routers;
use mender_core::{Identity, TenantId};
use tokio::time::Instant;

use crate::App;
use crate::protocol::{Keepalive, MESSAGE_SIZE_LIMIT};

mod devices_v1;
mod internal_v1;
mod management_v1;

/// Shared state of every handler.
pub(crate) type State = axum::extract::State<Arc<App>>;

/// Builds the service's routers.
pub(crate) fn routers(app: Arc<App>) -> Routers {
    let finish = |r: Router<Arc<App>>| r.with_state(app.clone());
    Routers {
        open: Router::new(),
        management: finish(management_v1::routes()),
        devices: finish(devices_v1::routes()),
        internal: finish(internal_v1::routes()),
    }
}

/// The caller's tenant.
pub(crate) fn tenant(id: &Identity) -> TenantId {
    TenantId::from(id.tenant.as_str())
}

/// Close code for a frame that is not a msgpack `ProtoMsg` (1007, invalid payload data).
pub(crate) const CLOSE_INVALID: u16 = 1007;
/// Close code for a text frame (1003, unsupported data).
const CLOSE_UNSUPPORTED: u16 = 1003;
/// Close code for a frame over [`MESSAGE_SIZE_LIMIT`] (1009, message too big).
const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a peer that stopped answering (1001, going away).
const CLOSE_GOING_AWAY: u16 = 1001;
/// The payload of the server's pings, as upstream's.
const PING: &[u8] = b"60";
/// Close code for a normal end (1000).
pub(crate) const CLOSE_NORMAL: u16 = 1000;

/// The upgrade with upstream's subprotocol and frame size limit.
pub(crate) fn limited(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.protocols(["protomsg/msgpack"])
        .max_message_size(MESSAGE_SIZE_LIMIT)
        .max_frame_size(MESSAGE_SIZE_LIMIT)
}

/// What the peer sent next.
enum Incoming {
    /// One binary frame.
    Frame(Vec<u8>),
    /// A ping or a pong (answered by the websocket layer): the peer is alive.
    Alive,
    /// The peer closed or the connection broke: nothing more to say to it.
    Gone,
    /// The peer broke the protocol: close with this code and reason.
    Refuse(u16, &'static str),
}

/// Reads the peer's next message; pings are answered by the websocket layer itself.
async fn next_frame(socket: &mut WebSocket) -> Incoming {
    match socket.recv().await {
        Some(Ok(Message::Binary(b))) => Incoming::Frame(b.into()),
        Some(Ok(Message::Text(_))) => {
            Incoming::Refuse(CLOSE_UNSUPPORTED, "only binary msgpack frames are accepted")
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Alive,
        Some(Ok(Message::Close(_))) | None => Incoming::Gone,
        Some(Err(e)) if too_big(&e) => Incoming::Refuse(CLOSE_TOO_BIG, "message too big"),
        Some(Err(_)) => Incoming::Gone,
    }
}

/// Whether a read failed because the frame was over the limit.
fn too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Writes one frame; false when the peer is gone.
async fn send(socket: &mut WebSocket, frame: Vec<u8>) -> bool {
    socket.send(Message::Binary(frame.into())).await.is_ok()
}

/// One side of a websocket as [`pump`] drives it.
pub(crate) trait Side {
    /// Takes one frame from the peer; the close code and reason when it breaks the rules or
    /// the other side is gone.
    async fn inbound(&mut self, frame: Vec<u8>) -> Result<(), (u16, &'static str)>;

    /// The next frame for the peer; `None` once the other side is gone.
    async fn outbound(&mut self) -> Option<Vec<u8>>;

    /// Why the socket closes when [`Side::outbound`] ends.
    const ENDED: &'static str;
}

/// Moves frames both ways between the peer on `socket` and `side` until either ends, pinging
/// the peer as `keepalive` says and ending the socket when the peer falls silent.
pub(crate) async fn pump<S: Side>(socket: &mut WebSocket, side: &mut S, keepalive: Keepalive) {
    let start = Instant::now() + keepalive.interval;
    let mut pings = tokio::time::interval_at(start, keepalive.interval);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = pings.tick() => {
                if last_heard.elapsed() > keepalive.interval + keepalive.wait {
                    close(socket, CLOSE_GOING_AWAY, "ping timeout").await;
                    break;
                }
                if socket.send(Message::Ping(PING.into())).await.is_err() {
                    break;
                }
            }
            incoming = next_frame(socket) => match incoming {
                Incoming::Alive => last_heard = Instant::now(),
                Incoming::Frame(f) => {
                    last_heard = Instant::now();
                    if let Err((code, why)) = side.inbound(f).await {
                        close(socket, code, why).await;
                        break;
                    }
                }
                Incoming::Gone => break,
                Incoming::Refuse(code, why) => {
                    close(socket, code, why).await;
                    break;
                }
            },
            out = side.outbound() => match out {
                Some(f) => if !send(socket, f).await { break },
                None => {
                    close(socket, CLOSE_NORMAL, S::ENDED).await;
                    break;
                }
            },
        }
    }
}

/// Closes the socket with `code` and `reason` (best effort: the peer may be gone).
pub(crate) async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
