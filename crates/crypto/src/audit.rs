//! The audit trail's tamper evidence: the hash chain linking each record to its predecessor,
//! and the Ed25519 signatures of periodic digests (like CloudTrail's digest files).
//!
//! The chain alone is not enough: its hash is public, so whoever can write the store can
//! rewrite the chain from any point on. A digest signs the chain's head at a sequence number
//! with a key derived from the root key; rewriting anything before a signed head breaks that
//! signature. The signing key's public half can be given to auditors, who then verify the
//! trail without the root key.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::RootKey;

pub const HASH_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;
pub const PUBLIC_KEY_LEN: usize = 32;

/// The hash before the first record.
pub const GENESIS_HASH: [u8; HASH_LEN] = [0; HASH_LEN];

/// `SHA-256("coffer.audit-record.v1" || seq || previous hash || record)`: binding the sequence
/// number makes a removed or reordered record visible even where the hashes were recomputed
/// up to the next signed digest.
pub fn audit_chain_hash(seq: u64, previous: &[u8], record: &[u8]) -> [u8; HASH_LEN] {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"coffer.audit-record.v1");
    context.update(&seq.to_be_bytes());
    context.update(previous);
    context.update(record);
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// What a digest signs: the chain's head at `seq`.
pub fn audit_digest_message(seq: u64, head: &[u8], created_at: i64) -> Vec<u8> {
    let mut message = b"coffer.audit-digest.v1".to_vec();
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(head);
    message.extend_from_slice(&created_at.to_be_bytes());
    message
}

/// Signs digests with an Ed25519 key derived from the root key.
pub struct AuditSigner {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("public_key", &hex_lower(&self.public_key()))
            .finish_non_exhaustive()
    }
}

impl AuditSigner {
    pub fn derive(root: &RootKey) -> AuditSigner {
        let seed = root.derive("coffer audit digest signing v1");
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
            .expect("any 32-byte seed is an Ed25519 key");
        AuditSigner { pair }
    }

    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        let mut out = [0u8; PUBLIC_KEY_LEN];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }
}

/// Whether `signature` is `public_key`'s signature of `message`.
pub fn verify_audit_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_binds_sequence_predecessor_and_content() {
        let a = audit_chain_hash(1, &GENESIS_HASH, b"record");
        assert_ne!(a, audit_chain_hash(2, &GENESIS_HASH, b"record"));
        assert_ne!(a, audit_chain_hash(1, &[1; 32], b"record"));
        assert_ne!(a, audit_chain_hash(1, &GENESIS_HASH, b"recorD"));
        assert_eq!(a, audit_chain_hash(1, &GENESIS_HASH, b"record"));
    }

    #[test]
    fn digests_verify_with_the_derived_public_key_only() {
        let root = RootKey::generate().unwrap();
        let signer = AuditSigner::derive(&root);
        let again = AuditSigner::derive(&root);
        assert_eq!(signer.public_key(), again.public_key());
        let message = audit_digest_message(10, &[7; 32], 1_700_000_000_000);
        let signature = signer.sign(&message);
        assert!(verify_audit_signature(
            &signer.public_key(),
            &message,
            &signature
        ));
        let other = AuditSigner::derive(&RootKey::generate().unwrap());
        assert!(!verify_audit_signature(
            &other.public_key(),
            &message,
            &signature
        ));
        let mut altered = message.clone();
        altered[25] ^= 1;
        assert!(!verify_audit_signature(
            &signer.public_key(),
            &altered,
            &signature
        ));
        assert!(!format!("{signer:?}").contains(&format!(
            "{:?}",
            root.derive("coffer audit digest signing v1").as_ref()
        )));
    }
}
