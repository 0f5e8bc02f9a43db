use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use serde_json::{Value, json};

use super::model::*;
use crate::codec::{
    Blob, EpochTime, SensitiveBlob, SensitiveString, WireDecodeError, decode, encode, msg,
};

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn validation<T: serde::de::DeserializeOwned + crate::codec::Validate + std::fmt::Debug>(
    value: Value,
) -> String {
    match decode::<T>(&body(&value)) {
        Err(WireDecodeError::Validation(message)) => message,
        other => panic!("expected a validation error for {value}, got {other:?}"),
    }
}

fn serialization<T: serde::de::DeserializeOwned + crate::codec::Validate + std::fmt::Debug>(
    raw: &[u8],
) -> String {
    match decode::<T>(raw) {
        Err(WireDecodeError::Serialization(message)) => message,
        other => panic!(
            "expected a serialization error for {}, got {other:?}",
            String::from_utf8_lossy(raw)
        ),
    }
}

const SECRET_ID_NULL: &str =
    "Value null at 'secretId' failed to satisfy constraint: Member must not be null";

fn one(item: &str) -> String {
    format!("1 validation error detected: {item}")
}

// ------------------------------------------------------------------------------------------------
// Operations
// ------------------------------------------------------------------------------------------------

#[test]
fn operation_targets_round_trip() {
    assert_eq!(Operation::ALL.len(), 23);
    for op in Operation::ALL {
        let target = format!("secretsmanager.{}", op.name());
        assert_eq!(Operation::from_target(&target), Some(op));
    }
    assert_eq!(Operation::ALL[0], Operation::BatchGetSecretValue);
    assert_eq!(Operation::GetSecretValue.name(), "GetSecretValue");
}

#[test]
fn operation_target_is_exact_and_case_sensitive() {
    for target in [
        "secretsmanager.getSecretValue",
        "SecretsManager.GetSecretValue",
        "secretsmanager.GetSecretValue ",
        " secretsmanager.GetSecretValue",
        "GetSecretValue",
        "secretsmanager.",
        "secretsmanager",
        "TrentService.GetSecretValue",
        "secretsmanager.GetSecretValue.x",
        "",
    ] {
        assert_eq!(Operation::from_target(target), None, "{target:?}");
    }
}

#[test]
fn void_operations_have_no_output() {
    let void: Vec<_> = Operation::ALL
        .into_iter()
        .filter(|op| !op.has_output())
        .collect();
    assert_eq!(void, [Operation::TagResource, Operation::UntagResource]);
    assert_eq!(encode(&TagResourceResponse {}), b"{}");
    assert_eq!(encode(&UntagResourceResponse::default()), b"{}");
}

#[test]
fn every_operation_decodes_a_valid_request() {
    // Unknown members are ignored, so one body satisfies every operation's required members.
    let all_required = json!({
        "SecretId": "MyTestSecret",
        "Name": "MyTestSecret",
        "ResourcePolicy": "{}",
        "RemoveReplicaRegions": ["eu-west-1"],
        "AddReplicaRegions": [{"Region": "eu-west-1"}],
        "Tags": [],
        "TagKeys": [],
        "VersionStage": "AWSCURRENT",
    });
    for op in Operation::ALL {
        let request = Request::decode(op, &body(&all_required))
            .unwrap_or_else(|err| panic!("{}: {err:?}", op.name()));
        assert_eq!(request.operation(), op);
    }
}

#[test]
fn empty_body_means_empty_object() {
    for raw in [&b""[..], b"{}", b"  \r\n\t", b" {} "] {
        let err = decode::<GetSecretValueRequest>(raw).unwrap_err();
        assert_eq!(err, WireDecodeError::Validation(one(SECRET_ID_NULL)));
        assert_eq!(err.code(), "ValidationException");
        let list: ListSecretsRequest = decode(raw).unwrap();
        assert!(list.filters.is_none() && list.max_results.is_none());
        let password: GetRandomPasswordRequest = decode(raw).unwrap();
        assert!(password.password_length.is_none());
    }
}

