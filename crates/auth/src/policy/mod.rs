//! The IAM policy language: parsing, evaluation, the public-access check and the access-denied message.
//!
//! # Why it looks like this
//!
//! Every API request is authorized here, so a policy is compiled once — when it is written or loaded — into
//! matchers that need no JSON and almost no allocation: action patterns pre-lower-cased, literal/prefix/glob
//! patterns split out, ARN patterns pre-split into their six parts, CIDRs, dates and numbers pre-parsed, policy
//! variables pre-tokenised and condition keys pre-classified. Evaluation only borrows the request's strings;
//! it allocates only to render a policy variable or compare a non-text key as text. `policy_cost` (an example of
//! this crate) measures it.
//!
//! The module is pure: no clock (the request time is part of [`RequestContext`]), no storage (the caller collects the
//! policies into a [`PolicySet`]), no logging.
//!
//! # Semantics
//!
//! [`Policy::parse`] follows companion-apis.md §8.1/§8.2; [`evaluate`] follows §8.3–§8.6; [`Policy::is_public`]
//! is §9's syntactic approximation; [`access_denied_message`] is secretsmanager-api.md §1.7.
//!
//! Where the spec is silent Coffer does what AWS does as far as known, and otherwise guesses. The guesses:
//!
//! - Error messages: bad JSON → `This policy contains invalid Json`; bad `Version` → `This policy has invalid
//!   syntax.`; identity policy with a principal → `Policy document should not specify a principal.`; resource or
//!   trust policy without one → `Policy document should specify a principal.`; missing `Action`/`Resource` →
//!   IAM's `Policy statement must contain actions.` / `... resources.`; duplicate `Sid` → IAM's `Statement IDs (SID)
//!   in a single policy must be unique.`; an action without a vendor → IAM's `Actions/Conditions must be prefaced
//!   by a vendor, e.g., iam, sdb, ec2, etc.`; non-ARN resource → `Resource X must be in ARN format or "*".`; bad
//!   principal → `Invalid principal in policy: "AWS":"X"` (X cut to 100 characters); a non-`sts:` action in a
//!   trust policy → `AssumeRole policy may only specify STS AssumeRole actions.`; everything else (unknown
//!   element, wrong JSON type, bad `Effect`, unknown operator, `Null…IfExists`) → `Syntax errors in policy.`
//! - Condition operator names (and their `ForAnyValue:`/`ForAllValues:`/`IfExists` parts) are accepted in any case.
//! - Values that can never match (a non-numeric value under `Numeric…`, a bad date, CIDR or base64) are accepted at
//!   write time; they simply never match. A request value an operator cannot compare makes the condition false, for
//!   negated operators too.
//! - A plain (non-`ForAnyValue`) operator on a multi-valued key is read as `ForAnyValue` (§8.4 [?]); an empty list
//!   is a missing key everywhere, including `Null`.
//! - `StringEqualsIgnoreCase` folds full Unicode case for literal values; with policy variables, and for actions,
//!   ASCII case only.
//! - Policy variables are substituted as literal text (a `*` in a tag value is not a wildcard). In `Resource` they are
//!   honoured only in the resource (sixth) part of the ARN. Multi-valued and binary keys have no text form and count
//!   as missing. `${` without a well-formed key and `}` is literal text.
//! - A `*` or `?` in the service part of a resource ARN is literal (§8.3 says wildcards are not allowed there), so it
//!   matches no real ARN. `Arn…` condition values with fewer than six parts are matched as one glob.
//! - `Principal: "*"` and `{"AWS": "*"}` also match service principals. A wildcard principal (or `Allow` +
//!   `NotPrincipal`) counts as a direct grant for users, roots and services, and as a grant through the role for
//!   role sessions — so a role session's boundary and session policy still limit it.
//! - Root callers have no identity policies: the identity side counts as allowing, and whatever the caller put in
//!   [`PolicySet::identity`], `boundary` and `session` is ignored for them.
//! - Service principals ([`PrincipalType::Service`]) are granted only by a resource policy naming the service (or
//!   `*`), or by identity policies the caller supplies for them; `aws:PrincipalType` is absent for them,
//!   `aws:PrincipalIsAWSService` is `true` and `aws:PrincipalServiceName` is their name.
//! - Tag keys in `aws:PrincipalTag/…`, `aws:ResourceTag/…` and `aws:RequestTag/…` are matched case-insensitively, like
//!   the rest of the key name.
//! - Denies in permissions boundaries and session policies are reported as [`DenyReason::ExplicitIdentity`].
//! - The KMS rule that a key policy is authoritative (§8.5 step 4) is not applied here: it is the same computation
//!   with "same account" treated as "cross-account", which the caller gets by passing a `resource_account` that can
//!   never equal the caller's (or by checking the key policy with its own rule).

mod conditions;
mod context;
mod evaluate;
mod matchers;
mod message;
mod parse;
mod public;

pub use context::{NumberValue, PrincipalInfo, PrincipalType, RequestContext};
pub use evaluate::{Decision, DenyReason, PolicySet, evaluate};
pub use message::access_denied_message;
pub use parse::{Policy, PolicyError, PolicyKind};
pub use public::{
    CHECK_BROAD_ACCESS, CHECK_LOCKOUT_PREVENTION, CHECK_SYNTAX, PUBLIC_POLICY_MESSAGE,
    ValidationFinding, validate_resource_policy,
};
