//! Policy documents: grammar (companion §8.1) and write-time validation (§8.2), compiled for evaluation.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{
    conditions::{Condition, parse_operator, scalar_text},
    matchers::{ArnPattern, Glob, Syntax, split_arn},
};

/// Which kind of policy a document is; decides whether `Principal` is required or forbidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, role or group (also permissions boundaries and session policies): no `Principal`.
    Identity,
    /// Attached to a resource (a secret's resource policy, a key policy): `Principal` required.
    Resource,
    /// A role's trust policy: `Principal` required, `Resource` optional, only `sts:` actions.
    Trust,
}

/// A malformed policy document. `message` is AWS's text for the problem (companion §5.3, SM §3.17) and never
/// repeats more than a short excerpt of the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    /// The message for `MalformedPolicyDocument(Exception)`.
    pub message: String,
}

impl PolicyError {
    fn new(message: impl Into<String>) -> Self {
        PolicyError {
            message: message.into(),
        }
    }
}

/// `This policy contains invalid Json` — the document is not JSON.
pub(crate) const MSG_INVALID_JSON: &str = "This policy contains invalid Json";
/// Bad `Version` (recorded from Secrets Manager).
const MSG_INVALID_SYNTAX: &str = "This policy has invalid syntax.";
/// Any other structural problem (unknown element, wrong type, bad `Effect`, bad operator).
const MSG_SYNTAX_ERRORS: &str = "Syntax errors in policy.";
const MSG_HAS_PRINCIPAL: &str = "Policy document should not specify a principal.";
const MSG_NEEDS_PRINCIPAL: &str = "Policy document should specify a principal.";
const MSG_NO_ACTIONS: &str = "Policy statement must contain actions.";
const MSG_NO_RESOURCES: &str = "Policy statement must contain resources.";
const MSG_DUP_SID: &str = "Statement IDs (SID) in a single policy must be unique.";
const MSG_VENDOR: &str =
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
const MSG_TRUST_ACTIONS: &str = "AssumeRole policy may only specify STS AssumeRole actions.";

/// At most this many characters of the document are quoted back in a message.
const EXCERPT: usize = 100;

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(EXCERPT).collect();
    if s.chars().nth(EXCERPT).is_some() {
        out.push_str("...");
    }
    out
}

/// A set of patterns with `Not…` polarity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MatchSet<T> {
    pub not: bool,
    pub patterns: Box<[T]>,
}

/// A compiled `Principal`/`NotPrincipal` value.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PrincipalSpec {
    /// `"*"` or `{"AWS": "*"}` (or `*` in an `AWS` list).
    pub any: bool,
    /// Account ids, from `123456789012` or `arn:aws:iam::123456789012:root`.
    pub accounts: Vec<Box<str>>,
    /// User, role and role-session ARNs.
    pub arns: Vec<Box<str>>,
    /// Service principals, lower-cased; `*` in `Service` is `any_service`.
    pub services: Vec<Box<str>>,
    pub any_service: bool,
}

/// One compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub sid: Option<Box<str>>,
    pub deny: bool,
    /// `(not, spec)`: `None` in identity policies.
    pub principal: Option<(bool, PrincipalSpec)>,
    pub actions: MatchSet<Glob>,
    /// `None`: no `Resource` element (trust policies), which applies to the role itself.
    pub resources: Option<MatchSet<ArnPattern>>,
    pub conditions: Box<[Condition]>,
}

/// A parsed and compiled policy document. Evaluation never touches JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) kind: PolicyKind,
    pub(crate) version_2012: bool,
    pub(crate) statements: Vec<Statement>,
}

