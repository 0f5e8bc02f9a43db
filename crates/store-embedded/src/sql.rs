//! The statements behind each store method. Kept to SQL that PostgreSQL also accepts
//! (modulo placeholders), so the two backends read alike.

use std::collections::BTreeMap;

use coffer_store::{
    AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, IamEntityRecord, IamKind,
    KeyEncryptionKeyRecord, ListQuery, SecretAggregate, SecretChange, SecretRecord, SortBy,
    SortValue, StoreError, StoreResult, Tag, VersionMeta, VersionWrite,
};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

const SECRET_COLUMNS: &str = "arn, account_id, region, name, description, kms_key_id, created_at, \
     last_changed_at, last_accessed_day, deletion_date, tags, stages, revision, resource_policy, \
     rotation, next_rotation_at";

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn secret_from_row(row: &Row<'_>) -> rusqlite::Result<(SecretRecord, Option<String>, String)> {
    let tags: Option<String> = row.get(10)?;
    let stages: String = row.get(11)?;
    Ok((
        SecretRecord {
            arn: row.get(0)?,
            account_id: row.get(1)?,
            region: row.get(2)?,
            name: row.get(3)?,
            description: row.get(4)?,
            kms_key_id: row.get(5)?,
            created_at: row.get(6)?,
            last_changed_at: row.get(7)?,
            last_accessed_day: row.get(8)?,
            deletion_date: row.get(9)?,
            tags: None,
            stages: BTreeMap::new(),
            revision: row.get(12)?,
            resource_policy: row.get(13)?,
            rotation: row.get(14)?,
            next_rotation_at: row.get(15)?,
        },
        tags,
        stages,
    ))
}

fn finish_secret(
    (mut secret, tags, stages): (SecretRecord, Option<String>, String),
) -> StoreResult<SecretRecord> {
    secret.tags = tags.as_deref().map(decode_tags).transpose()?;
    secret.stages =
        serde_json::from_str(&stages).map_err(|e| StoreError::Corrupt(format!("stages: {e}")))?;
    Ok(secret)
}

fn encode_tags(tags: &[Tag]) -> String {
    let pairs: Vec<[&str; 2]> = tags
        .iter()
        .map(|t| [t.key.as_str(), t.value.as_str()])
        .collect();
    serde_json::to_string(&pairs).expect("string pairs always serialise")
}

fn decode_tags(text: &str) -> StoreResult<Vec<Tag>> {
    let pairs: Vec<[String; 2]> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("tags: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|[key, value]| Tag { key, value })
        .collect())
}

fn encode_stages(stages: &BTreeMap<String, String>) -> String {
    serde_json::to_string(stages).expect("a string map always serialises")
}

fn load_secret(
    c: &Connection,
    condition: &str,
    args: &[&dyn rusqlite::ToSql],
) -> StoreResult<Option<SecretAggregate>> {
    let sql = format!("SELECT {SECRET_COLUMNS} FROM secrets WHERE {condition}");
    let row = c
        .prepare_cached(&sql)
        .map_err(unavailable)?
        .query_row(args, secret_from_row)
        .optional()
        .map_err(unavailable)?;
    let Some(row) = row else { return Ok(None) };
    let secret = finish_secret(row)?;
    let versions = versions_of(c, &secret.arn)?;
    Ok(Some(SecretAggregate { secret, versions }))
}

