//! Between the generated KMS wire shapes and the arguments and outputs of the domain's
//! `KmsService`. Requests have been validated against the model before they get here, so
//! required members are present; a missing one still maps to an empty value rather than a panic.
//!
//! Plaintext (Encrypt's input, Decrypt's and GenerateDataKey's output, GenerateRandom's bytes)
//! moves between `SensitiveBlob` and `Zeroizing` buffers without being copied, so every copy is
//! wiped when dropped.

use std::collections::BTreeMap;

use coffer_domain::kms::{self as domain, KmsError};
use zeroize::Zeroizing;

use super::model::*;
use super::{access_denied, internal_error, not_authorized, validation_error};
use crate::codec::{Blob, EpochTime, SensitiveBlob};
use crate::errors::AwsError;

/// The only algorithm of symmetric encryption keys, the only keys Coffer offers.
pub const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";
/// The only key policy a KMS key has.
pub const DEFAULT_POLICY_NAME: &str = "default";

fn time(millis: i64) -> EpochTime {
    EpochTime::from_millis(millis)
}

/// The bare key id at the end of a key ARN (`…:key/<id>`).
fn bare_key_id(key_arn: &str) -> String {
    key_arn
        .rsplit_once(":key/")
        .map_or(key_arn, |(_, id)| id)
        .to_owned()
}

fn tags_in(tags: Option<Vec<Tag>>) -> Vec<(String, String)> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| {
            (
                t.tag_key.unwrap_or_default(),
                t.tag_value.unwrap_or_default(),
            )
        })
        .collect()
}

fn context_in(context: Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    context.unwrap_or_default()
}

/// Every Coffer key is a symmetric encryption key: an asymmetric algorithm can never apply.
fn check_algorithm(algorithm: Option<&str>) -> Result<(), AwsError> {
    match algorithm {
        None | Some(SYMMETRIC_DEFAULT) => Ok(()),
        Some(other) => Err(ModeledError::InvalidKeyUsageException.with_message(format!(
            "The encryption algorithm {other} is not compatible with SYMMETRIC_DEFAULT KMS keys."
        ))),
    }
}

/// Nitro Enclaves attestation: answering in the clear instead of for the enclave would hand the
/// plaintext to a caller that asked for it to be sealed, so such requests are refused.
fn check_no_recipient(recipient: Option<&RecipientInfo>) -> Result<(), AwsError> {
    match recipient {
        None => Ok(()),
        Some(_) => Err(ModeledError::UnsupportedOperationException.with_message(
            "Recipient (attested enclave) requests are not supported by this Coffer server.",
        )),
    }
}

/// Coffer has one key store; a key or random bytes asked of another must not silently come from
/// it.
fn check_no_custom_key_store(custom_key_store_id: Option<&str>) -> Result<(), AwsError> {
    match custom_key_store_id {
        None => Ok(()),
        Some(_) => Err(ModeledError::UnsupportedOperationException
            .with_message("Custom key stores are not supported by this Coffer server.")),
    }
}

// ----- requests ---------------------------------------------------------------------------------

pub fn create_key(r: CreateKeyRequest) -> Result<domain::CreateKeyInput, AwsError> {
    check_no_custom_key_store(r.custom_key_store_id.as_deref())?;
    if r.xks_key_id.is_some() {
        return Err(ModeledError::UnsupportedOperationException
            .with_message("External key stores are not supported by this Coffer server."));
    }
    Ok(domain::CreateKeyInput {
        policy: r.policy,
        description: r.description,
        key_usage: r.key_usage,
        key_spec: r.key_spec,
        customer_master_key_spec: r.customer_master_key_spec,
        origin: r.origin,
        bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check.unwrap_or(false),
        tags: tags_in(r.tags),
        multi_region: r.multi_region.unwrap_or(false),
    })
}

/// `Encrypt`'s arguments; the plaintext stays in its wiped-on-drop wrapper.
#[derive(Debug)]
pub struct EncryptArgs {
    pub key_id: String,
    pub plaintext: SensitiveBlob,
    pub encryption_context: BTreeMap<String, String>,
    pub dry_run: bool,
}

pub fn encrypt(r: EncryptRequest) -> Result<EncryptArgs, AwsError> {
    check_algorithm(r.encryption_algorithm.as_deref())?;
    Ok(EncryptArgs {
        key_id: r.key_id.unwrap_or_default(),
        plaintext: r.plaintext.unwrap_or_default(),
        encryption_context: context_in(r.encryption_context),
        dry_run: r.dry_run.unwrap_or(false),
    })
}

