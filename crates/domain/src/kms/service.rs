//! The KMS operations (companion spec §6.3), and the two Secrets Manager uses of KMS: sealing
//! a new secret version and opening a stored one, on the caller's behalf.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_auth::policy::{Policy, PolicyKind};
use coffer_crypto::{EncryptionContext, KmsKeyMaterial, SecretPlaintext};
use coffer_store::{KmsAliasRecord, KmsKeyRecord, KmsMaterialRecord, Store, StoreError};
use zeroize::Zeroizing;

use super::{KmsError, KmsResult, KmsService, LoadedKey, with_encryption_context};
use crate::authz::Resource;
use crate::clock::DAY;
use crate::kms::model::*;
use crate::secrets::{Actor, Caller};

/// The AWS managed key Secrets Manager uses when a secret names none.
pub const SECRETS_MANAGER_ALIAS: &str = "alias/aws/secretsmanager";
const SECRETS_MANAGER_KEY_DESCRIPTION: &str =
    "Default key that protects my Secrets Manager data when no other key is defined";
/// AWS managed aliases listed even before their key exists (companion §6.3 ListAliases).
const AWS_MANAGED_ALIASES: &[&str] = &[SECRETS_MANAGER_ALIAS];

const KEY_POLICY_MAX_BYTES: usize = 32_768;
const MAX_TAGS: usize = 50;
const DEFAULT_ROTATION_PERIOD_DAYS: i32 = 365;
const DEFAULT_PENDING_WINDOW_DAYS: i32 = 30;
const MAX_ON_DEMAND_ROTATIONS: usize = 10;
const WRITE_ATTEMPTS: usize = 32;
const LIST_KEYS_DEFAULT: i32 = 100;
const LIST_ALIASES_DEFAULT: i32 = 50;
const LIST_TAGS_DEFAULT: i32 = 50;

fn lockout_message() -> KmsError {
    KmsError::MalformedPolicyDocument(
        "The new key policy will not allow you to update the key policy in the future.".into(),
    )
}

/// A well-formed KMS key id: a lower-case UUID.
fn is_key_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

/// What maintenance did to one key.
enum Maintained {
    Nothing,
    Rotated,
    Deleted,
}

/// What a `KeyId` parameter names.
enum KeyRef {
    Id(String),
    Alias(String),
}

impl<S: Store> KmsService<S> {
    // ----- resolution ---------------------------------------------------------------------

