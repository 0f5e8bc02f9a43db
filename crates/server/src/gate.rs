//! The seal gate: whether the services (and every key they hold) exist right now.
//!
//! A server whose root key is a key file is unsealed from its start to its stop. A server on
//! a data directory sealed with Shamir shares starts sealed: the API answers 503, and the
//! operator endpoints collect shares until the root key is recovered, then build the
//! services. Sealing drops them again, and with them the keyring, the opened KMS material,
//! the credential and signing-key caches.
//!
//! Operator endpoints: `GET /coffer/operator/status`, `POST /coffer/operator/unseal`
//! (`{"share": "...", "reset": false}`, unauthenticated: the shares are the credential), and
//! `POST /coffer/operator/seal` (SigV4 for the service `coffer`, by a principal allowed
//! `coffer:Seal`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use coffer_auth::VerifyOptions;
use coffer_crypto::RootKey;
use serde::Deserialize;

use crate::http::{AppState, read_body};
use crate::metrics::Metrics;
use crate::seal::{Unseal, UnsealProgress};

/// Builds the services from a recovered root key.
pub type Unlocker = Box<
    dyn Fn(RootKey) -> Pin<Box<dyn Future<Output = anyhow::Result<Arc<AppState>>> + Send>>
        + Send
        + Sync,
>;

/// How a sealed directory is unsealed.
pub struct Sealing {
    progress: tokio::sync::Mutex<UnsealProgress>,
    unlock: Unlocker,
}

pub struct Gate {
    current: RwLock<Option<Arc<AppState>>>,
    sealing: Option<Sealing>,
    /// Outlives the services: counts carry across seal and unseal.
    metrics: Arc<Metrics>,
}

const OPERATOR_BODY_LIMIT: usize = 4 * 1024;
const SEAL_SKEW: Duration = Duration::from_secs(5 * 60);

impl Gate {
    /// A server unsealed for its whole life (the key-file modes).
    pub fn unsealed(state: Arc<AppState>, metrics: Arc<Metrics>) -> Gate {
        metrics.set_sealed(false);
        Gate {
            current: RwLock::new(Some(state)),
            sealing: None,
            metrics,
        }
    }

    /// A server that starts sealed and waits for shares.
    pub fn sealed(progress: UnsealProgress, unlock: Unlocker, metrics: Arc<Metrics>) -> Gate {
        metrics.set_sealed(true);
        Gate {
            current: RwLock::new(None),
            sealing: Some(Sealing {
                progress: tokio::sync::Mutex::new(progress),
                unlock,
            }),
            metrics,
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The services, unless the server is sealed.
    pub fn current(&self) -> Option<Arc<AppState>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Takes the services out at shutdown (the server is sealed from then on).
    pub fn take_current(&self) -> Option<Arc<AppState>> {
        self.current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn set(&self, state: Option<Arc<AppState>>) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        self.metrics.set_sealed(state.is_none());
        *current = state;
    }

    /// What a sealed server says to every API call.
    pub async fn sealed_message(&self) -> String {
        match &self.sealing {
            Some(sealing) => {
                let progress = sealing.progress.lock().await;
                format!(
                    "Coffer is sealed: no request can be served until it is unsealed with `coffer operator unseal` ({} of {} unseal shares submitted).",
                    progress.submitted(),
                    progress.threshold()
                )
            }
            None => "Coffer is sealed.".to_owned(),
        }
    }

    async fn status(&self) -> serde_json::Value {
        let sealed = self.current().is_none();
        match &self.sealing {
            Some(sealing) => {
                let progress = sealing.progress.lock().await;
                serde_json::json!({
                    "sealed": sealed,
                    "type": "shamir",
                    "threshold": progress.threshold(),
                    "progress": progress.submitted(),
                })
            }
            None => serde_json::json!({ "sealed": sealed, "type": "key" }),
        }
    }
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::from(value.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn operator_error(status: StatusCode, message: &str) -> Response<Body> {
    json(status, &serde_json::json!({ "error": message }))
}

/// `GET /ready`: 200 when requests can be served, 503 while sealed.
pub async fn ready(State(gate): State<Arc<Gate>>) -> Response<Body> {
    match gate.current() {
        Some(state) if state.audit_healthy() => {
            json(StatusCode::OK, &serde_json::json!({ "status": "ready" }))
        }
        // The audit trail cannot be written: requests are refused as soon as its queue fills.
        Some(_) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({ "status": "audit trail failing" }),
        ),
        None => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({ "status": "sealed" }),
        ),
    }
}

/// `GET /coffer/operator/status`.
pub async fn status(State(gate): State<Arc<Gate>>) -> Response<Body> {
    json(StatusCode::OK, &gate.status().await)
}

#[derive(Deserialize)]
struct UnsealRequest {
    #[serde(default)]
    share: String,
    #[serde(default)]
    reset: bool,
}

impl Drop for UnsealRequest {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.share);
    }
}

