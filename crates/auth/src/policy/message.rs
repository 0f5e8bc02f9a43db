//! The `AccessDeniedException` message (SM §1.7).

use super::evaluate::DenyReason;

/// AWS's authorization-failure message, e.g. `User: arn:aws:iam::111122223333:user/alice is not authorized to
/// perform: secretsmanager:GetSecretValue on resource: settings because no identity-based policy allows the
/// secretsmanager:GetSecretValue action`.
///
/// `resource` is the `SecretId` exactly as the caller sent it; `None` for actions without a resource, which drops the
/// ` on resource: …` part.
pub fn access_denied_message(
    caller_arn: &str,
    action: &str,
    resource: Option<&str>,
    reason: DenyReason,
) -> String {
    let mut m = String::with_capacity(
        160 + caller_arn.len() + 2 * action.len() + resource.map_or(0, str::len),
    );
    m.push_str("User: ");
    m.push_str(caller_arn);
    m.push_str(" is not authorized to perform: ");
    m.push_str(action);
    if let Some(resource) = resource {
        m.push_str(" on resource: ");
        m.push_str(resource);
    }
    let because = |m: &mut String, what: &str| {
        m.push_str(" because no ");
        m.push_str(what);
        m.push_str(" allows the ");
        m.push_str(action);
        m.push_str(" action");
    };
    match reason {
        DenyReason::ExplicitIdentity => {
            m.push_str(" with an explicit deny in an identity-based policy")
        }
        DenyReason::ExplicitResource => {
            m.push_str(" with an explicit deny in a resource-based policy")
        }
        DenyReason::NoIdentityAllow => because(&mut m, "identity-based policy"),
        DenyReason::NoBoundaryAllow => because(&mut m, "permissions boundary"),
        DenyReason::NoSessionAllow => because(&mut m, "session policy"),
        DenyReason::NoResourceAllow => because(&mut m, "resource-based policy"),
    }
    m
}
