//! Opening the keyring at start-up: the store holds the key-encryption keys wrapped under
//! the root key; the first start of a data directory creates the first one.

use coffer_crypto::{KeyEncryptionKey, Keyring, RootKey};
use coffer_store::{KeyEncryptionKeyRecord, Store};

use crate::clock::Millis;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "the root key does not open this store's key-encryption keys: it is not the root key this data was written with"
    )]
    WrongRootKey,
    #[error("could not create a key-encryption key: {0}")]
    Crypto(#[from] coffer_crypto::CryptoError),
    #[error("could not read or write key-encryption keys: {0}")]
    Store(#[from] coffer_store::StoreError),
}

/// The id of the first key-encryption key of a store.
pub const FIRST_KEK_ID: &str = "kek-first";

pub async fn open_keyring<S: Store>(
    store: &S,
    root: &RootKey,
    now: Millis,
) -> Result<Keyring, KeyringError> {
    let mut records = store.key_encryption_keys().await?;
    if records.is_empty() {
        // Several nodes may start together on one empty store: the first key has a fixed id,
        // so the store keeps the first insert and every node opens that same key (with
        // random ids, a node could list the keys before another's insert committed and never
        // learn the key the others seal under).
        let key_id = FIRST_KEK_ID.to_owned();
        let (_, wrapped) = KeyEncryptionKey::generate(&key_id, root)?;
        store
            .insert_key_encryption_key(KeyEncryptionKeyRecord {
                key_id,
                wrapped_material: wrapped,
                created_at: now,
            })
            .await?;
        records = store.key_encryption_keys().await?;
    }
    let keys = records
        .iter()
        .map(|r| KeyEncryptionKey::unwrap(&r.key_id, &r.wrapped_material, root))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| KeyringError::WrongRootKey)?;
    Ok(Keyring::new(keys).expect("at least one key-encryption key exists"))
}

/// Whether `root` opens the store's key-encryption keys (`None` when there are none yet).
pub async fn root_key_opens<S: Store>(
    store: &S,
    root: &RootKey,
) -> Result<Option<bool>, KeyringError> {
    let records = store.key_encryption_keys().await?;
    Ok(records
        .first()
        .map(|r| KeyEncryptionKey::unwrap(&r.key_id, &r.wrapped_material, root).is_ok()))
}

/// Root-key rotation: re-wraps every key-encryption key under `new_root`, in one store
/// write. Nothing else changes — KMS key material, access keys and secret values are sealed
/// under the KEKs, not under the root key, so none of them is rewritten. Returns the
/// keyring, unchanged in content, for the caller to keep using.
pub async fn rotate_root_key<S: Store>(
    store: &S,
    old_root: &RootKey,
    new_root: &RootKey,
    now: Millis,
) -> Result<Keyring, KeyringError> {
    let keyring = open_keyring(store, old_root, now).await?;
    let records = store.key_encryption_keys().await?;
    let rewrapped = keyring
        .rewrap(new_root)?
        .into_iter()
        .map(|(key_id, wrapped_material)| {
            let created_at = records
                .iter()
                .find(|r| r.key_id == key_id)
                .map_or(now, |r| r.created_at);
            KeyEncryptionKeyRecord {
                key_id,
                wrapped_material,
                created_at,
            }
        })
        .collect();
    store.rewrap_key_encryption_keys(rewrapped).await?;
    Ok(keyring)
}
