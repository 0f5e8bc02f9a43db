//! AWS CloudTrail (API `2013-11-01`) on the wire: `LookupEvents` over Coffer's audit trail, JSON
//! 1.1 (companion spec §7.1). `model.rs` is generated from botocore's model by
//! `tools/codegen/wire_model.py`; the runtime is `crate::codec`.
//!
//! A request goes [`operation`] (from `X-Amz-Target`) → [`decode`] (model constraints checked) →
//! [`convert::lookup_events`] → the domain → [`convert::lookup_events_response`] → [`encode`].
//! [`convert::error`] picks the CloudTrail exception for each domain error.

pub mod convert;
pub mod model;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::codec;
use crate::errors::{AwsError, MessageKey};

pub use model::{ModeledError, Operation, Request};

/// What every CloudTrail `X-Amz-Target` starts with.
pub const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

/// The SigV4 credential-scope service of CloudTrail requests.
pub const SIGNING_NAME: &str = "cloudtrail";

pub const API_VERSION: &str = "2013-11-01";

/// The operation an `X-Amz-Target` names. Anything else, CloudTrail operations Coffer does not
/// serve included, is `UnknownOperationException`.
pub fn operation(x_amz_target: &str) -> Result<Operation, AwsError> {
    Operation::from_target(x_amz_target).ok_or_else(AwsError::unknown_operation)
}

/// Decodes and validates a request body: `SerializationException` or `ValidationException` (with
/// AWS's message) when it does not fit the model. `MaxResults` is left to the domain, which
/// answers `InvalidMaxResultsException` as CloudTrail does.
pub fn decode(operation: Operation, body: &[u8]) -> Result<Request, AwsError> {
    Request::decode(operation, body).map_err(|e| AwsError::from(&e))
}

/// The response body for `operation`'s output.
pub fn encode<T: Serialize + ?Sized>(operation: Operation, output: &T) -> Option<Vec<u8>> {
    operation.has_output().then(|| codec::encode(output))
}

/// `AccessDeniedException`, which CloudTrail's model does not declare but every operation can
/// raise; the message travels under `message`, as for every error outside a model.
pub fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError {
        error_type: "AccessDeniedException",
        message: message.into(),
        status: 400,
        key: MessageKey::Framework,
    }
}

/// `InternalFailure` (HTTP 500), AWS's error for an unexpected failure of a JSON service without
/// a modeled internal exception; the cause goes to the log, never to the client.
pub fn internal_error() -> AwsError {
    AwsError {
        error_type: "InternalFailure",
        message: AwsError::internal().message,
        status: 500,
        key: MessageKey::Framework,
    }
}
