//! AWS JSON 1.1 value encoding and model-constraint validation (spec §1.3, §1.6).
//!
//! The generated service models (`crate::secretsmanager::model`) are built from these pieces:
//! wrapper types for the JSON encodings that serde has no native form for (base64 blobs, epoch-second
//! timestamps, secret strings), the [`Validate`] trait with its [`ValidationErrors`] collector, and the
//! [`decode`] / [`encode`] entry points used by the HTTP layer. The Query-protocol models
//! (`crate::iam::model`, `crate::sts::model`) share the value types and the validation; only their
//! encodings live elsewhere (`crate::query`).
//!
//! Secret hygiene: secret values live in [`SensitiveString`] / [`SensitiveBlob`], which zeroize on drop
//! and print `[REDACTED]`. Error messages produced here never contain request content. What this module
//! cannot scrub is memory it does not own: the caller's request body and serde_json's scratch buffer for
//! strings containing escapes.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io;
use std::marker::PhantomData;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::Regex;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------------

/// A string member the model marks `sensitive` (`SecretString`, `RotationToken`, `RandomPassword`).
///
/// Zeroized on drop; `Debug` prints `[REDACTED]`; never echoed in validation messages.
#[derive(Clone, Default)]
pub struct SensitiveString(Zeroizing<String>);

impl SensitiveString {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Moves the string out without copying it. The caller takes over the duty to zeroize it.
    pub fn into_inner(mut self) -> String {
        std::mem::take(&mut *self.0)
    }

    pub fn into_zeroizing(self) -> Zeroizing<String> {
        self.0
    }
}

impl From<String> for SensitiveString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<Zeroizing<String>> for SensitiveString {
    fn from(value: Zeroizing<String>) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SensitiveString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Serialize for SensitiveString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SensitiveString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SensitiveStringVisitor;

        impl Visitor<'_> for SensitiveStringVisitor {
            type Value = SensitiveString;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(SensitiveString::new(v.to_owned()))
            }

            // Takes ownership so the only copy ends up inside the zeroizing wrapper.
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(SensitiveString::new(v))
            }
        }

        deserializer.deserialize_string(SensitiveStringVisitor)
    }
}

/// A non-sensitive blob member: raw bytes in memory, standard padded base64 on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(Vec<u8>);

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_inner(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut bytes = deserializer.deserialize_str(Base64Visitor)?;
        // Leaving the zeroizing wrapper is fine here: the content is not secret.
        Ok(Self(std::mem::take(&mut *bytes)))
    }
}

/// A blob member the model marks `sensitive` (`SecretBinary`).
///
/// Zeroized on drop; `Debug` prints `[REDACTED]`; never echoed in validation messages. Invalid base64
/// on input is a deserialization error (→ `SerializationException`).
#[derive(Clone, Default)]
pub struct SensitiveBlob(Zeroizing<Vec<u8>>);

impl SensitiveBlob {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Moves the bytes out without copying them. The caller takes over the duty to zeroize them.
    pub fn into_inner(mut self) -> Vec<u8> {
        std::mem::take(&mut *self.0)
    }

    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl From<Vec<u8>> for SensitiveBlob {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl From<Zeroizing<Vec<u8>>> for SensitiveBlob {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for SensitiveBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Serialize for SensitiveBlob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Reserve the exact size up front so no reallocation leaves an unzeroized copy behind.
        let mut text = Zeroizing::new(String::with_capacity(base64_encoded_len(self.0.len())));
        BASE64.encode_string(&*self.0, &mut text);
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for SensitiveBlob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(Base64Visitor).map(Self)
    }
}

fn base64_encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

struct Base64Visitor;

impl Visitor<'_> for Base64Visitor {
    type Value = Zeroizing<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Decoding into a pre-sized zeroizing buffer keeps the only plaintext copy under our control.
        let mut out = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(v.len())]);
        let written = BASE64
            .decode_slice(v.as_bytes(), &mut out[..])
            .map_err(|_| E::custom(msg::INVALID_BASE64))?;
        out.truncate(written);
        Ok(out)
    }
}

