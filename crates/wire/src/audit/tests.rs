//! The audit record's `requestParameters`, `responseElements` and `readOnly` for every served
//! operation of every service: botocore serializes requests with every member set (secrets to a
//! marker), an independent reading of botocore's model says what the record must hold, and the
//! generated code must agree and never hold the marker.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::codec::{Blob, EpochTime, SensitiveBlob, SensitiveString};
use crate::query::test_support::{botocore_available, python_json};
use crate::{cloudtrail, iam, kms, query, secretsmanager, sts};

const MARKER: &str = "SECRET-MARKER";

fn contains_marker(value: &Value) -> bool {
    value.to_string().contains(MARKER)
}

// ------------------------------------------------------------------------------------------------
// The runtime
// ------------------------------------------------------------------------------------------------

#[test]
fn timestamps_as_cloudtrail_writes_them() {
    // AWS's CreateKey record: 2022-08-10T22:38:27Z is "Aug 10, 2022, 10:38:27 PM".
    assert_eq!(
        timestamp_text(1_660_171_107_000),
        "Aug 10, 2022, 10:38:27 PM"
    );
    assert_eq!(
        timestamp_text(1_660_171_107_999),
        "Aug 10, 2022, 10:38:27 PM"
    );
    assert_eq!(timestamp_text(1_736_067_787_000), "Jan 5, 2025, 9:03:07 AM");
    assert_eq!(timestamp_text(0), "Jan 1, 1970, 12:00:00 AM");
    assert_eq!(timestamp_text(43_200_000), "Jan 1, 1970, 12:00:00 PM");
    assert_eq!(
        timestamp_text(i64::MAX),
        timestamp_text(253_402_300_799_999)
    );
    assert_eq!(timestamp_text(i64::MIN), "Jan 2, -9999, 1:59:59 AM");
}

#[test]
fn values_maps_and_empty_objects() {
    assert_eq!(
        BTreeMap::from([("SecretARN".to_owned(), "a".to_owned())]).audit_value(),
        Some(json!({"SecretARN": "a"}))
    );
    assert_eq!(vec![1_i32, 2].audit_value(), Some(json!([1, 2])));
    assert_eq!(
        EpochTime::from_millis(0).audit_value(),
        Some(json!("Jan 1, 1970, 12:00:00 AM"))
    );
    let mut members = Map::new();
    member(&mut members, "a", None::<&String>);
    member(&mut members, "b", Some(&true));
    assert_eq!(Value::Object(members), json!({"b": true}));
    assert_eq!(
        top_level(&secretsmanager::model::ListSecretsRequest::default()),
        Value::Null
    );
    assert_eq!(
        top_level(&sts::model::GetCallerIdentityRequest {}),
        Value::Null
    );
}

// ------------------------------------------------------------------------------------------------
// readOnly and which responses are recorded
// ------------------------------------------------------------------------------------------------

