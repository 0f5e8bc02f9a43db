//! Start-up: the data directory and its lock, the root key, the store, the keyring and the
//! administrator's access key. Each step fails with a message that says what to do.
//!
//! Several nodes on one PostgreSQL store: nothing here needs the data directory (it is only
//! where the node that creates the administrator key writes it), the root key comes from
//! `--root-key` or `--root-key-command`, and what the first start creates is made so that
//! nodes starting together on an empty database agree on it: the first key-encryption key
//! has a fixed id (the store keeps the first insert of an id), the generated administrator
//! key is elected through a setting (`setting_or_insert`), the administrator user and the
//! `aws/secretsmanager` key are inserted with "name taken" as a normal outcome.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use coffer_crypto::{KeyEncryptionKey, Keyring, RootKey, RootKeySource, TokenSigner};
// The first key-encryption key has a fixed id, so that nodes starting together on an empty
// store agree on one (see `coffer_domain::keyring::open_keyring`).
use coffer_domain::identity::{self, AccessKeyPair};
use coffer_domain::keyring::FIRST_KEK_ID;
use coffer_domain::{Clock, Randomness};
use coffer_store::{KeyEncryptionKeyRecord, Store};
use coffer_store_postgres::PgOptions;
use zeroize::Zeroizing;

use crate::config::ServerConfig;
use crate::seal;
use crate::store::{AnyStore, StoreChoice};

pub const ROOT_KEY_FILE: &str = "root.key";
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials";
const LOCK_FILE: &str = "coffer.lock";

/// Where the root key came from, for the start-up report.
pub enum RootKeyOrigin {
    Generated(PathBuf),
    File(PathBuf),
    Environment,
    Command,
}

/// The store opened, with how its root key is kept.
pub struct Opened {
    pub store: Arc<AnyStore>,
    /// How the root key is obtained: a key at hand (file, environment), or shares.
    pub root: RootOfTrust,
    /// With the embedded store, held for the life of the server: a second server on the same
    /// database would corrupt nothing (SQLite locks) but would serve from a cache the first
    /// one does not invalidate. With PostgreSQL there is no lock: sharing the database is
    /// the point, and each node bounds the age of what it caches (`--cache-max-age`).
    pub _lock: Option<File>,
}

pub enum RootOfTrust {
    Key(RootKey, RootKeyOrigin),
    /// The directory is sealed with Shamir shares; the server waits for them.
    Sealed(seal::SealConfig),
}

/// What an open keyring gives the services.
pub struct Unlocked {
    pub keyring: Keyring,
    pub tokens: TokenSigner,
    /// Set when this start created the administrator key and wrote it to this file.
    pub admin_credentials_written: Option<PathBuf>,
}

/// Opens the store and finds the root of trust: for the embedded store, creating (if needed)
/// and locking the data directory first.
pub async fn open(config: &ServerConfig) -> anyhow::Result<Opened> {
    match &config.store {
        StoreChoice::Postgres(_) => open_shared(config).await,
        choice => open_embedded(config, choice).await,
    }
}

async fn open_embedded(config: &ServerConfig, choice: &StoreChoice) -> anyhow::Result<Opened> {
    let dir = &config.data_dir;
    create_private_dir(dir)?;
    let lock = lock_store(choice, dir)?;
    let sealed = seal::SealConfig::read(dir)?;
    if sealed.is_some() && (config.root_key.is_some() || config.root_key_command.is_some()) {
        bail!(
            "{} is sealed with unseal shares ({}); --root-key and --root-key-command do not apply to it",
            dir.display(),
            seal::SEAL_FILE
        );
    }
    let store = Arc::new(crate::store::open(choice, dir, &config.store_options).await?);
    if sealed.is_none() && config.root_key_command.is_none() {
        let key_file = match config
            .root_key
            .as_ref()
            .map(|v| RootKeySource::parse(v.clone()))
        {
            Some(RootKeySource::File(path)) => Some(path),
            Some(RootKeySource::Inline(_)) => None,
            None => Some(dir.join(ROOT_KEY_FILE)),
        };
        if let Some(path) = key_file {
            finish_root_key_rotation(store.as_ref(), &path).await?;
        }
    }
    let root = match sealed {
        Some(config) => RootOfTrust::Sealed(config),
        None => {
            let (key, origin) = load_root_key(config)?;
            RootOfTrust::Key(key, origin)
        }
    };
    Ok(Opened {
        store,
        root,
        _lock: Some(lock),
    })
}

