//! The statements behind each store method: the embedded store's SQL, with PostgreSQL
//! placeholders and the row locks that one SQLite writer made unnecessary.

use std::collections::BTreeMap;

use coffer_store::{
    AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, IamEntityRecord, IamKind,
    KeyEncryptionKeyRecord, ListQuery, SecretAggregate, SecretChange, SecretRecord, SortBy,
    SortValue, StoreError, Tag, VersionMeta, VersionWrite,
};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::failure::{Outcome, corrupt};

const SECRET_COLUMNS: &str = "arn, account_id, region, name, description, kms_key_id, created_at, \
     last_changed_at, last_accessed_day, deletion_date, tags, stages, revision, resource_policy, \
     rotation, next_rotation_at";

/// `usize` limits as the `BIGINT` that `LIMIT` takes.
pub(crate) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn secret_from_row(row: &Row) -> Outcome<SecretRecord> {
    let tags: Option<String> = row.try_get(10)?;
    let stages: String = row.try_get(11)?;
    Ok(SecretRecord {
        arn: row.try_get(0)?,
        account_id: row.try_get(1)?,
        region: row.try_get(2)?,
        name: row.try_get(3)?,
        description: row.try_get(4)?,
        kms_key_id: row.try_get(5)?,
        created_at: row.try_get(6)?,
        last_changed_at: row.try_get(7)?,
        last_accessed_day: row.try_get(8)?,
        deletion_date: row.try_get(9)?,
        tags: tags.as_deref().map(decode_tags).transpose()?,
        stages: serde_json::from_str(&stages).map_err(|e| corrupt(format!("stages: {e}")))?,
        revision: row.try_get(12)?,
        resource_policy: row.try_get(13)?,
        rotation: row.try_get(14)?,
        next_rotation_at: row.try_get(15)?,
    })
}

fn encode_tags(tags: &[Tag]) -> String {
    let pairs: Vec<[&str; 2]> = tags
        .iter()
        .map(|t| [t.key.as_str(), t.value.as_str()])
        .collect();
    serde_json::to_string(&pairs).expect("string pairs always serialise")
}

