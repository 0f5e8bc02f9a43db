//! Statements for KMS keys, their sealed material versions and aliases.

use coffer_store::{KmsAliasRecord, KmsKeyRecord, KmsMaterialRecord, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::sql::unavailable;

const KEY_COLUMNS: &str = "account_id, region, key_id, document, created_at, revision";
const MATERIAL_COLUMNS: &str =
    "account_id, region, key_id, material_id, sealed_material, created_at";
const ALIAS_COLUMNS: &str = "account_id, region, alias_name, target_key_id, created_at, updated_at";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KmsKeyRecord> {
    Ok(KmsKeyRecord {
        account_id: row.get(0)?,
        region: row.get(1)?,
        key_id: row.get(2)?,
        document: row.get(3)?,
        created_at: row.get(4)?,
        revision: row.get(5)?,
    })
}

fn material_from_row(row: &Row<'_>) -> rusqlite::Result<KmsMaterialRecord> {
    Ok(KmsMaterialRecord {
        account_id: row.get(0)?,
        region: row.get(1)?,
        key_id: row.get(2)?,
        material_id: row.get(3)?,
        sealed_material: row.get(4)?,
        created_at: row.get(5)?,
    })
}

fn alias_from_row(row: &Row<'_>) -> rusqlite::Result<KmsAliasRecord> {
    Ok(KmsAliasRecord {
        account_id: row.get(0)?,
        region: row.get(1)?,
        alias_name: row.get(2)?,
        target_key_id: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

fn bump_generation(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO counters (name, value) VALUES ('kms.generation', 1) \
         ON CONFLICT (name) DO UPDATE SET value = value + 1",
    )
    .map_err(unavailable)?
    .execute([])
    .map_err(unavailable)?;
    Ok(())
}

pub fn generation(c: &Connection) -> StoreResult<i64> {
    let value: Option<i64> = c
        .prepare_cached("SELECT value FROM counters WHERE name = 'kms.generation'")
        .map_err(unavailable)?
        .query_row([], |row| row.get(0))
        .optional()
        .map_err(unavailable)?;
    Ok(value.unwrap_or(0))
}

pub fn key(
    c: &Connection,
    account_id: &str,
    region: &str,
    key_id: &str,
) -> StoreResult<Option<KmsKeyRecord>> {
    c.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM kms_keys WHERE account_id = ?1 AND region = ?2 AND key_id = ?3"
    ))
    .map_err(unavailable)?
    .query_row(params![account_id, region, key_id], key_from_row)
    .optional()
    .map_err(unavailable)
}

pub fn keys(
    c: &Connection,
    account_id: &str,
    region: &str,
    after: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<KmsKeyRecord>> {
    let mut statement = c
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys WHERE account_id = ?1 AND region = ?2 \
             AND key_id > ?3 ORDER BY key_id LIMIT ?4"
        ))
        .map_err(unavailable)?;
    let rows = statement
        .query_map(
            params![account_id, region, after.unwrap_or(""), limit as i64],
            key_from_row,
        )
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

fn insert_material(tx: &Transaction<'_>, material: &KmsMaterialRecord) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO kms_materials ({MATERIAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .map_err(unavailable)?
    .execute(params![
        material.account_id,
        material.region,
        material.key_id,
        material.material_id,
        material.sealed_material,
        material.created_at
    ])
    .map_err(unavailable)?;
    Ok(())
}

fn insert_alias(tx: &Transaction<'_>, alias: &KmsAliasRecord) -> StoreResult<bool> {
    let inserted = tx
        .prepare_cached(&format!(
            "INSERT INTO kms_aliases ({ALIAS_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(unavailable)?
        .execute(params![
            alias.account_id,
            alias.region,
            alias.alias_name,
            alias.target_key_id,
            alias.created_at,
            alias.updated_at
        ])
        .map_err(unavailable)?;
    Ok(inserted > 0)
}

pub fn create_key(
    tx: &Transaction<'_>,
    key: &KmsKeyRecord,
    material: &KmsMaterialRecord,
    alias: Option<&KmsAliasRecord>,
) -> StoreResult<bool> {
    if let Some(alias) = alias
        && !insert_alias(tx, alias)?
    {
        return Ok(false);
    }
    let inserted = tx
        .prepare_cached(&format!(
            "INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT DO NOTHING"
        ))
        .map_err(unavailable)?
        .execute(params![
            key.account_id,
            key.region,
            key.key_id,
            key.document,
            key.created_at,
            key.revision
        ])
        .map_err(unavailable)?;
    if inserted == 0 {
        // The caller's transaction is rolled back with the error: the alias is not kept.
        return Err(StoreError::NameTaken);
    }
    insert_material(tx, material)?;
    bump_generation(tx)?;
    Ok(true)
}

pub fn update_key(
    tx: &Transaction<'_>,
    key: &KmsKeyRecord,
    expected_revision: i64,
    new_material: Option<&KmsMaterialRecord>,
) -> StoreResult<()> {
    let changed = tx
        .prepare_cached(
            "UPDATE kms_keys SET document = ?4, revision = ?5 \
             WHERE account_id = ?1 AND region = ?2 AND key_id = ?3 AND revision = ?6",
        )
        .map_err(unavailable)?
        .execute(params![
            key.account_id,
            key.region,
            key.key_id,
            key.document,
            key.revision,
            expected_revision
        ])
        .map_err(unavailable)?;
    if changed == 0 {
        return Err(
            if self::key(tx, &key.account_id, &key.region, &key.key_id)?.is_some() {
                StoreError::Conflict
            } else {
                StoreError::NotFound
            },
        );
    }
    if let Some(material) = new_material {
        insert_material(tx, material)?;
    }
    bump_generation(tx)
}

pub fn delete_key(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    key_id: &str,
    expected_revision: i64,
) -> StoreResult<bool> {
    let deleted = tx
        .execute(
            "DELETE FROM kms_keys WHERE account_id = ?1 AND region = ?2 AND key_id = ?3 \
             AND revision = ?4",
            params![account_id, region, key_id, expected_revision],
        )
        .map_err(unavailable)?;
    if deleted == 0 {
        return Ok(false);
    }
    for table in ["kms_materials", "kms_aliases"] {
        let column = if table == "kms_aliases" {
            "target_key_id"
        } else {
            "key_id"
        };
        tx.execute(
            &format!("DELETE FROM {table} WHERE account_id = ?1 AND region = ?2 AND {column} = ?3"),
            params![account_id, region, key_id],
        )
        .map_err(unavailable)?;
    }
    bump_generation(tx)?;
    Ok(true)
}

pub fn materials(
    c: &Connection,
    account_id: &str,
    region: &str,
    key_id: &str,
) -> StoreResult<Vec<KmsMaterialRecord>> {
    let mut statement = c
        .prepare_cached(&format!(
            "SELECT {MATERIAL_COLUMNS} FROM kms_materials \
             WHERE account_id = ?1 AND region = ?2 AND key_id = ?3 ORDER BY created_at, material_id"
        ))
        .map_err(unavailable)?;
    let rows = statement
        .query_map(params![account_id, region, key_id], material_from_row)
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub fn alias(
    c: &Connection,
    account_id: &str,
    region: &str,
    alias_name: &str,
) -> StoreResult<Option<KmsAliasRecord>> {
    c.prepare_cached(&format!(
        "SELECT {ALIAS_COLUMNS} FROM kms_aliases \
         WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3"
    ))
    .map_err(unavailable)?
    .query_row(params![account_id, region, alias_name], alias_from_row)
    .optional()
    .map_err(unavailable)
}

pub fn aliases(
    c: &Connection,
    account_id: &str,
    region: &str,
    after: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<KmsAliasRecord>> {
    let mut statement = c
        .prepare_cached(&format!(
            "SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE account_id = ?1 AND region = ?2 \
             AND alias_name > ?3 ORDER BY alias_name LIMIT ?4"
        ))
        .map_err(unavailable)?;
    let rows = statement
        .query_map(
            params![account_id, region, after.unwrap_or(""), limit as i64],
            alias_from_row,
        )
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

pub fn create_alias(tx: &Transaction<'_>, alias: &KmsAliasRecord) -> StoreResult<bool> {
    let inserted = insert_alias(tx, alias)?;
    if inserted {
        bump_generation(tx)?;
    }
    Ok(inserted)
}

pub fn update_alias(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    alias_name: &str,
    target_key_id: &str,
    updated_at: i64,
) -> StoreResult<bool> {
    let changed = tx
        .execute(
            "UPDATE kms_aliases SET target_key_id = ?4, updated_at = ?5 \
             WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3",
            params![account_id, region, alias_name, target_key_id, updated_at],
        )
        .map_err(unavailable)?;
    if changed > 0 {
        bump_generation(tx)?;
    }
    Ok(changed > 0)
}

pub fn delete_alias(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    alias_name: &str,
) -> StoreResult<bool> {
    let deleted = tx
        .execute(
            "DELETE FROM kms_aliases WHERE account_id = ?1 AND region = ?2 AND alias_name = ?3",
            params![account_id, region, alias_name],
        )
        .map_err(unavailable)?;
    if deleted > 0 {
        bump_generation(tx)?;
    }
    Ok(deleted > 0)
}
