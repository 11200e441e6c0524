//! A simulated device on the HTTP device API: authenticates with a signed auth request,
//! keeps its token, and calls inventory and deployments like mender-client.

use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::auth::AUTH_REQUESTS_PATH;
use crate::{AuthRequest, DeviceKey};

/// Inventory attributes path on the device API.
pub const INVENTORY_PATH: &str = "/api/devices/v1/inventory/device/attributes";
/// The v1 "next deployment" path.
pub const NEXT_DEPLOYMENT_PATH: &str = "/api/devices/v1/deployments/device/deployments/next";

/// Configures a [`DeviceClient`].
pub struct DeviceClientBuilder {
    base_url: String,
    key: DeviceKey,
    identity: Value,
    tenant_token: String,
    root_cert_pem: Option<Vec<u8>>,
    skip_verify: bool,
}

impl DeviceClientBuilder {
    /// Trusts this PEM certificate (for a server with a self-signed certificate).
    pub fn root_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_cert_pem = Some(pem.into());
        self
    }

    /// Accepts any server certificate (tests only).
    pub fn skip_verify(mut self, skip: bool) -> Self {
        self.skip_verify = skip;
        self
    }

    /// Sets the tenant token sent in auth requests.
    pub fn tenant_token(mut self, token: impl Into<String>) -> Self {
        self.tenant_token = token.into();
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<DeviceClient> {
        let mut http = reqwest::Client::builder();
        if let Some(pem) = &self.root_cert_pem {
            http = http.add_root_certificate(
                reqwest::Certificate::from_pem(pem).context("root certificate")?,
            );
        }
        if self.skip_verify {
            http = http.danger_accept_invalid_certs(true);
        }
        Ok(DeviceClient {
            http: http.build().context("building the HTTP client")?,
            base_url: self.base_url.trim_end_matches('/').to_owned(),
            key: self.key,
            identity: self.identity,
            tenant_token: self.tenant_token,
            token: Mutex::new(None),
        })
    }
}

/// A device talking to a Mender server.
pub struct DeviceClient {
    http: reqwest::Client,
    base_url: String,
    key: DeviceKey,
    identity: Value,
    tenant_token: String,
    token: Mutex<Option<String>>,
}

impl std::fmt::Debug for DeviceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token and key are secrets.
        f.debug_struct("DeviceClient")
            .field("base_url", &self.base_url)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl DeviceClient {
    /// Starts building a client for the server at `base_url` (e.g. `https://localhost:8443`).
    pub fn builder(
        base_url: impl Into<String>,
        key: DeviceKey,
        identity: Value,
    ) -> DeviceClientBuilder {
        DeviceClientBuilder {
            base_url: base_url.into(),
            key,
            identity,
            tenant_token: String::new(),
            root_cert_pem: None,
            skip_verify: false,
        }
    }

    /// The device's key.
    pub fn key(&self) -> &DeviceKey {
        &self.key
    }

    /// The device's identity attributes.
    pub fn identity(&self) -> &Value {
        &self.identity
    }

    /// The current token, if authenticated.
    pub fn token(&self) -> Option<String> {
        self.token.lock().ok().and_then(|t| t.clone())
    }

    /// Sends a signed auth request. `Some(token)` on 200 (the token is kept for later calls),
    /// `None` on 401 (pending, rejected or unknown); any other answer is an error.
    pub async fn authenticate(&self) -> Result<Option<String>> {
        let signed = AuthRequest::new(&self.identity)
            .tenant_token(self.tenant_token.clone())
            .sign(&self.key);
        let resp = self
            .http
            .post(self.url(AUTH_REQUESTS_PATH))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.tenant_token))
            .header("x-men-signature", signed.signature)
            .body(signed.body)
            .send()
            .await
            .context("sending the auth request")?;
        match resp.status() {
            StatusCode::OK => {
                let token = resp.text().await.context("reading the token")?;
                if let Ok(mut t) = self.token.lock() {
                    *t = Some(token.clone());
                }
                Ok(Some(token))
            }
            StatusCode::UNAUTHORIZED => Ok(None),
            other => bail!(
                "auth request answered {other}: {}",
                resp.text().await.unwrap_or_default()
            ),
        }
    }

    /// `PUT` inventory attributes (`[{"name","value"}]`); returns the status code.
    pub async fn put_inventory(&self, attrs: &[(&str, Value)]) -> Result<StatusCode> {
        self.inventory(Method::PUT, attrs).await
    }

    /// `PATCH` inventory attributes; returns the status code.
    pub async fn patch_inventory(&self, attrs: &[(&str, Value)]) -> Result<StatusCode> {
        self.inventory(Method::PATCH, attrs).await
    }

    async fn inventory(&self, method: Method, attrs: &[(&str, Value)]) -> Result<StatusCode> {
        let body: Vec<Value> = attrs
            .iter()
            .map(|(name, value)| serde_json::json!({"name": name, "value": value}))
            .collect();
        let resp = self
            .request(method, INVENTORY_PATH, Some(&Value::Array(body)))
            .await?;
        Ok(resp.status())
    }

    /// Asks for the next deployment (v1 GET). `Some(instructions)` on 200, `None` on 204.
    pub async fn next_deployment(
        &self,
        artifact_name: &str,
        device_type: &str,
    ) -> Result<Option<Value>> {
        let url = reqwest::Url::parse_with_params(
            &self.url(NEXT_DEPLOYMENT_PATH),
            &[
                ("artifact_name", artifact_name),
                ("device_type", device_type),
            ],
        )
        .context("building the next-deployment URL")?;
        let resp = self.send(self.http.get(url)).await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(
                resp.json()
                    .await
                    .context("decoding deployment instructions")?,
            )),
            StatusCode::NO_CONTENT => Ok(None),
            other => bail!(
                "next deployment answered {other}: {}",
                resp.text().await.unwrap_or_default()
            ),
        }
    }

    /// Sends a request with the device token to `path` (with an optional JSON body).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let mut req = self.http.request(method, self.url(path));
        if let Some(body) = json {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(body).context("encoding the body")?);
        }
        self.send(req).await
    }

    /// A `GET` with the device token.
    pub async fn get(&self, path: &str) -> Result<reqwest::Response> {
        self.request(Method::GET, path, None).await
    }

    /// Sends a prepared request, adding the device token when there is one.
    pub async fn send(&self, mut req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        if let Some(token) = self.token() {
            req = req.bearer_auth(token);
        }
        req.send().await.context("sending the request")
    }

    /// The underlying HTTP client, for fully custom requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }
}