fn decode_tags(text: &str) -> Outcome<Vec<Tag>> {
    let pairs: Vec<[String; 2]> =
        serde_json::from_str(text).map_err(|e| corrupt(format!("tags: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|[key, value]| Tag { key, value })
        .collect())
}

fn encode_stages(stages: &BTreeMap<String, String>) -> String {
    serde_json::to_string(stages).expect("a string map always serialises")
}

/// The secret and its versions in one statement: one round trip, and one snapshot, so the
/// versions always belong to the revision of the secret read with them.
async fn load_secret(
    c: &impl GenericClient,
    condition: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Outcome<Option<SecretAggregate>> {
    let sql = format!(
        "WITH s AS (SELECT {SECRET_COLUMNS} FROM secrets WHERE {condition}) \
         SELECT s.*, v.version_id, v.created_at, v.last_accessed_day, v.kms_key_id, v.has_value \
         FROM s LEFT JOIN secret_versions v ON v.arn = s.arn \
         ORDER BY v.created_at, v.version_id"
    );
    let statement = c.prepare_cached(&sql).await?;
    let rows = c.query(&statement, args).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let secret = secret_from_row(first)?;
    let mut versions = Vec::with_capacity(rows.len());
    for row in &rows {
        let Some(version_id) = row.try_get::<_, Option<String>>(16)? else {
            continue; // the outer join's row for a secret without versions
        };
        versions.push(VersionMeta {
            version_id,
            created_at: row.try_get(17)?,
            last_accessed_day: row.try_get(18)?,
            kms_key_id: row.try_get(19)?,
            has_value: row.try_get(20)?,
        });
    }
    Ok(Some(SecretAggregate { secret, versions }))
}

pub async fn secret_by_name(
    c: &impl GenericClient,
    account_id: &str,
    region: &str,
    name: &str,
) -> Outcome<Option<SecretAggregate>> {
    load_secret(
        c,
        "account_id = $1 AND region = $2 AND name = $3",
        &[&account_id, &region, &name],
    )
    .await
}

pub async fn secret_by_arn(c: &impl GenericClient, arn: &str) -> Outcome<Option<SecretAggregate>> {
    load_secret(c, "arn = $1", &[&arn]).await
}

pub async fn version_ciphertext(
    c: &impl GenericClient,
    arn: &str,
    version_id: &str,
) -> Outcome<Option<Vec<u8>>> {
    let statement = c
        .prepare_cached("SELECT ciphertext FROM secret_versions WHERE arn = $1 AND version_id = $2")
        .await?;
    let row = c.query_opt(&statement, &[&arn, &version_id]).await?;
    Ok(match row {
        Some(row) => row.try_get(0)?,
        None => None,
    })
}

async fn put_versions(tx: &Transaction<'_>, arn: &str, versions: &[VersionWrite]) -> Outcome<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "INSERT INTO secret_versions \
                 (arn, version_id, created_at, last_accessed_day, kms_key_id, has_value, ciphertext) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (arn, version_id) DO UPDATE SET \
                 kms_key_id = excluded.kms_key_id, has_value = excluded.has_value, \
                 ciphertext = excluded.ciphertext",
        )
        .await?;
    for version in versions {
        tx.execute(
            &statement,
            &[
                &arn,
                &version.meta.version_id,
                &version.meta.created_at,
                &version.meta.last_accessed_day,
                &version.meta.kms_key_id,
                &version.ciphertext.is_some(),
                &version.ciphertext,
            ],
        )
        .await?;
    }
    Ok(())
}

pub async fn create_secret(
    tx: &Transaction<'_>,
    secret: &SecretRecord,
    versions: &[VersionWrite],
) -> Outcome<()> {
    // ON CONFLICT without a target covers the name's unique constraint as well as the ARN:
    // a concurrent creator of the same name makes this wait for its commit, then do nothing.
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO secrets ({SECRET_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
             ON CONFLICT DO NOTHING"
        ))
        .await?;
    let inserted = tx
        .execute(
            &statement,
            &[
                &secret.arn,
                &secret.account_id,
                &secret.region,
                &secret.name,
                &secret.description,
                &secret.kms_key_id,
                &secret.created_at,
                &secret.last_changed_at,
                &secret.last_accessed_day,
                &secret.deletion_date,
                &secret.tags.as_deref().map(encode_tags),
                &encode_stages(&secret.stages),
                &secret.revision,
                &secret.resource_policy,
                &secret.rotation,
                &secret.next_rotation_at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::NameTaken.into());
    }
    put_versions(tx, &secret.arn, versions).await
}

pub async fn update_secret(tx: &Transaction<'_>, change: &SecretChange) -> Outcome<()> {
    let secret = &change.secret;
    // The compare-and-swap. Under READ COMMITTED a concurrent writer of the same row makes
    // this wait for its commit, then re-checks `revision` against the row it committed: of
    // writers expecting the same revision exactly one matches. The row lock taken here is
    // held to the end, so the version rows below change under it, one writer at a time.
    let statement = tx
        .prepare_cached(
            "UPDATE secrets SET description = $1, kms_key_id = $2, last_changed_at = $3, \
                 deletion_date = $4, tags = $5, stages = $6, revision = $7, resource_policy = $10, \
                 rotation = $11, next_rotation_at = $12 \
             WHERE arn = $8 AND revision = $9",
        )
        .await?;
    let updated = tx
        .execute(
            &statement,
            &[
                &secret.description,
                &secret.kms_key_id,
                &secret.last_changed_at,
                &secret.deletion_date,
                &secret.tags.as_deref().map(encode_tags),
                &encode_stages(&secret.stages),
                &secret.revision,
                &secret.arn,
                &change.expected_revision,
                &secret.resource_policy,
                &secret.rotation,
                &secret.next_rotation_at,
            ],
        )
        .await?;
    if updated == 0 {
        let exists = tx
            .prepare_cached("SELECT 1 FROM secrets WHERE arn = $1")
            .await?;
        let exists = tx.query_opt(&exists, &[&secret.arn]).await?.is_some();
        return Err(if exists {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        }
        .into());
    }
    put_versions(tx, &secret.arn, &change.put_versions).await?;
    if !change.delete_versions.is_empty() {
        let delete = tx
            .prepare_cached("DELETE FROM secret_versions WHERE arn = $1 AND version_id = ANY($2)")
            .await?;
        tx.execute(&delete, &[&secret.arn, &change.delete_versions])
            .await?;
    }
    Ok(())
}

pub async fn delete_secret(
    tx: &Transaction<'_>,
    arn: &str,
    expected_revision: Option<i64>,
) -> Outcome<bool> {
    // Versions go with the secret through ON DELETE CASCADE.
    let statement = tx
        .prepare_cached(
            "DELETE FROM secrets WHERE arn = $1 AND ($2::BIGINT IS NULL OR revision = $2)",
        )
        .await?;
    let deleted = tx.execute(&statement, &[&arn, &expected_revision]).await?;
    Ok(deleted > 0)
}

pub async fn record_access(
    tx: &Transaction<'_>,
    arn: &str,
    version_id: &str,
    day: i64,
) -> Outcome<()> {
    // Secret before version, the order update_secret locks them in, so the two never
    // deadlock. The conditions make each update move forward only, whatever the interleaving.
    let secret = tx
        .prepare_cached(
            "UPDATE secrets SET last_accessed_day = $2 \
             WHERE arn = $1 AND (last_accessed_day IS NULL OR last_accessed_day < $2)",
        )
        .await?;
    tx.execute(&secret, &[&arn, &day]).await?;
    let version = tx
        .prepare_cached(
            "UPDATE secret_versions SET last_accessed_day = $3 \
             WHERE arn = $1 AND version_id = $2 \
             AND (last_accessed_day IS NULL OR last_accessed_day < $3)",
        )
        .await?;
    tx.execute(&version, &[&arn, &version_id, &day]).await?;
    Ok(())
}

/// A `name` prefix matching at least this many secrets is "dense": walking the sort index
/// and filtering finds a page quickly. A sparse prefix is cheaper read through the name
/// index and sorted. Counting up to the threshold costs one bounded index range scan.
const DENSE_PREFIX: i64 = 2_000;

pub async fn list_secrets(c: &impl GenericClient, query: &ListQuery) -> Outcome<Vec<SecretRecord>> {
    let sort_column = match query.sort_by {
        SortBy::CreatedDate => "created_at",
        SortBy::LastChangedDate => "last_changed_at",
        // The same expression as the index secrets_by_accessed, so that the index serves it.
        SortBy::LastAccessedDate => "COALESCE(last_accessed_day, 0)",
        SortBy::Name => "name",
    };
    let (direction, after) = if query.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let upper = query.name_prefix.as_deref().and_then(prefix_upper_bound);
    let limit = limit(query.limit);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&query.account_id, &query.region];
    let mut conditions = String::from("account_id = $1 AND region = $2");
    if !query.include_planned_deletion {
        conditions.push_str(" AND deletion_date IS NULL");
    }
    if let Some(prefix) = &query.name_prefix {
        params.push(prefix);
        let p = params.len();
        let range = match &upper {
            Some(upper) => {
                query.sort_by == SortBy::Name || !dense_prefix(c, query, prefix, upper).await?
            }
            None => false,
        };
        match &upper {
            Some(upper) if range => {
                params.push(upper);
                conditions.push_str(&format!(" AND name >= ${p} AND name < ${}", params.len()));
            }
            // PostgreSQL takes no index hints (SQLite's INDEXED BY): a condition the name
            // index cannot serve leaves the planner the sort index to walk.
            _ => conditions.push_str(&format!(" AND substr(name, 1, length(${p}::TEXT)) = ${p}")),
        }
    }
    if let Some(cursor) = &query.after {
        match &cursor.sort_value {
            SortValue::Time(t) => params.push(t),
            SortValue::Name(n) => params.push(n),
        }
        params.push(&cursor.arn);
        let (v, a) = (params.len() - 1, params.len());
        // A row-value comparison lets the index scan start at the cursor.
        conditions.push_str(&format!(" AND ({sort_column}, arn) {after} (${v}, ${a})"));
    }
    params.push(&limit);
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM secrets WHERE {conditions} \
         ORDER BY {sort_column} {direction}, arn {direction} LIMIT ${}",
        params.len()
    );
    let statement = c.prepare_cached(&sql).await?;
    let rows = c.query(&statement, &params).await?;
    rows.iter().map(secret_from_row).collect()
}

