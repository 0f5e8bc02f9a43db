//! Plain records. Times are epoch milliseconds (UTC) so both backends store integers.

use std::collections::BTreeMap;

/// A secret's metadata: everything but its versions. `revision` is the compare-and-swap
/// counter of [`crate::Store::update_secret`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretRecord {
    /// Full ARN, `-XXXXXX` suffix included. Unique forever (never reused), so it is the key.
    pub arn: String,
    pub account_id: String,
    pub region: String,
    pub name: String,
    /// `None` when empty: AWS reports no description rather than an empty one.
    pub description: Option<String>,
    /// The customer managed key the secret is encrypted under; `None` = the default key.
    pub kms_key_id: Option<String>,
    pub created_at: i64,
    pub last_changed_at: i64,
    /// Day (00:00 UTC) of the latest read of any version; maintained by `record_access`.
    pub last_accessed_day: Option<i64>,
    /// When the scheduled deletion takes effect; `None` when not scheduled.
    pub deletion_date: Option<i64>,
    /// `None` = never tagged (AWS omits `Tags`); `Some(vec![])` = tags were all removed.
    pub tags: Option<Vec<Tag>>,
    /// The secret's resource policy, exactly as it was put.
    pub resource_policy: Option<String>,
    /// Staging label -> the one version holding it. A map makes "a label is attached to at
    /// most one version" true by construction.
    pub stages: BTreeMap<String, String>,
    /// Rotation configuration and progress, a document the domain owns (JSON); `None` when
    /// rotation was never configured.
    pub rotation: Option<String>,
    /// When the scheduler should next start a rotation; `None` when none is due. Indexed,
    /// so that finding due rotations never reads every secret.
    pub next_rotation_at: Option<i64>,
    pub revision: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A version without its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionMeta {
    pub version_id: String,
    pub created_at: i64,
    pub last_accessed_day: Option<i64>,
    /// Key the value is sealed under; `None` = the default key.
    pub kms_key_id: Option<String>,
    /// False for a rotation placeholder that does not hold a value yet.
    pub has_value: bool,
}

/// A secret with the metadata of all its versions, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretAggregate {
    pub secret: SecretRecord,
    pub versions: Vec<VersionMeta>,
}

/// A version to insert, or to replace when its id exists (filling a rotation placeholder,
/// re-encrypting under another key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionWrite {
    pub meta: VersionMeta,
    /// Sealed value; `None` only for a placeholder (then `meta.has_value` is false).
    pub ciphertext: Option<Vec<u8>>,
}

/// A compare-and-swap change to one secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretChange {
    /// The new metadata; its `revision` is the new revision.
    pub secret: SecretRecord,
    pub expected_revision: i64,
    pub put_versions: Vec<VersionWrite>,
    pub delete_versions: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortBy {
    CreatedDate,
    LastAccessedDate,
    LastChangedDate,
    Name,
}

/// Position of the last row of the previous page: (sort value, ARN). The ARN breaks ties so
/// that paging never skips or repeats a secret while others are inserted or deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor {
    pub sort_value: SortValue,
    pub arn: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortValue {
    /// Dates; a never-accessed secret sorts as 0.
    Time(i64),
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub account_id: String,
    pub region: String,
    pub include_planned_deletion: bool,
    pub sort_by: SortBy,
    pub descending: bool,
    pub after: Option<ListCursor>,
    /// Only names starting with this (an index range, pushed down from a `name` filter).
    pub name_prefix: Option<String>,
    pub limit: usize,
}

impl SortValue {
    /// The sort value of a secret for a given ordering.
    pub fn of(secret: &SecretRecord, sort_by: SortBy) -> SortValue {
        match sort_by {
            SortBy::CreatedDate => SortValue::Time(secret.created_at),
            SortBy::LastChangedDate => SortValue::Time(secret.last_changed_at),
            SortBy::LastAccessedDate => SortValue::Time(secret.last_accessed_day.unwrap_or(0)),
            SortBy::Name => SortValue::Name(secret.name.clone()),
        }
    }
}

