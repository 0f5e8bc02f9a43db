//! Property tests of the evaluator: denies only ever take away, and so does removing an allow.

use coffer_auth::policy::{
    Decision, Policy, PolicyKind, PolicySet, PrincipalInfo, PrincipalType, RequestContext, evaluate,
};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf";

const ACTIONS: &[&str] = &[
    "*",
    "secretsmanager:*",
    "secretsmanager:Get*",
    "secretsmanager:GetSecretValue",
    "secretsmanager:describe*",
    "secretsmanager:?utResourcePolicy",
    "kms:*",
];
const RESOURCES: &[&str] = &[
    "*",
    SECRET,
    "arn:aws:secretsmanager:*:*:secret:prod/*",
    "arn:aws:secretsmanager:*:*:secret:${aws:username}/*",
    "arn:aws:secretsmanager:*:444455556666:secret:*",
];
const PRINCIPALS: &[&str] = &[
    r#""*""#,
    r#"{"AWS":"111122223333"}"#,
    r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#,
    r#"{"AWS":"arn:aws:iam::444455556666:root"}"#,
    r#"{"AWS":"arn:aws:iam::111122223333:role/AppRole"}"#,
    r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/AppRole/s1"}"#,
];
const CONDITIONS: &[&str] = &[
    r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
    r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
    r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#,
    r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#,
    r#"{"ForAnyValue:StringLike":{"aws:TagKeys":"e*"}}"#,
    r#"{"StringNotEqualsIfExists":{"aws:ResourceTag/team":"red"}}"#,
    r#"{"Null":{"aws:ResourceTag/team":"true"}}"#,
    r#"{"DateLessThan":{"aws:CurrentTime":"2025-01-01T00:00:00Z"}}"#,
];

#[derive(Debug, Clone)]
struct Stmt {
    deny: bool,
    not_action: bool,
    action: usize,
    not_resource: bool,
    resource: usize,
    principal: usize,
    not_principal: bool,
    condition: Option<usize>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        0..ACTIONS.len(),
        prop::bool::weighted(0.15),
        0..RESOURCES.len(),
        0..PRINCIPALS.len(),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.4, 0..CONDITIONS.len()),
    )
        .prop_map(
            |(
                deny,
                not_action,
                action,
                not_resource,
                resource,
                principal,
                not_principal,
                condition,
            )| Stmt {
                deny,
                not_action,
                action,
                not_resource,
                resource,
                principal,
                not_principal,
                condition,
            },
        )
}

fn stmt_json(s: &Stmt, with_principal: bool) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(
        "Effect".into(),
        json!(if s.deny { "Deny" } else { "Allow" }),
    );
    m.insert(
        if s.not_action { "NotAction" } else { "Action" }.into(),
        json!(ACTIONS[s.action]),
    );
    m.insert(
        if s.not_resource {
            "NotResource"
        } else {
            "Resource"
        }
        .into(),
        json!(RESOURCES[s.resource]),
    );
    if with_principal {
        let p: Value = serde_json::from_str(PRINCIPALS[s.principal]).expect("principal");
        // NotPrincipal is only meaningful (and only tested) with Deny.
        let key = if s.not_principal && s.deny {
            "NotPrincipal"
        } else {
            "Principal"
        };
        m.insert(key.into(), p);
    }
    if let Some(c) = s.condition {
        m.insert(
            "Condition".into(),
            serde_json::from_str(CONDITIONS[c]).expect("condition"),
        );
    }
    Value::Object(m)
}

/// A policy; the first statement is a never-matching allow so that removing statements never empties it.
fn policy(stmts: &[Stmt], kind: PolicyKind) -> Policy {
    let with_principal = kind != PolicyKind::Identity;
    let mut list = vec![if with_principal {
        json!({"Effect":"Allow","Principal":"*","Action":"coffer:Nothing","Resource":"*"})
    } else {
        json!({"Effect":"Allow","Action":"coffer:Nothing","Resource":"*"})
    }];
    list.extend(stmts.iter().map(|s| stmt_json(s, with_principal)));
    let doc = json!({"Version":"2012-10-17","Statement":list});
    Policy::parse(&doc.to_string(), kind).expect("generated policy parses")
}

#[derive(Debug, Clone)]
struct World {
    identity: Vec<Vec<Stmt>>,
    boundary: Option<Vec<Stmt>>,
    session: Option<Vec<Stmt>>,
    resource: Option<Vec<Stmt>>,
    who: usize,
    action: usize,
    resource_arn: usize,
    tls: Option<bool>,
    ip: Option<bool>,
    team_tag: Option<bool>,
    tag_keys: Option<Vec<usize>>,
    /// The resource policy is a KMS key policy (authoritative).
    key_policy: bool,
}

fn world() -> impl Strategy<Value = World> {
    let stmts = || prop::collection::vec(stmt(), 1..4);
    (
        prop::collection::vec(stmts(), 0..3),
        prop::option::of(stmts()),
        prop::option::of(stmts()),
        prop::option::of(stmts()),
        0..5usize,
        0..4usize,
        0..3usize,
        (
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(prop::collection::vec(0..3usize, 0..3)),
        ),
        any::<bool>(),
    )
        .prop_map(
            |(
                identity,
                boundary,
                session,
                resource,
                who,
                action,
                resource_arn,
                (tls, ip, team_tag, tag_keys),
                key_policy,
            )| World {
                identity,
                boundary,
                session,
                resource,
                who,
                action,
                resource_arn,
                tls,
                ip,
                team_tag,
                tag_keys,
                key_policy,
            },
        )
}

