//! MACs for opaque tokens the server hands out and must recognise later (pagination
//! `NextToken`s): a client can neither forge one nor alter the position it encodes.

use aws_lc_rs::hmac;

use crate::RootKey;

pub struct TokenSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner([REDACTED])")
    }
}

/// Bytes of HMAC-SHA256 kept in a token: 128 bits make forgery hopeless and keep tokens short.
pub const TAG_LEN: usize = 16;

impl TokenSigner {
    /// A signer whose key is derived from the root key for `purpose`.
    pub fn derive(root: &RootKey, purpose: &str) -> TokenSigner {
        let key = root.derive(purpose);
        TokenSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()),
        }
    }

    pub fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let full = hmac::sign(&self.key, payload);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        tag
    }

    /// Constant-time check of a tag made by [`TokenSigner::tag`].
    pub fn verify(&self, payload: &[u8], tag: &[u8]) -> bool {
        let expected = self.tag(payload);
        tag.len() == TAG_LEN
            && aws_lc_rs::constant_time::verify_slices_are_equal(&expected, tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_verify_only_for_their_payload_and_key() {
        let root = RootKey::generate().unwrap();
        let signer = TokenSigner::derive(&root, "pagination");
        let tag = signer.tag(b"page 2");
        assert!(signer.verify(b"page 2", &tag));
        assert!(!signer.verify(b"page 3", &tag));
        assert!(!signer.verify(b"page 2", &tag[..8]));
        assert!(!TokenSigner::derive(&root, "other").verify(b"page 2", &tag));
    }
}