/// PostgreSQL: no data directory, no lock; the root key is given (the configuration checked
/// that), never generated.
async fn open_shared(config: &ServerConfig) -> anyhow::Result<Opened> {
    if seal::SealConfig::read(&config.data_dir)?.is_some() {
        bail!(
            "{} is sealed with unseal shares ({}), but unseal shares work with the embedded store \
             only; with a PostgreSQL store give every node the root key with --root-key or \
             --root-key-command",
            config.data_dir.display(),
            seal::SEAL_FILE
        );
    }
    let store =
        Arc::new(crate::store::open(&config.store, &config.data_dir, &config.store_options).await?);
    if let Some(RootKeySource::File(path)) = config
        .root_key
        .as_ref()
        .map(|v| RootKeySource::parse(v.clone()))
    {
        finish_root_key_rotation(store.as_ref(), &path).await?;
    }
    let (key, origin) = load_root_key(config)?;
    Ok(Opened {
        store,
        root: RootOfTrust::Key(key, origin),
        _lock: None,
    })
}

/// Creates the first key-encryption key of an empty store, race-free (see [`FIRST_KEK_ID`]).
async fn ensure_first_key_encryption_key<S: Store>(
    store: &S,
    root: &RootKey,
    now: i64,
) -> anyhow::Result<()> {
    if !store
        .key_encryption_keys()
        .await
        .context("could not read the key-encryption keys")?
        .is_empty()
    {
        return Ok(());
    }
    let (_, wrapped) = KeyEncryptionKey::generate(FIRST_KEK_ID, root)
        .context("could not create the first key-encryption key")?;
    let inserted = store
        .insert_key_encryption_key(KeyEncryptionKeyRecord {
            key_id: FIRST_KEK_ID.to_owned(),
            wrapped_material: wrapped,
            created_at: now,
        })
        .await
        .context("could not store the first key-encryption key")?;
    if !inserted {
        tracing::debug!("another node created the first key-encryption key first; using it");
    }
    Ok(())
}

