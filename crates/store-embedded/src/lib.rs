//! The embedded default store: one SQLite file in WAL mode.
//!
//! Durability: `synchronous=FULL` makes every commit fsync the write-ahead log before it
//! returns, so an acknowledged write survives `kill -9` and power loss. Start-up opens the
//! file and applies pending migrations; SQLite recovers the WAL lazily, so nothing at start
//! is proportional to the number of secrets.
//!
//! Concurrency: SQLite allows one writer at a time, so writes go through a single
//! connection and start with `BEGIN IMMEDIATE` (a deferred transaction that reads and then
//! writes fails with SQLITE_BUSY instead of waiting). Reads use a few read-only
//! connections, which WAL lets run beside the writer. Every call runs on tokio's blocking
//! pool, never on the async workers.

mod audit_sql;
mod kms_sql;
mod schema;
mod sql;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use coffer_store::{
    AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, AuditDigestRow, AuditLink, AuditQuery,
    AuditRecordRow, IamEntityRecord, IamKind, KeyEncryptionKeyRecord, KmsAliasRecord, KmsKeyRecord,
    KmsMaterialRecord, ListQuery, NewAuditRecord, SecretAggregate, SecretChange, SecretRecord,
    Store, StoreError, StoreResult, VersionWrite,
};
use rusqlite::{Connection, OpenFlags};

/// Read connections beside the one writer. Two cores: more would only queue on the pool.
const READERS: usize = 4;

/// How long a connection waits on a lock held by another connection before failing.
const BUSY_TIMEOUT_MS: u64 = 5_000;

pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<Connection>>,
    /// Taken only inside a write, so never contended.
    audit_buffers: Mutex<audit_sql::ChunkBuffers>,
    readers: Vec<Mutex<Option<Connection>>>,
    next_reader: AtomicUsize,
    closed: AtomicBool,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<EmbeddedStore> {
        let path = path.as_ref().to_path_buf();
        let mut writer = open_connection(&path, false)?;
        schema::migrate(&mut writer)?;
        move_audit_rows_into_chunks(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path, true).map(|c| Mutex::new(Some(c))))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(Some(writer)),
                audit_buffers: Mutex::new(audit_sql::ChunkBuffers::default()),
                readers,
                next_reader: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            if inner.closed.load(Ordering::Acquire) {
                return Err(closed());
            }
            let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
            // Prefer an idle reader; fall back to waiting on the one the counter picked.
            let count = inner.readers.len();
            let guard = (0..count)
                .find_map(|offset| inner.readers[(start + offset) % count].try_lock().ok());
            let guard = match guard {
                Some(guard) => guard,
                None => lock(&inner.readers[start % count])?,
            };
            let connection = guard.as_ref().ok_or_else(closed)?;
            f(connection)
        })
        .await
    }

    /// [`Self::write`] with `synchronous=NORMAL` for this one transaction: committed to the
    /// operating system (it survives the process being killed) and fsynced with the next
    /// `FULL` commit or checkpoint, but not on its own. Only for the audit trail's batches,
    /// whose cost per record must stay small; see the audit writer for what that means.
    async fn write_relaxed<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            if inner.closed.load(Ordering::Acquire) {
                return Err(closed());
            }
            let mut guard = lock(&inner.writer)?;
            let connection = guard.as_mut().ok_or_else(closed)?;
            connection
                .execute_batch("PRAGMA synchronous=NORMAL")
                .map_err(unavailable)?;
            let result = (|| {
                let tx = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(unavailable)?;
                let value = f(&tx)?;
                tx.commit().map_err(unavailable)?;
                Ok(value)
            })();
            // Every other write keeps fsyncing its commit.
            connection
                .execute_batch("PRAGMA synchronous=FULL")
                .map_err(unavailable)?;
            result
        })
        .await
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            if inner.closed.load(Ordering::Acquire) {
                return Err(closed());
            }
            let mut guard = lock(&inner.writer)?;
            let connection = guard.as_mut().ok_or_else(closed)?;
            let tx = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            let value = f(&tx)?;
            tx.commit().map_err(unavailable)?;
            Ok(value)
        })
        .await
    }
}