/// The rule of companion spec §7.2, restated: names starting with Get, Describe, List, BatchGet,
/// plus the listed operations.
fn expected_read_only(name: &str, also: &[&str]) -> bool {
    ["Get", "Describe", "List", "BatchGet"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || also.contains(&name)
}

#[test]
fn read_only_and_recorded_responses() {
    use secretsmanager::model::Operation as Sm;
    for op in Sm::ALL {
        let read_only = expected_read_only(op.name(), &["ValidateResourcePolicy"]);
        assert_eq!(op.read_only(), read_only, "{op:?}");
        assert_eq!(
            op.records_response(),
            op.has_output() && !read_only,
            "{op:?}"
        );
    }
    // Spec §7.3: never the secret value or the password.
    for op in [
        Sm::GetSecretValue,
        Sm::BatchGetSecretValue,
        Sm::GetRandomPassword,
    ] {
        assert!(op.read_only() && !op.records_response(), "{op:?}");
    }
    assert!(!Sm::PutSecretValue.read_only() && Sm::PutSecretValue.records_response());

    use kms::model::Operation as Kms;
    let crypto = [
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
    ];
    for op in Kms::ALL {
        let read_only = expected_read_only(op.name(), &crypto);
        assert_eq!(op.read_only(), read_only, "{op:?}");
        assert_eq!(
            op.records_response(),
            op.has_output() && !read_only,
            "{op:?}"
        );
    }
    assert!(Kms::Decrypt.read_only() && !Kms::Decrypt.records_response());
    assert!(!Kms::CreateKey.read_only() && Kms::CreateKey.records_response());
    assert!(!Kms::EnableKey.read_only() && !Kms::EnableKey.records_response());

    use iam::model::Operation as Iam;
    for op in Iam::ALL {
        let read_only = expected_read_only(op.name(), &[]);
        assert_eq!(op.read_only(), read_only, "{op:?}");
        assert_eq!(
            op.records_response(),
            op.has_output() && !read_only,
            "{op:?}"
        );
    }
    assert!(Iam::CreateAccessKey.records_response());

    use sts::model::Operation as Sts;
    for op in Sts::ALL {
        let read_only = expected_read_only(op.name(), &[]);
        assert_eq!(op.read_only(), read_only, "{op:?}");
        assert_eq!(
            op.records_response(),
            op.has_output() && !read_only,
            "{op:?}"
        );
    }

    use cloudtrail::model::Operation as Ct;
    assert!(Ct::LookupEvents.read_only() && !Ct::LookupEvents.records_response());
}

// ------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------

#[test]
fn secrets_manager_responses() {
    use secretsmanager::model::*;
    let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-Ab12Cd";
    let value = GetSecretValueResponse {
        arn: Some(arn.into()),
        secret_string: Some(SensitiveString::new(MARKER.into())),
        secret_binary: Some(SensitiveBlob::new(MARKER.as_bytes().to_vec())),
        ..Default::default()
    };
    assert_eq!(audit_response_elements(&value), Value::Null);
    let batch = BatchGetSecretValueResponse {
        secret_values: Some(vec![SecretValueEntry {
            secret_string: Some(SensitiveString::new(MARKER.into())),
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert_eq!(audit_response_elements(&batch), Value::Null);
    let password = GetRandomPasswordResponse {
        random_password: Some(SensitiveString::new(MARKER.into())),
    };
    assert_eq!(audit_response_elements(&password), Value::Null);
    assert_eq!(
        audit_response_elements(&DescribeSecretResponse {
            arn: Some(arn.into()),
            ..Default::default()
        }),
        Value::Null
    );

    // AWS lower-cases the first letter only: `ARN` is `aRN`.
    let put = PutSecretValueResponse {
        arn: Some(arn.into()),
        name: Some("prod/db".into()),
        version_id: Some("EXAMPLE1-90ab-cdef-fedc-ba987SECRET1".into()),
        version_stages: Some(vec!["AWSCURRENT".into()]),
    };
    assert_eq!(
        audit_response_elements(&put),
        json!({"aRN": arn, "name": "prod/db", "versionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
               "versionStages": ["AWSCURRENT"]})
    );
    let deleted = DeleteSecretResponse {
        arn: Some(arn.into()),
        name: Some("prod/db".into()),
        deletion_date: Some(EpochTime::from_millis(1_660_171_107_000)),
    };
    assert_eq!(
        audit_response_elements(&deleted),
        json!({"aRN": arn, "name": "prod/db", "deletionDate": "Aug 10, 2022, 10:38:27 PM"})
    );
    // No output: the empty response of TagResource is `null`.
    assert_eq!(
        audit_response_elements(&TagResourceResponse {}),
        Value::Null
    );
}

#[test]
fn kms_responses() {
    use kms::model::*;
    let key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let plaintext = || Some(SensitiveBlob::new(MARKER.as_bytes().to_vec()));
    assert_eq!(
        audit_response_elements(&DecryptResponse {
            key_id: Some(key_arn.into()),
            plaintext: plaintext(),
            ..Default::default()
        }),
        Value::Null
    );
    assert_eq!(
        audit_response_elements(&GenerateDataKeyResponse {
            plaintext: plaintext(),
            ciphertext_blob: Some(Blob::new(vec![1])),
            ..Default::default()
        }),
        Value::Null
    );
    assert_eq!(
        audit_response_elements(&GenerateRandomResponse {
            plaintext: plaintext(),
            ..Default::default()
        }),
        Value::Null
    );
    for elements in [
        audit_response_elements(&EncryptResponse::default()),
        audit_response_elements(&ReEncryptResponse::default()),
        audit_response_elements(&GenerateDataKeyWithoutPlaintextResponse::default()),
        audit_response_elements(&EnableKeyResponse {}),
    ] {
        assert_eq!(elements, Value::Null);
    }

    // AWS's CreateKey record, with the literal first-letter rule for `AWSAccountId`.
    let created = CreateKeyResponse {
        key_metadata: Some(KeyMetadata {
            aws_account_id: Some("111122223333".into()),
            key_id: Some("1234abcd-12ab-34cd-56ef-1234567890ab".into()),
            arn: Some(key_arn.into()),
            creation_date: Some(EpochTime::from_millis(1_660_171_107_000)),
            enabled: Some(true),
            description: Some(String::new()),
            encryption_algorithms: Some(vec!["SYMMETRIC_DEFAULT".into()]),
            multi_region: Some(false),
            ..Default::default()
        }),
    };
    assert_eq!(
        audit_response_elements(&created),
        json!({"keyMetadata": {
            "aWSAccountId": "111122223333",
            "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn": key_arn,
            "creationDate": "Aug 10, 2022, 10:38:27 PM",
            "enabled": true,
            "description": "",
            "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
            "multiRegion": false,
        }})
    );
}

#[test]
fn iam_create_access_key_never_records_the_secret_key() {
    use iam::model::*;
    let response = CreateAccessKeyResponse {
        access_key: Some(AccessKey {
            user_name: Some("alice".into()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            status: Some("Active".into()),
            secret_access_key: Some(SensitiveString::new(MARKER.into())),
            create_date: Some(EpochTime::from_millis(1_660_171_107_000)),
        }),
    };
    let elements = audit_response_elements(&response);
    assert!(!contains_marker(&elements));
    assert_eq!(
        elements,
        json!({"accessKey": {"userName": "alice", "accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                             "status": "Active", "createDate": "Aug 10, 2022, 10:38:27 PM"}})
    );
    // Read-only: nothing recorded, whatever the response holds.
    assert_eq!(
        audit_response_elements(&ListAccessKeysResponse::default()),
        Value::Null
    );
    assert_eq!(
        audit_response_elements(&DeleteAccessKeyResponse {}),
        Value::Null
    );
}

#[test]
fn sts_responses_never_record_a_secret_key_or_session_token() {
    use sts::model::*;
    let credentials = || Credentials {
        access_key_id: Some("ASIAEXAMPLEKEY000001".into()),
        secret_access_key: Some(SensitiveString::new(MARKER.into())),
        session_token: Some(MARKER.into()),
        expiration: Some(EpochTime::from_millis(1_660_171_107_000)),
    };
    let response = AssumeRoleResponse {
        credentials: Some(credentials()),
        assumed_role_user: Some(AssumedRoleUser {
            assumed_role_id: Some("AROAEXAMPLEROLEID0001:session1".into()),
            arn: Some("arn:aws:sts::111122223333:assumed-role/app/session1".into()),
        }),
        packed_policy_size: Some(6),
        source_identity: None,
    };
    let elements = audit_response_elements(&response);
    assert!(!contains_marker(&elements), "{elements}");
    assert_eq!(
        elements,
        json!({
            "credentials": {"accessKeyId": "ASIAEXAMPLEKEY000001",
                            "expiration": "Aug 10, 2022, 10:38:27 PM"},
            "assumedRoleUser": {"assumedRoleId": "AROAEXAMPLEROLEID0001:session1",
                                "arn": "arn:aws:sts::111122223333:assumed-role/app/session1"},
            "packedPolicySize": 6,
        })
    );
    let session = GetSessionTokenResponse {
        credentials: Some(credentials()),
    };
    assert_eq!(audit_response_elements(&session), Value::Null);
    assert_eq!(
        audit_response_elements(&GetCallerIdentityResponse::default()),
        Value::Null
    );
}

#[test]
fn cloudtrail_lookup_events_records_no_response() {
    use cloudtrail::model::*;
    let response = LookupEventsResponse {
        events: Some(vec![Event {
            cloud_trail_event: Some("{}".into()),
            ..Default::default()
        }]),
        next_token: Some("t".into()),
    };
    assert_eq!(audit_response_elements(&response), Value::Null);
}

// ------------------------------------------------------------------------------------------------
// Requests: every operation, every member, against botocore
// ------------------------------------------------------------------------------------------------

/// Members never recorded although botocore does not mark them sensitive (the STS generator's
/// redaction list, restated).
fn redacted() -> Value {
    json!({
        "sts": [["Credentials", "SessionToken"], ["AssumeRoleRequest", "TokenCode"],
                ["GetSessionTokenRequest", "TokenCode"], ["ProvidedContext", "ContextAssertion"]],
    })
}

/// For each `[service, operation]`: a request with every member set (down to one item per list
/// and one entry per map), secrets and redacted members set to the marker, serialized by
/// botocore (JSON body or form body); and what the audit record must hold, read independently
/// from the raw model: first letter lower-cased, sensitive (member, shape, or a list or map of
/// such) and redacted members dropped, blobs dropped, timestamps in CloudTrail's text form, map
/// keys untouched, an empty top level `null`.
const BOTOCORE_AUDIT: &str = r#"
import datetime, json, sys
from urllib.parse import urlencode
import botocore.session
from botocore.serialize import create_serializer

MARKER = "SECRET-MARKER"
WHEN = datetime.datetime(2022, 8, 10, 22, 38, 27, tzinfo=datetime.timezone.utc)
session = botocore.session.get_session()
loader = session.get_component("data_loader")
request = json.load(sys.stdin)
cases, redacted = request["cases"], request["redacted"]
models = {}

def sensitive_value(raw, name):
    shape = raw["shapes"][name]
    if shape.get("sensitive"):
        return True
    if shape["type"] == "list":
        return sensitive_value(raw, shape["member"]["shape"])
    if shape["type"] == "map":
        return sensitive_value(raw, shape["key"]["shape"]) or sensitive_value(raw, shape["value"]["shape"])
    return False

def binary(raw, name):
    shape = raw["shapes"][name]
    if shape["type"] == "list":
        return binary(raw, shape["member"]["shape"])
    if shape["type"] == "map":
        return binary(raw, shape["value"]["shape"])
    return shape["type"] == "blob"

def secret(service, raw, struct, member, spec):
    return (spec.get("sensitive") or sensitive_value(raw, spec["shape"])
            or [struct, member] in redacted.get(service, []))

def fill(raw, name, hidden):
    shape = raw["shapes"][name]
    t = shape["type"]
    if t == "structure":
        return {m: fill(raw, spec["shape"], hidden or secret(service, raw, name, m, spec))
                for m, spec in shape.get("members", {}).items()}
    if t == "list":
        return [fill(raw, shape["member"]["shape"], hidden)]
    if t == "map":
        return {"Key-\u00e9": fill(raw, shape["value"]["shape"], hidden)}
    if t == "string":
        return MARKER if hidden else "v"
    if t == "blob":
        return MARKER.encode() if hidden else b"binary"
    if t in ("integer", "long"):
        return 7
    if t == "boolean":
        return True
    if t == "timestamp":
        return WHEN
    raise Exception("no value for " + t)

def expect(raw, name, value):
    shape = raw["shapes"][name]
    t = shape["type"]
    if t == "structure":
        out = {}
        for m, spec in shape.get("members", {}).items():
            if m not in value or secret(service, raw, name, m, spec) or binary(raw, spec["shape"]):
                continue
            out[m[0].lower() + m[1:]] = expect(raw, spec["shape"], value[m])
        return out
    if t == "list":
        return [expect(raw, shape["member"]["shape"], v) for v in value]
    if t == "map":
        return {k: expect(raw, shape["value"]["shape"], v) for k, v in value.items()}
    if t == "timestamp":
        return value.strftime("%b %-d, %Y, %-I:%M:%S %p")
    return value

out = []
for service, op_name in cases:
    if service not in models:
        model = session.get_service_model(service)
        raw = loader.load_service_model(service, "service-2", model.api_version)
        models[service] = (model, raw, create_serializer(model.metadata["protocol"], include_validation=False))
    model, raw, serializer = models[service]
    op = model.operation_model(op_name)
    params = fill(raw, op.input_shape.name, False) if op.input_shape else {}
    expected = expect(raw, op.input_shape.name, params) if op.input_shape else {}
    sent = serializer.serialize_to_request(params, op)
    if model.metadata["protocol"] == "query":
        pairs = [(k.encode("utf-8"), str(v).encode("utf-8")) for k, v in sent["body"].items()]
        body = urlencode(pairs, doseq=True)
    else:
        body = sent["body"].decode()
    out.append({"body": body, "expected": expected or None})
print(json.dumps(out))
"#;

/// Decodes a botocore-serialized request (constraints unchecked: every member holds a
/// placeholder) and renders its `requestParameters`.
fn request_parameters(service: &str, operation: &str, body: &str) -> Value {
    let form = || query::decode_form(body.as_bytes(), None).unwrap();
    match service {
        "secretsmanager" => {
            let op = secretsmanager::model::Operation::ALL
                .into_iter()
                .find(|op| op.name() == operation)
                .unwrap();
            let request =
                secretsmanager::model::Request::decode_unvalidated(op, body.as_bytes()).unwrap();
            secretsmanager::model::audit_request_parameters(&request)
        }
        "kms" => {
            let op = kms::operation(&format!("{}{operation}", kms::TARGET_PREFIX)).unwrap();
            let request = kms::model::Request::decode_unvalidated(op, body.as_bytes()).unwrap();
            kms::model::audit_request_parameters(&request)
        }
        "cloudtrail" => {
            let op = cloudtrail::operation(&format!("{}{operation}", cloudtrail::TARGET_PREFIX))
                .unwrap();
            let request =
                cloudtrail::model::Request::decode_unvalidated(op, body.as_bytes()).unwrap();
            cloudtrail::model::audit_request_parameters(&request)
        }
        "iam" => {
            let op = iam::model::Operation::from_action(operation).unwrap();
            let request = iam::model::Request::decode_unvalidated(op, &form()).unwrap();
            iam::model::audit_request_parameters(&request)
        }
        "sts" => {
            let op = sts::model::Operation::from_action(operation).unwrap();
            let request = sts::model::Request::decode_unvalidated(op, &form()).unwrap();
            sts::model::audit_request_parameters(&request)
        }
        other => panic!("no service {other}"),
    }
}

#[test]
fn every_operation_records_its_request_parameters_without_secrets() {
    if !botocore_available() {
        return;
    }
    let mut cases: Vec<(&str, &str)> = Vec::new();
    cases.extend(
        secretsmanager::model::Operation::ALL
            .iter()
            .map(|op| ("secretsmanager", op.name())),
    );
    cases.extend(
        kms::model::Operation::ALL
            .iter()
            .map(|op| ("kms", op.name())),
    );
    cases.extend(
        cloudtrail::model::Operation::ALL
            .iter()
            .map(|op| ("cloudtrail", op.name())),
    );
    cases.extend(
        iam::model::Operation::ALL
            .iter()
            .map(|op| ("iam", op.name())),
    );
    cases.extend(
        sts::model::Operation::ALL
            .iter()
            .map(|op| ("sts", op.name())),
    );
    let results = python_json(
        BOTOCORE_AUDIT,
        &[],
        &json!({"cases": cases, "redacted": redacted()}),
    );
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), cases.len());

    let mut with_secrets = Vec::new();
    for ((service, operation), result) in cases.iter().zip(results) {
        let body = result["body"].as_str().unwrap();
        let parameters = request_parameters(service, operation, body);
        assert!(
            !contains_marker(&parameters),
            "{service} {operation}: {parameters}"
        );
        assert_eq!(
            parameters, result["expected"],
            "{service} {operation}\nbody: {body}"
        );
        if body.contains(MARKER) || body.contains("U0VDUkVULU1BUktFUg") {
            with_secrets.push(format!("{service}:{operation}"));
        }
    }
    // The marker really was sent where the models have secrets (base64 for blobs).
    for expected in [
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecret",
        "kms:Encrypt",
        "sts:AssumeRole",
        "sts:GetSessionToken",
    ] {
        assert!(
            with_secrets.contains(&expected.to_owned()),
            "{expected}: {with_secrets:?}"
        );
    }
}

#[test]
fn request_parameters_spelling() {
    use secretsmanager::model::*;
    let request = Request::decode(
        Operation::RotateSecret,
        br#"{"SecretId": "prod/db", "ClientRequestToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE",
             "RotationLambdaARN": "arn:aws:lambda:us-east-1:111122223333:function:rotate",
             "RotationRules": {"AutomaticallyAfterDays": 30}}"#,
    )
    .unwrap();
    assert_eq!(
        audit_request_parameters(&request),
        json!({"secretId": "prod/db", "clientRequestToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE",
               "rotationLambdaARN": "arn:aws:lambda:us-east-1:111122223333:function:rotate",
               "rotationRules": {"automaticallyAfterDays": 30}})
    );

    let request = Request::decode(
        Operation::PutSecretValue,
        format!(
            r#"{{"SecretId": "prod/db", "SecretString": "{MARKER}", "VersionStages": ["AWSPENDING"],
                "ClientRequestToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE",
                "RotationToken": "{MARKER}-0123456789abcdefghijklmnop"}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        audit_request_parameters(&request),
        json!({"secretId": "prod/db", "versionStages": ["AWSPENDING"],
               "clientRequestToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE"})
    );

    let request = Request::decode(
        Operation::CreateSecret,
        format!(
            r#"{{"Name": "prod/db", "SecretBinary": "U0VDUkVU", "SecretString": "{MARKER}", "KmsKeyId": "alias/app",
                "Tags": [{{"Key": "team", "Value": "core"}}], "AddReplicaRegions": [{{"Region": "eu-west-1"}}],
                "ClientRequestToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE"}}"#
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(
        audit_request_parameters(&request),
        json!({"name": "prod/db", "kmsKeyId": "alias/app", "tags": [{"key": "team", "value": "core"}],
               "addReplicaRegions": [{"region": "eu-west-1"}],
               "clientRequestToken": "EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE"})
    );

    // KMS: the plaintext is never recorded; encryption context keys stay as they are.
    let request = kms::model::Request::decode(
        kms::model::Operation::Encrypt,
        br#"{"KeyId": "alias/app", "Plaintext": "U0VDUkVU", "EncryptionContext": {"SecretARN": "a", "x": "y"}}"#,
    )
    .unwrap();
    assert_eq!(
        kms::model::audit_request_parameters(&request),
        json!({"keyId": "alias/app", "encryptionContext": {"SecretARN": "a", "x": "y"}})
    );
    // The ciphertext is binary: not recorded (AWS's Decrypt and ReEncrypt records omit it).
    let request = kms::model::Request::decode(
        kms::model::Operation::Decrypt,
        br#"{"CiphertextBlob": "AQID", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}"#,
    )
    .unwrap();
    assert_eq!(
        kms::model::audit_request_parameters(&request),
        json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );

    // No parameters: `null`.
    let request = Request::decode(Operation::ListSecrets, b"{}").unwrap();
    assert_eq!(audit_request_parameters(&request), Value::Null);

    // Query: from the decoded request, not the form.
    let form = query::decode_form(
        b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp\
          &RoleSessionName=session1&SerialNumber=arn%3Aaws%3Aiam%3A%3A111122223333%3Amfa%2Falice\
          &TokenCode=123456&DurationSeconds=900",
        None,
    )
    .unwrap();
    let request = sts::model::Request::decode(sts::model::Operation::AssumeRole, &form).unwrap();
    assert_eq!(
        sts::model::audit_request_parameters(&request),
        json!({"roleArn": "arn:aws:iam::111122223333:role/app", "roleSessionName": "session1",
               "serialNumber": "arn:aws:iam::111122223333:mfa/alice", "durationSeconds": 900})
    );
    let form = query::decode_form(
        b"Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F&Tags.member.1.Key=k&Tags.member.1.Value=v",
        None,
    )
    .unwrap();
    let request = iam::model::Request::decode(iam::model::Operation::CreateUser, &form).unwrap();
    assert_eq!(
        iam::model::audit_request_parameters(&request),
        json!({"userName": "alice", "path": "/team/", "tags": [{"key": "k", "value": "v"}]})
    );

    // CloudTrail: times in CloudTrail's text form.
    let request = cloudtrail::model::Request::decode(
        cloudtrail::model::Operation::LookupEvents,
        br#"{"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "GetSecretValue"}],
             "StartTime": 1660171107, "MaxResults": 5}"#,
    )
    .unwrap();
    assert_eq!(
        cloudtrail::model::audit_request_parameters(&request),
        json!({"lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "GetSecretValue"}],
               "startTime": "Aug 10, 2022, 10:38:27 PM", "maxResults": 5})
    );
}
