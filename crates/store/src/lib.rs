//! The storage trait Coffer's domain is written against, and the records it stores.
//!
//! A backend only ever sees ciphertext: secret values arrive here already sealed by
//! `coffer-crypto`, and key material arrives wrapped. Records are plain data so that the
//! two backends (embedded SQLite, PostgreSQL) can map them to near-identical SQL.
//!
//! Concurrency model: a secret is one row plus its version rows. Every change to a secret
//! is a compare-and-swap on the secret's `revision`, so label moves (read-modify-write)
//! serialise per secret whether the writers are tasks of one process or nodes sharing a
//! database. The domain reloads and retries on [`StoreError::Conflict`].
//!
//! Architecture Invariant: this crate knows nothing of HTTP, AWS protocols, SQL or keys.

mod records;

#[cfg(feature = "behaviour-suite")]
pub mod behaviour;

use std::future::Future;

pub use records::*;

/// What a backend can fail with. The domain maps these; none carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A secret with this account, region and name already exists.
    #[error("a secret with this name already exists")]
    NameTaken,
    /// The secret's revision moved since it was read: another writer got there first.
    #[error("the secret changed concurrently")]
    Conflict,
    /// The secret does not exist (any more).
    #[error("the secret does not exist")]
    NotFound,
    /// The backend could not be reached or failed; the request may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back as a record (corruption or a foreign schema).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What [`Store::insert_access_key`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKeyInsert {
    Inserted,
    /// A key with this id exists; nothing was written.
    IdTaken,
    /// The user has `max_per_user` keys already; nothing was written.
    QuotaReached,
}