/// The smallest string greater than every string starting with `prefix`, when it can be
/// formed by incrementing the last character (names and filter values are ASCII).
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let last = prefix.chars().last()?;
    let next = char::from_u32(last as u32 + 1).filter(|c| c.is_ascii())?;
    let mut upper = prefix[..prefix.len() - last.len_utf8()].to_owned();
    upper.push(next);
    Some(upper)
}

async fn dense_prefix(
    c: &impl GenericClient,
    query: &ListQuery,
    prefix: &str,
    upper: &str,
) -> Outcome<bool> {
    let statement = c
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM secrets \
             WHERE account_id = $1 AND region = $2 AND name >= $3 AND name < $4 LIMIT $5) AS page",
        )
        .await?;
    let count: i64 = c
        .query_one(
            &statement,
            &[
                &query.account_id,
                &query.region,
                &prefix,
                &upper,
                &DENSE_PREFIX,
            ],
        )
        .await?
        .try_get(0)?;
    Ok(count >= DENSE_PREFIX)
}

pub async fn secrets_due_for_deletion(
    c: &impl GenericClient,
    now: i64,
    limit: usize,
) -> Outcome<Vec<String>> {
    secrets_due(
        c,
        "SELECT arn FROM secrets WHERE deletion_date IS NOT NULL AND deletion_date <= $1 \
         ORDER BY deletion_date LIMIT $2",
        now,
        limit,
    )
    .await
}

