//! Secret values in memory: wiped on drop, never printed.

use zeroize::Zeroizing;

use crate::error::{SecretsError, SecretsResult};

/// One version's value: exactly one of `SecretString` / `SecretBinary`.
pub enum SecretValue {
    String(Zeroizing<String>),
    Binary(Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretValue::String(_) => f.write_str("SecretValue::String([REDACTED])"),
            SecretValue::Binary(_) => f.write_str("SecretValue::Binary([REDACTED])"),
        }
    }
}

const STRING_TAG: u8 = b's';
const BINARY_TAG: u8 = b'b';

impl SecretValue {
    /// Builds the value from the two optional request members.
    pub fn from_members(
        secret_string: Option<Zeroizing<String>>,
        secret_binary: Option<Zeroizing<Vec<u8>>>,
    ) -> SecretsResult<Option<SecretValue>> {
        match (secret_string, secret_binary) {
            (Some(_), Some(_)) => Err(SecretsError::BothSecretValues),
            (Some(s), None) => Ok(Some(SecretValue::String(s))),
            (None, Some(b)) => Ok(Some(SecretValue::Binary(b))),
            (None, None) => Ok(None),
        }
    }

    /// The bytes that get sealed: a one-byte type tag then the value, so that a string and
    /// a binary with the same bytes stay distinct (and the type is not visible at rest).
    pub(crate) fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        let (tag, bytes): (u8, &[u8]) = match self {
            SecretValue::String(s) => (STRING_TAG, s.as_bytes()),
            SecretValue::Binary(b) => (BINARY_TAG, b.as_slice()),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(1 + bytes.len()));
        out.push(tag);
        out.extend_from_slice(bytes);
        out
    }

    pub(crate) fn from_plaintext(plaintext: &[u8]) -> SecretsResult<SecretValue> {
        match plaintext.split_first() {
            Some((&STRING_TAG, rest)) => {
                let text =
                    std::str::from_utf8(rest).map_err(|_| SecretsError::DecryptionFailure)?;
                Ok(SecretValue::String(Zeroizing::new(text.to_owned())))
            }
            Some((&BINARY_TAG, rest)) => Ok(SecretValue::Binary(Zeroizing::new(rest.to_vec()))),
            _ => Err(SecretsError::DecryptionFailure),
        }
    }
}
