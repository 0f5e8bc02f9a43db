//! Which store the server runs on: `--store` names the embedded store (a SQLite file, by
//! default in the data directory) or a PostgreSQL database shared by several nodes.
//!
//! [`AnyStore`] is the one store type the services are built over. It delegates every
//! method to the backend chosen at start-up with a `match` (static dispatch): the hot path
//! pays a branch, not an allocation and a virtual call per store call, and the services stay
//! monomorphic.
//!
//! A PostgreSQL URL may carry a password: [`redact`] is what any message or log line shows
//! of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use coffer_store::{
    AccessKeyInsert, AccessKeyRecord, AccessKeyStatus, AuditDigestRow, AuditLink, AuditQuery,
    AuditRecordRow, IamEntityRecord, IamKind, KeyEncryptionKeyRecord, KmsAliasRecord, KmsKeyRecord,
    KmsMaterialRecord, ListQuery, NewAuditRecord, SecretAggregate, SecretChange, SecretRecord,
    Store, StoreResult, VersionWrite,
};
use coffer_store_embedded::EmbeddedStore;
use coffer_store_postgres::{PgOptions, PgStore};

/// The embedded store's file in the data directory.
pub const DATABASE_FILE: &str = "coffer.db";

/// Where the data lives, as `--store` says.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded store in `<data-dir>/coffer.db` (no `--store`).
    DataDir,
    /// The embedded store in this SQLite file (`--store sqlite://<path>` or a path).
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL or `key=value` connection string.
    Postgres(String),
}

impl std::fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreChoice::DataDir => f.write_str("DataDir"),
            StoreChoice::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreChoice::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

impl StoreChoice {
    /// Reads a `--store` value: `postgres://…`/`postgresql://…` (or a libpq `key=value`
    /// string naming a `host` or `dbname`), `sqlite://<path>`, or a path.
    pub fn parse(value: Option<&str>) -> anyhow::Result<StoreChoice> {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(StoreChoice::DataDir);
        };
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(StoreChoice::Postgres(value.to_owned()));
        }
        if let Some(path) = value.strip_prefix("sqlite://") {
            if path.is_empty() {
                bail!("--store sqlite:// needs a path, e.g. sqlite:///var/lib/coffer/coffer.db");
            }
            return Ok(StoreChoice::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = value.split_once("://") {
            bail!(
                "--store {scheme}://… is not a store Coffer knows: use postgres://… (or \
                 postgresql://…) for PostgreSQL, or sqlite://<path> or a path for the embedded store"
            );
        }
        let words: Vec<&str> = value.split_whitespace().collect();
        if words
            .iter()
            .any(|w| w.starts_with("host=") || w.starts_with("dbname="))
            && words.iter().all(|w| w.contains('=') || w.starts_with('\''))
        {
            return Ok(StoreChoice::Postgres(value.to_owned()));
        }
        Ok(StoreChoice::Sqlite(PathBuf::from(value)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, StoreChoice::Postgres(_))
    }

    /// The embedded store's file, for a data directory.
    pub fn sqlite_path(&self, data_dir: &Path) -> Option<PathBuf> {
        match self {
            StoreChoice::DataDir => Some(data_dir.join(DATABASE_FILE)),
            StoreChoice::Sqlite(path) => Some(path.clone()),
            StoreChoice::Postgres(_) => None,
        }
    }

    /// What start-up reports and logs print: never a password.
    pub fn describe(&self, data_dir: &Path, options: &PgOptions) -> String {
        match self {
            StoreChoice::Postgres(url) => match &options.schema {
                Some(schema) => format!("PostgreSQL {} (schema {schema})", redact(url)),
                None => format!("PostgreSQL {}", redact(url)),
            },
            _ => format!(
                "embedded {}",
                self.sqlite_path(data_dir).unwrap_or_default().display()
            ),
        }
    }
}

/// Opens the chosen store; the embedded store at `sqlite_path`, PostgreSQL with `options`.
pub async fn open(
    choice: &StoreChoice,
    data_dir: &Path,
    options: &PgOptions,
) -> anyhow::Result<AnyStore> {
    match choice {
        StoreChoice::Postgres(url) => {
            let store = PgStore::connect(url, options.clone())
                .await
                .with_context(|| {
                    format!(
                        "could not open the store {}",
                        choice.describe(data_dir, options)
                    )
                })?;
            Ok(AnyStore::Postgres(store))
        }
        _ => {
            let path = choice.sqlite_path(data_dir).unwrap_or_default();
            let store = EmbeddedStore::open(&path)
                .with_context(|| format!("could not open the store {}", path.display()))?;
            Ok(AnyStore::Embedded(store))
        }
    }
}

/// A connection string with its password replaced by `****`: in the URL's user information,
/// in a `password` query parameter, or in a `password=` word of a `key=value` string.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:****@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => authority.to_owned(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=****")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => tail.to_owned(),
        };
        return format!("{scheme}://{authority}{tail}");
    }
    // key=value: a quoted password may hold spaces, so skip to its closing quote.
    let mut out = Vec::new();
    let mut words = url.split(' ').peekable();
    while let Some(word) = words.next() {
        let Some(value) = word.strip_prefix("password=") else {
            out.push(word.to_owned());
            continue;
        };
        out.push("password=****".to_owned());
        if value.starts_with('\'') && !(value.len() > 1 && value.ends_with('\'')) {
            for next in words.by_ref() {
                if next.ends_with('\'') {
                    break;
                }
            }
        }
    }
    out.join(" ")
}

