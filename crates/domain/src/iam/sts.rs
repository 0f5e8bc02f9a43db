//! STS: GetCallerIdentity and AssumeRole (companion spec §4).

use coffer_store::Store;
use rand::seq::IndexedRandom;
use zeroize::Zeroizing;

use crate::clock::SECOND;
use crate::iam::IamService;
use crate::iam::docs::{IamArn, PolicyDoc, RoleDoc, UserDoc, policy_size};
use crate::iam::error::{IamError, IamResult};
use crate::iam::policy::{TrustRequest, trust_allows, validate};
use crate::iam::session::{CURRENT_VERSION, SessionClaims, seal_session_token};
use crate::identity::{Principal, PrincipalKind};

const DEFAULT_DURATION_SECONDS: i32 = 3_600;
const MIN_DURATION_SECONDS: i32 = 900;
/// Role chaining (a role session assuming a role) is limited to one hour.
const CHAINED_MAX_DURATION_SECONDS: i32 = 3_600;
/// GetSessionToken's default and longest session for IAM users.
const USER_SESSION_DEFAULT_SECONDS: i32 = 43_200;
const USER_SESSION_MAX_SECONDS: i32 = 129_600;
/// The packed limit session policies and tags share; PackedPolicySize is a percentage of it.
const PACKED_POLICY_LIMIT: usize = 2_048;

/// GetCallerIdentity's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

#[derive(Clone, Debug, Default)]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub role_session_name: String,
    pub duration_seconds: Option<i32>,
    /// Inline session policy.
    pub policy: Option<String>,
    /// Managed policies used as session policies.
    pub policy_arns: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub transitive_tag_keys: Vec<String>,
    pub external_id: Option<String>,
    pub source_identity: Option<String>,
}

pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: String,
    pub expiration: i64,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub struct AssumeRoleOutput {
    pub credentials: TemporaryCredentials,
    /// `{role id}:{session name}`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::{account}:assumed-role/{role}/{session}`.
    pub arn: String,
    /// Percentage of the packed limit used, when a session policy or tags were passed.
    pub packed_policy_size: Option<i32>,
    pub source_identity: Option<String>,
}

/// One session policy from an inline policy and managed ones: their statements together (session
/// policies allow what any of them allows, and any deny applies).
fn merge_session_policies(documents: &[String]) -> IamResult<Option<String>> {
    match documents {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => {
            let mut statements = Vec::new();
            for document in many {
                let value: serde_json::Value = serde_json::from_str(document).map_err(|_| {
                    IamError::MalformedPolicyDocument("This policy contains invalid Json".into())
                })?;
                match value.get("Statement") {
                    Some(serde_json::Value::Array(list)) => statements.extend(list.iter().cloned()),
                    Some(single) => statements.push(single.clone()),
                    None => {}
                }
            }
            Ok(Some(
                serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
            ))
        }
    }
}

impl<S: Store> IamService<S> {
    /// GetCallerIdentity: always allowed (it cannot be denied by policy).
    pub async fn get_caller_identity(&self, caller: &Principal) -> IamResult<CallerIdentity> {
        let user_id = match &caller.kind {
            PrincipalKind::User => self
                .load::<UserDoc>(&caller.account_id, &caller.user_name)
                .await?
                .map(|(_, d)| d.id)
                .unwrap_or_else(|| caller.account_id.clone()),
            PrincipalKind::AssumedRole { user_id, .. } => user_id.clone(),
        };
        Ok(CallerIdentity {
            user_id,
            account: caller.account_id.clone(),
            arn: caller.arn.clone(),
        })
    }

