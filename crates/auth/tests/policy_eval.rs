//! Table-driven tests of the policy evaluator (companion-apis.md §8.3–§8.8): each case is a set of policies, a
//! caller, an action, a resource and context keys, and the expected decision including the deny reason.

use std::net::IpAddr;

use coffer_auth::policy::{
    Decision, DenyReason, Policy, PolicyKind, PolicySet, PrincipalInfo, PrincipalType,
    RequestContext, evaluate,
};
use jiff::Timestamp;

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";
const SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf";
const ALICE_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:alice/token-XyZ123";
const SHARED_SECRET: &str =
    "arn:aws:secretsmanager:us-east-1:111122223333:secret:shared/token-XyZ123";
const BLUE_SECRET: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:blue/x-XyZ123";
const OTHER_SECRET: &str = "arn:aws:secretsmanager:us-east-1:444455556666:secret:prod/db-AbCdEf";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/app/AppRole";
const GET: &str = "secretsmanager:GetSecretValue";
const NOW: &str = "2025-06-15T12:00:00Z";

use Decision::Allow;
use DenyReason::*;

fn deny(r: DenyReason) -> Decision {
    Decision::Deny(r)
}

#[derive(Clone, Copy, Debug)]
enum Who {
    Alice,
    Carol,
    Session,
    Root,
    OtherRoot,
    Bob,
    OtherSession,
    Service,
    StarTagged,
}

fn principal(who: Who) -> PrincipalInfo {
    let user =
        |acct: &str, path_name: &str, name: &str, id: &str, tags: &[(&str, &str)]| PrincipalInfo {
            arn: format!("arn:aws:iam::{acct}:user/{path_name}"),
            account: acct.to_owned(),
            kind: PrincipalType::User,
            role_arn: None,
            user_name: Some(name.to_owned()),
            user_id: id.to_owned(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
    match who {
        Who::Alice => user(
            ACCT,
            "alice",
            "alice",
            "AIDAALICEEXAMPLE00001",
            &[("team", "blue"), ("Dept", "eng")],
        ),
        Who::Carol => user(
            ACCT,
            "division/carol",
            "carol",
            "AIDACAROLEXAMPLE00002",
            &[],
        ),
        Who::StarTagged => user(
            ACCT,
            "dave",
            "dave",
            "AIDADAVEEXAMPLE000003",
            &[("team", "*")],
        ),
        Who::Bob => user(
            OTHER,
            "bob",
            "bob",
            "AIDABOBEXAMPLE0000004",
            &[("team", "blue")],
        ),
        Who::Session => PrincipalInfo {
            arn: "arn:aws:sts::111122223333:assumed-role/AppRole/sess1".to_owned(),
            account: ACCT.to_owned(),
            kind: PrincipalType::AssumedRole,
            role_arn: Some(ROLE_ARN.to_owned()),
            user_name: None,
            user_id: "AROAAPPROLEEXAMPLE001:sess1".to_owned(),
            tags: vec![("team".to_owned(), "red".to_owned())],
        },
        Who::OtherSession => PrincipalInfo {
            arn: "arn:aws:sts::444455556666:assumed-role/Reader/s".to_owned(),
            account: OTHER.to_owned(),
            kind: PrincipalType::AssumedRole,
            role_arn: Some("arn:aws:iam::444455556666:role/Reader".to_owned()),
            user_name: None,
            user_id: "AROAREADEREXAMPLE0001:s".to_owned(),
            tags: vec![],
        },
        Who::Root => PrincipalInfo {
            arn: format!("arn:aws:iam::{ACCT}:root"),
            account: ACCT.to_owned(),
            kind: PrincipalType::Root,
            role_arn: None,
            user_name: None,
            user_id: ACCT.to_owned(),
            tags: vec![],
        },
        Who::OtherRoot => PrincipalInfo {
            arn: format!("arn:aws:iam::{OTHER}:root"),
            account: OTHER.to_owned(),
            kind: PrincipalType::Root,
            role_arn: None,
            user_name: None,
            user_id: OTHER.to_owned(),
            tags: vec![],
        },
        Who::Service => PrincipalInfo {
            arn: "secretsmanager.amazonaws.com".to_owned(),
            account: ACCT.to_owned(),
            kind: PrincipalType::Service,
            role_arn: None,
            user_name: None,
            user_id: String::new(),
            tags: vec![],
        },
    }
}

/// A context value.
#[derive(Clone, Debug)]
enum V {
    S(&'static str),
    M(&'static [&'static str]),
    B(bool),
    N(i64),
    F(f64),
    Ip(&'static str),
    T(&'static str),
    Bin(&'static [u8]),
    /// A resource tag; the key is the tag key.
    RTag(&'static str),
    /// A request tag; the key is the tag key.
    QTag(&'static str),
}

#[derive(Clone, Debug)]
struct Case {
    name: String,
    who: Who,
    identity: Vec<String>,
    boundary: Option<String>,
    session: Option<String>,
    resource_policy: Option<String>,
    resource_kind: PolicyKind,
    resource_account: &'static str,
    resource_authoritative: bool,
    action: &'static str,
    resource: &'static str,
    ctx: Vec<(&'static str, V)>,
    expect: Decision,
}

fn case(name: impl Into<String>, expect: Decision) -> Case {
    Case {
        name: name.into(),
        who: Who::Alice,
        identity: vec![],
        boundary: None,
        session: None,
        resource_policy: None,
        resource_kind: PolicyKind::Resource,
        resource_account: ACCT,
        resource_authoritative: false,
        action: GET,
        resource: SECRET,
        ctx: vec![],
        expect,
    }
}

impl Case {
    fn who(mut self, w: Who) -> Self {
        self.who = w;
        self
    }
    fn id(mut self, p: impl Into<String>) -> Self {
        self.identity.push(p.into());
        self
    }
    fn boundary(mut self, p: impl Into<String>) -> Self {
        self.boundary = Some(p.into());
        self
    }
    fn session(mut self, p: impl Into<String>) -> Self {
        self.session = Some(p.into());
        self
    }
    fn res(mut self, p: impl Into<String>) -> Self {
        self.resource_policy = Some(p.into());
        self
    }
    fn trust(mut self, p: impl Into<String>) -> Self {
        self.resource_policy = Some(p.into());
        self.resource_kind = PolicyKind::Trust;
        self
    }
    /// A KMS key policy: authoritative (identity policies count only through an account grant).
    fn key_policy(mut self, p: impl Into<String>) -> Self {
        self.resource_policy = Some(p.into());
        self.resource_authoritative = true;
        self
    }
    fn owner(mut self, acct: &'static str) -> Self {
        self.resource_account = acct;
        self
    }
    fn action(mut self, a: &'static str) -> Self {
        self.action = a;
        self
    }
    fn on(mut self, r: &'static str) -> Self {
        self.resource = r;
        self
    }
    fn ctx(mut self, k: &'static str, v: V) -> Self {
        self.ctx.push((k, v));
        self
    }
}

/// An identity policy (2012-10-17) with one statement.
fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}}}"#
    )
}

fn deny_stmt(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"{action}","Resource":"{resource}"}}}}"#
    )
}

/// Identity policy allowing GetSecretValue on everything when `cond` (the inside of `Condition`) holds.
fn allow_if(cond: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*","Condition":{{{cond}}}}}}}"#
    )
}