/// The store the server runs on.
pub enum AnyStore {
    Embedded(EmbeddedStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Whether other nodes may write the same data (so caches must bound their age and
    /// background jobs must take turns).
    pub fn is_shared(&self) -> bool {
        matches!(self, AnyStore::Postgres(_))
    }
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Embedded($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn secret_by_name(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> StoreResult<Option<SecretAggregate>> {
        delegate!(self, s => s.secret_by_name(account_id, region, name))
    }

    async fn secret_by_arn(&self, arn: &str) -> StoreResult<Option<SecretAggregate>> {
        delegate!(self, s => s.secret_by_arn(arn))
    }

    async fn version_ciphertext(
        &self,
        arn: &str,
        version_id: &str,
    ) -> StoreResult<Option<Vec<u8>>> {
        delegate!(self, s => s.version_ciphertext(arn, version_id))
    }

    async fn create_secret(
        &self,
        secret: SecretRecord,
        versions: Vec<VersionWrite>,
    ) -> StoreResult<()> {
        delegate!(self, s => s.create_secret(secret, versions))
    }

    async fn update_secret(&self, change: SecretChange) -> StoreResult<()> {
        delegate!(self, s => s.update_secret(change))
    }

    async fn delete_secret(&self, arn: &str, expected_revision: Option<i64>) -> StoreResult<bool> {
        delegate!(self, s => s.delete_secret(arn, expected_revision))
    }

    async fn record_access(&self, arn: &str, version_id: &str, day: i64) -> StoreResult<()> {
        delegate!(self, s => s.record_access(arn, version_id, day))
    }

    async fn list_secrets(&self, query: &ListQuery) -> StoreResult<Vec<SecretRecord>> {
        delegate!(self, s => s.list_secrets(query))
    }

    async fn secrets_due_for_deletion(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        delegate!(self, s => s.secrets_due_for_deletion(now, limit))
    }

    async fn secrets_due_for_rotation(&self, now: i64, limit: usize) -> StoreResult<Vec<String>> {
        delegate!(self, s => s.secrets_due_for_rotation(now, limit))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.acquire_lease(name, holder, now, ttl_ms))
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        delegate!(self, s => s.release_lease(name, holder))
    }

    async fn key_encryption_keys(&self) -> StoreResult<Vec<KeyEncryptionKeyRecord>> {
        delegate!(self, s => s.key_encryption_keys())
    }

    async fn insert_key_encryption_key(&self, key: KeyEncryptionKeyRecord) -> StoreResult<bool> {
        delegate!(self, s => s.insert_key_encryption_key(key))
    }

    async fn rewrap_key_encryption_keys(
        &self,
        keys: Vec<KeyEncryptionKeyRecord>,
    ) -> StoreResult<()> {
        delegate!(self, s => s.rewrap_key_encryption_keys(keys))
    }

    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>> {
        delegate!(self, s => s.access_key(access_key_id))
    }

    async fn insert_access_key(
        &self,
        key: AccessKeyRecord,
        max_per_user: Option<usize>,
    ) -> StoreResult<AccessKeyInsert> {
        delegate!(self, s => s.insert_access_key(key, max_per_user))
    }

    async fn update_access_key_status(
        &self,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.update_access_key_status(access_key_id, status))
    }

    async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
        delegate!(self, s => s.delete_access_key(access_key_id))
    }

    async fn access_keys_of_user(
        &self,
        account_id: &str,
        user_name: &str,
    ) -> StoreResult<Vec<AccessKeyRecord>> {
        delegate!(self, s => s.access_keys_of_user(account_id, user_name))
    }

    async fn iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
    ) -> StoreResult<Option<IamEntityRecord>> {
        delegate!(self, s => s.iam_entity(account_id, kind, name))
    }

