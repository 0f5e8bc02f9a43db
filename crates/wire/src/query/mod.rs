//! The AWS Query protocol (companion spec §3), spoken by IAM and STS: form-encoded requests decoded
//! into the generated request types (`crate::iam::model`, `crate::sts::model`), XML responses written
//! from the generated output types, and XML errors.
//!
//! Model-constraint validation is the one in [`crate::codec`] (`Validate`, `ValidationErrors`), shared
//! with the JSON services; only the value encodings differ.
//!
//! A dispatcher uses it like this:
//!
//! ```text
//! let form = query::decode_form(&body, uri.query())?;          // MalformedQueryString
//! let op = iam::model::Operation::from_params(&form)?;        // MissingAction / InvalidAction
//! let request = iam::model::Request::decode(op, &form)?;      // MalformedInput / ValidationError
//! … → query::encode_response(&output, request_id)             // or QueryError::to_xml
//! ```

mod errors;
mod form;
mod xml;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use errors::{AWS_FAULT_NAMESPACE, QueryError};
pub use form::{
    FormParams, FormReader, FormScalar, FromForm, QueryDecodeError, decode, decode_form, msg,
};
pub use xml::{CONTENT_TYPE, QueryOutput, XmlStructure, XmlValue, XmlWriter, encode_response};

/// Resolves `Action` and `Version` to an operation (used by the generated `Operation::from_params`).
///
/// No `Action` → `MissingAction`; a `Version` other than `api_version` (or none), or an action the
/// service does not have → `InvalidAction` `Could not find operation {Action} for version {Version}`
/// [AWS, both cases; the version is checked with the same message].
pub fn resolve_operation<Op>(
    form: &FormParams,
    api_version: &str,
    from_action: impl FnOnce(&str) -> Option<Op>,
) -> Result<Op, QueryError> {
    let action = form.action().ok_or_else(QueryError::missing_action)?;
    let version = form.version();
    let operation = if version == Some(api_version) {
        from_action(action)
    } else {
        None
    };
    operation.ok_or_else(|| QueryError::invalid_action(action, version))
}
