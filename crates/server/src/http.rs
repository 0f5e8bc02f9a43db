//! The HTTP edge: one listener serves the AWS JSON APIs (`POST` on any path, dispatched on
//! `X-Amz-Target`: Secrets Manager and KMS), the Query APIs (IAM, STS), `GET /health` and
//! `GET /metrics` (`crate::metrics`).
//!
//! Per request: read the body (bounded, into a buffer wiped on drop), authenticate with
//! SigV4, decode and validate against AWS's model, call the domain, encode. Every response
//! carries `x-amzn-RequestId`; every error is an AWS error shape, never a framework page.
//! Nothing from a request or response body is ever logged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use axum::routing::{get, post};
use bytes::Bytes;
use coffer_auth::{SigV4Verifier, VerifyOptions};
use coffer_domain::audit::{AuditIdentity, AuditLog, AuditService, AuditWriter};
use coffer_domain::iam::IamService;
use coffer_domain::identity::{CredentialStore, Principal};
use coffer_domain::kms::KmsService;
use coffer_domain::secrets::{Actor, Caller, SecretsService};
use coffer_domain::{Clock, SecretsError};
use coffer_wire::errors::AwsError;
use http_body_util::BodyExt;
use zeroize::{Zeroize, Zeroizing};

use crate::audit::AuditFacts;
use crate::gate::{self, Gate};
use crate::store::AnyStore;
use crate::{kms, metrics, secretsmanager};

/// Largest request body accepted. A maximal CreateSecret (64 KiB value, base64-encoded,
/// plus tags and description) is about 100 KiB; a resource policy is at most 20 KiB.
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// The clock-skew window of the JSON APIs: AWS's 5 minutes for Secrets Manager; AWS documents
/// none for KMS, and the companion spec (§2.2) gives every JSON service the same window.
const JSON_API_SKEW: Duration = Duration::from_secs(5 * 60);
pub(crate) const SECRETS_MANAGER_TARGET_PREFIX: &str = "secretsmanager.";
const SECRETS_MANAGER_SIGNING_NAME: &str = "secretsmanager";
const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// `ServiceUnavailableException` (503): sealed, or the audit trail cannot take the record.
fn service_unavailable(message: String) -> AwsError {
    AwsError {
        error_type: "ServiceUnavailableException",
        message,
        status: 503,
        key: coffer_wire::errors::MessageKey::Framework,
    }
}

/// What a request gets when its audit record cannot be taken (fail closed).
const AUDIT_UNAVAILABLE: &str = "The audit trail cannot be written, so Coffer serves no request until it can; see the server log.";

pub struct AppState {
    pub service: Arc<SecretsService<AnyStore>>,
    /// IAM and STS (the Query-protocol APIs, `crate::query`).
    pub iam: Arc<IamService<AnyStore>>,
    /// KMS (`crate::kms`); the same instance seals secret values for `service`.
    pub kms: Arc<KmsService<AnyStore>>,
    pub credentials: CredentialStore<AnyStore>,
    pub verifier: SigV4Verifier,
    pub clock: Arc<dyn Clock>,
    /// The regions requests may be signed for (the one this server serves).
    pub regions: Vec<String>,
    /// The account this server serves (the recipient of records without a caller).
    pub account_id: String,
    /// The audit trail; `None` only with `--audit off`.
    pub audit: Option<Arc<AuditLog>>,
    /// The trail's writer task, awaited at shutdown so that queued records are written.
    pub audit_writer: std::sync::Mutex<Option<AuditWriter>>,
    /// CloudTrail LookupEvents over the trail.
    pub lookup: AuditService<AnyStore>,
    /// The rotation functions' invoker, whose registry a SIGHUP reloads.
    pub rotation_functions: Arc<crate::rotation::Invoker<AnyStore>>,
}

impl AppState {
    /// Whether requests may be served: with the trail failing (and failing closed), not.
    pub fn audit_accepting(&self) -> bool {
        self.audit.as_ref().is_none_or(|a| a.accepting())
    }

    /// Whether the audit trail's last write succeeded (readiness).
    pub fn audit_healthy(&self) -> bool {
        self.audit.as_ref().is_none_or(|a| a.healthy())
    }
}

pub fn router(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(gate::ready))
        .route("/metrics", get(metrics::endpoint))
        .route("/coffer/operator/status", get(gate::status))
        .route("/coffer/operator/unseal", post(gate::unseal))
        .route("/coffer/operator/seal", post(gate::seal))
        .fallback(api)
        .with_state(gate)
}

