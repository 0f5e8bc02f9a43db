//! Principals and their access keys. For now one principal exists per account: the
//! administrator, who may do everything; IAM users, roles and policies build on this.
//!
//! Secret access keys are sealed under the keyring (SigV4 needs the key itself, so it cannot
//! be hashed) and opened only to verify a signature.

use std::sync::Arc;

use coffer_auth::{Credential, CredentialLookup, LookupError, SecretAccessKey};
use coffer_crypto::Keyring;
use coffer_store::{AccessKeyRecord, AccessKeyStatus, Store};
use quick_cache::sync::Cache;
use rand::seq::IndexedRandom;
use zeroize::Zeroizing;

use crate::clock::Millis;
use crate::random::Randomness;

/// The administrator's IAM user name.
pub const ADMIN_USER_NAME: &str = "admin";

/// Who made a request: what SigV4 verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    /// The IAM user's name; for a role session, the role's name.
    pub user_name: String,
    /// The user's ARN, or the session's `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    pub kind: PrincipalKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM user with a long-term access key (the administrator is one).
    User,
    /// Temporary credentials from STS AssumeRole.
    AssumedRole {
        /// `arn:aws:iam::<account>:role/<path><name>`.
        role_arn: String,
        /// `aws:userid` of the session: `<role id>:<session name>`.
        user_id: String,
        session_name: String,
        /// The inline session policy passed to AssumeRole, if any.
        session_policy: Option<String>,
        /// The session's tags and the role's, as `aws:PrincipalTag/*`.
        tags: Vec<(String, String)>,
    },
}

impl Principal {
    pub fn user(partition: &str, account_id: &str, user_name: &str) -> Principal {
        Principal {
            account_id: account_id.to_owned(),
            user_name: user_name.to_owned(),
            arn: format!("arn:{partition}:iam::{account_id}:user/{user_name}"),
            kind: PrincipalKind::User,
        }
    }
}