/// A `timestamp` member: epoch milliseconds in memory; on the wire a JSON number of epoch seconds
/// with up to three fractional digits (`1523477145.713`, `1523923200`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochTime(i64);

impl EpochTime {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

impl Serialize for EpochTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 1000 == 0 {
            serializer.serialize_i64(self.0 / 1000)
        } else {
            // The quotient is the f64 nearest to the exact decimal, so serde_json's shortest
            // round-trip printing yields exactly the millisecond digits (for |millis| < 2^53,
            // i.e. any date before the year 287396).
            serializer.serialize_f64(self.0 as f64 / 1000.0)
        }
    }
}

impl<'de> Deserialize<'de> for EpochTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EpochTimeVisitor;

        impl Visitor<'_> for EpochTimeVisitor {
            type Value = EpochTime;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch seconds as a JSON number")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                v.checked_mul(1000)
                    .map(EpochTime)
                    .ok_or_else(|| E::custom(msg::INVALID_TIMESTAMP))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                let v = i64::try_from(v).map_err(|_| E::custom(msg::INVALID_TIMESTAMP))?;
                self.visit_i64(v)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Beyond ±2^53 ms the conversion would be lossy; no real timestamp gets there.
                const LIMIT: f64 = 9_007_199_254_740_992.0;
                let millis = (v * 1000.0).round();
                if millis.is_finite() && millis.abs() <= LIMIT {
                    Ok(EpochTime(millis as i64))
                } else {
                    Err(E::custom(msg::INVALID_TIMESTAMP))
                }
            }
        }

        deserializer.deserialize_any(EpochTimeVisitor)
    }
}

// ---------------------------------------------------------------------------------------------------
// Structure decoding (used by generated code)
// ---------------------------------------------------------------------------------------------------

/// Member-wise decoding of a model structure; implemented by generated code.
///
/// The generated `Deserialize` impls go through [`deserialize_structure`] instead of
/// `#[derive(Deserialize)]` because the derive also accepts a JSON array as a structure (positional
/// members) and silently lets a duplicated member win; AWS accepts neither.
pub(crate) trait ReadMembers: Default {
    /// Reads the value of member `name` into `self`. Returns `Ok(false)` for a name that is not in the
    /// model, leaving the value unread so the caller can skip it.
    fn read_member<'de, A: MapAccess<'de>>(
        &mut self,
        name: &str,
        map: &mut A,
        seen: &mut MemberSet,
    ) -> Result<bool, A::Error>;
}

/// Which members of a structure have been read already (bit per member index in model order).
#[derive(Debug, Default)]
pub(crate) struct MemberSet(u64);

/// Reads one member value into `slot`; `null` leaves it absent. A repeated member is an error.
pub(crate) fn read_member<'de, A, T>(
    map: &mut A,
    seen: &mut MemberSet,
    index: u32,
    slot: &mut Option<T>,
) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    // The generator refuses structures with more than 64 members.
    debug_assert!(index < 64);
    let bit = 1u64 << (index & 63);
    if seen.0 & bit != 0 {
        return Err(de::Error::custom(msg::DUPLICATE_MEMBER));
    }
    seen.0 |= bit;
    *slot = map.next_value::<Option<T>>()?;
    Ok(())
}

/// `Deserialize` body for generated structures: accepts only a JSON object, ignores unknown members.
pub(crate) fn deserialize_structure<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: ReadMembers,
{
    struct StructureVisitor<T>(PhantomData<T>);

    impl<'de, T: ReadMembers> Visitor<'de> for StructureVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a structure")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut value = T::default();
            let mut seen = MemberSet::default();
            while let Some(MemberName(name)) = map.next_key::<MemberName<'de>>()? {
                if !value.read_member(&name, &mut map, &mut seen)? {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(value)
        }
    }

    deserializer.deserialize_map(StructureVisitor(PhantomData))
}

/// A member name, borrowed from the input when it contains no escapes.
struct MemberName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = MemberName<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

