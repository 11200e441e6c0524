//! `management_v1.yaml`: a device's connection status, and a user's websocket to a connected
//! device (the remote terminal of mender-cli and the UI).

use axum::Router;
use axum::extract::Path;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use mender_core::{ApiError, DeviceId, Identity, Json, UserId};

use super::{CLOSE_INVALID, CLOSE_NORMAL, Side, State, limited, pump, tenant};
use crate::App;
use crate::app::{MenderCommand, RouteError, Session};
use crate::model::Device;

const BASE: &str = "/api/management/v1/deviceconnect";

pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new()
        .route(&format!("{BASE}/devices/{{id}}"), get(device))
        .route(&format!("{BASE}/devices/{{id}}/connect"), get(connect))
        .route(
            &format!("{BASE}/devices/{{id}}/check-update"),
            post(|s, id, p| command(s, id, p, MenderCommand::CheckUpdate)),
        )
        .route(
            &format!("{BASE}/devices/{{id}}/send-inventory"),
            post(|s, id, p| command(s, id, p, MenderCommand::SendInventory)),
        )
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

async fn command(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
    command: MenderCommand,
) -> Result<StatusCode, ApiError> {
    let u = user(&id)?;
    s.send_mender_command(&tenant(&id), &dev, Some(&u), command)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

async fn connect(
    s: State,
    id: Identity,
    Path(dev): Path<DeviceId>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let u = user(&id)?;
    let session = s.open_session(&tenant(&id), &dev, &u).await?;
    let keepalive = s.keepalive();
    Ok(limited(ws).on_upgrade(move |mut socket| async move {
        let mut session = session;
        pump(&mut socket, &mut session, keepalive).await;
    }))
}

/// The user's socket: frames from the user go to the device stamped with the session,
/// frames of the session go to the user. Dropping the session closes it.
impl Side for Session {
    const ENDED: &'static str = "device disconnected";

    async fn inbound(&mut self, frame: Vec<u8>) -> Result<(), (u16, &'static str)> {
        match self.send(&frame).await {
            Ok(()) => Ok(()),
            Err(RouteError::Proto(e)) => {
                tracing::debug!(session = self.id(), error = %e, "closing a user socket");
                Err((CLOSE_INVALID, "invalid ProtoMsg"))
            }
            Err(RouteError::DeviceGone) => Err((CLOSE_NORMAL, Self::ENDED)),
        }
    }

    async fn outbound(&mut self) -> Option<Vec<u8>> {
        self.recv().await
    }
}
