//! IAM wire shapes ↔ domain views, and the mapping of IAM errors to Query error codes.

use coffer_domain::iam::{
    AccessKeyView, AttachedPolicyView, GroupView, IamError, ManagedPolicyView, Page,
    PolicyVersionView, RoleView, TagPair, UserView,
};

use super::model::{self, ModeledError};
use crate::codec::{EpochTime, SensitiveString};
use crate::query::QueryError;

/// The Query error for an IAM error (`NoSuchEntity`, `EntityAlreadyExists`, ...: the model's
/// codes, statuses and fault sides).
pub fn error(e: &IamError) -> QueryError {
    let message = e.to_string();
    match e {
        IamError::NoSuchEntity(_) => ModeledError::NoSuchEntityException.with_message(message),
        IamError::EntityAlreadyExists(_) => {
            ModeledError::EntityAlreadyExistsException.with_message(message)
        }
        IamError::DeleteConflict(_) => ModeledError::DeleteConflictException.with_message(message),
        IamError::LimitExceeded(_) => ModeledError::LimitExceededException.with_message(message),
        IamError::MalformedPolicyDocument(_) => {
            ModeledError::MalformedPolicyDocumentException.with_message(message)
        }
        IamError::InvalidInput(_) => ModeledError::InvalidInputException.with_message(message),
        IamError::ConcurrentModification(_) => {
            ModeledError::ConcurrentModificationException.with_message(message)
        }
        IamError::Validation(_) => QueryError::validation(message),
        IamError::InvalidParameterValue(_) | IamError::PackedPolicyTooLarge(_) => {
            QueryError::new("InvalidInput", 400, message)
        }
        IamError::AccessDenied(_) => QueryError::access_denied(message),
        IamError::Internal { .. } => ModeledError::ServiceFailureException
            .with_message("An internal error occurred in Coffer. Retry the request."),
    }
}

/// Request tags as (key, value).
pub fn tags_in(tags: Option<Vec<model::Tag>>) -> Vec<TagPair> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

fn tags_out(tags: &[TagPair]) -> Vec<model::Tag> {
    tags.iter()
        .map(|(k, v)| model::Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

fn time(millis: i64) -> Option<EpochTime> {
    Some(EpochTime::from_millis(millis))
}

fn boundary(arn: &Option<String>) -> Option<model::AttachedPermissionsBoundary> {
    arn.as_ref().map(|arn| model::AttachedPermissionsBoundary {
        permissions_boundary_type: Some("PermissionsBoundaryPolicy".into()),
        permissions_boundary_arn: Some(arn.clone()),
    })
}

pub fn user(u: &UserView) -> model::User {
    model::User {
        path: Some(u.path.clone()),
        user_name: Some(u.user_name.clone()),
        user_id: Some(u.user_id.clone()),
        arn: Some(u.arn.clone()),
        create_date: time(u.create_date),
        password_last_used: None,
        permissions_boundary: boundary(&u.permissions_boundary),
        tags: u.tags.as_deref().map(tags_out),
    }
}

pub fn group(g: &GroupView) -> model::Group {
    model::Group {
        path: Some(g.path.clone()),
        group_name: Some(g.group_name.clone()),
        group_id: Some(g.group_id.clone()),
        arn: Some(g.arn.clone()),
        create_date: time(g.create_date),
    }
}

pub fn role(r: &RoleView) -> model::Role {
    model::Role {
        path: Some(r.path.clone()),
        role_name: Some(r.role_name.clone()),
        role_id: Some(r.role_id.clone()),
        arn: Some(r.arn.clone()),
        create_date: time(r.create_date),
        assume_role_policy_document: Some(r.assume_role_policy_document.clone()),
        description: r.description.clone(),
        max_session_duration: Some(r.max_session_duration),
        permissions_boundary: boundary(&r.permissions_boundary),
        tags: r.tags.as_deref().map(tags_out),
        role_last_used: None,
    }
}

pub fn policy(p: &ManagedPolicyView) -> model::Policy {
    model::Policy {
        policy_name: Some(p.policy_name.clone()),
        policy_id: Some(p.policy_id.clone()),
        arn: Some(p.arn.clone()),
        path: Some(p.path.clone()),
        default_version_id: Some(p.default_version_id.clone()),
        attachment_count: Some(p.attachment_count),
        permissions_boundary_usage_count: Some(p.permissions_boundary_usage_count),
        is_attachable: Some(p.is_attachable),
        description: p.description.clone(),
        create_date: time(p.create_date),
        update_date: time(p.update_date),
        tags: p.tags.as_deref().map(tags_out),
    }
}

pub fn policy_version(v: &PolicyVersionView) -> model::PolicyVersion {
    model::PolicyVersion {
        document: Some(v.document.clone()),
        version_id: Some(v.version_id.clone()),
        is_default_version: Some(v.is_default_version),
        create_date: time(v.create_date),
    }
}

/// CreateAccessKey's `AccessKey`, with the secret (the response must be wiped after sending).
pub fn access_key(k: AccessKeyView) -> model::AccessKey {
    model::AccessKey {
        user_name: Some(k.user_name),
        access_key_id: Some(k.access_key_id),
        status: Some(k.status.into()),
        secret_access_key: k
            .secret_access_key
            .map(|s| SensitiveString::new(s.as_str().to_owned())),
        create_date: time(k.create_date),
    }
}

pub fn access_key_metadata(k: &AccessKeyView) -> model::AccessKeyMetadata {
    model::AccessKeyMetadata {
        user_name: Some(k.user_name.clone()),
        access_key_id: Some(k.access_key_id.clone()),
        status: Some(k.status.into()),
        create_date: time(k.create_date),
    }
}

pub fn attached_policy(p: &AttachedPolicyView) -> model::AttachedPolicy {
    model::AttachedPolicy {
        policy_name: Some(p.policy_name.clone()),
        policy_arn: Some(p.policy_arn.clone()),
    }
}

/// (items, IsTruncated, Marker) of a page, items converted with `f`.
pub fn page<T, U>(
    page: Page<T>,
    f: impl Fn(&T) -> U,
) -> (Option<Vec<U>>, Option<bool>, Option<String>) {
    (
        Some(page.items.iter().map(f).collect()),
        Some(page.is_truncated),
        page.marker,
    )
}

pub fn tag_page(p: Page<TagPair>) -> model::ListUserTagsResponse {
    model::ListUserTagsResponse {
        tags: Some(tags_out(&p.items)),
        is_truncated: Some(p.is_truncated),
        marker: p.marker,
    }
}
