//! Whether a resource policy is "public" (companion §9), and `ValidateResourcePolicy` findings (SM §3.20).

use jiff::Timestamp;
use serde_json::Value;

use super::{
    conditions::{BaseOp, Condition, SetOp, Values},
    context::{Env, PrincipalInfo, PrincipalType, RequestContext},
    matchers::{ArnPattern, Glob},
    parse::{MSG_INVALID_JSON, Policy, PolicyError, PolicyKind, Statement},
};

/// The `PublicPolicyException` message for `PutResourcePolicy` with `BlockPublicPolicy=true` (companion §9
/// suggests it; AWS's text is not recorded).
pub const PUBLIC_POLICY_MESSAGE: &str =
    "This resource policy contains a statement that grants public access to the secret.";

/// Keys that, compared positively against fixed values, pin the caller to a known set (companion §9).
const PINNING_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:userid",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
];

fn fixed_text(g: &Glob) -> bool {
    matches!(g, Glob::Exact(s) if !s.is_empty() && !s.contains(['*', '?']))
}

/// A condition that restricts the caller to a fixed, non-wildcard set. `IfExists`, `Null`, negated operators and
/// `ForAllValues:` (vacuously true when the key is missing) never pin.
fn pins(c: &Condition) -> bool {
    if c.if_exists
        || c.negated
        || c.set == SetOp::AllValues
        || !PINNING_KEYS.contains(&&*c.key.name)
    {
        return false;
    }
    match (&c.values, c.base) {
        (Values::Str { globs, .. }, BaseOp::StringEquals | BaseOp::StringEqualsIgnoreCase) => {
            !globs.is_empty() && globs.iter().all(fixed_text)
        }
        (Values::Arn(patterns), BaseOp::ArnEquals | BaseOp::ArnLike) => {
            !patterns.is_empty()
                && patterns.iter().all(|p| {
                    matches!(p, ArnPattern::Parts(_)) && p.account_part().is_some_and(fixed_text)
                })
                && !patterns.iter().any(ArnPattern::has_variable)
        }
        (Values::Ip(cidrs), BaseOp::IpAddress) => {
            !cidrs.is_empty() && cidrs.iter().all(|c| c.is_some_and(|c| c.prefix() > 0))
        }
        _ => false,
    }
}

fn statement_is_public(st: &Statement) -> bool {
    if st.deny {
        return false;
    }
    let everyone = match &st.principal {
        Some((true, _)) => true,
        Some((false, spec)) => spec.any,
        None => false,
    };
    everyone && !st.conditions.iter().any(pins)
}

impl Policy {
    /// Whether the policy grants access to a wide range of principals (companion §9): some `Allow` statement with
    /// `Principal: "*"`/`{"AWS": "*"}` (or any `NotPrincipal`) and no condition pinning the caller's account, ARN,
    /// organization, source or IP. Identity policies (no principals) are never public.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(statement_is_public)
    }

    fn public_statement(&self) -> Option<(usize, Option<&str>)> {
        self.statements
            .iter()
            .enumerate()
            .find(|(_, st)| statement_is_public(st))
            .map(|(i, st)| (i, st.sid.as_deref()))
    }
}

/// One problem reported by `ValidateResourcePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFinding {
    /// Coffer's stable check name: [`CHECK_BROAD_ACCESS`], [`CHECK_SYNTAX`] or [`CHECK_LOCKOUT_PREVENTION`] (AWS's
    /// own names are not recorded; SM §3.20).
    pub check_name: &'static str,
    /// Human-readable description (the `ErrorMessage`).
    pub message: String,
}

/// The public / broad-access check (companion §9).
pub const CHECK_BROAD_ACCESS: &str = "BROAD_ACCESS";
/// The policy is not a valid resource policy.
pub const CHECK_SYNTAX: &str = "SYNTAX";
/// The policy would deny everyone the ability to change it.
pub const CHECK_LOCKOUT_PREVENTION: &str = "LOCKOUT_PREVENTION";

/// The checks of `ValidateResourcePolicy` (SM §3.20). `Err` only when `text` is not JSON at all (the caller answers
/// `MalformedPolicyDocumentException`); every other problem is a finding, and an empty list means the policy passed.
///
/// The lock-out check needs no caller: it flags a `Deny` that applies unconditionally to every principal for
/// `secretsmanager:PutResourcePolicy` or `secretsmanager:DeleteResourcePolicy` on the secret, which nobody could
/// undo through the API.
pub fn validate_resource_policy(text: &str) -> Result<Vec<ValidationFinding>, PolicyError> {
    let doc: Value = serde_json::from_str(text).map_err(|_| PolicyError {
        message: MSG_INVALID_JSON.to_owned(),
    })?;
    let policy = match Policy::from_value(&doc, PolicyKind::Resource) {
        Ok(p) => p,
        Err(e) => {
            return Ok(vec![ValidationFinding {
                check_name: CHECK_SYNTAX,
                message: e.message,
            }]);
        }
    };
    let mut findings = Vec::new();
    if let Some((index, sid)) = policy.public_statement() {
        let which = match sid {
            Some(sid) if !sid.is_empty() => format!(
                "Statement {} (Sid \"{}\")",
                index + 1,
                sid.chars().take(64).collect::<String>()
            ),
            _ => format!("Statement {}", index + 1),
        };
        findings.push(ValidationFinding {
            check_name: CHECK_BROAD_ACCESS,
            message: format!(
                "{which} grants access to a wide range of principals: it allows a wildcard principal without a \
                 condition that limits the caller's account, ARN, organization or network."
            ),
        });
    }
    if locks_out(&policy) {
        findings.push(ValidationFinding {
            check_name: CHECK_LOCKOUT_PREVENTION,
            message: "The policy denies every principal secretsmanager:PutResourcePolicy or \
                      secretsmanager:DeleteResourcePolicy on this secret, so it could never be changed or removed."
                .to_owned(),
        });
    }
    Ok(findings)
}

fn locks_out(policy: &Policy) -> bool {
    // Actions never contain policy variables, so the environment only has to exist.
    let nobody = PrincipalInfo {
        arn: String::new(),
        account: String::new(),
        kind: PrincipalType::User,
        role_arn: None,
        user_name: None,
        user_id: String::new(),
        tags: Vec::new(),
    };
    policy.statements.iter().any(|st| {
        let everyone = matches!(&st.principal, Some((false, spec)) if spec.any);
        let on_secret = st
            .resources
            .as_ref()
            .is_none_or(|r| !r.not && r.patterns.contains(&ArnPattern::Any));
        st.deny
            && everyone
            && on_secret
            && st.conditions.is_empty()
            && [
                "secretsmanager:PutResourcePolicy",
                "secretsmanager:DeleteResourcePolicy",
            ]
            .iter()
            .any(|action| {
                let request = RequestContext::new(*action, "*", Timestamp::UNIX_EPOCH);
                let env = Env::new(&nobody, &request, "");
                let hit = st
                    .actions
                    .patterns
                    .iter()
                    .any(|g| g.matches(action, true, &env));
                hit != st.actions.not
            })
    })
}