#[derive(Debug)]
pub struct DecryptArgs {
    pub ciphertext_blob: Vec<u8>,
    pub encryption_context: BTreeMap<String, String>,
    pub key_id: Option<String>,
    pub dry_run: bool,
}

pub fn decrypt(r: DecryptRequest) -> Result<DecryptArgs, AwsError> {
    check_algorithm(r.encryption_algorithm.as_deref())?;
    check_no_recipient(r.recipient.as_ref())?;
    Ok(DecryptArgs {
        ciphertext_blob: r.ciphertext_blob.map(Blob::into_inner).unwrap_or_default(),
        encryption_context: context_in(r.encryption_context),
        key_id: r.key_id,
        dry_run: r.dry_run.unwrap_or(false),
    })
}

#[derive(Debug)]
pub struct ReEncryptArgs {
    pub ciphertext_blob: Vec<u8>,
    pub source_encryption_context: BTreeMap<String, String>,
    pub source_key_id: Option<String>,
    pub destination_key_id: String,
    pub destination_encryption_context: BTreeMap<String, String>,
    pub dry_run: bool,
}

pub fn re_encrypt(r: ReEncryptRequest) -> Result<ReEncryptArgs, AwsError> {
    check_algorithm(r.source_encryption_algorithm.as_deref())?;
    check_algorithm(r.destination_encryption_algorithm.as_deref())?;
    Ok(ReEncryptArgs {
        ciphertext_blob: r.ciphertext_blob.map(Blob::into_inner).unwrap_or_default(),
        source_encryption_context: context_in(r.source_encryption_context),
        source_key_id: r.source_key_id,
        destination_key_id: r.destination_key_id.unwrap_or_default(),
        destination_encryption_context: context_in(r.destination_encryption_context),
        dry_run: r.dry_run.unwrap_or(false),
    })
}

/// `GenerateDataKey` and `GenerateDataKeyWithoutPlaintext` arguments (the domain checks that
/// exactly one of `KeySpec` and `NumberOfBytes` is given).
#[derive(Debug)]
pub struct DataKeyArgs {
    pub key_id: String,
    pub key_spec: Option<String>,
    pub number_of_bytes: Option<i32>,
    pub encryption_context: BTreeMap<String, String>,
    pub dry_run: bool,
}

pub fn generate_data_key(r: GenerateDataKeyRequest) -> Result<DataKeyArgs, AwsError> {
    check_no_recipient(r.recipient.as_ref())?;
    Ok(DataKeyArgs {
        key_id: r.key_id.unwrap_or_default(),
        key_spec: r.key_spec,
        number_of_bytes: r.number_of_bytes,
        encryption_context: context_in(r.encryption_context),
        dry_run: r.dry_run.unwrap_or(false),
    })
}

pub fn generate_data_key_without_plaintext(
    r: GenerateDataKeyWithoutPlaintextRequest,
) -> DataKeyArgs {
    DataKeyArgs {
        key_id: r.key_id.unwrap_or_default(),
        key_spec: r.key_spec,
        number_of_bytes: r.number_of_bytes,
        encryption_context: context_in(r.encryption_context),
        dry_run: r.dry_run.unwrap_or(false),
    }
}

/// `GenerateRandom`'s `NumberOfBytes` (the domain reports it missing).
pub fn generate_random(r: GenerateRandomRequest) -> Result<Option<i32>, AwsError> {
    check_no_custom_key_store(r.custom_key_store_id.as_deref())?;
    check_no_recipient(r.recipient.as_ref())?;
    Ok(r.number_of_bytes)
}

/// `TagResource`: the key and its tags as (TagKey, TagValue).
pub fn tag_resource(r: TagResourceRequest) -> (String, Vec<(String, String)>) {
    (r.key_id.unwrap_or_default(), tags_in(r.tags))
}

pub fn untag_resource(r: UntagResourceRequest) -> (String, Vec<String>) {
    (r.key_id.unwrap_or_default(), r.tag_keys.unwrap_or_default())
}

// ----- responses --------------------------------------------------------------------------------

