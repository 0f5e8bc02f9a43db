//! Principals and their access keys: the credential lookup SigV4 uses (IAM users' long-term
//! keys and STS role sessions), and the administrator set up at first start.
//!
//! Secret access keys are sealed under the keyring (SigV4 needs the key itself, so it cannot
//! be hashed) and opened only to verify a signature.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coffer_auth::{Credential, CredentialLookup, LookupError, SecretAccessKey};
use coffer_crypto::Keyring;
use coffer_store::{AccessKeyRecord, AccessKeyStatus, IamEntityRecord, IamKind, Store};
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
        .insert_access_key(
            AccessKeyRecord {
                access_key_id: pair.access_key_id.clone(),
                account_id: account_id.to_owned(),
                user_name: ADMIN_USER_NAME.to_owned(),
                sealed_secret_access_key: sealed,
                status: AccessKeyStatus::Active,
                created_at: now,
            },
            None,
        )
        .await?;
    Ok((inserted == coffer_store::AccessKeyInsert::Inserted).then_some(pair))
}

/// Makes sure the account's administrator exists as an IAM user with the inline policy
/// `AdministratorAccess` (allow everything). Idempotent: an existing `admin` user is left as it
/// is, so data directories created before IAM get the user on their next start.
pub async fn ensure_admin_user<S: Store>(
    store: &S,
    account_id: &str,
    randomness: &Randomness,
    now: Millis,
) -> Result<(), IdentityError> {
    if store
        .iam_entity(account_id, IamKind::User, ADMIN_USER_NAME)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let mut doc = crate::iam::UserDoc {
        id: crate::iam::unique_id("AIDA", randomness),
        path: "/".into(),
        ..Default::default()
    };
    doc.inline.insert(
        crate::iam::ADMINISTRATOR_ACCESS_POLICY_NAME.into(),
        crate::iam::ADMINISTRATOR_ACCESS_DOCUMENT.into(),
    );
    let record = IamEntityRecord {
        account_id: account_id.to_owned(),
        kind: IamKind::User,
        name: ADMIN_USER_NAME.to_owned(),
        document: crate::iam::encode_doc(&doc),
        created_at: now,
        revision: 1,
    };
    match store.put_iam_entity(record, None).await {
        // Another node created it first.
        Ok(()) | Err(coffer_store::StoreError::NameTaken) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// How long a node trusts its credential cache before checking the store's IAM generation, so
/// that keys deactivated or deleted through another node stop working within this bound.
const GENERATION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

struct Freshness {
    generation: Option<i64>,
    checked: Option<Instant>,
}

/// Resolves access key ids for the SigV4 verifier.
///
/// Long-term keys (`AKIA`) come from the store through a cache. The cache is dropped at once
/// when this node writes IAM data (`invalidator`), and when the store's `iam_generation` has
/// moved, checked at most once per second, so a key deactivated or deleted elsewhere stops
/// working within a second. Temporary keys (`ASIA`) are self-contained in their session token
/// (`iam::open_session_token`): no store read at all.
pub struct CredentialStore<S: Store> {
    store: Arc<S>,
    keyring: Keyring,
    partition: String,
    cache: Arc<Cache<String, Credential<Arc<Principal>>>>,
    freshness: Mutex<Freshness>,
}

impl<S: Store> CredentialStore<S> {
    pub fn new(store: Arc<S>, keyring: Keyring, partition: &str) -> Self {
        CredentialStore {
            store,
            keyring,
            partition: partition.to_owned(),
            cache: Arc::new(Cache::new(10_000)),
            freshness: Mutex::new(Freshness {
                generation: None,
                checked: None,
            }),
        }
    }

    /// A callback that drops the cache; give it to `IamService::with_change_hook`.
    pub fn invalidator(&self) -> Arc<dyn Fn() + Send + Sync> {
        let cache = Arc::clone(&self.cache);
        Arc::new(move || cache.clear())
    }

    /// Drops the cache if the store's IAM generation moved (checked at most once a second).
    async fn check_generation(&self) -> Result<(), LookupError> {
        {
            let freshness = self.freshness.lock().unwrap_or_else(|p| p.into_inner());
            if freshness
                .checked
                .is_some_and(|at| at.elapsed() < GENERATION_CHECK_INTERVAL)
            {
                return Ok(());
            }
        }
        let generation = self
            .store
            .iam_generation()
            .await
            .map_err(|e| LookupError::new(format!("could not read the IAM generation: {e}")))?;
        let mut freshness = self.freshness.lock().unwrap_or_else(|p| p.into_inner());
        if freshness.generation != Some(generation) {
            self.cache.clear();
            freshness.generation = Some(generation);
        }
        freshness.checked = Some(Instant::now());
        Ok(())
    }

    fn session_credential(
        &self,
        access_key_id: &str,
        session_token: Option<&[u8]>,
    ) -> Option<Credential<Arc<Principal>>> {
        let token = session_token?;
        let claims = crate::iam::open_session_token(&self.keyring, access_key_id, token)?;
        let expires_at = jiff::Timestamp::from_millisecond(claims.expires_at).ok()?;
        let token_text = std::str::from_utf8(token).ok()?.to_owned();
        let principal = match &claims.user_arn {
            // A user's session (GetSessionToken) acts as the user.
            Some(user_arn) => Principal {
                account_id: claims.account_id.clone(),
                user_name: user_arn.rsplit('/').next().unwrap_or_default().to_owned(),
                arn: user_arn.clone(),
                kind: PrincipalKind::User,
            },
            None => self.role_session_principal(&claims),
        };
        Some(Credential {
            principal: Arc::new(principal),
            secret_access_key: SecretAccessKey::new(claims.secret_access_key.as_str()),
            session_token: Some(token_text),
            expires_at: Some(expires_at),
        })
    }

    fn role_session_principal(&self, claims: &crate::iam::SessionClaims) -> Principal {
        Principal {
            account_id: claims.account_id.clone(),
            user_name: claims.role_name.clone(),
            arn: format!(
                "arn:{}:sts::{}:assumed-role/{}/{}",
                self.partition, claims.account_id, claims.role_name, claims.session_name
            ),
            kind: PrincipalKind::AssumedRole {
                role_arn: claims.role_arn.clone(),
                user_id: format!("{}:{}", claims.role_id, claims.session_name),
                session_name: claims.session_name.clone(),
                session_policy: claims.session_policy.clone(),
                tags: claims.tags.clone(),
            },
        }
    }
}

impl<S: Store> CredentialLookup for CredentialStore<S> {
    type Principal = Arc<Principal>;

    async fn lookup(
        &self,
        access_key_id: &str,
        session_token: Option<&[u8]>,
    ) -> Result<Option<Credential<Arc<Principal>>>, LookupError> {
        if access_key_id.starts_with("ASIA") {
            return Ok(self.session_credential(access_key_id, session_token));
        }
        self.check_generation().await?;
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
        let user = self
            .store
            .iam_entity(&record.account_id, IamKind::User, &record.user_name)
            .await
            .map_err(|e| LookupError::new(format!("could not read the key's user: {e}")))?;
        let principal = match user {
            Some(user) => {
                let path = serde_json::from_str::<crate::iam::UserDoc>(&user.document)
                    .map(|d| d.path)
                    .unwrap_or_else(|_| "/".into());
                Principal {
                    account_id: record.account_id.clone(),
                    user_name: user.name.clone(),
                    arn: format!(
                        "arn:{}:iam::{}:user{}{}",
                        self.partition, record.account_id, path, user.name
                    ),
                    kind: PrincipalKind::User,
                }
            }
            None => Principal::user(&self.partition, &record.account_id, &record.user_name),
        };
        let credential = Credential {
            principal: Arc::new(principal),
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
