//! The built-in KMS (companion spec §6): customer managed keys and the AWS managed key
//! `aws/secretsmanager`, aliases, key states, key policies, rotation, and the cryptographic
//! operations, on the store's KMS records.
//!
//! Key material never leaves `coffer_crypto` except as ciphertext: it is stored sealed under
//! the keyring (so a root-key rotation re-wraps the KEKs only) and opened into a small cache.
//! Freshness: a node drops its cached keys at once on its own KMS writes and, for other
//! nodes' writes, when the store's KMS generation moves (re-read at most once a second), so a
//! disabled key stops working everywhere within [`GENERATION_RECHECK_MS`].

mod error;
mod model;
mod service;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use coffer_auth::policy::RequestContext;
use coffer_crypto::{Keyring, KmsKeyMaterial};
use coffer_store::{KmsKeyRecord, Store};
use quick_cache::sync::Cache;

use crate::authz::{Authorizer, Resource, authorize_caller};
use crate::clock::{Clock, Millis};
use crate::secrets::{Actor, Caller};

pub use error::{KmsError, KmsResult};
pub use model::{
    AliasListEntry, CreateKeyInput, Decrypted, Encrypted, KeyDoc, KeyListEntry, KeyManager,
    KeyMetadata, KeyState, Listing, ReEncrypted, RotationStatus, RotationType, ScheduledDeletion,
};
pub use service::SECRETS_MANAGER_ALIAS;

/// How long a node trusts its cached keys before asking the store whether KMS changed.
pub const GENERATION_RECHECK_MS: Millis = 1_000;

/// A key as loaded: its record and decoded document.
#[derive(Clone, Debug)]
pub struct LoadedKey {
    pub record: KmsKeyRecord,
    pub doc: KeyDoc,
    pub arn: String,
}

pub struct KmsService<S: Store> {
    store: Arc<S>,
    keyring: Keyring,
    clock: Arc<dyn Clock>,
    partition: String,
    authorizer: Option<Arc<Authorizer>>,
    /// By key id (random UUIDs, unique across accounts); an entry is used only for the account
    /// and region it was loaded for. Keyed by borrowable strings so a hit allocates nothing.
    keys: Cache<String, Arc<LoadedKey>>,
    /// By material id (random 128-bit), with the key it belongs to checked on use.
    materials: Cache<String, (String, Arc<KmsKeyMaterial>)>,
    generation: AtomicI64,
    generation_checked_at: AtomicI64,
    /// Moves whenever the key cache is cleared: a load that started before a clear does not
    /// insert what it read (it may predate the write that caused the clear).
    epoch: AtomicU64,
}

impl<S: Store> KmsService<S> {
    pub fn new(store: Arc<S>, keyring: Keyring, clock: Arc<dyn Clock>, partition: &str) -> Self {
        KmsService {
            store,
            keyring,
            clock,
            partition: partition.to_owned(),
            authorizer: None,
            keys: Cache::new(10_000),
            materials: Cache::new(10_000),
            generation: AtomicI64::new(i64::MIN),
            generation_checked_at: AtomicI64::new(i64::MIN),
            epoch: AtomicU64::new(0),
        }
    }

    /// Authorises every [`Actor::Principal`] call with `authorizer` (key policies and IAM).
    pub fn with_authorizer(mut self, authorizer: Arc<Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    /// `arn:{partition}:kms:{region}:{account}:key/{id}`.
    pub fn key_arn(&self, account: &str, region: &str, key_id: &str) -> String {
        format!("arn:{}:kms:{region}:{account}:key/{key_id}", self.partition)
    }

    /// `arn:{partition}:kms:{region}:{account}:{alias/name}`.
    pub fn alias_arn(&self, account: &str, region: &str, alias_name: &str) -> String {
        format!("arn:{}:kms:{region}:{account}:{alias_name}", self.partition)
    }

    /// Forgets cached keys: after this node's own KMS writes.
    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.keys.clear();
        self.generation_checked_at
            .store(i64::MIN, Ordering::Release);
    }

