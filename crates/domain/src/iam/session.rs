//! Stateless role sessions: the session token *is* the session. Its claims (who, which role,
//! session policy and tags, expiry, and the session's secret access key) are serialised as
//! JSON and sealed under the keyring with the temporary access key id as associated data, then
//! base64-encoded. Any node holding the keyring can open it; no store write is needed; a token
//! altered in any byte, or presented with another access key id, does not open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_crypto::Keyring;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::clock::Millis;

const TOKEN_VERSION: u8 = 1;
/// Sealed under the access-key sealing of the keyring, with a prefix no access key id can have
/// (ids are alphanumeric), so a session token can never be opened as a stored secret access
/// key or the other way round.
const ASSOCIATED_DATA_PREFIX: &str = "sts-session:";

/// What a session token carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub v: u8,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    pub role_arn: String,
    pub role_id: String,
    pub role_name: String,
    pub session_name: String,
    #[serde(default)]
    pub session_policy: Option<String>,
    /// Role tags with the session's tags merged over them.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub issued_at: Millis,
    pub expires_at: Millis,
    /// Set for a user's session from GetSessionToken (the role fields are then empty): the
    /// user's ARN, whose permissions the session has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_arn: Option<String>,
}

impl Drop for SessionClaims {
    fn drop(&mut self) {
        self.secret_access_key.zeroize();
    }
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn associated_data(access_key_id: &str) -> String {
    format!("{ASSOCIATED_DATA_PREFIX}{access_key_id}")
}

/// Seals claims into a session token (base64 text).
pub(crate) fn seal_session_token(
    keyring: &Keyring,
    claims: &SessionClaims,
) -> Result<String, coffer_crypto::CryptoError> {
    // Pre-sized so that serialising never reallocates (which would leave copies of the secret).
    let mut json = Zeroizing::new(Vec::with_capacity(8192));
    serde_json::to_writer(&mut *json, claims).expect("claims serialise");
    let text = std::str::from_utf8(&json).expect("JSON is UTF-8");
    let sealed = keyring.seal_access_key(&associated_data(&claims.access_key_id), text)?;
    Ok(BASE64.encode(sealed))
}

/// Opens a session token presented with `access_key_id`. `None` when it is not one of ours,
/// was altered, or belongs to another key. Expiry is not checked here.
pub fn open_session_token(
    keyring: &Keyring,
    access_key_id: &str,
    token: &[u8],
) -> Option<SessionClaims> {
    let sealed = Zeroizing::new(BASE64.decode(token).ok()?);
    let json = keyring
        .open_access_key(&associated_data(access_key_id), &sealed)
        .ok()?;
    let claims: SessionClaims = serde_json::from_str(&json).ok()?;
    (claims.v == TOKEN_VERSION && claims.access_key_id == access_key_id).then_some(claims)
}

pub(crate) const CURRENT_VERSION: u8 = TOKEN_VERSION;
