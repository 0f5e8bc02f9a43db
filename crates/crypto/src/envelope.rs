//! Envelope encryption of secret values.
//!
//! Format 1, the data key wrapped by a KEK of the keyring; all integers unsigned:
//!
//! ```text
//! u8  format = 1
//! u8  length of the KEK id, then the KEK id (UTF-8)
//! 60  wrapped data key: nonce(12) || AES-256-GCM(KEK, data key)(32) || tag(16)
//! ..  sealed value:     nonce(12) || AES-256-GCM(data key, value)  || tag(16)
//! ```
//!
//! Format 2, the data key a KMS data key, stored as the ciphertext blob its KMS key made (as
//! AWS Secrets Manager stores a value encrypted under a customer managed key):
//!
//! ```text
//! u8  format = 2
//! u16 big-endian length of the data key blob, then the blob (see `kms.rs`)
//! ..  sealed value:     nonce(12) || AES-256-GCM(data key, value)  || tag(16)
//! ```
//!
//! Every AES-GCM operation takes the encryption context (secret ARN and version id, the two
//! pairs AWS binds) as associated data, so a version's ciphertext cannot be replayed as
//! another version's or another secret's. In format 2 the value's associated data leaves out
//! the data key blob on purpose: the blob is authenticated by its KMS key, and re-encrypting
//! the data key under another KMS key must not require re-encrypting the value.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult, KEY_LEN, Keyring, KmsKeyMaterial, NONCE_LEN, TAG_LEN};

const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
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
    /// The KMS encryption context AWS Secrets Manager uses for a version's data key:
    /// `SecretARN` and `SecretVersionId`.
    pub fn kms_context(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("SecretARN".to_owned(), self.secret_arn.to_owned()),
            ("SecretVersionId".to_owned(), self.version_id.to_owned()),
        ])
    }

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

/// Seals one secret version's value under a KMS data key (envelope format 2), storing the
/// data key's ciphertext blob with it. `data_key` is the plaintext of `data_key_blob`.
pub fn seal_secret_value_with_data_key(
    context: EncryptionContext<'_>,
    data_key: &[u8; KEY_LEN],
    data_key_blob: &[u8],
    plaintext: &[u8],
) -> CryptoResult<Vec<u8>> {
    let blob_len = u16::try_from(data_key_blob.len())
        .map_err(|_| CryptoError::InvalidInput("data key blob longer than 65535 bytes".into()))?;
    let sealed_value = crate::seal(data_key, &context.aad(), plaintext)?;
    let mut out = Vec::with_capacity(3 + data_key_blob.len() + sealed_value.len());
    out.push(FORMAT_V2);
    out.extend_from_slice(&blob_len.to_be_bytes());
    out.extend_from_slice(data_key_blob);
    out.extend_from_slice(&sealed_value);
    Ok(out)
}

/// The KMS data key blob a sealed value carries: `Some` for format 2 (decrypt it with the KMS
/// key it names, then call [`open_secret_value_with_data_key`]), `None` for format 1 (open it
/// with [`Keyring::open_secret_value`]).
pub fn sealed_data_key_blob(sealed: &[u8]) -> CryptoResult<Option<&[u8]>> {
    match sealed.first() {
        None => Err(CryptoError::Integrity),
        Some(&FORMAT_V1) => Ok(None),
        Some(&FORMAT_V2) => split_v2(sealed).map(|(blob, _)| Some(blob)),
        Some(&format) => Err(CryptoError::UnsupportedFormat(format)),
    }
}

/// Opens a value sealed by [`seal_secret_value_with_data_key`] with the same context, given
/// the plaintext of its data key blob.
pub fn open_secret_value_with_data_key(
    context: EncryptionContext<'_>,
    data_key: &[u8],
    sealed: &[u8],
) -> CryptoResult<SecretPlaintext> {
    let (_, sealed_value) = split_v2(sealed)?;
    let data_key: &[u8; KEY_LEN] = data_key.try_into().map_err(|_| CryptoError::Integrity)?;
    crate::open(data_key, &context.aad(), sealed_value)
}

/// Seals one secret version's value under a fresh data key encrypted by the KMS key `key_id`
/// (its UUID) with `material`, its current version, under [`EncryptionContext::kms_context`]
/// — GenerateDataKey and [`seal_secret_value_with_data_key`] in one step, so that the data
/// key never leaves this crate.
pub fn seal_secret_value_with_kms(
    context: EncryptionContext<'_>,
    key_id: &str,
    material: &KmsKeyMaterial,
    plaintext: &[u8],
) -> CryptoResult<Vec<u8>> {
    let data_key = crate::random_key()?;
    let blob = crate::kms_encrypt(key_id, material, &context.kms_context(), data_key.as_ref())?;
    seal_secret_value_with_data_key(context, &data_key, &blob, plaintext)
}