pub async fn secrets_due_for_rotation(
    c: &impl GenericClient,
    now: i64,
    limit: usize,
) -> Outcome<Vec<String>> {
    secrets_due(
        c,
        "SELECT arn FROM secrets WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= $1 \
         ORDER BY next_rotation_at LIMIT $2",
        now,
        limit,
    )
    .await
}

/// ARNs selected by `sql` (a due-date query taking `now` and `limit`), earliest first.
async fn secrets_due(
    c: &impl GenericClient,
    sql: &str,
    now: i64,
    limit: usize,
) -> Outcome<Vec<String>> {
    let statement = c.prepare_cached(sql).await?;
    let rows = c.query(&statement, &[&now, &self::limit(limit)]).await?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}

pub async fn acquire_lease(
    tx: &Transaction<'_>,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> Outcome<bool> {
    // One statement: the conflicting row is locked and the condition evaluated on its latest
    // version, so two nodes taking an expired lease cannot both get it.
    let statement = tx
        .prepare_cached(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .await?;
    let taken = tx
        .execute(
            &statement,
            &[&name, &holder, &now.saturating_add(ttl_ms), &now],
        )
        .await?;
    Ok(taken == 1)
}

pub async fn release_lease(tx: &Transaction<'_>, name: &str, holder: &str) -> Outcome<()> {
    let statement = tx
        .prepare_cached("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .await?;
    tx.execute(&statement, &[&name, &holder]).await?;
    Ok(())
}

pub async fn key_encryption_keys(c: &impl GenericClient) -> Outcome<Vec<KeyEncryptionKeyRecord>> {
    let statement = c
        .prepare_cached(
            "SELECT key_id, wrapped_material, created_at FROM key_encryption_keys \
             ORDER BY created_at, key_id",
        )
        .await?;
    let rows = c.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(KeyEncryptionKeyRecord {
                key_id: row.try_get(0)?,
                wrapped_material: row.try_get(1)?,
                created_at: row.try_get(2)?,
            })
        })
        .collect()
}