/// Opens the keyring under the root key and makes sure the administrator exists (creating
/// and writing out its key on the first start).
pub async fn unlock(
    config: &ServerConfig,
    store: &AnyStore,
    root_key: &RootKey,
    clock: &dyn Clock,
    randomness: &Randomness,
) -> anyhow::Result<Unlocked> {
    let dir = &config.data_dir;
    let described = config
        .store
        .describe(&config.data_dir, &config.store_options);
    ensure_first_key_encryption_key(store, root_key, clock.now()).await?;
    let keyring = coffer_domain::keyring::open_keyring(store, root_key, clock.now())
        .await
        .with_context(|| format!("could not open the keyring of the store {described}"))?;
    let tokens = TokenSigner::derive(root_key, "coffer pagination tokens v1");

    let requested = match &config.admin_key {
        Some((id, secret)) => {
            Some(AccessKeyPair::parse(id, secret.clone()).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let created = identity::ensure_admin_access_key(
        store,
        &keyring,
        &config.account_id,
        requested,
        randomness,
        clock.now(),
    )
    .await
    .context("could not set up the administrator access key")?;
    // The administrator is a real IAM user with `AdministratorAccess`, also in data
    // directories created before IAM existed.
    identity::ensure_admin_user(store, &config.account_id, randomness, clock.now())
        .await
        .context("could not set up the administrator user")?;
    let mut admin_credentials_written = None;
    // A key the operator chose is already known to them; only a generated one is written out.
    if let Some(pair) = created.filter(|_| config.admin_key.is_none()) {
        // With PostgreSQL the directory may not exist yet: it holds nothing else.
        create_private_dir(dir)?;
        let path = dir.join(ADMIN_CREDENTIALS_FILE);
        write_credentials_file(&path, &pair, &config.region)?;
        admin_credentials_written = Some(path);
    }
    Ok(Unlocked {
        keyring,
        tokens,
        admin_credentials_written,
    })
}

fn pending_key_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    path.with_file_name(name)
}

/// `coffer operator rotate-root-key`: a new root key in place of the key file's. Crash-safe:
/// the new key is written beside the old one (`<file>.new`) before the store is re-wrapped in
/// one transaction, and replaces it after; [`finish_root_key_rotation`] completes or undoes
/// an interrupted rotation at the next start.
///
/// With PostgreSQL, running nodes keep working (they hold the unwrapped key-encryption
/// keys, which do not change); each needs the new key file before its next start.
pub async fn rotate_root_key_file(
    data_dir: &Path,
    key_file: Option<&Path>,
    choice: &StoreChoice,
    options: &PgOptions,
) -> anyhow::Result<PathBuf> {
    let (store, path, _lock) = match choice.sqlite_path(data_dir) {
        Some(database) => {
            if seal::SealConfig::read(data_dir)?.is_some() {
                bail!(
                    "{} is sealed with unseal shares; rotating a split root key is not supported yet",
                    data_dir.display()
                );
            }
            let lock = lock_store(choice, data_dir)?;
            if !database.exists() {
                bail!(
                    "{} holds no store to rotate the root key of",
                    database.display()
                );
            }
            let path = key_file
                .map(Path::to_path_buf)
                .unwrap_or_else(|| data_dir.join(ROOT_KEY_FILE));
            let store = crate::store::open(choice, data_dir, options).await?;
            (store, path, Some(lock))
        }
        None => {
            let Some(path) = key_file else {
                bail!(
                    "with a PostgreSQL store, name the key file every node reads with --root-key-file"
                );
            };
            let store = crate::store::open(choice, data_dir, options).await?;
            (store, path.to_path_buf(), None)
        }
    };
    let described = choice.describe(data_dir, options);
    finish_root_key_rotation(&store, &path).await?;
    let old = RootKey::load(&RootKeySource::File(path.clone()))
        .with_context(|| format!("could not read the root key file {}", path.display()))?;
    match coffer_domain::keyring::root_key_opens(&store, &old).await? {
        Some(true) => {}
        Some(false) => bail!("{} is not the root key of {described}", path.display()),
        None => bail!("{described} holds no key-encryption key yet: start a server on it first"),
    }
    let new = RootKey::generate().context("could not generate a root key")?;
    let pending = pending_key_path(&path);
    new.write_new_file(&pending)
        .with_context(|| format!("could not write {}", pending.display()))?;
    let now = jiff::Timestamp::now().as_millisecond();
    coffer_domain::keyring::rotate_root_key(&store, &old, &new, now)
        .await
        .context("could not re-wrap the key-encryption keys")?;
    std::fs::rename(&pending, &path)
        .with_context(|| format!("could not move {} to {}", pending.display(), path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("could not sync {}", dir.display()))?;
    }
    store.close().await.context("could not close the store")?;
    Ok(path)
}

/// Completes or undoes a root-key rotation interrupted between writing `<file>.new` and
/// replacing the key file: whichever key opens the store stays.
async fn finish_root_key_rotation<S: Store>(store: &S, path: &Path) -> anyhow::Result<()> {
    let pending = pending_key_path(path);
    if !pending.exists() {
        return Ok(());
    }
    let new = RootKey::load(&RootKeySource::File(pending.clone()))
        .with_context(|| format!("could not read {}", pending.display()))?;
    if coffer_domain::keyring::root_key_opens(store, &new).await? == Some(true) {
        std::fs::rename(&pending, path).with_context(|| {
            format!("could not move {} to {}", pending.display(), path.display())
        })?;
        tracing::warn!(key_file = %path.display(), "completed an interrupted root key rotation");
    } else {
        std::fs::remove_file(&pending)
            .with_context(|| format!("could not remove {}", pending.display()))?;
        tracing::warn!(key_file = %path.display(), "discarded the key of an unfinished root key rotation");
    }
    Ok(())
}

/// `coffer operator init`: a new data directory whose root key exists only as unseal shares.
/// Returns the report to print (it holds the shares).
pub async fn initialise_sealed(
    data_dir: &Path,
    shares: u8,
    threshold: u8,
    choice: &StoreChoice,
) -> anyhow::Result<Zeroizing<String>> {
    let Some(database) = choice.sqlite_path(data_dir) else {
        bail!(
            "unseal shares work with the embedded store only: each node of a PostgreSQL store \
             would have to be unsealed on its own, which Coffer does not support yet. Give every \
             node the root key with --root-key (a key file or COFFER_ROOT_KEY) or \
             --root-key-command (auto-unseal through an external KMS or HSM)"
        );
    };
    create_private_dir(data_dir)?;
    let _lock = lock_store(choice, data_dir)?;
    for existing in [
        database.as_path(),
        &data_dir.join(ROOT_KEY_FILE),
        &data_dir.join(seal::SEAL_FILE),
    ] {
        if existing.exists() {
            bail!(
                "{} is already initialised ({} exists); `coffer operator init` only sets up a new data directory",
                data_dir.display(),
                existing.display()
            );
        }
    }
    let (root, done) = seal::initialise(shares, threshold)?;
    let store = crate::store::open(choice, data_dir, &PgOptions::default())
        .await
        .with_context(|| format!("could not create the store in {}", data_dir.display()))?;
    let now = jiff::Timestamp::now().as_millisecond();
    ensure_first_key_encryption_key(&store, &root, now).await?;
    coffer_domain::keyring::open_keyring(&store, &root, now)
        .await
        .context("could not open the first key-encryption key")?;
    store.close().await.context("could not close the store")?;
    done.commit(data_dir)?;
    Ok(seal::init_report(data_dir, &done))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!(
                "the data directory {} exists but is not a directory",
                dir.display()
            );
        }
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("could not create the data directory {}", dir.display()))
}

