//! Versioned schema, the same tables, columns and indexes as the embedded store's, migration
//! for migration (PostgreSQL migration N does what embedded migration N does). Migrations
//! are append-only: never edit one that has shipped.
//!
//! Several nodes may start at once against one database. They serialise on the one row of
//! `coffer_migration_lock` (a row lock, not an advisory lock: CockroachDB has none): the
//! node holding it reads the applied version from `coffer_schema_version`, applies what is
//! missing and records it in the same transaction, so the others find nothing left to do.
//!
//! Type mapping from SQLite: `INTEGER` -> `BIGINT` (epoch milliseconds, counters),
//! `BLOB` -> `BYTEA`, JSON stays `TEXT`, SQLite's 0/1 flags become `BOOLEAN`. Text that is
//! compared, ranged or sorted is `COLLATE "C"`: SQLite compares bytes, and so must this
//! store, whatever the database's default collation (under a linguistic collation such as
//! en_US, punctuation is ignored at first, so `name >= 'dense/' AND name < 'dense0'` would
//! miss `dense/00001`, and pages would come in another order than the embedded store's).

use std::time::{SystemTime, UNIX_EPOCH};

use coffer_store::{StoreError, StoreResult};
use deadpool_postgres::Client;
use tokio_postgres::IsolationLevel;

use crate::failure::{Kind, describe, kind, retry_delay};

pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: secrets, versions, key-encryption keys, access keys, settings.
    r#"
    CREATE TABLE secrets (
        arn               TEXT COLLATE "C" PRIMARY KEY,
        account_id        TEXT COLLATE "C" NOT NULL,
        region            TEXT COLLATE "C" NOT NULL,
        name              TEXT COLLATE "C" NOT NULL,
        description       TEXT,
        kms_key_id        TEXT,
        created_at        BIGINT NOT NULL,
        last_changed_at   BIGINT NOT NULL,
        last_accessed_day BIGINT,
        deletion_date     BIGINT,
        tags              TEXT,
        resource_policy   TEXT,
        stages            TEXT NOT NULL,
        revision          BIGINT NOT NULL,
        UNIQUE (account_id, region, name)
    );
    CREATE INDEX secrets_by_created ON secrets (account_id, region, created_at, arn);
    CREATE INDEX secrets_by_changed ON secrets (account_id, region, last_changed_at, arn);
    CREATE INDEX secrets_by_accessed ON secrets (account_id, region, (COALESCE(last_accessed_day, 0)), arn);
    CREATE INDEX secrets_by_name ON secrets (account_id, region, name, arn);
    CREATE INDEX secrets_by_deletion ON secrets (deletion_date) WHERE deletion_date IS NOT NULL;

    CREATE TABLE secret_versions (
        arn               TEXT COLLATE "C" NOT NULL REFERENCES secrets (arn) ON DELETE CASCADE,
        version_id        TEXT COLLATE "C" NOT NULL,
        created_at        BIGINT NOT NULL,
        last_accessed_day BIGINT,
        kms_key_id        TEXT,
        -- Kept beside the ciphertext so that listing versions never reads ciphertext (TOAST).
        has_value         BOOLEAN NOT NULL,
        ciphertext        BYTEA,
        PRIMARY KEY (arn, version_id)
    );

    CREATE TABLE key_encryption_keys (
        key_id           TEXT COLLATE "C" PRIMARY KEY,
        wrapped_material BYTEA NOT NULL,
        created_at       BIGINT NOT NULL
    );

    -- IAM users, groups, roles and managed policies. Names are unique ignoring case, as in
    -- IAM; `name_key` is the lower-cased name.
    CREATE TABLE iam_entities (
        account_id TEXT COLLATE "C" NOT NULL,
        kind       TEXT COLLATE "C" NOT NULL,
        name_key   TEXT COLLATE "C" NOT NULL,
        name       TEXT NOT NULL,
        document   TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revision   BIGINT NOT NULL,
        PRIMARY KEY (account_id, kind, name_key)
    );

    CREATE TABLE access_keys (
        access_key_id             TEXT COLLATE "C" PRIMARY KEY,
        account_id                TEXT COLLATE "C" NOT NULL,
        -- "C": lower() then folds ASCII only, as SQLite's does.
        user_name                 TEXT COLLATE "C" NOT NULL,
        sealed_secret_access_key  BYTEA NOT NULL,
        status                    TEXT NOT NULL,
        created_at                BIGINT NOT NULL
    );
    CREATE INDEX access_keys_by_user ON access_keys (account_id, lower(user_name), created_at);

    -- Monotonic counters, e.g. the IAM generation that caches compare against. The row is
    -- created here rather than on first use because IAM writers lock it before anything else.
    CREATE TABLE counters (
        name  TEXT COLLATE "C" PRIMARY KEY,
        value BIGINT NOT NULL
    );
    INSERT INTO counters (name, value) VALUES ('iam.generation', 0);

    CREATE TABLE settings (
        name  TEXT COLLATE "C" PRIMARY KEY,
        value BYTEA NOT NULL
    );
    "#,
    // 2: KMS keys, their material versions (sealed) and aliases.
    r#"
    CREATE TABLE kms_keys (
        account_id TEXT COLLATE "C" NOT NULL,
        region     TEXT COLLATE "C" NOT NULL,
        key_id     TEXT COLLATE "C" NOT NULL,
        document   TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revision   BIGINT NOT NULL,
        PRIMARY KEY (account_id, region, key_id)
    );

    CREATE TABLE kms_materials (
        account_id      TEXT COLLATE "C" NOT NULL,
        region          TEXT COLLATE "C" NOT NULL,
        key_id          TEXT COLLATE "C" NOT NULL,
        material_id     TEXT COLLATE "C" NOT NULL,
        sealed_material BYTEA NOT NULL,
        created_at      BIGINT NOT NULL,
        PRIMARY KEY (account_id, region, key_id, material_id)
    );

    CREATE TABLE kms_aliases (
        account_id    TEXT COLLATE "C" NOT NULL,
        region        TEXT COLLATE "C" NOT NULL,
        alias_name    TEXT COLLATE "C" NOT NULL,
        target_key_id TEXT COLLATE "C" NOT NULL,
        created_at    BIGINT NOT NULL,
        updated_at    BIGINT NOT NULL,
        PRIMARY KEY (account_id, region, alias_name)
    );
    CREATE INDEX kms_aliases_by_key ON kms_aliases (account_id, region, target_key_id);

    INSERT INTO counters (name, value) VALUES ('kms.generation', 0);
    "#,
    // 3: the audit trail (hash-chained records) and its signed digests.
    r#"
    CREATE TABLE audit_records (
        seq            BIGINT PRIMARY KEY,
        account_id     TEXT COLLATE "C" NOT NULL,
        region         TEXT COLLATE "C" NOT NULL,
        event_time     BIGINT NOT NULL,
        event_id       TEXT NOT NULL,
        event_name     TEXT NOT NULL,
        event_source   TEXT NOT NULL,
        read_only      BOOLEAN NOT NULL,
        username       TEXT,
        access_key_id  TEXT,
        -- "type TAB name NEWLINE" per resource, for LookupEvents' resource filters.
        resources      TEXT NOT NULL,
        record         TEXT NOT NULL,
        previous_hash  BYTEA NOT NULL,
        hash           BYTEA NOT NULL
    );

    CREATE TABLE audit_digests (
        seq         BIGINT PRIMARY KEY,
        head_hash   BYTEA NOT NULL,
        created_at  BIGINT NOT NULL,
        public_key  BYTEA NOT NULL,
        signature   BYTEA NOT NULL
    );

    -- Appenders on every node lock this one row first, so that each reads the head that the
    -- previous appender committed and the chain never forks (SQLite gets this from having
    -- one writer).
    CREATE TABLE audit_append_lock (
        id INT PRIMARY KEY CHECK (id = 1)
    );
    INSERT INTO audit_append_lock (id) VALUES (1);
    "#,
    // 4: rotation (configuration and progress, and the scheduler's due date) and leases for
    // background jobs.
    r#"
    ALTER TABLE secrets ADD COLUMN rotation TEXT;
    ALTER TABLE secrets ADD COLUMN next_rotation_at BIGINT;
    CREATE INDEX secrets_by_next_rotation ON secrets (next_rotation_at) WHERE next_rotation_at IS NOT NULL;

    CREATE TABLE leases (
        name       TEXT COLLATE "C" PRIMARY KEY,
        holder     TEXT COLLATE "C" NOT NULL,
        expires_at BIGINT NOT NULL
    );
    "#,
];

/// How long one node may spend migrating (and the others waiting for it): far above the
/// statement timeout of ordinary requests, since an index build on a large table is slow.
const MIGRATION_TIMEOUT: &str = "600s";

/// Attempts at the bootstrap DDL, which races between nodes starting together (see
/// [`run_bootstrap`]).
const BOOTSTRAP_ATTEMPTS: u32 = 5;

