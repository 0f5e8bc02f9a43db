//! STS on the wire. Many expectations here are AWS's recorded answers to raw `AssumeRole` requests
//! (marked [AWS]): validation order and wording, integer parsing, repeated parameters.

use serde_json::{Value, json};

use super::model::*;
use crate::codec::{EpochTime, SensitiveString};
use crate::query::test_support::{
    BOTOCORE_EXCEPTIONS, BOTOCORE_PARSE, BOTOCORE_SERIALIZE, botocore_available, python_json,
};
use crate::query::{FormParams, QueryError, QueryOutput, decode_form, encode_response};

const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/app";
const ARN_PATTERN: &str =
    r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";

/// Dispatches and decodes an STS request given as decoded pairs (`Version` added).
fn request(pairs: &[(&str, &str)]) -> Result<Request, QueryError> {
    let mut all = vec![("Version", "2011-06-15")];
    all.extend_from_slice(pairs);
    let form = FormParams::from_pairs(all);
    let operation = Operation::from_params(&form)?;
    Request::decode(operation, &form).map_err(|err| QueryError::from(&err))
}

fn assume_role(extra: &[(&str, &str)]) -> Result<Request, QueryError> {
    let mut pairs = vec![("Action", "AssumeRole")];
    pairs.extend_from_slice(extra);
    request(&pairs)
}

fn assume_role_error(extra: &[(&str, &str)]) -> (&'static str, String) {
    let err = assume_role(extra).unwrap_err();
    assert_eq!(err.status, 400);
    (err.code, err.message)
}

fn validation_error(message: String) -> (&'static str, String) {
    ("ValidationError", message)
}

fn text<T: QueryOutput>(output: &T) -> String {
    String::from_utf8(encode_response(output, "req-1")).unwrap()
}

#[test]
fn operation_table() {
    assert_eq!(Operation::ALL.len(), 3);
    for op in Operation::ALL {
        assert_eq!(Operation::from_action(op.name()), Some(op));
        assert!(op.has_output());
    }
    assert_eq!(Operation::from_action("CreateUser"), None, "an IAM action");
    assert_eq!((API_VERSION, SIGNING_NAME), ("2011-06-15", "sts"));
    assert_eq!(XML_NAMESPACE, "https://sts.amazonaws.com/doc/2011-06-15/");
    let err = request(&[("Action", "GetCallerIdentity"), ("Version", "2010-05-08")]);
    assert!(
        err.is_ok(),
        "the first Version wins: 2011-06-15 was given first"
    );
    let form = FormParams::from_pairs([("Action", "GetCallerIdentity"), ("Version", "2010-05-08")]);
    assert_eq!(
        Operation::from_params(&form).unwrap_err().message,
        "Could not find operation GetCallerIdentity for version 2010-05-08"
    );
}

#[test]
fn get_caller_identity_takes_no_parameters() {
    // [AWS] unknown parameters are ignored.
    let Ok(Request::GetCallerIdentity(_)) =
        request(&[("Action", "GetCallerIdentity"), ("Unknown", "value")])
    else {
        panic!()
    };
}

