//! Secrets Manager dispatch: decoded request → domain call → encoded response. Operations
//! whose features arrive with later work (resource policies, rotation, replication) are
//! recognised, validated and answered with a proper AWS error.

use coffer_domain::SecretsError;
use coffer_domain::secrets::Caller;
use coffer_wire::codec::encode;
use coffer_wire::errors::AwsError;
use coffer_wire::secretsmanager::convert;
use coffer_wire::secretsmanager::model::{
    Operation, OperationOutput, Request, audit_request_parameters, audit_response_elements,
};
use serde::Serialize;

use crate::audit::AuditFacts;
use crate::http::{AppState, aws_error};

/// Encodes a response, noting its recordable elements and the secret it names.
fn respond<T: OperationOutput + Serialize>(facts: &mut AuditFacts, response: T) -> Vec<u8> {
    facts.response(|| audit_response_elements(&response));
    let body = encode(&response);
    facts.resource_from_response(&body);
    body
}

/// Runs one operation. `Ok(None)` means an empty response body.
pub async fn handle(
    state: &AppState,
    request_id: &str,
    caller: &Caller,
    operation_name: &str,
    body: &[u8],
    facts: &mut AuditFacts,
) -> Result<Option<Vec<u8>>, AwsError> {
    let operation = Operation::from_target(&format!("secretsmanager.{operation_name}"))
        .ok_or_else(AwsError::unknown_operation)?;
    let request = Request::decode(operation, body).map_err(|e| AwsError::from(&e))?;
    facts.request(|| audit_request_parameters(&request), operation.read_only());
    let service = &state.service;
    let fail = |e: SecretsError| aws_error(request_id, &e);
    let unsupported = async |secret_id: Option<&str>, name: &'static str| -> AwsError {
        fail(service.not_supported(caller, secret_id, name).await)
    };

    let output = match request {
        Request::CreateSecret(r) => {
            let out = service
                .create_secret(caller, convert::create_secret(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::create_secret_response(out))
        }
        Request::GetSecretValue(r) => {
            let out = service
                .get_secret_value(caller, convert::get_secret_value(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::get_secret_value_response(out))
        }
        Request::BatchGetSecretValue(r) => {
            let out = service
                .batch_get_secret_value(caller, convert::batch_get_secret_value(r))
                .await
                .map_err(fail)?;
            let response = convert::batch_get_secret_value_response(out);
            facts.batch_reads = response
                .secret_values
                .iter()
                .flatten()
                .filter_map(|v| v.arn.clone())
                .collect();
            respond(facts, response)
        }
        Request::PutSecretValue(r) => {
            let out = service
                .put_secret_value(caller, convert::put_secret_value(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::put_secret_value_response(out))
        }
        Request::UpdateSecret(r) => {
            let out = service
                .update_secret(caller, convert::update_secret(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::update_secret_response(out))
        }
        Request::UpdateSecretVersionStage(r) => {
            let out = service
                .update_secret_version_stage(caller, convert::update_secret_version_stage(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::update_secret_version_stage_response(out))
        }
        Request::DescribeSecret(r) => {
            let out = service
                .describe_secret(caller, r.secret_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, convert::describe_secret_response(out))
        }
        Request::ListSecrets(r) => {
            let out = service
                .list_secrets(caller, convert::list_secrets(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::list_secrets_response(out))
        }
        Request::ListSecretVersionIds(r) => {
            let out = service
                .list_secret_version_ids(caller, convert::list_secret_version_ids(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::list_secret_version_ids_response(out))
        }
        Request::DeleteSecret(r) => {
            let out = service
                .delete_secret(caller, convert::delete_secret(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::delete_secret_response(out))
        }
        Request::RestoreSecret(r) => {
            let out = service
                .restore_secret(caller, r.secret_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, convert::restore_secret_response(out))
        }
        Request::TagResource(r) => {
            let (secret_id, tags) = convert::tag_resource(r);
            service
                .tag_resource(caller, &secret_id, tags)
                .await
                .map_err(fail)?;
            return Ok(None);
        }
        Request::UntagResource(r) => {
            let (secret_id, keys) = convert::untag_resource(r);
            service
                .untag_resource(caller, &secret_id, keys)
                .await
                .map_err(fail)?;
            return Ok(None);
        }
        Request::GetRandomPassword(r) => {
            let password = service
                .get_random_password(caller, &convert::get_random_password(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::get_random_password_response(password))
        }
        Request::RotateSecret(r) => {
            // AWS checks the token before anything else, and reports it as a parameter error.
            if r.client_request_token.is_none() {
                return Err(fail(SecretsError::MissingClientRequestTokenParameter));
            }
            let out = service
                .rotate_secret(caller, convert::rotate_secret(r))
                .await
                .map_err(fail)?;
            respond(facts, convert::rotate_secret_response(out))
        }
        Request::CancelRotateSecret(r) => {
            let out = service
                .cancel_rotate_secret(caller, r.secret_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, convert::cancel_rotate_secret_response(out))
        }
        Request::PutResourcePolicy(r) => {
            let out = service
                .put_resource_policy(
                    caller,
                    r.secret_id.as_deref().unwrap_or_default(),
                    r.resource_policy.unwrap_or_default(),
                    r.block_public_policy,
                )
                .await
                .map_err(fail)?;
            respond(facts, convert::put_resource_policy_response(out))
        }
        Request::GetResourcePolicy(r) => {
            let out = service
                .get_resource_policy(caller, r.secret_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, convert::get_resource_policy_response(out))
        }
        Request::DeleteResourcePolicy(r) => {
            let out = service
                .delete_resource_policy(caller, r.secret_id.as_deref().unwrap_or_default())
                .await
                .map_err(fail)?;
            respond(facts, convert::delete_resource_policy_response(out))
        }
        Request::ValidateResourcePolicy(r) => {
            let findings = service
                .validate_resource_policy(
                    caller,
                    r.secret_id.as_deref(),
                    r.resource_policy.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(fail)?;
            respond(facts, convert::validate_resource_policy_response(findings))
        }
        Request::ReplicateSecretToRegions(r) => {
            return Err(unsupported(r.secret_id.as_deref(), "ReplicateSecretToRegions").await);
        }
        Request::RemoveRegionsFromReplication(r) => {
            return Err(unsupported(r.secret_id.as_deref(), "RemoveRegionsFromReplication").await);
        }
        Request::StopReplicationToReplica(r) => {
            return Err(unsupported(r.secret_id.as_deref(), "StopReplicationToReplica").await);
        }
    };
    Ok(Some(output))
}
