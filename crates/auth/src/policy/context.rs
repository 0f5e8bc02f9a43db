//! The caller, the request context and condition-key lookup.

use std::{borrow::Cow, net::IpAddr};

use jiff::Timestamp;

use super::matchers::{eq_ci, split_arn};

/// What kind of identity made the request — the value of `aws:PrincipalType` (companion §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// An IAM user (`aws:PrincipalType` = `User`).
    User,
    /// A role session (`AssumedRole`).
    AssumedRole,
    /// The account root (`Account`).
    Root,
    /// A service principal such as Coffer's own rotation worker (`aws:PrincipalType` is not set for these; see
    /// [`RequestContext`]).
    Service,
}

impl PrincipalType {
    /// The `aws:PrincipalType` value, `None` for service principals (AWS sets `aws:PrincipalIsAWSService` and
    /// `aws:PrincipalServiceName` for them instead).
    pub fn as_context_value(self) -> Option<&'static str> {
        match self {
            PrincipalType::User => Some("User"),
            PrincipalType::AssumedRole => Some("AssumedRole"),
            PrincipalType::Root => Some("Account"),
            PrincipalType::Service => None,
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalInfo {
    /// User ARN, assumed-role session ARN (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`), `arn:aws:iam::ACCT:root`,
    /// or for [`PrincipalType::Service`] the service name (`secretsmanager.amazonaws.com`).
    pub arn: String,
    /// The caller's account id.
    pub account: String,
    /// What kind of identity this is.
    pub kind: PrincipalType,
    /// For role sessions, the role's ARN including its path (`arn:aws:iam::ACCT:role/PATH/NAME`).
    pub role_arn: Option<String>,
    /// `aws:username` — IAM users only.
    pub user_name: Option<String>,
    /// `aws:userid`: `AIDA…` for users, `AROA…:session` for role sessions, the account id for root.
    pub user_id: String,
    /// `aws:PrincipalTag/*`: the user's tags, or the role's tags merged with session tags.
    pub tags: Vec<(String, String)>,
}

/// A condition key, pre-classified at parse time so that looking it up needs no string scanning for the keys the
/// evaluator derives itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    /// The key name, lower-cased.
    pub name: Box<str>,
    pub class: KeyClass,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyClass {
    PrincipalArn,
    PrincipalAccount,
    PrincipalType,
    UserId,
    UserName,
    /// `aws:PrincipalTag/<k>`; the tag key starts at this byte offset of `name`.
    PrincipalTag(usize),
    PrincipalIsAwsService,
    PrincipalServiceName,
    CurrentTime,
    EpochTime,
    ResourceAccount,
    /// `aws:ResourceTag/<k>` or `secretsmanager:ResourceTag/<k>`.
    ResourceTag(usize),
    /// `aws:RequestTag/<k>`.
    RequestTag(usize),
    Other,
}

impl Key {
    pub(crate) fn new(name: &str) -> Key {
        let name = name.to_ascii_lowercase();
        let tag = |prefix: &str| name.strip_prefix(prefix).map(|_| prefix.len());
        let class = match name.as_str() {
            "aws:principalarn" => KeyClass::PrincipalArn,
            "aws:principalaccount" => KeyClass::PrincipalAccount,
            "aws:principaltype" => KeyClass::PrincipalType,
            "aws:userid" => KeyClass::UserId,
            "aws:username" => KeyClass::UserName,
            "aws:principalisawsservice" => KeyClass::PrincipalIsAwsService,
            "aws:principalservicename" => KeyClass::PrincipalServiceName,
            "aws:currenttime" => KeyClass::CurrentTime,
            "aws:epochtime" => KeyClass::EpochTime,
            "aws:resourceaccount" => KeyClass::ResourceAccount,
            _ => {
                if let Some(at) = tag("aws:principaltag/") {
                    KeyClass::PrincipalTag(at)
                } else if let Some(at) =
                    tag("aws:resourcetag/").or_else(|| tag("secretsmanager:resourcetag/"))
                {
                    KeyClass::ResourceTag(at)
                } else if let Some(at) = tag("aws:requesttag/") {
                    KeyClass::RequestTag(at)
                } else {
                    KeyClass::Other
                }
            }
        };
        Key {
            name: name.into_boxed_str(),
            class,
        }
    }

    fn suffix(&self, at: usize) -> &str {
        self.name.get(at..).unwrap_or("")
    }
}

/// A number for [`RequestContext::with_number`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberValue {
    /// An integer.
    Int(i64),
    /// A decimal.
    Float(f64),
}

impl From<i64> for NumberValue {
    fn from(v: i64) -> Self {
        NumberValue::Int(v)
    }
}
impl From<i32> for NumberValue {
    fn from(v: i32) -> Self {
        NumberValue::Int(v.into())
    }
}
impl From<u32> for NumberValue {
    fn from(v: u32) -> Self {
        NumberValue::Int(v.into())
    }
}
impl From<f64> for NumberValue {
    fn from(v: f64) -> Self {
        NumberValue::Float(v)
    }
}

#[derive(Debug, Clone)]
enum CtxValue<'a> {
    Str(Cow<'a, str>),
    Strs(Vec<Cow<'a, str>>),
    Bool(bool),
    Num(NumberValue),
    Time(Timestamp),
    Ip(IpAddr),
    Bytes(Cow<'a, [u8]>),
}

/// One request value as the condition operators see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'v> {
    Str(&'v str),
    Bool(bool),
    Num(NumberValue),
    Time(Timestamp),
    Ip(IpAddr),
    Bytes(&'v [u8]),
}

/// The value(s) of a present key. A present but empty multi-valued key is reported as missing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'v> {
    One(Scalar<'v>),
    Many(&'v [Cow<'v, str>]),
}

impl<'v> Val<'v> {
    pub(crate) fn for_each_any(&self, mut f: impl FnMut(Scalar<'v>) -> bool) -> bool {
        match *self {
            Val::One(s) => f(s),
            Val::Many(list) => list.iter().any(|s| f(Scalar::Str(s))),
        }
    }

    pub(crate) fn for_each_all(&self, mut f: impl FnMut(Scalar<'v>) -> bool) -> bool {
        match *self {
            Val::One(s) => f(s),
            Val::Many(list) => list.iter().all(|s| f(Scalar::Str(s))),
        }
    }
}

/// The request being authorized: action, resource and condition keys.
///
/// Keys are case-insensitive. Keys derived from the caller (`aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalType`, `aws:userid`, `aws:username`, `aws:PrincipalTag/*`, `aws:PrincipalIsAWSService`,
/// `aws:PrincipalServiceName`) always come from the [`PrincipalInfo`] given to [`evaluate`](super::evaluate) and
/// cannot be overridden here; `aws:CurrentTime`/`aws:EpochTime` come from the time given to [`RequestContext::new`];
/// `aws:ResourceAccount` defaults to [`PolicySet::resource_account`](super::PolicySet::resource_account).
///
/// Building one borrows where it can: keys and values may be `&'a str` (no allocation) or owned `String`s.
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    pub(crate) action: Cow<'a, str>,
    pub(crate) resource: Cow<'a, str>,
    pub(crate) time: Timestamp,
    entries: Vec<(Cow<'a, str>, CtxValue<'a>)>,
    resource_tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    request_tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> RequestContext<'a> {
    /// A request for `action` (e.g. `secretsmanager:GetSecretValue`) on `resource` (a full ARN, or `*` for actions
    /// without a resource) made at `now`, which sets `aws:CurrentTime` and `aws:EpochTime`.
    pub fn new(
        action: impl Into<Cow<'a, str>>,
        resource: impl Into<Cow<'a, str>>,
        now: Timestamp,
    ) -> Self {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            time: now,
            entries: Vec::new(),
            resource_tags: Vec::new(),
            request_tags: Vec::new(),
        }
    }

    /// The action.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    fn push(mut self, key: Cow<'a, str>, value: CtxValue<'a>) -> Self {
        // A later value for the same key replaces the earlier one, as a map would.
        if let Some(slot) = self
            .entries
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(&key))
        {
            slot.1 = value;
        } else {
            self.entries.push((key, value));
        }
        self
    }

    /// A single-valued string key.
    pub fn with_string(self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.push(key.into(), CtxValue::Str(value.into()))
    }

    /// A multi-valued string key (`aws:TagKeys`, `secretsmanager:AddReplicaRegions`). An empty list behaves as a
    /// missing key, as AWS treats it.
    pub fn with_strings<I, S>(self, key: impl Into<Cow<'a, str>>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Cow<'a, str>>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.push(key.into(), CtxValue::Strs(values))
    }

    /// A boolean key (`aws:SecureTransport`, `secretsmanager:ForceDeleteWithoutRecovery`).
    pub fn with_bool(self, key: impl Into<Cow<'a, str>>, value: bool) -> Self {
        self.push(key.into(), CtxValue::Bool(value))
    }

    /// A numeric key (`secretsmanager:RecoveryWindowInDays`).
    pub fn with_number(self, key: impl Into<Cow<'a, str>>, value: impl Into<NumberValue>) -> Self {
        self.push(key.into(), CtxValue::Num(value.into()))
    }

    /// A date key (`aws:TokenIssueTime`).
    pub fn with_time(self, key: impl Into<Cow<'a, str>>, value: Timestamp) -> Self {
        self.push(key.into(), CtxValue::Time(value))
    }

    /// An IP-address key.
    pub fn with_ip(self, key: impl Into<Cow<'a, str>>, value: IpAddr) -> Self {
        self.push(key.into(), CtxValue::Ip(value))
    }

    /// A binary key, for `BinaryEquals`.
    pub fn with_binary(
        self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, [u8]>>,
    ) -> Self {
        self.push(key.into(), CtxValue::Bytes(value.into()))
    }

    /// `aws:SourceIp`.
    pub fn with_source_ip(self, ip: IpAddr) -> Self {
        self.with_ip("aws:SourceIp", ip)
    }

    /// `aws:SecureTransport`.
    pub fn with_secure_transport(self, tls: bool) -> Self {
        self.with_bool("aws:SecureTransport", tls)
    }

    /// One of the resource's tags: `aws:ResourceTag/<key>` and `secretsmanager:ResourceTag/<key>`.
    pub fn with_resource_tag(
        mut self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Self {
        self.resource_tags.push((key.into(), value.into()));
        self
    }

    /// All of the resource's tags (see [`with_resource_tag`](Self::with_resource_tag)).
    pub fn with_resource_tags<I, K, V>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        self.resource_tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// One tag sent in the request: `aws:RequestTag/<key>`. Does not set `aws:TagKeys` (UntagResource sends keys
    /// without tags), so set that with [`with_strings`](Self::with_strings).
    pub fn with_request_tag(
        mut self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Self {
        self.request_tags.push((key.into(), value.into()));
        self
    }

    /// All tags sent in the request (see [`with_request_tag`](Self::with_request_tag)).
    pub fn with_request_tags<I, K, V>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        self.request_tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    fn entry(&self, name: &str) -> Option<&CtxValue<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| k.len() == name.len() && k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

fn find_tag<'v>(tags: &'v [(Cow<'_, str>, Cow<'_, str>)], key: &str) -> Option<&'v str> {
    tags.iter().find(|(k, _)| eq_ci(k, key)).map(|(_, v)| &**v)
}

/// Everything the matchers need during one evaluation.
pub(crate) struct Env<'e> {
    pub principal: &'e PrincipalInfo,
    pub request: &'e RequestContext<'e>,
    pub resource_account: &'e str,
    /// The request resource split into its ARN parts, once.
    pub resource_parts: Option<[&'e str; 6]>,
}

impl<'e> Env<'e> {
    pub(crate) fn new(
        principal: &'e PrincipalInfo,
        request: &'e RequestContext<'e>,
        resource_account: &'e str,
    ) -> Self {
        Env {
            principal,
            request,
            resource_account,
            resource_parts: split_arn(&request.resource),
        }
    }

    /// Looks a condition key up. `None` when missing (or an empty list).
    pub(crate) fn lookup(&self, key: &Key) -> Option<Val<'e>> {
        let p = self.principal;
        let s = |v: &'e str| Some(Val::One(Scalar::Str(v)));
        match key.class {
            KeyClass::PrincipalArn => match p.kind {
                // For role sessions AWS reports the role, not the session (companion §8.6).
                PrincipalType::AssumedRole => s(p.role_arn.as_deref().unwrap_or(&p.arn)),
                PrincipalType::Service => None,
                _ => s(&p.arn),
            },
            KeyClass::PrincipalAccount => match p.kind {
                PrincipalType::Service => None,
                _ => s(&p.account),
            },
            KeyClass::PrincipalType => p.kind.as_context_value().and_then(s),
            KeyClass::UserId => match p.kind {
                PrincipalType::Service => None,
                _ => s(&p.user_id),
            },
            KeyClass::UserName => match p.kind {
                PrincipalType::User => p.user_name.as_deref().and_then(s),
                _ => None,
            },
            KeyClass::PrincipalTag(at) => {
                let tag = key.suffix(at);
                p.tags
                    .iter()
                    .find(|(k, _)| eq_ci(k, tag))
                    .and_then(|(_, v)| s(v))
            }
            KeyClass::PrincipalIsAwsService => {
                Some(Val::One(Scalar::Bool(p.kind == PrincipalType::Service)))
            }
            KeyClass::PrincipalServiceName => match p.kind {
                PrincipalType::Service => s(&p.arn),
                _ => None,
            },
            KeyClass::CurrentTime => Some(Val::One(Scalar::Time(self.request.time))),
            KeyClass::EpochTime => Some(Val::One(Scalar::Num(NumberValue::Int(
                self.request.time.as_second(),
            )))),
            KeyClass::ResourceAccount => self.entry(&key.name).or_else(|| {
                (!self.resource_account.is_empty())
                    .then_some(Val::One(Scalar::Str(self.resource_account)))
            }),
            KeyClass::ResourceTag(at) => find_tag(&self.request.resource_tags, key.suffix(at))
                .and_then(s)
                .or_else(|| self.entry(&key.name)),
            KeyClass::RequestTag(at) => find_tag(&self.request.request_tags, key.suffix(at))
                .and_then(s)
                .or_else(|| self.entry(&key.name)),
            KeyClass::Other => self.entry(&key.name),
        }
    }

    fn entry(&self, name: &str) -> Option<Val<'e>> {
        Some(match self.request.entry(name)? {
            CtxValue::Str(v) => Val::One(Scalar::Str(v)),
            CtxValue::Strs(list) if list.is_empty() => return None,
            CtxValue::Strs(list) => Val::Many(list),
            CtxValue::Bool(b) => Val::One(Scalar::Bool(*b)),
            CtxValue::Num(n) => Val::One(Scalar::Num(*n)),
            CtxValue::Time(t) => Val::One(Scalar::Time(*t)),
            CtxValue::Ip(ip) => Val::One(Scalar::Ip(*ip)),
            CtxValue::Bytes(b) => Val::One(Scalar::Bytes(b)),
        })
    }

    /// The value of a policy variable, rendered as text. Multi-valued keys with other than one value, and binary
    /// keys, have no text form and count as missing.
    pub(crate) fn variable(&self, key: &Key) -> Option<Cow<'e, str>> {
        match self.lookup(key)? {
            Val::Many([one]) => Some(Cow::Borrowed(&**one)),
            Val::Many(_) => None,
            Val::One(scalar) => match scalar {
                Scalar::Str(v) => Some(Cow::Borrowed(v)),
                Scalar::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
                Scalar::Num(NumberValue::Int(n)) => Some(Cow::Owned(n.to_string())),
                Scalar::Num(NumberValue::Float(n)) => Some(Cow::Owned(n.to_string())),
                Scalar::Time(t) => Some(Cow::Owned(t.to_string())),
                Scalar::Ip(ip) => Some(Cow::Owned(ip.to_string())),
                Scalar::Bytes(_) => None,
            },
        }
    }
}
