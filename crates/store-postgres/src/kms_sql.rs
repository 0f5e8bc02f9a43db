//! Statements for KMS keys, their sealed material versions and aliases.
//!
//! Every write locks the KMS generation counter first (see [`lock_counter`]): KMS writes are
//! rare, and running them one at a time keeps key, material and alias changes free of
//! deadlocks between nodes.

use coffer_store::{KmsAliasRecord, KmsKeyRecord, KmsMaterialRecord, StoreError};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use crate::failure::Outcome;
use crate::sql::{bump_counter, counter, limit, lock_counter};

const KMS_GENERATION: &str = "kms.generation";

const KEY_COLUMNS: &str = "account_id, region, key_id, document, created_at, revision";
const MATERIAL_COLUMNS: &str =
    "account_id, region, key_id, material_id, sealed_material, created_at";
const ALIAS_COLUMNS: &str = "account_id, region, alias_name, target_key_id, created_at, updated_at";

fn key_from_row(row: &Row) -> Outcome<KmsKeyRecord> {
    Ok(KmsKeyRecord {
        account_id: row.try_get(0)?,
        region: row.try_get(1)?,
        key_id: row.try_get(2)?,
        document: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revision: row.try_get(5)?,
    })
}

fn material_from_row(row: &Row) -> Outcome<KmsMaterialRecord> {
    Ok(KmsMaterialRecord {
        account_id: row.try_get(0)?,
        region: row.try_get(1)?,
        key_id: row.try_get(2)?,
        material_id: row.try_get(3)?,
        sealed_material: row.try_get(4)?,
        created_at: row.try_get(5)?,
    })
}

fn alias_from_row(row: &Row) -> Outcome<KmsAliasRecord> {
    Ok(KmsAliasRecord {
        account_id: row.try_get(0)?,
        region: row.try_get(1)?,
        alias_name: row.try_get(2)?,
        target_key_id: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

pub async fn generation(c: &impl GenericClient) -> Outcome<i64> {
    counter(c, KMS_GENERATION).await
}

pub async fn key(
    c: &impl GenericClient,
    account_id: &str,
    region: &str,
    key_id: &str,
) -> Outcome<Option<KmsKeyRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys \
             WHERE account_id = $1 AND region = $2 AND key_id = $3"
        ))
        .await?;
    c.query_opt(&statement, &[&account_id, &region, &key_id])
        .await?
        .as_ref()
        .map(key_from_row)
        .transpose()
}

pub async fn keys(
    c: &impl GenericClient,
    account_id: &str,
    region: &str,
    after: Option<&str>,
    limit: usize,
) -> Outcome<Vec<KmsKeyRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys WHERE account_id = $1 AND region = $2 \
             AND key_id > $3 ORDER BY key_id LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(
            &statement,
            &[
                &account_id,
                &region,
                &after.unwrap_or(""),
                &self::limit(limit),
            ],
        )
        .await?;
    rows.iter().map(key_from_row).collect()
}

