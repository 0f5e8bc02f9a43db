//! The evaluation algorithm (companion §8.5).

use super::{
    context::{Env, PrincipalInfo, PrincipalType, RequestContext},
    parse::{Policy, PrincipalSpec, Statement},
};

/// The policies that apply to one request.
#[derive(Debug, Clone, Copy)]
pub struct PolicySet<'a> {
    /// The caller's identity policies: user inline + attached managed + group policies, or role inline + attached.
    pub identity: &'a [&'a Policy],
    /// The caller's permissions boundary, if any.
    pub boundary: Option<&'a Policy>,
    /// The session policy passed to `AssumeRole`, if any.
    pub session: Option<&'a Policy>,
    /// The resource's policy: a secret's resource policy, a key policy, a role's trust policy.
    pub resource: Option<&'a Policy>,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    /// KMS key policies are authoritative (companion §6.5): identity policies count only
    /// where the resource policy allows the caller's account, and without a resource-policy
    /// allow nothing is allowed, even within the account.
    pub resource_authoritative: bool,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The request is allowed.
    Allow,
    /// The request is denied, for this reason.
    Deny(DenyReason),
}

impl Decision {
    /// `true` for [`Decision::Allow`].
    pub fn is_allow(self) -> bool {
        self == Decision::Allow
    }
}

/// Which rule denied a request; selects the clause of the `AccessDenied` message (SM §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// An applicable `Deny` in an identity policy. Denies in permissions boundaries and session policies are
    /// reported this way too: they are identity-side policies, and AWS's clauses for them are not recorded in the
    /// spec. (Guess.)
    ExplicitIdentity,
    /// An applicable `Deny` in the resource policy.
    ExplicitResource,
    /// Nothing allowed the request on the identity side (and no resource policy granted it on its own).
    NoIdentityAllow,
    /// An identity (or role-named resource) allow, but the permissions boundary does not allow the action.
    NoBoundaryAllow,
    /// An identity (or role-named resource) allow, but the session policy does not allow the action.
    NoSessionAllow,
    /// Cross-account: the identity side allows, the resource policy does not.
    NoResourceAllow,
}

/// How a resource-policy `Principal` matched the caller (companion §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PrincipalMatch {
    /// Through the caller's account (account id or root ARN): delegates to identity policies.
    ViaAccount,
    /// Through a role session's role ARN (or `*` for a role session): boundary and session policies still apply.
    ViaRole,
    /// The user, the session, a service, or `*` for a user: not limited by identity-side policies.
    Direct,
}

fn principal_match(spec: &PrincipalSpec, not: bool, p: &PrincipalInfo) -> Option<PrincipalMatch> {
    let acct_listed = || spec.any || spec.accounts.iter().any(|a| **a == *p.account);
    let arn_listed = |arn: &str| spec.any || spec.arns.iter().any(|a| **a == *arn);
    let service_listed = || {
        spec.any || spec.any_service || spec.services.iter().any(|s| s.eq_ignore_ascii_case(&p.arn))
    };
    let star = match p.kind {
        PrincipalType::AssumedRole => PrincipalMatch::ViaRole,
        _ => PrincipalMatch::Direct,
    };
    if not {
        // NotPrincipal with Deny (companion §8.3): applies unless every element of the caller's chain is listed.
        // (Allow + NotPrincipal is `not_principal_allow`.)
        let all_listed = match p.kind {
            PrincipalType::User => acct_listed() && arn_listed(&p.arn),
            PrincipalType::AssumedRole => {
                acct_listed() && p.role_arn.as_deref().is_some_and(arn_listed) && arn_listed(&p.arn)
            }
            PrincipalType::Root => acct_listed(),
            PrincipalType::Service => service_listed(),
        };
        return (!all_listed).then_some(star);
    }
    match p.kind {
        PrincipalType::Service => return service_listed().then_some(PrincipalMatch::Direct),
        PrincipalType::User if arn_listed(&p.arn) => return Some(PrincipalMatch::Direct),
        PrincipalType::AssumedRole => {
            if spec.arns.iter().any(|a| **a == *p.arn) {
                return Some(PrincipalMatch::Direct);
            }
            if p.role_arn
                .as_deref()
                .is_some_and(|r| spec.arns.iter().any(|a| **a == *r))
            {
                return Some(PrincipalMatch::ViaRole);
            }
        }
        _ => {}
    }
    if spec.any {
        return Some(star);
    }
    spec.accounts
        .iter()
        .any(|a| **a == *p.account)
        .then_some(PrincipalMatch::ViaAccount)
}

/// For `Allow` + `NotPrincipal`: applies when the caller's most specific identity is not listed.
fn not_principal_allow(spec: &PrincipalSpec, p: &PrincipalInfo) -> Option<PrincipalMatch> {
    let listed = match p.kind {
        PrincipalType::User | PrincipalType::AssumedRole => {
            spec.any || spec.arns.iter().any(|a| **a == *p.arn)
        }
        PrincipalType::Root => spec.any || spec.accounts.iter().any(|a| **a == *p.account),
        PrincipalType::Service => {
            spec.any
                || spec.any_service
                || spec.services.iter().any(|s| s.eq_ignore_ascii_case(&p.arn))
        }
    };
    (!listed).then_some(match p.kind {
        PrincipalType::AssumedRole => PrincipalMatch::ViaRole,
        _ => PrincipalMatch::Direct,
    })
}