/// An access key pair in AWS's formats: `AKIA` + 16 upper-case alphanumerics, and a
/// 40-character secret from `[A-Za-z0-9/+]`.
pub struct AccessKeyPair {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for AccessKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyPair")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AccessKeyPair {
    pub fn generate(randomness: &Randomness) -> AccessKeyPair {
        const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET_ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
        let mut rng = randomness.rng();
        let mut pick = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| char::from(*alphabet.choose(&mut rng).expect("alphabet is not empty")))
                .collect()
        };
        let access_key_id = format!("AKIA{}", pick(ID_ALPHABET, 16));
        let secret_access_key = Zeroizing::new(pick(SECRET_ALPHABET, 40));
        AccessKeyPair {
            access_key_id,
            secret_access_key,
        }
    }

    /// Checks a key pair given by an operator against AWS's formats.
    pub fn parse(
        access_key_id: &str,
        secret_access_key: Zeroizing<String>,
    ) -> Result<AccessKeyPair, String> {
        let id_ok = access_key_id.len() == 20
            && access_key_id.starts_with("AKIA")
            && access_key_id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !id_ok {
            return Err(format!(
                "access key id {access_key_id:?} is not in AWS's format (AKIA followed by 16 upper-case letters or digits)"
            ));
        }
        let secret_ok = secret_access_key.len() == 40
            && secret_access_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+');
        if !secret_ok {
            return Err(
                "the secret access key must be 40 characters of A-Z, a-z, 0-9, / and +".into(),
            );
        }
        Ok(AccessKeyPair {
            access_key_id: access_key_id.to_owned(),
            secret_access_key,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("access key {0} already exists with a different secret access key")]
    KeyConflict(String),
    #[error("{0}")]
    Store(#[from] coffer_store::StoreError),
    #[error("{0}")]
    Crypto(#[from] coffer_crypto::CryptoError),
}

/// Names the generated administrator key so that later starts (and other nodes) know one
/// exists.
const ADMIN_KEY_SETTING: &str = "admin.access_key_id";

/// Makes sure the account has an administrator access key. With `requested`, that pair is
/// the key (added if new; an existing id must have the same secret). Without, a key is
/// generated on the first start only. Returns the pair when this call created it, so the
/// caller can hand it to the operator once.
pub async fn ensure_admin_access_key<S: Store>(
    store: &S,
    keyring: &Keyring,
    account_id: &str,
    requested: Option<AccessKeyPair>,
    randomness: &Randomness,
    now: Millis,
) -> Result<Option<AccessKeyPair>, IdentityError> {
    let pair = match requested {
        Some(pair) => {
            if let Some(existing) = store.access_key(&pair.access_key_id).await? {
                let stored = keyring
                    .open_access_key(&existing.access_key_id, &existing.sealed_secret_access_key)?;
                if !coffer_crypto::constant_time_eq(
                    stored.as_bytes(),
                    pair.secret_access_key.as_bytes(),
                ) {
                    return Err(IdentityError::KeyConflict(pair.access_key_id));
                }
                return Ok(None);
            }
            pair
        }
        None => {
            let pair = AccessKeyPair::generate(randomness);
            let chosen = store
                .setting_or_insert(ADMIN_KEY_SETTING, pair.access_key_id.clone().into_bytes())
                .await?;
            if chosen != pair.access_key_id.as_bytes() {
                return Ok(None);
            }
            pair
        }
    };
    let sealed = keyring.seal_access_key(&pair.access_key_id, &pair.secret_access_key)?;
    let inserted = store
        .insert_access_key(AccessKeyRecord {
            access_key_id: pair.access_key_id.clone(),
            account_id: account_id.to_owned(),
            user_name: ADMIN_USER_NAME.to_owned(),
            sealed_secret_access_key: sealed,
            status: AccessKeyStatus::Active,
            created_at: now,
        })
        .await?;
    Ok(inserted.then_some(pair))
}

/// Resolves access key ids for the SigV4 verifier, from the store through a cache.
///
/// Cache bound: keys are immutable once created and, until access keys can be deactivated
/// or deleted, entries never go stale; the cache is bounded by entry count.
pub struct CredentialStore<S: Store> {
    store: Arc<S>,
    keyring: Keyring,
    partition: String,
    cache: Cache<String, Credential<Arc<Principal>>>,
}

impl<S: Store> CredentialStore<S> {
    pub fn new(store: Arc<S>, keyring: Keyring, partition: &str) -> Self {
        CredentialStore {
            store,
            keyring,
            partition: partition.to_owned(),
            cache: Cache::new(10_000),
        }
    }
}

impl<S: Store> CredentialLookup for CredentialStore<S> {
    type Principal = Arc<Principal>;

    async fn lookup(
        &self,
        access_key_id: &str,
        _session_token: Option<&[u8]>,
    ) -> Result<Option<Credential<Arc<Principal>>>, LookupError> {
        if let Some(hit) = self.cache.get(access_key_id) {
            return Ok(Some(hit));
        }
        let record = self
            .store
            .access_key(access_key_id)
            .await
            .map_err(|e| LookupError::new(format!("could not read access key: {e}")))?;
        let Some(record) = record.filter(|r| r.status == AccessKeyStatus::Active) else {
            return Ok(None);
        };
        let secret = self
            .keyring
            .open_access_key(&record.access_key_id, &record.sealed_secret_access_key)
            .map_err(|e| LookupError::new(format!("could not open access key: {e}")))?;
        let credential = Credential {
            principal: Arc::new(Principal::user(
                &self.partition,
                &record.account_id,
                &record.user_name,
            )),
            secret_access_key: SecretAccessKey::new(secret.as_str()),
            session_token: None,
            expires_at: None,
        };
        self.cache
            .insert(access_key_id.to_owned(), credential.clone());
        Ok(Some(credential))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_aws_formats() {
        let pair = AccessKeyPair::generate(&Randomness::System);
        assert!(AccessKeyPair::parse(&pair.access_key_id, pair.secret_access_key.clone()).is_ok());
        assert!(!format!("{pair:?}").contains(pair.secret_access_key.as_str()));
    }

    #[test]
    fn operator_keys_are_checked() {
        let secret = || Zeroizing::new("cofferDevSecretKey/DoNotUseInProduction0".to_owned());
        assert!(AccessKeyPair::parse("AKIACOFFERDEVKEY0001", secret()).is_ok());
        assert!(AccessKeyPair::parse("akiacofferdevkey0001", secret()).is_err());
        assert!(AccessKeyPair::parse("AKIACOFFER", secret()).is_err());
        assert!(
            AccessKeyPair::parse("AKIACOFFERDEVKEY0001", Zeroizing::new("short".into())).is_err()
        );
    }
}
