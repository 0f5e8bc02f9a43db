//! CloudTrail on the wire: operation lookup, decoding and validation (AWS's message grammar),
//! the conversions to and from the domain's audit lookup, error shapes, and botocore on both
//! sides — its serializer against our decoder, its parser and exception classes against our
//! responses and errors.

use coffer_domain::audit::{
    LookedUpEvent, LookupAttributeKey, LookupError, LookupEventsInput, LookupEventsOutput,
};
use serde_json::{Value, json};

use super::model::*;
use super::{API_VERSION, SIGNING_NAME, TARGET_PREFIX, convert};
use crate::codec::{self, EpochTime, WireDecodeError, msg};
use crate::errors::{AwsError, MessageKey};
use crate::query::test_support::{BOTOCORE_EXCEPTIONS, botocore_available, python_json, repo_root};

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn decode(value: &Value) -> Result<LookupEventsRequest, AwsError> {
    match super::decode(Operation::LookupEvents, &body(value))? {
        Request::LookupEvents(r) => Ok(r),
    }
}

fn validation(value: Value) -> String {
    match codec::decode::<LookupEventsRequest>(&body(&value)) {
        Err(WireDecodeError::Validation(message)) => message,
        other => panic!("expected a validation error for {value}, got {other:?}"),
    }
}

fn one(item: &str) -> String {
    format!("1 validation error detected: {item}")
}

fn json_of(error: &AwsError) -> Value {
    serde_json::from_slice(&error.to_json()).unwrap()
}

const ATTRIBUTE_KEYS: [&str; 8] = [
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];

const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-Ab12Cd";

fn sample_event() -> LookedUpEvent {
    LookedUpEvent {
        event_id: "b1e3c0de-0000-4000-8000-000000000001".into(),
        event_name: "GetSecretValue".into(),
        read_only: true,
        access_key_id: Some("ASIAEXAMPLEKEY000001".into()),
        event_time: 1_735_732_800_250,
        event_source: "secretsmanager.amazonaws.com".into(),
        username: Some("session1".into()),
        resources: vec![("AWS::SecretsManager::Secret".into(), SECRET_ARN.into())],
        cloud_trail_event:
            r#"{"eventVersion":"1.09","eventName":"GetSecretValue","readOnly":true}"#.into(),
    }
}

// ------------------------------------------------------------------------------------------------
// Operations
// ------------------------------------------------------------------------------------------------

#[test]
fn lookup_events_is_the_one_operation() {
    assert_eq!(Operation::ALL, [Operation::LookupEvents]);
    let target = format!("{TARGET_PREFIX}LookupEvents");
    assert_eq!(
        target,
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
    );
    assert_eq!(super::operation(&target), Ok(Operation::LookupEvents));
    assert_eq!(Operation::LookupEvents.name(), "LookupEvents");
    assert!(Operation::LookupEvents.has_output());
    assert_eq!((SIGNING_NAME, API_VERSION), ("cloudtrail", "2013-11-01"));
}

