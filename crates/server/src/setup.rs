//! Start-up: the data directory and its lock, the root key, the store, the keyring and the
//! administrator's access key. Each step fails with a message that says what to do.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use coffer_crypto::{Keyring, RootKey, RootKeySource, TokenSigner};
use coffer_domain::identity::{self, AccessKeyPair};
use coffer_domain::{Clock, Randomness};
use coffer_store_embedded::EmbeddedStore;
use zeroize::Zeroizing;

use crate::config::ServerConfig;

pub const ROOT_KEY_FILE: &str = "root.key";
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials";
pub const DATABASE_FILE: &str = "coffer.db";
const LOCK_FILE: &str = "coffer.lock";

/// Where the root key came from, for the start-up report.
pub enum RootKeyOrigin {
    Generated(PathBuf),
    File(PathBuf),
    Environment,
}

pub struct Started {
    pub store: Arc<EmbeddedStore>,
    pub keyring: Keyring,
    pub tokens: TokenSigner,
    pub root_key_origin: RootKeyOrigin,
    /// Set when this start created the administrator key and wrote it to this file.
    pub admin_credentials_written: Option<PathBuf>,
    /// Held for the life of the server: a second server on the same directory would corrupt
    /// nothing (SQLite locks) but would serve from a cache the first one does not invalidate.
    pub _lock: File,
}

pub async fn start(
    config: &ServerConfig,
    clock: &dyn Clock,
    randomness: &Randomness,
) -> anyhow::Result<Started> {
    let dir = &config.data_dir;
    create_private_dir(dir)?;
    let lock = lock_data_dir(dir)?;

    let (root_key, root_key_origin) = load_root_key(config)?;
    let store = Arc::new(
        EmbeddedStore::open(dir.join(DATABASE_FILE))
            .with_context(|| format!("could not open the store in {}", dir.display()))?,
    );
    let keyring = coffer_domain::keyring::open_keyring(store.as_ref(), &root_key, clock.now())
        .await
        .with_context(|| format!("could not open the keyring of {}", dir.display()))?;
    let tokens = TokenSigner::derive(&root_key, "coffer pagination tokens v1");

    let requested = match &config.admin_key {
        Some((id, secret)) => {
            Some(AccessKeyPair::parse(id, secret.clone()).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };
    let created = identity::ensure_admin_access_key(
        store.as_ref(),
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
    identity::ensure_admin_user(store.as_ref(), &config.account_id, randomness, clock.now())
        .await
        .context("could not set up the administrator user")?;
    let mut admin_credentials_written = None;
    // A key the operator chose is already known to them; only a generated one is written out.
    if let Some(pair) = created.filter(|_| config.admin_key.is_none()) {
        let path = dir.join(ADMIN_CREDENTIALS_FILE);
        write_credentials_file(&path, &pair, &config.region)?;
        admin_credentials_written = Some(path);
    }
    Ok(Started {
        store,
        keyring,
        tokens,
        root_key_origin,
        admin_credentials_written,
        _lock: lock,
    })
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

fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(LOCK_FILE);
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
                "another coffer server is already using {}; stop it or choose another --data-dir",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("could not lock {}", path.display()))
        }
    }
}

fn load_root_key(config: &ServerConfig) -> anyhow::Result<(RootKey, RootKeyOrigin)> {
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
