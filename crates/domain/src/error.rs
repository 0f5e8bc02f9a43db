//! The domain's errors. Each `Display` text is the exact message AWS returns for that
//! condition (or, where AWS's text is unknown, Coffer's documented choice); the wire edge
//! maps each variant to its AWS error type. No variant carries secret material.

use crate::clock::Millis;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretsError {
    // ResourceNotFoundException
    #[error("Secrets Manager can't find the specified secret.")]
    SecretNotFound,
    #[error("Secrets Manager can't find the specified secret value for staging label: {0}")]
    StagingLabelNotFound(String),
    #[error("Secrets Manager can't find the specified secret value for VersionId: {0}")]
    VersionNotFound(String),

    // InvalidRequestException
    #[error("You provided a VersionStage that is not associated to the provided VersionId.")]
    StageNotOnVersion,
    #[error("You can't perform this operation on the secret because it was marked for deletion.")]
    MarkedForDeletion,
    #[error(
        "You can't create this secret because a secret with this name is already scheduled for deletion."
    )]
    NameScheduledForDeletion,
    #[error("You must provide a ClientRequestToken value. We recommend a UUID-type value.")]
    MissingClientRequestToken,
    #[error("You must provide either SecretString or SecretBinary.")]
    MissingSecretValue,
    // AccessDeniedException: the message is built by the authoriser (spec §1.7).
    #[error("{0}")]
    AccessDenied(String),

    // MalformedPolicyDocumentException: the policy parser's message.
    #[error("{0}")]
    MalformedPolicyDocument(String),

    // PublicPolicyException
    #[error("This resource policy contains a statement that grants public access to the secret.")]
    PublicPolicy,

    /// An operation whose issue has not landed yet (rotation, resource policies, replication).
    #[error("{0} is not supported by this Coffer server yet.")]
    NotSupported(&'static str),

    #[error("No Lambda rotation function ARN is associated with this secret.")]
    NoRotationFunction,
    #[error("Previous rotation request is still in progress.")]
    RotationInProgress,
    /// AWS's text for this case is not recorded (spec §3.13).
    #[error("You can't cancel rotation because rotation isn't configured for this secret.")]
    RotationNotConfigured,

    // AccessDeniedException, with AWS's text: the function is not one Coffer may invoke.
    #[error(
        "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com."
    )]
    CannotInvokeRotationFunction,

    // InvalidParameterException: the schedule validator's message.
    #[error("{0}")]
    InvalidRotationRules(String),

    // InvalidParameterException (RotateSecret reports a missing token this way)
    #[error("You must provide a ClientRequestToken value. We recommend a UUID-type value.")]
    MissingClientRequestTokenParameter,

    // ResourceExistsException
    #[error("The operation failed because the secret {0} already exists.")]
    SecretAlreadyExists(String),
    #[error(
        "You can't use ClientRequestToken {token} because that value is already in use for a version of secret {arn}."
    )]
    ClientRequestTokenInUse { token: String, arn: String },

    // ValidationException
    #[error(
        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!"
    )]
    InvalidName,

    // InvalidParameterException
    #[error(
        "You can't specify both a binary secret value and a string secret value in the same secret."
    )]
    BothSecretValues,
    #[error(
        "The parameter RemoveFromVersionId can't be empty. Staging label {label} is currently attached to version {version_id}, so you must explicitly reference that version in RemoveFromVersionId."
    )]
    RemoveFromVersionIdRequired { label: String, version_id: String },
    #[error("The staging label {label} is not attached to version {version_id}.")]
    StageNotAttachedToVersion { label: String, version_id: String },
    #[error("Secrets Manager can't find the specified secret version: {0}")]
    NotAVersionOfSecret(String),
    #[error("You can't remove the staging label AWSCURRENT without moving it to another version.")]
    CannotDetachCurrent,
    #[error("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")]
    ForceDeleteWithRecoveryWindow,
    #[error("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")]
    RecoveryWindowOutOfRange,
    #[error("Either 'SecretIdList' or 'Filters' must be provided, but not both.")]
    BatchSelectorInvalid,
    #[error(
        "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided."
    )]
    BatchMaxResultsWithoutFilters,
    #[error("Password length is too short based on the required types.")]
    PasswordTooShort,
    #[error("Every character type is excluded, so no password can be generated.")]
    PasswordCharactersExhausted,
    #[error("Invalid filter key")]
    InvalidFilterKey,
    #[error("Invalid filter values for key: {0}")]
    InvalidFilterValues(String),
    #[error("Invalid replica region.")]
    InvalidReplicaRegion,
    #[error("A tag must have a Key.")]
    TagKeyMissing,
    #[error("Tag keys that start with aws: are reserved for AWS use: {0}")]
    ReservedTagKey(String),
    #[error("A tag key can appear only once in a request: {0}")]
    DuplicateTagKey(String),
    #[error(
        "Tag keys and values can contain only letters, numbers, spaces and the characters + - = . _ : / @: {0}"
    )]
    InvalidTagCharacters(String),
    #[error("Coffer does not serve managed external secrets, so Type must be empty.")]
    UnsupportedSecretType,

    #[error("A secret can have at most 50 tags.")]
    TooManyTags,

    // LimitExceededException
    #[error("A secret can have at most 20 staging labels attached across all of its versions.")]
    TooManyStagingLabels,
    #[error(
        "The secret has reached its quota of 100 versions and none can be removed: the others have staging labels or were created less than 24 hours ago."
    )]
    TooManyVersions,

    // InvalidNextTokenException
    #[error("The NextToken is not valid for this request.")]
    InvalidNextToken,

    // EncryptionFailure / DecryptionFailure
    #[error("Secrets Manager can't find the specified KMS key.")]
    KmsKeyNotFound,
    // InvalidRequestException
    #[error(
        "You can't access a secret from a different AWS account if you encrypt the secret with the default KMS service key."
    )]
    DefaultKeyCrossAccount,
    #[error("Secrets Manager can't decrypt the protected secret text using the provided KMS key.")]
    DecryptionFailure,
    #[error("Secrets Manager can't encrypt the protected secret text using the provided KMS key.")]
    EncryptionFailure,
    /// The KMS key is disabled or pending deletion; the reason is KMS's message.
    #[error(
        "Secrets Manager can't decrypt the protected secret text using the provided KMS key. {0}"
    )]
    KmsKeyUnusableForDecryption(String),
    #[error(
        "Secrets Manager can't encrypt the protected secret text using the provided KMS key. {0}"
    )]
    KmsKeyUnusableForEncryption(String),

    // InternalServiceError: the cause is for logs only, never for the client.
    #[error("An internal error occurred in Coffer. Retry the request.")]
    Internal { cause: String },
}

impl SecretsError {
    pub(crate) fn internal(cause: impl std::fmt::Display) -> SecretsError {
        SecretsError::Internal {
            cause: cause.to_string(),
        }
    }
}

impl From<coffer_store::StoreError> for SecretsError {
    fn from(e: coffer_store::StoreError) -> SecretsError {
        SecretsError::internal(e)
    }
}

pub type SecretsResult<T> = Result<T, SecretsError>;

/// Deletion date helper: a recovery window in days, in milliseconds.
pub(crate) fn window_millis(days: i64) -> Millis {
    days * crate::clock::DAY
}