pub async fn insert_key_encryption_key(
    tx: &Transaction<'_>,
    key: &KeyEncryptionKeyRecord,
) -> Outcome<bool> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO key_encryption_keys (key_id, wrapped_material, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .await?;
    let inserted = tx
        .execute(
            &statement,
            &[&key.key_id, &key.wrapped_material, &key.created_at],
        )
        .await?;
    Ok(inserted > 0)
}

pub async fn rewrap_key_encryption_keys(
    tx: &Transaction<'_>,
    keys: &[KeyEncryptionKeyRecord],
) -> Outcome<()> {
    let statement = tx
        .prepare_cached("UPDATE key_encryption_keys SET wrapped_material = $2 WHERE key_id = $1")
        .await?;
    for key in keys {
        let updated = tx
            .execute(&statement, &[&key.key_id, &key.wrapped_material])
            .await?;
        if updated == 0 {
            return Err(StoreError::NotFound.into());
        }
    }
    Ok(())
}

fn status_text(status: AccessKeyStatus) -> &'static str {
    match status {
        AccessKeyStatus::Active => "Active",
        AccessKeyStatus::Inactive => "Inactive",
    }
}

const ACCESS_KEY_COLUMNS: &str =
    "access_key_id, account_id, user_name, sealed_secret_access_key, status, created_at";

fn access_key_from_row(row: &Row) -> Outcome<AccessKeyRecord> {
    let status: String = row.try_get(4)?;
    let status = match status.as_str() {
        "Active" => AccessKeyStatus::Active,
        "Inactive" => AccessKeyStatus::Inactive,
        other => return Err(corrupt(format!("access key status {other:?}"))),
    };
    Ok(AccessKeyRecord {
        access_key_id: row.try_get(0)?,
        account_id: row.try_get(1)?,
        user_name: row.try_get(2)?,
        sealed_secret_access_key: row.try_get(3)?,
        status,
        created_at: row.try_get(5)?,
    })
}

pub async fn access_key(
    c: &impl GenericClient,
    access_key_id: &str,
) -> Outcome<Option<AccessKeyRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = $1"
        ))
        .await?;
    c.query_opt(&statement, &[&access_key_id])
        .await?
        .as_ref()
        .map(access_key_from_row)
        .transpose()
}

/// Locks a generation counter's row for the rest of the transaction. Every IAM write (and
/// every KMS write, for the KMS counter) takes it first, so writers of one kind run one at a
/// time: checks that span rows (the access-key quota) stay true until commit, and, since
/// the counter is always the first lock taken, these writers cannot deadlock each other.
pub(crate) async fn lock_counter(tx: &Transaction<'_>, name: &str) -> Outcome<()> {
    let statement = tx
        .prepare_cached("SELECT value FROM counters WHERE name = $1 FOR UPDATE")
        .await?;
    match tx.query_opt(&statement, &[&name]).await? {
        Some(_) => Ok(()),
        None => Err(corrupt(format!("the counter {name} is missing"))),
    }
}

/// Bumps a counter locked with [`lock_counter`], inside the caller's transaction, so that a
/// change and its generation become visible together.
pub(crate) async fn bump_counter(tx: &Transaction<'_>, name: &str) -> Outcome<()> {
    let statement = tx
        .prepare_cached("UPDATE counters SET value = value + 1 WHERE name = $1")
        .await?;
    tx.execute(&statement, &[&name]).await?;
    Ok(())
}

pub(crate) async fn counter(c: &impl GenericClient, name: &str) -> Outcome<i64> {
    let statement = c
        .prepare_cached("SELECT value FROM counters WHERE name = $1")
        .await?;
    Ok(match c.query_opt(&statement, &[&name]).await? {
        Some(row) => row.try_get(0)?,
        None => 0,
    })
}