/// `KeyMetadata`: `KeyId` is the bare key id; `Description` is `""` when none was given; both
/// `KeySpec` and its deprecated twin `CustomerMasterKeySpec` are sent, as AWS does.
pub fn key_metadata(m: domain::KeyMetadata) -> KeyMetadata {
    KeyMetadata {
        aws_account_id: Some(m.aws_account_id),
        key_id: Some(m.key_id),
        arn: Some(m.arn),
        creation_date: Some(time(m.creation_date)),
        enabled: Some(m.enabled),
        description: Some(m.description),
        key_usage: Some(m.key_usage.to_owned()),
        key_state: Some(m.key_state.as_str().to_owned()),
        deletion_date: m.deletion_date.map(time),
        origin: Some(m.origin.to_owned()),
        key_manager: Some(m.key_manager.as_str().to_owned()),
        customer_master_key_spec: Some(m.key_spec.to_owned()),
        key_spec: Some(m.key_spec.to_owned()),
        encryption_algorithms: Some(
            m.encryption_algorithms
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
        ),
        multi_region: Some(m.multi_region),
        pending_deletion_window_in_days: m.pending_deletion_window_in_days,
        ..Default::default()
    }
}

pub fn create_key_response(m: domain::KeyMetadata) -> CreateKeyResponse {
    CreateKeyResponse {
        key_metadata: Some(key_metadata(m)),
    }
}

pub fn describe_key_response(m: domain::KeyMetadata) -> DescribeKeyResponse {
    DescribeKeyResponse {
        key_metadata: Some(key_metadata(m)),
    }
}

pub fn list_keys_response(listing: domain::Listing<domain::KeyListEntry>) -> ListKeysResponse {
    ListKeysResponse {
        keys: Some(
            listing
                .items
                .into_iter()
                .map(|k| KeyListEntry {
                    key_id: Some(k.key_id),
                    key_arn: Some(k.key_arn),
                })
                .collect(),
        ),
        truncated: Some(listing.next_marker.is_some()),
        next_marker: listing.next_marker,
    }
}

/// `TargetKeyId` (a bare key id) is absent for an AWS managed alias whose key does not exist yet.
pub fn list_aliases_response(
    listing: domain::Listing<domain::AliasListEntry>,
) -> ListAliasesResponse {
    ListAliasesResponse {
        aliases: Some(
            listing
                .items
                .into_iter()
                .map(|a| AliasListEntry {
                    alias_name: Some(a.alias_name),
                    alias_arn: Some(a.alias_arn),
                    target_key_id: a.target_key_id,
                    creation_date: a.creation_date.map(time),
                    last_updated_date: a.last_updated_date.map(time),
                })
                .collect(),
        ),
        truncated: Some(listing.next_marker.is_some()),
        next_marker: listing.next_marker,
    }
}

pub fn list_resource_tags_response(
    listing: domain::Listing<(String, String)>,
) -> ListResourceTagsResponse {
    ListResourceTagsResponse {
        tags: Some(
            listing
                .items
                .into_iter()
                .map(|(key, value)| Tag {
                    tag_key: Some(key),
                    tag_value: Some(value),
                })
                .collect(),
        ),
        truncated: Some(listing.next_marker.is_some()),
        next_marker: listing.next_marker,
    }
}

pub fn encrypt_response(o: domain::Encrypted) -> EncryptResponse {
    EncryptResponse {
        ciphertext_blob: Some(Blob::new(o.ciphertext_blob)),
        key_id: Some(o.key_arn),
        encryption_algorithm: Some(SYMMETRIC_DEFAULT.to_owned()),
    }
}

pub fn decrypt_response(o: domain::Decrypted) -> DecryptResponse {
    DecryptResponse {
        key_id: Some(o.key_arn),
        plaintext: Some(SensitiveBlob::from(o.plaintext)),
        encryption_algorithm: Some(SYMMETRIC_DEFAULT.to_owned()),
        ..Default::default()
    }
}

pub fn re_encrypt_response(o: domain::ReEncrypted) -> ReEncryptResponse {
    ReEncryptResponse {
        ciphertext_blob: Some(Blob::new(o.ciphertext_blob)),
        source_key_id: Some(o.source_key_arn),
        key_id: Some(o.key_arn),
        source_encryption_algorithm: Some(SYMMETRIC_DEFAULT.to_owned()),
        destination_encryption_algorithm: Some(SYMMETRIC_DEFAULT.to_owned()),
        ..Default::default()
    }
}

pub fn generate_data_key_response(o: domain::Encrypted) -> GenerateDataKeyResponse {
    GenerateDataKeyResponse {
        ciphertext_blob: Some(Blob::new(o.ciphertext_blob)),
        plaintext: o.plaintext.map(SensitiveBlob::from),
        key_id: Some(o.key_arn),
        ..Default::default()
    }
}

