//! IAM and STS errors. The Display text is the message AWS sends (companion spec §4.2, §5.3);
//! the wire layer picks the error code.

/// Everything an IAM or STS operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// `NoSuchEntity` (404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// `EntityAlreadyExists` (409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// `DeleteConflict` (409).
    #[error("{0}")]
    DeleteConflict(String),
    /// `LimitExceeded` (409).
    #[error("{0}")]
    LimitExceeded(String),
    /// `MalformedPolicyDocument` (400), with the policy parser's message.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `InvalidInput` (400).
    #[error("{0}")]
    InvalidInput(String),
    /// `ValidationError` (400).
    #[error("{0}")]
    Validation(String),
    /// `InvalidParameterValue` (400, STS).
    #[error("{0}")]
    InvalidParameterValue(String),
    /// `PackedPolicyTooLarge` (400, STS).
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// `AccessDenied` (403).
    #[error("{0}")]
    AccessDenied(String),
    /// `ConcurrentModification` (409): a write kept losing compare-and-swap races.
    #[error("{0}")]
    ConcurrentModification(String),
    /// A store or crypto failure; the cause is logged, never sent.
    #[error("internal error: {cause}")]
    Internal { cause: String },
}

pub type IamResult<T> = Result<T, IamError>;

impl IamError {
    pub(crate) fn internal(cause: impl std::fmt::Display) -> IamError {
        IamError::Internal {
            cause: cause.to_string(),
        }
    }
}

impl From<coffer_store::StoreError> for IamError {
    fn from(e: coffer_store::StoreError) -> IamError {
        IamError::internal(format!("store: {e}"))
    }
}

impl From<coffer_crypto::CryptoError> for IamError {
    fn from(e: coffer_crypto::CryptoError) -> IamError {
        IamError::internal(format!("crypto: {e}"))
    }
}

// Messages, in one place.
pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}
pub(crate) fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}
pub(crate) fn no_such_group(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
}
pub(crate) fn no_such_access_key(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}
pub(crate) fn policy_not_found(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} was not found."))
}
pub(crate) fn policy_not_attachable(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}
pub(crate) fn invalid_arn() -> IamError {
    IamError::Validation("Invalid ARN:  Could not be parsed!".into())
}
pub(crate) fn non_user_credentials() -> IamError {
    IamError::Validation("Must specify userName when calling with non-User credentials".into())
}