async fn health() -> Response<Body> {
    let mut response = Response::new(Body::from(r#"{"status":"ok"}"#));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A response body that is wiped when hyper is done with it (it may hold a secret value).
pub(crate) struct WipedOnDrop(pub(crate) Vec<u8>);

impl AsRef<[u8]> for WipedOnDrop {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WipedOnDrop {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

fn json_response(status: StatusCode, request_id: &str, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(Bytes::from_owner(WipedOnDrop(body))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

fn error_response(request_id: &str, error: &AwsError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, request_id, error.to_json())
}

/// What a request gets while the store cannot be reached (PostgreSQL down, restarting or
/// partitioned away): a retryable 503 that says so, rather than an anonymous 500.
const STORE_UNAVAILABLE: &str =
    "The store is unavailable: Coffer could not reach its database. Retry the request.";

/// Whether an internal cause is the store being unreachable. The causes are `StoreError`'s
/// texts; `Unavailable` is the one that says the request may be retried.
fn store_unavailable(cause: &str) -> bool {
    cause.contains("store unavailable:")
}

/// Logs the hidden cause of an internal error (store failures and the like; never secret
/// material) and returns the AWS error to send.
pub fn aws_error(request_id: &str, error: &SecretsError) -> AwsError {
    if let SecretsError::Internal { cause } = error {
        tracing::error!(request_id, cause = %cause, "internal error");
        if store_unavailable(cause) {
            return service_unavailable(STORE_UNAVAILABLE.into());
        }
    }
    AwsError::from(error)
}

/// The JSON 1.1 APIs, told apart by the prefix of `X-Amz-Target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonApi {
    SecretsManager,
    Kms,
    CloudTrail,
}

impl JsonApi {
    /// The credential-scope service requests must be signed for.
    fn signing_name(self) -> &'static str {
        match self {
            JsonApi::SecretsManager => SECRETS_MANAGER_SIGNING_NAME,
            JsonApi::Kms => coffer_wire::kms::SIGNING_NAME,
            JsonApi::CloudTrail => coffer_wire::cloudtrail::SIGNING_NAME,
        }
    }

    /// The audit record's `eventSource`.
    fn event_source(self) -> &'static str {
        match self {
            JsonApi::SecretsManager => "secretsmanager.amazonaws.com",
            JsonApi::Kms => "kms.amazonaws.com",
            JsonApi::CloudTrail => "cloudtrail.amazonaws.com",
        }
    }
}

pub(crate) enum BodyError {
    TooLarge,
    Read(String),
}

/// Collects the body into one buffer that is wiped on drop. The buffer never reallocates in
/// place: growing copies into a fresh buffer and wipes the old one.
pub(crate) async fn read_body(
    body: Body,
    declared_len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(BodyError::TooLarge);
    }
    let mut buffer = Zeroizing::new(Vec::with_capacity(declared_len.unwrap_or(0)));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buffer.len() + data.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        if buffer.capacity() < buffer.len() + data.len() {
            let mut grown = Zeroizing::new(Vec::with_capacity(
                (buffer.len() + data.len()).max(buffer.capacity() * 2),
            ));
            grown.extend_from_slice(&buffer);
            buffer = grown;
        }
        buffer.extend_from_slice(&data);
    }
    Ok(buffer)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn api(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let target = header_str(&parts.headers, "x-amz-target")
        .unwrap_or("")
        .to_owned();
    let api = metrics::Api::of_request(&target, &parts);

    let current = gate.current();
    let user_agent = header_str(&parts.headers, "user-agent").unwrap_or("");
    let auditing = current.as_ref().is_some_and(|state| state.audit.is_some());
    let mut facts = AuditFacts::new(user_agent, auditing);
    let (mut response, operation, mut outcome) = match &current {
        // Fail closed: while the trail cannot be written, nothing is served.
        Some(state) if !state.audit_accepting() => {
            let error = service_unavailable(AUDIT_UNAVAILABLE.into());
            (
                error_response(&request_id, &error),
                target.clone(),
                error.error_type.to_owned(),
            )
        }
        Some(state) => {
            serve(
                state,
                &request_id,
                parts,
                body,
                &target,
                peer.ip(),
                &mut facts,
            )
            .await
        }
        None => {
            let message = gate.sealed_message().await;
            if target.is_empty() && crate::query::is_query_request(&parts) {
                let response = crate::query::sealed_response(&parts, &request_id, message);
                (response, target.clone(), "ServiceUnavailable".to_owned())
            } else {
                let error = service_unavailable(message);
                let response = error_response(&request_id, &error);
                (response, target.clone(), error.error_type.to_owned())
            }
        }
    };
    if let Some(state) = &current
        && let Some(audit) = &state.audit
        && !facts.event_source.is_empty()
    {
        // A failed call changed nothing: its record need not hold the response back.
        let read_only = facts.read_only || facts.failure.is_some();
        let events = facts.into_events(
            &request_id,
            &peer.ip().to_string(),
            state.clock.now(),
            &state.account_id,
            &state.regions[0],
        );
        let mut recorded = Ok(());
        for event in events {
            recorded = if read_only {
                audit.record(event)
            } else {
                audit.record_durably(event).await
            };
            if recorded.is_err() {
                break;
            }
        }
        if recorded.is_err() {
            let error = service_unavailable(AUDIT_UNAVAILABLE.into());
            response = error_response(&request_id, &error);
            outcome = error.error_type.to_owned();
        }
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    // One line per request is debug-level: at production rates an info line per request
    // costs more CPU than the request itself, and the audit trail records every call.
    // Server faults are logged at error level where they happen.
    tracing::debug!(
        request_id,
        operation,
        status,
        outcome,
        peer = %peer.ip(),
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    gate.metrics()
        .record_request(api, &target, &operation, &outcome, elapsed);
    response
}

async fn serve(
    state: &AppState,
    request_id: &str,
    parts: axum::http::request::Parts,
    body: Body,
    target: &str,
    peer_ip: std::net::IpAddr,
    facts: &mut AuditFacts,
) -> (Response<Body>, String, String) {
    let fail = |facts: &mut AuditFacts, error: AwsError, operation: &str| {
        facts.failed(error.error_type, &error.message);
        let outcome = error.error_type.to_owned();
        (
            error_response(request_id, &error),
            operation.to_owned(),
            outcome,
        )
    };
    // IAM and STS speak the Query protocol: no X-Amz-Target, a form body, scope `iam`/`sts`.
    if target.is_empty() && crate::query::is_query_request(&parts) {
        return crate::query::serve(state, request_id, parts, body, peer_ip, facts).await;
    }
    let (api, operation_name) =
        if let Some(name) = target.strip_prefix(SECRETS_MANAGER_TARGET_PREFIX) {
            (JsonApi::SecretsManager, name)
        } else if let Some(name) = target.strip_prefix(coffer_wire::kms::TARGET_PREFIX) {
            (JsonApi::Kms, name)
        } else if let Some(name) = target.strip_prefix(coffer_wire::cloudtrail::TARGET_PREFIX) {
            (JsonApi::CloudTrail, name)
        } else {
            return fail(facts, AwsError::unknown_operation(), target);
        };
    facts.operation(api.event_source(), operation_name);

    let declared_len = header_str(&parts.headers, "content-length").and_then(|v| v.parse().ok());
    let body = match read_body(body, declared_len).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let mut error = AwsError::body_too_large(MAX_BODY_BYTES);
            error.status = 413;
            return fail(facts, error, operation_name);
        }
        Err(BodyError::Read(cause)) => {
            tracing::debug!(request_id, cause, "could not read the request body");
            return fail(facts, AwsError::unreadable_body(), operation_name);
        }
    };

    let now = jiff::Timestamp::from_millisecond(state.clock.now())
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let options = VerifyOptions {
        service: api.signing_name(),
        regions: &state.regions,
        allowed_skew: JSON_API_SKEW,
        required_signed_headers: &["host", "x-amz-target"],
        now,
    };
    let verified = match state
        .verifier
        .verify(&parts, &body, &options, &state.credentials)
        .await
    {
        Ok(verified) => verified,
        Err(error) => {
            let mut aws = AwsError::from(&error);
            if let coffer_auth::AuthError::Internal(cause) = &error {
                tracing::error!(request_id, cause, "authentication failed internally");
                if store_unavailable(cause) {
                    aws = service_unavailable(STORE_UNAVAILABLE.into());
                }
            }
            facts.identity = Some(AuditIdentity::Unauthenticated {
                access_key_id: SigV4Verifier::peek_scope(&parts).map(|s| s.access_key_id),
            });
            return fail(facts, aws, operation_name);
        }
    };
    let principal: &Arc<Principal> = &verified.principal;
    facts.region = Some(verified.region.clone());
    facts.identity = Some(AuditIdentity::Principal {
        principal: Arc::clone(principal),
        user_id: None,
        access_key_id: verified.access_key_id.clone(),
    });
    let caller = Caller {
        account_id: principal.account_id.clone(),
        region: verified.region.clone(),
        actor: Actor::Principal {
            principal: Arc::clone(principal),
            source_ip: Some(peer_ip),
        },
    };

    let handled = match api {
        JsonApi::SecretsManager => {
            secretsmanager::handle(state, request_id, &caller, operation_name, &body, facts).await
        }
        JsonApi::Kms => kms::handle(state, request_id, &caller, target, &body, facts).await,
        JsonApi::CloudTrail => {
            crate::cloudtrail::handle(state, request_id, &caller, target, &body, facts).await
        }
    };
    facts.note_user_id(state);
    match handled {
        Ok(Some(output)) => (
            json_response(StatusCode::OK, request_id, output),
            operation_name.to_owned(),
            "ok".into(),
        ),
        // Void operations (TagResource, CreateAlias, ...) answer with an empty body.
        Ok(None) => (
            json_response(StatusCode::OK, request_id, Vec::new()),
            operation_name.to_owned(),
            "ok".into(),
        ),
        Err(error) => fail(facts, error, operation_name),
    }
}
