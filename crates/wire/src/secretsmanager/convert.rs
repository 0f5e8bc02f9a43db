//! Between the generated wire shapes and the domain's inputs and outputs. Requests have
//! been validated against the model before they get here, so required members are present;
//! a missing one still maps to an empty value rather than a panic.

use coffer_domain::SecretValue;
use coffer_domain::rotation::RotationRules;
use coffer_domain::secrets::filters::FilterInput;
use coffer_domain::secrets::password::PasswordRules;
use coffer_domain::secrets::tags::TagInput;
use coffer_domain::secrets::*;

use super::model::*;
use crate::codec::{EpochTime, SensitiveBlob, SensitiveString};

fn tags_in(tags: Option<Vec<Tag>>) -> Option<Vec<TagInput>> {
    tags.map(|tags| {
        tags.into_iter()
            .map(|t| TagInput {
                key: t.key,
                value: t.value,
            })
            .collect()
    })
}

fn filters_in(filters: Option<Vec<Filter>>) -> Option<Vec<FilterInput>> {
    filters.map(|filters| {
        filters
            .into_iter()
            .map(|f| FilterInput {
                key: f.key,
                values: f.values,
            })
            .collect()
    })
}

fn tags_out(description: &mut SecretDescription) -> Option<Vec<Tag>> {
    description.tags.take().map(|tags| {
        tags.into_iter()
            .map(|t| Tag {
                key: Some(t.key),
                value: Some(t.value),
            })
            .collect()
    })
}

fn time(millis: i64) -> EpochTime {
    EpochTime::from_millis(millis)
}

pub fn create_secret(r: CreateSecretRequest) -> CreateSecretInput {
    CreateSecretInput {
        name: r.name.unwrap_or_default(),
        client_request_token: r.client_request_token,
        description: r.description,
        kms_key_id: r.kms_key_id,
        secret_string: r.secret_string.map(SensitiveString::into_zeroizing),
        secret_binary: r.secret_binary.map(SensitiveBlob::into_zeroizing),
        tags: tags_in(r.tags),
        add_replica_regions: r
            .add_replica_regions
            .map(|regions| regions.into_iter().filter_map(|r| r.region).collect()),
        force_overwrite_replica_secret: r.force_overwrite_replica_secret,
        secret_type: r.r#type,
    }
}

pub fn create_secret_response(o: CreateSecretOutput) -> CreateSecretResponse {
    CreateSecretResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: o.version_id,
        replication_status: None,
    }
}

pub fn get_secret_value(r: GetSecretValueRequest) -> GetSecretValueInput {
    GetSecretValueInput {
        secret_id: r.secret_id.unwrap_or_default(),
        version_id: r.version_id,
        version_stage: r.version_stage,
    }
}

fn value_members(value: SecretValue) -> (Option<SensitiveString>, Option<SensitiveBlob>) {
    match value {
        SecretValue::String(s) => (Some(SensitiveString::from(s)), None),
        SecretValue::Binary(b) => (None, Some(SensitiveBlob::from(b))),
    }
}

pub fn get_secret_value_response(o: SecretValueOutput) -> GetSecretValueResponse {
    let (secret_string, secret_binary) = value_members(o.value);
    GetSecretValueResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: Some(o.version_id),
        secret_string,
        secret_binary,
        version_stages: (!o.version_stages.is_empty()).then_some(o.version_stages),
        created_date: Some(time(o.created_date)),
    }
}

fn secret_value_entry(o: SecretValueOutput) -> SecretValueEntry {
    let (secret_string, secret_binary) = value_members(o.value);
    SecretValueEntry {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: Some(o.version_id),
        secret_string,
        secret_binary,
        version_stages: (!o.version_stages.is_empty()).then_some(o.version_stages),
        created_date: Some(time(o.created_date)),
    }
}

pub fn batch_get_secret_value(r: BatchGetSecretValueRequest) -> BatchGetSecretValueInput {
    BatchGetSecretValueInput {
        secret_id_list: r.secret_id_list,
        filters: filters_in(r.filters),
        max_results: r.max_results,
        next_token: r.next_token,
    }
}

/// The per-secret errors carry the error type and message the single-secret call gives.
pub fn batch_get_secret_value_response(
    o: BatchGetSecretValueOutput,
) -> BatchGetSecretValueResponse {
    BatchGetSecretValueResponse {
        secret_values: Some(
            o.secret_values
                .into_iter()
                .map(secret_value_entry)
                .collect(),
        ),
        next_token: o.next_token,
        errors: Some(
            o.errors
                .into_iter()
                .map(|e| {
                    let aws = crate::errors::AwsError::from(&e.error);
                    APIErrorType {
                        secret_id: Some(e.secret_id),
                        error_code: Some(aws.error_type.to_owned()),
                        message: Some(aws.message),
                    }
                })
                .collect(),
        ),
    }
}

