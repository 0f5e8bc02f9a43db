//! The PostgreSQL store, for several Coffer nodes sharing one database: the embedded store's
//! tables, SQL and invariants, made safe for writers on different connections.
//!
//! Pool and timeouts: a deadpool-postgres pool ([`PgOptions::pool_size`] connections, made
//! on demand). Nothing waits unboundedly: making a connection (TCP and the PostgreSQL
//! handshake) is bounded by [`PgOptions::connect_timeout`], waiting for a free one by
//! [`PgOptions::pool_wait_timeout`], and every statement by the server's
//! `statement_timeout` ([`PgOptions::statement_timeout`], lock waits included). Because a
//! server that stops answering (a partition, a frozen host) cannot enforce its own timeout,
//! each transaction attempt is also bounded on the client, at twice the statement timeout;
//! a connection that overran is thrown away, never returned to the pool. TCP keepalives
//! find dead idle connections, and `idle_in_transaction_session_timeout` makes the server
//! drop a node that vanished mid-transaction instead of holding its row locks. A database
//! that is down therefore yields [`StoreError::Unavailable`] quickly, never a hang.
//!
//! Recovery: pooled connections are recycled with `RecyclingMethod::Fast`, which only asks
//! whether the connection is closed. That is enough after a restart: the server closes
//! every session, each connection's task sees the end of its socket and the connection
//! reports closed, so the pool drops it and makes a new one. For the moment between the
//! server closing sessions and the client noticing, a request that finds its connection
//! lost drops every idle connection of the pool, and an attempt lost *before* COMMIT was
//! sent (so rolled back by the server) runs again on a fresh connection, at most twice. A
//! connection lost during COMMIT is reported, not retried: whether that transaction was
//! applied is unknown.
//!
//! Isolation: writes run at READ COMMITTED with explicit row locks, chosen over
//! SERIALIZABLE because every invariant here is a single-row compare-and-swap, a unique
//! constraint, or a check that a lock can make atomic, and row locks make writers wait for
//! each other instead of failing and retrying (SERIALIZABLE would abort, and retry, a
//! writer that merely read a row another transaction changed). How each invariant holds
//! with writers on different nodes:
//! - one label per version, one value per revision: `update_secret` is
//!   `UPDATE ... WHERE revision = $expected`; a second writer waits for the first's row
//!   lock, then re-evaluates the condition against the committed row and matches nothing
//!   (`Conflict`). The version rows change under that row lock.
//! - unique names per account and region, key ids, alias names, IAM names ignoring case:
//!   unique constraints with `ON CONFLICT DO NOTHING`, which waits for an uncommitted
//!   conflicting insert and then does nothing; a unique violation that escapes is
//!   `NameTaken`.
//! - the access-key quota, and KMS key + material + alias all or nothing: every IAM write
//!   first locks the IAM generation's counter row, every KMS write the KMS one, so writes of
//!   one kind run one at a time (they are rare), the quota's count cannot go stale before
//!   the insert, and the loser of an alias race finds the winner's alias committed and
//!   writes nothing. The generation is bumped under the same lock, in the same transaction.
//! - the audit hash chain: appenders lock the row of `audit_append_lock`, then read the
//!   head in a new statement (so with a snapshot that includes the previous appender's
//!   commit) and insert the batch in one statement.
//! - access dates only move forward: `... WHERE last_accessed_day < $day`, outside the
//!   revision, so reads never make writers conflict.
//!
//! Every write still runs in a retry loop for serialization failures and deadlocks
//! (SQLSTATE 40001, 40P01), a bounded number of times with a short jittered backoff: a
//! deadlock remains possible between unrelated statements, and the same code then also
//! runs on databases that only offer SERIALIZABLE. Reads are single statements (a secret
//! and its versions are one join), so each sees one snapshot.
//!
//! Migrations: see the `schema` module. Nodes starting together serialise on a one-row lock
//! table, not an advisory lock.
//!
//! Schemas: with [`PgOptions::schema`] the store creates that schema if missing and puts
//! it alone on every connection's `search_path` (as a startup option), so that several
//! deployments, or tests, share a database.
//!
//! CockroachDB and YugabyteDB: the SQL keeps to what both document as supported (no
//! advisory locks, `SELECT ... FOR UPDATE`, `ON CONFLICT`, partial and expression indexes,
//! multi-array `unnest`), but it has only been run against PostgreSQL. Known differences:
//! - CockroachDB compares strings bytewise already and treats a collated string as its own
//!   type; the `COLLATE "C"` column clauses may have to be dropped there.
//! - CockroachDB runs READ COMMITTED only where the cluster enables it and otherwise
//!   upgrades to SERIALIZABLE: correct, with more 40001 retries.
//! - CockroachDB limits DDL in explicit transactions and YugabyteDB does not make DDL
//!   transactional by default, so there a migration that fails half way may leave part of
//!   its DDL behind (PostgreSQL rolls it back entirely).
//! - Neither accepts every startup `options` setting in every version; `search_path` and
//!   `statement_timeout` there may need setting on the role or database instead.
//! - TLS is not supported yet (the pool connects with `NoTls`).

