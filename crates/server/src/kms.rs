//! KMS dispatch (companion spec §6): decoded request → `KmsService` call → encoded response.
//!
//! Decrypt, GenerateDataKey and GenerateRandom answer with plaintext: the response structures
//! hold it in wiped-on-drop wrappers, and the encoded body is wiped once hyper has written it
//! (`http::WipedOnDrop`).

use coffer_domain::kms::KmsError;
use coffer_domain::secrets::Caller;
use coffer_wire::errors::AwsError;
use coffer_wire::kms::model::{
    CreateAliasResponse, DeleteAliasResponse, DisableKeyResponse, DisableKeyRotationResponse,
    EnableKeyResponse, EnableKeyRotationResponse, PutKeyPolicyResponse, TagResourceResponse,
    UntagResourceResponse, UpdateAliasResponse,
};
use coffer_wire::kms::model::{OperationOutput, audit_request_parameters, audit_response_elements};
use coffer_wire::kms::{self, Operation, Request, convert};
use serde::Serialize;

use crate::audit::AuditFacts;
use crate::http::AppState;

/// Encodes a response (if the operation has one), noting its recordable elements and the key
/// it names.
fn respond<T: OperationOutput + Serialize>(
    facts: &mut AuditFacts,
    operation: Operation,
    response: T,
) -> Option<Vec<u8>> {
    facts.response(|| audit_response_elements(&response));
    let body = kms::encode(operation, &response);
    if let Some(body) = &body {
        facts.resource_from_response(body);
    }
    body
}

/// Logs the hidden cause of an internal error (store or crypto failures; never key material or
/// plaintext) and returns the AWS error to send.
fn aws_error(request_id: &str, error: &KmsError) -> AwsError {
    if let KmsError::Internal { cause } = error {
        tracing::error!(request_id, cause = %cause, "internal error");
    }
    convert::error(error)
}

