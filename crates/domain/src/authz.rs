//! Authorisation: which principal may perform which action on which resource.
//!
//! The rules themselves live in `coffer_auth::policy` (pure, table-tested). This module feeds
//! them: it finds the policies that apply to a principal (through a [`PrincipalDirectory`],
//! which IAM implements), compiles them once and caches the result, compiles resource policies
//! once per text, and turns a denial into AWS's `AccessDenied` message.
//!
//! Freshness: compiled principals are dropped whenever the store's IAM generation changes. A
//! node notices its own IAM writes at once ([`Authorizer::invalidate`]) and another node's
//! within [`GENERATION_RECHECK_MS`].

use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use coffer_auth::policy::{
    Decision, DenyReason, Policy, PolicyKind, PolicySet, PrincipalInfo, PrincipalType,
    RequestContext, access_denied_message, evaluate,
};
use quick_cache::sync::Cache;

use crate::clock::{Clock, Millis};
use crate::identity::{Principal, PrincipalKind};
use crate::secrets::{Actor, Caller};

/// How long a node trusts its compiled policies before asking the store whether IAM changed.
pub const GENERATION_RECHECK_MS: Millis = 1_000;

/// A boxed future: the directory is used behind `dyn`, and only on cache misses.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What IAM knows about a principal that evaluation needs, as policy texts.
#[derive(Clone, Debug, Default)]
pub struct PrincipalPolicies {
    /// `aws:userid`.
    pub user_id: String,
    /// `aws:PrincipalTag/*`.
    pub tags: Vec<(String, String)>,
    /// Identity policies: inline, attached managed and group policies.
    pub identity: Vec<String>,
    /// Permissions boundary.
    pub boundary: Option<String>,
}

/// Where the authoriser reads principals' policies (implemented by the IAM service).
pub trait PrincipalDirectory: Send + Sync {
    /// The policies of `principal`; an error is an internal failure, not a denial.
    fn principal_policies<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> BoxFuture<'a, Result<PrincipalPolicies, String>>;

    /// The store's IAM generation: it changes on every IAM write.
    fn generation(&self) -> BoxFuture<'_, Result<i64, String>>;
}

/// Why a request was refused, with the message AWS sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub reason: DenyReason,
    pub message: String,
}

/// An internal failure while authorising (the directory could not be read, a stored policy
/// no longer parses). Callers fail the request without granting it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("authorization failed: {0}")]
pub struct AuthorizationFailure(pub String);

/// The outcome of [`Authorizer::authorize`].
pub type AuthzResult = Result<Result<(), Denied>, AuthorizationFailure>;

/// The resource a request acts on, and what AWS echoes in a denial.
pub struct Resource<'a> {
    /// The ARN policies are matched against, or `*`.
    pub arn: &'a str,
    /// What the message names (`on resource: …`): the identifier as the caller sent it;
    /// `None` for actions without a resource.
    pub named_as: Option<&'a str>,
    /// The account owning the resource.
    pub account: &'a str,
    /// The resource's policy: a cache key (the resource ARN) and the text.
    pub policy: Option<(&'a str, &'a str)>,
    /// The policy is a KMS key policy: nothing is allowed that it does not allow, for the
    /// caller or (delegating to identity policies) for the caller's account.
    pub policy_is_authoritative: bool,
}

struct CompiledPrincipal {
    info: PrincipalInfo,
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    session: Option<Policy>,
}

struct CompiledResourcePolicy {
    text: String,
    policy: Policy,
}

pub struct Authorizer {
    directory: Arc<dyn PrincipalDirectory>,
    clock: Arc<dyn Clock>,
    principals: Cache<String, Arc<CompiledPrincipal>>,
    resource_policies: Cache<String, Arc<CompiledResourcePolicy>>,
    generation: AtomicI64,
    generation_checked_at: AtomicI64,
    /// Moves whenever compiled principals are dropped: a compile that started before the
    /// drop does not cache what it read (it may predate the IAM write that caused the drop).
    epoch: AtomicU64,
}

impl Authorizer {
    pub fn new(directory: Arc<dyn PrincipalDirectory>, clock: Arc<dyn Clock>) -> Self {
        Authorizer {
            directory,
            clock,
            principals: Cache::new(10_000),
            resource_policies: Cache::new(10_000),
            generation: AtomicI64::new(i64::MIN),
            generation_checked_at: AtomicI64::new(i64::MIN),
            epoch: AtomicU64::new(0),
        }
    }

