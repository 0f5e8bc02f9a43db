//! One audit record in CloudTrail's format (companion spec §7.2), built from what the edge
//! knows about a call: who, what, on what, from where, and how it ended.
//!
//! What is never recorded: secret values, generated passwords, KMS plaintexts and data keys.
//! The request parameters and response elements arrive already redacted (the wire layer drops
//! every member the AWS models mark sensitive); this module adds no value of its own.

use serde::Serialize;
use serde_json::Value;

use coffer_store::NewAuditRecord;

use crate::clock::Millis;
use crate::identity::{Principal, PrincipalKind};

/// `eventVersion` of the records Coffer writes.
pub const EVENT_VERSION: &str = "1.09";

/// Who made the call, as `userIdentity` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditIdentity {
    /// An authenticated principal with the access key that signed the request.
    Principal {
        principal: std::sync::Arc<Principal>,
        /// `principalId` of an IAM user (its user id), when known.
        user_id: Option<String>,
        access_key_id: String,
    },
    /// The request did not authenticate: only the access key id it claimed, if any.
    Unauthenticated { access_key_id: Option<String> },
    /// Coffer itself acting for the service (rotation, scheduled deletion): `AwsServiceEvent`.
    Service { account_id: String },
}

/// `resources[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditResource {
    #[serde(rename = "accountId")]
    pub account_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// How the call ended when it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFailure {
    /// The AWS error type; `AccessDeniedException` is recorded as `AccessDenied`, as
    /// CloudTrail does.
    pub code: String,
    pub message: String,
}

/// Everything one record says.
#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub event_time: Millis,
    /// `secretsmanager.amazonaws.com`, `kms.amazonaws.com`, `iam.amazonaws.com`, ...
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    pub source_ip_address: String,
    pub user_agent: String,
    pub identity: AuditIdentity,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub failure: Option<AuditFailure>,
    /// The `x-amzn-RequestId` the client received.
    pub request_id: String,
    pub event_id: String,
    pub read_only: bool,
    pub resources: Vec<AuditResource>,
    pub recipient_account_id: String,
    pub additional_event_data: Option<Value>,
}

