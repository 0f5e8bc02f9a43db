//! The audit trail: one CloudTrail-format record for every API call (`record`), appended to
//! the store in order with a hash chain by a group-committing writer (`writer`), with
//! periodic signed digests, checked by `verify`, and looked up with CloudTrail's
//! LookupEvents (`service`).

pub mod lookup;
pub mod record;
pub mod service;
pub mod verify;
pub mod writer;

pub use lookup::{
    LookedUpEvent, LookupAttributeKey, LookupError, LookupEventsInput, LookupEventsOutput,
};
pub use record::{AuditEvent, AuditFailure, AuditIdentity, AuditResource, error_code};
pub use service::AuditService;
pub use verify::{Finding, VerifyReport, verify_trail};
pub use writer::{
    AuditConfig, AuditLog, AuditObserver, AuditSink, AuditUnavailable, AuditWriter, JsonLinesFile,
    StdoutSink,
};