fn move_audit_rows_into_chunks(connection: &mut Connection) -> StoreResult<()> {
    let pending: bool = connection
        .query_row("SELECT EXISTS (SELECT 1 FROM audit_records)", [], |row| {
            row.get(0)
        })
        .map_err(unavailable)?;
    if !pending {
        return Ok(());
    }
    let tx = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    let moved = audit_sql::move_rows_into_chunks(&tx)?;
    tx.commit().map_err(unavailable)?;
    tracing::info!(
        records = moved,
        "audit records moved into compressed chunks"
    );
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> StoreResult<std::sync::MutexGuard<'_, T>> {
    // A panic while holding the lock cannot leave a half-applied transaction behind
    // (SQLite rolls back an uncommitted one), so the connection is still usable.
    Ok(mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()))
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
}

fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let connection = Connection::open_with_flags(path, flags).map_err(unavailable)?;
    connection
        .busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))
        .map_err(unavailable)?;
    if !read_only {
        // WAL must be set by a writer; it persists in the file for later opens.
        let mode: String = connection
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .map_err(unavailable)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "could not switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
    }
    connection
        .execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
        .map_err(unavailable)?;
    Ok(connection)
}

fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

impl Store for EmbeddedStore {
    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> StoreResult<Option<SecretAggregate>> {
        let (account_id, region, name) =
            (account_id.to_owned(), region.to_owned(), name.to_owned());
        self.read(move |c| sql::secret_by_name(c, &account_id, &region, &name))
            .await
    }

    async fn secret_by_arn(&self, arn: &str) -> StoreResult<Option<SecretAggregate>> {
        let arn = arn.to_owned();
        self.read(move |c| sql::secret_by_arn(c, &arn)).await
    }

    async fn version_ciphertext(
        &self,
        arn: &str,
        version_id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        let (arn, version_id) = (arn.to_owned(), version_id.to_owned());
        self.read(move |c| sql::version_ciphertext(c, &arn, &version_id))
            .await
    }

    async fn create_secret(
        &self,
        secret: SecretRecord,
        versions: Vec<VersionWrite>,
    ) -> StoreResult<()> {
        self.write(move |tx| sql::create_secret(tx, &secret, &versions))
            .await
    }

    async fn update_secret(&self, change: SecretChange) -> StoreResult<()> {
        self.write(move |tx| sql::update_secret(tx, &change)).await
    }

    async fn delete_secret(&self, arn: &str, expected_revision: Option<i64>) -> StoreResult<bool> {
        let arn = arn.to_owned();
        self.write(move |tx| sql::delete_secret(tx, &arn, expected_revision))
            .await
    }

    async fn record_access(&self, arn: &str, version_id: &str, day: i64) -> StoreResult<()> {
        let (arn, version_id) = (arn.to_owned(), version_id.to_owned());
        self.write(move |tx| sql::record_access(tx, &arn, &version_id, day))
            .await
    }

    async fn list_secrets(&self, query: &ListQuery) -> StoreResult<Vec<SecretRecord>> {
        let query = query.clone();
        self.read(move |c| sql::list_secrets(c, &query)).await
    }

    async fn secrets_due_for_deletion(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.read(move |c| sql::secrets_due_for_deletion(c, now, limit))
            .await
    }

