//! The key material of Coffer's KMS and its ciphertext format.
//!
//! A KMS key has one or more versions of backing material, 256-bit AES keys; rotation adds a
//! version and makes it the one that encrypts, and older versions stay to decrypt. Material is
//! stored sealed under the keyring, so rotating the root key rewraps only the KEKs.
//!
//! Ciphertext blob (Coffer's own format: AWS does not publish its own), format 1:
//!
//! ```text
//! u8  format = 1
//! 36  key id: the KMS key's UUID, lower-case ASCII
//! 16  material id, raw
//! 12  nonce
//! ..  AES-256-GCM(material, plaintext)
//! 16  tag
//! ```
//!
//! The blob names its key and material version so that Decrypt needs no KeyId, as in AWS. The
//! associated data is a format tag, the whole header (format, key id, material id) and the
//! canonical encoding of the encryption context, so neither the header nor the context can
//! be altered without failing authentication.
//!
//! Unlike a secret version's data key, one material version encrypts many messages under
//! random 96-bit nonces; NIST SP 800-38D caps that at 2^32 messages per key, which rotation
//! (a new material version) resets.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult, KEY_LEN, Keyring, NONCE_LEN, TAG_LEN};

const FORMAT_V1: u8 = 1;
const KEY_ID_LEN: usize = 36;
const MATERIAL_ID_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + MATERIAL_ID_LEN;

/// The most bytes [`random_bytes`] and [`generate_data_key`] return (AWS's `NumberOfBytes`
/// limit).
pub const MAX_RANDOM_BYTES: usize = 1024;

/// One version of a KMS key's backing material: a random id and a 256-bit AES key. The key
/// bytes never leave this crate and are wiped on drop.
pub struct KmsKeyMaterial {
    id: String,
    raw_id: [u8; MATERIAL_ID_LEN],
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for KmsKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyMaterial")
            .field("id", &self.id)
            .field("bytes", &"[REDACTED]")
            .finish()
    }
}

impl KmsKeyMaterial {
    /// Fresh material with a fresh random id.
    pub fn generate() -> CryptoResult<KmsKeyMaterial> {
        let mut raw_id = [0u8; MATERIAL_ID_LEN];
        aws_lc_rs::rand::fill(&mut raw_id).map_err(|_| CryptoError::Unspecified)?;
        Ok(KmsKeyMaterial {
            id: hex_lower(&raw_id),
            raw_id,
            bytes: crate::random_key()?,
        })
    }

    /// The material id: 32 lower-case hex characters, unique across all keys.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The KMS key and material version a ciphertext blob was encrypted under, read from its
/// header before anything is authenticated: use it to find the material, then let
/// [`kms_decrypt`] authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CiphertextKey {
    /// The KMS key's id (a UUID).
    pub key_id: String,
    /// The material version's id ([`KmsKeyMaterial::id`]).
    pub material_id: String,
}

impl Keyring {
    /// Seals KMS key material for storage under the active KEK, bound to the KMS key's id and
    /// the material's id so that it cannot be swapped into another key or version.
    pub fn seal_kms_material(
        &self,
        key_id: &str,
        material: &KmsKeyMaterial,
    ) -> CryptoResult<Vec<u8>> {
        crate::envelope::seal_with_ring(
            self,
            &material_aad(key_id, &material.id),
            material.bytes.as_ref(),
        )
    }

    /// Opens material sealed by [`Keyring::seal_kms_material`] for the same key and material
    /// ids.
    pub fn open_kms_material(
        &self,
        key_id: &str,
        material_id: &str,
        sealed: &[u8],
    ) -> CryptoResult<KmsKeyMaterial> {
        let raw_id = parse_material_id(material_id)
            .ok_or_else(|| CryptoError::InvalidInput("malformed KMS material id".into()))?;
        let plain =
            crate::envelope::open_with_ring(self, &material_aad(key_id, material_id), sealed)?;
        if plain.len() != KEY_LEN {
            return Err(CryptoError::Integrity);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&plain);
        Ok(KmsKeyMaterial {
            id: material_id.to_owned(),
            raw_id,
            bytes,
        })
    }
}