/// Opens a value sealed by [`seal_secret_value_with_kms`]; `material` is the version its data
/// key blob names (see [`sealed_data_key_blob`] and [`crate::ciphertext_key`]).
pub fn open_secret_value_with_kms(
    context: EncryptionContext<'_>,
    material: &KmsKeyMaterial,
    sealed: &[u8],
) -> CryptoResult<SecretPlaintext> {
    let (blob, _) = split_v2(sealed)?;
    // The same pairs as `kms_context`, in key order, without building the map per read.
    let pairs = [
        ("SecretARN", context.secret_arn),
        ("SecretVersionId", context.version_id),
    ];
    let data_key = crate::kms::kms_decrypt_sorted(blob, material, &pairs)?;
    open_secret_value_with_data_key(context, &data_key, sealed)
}

/// A format 2 envelope's data key blob and sealed value.
fn split_v2(sealed: &[u8]) -> CryptoResult<(&[u8], &[u8])> {
    let (&format, rest) = sealed.split_first().ok_or(CryptoError::Integrity)?;
    if format != FORMAT_V2 {
        return Err(CryptoError::UnsupportedFormat(format));
    }
    let (blob_len, rest) = rest
        .split_first_chunk::<2>()
        .ok_or(CryptoError::Integrity)?;
    let blob_len = usize::from(u16::from_be_bytes(*blob_len));
    if rest.len() < blob_len + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Integrity);
    }
    Ok(rest.split_at(blob_len))
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

    const KMS_KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    /// A format 2 value as a caller of the separate KMS steps makes it: GenerateDataKey, then
    /// sealing with the plaintext data key.
    fn seal_v2(material: &KmsKeyMaterial, value: &[u8]) -> Vec<u8> {
        let data_key = crate::generate_data_key(KEY_LEN).unwrap();
        let blob =
            crate::kms_encrypt(KMS_KEY_ID, material, &CONTEXT.kms_context(), &data_key).unwrap();
        let data_key: &[u8; KEY_LEN] = data_key.as_slice().try_into().unwrap();
        seal_secret_value_with_data_key(CONTEXT, data_key, &blob, value).unwrap()
    }

    fn open_v2(material: &KmsKeyMaterial, sealed: &[u8]) -> CryptoResult<SecretPlaintext> {
        let blob = sealed_data_key_blob(sealed)?.expect("a format 2 value");
        let data_key = crate::kms_decrypt(blob, material, &CONTEXT.kms_context())?;
        open_secret_value_with_data_key(CONTEXT, &data_key, sealed)
    }

    #[test]
    fn v2_round_trip_through_the_kms_steps() {
        let material = KmsKeyMaterial::generate().unwrap();
        let sealed = seal_v2(&material, b"hunter2");
        assert_eq!(sealed[0], FORMAT_V2);
        let blob = sealed_data_key_blob(&sealed).unwrap().unwrap();
        assert_eq!(
            crate::ciphertext_key(blob).unwrap(),
            crate::CiphertextKey {
                key_id: KMS_KEY_ID.into(),
                material_id: material.id().into(),
            }
        );
        assert_eq!(open_v2(&material, &sealed).unwrap().as_slice(), b"hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
    }

    #[test]
    fn v2_round_trip_in_one_step_and_the_steps_agree() {
        let material = KmsKeyMaterial::generate().unwrap();
        let sealed = seal_secret_value_with_kms(CONTEXT, KMS_KEY_ID, &material, b"v").unwrap();
        assert_eq!(open_v2(&material, &sealed).unwrap().as_slice(), b"v");
        assert_eq!(
            open_secret_value_with_kms(CONTEXT, &material, &sealed)
                .unwrap()
                .as_slice(),
            b"v"
        );
        let by_steps = seal_v2(&material, b"w");
        assert_eq!(
            open_secret_value_with_kms(CONTEXT, &material, &by_steps)
                .unwrap()
                .as_slice(),
            b"w"
        );
        let other_version = EncryptionContext {
            version_id: "other",
            ..CONTEXT
        };
        assert!(matches!(
            open_secret_value_with_kms(other_version, &material, &sealed),
            Err(CryptoError::Integrity)
        ));
        let other_material = KmsKeyMaterial::generate().unwrap();
        assert!(matches!(
            open_secret_value_with_kms(CONTEXT, &other_material, &sealed),
            Err(CryptoError::Integrity)
        ));
    }

    #[test]
    fn v2_context_is_bound() {
        let material = KmsKeyMaterial::generate().unwrap();
        let data_key = crate::random_key().unwrap();
        let sealed = seal_secret_value_with_data_key(CONTEXT, &data_key, b"blob", b"v").unwrap();
        let other_version = EncryptionContext {
            version_id: "other",
            ..CONTEXT
        };
        assert!(matches!(
            open_secret_value_with_data_key(other_version, data_key.as_ref(), &sealed),
            Err(CryptoError::Integrity)
        ));
        assert!(matches!(
            open_secret_value_with_data_key(CONTEXT, &[0u8; KEY_LEN], &sealed),
            Err(CryptoError::Integrity)
        ));
        assert!(matches!(
            open_secret_value_with_data_key(CONTEXT, &data_key[..16], &sealed),
            Err(CryptoError::Integrity)
        ));
        // The data key blob's own context is the secret's: another version's cannot open it.
        let sealed = seal_v2(&material, b"v");
        let blob = sealed_data_key_blob(&sealed).unwrap().unwrap();
        assert!(crate::kms_decrypt(blob, &material, &other_version.kms_context()).is_err());
    }

    #[test]
    fn v2_tampering_is_detected() {
        let material = KmsKeyMaterial::generate().unwrap();
        let sealed = seal_v2(&material, b"some value");
        for i in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 0x01;
            // A length or format byte may make it unreadable before any key is tried.
            let opened = sealed_data_key_blob(&altered)
                .and_then(|blob| blob.ok_or(CryptoError::Integrity))
                .and_then(|_| open_v2(&material, &altered));
            assert!(opened.is_err(), "byte {i}");
        }
        for len in 0..sealed.len() {
            let truncated = &sealed[..len];
            let opened = sealed_data_key_blob(truncated)
                .and_then(|blob| blob.ok_or(CryptoError::Integrity))
                .and_then(|_| open_v2(&material, truncated));
            assert!(opened.is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn formats_are_told_apart() {
        let ring = ring();
        let v1 = ring.seal_secret_value(CONTEXT, b"old").unwrap();
        assert_eq!(sealed_data_key_blob(&v1).unwrap(), None);
        assert_eq!(
            ring.open_secret_value(CONTEXT, &v1).unwrap().as_slice(),
            b"old"
        );
        assert!(matches!(
            open_secret_value_with_data_key(CONTEXT, &[0u8; KEY_LEN], &v1),
            Err(CryptoError::UnsupportedFormat(1))
        ));

        let material = KmsKeyMaterial::generate().unwrap();
        let v2 = seal_v2(&material, b"new");
        assert!(matches!(
            ring.open_secret_value(CONTEXT, &v2),
            Err(CryptoError::UnsupportedFormat(2))
        ));
        assert!(matches!(
            sealed_data_key_blob(&[]),
            Err(CryptoError::Integrity)
        ));
        assert!(matches!(
            sealed_data_key_blob(&[9, 0, 0]),
            Err(CryptoError::UnsupportedFormat(9))
        ));
    }

    #[test]
    fn an_oversized_data_key_blob_is_refused() {
        let data_key = crate::random_key().unwrap();
        let blob = vec![0u8; usize::from(u16::MAX) + 1];
        assert!(matches!(
            seal_secret_value_with_data_key(CONTEXT, &data_key, &blob, b"v"),
            Err(CryptoError::InvalidInput(_))
        ));
        let largest = vec![0u8; usize::from(u16::MAX)];
        let sealed = seal_secret_value_with_data_key(CONTEXT, &data_key, &largest, b"v").unwrap();
        assert_eq!(
            sealed_data_key_blob(&sealed).unwrap(),
            Some(largest.as_slice())
        );
    }

    #[test]
    fn kms_context_is_the_one_aws_secrets_manager_uses() {
        let context = CONTEXT.kms_context();
        assert_eq!(context.len(), 2);
        assert_eq!(context["SecretARN"], CONTEXT.secret_arn);
        assert_eq!(context["SecretVersionId"], CONTEXT.version_id);
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

        #[test]
        fn flipping_any_byte_of_a_v2_value_is_detected(
            value in proptest::collection::vec(any::<u8>(), 1..512),
            index in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let material = KmsKeyMaterial::generate().unwrap();
            let mut sealed =
                seal_secret_value_with_kms(CONTEXT, KMS_KEY_ID, &material, &value).unwrap();
            let i = index.index(sealed.len());
            sealed[i] ^= mask;
            prop_assert!(open_secret_value_with_kms(CONTEXT, &material, &sealed).is_err());
        }
    }
}