/// `POST /coffer/operator/unseal`.
pub async fn unseal(State(gate): State<Arc<Gate>>, request: Request<Body>) -> Response<Body> {
    let Some(sealing) = &gate.sealing else {
        return operator_error(
            StatusCode::BAD_REQUEST,
            "this server's root key is a key file, not unseal shares; there is nothing to unseal",
        );
    };
    let body = match read_body(request.into_body(), None).await {
        Ok(body) if body.len() <= OPERATOR_BODY_LIMIT => body,
        _ => return operator_error(StatusCode::BAD_REQUEST, "the request body is not readable"),
    };
    let Ok(parsed) = serde_json::from_slice::<UnsealRequest>(&body) else {
        return operator_error(
            StatusCode::BAD_REQUEST,
            r#"the body must be JSON: {"share": "<unseal share>"} or {"reset": true}"#,
        );
    };
    // One submission at a time, so that two holders' shares cannot both complete a round.
    let mut progress = sealing.progress.lock().await;
    if gate.current().is_some() {
        return json(StatusCode::OK, &serde_json::json!({ "sealed": false }));
    }
    if parsed.reset {
        progress.reset();
        return json(StatusCode::OK, &gate_progress(&progress));
    }
    match progress.submit(&parsed.share) {
        Ok(Unseal::Progress) => json(StatusCode::OK, &gate_progress(&progress)),
        Ok(Unseal::Unsealed(root)) => match (sealing.unlock)(root).await {
            Ok(state) => {
                gate.set(Some(state));
                tracing::info!("unsealed: the root key was recovered from unseal shares");
                json(StatusCode::OK, &serde_json::json!({ "sealed": false }))
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "unsealing failed");
                operator_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the shares were right but the services could not start; see the server log",
                )
            }
        },
        Err(error) => {
            tracing::warn!(%error, "an unseal share was refused");
            json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({
                    "error": error.to_string(),
                    "sealed": true,
                    "threshold": progress.threshold(),
                    "progress": progress.submitted(),
                }),
            )
        }
    }
}

fn gate_progress(progress: &UnsealProgress) -> serde_json::Value {
    serde_json::json!({
        "sealed": true,
        "threshold": progress.threshold(),
        "progress": progress.submitted(),
    })
}

/// `POST /coffer/operator/seal`.
pub async fn seal(State(gate): State<Arc<Gate>>, request: Request<Body>) -> Response<Body> {
    let Some(sealing) = &gate.sealing else {
        return operator_error(
            StatusCode::BAD_REQUEST,
            "this server's root key is a key file: sealing it would leave no way to unseal; \
             initialise a data directory with `coffer operator init` to use unseal shares",
        );
    };
    let Some(state) = gate.current() else {
        return json(StatusCode::OK, &serde_json::json!({ "sealed": true }));
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = read_body(body, None).await else {
        return operator_error(StatusCode::BAD_REQUEST, "the request body is not readable");
    };
    let now = jiff::Timestamp::from_millisecond(state.clock.now())
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let options = VerifyOptions {
        service: "coffer",
        regions: &state.regions,
        allowed_skew: SEAL_SKEW,
        required_signed_headers: &["host"],
        now,
    };
    let verified = match state
        .verifier
        .verify(&parts, &body, &options, &state.credentials)
        .await
    {
        Ok(verified) => verified,
        Err(error) => return operator_error(StatusCode::FORBIDDEN, &error.to_string()),
    };
    if let Err(error) = state
        .iam
        .authorize(&verified.principal, "coffer:Seal", "*")
        .await
    {
        return operator_error(StatusCode::FORBIDDEN, &error.to_string());
    }
    // Holding the progress lock keeps an unseal from racing the seal.
    let mut progress = sealing.progress.lock().await;
    progress.reset();
    gate.set(None);
    drop(state);
    tracing::info!(
        principal = %verified.principal.arn,
        "sealed: every key was dropped; unseal shares are needed to serve again"
    );
    json(StatusCode::OK, &serde_json::json!({ "sealed": true }))
}