pub fn put_secret_value(r: PutSecretValueRequest) -> PutSecretValueInput {
    PutSecretValueInput {
        secret_id: r.secret_id.unwrap_or_default(),
        client_request_token: r.client_request_token,
        secret_string: r.secret_string.map(SensitiveString::into_zeroizing),
        secret_binary: r.secret_binary.map(SensitiveBlob::into_zeroizing),
        version_stages: r.version_stages,
        rotation_token: r.rotation_token.map(SensitiveString::into_zeroizing),
    }
}

pub fn put_secret_value_response(o: PutSecretValueOutput) -> PutSecretValueResponse {
    PutSecretValueResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: Some(o.version_id),
        version_stages: Some(o.version_stages),
    }
}

pub fn update_secret(r: UpdateSecretRequest) -> UpdateSecretInput {
    UpdateSecretInput {
        secret_id: r.secret_id.unwrap_or_default(),
        client_request_token: r.client_request_token,
        description: r.description,
        kms_key_id: r.kms_key_id,
        secret_string: r.secret_string.map(SensitiveString::into_zeroizing),
        secret_binary: r.secret_binary.map(SensitiveBlob::into_zeroizing),
        secret_type: r.r#type,
    }
}

pub fn update_secret_response(o: UpdateSecretOutput) -> UpdateSecretResponse {
    UpdateSecretResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: o.version_id,
    }
}

pub fn update_secret_version_stage(
    r: UpdateSecretVersionStageRequest,
) -> UpdateSecretVersionStageInput {
    UpdateSecretVersionStageInput {
        secret_id: r.secret_id.unwrap_or_default(),
        version_stage: r.version_stage.unwrap_or_default(),
        remove_from_version_id: r.remove_from_version_id,
        move_to_version_id: r.move_to_version_id,
    }
}

pub fn update_secret_version_stage_response(o: SecretIdentity) -> UpdateSecretVersionStageResponse {
    UpdateSecretVersionStageResponse {
        arn: Some(o.arn),
        name: Some(o.name),
    }
}

pub fn rotate_secret(r: RotateSecretRequest) -> RotateSecretInput {
    RotateSecretInput {
        secret_id: r.secret_id.unwrap_or_default(),
        client_request_token: r.client_request_token,
        rotation_lambda_arn: r.rotation_lambda_arn,
        rotation_rules: r.rotation_rules.map(|rules| RotationRules {
            automatically_after_days: rules.automatically_after_days,
            duration: rules.duration,
            schedule_expression: rules.schedule_expression,
        }),
        rotate_immediately: r.rotate_immediately,
    }
}

pub fn rotate_secret_response(o: RotationOutput) -> RotateSecretResponse {
    RotateSecretResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: o.version_id,
    }
}

pub fn cancel_rotate_secret_response(o: RotationOutput) -> CancelRotateSecretResponse {
    CancelRotateSecretResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        version_id: o.version_id,
    }
}

fn rotation_rules_out(rules: Option<RotationRules>) -> Option<RotationRulesType> {
    rules.map(|r| RotationRulesType {
        automatically_after_days: r.automatically_after_days,
        duration: r.duration,
        schedule_expression: r.schedule_expression,
    })
}

pub fn describe_secret_response(mut d: SecretDescription) -> DescribeSecretResponse {
    let tags = tags_out(&mut d);
    DescribeSecretResponse {
        rotation_enabled: d.rotation_enabled,
        rotation_lambda_arn: d.rotation_lambda_arn,
        rotation_rules: rotation_rules_out(d.rotation_rules),
        last_rotated_date: d.last_rotated_date.map(time),
        next_rotation_date: d.next_rotation_date.map(time),
        arn: Some(d.arn),
        name: Some(d.name),
        description: d.description,
        kms_key_id: d.kms_key_id,
        last_changed_date: Some(time(d.last_changed_date)),
        last_accessed_date: d.last_accessed_date.map(time),
        deleted_date: d.deleted_date.map(time),
        tags,
        version_ids_to_stages: d.versions_to_stages,
        created_date: Some(time(d.created_date)),
        ..Default::default()
    }
}

fn secret_list_entry(mut d: SecretDescription) -> SecretListEntry {
    let tags = tags_out(&mut d);
    SecretListEntry {
        rotation_enabled: d.rotation_enabled,
        rotation_lambda_arn: d.rotation_lambda_arn,
        rotation_rules: rotation_rules_out(d.rotation_rules),
        last_rotated_date: d.last_rotated_date.map(time),
        next_rotation_date: d.next_rotation_date.map(time),
        arn: Some(d.arn),
        name: Some(d.name),
        description: d.description,
        kms_key_id: d.kms_key_id,
        last_changed_date: Some(time(d.last_changed_date)),
        last_accessed_date: d.last_accessed_date.map(time),
        deleted_date: d.deleted_date.map(time),
        tags,
        secret_versions_to_stages: d.versions_to_stages,
        created_date: Some(time(d.created_date)),
        ..Default::default()
    }
}

