//! The client side: SigV4 signing with the real AWS signer (`aws-sigv4`), computed afresh for
//! every request, and one keep-alive HTTP/1.1 connection per worker.

use std::net::SocketAddr;
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub const SERVICE: &str = "secretsmanager";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Where the server is and how to sign for it.
pub struct Api {
    pub addr: SocketAddr,
    host: String,
    region: String,
    identity: Identity,
}

impl Api {
    pub fn new(addr: SocketAddr, region: &str, access_key_id: &str, secret: &str) -> Self {
        let identity = Credentials::new(access_key_id, secret, None, None, "coffer-bench").into();
        Self {
            addr,
            host: addr.to_string(),
            region: region.to_owned(),
            identity,
        }
    }

    /// `GET /health`: unsigned.
    pub fn health(&self) -> Request<Full<Bytes>> {
        Request::get("/health")
            .header("host", &self.host)
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    }

    /// A Secrets Manager request (AWS JSON 1.1), signed now with SigV4. Signs host,
    /// x-amz-date, x-amz-target and content-type; the signing key is derived for every call
    /// (as an SDK without a key cache does; the server caches derived keys, a client here
    /// never does).
    pub fn json(&self, operation: &str, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
        let target = format!("{SERVICE}.{operation}");
        let mut request = Request::post("/")
            .header("host", &self.host)
            .header("content-type", JSON_CONTENT_TYPE)
            .header("x-amz-target", &target)
            .body(body)
            .context("building the request")?;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .context("signing parameters")?
            .into();
        let headers = [
            ("host", self.host.as_str()),
            ("content-type", JSON_CONTENT_TYPE),
            ("x-amz-target", target.as_str()),
        ];
        let signable = SignableRequest::new(
            "POST",
            "/",
            headers.into_iter(),
            SignableBody::Bytes(request.body()),
        )
        .context("signable request")?;
        let (instructions, _signature) = sign(signable, &params).context("signing")?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Ok(request.map(Full::new))
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender })
    }

    /// Sends one request and reads the whole response body.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.sender.ready().await.context("connection not ready")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("sending the request")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the response body")?
            .to_bytes();
        Ok((status, body))
    }

    /// A signed JSON call that must answer 200; returns the decoded body.
    pub async fn call(
        &mut self,
        api: &Api,
        operation: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let request = api.json(operation, Bytes::from(body.to_string()))?;
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK {
            bail!(
                "{operation} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| anyhow!("{operation}: response is not JSON: {e}"))
    }
}

/// Describes a failed response for the report: status and the start of the body.
pub fn describe_failure(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(600).collect();
    format!("HTTP {status}: {text}")
}