/// Locks the embedded store: `<data-dir>/coffer.lock` for the data directory's database (as
/// ever), `<file>.lock` beside a database given with `--store`.
fn lock_store(choice: &StoreChoice, dir: &Path) -> anyhow::Result<File> {
    let (path, using) = match choice {
        StoreChoice::Sqlite(database) => {
            let mut name = database.as_os_str().to_os_string();
            name.push(".lock");
            (PathBuf::from(name), database.as_path())
        }
        _ => (dir.join(LOCK_FILE), dir),
    };
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("could not open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!(
                "another coffer server is already using {}; stop it or choose another --data-dir \
                 (several servers share data through a PostgreSQL --store only)",
                using.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("could not lock {}", path.display()))
        }
    }
}

fn load_root_key(config: &ServerConfig) -> anyhow::Result<(RootKey, RootKeyOrigin)> {
    if let Some(command) = &config.root_key_command {
        return Ok((root_key_from_command(command)?, RootKeyOrigin::Command));
    }
    match &config.root_key {
        Some(value) => {
            let source = RootKeySource::parse(value.clone());
            let origin = match &source {
                RootKeySource::Inline(_) => RootKeyOrigin::Environment,
                RootKeySource::File(path) => RootKeyOrigin::File(path.clone()),
            };
            let key = RootKey::load(&source)
                .context("could not load the root key given by --root-key / COFFER_ROOT_KEY")?;
            Ok((key, origin))
        }
        None => {
            let path = config.data_dir.join(ROOT_KEY_FILE);
            let (key, created) =
                RootKey::load_or_create(&path).context("could not load or create the root key")?;
            Ok((
                key,
                if created {
                    RootKeyOrigin::Generated(path)
                } else {
                    RootKeyOrigin::File(path)
                },
            ))
        }
    }
}

