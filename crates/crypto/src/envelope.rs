//! Envelope encryption of secret values.
//!
//! Format (version 1), all integers unsigned:
//!
//! ```text
//! u8  format = 1
//! u8  length of the KEK id, then the KEK id (UTF-8)
//! 60  wrapped data key: nonce(12) || AES-256-GCM(KEK, data key)(32) || tag(16)
//! ..  sealed value:     nonce(12) || AES-256-GCM(data key, value)  || tag(16)
//! ```
//!
//! Both AES-GCM operations take the encryption context (secret ARN and version id, the two
//! pairs AWS binds) as associated data, so a version's ciphertext cannot be replayed as
//! another version's or another secret's.

use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult, KEY_LEN, Keyring, NONCE_LEN, TAG_LEN};

const FORMAT_V1: u8 = 1;
const WRAPPED_DATA_KEY_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// A decrypted secret value; wiped when dropped.
pub type SecretPlaintext = Zeroizing<Vec<u8>>;

/// What a secret version's ciphertext is bound to.
#[derive(Clone, Copy, Debug)]
pub struct EncryptionContext<'a> {
    pub secret_arn: &'a str,
    pub version_id: &'a str,
}

impl EncryptionContext<'_> {
    fn aad(&self) -> Vec<u8> {
        // Length-prefixed so that no two contexts encode to the same bytes.
        let mut aad = Vec::with_capacity(32 + self.secret_arn.len() + self.version_id.len());
        aad.extend_from_slice(b"coffer.secret-value.v1");
        for part in [self.secret_arn, self.version_id] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

impl Keyring {
    /// Seals one secret version's value under a fresh data key.
    pub fn seal_secret_value(
        &self,
        context: EncryptionContext<'_>,
        plaintext: &[u8],
    ) -> CryptoResult<Vec<u8>> {
        seal_with_ring(self, &context.aad(), plaintext)
    }

    /// Opens a value sealed by [`Keyring::seal_secret_value`] with the same context.
    pub fn open_secret_value(
        &self,
        context: EncryptionContext<'_>,
        sealed: &[u8],
    ) -> CryptoResult<SecretPlaintext> {
        open_with_ring(self, &context.aad(), sealed)
    }
}

pub(crate) fn seal_with_ring(
    ring: &Keyring,
    aad: &[u8],
    plaintext: &[u8],
) -> CryptoResult<Vec<u8>> {
    let kek = ring.active();
    let id = kek.id().as_bytes();
    let id_len = u8::try_from(id.len()).map_err(|_| CryptoError::Unspecified)?;
    let data_key = crate::random_key()?;
    let wrapped_data_key = crate::seal(kek.bytes(), aad, data_key.as_ref())?;
    let sealed_value = crate::seal(&data_key, aad, plaintext)?;
    let mut out = Vec::with_capacity(2 + id.len() + wrapped_data_key.len() + sealed_value.len());
    out.push(FORMAT_V1);
    out.push(id_len);
    out.extend_from_slice(id);
    out.extend_from_slice(&wrapped_data_key);
    out.extend_from_slice(&sealed_value);
    Ok(out)
}

pub(crate) fn open_with_ring(
    ring: &Keyring,
    aad: &[u8],
    sealed: &[u8],
) -> CryptoResult<SecretPlaintext> {
    let (&format, rest) = sealed.split_first().ok_or(CryptoError::Integrity)?;
    if format != FORMAT_V1 {
        return Err(CryptoError::UnsupportedFormat(format));
    }
    let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Integrity)?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + WRAPPED_DATA_KEY_LEN {
        return Err(CryptoError::Integrity);
    }
    let (id, rest) = rest.split_at(id_len);
    let (wrapped_data_key, sealed_value) = rest.split_at(WRAPPED_DATA_KEY_LEN);
    let id = std::str::from_utf8(id).map_err(|_| CryptoError::Integrity)?;
    let kek = ring.key(id)?;
    let data_key_bytes = crate::open(kek.bytes(), aad, wrapped_data_key)?;
    let data_key: &[u8; KEY_LEN] = data_key_bytes
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::Integrity)?;
    crate::open(data_key, aad, sealed_value)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{KeyEncryptionKey, RootKey};

    fn ring() -> Keyring {
        let root = RootKey::generate().unwrap();
        Keyring::new(vec![KeyEncryptionKey::generate("kek-1", &root).unwrap().0]).unwrap()
    }

    const CONTEXT: EncryptionContext<'static> = EncryptionContext {
        secret_arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf",
        version_id: "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
    };

    #[test]
    fn round_trip() {
        let ring = ring();
        let sealed = ring.seal_secret_value(CONTEXT, b"hunter2").unwrap();
        assert_eq!(
            ring.open_secret_value(CONTEXT, &sealed).unwrap().as_slice(),
            b"hunter2"
        );
        assert!(
            !sealed.windows(7).any(|w| w == b"hunter2"),
            "the value must not appear in the ciphertext"
        );
    }

    #[test]
    fn every_version_gets_its_own_data_key_and_nonce() {
        let ring = ring();
        let a = ring.seal_secret_value(CONTEXT, b"same").unwrap();
        let b = ring.seal_secret_value(CONTEXT, b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn context_is_bound() {
        let ring = ring();
        let sealed = ring.seal_secret_value(CONTEXT, b"v").unwrap();
        let other_version = EncryptionContext {
            version_id: "other",
            ..CONTEXT
        };
        let other_secret = EncryptionContext {
            secret_arn: "arn:other",
            ..CONTEXT
        };
        assert!(matches!(
            ring.open_secret_value(other_version, &sealed),
            Err(CryptoError::Integrity)
        ));
        assert!(matches!(
            ring.open_secret_value(other_secret, &sealed),
            Err(CryptoError::Integrity)
        ));
    }

    #[test]
    fn a_foreign_keyring_cannot_open() {
        let sealed = ring().seal_secret_value(CONTEXT, b"v").unwrap();
        assert!(ring().open_secret_value(CONTEXT, &sealed).is_err());
    }

    #[test]
    fn old_ciphertexts_open_after_a_new_kek_becomes_active() {
        let root = RootKey::generate().unwrap();
        let first = KeyEncryptionKey::generate("k1", &root).unwrap();
        let ring1 = Keyring::new(vec![
            KeyEncryptionKey::unwrap("k1", &first.1, &root).unwrap(),
        ])
        .unwrap();
        let sealed = ring1.seal_secret_value(CONTEXT, b"old").unwrap();
        let second = KeyEncryptionKey::generate("k2", &root).unwrap();
        let ring2 = Keyring::new(vec![first.0, second.0]).unwrap();
        assert_eq!(ring2.active().id(), "k2");
        assert_eq!(
            ring2
                .open_secret_value(CONTEXT, &sealed)
                .unwrap()
                .as_slice(),
            b"old"
        );
    }

    #[test]
    fn empty_and_truncated_inputs_are_rejected() {
        let ring = ring();
        let sealed = ring.seal_secret_value(CONTEXT, b"value").unwrap();
        for len in 0..sealed.len() {
            assert!(
                ring.open_secret_value(CONTEXT, &sealed[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn flipping_any_byte_is_detected(value in proptest::collection::vec(any::<u8>(), 1..512), index in any::<prop::sample::Index>(), bit in 0u8..8) {
            let ring = ring();
            let mut sealed = ring.seal_secret_value(CONTEXT, &value).unwrap();
            let i = index.index(sealed.len());
            sealed[i] ^= 1 << bit;
            prop_assert!(ring.open_secret_value(CONTEXT, &sealed).is_err());
        }
    }
}