const IAM_GENERATION: &str = "iam.generation";

pub async fn insert_access_key(
    tx: &Transaction<'_>,
    key: &AccessKeyRecord,
    max_per_user: Option<usize>,
) -> Outcome<AccessKeyInsert> {
    // Under the IAM lock no other node inserts between the count and the insert.
    lock_counter(tx, IAM_GENERATION).await?;
    if let Some(max) = max_per_user {
        let statement = tx
            .prepare_cached(
                "SELECT count(*) FROM access_keys \
                 WHERE account_id = $1 AND lower(user_name) = lower($2)",
            )
            .await?;
        let held: i64 = tx
            .query_one(&statement, &[&key.account_id, &key.user_name])
            .await?
            .try_get(0)?;
        if held >= limit(max) {
            return Ok(AccessKeyInsert::QuotaReached);
        }
    }
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING"
        ))
        .await?;
    let inserted = tx
        .execute(
            &statement,
            &[
                &key.access_key_id,
                &key.account_id,
                &key.user_name,
                &key.sealed_secret_access_key,
                &status_text(key.status),
                &key.created_at,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(AccessKeyInsert::IdTaken);
    }
    bump_counter(tx, IAM_GENERATION).await?;
    Ok(AccessKeyInsert::Inserted)
}

pub async fn setting_or_insert(tx: &Transaction<'_>, name: &str, value: &[u8]) -> Outcome<Vec<u8>> {
    // Two statements, not one: under READ COMMITTED the SELECT takes a new snapshot, which
    // sees the value of a concurrent first start that the INSERT waited for.
    let insert = tx
        .prepare_cached("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .await?;
    tx.execute(&insert, &[&name, &value]).await?;
    let select = tx
        .prepare_cached("SELECT value FROM settings WHERE name = $1")
        .await?;
    Ok(tx.query_one(&select, &[&name]).await?.try_get(0)?)
}

pub async fn iam_generation(c: &impl GenericClient) -> Outcome<i64> {
    counter(c, IAM_GENERATION).await
}

pub async fn update_access_key_status(
    tx: &Transaction<'_>,
    access_key_id: &str,
    status: AccessKeyStatus,
) -> Outcome<bool> {
    lock_counter(tx, IAM_GENERATION).await?;
    let statement = tx
        .prepare_cached("UPDATE access_keys SET status = $2 WHERE access_key_id = $1")
        .await?;
    let updated = tx
        .execute(&statement, &[&access_key_id, &status_text(status)])
        .await?;
    if updated > 0 {
        bump_counter(tx, IAM_GENERATION).await?;
    }
    Ok(updated > 0)
}

pub async fn delete_access_key(tx: &Transaction<'_>, access_key_id: &str) -> Outcome<bool> {
    lock_counter(tx, IAM_GENERATION).await?;
    let statement = tx
        .prepare_cached("DELETE FROM access_keys WHERE access_key_id = $1")
        .await?;
    let deleted = tx.execute(&statement, &[&access_key_id]).await?;
    if deleted > 0 {
        bump_counter(tx, IAM_GENERATION).await?;
    }
    Ok(deleted > 0)
}

pub async fn access_keys_of_user(
    c: &impl GenericClient,
    account_id: &str,
    user_name: &str,
) -> Outcome<Vec<AccessKeyRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys \
             WHERE account_id = $1 AND lower(user_name) = lower($2) \
             ORDER BY created_at, access_key_id"
        ))
        .await?;
    let rows = c.query(&statement, &[&account_id, &user_name]).await?;
    rows.iter().map(access_key_from_row).collect()
}

fn kind_from_text(text: &str) -> Outcome<IamKind> {
    Ok(match text {
        "user" => IamKind::User,
        "group" => IamKind::Group,
        "role" => IamKind::Role,
        "policy" => IamKind::Policy,
        other => return Err(corrupt(format!("IAM entity kind {other:?}"))),
    })
}

const IAM_COLUMNS: &str = "account_id, kind, name, document, created_at, revision";

