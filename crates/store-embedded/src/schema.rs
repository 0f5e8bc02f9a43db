//! Versioned schema. Each migration runs once, in order, inside one transaction with the
//! bump of `PRAGMA user_version`, so a crash mid-migration leaves the previous version.
//! Migrations are append-only: never edit one that has shipped.

use coffer_store::{StoreError, StoreResult};
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: secrets, versions, key-encryption keys, access keys, settings.
    r#"
    CREATE TABLE secrets (
        arn               TEXT PRIMARY KEY,
        account_id        TEXT NOT NULL,
        region            TEXT NOT NULL,
        name              TEXT NOT NULL,
        description       TEXT,
        kms_key_id        TEXT,
        created_at        INTEGER NOT NULL,
        last_changed_at   INTEGER NOT NULL,
        last_accessed_day INTEGER,
        deletion_date     INTEGER,
        tags              TEXT,
        resource_policy   TEXT,
        stages            TEXT NOT NULL,
        revision          INTEGER NOT NULL,
        UNIQUE (account_id, region, name)
    );
    CREATE INDEX secrets_by_created ON secrets (account_id, region, created_at, arn);
    CREATE INDEX secrets_by_changed ON secrets (account_id, region, last_changed_at, arn);
    CREATE INDEX secrets_by_accessed ON secrets (account_id, region, COALESCE(last_accessed_day, 0), arn);
    CREATE INDEX secrets_by_name ON secrets (account_id, region, name, arn);
    CREATE INDEX secrets_by_deletion ON secrets (deletion_date) WHERE deletion_date IS NOT NULL;

    CREATE TABLE secret_versions (
        arn               TEXT NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
        version_id        TEXT NOT NULL,
        created_at        INTEGER NOT NULL,
        last_accessed_day INTEGER,
        kms_key_id        TEXT,
        -- Kept beside the ciphertext so that listing versions never reads ciphertext pages.
        has_value         INTEGER NOT NULL,
        ciphertext        BLOB,
        PRIMARY KEY (arn, version_id)
    );

    CREATE TABLE key_encryption_keys (
        key_id           TEXT PRIMARY KEY,
        wrapped_material BLOB NOT NULL,
        created_at       INTEGER NOT NULL
    );

    -- IAM users, groups, roles and managed policies. Names are unique ignoring case, as in
    -- IAM; `name_key` is the lower-cased name.
    CREATE TABLE iam_entities (
        account_id TEXT NOT NULL,
        kind       TEXT NOT NULL,
        name_key   TEXT NOT NULL,
        name       TEXT NOT NULL,
        document   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revision   INTEGER NOT NULL,
        PRIMARY KEY (account_id, kind, name_key)
    );

    CREATE TABLE access_keys (
        access_key_id             TEXT PRIMARY KEY,
        account_id                TEXT NOT NULL,
        user_name                 TEXT NOT NULL,
        sealed_secret_access_key  BLOB NOT NULL,
        status                    TEXT NOT NULL,
        created_at                INTEGER NOT NULL
    );
    CREATE INDEX access_keys_by_user ON access_keys (account_id, lower(user_name), created_at);

    -- Monotonic counters, e.g. the IAM generation that caches compare against.
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );

    CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    "#,
    // 2: KMS keys, their material versions (sealed) and aliases.
    r#"
    CREATE TABLE kms_keys (
        account_id TEXT NOT NULL,
        region     TEXT NOT NULL,
        key_id     TEXT NOT NULL,
        document   TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revision   INTEGER NOT NULL,
        PRIMARY KEY (account_id, region, key_id)
    );

    CREATE TABLE kms_materials (
        account_id      TEXT NOT NULL,
        region          TEXT NOT NULL,
        key_id          TEXT NOT NULL,
        material_id     TEXT NOT NULL,
        sealed_material BLOB NOT NULL,
        created_at      INTEGER NOT NULL,
        PRIMARY KEY (account_id, region, key_id, material_id)
    );

    CREATE TABLE kms_aliases (
        account_id    TEXT NOT NULL,
        region        TEXT NOT NULL,
        alias_name    TEXT NOT NULL,
        target_key_id TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        PRIMARY KEY (account_id, region, alias_name)
    );
    CREATE INDEX kms_aliases_by_key ON kms_aliases (account_id, region, target_key_id);
    "#,
    // 3: the audit trail (hash-chained records) and its signed digests.
    r#"
    CREATE TABLE audit_records (
        seq            INTEGER PRIMARY KEY,
        account_id     TEXT NOT NULL,
        region         TEXT NOT NULL,
        event_time     INTEGER NOT NULL,
        event_id       TEXT NOT NULL,
        event_name     TEXT NOT NULL,
        event_source   TEXT NOT NULL,
        read_only      INTEGER NOT NULL,
        username       TEXT,
        access_key_id  TEXT,
        -- "type TAB name NEWLINE" per resource, for LookupEvents' resource filters.
        resources      TEXT NOT NULL,
        record         TEXT NOT NULL,
        previous_hash  BLOB NOT NULL,
        hash           BLOB NOT NULL
    );

    CREATE TABLE audit_digests (
        seq         INTEGER PRIMARY KEY,
        head_hash   BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        public_key  BLOB NOT NULL,
        signature   BLOB NOT NULL
    );
    "#,
    // 4: rotation (configuration and progress, and the scheduler's due date) and leases for
    // background jobs.
    r#"
    ALTER TABLE secrets ADD COLUMN rotation TEXT;
    ALTER TABLE secrets ADD COLUMN next_rotation_at INTEGER;
    CREATE INDEX secrets_by_next_rotation ON secrets (next_rotation_at) WHERE next_rotation_at IS NOT NULL;

    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    "#,
    // 5: audit records stored as compressed chunks, one per appended batch (see
    // audit_sql.rs); rows of `audit_records` are moved into chunks at start-up.
    r#"
    CREATE TABLE audit_chunks (
        first_seq  INTEGER PRIMARY KEY,
        last_seq   INTEGER NOT NULL,
        first_time INTEGER NOT NULL,
        last_time  INTEGER NOT NULL,
        last_hash  BLOB NOT NULL,
        records    BLOB NOT NULL
    );
    "#,
];

pub fn migrate(connection: &mut Connection) -> StoreResult<()> {
    let unavailable = |e: rusqlite::Error| StoreError::Unavailable(e.to_string());
    let current: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(unavailable)?;
    if current > MIGRATIONS.len() as i64 {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {current}, newer than this binary knows ({}); \
             run a newer coffer",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        tx.execute_batch(migration).map_err(unavailable)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}
