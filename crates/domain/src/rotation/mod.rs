//! Secret rotation: when a secret rotates, and how a rotation runs.
//!
//! `schedule` turns AWS's `RotationRules` into rotation windows; it is pure (no store, no
//! clock, no randomness of its own) so the rules can be checked against fixed instants and
//! seeded generators. This module holds what the rotation engine (in
//! `secrets::service::rotate`) keeps per secret and the seam through which it calls rotation
//! functions: [`RotationInvoker`], implemented at the edge (the Lambda Invoke protocol, and
//! Coffer's own managed database rotation).

pub mod schedule;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
pub use schedule::RotationRules;

/// The four steps AWS invokes a rotation function for, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    CreateSecret,
    #[serde(rename = "setSecret")]
    SetSecret,
    #[serde(rename = "testSecret")]
    TestSecret,
    #[serde(rename = "finishSecret")]
    FinishSecret,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }
}

/// The event a rotation function receives (AWS's wire names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationEvent {
    #[serde(rename = "Step")]
    pub step: Step,
    /// The secret's full ARN.
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    /// The id of the version the rotation fills (it carries `AWSPENDING`).
    #[serde(rename = "ClientRequestToken")]
    pub client_request_token: String,
    /// Identifies this rotation; a function calling back from another identity passes it in
    /// `PutSecretValue.RotationToken`.
    #[serde(rename = "RotationToken")]
    pub rotation_token: String,
}

/// Why invoking a rotation function failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and reported an error (Lambda's `X-Amz-Function-Error`).
    #[error("{error_type}: {message}")]
    Function { error_type: String, message: String },
    /// The function could not be reached or did not answer in time: worth retrying.
    #[error("the function could not be reached: {0}")]
    Unreachable(String),
    /// No function is registered under this ARN.
    #[error("no rotation function is registered as {0}")]
    NotRegistered(String),
}

/// Calls rotation functions. Only functions registered with Coffer are ever called: an ARN
/// in a request selects among them and never becomes an address by itself.
pub trait RotationInvoker: Send + Sync {
    /// Whether `function_arn` names a registered function.
    fn knows(&self, function_arn: &str) -> bool;

    fn invoke<'a>(
        &'a self,
        function_arn: &'a str,
        event: &'a RotationEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), InvokeError>> + Send + 'a>>;
}

/// Told of each rotation event (`RotationStarted`, `RotationSucceeded`, `RotationFailed`,
/// `RotationAbandoned`, `TestRotationSucceeded`, `TestRotationFailed`), for metrics.
pub trait RotationObserver: Send + Sync {
    fn rotation_event(&self, name: &str);
}

/// A rotation in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningRotation {
    /// The `AWSPENDING` version's id (`ClientRequestToken` of the events).
    pub token: String,
    pub rotation_token: String,
    /// Steps that completed; the next attempt resumes after them.
    pub steps_done: u8,
    /// Failed attempts so far.
    pub attempts: u32,
    /// `RotateImmediately=false`: only `testSecret` runs, on a temporary pending version.
    #[serde(default)]
    pub test_only: bool,
}

/// What a secret keeps about its rotation (the store's `rotation` document, JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationState {
    /// `RotationEnabled`.
    pub enabled: bool,
    /// `RotationLambdaARN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_arn: Option<String>,
    /// `RotationRules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RotationRules>,
    /// `LastRotatedDate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<Millis>,
    /// When the schedule counts from when nothing rotated yet (rotation configured, or the
    /// last manual change of the value, which AWS counts as a rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_from: Option<Millis>,
    /// `NextRotationDate`: the end of the next window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<RunningRotation>,
}

impl RotationState {
    pub fn decode(text: Option<&str>) -> Option<RotationState> {
        text.and_then(|t| serde_json::from_str(t).ok())
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("rotation state serialises")
    }
}

/// How the engine retries.
#[derive(Clone, Debug)]
pub struct RotationSettings {
    /// Attempts at one rotation before it is given up (each failure is audited).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each later one.
    pub retry_delay_ms: i64,
    /// Tries of one step when the function cannot be reached (not when it reports an error).
    pub step_tries: u32,
    /// How long a node holds a secret while it runs the secret's rotation; renewed per step.
    pub lease_ms: i64,
}

impl Default for RotationSettings {
    fn default() -> Self {
        RotationSettings {
            max_attempts: 3,
            retry_delay_ms: 60_000,
            step_tries: 3,
            lease_ms: 5 * 60_000,
        }
    }
}

/// The names Coffer's built-in database rotation answers to, in place of a Lambda function:
/// `arn:aws:lambda:<region>:<account>:function:<name>`.
pub const MANAGED_SINGLE_USER: &str = "coffer-rotation-single-user";
pub const MANAGED_ALTERNATING_USERS: &str = "coffer-rotation-alternating-users";

/// The function name of a Lambda ARN (`arn:aws:lambda:region:account:function:name[:qualifier]`).
pub fn function_name(function_arn: &str) -> Option<&str> {
    let mut parts = function_arn.splitn(8, ':');
    let (arn, _partition, service, _region, _account, kind, name) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && service == "lambda" && kind == "function" && !name.is_empty()).then_some(name)
}