#[test]
fn required_members_of_each_operation() {
    let cases = [
        (Operation::CreateSecret, vec!["name"]),
        (
            Operation::PutResourcePolicy,
            vec!["secretId", "resourcePolicy"],
        ),
        (
            Operation::RemoveRegionsFromReplication,
            vec!["secretId", "removeReplicaRegions"],
        ),
        (
            Operation::ReplicateSecretToRegions,
            vec!["secretId", "addReplicaRegions"],
        ),
        (Operation::TagResource, vec!["secretId", "tags"]),
        (Operation::UntagResource, vec!["secretId", "tagKeys"]),
        (
            Operation::UpdateSecretVersionStage,
            vec!["secretId", "versionStage"],
        ),
        (Operation::ValidateResourcePolicy, vec!["resourcePolicy"]),
        (Operation::DescribeSecret, vec!["secretId"]),
        (Operation::BatchGetSecretValue, vec![]),
        (Operation::GetRandomPassword, vec![]),
        (Operation::ListSecrets, vec![]),
    ];
    for (op, required) in cases {
        let result = Request::decode(op, b"{}");
        if required.is_empty() {
            assert!(result.is_ok(), "{}", op.name());
            continue;
        }
        let items: Vec<String> = required
            .iter()
            .map(|p| {
                format!("Value null at '{p}' failed to satisfy constraint: Member must not be null")
            })
            .collect();
        let noun = if items.len() == 1 { "error" } else { "errors" };
        let expected = format!(
            "{} validation {noun} detected: {}",
            items.len(),
            items.join("; ")
        );
        assert_eq!(
            result.unwrap_err(),
            WireDecodeError::Validation(expected),
            "{}",
            op.name()
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Decoding happy paths
// ------------------------------------------------------------------------------------------------

#[test]
fn decode_create_secret() {
    let request: CreateSecretRequest = decode(
        br#"{
            "Name": "MyTestDatabaseSecret",
            "ClientRequestToken": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
            "Description": "My test database secret created with the CLI",
            "KmsKeyId": "",
            "SecretString": "{\"username\":\"david\",\"password\":\"EXAMPLE-PASSWORD\"}",
            "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team"}],
            "AddReplicaRegions": [{"Region": "eu-west-1", "KmsKeyId": "alias/x"}],
            "ForceOverwriteReplicaSecret": false,
            "Type": "x"
        }"#,
    )
    .unwrap();
    assert_eq!(request.name.as_deref(), Some("MyTestDatabaseSecret"));
    assert_eq!(
        request.client_request_token.as_deref(),
        Some("EXAMPLE1-90ab-cdef-fedc-ba987SECRET1")
    );
    assert_eq!(request.kms_key_id.as_deref(), Some(""));
    assert_eq!(
        request.secret_string.as_ref().unwrap().expose(),
        r#"{"username":"david","password":"EXAMPLE-PASSWORD"}"#
    );
    let tags = request.tags.as_ref().unwrap();
    assert_eq!(tags.len(), 2);
    assert_eq!(tags[0].key.as_deref(), Some("env"));
    assert_eq!(tags[0].value.as_deref(), Some("prod"));
    assert_eq!(tags[1].value, None);
    let replica = &request.add_replica_regions.as_ref().unwrap()[0];
    assert_eq!(replica.region.as_deref(), Some("eu-west-1"));
    assert_eq!(request.force_overwrite_replica_secret, Some(false));
    assert_eq!(request.r#type.as_deref(), Some("x"));
    assert!(request.secret_binary.is_none());

    let debug = format!("{request:?}");
    assert!(!debug.contains("EXAMPLE-PASSWORD"), "{debug}");
    assert!(debug.contains("[REDACTED]"));
}

#[test]
fn decode_put_secret_value_with_binary() {
    let request: PutSecretValueRequest = decode(
        br#"{"SecretId":"arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf",
             "SecretBinary":"AAEC/w==","VersionStages":["AWSPENDING","custom"],
             "RotationToken":"0123456789abcdef0123456789abcdef0123"}"#,
    )
    .unwrap();
    assert_eq!(request.secret_binary.unwrap().expose(), [0, 1, 2, 0xff]);
    assert_eq!(
        request.version_stages.unwrap(),
        ["AWSPENDING".to_owned(), "custom".to_owned()]
    );
    assert_eq!(
        request.rotation_token.unwrap().expose(),
        "0123456789abcdef0123456789abcdef0123"
    );
}

#[test]
fn decode_list_secrets_and_batch_get() {
    let list: ListSecretsRequest = decode(
        br#"{"IncludePlannedDeletion":true,"MaxResults":100,"NextToken":"t",
             "Filters":[{"Key":"tag-key","Values":["!prod","a b:c_@/+=.-"]},{"Key":"all","Values":[""]}],
             "SortOrder":"asc","SortBy":"last-accessed-date"}"#,
    )
    .unwrap();
    let filters = list.filters.unwrap();
    assert_eq!(filters[0].key.as_deref(), Some("tag-key"));
    assert_eq!(filters[0].values.as_ref().unwrap()[1], "a b:c_@/+=.-");
    assert_eq!(list.max_results, Some(100));
    assert_eq!(list.sort_by.as_deref(), Some("last-accessed-date"));

    let batch: BatchGetSecretValueRequest =
        decode(br#"{"SecretIdList":["a","b"],"MaxResults":20}"#).unwrap();
    assert_eq!(batch.secret_id_list.unwrap().len(), 2);
}