/// Creates the schema when asked to, then brings it up to date.
pub(crate) async fn prepare(client: &mut Client, schema: Option<&str>) -> StoreResult<()> {
    if let Some(schema) = schema {
        // The name was validated (lower-case letters, digits, underscores): no quoting issues.
        run_bootstrap(client, &format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await?;
    }
    run_bootstrap(
        client,
        "CREATE TABLE IF NOT EXISTS coffer_migration_lock (id INT PRIMARY KEY CHECK (id = 1))",
    )
    .await?;
    run_bootstrap(
        client,
        "INSERT INTO coffer_migration_lock (id) VALUES (1) ON CONFLICT DO NOTHING",
    )
    .await?;
    migrate(client).await
}

/// Runs one idempotent statement that creates something. `IF NOT EXISTS` is not safe
/// against a concurrent creator in PostgreSQL: the loser fails with 23505 on a catalog index
/// (or 42P06/42P07, or 42710 for the table's row type) instead of finding the object. Once the winner has committed, running
/// the statement again finds the object and does nothing.
async fn run_bootstrap(client: &Client, sql: &str) -> StoreResult<()> {
    let mut attempt = 1;
    loop {
        let Err(e) = client.batch_execute(sql).await else {
            return Ok(());
        };
        let lost_a_creation_race = matches!(kind(&e), Kind::UniqueViolation | Kind::Serialization)
            || e.code().is_some_and(|c| {
                *c == tokio_postgres::error::SqlState::DUPLICATE_TABLE
                    || *c == tokio_postgres::error::SqlState::DUPLICATE_SCHEMA
                    // A table's row type: 42710 "type ... already exists" (seen in CI).
                    || *c == tokio_postgres::error::SqlState::DUPLICATE_OBJECT
            });
        if !lost_a_creation_race || attempt >= BOOTSTRAP_ATTEMPTS {
            return Err(StoreError::Unavailable(format!(
                "could not prepare the PostgreSQL schema: {}",
                describe(&e)
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
        attempt += 1;
    }
}

async fn migrate(client: &mut Client) -> StoreResult<()> {
    let mut attempt = 1;
    loop {
        match migrate_once(client).await {
            Ok(()) => return Ok(()),
            Err(MigrateError::Store(e)) => return Err(e),
            Err(MigrateError::Db(e)) => match retry_delay(&e, attempt, false) {
                // A lost connection is not retried here: this one client is all we have.
                Some(delay) if kind(&e) == Kind::Serialization => {
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => {
                    return Err(StoreError::Unavailable(format!(
                        "could not migrate the PostgreSQL schema: {}",
                        describe(&e)
                    )));
                }
            },
        }
    }
}

enum MigrateError {
    Store(StoreError),
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for MigrateError {
    fn from(e: tokio_postgres::Error) -> MigrateError {
        MigrateError::Db(e)
    }
}

async fn migrate_once(client: &mut Client) -> Result<(), MigrateError> {
    // READ COMMITTED, not REPEATABLE READ: the version must be read with a snapshot taken
    // after the lock was granted, or a node that waited for another's migration would not
    // see it and would apply it a second time.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await?;
    tx.batch_execute(&format!(
        "SET LOCAL statement_timeout = '{MIGRATION_TIMEOUT}'"
    ))
    .await?;
    tx.query_one(
        "SELECT id FROM coffer_migration_lock WHERE id = 1 FOR UPDATE",
        &[],
    )
    .await?;
    // Created under the lock, so that no two nodes race to create it.
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS coffer_schema_version (
             version    BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )
    .await?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM coffer_schema_version",
            &[],
        )
        .await?
        .try_get(0)?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(MigrateError::Store(StoreError::Corrupt(format!(
            "the database has schema version {current}, newer than this binary knows ({known}); \
             run a newer coffer"
        ))));
    }
    if current == known {
        // Nothing to apply; the lock goes with the transaction.
        tx.commit().await?;
        return Ok(());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        tx.batch_execute(migration).await?;
        tx.execute(
            "INSERT INTO coffer_schema_version (version, applied_at) VALUES ($1, $2)",
            &[&version, &now],
        )
        .await?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// A schema name that needs no quoting anywhere (in `-c search_path=...` too), and that
/// PostgreSQL does not fold to another name.
pub(crate) fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema_name("coffer"));
        assert!(valid_schema_name("_t1_x"));
        for bad in ["", "1abc", "Coffer", "a-b", "a b", "a\"b", &"x".repeat(64)] {
            assert!(!valid_schema_name(bad), "{bad:?}");
        }
    }
}