impl Policy {
    /// Parses and validates `text` as a policy of `kind`.
    ///
    /// Size limits differ per use (2,048 to 20,480 characters) and are the caller's to enforce; principal ARNs are
    /// checked for shape only, not for existence.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|_| PolicyError::new(MSG_INVALID_JSON))?;
        Policy::from_value(&doc, kind)
    }

    /// Parses an already-decoded JSON document.
    pub fn from_value(doc: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let Value::Object(top) = doc else {
            return Err(PolicyError::new(MSG_SYNTAX_ERRORS));
        };
        let mut version_2012 = false;
        let mut statement = None;
        for (name, value) in top {
            match name.as_str() {
                "Version" => match value.as_str() {
                    Some("2012-10-17") => version_2012 = true,
                    Some("2008-10-17") => version_2012 = false,
                    _ => return Err(PolicyError::new(MSG_INVALID_SYNTAX)),
                },
                "Id" => {
                    if !value.is_string() {
                        return Err(PolicyError::new(MSG_SYNTAX_ERRORS));
                    }
                }
                "Statement" => statement = Some(value),
                _ => return Err(PolicyError::new(MSG_SYNTAX_ERRORS)),
            }
        }
        let raw: Vec<&Map<String, Value>> = match statement {
            Some(Value::Object(one)) => vec![one],
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .map(|s| {
                    s.as_object()
                        .ok_or_else(|| PolicyError::new(MSG_SYNTAX_ERRORS))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(PolicyError::new(MSG_SYNTAX_ERRORS)),
        };
        let mut sids = HashSet::new();
        let mut statements = Vec::with_capacity(raw.len());
        for st in raw {
            let st = parse_statement(st, kind, version_2012)?;
            if let Some(sid) = &st.sid
                && !sid.is_empty()
                && !sids.insert(sid.clone())
            {
                return Err(PolicyError::new(MSG_DUP_SID));
            }
            statements.push(st);
        }
        Ok(Policy {
            kind,
            version_2012,
            statements,
        })
    }

    /// The kind this policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// `true` for `Version: 2012-10-17` (policy variables are live); `false` for `2008-10-17` or no `Version`.
    pub fn is_version_2012(&self) -> bool {
        self.version_2012
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }
}

fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(list) => list.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Fills the `Action`/`NotAction`-style slot, refusing both spellings in one statement.
fn fill<'v>(
    slot: &mut Option<(bool, &'v Value)>,
    not: bool,
    value: &'v Value,
) -> Result<(), PolicyError> {
    if slot.is_some() {
        return Err(PolicyError::new(MSG_SYNTAX_ERRORS));
    }
    *slot = Some((not, value));
    Ok(())
}

fn parse_statement(
    st: &Map<String, Value>,
    kind: PolicyKind,
    v2012: bool,
) -> Result<Statement, PolicyError> {
    let syntax = || PolicyError::new(MSG_SYNTAX_ERRORS);
    let mut sid = None;
    let mut effect = None;
    let mut principal: Option<(bool, &Value)> = None;
    let mut action: Option<(bool, &Value)> = None;
    let mut resource: Option<(bool, &Value)> = None;
    let mut condition = None;
    for (name, value) in st {
        match name.as_str() {
            "Sid" => sid = Some(value.as_str().ok_or_else(syntax)?),
            "Effect" => effect = Some(value),
            "Principal" => fill(&mut principal, false, value)?,
            "NotPrincipal" => fill(&mut principal, true, value)?,
            "Action" => fill(&mut action, false, value)?,
            "NotAction" => fill(&mut action, true, value)?,
            "Resource" => fill(&mut resource, false, value)?,
            "NotResource" => fill(&mut resource, true, value)?,
            "Condition" => condition = Some(value),
            _ => return Err(syntax()),
        }
    }
    let deny = match effect.and_then(Value::as_str) {
        Some("Allow") => false,
        Some("Deny") => true,
        _ => return Err(syntax()),
    };

    let principal = match (kind, principal) {
        (PolicyKind::Identity, Some(_)) => return Err(PolicyError::new(MSG_HAS_PRINCIPAL)),
        (PolicyKind::Identity, None) => None,
        (_, None) => return Err(PolicyError::new(MSG_NEEDS_PRINCIPAL)),
        (_, Some((not, value))) => Some((not, parse_principal(value)?)),
    };

    let actions = match action {
        None => return Err(PolicyError::new(MSG_NO_ACTIONS)),
        Some((not, value)) => {
            let list = strings(value).ok_or_else(syntax)?;
            if list.is_empty() {
                return Err(PolicyError::new(MSG_NO_ACTIONS));
            }
            let mut patterns = Vec::with_capacity(list.len());
            for a in list {
                validate_action(a, kind)?;
                let syntax = Syntax {
                    wildcards: true,
                    variables: false,
                };
                patterns.push(Glob::compile(a, syntax, true));
            }
            MatchSet {
                not,
                patterns: patterns.into_boxed_slice(),
            }
        }
    };

    let resources = match resource {
        None if kind == PolicyKind::Trust => None,
        None => return Err(PolicyError::new(MSG_NO_RESOURCES)),
        Some((not, value)) => {
            let list = strings(value).ok_or_else(syntax)?;
            if list.is_empty() {
                return Err(PolicyError::new(MSG_NO_RESOURCES));
            }
            let mut patterns = Vec::with_capacity(list.len());
            for r in list {
                if r != "*" && split_arn(r).is_none_or(|p| p[0] != "arn") {
                    return Err(PolicyError::new(format!(
                        "Resource {} must be in ARN format or \"*\".",
                        excerpt(r)
                    )));
                }
                patterns.push(ArnPattern::compile(r, v2012));
            }
            Some(MatchSet {
                not,
                patterns: patterns.into_boxed_slice(),
            })
        }
    };

    let conditions = match condition {
        None => Box::default(),
        Some(value) => parse_conditions(value, v2012)?,
    };

    Ok(Statement {
        sid: sid.map(Into::into),
        deny,
        principal,
        actions,
        resources,
        conditions,
    })
}

fn validate_action(a: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let Some((vendor, name)) = a.split_once(':') else {
        return Err(PolicyError::new(MSG_VENDOR));
    };
    let vendor_ok = !vendor.is_empty()
        && vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'*' | b'?'));
    if !vendor_ok || name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(PolicyError::new(MSG_VENDOR));
    }
    if kind == PolicyKind::Trust && !vendor.eq_ignore_ascii_case("sts") {
        return Err(PolicyError::new(MSG_TRUST_ACTIONS));
    }
    Ok(())
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn invalid_principal(key: &str, value: &str) -> PolicyError {
    PolicyError::new(format!(
        "Invalid principal in policy: \"{key}\":\"{}\"",
        excerpt(value)
    ))
}

