//! `devices_v1.yaml`: the device's websocket. While it is open the device is connected;
//! frames from the device go to the session they name, frames of sessions go to the device.

use axum::Router;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use mender_core::{ApiError, DeviceId, Identity};

use super::{
    CLOSE_INVALID, CLOSE_NORMAL, Incoming, State, close, limited, next_frame, send, tenant,
};
use crate::App;
use crate::app::DeviceConn;

pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new().route("/api/devices/v1/deviceconnect/connect", get(connect))
}

async fn connect(s: State, id: Identity, ws: WebSocketUpgrade) -> Result<Response, ApiError> {
    if !id.is_device {
        return Err(ApiError::bad_request(
            "missing or non-device identity in the authorization headers",
        ));
    }
    let (tenant, device) = (tenant(&id), DeviceId::from(id.subject.as_str()));
    let app = s.0;
    Ok(limited(ws).on_upgrade(move |mut socket| async move {
        match app.device_connected(&tenant, &device).await {
            Ok(conn) => {
                let conn = serve(&app, &mut socket, conn).await;
                if let Err(e) = app.device_disconnected(conn).await {
                    tracing::error!(error = %e, "cannot record the device as disconnected");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record the device as connected");
                close(&mut socket, 1011, "internal error").await;
            }
        }
    }))
}

/// Moves frames both ways until either side ends.
async fn serve(app: &App, socket: &mut WebSocket, mut conn: DeviceConn) -> DeviceConn {
    loop {
        tokio::select! {
            incoming = next_frame(socket) => match incoming {
                Incoming::Frame(f) => {
                    if let Err(e) = app.from_device(&conn, f).await {
                        tracing::debug!(error = %e, "closing a device socket");
                        close(socket, CLOSE_INVALID, "invalid ProtoMsg").await;
                        break;
                    }
                }
                Incoming::Gone => break,
                Incoming::Refuse(code, why) => {
                    close(socket, code, why).await;
                    break;
                }
            },
            out = conn.recv() => match out {
                Some(f) => if !send(socket, f).await { break },
                None => {
                    close(socket, CLOSE_NORMAL, "replaced by a newer connection").await;
                    break;
                }
            },
        }
    }
    conn
}
