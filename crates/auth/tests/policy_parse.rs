//! Policy grammar and write-time validation (companion-apis.md §8.1/§8.2), the public-access check (§9),
//! `ValidateResourcePolicy` findings and the access-denied messages (secretsmanager-api.md §1.7).

use coffer_auth::policy::{
    CHECK_BROAD_ACCESS, CHECK_LOCKOUT_PREVENTION, CHECK_SYNTAX, DenyReason, Policy, PolicyKind,
    access_denied_message, validate_resource_policy,
};

fn err(text: &str, kind: PolicyKind) -> String {
    match Policy::parse(text, kind) {
        Ok(_) => panic!("accepted as {kind:?}: {text}"),
        Err(e) => e.message,
    }
}

fn ok(text: &str, kind: PolicyKind) -> Policy {
    Policy::parse(text, kind).unwrap_or_else(|e| panic!("rejected as {kind:?} ({e}): {text}"))
}

const ID: PolicyKind = PolicyKind::Identity;
const RES: PolicyKind = PolicyKind::Resource;
const TRUST: PolicyKind = PolicyKind::Trust;

const SYNTAX: &str = "Syntax errors in policy.";

#[test]
fn invalid_json() {
    for text in [
        "",
        "{",
        "not json",
        r#"{"Version":"2012-10-17",}"#,
        "\u{0}",
        r#"{"Statement":[}"#,
    ] {
        assert_eq!(
            err(text, ID),
            "This policy contains invalid Json",
            "{text:?}"
        );
        assert_eq!(
            err(text, RES),
            "This policy contains invalid Json",
            "{text:?}"
        );
    }
}

#[test]
fn statement_as_object_or_list() {
    let one = ok(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        ID,
    );
    assert_eq!(one.statement_count(), 1);
    let two = ok(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#,
        ID,
    );
    assert_eq!(two.statement_count(), 2);
    assert!(two.is_version_2012());
    assert_eq!(two.kind(), ID);
}

#[test]
fn version_rules() {
    let body = r#""Statement":{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    assert!(ok(&format!(r#"{{"Version":"2012-10-17",{body}}}"#), ID).is_version_2012());
    assert!(!ok(&format!(r#"{{"Version":"2008-10-17",{body}}}"#), ID).is_version_2012());
    assert!(!ok(&format!(r#"{{{body}}}"#), ID).is_version_2012());
    for bad in [
        r#""2012-10-18""#,
        r#""2012-10-17 ""#,
        r#""""#,
        "2012",
        "null",
        r#"["2012-10-17"]"#,
    ] {
        assert_eq!(
            err(&format!(r#"{{"Version":{bad},{body}}}"#), ID),
            "This policy has invalid syntax.",
            "{bad}"
        );
        assert_eq!(
            err(&format!(r#"{{"Version":{bad},{body}}}"#), RES),
            "This policy has invalid syntax.",
            "{bad}"
        );
    }
}

#[test]
fn structural_errors() {
    let cases = [
        // Not an object / no statement.
        "[]",
        "\"policy\"",
        "{}",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Version":"2012-10-17","Statement":[]}"#,
        r#"{"Version":"2012-10-17","Statement":"x"}"#,
        r#"{"Version":"2012-10-17","Statement":[1]}"#,
        // Unknown or mis-cased elements.
        r#"{"Version":"2012-10-17","Extra":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"effect":"Allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Foo":"bar"}}"#,
        r#"{"Version":"2012-10-17","Id":5,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        // Effect.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Action":"*","Resource":"*"}}"#,
        // Both Action and NotAction, both Resource and NotResource.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","NotAction":"kms:*","Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}"#,
        // Wrong value types.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":5,"Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["*",1],"Resource":"*"}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":{"a":1}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        // Conditions.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":"x"}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":null}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":{"a":"b"}}}}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":[]}}"#,
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}}}"#,
    ];
    for text in cases {
        assert_eq!(err(text, ID), SYNTAX, "{text}");
    }
}

#[test]
fn missing_action_or_resource() {
    assert_eq!(
        err(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Resource":"*"}}"#,
            ID
        ),
        "Policy statement must contain actions."
    );
    assert_eq!(
        err(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
            ID
        ),
        "Policy statement must contain actions."
    );
    assert_eq!(
        err(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*"}}"#,
            ID
        ),
        "Policy statement must contain resources."
    );
    assert_eq!(
        err(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}"#,
            RES
        ),
        "Policy statement must contain resources."
    );
}

#[test]
fn action_and_resource_format() {
    let vendor = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    for a in [
        "GetSecretValue",
        ":Get",
        "secretsmanager:",
        "secrets manager:Get",
        "secretsmanager:Get Secret",
    ] {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{a}","Resource":"*"}}}}"#
        );
        assert_eq!(err(&text, ID), vendor, "{a}");
    }
    let bad_key = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}}"#;
    assert_eq!(err(bad_key, ID), vendor);
    for r in [
        "secret",
        "arn:aws:secretsmanager",
        "aws:secretsmanager:a:b:c:d",
    ] {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"{r}"}}}}"#
        );
        assert_eq!(
            err(&text, ID),
            format!("Resource {r} must be in ARN format or \"*\"."),
            "{r}"
        );
    }
    // Long values are cut, never echoed whole.
    let long = "x".repeat(5000);
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"{long}"}}}}"#
    );
    assert!(err(&text, ID).len() < 200);
}