fn iam_entity_from_row(row: &Row) -> Outcome<IamEntityRecord> {
    let kind: String = row.try_get(1)?;
    Ok(IamEntityRecord {
        account_id: row.try_get(0)?,
        kind: kind_from_text(&kind)?,
        name: row.try_get(2)?,
        document: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revision: row.try_get(5)?,
    })
}

pub async fn iam_entity(
    c: &impl GenericClient,
    account_id: &str,
    kind: IamKind,
    name: &str,
) -> Outcome<Option<IamEntityRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {IAM_COLUMNS} FROM iam_entities \
             WHERE account_id = $1 AND kind = $2 AND name_key = $3"
        ))
        .await?;
    c.query_opt(
        &statement,
        &[&account_id, &kind.as_str(), &name.to_lowercase()],
    )
    .await?
    .as_ref()
    .map(iam_entity_from_row)
    .transpose()
}

pub async fn iam_entities(
    c: &impl GenericClient,
    account_id: &str,
    kind: IamKind,
    after: Option<&str>,
    limit: usize,
) -> Outcome<Vec<IamEntityRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {IAM_COLUMNS} FROM iam_entities \
             WHERE account_id = $1 AND kind = $2 AND name_key > $3 \
             ORDER BY name_key LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(
            &statement,
            &[
                &account_id,
                &kind.as_str(),
                &after.map(str::to_lowercase).unwrap_or_default(),
                &self::limit(limit),
            ],
        )
        .await?;
    rows.iter().map(iam_entity_from_row).collect()
}

pub async fn put_iam_entity(
    tx: &Transaction<'_>,
    entity: &IamEntityRecord,
    expected_revision: Option<i64>,
) -> Outcome<()> {
    lock_counter(tx, IAM_GENERATION).await?;
    let key = entity.name.to_lowercase();
    let changed = match expected_revision {
        None => {
            let statement = tx
                .prepare_cached(
                    "INSERT INTO iam_entities \
                         (account_id, kind, name_key, name, document, created_at, revision) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .await?;
            tx.execute(
                &statement,
                &[
                    &entity.account_id,
                    &entity.kind.as_str(),
                    &key,
                    &entity.name,
                    &entity.document,
                    &entity.created_at,
                    &entity.revision,
                ],
            )
            .await?
        }
        Some(expected) => {
            let statement = tx
                .prepare_cached(
                    "UPDATE iam_entities SET document = $4, revision = $5 \
                     WHERE account_id = $1 AND kind = $2 AND name_key = $3 AND revision = $6",
                )
                .await?;
            tx.execute(
                &statement,
                &[
                    &entity.account_id,
                    &entity.kind.as_str(),
                    &key,
                    &entity.document,
                    &entity.revision,
                    &expected,
                ],
            )
            .await?
        }
    };
    if changed == 0 {
        return Err(match expected_revision {
            None => StoreError::NameTaken,
            Some(_)
                if iam_entity(tx, &entity.account_id, entity.kind, &entity.name)
                    .await?
                    .is_some() =>
            {
                StoreError::Conflict
            }
            Some(_) => StoreError::NotFound,
        }
        .into());
    }
    bump_counter(tx, IAM_GENERATION).await
}

pub async fn delete_iam_entity(
    tx: &Transaction<'_>,
    account_id: &str,
    kind: IamKind,
    name: &str,
    expected_revision: i64,
) -> Outcome<bool> {
    lock_counter(tx, IAM_GENERATION).await?;
    let statement = tx
        .prepare_cached(
            "DELETE FROM iam_entities \
             WHERE account_id = $1 AND kind = $2 AND name_key = $3 AND revision = $4",
        )
        .await?;
    let deleted = tx
        .execute(
            &statement,
            &[
                &account_id,
                &kind.as_str(),
                &name.to_lowercase(),
                &expected_revision,
            ],
        )
        .await?;
    if deleted > 0 {
        bump_counter(tx, IAM_GENERATION).await?;
    }
    Ok(deleted > 0)
}
