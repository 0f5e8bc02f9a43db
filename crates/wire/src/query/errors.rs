//! Query-protocol errors (companion spec §3.3): every failure an IAM or STS request can end in, as
//! `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
//!
//! Modeled errors get their code and HTTP status from the generated `ModeledError` tables
//! (`iam::model::ModeledError`, `sts::model::ModeledError`); the constructors here cover the codes
//! outside the models (validation, access denied, dispatch, authentication, internal failures).

use std::fmt;

use coffer_auth::AuthError;

use super::form::QueryDecodeError;
use super::xml::XmlWriter;

/// The namespace AWS uses for errors raised before an operation is chosen (`InvalidAction`)
/// [AWS: STS answers `Action=NoSuchAction` under this namespace, not the service's].
pub const AWS_FAULT_NAMESPACE: &str = "http://webservices.amazon.com/AWSFault/2005-15-09";

/// `Version` as AWS names it in `InvalidAction` when the parameter is missing [AWS].
const NO_VERSION_SPECIFIED: &str = "NO_VERSION_SPECIFIED";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// The model's error **code** (`NoSuchEntity`), never the shape name (`NoSuchEntityException`):
    /// botocore and the SDKs map the code back to the modeled exception.
    pub code: &'static str,
    /// Empty means no `<Message>` element (AWS sends none for some input errors).
    pub message: String,
    pub status: u16,
    /// `<Type>Sender</Type>` for client faults, `Receiver` for server faults.
    pub sender_fault: bool,
    /// Rendered under [`AWS_FAULT_NAMESPACE`] instead of the namespace given to [`QueryError::to_xml`].
    pub aws_fault_namespace: bool,
}

impl QueryError {
    /// An error with the given code and status; a client fault below 500.
    pub fn new(code: &'static str, status: u16, message: impl Into<String>) -> QueryError {
        QueryError::modeled(code, status, status < 500, message)
    }

    /// An error whose fault side is stated by the model (used by the generated `ModeledError`).
    pub fn modeled(
        code: &'static str,
        status: u16,
        sender_fault: bool,
        message: impl Into<String>,
    ) -> QueryError {
        QueryError {
            code,
            message: message.into(),
            status,
            sender_fault,
            aws_fault_namespace: false,
        }
    }

    /// `ValidationError` (400): model constraints (§1.6 grammar), malformed ARNs (`{arn} is invalid`),
    /// `Must specify userName when calling with non-User credentials`, ...
    pub fn validation(message: impl Into<String>) -> QueryError {
        QueryError::new("ValidationError", 400, message)
    }

    /// `AccessDenied` (403): `User: {arn} is not authorized to perform: {action} on resource: {arn}…`.
    pub fn access_denied(message: impl Into<String>) -> QueryError {
        QueryError::new("AccessDenied", 403, message)
    }

    /// `InvalidParameterValue` (400), STS's code for semantic parameter errors (duplicate or
    /// non-transitive tag keys).
    pub fn invalid_parameter_value(message: impl Into<String>) -> QueryError {
        QueryError::new("InvalidParameterValue", 400, message)
    }

    /// `MissingAction` (400): no `Action` parameter. [?] AWS itself answers a `302` redirect to
    /// `https://aws.amazon.com/iam` here, which no client can use; the spec (§1) asks for this error.
    pub fn missing_action() -> QueryError {
        QueryError {
            aws_fault_namespace: true,
            ..QueryError::new("MissingAction", 400, "Missing Action")
        }
    }

    /// `InvalidAction` (400): an action this service does not have, or a wrong / missing `Version`
    /// [AWS: `Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED`; an empty
    /// `Version=` is echoed as empty].
    pub fn invalid_action(action: &str, version: Option<&str>) -> QueryError {
        let version = version.unwrap_or(NO_VERSION_SPECIFIED);
        QueryError {
            aws_fault_namespace: true,
            ..QueryError::new(
                "InvalidAction",
                400,
                format!("Could not find operation {action} for version {version}"),
            )
        }
    }

    /// `InternalFailure` (500): an unexpected failure; the cause goes to the log, never to the
    /// client. (IAM has a modeled `ServiceFailure` for the same purpose.)
    pub fn internal_failure() -> QueryError {
        QueryError::new(
            "InternalFailure",
            500,
            "An internal error occurred in Coffer. Retry the request.",
        )
    }

    /// `ServiceUnavailable` (503): starting, shutting down, or the store is gone.
    pub fn service_unavailable(message: impl Into<String>) -> QueryError {
        QueryError::new("ServiceUnavailable", 503, message)
    }

    /// Whether this is a server fault (logged at error level).
    pub fn is_server_fault(&self) -> bool {
        self.status >= 500
    }

    /// The error as a Query-protocol body (§3.3), laid out like AWS's:
    ///
    /// ```text
    /// <ErrorResponse xmlns="{namespace}">
    ///   <Error>
    ///     <Type>Sender</Type>
    ///     <Code>NoSuchEntity</Code>
    ///     <Message>The user with name bob cannot be found.</Message>
    ///   </Error>
    ///   <RequestId>{request_id}</RequestId>
    /// </ErrorResponse>
    /// ```
    pub fn to_xml(&self, namespace: &str, request_id: &str) -> Vec<u8> {
        let namespace = if self.aws_fault_namespace {
            AWS_FAULT_NAMESPACE
        } else {
            namespace
        };
        let mut w = XmlWriter::new();
        let root = w.open_root("ErrorResponse", namespace);
        let error = w.open("Error");
        w.text(
            "Type",
            if self.sender_fault {
                "Sender"
            } else {
                "Receiver"
            },
        );
        w.text("Code", self.code);
        if !self.message.is_empty() {
            w.text("Message", &self.message);
        }
        w.close("Error", error);
        w.text("RequestId", request_id);
        w.close("ErrorResponse", root);
        w.finish()
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for QueryError {}

impl From<&QueryDecodeError> for QueryError {
    fn from(e: &QueryDecodeError) -> QueryError {
        QueryError::new(e.code(), 400, e.message())
    }
}

impl From<&AuthError> for QueryError {
    /// Authentication failures in their Query-protocol form (§2.7): `InvalidClientTokenId` (403),
    /// `SignatureDoesNotMatch` (403), `MissingAuthenticationToken` (403), `IncompleteSignature` (400), ...
    fn from(e: &AuthError) -> QueryError {
        QueryError::new(
            e.query_error_code(),
            e.query_http_status(),
            e.query_message().into_owned(),
        )
    }
}