#[test]
fn decode_assume_role_with_every_member() {
    let Ok(Request::AssumeRole(r)) = assume_role(&[
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "session1"),
        ("DurationSeconds", "+900"),
        ("Policy", "{\"Version\":\"2012-10-17\"}"),
        (
            "PolicyArns.member.1.arn",
            "arn:aws:iam::111122223333:policy/a",
        ),
        (
            "PolicyArns.member.2.arn",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
        ),
        ("Tags.member.1.Key", "team"),
        ("Tags.member.1.Value", "core"),
        ("TransitiveTagKeys.member.1", "team"),
        ("ExternalId", "ext-123"),
        ("SerialNumber", "arn:aws:iam::111122223333:mfa/alice"),
        ("TokenCode", "123456"),
        ("SourceIdentity", "alice"),
        (
            "ProvidedContexts.member.1.ProviderArn",
            "arn:aws:iam::aws:contextProvider/IdentityCenter",
        ),
        ("ProvidedContexts.member.1.ContextAssertion", "abcd"),
    ]) else {
        panic!()
    };
    assert_eq!(r.role_arn.as_deref(), Some(ROLE_ARN));
    assert_eq!(r.role_session_name.as_deref(), Some("session1"));
    assert_eq!(r.duration_seconds, Some(900));
    assert_eq!(r.policy.as_deref(), Some("{\"Version\":\"2012-10-17\"}"));
    let arns: Vec<_> = r
        .policy_arns
        .unwrap()
        .into_iter()
        .map(|p| p.arn.unwrap())
        .collect();
    assert_eq!(
        arns,
        [
            "arn:aws:iam::111122223333:policy/a",
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        ]
    );
    let tags = r.tags.unwrap();
    assert_eq!(
        (tags[0].key.as_deref(), tags[0].value.as_deref()),
        (Some("team"), Some("core"))
    );
    assert_eq!(r.transitive_tag_keys, Some(vec!["team".to_string()]));
    assert_eq!(r.external_id.as_deref(), Some("ext-123"));
    assert_eq!(r.token_code.as_deref(), Some("123456"));
    assert_eq!(r.source_identity.as_deref(), Some("alice"));
    let contexts = r.provided_contexts.unwrap();
    assert_eq!(contexts[0].context_assertion.as_deref(), Some("abcd"));
}

#[test]
fn role_arn_validation_matches_aws() {
    let session = ("RoleSessionName", "s1");
    // [AWS] pattern before length.
    assert_eq!(
        assume_role_error(&[("RoleArn", ""), session]),
        validation_error(format!(
            "2 validation errors detected: Value '' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}; Value '' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20"
        ))
    );
    assert_eq!(
        assume_role_error(&[("RoleArn", "not-an-arn"), session]),
        validation_error(
            "1 validation error detected: Value 'not-an-arn' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20".into()
        )
    );
    assert_eq!(
        assume_role_error(&[session]),
        validation_error(
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null".into()
        )
    );
    // [AWS] lengths count code points; `\u10000-\u10FFFF` is Java's `\u1000`, `0-\u10FF`, `F`, `F`,
    // so characters outside the BMP fail the pattern.
    let overlong = "x".repeat(2049);
    assert_eq!(
        assume_role_error(&[("RoleArn", &overlong), session]),
        validation_error(format!(
            "1 validation error detected: Value '{overlong}' at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048"
        ))
    );
    let bmp = "é".repeat(2048);
    assert!(assume_role(&[("RoleArn", &bmp), session]).is_ok());
    let emoji = "😀".repeat(2048);
    assert_eq!(
        assume_role_error(&[("RoleArn", &emoji), session]),
        validation_error(format!(
            "1 validation error detected: Value '{emoji}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}"
        ))
    );
    let emoji = "😀".repeat(2049);
    assert_eq!(
        assume_role_error(&[("RoleArn", &emoji), session]),
        validation_error(format!(
            "2 validation errors detected: Value '{emoji}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}; Value '{emoji}' at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048"
        ))
    );
    let decomposed = "e\u{301}".repeat(1025);
    assert_eq!(
        assume_role_error(&[("RoleArn", &decomposed), session]),
        validation_error(format!(
            "1 validation error detected: Value '{decomposed}' at 'roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048"
        ))
    );
}

