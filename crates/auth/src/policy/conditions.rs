//! Condition operators (companion §8.4, §8.6), compiled at parse time.

use std::net::IpAddr;

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::Value;

use super::{
    context::{Env, Key, NumberValue, Scalar},
    matchers::{ArnPattern, Glob, Syntax, eq_ci},
};

/// `ForAnyValue:` / `ForAllValues:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    None,
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => ord == Equal,
            Cmp::Lt => ord == Less,
            Cmp::Le => ord != Greater,
            Cmp::Gt => ord == Greater,
            Cmp::Ge => ord != Less,
        }
    }
}

/// A CIDR block, pre-parsed; IPv4 kept as IPv4 so that it never matches an IPv6 address (and vice versa).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    v6: bool,
    net: u128,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let (v6, bits, max) = match addr {
            IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32u8),
            IpAddr::V6(a) => (true, u128::from(a), 128u8),
        };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().ok()?
            }
            Some(_) => return None,
        };
        if prefix > max {
            return None;
        }
        // Host bits set in the policy (`10.0.0.1/8`) are ignored, as a network address is meant.
        let cidr = Cidr { v6, net: 0, prefix };
        Some(Cidr {
            net: bits & cidr.mask(),
            ..cidr
        })
    }

    fn mask(&self) -> u128 {
        let width = if self.v6 { 128 } else { 32 };
        if self.prefix == 0 {
            0
        } else {
            let all = if self.v6 {
                u128::MAX
            } else {
                u128::from(u32::MAX)
            };
            (all >> (width - u32::from(self.prefix))) << (width - u32::from(self.prefix))
        }
    }

    pub(crate) fn prefix(&self) -> u8 {
        self.prefix
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (v6, bits) = match ip {
            IpAddr::V4(a) => (false, u128::from(u32::from(a))),
            // An IPv4-mapped IPv6 address is the IPv4 client seen through a dual-stack socket.
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => (false, u128::from(u32::from(v4))),
                None => (true, u128::from(a)),
            },
        };
        v6 == self.v6 && bits & self.mask() == self.net
    }
}

/// A number from a policy: integers compared exactly, anything else as `f64`.
pub(crate) fn cmp_num(a: NumberValue, b: NumberValue) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (NumberValue::Int(x), NumberValue::Int(y)) => Some(x.cmp(&y)),
        (x, y) => as_f64(x).partial_cmp(&as_f64(y)),
    }
}

fn as_f64(n: NumberValue) -> f64 {
    match n {
        NumberValue::Int(i) => i as f64,
        NumberValue::Float(f) => f,
    }
}

pub(crate) fn parse_number(s: &str) -> Option<NumberValue> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(NumberValue::Int(i));
    }
    // `f64::from_str` also takes "inf"/"NaN", which are not numbers in a policy.
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(NumberValue::Float)
}

/// ISO 8601 (with offset, `Z`, without offset = UTC, or a bare date) or epoch seconds.
pub(crate) fn parse_date(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(n) = parse_number(s) {
        return match n {
            NumberValue::Int(i) => Timestamp::from_second(i).ok(),
            NumberValue::Float(f) => Timestamp::from_millisecond((f * 1000.0) as i64).ok(),
        };
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    None
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Compiled values of one condition, by operator family. `None` entries are values that can never match (a
/// non-numeric value under a numeric operator, say): AWS accepts such policies and the condition is simply false.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// `StringEquals` (`ci` = IgnoreCase) and `StringLike`: literal templates or globs.
    Str {
        globs: Box<[Glob]>,
        ci: bool,
    },
    Num {
        cmp: Cmp,
        values: Box<[Option<NumberValue>]>,
    },
    Date {
        cmp: Cmp,
        values: Box<[Option<Timestamp>]>,
    },
    Bool(Box<[Option<bool>]>),
    Binary(Box<[Option<Box<[u8]>>]>),
    Ip(Box<[Option<Cidr>]>),
    Arn(Box<[ArnPattern]>),
    /// `Null`: `true` = the key must be absent.
    Null(Box<[Option<bool>]>),
}

/// One `Operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    /// The operator as written, for the public-access check.
    pub base: BaseOp,
    pub negated: bool,
    pub set: SetOp,
    pub if_exists: bool,
    pub key: Key,
    pub values: Values,
}

/// The operator without prefix, `IfExists` or negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BaseOp {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
    Null,
}

