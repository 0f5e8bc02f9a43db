//! IAM on the wire: the generated operation table, request decoding and validation, XML responses
//! (checked byte for byte and through botocore's own parser) and modeled errors.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::model::*;
use crate::codec::{EpochTime, SensitiveString};
use crate::query::test_support::{
    BOTOCORE_EXCEPTIONS, BOTOCORE_PARSE, BOTOCORE_SERIALIZE, botocore_available, python_json,
};
use crate::query::{
    FormParams, QueryDecodeError, QueryError, QueryOutput, decode_form, encode_response,
};

const NOON: EpochTime = EpochTime::from_millis(1_735_732_800_000);
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:111122223333:secret:a b+c/é-*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"core & <ops>"}}}]}"#;

fn form(body: &str) -> FormParams {
    decode_form(body.as_bytes(), None).unwrap()
}

/// Dispatches and decodes a whole request body, as the server does.
fn request(body: &str) -> Result<Request, QueryError> {
    let form = form(body);
    let operation = Operation::from_params(&form)?;
    Request::decode(operation, &form).map_err(|err| QueryError::from(&err))
}

fn iam(rest: &str) -> String {
    format!("Version=2010-05-08&{rest}")
}

fn validation(body: &str) -> String {
    match request(&iam(body)) {
        Err(err) if err.code == "ValidationError" => {
            assert_eq!(err.status, 400);
            err.message
        }
        other => panic!("expected a ValidationError for {body}, got {other:?}"),
    }
}

fn one(item: &str) -> String {
    format!("1 validation error detected: {item}")
}

fn text<T: QueryOutput>(output: &T) -> String {
    String::from_utf8(encode_response(output, "req-1")).unwrap()
}

// ------------------------------------------------------------------------------------------------
// Operations and dispatch
// ------------------------------------------------------------------------------------------------

#[test]
fn operation_table() {
    assert_eq!(Operation::ALL.len(), 49);
    for op in Operation::ALL {
        assert_eq!(Operation::from_action(op.name()), Some(op));
        let form = form(&iam(&format!("Action={}", op.name())));
        assert_eq!(Operation::from_params(&form), Ok(op));
    }
    assert_eq!(Operation::from_action("createUser"), None);
    assert_eq!(Operation::from_action("CreateSecret"), None);
    assert_eq!(Operation::from_action("AssumeRole"), None, "an STS action");
    assert_eq!((API_VERSION, SIGNING_NAME), ("2010-05-08", "iam"));
    assert_eq!(XML_NAMESPACE, "https://iam.amazonaws.com/doc/2010-05-08/");
}

#[test]
fn dispatch_requires_the_iam_version() {
    let err = request("Action=GetUser&Version=2011-06-15").unwrap_err();
    assert_eq!(err.code, "InvalidAction");
    assert_eq!(
        err.message,
        "Could not find operation GetUser for version 2011-06-15"
    );
    assert_eq!(
        request("Version=2010-05-08").unwrap_err().code,
        "MissingAction"
    );
}

#[test]
fn void_operations_have_no_output() {
    let void: Vec<_> = Operation::ALL
        .into_iter()
        .filter(|op| !op.has_output())
        .map(|op| op.name())
        .collect();
    assert_eq!(
        void,
        [
            "AddUserToGroup",
            "AttachGroupPolicy",
            "AttachRolePolicy",
            "AttachUserPolicy",
            "DeleteAccessKey",
            "DeleteGroup",
            "DeleteGroupPolicy",
            "DeletePolicy",
            "DeleteRole",
            "DeleteRolePolicy",
            "DeleteUser",
            "DeleteUserPolicy",
            "DetachGroupPolicy",
            "DetachRolePolicy",
            "DetachUserPolicy",
            "PutGroupPolicy",
            "PutRolePolicy",
            "PutUserPolicy",
            "RemoveUserFromGroup",
            "TagRole",
            "TagUser",
            "UntagRole",
            "UntagUser",
            "UpdateAccessKey",
            "UpdateAssumeRolePolicy",
        ]
    );
}