pub fn list_secrets(r: ListSecretsRequest) -> ListSecretsInput {
    ListSecretsInput {
        include_planned_deletion: r.include_planned_deletion,
        max_results: r.max_results,
        next_token: r.next_token,
        filters: filters_in(r.filters),
        sort_order: r.sort_order,
        sort_by: r.sort_by,
    }
}

pub fn list_secrets_response(o: ListSecretsOutput) -> ListSecretsResponse {
    ListSecretsResponse {
        secret_list: Some(o.secrets.into_iter().map(secret_list_entry).collect()),
        next_token: o.next_token,
    }
}

pub fn list_secret_version_ids(r: ListSecretVersionIdsRequest) -> ListSecretVersionIdsInput {
    ListSecretVersionIdsInput {
        secret_id: r.secret_id.unwrap_or_default(),
        max_results: r.max_results,
        next_token: r.next_token,
        include_deprecated: r.include_deprecated,
    }
}

pub fn list_secret_version_ids_response(
    o: ListSecretVersionIdsOutput,
) -> ListSecretVersionIdsResponse {
    ListSecretVersionIdsResponse {
        versions: Some(
            o.versions
                .into_iter()
                .map(|v| SecretVersionsListEntry {
                    version_id: Some(v.version_id),
                    version_stages: v.version_stages,
                    last_accessed_date: v.last_accessed_date.map(time),
                    created_date: Some(time(v.created_date)),
                    kms_key_ids: Some(v.kms_key_ids),
                })
                .collect(),
        ),
        next_token: o.next_token,
        arn: Some(o.arn),
        name: Some(o.name),
    }
}

pub fn delete_secret(r: DeleteSecretRequest) -> DeleteSecretInput {
    DeleteSecretInput {
        secret_id: r.secret_id.unwrap_or_default(),
        recovery_window_in_days: r.recovery_window_in_days,
        force_delete_without_recovery: r.force_delete_without_recovery,
    }
}

pub fn delete_secret_response(o: DeleteSecretOutput) -> DeleteSecretResponse {
    DeleteSecretResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        deletion_date: Some(time(o.deletion_date)),
    }
}

pub fn restore_secret_response(o: SecretIdentity) -> RestoreSecretResponse {
    RestoreSecretResponse {
        arn: Some(o.arn),
        name: Some(o.name),
    }
}

pub fn tag_resource(r: TagResourceRequest) -> (String, Vec<TagInput>) {
    (
        r.secret_id.unwrap_or_default(),
        tags_in(r.tags).unwrap_or_default(),
    )
}

pub fn untag_resource(r: UntagResourceRequest) -> (String, Vec<String>) {
    (
        r.secret_id.unwrap_or_default(),
        r.tag_keys.unwrap_or_default(),
    )
}

pub fn get_random_password(r: GetRandomPasswordRequest) -> PasswordRules {
    PasswordRules {
        length: r.password_length,
        exclude_characters: r.exclude_characters,
        exclude_numbers: r.exclude_numbers.unwrap_or(false),
        exclude_punctuation: r.exclude_punctuation.unwrap_or(false),
        exclude_uppercase: r.exclude_uppercase.unwrap_or(false),
        exclude_lowercase: r.exclude_lowercase.unwrap_or(false),
        include_space: r.include_space.unwrap_or(false),
        require_each_included_type: r.require_each_included_type,
    }
}

pub fn get_random_password_response(
    password: zeroize::Zeroizing<String>,
) -> GetRandomPasswordResponse {
    GetRandomPasswordResponse {
        random_password: Some(SensitiveString::from(password)),
    }
}

pub fn put_resource_policy_response(o: SecretIdentity) -> PutResourcePolicyResponse {
    PutResourcePolicyResponse {
        arn: Some(o.arn),
        name: Some(o.name),
    }
}

pub fn get_resource_policy_response(
    (o, resource_policy): (SecretIdentity, Option<String>),
) -> GetResourcePolicyResponse {
    GetResourcePolicyResponse {
        arn: Some(o.arn),
        name: Some(o.name),
        resource_policy,
    }
}

pub fn delete_resource_policy_response(o: SecretIdentity) -> DeleteResourcePolicyResponse {
    DeleteResourcePolicyResponse {
        arn: Some(o.arn),
        name: Some(o.name),
    }
}

pub fn validate_resource_policy_response(
    findings: Vec<coffer_auth::ValidationFinding>,
) -> ValidateResourcePolicyResponse {
    ValidateResourcePolicyResponse {
        policy_validation_passed: Some(findings.is_empty()),
        validation_errors: Some(
            findings
                .into_iter()
                .map(|finding| ValidationErrorsEntry {
                    check_name: Some(finding.check_name.to_owned()),
                    error_message: Some(finding.message),
                })
                .collect(),
        ),
    }
}