/// Runs one operation; `target` is the whole `X-Amz-Target`. `Ok(None)` means an empty response
/// body (the operations KMS's model gives no output).
pub async fn handle(
    state: &AppState,
    request_id: &str,
    caller: &Caller,
    target: &str,
    body: &[u8],
    facts: &mut AuditFacts,
) -> Result<Option<Vec<u8>>, AwsError> {
    let operation = kms::operation(target)?;
    let request = kms::decode(operation, body)?;
    facts.request(|| audit_request_parameters(&request), operation.read_only());
    let service = &state.kms;
    let fail = |e: KmsError| aws_error(request_id, &e);

    let output = match request {
        Request::CreateKey(r) => {
            let out = service
                .create_key(caller, convert::create_key(r)?)
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::create_key_response(out))
        }
        Request::DescribeKey(r) => {
            let out = service
                .describe_key(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::describe_key_response(out))
        }
        Request::ListKeys(r) => {
            let out = service
                .list_keys(caller, r.limit, r.marker.as_deref())
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::list_keys_response(out))
        }
        Request::EnableKey(r) => {
            service
                .enable_key(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, operation, EnableKeyResponse {})
        }
        Request::DisableKey(r) => {
            service
                .disable_key(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, operation, DisableKeyResponse {})
        }
        Request::ScheduleKeyDeletion(r) => {
            let out = service
                .schedule_key_deletion(
                    caller,
                    r.key_id.as_deref().unwrap_or_default(),
                    r.pending_window_in_days,
                )
                .await
                .map_err(fail)?;
            respond(
                facts,
                operation,
                convert::schedule_key_deletion_response(out),
            )
        }
        Request::CancelKeyDeletion(r) => {
            let out = service
                .cancel_key_deletion(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::cancel_key_deletion_response(out))
        }
        Request::EnableKeyRotation(r) => {
            service
                .enable_key_rotation(
                    caller,
                    r.key_id.as_deref().unwrap_or_default(),
                    r.rotation_period_in_days,
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, EnableKeyRotationResponse {})
        }
        Request::DisableKeyRotation(r) => {
            service
                .disable_key_rotation(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, operation, DisableKeyRotationResponse {})
        }
        Request::GetKeyRotationStatus(r) => {
            let out = service
                .get_key_rotation_status(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(
                facts,
                operation,
                convert::get_key_rotation_status_response(out),
            )
        }
        Request::RotateKeyOnDemand(r) => {
            let out = service
                .rotate_key_on_demand(caller, r.key_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(
                facts,
                operation,
                convert::rotate_key_on_demand_response(out),
            )
        }
        Request::CreateAlias(r) => {
            service
                .create_alias(
                    caller,
                    r.alias_name.as_deref().unwrap_or_default(),
                    r.target_key_id.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, CreateAliasResponse {})
        }
        Request::UpdateAlias(r) => {
            service
                .update_alias(
                    caller,
                    r.alias_name.as_deref().unwrap_or_default(),
                    r.target_key_id.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, UpdateAliasResponse {})
        }
        Request::DeleteAlias(r) => {
            service
                .delete_alias(caller, r.alias_name.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, operation, DeleteAliasResponse {})
        }
        Request::ListAliases(r) => {
            let out = service
                .list_aliases(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::list_aliases_response(out))
        }
        Request::TagResource(r) => {
            let (key_id, tags) = convert::tag_resource(r);
            service
                .tag_resource(caller, &key_id, tags)
                .await
                .map_err(fail)?;
            respond(facts, operation, TagResourceResponse {})
        }
        Request::UntagResource(r) => {
            let (key_id, tag_keys) = convert::untag_resource(r);
            service
                .untag_resource(caller, &key_id, tag_keys)
                .await
                .map_err(fail)?;
            respond(facts, operation, UntagResourceResponse {})
        }
        Request::ListResourceTags(r) => {
            let out = service
                .list_resource_tags(
                    caller,
                    r.key_id.as_deref().unwrap_or_default(),
                    r.limit,
                    r.marker.as_deref(),
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::list_resource_tags_response(out))
        }
        Request::GetKeyPolicy(r) => {
            let policy = service
                .get_key_policy(
                    caller,
                    r.key_id.as_deref().unwrap_or_default(),
                    r.policy_name.as_deref(),
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::get_key_policy_response(policy))
        }
        Request::PutKeyPolicy(r) => {
            service
                .put_key_policy(
                    caller,
                    r.key_id.as_deref().unwrap_or_default(),
                    r.policy_name.as_deref(),
                    r.policy.as_deref().unwrap_or_default(),
                    r.bypass_policy_lockout_safety_check.unwrap_or(false),
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, PutKeyPolicyResponse {})
        }
        Request::Encrypt(r) => {
            let args = convert::encrypt(r)?;
            let out = service
                .encrypt(
                    caller,
                    &args.key_id,
                    args.plaintext.expose(),
                    &args.encryption_context,
                    args.dry_run,
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::encrypt_response(out))
        }
        Request::Decrypt(r) => {
            let args = convert::decrypt(r)?;
            let out = service
                .decrypt(
                    caller,
                    &args.ciphertext_blob,
                    &args.encryption_context,
                    args.key_id.as_deref(),
                    args.dry_run,
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::decrypt_response(out))
        }
        Request::ReEncrypt(r) => {
            let args = convert::re_encrypt(r)?;
            let out = service
                .re_encrypt(
                    caller,
                    &args.ciphertext_blob,
                    &args.source_encryption_context,
                    args.source_key_id.as_deref(),
                    &args.destination_key_id,
                    &args.destination_encryption_context,
                    args.dry_run,
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::re_encrypt_response(out))
        }
        Request::GenerateDataKey(r) => {
            let args = convert::generate_data_key(r)?;
            let out = service
                .generate_data_key(
                    caller,
                    &args.key_id,
                    args.key_spec.as_deref(),
                    args.number_of_bytes,
                    &args.encryption_context,
                    args.dry_run,
                    true,
                )
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::generate_data_key_response(out))
        }
        Request::GenerateDataKeyWithoutPlaintext(r) => {
            let args = convert::generate_data_key_without_plaintext(r);
            let out = service
                .generate_data_key(
                    caller,
                    &args.key_id,
                    args.key_spec.as_deref(),
                    args.number_of_bytes,
                    &args.encryption_context,
                    args.dry_run,
                    false,
                )
                .await
                .map_err(fail)?;
            respond(
                facts,
                operation,
                convert::generate_data_key_without_plaintext_response(out),
            )
        }
        Request::GenerateRandom(r) => {
            let number_of_bytes = convert::generate_random(r)?;
            let bytes = service
                .generate_random(caller, number_of_bytes)
                .await
                .map_err(fail)?;
            respond(facts, operation, convert::generate_random_response(bytes))
        }
    };
    Ok(output)
}
