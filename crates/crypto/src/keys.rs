//! Key-encryption keys and the keyring that holds them unwrapped in memory.

use std::collections::HashMap;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult, KEY_LEN, RootKey};

/// A key-encryption key as stored: sealed under the root key.
pub type WrappedKey = Vec<u8>;

pub struct KeyEncryptionKey {
    id: String,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn wrap_aad(id: &str) -> Vec<u8> {
    [b"coffer.kek.v1:".as_slice(), id.as_bytes()].concat()
}

impl KeyEncryptionKey {
    /// A fresh key with the given id, and its wrapped form to store.
    pub fn generate(id: &str, root: &RootKey) -> CryptoResult<(KeyEncryptionKey, WrappedKey)> {
        let key = KeyEncryptionKey {
            id: id.to_owned(),
            bytes: crate::random_key()?,
        };
        let wrapped = key.wrap(root)?;
        Ok((key, wrapped))
    }

    pub fn unwrap(id: &str, wrapped: &[u8], root: &RootKey) -> CryptoResult<KeyEncryptionKey> {
        let plain = crate::open(root.bytes(), &wrap_aad(id), wrapped)?;
        if plain.len() != KEY_LEN {
            return Err(CryptoError::Integrity);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&plain);
        Ok(KeyEncryptionKey {
            id: id.to_owned(),
            bytes,
        })
    }

    /// This key sealed under `root` (used when storing it and when the root key rotates).
    pub fn wrap(&self, root: &RootKey) -> CryptoResult<WrappedKey> {
        crate::seal(root.bytes(), &wrap_aad(&self.id), self.bytes.as_ref())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

/// The unwrapped key-encryption keys. New data keys are wrapped under the active one; any
/// key in the ring can unwrap, so ciphertexts written before a rotation stay readable.
#[derive(Clone, Debug)]
pub struct Keyring {
    active: Arc<KeyEncryptionKey>,
    by_id: HashMap<String, Arc<KeyEncryptionKey>>,
}

impl Keyring {
    /// A keyring whose active key is the last of `keys` (callers pass them oldest first).
    pub fn new(keys: Vec<KeyEncryptionKey>) -> Option<Keyring> {
        let keys: Vec<Arc<KeyEncryptionKey>> = keys.into_iter().map(Arc::new).collect();
        let active = keys.last()?.clone();
        let by_id = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
        Some(Keyring { active, by_id })
    }

    pub fn active(&self) -> &KeyEncryptionKey {
        &self.active
    }

    pub(crate) fn key(&self, id: &str) -> CryptoResult<&KeyEncryptionKey> {
        self.by_id
            .get(id)
            .map(Arc::as_ref)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_owned()))
    }

    /// Every key, wrapped under `root` — the records to store when the root key rotates.
    pub fn rewrap(&self, root: &RootKey) -> CryptoResult<Vec<(String, WrappedKey)>> {
        let mut ids: Vec<&String> = self.by_id.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| Ok((id.clone(), self.by_id[id].wrap(root)?)))
            .collect()
    }

    /// Seals a secret access key for storage (SigV4 needs the key itself, so it cannot be
    /// hashed); bound to its access key id.
    pub fn seal_access_key(&self, access_key_id: &str, secret: &str) -> CryptoResult<Vec<u8>> {
        crate::envelope::seal_with_ring(self, &access_key_aad(access_key_id), secret.as_bytes())
    }

    pub fn open_access_key(
        &self,
        access_key_id: &str,
        sealed: &[u8],
    ) -> CryptoResult<Zeroizing<String>> {
        let plain = crate::envelope::open_with_ring(self, &access_key_aad(access_key_id), sealed)?;
        let text = std::str::from_utf8(&plain).map_err(|_| CryptoError::Integrity)?;
        Ok(Zeroizing::new(text.to_owned()))
    }
}

fn access_key_aad(access_key_id: &str) -> Vec<u8> {
    [
        b"coffer.access-key.v1:".as_slice(),
        access_key_id.as_bytes(),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_root_key_rotation_by_rewrap() {
        let old_root = RootKey::generate().unwrap();
        let (kek, wrapped) = KeyEncryptionKey::generate("k1", &old_root).unwrap();
        let ring = Keyring::new(vec![kek]).unwrap();
        let sealed = ring.seal_access_key("AKIA1", "secret-key").unwrap();

        let new_root = RootKey::generate().unwrap();
        let rewrapped = ring.rewrap(&new_root).unwrap();
        assert_eq!(rewrapped.len(), 1);
        assert!(KeyEncryptionKey::unwrap("k1", &rewrapped[0].1, &old_root).is_err());
        let reopened = Keyring::new(vec![
            KeyEncryptionKey::unwrap("k1", &rewrapped[0].1, &new_root).unwrap(),
        ])
        .unwrap();
        assert_eq!(
            reopened.open_access_key("AKIA1", &sealed).unwrap().as_str(),
            "secret-key"
        );
        assert!(KeyEncryptionKey::unwrap("k1", &wrapped, &new_root).is_err());
    }

    #[test]
    fn a_wrapped_key_is_bound_to_its_id() {
        let root = RootKey::generate().unwrap();
        let (_, wrapped) = KeyEncryptionKey::generate("k1", &root).unwrap();
        assert!(matches!(
            KeyEncryptionKey::unwrap("k2", &wrapped, &root),
            Err(CryptoError::Integrity)
        ));
    }

    #[test]
    fn sealed_access_keys_are_bound_to_their_id() {
        let root = RootKey::generate().unwrap();
        let ring = Keyring::new(vec![KeyEncryptionKey::generate("k", &root).unwrap().0]).unwrap();
        let sealed = ring.seal_access_key("AKIA1", "s").unwrap();
        assert!(ring.open_access_key("AKIA2", &sealed).is_err());
    }

    #[test]
    fn debug_never_prints_key_bytes() {
        let root = RootKey::generate().unwrap();
        let (kek, _) = KeyEncryptionKey::generate("k", &root).unwrap();
        let kek_shown = format!("{kek:?}");
        let shown = format!(
            "{kek_shown} {root:?} {:?}",
            Keyring::new(vec![kek]).unwrap()
        );
        assert!(!shown.contains(&format!("{:?}", root.bytes())));
        assert!(shown.contains("REDACTED"));
    }
}