fn versions_of(c: &Connection, arn: &str) -> StoreResult<Vec<VersionMeta>> {
    let mut statement = c
        .prepare_cached(
            "SELECT version_id, created_at, last_accessed_day, kms_key_id, has_value \
             FROM secret_versions WHERE arn = ?1 ORDER BY created_at, version_id",
        )
        .map_err(unavailable)?;
    let rows = statement
        .query_map([arn], |row| {
            Ok(VersionMeta {
                version_id: row.get(0)?,
                created_at: row.get(1)?,
                last_accessed_day: row.get(2)?,
                kms_key_id: row.get(3)?,
                has_value: row.get(4)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(unavailable)
}

pub fn secret_by_name(
    c: &Connection,
    account_id: &str,
    region: &str,
    name: &str,
) -> StoreResult<Option<SecretAggregate>> {
    load_secret(
        c,
        "account_id = ?1 AND region = ?2 AND name = ?3",
        &[&account_id, &region, &name],
    )
}

pub fn secret_by_arn(c: &Connection, arn: &str) -> StoreResult<Option<SecretAggregate>> {
    load_secret(c, "arn = ?1", &[&arn])
}

pub fn version_ciphertext(
    c: &Connection,
    arn: &str,
    version_id: &str,
) -> StoreResult<Option<Vec<u8>>> {
    let value: Option<Option<Vec<u8>>> = c
        .prepare_cached("SELECT ciphertext FROM secret_versions WHERE arn = ?1 AND version_id = ?2")
        .map_err(unavailable)?
        .query_row([arn, version_id], |row| row.get(0))
        .optional()
        .map_err(unavailable)?;
    Ok(value.flatten())
}

fn put_versions(tx: &Transaction<'_>, arn: &str, versions: &[VersionWrite]) -> StoreResult<()> {
    let mut statement = tx
        .prepare_cached(
            "INSERT INTO secret_versions \
                 (arn, version_id, created_at, last_accessed_day, kms_key_id, has_value, ciphertext) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (arn, version_id) DO UPDATE SET \
                 kms_key_id = excluded.kms_key_id, has_value = excluded.has_value, \
                 ciphertext = excluded.ciphertext",
        )
        .map_err(unavailable)?;
    for version in versions {
        statement
            .execute(params![
                arn,
                version.meta.version_id,
                version.meta.created_at,
                version.meta.last_accessed_day,
                version.meta.kms_key_id,
                version.ciphertext.is_some(),
                version.ciphertext,
            ])
            .map_err(unavailable)?;
    }
    Ok(())
}

pub fn create_secret(
    tx: &Transaction<'_>,
    secret: &SecretRecord,
    versions: &[VersionWrite],
) -> StoreResult<()> {
    let inserted = tx
        .prepare_cached(&format!(
            "INSERT INTO secrets ({SECRET_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(unavailable)?
        .execute(params![
            secret.arn,
            secret.account_id,
            secret.region,
            secret.name,
            secret.description,
            secret.kms_key_id,
            secret.created_at,
            secret.last_changed_at,
            secret.last_accessed_day,
            secret.deletion_date,
            secret.tags.as_deref().map(encode_tags),
            encode_stages(&secret.stages),
            secret.revision,
            secret.resource_policy,
            secret.rotation,
            secret.next_rotation_at,
        ])
        .map_err(unavailable)?;
    if inserted == 0 {
        return Err(StoreError::NameTaken);
    }
    put_versions(tx, &secret.arn, versions)
}

pub fn update_secret(tx: &Transaction<'_>, change: &SecretChange) -> StoreResult<()> {
    let secret = &change.secret;
    let updated = tx
        .prepare_cached(
            "UPDATE secrets SET description = ?1, kms_key_id = ?2, last_changed_at = ?3, deletion_date = ?4, \
                 tags = ?5, stages = ?6, revision = ?7, resource_policy = ?10, rotation = ?11, \
                 next_rotation_at = ?12 \
             WHERE arn = ?8 AND revision = ?9",
        )
        .map_err(unavailable)?
        .execute(params![
            secret.description,
            secret.kms_key_id,
            secret.last_changed_at,
            secret.deletion_date,
            secret.tags.as_deref().map(encode_tags),
            encode_stages(&secret.stages),
            secret.revision,
            secret.arn,
            change.expected_revision,
            secret.resource_policy,
            secret.rotation,
            secret.next_rotation_at,
        ])
        .map_err(unavailable)?;
    if updated == 0 {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM secrets WHERE arn = ?1",
                [&secret.arn],
                |row| row.get(0),
            )
            .optional()
            .map_err(unavailable)?;
        return Err(if exists.is_some() {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        });
    }
    put_versions(tx, &secret.arn, &change.put_versions)?;
    let mut delete = tx
        .prepare_cached("DELETE FROM secret_versions WHERE arn = ?1 AND version_id = ?2")
        .map_err(unavailable)?;
    for version_id in &change.delete_versions {
        delete
            .execute([&secret.arn, version_id])
            .map_err(unavailable)?;
    }
    Ok(())
}

pub fn delete_secret(
    tx: &Transaction<'_>,
    arn: &str,
    expected_revision: Option<i64>,
) -> StoreResult<bool> {
    // Versions go with the secret through ON DELETE CASCADE.
    let deleted = tx
        .execute(
            "DELETE FROM secrets WHERE arn = ?1 AND (?2 IS NULL OR revision = ?2)",
            params![arn, expected_revision],
        )
        .map_err(unavailable)?;
    Ok(deleted > 0)
}

pub fn record_access(
    tx: &Transaction<'_>,
    arn: &str,
    version_id: &str,
    day: i64,
) -> StoreResult<()> {
    tx.prepare_cached(
        "UPDATE secrets SET last_accessed_day = ?2 \
         WHERE arn = ?1 AND (last_accessed_day IS NULL OR last_accessed_day < ?2)",
    )
    .map_err(unavailable)?
    .execute(params![arn, day])
    .map_err(unavailable)?;
    tx.prepare_cached(
        "UPDATE secret_versions SET last_accessed_day = ?3 \
         WHERE arn = ?1 AND version_id = ?2 AND (last_accessed_day IS NULL OR last_accessed_day < ?3)",
    )
    .map_err(unavailable)?
    .execute(params![arn, version_id, day])
    .map_err(unavailable)?;
    Ok(())
}

/// A `name` prefix matching at least this many secrets is "dense": reading the sort index
/// and filtering finds a page quickly. A sparse prefix is cheaper read through the name
/// index and sorted. Counting up to the threshold costs one bounded index range scan.
const DENSE_PREFIX: i64 = 2_000;

pub fn list_secrets(c: &Connection, query: &ListQuery) -> StoreResult<Vec<SecretRecord>> {
    let (sort_column, sort_index) = match query.sort_by {
        SortBy::CreatedDate => ("created_at", "secrets_by_created"),
        SortBy::LastChangedDate => ("last_changed_at", "secrets_by_changed"),
        SortBy::LastAccessedDate => ("COALESCE(last_accessed_day, 0)", "secrets_by_accessed"),
        SortBy::Name => ("name", "secrets_by_name"),
    };
    let (direction, after) = if query.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![
        Box::new(query.account_id.clone()),
        Box::new(query.region.clone()),
    ];
    let mut conditions = String::from("account_id = ?1 AND region = ?2");
    let mut index = sort_index;
    if !query.include_planned_deletion {
        conditions.push_str(" AND deletion_date IS NULL");
    }
    if let Some(prefix) = &query.name_prefix {
        let upper = prefix_upper_bound(prefix);
        args.push(Box::new(prefix.clone()));
        let p = args.len();
        match upper {
            Some(upper)
                if query.sort_by == SortBy::Name || !dense_prefix(c, query, prefix, &upper)? =>
            {
                args.push(Box::new(upper));
                conditions.push_str(&format!(" AND name >= ?{p} AND name < ?{}", args.len()));
                index = "secrets_by_name";
            }
            _ => conditions.push_str(&format!(" AND substr(name, 1, length(?{p})) = ?{p}")),
        }
    }
    if let Some(cursor) = &query.after {
        match &cursor.sort_value {
            SortValue::Time(t) => args.push(Box::new(*t)),
            SortValue::Name(n) => args.push(Box::new(n.clone())),
        }
        args.push(Box::new(cursor.arn.clone()));
        let (v, a) = (args.len() - 1, args.len());
        // A row-value comparison lets SQLite start the index scan at the cursor.
        conditions.push_str(&format!(" AND ({sort_column}, arn) {after} (?{v}, ?{a})"));
    }
    args.push(Box::new(query.limit as i64));
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM secrets INDEXED BY {index} WHERE {conditions} \
         ORDER BY {sort_column} {direction}, arn {direction} LIMIT ?{}",
        args.len()
    );
    let mut statement = c.prepare_cached(&sql).map_err(unavailable)?;
    let refs: Vec<&dyn rusqlite::ToSql> = args.iter().map(|a| a.as_ref()).collect();
    let rows = statement
        .query_map(refs.as_slice(), secret_from_row)
        .map_err(unavailable)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(unavailable)?;
    rows.into_iter().map(finish_secret).collect()
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

fn dense_prefix(c: &Connection, query: &ListQuery, prefix: &str, upper: &str) -> StoreResult<bool> {
    let count: i64 = c
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM secrets INDEXED BY secrets_by_name \
             WHERE account_id = ?1 AND region = ?2 AND name >= ?3 AND name < ?4 LIMIT ?5)",
        )
        .map_err(unavailable)?
        .query_row(
            params![query.account_id, query.region, prefix, upper, DENSE_PREFIX],
            |row| row.get(0),
        )
        .map_err(unavailable)?;
    Ok(count >= DENSE_PREFIX)
}

pub fn secrets_due_for_deletion(
    c: &Connection,
    now: i64,
    limit: usize,
) -> StoreResult<Vec<String>> {
    secrets_due(
        c,
        "SELECT arn FROM secrets WHERE deletion_date IS NOT NULL AND deletion_date <= ?1 \
         ORDER BY deletion_date LIMIT ?2",
        now,
        limit,
    )
}

pub fn secrets_due_for_rotation(
    c: &Connection,
    now: i64,
    limit: usize,
) -> StoreResult<Vec<String>> {
    secrets_due(
        c,
        "SELECT arn FROM secrets WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ?1 \
         ORDER BY next_rotation_at LIMIT ?2",
        now,
        limit,
    )
}

/// ARNs selected by `sql` (a due-date query taking `now` and `limit`), earliest first.
fn secrets_due(c: &Connection, sql: &str, now: i64, limit: usize) -> StoreResult<Vec<String>> {
    let mut statement = c.prepare_cached(sql).map_err(unavailable)?;
    let rows = statement
        .query_map(params![now, limit as i64], |row| row.get(0))
        .map_err(unavailable)?;
    rows.collect::<rusqlite::Result<Vec<String>>>()
        .map_err(unavailable)
}

pub fn acquire_lease(
    tx: &Transaction<'_>,
    name: &str,
    holder: &str,
    now: i64,
    ttl_ms: i64,
) -> StoreResult<bool> {
    let taken = tx
        .prepare_cached(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
        )
        .map_err(unavailable)?
        .execute(params![name, holder, now.saturating_add(ttl_ms), now])
        .map_err(unavailable)?;
    Ok(taken == 1)
}

pub fn release_lease(tx: &Transaction<'_>, name: &str, holder: &str) -> StoreResult<()> {
    tx.prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")
        .map_err(unavailable)?
        .execute([name, holder])
        .map_err(unavailable)?;
    Ok(())
}

pub fn key_encryption_keys(c: &Connection) -> StoreResult<Vec<KeyEncryptionKeyRecord>> {
    let mut statement = c
        .prepare_cached("SELECT key_id, wrapped_material, created_at FROM key_encryption_keys ORDER BY created_at, key_id")
        .map_err(unavailable)?;
    let rows = statement
        .query_map([], |row| {
            Ok(KeyEncryptionKeyRecord {
                key_id: row.get(0)?,
                wrapped_material: row.get(1)?,
                created_at: row.get(2)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(unavailable)
}

pub fn insert_key_encryption_key(
    tx: &Transaction<'_>,
    key: &KeyEncryptionKeyRecord,
) -> StoreResult<bool> {
    let inserted = tx
        .execute(
            "INSERT INTO key_encryption_keys (key_id, wrapped_material, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
            params![key.key_id, key.wrapped_material, key.created_at],
        )
        .map_err(unavailable)?;
    Ok(inserted > 0)
}

pub fn rewrap_key_encryption_keys(
    tx: &Transaction<'_>,
    keys: &[KeyEncryptionKeyRecord],
) -> StoreResult<()> {
    for key in keys {
        let updated = tx
            .execute(
                "UPDATE key_encryption_keys SET wrapped_material = ?2 WHERE key_id = ?1",
                params![key.key_id, key.wrapped_material],
            )
            .map_err(unavailable)?;
        if updated == 0 {
            return Err(StoreError::NotFound);
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

pub fn access_key(c: &Connection, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
    let row = c
        .prepare_cached(
            "SELECT access_key_id, account_id, user_name, sealed_secret_access_key, status, created_at \
             FROM access_keys WHERE access_key_id = ?1",
        )
        .map_err(unavailable)?
        .query_row([access_key_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })
        .optional()
        .map_err(unavailable)?;
    let Some((access_key_id, account_id, user_name, sealed, status, created_at)) = row else {
        return Ok(None);
    };
    let status = match status.as_str() {
        "Active" => AccessKeyStatus::Active,
        "Inactive" => AccessKeyStatus::Inactive,
        other => return Err(StoreError::Corrupt(format!("access key status {other:?}"))),
    };
    Ok(Some(AccessKeyRecord {
        access_key_id,
        account_id,
        user_name,
        sealed_secret_access_key: sealed,
        status,
        created_at,
    }))
}

pub fn insert_access_key(
    tx: &Transaction<'_>,
    key: &AccessKeyRecord,
    max_per_user: Option<usize>,
) -> StoreResult<AccessKeyInsert> {
    if let Some(max) = max_per_user {
        let held: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM access_keys WHERE account_id = ?1 AND lower(user_name) = lower(?2)",
                params![key.account_id, key.user_name],
                |row| row.get(0),
            )
            .map_err(unavailable)?;
        if held >= max as i64 {
            return Ok(AccessKeyInsert::QuotaReached);
        }
    }
    let inserted = tx
        .execute(
            "INSERT INTO access_keys (access_key_id, account_id, user_name, sealed_secret_access_key, status, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![
                key.access_key_id,
                key.account_id,
                key.user_name,
                key.sealed_secret_access_key,
                status_text(key.status),
                key.created_at
            ],
        )
        .map_err(unavailable)?;
    if inserted == 0 {
        return Ok(AccessKeyInsert::IdTaken);
    }
    bump_iam_generation(tx)?;
    Ok(AccessKeyInsert::Inserted)
}

pub fn setting_or_insert(tx: &Transaction<'_>, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
    tx.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![name, value],
    )
    .map_err(unavailable)?;
    tx.query_row(
        "SELECT value FROM settings WHERE name = ?1",
        [name],
        |row| row.get(0),
    )
    .map_err(unavailable)
}

/// Bumps the IAM generation inside the caller's transaction, so that a change and its
/// generation become visible together.
fn bump_iam_generation(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO counters (name, value) VALUES ('iam.generation', 1) \
         ON CONFLICT (name) DO UPDATE SET value = value + 1",
    )
    .map_err(unavailable)?
    .execute([])
    .map_err(unavailable)?;
    Ok(())
}

pub fn iam_generation(c: &Connection) -> StoreResult<i64> {
    let value: Option<i64> = c
        .prepare_cached("SELECT value FROM counters WHERE name = 'iam.generation'")
        .map_err(unavailable)?
        .query_row([], |row| row.get(0))
        .optional()
        .map_err(unavailable)?;
    Ok(value.unwrap_or(0))
}

pub fn update_access_key_status(
    tx: &Transaction<'_>,
    access_key_id: &str,
    status: AccessKeyStatus,
) -> StoreResult<bool> {
    let updated = tx
        .execute(
            "UPDATE access_keys SET status = ?2 WHERE access_key_id = ?1",
            params![access_key_id, status_text(status)],
        )
        .map_err(unavailable)?;
    bump_iam_generation(tx)?;
    Ok(updated > 0)
}

pub fn delete_access_key(tx: &Transaction<'_>, access_key_id: &str) -> StoreResult<bool> {
    let deleted = tx
        .execute(
            "DELETE FROM access_keys WHERE access_key_id = ?1",
            [access_key_id],
        )
        .map_err(unavailable)?;
    bump_iam_generation(tx)?;
    Ok(deleted > 0)
}

pub fn access_keys_of_user(
    c: &Connection,
    account_id: &str,
    user_name: &str,
) -> StoreResult<Vec<AccessKeyRecord>> {
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT access_key_id FROM access_keys WHERE account_id = ?1 AND lower(user_name) = lower(?2) \
             ORDER BY created_at, access_key_id",
        )
        .map_err(unavailable)?
        .query_map([account_id, user_name], |row| row.get(0))
        .map_err(unavailable)?
        .collect::<rusqlite::Result<_>>()
        .map_err(unavailable)?;
    let mut keys = Vec::with_capacity(ids.len());
    for id in ids {
        keys.extend(access_key(c, &id)?);
    }
    Ok(keys)
}

fn kind_from_text(text: &str) -> StoreResult<IamKind> {
    Ok(match text {
        "user" => IamKind::User,
        "group" => IamKind::Group,
        "role" => IamKind::Role,
        "policy" => IamKind::Policy,
        other => return Err(StoreError::Corrupt(format!("IAM entity kind {other:?}"))),
    })
}

fn iam_entity_from_row(
    row: &Row<'_>,
) -> rusqlite::Result<(String, String, String, String, i64, i64)> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn finish_iam_entity(
    (account_id, kind, name, document, created_at, revision): (
        String,
        String,
        String,
        String,
        i64,
        i64,
    ),
) -> StoreResult<IamEntityRecord> {
    Ok(IamEntityRecord {
        account_id,
        kind: kind_from_text(&kind)?,
        name,
        document,
        created_at,
        revision,
    })
}

const IAM_COLUMNS: &str = "account_id, kind, name, document, created_at, revision";

pub fn iam_entity(
    c: &Connection,
    account_id: &str,
    kind: IamKind,
    name: &str,
) -> StoreResult<Option<IamEntityRecord>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {IAM_COLUMNS} FROM iam_entities WHERE account_id = ?1 AND kind = ?2 AND name_key = ?3"
        ))
        .map_err(unavailable)?
        .query_row(params![account_id, kind.as_str(), name.to_lowercase()], iam_entity_from_row)
        .optional()
        .map_err(unavailable)?;
    row.map(finish_iam_entity).transpose()
}

pub fn iam_entities(
    c: &Connection,
    account_id: &str,
    kind: IamKind,
    after: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<IamEntityRecord>> {
    let rows = c
        .prepare_cached(&format!(
            "SELECT {IAM_COLUMNS} FROM iam_entities WHERE account_id = ?1 AND kind = ?2 AND name_key > ?3 \
             ORDER BY name_key LIMIT ?4"
        ))
        .map_err(unavailable)?
        .query_map(
            params![account_id, kind.as_str(), after.map(str::to_lowercase).unwrap_or_default(), limit as i64],
            iam_entity_from_row,
        )
        .map_err(unavailable)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(unavailable)?;
    rows.into_iter().map(finish_iam_entity).collect()
}

pub fn put_iam_entity(
    tx: &Transaction<'_>,
    entity: &IamEntityRecord,
    expected_revision: Option<i64>,
) -> StoreResult<()> {
    let key = entity.name.to_lowercase();
    let changed = match expected_revision {
        None => tx
            .prepare_cached(
                "INSERT INTO iam_entities (account_id, kind, name_key, name, document, created_at, revision) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            )
            .map_err(unavailable)?
            .execute(params![
                entity.account_id,
                entity.kind.as_str(),
                key,
                entity.name,
                entity.document,
                entity.created_at,
                entity.revision
            ])
            .map_err(unavailable)?,
        Some(expected) => tx
            .prepare_cached(
                "UPDATE iam_entities SET document = ?4, revision = ?5 \
                 WHERE account_id = ?1 AND kind = ?2 AND name_key = ?3 AND revision = ?6",
            )
            .map_err(unavailable)?
            .execute(params![entity.account_id, entity.kind.as_str(), key, entity.document, entity.revision, expected])
            .map_err(unavailable)?,
    };
    if changed == 0 {
        return Err(match expected_revision {
            None => StoreError::NameTaken,
            Some(_) if iam_entity(tx, &entity.account_id, entity.kind, &entity.name)?.is_some() => {
                StoreError::Conflict
            }
            Some(_) => StoreError::NotFound,
        });
    }
    bump_iam_generation(tx)
}

pub fn delete_iam_entity(
    tx: &Transaction<'_>,
    account_id: &str,
    kind: IamKind,
    name: &str,
    expected_revision: i64,
) -> StoreResult<bool> {
    let deleted = tx
        .execute(
            "DELETE FROM iam_entities WHERE account_id = ?1 AND kind = ?2 AND name_key = ?3 AND revision = ?4",
            params![account_id, kind.as_str(), name.to_lowercase(), expected_revision],
        )
        .map_err(unavailable)?;
    if deleted > 0 {
        bump_iam_generation(tx)?;
    }
    Ok(deleted > 0)
}
