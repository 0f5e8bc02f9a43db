//! Fuzz-style property tests: no input makes parsing, validation or evaluation panic.

use coffer_auth::policy::{
    Policy, PolicyKind, PolicySet, PrincipalInfo, PrincipalType, RequestContext, evaluate,
    validate_resource_policy,
};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

const KINDS: [PolicyKind; 3] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
];

const KEYS: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "CanonicalUser",
    "StringEquals",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "ForAnyValue:StringLike",
    "ForAllValues:StringNotEquals",
    "NumericLessThanIfExists",
    "DateGreaterThan",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "ArnNotEqualsIfExists",
    "Null",
    "aws:username",
    "aws:SourceIp",
    "aws:TagKeys",
    "aws:CurrentTime",
    "aws:PrincipalTag/team",
    "aws:ResourceTag/x",
    "secretsmanager:Name",
    "aws:EpochTime",
    "x",
];

const STRINGS: &[&str] = &[
    "2012-10-17",
    "2008-10-17",
    "Allow",
    "Deny",
    "*",
    "?",
    "secretsmanager:*",
    "secretsmanager:Get?ecret*",
    "sts:AssumeRole",
    "arn:aws:secretsmanager:*:*:secret:${aws:username}/*",
    "arn:aws:iam::111122223333:root",
    "111122223333",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/R/s",
    "lambda.amazonaws.com",
    "10.0.0.0/8",
    "::/0",
    "2001:db8::/129",
    "2025-01-01T00:00:00Z",
    "1700000000",
    "true",
    "FALSE",
    "aGVsbG8=",
    "${aws:PrincipalTag/team, 'x'}",
    "${*}${?}${$}",
    "${",
    "${}",
    "${aws:username",
    "a*b?c**",
    "",
    "arn:::::",
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:a:b:c",
    "ÉTÉ",
    "1e400",
    "-0",
    "NaN",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,24}".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => ".{0,12}"]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A policy-shaped document: the right skeleton with arbitrary values inside, so parsing gets deep.
fn policy_like() -> impl Strategy<Value = Value> {
    let statement = prop::collection::vec((key(), json_value()), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()));
    (
        prop::option::of(prop::sample::select(
            &["2012-10-17", "2008-10-17", "2012-10-18"][..],
        )),
        prop::collection::vec(statement, 0..4),
        any::<bool>(),
    )
        .prop_map(|(version, statements, as_list)| {
            let mut top = Map::new();
            if let Some(v) = version {
                top.insert("Version".into(), Value::String(v.into()));
            }
            let st = if as_list || statements.is_empty() {
                Value::Array(statements)
            } else {
                statements.into_iter().next().unwrap_or(Value::Null)
            };
            top.insert("Statement".into(), st);
            Value::Object(top)
        })
}

fn exercise(text: &str) {
    let _ = validate_resource_policy(text);
    let now: Timestamp = "2025-06-15T12:00:00Z".parse().expect("time");
    let principal = PrincipalInfo {
        arn: "arn:aws:iam::111122223333:user/alice".to_owned(),
        account: "111122223333".to_owned(),
        kind: PrincipalType::User,
        role_arn: None,
        user_name: Some("alice".to_owned()),
        user_id: "AIDAEXAMPLE".to_owned(),
        tags: vec![("team".to_owned(), "blue".to_owned())],
    };
    let ctx = RequestContext::new(
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:alice/x",
        now,
    )
    .with_source_ip([10, 0, 0, 1].into())
    .with_strings("aws:TagKeys", ["team", "env"])
    .with_string("secretsmanager:Name", "alice/x")
    .with_number("secretsmanager:RecoveryWindowInDays", 7)
    .with_binary("x:bin", &b"hello"[..])
    .with_resource_tag("x", "y");
    for kind in KINDS {
        if let Ok(p) = Policy::parse(text, kind) {
            let _ = p.is_public();
            let _ = p.statement_count();
            let (identity, resource) = match kind {
                PolicyKind::Identity => (vec![&p], None),
                _ => (vec![], Some(&p)),
            };
            let set = PolicySet {
                identity: &identity,
                boundary: (kind == PolicyKind::Identity).then_some(&p),
                session: None,
                resource,
                resource_account: "111122223333",
                resource_authoritative: false,
            };
            let _ = evaluate(&principal, &ctx, &set);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        exercise(&v.to_string());
    }

    #[test]
    fn policy_shaped_json_never_panics(v in policy_like()) {
        exercise(&v.to_string());
    }
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        Policy::parse(&deep, PolicyKind::Resource)
            .expect_err("deep")
            .message,
        "This policy contains invalid Json"
    );
    let deep_obj = format!(
        r#"{{"Statement":{}1{}}}"#,
        r#"{"a":"#.repeat(50_000),
        "}".repeat(50_000)
    );
    assert!(Policy::parse(&deep_obj, PolicyKind::Identity).is_err());
    let _ = validate_resource_policy(&deep_obj);
}

#[test]
fn pathological_globs_are_fast() {
    // Many stars against a long non-matching value: the single-backtrack matcher stays polynomial.
    let pattern = "a*".repeat(40) + "b";
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringLike":{{"secretsmanager:Name":"{pattern}"}}}}}}}}"#
    );
    let p = Policy::parse(&text, PolicyKind::Identity).expect("parses");
    let value = "a".repeat(5000);
    let now: Timestamp = "2025-06-15T12:00:00Z".parse().expect("time");
    let ctx = RequestContext::new("secretsmanager:GetSecretValue", "*", now)
        .with_string("secretsmanager:Name", value.as_str());
    let principal = PrincipalInfo {
        arn: "arn:aws:iam::111122223333:user/alice".to_owned(),
        account: "111122223333".to_owned(),
        kind: PrincipalType::User,
        role_arn: None,
        user_name: Some("alice".to_owned()),
        user_id: "AIDAEXAMPLE".to_owned(),
        tags: vec![],
    };
    let started = std::time::Instant::now();
    let set = PolicySet {
        identity: &[&p],
        boundary: None,
        session: None,
        resource: None,
        resource_account: "111122223333",
        resource_authoritative: false,
    };
    assert!(!evaluate(&principal, &ctx, &set).is_allow());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