/// The storage trait. Methods are async (`impl Future + Send`) so that a networked backend
/// fits; the embedded backend runs its SQLite calls on the blocking pool.
pub trait Store: Send + Sync + 'static {
    /// Loads a secret and the metadata of all its versions, by name.
    fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<SecretAggregate>>> + Send;

    /// Loads a secret and the metadata of all its versions, by full ARN.
    fn secret_by_arn(
        &self,
        arn: &str,
    ) -> impl Future<Output = StoreResult<Option<SecretAggregate>>> + Send;

    /// The sealed value of one version; `None` when the version does not exist or holds no
    /// value (a rotation placeholder).
    fn version_ciphertext(
        &self,
        arn: &str,
        version_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    /// Inserts a new secret with its first versions. Fails with [`StoreError::NameTaken`]
    /// when the name is in use in that account and region.
    fn create_secret(
        &self,
        secret: SecretRecord,
        versions: Vec<VersionWrite>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Applies a change to an existing secret if its revision is still
    /// `change.expected_revision`; the stored revision becomes `change.secret.revision`.
    fn update_secret(&self, change: SecretChange) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes a secret and all its versions for good. With `expected_revision`, only if the
    /// secret is still at that revision (so a purge never removes a secret restored since it
    /// was read). Returns whether a secret was removed.
    fn delete_secret(
        &self,
        arn: &str,
        expected_revision: Option<i64>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Records that a version was read on `day` (epoch milliseconds of 00:00 UTC). Access
    /// dates are outside the compare-and-swap record on purpose: a read must never make a
    /// concurrent writer retry, and a writer must never roll an access date back.
    fn record_access(
        &self,
        arn: &str,
        version_id: &str,
        day: i64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// One page of secrets in the order the query asks for, starting after its cursor.
    fn list_secrets(
        &self,
        query: &ListQuery,
    ) -> impl Future<Output = StoreResult<Vec<SecretRecord>>> + Send;

    /// ARNs of secrets whose scheduled deletion date is at or before `now`.
    fn secrets_due_for_deletion(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;

    /// ARNs of secrets whose next rotation is at or before `now`, earliest first.
    fn secrets_due_for_rotation(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;

    /// Takes the lease `name` for `holder` until `now + ttl_ms` when it is free, expired,
    /// or already held by `holder` (a renewal). Returns whether `holder` now holds it. A
    /// background job runs on one node at a time by holding its lease; a node that dies
    /// loses its leases when they expire.
    fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Gives a lease up if `holder` holds it.
    fn release_lease(
        &self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// All key-encryption keys, oldest first.
    fn key_encryption_keys(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<KeyEncryptionKeyRecord>>> + Send;

    /// Stores a key-encryption key; an existing id is left as it is (returns false).
    fn insert_key_encryption_key(
        &self,
        key: KeyEncryptionKeyRecord,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replaces the wrapped material of existing key-encryption keys (root key rotation).
    fn rewrap_key_encryption_keys(
        &self,
        keys: Vec<KeyEncryptionKeyRecord>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Looks up an access key.
    fn access_key(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = StoreResult<Option<AccessKeyRecord>>> + Send;

    /// Stores an access key unless its id exists or, with `max_per_user`, its user already
    /// has that many keys. The count and the insert are one atomic step, so concurrent
    /// inserts cannot exceed the quota together.
    fn insert_access_key(
        &self,
        key: AccessKeyRecord,
        max_per_user: Option<usize>,
    ) -> impl Future<Output = StoreResult<AccessKeyInsert>> + Send;

    /// Changes an access key's status; false when the key does not exist.
    fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Removes an access key; false when it did not exist.
    fn delete_access_key(
        &self,
        access_key_id: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// The access keys of one IAM user (name compared ignoring case), oldest first.
    fn access_keys_of_user(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> impl Future<Output = StoreResult<Vec<AccessKeyRecord>>> + Send;

    /// One IAM entity by name, ignoring case.
    fn iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
    ) -> impl Future<Output = StoreResult<Option<IamEntityRecord>>> + Send;

    /// IAM entities of one kind in name order (ignoring case), after `after` if given.
    fn iam_entities(
        &self,
        account_id: &str,
        kind: IamKind,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<IamEntityRecord>>> + Send;

    /// Creates the entity when `expected_revision` is `None` ([`StoreError::NameTaken`] if
    /// the name is in use), otherwise replaces it if its revision is still the expected one
    /// ([`StoreError::Conflict`] / [`StoreError::NotFound`]). The stored revision becomes
    /// `entity.revision`.
    fn put_iam_entity(
        &self,
        entity: IamEntityRecord,
        expected_revision: Option<i64>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes an entity if it is still at `expected_revision`; false otherwise.
    fn delete_iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
        expected_revision: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// A number that grows with every change to IAM entities or access keys, so that
    /// caches of principals and compiled policies can tell that they are stale.
    fn iam_generation(&self) -> impl Future<Output = StoreResult<i64>> + Send;

    /// One KMS key.
    fn kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> impl Future<Output = StoreResult<Option<KmsKeyRecord>>> + Send;

    /// KMS keys of an account and region in key-id order, after `after` if given.
    fn kms_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<KmsKeyRecord>>> + Send;

    /// Creates a key with its first material and, optionally, an alias naming it, all or
    /// nothing: `false` (nothing written) when the alias exists, so that concurrent creators
    /// of a well-known alias (`alias/aws/secretsmanager`) end up with one key.
    /// A taken key id is [`StoreError::NameTaken`].
    fn create_kms_key(
        &self,
        key: KmsKeyRecord,
        material: KmsMaterialRecord,
        alias: Option<KmsAliasRecord>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Replaces a key's document if its revision is still `expected_revision`
    /// ([`StoreError::Conflict`] / [`StoreError::NotFound`]), adding `new_material` (a
    /// rotation) in the same step. The stored revision becomes `key.revision`.
    fn update_kms_key(
        &self,
        key: KmsKeyRecord,
        expected_revision: i64,
        new_material: Option<KmsMaterialRecord>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Removes a key, its material and the aliases naming it, if it is still at
    /// `expected_revision`; false otherwise.
    fn delete_kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        expected_revision: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Every material version of a key, oldest first.
    fn kms_materials(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<KmsMaterialRecord>>> + Send;

    /// One alias by its full name (`alias/...`).
    fn kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> impl Future<Output = StoreResult<Option<KmsAliasRecord>>> + Send;

    /// Aliases of an account and region in name order, after `after` if given.
    fn kms_aliases(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<KmsAliasRecord>>> + Send;

    /// Creates an alias; false when the name is taken.
    fn create_kms_alias(
        &self,
        alias: KmsAliasRecord,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Points an existing alias at another key; false when the alias does not exist.
    fn update_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
        target_key_id: &str,
        updated_at: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Removes an alias; false when it did not exist.
    fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// A number that grows with every change to KMS keys or aliases, so that caches of key
    /// states and material can tell that they are stale.
    fn kms_generation(&self) -> impl Future<Output = StoreResult<i64>> + Send;

    /// Appends audit records in order, in one transaction: each gets the next sequence
    /// number and the hash `link(seq, previous hash, record)`. Returns their sequence numbers.
    fn append_audit_records(
        &self,
        records: std::sync::Arc<Vec<NewAuditRecord>>,
        link: AuditLink,
    ) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;

    /// The last record's sequence number and hash.
    fn audit_head(&self) -> impl Future<Output = StoreResult<Option<(i64, Vec<u8>)>>> + Send;

    /// Records after `after_seq`, in order (for verification).
    fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<AuditRecordRow>>> + Send;

    /// Records matching a LookupEvents query, newest first.
    fn lookup_audit_records(
        &self,
        query: AuditQuery,
    ) -> impl Future<Output = StoreResult<Vec<AuditRecordRow>>> + Send;

    /// Stores a signed digest (a digest at an existing `seq` is kept as it is).
    fn append_audit_digest(
        &self,
        digest: AuditDigestRow,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Every digest, in order.
    fn audit_digests(&self) -> impl Future<Output = StoreResult<Vec<AuditDigestRow>>> + Send;

    /// Retention: removes records older than `before_time` and the digests before the first
    /// record kept. Returns how many records were removed.
    fn purge_audit_records(
        &self,
        before_time: i64,
    ) -> impl Future<Output = StoreResult<u64>> + Send;

    /// A small named value the server keeps for itself (e.g. the pagination token key,
    /// wrapped). Returns the stored value, inserting `value` first if the name was free, so
    /// that concurrent first starts agree on one value.
    fn setting_or_insert(
        &self,
        name: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    /// Flushes and closes the backend; later calls fail with `Unavailable`.
    fn close(&self) -> impl Future<Output = StoreResult<()>> + Send;
}
