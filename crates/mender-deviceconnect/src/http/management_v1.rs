//! `management_v1.yaml`: a device's connection status, and a user's websocket to a connected
//! device (the remote terminal of mender-cli and the UI).

use axum::Router;
use axum::extract::Path;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use mender_core::{ApiError, DeviceId, Identity, Json, UserId};

use super::{
    CLOSE_INVALID, CLOSE_NORMAL, Incoming, State, close, limited, next_frame, send, tenant,
};
use crate::App;
use crate::app::{RouteError, Session};
use crate::model::Device;

const BASE: &str = "/api/management/v1/deviceconnect";

pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route(&format!("{BASE}/devices/{{id}}"), get(device))
        .route(&format!("{BASE}/devices/{{id}}/connect"), get(connect))
}

/// The calling user, who must be one (upstream answers 400 otherwise).
fn user(id: &Identity) -> Result<UserId, ApiError> {
    if id.is_user {
        Ok(UserId::from(id.subject.as_str()))
    } else {
        Err(ApiError::bad_request(
            "missing or non-user identity in the authorization headers",
        ))
    }
}

async fn device(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
) -> Result<Json<Device>, ApiError> {
    user(&id)?;
    Ok(Json(s.device(&tenant(&id), &dev).await?))
}

async fn connect(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let u = user(&id)?;
    let session = s.open_session(&tenant(&id), &dev, &u).await?;
    Ok(limited(ws).on_upgrade(move |mut socket| async move {
        serve(&mut socket, session).await;
    }))
}

/// Moves frames both ways until either side ends; dropping the session closes it.
async fn serve(socket: &mut WebSocket, mut session: Session) {
    loop {
        tokio::select! {
            incoming = next_frame(socket) => match incoming {
                Incoming::Frame(f) => match session.send(&f).await {
                    Ok(()) => {}
                    Err(RouteError::Proto(e)) => {
                        tracing::debug!(session = session.id(), error = %e, "closing a user socket");
                        close(socket, CLOSE_INVALID, "invalid ProtoMsg").await;
                        break;
                    }
                    Err(RouteError::DeviceGone) => {
                        close(socket, CLOSE_NORMAL, "device disconnected").await;
                        break;
                    }
                },
                Incoming::Gone => break,
                Incoming::Refuse(code, why) => {
                    close(socket, code, why).await;
                    break;
                }
            },
            out = session.recv() => match out {
                Some(f) => if !send(socket, f).await { break },
                None => {
                    close(socket, CLOSE_NORMAL, "device disconnected").await;
                    break;
                }
            },
        }
    }
}
