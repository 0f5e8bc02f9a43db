//! Policy documents at write time (validation, size quotas) and the two evaluations IAM and
//! STS make themselves: the caller's identity policies for IAM/STS actions, and a role's trust
//! policy for AssumeRole.

use coffer_auth::policy::{
    Decision, Policy, PolicyKind, PolicySet, PrincipalInfo, PrincipalType, RequestContext, evaluate,
};

use crate::authz::PrincipalPolicies;
use crate::clock::Millis;
use crate::iam::error::{IamError, IamResult};
use crate::identity::{Principal, PrincipalKind};

/// The administrator's inline policy.
pub const ADMINISTRATOR_ACCESS_POLICY_NAME: &str = "AdministratorAccess";
pub const ADMINISTRATOR_ACCESS_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// Checks a policy document: `MalformedPolicyDocument` with the parser's message.
pub(crate) fn validate(text: &str, kind: PolicyKind) -> IamResult<Policy> {
    Policy::parse(text, kind).map_err(|e| IamError::MalformedPolicyDocument(e.message))
}

pub(crate) fn timestamp(now: Millis) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(now).unwrap_or_else(|_| jiff::Timestamp::now())
}

/// The caller as policy evaluation sees it.
pub(crate) fn principal_info(caller: &Principal, policies: &PrincipalPolicies) -> PrincipalInfo {
    match &caller.kind {
        PrincipalKind::User => PrincipalInfo {
            arn: caller.arn.clone(),
            account: caller.account_id.clone(),
            kind: PrincipalType::User,
            role_arn: None,
            user_name: Some(caller.user_name.clone()),
            user_id: policies.user_id.clone(),
            tags: policies.tags.clone(),
        },
        PrincipalKind::AssumedRole {
            role_arn, user_id, ..
        } => PrincipalInfo {
            arn: caller.arn.clone(),
            account: caller.account_id.clone(),
            kind: PrincipalType::AssumedRole,
            role_arn: Some(role_arn.clone()),
            user_name: None,
            user_id: user_id.clone(),
            tags: policies.tags.clone(),
        },
    }
}

/// Policies that no longer parse (written by an older version) are skipped, not fatal.
fn compile(texts: &[String], kind: PolicyKind) -> Vec<Policy> {
    texts
        .iter()
        .filter_map(|text| match Policy::parse(text, kind) {
            Ok(policy) => Some(policy),
            Err(e) => {
                tracing::warn!(error = %e, "a stored policy does not parse; it is ignored");
                None
            }
        })
        .collect()
}

/// Evaluates `action` on `resource` against the caller's identity-side policies (and an
/// optional resource policy owned by `resource_account`).
pub(crate) fn decide(
    caller: &Principal,
    policies: &PrincipalPolicies,
    request: &RequestContext<'_>,
    resource_policy: Option<&Policy>,
    resource_account: &str,
) -> Decision {
    let info = principal_info(caller, policies);
    let identity = compile(&policies.identity, PolicyKind::Identity);
    let identity_refs: Vec<&Policy> = identity.iter().collect();
    let boundary = policies
        .boundary
        .as_ref()
        .and_then(|t| compile(std::slice::from_ref(t), PolicyKind::Identity).pop());
    let session = match &caller.kind {
        PrincipalKind::AssumedRole {
            session_policy: Some(text),
            ..
        } => compile(std::slice::from_ref(text), PolicyKind::Identity).pop(),
        _ => None,
    };
    evaluate(
        &info,
        request,
        &PolicySet {
            identity: &identity_refs,
            boundary: boundary.as_ref(),
            session: session.as_ref(),
            resource: resource_policy,
            resource_account,
            resource_authoritative: false,
        },
    )
}

/// What AssumeRole asks of a role's trust policy.
pub(crate) struct TrustRequest<'a> {
    pub role_arn: &'a str,
    pub role_account: &'a str,
    pub trust_policy: &'a str,
    pub external_id: Option<&'a str>,
    pub session_name: &'a str,
    pub tags: &'a [(String, String)],
    pub now: Millis,
}

/// Whether the role's trust policy (a resource policy for `sts:AssumeRole`), together with the
/// caller's identity policies, lets the caller assume the role (companion §4.2, §8.5): callers
/// named in the trust policy need no identity allow in the same account; callers matched
/// through their account (`arn:aws:iam::ACCT:root`) need one.
pub(crate) fn trust_allows(
    caller: &Principal,
    policies: &PrincipalPolicies,
    request: &TrustRequest<'_>,
) -> bool {
    let Ok(trust) = Policy::parse(request.trust_policy, PolicyKind::Trust) else {
        return false;
    };
    let mut context =
        RequestContext::new("sts:AssumeRole", request.role_arn, timestamp(request.now))
            .with_string("sts:RoleSessionName", request.session_name);
    if let Some(external_id) = request.external_id {
        context = context.with_string("sts:ExternalId", external_id);
    }
    if !request.tags.is_empty() {
        context = context
            .with_request_tags(request.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .with_strings("aws:TagKeys", request.tags.iter().map(|(k, _)| k.as_str()));
    }
    decide(
        caller,
        policies,
        &context,
        Some(&trust),
        request.role_account,
    )
    .is_allow()
}