#[test]
fn decode_rotate_secret_and_random_password() {
    let rotate: RotateSecretRequest = decode(
        br#"{"SecretId":"s","RotationLambdaARN":"arn:aws:lambda:us-east-1:111122223333:function:f",
             "RotationRules":{"AutomaticallyAfterDays":1000,"Duration":"24h",
                              "ScheduleExpression":"cron(0 16 1,15 * ? *)"},
             "RotateImmediately":false,
             "ExternalSecretRotationMetadata":[{"Key":"k","Value":"v"}]}"#,
    )
    .unwrap();
    let rules = rotate.rotation_rules.unwrap();
    assert_eq!(rules.automatically_after_days, Some(1000));
    assert_eq!(rules.duration.as_deref(), Some("24h"));
    assert_eq!(
        rules.schedule_expression.as_deref(),
        Some("cron(0 16 1,15 * ? *)")
    );

    let password: GetRandomPasswordRequest = decode(
        br#"{"PasswordLength":4096,"ExcludeCharacters":"","ExcludeNumbers":true,
             "ExcludePunctuation":false,"ExcludeUppercase":false,"ExcludeLowercase":false,
             "IncludeSpace":true,"RequireEachIncludedType":true}"#,
    )
    .unwrap();
    assert_eq!(password.password_length, Some(4096));
    assert_eq!(password.include_space, Some(true));
}

#[test]
fn unknown_members_are_ignored() {
    let request: GetSecretValueRequest = decode(
        br#"{"Unknown":{"deep":[1,{"x":null}]},"secretId":"lower","SecretId":"s",
             "VersionStage":"AWSCURRENT","Future":[true]}"#,
    )
    .unwrap();
    assert_eq!(request.secret_id.as_deref(), Some("s"));
    assert_eq!(request.version_stage.as_deref(), Some("AWSCURRENT"));
    // Unknown members inside nested structures too.
    let rotate: RotateSecretRequest =
        decode(br#"{"SecretId":"s","RotationRules":{"Mystery":1,"Duration":"2h"}}"#).unwrap();
    assert_eq!(
        rotate.rotation_rules.unwrap().duration.as_deref(),
        Some("2h")
    );
}

