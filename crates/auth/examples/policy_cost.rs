//! What one policy evaluation costs.
//!
//! ```text
//! cargo run --release -p coffer-auth --example policy_cost
//! ```
//!
//! Evaluates a realistic request — a role session reading a secret, with tags, source IP and TLS in the context —
//! against a 10-statement identity policy (action/resource globs, conditions of several families, a policy variable)
//! plus a 3-statement resource policy, and prints the median time of one `evaluate` call, including building the
//! request context as the server does per request. A measurement to read, not a timed test.

use std::{hint::black_box, time::Instant};

use coffer_auth::policy::{
    Policy, PolicyKind, PolicySet, PrincipalInfo, PrincipalType, RequestContext, evaluate,
};
use jiff::Timestamp;

const IDENTITY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"S1","Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"arn:aws:kms:*:111122223333:key/*"},
 {"Sid":"S2","Effect":"Allow","Action":"secretsmanager:List*","Resource":"*"},
 {"Sid":"S3","Effect":"Allow","Action":"secretsmanager:Describe*","Resource":"arn:aws:secretsmanager:*:111122223333:secret:*"},
 {"Sid":"S4","Effect":"Deny","Action":"secretsmanager:DeleteSecret","Resource":"*","Condition":{"Bool":{"secretsmanager:ForceDeleteWithoutRecovery":"true"}}},
 {"Sid":"S5","Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
 {"Sid":"S6","Effect":"Allow","Action":"secretsmanager:PutSecretValue","Resource":"arn:aws:secretsmanager:*:*:secret:app/${aws:PrincipalTag/team}/*"},
 {"Sid":"S7","Effect":"Deny","Action":"secretsmanager:*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16","2001:db8::/32"]}}},
 {"Sid":"S8","Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
 {"Sid":"S9","Effect":"Deny","Action":"secretsmanager:CreateSecret","Resource":"*","Condition":{"Null":{"aws:RequestTag/owner":"true"}}},
 {"Sid":"S10","Effect":"Allow","Action":"secretsmanager:TagResource","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team","owner"]}}}
]}"#;

const RESOURCE: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"R1","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:*","Resource":"*"},
 {"Sid":"R2","Effect":"Deny","Principal":"*","Action":"secretsmanager:DeleteResourcePolicy","Resource":"*"},
 {"Sid":"R3","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:role/Reader"},"Action":"secretsmanager:GetSecretValue","Resource":"*",
  "Condition":{"StringEquals":{"aws:PrincipalAccount":"444455556666"}}}
]}"#;

fn main() {
    let identity = Policy::parse(IDENTITY, PolicyKind::Identity).expect("identity policy");
    let resource = Policy::parse(RESOURCE, PolicyKind::Resource).expect("resource policy");
    let principal = PrincipalInfo {
        arn: "arn:aws:sts::111122223333:assumed-role/AppRole/worker-1".to_owned(),
        account: "111122223333".to_owned(),
        kind: PrincipalType::AssumedRole,
        role_arn: Some("arn:aws:iam::111122223333:role/service/AppRole".to_owned()),
        user_name: None,
        user_id: "AROAAPPROLEEXAMPLE001:worker-1".to_owned(),
        tags: vec![
            ("team".to_owned(), "payments".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ],
    };
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf";
    let resource_tags = [
        ("team".to_owned(), "payments".to_owned()),
        ("owner".to_owned(), "ops".to_owned()),
    ];
    let now: Timestamp = "2025-06-15T12:00:00Z".parse().expect("time");
    let identity_refs = [&identity];
    let set = PolicySet {
        identity: &identity_refs,
        boundary: None,
        session: None,
        resource: Some(&resource),
        resource_account: "111122223333",
        resource_authoritative: false,
    };

    let run = || {
        let ctx = RequestContext::new("secretsmanager:GetSecretValue", secret, now)
            .with_source_ip([10, 1, 2, 3].into())
            .with_secure_transport(true)
            .with_string("secretsmanager:SecretId", secret)
            .with_resource_tags(resource_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        evaluate(black_box(&principal), black_box(&ctx), black_box(&set))
    };
    assert!(
        run().is_allow(),
        "the measured request must be allowed (all statements examined)"
    );

    const BATCH: u32 = 10_000;
    let mut samples: Vec<f64> = (0..200)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(run());
            }
            start.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    let p90 = samples[samples.len() * 9 / 10];
    println!(
        "evaluate (10-statement identity + 3-statement resource policy, context built per call): median {median:.0} ns, p90 {p90:.0} ns"
    );
}
