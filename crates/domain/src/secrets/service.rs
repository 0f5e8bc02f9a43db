//! The Secrets Manager operations: resolution, validation order, idempotency, label moves,
//! retention and deletion, as AWS behaves (see the spec sections cited on each method).
//!
//! Writes are optimistic: load the secret, compute its next state with the pure functions
//! of `labels`, `tags` and `filters`, then compare-and-swap it into the store; a conflict
//! means another writer won, so reload and recompute. Reads come from the cache.

use std::borrow::Cow;
use std::sync::Arc;

use coffer_auth::policy::{
    Policy, PolicyKind, RequestContext, ValidationFinding, validate_resource_policy,
};
use coffer_crypto::{EncryptionContext, Keyring, TokenSigner};
use coffer_store::{
    ListCursor, ListQuery, SecretAggregate, SecretChange, SecretRecord, SortBy, SortValue, Store,
    StoreError, VersionMeta, VersionWrite,
};
use zeroize::Zeroizing;

use crate::authz::{Authorizer, Resource, authorize_caller};
use crate::clock::{Clock, Millis, start_of_day};
use crate::error::{SecretsError, SecretsResult, window_millis};
use crate::kms::KmsService;
use crate::random::Randomness;
use crate::secrets::arn::{self, SecretRef};
use crate::secrets::cache::SecretCache;
use crate::secrets::filters::{self, Filter};
use crate::secrets::labels::{self, AWSCURRENT};
use crate::secrets::model::*;
use crate::secrets::pagination::{Paginator, Position};
use crate::secrets::password::{self, PasswordRules};
use crate::secrets::tags;
use crate::value::SecretValue;

/// How many times a write is recomputed after losing a compare-and-swap race.
const MAX_WRITE_ATTEMPTS: usize = 32;
/// Rows read per store round trip while filtering a listing.
const SCAN_BATCH: usize = 200;
/// Rows one listing request may read before it answers with what it has and a NextToken
/// (AWS also returns short pages), so a rare filter cannot make one request scan forever.
const SCAN_BUDGET: usize = 5_000;
const DEFAULT_LIST_MAX_RESULTS: usize = 100;
const DEFAULT_BATCH_MAX_RESULTS: usize = 20;
const DEFAULT_RECOVERY_WINDOW_DAYS: i64 = 30;
/// What ListSecretVersionIds reports for versions under the AWS managed key.
const DEFAULT_ENCRYPTION_KEY: &str = "DefaultEncryptionKey";

#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// ARN partition, `aws` unless deployed as another partition.
    pub partition: String,
    /// Secrets kept in the read cache.
    pub cache_secrets: usize,
    /// Bytes of sealed values kept in the read cache.
    pub cache_value_bytes: u64,
    /// How long a cached secret is served; `None`: until this node's writes invalidate it
    /// (right when this node is the store's only writer).
    pub cache_max_age: Option<std::time::Duration>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            partition: "aws".into(),
            cache_secrets: 100_000,
            cache_value_bytes: 256 << 20,
            cache_max_age: None,
        }
    }
}

pub struct SecretsService<S: Store> {
    store: Arc<S>,
    keyring: Keyring,
    tokens: TokenSigner,
    clock: Arc<dyn Clock>,
    randomness: Randomness,
    cache: SecretCache,
    partition: String,
    /// Decides for [`Actor::Principal`] callers; without one, they are refused.
    authorizer: Option<Arc<Authorizer>>,
    kms: Option<Arc<KmsService<S>>>,
    /// Runs rotations; without it, RotateSecret is refused as unsupported.
    rotation: Option<rotate::RotationEngine>,
}

/// The request's own condition keys, added to the context an operation is authorised with.
/// Values must be owned: the context borrows only what the service itself holds.
type ExtraKeys<'f> = &'f (dyn Fn(RequestContext<'_>) -> RequestContext<'_> + Send + Sync);

/// What an operation asks permission for.
#[derive(Clone, Copy)]
struct Access<'f> {
    /// The IAM action, e.g. `secretsmanager:GetSecretValue`.
    action: &'static str,
    keys: ExtraKeys<'f>,
}

fn no_keys(context: RequestContext<'_>) -> RequestContext<'_> {
    context
}

/// Gives a closure the signature [`ExtraKeys`] needs (for every context lifetime).
fn extra_keys<F>(keys: F) -> F
where
    F: for<'c> Fn(RequestContext<'c>) -> RequestContext<'c> + Send + Sync,
{
    keys
}

impl Access<'static> {
    fn to(action: &'static str) -> Access<'static> {
        Access {
            action,
            keys: &no_keys,
        }
    }
}

impl<'f> Access<'f> {
    fn with(action: &'static str, keys: ExtraKeys<'f>) -> Access<'f> {
        Access { action, keys }
    }
}

/// The outcome of computing a write: nothing to do, or a change to commit.
enum Plan<T> {
    Unchanged(T),
    Commit(Box<SecretChange>, T),
}

impl<S: Store> SecretsService<S> {
    pub fn new(
        store: Arc<S>,
        keyring: Keyring,
        tokens: TokenSigner,
        clock: Arc<dyn Clock>,
        randomness: Randomness,
        config: ServiceConfig,
    ) -> Self {
        SecretsService {
            store,
            keyring,
            tokens,
            clock,
            randomness,
            cache: SecretCache::new(config.cache_secrets, config.cache_value_bytes)
                .with_max_age(config.cache_max_age),
            partition: config.partition,
            authorizer: None,
            kms: None,
            rotation: None,
        }
    }

    /// Seals new versions under KMS keys (the secret's `KmsKeyId`, or `aws/secretsmanager`)
    /// and opens them through KMS, on the caller's behalf. Without it, values are sealed
    /// under the keyring alone.
    pub fn with_kms(mut self, kms: Arc<KmsService<S>>) -> Self {
        self.kms = Some(kms);
        self
    }