async fn insert_material(tx: &Transaction<'_>, material: &KmsMaterialRecord) -> Outcome<()> {
    // No ON CONFLICT: a material id used twice is a unique violation, reported as NameTaken.
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO kms_materials ({MATERIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .await?;
    tx.execute(
        &statement,
        &[
            &material.account_id,
            &material.region,
            &material.key_id,
            &material.material_id,
            &material.sealed_material,
            &material.created_at,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_alias(tx: &Transaction<'_>, alias: &KmsAliasRecord) -> Outcome<bool> {
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO kms_aliases ({ALIAS_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING"
        ))
        .await?;
    let inserted = tx
        .execute(
            &statement,
            &[
                &alias.account_id,
                &alias.region,
                &alias.alias_name,
                &alias.target_key_id,
                &alias.created_at,
                &alias.updated_at,
            ],
        )
        .await?;
    Ok(inserted > 0)
}

pub async fn create_key(
    tx: &Transaction<'_>,
    key: &KmsKeyRecord,
    material: &KmsMaterialRecord,
    alias: Option<&KmsAliasRecord>,
) -> Outcome<bool> {
    // Racing creators of one alias queue on the counter; the one that comes second finds the
    // winner's committed alias and leaves having written nothing.
    lock_counter(tx, KMS_GENERATION).await?;
    if let Some(alias) = alias
        && !insert_alias(tx, alias).await?
    {
        return Ok(false);
    }
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING"
        ))
        .await?;
    let inserted = tx
        .execute(
            &statement,
            &[
                &key.account_id,
                &key.region,
                &key.key_id,
                &key.document,
                &key.created_at,
                &key.revision,
            ],
        )
        .await?;
    if inserted == 0 {
        // The error rolls the transaction back: the alias is not kept.
        return Err(StoreError::NameTaken.into());
    }
    insert_material(tx, material).await?;
    bump_counter(tx, KMS_GENERATION).await?;
    Ok(true)
}

pub async fn update_key(
    tx: &Transaction<'_>,
    key: &KmsKeyRecord,
    expected_revision: i64,
    new_material: Option<&KmsMaterialRecord>,
) -> Outcome<()> {
    lock_counter(tx, KMS_GENERATION).await?;
    let statement = tx
        .prepare_cached(
            "UPDATE kms_keys SET document = $4, revision = $5 \
             WHERE account_id = $1 AND region = $2 AND key_id = $3 AND revision = $6",
        )
        .await?;
    let changed = tx
        .execute(
            &statement,
            &[
                &key.account_id,
                &key.region,
                &key.key_id,
                &key.document,
                &key.revision,
                &expected_revision,
            ],
        )
        .await?;
    if changed == 0 {
        let exists = self::key(tx, &key.account_id, &key.region, &key.key_id)
            .await?
            .is_some();
        return Err(if exists {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        }
        .into());
    }
    if let Some(material) = new_material {
        insert_material(tx, material).await?;
    }
    bump_counter(tx, KMS_GENERATION).await
}

pub async fn delete_key(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    key_id: &str,
    expected_revision: i64,
) -> Outcome<bool> {
    lock_counter(tx, KMS_GENERATION).await?;
    let statement = tx
        .prepare_cached(
            "DELETE FROM kms_keys WHERE account_id = $1 AND region = $2 AND key_id = $3 \
             AND revision = $4",
        )
        .await?;
    let deleted = tx
        .execute(
            &statement,
            &[&account_id, &region, &key_id, &expected_revision],
        )
        .await?;
    if deleted == 0 {
        return Ok(false);
    }
    for sql in [
        "DELETE FROM kms_materials WHERE account_id = $1 AND region = $2 AND key_id = $3",
        "DELETE FROM kms_aliases WHERE account_id = $1 AND region = $2 AND target_key_id = $3",
    ] {
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(&statement, &[&account_id, &region, &key_id])
            .await?;
    }
    bump_counter(tx, KMS_GENERATION).await?;
    Ok(true)
}

pub async fn materials(
    c: &impl GenericClient,
    account_id: &str,
    region: &str,
    key_id: &str,
) -> Outcome<Vec<KmsMaterialRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {MATERIAL_COLUMNS} FROM kms_materials \
             WHERE account_id = $1 AND region = $2 AND key_id = $3 ORDER BY created_at, material_id"
        ))
        .await?;
    let rows = c
        .query(&statement, &[&account_id, &region, &key_id])
        .await?;
    rows.iter().map(material_from_row).collect()
}

pub async fn alias(
    c: &impl GenericClient,
    account_id: &str,
    region: &str,
    alias_name: &str,
) -> Outcome<Option<KmsAliasRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {ALIAS_COLUMNS} FROM kms_aliases \
             WHERE account_id = $1 AND region = $2 AND alias_name = $3"
        ))
        .await?;
    c.query_opt(&statement, &[&account_id, &region, &alias_name])
        .await?
        .as_ref()
        .map(alias_from_row)
        .transpose()
}

pub async fn aliases(
    c: &impl GenericClient,
    account_id: &str,
    region: &str,
    after: Option<&str>,
    limit: usize,
) -> Outcome<Vec<KmsAliasRecord>> {
    let statement = c
        .prepare_cached(&format!(
            "SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE account_id = $1 AND region = $2 \
             AND alias_name > $3 ORDER BY alias_name LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(
            &statement,
            &[
                &account_id,
                &region,
                &after.unwrap_or(""),
                &self::limit(limit),
            ],
        )
        .await?;
    rows.iter().map(alias_from_row).collect()
}

pub async fn create_alias(tx: &Transaction<'_>, alias: &KmsAliasRecord) -> Outcome<bool> {
    lock_counter(tx, KMS_GENERATION).await?;
    let inserted = insert_alias(tx, alias).await?;
    if inserted {
        bump_counter(tx, KMS_GENERATION).await?;
    }
    Ok(inserted)
}

pub async fn update_alias(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    alias_name: &str,
    target_key_id: &str,
    updated_at: i64,
) -> Outcome<bool> {
    lock_counter(tx, KMS_GENERATION).await?;
    let statement = tx
        .prepare_cached(
            "UPDATE kms_aliases SET target_key_id = $4, updated_at = $5 \
             WHERE account_id = $1 AND region = $2 AND alias_name = $3",
        )
        .await?;
    let changed = tx
        .execute(
            &statement,
            &[
                &account_id,
                &region,
                &alias_name,
                &target_key_id,
                &updated_at,
            ],
        )
        .await?;
    if changed > 0 {
        bump_counter(tx, KMS_GENERATION).await?;
    }
    Ok(changed > 0)
}

pub async fn delete_alias(
    tx: &Transaction<'_>,
    account_id: &str,
    region: &str,
    alias_name: &str,
) -> Outcome<bool> {
    lock_counter(tx, KMS_GENERATION).await?;
    let statement = tx
        .prepare_cached(
            "DELETE FROM kms_aliases WHERE account_id = $1 AND region = $2 AND alias_name = $3",
        )
        .await?;
    let deleted = tx
        .execute(&statement, &[&account_id, &region, &alias_name])
        .await?;
    if deleted > 0 {
        bump_counter(tx, KMS_GENERATION).await?;
    }
    Ok(deleted > 0)
}