    /// Reads a `KeyId` parameter: key id, key ARN, and (where `aliases` allows) alias name or
    /// alias ARN. Returns the account, region and reference.
    fn parse_key_ref(
        &self,
        caller: &Caller,
        given: &str,
        aliases: bool,
    ) -> KmsResult<(String, String, KeyRef)> {
        let invalid = || KmsError::NotFound(format!("Invalid keyId '{given}'"));
        if let Some(rest) = given.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [partition, service, region, account, resource] = parts[..] else {
                return Err(KmsError::NotFound(format!("Invalid arn {given}")));
            };
            if partition != self.partition || service != "kms" || account.len() != 12 {
                return Err(KmsError::NotFound(format!("Invalid arn {given}")));
            }
            if region != caller.region {
                return Err(KmsError::NotFound(format!("Invalid arn {region}")));
            }
            if let Some(id) = resource.strip_prefix("key/")
                && is_key_id(id)
            {
                return Ok((account.into(), region.into(), KeyRef::Id(id.into())));
            }
            if aliases && resource.starts_with("alias/") {
                return Ok((
                    account.into(),
                    region.into(),
                    KeyRef::Alias(resource.into()),
                ));
            }
            return Err(invalid());
        }
        if given.starts_with("alias/") {
            return if aliases {
                Ok((
                    caller.account_id.clone(),
                    caller.region.clone(),
                    KeyRef::Alias(given.into()),
                ))
            } else {
                Err(invalid())
            };
        }
        if is_key_id(given) {
            return Ok((
                caller.account_id.clone(),
                caller.region.clone(),
                KeyRef::Id(given.into()),
            ));
        }
        Err(invalid())
    }

    /// The key a `KeyId` parameter names, or AWS's not-found error.
    async fn resolve(
        &self,
        caller: &Caller,
        given: &str,
        aliases: bool,
    ) -> KmsResult<Arc<LoadedKey>> {
        let (account, region, reference) = self.parse_key_ref(caller, given, aliases)?;
        let key_id = match reference {
            KeyRef::Id(id) => id,
            KeyRef::Alias(name) => match self.store.kms_alias(&account, &region, &name).await? {
                Some(alias) => alias.target_key_id,
                None => {
                    return Err(KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        self.alias_arn(&account, &region, &name)
                    )));
                }
            },
        };
        self.load_key(&account, &region, &key_id)
            .await?
            .ok_or_else(|| {
                KmsError::NotFound(format!(
                    "Key '{}' does not exist",
                    self.key_arn(&account, &region, &key_id)
                ))
            })
    }

    /// Cryptographic operations need an enabled key.
    fn check_usable(key: &LoadedKey) -> KmsResult<()> {
        match key.doc.state {
            KeyState::Enabled => Ok(()),
            KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", key.arn))),
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                key.arn
            ))),
        }
    }

    fn metadata(&self, key: &LoadedKey) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: key.record.account_id.clone(),
            key_id: key.record.key_id.clone(),
            arn: key.arn.clone(),
            creation_date: key.record.created_at,
            enabled: key.doc.state == KeyState::Enabled,
            description: key.doc.description.clone(),
            key_usage: "ENCRYPT_DECRYPT",
            key_state: key.doc.state,
            deletion_date: key.doc.deletion_date,
            pending_deletion_window_in_days: key.doc.pending_window_days,
            origin: "AWS_KMS",
            key_manager: key.doc.key_manager,
            key_spec: "SYMMETRIC_DEFAULT",
            encryption_algorithms: vec!["SYMMETRIC_DEFAULT"],
            multi_region: false,
        }
    }

    // ----- writes -------------------------------------------------------------------------

    /// Read-modify-write of a key's document, retried on conflict. `change` returns whether
    /// anything changed and, for a rotation, new material.
    async fn modify_key(
        &self,
        key: &LoadedKey,
        mut change: impl FnMut(&mut KeyDoc) -> KmsResult<(bool, Option<KmsKeyMaterial>)>,
    ) -> KmsResult<LoadedKey> {
        let (account, region, key_id) = (
            &key.record.account_id,
            &key.record.region,
            &key.record.key_id,
        );
        for _ in 0..WRITE_ATTEMPTS {
            let Some(record) = self.store.kms_key(account, region, key_id).await? else {
                return Err(KmsError::NotFound(format!(
                    "Key '{}' does not exist",
                    key.arn
                )));
            };
            let mut doc: KeyDoc = serde_json::from_str(&record.document).map_err(|e| {
                KmsError::internal(format!("a stored KMS key does not decode: {e}"))
            })?;
            let (changed, material) = change(&mut doc)?;
            if !changed {
                return Ok(LoadedKey {
                    record,
                    doc,
                    arn: key.arn.clone(),
                });
            }
            let sealed = match &material {
                Some(material) => Some(KmsMaterialRecord {
                    account_id: account.clone(),
                    region: region.clone(),
                    key_id: key_id.clone(),
                    material_id: material.id().to_owned(),
                    sealed_material: self.keyring.seal_kms_material(key_id, material)?,
                    created_at: self.now(),
                }),
                None => None,
            };
            let next = KmsKeyRecord {
                document: serde_json::to_string(&doc).expect("key documents serialise"),
                revision: record.revision + 1,
                ..record.clone()
            };
            match self
                .store
                .update_kms_key(next.clone(), record.revision, sealed)
                .await
            {
                Ok(()) => {
                    self.changed();
                    return Ok(LoadedKey {
                        record: next,
                        doc,
                        arn: key.arn.clone(),
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => {
                    return Err(KmsError::NotFound(format!(
                        "Key '{}' does not exist",
                        key.arn
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(KmsError::internal("the key kept changing concurrently"))
    }

    fn default_key_policy(&self, account: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:{}:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#,
            self.partition
        )
    }

    fn secrets_manager_key_policy(&self, account: &str, region: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Id":"auto-secretsmanager-1","Statement":[{{"Sid":"Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],"Resource":"*","Condition":{{"StringEquals":{{"kms:ViaService":"secretsmanager.{region}.amazonaws.com","kms:CallerAccount":"{account}"}}}}}},{{"Sid":"Allow direct access to key metadata to the account","Effect":"Allow","Principal":{{"AWS":"arn:{}:iam::{account}:root"}},"Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}}]}}"#,
            self.partition
        )
    }

    /// Validates a key policy; with the lock-out check, the new policy must still let the
    /// caller call PutKeyPolicy.
    async fn check_key_policy(
        &self,
        caller: &Caller,
        key_arn: &str,
        account: &str,
        policy: &str,
        bypass_lockout_check: bool,
    ) -> KmsResult<()> {
        if policy.len() > KEY_POLICY_MAX_BYTES {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to {KEY_POLICY_MAX_BYTES}"
            )));
        }
        Policy::parse(policy, PolicyKind::Resource)
            .map_err(|e| KmsError::MalformedPolicyDocument(e.message))?;
        if bypass_lockout_check || !matches!(caller.actor, Actor::Principal { .. }) {
            return Ok(());
        }
        let probe = LoadedKey {
            record: KmsKeyRecord {
                account_id: account.to_owned(),
                region: caller.region.clone(),
                key_id: String::new(),
                document: String::new(),
                created_at: 0,
                revision: 0,
            },
            doc: KeyDoc {
                description: String::new(),
                key_manager: KeyManager::Customer,
                state: KeyState::Enabled,
                deletion_date: None,
                pending_window_days: None,
                policy: policy.to_owned(),
                tags: Vec::new(),
                rotation_enabled: false,
                rotation_period_days: None,
                next_rotation_date: None,
                current_material: String::new(),
                rotations: Vec::new(),
            },
            arn: key_arn.to_owned(),
        };
        // A cache key of its own: the proposed policy must not replace the key's compiled one.
        let cache_key = format!("{key_arn}#proposed");
        let resource = Resource {
            arn: &probe.arn,
            named_as: Some(&probe.arn),
            account,
            policy: Some((&cache_key, policy)),
            policy_is_authoritative: true,
        };
        let context = self.key_context(caller, "kms:PutKeyPolicy", &probe);
        match self.authorize(caller, &resource, context).await {
            Ok(()) => Ok(()),
            Err(KmsError::AccessDenied(_)) => Err(lockout_message()),
            Err(e) => Err(e),
        }
    }

    fn check_tags(existing: &[(String, String)], new: &[(String, String)]) -> KmsResult<()> {
        for (i, (key, _)) in new.iter().enumerate() {
            if new[..i].iter().any(|(k, _)| k == key) {
                return Err(KmsError::Tag("Duplicate tag keys".into()));
            }
            if key.starts_with("aws:") {
                return Err(KmsError::Tag(
                    "Tags beginning with aws: are reserved".into(),
                ));
            }
        }
        let total = existing.len()
            + new
                .iter()
                .filter(|(k, _)| !existing.iter().any(|(e, _)| e == k))
                .count();
        if total > MAX_TAGS {
            return Err(KmsError::Tag("Too many tags".into()));
        }
        Ok(())
    }

    // ----- key management -----------------------------------------------------------------

    pub async fn create_key(
        &self,
        caller: &Caller,
        input: CreateKeyInput,
    ) -> KmsResult<KeyMetadata> {
        self.authorize_account(caller, "kms:CreateKey").await?;
        let spec = input
            .key_spec
            .as_deref()
            .or(input.customer_master_key_spec.as_deref())
            .unwrap_or("SYMMETRIC_DEFAULT");
        let usage = input.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT");
        if spec != "SYMMETRIC_DEFAULT" && input.key_usage.is_none() {
            return Err(KmsError::Validation(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
                    .into(),
            ));
        }
        if spec != "SYMMETRIC_DEFAULT" || usage != "ENCRYPT_DECRYPT" {
            return Err(KmsError::UnsupportedOperation(format!(
                "{spec} keys with key usage {usage} are not supported by this Coffer server; it offers SYMMETRIC_DEFAULT keys for ENCRYPT_DECRYPT."
            )));
        }
        if let Some(origin) = input.origin.as_deref()
            && origin != "AWS_KMS"
        {
            return Err(KmsError::UnsupportedOperation(format!(
                "Origin {origin} is not supported by this Coffer server; it offers AWS_KMS."
            )));
        }
        if input.multi_region {
            return Err(KmsError::UnsupportedOperation(
                "Multi-Region keys are not supported by this Coffer server.".into(),
            ));
        }
        Self::check_tags(&[], &input.tags)?;
        let key_id = uuid::Uuid::new_v4().to_string();
        let account = caller.account_id.clone();
        let arn = self.key_arn(&account, &caller.region, &key_id);
        let policy = match input.policy {
            Some(policy) => {
                self.check_key_policy(
                    caller,
                    &arn,
                    &account,
                    &policy,
                    input.bypass_policy_lockout_safety_check,
                )
                .await?;
                policy
            }
            None => self.default_key_policy(&account),
        };
        let material = KmsKeyMaterial::generate()?;
        let doc = KeyDoc {
            description: input.description.unwrap_or_default(),
            key_manager: KeyManager::Customer,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            policy,
            tags: input.tags,
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation_date: None,
            current_material: material.id().to_owned(),
            rotations: Vec::new(),
        };
        let key = self
            .insert_key(caller, &key_id, doc, &material, None)
            .await?
            .ok_or_else(|| KmsError::internal("a key without an alias was not created"))?;
        Ok(self.metadata(&key))
    }

    async fn insert_key(
        &self,
        caller: &Caller,
        key_id: &str,
        doc: KeyDoc,
        material: &KmsKeyMaterial,
        alias: Option<&str>,
    ) -> KmsResult<Option<LoadedKey>> {
        let now = self.now();
        let (account, region) = (caller.account_id.clone(), caller.region.clone());
        let record = KmsKeyRecord {
            account_id: account.clone(),
            region: region.clone(),
            key_id: key_id.to_owned(),
            document: serde_json::to_string(&doc).expect("key documents serialise"),
            created_at: now,
            revision: 1,
        };
        let sealed = KmsMaterialRecord {
            account_id: account.clone(),
            region: region.clone(),
            key_id: key_id.to_owned(),
            material_id: material.id().to_owned(),
            sealed_material: self.keyring.seal_kms_material(key_id, material)?,
            created_at: now,
        };
        let alias = alias.map(|name| KmsAliasRecord {
            account_id: account.clone(),
            region: region.clone(),
            alias_name: name.to_owned(),
            target_key_id: key_id.to_owned(),
            created_at: now,
            updated_at: now,
        });
        if !self
            .store
            .create_kms_key(record.clone(), sealed, alias)
            .await?
        {
            return Ok(None);
        }
        self.changed();
        Ok(Some(LoadedKey {
            arn: self.key_arn(&account, &region, key_id),
            record,
            doc,
        }))
    }

    pub async fn describe_key(&self, caller: &Caller, key_id: &str) -> KmsResult<KeyMetadata> {
        // As AWS: describing an AWS managed key's alias creates the key if it does not exist.
        let managed_alias_arn =
            self.alias_arn(&caller.account_id, &caller.region, SECRETS_MANAGER_ALIAS);
        let key = if key_id == SECRETS_MANAGER_ALIAS || key_id == managed_alias_arn {
            self.secrets_manager_key(caller).await?
        } else {
            self.resolve(caller, key_id, true).await?
        };
        self.authorize_key(caller, "kms:DescribeKey", &key).await?;
        Ok(self.metadata(&key))
    }

    pub async fn list_keys(
        &self,
        caller: &Caller,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<Listing<KeyListEntry>> {
        self.authorize_account(caller, "kms:ListKeys").await?;
        if let Some(marker) = marker
            && !is_key_id(marker)
        {
            return Err(KmsError::InvalidMarker("Invalid marker".into()));
        }
        let limit = limit.unwrap_or(LIST_KEYS_DEFAULT).max(1) as usize;
        let mut keys = self
            .store
            .kms_keys(&caller.account_id, &caller.region, marker, limit + 1)
            .await?;
        let next_marker = (keys.len() > limit).then(|| {
            keys.truncate(limit);
            keys[limit - 1].key_id.clone()
        });
        Ok(Listing {
            items: keys
                .into_iter()
                .map(|k| KeyListEntry {
                    key_arn: self.key_arn(&k.account_id, &k.region, &k.key_id),
                    key_id: k.key_id,
                })
                .collect(),
            next_marker,
        })
    }

    pub async fn enable_key(&self, caller: &Caller, key_id: &str) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:EnableKey", &key).await?;
        let arn = key.arn.clone();
        self.modify_key(&key, |doc| match doc.state {
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{arn} is pending deletion."
            ))),
            KeyState::Enabled => Ok((false, None)),
            KeyState::Disabled => {
                doc.state = KeyState::Enabled;
                Ok((true, None))
            }
        })
        .await?;
        Ok(())
    }

    pub async fn disable_key(&self, caller: &Caller, key_id: &str) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:DisableKey", &key).await?;
        let arn = key.arn.clone();
        self.modify_key(&key, |doc| match doc.state {
            KeyState::PendingDeletion => Err(KmsError::InvalidState(format!(
                "{arn} is pending deletion."
            ))),
            KeyState::Disabled => Ok((false, None)),
            KeyState::Enabled => {
                doc.state = KeyState::Disabled;
                Ok((true, None))
            }
        })
        .await?;
        Ok(())
    }

    pub async fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key_id: &str,
        pending_window_in_days: Option<i32>,
    ) -> KmsResult<ScheduledDeletion> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:ScheduleKeyDeletion", &key)
            .await?;
        let days = pending_window_in_days.unwrap_or(DEFAULT_PENDING_WINDOW_DAYS);
        if !(7..=30).contains(&days) {
            return Err(KmsError::Validation(format!(
                "PendingWindowInDays should be between 7 and 30, but it is {days}"
            )));
        }
        if key.doc.key_manager == KeyManager::Aws {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is an AWS managed key and cannot be deleted.",
                key.arn
            )));
        }
        let arn = key.arn.clone();
        let deletion_date = self.now() + i64::from(days) * DAY;
        let updated = self
            .modify_key(&key, |doc| {
                if doc.state == KeyState::PendingDeletion {
                    return Err(KmsError::InvalidState(format!(
                        "{arn} is pending deletion."
                    )));
                }
                doc.state = KeyState::PendingDeletion;
                doc.deletion_date = Some(deletion_date);
                doc.pending_window_days = Some(days);
                Ok((true, None))
            })
            .await?;
        Ok(ScheduledDeletion {
            key_arn: updated.arn,
            deletion_date,
            key_state: KeyState::PendingDeletion,
            pending_window_in_days: days,
        })
    }

    pub async fn cancel_key_deletion(&self, caller: &Caller, key_id: &str) -> KmsResult<String> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:CancelKeyDeletion", &key)
            .await?;
        let arn = key.arn.clone();
        self.modify_key(&key, |doc| {
            if doc.state != KeyState::PendingDeletion {
                return Err(KmsError::InvalidState(format!(
                    "{arn} is not pending deletion."
                )));
            }
            // As AWS: a key whose deletion is cancelled comes back disabled.
            doc.state = KeyState::Disabled;
            doc.deletion_date = None;
            doc.pending_window_days = None;
            Ok((true, None))
        })
        .await?;
        Ok(key.arn.clone())
    }

    // ----- rotation -----------------------------------------------------------------------

    pub async fn enable_key_rotation(
        &self,
        caller: &Caller,
        key_id: &str,
        rotation_period_in_days: Option<i32>,
    ) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:EnableKeyRotation", &key)
            .await?;
        Self::check_usable(&key)?;
        let period = rotation_period_in_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
        if !(90..=2560).contains(&period) {
            return Err(KmsError::Validation(format!(
                "1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560"
            )));
        }
        let next = self.now() + i64::from(period) * DAY;
        self.modify_key(&key, |doc| {
            doc.rotation_enabled = true;
            doc.rotation_period_days = Some(period);
            doc.next_rotation_date = Some(next);
            Ok((true, None))
        })
        .await?;
        Ok(())
    }

    pub async fn disable_key_rotation(&self, caller: &Caller, key_id: &str) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:DisableKeyRotation", &key)
            .await?;
        Self::check_usable(&key)?;
        self.modify_key(&key, |doc| {
            let changed = doc.rotation_enabled;
            doc.rotation_enabled = false;
            doc.rotation_period_days = None;
            doc.next_rotation_date = None;
            Ok((changed, None))
        })
        .await?;
        Ok(())
    }

    pub async fn get_key_rotation_status(
        &self,
        caller: &Caller,
        key_id: &str,
    ) -> KmsResult<RotationStatus> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:GetKeyRotationStatus", &key)
            .await?;
        Ok(RotationStatus {
            // AWS reports rotation off while a key is pending deletion; it resumes on cancel.
            key_rotation_enabled: key.doc.rotation_enabled
                && key.doc.state != KeyState::PendingDeletion,
            key_arn: key.arn.clone(),
            rotation_period_in_days: key.doc.rotation_period_days,
            next_rotation_date: key.doc.next_rotation_date,
        })
    }

    /// RotateKeyOnDemand: new material at once; ciphertexts made before still decrypt.
    pub async fn rotate_key_on_demand(&self, caller: &Caller, key_id: &str) -> KmsResult<String> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:RotateKeyOnDemand", &key)
            .await?;
        Self::check_usable(&key)?;
        if key.doc.key_manager == KeyManager::Aws {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is an AWS managed key; AWS rotates it.",
                key.arn
            )));
        }
        let now = self.now();
        let arn = key.arn.clone();
        self.modify_key(&key, |doc| {
            let on_demand = doc
                .rotations
                .iter()
                .filter(|(_, t)| *t == RotationType::OnDemand)
                .count();
            if on_demand >= MAX_ON_DEMAND_ROTATIONS {
                return Err(KmsError::LimitExceeded(format!(
                    "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {arn}"
                )));
            }
            let material = KmsKeyMaterial::generate()?;
            doc.current_material = material.id().to_owned();
            doc.rotations.push((now, RotationType::OnDemand));
            Ok((true, Some(material)))
        })
        .await?;
        Ok(key.arn.clone())
    }

    /// Background work for one account and region: rotates keys whose automatic rotation is
    /// due and deletes keys whose deletion date has passed. Returns (rotated, deleted).
    pub async fn maintain(&self, account: &str, region: &str) -> KmsResult<(usize, usize)> {
        let now = self.now();
        let (mut rotated, mut deleted) = (0, 0);
        let mut after: Option<String> = None;
        loop {
            let batch = self
                .store
                .kms_keys(account, region, after.as_deref(), 500)
                .await?;
            let done = batch.len() < 500;
            after = batch.last().map(|k| k.key_id.clone());
            for record in batch {
                let Ok(doc) = serde_json::from_str::<KeyDoc>(&record.document) else {
                    continue;
                };
                let key = LoadedKey {
                    arn: self.key_arn(account, region, &record.key_id),
                    record,
                    doc,
                };
                // One key's failure must not hold up the others: it is logged and retried
                // on the next round.
                match self.maintain_key(&key, now).await {
                    Ok(Maintained::Deleted) => deleted += 1,
                    Ok(Maintained::Rotated) => rotated += 1,
                    Ok(Maintained::Nothing) => {}
                    Err(error) => tracing::warn!(
                        key = %key.arn,
                        %error,
                        "KMS key maintenance failed; retrying next round"
                    ),
                }
            }
            if done {
                return Ok((rotated, deleted));
            }
        }
    }

    async fn maintain_key(&self, key: &LoadedKey, now: i64) -> KmsResult<Maintained> {
        let r = &key.record;
        if key.doc.state == KeyState::PendingDeletion
            && key.doc.deletion_date.is_some_and(|d| d <= now)
        {
            let deleted = self
                .store
                .delete_kms_key(&r.account_id, &r.region, &r.key_id, r.revision)
                .await?;
            if deleted {
                self.changed();
                return Ok(Maintained::Deleted);
            }
            return Ok(Maintained::Nothing);
        }
        if key.doc.state != KeyState::Enabled
            || !key.doc.rotation_enabled
            || key.doc.next_rotation_date.is_none_or(|d| d > now)
        {
            return Ok(Maintained::Nothing);
        }
        let mut rotated = false;
        self.modify_key(key, |doc| {
            // Another node may have rotated it since it was listed.
            rotated = doc.rotation_enabled && doc.next_rotation_date.is_some_and(|d| d <= now);
            if !rotated {
                return Ok((false, None));
            }
            let material = KmsKeyMaterial::generate()?;
            doc.current_material = material.id().to_owned();
            doc.rotations.push((now, RotationType::Automatic));
            let period = doc
                .rotation_period_days
                .unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
            doc.next_rotation_date = Some(now + i64::from(period) * DAY);
            Ok((true, Some(material)))
        })
        .await?;
        Ok(if rotated {
            Maintained::Rotated
        } else {
            Maintained::Nothing
        })
    }

    // ----- aliases ------------------------------------------------------------------------

    /// Alias operations need permission on the alias (identity policies) as well as on the
    /// key (its key policy), as in AWS.
    async fn authorize_alias(
        &self,
        caller: &Caller,
        action: &str,
        alias_name: &str,
    ) -> KmsResult<()> {
        let arn = self.alias_arn(&caller.account_id, &caller.region, alias_name);
        let resource = Resource {
            arn: &arn,
            named_as: Some(&arn),
            account: &caller.account_id,
            policy: None,
            policy_is_authoritative: false,
        };
        let context = self.base_context(caller, action, &arn);
        self.authorize(caller, &resource, context).await
    }

    fn check_alias_name(name: &str) -> KmsResult<()> {
        if !name.starts_with("alias/") {
            return Err(KmsError::Validation(
                "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
            ));
        }
        if name.starts_with("alias/aws/") {
            return Err(KmsError::NotAuthorized);
        }
        Ok(())
    }

    pub async fn create_alias(
        &self,
        caller: &Caller,
        alias_name: &str,
        target_key_id: &str,
    ) -> KmsResult<()> {
        Self::check_alias_name(alias_name)?;
        let key = self.resolve(caller, target_key_id, false).await?;
        self.authorize_alias(caller, "kms:CreateAlias", alias_name)
            .await?;
        self.authorize_key(caller, "kms:CreateAlias", &key).await?;
        if key.doc.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                key.arn
            )));
        }
        let now = self.now();
        let created = self
            .store
            .create_kms_alias(KmsAliasRecord {
                account_id: caller.account_id.clone(),
                region: caller.region.clone(),
                alias_name: alias_name.to_owned(),
                target_key_id: key.record.key_id.clone(),
                created_at: now,
                updated_at: now,
            })
            .await?;
        if !created {
            return Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                self.alias_arn(&caller.account_id, &caller.region, alias_name)
            )));
        }
        self.changed();
        Ok(())
    }

    pub async fn update_alias(
        &self,
        caller: &Caller,
        alias_name: &str,
        target_key_id: &str,
    ) -> KmsResult<()> {
        Self::check_alias_name(alias_name)?;
        let key = self.resolve(caller, target_key_id, false).await?;
        self.authorize_alias(caller, "kms:UpdateAlias", alias_name)
            .await?;
        self.authorize_key(caller, "kms:UpdateAlias", &key).await?;
        if key.doc.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!(
                "{} is pending deletion.",
                key.arn
            )));
        }
        let updated = self
            .store
            .update_kms_alias(
                &caller.account_id,
                &caller.region,
                alias_name,
                &key.record.key_id,
                self.now(),
            )
            .await?;
        if !updated {
            return Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                self.alias_arn(&caller.account_id, &caller.region, alias_name)
            )));
        }
        self.changed();
        Ok(())
    }

    pub async fn delete_alias(&self, caller: &Caller, alias_name: &str) -> KmsResult<()> {
        Self::check_alias_name(alias_name)?;
        let alias_arn = self.alias_arn(&caller.account_id, &caller.region, alias_name);
        self.authorize_alias(caller, "kms:DeleteAlias", alias_name)
            .await?;
        let Some(alias) = self
            .store
            .kms_alias(&caller.account_id, &caller.region, alias_name)
            .await?
        else {
            return Err(KmsError::NotFound(format!(
                "Alias {alias_arn} is not found."
            )));
        };
        if let Some(key) = self
            .load_key(&caller.account_id, &caller.region, &alias.target_key_id)
            .await?
        {
            self.authorize_key(caller, "kms:DeleteAlias", &key).await?;
        }
        if !self
            .store
            .delete_kms_alias(&caller.account_id, &caller.region, alias_name)
            .await?
        {
            return Err(KmsError::NotFound(format!(
                "Alias {alias_arn} is not found."
            )));
        }
        self.changed();
        Ok(())
    }

    pub async fn list_aliases(
        &self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<Listing<AliasListEntry>> {
        let (account, region) = (caller.account_id.as_str(), caller.region.as_str());
        let filter = match key_id {
            Some(given) => {
                let key = self.resolve(caller, given, false).await?;
                self.authorize_key(caller, "kms:ListAliases", &key).await?;
                Some(key.record.key_id.clone())
            }
            None => {
                self.authorize_account(caller, "kms:ListAliases").await?;
                None
            }
        };
        if let Some(marker) = marker
            && !marker.starts_with("alias/")
        {
            return Err(KmsError::InvalidMarker("Invalid marker".into()));
        }
        let limit = limit.unwrap_or(LIST_ALIASES_DEFAULT).max(1) as usize;
        // Stored aliases and the AWS managed ones that have no key yet, in name order.
        let mut entries: Vec<AliasListEntry> = Vec::new();
        let mut after = marker.map(str::to_owned);
        loop {
            let batch = self
                .store
                .kms_aliases(account, region, after.as_deref(), 500)
                .await?;
            let done = batch.len() < 500;
            after = batch.last().map(|a| a.alias_name.clone());
            entries.extend(
                batch
                    .into_iter()
                    .filter(|a| filter.as_deref().is_none_or(|k| a.target_key_id == k))
                    .map(|a| AliasListEntry {
                        alias_arn: self.alias_arn(account, region, &a.alias_name),
                        alias_name: a.alias_name,
                        target_key_id: Some(a.target_key_id),
                        creation_date: Some(a.created_at),
                        last_updated_date: Some(a.updated_at),
                    }),
            );
            if done || entries.len() > limit {
                break;
            }
        }
        if filter.is_none() {
            for name in AWS_MANAGED_ALIASES {
                if marker.is_none_or(|m| *name > m)
                    && !entries.iter().any(|e| e.alias_name == *name)
                    && self.store.kms_alias(account, region, name).await?.is_none()
                {
                    entries.push(AliasListEntry {
                        alias_name: (*name).to_owned(),
                        alias_arn: self.alias_arn(account, region, name),
                        target_key_id: None,
                        creation_date: None,
                        last_updated_date: None,
                    });
                }
            }
            entries.sort_by(|a, b| a.alias_name.cmp(&b.alias_name));
        }
        let next_marker = (entries.len() > limit).then(|| {
            entries.truncate(limit);
            entries[limit - 1].alias_name.clone()
        });
        Ok(Listing {
            items: entries,
            next_marker,
        })
    }

    // ----- tags and policies --------------------------------------------------------------

    pub async fn tag_resource(
        &self,
        caller: &Caller,
        key_id: &str,
        tags: Vec<(String, String)>,
    ) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        let context = self
            .key_context(caller, "kms:TagResource", &key)
            .with_request_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .with_strings("aws:TagKeys", tags.iter().map(|(k, _)| k.as_str()));
        self.authorize_key_with(caller, &key, context).await?;
        self.modify_key(&key, |doc| {
            Self::check_tags(&doc.tags, &tags)?;
            for (k, v) in &tags {
                match doc.tags.iter_mut().find(|(e, _)| e == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => doc.tags.push((k.clone(), v.clone())),
                }
            }
            Ok((true, None))
        })
        .await?;
        Ok(())
    }

    pub async fn untag_resource(
        &self,
        caller: &Caller,
        key_id: &str,
        tag_keys: Vec<String>,
    ) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        let context = self
            .key_context(caller, "kms:UntagResource", &key)
            .with_strings("aws:TagKeys", tag_keys.iter().map(String::as_str));
        self.authorize_key_with(caller, &key, context).await?;
        self.modify_key(&key, |doc| {
            let before = doc.tags.len();
            doc.tags.retain(|(k, _)| !tag_keys.contains(k));
            Ok((doc.tags.len() != before, None))
        })
        .await?;
        Ok(())
    }

    pub async fn list_resource_tags(
        &self,
        caller: &Caller,
        key_id: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> KmsResult<Listing<(String, String)>> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:ListResourceTags", &key)
            .await?;
        let mut tags = key.doc.tags.clone();
        tags.sort();
        let start = match marker {
            Some(m) => tags
                .iter()
                .position(|(k, _)| k.as_str() > m)
                .unwrap_or(tags.len()),
            None => 0,
        };
        let limit = limit.unwrap_or(LIST_TAGS_DEFAULT).max(1) as usize;
        let mut items: Vec<(String, String)> = tags[start..].to_vec();
        let next_marker = (items.len() > limit).then(|| {
            items.truncate(limit);
            items[limit - 1].0.clone()
        });
        Ok(Listing { items, next_marker })
    }

    pub async fn get_key_policy(
        &self,
        caller: &Caller,
        key_id: &str,
        policy_name: Option<&str>,
    ) -> KmsResult<String> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:GetKeyPolicy", &key).await?;
        if policy_name.is_some_and(|n| n != "default") {
            return Err(KmsError::NotFound("No such policy exists".into()));
        }
        Ok(key.doc.policy.clone())
    }

    pub async fn put_key_policy(
        &self,
        caller: &Caller,
        key_id: &str,
        policy_name: Option<&str>,
        policy: &str,
        bypass_lockout_check: bool,
    ) -> KmsResult<()> {
        let key = self.resolve(caller, key_id, false).await?;
        self.authorize_key(caller, "kms:PutKeyPolicy", &key).await?;
        if policy_name.is_some_and(|n| n != "default") {
            return Err(KmsError::NotFound("No such policy exists".into()));
        }
        if key.doc.key_manager == KeyManager::Aws {
            return Err(KmsError::UnsupportedOperation(format!(
                "The key policy of the AWS managed key {} cannot be changed.",
                key.arn
            )));
        }
        self.check_key_policy(
            caller,
            &key.arn,
            &key.record.account_id,
            policy,
            bypass_lockout_check,
        )
        .await?;
        self.modify_key(&key, |doc| {
            let changed = doc.policy != policy;
            doc.policy = policy.to_owned();
            Ok((changed, None))
        })
        .await?;
        Ok(())
    }

    // ----- cryptographic operations -------------------------------------------------------

    async fn encrypt_with(
        &self,
        key: &LoadedKey,
        context: &BTreeMap<String, String>,
        plaintext: &[u8],
    ) -> KmsResult<Vec<u8>> {
        let material = self.material(key, &key.doc.current_material).await?;
        Ok(coffer_crypto::kms_encrypt(
            &key.record.key_id,
            &material,
            context,
            plaintext,
        )?)
    }

    /// Finds the key a ciphertext names (in the caller's account and region, or where the
    /// `KeyId` given points) and the material version it was made with.
    async fn ciphertext_key(
        &self,
        caller: &Caller,
        blob: &[u8],
        key_id: Option<&str>,
    ) -> KmsResult<(Arc<LoadedKey>, String)> {
        let named = coffer_crypto::ciphertext_key(blob).map_err(|_| KmsError::InvalidCiphertext)?;
        let key = match key_id {
            Some(given) => {
                let key = self.resolve(caller, given, true).await?;
                if key.record.key_id != named.key_id {
                    return Err(KmsError::IncorrectKey);
                }
                key
            }
            None => self
                .load_key(&caller.account_id, &caller.region, &named.key_id)
                .await?
                .ok_or(KmsError::InvalidCiphertext)?,
        };
        Ok((key, named.material_id))
    }

    async fn open(
        &self,
        key: &LoadedKey,
        material_id: &str,
        blob: &[u8],
        context: &BTreeMap<String, String>,
    ) -> KmsResult<Zeroizing<Vec<u8>>> {
        let material = self.material(key, material_id).await?;
        coffer_crypto::kms_decrypt(blob, &material, context)
            .map_err(|_| KmsError::InvalidCiphertext)
    }

    pub async fn encrypt(
        &self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        context: &BTreeMap<String, String>,
        dry_run: bool,
    ) -> KmsResult<Encrypted> {
        let key = self.resolve(caller, key_id, true).await?;
        let request =
            with_encryption_context(self.key_context(caller, "kms:Encrypt", &key), context);
        self.authorize_key_with(caller, &key, request).await?;
        Self::check_usable(&key)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        Ok(Encrypted {
            key_arn: key.arn.clone(),
            ciphertext_blob: self.encrypt_with(&key, context, plaintext).await?,
            plaintext: None,
        })
    }

    pub async fn decrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        context: &BTreeMap<String, String>,
        key_id: Option<&str>,
        dry_run: bool,
    ) -> KmsResult<Decrypted> {
        let (key, material_id) = self.ciphertext_key(caller, blob, key_id).await?;
        let request =
            with_encryption_context(self.key_context(caller, "kms:Decrypt", &key), context);
        self.authorize_key_with(caller, &key, request).await?;
        Self::check_usable(&key)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        Ok(Decrypted {
            plaintext: self.open(&key, &material_id, blob, context).await?,
            key_arn: key.arn.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn re_encrypt(
        &self,
        caller: &Caller,
        blob: &[u8],
        source_context: &BTreeMap<String, String>,
        source_key_id: Option<&str>,
        destination_key_id: &str,
        destination_context: &BTreeMap<String, String>,
        dry_run: bool,
    ) -> KmsResult<ReEncrypted> {
        let (source, material_id) = self.ciphertext_key(caller, blob, source_key_id).await?;
        let request = with_encryption_context(
            self.key_context(caller, "kms:ReEncryptFrom", &source),
            source_context,
        );
        self.authorize_key_with(caller, &source, request).await?;
        let destination = self.resolve(caller, destination_key_id, true).await?;
        let request = with_encryption_context(
            self.key_context(caller, "kms:ReEncryptTo", &destination),
            destination_context,
        );
        self.authorize_key_with(caller, &destination, request)
            .await?;
        Self::check_usable(&source)?;
        Self::check_usable(&destination)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        let plaintext = self
            .open(&source, &material_id, blob, source_context)
            .await?;
        Ok(ReEncrypted {
            ciphertext_blob: self
                .encrypt_with(&destination, destination_context, &plaintext)
                .await?,
            source_key_arn: source.arn.clone(),
            key_arn: destination.arn.clone(),
        })
    }

    /// GenerateDataKey (`with_plaintext`) and GenerateDataKeyWithoutPlaintext.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        key_id: &str,
        key_spec: Option<&str>,
        number_of_bytes: Option<i32>,
        context: &BTreeMap<String, String>,
        dry_run: bool,
        with_plaintext: bool,
    ) -> KmsResult<Encrypted> {
        let len = match (key_spec, number_of_bytes) {
            (Some("AES_256"), None) => 32,
            (Some("AES_128"), None) => 16,
            (None, Some(n)) => usize::try_from(n).unwrap_or(0),
            (Some(spec), None) => {
                return Err(KmsError::Validation(format!(
                    "1 validation error detected: Value '{spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                )));
            }
            _ => {
                return Err(KmsError::Validation(
                    "Please specify either number of bytes or key spec.".into(),
                ));
            }
        };
        let key = self.resolve(caller, key_id, true).await?;
        let action = if with_plaintext {
            "kms:GenerateDataKey"
        } else {
            "kms:GenerateDataKeyWithoutPlaintext"
        };
        let request = with_encryption_context(self.key_context(caller, action, &key), context);
        self.authorize_key_with(caller, &key, request).await?;
        Self::check_usable(&key)?;
        if dry_run {
            return Err(KmsError::DryRun);
        }
        let data_key = coffer_crypto::generate_data_key(len)
            .map_err(|e| KmsError::Validation(e.to_string()))?;
        Ok(Encrypted {
            key_arn: key.arn.clone(),
            ciphertext_blob: self.encrypt_with(&key, context, &data_key).await?,
            plaintext: with_plaintext.then_some(data_key),
        })
    }

    pub async fn generate_random(
        &self,
        caller: &Caller,
        number_of_bytes: Option<i32>,
    ) -> KmsResult<Zeroizing<Vec<u8>>> {
        self.authorize_account(caller, "kms:GenerateRandom").await?;
        let Some(n) = number_of_bytes else {
            return Err(KmsError::Validation("NumberOfBytes is required.".into()));
        };
        coffer_crypto::random_bytes(usize::try_from(n).unwrap_or(0))
            .map_err(|e| KmsError::Validation(e.to_string()))
    }

    // ----- Secrets Manager's use of KMS ---------------------------------------------------

    /// The AWS managed key `aws/secretsmanager` of the caller's account and region, created
    /// on first use (one key even when several nodes race to create it).
    pub async fn secrets_manager_key(&self, caller: &Caller) -> KmsResult<Arc<LoadedKey>> {
        let (account, region) = (caller.account_id.as_str(), caller.region.as_str());
        for _ in 0..WRITE_ATTEMPTS {
            if let Some(alias) = self
                .store
                .kms_alias(account, region, SECRETS_MANAGER_ALIAS)
                .await?
                && let Some(key) = self.load_key(account, region, &alias.target_key_id).await?
            {
                return Ok(key);
            }
            let material = KmsKeyMaterial::generate()?;
            let doc = KeyDoc {
                description: SECRETS_MANAGER_KEY_DESCRIPTION.into(),
                key_manager: KeyManager::Aws,
                state: KeyState::Enabled,
                deletion_date: None,
                pending_window_days: None,
                policy: self.secrets_manager_key_policy(account, region),
                tags: Vec::new(),
                rotation_enabled: true,
                rotation_period_days: Some(DEFAULT_ROTATION_PERIOD_DAYS),
                next_rotation_date: Some(
                    self.now() + i64::from(DEFAULT_ROTATION_PERIOD_DAYS) * DAY,
                ),
                current_material: material.id().to_owned(),
                rotations: Vec::new(),
            };
            let key_id = uuid::Uuid::new_v4().to_string();
            if let Some(key) = self
                .insert_key(caller, &key_id, doc, &material, Some(SECRETS_MANAGER_ALIAS))
                .await?
            {
                return Ok(Arc::new(key));
            }
        }
        Err(KmsError::internal(
            "could not create or find the aws/secretsmanager key",
        ))
    }

    /// The key a secret's `KmsKeyId` names, or the AWS managed key when it names none.
    /// Returns the key and whether it is the AWS managed default.
    pub async fn secret_key(
        &self,
        caller: &Caller,
        kms_key_id: Option<&str>,
    ) -> KmsResult<Arc<LoadedKey>> {
        match kms_key_id.filter(|k| !k.is_empty()) {
            None => self.secrets_manager_key(caller).await,
            Some(SECRETS_MANAGER_ALIAS) => self.secrets_manager_key(caller).await,
            Some(given) => self.resolve(caller, given, true).await,
        }
    }

    /// Authorises Secrets Manager's use of `key` on the caller's behalf (`kms:ViaService`),
    /// the AWS managed key included: its policy lets the account's principals use it through
    /// Secrets Manager, but an explicit deny in their own policies still wins.
    async fn authorize_via_secrets_manager(
        &self,
        caller: &Caller,
        action: &'static str,
        key: &LoadedKey,
        context: &BTreeMap<String, String>,
    ) -> KmsResult<()> {
        let via = format!("secretsmanager.{}.amazonaws.com", caller.region);
        let request = with_encryption_context(
            self.key_context(caller, action, key)
                .with_string("kms:ViaService", via),
            context,
        );
        self.authorize_key_with(caller, key, request).await
    }

    /// Seals a new secret version's value under `key` with a fresh data key, as Secrets
    /// Manager does (GenerateDataKey on the caller's behalf, bound to the secret's ARN and
    /// version id).
    pub async fn seal_secret_value(
        &self,
        caller: &Caller,
        key: &LoadedKey,
        context: EncryptionContext<'_>,
        plaintext: &[u8],
    ) -> KmsResult<Vec<u8>> {
        let kms_context = context.kms_context();
        self.authorize_via_secrets_manager(caller, "kms:GenerateDataKey", key, &kms_context)
            .await?;
        Self::check_usable(key)?;
        let material = self.material(key, &key.doc.current_material).await?;
        Ok(coffer_crypto::seal_secret_value_with_kms(
            context,
            &key.record.key_id,
            &material,
            plaintext,
        )?)
    }

    /// Opens a secret version's value sealed by [`Self::seal_secret_value`]; values sealed
    /// before KMS keys existed (under the keyring alone) open as before.
    /// `key_arn` is the version's customer managed key, which may be another account's (a
    /// cross-account read); `None` for the caller's own `aws/secretsmanager`.
    pub async fn open_secret_value(
        &self,
        caller: &Caller,
        context: EncryptionContext<'_>,
        sealed: &[u8],
        key_arn: Option<&str>,
    ) -> KmsResult<SecretPlaintext> {
        let Some(blob) = coffer_crypto::sealed_data_key_blob(sealed)? else {
            return Ok(self.keyring.open_secret_value(context, sealed)?);
        };
        let (key, material_id) = self.ciphertext_key(caller, blob, key_arn).await?;
        let kms_context = context.kms_context();
        self.authorize_via_secrets_manager(caller, "kms:Decrypt", &key, &kms_context)
            .await?;
        Self::check_usable(&key)?;
        let material = self.material(&key, &material_id).await?;
        coffer_crypto::open_secret_value_with_kms(context, &material, sealed)
            .map_err(|_| KmsError::InvalidCiphertext)
    }
}