    /// Authorises every [`Actor::Principal`] call with `authorizer`.
    pub fn with_authorizer(mut self, authorizer: Arc<Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Runs rotations through `invoker` (RotateSecret, schedules). `node_id` names this
    /// process in the per-secret rotation leases; `audit` receives the rotation's service
    /// events (RotationStarted, RotationSucceeded, RotationFailed, ...), and `observer` counts
    /// them.
    pub fn with_rotation(
        mut self,
        invoker: Arc<dyn crate::rotation::RotationInvoker>,
        settings: crate::rotation::RotationSettings,
        node_id: String,
        audit: Option<Arc<crate::audit::AuditLog>>,
        observer: Option<Arc<dyn crate::rotation::RotationObserver>>,
    ) -> Self {
        self.rotation = Some(rotate::RotationEngine::new(
            invoker, settings, node_id, audit, observer,
        ));
        self
    }

    // ----- authorisation (companion spec §8) ----------------------------------------------

    /// Asks the authoriser whether the caller may perform `access` on `resource`.
    async fn authorize(
        &self,
        caller: &Caller,
        access: &Access<'_>,
        resource: Resource<'_>,
        resource_tags: Option<&[coffer_store::Tag]>,
    ) -> SecretsResult<()> {
        let build = || {
            let now = jiff::Timestamp::from_millisecond(self.clock.now())
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let mut context = RequestContext::new(access.action, resource.arn, now)
                .with_string("aws:RequestedRegion", caller.region.as_str());
            if resource.arn != "*" {
                context = context.with_string("secretsmanager:SecretId", resource.arn);
            }
            if let Some(tags) = resource_tags {
                context = context
                    .with_resource_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())));
            }
            (access.keys)(context)
        };
        match authorize_caller(self.authorizer.as_deref(), caller, &resource, build).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(denied)) => Err(SecretsError::AccessDenied(denied.message)),
            Err(failure) => Err(SecretsError::Internal {
                cause: failure.to_string(),
            }),
        }
    }

    /// Authorises an action that names no resource (`ListSecrets`, `GetRandomPassword`,
    /// `BatchGetSecretValue`).
    async fn authorize_unscoped(&self, caller: &Caller, access: &Access<'_>) -> SecretsResult<()> {
        let resource = Resource {
            arn: "*",
            named_as: None,
            account: &caller.account_id,
            policy: None,
            policy_is_authoritative: false,
        };
        self.authorize(caller, access, resource, None).await
    }

    /// The ARN a policy sees for a secret that does not exist (yet): the ARN as sent, or
    /// this account's and region's ARN with the name and no random suffix.
    fn implied_arn<'a>(&self, caller: &Caller, secret_id: &'a str) -> Cow<'a, str> {
        if secret_id.starts_with("arn:") {
            Cow::Borrowed(secret_id)
        } else {
            Cow::Owned(format!(
                "arn:{}:secretsmanager:{}:{}:secret:{secret_id}",
                self.partition, caller.region, caller.account_id
            ))
        }
    }

    /// Resolves `secret_id` and authorises `access` on it. A secret that cannot be found is
    /// authorised against the ARN its name implies, so that callers without permission
    /// learn nothing about what exists (AWS answers them AccessDenied, not not-found).
    async fn resolve(
        &self,
        caller: &Caller,
        secret_id: &str,
        fresh: bool,
        access: &Access<'_>,
    ) -> SecretsResult<Arc<SecretAggregate>> {
        match self.find(caller, secret_id, fresh).await {
            Ok(found) => {
                let secret = &found.secret;
                let resource = Resource {
                    arn: &secret.arn,
                    named_as: Some(secret_id),
                    account: &secret.account_id,
                    policy: secret
                        .resource_policy
                        .as_deref()
                        .map(|text| (secret.arn.as_str(), text)),
                    policy_is_authoritative: false,
                };
                self.authorize(caller, access, resource, secret.tags.as_deref())
                    .await?;
                Ok(found)
            }
            Err(SecretsError::SecretNotFound) => {
                let arn = self.implied_arn(caller, secret_id);
                let resource = Resource {
                    arn: &arn,
                    named_as: Some(secret_id),
                    account: &caller.account_id,
                    policy: None,
                    policy_is_authoritative: false,
                };
                self.authorize(caller, access, resource, None).await?;
                Err(SecretsError::SecretNotFound)
            }
            Err(other) => Err(other),
        }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    // ----- resolution (spec §4.3) -------------------------------------------------------

    /// Finds the secret a `SecretId` names; `fresh` bypasses the cache (writers need the
    /// latest revision). Authorises nothing: see [`Self::resolve`].
    async fn find(
        &self,
        caller: &Caller,
        secret_id: &str,
        fresh: bool,
    ) -> SecretsResult<Arc<SecretAggregate>> {
        match arn::parse_secret_id(secret_id)? {
            SecretRef::Name(name) => self
                .load_by_name(&caller.account_id, &caller.region, name, fresh)
                .await?
                .ok_or(SecretsError::SecretNotFound),
            SecretRef::Arn {
                arn,
                partition,
                region,
                account_id,
                rest,
                looks_complete,
            } => {
                // Only this account's secrets in the caller's region are served here.
                if partition != self.partition
                    || account_id != caller.account_id
                    || region != caller.region
                {
                    return Err(SecretsError::SecretNotFound);
                }
                if let Some(found) = self.load_by_arn(arn, fresh).await? {
                    return Ok(found);
                }
                if looks_complete {
                    return Err(SecretsError::SecretNotFound);
                }
                self.load_by_name(account_id, region, rest, fresh)
                    .await?
                    .ok_or(SecretsError::SecretNotFound)
            }
            SecretRef::Unresolvable => Err(SecretsError::SecretNotFound),
        }
    }

    async fn load_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
        fresh: bool,
    ) -> SecretsResult<Option<Arc<SecretAggregate>>> {
        if !fresh && let Some(hit) = self.cache.by_name(account_id, region, name) {
            return Ok(Some(hit));
        }
        let epoch = self.cache.epoch();
        let loaded = self
            .store
            .secret_by_name(account_id, region, name)
            .await?
            .map(Arc::new);
        if let Some(aggregate) = &loaded {
            self.cache.insert(epoch, aggregate.clone());
        }
        Ok(loaded)
    }

    async fn load_by_arn(
        &self,
        arn: &str,
        fresh: bool,
    ) -> SecretsResult<Option<Arc<SecretAggregate>>> {
        if !fresh && let Some(hit) = self.cache.by_arn(arn) {
            return Ok(Some(hit));
        }
        let epoch = self.cache.epoch();
        let loaded = self.store.secret_by_arn(arn).await?.map(Arc::new);
        if let Some(aggregate) = &loaded {
            self.cache.insert(epoch, aggregate.clone());
        }
        Ok(loaded)
    }

    /// Loads, plans and commits a change to one secret, retrying lost races.
    async fn modify<T>(
        &self,
        caller: &Caller,
        secret_id: &str,
        access: &Access<'_>,
        mut plan: impl FnMut(&SecretAggregate, Millis) -> SecretsResult<Plan<T>>,
    ) -> SecretsResult<T> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self.resolve(caller, secret_id, true, access).await?;
            match plan(&current, self.clock.now())? {
                Plan::Unchanged(output) => return Ok(output),
                Plan::Commit(change, output) => {
                    if self.try_commit(*change).await? {
                        return Ok(output);
                    }
                }
            }
        }
        Err(contention())
    }

    /// Commits a change; `false` when another writer moved the secret first.
    async fn try_commit(&self, change: SecretChange) -> SecretsResult<bool> {
        let secret = change.secret.clone();
        match self.store.update_secret(change).await {
            Ok(()) => {
                self.cache.invalidate(&secret);
                Ok(true)
            }
            Err(StoreError::Conflict) => Ok(false),
            Err(StoreError::NotFound) => Err(SecretsError::SecretNotFound),
            Err(e) => Err(e.into()),
        }
    }

    fn change(
        &self,
        current: &SecretAggregate,
        mut next: SecretRecord,
        now: Millis,
    ) -> SecretChange {
        next.revision = current.secret.revision + 1;
        // AWS reports a strictly increasing LastChangedDate across successive updates.
        next.last_changed_at = now.max(current.secret.last_changed_at + 1);
        SecretChange {
            secret: next,
            expected_revision: current.secret.revision,
            put_versions: vec![],
            delete_versions: vec![],
        }
    }

    // ----- values -----------------------------------------------------------------------

    /// Seals a new version's value: under the secret's KMS key (`kms_key_id` as stored: a
    /// key ARN, or `None` for `aws/secretsmanager`) on the caller's behalf, or under the
    /// keyring alone when no KMS is configured.
    async fn seal(
        &self,
        caller: &Caller,
        kms_key_id: Option<&str>,
        arn: &str,
        version_id: &str,
        value: &SecretValue,
    ) -> SecretsResult<Vec<u8>> {
        if kms_key_id.is_none() && !owned_by_caller(caller, arn) {
            return Err(SecretsError::DefaultKeyCrossAccount);
        }
        let plaintext = value.to_plaintext();
        let context = EncryptionContext {
            secret_arn: arn,
            version_id,
        };
        let Some(kms) = &self.kms else {
            return self
                .keyring
                .seal_secret_value(context, &plaintext)
                .map_err(|_| SecretsError::EncryptionFailure);
        };
        let key = kms
            .secret_key(caller, kms_key_id)
            .await
            .map_err(|e| kms_error(e, false))?;
        kms.seal_secret_value(caller, &key, context, &plaintext)
            .await
            .map_err(|e| kms_error(e, false))
    }

    async fn sealed_value(
        &self,
        aggregate: &SecretAggregate,
        version_id: &str,
    ) -> SecretsResult<Option<Arc<Vec<u8>>>> {
        let secret = &aggregate.secret;
        if let Some(hit) = self.cache.value(&secret.arn, version_id, secret.revision) {
            return Ok(Some(hit));
        }
        let loaded = self
            .store
            .version_ciphertext(&secret.arn, version_id)
            .await?
            .map(Arc::new);
        if let Some(sealed) = &loaded {
            self.cache
                .insert_value(&secret.arn, version_id, secret.revision, sealed.clone());
        }
        Ok(loaded)
    }

    /// Opens a version's value; `key_arn` is the customer managed key the version was sealed
    /// under (`None`: `aws/secretsmanager`).
    async fn open(
        &self,
        caller: &Caller,
        arn: &str,
        version_id: &str,
        sealed: &[u8],
        key_arn: Option<&str>,
    ) -> SecretsResult<SecretValue> {
        let plaintext = self
            .open_plaintext(caller, arn, version_id, sealed, key_arn)
            .await?;
        SecretValue::from_plaintext(&plaintext)
    }

    async fn open_plaintext(
        &self,
        caller: &Caller,
        arn: &str,
        version_id: &str,
        sealed: &[u8],
        key_arn: Option<&str>,
    ) -> SecretsResult<coffer_crypto::SecretPlaintext> {
        if key_arn.is_none() && !owned_by_caller(caller, arn) {
            return Err(SecretsError::DefaultKeyCrossAccount);
        }
        let context = EncryptionContext {
            secret_arn: arn,
            version_id,
        };
        match &self.kms {
            None => self
                .keyring
                .open_secret_value(context, sealed)
                .map_err(|_| SecretsError::DecryptionFailure),
            Some(kms) => kms
                .open_secret_value(caller, context, sealed, key_arn)
                .await
                .map_err(|e| kms_error(e, true)),
        }
    }

    /// Whether a stored version holds exactly `value` (same type, same bytes), compared in
    /// constant time so the comparison leaks nothing about the stored value.
    async fn holds_value(
        &self,
        caller: &Caller,
        aggregate: &SecretAggregate,
        version_id: &str,
        value: &SecretValue,
    ) -> SecretsResult<bool> {
        let Some(sealed) = self.sealed_value(aggregate, version_id).await? else {
            return Ok(false);
        };
        let key_arn = aggregate
            .versions
            .iter()
            .find(|v| v.version_id == version_id)
            .and_then(|v| v.kms_key_id.as_deref());
        let plaintext = self
            .open_plaintext(caller, &aggregate.secret.arn, version_id, &sealed, key_arn)
            .await?;
        let candidate = value.to_plaintext();
        Ok(coffer_crypto::constant_time_eq(&plaintext, &candidate))
    }

    /// Resolves a `KmsKeyId` parameter to what a secret stores: `None` for the AWS managed
    /// key `aws/secretsmanager` (AWS omits it from DescribeSecret), the key ARN otherwise.
    async fn kms_key_ref(
        &self,
        caller: &Caller,
        kms_key_id: &str,
    ) -> SecretsResult<Option<String>> {
        let default_alias_arn = format!(
            "arn:{}:kms:{}:{}:{}",
            self.partition,
            caller.region,
            caller.account_id,
            crate::kms::SECRETS_MANAGER_ALIAS
        );
        if kms_key_id.is_empty()
            || kms_key_id == crate::kms::SECRETS_MANAGER_ALIAS
            || kms_key_id == default_alias_arn
        {
            return Ok(None);
        }
        let Some(kms) = &self.kms else {
            return Err(SecretsError::KmsKeyNotFound);
        };
        let key = kms
            .secret_key(caller, Some(kms_key_id))
            .await
            .map_err(|e| kms_error(e, false))?;
        Ok((key.doc.key_manager == crate::kms::KeyManager::Customer).then(|| key.arn.clone()))
    }

    /// The idempotency rule of value-creating writes (spec §4.6): `true` when the token
    /// names a version that already holds exactly this value (a retry: change nothing),
    /// an error when it holds another value, `false` when there is no such value yet.
    async fn is_retry(
        &self,
        caller: &Caller,
        current: &SecretAggregate,
        token: &str,
        value: &SecretValue,
    ) -> SecretsResult<bool> {
        if !current
            .versions
            .iter()
            .any(|v| v.version_id == token && v.has_value)
        {
            return Ok(false);
        }
        if self.holds_value(caller, current, token, value).await? {
            Ok(true)
        } else {
            Err(SecretsError::ClientRequestTokenInUse {
                token: token.to_owned(),
                arn: current.secret.arn.clone(),
            })
        }
    }

    /// Stages a new version (or the value of a rotation's placeholder, which has the token
    /// as its id and no value yet) on `change`, with its labels and the retention rule.
    /// Returns the labels the version ends with.
    #[allow(clippy::too_many_arguments)]
    async fn stage_new_value(
        &self,
        caller: &Caller,
        current: &SecretAggregate,
        change: &mut SecretChange,
        token: &str,
        value: &SecretValue,
        requested_labels: &[String],
        now: Millis,
    ) -> SecretsResult<Vec<String>> {
        let placeholder = current.versions.iter().find(|v| v.version_id == token);
        // The key the change leaves the secret with (UpdateSecret may change it).
        let sealed = self
            .seal(
                caller,
                change.secret.kms_key_id.as_deref(),
                &current.secret.arn,
                token,
                value,
            )
            .await?;
        let meta = VersionMeta {
            version_id: token.to_owned(),
            created_at: placeholder.map_or(now, |p| p.created_at),
            last_accessed_day: None,
            kms_key_id: change.secret.kms_key_id.clone(),
            has_value: true,
        };
        labels::label_new_version(&mut change.secret.stages, token, requested_labels);
        self.note_manual_change(change, token, now);
        labels::check_label_quota(&change.secret.stages)?;
        let mut versions: Vec<VersionMeta> = current.versions.clone();
        if placeholder.is_none() {
            versions.push(meta.clone());
        }
        change.delete_versions = labels::versions_to_remove(&versions, &change.secret.stages, now)?;
        change.put_versions.push(VersionWrite {
            meta,
            ciphertext: Some(sealed),
        });
        Ok(labels::labels_of(&change.secret.stages, token))
    }

    /// After a change of KMS key, the versions labelled AWSCURRENT, AWSPENDING and
    /// AWSPREVIOUS are re-encrypted under the new key, as AWS does; other versions keep the
    /// key they were sealed under.
    async fn reencrypt_labelled_versions(
        &self,
        caller: &Caller,
        current: &SecretAggregate,
        change: &mut SecretChange,
    ) -> SecretsResult<()> {
        let new_key = change.secret.kms_key_id.clone();
        for label in [AWSCURRENT, "AWSPENDING", "AWSPREVIOUS"] {
            let Some(version_id) = current.secret.stages.get(label) else {
                continue;
            };
            if change
                .put_versions
                .iter()
                .any(|w| &w.meta.version_id == version_id)
            {
                continue;
            }
            let Some(meta) = current
                .versions
                .iter()
                .find(|v| &v.version_id == version_id && v.has_value)
            else {
                continue;
            };
            let Some(sealed) = self.sealed_value(current, version_id).await? else {
                continue;
            };
            let value = self
                .open(
                    caller,
                    &current.secret.arn,
                    version_id,
                    &sealed,
                    meta.kms_key_id.as_deref(),
                )
                .await?;
            let resealed = self
                .seal(
                    caller,
                    new_key.as_deref(),
                    &current.secret.arn,
                    version_id,
                    &value,
                )
                .await?;
            change.put_versions.push(VersionWrite {
                meta: VersionMeta {
                    kms_key_id: new_key.clone(),
                    ..meta.clone()
                },
                ciphertext: Some(resealed),
            });
        }
        Ok(())
    }

    // ----- operations ---------------------------------------------------------------------

    /// CreateSecret (spec §3.1).
    pub async fn create_secret(
        &self,
        caller: &Caller,
        input: CreateSecretInput,
    ) -> SecretsResult<CreateSecretOutput> {
        arn::check_name(&input.name)?;
        let value = SecretValue::from_members(input.secret_string, input.secret_binary)?;
        // Required even without a value (spec §3.1); SDKs always send one.
        let token = input
            .client_request_token
            .ok_or(SecretsError::MissingClientRequestToken)?;
        if input.secret_type.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(SecretsError::UnsupportedSecretType);
        }
        if input
            .add_replica_regions
            .as_ref()
            .is_some_and(|r| !r.is_empty())
        {
            return Err(SecretsError::InvalidReplicaRegion);
        }
        let tags = match input.tags {
            Some(inputs) if !inputs.is_empty() => {
                let tags = tags::parse_tags(inputs)?;
                tags::check_count(&tags)?;
                Some(tags)
            }
            _ => None,
        };
        let description = input.description.filter(|d| !d.is_empty());
        {
            let name = input.name.clone();
            let kms_key_id = input.kms_key_id.clone();
            let described = description.clone();
            let request_tags = tags.clone().unwrap_or_default();
            let keys = extra_keys(move |context| {
                let mut context = context
                    .with_string("secretsmanager:Name", name.clone())
                    .with_request_tags(
                        request_tags
                            .iter()
                            .map(|t| (t.key.clone(), t.value.clone())),
                    )
                    .with_strings("aws:TagKeys", request_tags.iter().map(|t| t.key.clone()));
                if let Some(description) = &described {
                    context =
                        context.with_string("secretsmanager:Description", description.clone());
                }
                if let Some(kms_key_id) = &kms_key_id {
                    context = context.with_string("secretsmanager:KmsKeyId", kms_key_id.clone());
                }
                context
            });
            let arn = self.implied_arn(caller, &input.name);
            let resource = || Resource {
                arn: &arn,
                named_as: Some(&input.name),
                account: &caller.account_id,
                policy: None,
                policy_is_authoritative: false,
            };
            self.authorize(
                caller,
                &Access::with("secretsmanager:CreateSecret", &keys),
                resource(),
                None,
            )
            .await?;
            // Tags on a new secret also need permission to tag (AWS).
            if tags.is_some() {
                self.authorize(
                    caller,
                    &Access::with("secretsmanager:TagResource", &keys),
                    resource(),
                    None,
                )
                .await?;
            }
        }

        let kms_key_ref = match input.kms_key_id.as_deref() {
            Some(given) => self.kms_key_ref(caller, given).await?,
            None => None,
        };
        for _ in 0..MAX_WRITE_ATTEMPTS {
            if let Some(existing) = self
                .store
                .secret_by_name(&caller.account_id, &caller.region, &input.name)
                .await?
            {
                return self
                    .create_conflict(caller, &existing, &token, value.as_ref())
                    .await;
            }
            let now = self.clock.now();
            let suffix = arn::random_suffix(&self.randomness);
            let secret_arn = arn::secret_arn(
                &self.partition,
                &caller.region,
                &caller.account_id,
                &input.name,
                &suffix,
            );
            let mut record = SecretRecord {
                arn: secret_arn.clone(),
                account_id: caller.account_id.clone(),
                region: caller.region.clone(),
                name: input.name.clone(),
                description: description.clone(),
                kms_key_id: kms_key_ref.clone(),
                created_at: now,
                last_changed_at: now,
                last_accessed_day: None,
                deletion_date: None,
                tags: tags.clone(),
                resource_policy: None,
                rotation: None,
                next_rotation_at: None,
                stages: Default::default(),
                revision: 1,
            };
            let mut versions = Vec::new();
            if let Some(value) = &value {
                let sealed = self
                    .seal(caller, kms_key_ref.as_deref(), &secret_arn, &token, value)
                    .await?;
                versions.push(VersionWrite {
                    meta: VersionMeta {
                        version_id: token.clone(),
                        created_at: now,
                        last_accessed_day: None,
                        kms_key_id: kms_key_ref.clone(),
                        has_value: true,
                    },
                    ciphertext: Some(sealed),
                });
                labels::attach(&mut record.stages, AWSCURRENT, &token);
            }
            match self.store.create_secret(record, versions).await {
                Ok(()) => {
                    return Ok(CreateSecretOutput {
                        arn: secret_arn,
                        name: input.name,
                        version_id: value.is_some().then_some(token),
                    });
                }
                // Another request created the name first: answer as if it had been there.
                Err(StoreError::NameTaken) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(SecretsError::internal(
            "could not create the secret under contention",
        ))
    }

    async fn create_conflict(
        &self,
        caller: &Caller,
        existing: &SecretAggregate,
        token: &str,
        value: Option<&SecretValue>,
    ) -> SecretsResult<CreateSecretOutput> {
        if existing.secret.deletion_date.is_some() {
            return Err(SecretsError::NameScheduledForDeletion);
        }
        if let Some(value) = value
            && existing
                .versions
                .iter()
                .any(|v| v.version_id == token && v.has_value)
        {
            if self.holds_value(caller, existing, token, value).await? {
                return Ok(CreateSecretOutput {
                    arn: existing.secret.arn.clone(),
                    name: existing.secret.name.clone(),
                    version_id: Some(token.to_owned()),
                });
            }
            return Err(SecretsError::ClientRequestTokenInUse {
                token: token.to_owned(),
                arn: existing.secret.arn.clone(),
            });
        }
        Err(SecretsError::SecretAlreadyExists(
            existing.secret.name.clone(),
        ))
    }

    /// GetSecretValue (spec §3.2): the hot path. Served from the cache; the store is only
    /// written once per version per day, to move `LastAccessedDate`.
    pub async fn get_secret_value(
        &self,
        caller: &Caller,
        input: GetSecretValueInput,
    ) -> SecretsResult<SecretValueOutput> {
        let version_id = input.version_id.clone();
        let version_stage = input.version_stage.clone();
        let keys = extra_keys(move |mut context| {
            if let Some(id) = &version_id {
                context = context.with_string("secretsmanager:VersionId", id.clone());
            }
            if let Some(stage) = &version_stage {
                context = context.with_string("secretsmanager:VersionStage", stage.clone());
            }
            context
        });
        let access = if input.version_id.is_none() && input.version_stage.is_none() {
            Access::to("secretsmanager:GetSecretValue")
        } else {
            Access::with("secretsmanager:GetSecretValue", &keys)
        };
        let aggregate = self
            .resolve(caller, &input.secret_id, false, &access)
            .await?;
        if aggregate.secret.deletion_date.is_some() {
            return Err(SecretsError::MarkedForDeletion);
        }
        self.read_value(
            caller,
            &aggregate,
            input.version_id.as_deref(),
            input.version_stage.as_deref(),
        )
        .await
    }

    async fn read_value(
        &self,
        caller: &Caller,
        aggregate: &SecretAggregate,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> SecretsResult<SecretValueOutput> {
        let secret = &aggregate.secret;
        let missing = || match (version_id, version_stage) {
            (Some(id), None) => SecretsError::VersionNotFound(id.to_owned()),
            (_, stage) => {
                SecretsError::StagingLabelNotFound(stage.unwrap_or(AWSCURRENT).to_owned())
            }
        };
        let selected = match (version_id, version_stage) {
            (Some(id), stage) => {
                let version = aggregate
                    .versions
                    .iter()
                    .find(|v| v.version_id == id)
                    .ok_or_else(|| SecretsError::VersionNotFound(id.to_owned()))?;
                if let Some(stage) = stage
                    && secret.stages.get(stage).map(String::as_str) != Some(id)
                {
                    return Err(SecretsError::StageNotOnVersion);
                }
                version
            }
            (None, stage) => {
                let label = stage.unwrap_or(AWSCURRENT);
                let holder = secret.stages.get(label).ok_or_else(missing)?;
                aggregate
                    .versions
                    .iter()
                    .find(|v| &v.version_id == holder)
                    .ok_or_else(missing)?
            }
        };
        let sealed = self
            .sealed_value(aggregate, &selected.version_id)
            .await?
            .ok_or_else(missing)?;
        let value = self
            .open(
                caller,
                &secret.arn,
                &selected.version_id,
                &sealed,
                selected.kms_key_id.as_deref(),
            )
            .await?;

        let today = start_of_day(self.clock.now());
        if secret.last_accessed_day != Some(today) || selected.last_accessed_day != Some(today) {
            self.store
                .record_access(&secret.arn, &selected.version_id, today)
                .await?;
            self.cache.invalidate(secret);
        }
        Ok(SecretValueOutput {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            version_id: selected.version_id.clone(),
            value,
            version_stages: labels::labels_of(&secret.stages, &selected.version_id),
            created_date: selected.created_at,
        })
    }

    /// PutSecretValue (spec §3.4).
    pub async fn put_secret_value(
        &self,
        caller: &Caller,
        input: PutSecretValueInput,
    ) -> SecretsResult<PutSecretValueOutput> {
        let token = input
            .client_request_token
            .ok_or(SecretsError::MissingClientRequestToken)?;
        let value = SecretValue::from_members(input.secret_string, input.secret_binary)?
            .ok_or(SecretsError::MissingSecretValue)?;
        let requested = dedup(
            input
                .version_stages
                .unwrap_or_else(|| vec![AWSCURRENT.to_owned()]),
        );
        let access = Access::to("secretsmanager:PutSecretValue");
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self
                .resolve(caller, &input.secret_id, true, &access)
                .await?;
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let output = |version_stages| PutSecretValueOutput {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
                version_id: token.clone(),
                version_stages,
            };
            if self.is_retry(caller, &current, &token, &value).await? {
                return Ok(output(labels::labels_of(&current.secret.stages, &token)));
            }
            let now = self.clock.now();
            let mut change = self.change(&current, current.secret.clone(), now);
            let labels = self
                .stage_new_value(
                    caller,
                    &current,
                    &mut change,
                    &token,
                    &value,
                    &requested,
                    now,
                )
                .await?;
            let after = change.secret.clone();
            if self.try_commit(change).await? {
                self.report_abandoned(&current.secret, &after);
                return Ok(output(labels));
            }
        }
        Err(contention())
    }

    /// UpdateSecret (spec §3.5).
    pub async fn update_secret(
        &self,
        caller: &Caller,
        input: UpdateSecretInput,
    ) -> SecretsResult<UpdateSecretOutput> {
        let value = SecretValue::from_members(input.secret_string, input.secret_binary)?;
        let token = input.client_request_token;
        if value.is_some() && token.is_none() {
            return Err(SecretsError::MissingClientRequestToken);
        }
        if input.secret_type.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(SecretsError::UnsupportedSecretType);
        }
        let current_label = [AWSCURRENT.to_owned()];
        let described = input.description.clone();
        let kms_key_id = input.kms_key_id.clone();
        let keys = extra_keys(move |mut context| {
            if let Some(description) = &described {
                context = context.with_string("secretsmanager:Description", description.clone());
            }
            if let Some(kms_key_id) = &kms_key_id {
                context = context.with_string("secretsmanager:KmsKeyId", kms_key_id.clone());
            }
            context
        });
        let access = Access::with("secretsmanager:UpdateSecret", &keys);
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self
                .resolve(caller, &input.secret_id, true, &access)
                .await?;
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let now = self.clock.now();
            let mut change = self.change(&current, current.secret.clone(), now);
            let mut changed = false;
            if let Some(given) = input.kms_key_id.as_deref() {
                let kms_key_ref = self.kms_key_ref(caller, given).await?;
                if kms_key_ref != current.secret.kms_key_id {
                    change.secret.kms_key_id = kms_key_ref;
                    self.reencrypt_labelled_versions(caller, &current, &mut change)
                        .await?;
                    changed = true;
                }
            }
            if let Some(description) = &input.description {
                change.secret.description = Some(description.clone()).filter(|d| !d.is_empty());
                changed = true;
            }
            let mut version_id = None;
            if let (Some(value), Some(token)) = (&value, &token) {
                version_id = Some(token.clone());
                if !self.is_retry(caller, &current, token, value).await? {
                    self.stage_new_value(
                        caller,
                        &current,
                        &mut change,
                        token,
                        value,
                        &current_label,
                        now,
                    )
                    .await?;
                    changed = true;
                }
            }
            let output = UpdateSecretOutput {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
                version_id,
            };
            if !changed {
                return Ok(output);
            }
            let after = change.secret.clone();
            if self.try_commit(change).await? {
                self.report_abandoned(&current.secret, &after);
                return Ok(output);
            }
        }
        Err(contention())
    }

    /// UpdateSecretVersionStage (spec §3.6).
    pub async fn update_secret_version_stage(
        &self,
        caller: &Caller,
        input: UpdateSecretVersionStageInput,
    ) -> SecretsResult<SecretIdentity> {
        let stage = input.version_stage.clone();
        let keys = extra_keys(move |context| {
            context.with_string("secretsmanager:VersionStage", stage.clone())
        });
        let access = Access::with("secretsmanager:UpdateSecretVersionStage", &keys);
        self.modify(caller, &input.secret_id, &access, |current, now| {
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            for id in [&input.remove_from_version_id, &input.move_to_version_id]
                .into_iter()
                .flatten()
            {
                if !current.versions.iter().any(|v| &v.version_id == id) {
                    return Err(SecretsError::NotAVersionOfSecret(id.clone()));
                }
            }
            let identity = SecretIdentity {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
            };
            let mut change = self.change(current, current.secret.clone(), now);
            labels::move_label(
                &mut change.secret.stages,
                &input.version_stage,
                input.remove_from_version_id.as_deref(),
                input.move_to_version_id.as_deref(),
            )?;
            if change.secret.stages == current.secret.stages {
                return Ok(Plan::Unchanged(identity));
            }
            labels::check_label_quota(&change.secret.stages)?;
            // Versions that lost their last label may now be removable; never fail the move
            // because retention cannot catch up yet.
            change.delete_versions =
                labels::versions_to_remove(&current.versions, &change.secret.stages, now)
                    .unwrap_or_default();
            Ok(Plan::Commit(Box::new(change), identity))
        })
        .await
    }

    /// DescribeSecret (spec §3.7): works on secrets scheduled for deletion too.
    pub async fn describe_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> SecretsResult<SecretDescription> {
        let access = Access::to("secretsmanager:DescribeSecret");
        let aggregate = self.resolve(caller, secret_id, false, &access).await?;
        Ok(describe(&aggregate.secret))
    }

    /// ListSecrets (spec §3.8, §4.9).
    pub async fn list_secrets(
        &self,
        caller: &Caller,
        input: ListSecretsInput,
    ) -> SecretsResult<ListSecretsOutput> {
        self.authorize_unscoped(caller, &Access::to("secretsmanager:ListSecrets"))
            .await?;
        let filters = filters::parse_filters(input.filters.unwrap_or_default())?;
        let sort_by = match input.sort_by.as_deref() {
            Some("last-accessed-date") => SortBy::LastAccessedDate,
            Some("last-changed-date") => SortBy::LastChangedDate,
            Some("name") => SortBy::Name,
            _ => SortBy::CreatedDate,
        };
        let descending = input.sort_order.as_deref() == Some("desc");
        let include_deleted = input.include_planned_deletion.unwrap_or(false);
        let limit = page_size(input.max_results, DEFAULT_LIST_MAX_RESULTS);
        let listing = Listing {
            caller,
            filters: &filters,
            include_deleted,
            sort_by,
            descending,
        };
        let (records, next_token) = self
            .scan(&listing, "ListSecrets", input.next_token.as_deref(), limit)
            .await?;
        Ok(ListSecretsOutput {
            secrets: records.iter().map(describe).collect(),
            next_token,
        })
    }

    /// One page of a filtered listing, continuing from `next_token`.
    async fn scan(
        &self,
        listing: &Listing<'_>,
        operation: &str,
        next_token: Option<&str>,
        limit: usize,
    ) -> SecretsResult<(Vec<SecretRecord>, Option<String>)> {
        let paginator = Paginator {
            signer: &self.tokens,
        };
        let query_id = paginator.query_id(&format!(
            "{operation}|{}|{}|{:?}|{}|{}|{:?}",
            listing.caller.account_id,
            listing.caller.region,
            listing.sort_by,
            listing.descending,
            listing.include_deleted,
            listing.filters
        ));
        let mut cursor = match next_token {
            Some(token) => {
                let position = paginator.decode(token, &query_id)?;
                let sort_value = match (position.time, position.name) {
                    (Some(time), None) => SortValue::Time(time),
                    (None, Some(name)) => SortValue::Name(name),
                    _ => return Err(SecretsError::InvalidNextToken),
                };
                Some(ListCursor {
                    sort_value,
                    arn: position.after,
                })
            }
            None => None,
        };
        let token_for = |cursor: &ListCursor| {
            let (time, name) = match &cursor.sort_value {
                SortValue::Time(t) => (Some(*t), None),
                SortValue::Name(n) => (None, Some(n.clone())),
            };
            paginator.encode(&Position {
                query: query_id.clone(),
                time,
                name,
                after: cursor.arn.clone(),
            })
        };
        let mut found = Vec::new();
        let mut scanned = 0;
        loop {
            let query = ListQuery {
                account_id: listing.caller.account_id.clone(),
                region: listing.caller.region.clone(),
                include_planned_deletion: listing.include_deleted,
                sort_by: listing.sort_by,
                descending: listing.descending,
                after: cursor.clone(),
                name_prefix: filters::required_name_prefix(listing.filters).map(str::to_owned),
                limit: SCAN_BATCH,
            };
            let batch = self.store.list_secrets(&query).await?;
            let exhausted = batch.len() < SCAN_BATCH;
            let batch_len = batch.len();
            for (index, record) in batch.into_iter().enumerate() {
                let position = ListCursor {
                    sort_value: SortValue::of(&record, listing.sort_by),
                    arn: record.arn.clone(),
                };
                cursor = Some(position.clone());
                scanned += 1;
                if filters::matches_all(listing.filters, &record) {
                    found.push(record);
                    if found.len() == limit {
                        let last_row = exhausted && index + 1 == batch_len;
                        return Ok((found, (!last_row).then(|| token_for(&position))));
                    }
                }
            }
            if exhausted {
                return Ok((found, None));
            }
            if scanned >= SCAN_BUDGET {
                return Ok((found, cursor.as_ref().map(token_for)));
            }
        }
    }

    /// ListSecretVersionIds (spec §3.9): allowed on secrets scheduled for deletion.
    pub async fn list_secret_version_ids(
        &self,
        caller: &Caller,
        input: ListSecretVersionIdsInput,
    ) -> SecretsResult<ListSecretVersionIdsOutput> {
        let access = Access::to("secretsmanager:ListSecretVersionIds");
        let aggregate = self
            .resolve(caller, &input.secret_id, false, &access)
            .await?;
        let secret = &aggregate.secret;
        let include_deprecated = input.include_deprecated.unwrap_or(false);
        let by_version = labels::versions_to_stages(&secret.stages);
        let listed: Vec<&VersionMeta> = aggregate
            .versions
            .iter()
            .filter(|v| include_deprecated || by_version.contains_key(&v.version_id))
            .collect();
        let paginator = Paginator {
            signer: &self.tokens,
        };
        let query_id = paginator.query_id(&format!(
            "ListSecretVersionIds|{}|{include_deprecated}",
            secret.arn
        ));
        let start = match input.next_token.as_deref() {
            Some(token) => {
                let position = paginator.decode(token, &query_id)?;
                // Resume after the last version returned; if it has since been removed,
                // resume after the versions created no later than it.
                listed
                    .iter()
                    .position(|v| v.version_id == position.after)
                    .map(|i| i + 1)
                    .unwrap_or_else(|| {
                        listed
                            .iter()
                            .take_while(|v| Some(v.created_at) <= position.time)
                            .count()
                    })
            }
            None => 0,
        };
        let limit = page_size(input.max_results, DEFAULT_LIST_MAX_RESULTS);
        let page: Vec<&VersionMeta> = listed.iter().skip(start).take(limit).copied().collect();
        let next_token = (start + page.len() < listed.len()).then(|| {
            let last = page.last().expect("a page before the end is not empty");
            paginator.encode(&Position {
                query: query_id.clone(),
                time: Some(last.created_at),
                name: None,
                after: last.version_id.clone(),
            })
        });
        let versions = page
            .into_iter()
            .map(|v| VersionEntry {
                version_id: v.version_id.clone(),
                version_stages: by_version.get(&v.version_id).cloned(),
                last_accessed_date: v.last_accessed_day,
                created_date: v.created_at,
                kms_key_ids: vec![
                    v.kms_key_id
                        .clone()
                        .unwrap_or_else(|| DEFAULT_ENCRYPTION_KEY.to_owned()),
                ],
            })
            .collect();
        Ok(ListSecretVersionIdsOutput {
            arn: secret.arn.clone(),
            name: secret.name.clone(),
            versions,
            next_token,
        })
    }

    /// DeleteSecret (spec §3.10, §4.8).
    pub async fn delete_secret(
        &self,
        caller: &Caller,
        input: DeleteSecretInput,
    ) -> SecretsResult<DeleteSecretOutput> {
        let force = input.force_delete_without_recovery.unwrap_or(false);
        if force && input.recovery_window_in_days.is_some() {
            return Err(SecretsError::ForceDeleteWithRecoveryWindow);
        }
        let window_days = input
            .recovery_window_in_days
            .unwrap_or(DEFAULT_RECOVERY_WINDOW_DAYS);
        if !(7..=30).contains(&window_days) {
            return Err(SecretsError::RecoveryWindowOutOfRange);
        }
        let keys = extra_keys(move |context| {
            let context = context.with_bool("secretsmanager:ForceDeleteWithoutRecovery", force);
            if force {
                context
            } else {
                context.with_number("secretsmanager:RecoveryWindowInDays", window_days)
            }
        });
        let access = Access::with("secretsmanager:DeleteSecret", &keys);
        if force {
            let now = self.clock.now();
            return match self.resolve(caller, &input.secret_id, true, &access).await {
                Ok(current) => {
                    self.store.delete_secret(&current.secret.arn, None).await?;
                    self.cache.invalidate(&current.secret);
                    Ok(DeleteSecretOutput {
                        arn: current.secret.arn.clone(),
                        name: current.secret.name.clone(),
                        deletion_date: now,
                    })
                }
                // Forcing the deletion of a secret that does not exist succeeds (AWS).
                Err(SecretsError::SecretNotFound) => {
                    Ok(self.phantom_deletion(caller, &input.secret_id, now))
                }
                Err(e) => Err(e),
            };
        }
        self.modify(caller, &input.secret_id, &access, |current, now| {
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let mut change = self.change(current, current.secret.clone(), now);
            let deletion_date = now + window_millis(window_days);
            change.secret.deletion_date = Some(deletion_date);
            let output = DeleteSecretOutput {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
                deletion_date,
            };
            Ok(Plan::Commit(Box::new(change), output))
        })
        .await
    }

    /// The answer to a forced deletion of a secret that does not exist: the name as given
    /// and an ARN shaped like one AWS would have made for it.
    fn phantom_deletion(
        &self,
        caller: &Caller,
        secret_id: &str,
        now: Millis,
    ) -> DeleteSecretOutput {
        if let Ok(SecretRef::Arn {
            arn,
            rest,
            looks_complete,
            ..
        }) = arn::parse_secret_id(secret_id)
        {
            let name = if looks_complete {
                arn::name_of_full_arn(arn).unwrap_or(rest)
            } else {
                rest
            };
            return DeleteSecretOutput {
                arn: arn.to_owned(),
                name: name.to_owned(),
                deletion_date: now,
            };
        }
        let suffix = arn::random_suffix(&self.randomness);
        DeleteSecretOutput {
            arn: arn::secret_arn(
                &self.partition,
                &caller.region,
                &caller.account_id,
                secret_id,
                &suffix,
            ),
            name: secret_id.to_owned(),
            deletion_date: now,
        }
    }

    /// RestoreSecret (spec §3.11): cancels a scheduled deletion; a no-op otherwise.
    pub async fn restore_secret(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> SecretsResult<SecretIdentity> {
        let access = Access::to("secretsmanager:RestoreSecret");
        self.modify(caller, secret_id, &access, |current, now| {
            let identity = SecretIdentity {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
            };
            if current.secret.deletion_date.is_none() {
                return Ok(Plan::Unchanged(identity));
            }
            let mut change = self.change(current, current.secret.clone(), now);
            change.secret.deletion_date = None;
            Ok(Plan::Commit(Box::new(change), identity))
        })
        .await
    }

    /// TagResource (spec §3.14): merges; keys already present take the new value.
    pub async fn tag_resource(
        &self,
        caller: &Caller,
        secret_id: &str,
        tags: Vec<tags::TagInput>,
    ) -> SecretsResult<()> {
        let new_tags = tags::parse_tags(tags)?;
        let request_tags = new_tags.clone();
        let keys = extra_keys(move |context| {
            context
                .with_request_tags(
                    request_tags
                        .iter()
                        .map(|t| (t.key.clone(), t.value.clone())),
                )
                .with_strings("aws:TagKeys", request_tags.iter().map(|t| t.key.clone()))
        });
        let access = Access::with("secretsmanager:TagResource", &keys);
        self.modify(caller, secret_id, &access, |current, now| {
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let mut change = self.change(current, current.secret.clone(), now);
            change.secret.tags = Some(tags::merge(
                current.secret.tags.as_deref(),
                new_tags.clone(),
            )?);
            Ok(Plan::Commit(Box::new(change), ()))
        })
        .await
    }

    /// UntagResource (spec §3.15): unknown keys are ignored; removing the last tag leaves
    /// an empty (not absent) tag list.
    pub async fn untag_resource(
        &self,
        caller: &Caller,
        secret_id: &str,
        tag_keys: Vec<String>,
    ) -> SecretsResult<()> {
        for key in &tag_keys {
            tags::check_key(key)?;
        }
        let removed = tag_keys.clone();
        let keys = extra_keys(move |context| context.with_strings("aws:TagKeys", removed.clone()));
        let access = Access::with("secretsmanager:UntagResource", &keys);
        self.modify(caller, secret_id, &access, |current, now| {
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let Some(existing) = &current.secret.tags else {
                return Ok(Plan::Unchanged(()));
            };
            let kept: Vec<_> = existing
                .iter()
                .filter(|t| !tag_keys.contains(&t.key))
                .cloned()
                .collect();
            if kept.len() == existing.len() {
                return Ok(Plan::Unchanged(()));
            }
            let mut change = self.change(current, current.secret.clone(), now);
            change.secret.tags = Some(kept);
            Ok(Plan::Commit(Box::new(change), ()))
        })
        .await
    }

    /// GetRandomPassword (spec §3.16, §4.14).
    pub async fn get_random_password(
        &self,
        caller: &Caller,
        rules: &PasswordRules,
    ) -> SecretsResult<Zeroizing<String>> {
        self.authorize_unscoped(caller, &Access::to("secretsmanager:GetRandomPassword"))
            .await?;
        password::generate(rules, &self.randomness)
    }

    /// BatchGetSecretValue (spec §3.3): per-secret failures are reported, not raised.
    pub async fn batch_get_secret_value(
        &self,
        caller: &Caller,
        input: BatchGetSecretValueInput,
    ) -> SecretsResult<BatchGetSecretValueOutput> {
        self.authorize_unscoped(caller, &Access::to("secretsmanager:BatchGetSecretValue"))
            .await?;
        let filters = match (input.secret_id_list, input.filters) {
            (Some(ids), None) => {
                if input.max_results.is_some() {
                    return Err(SecretsError::BatchMaxResultsWithoutFilters);
                }
                let mut output = BatchGetSecretValueOutput {
                    secret_values: vec![],
                    errors: vec![],
                    next_token: None,
                };
                for secret_id in ids {
                    let request = GetSecretValueInput {
                        secret_id: secret_id.clone(),
                        ..Default::default()
                    };
                    match self.get_secret_value(caller, request).await {
                        Ok(value) => output.secret_values.push(value),
                        Err(error @ SecretsError::Internal { .. }) => return Err(error),
                        Err(error) => output.errors.push(BatchError { secret_id, error }),
                    }
                }
                return Ok(output);
            }
            (None, Some(filters)) => {
                self.authorize_unscoped(caller, &Access::to("secretsmanager:ListSecrets"))
                    .await?;
                filters::parse_filters(filters)?
            }
            _ => {
                return if input.max_results.is_some() {
                    Err(SecretsError::BatchMaxResultsWithoutFilters)
                } else {
                    Err(SecretsError::BatchSelectorInvalid)
                };
            }
        };
        let limit = page_size(input.max_results, DEFAULT_BATCH_MAX_RESULTS);
        let listing = Listing {
            caller,
            filters: &filters,
            include_deleted: false,
            sort_by: SortBy::CreatedDate,
            descending: false,
        };
        let (records, next_token) = self
            .scan(
                &listing,
                "BatchGetSecretValue",
                input.next_token.as_deref(),
                limit,
            )
            .await?;
        let mut output = BatchGetSecretValueOutput {
            secret_values: vec![],
            errors: vec![],
            next_token,
        };
        let access = Access::to("secretsmanager:GetSecretValue");
        for record in records {
            let read = match self.resolve(caller, &record.arn, false, &access).await {
                Ok(aggregate) => self.read_value(caller, &aggregate, None, None).await,
                Err(error) => Err(error),
            };
            match read {
                Ok(value) => output.secret_values.push(value),
                Err(error @ SecretsError::Internal { .. }) => return Err(error),
                Err(error) => output.errors.push(BatchError {
                    secret_id: record.arn.clone(),
                    error,
                }),
            }
        }
        Ok(output)
    }

    /// PutResourcePolicy (spec §3.17): validated, checked for public access when asked,
    /// stored verbatim.
    pub async fn put_resource_policy(
        &self,
        caller: &Caller,
        secret_id: &str,
        policy_text: String,
        block_public_policy: Option<bool>,
    ) -> SecretsResult<SecretIdentity> {
        let keys = extra_keys(move |context| match block_public_policy {
            Some(block) => context.with_bool("secretsmanager:BlockPublicPolicy", block),
            None => context,
        });
        let access = Access::with("secretsmanager:PutResourcePolicy", &keys);
        // Authorise (and find) first: a caller without permission learns nothing, not even
        // whether the document would parse.
        self.resolve(caller, secret_id, false, &access).await?;
        let policy = Policy::parse(&policy_text, PolicyKind::Resource)
            .map_err(|e| SecretsError::MalformedPolicyDocument(e.message))?;
        if block_public_policy == Some(true) && policy.is_public() {
            return Err(SecretsError::PublicPolicy);
        }
        self.modify(caller, secret_id, &access, |current, now| {
            if current.secret.deletion_date.is_some() {
                return Err(SecretsError::MarkedForDeletion);
            }
            let identity = SecretIdentity {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
            };
            if current.secret.resource_policy.as_deref() == Some(policy_text.as_str()) {
                return Ok(Plan::Unchanged(identity));
            }
            let mut change = self.change(current, current.secret.clone(), now);
            change.secret.resource_policy = Some(policy_text.clone());
            Ok(Plan::Commit(Box::new(change), identity))
        })
        .await
    }

    /// GetResourcePolicy (spec §3.18): no policy is not an error.
    pub async fn get_resource_policy(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> SecretsResult<(SecretIdentity, Option<String>)> {
        let access = Access::to("secretsmanager:GetResourcePolicy");
        let found = self.resolve(caller, secret_id, false, &access).await?;
        let secret = &found.secret;
        Ok((
            SecretIdentity {
                arn: secret.arn.clone(),
                name: secret.name.clone(),
            },
            secret.resource_policy.clone(),
        ))
    }

    /// DeleteResourcePolicy (spec §3.19): idempotent.
    pub async fn delete_resource_policy(
        &self,
        caller: &Caller,
        secret_id: &str,
    ) -> SecretsResult<SecretIdentity> {
        let access = Access::to("secretsmanager:DeleteResourcePolicy");
        self.modify(caller, secret_id, &access, |current, now| {
            let identity = SecretIdentity {
                arn: current.secret.arn.clone(),
                name: current.secret.name.clone(),
            };
            if current.secret.resource_policy.is_none() {
                return Ok(Plan::Unchanged(identity));
            }
            let mut change = self.change(current, current.secret.clone(), now);
            change.secret.resource_policy = None;
            Ok(Plan::Commit(Box::new(change), identity))
        })
        .await
    }

    /// ValidateResourcePolicy (spec §3.20): needs permission for both the validation and
    /// PutResourcePolicy. Findings are returned, not raised; only a document that is not
    /// JSON at all is an error.
    pub async fn validate_resource_policy(
        &self,
        caller: &Caller,
        secret_id: Option<&str>,
        policy_text: &str,
    ) -> SecretsResult<Vec<ValidationFinding>> {
        for action in [
            "secretsmanager:ValidateResourcePolicy",
            "secretsmanager:PutResourcePolicy",
        ] {
            let access = Access::to(action);
            match secret_id {
                Some(secret_id) => {
                    self.resolve(caller, secret_id, false, &access).await?;
                }
                None => self.authorize_unscoped(caller, &access).await?,
            }
        }
        validate_resource_policy(policy_text)
            .map_err(|e| SecretsError::MalformedPolicyDocument(e.message))
    }

    /// The answer to an operation whose feature has not landed: resolve the secret first,
    /// so that a bad or unknown SecretId still gets AWS's validation or not-found error.
    pub async fn not_supported(
        &self,
        caller: &Caller,
        secret_id: Option<&str>,
        operation: &'static str,
    ) -> SecretsError {
        let access = Access::to(operation_action(operation));
        let denied = match secret_id {
            Some(secret_id) => self.resolve(caller, secret_id, false, &access).await.err(),
            None => self.authorize_unscoped(caller, &access).await.err(),
        };
        denied.unwrap_or(SecretsError::NotSupported(operation))
    }

    /// Removes secrets whose recovery window has ended (spec §4.8). Returns their ARNs.
    pub async fn purge_due_deletions(&self, batch: usize) -> SecretsResult<Vec<String>> {
        let now = self.clock.now();
        let mut purged = Vec::new();
        for arn in self.store.secrets_due_for_deletion(now, batch).await? {
            let Some(current) = self.store.secret_by_arn(&arn).await? else {
                continue;
            };
            // Restored since it was listed: leave it.
            if current.secret.deletion_date.is_none_or(|date| date > now) {
                continue;
            }
            if self
                .store
                .delete_secret(&arn, Some(current.secret.revision))
                .await?
            {
                self.cache.invalidate(&current.secret);
                purged.push(arn);
            }
        }
        Ok(purged)
    }
}

struct Listing<'a> {
    caller: &'a Caller,
    filters: &'a [Filter],
    include_deleted: bool,
    sort_by: SortBy,
    descending: bool,
}