/// A condition case: allowed iff the condition holds.
fn cond(name: &str, condition: &str, ctx: &[(&'static str, V)], holds: bool) -> Case {
    let mut c = case(
        format!("cond: {name}"),
        if holds { Allow } else { deny(NoIdentityAllow) },
    )
    .id(allow_if(condition));
    c.ctx = ctx.to_vec();
    c
}

/// A resource policy (2012-10-17) with one statement.
fn res_allow(principal: &str, action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"{action}","Resource":"*"}}}}"#
    )
}

fn res_deny(principal: &str, action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Principal":{principal},"Action":"{action}","Resource":"*"}}}}"#
    )
}

fn action_cases() -> Vec<Case> {
    vec![
        case("action exact", Allow).id(allow(GET, "*")),
        case("action case-insensitive in policy", Allow).id(allow("SecretsManager:getsecretvalue", "*")),
        case("action case-insensitive in request", Allow).id(allow(GET, "*")).action("SECRETSMANAGER:GETSECRETVALUE"),
        case("action service wildcard", Allow).id(allow("secretsmanager:*", "*")),
        case("action prefix wildcard", Allow).id(allow("secretsmanager:Get*", "*")),
        case("action infix wildcard", Allow).id(allow("secretsmanager:*Secret*", "*")),
        case("action ? wildcard", Allow).id(allow("secretsmanager:GetSecretValu?", "*")),
        case("action ? needs exactly one char", deny(NoIdentityAllow)).id(allow("secretsmanager:GetSecretValue?", "*")),
        case("action * everything", Allow).id(allow("*", "*")),
        case("action other service", deny(NoIdentityAllow)).id(allow("kms:*", "*")),
        case("action prefix mismatch", deny(NoIdentityAllow)).id(allow("secretsmanager:Put*", "*")),
        case("action list", Allow).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["kms:Decrypt","secretsmanager:GetSecretValue"],"Resource":"*"}}"#,
        ),
        case("NotAction applies to unlisted action", Allow).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"secretsmanager:Delete*","Resource":"*"}}"#,
        ),
        case("NotAction does not apply to listed action", deny(NoIdentityAllow)).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"secretsmanager:Get*","Resource":"*"}}"#,
        ),
        case("NotAction deny on other actions", deny(ExplicitIdentity)).id(allow("*", "*")).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"secretsmanager:Describe*","Resource":"*"}}"#,
        ),
        case("NotAction deny skips listed action", Allow)
            .id(allow("*", "*"))
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"secretsmanager:Get*","Resource":"*"}}"#),
        case("action wildcard spans colon", Allow).id(allow("secrets*:Get*", "*")),
        case("no action statement in any policy", deny(NoIdentityAllow)),
    ]
}