fn material_aad(key_id: &str, material_id: &str) -> Vec<u8> {
    let mut aad = b"coffer.kms-material.v1".to_vec();
    for part in [key_id, material_id] {
        push_length_prefixed(&mut aad, part.as_bytes());
    }
    aad
}

/// Encrypts `plaintext` under `material`, a version of the KMS key `key_id` (its UUID), bound
/// to `context`. Returns the ciphertext blob described in the module documentation.
///
/// The caller keeps within AWS's 4096-byte plaintext limit; the blob is then at most 4177
/// bytes, within AWS's 6144-byte `CiphertextBlob` limit.
pub fn kms_encrypt(
    key_id: &str,
    material: &KmsKeyMaterial,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> CryptoResult<Vec<u8>> {
    if !is_key_id(key_id.as_bytes()) {
        return Err(CryptoError::InvalidInput(
            "a KMS key id must be a lower-case UUID".into(),
        ));
    }
    let mut blob = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    blob.push(FORMAT_V1);
    blob.extend_from_slice(key_id.as_bytes());
    blob.extend_from_slice(&material.raw_id);
    let sealed = crate::seal(&material.bytes, &ciphertext_aad(&blob, context), plaintext)?;
    blob.extend_from_slice(&sealed);
    Ok(blob)
}

/// Reads which KMS key and material version `blob` names. The header is not authenticated
/// until [`kms_decrypt`] runs, so the answer is only a lookup hint; a blob that is not in
/// Coffer's format fails with [`CryptoError::Integrity`].
pub fn ciphertext_key(blob: &[u8]) -> CryptoResult<CiphertextKey> {
    let header = header(blob)?;
    let key_id = &header[1..1 + KEY_ID_LEN];
    if !is_key_id(key_id) {
        return Err(CryptoError::Integrity);
    }
    Ok(CiphertextKey {
        key_id: String::from_utf8(key_id.to_vec()).map_err(|_| CryptoError::Integrity)?,
        material_id: hex_lower(&header[1 + KEY_ID_LEN..]),
    })
}

/// Decrypts a blob made by [`kms_encrypt`] with the material it names and the same
/// encryption context. Any alteration of the blob, another context, or another material
/// fails with [`CryptoError::Integrity`].
pub fn kms_decrypt(
    blob: &[u8],
    material: &KmsKeyMaterial,
    context: &BTreeMap<String, String>,
) -> CryptoResult<Zeroizing<Vec<u8>>> {
    let header = header(blob)?;
    if header[1 + KEY_ID_LEN..] != material.raw_id {
        return Err(CryptoError::Integrity);
    }
    crate::open(
        &material.bytes,
        &ciphertext_aad(header, context),
        &blob[HEADER_LEN..],
    )
}

/// A fresh data key of `len` bytes (1 to [`MAX_RANDOM_BYTES`]) for GenerateDataKey; wiped on
/// drop.
pub fn generate_data_key(len: usize) -> CryptoResult<Zeroizing<Vec<u8>>> {
    random_bytes(len)
}

/// `len` random bytes (1 to [`MAX_RANDOM_BYTES`]) from the system generator, for
/// GenerateRandom; wiped on drop, since callers use them as keys.
pub fn random_bytes(len: usize) -> CryptoResult<Zeroizing<Vec<u8>>> {
    if !(1..=MAX_RANDOM_BYTES).contains(&len) {
        return Err(CryptoError::InvalidInput(format!(
            "the number of random bytes must be between 1 and {MAX_RANDOM_BYTES}"
        )));
    }
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CryptoError::Unspecified)?;
    Ok(bytes)
}