fn contention() -> SecretsError {
    SecretsError::internal("a secret stayed under write contention; gave up after many attempts")
}

fn page_size(max_results: Option<i32>, default: usize) -> usize {
    max_results
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn dedup(labels: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(labels.len());
    for label in labels {
        if !seen.contains(&label) {
            seen.push(label);
        }
    }
    seen
}

/// The DescribeSecret view of a secret (spec §3.7 presence rules).
fn describe(secret: &SecretRecord) -> SecretDescription {
    let rotation = crate::rotation::RotationState::decode(secret.rotation.as_deref());
    let rotation = rotation.as_ref();
    SecretDescription {
        rotation_enabled: rotation.map(|r| r.enabled),
        rotation_lambda_arn: rotation.and_then(|r| r.lambda_arn.clone()),
        rotation_rules: rotation.and_then(|r| r.rules.clone()),
        last_rotated_date: rotation.and_then(|r| r.last_rotated),
        next_rotation_date: rotation
            .filter(|r| r.enabled)
            .and_then(|r| r.next_rotation_date),
        arn: secret.arn.clone(),
        name: secret.name.clone(),
        description: secret.description.clone(),
        kms_key_id: secret.kms_key_id.clone(),
        last_changed_date: secret.last_changed_at,
        last_accessed_date: secret.last_accessed_day,
        deleted_date: secret.deletion_date,
        tags: secret.tags.clone(),
        versions_to_stages: (!secret.stages.is_empty())
            .then(|| labels::versions_to_stages(&secret.stages)),
        created_date: secret.created_at,
    }
}

/// The IAM action of an operation that is recognised but not implemented yet.
fn operation_action(operation: &str) -> &'static str {
    match operation {
        "RotateSecret" => "secretsmanager:RotateSecret",
        "CancelRotateSecret" => "secretsmanager:CancelRotateSecret",
        "ReplicateSecretToRegions" => "secretsmanager:ReplicateSecretToRegions",
        "RemoveRegionsFromReplication" => "secretsmanager:RemoveRegionsFromReplication",
        "StopReplicationToReplica" => "secretsmanager:StopReplicationToReplica",
        "PutResourcePolicy" => "secretsmanager:PutResourcePolicy",
        "GetResourcePolicy" => "secretsmanager:GetResourcePolicy",
        "DeleteResourcePolicy" => "secretsmanager:DeleteResourcePolicy",
        "ValidateResourcePolicy" => "secretsmanager:ValidateResourcePolicy",
        // Every recognised operation is listed above; an unknown one matches only `*`.
        _ => "secretsmanager:*",
    }
}

/// Whether the secret `arn` belongs to the caller's account (its fifth ARN field).
fn owned_by_caller(caller: &Caller, arn: &str) -> bool {
    arn.split(':').nth(4) == Some(caller.account_id.as_str())
}

/// Secrets Manager's answer when KMS refuses on a caller's behalf (spec §1.7, §4.15): no
/// permission on the key is `Access to KMS is not allowed`; an unusable key fails the
/// encryption or decryption, with KMS's reason.
fn kms_error(error: crate::kms::KmsError, reading: bool) -> SecretsError {
    use crate::kms::KmsError;
    match error {
        KmsError::AccessDenied(_) => {
            SecretsError::AccessDenied("Access to KMS is not allowed".into())
        }
        KmsError::NotFound(_) if !reading => SecretsError::KmsKeyNotFound,
        KmsError::Disabled(reason) | KmsError::InvalidState(reason) => {
            if reading {
                SecretsError::KmsKeyUnusableForDecryption(reason)
            } else {
                SecretsError::KmsKeyUnusableForEncryption(reason)
            }
        }
        KmsError::Internal { cause } => SecretsError::Internal { cause },
        _ if reading => SecretsError::DecryptionFailure,
        _ => SecretsError::EncryptionFailure,
    }
}

mod rotate;