    /// Forgets every compiled principal: call after an IAM write on this node.
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.principals.clear();
        self.generation_checked_at
            .store(i64::MIN, Ordering::Release);
    }

    /// Decides whether `principal` may perform the context's action on `resource`.
    /// `context` carries the action, the resource ARN, the time and the request's own keys;
    /// the principal's keys are added from the directory.
    pub async fn authorize(
        &self,
        principal: &Principal,
        source_ip: Option<IpAddr>,
        context: RequestContext<'_>,
        resource: &Resource<'_>,
    ) -> AuthzResult {
        let compiled = self.compiled_principal(principal).await?;
        let resource_policy = match resource.policy {
            Some((key, text)) => Some(self.compiled_resource_policy(key, text)?),
            None => None,
        };
        let mut context = context.with_secure_transport(false);
        if let Some(ip) = source_ip {
            context = context.with_source_ip(ip);
        }
        let identity: Vec<&Policy> = compiled.identity.iter().collect();
        let policies = PolicySet {
            identity: &identity,
            boundary: compiled.boundary.as_ref(),
            session: compiled.session.as_ref(),
            resource: resource_policy.as_ref().map(|p| &p.policy),
            resource_account: resource.account,
            resource_authoritative: resource.policy_is_authoritative,
        };
        match evaluate(&compiled.info, &context, &policies) {
            Decision::Allow => Ok(Ok(())),
            Decision::Deny(reason) => Ok(Err(Denied {
                reason,
                message: access_denied_message(
                    &principal.arn,
                    context.action(),
                    resource.named_as,
                    reason,
                ),
            })),
        }
    }

    /// `aws:userid` of a principal the authoriser has seen (the audit record's
    /// `principalId`): from the cache, without a store read.
    pub fn cached_user_id(&self, principal: &Principal) -> Option<String> {
        self.principals
            .get(cache_key(principal).as_ref())
            .map(|c| c.info.user_id.clone())
            .filter(|id| !id.is_empty())
    }

    async fn compiled_principal(
        &self,
        principal: &Principal,
    ) -> Result<Arc<CompiledPrincipal>, AuthorizationFailure> {
        self.check_generation().await?;
        let key = cache_key(principal);
        if let Some(hit) = self.principals.get(key.as_ref()) {
            return Ok(hit);
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let texts = self
            .directory
            .principal_policies(principal)
            .await
            .map_err(AuthorizationFailure)?;
        let compile = |text: &str| {
            Policy::parse(text, PolicyKind::Identity).map_err(|e| {
                AuthorizationFailure(format!(
                    "a stored policy of {} does not parse: {}",
                    principal.arn, e.message
                ))
            })
        };
        let identity = texts
            .identity
            .iter()
            .map(|text| compile(text))
            .collect::<Result<Vec<_>, _>>()?;
        let boundary = texts.boundary.as_deref().map(compile).transpose()?;
        let (kind, role_arn, user_name, session) = match &principal.kind {
            PrincipalKind::User => (
                PrincipalType::User,
                None,
                Some(principal.user_name.clone()),
                None,
            ),
            PrincipalKind::AssumedRole {
                role_arn,
                session_policy,
                ..
            } => (
                PrincipalType::AssumedRole,
                Some(role_arn.clone()),
                None,
                session_policy.as_deref().map(compile).transpose()?,
            ),
        };
        let compiled = Arc::new(CompiledPrincipal {
            info: PrincipalInfo {
                arn: principal.arn.clone(),
                account: principal.account_id.clone(),
                kind,
                role_arn,
                user_name,
                user_id: texts.user_id,
                tags: texts.tags,
            },
            identity,
            boundary,
            session,
        });
        if self.epoch.load(Ordering::Acquire) == epoch {
            self.principals
                .insert(key.into_owned(), Arc::clone(&compiled));
        }
        Ok(compiled)
    }

    fn compiled_resource_policy(
        &self,
        key: &str,
        text: &str,
    ) -> Result<Arc<CompiledResourcePolicy>, AuthorizationFailure> {
        if let Some(hit) = self.resource_policies.get(key)
            && hit.text == text
        {
            return Ok(hit);
        }
        let policy = Policy::parse(text, PolicyKind::Resource).map_err(|e| {
            AuthorizationFailure(format!(
                "the stored resource policy of {key} does not parse: {}",
                e.message
            ))
        })?;
        let compiled = Arc::new(CompiledResourcePolicy {
            text: text.to_owned(),
            policy,
        });
        self.resource_policies
            .insert(key.to_owned(), Arc::clone(&compiled));
        Ok(compiled)
    }

    async fn check_generation(&self) -> Result<(), AuthorizationFailure> {
        let now = self.clock.now();
        let checked_at = self.generation_checked_at.load(Ordering::Acquire);
        if checked_at != i64::MIN && now.saturating_sub(checked_at) < GENERATION_RECHECK_MS {
            return Ok(());
        }
        let generation = self
            .directory
            .generation()
            .await
            .map_err(AuthorizationFailure)?;
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.principals.clear();
        }
        self.generation_checked_at.store(now, Ordering::Release);
        Ok(())
    }
}

/// The decision every service makes for a call: Coffer itself (`Actor::System`) is not
/// subject to policies; a principal is decided by `authorizer` over the context `build`
/// makes (only then), and a service configured without an authorizer refuses principals.
pub async fn authorize_caller<'a>(
    authorizer: Option<&Authorizer>,
    caller: &Caller,
    resource: &Resource<'_>,
    build: impl FnOnce() -> RequestContext<'a>,
) -> AuthzResult {
    let Actor::Principal {
        principal,
        source_ip,
    } = &caller.actor
    else {
        return Ok(Ok(()));
    };
    let Some(authorizer) = authorizer else {
        return Err(AuthorizationFailure(
            "no authorizer is configured for API callers".into(),
        ));
    };
    authorizer
        .authorize(principal, *source_ip, build(), resource)
        .await
}

/// Sessions of one role share an ARN only when their session name matches; their session
/// policies and tags travel in the (immutable) token, so they are part of the key. A user's
/// key is its ARN, borrowed: the hot path allocates nothing to find it.
fn cache_key(principal: &Principal) -> Cow<'_, str> {
    match &principal.kind {
        PrincipalKind::User => Cow::Borrowed(&principal.arn),
        PrincipalKind::AssumedRole {
            session_policy,
            tags,
            ..
        } => {
            let mut key = principal.arn.clone();
            key.push('\n');
            if let Some(policy) = session_policy {
                key.push_str(policy);
            }
            for (k, v) in tags {
                key.push('\n');
                key.push_str(k);
                key.push('=');
                key.push_str(v);
            }
            Cow::Owned(key)
        }
    }
}