    async fn iam_entities(
        &self,
        account_id: &str,
        kind: IamKind,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<IamEntityRecord>> {
        delegate!(self, s => s.iam_entities(account_id, kind, after, limit))
    }

    async fn put_iam_entity(
        &self,
        entity: IamEntityRecord,
        expected_revision: Option<i64>,
    ) -> StoreResult<()> {
        delegate!(self, s => s.put_iam_entity(entity, expected_revision))
    }

    async fn delete_iam_entity(
        &self,
        account_id: &str,
        kind: IamKind,
        name: &str,
        expected_revision: i64,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.delete_iam_entity(account_id, kind, name, expected_revision))
    }

    async fn iam_generation(&self) -> StoreResult<i64> {
        delegate!(self, s => s.iam_generation())
    }

    async fn kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Option<KmsKeyRecord>> {
        delegate!(self, s => s.kms_key(account_id, region, key_id))
    }

    async fn kms_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<KmsKeyRecord>> {
        delegate!(self, s => s.kms_keys(account_id, region, after, limit))
    }

    async fn create_kms_key(
        &self,
        key: KmsKeyRecord,
        material: KmsMaterialRecord,
        alias: Option<KmsAliasRecord>,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.create_kms_key(key, material, alias))
    }

    async fn update_kms_key(
        &self,
        key: KmsKeyRecord,
        expected_revision: i64,
        new_material: Option<KmsMaterialRecord>,
    ) -> StoreResult<()> {
        delegate!(self, s => s.update_kms_key(key, expected_revision, new_material))
    }

    async fn delete_kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        expected_revision: i64,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.delete_kms_key(account_id, region, key_id, expected_revision))
    }

    async fn kms_materials(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> StoreResult<Vec<KmsMaterialRecord>> {
        delegate!(self, s => s.kms_materials(account_id, region, key_id))
    }

    async fn kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> StoreResult<Option<KmsAliasRecord>> {
        delegate!(self, s => s.kms_alias(account_id, region, alias_name))
    }

    async fn kms_aliases(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<KmsAliasRecord>> {
        delegate!(self, s => s.kms_aliases(account_id, region, after, limit))
    }

    async fn create_kms_alias(&self, alias: KmsAliasRecord) -> StoreResult<bool> {
        delegate!(self, s => s.create_kms_alias(alias))
    }

    async fn update_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
        target_key_id: &str,
        updated_at: i64,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.update_kms_alias(account_id, region, alias_name, target_key_id, updated_at))
    }

    async fn delete_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        alias_name: &str,
    ) -> StoreResult<bool> {
        delegate!(self, s => s.delete_kms_alias(account_id, region, alias_name))
    }

    async fn kms_generation(&self) -> StoreResult<i64> {
        delegate!(self, s => s.kms_generation())
    }

    async fn append_audit_records(
        &self,
        records: Arc<Vec<NewAuditRecord>>,
        link: AuditLink,
    ) -> StoreResult<Vec<i64>> {
        delegate!(self, s => s.append_audit_records(records, link))
    }

    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        delegate!(self, s => s.audit_head())
    }

    async fn audit_records(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecordRow>> {
        delegate!(self, s => s.audit_records(after_seq, limit))
    }

    async fn lookup_audit_records(&self, query: AuditQuery) -> StoreResult<Vec<AuditRecordRow>> {
        delegate!(self, s => s.lookup_audit_records(query))
    }

    async fn append_audit_digest(&self, digest: AuditDigestRow) -> StoreResult<()> {
        delegate!(self, s => s.append_audit_digest(digest))
    }

    async fn audit_digests(&self) -> StoreResult<Vec<AuditDigestRow>> {
        delegate!(self, s => s.audit_digests())
    }

    async fn purge_audit_records(&self, before_time: i64) -> StoreResult<u64> {
        delegate!(self, s => s.purge_audit_records(before_time))
    }

    async fn setting_or_insert(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        delegate!(self, s => s.setting_or_insert(name, value))
    }

    async fn close(&self) -> StoreResult<()> {
        delegate!(self, s => s.close())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_values_choose_the_backend() {
        assert_eq!(StoreChoice::parse(None).unwrap(), StoreChoice::DataDir);
        assert_eq!(
            StoreChoice::parse(Some("  ")).unwrap(),
            StoreChoice::DataDir
        );
        assert_eq!(
            StoreChoice::parse(Some("sqlite:///var/lib/coffer/c.db")).unwrap(),
            StoreChoice::Sqlite("/var/lib/coffer/c.db".into())
        );
        assert_eq!(
            StoreChoice::parse(Some("./c.db")).unwrap(),
            StoreChoice::Sqlite("./c.db".into())
        );
        for url in [
            "postgres://u:p@db:5432/coffer",
            "postgresql://db/coffer",
            "POSTGRES://db",
            "host=db dbname=coffer user=u",
        ] {
            assert!(
                StoreChoice::parse(Some(url)).unwrap().is_postgres(),
                "{url}"
            );
        }
        let err = StoreChoice::parse(Some("mysql://db")).unwrap_err();
        assert!(
            err.to_string().contains("not a store Coffer knows"),
            "{err}"
        );
        assert!(StoreChoice::parse(Some("sqlite://")).is_err());
    }

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            (
                "postgres://coffer:s3cr3t@db:5432/coffer",
                "postgres://coffer:****@db:5432/coffer",
            ),
            (
                "postgresql://coffer:p%40ss@db/coffer?sslmode=disable&password=other",
                "postgresql://coffer:****@db/coffer?sslmode=disable&password=****",
            ),
            ("postgres://coffer@db", "postgres://coffer@db"),
            ("postgres://db:5432", "postgres://db:5432"),
            ("postgres://u:p@a@db/x", "postgres://u:****@db/x"),
            (
                "host=db user=coffer password=s3cr3t dbname=c",
                "host=db user=coffer password=**** dbname=c",
            ),
            (
                "host=db password='with space' dbname=c",
                "host=db password=**** dbname=c",
            ),
        ] {
            assert_eq!(redact(url), shown);
            for secret in ["s3cr3t", "p%40ss", "other", "with space"] {
                assert!(!redact(url).contains(secret));
            }
        }
        let choice = StoreChoice::parse(Some("postgres://u:s3cr3t@db/x")).unwrap();
        assert!(!format!("{choice:?}").contains("s3cr3t"));
        let described = choice.describe(Path::new("."), &PgOptions::default());
        assert!(!described.contains("s3cr3t"), "{described}");
    }
}