// ---------------------------------------------------------------------------------------------------
// Validation (spec §1.6)
// ---------------------------------------------------------------------------------------------------

/// Model-constraint validation, implemented by generated code for every input structure.
pub trait Validate {
    /// Appends every violated constraint of `self` (located at `path`) to `errors`, in member order.
    fn validate_members(&self, path: &Path<'_>, errors: &mut ValidationErrors);

    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        self.validate_members(&Path::Root, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Location of a member in a request, rendered the way AWS does: `rotationRules.automaticallyAfterDays`,
/// `tags.1.member.key`. Built on the stack and only rendered when a constraint fails.
#[derive(Clone, Copy, Debug)]
pub enum Path<'a> {
    Root,
    /// A structure member; the name is already lowerCamelCase.
    Member(&'a Path<'a>, &'static str),
    /// A list item, zero-based here and one-based when rendered.
    Item(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(Path::Root, name) => f.write_str(name),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Item(parent, index) => write!(f, "{parent}.{}.member", index.saturating_add(1)),
        }
    }
}

/// A value as AWS echoes it in a validation message (Java `toString` style for lists: `[a, b]`).
pub trait Echo {
    fn echo(&self, out: &mut String);
}

impl Echo for str {
    fn echo(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Echo for String {
    fn echo(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl Echo for i32 {
    fn echo(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Echo for i64 {
    fn echo(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Echo for bool {
    fn echo(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl<T: Echo> Echo for [T] {
    fn echo(&self, out: &mut String) {
        out.push('[');
        for (index, item) in self.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            item.echo(out);
        }
        out.push(']');
    }
}

impl<T: Echo> Echo for Vec<T> {
    fn echo(&self, out: &mut String) {
        self.as_slice().echo(out);
    }
}

/// Echo of a structure inside a list. AWS prints its internal object identity here
/// (`com.amazonaws...Filter@aa179030`), which cannot be reproduced; `{Key=a, Values=[b]}` is our stand-in.
pub struct EchoStructure<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> EchoStructure<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    pub fn member<E: Echo + ?Sized>(&mut self, name: &str, value: Option<&E>) {
        if let Some(value) = value {
            if !self.first {
                self.out.push_str(", ");
            }
            self.first = false;
            self.out.push_str(name);
            self.out.push('=');
            value.echo(self.out);
        }
    }

    pub fn finish(self) {
        self.out.push('}');
    }
}

/// A model `pattern`, compiled once on first use. Matching is whole-value (Java `matches()`): the
/// generator wraps the pattern as `^(?:…)$` and rewrites Java-only escapes such as `\d` to ASCII classes.
pub struct Pattern {
    source: &'static str,
    regex: LazyLock<Regex>,
}

impl Pattern {
    pub const fn new(source: &'static str, compile: fn() -> Regex) -> Self {
        Self {
            source,
            regex: LazyLock::new(compile),
        }
    }

    /// The pattern exactly as the model states it (this is what the message quotes).
    pub fn source(&self) -> &'static str {
        self.source
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }

    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

/// Compiles a generated, already anchored pattern.
///
/// # Panics
/// If the pattern is not valid `regex` syntax. The generated patterns are constants that the crate's
/// tests compile, so this cannot happen at run time.
pub(crate) fn compile_pattern(anchored: &'static str) -> Regex {
    Regex::new(anchored).expect("generated model pattern must compile (covered by tests)")
}

/// Collects constraint violations in the order they are found; `Display` renders the AWS message
/// (`1 validation error detected: …` / `<n> validation errors detected: …; …`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    items: Vec<String>,
}

impl ValidationErrors {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The individual `Value … failed to satisfy constraint: …` items.
    pub fn items(&self) -> &[String] {
        &self.items
    }

    /// A required member is absent or `null`.
    pub fn missing(&mut self, path: &Path<'_>) {
        self.items.push(format!(
            "Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ));
    }

    /// Records a violated constraint. `value` is `None` for sensitive members, which are never echoed.
    pub fn violation<E: Echo + ?Sized>(
        &mut self,
        path: &Path<'_>,
        value: Option<&E>,
        constraint: fmt::Arguments<'_>,
    ) {
        let mut item = String::from("Value ");
        if let Some(value) = value {
            item.push('\'');
            value.echo(&mut item);
            item.push_str("' ");
        }
        let _ = write!(
            item,
            "at '{path}' failed to satisfy constraint: {constraint}"
        );
        self.items.push(item);
    }

    /// String, blob and list length (`len` is measured by the caller in the unit the model implies).
    pub fn length<E: Echo + ?Sized>(
        &mut self,
        path: &Path<'_>,
        value: Option<&E>,
        len: usize,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        if let Some(min) = min.filter(|min| len < *min) {
            self.violation(
                path,
                value,
                format_args!("Member must have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| len > *max) {
            self.violation(
                path,
                value,
                format_args!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// Numeric range of an integer or long member.
    pub fn range<E: Echo + ?Sized>(
        &mut self,
        path: &Path<'_>,
        value: Option<&E>,
        number: i64,
        min: Option<i64>,
        max: Option<i64>,
    ) {
        if let Some(min) = min.filter(|min| number < *min) {
            self.violation(
                path,
                value,
                format_args!("Member must have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|max| number > *max) {
            self.violation(
                path,
                value,
                format_args!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// Membership in a model `enum`.
    pub fn one_of<E: Echo + ?Sized>(
        &mut self,
        path: &Path<'_>,
        value: Option<&E>,
        text: &str,
        allowed: &[&str],
    ) {
        if !allowed.contains(&text) {
            self.violation(
                path,
                value,
                format_args!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// Whole-value match of a model `pattern`.
    pub fn pattern<E: Echo + ?Sized>(
        &mut self,
        path: &Path<'_>,
        value: Option<&E>,
        text: &str,
        pattern: &Pattern,
    ) {
        if !pattern.matches(text) {
            self.violation(
                path,
                value,
                format_args!(
                    "Member must satisfy regular expression pattern: {}",
                    pattern.source()
                ),
            );
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.items.len();
        let noun = if count == 1 { "error" } else { "errors" };
        write!(
            f,
            "{count} validation {noun} detected: {}",
            self.items.join("; ")
        )
    }
}

impl std::error::Error for ValidationErrors {}

// ---------------------------------------------------------------------------------------------------
// Request decoding and response encoding
// ---------------------------------------------------------------------------------------------------

/// Why a request body could not be turned into a valid request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireDecodeError {
    /// Not JSON, not an object, or a member of the wrong JSON type: AWS `SerializationException`.
    /// The message is one of a few fixed texts and never contains request content.
    #[error("{0}")]
    Serialization(String),
    /// A model constraint failed: AWS `ValidationException` with the full §1.6 message.
    #[error("{0}")]
    Validation(String),
}

impl WireDecodeError {
    /// The AWS error code (`__type`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Serialization(_) => "SerializationException",
            Self::Validation(_) => "ValidationException",
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Serialization(message) | Self::Validation(message) => message,
        }
    }
}

/// The fixed `SerializationException` messages.
pub mod msg {
    pub const NOT_AN_OBJECT: &str = "Start of structure or map expected for the request body.";
    pub const MALFORMED_JSON: &str = "The request body is not well-formed JSON.";
    pub const MAP_NOT_EXPECTED: &str = "Start of structure or map found where not expected.";
    pub const LIST_NOT_EXPECTED: &str = "Start of list found where not expected.";
    pub const TYPE_MISMATCH: &str = "Unexpected JSON value type for a request member.";
    pub const DUPLICATE_MEMBER: &str = "Duplicate member name in a JSON object.";
    pub const INVALID_BASE64: &str = "Invalid base64 value for a blob member.";
    pub const INVALID_TIMESTAMP: &str = "Invalid value for a timestamp member.";
}

const JSON_WHITESPACE: [u8; 4] = [b' ', b'\t', b'\n', b'\r'];

/// Decodes and validates a request body (spec §1.3, §1.6).
///
/// An empty (or whitespace-only) body means `{}`. Unknown members are ignored and `null` means absent.
/// Never panics; every failure is a [`WireDecodeError`].
pub fn decode<T: DeserializeOwned + Validate>(body: &[u8]) -> Result<T, WireDecodeError> {
    let body: &[u8] = match body.iter().find(|b| !JSON_WHITESPACE.contains(b)) {
        None => b"{}",
        Some(b'{') => body,
        Some(_) => return Err(WireDecodeError::Serialization(msg::NOT_AN_OBJECT.into())),
    };
    let value: T = serde_json::from_slice(body)
        .map_err(|err| WireDecodeError::Serialization(serialization_message(&err).into()))?;
    value
        .validate()
        .map_err(|errors| WireDecodeError::Validation(errors.to_string()))?;
    Ok(value)
}

/// Maps a serde_json error to one of the fixed messages. serde_json's own text can quote the offending
/// value (which may be a secret), so only a short prefix is inspected, in a stack buffer that is wiped.
fn serialization_message(err: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;

    match err.classify() {
        Category::Io | Category::Syntax | Category::Eof => msg::MALFORMED_JSON,
        Category::Data => {
            let mut prefix = MessagePrefix::default();
            let _ = write!(prefix, "{err}");
            let text = prefix.as_bytes();
            let ours = [
                msg::DUPLICATE_MEMBER,
                msg::INVALID_BASE64,
                msg::INVALID_TIMESTAMP,
                msg::TYPE_MISMATCH,
            ];
            if let Some(message) = ours.into_iter().find(|m| text.starts_with(m.as_bytes())) {
                message
            } else if text.starts_with(b"invalid type: map") {
                msg::MAP_NOT_EXPECTED
            } else if text.starts_with(b"invalid type: sequence") {
                msg::LIST_NOT_EXPECTED
            } else {
                msg::TYPE_MISMATCH
            }
        }
    }
}

/// Captures the first bytes of a formatted message and wipes them on drop.
struct MessagePrefix {
    buf: [u8; 64],
    len: usize,
}

impl Default for MessagePrefix {
    fn default() -> Self {
        Self {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl MessagePrefix {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for MessagePrefix {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

impl Drop for MessagePrefix {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// Renders a response body as JSON.
///
/// The bytes may contain secret material (`GetSecretValue`, `BatchGetSecretValue`,
/// `GetRandomPassword`): the caller should wrap them in [`Zeroizing`] or zeroize them once written.
/// Buffers outgrown while encoding are zeroized here, so the returned `Vec` is the only copy.
///
/// # Panics
/// If `T`'s `Serialize` impl reports an error. The generated response types cannot (all map keys
/// are strings and every value type serializes infallibly).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Large enough for a typical GetSecretValue answer, so the common case never regrows (each
    // regrowth copies and wipes the buffer).
    let mut writer = ZeroizingWriter(Vec::with_capacity(1024));
    if let Err(err) = serde_json::to_writer(&mut writer, value) {
        writer.0.zeroize();
        panic!("response serialization failed: {err}");
    }
    std::mem::take(&mut writer.0)
}

/// A `Vec<u8>` writer that zeroizes the old allocation whenever it has to grow (also used for the
/// Query protocol's XML responses, which can carry secret access keys).
pub(crate) struct ZeroizingWriter(pub(crate) Vec<u8>);

impl ZeroizingWriter {
    pub(crate) fn extend_from_slice(&mut self, buf: &[u8]) {
        let needed = self.0.len().saturating_add(buf.len());
        if needed > self.0.capacity() {
            let mut grown = Vec::with_capacity(needed.max(self.0.capacity().saturating_mul(2)));
            grown.extend_from_slice(&self.0);
            // Zeroizes the whole old allocation (including spare capacity) before it is freed.
            self.0.zeroize();
            self.0 = grown;
        }
        self.0.extend_from_slice(buf);
    }
}

impl io::Write for ZeroizingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