/// Validates and compiles a principal (companion §8.2): `*`, account ids, root/user/role/session ARNs, services;
/// no partial wildcards.
fn parse_principal(value: &Value) -> Result<PrincipalSpec, PolicyError> {
    let mut spec = PrincipalSpec::default();
    let map = match value {
        Value::String(s) if s == "*" => {
            spec.any = true;
            return Ok(spec);
        }
        Value::Object(map) if !map.is_empty() => map,
        Value::String(s) => return Err(invalid_principal("AWS", s)),
        _ => return Err(PolicyError::new(MSG_SYNTAX_ERRORS)),
    };
    for (key, values) in map {
        let list = strings(values).ok_or_else(|| PolicyError::new(MSG_SYNTAX_ERRORS))?;
        if list.is_empty() {
            return Err(PolicyError::new(MSG_SYNTAX_ERRORS));
        }
        for v in list {
            match key.as_str() {
                "AWS" => {
                    if v == "*" {
                        spec.any = true;
                    } else if is_account_id(v) {
                        spec.accounts.push(v.into());
                    } else if let Some(acct) = principal_arn(v)? {
                        spec.accounts.push(acct.into());
                    } else {
                        spec.arns.push(v.into());
                    }
                }
                "Service" => {
                    if v == "*" {
                        spec.any_service = true;
                    } else if v.ends_with(".amazonaws.com")
                        && !v.contains(['*', '?'])
                        && !v.contains(char::is_whitespace)
                    {
                        spec.services.push(v.to_ascii_lowercase().into());
                    } else {
                        return Err(invalid_principal("Service", v));
                    }
                }
                // Syntactically valid, but Coffer has no federation or canonical users, so these never match.
                "Federated" | "CanonicalUser" => {
                    if v.is_empty() {
                        return Err(invalid_principal(key, v));
                    }
                }
                _ => return Err(PolicyError::new(MSG_SYNTAX_ERRORS)),
            }
        }
    }
    Ok(spec)
}

/// Checks an `AWS` principal ARN. `Some(account)` for a root ARN, `None` for a user/role/session ARN.
fn principal_arn(v: &str) -> Result<Option<&str>, PolicyError> {
    let bad = || invalid_principal("AWS", v);
    if v.contains(['*', '?']) {
        return Err(bad());
    }
    let parts = split_arn(v).ok_or_else(bad)?;
    let [arn, partition, service, region, account, resource] = parts;
    if arn != "arn" || partition.is_empty() || !region.is_empty() || !is_account_id(account) {
        return Err(bad());
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'))
    };
    match service {
        "iam" if resource == "root" => Ok(Some(account)),
        "iam" if named("user/") || named("role/") => Ok(None),
        "sts"
            if resource
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(role, session)| {
                    !role.is_empty() && !session.is_empty() && !session.contains('/')
                }) =>
        {
            Ok(None)
        }
        _ => Err(bad()),
    }
}

fn parse_conditions(value: &Value, v2012: bool) -> Result<Box<[Condition]>, PolicyError> {
    let syntax = || PolicyError::new(MSG_SYNTAX_ERRORS);
    let ops = value.as_object().ok_or_else(syntax)?;
    let mut out = Vec::new();
    for (op, keys) in ops {
        let (base, negated, set, if_exists) = parse_operator(op).ok_or_else(syntax)?;
        let keys = keys.as_object().ok_or_else(syntax)?;
        for (key, vals) in keys {
            if key.is_empty() {
                return Err(syntax());
            }
            if !key.contains(':') {
                return Err(PolicyError::new(MSG_VENDOR));
            }
            let raw: Vec<String> = match vals {
                Value::Array(list) => list
                    .iter()
                    .map(scalar_text)
                    .collect::<Option<_>>()
                    .ok_or_else(syntax)?,
                v => vec![scalar_text(v).ok_or_else(syntax)?],
            };
            // Null takes no policy variables (companion §8.6): its values are only ever "true"/"false".
            out.push(Condition::compile(
                base, negated, set, if_exists, key, &raw, v2012,
            ));
        }
    }
    Ok(out.into_boxed_slice())
}