    /// AssumeRole: the role's trust policy (with the caller's identity policies, §8.5) must allow
    /// the caller; returns temporary credentials whose session token is the sealed session.
    pub async fn assume_role(
        &self,
        caller: &Principal,
        input: AssumeRoleInput,
    ) -> IamResult<AssumeRoleOutput> {
        let denied = || {
            IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn, input.role_arn
            ))
        };
        let role_arn = IamArn::parse(&input.role_arn)
            .filter(|arn| arn.kind == "role")
            .ok_or_else(|| IamError::Validation(format!("{} is invalid", input.role_arn)))?;

        // Parameters first (AWS validates them before authorizing).
        let chained = matches!(caller.kind, PrincipalKind::AssumedRole { .. });
        let duration = input.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
        if duration < MIN_DURATION_SECONDS {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION_SECONDS}"
            )));
        }
        if chained && duration > CHAINED_MAX_DURATION_SECONDS {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
            ));
        }
        for (i, (key, _)) in input.tags.iter().enumerate() {
            if input.tags[..i]
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(key))
            {
                return Err(IamError::InvalidParameterValue(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive."
                        .into(),
                ));
            }
        }
        for key in &input.transitive_tag_keys {
            if !input.tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
                return Err(IamError::InvalidParameterValue(
                    "The specified transitive tag key must be included in the requested tags."
                        .into(),
                ));
            }
        }
        if let Some(policy) = &input.policy {
            validate(policy, coffer_auth::policy::PolicyKind::Identity)?;
        }
        let tags_size: usize = input.tags.iter().map(|(k, v)| k.len() + v.len()).sum();
        let packed = input.policy.as_deref().map_or(0, policy_size) + tags_size;
        if packed > PACKED_POLICY_LIMIT {
            return Err(IamError::PackedPolicyTooLarge(format!(
                "Packed size of the session policy and session tags exceeds the limit: {}% of the allowed size.",
                packed * 100 / PACKED_POLICY_LIMIT
            )));
        }

        // The role must exist in its account, under the ARN's path; AWS does not say which
        // part failed.
        let Some((record, role)) = self
            .load::<RoleDoc>(&role_arn.account, &role_arn.name)
            .await?
        else {
            return Err(denied());
        };
        if role.path != role_arn.path || record.name != role_arn.name {
            return Err(denied());
        }
        // Across accounts the caller's own identity policies must allow it too; they live
        // in the caller's account.
        let caller_policies = self.principal_policies(caller).await?;
        let allowed = trust_allows(
            caller,
            &caller_policies,
            &TrustRequest {
                role_arn: &input.role_arn,
                role_account: &role_arn.account,
                trust_policy: &role.trust,
                external_id: input.external_id.as_deref(),
                session_name: &input.role_session_name,
                tags: &input.tags,
                now: self.now(),
            },
        );
        if !allowed {
            return Err(denied());
        }
        if !chained && duration > role.max_session_duration {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }

        // Session policies: the inline one and the managed ones, as one document.
        let mut session_documents: Vec<String> = input.policy.iter().cloned().collect();
        for arn in &input.policy_arns {
            let Some((_, policy)) = self.managed_policy(&role_arn.account, arn).await? else {
                return Err(IamError::InvalidParameterValue(format!(
                    "The policy {arn} does not exist or is not attachable."
                )));
            };
            let PolicyDoc { document, .. } = policy;
            session_documents.push(document);
        }
        let session_policy = merge_session_policies(&session_documents)?;

        let mut tags = role.tags.clone();
        for (key, value) in &input.tags {
            match tags.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                Some(slot) => *slot = (key.clone(), value.clone()),
                None => tags.push((key.clone(), value.clone())),
            }
        }

        let now = self.now();
        let expires_at = now + i64::from(duration) * SECOND;
        let (access_key_id, secret) = self.temporary_key_pair();
        let role_arn_text =
            iam_role_arn(&self.partition, &role_arn.account, &role.path, &record.name);
        let claims = SessionClaims {
            v: CURRENT_VERSION,
            access_key_id: access_key_id.clone(),
            secret_access_key: secret.to_string(),
            account_id: role_arn.account.clone(),
            role_arn: role_arn_text,
            role_id: role.id.clone(),
            role_name: record.name.clone(),
            session_name: input.role_session_name.clone(),
            session_policy,
            tags,
            issued_at: now,
            expires_at,
            user_arn: None,
        };
        let session_token = seal_session_token(&self.keyring, &claims)?;
        let packed_policy_size = (input.policy.is_some() || !input.tags.is_empty())
            .then(|| i32::try_from(packed * 100 / PACKED_POLICY_LIMIT).unwrap_or(100));
        Ok(AssumeRoleOutput {
            credentials: TemporaryCredentials {
                access_key_id,
                secret_access_key: secret,
                session_token,
                expiration: expires_at,
            },
            assumed_role_id: format!("{}:{}", role.id, input.role_session_name),
            arn: format!(
                "arn:{}:sts::{}:assumed-role/{}/{}",
                self.partition, role_arn.account, record.name, input.role_session_name
            ),
            packed_policy_size,
            source_identity: input.source_identity,
        })
    }

    /// GetSessionToken: temporary credentials for the calling IAM user, with the user's own
    /// permissions (no policy is needed to call it). Role sessions and users' sessions cannot
    /// call it. Coffer has no MFA devices, so a SerialNumber/TokenCode cannot be validated.
    pub async fn get_session_token(
        &self,
        caller: &Principal,
        duration_seconds: Option<i32>,
        mfa_serial_number: Option<&str>,
        is_session: bool,
    ) -> IamResult<TemporaryCredentials> {
        if is_session || !matches!(caller.kind, PrincipalKind::User) {
            return Err(IamError::AccessDenied(
                "Cannot call GetSessionToken with session credentials".into(),
            ));
        }
        if mfa_serial_number.is_some() {
            return Err(IamError::AccessDenied(
                "MultiFactorAuthentication failed, unable to validate MFA code. This Coffer server has no MFA devices."
                    .into(),
            ));
        }
        let duration = duration_seconds.unwrap_or(USER_SESSION_DEFAULT_SECONDS);
        if duration < MIN_DURATION_SECONDS {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_DURATION_SECONDS}"
            )));
        }
        if duration > USER_SESSION_MAX_SECONDS {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {USER_SESSION_MAX_SECONDS}"
            )));
        }
        let now = self.now();
        let expires_at = now + i64::from(duration) * SECOND;
        let (access_key_id, secret) = self.temporary_key_pair();
        let claims = SessionClaims {
            v: CURRENT_VERSION,
            access_key_id: access_key_id.clone(),
            secret_access_key: secret.to_string(),
            account_id: caller.account_id.clone(),
            role_arn: String::new(),
            role_id: String::new(),
            role_name: String::new(),
            session_name: String::new(),
            session_policy: None,
            tags: Vec::new(),
            issued_at: now,
            expires_at,
            user_arn: Some(caller.arn.clone()),
        };
        let session_token = seal_session_token(&self.keyring, &claims)?;
        Ok(TemporaryCredentials {
            access_key_id,
            secret_access_key: secret,
            session_token,
            expiration: expires_at,
        })
    }

    /// `ASIA` + 16 upper-case letters and digits, and a 40-character secret.
    fn temporary_key_pair(&self) -> (String, Zeroizing<String>) {
        const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET_ALPHABET: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";
        let mut rng = self.randomness.rng();
        let mut id = String::with_capacity(20);
        id.push_str("ASIA");
        for _ in 0..16 {
            id.push(char::from(
                *ID_ALPHABET.choose(&mut rng).expect("not empty"),
            ));
        }
        let mut secret = Zeroizing::new(String::with_capacity(40));
        for _ in 0..40 {
            secret.push(char::from(
                *SECRET_ALPHABET.choose(&mut rng).expect("not empty"),
            ));
        }
        (id, secret)
    }
}

fn iam_role_arn(partition: &str, account: &str, path: &str, name: &str) -> String {
    crate::iam::docs::iam_arn(partition, account, "role", path, name)
}
