//! The client side: SigV4 signing computed afresh for every request (with the lean signer in
//! [`crate::sigv4`], checked against `aws-sigv4` at start-up), and one keep-alive HTTP/1.1
//! connection per worker.

use std::net::SocketAddr;
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::sigv4::Signer;

pub const SERVICE: &str = "secretsmanager";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Where the server is and how to sign for it.
pub struct Api {
    pub addr: SocketAddr,
    host: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    signer: Signer,
}

impl Api {
    pub fn new(addr: SocketAddr, region: &str, access_key_id: &str, secret: &str) -> Self {
        Self {
            addr,
            host: addr.to_string(),
            region: region.to_owned(),
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret.to_owned(),
            signer: Signer::new(access_key_id, secret, region, SERVICE),
        }
    }

    /// Fails unless the lean signer produces exactly what `aws-sigv4` produces.
    pub fn check_signer(&self) -> anyhow::Result<()> {
        self.signer.check_against_aws_sigv4(&self.host)
    }

    /// `GET /health`: unsigned.
    pub fn health(&self) -> Request<Full<Bytes>> {
        Request::get("/health")
            .header("host", &self.host)
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    }

    /// A Secrets Manager request (AWS JSON 1.1), signed now with SigV4 over host, x-amz-date,
    /// x-amz-target and content-type.
    pub fn json(&self, operation: &str, body: Bytes) -> anyhow::Result<Request<Full<Bytes>>> {
        let target = format!("{SERVICE}.{operation}");
        let signature = self.signer.sign_json_post(
            SystemTime::now(),
            &self.host,
            JSON_CONTENT_TYPE,
            &target,
            &body,
        );
        Request::post("/")
            .header("host", &self.host)
            .header("content-type", JSON_CONTENT_TYPE)
            .header("x-amz-target", target)
            .header("x-amz-date", signature.amz_date)
            .header("authorization", signature.authorization)
            .body(Full::new(body))
            .context("building the request")
    }
}

impl Api {
    /// An IAM request (Query protocol: a form body with `Action` and `Version`), signed with
    /// `aws-sigv4` for service `iam`.
    pub fn iam(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
        let mut body = format!("Action={action}&Version=2010-05-08");
        for (key, value) in params {
            body.push('&');
            body.push_str(&form_encode(key));
            body.push('=');
            body.push_str(&form_encode(value));
        }
        let headers = crate::sigv4::sign_query_post(
            &self.access_key_id,
            &self.secret_access_key,
            &self.region,
            "iam",
            &self.host,
            FORM,
            body.as_bytes(),
        )?;
        let mut request = Request::post("/")
            .header("host", &self.host)
            .header("content-type", FORM);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request
            .body(Full::new(Bytes::from(body)))
            .context("building the request")
    }
}

/// `application/x-www-form-urlencoded` escaping of one key or value.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in an XML response (enough for the few values the
/// benchmark reads back from IAM).
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].to_owned())
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

    /// A signed IAM call that must answer 200; returns the XML text.
    pub async fn iam_call(
        &mut self,
        api: &Api,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let (status, body) = self.send(api.iam(action, params)?).await?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if status != StatusCode::OK {
            bail!("iam {action} answered {status}: {text}");
        }
        Ok(text)
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