/// Parses an operator name such as `ForAllValues:StringNotLikeIfExists`.
///
/// Operator names are matched case-insensitively: AWS documents them in one spelling and does not say, and
/// accepting a spelling AWS would refuse is the safer mistake for existing policies. (Guess.)
pub(crate) fn parse_operator(name: &str) -> Option<(BaseOp, bool, SetOp, bool)> {
    let lower = name.to_ascii_lowercase();
    let (set, rest) = if let Some(r) = lower.strip_prefix("foranyvalue:") {
        (SetOp::AnyValue, r)
    } else if let Some(r) = lower.strip_prefix("forallvalues:") {
        (SetOp::AllValues, r)
    } else {
        (SetOp::None, lower.as_str())
    };
    let (rest, if_exists) = match rest.strip_suffix("ifexists") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    use BaseOp::*;
    let (base, negated) = match rest {
        "stringequals" => (StringEquals, false),
        "stringnotequals" => (StringEquals, true),
        "stringequalsignorecase" => (StringEqualsIgnoreCase, false),
        "stringnotequalsignorecase" => (StringEqualsIgnoreCase, true),
        "stringlike" => (StringLike, false),
        "stringnotlike" => (StringLike, true),
        "numericequals" => (Numeric(Cmp::Eq), false),
        "numericnotequals" => (Numeric(Cmp::Eq), true),
        "numericlessthan" => (Numeric(Cmp::Lt), false),
        "numericlessthanequals" => (Numeric(Cmp::Le), false),
        "numericgreaterthan" => (Numeric(Cmp::Gt), false),
        "numericgreaterthanequals" => (Numeric(Cmp::Ge), false),
        "dateequals" => (Date(Cmp::Eq), false),
        "datenotequals" => (Date(Cmp::Eq), true),
        "datelessthan" => (Date(Cmp::Lt), false),
        "datelessthanequals" => (Date(Cmp::Le), false),
        "dategreaterthan" => (Date(Cmp::Gt), false),
        "dategreaterthanequals" => (Date(Cmp::Ge), false),
        "bool" => (Bool, false),
        "binaryequals" => (BinaryEquals, false),
        "ipaddress" => (IpAddress, false),
        "notipaddress" => (IpAddress, true),
        "arnequals" => (ArnEquals, false),
        "arnnotequals" => (ArnEquals, true),
        "arnlike" => (ArnLike, false),
        "arnnotlike" => (ArnLike, true),
        "null" if !if_exists => (Null, false),
        _ => return None,
    };
    Some((base, negated, set, if_exists))
}

