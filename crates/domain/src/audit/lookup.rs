//! CloudTrail LookupEvents over the audit trail (companion spec §7.1): inputs, outputs and
//! errors with AWS's messages.

use crate::clock::Millis;

/// `LookupAttribute.AttributeKey`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupAttributeKey {
    EventId,
    EventName,
    ReadOnly,
    Username,
    ResourceType,
    ResourceName,
    EventSource,
    AccessKeyId,
}

impl LookupAttributeKey {
    pub fn parse(text: &str) -> Option<LookupAttributeKey> {
        Some(match text {
            "EventId" => LookupAttributeKey::EventId,
            "EventName" => LookupAttributeKey::EventName,
            "ReadOnly" => LookupAttributeKey::ReadOnly,
            "Username" => LookupAttributeKey::Username,
            "ResourceType" => LookupAttributeKey::ResourceType,
            "ResourceName" => LookupAttributeKey::ResourceName,
            "EventSource" => LookupAttributeKey::EventSource,
            "AccessKeyId" => LookupAttributeKey::AccessKeyId,
            _ => return None,
        })
    }
}

/// LookupEvents' request, as the domain takes it.
#[derive(Clone, Debug, Default)]
pub struct LookupEventsInput {
    /// `LookupAttributes`: AWS accepts at most one; more is `InvalidLookupAttributesException`.
    pub lookup_attributes: Vec<(LookupAttributeKey, String)>,
    pub start_time: Option<Millis>,
    pub end_time: Option<Millis>,
    /// `EventCategory` (only `insight` exists; Coffer records no insight events).
    pub event_category: Option<String>,
    pub max_results: Option<i32>,
    pub next_token: Option<String>,
}

/// One `Event` of LookupEvents' response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookedUpEvent {
    pub event_id: String,
    pub event_name: String,
    /// A string in AWS's response: `"true"` / `"false"`.
    pub read_only: bool,
    pub access_key_id: Option<String>,
    pub event_time: Millis,
    pub event_source: String,
    pub username: Option<String>,
    /// `(ResourceType, ResourceName)`.
    pub resources: Vec<(String, String)>,
    /// The whole record as a JSON string (`CloudTrailEvent`).
    pub cloud_trail_event: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LookupEventsOutput {
    /// Newest first.
    pub events: Vec<LookedUpEvent>,
    pub next_token: Option<String>,
}

/// LookupEvents' errors; `wire` picks the CloudTrail exception type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// `InvalidLookupAttributesException`.
    #[error("{0}")]
    InvalidLookupAttributes(String),
    /// `InvalidTimeRangeException`.
    #[error("Start time must be before end time.")]
    InvalidTimeRange,
    /// `InvalidMaxResultsException`.
    #[error("{0}")]
    InvalidMaxResults(String),
    /// `InvalidNextTokenException`.
    #[error("Invalid NextToken.")]
    InvalidNextToken,
    /// `InvalidEventCategoryException`.
    #[error("{0}")]
    InvalidEventCategory(String),
    /// `AccessDeniedException` (not allowed `cloudtrail:LookupEvents`).
    #[error("{0}")]
    AccessDenied(String),
    /// An internal failure; the cause is logged, never sent.
    #[error("internal error: {cause}")]
    Internal { cause: String },
}