#[test]
fn every_operation_reports_only_missing_members_for_an_empty_request() {
    for op in Operation::ALL {
        match request(&iam(&format!("Action={}", op.name()))) {
            Ok(decoded) => assert_eq!(decoded.operation(), op),
            Err(err) => {
                assert_eq!(err.code, "ValidationError", "{op:?}");
                assert!(
                    err.message
                        .split("; ")
                        .all(|item| item.ends_with("Member must not be null")),
                    "{op:?}: {}",
                    err.message
                );
            }
        }
    }
    // No required members: these decode from nothing.
    for action in [
        "GetUser",
        "ListUsers",
        "CreateAccessKey",
        "ListAccessKeys",
        "ListPolicies",
    ] {
        assert!(
            request(&iam(&format!("Action={action}"))).is_ok(),
            "{action}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Request decoding
// ------------------------------------------------------------------------------------------------

#[test]
fn decode_create_user_with_tags() {
    // The spec §3.1 example, plus a second tag with an empty value and an unknown parameter.
    let body = "Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F\
                &Tags.member.1.Key=team&Tags.member.1.Value=core\
                &Tags.member.2.Key=env&Tags.member.2.Value=\
                &PermissionsBoundary=arn%3Aaws%3Aiam%3A%3A111122223333%3Apolicy%2Fboundary\
                &Unknown.member.1=x";
    let Ok(Request::CreateUser(r)) = request(body) else {
        panic!("{:?}", request(body))
    };
    assert_eq!(r.user_name.as_deref(), Some("alice"));
    assert_eq!(r.path.as_deref(), Some("/team/"));
    assert_eq!(
        r.permissions_boundary.as_deref(),
        Some("arn:aws:iam::111122223333:policy/boundary")
    );
    let tags: Vec<_> = r
        .tags
        .unwrap()
        .into_iter()
        .map(|t| (t.key.unwrap(), t.value.unwrap()))
        .collect();
    assert_eq!(
        tags,
        [
            ("team".to_string(), "core".to_string()),
            ("env".to_string(), String::new())
        ]
    );
}

#[test]
fn decode_lists_of_scalars_and_empty_lists() {
    let Ok(Request::UntagUser(r)) = request(&iam(
        "Action=UntagUser&UserName=bob&TagKeys.member.1=a&TagKeys.member.2=b",
    )) else {
        panic!()
    };
    assert_eq!(r.tag_keys, Some(vec!["a".to_string(), "b".to_string()]));
    // A required list sent empty is present (and TagUser's list has no minimum).
    let Ok(Request::TagUser(r)) = request(&iam("Action=TagUser&UserName=bob&Tags=")) else {
        panic!()
    };
    assert_eq!(r.tags.map(|t| t.len()), Some(0));
}

#[test]
fn decode_scalars_of_every_type() {
    let Ok(Request::ListPolicies(r)) = request(&iam(
        "Action=ListPolicies&Scope=Local&OnlyAttached=true&PathPrefix=%2Fteam%2F\
         &PolicyUsageFilter=PermissionsPolicy&Marker=m1&MaxItems=25",
    )) else {
        panic!()
    };
    assert_eq!(r.scope.as_deref(), Some("Local"));
    assert_eq!(r.only_attached, Some(true));
    assert_eq!(r.path_prefix.as_deref(), Some("/team/"));
    assert_eq!(r.policy_usage_filter.as_deref(), Some("PermissionsPolicy"));
    assert_eq!(r.marker.as_deref(), Some("m1"));
    assert_eq!(r.max_items, Some(25));

    let encoded: String = POLICY.bytes().map(|b| format!("%{b:02X}")).collect();
    let Ok(Request::PutUserPolicy(r)) = request(&iam(&format!(
        "Action=PutUserPolicy&UserName=alice&PolicyName=p&PolicyDocument={encoded}"
    ))) else {
        panic!()
    };
    assert_eq!(r.policy_document.as_deref(), Some(POLICY));
}

#[test]
fn parameters_in_the_url_query_too() {
    let form = decode_form(
        b"UserName=alice",
        Some("Action=GetUser&Version=2010-05-08&UserName=query-wins"),
    )
    .unwrap();
    let op = Operation::from_params(&form).unwrap();
    let Ok(Request::GetUser(r)) = Request::decode(op, &form) else {
        panic!()
    };
    assert_eq!(r.user_name.as_deref(), Some("query-wins"));
}

// ------------------------------------------------------------------------------------------------
// Validation
// ------------------------------------------------------------------------------------------------

#[test]
fn user_name_pattern_and_length() {
    assert_eq!(
        validation("Action=CreateUser&UserName=bad/name"),
        one(
            r"Value 'bad/name' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        )
    );
    // Query services list the pattern before the length (see codegen_common.PATTERN_FIRST).
    assert_eq!(
        validation("Action=CreateUser&UserName="),
        r"2 validation errors detected: Value '' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let long = "a".repeat(65);
    assert_eq!(
        validation(&format!("Action=CreateUser&UserName={long}")),
        one(&format!(
            "Value '{long}' at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64"
        ))
    );
    // `\w` is ASCII-only, as in Java.
    assert!(validation("Action=CreateUser&UserName=%C3%A9").contains("regular expression"));
}

#[test]
fn required_members_ranges_and_enums() {
    assert_eq!(
        validation("Action=DeleteUser"),
        one("Value null at 'userName' failed to satisfy constraint: Member must not be null")
    );
    assert_eq!(
        validation("Action=ListUsers&MaxItems=0"),
        one(
            "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )
    );
    assert_eq!(
        validation("Action=ListUsers&MaxItems=1001"),
        one(
            "Value '1001' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"
        )
    );
    assert_eq!(
        validation("Action=UpdateAccessKey&AccessKeyId=AKIAIOSFODNN7EXAMPLE&Status=Disabled"),
        one(
            "Value 'Disabled' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
        )
    );
    assert_eq!(
        validation(
            "Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=%7B%7D&MaxSessionDuration=100"
        ),
        one(
            "Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
        )
    );
    assert_eq!(
        validation("Action=CreateUser&UserName=a&Path=team"),
        one(
            r"Value 'team' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)"
        )
    );
}

#[test]
fn list_item_paths_and_list_lengths() {
    assert_eq!(
        validation(
            "Action=TagUser&UserName=a&Tags.member.1.Key=ok&Tags.member.1.Value=v&Tags.member.2.Value=v"
        ),
        one(
            "Value null at 'tags.2.member.key' failed to satisfy constraint: Member must not be null"
        )
    );
    assert_eq!(
        validation("Action=UntagUser&UserName=a&TagKeys.member.1=bad%21"),
        one(
            r"Value 'bad!' at 'tagKeys.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+"
        )
    );
    let many: String = (1..=51)
        .map(|i| format!("&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value=v"))
        .collect();
    let message = validation(&format!("Action=TagUser&UserName=a{many}"));
    assert!(
        message.starts_with(
            "1 validation error detected: Value '[{Key=k1, Value=v}, {Key=k2, Value=v}"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(
            "{Key=k51, Value=v}]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
        ),
        "{message}"
    );
}

#[test]
fn several_errors_in_member_order() {
    assert_eq!(
        validation("Action=GetUserPolicy&UserName=a/b"),
        r"2 validation errors detected: Value 'a/b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; Value null at 'policyName' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn type_errors_are_malformed_input() {
    let err = request(&iam("Action=ListUsers&MaxItems=abc")).unwrap_err();
    assert_eq!(
        (err.code, err.status, err.message.as_str()),
        ("MalformedInput", 400, "")
    );
    let err = request(&iam("Action=ListUsers&MaxItems=")).unwrap_err();
    assert_eq!(err.message, "missing value for decimal type");
    let err = request(&iam("Action=ListPolicies&OnlyAttached=yes")).unwrap_err();
    assert_eq!(err.code, "MalformedInput");
    // The decode error itself, for callers that want it typed.
    let form = form(&iam("Action=ListUsers&MaxItems=1.5"));
    assert_eq!(
        Request::decode(Operation::ListUsers, &form).unwrap_err(),
        QueryDecodeError::MalformedInput("")
    );
}

#[test]
fn every_model_pattern_compiles() {
    for pattern in PATTERNS {
        let _ = pattern.regex();
    }
}

// ------------------------------------------------------------------------------------------------
// Responses
// ------------------------------------------------------------------------------------------------

fn alice() -> User {
    User {
        path: Some("/team/".into()),
        user_name: Some("alice".into()),
        user_id: Some("AIDAEXAMPLEUSERID0001".into()),
        arn: Some("arn:aws:iam::111122223333:user/team/alice".into()),
        create_date: Some(NOON),
        ..User::default()
    }
}

fn tags() -> Vec<Tag> {
    vec![
        Tag {
            key: Some("team".into()),
            value: Some("core".into()),
        },
        Tag {
            key: Some("note".into()),
            value: Some("a<b & \"c\"".into()),
        },
    ]
}

#[test]
fn create_user_response_is_the_spec_example() {
    let output = CreateUserResponse {
        user: Some(User {
            tags: Some(tags()[..1].to_vec()),
            ..alice()
        }),
    };
    assert_eq!(
        text(&output),
        "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">
  <CreateUserResult>
    <User>
      <Path>/team/</Path>
      <UserName>alice</UserName>
      <UserId>AIDAEXAMPLEUSERID0001</UserId>
      <Arn>arn:aws:iam::111122223333:user/team/alice</Arn>
      <CreateDate>2025-01-01T12:00:00Z</CreateDate>
      <Tags>
        <member>
          <Key>team</Key>
          <Value>core</Value>
        </member>
      </Tags>
    </User>
  </CreateUserResult>
  <ResponseMetadata>
    <RequestId>req-1</RequestId>
  </ResponseMetadata>
</CreateUserResponse>
"
    );
}

#[test]
fn operations_without_output_have_only_response_metadata() {
    assert_eq!(
        text(&DeleteUserResponse {}),
        "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">
  <ResponseMetadata>
    <RequestId>req-1</RequestId>
  </ResponseMetadata>
</DeleteUserResponse>
"
    );
    assert_eq!(DeleteUserResponse::RESULT_WRAPPER, None);
    assert_eq!(ListUsersResponse::RESULT_WRAPPER, Some("ListUsersResult"));
}

#[test]
fn policy_documents_are_url_encoded() {
    let output = GetUserPolicyResponse {
        user_name: Some("alice".into()),
        policy_name: Some("p".into()),
        policy_document: Some(r#"{"a": "b c"}"#.into()),
    };
    let xml = text(&output);
    assert!(
        xml.contains("<PolicyDocument>%7B%22a%22%3A%20%22b%20c%22%7D</PolicyDocument>"),
        "{xml}"
    );
    let role = GetRoleResponse {
        role: Some(Role {
            assume_role_policy_document: Some("{}".into()),
            description: Some("{}".into()),
            ..Role::default()
        }),
    };
    let xml = text(&role);
    assert!(xml.contains("<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument>"));
    assert!(
        xml.contains("<Description>{}</Description>"),
        "only policy documents"
    );
}

#[test]
fn absent_members_are_omitted_and_empty_lists_are_self_closing() {
    let output = ListUserPoliciesResponse {
        policy_names: Some(vec![]),
        is_truncated: Some(false),
        marker: None,
    };
    let xml = text(&output);
    assert!(xml.contains(
        "<PolicyNames/>\n    <IsTruncated>false</IsTruncated>\n  </ListUserPoliciesResult>"
    ));
    assert!(!xml.contains("Marker"));
}

/// Every output the botocore test below parses, with its expected parse.
fn botocore_cases() -> Vec<(&'static str, String, Value)> {
    let created = "2025-01-01T12:00:00+00:00";
    vec![
        (
            "GetUser",
            text(&GetUserResponse {
                user: Some(User {
                    tags: Some(tags()),
                    password_last_used: Some(EpochTime::from_millis(1_735_732_800_250)),
                    permissions_boundary: Some(AttachedPermissionsBoundary {
                        permissions_boundary_type: Some("PermissionsBoundaryPolicy".into()),
                        permissions_boundary_arn: Some(
                            "arn:aws:iam::111122223333:policy/boundary".into(),
                        ),
                    }),
                    ..alice()
                }),
            }),
            json!({"User": {
                "Path": "/team/", "UserName": "alice", "UserId": "AIDAEXAMPLEUSERID0001",
                "Arn": "arn:aws:iam::111122223333:user/team/alice", "CreateDate": created,
                "PasswordLastUsed": "2025-01-01T12:00:00.250000+00:00",
                "PermissionsBoundary": {
                    "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                    "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/boundary"},
                "Tags": [{"Key": "team", "Value": "core"}, {"Key": "note", "Value": "a<b & \"c\""}],
            }}),
        ),
        (
            "ListUsers",
            text(&ListUsersResponse {
                users: Some(vec![
                    alice(),
                    User {
                        user_name: Some("bob".into()),
                        path: Some("/".into()),
                        ..User::default()
                    },
                ]),
                is_truncated: Some(true),
                marker: Some("bmV4dA==".into()),
            }),
            json!({
                "Users": [
                    {"Path": "/team/", "UserName": "alice", "UserId": "AIDAEXAMPLEUSERID0001",
                     "Arn": "arn:aws:iam::111122223333:user/team/alice", "CreateDate": created},
                    {"Path": "/", "UserName": "bob"},
                ],
                "IsTruncated": true,
                "Marker": "bmV4dA==",
            }),
        ),
        (
            "CreateAccessKey",
            text(&CreateAccessKeyResponse {
                access_key: Some(AccessKey {
                    user_name: Some("alice".into()),
                    access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
                    status: Some("Active".into()),
                    secret_access_key: Some(SensitiveString::new(
                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                    )),
                    create_date: Some(NOON),
                }),
            }),
            json!({"AccessKey": {
                "UserName": "alice", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "Status": "Active",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "CreateDate": created,
            }}),
        ),
        (
            "ListUserPolicies",
            text(&ListUserPoliciesResponse {
                policy_names: Some(vec![]),
                is_truncated: Some(false),
                marker: None,
            }),
            json!({"PolicyNames": [], "IsTruncated": false}),
        ),
        (
            "GetUserPolicy",
            text(&GetUserPolicyResponse {
                user_name: Some("alice".into()),
                policy_name: Some("read".into()),
                policy_document: Some(POLICY.into()),
            }),
            json!({
                "UserName": "alice", "PolicyName": "read",
                "PolicyDocument": serde_json::from_str::<Value>(POLICY).unwrap(),
            }),
        ),
        (
            "GetRole",
            text(&GetRoleResponse {
                role: Some(Role {
                    path: Some("/".into()),
                    role_name: Some("app".into()),
                    role_id: Some("AROAEXAMPLEROLEID0001".into()),
                    arn: Some("arn:aws:iam::111122223333:role/app".into()),
                    create_date: Some(NOON),
                    assume_role_policy_document: Some(POLICY.into()),
                    max_session_duration: Some(3600),
                    role_last_used: Some(RoleLastUsed::default()),
                    ..Role::default()
                }),
            }),
            json!({"Role": {
                "Path": "/", "RoleName": "app", "RoleId": "AROAEXAMPLEROLEID0001",
                "Arn": "arn:aws:iam::111122223333:role/app", "CreateDate": created,
                "AssumeRolePolicyDocument": serde_json::from_str::<Value>(POLICY).unwrap(),
                "MaxSessionDuration": 3600, "RoleLastUsed": {},
            }}),
        ),
        (
            "GetPolicyVersion",
            text(&GetPolicyVersionResponse {
                policy_version: Some(PolicyVersion {
                    document: Some(POLICY.into()),
                    version_id: Some("v1".into()),
                    is_default_version: Some(true),
                    create_date: Some(NOON),
                }),
            }),
            json!({"PolicyVersion": {
                "Document": serde_json::from_str::<Value>(POLICY).unwrap(),
                "VersionId": "v1", "IsDefaultVersion": true, "CreateDate": created,
            }}),
        ),
        (
            "CreatePolicy",
            text(&CreatePolicyResponse {
                policy: Some(Policy {
                    policy_name: Some("read".into()),
                    policy_id: Some("ANPAEXAMPLEPOLICYID01".into()),
                    arn: Some("arn:aws:iam::111122223333:policy/read".into()),
                    path: Some("/".into()),
                    default_version_id: Some("v1".into()),
                    attachment_count: Some(0),
                    permissions_boundary_usage_count: Some(0),
                    is_attachable: Some(true),
                    create_date: Some(NOON),
                    update_date: Some(NOON),
                    ..Policy::default()
                }),
            }),
            json!({"Policy": {
                "PolicyName": "read", "PolicyId": "ANPAEXAMPLEPOLICYID01",
                "Arn": "arn:aws:iam::111122223333:policy/read", "Path": "/",
                "DefaultVersionId": "v1", "AttachmentCount": 0, "PermissionsBoundaryUsageCount": 0,
                "IsAttachable": true, "CreateDate": created, "UpdateDate": created,
            }}),
        ),
        (
            "ListAttachedRolePolicies",
            text(&ListAttachedRolePoliciesResponse {
                attached_policies: Some(vec![AttachedPolicy {
                    policy_name: Some("read".into()),
                    policy_arn: Some("arn:aws:iam::111122223333:policy/read".into()),
                }]),
                is_truncated: Some(false),
                marker: None,
            }),
            json!({
                "AttachedPolicies": [
                    {"PolicyName": "read", "PolicyArn": "arn:aws:iam::111122223333:policy/read"}],
                "IsTruncated": false,
            }),
        ),
        (
            "GetGroup",
            text(&GetGroupResponse {
                group: Some(Group {
                    path: Some("/".into()),
                    group_name: Some("devs".into()),
                    group_id: Some("AGPAEXAMPLEGROUPID001".into()),
                    arn: Some("arn:aws:iam::111122223333:group/devs".into()),
                    create_date: Some(NOON),
                }),
                users: Some(vec![alice()]),
                is_truncated: Some(false),
                marker: None,
            }),
            json!({
                "Group": {"Path": "/", "GroupName": "devs", "GroupId": "AGPAEXAMPLEGROUPID001",
                          "Arn": "arn:aws:iam::111122223333:group/devs", "CreateDate": created},
                "Users": [{"Path": "/team/", "UserName": "alice", "UserId": "AIDAEXAMPLEUSERID0001",
                           "Arn": "arn:aws:iam::111122223333:user/team/alice", "CreateDate": created}],
                "IsTruncated": false,
            }),
        ),
        ("DeleteUser", text(&DeleteUserResponse {}), json!({})),
    ]
}

#[test]
fn botocore_parses_our_responses() {
    if !botocore_available() {
        return;
    }
    let cases = botocore_cases();
    let input: Vec<Value> = cases
        .iter()
        .map(|(op, body, _)| json!({"op": op, "status": 200, "body": body}))
        .collect();
    let parsed = python_json(BOTOCORE_PARSE, &["iam"], &Value::Array(input));
    for ((op, _, expected), mut parsed) in cases.into_iter().zip(parsed.as_array().unwrap().clone())
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

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

#[test]
fn modeled_errors_carry_the_model_code_and_status() {
    let table: Vec<_> = ModeledError::ALL
        .into_iter()
        .map(|e| (e.shape_name(), e.code(), e.http_status(), e.sender_fault()))
        .collect();
    assert_eq!(
        table,
        [
            (
                "ConcurrentModificationException",
                "ConcurrentModification",
                409,
                true
            ),
            ("DeleteConflictException", "DeleteConflict", 409, true),
            (
                "EntityAlreadyExistsException",
                "EntityAlreadyExists",
                409,
                true
            ),
            ("InvalidInputException", "InvalidInput", 400, true),
            ("LimitExceededException", "LimitExceeded", 409, true),
            (
                "MalformedPolicyDocumentException",
                "MalformedPolicyDocument",
                400,
                true
            ),
            ("NoSuchEntityException", "NoSuchEntity", 404, true),
            (
                "PolicyNotAttachableException",
                "PolicyNotAttachable",
                400,
                true
            ),
            ("ServiceFailureException", "ServiceFailure", 500, false),
            (
                "UnmodifiableEntityException",
                "UnmodifiableEntity",
                400,
                true
            ),
        ]
    );
    assert_eq!(
        ModeledError::from_code("NoSuchEntity"),
        Some(ModeledError::NoSuchEntityException)
    );
    assert_eq!(ModeledError::from_code("NoSuchEntityException"), None);
    assert_eq!(
        ModeledError::from_shape_name("NoSuchEntityException").map(|e| (e.code(), e.http_status())),
        Some(("NoSuchEntity", 404))
    );
    let err =
        ModeledError::NoSuchEntityException.with_message("The user with name bob cannot be found.");
    assert_eq!(
        (err.code, err.status, err.sender_fault),
        ("NoSuchEntity", 404, true)
    );
    assert!(
        String::from_utf8(err.to_xml(XML_NAMESPACE, "r"))
            .unwrap()
            .contains("<Code>NoSuchEntity</Code>")
    );
    assert_eq!(
        Operation::DeleteUser.errors(),
        [
            ModeledError::LimitExceededException,
            ModeledError::NoSuchEntityException,
            ModeledError::DeleteConflictException,
            ModeledError::ConcurrentModificationException,
            ModeledError::ServiceFailureException,
        ]
    );
}

#[test]
fn botocore_maps_our_codes_to_its_exception_classes() {
    if !botocore_available() {
        return;
    }
    let codes: Vec<&str> = ModeledError::ALL.iter().map(|e| e.code()).collect();
    let classes = python_json(BOTOCORE_EXCEPTIONS, &["iam"], &json!(codes));
    let expected: Vec<&str> = ModeledError::ALL.iter().map(|e| e.shape_name()).collect();
    assert_eq!(classes, json!(expected));
    // Emitting the shape name instead would break the mapping (§3.3).
    let wrong = python_json(
        BOTOCORE_EXCEPTIONS,
        &["iam"],
        &json!(["NoSuchEntityException"]),
    );
    assert_eq!(wrong, json!(["ClientError"]));
}

// ------------------------------------------------------------------------------------------------
// botocore's serializer against our decoder
// ------------------------------------------------------------------------------------------------

#[test]
fn we_decode_what_botocore_sends() {
    if !botocore_available() {
        return;
    }
    let cases = json!([
        {"op": "CreateUser", "params": {
            "UserName": "alice", "Path": "/team/",
            "Tags": [{"Key": "team", "Value": "core"}, {"Key": "a b+c", "Value": "é=@"}]}},
        {"op": "TagUser", "params": {"UserName": "alice", "Tags": []}},
        {"op": "PutRolePolicy", "params": {"RoleName": "app", "PolicyName": "p", "PolicyDocument": POLICY}},
        {"op": "ListPolicies", "params": {"Scope": "AWS", "OnlyAttached": false, "MaxItems": 1000}},
        {"op": "UntagRole", "params": {"RoleName": "app", "TagKeys": ["a", "b", "c"]}},
    ]);
    let bodies = python_json(BOTOCORE_SERIALIZE, &["iam"], &cases);
    let bodies: Vec<String> = serde_json::from_value(bodies).unwrap();

    let Ok(Request::CreateUser(r)) = request(&bodies[0]) else {
        panic!("{}: {:?}", bodies[0], request(&bodies[0]))
    };
    assert_eq!(r.user_name.as_deref(), Some("alice"));
    assert_eq!(r.path.as_deref(), Some("/team/"));
    let tags: Vec<_> = r
        .tags
        .unwrap()
        .into_iter()
        .map(|t| (t.key.unwrap(), t.value.unwrap()))
        .collect();
    assert_eq!(
        tags,
        [
            ("team".to_string(), "core".to_string()),
            ("a b+c".to_string(), "é=@".to_string())
        ]
    );

    let Ok(Request::TagUser(r)) = request(&bodies[1]) else {
        panic!("{}", bodies[1])
    };
    assert_eq!(r.tags.map(|t| t.len()), Some(0));

    let Ok(Request::PutRolePolicy(r)) = request(&bodies[2]) else {
        panic!("{}", bodies[2])
    };
    assert_eq!(r.policy_document.as_deref(), Some(POLICY));

    let Ok(Request::ListPolicies(r)) = request(&bodies[3]) else {
        panic!("{}", bodies[3])
    };
    assert_eq!(
        (r.scope.as_deref(), r.only_attached, r.max_items),
        (Some("AWS"), Some(false), Some(1000))
    );

    let Ok(Request::UntagRole(r)) = request(&bodies[4]) else {
        panic!("{}", bodies[4])
    };
    assert_eq!(
        r.tag_keys,
        Some(vec!["a".to_string(), "b".to_string(), "c".to_string()])
    );
}

// ------------------------------------------------------------------------------------------------
// Robustness
// ------------------------------------------------------------------------------------------------

fn member_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("UserName"),
        Just("RoleName"),
        Just("GroupName"),
        Just("PolicyName"),
        Just("PolicyArn"),
        Just("PolicyDocument"),
        Just("Path"),
        Just("PathPrefix"),
        Just("Tags"),
        Just("TagKeys"),
        Just("Key"),
        Just("Value"),
        Just("member"),
        Just("MaxItems"),
        Just("MaxSessionDuration"),
        Just("OnlyAttached"),
        Just("Scope"),
        Just("Status"),
        Just("AccessKeyId"),
        Just("1"),
        Just("2"),
        Just("51"),
    ];
    proptest::collection::vec(segment, 1..5).prop_map(|segments| segments.join("."))
}

proptest! {
    #[test]
    fn arbitrary_forms_never_panic_any_operation(
        pairs in proptest::collection::vec((member_path(), "[ -~]{0,12}|\\PC{0,6}"), 0..16),
    ) {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let form = FormParams::from_pairs(pairs);
        for op in Operation::ALL {
            match Request::decode(op, &form) {
                Ok(request) => prop_assert_eq!(request.operation(), op),
                Err(QueryDecodeError::MalformedInput(message)) => {
                    prop_assert!(message.is_empty() || message == "missing value for decimal type");
                }
                Err(QueryDecodeError::Validation(message)) => {
                    prop_assert!(message.contains(" validation error"));
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic_dispatch(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut raw = b"Version=2010-05-08&".to_vec();
        raw.extend(body);
        if let Ok(form) = decode_form(&raw, None)
            && let Ok(op) = Operation::from_params(&form)
        {
            let _ = Request::decode(op, &form);
        }
    }
}