#[test]
fn role_session_name_validation_matches_aws() {
    let arn = ("RoleArn", ROLE_ARN);
    for (name, constraint) in [
        ("", "Member must have length greater than or equal to 2"),
        ("a", "Member must have length greater than or equal to 2"),
        (
            "bad/name",
            r"Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ),
        (
            "Session1:2",
            r"Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ),
    ] {
        assert_eq!(
            assume_role_error(&[arn, ("RoleSessionName", name)]),
            validation_error(format!(
                "1 validation error detected: Value '{name}' at 'roleSessionName' failed to satisfy constraint: {constraint}"
            )),
            "{name}"
        );
    }
    let long = "a".repeat(65);
    assert_eq!(
        assume_role_error(&[arn, ("RoleSessionName", &long)]),
        validation_error(format!(
            "1 validation error detected: Value '{long}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        ))
    );
    assert!(assume_role(&[arn, ("RoleSessionName", "aa")]).is_ok());
    assert!(assume_role(&[arn, ("RoleSessionName", &"b".repeat(64))]).is_ok());
}

#[test]
fn duration_seconds_parsing_and_range_match_aws() {
    let base = [("RoleArn", ROLE_ARN), ("RoleSessionName", "s1")];
    let with = |duration: &str| {
        let mut pairs = base.to_vec();
        pairs.push(("DurationSeconds", duration));
        assume_role(&pairs)
    };
    for (value, code, message) in [
        ("", "MalformedInput", "missing value for decimal type".to_string()),
        ("abc", "MalformedInput", String::new()),
        ("900.0", "MalformedInput", String::new()),
        ("2147483648", "MalformedInput", String::new()),
        ("-2147483649", "MalformedInput", String::new()),
        (
            "-1",
            "ValidationError",
            "1 validation error detected: Value '-1' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900".into(),
        ),
        (
            "899",
            "ValidationError",
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900".into(),
        ),
        (
            "43201",
            "ValidationError",
            "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200".into(),
        ),
        (
            "2147483647",
            "ValidationError",
            "1 validation error detected: Value '2147483647' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200".into(),
        ),
        (
            "-2147483648",
            "ValidationError",
            "1 validation error detected: Value '-2147483648' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900".into(),
        ),
    ] {
        let err = with(value).unwrap_err();
        assert_eq!(
            (err.code, err.status, err.message),
            (code, 400, message),
            "{value:?}"
        );
    }
    for (value, seconds) in [("900", 900), ("43200", 43200), ("+900", 900), ("0900", 900)] {
        let Ok(Request::AssumeRole(r)) = with(value) else {
            panic!("{value}")
        };
        assert_eq!(r.duration_seconds, Some(seconds));
    }
}

#[test]
fn repeated_parameters_keep_the_first_value() {
    // [AWS] both orders, for RoleArn, RoleSessionName and DurationSeconds.
    let ok = assume_role(&[
        ("RoleArn", ROLE_ARN),
        ("RoleArn", "not-an-arn"),
        ("RoleSessionName", "s1"),
        ("RoleSessionName", "bad/name"),
        ("DurationSeconds", "900"),
        ("DurationSeconds", "899"),
    ]);
    assert!(ok.is_ok());
    let (code, message) = assume_role_error(&[
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "s1"),
        ("DurationSeconds", "899"),
        ("DurationSeconds", "900"),
    ]);
    assert_eq!(code, "ValidationError");
    assert!(message.contains("Value '899' at 'durationSeconds'"));
}

#[test]
fn nested_member_paths() {
    let (_, message) = assume_role_error(&[
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "s1"),
        ("PolicyArns.member.1.arn", "short"),
        ("Tags.member.1.Key", "k"),
        ("ProvidedContexts", ""),
    ]);
    assert_eq!(
        message,
        "3 validation errors detected: Value 'short' at 'policyArns.1.member.arn' failed to satisfy constraint: Member must have length greater than or equal to 20; Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null; Value '[]' at 'providedContexts' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
}

// ------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------

fn credentials() -> Credentials {
    Credentials {
        access_key_id: Some("ASIAEXAMPLESESSION01".into()),
        secret_access_key: Some(SensitiveString::new(
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        )),
        session_token: Some("FwoGZXIvYXdzEXAMPLE+/=".into()),
        expiration: Some(EpochTime::from_millis(1_735_736_400_000)),
    }
}

#[test]
fn get_caller_identity_response() {
    let output = GetCallerIdentityResponse {
        user_id: Some("AROAEXAMPLEROLEID0001:session1".into()),
        account: Some("111122223333".into()),
        arn: Some("arn:aws:sts::111122223333:assumed-role/app/session1".into()),
    };
    // AWS's layout; members in model order (AWS happens to send Arn first).
    assert_eq!(
        text(&output),
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">
  <GetCallerIdentityResult>
    <UserId>AROAEXAMPLEROLEID0001:session1</UserId>
    <Account>111122223333</Account>
    <Arn>arn:aws:sts::111122223333:assumed-role/app/session1</Arn>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>req-1</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
"
    );
}

#[test]
fn assume_role_response() {
    let output = AssumeRoleResponse {
        credentials: Some(credentials()),
        assumed_role_user: Some(AssumedRoleUser {
            assumed_role_id: Some("AROAEXAMPLEROLEID0001:session1".into()),
            arn: Some("arn:aws:sts::111122223333:assumed-role/app/session1".into()),
        }),
        packed_policy_size: Some(6),
        source_identity: None,
    };
    let xml = text(&output);
    assert!(xml.contains(
        "    <Credentials>
      <AccessKeyId>ASIAEXAMPLESESSION01</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>
      <SessionToken>FwoGZXIvYXdzEXAMPLE+/=</SessionToken>
      <Expiration>2025-01-01T13:00:00Z</Expiration>
    </Credentials>
"
    ));
    assert!(xml.contains("<PackedPolicySize>6</PackedPolicySize>"));
    assert!(!xml.contains("SourceIdentity"));
}

#[test]
fn botocore_parses_our_responses_and_errors() {
    if !botocore_available() {
        return;
    }
    let expiration = "2025-01-01T13:00:00+00:00";
    let credentials_json = json!({
        "AccessKeyId": "ASIAEXAMPLESESSION01",
        "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "SessionToken": "FwoGZXIvYXdzEXAMPLE+/=",
        "Expiration": expiration,
    });
    let cases: Vec<(&str, u16, String, Value)> = vec![
        (
            "GetCallerIdentity",
            200,
            text(&GetCallerIdentityResponse {
                user_id: Some("AIDAEXAMPLEUSERID0001".into()),
                account: Some("111122223333".into()),
                arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            }),
            json!({"UserId": "AIDAEXAMPLEUSERID0001", "Account": "111122223333",
                   "Arn": "arn:aws:iam::111122223333:user/alice"}),
        ),
        (
            "AssumeRole",
            200,
            text(&AssumeRoleResponse {
                credentials: Some(credentials()),
                assumed_role_user: Some(AssumedRoleUser {
                    assumed_role_id: Some("AROAEXAMPLEROLEID0001:s1".into()),
                    arn: Some("arn:aws:sts::111122223333:assumed-role/app/s1".into()),
                }),
                packed_policy_size: Some(6),
                source_identity: Some("alice".into()),
            }),
            json!({
                "Credentials": credentials_json,
                "AssumedRoleUser": {"AssumedRoleId": "AROAEXAMPLEROLEID0001:s1",
                                    "Arn": "arn:aws:sts::111122223333:assumed-role/app/s1"},
                "PackedPolicySize": 6,
                "SourceIdentity": "alice",
            }),
        ),
        (
            "GetSessionToken",
            200,
            text(&GetSessionTokenResponse {
                credentials: Some(credentials()),
            }),
            json!({"Credentials": credentials_json}),
        ),
        (
            "AssumeRole",
            403,
            String::from_utf8(
                QueryError::access_denied(format!(
                    "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN}"
                ))
                .to_xml(XML_NAMESPACE, "req-1"),
            )
            .unwrap(),
            json!({"Error": {"Type": "Sender", "Code": "AccessDenied", "Message": format!(
                "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: {ROLE_ARN}"
            )}}),
        ),
        (
            "AssumeRole",
            400,
            String::from_utf8(
                ModeledError::PackedPolicyTooLargeException
                    .with_message("Packed policy consumes 120% of allotted space")
                    .to_xml(XML_NAMESPACE, "req-1"),
            )
            .unwrap(),
            json!({"Error": {"Type": "Sender", "Code": "PackedPolicyTooLarge",
                             "Message": "Packed policy consumes 120% of allotted space"}}),
        ),
    ];
    let input: Vec<Value> = cases
        .iter()
        .map(|(op, status, body, _)| json!({"op": op, "status": status, "body": body}))
        .collect();
    let parsed = python_json(BOTOCORE_PARSE, &["sts"], &Value::Array(input));
    for ((op, _, _, expected), mut parsed) in
        cases.into_iter().zip(parsed.as_array().unwrap().clone())
    {
        assert_eq!(
            parsed["ResponseMetadata"],
            json!({"RequestId": "req-1"}),
            "{op}"
        );
        parsed.as_object_mut().unwrap().remove("ResponseMetadata");
        assert_eq!(parsed, expected, "{op}");
    }
}

#[test]
fn modeled_errors_carry_the_model_code_and_status() {
    let table: Vec<_> = ModeledError::ALL
        .into_iter()
        .map(|e| (e.shape_name(), e.code(), e.http_status(), e.sender_fault()))
        .collect();
    assert_eq!(
        table,
        [
            ("ExpiredTokenException", "ExpiredTokenException", 400, true),
            (
                "MalformedPolicyDocumentException",
                "MalformedPolicyDocument",
                400,
                true
            ),
            (
                "PackedPolicyTooLargeException",
                "PackedPolicyTooLarge",
                400,
                true
            ),
            (
                "RegionDisabledException",
                "RegionDisabledException",
                403,
                true
            ),
        ]
    );
    assert_eq!(
        Operation::GetSessionToken.errors(),
        [ModeledError::RegionDisabledException]
    );
    assert!(Operation::GetCallerIdentity.errors().is_empty());
}

#[test]
fn botocore_maps_our_codes_to_its_exception_classes() {
    if !botocore_available() {
        return;
    }
    let codes: Vec<&str> = ModeledError::ALL.iter().map(|e| e.code()).collect();
    let classes = python_json(BOTOCORE_EXCEPTIONS, &["sts"], &json!(codes));
    let expected: Vec<&str> = ModeledError::ALL.iter().map(|e| e.shape_name()).collect();
    assert_eq!(classes, json!(expected));
}

#[test]
fn we_decode_what_botocore_sends() {
    if !botocore_available() {
        return;
    }
    let cases = json!([
        {"op": "AssumeRole", "params": {
            "RoleArn": ROLE_ARN, "RoleSessionName": "s1", "DurationSeconds": 3600,
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            "Tags": [{"Key": "team", "Value": "core"}],
            "TransitiveTagKeys": []}},
        {"op": "GetCallerIdentity", "params": {}},
        {"op": "GetSessionToken", "params": {"DurationSeconds": 129600}},
    ]);
    let bodies: Vec<String> =
        serde_json::from_value(python_json(BOTOCORE_SERIALIZE, &["sts"], &cases)).unwrap();
    let decode = |body: &str| {
        let form = decode_form(body.as_bytes(), None).unwrap();
        Request::decode(Operation::from_params(&form).unwrap(), &form).unwrap()
    };
    let Request::AssumeRole(r) = decode(&bodies[0]) else {
        panic!("{}", bodies[0])
    };
    assert_eq!(r.duration_seconds, Some(3600));
    assert_eq!(
        r.policy_arns.unwrap()[0].arn.as_deref(),
        Some("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    assert_eq!(r.tags.unwrap()[0].value.as_deref(), Some("core"));
    assert_eq!(
        r.transitive_tag_keys,
        Some(vec![]),
        "sent as `TransitiveTagKeys=`"
    );
    assert!(matches!(decode(&bodies[1]), Request::GetCallerIdentity(_)));
    let Request::GetSessionToken(r) = decode(&bodies[2]) else {
        panic!()
    };
    assert_eq!(r.duration_seconds, Some(129_600));
}
