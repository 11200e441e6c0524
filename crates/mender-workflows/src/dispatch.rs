//! How http tasks reach their targets: the [`HttpDispatcher`] trait and its network
//! implementation [`ReqwestDispatcher`]. The composition root may plug in a dispatcher that
//! routes requests for our own internal APIs straight into the in-process router.

use std::time::Duration;

use bytes::Bytes;

/// Sends one HTTP request of an http task.
#[async_trait::async_trait]
pub trait HttpDispatcher: Send + Sync {
    /// Sends `req` and reads the whole answer within `timeout`. `Err` means no answer
    /// (connection refused, timeout, invalid URL); any HTTP status is an `Ok`.
    async fn send(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<Bytes>, String>;
}

/// Answers bigger than this are cut (they end up in the job's results).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Sends requests over the network with reqwest.
#[derive(Debug, Clone, Default)]
pub struct ReqwestDispatcher {
    client: reqwest::Client,
}

impl ReqwestDispatcher {
    /// A dispatcher with its own connection pool (reqwest's defaults: redirects followed,
    /// rustls on aws-lc-rs with the platform's roots).
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::new(),
        }
    }

    /// A dispatcher on an existing client.
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

#[async_trait::async_trait]
impl HttpDispatcher for ReqwestDispatcher {
    async fn send(
        &self,
        req: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<Bytes>, String> {
        let mut req = reqwest::Request::try_from(req).map_err(|e| e.to_string())?;
        *req.timeout_mut() = Some(timeout);
        let mut resp = self.client.execute(req).await.map_err(|e| e.to_string())?;
        let mut builder = http::Response::builder()
            .status(resp.status())
            .version(resp.version());
        if let Some(h) = builder.headers_mut() {
            h.extend(resp.headers().iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        builder.body(Bytes::from(body)).map_err(|e| e.to_string())
    }
}