mod audit_sql;
mod failure;
mod kms_sql;
mod schema;
mod sql;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coffer_store::{
    AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, AuditDigestRow, AuditLink, AuditQuery,
    AuditRecordRow, IamEntityRecord, IamKind, KeyEncryptionKeyRecord, KmsAliasRecord, KmsKeyRecord,
    KmsMaterialRecord, ListQuery, NewAuditRecord, SecretAggregate, SecretChange, SecretRecord,
    Store, StoreError, StoreResult, VersionWrite,
};
use deadpool_postgres::{
    Client, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
    Transaction,
};
use tokio_postgres::{IsolationLevel, NoTls};

use crate::failure::{Fail, Outcome, retry_delay, store_error};

/// How to connect. [`Default`] gives the values documented on each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections the pool holds. Default 16.
    pub pool_size: usize,
    /// Bound on making one connection, TCP connect and PostgreSQL handshake together.
    /// Default 5 s.
    pub connect_timeout: Duration,
    /// The server's `statement_timeout` on every connection (waiting for locks included);
    /// also, doubled, the client's bound on one transaction attempt. Default 10 s.
    pub statement_timeout: Duration,
    /// Bound on waiting for a free connection when all are in use. Default 5 s.
    pub pool_wait_timeout: Duration,
    /// A schema of its own: created if missing and set as the `search_path` of every
    /// connection. Lower-case ASCII letters, digits and underscores, not starting with a
    /// digit, at most 63 characters. Default `None` (the database's default search path).
    pub schema: Option<String>,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            pool_wait_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

/// How often TCP keepalives probe an idle connection, and how many unanswered probes mark
/// it dead: a pooled connection to a vanished host is found within about a minute.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

