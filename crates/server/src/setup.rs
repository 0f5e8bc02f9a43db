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
use crate::seal;

pub const ROOT_KEY_FILE: &str = "root.key";
pub const ADMIN_CREDENTIALS_FILE: &str = "admin-credentials";
pub const DATABASE_FILE: &str = "coffer.db";
const LOCK_FILE: &str = "coffer.lock";

/// Where the root key came from, for the start-up report.
pub enum RootKeyOrigin {
    Generated(PathBuf),
    File(PathBuf),
    Environment,
    Command,
}

/// The data directory, opened: its lock, its store and how its root key is kept.
pub struct Opened {
    pub store: Arc<EmbeddedStore>,
    /// How the root key is obtained: a key at hand (file, environment), or shares.
    pub root: RootOfTrust,
    /// Held for the life of the server: a second server on the same directory would corrupt
    /// nothing (SQLite locks) but would serve from a cache the first one does not invalidate.
    pub _lock: File,
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

/// Creates (if needed) and locks the data directory, opens the store, and finds the root of
/// trust.
pub async fn open(config: &ServerConfig) -> anyhow::Result<Opened> {
    let dir = &config.data_dir;
    create_private_dir(dir)?;
    let lock = lock_data_dir(dir)?;
    let sealed = seal::SealConfig::read(dir)?;
    if sealed.is_some() && (config.root_key.is_some() || config.root_key_command.is_some()) {
        bail!(
            "{} is sealed with unseal shares ({}); --root-key and --root-key-command do not apply to it",
            dir.display(),
            seal::SEAL_FILE
        );
    }
    let root = match sealed {
        Some(config) => RootOfTrust::Sealed(config),
        None => {
            let (key, origin) = load_root_key(config)?;
            RootOfTrust::Key(key, origin)
        }
    };
    let store = Arc::new(
        EmbeddedStore::open(dir.join(DATABASE_FILE))
            .with_context(|| format!("could not open the store in {}", dir.display()))?,
    );
    Ok(Opened {
        store,
        root,
        _lock: lock,
    })
}

/// Opens the keyring under the root key and makes sure the administrator exists (creating
/// and writing out its key on the first start).
pub async fn unlock(
    config: &ServerConfig,
    store: &EmbeddedStore,
    root_key: &RootKey,
    clock: &dyn Clock,
    randomness: &Randomness,
) -> anyhow::Result<Unlocked> {
    let dir = &config.data_dir;
    let keyring = coffer_domain::keyring::open_keyring(store, root_key, clock.now())
        .await
        .with_context(|| format!("could not open the keyring of {}", dir.display()))?;
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

/// `coffer operator init`: a new data directory whose root key exists only as unseal shares.
/// Returns the report to print (it holds the shares).
pub async fn initialise_sealed(
    data_dir: &Path,
    shares: u8,
    threshold: u8,
) -> anyhow::Result<Zeroizing<String>> {
    create_private_dir(data_dir)?;
    let _lock = lock_data_dir(data_dir)?;
    for existing in [DATABASE_FILE, ROOT_KEY_FILE, seal::SEAL_FILE] {
        if data_dir.join(existing).exists() {
            bail!(
                "{} is already initialised ({} exists); `coffer operator init` only sets up a new data directory",
                data_dir.display(),
                existing
            );
        }
    }
    let (root, done) = seal::initialise(data_dir, shares, threshold)?;
    let store = EmbeddedStore::open(data_dir.join(DATABASE_FILE))
        .with_context(|| format!("could not create the store in {}", data_dir.display()))?;
    let now = jiff::Timestamp::now().as_millisecond();
    coffer_domain::keyring::open_keyring(&store, &root, now)
        .await
        .context("could not create the first key-encryption key")?;
    use coffer_store::Store as _;
    store.close().await.context("could not close the store")?;
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
