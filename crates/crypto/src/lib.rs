//! Key material and envelope encryption: the only crate that touches Coffer's keys.
//!
//! Key hierarchy (Vault's barrier, AWS's envelope encryption):
//!
//! ```text
//! root key (32 bytes; <data-dir>/root.key, COFFER_ROOT_KEY, or recombined unseal shares)
//!   └─ wraps key-encryption keys (KEKs), stored in the store under their id
//!        ├─ wrap one fresh 256-bit data key per secret version (envelope format 1)
//!        │    └─ encrypts that version's value (AES-256-GCM)
//!        └─ seal the material of KMS keys (one 256-bit key per KMS key version)
//!             └─ encrypts KMS ciphertexts, among them the data keys of secret
//!                versions sealed under a KMS key (envelope format 2)
//! ```
//!
//! Every AES-GCM operation binds associated data that names what the ciphertext is for (a
//! KEK id, a secret ARN and version id, a KMS key and its encryption context), so a
//! ciphertext moved to another row fails to open instead of decrypting under the wrong name.
//! Nonces are 96-bit random values drawn by aws-lc-rs's `RandomizedNonceKey`, so a nonce can
//! never be chosen twice by mistake; with a fresh data key per version each data key encrypts
//! exactly one value, far inside the 2^32 random-nonce budget of NIST SP 800-38D. KMS key
//! material is the exception that encrypts many messages: see [`kms_encrypt`] for its
//! budget. Rotating the root key rewraps the KEKs only; KMS material and secret
//! ciphertexts are untouched.
//!
//! The root key can be split into Shamir unseal shares ([`split_root_key`]) so that no single
//! operator holds it; a stored [`RootKey::check_value`] tells a correctly recombined key from
//! the wrong key that too few or mismatched shares produce.
//!
//! Every plaintext key is held in `Zeroizing` buffers and wiped on drop; `Debug` never
//! prints key bytes.
//!
//! Architecture Invariant: no other Coffer crate depends on aws-lc-rs or sees a plaintext key.

mod audit;
mod envelope;
mod keys;
mod kms;
mod root_key;
mod shamir;
mod token;

pub use audit::{
    AuditSigner, GENESIS_HASH, HASH_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN, audit_chain_hash,
    audit_digest_message, verify_audit_signature,
};
pub use envelope::{
    EncryptionContext, SecretPlaintext, open_secret_value_with_data_key,
    open_secret_value_with_kms, seal_secret_value_with_data_key, seal_secret_value_with_kms,
    sealed_data_key_blob,
};
pub use keys::{KeyEncryptionKey, Keyring, WrappedKey};
pub use kms::{
    CiphertextKey, KmsKeyMaterial, MAX_RANDOM_BYTES, ciphertext_key, generate_data_key,
    kms_decrypt, kms_encrypt, random_bytes,
};
pub use root_key::{RootKey, RootKeySource};
pub use shamir::{UnsealShare, combine_shares, split_root_key};
pub use token::TokenSigner;

/// What can go wrong with keys and ciphertexts. Messages never include key or value bytes.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication of a ciphertext failed: it was altered, truncated, moved to another
    /// record, or sealed under a different key.
    #[error("ciphertext failed authentication")]
    Integrity,
    /// The ciphertext names a key-encryption key this keyring does not have.
    #[error("unknown key-encryption key {0}")]
    UnknownKey(String),
    /// The ciphertext's format version is not one this binary reads.
    #[error("unsupported ciphertext format {0}")]
    UnsupportedFormat(u8),
    /// A root key was given in a form that is not 32 bytes of base64.
    #[error("invalid root key: {0}")]
    InvalidRootKey(String),
    /// The root key file could not be read or written.
    #[error("root key file {path}: {message}")]
    RootKeyFile { path: String, message: String },
    /// An argument is malformed or out of range (a key id that is not a UUID, a length
    /// outside what the operation allows). Never carries key or value bytes.
    #[error("invalid argument: {0}")]
    InvalidInput(String),
    /// An unseal share was mistyped, altered, or does not fit with the others.
    #[error("invalid unseal share: {0}")]
    InvalidShare(String),
    /// Fewer unseal shares were given than the split's threshold.
    #[error("{threshold} unseal shares are needed, {given} were given")]
    NotEnoughShares { given: usize, threshold: u8 },
    /// The system random generator or AES failed (should not happen).
    #[error("cryptographic operation failed")]
    Unspecified,
}

pub type CryptoResult<T> = Result<T, CryptoError>;

/// Equality whose running time does not depend on where the inputs differ, for comparing
/// secret values and tokens.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 12;
pub(crate) const TAG_LEN: usize = 16;

pub(crate) fn random_key() -> CryptoResult<zeroize::Zeroizing<[u8; KEY_LEN]>> {
    let mut key = zeroize::Zeroizing::new([0u8; KEY_LEN]);
    aws_lc_rs::rand::fill(key.as_mut()).map_err(|_| CryptoError::Unspecified)?;
    Ok(key)
}

/// Seals `plaintext` under `key` with `aad`; output is `nonce || ciphertext || tag`.
pub(crate) fn seal(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> CryptoResult<Vec<u8>> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, RandomizedNonceKey};
    let key = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Unspecified)?;
    // Sealing works in place, so the buffer holds plaintext until it returns: wipe it on drop.
    // Reserve the tag's room up front so appending it never reallocates (a reallocation would
    // free a copy of the plaintext without wiping it).
    let mut in_out = zeroize::Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
    in_out.extend_from_slice(plaintext);
    let nonce = key
        .seal_in_place_append_tag(Aad::from(aad), &mut *in_out)
        .map_err(|_| CryptoError::Unspecified)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
    sealed.extend_from_slice(nonce.as_ref());
    sealed.extend_from_slice(&in_out);
    Ok(sealed)
}

/// Opens `nonce || ciphertext || tag` sealed by [`seal`]; the plaintext is wiped on drop.
pub(crate) fn open(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> CryptoResult<zeroize::Zeroizing<Vec<u8>>> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Integrity);
    }
    let key = RandomizedNonceKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Unspecified)?;
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Integrity)?;
    let mut in_out = zeroize::Zeroizing::new(body.to_vec());
    let plaintext_len = key
        .open_in_place(nonce, Aad::from(aad), &mut in_out)
        .map_err(|_| CryptoError::Integrity)?
        .len();
    in_out.truncate(plaintext_len);
    Ok(in_out)
}