pub fn generate_data_key_without_plaintext_response(
    o: domain::Encrypted,
) -> GenerateDataKeyWithoutPlaintextResponse {
    GenerateDataKeyWithoutPlaintextResponse {
        ciphertext_blob: Some(Blob::new(o.ciphertext_blob)),
        key_id: Some(o.key_arn),
        ..Default::default()
    }
}

pub fn generate_random_response(bytes: Zeroizing<Vec<u8>>) -> GenerateRandomResponse {
    GenerateRandomResponse {
        plaintext: Some(SensitiveBlob::from(bytes)),
        ..Default::default()
    }
}

pub fn schedule_key_deletion_response(o: domain::ScheduledDeletion) -> ScheduleKeyDeletionResponse {
    ScheduleKeyDeletionResponse {
        key_id: Some(o.key_arn),
        deletion_date: Some(time(o.deletion_date)),
        key_state: Some(o.key_state.as_str().to_owned()),
        pending_window_in_days: Some(o.pending_window_in_days),
    }
}

pub fn cancel_key_deletion_response(key_arn: String) -> CancelKeyDeletionResponse {
    CancelKeyDeletionResponse {
        key_id: Some(key_arn),
    }
}

/// AWS answers RotateKeyOnDemand with the bare key id, unlike the key ARN of CancelKeyDeletion.
pub fn rotate_key_on_demand_response(key_arn: String) -> RotateKeyOnDemandResponse {
    RotateKeyOnDemandResponse {
        key_id: Some(bare_key_id(&key_arn)),
    }
}

/// AWS answers GetKeyRotationStatus with the bare key id.
pub fn get_key_rotation_status_response(o: domain::RotationStatus) -> GetKeyRotationStatusResponse {
    GetKeyRotationStatusResponse {
        key_rotation_enabled: Some(o.key_rotation_enabled),
        key_id: Some(bare_key_id(&o.key_arn)),
        rotation_period_in_days: o.rotation_period_in_days,
        next_rotation_date: o.next_rotation_date.map(time),
        on_demand_rotation_start_date: None,
    }
}

pub fn get_key_policy_response(policy: String) -> GetKeyPolicyResponse {
    GetKeyPolicyResponse {
        policy: Some(policy),
        policy_name: Some(DEFAULT_POLICY_NAME.to_owned()),
    }
}

// ----- errors -----------------------------------------------------------------------------------

/// The KMS exception for a domain error, with the domain's (AWS's) message. `Internal` becomes
/// `KMSInternalException` without its cause, which the caller logs.
pub fn error(e: &KmsError) -> AwsError {
    match e {
        KmsError::NotFound(m) => ModeledError::NotFoundException.with_message(m.as_str()),
        KmsError::AlreadyExists(m) => ModeledError::AlreadyExistsException.with_message(m.as_str()),
        KmsError::Disabled(m) => ModeledError::DisabledException.with_message(m.as_str()),
        KmsError::InvalidState(m) => {
            ModeledError::KMSInvalidStateException.with_message(m.as_str())
        }
        KmsError::InvalidCiphertext => ModeledError::InvalidCiphertextException.with_message(""),
        KmsError::IncorrectKey => ModeledError::IncorrectKeyException.with_message(e.to_string()),
        KmsError::InvalidKeyUsage(m) => {
            ModeledError::InvalidKeyUsageException.with_message(m.as_str())
        }
        KmsError::DryRun => ModeledError::DryRunOperationException.with_message(e.to_string()),
        KmsError::Tag(m) => ModeledError::TagException.with_message(m.as_str()),
        KmsError::MalformedPolicyDocument(m) => {
            ModeledError::MalformedPolicyDocumentException.with_message(m.as_str())
        }
        KmsError::UnsupportedOperation(m) => {
            ModeledError::UnsupportedOperationException.with_message(m.as_str())
        }
        KmsError::InvalidAliasName(m) => {
            ModeledError::InvalidAliasNameException.with_message(m.as_str())
        }
        KmsError::InvalidMarker(m) => ModeledError::InvalidMarkerException.with_message(m.as_str()),
        KmsError::LimitExceeded(m) => ModeledError::LimitExceededException.with_message(m.as_str()),
        KmsError::Validation(m) => validation_error(m.as_str()),
        KmsError::AccessDenied(m) => access_denied(m.as_str()),
        KmsError::NotAuthorized => not_authorized(),
        KmsError::Internal { .. } => internal_error(),
    }
}

#[cfg(test)]
mod tests;