fn resource_cases() -> Vec<Case> {
    vec![
        case("resource exact", Allow).id(allow(GET, SECRET)),
        case("resource * matches all", Allow).id(allow(GET, "*")),
        case("resource case-sensitive", deny(NoIdentityAllow))
            .id(allow(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:Prod/db-AbCdEf")),
        case("resource * spans slash", Allow).id(allow(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/*")),
        case("resource * in region part", Allow).id(allow(GET, "arn:aws:secretsmanager:*:111122223333:secret:*")),
        case("resource * in account part", Allow).id(allow(GET, "arn:aws:secretsmanager:us-east-1:*:secret:*")),
        case("resource ? in suffix", Allow).id(allow(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-??????")),
        case("resource ? count wrong", deny(NoIdentityAllow))
            .id(allow(GET, "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-?????")),
        case("resource * spans colons inside resource part", Allow)
            .id(allow(GET, "arn:aws:secretsmanager:us-east-1:111122223333:*")),
        case("resource wildcard never spans parts", deny(NoIdentityAllow))
            .id(allow(GET, "arn:aws:secretsmanager:*:secret:prod/*")),
        case("resource wildcard in service part is literal", deny(NoIdentityAllow))
            .id(allow(GET, "arn:aws:secrets*:us-east-1:111122223333:secret:*")),
        case("resource account mismatch", deny(NoIdentityAllow)).id(allow(GET, "arn:aws:secretsmanager:us-east-1:444455556666:secret:*")),
        case("resource partition mismatch", deny(NoIdentityAllow)).id(allow(GET, "arn:aws-cn:secretsmanager:us-east-1:111122223333:secret:*")),
        case("resource region case-sensitive", deny(NoIdentityAllow)).id(allow(GET, "arn:aws:secretsmanager:US-EAST-1:111122223333:secret:*")),
        case("NotResource applies elsewhere", Allow).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotResource":"arn:aws:secretsmanager:*:*:secret:admin/*"}}"#,
        ),
        case("NotResource excludes listed", deny(NoIdentityAllow)).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotResource":"arn:aws:secretsmanager:*:*:secret:prod/*"}}"#,
        ),
        case("request resource * vs specific pattern", deny(NoIdentityAllow))
            .id(allow("secretsmanager:ListSecrets", "arn:aws:secretsmanager:*:*:secret:*"))
            .action("secretsmanager:ListSecrets")
            .on("*"),
        case("request resource * vs *", Allow)
            .id(allow("secretsmanager:ListSecrets", "*"))
            .action("secretsmanager:ListSecrets")
            .on("*"),
        case("resource list one matches", Allow).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":["arn:aws:secretsmanager:*:*:secret:dev/*","arn:aws:secretsmanager:*:*:secret:prod/*"]}}"#,
        ),
    ]
}

fn variable_cases() -> Vec<Case> {
    let per_user = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:username}/*"}}"#;
    vec![
        case("var username in resource", Allow).id(per_user).on(ALICE_SECRET),
        case("var username other secret", deny(NoIdentityAllow)).id(per_user).on(SECRET),
        case("var missing key matches nothing", deny(NoIdentityAllow)).id(per_user).who(Who::Session).on(ALICE_SECRET),
        case("var literal under 2008-10-17", deny(NoIdentityAllow))
            .id(r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:username}/*"}}"#)
            .on(ALICE_SECRET),
        case("var literal without Version", deny(NoIdentityAllow))
            .id(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:username}/*"}}"#)
            .on(ALICE_SECRET),
        case("var default used when missing", Allow)
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:username, 'shared'}/*"}}"#)
            .who(Who::Session)
            .on(SHARED_SECRET),
        case("var default ignored when present", deny(NoIdentityAllow))
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:username, 'shared'}/*"}}"#)
            .on(SHARED_SECRET),
        case("var PrincipalTag in resource", Allow)
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${aws:PrincipalTag/team}/*"}}"#)
            .on(BLUE_SECRET),
        case("var key name case-insensitive", Allow)
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:${AWS:UserName}/*"}}"#)
            .on(ALICE_SECRET),
        cond("var userid in StringEquals", r#""StringEquals":{"secretsmanager:Name":"${aws:userid}-x"}"#, &[("secretsmanager:Name", V::S("AIDAALICEEXAMPLE00001-x"))], true),
        cond("var in StringLike", r#""StringLike":{"secretsmanager:Name":"${aws:username}/*"}"#, &[("secretsmanager:Name", V::S("alice/app"))], true),
        cond("var in StringLike mismatch", r#""StringLike":{"secretsmanager:Name":"${aws:username}/*"}"#, &[("secretsmanager:Name", V::S("bob/app"))], false),
        cond("escape ${*} is literal star", r#""StringLike":{"secretsmanager:Name":"a${*}b"}"#, &[("secretsmanager:Name", V::S("a*b"))], true),
        cond("escape ${*} is not a wildcard", r#""StringLike":{"secretsmanager:Name":"a${*}b"}"#, &[("secretsmanager:Name", V::S("axyb"))], false),
        cond("escape ${?} is literal", r#""StringLike":{"secretsmanager:Name":"a${?}"}"#, &[("secretsmanager:Name", V::S("a?"))], true),
        cond("escape ${?} not a wildcard", r#""StringLike":{"secretsmanager:Name":"a${?}"}"#, &[("secretsmanager:Name", V::S("ab"))], false),
        cond("escape ${$}", r#""StringEquals":{"secretsmanager:Name":"cost${$}"}"#, &[("secretsmanager:Name", V::S("cost$"))], true),
        cond("var missing makes equality false", r#""StringEquals":{"secretsmanager:Name":"${aws:PrincipalTag/nosuch}"}"#, &[("secretsmanager:Name", V::S(""))], false),
        cond("var missing makes negated true", r#""StringNotEquals":{"secretsmanager:Name":"${aws:PrincipalTag/nosuch}"}"#, &[("secretsmanager:Name", V::S("x"))], true),
        cond("var default in condition", r#""StringEquals":{"secretsmanager:Name":"${aws:PrincipalTag/nosuch, 'none'}"}"#, &[("secretsmanager:Name", V::S("none"))], true),
        case("var value substituted literally, not as wildcard", deny(NoIdentityAllow))
            .who(Who::StarTagged)
            .id(allow_if(r#""StringLike":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}"#))
            .ctx("team", V::RTag("blue")),
        cond("var in ArnLike", r#""ArnLike":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:*:secret:${aws:username}/*"}"#, &[("secretsmanager:SecretId", V::S(ALICE_SECRET))], true),
    ]
}

fn string_cases() -> Vec<Case> {
    let n = "secretsmanager:Name";
    vec![
        cond(
            "StringEquals match",
            r#""StringEquals":{"secretsmanager:Name":"prod"}"#,
            &[(n, V::S("prod"))],
            true,
        ),
        cond(
            "StringEquals case-sensitive",
            r#""StringEquals":{"secretsmanager:Name":"prod"}"#,
            &[(n, V::S("Prod"))],
            false,
        ),
        cond(
            "StringEquals any of values",
            r#""StringEquals":{"secretsmanager:Name":["dev","prod"]}"#,
            &[(n, V::S("prod"))],
            true,
        ),
        cond(
            "StringEquals * is literal",
            r#""StringEquals":{"secretsmanager:Name":"pr*"}"#,
            &[(n, V::S("prod"))],
            false,
        ),
        cond(
            "StringEquals missing key",
            r#""StringEquals":{"secretsmanager:Name":"prod"}"#,
            &[],
            false,
        ),
        cond(
            "StringNotEquals different",
            r#""StringNotEquals":{"secretsmanager:Name":"prod"}"#,
            &[(n, V::S("dev"))],
            true,
        ),
        cond(
            "StringNotEquals same",
            r#""StringNotEquals":{"secretsmanager:Name":"prod"}"#,
            &[(n, V::S("prod"))],
            false,
        ),
        cond(
            "StringNotEquals must match none",
            r#""StringNotEquals":{"secretsmanager:Name":["dev","prod"]}"#,
            &[(n, V::S("dev"))],
            false,
        ),
        cond(
            "StringNotEquals missing key is true",
            r#""StringNotEquals":{"secretsmanager:Name":"prod"}"#,
            &[],
            true,
        ),
        cond(
            "StringEqualsIgnoreCase",
            r#""StringEqualsIgnoreCase":{"secretsmanager:Name":"PROD"}"#,
            &[(n, V::S("prod"))],
            true,
        ),
        cond(
            "StringEqualsIgnoreCase unicode",
            r#""StringEqualsIgnoreCase":{"secretsmanager:Name":"ÉTÉ"}"#,
            &[(n, V::S("été"))],
            true,
        ),
        cond(
            "StringNotEqualsIgnoreCase",
            r#""StringNotEqualsIgnoreCase":{"secretsmanager:Name":"PROD"}"#,
            &[(n, V::S("Prod"))],
            false,
        ),
        cond(
            "StringLike *",
            r#""StringLike":{"secretsmanager:Name":"prod/*"}"#,
            &[(n, V::S("prod/db/main"))],
            true,
        ),
        cond(
            "StringLike ?",
            r#""StringLike":{"secretsmanager:Name":"db-?"}"#,
            &[(n, V::S("db-1"))],
            true,
        ),
        cond(
            "StringLike case-sensitive",
            r#""StringLike":{"secretsmanager:Name":"prod/*"}"#,
            &[(n, V::S("PROD/x"))],
            false,
        ),
        cond(
            "StringLike * in middle",
            r#""StringLike":{"secretsmanager:Name":"a*c*e"}"#,
            &[(n, V::S("abcde"))],
            true,
        ),
        cond(
            "StringLike * needs backtracking",
            r#""StringLike":{"secretsmanager:Name":"*ab"}"#,
            &[(n, V::S("aab"))],
            true,
        ),
        cond(
            "StringNotLike none match",
            r#""StringNotLike":{"secretsmanager:Name":["prod/*","admin/*"]}"#,
            &[(n, V::S("dev/x"))],
            true,
        ),
        cond(
            "StringNotLike one matches",
            r#""StringNotLike":{"secretsmanager:Name":["prod/*","admin/*"]}"#,
            &[(n, V::S("admin/x"))],
            false,
        ),
        cond(
            "condition key case-insensitive",
            r#""StringEquals":{"SecretsManager:NAME":"prod"}"#,
            &[(n, V::S("prod"))],
            true,
        ),
        cond(
            "context key case-insensitive",
            r#""StringEquals":{"secretsmanager:name":"prod"}"#,
            &[("SECRETSMANAGER:Name", V::S("prod"))],
            true,
        ),
        cond(
            "username key",
            r#""StringEquals":{"aws:username":"alice"}"#,
            &[],
            true,
        ),
        cond(
            "PrincipalArn key",
            r#""StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}"#,
            &[],
            true,
        ),
        cond(
            "PrincipalType key",
            r#""StringEquals":{"aws:PrincipalType":"User"}"#,
            &[],
            true,
        ),
        cond(
            "PrincipalAccount key",
            r#""StringEquals":{"aws:PrincipalAccount":"111122223333"}"#,
            &[],
            true,
        ),
        cond(
            "PrincipalTag key, tag key case-insensitive",
            r#""StringEquals":{"aws:PrincipalTag/dept":"eng"}"#,
            &[],
            true,
        ),
        cond(
            "ResourceAccount defaults to owner",
            r#""StringEquals":{"aws:ResourceAccount":"111122223333"}"#,
            &[],
            true,
        ),
        cond(
            "secretsmanager:ResourceTag alias",
            r#""StringEquals":{"secretsmanager:ResourceTag/env":"prod"}"#,
            &[("env", V::RTag("prod"))],
            true,
        ),
        cond(
            "two operators AND, one fails",
            r#""StringEquals":{"secretsmanager:Name":"prod"},"Bool":{"aws:SecureTransport":"true"}"#,
            &[(n, V::S("prod")), ("aws:SecureTransport", V::B(false))],
            false,
        ),
        cond(
            "two keys in operator AND",
            r#""StringEquals":{"secretsmanager:Name":"prod","secretsmanager:Description":"d"}"#,
            &[(n, V::S("prod")), ("secretsmanager:Description", V::S("d"))],
            true,
        ),
        cond(
            "two keys in operator, one missing",
            r#""StringEquals":{"secretsmanager:Name":"prod","secretsmanager:Description":"d"}"#,
            &[(n, V::S("prod"))],
            false,
        ),
        cond(
            "string op against bool key",
            r#""StringEquals":{"aws:SecureTransport":"true"}"#,
            &[("aws:SecureTransport", V::B(true))],
            true,
        ),
    ]
}

fn numeric_date_bool_cases() -> Vec<Case> {
    let r = "secretsmanager:RecoveryWindowInDays";
    vec![
        cond(
            "NumericEquals",
            r#""NumericEquals":{"secretsmanager:RecoveryWindowInDays":"30"}"#,
            &[(r, V::N(30))],
            true,
        ),
        cond(
            "NumericEquals json number",
            r#""NumericEquals":{"secretsmanager:RecoveryWindowInDays":30}"#,
            &[(r, V::N(30))],
            true,
        ),
        cond(
            "NumericEquals decimal vs int",
            r#""NumericEquals":{"secretsmanager:RecoveryWindowInDays":"30.0"}"#,
            &[(r, V::N(30))],
            true,
        ),
        cond(
            "NumericNotEquals",
            r#""NumericNotEquals":{"secretsmanager:RecoveryWindowInDays":"30"}"#,
            &[(r, V::N(7))],
            true,
        ),
        cond(
            "NumericLessThan true",
            r#""NumericLessThan":{"secretsmanager:RecoveryWindowInDays":"10"}"#,
            &[(r, V::N(7))],
            true,
        ),
        cond(
            "NumericLessThan equal is false",
            r#""NumericLessThan":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::N(7))],
            false,
        ),
        cond(
            "NumericLessThanEquals",
            r#""NumericLessThanEquals":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::N(7))],
            true,
        ),
        cond(
            "NumericGreaterThan",
            r#""NumericGreaterThan":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::N(8))],
            true,
        ),
        cond(
            "NumericGreaterThanEquals false",
            r#""NumericGreaterThanEquals":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::N(6))],
            false,
        ),
        cond(
            "Numeric float request",
            r#""NumericLessThan":{"secretsmanager:RecoveryWindowInDays":"7.5"}"#,
            &[(r, V::F(7.25))],
            true,
        ),
        cond(
            "Numeric string request",
            r#""NumericEquals":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::S("7"))],
            true,
        ),
        cond(
            "Numeric non-numeric request is false",
            r#""NumericEquals":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::S("seven"))],
            false,
        ),
        cond(
            "Numeric non-numeric request false even negated",
            r#""NumericNotEquals":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[(r, V::S("seven"))],
            false,
        ),
        cond(
            "Numeric non-numeric policy value never matches",
            r#""NumericEquals":{"secretsmanager:RecoveryWindowInDays":"seven"}"#,
            &[(r, V::N(7))],
            false,
        ),
        cond(
            "Numeric missing key",
            r#""NumericLessThan":{"secretsmanager:RecoveryWindowInDays":"7"}"#,
            &[],
            false,
        ),
        cond(
            "DateLessThan CurrentTime",
            r#""DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}"#,
            &[],
            true,
        ),
        cond(
            "DateGreaterThan CurrentTime false",
            r#""DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}"#,
            &[],
            false,
        ),
        cond(
            "DateGreaterThan epoch value",
            r#""DateGreaterThan":{"aws:CurrentTime":"1700000000"}"#,
            &[],
            true,
        ),
        cond(
            "DateEquals exact",
            r#""DateEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}"#,
            &[],
            true,
        ),
        cond(
            "DateEquals with offset",
            r#""DateEquals":{"aws:CurrentTime":"2025-06-15T14:00:00+02:00"}"#,
            &[],
            true,
        ),
        cond(
            "DateNotEquals",
            r#""DateNotEquals":{"aws:CurrentTime":"2025-06-15T12:00:01Z"}"#,
            &[],
            true,
        ),
        cond(
            "DateLessThanEquals equal",
            r#""DateLessThanEquals":{"aws:CurrentTime":"2025-06-15T12:00:00Z"}"#,
            &[],
            true,
        ),
        cond(
            "DateGreaterThanEquals bare date",
            r#""DateGreaterThanEquals":{"aws:CurrentTime":"2025-06-15"}"#,
            &[],
            true,
        ),
        cond(
            "Date on EpochTime key",
            r#""DateLessThan":{"aws:EpochTime":"2025-06-16T00:00:00Z"}"#,
            &[],
            true,
        ),
        cond(
            "Numeric on EpochTime",
            r#""NumericGreaterThan":{"aws:EpochTime":1749988799}"#,
            &[],
            true,
        ),
        cond(
            "Date on TokenIssueTime",
            r#""DateGreaterThan":{"aws:TokenIssueTime":"2025-06-15T11:00:00Z"}"#,
            &[("aws:TokenIssueTime", V::T("2025-06-15T11:30:00Z"))],
            true,
        ),
        cond(
            "Date missing key",
            r#""DateGreaterThan":{"aws:TokenIssueTime":"2025-06-15T11:00:00Z"}"#,
            &[],
            false,
        ),
        cond(
            "Date invalid policy value never matches",
            r#""DateLessThan":{"aws:CurrentTime":"not-a-date"}"#,
            &[],
            false,
        ),
        cond(
            "Bool true",
            r#""Bool":{"aws:SecureTransport":"true"}"#,
            &[("aws:SecureTransport", V::B(true))],
            true,
        ),
        cond(
            "Bool false mismatch",
            r#""Bool":{"aws:SecureTransport":"true"}"#,
            &[("aws:SecureTransport", V::B(false))],
            false,
        ),
        cond(
            "Bool json boolean",
            r#""Bool":{"aws:SecureTransport":false}"#,
            &[("aws:SecureTransport", V::B(false))],
            true,
        ),
        cond(
            "Bool string context value",
            r#""Bool":{"secretsmanager:RotateImmediately":"false"}"#,
            &[("secretsmanager:RotateImmediately", V::S("false"))],
            true,
        ),
        cond(
            "Bool missing key",
            r#""Bool":{"aws:SecureTransport":"true"}"#,
            &[],
            false,
        ),
        cond(
            "Bool PrincipalIsAWSService",
            r#""Bool":{"aws:PrincipalIsAWSService":"false"}"#,
            &[],
            true,
        ),
        cond(
            "BinaryEquals match",
            r#""BinaryEquals":{"test:blob":"aGVsbG8="}"#,
            &[("test:blob", V::Bin(b"hello"))],
            true,
        ),
        cond(
            "BinaryEquals mismatch",
            r#""BinaryEquals":{"test:blob":"aGVsbG8="}"#,
            &[("test:blob", V::Bin(b"hellO"))],
            false,
        ),
        cond(
            "BinaryEquals base64 text context",
            r#""BinaryEquals":{"test:blob":"aGVsbG8="}"#,
            &[("test:blob", V::S("aGVsbG8="))],
            true,
        ),
    ]
}

fn ip_arn_null_cases() -> Vec<Case> {
    let ip = "aws:SourceIp";
    let sid = "secretsmanager:SecretId";
    vec![
        cond("IpAddress v4 inside", r#""IpAddress":{"aws:SourceIp":"203.0.113.0/24"}"#, &[(ip, V::Ip("203.0.113.77"))], true),
        cond("IpAddress v4 outside", r#""IpAddress":{"aws:SourceIp":"203.0.113.0/24"}"#, &[(ip, V::Ip("203.0.114.1"))], false),
        cond("IpAddress bare address", r#""IpAddress":{"aws:SourceIp":"203.0.113.5"}"#, &[(ip, V::Ip("203.0.113.5"))], true),
        cond("IpAddress /0", r#""IpAddress":{"aws:SourceIp":"0.0.0.0/0"}"#, &[(ip, V::Ip("8.8.8.8"))], true),
        cond("IpAddress list", r#""IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}"#, &[(ip, V::Ip("192.168.4.2"))], true),
        cond("IpAddress v6 inside", r#""IpAddress":{"aws:SourceIp":"2001:db8::/32"}"#, &[(ip, V::Ip("2001:db8:1::5"))], true),
        cond("IpAddress v6 outside", r#""IpAddress":{"aws:SourceIp":"2001:db8::/32"}"#, &[(ip, V::Ip("2001:db9::1"))], false),
        cond("IpAddress v4 cidr never matches v6", r#""IpAddress":{"aws:SourceIp":"0.0.0.0/0"}"#, &[(ip, V::Ip("2001:db8::1"))], false),
        cond("IpAddress v4-mapped v6 request", r#""IpAddress":{"aws:SourceIp":"203.0.113.0/24"}"#, &[(ip, V::Ip("::ffff:203.0.113.9"))], true),
        cond("IpAddress string context", r#""IpAddress":{"aws:SourceIp":"10.1.0.0/16"}"#, &[(ip, V::S("10.1.2.3"))], true),
        cond("NotIpAddress outside", r#""NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}"#, &[(ip, V::Ip("11.0.0.1"))], true),
        cond("NotIpAddress inside", r#""NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","11.0.0.0/8"]}"#, &[(ip, V::Ip("11.0.0.1"))], false),
        cond("NotIpAddress missing key", r#""NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}"#, &[], true),
        cond("IpAddress missing key", r#""IpAddress":{"aws:SourceIp":"10.0.0.0/8"}"#, &[], false),
        cond("ArnEquals exact", r#""ArnEquals":{"secretsmanager:SecretId":"arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"}"#, &[(sid, V::S(SECRET))], true),
        cond("ArnEquals allows wildcards", r#""ArnEquals":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:111122223333:secret:prod/*"}"#, &[(sid, V::S(SECRET))], true),
        cond("ArnLike part-wise", r#""ArnLike":{"secretsmanager:SecretId":"arn:aws:secretsmanager:us-*:*:secret:*"}"#, &[(sid, V::S(SECRET))], true),
        cond("ArnLike wildcard does not span parts", r#""ArnLike":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:secret:*"}"#, &[(sid, V::S(SECRET))], false),
        cond("ArnLike case-sensitive", r#""ArnLike":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:*:secret:PROD/*"}"#, &[(sid, V::S(SECRET))], false),
        cond("ArnLike non-ARN value", r#""ArnLike":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:*:secret:*"}"#, &[(sid, V::S("prod/db"))], false),
        cond("ArnNotEquals other", r#""ArnNotEquals":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:*:secret:admin/*"}"#, &[(sid, V::S(SECRET))], true),
        cond("ArnNotLike matching", r#""ArnNotLike":{"secretsmanager:SecretId":"arn:aws:secretsmanager:*:*:secret:prod/*"}"#, &[(sid, V::S(SECRET))], false),
        cond("ArnLike PrincipalArn: user is not the role pattern", r#""ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app/*"}"#, &[], false),
        case("ArnLike PrincipalArn role session", Allow)
            .who(Who::Session)
            .id(allow_if(r#""ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/app/*"}"#)),
        case("PrincipalType AssumedRole", Allow)
            .who(Who::Session)
            .id(allow_if(r#""StringEquals":{"aws:PrincipalType":"AssumedRole","aws:userid":"AROAAPPROLEEXAMPLE001:sess1"}"#)),
        case("username absent for sessions", Allow)
            .who(Who::Session)
            .id(allow_if(r#""Null":{"aws:username":"true"}"#)),
        cond("Null true key absent", r#""Null":{"aws:RequestTag/owner":"true"}"#, &[], true),
        cond("Null true key present", r#""Null":{"aws:RequestTag/owner":"true"}"#, &[("owner", V::QTag("me"))], false),
        cond("Null false key present", r#""Null":{"aws:RequestTag/owner":"false"}"#, &[("owner", V::QTag("me"))], true),
        cond("Null false key absent", r#""Null":{"aws:RequestTag/owner":"false"}"#, &[], false),
        cond("Null json bool", r#""Null":{"aws:RequestTag/owner":true}"#, &[], true),
        cond("Null empty list is absent", r#""Null":{"secretsmanager:AddReplicaRegions":"true"}"#, &[("secretsmanager:AddReplicaRegions", V::M(&[]))], true),
    ]
}

fn ifexists_set_cases() -> Vec<Case> {
    let n = "secretsmanager:Name";
    let k = "aws:TagKeys";
    vec![
        cond("IfExists missing is true", r#""StringEqualsIfExists":{"secretsmanager:Name":"prod"}"#, &[], true),
        cond("IfExists present match", r#""StringEqualsIfExists":{"secretsmanager:Name":"prod"}"#, &[(n, V::S("prod"))], true),
        cond("IfExists present mismatch", r#""StringEqualsIfExists":{"secretsmanager:Name":"prod"}"#, &[(n, V::S("dev"))], false),
        cond("StringLikeIfExists", r#""StringLikeIfExists":{"secretsmanager:Name":"p*"}"#, &[(n, V::S("dev"))], false),
        cond("NumericLessThanIfExists missing", r#""NumericLessThanIfExists":{"secretsmanager:RecoveryWindowInDays":"10"}"#, &[], true),
        cond("BoolIfExists missing", r#""BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}"#, &[], true),
        cond("BoolIfExists present false", r#""BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}"#, &[("aws:MultiFactorAuthPresent", V::B(false))], false),
        cond("IpAddressIfExists missing", r#""IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}"#, &[], true),
        cond("ArnLikeIfExists present", r#""ArnLikeIfExists":{"secretsmanager:RotationLambdaARN":"arn:aws:lambda:*:111122223333:function:*"}"#, &[("secretsmanager:RotationLambdaARN", V::S("arn:aws:lambda:us-east-1:111122223333:function:rot"))], true),
        cond("DateLessThanIfExists missing", r#""DateLessThanIfExists":{"aws:TokenIssueTime":"2020-01-01T00:00:00Z"}"#, &[], true),
        case("negated IfExists with Deny and missing key still denies", deny(ExplicitIdentity))
            .id(allow(GET, "*"))
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:RequestTag/env":"prod"}}}}"#),
        case("negated with Deny and missing key denies", deny(ExplicitIdentity))
            .id(allow(GET, "*"))
            .id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:RequestTag/env":"prod"}}}}"#),
        cond("ForAnyValue one matches", r#""ForAnyValue:StringEquals":{"aws:TagKeys":["env","owner"]}"#, &[(k, V::M(&["cost", "env"]))], true),
        cond("ForAnyValue none match", r#""ForAnyValue:StringEquals":{"aws:TagKeys":["env","owner"]}"#, &[(k, V::M(&["cost"]))], false),
        cond("ForAnyValue missing is false", r#""ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}"#, &[], false),
        cond("ForAnyValue empty is false", r#""ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}"#, &[(k, V::M(&[]))], false),
        cond("ForAllValues all match", r#""ForAllValues:StringEquals":{"aws:TagKeys":["env","owner"]}"#, &[(k, V::M(&["owner", "env"]))], true),
        cond("ForAllValues one outside", r#""ForAllValues:StringEquals":{"aws:TagKeys":["env","owner"]}"#, &[(k, V::M(&["env", "cost"]))], false),
        cond("ForAllValues missing is vacuously true", r#""ForAllValues:StringEquals":{"aws:TagKeys":["env"]}"#, &[], true),
        cond("ForAllValues empty is vacuously true", r#""ForAllValues:StringEquals":{"aws:TagKeys":["env"]}"#, &[(k, V::M(&[]))], true),
        cond("ForAllValues StringLike", r#""ForAllValues:StringLike":{"aws:TagKeys":["app-*"]}"#, &[(k, V::M(&["app-a", "app-b"]))], true),
        cond("ForAnyValue StringNotEquals: some value outside", r#""ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}"#, &[(k, V::M(&["env", "cost"]))], true),
        cond("ForAnyValue StringNotEquals: all inside", r#""ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}"#, &[(k, V::M(&["env"]))], false),
        cond("ForAllValues StringNotLike", r#""ForAllValues:StringNotLike":{"aws:TagKeys":["aws:*"]}"#, &[(k, V::M(&["env", "aws:x"]))], false),
        cond("ForAnyValue on single-valued key", r#""ForAnyValue:StringEquals":{"secretsmanager:Name":"prod"}"#, &[(n, V::S("prod"))], true),
        cond("plain operator on multi-valued key reads as ForAnyValue", r#""StringEquals":{"aws:TagKeys":"env"}"#, &[(k, V::M(&["cost", "env"]))], true),
        cond("ForAnyValue IfExists missing", r#""ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"env"}"#, &[], true),
        cond("ForAllValues StringEqualsIgnoreCase", r#""ForAllValues:StringEqualsIgnoreCase":{"secretsmanager:AddReplicaRegions":["us-west-2","eu-west-1"]}"#, &[("secretsmanager:AddReplicaRegions", V::M(&["US-WEST-2"]))], true),
        cond("operator name case-insensitive", r#""forallvalues:stringequals":{"aws:TagKeys":["env"]}"#, &[(k, V::M(&["env"]))], true),
    ]
}

fn evaluation_cases() -> Vec<Case> {
    let alice = r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#;
    let acct_root = r#"{"AWS":"arn:aws:iam::111122223333:root"}"#;
    let acct_id = r#"{"AWS":"111122223333"}"#;
    let session = r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/AppRole/sess1"}"#;
    let role = r#"{"AWS":"arn:aws:iam::111122223333:role/app/AppRole"}"#;
    let bob = r#"{"AWS":"arn:aws:iam::444455556666:user/bob"}"#;
    let other_root = r#"{"AWS":"arn:aws:iam::444455556666:root"}"#;
    let deny_get = deny_stmt(GET, "*");
    vec![
        // Deny precedence.
        case("identity deny beats identity allow", deny(ExplicitIdentity)).id(allow("*", "*")).id(deny_get.clone()),
        case("deny and allow in one policy", deny(ExplicitIdentity)).id(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"secretsmanager:Get*","Resource":"*"}]}"#,
        ),
        case("resource deny beats identity allow", deny(ExplicitResource)).id(allow("*", "*")).res(res_deny(r#""*""#, GET)),
        case("identity deny beats resource allow", deny(ExplicitIdentity)).id(deny_get.clone()).res(res_allow(alice, GET)),
        case("resource deny for other action irrelevant", Allow).id(allow("*", "*")).res(res_deny(r#""*""#, "secretsmanager:DeleteSecret")),
        case("deny with failing condition does not apply", Allow).id(allow("*", "*")).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#,
        ).ctx("aws:SecureTransport", V::B(true)),
        case("deny with true condition applies", deny(ExplicitIdentity)).id(allow("*", "*")).id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#,
        ).ctx("aws:SecureTransport", V::B(false)),
        case("implicit deny with no policies", deny(NoIdentityAllow)),
        case("allow in second identity policy", Allow).id(allow("kms:*", "*")).id(allow(GET, SECRET)),
        // Same account resource policies.
        case("same-account resource grant to user, no identity policy", Allow).res(res_allow(alice, GET)),
        case("same-account resource grant to other user only", deny(NoIdentityAllow))
            .res(res_allow(r#"{"AWS":"arn:aws:iam::111122223333:user/carol"}"#, GET)),
        case("same-account resource grant to account root delegates only", deny(NoIdentityAllow)).res(res_allow(acct_root, GET)),
        case("same-account resource grant to account id delegates only", deny(NoIdentityAllow)).res(res_allow(acct_id, GET)),
        case("same-account account grant plus identity allow", Allow).id(allow(GET, "*")).res(res_allow(acct_root, GET)),
        case("same-account identity allow without resource policy", Allow).id(allow(GET, "*")),
        case("same-account resource grant to *", Allow).res(res_allow(r#""*""#, GET)),
        case("same-account resource grant to AWS *", Allow).res(res_allow(r#"{"AWS":"*"}"#, GET)),
        case("same-account resource grant, other action", deny(NoIdentityAllow)).res(res_allow(alice, "secretsmanager:DescribeSecret")),
        case("resource grant to user list", Allow).res(res_allow(
            r#"{"AWS":["arn:aws:iam::111122223333:user/carol","arn:aws:iam::111122223333:user/alice"]}"#,
            GET,
        )),
        case("resource grant with path user", Allow)
            .who(Who::Carol)
            .res(res_allow(r#"{"AWS":"arn:aws:iam::111122223333:user/division/carol"}"#, GET)),
        case("resource grant with condition failing", deny(NoIdentityAllow)).res(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#,
        ),
        case("resource policy Resource pattern other secret", deny(NoIdentityAllow)).res(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"*","Resource":"arn:aws:secretsmanager:*:*:secret:other-*"}}"#,
        ),
        // Cross account.
        case("cross-account identity only", deny(NoResourceAllow)).who(Who::Bob).id(allow(GET, "*")),
        case("cross-account resource only", deny(NoIdentityAllow)).who(Who::Bob).res(res_allow(bob, GET)),
        case("cross-account both sides direct", Allow).who(Who::Bob).id(allow(GET, "*")).res(res_allow(bob, GET)),
        case("cross-account both sides via account root", Allow).who(Who::Bob).id(allow(GET, "*")).res(res_allow(other_root, GET)),
        case("cross-account via account id", Allow).who(Who::Bob).id(allow(GET, "*")).res(res_allow(r#"{"AWS":"444455556666"}"#, GET)),
        case("cross-account resource names wrong account", deny(NoResourceAllow)).who(Who::Bob).id(allow(GET, "*")).res(res_allow(acct_root, GET)),
        case("cross-account resource deny", deny(ExplicitResource)).who(Who::Bob).id(allow(GET, "*")).res(res_deny(other_root, GET)),
        case("cross-account role session both sides", Allow)
            .who(Who::OtherSession)
            .id(allow(GET, "*"))
            .res(res_allow(r#"{"AWS":"arn:aws:iam::444455556666:role/Reader"}"#, GET)),
        case("cross-account identity side own resource", Allow).who(Who::Bob).owner(OTHER).id(allow(GET, "*")).on(OTHER_SECRET),
        // KMS key policies are authoritative.
        case("key policy: identity allow alone is not enough", deny(NoResourceAllow)).id(allow(GET, "*")).key_policy(res_allow(bob, GET)),
        case("key policy: no key policy statement for anyone", deny(NoResourceAllow)).id(allow(GET, "*")).key_policy(res_allow(r#"{"AWS":"arn:aws:iam::111122223333:user/carol"}"#, GET)),
        case("key policy: account grant delegates to identity allow", Allow).id(allow(GET, "*")).key_policy(res_allow(acct_root, GET)),
        case("key policy: account grant without identity allow", deny(NoIdentityAllow)).key_policy(res_allow(acct_root, GET)),
        case("key policy: user named directly needs no identity allow", Allow).key_policy(res_allow(alice, GET)),
        case("key policy: identity deny beats a direct grant", deny(ExplicitIdentity)).id(deny_get.clone()).key_policy(res_allow(alice, GET)),
        case("key policy: key policy deny beats identity allow", deny(ExplicitResource)).id(allow(GET, "*")).key_policy(res_deny(acct_root, GET)),
        case("key policy: boundary limits account delegation", deny(NoBoundaryAllow)).id(allow(GET, "*")).boundary(allow("kms:*", "*")).key_policy(res_allow(acct_root, GET)),
        case("key policy: role named, session policy applies", deny(NoSessionAllow)).who(Who::Session).session(allow("kms:*", "*")).key_policy(res_allow(role, GET)),
        case("key policy: cross-account needs both sides", deny(NoIdentityAllow)).who(Who::Bob).key_policy(res_allow(other_root, GET)),
        case("key policy: cross-account both sides", Allow).who(Who::Bob).id(allow(GET, "*")).key_policy(res_allow(other_root, GET)),
        case("key policy: cross-account identity only", deny(NoResourceAllow)).who(Who::Bob).id(allow(GET, "*")).key_policy(res_allow(acct_root, GET)),
        // Root.
        case("root of own account, no policies", Allow).who(Who::Root),
        case("root of own account, resource deny", deny(ExplicitResource)).who(Who::Root).res(res_deny(r#""*""#, GET)),
        case("root ignores identity policies", Allow).who(Who::Root).id(deny_get.clone()),
        case("root of other account needs resource allow", deny(NoResourceAllow)).who(Who::OtherRoot),
        case("root of other account via account grant", Allow).who(Who::OtherRoot).res(res_allow(other_root, GET)),
        // Boundaries and session policies.
        case("boundary allows", Allow).id(allow("*", "*")).boundary(allow("secretsmanager:*", "*")),
        case("boundary does not allow", deny(NoBoundaryAllow)).id(allow("*", "*")).boundary(allow("kms:*", "*")),
        case("boundary deny", deny(ExplicitIdentity)).id(allow("*", "*")).boundary(deny_get.clone()),
        case("boundary alone grants nothing", deny(NoIdentityAllow)).boundary(allow("*", "*")),
        case("boundary does not limit direct user resource grant", Allow).boundary(allow("kms:*", "*")).res(res_allow(alice, GET)),
        case("boundary limits account-delegated grant", deny(NoBoundaryAllow)).id(allow(GET, "*")).boundary(allow("kms:*", "*")).res(res_allow(acct_root, GET)),
        case("session policy allows", Allow).who(Who::Session).id(allow("*", "*")).session(allow(GET, "*")),
        case("session policy does not allow", deny(NoSessionAllow)).who(Who::Session).id(allow("*", "*")).session(allow("kms:*", "*")),
        case("session policy deny", deny(ExplicitIdentity)).who(Who::Session).id(allow("*", "*")).session(deny_get.clone()),
        case("session ARN named directly ignores session policy", Allow).who(Who::Session).session(allow("kms:*", "*")).res(res_allow(session, GET)),
        case("role ARN named: session policy still applies", deny(NoSessionAllow)).who(Who::Session).session(allow("kms:*", "*")).res(res_allow(role, GET)),
        case("role ARN named: boundary still applies", deny(NoBoundaryAllow)).who(Who::Session).boundary(allow("kms:*", "*")).res(res_allow(role, GET)),
        case("role ARN named, no session policy", Allow).who(Who::Session).res(res_allow(role, GET)),
        case("role ARN named, session policy allows", Allow).who(Who::Session).session(allow(GET, "*")).res(res_allow(role, GET)),
        case("cross-account session policy limits", deny(NoSessionAllow))
            .who(Who::OtherSession)
            .id(allow(GET, "*"))
            .session(allow("kms:*", "*"))
            .res(res_allow(r#""*""#, GET)),
        case("cross-account boundary limits", deny(NoBoundaryAllow)).who(Who::Bob).id(allow(GET, "*")).boundary(allow("kms:*", "*")).res(res_allow(bob, GET)),
        // NotPrincipal.
        case("NotPrincipal deny: user and account listed, exempt", Allow).id(allow("*", "*")).res(res_deny_not(
            r#"{"AWS":["arn:aws:iam::111122223333:user/alice","arn:aws:iam::111122223333:root"]}"#,
        )),
        case("NotPrincipal deny: only user listed, denied", deny(ExplicitResource))
            .id(allow("*", "*"))
            .res(res_deny_not(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#)),
        case("NotPrincipal deny: other user", deny(ExplicitResource))
            .id(allow("*", "*"))
            .res(res_deny_not(r#"{"AWS":["arn:aws:iam::111122223333:user/carol","111122223333"]}"#)),
        case("NotPrincipal deny: session, role and account listed", Allow).who(Who::Session).id(allow("*", "*")).res(res_deny_not(
            r#"{"AWS":["arn:aws:sts::111122223333:assumed-role/AppRole/sess1","arn:aws:iam::111122223333:role/app/AppRole","111122223333"]}"#,
        )),
        case("NotPrincipal deny: session without role listed", deny(ExplicitResource)).who(Who::Session).id(allow("*", "*")).res(res_deny_not(
            r#"{"AWS":["arn:aws:sts::111122223333:assumed-role/AppRole/sess1","111122223333"]}"#,
        )),
        case("NotPrincipal deny: root listed by account", Allow)
            .who(Who::Root)
            .res(res_deny_not(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#)),
        case("NotPrincipal allow: unlisted user granted", Allow).res(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/carol"},"Action":"*","Resource":"*"}}"#,
        ),
        case("NotPrincipal allow: listed user not granted", deny(NoIdentityAllow)).res(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"*","Resource":"*"}}"#,
        ),
        // Services.
        case("service principal granted by resource policy", Allow)
            .who(Who::Service)
            .res(res_allow(r#"{"Service":"secretsmanager.amazonaws.com"}"#, GET)),
        case("service principal not named", deny(NoIdentityAllow)).who(Who::Service).res(res_allow(r#"{"Service":"lambda.amazonaws.com"}"#, GET)),
        case("user not matched by service principal", deny(NoIdentityAllow)).res(res_allow(r#"{"Service":"secretsmanager.amazonaws.com"}"#, GET)),
        // Trust policies.
        case("trust policy names user", Allow)
            .trust(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}}"#)
            .action("sts:AssumeRole")
            .on(ROLE_ARN),
        case("trust policy names account: needs identity allow", deny(NoIdentityAllow))
            .trust(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#)
            .action("sts:AssumeRole")
            .on(ROLE_ARN),
        case("trust policy names account plus identity allow", Allow)
            .id(allow("sts:AssumeRole", ROLE_ARN))
            .trust(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#)
            .action("sts:AssumeRole")
            .on(ROLE_ARN),
        case("trust policy cross-account", Allow)
            .who(Who::Bob)
            .id(allow("sts:AssumeRole", "*"))
            .trust(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole"}}"#)
            .action("sts:AssumeRole")
            .on(ROLE_ARN),
        case("trust policy other action", deny(NoIdentityAllow))
            .trust(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:TagSession"}}"#)
            .action("sts:AssumeRole")
            .on(ROLE_ARN),
    ]
}

fn res_deny_not(not_principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","NotPrincipal":{not_principal},"Action":"*","Resource":"*"}}}}"#
    )
}

fn abac_cases() -> Vec<Case> {
    let team = allow_if(r#""StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}"#);
    let need_owner = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"secretsmanager:CreateSecret","Resource":"*"},
        {"Effect":"Deny","Action":"secretsmanager:CreateSecret","Resource":"*","Condition":{"Null":{"aws:RequestTag/owner":"true"}}}]}"#;
    let no_replication = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"secretsmanager:CreateSecret","Resource":"*",
        "Condition":{"Null":{"secretsmanager:AddReplicaRegions":"true"}}}}"#;
    vec![
        case("ABAC team tag matches", Allow)
            .id(team.clone())
            .ctx("team", V::RTag("blue")),
        case("ABAC team tag differs", deny(NoIdentityAllow))
            .id(team.clone())
            .ctx("team", V::RTag("red")),
        case("ABAC resource untagged", deny(NoIdentityAllow)).id(team.clone()),
        case("ABAC principal untagged", deny(NoIdentityAllow))
            .who(Who::Carol)
            .id(team.clone())
            .ctx("team", V::RTag("blue")),
        case("ABAC session tags", Allow)
            .who(Who::Session)
            .id(team)
            .ctx("team", V::RTag("red")),
        case("ABAC create with owner tag", Allow)
            .id(need_owner)
            .action("secretsmanager:CreateSecret")
            .ctx("owner", V::QTag("alice")),
        case("ABAC create without owner tag", deny(ExplicitIdentity))
            .id(need_owner)
            .action("secretsmanager:CreateSecret"),
        case("ABAC create owner tag via plain context key", Allow)
            .id(need_owner)
            .action("secretsmanager:CreateSecret")
            .ctx("aws:RequestTag/owner", V::S("alice")),
        case("ABAC no replication: none requested", Allow)
            .id(no_replication)
            .action("secretsmanager:CreateSecret"),
        case(
            "ABAC no replication: regions requested",
            deny(NoIdentityAllow),
        )
        .id(no_replication)
        .action("secretsmanager:CreateSecret")
        .ctx("secretsmanager:AddReplicaRegions", V::M(&["eu-west-1"])),
    ]
}

fn all_cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(action_cases());
    v.extend(resource_cases());
    v.extend(variable_cases());
    v.extend(string_cases());
    v.extend(numeric_date_bool_cases());
    v.extend(ip_arn_null_cases());
    v.extend(ifexists_set_cases());
    v.extend(evaluation_cases());
    v.extend(abac_cases());
    v
}

fn parse(text: &str, kind: PolicyKind, name: &str) -> Policy {
    Policy::parse(text, kind)
        .unwrap_or_else(|e| panic!("case {name:?}: policy does not parse: {e}\n{text}"))
}

fn run(c: &Case) -> Decision {
    let p = principal(c.who);
    let identity: Vec<Policy> = c
        .identity
        .iter()
        .map(|t| parse(t, PolicyKind::Identity, &c.name))
        .collect();
    let identity_refs: Vec<&Policy> = identity.iter().collect();
    let boundary = c
        .boundary
        .as_deref()
        .map(|t| parse(t, PolicyKind::Identity, &c.name));
    let session = c
        .session
        .as_deref()
        .map(|t| parse(t, PolicyKind::Identity, &c.name));
    let resource = c
        .resource_policy
        .as_deref()
        .map(|t| parse(t, c.resource_kind, &c.name));
    let now: Timestamp = NOW.parse().expect("time");
    let mut ctx = RequestContext::new(c.action, c.resource, now);
    for (k, v) in &c.ctx {
        ctx = match v {
            V::S(s) => ctx.with_string(*k, *s),
            V::M(list) => ctx.with_strings(*k, list.iter().copied()),
            V::B(b) => ctx.with_bool(*k, *b),
            V::N(n) => ctx.with_number(*k, *n),
            V::F(f) => ctx.with_number(*k, *f),
            V::Ip(ip) => ctx.with_ip(*k, ip.parse::<IpAddr>().expect("ip")),
            V::T(t) => ctx.with_time(*k, t.parse().expect("time")),
            V::Bin(b) => ctx.with_binary(*k, *b),
            V::RTag(val) => ctx.with_resource_tag(*k, *val),
            V::QTag(val) => ctx.with_request_tag(*k, *val),
        };
    }
    let set = PolicySet {
        identity: &identity_refs,
        boundary: boundary.as_ref(),
        session: session.as_ref(),
        resource: resource.as_ref(),
        resource_account: c.resource_account,
        resource_authoritative: c.resource_authoritative,
    };
    evaluate(&p, &ctx, &set)
}

#[test]
fn evaluator_table() {
    let cases = all_cases();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let mut names = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for c in &cases {
        assert!(
            names.insert(c.name.clone()),
            "duplicate case name {:?}",
            c.name
        );
        let got = run(c);
        if got != c.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?}",
                c.name, c.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} evaluator cases passed", cases.len());
}

#[test]
fn multiple_resource_statements_pick_strongest_principal_match() {
    // An account-only grant followed by a direct grant: the direct one must still count.
    let c = case("strongest", Allow).res(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*","Resource":"*"},
            {"Sid":"direct","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"*","Resource":"*"}]}"#,
    );
    assert_eq!(run(&c), Allow);
}

#[test]
fn context_builder_borrows_and_owns() {
    let owned_key = String::from("secretsmanager:Name");
    let owned_val = String::from("prod");
    let now: Timestamp = NOW.parse().expect("time");
    let ctx = RequestContext::new(GET.to_owned(), SECRET, now)
        .with_string(owned_key, owned_val)
        .with_string("secretsmanager:Name", "dev");
    assert_eq!(ctx.action(), GET);
    assert_eq!(ctx.resource(), SECRET);
    let p = parse(
        &allow_if(r#""StringEquals":{"secretsmanager:Name":"dev"}"#),
        PolicyKind::Identity,
        "builder",
    );
    let set = PolicySet {
        identity: &[&p],
        boundary: None,
        session: None,
        resource: None,
        resource_account: ACCT,
        resource_authoritative: false,
    };
    // The later value for the same key replaces the earlier one.
    assert_eq!(evaluate(&principal(Who::Alice), &ctx, &set), Allow);
}