/// A key-encryption key, wrapped under the root key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEncryptionKeyRecord {
    pub key_id: String,
    pub wrapped_material: Vec<u8>,
    pub created_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

/// An access key. The secret access key is sealed (SigV4 needs the key itself, so it cannot
/// be hashed); only `coffer-crypto` can open it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub account_id: String,
    /// The IAM user the key belongs to.
    pub user_name: String,
    pub sealed_secret_access_key: Vec<u8>,
    pub status: AccessKeyStatus,
    pub created_at: i64,
}

/// The kinds of IAM entity an account holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IamKind {
    User,
    Group,
    Role,
    /// A customer managed policy.
    Policy,
}

impl IamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IamKind::User => "user",
            IamKind::Group => "group",
            IamKind::Role => "role",
            IamKind::Policy => "policy",
        }
    }
}

/// An IAM entity. Its attributes are a document owned by the domain (the store keeps them
/// opaque); names are unique per account and kind **ignoring case**, as in IAM, while the
/// name keeps the case it was created with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamEntityRecord {
    pub account_id: String,
    pub kind: IamKind,
    pub name: String,
    /// JSON document of the entity's attributes, written and read by the domain.
    pub document: String,
    pub created_at: i64,
    /// Compare-and-swap counter, as for secrets.
    pub revision: i64,
}

/// A KMS key. Its attributes (state, usage, policy, tags, rotation settings, ...) are a
/// document owned by the domain; the store keeps it opaque. Key ids are unique per account
/// and region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKeyRecord {
    pub account_id: String,
    pub region: String,
    pub key_id: String,
    /// JSON document of the key's attributes, written and read by the domain.
    pub document: String,
    pub created_at: i64,
    /// Compare-and-swap counter, as for secrets.
    pub revision: i64,
}

/// One version of a KMS key's backing key material, sealed under the keyring: the store
/// never holds it in the clear.
#[derive(Clone, PartialEq, Eq)]
pub struct KmsMaterialRecord {
    pub account_id: String,
    pub region: String,
    pub key_id: String,
    pub material_id: String,
    pub sealed_material: Vec<u8>,
    pub created_at: i64,
}

impl std::fmt::Debug for KmsMaterialRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsMaterialRecord")
            .field("key_id", &self.key_id)
            .field("material_id", &self.material_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A KMS alias (`alias/...`), unique per account and region (case-sensitive, as in KMS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsAliasRecord {
    pub account_id: String,
    pub region: String,
    pub alias_name: String,
    pub target_key_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An audit record to append: the CloudTrail-format JSON and the fields LookupEvents filters
/// on. The store gives it its sequence number and chain hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditRecord {
    pub account_id: String,
    pub region: String,
    pub event_time: i64,
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub read_only: bool,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    /// `(ResourceType, ResourceName)` pairs.
    pub resources: Vec<(String, String)>,
    /// The record, as JSON text; what the chain hashes.
    pub record: String,
}

/// A stored audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecordRow {
    /// Position in the trail: 1, 2, 3, ... with no gaps, except before the first record a
    /// retention purge kept.
    pub seq: i64,
    pub entry: NewAuditRecord,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// A signed digest of the trail's head at `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditDigestRow {
    pub seq: i64,
    pub head_hash: Vec<u8>,
    pub created_at: i64,
    pub public_key: Vec<u8>,
    pub signature: Vec<u8>,
}

/// LookupEvents' filter attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAttribute {
    EventId,
    EventName,
    ReadOnly,
    Username,
    ResourceType,
    ResourceName,
    EventSource,
    AccessKeyId,
}

/// A page of LookupEvents: newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    pub account_id: String,
    pub region: String,
    pub attribute: Option<(AuditAttribute, String)>,
    pub start_time: i64,
    pub end_time: i64,
    /// Only records before this sequence number (the page cursor).
    pub before_seq: Option<i64>,
    pub limit: usize,
}

/// How the chain links a record to its predecessor: `(seq, previous hash, record) -> hash`.
pub type AuditLink = fn(u64, &[u8], &[u8]) -> [u8; 32];
