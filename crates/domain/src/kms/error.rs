//! KMS errors, each with the message AWS sends; `wire` picks the exception type.

use coffer_crypto::CryptoError;
use coffer_store::StoreError;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KmsError {
    /// `NotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// `AlreadyExistsException`.
    #[error("{0}")]
    AlreadyExists(String),
    /// `DisabledException`.
    #[error("{0}")]
    Disabled(String),
    /// `KMSInvalidStateException`.
    #[error("{0}")]
    InvalidState(String),
    /// `InvalidCiphertextException`: AWS sends it with an empty message.
    #[error("")]
    InvalidCiphertext,
    /// `IncorrectKeyException`.
    #[error("The key ID in the request does not identify a CMK that can perform this operation.")]
    IncorrectKey,
    /// `ValidationException`.
    #[error("{0}")]
    Validation(String),
    /// `InvalidKeyUsageException`.
    #[error("{0}")]
    InvalidKeyUsage(String),
    /// `DryRunOperationException`.
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    /// `TagException`.
    #[error("{0}")]
    Tag(String),
    /// `MalformedPolicyDocumentException`.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `UnsupportedOperationException`.
    #[error("{0}")]
    UnsupportedOperation(String),
    /// `AccessDeniedException`.
    #[error("{0}")]
    AccessDenied(String),
    /// `NotAuthorizedException` (reserved `alias/aws/` names): an empty message, as AWS.
    #[error("")]
    NotAuthorized,
    /// `InvalidAliasNameException`.
    #[error("{0}")]
    InvalidAliasName(String),
    /// `InvalidMarkerException`.
    #[error("{0}")]
    InvalidMarker(String),
    /// `LimitExceededException`.
    #[error("{0}")]
    LimitExceeded(String),
    /// `KMSInternalException`: the cause is logged, never sent.
    #[error("internal error: {cause}")]
    Internal { cause: String },
}

pub type KmsResult<T> = Result<T, KmsError>;

impl KmsError {
    pub fn internal(cause: impl Into<String>) -> KmsError {
        KmsError::Internal {
            cause: cause.into(),
        }
    }
}

impl From<StoreError> for KmsError {
    fn from(e: StoreError) -> KmsError {
        KmsError::internal(format!("store: {e}"))
    }
}

impl From<CryptoError> for KmsError {
    fn from(e: CryptoError) -> KmsError {
        KmsError::internal(format!("crypto: {e}"))
    }
}
