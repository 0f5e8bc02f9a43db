//! KMS keys as stored (the `KeyDoc` JSON document the store keeps opaque) and the views the
//! operations return, with AWS's member names.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;

/// `KeyState`, as far as Coffer's keys go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// `KeyManager`: keys callers create, or keys a service creates for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyManager {
    Customer,
    Aws,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManager::Customer => "CUSTOMER",
            KeyManager::Aws => "AWS",
        }
    }
}

/// How a key's material was rotated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationType {
    Automatic,
    OnDemand,
}

/// A KMS key's attributes; its material versions live beside it in the store, sealed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDoc {
    pub description: String,
    pub key_manager: KeyManager,
    pub state: KeyState,
    /// The state to return to when a scheduled deletion is cancelled is `Disabled`, as AWS.
    #[serde(default)]
    pub deletion_date: Option<Millis>,
    #[serde(default)]
    pub pending_window_days: Option<i32>,
    pub policy: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub rotation_enabled: bool,
    #[serde(default)]
    pub rotation_period_days: Option<i32>,
    #[serde(default)]
    pub next_rotation_date: Option<Millis>,
    /// The material new ciphertexts are made with (older ones still decrypt).
    pub current_material: String,
    #[serde(default)]
    pub rotations: Vec<(Millis, RotationType)>,
}

/// `KeyMetadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMetadata {
    pub aws_account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date: Millis,
    pub enabled: bool,
    pub description: String,
    pub key_usage: &'static str,
    pub key_state: KeyState,
    pub deletion_date: Option<Millis>,
    pub pending_deletion_window_in_days: Option<i32>,
    pub origin: &'static str,
    pub key_manager: KeyManager,
    /// `KeySpec` and the deprecated `CustomerMasterKeySpec`.
    pub key_spec: &'static str,
    pub encryption_algorithms: Vec<&'static str>,
    pub multi_region: bool,
}

/// `KeyListEntry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyListEntry {
    pub key_id: String,
    pub key_arn: String,
}

/// `AliasListEntry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasListEntry {
    pub alias_name: String,
    pub alias_arn: String,
    /// Absent for an AWS managed alias whose key does not exist yet.
    pub target_key_id: Option<String>,
    pub creation_date: Option<Millis>,
    pub last_updated_date: Option<Millis>,
}

/// A page of a list operation: `Truncated` and `NextMarker`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// ScheduleKeyDeletion's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledDeletion {
    pub key_arn: String,
    pub deletion_date: Millis,
    pub key_state: KeyState,
    pub pending_window_in_days: i32,
}

/// GetKeyRotationStatus's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationStatus {
    pub key_rotation_enabled: bool,
    pub key_arn: String,
    pub rotation_period_in_days: Option<i32>,
    pub next_rotation_date: Option<Millis>,
}

/// What CreateKey accepts (Coffer keys are symmetric, `AWS_KMS` origin, single-region).
#[derive(Clone, Debug, Default)]
pub struct CreateKeyInput {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub origin: Option<String>,
    pub bypass_policy_lockout_safety_check: bool,
    pub tags: Vec<(String, String)>,
    pub multi_region: bool,
}

/// Encrypt / GenerateDataKey answers: the key ARN and the ciphertext blob (and for
/// GenerateDataKey the plaintext data key, wiped on drop).
pub struct Encrypted {
    pub key_arn: String,
    pub ciphertext_blob: Vec<u8>,
    pub plaintext: Option<zeroize::Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encrypted")
            .field("key_arn", &self.key_arn)
            .finish_non_exhaustive()
    }
}

/// Decrypt's answer; the plaintext is wiped on drop.
pub struct Decrypted {
    pub key_arn: String,
    pub plaintext: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("key_arn", &self.key_arn)
            .finish_non_exhaustive()
    }
}

/// ReEncrypt's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReEncrypted {
    pub ciphertext_blob: Vec<u8>,
    pub source_key_arn: String,
    pub key_arn: String,
}
