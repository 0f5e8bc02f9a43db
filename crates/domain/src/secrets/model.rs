//! Inputs and outputs of the Secrets Manager operations, named as AWS names the members.
//! The wire layer decodes requests into these and renders these into responses.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use coffer_store::Tag;
use zeroize::Zeroizing;

use crate::clock::Millis;
use crate::error::SecretsError;
use crate::identity::Principal;
use crate::secrets::filters::FilterInput;
use crate::secrets::tags::TagInput;
use crate::value::SecretValue;

/// Who is calling, and where: the account owning the access key and the region of the
/// request's SigV4 scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub account_id: String,
    pub region: String,
    pub actor: Actor,
}

/// On whose authority an operation runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An authenticated API caller: every operation is authorised against IAM policies.
    Principal {
        principal: Arc<Principal>,
        /// `aws:SourceIp`.
        source_ip: Option<IpAddr>,
    },
    /// Coffer itself (background jobs) and the domain's own tests: not subject to policies.
    /// The server never builds it from a request.
    System,
}

#[derive(Debug, Default)]
pub struct CreateSecretInput {
    pub name: String,
    pub client_request_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_string: Option<Zeroizing<String>>,
    pub secret_binary: Option<Zeroizing<Vec<u8>>>,
    pub tags: Option<Vec<TagInput>>,
    pub add_replica_regions: Option<Vec<String>>,
    pub force_overwrite_replica_secret: Option<bool>,
    pub secret_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSecretOutput {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct GetSecretValueInput {
    pub secret_id: String,
    pub version_id: Option<String>,
    pub version_stage: Option<String>,
}

#[derive(Debug)]
pub struct SecretValueOutput {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub value: SecretValue,
    pub version_stages: Vec<String>,
    /// The version's creation time (not the secret's).
    pub created_date: Millis,
}

#[derive(Debug, Default)]
pub struct PutSecretValueInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    pub secret_string: Option<Zeroizing<String>>,
    pub secret_binary: Option<Zeroizing<Vec<u8>>>,
    pub version_stages: Option<Vec<String>>,
    pub rotation_token: Option<Zeroizing<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutSecretValueOutput {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub version_stages: Vec<String>,
}

#[derive(Debug, Default)]
pub struct UpdateSecretInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub secret_string: Option<Zeroizing<String>>,
    pub secret_binary: Option<Zeroizing<Vec<u8>>>,
    pub secret_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretIdentity {
    pub arn: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSecretOutput {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct UpdateSecretVersionStageInput {
    pub secret_id: String,
    pub version_stage: String,
    pub remove_from_version_id: Option<String>,
    pub move_to_version_id: Option<String>,
}

/// DescribeSecret's answer; ListSecrets entries carry the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDescription {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    /// ARN of a customer managed key; `None` for the default key.
    pub kms_key_id: Option<String>,
    pub last_changed_date: Millis,
    pub last_accessed_date: Option<Millis>,
    pub deleted_date: Option<Millis>,
    pub tags: Option<Vec<Tag>>,
    /// Labelled versions only; `None` when there are none.
    pub versions_to_stages: Option<BTreeMap<String, Vec<String>>>,
    pub created_date: Millis,
    /// Present once rotation was configured.
    pub rotation_enabled: Option<bool>,
    pub rotation_lambda_arn: Option<String>,
    pub rotation_rules: Option<crate::rotation::RotationRules>,
    pub last_rotated_date: Option<Millis>,
    /// Only while rotation is enabled.
    pub next_rotation_date: Option<Millis>,
}

#[derive(Debug, Default, Clone)]
pub struct RotateSecretInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    pub rotation_lambda_arn: Option<String>,
    pub rotation_rules: Option<crate::rotation::RotationRules>,
    pub rotate_immediately: Option<bool>,
}

/// RotateSecret's and CancelRotateSecret's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationOutput {
    pub arn: String,
    pub name: String,
    pub version_id: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct ListSecretsInput {
    pub include_planned_deletion: Option<bool>,
    pub max_results: Option<i32>,
    pub next_token: Option<String>,
    pub filters: Option<Vec<FilterInput>>,
    pub sort_order: Option<String>,
    pub sort_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSecretsOutput {
    pub secrets: Vec<SecretDescription>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct ListSecretVersionIdsInput {
    pub secret_id: String,
    pub max_results: Option<i32>,
    pub next_token: Option<String>,
    pub include_deprecated: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub version_id: String,
    /// `None` for a deprecated (unlabelled) version.
    pub version_stages: Option<Vec<String>>,
    pub last_accessed_date: Option<Millis>,
    pub created_date: Millis,
    pub kms_key_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSecretVersionIdsOutput {
    pub arn: String,
    pub name: String,
    pub versions: Vec<VersionEntry>,
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct DeleteSecretInput {
    pub secret_id: String,
    pub recovery_window_in_days: Option<i64>,
    pub force_delete_without_recovery: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSecretOutput {
    pub arn: String,
    pub name: String,
    pub deletion_date: Millis,
}

#[derive(Debug, Default, Clone)]
pub struct BatchGetSecretValueInput {
    pub secret_id_list: Option<Vec<String>>,
    pub filters: Option<Vec<FilterInput>>,
    pub max_results: Option<i32>,
    pub next_token: Option<String>,
}

/// One secret the batch could not return, with the error the single-secret call would give.
#[derive(Debug)]
pub struct BatchError {
    pub secret_id: String,
    pub error: SecretsError,
}

#[derive(Debug)]
pub struct BatchGetSecretValueOutput {
    pub secret_values: Vec<SecretValueOutput>,
    pub errors: Vec<BatchError>,
    pub next_token: Option<String>,
}