    async fn secrets_due_for_rotation(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        self.read(move |c| sql::secrets_due_for_rotation(c, now, limit))
            .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |tx| sql::acquire_lease(tx, &name, &holder, now, ttl_ms))
            .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |tx| sql::release_lease(tx, &name, &holder))
            .await
    }

    async fn key_encryption_keys(&self) -> StoreResult<Vec<KeyEncryptionKeyRecord>> {
        self.read(sql::key_encryption_keys).await
    }

    async fn insert_key_encryption_key(&self, key: KeyEncryptionKeyRecord) -> StoreResult<bool> {
        self.write(move |tx| sql::insert_key_encryption_key(tx, &key))
            .await
    }

    async fn rewrap_key_encryption_keys(
        &self,
        keys: Vec<KeyEncryptionKeyRecord>,
    ) -> StoreResult<()> {
        self.write(move |tx| sql::rewrap_key_encryption_keys(tx, &keys))
            .await
    }

    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        let access_key_id = access_key_id.to_owned();
        self.read(move |c| sql::access_key(c, &access_key_id)).await
    }

    async fn insert_access_key(
        &self,
        key: AccessKeyRecord,
        max_per_user: Option<usize>,
    ) -> StoreResult<AccessKeyInsert> {
        // Writes run in IMMEDIATE transactions, one at a time: the count cannot go stale.
        self.write(move |tx| sql::insert_access_key(tx, &key, max_per_user))
            .await
    }

    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> StoreResult<bool> {
        let access_key_id = access_key_id.to_owned();
        self.write(move |tx| sql::update_access_key_status(tx, &access_key_id, status))
            .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
        let access_key_id = access_key_id.to_owned();
        self.write(move |tx| sql::delete_access_key(tx, &access_key_id))
            .await
    }

    async fn access_keys_of_user(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        let (account_id, user_name) = (account_id.to_owned(), user_name.to_owned());
        self.read(move |c| sql::access_keys_of_user(c, &account_id, &user_name))
            .await
    }

    async fn iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
    ) -> StoreResult<Option<IamEntityRecord>> {
        let (account_id, name) = (account_id.to_owned(), name.to_owned());
        self.read(move |c| sql::iam_entity(c, &account_id, kind, &name))
            .await
    }

    async fn iam_entities(
        &self,
        account_id: &str,
        kind: IamKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<IamEntityRecord>> {
        let (account_id, after) = (account_id.to_owned(), after.map(str::to_owned));
        self.read(move |c| sql::iam_entities(c, &account_id, kind, after.as_deref(), limit))
            .await
    }

    async fn put_iam_entity(
        &self,
        entity: IamEntityRecord,
        expected_revision: Option<i64>,
    ) -> StoreResult<()> {
        self.write(move |tx| sql::put_iam_entity(tx, &entity, expected_revision))
            .await
    }

    async fn delete_iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
        expected_revision: i64,
    ) -> StoreResult<bool> {
        let (account_id, name) = (account_id.to_owned(), name.to_owned());
        self.write(move |tx| {
            sql::delete_iam_entity(tx, &account_id, kind, &name, expected_revision)
        })
        .await
    }

    async fn iam_generation(&self) -> StoreResult<i64> {
        self.read(sql::iam_generation).await
    }

    async fn kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<KmsKeyRecord>> {
        let (a, r, k) = (account_id.to_owned(), region.to_owned(), key_id.to_owned());
        self.read(move |c| kms_sql::key(c, &a, &r, &k)).await
    }

    async fn kms_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<KmsKeyRecord>> {
        let (a, r) = (account_id.to_owned(), region.to_owned());
        let after = after.map(str::to_owned);
        self.read(move |c| kms_sql::keys(c, &a, &r, after.as_deref(), limit))
            .await
    }

    async fn create_kms_key(
        &self,
        key: KmsKeyRecord,
        material: KmsMaterialRecord,
        alias: Option<KmsAliasRecord>,
    ) -> StoreResult<bool> {
        self.write(move |tx| kms_sql::create_key(tx, &key, &material, alias.as_ref()))
            .await
    }

    async fn update_kms_key(
        &self,
        key: KmsKeyRecord,
        expected_revision: i64,
        new_material: Option<KmsMaterialRecord>,
    ) -> StoreResult<()> {
        self.write(move |tx| {
            kms_sql::update_key(tx, &key, expected_revision, new_material.as_ref())
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
        let (a, r, k) = (account_id.to_owned(), region.to_owned(), key_id.to_owned());
        self.write(move |tx| kms_sql::delete_key(tx, &a, &r, &k, expected_revision))
            .await
    }

    async fn kms_materials(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Vec<KmsMaterialRecord>> {
        let (a, r, k) = (account_id.to_owned(), region.to_owned(), key_id.to_owned());
        self.read(move |c| kms_sql::materials(c, &a, &r, &k)).await
    }

    async fn kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> StoreResult<Option<KmsAliasRecord>> {
        let (a, r, n) = (
            account_id.to_owned(),
            region.to_owned(),
            alias_name.to_owned(),
        );
        self.read(move |c| kms_sql::alias(c, &a, &r, &n)).await
    }

    async fn kms_aliases(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<KmsAliasRecord>> {
        let (a, r) = (account_id.to_owned(), region.to_owned());
        let after = after.map(str::to_owned);
        self.read(move |c| kms_sql::aliases(c, &a, &r, after.as_deref(), limit))
            .await
    }

    async fn create_kms_alias(&self, alias: KmsAliasRecord) -> StoreResult<bool> {
        self.write(move |tx| kms_sql::create_alias(tx, &alias))
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
        let (a, r, n, t) = (
            account_id.to_owned(),
            region.to_owned(),
            alias_name.to_owned(),
            target_key_id.to_owned(),
        );
        self.write(move |tx| kms_sql::update_alias(tx, &a, &r, &n, &t, updated_at))
            .await
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> StoreResult<bool> {
        let (a, r, n) = (
            account_id.to_owned(),
            region.to_owned(),
            alias_name.to_owned(),
        );
        self.write(move |tx| kms_sql::delete_alias(tx, &a, &r, &n))
            .await
    }

    async fn append_audit_records(
        &self,
        records: Arc<Vec<NewAuditRecord>>,
        link: AuditLink,
    ) -> StoreResult<Vec<i64>> {
        let inner = self.inner.clone();
        self.write_relaxed(move |tx| {
            let mut buffers = lock(&inner.audit_buffers)?;
            audit_sql::append(tx, &records, link, &mut buffers)
        })
        .await
    }

    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        self.read(audit_sql::head).await
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecordRow>> {
        self.read(move |c| audit_sql::records(c, after_seq, limit))
            .await
    }

    async fn lookup_audit_records(&self, query: AuditQuery) -> StoreResult<Vec<AuditRecordRow>> {
        self.read(move |c| audit_sql::lookup(c, &query)).await
    }

    async fn append_audit_digest(&self, digest: AuditDigestRow) -> StoreResult<()> {
        self.write(move |tx| audit_sql::append_digest(tx, &digest))
            .await
    }

    async fn audit_digests(&self) -> StoreResult<Vec<AuditDigestRow>> {
        self.read(audit_sql::digests).await
    }

    async fn purge_audit_records(&self, before_time: i64) -> StoreResult<u64> {
        self.write(move |tx| audit_sql::purge(tx, before_time))
            .await
    }

    async fn kms_generation(&self) -> StoreResult<i64> {
        self.read(kms_sql::generation).await
    }

    async fn setting_or_insert(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        let name = name.to_owned();
        self.write(move |tx| sql::setting_or_insert(tx, &name, &value))
            .await
    }

    async fn close(&self) -> StoreResult<()> {
        let inner = self.inner.clone();
        run_blocking(move || {
            inner.closed.store(true, Ordering::Release);
            for reader in &inner.readers {
                lock(reader)?.take();
            }
            if let Some(writer) = lock(&inner.writer)?.take() {
                // Fold the WAL back into the main file so a clean shutdown leaves one file.
                writer
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(unavailable)?;
                writer.close().map_err(|(_, e)| unavailable(e))?;
            }
            Ok(())
        })
        .await
    }
}