#[test]
fn null_is_absent() {
    let request: GetSecretValueRequest =
        decode(br#"{"SecretId":"s","VersionId":null,"VersionStage":null}"#).unwrap();
    assert!(request.version_id.is_none() && request.version_stage.is_none());
    assert_eq!(
        validation::<GetSecretValueRequest>(json!({"SecretId": null})),
        one(SECRET_ID_NULL)
    );
    let rotate: RotateSecretRequest = decode(
        br#"{"SecretId":"s","RotationRules":{"AutomaticallyAfterDays":null},"ClientRequestToken":null}"#,
    )
    .unwrap();
    assert!(
        rotate
            .rotation_rules
            .unwrap()
            .automatically_after_days
            .is_none()
    );
}

// ------------------------------------------------------------------------------------------------
// Validation messages
// ------------------------------------------------------------------------------------------------

#[test]
fn length_maximum() {
    let long = "a".repeat(2049);
    assert_eq!(
        validation::<DescribeSecretRequest>(json!({"SecretId": long})),
        one(&format!(
            "Value '{long}' at 'secretId' failed to satisfy constraint: \
             Member must have length less than or equal to 2048"
        ))
    );
    // Code points, not bytes or UTF-16 units: 2048 emoji are fine.
    assert!(
        decode::<DescribeSecretRequest>(&body(&json!({"SecretId": "😀".repeat(2048)}))).is_ok()
    );
}

#[test]
fn length_minimum() {
    assert_eq!(
        validation::<UpdateSecretRequest>(json!({"SecretId": "s", "ClientRequestToken": "short"})),
        one(
            "Value 'short' at 'clientRequestToken' failed to satisfy constraint: \
             Member must have length greater than or equal to 32"
        )
    );
    assert_eq!(
        validation::<GetSecretValueRequest>(json!({"SecretId": ""})),
        one("Value '' at 'secretId' failed to satisfy constraint: \
             Member must have length greater than or equal to 1")
    );
}

#[test]
fn value_range() {
    assert_eq!(
        validation::<GetRandomPasswordRequest>(json!({"PasswordLength": 5000})),
        one(
            "Value '5000' at 'passwordLength' failed to satisfy constraint: \
             Member must have value less than or equal to 4096"
        )
    );
    assert_eq!(
        validation::<ListSecretsRequest>(json!({"MaxResults": 0})),
        one("Value '0' at 'maxResults' failed to satisfy constraint: \
             Member must have value greater than or equal to 1")
    );
    assert_eq!(
        validation::<BatchGetSecretValueRequest>(json!({"MaxResults": 21})),
        one("Value '21' at 'maxResults' failed to satisfy constraint: \
             Member must have value less than or equal to 20")
    );
}

#[test]
fn nested_member_path() {
    for (days, constraint) in [
        (0, "Member must have value greater than or equal to 1"),
        (1001, "Member must have value less than or equal to 1000"),
    ] {
        assert_eq!(
            validation::<RotateSecretRequest>(json!({
                "SecretId": "s",
                "RotationRules": {"AutomaticallyAfterDays": days}
            })),
            one(&format!(
                "Value '{days}' at 'rotationRules.automaticallyAfterDays' \
                 failed to satisfy constraint: {constraint}"
            ))
        );
    }
}

#[test]
fn enum_value_set() {
    assert_eq!(
        validation::<ListSecretsRequest>(json!({"SortOrder": "ASC"})),
        one("Value 'ASC' at 'sortOrder' failed to satisfy constraint: \
             Member must satisfy enum value set: [asc, desc]")
    );
    assert_eq!(
        validation::<ListSecretsRequest>(json!({"Filters": [{"Key": "bogus", "Values": ["x"]}]})),
        one(
            "Value 'bogus' at 'filters.1.member.key' failed to satisfy constraint: \
             Member must satisfy enum value set: \
             [description, name, tag-key, tag-value, primary-region, owning-service, all]"
        )
    );
}

#[test]
fn regular_expression_pattern() {
    assert_eq!(
        validation::<RotateSecretRequest>(json!({
            "SecretId": "s",
            "RotationRules": {"Duration": "5d"}
        })),
        one(
            "Value '5d' at 'rotationRules.duration' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [0-9]+h"
        )
    );
    // The pattern must match the whole value, not a substring.
    assert_eq!(
        validation::<RotateSecretRequest>(json!({
            "SecretId": "s",
            "RotationRules": {"ScheduleExpression": "rate(4 hours);"}
        })),
        one(
            "Value 'rate(4 hours);' at 'rotationRules.scheduleExpression' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+"
        )
    );
    // Java's \d is ASCII-only.
    assert_eq!(
        validation::<RemoveRegionsFromReplicationRequest>(json!({
            "SecretId": "s",
            "RemoveReplicaRegions": ["us-east-1", "us-east-١"]
        })),
        one(
            "Value 'us-east-١' at 'removeReplicaRegions.2.member' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$"
        )
    );
}

#[test]
fn both_length_and_pattern_reported_for_one_member() {
    assert_eq!(
        validation::<RotateSecretRequest>(
            json!({"SecretId": "s", "RotationRules": {"Duration": "1234d"}})
        ),
        "2 validation errors detected: \
         Value '1234d' at 'rotationRules.duration' failed to satisfy constraint: \
         Member must have length less than or equal to 3; \
         Value '1234d' at 'rotationRules.duration' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [0-9]+h"
    );
}

#[test]
fn sensitive_members_are_never_echoed() {
    let token = "Sekr3t!";
    let message = validation::<PutSecretValueRequest>(json!({
        "SecretId": "s",
        "RotationToken": token,
        "SecretString": "",
    }));
    assert_eq!(
        message,
        "3 validation errors detected: \
         Value at 'secretString' failed to satisfy constraint: \
         Member must have length greater than or equal to 1; \
         Value at 'rotationToken' failed to satisfy constraint: \
         Member must have length greater than or equal to 36; \
         Value at 'rotationToken' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$"
    );
    assert!(!message.contains("Sekr"));
    assert_eq!(
        validation::<UpdateSecretRequest>(json!({"SecretId": "s", "SecretBinary": ""})),
        one("Value at 'secretBinary' failed to satisfy constraint: \
             Member must have length greater than or equal to 1")
    );
}

#[test]
fn secret_string_limit_is_utf8_bytes() {
    let ascii = "a".repeat(65_536);
    assert!(
        decode::<CreateSecretRequest>(&body(&json!({"Name": "n", "SecretString": ascii}))).is_ok()
    );

    let too_long = "a".repeat(65_537);
    let expected = one("Value at 'secretString' failed to satisfy constraint: \
         Member must have length less than or equal to 65536");
    assert_eq!(
        validation::<CreateSecretRequest>(json!({"Name": "n", "SecretString": too_long})),
        expected
    );
    // 21,846 code points but 65,538 bytes.
    let euros = "€".repeat(21_846);
    assert_eq!(
        validation::<PutSecretValueRequest>(json!({"SecretId": "s", "SecretString": euros})),
        expected
    );
}

#[test]
fn secret_binary_limit_is_decoded_bytes() {
    use base64::Engine as _;
    let encode64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
    assert!(
        decode::<PutSecretValueRequest>(&body(
            &json!({"SecretId": "s", "SecretBinary": encode64(65_536)})
        ))
        .is_ok()
    );
    assert_eq!(
        validation::<PutSecretValueRequest>(
            json!({"SecretId": "s", "SecretBinary": encode64(65_537)})
        ),
        one("Value at 'secretBinary' failed to satisfy constraint: \
             Member must have length less than or equal to 65536")
    );
}

#[test]
fn list_item_paths() {
    assert_eq!(
        validation::<TagResourceRequest>(json!({
            "SecretId": "s",
            "Tags": [{"Key": "", "Value": "v"}, {"Key": "ok", "Value": "x".repeat(257)}]
        })),
        format!(
            "2 validation errors detected: \
             Value '' at 'tags.1.member.key' failed to satisfy constraint: \
             Member must have length greater than or equal to 1; \
             Value '{}' at 'tags.2.member.value' failed to satisfy constraint: \
             Member must have length less than or equal to 256",
            "x".repeat(257)
        )
    );
    assert_eq!(
        validation::<PutSecretValueRequest>(json!({"SecretId": "s", "VersionStages": [""]})),
        one(
            "Value '' at 'versionStages.1.member' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )
    );
    assert_eq!(
        validation::<ListSecretsRequest>(json!({
            "Filters": [
                {"Key": "name", "Values": ["ok"]},
                {"Key": "tag-key", "Values": ["a", "b", "bad#value"]}
            ]
        })),
        one(
            "Value 'bad#value' at 'filters.2.member.values.3.member' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$"
        )
    );
    assert_eq!(
        validation::<UntagResourceRequest>(json!({"SecretId": "s", "TagKeys": ["k", ""]})),
        one(
            "Value '' at 'tagKeys.2.member' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )
    );
    assert_eq!(
        validation::<ReplicateSecretToRegionsRequest>(json!({
            "SecretId": "s",
            "AddReplicaRegions": [{"KmsKeyId": "k"}, {"Region": "Mars"}]
        })),
        one(
            "Value 'Mars' at 'addReplicaRegions.2.member.region' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$"
        )
    );
}

#[test]
fn list_lengths_echo_java_style() {
    let ids: Vec<String> = (1..=21).map(|i| format!("s{i}")).collect();
    assert_eq!(
        validation::<BatchGetSecretValueRequest>(json!({"SecretIdList": ids})),
        one(&format!(
            "Value '[{}]' at 'secretIdList' failed to satisfy constraint: \
             Member must have length less than or equal to 20",
            ids.join(", ")
        ))
    );
    assert_eq!(
        validation::<PutSecretValueRequest>(json!({"SecretId": "s", "VersionStages": []})),
        one(
            "Value '[]' at 'versionStages' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )
    );
    let filters: Vec<Value> = (0..11)
        .map(|_| json!({"Key": "name", "Values": ["a", "b"]}))
        .collect();
    let echoed = ["{Key=name, Values=[a, b]}"; 11].join(", ");
    assert_eq!(
        validation::<ListSecretsRequest>(json!({"Filters": filters})),
        one(&format!(
            "Value '[{echoed}]' at 'filters' failed to satisfy constraint: \
             Member must have length less than or equal to 10"
        ))
    );
    assert_eq!(
        validation::<ListSecretsRequest>(json!({"Filters": [{"Key": "name", "Values": []}]})),
        one(
            "Value '[]' at 'filters.1.member.values' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )
    );
}

#[test]
fn multiple_errors_in_member_order() {
    assert_eq!(
        validation::<UpdateSecretVersionStageRequest>(json!({
            "MoveToVersionId": "short",
            "VersionStage": "",
        })),
        "3 validation errors detected: \
         Value null at 'secretId' failed to satisfy constraint: Member must not be null; \
         Value '' at 'versionStage' failed to satisfy constraint: \
         Member must have length greater than or equal to 1; \
         Value 'short' at 'moveToVersionId' failed to satisfy constraint: \
         Member must have length greater than or equal to 32"
    );
}

// ------------------------------------------------------------------------------------------------
// Serialization errors
// ------------------------------------------------------------------------------------------------

#[test]
fn wrong_json_is_a_serialization_error() {
    let cases: [(&[u8], &str); 16] = [
        (b"not json", msg::NOT_AN_OBJECT),
        (b"[]", msg::NOT_AN_OBJECT),
        (b"null", msg::NOT_AN_OBJECT),
        (b"\"SecretId\"", msg::NOT_AN_OBJECT),
        (b"{", msg::MALFORMED_JSON),
        (b"{\"SecretId\":\"s\"", msg::MALFORMED_JSON),
        (b"{} x", msg::MALFORMED_JSON),
        (b"{\"SecretId\":\"s\",}", msg::MALFORMED_JSON),
        (b"{\"SecretId\":\"\xff\"}", msg::MALFORMED_JSON),
        (b"{\"SecretId\":5}", msg::TYPE_MISMATCH),
        (b"{\"SecretId\":true}", msg::TYPE_MISMATCH),
        (b"{\"SecretId\":{}}", msg::MAP_NOT_EXPECTED),
        (b"{\"SecretId\":[\"s\"]}", msg::LIST_NOT_EXPECTED),
        (
            b"{\"SecretId\":\"s\",\"SecretId\":\"t\"}",
            msg::DUPLICATE_MEMBER,
        ),
        (
            b"{\"SecretId\":\"s\",\"VersionStages\":[\"a\",null]}",
            msg::TYPE_MISMATCH,
        ),
        (
            b"{\"SecretId\":\"s\",\"SecretBinary\":\"%%%\"}",
            msg::INVALID_BASE64,
        ),
    ];
    for (raw, expected) in cases {
        let message = serialization::<PutSecretValueRequest>(raw);
        assert_eq!(message, expected, "{}", String::from_utf8_lossy(raw));
        assert_eq!(
            decode::<PutSecretValueRequest>(raw).unwrap_err().code(),
            "SerializationException"
        );
    }
}

#[test]
fn wrong_types_in_numbers_booleans_and_structures() {
    let cases: [(&[u8], &str); 8] = [
        (br#"{"MaxResults":"5"}"#, msg::TYPE_MISMATCH),
        (br#"{"MaxResults":1.5}"#, msg::TYPE_MISMATCH),
        (br#"{"MaxResults":3000000000}"#, msg::TYPE_MISMATCH),
        (br#"{"IncludePlannedDeletion":"true"}"#, msg::TYPE_MISMATCH),
        (br#"{"Filters":{"Key":"name"}}"#, msg::MAP_NOT_EXPECTED),
        // A structure sent as an array is not accepted positionally.
        (br#"{"Filters":[["name",["x"]]]}"#, msg::LIST_NOT_EXPECTED),
        (br#"{"Filters":["name"]}"#, msg::TYPE_MISMATCH),
        (
            br#"{"Filters":[{"Key":"name","Key":"all"}]}"#,
            msg::DUPLICATE_MEMBER,
        ),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            serialization::<ListSecretsRequest>(raw),
            expected,
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    assert_eq!(
        serialization::<RotateSecretRequest>(br#"{"SecretId":"s","RotationRules":[30]}"#),
        msg::LIST_NOT_EXPECTED
    );
}

#[test]
fn serialization_messages_never_echo_the_body() {
    for raw in [
        &br#"{"SecretId":"s","SecretString":{"hunter2":"hunter2"}}"#[..],
        br#"{"SecretId":"s","SecretString":["hunter2"]}"#,
        br#"{"SecretId":"s","VersionStages":"hunter2"}"#,
        br#"{"SecretId":"s","SecretBinary":"hunter2"}"#,
        br#"{"SecretId":"s","hunter2"}"#,
        br#"{"SecretId":"s","SecretString":"hunter2"} hunter2"#,
    ] {
        let message = serialization::<PutSecretValueRequest>(raw);
        assert!(!message.contains("hunter2"), "{message}");
        assert!(!message.contains("line"), "{message}");
    }
}

// ------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------

#[test]
fn responses_omit_absent_members() {
    let response = GetSecretValueResponse {
        arn: Some("arn:aws:secretsmanager:us-east-1:111122223333:secret:b-AbCdEf".into()),
        name: Some("b".into()),
        version_id: Some("EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE".into()),
        secret_binary: Some(SensitiveBlob::new(vec![0, 1, 2, 0xff])),
        version_stages: Some(vec!["AWSCURRENT".into()]),
        created_date: Some(EpochTime::from_millis(1_523_477_145_713)),
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(encode(&response)).unwrap(),
        r#"{"ARN":"arn:aws:secretsmanager:us-east-1:111122223333:secret:b-AbCdEf","Name":"b","VersionId":"EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE","SecretBinary":"AAEC/w==","VersionStages":["AWSCURRENT"],"CreatedDate":1523477145.713}"#
    );
    assert_eq!(encode(&GetSecretValueResponse::default()), b"{}");
    assert!(!format!("{response:?}").contains("AAEC"));
}

#[test]
fn describe_secret_response_shapes() {
    let response = DescribeSecretResponse {
        name: Some("n".into()),
        rotation_enabled: Some(true),
        rotation_rules: Some(RotationRulesType {
            automatically_after_days: Some(30),
            ..Default::default()
        }),
        tags: Some(vec![]),
        version_ids_to_stages: Some(BTreeMap::from([(
            "v1".to_owned(),
            vec!["AWSCURRENT".to_owned(), "AWSPREVIOUS".to_owned()],
        )])),
        last_accessed_date: Some(EpochTime::from_millis(1_523_923_200_000)),
        replication_status: Some(vec![ReplicationStatusType {
            region: Some("eu-west-1".into()),
            status: Some(STATUS_TYPE_VALUES[0].into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert_eq!(
        String::from_utf8(encode(&response)).unwrap(),
        r#"{"Name":"n","RotationEnabled":true,"RotationRules":{"AutomaticallyAfterDays":30},"LastAccessedDate":1523923200,"Tags":[],"VersionIdsToStages":{"v1":["AWSCURRENT","AWSPREVIOUS"]},"ReplicationStatus":[{"Region":"eu-west-1","Status":"InSync"}]}"#
    );
    let validate = ValidateResourcePolicyResponse {
        policy_validation_passed: Some(true),
        validation_errors: Some(vec![]),
    };
    assert_eq!(
        encode(&validate),
        br#"{"PolicyValidationPassed":true,"ValidationErrors":[]}"#
    );
    let random = GetRandomPasswordResponse {
        random_password: Some(SensitiveString::new("pw".into())),
    };
    assert_eq!(encode(&random), br#"{"RandomPassword":"pw"}"#);
    assert_eq!(
        format!("{random:?}"),
        "GetRandomPasswordResponse { random_password: Some([REDACTED]) }"
    );
}

#[test]
fn every_model_pattern_compiles() {
    for pattern in &PATTERNS {
        let _ = pattern.regex();
    }
    assert_eq!(PATTERNS.len(), 5);
}

#[test]
fn blob_type_is_exported_for_non_sensitive_blobs() {
    // The model has no non-sensitive blob today; the type still has to exist for the generator.
    assert_eq!(encode(&Blob::new(vec![1])), br#""AQ==""#);
}

// ------------------------------------------------------------------------------------------------
// Properties: decoding never panics
// ------------------------------------------------------------------------------------------------

const MEMBER_NAMES: &[&str] = &[
    "SecretId",
    "Name",
    "ClientRequestToken",
    "Description",
    "KmsKeyId",
    "SecretBinary",
    "SecretString",
    "Tags",
    "Key",
    "Value",
    "Values",
    "AddReplicaRegions",
    "Region",
    "ForceOverwriteReplicaSecret",
    "Type",
    "VersionId",
    "VersionStage",
    "VersionStages",
    "RotationToken",
    "MaxResults",
    "NextToken",
    "Filters",
    "SortOrder",
    "SortBy",
    "IncludePlannedDeletion",
    "IncludeDeprecated",
    "SecretIdList",
    "RecoveryWindowInDays",
    "ForceDeleteWithoutRecovery",
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "RotationRules",
    "AutomaticallyAfterDays",
    "Duration",
    "ScheduleExpression",
    "RotationLambdaARN",
    "RotateImmediately",
    "ExternalSecretRotationMetadata",
    "ExternalSecretRotationRoleArn",
    "ResourcePolicy",
    "BlockPublicPolicy",
    "TagKeys",
    "RemoveReplicaRegions",
    "RemoveFromVersionId",
    "MoveToVersionId",
];

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(MEMBER_NAMES).prop_map(str::to_owned),
        1 => "[A-Za-z]{0,6}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-5i64..5000).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z]{1,5}(-[a-z]{1,5}){0,2}-[0-9]".prop_map(Value::String),
        "([A-Za-z0-9+/]{4}){0,3}([A-Za-z0-9+/]{2}==)?".prop_map(Value::String),
        proptest::sample::select(&["asc", "name", "tag-key", "24h", "rate(1 days)", ""][..])
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((member_name(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn request_object() -> impl Strategy<Value = Value> {
    proptest::collection::vec((member_name(), json_value()), 0..8)
        .prop_map(|members| Value::Object(members.into_iter().collect()))
}

const FIXED_SERIALIZATION_MESSAGES: [&str; 8] = [
    msg::NOT_AN_OBJECT,
    msg::MALFORMED_JSON,
    msg::MAP_NOT_EXPECTED,
    msg::LIST_NOT_EXPECTED,
    msg::TYPE_MISMATCH,
    msg::DUPLICATE_MEMBER,
    msg::INVALID_BASE64,
    msg::INVALID_TIMESTAMP,
];

fn check_every_operation(raw: &[u8]) {
    for op in Operation::ALL {
        match Request::decode(op, raw) {
            Ok(request) => assert_eq!(request.operation(), op),
            Err(WireDecodeError::Serialization(message)) => {
                assert!(
                    FIXED_SERIALIZATION_MESSAGES.contains(&message.as_str()),
                    "{message}"
                );
            }
            Err(WireDecodeError::Validation(message)) => {
                assert!(message.contains(" validation error"), "{message}");
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_every_operation(&raw);
    }

    #[test]
    fn arbitrary_json_values_never_panic(value in json_value()) {
        check_every_operation(&body(&value));
    }

    #[test]
    fn arbitrary_request_objects_never_panic(value in request_object()) {
        check_every_operation(&body(&value));
    }

    #[test]
    fn mutated_json_never_panics(value in request_object(), cut in any::<usize>(), byte in any::<u8>()) {
        let mut raw = body(&value);
        let at = cut % (raw.len() + 1);
        raw.insert(at, byte);
        check_every_operation(&raw);
        raw.truncate(at);
        check_every_operation(&raw);
    }

    #[test]
    fn sensitive_values_never_reach_messages(
        secret in "S3CR3T[ -~]{0,40}",
        other in request_object(),
    ) {
        let mut value = other;
        let members = value.as_object_mut().unwrap();
        for name in ["SecretString", "RotationToken"] {
            members.insert(name.to_owned(), Value::String(secret.clone()));
        }
        for op in Operation::ALL {
            if let Err(err) = Request::decode(op, &body(&value)) {
                prop_assert!(!err.message().contains("S3CR3T"), "{}", err.message());
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Cross-checks against botocore and the generator
// ------------------------------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn botocore_available() -> bool {
    let available = Command::new("python3")
        .args(["-c", "import botocore"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        eprintln!("SKIPPED: python3 with botocore is not installed (CI has both)");
    }
    available
}

#[test]
fn generated_model_is_up_to_date() {
    if !botocore_available() {
        return;
    }
    let output = Command::new("python3")
        .arg(repo_root().join("tools/codegen/wire_model.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "model.rs is stale; run `python3 tools/codegen/wire_model.py`\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn botocore_parses_our_responses() {
    if !botocore_available() {
        return;
    }
    let response = DescribeSecretResponse {
        name: Some("n".into()),
        created_date: Some(EpochTime::from_millis(1_523_477_145_713)),
        last_changed_date: Some(EpochTime::from_millis(1_523_923_200_000)),
        deleted_date: Some(EpochTime::from_millis(-1_500)),
        tags: Some(vec![Tag {
            key: Some("k".into()),
            value: Some("v".into()),
        }]),
        ..Default::default()
    };
    let secret = GetSecretValueResponse {
        secret_binary: Some(SensitiveBlob::new(vec![0, 1, 2, 0xff])),
        created_date: Some(EpochTime::from_millis(1)),
        ..Default::default()
    };
    let script = r#"
import json, sys
import botocore.session
from botocore.parsers import create_parser
model = botocore.session.get_session().get_service_model("secretsmanager")
parser = create_parser("json")
out = {}
for op, line in zip(["DescribeSecret", "GetSecretValue"], sys.stdin.read().splitlines()):
    shape = model.operation_model(op).output_shape
    parsed = parser.parse({"status_code": 200, "headers": {}, "body": line.encode()}, shape)
    parsed.pop("ResponseMetadata", None)
    out[op] = {
        k: (round(v.timestamp() * 1000) if hasattr(v, "timestamp") else
            (list(v) if isinstance(v, bytes) else v))
        for k, v in parsed.items()
    }
print(json.dumps(out, sort_keys=True))
"#;
    let mut input = encode(&response);
    input.push(b'\n');
    input.extend(encode(&secret));
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        parsed,
        json!({
            "DescribeSecret": {
                "Name": "n",
                "CreatedDate": 1_523_477_145_713_i64,
                "LastChangedDate": 1_523_923_200_000_i64,
                "DeletedDate": -1_500,
                "Tags": [{"Key": "k", "Value": "v"}],
            },
            "GetSecretValue": {"SecretBinary": [0, 1, 2, 255], "CreatedDate": 1},
        })
    );
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let depth = 100_000;
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
        // serde_json skips unknown members without recursing.
        let unknown = format!("{{\"SecretId\":\"s\",\"Unknown\":{nested}}}");
        assert!(decode::<GetSecretValueRequest>(unknown.as_bytes()).is_ok());
        // A typed member stops at the first wrong token.
        let typed = format!("{{\"SecretId\":\"s\",\"Filters\":{nested}}}");
        assert!(decode::<ListSecretsRequest>(typed.as_bytes()).is_err());
    }
}
