//! Between the generated CloudTrail wire shapes and the domain's audit lookup
//! (`coffer_domain::audit`), and every `LookupError` to its CloudTrail exception.

use coffer_domain::audit::{
    LookedUpEvent, LookupAttributeKey, LookupError, LookupEventsInput, LookupEventsOutput,
};

use super::model::*;
use super::{access_denied, internal_error};
use crate::codec::{EpochTime, Path, ValidationErrors, WireDecodeError};
use crate::errors::AwsError;

/// LookupEvents' request as the domain takes it: timestamps in epoch milliseconds, every lookup
/// attribute passed on (the domain refuses more than one, as AWS does). The model has checked
/// each `AttributeKey` already; one it did not would still get the model's enum message.
pub fn lookup_events(r: LookupEventsRequest) -> Result<LookupEventsInput, AwsError> {
    let attributes = r.lookup_attributes.unwrap_or_default();
    let mut lookup_attributes = Vec::with_capacity(attributes.len());
    for (index, attribute) in attributes.into_iter().enumerate() {
        let key_text = attribute.attribute_key.unwrap_or_default();
        let Some(key) = LookupAttributeKey::parse(&key_text) else {
            let mut errors = ValidationErrors::default();
            let list = Path::Member(&Path::Root, "lookupAttributes");
            let item = Path::Item(&list, index);
            errors.one_of(
                &Path::Member(&item, "attributeKey"),
                Some(key_text.as_str()),
                &key_text,
                &LOOKUP_ATTRIBUTE_KEY_VALUES,
            );
            return Err(AwsError::from(&WireDecodeError::Validation(
                errors.to_string(),
            )));
        };
        lookup_attributes.push((key, attribute.attribute_value.unwrap_or_default()));
    }
    Ok(LookupEventsInput {
        lookup_attributes,
        start_time: r.start_time.map(EpochTime::as_millis),
        end_time: r.end_time.map(EpochTime::as_millis),
        event_category: r.event_category,
        max_results: r.max_results,
        next_token: r.next_token,
    })
}

/// One `Event`: `ReadOnly` is the string `"true"` / `"false"`, `EventTime` whole epoch seconds
/// (a record's `eventTime` has second precision), `CloudTrailEvent` the record as a JSON string.
fn event(e: LookedUpEvent) -> Event {
    Event {
        event_id: Some(e.event_id),
        event_name: Some(e.event_name),
        read_only: Some(if e.read_only { "true" } else { "false" }.to_owned()),
        access_key_id: e.access_key_id,
        event_time: Some(EpochTime::from_millis(
            e.event_time - e.event_time.rem_euclid(1_000),
        )),
        event_source: Some(e.event_source),
        username: e.username,
        resources: Some(
            e.resources
                .into_iter()
                .map(|(resource_type, resource_name)| Resource {
                    resource_type: Some(resource_type),
                    resource_name: Some(resource_name),
                })
                .collect(),
        ),
        cloud_trail_event: Some(e.cloud_trail_event),
    }
}

/// LookupEvents' response: the events newest first, as the domain ordered them; `Events` is
/// present (possibly empty) and `NextToken` only when there are more.
pub fn lookup_events_response(o: LookupEventsOutput) -> LookupEventsResponse {
    LookupEventsResponse {
        events: Some(o.events.into_iter().map(event).collect()),
        next_token: o.next_token,
    }
}

/// The CloudTrail exception for a domain error, with the domain's (AWS's) message. `Internal`
/// becomes `InternalFailure` without its cause, which the caller logs.
pub fn error(e: &LookupError) -> AwsError {
    match e {
        LookupError::InvalidLookupAttributes(m) => {
            ModeledError::InvalidLookupAttributesException.with_message(m.as_str())
        }
        LookupError::InvalidTimeRange => {
            ModeledError::InvalidTimeRangeException.with_message(e.to_string())
        }
        LookupError::InvalidMaxResults(m) => {
            ModeledError::InvalidMaxResultsException.with_message(m.as_str())
        }
        LookupError::InvalidNextToken => {
            ModeledError::InvalidNextTokenException.with_message(e.to_string())
        }
        LookupError::InvalidEventCategory(m) => {
            ModeledError::InvalidEventCategoryException.with_message(m.as_str())
        }
        LookupError::AccessDenied(m) => access_denied(m.as_str()),
        LookupError::Internal { .. } => internal_error(),
    }
}