fn principal(who: usize) -> PrincipalInfo {
    let (arn, account, kind, role) = match who {
        0 => (
            "arn:aws:iam::111122223333:user/alice",
            ACCT,
            PrincipalType::User,
            None,
        ),
        1 => (
            "arn:aws:sts::111122223333:assumed-role/AppRole/s1",
            ACCT,
            PrincipalType::AssumedRole,
            Some("arn:aws:iam::111122223333:role/AppRole"),
        ),
        2 => (
            "arn:aws:iam::111122223333:root",
            ACCT,
            PrincipalType::Root,
            None,
        ),
        3 => (
            "arn:aws:iam::444455556666:user/bob",
            OTHER,
            PrincipalType::User,
            None,
        ),
        _ => (
            "arn:aws:iam::444455556666:root",
            OTHER,
            PrincipalType::Root,
            None,
        ),
    };
    PrincipalInfo {
        arn: arn.to_owned(),
        account: account.to_owned(),
        kind,
        role_arn: role.map(str::to_owned),
        user_name: (kind == PrincipalType::User)
            .then(|| arn.rsplit('/').next().unwrap_or("").to_owned()),
        user_id: "AIDAEXAMPLE".to_owned(),
        tags: vec![("team".to_owned(), "blue".to_owned())],
    }
}

fn decide(w: &World) -> Decision {
    let identity: Vec<Policy> = w
        .identity
        .iter()
        .map(|s| policy(s, PolicyKind::Identity))
        .collect();
    let refs: Vec<&Policy> = identity.iter().collect();
    let boundary = w.boundary.as_ref().map(|s| policy(s, PolicyKind::Identity));
    let session = w.session.as_ref().map(|s| policy(s, PolicyKind::Identity));
    let resource = w.resource.as_ref().map(|s| policy(s, PolicyKind::Resource));
    let action = [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "kms:Decrypt",
        "secretsmanager:PutResourcePolicy",
    ][w.action];
    let arn = [
        SECRET,
        "arn:aws:secretsmanager:us-east-1:111122223333:secret:alice/x-123456",
        "*",
    ][w.resource_arn];
    let now: Timestamp = "2025-06-15T12:00:00Z".parse().expect("time");
    let mut ctx = RequestContext::new(action, arn, now);
    if let Some(tls) = w.tls {
        ctx = ctx.with_secure_transport(tls);
    }
    if let Some(inside) = w.ip {
        ctx = ctx.with_source_ip(if inside {
            [10, 1, 2, 3].into()
        } else {
            [192, 0, 2, 1].into()
        });
    }
    if let Some(blue) = w.team_tag {
        ctx = ctx.with_resource_tag("team", if blue { "blue" } else { "red" });
    }
    if let Some(keys) = &w.tag_keys {
        ctx = ctx.with_strings(
            "aws:TagKeys",
            keys.iter().map(|&k| ["env", "team", "cost"][k]),
        );
    }
    let set = PolicySet {
        identity: &refs,
        boundary: boundary.as_ref(),
        session: session.as_ref(),
        resource: resource.as_ref(),
        resource_account: ACCT,
        resource_authoritative: w.key_policy,
    };
    evaluate(&principal(w.who), &ctx, &set)
}

/// Where to add or remove a statement: 0.. identity policies, then boundary, session, resource.
fn slot(w: &mut World, which: usize) -> Option<&mut Vec<Stmt>> {
    let n = w.identity.len();
    match which {
        i if i < n => w.identity.get_mut(i),
        i if i == n => w.boundary.as_mut(),
        i if i == n + 1 => w.session.as_mut(),
        _ => w.resource.as_mut(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Adding a Deny statement to any policy never turns a Deny into an Allow.
    #[test]
    fn adding_a_deny_never_grants_more(mut w in world(), which in 0..8usize, extra in stmt()) {
        let before = decide(&w);
        let extra = Stmt { deny: true, ..extra };
        match slot(&mut w, which) {
            Some(list) => list.push(extra),
            // No such policy: add the deny as a new identity policy.
            None => w.identity.push(vec![extra]),
        }
        let after = decide(&w);
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow, "deny statement turned {:?} into Allow", before);
        }
    }

    /// Removing an Allow statement from any policy never turns a Deny into an Allow.
    #[test]
    fn removing_an_allow_never_grants_more(mut w in world(), which in 0..8usize, pick in any::<prop::sample::Index>()) {
        let before = decide(&w);
        if let Some(list) = slot(&mut w, which) {
            let allows: Vec<usize> = list.iter().enumerate().filter(|(_, s)| !s.deny).map(|(i, _)| i).collect();
            if !allows.is_empty() {
                list.remove(allows[pick.index(allows.len())]);
            }
        }
        let after = decide(&w);
        if before != Decision::Allow {
            prop_assert_ne!(after, Decision::Allow, "removing an allow turned {:?} into Allow", before);
        }
    }

    /// An explicit deny that matches everything always wins, whoever asks.
    #[test]
    fn universal_deny_always_denies(mut w in world()) {
        w.identity.push(vec![Stmt {
            deny: true, not_action: false, action: 0, not_resource: false, resource: 0, principal: 0,
            not_principal: false, condition: None,
        }]);
        let root = principal(w.who).kind == PrincipalType::Root;
        // Identity policies do not bind a root caller (companion §8.5 step 2).
        if !root {
            prop_assert!(matches!(decide(&w), Decision::Deny(_)));
        }
    }
}
