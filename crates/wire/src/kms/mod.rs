//! AWS Key Management Service (API `2014-11-01`) on the wire: the JSON 1.1 subset Coffer serves
//! (companion spec §6). `model.rs` is generated from botocore's model by
//! `tools/codegen/wire_model.py`; the runtime is `crate::codec`.
//!
//! A request goes [`operation`] (from `X-Amz-Target`) → [`decode`] (model constraints checked) →
//! [`convert`] → the domain → [`convert`] → [`encode`]. Failures are a [`ModeledError`] with its
//! message ([`ModeledError::with_message`]) or one of the errors KMS raises outside its model
//! ([`validation_error`], [`access_denied`], [`not_authorized`], [`internal_error`]);
//! [`convert::error`] picks one for each domain error. AWS sends some errors with an empty message
//! (`InvalidCiphertextException`, `NotAuthorizedException`): `with_message("")`.

pub mod convert;
pub(crate) mod maps;
pub mod model;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::codec;
use crate::errors::{AwsError, MessageKey};

pub use model::{ModeledError, Operation, Request};

/// What every KMS `X-Amz-Target` starts with.
pub const TARGET_PREFIX: &str = "TrentService.";

/// The SigV4 credential-scope service of KMS requests.
pub const SIGNING_NAME: &str = "kms";

pub const API_VERSION: &str = "2014-11-01";

/// The operation an `X-Amz-Target` names. Anything else, KMS operations Coffer does not serve
/// included, is `UnknownOperationException`.
pub fn operation(x_amz_target: &str) -> Result<Operation, AwsError> {
    Operation::from_target(x_amz_target).ok_or_else(AwsError::unknown_operation)
}

/// Decodes and validates a request body: `SerializationException` or `ValidationException` (with
/// AWS's message) when it does not fit the model.
pub fn decode(operation: Operation, body: &[u8]) -> Result<Request, AwsError> {
    Request::decode(operation, body).map_err(|e| AwsError::from(&e))
}

/// The response body for `operation`'s output; `None` for operations the model gives no output,
/// which AWS answers with an empty body.
///
/// The bytes can hold plaintext (`Decrypt`, `GenerateDataKey`, `GenerateRandom`): the caller
/// zeroizes them once written.
pub fn encode<T: Serialize + ?Sized>(operation: Operation, output: &T) -> Option<Vec<u8>> {
    operation.has_output().then(|| codec::encode(output))
}

/// `ValidationException` for the rules KMS checks beyond its model (`Please specify either number
/// of bytes or key spec.`, `NumberOfBytes is required.`); the message is AWS's text.
pub fn validation_error(message: impl Into<String>) -> AwsError {
    framework("ValidationException", message)
}

/// `AccessDeniedException`, which KMS's model does not declare but every operation can raise.
pub fn access_denied(message: impl Into<String>) -> AwsError {
    framework("AccessDeniedException", message)
}

/// `NotAuthorizedException`, which KMS raises outside its model for the reserved `alias/aws/`
/// names, with an empty message as AWS sends it.
pub fn not_authorized() -> AwsError {
    framework("NotAuthorizedException", "")
}

/// `KMSInternalException` for an unexpected failure; the cause goes to the log, never to the
/// client.
pub fn internal_error() -> AwsError {
    ModeledError::KMSInternalException.with_message(AwsError::internal().message)
}

fn framework(error_type: &'static str, message: impl Into<String>) -> AwsError {
    AwsError {
        error_type,
        message: message.into(),
        status: 400,
        key: MessageKey::Framework,
    }
}