impl Statement {
    /// Whether the statement applies to the request; for resource policies, how its principal matched.
    fn applies(&self, env: &Env<'_>) -> Option<PrincipalMatch> {
        let action = &env.request.action;
        let hit = self
            .actions
            .patterns
            .iter()
            .any(|g| g.matches(action, true, env));
        if hit == self.actions.not {
            return None;
        }
        if let Some(resources) = &self.resources {
            let resource = &env.request.resource;
            let parts = env.resource_parts.as_ref();
            let hit = resources
                .patterns
                .iter()
                .any(|p| p.matches(resource, parts, env));
            if hit == resources.not {
                return None;
            }
        }
        let how = match &self.principal {
            None => PrincipalMatch::Direct,
            Some((false, spec)) => principal_match(spec, false, env.principal)?,
            Some((true, spec)) if self.deny => principal_match(spec, true, env.principal)?,
            Some((true, spec)) => not_principal_allow(spec, env.principal)?,
        };
        self.conditions.iter().all(|c| c.holds(env)).then_some(how)
    }
}

/// What one policy says about the request.
enum Verdict {
    Deny,
    /// The best principal match among applicable `Allow` statements, if any.
    Allow(Option<PrincipalMatch>),
}

impl Policy {
    fn verdict(&self, env: &Env<'_>) -> Verdict {
        let mut best: Option<PrincipalMatch> = None;
        for st in &self.statements {
            // Once the strongest allow is known only denies can change the verdict.
            if !st.deny && best == Some(PrincipalMatch::Direct) {
                continue;
            }
            if let Some(how) = st.applies(env) {
                if st.deny {
                    return Verdict::Deny;
                }
                best = best.max(Some(how));
            }
        }
        Verdict::Allow(best)
    }
}

/// Decides whether `principal` may perform `request` under `policies` (companion §8.5).
///
/// The root of the resource's own account is allowed unless a resource policy explicitly denies it; the
/// identity-side policies in `policies` are ignored for root callers, who have none. Cross-account roots are limited
/// only by the resource policy (and explicit denies).
pub fn evaluate(
    principal: &PrincipalInfo,
    request: &RequestContext<'_>,
    policies: &PolicySet<'_>,
) -> Decision {
    let env = Env::new(principal, request, policies.resource_account);
    let is_root = principal.kind == PrincipalType::Root;

    // Step 1: an explicit deny anywhere wins. Allows are collected on the way.
    let mut identity_allow = is_root;
    let mut boundary_ok = true;
    let mut session_ok = true;
    if !is_root {
        for p in policies.identity {
            match p.verdict(&env) {
                Verdict::Deny => return Decision::Deny(DenyReason::ExplicitIdentity),
                Verdict::Allow(a) => identity_allow |= a.is_some(),
            }
        }
    }
    let resource = match policies.resource.map(|p| p.verdict(&env)) {
        Some(Verdict::Deny) => return Decision::Deny(DenyReason::ExplicitResource),
        Some(Verdict::Allow(a)) => a,
        None => None,
    };
    if !is_root {
        for (policy, ok) in [
            (policies.boundary, &mut boundary_ok),
            (policies.session, &mut session_ok),
        ] {
            if let Some(p) = policy {
                match p.verdict(&env) {
                    Verdict::Deny => return Decision::Deny(DenyReason::ExplicitIdentity),
                    Verdict::Allow(a) => *ok = a.is_some(),
                }
            }
        }
    }

    let same_account = principal.account == policies.resource_account;
    // Step 2: root of the owning account.
    if is_root && same_account {
        return Decision::Allow;
    }
    let identity_ok = identity_allow && boundary_ok && session_ok;
    let side_reason = || {
        if !boundary_ok {
            DenyReason::NoBoundaryAllow
        } else if !session_ok {
            DenyReason::NoSessionAllow
        } else {
            DenyReason::NoIdentityAllow
        }
    };
    if policies.resource_authoritative {
        let allowed = match resource {
            Some(PrincipalMatch::Direct) => true,
            Some(PrincipalMatch::ViaRole) => boundary_ok && session_ok,
            Some(PrincipalMatch::ViaAccount) => identity_ok,
            None => false,
        } && (same_account || identity_ok);
        return match (allowed, resource) {
            (true, _) => Decision::Allow,
            (false, None) => Decision::Deny(DenyReason::NoResourceAllow),
            (false, Some(how)) if identity_allow || how == PrincipalMatch::ViaRole => {
                Decision::Deny(side_reason())
            }
            (false, Some(_)) => Decision::Deny(DenyReason::NoIdentityAllow),
        };
    }
    if same_account {
        // Step 4: union of the identity allow and a direct resource grant; a grant to the account only delegates.
        let allowed = identity_ok
            || match resource {
                Some(PrincipalMatch::Direct) => true,
                Some(PrincipalMatch::ViaRole) => boundary_ok && session_ok,
                _ => false,
            };
        if allowed {
            return Decision::Allow;
        }
        if identity_allow || resource == Some(PrincipalMatch::ViaRole) {
            return Decision::Deny(side_reason());
        }
        return Decision::Deny(DenyReason::NoIdentityAllow);
    }
    // Step 5: cross-account needs both sides.
    if !identity_ok {
        return Decision::Deny(if identity_allow {
            side_reason()
        } else {
            DenyReason::NoIdentityAllow
        });
    }
    if resource.is_some() {
        Decision::Allow
    } else {
        Decision::Deny(DenyReason::NoResourceAllow)
    }
}
