//! STS wire shapes ↔ domain, and the mapping of STS errors to Query error codes.

use coffer_domain::iam::{
    AssumeRoleInput, AssumeRoleOutput, CallerIdentity, IamError, TemporaryCredentials,
};

use super::model::{self, ModeledError};
use crate::codec::{EpochTime, SensitiveString};
use crate::query::QueryError;

/// The Query error for an STS error.
pub fn error(e: &IamError) -> QueryError {
    let message = e.to_string();
    match e {
        IamError::MalformedPolicyDocument(_) => {
            ModeledError::MalformedPolicyDocumentException.with_message(message)
        }
        IamError::PackedPolicyTooLarge(_) => {
            ModeledError::PackedPolicyTooLargeException.with_message(message)
        }
        IamError::AccessDenied(_) | IamError::NoSuchEntity(_) => QueryError::access_denied(message),
        IamError::InvalidParameterValue(_) => QueryError::invalid_parameter_value(message),
        IamError::Validation(_)
        | IamError::InvalidInput(_)
        | IamError::LimitExceeded(_)
        | IamError::EntityAlreadyExists(_)
        | IamError::DeleteConflict(_) => QueryError::validation(message),
        IamError::ConcurrentModification(_) | IamError::Internal { .. } => {
            QueryError::internal_failure()
        }
    }
}

pub fn assume_role(r: model::AssumeRoleRequest) -> AssumeRoleInput {
    AssumeRoleInput {
        role_arn: r.role_arn.unwrap_or_default(),
        role_session_name: r.role_session_name.unwrap_or_default(),
        duration_seconds: r.duration_seconds,
        policy: r.policy,
        policy_arns: r
            .policy_arns
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.arn)
            .collect(),
        tags: r
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect(),
        transitive_tag_keys: r.transitive_tag_keys.unwrap_or_default(),
        external_id: r.external_id,
        source_identity: r.source_identity,
    }
}

/// AssumeRole's response; it carries the session's secret key (wipe it after sending).
pub fn assume_role_response(out: AssumeRoleOutput) -> model::AssumeRoleResponse {
    let AssumeRoleOutput {
        credentials,
        assumed_role_id,
        arn,
        packed_policy_size,
        source_identity,
    } = out;
    model::AssumeRoleResponse {
        credentials: Some(wire_credentials(&credentials)),
        assumed_role_user: Some(model::AssumedRoleUser {
            assumed_role_id: Some(assumed_role_id),
            arn: Some(arn),
        }),
        packed_policy_size,
        source_identity,
    }
}

/// GetSessionToken's response; it carries the session's secret key (wipe it after sending).
pub fn session_token_response(credentials: TemporaryCredentials) -> model::GetSessionTokenResponse {
    model::GetSessionTokenResponse {
        credentials: Some(wire_credentials(&credentials)),
    }
}

fn wire_credentials(credentials: &TemporaryCredentials) -> model::Credentials {
    model::Credentials {
        access_key_id: Some(credentials.access_key_id.clone()),
        secret_access_key: Some(SensitiveString::new(
            credentials.secret_access_key.as_str().to_owned(),
        )),
        session_token: Some(credentials.session_token.clone()),
        expiration: Some(EpochTime::from_millis(credentials.expiration)),
    }
}

pub fn caller_identity_response(id: CallerIdentity) -> model::GetCallerIdentityResponse {
    model::GetCallerIdentityResponse {
        user_id: Some(id.user_id),
        account: Some(id.account),
        arn: Some(id.arn),
    }
}