/// The header of a well-formed blob of a known format, long enough to hold a nonce and tag.
fn header(blob: &[u8]) -> CryptoResult<&[u8]> {
    if blob.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || blob[0] != FORMAT_V1 {
        return Err(CryptoError::Integrity);
    }
    Ok(&blob[..HEADER_LEN])
}

fn ciphertext_aad(header: &[u8], context: &BTreeMap<String, String>) -> Vec<u8> {
    // A BTreeMap iterates in key order, so the encoding does not depend on the order the
    // caller inserted pairs in.
    sorted_context_aad(
        header,
        context.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The AAD of a blob: its header and the context's pairs, which must come in key order; the
/// length prefixes keep any two contexts apart.
fn sorted_context_aad<'a>(
    header: &[u8],
    pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(128 + header.len());
    aad.extend_from_slice(b"coffer.kms-ciphertext.v1");
    aad.extend_from_slice(header);
    aad.extend_from_slice(b"coffer.kms-context.v1");
    aad.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
    for (key, value) in pairs {
        push_length_prefixed(&mut aad, key.as_bytes());
        push_length_prefixed(&mut aad, value.as_bytes());
    }
    aad
}

/// [`kms_decrypt`] for a context given as pairs already in key order (Secrets Manager's, on
/// the read path): the same bytes authenticated, without building a map.
pub(crate) fn kms_decrypt_sorted(
    blob: &[u8],
    material: &KmsKeyMaterial,
    pairs: &[(&str, &str)],
) -> CryptoResult<Zeroizing<Vec<u8>>> {
    debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
    let header = header(blob)?;
    if header[1 + KEY_ID_LEN..] != material.raw_id {
        return Err(CryptoError::Integrity);
    }
    crate::open(
        &material.bytes,
        &sorted_context_aad(header, pairs.iter().copied()),
        &blob[HEADER_LEN..],
    )
}

fn push_length_prefixed(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(&(part.len() as u32).to_be_bytes());
    out.extend_from_slice(part);
}

/// Whether `id` is a lower-case hyphenated UUID, the only key id form a blob holds (one key
/// must have one spelling, or a blob could name a key it was not encrypted under).
fn is_key_id(id: &[u8]) -> bool {
    id.len() == KEY_ID_LEN
        && id.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

fn parse_material_id(id: &str) -> Option<[u8; MATERIAL_ID_LEN]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let id = id.as_bytes();
    if id.len() != 2 * MATERIAL_ID_LEN {
        return None;
    }
    let mut raw = [0u8; MATERIAL_ID_LEN];
    for (out, pair) in raw.iter_mut().zip(id.chunks_exact(2)) {
        *out = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{KeyEncryptionKey, RootKey};

    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const OTHER_KEY_ID: &str = "0987dcba-09ab-87cd-65ef-ba0987654321";

    fn context(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ring(root: &RootKey) -> Keyring {
        Keyring::new(vec![KeyEncryptionKey::generate("kek-1", root).unwrap().0]).unwrap()
    }

    #[test]
    fn round_trip_and_the_blob_names_its_key_and_material() {
        let material = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[("SecretARN", "arn:aws:secretsmanager:x"), ("k", "v")]);
        let blob = kms_encrypt(KEY_ID, &material, &ctx, b"plaintext").unwrap();
        assert_eq!(
            ciphertext_key(&blob).unwrap(),
            CiphertextKey {
                key_id: KEY_ID.into(),
                material_id: material.id().into(),
            }
        );
        assert_eq!(
            kms_decrypt(&blob, &material, &ctx).unwrap().as_slice(),
            b"plaintext"
        );
        assert!(!blob.windows(9).any(|w| w == b"plaintext"));
    }

    #[test]
    fn material_ids_are_32_lower_case_hex_and_distinct() {
        let a = KmsKeyMaterial::generate().unwrap();
        let b = KmsKeyMaterial::generate().unwrap();
        assert_ne!(a.id(), b.id());
        for m in [&a, &b] {
            assert_eq!(m.id().len(), 32);
            assert!(
                m.id()
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            );
            assert_eq!(parse_material_id(m.id()), Some(m.raw_id));
        }
    }

    #[test]
    fn blob_size_fits_aws_limit_for_the_largest_plaintext() {
        let material = KmsKeyMaterial::generate().unwrap();
        let big = context(&[("a", "b")]);
        let blob = kms_encrypt(KEY_ID, &material, &big, &[7u8; 4096]).unwrap();
        assert_eq!(blob.len(), HEADER_LEN + NONCE_LEN + 4096 + TAG_LEN);
        assert!(blob.len() <= 6144);
    }

    #[test]
    fn the_context_must_match_exactly_but_not_in_order() {
        let material = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[("a", "1"), ("b", "2")]);
        let blob = kms_encrypt(KEY_ID, &material, &ctx, b"p").unwrap();

        let mut reordered = BTreeMap::new();
        reordered.insert("b".to_string(), "2".to_string());
        reordered.insert("a".to_string(), "1".to_string());
        assert_eq!(
            kms_decrypt(&blob, &material, &reordered)
                .unwrap()
                .as_slice(),
            b"p"
        );

        for wrong in [
            context(&[]),
            context(&[("a", "1")]),
            context(&[("a", "1"), ("b", "2"), ("c", "3")]),
            context(&[("a", "1"), ("b", "3")]),
            context(&[("a", "1"), ("B", "2")]),
            // Shifting bytes between a key and its value must not collide.
            context(&[("a", "1"), ("b2", "")]),
            context(&[("a1", ""), ("b", "2")]),
        ] {
            assert!(
                matches!(
                    kms_decrypt(&blob, &material, &wrong),
                    Err(CryptoError::Integrity)
                ),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn an_empty_context_is_a_context_too() {
        let material = KmsKeyMaterial::generate().unwrap();
        let blob = kms_encrypt(KEY_ID, &material, &context(&[]), b"p").unwrap();
        assert!(kms_decrypt(&blob, &material, &context(&[])).is_ok());
        assert!(kms_decrypt(&blob, &material, &context(&[("", "")])).is_err());
    }

    #[test]
    fn another_material_version_cannot_decrypt() {
        let v1 = KmsKeyMaterial::generate().unwrap();
        let v2 = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[]);
        let blob = kms_encrypt(KEY_ID, &v1, &ctx, b"p").unwrap();
        assert!(matches!(
            kms_decrypt(&blob, &v2, &ctx),
            Err(CryptoError::Integrity)
        ));
        // Even with the blob's header rewritten to name the other version.
        let mut renamed = blob.clone();
        renamed[1 + KEY_ID_LEN..HEADER_LEN].copy_from_slice(&v2.raw_id);
        assert!(matches!(
            kms_decrypt(&renamed, &v2, &ctx),
            Err(CryptoError::Integrity)
        ));
    }

    #[test]
    fn the_key_id_in_the_header_is_authenticated() {
        let material = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[]);
        let mut blob = kms_encrypt(KEY_ID, &material, &ctx, b"p").unwrap();
        blob[1..1 + KEY_ID_LEN].copy_from_slice(OTHER_KEY_ID.as_bytes());
        assert_eq!(ciphertext_key(&blob).unwrap().key_id, OTHER_KEY_ID);
        assert!(matches!(
            kms_decrypt(&blob, &material, &ctx),
            Err(CryptoError::Integrity)
        ));
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let old = KmsKeyMaterial::generate().unwrap();
        let new = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[("purpose", "test")]);
        let old_blob = kms_encrypt(KEY_ID, &old, &ctx, b"before").unwrap();
        let new_blob = kms_encrypt(KEY_ID, &new, &ctx, b"after").unwrap();
        let versions = [&old, &new];
        for (blob, expected) in [(&old_blob, b"before".as_slice()), (&new_blob, b"after")] {
            let named = ciphertext_key(blob).unwrap();
            assert_eq!(named.key_id, KEY_ID);
            let material = versions
                .iter()
                .find(|m| m.id() == named.material_id)
                .unwrap();
            assert_eq!(
                kms_decrypt(blob, material, &ctx).unwrap().as_slice(),
                expected
            );
        }
    }

    #[test]
    fn key_ids_must_be_lower_case_uuids() {
        let material = KmsKeyMaterial::generate().unwrap();
        for bad in [
            "",
            "alias/my-key",
            "1234ABCD-12AB-34CD-56EF-1234567890AB",
            "1234abcd-12ab-34cd-56ef-1234567890a",
            "1234abcd-12ab-34cd-56ef-1234567890abc",
            "1234abcd112ab-34cd-56ef-1234567890ab",
            "1234abcg-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ] {
            assert!(
                matches!(
                    kms_encrypt(bad, &material, &context(&[]), b"p"),
                    Err(CryptoError::InvalidInput(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn malformed_blobs_are_integrity_errors() {
        let material = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[]);
        let blob = kms_encrypt(KEY_ID, &material, &ctx, b"").unwrap();
        for len in 0..blob.len() {
            assert!(matches!(
                kms_decrypt(&blob[..len], &material, &ctx),
                Err(CryptoError::Integrity)
            ));
        }
        for len in 0..HEADER_LEN + NONCE_LEN + TAG_LEN {
            assert!(matches!(
                ciphertext_key(&blob[..len]),
                Err(CryptoError::Integrity)
            ));
        }
        let mut other_format = blob.clone();
        other_format[0] = 2;
        assert!(matches!(
            ciphertext_key(&other_format),
            Err(CryptoError::Integrity)
        ));
        let mut not_a_uuid = blob.clone();
        not_a_uuid[1] = 0xff;
        assert!(matches!(
            ciphertext_key(&not_a_uuid),
            Err(CryptoError::Integrity)
        ));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let material = KmsKeyMaterial::generate().unwrap();
        let ctx = context(&[("a", "b")]);
        let blob = kms_encrypt(KEY_ID, &material, &ctx, b"some plaintext").unwrap();
        for i in 0..blob.len() {
            for bit in 0..8 {
                let mut altered = blob.clone();
                altered[i] ^= 1 << bit;
                assert!(
                    matches!(
                        kms_decrypt(&altered, &material, &ctx),
                        Err(CryptoError::Integrity)
                    ),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn random_bytes_respect_aws_limits() {
        assert_eq!(random_bytes(1).unwrap().len(), 1);
        assert_eq!(
            random_bytes(MAX_RANDOM_BYTES).unwrap().len(),
            MAX_RANDOM_BYTES
        );
        assert_ne!(*random_bytes(32).unwrap(), *random_bytes(32).unwrap());
        for bad in [0, MAX_RANDOM_BYTES + 1] {
            assert!(matches!(
                random_bytes(bad),
                Err(CryptoError::InvalidInput(_))
            ));
            assert!(matches!(
                generate_data_key(bad),
                Err(CryptoError::InvalidInput(_))
            ));
        }
        assert_eq!(generate_data_key(32).unwrap().len(), 32);
        assert_eq!(generate_data_key(16).unwrap().len(), 16);
    }

    #[test]
    fn sealed_material_is_bound_to_its_key_and_material_ids() {
        let root = RootKey::generate().unwrap();
        let ring = ring(&root);
        let material = KmsKeyMaterial::generate().unwrap();
        let other = KmsKeyMaterial::generate().unwrap();
        let sealed = ring.seal_kms_material(KEY_ID, &material).unwrap();

        let opened = ring
            .open_kms_material(KEY_ID, material.id(), &sealed)
            .unwrap();
        assert_eq!(opened.id(), material.id());
        assert_eq!(*opened.bytes, *material.bytes);

        assert!(matches!(
            ring.open_kms_material(OTHER_KEY_ID, material.id(), &sealed),
            Err(CryptoError::Integrity)
        ));
        assert!(matches!(
            ring.open_kms_material(KEY_ID, other.id(), &sealed),
            Err(CryptoError::Integrity)
        ));
        assert!(matches!(
            ring.open_kms_material(KEY_ID, "not-hex", &sealed),
            Err(CryptoError::InvalidInput(_))
        ));
        assert!(matches!(
            ring.open_kms_material(KEY_ID, &material.id().to_uppercase(), &sealed),
            Err(CryptoError::InvalidInput(_))
        ));
    }

    #[test]
    fn sealed_material_is_not_an_access_key() {
        // The two share the keyring envelope; only their associated data keeps them apart.
        let root = RootKey::generate().unwrap();
        let ring = ring(&root);
        let material = KmsKeyMaterial::generate().unwrap();
        let sealed = ring.seal_kms_material(KEY_ID, &material).unwrap();
        assert!(ring.open_access_key(KEY_ID, &sealed).is_err());
        let access = ring.seal_access_key(KEY_ID, "secret").unwrap();
        assert!(
            ring.open_kms_material(KEY_ID, material.id(), &access)
                .is_err()
        );
    }

    #[test]
    fn material_survives_a_root_key_rotation() {
        let old_root = RootKey::generate().unwrap();
        let ring = ring(&old_root);
        let material = KmsKeyMaterial::generate().unwrap();
        let sealed = ring.seal_kms_material(KEY_ID, &material).unwrap();
        let ctx = context(&[("a", "b")]);
        let blob = kms_encrypt(KEY_ID, &material, &ctx, b"payload").unwrap();

        let new_root = RootKey::generate().unwrap();
        let rewrapped = ring.rewrap(&new_root).unwrap();
        drop(ring);
        let reopened = Keyring::new(
            rewrapped
                .iter()
                .map(|(id, wrapped)| KeyEncryptionKey::unwrap(id, wrapped, &new_root).unwrap())
                .collect(),
        )
        .unwrap();
        let material = reopened
            .open_kms_material(KEY_ID, material.id(), &sealed)
            .unwrap();
        assert_eq!(
            kms_decrypt(&blob, &material, &ctx).unwrap().as_slice(),
            b"payload"
        );
    }

    #[test]
    fn debug_never_prints_material_bytes() {
        let material = KmsKeyMaterial::generate().unwrap();
        let shown = format!("{material:?} {material:#?}");
        assert!(shown.contains(material.id()));
        assert!(shown.contains("REDACTED"));
        assert!(!shown.contains(&format!("{:?}", *material.bytes)));
        assert!(!shown.contains(&hex_lower(material.bytes.as_ref())));
        let bytes_listed = material
            .bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        assert!(!shown.contains(&bytes_listed));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn flipping_any_byte_is_detected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..256),
            pairs in proptest::collection::btree_map(".{0,8}", ".{0,8}", 0..4),
            index in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let material = KmsKeyMaterial::generate().unwrap();
            let mut blob = kms_encrypt(KEY_ID, &material, &pairs, &plaintext).unwrap();
            let opened = kms_decrypt(&blob, &material, &pairs).unwrap();
            prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
            let i = index.index(blob.len());
            blob[i] ^= mask;
            prop_assert!(matches!(
                kms_decrypt(&blob, &material, &pairs),
                Err(CryptoError::Integrity)
            ));
        }

        #[test]
        fn contexts_decrypt_only_under_themselves(
            a in proptest::collection::btree_map("[ab]{0,3}", "[ab]{0,3}", 0..3),
            b in proptest::collection::btree_map("[ab]{0,3}", "[ab]{0,3}", 0..3),
        ) {
            let material = KmsKeyMaterial::generate().unwrap();
            let blob = kms_encrypt(KEY_ID, &material, &a, b"p").unwrap();
            prop_assert_eq!(kms_decrypt(&blob, &material, &b).is_ok(), a == b);
        }
    }
}