/// A condition value as written: JSON strings, booleans and numbers all have a text form.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Condition {
    /// Compiles one key's values. `variables`: the policy is version 2012-10-17.
    pub(crate) fn compile(
        base: BaseOp,
        negated: bool,
        set: SetOp,
        if_exists: bool,
        key: &str,
        raw: &[String],
        variables: bool,
    ) -> Condition {
        let syntax = |wildcards| Syntax {
            wildcards,
            variables,
        };
        let values = match base {
            BaseOp::StringEquals => Values::Str {
                globs: raw
                    .iter()
                    .map(|v| Glob::compile(v, syntax(false), false))
                    .collect(),
                ci: false,
            },
            BaseOp::StringEqualsIgnoreCase => Values::Str {
                globs: raw
                    .iter()
                    .map(|v| Glob::compile(v, syntax(false), true))
                    .collect(),
                ci: true,
            },
            BaseOp::StringLike => Values::Str {
                globs: raw
                    .iter()
                    .map(|v| Glob::compile(v, syntax(true), false))
                    .collect(),
                ci: false,
            },
            BaseOp::Numeric(cmp) => Values::Num {
                cmp,
                values: raw.iter().map(|v| parse_number(v)).collect(),
            },
            BaseOp::Date(cmp) => Values::Date {
                cmp,
                values: raw.iter().map(|v| parse_date(v)).collect(),
            },
            BaseOp::Bool => Values::Bool(raw.iter().map(|v| parse_bool(v.trim())).collect()),
            BaseOp::BinaryEquals => Values::Binary(
                raw.iter()
                    .map(|v| {
                        base64::engine::general_purpose::STANDARD
                            .decode(v.trim())
                            .ok()
                            .map(Vec::into_boxed_slice)
                    })
                    .collect(),
            ),
            BaseOp::IpAddress => Values::Ip(raw.iter().map(|v| Cidr::parse(v)).collect()),
            BaseOp::ArnEquals | BaseOp::ArnLike => Values::Arn(
                raw.iter()
                    .map(|v| ArnPattern::compile(v, variables))
                    .collect(),
            ),
            BaseOp::Null => Values::Null(raw.iter().map(|v| parse_bool(v.trim())).collect()),
        };
        Condition {
            base,
            negated,
            set,
            if_exists,
            key: Key::new(key),
            values,
        }
    }

    /// Whether the condition holds for this request (companion §8.4).
    pub(crate) fn holds(&self, env: &Env<'_>) -> bool {
        let value = env.lookup(&self.key);
        if let Values::Null(expect) = &self.values {
            let absent = value.is_none();
            return expect
                .iter()
                .flatten()
                .any(|&want_absent| want_absent == absent);
        }
        let Some(value) = value else {
            if self.if_exists {
                return true;
            }
            return match self.set {
                SetOp::AnyValue => false,
                SetOp::AllValues => true,
                SetOp::None => self.negated,
            };
        };
        match self.set {
            // A multi-valued request key under a plain operator is read as ForAnyValue (companion §8.4).
            SetOp::None | SetOp::AnyValue => value.for_each_any(|s| self.one(s, env)),
            SetOp::AllValues => value.for_each_all(|s| self.one(s, env)),
        }
    }

    /// The condition for one request value: a positive operator needs some policy value to match it, a negated one
    /// needs none to. A request value the operator cannot compare (text under a numeric operator) fails both.
    fn one(&self, s: Scalar<'_>, env: &Env<'_>) -> bool {
        match self.matches_any(s, env) {
            Some(m) => m != self.negated,
            None => false,
        }
    }

    fn matches_any(&self, s: Scalar<'_>, env: &Env<'_>) -> Option<bool> {
        match &self.values {
            Values::Str { globs, ci } => {
                let text: std::borrow::Cow<'_, str> = match s {
                    Scalar::Str(v) => v.into(),
                    Scalar::Bool(b) => (if b { "true" } else { "false" }).into(),
                    Scalar::Num(NumberValue::Int(n)) => n.to_string().into(),
                    Scalar::Num(NumberValue::Float(n)) => n.to_string().into(),
                    Scalar::Time(t) => t.to_string().into(),
                    Scalar::Ip(ip) => ip.to_string().into(),
                    Scalar::Bytes(_) => return None,
                };
                Some(globs.iter().any(|g| match (g, ci) {
                    (Glob::Exact(p), true) => eq_ci(p, &text),
                    _ => g.matches(&text, *ci, env),
                }))
            }
            Values::Num { cmp, values } => {
                let n = match s {
                    Scalar::Num(n) => n,
                    Scalar::Str(v) => parse_number(v)?,
                    _ => return None,
                };
                Some(
                    values
                        .iter()
                        .flatten()
                        .any(|&p| cmp_num(n, p).is_some_and(|o| cmp.test(o))),
                )
            }
            Values::Date { cmp, values } => {
                let t = match s {
                    Scalar::Time(t) => t,
                    Scalar::Num(NumberValue::Int(n)) => Timestamp::from_second(n).ok()?,
                    Scalar::Num(NumberValue::Float(f)) => {
                        Timestamp::from_millisecond((f * 1000.0) as i64).ok()?
                    }
                    Scalar::Str(v) => parse_date(v)?,
                    _ => return None,
                };
                Some(values.iter().flatten().any(|p| cmp.test(t.cmp(p))))
            }
            Values::Bool(values) => {
                let b = match s {
                    Scalar::Bool(b) => b,
                    Scalar::Str(v) => parse_bool(v.trim())?,
                    _ => return None,
                };
                Some(values.iter().flatten().any(|&p| p == b))
            }
            Values::Binary(values) => {
                let decoded;
                let bytes: &[u8] = match s {
                    Scalar::Bytes(b) => b,
                    // A binary key supplied as text is its base64 form, like the policy value.
                    Scalar::Str(v) => {
                        decoded = base64::engine::general_purpose::STANDARD
                            .decode(v.trim())
                            .ok()?;
                        &decoded
                    }
                    _ => return None,
                };
                Some(values.iter().flatten().any(|p| **p == *bytes))
            }
            Values::Ip(values) => {
                let ip = match s {
                    Scalar::Ip(ip) => ip,
                    Scalar::Str(v) => v.trim().parse().ok()?,
                    _ => return None,
                };
                Some(values.iter().flatten().any(|c| c.contains(ip)))
            }
            Values::Arn(patterns) => {
                let Scalar::Str(v) = s else { return None };
                Some(patterns.iter().any(|p| p.matches_str(v, env)))
            }
            Values::Null(_) => None,
        }
    }
}