/// `userIdentity`, serialised straight from borrowed fields (no intermediate map: this runs
/// once per request).
#[derive(Serialize)]
#[serde(untagged)]
enum UserIdentity<'a> {
    #[serde(rename_all = "camelCase")]
    IamUser {
        #[serde(rename = "type")]
        kind: &'static str,
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
        access_key_id: &'a str,
        user_name: &'a str,
    },
    #[serde(rename_all = "camelCase")]
    AssumedRole {
        #[serde(rename = "type")]
        kind: &'static str,
        principal_id: &'a str,
        arn: &'a str,
        account_id: &'a str,
        access_key_id: &'a str,
        session_context: SessionContext<'a>,
    },
    #[serde(rename_all = "camelCase")]
    Unknown {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        access_key_id: Option<&'a str>,
    },
    #[serde(rename_all = "camelCase")]
    Service {
        account_id: &'a str,
        invoked_by: &'static str,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    session_issuer: SessionIssuer<'a>,
    attributes: SessionAttributes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    principal_id: &'a str,
    arn: &'a str,
    account_id: &'a str,
    user_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionAttributes {
    mfa_authenticated: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    user_identity: UserIdentity<'a>,
    event_time: String,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    request_parameters: &'a Value,
    response_elements: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<&'a Value>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    read_only: bool,
    resources: &'a [AuditResource],
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'static str,
}

/// `eventTime` (`2025-01-01T12:00:00Z`), written by hand: a general formatter cost a tenth
/// of a record's whole budget on the hot path.
fn iso_time(at: Millis) -> String {
    let Ok(t) = jiff::Timestamp::from_millisecond(at - at.rem_euclid(1000)) else {
        return String::new();
    };
    let dt = t.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let mut out = String::with_capacity(20);
    let mut push = |value: i32, width: usize, after: char| {
        let digits = value.unsigned_abs();
        let mut buf = [b'0'; 4];
        let mut v = digits;
        for i in (0..width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.push_str(std::str::from_utf8(&buf[..width]).expect("ASCII digits"));
        out.push(after);
    };
    push(i32::from(dt.year()), 4, '-');
    push(i32::from(dt.month()), 2, '-');
    push(i32::from(dt.day()), 2, 'T');
    push(i32::from(dt.hour()), 2, ':');
    push(i32::from(dt.minute()), 2, ':');
    push(i32::from(dt.second()), 2, 'Z');
    out
}

impl AuditEvent {
    fn user_identity(&self) -> UserIdentity<'_> {
        match &self.identity {
            AuditIdentity::Principal {
                principal,
                user_id,
                access_key_id,
            } => match &principal.kind {
                PrincipalKind::User => UserIdentity::IamUser {
                    kind: "IAMUser",
                    principal_id: user_id.as_deref().unwrap_or(&principal.account_id),
                    arn: &principal.arn,
                    account_id: &principal.account_id,
                    access_key_id,
                    user_name: &principal.user_name,
                },
                PrincipalKind::AssumedRole {
                    role_arn, user_id, ..
                } => UserIdentity::AssumedRole {
                    kind: "AssumedRole",
                    principal_id: user_id,
                    arn: &principal.arn,
                    account_id: &principal.account_id,
                    access_key_id,
                    session_context: SessionContext {
                        session_issuer: SessionIssuer {
                            kind: "Role",
                            principal_id: user_id.split(':').next().unwrap_or_default(),
                            arn: role_arn,
                            account_id: &principal.account_id,
                            user_name: role_arn.rsplit('/').next().unwrap_or_default(),
                        },
                        attributes: SessionAttributes {
                            mfa_authenticated: "false",
                        },
                    },
                },
            },
            AuditIdentity::Unauthenticated { access_key_id } => UserIdentity::Unknown {
                kind: "Unknown",
                access_key_id: access_key_id.as_deref(),
            },
            AuditIdentity::Service { account_id } => UserIdentity::Service {
                account_id,
                invoked_by: "secretsmanager.amazonaws.com",
            },
        }
    }

    /// LookupEvents' `Username`: the IAM user's name, or the role session's name.
    fn username(&self) -> Option<String> {
        match &self.identity {
            AuditIdentity::Principal { principal, .. } => match &principal.kind {
                PrincipalKind::User => Some(principal.user_name.clone()),
                PrincipalKind::AssumedRole { session_name, .. } => Some(session_name.clone()),
            },
            _ => None,
        }
    }

    fn into_access_key_id(identity: AuditIdentity) -> Option<String> {
        match identity {
            AuditIdentity::Principal { access_key_id, .. } => Some(access_key_id),
            AuditIdentity::Unauthenticated { access_key_id } => access_key_id,
            AuditIdentity::Service { .. } => None,
        }
    }

    /// The record as JSON text, what the chain hashes and LookupEvents returns.
    pub fn to_json(&self) -> String {
        let record = Record {
            event_version: EVENT_VERSION,
            user_identity: self.user_identity(),
            event_time: iso_time(self.event_time),
            event_source: &self.event_source,
            event_name: &self.event_name,
            aws_region: &self.aws_region,
            source_ip_address: &self.source_ip_address,
            user_agent: &self.user_agent,
            error_code: self.failure.as_ref().map(|f| f.code.as_str()),
            error_message: self.failure.as_ref().map(|f| f.message.as_str()),
            request_parameters: &self.request_parameters,
            response_elements: &self.response_elements,
            additional_event_data: self.additional_event_data.as_ref(),
            request_id: &self.request_id,
            event_id: &self.event_id,
            read_only: self.read_only,
            resources: &self.resources,
            event_type: match self.identity {
                AuditIdentity::Service { .. } => "AwsServiceEvent",
                _ => "AwsApiCall",
            },
            management_event: true,
            recipient_account_id: &self.recipient_account_id,
            event_category: "Management",
        };
        let mut out = Vec::with_capacity(1024);
        serde_json::to_writer(&mut out, &record).expect("audit records serialise");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// The row to append.
    pub fn into_store(self) -> NewAuditRecord {
        let record = self.to_json();
        let username = self.username();
        let access_key_id = AuditEvent::into_access_key_id(self.identity);
        NewAuditRecord {
            account_id: self.recipient_account_id,
            region: self.aws_region,
            event_time: self.event_time,
            event_id: self.event_id,
            event_name: self.event_name,
            event_source: self.event_source,
            read_only: self.read_only,
            username,
            access_key_id,
            resources: self
                .resources
                .into_iter()
                .map(|r| (r.resource_type, r.arn))
                .collect(),
            record,
        }
    }
}

/// CloudTrail's `errorCode` for an AWS error type.
pub fn error_code(error_type: &str) -> &str {
    match error_type {
        "AccessDeniedException" => "AccessDenied",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(identity: AuditIdentity) -> AuditEvent {
        AuditEvent {
            event_time: 1_735_732_800_123,
            event_source: "secretsmanager.amazonaws.com".into(),
            event_name: "GetSecretValue".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "203.0.113.10".into(),
            user_agent: "aws-cli/2".into(),
            identity,
            request_parameters: serde_json::json!({"secretId": "prod/db"}),
            response_elements: Value::Null,
            failure: None,
            request_id: "req-1".into(),
            event_id: "evt-1".into(),
            read_only: true,
            resources: vec![AuditResource {
                account_id: "111122223333".into(),
                resource_type: "AWS::SecretsManager::Secret".into(),
                arn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-Ab12Cd".into(),
            }],
            recipient_account_id: "111122223333".into(),
            additional_event_data: None,
        }
    }

    #[test]
    fn records_have_cloudtrails_fields() {
        let principal = std::sync::Arc::new(Principal::user("aws", "111122223333", "alice"));
        let e = event(AuditIdentity::Principal {
            principal,
            user_id: Some("AIDAEXAMPLE".into()),
            access_key_id: "AKIAEXAMPLE".into(),
        });
        let record: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(record["eventVersion"], "1.09");
        assert_eq!(record["eventTime"], "2025-01-01T12:00:00Z");
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_796_439_847_999), "2026-12-05T03:04:07Z");
        assert_eq!(record["userIdentity"]["type"], "IAMUser");
        assert_eq!(record["userIdentity"]["principalId"], "AIDAEXAMPLE");
        assert_eq!(record["userIdentity"]["userName"], "alice");
        assert_eq!(record["sourceIPAddress"], "203.0.113.10");
        assert_eq!(record["requestID"], "req-1");
        assert_eq!(record["eventID"], "evt-1");
        assert_eq!(record["responseElements"], Value::Null);
        assert_eq!(record["eventType"], "AwsApiCall");
        assert_eq!(
            record["resources"][0]["type"],
            "AWS::SecretsManager::Secret"
        );
        assert!(record.get("errorCode").is_none());
        let row = e.into_store();
        assert_eq!(row.username.as_deref(), Some("alice"));
        assert_eq!(row.access_key_id.as_deref(), Some("AKIAEXAMPLE"));
    }

    #[test]
    fn failures_and_services_are_shown_as_cloudtrail_does() {
        let mut e = event(AuditIdentity::Unauthenticated {
            access_key_id: Some("AKIAUNKNOWN".into()),
        });
        e.failure = Some(AuditFailure {
            code: error_code("AccessDeniedException").into(),
            message: "User: x is not authorized".into(),
        });
        let record: Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(record["errorCode"], "AccessDenied");
        assert_eq!(record["userIdentity"]["type"], "Unknown");
        let service = event(AuditIdentity::Service {
            account_id: "111122223333".into(),
        });
        let record: Value = serde_json::from_str(&service.to_json()).unwrap();
        assert_eq!(record["eventType"], "AwsServiceEvent");
        assert_eq!(
            record["userIdentity"]["invokedBy"],
            "secretsmanager.amazonaws.com"
        );
    }
}