pub struct PgStore {
    pool: Pool,
    closed: AtomicBool,
    options: Arc<PgOptions>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = Outcome<T>> + Send + 'a>>;

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` string),
    /// creates the schema if asked to, and brings it up to date.
    pub async fn connect(url: &str, options: PgOptions) -> StoreResult<PgStore> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Unavailable(format!("invalid PostgreSQL connection string: {e}"))
        })?;
        if let Some(schema) = &options.schema
            && !schema::valid_schema_name(schema)
        {
            return Err(StoreError::Unavailable(format!(
                "invalid PostgreSQL schema name {schema:?}: use lower-case ASCII letters, \
                 digits and underscores, not starting with a digit, at most 63 characters"
            )));
        }
        config
            .connect_timeout(options.connect_timeout)
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        if config.get_application_name().is_none() {
            config.application_name("coffer");
        }
        // Startup options rather than SET after connecting: they apply to every connection
        // the pool ever makes, including those made after the server restarted.
        let timeout_ms = options.statement_timeout.as_millis().max(1);
        let mut session = format!(
            "-c statement_timeout={timeout_ms} -c idle_in_transaction_session_timeout={timeout_ms}"
        );
        if let Some(schema) = &options.schema {
            session.push_str(&format!(" -c search_path={schema}"));
        }
        let session = match config.get_options() {
            Some(theirs) if !theirs.trim().is_empty() => format!("{theirs} {session}"),
            _ => session,
        };
        config.options(session);

        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.pool_wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("could not build the pool: {e}")))?;
        let store = PgStore {
            pool,
            closed: AtomicBool::new(false),
            options: Arc::new(options),
        };
        let mut client = store.client().await?;
        schema::prepare(&mut client, store.options.schema.as_deref()).await?;
        Ok(store)
    }

    async fn client(&self) -> StoreResult<Client> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        self.pool.get().await.map_err(|e| self.pool_error(e))
    }

    fn pool_error(&self, e: PoolError) -> StoreError {
        let o = &self.options;
        StoreError::Unavailable(match e {
            PoolError::Timeout(TimeoutType::Wait) => format!(
                "no PostgreSQL connection became free within {:?} (pool of {})",
                o.pool_wait_timeout, o.pool_size
            ),
            PoolError::Timeout(TimeoutType::Create) => format!(
                "could not connect to PostgreSQL within {:?}",
                o.connect_timeout
            ),
            PoolError::Timeout(TimeoutType::Recycle) => format!(
                "checking a pooled PostgreSQL connection took over {:?}",
                o.connect_timeout
            ),
            PoolError::Backend(e) => {
                format!("could not connect to PostgreSQL: {}", failure::describe(&e))
            }
            PoolError::Closed => return closed(),
            PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => e.to_string(),
        })
    }

    /// The client's bound on one attempt; see the module documentation.
    fn attempt_deadline(&self) -> Duration {
        self.options.statement_timeout.saturating_mul(2)
    }

    fn no_answer(&self, client: Client, writing: bool) -> StoreError {
        // The connection may be mid-statement: drop it rather than hand it to the next caller.
        drop(Object::take(client));
        let deadline = self.attempt_deadline();
        StoreError::Unavailable(if writing {
            // The deadline may have passed during COMMIT.
            format!(
                "PostgreSQL did not answer within {deadline:?}, so the change may or may not \
                 have been applied"
            )
        } else {
            format!("PostgreSQL did not answer within {deadline:?}")
        })
    }

    /// A connection lost under a request rarely goes alone: a restart or a failover ends
    /// every session at once, and the other idle connections may not have noticed yet (the
    /// pool only drops a connection it knows to be closed). Dropping them all now makes the
    /// retry, and the requests after it, connect afresh instead of each finding a dead one.
    fn after_failure(&self, error: &tokio_postgres::Error) {
        if failure::kind(error) == failure::Kind::ConnectionLost {
            tracing::warn!(error = %failure::describe(error), "lost a PostgreSQL connection; reconnecting");
            self.pool.retain(|_, _| false);
        }
    }

    /// Runs a read: one statement (or several that need no common snapshot) outside an
    /// explicit transaction, retried on serialization failure and, at most twice, on a lost
    /// connection.
    async fn read<D, T, F>(&self, data: &D, f: F) -> StoreResult<T>
    where
        D: Sync + ?Sized,
        F: for<'a> Fn(&'a Client, &'a D) -> BoxFuture<'a, T>,
    {
        let mut attempt = 1;
        loop {
            let client = self.client().await?;
            let error = match tokio::time::timeout(self.attempt_deadline(), f(&client, data)).await
            {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Fail::Store(e))) => return Err(e),
                Ok(Err(Fail::Db(e))) => e,
                Err(_) => return Err(self.no_answer(client, false)),
            };
            drop(client);
            self.after_failure(&error);
            let Some(delay) = retry_delay(&error, attempt, false) else {
                return Err(store_error(error, false));
            };
            tracing::debug!(attempt, error = %failure::describe(&error), "retrying a read");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// Runs `f` in a READ COMMITTED transaction and commits it, retrying the whole
    /// transaction on serialization failure or deadlock, and at most twice when the
    /// connection was lost before COMMIT. An `Err` from `f` rolls the transaction back.
    async fn write<D, T, F>(&self, data: &D, f: F) -> StoreResult<T>
    where
        D: Sync + ?Sized,
        F: for<'a, 't> Fn(&'a Transaction<'t>, &'a D) -> BoxFuture<'a, T>,
    {
        let mut attempt = 1;
        loop {
            let mut client = self.client().await?;
            let run = async {
                let tx = client
                    .build_transaction()
                    .isolation_level(IsolationLevel::ReadCommitted)
                    .start()
                    .await
                    .map_err(|e| (Fail::Db(e), false))?;
                let value = f(&tx, data).await.map_err(|fail| (fail, false))?;
                tx.commit().await.map_err(|e| (Fail::Db(e), true))?;
                Ok(value)
            };
            let (error, committing) = match tokio::time::timeout(self.attempt_deadline(), run).await
            {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err((Fail::Store(e), _))) => return Err(e),
                Ok(Err((Fail::Db(e), committing))) => (e, committing),
                Err(_) => return Err(self.no_answer(client, true)),
            };
            drop(client);
            self.after_failure(&error);
            let Some(delay) = retry_delay(&error, attempt, committing) else {
                return Err(store_error(error, committing));
            };
            tracing::debug!(attempt, error = %failure::describe(&error), "retrying a transaction");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

impl Store for PgStore {
    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> StoreResult<Option<SecretAggregate>> {
        self.read(&(account_id, region, name), |c, &(a, r, n)| {
            Box::pin(sql::secret_by_name(c, a, r, n))
        })
        .await
    }

    async fn secret_by_arn(&self, arn: &str) -> StoreResult<Option<SecretAggregate>> {
        self.read(arn, |c, arn| Box::pin(sql::secret_by_arn(c, arn)))
            .await
    }

    async fn version_ciphertext(
        &self,
        arn: &str,
        version_id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        self.read(&(arn, version_id), |c, &(arn, v)| {
            Box::pin(sql::version_ciphertext(c, arn, v))
        })
        .await
    }

    async fn create_secret(
        &self,
        secret: SecretRecord,
        versions: Vec<VersionWrite>,
    ) -> StoreResult<()> {
        self.write(&(secret, versions), |tx, (s, v)| {
            Box::pin(sql::create_secret(tx, s, v))
        })
        .await
    }

    async fn update_secret(&self, change: SecretChange) -> StoreResult<()> {
        self.write(&change, |tx, change| {
            Box::pin(sql::update_secret(tx, change))
        })
        .await
    }

    async fn delete_secret(&self, arn: &str, expected_revision: Option<i64>) -> StoreResult<bool> {
        self.write(&(arn, expected_revision), |tx, &(arn, revision)| {
            Box::pin(sql::delete_secret(tx, arn, revision))
        })
        .await
    }

    async fn record_access(&self, arn: &str, version_id: &str, day: i64) -> StoreResult<()> {
        self.write(&(arn, version_id, day), |tx, &(arn, v, day)| {
            Box::pin(sql::record_access(tx, arn, v, day))
        })
        .await
    }

    async fn list_secrets(&self, query: &ListQuery) -> StoreResult<Vec<SecretRecord>> {
        self.read(query, |c, q| Box::pin(sql::list_secrets(c, q)))
            .await
    }

    async fn secrets_due_for_deletion(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.read(&(now, limit), |c, &(now, limit)| {
            Box::pin(sql::secrets_due_for_deletion(c, now, limit))
        })
        .await
    }

    async fn secrets_due_for_rotation(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.read(&(now, limit), |c, &(now, limit)| {
            Box::pin(sql::secrets_due_for_rotation(c, now, limit))
        })
        .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        self.write(&(name, holder, now, ttl_ms), |tx, &(n, h, now, ttl)| {
            Box::pin(sql::acquire_lease(tx, n, h, now, ttl))
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.write(&(name, holder), |tx, &(n, h)| {
            Box::pin(sql::release_lease(tx, n, h))
        })
        .await
    }

    async fn key_encryption_keys(&self) -> StoreResult<Vec<KeyEncryptionKeyRecord>> {
        self.read(&(), |c, ()| Box::pin(sql::key_encryption_keys(c)))
            .await
    }

    async fn insert_key_encryption_key(&self, key: KeyEncryptionKeyRecord) -> StoreResult<bool> {
        self.write(&key, |tx, key| {
            Box::pin(sql::insert_key_encryption_key(tx, key))
        })
        .await
    }

    async fn rewrap_key_encryption_keys(
        &self,
        keys: Vec<KeyEncryptionKeyRecord>,
    ) -> StoreResult<()> {
        self.write(keys.as_slice(), |tx, keys| {
            Box::pin(sql::rewrap_key_encryption_keys(tx, keys))
        })
        .await
    }

    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        self.read(access_key_id, |c, id| Box::pin(sql::access_key(c, id)))
            .await
    }

    async fn insert_access_key(
        &self,
        key: AccessKeyRecord,
        max_per_user: Option<usize>,
    ) -> StoreResult<AccessKeyInsert> {
        self.write(&(key, max_per_user), |tx, (key, max)| {
            Box::pin(sql::insert_access_key(tx, key, *max))
        })
        .await
    }

    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> StoreResult<bool> {
        self.write(&(access_key_id, status), |tx, &(id, status)| {
            Box::pin(sql::update_access_key_status(tx, id, status))
        })
        .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
        self.write(access_key_id, |tx, id| {
            Box::pin(sql::delete_access_key(tx, id))
        })
        .await
    }

    async fn access_keys_of_user(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        self.read(&(account_id, user_name), |c, &(a, u)| {
            Box::pin(sql::access_keys_of_user(c, a, u))
        })
        .await
    }

    async fn iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
    ) -> StoreResult<Option<IamEntityRecord>> {
        self.read(&(account_id, kind, name), |c, &(a, k, n)| {
            Box::pin(sql::iam_entity(c, a, k, n))
        })
        .await
    }

    async fn iam_entities(
        &self,
        account_id: &str,
        kind: IamKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<IamEntityRecord>> {
        self.read(&(account_id, kind, after, limit), |c, &(a, k, after, l)| {
            Box::pin(sql::iam_entities(c, a, k, after, l))
        })
        .await
    }

    async fn put_iam_entity(
        &self,
        entity: IamEntityRecord,
        expected_revision: Option<i64>,
    ) -> StoreResult<()> {
        self.write(&(entity, expected_revision), |tx, (e, revision)| {
            Box::pin(sql::put_iam_entity(tx, e, *revision))
        })
        .await
    }

    async fn delete_iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
        expected_revision: i64,
    ) -> StoreResult<bool> {
        self.write(
            &(account_id, kind, name, expected_revision),
            |tx, &(a, k, n, revision)| Box::pin(sql::delete_iam_entity(tx, a, k, n, revision)),
        )
        .await
    }

    async fn iam_generation(&self) -> StoreResult<i64> {
        self.read(&(), |c, ()| Box::pin(sql::iam_generation(c)))
            .await
    }

    async fn kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<KmsKeyRecord>> {
        self.read(&(account_id, region, key_id), |c, &(a, r, k)| {
            Box::pin(kms_sql::key(c, a, r, k))
        })
        .await
    }

    async fn kms_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<KmsKeyRecord>> {
        self.read(
            &(account_id, region, after, limit),
            |c, &(a, r, after, l)| Box::pin(kms_sql::keys(c, a, r, after, l)),
        )
        .await
    }

    async fn create_kms_key(
        &self,
        key: KmsKeyRecord,
        material: KmsMaterialRecord,
        alias: Option<KmsAliasRecord>,
    ) -> StoreResult<bool> {
        self.write(&(key, material, alias), |tx, (k, m, a)| {
            Box::pin(kms_sql::create_key(tx, k, m, a.as_ref()))
        })
        .await
    }

    async fn update_kms_key(
        &self,
        key: KmsKeyRecord,
        expected_revision: i64,
        new_material: Option<KmsMaterialRecord>,
    ) -> StoreResult<()> {
        self.write(&(key, expected_revision, new_material), |tx, (k, r, m)| {
            Box::pin(kms_sql::update_key(tx, k, *r, m.as_ref()))
        })
        .await
    }

    async fn delete_kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        expected_revision: i64,
    ) -> StoreResult<bool> {
        self.write(
            &(account_id, region, key_id, expected_revision),
            |tx, &(a, r, k, revision)| Box::pin(kms_sql::delete_key(tx, a, r, k, revision)),
        )
        .await
    }

    async fn kms_materials(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Vec<KmsMaterialRecord>> {
        self.read(&(account_id, region, key_id), |c, &(a, r, k)| {
            Box::pin(kms_sql::materials(c, a, r, k))
        })
        .await
    }

    async fn kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> StoreResult<Option<KmsAliasRecord>> {
        self.read(&(account_id, region, alias_name), |c, &(a, r, n)| {
            Box::pin(kms_sql::alias(c, a, r, n))
        })
        .await
    }

    async fn kms_aliases(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<KmsAliasRecord>> {
        self.read(
            &(account_id, region, after, limit),
            |c, &(a, r, after, l)| Box::pin(kms_sql::aliases(c, a, r, after, l)),
        )
        .await
    }

    async fn create_kms_alias(&self, alias: KmsAliasRecord) -> StoreResult<bool> {
        self.write(&alias, |tx, alias| {
            Box::pin(kms_sql::create_alias(tx, alias))
        })
        .await
    }

    async fn update_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
        target_key_id: &str,
        updated_at: i64,
    ) -> StoreResult<bool> {
        self.write(
            &(account_id, region, alias_name, target_key_id, updated_at),
            |tx, &(a, r, n, t, at)| Box::pin(kms_sql::update_alias(tx, a, r, n, t, at)),
        )
        .await
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> StoreResult<bool> {
        self.write(&(account_id, region, alias_name), |tx, &(a, r, n)| {
            Box::pin(kms_sql::delete_alias(tx, a, r, n))
        })
        .await
    }

    async fn kms_generation(&self) -> StoreResult<i64> {
        self.read(&(), |c, ()| Box::pin(kms_sql::generation(c)))
            .await
    }

    async fn append_audit_records(
        &self,
        records: Arc<Vec<NewAuditRecord>>,
        link: AuditLink,
    ) -> StoreResult<Vec<i64>> {
        self.write(&(records.as_slice(), link), |tx, &(records, link)| {
            Box::pin(audit_sql::append(tx, records, link))
        })
        .await
    }

    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        self.read(&(), |c, ()| Box::pin(audit_sql::head(c))).await
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecordRow>> {
        self.read(&(after_seq, limit), |c, &(after, l)| {
            Box::pin(audit_sql::records(c, after, l))
        })
        .await
    }

    async fn lookup_audit_records(&self, query: AuditQuery) -> StoreResult<Vec<AuditRecordRow>> {
        self.read(&query, |c, q| Box::pin(audit_sql::lookup(c, q)))
            .await
    }

    async fn append_audit_digest(&self, digest: AuditDigestRow) -> StoreResult<()> {
        self.write(&digest, |tx, d| Box::pin(audit_sql::append_digest(tx, d)))
            .await
    }

    async fn audit_digests(&self) -> StoreResult<Vec<AuditDigestRow>> {
        self.read(&(), |c, ()| Box::pin(audit_sql::digests(c)))
            .await
    }

    async fn purge_audit_records(&self, before_time: i64) -> StoreResult<u64> {
        self.write(&before_time, |tx, &before| {
            Box::pin(audit_sql::purge(tx, before))
        })
        .await
    }

    async fn setting_or_insert(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        self.write(&(name, value), |tx, (n, v)| {
            Box::pin(sql::setting_or_insert(tx, n, v))
        })
        .await
    }

    async fn close(&self) -> StoreResult<()> {
        self.closed.store(true, Ordering::Release);
        // Idle connections close now; those in use close when their callers hand them back.
        self.pool.close();
        Ok(())
    }
}