#[test]
fn principal_rules() {
    let with_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
    assert_eq!(
        err(with_principal, ID),
        "Policy document should not specify a principal."
    );
    let with_not_principal = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*"}}"#;
    assert_eq!(
        err(with_not_principal, ID),
        "Policy document should not specify a principal."
    );
    ok(with_principal, RES);
    ok(with_not_principal, RES);

    let without =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    assert_eq!(
        err(without, RES),
        "Policy document should specify a principal."
    );
    assert_eq!(
        err(without, TRUST),
        "Policy document should specify a principal."
    );

    let both = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"*","Resource":"*"}}"#;
    assert_eq!(err(both, RES), SYNTAX);

    let good = [
        r#""*""#,
        r#"{"AWS":"*"}"#,
        r#"{"AWS":"111122223333"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:root"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:user/division/alice"}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:role/app/AppRole"}"#,
        r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/AppRole/sess"}"#,
        r#"{"AWS":["111122223333","arn:aws:iam::444455556666:root"]}"#,
        r#"{"Service":"secretsmanager.amazonaws.com"}"#,
        r#"{"Service":["lambda.amazonaws.com","secretsmanager.amazonaws.com"]}"#,
        r#"{"Federated":"cognito-identity.amazonaws.com"}"#,
        r#"{"AWS":"111122223333","Service":"lambda.amazonaws.com"}"#,
    ];
    for p in good {
        ok(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{p},"Action":"*","Resource":"*"}}}}"#
            ),
            RES,
        );
    }
    let bad = [
        (
            r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:user/*\"",
        ),
        (
            r#"{"AWS":"arn:aws:iam::*:root"}"#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::*:root\"",
        ),
        (
            r#"{"AWS":"11112222333"}"#,
            "Invalid principal in policy: \"AWS\":\"11112222333\"",
        ),
        (
            r#"{"AWS":"alice"}"#,
            "Invalid principal in policy: \"AWS\":\"alice\"",
        ),
        (
            r#"{"AWS":"arn:aws:s3:::bucket"}"#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:s3:::bucket\"",
        ),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:group/devs"}"#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:group/devs\"",
        ),
        (
            r#"{"AWS":"arn:aws:iam::111122223333:user/"}"#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:user/\"",
        ),
        (
            r#"{"Service":"lambda"}"#,
            "Invalid principal in policy: \"Service\":\"lambda\"",
        ),
        (
            r#""arn:aws:iam::111122223333:root""#,
            "Invalid principal in policy: \"AWS\":\"arn:aws:iam::111122223333:root\"",
        ),
        (r#"{}"#, SYNTAX),
        (r#"{"Aws":"*"}"#, SYNTAX),
        (r#"{"AWS":[]}"#, SYNTAX),
        (r#"{"AWS":5}"#, SYNTAX),
        (r#"["*"]"#, SYNTAX),
    ];
    for (p, msg) in bad {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{p},"Action":"*","Resource":"*"}}}}"#
        );
        assert_eq!(err(&text, RES), msg, "{p}");
    }
}

#[test]
fn trust_policies() {
    let t = ok(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["sts:AssumeRole","sts:TagSession"]}}"#,
        TRUST,
    );
    assert_eq!(t.statement_count(), 1);
    ok(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:*","Resource":"*"}}"#,
        TRUST,
    );
    assert_eq!(
        err(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:GetSecretValue"}}"#,
            TRUST
        ),
        "AssumeRole policy may only specify STS AssumeRole actions."
    );
}

#[test]
fn sid_uniqueness() {
    let dup = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"kms:*","Resource":"*"}]}"#;
    assert_eq!(
        err(dup, ID),
        "Statement IDs (SID) in a single policy must be unique."
    );
    let distinct = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#;
    assert_eq!(ok(distinct, ID).statement_count(), 3);
    let spaces = r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;
    ok(spaces, RES);
}

#[test]
fn spec_examples_parse() {
    // The aws/secretsmanager key policy from companion §6.6.
    let key_policy = r#"{"Version":"2012-10-17","Id":"auto-secretsmanager-1","Statement":[
    {"Sid":"Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager",
     "Effect":"Allow","Principal":{"AWS":"*"},
     "Action":["kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:CreateGrant","kms:DescribeKey"],
     "Resource":"*",
     "Condition":{"StringEquals":{"kms:ViaService":"secretsmanager.us-west-2.amazonaws.com","kms:CallerAccount":"111122223333"}}},
    {"Sid":"Allow direct access to key metadata to the account","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::111122223333:root"},
     "Action":["kms:Describe*","kms:Get*","kms:List*","kms:RevokeGrant"],"Resource":"*"}]}"#;
    let p = ok(key_policy, RES);
    assert_eq!(p.statement_count(), 2);
    // kms:CallerAccount is not one of §9's pinning keys, so by the syntactic rule this counts as broad.
    assert!(p.is_public());
}

fn res_policy(principal: &str, condition: Option<&str>) -> String {
    let cond = condition
        .map(|c| format!(r#","Condition":{{{c}}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{principal},"Action":"secretsmanager:GetSecretValue","Resource":"*"{cond}}}}}"#
    )
}

#[test]
fn public_policies() {
    let public = [
        res_policy(r#""*""#, None),
        res_policy(r#"{"AWS":"*"}"#, None),
        res_policy(r#"{"AWS":["arn:aws:iam::111122223333:root","*"]}"#, None),
        // Conditions that do not pin the caller.
        res_policy(r#""*""#, Some(r#""Bool":{"aws:SecureTransport":"true"}"#)),
        res_policy(r#""*""#, Some(r#""StringEqualsIfExists":{"aws:PrincipalAccount":"111122223333"}"#)),
        res_policy(r#""*""#, Some(r#""Null":{"aws:PrincipalAccount":"false"}"#)),
        res_policy(r#""*""#, Some(r#""StringLike":{"aws:PrincipalAccount":"1111*"}"#)),
        res_policy(r#""*""#, Some(r#""StringEquals":{"aws:PrincipalAccount":"1111*"}"#)),
        res_policy(r#""*""#, Some(r#""StringNotEquals":{"aws:PrincipalAccount":"444455556666"}"#)),
        res_policy(r#""*""#, Some(r#""ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"}"#)),
        res_policy(r#""*""#, Some(r#""IpAddress":{"aws:SourceIp":"0.0.0.0/0"}"#)),
        res_policy(r#""*""#, Some(r#""ForAllValues:StringEquals":{"aws:PrincipalAccount":"111122223333"}"#)),
        res_policy(r#""*""#, Some(r#""StringEquals":{"aws:ResourceTag/team":"blue"}"#)),
        res_policy(r#""*""#, Some(r#""StringEquals":{"aws:PrincipalAccount":"${aws:username}"}"#)),
        // NotPrincipal with Allow.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"*","Resource":"*"}}"#.to_owned(),
        // One public statement among private ones.
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"*","Resource":"*"},{"Effect":"Allow","Principal":"*","Action":"secretsmanager:DescribeSecret","Resource":"*"}]}"#.to_owned(),
    ];
    for text in &public {
        assert!(ok(text, RES).is_public(), "should be public: {text}");
        let findings = validate_resource_policy(text).expect("json");
        assert!(
            findings.iter().any(|f| f.check_name == CHECK_BROAD_ACCESS),
            "{text}: {findings:?}"
        );
    }
}

#[test]
fn not_public_policies() {
    let private = [
        res_policy(r#"{"AWS":"111122223333"}"#, None),
        res_policy(r#"{"AWS":"444455556666"}"#, None),
        res_policy(r#"{"AWS":"arn:aws:iam::444455556666:root"}"#, None),
        res_policy(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, None),
        res_policy(r#"{"AWS":"arn:aws:iam::111122223333:role/Reader"}"#, None),
        res_policy(r#"{"AWS":"arn:aws:sts::111122223333:assumed-role/Reader/s"}"#, None),
        res_policy(r#"{"Service":"secretsmanager.amazonaws.com"}"#, None),
        // Wildcard principal pinned by a condition.
        res_policy(r#""*""#, Some(r#""StringEquals":{"aws:PrincipalAccount":"111122223333"}"#)),
        res_policy(r#""*""#, Some(r#""StringEquals":{"aws:PrincipalOrgID":"o-abc123"}"#)),
        res_policy(r#""*""#, Some(r#""StringEqualsIgnoreCase":{"aws:userid":"AIDAEXAMPLE"}"#)),
        res_policy(r#""*""#, Some(r#""ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Reader"}"#)),
        res_policy(r#""*""#, Some(r#""ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}"#)),
        res_policy(r#""*""#, Some(r#""IpAddress":{"aws:SourceIp":"203.0.113.0/24"}"#)),
        res_policy(r#""*""#, Some(r#""StringEquals":{"aws:SourceVpce":"vpce-1a2b3c"}"#)),
        res_policy(r#"{"AWS":"*"}"#, Some(r#""StringEquals":{"AWS:PRINCIPALACCOUNT":["111122223333","444455556666"]}"#)),
        res_policy(r#""*""#, Some(r#""ForAnyValue:StringEquals":{"aws:SourceAccount":"111122223333"}"#)),
        // Deny statements are never public.
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#.to_owned(),
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*"}}"#.to_owned(),
    ];
    for text in &private {
        assert!(!ok(text, RES).is_public(), "should not be public: {text}");
        let findings = validate_resource_policy(text).expect("json");
        assert!(
            findings.iter().all(|f| f.check_name != CHECK_BROAD_ACCESS),
            "{text}: {findings:?}"
        );
    }
}

#[test]
fn identity_policies_are_never_public() {
    assert!(!ok(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#, ID).is_public());
}

#[test]
fn validate_resource_policy_findings() {
    // Passes.
    let good = res_policy(r#"{"AWS":"arn:aws:iam::111122223333:user/alice"}"#, None);
    assert_eq!(validate_resource_policy(&good).expect("json"), vec![]);
    // Unparseable JSON is an error, not a finding.
    assert_eq!(
        validate_resource_policy("{nope").expect_err("json").message,
        "This policy contains invalid Json"
    );
    // Syntax problems are findings.
    let no_principal =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let f = validate_resource_policy(no_principal).expect("json");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].check_name, CHECK_SYNTAX);
    assert_eq!(f[0].message, "Policy document should specify a principal.");
    let bad_version = r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#;
    assert_eq!(
        validate_resource_policy(bad_version).expect("json")[0].message,
        "This policy has invalid syntax."
    );
    assert_eq!(
        validate_resource_policy("[]").expect("json")[0].check_name,
        CHECK_SYNTAX
    );
    // Lock-out.
    let lockout = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*ResourcePolicy","Resource":"*"}}"#;
    let f = validate_resource_policy(lockout).expect("json");
    assert!(
        f.iter().any(|f| f.check_name == CHECK_LOCKOUT_PREVENTION),
        "{f:?}"
    );
    let conditional = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"secretsmanager:PutResourcePolicy","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}}"#;
    assert!(
        validate_resource_policy(conditional)
            .expect("json")
            .is_empty()
    );
    let other_action = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"secretsmanager:DeleteSecret","Resource":"*"}}"#;
    assert!(
        validate_resource_policy(other_action)
            .expect("json")
            .is_empty()
    );
    // Both findings at once, with the statement identified.
    let both = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Open","Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Resource":"*"}]}"#;
    let f = validate_resource_policy(both).expect("json");
    assert_eq!(
        f.iter().map(|f| f.check_name).collect::<Vec<_>>(),
        [CHECK_BROAD_ACCESS, CHECK_LOCKOUT_PREVENTION]
    );
    assert!(f[0].message.contains("Sid \"Open\""), "{}", f[0].message);
}

#[test]
fn access_denied_messages() {
    let alice = "arn:aws:iam::111122223333:user/alice";
    let get = "secretsmanager:GetSecretValue";
    assert_eq!(
        access_denied_message(alice, get, Some("settings"), DenyReason::NoIdentityAllow),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: secretsmanager:GetSecretValue on resource: settings because no identity-based policy allows the secretsmanager:GetSecretValue action"
    );
    assert_eq!(
        access_denied_message(
            alice,
            "secretsmanager:ListSecrets",
            None,
            DenyReason::NoIdentityAllow
        ),
        "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: secretsmanager:ListSecrets because no identity-based policy allows the secretsmanager:ListSecrets action"
    );
    let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf";
    assert_eq!(
        access_denied_message(alice, get, Some(arn), DenyReason::ExplicitIdentity),
        format!(
            "User: {alice} is not authorized to perform: {get} on resource: {arn} with an explicit deny in an identity-based policy"
        )
    );
    assert_eq!(
        access_denied_message(alice, get, Some("settings"), DenyReason::ExplicitResource),
        format!(
            "User: {alice} is not authorized to perform: {get} on resource: settings with an explicit deny in a resource-based policy"
        )
    );
    let session = "arn:aws:sts::111122223333:assumed-role/Role/session";
    assert_eq!(
        access_denied_message(session, get, Some("settings"), DenyReason::NoBoundaryAllow),
        format!(
            "User: {session} is not authorized to perform: {get} on resource: settings because no permissions boundary allows the {get} action"
        )
    );
    assert_eq!(
        access_denied_message(session, get, Some("settings"), DenyReason::NoSessionAllow),
        format!(
            "User: {session} is not authorized to perform: {get} on resource: settings because no session policy allows the {get} action"
        )
    );
    assert_eq!(
        access_denied_message(
            "arn:aws:iam::444455556666:user/bob",
            "kms:Decrypt",
            Some("arn:aws:kms:us-east-1:111122223333:key/k"),
            DenyReason::NoResourceAllow
        ),
        "User: arn:aws:iam::444455556666:user/bob is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:111122223333:key/k because no resource-based policy allows the kms:Decrypt action"
    );
}
