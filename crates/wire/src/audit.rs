//! The request and response members of an audit record, as CloudTrail writes them
//! (companion spec §7.2, §7.3): `requestParameters` and `responseElements`.
//!
//! The generated models implement [`AuditValue`] for every structure an audit record can hold,
//! member by member, so the record follows the model as it grows. The rules, which the
//! generators (`tools/codegen/codegen_common.py`) apply:
//!
//! - Member names have their first letter lower-cased and nothing else (`SecretId` →
//!   `secretId`, `RotationLambdaARN` → `rotationLambdaARN`, `ARN` → `aRN`, `AWSAccountId` →
//!   `aWSAccountId`); map keys are data and stay as they are.
//! - A member the model marks `sensitive` (on the member or its shape), or the generator's
//!   explicit redaction list, is left out entirely. [`SensitiveString`] and [`SensitiveBlob`]
//!   deliberately do not implement [`AuditValue`], so generated code that tried to record one
//!   would not compile.
//! - Binary members are not recorded (AWS leaves KMS's `CiphertextBlob` out of its records), so
//!   [`Blob`] does not implement [`AuditValue`] either.
//! - Timestamps are written as AWS writes them inside `requestParameters` and
//!   `responseElements`: `Aug 10, 2022, 10:38:27 PM` (UTC).
//! - A top-level object with no members is `null`, as CloudTrail records a call without
//!   parameters.
//!
//! [`SensitiveString`]: crate::codec::SensitiveString
//! [`SensitiveBlob`]: crate::codec::SensitiveBlob
//! [`Blob`]: crate::codec::Blob

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::codec::EpochTime;

#[cfg(test)]
mod tests;

/// A value as an audit record holds it. `None`: nothing to record.
pub trait AuditValue {
    fn audit_value(&self) -> Option<Value>;
}

impl AuditValue for String {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::String(self.clone()))
    }
}

impl AuditValue for i32 {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::from(*self))
    }
}

impl AuditValue for i64 {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::from(*self))
    }
}

impl AuditValue for bool {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}

impl AuditValue for EpochTime {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::String(timestamp_text(self.as_millis())))
    }
}

impl<T: AuditValue> AuditValue for Vec<T> {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::Array(
            self.iter().filter_map(AuditValue::audit_value).collect(),
        ))
    }
}

impl<V: AuditValue> AuditValue for BTreeMap<String, V> {
    fn audit_value(&self) -> Option<Value> {
        Some(Value::Object(
            self.iter()
                .filter_map(|(key, value)| Some((key.clone(), value.audit_value()?)))
                .collect(),
        ))
    }
}

/// Adds member `name` (already in its audit spelling) if present and recordable; used by the
/// generated `AuditValue` impls.
pub(crate) fn member<T: AuditValue + ?Sized>(
    members: &mut Map<String, Value>,
    name: &str,
    value: Option<&T>,
) {
    if let Some(value) = value.and_then(AuditValue::audit_value) {
        members.insert(name.to_owned(), value);
    }
}

/// A whole request or response as the record's `requestParameters` / `responseElements`:
/// `null` when nothing is left to record.
pub(crate) fn top_level<T: AuditValue + ?Sized>(value: &T) -> Value {
    match value.audit_value() {
        Some(Value::Object(members)) if members.is_empty() => Value::Null,
        Some(value) => value,
        None => Value::Null,
    }
}

/// `Aug 10, 2022, 10:38:27 PM`: how CloudTrail writes timestamps inside `requestParameters` and
/// `responseElements` (AWS's CreateKey record shows `"creationDate": "Aug 10, 2022, 10:38:27
/// PM"`), in UTC. Instants beyond jiff's range (±9999 years) are clamped.
pub fn timestamp_text(millis: i64) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(millis).unwrap_or(if millis < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    });
    jiff::tz::Offset::UTC
        .to_datetime(timestamp)
        .strftime("%b %-d, %Y, %-I:%M:%S %p")
        .to_string()
}