/// Runs the auto-unseal command and reads the root key (base64) from its standard output.
/// Neither the output nor the command's standard error is ever logged or echoed: a failing
/// command is reported by its exit status only.
fn root_key_from_command(command: &str) -> anyhow::Result<RootKey> {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .context("could not run --root-key-command")?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        bail!("--root-key-command failed ({})", output.status);
    }
    let text = Zeroizing::new(String::from_utf8_lossy(&stdout).trim().to_owned());
    RootKey::from_base64(&text)
        .context("--root-key-command did not print a root key (32 bytes as base64)")
}

/// Writes the administrator's keys in the AWS shared-credentials format (mode 0600), so that
/// `AWS_SHARED_CREDENTIALS_FILE=<this file>` makes any AWS tool use them.
fn write_credentials_file(path: &Path, pair: &AccessKeyPair, region: &str) -> anyhow::Result<()> {
    let mut options = File::options();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("could not write {}", path.display()))?;
    let text = Zeroizing::new(format!(
        "# Coffer administrator credentials, created at first start. Keep this file private.\n\
         # Use with: AWS_SHARED_CREDENTIALS_FILE={} aws --endpoint-url <coffer URL> ...\n\
         [default]\n\
         aws_access_key_id = {}\n\
         aws_secret_access_key = {}\n\
         region = {region}\n",
        path.display(),
        pair.access_key_id,
        pair.secret_access_key.as_str(),
    ));
    file.write_all(text.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("could not write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::DATABASE_FILE;
    use coffer_store_embedded::EmbeddedStore;

    async fn store_with_key(dir: &Path) -> (EmbeddedStore, RootKey) {
        let store = EmbeddedStore::open(dir.join(DATABASE_FILE)).unwrap();
        let (root, _) = RootKey::load_or_create(&dir.join(ROOT_KEY_FILE)).unwrap();
        coffer_domain::keyring::open_keyring(&store, &root, 0)
            .await
            .unwrap();
        (store, root)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn nodes_starting_together_agree_on_one_key_encryption_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path().join(DATABASE_FILE)).unwrap());
        let root = Arc::new(RootKey::generate().unwrap());
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let (store, root) = (store.clone(), root.clone());
                tokio::spawn(async move {
                    ensure_first_key_encryption_key(store.as_ref(), &root, 1)
                        .await
                        .unwrap();
                    coffer_domain::keyring::open_keyring(store.as_ref(), &root, 1)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for start in starts {
            assert_eq!(start.await.unwrap().active().id(), FIRST_KEK_ID);
        }
        assert_eq!(store.key_encryption_keys().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_interrupted_rotation_is_completed_or_undone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ROOT_KEY_FILE);
        let (store, old) = store_with_key(dir.path()).await;

        // Crashed after writing the new key, before re-wrapping: the new key is discarded.
        let new = RootKey::generate().unwrap();
        new.write_new_file(&pending_key_path(&path)).unwrap();
        finish_root_key_rotation(&store, &path).await.unwrap();
        assert!(!pending_key_path(&path).exists());
        let kept = RootKey::load(&RootKeySource::File(path.clone())).unwrap();
        assert_eq!(kept.check_value(), old.check_value());

        // Crashed after re-wrapping, before replacing the file: the new key takes its place.
        new.write_new_file(&pending_key_path(&path)).unwrap();
        coffer_domain::keyring::rotate_root_key(&store, &old, &new, 0)
            .await
            .unwrap();
        finish_root_key_rotation(&store, &path).await.unwrap();
        assert!(!pending_key_path(&path).exists());
        let kept = RootKey::load(&RootKeySource::File(path.clone())).unwrap();
        assert_eq!(kept.check_value(), new.check_value());
        assert_eq!(
            coffer_domain::keyring::root_key_opens(&store, &kept)
                .await
                .unwrap(),
            Some(true)
        );
    }
}