    async fn check_generation(&self) -> KmsResult<()> {
        let now = self.now();
        let checked = self.generation_checked_at.load(Ordering::Acquire);
        if checked != i64::MIN && now.saturating_sub(checked) < GENERATION_RECHECK_MS {
            return Ok(());
        }
        let generation = self.store.kms_generation().await?;
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.keys.clear();
        }
        self.generation_checked_at.store(now, Ordering::Release);
        Ok(())
    }

    /// A key by id in an account and region, through the cache.
    async fn load_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> KmsResult<Option<Arc<LoadedKey>>> {
        self.check_generation().await?;
        if let Some(hit) = self.keys.get(key_id)
            && hit.record.account_id == account
            && hit.record.region == region
        {
            return Ok(Some(hit));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let Some(record) = self.store.kms_key(account, region, key_id).await? else {
            return Ok(None);
        };
        let doc: KeyDoc = serde_json::from_str(&record.document)
            .map_err(|e| KmsError::internal(format!("a stored KMS key does not decode: {e}")))?;
        let loaded = Arc::new(LoadedKey {
            arn: self.key_arn(account, region, key_id),
            record,
            doc,
        });
        if self.epoch.load(Ordering::Acquire) == epoch {
            self.keys.insert(key_id.to_owned(), Arc::clone(&loaded));
        }
        Ok(Some(loaded))
    }

    /// One material version of a key, opened, through the cache.
    async fn material(&self, key: &LoadedKey, material_id: &str) -> KmsResult<Arc<KmsKeyMaterial>> {
        let r = &key.record;
        if let Some((owner, hit)) = self.materials.get(material_id)
            && owner == key.arn
        {
            return Ok(hit);
        }
        let materials = self
            .store
            .kms_materials(&r.account_id, &r.region, &r.key_id)
            .await?;
        let Some(stored) = materials.iter().find(|m| m.material_id == material_id) else {
            return Err(KmsError::InvalidCiphertext);
        };
        let opened = Arc::new(self.keyring.open_kms_material(
            &r.key_id,
            material_id,
            &stored.sealed_material,
        )?);
        self.materials.insert(
            material_id.to_owned(),
            (key.arn.clone(), Arc::clone(&opened)),
        );
        Ok(opened)
    }

    /// The request context of `action` on `key`: the time, region, caller account and the
    /// key's own condition keys. Operations add their request keys before authorising.
    fn key_context<'k>(
        &self,
        caller: &'k Caller,
        action: &'k str,
        key: &'k LoadedKey,
    ) -> RequestContext<'k> {
        self.base_context(caller, action, &key.arn)
            .with_string("kms:KeySpec", "SYMMETRIC_DEFAULT")
            .with_string("kms:KeyUsage", "ENCRYPT_DECRYPT")
            .with_string("kms:KeyOrigin", "AWS_KMS")
            .with_resource_tags(key.doc.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn base_context<'k>(
        &self,
        caller: &'k Caller,
        action: &'k str,
        arn: &'k str,
    ) -> RequestContext<'k> {
        let now =
            jiff::Timestamp::from_millisecond(self.now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut context = RequestContext::new(action, arn, now)
            .with_string("aws:RequestedRegion", caller.region.as_str());
        if let Actor::Principal { principal, .. } = &caller.actor {
            context = context.with_string("kms:CallerAccount", principal.account_id.as_str());
        }
        context
    }

    /// Authorises `action` on `key` against the key policy (authoritative) and IAM.
    async fn authorize_key(&self, caller: &Caller, action: &str, key: &LoadedKey) -> KmsResult<()> {
        let context = self.key_context(caller, action, key);
        self.authorize_key_with(caller, key, context).await
    }

    /// [`Self::authorize_key`] with a context the operation extended.
    async fn authorize_key_with(
        &self,
        caller: &Caller,
        key: &LoadedKey,
        context: RequestContext<'_>,
    ) -> KmsResult<()> {
        let resource = Resource {
            arn: &key.arn,
            named_as: Some(&key.arn),
            account: &key.record.account_id,
            policy: Some((&key.arn, &key.doc.policy)),
            policy_is_authoritative: true,
        };
        self.authorize(caller, &resource, context).await
    }

    /// Authorises an action on no particular key (CreateKey, ListKeys, GenerateRandom, ...)
    /// with identity policies.
    async fn authorize_account(&self, caller: &Caller, action: &str) -> KmsResult<()> {
        let resource = Resource {
            arn: "*",
            named_as: None,
            account: &caller.account_id,
            policy: None,
            policy_is_authoritative: false,
        };
        let context = self.base_context(caller, action, "*");
        self.authorize(caller, &resource, context).await
    }

    async fn authorize(
        &self,
        caller: &Caller,
        resource: &Resource<'_>,
        context: RequestContext<'_>,
    ) -> KmsResult<()> {
        match authorize_caller(self.authorizer.as_deref(), caller, resource, || context).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(denied)) => Err(KmsError::AccessDenied(denied.message)),
            Err(failure) => Err(KmsError::internal(failure.to_string())),
        }
    }
}

/// The `kms:EncryptionContext:*` and `kms:EncryptionContextKeys` condition keys.
fn with_encryption_context<'a>(
    mut context: RequestContext<'a>,
    encryption_context: &'a BTreeMap<String, String>,
) -> RequestContext<'a> {
    for (key, value) in encryption_context {
        context = context.with_string(format!("kms:EncryptionContext:{key}"), value.as_str());
    }
    if !encryption_context.is_empty() {
        context = context.with_strings(
            "kms:EncryptionContextKeys",
            encryption_context.keys().map(String::as_str),
        );
    }
    context
}