#[test]
fn operation_target_is_exact_and_case_sensitive() {
    for target in [
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.lookupEvents",
        "com.amazonaws.cloudtrail.v20131101.cloudtrail_20131101.LookupEvents",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents ",
        "CloudTrail_20131101.LookupEvents",
        "cloudtrail.LookupEvents",
        "LookupEvents",
        "TrentService.LookupEvents",
        // CloudTrail operations outside the subset.
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails",
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.StopLogging",
        "",
    ] {
        assert_eq!(Operation::from_target(target), None, "{target:?}");
        let err = super::operation(target).unwrap_err();
        assert_eq!(
            (err.error_type, err.status),
            ("UnknownOperationException", 400)
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Decoding and validation
// ------------------------------------------------------------------------------------------------

#[test]
fn decode_a_full_request() {
    let r = decode(&json!({
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": SECRET_ARN}],
        "StartTime": 1_735_732_800,
        "EndTime": 1_735_819_200.5,
        "EventCategory": "insight",
        "MaxResults": 50,
        "NextToken": "opaque",
    }))
    .unwrap();
    let attribute = &r.lookup_attributes.as_ref().unwrap()[0];
    assert_eq!(attribute.attribute_key.as_deref(), Some("ResourceName"));
    assert_eq!(attribute.attribute_value.as_deref(), Some(SECRET_ARN));
    assert_eq!(
        r.start_time,
        Some(EpochTime::from_millis(1_735_732_800_000))
    );
    assert_eq!(r.end_time, Some(EpochTime::from_millis(1_735_819_200_500)));
    assert_eq!(
        (
            r.event_category.as_deref(),
            r.max_results,
            r.next_token.as_deref()
        ),
        (Some("insight"), Some(50), Some("opaque"))
    );
    // Everything is optional.
    let empty = decode(&json!({})).unwrap();
    assert!(empty.lookup_attributes.is_none() && empty.max_results.is_none());
    assert!(super::decode(Operation::LookupEvents, b"").is_ok());
}

#[test]
fn model_constraints_with_aws_messages() {
    assert_eq!(
        validation(
            json!({"LookupAttributes": [{"AttributeKey": "SecretId", "AttributeValue": "x"}]})
        ),
        one(
            "Value 'SecretId' at 'lookupAttributes.1.member.attributeKey' failed to satisfy \
             constraint: Member must satisfy enum value set: [EventId, EventName, ReadOnly, \
             Username, ResourceType, ResourceName, EventSource, AccessKeyId]"
        )
    );
    assert_eq!(
        validation(
            json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]})
        ),
        one(
            "Value '' at 'lookupAttributes.1.member.attributeValue' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )
    );
    assert_eq!(
        validation(
            json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a".repeat(2001)}]})
        ),
        one(&format!(
            "Value '{}' at 'lookupAttributes.1.member.attributeValue' failed to satisfy \
             constraint: Member must have length less than or equal to 2000",
            "a".repeat(2001)
        ))
    );
    assert_eq!(
        validation(json!({"LookupAttributes": [{}]})),
        "2 validation errors detected: Value null at 'lookupAttributes.1.member.attributeKey' \
         failed to satisfy constraint: Member must not be null; Value null at \
         'lookupAttributes.1.member.attributeValue' failed to satisfy constraint: Member must \
         not be null"
    );
    assert_eq!(
        validation(json!({"EventCategory": "Management"})),
        one(
            "Value 'Management' at 'eventCategory' failed to satisfy constraint: Member must \
             satisfy enum value set: [insight]"
        )
    );
    // The second attribute is valid on the wire; the domain refuses more than one
    // (InvalidLookupAttributesException), as AWS does.
    let two = decode(&json!({"LookupAttributes": [
        {"AttributeKey": "EventName", "AttributeValue": "a"},
        {"AttributeKey": "Username", "AttributeValue": "b"},
    ]}))
    .unwrap();
    assert_eq!(two.lookup_attributes.unwrap().len(), 2);
}

#[test]
fn max_results_is_left_to_the_domain() {
    // Companion spec §7.1: out of 1–50 is InvalidMaxResultsException, not a ValidationException.
    for max in [0, 51, -1, 1000] {
        let r = decode(&json!({ "MaxResults": max })).unwrap();
        assert_eq!(convert::lookup_events(r).unwrap().max_results, Some(max));
    }
}

#[test]
fn wrong_json_is_a_serialization_error() {
    for (raw, message) in [
        (&b"[]"[..], msg::NOT_AN_OBJECT),
        (b"{", msg::MALFORMED_JSON),
        (br#"{"MaxResults": "5"}"#, msg::TYPE_MISMATCH),
        (
            br#"{"StartTime": "2025-01-01T00:00:00Z"}"#,
            msg::TYPE_MISMATCH,
        ),
        (br#"{"LookupAttributes": {}}"#, msg::MAP_NOT_EXPECTED),
        (
            br#"{"NextToken": "a", "NextToken": "b"}"#,
            msg::DUPLICATE_MEMBER,
        ),
    ] {
        let err = super::decode(Operation::LookupEvents, raw).unwrap_err();
        assert_eq!(
            (err.error_type, err.message.as_str(), err.status),
            ("SerializationException", message, 400),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
    let err = super::decode(
        Operation::LookupEvents,
        &body(&json!({"EventCategory": "x"})),
    )
    .unwrap_err();
    assert_eq!(
        (err.error_type, err.key),
        ("ValidationException", MessageKey::Framework)
    );
}

// ------------------------------------------------------------------------------------------------
// Conversions
// ------------------------------------------------------------------------------------------------

#[test]
fn every_attribute_key_converts() {
    for key in ATTRIBUTE_KEYS {
        let r =
            decode(&json!({"LookupAttributes": [{"AttributeKey": key, "AttributeValue": "v"}]}))
                .unwrap();
        let input = convert::lookup_events(r).unwrap();
        assert_eq!(
            input.lookup_attributes,
            [(LookupAttributeKey::parse(key).unwrap(), "v".to_owned())],
            "{key}"
        );
    }
    assert_eq!(LOOKUP_ATTRIBUTE_KEY_VALUES, ATTRIBUTE_KEYS);
}

#[test]
fn lookup_events_input() {
    let r = decode(&json!({
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": 1_735_732_800.25,
        "EndTime": 1_735_819_200,
        "MaxResults": 10,
        "NextToken": "t",
    }))
    .unwrap();
    let LookupEventsInput {
        lookup_attributes,
        start_time,
        end_time,
        event_category,
        max_results,
        next_token,
    } = convert::lookup_events(r).unwrap();
    assert_eq!(
        lookup_attributes,
        [(LookupAttributeKey::ReadOnly, "false".to_owned())]
    );
    assert_eq!(
        (start_time, end_time),
        (Some(1_735_732_800_250), Some(1_735_819_200_000))
    );
    assert_eq!(
        (event_category, max_results, next_token.as_deref()),
        (None, Some(10), Some("t"))
    );
    let empty = convert::lookup_events(LookupEventsRequest::default()).unwrap();
    assert!(empty.lookup_attributes.is_empty() && empty.start_time.is_none());
}

#[test]
fn an_unchecked_unknown_key_still_gets_the_model_message() {
    let r = LookupEventsRequest {
        lookup_attributes: Some(vec![
            LookupAttribute {
                attribute_key: Some("EventName".into()),
                attribute_value: Some("a".into()),
            },
            LookupAttribute {
                attribute_key: Some("Nope".into()),
                attribute_value: Some("b".into()),
            },
        ]),
        ..Default::default()
    };
    let err = convert::lookup_events(r).unwrap_err();
    assert_eq!(err.error_type, "ValidationException");
    assert_eq!(
        err.message,
        one(
            "Value 'Nope' at 'lookupAttributes.2.member.attributeKey' failed to satisfy \
             constraint: Member must satisfy enum value set: [EventId, EventName, ReadOnly, \
             Username, ResourceType, ResourceName, EventSource, AccessKeyId]"
        )
    );
}

#[test]
fn lookup_events_response_body() {
    let write = LookedUpEvent {
        event_id: "e2".into(),
        event_name: "PutSecretValue".into(),
        read_only: false,
        access_key_id: None,
        event_time: 1_735_732_799_999,
        event_source: "secretsmanager.amazonaws.com".into(),
        username: None,
        resources: vec![],
        cloud_trail_event: "{}".into(),
    };
    let response = convert::lookup_events_response(LookupEventsOutput {
        events: vec![sample_event(), write],
        next_token: Some("next".into()),
    });
    let encoded = super::encode(Operation::LookupEvents, &response).unwrap();
    let parsed: Value = serde_json::from_slice(&encoded).unwrap();
    assert_eq!(
        parsed,
        json!({
            "Events": [
                {
                    "EventId": "b1e3c0de-0000-4000-8000-000000000001",
                    "EventName": "GetSecretValue",
                    "ReadOnly": "true",
                    "AccessKeyId": "ASIAEXAMPLEKEY000001",
                    "EventTime": 1_735_732_800,
                    "EventSource": "secretsmanager.amazonaws.com",
                    "Username": "session1",
                    "Resources": [{"ResourceType": "AWS::SecretsManager::Secret", "ResourceName": SECRET_ARN}],
                    "CloudTrailEvent": "{\"eventVersion\":\"1.09\",\"eventName\":\"GetSecretValue\",\"readOnly\":true}",
                },
                {
                    "EventId": "e2",
                    "EventName": "PutSecretValue",
                    "ReadOnly": "false",
                    "EventTime": 1_735_732_799,
                    "EventSource": "secretsmanager.amazonaws.com",
                    "Resources": [],
                    "CloudTrailEvent": "{}",
                },
            ],
            "NextToken": "next",
        })
    );
    // `EventTime` is whole seconds on the wire, not `1735732800.25`.
    assert!(
        String::from_utf8(encoded)
            .unwrap()
            .contains("\"EventTime\":1735732800,")
    );

    let empty = convert::lookup_events_response(LookupEventsOutput::default());
    assert_eq!(codec::encode(&empty), br#"{"Events":[]}"#);
}

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

#[test]
fn modeled_errors_are_client_errors_with_capital_message() {
    for error in ModeledError::ALL {
        assert_eq!(error.error_type(), format!("{error:?}"));
        assert_eq!(error.http_status(), 400);
        assert_eq!(error.message_key(), MessageKey::Modeled);
        assert_eq!(
            ModeledError::from_error_type(error.error_type()),
            Some(error)
        );
    }
    assert_eq!(
        Operation::LookupEvents.errors().len(),
        ModeledError::ALL.len()
    );
}

#[test]
fn domain_errors_map_to_cloudtrail_exceptions() {
    let cases = [
        (
            LookupError::InvalidLookupAttributes(
                "You cannot specify more than one lookup attribute.".into(),
            ),
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        ),
        (
            LookupError::InvalidTimeRange,
            "InvalidTimeRangeException",
            "Start time must be before end time.",
        ),
        (
            LookupError::InvalidMaxResults("MaxResults must be between 1 and 50.".into()),
            "InvalidMaxResultsException",
            "MaxResults must be between 1 and 50.",
        ),
        (
            LookupError::InvalidNextToken,
            "InvalidNextTokenException",
            "Invalid NextToken.",
        ),
        (
            LookupError::InvalidEventCategory("Invalid event category.".into()),
            "InvalidEventCategoryException",
            "Invalid event category.",
        ),
    ];
    for (domain, error_type, message) in cases {
        let err = convert::error(&domain);
        assert_eq!(
            (err.error_type, err.status, err.key),
            (error_type, 400, MessageKey::Modeled),
            "{domain:?}"
        );
        assert_eq!(
            json_of(&err),
            json!({"__type": error_type, "Message": message})
        );
    }

    let denied = convert::error(&LookupError::AccessDenied(
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: cloudtrail:LookupEvents".into(),
    ));
    assert_eq!(
        (denied.error_type, denied.status, denied.key),
        ("AccessDeniedException", 400, MessageKey::Framework)
    );
    assert!(
        json_of(&denied)["message"]
            .as_str()
            .unwrap()
            .contains("cloudtrail:LookupEvents")
    );

    let internal = convert::error(&LookupError::Internal {
        cause: "disk /var/lib/coffer is full".into(),
    });
    assert_eq!(
        (
            internal.error_type,
            internal.status,
            internal.is_server_fault()
        ),
        ("InternalFailure", 500, true)
    );
    assert!(!internal.message.contains("disk"));
    assert!(
        !String::from_utf8(internal.to_json())
            .unwrap()
            .contains("disk")
    );
}

// ------------------------------------------------------------------------------------------------
// Cross-checks against botocore and the generator
// ------------------------------------------------------------------------------------------------

#[test]
fn generated_model_is_up_to_date() {
    if !botocore_available() {
        return;
    }
    let output = std::process::Command::new("python3")
        .arg(repo_root().join("tools/codegen/wire_model.py"))
        .args(["--check", "--service", "cloudtrail"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cloudtrail/model.rs is stale; run `python3 tools/codegen/wire_model.py`\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

const BOTOCORE_METADATA: &str = r#"
import json
import botocore.session

model = botocore.session.get_session().get_service_model("cloudtrail")
op = model.operation_model("LookupEvents")
print(json.dumps({
    "targetPrefix": model.metadata["targetPrefix"],
    "signingName": model.signing_name,
    "apiVersion": model.api_version,
    "protocol": model.metadata["protocol"],
    "jsonVersion": model.metadata["jsonVersion"],
    "errors": sorted(shape.name for shape in op.error_shapes),
}))
"#;

#[test]
fn constants_and_errors_agree_with_botocore() {
    if !botocore_available() {
        return;
    }
    let meta = python_json(BOTOCORE_METADATA, &[], &Value::Null);
    assert_eq!(
        format!("{}.", meta["targetPrefix"].as_str().unwrap()),
        TARGET_PREFIX
    );
    assert_eq!(meta["signingName"], SIGNING_NAME);
    assert_eq!(meta["apiVersion"], API_VERSION);
    assert_eq!(
        (&meta["protocol"], &meta["jsonVersion"]),
        (&json!("json"), &json!("1.1"))
    );
    let ours: Vec<&str> = ModeledError::ALL.iter().map(|e| e.error_type()).collect();
    assert_eq!(meta["errors"], json!(ours));
}

/// Serializes LookupEvents requests with botocore's JSON serializer after its client-side
/// parameter validation. Timestamps are given as epoch seconds (botocore accepts numbers and
/// datetimes alike) or ISO 8601 strings. Output: the `X-Amz-Target`, `Content-Type` and body.
const BOTOCORE_SERIALIZE: &str = r#"
import json, sys
import botocore.session
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

model = botocore.session.get_session().get_service_model("cloudtrail")
serializer = create_serializer("json")
op = model.operation_model("LookupEvents")
out = []
for params in json.load(sys.stdin):
    validate_parameters(params, op.input_shape)
    request = serializer.serialize_to_request(params, op)
    out.append({
        "target": request["headers"]["X-Amz-Target"],
        "contentType": request["headers"]["Content-Type"],
        "body": request["body"].decode(),
    })
print(json.dumps(out))
"#;

#[test]
fn we_decode_what_botocore_sends() {
    if !botocore_available() {
        return;
    }
    let mut cases: Vec<Value> = ATTRIBUTE_KEYS
        .iter()
        .map(|key| json!({"LookupAttributes": [{"AttributeKey": key, "AttributeValue": format!("value of {key} é")}]}))
        .collect();
    cases.push(json!({"StartTime": 1_735_732_800, "EndTime": "2025-01-02T12:00:00.250Z"}));
    cases.push(json!({"MaxResults": 50, "NextToken": "opaque/+=token"}));
    cases.push(json!({"EventCategory": "insight", "MaxResults": 1}));
    cases.push(json!({}));
    let sent = python_json(BOTOCORE_SERIALIZE, &[], &Value::Array(cases.clone()));
    let sent = sent.as_array().unwrap();
    assert_eq!(sent.len(), cases.len());

    let mut inputs = Vec::new();
    for (case, sent) in cases.iter().zip(sent) {
        assert_eq!(sent["contentType"], "application/x-amz-json-1.1", "{case}");
        let operation = super::operation(sent["target"].as_str().unwrap()).unwrap();
        let Request::LookupEvents(r) =
            super::decode(operation, sent["body"].as_str().unwrap().as_bytes())
                .unwrap_or_else(|err| panic!("{case}: {err:?}\n{}", sent["body"]));
        inputs.push(convert::lookup_events(r).unwrap());
    }
    for (input, key) in inputs.iter().zip(ATTRIBUTE_KEYS) {
        assert_eq!(
            input.lookup_attributes,
            [(
                LookupAttributeKey::parse(key).unwrap(),
                format!("value of {key} é")
            )]
        );
    }
    // botocore sends whole epoch seconds (it drops the .250).
    let times = &inputs[8];
    assert_eq!(
        (times.start_time, times.end_time),
        (Some(1_735_732_800_000), Some(1_735_819_200_000))
    );
    let paging = &inputs[9];
    assert_eq!(
        (paging.max_results, paging.next_token.as_deref()),
        (Some(50), Some("opaque/+=token"))
    );
    let category = &inputs[10];
    assert_eq!(
        (category.event_category.as_deref(), category.max_results),
        (Some("insight"), Some(1))
    );
    assert!(inputs[11].lookup_attributes.is_empty() && inputs[11].max_results.is_none());
}

/// Parses bodies with botocore's JSON parser against LookupEvents' output shape, as a boto3
/// client does; for errors, also the exception class the client raises. Timestamps come back as
/// epoch milliseconds.
const BOTOCORE_PARSE: &str = r#"
import json, sys
import botocore.session
from botocore.parsers import create_parser

client = botocore.session.get_session().create_client(
    "cloudtrail", region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
op = client.meta.service_model.operation_model("LookupEvents")
parser = create_parser("json")

def plain(value):
    if hasattr(value, "timestamp"):
        return round(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value

out = []
for case in json.load(sys.stdin):
    response = {"status_code": case["status"], "headers": {}, "body": case["body"].encode()}
    parsed = parser.parse(response, op.output_shape)
    parsed.pop("ResponseMetadata", None)
    if "Error" in parsed:
        parsed["Error"]["Class"] = client.exceptions.from_code(parsed["Error"]["Code"]).__name__
    out.append(plain(parsed))
print(json.dumps(out, sort_keys=True))
"#;

fn botocore_parse(cases: &[(u16, Vec<u8>)]) -> Vec<Value> {
    let input: Vec<Value> = cases
        .iter()
        .map(|(status, body)| {
            json!({"status": status, "body": String::from_utf8(body.clone()).unwrap()})
        })
        .collect();
    python_json(BOTOCORE_PARSE, &[], &Value::Array(input))
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn botocore_parses_our_responses() {
    if !botocore_available() {
        return;
    }
    let response = convert::lookup_events_response(LookupEventsOutput {
        events: vec![sample_event()],
        next_token: Some("next".into()),
    });
    let empty = convert::lookup_events_response(LookupEventsOutput::default());
    let parsed = botocore_parse(&[
        (200, codec::encode(&response)),
        (200, codec::encode(&empty)),
    ]);
    assert_eq!(
        parsed[0],
        json!({
            "Events": [{
                "EventId": "b1e3c0de-0000-4000-8000-000000000001",
                "EventName": "GetSecretValue",
                "ReadOnly": "true",
                "AccessKeyId": "ASIAEXAMPLEKEY000001",
                "EventTime": 1_735_732_800_000_i64,
                "EventSource": "secretsmanager.amazonaws.com",
                "Username": "session1",
                "Resources": [{"ResourceType": "AWS::SecretsManager::Secret", "ResourceName": SECRET_ARN}],
                "CloudTrailEvent": sample_event().cloud_trail_event,
            }],
            "NextToken": "next",
        })
    );
    // The record inside is a JSON string a client parses itself.
    let record: Value =
        serde_json::from_str(parsed[0]["Events"][0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(record["readOnly"], true);
    assert_eq!(parsed[1], json!({"Events": []}));
}

#[test]
fn botocore_raises_the_modeled_exception_classes() {
    if !botocore_available() {
        return;
    }
    let mut errors: Vec<AwsError> = ModeledError::ALL
        .into_iter()
        .map(|e| e.with_message(format!("{e:?} happened")))
        .collect();
    errors.push(convert::error(&LookupError::InvalidTimeRange));
    errors.push(convert::error(&LookupError::AccessDenied(
        "not authorized".into(),
    )));
    errors.push(convert::error(&LookupError::Internal {
        cause: "secret cause".into(),
    }));
    errors.push(AwsError::from(&WireDecodeError::Validation(
        "1 validation error detected: x".into(),
    )));
    errors.push(AwsError::unknown_operation());
    let input: Vec<_> = errors.iter().map(|e| (e.status, e.to_json())).collect();
    let parsed = botocore_parse(&input);
    for (error, parsed) in errors.iter().zip(parsed) {
        // AccessDeniedException is in CloudTrail's wider model (other operations declare it),
        // so botocore has a class for it too.
        let modeled = ModeledError::from_error_type(error.error_type).is_some()
            || error.error_type == "AccessDeniedException";
        let class = if modeled {
            error.error_type
        } else {
            "ClientError"
        };
        assert_eq!(
            parsed,
            json!({"Error": {"Code": error.error_type, "Message": error.message, "Class": class}}),
            "{}",
            error.error_type
        );
    }
    let codes: Vec<&str> = ModeledError::ALL.iter().map(|e| e.error_type()).collect();
    assert_eq!(
        python_json(BOTOCORE_EXCEPTIONS, &["cloudtrail"], &json!(codes)),
        json!(codes)
    );
}

#[test]
fn audit_of_lookup_events() {
    let r = decode(
        &json!({"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}]}),
    )
    .unwrap();
    let request = Request::LookupEvents(r);
    assert_eq!(
        audit_request_parameters(&request),
        json!({"lookupAttributes": [{"attributeKey": "Username", "attributeValue": "alice"}]})
    );
    assert!(Operation::LookupEvents.read_only());
    assert_eq!(
        audit_response_elements(&LookupEventsResponse::default()),
        Value::Null
    );
}
