//! The one place where Coffer's typed errors become AWS error shapes (spec §1.4–1.5):
//! `{"__type": "<Code>", "Message": "<text>"}` with HTTP 400 for client faults and 500 for
//! server faults. Modeled Secrets Manager exceptions use the key `Message`; errors raised
//! outside the service model (authentication, validation, serialization) use `message`,
//! as AWS does. Both are read by every SDK.

use coffer_auth::AuthError;
use coffer_domain::SecretsError;
use serde::Serialize;

use crate::codec::WireDecodeError;

/// Which key the message travels under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKey {
    /// Exceptions in the service model.
    Modeled,
    /// Front-end errors outside the model.
    Framework,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub error_type: &'static str,
    pub message: String,
    pub status: u16,
    pub key: MessageKey,
}

impl AwsError {
    fn modeled(error_type: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            error_type,
            message: message.into(),
            status: 400,
            key: MessageKey::Modeled,
        }
    }

    fn framework(error_type: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            error_type,
            message: message.into(),
            status: 400,
            key: MessageKey::Framework,
        }
    }

    /// `X-Amz-Target` missing, or naming no operation of this service.
    pub fn unknown_operation() -> AwsError {
        AwsError::framework("UnknownOperationException", "")
    }

    /// The request body exceeded the size the server accepts.
    pub fn body_too_large(limit: usize) -> AwsError {
        AwsError::framework(
            "SerializationException",
            format!("The request body is larger than the {limit} bytes this server accepts."),
        )
    }

    /// The request body could not be read (malformed chunked encoding, a dropped
    /// connection).
    pub fn unreadable_body() -> AwsError {
        AwsError::framework(
            "SerializationException",
            "The request body could not be read.",
        )
    }

    /// An unexpected failure; the cause goes to the log, never to the client.
    pub fn internal() -> AwsError {
        AwsError {
            error_type: "InternalServiceError",
            message: "An internal error occurred in Coffer. Retry the request.".into(),
            status: 500,
            key: MessageKey::Modeled,
        }
    }

    /// The server is not ready to serve (starting, shutting down, or its store is gone).
    pub fn service_unavailable(message: impl Into<String>) -> AwsError {
        AwsError {
            error_type: "ServiceUnavailable",
            message: message.into(),
            status: 503,
            key: MessageKey::Framework,
        }
    }

    /// The error as an AWS JSON 1.1 body.
    pub fn to_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Modeled<'a> {
            #[serde(rename = "__type")]
            error_type: &'a str,
            #[serde(rename = "Message")]
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Framework<'a> {
            #[serde(rename = "__type")]
            error_type: &'a str,
            message: &'a str,
        }
        let rendered = match self.key {
            MessageKey::Modeled => serde_json::to_vec(&Modeled {
                error_type: self.error_type,
                message: &self.message,
            }),
            MessageKey::Framework => serde_json::to_vec(&Framework {
                error_type: self.error_type,
                message: &self.message,
            }),
        };
        rendered.expect("error bodies always serialise")
    }

    /// Whether this is a server fault (logged at error level).
    pub fn is_server_fault(&self) -> bool {
        self.status >= 500
    }
}

impl From<&WireDecodeError> for AwsError {
    fn from(e: &WireDecodeError) -> AwsError {
        AwsError::framework(e.code(), e.message())
    }
}

impl From<&AuthError> for AwsError {
    fn from(e: &AuthError) -> AwsError {
        AwsError {
            error_type: e.json_error_type(),
            message: e.to_string(),
            status: e.json_http_status(),
            key: MessageKey::Framework,
        }
    }
}

impl From<&SecretsError> for AwsError {
    fn from(e: &SecretsError) -> AwsError {
        use SecretsError::*;
        let error_type = match e {
            SecretNotFound | StagingLabelNotFound(_) | VersionNotFound(_) => {
                "ResourceNotFoundException"
            }
            StageNotOnVersion
            | MarkedForDeletion
            | NameScheduledForDeletion
            | MissingClientRequestToken
            | MissingSecretValue
            | DefaultKeyCrossAccount
            | NoRotationFunction
            | RotationInProgress
            | RotationNotConfigured
            | NotSupported(_) => "InvalidRequestException",
            SecretAlreadyExists(_) | ClientRequestTokenInUse { .. } => "ResourceExistsException",
            InvalidName => return AwsError::framework("ValidationException", e.to_string()),
            AccessDenied(_) | CannotInvokeRotationFunction => {
                return AwsError::framework("AccessDeniedException", e.to_string());
            }
            MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            PublicPolicy => "PublicPolicyException",
            MissingClientRequestTokenParameter
            | InvalidRotationRules(_)
            | BothSecretValues
            | RemoveFromVersionIdRequired { .. }
            | StageNotAttachedToVersion { .. }
            | NotAVersionOfSecret(_)
            | CannotDetachCurrent
            | ForceDeleteWithRecoveryWindow
            | RecoveryWindowOutOfRange
            | BatchSelectorInvalid
            | BatchMaxResultsWithoutFilters
            | PasswordTooShort
            | PasswordCharactersExhausted
            | InvalidFilterKey
            | InvalidFilterValues(_)
            | InvalidReplicaRegion
            | TagKeyMissing
            | ReservedTagKey(_)
            | DuplicateTagKey(_)
            | InvalidTagCharacters(_)
            | UnsupportedSecretType
            // TagResource's model has no LimitExceededException, so SDKs could not type it.
            | TooManyTags => "InvalidParameterException",
            TooManyStagingLabels | TooManyVersions => "LimitExceededException",
            InvalidNextToken => "InvalidNextTokenException",
            KmsKeyNotFound | EncryptionFailure | KmsKeyUnusableForEncryption(_) => {
                "EncryptionFailure"
            }
            DecryptionFailure | KmsKeyUnusableForDecryption(_) => "DecryptionFailure",
            Internal { .. } => return AwsError::internal(),
        };
        AwsError::modeled(error_type, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(e: &AwsError) -> serde_json::Value {
        serde_json::from_slice(&e.to_json()).unwrap()
    }

    #[test]
    fn modeled_errors_use_capital_message() {
        let e = AwsError::from(&SecretsError::SecretNotFound);
        assert_eq!(e.status, 400);
        assert_eq!(
            json(&e),
            serde_json::json!({"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."})
        );
    }

    #[test]
    fn framework_errors_use_lower_case_message() {
        let e = AwsError::from(&SecretsError::InvalidName);
        assert_eq!(json(&e)["__type"], "ValidationException");
        assert!(
            json(&e)["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid name.")
        );
        let auth = AwsError::from(&AuthError::UnrecognizedClient);
        assert_eq!(
            json(&auth),
            serde_json::json!({"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = AwsError::from(&SecretsError::Internal {
            cause: "disk /var/lib is full".into(),
        });
        assert_eq!(e.status, 500);
        assert_eq!(e.error_type, "InternalServiceError");
        assert!(!e.message.contains("disk"));
    }

    #[test]
    fn rotate_secret_reports_a_missing_token_as_a_parameter_error() {
        let e = AwsError::from(&SecretsError::MissingClientRequestTokenParameter);
        assert_eq!(e.error_type, "InvalidParameterException");
        assert_eq!(
            e.message,
            "You must provide a ClientRequestToken value. We recommend a UUID-type value."
        );
    }
}
